//! The `Bus` trait and the values that cross it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cadre_core::{AgentId, Envelope, Error, Group, Topic};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::Entry;
use crate::{DeadLetter, DlqFilter};

/// Where a new consumer group starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartFrom {
    /// Every message still retained in the stream.
    Earliest,
    /// Only messages published after the group is created.
    Latest,
}

/// Where a replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadFrom {
    /// At this offset (the first message has offset 0).
    Offset(u64),
    /// At the first message published at or after this time.
    Time(DateTime<Utc>),
}

/// The result of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Published {
    /// Stored at this offset.
    Stored {
        /// The message's offset in its stream.
        offset: u64,
    },
    /// Dropped: another message with the same idempotency key was published inside the dedupe
    /// window.
    Duplicate {
        /// The offset of the message that was kept.
        original: u64,
    },
}

impl Published {
    /// The offset of the stored message (for a duplicate, of the original).
    pub fn offset(&self) -> u64 {
        match *self {
            Self::Stored { offset } => offset,
            Self::Duplicate { original } => original,
        }
    }

    /// Whether the message was dropped as a duplicate.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Self::Duplicate { .. })
    }
}

/// Identifies one delivery for [`Bus::ack`], [`Bus::nack`] and [`Bus::reject`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Receipt {
    /// The stream.
    pub stream: Topic,
    /// The consumer group.
    pub group: Group,
    /// The message's offset.
    pub offset: u64,
}

/// A message handed to a consumer, with its lease.
///
/// The message is shared with the bus (no copy is made per delivery); read it with
/// [`Delivery::envelope`].
#[derive(Debug, Clone)]
pub struct Delivery {
    pub(crate) entry: Arc<Entry>,
    /// The stream it came from.
    pub stream: Topic,
    /// The group it was delivered in.
    pub group: Group,
    /// The message's offset.
    pub offset: u64,
    /// 1 for the first delivery, then 2, 3, ... (per group).
    pub delivery_count: u32,
    /// The lease runs out at this time (milliseconds since the Unix epoch, on the bus clock);
    /// after it the message may go to another consumer.
    pub lease_until_ms: u64,
}

impl Delivery {
    /// The message.
    pub fn envelope(&self) -> &Envelope {
        &self.entry.envelope
    }

    /// The message, owned.
    pub fn into_envelope(self) -> Envelope {
        match Arc::try_unwrap(self.entry) {
            Ok(entry) => entry.envelope,
            Err(shared) => shared.envelope.clone(),
        }
    }

    /// The receipt to ack, nack or reject this delivery.
    pub fn receipt(&self) -> Receipt {
        Receipt {
            stream: self.stream.clone(),
            group: self.group.clone(),
            offset: self.offset,
        }
    }
}

/// A message read by replay, outside any group.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The message's offset.
    pub offset: u64,
    /// When it was published (milliseconds since the Unix epoch).
    pub published_ms: u64,
    /// The message.
    pub envelope: Envelope,
}

/// Counters of one stream since the bus started (the sqlite backend keeps them across
/// restarts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Messages stored.
    pub published: u64,
    /// Publishes dropped as duplicates.
    pub duplicates: u64,
    /// Deliveries handed to consumers (including redeliveries).
    pub delivered: u64,
    /// Deliveries acknowledged.
    pub acked: u64,
    /// Deliveries negatively acknowledged.
    pub nacked: u64,
    /// Leases that ran out, so the message went back to the queue.
    pub lease_expired: u64,
    /// Messages moved to the dead-letter store.
    pub dead_lettered: u64,
    /// Of those, messages whose TTL ran out.
    pub expired: u64,
}

/// The state of one consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// The group.
    pub name: Group,
    /// Messages waiting to be delivered, by priority (low, normal, high, critical).
    pub ready: [u64; 4],
    /// Messages waiting for their retry delay or delivery time.
    pub delayed: u64,
    /// Messages delivered and not yet acknowledged.
    pub in_flight: u64,
    /// Consumers that have fetched from the group.
    pub consumers: u64,
}

impl GroupInfo {
    /// Messages the group has not finished: ready, delayed and in flight.
    pub fn backlog(&self) -> u64 {
        self.ready.iter().sum::<u64>() + self.delayed + self.in_flight
    }
}

/// The state of one stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// The stream.
    pub name: Topic,
    /// The offset the next message will get.
    pub next_offset: u64,
    /// The oldest offset still readable by replay.
    pub first_offset: u64,
    /// Its consumer groups.
    pub groups: Vec<GroupInfo>,
    /// Dead letters currently held for the stream.
    pub dead_letters: u64,
    /// Counters.
    pub counters: Counters,
}

/// The value of a control register (see [`Bus::control`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlValue {
    /// The value.
    pub value: String,
    /// When it was set (milliseconds since the Unix epoch).
    pub updated_ms: u64,
}

/// The future returned by [`Bus::publish`].
#[must_use = "futures do nothing unless awaited"]
pub struct PublishFuture<'a> {
    state: PublishState<'a>,
}

enum PublishState<'a> {
    Ready(Option<Result<Published, Error>>),
    Waiting(
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Published, Error>> + Send + 'a>>,
    ),
}

impl<'a> PublishFuture<'a> {
    /// A publish that has already finished.
    pub fn ready(result: Result<Published, Error>) -> Self {
        Self {
            state: PublishState::Ready(Some(result)),
        }
    }

    /// A publish that still has work to do.
    pub fn waiting(
        fut: impl std::future::Future<Output = Result<Published, Error>> + Send + 'a,
    ) -> Self {
        Self {
            state: PublishState::Waiting(Box::pin(fut)),
        }
    }
}

impl std::fmt::Debug for PublishFuture<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            PublishState::Ready(_) => "ready",
            PublishState::Waiting(_) => "waiting",
        };
        f.debug_struct("PublishFuture")
            .field("state", &state)
            .finish()
    }
}

impl std::future::Future for PublishFuture<'_> {
    type Output = Result<Published, Error>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match &mut self.state {
            PublishState::Ready(result) => {
                std::task::Poll::Ready(result.take().unwrap_or_else(|| {
                    Err(Error::internal("publish future polled after completion"))
                }))
            }
            PublishState::Waiting(fut) => fut.as_mut().poll(cx),
        }
    }
}

/// A message bus backend.
///
/// All backends share the semantics described in the crate documentation and proven by the
/// [`conformance`](crate::conformance) suite.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// The backend's name (`memory`, `sqlite`, ...).
    fn backend(&self) -> &'static str;

    /// Publishes one message to `stream`, creating the stream if needed.
    ///
    /// Returns once the message is stored (durably, on durable backends).
    ///
    /// # Errors
    /// [`ErrorCode::Overloaded`](cadre_core::ErrorCode::Overloaded) when a group's backlog is
    /// full for longer than [`BusOptions::publish_timeout`](crate::BusOptions); `Oversize` for
    /// an envelope over the limits; `Storage` when the store fails.
    ///
    /// The future is a concrete type so that backends that can publish at once (the memory
    /// backend, without an idempotency key) do so without allocating.
    fn publish<'a>(&'a self, stream: &'a Topic, envelope: Envelope) -> PublishFuture<'a>;

    /// Publishes several messages to `stream` in order, stored together.
    ///
    /// # Errors
    /// As [`Bus::publish`]; on error none of the batch was stored.
    async fn publish_batch(
        &self,
        stream: &Topic,
        envelopes: Vec<Envelope>,
    ) -> Result<Vec<Published>, Error>;

    /// Creates consumer group `group` on `stream` (and the stream) if it does not exist.
    ///
    /// # Errors
    /// `Storage` when the store fails.
    async fn create_group(
        &self,
        stream: &Topic,
        group: &Group,
        from: StartFrom,
    ) -> Result<(), Error>;

    /// Hands up to `max` messages to `consumer`, highest priority first, waiting up to `wait`
    /// for the first one. Expired leases are reclaimed first; each delivery gets a new lease.
    /// A consumer never holds more than `max_in_flight_per_consumer` unacknowledged messages.
    ///
    /// # Errors
    /// `NotFound` when the group does not exist.
    async fn fetch(
        &self,
        stream: &Topic,
        group: &Group,
        consumer: &AgentId,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, Error>;

    /// Acknowledges deliveries: they will not be delivered again in their groups. Acking a
    /// delivery that is no longer leased (already acked, dead-lettered) is a no-op.
    ///
    /// # Errors
    /// `NotFound` for an unknown stream or group; `Storage` when the store fails.
    async fn ack(&self, receipts: &[Receipt]) -> Result<(), Error>;

    /// Gives a delivery back: it is delivered again after `delay`, or dead-lettered with
    /// `error` when it has reached the maximum number of deliveries.
    ///
    /// # Errors
    /// `NotFound` for an unknown stream, group or delivery.
    async fn nack(&self, receipt: &Receipt, delay: Duration, error: Error) -> Result<(), Error>;

    /// Moves a delivery straight to the dead-letter store (a poison message: undecodable, or
    /// failing in a way retries cannot fix).
    ///
    /// # Errors
    /// `NotFound` for an unknown stream, group or delivery.
    async fn reject(&self, receipt: &Receipt, error: Error) -> Result<(), Error>;

    /// Reads up to `max` messages of `stream` from `from`, outside any group (replay).
    ///
    /// # Errors
    /// `NotFound` for an unknown stream.
    async fn read(&self, stream: &Topic, from: ReadFrom, max: usize) -> Result<Vec<Stored>, Error>;

    /// Every stream with its groups and counters.
    ///
    /// # Errors
    /// `Storage` when the store fails.
    async fn streams(&self) -> Result<Vec<StreamInfo>, Error>;

    /// One stream with its groups and counters, or `None` when it does not exist.
    ///
    /// # Errors
    /// `Storage` when the store fails.
    async fn stream_info(&self, stream: &Topic) -> Result<Option<StreamInfo>, Error> {
        Ok(self
            .streams()
            .await?
            .into_iter()
            .find(|s| &s.name == stream))
    }

    /// Reads control register `key`: a small named value that every node and tool sharing the
    /// bus sees (the kill switch lives here). `None` when it is not set.
    ///
    /// # Errors
    /// `Storage` when the store fails.
    async fn control(&self, key: &str) -> Result<Option<ControlValue>, Error>;

    /// Sets (`Some`) or clears (`None`) control register `key`. Unlike other changes, this works
    /// on a read-only handle and while another process owns a durable bus, so operators can
    /// reach a running crew (`cadre halt`).
    ///
    /// # Errors
    /// `Storage` when the store fails.
    async fn set_control(&self, key: &str, value: Option<String>) -> Result<(), Error>;

    /// Dead letters matching `filter`, oldest first.
    ///
    /// # Errors
    /// `Storage` when the store fails.
    async fn dead_letters(&self, filter: &DlqFilter) -> Result<Vec<DeadLetter>, Error>;

    /// Re-publishes dead letter `id` to its stream (bypassing deduplication) and removes it
    /// from the dead-letter store.
    ///
    /// # Errors
    /// `NotFound` for an unknown id.
    async fn replay_dead_letter(&self, id: u64) -> Result<Published, Error>;

    /// Deletes the dead letters matching `filter`; returns how many.
    ///
    /// # Errors
    /// `Storage` when the store fails.
    async fn purge_dead_letters(&self, filter: &DlqFilter) -> Result<u64, Error>;
}
