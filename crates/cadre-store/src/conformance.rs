//! The conformance suite: one set of tests every event store backend must pass.
//!
//! A backend provides a [`Backend`] that opens a fresh, empty store; the
//! [`conformance_tests!`](crate::conformance_tests) macro expands to one `#[tokio::test]` per
//! case.
//!
//! ```text
//! struct Sqlite;
//! impl cadre_store::conformance::Backend for Sqlite { ... }
//! cadre_store::conformance_tests!(sqlite, Sqlite);
//! ```
#![allow(missing_docs, clippy::missing_panics_doc)]

use std::any::Any;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use cadre_bus::{Bus, BusOptions, MemoryBus, StartFrom};
use cadre_core::{
    AgentId, ConversationId, Error, ErrorCode, Group, Message, Payload, Topic, TraceId,
};
use serde::{Deserialize, Serialize};

use crate::{
    Aggregate, Direction, EventId, EventMetadata, EventStore, ExpectedVersion, NewEvent,
    OutboxRelay, RecordedEvent, Repository, StreamId,
};

/// A future that opens a store.
pub type OpenFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Opened, Error>> + Send + 'static>>;

/// An open store and whatever must live as long as it (a temporary directory).
pub struct Opened {
    pub store: Arc<dyn EventStore>,
    pub keep: Box<dyn Any + Send>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("backend", &self.store.backend())
            .finish()
    }
}

/// Opens fresh, empty stores of one backend.
pub trait Backend: Send + Sync + 'static {
    fn open(&self) -> OpenFuture;

    /// Why this machine cannot run the backend's tests (say, no server is configured), or
    /// `None` to run them. A skipped case prints one line to stderr and passes.
    fn skip_reason(&self) -> Option<String> {
        None
    }
}

/// Whether `case` is skipped on `backend`; says so (and why) on stderr when it is.
#[allow(clippy::print_stderr)]
pub fn skipped(backend: &dyn Backend, case: &str) -> bool {
    match backend.skip_reason() {
        Some(why) => {
            eprintln!("skipped conformance case `{case}`: {why}");
            true
        }
        None => false,
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
                versions_start_at_one_and_batches_are_consecutive,
                expected_version_conflicts,
                batches_are_atomic,
                read_forward_and_backward_with_bounds,
                global_feed_orders_events_across_streams,
                snapshots_keep_the_latest,
                reappending_the_same_event_ids_is_idempotent,
                bad_input_is_rejected,
                large_payloads_round_trip,
                metadata_round_trips,
                racing_writers_conflict_without_gaps,
                aggregate_from_snapshot_equals_from_all_events,
                outbox_publishes_each_event_exactly_once,
            );
        }
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if $crate::conformance::skipped(&$backend, stringify!($case)) {
                    return;
                }
                $crate::conformance::$case(&$backend).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Fixtures

struct Fx {
    store: Arc<dyn EventStore>,
    _keep: Box<dyn Any + Send>,
}

async fn open(backend: &dyn Backend) -> Fx {
    let opened = backend.open().await.expect("open store");
    Fx {
        store: opened.store,
        _keep: opened.keep,
    }
}

fn s(name: &str) -> StreamId {
    StreamId::new(name).unwrap()
}

fn ev(n: u64) -> NewEvent {
    NewEvent::new(Payload::from_json_text("test.n", 1, n.to_string()).unwrap())
}

fn evs(range: std::ops::Range<u64>) -> Vec<NewEvent> {
    range.map(ev).collect()
}

fn n(e: &RecordedEvent) -> u64 {
    e.payload.json().parse().unwrap()
}

fn ns(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(n).collect()
}

fn versions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.version).collect()
}

// ---------------------------------------------------------------------------------------------
// Cases

pub async fn versions_start_at_one_and_batches_are_consecutive(b: &dyn Backend) {
    let fx = open(b).await;
    let st = s("orders-1");
    assert_eq!(fx.store.stream_version(&st).await.unwrap(), None);
    let first = fx
        .store
        .append(&st, ExpectedVersion::NoStream, evs(0..3))
        .await
        .unwrap();
    assert_eq!(first.first_version(), 1);
    assert_eq!(first.last_version(), 3);
    assert_eq!(first.stream_version, 3);
    assert!(!first.already_stored);
    let second = fx
        .store
        .append(&st, ExpectedVersion::Exact(3), evs(3..5))
        .await
        .unwrap();
    assert_eq!(
        second
            .positions
            .iter()
            .map(|p| p.version)
            .collect::<Vec<_>>(),
        vec![4, 5]
    );
    assert!(second.positions[0].global_position > first.positions[2].global_position);
    assert_eq!(fx.store.stream_version(&st).await.unwrap(), Some(5));
    let all = fx
        .store
        .read(&st, 1, 100, Direction::Forward)
        .await
        .unwrap();
    assert_eq!(versions(&all), vec![1, 2, 3, 4, 5]);
    assert_eq!(ns(&all), vec![0, 1, 2, 3, 4]);
    assert!(
        all.iter()
            .all(|e| e.stream == st && e.event_type == "test.n")
    );
    let now = chrono::Utc::now();
    assert!(
        all.iter()
            .all(|e| (now - e.recorded_at).num_seconds().abs() < 60)
    );
}

pub async fn expected_version_conflicts(b: &dyn Backend) {
    let fx = open(b).await;
    let st = s("acct-1");
    // Exact on a missing stream.
    let err = fx
        .store
        .append(&st, ExpectedVersion::Exact(2), evs(0..1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(err.to_string().contains("`acct-1`"), "{err}");
    assert!(err.to_string().contains("version 2"), "{err}");
    assert!(err.to_string().contains("no stream"), "{err}");
    // NoStream creates it; Exact(0) means the same.
    fx.store
        .append(&st, ExpectedVersion::NoStream, evs(0..2))
        .await
        .unwrap();
    let err = fx
        .store
        .append(&st, ExpectedVersion::NoStream, evs(2..3))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(err.to_string().contains("no stream"), "{err}");
    assert!(err.to_string().contains("version 2"), "{err}");
    let err = fx
        .store
        .append(&st, ExpectedVersion::Exact(0), evs(2..3))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(!err.is_retryable());
    fx.store
        .append(&s("acct-2"), ExpectedVersion::Exact(0), evs(0..1))
        .await
        .unwrap();
    // Exact, stale and ahead.
    for wrong in [1, 3] {
        let err = fx
            .store
            .append(&st, ExpectedVersion::Exact(wrong), evs(2..3))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict);
        assert!(
            err.to_string()
                .contains(&format!("expected version {wrong}")),
            "{err}"
        );
        assert!(err.to_string().contains("at version 2"), "{err}");
    }
    fx.store
        .append(&st, ExpectedVersion::Exact(2), evs(2..3))
        .await
        .unwrap();
    // Any never conflicts.
    let done = fx
        .store
        .append(&st, ExpectedVersion::Any, evs(3..4))
        .await
        .unwrap();
    assert_eq!(done.stream_version, 4);
    let any_new = fx
        .store
        .append(&s("acct-3"), ExpectedVersion::Any, evs(0..1))
        .await
        .unwrap();
    assert_eq!(any_new.stream_version, 1);
    // Nothing of the failed appends was stored.
    let all = fx
        .store
        .read(&st, 1, 100, Direction::Forward)
        .await
        .unwrap();
    assert_eq!(ns(&all), vec![0, 1, 2, 3]);
}

pub async fn batches_are_atomic(b: &dyn Backend) {
    let fx = open(b).await;
    let taken = ev(99);
    fx.store
        .append(&s("other"), ExpectedVersion::Any, vec![taken.clone()])
        .await
        .unwrap();
    let st = s("batch");
    fx.store
        .append(&st, ExpectedVersion::Any, evs(0..2))
        .await
        .unwrap();
    let feed_before = fx.store.read_all(1, 1000).await.unwrap();
    // The last event's id is stored in another stream: the whole batch fails.
    let mut batch = evs(2..5);
    batch.push(taken.clone());
    let err = fx
        .store
        .append(&st, ExpectedVersion::Exact(2), batch)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(err.to_string().contains(&taken.id.to_string()), "{err}");
    // An invalid event in the middle: the whole batch fails.
    let mut batch = evs(2..5);
    batch.insert(1, ev(7).with_type(""));
    let err = fx
        .store
        .append(&st, ExpectedVersion::Exact(2), batch)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    // A batch repeating an id.
    let dup = ev(8);
    let err = fx
        .store
        .append(&st, ExpectedVersion::Exact(2), vec![dup.clone(), dup])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    assert_eq!(fx.store.stream_version(&st).await.unwrap(), Some(2));
    assert_eq!(fx.store.read_all(1, 1000).await.unwrap(), feed_before);
    assert_eq!(
        fx.store.outbox_pending(1000).await.unwrap().len(),
        feed_before.len()
    );
    // The stream still takes the right batch, all of it.
    let done = fx
        .store
        .append(&st, ExpectedVersion::Exact(2), evs(2..5))
        .await
        .unwrap();
    assert_eq!(done.stream_version, 5);
    let all = fx
        .store
        .read(&st, 1, 100, Direction::Forward)
        .await
        .unwrap();
    assert_eq!(ns(&all), vec![0, 1, 2, 3, 4]);
}

pub async fn read_forward_and_backward_with_bounds(b: &dyn Backend) {
    let fx = open(b).await;
    let st = s("read-me");
    fx.store
        .append(&st, ExpectedVersion::NoStream, evs(1..11))
        .await
        .unwrap();
    let read = |from, max, dir| {
        let store = Arc::clone(&fx.store);
        let st = st.clone();
        async move { versions(&store.read(&st, from, max, dir).await.unwrap()) }
    };
    assert_eq!(read(1, 3, Direction::Forward).await, vec![1, 2, 3]);
    assert_eq!(read(8, 100, Direction::Forward).await, vec![8, 9, 10]);
    assert_eq!(read(0, 2, Direction::Forward).await, vec![1, 2]);
    assert_eq!(read(11, 10, Direction::Forward).await, Vec::<u64>::new());
    assert_eq!(
        read(u64::MAX, 10, Direction::Forward).await,
        Vec::<u64>::new()
    );
    assert_eq!(read(10, 3, Direction::Backward).await, vec![10, 9, 8]);
    assert_eq!(read(u64::MAX, 2, Direction::Backward).await, vec![10, 9]);
    assert_eq!(read(3, 100, Direction::Backward).await, vec![3, 2, 1]);
    assert_eq!(read(0, 10, Direction::Backward).await, Vec::<u64>::new());
    assert_eq!(read(5, 0, Direction::Forward).await, Vec::<u64>::new());
    assert_eq!(read(1, usize::MAX, Direction::Forward).await.len(), 10);
    // Payloads follow versions.
    let back = fx
        .store
        .read(&st, 10, 2, Direction::Backward)
        .await
        .unwrap();
    assert_eq!(ns(&back), vec![10, 9]);
    // A missing stream reads as empty.
    assert!(
        fx.store
            .read(&s("nothing-here"), 1, 10, Direction::Forward)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn global_feed_orders_events_across_streams(b: &dyn Backend) {
    let fx = open(b).await;
    let (a, c) = (s("feed-a"), s("feed-c"));
    fx.store
        .append(&a, ExpectedVersion::Any, evs(0..2))
        .await
        .unwrap();
    fx.store
        .append(&c, ExpectedVersion::Any, evs(2..3))
        .await
        .unwrap();
    fx.store
        .append(&a, ExpectedVersion::Any, evs(3..5))
        .await
        .unwrap();
    fx.store
        .append(&c, ExpectedVersion::Any, evs(5..6))
        .await
        .unwrap();
    let feed = fx.store.read_all(0, 100).await.unwrap();
    assert_eq!(ns(&feed), vec![0, 1, 2, 3, 4, 5]);
    let streams: Vec<&str> = feed.iter().map(|e| e.stream.as_str()).collect();
    assert_eq!(
        streams,
        ["feed-a", "feed-a", "feed-c", "feed-a", "feed-a", "feed-c"]
    );
    assert_eq!(versions(&feed), vec![1, 2, 1, 3, 4, 2]);
    assert!(
        feed.windows(2)
            .all(|w| w[0].global_position < w[1].global_position)
    );
    assert!(feed[0].global_position >= 1);
    // Paging by position sees every event once.
    let mut paged = Vec::new();
    let mut from = 1;
    loop {
        let page = fx.store.read_all(from, 4).await.unwrap();
        if page.is_empty() {
            break;
        }
        from = page.last().unwrap().global_position + 1;
        paged.extend(page);
    }
    assert_eq!(paged, feed);
    let tail = fx
        .store
        .read_all(feed[3].global_position, 100)
        .await
        .unwrap();
    assert_eq!(ns(&tail), vec![3, 4, 5]);
    assert!(
        fx.store
            .read_all(feed[5].global_position + 1, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Concurrent appends to many streams still give one strictly ordered feed.
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let store = Arc::clone(&fx.store);
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                store
                    .append(&s(&format!("par-{t}")), ExpectedVersion::Any, evs(i..i + 1))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let feed = fx.store.read_all(1, 1000).await.unwrap();
    assert_eq!(feed.len(), 86);
    assert!(
        feed.windows(2)
            .all(|w| w[0].global_position < w[1].global_position)
    );
    for t in 0..8 {
        let name = format!("par-{t}");
        let vs: Vec<u64> = feed
            .iter()
            .filter(|e| e.stream.as_str() == name)
            .map(|e| e.version)
            .collect();
        assert_eq!(vs, (1..=10).collect::<Vec<_>>());
    }
}

pub async fn snapshots_keep_the_latest(b: &dyn Backend) {
    let fx = open(b).await;
    let st = s("snap");
    assert_eq!(fx.store.load_snapshot(&st).await.unwrap(), None);
    let state =
        |v: u64| Payload::from_json_text("test.state", 1, format!("{{\"v\":{v}}}")).unwrap();
    // No snapshot of a stream that has no such version.
    let err = fx.store.save_snapshot(&st, 1, state(1)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    fx.store
        .append(&st, ExpectedVersion::Any, evs(0..5))
        .await
        .unwrap();
    for bad in [0, 6] {
        let err = fx
            .store
            .save_snapshot(&st, bad, state(bad))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput);
    }
    fx.store.save_snapshot(&st, 3, state(3)).await.unwrap();
    assert_eq!(
        fx.store.load_snapshot(&st).await.unwrap(),
        Some((3, state(3)))
    );
    fx.store.save_snapshot(&st, 5, state(5)).await.unwrap();
    // An older snapshot does not replace a newer one.
    fx.store.save_snapshot(&st, 4, state(4)).await.unwrap();
    let (v, p) = fx.store.load_snapshot(&st).await.unwrap().unwrap();
    assert_eq!(v, 5);
    assert_eq!(p, state(5));
    assert_eq!(p.type_name(), "test.state");
    // Snapshots are per stream.
    assert_eq!(
        fx.store.load_snapshot(&s("snap-other")).await.unwrap(),
        None
    );
}

pub async fn reappending_the_same_event_ids_is_idempotent(b: &dyn Backend) {
    let fx = open(b).await;
    let st = s("idem");
    let batch = evs(0..3);
    let first = fx
        .store
        .append(&st, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    fx.store
        .append(&st, ExpectedVersion::Exact(3), evs(3..4))
        .await
        .unwrap();
    // The retry (with its now stale expected version) returns the original positions.
    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Any,
        ExpectedVersion::Exact(4),
    ] {
        let again = fx.store.append(&st, expected, batch.clone()).await.unwrap();
        assert!(again.already_stored);
        assert_eq!(again.positions, first.positions);
        assert_eq!(again.stream_version, 4);
    }
    // Single events and a sub-batch are idempotent too.
    let one = fx
        .store
        .append(&st, ExpectedVersion::Any, vec![batch[1].clone()])
        .await
        .unwrap();
    assert_eq!(one.positions, vec![first.positions[1]]);
    assert_eq!(fx.store.stream_version(&st).await.unwrap(), Some(4));
    assert_eq!(fx.store.read_all(1, 100).await.unwrap().len(), 4);
    // A caller-supplied id works the same.
    let id = EventId::from_uuid(uuid::Uuid::from_u128(
        0x0190_0000_0000_7000_8000_0000_0000_0001,
    ));
    let r1 = fx
        .store
        .append(&st, ExpectedVersion::Any, vec![ev(9).with_id(id)])
        .await
        .unwrap();
    let r2 = fx
        .store
        .append(&st, ExpectedVersion::Any, vec![ev(9).with_id(id)])
        .await
        .unwrap();
    assert_eq!(r1.positions, r2.positions);
    assert!(r2.already_stored);
    // A batch that mixes stored and new events is a conflict and stores nothing.
    let mut mixed = vec![batch[0].clone()];
    mixed.push(ev(10));
    let err = fx
        .store
        .append(&st, ExpectedVersion::Any, mixed)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(err.to_string().contains(&batch[0].id.to_string()), "{err}");
    // The same ids in another stream conflict.
    let err = fx
        .store
        .append(&s("idem-other"), ExpectedVersion::Any, batch.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(err.to_string().contains("another stream"), "{err}");
    assert_eq!(fx.store.stream_version(&st).await.unwrap(), Some(5));
    assert_eq!(
        fx.store.stream_version(&s("idem-other")).await.unwrap(),
        None
    );
    // Each event is in the outbox once.
    assert_eq!(fx.store.outbox_pending(100).await.unwrap().len(), 5);
}

pub async fn bad_input_is_rejected(b: &dyn Backend) {
    let fx = open(b).await;
    for bad in [
        "",
        "has space",
        "tab\t",
        "ünï",
        "semi;colon",
        "quote'",
        &"x".repeat(256),
    ] {
        let err = StreamId::new(bad).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput, "{bad:?}");
        assert!(err.to_string().contains("invalid stream id"), "{err}");
        assert!(serde_json::from_value::<StreamId>(serde_json::json!(bad)).is_err());
    }
    let st = s("ok_name:with/all.the-chars@1");
    fx.store
        .append(&st, ExpectedVersion::Any, evs(0..1))
        .await
        .unwrap();
    assert_eq!(
        fx.store.read(&st, 1, 1, Direction::Forward).await.unwrap()[0].stream,
        st
    );
    let err = fx
        .store
        .append(&st, ExpectedVersion::Any, Vec::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    for bad_type in [String::new(), "t".repeat(256)] {
        let err = fx
            .store
            .append(&st, ExpectedVersion::Any, vec![ev(1).with_type(bad_type)])
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput);
    }
    assert_eq!(fx.store.stream_version(&st).await.unwrap(), Some(1));
}

pub async fn large_payloads_round_trip(b: &dyn Backend) {
    let fx = open(b).await;
    let st = s("big");
    let text: String = "αβγ-\"quoted\"-\\-\u{1F600}-".repeat(200_000);
    let json = serde_json::to_string(&serde_json::json!({ "text": text, "n": [1, 2, 3] })).unwrap();
    assert!(json.len() > 4 * 1024 * 1024);
    let payload = Payload::from_json_text("test.big", 3, json.clone()).unwrap();
    let event = NewEvent::new(payload.clone()).with_type("big.blob");
    fx.store
        .append(&st, ExpectedVersion::Any, vec![event.clone()])
        .await
        .unwrap();
    let back = fx.store.read(&st, 1, 1, Direction::Forward).await.unwrap();
    assert_eq!(back[0].payload, payload);
    assert_eq!(back[0].payload.json(), json);
    assert_eq!(back[0].payload.version(), 3);
    assert_eq!(back[0].id, event.id);
    fx.store
        .save_snapshot(&st, 1, payload.clone())
        .await
        .unwrap();
    assert_eq!(
        fx.store.load_snapshot(&st).await.unwrap().unwrap().1,
        payload
    );
    // Typed local payloads are stored as their JSON.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Typed {
        name: String,
        values: Vec<f64>,
    }
    impl Message for Typed {
        const TYPE: &'static str = "test.typed";
        const VERSION: u32 = 2;
    }
    let typed = Typed {
        name: "ünïcode ✓".into(),
        values: vec![1.5, -2.25, 1e300],
    };
    fx.store
        .append(
            &st,
            ExpectedVersion::Exact(1),
            vec![NewEvent::new(Payload::local(typed.clone()))],
        )
        .await
        .unwrap();
    let back = fx.store.read(&st, 2, 1, Direction::Forward).await.unwrap();
    assert_eq!(back[0].event_type, "test.typed");
    assert_eq!(back[0].payload.decode::<Typed>().unwrap(), typed);
}

pub async fn metadata_round_trips(b: &dyn Backend) {
    let fx = open(b).await;
    let st = s("meta");
    let meta = EventMetadata {
        conversation_id: Some(ConversationId::new()),
        trace_id: Some(TraceId::new()),
        agent: Some(AgentId::new("pricing-1").unwrap()),
    };
    fx.store
        .append(
            &st,
            ExpectedVersion::Any,
            vec![ev(1).with_metadata(meta.clone()), ev(2)],
        )
        .await
        .unwrap();
    let back = fx.store.read(&st, 1, 10, Direction::Forward).await.unwrap();
    assert_eq!(back[0].metadata, meta);
    assert_eq!(back[1].metadata, EventMetadata::default());
}

pub async fn racing_writers_conflict_without_gaps(b: &dyn Backend) {
    let fx = open(b).await;
    let st = s("race");
    // Eight writers each try to append 20 events, re-reading the version on conflict.
    let mut tasks = Vec::new();
    for w in 0..8u64 {
        let store = Arc::clone(&fx.store);
        let st = st.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0u64;
            for i in 0..20 {
                loop {
                    let v = store.stream_version(&st).await.unwrap().unwrap_or(0);
                    match store
                        .append(&st, ExpectedVersion::Exact(v), vec![ev(w * 100 + i)])
                        .await
                    {
                        Ok(done) => {
                            assert_eq!(done.stream_version, v + 1);
                            break;
                        }
                        Err(e) => {
                            assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
                            conflicts += 1;
                        }
                    }
                }
            }
            conflicts
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let all = fx
        .store
        .read(&st, 1, 1000, Direction::Forward)
        .await
        .unwrap();
    assert_eq!(versions(&all), (1..=160).collect::<Vec<_>>());
    let distinct: HashSet<u64> = ns(&all).into_iter().collect();
    assert_eq!(distinct.len(), 160);
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub count: u64,
    pub sum: u64,
    pub last: u64,
}

impl Message for Tally {
    const TYPE: &'static str = "test.tally";
}

#[derive(Debug)]
pub struct Counter;

impl Aggregate for Counter {
    type State = Tally;
    const SNAPSHOT_EVERY: u64 = 10;

    fn apply(mut state: Tally, event: &RecordedEvent) -> Result<Tally, Error> {
        let v: u64 = event
            .payload
            .json()
            .parse()
            .map_err(|e| Error::invalid_input(format!("not a number: {e}")))?;
        state.count += 1;
        state.sum += v;
        state.last = v;
        Ok(state)
    }
}

pub async fn aggregate_from_snapshot_equals_from_all_events(b: &dyn Backend) {
    let fx = open(b).await;
    let repo: Repository<Counter> = Repository::new(Arc::clone(&fx.store));
    let st = s("counter-1");
    assert_eq!(repo.load(&st).await.unwrap(), (Tally::default(), 0));
    let mut version = 0;
    // Batches of 3: versions 3, 6, 9, 12 (crosses 10: snapshot), ..., 33 (snapshots at 12, 21, 30).
    for batch in 0..11u64 {
        let done = repo
            .save(
                &st,
                ExpectedVersion::Exact(version),
                evs(batch * 3..batch * 3 + 3),
            )
            .await
            .unwrap();
        version = done.stream_version;
    }
    assert_eq!(version, 33);
    let (snap_version, snap) = fx
        .store
        .load_snapshot(&st)
        .await
        .unwrap()
        .expect("a snapshot");
    assert_eq!(snap_version, 30);
    assert_eq!(snap.decode::<Tally>().unwrap().count, 30);
    let from_snapshot = repo.load(&st).await.unwrap();
    let from_events = repo.load_from_events(&st).await.unwrap();
    assert_eq!(from_snapshot, from_events);
    assert_eq!(
        from_events,
        (
            Tally {
                count: 33,
                sum: (0..33).sum(),
                last: 32
            },
            33
        )
    );
    // A conflict from the repository is the store's.
    let err = repo
        .save(&st, ExpectedVersion::Exact(5), evs(0..1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    // A snapshot of another type is ignored, not fatal.
    fx.store
        .save_snapshot(
            &st,
            33,
            Payload::from_json_text("test.other", 1, "{}").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(repo.load(&st).await.unwrap(), from_events);
    // An event apply rejects is reported with where it is.
    fx.store
        .append(
            &st,
            ExpectedVersion::Any,
            vec![NewEvent::new(
                Payload::from_json_text("test.n", 1, "\"x\"").unwrap(),
            )],
        )
        .await
        .unwrap();
    let err = repo.load(&st).await.unwrap_err();
    assert!(err.to_string().contains("version 34"), "{err}");
}

pub async fn outbox_publishes_each_event_exactly_once(b: &dyn Backend) {
    let fx = open(b).await;
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new(BusOptions::default()));
    let topic = Topic::new("store.events").unwrap();
    let group = Group::new("audit").unwrap();
    bus.create_group(&topic, &group, StartFrom::Earliest)
        .await
        .unwrap();
    let mut appended = Vec::new();
    for (stream, range) in [("ob-a", 0..3), ("ob-b", 3..5), ("ob-a", 5..8)] {
        let done = fx
            .store
            .append(&s(stream), ExpectedVersion::Any, evs(range))
            .await
            .unwrap();
        appended.extend(done.positions.iter().map(|p| p.id));
    }
    assert_eq!(fx.store.outbox_pending(100).await.unwrap().len(), 8);

    // A relay publishes the first five events and stops before marking them sent.
    let crashed =
        OutboxRelay::new(Arc::clone(&fx.store), Arc::clone(&bus), topic.clone()).with_batch_size(5);
    let (positions, stats) = crashed.publish_pending().await.unwrap();
    assert_eq!(positions.len(), 5);
    assert_eq!(stats.published, 5);
    drop(crashed);
    assert_eq!(fx.store.outbox_pending(100).await.unwrap().len(), 8);

    // The restarted relay publishes everything pending: the bus drops the five copies.
    let relay = OutboxRelay::new(Arc::clone(&fx.store), Arc::clone(&bus), topic.clone());
    let stats = relay.run_once().await.unwrap();
    assert_eq!(stats.duplicates, 5);
    assert_eq!(stats.published, 3);
    assert!(fx.store.outbox_pending(100).await.unwrap().is_empty());
    assert_eq!(relay.run_once().await.unwrap().total(), 0);

    // Later events go out once too, through the background loop.
    let later = fx
        .store
        .append(&s("ob-b"), ExpectedVersion::Exact(2), evs(8..10))
        .await
        .unwrap();
    appended.extend(later.positions.iter().map(|p| p.id));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(
        relay
            .clone()
            .with_poll_interval(Duration::from_millis(5))
            .run(async move {
                let _ = stop_rx.await;
            }),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !fx.store.outbox_pending(1).await.unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "relay did not drain"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stop_tx.send(());
    running.await.unwrap();

    let consumer = AgentId::new("auditor").unwrap();
    let got = bus
        .fetch(&topic, &group, &consumer, 1000, Duration::ZERO)
        .await
        .unwrap();
    let ids: Vec<String> = got.iter().map(|d| d.envelope().id.to_string()).collect();
    let want: Vec<String> = appended.iter().map(ToString::to_string).collect();
    assert_eq!(ids, want, "each event once, in append order");
    let env = got[0].envelope();
    assert_eq!(env.meta.idempotency_key.as_deref(), Some(want[0].as_str()));
    assert_eq!(env.payload.json(), "0");
    assert_eq!(env.sender.as_str(), crate::RELAY_SENDER);
}
