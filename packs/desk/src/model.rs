//! The desk's data model: market data, proposals, votes, decisions, orders, fills and
//! experiences.
//!
//! Every type validates on construction (`new` returns an
//! [`ErrorCode::InvalidInput`](cadre_core::ErrorCode::InvalidInput) error naming the field) and
//! on deserialisation (serde goes through the same constructor, so a JSON document with a
//! negative size or a confidence of 1.5 is refused). Fields are private; accessors read them.
//! Times are UTC; quantities and prices are `f64`.

use cadre_core::{Error, Result};
use cadre_pack_trading::market::Bar;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub(crate) fn finite(field: &str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::invalid_input(format!(
            "field `{field}`: {value} must be a finite number"
        )))
    }
}

pub(crate) fn positive(field: &str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::invalid_input(format!(
            "field `{field}`: {value} must be a finite number > 0"
        )))
    }
}

pub(crate) fn non_negative(field: &str, value: f64) -> Result<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(Error::invalid_input(format!(
            "field `{field}`: {value} must be a finite number >= 0"
        )))
    }
}

pub(crate) fn unit(field: &str, value: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid_input(format!(
            "field `{field}`: {value} must lie in [0, 1]"
        )))
    }
}

pub(crate) fn non_empty(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        Err(Error::invalid_input(format!(
            "field `{field}`: must not be empty"
        )))
    } else {
        Ok(())
    }
}

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Buy (go or get longer).
    Buy,
    /// Sell (go or get shorter).
    Sell,
}

impl Side {
    /// `+1.0` for a buy, `-1.0` for a sell.
    pub fn sign(self) -> f64 {
        match self {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        }
    }

    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// `"buy"` or `"sell"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// Identifies a [`TradingProposal`] (and the [`Decision`] about it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProposalId(pub u64);

/// Identifies an [`Order`] (and its [`Fill`]s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(pub u64);

impl std::fmt::Display for ProposalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "proposal-{}", self.0)
    }
}

impl std::fmt::Display for OrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "order-{}", self.0)
    }
}

/// One symbol's bar: the symbol and a validated OHLCV [`Bar`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "MarketDataWire", into = "MarketDataWire")]
pub struct MarketData {
    symbol: String,
    bar: Bar,
}

#[derive(Serialize, Deserialize)]
struct MarketDataWire {
    symbol: String,
    time: DateTime<Utc>,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
}

impl MarketData {
    /// A symbol's bar; the symbol must not be empty (the bar validated itself).
    pub fn new(symbol: impl Into<String>, bar: Bar) -> Result<Self> {
        let symbol = symbol.into();
        non_empty("symbol", &symbol)?;
        Ok(Self { symbol, bar })
    }
    /// The symbol.
    pub fn symbol(&self) -> &str {
        &self.symbol
    }
    /// The bar.
    pub fn bar(&self) -> &Bar {
        &self.bar
    }
}

impl TryFrom<MarketDataWire> for MarketData {
    type Error = Error;
    fn try_from(w: MarketDataWire) -> Result<Self> {
        let bar = Bar::new(w.time, w.open, w.high, w.low, w.close, w.volume)?;
        Self::new(w.symbol, bar)
    }
}

impl From<MarketData> for MarketDataWire {
    fn from(m: MarketData) -> Self {
        let b = m.bar;
        Self {
            symbol: m.symbol,
            time: b.time(),
            open: b.open(),
            high: b.high(),
            low: b.low(),
            close: b.close(),
            volume: b.volume(),
        }
    }
}

/// An agent's proposal to trade: buy or sell `size` units of `symbol`, with its confidence
/// and rationale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TradingProposalWire")]
pub struct TradingProposal {
    id: ProposalId,
    symbol: String,
    side: Side,
    size: f64,
    confidence: f64,
    rationale: String,
    proposer: String,
    time: DateTime<Utc>,
}

#[derive(Deserialize)]
struct TradingProposalWire {
    id: ProposalId,
    symbol: String,
    side: Side,
    size: f64,
    confidence: f64,
    rationale: String,
    proposer: String,
    time: DateTime<Utc>,
}

impl TradingProposal {
    /// A proposal. `symbol` and `proposer` must not be empty, `size` must be finite and > 0,
    /// `confidence` in [0, 1].
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: ProposalId,
        symbol: impl Into<String>,
        side: Side,
        size: f64,
        confidence: f64,
        rationale: impl Into<String>,
        proposer: impl Into<String>,
        time: DateTime<Utc>,
    ) -> Result<Self> {
        let (symbol, proposer) = (symbol.into(), proposer.into());
        non_empty("symbol", &symbol)?;
        positive("size", size)?;
        unit("confidence", confidence)?;
        non_empty("proposer", &proposer)?;
        Ok(Self {
            id,
            symbol,
            side,
            size,
            confidence,
            rationale: rationale.into(),
            proposer,
            time,
        })
    }
    /// The proposal's id.
    pub fn id(&self) -> ProposalId {
        self.id
    }
    /// The symbol to trade.
    pub fn symbol(&self) -> &str {
        &self.symbol
    }
    /// Buy or sell.
    pub fn side(&self) -> Side {
        self.side
    }
    /// Units to trade (> 0).
    pub fn size(&self) -> f64 {
        self.size
    }
    /// The proposer's confidence, in [0, 1].
    pub fn confidence(&self) -> f64 {
        self.confidence
    }
    /// Why.
    pub fn rationale(&self) -> &str {
        &self.rationale
    }
    /// The proposing agent.
    pub fn proposer(&self) -> &str {
        &self.proposer
    }
    /// When it was proposed.
    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }
}

impl TryFrom<TradingProposalWire> for TradingProposal {
    type Error = Error;
    fn try_from(w: TradingProposalWire) -> Result<Self> {
        Self::new(
            w.id,
            w.symbol,
            w.side,
            w.size,
            w.confidence,
            w.rationale,
            w.proposer,
            w.time,
        )
    }
}

/// What a voter says about a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// For (+1 in the consensus score).
    Approve,
    /// Against (−1).
    Reject,
    /// Neither: left out of the score, the variance and the quorum.
    Abstain,
}

impl Verdict {
    /// `+1.0`, `-1.0`, or `None` for an abstention.
    pub fn sign(self) -> Option<f64> {
        match self {
            Verdict::Approve => Some(1.0),
            Verdict::Reject => Some(-1.0),
            Verdict::Abstain => None,
        }
    }
}

/// One agent's vote on a proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "VoteWire")]
pub struct Vote {
    agent: String,
    verdict: Verdict,
    confidence: f64,
    weight: f64,
    reasons: Vec<String>,
}

#[derive(Deserialize)]
struct VoteWire {
    agent: String,
    verdict: Verdict,
    confidence: f64,
    weight: f64,
    #[serde(default)]
    reasons: Vec<String>,
}

impl Vote {
    /// A vote. `agent` must not be empty, `confidence` in [0, 1], `weight` finite and >= 0.
    pub fn new(
        agent: impl Into<String>,
        verdict: Verdict,
        confidence: f64,
        weight: f64,
        reasons: Vec<String>,
    ) -> Result<Self> {
        let agent = agent.into();
        non_empty("agent", &agent)?;
        unit("confidence", confidence)?;
        non_negative("weight", weight)?;
        Ok(Self {
            agent,
            verdict,
            confidence,
            weight,
            reasons,
        })
    }
    /// The voting agent.
    pub fn agent(&self) -> &str {
        &self.agent
    }
    /// Approve, reject or abstain.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }
    /// The voter's confidence, in [0, 1].
    pub fn confidence(&self) -> f64 {
        self.confidence
    }
    /// The voter's weight (>= 0), set by the desk's configuration.
    pub fn weight(&self) -> f64 {
        self.weight
    }
    /// The voter's reasons, for the audit trail.
    pub fn reasons(&self) -> &[String] {
        &self.reasons
    }
}

impl TryFrom<VoteWire> for Vote {
    type Error = Error;
    fn try_from(w: VoteWire) -> Result<Self> {
        Self::new(w.agent, w.verdict, w.confidence, w.weight, w.reasons)
    }
}

/// The outcome of a [`Decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Trade.
    Approved,
    /// Do not trade.
    Rejected,
    /// The voters disagree too much: a person decides (paper mode).
    ManualReview,
}

/// The desk's decision about one proposal: the outcome, the consensus score, every vote and
/// the reason, as the audit trail records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "DecisionWire")]
pub struct Decision {
    proposal: ProposalId,
    outcome: Outcome,
    score: f64,
    votes: Vec<Vote>,
    reason: String,
}

#[derive(Deserialize)]
struct DecisionWire {
    proposal: ProposalId,
    outcome: Outcome,
    score: f64,
    votes: Vec<Vote>,
    reason: String,
}

impl Decision {
    /// A decision. `score` must lie in [−1, 1] and `reason` must not be empty.
    pub fn new(
        proposal: ProposalId,
        outcome: Outcome,
        score: f64,
        votes: Vec<Vote>,
        reason: impl Into<String>,
    ) -> Result<Self> {
        if !(-1.0..=1.0).contains(&score) {
            return Err(Error::invalid_input(format!(
                "field `score`: {score} must lie in [-1, 1]"
            )));
        }
        let reason = reason.into();
        non_empty("reason", &reason)?;
        Ok(Self {
            proposal,
            outcome,
            score,
            votes,
            reason,
        })
    }
    /// The proposal decided on.
    pub fn proposal(&self) -> ProposalId {
        self.proposal
    }
    /// Approved, rejected or waiting for a manual review.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }
    /// The weighted consensus score in [−1, 1] (see [`crate::consensus`]).
    pub fn score(&self) -> f64 {
        self.score
    }
    /// Every vote cast, abstentions included, in the order given.
    pub fn votes(&self) -> &[Vote] {
        &self.votes
    }
    /// Why.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// A decision from parts the caller has already checked (the consensus engine's).
    pub(crate) fn from_parts(
        proposal: ProposalId,
        outcome: Outcome,
        score: f64,
        votes: Vec<Vote>,
        reason: String,
    ) -> Self {
        Self {
            proposal,
            outcome,
            score,
            votes,
            reason,
        }
    }

    /// The same decision with another outcome and reason (a manual review's resolution).
    pub(crate) fn resolved(mut self, outcome: Outcome, reason: String) -> Self {
        self.outcome = outcome;
        self.reason = reason;
        self
    }
}

impl TryFrom<DecisionWire> for Decision {
    type Error = Error;
    fn try_from(w: DecisionWire) -> Result<Self> {
        Self::new(w.proposal, w.outcome, w.score, w.votes, w.reason)
    }
}

/// How an order is priced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderKind {
    /// At the market: the next available price (the next bar's open in [`crate::broker`]).
    Market,
    /// No worse than `price`.
    Limit {
        /// The limit price (> 0).
        price: f64,
    },
}

/// An order to a [`Broker`](crate::broker::Broker).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "OrderWire")]
pub struct Order {
    id: OrderId,
    symbol: String,
    side: Side,
    quantity: f64,
    kind: OrderKind,
    arrival_price: f64,
    time: DateTime<Utc>,
}

#[derive(Deserialize)]
struct OrderWire {
    id: OrderId,
    symbol: String,
    side: Side,
    quantity: f64,
    kind: OrderKind,
    arrival_price: f64,
    time: DateTime<Utc>,
}

impl Order {
    /// An order. `symbol` must not be empty, `quantity`, `arrival_price` (the price when the
    /// order was decided, the benchmark of execution quality) and a limit price finite and > 0.
    pub fn new(
        id: OrderId,
        symbol: impl Into<String>,
        side: Side,
        quantity: f64,
        kind: OrderKind,
        arrival_price: f64,
        time: DateTime<Utc>,
    ) -> Result<Self> {
        let symbol = symbol.into();
        non_empty("symbol", &symbol)?;
        positive("quantity", quantity)?;
        if let OrderKind::Limit { price } = kind {
            positive("limit_price", price)?;
        }
        positive("arrival_price", arrival_price)?;
        Ok(Self {
            id,
            symbol,
            side,
            quantity,
            kind,
            arrival_price,
            time,
        })
    }
    /// The order's id.
    pub fn id(&self) -> OrderId {
        self.id
    }
    /// The symbol.
    pub fn symbol(&self) -> &str {
        &self.symbol
    }
    /// Buy or sell.
    pub fn side(&self) -> Side {
        self.side
    }
    /// Units to trade (> 0).
    pub fn quantity(&self) -> f64 {
        self.quantity
    }
    /// Market or limit.
    pub fn kind(&self) -> OrderKind {
        self.kind
    }
    /// The limit price, for a limit order.
    pub fn limit_price(&self) -> Option<f64> {
        match self.kind {
            OrderKind::Market => None,
            OrderKind::Limit { price } => Some(price),
        }
    }
    /// The price when the order was decided (the close the strategy saw).
    pub fn arrival_price(&self) -> f64 {
        self.arrival_price
    }
    /// When the order was submitted.
    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }
}

impl TryFrom<OrderWire> for Order {
    type Error = Error;
    fn try_from(w: OrderWire) -> Result<Self> {
        Self::new(
            w.id,
            w.symbol,
            w.side,
            w.quantity,
            w.kind,
            w.arrival_price,
            w.time,
        )
    }
}

/// An execution of (part of) an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "FillWire")]
pub struct Fill {
    order: OrderId,
    symbol: String,
    side: Side,
    quantity: f64,
    price: f64,
    commission: f64,
    slippage: f64,
    time: DateTime<Utc>,
}

#[derive(Deserialize)]
struct FillWire {
    order: OrderId,
    symbol: String,
    side: Side,
    quantity: f64,
    price: f64,
    commission: f64,
    slippage: f64,
    time: DateTime<Utc>,
}

impl Fill {
    /// A fill. `quantity` and `price` finite and > 0, `commission` finite and >= 0,
    /// `slippage` (the cost per unit against the reference price, positive when it hurt)
    /// finite.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        order: OrderId,
        symbol: impl Into<String>,
        side: Side,
        quantity: f64,
        price: f64,
        commission: f64,
        slippage: f64,
        time: DateTime<Utc>,
    ) -> Result<Self> {
        let symbol = symbol.into();
        non_empty("symbol", &symbol)?;
        positive("quantity", quantity)?;
        positive("price", price)?;
        non_negative("commission", commission)?;
        finite("slippage", slippage)?;
        Ok(Self {
            order,
            symbol,
            side,
            quantity,
            price,
            commission,
            slippage,
            time,
        })
    }
    /// The order filled.
    pub fn order(&self) -> OrderId {
        self.order
    }
    /// The symbol.
    pub fn symbol(&self) -> &str {
        &self.symbol
    }
    /// Buy or sell.
    pub fn side(&self) -> Side {
        self.side
    }
    /// Units filled (> 0).
    pub fn quantity(&self) -> f64 {
        self.quantity
    }
    /// The price per unit, slippage included.
    pub fn price(&self) -> f64 {
        self.price
    }
    /// The commission charged for this fill.
    pub fn commission(&self) -> f64 {
        self.commission
    }
    /// The slippage per unit against the reference price (the bar's open for a market order),
    /// positive when it cost money.
    pub fn slippage(&self) -> f64 {
        self.slippage
    }
    /// When it filled (the fill bar's time).
    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }
    /// `quantity · price`.
    pub fn notional(&self) -> f64 {
        self.quantity * self.price
    }
}

impl TryFrom<FillWire> for Fill {
    type Error = Error;
    fn try_from(w: FillWire) -> Result<Self> {
        Self::new(
            w.order,
            w.symbol,
            w.side,
            w.quantity,
            w.price,
            w.commission,
            w.slippage,
            w.time,
        )
    }
}

/// An action a learner can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
    /// Do nothing.
    Hold,
}

/// One step of experience for learning: the state's features, the action taken and the
/// reward received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ExperienceWire")]
pub struct Experience {
    state: Vec<f64>,
    action: Action,
    reward: f64,
}

#[derive(Deserialize)]
struct ExperienceWire {
    state: Vec<f64>,
    action: Action,
    reward: f64,
}

impl Experience {
    /// An experience; every feature and the reward must be finite.
    pub fn new(state: Vec<f64>, action: Action, reward: f64) -> Result<Self> {
        for (i, x) in state.iter().enumerate() {
            finite(&format!("state[{i}]"), *x)?;
        }
        finite("reward", reward)?;
        Ok(Self {
            state,
            action,
            reward,
        })
    }
    /// The state's features.
    pub fn state(&self) -> &[f64] {
        &self.state
    }
    /// The action taken.
    pub fn action(&self) -> Action {
        self.action
    }
    /// The reward received.
    pub fn reward(&self) -> f64 {
        self.reward
    }
}

impl TryFrom<ExperienceWire> for Experience {
    type Error = Error;
    fn try_from(w: ExperienceWire) -> Result<Self> {
        Self::new(w.state, w.action, w.reward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadre_core::ErrorCode;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap()
    }

    #[test]
    fn constructors_name_the_bad_field() {
        let err = TradingProposal::new(ProposalId(1), "", Side::Buy, 1.0, 0.5, "", "a", t0())
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput);
        assert!(err.message().contains("`symbol`"), "{err}");
        let err = TradingProposal::new(ProposalId(1), "X", Side::Buy, -1.0, 0.5, "", "a", t0())
            .unwrap_err();
        assert!(err.message().contains("`size`"), "{err}");
        let err = TradingProposal::new(ProposalId(1), "X", Side::Buy, 1.0, 1.5, "", "a", t0())
            .unwrap_err();
        assert!(err.message().contains("`confidence`"), "{err}");
        let err = Vote::new("risk", Verdict::Approve, 0.5, f64::NAN, vec![]).unwrap_err();
        assert!(err.message().contains("`weight`"), "{err}");
        let err = Decision::new(ProposalId(1), Outcome::Approved, 1.5, vec![], "x").unwrap_err();
        assert!(err.message().contains("`score`"), "{err}");
        let err = Order::new(
            OrderId(1),
            "X",
            Side::Buy,
            1.0,
            OrderKind::Limit { price: 0.0 },
            10.0,
            t0(),
        )
        .unwrap_err();
        assert!(err.message().contains("`limit_price`"), "{err}");
        let err = Fill::new(OrderId(1), "X", Side::Buy, 1.0, 10.0, -0.1, 0.0, t0()).unwrap_err();
        assert!(err.message().contains("`commission`"), "{err}");
        let err = Experience::new(vec![1.0, f64::INFINITY], Action::Hold, 0.0).unwrap_err();
        assert!(err.message().contains("`state[1]`"), "{err}");
    }

    #[test]
    fn deserialising_refuses_invalid_values() {
        let json = r#"{"agent":"risk","verdict":"approve","confidence":1.5,"weight":1.0}"#;
        let err = serde_json::from_str::<Vote>(json).unwrap_err();
        assert!(err.to_string().contains("`confidence`"), "{err}");
        let json = r#"{"symbol":"X","time":"2026-01-01T00:00:00Z","open":10,"high":9,"low":8,"close":9,"volume":1}"#;
        let err = serde_json::from_str::<MarketData>(json).unwrap_err();
        assert!(err.to_string().contains("high"), "{err}");
        let json = r#"{"id":1,"symbol":"X","side":"buy","quantity":0,"kind":{"type":"market"},"arrival_price":10,"time":"2026-01-01T00:00:00Z"}"#;
        let err = serde_json::from_str::<Order>(json).unwrap_err();
        assert!(err.to_string().contains("`quantity`"), "{err}");
    }

    #[test]
    fn signs() {
        assert_eq!(Side::Buy.sign(), 1.0);
        assert_eq!(Side::Sell.sign(), -1.0);
        assert_eq!(Side::Buy.opposite(), Side::Sell);
        assert_eq!(Verdict::Abstain.sign(), None);
        assert_eq!(Verdict::Reject.sign(), Some(-1.0));
    }
}
