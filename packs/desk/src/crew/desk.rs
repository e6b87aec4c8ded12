//! The desk coordinator (`desk.backtest`): drives a run step by step on a virtual clock (the
//! tape's calendar), asks the agents through the runtime, turns their votes into decisions,
//! keeps the book, learns the voters' weights, and writes the report.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use cadre_core::{
    Agent, AgentError, AgentKind, Bid, Capability, Context, Error, ErrorCode, Message, Result,
    Task, TaskOutcome,
};
use cadre_runtime::{Client, Route};
use serde::{Deserialize, Serialize};

use super::agents::{self, EXECUTE, PRICE, REBALANCE, RISK_CHECK, SIZE, VOTE};
use super::book::{
    self, BookOpened, DayClosed, Ledger, OrderFilled, PositionClosed, PositionOpened,
    RiskLimitBreached,
};
use super::messages::{
    Ballots, BookGreeks, BookView, ExecuteStep, Executed, Levels, Proposals, SizeRequest,
    SizedOrders, StepInput, VoteRequest,
};
use super::report::{self, AgentStats, DecisionRecord, Pass, Report};
use super::session;
use super::tape::{self, DataSpec, Tape};
use crate::broker::{CommissionModel, SimConfig, SlippageModel};
use crate::consensus::{ConsensusEngine, Mode};
use crate::model::{Action, Experience, Fill, Order, Outcome, Side, TradingProposal, Vote};

/// The coordinator's capability: run the desk over a market.
pub const BACKTEST: &str = "desk.backtest";

/// How the voters' weights evolve during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// The configured weights throughout.
    Fixed,
    /// Multiplicative weights: each voter's weight grows when its votes turn out right.
    Adaptive,
}

impl Weighting {
    fn as_str(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::Adaptive => "adaptive",
        }
    }
}

/// Configuration of the [`Desk`] coordinator (`[agents.config]` of its kind).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeskConfig {
    /// Cash at the start.
    pub cash: f64,
    /// Commission in basis points of the notional.
    pub commission_bps: f64,
    /// The least commission per fill.
    pub commission_min: f64,
    /// Fixed slippage in basis points (ignored when `impact` is set).
    pub slippage_bps: f64,
    /// Square-root market-impact coefficient instead of fixed slippage.
    pub impact: Option<f64>,
    /// The most of a bar's volume that fills per bar, in (0, 1].
    pub volume_cap: Option<f64>,
    /// Consensus: the score at or above which a proposal is approved, in [−1, 1].
    pub threshold: f64,
    /// Consensus: the vote variance above which a proposal goes to manual review
    /// (auto-rejected in a backtest).
    pub variance_limit: f64,
    /// Consensus: the fewest non-abstaining votes.
    pub quorum: usize,
    /// The voters (agent kinds of the crew) and their starting weights.
    pub voters: BTreeMap<String, f64>,
    /// `adaptive` or `fixed` weights for the main run.
    pub weights: Weighting,
    /// Also run the other weighting and compare the two in the report.
    pub compare: bool,
    /// The learning rate of the multiplicative weights.
    pub eta: f64,
    /// Days after a decision at which its outcome is judged.
    pub horizon: usize,
    /// Experiences kept in the replay buffer.
    pub replay: usize,
    /// Days between the optimiser's rebalances.
    pub rebalance_every: usize,
    /// Days between valuations of the options book.
    pub price_every: usize,
    /// How long one agent call may take.
    #[serde(with = "humantime_serde")]
    pub call_timeout: Duration,
    /// Where run folders go when the run names none (`<runs>/<run-id>/`).
    pub runs: PathBuf,
    /// Monte Carlo paths of the stress section.
    pub stress_paths: usize,
    /// The event store of the book and the audit trail (`sqlite://PATH` or `postgres://...`);
    /// default: `sqlite://<run folder>/book.db`.
    pub store: Option<String>,
}

impl Default for DeskConfig {
    fn default() -> Self {
        Self {
            cash: 1_000_000.0,
            commission_bps: 10.0,
            commission_min: 0.0,
            slippage_bps: 5.0,
            impact: None,
            volume_cap: None,
            threshold: 0.45,
            variance_limit: 0.6,
            quorum: 2,
            voters: [
                ("analyst", 1.0),
                ("risk", 1.5),
                ("portfolio", 1.0),
                ("pricing", 0.5),
            ]
            .into_iter()
            .map(|(k, w)| (k.to_owned(), w))
            .collect(),
            weights: Weighting::Adaptive,
            compare: true,
            eta: 0.1,
            horizon: 10,
            replay: 4096,
            rebalance_every: 21,
            price_every: 21,
            call_timeout: Duration::from_secs(30),
            runs: PathBuf::from("runs"),
            stress_paths: 10_000,
            store: None,
        }
    }
}

/// The entry task of `cadre run crews/trading-desk.toml`: which market, where to write.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeskRun {
    /// A folder of OHLCV files (`SYMBOL.csv` / `.parquet`); absent: the synthetic market.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// Synthetic symbols (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbols: Option<usize>,
    /// Synthetic days (default 2,520).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<usize>,
    /// Synthetic seed (default 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The run folder (default `<runs>/<run-id>/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<PathBuf>,
    /// Overrides the desk's `weights`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Weighting>,
    /// Overrides the desk's `compare`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<bool>,
    /// Walk-forward instead of one pass: learn the voters' weights over `train` days, trade the
    /// next `test` days with them, roll forward by `test`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk_forward: Option<WalkForward>,
    /// `backtest` (default: as fast as the agents answer) or `paper` (the feed replayed at
    /// wall-clock speed, one bar every `pace`; operators can halt, flatten and review).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<RunMode>,
    /// Paper mode: wall-clock time per bar (default "1s").
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub pace: Option<Duration>,
}

/// How a desk run uses the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// A backtest on the virtual clock.
    Backtest,
    /// Paper trading: the feed replayed at wall-clock speed, manual review, operator controls.
    Paper,
}

/// Walk-forward windows, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkForward {
    /// Days the weights are learned over.
    pub train: usize,
    /// Days traded with them.
    pub test: usize,
}

impl Message for DeskRun {
    const TYPE: &'static str = "desk.run";
}

impl DeskRun {
    /// The market this run names.
    pub fn spec(&self) -> DataSpec {
        let d = DataSpec::default();
        DataSpec {
            data: self.data.clone(),
            symbols: self.symbols.unwrap_or(d.symbols),
            days: self.days.unwrap_or(d.days),
            seed: self.seed.unwrap_or(d.seed),
        }
    }
}

/// What the run answers: where the report is and its headline figures (the whole report is
/// `report.json` in the run folder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeskOutcome {
    /// The run folder.
    pub out: PathBuf,
    /// The event store holding the book and the audit trail.
    pub store: String,
    /// The book's stream of the main pass.
    pub book: String,
    /// The report (without its long series, which are in the files).
    pub report: Report,
}

impl Message for DeskOutcome {
    const TYPE: &'static str = "desk.outcome";
}

/// The coordinator.
#[derive(Debug, Clone, Default)]
pub struct Desk {
    cfg: DeskConfig,
}

impl Desk {
    /// From `[agents.config]`.
    ///
    /// # Errors
    /// `Config` naming a bad or unknown key.
    pub fn from_config(table: &toml::Table) -> Result<Self> {
        let cfg: DeskConfig = agents::config("desk", table)?;
        let bad = |key: &str, why: &str| {
            Err(Error::new(
                ErrorCode::Config,
                format!("desk configuration: key `{key}`: {why}"),
            ))
        };
        if !(cfg.cash > 0.0 && cfg.cash.is_finite()) {
            return bad("cash", "must be > 0");
        }
        if cfg.voters.is_empty() {
            return bad("voters", "name at least one voter kind");
        }
        for (k, w) in &cfg.voters {
            if AgentKind::new(k).is_err() {
                return bad(&format!("voters.{k}"), "not a valid agent kind");
            }
            if !(w.is_finite() && *w > 0.0) {
                return bad(&format!("voters.{k}"), "the weight must be > 0");
            }
        }
        if cfg.horizon == 0 || cfg.rebalance_every == 0 || cfg.price_every == 0 {
            return bad(
                "horizon",
                "`horizon`, `rebalance_every` and `price_every` must be >= 1",
            );
        }
        if !(cfg.eta > 0.0 && cfg.eta < 1.0) {
            return bad("eta", "must lie in (0, 1)");
        }
        cfg.sim_config().map_err(|e| {
            Error::new(
                ErrorCode::Config,
                format!("desk configuration: {}", e.message()),
            )
        })?;
        ConsensusEngine::new(
            cfg.threshold,
            cfg.variance_limit,
            cfg.quorum,
            Mode::Backtest,
        )
        .map_err(|e| {
            Error::new(
                ErrorCode::Config,
                format!("desk configuration: {}", e.message()),
            )
        })?;
        Ok(Self { cfg })
    }

    /// The configuration.
    pub fn config(&self) -> &DeskConfig {
        &self.cfg
    }
}

impl DeskConfig {
    fn sim_config(&self) -> Result<SimConfig> {
        let c = SimConfig {
            commission: CommissionModel::bps(self.commission_bps, self.commission_min)?,
            slippage: match self.impact {
                Some(coefficient) => SlippageModel::SquareRootImpact { coefficient },
                None => SlippageModel::FixedBps {
                    bps: self.slippage_bps,
                },
            },
            volume_cap: self.volume_cap,
            latency_bars: 0,
        };
        c.validate()?;
        Ok(c)
    }
}

impl Agent for Desk {
    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::new(BACKTEST, agents::VERSION).expect("valid capability"),
            Capability::new(session::CONTROL, agents::VERSION).expect("valid capability"),
        ]
    }

    async fn can_handle(&self, task: &Task) -> Bid {
        if (task.capability == BACKTEST && task.input.is::<DeskRun>())
            || (task.capability == session::CONTROL && task.input.is::<session::DeskControl>())
        {
            Bid::accept(1.0, Duration::from_secs(2))
        } else {
            Bid::decline()
        }
    }

    async fn execute(
        &self,
        task: Task,
        cx: &Context,
    ) -> std::result::Result<TaskOutcome, AgentError> {
        if task.capability == session::CONTROL {
            let request: session::DeskControl = task.input()?;
            return TaskOutcome::new(&task, &session::control(&request)?);
        }
        let run: DeskRun = task.input()?;
        let client = cx.get::<Client>().cloned().ok_or_else(|| {
            Error::internal("desk.backtest runs inside a cadre node (no client in its context)")
        })?;
        let spec = run.spec();
        let tape = tape::load(&spec)?;
        let mut cfg = self.cfg.clone();
        if let Some(w) = run.weights {
            cfg.weights = w;
        }
        if let Some(c) = run.compare {
            cfg.compare = c;
        }
        let paper = match run.mode.unwrap_or(RunMode::Backtest) {
            RunMode::Backtest => None,
            RunMode::Paper => {
                if run.walk_forward.is_some() {
                    return Err(Error::invalid_input(
                        "key `walk_forward`: a paper session trades one pass; drop `walk_forward` or `mode = \"paper\"`",
                    ));
                }
                cfg.compare = false;
                let pace = run.pace.unwrap_or(Duration::from_secs(1));
                if pace.is_zero() {
                    return Err(Error::invalid_input("key `pace`: must be more than 0"));
                }
                Some(pace)
            }
        };
        let run_id = format!(
            "desk-{}-{}",
            chrono::Utc::now().format("%Y%m%d-%H%M%S"),
            // The random tail of the task's UUIDv7: unique even for runs started together.
            {
                let id = task.id.to_string();
                id[id.len() - 12..].to_owned()
            }
        );
        let out = run.out.clone().unwrap_or_else(|| cfg.runs.join(&run_id));
        std::fs::create_dir_all(&out).map_err(|e| {
            Error::invalid_input(format!("creating the run folder {}: {e}", out.display()))
        })?;
        let url = cfg
            .store
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", out.join("book.db").display()));
        let store = cadre_store::connect(&url)
            .await
            .map_err(|e| e.context(format!("the desk's event store `{url}`")))?;
        let driver = Driver {
            client,
            cfg: &cfg,
            spec: &spec,
            tape: &tape,
            cx,
            store,
            paper,
            out: out.clone(),
            session: std::sync::Mutex::new(None),
            last_request: std::sync::Mutex::new(None),
            halt: std::sync::Mutex::new((false, Vec::new())),
            task: task.id,
        };
        let n = tape.len();
        let (main, other, folds) = match run.walk_forward {
            None => {
                let main = driver
                    .pass(&format!("{run_id}-main"), cfg.weights, 0..n, None)
                    .await?;
                let other = if cfg.compare {
                    let w = match cfg.weights {
                        Weighting::Fixed => Weighting::Adaptive,
                        Weighting::Adaptive => Weighting::Fixed,
                    };
                    Some(driver.pass(&format!("{run_id}-cmp"), w, 0..n, None).await?)
                } else {
                    None
                };
                (main, other, Vec::new())
            }
            Some(wf) => driver.walk_forward(&run_id, wf).await?,
        };
        let mut full =
            tokio::task::block_in_place(|| report::build(&cfg, &spec, &tape, main, other))?;
        full.walk_forward = folds;
        driver.progress(1, 1, "writing the report").await;
        let written = tokio::task::block_in_place(|| report::write(&out, &full))?;
        if let Some(bus) = cx.get::<std::sync::Arc<dyn cadre_bus::Bus>>() {
            let _ = bus
                .set_control(&cadre_runtime::protocol::progress_key(task.id), None)
                .await;
        }
        let outcome = DeskOutcome {
            out: written,
            store: url,
            book: book::stream(&format!("{run_id}-main"))?.to_string(),
            report: full.headline(),
        };
        TaskOutcome::new(&task, &outcome)
    }
}

/// Runs passes of the desk over one market.
struct Driver<'a> {
    client: Client,
    cfg: &'a DeskConfig,
    spec: &'a DataSpec,
    tape: &'a Tape,
    cx: &'a Context,
    store: std::sync::Arc<dyn cadre_store::EventStore>,
    /// Paper mode: one bar every this much wall-clock time.
    paper: Option<Duration>,
    /// The run folder.
    out: PathBuf,
    /// The paper session of the pass running, if any.
    session: std::sync::Mutex<Option<std::sync::Arc<session::Session>>>,
    /// The last operator request answered through the bus registers.
    last_request: std::sync::Mutex<Option<String>>,
    /// Whether the kill switch was pulled when last read, and the changes not audited yet.
    halt: std::sync::Mutex<(bool, Vec<bool>)>,
    /// The entry task, whose progress register (`cadre.progress.<id>`) the passes update.
    task: cadre_core::TaskId,
}

/// A decision waiting for its outcome to be judged.
#[derive(Debug)]
struct Pending {
    step: usize,
    symbol: usize,
    side: Side,
    votes: Vec<(String, f64, f64)>,
    score: f64,
}

impl Driver<'_> {
    async fn call<I: Message + Clone, O: Message>(
        &self,
        capability: &str,
        route: Route,
        input: I,
    ) -> Result<O> {
        if self.cx.is_cancelled() {
            return Err(Error::new(
                ErrorCode::Cancelled,
                "the desk run was cancelled",
            ));
        }
        let mut task = Task::local(capability, input);
        task.conversation_id = self.cx.conversation_id();
        task.trace_id = self.cx.trace_id();
        let outcome = match self.paper {
            None => self.client.call(task, route, self.cfg.call_timeout).await,
            Some(_) => {
                // A paper session may be halted while a call waits in a queue: the call then
                // waits for `cadre resume` (the kill switch holds the agents' queues), and
                // meanwhile the session says it is halted and keeps answering operators.
                let bus = self.cx.get::<std::sync::Arc<dyn cadre_bus::Bus>>().cloned();
                let call = self
                    .client
                    .call(task, route, Duration::from_secs(7 * 24 * 3600));
                tokio::pin!(call);
                loop {
                    tokio::select! {
                        r = &mut call => break r,
                        () = tokio::time::sleep(Duration::from_millis(100)) => {
                            if let Some(bus) = &bus {
                                let pulled = bus
                                    .control(cadre_runtime::protocol::HALT_KEY)
                                    .await?
                                    .is_some();
                                if let Some(s) = self.session.lock().map_err(|_| Error::internal("poisoned"))?.as_ref() {
                                    s.set_halted(pulled)?;
                                }
                                self.note_halt(pulled)?;
                                let mut last = self.last_request.lock().map_err(|_| Error::internal("poisoned"))?.clone();
                                serve_registers(bus.as_ref(), &mut last).await?;
                                *self.last_request.lock().map_err(|_| Error::internal("poisoned"))? = last;
                            }
                        }
                    }
                }
            }
        }
        .map_err(|e| e.context(format!("`{capability}`")))?;
        outcome.output()
    }

    #[allow(clippy::too_many_lines)]
    /// Walk-forward: on each fold the desk learns its voters' weights (adaptive) over the
    /// train window, then trades the following test window with those weights frozen, from a
    /// fresh book. The test windows, chained, are the main pass; the same windows with the
    /// configured weights are the comparison.
    async fn walk_forward(
        &self,
        run_id: &str,
        wf: WalkForward,
    ) -> Result<(Pass, Option<Pass>, Vec<report::Fold>)> {
        let n = self.tape.len();
        if wf.train < 2 || wf.test < 2 || wf.train + wf.test > n {
            return Err(Error::invalid_input(format!(
                "key `walk_forward`: train {} + test {} days must fit the market's {n} days (each at least 2)",
                wf.train, wf.test
            )));
        }
        let times = self.tape.times();
        let day = |i: usize| times[i].date_naive().to_string();
        let (mut tests, mut baselines, mut folds) = (Vec::new(), Vec::new(), Vec::new());
        let mut start = 0;
        while start + wf.train + 1 < n {
            let fold = folds.len();
            let split = start + wf.train;
            let end = (split + wf.test).min(n);
            let learned = self
                .pass(
                    &format!("{run_id}-f{fold}-train"),
                    Weighting::Adaptive,
                    start..split,
                    None,
                )
                .await?;
            let weights = learned.weights.clone();
            let test = self
                .pass(
                    &format!("{run_id}-f{fold}-test"),
                    Weighting::Fixed,
                    split..end,
                    Some(weights.clone()),
                )
                .await?;
            let baseline = self
                .pass(
                    &format!("{run_id}-f{fold}-base"),
                    Weighting::Fixed,
                    split..end,
                    None,
                )
                .await?;
            folds.push(report::Fold {
                fold,
                train: (day(start), day(split - 1)),
                test: (day(split), day(end - 1)),
                weights,
                test_summary: report::summary(self.cfg, &test),
                baseline_summary: report::summary(self.cfg, &baseline),
            });
            tests.push(test);
            baselines.push(baseline);
            start += wf.test;
        }
        let mut main = Pass::chain(tests, self.cfg.cash);
        main.weighting = "walk-forward learned".into();
        let mut other = Pass::chain(baselines, self.cfg.cash);
        other.weighting = "configured".into();
        Ok((main, Some(other), folds))
    }

    async fn pass(
        &self,
        run: &str,
        weighting: Weighting,
        window: std::ops::Range<usize>,
        start_weights: Option<BTreeMap<String, f64>>,
    ) -> Result<Pass> {
        let cfg = self.cfg;
        let (first, n) = (window.start, window.end);
        let k = self.tape.symbols().len();
        let engine = ConsensusEngine::new(
            cfg.threshold,
            cfg.variance_limit,
            cfg.quorum,
            if self.paper.is_some() {
                Mode::Paper
            } else {
                Mode::Backtest
            },
        )?;
        let guard = match self.paper {
            Some(_) => Some(session::open(run)?),
            None => None,
        };
        let session = guard.as_ref().map(|g| std::sync::Arc::clone(&g.session));
        let mut started = tokio::time::Instant::now();
        let bus = self.cx.get::<std::sync::Arc<dyn cadre_bus::Bus>>().cloned();
        *self
            .session
            .lock()
            .map_err(|_| Error::internal("poisoned"))? = session.clone();
        let broker = cfg.sim_config()?;
        let mut weights: BTreeMap<String, f64> =
            start_weights.unwrap_or_else(|| cfg.voters.clone());
        let mut stats: BTreeMap<String, AgentStats> = cfg
            .voters
            .keys()
            .map(|v| (v.clone(), AgentStats::default()))
            .collect();
        let mut book = BookView {
            cash: cfg.cash,
            equity: cfg.cash,
            peak: cfg.cash,
            positions: vec![0.0; k],
            exits: vec![None; k],
        };
        let mut cost = vec![0.0f64; k];
        let mut pass = Pass::new(weighting.as_str(), first, n - first);
        let mut orders: Vec<Order> = Vec::new();
        let mut pending_exits: BTreeMap<String, Option<Levels>> = BTreeMap::new();
        let mut targets: Option<Vec<f64>> = None;
        let mut next_order = 1u64;
        let mut halted = false;
        let mut waiting: VecDeque<Pending> = VecDeque::new();
        let mut replay: VecDeque<Experience> = VecDeque::with_capacity(cfg.replay.min(1 << 16));
        let mut prev_equity = cfg.cash;
        let main = weighting == cfg.weights;
        let mut ledger = Ledger::new(
            std::sync::Arc::clone(&self.store),
            run,
            self.cx.agent_id().clone(),
            self.cx.conversation_id(),
        )?;
        ledger.event(&BookOpened {
            cash: cfg.cash,
            symbols: self.tape.symbols().to_vec(),
        })?;
        let progress_every = ((n - first) / 10).max(1);
        let bar_every = ((n - first) / 200).max(1);
        for step in first..n {
            if (step - first).is_multiple_of(bar_every) {
                self.progress(
                    step - first,
                    n - first,
                    &format!("{} pass", weighting.as_str()),
                )
                .await;
            }
            if step > first && (step - first).is_multiple_of(progress_every) {
                tracing::debug!(target: "cadre::desk", pass = weighting.as_str(), "day {step} of {n}");
            }
            if step > first && (step - first).is_multiple_of(252) {
                ledger.flush().await?;
            }
            let view = self.tape.view(step);
            // 0. Paper: the feed's next bar arrives on the wall clock; the kill switch holds
            // trading while it is pulled.
            if let Some(pace) = self.paper {
                let due = started + pace * u32::try_from(step - first).unwrap_or(u32::MAX);
                tokio::select! {
                    () = tokio::time::sleep_until(due) => {}
                    () = self.cx.cancellation().cancelled() => {
                        return Err(Error::new(ErrorCode::Cancelled, "the paper session was cancelled"));
                    }
                }
                // The kill switch pauses the session where it is: no bar is consumed and
                // nothing trades until `cadre resume`; then the feed's clock moves on by the
                // pause.
                let mut paused: Option<tokio::time::Instant> = None;
                loop {
                    let pulled = match &bus {
                        Some(bus) => bus
                            .control(cadre_runtime::protocol::HALT_KEY)
                            .await?
                            .is_some(),
                        None => false,
                    };
                    self.note_halt(pulled)?;
                    let changes = std::mem::take(
                        &mut self.halt.lock().map_err(|_| Error::internal("poisoned"))?.1,
                    );
                    for halted in changes {
                        ledger.audit(
                            if halted { "halted" } else { "resumed" },
                            format!("desk/{run}"),
                            serde_json::json!({ "step": step, "date": view.time().date_naive().to_string() }),
                        );
                    }
                    if let Some(s) = &session {
                        s.update(self.status(run, step, n, &book, pulled))?;
                    }
                    if let Some(bus) = &bus {
                        let mut last = self
                            .last_request
                            .lock()
                            .map_err(|_| Error::internal("poisoned"))?
                            .clone();
                        serve_registers(bus.as_ref(), &mut last).await?;
                        *self
                            .last_request
                            .lock()
                            .map_err(|_| Error::internal("poisoned"))? = last;
                    }
                    if !pulled {
                        break;
                    }
                    paused.get_or_insert_with(tokio::time::Instant::now);
                    tokio::select! {
                        () = tokio::time::sleep(pace.min(Duration::from_millis(200))) => {}
                        () = self.cx.cancellation().cancelled() => {
                            return Err(Error::new(ErrorCode::Cancelled, "the paper session was cancelled"));
                        }
                    }
                }
                if let Some(p) = paused {
                    started += p.elapsed();
                }
            }
            // 1. Execution: orders decided yesterday fill at today's open.
            let executed: Executed = self
                .call(
                    EXECUTE,
                    Route::Capability,
                    ExecuteStep {
                        run: run.to_owned(),
                        data: self.spec.clone(),
                        step,
                        broker,
                        paper: self.paper,
                        orders: std::mem::take(&mut orders),
                        last: step + 1 == n,
                    },
                )
                .await?;
            for fill in &executed.fills {
                let s = self.column(fill.symbol())?;
                let before = book.positions[s];
                let entry = cost[s];
                apply_fill(&mut book, &mut cost, &mut pass, s, fill);
                ledger.event(&OrderFilled {
                    step,
                    fill: fill.clone(),
                })?;
                if before == 0.0 && book.positions[s] != 0.0 {
                    ledger.event(&PositionOpened {
                        step,
                        symbol: fill.symbol().to_owned(),
                        quantity: fill.quantity(),
                        price: fill.price(),
                    })?;
                } else if before != 0.0 && book.positions[s] == 0.0 {
                    ledger.event(&PositionClosed {
                        step,
                        symbol: fill.symbol().to_owned(),
                        pnl: (fill.price() - entry) * before,
                    })?;
                }
                if let Some(levels) = pending_exits.remove(fill.symbol()) {
                    book.exits[s] = levels;
                }
                if book.positions[s] <= 0.0 {
                    book.exits[s] = None;
                }
            }
            pass.quality = executed.quality;
            // 2. Mark to market at the close.
            let closes = view.closes();
            let held: f64 = book.positions.iter().zip(&closes).map(|(q, c)| q * c).sum();
            book.equity = book.cash + held;
            book.peak = book.peak.max(book.equity);
            pass.record_day(
                step - first,
                book.equity,
                prev_equity,
                &book.positions,
                &closes,
            );
            prev_equity = book.equity;
            ledger.event(&DayClosed {
                step,
                closes: closes.clone(),
            })?;
            if main {
                let gross: f64 = book
                    .positions
                    .iter()
                    .zip(&closes)
                    .map(|(q, c)| (q * c).abs())
                    .sum();
                metrics::gauge!("cadre_desk_equity").set(book.equity);
                metrics::gauge!("cadre_desk_pnl").set(book.equity - cfg.cash);
                metrics::gauge!("cadre_desk_exposure").set(if book.equity > 0.0 {
                    gross / book.equity
                } else {
                    0.0
                });
                metrics::gauge!("cadre_desk_drawdown").set(book.drawdown());
                if step.is_multiple_of(21) && pass.returns.len() >= 20 {
                    let recent = &pass.returns[pass.returns.len().saturating_sub(252)..];
                    if let Ok(v) = cadre_pack_trading::risk::historical_var(recent, 0.05) {
                        metrics::gauge!("cadre_desk_var_95").set(v);
                    }
                }
            }
            // 3. Learning: judge the decisions made `horizon` days ago.
            while waiting
                .front()
                .is_some_and(|p| p.step + cfg.horizon <= step)
            {
                let p = waiting.pop_front().expect("checked");
                let then = self.tape.view(p.step).close(p.symbol);
                let reward = p.side.sign() * (closes[p.symbol] / then - 1.0);
                let action = match p.side {
                    Side::Buy => Action::Buy,
                    Side::Sell => Action::Sell,
                };
                if replay.len() >= cfg.replay.max(1) {
                    replay.pop_front();
                }
                replay.push_back(Experience::new(
                    vec![p.score, closes[p.symbol]],
                    action,
                    reward,
                )?);
                for (voter, sign, confidence) in &p.votes {
                    let right = (*sign > 0.0) == (reward > 0.0);
                    if let Some(st) = stats.get_mut(voter) {
                        st.judged += 1;
                        st.right += usize::from(right);
                    }
                    if weighting == Weighting::Adaptive
                        && let Some(w) = weights.get_mut(voter)
                    {
                        let signed = if right { 1.0 } else { -1.0 };
                        *w *= (cfg.eta * signed * confidence).exp();
                    }
                }
                if weighting == Weighting::Adaptive {
                    normalise(&mut weights, &cfg.voters);
                }
            }
            if let Some(s) = &session {
                s.update(self.status(run, step, n, &book, false))?;
            }
            if halted || step + 1 == n {
                continue;
            }
            let input = StepInput {
                run: run.to_owned(),
                data: self.spec.clone(),
                step,
                book: book.clone(),
            };
            // 4. Risk: stops, limits, the kill switch.
            let risk: Proposals = self
                .call(RISK_CHECK, Route::Capability, input.clone())
                .await?;
            for b in &risk.breaches {
                ledger.event(&RiskLimitBreached {
                    step,
                    breach: b.clone(),
                    halt: risk.halt,
                })?;
                pass.breaches.push(report::BreachRecord {
                    step,
                    date: view.time().date_naive().to_string(),
                    breach: b.clone(),
                });
            }
            if risk.halt {
                halted = true;
                pass.halted_at = Some(step);
                ledger.audit(
                    "halt",
                    format!("desk/{run}"),
                    serde_json::json!({
                        "step": step,
                        "date": view.time().date_naive().to_string(),
                        "breaches": risk.breaches,
                        "action": "kill switch: no new trades; every position closed at the next open",
                    }),
                );
                for (s, q) in book.positions.iter().enumerate() {
                    if *q > 0.0 {
                        orders.push(market_sell(
                            &mut next_order,
                            view.symbols()[s].clone(),
                            *q,
                            closes[s],
                            &view,
                        )?);
                    }
                }
                continue;
            }
            let mut exiting = std::collections::HashSet::new();
            for p in &risk.proposals {
                // Risk exits are mandatory: they bypass the vote and are logged as such.
                let s = self.column(p.symbol())?;
                exiting.insert(s);
                let q = p.size().min(book.positions[s]);
                if q > 0.0 {
                    orders.push(market_sell(
                        &mut next_order,
                        p.symbol(),
                        q,
                        closes[s],
                        &view,
                    )?);
                }
                let record = DecisionRecord::mandatory(step, &view.time(), p);
                audit_decision(&mut ledger, run, &record, main);
                pass.decisions.push(record);
            }
            // Paper: an operator's flatten and resolved reviews.
            let mut approved = Vec::new();
            if let Some(s) = &session {
                if let Some(by) = s.take_flatten()? {
                    for (i, q) in book.positions.iter().enumerate() {
                        if *q > 0.0 && !exiting.contains(&i) {
                            exiting.insert(i);
                            orders.push(market_sell(
                                &mut next_order,
                                view.symbols()[i].clone(),
                                *q,
                                closes[i],
                                &view,
                            )?);
                        }
                    }
                    ledger.audit(
                        "flatten",
                        format!("desk/{run}"),
                        serde_json::json!({ "step": step, "by": by, "positions": book.positions }),
                    );
                    pass.flattened.push((step, by));
                }
                for r in s.take_resolved()? {
                    let record =
                        DecisionRecord::voted(step, &view.time(), &r.proposal, &r.decision);
                    ledger.audit(
                        "review",
                        format!("desk/{run}/{}", r.proposal.id().0),
                        serde_json::json!({ "by": r.by, "decision": record }),
                    );
                    audit_decision(&mut ledger, run, &record, main);
                    pass.decisions.push(record);
                    if r.decision.outcome() == Outcome::Approved {
                        approved.push(r.proposal);
                    }
                }
            }
            // 5. Proposals: the analyst every day, the optimiser on rebalance days.
            let analysed: Proposals = self
                .call(agents::ANALYZE, Route::Capability, input.clone())
                .await?;
            let mut proposals: Vec<TradingProposal> = analysed.proposals;
            if step.is_multiple_of(cfg.rebalance_every) {
                let rebalanced: Proposals = self
                    .call(REBALANCE, Route::Capability, input.clone())
                    .await?;
                if let Some(t) = rebalanced.targets {
                    pass.targets.push((step, t.clone()));
                    targets = Some(t);
                }
                proposals.extend(rebalanced.proposals);
            }
            if step.is_multiple_of(cfg.price_every) {
                // The options book is watched, not traded: if it cannot be valued (the pricing
                // agent's breaker open, retries spent), the run goes on and says so.
                match self
                    .call::<_, BookGreeks>(PRICE, Route::Capability, input.clone())
                    .await
                {
                    Ok(greeks) => {
                        for breach in &greeks.breaches {
                            ledger.audit(
                                "greeks_breach",
                                format!("desk/{run}"),
                                serde_json::json!({ "step": step, "breach": breach }),
                            );
                        }
                        pass.greeks.push(greeks);
                    }
                    Err(e) => pass.breaches.push(report::BreachRecord {
                        step,
                        date: view.time().date_naive().to_string(),
                        breach: format!("the options book was not valued: {e}"),
                    }),
                }
            }
            proposals.retain(|p| self.column(p.symbol()).is_ok_and(|s| !exiting.contains(&s)));
            // 6. Votes from every voter, in parallel; then consensus.
            if !proposals.is_empty() {
                let request = VoteRequest {
                    step: input.clone(),
                    proposals: proposals.clone(),
                    targets: targets.clone(),
                };
                let mut calls = Vec::with_capacity(cfg.voters.len());
                for voter in cfg.voters.keys() {
                    let kind = AgentKind::new(voter)?;
                    calls.push(self.call::<_, Ballots>(VOTE, Route::Kind(kind), request.clone()));
                }
                let answers = join_all(calls).await;
                let mut ballots: Vec<Ballots> = Vec::with_capacity(answers.len());
                // A voter that cannot answer abstains (its reason says why); the others decide.
                for (voter, a) in cfg.voters.keys().zip(answers) {
                    ballots.push(a.unwrap_or_else(|e| {
                        Ballots {
                            voter: voter.clone(),
                            ballots: proposals
                                .iter()
                                .map(|_| super::messages::Ballot {
                                    verdict: crate::model::Verdict::Abstain,
                                    confidence: 0.0,
                                    reasons: vec![format!("unavailable: {e}")],
                                })
                                .collect(),
                        }
                    }));
                }
                for (i, p) in proposals.iter().enumerate() {
                    let mut votes = Vec::with_capacity(ballots.len());
                    for b in &ballots {
                        let Some(ballot) = b.ballots.get(i) else {
                            return Err(Error::invalid_input(format!(
                                "voter `{}` answered {} ballots for {} proposals",
                                b.voter,
                                b.ballots.len(),
                                proposals.len()
                            )));
                        };
                        let weight = weights.get(&b.voter).copied().unwrap_or(0.0);
                        votes.push(Vote::new(
                            b.voter.clone(),
                            ballot.verdict,
                            ballot.confidence,
                            weight,
                            ballot.reasons.clone(),
                        )?);
                        if let Some(st) = stats.get_mut(&b.voter) {
                            st.votes += 1;
                        }
                    }
                    let decision = engine.decide(p, &votes);
                    let s = self.column(p.symbol())?;
                    if decision.outcome() == Outcome::Approved {
                        approved.push(p.clone());
                    }
                    if decision.outcome() == Outcome::ManualReview
                        && let Some(s) = &session
                    {
                        s.review(decision.clone(), p.clone())?;
                    }
                    waiting.push_back(Pending {
                        step,
                        symbol: s,
                        side: p.side(),
                        votes: votes
                            .iter()
                            .filter_map(|v| {
                                v.verdict()
                                    .sign()
                                    .map(|sign| (v.agent().to_owned(), sign, v.confidence()))
                            })
                            .collect(),
                        score: decision.score(),
                    });
                    let record = DecisionRecord::voted(step, &view.time(), p, &decision);
                    audit_decision(&mut ledger, run, &record, main);
                    pass.decisions.push(record);
                }
            }
            if approved.is_empty() {
                continue;
            }
            // 7. Sizing: approved proposals become orders with stops.
            let sized: SizedOrders = self
                .call(
                    SIZE,
                    Route::Capability,
                    SizeRequest {
                        step: input,
                        approved,
                        targets: targets.clone(),
                        next_order,
                    },
                )
                .await?;
            next_order += sized.orders.len() as u64;
            for (o, levels) in sized.orders.into_iter().zip(sized.exits) {
                if o.side() == Side::Buy {
                    pending_exits.insert(o.symbol().to_owned(), levels);
                }
                orders.push(o);
            }
        }
        ledger.flush().await?;
        if main {
            for (agent, st) in &stats {
                if st.judged > 0 {
                    metrics::gauge!("cadre_desk_agent_accuracy", "agent" => agent.clone())
                        .set(st.right as f64 / st.judged as f64);
                }
                metrics::gauge!("cadre_desk_agent_weight", "agent" => agent.clone())
                    .set(weights.get(agent).copied().unwrap_or(0.0));
            }
        }
        pass.weights = weights;
        pass.agents = stats;
        pass.replay = replay.len();
        pass.final_book = book;
        Ok(pass)
    }

    /// Reports progress in the entry task's progress register (best effort: a failure to
    /// write it is logged, not fatal).
    async fn progress(&self, done: usize, total: usize, message: &str) {
        let Some(bus) = self.cx.get::<std::sync::Arc<dyn cadre_bus::Bus>>() else {
            return;
        };
        let value = cadre_runtime::protocol::Progress {
            done: done as u64,
            total: total as u64,
            message: message.to_owned(),
        };
        let Ok(json) = serde_json::to_string(&value) else {
            return;
        };
        let key = cadre_runtime::protocol::progress_key(self.task);
        if let Err(e) = bus.set_control(&key, Some(json)).await {
            tracing::debug!(target: "cadre::desk", "progress not recorded: {e}");
        }
    }

    /// Records the kill switch's state; a change is audited at the session's next step.
    fn note_halt(&self, pulled: bool) -> Result<()> {
        let mut h = self.halt.lock().map_err(|_| Error::internal("poisoned"))?;
        if h.0 != pulled {
            h.0 = pulled;
            h.1.push(pulled);
        }
        Ok(())
    }

    fn status(
        &self,
        run: &str,
        step: usize,
        n: usize,
        book: &BookView,
        halted: bool,
    ) -> session::SessionStatus {
        let symbols = self.tape.symbols();
        session::SessionStatus {
            run: run.to_owned(),
            out: self.out.display().to_string(),
            step,
            days: n,
            date: self.tape.times()[step].date_naive().to_string(),
            equity: book.equity,
            positions: book
                .positions
                .iter()
                .enumerate()
                .filter(|(_, q)| **q != 0.0)
                .map(|(i, q)| (symbols[i].clone(), *q))
                .collect(),
            halted,
            ..session::SessionStatus::default()
        }
    }

    fn column(&self, symbol: &str) -> Result<usize> {
        self.tape
            .symbols()
            .iter()
            .position(|s| s == symbol)
            .ok_or_else(|| Error::invalid_input(format!("unknown symbol `{symbol}`")))
    }
}

/// Awaits every future, in order.
pub(crate) async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

/// Answers an operator's request left in the bus's control register, once, and publishes the
/// sessions' status.
async fn serve_registers(bus: &dyn cadre_bus::Bus, last: &mut Option<String>) -> Result<()> {
    if let Some(text) = bus.control(session::REQUEST_KEY).await? {
        match serde_json::from_str::<session::RegisterRequest>(&text.value) {
            Ok(request) if last.as_deref() != Some(request.id.as_str()) => {
                *last = Some(request.id.clone());
                let reply = session::RegisterReply {
                    id: request.id,
                    result: session::control(&request.control).map_err(|e| e.to_string()),
                };
                let json = serde_json::to_string(&reply)
                    .map_err(|e| Error::internal(format!("encoding a reply: {e}")))?;
                bus.set_control(session::REPLY_KEY, Some(json)).await?;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(target: "cadre::desk", "ignoring a bad `{}` register: {e}", session::REQUEST_KEY);
            }
        }
    }
    let status = session::control(&session::DeskControl::new(
        None,
        session::ControlAction::Status,
    ))?;
    let json = serde_json::to_string(&status)
        .map_err(|e| Error::internal(format!("encoding the status: {e}")))?;
    bus.set_control(session::STATUS_KEY, Some(json)).await
}

/// A market sell order with the next order id, arriving at `price` on the view's bar.
fn market_sell(
    next_order: &mut u64,
    symbol: impl Into<String>,
    quantity: f64,
    price: f64,
    view: &super::tape::View<'_>,
) -> Result<Order> {
    let order = Order::new(
        crate::model::OrderId(*next_order),
        symbol,
        Side::Sell,
        quantity,
        crate::model::OrderKind::Market,
        price,
        view.time(),
    )?;
    *next_order += 1;
    Ok(order)
}

/// Puts a decision on the audit trail (and counts it in the metrics, for the main pass).
fn audit_decision(ledger: &mut Ledger, run: &str, record: &DecisionRecord, main: bool) {
    if main {
        metrics::counter!("cadre_desk_decisions_total", "outcome" => record.outcome.clone())
            .increment(1);
    }
    let detail = serde_json::to_value(record).unwrap_or(serde_json::Value::Null);
    ledger.audit(
        "decide",
        format!("desk/{run}/{}-{}", record.step, record.symbol),
        detail,
    );
}

/// Keeps every weight at or above a tenth of its starting weight (a voter that was wrong for
/// a while is muted, not silenced for good), then rescales the weights so their sum equals the
/// configured weights' sum.
fn normalise(weights: &mut BTreeMap<String, f64>, start: &BTreeMap<String, f64>) {
    for (k, w) in weights.iter_mut() {
        let floor = start.get(k).copied().unwrap_or(0.0) * 0.1;
        *w = w.max(floor);
    }
    let total: f64 = weights.values().sum();
    let want: f64 = start.values().sum();
    if total > 0.0 {
        for w in weights.values_mut() {
            *w *= want / total;
        }
    }
}

/// Books a fill: cash, position, average cost, round trips.
fn apply_fill(book: &mut BookView, cost: &mut [f64], pass: &mut Pass, s: usize, fill: &Fill) {
    let q = fill.quantity();
    let p = fill.price();
    let held = book.positions[s];
    match fill.side() {
        Side::Buy => {
            book.cash -= q * p + fill.commission();
            let new = held + q;
            if new != 0.0 {
                cost[s] = (cost[s] * held.max(0.0) + q * p) / new.max(f64::MIN_POSITIVE);
            }
            book.positions[s] = new;
        }
        Side::Sell => {
            book.cash += q * p - fill.commission();
            if held > 0.0 {
                let closed = q.min(held);
                let pnl = (p - cost[s]) * closed;
                pass.round_trip(pnl);
            }
            book.positions[s] = held - q;
            if book.positions[s].abs() < 1e-9 {
                book.positions[s] = 0.0;
                cost[s] = 0.0;
            }
        }
    }
    pass.fees += fill.commission();
    pass.slippage += fill.slippage() * q;
    pass.traded += q * p;
    pass.fills += 1;
}
