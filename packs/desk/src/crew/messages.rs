//! What the desk's agents send each other. Every message is small JSON on any bus: tasks name
//! the market by its [`DataSpec`] and a step, never carry the bars.

use cadre_core::Message;
use serde::{Deserialize, Serialize};

use super::tape::DataSpec;
use crate::broker::{ExecutionQuality, SimConfig};
use crate::model::{Fill, Order, TradingProposal, Verdict};

/// A position's protective levels: exit at a loss at `stop_loss`, at a profit at
/// `take_profit` (prices).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Levels {
    /// Exit at a loss when the price reaches this level.
    pub stop_loss: f64,
    /// Exit at a profit when the price reaches this level.
    pub take_profit: f64,
}

/// The book as agents see it at a step: cash, equity, its peak, units held per symbol (in the
/// tape's column order) and the protective levels of open positions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BookView {
    /// Cash.
    pub cash: f64,
    /// Cash plus positions at the current close.
    pub equity: f64,
    /// The highest equity so far.
    pub peak: f64,
    /// Signed units per symbol.
    pub positions: Vec<f64>,
    /// Stop-loss and take-profit per symbol (`None`: flat or no levels).
    pub exits: Vec<Option<Levels>>,
}

impl BookView {
    /// The current drawdown from the peak (≤ 0).
    pub fn drawdown(&self) -> f64 {
        if self.peak > 0.0 {
            (self.equity / self.peak - 1.0).min(0.0)
        } else {
            0.0
        }
    }
}

/// A step of a run: the market as of `step`, and the book. Input of `desk.analyze`,
/// `desk.rebalance`, `desk.risk.check` and `desk.price`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepInput {
    /// The run's id (agents that keep per-run state key it by this).
    pub run: String,
    /// The market.
    pub data: DataSpec,
    /// The current step (its close is the latest price anyone may see).
    pub step: usize,
    /// The book after this step's fills.
    pub book: BookView,
}

impl Message for StepInput {
    const TYPE: &'static str = "desk.step";
}

/// Proposals made at a step (`desk.analyze`, `desk.rebalance`, `desk.risk.check`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Proposals {
    /// The proposals, in symbol order.
    pub proposals: Vec<TradingProposal>,
    /// Target weights per symbol, when the proposer computed them (`desk.rebalance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<f64>>,
    /// Limit breaches found (`desk.risk.check`), each a sentence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breaches: Vec<String>,
    /// Whether the kill switch must be pulled (a drawdown breach).
    #[serde(default)]
    pub halt: bool,
}

impl Message for Proposals {
    const TYPE: &'static str = "desk.proposals";
}

/// A request to vote on proposals (`desk.vote`), with the context voters need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoteRequest {
    /// The step.
    pub step: StepInput,
    /// The proposals to vote on.
    pub proposals: Vec<TradingProposal>,
    /// The portfolio optimiser's latest target weights, if any.
    #[serde(default)]
    pub targets: Option<Vec<f64>>,
}

impl Message for VoteRequest {
    const TYPE: &'static str = "desk.vote_request";
}

/// One voter's verdict on one proposal; the coordinator attaches the voter's weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ballot {
    /// Approve, reject or abstain.
    pub verdict: Verdict,
    /// How sure, in [0, 1].
    pub confidence: f64,
    /// Why.
    pub reasons: Vec<String>,
}

/// A voter's ballots, one per proposal in request order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ballots {
    /// The voter (its agent kind).
    pub voter: String,
    /// One per proposal.
    pub ballots: Vec<Ballot>,
}

impl Message for Ballots {
    const TYPE: &'static str = "desk.ballots";
}

/// Approved proposals to size into orders (`desk.size`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeRequest {
    /// The step.
    pub step: StepInput,
    /// Approved proposals.
    pub approved: Vec<TradingProposal>,
    /// The portfolio optimiser's latest target weights, if any.
    #[serde(default)]
    pub targets: Option<Vec<f64>>,
    /// The first order id to use.
    pub next_order: u64,
}

impl Message for SizeRequest {
    const TYPE: &'static str = "desk.size_request";
}

/// Orders with the protective levels of each (`desk.size`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SizedOrders {
    /// Orders, in proposal order; a proposal sized to nothing has none.
    pub orders: Vec<Order>,
    /// Stop-loss and take-profit per order (same order as `orders`).
    pub exits: Vec<Option<Levels>>,
    /// Why proposals were cut or dropped.
    pub notes: Vec<String>,
}

impl Message for SizedOrders {
    const TYPE: &'static str = "desk.sized_orders";
}

/// One step of execution (`desk.execute`): orders to submit before the step's bar, then the
/// bar itself, which fills what is due at its open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecuteStep {
    /// The run (the broker session's key).
    pub run: String,
    /// The market.
    pub data: DataSpec,
    /// The bar to process.
    pub step: usize,
    /// The broker's models (used when the session starts).
    pub broker: SimConfig,
    /// Paper mode: a [`PaperBroker`](crate::broker::PaperBroker) over a feed of one bar every
    /// this long, instead of the [`SimBroker`](crate::broker::SimBroker).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub paper: Option<std::time::Duration>,
    /// Orders to submit first.
    pub orders: Vec<Order>,
    /// Close the session after this step.
    #[serde(default)]
    pub last: bool,
}

impl Message for ExecuteStep {
    const TYPE: &'static str = "desk.execute_step";
}

/// What a step of execution gave.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Executed {
    /// Fills at this bar, oldest order first.
    pub fills: Vec<Fill>,
    /// Orders still working.
    pub working: usize,
    /// Execution quality of the session so far.
    pub quality: ExecutionQuality,
}

impl Message for Executed {
    const TYPE: &'static str = "desk.executed";
}

/// The options book's value and Greeks at a step (`desk.price`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BookGreeks {
    /// The step valued.
    pub step: usize,
    /// Live contracts.
    pub contracts: usize,
    /// Market value (Σ quantity × multiplier × price).
    pub value: f64,
    /// Σ quantity × multiplier × delta (units of the underlyings).
    pub delta: f64,
    /// Σ quantity × multiplier × gamma.
    pub gamma: f64,
    /// Σ quantity × multiplier × vega (per 1.00 of volatility).
    pub vega: f64,
    /// Σ quantity × multiplier × theta (per year).
    pub theta: f64,
    /// Limits breached, each a sentence.
    pub breaches: Vec<String>,
}

impl Message for BookGreeks {
    const TYPE: &'static str = "desk.book_greeks";
}
