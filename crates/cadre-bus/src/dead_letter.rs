//! Dead letters: messages a group gave up on, with why and what happened to them.

use cadre_core::{AgentId, Envelope, Error, Group, Topic};
use serde::{Deserialize, Serialize};

/// Why a message was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadReason {
    /// It was delivered the maximum number of times without an ack.
    MaxDeliveries,
    /// Its TTL ran out before it was delivered.
    Expired,
    /// A consumer rejected it (undecodable, or a failure retries cannot fix).
    Rejected,
}

impl DeadReason {
    /// The snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxDeliveries => "max_deliveries",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
        }
    }
}

/// One failed delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When it ended (milliseconds since the Unix epoch).
    pub at_ms: u64,
    /// The consumer that held it.
    pub consumer: Option<AgentId>,
    /// What happened: `nack: ...`, `lease expired`, `rejected: ...`.
    pub outcome: String,
}

/// A message moved out of its group's queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Id in the dead-letter store.
    pub id: u64,
    /// The stream the message was on.
    pub stream: Topic,
    /// The group that gave up on it.
    pub group: Group,
    /// Its offset in the stream.
    pub offset: u64,
    /// Why.
    pub reason: DeadReason,
    /// The last error reported for it.
    pub last_error: Option<Error>,
    /// How many times it was delivered.
    pub delivery_count: u32,
    /// Every failed delivery, oldest first.
    pub history: Vec<Attempt>,
    /// When it was dead-lettered (milliseconds since the Unix epoch).
    pub dead_at_ms: u64,
    /// The message itself.
    pub envelope: Envelope,
}

/// Which dead letters to list or purge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DlqFilter {
    /// Only this stream.
    pub stream: Option<Topic>,
    /// Only this group.
    pub group: Option<Group>,
    /// Only this reason.
    pub reason: Option<DeadReason>,
    /// Only these ids.
    pub ids: Option<Vec<u64>>,
}

impl DlqFilter {
    /// Whether `dl` matches.
    pub fn matches(&self, dl: &DeadLetter) -> bool {
        self.stream.as_ref().is_none_or(|s| *s == dl.stream)
            && self.group.as_ref().is_none_or(|g| *g == dl.group)
            && self.reason.is_none_or(|r| r == dl.reason)
            && self.ids.as_ref().is_none_or(|ids| ids.contains(&dl.id))
    }
}
