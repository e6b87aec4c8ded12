//! The desk's five agents. Each is a real [`Agent`]: it declares its capabilities, bids only
//! for tasks it can do, and reads the market only through a [`View`] that ends at the task's
//! step, so no agent can look ahead.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use cadre_core::{
    Agent, AgentError, Bid, Capability, Context, Error, ErrorCode, Message, Result, Task,
    TaskOutcome,
};
use cadre_pack_trading::indicators::{Atr, Rsi};
use cadre_pack_trading::portfolio::{
    Optimizer, ReturnMethod, expected_returns, ledoit_wolf, returns_from_prices,
};
use cadre_pack_trading::pricing::{MarketInputs, OptionContract, OptionKind, greeks, price};
use cadre_pack_trading::risk::annual_volatility;
use cadre_pack_trading::sentiment::{SentimentAnalyzer, aggregate_daily, load_headlines};
use cadre_pack_trading::sizing::{
    AtrStops, Breach, Direction, Exposure, PortfolioState, RiskLimits, volatility_target,
};
use cadre_resilience::{BreakerConfig, CircuitBreaker};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::messages::{
    Ballot, Ballots, BookGreeks, BookView, ExecuteStep, Executed, Levels, Proposals, SizeRequest,
    SizedOrders, StepInput, VoteRequest,
};
use super::tape::{self, View};
use crate::broker::{Broker, PaperBroker, SimBroker};
use crate::model::{Order, OrderId, OrderKind, ProposalId, Side, TradingProposal, Verdict};

/// `desk.analyze`: technical signals → proposals ([`MarketAnalyst`]).
pub const ANALYZE: &str = "desk.analyze";
/// `desk.vote`: ballots on proposals (every voter).
pub const VOTE: &str = "desk.vote";
/// `desk.rebalance`: target weights and trims ([`PortfolioOptimizer`]).
pub const REBALANCE: &str = "desk.rebalance";
/// `desk.size`: approved proposals → orders with stops ([`RiskManager`]).
pub const SIZE: &str = "desk.size";
/// `desk.risk.check`: limits, stops and the kill switch ([`RiskManager`]).
pub const RISK_CHECK: &str = "desk.risk.check";
/// `desk.execute`: orders to the broker, a bar's fills back ([`Execution`]).
pub const EXECUTE: &str = "desk.execute";
/// `desk.price`: the options book's value and Greeks ([`Pricing`]).
pub const PRICE: &str = "desk.price";
/// The version every desk capability is implemented at.
pub const VERSION: &str = "1.0.0";

const TRADING_DAYS: f64 = 252.0;

fn capability(name: &str) -> Capability {
    Capability::new(name, VERSION).expect("the desk's capability names are valid")
}

/// Reads an agent's `[agents.config]` table into its configuration type, naming the key at
/// fault.
pub(crate) fn config<T: DeserializeOwned>(agent: &str, table: &toml::Table) -> Result<T> {
    toml::Value::Table(table.clone())
        .try_into()
        .map_err(|e: toml::de::Error| {
            Error::new(
                ErrorCode::Config,
                format!("{agent} configuration: {}", e.message()),
            )
        })
}

fn check(ok: bool, agent: &str, key: &str, why: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::Config,
            format!("{agent} configuration: key `{key}`: {why}"),
        ))
    }
}

fn bid_for(task: &Task, offered: &[(&str, &str)]) -> Bid {
    if offered
        .iter()
        .any(|(cap, ty)| task.capability == *cap && task.input.type_name() == *ty)
    {
        Bid::accept(1.0, Duration::from_millis(1))
    } else {
        Bid::decline()
    }
}

fn unknown(task: &Task) -> AgentError {
    Error::new(
        ErrorCode::NotFound,
        format!("this agent does not offer `{}`", task.capability),
    )
}

/// The symbol's column, or an error naming it.
fn column(view: &View<'_>, symbol: &str) -> Result<usize> {
    view.symbols()
        .iter()
        .position(|s| s == symbol)
        .ok_or_else(|| Error::invalid_input(format!("unknown symbol `{symbol}`")))
}

/// Annualised volatility of the last `window` daily returns (`None` before there are 5).
fn realised_vol(view: &View<'_>, s: usize, window: usize) -> Option<f64> {
    let r = view.returns(s, window);
    if r.len() < 5 {
        return None;
    }
    annual_volatility(&r, TRADING_DAYS)
        .ok()
        .filter(|v| *v > 0.0)
}

/// A proposal id unique per step, symbol and proposer.
fn proposal_id(step: usize, symbol: usize, proposer: u64) -> ProposalId {
    ProposalId(((step as u64) << 20) | ((symbol as u64) << 4) | proposer)
}

fn ballot(verdict: Verdict, confidence: f64, reason: impl Into<String>) -> Ballot {
    Ballot {
        verdict,
        confidence: confidence.clamp(0.0, 1.0),
        reasons: vec![reason.into()],
    }
}

// ------------------------------------------------------------------------------------------
// MarketAnalyst

/// Configuration of [`MarketAnalyst`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalystConfig {
    /// Fast SMA period.
    pub fast: usize,
    /// Slow SMA period.
    pub slow: usize,
    /// RSI period (Wilder).
    pub rsi: usize,
    /// RSI above which a buy signal loses confidence.
    pub overbought: f64,
    /// The fraction of equity a buy proposes (the risk manager sizes it finally).
    pub stake: f64,
    /// Dated headlines (`date,symbol,headline` CSV) to score with VADER; none: technicals only.
    pub headlines: Option<std::path::PathBuf>,
    /// Half-life in days of a headline's weight in the daily sentiment.
    pub half_life: f64,
    /// How much sentiment moves a signal's confidence (confidence × (1 + weight × score)).
    pub sentiment_weight: f64,
    /// Sentiment at or below which a held symbol is proposed for sale and a buy is dropped.
    pub sell_below: f64,
}

impl Default for AnalystConfig {
    fn default() -> Self {
        Self {
            fast: 10,
            slow: 30,
            rsi: 14,
            overbought: 70.0,
            stake: 0.05,
            headlines: None,
            half_life: 3.0,
            sentiment_weight: 0.3,
            sell_below: -0.5,
        }
    }
}

/// Turns technical signals into proposals and votes on everyone's proposals by the trend.
///
/// A buy when SMA(`fast`) crosses above SMA(`slow`) while flat (less confident when RSI is
/// above `overbought`); a sell of the whole position when it crosses below.
#[derive(Debug, Clone, Default)]
pub struct MarketAnalyst {
    cfg: AnalystConfig,
    /// Daily sentiment per symbol, in date order.
    news: std::sync::Arc<HashMap<String, Vec<(chrono::NaiveDate, f64)>>>,
}

/// The signals of one symbol at a step.
#[derive(Debug, Clone, Copy)]
struct Trend {
    fast: f64,
    slow: f64,
    fast_prev: f64,
    slow_prev: f64,
    rsi: Option<f64>,
}

impl MarketAnalyst {
    /// From `[agents.config]`.
    ///
    /// # Errors
    /// `Config` naming a bad or unknown key.
    pub fn from_config(table: &toml::Table) -> Result<Self> {
        let cfg: AnalystConfig = config("analyst", table)?;
        check(cfg.fast >= 1, "analyst", "fast", "must be at least 1")?;
        check(cfg.slow > cfg.fast, "analyst", "slow", "must exceed `fast`")?;
        check(cfg.rsi >= 2, "analyst", "rsi", "must be at least 2")?;
        check(
            cfg.stake > 0.0 && cfg.stake <= 1.0,
            "analyst",
            "stake",
            "must lie in (0, 1]",
        )?;
        check(cfg.half_life > 0.0, "analyst", "half_life", "must be > 0")?;
        check(
            (-1.0..=1.0).contains(&cfg.sell_below),
            "analyst",
            "sell_below",
            "must lie in [-1, 1]",
        )?;
        let mut news: HashMap<String, Vec<(chrono::NaiveDate, f64)>> = HashMap::new();
        if let Some(path) = &cfg.headlines {
            let headlines = load_headlines(path).map_err(|e| {
                Error::new(
                    ErrorCode::Config,
                    format!("analyst configuration: key `headlines`: {}", e.message()),
                )
            })?;
            let scored = SentimentAnalyzer::new().score_all(&headlines);
            for d in aggregate_daily(&scored, Some(cfg.half_life))? {
                news.entry(d.symbol).or_default().push((d.date, d.score));
            }
        }
        Ok(Self {
            cfg,
            news: std::sync::Arc::new(news),
        })
    }

    /// The symbol's sentiment as of the bar's date: the latest daily aggregate on or before
    /// it (headlines dated later are not seen). 0 without headlines.
    fn sentiment(&self, view: &View<'_>, s: usize) -> f64 {
        let Some(days) = self.news.get(&view.symbols()[s]) else {
            return 0.0;
        };
        let today = view.time().date_naive();
        let i = days.partition_point(|(d, _)| *d <= today);
        if i == 0 { 0.0 } else { days[i - 1].1 }
    }

    fn trend(&self, view: &View<'_>, s: usize) -> Option<Trend> {
        let h = view.history(s);
        let (f, sl) = (self.cfg.fast, self.cfg.slow);
        if h.len() < sl + 1 {
            return None;
        }
        let sma = |end: usize, n: usize| {
            h[end - n..end].iter().map(|b| b.close()).sum::<f64>() / n as f64
        };
        let n = h.len();
        let mut rsi = Rsi::new(self.cfg.rsi).ok()?;
        let mut last = None;
        for b in &h[n.saturating_sub(self.cfg.rsi * 6)..] {
            last = rsi.update(b.close());
        }
        Some(Trend {
            fast: sma(n, f),
            slow: sma(n, sl),
            fast_prev: sma(n - 1, f),
            slow_prev: sma(n - 1, sl),
            rsi: last,
        })
    }

    fn analyze(&self, input: &StepInput) -> Result<Proposals> {
        let tape = tape::load(&input.data)?;
        let view = tape.view(input.step);
        let mut out = Proposals::default();
        for s in 0..view.symbols().len() {
            let Some(t) = self.trend(&view, s) else {
                continue;
            };
            let held = input.book.positions.get(s).copied().unwrap_or(0.0);
            let close = view.close(s);
            let crossed_up = t.fast_prev <= t.slow_prev && t.fast > t.slow;
            let crossed_down = t.fast_prev >= t.slow_prev && t.fast < t.slow;
            let mood = self.sentiment(&view, s);
            let proposal = if held > 0.0 && mood <= self.cfg.sell_below && !self.news.is_empty() {
                Some((
                    Side::Sell,
                    held,
                    (0.5 - mood / 2.0).clamp(0.0, 1.0),
                    format!(
                        "sentiment {mood:+.2} at or below {:+.2}",
                        self.cfg.sell_below
                    ),
                ))
            } else if crossed_up
                && held <= 0.0
                && mood <= self.cfg.sell_below
                && !self.news.is_empty()
            {
                None
            } else if crossed_up && held <= 0.0 {
                let strength = ((t.fast - t.slow) / t.slow * 20.0).min(0.4);
                let mut confidence = (0.55 + strength) * (1.0 + self.cfg.sentiment_weight * mood);
                let mut why = format!(
                    "SMA({}) crossed above SMA({})",
                    self.cfg.fast, self.cfg.slow
                );
                if let Some(r) = t.rsi.filter(|r| *r > self.cfg.overbought) {
                    confidence *= 0.6;
                    why.push_str(&format!("; RSI {r:.0} overbought"));
                }
                if mood != 0.0 {
                    why.push_str(&format!("; sentiment {mood:+.2}"));
                }
                let size = self.cfg.stake * input.book.equity / close;
                (size > 0.0).then_some((Side::Buy, size, confidence, why))
            } else if crossed_down && held > 0.0 {
                Some((
                    Side::Sell,
                    held,
                    0.7,
                    format!(
                        "SMA({}) crossed below SMA({})",
                        self.cfg.fast, self.cfg.slow
                    ),
                ))
            } else {
                None
            };
            if let Some((side, size, confidence, why)) = proposal {
                out.proposals.push(TradingProposal::new(
                    proposal_id(input.step, s, 0),
                    view.symbols()[s].clone(),
                    side,
                    size,
                    confidence.clamp(0.0, 1.0),
                    why,
                    "analyst",
                    view.time(),
                )?);
            }
        }
        Ok(out)
    }

    fn vote(&self, req: &VoteRequest) -> Result<Ballots> {
        let tape = tape::load(&req.step.data)?;
        let view = tape.view(req.step.step);
        let mut ballots = Vec::with_capacity(req.proposals.len());
        for p in &req.proposals {
            if p.proposer() == "analyst" {
                ballots.push(ballot(Verdict::Approve, p.confidence(), "my signal"));
                continue;
            }
            let s = column(&view, p.symbol())?;
            let mood = self.sentiment(&view, s);
            if !self.news.is_empty() && mood <= self.cfg.sell_below {
                let b = match p.side() {
                    Side::Buy => ballot(Verdict::Reject, 0.8, format!("sentiment {mood:+.2}")),
                    Side::Sell => ballot(Verdict::Approve, 0.8, format!("sentiment {mood:+.2}")),
                };
                ballots.push(b);
                continue;
            }
            let b = match self.trend(&view, s) {
                None => ballot(Verdict::Abstain, 0.0, "not enough history for a trend"),
                Some(t) => {
                    let up = t.fast > t.slow;
                    let strength = (0.5 + ((t.fast - t.slow) / t.slow).abs() * 20.0).min(0.9);
                    match (p.side(), up) {
                        (Side::Buy, true) | (Side::Sell, false) => {
                            ballot(Verdict::Approve, strength, "the trend agrees")
                        }
                        _ => ballot(Verdict::Reject, strength, "against the trend"),
                    }
                }
            };
            ballots.push(b);
        }
        Ok(Ballots {
            voter: "analyst".into(),
            ballots,
        })
    }
}

impl Agent for MarketAnalyst {
    fn capabilities(&self) -> Vec<Capability> {
        vec![capability(ANALYZE), capability(VOTE)]
    }

    async fn can_handle(&self, task: &Task) -> Bid {
        bid_for(
            task,
            &[(ANALYZE, StepInput::TYPE), (VOTE, VoteRequest::TYPE)],
        )
    }

    async fn execute(
        &self,
        task: Task,
        _cx: &Context,
    ) -> std::result::Result<TaskOutcome, AgentError> {
        match task.capability.as_str() {
            ANALYZE => TaskOutcome::new(&task, &self.analyze(&task.input()?)?),
            VOTE => TaskOutcome::new(&task, &self.vote(&task.input()?)?),
            _ => Err(unknown(&task)),
        }
    }
}

// ------------------------------------------------------------------------------------------
// RiskManager

/// Configuration of [`RiskManager`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    /// Largest |position| / equity.
    pub max_position: f64,
    /// Largest gross exposure / equity.
    pub max_gross: f64,
    /// The drawdown (a positive fraction) that pulls the kill switch.
    pub max_drawdown: f64,
    /// Annualised volatility above which buys are refused.
    pub max_volatility: f64,
    /// Each new position's annualised volatility budget (volatility targeting).
    pub target_volatility: f64,
    /// Days of returns for volatility.
    pub vol_window: usize,
    /// ATR period of the stops.
    pub atr: usize,
    /// Stop-loss distance in ATRs.
    pub stop_atr: f64,
    /// Take-profit distance in ATRs.
    pub take_atr: f64,
    /// The largest 1-day historical VaR (95 %) of the book, a fraction of equity; beyond it
    /// buys are refused.
    pub max_var: f64,
    /// Days of history the book's VaR is measured over.
    pub var_window: usize,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            max_position: 0.15,
            max_gross: 1.0,
            max_drawdown: 0.25,
            max_volatility: 0.8,
            target_volatility: 0.02,
            vol_window: 20,
            atr: 14,
            stop_atr: 3.0,
            take_atr: 6.0,
            max_var: 0.03,
            var_window: 250,
        }
    }
}

/// Sizes positions by volatility, sets ATR stops and take-profits, enforces the limits
/// (position, gross exposure, drawdown), votes, and pulls the kill switch on a drawdown breach.
#[derive(Debug, Clone)]
pub struct RiskManager {
    cfg: RiskConfig,
    limits: RiskLimits,
    stops: AtrStops,
}

impl RiskManager {
    /// From `[agents.config]`.
    ///
    /// # Errors
    /// `Config` naming a bad or unknown key.
    pub fn from_config(table: &toml::Table) -> Result<Self> {
        let cfg: RiskConfig = config("risk", table)?;
        let unit = |v: f64| v > 0.0 && v <= 1.0;
        check(
            unit(cfg.max_position),
            "risk",
            "max_position",
            "must lie in (0, 1]",
        )?;
        check(cfg.max_gross > 0.0, "risk", "max_gross", "must be > 0")?;
        check(
            unit(cfg.max_drawdown),
            "risk",
            "max_drawdown",
            "must lie in (0, 1]",
        )?;
        check(
            cfg.max_volatility > 0.0,
            "risk",
            "max_volatility",
            "must be > 0",
        )?;
        check(
            cfg.target_volatility > 0.0,
            "risk",
            "target_volatility",
            "must be > 0",
        )?;
        check(
            cfg.vol_window >= 5,
            "risk",
            "vol_window",
            "must be at least 5",
        )?;
        check(cfg.atr >= 1, "risk", "atr", "must be at least 1")?;
        check(cfg.max_var > 0.0, "risk", "max_var", "must be > 0")?;
        check(
            cfg.var_window >= 20,
            "risk",
            "var_window",
            "must be at least 20 days",
        )?;
        let limits = RiskLimits::new()
            .with_max_position(cfg.max_position)?
            .with_max_gross_leverage(cfg.max_gross)?
            .with_max_drawdown(cfg.max_drawdown)?
            .with_max_var_loss(cfg.max_var)?;
        let stops = AtrStops::new(cfg.stop_atr, cfg.take_atr).map_err(|e| {
            Error::new(
                ErrorCode::Config,
                format!("risk configuration: {}", e.message()),
            )
        })?;
        Ok(Self { cfg, limits, stops })
    }

    fn atr(&self, view: &View<'_>, s: usize) -> Option<f64> {
        let h = view.history(s);
        let mut atr = Atr::new(self.cfg.atr).ok()?;
        let mut last = None;
        for b in &h[h.len().saturating_sub(self.cfg.atr * 6)..] {
            last = atr.update(b.high(), b.low(), b.close());
        }
        last
    }

    /// The book's 1-day historical VaR at 95 % as a fraction of equity (a loss is negative):
    /// today's positions replayed over the last `var_window` days. `None` when flat or early.
    fn var(&self, view: &View<'_>, book: &BookView) -> Option<f64> {
        if book.equity <= 0.0 || book.positions.iter().all(|q| *q == 0.0) {
            return None;
        }
        let mut pnl: Vec<f64> = Vec::new();
        for (s, q) in book.positions.iter().enumerate() {
            if *q == 0.0 {
                continue;
            }
            let w = q * view.close(s) / book.equity;
            let r = view.returns(s, self.cfg.var_window);
            if pnl.is_empty() {
                pnl = vec![0.0; r.len()];
            }
            for (p, x) in pnl.iter_mut().zip(&r) {
                *p += w * x;
            }
        }
        if pnl.len() < 20 {
            return None;
        }
        cadre_pack_trading::risk::historical_var(&pnl, 0.05).ok()
    }

    fn gross(view: &View<'_>, book: &BookView) -> f64 {
        book.positions
            .iter()
            .enumerate()
            .map(|(s, q)| (q * view.close(s)).abs())
            .sum::<f64>()
    }

    fn vote(&self, req: &VoteRequest) -> Result<Ballots> {
        let tape = tape::load(&req.step.data)?;
        let view = tape.view(req.step.step);
        let book = &req.step.book;
        let equity = book.equity.max(f64::MIN_POSITIVE);
        let gross = Self::gross(&view, book) / equity;
        let var = self.var(&view, book);
        let mut ballots = Vec::with_capacity(req.proposals.len());
        for p in &req.proposals {
            let s = column(&view, p.symbol())?;
            let b = match p.side() {
                Side::Sell => ballot(Verdict::Approve, 0.9, "reduces risk"),
                Side::Buy => {
                    let held = book.positions.get(s).copied().unwrap_or(0.0);
                    let fraction = held * view.close(s) / equity;
                    match realised_vol(&view, s, self.cfg.vol_window) {
                        _ if book.drawdown() <= -self.cfg.max_drawdown => {
                            ballot(Verdict::Reject, 1.0, "drawdown limit reached")
                        }
                        _ if fraction >= self.cfg.max_position => ballot(
                            Verdict::Reject,
                            0.9,
                            format!("position already {:.1}% of equity", fraction * 100.0),
                        ),
                        _ if var.is_some_and(|v| -v > self.cfg.max_var) => ballot(
                            Verdict::Reject,
                            0.9,
                            format!(
                                "the book's 1-day VaR {:.2}% is beyond {:.2}%",
                                -var.unwrap_or_default() * 100.0,
                                self.cfg.max_var * 100.0
                            ),
                        ),
                        _ if gross >= self.cfg.max_gross => ballot(
                            Verdict::Reject,
                            0.9,
                            format!("gross exposure {:.0}% at its limit", gross * 100.0),
                        ),
                        None => ballot(Verdict::Abstain, 0.0, "not enough history for volatility"),
                        Some(v) if v > self.cfg.max_volatility => ballot(
                            Verdict::Reject,
                            0.8,
                            format!(
                                "volatility {:.0}% above {:.0}%",
                                v * 100.0,
                                self.cfg.max_volatility * 100.0
                            ),
                        ),
                        Some(v) => ballot(
                            Verdict::Approve,
                            (1.0 - v / self.cfg.max_volatility).clamp(0.2, 0.9),
                            format!("volatility {:.0}% within limits", v * 100.0),
                        ),
                    }
                }
            };
            ballots.push(b);
        }
        Ok(Ballots {
            voter: "risk".into(),
            ballots,
        })
    }

    fn size(&self, req: &SizeRequest) -> Result<SizedOrders> {
        let tape = tape::load(&req.step.data)?;
        let view = tape.view(req.step.step);
        let book = &req.step.book;
        let equity = book.equity;
        let mut gross = Self::gross(&view, book);
        let mut out = SizedOrders::default();
        let mut id = req.next_order;
        // Units already ordered in this request, per symbol: two approved proposals on one
        // symbol (the analyst's and the optimiser's) never sell more than is held together.
        let mut ordered: HashMap<usize, f64> = HashMap::new();
        for p in &req.approved {
            let s = column(&view, p.symbol())?;
            let close = view.close(s);
            let held = book.positions.get(s).copied().unwrap_or(0.0)
                + ordered.get(&s).copied().unwrap_or(0.0);
            let (quantity, exits) = match p.side() {
                Side::Sell => (p.size().min(held.max(0.0)), None),
                Side::Buy => {
                    let vol = realised_vol(&view, s, self.cfg.vol_window)
                        .unwrap_or(self.cfg.max_volatility);
                    let by_vol = volatility_target(self.cfg.target_volatility, vol, 1.0)
                        .map(|f| f * equity)
                        .unwrap_or(0.0);
                    let by_position = self.cfg.max_position * equity - held * close;
                    let by_gross = self.cfg.max_gross * equity - gross;
                    let by_target = req
                        .targets
                        .as_ref()
                        .and_then(|t| t.get(s))
                        .map_or(f64::INFINITY, |w| (w * equity - held * close).max(0.0));
                    let notional = (p.size() * close)
                        .min(by_vol)
                        .min(by_position)
                        .min(by_gross)
                        .min(by_target.max(0.25 * p.size() * close));
                    let exits = self.atr(&view, s).and_then(|atr| {
                        self.stops
                            .levels(Direction::Long, close, atr)
                            .ok()
                            .map(|l| Levels {
                                stop_loss: l.stop_loss,
                                take_profit: l.take_profit,
                            })
                    });
                    if notional < p.size() * close {
                        out.notes.push(format!(
                            "{} cut from {:.0} to {:.0} units by the limits",
                            p.symbol(),
                            p.size(),
                            (notional / close).max(0.0)
                        ));
                    }
                    ((notional / close).max(0.0).floor(), exits)
                }
            };
            if quantity < 1.0 {
                out.notes.push(format!("{} sized to nothing", p.symbol()));
                continue;
            }
            if p.side() == Side::Buy {
                gross += quantity * close;
            }
            *ordered.entry(s).or_insert(0.0) += p.side().sign() * quantity;
            out.orders.push(Order::new(
                OrderId(id),
                p.symbol(),
                p.side(),
                quantity,
                OrderKind::Market,
                close,
                view.time(),
            )?);
            out.exits.push(exits);
            id += 1;
        }
        Ok(out)
    }

    fn check(&self, input: &StepInput) -> Result<Proposals> {
        let tape = tape::load(&input.data)?;
        let view = tape.view(input.step);
        let book = &input.book;
        let mut out = Proposals::default();
        // Stops and take-profits touched by this bar exit at the next open.
        for (s, held) in book.positions.iter().enumerate() {
            if *held <= 0.0 {
                continue;
            }
            let Some(Some(l)) = book.exits.get(s) else {
                continue;
            };
            let bar = view.bar(s);
            let why = if bar.low() <= l.stop_loss {
                format!(
                    "stop-loss {:.2} touched (low {:.2})",
                    l.stop_loss,
                    bar.low()
                )
            } else if bar.high() >= l.take_profit {
                format!(
                    "take-profit {:.2} touched (high {:.2})",
                    l.take_profit,
                    bar.high()
                )
            } else {
                continue;
            };
            out.proposals.push(TradingProposal::new(
                proposal_id(input.step, s, 2),
                view.symbols()[s].clone(),
                Side::Sell,
                *held,
                1.0,
                why,
                "risk",
                view.time(),
            )?);
        }
        let exposures: Vec<Exposure<'_>> = book
            .positions
            .iter()
            .enumerate()
            .filter(|(_, q)| **q != 0.0)
            .map(|(s, q)| Exposure {
                symbol: view.symbols()[s].as_str(),
                notional: q * view.close(s),
            })
            .collect();
        if book.equity > 0.0 {
            let breaches = self.limits.check(&PortfolioState {
                equity: book.equity,
                positions: &exposures,
                var: self.var(&view, book),
                drawdown: Some(book.drawdown()),
            })?;
            for b in breaches {
                if let Breach::Drawdown { .. } = b {
                    out.halt = true;
                }
                if let Breach::Position { symbol, .. } = &b {
                    // Trim back to the limit.
                    let s = column(&view, symbol)?;
                    let close = view.close(s);
                    let excess = book.positions[s] - self.cfg.max_position * book.equity / close;
                    let already = out.proposals.iter().any(|p| p.symbol() == symbol.as_str());
                    if excess >= 1.0 && !already {
                        out.proposals.push(TradingProposal::new(
                            proposal_id(input.step, s, 2),
                            symbol.clone(),
                            Side::Sell,
                            excess.floor(),
                            0.9,
                            format!("trim to the position limit: {b}"),
                            "risk",
                            view.time(),
                        )?);
                    }
                }
                out.breaches.push(b.to_string());
            }
        } else {
            out.halt = true;
            out.breaches.push("equity is not positive".into());
        }
        Ok(out)
    }
}

impl Agent for RiskManager {
    fn capabilities(&self) -> Vec<Capability> {
        vec![capability(VOTE), capability(SIZE), capability(RISK_CHECK)]
    }

    async fn can_handle(&self, task: &Task) -> Bid {
        bid_for(
            task,
            &[
                (VOTE, VoteRequest::TYPE),
                (SIZE, SizeRequest::TYPE),
                (RISK_CHECK, StepInput::TYPE),
            ],
        )
    }

    async fn execute(
        &self,
        task: Task,
        _cx: &Context,
    ) -> std::result::Result<TaskOutcome, AgentError> {
        match task.capability.as_str() {
            VOTE => TaskOutcome::new(&task, &self.vote(&task.input()?)?),
            SIZE => TaskOutcome::new(&task, &self.size(&task.input()?)?),
            RISK_CHECK => TaskOutcome::new(&task, &self.check(&task.input()?)?),
            _ => Err(unknown(&task)),
        }
    }
}

// ------------------------------------------------------------------------------------------
// PortfolioOptimizer

/// What [`PortfolioOptimizer`] optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// Minimum volatility.
    MinVol,
    /// Maximum Sharpe ratio.
    MaxSharpe,
}

/// Configuration of [`PortfolioOptimizer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Trailing days of returns the estimates use.
    pub window: usize,
    /// The objective.
    pub objective: Objective,
    /// Largest weight per symbol.
    pub max_weight: f64,
    /// Weights below this count as "not in the portfolio" when voting.
    pub min_weight: f64,
    /// The risk-free rate (annual) for max Sharpe.
    pub risk_free: f64,
    /// A held weight this far above its target is trimmed at a rebalance.
    pub drift: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            window: 252,
            objective: Objective::MinVol,
            max_weight: 0.2,
            min_weight: 0.02,
            risk_free: 0.02,
            drift: 0.05,
        }
    }
}

/// Computes target weights by mean-variance optimisation (Ledoit-Wolf covariance) over a
/// trailing window at each rebalance, proposes trims of overweight positions, and votes for
/// diversification.
#[derive(Debug, Clone, Default)]
pub struct PortfolioOptimizer {
    cfg: OptimizerConfig,
}

impl PortfolioOptimizer {
    /// From `[agents.config]`.
    ///
    /// # Errors
    /// `Config` naming a bad or unknown key.
    pub fn from_config(table: &toml::Table) -> Result<Self> {
        let cfg: OptimizerConfig = config("portfolio", table)?;
        check(
            cfg.window >= 20,
            "portfolio",
            "window",
            "must be at least 20 days",
        )?;
        check(
            cfg.max_weight > 0.0 && cfg.max_weight <= 1.0,
            "portfolio",
            "max_weight",
            "must lie in (0, 1]",
        )?;
        check(
            cfg.min_weight >= 0.0,
            "portfolio",
            "min_weight",
            "must be >= 0",
        )?;
        check(cfg.drift > 0.0, "portfolio", "drift", "must be > 0")?;
        Ok(Self { cfg })
    }

    fn targets(&self, view: &View<'_>) -> Result<Option<Vec<f64>>> {
        let n = view.symbols().len();
        if view.step() < self.cfg.window || n < 2 {
            return Ok(None);
        }
        // Fewer symbols than 1 / max_weight could not be fully invested: the cap gives way.
        let max_weight = self.cfg.max_weight.max(1.0 / n as f64);
        let prices: Vec<Vec<f64>> = (0..n)
            .map(|s| {
                let h = view.history(s);
                h[h.len() - self.cfg.window - 1..]
                    .iter()
                    .map(|b| b.close())
                    .collect()
            })
            .collect();
        let returns = returns_from_prices(&prices)?;
        let mu = expected_returns(&returns, ReturnMethod::Mean, TRADING_DAYS)?;
        let cov = ledoit_wolf(&returns, TRADING_DAYS)?;
        let opt = Optimizer::new(mu, cov)?.with_bounds(0.0, max_weight)?;
        let portfolio = match self.cfg.objective {
            Objective::MinVol => opt.min_volatility(),
            Objective::MaxSharpe => opt
                .max_sharpe(self.cfg.risk_free)
                .or_else(|_| opt.min_volatility()),
        }?;
        Ok(Some(portfolio.weights))
    }

    fn rebalance(&self, input: &StepInput) -> Result<Proposals> {
        let tape = tape::load(&input.data)?;
        let view = tape.view(input.step);
        let Some(targets) = self.targets(&view)? else {
            return Ok(Proposals::default());
        };
        let mut out = Proposals::default();
        let equity = input.book.equity;
        for (s, held) in input.book.positions.iter().enumerate() {
            let close = view.close(s);
            let weight = held * close / equity;
            let excess = weight - targets[s];
            // Held positions drift back toward their targets both ways; new positions are the
            // analyst's to open.
            let (side, units, why) = if *held > 0.0 && excess > self.cfg.drift {
                (
                    Side::Sell,
                    (excess * equity / close).floor().min(*held),
                    "above",
                )
            } else if *held > 0.0 && -excess > self.cfg.drift {
                (Side::Buy, (-excess * equity / close).floor(), "below")
            } else {
                continue;
            };
            if units >= 1.0 {
                out.proposals.push(TradingProposal::new(
                    proposal_id(input.step, s, 1),
                    view.symbols()[s].clone(),
                    side,
                    units,
                    0.6,
                    format!(
                        "rebalance: weight {:.1}% {why} target {:.1}%",
                        weight * 100.0,
                        targets[s] * 100.0
                    ),
                    "portfolio",
                    view.time(),
                )?);
            }
        }
        out.targets = Some(targets);
        Ok(out)
    }

    fn vote(&self, req: &VoteRequest) -> Result<Ballots> {
        let tape = tape::load(&req.step.data)?;
        let view = tape.view(req.step.step);
        let book = &req.step.book;
        let mut ballots = Vec::with_capacity(req.proposals.len());
        for p in &req.proposals {
            let s = column(&view, p.symbol())?;
            let Some(targets) = &req.targets else {
                ballots.push(ballot(Verdict::Abstain, 0.0, "no target weights yet"));
                continue;
            };
            let target = targets.get(s).copied().unwrap_or(0.0);
            let weight = book.positions.get(s).copied().unwrap_or(0.0) * view.close(s)
                / book.equity.max(f64::MIN_POSITIVE);
            let b = match p.side() {
                Side::Buy if target >= self.cfg.min_weight => ballot(
                    Verdict::Approve,
                    0.5 + 0.5 * (target / self.cfg.max_weight).min(1.0),
                    format!("target weight {:.1}%", target * 100.0),
                ),
                Side::Buy => ballot(
                    Verdict::Reject,
                    0.6,
                    format!(
                        "target weight only {:.1}%: concentrates risk",
                        target * 100.0
                    ),
                ),
                Side::Sell if weight > target => ballot(
                    Verdict::Approve,
                    0.6,
                    format!(
                        "weight {:.1}% above target {:.1}%",
                        weight * 100.0,
                        target * 100.0
                    ),
                ),
                Side::Sell => ballot(Verdict::Abstain, 0.0, "weight at or below target"),
            };
            ballots.push(b);
        }
        Ok(Ballots {
            voter: "portfolio".into(),
            ballots,
        })
    }
}

impl Agent for PortfolioOptimizer {
    fn capabilities(&self) -> Vec<Capability> {
        vec![capability(REBALANCE), capability(VOTE)]
    }

    async fn can_handle(&self, task: &Task) -> Bid {
        bid_for(
            task,
            &[(REBALANCE, StepInput::TYPE), (VOTE, VoteRequest::TYPE)],
        )
    }

    async fn execute(
        &self,
        task: Task,
        _cx: &Context,
    ) -> std::result::Result<TaskOutcome, AgentError> {
        match task.capability.as_str() {
            REBALANCE => {
                let input: StepInput = task.input()?;
                let out = tokio::task::block_in_place(|| self.rebalance(&input))?;
                TaskOutcome::new(&task, &out)
            }
            VOTE => TaskOutcome::new(&task, &self.vote(&task.input()?)?),
            _ => Err(unknown(&task)),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Execution

/// Routes orders to a [`SimBroker`] per run and reports each bar's fills and the execution
/// quality. The broker sessions live in the process (keyed by run id) and are shared by the
/// kind's replicas, so a backtest's execution runs on one node.
#[derive(Debug, Clone, Default)]
pub struct Execution;

type Sessions = Mutex<HashMap<String, Box<dyn Broker + Send>>>;

fn sessions() -> &'static Sessions {
    static SESSIONS: OnceLock<Sessions> = OnceLock::new();
    SESSIONS.get_or_init(Default::default)
}

impl Execution {
    /// From `[agents.config]` (no keys yet: the broker's models come with each run).
    ///
    /// # Errors
    /// `Config` naming an unknown key.
    pub fn from_config(table: &toml::Table) -> Result<Self> {
        if let Some(key) = table.keys().next() {
            return Err(Error::new(
                ErrorCode::Config,
                format!(
                    "execution configuration: key `{key}`: unknown key; the broker's models are the desk's (`commission_bps`, `slippage_bps`, ...)"
                ),
            ));
        }
        Ok(Self)
    }

    fn step(req: &ExecuteStep) -> Result<Executed> {
        let tape = tape::load(&req.data)?;
        let view = tape.view(req.step);
        let mut map = sessions()
            .lock()
            .map_err(|_| Error::internal("the broker sessions' lock is poisoned"))?;
        if !map.contains_key(&req.run) {
            let broker: Box<dyn Broker + Send> = match req.paper {
                Some(pace) => Box::new(PaperBroker::new(req.broker, pace)?),
                None => Box::new(SimBroker::new(req.broker)?),
            };
            map.insert(req.run.clone(), broker);
        }
        let broker = map.get_mut(&req.run).expect("inserted above");
        for o in &req.orders {
            broker.submit(o.clone())?;
        }
        let mut fills = Vec::new();
        for (s, symbol) in view.symbols().iter().enumerate() {
            broker.on_bar(symbol, view.bar(s), &mut fills)?;
        }
        let out = Executed {
            fills,
            working: broker.working(),
            quality: *broker.quality(),
        };
        if req.last {
            map.remove(&req.run);
        }
        Ok(out)
    }
}

impl Agent for Execution {
    fn capabilities(&self) -> Vec<Capability> {
        vec![capability(EXECUTE)]
    }

    async fn can_handle(&self, task: &Task) -> Bid {
        bid_for(task, &[(EXECUTE, ExecuteStep::TYPE)])
    }

    async fn execute(
        &self,
        task: Task,
        _cx: &Context,
    ) -> std::result::Result<TaskOutcome, AgentError> {
        match task.capability.as_str() {
            EXECUTE => TaskOutcome::new(&task, &Self::step(&task.input()?)?),
            _ => Err(unknown(&task)),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Pricing

/// One option position of the [`Pricing`] agent's book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionPosition {
    /// The underlying symbol.
    pub symbol: String,
    /// `call` or `put`.
    pub kind: CallPut,
    /// The strike as a fraction of the underlying's first close (0.95 = 5% out of the money
    /// for a put).
    pub moneyness: f64,
    /// Expiry, in trading days from the first step.
    pub expiry_days: usize,
    /// Contracts (negative: written).
    pub quantity: f64,
    /// Units of the underlying per contract.
    #[serde(default = "default_multiplier")]
    pub multiplier: f64,
}

/// Call or put, as a book entry names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallPut {
    /// A call.
    Call,
    /// A put.
    Put,
}

impl From<CallPut> for OptionKind {
    fn from(k: CallPut) -> Self {
        match k {
            CallPut::Call => OptionKind::Call,
            CallPut::Put => OptionKind::Put,
        }
    }
}

fn default_multiplier() -> f64 {
    100.0
}

/// Configuration of [`Pricing`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PricingConfig {
    /// The options book.
    pub book: Vec<OptionPosition>,
    /// The risk-free rate (continuous, annual).
    pub rate: f64,
    /// Days of returns for the volatility the book is valued at.
    pub vol_window: usize,
    /// Largest |net delta| notional per symbol (stock plus options) as a fraction of equity.
    pub max_delta: f64,
    /// Largest |vega| of the book (currency per 1.00 of volatility).
    pub max_vega: f64,
}

impl Default for PricingConfig {
    fn default() -> Self {
        Self {
            book: Vec::new(),
            rate: 0.02,
            vol_window: 20,
            max_delta: 0.2,
            max_vega: 1.0e6,
        }
    }
}

/// Values an options book (Black-Scholes-Merton, volatility realised over a trailing window)
/// and enforces Greeks limits: it votes against trades that would push a symbol's net delta
/// (stock plus options) past `max_delta` of equity, and reports the book's Greeks.
///
/// **The template agent**: copy it to write one. It uses every facility the runtime gives:
/// - *retries*: a valuation that fails for a reason worth retrying returns a retryable error
///   (`Unavailable`), and the node runs the task again after a backoff, up to the crew's
///   `task_attempts`; bad input (`InvalidInput`) is answered at once;
/// - *circuit breaker*: valuations run inside a [`CircuitBreaker`]; after repeated failures it
///   opens and the agent answers `circuit_open` at once instead of working on a broken book,
///   then probes again after its cool-down;
/// - *metrics*: `cadre_desk_options_value`, `cadre_desk_options_delta`,
///   `cadre_desk_options_vega` (gauges) and `cadre_desk_pricing_valuations_total{outcome}`;
/// - *events*: every Greeks limit breach is published on the bus topic `desk.events`
///   (a `desk.greeks_breached` event) for anyone to subscribe to;
/// - *audit*: the breaches go back in [`BookGreeks::breaches`], which the coordinator records
///   on the audit trail (`audit.greeks_breach`), with the run's conversation id.
#[derive(Debug, Clone)]
pub struct Pricing {
    cfg: PricingConfig,
    breaker: CircuitBreaker,
}

impl Default for Pricing {
    fn default() -> Self {
        Self {
            cfg: PricingConfig::default(),
            breaker: Self::breaker(),
        }
    }
}

/// A Greeks limit breach, as published on the bus topic `desk.events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GreeksBreached {
    /// The step valued.
    pub step: usize,
    /// What was breached.
    pub breach: String,
}

impl Message for GreeksBreached {
    const TYPE: &'static str = "desk.greeks_breached";
}

/// The bus topic of the desk's events.
pub const EVENTS_TOPIC: &str = "desk.events";

/// One contract valued at a step.
#[derive(Debug, Clone, Copy)]
struct Valued {
    symbol: usize,
    units: f64,
    price: f64,
    delta: f64,
    gamma: f64,
    vega: f64,
    theta: f64,
}

impl Pricing {
    /// From `[agents.config]`.
    ///
    /// # Errors
    /// `Config` naming a bad or unknown key (`book[i].moneyness`, ...).
    pub fn from_config(table: &toml::Table) -> Result<Self> {
        let cfg: PricingConfig = config("pricing", table)?;
        for (i, o) in cfg.book.iter().enumerate() {
            check(
                o.moneyness > 0.0,
                "pricing",
                &format!("book[{i}].moneyness"),
                "must be > 0",
            )?;
            check(
                o.expiry_days > 0,
                "pricing",
                &format!("book[{i}].expiry_days"),
                "must be > 0",
            )?;
            check(
                o.quantity.is_finite(),
                "pricing",
                &format!("book[{i}].quantity"),
                "must be finite",
            )?;
            check(
                o.multiplier > 0.0,
                "pricing",
                &format!("book[{i}].multiplier"),
                "must be > 0",
            )?;
        }
        check(
            cfg.vol_window >= 5,
            "pricing",
            "vol_window",
            "must be at least 5",
        )?;
        check(cfg.max_delta > 0.0, "pricing", "max_delta", "must be > 0")?;
        check(cfg.max_vega > 0.0, "pricing", "max_vega", "must be > 0")?;
        Ok(Self {
            cfg,
            breaker: Self::breaker(),
        })
    }

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(
            "desk.pricing",
            BreakerConfig {
                consecutive_failures: 3,
                cool_down: Duration::from_secs(5),
                // A book that cannot be valued (a failed Greek) is this agent's own failure.
                is_failure: |_| true,
                ..BreakerConfig::default()
            },
        )
    }

    /// Values the book through the breaker; a failure is retryable (the runtime retries it).
    async fn guarded_value(&self, view: &View<'_>) -> Result<Vec<Valued>> {
        let out = self
            .breaker
            .call(async {
                self.value(view).map_err(|e| {
                    Error::new(
                        ErrorCode::Unavailable,
                        format!("valuing the options book: {}", e.message()),
                    )
                    .with_retryable(true)
                })
            })
            .await;
        metrics::counter!(
            "cadre_desk_pricing_valuations_total",
            "outcome" => if out.is_ok() { "ok" } else { "failed" }
        )
        .increment(1);
        out
    }

    fn value(&self, view: &View<'_>) -> Result<Vec<Valued>> {
        let mut out = Vec::new();
        for o in &self.cfg.book {
            let s = column(view, &o.symbol).map_err(|e| {
                Error::new(
                    ErrorCode::Config,
                    format!("pricing configuration: {}", e.message()),
                )
            })?;
            if view.step() >= o.expiry_days {
                continue;
            }
            let expiry = (o.expiry_days - view.step()) as f64 / TRADING_DAYS;
            let strike = o.moneyness * view.history(s)[0].close();
            let vol = realised_vol(view, s, self.cfg.vol_window)
                .unwrap_or(0.2)
                .max(0.05);
            let contract = OptionContract::new(o.kind.into(), strike, expiry)?;
            let market = MarketInputs::new(view.close(s), self.cfg.rate, 0.0, vol)?;
            let g = greeks(&contract, &market)?;
            out.push(Valued {
                symbol: s,
                units: o.quantity * o.multiplier,
                price: price(&contract, &market),
                delta: g.delta(),
                gamma: g.gamma(),
                vega: g.vega(),
                theta: g.theta(),
            });
        }
        Ok(out)
    }

    async fn price_book(&self, input: &StepInput, cx: &Context) -> Result<BookGreeks> {
        let tape = tape::load(&input.data)?;
        let view = tape.view(input.step);
        let valued = self.guarded_value(&view).await?;
        let mut g = BookGreeks {
            step: input.step,
            contracts: valued.len(),
            ..BookGreeks::default()
        };
        for v in &valued {
            g.value += v.units * v.price;
            g.delta += v.units * v.delta;
            g.gamma += v.units * v.gamma;
            g.vega += v.units * v.vega;
            g.theta += v.units * v.theta;
        }
        if g.vega.abs() > self.cfg.max_vega {
            g.breaches.push(format!(
                "book vega {:.0} beyond {:.0}",
                g.vega, self.cfg.max_vega
            ));
        }
        metrics::gauge!("cadre_desk_options_value").set(g.value);
        metrics::gauge!("cadre_desk_options_delta").set(g.delta);
        metrics::gauge!("cadre_desk_options_vega").set(g.vega);
        if let Some(bus) = cx.get::<std::sync::Arc<dyn cadre_bus::Bus>>() {
            for breach in &g.breaches {
                let event = GreeksBreached {
                    step: input.step,
                    breach: breach.clone(),
                };
                let topic = cadre_core::Topic::new(EVENTS_TOPIC)?;
                let envelope = cadre_core::Envelope::builder(
                    cx.agent_id().clone(),
                    cadre_core::Recipient::Topic(topic.clone()),
                    cadre_core::MessageKind::Event,
                )
                .payload(&event)?
                .conversation(cx.conversation_id())
                .build();
                bus.publish(&topic, envelope).await?;
            }
        }
        Ok(g)
    }

    async fn vote(&self, req: &VoteRequest) -> Result<Ballots> {
        let tape = tape::load(&req.step.data)?;
        let view = tape.view(req.step.step);
        let valued = self.guarded_value(&view).await?;
        let book = &req.step.book;
        let equity = book.equity.max(f64::MIN_POSITIVE);
        let mut ballots = Vec::with_capacity(req.proposals.len());
        for p in &req.proposals {
            let s = column(&view, p.symbol())?;
            let options_delta: f64 = valued
                .iter()
                .filter(|v| v.symbol == s)
                .map(|v| v.units * v.delta)
                .sum();
            let held = book.positions.get(s).copied().unwrap_or(0.0);
            let after = held + p.side().sign() * p.size() + options_delta;
            let fraction = (after * view.close(s)).abs() / equity;
            let b = if fraction > self.cfg.max_delta && p.side() == Side::Buy {
                ballot(
                    Verdict::Reject,
                    0.8,
                    format!(
                        "net delta would be {:.1}% of equity, limit {:.1}%",
                        fraction * 100.0,
                        self.cfg.max_delta * 100.0
                    ),
                )
            } else {
                ballot(
                    Verdict::Approve,
                    0.5,
                    format!("net delta {:.1}% of equity within limits", fraction * 100.0),
                )
            };
            ballots.push(b);
        }
        Ok(Ballots {
            voter: "pricing".into(),
            ballots,
        })
    }
}

impl Agent for Pricing {
    fn capabilities(&self) -> Vec<Capability> {
        vec![capability(PRICE), capability(VOTE)]
    }

    async fn can_handle(&self, task: &Task) -> Bid {
        bid_for(task, &[(PRICE, StepInput::TYPE), (VOTE, VoteRequest::TYPE)])
    }

    async fn execute(
        &self,
        task: Task,
        cx: &Context,
    ) -> std::result::Result<TaskOutcome, AgentError> {
        match task.capability.as_str() {
            PRICE => TaskOutcome::new(&task, &self.price_book(&task.input()?, cx).await?),
            VOTE => TaskOutcome::new(&task, &self.vote(&task.input()?).await?),
            _ => Err(unknown(&task)),
        }
    }
}
