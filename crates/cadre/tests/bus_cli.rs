//! `cadre stream`, `cadre dlq` and `cadre bench bus` against a real database file.

mod common;

use common::{cadre, text};

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use cadre_bus::{Bus, BusOptions, SqliteBus, StartFrom};
use cadre_core::{AgentId, Envelope, Error, Group, MessageKind, Payload, Recipient, Topic};

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

/// Five messages on `jobs`, two consumed and acked, one dead-lettered after a failure.
async fn seed(path: &Path) {
    let opts = BusOptions {
        max_deliveries: 1,
        ..BusOptions::default()
    };
    let bus = SqliteBus::open(path, opts).await.unwrap();
    let jobs = Topic::new("jobs").unwrap();
    let group = Group::new("workers").unwrap();
    bus.create_group(&jobs, &group, StartFrom::Earliest)
        .await
        .unwrap();
    for n in 0..5 {
        let env = Envelope::builder(
            AgentId::new("producer").unwrap(),
            Recipient::Topic(jobs.clone()),
            MessageKind::Event,
        )
        .raw_payload(Payload::from_json_text("test.n", 1, n.to_string()).unwrap())
        .build();
        bus.publish(&jobs, env).await.unwrap();
    }
    let me = AgentId::new("worker-1").unwrap();
    let ds = bus
        .fetch(&jobs, &group, &me, 3, Duration::ZERO)
        .await
        .unwrap();
    bus.ack(&[ds[0].receipt(), ds[1].receipt()]).await.unwrap();
    bus.nack(
        &ds[2].receipt(),
        Duration::ZERO,
        Error::internal("exchange rejected the order"),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_and_dead_letters_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cadre.db");
    seed(&db).await;
    let db = db.to_str().unwrap();
    let d = dir.path();

    let streams = json(&cadre(
        &["stream", "list", "--db", db, "--format", "json"],
        d,
    ));
    assert_eq!(streams[0]["name"], "jobs");
    assert_eq!(streams[0]["next_offset"], 5);
    assert_eq!(streams[0]["dead_letters"], 1);
    let out = cadre(&["stream", "list", "--db", db], d);
    assert!(
        text(&out.stdout).starts_with("STREAM"),
        "{}",
        text(&out.stdout)
    );

    let stats = json(&cadre(
        &["stream", "stats", "jobs", "--db", db, "--format", "json"],
        d,
    ));
    assert_eq!(stats[0]["counters"]["published"], 5);
    assert_eq!(stats[0]["groups"][0]["name"], "workers");
    // Two never delivered; none in flight after the process that leased them is gone.
    assert_eq!(stats[0]["groups"][0]["ready"][1], 2);
    let out = cadre(&["stream", "stats", "nope", "--db", db], d);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no stream `nope`"));

    let out = cadre(
        &[
            "stream", "tail", "jobs", "--from", "3", "--db", db, "--format", "json",
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["offset"], 3);
    assert_eq!(lines[1]["envelope"]["payload"]["data"], 4);
    let out = cadre(&["stream", "tail", "jobs", "-n", "2", "--db", db], d);
    assert_eq!(
        text(&out.stdout).lines().count(),
        2,
        "{}",
        text(&out.stdout)
    );

    let dead = json(&cadre(&["dlq", "list", "--db", db, "--format", "json"], d));
    assert_eq!(dead.as_array().unwrap().len(), 1);
    assert_eq!(dead[0]["reason"], "max_deliveries");
    assert_eq!(dead[0]["offset"], 2);
    let id = dead[0]["id"].as_u64().unwrap().to_string();
    let out = cadre(&["dlq", "show", &id, "--db", db], d);
    let shown = text(&out.stdout);
    assert!(shown.contains("exchange rejected the order"), "{shown}");
    assert!(shown.contains("worker-1"), "{shown}");
    let out = cadre(&["dlq", "show", "999", "--db", db], d);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no dead letter with id 999"));

    // Purging everything needs --all; replay moves the message back onto its stream.
    let out = cadre(&["dlq", "purge", "--db", db], d);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--all"));
    let replayed = json(&cadre(
        &["dlq", "replay", &id, "--db", db, "--format", "json"],
        d,
    ));
    assert_eq!(replayed[0]["offset"], 5);
    let dead = json(&cadre(&["dlq", "list", "--db", db, "--format", "json"], d));
    assert!(dead.as_array().unwrap().is_empty());
    let purged = json(&cadre(
        &["dlq", "purge", "--all", "--db", db, "--format", "json"],
        d,
    ));
    assert_eq!(purged["purged"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_refused_while_a_node_holds_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cadre.db");
    seed(&db).await;
    let holder = SqliteBus::open(&db, BusOptions::default()).await.unwrap();
    let db = db.to_str().unwrap();
    // Reading works alongside the node; replaying needs it stopped.
    let dead = json(&cadre(
        &["dlq", "list", "--db", db, "--format", "json"],
        dir.path(),
    ));
    let id = dead[0]["id"].as_u64().unwrap().to_string();
    let out = cadre(&["dlq", "replay", &id, "--db", db], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("in use by another process"),
        "{}",
        text(&out.stderr)
    );
    drop(holder);
}

#[test]
fn bench_bus_prints_the_figures_scripts_read() {
    let dir = tempfile::tempdir().unwrap();
    for backend in ["memory", "sqlite"] {
        let out = cadre(
            &[
                "bench",
                "bus",
                "--backend",
                backend,
                "--messages",
                "3000",
                "--producers",
                "2",
                "--format",
                "json",
            ],
            dir.path(),
        );
        let report = json(&out);
        assert_eq!(report["backend"], backend);
        assert_eq!(report["messages"], 3000);
        for key in [
            "msgs_per_s",
            "deliver_p50_us",
            "deliver_p99_us",
            "ack_p99_us",
            "mpsc_msgs_per_s",
        ] {
            assert!(
                report[key].as_f64().is_some_and(|v| v > 0.0),
                "{backend}: {key} in {report}"
            );
        }
    }
    let out = cadre(&["bench", "bus", "--messages", "0"], dir.path());
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn bench_store_measures_checked_appends() {
    let dir = tempfile::tempdir().unwrap();
    let out = cadre(
        &[
            "bench",
            "store",
            "--writers",
            "2",
            "--appends",
            "10",
            "--events",
            "10",
            "--db",
            "store.db",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let r = json(&out);
    assert_eq!(r["backend"], "sqlite");
    assert_eq!(r["events"], 200);
    assert!(r["events_per_s"].as_f64().unwrap() > 0.0);
    assert!(dir.path().join("store.db").exists());
}
