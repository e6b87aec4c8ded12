//! Subcommands.

use std::process::ExitCode;

use crate::cli::{Cli, Command};

mod config;

/// Runs the parsed command line.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Config(cmd) => config::run(cmd),
    }
}
