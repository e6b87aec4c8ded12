//! The market the desk trades: where it comes from ([`DataSpec`]), every symbol's bars on one
//! calendar ([`Tape`]), and the only window agents get onto it ([`View`]), which ends at the
//! current step.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use cadre_core::{Error, Result};
use cadre_pack_trading::market::{Bar, Bars, SyntheticMarket, load_bars};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a run's market comes from: a folder of OHLCV files (`data`), or the seeded synthetic
/// market (`symbols` × `days` daily bars, `seed`).
///
/// Tasks carry the spec, not the bars: every node loads (and caches) the same tape from it, so
/// messages stay small on any bus.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// A folder of `SYMBOL.csv` / `SYMBOL.parquet` files; `None`: the synthetic market.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// Synthetic symbols (`SYM00`, `SYM01`, ...).
    #[serde(default = "default_symbols")]
    pub symbols: usize,
    /// Synthetic daily bars per symbol.
    #[serde(default = "default_days")]
    pub days: usize,
    /// The synthetic market's seed.
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_symbols() -> usize {
    20
}
fn default_days() -> usize {
    2520
}
fn default_seed() -> u64 {
    7
}

impl Default for DataSpec {
    fn default() -> Self {
        Self {
            data: None,
            symbols: default_symbols(),
            days: default_days(),
            seed: default_seed(),
        }
    }
}

impl DataSpec {
    /// The synthetic market of `symbols` × `days` with `seed`.
    pub fn synthetic(symbols: usize, days: usize, seed: u64) -> Self {
        Self {
            data: None,
            symbols,
            days,
            seed,
        }
    }

    /// A short description for logs and reports.
    pub fn describe(&self) -> String {
        match &self.data {
            Some(dir) => format!("files in {}", dir.display()),
            None => format!(
                "synthetic market: {} symbols x {} days, seed {}",
                self.symbols, self.days, self.seed
            ),
        }
    }
}

/// Every symbol's bars on one calendar: the dates on which every symbol has a bar.
#[derive(Debug, Clone)]
pub struct Tape {
    symbols: Vec<String>,
    times: Vec<DateTime<Utc>>,
    bars: Vec<Vec<Bar>>,
}

impl Tape {
    /// Aligns `series` (symbol, bars) on the dates they all share.
    ///
    /// # Errors
    /// `InvalidInput` when there are no series, a symbol repeats, or the series share fewer
    /// than two dates.
    pub fn new(series: Vec<(String, Bars)>) -> Result<Self> {
        if series.is_empty() {
            return Err(Error::invalid_input("the market has no symbols"));
        }
        let mut seen = std::collections::HashSet::new();
        for (s, _) in &series {
            if !seen.insert(s.clone()) {
                return Err(Error::invalid_input(format!("symbol `{s}` appears twice")));
            }
        }
        let mut common: Vec<DateTime<Utc>> = series[0].1.iter().map(Bar::time).collect();
        for (_, bars) in &series[1..] {
            let times: std::collections::HashSet<DateTime<Utc>> =
                bars.iter().map(Bar::time).collect();
            common.retain(|t| times.contains(t));
        }
        if common.len() < 2 {
            return Err(Error::invalid_input(format!(
                "the {} symbols share {} dates; a backtest needs at least 2",
                series.len(),
                common.len()
            )));
        }
        let keep: std::collections::HashSet<DateTime<Utc>> = common.iter().copied().collect();
        let mut symbols = Vec::with_capacity(series.len());
        let mut bars = Vec::with_capacity(series.len());
        for (s, b) in series {
            symbols.push(s);
            bars.push(
                b.iter()
                    .filter(|bar| keep.contains(&bar.time()))
                    .copied()
                    .collect(),
            );
        }
        Ok(Self {
            symbols,
            times: common,
            bars,
        })
    }

    /// Loads the tape `spec` names (no cache; see [`load`]).
    ///
    /// # Errors
    /// What loading the files or generating the market reports, naming the file.
    pub fn from_spec(spec: &DataSpec) -> Result<Self> {
        match &spec.data {
            Some(dir) => Self::new(load_dir(dir)?),
            None => Self::new(synthetic(spec)?),
        }
    }

    /// The symbols, in column order.
    pub fn symbols(&self) -> &[String] {
        &self.symbols
    }

    /// The calendar.
    pub fn times(&self) -> &[DateTime<Utc>] {
        &self.times
    }

    /// Steps (dates) on the calendar.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether the tape has no dates (never true for a constructed tape).
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// The window onto the market as of `step` (its bar included, nothing later).
    ///
    /// # Panics
    /// Never for `step < len()`; a larger step is clamped to the last one.
    pub fn view(&self, step: usize) -> View<'_> {
        View {
            tape: self,
            step: step.min(self.times.len() - 1),
        }
    }
}

/// The market as of one step: only bars up to and including it are reachable, so an agent
/// cannot look ahead.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    tape: &'a Tape,
    step: usize,
}

impl<'a> View<'a> {
    /// The current step.
    pub fn step(&self) -> usize {
        self.step
    }

    /// The current date.
    pub fn time(&self) -> DateTime<Utc> {
        self.tape.times[self.step]
    }

    /// The symbols, in column order.
    pub fn symbols(&self) -> &'a [String] {
        &self.tape.symbols
    }

    /// A symbol's bars up to and including the current step.
    pub fn history(&self, symbol: usize) -> &'a [Bar] {
        &self.tape.bars[symbol][..=self.step]
    }

    /// A symbol's current bar.
    pub fn bar(&self, symbol: usize) -> &'a Bar {
        &self.tape.bars[symbol][self.step]
    }

    /// A symbol's current close.
    pub fn close(&self, symbol: usize) -> f64 {
        self.tape.bars[symbol][self.step].close()
    }

    /// Every symbol's current close.
    pub fn closes(&self) -> Vec<f64> {
        (0..self.tape.symbols.len())
            .map(|s| self.close(s))
            .collect()
    }

    /// The last `n` simple daily close-to-close returns of `symbol` (fewer early on).
    pub fn returns(&self, symbol: usize, n: usize) -> Vec<f64> {
        let h = self.history(symbol);
        let start = h.len().saturating_sub(n + 1);
        h[start..]
            .windows(2)
            .map(|w| w[1].close() / w[0].close() - 1.0)
            .collect()
    }
}

/// The tape `spec` names, loaded once per process and shared.
///
/// # Errors
/// What [`Tape::from_spec`] reports.
pub fn load(spec: &DataSpec) -> Result<Arc<Tape>> {
    static CACHE: OnceLock<Mutex<HashMap<DataSpec, Arc<Tape>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(t) = cache.lock().map_err(poisoned)?.get(spec) {
        return Ok(Arc::clone(t));
    }
    let tape = Arc::new(Tape::from_spec(spec)?);
    let mut map = cache.lock().map_err(poisoned)?;
    if map.len() >= 8 {
        map.clear();
    }
    Ok(Arc::clone(map.entry(spec.clone()).or_insert(tape)))
}

fn poisoned<T>(_: T) -> Error {
    Error::internal("the market cache lock is poisoned")
}

fn synthetic(spec: &DataSpec) -> Result<Vec<(String, Bars)>> {
    if spec.symbols == 0 || spec.days < 2 {
        return Err(Error::invalid_input(format!(
            "key `symbols`/`days`: the synthetic market needs at least 1 symbol and 2 days (got {} x {})",
            spec.symbols, spec.days
        )));
    }
    let prices: Vec<f64> = (0..spec.symbols).map(|i| 50.0 + 10.0 * i as f64).collect();
    let corr: Vec<Vec<f64>> = (0..spec.symbols)
        .map(|i| {
            (0..spec.symbols)
                .map(|j| if i == j { 1.0 } else { 0.3 })
                .collect()
        })
        .collect();
    Ok(SyntheticMarket::correlated(prices, corr, spec.seed)
        .generate(spec.days)?
        .into_iter()
        .enumerate()
        .map(|(i, b)| (format!("SYM{i:02}"), b))
        .collect())
}

/// Every `*.csv` and `*.parquet` of `dir`, sorted by name; the symbol is the file stem.
fn load_dir(dir: &Path) -> Result<Vec<(String, Bars)>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::invalid_input(format!("key `data`: reading {}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv" || x == "parquet"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::invalid_input(format!(
            "key `data`: {} holds no .csv or .parquet files",
            dir.display()
        )));
    }
    files
        .iter()
        .map(|p| {
            let symbol = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((symbol, load_bars(p)?))
        })
        .collect()
}
