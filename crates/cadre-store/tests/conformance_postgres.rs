//! The conformance suite on the PostgreSQL backend, plus what only this backend promises.
//!
//! The tests need a server: they run against `POSTGRES_TEST_URL` (e.g.
//! `postgres://cadre@127.0.0.1:PORT/cadre`; `.ci/run` starts a throwaway cluster and sets it).
//! Without it each test says on stderr that it is skipped, and why, and passes. Every store a
//! test opens lives in a fresh schema `cadre_test_<random>`, dropped when the test ends.
#![cfg(feature = "postgres")]
#![allow(clippy::print_stderr)]

use std::sync::Arc;

use cadre_core::{AgentId, ConversationId, Error, ErrorCode, Payload, TraceId};
use cadre_store::conformance::{Backend, OpenFuture, Opened};
use cadre_store::{
    Direction, EventMetadata, EventQuery, EventStore, ExpectedVersion, NewEvent, PostgresStore,
    StreamId,
};
use sqlx::Connection;

const URL_VAR: &str = "POSTGRES_TEST_URL";

fn url() -> Option<String> {
    std::env::var(URL_VAR).ok().filter(|u| !u.trim().is_empty())
}

fn skip_reason() -> Option<String> {
    url().is_none().then(|| {
        format!(
            "{URL_VAR} is not set, so there is no PostgreSQL server to test against (`.ci/run` starts one and sets it)"
        )
    })
}

/// The server's URL, or `None` after saying on stderr that `test` is skipped.
fn url_or_skip(test: &str) -> Option<String> {
    if let Some(why) = skip_reason() {
        eprintln!("skipped `{test}`: {why}");
        return None;
    }
    url()
}

fn fresh_schema() -> String {
    format!("cadre_test_{}", uuid::Uuid::now_v7().simple())
}

/// Drops its schema (and everything in it) when dropped, also when the test panicked.
struct DropSchema {
    url: String,
    schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let url = self.url.clone();
        let schema = self.schema.clone();
        // Drop may run on a runtime's thread: do the async work on a thread of its own.
        let done = std::thread::spawn(move || -> Result<(), String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&url)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::raw_sql(&format!(
                    "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                ))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
                conn.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test schema {}: {e}", self.schema),
            Err(_) => eprintln!("could not drop test schema {}: panicked", self.schema),
        }
    }
}

/// Connects to a fresh schema; the guard drops it.
async fn fresh_store(url: &str) -> (PostgresStore, DropSchema) {
    let schema = fresh_schema();
    let guard = DropSchema {
        url: url.to_owned(),
        schema: schema.clone(),
    };
    let store = PostgresStore::connect_with(url, &schema).await.unwrap();
    (store, guard)
}

struct Postgres;

impl Backend for Postgres {
    fn open(&self) -> OpenFuture {
        Box::pin(async move {
            let url = url().ok_or_else(|| Error::internal(format!("{URL_VAR} is not set")))?;
            let schema = fresh_schema();
            let keep = DropSchema {
                url: url.clone(),
                schema: schema.clone(),
            };
            let store = PostgresStore::connect_with(&url, &schema).await?;
            Ok(Opened {
                store: Arc::new(store) as Arc<dyn EventStore>,
                keep: Box::new(keep),
            })
        })
    }

    fn skip_reason(&self) -> Option<String> {
        skip_reason()
    }
}

cadre_store::conformance_tests!(postgres, Postgres);

fn ev(n: u64) -> NewEvent {
    NewEvent::new(Payload::from_json_text("test.n", 1, n.to_string()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_reconnecting() {
    let Some(url) = url_or_skip("state_survives_reconnecting") else {
        return;
    };
    let (first_store, _guard) = fresh_store(&url).await;
    let schema = first_store.schema().to_owned();
    let st = StreamId::new("s").unwrap();
    let first = first_store
        .append(&st, ExpectedVersion::NoStream, vec![ev(1), ev(2)])
        .await
        .unwrap();
    first_store
        .save_snapshot(&st, 2, Payload::from_json_text("x", 1, "{}").unwrap())
        .await
        .unwrap();
    first_store
        .outbox_mark_sent(&[first.positions[0].global_position])
        .await
        .unwrap();
    first_store.close().await;
    let err = first_store.stream_version(&st).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable, "{err}");

    let store = PostgresStore::connect_with(&url, &schema).await.unwrap();
    assert_eq!(store.backend(), "postgres");
    assert_eq!(store.stream_version(&st).await.unwrap(), Some(2));
    assert_eq!(store.load_snapshot(&st).await.unwrap().unwrap().0, 2);
    assert_eq!(store.outbox_pending(10).await.unwrap().len(), 1);
    let again = store
        .append(&st, ExpectedVersion::NoStream, vec![ev(1), ev(2)])
        .await;
    assert_eq!(again.unwrap_err().code(), ErrorCode::Conflict);
    let done = store
        .append(&st, ExpectedVersion::Exact(2), vec![ev(3)])
        .await
        .unwrap();
    assert!(done.positions[0].global_position > first.positions[1].global_position);
    assert_eq!(
        store
            .read(&st, 1, 10, Direction::Forward)
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_in_other_schemas_are_independent() {
    let Some(url) = url_or_skip("stores_in_other_schemas_are_independent") else {
        return;
    };
    let (a, _ga) = fresh_store(&url).await;
    let (b, _gb) = fresh_store(&url).await;
    let st = StreamId::new("same-name").unwrap();
    let shared = ev(1);
    a.append(&st, ExpectedVersion::NoStream, vec![shared.clone()])
        .await
        .unwrap();
    // The same stream and event id in another schema are another store's.
    let done = b
        .append(&st, ExpectedVersion::NoStream, vec![shared])
        .await
        .unwrap();
    assert!(!done.already_stored);
    // Two handles on one schema see each other's appends.
    let a2 = PostgresStore::connect_with(&url, a.schema()).await.unwrap();
    let err = a2
        .append(&st, ExpectedVersion::NoStream, vec![ev(2)])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    a2.append(&st, ExpectedVersion::Exact(1), vec![ev(2)])
        .await
        .unwrap();
    assert_eq!(a.stream_version(&st).await.unwrap(), Some(2));
    assert_eq!(b.stream_version(&st).await.unwrap(), Some(1));
}

/// A reader tailing the feed while writers append never misses an event: positions become
/// visible in order (the advisory lock), so "everything after the last position I saw" is
/// always complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tailing_reader_misses_no_event() {
    let Some(url) = url_or_skip("a_tailing_reader_misses_no_event") else {
        return;
    };
    let (store, _guard) = fresh_store(&url).await;
    let store = Arc::new(store);
    const WRITERS: u64 = 6;
    const APPENDS: u64 = 40;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = Arc::clone(&store);
        writers.push(tokio::spawn(async move {
            let st = StreamId::new(format!("tail-{w}")).unwrap();
            for k in 0..APPENDS {
                let batch = vec![ev(w * 1000 + k), ev(w * 1000 + k + 500)];
                store
                    .append(&st, ExpectedVersion::Any, batch)
                    .await
                    .unwrap();
            }
        }));
    }
    let total = usize::try_from(WRITERS * APPENDS * 2).unwrap();
    let mut seen = Vec::new();
    let mut from = 1;
    while seen.len() < total {
        let page = store.read_all(from, 50).await.unwrap();
        if let Some(last) = page.last() {
            from = last.global_position + 1;
        } else {
            tokio::task::yield_now().await;
        }
        seen.extend(page.into_iter().map(|e| e.global_position));
        assert!(
            seen.len() <= total,
            "read more events than were appended: {}",
            seen.len()
        );
        if writers.iter().all(tokio::task::JoinHandle::is_finished) {
            // The last pages: everything is committed now.
            let rest = store.read_all(from, 100_000).await.unwrap();
            seen.extend(rest.into_iter().map(|e| e.global_position));
            break;
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    let all: Vec<u64> = store
        .read_all(1, 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.global_position)
        .collect();
    assert_eq!(all.len(), total);
    assert_eq!(seen, all, "the tailing reader saw every event, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_that_is_not_a_store_is_refused() {
    let Some(url) = url_or_skip("a_schema_that_is_not_a_store_is_refused") else {
        return;
    };
    let schema = fresh_schema();
    let _guard = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA \"{schema}\"; CREATE TABLE \"{schema}\".segments (id INT PRIMARY KEY)"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let err = PostgresStore::connect_with(&url, &schema)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Storage);
    assert!(err.to_string().contains(&schema), "{err}");
    assert!(err.to_string().contains("segments"), "{err}");
    // A store from a newer cadre.
    let newer = fresh_schema();
    let _guard2 = DropSchema {
        url: url.clone(),
        schema: newer.clone(),
    };
    drop(PostgresStore::connect_with(&url, &newer).await.unwrap());
    sqlx::raw_sql(&format!(
        "UPDATE \"{newer}\".store_meta SET value = '99' WHERE key = 'schema_version'"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let err = PostgresStore::connect_with(&url, &newer).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Storage);
    assert!(err.to_string().contains("newer"), "{err}");
    conn.close().await.unwrap();
}

/// The tables of a schema version 1 store, as cadre created them before version 2.
const V1_SCHEMA: &str = "
CREATE TABLE store_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE streams (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    version BIGINT NOT NULL
);
CREATE TABLE events (
    position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id BIGINT NOT NULL REFERENCES streams (id),
    version BIGINT NOT NULL,
    id UUID NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    payload_type TEXT NOT NULL,
    payload_version BIGINT NOT NULL,
    payload TEXT NOT NULL,
    metadata TEXT NOT NULL,
    recorded_ms BIGINT NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE TABLE snapshots (
    stream_id BIGINT PRIMARY KEY REFERENCES streams (id),
    version BIGINT NOT NULL,
    payload_type TEXT NOT NULL,
    payload_version BIGINT NOT NULL,
    payload TEXT NOT NULL,
    saved_ms BIGINT NOT NULL
);
CREATE TABLE outbox (
    position BIGINT PRIMARY KEY
);
INSERT INTO store_meta (key, value) VALUES ('format', 'cadre-store'), ('schema_version', '1');
INSERT INTO streams (name, version) VALUES ('order-1', 2), ('order-2', 1);
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_schema_is_upgraded_in_place() {
    let Some(url) = url_or_skip("a_version_1_schema_is_upgraded_in_place") else {
        return;
    };
    let schema = fresh_schema();
    let _guard = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let conversation = ConversationId::new();
    let agent = AgentId::new("pricing-1").unwrap();
    let full = EventMetadata {
        conversation_id: Some(conversation),
        trace_id: Some(TraceId::new()),
        agent: Some(agent.clone()),
    };
    let agent_only = EventMetadata {
        agent: Some(agent.clone()),
        ..EventMetadata::default()
    };
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA \"{schema}\"; SET search_path TO \"{schema}\"; {V1_SCHEMA}"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let rows: [(i64, i64, &EventMetadata); 3] = [
        (1, 1, &full),
        (2, 1, &EventMetadata::default()),
        (1, 2, &agent_only),
    ];
    for (k, (sid, version, metadata)) in rows.into_iter().enumerate() {
        let metadata = if metadata.is_empty() {
            "{}".to_owned()
        } else {
            serde_json::to_string(metadata).unwrap()
        };
        sqlx::query(
            "INSERT INTO events (stream_id, version, id, event_type, payload_type, payload_version, payload, metadata, recorded_ms)
             VALUES ($1, $2, $3::uuid, 'test.n', 'test.n', 1, $4, $5, $6)",
        )
        .bind(sid)
        .bind(version)
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(k.to_string())
        .bind(metadata)
        .bind(chrono::Utc::now().timestamp_millis())
        .execute(&mut conn)
        .await
        .unwrap();
    }
    sqlx::raw_sql("INSERT INTO outbox (position) SELECT position FROM events")
        .execute(&mut conn)
        .await
        .unwrap();

    let store = PostgresStore::connect_with(&url, &schema).await.unwrap();
    let version: String = sqlx::query_scalar(&format!(
        "SELECT value FROM \"{schema}\".store_meta WHERE key = 'schema_version'"
    ))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(version, "2");
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND indexname NOT LIKE '%pkey' AND indexname NOT LIKE '%key' ORDER BY 1",
    )
    .bind(&schema)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        indexes,
        [
            "events_agent",
            "events_conversation",
            "events_recorded",
            "streams_name_bytes"
        ]
    );
    // The old events are queryable by the metadata they had.
    let positions = |events: Vec<cadre_store::RecordedEvent>| -> Vec<u64> {
        events.iter().map(|e| e.global_position).collect()
    };
    let by_conversation = store
        .query(&EventQuery::new().with_conversation(conversation), 1, 10)
        .await
        .unwrap();
    assert_eq!(by_conversation[0].metadata, full);
    assert_eq!(positions(by_conversation), vec![1]);
    let by_agent = store
        .query(&EventQuery::new().with_agent(agent.clone()), 1, 10)
        .await
        .unwrap();
    assert_eq!(positions(by_agent), vec![1, 3]);
    assert_eq!(store.outbox_pending(10).await.unwrap().len(), 3);
    let listed = store.list_streams("", None, 10).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].version, 2);
    // New events go on.
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
    assert_eq!(
        store
            .query(&EventQuery::new().with_conversation(conversation), 1, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    store.close().await;
    // Connecting again changes nothing.
    let store = PostgresStore::connect_with(&url, &schema).await.unwrap();
    assert_eq!(store.read_all(1, 10).await.unwrap().len(), 4);
    store.close().await;
    conn.close().await.unwrap();
}

/// Stream names list, and match prefixes, in byte order even when the column's collation
/// orders them otherwise (an ICU collation: `a` before `B`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_keep_byte_order_under_another_collation() {
    let Some(url) = url_or_skip("names_keep_byte_order_under_another_collation") else {
        return;
    };
    let (store, _guard) = fresh_store(&url).await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let icu: Option<String> = sqlx::query_scalar(
        "SELECT collname::text FROM pg_collation WHERE collname = 'en-US-x-icu'",
    )
    .fetch_optional(&mut conn)
    .await
    .unwrap();
    if icu.is_none() {
        eprintln!(
            "skipped `names_keep_byte_order_under_another_collation`: the server has no ICU collation en-US-x-icu"
        );
        return;
    }
    sqlx::raw_sql(&format!(
        "ALTER TABLE \"{}\".streams ALTER COLUMN name TYPE TEXT COLLATE \"en-US-x-icu\"",
        store.schema()
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    for name in ["b", "B", "a", "A-1", "a-1", "a_1", "ab"] {
        store
            .append(
                &StreamId::new(name).unwrap(),
                ExpectedVersion::NoStream,
                vec![ev(1)],
            )
            .await
            .unwrap();
    }
    let names = |list: Vec<cadre_store::StreamSummary>| -> Vec<String> {
        list.into_iter().map(|l| l.stream.to_string()).collect()
    };
    assert_eq!(
        names(store.list_streams("", None, 100).await.unwrap()),
        ["A-1", "B", "a", "a-1", "a_1", "ab", "b"]
    );
    assert_eq!(
        names(store.list_streams("a", None, 100).await.unwrap()),
        ["a", "a-1", "a_1", "ab"]
    );
    let after = StreamId::new("B").unwrap();
    assert_eq!(
        names(store.list_streams("", Some(&after), 2).await.unwrap()),
        ["a", "a-1"]
    );
    let streams: Vec<String> = store
        .query(&EventQuery::new().with_stream_prefix("A"), 1, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.stream.to_string())
        .collect();
    assert_eq!(streams, ["A-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_urls_connect_a_postgres_store() {
    let Some(url) = url_or_skip("postgres_urls_connect_a_postgres_store") else {
        return;
    };
    // `connect` uses the default schema: drop it afterwards only if this test made it.
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let existed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.schemata WHERE schema_name = $1)",
    )
    .bind(cadre_store::DEFAULT_SCHEMA)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let _guard = (!existed).then(|| DropSchema {
        url: url.clone(),
        schema: cadre_store::DEFAULT_SCHEMA.to_owned(),
    });
    let store = cadre_store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), "postgres");
    store.list_streams("", None, 1).await.unwrap();
    let alias = url.replacen("postgres://", "postgresql://", 1);
    let store = cadre_store::connect(&alias).await.unwrap();
    assert_eq!(store.backend(), "postgres");
}

// These need no server.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_unavailable_and_the_password_is_not_shown() {
    // A port nothing listens on: bound, then released.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("postgres://cadre:hunter2-secret@127.0.0.1:{port}/cadre");
    let err = PostgresStore::connect(&url).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable, "{err}");
    let shown = err.to_string();
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_and_schema_names_are_invalid_input() {
    let err = PostgresStore::connect("postgres://cadre:hunter2-secret@127.0.0.1:notaport/db")
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = PostgresStore::connect_with("postgres://127.0.0.1/db", "Robert'); DROP")
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
    assert!(err.to_string().contains("schema name"), "{err}");
}
