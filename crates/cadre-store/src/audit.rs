//! The audit log: who decided or changed what, when, in which conversation, queryable by
//! conversation, agent and time range.
//!
//! [`AuditLog::record`] appends one event of type `audit.<action>` to the stream
//! `audit/<subject>`, with the actor, conversation and trace in the event's metadata. The
//! trail [`AuditLog::query`] reads is wider than those events: every event of the store that
//! matches the query, since the state changes other parts of cadre store (a workflow's
//! transitions, say) carry the same metadata.

use std::fmt;
use std::sync::Arc;

use cadre_core::{AgentId, ConversationId, Error, ErrorCode, Payload, TraceId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    EventMetadata, EventPosition, EventQuery, EventStore, ExpectedVersion, MAX_EVENT_TYPE_LEN,
    NewEvent, RecordedEvent, StreamId,
};

/// The prefix of every audit stream: [`AuditLog::record`] appends to `audit/<subject>`.
pub const AUDIT_STREAM_PREFIX: &str = "audit/";

/// The prefix of every audit event type: [`AuditLog::record`] records `audit.<action>`.
pub const AUDIT_TYPE_PREFIX: &str = "audit.";

/// One thing to put on the record.
///
/// ```
/// use cadre_core::AgentId;
/// use cadre_store::AuditEntry;
///
/// let entry = AuditEntry::new(AgentId::new("risk-desk")?, "approve", "wf-42")
///     .with_detail(serde_json::json!({ "limit": 1_000_000 }));
/// assert!(entry.validate().is_ok());
/// # Ok::<(), cadre_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Who acted.
    pub actor: AgentId,
    /// The conversation the action belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// The trace the action belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// What was done, e.g. `decision` or `approve`: lowercase letters, digits, `_` and `.`,
    /// starting with a letter, without empty parts between dots. The event type is
    /// `audit.<action>`.
    pub action: String,
    /// What it was done to, e.g. a workflow id or `desk`: the name of the stream
    /// `audit/<subject>`, so the characters of a stream name (letters, digits,
    /// `. - _ : / @`).
    pub subject: String,
    /// Anything else worth keeping (the event's data); `null` for nothing.
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl AuditEntry {
    /// An entry without conversation, trace or detail.
    pub fn new(actor: AgentId, action: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            actor,
            conversation_id: None,
            trace_id: None,
            action: action.into(),
            subject: subject.into(),
            detail: serde_json::Value::Null,
        }
    }

    /// Sets the conversation.
    #[must_use]
    pub fn with_conversation(mut self, conversation_id: ConversationId) -> Self {
        self.conversation_id = Some(conversation_id);
        self
    }

    /// Sets the trace.
    #[must_use]
    pub fn with_trace(mut self, trace_id: TraceId) -> Self {
        self.trace_id = Some(trace_id);
        self
    }

    /// Sets the detail.
    #[must_use]
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }

    /// Checks the action and the subject.
    ///
    /// # Errors
    /// [`ErrorCode::InvalidInput`] naming the field and the value when the action is not a
    /// name (see [`AuditEntry::action`]) or `audit/<subject>` is not a valid stream name.
    pub fn validate(&self) -> Result<(), Error> {
        self.stream().map(|_| ())?;
        validate_action(&self.action)
    }

    /// The stream the entry is recorded in: `audit/<subject>`.
    fn stream(&self) -> Result<StreamId, Error> {
        if self.subject.is_empty() {
            return Err(Error::invalid_input(
                "invalid audit subject ``: must not be empty",
            ));
        }
        StreamId::new(format!("{AUDIT_STREAM_PREFIX}{}", self.subject)).map_err(|_| {
            let shown: String = self.subject.chars().take(64).collect();
            Error::invalid_input(format!(
                "invalid audit subject `{shown}`: use at most {} bytes of letters, digits and . - _ : / @",
                crate::MAX_STREAM_LEN - AUDIT_STREAM_PREFIX.len()
            ))
        })
    }
}

fn validate_action(action: &str) -> Result<(), Error> {
    let max = MAX_EVENT_TYPE_LEN - AUDIT_TYPE_PREFIX.len();
    let fail = |why: &str| {
        let shown: String = action.chars().take(64).collect();
        Err(Error::invalid_input(format!(
            "invalid audit action `{shown}`: {why}"
        )))
    };
    if action.is_empty() || action.len() > max {
        return fail(&format!("must be 1 to {max} bytes"));
    }
    if let Some(c) = action
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.')))
    {
        return fail(&format!(
            "contains {c:?}; use lowercase letters, digits, _ and ."
        ));
    }
    if !action.starts_with(|c: char| c.is_ascii_lowercase()) {
        return fail("must start with a lowercase letter");
    }
    if action.split('.').any(str::is_empty) {
        return fail("has an empty part between dots");
    }
    Ok(())
}

/// One event of the audit trail, flat and serialisable (a CLI prints these as JSON lines).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The event's global position: pass `position + 1` as `from` for the next page.
    pub position: u64,
    /// When the store recorded it.
    pub at: DateTime<Utc>,
    /// The stream it belongs to.
    pub stream: StreamId,
    /// Its type (`audit.<action>` for entries of [`AuditLog::record`]).
    pub event_type: String,
    /// The agent that recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentId>,
    /// Its conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// Its trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// Its data (the detail of an audit entry).
    pub data: serde_json::Value,
}

impl AuditRecord {
    /// The record of a stored event.
    ///
    /// # Errors
    /// [`ErrorCode::Decode`] naming the event when its data is not JSON (only a payload that
    /// failed to encode).
    pub fn from_event(event: &RecordedEvent) -> Result<Self, Error> {
        let data = serde_json::from_str(event.payload.json()).map_err(|e| {
            Error::new(
                ErrorCode::Decode,
                format!(
                    "event {} at position {}: data is not JSON: {e}",
                    event.id, event.global_position
                ),
            )
        })?;
        Ok(Self {
            position: event.global_position,
            at: event.recorded_at,
            stream: event.stream.clone(),
            event_type: event.event_type.clone(),
            agent: event.metadata.agent.clone(),
            conversation_id: event.metadata.conversation_id,
            trace_id: event.metadata.trace_id,
            data,
        })
    }
}

/// The audit log of one [`EventStore`]. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), cadre_core::Error> {
/// use std::sync::Arc;
/// use cadre_core::{AgentId, ConversationId};
/// use cadre_store::{AuditEntry, AuditLog, EventQuery, SqliteStore};
///
/// # let dir = tempfile::tempdir().map_err(|e| cadre_core::Error::internal(e.to_string()))?;
/// let store = Arc::new(SqliteStore::open(dir.path().join("events.db")).await?);
/// let audit = AuditLog::new(store);
/// let conversation = ConversationId::new();
/// let desk = AgentId::new("risk-desk")?;
/// audit
///     .record(AuditEntry::new(desk.clone(), "approve", "wf-42").with_conversation(conversation))
///     .await?;
/// let trail = audit.query(&EventQuery::new().with_conversation(conversation), 1, 100).await?;
/// assert_eq!(trail[0].event_type, "audit.approve");
/// assert_eq!(trail[0].stream.as_str(), "audit/wf-42");
/// assert_eq!(trail[0].agent, Some(desk));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AuditLog {
    store: Arc<dyn EventStore>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("backend", &self.store.backend())
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// The audit log of `store`.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self { store }
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// Records `entry`: appends one event of type `audit.<action>` to the stream
    /// `audit/<subject>` (whatever its version), with the entry's detail as data and its
    /// actor, conversation and trace as metadata. Returns where it landed.
    ///
    /// # Errors
    /// `InvalidInput` for an invalid action or subject (see [`AuditEntry::validate`]);
    /// `Oversize` for a detail over [`MAX_PAYLOAD_BYTES`](crate::MAX_PAYLOAD_BYTES); otherwise
    /// what [`EventStore::append`] returns.
    pub async fn record(&self, entry: AuditEntry) -> Result<EventPosition, Error> {
        let stream = entry.stream()?;
        validate_action(&entry.action)?;
        let event_type = format!("{AUDIT_TYPE_PREFIX}{}", entry.action);
        let payload = Payload::from_json_text(event_type.clone(), 1, entry.detail.to_string())?;
        let event = NewEvent::new(payload)
            .with_type(event_type)
            .with_metadata(EventMetadata {
                conversation_id: entry.conversation_id,
                trace_id: entry.trace_id,
                agent: Some(entry.actor),
            });
        let done = self
            .store
            .append(&stream, ExpectedVersion::Any, vec![event])
            .await?;
        done.positions.first().copied().ok_or_else(|| {
            Error::internal(format!(
                "stream `{stream}`: the append returned no position"
            ))
        })
    }

    /// The audit trail: up to `max` events (at most [`MAX_READ`](crate::MAX_READ)) of the
    /// whole store that match `query`, audit entries or not, in global order from global
    /// position `from` (inclusive). Use [`EventQuery::with_stream_prefix`] with
    /// [`AUDIT_STREAM_PREFIX`] for the recorded entries only.
    ///
    /// # Errors
    /// What [`EventStore::query`] returns; `Decode` for an event whose data is not JSON.
    pub async fn query(
        &self,
        query: &EventQuery,
        from: u64,
        max: usize,
    ) -> Result<Vec<AuditRecord>, Error> {
        self.store
            .query(query, from, max)
            .await?
            .iter()
            .map(AuditRecord::from_event)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;

    async fn log() -> (AuditLog, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("events.db"))
            .await
            .unwrap();
        (AuditLog::new(Arc::new(store)), dir)
    }

    fn agent(name: &str) -> AgentId {
        AgentId::new(name).unwrap()
    }

    #[tokio::test]
    async fn entries_are_recorded_as_audit_events() {
        let (audit, _dir) = log().await;
        let conversation = ConversationId::new();
        let trace = TraceId::new();
        let at = audit
            .record(
                AuditEntry::new(agent("risk-desk"), "approve", "wf-42")
                    .with_conversation(conversation)
                    .with_trace(trace)
                    .with_detail(serde_json::json!({ "limit": 1_000_000, "why": "ok" })),
            )
            .await
            .unwrap();
        assert_eq!(at.version, 1);
        let second = audit
            .record(AuditEntry::new(agent("trader-1"), "decision.hold", "wf-42"))
            .await
            .unwrap();
        assert_eq!(second.version, 2);
        assert!(second.global_position > at.global_position);

        let stream = StreamId::new("audit/wf-42").unwrap();
        let events = audit
            .store()
            .read(&stream, 1, 10, crate::Direction::Forward)
            .await
            .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].id, at.id);
        assert_eq!(events[0].event_type, "audit.approve");
        assert_eq!(events[0].payload.type_name(), "audit.approve");
        assert_eq!(
            events[0].metadata,
            EventMetadata {
                conversation_id: Some(conversation),
                trace_id: Some(trace),
                agent: Some(agent("risk-desk")),
            }
        );
        assert_eq!(events[1].event_type, "audit.decision.hold");
        assert_eq!(events[1].payload.json(), "null");
        assert_eq!(events[1].metadata.conversation_id, None);
    }

    #[tokio::test]
    async fn the_trail_is_every_matching_event_of_the_store() {
        let (audit, _dir) = log().await;
        let conversation = ConversationId::new();
        let flow = agent("flow-engine");
        // A workflow's state change, recorded by another part of cadre with the same metadata.
        let change = NewEvent::new(
            Payload::from_json_text("workflow.started", 1, r#"{"workflow":"wf-7"}"#).unwrap(),
        )
        .with_metadata(EventMetadata {
            conversation_id: Some(conversation),
            trace_id: None,
            agent: Some(flow.clone()),
        });
        audit
            .store()
            .append(
                &StreamId::new("flow/wf-7").unwrap(),
                ExpectedVersion::Any,
                vec![change],
            )
            .await
            .unwrap();
        audit
            .record(
                AuditEntry::new(agent("risk-desk"), "approve", "wf-7")
                    .with_conversation(conversation)
                    .with_detail(serde_json::json!({ "step": 1 })),
            )
            .await
            .unwrap();
        // Another conversation, and an event without metadata.
        audit
            .record(
                AuditEntry::new(agent("risk-desk"), "reject", "wf-8")
                    .with_conversation(ConversationId::new()),
            )
            .await
            .unwrap();
        audit
            .store()
            .append(
                &StreamId::new("flow/wf-9").unwrap(),
                ExpectedVersion::Any,
                vec![NewEvent::new(Payload::empty("workflow.started"))],
            )
            .await
            .unwrap();

        let by_conversation = EventQuery::new().with_conversation(conversation);
        let trail = audit.query(&by_conversation, 1, 100).await.unwrap();
        let types: Vec<&str> = trail.iter().map(|r| r.event_type.as_str()).collect();
        assert_eq!(types, ["workflow.started", "audit.approve"]);
        assert_eq!(trail[0].stream.as_str(), "flow/wf-7");
        assert_eq!(trail[0].agent, Some(flow.clone()));
        assert_eq!(trail[0].data, serde_json::json!({ "workflow": "wf-7" }));
        assert_eq!(trail[1].data, serde_json::json!({ "step": 1 }));
        assert!(trail[0].position < trail[1].position);

        let by_agent = EventQuery::new().with_agent(agent("risk-desk"));
        assert_eq!(audit.query(&by_agent, 1, 100).await.unwrap().len(), 2);
        let entries_only = EventQuery::new().with_stream_prefix(AUDIT_STREAM_PREFIX);
        let entries = audit.query(&entries_only, 1, 100).await.unwrap();
        assert!(entries.iter().all(|r| r.event_type.starts_with("audit.")));
        assert_eq!(entries.len(), 2);
        let everything = audit.query(&EventQuery::new(), 1, 100).await.unwrap();
        assert_eq!(everything.len(), 4);
        assert_eq!(everything[3].agent, None);
        // Paging: from the position after the last one seen.
        let page = audit
            .query(&EventQuery::new(), everything[1].position + 1, 1)
            .await
            .unwrap();
        assert_eq!(page, vec![everything[2].clone()]);

        // A record is one JSON object, without the fields that are not set.
        let line = serde_json::to_value(&everything[3]).unwrap();
        assert_eq!(line["event_type"], "workflow.started");
        assert_eq!(line["stream"], "flow/wf-9");
        assert!(line.get("agent").is_none(), "{line}");
        let back: AuditRecord =
            serde_json::from_value(serde_json::to_value(&trail[1]).unwrap()).unwrap();
        assert_eq!(back, trail[1]);
    }

    #[tokio::test]
    async fn bad_entries_are_refused_with_what_is_wrong() {
        let (audit, _dir) = log().await;
        let actor = agent("a");
        for (action, says) in [
            ("", "1 to 249 bytes"),
            ("Approve", "contains 'A'"),
            ("has space", "contains ' '"),
            ("audit-x", "contains '-'"),
            ("9lives", "start with a lowercase letter"),
            (".x", "start with a lowercase letter"),
            ("x.", "empty part"),
            ("a..b", "empty part"),
        ] {
            let err = audit
                .record(AuditEntry::new(actor.clone(), action, "wf-1"))
                .await
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidInput, "{action:?}");
            assert!(err.to_string().contains("audit action"), "{err}");
            assert!(err.to_string().contains(says), "{action:?}: {err}");
        }
        let long = "x".repeat(250);
        let err = audit
            .record(AuditEntry::new(actor.clone(), long, "wf-1"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput);
        for subject in ["", "has space", "ünï", &"s".repeat(250)] {
            let err = audit
                .record(AuditEntry::new(actor.clone(), "approve", subject))
                .await
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidInput, "{subject:?}");
            assert!(err.to_string().contains("audit subject"), "{err}");
        }
        assert!(
            AuditEntry::new(actor.clone(), "approve", "desk/eu@2")
                .validate()
                .is_ok()
        );
        assert!(
            AuditEntry::new(actor, "approve", "s".repeat(249))
                .validate()
                .is_ok()
        );
        // Nothing was stored.
        assert!(audit.store().read_all(1, 10).await.unwrap().is_empty());
    }
}
