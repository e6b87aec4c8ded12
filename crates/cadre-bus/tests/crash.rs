//! Durability of the sqlite bus under `SIGKILL`.
//!
//! The test runs its own binary as a child that publishes (single messages and batches, from
//! several tasks) and consumes (fetch, then ack) as fast as it can, printing `P n` once the
//! publish of message `n` returned, `a n` before acking it and `A n` once the ack returned. The
//! parent kills the child with SIGKILL at a random point (seeded), many times, restarting it on
//! the same database, then drains what is left and checks:
//!
//! - every acknowledged message stays acknowledged (no `A n` is delivered again);
//! - every published message that was not acknowledged is delivered again (none is lost);
//! - no message is delivered twice in the final drain.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a test harness of its own reports on the console

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cadre_bus::{Bus, BusOptions, SqliteBus, StartFrom};
use cadre_core::{AgentId, Envelope, Group, MessageKind, Payload, Recipient, Topic};

const ROUNDS: u64 = 24;
const CHILD_ENV: &str = "CADRE_BUS_CRASH_CHILD_DB";
const BASE_ENV: &str = "CADRE_BUS_CRASH_CHILD_BASE";

fn stream() -> Topic {
    Topic::new("jobs").unwrap()
}
fn group() -> Group {
    Group::new("workers").unwrap()
}
fn msg(n: u64) -> Envelope {
    Envelope::builder(
        AgentId::new("producer").unwrap(),
        Recipient::Topic(stream()),
        MessageKind::Event,
    )
    .raw_payload(Payload::from_json_text("test.n", 1, n.to_string()).unwrap())
    .build()
}
fn n_of(e: &Envelope) -> u64 {
    e.payload.json().parse().unwrap()
}

fn main() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        let base: u64 = std::env::var(BASE_ENV).unwrap().parse().unwrap();
        child(Path::new(&db), base);
        return;
    }
    let started = Instant::now();
    parent();
    println!(
        "test sigkill_never_loses_acknowledged_or_published_messages ... ok ({:.1}s)",
        started.elapsed().as_secs_f64()
    );
}

#[allow(clippy::print_stdout)]
fn child(db: &Path, base: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let bus = Arc::new(SqliteBus::open(db, BusOptions::default()).await.unwrap());
        bus.create_group(&stream(), &group(), StartFrom::Earliest)
            .await
            .unwrap();
        let next = Arc::new(AtomicU64::new(base));
        let mut tasks = Vec::new();
        for producer in 0..3 {
            let bus = Arc::clone(&bus);
            let next = Arc::clone(&next);
            tasks.push(tokio::spawn(async move {
                loop {
                    if producer == 0 {
                        let first = next.fetch_add(10, Ordering::SeqCst);
                        let batch: Vec<_> = (first..first + 10).map(msg).collect();
                        bus.publish_batch(&stream(), batch).await.unwrap();
                        for n in first..first + 10 {
                            println!("P {n}");
                        }
                    } else {
                        let n = next.fetch_add(1, Ordering::SeqCst);
                        bus.publish(&stream(), msg(n)).await.unwrap();
                        println!("P {n}");
                    }
                }
            }));
        }
        let consumer = AgentId::new(format!("consumer-{base}")).unwrap();
        loop {
            let ds = bus
                .fetch(
                    &stream(),
                    &group(),
                    &consumer,
                    64,
                    Duration::from_millis(50),
                )
                .await
                .unwrap();
            for d in &ds {
                println!("a {}", n_of(d.envelope()));
            }
            let receipts: Vec<_> = ds.iter().map(|d| d.receipt()).collect();
            bus.ack(&receipts).await.unwrap();
            for d in &ds {
                println!("A {}", n_of(d.envelope()));
            }
        }
    });
}

/// A small deterministic generator (xorshift64*), so kill points repeat run to run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn parent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bus.db");
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(0x00C0_FFEE_D00D);
    let mut published = HashSet::new();
    let mut ack_started = HashSet::new();
    let mut acked = HashSet::new();
    for round in 0..ROUNDS {
        // Kill after a random number of lines of output: sometimes almost at once (during
        // start-up and recovery), mostly in the middle of steady work.
        let kill_after = match rng.next() % 4 {
            0 => rng.next() % 20,
            _ => 20 + rng.next() % 3000,
        };
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, &db)
            .env(BASE_ENV, (round * 10_000_000).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut lines = Vec::new();
        let mut line = String::new();
        while (lines.len() as u64) < kill_after {
            line.clear();
            let read = out.read_line(&mut line).unwrap();
            assert!(read > 0, "round {round}: the child exited on its own");
            assert!(
                Instant::now() < deadline,
                "round {round}: the child made no progress"
            );
            lines.push(line.trim_end().to_owned());
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Whatever the child wrote before it died is still in the pipe.
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        lines.extend(rest.lines().map(str::to_owned));
        for l in &lines {
            let Some((kind, n)) = l.split_once(' ') else {
                continue; // cut off mid-line by the kill
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match kind {
                "P" => {
                    published.insert(n);
                }
                "a" => {
                    ack_started.insert(n);
                }
                "A" => {
                    acked.insert(n);
                }
                _ => {}
            }
        }
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let drained = rt.block_on(async {
        let bus = SqliteBus::open(&db, BusOptions::default()).await.unwrap();
        let me = AgentId::new("auditor").unwrap();
        let mut drained = Vec::new();
        loop {
            let ds = bus
                .fetch(&stream(), &group(), &me, 1000, Duration::ZERO)
                .await
                .unwrap();
            if ds.is_empty() {
                break;
            }
            drained.extend(ds.iter().map(|d| n_of(d.envelope())));
            let receipts: Vec<_> = ds.iter().map(|d| d.receipt()).collect();
            bus.ack(&receipts).await.unwrap();
        }
        drained
    });
    let drained_set: HashSet<u64> = drained.iter().copied().collect();

    assert!(
        published.len() > 1000 && acked.len() > 500,
        "too little work to prove anything: {} published, {} acked",
        published.len(),
        acked.len()
    );
    assert_eq!(
        drained_set.len(),
        drained.len(),
        "a message was delivered twice in the drain"
    );
    let resurrected: Vec<_> = acked.intersection(&drained_set).take(10).collect();
    assert!(
        resurrected.is_empty(),
        "acknowledged messages delivered again: {resurrected:?}"
    );
    let lost: Vec<_> = published
        .iter()
        .filter(|n| !ack_started.contains(n) && !drained_set.contains(n))
        .take(10)
        .collect();
    assert!(
        lost.is_empty(),
        "published, never acknowledged, and not delivered again: {lost:?}"
    );
    eprintln!(
        "{ROUNDS} SIGKILLs: {} published, {} acked, {} redelivered after the last kill",
        published.len(),
        acked.len(),
        drained.len()
    );
}
