//! The conformance suite on the sqlite backend, plus what only the sqlite backend promises:
//! state survives reopening, files that are not store databases are refused, and files of
//! schema version 1 are migrated.

use std::sync::Arc;

use cadre_core::{AgentId, ConversationId, Error, ErrorCode, Payload, TraceId};
use cadre_store::conformance::{Backend, OpenFuture, Opened};
use cadre_store::{
    Direction, EventMetadata, EventQuery, EventStore, ExpectedVersion, NewEvent, SqliteStore,
    StreamId,
};

struct Sqlite;

impl Backend for Sqlite {
    fn open(&self) -> OpenFuture {
        Box::pin(async move {
            let dir = tempfile::tempdir().map_err(|e| Error::internal(e.to_string()))?;
            let store = SqliteStore::open(dir.path().join("events.db")).await?;
            Ok(Opened {
                store: Arc::new(store) as Arc<dyn EventStore>,
                keep: Box::new(dir),
            })
        })
    }
}

cadre_store::conformance_tests!(sqlite, Sqlite);

fn ev(n: u64) -> NewEvent {
    NewEvent::new(Payload::from_json_text("test.n", 1, n.to_string()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/events.db");
    let st = StreamId::new("s").unwrap();
    let first = {
        let store = SqliteStore::open(&path).await.unwrap();
        let done = store
            .append(&st, ExpectedVersion::NoStream, vec![ev(1), ev(2)])
            .await
            .unwrap();
        store
            .save_snapshot(&st, 2, Payload::from_json_text("x", 1, "{}").unwrap())
            .await
            .unwrap();
        store
            .outbox_mark_sent(&[done.positions[0].global_position])
            .await
            .unwrap();
        done
    };
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.path(), path);
    assert_eq!(store.stream_version(&st).await.unwrap(), Some(2));
    assert_eq!(store.load_snapshot(&st).await.unwrap().unwrap().0, 2);
    assert_eq!(store.outbox_pending(10).await.unwrap().len(), 1);
    let again = store
        .append(&st, ExpectedVersion::NoStream, vec![ev(1), ev(2)])
        .await;
    assert_eq!(
        again.unwrap_err().code(),
        ErrorCode::Conflict,
        "new ids, stale version"
    );
    let done = store
        .append(&st, ExpectedVersion::Exact(2), vec![ev(3)])
        .await
        .unwrap();
    assert!(done.positions[0].global_position > first.positions[1].global_position);
    let all = store.read(&st, 1, 10, Direction::Forward).await.unwrap();
    assert_eq!(all.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_file_keep_versions_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let a = SqliteStore::open(&path).await.unwrap();
    let b = SqliteStore::open(&path).await.unwrap();
    let st = StreamId::new("shared").unwrap();
    a.append(&st, ExpectedVersion::NoStream, vec![ev(1)])
        .await
        .unwrap();
    let err = b
        .append(&st, ExpectedVersion::NoStream, vec![ev(2)])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    b.append(&st, ExpectedVersion::Exact(1), vec![ev(2)])
        .await
        .unwrap();
    assert_eq!(a.stream_version(&st).await.unwrap(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_store_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Not SQLite at all.
    let path = dir.path().join("junk.db");
    std::fs::write(
        &path,
        b"this is not sqlite, not even close; just some bytes",
    )
    .unwrap();
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Storage);
    assert!(err.to_string().contains("junk.db"), "{err}");
    assert!(
        err.to_string().contains("not a cadre store database"),
        "{err}"
    );
    // The file was not changed.
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"this is not sqlite, not even close; just some bytes"
    );
    // Another SQLite database.
    let other = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE segments (id INTEGER PRIMARY KEY)")
            .unwrap();
    }
    let err = SqliteStore::open(&other).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Storage);
    assert!(err.to_string().contains("other.db"), "{err}");
    assert!(err.to_string().contains("segments"), "{err}");
    // A directory.
    let err = SqliteStore::open(dir.path()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Storage);
    // A store from a newer cadre.
    let newer = dir.path().join("newer.db");
    drop(SqliteStore::open(&newer).await.unwrap());
    {
        let conn = rusqlite::Connection::open(&newer).unwrap();
        conn.execute(
            "UPDATE store_meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    }
    let err = SqliteStore::open(&newer).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Storage);
    assert!(err.to_string().contains("newer"), "{err}");
}

/// The tables of a schema version 1 store, as cadre wrote them before version 2.
const V1_SCHEMA: &str = "
CREATE TABLE store_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE streams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE events (
    position INTEGER PRIMARY KEY,
    stream_id INTEGER NOT NULL REFERENCES streams (id),
    version INTEGER NOT NULL,
    id BLOB NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    payload_type TEXT NOT NULL,
    payload_version INTEGER NOT NULL,
    payload TEXT NOT NULL,
    metadata TEXT NOT NULL,
    recorded_ms INTEGER NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE TABLE snapshots (
    stream_id INTEGER PRIMARY KEY REFERENCES streams (id),
    version INTEGER NOT NULL,
    payload_type TEXT NOT NULL,
    payload_version INTEGER NOT NULL,
    payload TEXT NOT NULL,
    saved_ms INTEGER NOT NULL
);
CREATE TABLE outbox (
    position INTEGER PRIMARY KEY
);
INSERT INTO store_meta (key, value) VALUES ('format', 'cadre-store'), ('schema_version', '1');
";

fn schema_version(path: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(
        "SELECT value FROM store_meta WHERE key = 'schema_version'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_file_is_migrated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    let conversation = ConversationId::new();
    let trace = TraceId::new();
    let agent = AgentId::new("pricing-1").unwrap();
    let full = EventMetadata {
        conversation_id: Some(conversation),
        trace_id: Some(trace),
        agent: Some(agent.clone()),
    };
    let agent_only = EventMetadata {
        agent: Some(agent.clone()),
        ..EventMetadata::default()
    };
    let recorded_ms = chrono::Utc::now().timestamp_millis() - 60_000;
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(V1_SCHEMA).unwrap();
        conn.execute_batch("INSERT INTO streams (id, name) VALUES (1, 'order-1'), (2, 'order-2')")
            .unwrap();
        let rows: [(i64, i64, &EventMetadata); 4] = [
            (1, 1, &full),
            (2, 1, &EventMetadata::default()),
            (1, 2, &agent_only),
            (2, 2, &full),
        ];
        for (k, (sid, version, metadata)) in rows.iter().enumerate() {
            let metadata = if metadata.is_empty() {
                "{}".to_owned()
            } else {
                serde_json::to_string(metadata).unwrap()
            };
            conn.execute(
                "INSERT INTO events (stream_id, version, id, event_type, payload_type, payload_version, payload, metadata, recorded_ms)
                 VALUES (?1, ?2, ?3, 'test.n', 'test.n', 1, ?4, ?5, ?6)",
                rusqlite::params![
                    sid,
                    version,
                    uuid::Uuid::now_v7().as_bytes().as_slice(),
                    k.to_string(),
                    metadata,
                    recorded_ms + k as i64
                ],
            )
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO outbox (position) VALUES (3), (4);
             INSERT INTO snapshots VALUES (1, 2, 'test.state', 1, '{}', 0);",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    // The old events are queryable by the metadata they had.
    let by_conversation = store
        .query(&EventQuery::new().with_conversation(conversation), 1, 10)
        .await
        .unwrap();
    assert_eq!(
        by_conversation
            .iter()
            .map(|e| e.global_position)
            .collect::<Vec<_>>(),
        vec![1, 4]
    );
    assert_eq!(by_conversation[0].metadata, full);
    let by_agent = store
        .query(&EventQuery::new().with_agent(agent.clone()), 1, 10)
        .await
        .unwrap();
    assert_eq!(
        by_agent
            .iter()
            .map(|e| e.global_position)
            .collect::<Vec<_>>(),
        vec![1, 3, 4]
    );
    let since = chrono::DateTime::from_timestamp_millis(recorded_ms + 2).unwrap();
    assert_eq!(
        store
            .query(&EventQuery::new().with_since(since), 1, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    // Everything else is as it was.
    assert_eq!(store.read_all(1, 10).await.unwrap().len(), 4);
    assert_eq!(store.outbox_pending(10).await.unwrap().len(), 2);
    assert_eq!(
        store
            .load_snapshot(&StreamId::new("order-1").unwrap())
            .await
            .unwrap()
            .map(|s| s.0),
        Some(2)
    );
    let listed = store.list_streams("", None, 10).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].version, 2);
    assert_eq!(listed[0].first_recorded_at.timestamp_millis(), recorded_ms);
    assert_eq!(
        listed[0].last_recorded_at.timestamp_millis(),
        recorded_ms + 2
    );
    // New events go on, and are queryable too.
    let st = StreamId::new("order-1").unwrap();
    let done = store
        .append(
            &st,
            ExpectedVersion::Exact(2),
            vec![ev(9).with_metadata(full.clone())],
        )
        .await
        .unwrap();
    assert_eq!(done.positions[0].version, 3);
    assert_eq!(done.positions[0].global_position, 5);
    assert_eq!(
        store
            .query(&EventQuery::new().with_conversation(conversation), 1, 10)
            .await
            .unwrap()
            .len(),
        3
    );
    drop(store);
    assert_eq!(schema_version(&path), "2");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'events_%' ORDER BY name")
            .unwrap();
        let indexes: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            indexes,
            ["events_agent", "events_conversation", "events_recorded"]
        );
    }
    // Opening the migrated file again changes nothing.
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.read_all(1, 10).await.unwrap().len(), 5);
    assert_eq!(store.stream_version(&st).await.unwrap(), Some(3));
    drop(store);
    assert_eq!(schema_version(&path), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_positions_stay_taken_across_reopening_and_handles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let (a, b) = (StreamId::new("a").unwrap(), StreamId::new("b").unwrap());
    let newest = {
        let store = SqliteStore::open(&path).await.unwrap();
        store
            .append(&a, ExpectedVersion::NoStream, vec![ev(1)])
            .await
            .unwrap();
        let done = store
            .append(&b, ExpectedVersion::NoStream, vec![ev(2), ev(3)])
            .await
            .unwrap();
        assert_eq!(store.delete_stream(&b).await.unwrap(), 2);
        done.positions[1].global_position
    };
    // The floor is in the file: a new handle does not hand positions 2 and 3 out again.
    let store = SqliteStore::open(&path).await.unwrap();
    let other = SqliteStore::open(&path).await.unwrap();
    let done = other
        .append(&b, ExpectedVersion::NoStream, vec![ev(4), ev(5)])
        .await
        .unwrap();
    assert_eq!(done.positions[0].global_position, newest + 1);
    assert_eq!(done.positions[1].global_position, newest + 2);
    // Deleting the newest stream on one handle, appending on the other.
    assert_eq!(store.delete_stream(&b).await.unwrap(), 2);
    let next = other
        .append(&a, ExpectedVersion::Exact(1), vec![ev(6)])
        .await
        .unwrap();
    assert_eq!(next.positions[0].global_position, newest + 3);
    let feed: Vec<u64> = store
        .read_all(1, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.global_position)
        .collect();
    assert_eq!(feed, vec![1, newest + 3]);
}
