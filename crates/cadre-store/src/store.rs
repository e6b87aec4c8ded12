//! The `EventStore` trait.

use async_trait::async_trait;
use cadre_core::{Error, Payload};

use crate::{
    AppendResult, Direction, EventQuery, ExpectedVersion, NewEvent, RecordedEvent, StreamId,
    StreamSummary,
};

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

    /// The streams whose names start with `prefix` (`""`: every stream), in name order (byte
    /// order), strictly after `after` when it is given, at most `max` of them (at most
    /// [`MAX_READ`]). A stream with no events is not listed. Page through every stream by
    /// passing the last name of one page as `after` of the next.
    ///
    /// # Errors
    /// `InvalidInput` when `prefix` has a character no stream name can have, or is longer
    /// than a stream name; `Storage` when the store fails.
    async fn list_streams(
        &self,
        prefix: &str,
        after: Option<&StreamId>,
        max: usize,
    ) -> Result<Vec<StreamSummary>, Error>;

    /// Deletes `stream` atomically: its events, its snapshot and the pending outbox entries
    /// of its events. Returns how many events were deleted (0 for a stream that does not
    /// exist).
    ///
    /// The global positions of deleted events are never handed out again, so a projection
    /// tailing [`EventStore::read_all`] never sees a position go backwards; a later append to
    /// the same name starts a new stream at version 1. An append racing the delete lands
    /// either before it (and is deleted) or after it (in the new stream).
    ///
    /// # Errors
    /// `Storage` when the store fails.
    async fn delete_stream(&self, stream: &StreamId) -> Result<u64, Error>;

    /// Up to `max` events (at most [`MAX_READ`]) that match `query`, in global order, from
    /// global position `from` (inclusive). Page by passing the last event's position plus one
    /// as the next `from`. Served by indexes on the metadata's conversation and agent and on
    /// the recording time, so a narrow query does not read the whole store.
    ///
    /// # Errors
    /// `InvalidInput` when the query is invalid (see [`EventQuery::validate`]); otherwise as
    /// [`EventStore::read`].
    async fn query(
        &self,
        query: &EventQuery,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, Error>;
}
