//! The dispatch engine every backend shares: streams, groups, priorities, leases, retries, dead
//! letters and deduplication, in memory.
//!
//! The engine is synchronous state behind one lock per stream. Backends add persistence around
//! it (see [`Persist`](crate::backend::Persist)): the memory backend adds none; the sqlite
//! backend journals every change that must survive a crash and rebuilds the engine's state from
//! the journal on start.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cadre_core::{AgentId, Envelope, Error, ErrorCode, Group, Topic};
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use crate::options::ms;
use crate::{
    Attempt, BusOptions, Counters, DeadLetter, DeadReason, Delivery, DlqFilter, GroupInfo,
    StartFrom, Stored, StreamInfo,
};

mod fair_queue;

use fair_queue::FairQueue;

/// A message as the engine holds it.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) offset: u64,
    pub(crate) published_ms: u64,
    pub(crate) level: usize,
    pub(crate) expires_ms: Option<u64>,
    pub(crate) not_before_ms: Option<u64>,
    pub(crate) envelope: Envelope,
}

impl Entry {
    pub(crate) fn new(offset: u64, published_ms: u64, envelope: Envelope) -> Self {
        let expires_ms = envelope
            .expires_at()
            .map(|t| u64::try_from(t.timestamp_millis()).unwrap_or(0));
        let not_before_ms = envelope
            .meta
            .deliver_after
            .map(|t| u64::try_from(t.timestamp_millis()).unwrap_or(0));
        Self {
            offset,
            published_ms,
            level: envelope.priority.index(),
            expires_ms,
            not_before_ms,
            envelope,
        }
    }
}

#[derive(Debug)]
enum Slot {
    /// Offset taken by a publish whose store has not finished.
    Reserved,
    /// The publish failed; the offset stays unused.
    Aborted,
    /// A message some group may still need (`open` groups have not finished it).
    Live { entry: Arc<Entry>, open: u32 },
    /// Finished by every group and not retained in memory.
    Done,
}

#[derive(Debug, Clone, Copy)]
struct Lease {
    /// Index into the group's consumer table.
    consumer: u32,
    count: u32,
}

/// Delivery state of a message that has been delivered at least once in a group.
///
/// Small on purpose (one per message in flight): failures live behind a box that only messages
/// that failed pay for.
#[derive(Debug, Default, Clone)]
pub(crate) struct Track {
    pub(crate) count: u32,
    lease: Option<Lease>,
    failures: Option<Box<Failures>>,
}

#[derive(Debug, Default, Clone)]
struct Failures {
    history: Vec<Attempt>,
    last_error: Option<Error>,
}

impl Track {
    /// A track read back from the journal (never leased: leases do not survive a restart).
    pub(crate) fn restored(count: u32, history: Vec<Attempt>, last_error: Option<Error>) -> Self {
        Self {
            count,
            lease: None,
            failures: Some(Box::new(Failures {
                history,
                last_error,
            })),
        }
    }

    fn failures(&mut self) -> &mut Failures {
        self.failures.get_or_insert_with(Box::default)
    }

    /// Every failed delivery, oldest first.
    pub(crate) fn history(&self) -> &[Attempt] {
        self.failures.as_ref().map_or(&[], |f| &f.history)
    }

    /// The last error reported.
    pub(crate) fn last_error(&self) -> Option<&Error> {
        self.failures.as_ref().and_then(|f| f.last_error.as_ref())
    }

    fn into_failures(self) -> (Vec<Attempt>, Option<Error>) {
        match self.failures {
            Some(f) => (f.history, f.last_error),
            None => (Vec::new(), None),
        }
    }
}

#[derive(Debug)]
struct GroupState {
    name: Group,
    ready: FairQueue,
    delayed: BinaryHeap<Reverse<(u64, u64)>>,
    tracks: FxHashMap<u64, Track>,
    lease_order: VecDeque<(u64, u64, u32)>,
    /// Consumers by index, with how many deliveries each holds.
    consumers: Vec<(AgentId, usize)>,
    consumer_index: FxHashMap<AgentId, u32>,
    in_flight: usize,
    outstanding: usize,
}

impl GroupState {
    fn new(name: Group, opts: &BusOptions) -> Self {
        Self {
            name,
            ready: FairQueue::new(opts.starvation_bound),
            delayed: BinaryHeap::new(),
            tracks: FxHashMap::default(),
            lease_order: VecDeque::new(),
            consumers: Vec::new(),
            consumer_index: FxHashMap::default(),
            in_flight: 0,
            outstanding: 0,
        }
    }

    fn enqueue(&mut self, entry: &Entry, now: u64) {
        self.outstanding += 1;
        match entry.not_before_ms {
            Some(at) if at > now => self.delayed.push(Reverse((at, entry.offset))),
            _ => self.ready.push_back(entry.level, entry.offset),
        }
    }

    fn release_lease(&mut self, offset: u64) -> Option<Lease> {
        let lease = self.tracks.get_mut(&offset)?.lease.take()?;
        self.in_flight -= 1;
        if let Some((_, n)) = self.consumers.get_mut(lease.consumer as usize) {
            *n = n.saturating_sub(1);
        }
        Some(lease)
    }

    /// The consumer's index, registering it on first sight.
    fn consumer(&mut self, id: &AgentId) -> u32 {
        if let Some(&i) = self.consumer_index.get(id) {
            return i;
        }
        let i = u32::try_from(self.consumers.len()).unwrap_or(u32::MAX);
        self.consumers.push((id.clone(), 0));
        self.consumer_index.insert(id.clone(), i);
        i
    }

    /// Records a delivery that ended without an ack (its lease already released) in the
    /// message's history and returns its track.
    fn record_failure(
        &mut self,
        offset: u64,
        lease: Lease,
        now: u64,
        outcome: String,
    ) -> &mut Track {
        let consumer = self.consumer_id(lease.consumer);
        let track = self
            .tracks
            .get_mut(&offset)
            .expect("leased message has a track");
        track.failures().history.push(Attempt {
            at_ms: now,
            consumer,
            outcome,
        });
        track
    }

    fn consumer_id(&self, index: u32) -> Option<AgentId> {
        self.consumers.get(index as usize).map(|(id, _)| id.clone())
    }

    /// Drops lease-order entries of deliveries already finished, once they pile up.
    fn compact_lease_order(&mut self) {
        if self.lease_order.len() > 2 * self.in_flight + 1024 {
            let tracks = &self.tracks;
            self.lease_order.retain(|(_, off, count)| {
                tracks
                    .get(off)
                    .and_then(|t| t.lease.as_ref())
                    .is_some_and(|l| l.count == *count)
            });
        }
    }

    fn info(&self) -> GroupInfo {
        let mut ready = [0u64; 4];
        for (level, slot) in ready.iter_mut().enumerate() {
            *slot = self.ready.len(level) as u64;
        }
        GroupInfo {
            name: self.name.clone(),
            ready,
            delayed: self.delayed.len() as u64,
            in_flight: self.in_flight as u64,
            consumers: self.consumers.len() as u64,
        }
    }
}

/// A dead letter decided by the engine; the engine's store gives it an id.
#[derive(Debug)]
pub(crate) struct DeadDraft {
    group: Group,
    offset: u64,
    reason: DeadReason,
    last_error: Option<Error>,
    delivery_count: u32,
    history: Vec<Attempt>,
    envelope: Envelope,
}

/// What a nack did, for the journal.
#[derive(Debug)]
pub(crate) enum NackResult {
    /// Delivered again after `not_before_ms`.
    Retry { track: Track, not_before_ms: u64 },
    /// Dead-lettered.
    Dead(Box<DeadDraft>),
}

/// The outcome of trying to take an offset for a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reservation {
    /// Publish at this offset.
    Offset(u64),
    /// A duplicate of the message at this offset.
    Duplicate(u64),
    /// A group's backlog is full; wait for room.
    Full,
}

/// Where plain in-memory publishes land without taking the stream's lock: offsets are taken
/// here, in order, and the entries are moved into the stream state by the next operation that
/// locks it ([`Engine::lock`]).
#[derive(Debug, Default)]
pub(crate) struct Ingress {
    next_offset: u64,
    entries: Vec<Arc<Entry>>,
}

/// The state of one stream.
#[derive(Debug)]
pub(crate) struct StreamState {
    name: Topic,
    ingress: Arc<Mutex<Ingress>>,
    /// The largest group backlog plus reservations, for publishers deciding without the lock.
    backlog_hint: Arc<AtomicUsize>,
    base: u64,
    slots: VecDeque<Slot>,
    groups: Vec<GroupState>,
    dedupe: FxHashMap<String, (u64, u64)>,
    dedupe_order: VecDeque<(u64, String)>,
    reserved: usize,
    pub(crate) counters: Counters,
}

impl StreamState {
    fn new(name: Topic, ingress: Arc<Mutex<Ingress>>, backlog_hint: Arc<AtomicUsize>) -> Self {
        Self {
            name,
            ingress,
            backlog_hint,
            base: 0,
            slots: VecDeque::new(),
            groups: Vec::new(),
            dedupe: FxHashMap::default(),
            dedupe_order: VecDeque::new(),
            reserved: 0,
            counters: Counters::default(),
        }
    }

    pub(crate) fn name(&self) -> &Topic {
        &self.name
    }

    pub(crate) fn next_offset(&self) -> u64 {
        self.ingress.lock().next_offset
    }

    /// Moves what publishers left in the ingress into the stream, in offset order.
    pub(crate) fn drain(&mut self, now: impl FnOnce() -> u64, opts: &BusOptions) {
        let taken = {
            let mut ingress = self.ingress.lock();
            if ingress.entries.is_empty() {
                return;
            }
            std::mem::take(&mut ingress.entries)
        };
        let now = now();
        for entry in taken {
            self.slots.push_back(Slot::Reserved);
            self.reserved += 1;
            self.commit(entry, now, opts);
        }
    }

    fn update_backlog_hint(&self) {
        let max = self.groups.iter().map(|g| g.outstanding).max().unwrap_or(0);
        self.backlog_hint
            .store(max + self.reserved, Ordering::Relaxed);
    }

    fn group_index(&self, group: &Group) -> Result<usize, Error> {
        self.groups
            .iter()
            .position(|g| g.name == *group)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::NotFound,
                    format!("stream `{}` has no consumer group `{group}`", self.name),
                )
            })
    }

    pub(crate) fn has_group(&self, group: &Group) -> bool {
        self.groups.iter().any(|g| g.name == *group)
    }

    fn slot_mut(&mut self, offset: u64) -> Option<&mut Slot> {
        let index = usize::try_from(offset.checked_sub(self.base)?).ok()?;
        self.slots.get_mut(index)
    }

    fn entry(&self, offset: u64) -> Option<&Arc<Entry>> {
        let index = usize::try_from(offset.checked_sub(self.base)?).ok()?;
        match self.slots.get(index)? {
            Slot::Live { entry, .. } => Some(entry),
            _ => None,
        }
    }

    /// Takes an offset for `envelope`, or reports it a duplicate or the stream full.
    pub(crate) fn reserve(
        &mut self,
        envelope: &Envelope,
        now: u64,
        opts: &BusOptions,
        dedupe: bool,
    ) -> Reservation {
        while let Some((expiry, _)) = self.dedupe_order.front() {
            if *expiry > now {
                break;
            }
            let (expiry, key) = self.dedupe_order.pop_front().unwrap_or_default();
            if self.dedupe.get(&key).is_some_and(|(e, _)| *e == expiry) {
                self.dedupe.remove(&key);
            }
        }
        if dedupe
            && let Some(key) = &envelope.meta.idempotency_key
            && let Some((_, original)) = self.dedupe.get(key)
        {
            self.counters.duplicates += 1;
            return Reservation::Duplicate(*original);
        }
        if self
            .groups
            .iter()
            .any(|g| g.outstanding + self.reserved >= opts.max_backlog)
        {
            return Reservation::Full;
        }
        let offset = {
            // Entries in the ingress took earlier offsets: place them first, holding the
            // ingress so no publisher takes an offset in between.
            let ingress = Arc::clone(&self.ingress);
            let mut ingress = ingress.lock();
            let taken = std::mem::take(&mut ingress.entries);
            for entry in taken {
                self.slots.push_back(Slot::Reserved);
                self.reserved += 1;
                self.commit(entry, now, opts);
            }
            let offset = ingress.next_offset;
            ingress.next_offset += 1;
            offset
        };
        self.slots.push_back(Slot::Reserved);
        self.reserved += 1;
        self.update_backlog_hint();
        if dedupe && let Some(key) = &envelope.meta.idempotency_key {
            let expiry = now.saturating_add(ms(opts.dedupe_window));
            self.dedupe.insert(key.clone(), (expiry, offset));
            self.dedupe_order.push_back((expiry, key.clone()));
        }
        Reservation::Offset(offset)
    }

    /// Makes a reserved message visible to every group.
    pub(crate) fn commit(&mut self, entry: Arc<Entry>, now: u64, opts: &BusOptions) {
        let offset = entry.offset;
        for g in &mut self.groups {
            g.enqueue(&entry, now);
        }
        let open = u32::try_from(self.groups.len()).unwrap_or(u32::MAX);
        let retain = opts.retention > 0;
        if let Some(slot) = self.slot_mut(offset) {
            *slot = if open == 0 && !retain {
                Slot::Done
            } else {
                Slot::Live { entry, open }
            };
        }
        self.reserved = self.reserved.saturating_sub(1);
        self.counters.published += 1;
        self.trim(opts);
        self.update_backlog_hint();
    }

    /// Gives up a reserved offset after its store failed.
    pub(crate) fn abort(&mut self, offset: u64, envelope: &Envelope) {
        if let Some(slot) = self.slot_mut(offset) {
            *slot = Slot::Aborted;
        }
        self.reserved = self.reserved.saturating_sub(1);
        if let Some(key) = &envelope.meta.idempotency_key
            && self.dedupe.get(key).is_some_and(|(_, o)| *o == offset)
        {
            self.dedupe.remove(key);
        }
        self.trim_front();
    }

    fn trim(&mut self, opts: &BusOptions) {
        while self.slots.len() > opts.retention {
            match self.slots.front() {
                Some(Slot::Aborted | Slot::Done) | Some(Slot::Live { open: 0, .. }) => {
                    self.slots.pop_front();
                    self.base += 1;
                }
                _ => break,
            }
        }
    }

    fn trim_front(&mut self) {
        while matches!(self.slots.front(), Some(Slot::Aborted | Slot::Done)) {
            self.slots.pop_front();
            self.base += 1;
        }
    }

    /// Adds older messages (read back from disk) in front of what is in memory, so a group
    /// created from the earliest offset sees them.
    pub(crate) fn prepend(&mut self, mut older: Vec<Arc<Entry>>) {
        older.sort_by_key(|e| e.offset);
        for entry in older.into_iter().rev() {
            if entry.offset >= self.base {
                continue;
            }
            while self.base > entry.offset + 1 {
                self.base -= 1;
                self.slots.push_front(Slot::Aborted);
            }
            self.base -= 1;
            self.slots.push_front(Slot::Live { entry, open: 0 });
        }
    }

    /// Creates a group. With `Earliest`, every message held in memory is queued for it.
    pub(crate) fn create_group(
        &mut self,
        name: &Group,
        from: StartFrom,
        now: u64,
        opts: &BusOptions,
    ) -> bool {
        if self.has_group(name) {
            return false;
        }
        let mut group = GroupState::new(name.clone(), opts);
        if from == StartFrom::Earliest {
            for slot in &mut self.slots {
                if let Slot::Live { entry, open } = slot {
                    *open += 1;
                    group.enqueue(entry, now);
                }
            }
        }
        self.groups.push(group);
        true
    }

    /// Restores a group from the journal: `finished` says which offsets it is done with,
    /// `tracks` the delivery state of retried messages with their retry time.
    pub(crate) fn restore_group(
        &mut self,
        name: &Group,
        start: u64,
        finished: &dyn Fn(u64) -> bool,
        mut tracks: HashMap<u64, (Track, u64)>,
        now: u64,
        opts: &BusOptions,
    ) {
        let mut group = GroupState::new(name.clone(), opts);
        for slot in &mut self.slots {
            if let Slot::Live { entry, open } = slot {
                if entry.offset < start || finished(entry.offset) {
                    continue;
                }
                *open += 1;
                match tracks.remove(&entry.offset) {
                    Some((track, not_before)) => {
                        group.outstanding += 1;
                        group.tracks.insert(entry.offset, track);
                        if not_before > now {
                            group.delayed.push(Reverse((not_before, entry.offset)));
                        } else {
                            group.ready.push_back(entry.level, entry.offset);
                        }
                    }
                    None => group.enqueue(entry, now),
                }
            }
        }
        self.groups.push(group);
    }

    /// Restores a message from the journal (offsets must come in increasing order).
    pub(crate) fn restore_entry(&mut self, entry: Arc<Entry>) {
        if self.slots.is_empty() {
            self.base = entry.offset;
        }
        while self.base + (self.slots.len() as u64) < entry.offset {
            self.slots.push_back(Slot::Aborted);
        }
        self.ingress.lock().next_offset = entry.offset + 1;
        self.slots.push_back(Slot::Live { entry, open: 0 });
    }

    /// Sets where offsets continue after a restore.
    pub(crate) fn restore_next_offset(&mut self, next: u64, counters: Counters) {
        if self.slots.is_empty() {
            self.base = next;
        }
        {
            let mut ingress = self.ingress.lock();
            ingress.next_offset = ingress.next_offset.max(next);
        }
        self.counters = counters;
    }

    /// Drops messages no group needs (after a restore).
    pub(crate) fn settle(&mut self, opts: &BusOptions) {
        if opts.retention == 0 {
            for slot in &mut self.slots {
                if matches!(slot, Slot::Live { open: 0, .. }) {
                    *slot = Slot::Done;
                }
            }
        }
        self.trim(opts);
        self.trim_front();
    }

    fn finish(&mut self, gi: usize, offset: u64, opts: &BusOptions) {
        self.groups[gi].tracks.remove(&offset);
        self.finish_untracked(gi, offset, opts);
    }

    /// `finish` for a message whose track is already removed.
    fn finish_untracked(&mut self, gi: usize, offset: u64, opts: &BusOptions) {
        let g = &mut self.groups[gi];
        g.outstanding = g.outstanding.saturating_sub(1);
        self.update_backlog_hint();
        let retain = opts.retention > 0;
        if let Some(slot) = self.slot_mut(offset)
            && let Slot::Live { open, .. } = slot
        {
            *open = open.saturating_sub(1);
            if *open == 0 && !retain {
                *slot = Slot::Done;
            }
        }
        self.trim(opts);
    }

    fn dead(
        &mut self,
        gi: usize,
        offset: u64,
        reason: DeadReason,
        last_error: Option<Error>,
        opts: &BusOptions,
    ) -> Option<DeadDraft> {
        let envelope = self.entry(offset)?.envelope.clone();
        let track = self.groups[gi]
            .tracks
            .get(&offset)
            .cloned()
            .unwrap_or_default();
        self.counters.dead_lettered += 1;
        if reason == DeadReason::Expired {
            self.counters.expired += 1;
        }
        let delivery_count = track.count;
        let (history, previous) = track.into_failures();
        let draft = DeadDraft {
            group: self.groups[gi].name.clone(),
            offset,
            reason,
            delivery_count,
            last_error: last_error.or(previous),
            history,
            envelope,
        };
        self.finish(gi, offset, opts);
        Some(draft)
    }

    /// Hands up to `max` messages to `consumer`.
    pub(crate) fn fetch(
        &mut self,
        group: &Group,
        consumer: &AgentId,
        max: usize,
        now: u64,
        opts: &BusOptions,
    ) -> Result<(Vec<Delivery>, Vec<DeadDraft>), Error> {
        let gi = self.group_index(group)?;
        let mut dead = Vec::new();
        self.expire_leases(gi, now, opts, &mut dead);
        while let Some(Reverse((at, offset))) = self.groups[gi].delayed.peek().copied() {
            if at > now {
                break;
            }
            self.groups[gi].delayed.pop();
            let level = self.entry(offset).map_or(1, |e| e.level);
            self.groups[gi].ready.push_back(level, offset);
        }
        let ci = self.groups[gi].consumer(consumer);
        let held = self.groups[gi].consumers[ci as usize].1;
        let room = max.min(opts.max_in_flight_per_consumer.saturating_sub(held));
        let mut out = Vec::with_capacity(room.min(1024));
        let lease_ms = ms(opts.lease);
        while out.len() < room {
            let Some(offset) = self.groups[gi].ready.pop() else {
                break;
            };
            let Some(entry) = self.entry(offset).map(Arc::clone) else {
                // Finished meanwhile (e.g. acked after its lease ran out).
                continue;
            };
            if entry.expires_ms.is_some_and(|at| at <= now) {
                let err = Error::new(ErrorCode::Timeout, "TTL ran out before delivery")
                    .with_retryable(false);
                dead.extend(self.dead(gi, offset, DeadReason::Expired, Some(err), opts));
                continue;
            }
            let g = &mut self.groups[gi];
            let track = g.tracks.entry(offset).or_default();
            track.count += 1;
            let count = track.count;
            track.lease = Some(Lease {
                consumer: ci,
                count,
            });
            let deadline = now.saturating_add(lease_ms);
            g.lease_order.push_back((deadline, offset, count));
            g.in_flight += 1;
            g.consumers[ci as usize].1 += 1;
            out.push(Delivery {
                entry,
                stream: self.name.clone(),
                group: group.clone(),
                offset,
                delivery_count: count,
                lease_until_ms: deadline,
            });
        }
        self.counters.delivered += out.len() as u64;
        Ok((out, dead))
    }

    fn expire_leases(&mut self, gi: usize, now: u64, opts: &BusOptions, dead: &mut Vec<DeadDraft>) {
        loop {
            let g = &mut self.groups[gi];
            let Some(&(deadline, offset, count)) = g.lease_order.front() else {
                break;
            };
            if deadline > now {
                break;
            }
            g.lease_order.pop_front();
            let current = g
                .tracks
                .get(&offset)
                .and_then(|t| t.lease.as_ref())
                .is_some_and(|l| l.count == count);
            if !current {
                continue;
            }
            let Some(lease) = g.release_lease(offset) else {
                continue;
            };
            self.counters.lease_expired += 1;
            let track = self.groups[gi].record_failure(offset, lease, now, "lease expired".into());
            if track.count >= opts.max_deliveries {
                let err = Error::new(
                    ErrorCode::Timeout,
                    format!("lease expired on delivery {}", track.count),
                );
                dead.extend(self.dead(gi, offset, DeadReason::MaxDeliveries, Some(err), opts));
            } else {
                let level = self.entry(offset).map_or(1, |e| e.level);
                self.groups[gi].ready.push_front(level, offset);
            }
        }
        self.groups[gi].compact_lease_order();
    }

    /// Acknowledges a delivery; `false` when there was nothing to acknowledge.
    pub(crate) fn ack(
        &mut self,
        group: &Group,
        offset: u64,
        opts: &BusOptions,
    ) -> Result<bool, Error> {
        let gi = self.group_index(group)?;
        let g = &mut self.groups[gi];
        let Some(track) = g.tracks.remove(&offset) else {
            return Ok(false);
        };
        if let Some(lease) = track.lease {
            g.in_flight -= 1;
            if let Some((_, n)) = g.consumers.get_mut(lease.consumer as usize) {
                *n = n.saturating_sub(1);
            }
        } else {
            // Its lease ran out and it waits for redelivery: the late ack still counts.
            let level = self.entry(offset).map_or(1, |e| e.level);
            let g = &mut self.groups[gi];
            if !g.ready.remove(level, offset) {
                g.tracks.insert(offset, track);
                return Ok(false);
            }
        }
        self.counters.acked += 1;
        self.finish_untracked(gi, offset, opts);
        Ok(true)
    }

    fn leased(&mut self, group: &Group, offset: u64) -> Result<usize, Error> {
        let gi = self.group_index(group)?;
        let leased = self.groups[gi]
            .tracks
            .get(&offset)
            .is_some_and(|t| t.lease.is_some());
        if leased {
            Ok(gi)
        } else {
            Err(Error::new(
                ErrorCode::NotFound,
                format!(
                    "message {offset} of stream `{}` is not leased in group `{group}` (acked, expired or never delivered)",
                    self.name
                ),
            ))
        }
    }

    /// Gives a delivery back for a retry after `delay_ms`, or dead-letters it.
    pub(crate) fn nack(
        &mut self,
        group: &Group,
        offset: u64,
        delay_ms: u64,
        error: Error,
        now: u64,
        opts: &BusOptions,
    ) -> Result<NackResult, Error> {
        let gi = self.leased(group, offset)?;
        let lease = self.groups[gi]
            .release_lease(offset)
            .expect("checked that it is leased");
        self.counters.nacked += 1;
        let track = self.groups[gi].record_failure(offset, lease, now, format!("nack: {error}"));
        track.failures().last_error = Some(error);
        if track.count >= opts.max_deliveries {
            let draft = self
                .dead(gi, offset, DeadReason::MaxDeliveries, None, opts)
                .ok_or_else(|| Error::internal("leased message without an entry"))?;
            return Ok(NackResult::Dead(Box::new(draft)));
        }
        let track = track.clone();
        let not_before_ms = now.saturating_add(delay_ms);
        let level = self.entry(offset).map_or(1, |e| e.level);
        let g = &mut self.groups[gi];
        if delay_ms == 0 {
            g.ready.push_front(level, offset);
        } else {
            g.delayed.push(Reverse((not_before_ms, offset)));
        }
        Ok(NackResult::Retry {
            track,
            not_before_ms,
        })
    }

    /// Dead-letters a delivery at once.
    pub(crate) fn reject(
        &mut self,
        group: &Group,
        offset: u64,
        error: Error,
        now: u64,
        opts: &BusOptions,
    ) -> Result<DeadDraft, Error> {
        let gi = self.leased(group, offset)?;
        let lease = self.groups[gi]
            .release_lease(offset)
            .expect("checked that it is leased");
        self.groups[gi].record_failure(offset, lease, now, format!("rejected: {error}"));
        self.dead(gi, offset, DeadReason::Rejected, Some(error), opts)
            .ok_or_else(|| Error::internal("leased message without an entry"))
    }

    /// Messages held in memory from `offset` (or published at or after `since_ms`).
    pub(crate) fn read(
        &self,
        from_offset: Option<u64>,
        since_ms: Option<u64>,
        max: usize,
    ) -> Vec<Stored> {
        self.slots
            .iter()
            .filter_map(|s| match s {
                Slot::Live { entry, .. } => Some(entry),
                _ => None,
            })
            .filter(|e| from_offset.is_none_or(|o| e.offset >= o))
            .filter(|e| since_ms.is_none_or(|t| e.published_ms >= t))
            .take(max)
            .map(|e| Stored {
                offset: e.offset,
                published_ms: e.published_ms,
                envelope: e.envelope.clone(),
            })
            .collect()
    }

    /// The lowest offset held in memory.
    pub(crate) fn first_offset(&self) -> u64 {
        self.base
    }

    /// Whether any group's backlog is below the limit.
    fn has_room(&self, opts: &BusOptions) -> bool {
        self.groups
            .iter()
            .all(|g| g.outstanding + self.reserved < opts.max_backlog)
    }

    pub(crate) fn info(&self, dead_letters: u64) -> StreamInfo {
        StreamInfo {
            name: self.name.clone(),
            next_offset: self.next_offset(),
            first_offset: self.base,
            groups: self.groups.iter().map(GroupState::info).collect(),
            dead_letters,
            counters: self.counters,
        }
    }
}

/// One stream: its state and the wake-ups of those waiting on it.
#[derive(Debug)]
pub(crate) struct StreamCell {
    pub(crate) state: Mutex<StreamState>,
    ingress: Arc<Mutex<Ingress>>,
    backlog_hint: Arc<AtomicUsize>,
    arrived: Notify,
    space: Notify,
    fetchers_waiting: AtomicUsize,
    publishers_waiting: AtomicUsize,
}

impl StreamCell {
    fn new(name: Topic) -> Self {
        let ingress = Arc::new(Mutex::new(Ingress::default()));
        let backlog_hint = Arc::new(AtomicUsize::new(0));
        Self {
            state: Mutex::new(StreamState::new(
                name,
                Arc::clone(&ingress),
                Arc::clone(&backlog_hint),
            )),
            ingress,
            backlog_hint,
            arrived: Notify::new(),
            space: Notify::new(),
            fetchers_waiting: AtomicUsize::new(0),
            publishers_waiting: AtomicUsize::new(0),
        }
    }

    /// Publishes `envelope` without the stream lock, unless the backlog may be full (then the
    /// envelope comes back and the caller takes the locked path).
    #[allow(clippy::result_large_err)] // the envelope comes back by value, like a SendError
    pub(crate) fn push(
        &self,
        envelope: Envelope,
        now: u64,
        max_backlog: usize,
    ) -> Result<u64, Envelope> {
        let mut entry = Arc::new(Entry::new(0, now, envelope));
        let mut ingress = self.ingress.lock();
        if self.backlog_hint.load(Ordering::Relaxed) + ingress.entries.len() + 1 >= max_backlog {
            drop(ingress);
            let entry = Arc::try_unwrap(entry)
                .map_err(|_| ())
                .expect("entry not shared yet");
            return Err(entry.envelope);
        }
        let offset = ingress.next_offset;
        ingress.next_offset += 1;
        if let Some(e) = Arc::get_mut(&mut entry) {
            e.offset = offset;
        }
        ingress.entries.push(entry);
        drop(ingress);
        self.wake_fetchers();
        Ok(offset)
    }

    /// Wakes fetchers after messages became available.
    pub(crate) fn wake_fetchers(&self) {
        if self.fetchers_waiting.load(Ordering::Acquire) > 0 {
            self.arrived.notify_waiters();
        }
    }

    /// Wakes publishers after backlog shrank.
    pub(crate) fn wake_publishers(&self) {
        if self.publishers_waiting.load(Ordering::Acquire) > 0 {
            self.space.notify_waiters();
        }
    }

    /// Waits until `attempt` returns `Some`, re-trying after each wake-up of `which`, for at
    /// most `wait`. Returns `None` on timeout.
    pub(crate) async fn wait_for<T>(
        &self,
        which: Wake,
        wait: std::time::Duration,
        mut attempt: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let (notify, counter) = match which {
            Wake::Arrived => (&self.arrived, &self.fetchers_waiting),
            Wake::Space => (&self.space, &self.publishers_waiting),
        };
        let deadline = tokio::time::Instant::now() + wait;
        counter.fetch_add(1, Ordering::AcqRel);
        let result = loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(value) = attempt() {
                break Some(value);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break attempt();
            }
        };
        counter.fetch_sub(1, Ordering::AcqRel);
        result
    }
}

/// Which wake-up to wait for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wake {
    Arrived,
    Space,
}

/// The dead-letter store.
#[derive(Debug, Default)]
pub(crate) struct DeadLetters {
    next_id: u64,
    items: std::collections::BTreeMap<u64, DeadLetter>,
}

impl DeadLetters {
    pub(crate) fn insert_draft(
        &mut self,
        stream: &Topic,
        draft: DeadDraft,
        now: u64,
    ) -> DeadLetter {
        self.next_id += 1;
        let dl = DeadLetter {
            id: self.next_id,
            stream: stream.clone(),
            group: draft.group,
            offset: draft.offset,
            reason: draft.reason,
            last_error: draft.last_error,
            delivery_count: draft.delivery_count,
            history: draft.history,
            dead_at_ms: now,
            envelope: draft.envelope,
        };
        self.items.insert(dl.id, dl.clone());
        dl
    }

    pub(crate) fn restore(&mut self, dl: DeadLetter) {
        self.next_id = self.next_id.max(dl.id);
        self.items.insert(dl.id, dl);
    }

    pub(crate) fn list(&self, filter: &DlqFilter) -> Vec<DeadLetter> {
        self.items
            .values()
            .filter(|d| filter.matches(d))
            .cloned()
            .collect()
    }

    pub(crate) fn get(&self, id: u64) -> Option<&DeadLetter> {
        self.items.get(&id)
    }

    pub(crate) fn remove(&mut self, ids: &[u64]) -> u64 {
        ids.iter()
            .filter(|id| self.items.remove(id).is_some())
            .count() as u64
    }

    pub(crate) fn count_for(&self, stream: &Topic) -> u64 {
        self.items.values().filter(|d| d.stream == *stream).count() as u64
    }
}

/// Streams by name, plus the dead-letter store.
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) opts: BusOptions,
    streams: RwLock<FxHashMap<Topic, Arc<StreamCell>>>,
    pub(crate) dead: Mutex<DeadLetters>,
    /// Control registers, for backends that keep them in memory.
    pub(crate) controls: Mutex<FxHashMap<String, crate::ControlValue>>,
}

impl Engine {
    pub(crate) fn new(opts: BusOptions) -> Self {
        Self {
            opts,
            streams: RwLock::new(FxHashMap::default()),
            dead: Mutex::new(DeadLetters::default()),
            controls: Mutex::new(FxHashMap::default()),
        }
    }

    pub(crate) fn now(&self) -> u64 {
        self.opts.now_ms()
    }

    /// The stream, created if needed.
    pub(crate) fn stream(&self, name: &Topic) -> Arc<StreamCell> {
        if let Some(cell) = self.streams.read().get(name) {
            return Arc::clone(cell);
        }
        Arc::clone(
            self.streams
                .write()
                .entry(name.clone())
                .or_insert_with(|| Arc::new(StreamCell::new(name.clone()))),
        )
    }

    /// The stream, if it exists.
    pub(crate) fn existing(&self, name: &Topic) -> Result<Arc<StreamCell>, Error> {
        self.streams
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("no stream `{name}`")))
    }

    /// Every stream, sorted by name.
    pub(crate) fn all(&self) -> Vec<Arc<StreamCell>> {
        let mut cells: Vec<_> = self.streams.read().values().cloned().collect();
        cells.sort_by(|a, b| a.state.lock().name.cmp(&b.state.lock().name));
        cells
    }

    /// Records dead letters decided by `stream` and returns them with their ids.
    pub(crate) fn bury(&self, stream: &Topic, drafts: Vec<DeadDraft>) -> Vec<DeadLetter> {
        if drafts.is_empty() {
            return Vec::new();
        }
        let now = self.now();
        let mut dead = self.dead.lock();
        drafts
            .into_iter()
            .map(|d| dead.insert_draft(stream, d, now))
            .collect()
    }

    pub(crate) fn has_room(&self, cell: &StreamCell) -> bool {
        self.lock(cell).has_room(&self.opts)
    }

    /// Locks a stream's state, first moving in what publishers left in its ingress.
    pub(crate) fn lock<'a>(
        &self,
        cell: &'a StreamCell,
    ) -> parking_lot::MutexGuard<'a, StreamState> {
        let mut state = cell.state.lock();
        state.drain(|| self.now(), &self.opts);
        state
    }
}
