//! The embedded durable backend: one SQLite file (WAL mode) in the node's data directory.
//!
//! Deliveries are served from memory by the shared engine; SQLite is the journal. A publish
//! returns once its message is committed; concurrent publishes, acks and retries are folded
//! into one transaction by a writer thread (group commit), and a transaction stores each
//! stream's new messages as one segment row. Leases are not stored: after a crash every
//! unacknowledged message is delivered again. On open, the engine is rebuilt from the journal.
//!
//! One process writes a database at a time (a lock file beside it says which); others may
//! open it read-only for inspection.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cadre_core::{Envelope, Error, ErrorCode, Group, Topic};
use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{Core, Persist, forward_bus};
use crate::engine::{Engine, Entry, Track};
use crate::{Attempt, BusOptions, Counters, DeadLetter, ReadFrom, Stored};

mod codec;
mod writer;

use codec::Record;
use writer::{Op, Writer, storage};

/// The journal: a writer thread for changes, a connection for reads.
#[derive(Debug)]
pub(crate) struct Journal {
    writer: Option<Writer>,
    reader: Arc<Mutex<Connection>>,
    path: PathBuf,
}

const CONTROL_TABLE: &str = "CREATE TABLE IF NOT EXISTS control (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
)";

#[derive(serde::Serialize, serde::Deserialize)]
struct TrackRecord {
    count: u32,
    history: Vec<Attempt>,
    last_error: Option<Error>,
}

impl Journal {
    async fn submit(&self, op: Op) -> Result<(), Error> {
        match &self.writer {
            Some(w) => w.submit(op).await,
            None => Err(read_only_error()),
        }
    }

    async fn with_reader<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || f(&reader.lock()))
            .await
            .map_err(|e| Error::internal(format!("sqlite reader task: {e}")))?
    }
}

fn read_only_error() -> Error {
    Error::new(
        ErrorCode::Unavailable,
        "the bus database is open read-only (another process holds it); stop that process to change it",
    )
}

impl Persist for Journal {
    const IN_MEMORY: bool = false;

    async fn append(&self, stream: &Topic, entries: &[Arc<Entry>]) -> Result<(), Error> {
        let records = entries
            .iter()
            .map(|e| {
                Ok(Record {
                    offset: e.offset,
                    published_ms: e.published_ms,
                    body: e.envelope.to_json()?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        self.submit(Op::Append {
            stream: stream.clone(),
            records,
        })
        .await
    }

    async fn acked(&self, stream: &Topic, acked: Vec<(Group, u64)>) -> Result<(), Error> {
        self.submit(Op::Ack {
            stream: stream.clone(),
            items: acked,
        })
        .await
    }

    async fn retried(
        &self,
        stream: &Topic,
        group: &Group,
        offset: u64,
        track: Track,
        not_before_ms: u64,
    ) -> Result<(), Error> {
        let record = TrackRecord {
            count: track.count,
            history: track.history().to_vec(),
            last_error: track.last_error().cloned(),
        };
        let track = serde_json::to_string(&record)
            .map_err(|e| Error::new(ErrorCode::Encode, format!("retry record: {e}")))?;
        self.submit(Op::Retry {
            stream: stream.clone(),
            group: group.clone(),
            offset,
            not_before: not_before_ms,
            track,
        })
        .await
    }

    async fn buried(&self, letters: Vec<DeadLetter>) -> Result<(), Error> {
        if letters.is_empty() {
            return Ok(());
        }
        self.submit(Op::Bury { letters }).await
    }

    async fn group_created(&self, stream: &Topic, group: &Group, start: u64) -> Result<(), Error> {
        self.submit(Op::CreateGroup {
            stream: stream.clone(),
            group: group.clone(),
            start,
        })
        .await
    }

    async fn dlq_removed(&self, ids: Vec<u64>) -> Result<(), Error> {
        self.submit(Op::DlqRemove { ids }).await
    }

    async fn read(
        &self,
        stream: &Topic,
        from: ReadFrom,
        max: usize,
    ) -> Option<Result<Vec<Stored>, Error>> {
        let stream = stream.clone();
        Some(
            self.with_reader(move |conn| read_segments(conn, &stream, from, max))
                .await,
        )
    }

    async fn control(&self, key: &str) -> Option<Result<Option<crate::ControlValue>, Error>> {
        let key = key.to_owned();
        Some(
            self.with_reader(move |conn| {
                let row = conn
                    .query_row(
                        "SELECT value, updated_ms FROM control WHERE key = ?1",
                        params![key],
                        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
                    )
                    .optional();
                match row {
                    Ok(row) => Ok(row.map(|(value, ms)| crate::ControlValue {
                        value,
                        updated_ms: u64::try_from(ms).unwrap_or(0),
                    })),
                    // A database written before control registers existed has no table yet.
                    Err(e) if e.to_string().contains("no such table") => Ok(None),
                    Err(e) => Err(storage("reading a control register")(e)),
                }
            })
            .await,
        )
    }

    async fn set_control(
        &self,
        key: &str,
        value: Option<&str>,
        now_ms: u64,
    ) -> Option<Result<(), Error>> {
        // A connection of its own: this works on a read-only handle and while another process
        // owns the database (SQLite serialises the two writers; the bus writer holds no long
        // transactions).
        let path = self.path.clone();
        let key = key.to_owned();
        let value = value.map(str::to_owned);
        let run = move || -> Result<(), Error> {
            let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)
                .map_err(|e| Error::new(ErrorCode::Storage, format!("{}: {e}", path.display())))?;
            conn.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(storage("setting a busy timeout"))?;
            conn.execute_batch(CONTROL_TABLE)
                .map_err(storage("creating the control table"))?;
            match value {
                Some(value) => conn.execute(
                    "INSERT INTO control (key, value, updated_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
                    params![key, value, i64::try_from(now_ms).unwrap_or(i64::MAX)],
                ),
                None => conn.execute("DELETE FROM control WHERE key = ?1", params![key]),
            }
            .map_err(storage("writing a control register"))?;
            Ok(())
        };
        Some(
            tokio::task::spawn_blocking(run)
                .await
                .map_err(|e| Error::internal(format!("sqlite control task: {e}")))
                .and_then(|r| r),
        )
    }

    async fn backfill(&self, stream: &Topic, before: u64) -> Result<(Vec<Arc<Entry>>, u64), Error> {
        let stream = stream.clone();
        self.with_reader(move |conn| {
            let Some(sid) = find_stream(conn, &stream)? else {
                return Ok((Vec::new(), before));
            };
            let mut entries = Vec::new();
            for record in records_in(conn, sid, "first_offset < ?2", before)? {
                if record.offset < before {
                    let env = Envelope::from_json(&record.body)?;
                    entries.push(Arc::new(Entry::new(
                        record.offset,
                        record.published_ms,
                        env,
                    )));
                }
            }
            let first = entries.iter().map(|e| e.offset).min().unwrap_or(before);
            Ok((entries, first))
        })
        .await
    }
}

fn find_stream(conn: &Connection, stream: &Topic) -> Result<Option<i64>, Error> {
    conn.query_row(
        "SELECT id FROM streams WHERE name = ?1",
        params![stream.as_str()],
        |r| r.get(0),
    )
    .optional()
    .map_err(storage("finding a stream"))
}

fn records_in(
    conn: &Connection,
    sid: i64,
    condition: &str,
    value: u64,
) -> Result<Vec<Record>, Error> {
    let sql = format!(
        "SELECT data FROM segments WHERE stream_id = ?1 AND {condition} ORDER BY first_offset"
    );
    let mut stmt = conn.prepare(&sql).map_err(storage("reading segments"))?;
    let rows = stmt
        .query_map(
            params![sid, i64::try_from(value).unwrap_or(i64::MAX)],
            |r| r.get::<_, Vec<u8>>(0),
        )
        .map_err(storage("reading segments"))?;
    let mut out = Vec::new();
    for data in rows {
        out.extend(codec::decode(&data.map_err(storage("reading segments"))?)?);
    }
    out.sort_by_key(|r| r.offset);
    Ok(out)
}

fn read_segments(
    conn: &Connection,
    stream: &Topic,
    from: ReadFrom,
    max: usize,
) -> Result<Vec<Stored>, Error> {
    let sid = find_stream(conn, stream)?
        .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("no stream `{stream}`")))?;
    let records = match from {
        ReadFrom::Offset(o) => records_in(conn, sid, "last_offset >= ?2", o)?
            .into_iter()
            .filter(|r| r.offset >= o)
            .collect::<Vec<_>>(),
        ReadFrom::Time(t) => {
            let ms = u64::try_from(t.timestamp_millis()).unwrap_or(0);
            records_in(conn, sid, "last_ms >= ?2", ms)?
                .into_iter()
                .filter(|r| r.published_ms >= ms)
                .collect()
        }
    };
    records
        .into_iter()
        .take(max)
        .map(|r| {
            let envelope = Envelope::from_json(&r.body).map_err(|e| {
                e.context(format!("stored message {} of stream `{stream}`", r.offset))
            })?;
            Ok(Stored {
                offset: r.offset,
                published_ms: r.published_ms,
                envelope,
            })
        })
        .collect()
}

#[derive(Debug)]
struct Inner {
    core: Core<Journal>,
    read_only: bool,
    path: PathBuf,
    _lock: Option<File>,
}

/// The embedded durable bus. Cheap to clone; clones share the database.
#[derive(Debug, Clone)]
pub struct SqliteBus {
    inner: Arc<Inner>,
}

impl SqliteBus {
    /// Opens (creating if needed) the database at `path` for reading and writing, and rebuilds
    /// the bus state from it.
    ///
    /// # Errors
    /// [`ErrorCode::Unavailable`] when another process has the database open for writing;
    /// [`ErrorCode::Storage`] when the file cannot be opened or is not a cadre bus database.
    pub async fn open(path: impl AsRef<Path>, opts: BusOptions) -> Result<Self, Error> {
        Self::open_mode(path.as_ref(), opts, false).await
    }

    /// Opens an existing database read-only, even while another process writes it: the state
    /// is a snapshot taken now. Changes (publish, ack, ...) are refused.
    ///
    /// # Errors
    /// [`ErrorCode::NotFound`] when there is no database at `path`.
    pub async fn open_read_only(path: impl AsRef<Path>, opts: BusOptions) -> Result<Self, Error> {
        Self::open_mode(path.as_ref(), opts, true).await
    }

    async fn open_mode(path: &Path, mut opts: BusOptions, read_only: bool) -> Result<Self, Error> {
        let path = path.to_path_buf();
        let disk_retention = opts.retention as u64;
        // Replay reads the disk; memory holds only what groups still need.
        opts.retention = 0;
        let engine = Arc::new(Engine::new(opts));
        let engine2 = Arc::clone(&engine);
        let path2 = path.clone();
        let (lock, writer_conn, reader_conn) =
            tokio::task::spawn_blocking(move || open_files(&path2, read_only, &engine2))
                .await
                .map_err(|e| Error::internal(format!("opening the bus database: {e}")))??;
        let writer = match writer_conn {
            Some((conn, checkpoint)) => Some(Writer::spawn(
                conn,
                checkpoint,
                Arc::clone(&engine),
                disk_retention,
            )?),
            None => None,
        };
        let journal = Journal {
            writer,
            reader: Arc::new(Mutex::new(reader_conn)),
            path: path.clone(),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                core: Core::new(engine, journal),
                read_only,
                path,
                _lock: lock,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Whether this handle was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    fn core(&self) -> Result<&Core<Journal>, Error> {
        if self.inner.read_only {
            Err(read_only_error())
        } else {
            Ok(&self.inner.core)
        }
    }

    fn reader(&self) -> &Core<Journal> {
        &self.inner.core
    }
}

forward_bus!(SqliteBus, "sqlite");

type Opened = (Option<File>, Option<(Connection, Connection)>, Connection);

fn open_files(path: &Path, read_only: bool, engine: &Engine) -> Result<Opened, Error> {
    let shown = path.display().to_string();
    if read_only {
        if !path.exists() {
            return Err(Error::new(
                ErrorCode::NotFound,
                format!("no bus database at {shown}"),
            ));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::new(ErrorCode::Storage, format!("{shown}: {e}")))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(storage("setting a busy timeout"))?;
        check_version(&conn, &shown)?;
        restore(&conn, engine)?;
        return Ok((None, None, conn));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::new(
                ErrorCode::Storage,
                format!("creating {}: {e}", dir.display()),
            )
        })?;
    }
    let lock = take_lock(path)?;
    let conn = Connection::open(path)
        .map_err(|e| Error::new(ErrorCode::Storage, format!("{shown}: {e}")))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -65536;
         PRAGMA wal_autocheckpoint = 0;",
    )
    .map_err(|e| Error::new(ErrorCode::Storage, format!("{shown}: {e}")))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(storage("setting a busy timeout"))?;
    conn.execute_batch(codec::SCHEMA)
        .and_then(|()| conn.execute_batch(CONTROL_TABLE))
        .map_err(|e| Error::new(ErrorCode::Storage, format!("{shown}: creating tables: {e}")))?;
    let version: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(storage("reading the schema version"))?;
    if version.is_none() {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
            params![codec::SCHEMA_VERSION.to_string()],
        )
        .map_err(storage("writing the schema version"))?;
    }
    check_version(&conn, &shown)?;
    restore(&conn, engine)?;
    let reader = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| Error::new(ErrorCode::Storage, format!("{shown}: {e}")))?;
    let checkpoint = Connection::open(path)
        .map_err(|e| Error::new(ErrorCode::Storage, format!("{shown}: {e}")))?;
    checkpoint
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(storage("setting a busy timeout"))?;
    Ok((Some(lock), Some((conn, checkpoint)), reader))
}

fn check_version(conn: &Connection, shown: &str) -> Result<(), Error> {
    let version: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| {
            Error::new(
                ErrorCode::Storage,
                format!("{shown} is not a cadre bus database: {e}"),
            )
        })?;
    match version.as_deref() {
        Some(v) if v == codec::SCHEMA_VERSION.to_string() => Ok(()),
        other => Err(Error::new(
            ErrorCode::Storage,
            format!(
                "{shown}: bus schema version {} is not supported (this build uses {})",
                other.unwrap_or("none"),
                codec::SCHEMA_VERSION
            ),
        )),
    }
}

fn take_lock(path: &Path) -> Result<File, Error> {
    let lock_path = PathBuf::from(format!("{}.lock", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::new(ErrorCode::Storage, format!("{}: {e}", lock_path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
            return Err(Error::new(
                ErrorCode::Unavailable,
                format!(
                    "{} is in use by another process (pid {}); stop it, or open the database read-only",
                    path.display(),
                    holder.trim()
                ),
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(Error::new(
                ErrorCode::Storage,
                format!("locking {}: {e}", lock_path.display()),
            ));
        }
    }
    file.set_len(0)
        .and_then(|()| write!(file, "{}", std::process::id()))
        .map_err(|e| Error::new(ErrorCode::Storage, format!("{}: {e}", lock_path.display())))?;
    Ok(file)
}

/// Rebuilds the engine from the journal.
fn restore(conn: &Connection, engine: &Engine) -> Result<(), Error> {
    let now = engine.now();
    let opts = &engine.opts;
    let streams: Vec<(i64, String, i64, String)> = conn
        .prepare("SELECT id, name, next_offset, counters FROM streams ORDER BY id")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect()
        })
        .map_err(storage("reading streams"))?;
    for (sid, name, next, counters) in streams {
        // Offsets and counters are saved at compaction; messages stored since are in segments.
        let stored_next: i64 = conn
            .query_row(
                "SELECT COALESCE(MAX(last_offset) + 1, 0) FROM segments WHERE stream_id = ?1",
                params![sid],
                |r| r.get(0),
            )
            .map_err(storage("reading offsets"))?;
        let next = next.max(stored_next);
        let topic = Topic::new(&name)
            .map_err(|e| Error::new(ErrorCode::Storage, format!("stored stream name: {e}")))?;
        let counters: Counters = serde_json::from_str(&counters).unwrap_or_default();
        let groups: Vec<(String, i64, i64)> = conn
            .prepare("SELECT name, start_offset, floor FROM groups WHERE stream_id = ?1")
            .and_then(|mut s| {
                s.query_map(params![sid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(storage("reading groups"))?;
        let min_floor = groups.iter().map(|g| g.2).min().unwrap_or(next).max(0) as u64;
        let cell = engine.stream(&topic);
        let mut state = cell.state.lock();
        for record in records_in(conn, sid, "last_offset >= ?2", min_floor)? {
            if record.offset < min_floor {
                continue;
            }
            match Envelope::from_json(&record.body) {
                Ok(env) => state.restore_entry(Arc::new(Entry::new(
                    record.offset,
                    record.published_ms,
                    env,
                ))),
                Err(e) => tracing::error!(
                    stream = %topic,
                    offset = record.offset,
                    error = %e,
                    "skipping a stored message that does not decode"
                ),
            }
        }
        state.restore_next_offset(next.max(0) as u64, counters);
        for (group, start, floor) in groups {
            let group = Group::new(&group)
                .map_err(|e| Error::new(ErrorCode::Storage, format!("stored group name: {e}")))?;
            let ranges: Vec<(u64, u64)> = conn
                .prepare("SELECT first, last FROM acks WHERE stream_id = ?1 AND grp = ?2")
                .and_then(|mut s| {
                    s.query_map(params![sid, group.as_str()], |r| {
                        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
                    })?
                    .collect()
                })
                .map_err(storage("reading acks"))?;
            // Disjoint, sorted ranges above the floor: membership is a binary search.
            let (floor, ranges) = codec::compact(ranges, floor.max(0) as u64);
            let finished = move |offset: u64| {
                offset < floor || {
                    let i = ranges.partition_point(|(first, _)| *first <= offset);
                    i > 0 && ranges[i - 1].1 >= offset
                }
            };
            let mut tracks = HashMap::new();
            let rows: Vec<(i64, i64, String)> = conn
                .prepare("SELECT offset, not_before, track FROM retries WHERE stream_id = ?1 AND grp = ?2")
                .and_then(|mut s| {
                    s.query_map(params![sid, group.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect()
                })
                .map_err(storage("reading retries"))?;
            for (offset, not_before, track) in rows {
                if let Ok(t) = serde_json::from_str::<TrackRecord>(&track) {
                    tracks.insert(
                        offset as u64,
                        (
                            Track::restored(t.count, t.history, t.last_error),
                            not_before as u64,
                        ),
                    );
                }
            }
            state.restore_group(&group, start.max(0) as u64, &finished, tracks, now, opts);
        }
        state.settle(opts);
    }
    let letters: Vec<String> = conn
        .prepare("SELECT record FROM dead_letters ORDER BY id")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(storage("reading dead letters"))?;
    let mut dead = engine.dead.lock();
    for record in letters {
        match serde_json::from_str::<DeadLetter>(&record) {
            Ok(dl) => dead.restore(dl),
            Err(e) => tracing::error!(error = %e, "skipping a dead letter that does not decode"),
        }
    }
    Ok(())
}
