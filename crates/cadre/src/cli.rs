//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::output::Format;

/// cadre: a runtime for reliable multi-agent systems.
#[derive(Debug, Parser)]
#[command(name = "cadre", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) source: ConfigSource,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check, explain and print configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Inspect, replay and purge dead letters in the local bus database.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// List, inspect and follow streams in the local bus database.
    #[command(subcommand)]
    Stream(StreamCommand),
    /// Measure throughput and latency.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run a whole crew in one process from its manifest (`crews/*.toml`).
    ///
    /// Starts every agent kind of the manifest on one node. With a `[run]` section, sends its
    /// entry task, prints the result (exit 1 when the task fails or its result is bad news,
    /// e.g. broken links) and drains; without, serves until Ctrl-C or SIGTERM, then drains.
    Run(RunArgs),
    /// Run part of a crew: the listed agent kinds, serving until Ctrl-C or SIGTERM.
    ///
    /// Several `cadre node` processes with distinct `--id`s share one crew over a bus they
    /// can all open.
    Node(NodeArgs),
    /// Show the agents registered on the bus (every node's last heartbeat).
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// Follow the error topic: every agent error with its code, agent, task and trace.
    #[command(subcommand)]
    Errors(ErrorsCommand),
    /// Pull the kill switch: every node sharing the bus stops taking tasks within a second.
    ///
    /// Tasks already running finish; queued ones wait. Works while the nodes run (the switch
    /// is a control register in the bus database). `cadre resume` releases it.
    Halt {
        /// Why (shown in logs, health and `cadre agents list`).
        #[arg(long, default_value = "halted by an operator")]
        reason: String,
        /// Who (default: $USER).
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        db: DbArg,
    },
    /// Release the kill switch: nodes take tasks again within a second.
    Resume {
        #[command(flatten)]
        db: DbArg,
    },
    /// Durable workflows: run one from a TOML definition, list, show, follow, approve or
    /// reject at a gate, cancel, resume, prune.
    #[command(subcommand)]
    Flow(FlowCommand),
    /// Query the audit trail: every recorded decision and state change, by conversation,
    /// agent, time range, stream or type.
    Audit(AuditArgs),
    /// Trading analytics on CSV files, without writing Rust.
    #[command(subcommand)]
    Quant(QuantCommand),
    /// The trading desk: backtests (`cadre desk backtest`) and their synthetic data.
    #[command(subcommand)]
    Desk(crate::cmd::desk::DeskCommand),
    /// The module dependency graph of a Python, JavaScript or TypeScript repository: cycles,
    /// dependency order, critical path and priorities (see docs/code-crew.md).
    Deps(crate::cmd::deps::DepsArgs),
}

/// How `cadre quant` prints its table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum TableFormat {
    /// Aligned columns for people (the last `--tail` rows).
    #[default]
    Table,
    /// CSV with a header (every row).
    Csv,
    /// One JSON object per row, in an array (every row).
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum QuantCommand {
    /// Technical indicators over an OHLCV CSV file (`date,open,high,low,close,volume`) or a
    /// Parquet file with those columns (`.parquet`/`.pq`),
    /// matching TA-Lib's values and warm-up (rows before an indicator's warm-up is over are
    /// empty in CSV, null in JSON).
    ///
    /// Columns are named after the indicator and its parameters: `sma_20`, `ema_12`, `wma_10`,
    /// `rsi_14`, `macd`, `macd_signal`, `macd_hist`, `bb_upper`, `bb_middle`, `bb_lower`,
    /// `atr_14`, `stoch_k`, `stoch_d`, `obv`, `vwap`.
    Indicators {
        /// The OHLCV CSV or Parquet file.
        file: PathBuf,
        /// Simple moving averages (periods, comma-separated).
        #[arg(long, value_delimiter = ',')]
        sma: Vec<usize>,
        /// Exponential moving averages (periods).
        #[arg(long, value_delimiter = ',')]
        ema: Vec<usize>,
        /// Weighted moving averages (periods).
        #[arg(long, value_delimiter = ',')]
        wma: Vec<usize>,
        /// RSI (Wilder) periods.
        #[arg(long, value_delimiter = ',')]
        rsi: Vec<usize>,
        /// MACD as FAST,SLOW,SIGNAL (e.g. 12,26,9).
        #[arg(long, value_name = "FAST,SLOW,SIGNAL")]
        macd: Option<String>,
        /// Bollinger Bands as PERIOD,DEVIATIONS (e.g. 20,2).
        #[arg(long, value_name = "PERIOD,DEVS")]
        bbands: Option<String>,
        /// ATR (Wilder) periods.
        #[arg(long, value_delimiter = ',')]
        atr: Vec<usize>,
        /// Stochastic as FASTK,SLOWK,SLOWD (TA-Lib's default 5,3,3).
        #[arg(long, value_name = "FASTK,SLOWK,SLOWD")]
        stoch: Option<String>,
        /// On-balance volume.
        #[arg(long)]
        obv: bool,
        /// Cumulative volume-weighted average price.
        #[arg(long)]
        vwap: bool,
        /// Rows shown by the table format (the most recent).
        #[arg(long, default_value_t = 20)]
        tail: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: TableFormat,
    },
    /// Price European options (Black-Scholes-Merton with a dividend yield): price, Greeks and,
    /// where a market `price` is given, the implied volatility.
    ///
    /// Input columns: `type` (call|put), `spot`, `strike`, `expiry_years`, `rate`, `dividend`,
    /// `volatility`, and optionally `price` (then `volatility` may be empty and the Greeks are
    /// at the implied volatility). Output columns add `price`, `delta`, `gamma`, `vega`,
    /// `theta`, `rho`, `iv`. Units as QuantLib reports them: vega and rho per 1.00 change of
    /// volatility / rate, theta per year. A bad row is reported with its line and skipped
    /// (exit 1); the others are printed.
    Price {
        /// The options CSV.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: TableFormat,
    },
    /// Risk statistics of return series: annual return and volatility, Sharpe, Sortino,
    /// Calmar, maximum drawdown and its duration, VaR and CVaR (historical, normal,
    /// Cornish-Fisher), as empyrical computes them (a loss is negative).
    ///
    /// Input: a `date` column and one column of daily simple returns per series. One output
    /// row per series.
    Risk {
        /// The returns CSV.
        file: PathBuf,
        /// VaR / CVaR confidence levels, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "0.95,0.99")]
        var: Vec<f64>,
        /// Risk-free return per period (as empyrical's `risk_free`).
        #[arg(long, default_value_t = 0.0)]
        risk_free: f64,
        /// Periods per year (252 for daily returns).
        #[arg(long, default_value_t = 252.0)]
        periods: f64,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: TableFormat,
    },
    /// Mean-variance portfolio optimisation over a directory of OHLCV CSV files (one per
    /// symbol): min-vol, max-sharpe, target-return, target-risk or the efficient frontier,
    /// as PyPortfolioOpt computes them (an exact active-set solver or Clarabel, see
    /// `--method`). Prints the weights by symbol with the expected return, volatility and
    /// Sharpe ratio (annual).
    Optimize(crate::cmd::quant_optimize::OptimizeArgs),
    /// Sentiment of dated headlines (VADER, as Python's `vaderSentiment` scores them): one row
    /// per headline, or with `--by-day` one per symbol and day.
    Sentiment(crate::cmd::quant_mc::SentimentArgs),
    /// Monte Carlo VaR and CVaR of return series (a geometric Brownian motion fitted to each
    /// series, seeded), beside the historical and normal VaR.
    Montecarlo(crate::cmd::quant_mc::MontecarloArgs),
}

/// Which event store (workflows, audit trail).
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArg {
    /// The store: `sqlite://PATH` or `postgres://...` (default: the `[store] url` of the
    /// `--crew` manifest, else `sqlite://<node.data_dir>/flows.db`).
    #[arg(long, value_name = "URL")]
    pub(crate) store: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum FlowCommand {
    /// Run a workflow from its TOML definition until it settles, printing each step on stderr
    /// and the final state on stdout.
    ///
    /// Exits 0 when it completes, 1 when it fails or is cancelled, 130 on Ctrl-C (the
    /// workflow stays where it is; `cadre flow resume ID` continues it).
    Run {
        /// The workflow definition (TOML).
        definition: PathBuf,
        /// The crew whose agents run the task nodes (started in this process).
        #[arg(long)]
        crew: Option<PathBuf>,
        /// The input state: a JSON object, or `@FILE` to read one.
        #[arg(long, default_value = "{}")]
        input: String,
        /// The workflow's id (default: `<graph>-<time-ordered uuid>`).
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        store: StoreArg,
        /// Output format of the result.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// List workflows, oldest first.
    List {
        /// Only workflows with this status (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED).
        #[arg(long)]
        status: Option<String>,
        /// Only workflows of this graph.
        #[arg(long)]
        graph: Option<String>,
        /// Include the child workflows of subflows.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        store: StoreArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show a workflow: status, history, steps, gates, decisions, saga, output.
    Show {
        /// The workflow's id.
        id: String,
        /// Also print every log entry.
        #[arg(long)]
        events: bool,
        #[command(flatten)]
        store: StoreArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Follow a workflow's steps live until it settles (exit 0 completed, 1 otherwise).
    Watch {
        /// The workflow's id.
        id: String,
        /// How often to look for new entries.
        #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
        poll: std::time::Duration,
        #[command(flatten)]
        store: StoreArg,
        /// Output format (`json`: one object per entry and line).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Approve the waiting gate of a workflow (or of one of its subflows).
    Approve(DecideArgs),
    /// Reject the waiting gate of a workflow (its reject path runs, or it fails).
    Reject(DecideArgs),
    /// Cancel a workflow and its subflows; its saga compensates.
    Cancel {
        /// The workflow's id.
        id: String,
        /// Why.
        #[arg(long, default_value = "cancelled by an operator")]
        reason: String,
        /// Who (default: $USER).
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Resume a workflow: retry a failed one from its last checkpoint, or continue one whose
    /// runner stopped. TOML-defined workflows run here (their definition is in the log).
    Resume {
        /// The workflow's id.
        id: String,
        /// The crew whose agents run the task nodes.
        #[arg(long)]
        crew: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArg,
        /// Output format of the result.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Delete the logs of settled workflows idle for longer than `--older-than`.
    Prune {
        /// Age, e.g. `30d`, `12h`.
        #[arg(long, value_parser = humantime::parse_duration)]
        older_than: std::time::Duration,
        /// Only list what would go.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        store: StoreArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// `cadre flow approve|reject`.
#[derive(Debug, Clone, Args)]
pub(crate) struct DecideArgs {
    /// The workflow's id (a parent finds gates in its subflows).
    pub(crate) id: String,
    /// The gate, when several wait (`NODE` or `WORKFLOW:NODE`).
    #[arg(long)]
    pub(crate) gate: Option<String>,
    /// Why.
    #[arg(long)]
    pub(crate) comment: Option<String>,
    /// Who (default: $USER).
    #[arg(long)]
    pub(crate) by: Option<String>,
    #[command(flatten)]
    pub(crate) store: StoreArg,
}

/// `cadre audit`.
#[derive(Debug, Clone, Args)]
pub(crate) struct AuditArgs {
    /// Only entries of this conversation.
    #[arg(long)]
    pub(crate) conversation: Option<String>,
    /// Only entries recorded by this agent.
    #[arg(long)]
    pub(crate) agent: Option<String>,
    /// From this time (RFC 3339) or age (`15m`, `2h`).
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Before this time (RFC 3339) or age.
    #[arg(long)]
    pub(crate) until: Option<String>,
    /// Only streams starting with this (e.g. `wf/`, `audit/`).
    #[arg(long)]
    pub(crate) stream: Option<String>,
    /// Only this event type (`flow.decided`), or a prefix ending in `*` (`flow.*`).
    #[arg(long = "type")]
    pub(crate) event_type: Option<String>,
    /// At most this many entries (the oldest first).
    #[arg(long, default_value_t = 100)]
    pub(crate) limit: usize,
    #[command(flatten)]
    pub(crate) store: StoreArg,
    /// Output format (`json`: one object per line).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
}

/// `cadre run`.
#[derive(Debug, Clone, Args)]
pub(crate) struct RunArgs {
    /// The crew manifest (TOML).
    pub(crate) manifest: PathBuf,
    /// The node's id (default: `<crew>-<pid>`).
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// Check the manifest and every agent's configuration, print the resolved crew, and exit.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Output format of the result (`json`: the task outcome).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
    /// Overrides a key of the entry task's input (`[run] input`), e.g. `--set days=500`
    /// or `--set out=runs/x`; the value is read as TOML (a number, `true`, a quoted or bare
    /// string). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) set: Vec<String>,
}

/// `cadre node`.
#[derive(Debug, Clone, Args)]
pub(crate) struct NodeArgs {
    /// The crew manifest (TOML).
    pub(crate) manifest: PathBuf,
    /// The agent kinds this node runs, comma-separated (default: every kind).
    #[arg(long, value_delimiter = ',')]
    pub(crate) agents: Vec<String>,
    /// The node's id (default: `<crew>-<pid>`); unique among the nodes of the crew.
    #[arg(long)]
    pub(crate) id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AgentsCommand {
    /// List the agent instances of every node: kind, node, health, work done, restarts.
    List {
        /// Include agents whose node stopped beating.
        #[arg(long)]
        all: bool,
        /// Heartbeats a node may miss before its agents count as dead.
        #[arg(long, default_value_t = 3)]
        missed: u32,
        #[command(flatten)]
        db: DbArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ErrorsCommand {
    /// Print recent agent errors, oldest first; `--follow` keeps printing new ones.
    Tail {
        /// Only errors since this time (RFC 3339) or age (`15m`, `2h`).
        #[arg(long)]
        since: Option<String>,
        /// How many to print (the most recent ones) when `--since` is not given.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Keep printing new errors until Ctrl-C.
        #[arg(long, short)]
        follow: bool,
        #[command(flatten)]
        db: DbArg,
        /// Output format (`json`: one object per line).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Check a configuration file: types, unknown keys, values, every profile overlay.
    ///
    /// Exits 0 when the file is valid and 1 when it is not, printing each problem with its key
    /// and the file (and line) or environment variable it came from. With `--profile`, only
    /// that profile is checked; without, the file alone and every profile it defines.
    Check {
        /// The TOML file to check.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Print the JSON Schema of the configuration file (for editors and validators).
    Schema,
    /// Print the effective configuration after every layer, with secrets redacted.
    Show {
        /// Output format (`text` prints TOML).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// Where configuration comes from; global, so it can follow any subcommand.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConfigSource {
    /// Configuration file (TOML).
    #[arg(long, short = 'c', env = "CADRE_CONFIG", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Profile overlay to apply (`dev`, `staging`, `prod` or one the file defines).
    #[arg(long, short = 'p', env = "CADRE_PROFILE", global = true)]
    pub(crate) profile: Option<String>,
}

impl ConfigSource {
    /// Loads configuration from this source.
    pub(crate) fn load(&self) -> Result<cadre_config::Loaded, cadre_config::ConfigError> {
        cadre_config::Loader::new()
            .file_opt(self.config.clone())
            .profile_opt(self.profile.clone())
            .load()
    }
}

/// Which bus database to open.
#[derive(Debug, Clone, Args)]
pub(crate) struct DbArg {
    /// The bus database file (default: `bus.path` from the configuration, else
    /// `<node.data_dir>/cadre.db`).
    #[arg(long)]
    pub(crate) db: Option<PathBuf>,
}

/// Which dead letters.
#[derive(Debug, Clone, Args)]
pub(crate) struct DlqSelect {
    /// Only dead letters of this stream.
    #[arg(long)]
    pub(crate) stream: Option<String>,
    /// Only dead letters of this consumer group.
    #[arg(long)]
    pub(crate) group: Option<String>,
    /// Only dead letters with this reason.
    #[arg(long, value_enum)]
    pub(crate) reason: Option<ReasonArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ReasonArg {
    /// Delivered the maximum number of times without an ack.
    MaxDeliveries,
    /// TTL ran out before delivery.
    Expired,
    /// Rejected by a consumer (e.g. it did not decode).
    Rejected,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DlqCommand {
    /// List dead letters, oldest first.
    List {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        select: DlqSelect,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show one dead letter in full: the message, the last error, every failed delivery.
    Show {
        /// The dead letter's id (from `cadre dlq list`).
        id: u64,
        #[command(flatten)]
        db: DbArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Re-publish dead letters to their streams and remove them from the dead-letter store.
    ///
    /// Needs write access: stop the node that holds the database first.
    Replay {
        /// Ids to replay.
        ids: Vec<u64>,
        /// Replay every dead letter matching the filters instead of listed ids.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        #[command(flatten)]
        select: DlqSelect,
        #[command(flatten)]
        db: DbArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Delete dead letters. Needs ids, a filter, or `--all`.
    Purge {
        /// Ids to delete.
        ids: Vec<u64>,
        /// Delete every dead letter (or every one matching the filters).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        select: DlqSelect,
        #[command(flatten)]
        db: DbArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum StreamCommand {
    /// List streams with their offsets, groups, backlog and dead letters.
    List {
        #[command(flatten)]
        db: DbArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Counters and per-group state (ready by priority, delayed, in flight, consumers).
    Stats {
        /// Only this stream.
        stream: Option<String>,
        #[command(flatten)]
        db: DbArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Print messages of a stream (replay, outside any group), optionally following new ones.
    Tail {
        /// The stream.
        stream: String,
        /// Start at this offset (default: the last `--limit` messages).
        #[arg(long, conflicts_with = "since")]
        from: Option<u64>,
        /// Start at this time: RFC 3339 (`2026-11-25T09:00:00Z`) or an age (`15m`, `2h`).
        #[arg(long)]
        since: Option<String>,
        /// At most this many messages (before following).
        #[arg(long, short = 'n', default_value_t = 20)]
        limit: usize,
        /// Keep printing new messages until interrupted.
        #[arg(long, short = 'f')]
        follow: bool,
        #[command(flatten)]
        db: DbArg,
        /// Output format (`json`: one envelope per line).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BackendArg {
    /// In-process.
    Memory,
    /// The embedded durable default.
    Sqlite,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Publish → deliver → ack throughput and latency of a bus backend, with a bare tokio mpsc
    /// channel measured in the same run as the baseline.
    Bus {
        /// The backend to measure (default: `bus.backend` from the configuration, `sqlite`).
        #[arg(long, value_enum)]
        backend: Option<BackendArg>,
        /// Messages to move.
        #[arg(long, default_value_t = 200_000)]
        messages: u64,
        /// Payload size in bytes.
        #[arg(long, default_value_t = 200)]
        payload: usize,
        /// Concurrent publishers.
        #[arg(long, default_value_t = 4)]
        producers: usize,
        /// Concurrent consumers.
        #[arg(long, default_value_t = 1)]
        consumers: usize,
        /// Messages per publish call (1 publishes one at a time).
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Hold this total publish rate (messages/s) instead of going flat out; for latency.
        #[arg(long)]
        rate: Option<u64>,
        /// Unfinished messages the group may hold before publishers wait (the bus's
        /// back-pressure; like the capacity of the baseline channel).
        #[arg(long, default_value_t = 16_384)]
        max_backlog: usize,
        /// Database file for the sqlite backend (default: a fresh temporary directory).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Skip the mpsc baseline.
        #[arg(long)]
        no_baseline: bool,
        /// Output format (`json`: one object).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Event store appends: writers each appending batches of events to their own stream, every
    /// append checked against an exact expected version (SQLite by default).
    Store {
        /// Concurrent writers.
        #[arg(long, default_value_t = 4)]
        writers: u64,
        /// Appends per writer.
        #[arg(long, default_value_t = 500)]
        appends: u64,
        /// Events per append.
        #[arg(long, default_value_t = 100)]
        events: u64,
        /// Measure a PostgreSQL store instead (a fresh schema, dropped afterwards), e.g.
        /// `postgres://user@127.0.0.1:5432/db`.
        #[arg(long, conflicts_with = "db")]
        postgres: Option<String>,
        /// SQLite file to use (default: a fresh temporary directory).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Output format (`json`: one object).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Technical indicators (batch form) over a long synthetic series, one at a time: points
    /// per second for each, best of `--repeat` runs (compare with `scripts/peers/indicators-vs-talib`).
    Indicators {
        /// Points (bars) in the series.
        #[arg(long, default_value_t = 10_000_000)]
        points: usize,
        /// Runs per indicator; the fastest counts.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Output format (`json`: one object).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Option pricing throughput: Black-Scholes-Merton price and all five Greeks for a batch
    /// of options (`price_batch`, one thread), best of `--repeat` runs (compare with
    /// `scripts/peers/pricing-vs-quantlib`).
    Pricing {
        /// Options in the batch.
        #[arg(long, default_value_t = 2_000_000)]
        options: usize,
        /// Runs; the fastest counts.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Output format (`json`: one object).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Portfolio optimisation: max Sharpe and an efficient frontier on a seeded panel
    /// (`--assets` × `--days` daily returns), best of `--repeat` runs (compare with
    /// `scripts/peers/optimize-vs-pypfopt`).
    Optimize(crate::cmd::quant_optimize::BenchOptimizeArgs),
    /// The whole trading desk (`crews/trading-desk.toml`: five agents, consensus, risk checks,
    /// execution, the event-sourced book and the report) over a synthetic market, in one
    /// process on the in-process bus; best of `--repeat` runs of one pass.
    Desk {
        /// The crew manifest.
        #[arg(long, default_value = "crews/trading-desk.toml")]
        crew: PathBuf,
        /// Symbols.
        #[arg(long, default_value_t = 20)]
        symbols: usize,
        /// Days.
        #[arg(long, default_value_t = 2520)]
        days: usize,
        /// The market's seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Runs; the fastest counts (the reports are identical).
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Also run the comparison pass (fixed against adaptive weights), as `cadre run` does.
        #[arg(long)]
        compare: bool,
        /// Output format (`json`: one object).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Durable workflows: 3-step workflows (`a → b → c`, a checkpoint committed after every
    /// step), many in flight, on SQLite (default) or PostgreSQL.
    Flow {
        /// Workflows to run.
        #[arg(long, default_value_t = 20_000)]
        workflows: u64,
        /// Workflows in flight at once.
        #[arg(long, default_value_t = 64)]
        concurrency: u64,
        /// Measure a PostgreSQL store instead (a fresh schema, dropped afterwards).
        #[arg(long, conflicts_with = "db")]
        postgres: Option<String>,
        /// SQLite file to use (default: a fresh temporary directory).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Output format (`json`: one object).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// The agent runtime on the in-process bus: task round trips (request → agent → outcome),
    /// Contract Net auctions, or the memory of idle agents.
    Runtime {
        /// Tasks (or auctions) to complete.
        #[arg(long, default_value_t = 200_000)]
        tasks: u64,
        /// Callers, each with one task in flight.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Replicas of the echo agent (with `--auction`: bidders).
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        /// Tasks a replica fetches at once.
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Hold this total rate (tasks/s) instead of going flat out; for latency.
        #[arg(long)]
        rate: Option<u64>,
        /// Payload text bytes per task.
        #[arg(long, default_value_t = 16)]
        payload: usize,
        /// Encode each task's input to JSON before sending (`Task::new`) instead of passing it
        /// as a Rust value (`Task::local`, the in-process fast path).
        #[arg(long)]
        json_input: bool,
        /// Allocate every task by auction among `--replicas` bidders.
        #[arg(long, conflicts_with = "idle")]
        auction: bool,
        /// Instead: start this many idle agents and report the memory each takes.
        #[arg(long)]
        idle: Option<usize>,
        /// Output format (`json`: one object).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
