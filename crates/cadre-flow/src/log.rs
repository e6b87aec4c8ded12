//! The workflow log: what a workflow records in its event stream (`wf/<id>`), and the view
//! folded from it.
//!
//! Every event is a checkpoint: the state of a workflow is its input with the recorded step
//! updates applied, and where it stands (super-step, active nodes, joins, gates, saga) is a
//! fold of the log. Nothing else is stored, so a crashed runner's successor (or `cadre flow
//! show`, which has no code) reads the same truth.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use cadre_core::{AgentId, ConversationId, Error, ErrorCode, Payload};
use cadre_store::{EventMetadata, NewEvent, RecordedEvent, StreamId};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::graph::{NodeInfo, OnTimeout};
use crate::state::{Lifecycle, Status};

/// The prefix of every workflow's stream name.
pub const STREAM_PREFIX: &str = "wf/";

/// A workflow's id: a name (letters, digits, `. - _ : @`), chosen by the caller or made
/// from a time-ordered UUID. Child workflows of subflow nodes are `<parent>/<node>.<step>`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkflowId(Arc<str>);

impl WorkflowId {
    /// Validates `id`.
    ///
    /// # Errors
    /// `InvalidInput` for an empty or too long id or one with characters outside the name
    /// set; the message quotes it.
    pub fn new(id: impl AsRef<str>) -> Result<Self, Error> {
        let id = id.as_ref();
        cadre_core::validate_name("workflow id", id)?;
        if id.len() + STREAM_PREFIX.len() > cadre_store::MAX_STREAM_LEN {
            return Err(Error::invalid_input(format!(
                "workflow id `{id}` is too long (at most {} bytes)",
                cadre_store::MAX_STREAM_LEN - STREAM_PREFIX.len()
            )));
        }
        Ok(Self(Arc::from(id)))
    }

    /// A new id: `<graph>-<time-ordered uuid>`.
    pub fn generate(graph: &str) -> Self {
        let id = uuid::Uuid::now_v7().simple().to_string();
        Self(Arc::from(format!("{graph}-{id}")))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The event stream holding the workflow's log.
    pub fn stream(&self) -> StreamId {
        StreamId::new(format!("{STREAM_PREFIX}{}", self.0))
            .expect("workflow ids are valid stream names by construction")
    }

    /// The id of the workflow logged in `stream`, if it is a workflow stream.
    pub fn from_stream(stream: &StreamId) -> Option<Self> {
        stream
            .as_str()
            .strip_prefix(STREAM_PREFIX)
            .and_then(|id| Self::new(id).ok())
    }

    /// The child workflow a subflow node starts in `superstep`.
    pub fn child(&self, node: &str, superstep: u64) -> Result<Self, Error> {
        Self::new(format!("{}/{node}.{superstep}", self.0))
    }

    /// The parent's id, for a child workflow.
    pub fn parent(&self) -> Option<Self> {
        self.0.rsplit_once('/').map(|(p, _)| Self(Arc::from(p)))
    }
}

impl fmt::Display for WorkflowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for WorkflowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WorkflowId({:?})", &*self.0)
    }
}

impl FromStr for WorkflowId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for WorkflowId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl From<WorkflowId> for String {
    fn from(id: WorkflowId) -> String {
        id.0.to_string()
    }
}

/// An error as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// Its code.
    pub code: ErrorCode,
    /// Its message.
    pub message: String,
}

impl From<&Error> for ErrorInfo {
    fn from(e: &Error) -> Self {
        Self {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl ErrorInfo {
    /// Back to an error.
    pub fn to_error(&self) -> Error {
        Error::new(self.code, self.message.clone()).with_retryable(false)
    }
}

/// Where a super-step leads: recorded by the event that closes it, so a replay never asks the
/// routers again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Close {
    /// The super-step closed.
    pub superstep: u64,
    /// The next super-step's nodes (none: the workflow is complete).
    pub next: BTreeSet<String>,
    /// Joins still waiting: join node → the sources that have arrived.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub joins: BTreeMap<String, BTreeSet<String>>,
}

/// The events of the log (the payload of each stored event; the event type is `flow.<kind>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Entry<S, U> {
    Started {
        graph: String,
        input: S,
        runner: String,
        entry: BTreeSet<String>,
        nodes: Vec<NodeInfo>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        definition: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation: Option<ConversationId>,
    },
    Resumed {
        runner: String,
    },
    Step {
        node: String,
        superstep: u64,
        attempt: u32,
        update: U,
        ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        close: Option<Close>,
    },
    StepFailed {
        node: String,
        superstep: u64,
        attempt: u32,
        error: ErrorInfo,
        will_retry: bool,
    },
    Waiting {
        node: String,
        superstep: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<DateTime<Utc>>,
        on_timeout: OnTimeout,
    },
    Decided {
        node: String,
        superstep: u64,
        approved: bool,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        timed_out: bool,
    },
    Awaiting {
        node: String,
        superstep: u64,
        target: WorkflowId,
    },
    Advanced {
        close: Close,
    },
    Stalled {
        nodes: Vec<String>,
        idle_ms: u64,
        action: String,
    },
    Completed {
        state: S,
    },
    Failed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        error: ErrorInfo,
    },
    Cancelled {
        by: String,
        reason: String,
    },
    Compensated {
        node: String,
        superstep: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorInfo>,
    },
    Retried {
        by: String,
    },
}

impl<S: Serialize, U: Serialize> Entry<S, U> {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Started { .. } => "flow.started",
            Self::Resumed { .. } => "flow.resumed",
            Self::Step { .. } => "flow.step",
            Self::StepFailed { .. } => "flow.step_failed",
            Self::Waiting { .. } => "flow.waiting",
            Self::Decided { .. } => "flow.decided",
            Self::Awaiting { .. } => "flow.awaiting",
            Self::Advanced { .. } => "flow.advanced",
            Self::Stalled { .. } => "flow.stalled",
            Self::Completed { .. } => "flow.completed",
            Self::Failed { .. } => "flow.failed",
            Self::Cancelled { .. } => "flow.cancelled",
            Self::Compensated { .. } => "flow.compensated",
            Self::Retried { .. } => "flow.retried",
        }
    }

    /// The event to append, with `meta` (the workflow's conversation, who records it).
    pub(crate) fn to_event(
        &self,
        workflow: &WorkflowId,
        meta: &EventMetadata,
    ) -> Result<NewEvent, Error> {
        let json = serde_json::to_string(self).map_err(|e| {
            Error::new(
                ErrorCode::Encode,
                format!(
                    "workflow {workflow}: encoding a `{}` entry: {e}",
                    self.kind()
                ),
            )
        })?;
        let kind = self.kind();
        // Checkpoints are for the store (and `cadre flow watch`), not for the bus.
        Ok(NewEvent::new(Payload::from_json_text(kind, 1, json)?)
            .with_type(kind)
            .with_metadata(meta.clone())
            .unpublished())
    }
}

/// Decodes a stored event of a workflow's log.
pub(crate) fn decode<S: DeserializeOwned, U: DeserializeOwned>(
    e: &RecordedEvent,
) -> Result<Entry<S, U>, Error> {
    serde_json::from_str(e.payload.json()).map_err(|err| {
        Error::new(
            ErrorCode::Decode,
            format!(
                "stream `{}` version {} (`{}`): not a workflow log entry: {err}",
                e.stream, e.version, e.event_type
            ),
        )
    })
}

pub(crate) type AnyEntry = Entry<serde_json::Value, serde_json::Value>;

/// One completed step, as the view lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The node.
    pub node: String,
    /// Its super-step.
    pub superstep: u64,
    /// The attempt that succeeded.
    pub attempt: u32,
    /// How long it ran.
    pub ms: u64,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// Whether its compensation has run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub compensated: bool,
}

/// A gate waiting for a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// The workflow (a child's id when the gate is inside a subflow).
    pub workflow: WorkflowId,
    /// The gate node.
    pub node: String,
    /// Its super-step.
    pub superstep: u64,
    /// Since when.
    pub since: DateTime<Utc>,
    /// Until when, if the gate has a timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// What happens at the deadline.
    pub on_timeout: OnTimeout,
}

/// A decision taken at a gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The gate node.
    pub node: String,
    /// Its super-step.
    pub superstep: u64,
    /// Approved or rejected.
    pub approved: bool,
    /// Who.
    pub by: String,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Whether the timeout decided.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
    /// When.
    pub at: DateTime<Utc>,
}

/// Where a workflow's saga stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compensation {
    /// Nothing to undo (no compensable step completed, or the workflow did not fail).
    None,
    /// Compensations still to run.
    Pending,
    /// Every completed compensable step was undone.
    Done,
    /// A compensation failed; an operator must look.
    Failed,
}

/// A workflow as its log tells it: no code needed (this is what `cadre flow show` prints).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowView {
    /// The id.
    pub id: WorkflowId,
    /// The graph's name.
    pub graph: String,
    /// Where it stands.
    pub status: Status,
    /// Every status change.
    pub lifecycle: Lifecycle,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it last recorded something.
    pub updated_at: DateTime<Utc>,
    /// The log's version (events recorded).
    pub version: u64,
    /// The conversation every entry of the log (and of its subflows' logs) belongs to, for
    /// the audit trail.
    pub conversation_id: Option<ConversationId>,
    /// The input.
    pub input: serde_json::Value,
    /// The nodes of its graph.
    pub nodes: Vec<NodeInfo>,
    /// The current super-step.
    pub superstep: u64,
    /// The nodes of the current super-step.
    pub active: BTreeSet<String>,
    /// Those of them that are done.
    pub done: BTreeSet<String>,
    /// Joins waiting for more sources.
    pub joins: BTreeMap<String, BTreeSet<String>>,
    /// Completed steps, in the order recorded.
    pub steps: Vec<StepRecord>,
    /// Failed attempts: (node, super-step, attempt, error).
    pub failures: Vec<(String, u64, u32, ErrorInfo)>,
    /// Attempts made in the current super-step, per node (failed ones).
    pub attempts: BTreeMap<String, u32>,
    /// Gates waiting now.
    pub waiting: Vec<Waiting>,
    /// Decisions taken.
    pub decisions: Vec<Decision>,
    /// Workflows this one waits for now (node → target).
    pub awaiting: BTreeMap<String, WorkflowId>,
    /// Why it failed.
    pub error: Option<ErrorInfo>,
    /// Who cancelled it and why.
    pub cancelled: Option<(String, String)>,
    /// The saga.
    pub compensation: Compensation,
    /// The final state, once completed.
    pub output: Option<serde_json::Value>,
    /// The definition text (TOML graphs).
    #[serde(skip)]
    pub definition: Option<String>,
    /// The runners that drove it (started/resumed), in order.
    pub runners: Vec<String>,
}

impl WorkflowView {
    /// Folds a workflow's log (its first event must be `flow.started`).
    ///
    /// # Errors
    /// `NotFound` for an empty log; `Decode` for an event that is not a log entry or an
    /// illegal sequence, naming the stream and version.
    pub fn fold(id: &WorkflowId, events: &[RecordedEvent]) -> Result<Self, Error> {
        let first = events.first().ok_or_else(|| {
            Error::new(
                ErrorCode::NotFound,
                format!("workflow `{id}` does not exist"),
            )
            .with_retryable(false)
        })?;
        let Entry::Started {
            graph,
            input,
            runner,
            entry,
            nodes,
            definition,
            conversation,
        } = decode::<serde_json::Value, serde_json::Value>(first)?
        else {
            return Err(bad(first, "the log does not begin with `flow.started`"));
        };
        let mut lifecycle = Lifecycle::new();
        lifecycle
            .to_at(
                Status::Running,
                format!("started by {runner}"),
                first.recorded_at,
            )
            .map_err(|e| bad(first, e))?;
        let mut view = Self {
            id: id.clone(),
            graph,
            status: Status::Running,
            lifecycle,
            created_at: first.recorded_at,
            updated_at: first.recorded_at,
            version: first.version,
            conversation_id: conversation,
            input,
            nodes,
            superstep: 0,
            active: entry,
            done: BTreeSet::new(),
            joins: BTreeMap::new(),
            steps: Vec::new(),
            failures: Vec::new(),
            attempts: BTreeMap::new(),
            waiting: Vec::new(),
            decisions: Vec::new(),
            awaiting: BTreeMap::new(),
            error: None,
            cancelled: None,
            compensation: Compensation::None,
            output: None,
            definition,
            runners: vec![runner],
        };
        for e in &events[1..] {
            let entry = decode::<serde_json::Value, serde_json::Value>(e)?;
            view.apply(e, entry)?;
        }
        Ok(view)
    }

    /// Folds one more event.
    pub(crate) fn apply(&mut self, e: &RecordedEvent, entry: AnyEntry) -> Result<(), Error> {
        self.version = e.version;
        self.updated_at = e.recorded_at;
        self.apply_entry(entry, e.recorded_at)
            .map_err(|m| bad(e, m))
    }

    pub(crate) fn apply_entry(&mut self, entry: AnyEntry, at: DateTime<Utc>) -> Result<(), String> {
        match entry {
            Entry::Started { .. } => return Err("a second `flow.started`".into()),
            Entry::Resumed { runner } => {
                if self.status == Status::Pending {
                    self.to(Status::Running, format!("resumed by {runner}"), at)?;
                }
                self.runners.push(runner);
            }
            Entry::Step {
                node,
                superstep,
                attempt,
                ms,
                close,
                ..
            } => {
                if superstep != self.superstep || !self.active.contains(&node) {
                    return Err(format!(
                        "step `{node}` of super-step {superstep} is not active (super-step {} runs {:?})",
                        self.superstep, self.active
                    ));
                }
                self.done.insert(node.clone());
                self.steps.push(StepRecord {
                    node,
                    superstep,
                    attempt,
                    ms,
                    at,
                    compensated: false,
                });
                if let Some(close) = close {
                    self.close(close)?;
                }
            }
            Entry::StepFailed {
                node,
                superstep,
                attempt,
                error,
                ..
            } => {
                self.attempts.insert(node.clone(), attempt);
                self.failures.push((node, superstep, attempt, error));
            }
            Entry::Waiting {
                node,
                superstep,
                deadline,
                on_timeout,
            } => {
                self.waiting.retain(|w| w.node != node);
                self.waiting.push(Waiting {
                    workflow: self.id.clone(),
                    node,
                    superstep,
                    since: at,
                    deadline,
                    on_timeout,
                });
            }
            Entry::Decided {
                node,
                superstep,
                approved,
                by,
                comment,
                timed_out,
            } => {
                if superstep != self.superstep || !self.active.contains(&node) {
                    return Err(format!(
                        "decision on `{node}` of super-step {superstep}, which is not waiting"
                    ));
                }
                self.waiting.retain(|w| w.node != node);
                self.done.insert(node.clone());
                self.decisions.push(Decision {
                    node,
                    superstep,
                    approved,
                    by,
                    comment,
                    timed_out,
                    at,
                });
            }
            Entry::Awaiting { node, target, .. } => {
                self.awaiting.insert(node, target);
            }
            Entry::Advanced { close } => self.close(close)?,
            Entry::Stalled { .. } => {}
            Entry::Completed { state } => {
                self.to(Status::Completed, "completed", at)?;
                self.output = Some(state);
                self.active.clear();
            }
            Entry::Failed { node, error } => {
                let why = match &node {
                    Some(n) => format!("`{n}` failed: {}", error.message),
                    None => error.message.clone(),
                };
                self.to(Status::Failed, why, at)?;
                self.error = Some(error);
                self.waiting.clear();
                self.awaiting.clear();
                self.compensation = self.compensation_state();
            }
            Entry::Cancelled { by, reason } => {
                self.to(
                    Status::Cancelled,
                    format!("cancelled by {by}: {reason}"),
                    at,
                )?;
                self.cancelled = Some((by, reason));
                self.waiting.clear();
                self.awaiting.clear();
                self.compensation = self.compensation_state();
            }
            Entry::Compensated {
                node,
                superstep,
                error,
            } => {
                if let Some(error) = error {
                    self.compensation = Compensation::Failed;
                    self.error.get_or_insert(error);
                } else {
                    if let Some(s) = self
                        .steps
                        .iter_mut()
                        .find(|s| s.node == node && s.superstep == superstep)
                    {
                        s.compensated = true;
                    }
                    self.compensation = self.compensation_state();
                }
            }
            Entry::Retried { by } => {
                if self.compensation != Compensation::None {
                    return Err("a retry after compensation".into());
                }
                self.to(Status::Pending, format!("retried by {by}"), at)?;
                self.error = None;
                self.attempts.clear();
            }
        }
        Ok(())
    }

    fn to(
        &mut self,
        status: Status,
        why: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Result<(), String> {
        self.lifecycle
            .to_at(status, why, at)
            .map_err(|e| e.to_string())?;
        self.status = status;
        Ok(())
    }

    fn close(&mut self, close: Close) -> Result<(), String> {
        if close.superstep != self.superstep {
            return Err(format!(
                "closes super-step {} while {} runs",
                close.superstep, self.superstep
            ));
        }
        self.superstep += 1;
        self.active = close.next;
        self.joins = close.joins;
        self.done.clear();
        self.attempts.clear();
        self.awaiting.clear();
        Ok(())
    }

    fn compensable(&self, node: &str) -> bool {
        self.nodes.iter().any(|n| n.name == node && n.compensable)
    }

    /// Completed compensable steps not yet compensated, most recent first: the saga's to-do.
    pub fn to_compensate(&self) -> Vec<&StepRecord> {
        self.steps
            .iter()
            .rev()
            .filter(|s| !s.compensated && self.compensable(&s.node))
            .collect()
    }

    fn compensation_state(&self) -> Compensation {
        if self.compensation == Compensation::Failed {
            return Compensation::Failed;
        }
        let any = self.steps.iter().any(|s| self.compensable(&s.node));
        match (any, self.to_compensate().is_empty()) {
            (false, _) => Compensation::None,
            (true, true) => Compensation::Done,
            (true, false) => Compensation::Pending,
        }
    }

    /// The metadata of an entry `by` records in this workflow's log.
    pub(crate) fn metadata(&self, by: &str) -> EventMetadata {
        EventMetadata {
            conversation_id: self.conversation_id,
            trace_id: None,
            agent: AgentId::new(by).ok(),
        }
    }

    /// Whether nothing more will happen without an operator (completed, cancelled or failed,
    /// with no compensation left to run).
    pub fn is_settled(&self) -> bool {
        match self.status {
            Status::Completed => true,
            Status::Failed | Status::Cancelled => self.compensation != Compensation::Pending,
            Status::Pending | Status::Running => false,
        }
    }
}

fn bad(e: &RecordedEvent, why: impl fmt::Display) -> Error {
    Error::new(
        ErrorCode::Decode,
        format!(
            "workflow log `{}` version {} (`{}`): {why}",
            e.stream, e.version, e.event_type
        ),
    )
    .with_retryable(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_validate_and_map_to_streams() {
        let id = WorkflowId::new("order-42").unwrap();
        assert_eq!(id.stream().as_str(), "wf/order-42");
        assert_eq!(WorkflowId::from_stream(&id.stream()), Some(id.clone()));
        let child = id.child("review", 3).unwrap();
        assert_eq!(child.as_str(), "order-42/review.3");
        assert_eq!(child.parent(), Some(id));
        assert!(WorkflowId::new("has space").is_err());
        assert!(WorkflowId::new("").is_err());
        assert!(WorkflowId::new("x".repeat(300)).is_err());
        let generated = WorkflowId::generate("order");
        assert!(generated.as_str().starts_with("order-"));
    }
}
