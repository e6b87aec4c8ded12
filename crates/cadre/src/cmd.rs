//! Subcommands.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use cadre_bus::{BusOptions, SqliteBus};

use crate::cli::{Cli, Command, ConfigSource, DbArg};

mod bench;
mod config;
mod crew;
pub(crate) mod deps;
pub(crate) mod desk;
mod dlq;
mod flow;
mod ops;
mod quant;
pub(crate) mod quant_mc;
pub(crate) mod quant_optimize;
mod stream;

/// Runs the parsed command line.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Config(cmd) => config::run(cmd, &cli.source),
        Command::Dlq(cmd) => with_runtime(&cli.source, |loaded| dlq::run(cmd, loaded)),
        Command::Stream(cmd) => with_runtime(&cli.source, |loaded| stream::run(cmd, loaded)),
        Command::Bench(cmd) => with_runtime(&cli.source, |loaded| bench::run(cmd, loaded)),
        Command::Run(args) => with_runtime(&cli.source, |loaded| crew::run(args, loaded)),
        Command::Node(args) => with_runtime(&cli.source, |loaded| crew::node(args, loaded)),
        Command::Agents(cmd) => with_runtime(&cli.source, |loaded| ops::agents(cmd, loaded)),
        Command::Errors(cmd) => with_runtime(&cli.source, |loaded| ops::errors(cmd, loaded)),
        Command::Halt { reason, by, db } => {
            with_runtime(&cli.source, |loaded| ops::halt(reason, by, db, loaded))
        }
        Command::Resume { db } => with_runtime(&cli.source, |loaded| ops::resume(db, loaded)),
        Command::Flow(cmd) => with_runtime(&cli.source, |loaded| flow::run(cmd, loaded)),
        Command::Audit(args) => with_runtime(&cli.source, |loaded| flow::audit(args, loaded)),
        Command::Quant(cmd) => quant::run(cmd),
        Command::Desk(cmd) if cmd.is_operator() => {
            with_runtime(&cli.source, |loaded| desk::operate(cmd, loaded))
        }
        Command::Desk(cmd) => desk::run(cmd),
        Command::Deps(args) => deps::run(args),
    }
}

/// Loads configuration, starts logging and a tokio runtime, and runs `f` on it.
fn with_runtime<F, Fut>(source: &ConfigSource, f: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(cadre_config::Loaded) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    let loaded = source.load()?;
    cadre_observe::init(&loaded.config.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(f(loaded))
}

/// The bus database this command works on.
pub(crate) fn database(db: &DbArg, loaded: &cadre_config::Loaded) -> PathBuf {
    db.db
        .clone()
        .unwrap_or_else(|| loaded.config.bus.database(&loaded.config.node))
}

/// Opens the bus database for inspection: a read-only snapshot, valid while a node runs.
pub(crate) async fn open_for_reading(
    db: &DbArg,
    loaded: &cadre_config::Loaded,
) -> anyhow::Result<SqliteBus> {
    let path = database(db, loaded);
    let opts = BusOptions::from_config(&loaded.config.bus);
    Ok(SqliteBus::open_read_only(&path, opts).await?)
}

/// Opens the bus database for changes; fails while a node holds it.
pub(crate) async fn open_for_writing(
    db: &DbArg,
    loaded: &cadre_config::Loaded,
) -> anyhow::Result<SqliteBus> {
    let path = database(db, loaded);
    if !path.exists() {
        anyhow::bail!("no bus database at {}", path.display());
    }
    let opts = BusOptions::from_config(&loaded.config.bus);
    Ok(SqliteBus::open(&path, opts).await?)
}
