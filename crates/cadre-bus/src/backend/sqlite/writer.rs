//! The writer thread: owns the write connection and commits whatever has queued up in one
//! transaction (group commit), then answers every caller.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::thread::JoinHandle;

use cadre_core::{Error, ErrorCode, Group, Topic};
use rusqlite::{Connection, Transaction, params};

use super::codec::{self, Record};
use crate::DeadLetter;
use crate::engine::Engine;

/// The most requests folded into one transaction.
const MAX_BATCH: usize = 8192;
/// Compact ack ranges and prune segments every this many transactions.
const COMPACT_EVERY: u64 = 64;

/// A change to persist.
#[derive(Debug)]
pub(super) enum Op {
    Append {
        stream: Topic,
        records: Vec<Record>,
    },
    Ack {
        stream: Topic,
        items: Vec<(Group, u64)>,
    },
    Retry {
        stream: Topic,
        group: Group,
        offset: u64,
        not_before: u64,
        track: String,
    },
    Bury {
        letters: Vec<DeadLetter>,
    },
    CreateGroup {
        stream: Topic,
        group: Group,
        start: u64,
    },
    DlqRemove {
        ids: Vec<u64>,
    },
}

struct Request {
    op: Op,
    done: tokio::sync::oneshot::Sender<Result<(), Error>>,
}

/// Handle to the writer thread. Dropping it finishes queued work and stops the thread.
#[derive(Debug)]
pub(super) struct Writer {
    tx: Option<crossbeam_channel::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
    checkpointer: Option<JoinHandle<()>>,
}

/// Ask for a WAL checkpoint every this many transactions.
const CHECKPOINT_EVERY: u64 = 128;

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request").field("op", &self.op).finish()
    }
}

pub(super) fn storage(context: &str) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::new(ErrorCode::Storage, format!("{context}: {e}"))
}

impl Writer {
    /// Starts the writer on `conn` and, on `checkpoint`, a thread that copies the WAL back
    /// into the database (PASSIVE checkpoints) so commits never wait for it.
    pub(super) fn spawn(
        conn: Connection,
        checkpoint: Connection,
        engine: Arc<Engine>,
        retention: u64,
    ) -> Result<Self, Error> {
        let (tx, rx) = crossbeam_channel::unbounded::<Request>();
        let (kick, kicked) = crossbeam_channel::bounded::<()>(1);
        let spawn_error = |e: std::io::Error| {
            Error::new(ErrorCode::Internal, format!("starting the writer: {e}"))
        };
        let checkpointer = std::thread::Builder::new()
            .name("cadre-bus-sqlite-checkpoint".into())
            .spawn(move || {
                while kicked.recv().is_ok() {
                    if let Err(e) =
                        checkpoint.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "sqlite bus checkpoint failed; will retry");
                    }
                }
                let _ = checkpoint.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            })
            .map_err(spawn_error)?;
        let thread = std::thread::Builder::new()
            .name("cadre-bus-sqlite-writer".into())
            .spawn(move || run(conn, &rx, &kick, &engine, retention))
            .map_err(spawn_error)?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            checkpointer: Some(checkpointer),
        })
    }

    /// Persists `op`; returns once it is committed.
    pub(super) async fn submit(&self, op: Op) -> Result<(), Error> {
        let (done, wait) = tokio::sync::oneshot::channel();
        let stopped = || Error::new(ErrorCode::Unavailable, "the sqlite writer has stopped");
        self.tx
            .as_ref()
            .ok_or_else(stopped)?
            .send(Request { op, done })
            .map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(thread) = self.checkpointer.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    mut conn: Connection,
    rx: &crossbeam_channel::Receiver<Request>,
    kick: &crossbeam_channel::Sender<()>,
    engine: &Engine,
    retention: u64,
) {
    let mut ids: HashMap<Topic, i64> = HashMap::new();
    let mut transactions: u64 = 0;
    let mut dirty: HashSet<Topic> = HashSet::new();
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let (ops, waiters): (Vec<Op>, Vec<_>) = batch.into_iter().map(|r| (r.op, r.done)).unzip();
        let result = commit(&mut conn, &mut ids, ops, &mut dirty);
        if result.is_err() {
            // The ids of streams created in the failed transaction are gone with it.
            ids.clear();
        }
        for done in waiters {
            let _ = done.send(result.clone());
        }
        transactions += 1;
        if transactions.is_multiple_of(CHECKPOINT_EVERY) {
            // Full means a checkpoint is already due; nothing to add.
            let _ = kick.try_send(());
        }
        if transactions.is_multiple_of(COMPACT_EVERY) && !dirty.is_empty() {
            if let Err(e) = compact(&mut conn, &mut ids, &dirty, retention, engine) {
                tracing::warn!(error = %e, "sqlite bus compaction failed; will retry");
                ids.clear();
            } else {
                dirty.clear();
            }
        }
    }
    if !dirty.is_empty()
        && let Err(e) = compact(&mut conn, &mut ids, &dirty, retention, engine)
    {
        tracing::warn!(error = %e, "sqlite bus compaction at shutdown failed");
    }
}

pub(super) fn stream_id(
    tx: &Connection,
    ids: &mut HashMap<Topic, i64>,
    name: &Topic,
) -> Result<i64, Error> {
    if let Some(id) = ids.get(name) {
        return Ok(*id);
    }
    tx.execute(
        "INSERT OR IGNORE INTO streams (name) VALUES (?1)",
        params![name.as_str()],
    )
    .map_err(storage("creating a stream"))?;
    let id: i64 = tx
        .query_row(
            "SELECT id FROM streams WHERE name = ?1",
            params![name.as_str()],
            |r| r.get(0),
        )
        .map_err(storage("finding a stream"))?;
    ids.insert(name.clone(), id);
    Ok(id)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn commit(
    conn: &mut Connection,
    ids: &mut HashMap<Topic, i64>,
    ops: Vec<Op>,
    dirty: &mut HashSet<Topic>,
) -> Result<(), Error> {
    let tx = conn
        .transaction()
        .map_err(storage("beginning a transaction"))?;
    let mut appends: BTreeMap<Topic, Vec<Record>> = BTreeMap::new();
    let mut acks: BTreeMap<(Topic, Group), Vec<u64>> = BTreeMap::new();
    let mut touched: HashSet<Topic> = HashSet::new();
    for op in ops {
        match op {
            Op::Append { stream, records } => appends.entry(stream).or_default().extend(records),
            Op::Ack { stream, items } => {
                for (group, offset) in items {
                    acks.entry((stream.clone(), group))
                        .or_default()
                        .push(offset);
                }
                touched.insert(stream);
            }
            Op::Retry {
                stream,
                group,
                offset,
                not_before,
                track,
            } => {
                let sid = stream_id(&tx, ids, &stream)?;
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO retries (stream_id, grp, offset, not_before, track) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| s.execute(params![sid, group.as_str(), i(offset), i(not_before), track]))
                .map_err(storage("recording a retry"))?;
                touched.insert(stream);
            }
            Op::Bury { letters } => {
                for dl in letters {
                    let record = serde_json::to_string(&dl).map_err(|e| {
                        Error::new(ErrorCode::Encode, format!("dead letter {}: {e}", dl.id))
                    })?;
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO dead_letters (id, stream, grp, offset, reason, dead_at, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            i(dl.id),
                            dl.stream.as_str(),
                            dl.group.as_str(),
                            i(dl.offset),
                            dl.reason.as_str(),
                            i(dl.dead_at_ms),
                            record
                        ])
                    })
                    .map_err(storage("recording a dead letter"))?;
                    acks.entry((dl.stream.clone(), dl.group.clone()))
                        .or_default()
                        .push(dl.offset);
                    touched.insert(dl.stream);
                }
            }
            Op::CreateGroup {
                stream,
                group,
                start,
            } => {
                let sid = stream_id(&tx, ids, &stream)?;
                tx.execute(
                    "INSERT OR IGNORE INTO groups (stream_id, name, start_offset, floor) VALUES (?1, ?2, ?3, ?3)",
                    params![sid, group.as_str(), i(start)],
                )
                .map_err(storage("creating a group"))?;
                touched.insert(stream);
            }
            Op::DlqRemove { ids: dead } => {
                let mut stmt = tx
                    .prepare_cached("DELETE FROM dead_letters WHERE id = ?1")
                    .map_err(storage("removing dead letters"))?;
                for id in dead {
                    stmt.execute(params![i(id)])
                        .map_err(storage("removing dead letters"))?;
                }
            }
        }
    }
    let mut data = Vec::new();
    for (stream, mut records) in appends {
        let sid = stream_id(&tx, ids, &stream)?;
        records.sort_by_key(|r| r.offset);
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            continue;
        };
        let first_ms = records.iter().map(|r| r.published_ms).min().unwrap_or(0);
        let last_ms = records.iter().map(|r| r.published_ms).max().unwrap_or(0);
        data.clear();
        codec::encode(&records, &mut data);
        tx.prepare_cached(
            "INSERT INTO segments (stream_id, first_offset, last_offset, first_ms, last_ms, count, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .and_then(|mut s| {
            s.execute(params![
                sid,
                i(first.offset),
                i(last.offset),
                i(first_ms),
                i(last_ms),
                i(records.len() as u64),
                &data
            ])
        })
        .map_err(storage("storing messages"))?;
        touched.insert(stream);
    }
    for ((stream, group), offsets) in acks {
        let sid = stream_id(&tx, ids, &stream)?;
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO acks (stream_id, grp, first, last) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(storage("recording acks"))?;
        for (first, last) in codec::runs(offsets) {
            stmt.execute(params![sid, group.as_str(), i(first), i(last)])
                .map_err(storage("recording acks"))?;
        }
    }
    tx.commit().map_err(storage("committing"))?;
    dirty.extend(touched);
    Ok(())
}

fn save_counters(
    tx: &Transaction<'_>,
    ids: &mut HashMap<Topic, i64>,
    touched: &HashSet<Topic>,
    engine: &Engine,
) -> Result<(), Error> {
    for stream in touched {
        let Ok(cell) = engine.existing(stream) else {
            continue;
        };
        let counters = cell.state.lock().counters;
        let json = serde_json::to_string(&counters)
            .map_err(|e| Error::new(ErrorCode::Encode, format!("counters: {e}")))?;
        let sid = stream_id(tx, ids, stream)?;
        tx.prepare_cached("UPDATE streams SET counters = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![sid, json]))
            .map_err(storage("saving counters"))?;
    }
    Ok(())
}

/// Saves offsets and counters, folds ack ranges into each group's floor, and drops what no
/// group and no replay needs.
fn compact(
    conn: &mut Connection,
    ids: &mut HashMap<Topic, i64>,
    streams: &HashSet<Topic>,
    retention: u64,
    engine: &Engine,
) -> Result<(), Error> {
    let tx = conn
        .transaction()
        .map_err(storage("beginning compaction"))?;
    save_counters(&tx, ids, streams, engine)?;
    for stream in streams {
        let sid = stream_id(&tx, ids, stream)?;
        tx.execute(
            "UPDATE streams SET next_offset = MAX(next_offset,
                 COALESCE((SELECT MAX(last_offset) + 1 FROM segments WHERE stream_id = ?1), 0))
             WHERE id = ?1",
            params![sid],
        )
        .map_err(storage("saving offsets"))?;
        let next: i64 = tx
            .query_row(
                "SELECT next_offset FROM streams WHERE id = ?1",
                params![sid],
                |r| r.get(0),
            )
            .map_err(storage("compaction"))?;
        let groups: Vec<(String, i64)> = tx
            .prepare("SELECT name, floor FROM groups WHERE stream_id = ?1")
            .and_then(|mut s| {
                s.query_map(params![sid], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(storage("compaction"))?;
        let mut min_floor = next;
        for (group, floor) in groups {
            let ranges: Vec<(u64, u64)> = tx
                .prepare("SELECT first, last FROM acks WHERE stream_id = ?1 AND grp = ?2")
                .and_then(|mut s| {
                    s.query_map(params![sid, group], |r| {
                        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
                    })?
                    .collect()
                })
                .map_err(storage("compaction"))?;
            let before = ranges.len();
            let (new_floor, kept) = codec::compact(ranges, floor as u64);
            if new_floor != floor as u64 || kept.len() != before {
                tx.execute(
                    "DELETE FROM acks WHERE stream_id = ?1 AND grp = ?2",
                    params![sid, group],
                )
                .map_err(storage("compaction"))?;
                for (first, last) in &kept {
                    tx.execute(
                        "INSERT INTO acks (stream_id, grp, first, last) VALUES (?1, ?2, ?3, ?4)",
                        params![sid, group, i(*first), i(*last)],
                    )
                    .map_err(storage("compaction"))?;
                }
                tx.execute(
                    "UPDATE groups SET floor = ?3 WHERE stream_id = ?1 AND name = ?2",
                    params![sid, group, i(new_floor)],
                )
                .map_err(storage("compaction"))?;
                tx.execute(
                    "DELETE FROM retries WHERE stream_id = ?1 AND grp = ?2 AND offset < ?3",
                    params![sid, group, i(new_floor)],
                )
                .map_err(storage("compaction"))?;
            }
            min_floor = min_floor.min(i(new_floor));
        }
        let cutoff = min_floor.min(next.saturating_sub(i(retention)));
        tx.execute(
            "DELETE FROM segments WHERE stream_id = ?1 AND last_offset < ?2",
            params![sid, cutoff],
        )
        .map_err(storage("pruning segments"))?;
    }
    tx.commit().map_err(storage("committing compaction"))
}
