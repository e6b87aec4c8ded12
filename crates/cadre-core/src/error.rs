//! One error type for the whole system, with stable codes and a retryable flag.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The stable code of an [`Error`].
///
/// Codes are part of the public contract: scripts, dashboards and remote agents match on
/// [`ErrorCode::as_str`], so a code is never renamed or reused. New codes may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// An envelope field is missing, malformed or out of range. The message names the field.
    InvalidEnvelope,
    /// The envelope's major schema version is not one this build understands.
    UnsupportedVersion,
    /// A message or one of its fields is larger than the configured limit.
    Oversize,
    /// A payload carries another type (or major version) than the one asked for.
    PayloadMismatch,
    /// Bytes could not be decoded into the expected type.
    Decode,
    /// A value could not be encoded.
    Encode,
    /// Input from a user or caller was rejected (a bad argument, a bad file).
    InvalidInput,
    /// Configuration failed to load or validate. The message names the key and the source.
    Config,
    /// The thing asked for does not exist.
    NotFound,
    /// A concurrent change won (optimistic concurrency, duplicate ids).
    Conflict,
    /// The operation did not finish before its deadline.
    Timeout,
    /// A dependency (a broker, a database, a remote agent) could not be reached.
    Unavailable,
    /// Too much load: a queue, bulkhead or in-flight limit is full.
    Overloaded,
    /// A rate limit refused the call.
    RateLimited,
    /// A circuit breaker is open for the downstream.
    CircuitOpen,
    /// The operation was cancelled (shutdown, kill switch, caller gone).
    Cancelled,
    /// The storage engine failed (I/O, lock contention, corruption).
    Storage,
    /// An agent failed to execute a task.
    AgentFailed,
    /// A bug: an invariant of cadre itself did not hold.
    Internal,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: &'static [ErrorCode] = &[
        Self::InvalidEnvelope,
        Self::UnsupportedVersion,
        Self::Oversize,
        Self::PayloadMismatch,
        Self::Decode,
        Self::Encode,
        Self::InvalidInput,
        Self::Config,
        Self::NotFound,
        Self::Conflict,
        Self::Timeout,
        Self::Unavailable,
        Self::Overloaded,
        Self::RateLimited,
        Self::CircuitOpen,
        Self::Cancelled,
        Self::Storage,
        Self::AgentFailed,
        Self::Internal,
    ];

    /// The stable name of the code, as it appears in logs and on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidEnvelope => "invalid_envelope",
            Self::UnsupportedVersion => "unsupported_version",
            Self::Oversize => "oversize",
            Self::PayloadMismatch => "payload_mismatch",
            Self::Decode => "decode",
            Self::Encode => "encode",
            Self::InvalidInput => "invalid_input",
            Self::Config => "config",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::Overloaded => "overloaded",
            Self::RateLimited => "rate_limited",
            Self::CircuitOpen => "circuit_open",
            Self::Cancelled => "cancelled",
            Self::Storage => "storage",
            Self::AgentFailed => "agent_failed",
            Self::Internal => "internal",
        }
    }

    /// Whether an error with this code is worth retrying unless the error says otherwise.
    ///
    /// Transient conditions (timeouts, unreachable or overloaded dependencies, open breakers,
    /// storage contention) are retryable; bad input and bugs are not.
    pub const fn retryable_by_default(self) -> bool {
        matches!(
            self,
            Self::Timeout
                | Self::Unavailable
                | Self::Overloaded
                | Self::RateLimited
                | Self::CircuitOpen
                | Self::Storage
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error type of every cadre library.
///
/// An error carries a stable [`ErrorCode`], a message that says what failed, a stack of context
/// lines that say where (outermost first when displayed), and a retryable flag that retry
/// policies obey. It serialises (without its source chain, which is folded into the message) so
/// it can travel on the error topic and in dead letters.
///
/// ```
/// use cadre_core::{Error, ErrorCode};
/// let err = Error::new(ErrorCode::Timeout, "no reply within 5s")
///     .context("request to pricing-1");
/// assert!(err.is_retryable());
/// assert_eq!(err.to_string(), "request to pricing-1: no reply within 5s");
/// ```
#[derive(Debug, thiserror::Error)]
pub struct Error {
    code: ErrorCode,
    message: String,
    context: Vec<String>,
    retryable: bool,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// An error with `code` and `message`, retryable as the code is by default.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            context: Vec::new(),
            retryable: code.retryable_by_default(),
            source: None,
        }
    }

    /// An [`ErrorCode::InvalidEnvelope`] error that names `field`.
    pub fn invalid_field(field: impl fmt::Display, reason: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::InvalidEnvelope,
            format!("field `{field}`: {reason}"),
        )
    }

    /// An [`ErrorCode::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    /// An [`ErrorCode::Internal`] error: an invariant of cadre did not hold.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// Overrides whether the error may be retried.
    #[must_use]
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Adds a line of context saying where the error happened; later lines are outer ones.
    #[must_use]
    pub fn context(mut self, context: impl Into<String>) -> Self {
        self.context.push(context.into());
        self
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The innermost message, without context.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The context lines, innermost first.
    pub fn contexts(&self) -> &[String] {
        &self.context
    }

    /// Whether a retry policy may try the operation again.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in self.context.iter().rev() {
            write!(f, "{line}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

/// The wire form of an [`Error`].
#[derive(Serialize, Deserialize)]
struct ErrorWire {
    code: ErrorCode,
    message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    context: Vec<String>,
    retryable: bool,
}

impl Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let message = match &self.source {
            Some(source) => format!("{}: {source}", self.message),
            None => self.message.clone(),
        };
        ErrorWire {
            code: self.code,
            message,
            context: self.context.clone(),
            retryable: self.retryable,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Error {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = ErrorWire::deserialize(deserializer)?;
        Ok(Self {
            code: wire.code,
            message: wire.message,
            context: wire.context,
            retryable: wire.retryable,
            source: None,
        })
    }
}

impl PartialEq for Error {
    /// Errors are equal when code, message (with the source folded in), context and retryable
    /// flag are.
    fn eq(&self, other: &Self) -> bool {
        let wire = |e: &Error| match &e.source {
            Some(source) => format!("{}: {source}", e.message),
            None => e.message.clone(),
        };
        self.code == other.code
            && self.retryable == other.retryable
            && self.context == other.context
            && wire(self) == wire(other)
    }
}

impl Clone for Error {
    /// Clones the error; the source chain is folded into the message of the clone.
    fn clone(&self) -> Self {
        let message = match &self.source {
            Some(source) => format!("{}: {source}", self.message),
            None => self.message.clone(),
        };
        Self {
            code: self.code,
            message,
            context: self.context.clone(),
            retryable: self.retryable,
            source: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_stable() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        let len = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), len, "duplicate error code names");
        // The serde name is the stable name.
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn retryable_defaults_follow_the_code_and_can_be_overridden() {
        assert!(Error::new(ErrorCode::Unavailable, "down").is_retryable());
        assert!(!Error::new(ErrorCode::InvalidInput, "bad").is_retryable());
        assert!(
            !Error::new(ErrorCode::Timeout, "slow")
                .with_retryable(false)
                .is_retryable()
        );
        assert!(
            Error::new(ErrorCode::AgentFailed, "flaky")
                .with_retryable(true)
                .is_retryable()
        );
    }

    #[test]
    fn display_puts_outer_context_first_and_includes_the_source() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = Error::new(ErrorCode::Storage, "open segment")
            .with_source(io)
            .context("segment 7")
            .context("stream orders");
        assert_eq!(
            err.to_string(),
            "stream orders: segment 7: open segment: no such file"
        );
    }

    #[test]
    fn wire_round_trip_keeps_code_context_and_flag() {
        let err = Error::new(ErrorCode::CircuitOpen, "pricing breaker open").context("task t-1");
        let json = serde_json::to_string(&err).unwrap();
        let back: Error = serde_json::from_str(&json).unwrap();
        assert_eq!(back.code(), ErrorCode::CircuitOpen);
        assert!(back.is_retryable());
        assert_eq!(back.to_string(), err.to_string());
    }
}
