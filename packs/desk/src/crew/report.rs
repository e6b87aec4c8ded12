//! The run's report: figures, the comparison of fixed and adaptive weights, the agents'
//! accuracy, execution quality, a Monte Carlo stress of the final book, and the series behind
//! the plots. Written as `report.json` and `report.html` (SVG plots) in the run folder.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cadre_core::{Error, Result};
use cadre_pack_trading::montecarlo::{GbmModel, Holding, Simulation};
use cadre_pack_trading::risk;
use serde::{Deserialize, Serialize};

use super::desk::DeskConfig;
use super::messages::{BookGreeks, BookView};
use super::tape::{DataSpec, Tape};
use crate::broker::ExecutionQuality;
use crate::model::{Decision, Outcome, TradingProposal};

const YEAR: f64 = 252.0;
const WEIGHT_SAMPLE: usize = 21;

/// A voter's record in one pass.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AgentStats {
    /// Ballots cast.
    pub votes: usize,
    /// Non-abstaining votes whose outcome was judged.
    pub judged: usize,
    /// Judged votes that were right (approve and the trade gained, or reject and it lost).
    pub right: usize,
}

/// One vote as the decision log shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoteRecord {
    /// The voter.
    pub agent: String,
    /// `approve`, `reject` or `abstain`.
    pub verdict: String,
    /// Its confidence.
    pub confidence: f64,
    /// Its weight at the time.
    pub weight: f64,
    /// Its reasons.
    pub reasons: Vec<String>,
}

/// One decision of the desk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// The step.
    pub step: usize,
    /// The date.
    pub date: String,
    /// The symbol.
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: String,
    /// Proposed units.
    pub size: f64,
    /// Who proposed it.
    pub proposer: String,
    /// Why.
    pub rationale: String,
    /// `approved`, `rejected`, `manual_review`, or `mandatory` (a risk exit).
    pub outcome: String,
    /// The consensus score.
    pub score: f64,
    /// The reason of the outcome.
    pub reason: String,
    /// Every vote.
    pub votes: Vec<VoteRecord>,
}

impl DecisionRecord {
    pub(crate) fn voted(
        step: usize,
        time: &chrono::DateTime<chrono::Utc>,
        p: &TradingProposal,
        d: &Decision,
    ) -> Self {
        Self {
            step,
            date: time.date_naive().to_string(),
            symbol: p.symbol().to_owned(),
            side: p.side().as_str().to_owned(),
            size: p.size(),
            proposer: p.proposer().to_owned(),
            rationale: p.rationale().to_owned(),
            outcome: match d.outcome() {
                Outcome::Approved => "approved",
                Outcome::Rejected => "rejected",
                Outcome::ManualReview => "manual_review",
            }
            .to_owned(),
            score: d.score(),
            reason: d.reason().to_owned(),
            votes: d
                .votes()
                .iter()
                .map(|v| VoteRecord {
                    agent: v.agent().to_owned(),
                    verdict: format!("{:?}", v.verdict()).to_lowercase(),
                    confidence: v.confidence(),
                    weight: v.weight(),
                    reasons: v.reasons().to_vec(),
                })
                .collect(),
        }
    }

    pub(crate) fn mandatory(
        step: usize,
        time: &chrono::DateTime<chrono::Utc>,
        p: &TradingProposal,
    ) -> Self {
        Self {
            step,
            date: time.date_naive().to_string(),
            symbol: p.symbol().to_owned(),
            side: p.side().as_str().to_owned(),
            size: p.size(),
            proposer: p.proposer().to_owned(),
            rationale: p.rationale().to_owned(),
            outcome: "mandatory".into(),
            score: 1.0,
            reason: "risk exit: executed without a vote".into(),
            votes: Vec::new(),
        }
    }
}

/// A limit breach the risk manager reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreachRecord {
    /// The step.
    pub step: usize,
    /// The date.
    pub date: String,
    /// What was breached.
    pub breach: String,
}

/// Everything one pass of the desk produced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pass {
    pub(crate) weighting: String,
    pub(crate) start: usize,
    pub(crate) equity: Vec<f64>,
    pub(crate) returns: Vec<f64>,
    pub(crate) held_weights: Vec<(usize, Vec<f64>)>,
    pub(crate) targets: Vec<(usize, Vec<f64>)>,
    pub(crate) decisions: Vec<DecisionRecord>,
    pub(crate) breaches: Vec<BreachRecord>,
    pub(crate) greeks: Vec<BookGreeks>,
    pub(crate) fees: f64,
    pub(crate) slippage: f64,
    pub(crate) traded: f64,
    pub(crate) fills: usize,
    pub(crate) wins: usize,
    pub(crate) closed: usize,
    pub(crate) halted_at: Option<usize>,
    pub(crate) flattened: Vec<(usize, String)>,
    pub(crate) quality: ExecutionQuality,
    pub(crate) weights: BTreeMap<String, f64>,
    pub(crate) agents: BTreeMap<String, AgentStats>,
    pub(crate) replay: usize,
    pub(crate) final_book: BookView,
}

impl Pass {
    pub(crate) fn new(weighting: &str, start: usize, steps: usize) -> Self {
        Self {
            weighting: weighting.to_owned(),
            start,
            equity: Vec::with_capacity(steps),
            returns: Vec::with_capacity(steps),
            held_weights: Vec::new(),
            targets: Vec::new(),
            decisions: Vec::new(),
            breaches: Vec::new(),
            greeks: Vec::new(),
            fees: 0.0,
            slippage: 0.0,
            traded: 0.0,
            fills: 0,
            wins: 0,
            closed: 0,
            halted_at: None,
            flattened: Vec::new(),
            quality: ExecutionQuality::default(),
            weights: BTreeMap::new(),
            agents: BTreeMap::new(),
            replay: 0,
            final_book: BookView::default(),
        }
    }

    pub(crate) fn record_day(
        &mut self,
        step: usize,
        equity: f64,
        previous: f64,
        positions: &[f64],
        closes: &[f64],
    ) {
        if step > 0 {
            self.returns.push(equity / previous - 1.0);
        }
        self.equity.push(equity);
        if step.is_multiple_of(WEIGHT_SAMPLE) {
            let w = positions
                .iter()
                .zip(closes)
                .map(|(q, c)| if equity > 0.0 { q * c / equity } else { 0.0 })
                .collect();
            self.held_weights.push((step, w));
        }
    }

    /// Consecutive passes as one: equity chained (each pass's growth applied to the previous
    /// pass's end), everything else concatenated or summed; the last pass's book and weights.
    pub(crate) fn chain(passes: Vec<Pass>, cash: f64) -> Pass {
        let start = passes.first().map_or(0, |p| p.start);
        let steps = passes.iter().map(|p| p.equity.len()).sum();
        let mut out = Pass::new("chained", start, steps);
        let mut level = cash;
        for p in passes {
            let base = p.equity.first().copied().unwrap_or(cash);
            let scale = level / cash;
            if !out.equity.is_empty() {
                out.returns.push(base / cash - 1.0);
            }
            out.equity.extend(p.equity.iter().map(|e| e * scale));
            out.returns.extend(&p.returns);
            level = out.equity.last().copied().unwrap_or(level);
            let offset = p.start - start;
            out.held_weights
                .extend(p.held_weights.into_iter().map(|(s, w)| (s + offset, w)));
            out.targets.extend(p.targets);
            out.decisions.extend(p.decisions);
            out.breaches.extend(p.breaches);
            out.greeks.extend(p.greeks);
            out.fees += p.fees;
            out.slippage += p.slippage;
            out.traded += p.traded;
            out.fills += p.fills;
            out.wins += p.wins;
            out.closed += p.closed;
            out.halted_at = out.halted_at.or(p.halted_at);
            out.flattened.extend(p.flattened);
            out.quality.orders += p.quality.orders;
            out.quality.fills += p.quality.fills;
            out.quality.submitted += p.quality.submitted;
            out.quality.filled += p.quality.filled;
            out.quality.fees += p.quality.fees;
            out.quality.slippage_cost += p.quality.slippage_cost;
            out.quality.shortfall += p.quality.shortfall;
            out.quality.arrival_notional += p.quality.arrival_notional;
            for (k, st) in p.agents {
                let e = out.agents.entry(k).or_default();
                e.votes += st.votes;
                e.judged += st.judged;
                e.right += st.right;
            }
            out.weights = p.weights;
            out.replay += p.replay;
            out.final_book = p.final_book;
        }
        out
    }

    pub(crate) fn round_trip(&mut self, pnl: f64) {
        self.closed += 1;
        self.wins += usize::from(pnl > 0.0);
    }
}

/// The headline figures of one pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// `fixed` or `adaptive` voter weights.
    pub weighting: String,
    /// Compound annual growth rate.
    pub cagr: f64,
    /// Annualised volatility of daily returns.
    pub volatility: f64,
    /// Annualised Sharpe ratio (risk-free 0).
    pub sharpe: Option<f64>,
    /// Annualised Sortino ratio.
    pub sortino: Option<f64>,
    /// Maximum drawdown (≤ 0).
    pub max_drawdown: f64,
    /// Historical daily VaR at 95 % (a loss is negative).
    pub var_95: f64,
    /// Historical daily CVaR at 95 %.
    pub cvar_95: f64,
    /// Annual turnover: traded notional / mean equity / years.
    pub turnover: f64,
    /// Closed round trips that made money / closed round trips.
    pub hit_rate: Option<f64>,
    /// Closed round trips.
    pub trades: usize,
    /// Fills.
    pub fills: usize,
    /// Commission paid.
    pub fees: f64,
    /// What slippage cost.
    pub slippage: f64,
    /// Equity at the end.
    pub final_equity: f64,
    /// Decisions taken (voted and mandatory).
    pub decisions: usize,
    /// Decisions by outcome.
    pub outcomes: BTreeMap<String, usize>,
    /// The step at which the kill switch was pulled, if it was.
    pub halted_at: Option<usize>,
}

/// A voter's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentReport {
    /// Ballots cast.
    pub votes: usize,
    /// Judged votes that were right / judged votes.
    pub accuracy: Option<f64>,
    /// Judged votes.
    pub judged: usize,
    /// The weight at the start.
    pub start_weight: f64,
    /// The weight at the end (equal to the start with fixed weights).
    pub final_weight: f64,
}

/// A stress scenario's P&L.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// The scenario.
    pub name: String,
    /// Its P&L on the final book.
    pub pnl: f64,
}

/// Monte Carlo stress of the final book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stress {
    /// The book's market value.
    pub exposure: f64,
    /// Horizon in trading days.
    pub horizon_days: usize,
    /// Paths simulated (correlated GBM calibrated on the last year).
    pub paths: usize,
    /// VaR at 95 % of the horizon P&L (a loss is negative).
    pub var_95: f64,
    /// CVaR at 95 %.
    pub cvar_95: f64,
    /// VaR at 99 %.
    pub var_99: f64,
    /// Deterministic shocks.
    pub scenarios: Vec<Scenario>,
}

/// Execution quality, flattened for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionReport {
    /// Orders.
    pub orders: usize,
    /// Units filled / units submitted.
    pub fill_rate: f64,
    /// Notional-weighted cost against the arrival price, in basis points.
    pub slippage_bps: f64,
    /// Commission.
    pub fees: f64,
}

/// The whole report (`report.json`). Its top-level figures are the main pass's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The market.
    pub market: String,
    /// Symbols.
    pub symbols: Vec<String>,
    /// First and last date.
    pub period: (String, String),
    /// The main pass.
    #[serde(flatten)]
    pub summary: Summary,
    /// The other weighting, when compared.
    pub comparison: Option<Summary>,
    /// Voters of the main pass.
    pub agents: BTreeMap<String, AgentReport>,
    /// Execution of the main pass.
    pub execution: ExecutionReport,
    /// Stress of the main pass's final book.
    pub stress: Option<Stress>,
    /// Experiences in the replay buffer at the end.
    pub experiences: usize,
    /// Walk-forward folds, when the run asked for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub walk_forward: Vec<Fold>,
    /// Limit breaches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breaches: Vec<BreachRecord>,
    /// Dates of the equity series.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dates: Vec<String>,
    /// Equity per date, main pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub equity: Vec<f64>,
    /// Equity per date, the other pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub equity_comparison: Vec<f64>,
    /// Held weights every 21 days: (step, weight per symbol).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<(usize, Vec<f64>)>,
    /// The options book's valuations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options_book: Vec<BookGreeks>,
    /// Every decision, with its votes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decision_log: Vec<DecisionRecord>,
}

impl Report {
    /// The report without its series and logs (what the task answers).
    pub fn headline(&self) -> Self {
        Self {
            breaches: Vec::new(),
            dates: Vec::new(),
            equity: Vec::new(),
            equity_comparison: Vec::new(),
            weights: Vec::new(),
            options_book: Vec::new(),
            decision_log: Vec::new(),
            ..self.clone()
        }
    }
}

fn finite(x: Result<f64>) -> Option<f64> {
    x.ok().filter(|v| v.is_finite())
}

/// One walk-forward fold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fold {
    /// Its number, from 0.
    pub fold: usize,
    /// First and last day the weights were learned over.
    pub train: (String, String),
    /// First and last day traded with them.
    pub test: (String, String),
    /// The learned voter weights.
    pub weights: BTreeMap<String, f64>,
    /// The test window with the learned weights.
    pub test_summary: Summary,
    /// The test window with the configured weights.
    pub baseline_summary: Summary,
}

pub(crate) fn summary(cfg: &DeskConfig, pass: &Pass) -> Summary {
    let final_equity = pass.equity.last().copied().unwrap_or(cfg.cash);
    let years = (pass.returns.len().max(1)) as f64 / YEAR;
    let mean_equity = pass.equity.iter().sum::<f64>() / pass.equity.len().max(1) as f64;
    let mut outcomes = BTreeMap::new();
    for d in &pass.decisions {
        *outcomes.entry(d.outcome.clone()).or_insert(0) += 1;
    }
    let r = &pass.returns;
    Summary {
        weighting: pass.weighting.clone(),
        cagr: if final_equity > 0.0 {
            (final_equity / cfg.cash).powf(1.0 / years) - 1.0
        } else {
            -1.0
        },
        volatility: finite(risk::annual_volatility(r, YEAR)).unwrap_or(0.0),
        sharpe: finite(risk::sharpe(r, 0.0, YEAR)),
        sortino: finite(risk::sortino(r, 0.0, YEAR)),
        max_drawdown: finite(risk::max_drawdown(r)).unwrap_or(0.0),
        var_95: finite(risk::historical_var(r, 0.05)).unwrap_or(0.0),
        cvar_95: finite(risk::historical_cvar(r, 0.05)).unwrap_or(0.0),
        turnover: if mean_equity > 0.0 {
            pass.traded / mean_equity / years
        } else {
            0.0
        },
        hit_rate: (pass.closed > 0).then(|| pass.wins as f64 / pass.closed as f64),
        trades: pass.closed,
        fills: pass.fills,
        fees: pass.fees,
        slippage: pass.slippage,
        final_equity,
        decisions: pass.decisions.len(),
        outcomes,
        halted_at: pass.halted_at,
    }
}

fn stress(cfg: &DeskConfig, tape: &Tape, book: &BookView) -> Result<Option<Stress>> {
    let last = tape.len() - 1;
    let view = tape.view(last);
    if book.positions.len() != view.symbols().len() {
        return Ok(None);
    }
    let closes = view.closes();
    let exposure: f64 = book.positions.iter().zip(&closes).map(|(q, c)| q * c).sum();
    if exposure == 0.0 || cfg.stress_paths == 0 {
        return Ok(None);
    }
    let k = closes.len();
    let window = last.min(252);
    let returns: Vec<Vec<f64>> = (0..k).map(|s| view.returns(s, window)).collect();
    let vols: Vec<f64> = returns
        .iter()
        .map(|r| {
            finite(risk::annual_volatility(r, YEAR))
                .unwrap_or(0.2)
                .max(1e-4)
        })
        .collect();
    let corr = if k > 1 {
        let refs: Vec<&[f64]> = returns.iter().map(Vec::as_slice).collect();
        risk::correlation_matrix(&refs)?
    } else {
        vec![vec![1.0]]
    };
    let horizon_days = 21;
    let model = GbmModel::new(closes.clone(), vec![0.0; k], vols, corr)?;
    let holdings: Vec<Holding> = book
        .positions
        .iter()
        .map(|q| Holding::Quantity(*q))
        .collect();
    let pnl = model.portfolio_pnl(
        &holdings,
        &Simulation::new(cfg.stress_paths, horizon_days as f64 / YEAR, 42).with_antithetic(true),
    )?;
    let mut scenarios: Vec<Scenario> = [0.10, 0.20, 0.35]
        .iter()
        .map(|shock| Scenario {
            name: format!("every symbol -{:.0}%", shock * 100.0),
            pnl: -exposure * shock,
        })
        .collect();
    // The worst day of the whole tape, replayed on the final book.
    let mut worst = (0.0f64, String::new());
    for t in 1..=last {
        let pnl: f64 = (0..k)
            .map(|s| {
                let r = tape.view(t).close(s) / tape.view(t - 1).close(s) - 1.0;
                book.positions[s] * closes[s] * r
            })
            .sum();
        if pnl < worst.0 {
            worst = (pnl, tape.times()[t].date_naive().to_string());
        }
    }
    if !worst.1.is_empty() {
        scenarios.push(Scenario {
            name: format!("the worst day of the data again ({})", worst.1),
            pnl: worst.0,
        });
    }
    Ok(Some(Stress {
        exposure,
        horizon_days,
        paths: cfg.stress_paths,
        var_95: pnl.var(0.05)?,
        cvar_95: pnl.cvar(0.05)?,
        var_99: pnl.var(0.01)?,
        scenarios,
    }))
}

/// Assembles the report of a run from its passes.
///
/// # Errors
/// When the stress simulation fails (a degenerate correlation).
pub(crate) fn build(
    cfg: &DeskConfig,
    spec: &DataSpec,
    tape: &Tape,
    main: Pass,
    other: Option<Pass>,
) -> Result<Report> {
    let agents = cfg
        .voters
        .iter()
        .map(|(name, start)| {
            let st = main.agents.get(name).cloned().unwrap_or_default();
            (
                name.clone(),
                AgentReport {
                    votes: st.votes,
                    accuracy: (st.judged > 0).then(|| st.right as f64 / st.judged as f64),
                    judged: st.judged,
                    start_weight: *start,
                    final_weight: main.weights.get(name).copied().unwrap_or(*start),
                },
            )
        })
        .collect();
    let q = main.quality;
    let times = tape.times();
    Ok(Report {
        market: spec.describe(),
        symbols: tape.symbols().to_vec(),
        period: (
            times[0].date_naive().to_string(),
            times[times.len() - 1].date_naive().to_string(),
        ),
        summary: summary(cfg, &main),
        comparison: other.as_ref().map(|p| summary(cfg, p)),
        agents,
        execution: ExecutionReport {
            orders: q.orders,
            fill_rate: q.fill_rate(),
            slippage_bps: q.slippage_bps(),
            fees: q.fees,
        },
        stress: stress(cfg, tape, &main.final_book)?,
        experiences: main.replay,
        walk_forward: Vec::new(),
        breaches: main.breaches,
        dates: times[main.start..main.start + main.equity.len()]
            .iter()
            .map(|t| t.date_naive().to_string())
            .collect(),
        equity: main.equity,
        equity_comparison: other.map(|p| p.equity).unwrap_or_default(),
        weights: main.held_weights,
        options_book: main.greeks,
        decision_log: main.decisions,
    })
}

/// Writes `report.json` and `report.html` into `dir` (created); returns the folder.
///
/// # Errors
/// `InvalidInput` naming the path when it cannot be written.
pub(crate) fn write(dir: &Path, report: &Report) -> Result<PathBuf> {
    let io = |path: &Path, e: std::io::Error| {
        Error::invalid_input(format!("writing {}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| Error::internal(format!("encoding the report: {e}")))?;
    let path = dir.join("report.json");
    std::fs::write(&path, json + "\n").map_err(|e| io(&path, e))?;
    let path = dir.join("report.html");
    std::fs::write(&path, super::html::render(report)).map_err(|e| io(&path, e))?;
    Ok(dir.to_path_buf())
}

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

/// The terminal summary of a report.
pub fn render_text(out: &Path, r: &Report) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "trading desk: {} ({} to {})",
        r.market, r.period.0, r.period.1
    );
    let cols: Vec<&Summary> = std::iter::once(&r.summary)
        .chain(r.comparison.as_ref())
        .collect();
    let _ = write!(t, "{:<16}", "");
    for c in &cols {
        let _ = write!(t, "{:>24}", format!("{} weights", c.weighting));
    }
    t.push('\n');
    type Row = (&'static str, fn(&Summary) -> String);
    let rows: [Row; 16] = [
        ("final equity", |s| format!("{:.0}", s.final_equity)),
        ("CAGR", |s| pct(s.cagr)),
        ("volatility", |s| pct(s.volatility)),
        ("Sharpe", |s| opt(s.sharpe)),
        ("Sortino", |s| opt(s.sortino)),
        ("max drawdown", |s| pct(s.max_drawdown)),
        ("VaR 95% (1d)", |s| pct(s.var_95)),
        ("CVaR 95% (1d)", |s| pct(s.cvar_95)),
        ("turnover / yr", |s| format!("{:.2}x", s.turnover)),
        ("hit rate", |s| s.hit_rate.map_or_else(|| "-".into(), pct)),
        ("trades", |s| s.trades.to_string()),
        ("fills", |s| s.fills.to_string()),
        ("fees", |s| format!("{:.0}", s.fees)),
        ("slippage", |s| format!("{:.0}", s.slippage)),
        ("decisions", |s| {
            let a = s.outcomes.get("approved").copied().unwrap_or(0);
            format!("{} ({a} approved)", s.decisions)
        }),
        ("kill switch", |s| {
            s.halted_at
                .map_or_else(|| "-".into(), |h| format!("day {h}"))
        }),
    ];
    for (name, f) in rows {
        let _ = write!(t, "{name:<16}");
        for c in &cols {
            let _ = write!(t, "{:>24}", f(c));
        }
        t.push('\n');
    }
    if !r.walk_forward.is_empty() {
        let _ = writeln!(
            t,
            "\nwalk-forward fold  test window              learned: CAGR  Sharpe   configured: CAGR  Sharpe"
        );
        for f in &r.walk_forward {
            let _ = writeln!(
                t,
                "{:>17}  {} .. {}  {:>13}  {:>6}  {:>17}  {:>6}",
                f.fold,
                f.test.0,
                f.test.1,
                pct(f.test_summary.cagr),
                opt(f.test_summary.sharpe),
                pct(f.baseline_summary.cagr),
                opt(f.baseline_summary.sharpe)
            );
        }
    }
    let _ = writeln!(t, "\nvoter            votes  accuracy  weight start -> end");
    for (name, a) in &r.agents {
        let _ = writeln!(
            t,
            "{name:<16}{:>6}  {:>8}  {:>6.2} -> {:.2}",
            a.votes,
            a.accuracy.map_or_else(|| "-".into(), pct),
            a.start_weight,
            a.final_weight
        );
    }
    let _ = writeln!(
        t,
        "\nexecution: {} orders, fill rate {}, slippage {:.1} bps vs arrival",
        r.execution.orders,
        pct(r.execution.fill_rate),
        r.execution.slippage_bps
    );
    if let Some(s) = &r.stress {
        let _ = writeln!(
            t,
            "stress ({} days, {} paths): VaR95 {:.0}, CVaR95 {:.0}, VaR99 {:.0} on {:.0} exposure",
            s.horizon_days, s.paths, s.var_95, s.cvar_95, s.var_99, s.exposure
        );
    }
    let _ = writeln!(t, "\nreport: {}  (report.json, report.html)", out.display());
    t
}
