//! `cadre desk ...`: the trading desk's backtester and its data, from the command line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use cadre_pack_desk::backtest::{Backtest, BacktestConfig, BacktestReport, SmaCross};
use cadre_pack_desk::broker::{CommissionModel, SimBroker, SimConfig, SlippageModel};
use cadre_pack_trading::market::{Bars, SyntheticMarket, load_csv};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use crate::output;

/// `cadre desk ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum DeskCommand {
    /// Backtest a strategy over OHLCV CSV files or a seeded synthetic market, with commission
    /// and slippage; market orders fill at the next bar's open (backtrader's default).
    ///
    /// Prints the final equity, fills, fees and slippage (stdout) and the speed (stderr).
    Backtest(BacktestArgs),
    /// Write a seeded synthetic market as one OHLCV CSV per symbol (`SYM00.csv`, ...), the
    /// data `--symbols/--days/--seed` backtests over.
    Data {
        #[command(flatten)]
        market: MarketArgs,
        /// The directory to write (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Show a desk run's report (the folder `cadre run crews/trading-desk.toml` printed).
    ///
    /// Prints the summary table (or the report's figures as JSON); with `--verify`, also
    /// rebuilds the book from its events in the run's event store and checks that the equity
    /// curve equals the report's, day by day.
    /// A running paper session (`cadre run crews/trading-desk.toml --set mode=paper`): its
    /// step, equity, positions and the proposals waiting for review.
    Status(OperatorArgs),
    /// Close every position of a running paper session at the next bar's open (audited).
    Flatten {
        #[command(flatten)]
        op: OperatorArgs,
        /// Who asks (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// List the proposals of a paper session waiting for manual review, or approve or reject
    /// one (audited; an approved one is sized and ordered at the next step).
    Review {
        #[command(flatten)]
        op: OperatorArgs,
        /// Approve this proposal id.
        #[arg(long, conflicts_with = "reject")]
        approve: Option<u64>,
        /// Reject this proposal id.
        #[arg(long)]
        reject: Option<u64>,
        /// Why (recorded on the audit trail).
        #[arg(long, default_value = "")]
        why: String,
        /// Who decides (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    Report {
        /// The run folder (holding report.json and book.db).
        run: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: SummaryFormat,
        /// Rebuild the equity curve from the book's events and compare it with the report.
        #[arg(long)]
        verify: bool,
        /// The run's event store, when not `sqlite://RUN/book.db`.
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
}

/// Where a paper session runs.
#[derive(Debug, Clone, Args)]
pub(crate) struct OperatorArgs {
    /// The crew manifest of the running desk (its bus is how this command reaches it).
    #[arg(long, default_value = "crews/trading-desk.toml")]
    crew: PathBuf,
    /// The session's run id, when several run.
    #[arg(long)]
    run: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: SummaryFormat,
}

impl DeskCommand {
    /// Whether the command talks to a running crew (it needs the async runtime).
    pub(crate) fn is_operator(&self) -> bool {
        matches!(
            self,
            Self::Status(_) | Self::Flatten { .. } | Self::Review { .. }
        )
    }
}

/// Strategies `cadre desk backtest` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StrategyName {
    /// Long-only SMA crossover: buy `--stake` when SMA(fast) crosses above SMA(slow), close
    /// when it crosses below.
    SmaCross,
}

/// How `cadre desk backtest` prints its summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum SummaryFormat {
    /// One `name  value` line per figure.
    #[default]
    Table,
    /// One JSON object.
    Json,
}

/// The synthetic market's shape.
#[derive(Debug, Clone, Args)]
pub(crate) struct MarketArgs {
    /// Symbols of the synthetic market.
    #[arg(long, default_value_t = 20)]
    symbols: usize,
    /// Bars per symbol (days for daily bars).
    #[arg(long, alias = "bars", default_value_t = 2520)]
    days: usize,
    /// The generator's seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// The time between bars (`1d`, `1m`, ...).
    #[arg(long, default_value = "1d", value_parser = humantime::parse_duration)]
    interval: Duration,
}

#[derive(Debug, Args)]
pub(crate) struct BacktestArgs {
    /// The strategy.
    #[arg(long, value_enum, default_value = "sma-cross")]
    strategy: StrategyName,
    /// The fast SMA's period.
    #[arg(long, default_value_t = 10)]
    fast: usize,
    /// The slow SMA's period.
    #[arg(long, default_value_t = 30)]
    slow: usize,
    /// Units a trade.
    #[arg(long, default_value_t = 100.0)]
    stake: f64,
    /// Cash at the start.
    #[arg(long, default_value_t = 1_000_000.0)]
    cash: f64,
    /// A directory of OHLCV CSV files, one per symbol (the file name without `.csv`);
    /// without it, a synthetic market (`--symbols`, `--days`, `--seed`).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    #[command(flatten)]
    market: MarketArgs,
    /// Commission in basis points of the notional.
    #[arg(long, default_value_t = 0.0)]
    commission_bps: f64,
    /// The least commission per fill.
    #[arg(long, default_value_t = 0.0)]
    commission_min: f64,
    /// Fixed slippage in basis points (the fill moves against the order, within the bar).
    #[arg(long, default_value_t = 0.0, conflicts_with = "impact")]
    slippage_bps: f64,
    /// Square-root market impact coefficient instead of fixed slippage.
    #[arg(long)]
    impact: Option<f64>,
    /// The most of a bar's volume that fills per bar (0..1]; the rest fills later.
    #[arg(long)]
    volume_cap: Option<f64>,
    /// Extra bars before an order is first considered.
    #[arg(long, default_value_t = 0)]
    latency: usize,
    /// Runs, for timing: the fastest counts (the results are identical).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: SummaryFormat,
    /// Write every fill to this CSV (`time,symbol,side,quantity,price,commission,slippage`).
    #[arg(long, value_name = "FILE")]
    trades: Option<PathBuf>,
}

pub(crate) fn run(cmd: DeskCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DeskCommand::Backtest(args) => backtest(&args),
        DeskCommand::Status(_) | DeskCommand::Flatten { .. } | DeskCommand::Review { .. } => {
            anyhow::bail!("operator commands run on the async runtime")
        }
        DeskCommand::Report {
            run,
            format,
            verify,
            store,
        } => report(&run, format, verify, store.as_deref()),
        DeskCommand::Data { market, out } => {
            let data = synthetic(&market)?;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let daily = market.interval.as_secs() % 86_400 == 0;
            for (symbol, bars) in &data {
                let path = out.join(format!("{symbol}.csv"));
                std::fs::write(&path, csv(bars, daily))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            output::note(format!(
                "desk data: {} symbols × {} bars written to {}",
                data.len(),
                market.days,
                out.display()
            ));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The synthetic market: prices 50, 60, 70, ...; pairwise correlation 0.3.
fn synthetic(m: &MarketArgs) -> anyhow::Result<Vec<(String, Bars)>> {
    if m.symbols == 0 || m.days == 0 {
        anyhow::bail!("--symbols and --days must be at least 1");
    }
    let prices: Vec<f64> = (0..m.symbols).map(|i| 50.0 + 10.0 * i as f64).collect();
    let corr: Vec<Vec<f64>> = (0..m.symbols)
        .map(|i| {
            (0..m.symbols)
                .map(|j| if i == j { 1.0 } else { 0.3 })
                .collect()
        })
        .collect();
    let mut market = SyntheticMarket::correlated(prices, corr, m.seed);
    market.interval = chrono::TimeDelta::from_std(m.interval).context("--interval")?;
    if market.interval.is_zero() {
        anyhow::bail!("--interval must be positive");
    }
    if market.interval < chrono::TimeDelta::days(1) {
        // Scale the per-bar volatility, drift and volume from daily to the interval.
        let per_day = 86_400.0 / market.interval.as_seconds_f64();
        market.drift /= per_day;
        for r in &mut market.regimes {
            r.volatility /= per_day.sqrt();
            r.mean_volume /= per_day;
        }
        market.jump_intensity /= per_day;
    }
    Ok(market
        .generate(m.days)?
        .into_iter()
        .enumerate()
        .map(|(i, b)| (format!("SYM{i:02}"), b))
        .collect())
}

/// Every `*.csv` of `dir`, by file name, each a symbol named after the file.
fn load_dir(dir: &Path) -> anyhow::Result<Vec<(String, Bars)>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading --data {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    if files.is_empty() {
        anyhow::bail!("--data {}: no .csv files", dir.display());
    }
    files
        .iter()
        .map(|p| {
            let symbol = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((symbol, load_csv(p)?))
        })
        .collect()
}

fn csv(bars: &Bars, daily: bool) -> String {
    let mut out = String::from("date,open,high,low,close,volume\n");
    for b in bars {
        let time = if daily {
            b.time().format("%Y-%m-%d").to_string()
        } else {
            b.time().format("%Y-%m-%dT%H:%M:%SZ").to_string()
        };
        let _ = writeln!(
            out,
            "{time},{},{},{},{},{}",
            b.open(),
            b.high(),
            b.low(),
            b.close(),
            b.volume()
        );
    }
    out
}

/// The summary printed on stdout (no timing: the same inputs print the same bytes).
#[derive(Debug, Serialize)]
struct Summary<'a> {
    strategy: &'a str,
    symbols: usize,
    bars: usize,
    initial_cash: f64,
    final_cash: f64,
    final_equity: f64,
    total_return: f64,
    fills: usize,
    round_trips: usize,
    fees: f64,
    slippage: f64,
    fill_rate: f64,
    slippage_vs_arrival_bps: f64,
    working_orders: usize,
}

fn backtest(args: &BacktestArgs) -> anyhow::Result<ExitCode> {
    let loading = Instant::now();
    let data = match &args.data {
        Some(dir) => load_dir(dir)?,
        None => synthetic(&args.market)?,
    };
    let load_time = loading.elapsed();
    let config = SimConfig {
        commission: CommissionModel::bps(args.commission_bps, args.commission_min)
            .context("--commission-bps / --commission-min")?,
        slippage: match args.impact {
            Some(coefficient) => SlippageModel::SquareRootImpact { coefficient },
            None if args.slippage_bps > 0.0 => SlippageModel::FixedBps {
                bps: args.slippage_bps,
            },
            None => SlippageModel::None,
        },
        volume_cap: args.volume_cap,
        latency_bars: args.latency,
    };
    let settings = BacktestConfig {
        initial_cash: args.cash,
        equity_curve: true,
    };
    let mut best: Option<(Duration, BacktestReport)> = None;
    for _ in 0..args.repeat.max(1) {
        let broker = SimBroker::new(config).context("broker settings")?;
        let mut strategy = match args.strategy {
            StrategyName::SmaCross => SmaCross::new(args.fast, args.slow, args.stake)
                .context("--fast / --slow / --stake")?,
        };
        let start = Instant::now();
        let report = Backtest::new(settings, broker).run(&data, &mut strategy)?;
        let took = start.elapsed();
        if best.as_ref().is_none_or(|(t, _)| took < *t) {
            best = Some((took, report));
        }
    }
    let Some((took, report)) = best else {
        anyhow::bail!("no run");
    };
    let secs = took.as_secs_f64().max(1e-9);
    output::note(format!(
        "desk backtest: {} bars of {} symbols in {:.3} ms (best of {}): {:.0} bars/s; loading took {:.1} ms",
        report.bars,
        report.symbols.len(),
        secs * 1e3,
        args.repeat.max(1),
        report.bars as f64 / secs,
        load_time.as_secs_f64() * 1e3
    ));
    if let Some(path) = &args.trades {
        std::fs::write(path, trades_csv(&report))
            .with_context(|| format!("writing --trades {}", path.display()))?;
    }
    let summary = Summary {
        strategy: "sma-cross",
        symbols: report.symbols.len(),
        bars: report.bars,
        initial_cash: report.initial_cash,
        final_cash: report.final_cash,
        final_equity: report.final_equity,
        total_return: report.final_equity / report.initial_cash - 1.0,
        fills: report.fills.len(),
        round_trips: report.round_trips,
        fees: report.fees,
        slippage: report.slippage,
        fill_rate: report.execution.fill_rate(),
        slippage_vs_arrival_bps: report.execution.slippage_bps(),
        working_orders: report.working_orders,
    };
    match args.format {
        SummaryFormat::Json => output::json(&summary)?,
        SummaryFormat::Table => {
            let rows = [
                ("strategy", summary.strategy.to_owned()),
                ("symbols", summary.symbols.to_string()),
                ("bars", summary.bars.to_string()),
                ("initial_cash", format!("{:.2}", summary.initial_cash)),
                ("final_cash", format!("{:.2}", summary.final_cash)),
                ("final_equity", format!("{:.6}", summary.final_equity)),
                (
                    "total_return",
                    format!("{:.4}%", summary.total_return * 100.0),
                ),
                ("fills", summary.fills.to_string()),
                ("round_trips", summary.round_trips.to_string()),
                ("fees", format!("{:.2}", summary.fees)),
                ("slippage", format!("{:.2}", summary.slippage)),
                ("fill_rate", format!("{:.4}", summary.fill_rate)),
                (
                    "slippage_vs_arrival_bps",
                    format!("{:.2}", summary.slippage_vs_arrival_bps),
                ),
                ("working_orders", summary.working_orders.to_string()),
            ];
            let rows: Vec<Vec<String>> = rows
                .into_iter()
                .map(|(k, v)| vec![k.to_owned(), v])
                .collect();
            output::table(&["figure", "value"], &rows);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn trades_csv(report: &BacktestReport) -> String {
    let mut out = String::from("time,symbol,side,quantity,price,commission,slippage\n");
    for f in &report.fills {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            f.time().format("%Y-%m-%dT%H:%M:%SZ"),
            f.symbol(),
            f.side().as_str(),
            f.quantity(),
            f.price(),
            f.commission(),
            f.slippage()
        );
    }
    out
}

fn report(
    run: &Path,
    format: SummaryFormat,
    verify: bool,
    store: Option<&str>,
) -> anyhow::Result<ExitCode> {
    use cadre_pack_desk::crew::{Book, Report, render_text};
    let path = run.join("report.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (is {} a desk run folder?)",
            path.display(),
            run.display()
        )
    })?;
    let report: Report = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a desk report", path.display()))?;
    match format {
        SummaryFormat::Table => output::data(render_text(run, &report).trim_end()),
        SummaryFormat::Json => output::data(serde_json::to_string_pretty(&report.headline())?),
    }
    if !verify {
        return Ok(ExitCode::SUCCESS);
    }
    let url = store.map_or_else(
        || format!("sqlite://{}", run.join("book.db").display()),
        str::to_owned,
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (stream, state) = rt.block_on(async {
        let store = cadre_store::connect(&url)
            .await
            .with_context(|| format!("opening the run's event store {url}"))?;
        let books = store
            .list_streams("desk/", None, cadre_store::MAX_READ)
            .await?;
        let main = books
            .iter()
            .map(|b| b.stream.clone())
            .find(|s| s.as_str().ends_with("-main/book"))
            .with_context(|| format!("{url}: no desk book stream (desk/<run>-main/book)"))?;
        let (state, _) = cadre_store::Repository::<Book>::new(store)
            .load_from_events(&main)
            .await?;
        anyhow::Ok((main, state))
    })?;
    if state.equity.len() != report.equity.len() {
        anyhow::bail!(
            "{stream}: the events give {} days of equity, the report {}",
            state.equity.len(),
            report.equity.len()
        );
    }
    if let Some((day, (a, b))) = state
        .equity
        .iter()
        .zip(&report.equity)
        .enumerate()
        .find(|(_, (a, b))| a.to_bits() != b.to_bits())
    {
        anyhow::bail!("{stream}: day {day}: equity from events {a} differs from the report's {b}");
    }
    output::note(format!(
        "verified: {stream} rebuilds {} days of equity from {} fills, equal to the report (final {:.2})",
        state.equity.len(),
        state.fills,
        state.equity.last().copied().unwrap_or_default()
    ));
    Ok(ExitCode::SUCCESS)
}

fn who(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "operator".to_owned())
}

/// `cadre desk status|flatten|review`: through the bus's control registers, which work while
/// the crew's node owns the bus (as `cadre halt` does).
pub(crate) async fn operate(
    cmd: DeskCommand,
    loaded: cadre_config::Loaded,
) -> anyhow::Result<ExitCode> {
    use cadre_bus::Bus as _;
    use cadre_pack_desk::crew::{
        ControlAction, DeskControl, DeskStatus, REPLY_KEY, REQUEST_KEY, RegisterReply,
        RegisterRequest, STATUS_KEY,
    };
    let (op, action) = match cmd {
        DeskCommand::Status(op) => (op, ControlAction::Status),
        DeskCommand::Flatten { op, by } => (op, ControlAction::Flatten { by: who(by) }),
        DeskCommand::Review {
            op,
            approve,
            reject,
            why,
            by,
        } => {
            let by = who(by);
            let action = match (approve, reject) {
                (Some(proposal), _) => ControlAction::Approve { proposal, by, why },
                (None, Some(proposal)) => ControlAction::Reject { proposal, by, why },
                (None, None) => ControlAction::Status,
            };
            (op, action)
        }
        other => anyhow::bail!("not an operator command: {other:?}"),
    };
    let manifest = super::crew::load(&op.crew, loaded.profile.as_deref())?;
    let bus = super::crew::open_bus_for_control(&manifest, &loaded).await?;
    let status: DeskStatus = if action == ControlAction::Status {
        let text = bus.control(STATUS_KEY).await?.with_context(|| {
            format!(
                "no desk paper session has run on the bus of {}",
                op.crew.display()
            )
        })?;
        serde_json::from_str(&text.value).context("the desk's status register")?
    } else {
        let id = uuid::Uuid::now_v7().to_string();
        let request = RegisterRequest {
            id: id.clone(),
            control: DeskControl::new(op.run.clone(), action),
        };
        bus.set_control(REQUEST_KEY, Some(serde_json::to_string(&request)?))
            .await?;
        // The session reads the register at its next bar: wait for the answer to this id.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(text) = bus.control(REPLY_KEY).await?
                && let Ok(reply) = serde_json::from_str::<RegisterReply>(&text.value)
                && reply.id == id
            {
                break reply
                    .result
                    .map_err(|e| anyhow::anyhow!("the desk refused: {e}"))?;
            }
            if std::time::Instant::now() > deadline {
                anyhow::bail!(
                    "no paper session on the bus of {} answered within 30 s (is `cadre run {} --set mode=paper` running?)",
                    op.crew.display(),
                    op.crew.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    match op.format {
        SummaryFormat::Json => output::data(serde_json::to_string_pretty(&status)?),
        SummaryFormat::Table => {
            let mut t = String::new();
            if !status.message.is_empty() {
                let _ = writeln!(t, "{}", status.message);
            }
            if status.sessions.is_empty() {
                let _ = writeln!(t, "no paper session is running");
            }
            for s in &status.sessions {
                let _ = writeln!(
                    t,
                    "{}: day {} of {} ({}), equity {:.2}, {} positions{}",
                    s.run,
                    s.step + 1,
                    s.days,
                    s.date,
                    s.equity,
                    s.positions.len(),
                    if s.halted { ", HALTED" } else { "" }
                );
                for p in &s.pending {
                    let _ = writeln!(
                        t,
                        "  review {}: {} {:.0} {} (score {:+.2}: {})",
                        p.proposal, p.side, p.size, p.symbol, p.score, p.reason
                    );
                }
            }
            output::data(t.trim_end());
        }
    }
    Ok(ExitCode::SUCCESS)
}
