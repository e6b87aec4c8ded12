//! A load generator for the bus: throughput and latency of publish → deliver → ack, with a
//! bare `tokio::sync::mpsc` channel as the same-run baseline. Used by `cadre bench bus` and the
//! criterion benches.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cadre_core::{AgentId, Envelope, Error, Group, MessageKind, Payload, Recipient, Topic};
use serde::Serialize;

use crate::{Bus, StartFrom};

/// What to measure.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Messages to move.
    pub messages: u64,
    /// Payload size in bytes (the JSON data of each message).
    pub payload_bytes: usize,
    /// Concurrent publishers.
    pub producers: usize,
    /// Concurrent consumers (one group).
    pub consumers: usize,
    /// Messages per publish call (1 = `publish`, more = `publish_batch`).
    pub batch: usize,
    /// Messages a consumer fetches at most per call.
    pub fetch_max: usize,
    /// Total publish rate to hold, messages per second; `None` publishes as fast as possible.
    pub rate: Option<u64>,
}

impl Default for LoadSpec {
    fn default() -> Self {
        Self {
            messages: 200_000,
            payload_bytes: 200,
            producers: 1,
            consumers: 1,
            batch: 1,
            fetch_max: 256,
            rate: None,
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Worst.
    pub max_us: f64,
}

impl Percentiles {
    fn of(mut samples: Vec<u64>) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let at = |q: f64| {
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples[i] as f64 / 1000.0
        };
        Self {
            p50_us: at(0.50),
            p99_us: at(0.99),
            max_us: at(1.0),
        }
    }
}

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// The backend measured.
    pub backend: String,
    /// Messages moved (published, delivered and acknowledged).
    pub messages: u64,
    /// Payload size in bytes.
    pub payload_bytes: usize,
    /// Publishers.
    pub producers: usize,
    /// Consumers.
    pub consumers: usize,
    /// Messages per publish call.
    pub batch: usize,
    /// Target rate, if one was held.
    pub rate: Option<u64>,
    /// Wall time from the first publish to the last ack.
    pub seconds: f64,
    /// Round trips (publish, deliver, ack) per second.
    pub msgs_per_s: f64,
    /// Publish → delivery latency.
    pub deliver: Percentiles,
    /// Publish → acknowledgement returned.
    pub ack: Percentiles,
    /// Same-run baseline: a bare tokio mpsc channel moving the same envelopes, messages/s.
    pub mpsc_msgs_per_s: Option<f64>,
    /// `msgs_per_s / mpsc_msgs_per_s`.
    pub ratio_to_mpsc: Option<f64>,
    /// Same-run peer for the sqlite backend: plain SQLite inserts of rows of the payload size,
    /// 10,000 per transaction, same pragmas (WAL, synchronous NORMAL), rows/s.
    pub sqlite_insert_rows_per_s: Option<f64>,
    /// `msgs_per_s / sqlite_insert_rows_per_s`.
    pub ratio_to_sqlite_insert: Option<f64>,
    /// Median publish → delivery in microseconds (flattened for scripts).
    pub deliver_p50_us: f64,
    /// 99th percentile publish → delivery in microseconds.
    pub deliver_p99_us: f64,
    /// 99th percentile publish → ack in microseconds.
    pub ack_p99_us: f64,
}

fn envelope(payload_bytes: usize) -> Result<Envelope, Error> {
    // A JSON string of the requested size: `"xxx...x"`.
    let text = format!("\"{}\"", "x".repeat(payload_bytes.saturating_sub(2)));
    Ok(Envelope::builder(
        AgentId::new("bench-producer")?,
        Recipient::Topic(Topic::new("bench")?),
        MessageKind::Event,
    )
    .raw_payload(Payload::from_json_text("bench.blob", 1, text)?)
    .build())
}

/// Moves `spec.messages` messages through `bus` and measures them.
///
/// `progress` is called now and then with the number of messages acknowledged so far.
///
/// # Errors
/// Whatever the bus returns.
pub async fn run(
    bus: Arc<dyn Bus>,
    spec: &LoadSpec,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<LoadReport, Error> {
    let stream = Topic::new("bench")?;
    let group = Group::new("bench-consumers")?;
    bus.create_group(&stream, &group, StartFrom::Latest).await?;
    let template = envelope(spec.payload_bytes)?;
    let origin = Instant::now();
    // Each message carries its sequence number in `meta.retry_count`; its publish time (ns
    // since `origin`) is kept in a side table indexed by sequence.
    let sent_at: Arc<Vec<AtomicU64>> =
        Arc::new((0..spec.messages).map(|_| AtomicU64::new(0)).collect());
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let producers = spec.producers.max(1);
    let batch = spec.batch.max(1) as u64;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..producers {
        let bus = Arc::clone(&bus);
        let stream = stream.clone();
        let template = template.clone();
        let sent_at = Arc::clone(&sent_at);
        let next = Arc::clone(&next);
        let total = spec.messages;
        let rate = spec.rate;
        tasks.spawn(async move {
            loop {
                let first = next.fetch_add(batch, Ordering::Relaxed);
                if first >= total {
                    return Ok::<(), Error>(());
                }
                let last = (first + batch).min(total);
                if let Some(rate) = rate {
                    let due = Duration::from_secs_f64(first as f64 / rate as f64);
                    tokio::time::sleep_until(tokio::time::Instant::from_std(origin + due)).await;
                }
                let stamp = |seq: u64| {
                    let mut env = template.clone();
                    env.meta.retry_count = u32::try_from(seq).unwrap_or(u32::MAX);
                    env
                };
                let now = origin.elapsed().as_nanos() as u64;
                for seq in first..last {
                    sent_at[seq as usize].store(now.max(1), Ordering::Relaxed);
                }
                if last - first == 1 {
                    bus.publish(&stream, stamp(first)).await?;
                } else {
                    bus.publish_batch(&stream, (first..last).map(stamp).collect())
                        .await?;
                }
            }
        });
    }
    let consumers = spec.consumers.max(1);
    let (lat_tx, mut lat_rx) = tokio::sync::mpsc::unbounded_channel::<(Vec<u64>, Vec<u64>)>();
    for c in 0..consumers {
        let bus = Arc::clone(&bus);
        let stream = stream.clone();
        let group = group.clone();
        let sent_at = Arc::clone(&sent_at);
        let done = Arc::clone(&done);
        let total = spec.messages;
        let fetch_max = spec.fetch_max.max(1);
        let lat_tx = lat_tx.clone();
        let me = AgentId::new(format!("bench-consumer-{c}"))?;
        tasks.spawn(async move {
            let mut deliver = Vec::new();
            let mut ack = Vec::new();
            let mut seqs = Vec::with_capacity(fetch_max);
            while done.load(Ordering::Relaxed) < total {
                let ds = bus
                    .fetch(&stream, &group, &me, fetch_max, Duration::from_millis(20))
                    .await?;
                if ds.is_empty() {
                    continue;
                }
                let now = origin.elapsed().as_nanos() as u64;
                seqs.clear();
                for d in &ds {
                    let seq = u64::from(d.envelope().meta.retry_count) as usize;
                    seqs.push(seq);
                    let sent = sent_at.get(seq).map_or(now, |s| s.load(Ordering::Relaxed));
                    deliver.push(now.saturating_sub(sent));
                }
                let receipts: Vec<_> = ds.iter().map(|d| d.receipt()).collect();
                bus.ack(&receipts).await?;
                let now = origin.elapsed().as_nanos() as u64;
                for &seq in &seqs {
                    let sent = sent_at.get(seq).map_or(now, |s| s.load(Ordering::Relaxed));
                    ack.push(now.saturating_sub(sent));
                }
                done.fetch_add(ds.len() as u64, Ordering::Relaxed);
            }
            let _ = lat_tx.send((deliver, ack));
            Ok(())
        });
    }
    drop(lat_tx);
    let ticker = {
        let done = Arc::clone(&done);
        async move {
            loop {
                progress(done.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };
    let joined = async {
        while let Some(r) = tasks.join_next().await {
            r.map_err(|e| Error::internal(format!("bench task: {e}")))??;
        }
        Ok::<(), Error>(())
    };
    tokio::select! {
        r = joined => r?,
        () = ticker => {}
    }
    let seconds = origin.elapsed().as_secs_f64();
    progress(done.load(Ordering::Relaxed));
    let mut deliver = Vec::new();
    let mut ack = Vec::new();
    while let Some((d, a)) = lat_rx.recv().await {
        deliver.extend(d);
        ack.extend(a);
    }
    let deliver = Percentiles::of(deliver);
    let ack = Percentiles::of(ack);
    Ok(LoadReport {
        backend: bus.backend().to_string(),
        messages: spec.messages,
        payload_bytes: spec.payload_bytes,
        producers,
        consumers,
        batch: batch as usize,
        rate: spec.rate,
        seconds,
        msgs_per_s: spec.messages as f64 / seconds,
        deliver,
        ack,
        mpsc_msgs_per_s: None,
        ratio_to_mpsc: None,
        sqlite_insert_rows_per_s: None,
        ratio_to_sqlite_insert: None,
        deliver_p50_us: deliver.p50_us,
        deliver_p99_us: deliver.p99_us,
        ack_p99_us: ack.p99_us,
    })
}

/// The baseline: the same envelopes through a bare bounded `tokio::sync::mpsc` channel, one
/// sender and one receiver receiving in batches. Returns messages per second.
///
/// # Errors
/// When the envelope cannot be built.
pub async fn mpsc_baseline(messages: u64, payload_bytes: usize) -> Result<f64, Error> {
    let template = envelope(payload_bytes)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Envelope>(4096);
    let started = Instant::now();
    let producer = tokio::spawn(async move {
        for _ in 0..messages {
            if tx.send(template.clone()).await.is_err() {
                break;
            }
        }
    });
    let mut received = 0u64;
    let mut buf = Vec::with_capacity(256);
    while received < messages {
        let n = rx.recv_many(&mut buf, 256).await;
        if n == 0 {
            break;
        }
        received += n as u64;
        buf.clear();
    }
    producer
        .await
        .map_err(|e| Error::internal(format!("mpsc producer: {e}")))?;
    Ok(messages as f64 / started.elapsed().as_secs_f64())
}

/// The sqlite peer: `rows` plain inserts of `payload_bytes`-byte blobs into a fresh database in
/// `dir`, 10,000 per transaction, WAL and `synchronous = NORMAL`. Returns rows per second.
///
/// # Errors
/// [`ErrorCode::Storage`](cadre_core::ErrorCode::Storage) when SQLite fails.
#[cfg(feature = "sqlite")]
pub fn sqlite_insert_baseline(
    dir: &std::path::Path,
    rows: u64,
    payload_bytes: usize,
) -> Result<f64, Error> {
    let storage = |e: rusqlite::Error| {
        Error::new(
            cadre_core::ErrorCode::Storage,
            format!("sqlite baseline: {e}"),
        )
    };
    let conn = rusqlite::Connection::open(dir.join("baseline.db")).map_err(storage)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
    )
    .map_err(storage)?;
    let blob = vec![b'x'; payload_bytes];
    let started = Instant::now();
    let mut done = 0;
    while done < rows {
        let n = (rows - done).min(10_000);
        conn.execute_batch("BEGIN").map_err(storage)?;
        {
            let mut stmt = conn
                .prepare_cached("INSERT INTO t (body) VALUES (?1)")
                .map_err(storage)?;
            for _ in 0..n {
                stmt.execute([&blob]).map_err(storage)?;
            }
        }
        conn.execute_batch("COMMIT").map_err(storage)?;
        done += n;
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}
