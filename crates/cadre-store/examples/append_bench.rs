//! Measures batched append throughput of the SQLite store.
//!
//! ```text
//! cargo run --release --example append_bench -- [writers] [batches per writer] [events per batch]
//! ```
//!
//! Each writer appends to its own stream with an exact expected version, so every append is
//! checked; the writer thread folds concurrent appends into one transaction.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use cadre_core::{Error, Payload};
use cadre_store::{EventStore, ExpectedVersion, NewEvent, SqliteStore, StreamId};

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let writers = arg(1, 4);
    let batches = arg(2, 500);
    let per_batch = arg(3, 100);
    let dir = tempfile::tempdir().map_err(|e| Error::internal(e.to_string()))?;
    let store = Arc::new(SqliteStore::open(dir.path().join("bench.db")).await?);
    let payload = Payload::from_json_text(
        "bench.order",
        1,
        r#"{"symbol":"ACME","side":"buy","qty":100,"price":101.25}"#,
    )?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = Arc::clone(&store);
        let payload = payload.clone();
        tasks.push(tokio::spawn(async move {
            let stream = StreamId::new(format!("bench-{w}"))?;
            let mut version = 0;
            for _ in 0..batches {
                let events = (0..per_batch)
                    .map(|_| NewEvent::new(payload.clone()))
                    .collect();
                let done = store
                    .append(&stream, ExpectedVersion::Exact(version), events)
                    .await?;
                version = done.stream_version;
            }
            Ok::<_, Error>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| Error::internal(e.to_string()))??;
    }
    let secs = started.elapsed().as_secs_f64();
    let events = writers * batches * per_batch;
    println!(
        "{events} events ({writers} writers x {batches} appends x {per_batch} events) in {secs:.3} s: {:.0} events/s, {:.0} appends/s",
        events as f64 / secs,
        (writers * batches) as f64 / secs
    );
    Ok(())
}
