//! `cadre quant ...`: trading analytics on CSV (and Parquet) files.

use std::process::ExitCode;

use anyhow::Context as _;
use cadre_pack_trading::indicators;
use cadre_pack_trading::market::load_bars;

use crate::cli::{QuantCommand, TableFormat};
use crate::output;

/// One output column: its name and a value per bar (NaN before the warm-up ends).
type Column = (String, Vec<f64>);

pub(crate) fn run(cmd: QuantCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        QuantCommand::Indicators {
            file,
            sma,
            ema,
            wma,
            rsi,
            macd,
            bbands,
            atr,
            stoch,
            obv,
            vwap,
            tail,
            format,
        } => {
            let bars = load_bars(&file)?;
            let close = bars.closes();
            let (high, low, volume) = (bars.highs(), bars.lows(), bars.volumes());
            let mut columns: Vec<Column> = vec![("close".to_owned(), close.clone())];
            for p in sma {
                columns.push((
                    format!("sma_{p}"),
                    indicators::sma(&close, p).context("--sma")?,
                ));
            }
            for p in ema {
                columns.push((
                    format!("ema_{p}"),
                    indicators::ema(&close, p).context("--ema")?,
                ));
            }
            for p in wma {
                columns.push((
                    format!("wma_{p}"),
                    indicators::wma(&close, p).context("--wma")?,
                ));
            }
            for p in rsi {
                columns.push((
                    format!("rsi_{p}"),
                    indicators::rsi(&close, p).context("--rsi")?,
                ));
            }
            if let Some(spec) = macd {
                let [fast, slow, signal] = numbers::<3>("--macd", &spec)?;
                let m = indicators::macd(&close, to_usize(fast), to_usize(slow), to_usize(signal))
                    .context("--macd")?;
                columns.push(("macd".into(), m.macd));
                columns.push(("macd_signal".into(), m.signal));
                columns.push(("macd_hist".into(), m.histogram));
            }
            if let Some(spec) = bbands {
                let [period, devs] = numbers::<2>("--bbands", &spec)?;
                let b = indicators::bollinger(&close, to_usize(period), devs, devs)
                    .context("--bbands")?;
                columns.push(("bb_upper".into(), b.upper));
                columns.push(("bb_middle".into(), b.middle));
                columns.push(("bb_lower".into(), b.lower));
            }
            for p in atr {
                columns.push((
                    format!("atr_{p}"),
                    indicators::atr(&high, &low, &close, p).context("--atr")?,
                ));
            }
            if let Some(spec) = stoch {
                let [k, sk, sd] = numbers::<3>("--stoch", &spec)?;
                let s =
                    indicators::stoch(&high, &low, &close, to_usize(k), to_usize(sk), to_usize(sd))
                        .context("--stoch")?;
                columns.push(("stoch_k".into(), s.k));
                columns.push(("stoch_d".into(), s.d));
            }
            if obv {
                columns.push(("obv".into(), indicators::obv(&close, &volume)?));
            }
            if vwap {
                columns.push((
                    "vwap".into(),
                    indicators::vwap(&high, &low, &close, &volume)?,
                ));
            }
            let dates: Vec<String> = bars
                .iter()
                .map(|b| b.time().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .collect();
            print(&dates, &columns, format, tail)?;
            Ok(ExitCode::SUCCESS)
        }
        QuantCommand::Price { file, format } => price(&file, format),
        QuantCommand::Optimize(args) => super::quant_optimize::run(args),
        QuantCommand::Risk {
            file,
            var,
            risk_free,
            periods,
            format,
        } => risk(&file, &var, risk_free, periods, format),
        QuantCommand::Sentiment(args) => super::quant_mc::sentiment(&args),
        QuantCommand::Montecarlo(args) => super::quant_mc::montecarlo(&args),
    }
}

/// A CSV file as a header and rows of cells, with each row's line number. Blank lines are
/// skipped; a row with another number of cells than the header is an error naming its line.
pub(super) struct Table {
    pub(super) shown: String,
    pub(super) header: Vec<String>,
    pub(super) rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    pub(super) fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {shown}"))?;
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((_, head)) = lines.next() else {
            anyhow::bail!("{shown}: empty file (expected a header line)");
        };
        let header: Vec<String> = head
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .collect();
        let mut rows = Vec::new();
        for (i, line) in lines {
            let cells: Vec<String> = line.split(',').map(|c| c.trim().to_owned()).collect();
            if cells.len() != header.len() {
                anyhow::bail!(
                    "{shown}:{}: {} fields, but the header has {}",
                    i + 1,
                    cells.len(),
                    header.len()
                );
            }
            rows.push((i + 1, cells));
        }
        Ok(Self {
            shown,
            header,
            rows,
        })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    pub(super) fn require(&self, name: &str) -> anyhow::Result<usize> {
        self.column(name).with_context(|| {
            format!(
                "{}: no `{name}` column (the header has: {})",
                self.shown,
                self.header.join(", ")
            )
        })
    }
}

pub(super) fn number(t: &Table, line: usize, name: &str, cell: &str) -> anyhow::Result<f64> {
    cell.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .with_context(|| format!("{}:{line}: `{name}`: `{cell}` is not a number", t.shown))
}

fn price(file: &std::path::Path, format: TableFormat) -> anyhow::Result<ExitCode> {
    use cadre_pack_trading::pricing::{self, MarketInputs, OptionContract, OptionKind};
    let t = Table::load(file)?;
    let cols: Vec<usize> = [
        "type",
        "spot",
        "strike",
        "expiry_years",
        "rate",
        "dividend",
        "volatility",
    ]
    .iter()
    .map(|c| t.require(c))
    .collect::<anyhow::Result<_>>()?;
    let market_price = t.column("price");
    let names = [
        "type",
        "spot",
        "strike",
        "expiry_years",
        "rate",
        "dividend",
        "volatility",
        "market_price",
        "price",
        "delta",
        "gamma",
        "vega",
        "theta",
        "rho",
        "iv",
    ];
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut bad = 0;
    for (line, cells) in &t.rows {
        let row = || -> anyhow::Result<Vec<String>> {
            let kind = match cells[cols[0]].to_ascii_lowercase().as_str() {
                "call" | "c" => OptionKind::Call,
                "put" | "p" => OptionKind::Put,
                other => anyhow::bail!("{}:{line}: `type`: `{other}` is not call or put", t.shown),
            };
            let n = |k: usize, name: &str| number(&t, *line, name, &cells[cols[k]]);
            let (spot, strike, expiry, rate, dividend) = (
                n(1, "spot")?,
                n(2, "strike")?,
                n(3, "expiry_years")?,
                n(4, "rate")?,
                n(5, "dividend")?,
            );
            let target = match market_price.map(|c| cells[c].as_str()) {
                Some("") | None => None,
                Some(cell) => Some(number(&t, *line, "price", cell)?),
            };
            let vol_cell = &cells[cols[6]];
            let given_vol = if vol_cell.is_empty() && target.is_some() {
                None
            } else {
                Some(n(6, "volatility")?)
            };
            let at = |e: cadre_core::Error| anyhow::anyhow!("{}:{line}: {e}", t.shown);
            let contract = OptionContract::new(kind, strike, expiry).map_err(at)?;
            let market =
                MarketInputs::new(spot, rate, dividend, given_vol.unwrap_or(0.2)).map_err(at)?;
            let iv = match target {
                Some(p) => Some(pricing::implied_vol(&contract, &market, p).map_err(at)?),
                None => None,
            };
            let market = match iv {
                Some(v) => market.with_vol(v).map_err(at)?,
                None => market,
            };
            let priced = pricing::Priced::new(&contract, &market).map_err(at)?;
            let g = &priced.greeks;
            let f = |v: f64| format!("{v:.10}");
            Ok(vec![
                kind.to_string(),
                f(spot),
                f(strike),
                f(expiry),
                f(rate),
                f(dividend),
                given_vol.map(f).unwrap_or_default(),
                target.map(f).unwrap_or_default(),
                f(priced.price),
                f(g.delta()),
                f(g.gamma()),
                f(g.vega()),
                f(g.theta()),
                f(g.rho()),
                iv.map(f).unwrap_or_default(),
            ])
        };
        match row() {
            Ok(r) => out.push(r),
            Err(e) => {
                bad += 1;
                output::note(format_args!("skipped: {e:#}"));
            }
        }
    }
    print_rows(&names, &out, format)?;
    if bad > 0 {
        output::note(format_args!("{bad} of {} row(s) skipped", t.rows.len()));
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn risk(
    file: &std::path::Path,
    levels: &[f64],
    risk_free: f64,
    periods: f64,
    format: TableFormat,
) -> anyhow::Result<ExitCode> {
    use cadre_pack_trading::risk as r;
    for l in levels {
        if !(*l > 0.0 && *l < 1.0) {
            anyhow::bail!("--var: {l} is not a confidence level between 0 and 1");
        }
    }
    let t = Table::load(file)?;
    let date = t.require("date")?;
    let series: Vec<usize> = (0..t.header.len()).filter(|&c| c != date).collect();
    if series.is_empty() {
        anyhow::bail!("{}: no return columns besides `date`", t.shown);
    }
    let mut names: Vec<String> = [
        "series",
        "observations",
        "annual_return",
        "volatility",
        "sharpe",
        "sortino",
        "calmar",
        "max_drawdown",
        "max_drawdown_days",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for l in levels {
        let p = (l * 100.0).round() as u32;
        names.extend([
            format!("var_{p}"),
            format!("cvar_{p}"),
            format!("var_{p}_normal"),
            format!("var_{p}_cf"),
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
        let ctx = |what: &str| format!("series `{name}`: {what}");
        let f = |v: Result<f64, cadre_core::Error>| {
            v.map_or_else(|_| String::new(), |v| format!("{v:.10}"))
        };
        let mut row = vec![
            name.clone(),
            returns.len().to_string(),
            f(r::annual_return(&returns, periods)),
            f(r::annual_volatility(&returns, periods)),
            f(r::sharpe(&returns, risk_free, periods)),
            f(r::sortino(&returns, risk_free, periods)),
            f(r::calmar(&returns, periods)),
            f(r::max_drawdown(&returns)),
            r::max_drawdown_duration(&returns).map_or_else(|_| String::new(), |d| d.to_string()),
        ];
        for l in levels {
            let cutoff = 1.0 - l;
            row.push(
                r::historical_var(&returns, cutoff)
                    .map(|v| format!("{v:.10}"))
                    .with_context(|| ctx("VaR"))?,
            );
            row.push(f(r::historical_cvar(&returns, cutoff)));
            row.push(f(r::normal_var(&returns, cutoff)));
            row.push(f(r::cornish_fisher_var(&returns, cutoff)));
        }
        out.push(row);
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    print_rows(&names, &out, format)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints rows of already formatted cells (empty = not defined: null in JSON).
pub(super) fn print_rows(
    names: &[&str],
    rows: &[Vec<String>],
    format: TableFormat,
) -> anyhow::Result<()> {
    match format {
        TableFormat::Csv => {
            output::data(names.join(","));
            for r in rows {
                output::data(r.join(","));
            }
        }
        TableFormat::Json => {
            let docs: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let mut m = serde_json::Map::new();
                    for (n, cell) in names.iter().zip(r) {
                        let v = if cell.is_empty() {
                            serde_json::Value::Null
                        } else if let Ok(x) = cell.parse::<i64>() {
                            x.into()
                        } else if let Ok(x) = cell.parse::<f64>() {
                            serde_json::Number::from_f64(x)
                                .map_or(serde_json::Value::Null, serde_json::Value::Number)
                        } else {
                            serde_json::Value::String(cell.clone())
                        };
                        m.insert((*n).to_owned(), v);
                    }
                    serde_json::Value::Object(m)
                })
                .collect();
            output::json(&docs)?;
        }
        TableFormat::Table => {
            let shown: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|c| match c.parse::<f64>() {
                            Ok(x) if c.contains('.') => format!("{x:.6}"),
                            _ if c.is_empty() => "-".to_owned(),
                            _ => c.clone(),
                        })
                        .collect()
                })
                .collect();
            output::table(names, &shown);
        }
    }
    Ok(())
}

fn to_usize(x: f64) -> usize {
    // `numbers` only lets whole, non-negative values through where a count is expected.
    x as usize
}

/// Parses `N` comma-separated numbers; counts (all but a Bollinger deviation) must be whole.
fn numbers<const N: usize>(flag: &str, text: &str) -> anyhow::Result<[f64; N]> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if parts.len() != N {
        anyhow::bail!("{flag} `{text}`: expected {N} comma-separated numbers");
    }
    let mut out = [0.0; N];
    for (i, p) in parts.iter().enumerate() {
        let v: f64 = p
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .with_context(|| format!("{flag} `{text}`: `{p}` is not a non-negative number"))?;
        let may_be_fractional = flag == "--bbands" && i == 1;
        if !may_be_fractional && v.fract() != 0.0 {
            anyhow::bail!("{flag} `{text}`: `{p}` must be a whole number");
        }
        out[i] = v;
    }
    Ok(out)
}

fn cell(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v:.6}")
    }
}

fn print(
    dates: &[String],
    columns: &[Column],
    format: TableFormat,
    tail: usize,
) -> anyhow::Result<()> {
    let header: Vec<&str> = std::iter::once("date")
        .chain(columns.iter().map(|(n, _)| n.as_str()))
        .collect();
    match format {
        TableFormat::Csv => {
            output::data(header.join(","));
            for (i, d) in dates.iter().enumerate() {
                let row: Vec<String> = std::iter::once(d.clone())
                    .chain(columns.iter().map(|(_, v)| cell(v[i])))
                    .collect();
                output::data(row.join(","));
            }
        }
        TableFormat::Json => {
            let rows: Vec<serde_json::Value> = dates
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let mut row = serde_json::Map::new();
                    row.insert("date".into(), d.clone().into());
                    for (name, v) in columns {
                        let value = if v[i].is_nan() {
                            serde_json::Value::Null
                        } else {
                            v[i].into()
                        };
                        row.insert(name.clone(), value);
                    }
                    serde_json::Value::Object(row)
                })
                .collect();
            output::json(&rows)?;
        }
        TableFormat::Table => {
            let from = dates.len().saturating_sub(tail);
            let rows: Vec<Vec<String>> = (from..dates.len())
                .map(|i| {
                    std::iter::once(dates[i].clone())
                        .chain(columns.iter().map(|(_, v)| {
                            if v[i].is_nan() {
                                "-".to_owned()
                            } else {
                                format!("{:.4}", v[i])
                            }
                        }))
                        .collect()
                })
                .collect();
            output::table(&header, &rows);
            if from > 0 {
                output::note(format_args!(
                    "the last {} of {} rows; --format csv|json prints every row",
                    dates.len() - from,
                    dates.len()
                ));
            }
        }
    }
    Ok(())
}
