//! The `cadre` binary: parses arguments, loads configuration and calls into the crates.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: faster than the system allocator where memory is allocated on one thread and
/// freed on another (a message published here, consumed there).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
