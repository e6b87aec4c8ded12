//! The conformance suite on the sqlite backend, plus what only the sqlite backend promises:
//! state survives reopening, and files that are not store databases are refused.

use std::sync::Arc;

use cadre_core::{Error, ErrorCode, Payload};
use cadre_store::conformance::{Backend, OpenFuture, Opened};
use cadre_store::{Direction, EventStore, ExpectedVersion, NewEvent, SqliteStore, StreamId};

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
