//! Paper sessions and their operator controls: `cadre desk status`, `cadre desk flatten` and
//! `cadre desk review` reach a running paper session through the `desk.control` capability of
//! the desk coordinator's kind, on whichever node runs it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use cadre_core::{Error, ErrorCode, Message, Result};
use serde::{Deserialize, Serialize};

use crate::consensus::ReviewQueue;
use crate::model::{Decision, ProposalId, TradingProposal};

/// The coordinator's operator capability.
pub const CONTROL: &str = "desk.control";

/// Bus control register an operator writes a [`RegisterRequest`] to. Control registers work
/// while another process owns the bus (as `cadre halt` does), so `cadre desk flatten|review`
/// reach a running paper session this way; one request at a time.
pub const REQUEST_KEY: &str = "desk.request";
/// Bus control register a paper session answers a request in ([`RegisterReply`]).
pub const REPLY_KEY: &str = "desk.reply";
/// Bus control register a paper session publishes its [`DeskStatus`] in, every step.
pub const STATUS_KEY: &str = "desk.status";

/// An operator's request through [`REQUEST_KEY`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// A fresh id; the reply carries it back.
    pub id: String,
    /// The request.
    pub control: DeskControl,
}

/// A session's answer through [`REPLY_KEY`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterReply {
    /// The request's id.
    pub id: String,
    /// The answer, or the error's message.
    pub result: std::result::Result<DeskStatus, String>,
}

/// What an operator asks of a paper session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ControlAction {
    /// The sessions' state and their pending reviews.
    Status,
    /// Close every position at the next open.
    Flatten {
        /// Who asks.
        by: String,
    },
    /// Approve a proposal waiting for manual review.
    Approve {
        /// The proposal.
        proposal: u64,
        /// Who decides.
        by: String,
        /// Why.
        why: String,
    },
    /// Reject a proposal waiting for manual review.
    Reject {
        /// The proposal.
        proposal: u64,
        /// Who decides.
        by: String,
        /// Why.
        why: String,
    },
}

/// A request to the `desk.control` capability. Build it with [`DeskControl::new`], which
/// stamps it with a unique `request` id: control requests are not idempotent, and a node's
/// result cache must not answer one with the reply to an identical earlier one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeskControl {
    /// Unique per request.
    #[serde(default)]
    pub request: String,
    /// The session (a run id); `None`: the only one running.
    #[serde(default)]
    pub run: Option<String>,
    /// The action.
    #[serde(flatten)]
    pub action: ControlAction,
}

impl DeskControl {
    /// A request with a fresh id.
    pub fn new(run: Option<String>, action: ControlAction) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        Self {
            request: format!("{}-{now}-{n}", std::process::id()),
            run,
            action,
        }
    }
}

impl Message for DeskControl {
    const TYPE: &'static str = "desk.control";
}

/// A proposal waiting for a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingReview {
    /// The proposal's id (what `--approve` / `--reject` take).
    pub proposal: u64,
    /// The symbol.
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: String,
    /// Units.
    pub size: f64,
    /// The consensus score.
    pub score: f64,
    /// Why it went to review.
    pub reason: String,
}

/// One session's state.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionStatus {
    /// The run id.
    pub run: String,
    /// The run folder its report goes to.
    pub out: String,
    /// The current step and the session's last.
    pub step: usize,
    /// Steps in the session.
    pub days: usize,
    /// The current bar's date.
    pub date: String,
    /// Equity at the last close.
    pub equity: f64,
    /// Non-zero positions, by symbol.
    pub positions: BTreeMap<String, f64>,
    /// Whether the kill switch holds trading.
    pub halted: bool,
    /// A flatten waiting for the next step.
    pub flatten_requested: bool,
    /// Proposals waiting for review.
    pub pending: Vec<PendingReview>,
}

/// The answer of `desk.control`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeskStatus {
    /// What was done.
    pub message: String,
    /// Every session of this process.
    pub sessions: Vec<SessionStatus>,
}

impl Message for DeskStatus {
    const TYPE: &'static str = "desk.status";
}

/// A review resolved by an operator, waiting for the session's next step.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) decision: Decision,
    pub(crate) proposal: TradingProposal,
    pub(crate) by: String,
}

/// A running paper session's shared state.
#[derive(Debug, Default)]
pub(crate) struct Session {
    state: Mutex<SessionState>,
}

#[derive(Debug, Default)]
struct SessionState {
    status: SessionStatus,
    flatten: Option<String>,
    queue: ReviewQueue,
    proposals: BTreeMap<ProposalId, TradingProposal>,
    resolved: Vec<Resolved>,
}

fn lock_error<T>(_: T) -> Error {
    Error::internal("a desk session's lock is poisoned")
}

impl Session {
    pub(crate) fn update(&self, status: SessionStatus) -> Result<()> {
        let mut s = self.state.lock().map_err(lock_error)?;
        let pending = s
            .queue
            .pending()
            .filter_map(|d| {
                s.proposals.get(&d.proposal()).map(|p| PendingReview {
                    proposal: p.id().0,
                    symbol: p.symbol().to_owned(),
                    side: p.side().as_str().to_owned(),
                    size: p.size(),
                    score: d.score(),
                    reason: d.reason().to_owned(),
                })
            })
            .collect();
        let flatten_requested = s.flatten.is_some();
        s.status = SessionStatus {
            pending,
            flatten_requested,
            ..status
        };
        Ok(())
    }

    /// Marks the session halted or not (while a call waits out a halt).
    pub(crate) fn set_halted(&self, halted: bool) -> Result<()> {
        self.state.lock().map_err(lock_error)?.status.halted = halted;
        Ok(())
    }

    pub(crate) fn status(&self) -> Result<SessionStatus> {
        Ok(self.state.lock().map_err(lock_error)?.status.clone())
    }

    /// Sends a decision to manual review.
    pub(crate) fn review(&self, decision: Decision, proposal: TradingProposal) -> Result<()> {
        let mut s = self.state.lock().map_err(lock_error)?;
        s.proposals.insert(proposal.id(), proposal);
        s.queue.push(decision)
    }

    /// The flatten request, once.
    pub(crate) fn take_flatten(&self) -> Result<Option<String>> {
        Ok(self.state.lock().map_err(lock_error)?.flatten.take())
    }

    /// Reviews resolved since the last call.
    pub(crate) fn take_resolved(&self) -> Result<Vec<Resolved>> {
        Ok(std::mem::take(
            &mut self.state.lock().map_err(lock_error)?.resolved,
        ))
    }

    fn apply(&self, action: &ControlAction) -> Result<String> {
        let mut s = self.state.lock().map_err(lock_error)?;
        let run = s.status.run.clone();
        match action {
            ControlAction::Status => Ok(String::new()),
            ControlAction::Flatten { by } => {
                s.flatten = Some(by.clone());
                s.status.flatten_requested = true;
                Ok(format!(
                    "{run}: every position closes at the next open (asked by {by})"
                ))
            }
            ControlAction::Approve { proposal, by, why }
            | ControlAction::Reject { proposal, by, why } => {
                let id = ProposalId(*proposal);
                let approve = matches!(action, ControlAction::Approve { .. });
                let decision = if approve {
                    s.queue.approve(id, by, why)?
                } else {
                    s.queue.reject(id, by, why)?
                };
                let proposal = s.proposals.remove(&id).ok_or_else(|| {
                    Error::new(
                        ErrorCode::NotFound,
                        format!("{run}: no proposal {proposal}"),
                    )
                })?;
                s.status.pending.retain(|p| p.proposal != id.0);
                s.resolved.push(Resolved {
                    decision,
                    proposal,
                    by: by.clone(),
                });
                Ok(format!(
                    "{run}: proposal {} {} by {by}; it trades at the next step",
                    id.0,
                    if approve { "approved" } else { "rejected" }
                ))
            }
        }
    }
}

fn registry() -> &'static Mutex<BTreeMap<String, Arc<Session>>> {
    static SESSIONS: OnceLock<Mutex<BTreeMap<String, Arc<Session>>>> = OnceLock::new();
    SESSIONS.get_or_init(Default::default)
}

/// Registers a paper session; it leaves the registry when the guard drops.
pub(crate) fn open(run: &str) -> Result<SessionGuard> {
    let session = Arc::new(Session::default());
    registry()
        .lock()
        .map_err(lock_error)?
        .insert(run.to_owned(), Arc::clone(&session));
    Ok(SessionGuard {
        run: run.to_owned(),
        session,
    })
}

/// A registered session; dropping it unregisters the session.
#[derive(Debug)]
pub(crate) struct SessionGuard {
    run: String,
    pub(crate) session: Arc<Session>,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if let Ok(mut map) = registry().lock() {
            map.remove(&self.run);
        }
    }
}

/// Applies an operator's request to the session it names (or the only one).
///
/// # Errors
/// `NotFound` when no session matches (or several do and none is named), or the proposal is
/// not waiting for review.
pub(crate) fn control(request: &DeskControl) -> Result<DeskStatus> {
    let sessions: Vec<(String, Arc<Session>)> = registry()
        .lock()
        .map_err(lock_error)?
        .iter()
        .map(|(k, v)| (k.clone(), Arc::clone(v)))
        .collect();
    let message = match (&request.action, &request.run) {
        (ControlAction::Status, _) => String::new(),
        (action, Some(run)) => {
            let (_, s) = sessions.iter().find(|(k, _)| k == run).ok_or_else(|| {
                Error::new(
                    ErrorCode::NotFound,
                    format!("no paper session `{run}` on this node"),
                )
            })?;
            s.apply(action)?
        }
        (action, None) => match sessions.as_slice() {
            [(_, s)] => s.apply(action)?,
            [] => {
                return Err(Error::new(
                    ErrorCode::NotFound,
                    "no paper session is running (start one with `--set mode=paper`)",
                ));
            }
            many => {
                let names: Vec<&str> = many.iter().map(|(k, _)| k.as_str()).collect();
                return Err(Error::invalid_input(format!(
                    "{} paper sessions are running ({}); name one with --run",
                    many.len(),
                    names.join(", ")
                )));
            }
        },
    };
    let mut out = DeskStatus {
        message,
        sessions: Vec::new(),
    };
    for (_, s) in &sessions {
        out.sessions.push(s.status()?);
    }
    Ok(out)
}
