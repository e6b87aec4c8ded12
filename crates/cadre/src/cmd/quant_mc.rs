//! `cadre quant sentiment` and `cadre quant montecarlo`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use cadre_pack_trading::risk;
use cadre_pack_trading::sentiment::{self, SentimentAnalyzer};
use clap::Args;

use super::quant::{Table, number, print_rows};
use crate::cli::TableFormat;

/// `cadre quant sentiment`.
#[derive(Debug, Args)]
pub(crate) struct SentimentArgs {
    /// The headlines CSV: `date,symbol,headline` (RFC 3339 or YYYY-MM-DD dates; quote a
    /// headline that has commas, doubling its quotes).
    file: PathBuf,
    /// One row per symbol and UTC day: the mean compound score weighted by confidence.
    #[arg(long)]
    by_day: bool,
    /// With `--by-day`: let earlier headlines count with a weight halving every DAYS days.
    #[arg(long, value_name = "DAYS", requires = "by_day")]
    half_life: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: TableFormat,
}

/// `cadre quant montecarlo`.
#[derive(Debug, Args)]
pub(crate) struct MontecarloArgs {
    /// The returns CSV: a `date` column and one column of simple returns per series.
    file: PathBuf,
    /// VaR / CVaR confidence levels, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.95,0.99")]
    var: Vec<f64>,
    /// Simulated returns per series.
    #[arg(long, default_value_t = 100_000)]
    paths: usize,
    /// The RNG seed (the same seed prints the same numbers).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: TableFormat,
}

fn csv_cell(cell: String) -> String {
    if cell.contains([',', '"', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

pub(crate) fn sentiment(args: &SentimentArgs) -> anyhow::Result<ExitCode> {
    let headlines = sentiment::load_headlines(&args.file)?;
    let scored = SentimentAnalyzer::new().score_all(&headlines);
    let f = |v: f64| format!("{v:.6}");
    let (names, rows): (Vec<&str>, Vec<Vec<String>>) = if args.by_day {
        let days = sentiment::aggregate_daily(&scored, args.half_life).context("--half-life")?;
        let rows = days
            .into_iter()
            .map(|d| {
                vec![
                    d.symbol,
                    d.date.to_string(),
                    f(d.score),
                    f(d.weight),
                    d.headlines.to_string(),
                ]
            })
            .collect();
        (vec!["symbol", "date", "score", "weight", "headlines"], rows)
    } else {
        let rows = scored
            .into_iter()
            .map(|s| {
                let h = s.headline;
                let v = s.sentiment;
                vec![
                    h.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    h.symbol,
                    f(v.compound),
                    f(v.pos),
                    f(v.neg),
                    f(v.neu),
                    f(v.confidence),
                    h.text,
                ]
            })
            .collect();
        (
            vec![
                "date",
                "symbol",
                "compound",
                "pos",
                "neg",
                "neu",
                "confidence",
                "headline",
            ],
            rows,
        )
    };
    let rows = if args.format == TableFormat::Csv {
        rows.into_iter()
            .map(|r| r.into_iter().map(csv_cell).collect())
            .collect()
    } else {
        rows
    };
    print_rows(&names, &rows, args.format)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn montecarlo(args: &MontecarloArgs) -> anyhow::Result<ExitCode> {
    for l in &args.var {
        if !(*l > 0.0 && *l < 1.0) {
            anyhow::bail!("--var: {l} is not a confidence level between 0 and 1");
        }
    }
    if args.paths < 2 {
        anyhow::bail!("--paths: {} must be at least 2", args.paths);
    }
    let t = Table::load(&args.file)?;
    let date = t.require("date")?;
    let series: Vec<usize> = (0..t.header.len()).filter(|&c| c != date).collect();
    if series.is_empty() {
        anyhow::bail!("{}: no return columns besides `date`", t.shown);
    }
    let mut names: Vec<String> = vec!["series".into(), "observations".into()];
    for l in &args.var {
        let p = (l * 100.0).round() as u32;
        names.extend([
            format!("mc_var_{p}"),
            format!("mc_cvar_{p}"),
            format!("var_{p}"),
            format!("var_{p}_normal"),
        ]);
    }
    let mut out = Vec::new();
    for c in series {
        let name = &t.header[c];
        let returns = t
            .rows
            .iter()
            .map(|(line, cells)| number(&t, *line, name, &cells[c]))
            .collect::<anyhow::Result<Vec<f64>>>()?;
        let ctx = || format!("{}: series `{name}`", t.shown);
        let f = |v: f64| format!("{v:.10}");
        let mut row = vec![name.clone(), returns.len().to_string()];
        for l in &args.var {
            let cutoff = 1.0 - l;
            row.push(f(risk::var_monte_carlo(
                &returns, cutoff, args.paths, args.seed,
            )
            .with_context(ctx)?));
            row.push(f(risk::cvar_monte_carlo(
                &returns, cutoff, args.paths, args.seed,
            )
            .with_context(ctx)?));
            row.push(f(risk::historical_var(&returns, cutoff).with_context(ctx)?));
            row.push(f(risk::normal_var(&returns, cutoff).with_context(ctx)?));
        }
        out.push(row);
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    print_rows(&names, &out, args.format)?;
    Ok(ExitCode::SUCCESS)
}
