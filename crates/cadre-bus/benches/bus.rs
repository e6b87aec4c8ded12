//! Criterion benches: a publish → fetch → ack round of 256 messages of 200 bytes on each
//! backend, and the same number of envelopes through a bare tokio mpsc channel as the baseline.
//!
//! `cargo bench -p cadre-bus`. Whole-system figures (many producers, latency percentiles) come
//! from `cadre bench bus`; see docs/performance.md.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use cadre_bus::{Bus, BusOptions, MemoryBus, SqliteBus, StartFrom};
use cadre_core::{AgentId, Envelope, Group, MessageKind, Payload, Recipient, Topic};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const N: usize = 256;

fn envelope() -> Envelope {
    Envelope::builder(
        AgentId::new("bench").unwrap(),
        Recipient::Topic(Topic::new("bench").unwrap()),
        MessageKind::Event,
    )
    .raw_payload(
        Payload::from_json_text("bench.blob", 1, format!("\"{}\"", "x".repeat(198))).unwrap(),
    )
    .build()
}

async fn round(
    bus: &dyn Bus,
    stream: &Topic,
    group: &Group,
    me: &AgentId,
    template: &Envelope,
    batch: bool,
) {
    if batch {
        bus.publish_batch(stream, (0..N).map(|_| template.clone()).collect())
            .await
            .unwrap();
    } else {
        for _ in 0..N {
            bus.publish(stream, template.clone()).await.unwrap();
        }
    }
    let mut got = 0;
    while got < N {
        let ds = bus
            .fetch(stream, group, me, N, Duration::ZERO)
            .await
            .unwrap();
        got += ds.len();
        let receipts: Vec<_> = ds.iter().map(|d| d.receipt()).collect();
        bus.ack(&receipts).await.unwrap();
        black_box(ds);
    }
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let stream = Topic::new("bench").unwrap();
    let group = Group::new("g").unwrap();
    let me = AgentId::new("consumer").unwrap();
    let template = envelope();
    let mut g = c.benchmark_group("round_trip_256x200B");
    g.throughput(Throughput::Elements(N as u64));
    g.measurement_time(Duration::from_secs(4));

    let memory: Arc<dyn Bus> = Arc::new(MemoryBus::new(BusOptions::default()));
    rt.block_on(memory.create_group(&stream, &group, StartFrom::Latest))
        .unwrap();
    g.bench_function("memory_publish_each", |b| {
        b.iter(|| {
            rt.block_on(round(
                memory.as_ref(),
                &stream,
                &group,
                &me,
                &template,
                false,
            ))
        });
    });

    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Bus> = Arc::new(
        rt.block_on(SqliteBus::open(
            dir.path().join("bench.db"),
            BusOptions::default(),
        ))
        .unwrap(),
    );
    rt.block_on(sqlite.create_group(&stream, &group, StartFrom::Latest))
        .unwrap();
    g.bench_function("sqlite_publish_batch", |b| {
        b.iter(|| {
            rt.block_on(round(
                sqlite.as_ref(),
                &stream,
                &group,
                &me,
                &template,
                true,
            ))
        });
    });

    g.bench_function("tokio_mpsc_baseline", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<Envelope>(N);
                for _ in 0..N {
                    tx.send(template.clone()).await.unwrap();
                }
                let mut buf = Vec::with_capacity(N);
                rx.recv_many(&mut buf, N).await;
                black_box(buf);
            });
        });
    });
    g.finish();
}

criterion_group!(bus, benches);
criterion_main!(bus);
