//! `cadre quant optimize` (mean-variance portfolios from a directory of OHLCV CSV files) and
//! `cadre bench optimize` (the solver's speed on a seeded 500-asset panel).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use cadre_pack_trading::market::load_csv;
use cadre_pack_trading::portfolio::{
    Covariance, Method, Optimizer, Portfolio, ReturnMethod, expected_returns, ledoit_wolf,
    sample_cov,
};
use clap::{Args, ValueEnum};

use crate::cli::TableFormat;
use crate::output::{self, Format};

/// What `cadre quant optimize` solves for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Objective {
    /// The minimum-volatility portfolio.
    MinVol,
    /// The maximum-Sharpe (tangency) portfolio at `--risk-free`.
    MaxSharpe,
    /// The minimum-volatility portfolio with an expected return of at least `--target`.
    TargetReturn,
    /// The highest-return portfolio with a volatility of at most `--target`.
    TargetRisk,
    /// `--points` portfolios on the efficient frontier, from the minimum-volatility return
    /// to the maximum return.
    Frontier,
}

/// The covariance estimator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum CovKind {
    /// The sample covariance (n − 1), annualised × 252.
    Sample,
    /// Ledoit-Wolf shrinkage towards a constant variance, annualised × 252.
    #[default]
    LedoitWolf,
}

/// `cadre quant optimize`.
#[derive(Debug, Args)]
pub(crate) struct OptimizeArgs {
    /// Directory of OHLCV CSV files, one per symbol (the symbol is the file stem). Dates are
    /// aligned to those every file has; daily simple returns come from the closes.
    pub(crate) prices_dir: PathBuf,
    /// What to solve for.
    #[arg(long, value_enum)]
    pub(crate) objective: Objective,
    /// Annual risk-free rate, for max-sharpe and the Sharpe ratios printed (PyPortfolioOpt
    /// 1.6's default is 0).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub(crate) risk_free: f64,
    /// The target: an annual expected return for target-return, an annual volatility for
    /// target-risk.
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) target: Option<f64>,
    /// Bounds of every weight, LO,HI (default 0,1: long-only). Use e.g. -1,1 to allow shorts.
    #[arg(long, value_name = "LO,HI", allow_hyphen_values = true)]
    pub(crate) bounds: Option<String>,
    /// The covariance estimator.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) cov: CovKind,
    /// Expected returns: the compound annual growth rate, or the mean daily return × 252.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) returns: ReturnKind,
    /// Points on the frontier.
    #[arg(long, default_value_t = 10)]
    pub(crate) points: usize,
    /// How problems are solved: `auto` (the exact active set from 64 symbols, else Clarabel
    /// over a working set), or one path forced (see docs/trading.md).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) method: BenchMethod,
    /// Output format: a table, or CSV / JSON with the weights by symbol.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TableFormat,
}

/// How expected returns are estimated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReturnKind {
    /// `prod(1 + r)^(252 / T) − 1` (PyPortfolioOpt's `mean_historical_return`).
    #[default]
    Compounded,
    /// `mean(r) × 252`.
    Mean,
}

/// `cadre bench optimize`.
#[derive(Debug, Args)]
pub(crate) struct BenchOptimizeArgs {
    /// Assets in the seeded panel.
    #[arg(long, default_value_t = 500)]
    pub(crate) assets: usize,
    /// Daily returns per asset.
    #[arg(long, default_value_t = 252)]
    pub(crate) days: usize,
    /// Points on the frontier.
    #[arg(long, default_value_t = 10)]
    pub(crate) points: usize,
    /// The covariance estimator.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) cov: CovKind,
    /// Runs; the fastest counts.
    #[arg(long, default_value_t = 3)]
    pub(crate) repeat: usize,
    /// How problems are solved: `auto` (the library's default: the exact active set from 64
    /// assets, else Clarabel over a working set), or one path forced, for a same-run
    /// comparison.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) method: BenchMethod,
    /// Output format (`json`: one object).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
}

/// `--method` of `cadre quant optimize` and `cadre bench optimize`.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub(crate) enum BenchMethod {
    /// The active set from 64 assets, else the working set.
    #[default]
    Auto,
    /// The exact active-set solver where it applies.
    ActiveSet,
    /// Clarabel over a working set grown until the full problem's KKT conditions hold.
    WorkingSet,
    /// Clarabel over every asset in one solve.
    Full,
}

impl From<BenchMethod> for Method {
    fn from(m: BenchMethod) -> Self {
        match m {
            BenchMethod::Auto => Method::Auto,
            BenchMethod::ActiveSet => Method::ActiveSet,
            BenchMethod::WorkingSet => Method::WorkingSet,
            BenchMethod::Full => Method::Full,
        }
    }
}

/// The panel: symbols and, per symbol, its daily returns on the common dates.
struct Panel {
    symbols: Vec<String>,
    returns: Vec<Vec<f64>>,
}

fn load_panel(dir: &Path) -> anyhow::Result<Panel> {
    let shown = dir.display();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading directory {shown}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
        .collect();
    files.sort();
    if files.len() < 2 {
        anyhow::bail!(
            "{shown}: {} CSV file(s), at least 2 needed (one OHLCV file per symbol)",
            files.len()
        );
    }
    let mut series = Vec::with_capacity(files.len());
    for f in &files {
        let symbol = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bars = load_csv(f)?;
        let closes: Vec<(i64, f64)> = bars
            .iter()
            .map(|b| (b.time().timestamp(), b.close()))
            .collect();
        series.push((symbol, closes));
    }
    let mut common: BTreeSet<i64> = series[0].1.iter().map(|(t, _)| *t).collect();
    for (_, s) in &series[1..] {
        let times: BTreeSet<i64> = s.iter().map(|(t, _)| *t).collect();
        common = common.intersection(&times).copied().collect();
    }
    if common.len() < 3 {
        anyhow::bail!(
            "{shown}: only {} date(s) common to all {} files, at least 3 needed",
            common.len(),
            series.len()
        );
    }
    let dropped: Vec<String> = series
        .iter()
        .filter(|(_, s)| s.len() > common.len())
        .map(|(sym, s)| format!("{sym} {}", s.len() - common.len()))
        .collect();
    if dropped.is_empty() {
        output::note(format_args!(
            "{} symbols on {} common dates (no rows dropped)",
            series.len(),
            common.len()
        ));
    } else {
        output::note(format_args!(
            "{} symbols on {} common dates; dropped rows not shared by every file: {}",
            series.len(),
            common.len(),
            dropped.join(", ")
        ));
    }
    let mut symbols = Vec::with_capacity(series.len());
    let mut returns = Vec::with_capacity(series.len());
    for (sym, s) in series {
        let closes: Vec<f64> = s
            .into_iter()
            .filter(|(t, _)| common.contains(t))
            .map(|(_, c)| c)
            .collect();
        returns.push(closes.windows(2).map(|w| w[1] / w[0] - 1.0).collect());
        symbols.push(sym);
    }
    Ok(Panel { symbols, returns })
}

fn covariance(kind: CovKind, returns: &[Vec<f64>]) -> cadre_core::Result<Covariance> {
    match kind {
        CovKind::Sample => sample_cov(returns, 252.0),
        CovKind::LedoitWolf => ledoit_wolf(returns, 252.0),
    }
}

fn parse_bounds(text: &str) -> anyhow::Result<(f64, f64)> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let bad = || format!("--bounds `{text}`: expected LO,HI (two numbers, e.g. 0,0.2)");
    let [lo, hi] = parts.as_slice() else {
        anyhow::bail!(bad());
    };
    let lo: f64 = lo.parse().with_context(bad)?;
    let hi: f64 = hi.parse().with_context(bad)?;
    Ok((lo, hi))
}

/// `cadre quant optimize`.
pub(crate) fn run(args: OptimizeArgs) -> anyhow::Result<ExitCode> {
    let panel = load_panel(&args.prices_dir)?;
    let method = match args.returns {
        ReturnKind::Compounded => ReturnMethod::Compounded,
        ReturnKind::Mean => ReturnMethod::Mean,
    };
    let mu = expected_returns(&panel.returns, method, 252.0)?;
    let cov = covariance(args.cov, &panel.returns)?;
    let mut opt = Optimizer::new(mu, cov)?.with_method(args.method.into())?;
    if let Some(b) = &args.bounds {
        let (lo, hi) = parse_bounds(b)?;
        opt = opt.with_bounds(lo, hi).context("--bounds")?;
    }
    let need_target = |what: &str| {
        args.target
            .with_context(|| format!("--objective {what} needs --target"))
    };
    let portfolios: Vec<Portfolio> = match args.objective {
        Objective::MinVol => vec![opt.min_volatility()?],
        Objective::MaxSharpe => vec![opt.max_sharpe(args.risk_free)?],
        Objective::TargetReturn => vec![opt.efficient_return(need_target("target-return")?)?],
        Objective::TargetRisk => vec![opt.efficient_risk(need_target("target-risk")?)?],
        Objective::Frontier => opt.frontier(args.points).context("--points")?,
    };
    let name = args
        .objective
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default();
    print_portfolios(
        &name,
        &panel.symbols,
        &portfolios,
        args.risk_free,
        args.format,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// A number for CSV and JSON: full precision; NaN (an undefined Sharpe) is empty / null.
fn number(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

fn print_portfolios(
    objective: &str,
    symbols: &[String],
    portfolios: &[Portfolio],
    risk_free: f64,
    format: TableFormat,
) -> anyhow::Result<()> {
    let frontier = objective == "frontier";
    match format {
        TableFormat::Csv => {
            let mut header = vec!["point", "expected_return", "volatility", "sharpe"];
            header.extend(symbols.iter().map(String::as_str));
            output::data(header.join(","));
            for (i, p) in portfolios.iter().enumerate() {
                let sharpe = p.sharpe(risk_free);
                let mut row = vec![
                    i.to_string(),
                    p.expected_return.to_string(),
                    p.volatility.to_string(),
                    if sharpe.is_nan() {
                        String::new()
                    } else {
                        sharpe.to_string()
                    },
                ];
                row.extend(p.weights.iter().map(f64::to_string));
                output::data(row.join(","));
            }
        }
        TableFormat::Json => {
            let docs: Vec<serde_json::Value> = portfolios
                .iter()
                .map(|p| {
                    let weights: serde_json::Map<String, serde_json::Value> = symbols
                        .iter()
                        .zip(&p.weights)
                        .map(|(s, w)| (s.clone(), number(*w)))
                        .collect();
                    serde_json::json!({
                        "expected_return": number(p.expected_return),
                        "volatility": number(p.volatility),
                        "sharpe": number(p.sharpe(risk_free)),
                        "weights": weights,
                    })
                })
                .collect();
            let doc = if frontier {
                serde_json::json!({
                    "objective": objective,
                    "risk_free": risk_free,
                    "points": docs,
                })
            } else {
                let mut one = docs.into_iter().next().unwrap_or_default();
                if let Some(m) = one.as_object_mut() {
                    m.insert("objective".into(), objective.into());
                    m.insert("risk_free".into(), risk_free.into());
                }
                one
            };
            output::json(&doc)?;
        }
        TableFormat::Table if frontier => {
            let mut header = vec!["point", "return", "volatility", "sharpe"];
            header.extend(symbols.iter().map(String::as_str));
            let rows: Vec<Vec<String>> = portfolios
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut row = vec![
                        i.to_string(),
                        format!("{:.4}", p.expected_return),
                        format!("{:.4}", p.volatility),
                        format!("{:.4}", p.sharpe(risk_free)),
                    ];
                    row.extend(p.weights.iter().map(|w| format!("{w:.4}")));
                    row
                })
                .collect();
            output::table(&header, &rows);
        }
        TableFormat::Table => {
            let Some(p) = portfolios.first() else {
                return Ok(());
            };
            let rows: Vec<Vec<String>> = symbols
                .iter()
                .zip(&p.weights)
                .map(|(s, w)| vec![s.clone(), format!("{w:.6}")])
                .collect();
            output::table(&["symbol", "weight"], &rows);
            output::data("");
            output::table(
                &["expected_return", "volatility", "sharpe"],
                &[vec![
                    format!("{:.6}", p.expected_return),
                    format!("{:.6}", p.volatility),
                    format!("{:.6}", p.sharpe(risk_free)),
                ]],
            );
        }
    }
    Ok(())
}

/// SplitMix64: a seeded generator simple enough to be repeated bit for bit in Python
/// (`scripts/peers/pypfopt_peer.py`), so both sides optimise the same panel.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller, one of the pair).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// The benchmark's seeded panel of daily simple returns, `returns[asset][day]`: three common
/// factors plus idiosyncratic noise, drifts of -5..+25 % and volatilities of 15..45 % a year.
/// `scripts/peers/pypfopt_peer.py` draws the same numbers in the same order.
pub(crate) fn bench_panel(assets: usize, days: usize) -> Vec<Vec<f64>> {
    let mut rng = SplitMix(20_261_126);
    let root = 252f64.sqrt();
    let params: Vec<(f64, f64, [f64; 3])> = (0..assets)
        .map(|_| {
            let drift = (-0.05 + 0.30 * rng.uniform()) / 252.0;
            let vol = (0.15 + 0.30 * rng.uniform()) / root;
            let mut l = [rng.normal(), rng.normal(), rng.normal()];
            let norm = (l.iter().map(|x| x * x).sum::<f64>() * 1.5).sqrt();
            for x in &mut l {
                *x /= norm;
            }
            (drift, vol, l)
        })
        .collect();
    let mut returns = vec![Vec::with_capacity(days); assets];
    for _ in 0..days {
        let f = [rng.normal(), rng.normal(), rng.normal()];
        for (a, (drift, vol, l)) in params.iter().enumerate() {
            let idio = (1.0 - l.iter().map(|x| x * x).sum::<f64>()).sqrt();
            let shock = l[0] * f[0] + l[1] * f[1] + l[2] * f[2] + idio * rng.normal();
            returns[a].push(drift + vol * shock);
        }
    }
    returns
}

/// `cadre bench optimize`: max Sharpe and a frontier on the seeded panel, best of `repeat`.
pub(crate) fn bench(args: BenchOptimizeArgs) -> anyhow::Result<ExitCode> {
    let (assets, days, repeat) = (args.assets.max(2), args.days.max(3), args.repeat.max(1));
    let returns = bench_panel(assets, days);
    let t = Instant::now();
    let mu = expected_returns(&returns, ReturnMethod::Compounded, 252.0)?;
    let cov = covariance(args.cov, &returns)?;
    let estimate = t.elapsed().as_secs_f64();
    let opt = Optimizer::new(mu, cov)?.with_method(args.method.into())?;
    let method_name = args
        .method
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default();
    let (mut sharpe_s, mut frontier_s) = (f64::INFINITY, f64::INFINITY);
    let mut best = None;
    for _ in 0..repeat {
        let t = Instant::now();
        let p = opt.max_sharpe(0.0)?;
        sharpe_s = sharpe_s.min(t.elapsed().as_secs_f64());
        best = Some(p);
        let t = Instant::now();
        let f = opt.frontier(args.points.max(2))?;
        frontier_s = frontier_s.min(t.elapsed().as_secs_f64());
        anyhow::ensure!(f.len() == args.points.max(2), "frontier came back short");
    }
    let best = best.context("no run")?;
    let held = best.weights.iter().filter(|w| **w > 1e-6).count();
    let cov_name = args
        .cov
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default();
    match args.format {
        Format::Json => output::data(serde_json::to_string(&serde_json::json!({
            "assets": assets,
            "days": days,
            "cov": cov_name,
            "method": method_name,
            "points": args.points.max(2),
            "repeat": repeat,
            "estimate_seconds": estimate,
            "max_sharpe_seconds": sharpe_s,
            "frontier_seconds": frontier_s,
            "max_sharpe": {"sharpe": best.sharpe(0.0), "assets_held": held},
        }))?),
        Format::Text => output::data(format_args!(
            "{assets} assets × {days} days ({cov_name}, {method_name}): estimate {:.1} ms, max Sharpe {:.1} ms \
             (Sharpe {:.3}, {held} assets held), {}-point frontier {:.1} ms (best of {repeat})",
            estimate * 1e3,
            sharpe_s * 1e3,
            best.sharpe(0.0),
            args.points.max(2),
            frontier_s * 1e3
        )),
    }
    Ok(ExitCode::SUCCESS)
}
