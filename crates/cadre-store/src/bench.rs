//! Append throughput, behind `cadre bench store`.

use std::sync::Arc;
use std::time::Instant;

use cadre_core::{Error, Payload};
use serde::Serialize;

use crate::{EventStore, ExpectedVersion, NewEvent, StreamId};

/// An append run: `writers` streams, each appended `appends` times with `events` events.
#[derive(Debug, Clone, Copy)]
pub struct AppendSpec {
    /// Concurrent writers, one stream each.
    pub writers: u64,
    /// Appends per writer.
    pub appends: u64,
    /// Events per append.
    pub events: u64,
}

/// What an append run measured.
#[derive(Debug, Clone, Serialize)]
pub struct AppendReport {
    /// The store's backend.
    pub backend: &'static str,
    /// Events stored.
    pub events: u64,
    /// Concurrent writers.
    pub writers: u64,
    /// Appends per writer.
    pub appends: u64,
    /// Events per append.
    pub events_per_append: u64,
    /// Wall time.
    pub seconds: f64,
    /// Events stored per second.
    pub events_per_s: f64,
    /// Appends per second.
    pub appends_per_s: f64,
}

/// Appends as `spec` says, every append checked against an exact expected version, and
/// measures it.
///
/// # Errors
/// The first append that fails.
pub async fn appends(store: Arc<dyn EventStore>, spec: AppendSpec) -> Result<AppendReport, Error> {
    let payload = Payload::from_json_text(
        "bench.order",
        1,
        r#"{"symbol":"ACME","side":"buy","qty":100,"price":101.25}"#,
    )?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..spec.writers {
        let store = Arc::clone(&store);
        let payload = payload.clone();
        tasks.push(tokio::spawn(async move {
            let stream = StreamId::new(format!("bench-{w}"))?;
            let mut version = 0;
            for _ in 0..spec.appends {
                let events = (0..spec.events)
                    .map(|_| NewEvent::new(payload.clone()))
                    .collect();
                version = store
                    .append(&stream, ExpectedVersion::Exact(version), events)
                    .await?
                    .stream_version;
            }
            Ok::<_, Error>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| Error::internal(e.to_string()))??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let events = spec.writers * spec.appends * spec.events;
    Ok(AppendReport {
        backend: store.backend(),
        events,
        writers: spec.writers,
        appends: spec.appends,
        events_per_append: spec.events,
        seconds,
        events_per_s: events as f64 / seconds,
        appends_per_s: (spec.writers * spec.appends) as f64 / seconds,
    })
}
