//! Measures batched append throughput of the SQLite store, or of the PostgreSQL store.
//!
//! ```text
//! cargo run --release --example append_bench -- [--postgres URL] [writers] [batches per writer] [events per batch]
//! ```
//!
//! Each writer appends to its own stream with an exact expected version, so every append is
//! checked. On SQLite the writer thread folds concurrent appends into one transaction; on
//! PostgreSQL (`--postgres postgres://user@host:port/db`) each append is a transaction of its
//! own, taken one at a time (the store's advisory lock), in a fresh schema dropped at the end.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use cadre_core::{Error, Payload};
use cadre_store::{EventStore, ExpectedVersion, NewEvent, SqliteStore, StreamId};

fn arg(args: &[String], n: usize, default: u64) -> u64 {
    args.get(n).and_then(|a| a.parse().ok()).unwrap_or(default)
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> Result<(Arc<dyn EventStore>, String), Error> {
    let schema = format!("cadre_bench_{}", uuid::Uuid::now_v7().simple());
    let store = cadre_store::PostgresStore::connect_with(url, &schema).await?;
    Ok((Arc::new(store), schema))
}

#[cfg(feature = "postgres")]
async fn drop_schema(url: &str, schema: &str) -> Result<(), Error> {
    use sqlx::{Connection, Executor};
    let fail = |e: sqlx::Error| Error::internal(format!("dropping schema {schema}: {e}"));
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(fail)?;
    let sql = format!("DROP SCHEMA \"{schema}\" CASCADE");
    conn.execute(sqlx::raw_sql(&sql)).await.map_err(fail)?;
    conn.close().await.map_err(fail)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let mut args: Vec<String> = std::env::args().collect();
    let postgres = match args.iter().position(|a| a == "--postgres") {
        Some(k) if k + 1 < args.len() => {
            let url = args.remove(k + 1);
            args.remove(k);
            Some(url)
        }
        Some(_) => return Err(Error::invalid_input("--postgres needs a URL")),
        None => None,
    };
    let writers = arg(&args, 1, 4);
    let batches = arg(&args, 2, 500);
    let per_batch = arg(&args, 3, 100);
    let dir = tempfile::tempdir().map_err(|e| Error::internal(e.to_string()))?;
    let (store, schema): (Arc<dyn EventStore>, Option<String>) = match &postgres {
        #[cfg(feature = "postgres")]
        Some(url) => {
            let (store, schema) = open_postgres(url).await?;
            (store, Some(schema))
        }
        #[cfg(not(feature = "postgres"))]
        Some(_) => {
            return Err(Error::invalid_input("built without the `postgres` feature"));
        }
        None => (
            Arc::new(SqliteStore::open(dir.path().join("bench.db")).await?),
            None,
        ),
    };
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
        "{}: {events} events ({writers} writers x {batches} appends x {per_batch} events) in {secs:.3} s: {:.0} events/s, {:.0} appends/s",
        store.backend(),
        events as f64 / secs,
        (writers * batches) as f64 / secs
    );
    drop(store);
    #[cfg(feature = "postgres")]
    if let (Some(url), Some(schema)) = (&postgres, &schema) {
        drop_schema(url, schema).await?;
    }
    #[cfg(not(feature = "postgres"))]
    let _ = schema;
    Ok(())
}
