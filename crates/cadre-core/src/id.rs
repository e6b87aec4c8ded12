//! Identifiers: UUIDv7 newtypes for things cadre creates, validated names for things people name.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A new, time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: uuid::Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> &uuid::Uuid {
                &self.0
            }

            /// When the id was made (millisecond precision), for a UUIDv7.
            pub fn created_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
                let (secs, nanos) = self.0.get_timestamp()?.to_unix();
                chrono::DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                uuid::Uuid::parse_str(s).map(Self).map_err(|e| IdError {
                    kind: stringify!($name),
                    value: s.chars().take(64).collect(),
                    reason: e.to_string(),
                })
            }
        }
    };
}

uuid_id!(
    /// The id of one message (UUIDv7: sortable by creation time).
    MessageId
);
uuid_id!(
    /// The id shared by every message of one conversation (a request, its reply, its sub-tasks).
    ConversationId
);
uuid_id!(
    /// The id of one task.
    TaskId
);
uuid_id!(
    /// The id of one trace: every span and message caused by one external request.
    TraceId
);

/// A name (agent id, agent kind, topic) failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} `{value}`: {reason}")]
pub struct IdError {
    kind: &'static str,
    value: String,
    reason: String,
}

impl From<IdError> for crate::Error {
    fn from(err: IdError) -> Self {
        crate::Error::invalid_input(err.to_string())
    }
}

/// The longest name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// Checks `s` against the rules of cadre names (1 to [`MAX_NAME_LEN`] bytes of ASCII letters,
/// digits and `. - _ : / @`), naming it `kind` in the error. For name types of other crates
/// (a store's stream ids) that follow the same rules.
///
/// # Errors
/// When the name is empty, too long or has a character outside the set.
pub fn validate_name(kind: &'static str, s: &str) -> Result<(), IdError> {
    let fail = |reason: String| IdError {
        kind,
        value: s.chars().take(64).collect(),
        reason,
    };
    if s.is_empty() {
        return Err(fail("must not be empty".into()));
    }
    if s.len() > MAX_NAME_LEN {
        return Err(fail(format!(
            "is {} bytes, longer than {MAX_NAME_LEN}",
            s.len()
        )));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/' | '@')))
    {
        return Err(fail(format!(
            "contains {c:?}; use letters, digits and . - _ : / @"
        )));
    }
    Ok(())
}

macro_rules! name_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        ///
        /// Names are 1 to 255 bytes of ASCII letters, digits and `. - _ : / @`; they are cheap to
        /// clone.
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates `name`.
            ///
            /// # Errors
            /// When the name is empty, too long or has a character outside the allowed set.
            pub fn new(name: impl AsRef<str>) -> Result<Self, IdError> {
                let name = name.as_ref();
                validate_name($what, name)?;
                Ok(Self(Arc::from(name)))
            }

            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.to_string()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

name_id!(
    /// The id of one agent instance, e.g. `risk-manager-2`.
    AgentId,
    "agent id"
);
name_id!(
    /// A kind of agent, e.g. `risk-manager`; the instances of a kind share a consumer group.
    AgentKind,
    "agent kind"
);
name_id!(
    /// A stream or topic name, e.g. `orders` or `desk.proposals`.
    Topic,
    "topic"
);
name_id!(
    /// A consumer group: within a group each message goes to one consumer; every group sees
    /// every message.
    Group,
    "consumer group"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_time_ordered_v7() {
        let a = MessageId::new();
        let b = MessageId::new();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a < b);
    }

    #[test]
    fn names_are_validated() {
        assert!(AgentId::new("risk-manager-2").is_ok());
        assert!(Topic::new("desk.proposals").is_ok());
        let err = Topic::new("bad topic").unwrap_err();
        assert!(
            err.to_string().contains("invalid topic `bad topic`"),
            "{err}"
        );
        assert!(AgentKind::new("").is_err());
        assert!(AgentKind::new("x".repeat(256)).is_err());
    }

    #[test]
    fn names_reject_bad_values_when_deserialised() {
        let err = serde_json::from_str::<AgentId>("\"a b\"").unwrap_err();
        assert!(err.to_string().contains("invalid agent id"), "{err}");
        let ok: AgentId = serde_json::from_str("\"pricing-1\"").unwrap();
        assert_eq!(ok.as_str(), "pricing-1");
    }

    #[test]
    fn uuid_ids_parse_with_a_clear_error() {
        let id = TaskId::new();
        assert_eq!(id.to_string().parse::<TaskId>().unwrap(), id);
        let err = "nope".parse::<TaskId>().unwrap_err();
        assert!(err.to_string().contains("invalid TaskId `nope`"), "{err}");
    }
}
