//! The conformance suite on the sqlite backend, plus what only a durable backend promises:
//! state survives closing and reopening the database.

use std::sync::Arc;
use std::time::Duration;

use cadre_bus::conformance::{Backend, OpenFuture, Opened};
use cadre_bus::{
    Bus, BusOptions, DeadReason, DlqFilter, ManualClock, ReadFrom, SqliteBus, StartFrom,
};
use cadre_core::{AgentId, Envelope, Error, ErrorCode, Group, MessageKind, Recipient, Topic};

struct Sqlite;

impl Backend for Sqlite {
    fn open(&self, opts: BusOptions) -> OpenFuture {
        Box::pin(async move {
            let dir = tempfile::tempdir().map_err(|e| Error::internal(e.to_string()))?;
            let bus = SqliteBus::open(dir.path().join("bus.db"), opts).await?;
            Ok(Opened {
                bus: Arc::new(bus) as Arc<dyn Bus>,
                keep: Box::new(dir),
            })
        })
    }
}

cadre_bus::conformance_tests!(sqlite, Sqlite);

fn t(s: &str) -> Topic {
    Topic::new(s).unwrap()
}
fn g(s: &str) -> Group {
    Group::new(s).unwrap()
}
fn a(s: &str) -> AgentId {
    AgentId::new(s).unwrap()
}
fn msg(n: u64) -> Envelope {
    Envelope::builder(a("p"), Recipient::Topic(t("jobs")), MessageKind::Event)
        .raw_payload(cadre_core::Payload::from_json_text("test.n", 1, n.to_string()).unwrap())
        .build()
}
fn n(e: &Envelope) -> u64 {
    e.payload.json().parse().unwrap()
}

fn opts(clock: &ManualClock) -> BusOptions {
    let mut o = BusOptions::default().with_clock(clock.clone());
    o.max_deliveries = 2;
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/bus.db");
    let clock = ManualClock::new(1_800_000_000_000);
    {
        let bus = SqliteBus::open(&path, opts(&clock)).await.unwrap();
        bus.create_group(&t("jobs"), &g("w"), StartFrom::Earliest)
            .await
            .unwrap();
        for i in 0..10 {
            bus.publish(&t("jobs"), msg(i)).await.unwrap();
        }
        let ds = bus
            .fetch(&t("jobs"), &g("w"), &a("c"), 10, Duration::ZERO)
            .await
            .unwrap();
        // Ack 0..5, nack 5 with a long delay, reject 6, leave 7..10 in flight.
        let receipts: Vec<_> = ds[..5].iter().map(|d| d.receipt()).collect();
        bus.ack(&receipts).await.unwrap();
        bus.nack(
            &ds[5].receipt(),
            Duration::from_secs(60),
            Error::internal("later"),
        )
        .await
        .unwrap();
        bus.reject(&ds[6].receipt(), Error::invalid_input("poison"))
            .await
            .unwrap();
    }
    // Reopen: the in-flight ones come back at once (leases are not durable), the nacked one
    // after its delay with its count kept, the acked ones never; the dead letter is still there.
    let bus = SqliteBus::open(&path, opts(&clock)).await.unwrap();
    let again = bus
        .fetch(&t("jobs"), &g("w"), &a("c2"), 100, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|d| n(d.envelope())).collect::<Vec<_>>(),
        vec![7, 8, 9]
    );
    let receipts: Vec<_> = again.iter().map(|d| d.receipt()).collect();
    bus.ack(&receipts).await.unwrap();
    clock.advance(Duration::from_secs(60));
    let retried = bus
        .fetch(&t("jobs"), &g("w"), &a("c2"), 100, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(n(retried[0].envelope()), 5);
    assert_eq!(retried[0].delivery_count, 2);
    // The second failure reaches max_deliveries = 2, with the history from before the restart.
    bus.nack(
        &retried[0].receipt(),
        Duration::ZERO,
        Error::internal("again"),
    )
    .await
    .unwrap();
    let dead = bus.dead_letters(&DlqFilter::default()).await.unwrap();
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0].reason, DeadReason::Rejected);
    assert_eq!(dead[1].reason, DeadReason::MaxDeliveries);
    assert_eq!(dead[1].history.len(), 2);
    assert!(dead[1].history[0].outcome.contains("later"));
    // Counters, replay and new groups from the earliest offset all see the stored messages.
    let info = bus.streams().await.unwrap();
    assert_eq!(info[0].counters.published, 10);
    assert_eq!(info[0].counters.dead_lettered, 2);
    let replay = bus
        .read(&t("jobs"), ReadFrom::Offset(0), 100)
        .await
        .unwrap();
    assert_eq!(replay.len(), 10);
    bus.create_group(&t("jobs"), &g("late-audit"), StartFrom::Earliest)
        .await
        .unwrap();
    let audit = bus
        .fetch(&t("jobs"), &g("late-audit"), &a("x"), 100, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(audit.len(), 10);
    // Nothing is left for the first group.
    clock.advance(Duration::from_secs(3600));
    assert!(
        bus.fetch(&t("jobs"), &g("w"), &a("c3"), 100, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_writer_at_a_time_and_read_only_inspection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus.db");
    let clock = ManualClock::new(1_800_000_000_000);
    let err = SqliteBus::open_read_only(&path, opts(&clock))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    let bus = SqliteBus::open(&path, opts(&clock)).await.unwrap();
    bus.create_group(&t("jobs"), &g("w"), StartFrom::Earliest)
        .await
        .unwrap();
    bus.publish(&t("jobs"), msg(1)).await.unwrap();

    let err = SqliteBus::open(&path, opts(&clock)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable);
    assert!(
        err.to_string().contains(&std::process::id().to_string()),
        "{err}"
    );

    let ro = SqliteBus::open_read_only(&path, opts(&clock))
        .await
        .unwrap();
    assert!(ro.is_read_only());
    let info = ro.streams().await.unwrap();
    assert_eq!(info[0].groups[0].backlog(), 1);
    let err = ro.publish(&t("jobs"), msg(2)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable);
    drop(bus);
    // The lock goes with the writer.
    SqliteBus::open(&path, opts(&clock)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_bus_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus.db");
    std::fs::write(&path, b"this is not sqlite").unwrap();
    let err = SqliteBus::open(&path, BusOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Storage);
    assert!(err.to_string().contains("bus.db"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_registers_reach_the_owner_from_another_handle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus.db");
    let clock = ManualClock::new(1_800_000_000_000);
    let owner = SqliteBus::open(&path, opts(&clock)).await.unwrap();
    // Another process (here: a read-only handle) sets the kill switch while the owner runs.
    let operator = SqliteBus::open_read_only(&path, opts(&clock))
        .await
        .unwrap();
    operator
        .set_control("halt", Some("maintenance".into()))
        .await
        .unwrap();
    let seen = owner.control("halt").await.unwrap().expect("owner sees it");
    assert_eq!(seen.value, "maintenance");
    operator.set_control("halt", None).await.unwrap();
    assert_eq!(owner.control("halt").await.unwrap(), None);
    // And it survives reopening.
    owner
        .set_control("halt", Some("again".into()))
        .await
        .unwrap();
    drop((owner, operator));
    let reopened = SqliteBus::open(&path, opts(&clock)).await.unwrap();
    assert_eq!(
        reopened.control("halt").await.unwrap().map(|c| c.value),
        Some("again".into())
    );
}
