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
    Aggregate, Direction, EventId, EventMetadata, EventQuery, EventStore, ExpectedVersion,
    NewEvent, OutboxRelay, RecordedEvent, Repository, StreamId, StreamSummary,
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
                unpublished_events_skip_the_outbox,
                list_streams_in_byte_order_by_prefix_and_page,
                deleting_a_stream_removes_its_events_snapshot_and_outbox_entries,
                deletes_racing_appends_leave_whole_streams,
                query_filters_by_metadata_time_stream_and_type,
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

pub async fn unpublished_events_skip_the_outbox(b: &dyn Backend) {
    let fx = open(b).await;
    let mixed = vec![ev(1).unpublished(), ev(2), ev(3).unpublished()];
    let done = fx
        .store
        .append(&s("quiet"), ExpectedVersion::NoStream, mixed)
        .await
        .unwrap();
    assert_eq!(done.stream_version, 3);
    let pending = fx.store.outbox_pending(100).await.unwrap();
    assert_eq!(ns(&pending), vec![2], "only the published event is queued");
    // Stored and read like any other.
    let read = fx
        .store
        .read(&s("quiet"), 1, 10, Direction::Forward)
        .await
        .unwrap();
    assert_eq!(ns(&read), vec![1, 2, 3]);
    fx.store
        .append(
            &s("quiet"),
            ExpectedVersion::Exact(3),
            vec![ev(4).unpublished()],
        )
        .await
        .unwrap();
    assert_eq!(fx.store.outbox_pending(100).await.unwrap().len(), 1);
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

fn names(list: &[StreamSummary]) -> Vec<&str> {
    list.iter().map(|l| l.stream.as_str()).collect()
}

pub async fn list_streams_in_byte_order_by_prefix_and_page(b: &dyn Backend) {
    let fx = open(b).await;
    // Byte order: `-` < `/` < digits < upper case < `_` < lower case. A case-insensitive or
    // locale collation, or a LIKE pattern (where `_` is a wildcard), orders or matches
    // these differently.
    let created = [
        "a-1", "a-10", "a-2", "a/x", "a_x", "ab", "B", "b", "a", "A-1",
    ];
    for (k, name) in created.iter().enumerate() {
        fx.store
            .append(&s(name), ExpectedVersion::NoStream, evs(0..k as u64 + 1))
            .await
            .unwrap();
    }
    let list = |prefix: &'static str, after: Option<&'static str>, max: usize| {
        let store = Arc::clone(&fx.store);
        async move {
            store
                .list_streams(prefix, after.map(s).as_ref(), max)
                .await
                .unwrap()
        }
    };
    let all = list("", None, 100).await;
    let mut sorted = created.to_vec();
    sorted.sort_unstable();
    assert_eq!(names(&all), sorted);
    assert_eq!(
        names(&all),
        [
            "A-1", "B", "a", "a-1", "a-10", "a-2", "a/x", "a_x", "ab", "b"
        ]
    );
    for summary in &all {
        let k = created
            .iter()
            .position(|n| *n == summary.stream.as_str())
            .unwrap();
        assert_eq!(summary.version, k as u64 + 1, "{summary:?}");
        let events = fx
            .store
            .read(&summary.stream, 1, 100, Direction::Forward)
            .await
            .unwrap();
        assert_eq!(summary.first_recorded_at, events[0].recorded_at);
        assert_eq!(summary.last_recorded_at, events.last().unwrap().recorded_at);
        assert!(summary.first_recorded_at <= summary.last_recorded_at);
    }
    // Prefixes.
    assert_eq!(names(&list("a-", None, 100).await), ["a-1", "a-10", "a-2"]);
    assert_eq!(names(&list("a_", None, 100).await), ["a_x"]);
    assert_eq!(
        names(&list("a", None, 100).await),
        ["a", "a-1", "a-10", "a-2", "a/x", "a_x", "ab"]
    );
    assert_eq!(names(&list("a-1", None, 100).await), ["a-1", "a-10"]);
    assert_eq!(names(&list("A", None, 100).await), ["A-1"]);
    assert!(list("zz", None, 100).await.is_empty());
    assert!(list("a-100", None, 100).await.is_empty());
    // Pages: strictly after `after`, which need not be a stream.
    assert_eq!(names(&list("a-", Some("a-1"), 100).await), ["a-10", "a-2"]);
    assert_eq!(
        names(&list("", Some("a-0"), 3).await),
        ["a-1", "a-10", "a-2"]
    );
    assert!(list("", Some("zz"), 100).await.is_empty());
    assert!(list("b", Some("b"), 100).await.is_empty());
    let mut paged = Vec::new();
    let mut after: Option<StreamId> = None;
    loop {
        let page = fx.store.list_streams("", after.as_ref(), 3).await.unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.stream.clone());
        paged.extend(page);
    }
    assert_eq!(paged, all);
    assert!(list("", None, 0).await.is_empty());
    assert_eq!(list("", None, usize::MAX).await, all);
    // A prefix no stream name can have.
    for bad in ["has space", "a%", "ü"] {
        let err = fx.store.list_streams(bad, None, 10).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput, "{bad:?}");
        assert!(err.to_string().contains("stream prefix"), "{err}");
    }
    // Summaries follow appends and deletes.
    let grown = fx
        .store
        .append(&s("a-1"), ExpectedVersion::Exact(1), evs(10..13))
        .await
        .unwrap();
    let now = list("a-1", None, 1).await;
    assert_eq!(now[0].version, grown.stream_version);
    assert_eq!(now[0].first_recorded_at, all[3].first_recorded_at);
    assert!(now[0].last_recorded_at >= all[3].last_recorded_at);
    assert_eq!(fx.store.delete_stream(&s("a-10")).await.unwrap(), 2);
    assert_eq!(names(&list("a-", None, 100).await), ["a-1", "a-2"]);
    assert_eq!(list("", None, 100).await.len(), 9);
}

pub async fn deleting_a_stream_removes_its_events_snapshot_and_outbox_entries(b: &dyn Backend) {
    let fx = open(b).await;
    let (keep, gone) = (s("del-keep"), s("del-gone"));
    fx.store
        .append(&keep, ExpectedVersion::NoStream, evs(0..2))
        .await
        .unwrap();
    // The stream to delete holds the newest events: their positions must not come back.
    let gone_batch = evs(2..5);
    let first = fx
        .store
        .append(&gone, ExpectedVersion::NoStream, gone_batch.clone())
        .await
        .unwrap();
    let state = Payload::from_json_text("test.state", 1, "{}").unwrap();
    fx.store
        .save_snapshot(&gone, 3, state.clone())
        .await
        .unwrap();
    fx.store
        .save_snapshot(&keep, 2, state.clone())
        .await
        .unwrap();
    fx.store
        .outbox_mark_sent(&[first.positions[0].global_position])
        .await
        .unwrap();
    assert_eq!(fx.store.outbox_pending(100).await.unwrap().len(), 4);
    let feed = fx.store.read_all(1, 100).await.unwrap();
    let newest = feed.last().unwrap().global_position;

    assert_eq!(fx.store.delete_stream(&gone).await.unwrap(), 3);
    assert!(
        fx.store
            .read(&gone, 1, 100, Direction::Forward)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        fx.store
            .read(&gone, u64::MAX, 100, Direction::Backward)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(fx.store.stream_version(&gone).await.unwrap(), None);
    assert_eq!(fx.store.load_snapshot(&gone).await.unwrap(), None);
    let pending = fx.store.outbox_pending(100).await.unwrap();
    assert!(pending.iter().all(|e| e.stream == keep), "{pending:?}");
    assert_eq!(pending.len(), 2);
    let left: Vec<RecordedEvent> = feed.iter().filter(|e| e.stream == keep).cloned().collect();
    assert_eq!(fx.store.read_all(1, 100).await.unwrap(), left);
    assert_eq!(
        names(&fx.store.list_streams("del-", None, 100).await.unwrap()),
        ["del-keep"]
    );
    let by_prefix = EventQuery::new().with_stream_prefix("del-gone");
    assert!(fx.store.query(&by_prefix, 1, 100).await.unwrap().is_empty());
    // The other stream is untouched.
    assert_eq!(fx.store.stream_version(&keep).await.unwrap(), Some(2));
    assert_eq!(
        fx.store.load_snapshot(&keep).await.unwrap(),
        Some((2, state.clone()))
    );
    // Deleting again, or a stream that never was, deletes nothing.
    assert_eq!(fx.store.delete_stream(&gone).await.unwrap(), 0);
    assert_eq!(fx.store.delete_stream(&s("never-was")).await.unwrap(), 0);

    // The name is free again: expectations see no stream, and a new stream starts at 1 with
    // positions after every deleted one.
    let err = fx
        .store
        .append(&gone, ExpectedVersion::Exact(3), evs(5..6))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(err.to_string().contains("no stream"), "{err}");
    let again = fx
        .store
        .append(&gone, ExpectedVersion::NoStream, evs(5..7))
        .await
        .unwrap();
    assert_eq!(again.first_version(), 1);
    assert_eq!(again.stream_version, 2);
    assert!(
        again.positions[0].global_position > newest,
        "position {} reused (deleted up to {newest})",
        again.positions[0].global_position
    );
    // The deleted events are gone, ids included: appending them again stores them anew.
    let readded = fx
        .store
        .append(&gone, ExpectedVersion::Exact(2), gone_batch)
        .await
        .unwrap();
    assert!(!readded.already_stored);
    assert_eq!(readded.first_version(), 3);
    assert_eq!(fx.store.load_snapshot(&gone).await.unwrap(), None);
    assert_eq!(
        ns(&fx
            .store
            .read(&gone, 1, 100, Direction::Forward)
            .await
            .unwrap()),
        vec![5, 6, 2, 3, 4]
    );
    assert_eq!(fx.store.outbox_pending(100).await.unwrap().len(), 7);

    // Emptying the store does not reset the positions either.
    let newest = readded.positions.last().unwrap().global_position;
    assert_eq!(fx.store.delete_stream(&gone).await.unwrap(), 5);
    assert_eq!(fx.store.delete_stream(&keep).await.unwrap(), 2);
    assert!(fx.store.read_all(1, 100).await.unwrap().is_empty());
    assert!(fx.store.outbox_pending(100).await.unwrap().is_empty());
    assert!(
        fx.store
            .list_streams("", None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let fresh = fx
        .store
        .append(&s("del-fresh"), ExpectedVersion::NoStream, evs(0..1))
        .await
        .unwrap();
    assert!(fresh.positions[0].global_position > newest);
    let fresh2 = fx
        .store
        .append(&s("del-fresh"), ExpectedVersion::Exact(1), evs(1..2))
        .await
        .unwrap();
    assert!(fresh2.positions[0].global_position > fresh.positions[0].global_position);
}

pub async fn deletes_racing_appends_leave_whole_streams(b: &dyn Backend) {
    let fx = open(b).await;
    let st = s("churn");
    let mut tasks = Vec::new();
    for t in 0..6u64 {
        let store = Arc::clone(&fx.store);
        let st = st.clone();
        tasks.push(tokio::spawn(async move {
            let mut deleted = 0;
            for i in 0..15 {
                if (t + i) % 5 == 0 {
                    deleted += store.delete_stream(&st).await.unwrap();
                } else {
                    let batch = vec![ev(t * 100 + i), ev(t * 100 + i + 50)];
                    store
                        .append(&st, ExpectedVersion::Any, batch)
                        .await
                        .unwrap();
                }
            }
            deleted
        }));
    }
    let mut deleted = 0;
    for t in tasks {
        deleted += t.await.unwrap();
    }
    let events = fx
        .store
        .read(&st, 1, 1000, Direction::Forward)
        .await
        .unwrap();
    let kept = events.len() as u64;
    // Whatever the interleaving: versions 1 to `kept`, batches whole, positions in version order.
    assert_eq!(versions(&events), (1..=kept).collect::<Vec<_>>());
    assert!(
        events
            .windows(2)
            .all(|w| w[0].global_position < w[1].global_position)
    );
    for pair in events.chunks(2) {
        assert_eq!(pair.len(), 2);
        assert_eq!(n(&pair[0]) + 50, n(&pair[1]));
    }
    assert_eq!(
        fx.store.stream_version(&st).await.unwrap(),
        (kept > 0).then_some(kept)
    );
    let listed = fx.store.list_streams("churn", None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|l| l.version).collect::<Vec<_>>(),
        if kept > 0 { vec![kept] } else { vec![] }
    );
    // Every append's events were stored, then deleted or kept: nothing else.
    let appended = (0..6u64)
        .map(|t| (0..15).filter(|i| (t + i) % 5 != 0).count() as u64 * 2)
        .sum::<u64>();
    assert_eq!(deleted + kept, appended);
    assert_eq!(fx.store.read_all(1, 1000).await.unwrap(), events);
    assert_eq!(fx.store.outbox_pending(1000).await.unwrap(), events);
}

/// Waits (polling the clock, with a deadline) until the clock is past `t`'s millisecond, so
/// the next append is recorded later than `t`.
async fn after_ms(t: chrono::DateTime<chrono::Utc>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while chrono::Utc::now().timestamp_millis() <= t.timestamp_millis() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the clock did not move"
        );
        tokio::task::yield_now().await;
    }
}

pub async fn query_filters_by_metadata_time_stream_and_type(b: &dyn Backend) {
    let fx = open(b).await;
    let (c1, c2) = (ConversationId::new(), ConversationId::new());
    let (alice, bob) = (AgentId::new("alice").unwrap(), AgentId::new("bob").unwrap());
    let meta = |c: Option<ConversationId>, a: Option<&AgentId>| EventMetadata {
        conversation_id: c,
        trace_id: Some(TraceId::new()),
        agent: a.cloned(),
    };
    let typed = |n: u64, t: &str, m: EventMetadata| ev(n).with_type(t).with_metadata(m);
    let append = |stream: &'static str, events: Vec<NewEvent>| {
        let store = Arc::clone(&fx.store);
        async move {
            store
                .append(&s(stream), ExpectedVersion::Any, events)
                .await
                .unwrap()
        }
    };
    // Three rounds, each recorded after the previous one.
    append(
        "q/orders-1",
        vec![
            typed(0, "order.placed", meta(Some(c1), Some(&alice))),
            typed(1, "order.priced", meta(Some(c1), Some(&bob))),
        ],
    )
    .await;
    append(
        "q/orders-2",
        vec![typed(2, "order.placed", meta(Some(c2), Some(&alice)))],
    )
    .await;
    let round1 = fx.store.read_all(1, 100).await.unwrap();
    after_ms(round1.iter().map(|e| e.recorded_at).max().unwrap()).await;
    append(
        "q_other",
        vec![typed(3, "order_placed", meta(Some(c1), None))],
    )
    .await;
    append(
        "q/orders-1",
        vec![typed(4, "orderXplaced", meta(None, Some(&alice)))],
    )
    .await;
    append(
        "r/misc",
        vec![typed(5, "ünï.code", meta(Some(c2), Some(&bob))), ev(8)],
    )
    .await;
    let round2 = fx.store.read_all(1, 100).await.unwrap();
    after_ms(round2.iter().map(|e| e.recorded_at).max().unwrap()).await;
    append(
        "q/orders-10",
        vec![
            typed(6, "order.cancelled", meta(Some(c1), Some(&alice))),
            typed(7, "audit.approve", meta(Some(c1), None)),
        ],
    )
    .await;
    let all = fx.store.read_all(1, 100).await.unwrap();
    assert_eq!(ns(&all), vec![0, 1, 2, 3, 4, 5, 8, 6, 7]);
    let at = |k: u64| all.iter().find(|e| n(e) == k).unwrap().recorded_at;

    let query = |q: EventQuery| {
        let store = Arc::clone(&fx.store);
        let all = all.clone();
        async move {
            let got = store.query(&q, 1, 100).await.unwrap();
            // The stores agree with the rules of `EventQuery::matches`.
            let want: Vec<RecordedEvent> = all.into_iter().filter(|e| q.matches(e)).collect();
            assert_eq!(got, want, "{q:?}");
            ns(&got)
        }
    };
    let q = EventQuery::new;
    assert_eq!(query(q()).await, vec![0, 1, 2, 3, 4, 5, 8, 6, 7]);
    assert_eq!(query(q().with_conversation(c1)).await, vec![0, 1, 3, 6, 7]);
    assert_eq!(query(q().with_conversation(c2)).await, vec![2, 5]);
    assert!(
        query(q().with_conversation(ConversationId::new()))
            .await
            .is_empty()
    );
    assert_eq!(query(q().with_agent(alice.clone())).await, vec![0, 2, 4, 6]);
    assert_eq!(query(q().with_agent(bob.clone())).await, vec![1, 5]);
    assert!(
        query(q().with_agent(AgentId::new("nobody").unwrap()))
            .await
            .is_empty()
    );
    assert_eq!(
        query(q().with_conversation(c1).with_agent(alice.clone())).await,
        vec![0, 6]
    );
    // Stream prefixes: `_` is no wildcard.
    assert_eq!(
        query(q().with_stream_prefix("q/")).await,
        vec![0, 1, 2, 4, 6, 7]
    );
    assert_eq!(query(q().with_stream_prefix("q_")).await, vec![3]);
    assert_eq!(
        query(q().with_stream_prefix("q/orders-1")).await,
        vec![0, 1, 4, 6, 7]
    );
    assert_eq!(query(q().with_stream_prefix("")).await.len(), 9);
    assert!(query(q().with_stream_prefix("Q")).await.is_empty());
    // Event types: exact, or a prefix before a final `*`.
    assert_eq!(query(q().with_event_type("order.placed")).await, vec![0, 2]);
    assert_eq!(
        query(q().with_event_type("order.*")).await,
        vec![0, 1, 2, 6]
    );
    assert_eq!(query(q().with_event_type("order_*")).await, vec![3]);
    assert_eq!(
        query(q().with_event_type("order*")).await,
        vec![0, 1, 2, 3, 4, 6]
    );
    assert_eq!(query(q().with_event_type("ü*")).await, vec![5]);
    assert_eq!(query(q().with_event_type("ünï.code")).await, vec![5]);
    assert_eq!(query(q().with_event_type("*")).await.len(), 9);
    assert!(query(q().with_event_type("order")).await.is_empty());
    // Time: `since` inclusive, `until` exclusive.
    let (t2, t3) = (at(3), at(6));
    assert_eq!(query(q().with_since(t2)).await, vec![3, 4, 5, 8, 6, 7]);
    assert_eq!(query(q().with_until(t2)).await, vec![0, 1, 2]);
    assert_eq!(
        query(q().with_since(t2).with_until(t3)).await,
        vec![3, 4, 5, 8]
    );
    assert!(query(q().with_since(t3).with_until(t3)).await.is_empty());
    // Times between milliseconds (stored times are whole milliseconds).
    let micro = chrono::Duration::microseconds(1);
    assert!(!query(q().with_since(t2 - micro)).await.is_empty());
    assert!(!query(q().with_since(t3 + micro)).await.contains(&6));
    assert!(query(q().with_until(t2 + micro)).await.contains(&3));
    assert!(!query(q().with_until(t2 - micro)).await.contains(&3));
    // Everything at once.
    assert_eq!(
        query(
            q().with_conversation(c1)
                .with_since(t2)
                .with_stream_prefix("q")
                .with_event_type("order*")
        )
        .await,
        vec![3, 6]
    );

    // Pages by position.
    let by_c1 = q().with_conversation(c1);
    let mut paged = Vec::new();
    let mut from = 0;
    loop {
        let page = fx.store.query(&by_c1, from, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        from = last.global_position + 1;
        paged.extend(page);
    }
    assert_eq!(ns(&paged), vec![0, 1, 3, 6, 7]);
    assert!(fx.store.query(&by_c1, 1, 0).await.unwrap().is_empty());
    assert_eq!(
        fx.store.query(&by_c1, 1, usize::MAX).await.unwrap().len(),
        5
    );
    let last = all.iter().map(|e| e.global_position).max().unwrap();
    assert!(fx.store.query(&q(), last + 1, 10).await.unwrap().is_empty());
    assert!(fx.store.query(&q(), u64::MAX, 10).await.unwrap().is_empty());

    // A deleted stream's events are gone from queries.
    fx.store.delete_stream(&s("q/orders-2")).await.unwrap();
    assert_eq!(
        ns(&fx
            .store
            .query(&q().with_conversation(c2), 1, 100)
            .await
            .unwrap()),
        vec![5]
    );

    // Bad queries say what is wrong.
    let now = chrono::Utc::now();
    for (bad, says) in [
        (q().with_stream_prefix("has space"), "stream prefix"),
        (q().with_event_type(""), "event type"),
        (
            q().with_since(now)
                .with_until(now - chrono::Duration::seconds(1)),
            "time range",
        ),
    ] {
        let err = fx.store.query(&bad, 1, 10).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput, "{bad:?}");
        assert!(err.to_string().contains(says), "{err}");
    }
}
