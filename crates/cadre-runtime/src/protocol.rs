//! What nodes say to each other on the bus: stream names and the runtime's own messages.
//!
//! | stream | group | carries |
//! |---|---|---|
//! | `tasks.<kind>` | `<kind>` | tasks for any replica of a kind (a work queue) |
//! | `node.<node>` | `<node>` | tasks for one agent on that node, awards, announces and rejects of auctions |
//! | `replies.<node>` | `<node>` | replies to the tasks and announces that node sent |
//! | `cadre.heartbeats` | `registry.<node>` | every node's heartbeat: its agents and their health |
//! | `cadre.errors` | (readers replay it) | every agent error: code, agent, task, trace |
//!
//! The kill switch is the control register [`HALT_KEY`] (see `Bus::control`).

use cadre_core::{
    AgentId, AgentKind, Bid, Capability, ConversationId, Error, ErrorCode, Message, Task, TaskId,
    TaskOutcome, Topic, TraceId,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The control register that holds the kill switch.
pub const HALT_KEY: &str = "cadre.halt";

/// The stream of heartbeats.
pub fn heartbeats_topic() -> Topic {
    Topic::new("cadre.heartbeats").expect("valid topic name")
}

/// The error topic.
pub fn errors_topic() -> Topic {
    Topic::new("cadre.errors").expect("valid topic name")
}

/// The work queue of an agent kind.
pub fn kind_topic(kind: &AgentKind) -> Topic {
    Topic::new(format!("tasks.{kind}")).expect("kind names are valid topic names")
}

/// The inbox of a node (tasks for one of its agents, auctions).
pub fn node_topic(node: &AgentId) -> Topic {
    Topic::new(format!("node.{node}")).expect("node ids are valid topic names")
}

/// Where a node's replies arrive.
pub fn replies_topic(node: &AgentId) -> Topic {
    Topic::new(format!("replies.{node}")).expect("node ids are valid topic names")
}

/// The answer to a task: its outcome or the error it ended with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskReply {
    /// The task succeeded.
    Ok(TaskOutcome),
    /// The task failed for good (after its retries).
    Err(Error),
}

impl Message for TaskReply {
    const TYPE: &'static str = "cadre.task_reply";
}

/// How an agent instance is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "reasons", rename_all = "snake_case")]
pub enum Health {
    /// Taking tasks.
    Ready,
    /// Taking tasks, with trouble (e.g. recent failures).
    Degraded(Vec<String>),
    /// Not taking tasks (restarting, failed, halted).
    Failing(Vec<String>),
}

impl Health {
    /// `ready`, `degraded` or `failing`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Health::Ready => "ready",
            Health::Degraded(_) => "degraded",
            Health::Failing(_) => "failing",
        }
    }

    /// Whether it is ready.
    pub fn is_ready(&self) -> bool {
        matches!(self, Health::Ready)
    }

    /// Why it is not ready.
    pub fn reasons(&self) -> &[String] {
        match self {
            Health::Ready => &[],
            Health::Degraded(r) | Health::Failing(r) => r,
        }
    }

    /// The worse of two healths, with the reasons of both.
    #[must_use]
    pub fn worst(self, other: Health) -> Health {
        fn rank(h: &Health) -> u8 {
            match h {
                Health::Ready => 0,
                Health::Degraded(_) => 1,
                Health::Failing(_) => 2,
            }
        }
        let level = rank(&self).max(rank(&other));
        let mut reasons = self.reasons().to_vec();
        reasons.extend(other.reasons().iter().cloned());
        match level {
            0 => Health::Ready,
            1 => Health::Degraded(reasons),
            _ => Health::Failing(reasons),
        }
    }
}

/// One agent instance, as the registry shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// The instance.
    pub id: AgentId,
    /// Its kind.
    pub kind: AgentKind,
    /// What it can do.
    pub capabilities: Vec<Capability>,
    /// How it is doing.
    pub health: Health,
    /// Tasks it is executing now.
    pub in_flight: u32,
    /// Tasks it finished (successfully or not) since it started.
    pub done: u64,
    /// How often it was restarted.
    pub restarts: u32,
}

/// One kind's part of a heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindBeat {
    /// The kind.
    pub kind: AgentKind,
    /// What its instances can do.
    pub capabilities: Vec<Capability>,
    /// Set when the kind was marked failed (too many restarts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// Its instances on the node.
    pub instances: Vec<InstanceBeat>,
}

/// One instance's part of a heartbeat (compact: a node may host thousands).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceBeat {
    /// The instance.
    pub id: AgentId,
    /// How it is doing (left out when ready).
    #[serde(default = "ready", skip_serializing_if = "Health::is_ready")]
    pub health: Health,
    /// Tasks it is executing now.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub in_flight: u32,
    /// Tasks it finished since it started.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub done: u64,
    /// How often it was restarted.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub restarts: u32,
}

fn ready() -> Health {
    Health::Ready
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// A node's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Taking tasks.
    Running,
    /// Halted by the kill switch: takes no new tasks.
    Halted,
    /// Draining before a stop: takes no new tasks, finishes the ones it has.
    Draining,
    /// Stopped: its agents are deregistered.
    Stopped,
}

impl NodeState {
    /// The state's name.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Running => "running",
            NodeState::Halted => "halted",
            NodeState::Draining => "draining",
            NodeState::Stopped => "stopped",
        }
    }
}

/// A node's heartbeat: it is alive, and these are its agents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The node.
    pub node: AgentId,
    /// The crew it runs, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crew: Option<String>,
    /// Its state.
    pub state: NodeState,
    /// How often it beats (milliseconds).
    pub interval_ms: u64,
    /// When this beat was sent.
    pub at: DateTime<Utc>,
    /// Its agents by kind (all of them, in every beat).
    pub kinds: Vec<KindBeat>,
}

impl Message for Heartbeat {
    const TYPE: &'static str = "cadre.heartbeat";
}

/// An agent error, as published on the error topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    /// The error's stable code.
    pub code: ErrorCode,
    /// The error (message, context, retryable flag).
    pub error: Error,
    /// The agent that failed, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentId>,
    /// Its kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<AgentKind>,
    /// The node it ran on.
    pub node: AgentId,
    /// The task, if the error is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskId>,
    /// The task's capability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// The task's attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// The trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// The conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// What the runtime did about it: `retry`, `reply` (gave up and answered with the error),
    /// `restart` (the agent crashed), `escalate` (the kind was marked failed).
    pub action: String,
    /// When it happened.
    pub at: DateTime<Utc>,
}

impl Message for ErrorEvent {
    const TYPE: &'static str = "cadre.error_event";
}

/// The kill switch, as stored in its control register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Halt {
    /// Why.
    pub reason: String,
    /// Who pulled it (a user, a node, an agent).
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A call for bids (Contract Net), sent to the nodes hosting capable agents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Announce {
    /// The auction (the announcing node keeps it).
    pub auction: TaskId,
    /// The round.
    pub round: u32,
    /// The task.
    pub task: Task,
    /// Agents that may not bid (they failed the task already).
    #[serde(default)]
    pub exclude: Vec<AgentId>,
}

impl Message for Announce {
    const TYPE: &'static str = "cadre.announce";
}

/// A node's answer to an [`Announce`]: the bids of its capable agents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bids {
    /// The auction.
    pub auction: TaskId,
    /// The round.
    pub round: u32,
    /// The bids, one per agent (declines included).
    pub bids: Vec<(AgentId, Bid)>,
}

impl Message for Bids {
    const TYPE: &'static str = "cadre.bids";
}

/// Tells a node that bids of its agents lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    /// The auction.
    pub auction: TaskId,
    /// The losing agents.
    pub agents: Vec<AgentId>,
}

impl Message for Rejected {
    const TYPE: &'static str = "cadre.rejected";
}

/// The control register a long task reports its progress in: `cadre.progress.<task id>`.
///
/// An agent working on a task for a while may set it (JSON [`Progress`]) as it goes and clear it
/// when done; `cadre run` shows it as a progress bar while it waits for its entry task.
pub fn progress_key(task: cadre_core::TaskId) -> String {
    format!("cadre.progress.{task}")
}

/// A long task's progress, as [`progress_key`] holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    /// Units done.
    pub done: u64,
    /// Units in all.
    pub total: u64,
    /// What is being done.
    pub message: String,
}
