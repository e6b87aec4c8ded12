//! The embedded backend: one SQLite file (WAL mode).
//!
//! Changes go through a writer thread that folds whatever has queued up into one transaction
//! (group commit); each request runs in a savepoint of its own, so one request's conflict
//! does not fail the others. Reads use a connection of their own and see committed data. The
//! global position of an event is its row id. Stream versions are read at the start of each
//! transaction, so several processes may share a file (SQLite serialises their writers).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use cadre_core::{Error, ErrorCode, Payload};
use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::query::{Arg, Dialect, prefix_upper_bound, validate_prefix};
use crate::store::MAX_READ;
use crate::{
    AppendResult, Direction, EventId, EventMetadata, EventQuery, EventStore, ExpectedVersion,
    NewEvent, RecordedEvent, StreamId, StreamSummary,
};

mod schema;
mod writer;

pub(crate) use writer::Prepared;
use writer::{Op, Writer, i, stopped, storage, u};

#[derive(Debug)]
struct Inner {
    // Declared first so it is dropped (and finishes queued work) before the reader.
    writer: Writer,
    reader: Arc<Mutex<Connection>>,
    path: PathBuf,
}

/// The SQLite event store. Cheap to clone; clones share the database.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), cadre_core::Error> {
/// use cadre_core::Payload;
/// use cadre_store::{Direction, EventStore, ExpectedVersion, NewEvent, SqliteStore, StreamId};
///
/// # let dir = tempfile::tempdir().map_err(|e| cadre_core::Error::internal(e.to_string()))?;
/// let store = SqliteStore::open(dir.path().join("events.db")).await?;
/// let order = StreamId::new("order-42")?;
/// let placed = NewEvent::new(Payload::from_json_text("order.placed", 1, r#"{"qty":3}"#)?);
/// let done = store.append(&order, ExpectedVersion::NoStream, vec![placed]).await?;
/// assert_eq!(done.stream_version, 1);
/// let events = store.read(&order, 1, 100, Direction::Forward).await?;
/// assert_eq!(events[0].event_type, "order.placed");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl SqliteStore {
    /// Opens (creating if needed, with its parent directories) the store database at `path`.
    ///
    /// # Errors
    /// [`ErrorCode::Storage`] naming the path when the file cannot be opened, is not a SQLite
    /// database, is another kind of database (a bus database, say), or was written by a newer
    /// cadre.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let path2 = path.clone();
        let (write, checkpoint, read) = tokio::task::spawn_blocking(move || open_files(&path2))
            .await
            .map_err(|e| Error::internal(format!("opening the event store: {e}")))??;
        let writer = Writer::spawn(write, checkpoint, path.display().to_string())?;
        Ok(Self {
            inner: Arc::new(Inner {
                writer,
                reader: Arc::new(Mutex::new(read)),
                path,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn with_reader<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let reader = Arc::clone(&self.inner.reader);
        let path = self.inner.path.display().to_string();
        tokio::task::spawn_blocking(move || f(&reader.lock()))
            .await
            .map_err(|e| Error::internal(format!("event store reader task: {e}")))?
            .map_err(|e| {
                if e.code() == ErrorCode::Storage {
                    e.context(format!("event store {path}"))
                } else {
                    e
                }
            })
    }
}

fn open_files(path: &Path) -> Result<(Connection, Connection, Connection), Error> {
    let shown = path.display().to_string();
    let fail = |e: &dyn std::fmt::Display| Error::new(ErrorCode::Storage, format!("{shown}: {e}"));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::new(
                ErrorCode::Storage,
                format!("creating {}: {e}", dir.display()),
            )
        })?;
    }
    let mut conn = Connection::open(path).map_err(|e| fail(&e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| fail(&e))?;
    // Checks the file before changing anything in it (a WAL switch, say).
    schema::prepare(&mut conn, &shown)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -65536;
         PRAGMA wal_autocheckpoint = 0;",
    )
    .map_err(|e| fail(&e))?;
    // Checkpoints run on a connection of their own, off the commit path.
    let checkpoint = Connection::open(path).map_err(|e| fail(&e))?;
    checkpoint
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| fail(&e))?;
    let reader = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| fail(&e))?;
    reader
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| fail(&e))?;
    Ok((conn, checkpoint, reader))
}

/// [`EventStore::list_streams`]: names in a range, in order, through the name index; the
/// first and last event of each through the (stream, version) index, without reading the
/// stream's other events. A stream without events drops out of the joins.
const LIST_SQL: &str = "SELECT s.name, l.version, f.recorded_ms, l.recorded_ms
    FROM streams s
    JOIN events l ON l.position =
        (SELECT position FROM events WHERE stream_id = s.id ORDER BY version DESC LIMIT 1)
    JOIN events f ON f.position =
        (SELECT position FROM events WHERE stream_id = s.id ORDER BY version ASC LIMIT 1)
    WHERE s.name > ?1 AND s.name >= ?2 AND s.name < ?3
    ORDER BY s.name LIMIT ?4";

/// The columns every event query selects, in the order [`decode_rows`] reads them.
const COLUMNS: &str = "e.position, s.name, e.version, e.id, e.event_type, e.payload_type, e.payload_version, e.payload, e.metadata, e.recorded_ms";

fn decode_rows(
    stmt: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
) -> Result<Vec<RecordedEvent>, Error> {
    let mut rows = stmt.query(params).map_err(storage("reading events"))?;
    let mut names: HashMap<String, StreamId> = HashMap::new();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(storage("reading events"))? {
        let get = |e: rusqlite::Error| storage("reading events")(e);
        let position: i64 = row.get(0).map_err(get)?;
        let name: String = row.get(1).map_err(get)?;
        let stream = match names.get(&name) {
            Some(s) => s.clone(),
            None => {
                let s = StreamId::new(&name)
                    .map_err(|e| e.context(format!("stored event at position {position}")))?;
                names.insert(name, s.clone());
                s
            }
        };
        let version: i64 = row.get(2).map_err(get)?;
        let id: Vec<u8> = row.get(3).map_err(get)?;
        let id = uuid::Uuid::from_slice(&id)
            .map(EventId::from_uuid)
            .map_err(|e| {
                Error::new(
                    ErrorCode::Decode,
                    format!("stored event at position {position}: bad id: {e}"),
                )
            })?;
        let event_type: String = row.get(4).map_err(get)?;
        let payload_type: String = row.get(5).map_err(get)?;
        let payload_version: u32 = row.get(6).map_err(get)?;
        let payload: String = row.get(7).map_err(get)?;
        let metadata: String = row.get(8).map_err(get)?;
        let recorded_ms: i64 = row.get(9).map_err(get)?;
        let at = |e: Error| e.context(format!("stored event {id} at position {position}"));
        let payload =
            Payload::from_json_text(payload_type, payload_version, payload).map_err(at)?;
        let metadata: EventMetadata = serde_json::from_str(&metadata)
            .map_err(|e| at(Error::new(ErrorCode::Decode, format!("bad metadata: {e}"))))?;
        out.push(RecordedEvent {
            stream,
            version: u(version),
            global_position: u(position),
            id,
            event_type,
            payload,
            metadata,
            recorded_at: chrono::DateTime::from_timestamp_millis(recorded_ms).unwrap_or_default(),
        });
    }
    Ok(out)
}

fn limit(max: usize) -> i64 {
    i64::try_from(max.min(MAX_READ)).unwrap_or(0)
}

/// Validates a batch (not empty, no id twice, each event valid) and encodes its metadata.
pub(crate) fn prepare(events: Vec<NewEvent>) -> Result<Vec<Prepared>, Error> {
    if events.is_empty() {
        return Err(Error::invalid_input("an append needs at least one event"));
    }
    let mut seen = HashSet::with_capacity(events.len());
    events
        .into_iter()
        .map(|e| {
            e.validate()?;
            if !seen.insert(e.id) {
                return Err(Error::invalid_input(format!(
                    "event {} appears twice in one batch",
                    e.id
                )));
            }
            let metadata = if e.metadata.is_empty() {
                "{}".to_owned()
            } else {
                serde_json::to_string(&e.metadata).map_err(|err| {
                    Error::new(ErrorCode::Encode, format!("event metadata: {err}"))
                })?
            };
            Ok(Prepared {
                id: e.id,
                event_type: e.event_type,
                payload: e.payload,
                metadata,
                conversation_id: e.metadata.conversation_id.map(|c| c.to_string()),
                agent: e.metadata.agent.map(String::from),
                publish: e.publish,
            })
        })
        .collect()
}

#[async_trait]
impl EventStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        let events = prepare(events)?;
        let (done, wait) = tokio::sync::oneshot::channel();
        self.inner.writer.send(Op::Append {
            stream: stream.clone(),
            expected,
            events,
            done,
        })?;
        wait.await.map_err(|_| stopped())?
    }

    async fn read(
        &self,
        stream: &StreamId,
        from: u64,
        max: usize,
        direction: Direction,
    ) -> Result<Vec<RecordedEvent>, Error> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let stream = stream.clone();
        self.with_reader(move |conn| {
            let sql = match direction {
                Direction::Forward => format!(
                    "SELECT {COLUMNS} FROM events e JOIN streams s ON s.id = e.stream_id
                     WHERE s.name = ?1 AND e.version >= ?2 ORDER BY e.version ASC LIMIT ?3"
                ),
                Direction::Backward => format!(
                    "SELECT {COLUMNS} FROM events e JOIN streams s ON s.id = e.stream_id
                     WHERE s.name = ?1 AND e.version <= ?2 ORDER BY e.version DESC LIMIT ?3"
                ),
            };
            let mut stmt = conn
                .prepare_cached(&sql)
                .map_err(storage("reading events"))?;
            decode_rows(&mut stmt, params![stream.as_str(), i(from), limit(max)])
        })
        .await
    }

    async fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, Error> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.with_reader(move |conn| {
            let sql = format!(
                "SELECT {COLUMNS} FROM events e JOIN streams s ON s.id = e.stream_id
                 WHERE e.position >= ?1 ORDER BY e.position ASC LIMIT ?2"
            );
            let mut stmt = conn
                .prepare_cached(&sql)
                .map_err(storage("reading events"))?;
            decode_rows(&mut stmt, params![i(from), limit(max)])
        })
        .await
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<Option<u64>, Error> {
        let stream = stream.clone();
        self.with_reader(move |conn| {
            let v: Option<i64> = conn
                .prepare_cached(
                    "SELECT MAX(e.version) FROM events e JOIN streams s ON s.id = e.stream_id
                     WHERE s.name = ?1",
                )
                .and_then(|mut s| s.query_row(params![stream.as_str()], |r| r.get(0)))
                .map_err(storage("reading a stream's version"))?;
            Ok(v.map(u))
        })
        .await
    }

    async fn save_snapshot(
        &self,
        stream: &StreamId,
        version: u64,
        state: Payload,
    ) -> Result<(), Error> {
        state.data()?;
        let (done, wait) = tokio::sync::oneshot::channel();
        self.inner.writer.send(Op::Snapshot {
            stream: stream.clone(),
            version,
            state,
            done,
        })?;
        wait.await.map_err(|_| stopped())?
    }

    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<(u64, Payload)>, Error> {
        let stream = stream.clone();
        self.with_reader(move |conn| {
            let row: Option<(i64, String, u32, String)> = conn
                .prepare_cached(
                    "SELECT n.version, n.payload_type, n.payload_version, n.payload
                     FROM snapshots n JOIN streams s ON s.id = n.stream_id WHERE s.name = ?1",
                )
                .and_then(|mut s| {
                    s.query_row(params![stream.as_str()], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .optional()
                })
                .map_err(storage("reading a snapshot"))?;
            row.map(|(version, ty, ver, json)| {
                let payload = Payload::from_json_text(ty, ver, json)
                    .map_err(|e| e.context(format!("snapshot of stream `{stream}`")))?;
                Ok((u(version), payload))
            })
            .transpose()
        })
        .await
    }

    async fn outbox_pending(&self, max: usize) -> Result<Vec<RecordedEvent>, Error> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.with_reader(move |conn| {
            let sql = format!(
                "SELECT {COLUMNS} FROM outbox o JOIN events e ON e.position = o.position
                 JOIN streams s ON s.id = e.stream_id ORDER BY o.position ASC LIMIT ?1"
            );
            let mut stmt = conn
                .prepare_cached(&sql)
                .map_err(storage("reading the outbox"))?;
            decode_rows(&mut stmt, params![limit(max)])
        })
        .await
    }

    async fn outbox_mark_sent(&self, positions: &[u64]) -> Result<(), Error> {
        if positions.is_empty() {
            return Ok(());
        }
        let (done, wait) = tokio::sync::oneshot::channel();
        self.inner.writer.send(Op::MarkSent {
            positions: positions.to_vec(),
            done,
        })?;
        wait.await.map_err(|_| stopped())?
    }

    async fn list_streams(
        &self,
        prefix: &str,
        after: Option<&StreamId>,
        max: usize,
    ) -> Result<Vec<StreamSummary>, Error> {
        validate_prefix(prefix)?;
        if max == 0 {
            return Ok(Vec::new());
        }
        let lower = prefix.to_owned();
        let upper = prefix_upper_bound(prefix);
        let after = after.map_or_else(String::new, |a| a.as_str().to_owned());
        self.with_reader(move |conn| {
            let mut stmt = conn
                .prepare_cached(LIST_SQL)
                .map_err(storage("listing streams"))?;
            let mut rows = stmt
                .query(params![after, lower, upper, limit(max)])
                .map_err(storage("listing streams"))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(storage("listing streams"))? {
                let get = |e: rusqlite::Error| storage("listing streams")(e);
                let name: String = row.get(0).map_err(get)?;
                let version: i64 = row.get(1).map_err(get)?;
                let first: i64 = row.get(2).map_err(get)?;
                let last: i64 = row.get(3).map_err(get)?;
                out.push(StreamSummary {
                    stream: StreamId::new(&name)
                        .map_err(|e| e.context("a stored stream name".to_owned()))?,
                    version: u(version),
                    first_recorded_at: time(first),
                    last_recorded_at: time(last),
                });
            }
            Ok(out)
        })
        .await
    }

    async fn delete_stream(&self, stream: &StreamId) -> Result<u64, Error> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.inner.writer.send(Op::Delete {
            stream: stream.clone(),
            done,
        })?;
        wait.await.map_err(|_| stopped())?
    }

    async fn query(
        &self,
        query: &EventQuery,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, Error> {
        query.validate()?;
        if max == 0 {
            return Ok(Vec::new());
        }
        let (sql, args) = query_sql(query, from, max);
        self.with_reader(move |conn| {
            let mut stmt = conn
                .prepare_cached(&sql)
                .map_err(storage("querying events"))?;
            decode_rows(&mut stmt, rusqlite::params_from_iter(args))
        })
        .await
    }
}

fn time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The SQL of an [`EventQuery`] and its arguments, as rusqlite values.
pub(crate) fn query_sql(
    query: &EventQuery,
    from: u64,
    max: usize,
) -> (String, Vec<rusqlite::types::Value>) {
    let (sql, args) = crate::query::query_sql(Dialect::Sqlite, COLUMNS, query, from, max);
    let args = args
        .into_iter()
        .map(|a| match a {
            Arg::Int(v) => rusqlite::types::Value::Integer(v),
            Arg::Text(t) => rusqlite::types::Value::Text(t),
        })
        .collect();
    (sql, args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadre_core::{AgentId, ConversationId};
    use rusqlite::types::Value;

    /// SQLite's plan for `sql`, one step a line.
    fn plan(conn: &Connection, sql: &str, args: Vec<Value>) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let steps: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        steps.join("\n")
    }

    #[tokio::test]
    async fn queries_and_listings_use_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        drop(SqliteStore::open(&path).await.unwrap());
        let conn = Connection::open(&path).unwrap();
        let now = chrono::Utc::now();
        let q = EventQuery::new;
        let agent = || AgentId::new("a").unwrap();
        for (query, index) in [
            (
                q().with_conversation(ConversationId::new()),
                "events_conversation",
            ),
            (q().with_agent(agent()), "events_agent"),
            (
                q().with_conversation(ConversationId::new())
                    .with_event_type("order.*")
                    .with_stream_prefix("orders-"),
                "events_conversation",
            ),
            (q().with_agent(agent()).with_since(now), "events_agent"),
            (
                q().with_since(now - chrono::Duration::hours(1))
                    .with_until(now),
                "events_recorded",
            ),
        ] {
            let (sql, args) = query_sql(&query, 1, 100);
            let plan = plan(&conn, &sql, args);
            assert!(plan.contains(index), "{query:?}:\n{plan}");
            assert!(!plan.contains("SCAN e"), "{query:?}:\n{plan}");
        }
        let plan = plan(
            &conn,
            LIST_SQL,
            vec![
                Value::Text(String::new()),
                Value::Text("orders-".into()),
                Value::Text(crate::query::prefix_upper_bound("orders-")),
                Value::Integer(100),
            ],
        );
        assert!(!plan.contains("SCAN"), "{plan}");
        assert!(plan.contains("SEARCH s USING"), "{plan}");
    }
}
