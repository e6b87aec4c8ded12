//! The `EventStore` trait.

use async_trait::async_trait;
use cadre_core::{Error, Payload};

use crate::{AppendResult, Direction, ExpectedVersion, NewEvent, RecordedEvent, StreamId};

/// The most events one read returns, whatever `max` asks for.
pub const MAX_READ: usize = 10_000;

/// An event store: named, append-only streams of events, a global feed across them,
/// snapshots, and a transactional outbox.
///
/// All backends share the semantics below, proven by the [`conformance`](crate::conformance)
/// suite.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// The backend's name (`sqlite`, ...).
    fn backend(&self) -> &'static str;

    /// Appends `events` to `stream` atomically: all of them are stored, at consecutive
    /// versions after the stream's current one, or none is. The first event of a stream has
    /// version 1. In the same transaction each event gets an outbox entry (see
    /// [`EventStore::outbox_pending`]).
    ///
    /// **Idempotency.** Event ids are unique across the store. When *every* event of the batch
    /// is already stored in `stream` (a retry after a lost reply), nothing is written, the
    /// expected version is not checked, and the result holds the existing positions with
    /// [`AppendResult::already_stored`] set. When only some are, or one is stored in another
    /// stream, the append fails with [`ErrorCode::Conflict`](cadre_core::ErrorCode::Conflict)
    /// naming the event.
    ///
    /// # Errors
    /// - `Conflict` when the stream's version does not match `expected` (the message names the
    ///   stream, the expected and the actual version), or for a partial re-append (above);
    /// - `InvalidInput` for an empty batch, a batch that repeats an event id, or a bad event
    ///   type; `Oversize` for a payload over [`MAX_PAYLOAD_BYTES`](crate::MAX_PAYLOAD_BYTES);
    /// - `Storage` when the store fails.
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error>;

    /// Reads up to `max` events (at most [`MAX_READ`]) of `stream`, starting at version `from`
    /// and walking in `direction`. A stream that does not exist reads as empty.
    ///
    /// # Errors
    /// `Storage` when the store fails; `Decode` for a stored event that no longer decodes.
    async fn read(
        &self,
        stream: &StreamId,
        from: u64,
        max: usize,
        direction: Direction,
    ) -> Result<Vec<RecordedEvent>, Error>;

    /// Reads up to `max` events (at most [`MAX_READ`]) of every stream in the order they were
    /// stored, from global position `from` (inclusive; the first event has position 1).
    ///
    /// # Errors
    /// As [`EventStore::read`].
    async fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, Error>;

    /// The version of `stream`'s last event, or `None` when the stream has no events.
    ///
    /// # Errors
    /// `Storage` when the store fails.
    async fn stream_version(&self, stream: &StreamId) -> Result<Option<u64>, Error>;

    /// Stores `state` as the snapshot of `stream` at `version` (the state after applying
    /// events 1 to `version`). A stream keeps one snapshot, the one of the highest version:
    /// saving an older one than the stored one is a no-op.
    ///
    /// # Errors
    /// `InvalidInput` when `version` is 0 or past the stream's version; `Storage` when the
    /// store fails.
    async fn save_snapshot(
        &self,
        stream: &StreamId,
        version: u64,
        state: Payload,
    ) -> Result<(), Error>;

    /// The latest snapshot of `stream` with its version, if any.
    ///
    /// # Errors
    /// `Storage` when the store fails.
    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<(u64, Payload)>, Error>;

    /// Up to `max` events (at most [`MAX_READ`]) whose outbox entries are pending (appended
    /// and not yet [marked sent](EventStore::outbox_mark_sent)), in global order. Used by the
    /// [`OutboxRelay`](crate::OutboxRelay).
    ///
    /// # Errors
    /// As [`EventStore::read`].
    async fn outbox_pending(&self, max: usize) -> Result<Vec<RecordedEvent>, Error>;

    /// Marks the outbox entries of the events at these global positions as sent. Unknown or
    /// already sent positions are ignored.
    ///
    /// # Errors
    /// `Storage` when the store fails.
    async fn outbox_mark_sent(&self, positions: &[u64]) -> Result<(), Error>;
}
