//! The envelope: every message on the bus, versioned, with a typed payload.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{
    AgentId, AgentKind, ConversationId, Error, ErrorCode, Message, MessageId, Payload, Priority,
    Topic, TraceId,
};

/// The version of the envelope schema: `major.minor`.
///
/// Readers accept any minor version of a major they know (minor versions only add optional
/// fields) and reject other majors before reading anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SchemaVersion {
    /// Incompatible changes.
    pub major: u16,
    /// Compatible additions.
    pub minor: u16,
}

impl SchemaVersion {
    /// The version this build writes.
    pub const CURRENT: SchemaVersion = SchemaVersion { major: 1, minor: 0 };

    /// Whether this build can read envelopes of this version.
    pub fn is_supported(self) -> bool {
        self.major == Self::CURRENT.major
    }
}

impl fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for SchemaVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (major, minor) = s
            .split_once('.')
            .ok_or_else(|| format!("`{s}` is not of the form MAJOR.MINOR"))?;
        let parse = |part: &str| {
            part.parse::<u16>()
                .map_err(|_| format!("`{s}` is not of the form MAJOR.MINOR"))
        };
        Ok(Self {
            major: parse(major)?,
            minor: parse(minor)?,
        })
    }
}

impl Serialize for SchemaVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SchemaVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Who a message is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// One agent instance.
    Agent(AgentId),
    /// Every subscriber of a topic (each consumer group once).
    Topic(Topic),
    /// One instance of an agent kind (the kind's consumer group).
    Kind(AgentKind),
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Agent(a) => write!(f, "agent:{a}"),
            Self::Topic(t) => write!(f, "topic:{t}"),
            Self::Kind(k) => write!(f, "kind:{k}"),
        }
    }
}

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Asks an agent to execute a task.
    TaskRequest,
    /// The outcome of a task.
    TaskResponse,
    /// Something that happened.
    Event,
    /// An agent is alive.
    Heartbeat,
    /// An error report (the error topic).
    Error,
    /// Contract Net: a task is up for auction.
    Announce,
    /// Contract Net: an offer to take an announced task.
    Bid,
    /// Contract Net: the task goes to this bidder.
    Award,
    /// Contract Net: this bid lost.
    Reject,
    /// An instruction to a component (drain, kill switch, scale).
    Command,
    /// A request for information, answered by a response.
    Query,
}

/// An optional bearer token carried by a message. Printed redacted; sent as is.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuthToken(String);

impl AuthToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken([redacted])")
    }
}

/// Delivery metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// How many times the message has been retried by its sender.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retry_count: u32,
    /// The message this one answers or was caused by (the correlation id of a reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<MessageId>,
    /// The trace this message belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// Duplicates with the same key inside the bus's dedupe window are dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Not delivered before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_after: Option<DateTime<Utc>>,
    /// Where replies go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Topic>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A message on the bus.
///
/// The wire form is JSON ([`Envelope::to_json`], [`Envelope::from_json`]); cloning is cheap
/// (names and payload are shared).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique id (UUIDv7).
    pub id: MessageId,
    /// The conversation this message belongs to.
    pub conversation_id: ConversationId,
    /// The envelope schema version; always written first.
    pub schema_version: SchemaVersion,
    /// When the message was created.
    pub timestamp: DateTime<Utc>,
    /// The agent that sent it.
    pub sender: AgentId,
    /// Who it is for.
    pub recipient: Recipient,
    /// What it is.
    pub kind: MessageKind,
    /// How urgent it is.
    #[serde(default)]
    pub priority: Priority,
    /// How long after `timestamp` it stays deliverable; `None` lives forever.
    #[serde(
        default,
        rename = "ttl_ms",
        with = "ttl_ms",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttl: Option<Duration>,
    /// An optional bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthToken>,
    /// The typed content.
    pub payload: Payload,
    /// Delivery metadata.
    #[serde(default)]
    pub meta: Meta,
}

mod ttl_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        ttl: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match ttl {
            Some(d) => serializer.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_millis))
    }
}

/// Size limits applied when decoding an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest encoded envelope accepted, in bytes.
    pub max_envelope_bytes: usize,
    /// The largest payload data accepted, in bytes.
    pub max_payload_bytes: usize,
    /// The longest idempotency key accepted, in bytes.
    pub max_idempotency_key_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_envelope_bytes: 1024 * 1024,
            max_payload_bytes: 1024 * 1024 - 4096,
            max_idempotency_key_bytes: 255,
        }
    }
}

#[derive(Deserialize)]
struct VersionProbe<'a> {
    #[serde(borrow)]
    schema_version: Option<std::borrow::Cow<'a, str>>,
}

impl Envelope {
    /// Starts an envelope from `sender` to `recipient`.
    pub fn builder(sender: AgentId, recipient: Recipient, kind: MessageKind) -> EnvelopeBuilder {
        static EMPTY: std::sync::OnceLock<Payload> = std::sync::OnceLock::new();
        // The timestamp is the id's own (UUIDv7, milliseconds): one clock read.
        let id = MessageId::new();
        EnvelopeBuilder {
            env: Envelope {
                timestamp: id.created_at().unwrap_or_else(Utc::now),
                id,
                conversation_id: ConversationId::new(),
                schema_version: SchemaVersion::CURRENT,
                sender,
                recipient,
                kind,
                priority: Priority::Normal,
                ttl: None,
                auth: None,
                payload: EMPTY.get_or_init(|| Payload::empty("cadre.empty")).clone(),
                meta: Meta::default(),
            },
        }
    }

    /// Starts a reply to this message: same conversation and trace, `parent_id` set to this
    /// message's id, addressed to its `reply_to` topic or else its sender.
    pub fn reply(&self, sender: AgentId, kind: MessageKind) -> EnvelopeBuilder {
        let recipient = match &self.meta.reply_to {
            Some(topic) => Recipient::Topic(topic.clone()),
            None => Recipient::Agent(self.sender.clone()),
        };
        let mut builder = Envelope::builder(sender, recipient, kind);
        builder.env.conversation_id = self.conversation_id;
        builder.env.priority = self.priority;
        builder.env.meta.parent_id = Some(self.id);
        builder.env.meta.trace_id = self.meta.trace_id;
        builder
    }

    /// When the message stops being deliverable, if it has a TTL.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        let ttl = chrono::Duration::from_std(self.ttl?).ok()?;
        self.timestamp.checked_add_signed(ttl)
    }

    /// Whether the TTL has run out at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at().is_some_and(|at| now >= at)
    }

    /// Encodes the envelope as JSON.
    ///
    /// # Errors
    /// [`ErrorCode::Encode`] if serialisation fails (it does not for envelopes built through
    /// this crate).
    pub fn to_json(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(self)
            .map_err(|e| Error::new(ErrorCode::Encode, format!("envelope {}: {e}", self.id)))
    }

    /// Decodes an envelope with the default [`Limits`].
    ///
    /// # Errors
    /// See [`Envelope::from_json_with`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        Self::from_json_with(bytes, &Limits::default())
    }

    /// Decodes an envelope, checking `limits`.
    ///
    /// The schema version is checked before anything else is read.
    ///
    /// # Errors
    /// - [`ErrorCode::Oversize`] when the envelope or one of its fields is over a limit; the
    ///   message names the field.
    /// - [`ErrorCode::UnsupportedVersion`] when the major schema version is not this build's.
    /// - [`ErrorCode::InvalidEnvelope`] naming the field that is missing or malformed.
    pub fn from_json_with(bytes: &[u8], limits: &Limits) -> Result<Self, Error> {
        if bytes.len() > limits.max_envelope_bytes {
            return Err(oversize_error(bytes, limits));
        }
        let probe: VersionProbe<'_> = serde_json::from_slice(bytes)
            .map_err(|e| Error::new(ErrorCode::InvalidEnvelope, format!("envelope: {e}")))?;
        let version = match probe.schema_version {
            None => return Err(Error::invalid_field("schema_version", "missing")),
            Some(v) => v
                .parse::<SchemaVersion>()
                .map_err(|e| Error::invalid_field("schema_version", e))?,
        };
        if !version.is_supported() {
            return Err(Error::new(
                ErrorCode::UnsupportedVersion,
                format!(
                    "envelope schema version {version} is not supported: this build reads {}.x",
                    SchemaVersion::CURRENT.major
                ),
            ));
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let env: Envelope = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                Error::new(ErrorCode::InvalidEnvelope, format!("envelope: {inner}"))
            } else {
                Error::invalid_field(path, inner)
            }
        })?;
        de.end()
            .map_err(|e| Error::new(ErrorCode::InvalidEnvelope, format!("envelope: {e}")))?;
        env.check_limits(limits)?;
        Ok(env)
    }

    /// Checks field sizes against `limits`.
    ///
    /// # Errors
    /// [`ErrorCode::Oversize`] naming the field over its limit.
    pub fn check_limits(&self, limits: &Limits) -> Result<(), Error> {
        if self.payload.len() > limits.max_payload_bytes {
            return Err(Error::new(
                ErrorCode::Oversize,
                format!(
                    "envelope {}: field `payload.data` is {} bytes, over the limit of {}",
                    self.id,
                    self.payload.len(),
                    limits.max_payload_bytes
                ),
            ));
        }
        if let Some(key) = &self.meta.idempotency_key
            && key.len() > limits.max_idempotency_key_bytes
        {
            return Err(Error::new(
                ErrorCode::Oversize,
                format!(
                    "envelope {}: field `meta.idempotency_key` is {} bytes, over the limit of {}",
                    self.id,
                    key.len(),
                    limits.max_idempotency_key_bytes
                ),
            ));
        }
        Ok(())
    }
}

/// Names the largest top-level field of an oversize envelope, when it parses at all.
fn oversize_error(bytes: &[u8], limits: &Limits) -> Error {
    let largest = serde_json::from_slice::<
        std::collections::BTreeMap<&str, &serde_json::value::RawValue>,
    >(bytes)
    .ok()
    .and_then(|fields| {
        fields
            .into_iter()
            .max_by_key(|(_, v)| v.get().len())
            .map(|(k, v)| format!("; field `{k}` is {} bytes", v.get().len()))
    })
    .unwrap_or_default();
    Error::new(
        ErrorCode::Oversize,
        format!(
            "envelope is {} bytes, over the limit of {}{largest}",
            bytes.len(),
            limits.max_envelope_bytes
        ),
    )
}

/// Builds an [`Envelope`]; see [`Envelope::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct EnvelopeBuilder {
    env: Envelope,
}

impl EnvelopeBuilder {
    /// Sets a typed payload.
    ///
    /// # Errors
    /// [`ErrorCode::Encode`] when the message does not serialise.
    pub fn payload<M: Message>(mut self, message: &M) -> Result<Self, Error> {
        self.env.payload = Payload::encode(message)?;
        Ok(self)
    }

    /// Sets an already encoded payload.
    pub fn raw_payload(mut self, payload: Payload) -> Self {
        self.env.payload = payload;
        self
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.env.priority = priority;
        self
    }

    /// Sets the time to live.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.env.ttl = Some(ttl);
        self
    }

    /// Joins an existing conversation.
    pub fn conversation(mut self, id: ConversationId) -> Self {
        self.env.conversation_id = id;
        self
    }

    /// Sets the trace id.
    pub fn trace(mut self, id: TraceId) -> Self {
        self.env.meta.trace_id = Some(id);
        self
    }

    /// Sets the parent (correlation) id.
    pub fn parent(mut self, id: MessageId) -> Self {
        self.env.meta.parent_id = Some(id);
        self
    }

    /// Sets the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.env.meta.idempotency_key = Some(key.into());
        self
    }

    /// Delays delivery until `at`.
    pub fn deliver_after(mut self, at: DateTime<Utc>) -> Self {
        self.env.meta.deliver_after = Some(at);
        self
    }

    /// Asks for replies on `topic`.
    pub fn reply_to(mut self, topic: Topic) -> Self {
        self.env.meta.reply_to = Some(topic);
        self
    }

    /// Attaches a bearer token.
    pub fn auth(mut self, token: AuthToken) -> Self {
        self.env.auth = Some(token);
        self
    }

    /// Sets the creation time (for replays, simulations and tests).
    pub fn timestamp(mut self, at: DateTime<Utc>) -> Self {
        self.env.timestamp = at;
        self
    }

    /// Finishes the envelope.
    pub fn build(self) -> Envelope {
        self.env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Ping {
        n: u64,
    }
    impl Message for Ping {
        const TYPE: &'static str = "test.ping";
    }

    fn sample() -> Envelope {
        Envelope::builder(
            AgentId::new("a-1").unwrap(),
            Recipient::Kind(AgentKind::new("pricing").unwrap()),
            MessageKind::TaskRequest,
        )
        .payload(&Ping { n: 7 })
        .unwrap()
        .priority(Priority::High)
        .ttl(Duration::from_millis(1500))
        .idempotency_key("k-1")
        .trace(TraceId::new())
        .reply_to(Topic::new("replies.a-1").unwrap())
        .auth(AuthToken::new("tok"))
        .build()
    }

    #[test]
    fn json_round_trip() {
        let env = sample();
        let json = env.to_json().unwrap();
        let text = std::str::from_utf8(&json).unwrap();
        assert!(text.contains(r#""schema_version":"1.0""#), "{text}");
        assert!(text.contains(r#""ttl_ms":1500"#), "{text}");
        assert!(text.contains(r#""recipient":{"kind":"pricing"}"#), "{text}");
        let back = Envelope::from_json(&json).unwrap();
        assert_eq!(back, env);
        assert_eq!(back.payload.decode::<Ping>().unwrap(), Ping { n: 7 });
    }

    #[test]
    fn debug_never_shows_the_auth_token() {
        let env = sample();
        assert!(!format!("{env:?}").contains("tok\""));
    }

    fn with_field(field: &str, value: serde_json::Value) -> Vec<u8> {
        let mut v: serde_json::Value =
            serde_json::from_slice(&sample().to_json().unwrap()).unwrap();
        v[field] = value;
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn unknown_major_version_is_rejected_before_anything_else() {
        // A v2 envelope that also renamed other fields must fail on the version, not on them.
        let mut v: serde_json::Value =
            serde_json::from_slice(&sample().to_json().unwrap()).unwrap();
        v["schema_version"] = "2.0".into();
        v.as_object_mut().unwrap().remove("sender");
        let err = Envelope::from_json(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnsupportedVersion);
        assert!(err.to_string().contains("2.0"), "{err}");
    }

    #[test]
    fn newer_minor_version_is_read() {
        let bytes = with_field("schema_version", "1.7".into());
        let env = Envelope::from_json(&bytes).unwrap();
        assert_eq!(env.schema_version, SchemaVersion { major: 1, minor: 7 });
    }

    #[test]
    fn malformed_fields_are_named() {
        let cases = [
            ("priority", serde_json::json!("urgent"), "priority"),
            ("sender", serde_json::json!("has space"), "sender"),
            ("id", serde_json::json!("not-a-uuid"), "id"),
            ("timestamp", serde_json::json!(12), "timestamp"),
            ("schema_version", serde_json::json!("one"), "schema_version"),
        ];
        for (field, value, named) in cases {
            let err = Envelope::from_json(&with_field(field, value)).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidEnvelope, "{field}: {err}");
            assert!(
                err.to_string().contains(&format!("`{named}")),
                "{field}: {err}"
            );
        }
        let mut v: serde_json::Value =
            serde_json::from_slice(&sample().to_json().unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("payload");
        let err = Envelope::from_json(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(err.to_string().contains("payload"), "{err}");
        let err = Envelope::from_json(b"{not json").unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidEnvelope);
        let err = Envelope::from_json(br#"{"id":1}"#).unwrap_err();
        assert!(err.to_string().contains("schema_version"), "{err}");
    }

    #[test]
    fn oversize_envelopes_and_fields_are_named() {
        let big = "x".repeat(2000);
        let env = Envelope::builder(
            AgentId::new("a").unwrap(),
            Recipient::Topic(Topic::new("t").unwrap()),
            MessageKind::Event,
        )
        .raw_payload(Payload::from_json_text("blob", 1, format!("\"{big}\"")).unwrap())
        .idempotency_key("k".repeat(300))
        .build();
        let bytes = env.to_json().unwrap();

        let small = Limits {
            max_envelope_bytes: 1000,
            ..Limits::default()
        };
        let err = Envelope::from_json_with(&bytes, &small).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Oversize);
        assert!(err.to_string().contains("field `payload`"), "{err}");

        let payload_limit = Limits {
            max_payload_bytes: 1000,
            ..Limits::default()
        };
        let err = Envelope::from_json_with(&bytes, &payload_limit).unwrap_err();
        assert!(err.to_string().contains("`payload.data`"), "{err}");

        let err = Envelope::from_json(&bytes).unwrap_err();
        assert!(err.to_string().contains("`meta.idempotency_key`"), "{err}");
    }

    #[test]
    fn ttl_expiry_and_replies() {
        let env = sample();
        assert!(!env.is_expired(env.timestamp));
        assert!(env.is_expired(env.timestamp + chrono::Duration::milliseconds(1500)));
        let reply = env
            .reply(
                AgentId::new("pricing-1").unwrap(),
                MessageKind::TaskResponse,
            )
            .build();
        assert_eq!(reply.conversation_id, env.conversation_id);
        assert_eq!(reply.meta.parent_id, Some(env.id));
        assert_eq!(reply.meta.trace_id, env.meta.trace_id);
        assert_eq!(
            reply.recipient,
            Recipient::Topic(Topic::new("replies.a-1").unwrap())
        );
    }
}
