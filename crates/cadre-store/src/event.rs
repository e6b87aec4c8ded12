//! The values that cross the [`EventStore`](crate::EventStore): stream names, event ids,
//! events to append and events read back.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use cadre_core::{AgentId, ConversationId, Error, ErrorCode, Payload, TraceId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest stream name accepted, in bytes.
pub const MAX_STREAM_LEN: usize = cadre_core::MAX_NAME_LEN;

/// The longest event type accepted, in bytes.
pub const MAX_EVENT_TYPE_LEN: usize = 255;

/// The largest payload (JSON data) of one event, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024 * 1024;

/// The name of a stream of events, e.g. `order-42` or `desk/positions`.
///
/// Names are 1 to 255 bytes of ASCII letters, digits and `. - _ : / @`; they are cheap to
/// clone.
///
/// ```
/// use cadre_store::StreamId;
/// assert!(StreamId::new("order-42").is_ok());
/// assert!(StreamId::new("has space").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamId(Arc<str>);

impl StreamId {
    /// Validates `name`.
    ///
    /// # Errors
    /// [`ErrorCode::InvalidInput`] when the name is empty, longer than [`MAX_STREAM_LEN`] or
    /// has a character outside the allowed set; the message quotes the name.
    pub fn new(name: impl AsRef<str>) -> Result<Self, Error> {
        let name = name.as_ref();
        validate_stream(name)?;
        Ok(Self(Arc::from(name)))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn validate_stream(s: &str) -> Result<(), Error> {
    // The same rules as every cadre name (topics, agent ids).
    cadre_core::validate_name("stream id", s).map_err(Error::from)
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamId({:?})", &*self.0)
    }
}

impl FromStr for StreamId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for StreamId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl From<StreamId> for String {
    fn from(id: StreamId) -> String {
        id.0.to_string()
    }
}

impl AsRef<str> for StreamId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The id of one event: a UUID, time-ordered (v7) when made by [`EventId::new`].
///
/// The id is what makes appends idempotent (see [`EventStore::append`](crate::EventStore::append))
/// and is the idempotency key of the bus message the [outbox](crate::OutboxRelay) publishes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(uuid::Uuid);

impl EventId {
    /// A new, time-ordered (UUIDv7) id.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// Wraps an existing UUID (a caller-supplied id, e.g. derived from a command id).
    pub const fn from_uuid(uuid: uuid::Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID inside.
    pub const fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", self.0)
    }
}

impl FromStr for EventId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        uuid::Uuid::parse_str(s).map(Self).map_err(|e| {
            let shown: String = s.chars().take(64).collect();
            Error::invalid_input(format!("invalid event id `{shown}`: {e}"))
        })
    }
}

/// What an append expects the stream's version to be (optimistic concurrency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedVersion {
    /// No check: append whatever the version is.
    Any,
    /// The stream must not exist yet (have no events).
    NoStream,
    /// The stream's current version (the version of its last event) must be exactly this.
    /// `Exact(0)` is the same as [`ExpectedVersion::NoStream`].
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream at `actual` (`None`: no stream) satisfies the expectation.
    pub fn matches(self, actual: Option<u64>) -> bool {
        match self {
            Self::Any => true,
            Self::NoStream | Self::Exact(0) => actual.is_none_or(|v| v == 0),
            Self::Exact(n) => actual == Some(n),
        }
    }

    /// The [`ErrorCode::Conflict`] error for a stream at `actual` that did not match.
    pub fn conflict(self, stream: &StreamId, actual: Option<u64>) -> Error {
        let expected = match self {
            Self::Any => "any version".to_owned(),
            Self::NoStream => "no stream".to_owned(),
            Self::Exact(n) => format!("version {n}"),
        };
        let actual = match actual {
            None | Some(0) => "no stream".to_owned(),
            Some(n) => format!("version {n}"),
        };
        Error::new(
            ErrorCode::Conflict,
            format!("stream `{stream}`: expected {expected}, but the stream is at {actual}"),
        )
        .with_retryable(false)
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no stream"),
            Self::Exact(n) => write!(f, "{n}"),
        }
    }
}

/// Which way [`EventStore::read`](crate::EventStore::read) walks a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Oldest first: versions `from`, `from + 1`, ...
    Forward,
    /// Newest first: versions `from`, `from - 1`, ... (`from = u64::MAX` starts at the end).
    Backward,
}

/// What an event carries besides its payload: where it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// The conversation that caused the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// The trace that caused the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// The agent that recorded the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentId>,
}

impl EventMetadata {
    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.conversation_id.is_none() && self.trace_id.is_none() && self.agent.is_none()
    }
}

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Its id; appending an id that is already stored is idempotent.
    pub id: EventId,
    /// What happened, e.g. `order.placed`. 1 to 255 bytes.
    pub event_type: String,
    /// The data.
    pub payload: Payload,
    /// Where it came from.
    pub metadata: EventMetadata,
    /// Whether the transactional outbox relays it to the bus (default `true`). Events only
    /// the store needs (a workflow's checkpoints, say) skip the outbox.
    pub publish: bool,
}

impl NewEvent {
    /// An event with a new id, typed after its payload (`event_type` = the payload's type name).
    pub fn new(payload: Payload) -> Self {
        Self {
            id: EventId::new(),
            event_type: payload.type_name().to_owned(),
            payload,
            metadata: EventMetadata::default(),
            publish: true,
        }
    }

    /// Keeps the event out of the outbox: it is stored, never relayed to the bus.
    #[must_use]
    pub fn unpublished(mut self) -> Self {
        self.publish = false;
        self
    }

    /// Sets the id (for retries that must stay idempotent).
    #[must_use]
    pub fn with_id(mut self, id: EventId) -> Self {
        self.id = id;
        self
    }

    /// Sets the event type.
    #[must_use]
    pub fn with_type(mut self, event_type: impl Into<String>) -> Self {
        self.event_type = event_type.into();
        self
    }

    /// Sets the metadata.
    #[must_use]
    pub fn with_metadata(mut self, metadata: EventMetadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Checks the event type and payload size.
    ///
    /// # Errors
    /// [`ErrorCode::InvalidInput`] for an empty or too long event type;
    /// [`ErrorCode::Oversize`] for a payload over [`MAX_PAYLOAD_BYTES`];
    /// [`ErrorCode::Encode`] for a local payload that does not serialise.
    pub fn validate(&self) -> Result<(), Error> {
        if self.event_type.is_empty() || self.event_type.len() > MAX_EVENT_TYPE_LEN {
            let shown: String = self.event_type.chars().take(64).collect();
            return Err(Error::invalid_input(format!(
                "event {}: event type `{shown}` must be 1 to {MAX_EVENT_TYPE_LEN} bytes",
                self.id
            )));
        }
        let data = self.payload.data()?;
        if data.get().len() > MAX_PAYLOAD_BYTES {
            return Err(Error::new(
                ErrorCode::Oversize,
                format!(
                    "event {}: payload is {} bytes, over the limit of {MAX_PAYLOAD_BYTES}",
                    self.id,
                    data.get().len()
                ),
            ));
        }
        Ok(())
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// The stream it belongs to.
    pub stream: StreamId,
    /// Its version in the stream: 1 for the first event, then 2, 3, ...
    pub version: u64,
    /// Its position in the store-wide feed ([`EventStore::read_all`](crate::EventStore::read_all)):
    /// increasing across all streams, starting at 1; gaps are possible.
    pub global_position: u64,
    /// Its id.
    pub id: EventId,
    /// What happened.
    pub event_type: String,
    /// The data.
    pub payload: Payload,
    /// Where it came from.
    pub metadata: EventMetadata,
    /// When the store recorded it (millisecond precision).
    pub recorded_at: DateTime<Utc>,
}

/// Where one appended event landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventPosition {
    /// The event.
    pub id: EventId,
    /// Its version in the stream.
    pub version: u64,
    /// Its position in the global feed.
    pub global_position: u64,
}

/// The result of [`EventStore::append`](crate::EventStore::append).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendResult {
    /// Where each event of the batch is stored, in the order given.
    pub positions: Vec<EventPosition>,
    /// The version of the stream after the append: the expected version for the next one.
    pub stream_version: u64,
    /// `true` when every event was already stored (an idempotent re-append): nothing was
    /// written and `positions` are the existing ones.
    pub already_stored: bool,
}

impl AppendResult {
    /// The version of the first event of the batch.
    pub fn first_version(&self) -> u64 {
        self.positions.first().map_or(0, |p| p.version)
    }

    /// The version of the last event of the batch.
    pub fn last_version(&self) -> u64 {
        self.positions.last().map_or(0, |p| p.version)
    }
}

/// Where an event id of a batch is already stored: `(in the appended stream?, version, global
/// position)`, or `None` when it is stored nowhere.
pub(crate) type Found = Option<(bool, u64, u64)>;

/// The answer to a batch some of whose ids may be stored already (the rule every backend
/// shares): none stored → `None` (append normally); all stored in `stream` → the existing
/// positions (`already_stored`); anything else is a `conflict` naming the event.
pub(crate) fn reappend(
    stream: &StreamId,
    lookups: impl IntoIterator<Item = (EventId, Found)>,
    stream_version: u64,
) -> Result<Option<AppendResult>, Error> {
    let conflict = |message: String| Error::new(ErrorCode::Conflict, message).with_retryable(false);
    let mut found = Vec::new();
    let mut missing = None;
    for (id, at) in lookups {
        match at {
            Some((false, _, _)) => {
                return Err(conflict(format!(
                    "stream `{stream}`: event {id} is already stored in another stream"
                )));
            }
            Some((true, version, global_position)) => found.push(EventPosition {
                id,
                version,
                global_position,
            }),
            None => missing = missing.or(Some(id)),
        }
    }
    if found.is_empty() {
        return Ok(None);
    }
    if let Some(missing) = missing {
        return Err(conflict(format!(
            "stream `{stream}`: event {} is already stored but event {missing} of the same batch is not; a re-append must repeat a whole batch",
            found[0].id
        )));
    }
    Ok(Some(AppendResult {
        positions: found,
        stream_version,
        already_stored: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_are_validated() {
        assert!(StreamId::new("order-1").is_ok());
        for bad in ["", "a b", "é", "x\0"] {
            let err = StreamId::new(bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidInput, "{bad:?}");
        }
        assert!(StreamId::new("x".repeat(256)).is_err());
        assert!(serde_json::from_str::<StreamId>("\"a b\"").is_err());
    }

    #[test]
    fn expected_versions_match() {
        assert!(ExpectedVersion::Any.matches(None));
        assert!(ExpectedVersion::Any.matches(Some(3)));
        assert!(ExpectedVersion::NoStream.matches(None));
        assert!(!ExpectedVersion::NoStream.matches(Some(1)));
        assert!(ExpectedVersion::Exact(0).matches(None));
        assert!(ExpectedVersion::Exact(2).matches(Some(2)));
        assert!(!ExpectedVersion::Exact(2).matches(Some(3)));
        assert!(!ExpectedVersion::Exact(2).matches(None));
        let err = ExpectedVersion::Exact(2).conflict(&StreamId::new("s").unwrap(), Some(3));
        assert_eq!(err.code(), ErrorCode::Conflict);
        assert!(err.to_string().contains("`s`"), "{err}");
        assert!(err.to_string().contains("version 2"), "{err}");
        assert!(err.to_string().contains("version 3"), "{err}");
    }

    #[test]
    fn event_ids_parse() {
        let id = EventId::new();
        assert_eq!(id.to_string().parse::<EventId>().unwrap(), id);
        assert_eq!(
            "nope".parse::<EventId>().unwrap_err().code(),
            ErrorCode::InvalidInput
        );
    }
}
