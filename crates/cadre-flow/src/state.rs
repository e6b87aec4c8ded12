//! The state machine of a workflow (and of each of its steps): legal transitions only, with the
//! full history.
//!
//! ```text
//! PENDING ──start──▶ RUNNING ──complete──▶ COMPLETED
//!    │  ▲               │
//!    │  └──retry── FAILED ◀──fail──┘
//!    └──cancel──▶ CANCELLED ◀──cancel── RUNNING
//! ```
//!
//! ```
//! use cadre_flow::state::{Status, Lifecycle};
//! let mut w = Lifecycle::new();
//! w.to(Status::Running, "started")?;
//! w.to(Status::Failed, "step `price` timed out")?;
//! w.to(Status::Pending, "retry 1")?;
//! assert!(w.to(Status::Completed, "skip ahead").is_err()); // PENDING → COMPLETED is illegal
//! assert_eq!(w.history().len(), 3); // the refused transition left no trace
//! # Ok::<(), cadre_core::Error>(())
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use cadre_core::{Error, ErrorCode};

/// Where a workflow (or a step) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Waiting to run (new, or failed and retried).
    Pending,
    /// Running.
    Running,
    /// Finished with a result. Final.
    Completed,
    /// Stopped by an error; may be retried (back to pending).
    Failed,
    /// Stopped on purpose. Final.
    Cancelled,
}

impl Status {
    /// Whether the machine may go from `self` to `next`.
    pub fn can_go_to(self, next: Status) -> bool {
        use Status::{Cancelled, Completed, Failed, Pending, Running};
        matches!(
            (self, next),
            (Pending, Running)
                | (Pending, Cancelled)
                | (Running, Completed)
                | (Running, Failed)
                | (Running, Cancelled)
                | (Failed, Pending)
                | (Failed, Cancelled)
        )
    }

    /// Whether nothing can follow (completed or cancelled).
    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Cancelled)
    }

    /// The name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Running => "RUNNING",
            Status::Completed => "COMPLETED",
            Status::Failed => "FAILED",
            Status::Cancelled => "CANCELLED",
        }
    }
}

/// One transition in a [`Lifecycle`]'s history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// From.
    pub from: Status,
    /// To.
    pub to: Status,
    /// When.
    pub at: DateTime<Utc>,
    /// Why (a step's error, "retry 2", "cancelled by ops").
    pub reason: String,
}

/// A status with its full history; only legal transitions are taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lifecycle {
    status: Status,
    history: Vec<Transition>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}

impl Lifecycle {
    /// A new lifecycle, pending.
    pub fn new() -> Self {
        Self {
            status: Status::Pending,
            history: Vec::new(),
        }
    }

    /// Where it stands.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Every transition taken, oldest first.
    pub fn history(&self) -> &[Transition] {
        &self.history
    }

    /// How many times it went from failed back to pending.
    pub fn retries(&self) -> usize {
        self.history
            .iter()
            .filter(|t| t.from == Status::Failed && t.to == Status::Pending)
            .count()
    }

    /// Moves to `next` now.
    ///
    /// # Errors
    /// `conflict` naming both states when the transition is illegal; nothing changes then.
    pub fn to(&mut self, next: Status, reason: impl Into<String>) -> Result<&Transition, Error> {
        self.to_at(next, reason, Utc::now())
    }

    /// Moves to `next` at `at` (for replays and tests).
    ///
    /// # Errors
    /// As [`Lifecycle::to`].
    pub fn to_at(
        &mut self,
        next: Status,
        reason: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Result<&Transition, Error> {
        if !self.status.can_go_to(next) {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!(
                    "illegal transition {} → {}{}",
                    self.status.as_str(),
                    next.as_str(),
                    if self.status.is_final() {
                        " (the state is final)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        self.history.push(Transition {
            from: self.status,
            to: next,
            at,
            reason: reason.into(),
        });
        self.status = next;
        Ok(self.history.last().expect("just pushed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Status; 5] = [
        Status::Pending,
        Status::Running,
        Status::Completed,
        Status::Failed,
        Status::Cancelled,
    ];

    #[test]
    fn exactly_the_seven_legal_transitions_are_allowed() {
        let legal: Vec<(Status, Status)> = ALL
            .iter()
            .flat_map(|a| ALL.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.can_go_to(*b))
            .collect();
        assert_eq!(legal.len(), 7);
        for s in [Status::Completed, Status::Cancelled] {
            assert!(s.is_final());
            assert!(ALL.iter().all(|n| !s.can_go_to(*n)));
        }
    }

    #[test]
    fn illegal_transitions_are_refused_and_change_nothing() {
        let mut w = Lifecycle::new();
        let err = w.to(Status::Completed, "x").unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict);
        assert!(err.to_string().contains("PENDING → COMPLETED"), "{err}");
        assert_eq!((w.status(), w.history().len()), (Status::Pending, 0));
        w.to(Status::Running, "go").unwrap();
        w.to(Status::Completed, "done").unwrap();
        let err = w.to(Status::Running, "again").unwrap_err();
        assert!(err.to_string().contains("final"), "{err}");
    }

    #[test]
    fn history_keeps_every_step_and_counts_retries() {
        let mut w = Lifecycle::new();
        for (to, why) in [
            (Status::Running, "start"),
            (Status::Failed, "boom"),
            (Status::Pending, "retry 1"),
            (Status::Running, "start"),
            (Status::Failed, "boom"),
            (Status::Pending, "retry 2"),
            (Status::Running, "start"),
            (Status::Completed, "ok"),
        ] {
            w.to(to, why).unwrap();
        }
        assert_eq!(w.retries(), 2);
        assert_eq!(w.history().len(), 8);
        assert_eq!(w.history()[1].reason, "boom");
        let json = serde_json::to_string(&w).unwrap();
        assert!(json.contains("\"COMPLETED\""));
        let back: Lifecycle = serde_json::from_str(&json).unwrap();
        assert_eq!(back, w);
    }
}
