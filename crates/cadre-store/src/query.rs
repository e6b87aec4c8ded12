//! What [`EventStore::list_streams`](crate::EventStore::list_streams) and
//! [`EventStore::query`](crate::EventStore::query) take and return, and the checks every
//! backend shares.

use cadre_core::{AgentId, ConversationId, Error};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::MAX_READ;
use crate::{MAX_EVENT_TYPE_LEN, RecordedEvent, StreamId};

/// One stream, as [`EventStore::list_streams`](crate::EventStore::list_streams) lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSummary {
    /// The stream.
    pub stream: StreamId,
    /// The version of its last event.
    pub version: u64,
    /// When its first (lowest version) event was recorded.
    pub first_recorded_at: DateTime<Utc>,
    /// When its last (highest version) event was recorded.
    pub last_recorded_at: DateTime<Utc>,
}

/// Which events [`EventStore::query`](crate::EventStore::query) returns: those that match
/// every field that is set. The default matches every event.
///
/// ```
/// use cadre_core::{AgentId, ConversationId};
/// use cadre_store::EventQuery;
///
/// let conversation = ConversationId::new();
/// let query = EventQuery::new()
///     .with_conversation(conversation)
///     .with_agent(AgentId::new("pricing-1")?)
///     .with_event_type("order.*");
/// assert_eq!(query.conversation_id, Some(conversation));
/// # Ok::<(), cadre_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventQuery {
    /// Events whose metadata names this conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// Events whose metadata names this agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentId>,
    /// Events recorded at or after this time (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Events recorded before this time (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Events of streams whose names start with this (`""` = every stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_prefix: Option<String>,
    /// Events of this type; a value ending with `*` matches every type that starts with what
    /// comes before the `*` (`order.*`; `*` alone matches every type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
}

impl EventQuery {
    /// A query that matches every event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only events of this conversation.
    #[must_use]
    pub fn with_conversation(mut self, conversation_id: ConversationId) -> Self {
        self.conversation_id = Some(conversation_id);
        self
    }

    /// Only events recorded by this agent.
    #[must_use]
    pub fn with_agent(mut self, agent: AgentId) -> Self {
        self.agent = Some(agent);
        self
    }

    /// Only events recorded at or after `since`.
    #[must_use]
    pub fn with_since(mut self, since: DateTime<Utc>) -> Self {
        self.since = Some(since);
        self
    }

    /// Only events recorded before `until`.
    #[must_use]
    pub fn with_until(mut self, until: DateTime<Utc>) -> Self {
        self.until = Some(until);
        self
    }

    /// Only events of streams whose names start with `prefix`.
    #[must_use]
    pub fn with_stream_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.stream_prefix = Some(prefix.into());
        self
    }

    /// Only events of this type, or of every type starting with what comes before a final
    /// `*`.
    #[must_use]
    pub fn with_event_type(mut self, event_type: impl Into<String>) -> Self {
        self.event_type = Some(event_type.into());
        self
    }

    /// Checks the query: a stream prefix has only characters a stream name can have, an
    /// event type is 1 to [`MAX_EVENT_TYPE_LEN`] bytes (plus the final `*`), and `since` is
    /// not after `until`.
    ///
    /// # Errors
    /// [`ErrorCode::InvalidInput`](cadre_core::ErrorCode::InvalidInput) naming the field and
    /// the value.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(prefix) = &self.stream_prefix {
            validate_prefix(prefix)?;
        }
        if let Some(t) = &self.event_type {
            let body = t.strip_suffix('*').unwrap_or(t);
            let ok = if t.ends_with('*') {
                body.len() <= MAX_EVENT_TYPE_LEN
            } else {
                !body.is_empty() && body.len() <= MAX_EVENT_TYPE_LEN
            };
            if !ok {
                let shown: String = t.chars().take(64).collect();
                return Err(Error::invalid_input(format!(
                    "invalid event type filter `{shown}`: an event type is 1 to {MAX_EVENT_TYPE_LEN} bytes, optionally followed by `*`"
                )));
            }
        }
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since > until
        {
            return Err(Error::invalid_input(format!(
                "invalid time range: since {} is after until {}",
                since.to_rfc3339(),
                until.to_rfc3339()
            )));
        }
        Ok(())
    }

    /// Whether `event` matches the query (the same rules the stores apply; times compare at
    /// full precision, and stored times have millisecond precision).
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        self.conversation_id
            .is_none_or(|c| event.metadata.conversation_id == Some(c))
            && self
                .agent
                .as_ref()
                .is_none_or(|a| event.metadata.agent.as_ref() == Some(a))
            && self.since.is_none_or(|t| event.recorded_at >= t)
            && self.until.is_none_or(|t| event.recorded_at < t)
            && self
                .stream_prefix
                .as_deref()
                .is_none_or(|p| event.stream.as_str().starts_with(p))
            && self
                .event_type
                .as_deref()
                .is_none_or(|t| type_filter(t).matches(&event.event_type))
    }
}

/// How an event type filter matches.
pub(crate) enum TypeFilter<'a> {
    Exact(&'a str),
    /// Every type starting with this; `""` matches every type.
    Prefix(&'a str),
}

impl TypeFilter<'_> {
    fn matches(&self, event_type: &str) -> bool {
        match self {
            Self::Exact(t) => event_type == *t,
            Self::Prefix(p) => event_type.starts_with(p),
        }
    }
}

pub(crate) fn type_filter(t: &str) -> TypeFilter<'_> {
    match t.strip_suffix('*') {
        Some(prefix) => TypeFilter::Prefix(prefix),
        None => TypeFilter::Exact(t),
    }
}

/// Checks a stream name prefix: up to [`MAX_STREAM_LEN`](crate::MAX_STREAM_LEN) bytes of the characters a stream
/// name may have (`""` is every stream).
pub(crate) fn validate_prefix(prefix: &str) -> Result<(), Error> {
    if prefix.is_empty() {
        return Ok(());
    }
    cadre_core::validate_name("stream prefix", prefix).map_err(Error::from)
}

/// The names starting with `prefix` are those in `[prefix, upper)`, in byte order: stream
/// names are ASCII below `0x7f`, so every name that starts with `prefix` sorts before
/// `prefix + "\x7f"`, and every other name after it or before `prefix`.
pub(crate) fn prefix_upper_bound(prefix: &str) -> String {
    let mut upper = String::with_capacity(prefix.len() + 1);
    upper.push_str(prefix);
    upper.push('\u{7f}');
    upper
}

/// `t` in milliseconds, rounded up: with millisecond timestamps, `recorded >= t` and
/// `recorded < t` are `recorded_ms >= ceil_ms(t)` and `recorded_ms < ceil_ms(t)`.
pub(crate) fn ceil_ms(t: DateTime<Utc>) -> i64 {
    let ms = t.timestamp_millis();
    if t.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        ms
    } else {
        ms.saturating_add(1)
    }
}

/// The SQL dialect of a backend, for [`query_sql`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// An argument of the SQL [`query_sql`] builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
}

/// The SQL of an [`EventQuery`] from global position `from`, at most `max` events (at most
/// [`MAX_READ`]), selecting `columns` of `events e JOIN streams s`, and its arguments (`?n` or
/// `$n`, numbered from 1). One condition per field that is set, each on an indexed column where
/// there is one, so the planner can pick the most selective index.
pub(crate) fn query_sql(
    dialect: Dialect,
    columns: &str,
    query: &EventQuery,
    from: u64,
    max: usize,
) -> (String, Vec<Arg>) {
    let mark = match dialect {
        Dialect::Sqlite => '?',
        Dialect::Postgres => '$',
    };
    let mut sql = format!(
        "SELECT {columns} FROM events e JOIN streams s ON s.id = e.stream_id WHERE e.position >= {mark}1"
    );
    let mut args = vec![Arg::Int(i64::try_from(from).unwrap_or(i64::MAX))];
    // `condition` names its argument `#` (possibly more than once).
    let mut and = |sql: &mut String, condition: &str, value: Arg| {
        args.push(value);
        sql.push_str(" AND ");
        sql.push_str(&condition.replace('#', &format!("{mark}{}", args.len())));
    };
    let pg = dialect == Dialect::Postgres;
    if let Some(c) = query.conversation_id {
        let condition = if pg {
            "e.conversation_id = #::uuid"
        } else {
            "e.conversation_id = #"
        };
        and(&mut sql, condition, Arg::Text(c.to_string()));
    }
    if let Some(a) = &query.agent {
        and(&mut sql, "e.agent = #", Arg::Text(a.as_str().to_owned()));
    }
    if let Some(t) = query.since {
        and(&mut sql, "e.recorded_ms >= #", Arg::Int(ceil_ms(t)));
    }
    if let Some(t) = query.until {
        and(&mut sql, "e.recorded_ms < #", Arg::Int(ceil_ms(t)));
    }
    if let Some(p) = query.stream_prefix.as_deref().filter(|p| !p.is_empty()) {
        // Byte order on both backends (PostgreSQL's default collation may not be).
        let name = if pg { "s.name COLLATE \"C\"" } else { "s.name" };
        and(&mut sql, &format!("{name} >= #"), Arg::Text(p.to_owned()));
        and(
            &mut sql,
            &format!("{name} < #"),
            Arg::Text(prefix_upper_bound(p)),
        );
    }
    match query.event_type.as_deref().map(type_filter) {
        None | Some(TypeFilter::Prefix("")) => {}
        Some(TypeFilter::Exact(t)) => and(&mut sql, "e.event_type = #", Arg::Text(t.to_owned())),
        // Characters on both sides; not LIKE, whose `_` and `%` are wildcards.
        Some(TypeFilter::Prefix(p)) => {
            let condition = if pg {
                "left(e.event_type, char_length(#::text)) = #::text"
            } else {
                "substr(e.event_type, 1, length(#)) = #"
            };
            and(&mut sql, condition, Arg::Text(p.to_owned()));
        }
    }
    args.push(Arg::Int(
        i64::try_from(max.min(MAX_READ)).unwrap_or(i64::MAX),
    ));
    sql.push_str(&format!(
        " ORDER BY e.position ASC LIMIT {mark}{}",
        args.len()
    ));
    (sql, args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadre_core::ErrorCode;

    #[test]
    fn queries_are_validated() {
        assert!(EventQuery::new().validate().is_ok());
        assert!(
            EventQuery::new()
                .with_stream_prefix("")
                .with_event_type("*")
                .validate()
                .is_ok()
        );
        let now = Utc::now();
        for bad in [
            EventQuery::new().with_stream_prefix("has space"),
            EventQuery::new().with_stream_prefix("x".repeat(256)),
            EventQuery::new().with_event_type(""),
            EventQuery::new().with_event_type("t".repeat(256)),
            EventQuery::new()
                .with_since(now)
                .with_until(now - chrono::Duration::seconds(1)),
        ] {
            let err = bad.validate().unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidInput, "{bad:?}");
        }
        let err = EventQuery::new()
            .with_stream_prefix("a b")
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("stream prefix `a b`"), "{err}");
    }

    #[test]
    fn times_round_up_to_milliseconds() {
        let t = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        assert_eq!(ceil_ms(t), 1_700_000_000_123);
        assert_eq!(
            ceil_ms(t + chrono::Duration::microseconds(1)),
            1_700_000_000_124
        );
        let before_epoch = DateTime::from_timestamp_millis(-5).unwrap();
        assert_eq!(ceil_ms(before_epoch), -5);
        assert_eq!(
            ceil_ms(before_epoch - chrono::Duration::microseconds(500)),
            -5
        );
    }

    #[test]
    fn prefixes_bound_names_in_byte_order() {
        let upper = prefix_upper_bound("a_");
        for inside in ["a_", "a_b", "a_@@", "a_zzz"] {
            assert!(*inside >= *"a_" && *inside < *upper.as_str(), "{inside}");
        }
        for outside in ["a", "a-", "a`", "b", "A_x"] {
            assert!(
                !(*outside >= *"a_" && *outside < *upper.as_str()),
                "{outside}"
            );
        }
        assert!(matches!(
            type_filter("order.*"),
            TypeFilter::Prefix("order.")
        ));
        assert!(matches!(type_filter("order"), TypeFilter::Exact("order")));
        assert!(type_filter("*").matches("anything"));
        assert!(!type_filter("a_*").matches("axb"));
    }
}
