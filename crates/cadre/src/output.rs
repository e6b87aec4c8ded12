//! Writing data to stdout and diagnostics to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;

use clap::ValueEnum;

/// How a command prints data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// For people.
    #[default]
    Text,
    /// For scripts: one JSON document.
    Json,
}

/// Prints a line of data to stdout. A closed pipe (`cadre ... | head`) ends quietly.
pub(crate) fn data(line: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").is_err() {
        std::process::exit(0);
    }
}

/// Prints a JSON document to stdout.
pub(crate) fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    data(text);
    Ok(())
}

/// Prints a diagnostic line to stderr.
pub(crate) fn note(line: impl std::fmt::Display) {
    eprintln!("{line}");
}

/// Prints an error and its causes to stderr.
pub(crate) fn error(err: &anyhow::Error) {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}
