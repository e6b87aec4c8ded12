//! The cadre event store.
//!
//! An [`EventStore`] holds named streams of events. Appends are atomic and checked against an
//! [`ExpectedVersion`] (optimistic concurrency: a mismatch is a
//! [`Conflict`](cadre_core::ErrorCode::Conflict) naming the stream and both versions); event
//! ids make retries idempotent. Streams are read forward or backward, and every event also has
//! a place in one global feed ([`EventStore::read_all`]) for projections. Snapshots shortcut
//! rebuilding long streams.
//!
//! Streams are listed by name prefix ([`EventStore::list_streams`], with each one's version
//! and first and last recording time) and deleted whole ([`EventStore::delete_stream`]:
//! events, snapshot and pending outbox entries; positions are not reused), which is what
//! retention needs. [`EventStore::query`] finds events across streams by the conversation and
//! agent of their metadata, recording time, stream prefix and event type, through indexes.
//!
//! - [`Aggregate`] and [`Repository`]: state as a fold of a stream's events, loaded from the
//!   latest snapshot plus the events after it, snapshotted every
//!   [`Aggregate::SNAPSHOT_EVERY`] events.
//! - [`OutboxRelay`]: each append queues its events, in the same transaction, for publishing
//!   to a [`cadre_bus::Bus`] topic; the relay publishes them with the event id as idempotency
//!   key, so consumers see each event once even when the relay stops halfway.
//! - [`AuditLog`]: records [`AuditEntry`]s (who did what to what, in which conversation) as
//!   `audit.<action>` events of `audit/<subject>` streams, and reads the audit trail: every
//!   event matching an [`EventQuery`], as flat, serialisable [`AuditRecord`]s.
//! - [`SqliteStore`]: the embedded backend, one SQLite file with a group-committing writer.
//! - `PostgresStore` (cargo feature `postgres`, on by default): a PostgreSQL schema; appends
//!   are serialised by an advisory lock so the global feed becomes visible in order.
//! - [`connect`]: either backend from a URL (`sqlite://PATH`, `postgres://…`).
//!
//! Every backend passes the same conformance suite ([`conformance`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), cadre_core::Error> {
//! use cadre_core::{ErrorCode, Payload};
//! use cadre_store::{EventStore, ExpectedVersion, NewEvent, SqliteStore, StreamId};
//!
//! # let dir = tempfile::tempdir().map_err(|e| cadre_core::Error::internal(e.to_string()))?;
//! let store = SqliteStore::open(dir.path().join("events.db")).await?;
//! let cart = StreamId::new("cart-7")?;
//! let added = |sku: &str| NewEvent::new(Payload::from_json_text("cart.added", 1, format!("{sku:?}")).unwrap());
//!
//! store.append(&cart, ExpectedVersion::NoStream, vec![added("apple"), added("pear")]).await?;
//! // A writer that read the stream at version 1 loses the race.
//! let err = store.append(&cart, ExpectedVersion::Exact(1), vec![added("fig")]).await.unwrap_err();
//! assert_eq!(err.code(), ErrorCode::Conflict);
//! assert_eq!(store.stream_version(&cart).await?, Some(2));
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod aggregate;
mod audit;
pub mod bench;
pub mod conformance;
mod event;
mod outbox;
#[cfg(feature = "postgres")]
mod postgres;
mod query;
mod sqlite;
mod store;
mod url;

pub use aggregate::{Aggregate, Repository};
pub use audit::{AUDIT_STREAM_PREFIX, AUDIT_TYPE_PREFIX, AuditEntry, AuditLog, AuditRecord};
pub use event::{
    AppendResult, Direction, EventId, EventMetadata, EventPosition, ExpectedVersion,
    MAX_EVENT_TYPE_LEN, MAX_PAYLOAD_BYTES, MAX_STREAM_LEN, NewEvent, RecordedEvent, StreamId,
};
pub use outbox::{OutboxRelay, RELAY_SENDER, RelayStats};
#[cfg(feature = "postgres")]
pub use postgres::{DEFAULT_SCHEMA, PostgresStore};
pub use query::{EventQuery, StreamSummary};
pub use sqlite::SqliteStore;
pub use store::{EventStore, MAX_READ};
pub use url::connect;
