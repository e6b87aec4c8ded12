//! The writer thread: owns the write connection and commits whatever has queued up in one
//! transaction (group commit), then answers every caller. Each request runs in a savepoint of
//! its own, so a request that fails (a version conflict) leaves the others of the transaction
//! untouched.
//!
//! Global positions are rowids, and SQLite hands out the largest rowid plus one. When a
//! deleted stream held the newest events, that would hand their positions out again; so the
//! delete records the highest deleted position in `store_meta` (the position floor), and the
//! next insert stores its first event right above it and clears it.

use std::collections::HashMap;
use std::sync::mpsc;
use std::thread::JoinHandle;

use cadre_core::{Error, ErrorCode, Payload};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::schema::POSITION_FLOOR;
use crate::{AppendResult, EventId, EventPosition, ExpectedVersion, StreamId};

/// The most requests folded into one transaction.
const MAX_BATCH: usize = 1024;
/// Ask the checkpointer to copy the WAL back into the database every this many transactions.
const CHECKPOINT_EVERY: u64 = 64;

/// An event ready to insert: validated, its JSON encoded by the caller.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) id: EventId,
    pub(crate) event_type: String,
    pub(crate) payload: Payload,
    pub(crate) metadata: String,
    /// The metadata's conversation id (hyphenated), for its indexed column.
    pub(crate) conversation_id: Option<String>,
    /// The metadata's agent, for its indexed column.
    pub(crate) agent: Option<String>,
    /// Whether it gets an outbox entry.
    pub(crate) publish: bool,
}

/// A change to persist, with where to send its result.
#[derive(Debug)]
pub(super) enum Op {
    Append {
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<Prepared>,
        done: tokio::sync::oneshot::Sender<Result<AppendResult, Error>>,
    },
    Snapshot {
        stream: StreamId,
        version: u64,
        state: Payload,
        done: tokio::sync::oneshot::Sender<Result<(), Error>>,
    },
    MarkSent {
        positions: Vec<u64>,
        done: tokio::sync::oneshot::Sender<Result<(), Error>>,
    },
    Delete {
        stream: StreamId,
        done: tokio::sync::oneshot::Sender<Result<u64, Error>>,
    },
}

/// Handle to the writer thread. Dropping it finishes queued work and stops the thread.
#[derive(Debug)]
pub(super) struct Writer {
    tx: Option<mpsc::Sender<Op>>,
    thread: Option<JoinHandle<()>>,
    checkpointer: Option<JoinHandle<()>>,
}

pub(super) fn storage(context: &str) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::new(ErrorCode::Storage, format!("{context}: {e}"))
}

pub(super) fn stopped() -> Error {
    Error::new(
        ErrorCode::Unavailable,
        "the sqlite store writer has stopped",
    )
}

pub(super) fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Writer {
    /// Starts the writer on `conn` and, on `checkpoint`, a thread that copies the WAL back
    /// into the database (PASSIVE checkpoints) so commits never wait for it.
    pub(super) fn spawn(
        conn: Connection,
        checkpoint: Connection,
        path: String,
    ) -> Result<Self, Error> {
        let (tx, rx) = mpsc::channel::<Op>();
        let (kick, kicked) = mpsc::sync_channel::<()>(1);
        let spawn_error =
            |e: std::io::Error| Error::internal(format!("starting the store writer: {e}"));
        let checkpointer = std::thread::Builder::new()
            .name("cadre-store-sqlite-checkpoint".into())
            .spawn(move || {
                while kicked.recv().is_ok() {
                    if let Err(e) =
                        checkpoint.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "event store checkpoint failed; will retry");
                    }
                }
                let _ = checkpoint.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            })
            .map_err(spawn_error)?;
        let thread = std::thread::Builder::new()
            .name("cadre-store-sqlite-writer".into())
            .spawn(move || run(conn, &rx, &kick, &path))
            .map_err(spawn_error)?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            checkpointer: Some(checkpointer),
        })
    }

    pub(super) fn send(&self, op: Op) -> Result<(), Error> {
        self.tx
            .as_ref()
            .ok_or_else(stopped)?
            .send(op)
            .map_err(|_| stopped())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // The writer's end of the kick channel is gone with its thread: the checkpointer
        // truncates the WAL and stops.
        if let Some(thread) = self.checkpointer.take() {
            let _ = thread.join();
        }
    }
}

/// A finished request whose answer waits for the commit.
enum Answer {
    Append(
        tokio::sync::oneshot::Sender<Result<AppendResult, Error>>,
        Result<AppendResult, Error>,
    ),
    Unit(
        tokio::sync::oneshot::Sender<Result<(), Error>>,
        Result<(), Error>,
    ),
    Count(
        tokio::sync::oneshot::Sender<Result<u64, Error>>,
        Result<u64, Error>,
    ),
}

impl Answer {
    fn send(self, commit: &Result<(), Error>) {
        /// The request's own result once the transaction committed, else the commit's error.
        fn settle<T>(r: Result<T, Error>, commit: &Result<(), Error>) -> Result<T, Error> {
            match commit {
                Ok(()) => r,
                Err(e) => Err(e.clone()),
            }
        }
        match self {
            Self::Append(done, r) => {
                let _ = done.send(settle(r, commit));
            }
            Self::Unit(done, r) => {
                let _ = done.send(settle(r, commit));
            }
            Self::Count(done, r) => {
                let _ = done.send(settle(r, commit));
            }
        }
    }
}

fn run(mut conn: Connection, rx: &mpsc::Receiver<Op>, kick: &mpsc::SyncSender<()>, path: &str) {
    let mut transactions: u64 = 0;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut answers = Vec::with_capacity(batch.len());
        let commit = commit(&mut conn, batch, &mut answers)
            .map_err(|e| e.context(format!("event store {path}")));
        if let Err(e) = &commit {
            tracing::warn!(error = %e, "event store transaction failed");
        }
        for answer in answers {
            answer.send(&commit);
        }
        transactions += 1;
        if transactions.is_multiple_of(CHECKPOINT_EVERY) {
            // Full means a checkpoint is already due; nothing to add.
            let _ = kick.try_send(());
        }
    }
}

/// What the transaction knows of a stream: its row id (if it has one) and version.
#[derive(Clone, Copy)]
struct StreamState {
    sid: Option<i64>,
    version: u64,
}

fn commit(conn: &mut Connection, ops: Vec<Op>, answers: &mut Vec<Answer>) -> Result<(), Error> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    // The answers must be sent even when beginning the transaction fails.
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let err = storage("beginning a transaction")(e);
            for op in ops {
                answers.push(fail(op, &err));
            }
            return Err(err);
        }
    };
    // Streams read or changed in this transaction (read at its start: another process may
    // have written since the last one).
    let mut streams: HashMap<StreamId, StreamState> = HashMap::new();
    for op in ops {
        let answer = match op {
            Op::Append {
                stream,
                expected,
                events,
                done,
            } => {
                let r = append_or_dedupe(&mut tx, &mut streams, &stream, expected, &events, now_ms);
                Answer::Append(done, r)
            }
            Op::Snapshot {
                stream,
                version,
                state,
                done,
            } => {
                let r = in_savepoint(&mut tx, |c| {
                    snapshot(c, &mut streams, &stream, version, &state, now_ms)
                })
                .and_then(|r| r);
                Answer::Unit(done, r)
            }
            Op::MarkSent { positions, done } => {
                let r = in_savepoint(&mut tx, |c| mark_sent(c, &positions)).and_then(|r| r);
                Answer::Unit(done, r)
            }
            Op::Delete { stream, done } => {
                let r = in_savepoint(&mut tx, |c| delete(c, &streams, &stream)).and_then(|r| r);
                if r.is_ok() {
                    // Gone: a later append in this transaction starts a new stream.
                    streams.insert(
                        stream,
                        StreamState {
                            sid: None,
                            version: 0,
                        },
                    );
                }
                Answer::Count(done, r)
            }
        };
        answers.push(answer);
    }
    tx.commit().map_err(storage("committing"))
}

fn fail(op: Op, err: &Error) -> Answer {
    match op {
        Op::Append { done, .. } => Answer::Append(done, Err(err.clone())),
        Op::Snapshot { done, .. } | Op::MarkSent { done, .. } => {
            Answer::Unit(done, Err(err.clone()))
        }
        Op::Delete { done, .. } => Answer::Count(done, Err(err.clone())),
    }
}

/// Runs `f` in a savepoint: its changes stay only when it succeeds. The outer error is the
/// savepoint's own.
fn in_savepoint<T, E>(
    tx: &mut rusqlite::Transaction<'_>,
    f: impl FnOnce(&Connection) -> Result<T, E>,
) -> Result<Result<T, E>, Error> {
    let sp = tx.savepoint().map_err(storage("opening a savepoint"))?;
    match f(&sp) {
        Ok(r) => {
            sp.commit().map_err(storage("releasing a savepoint"))?;
            Ok(Ok(r))
        }
        // Dropping the savepoint rolls it back.
        Err(e) => Ok(Err(e)),
    }
}

fn stream_state(
    conn: &Connection,
    streams: &HashMap<StreamId, StreamState>,
    stream: &StreamId,
) -> Result<StreamState, Error> {
    if let Some(s) = streams.get(stream) {
        return Ok(*s);
    }
    let sid: Option<i64> = conn
        .prepare_cached("SELECT id FROM streams WHERE name = ?1")
        .and_then(|mut s| {
            s.query_row(params![stream.as_str()], |r| r.get(0))
                .optional()
        })
        .map_err(storage("finding a stream"))?;
    let version = match sid {
        None => 0,
        Some(sid) => conn
            .prepare_cached("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?1")
            .and_then(|mut s| s.query_row(params![sid], |r| r.get::<_, i64>(0)))
            .map(u)
            .map_err(storage("reading a stream's version"))?,
    };
    Ok(StreamState { sid, version })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

fn append(
    conn: &Connection,
    streams: &mut HashMap<StreamId, StreamState>,
    stream: &StreamId,
    expected: ExpectedVersion,
    events: &[Prepared],
    now_ms: i64,
) -> Result<AppendResult, Insert> {
    let state = stream_state(conn, streams, stream).map_err(Insert::Failed)?;
    let actual = (state.version > 0).then_some(state.version);
    if !expected.matches(actual) {
        // A retry of an append that did happen is not a conflict.
        return match already_stored(conn, stream, state, events) {
            Ok(Some(done)) => Ok(done),
            Ok(None) => Err(Insert::Failed(expected.conflict(stream, actual))),
            Err(e) => Err(Insert::Failed(e)),
        };
    }
    match insert(conn, stream, state, events, now_ms) {
        Ok((result, sid)) => {
            streams.insert(
                stream.clone(),
                StreamState {
                    sid: Some(sid),
                    version: result.stream_version,
                },
            );
            Ok(result)
        }
        Err(Insert::Duplicate) => Err(Insert::Duplicate),
        Err(Insert::Failed(e)) => Err(Insert::Failed(e)),
    }
}

/// Appends, or, when an id of the batch is already stored, answers the re-append.
fn append_or_dedupe(
    tx: &mut rusqlite::Transaction<'_>,
    streams: &mut HashMap<StreamId, StreamState>,
    stream: &StreamId,
    expected: ExpectedVersion,
    events: &[Prepared],
    now_ms: i64,
) -> Result<AppendResult, Error> {
    match in_savepoint(tx, |c| append(c, streams, stream, expected, events, now_ms))? {
        Ok(done) => Ok(done),
        Err(Insert::Failed(e)) => Err(e),
        // The savepoint rolled the partial batch back: look the ids up in what was there.
        Err(Insert::Duplicate) => {
            let state = stream_state(tx, streams, stream)?;
            already_stored(tx, stream, state, events)?.ok_or_else(|| {
                Error::internal(format!(
                    "stream `{stream}`: a unique constraint failed but no event id of the batch is stored"
                ))
            })
        }
    }
}

enum Insert {
    Duplicate,
    Failed(Error),
}

fn insert(
    conn: &Connection,
    stream: &StreamId,
    state: StreamState,
    events: &[Prepared],
    now_ms: i64,
) -> Result<(AppendResult, i64), Insert> {
    let failed = |ctx: &'static str| move |e: rusqlite::Error| Insert::Failed(storage(ctx)(e));
    let sid = match state.sid {
        Some(sid) => sid,
        None => {
            conn.prepare_cached("INSERT INTO streams (name) VALUES (?1)")
                .and_then(|mut s| s.execute(params![stream.as_str()]))
                .map_err(failed("creating a stream"))?;
            conn.last_insert_rowid()
        }
    };
    // NULL lets SQLite pick the position (the largest plus one), except right above a floor.
    let mut position = position_floor(conn).map_err(Insert::Failed)?;
    let mut ins = conn
        .prepare_cached(
            "INSERT INTO events (position, stream_id, version, id, event_type, payload_type, payload_version, payload, metadata, recorded_ms, conversation_id, agent)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .map_err(failed("preparing an insert"))?;
    let mut outbox = conn
        .prepare_cached("INSERT INTO outbox (position) VALUES (?1)")
        .map_err(failed("preparing an insert"))?;
    let mut positions = Vec::with_capacity(events.len());
    let mut version = state.version;
    for e in events {
        version += 1;
        let json = e.payload.data().map_err(Insert::Failed)?.get();
        ins.execute(params![
            position.take(),
            sid,
            i(version),
            e.id.as_uuid().as_bytes().as_slice(),
            e.event_type,
            e.payload.type_name(),
            e.payload.version(),
            json,
            e.metadata,
            now_ms,
            e.conversation_id,
            e.agent
        ])
        .map_err(|err| {
            if is_unique_violation(&err) {
                Insert::Duplicate
            } else {
                Insert::Failed(storage("inserting an event")(err))
            }
        })?;
        let position = conn.last_insert_rowid();
        if e.publish {
            outbox
                .execute(params![position])
                .map_err(failed("inserting an outbox entry"))?;
        }
        positions.push(EventPosition {
            id: e.id,
            version,
            global_position: u(position),
        });
    }
    Ok((
        AppendResult {
            positions,
            stream_version: version,
            already_stored: false,
        },
        sid,
    ))
}

/// When every event of the batch is stored in `stream`, the answer to the re-append; `None`
/// when none is stored anywhere.
///
/// # Errors
/// `Conflict` when some are stored and others not, or one is stored in another stream.
fn already_stored(
    conn: &Connection,
    stream: &StreamId,
    state: StreamState,
    events: &[Prepared],
) -> Result<Option<AppendResult>, Error> {
    let mut lookup = conn
        .prepare_cached("SELECT position, stream_id, version FROM events WHERE id = ?1")
        .map_err(storage("looking up an event id"))?;
    let mut lookups = Vec::with_capacity(events.len());
    for e in events {
        let row: Option<(i64, i64, i64)> = lookup
            .query_row(params![e.id.as_uuid().as_bytes().as_slice()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(storage("looking up an event id"))?;
        let at =
            row.map(|(position, sid, version)| (Some(sid) == state.sid, u(version), u(position)));
        lookups.push((e.id, at));
    }
    crate::event::reappend(stream, lookups, state.version)
}

fn snapshot(
    conn: &Connection,
    streams: &mut HashMap<StreamId, StreamState>,
    stream: &StreamId,
    version: u64,
    state: &Payload,
    now_ms: i64,
) -> Result<(), Error> {
    let s = stream_state(conn, streams, stream)?;
    let sid = match s.sid {
        Some(sid) if version >= 1 && version <= s.version => sid,
        _ => {
            return Err(Error::invalid_input(format!(
                "stream `{stream}`: cannot snapshot version {version}, the stream is at version {}",
                s.version
            )));
        }
    };
    conn.prepare_cached(
        "INSERT INTO snapshots (stream_id, version, payload_type, payload_version, payload, saved_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (stream_id) DO UPDATE SET
            version = excluded.version, payload_type = excluded.payload_type,
            payload_version = excluded.payload_version, payload = excluded.payload,
            saved_ms = excluded.saved_ms
         WHERE excluded.version >= snapshots.version",
    )
    .and_then(|mut st| {
        st.execute(params![
            sid,
            i(version),
            state.type_name(),
            state.version(),
            state.json(),
            now_ms
        ])
    })
    .map_err(storage("saving a snapshot"))?;
    Ok(())
}

/// The position for the next event when a position floor is set and no stored event is above
/// it yet (`None`: SQLite's choice is right). Clears the floor: once the next event is above
/// it, the largest rowid is.
fn position_floor(conn: &Connection) -> Result<Option<i64>, Error> {
    let floor: Option<i64> = conn
        .prepare_cached("SELECT CAST(value AS INTEGER) FROM store_meta WHERE key = ?1")
        .and_then(|mut s| {
            s.query_row(params![POSITION_FLOOR], |r| r.get(0))
                .optional()
        })
        .map_err(storage("reading the position floor"))?;
    let Some(floor) = floor else {
        return Ok(None);
    };
    let newest: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(position), 0) FROM events")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(storage("reading the newest position"))?;
    conn.prepare_cached("DELETE FROM store_meta WHERE key = ?1")
        .and_then(|mut s| s.execute(params![POSITION_FLOOR]))
        .map_err(storage("clearing the position floor"))?;
    Ok((newest < floor).then(|| floor.saturating_add(1)))
}

/// Deletes a stream's events, snapshot, pending outbox entries and row; returns how many
/// events it had. Keeps the deleted positions from being handed out again.
fn delete(
    conn: &Connection,
    streams: &HashMap<StreamId, StreamState>,
    stream: &StreamId,
) -> Result<u64, Error> {
    let Some(sid) = stream_state(conn, streams, stream)?.sid else {
        return Ok(0);
    };
    let fail = storage("deleting a stream");
    let run = |sql: &str| {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute(params![sid]))
            .map_err(&fail)
    };
    let newest: Option<i64> = conn
        .prepare_cached("SELECT MAX(position) FROM events WHERE stream_id = ?1")
        .and_then(|mut s| s.query_row(params![sid], |r| r.get(0)))
        .map_err(&fail)?;
    run("DELETE FROM outbox WHERE position IN (SELECT position FROM events WHERE stream_id = ?1)")?;
    run("DELETE FROM snapshots WHERE stream_id = ?1")?;
    let deleted = run("DELETE FROM events WHERE stream_id = ?1")?;
    run("DELETE FROM streams WHERE id = ?1")?;
    if let Some(newest) = newest {
        let remaining: i64 = conn
            .prepare_cached("SELECT COALESCE(MAX(position), 0) FROM events")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(&fail)?;
        if remaining < newest {
            // The deleted events were the newest: SQLite would hand their positions out again.
            conn.prepare_cached(
                "INSERT INTO store_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value
                 WHERE CAST(excluded.value AS INTEGER) > CAST(store_meta.value AS INTEGER)",
            )
            .and_then(|mut s| s.execute(params![POSITION_FLOOR, newest.to_string()]))
            .map_err(&fail)?;
        }
    }
    Ok(u64::try_from(deleted).unwrap_or(0))
}

fn mark_sent(conn: &Connection, positions: &[u64]) -> Result<(), Error> {
    let mut del = conn
        .prepare_cached("DELETE FROM outbox WHERE position = ?1")
        .map_err(storage("marking outbox entries sent"))?;
    for p in positions {
        del.execute(params![i(*p)])
            .map_err(storage("marking outbox entries sent"))?;
    }
    Ok(())
}
