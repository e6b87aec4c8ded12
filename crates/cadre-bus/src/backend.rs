//! Backends. `memory` and `sqlite` share the [`Core`] over the dispatch engine and differ in
//! what they persist.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use cadre_core::{AgentId, Envelope, Error, ErrorCode, Group, Topic};

use crate::engine::{Engine, Entry, NackResult, Reservation, StreamCell, Track, Wake};
use crate::options::ms;
use crate::{
    BusOptions, ControlValue, DeadLetter, Delivery, DlqFilter, Published, ReadFrom, Receipt,
    StartFrom, Stored, StreamInfo,
};

pub mod memory;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// What a backend persists around the engine. Every method is called after the engine has
/// decided, except [`Persist::append`], which runs before new messages become visible.
pub(crate) trait Persist: Send + Sync + 'static {
    /// Whether the backend keeps nothing (reads and backfills come from memory).
    const IN_MEMORY: bool;

    /// Stores new messages durably.
    fn append(
        &self,
        stream: &Topic,
        entries: &[Arc<Entry>],
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Records acknowledgements.
    fn acked(
        &self,
        stream: &Topic,
        acked: Vec<(Group, u64)>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Records a retry: the delivery count and history, and when it is due.
    fn retried(
        &self,
        stream: &Topic,
        group: &Group,
        offset: u64,
        track: Track,
        not_before_ms: u64,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Records dead letters (and that their groups are done with them).
    fn buried(&self, letters: Vec<DeadLetter>) -> impl Future<Output = Result<(), Error>> + Send;

    /// Records a new group and the first offset it covers.
    fn group_created(
        &self,
        stream: &Topic,
        group: &Group,
        start: u64,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Records that dead letters left the store (replayed or purged).
    fn dlq_removed(&self, ids: Vec<u64>) -> impl Future<Output = Result<(), Error>> + Send;

    /// Replays from the store; `None` means "read what is in memory".
    fn read(
        &self,
        stream: &Topic,
        from: ReadFrom,
        max: usize,
    ) -> impl Future<Output = Option<Result<Vec<Stored>, Error>>> + Send;

    /// Reads a control register; `None` means "the store keeps none: use memory".
    fn control(
        &self,
        key: &str,
    ) -> impl Future<Output = Option<Result<Option<ControlValue>, Error>>> + Send;

    /// Writes a control register; `None` means "the store keeps none: use memory".
    fn set_control(
        &self,
        key: &str,
        value: Option<&str>,
        now_ms: u64,
    ) -> impl Future<Output = Option<Result<(), Error>>> + Send;

    /// Messages older than `before` still in the store, for a group created from the earliest
    /// offset, and the first offset the store holds.
    fn backfill(
        &self,
        stream: &Topic,
        before: u64,
    ) -> impl Future<Output = Result<(Vec<Arc<Entry>>, u64), Error>> + Send;
}

/// The shared implementation of [`Bus`](crate::Bus) over the engine and a [`Persist`].
#[derive(Debug)]
pub(crate) struct Core<P> {
    pub(crate) engine: Arc<Engine>,
    pub(crate) persist: P,
}

impl<P: Persist> Core<P> {
    pub(crate) fn new(engine: Arc<Engine>, persist: P) -> Self {
        Self { engine, persist }
    }

    fn opts(&self) -> &BusOptions {
        &self.engine.opts
    }

    /// Publishes one message. In memory it usually finishes at once, without the stream lock
    /// and without allocating a future.
    pub(crate) fn publish_one<'a>(
        &'a self,
        stream: &'a Topic,
        envelope: Envelope,
        dedupe: bool,
    ) -> crate::PublishFuture<'a> {
        if !P::IN_MEMORY {
            return crate::PublishFuture::waiting(async move {
                self.publish_many(stream, vec![envelope], dedupe)
                    .await?
                    .pop()
                    .ok_or_else(|| Error::internal("publish returned no result"))
            });
        }
        // A local payload stays a Rust value in process: there is no wire size to check
        // (durable backends encode it, and check, above).
        if !envelope.payload.is_local()
            && let Err(e) = envelope.check_limits(&self.opts().limits)
        {
            return crate::PublishFuture::ready(Err(e));
        }
        let cell = self.engine.stream(stream);
        let now = self.engine.now();
        match self.try_publish_now(&cell, envelope, now, dedupe) {
            Ok(published) => crate::PublishFuture::ready(Ok(published)),
            Err(envelope) => crate::PublishFuture::waiting(
                self.publish_when_room(stream, cell, envelope, dedupe),
            ),
        }
    }

    /// Publishes at once in memory, or hands the envelope back when the backlog is full.
    #[allow(clippy::result_large_err)] // the envelope comes back by value, like a SendError
    fn try_publish_now(
        &self,
        cell: &StreamCell,
        envelope: Envelope,
        now: u64,
        dedupe: bool,
    ) -> Result<Published, Envelope> {
        if envelope.meta.idempotency_key.is_none() || !dedupe {
            // No deduplication to check: publish without the stream lock.
            return cell
                .push(envelope, now, self.opts().max_backlog)
                .map(|offset| Published::Stored { offset })
                .or_else(|envelope| self.publish_locked(cell, envelope, now, dedupe));
        }
        self.publish_locked(cell, envelope, now, dedupe)
    }

    #[allow(clippy::result_large_err)] // the envelope comes back by value, like a SendError
    fn publish_locked(
        &self,
        cell: &StreamCell,
        envelope: Envelope,
        now: u64,
        dedupe: bool,
    ) -> Result<Published, Envelope> {
        let mut state = self.engine.lock(cell);
        match state.reserve(&envelope, now, self.opts(), dedupe) {
            Reservation::Offset(offset) => {
                state.commit(
                    Arc::new(Entry::new(offset, now, envelope)),
                    now,
                    self.opts(),
                );
                drop(state);
                cell.wake_fetchers();
                Ok(Published::Stored { offset })
            }
            Reservation::Duplicate(original) => Ok(Published::Duplicate { original }),
            Reservation::Full => Err(envelope),
        }
    }

    async fn publish_when_room(
        &self,
        stream: &Topic,
        cell: Arc<StreamCell>,
        mut envelope: Envelope,
        dedupe: bool,
    ) -> Result<Published, Error> {
        loop {
            let room = cell
                .wait_for(Wake::Space, self.opts().publish_timeout, || {
                    self.engine.has_room(&cell).then_some(())
                })
                .await;
            if room.is_none() {
                return Err(self.overloaded(stream));
            }
            match self.try_publish_now(&cell, envelope, self.engine.now(), dedupe) {
                Ok(published) => return Ok(published),
                Err(back) => envelope = back,
            }
        }
    }

    fn overloaded(&self, stream: &Topic) -> Error {
        Error::new(
            ErrorCode::Overloaded,
            format!(
                "stream `{stream}`: a consumer group's backlog is full ({} messages) and did not drain within {:?}",
                self.opts().max_backlog,
                self.opts().publish_timeout
            ),
        )
    }

    pub(crate) async fn publish_many(
        &self,
        stream: &Topic,
        envelopes: Vec<Envelope>,
        dedupe: bool,
    ) -> Result<Vec<Published>, Error> {
        for env in &envelopes {
            if !(P::IN_MEMORY && env.payload.is_local()) {
                env.check_limits(&self.opts().limits)?;
            }
        }
        let cell = self.engine.stream(stream);
        let now = self.engine.now();
        let mut results: Vec<Option<Published>> = vec![None; envelopes.len()];
        let mut reserved: Vec<(usize, u64)> = Vec::with_capacity(envelopes.len());
        let mut next = 0;
        loop {
            let mut full = false;
            {
                let mut state = self.engine.lock(&cell);
                while next < envelopes.len() {
                    match state.reserve(&envelopes[next], now, self.opts(), dedupe) {
                        Reservation::Offset(offset) => reserved.push((next, offset)),
                        Reservation::Duplicate(original) => {
                            results[next] = Some(Published::Duplicate { original });
                        }
                        Reservation::Full => {
                            full = true;
                            break;
                        }
                    }
                    next += 1;
                }
            }
            if !full {
                break;
            }
            let room = cell
                .wait_for(Wake::Space, self.opts().publish_timeout, || {
                    self.engine.has_room(&cell).then_some(())
                })
                .await;
            if room.is_none() {
                self.abort(&cell, &reserved, &envelopes);
                return Err(self.overloaded(stream));
            }
        }
        if reserved.is_empty() {
            return Ok(results.into_iter().flatten().collect());
        }
        let published_ms = self.engine.now();
        let mut envelopes: Vec<Option<Envelope>> = envelopes.into_iter().map(Some).collect();
        let entries: Vec<Arc<Entry>> = reserved
            .iter()
            .map(|&(i, offset)| {
                let env = envelopes[i].take().expect("each envelope reserved once");
                Arc::new(Entry::new(offset, published_ms, env))
            })
            .collect();
        if !P::IN_MEMORY
            && let Err(e) = self.persist.append(stream, &entries).await
        {
            let mut state = self.engine.lock(&cell);
            for entry in &entries {
                state.abort(entry.offset, &entry.envelope);
            }
            return Err(e.context(format!("publishing to stream `{stream}`")));
        }
        {
            let mut state = self.engine.lock(&cell);
            for entry in entries {
                state.commit(entry, now, self.opts());
            }
        }
        cell.wake_fetchers();
        for (i, offset) in reserved {
            results[i] = Some(Published::Stored { offset });
        }
        Ok(results.into_iter().flatten().collect())
    }

    fn abort(&self, cell: &StreamCell, reserved: &[(usize, u64)], envelopes: &[Envelope]) {
        let mut state = self.engine.lock(cell);
        for &(i, offset) in reserved {
            state.abort(offset, &envelopes[i]);
        }
    }

    pub(crate) async fn create_group(
        &self,
        stream: &Topic,
        group: &Group,
        from: StartFrom,
    ) -> Result<(), Error> {
        let cell = self.engine.stream(stream);
        if self.engine.lock(&cell).has_group(group) {
            return Ok(());
        }
        let mut start = self.engine.lock(&cell).next_offset();
        if from == StartFrom::Earliest {
            if P::IN_MEMORY {
                start = self.engine.lock(&cell).first_offset();
            } else {
                let before = self.engine.lock(&cell).first_offset();
                let (older, first) = self.persist.backfill(stream, before).await?;
                self.engine.lock(&cell).prepend(older);
                start = first;
            }
        }
        let created = {
            let mut state = self.engine.lock(&cell);
            state.create_group(group, from, self.engine.now(), self.opts())
        };
        if created {
            self.persist.group_created(stream, group, start).await?;
            cell.wake_fetchers();
        }
        Ok(())
    }

    pub(crate) async fn fetch(
        &self,
        stream: &Topic,
        group: &Group,
        consumer: &AgentId,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, Error> {
        let cell = self
            .engine
            .existing(stream)
            .map_err(|e| e.context(format!("fetching from group `{group}`")))?;
        let mut dead = Vec::new();
        let mut attempt = || {
            let now = self.engine.now();
            let mut state = self.engine.lock(&cell);
            match state.fetch(group, consumer, max, now, self.opts()) {
                Ok((deliveries, drafts)) => {
                    dead.extend(drafts);
                    (!deliveries.is_empty()).then_some(Ok(deliveries))
                }
                Err(e) => Some(Err(e)),
            }
        };
        let result = if wait.is_zero() || max == 0 {
            attempt()
        } else {
            cell.wait_for(Wake::Arrived, wait, attempt).await
        };
        if !dead.is_empty() {
            let letters = self.engine.bury(stream, dead);
            cell.wake_publishers();
            self.persist.buried(letters).await?;
        }
        result.unwrap_or_else(|| Ok(Vec::new()))
    }

    pub(crate) async fn ack(&self, receipts: &[Receipt]) -> Result<(), Error> {
        // Receipts usually come in runs of one stream: take each stream's lock once per run.
        let mut rest = receipts;
        while let Some(first) = rest.first() {
            let run = rest
                .iter()
                .position(|r| r.stream != first.stream)
                .unwrap_or(rest.len());
            let (now, later) = rest.split_at(run);
            rest = later;
            self.ack_run(&first.stream, now).await?;
        }
        Ok(())
    }

    async fn ack_run(&self, stream: &Topic, receipts: &[Receipt]) -> Result<(), Error> {
        {
            let cell = self.engine.existing(stream)?;
            let mut acked = Vec::with_capacity(if P::IN_MEMORY { 0 } else { receipts.len() });
            {
                let mut state = self.engine.lock(&cell);
                for r in receipts {
                    if state.ack(&r.group, r.offset, self.opts())? && !P::IN_MEMORY {
                        acked.push((r.group.clone(), r.offset));
                    }
                }
            }
            cell.wake_publishers();
            if !P::IN_MEMORY && !acked.is_empty() {
                self.persist.acked(stream, acked).await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn nack(
        &self,
        receipt: &Receipt,
        delay: Duration,
        error: Error,
    ) -> Result<(), Error> {
        let cell = self.engine.existing(&receipt.stream)?;
        let result = {
            let mut state = self.engine.lock(&cell);
            state.nack(
                &receipt.group,
                receipt.offset,
                ms(delay),
                error,
                self.engine.now(),
                self.opts(),
            )?
        };
        match result {
            NackResult::Retry {
                track,
                not_before_ms,
            } => {
                if delay.is_zero() {
                    cell.wake_fetchers();
                }
                self.persist
                    .retried(
                        &receipt.stream,
                        &receipt.group,
                        receipt.offset,
                        track,
                        not_before_ms,
                    )
                    .await
            }
            NackResult::Dead(draft) => {
                let letters = self.engine.bury(&receipt.stream, vec![*draft]);
                cell.wake_publishers();
                self.persist.buried(letters).await
            }
        }
    }

    pub(crate) async fn reject(&self, receipt: &Receipt, error: Error) -> Result<(), Error> {
        let cell = self.engine.existing(&receipt.stream)?;
        let draft = {
            let mut state = self.engine.lock(&cell);
            state.reject(
                &receipt.group,
                receipt.offset,
                error,
                self.engine.now(),
                self.opts(),
            )?
        };
        let letters = self.engine.bury(&receipt.stream, vec![draft]);
        cell.wake_publishers();
        self.persist.buried(letters).await
    }

    pub(crate) async fn read(
        &self,
        stream: &Topic,
        from: ReadFrom,
        max: usize,
    ) -> Result<Vec<Stored>, Error> {
        if let Some(result) = self.persist.read(stream, from, max).await {
            return result;
        }
        let cell = self.engine.existing(stream)?;
        let state = self.engine.lock(&cell);
        Ok(match from {
            ReadFrom::Offset(o) => state.read(Some(o), None, max),
            ReadFrom::Time(t) => state.read(
                None,
                Some(u64::try_from(t.timestamp_millis()).unwrap_or(0)),
                max,
            ),
        })
    }

    pub(crate) fn streams(&self) -> Vec<StreamInfo> {
        let cells = self.engine.all();
        cells
            .iter()
            .map(|cell| {
                let state = self.engine.lock(cell);
                let dead = self.engine.dead.lock().count_for(state.name());
                state.info(dead)
            })
            .collect()
    }

    pub(crate) fn dead_letters(&self, filter: &DlqFilter) -> Vec<DeadLetter> {
        self.engine.dead.lock().list(filter)
    }

    pub(crate) async fn replay_dead_letter(&self, id: u64) -> Result<Published, Error> {
        let letter = self.engine.dead.lock().get(id).cloned().ok_or_else(|| {
            Error::new(ErrorCode::NotFound, format!("no dead letter with id {id}"))
        })?;
        let mut envelope = letter.envelope;
        envelope.meta.retry_count = envelope.meta.retry_count.saturating_add(1);
        let published = self
            .publish_many(&letter.stream, vec![envelope], false)
            .await?
            .pop()
            .ok_or_else(|| Error::internal("publish returned no result"))?;
        self.engine.dead.lock().remove(&[id]);
        self.persist.dlq_removed(vec![id]).await?;
        Ok(published)
    }

    pub(crate) async fn control(&self, key: &str) -> Result<Option<ControlValue>, Error> {
        match self.persist.control(key).await {
            Some(result) => result,
            None => Ok(self.engine.controls.lock().get(key).cloned()),
        }
    }

    pub(crate) async fn set_control(&self, key: &str, value: Option<String>) -> Result<(), Error> {
        let now = self.engine.now();
        if let Some(result) = self.persist.set_control(key, value.as_deref(), now).await {
            return result;
        }
        let mut controls = self.engine.controls.lock();
        match value {
            Some(value) => {
                controls.insert(
                    key.to_owned(),
                    ControlValue {
                        value,
                        updated_ms: now,
                    },
                );
            }
            None => {
                controls.remove(key);
            }
        }
        Ok(())
    }

    pub(crate) fn stream_info(&self, stream: &Topic) -> Option<StreamInfo> {
        let cell = self.engine.existing(stream).ok()?;
        let state = self.engine.lock(&cell);
        let dead = self.engine.dead.lock().count_for(state.name());
        Some(state.info(dead))
    }

    pub(crate) async fn purge_dead_letters(&self, filter: &DlqFilter) -> Result<u64, Error> {
        let ids: Vec<u64> = self.dead_letters(filter).iter().map(|d| d.id).collect();
        let removed = self.engine.dead.lock().remove(&ids);
        if !ids.is_empty() {
            self.persist.dlq_removed(ids).await?;
        }
        Ok(removed)
    }
}

/// Implements [`Bus`](crate::Bus) for a backend type by forwarding to its `core` field.
macro_rules! forward_bus {
    ($ty:ty, $name:literal) => {
        #[async_trait::async_trait]
        impl $crate::Bus for $ty {
            fn backend(&self) -> &'static str {
                $name
            }

            fn publish<'a>(
                &'a self,
                stream: &'a cadre_core::Topic,
                envelope: cadre_core::Envelope,
            ) -> $crate::PublishFuture<'a> {
                match self.core() {
                    Ok(core) => core.publish_one(stream, envelope, true),
                    Err(e) => $crate::PublishFuture::ready(Err(e)),
                }
            }

            async fn publish_batch(
                &self,
                stream: &cadre_core::Topic,
                envelopes: Vec<cadre_core::Envelope>,
            ) -> Result<Vec<$crate::Published>, cadre_core::Error> {
                self.core()?.publish_many(stream, envelopes, true).await
            }

            async fn create_group(
                &self,
                stream: &cadre_core::Topic,
                group: &cadre_core::Group,
                from: $crate::StartFrom,
            ) -> Result<(), cadre_core::Error> {
                self.core()?.create_group(stream, group, from).await
            }

            async fn fetch(
                &self,
                stream: &cadre_core::Topic,
                group: &cadre_core::Group,
                consumer: &cadre_core::AgentId,
                max: usize,
                wait: std::time::Duration,
            ) -> Result<Vec<$crate::Delivery>, cadre_core::Error> {
                self.core()?.fetch(stream, group, consumer, max, wait).await
            }

            async fn ack(&self, receipts: &[$crate::Receipt]) -> Result<(), cadre_core::Error> {
                self.core()?.ack(receipts).await
            }

            async fn nack(
                &self,
                receipt: &$crate::Receipt,
                delay: std::time::Duration,
                error: cadre_core::Error,
            ) -> Result<(), cadre_core::Error> {
                self.core()?.nack(receipt, delay, error).await
            }

            async fn reject(
                &self,
                receipt: &$crate::Receipt,
                error: cadre_core::Error,
            ) -> Result<(), cadre_core::Error> {
                self.core()?.reject(receipt, error).await
            }

            async fn read(
                &self,
                stream: &cadre_core::Topic,
                from: $crate::ReadFrom,
                max: usize,
            ) -> Result<Vec<$crate::Stored>, cadre_core::Error> {
                self.reader().read(stream, from, max).await
            }

            async fn streams(&self) -> Result<Vec<$crate::StreamInfo>, cadre_core::Error> {
                Ok(self.reader().streams())
            }

            async fn stream_info(
                &self,
                stream: &cadre_core::Topic,
            ) -> Result<Option<$crate::StreamInfo>, cadre_core::Error> {
                Ok(self.reader().stream_info(stream))
            }

            async fn control(
                &self,
                key: &str,
            ) -> Result<Option<$crate::ControlValue>, cadre_core::Error> {
                self.reader().control(key).await
            }

            async fn set_control(
                &self,
                key: &str,
                value: Option<String>,
            ) -> Result<(), cadre_core::Error> {
                self.reader().set_control(key, value).await
            }

            async fn dead_letters(
                &self,
                filter: &$crate::DlqFilter,
            ) -> Result<Vec<$crate::DeadLetter>, cadre_core::Error> {
                Ok(self.reader().dead_letters(filter))
            }

            async fn replay_dead_letter(
                &self,
                id: u64,
            ) -> Result<$crate::Published, cadre_core::Error> {
                self.core()?.replay_dead_letter(id).await
            }

            async fn purge_dead_letters(
                &self,
                filter: &$crate::DlqFilter,
            ) -> Result<u64, cadre_core::Error> {
                self.core()?.purge_dead_letters(filter).await
            }
        }
    };
}

pub(crate) use forward_bus;
