//! The conformance suite: one set of tests every backend must pass.
//!
//! A backend provides a [`Backend`] that opens a fresh, empty bus with given options; the
//! [`conformance_tests!`](crate::conformance_tests) macro expands to one `#[tokio::test]` per
//! case. Time is a [`ManualClock`] the cases move by hand, so leases, TTLs and retry delays are
//! tested without sleeping.
//!
//! ```text
//! cadre_bus::conformance_tests!(memory, cadre_bus::conformance::MemoryBackend);
//! ```
#![allow(missing_docs, clippy::missing_panics_doc)]

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use cadre_core::{
    AgentId, Envelope, Error, ErrorCode, Group, Message, MessageKind, Payload, Priority, Recipient,
    Topic,
};
use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    Bus, BusOptions, DeadReason, Delivery, DlqFilter, ManualClock, MemoryBus, Published, ReadFrom,
    StartFrom, decode_or_reject, request,
};

/// A future that opens a bus.
pub type OpenFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Opened, Error>> + Send + 'static>>;

/// An open bus and whatever must live as long as it (a temporary directory).
pub struct Opened {
    pub bus: Arc<dyn Bus>,
    pub keep: Box<dyn Any + Send>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("backend", &self.bus.backend())
            .finish()
    }
}

/// Opens fresh, empty buses of one backend.
pub trait Backend: Send + Sync + 'static {
    fn open(&self, opts: BusOptions) -> OpenFuture;
}

/// The memory backend.
#[derive(Debug, Clone, Copy)]
pub struct MemoryBackend;

impl Backend for MemoryBackend {
    fn open(&self, opts: BusOptions) -> OpenFuture {
        Box::pin(async move {
            Ok(Opened {
                bus: Arc::new(MemoryBus::new(opts)) as Arc<dyn Bus>,
                keep: Box::new(()),
            })
        })
    }
}

/// Expands to one test per conformance case for `$backend`.
#[macro_export]
macro_rules! conformance_tests {
    ($module:ident, $backend:expr) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $crate::conformance_tests!(@cases $backend;
                work_queue_within_a_group,
                every_group_sees_every_message,
                groups_start_from_earliest_or_latest,
                batches_keep_order,
                unknown_group_is_not_found,
                request_reply_correlates_and_times_out,
                unacked_message_is_redelivered_to_another_consumer_after_its_lease,
                acked_message_is_never_redelivered,
                late_ack_after_lease_expiry_still_counts,
                nack_with_delay_retries_after_the_delay,
                max_deliveries_moves_to_dead_letters_with_history,
                dead_letters_list_inspect_replay_purge,
                duplicate_idempotency_key_is_dropped_and_counted,
                expired_message_is_never_delivered,
                deliver_after_delays_delivery,
                priorities_are_served_highest_first,
                low_priority_is_not_starved,
                replay_from_offset_and_time,
                in_flight_is_bounded_per_consumer,
                publishers_get_back_pressure_from_a_full_backlog,
                undecodable_payload_is_dead_lettered_without_blocking,
                fetch_waits_for_a_publish,
                oversize_envelope_is_refused,
                control_registers_set_read_and_clear,
                stream_info_describes_one_stream,
            );
        }
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::$case(&$backend).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Fixtures

const T0: u64 = 1_800_000_000_000;

struct Fx {
    bus: Arc<dyn Bus>,
    clock: ManualClock,
    _keep: Box<dyn Any + Send>,
}

async fn open_with(backend: &dyn Backend, tune: impl FnOnce(&mut BusOptions)) -> Fx {
    let clock = ManualClock::new(T0);
    let mut opts = BusOptions::default().with_clock(clock.clone());
    opts.lease = Duration::from_secs(10);
    tune(&mut opts);
    let opened = backend.open(opts).await.expect("open bus");
    Fx {
        bus: opened.bus,
        clock,
        _keep: opened.keep,
    }
}

async fn open(backend: &dyn Backend) -> Fx {
    open_with(backend, |_| {}).await
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub n: u64,
}

impl Message for Job {
    const TYPE: &'static str = "test.job";
}

fn topic(s: &str) -> Topic {
    Topic::new(s).unwrap()
}

fn group(s: &str) -> Group {
    Group::new(s).unwrap()
}

fn agent(s: &str) -> AgentId {
    AgentId::new(s).unwrap()
}

fn job(n: u64) -> Envelope {
    Envelope::builder(
        agent("producer"),
        Recipient::Topic(topic("jobs")),
        MessageKind::Event,
    )
    .payload(&Job { n })
    .unwrap()
    .timestamp(Utc.timestamp_millis_opt(T0 as i64).unwrap())
    .build()
}

fn n_of(d: &Delivery) -> u64 {
    d.envelope().payload.decode::<Job>().unwrap().n
}

async fn fetch(fx: &Fx, stream: &str, g: &str, consumer: &str, max: usize) -> Vec<Delivery> {
    fx.bus
        .fetch(
            &topic(stream),
            &group(g),
            &agent(consumer),
            max,
            Duration::ZERO,
        )
        .await
        .unwrap()
}

async fn ack_all(fx: &Fx, ds: &[Delivery]) {
    let receipts: Vec<_> = ds.iter().map(Delivery::receipt).collect();
    fx.bus.ack(&receipts).await.unwrap();
}

async fn setup(fx: &Fx, stream: &str, groups: &[&str]) {
    for g in groups {
        fx.bus
            .create_group(&topic(stream), &group(g), StartFrom::Earliest)
            .await
            .unwrap();
    }
}

async fn publish_jobs(fx: &Fx, stream: &str, range: std::ops::Range<u64>) {
    for n in range {
        fx.bus.publish(&topic(stream), job(n)).await.unwrap();
    }
}

async fn stats(fx: &Fx, stream: &str) -> crate::StreamInfo {
    fx.bus
        .streams()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name.as_str() == stream)
        .expect("stream listed")
}

// ---------------------------------------------------------------------------------------------
// Cases

pub async fn work_queue_within_a_group(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "jobs", &["workers"]).await;
    publish_jobs(&fx, "jobs", 0..10).await;
    let a = fetch(&fx, "jobs", "workers", "w1", 4).await;
    let c = fetch(&fx, "jobs", "workers", "w2", 100).await;
    assert_eq!(a.len(), 4);
    assert_eq!(c.len(), 6);
    let mut seen: Vec<u64> = a.iter().chain(&c).map(n_of).collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..10).collect::<Vec<_>>(),
        "each message to exactly one consumer"
    );
    assert!(a.iter().chain(&c).all(|d| d.delivery_count == 1));
    ack_all(&fx, &a).await;
    ack_all(&fx, &c).await;
    fx.clock.advance(Duration::from_secs(60));
    assert!(fetch(&fx, "jobs", "workers", "w1", 100).await.is_empty());
    let info = stats(&fx, "jobs").await;
    assert_eq!(info.counters.published, 10);
    assert_eq!(info.counters.acked, 10);
    assert_eq!(info.groups[0].backlog(), 0);
}

pub async fn every_group_sees_every_message(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "jobs", &["audit", "exec"]).await;
    publish_jobs(&fx, "jobs", 0..5).await;
    let audit = fetch(&fx, "jobs", "audit", "a1", 100).await;
    let exec = fetch(&fx, "jobs", "exec", "e1", 100).await;
    assert_eq!(
        audit.iter().map(n_of).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(
        exec.iter().map(n_of).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    // Acking in one group does not touch the other.
    ack_all(&fx, &audit).await;
    fx.clock.advance(Duration::from_secs(11));
    assert!(fetch(&fx, "jobs", "audit", "a1", 100).await.is_empty());
    assert_eq!(fetch(&fx, "jobs", "exec", "e2", 100).await.len(), 5);
}

pub async fn groups_start_from_earliest_or_latest(b: &dyn Backend) {
    let fx = open(b).await;
    publish_jobs(&fx, "jobs", 0..3).await;
    setup(&fx, "jobs", &["early"]).await;
    fx.bus
        .create_group(&topic("jobs"), &group("late"), StartFrom::Latest)
        .await
        .unwrap();
    // Creating an existing group again changes nothing.
    setup(&fx, "jobs", &["early"]).await;
    publish_jobs(&fx, "jobs", 3..5).await;
    let early = fetch(&fx, "jobs", "early", "c", 100).await;
    let late = fetch(&fx, "jobs", "late", "c", 100).await;
    assert_eq!(
        early.iter().map(n_of).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(late.iter().map(n_of).collect::<Vec<_>>(), vec![3, 4]);
}

pub async fn batches_keep_order(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "jobs", &["g"]).await;
    let published = fx
        .bus
        .publish_batch(&topic("jobs"), (0..50).map(job).collect())
        .await
        .unwrap();
    let offsets: Vec<u64> = published.iter().map(Published::offset).collect();
    assert_eq!(offsets, (0..50).collect::<Vec<_>>());
    let got = fetch(&fx, "jobs", "g", "c", 100).await;
    assert_eq!(
        got.iter().map(n_of).collect::<Vec<_>>(),
        (0..50).collect::<Vec<_>>()
    );
    assert_eq!(got.iter().map(|d| d.offset).collect::<Vec<_>>(), offsets);
}

pub async fn unknown_group_is_not_found(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "jobs", &["g"]).await;
    let err = fx
        .bus
        .fetch(
            &topic("jobs"),
            &group("nope"),
            &agent("c"),
            1,
            Duration::ZERO,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert!(err.to_string().contains("nope"), "{err}");
    let err = fx
        .bus
        .fetch(
            &topic("absent"),
            &group("g"),
            &agent("c"),
            1,
            Duration::ZERO,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
}

pub async fn request_reply_correlates_and_times_out(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "pricing", &["pricers"]).await;
    let bus = Arc::clone(&fx.bus);
    let responder = tokio::spawn(async move {
        let me = agent("pricer-1");
        loop {
            let ds = bus
                .fetch(
                    &topic("pricing"),
                    &group("pricers"),
                    &me,
                    1,
                    Duration::from_secs(30),
                )
                .await
                .unwrap();
            let Some(d) = ds.into_iter().next() else {
                continue;
            };
            let Job { n } = d.envelope().payload.decode().unwrap();
            // A stray message first: not a reply to the request, must be ignored.
            let reply_to = d.envelope().meta.reply_to.clone().unwrap();
            let stray = Envelope::builder(
                me.clone(),
                Recipient::Topic(reply_to.clone()),
                MessageKind::TaskResponse,
            )
            .payload(&Job { n: 999 })
            .unwrap()
            .build();
            bus.publish(&reply_to, stray).await.unwrap();
            let reply = d
                .envelope()
                .reply(me.clone(), MessageKind::TaskResponse)
                .payload(&Job { n: n * 2 })
                .unwrap()
                .build();
            bus.publish(&reply_to, reply).await.unwrap();
            bus.ack(&[d.receipt()]).await.unwrap();
            return;
        }
    });
    let req = job(21);
    let req_id = req.id;
    let reply = request(
        fx.bus.as_ref(),
        &topic("pricing"),
        req,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(reply.meta.parent_id, Some(req_id));
    assert_eq!(reply.payload.decode::<Job>().unwrap(), Job { n: 42 });
    responder.await.unwrap();

    // Nobody answers: a timeout error naming the request.
    let req = job(1);
    let id = req.id;
    let err = request(
        fx.bus.as_ref(),
        &topic("nobody-home"),
        req,
        Duration::from_millis(50),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Timeout);
    assert!(err.to_string().contains(&id.to_string()), "{err}");
}

pub async fn unacked_message_is_redelivered_to_another_consumer_after_its_lease(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "jobs", &["g"]).await;
    publish_jobs(&fx, "jobs", 0..1).await;
    let first = fetch(&fx, "jobs", "g", "dies", 10).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].delivery_count, 1);
    assert_eq!(first[0].lease_until_ms, T0 + 10_000);
    // While the lease holds, nobody else gets it.
    fx.clock.advance(Duration::from_millis(9_999));
    assert!(fetch(&fx, "jobs", "g", "other", 10).await.is_empty());
    // The consumer died: after the lease, another consumer gets it, with the count raised.
    fx.clock.advance(Duration::from_millis(1));
    let again = fetch(&fx, "jobs", "g", "other", 10).await;
    assert_eq!(again.len(), 1);
    assert_eq!(n_of(&again[0]), 0);
    assert_eq!(again[0].delivery_count, 2);
    assert_eq!(stats(&fx, "jobs").await.counters.lease_expired, 1);
    ack_all(&fx, &again).await;
}

pub async fn acked_message_is_never_redelivered(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "jobs", &["g"]).await;
    publish_jobs(&fx, "jobs", 0..3).await;
    let ds = fetch(&fx, "jobs", "g", "c", 10).await;
    ack_all(&fx, &ds[..2]).await;
    // Acking twice is harmless.
    ack_all(&fx, &ds[..1]).await;
    fx.clock.advance(Duration::from_secs(3600));
    let again = fetch(&fx, "jobs", "g", "c2", 10).await;
    assert_eq!(again.iter().map(n_of).collect::<Vec<_>>(), vec![2]);
}

pub async fn late_ack_after_lease_expiry_still_counts(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "jobs", &["g"]).await;
    publish_jobs(&fx, "jobs", 0..1).await;
    let ds = fetch(&fx, "jobs", "g", "slow", 10).await;
    fx.clock.advance(Duration::from_secs(11));
    // The lease is gone, but the work was done: the ack is taken.
    ack_all(&fx, &ds).await;
    assert!(fetch(&fx, "jobs", "g", "other", 10).await.is_empty());
    // A nack for a delivery that is no longer leased is refused with NotFound.
    let err = fx
        .bus
        .nack(&ds[0].receipt(), Duration::ZERO, Error::internal("x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
}

pub async fn nack_with_delay_retries_after_the_delay(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "jobs", &["g"]).await;
    publish_jobs(&fx, "jobs", 0..1).await;
    let ds = fetch(&fx, "jobs", "g", "c", 10).await;
    fx.bus
        .nack(
            &ds[0].receipt(),
            Duration::from_secs(5),
            Error::new(ErrorCode::Unavailable, "broker down"),
        )
        .await
        .unwrap();
    fx.clock.advance(Duration::from_millis(4_999));
    assert!(
        fetch(&fx, "jobs", "g", "c", 10).await.is_empty(),
        "too early"
    );
    fx.clock.advance(Duration::from_millis(1));
    let again = fetch(&fx, "jobs", "g", "c", 10).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery_count, 2);
    assert_eq!(stats(&fx, "jobs").await.counters.nacked, 1);
    // A nack without delay is redelivered at once.
    fx.bus
        .nack(
            &again[0].receipt(),
            Duration::ZERO,
            Error::internal("again"),
        )
        .await
        .unwrap();
    assert_eq!(fetch(&fx, "jobs", "g", "c", 10).await[0].delivery_count, 3);
}

pub async fn max_deliveries_moves_to_dead_letters_with_history(b: &dyn Backend) {
    let fx = open_with(b, |o| o.max_deliveries = 3).await;
    setup(&fx, "jobs", &["g"]).await;
    publish_jobs(&fx, "jobs", 7..8).await;
    // Delivery 1: nacked. Delivery 2: its lease runs out. Delivery 3: nacked -> dead.
    let d = fetch(&fx, "jobs", "g", "c1", 1).await.remove(0);
    fx.bus
        .nack(
            &d.receipt(),
            Duration::ZERO,
            Error::new(ErrorCode::Unavailable, "first failure"),
        )
        .await
        .unwrap();
    let _d2 = fetch(&fx, "jobs", "g", "c2", 1).await.remove(0);
    fx.clock.advance(Duration::from_secs(10));
    let d3 = fetch(&fx, "jobs", "g", "c3", 1).await.remove(0);
    assert_eq!(d3.delivery_count, 3);
    fx.bus
        .nack(
            &d3.receipt(),
            Duration::ZERO,
            Error::new(ErrorCode::AgentFailed, "last failure"),
        )
        .await
        .unwrap();
    fx.clock.advance(Duration::from_secs(3600));
    assert!(fetch(&fx, "jobs", "g", "c1", 10).await.is_empty());

    let dead = fx.bus.dead_letters(&DlqFilter::default()).await.unwrap();
    assert_eq!(dead.len(), 1);
    let dl = &dead[0];
    assert_eq!(dl.reason, DeadReason::MaxDeliveries);
    assert_eq!(dl.stream.as_str(), "jobs");
    assert_eq!(dl.group.as_str(), "g");
    assert_eq!(dl.delivery_count, 3);
    assert_eq!(dl.envelope.payload.decode::<Job>().unwrap(), Job { n: 7 });
    let last = dl.last_error.as_ref().unwrap();
    assert_eq!(last.code(), ErrorCode::AgentFailed);
    assert!(last.to_string().contains("last failure"));
    let outcomes: Vec<_> = dl.history.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert!(outcomes[0].contains("first failure"));
    assert_eq!(outcomes[1], "lease expired");
    assert!(outcomes[2].contains("last failure"));
    let consumers: Vec<_> = dl
        .history
        .iter()
        .map(|a| a.consumer.as_ref().unwrap().as_str())
        .collect();
    assert_eq!(consumers, ["c1", "c2", "c3"]);
    let info = stats(&fx, "jobs").await;
    assert_eq!(info.counters.dead_lettered, 1);
    assert_eq!(info.dead_letters, 1);
}

pub async fn dead_letters_list_inspect_replay_purge(b: &dyn Backend) {
    let fx = open_with(b, |o| o.max_deliveries = 1).await;
    setup(&fx, "jobs", &["g"]).await;
    setup(&fx, "other", &["g"]).await;
    publish_jobs(&fx, "jobs", 0..3).await;
    fx.bus.publish(&topic("other"), job(100)).await.unwrap();
    for d in fetch(&fx, "jobs", "g", "c", 10).await {
        fx.bus
            .nack(&d.receipt(), Duration::ZERO, Error::internal("boom"))
            .await
            .unwrap();
    }
    let d = fetch(&fx, "other", "g", "c", 10).await.remove(0);
    fx.bus
        .reject(&d.receipt(), Error::invalid_input("bad"))
        .await
        .unwrap();

    let all = fx.bus.dead_letters(&DlqFilter::default()).await.unwrap();
    assert_eq!(all.len(), 4);
    let jobs_only = DlqFilter {
        stream: Some(topic("jobs")),
        ..DlqFilter::default()
    };
    let jobs = fx.bus.dead_letters(&jobs_only).await.unwrap();
    assert_eq!(jobs.len(), 3);
    let rejected = fx
        .bus
        .dead_letters(&DlqFilter {
            reason: Some(DeadReason::Rejected),
            ..DlqFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].stream.as_str(), "other");
    // Inspect one by id.
    let one = fx
        .bus
        .dead_letters(&DlqFilter {
            ids: Some(vec![jobs[1].id]),
            ..DlqFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].offset, jobs[1].offset);

    // Replay: back on its stream, out of the dead-letter store.
    let replayed = fx.bus.replay_dead_letter(jobs[0].id).await.unwrap();
    assert!(
        matches!(replayed, Published::Stored { offset: 3 }),
        "{replayed:?}"
    );
    let again = fetch(&fx, "jobs", "g", "c", 10).await;
    assert_eq!(again.len(), 1);
    assert_eq!(n_of(&again[0]), n_of_env(&jobs[0].envelope));
    assert_eq!(fx.bus.dead_letters(&jobs_only).await.unwrap().len(), 2);
    let err = fx.bus.replay_dead_letter(jobs[0].id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);

    // Purge by filter, then everything.
    assert_eq!(fx.bus.purge_dead_letters(&jobs_only).await.unwrap(), 2);
    assert_eq!(
        fx.bus
            .dead_letters(&DlqFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        fx.bus
            .purge_dead_letters(&DlqFilter::default())
            .await
            .unwrap(),
        1
    );
    assert!(
        fx.bus
            .dead_letters(&DlqFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
}

fn n_of_env(e: &Envelope) -> u64 {
    e.payload.decode::<Job>().unwrap().n
}

pub async fn duplicate_idempotency_key_is_dropped_and_counted(b: &dyn Backend) {
    let fx = open_with(b, |o| o.dedupe_window = Duration::from_secs(60)).await;
    setup(&fx, "jobs", &["g"]).await;
    let keyed = |n| {
        let mut e = job(n);
        e.meta.idempotency_key = Some("order-42".into());
        e
    };
    let first = fx.bus.publish(&topic("jobs"), keyed(1)).await.unwrap();
    let dup = fx.bus.publish(&topic("jobs"), keyed(2)).await.unwrap();
    assert!(!first.is_duplicate());
    assert_eq!(
        dup,
        Published::Duplicate {
            original: first.offset()
        }
    );
    assert_eq!(stats(&fx, "jobs").await.counters.duplicates, 1);
    let got = fetch(&fx, "jobs", "g", "c", 10).await;
    assert_eq!(got.iter().map(n_of).collect::<Vec<_>>(), vec![1]);
    assert_eq!(
        got[0].envelope().meta.idempotency_key.as_deref(),
        Some("order-42")
    );
    // After the window the key is free again.
    fx.clock.advance(Duration::from_secs(60));
    assert!(
        !fx.bus
            .publish(&topic("jobs"), keyed(3))
            .await
            .unwrap()
            .is_duplicate()
    );
}

pub async fn expired_message_is_never_delivered(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "jobs", &["g"]).await;
    let mut e = job(1);
    e.ttl = Some(Duration::from_secs(5));
    fx.bus.publish(&topic("jobs"), e).await.unwrap();
    publish_jobs(&fx, "jobs", 2..3).await;
    fx.clock.advance(Duration::from_secs(5));
    let got = fetch(&fx, "jobs", "g", "c", 10).await;
    assert_eq!(got.iter().map(n_of).collect::<Vec<_>>(), vec![2]);
    let dead = fx.bus.dead_letters(&DlqFilter::default()).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, DeadReason::Expired);
    assert_eq!(dead[0].delivery_count, 0);
    let info = stats(&fx, "jobs").await;
    assert_eq!(info.counters.expired, 1);
    assert_eq!(info.counters.dead_lettered, 1);
}

pub async fn deliver_after_delays_delivery(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "jobs", &["g"]).await;
    let mut e = job(1);
    e.meta.deliver_after = Some(Utc.timestamp_millis_opt((T0 + 30_000) as i64).unwrap());
    fx.bus.publish(&topic("jobs"), e).await.unwrap();
    assert!(fetch(&fx, "jobs", "g", "c", 10).await.is_empty());
    assert_eq!(stats(&fx, "jobs").await.groups[0].delayed, 1);
    fx.clock.advance(Duration::from_secs(30));
    assert_eq!(fetch(&fx, "jobs", "g", "c", 10).await.len(), 1);
}

fn with_priority(n: u64, p: Priority) -> Envelope {
    let mut e = job(n);
    e.priority = p;
    e
}

pub async fn priorities_are_served_highest_first(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "jobs", &["g"]).await;
    let order = [
        (1, Priority::Low),
        (2, Priority::Normal),
        (3, Priority::Critical),
        (4, Priority::High),
        (5, Priority::Normal),
        (6, Priority::Critical),
    ];
    for (n, p) in order {
        fx.bus
            .publish(&topic("jobs"), with_priority(n, p))
            .await
            .unwrap();
    }
    let got: Vec<u64> = fetch(&fx, "jobs", "g", "c", 10)
        .await
        .iter()
        .map(n_of)
        .collect();
    assert_eq!(got, vec![3, 6, 4, 2, 5, 1]);
}

pub async fn low_priority_is_not_starved(b: &dyn Backend) {
    let bound = 4;
    let fx = open_with(b, |o| o.starvation_bound = bound).await;
    setup(&fx, "jobs", &["g"]).await;
    fx.bus
        .publish(&topic("jobs"), with_priority(0, Priority::Low))
        .await
        .unwrap();
    // Sustained critical load: two critical messages arrive for every one fetched.
    let mut next = 1;
    let mut fetches = 0;
    loop {
        for _ in 0..2 {
            fx.bus
                .publish(&topic("jobs"), with_priority(next, Priority::Critical))
                .await
                .unwrap();
            next += 1;
        }
        let got = fetch(&fx, "jobs", "g", "c", 1).await;
        fetches += 1;
        ack_all(&fx, &got).await;
        if n_of(&got[0]) == 0 {
            break;
        }
        assert!(
            fetches <= bound as usize + 3,
            "low-priority message not delivered within {} fetches",
            bound + 3
        );
    }
    assert!(fetches >= 2, "critical work should go first ({fetches})");
}

pub async fn replay_from_offset_and_time(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "jobs", &["g"]).await;
    publish_jobs(&fx, "jobs", 0..5).await;
    fx.clock.advance(Duration::from_secs(100));
    publish_jobs(&fx, "jobs", 5..8).await;
    // Consuming and acking does not stop replay.
    let ds = fetch(&fx, "jobs", "g", "c", 100).await;
    ack_all(&fx, &ds).await;

    let from3 = fx
        .bus
        .read(&topic("jobs"), ReadFrom::Offset(3), 100)
        .await
        .unwrap();
    assert_eq!(
        from3.iter().map(|s| s.offset).collect::<Vec<_>>(),
        vec![3, 4, 5, 6, 7]
    );
    assert_eq!(n_of_env(&from3[0].envelope), 3);
    let limited = fx
        .bus
        .read(&topic("jobs"), ReadFrom::Offset(0), 2)
        .await
        .unwrap();
    assert_eq!(limited.len(), 2);
    let since = Utc.timestamp_millis_opt((T0 + 50_000) as i64).unwrap();
    let later = fx
        .bus
        .read(&topic("jobs"), ReadFrom::Time(since), 100)
        .await
        .unwrap();
    assert_eq!(
        later
            .iter()
            .map(|s| n_of_env(&s.envelope))
            .collect::<Vec<_>>(),
        vec![5, 6, 7]
    );
    assert!(later.iter().all(|s| s.published_ms == T0 + 100_000));
    let err = fx
        .bus
        .read(&topic("absent"), ReadFrom::Offset(0), 1)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
}

pub async fn in_flight_is_bounded_per_consumer(b: &dyn Backend) {
    let fx = open_with(b, |o| o.max_in_flight_per_consumer = 3).await;
    setup(&fx, "jobs", &["g"]).await;
    publish_jobs(&fx, "jobs", 0..10).await;
    let a = fetch(&fx, "jobs", "g", "slow", 100).await;
    assert_eq!(a.len(), 3);
    assert!(
        fetch(&fx, "jobs", "g", "slow", 100).await.is_empty(),
        "slow consumer is full"
    );
    // Another consumer is not held back by the slow one.
    assert_eq!(fetch(&fx, "jobs", "g", "fast", 2).await.len(), 2);
    ack_all(&fx, &a[..1]).await;
    assert_eq!(fetch(&fx, "jobs", "g", "slow", 100).await.len(), 1);
    let info = stats(&fx, "jobs").await;
    assert_eq!(info.groups[0].in_flight, 5);
    assert_eq!(info.groups[0].consumers, 2);
}

pub async fn publishers_get_back_pressure_from_a_full_backlog(b: &dyn Backend) {
    let fx = open_with(b, |o| {
        o.max_backlog = 4;
        o.publish_timeout = Duration::ZERO;
    })
    .await;
    setup(&fx, "jobs", &["g"]).await;
    publish_jobs(&fx, "jobs", 0..4).await;
    let err = fx.bus.publish(&topic("jobs"), job(4)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Overloaded);
    assert!(err.is_retryable());
    // A batch that does not fit is refused whole.
    let ds = fetch(&fx, "jobs", "g", "c", 1).await;
    ack_all(&fx, &ds).await;
    let err = fx
        .bus
        .publish_batch(&topic("jobs"), vec![job(5), job(6)])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Overloaded);
    // Room for one: it goes in, and nothing of the refused batch was stored.
    fx.bus.publish(&topic("jobs"), job(7)).await.unwrap();
    let rest: Vec<u64> = fetch(&fx, "jobs", "g", "c", 100)
        .await
        .iter()
        .map(n_of)
        .collect();
    assert_eq!(rest, vec![1, 2, 3, 7]);
}

pub async fn undecodable_payload_is_dead_lettered_without_blocking(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "jobs", &["g"]).await;
    let mut bad = job(0);
    bad.payload = Payload::from_json_text("test.job", 1, r#"{"n":"not a number"}"#).unwrap();
    fx.bus.publish(&topic("jobs"), bad).await.unwrap();
    publish_jobs(&fx, "jobs", 1..3).await;
    let mut decoded = Vec::new();
    for d in fetch(&fx, "jobs", "g", "c", 10).await {
        if let Some(t) = decode_or_reject::<Job>(fx.bus.as_ref(), d).await.unwrap() {
            decoded.push(t.message.n);
            fx.bus.ack(&[t.delivery.receipt()]).await.unwrap();
        }
    }
    assert_eq!(decoded, vec![1, 2]);
    let dead = fx.bus.dead_letters(&DlqFilter::default()).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, DeadReason::Rejected);
    let err = dead[0].last_error.as_ref().unwrap();
    assert_eq!(err.code(), ErrorCode::Decode);
    assert!(err.to_string().contains("field `n`"), "{err}");
    fx.clock.advance(Duration::from_secs(3600));
    assert!(fetch(&fx, "jobs", "g", "c", 10).await.is_empty());
}

pub async fn fetch_waits_for_a_publish(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "jobs", &["g"]).await;
    let bus = Arc::clone(&fx.bus);
    let waiter = tokio::spawn(async move {
        bus.fetch(
            &topic("jobs"),
            &group("g"),
            &agent("c"),
            10,
            Duration::from_secs(60),
        )
        .await
        .unwrap()
    });
    // Publish only once the fetch is waiting (it registers as a consumer when it first looks).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stats(&fx, "jobs").await.groups[0].consumers == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "fetch never started"
        );
        tokio::task::yield_now().await;
    }
    publish_jobs(&fx, "jobs", 0..1).await;
    let got = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("fetch woke up on publish")
        .unwrap();
    assert_eq!(got.len(), 1);
}

pub async fn oversize_envelope_is_refused(b: &dyn Backend) {
    let fx = open_with(b, |o| o.limits.max_payload_bytes = 100).await;
    setup(&fx, "jobs", &["g"]).await;
    let mut big = job(0);
    big.payload = Payload::from_json_text("blob", 1, format!("\"{}\"", "x".repeat(200))).unwrap();
    let err = fx.bus.publish(&topic("jobs"), big).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Oversize);
    assert!(err.to_string().contains("payload.data"), "{err}");
    assert_eq!(stats(&fx, "jobs").await.counters.published, 0);
}

/// Control registers: unset reads `None`, a set value is read back with its time, a second set
/// replaces it, clearing removes it; keys are independent.
pub async fn control_registers_set_read_and_clear(b: &dyn Backend) {
    let fx = open(b).await;
    assert_eq!(fx.bus.control("halt").await.unwrap(), None);
    fx.bus
        .set_control("halt", Some("{\"reason\":\"test\"}".into()))
        .await
        .unwrap();
    fx.bus.set_control("other", Some("1".into())).await.unwrap();
    let got = fx.bus.control("halt").await.unwrap().expect("set");
    assert_eq!(got.value, "{\"reason\":\"test\"}");
    assert_eq!(got.updated_ms, T0);
    fx.clock.advance(Duration::from_millis(5));
    fx.bus.set_control("halt", Some("2".into())).await.unwrap();
    let got = fx.bus.control("halt").await.unwrap().expect("set");
    assert_eq!((got.value.as_str(), got.updated_ms), ("2", T0 + 5));
    fx.bus.set_control("halt", None).await.unwrap();
    assert_eq!(fx.bus.control("halt").await.unwrap(), None);
    assert_eq!(
        fx.bus.control("other").await.unwrap().map(|c| c.value),
        Some("1".into())
    );
}

/// `stream_info` returns what `streams` lists for that stream, and `None` for an unknown one.
pub async fn stream_info_describes_one_stream(b: &dyn Backend) {
    let fx = open(b).await;
    setup(&fx, "jobs", &["g"]).await;
    publish_jobs(&fx, "jobs", 0..3).await;
    let one = fx
        .bus
        .stream_info(&topic("jobs"))
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(one, stats(&fx, "jobs").await);
    assert_eq!(one.groups[0].backlog(), 3);
    assert_eq!(fx.bus.stream_info(&topic("nope")).await.unwrap(), None);
}
