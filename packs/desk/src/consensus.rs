//! The consensus engine: weighted votes in, a [`Decision`] out. Pure logic, no runtime.
//!
//! For the non-abstaining votes `i` with sign `sᵢ` (+1 approve, −1 reject), confidence `cᵢ` and
//! weight `wᵢ`:
//!
//! - **score** `S = Σ wᵢ·cᵢ·sᵢ / Σ wᵢ·cᵢ`, in [−1, 1] (0 when `Σ wᵢ·cᵢ = 0`);
//! - **disagreement** the weighted variance of the confidence-signed votes `xᵢ = sᵢ·cᵢ` with
//!   weights `wᵢ`: `V = Σ wᵢ·(xᵢ − x̄)² / Σ wᵢ`, `x̄ = Σ wᵢ·xᵢ / Σ wᵢ` (0 when `Σ wᵢ = 0`).
//!   Two confident voters on opposite sides give `V = 1`, the maximum.
//!
//! [`ConsensusEngine::decide`] checks, in this order:
//!
//! 1. fewer non-abstaining votes than the quorum → **rejected** ("quorum not met");
//! 2. `Σ wᵢ·cᵢ = 0` → **rejected** (nobody with weight and confidence voted);
//! 3. `V > variance_limit` → **manual review** in [`Mode::Paper`], **rejected** with the
//!    reason recorded in [`Mode::Backtest`] (nobody is there to review);
//! 4. `S ≥ threshold` → **approved**, otherwise **rejected**.
//!
//! Abstentions count for nothing (not in the score, the variance or the quorum) but stay in
//! the decision's vote list for the audit trail. The sums run over the terms in a canonical
//! (sorted) order, so the order of the votes cannot change a decision, not even in the last
//! bit of the score.
//!
//! A decision sent to manual review waits in a [`ReviewQueue`] until someone approves or
//! rejects it by proposal id.
//!
//! ```
//! use cadre_pack_desk::consensus::{ConsensusEngine, Mode};
//! use cadre_pack_desk::model::{Outcome, ProposalId, Side, TradingProposal, Verdict, Vote};
//! let engine = ConsensusEngine::new(0.5, 0.5, 2, Mode::Backtest)?;
//! let time = chrono::DateTime::from_timestamp(0, 0).unwrap();
//! let p = TradingProposal::new(ProposalId(1), "ACME", Side::Buy, 100.0, 0.8, "trend", "analyst", time)?;
//! let votes = [
//!     Vote::new("risk", Verdict::Approve, 0.9, 2.0, vec!["within limits".into()])?,
//!     Vote::new("optimizer", Verdict::Approve, 0.6, 1.0, vec![])?,
//! ];
//! assert_eq!(engine.decide(&p, &votes).outcome(), Outcome::Approved);
//! # Ok::<(), cadre_core::Error>(())
//! ```

use std::collections::BTreeMap;

use cadre_core::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};

use crate::model::{Decision, Outcome, ProposalId, TradingProposal, Vote, non_empty};

/// Where the desk runs: decides what happens to contested proposals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A backtest: contested proposals are rejected (nobody reviews them).
    Backtest,
    /// Paper (or live) trading: contested proposals wait for a manual review.
    Paper,
}

/// The weighted tally of a set of votes (see the module docs for the formulas).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tally {
    /// `S = Σ w·c·s / Σ w·c`, in [−1, 1].
    pub score: f64,
    /// The weighted variance of `x = s·c` with weights `w`.
    pub variance: f64,
    /// Non-abstaining votes.
    pub voters: usize,
    /// `Σ w·c` over the non-abstaining votes.
    pub weight: f64,
}

impl Tally {
    /// Tallies `votes`; abstentions are skipped. Independent of the votes' order.
    pub fn of(votes: &[Vote]) -> Self {
        // (w·c, s, w) per non-abstaining vote, sorted so that every sum is order-independent.
        let mut terms: Vec<(f64, f64, f64)> = votes
            .iter()
            .filter_map(|v| {
                v.verdict()
                    .sign()
                    .map(|s| (v.weight() * v.confidence(), s, v.weight()))
            })
            .collect();
        terms.sort_by(|a, b| {
            a.0.total_cmp(&b.0)
                .then(a.1.total_cmp(&b.1))
                .then(a.2.total_cmp(&b.2))
        });
        let voters = terms.len();
        let weight: f64 = terms.iter().map(|t| t.0).sum();
        let signed: f64 = terms.iter().map(|t| t.0 * t.1).sum();
        let score = if weight > 0.0 {
            (signed / weight).clamp(-1.0, 1.0)
        } else {
            0.0
        };
        // x = s·c = (w·c·s)/w; with weights w: Σ w·x = Σ w·c·s.
        let w_sum: f64 = terms.iter().map(|t| t.2).sum();
        let variance = if w_sum > 0.0 {
            let mean = signed / w_sum;
            let var: f64 = terms
                .iter()
                .filter(|t| t.2 > 0.0)
                .map(|&(wc, s, w)| {
                    let d = wc * s / w - mean;
                    w * d * d
                })
                .sum();
            (var / w_sum).max(0.0)
        } else {
            0.0
        };
        Self {
            score,
            variance,
            voters,
            weight,
        }
    }
}

/// The consensus rules: an approval threshold, a disagreement limit, a quorum and a mode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConsensusEngine {
    threshold: f64,
    variance_limit: f64,
    quorum: usize,
    mode: Mode,
}

impl ConsensusEngine {
    /// The rules: approve when the score is at least `threshold` (in [−1, 1]), send to review
    /// when the variance exceeds `variance_limit` (finite, >= 0; the variance is at most 1),
    /// require `quorum` non-abstaining votes.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming `threshold` or `variance_limit`.
    pub fn new(threshold: f64, variance_limit: f64, quorum: usize, mode: Mode) -> Result<Self> {
        if !(-1.0..=1.0).contains(&threshold) {
            return Err(Error::invalid_input(format!(
                "field `threshold`: {threshold} must lie in [-1, 1]"
            )));
        }
        crate::model::non_negative("variance_limit", variance_limit)?;
        Ok(Self {
            threshold,
            variance_limit,
            quorum,
            mode,
        })
    }

    /// The approval threshold.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }
    /// The disagreement limit.
    pub fn variance_limit(&self) -> f64 {
        self.variance_limit
    }
    /// The quorum of non-abstaining votes.
    pub fn quorum(&self) -> usize {
        self.quorum
    }
    /// Backtest or paper.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Decides on `proposal` from `votes` (rules in the module docs). The decision keeps every
    /// vote, abstentions included, in the order given.
    pub fn decide(&self, proposal: &TradingProposal, votes: &[Vote]) -> Decision {
        let tally = Tally::of(votes);
        let (outcome, reason) = if tally.voters < self.quorum {
            (
                Outcome::Rejected,
                format!(
                    "quorum not met: {} of {} votes needed",
                    tally.voters, self.quorum
                ),
            )
        } else if tally.weight <= 0.0 {
            (
                Outcome::Rejected,
                "no vote with weight and confidence above 0".to_owned(),
            )
        } else if tally.variance > self.variance_limit {
            let what = format!(
                "votes disagree: variance {:.4} above the limit {:.4}",
                tally.variance, self.variance_limit
            );
            match self.mode {
                Mode::Paper => (Outcome::ManualReview, format!("{what}; manual review")),
                Mode::Backtest => (
                    Outcome::Rejected,
                    format!("{what}; auto-rejected in a backtest"),
                ),
            }
        } else if tally.score >= self.threshold {
            (
                Outcome::Approved,
                format!(
                    "score {:.4} at or above the threshold {:.4}",
                    tally.score, self.threshold
                ),
            )
        } else {
            (
                Outcome::Rejected,
                format!(
                    "score {:.4} below the threshold {:.4}",
                    tally.score, self.threshold
                ),
            )
        };
        // The score is clamped to [−1, 1] and the reason is never empty: valid by construction.
        Decision::from_parts(proposal.id(), outcome, tally.score, votes.to_vec(), reason)
    }
}

/// Decisions waiting for a person, by proposal id (paper mode).
#[derive(Debug, Clone, Default)]
pub struct ReviewQueue {
    pending: BTreeMap<ProposalId, Decision>,
}

impl ReviewQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a decision whose outcome is [`Outcome::ManualReview`].
    ///
    /// # Errors
    ///
    /// `InvalidInput` for another outcome, `Conflict` when the proposal already waits.
    pub fn push(&mut self, decision: Decision) -> Result<()> {
        if decision.outcome() != Outcome::ManualReview {
            return Err(Error::invalid_input(format!(
                "{}: only a decision sent to manual review can be queued, got {:?}",
                decision.proposal(),
                decision.outcome()
            )));
        }
        let id = decision.proposal();
        if self.pending.contains_key(&id) {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!("{id} is already waiting for review"),
            ));
        }
        self.pending.insert(id, decision);
        Ok(())
    }

    /// The waiting decisions, by proposal id.
    pub fn pending(&self) -> impl Iterator<Item = &Decision> {
        self.pending.values()
    }

    /// How many decisions wait.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Approves a waiting proposal: returns its decision, now [`Outcome::Approved`], with a
    /// reason naming `who` and `why`.
    ///
    /// # Errors
    ///
    /// `NotFound` for an id that does not wait, `InvalidInput` for an empty `who`.
    pub fn approve(&mut self, id: ProposalId, who: &str, why: &str) -> Result<Decision> {
        self.resolve(id, Outcome::Approved, "approved", who, why)
    }

    /// Rejects a waiting proposal, as [`Self::approve`] approves one.
    ///
    /// # Errors
    ///
    /// `NotFound` for an id that does not wait, `InvalidInput` for an empty `who`.
    pub fn reject(&mut self, id: ProposalId, who: &str, why: &str) -> Result<Decision> {
        self.resolve(id, Outcome::Rejected, "rejected", who, why)
    }

    fn resolve(
        &mut self,
        id: ProposalId,
        outcome: Outcome,
        verb: &str,
        who: &str,
        why: &str,
    ) -> Result<Decision> {
        non_empty("who", who)?;
        let decision = self.pending.remove(&id).ok_or_else(|| {
            Error::new(
                ErrorCode::NotFound,
                format!("{id} is not waiting for review"),
            )
        })?;
        let reason = format!(
            "{verb} by {who} after manual review: {why} (was: {})",
            decision.reason()
        );
        Ok(decision.resolved(outcome, reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Side, Verdict};
    use chrono::DateTime;
    use proptest::prelude::*;

    fn proposal() -> TradingProposal {
        TradingProposal::new(
            ProposalId(7),
            "ACME",
            Side::Buy,
            10.0,
            0.7,
            "breakout",
            "analyst",
            DateTime::from_timestamp(0, 0).unwrap(),
        )
        .unwrap()
    }

    fn vote(agent: &str, verdict: Verdict, c: f64, w: f64) -> Vote {
        Vote::new(agent, verdict, c, w, vec![format!("{agent} says so")]).unwrap()
    }

    fn engine(mode: Mode) -> ConsensusEngine {
        ConsensusEngine::new(0.5, 0.5, 2, mode).unwrap()
    }

    #[test]
    fn score_is_the_weighted_mean_of_signed_votes() {
        let votes = [
            vote("a", Verdict::Approve, 0.8, 2.0),
            vote("b", Verdict::Reject, 0.5, 1.0),
        ];
        let t = Tally::of(&votes);
        // (2·0.8 − 1·0.5) / (2·0.8 + 1·0.5) = 1.1 / 2.1
        assert!((t.score - 1.1 / 2.1).abs() < 1e-15, "{}", t.score);
        // x = (0.8, −0.5), w = (2, 1): mean 1.1/3, variance (2·(0.8−m)² + (−0.5−m)²)/3
        let m = 1.1 / 3.0;
        let v = (2.0 * (0.8 - m) * (0.8 - m) + (-0.5 - m) * (-0.5 - m)) / 3.0;
        assert!((t.variance - v).abs() < 1e-15, "{} vs {v}", t.variance);
        assert_eq!(t.voters, 2);
    }

    #[test]
    fn unanimous_confident_approval_is_approved() {
        let votes = [
            vote("a", Verdict::Approve, 0.9, 1.0),
            vote("b", Verdict::Approve, 0.8, 1.0),
            vote("c", Verdict::Approve, 0.9, 3.0),
        ];
        let d = engine(Mode::Backtest).decide(&proposal(), &votes);
        assert_eq!(d.outcome(), Outcome::Approved, "{}", d.reason());
        assert_eq!(d.score(), 1.0);
        assert_eq!(d.votes().len(), 3);
        assert_eq!(d.proposal(), ProposalId(7));
    }

    #[test]
    fn quorum_counts_only_non_abstaining_votes() {
        let votes = [
            vote("a", Verdict::Approve, 0.9, 1.0),
            vote("b", Verdict::Abstain, 0.9, 1.0),
        ];
        let d = engine(Mode::Backtest).decide(&proposal(), &votes);
        assert_eq!(d.outcome(), Outcome::Rejected);
        assert!(
            d.reason().contains("quorum not met: 1 of 2"),
            "{}",
            d.reason()
        );
    }

    #[test]
    fn disagreement_goes_to_review_in_paper_and_is_rejected_in_backtest() {
        let votes = [
            vote("a", Verdict::Approve, 1.0, 1.0),
            vote("b", Verdict::Reject, 1.0, 1.0),
        ];
        let paper = engine(Mode::Paper).decide(&proposal(), &votes);
        assert_eq!(paper.outcome(), Outcome::ManualReview);
        let back = engine(Mode::Backtest).decide(&proposal(), &votes);
        assert_eq!(back.outcome(), Outcome::Rejected);
        assert!(back.reason().contains("auto-rejected"), "{}", back.reason());
        assert!(
            back.reason().contains("variance 1.0000"),
            "{}",
            back.reason()
        );
    }

    #[test]
    fn below_threshold_is_rejected_and_zero_weight_too() {
        let e = ConsensusEngine::new(0.9, 1.0, 1, Mode::Paper).unwrap();
        let votes = [
            vote("a", Verdict::Approve, 0.9, 1.0),
            vote("b", Verdict::Reject, 0.3, 1.0),
        ];
        let d = e.decide(&proposal(), &votes);
        assert_eq!(d.outcome(), Outcome::Rejected);
        assert!(d.reason().contains("below the threshold"), "{}", d.reason());
        let zero = [vote("a", Verdict::Approve, 0.9, 0.0)];
        let d = e.decide(&proposal(), &zero);
        assert_eq!(d.outcome(), Outcome::Rejected);
        assert_eq!(d.score(), 0.0);
    }

    #[test]
    fn engine_refuses_bad_rules() {
        let err = ConsensusEngine::new(1.5, 0.5, 1, Mode::Paper).unwrap_err();
        assert!(err.message().contains("`threshold`"), "{err}");
        let err = ConsensusEngine::new(0.5, -0.1, 1, Mode::Paper).unwrap_err();
        assert!(err.message().contains("`variance_limit`"), "{err}");
    }

    #[test]
    fn review_queue_approves_and_rejects_by_id() {
        let votes = [
            vote("a", Verdict::Approve, 1.0, 1.0),
            vote("b", Verdict::Reject, 1.0, 1.0),
        ];
        let d = engine(Mode::Paper).decide(&proposal(), &votes);
        let mut q = ReviewQueue::new();
        q.push(d.clone()).unwrap();
        assert_eq!(q.len(), 1);
        let err = q.push(d.clone()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict);
        let err = q.approve(ProposalId(99), "ops", "fine").unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        assert!(err.message().contains("proposal-99"), "{err}");
        let err = q.approve(ProposalId(7), " ", "fine").unwrap_err();
        assert!(err.message().contains("`who`"), "{err}");
        let approved = q.approve(ProposalId(7), "ops", "news explains it").unwrap();
        assert_eq!(approved.outcome(), Outcome::Approved);
        assert!(
            approved.reason().starts_with("approved by ops"),
            "{}",
            approved.reason()
        );
        assert!(q.is_empty());
        q.push(d).unwrap();
        let rejected = q.reject(ProposalId(7), "ops", "too risky").unwrap();
        assert_eq!(rejected.outcome(), Outcome::Rejected);
        assert_eq!(
            q.reject(ProposalId(7), "ops", "again").unwrap_err().code(),
            ErrorCode::NotFound
        );
        let approved_decision = engine(Mode::Backtest).decide(
            &proposal(),
            &[
                vote("a", Verdict::Approve, 1.0, 1.0),
                vote("b", Verdict::Approve, 1.0, 1.0),
            ],
        );
        assert_eq!(
            q.push(approved_decision).unwrap_err().code(),
            ErrorCode::InvalidInput
        );
    }

    fn arb_vote() -> impl Strategy<Value = Vote> {
        (
            prop_oneof![
                Just(Verdict::Approve),
                Just(Verdict::Reject),
                Just(Verdict::Abstain)
            ],
            0.0..=1.0f64,
            0.0..5.0f64,
            0u32..1000,
        )
            .prop_map(|(v, c, w, n)| Vote::new(format!("agent-{n}"), v, c, w, vec![]).unwrap())
    }

    fn arb_engine() -> impl Strategy<Value = ConsensusEngine> {
        (
            -1.0..=1.0f64,
            0.0..1.2f64,
            0usize..4,
            prop_oneof![Just(Mode::Backtest), Just(Mode::Paper)],
        )
            .prop_map(|(t, v, q, m)| ConsensusEngine::new(t, v, q, m).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            rng_seed: proptest::test_runner::RngSeed::Fixed(0xC0DE),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]
        #[test]
        fn order_of_votes_does_not_matter(
            e in arb_engine(),
            votes in proptest::collection::vec(arb_vote(), 0..8),
            seed in any::<u64>(),
        ) {
            let mut shuffled = votes.clone();
            let mut rng = seed;
            for i in (1..shuffled.len()).rev() {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (rng >> 33) as usize % (i + 1));
            }
            let a = e.decide(&proposal(), &votes);
            let b = e.decide(&proposal(), &shuffled);
            prop_assert_eq!(a.outcome(), b.outcome());
            prop_assert_eq!(a.score().to_bits(), b.score().to_bits());
            prop_assert_eq!(a.reason(), b.reason());
        }

        #[test]
        fn abstentions_change_nothing(
            e in arb_engine(),
            votes in proptest::collection::vec(arb_vote(), 0..8),
            extra in 0usize..4,
        ) {
            let mut with = votes.clone();
            for i in 0..extra {
                with.push(Vote::new(format!("quiet-{i}"), Verdict::Abstain, 1.0, 3.0, vec![]).unwrap());
            }
            let a = e.decide(&proposal(), &votes);
            let b = e.decide(&proposal(), &with);
            prop_assert_eq!(a.outcome(), b.outcome());
            prop_assert_eq!(a.score().to_bits(), b.score().to_bits());
            prop_assert_eq!(b.votes().len(), votes.len() + extra);
        }

        #[test]
        fn score_and_variance_stay_in_range(votes in proptest::collection::vec(arb_vote(), 0..10)) {
            let t = Tally::of(&votes);
            prop_assert!((-1.0..=1.0).contains(&t.score));
            prop_assert!((0.0..=1.0 + 1e-12).contains(&t.variance), "{}", t.variance);
        }

        #[test]
        fn unanimous_approval_meeting_quorum_is_approved(
            n in 1usize..6,
            c in 0.01..=1.0f64,
            w in 0.1..5.0f64,
            threshold in -1.0..=1.0f64,
        ) {
            let votes: Vec<Vote> = (0..n)
                .map(|i| Vote::new(format!("a{i}"), Verdict::Approve, c, w, vec![]).unwrap())
                .collect();
            // Identical votes: no disagreement at all.
            let e = ConsensusEngine::new(threshold, 1e-9, n, Mode::Paper).unwrap();
            let d = e.decide(&proposal(), &votes);
            prop_assert_eq!(d.outcome(), Outcome::Approved);
            prop_assert_eq!(d.score(), 1.0);
        }

        #[test]
        fn unanimous_rejection_is_never_approved(
            n in 1usize..6,
            c in 0.01..=1.0f64,
            e in arb_engine(),
        ) {
            let votes: Vec<Vote> = (0..n)
                .map(|i| Vote::new(format!("a{i}"), Verdict::Reject, c, 1.0, vec![]).unwrap())
                .collect();
            let d = e.decide(&proposal(), &votes);
            if e.threshold() > -1.0 {
                prop_assert_ne!(d.outcome(), Outcome::Approved);
            }
        }
    }
}
