//! `cadre quant ...`: trading analytics on CSV files.

use std::process::ExitCode;

use anyhow::Context as _;
use cadre_pack_trading::indicators;
use cadre_pack_trading::market::load_csv;

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
            let bars = load_csv(&file)?;
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
    }
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
