//! The `cadre` binary: parses arguments, loads configuration and calls into the crates.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod cmd;
mod output;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            output::error(&err);
            ExitCode::FAILURE
        }
    }
}
