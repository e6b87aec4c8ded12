//! The outbox relay: publishes stored events to the bus, exactly once as seen by consumers.
//!
//! Every append writes one outbox entry per event in its own transaction, so an event is
//! stored if and only if it is queued for publishing. The relay reads pending entries in
//! global order, publishes each event as an [`Envelope`] whose idempotency key (and id) is the
//! event id, and then marks the entries sent. If the relay stops between publishing and
//! marking, the next run publishes the same events again and the bus drops the copies as
//! duplicates (inside its dedupe window), so each event reaches the stream once.

use std::sync::Arc;
use std::time::Duration;

use cadre_bus::Bus;
use cadre_core::{AgentId, Envelope, Error, MessageId, MessageKind, Recipient, Topic};

use crate::{EventStore, RecordedEvent};

/// What one [`OutboxRelay::run_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Events stored by the bus.
    pub published: usize,
    /// Events the bus dropped as already published (a re-publish after a stop).
    pub duplicates: usize,
}

impl RelayStats {
    /// Events handled: published or found already published.
    pub fn total(&self) -> usize {
        self.published + self.duplicates
    }
}

/// Publishes an [`EventStore`]'s pending outbox entries to one bus topic.
///
/// ```text
/// let relay = OutboxRelay::new(store, bus, Topic::new("orders.events")?);
/// tokio::spawn(relay.run(shutdown_signal));
/// ```
#[derive(Clone)]
pub struct OutboxRelay {
    store: Arc<dyn EventStore>,
    bus: Arc<dyn Bus>,
    topic: Topic,
    sender: AgentId,
    batch: usize,
    poll: Duration,
}

impl std::fmt::Debug for OutboxRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRelay")
            .field("store", &self.store.backend())
            .field("bus", &self.bus.backend())
            .field("topic", &self.topic)
            .field("sender", &self.sender)
            .field("batch", &self.batch)
            .field("poll", &self.poll)
            .finish()
    }
}

/// The sender of relayed events that name no agent.
pub const RELAY_SENDER: &str = "cadre-store-outbox";

impl OutboxRelay {
    /// A relay from `store` to `topic` on `bus`, publishing up to 256 events at a time and
    /// polling every 50 ms when idle.
    pub fn new(store: Arc<dyn EventStore>, bus: Arc<dyn Bus>, topic: Topic) -> Self {
        Self {
            store,
            bus,
            topic,
            #[allow(clippy::expect_used)]
            sender: AgentId::new(RELAY_SENDER).expect("RELAY_SENDER is a valid agent id"),
            batch: 256,
            poll: Duration::from_millis(50),
        }
    }

    /// Sets how many events one round publishes (at least 1).
    #[must_use]
    pub fn with_batch_size(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Sets how long an idle relay waits before looking again.
    #[must_use]
    pub fn with_poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Sets the sender of events whose metadata names no agent.
    #[must_use]
    pub fn with_sender(mut self, sender: AgentId) -> Self {
        self.sender = sender;
        self
    }

    /// The envelope that carries `event`: an [`MessageKind::Event`] to the relay's topic whose
    /// id and idempotency key are the event id, with the event's payload, conversation and
    /// trace, sent by the event's agent (or the relay's sender).
    pub fn envelope_for(&self, event: &RecordedEvent) -> Envelope {
        let sender = event
            .metadata
            .agent
            .clone()
            .unwrap_or_else(|| self.sender.clone());
        let mut b = Envelope::builder(
            sender,
            Recipient::Topic(self.topic.clone()),
            MessageKind::Event,
        )
        .raw_payload(event.payload.clone())
        .idempotency_key(event.id.to_string())
        .timestamp(event.recorded_at);
        if let Some(c) = event.metadata.conversation_id {
            b = b.conversation(c);
        }
        if let Some(t) = event.metadata.trace_id {
            b = b.trace(t);
        }
        let mut env = b.build();
        env.id = MessageId::from_uuid(*event.id.as_uuid());
        env
    }

    /// Publishes one batch of pending events, in order, *without* marking them sent; returns
    /// their global positions and what the bus did. [`OutboxRelay::run_once`] is this followed
    /// by [`EventStore::outbox_mark_sent`].
    ///
    /// # Errors
    /// Errors of the store or the bus; events published before the error stay pending and are
    /// published again (and dropped as duplicates) next time.
    pub async fn publish_pending(&self) -> Result<(Vec<u64>, RelayStats), Error> {
        let events = self.store.outbox_pending(self.batch).await?;
        if events.is_empty() {
            return Ok((Vec::new(), RelayStats::default()));
        }
        let envelopes = events.iter().map(|e| self.envelope_for(e)).collect();
        let published = self.bus.publish_batch(&self.topic, envelopes).await?;
        let duplicates = published.iter().filter(|p| p.is_duplicate()).count();
        let stats = RelayStats {
            published: published.len() - duplicates,
            duplicates,
        };
        Ok((events.iter().map(|e| e.global_position).collect(), stats))
    }

    /// Publishes one batch of pending events and marks them sent.
    ///
    /// # Errors
    /// As [`OutboxRelay::publish_pending`], and the store's when marking fails.
    pub async fn run_once(&self) -> Result<RelayStats, Error> {
        let (positions, stats) = self.publish_pending().await?;
        self.store.outbox_mark_sent(&positions).await?;
        Ok(stats)
    }

    /// Relays until `stop` completes: publishes while there are pending events, then polls.
    /// Errors are logged and retried after the poll interval.
    pub async fn run(self, stop: impl Future<Output = ()> + Send) {
        let mut stop = std::pin::pin!(stop);
        loop {
            let wait = match self.run_once().await {
                Ok(stats) if stats.total() >= self.batch => Duration::ZERO,
                Ok(_) => self.poll,
                Err(e) => {
                    tracing::warn!(error = %e, topic = %self.topic, "outbox relay failed; will retry");
                    self.poll
                }
            };
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
