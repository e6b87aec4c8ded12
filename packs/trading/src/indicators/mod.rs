//! Technical indicators, each in a streaming form and a batch form that agree bit for bit.
//!
//! The streaming form is a struct whose `update` takes one observation and returns the value
//! for it once the warm-up is over (`None` before), in O(1) per update (amortised for the
//! stochastic's rolling high/low). The batch form takes whole slices and returns one value per
//! input, `NaN` during the warm-up. The batch forms of SMA, EMA, WMA, RSI, ATR, MACD,
//! Bollinger, the stochastic and OBV are slice loops doing the streaming form's floating-point
//! operations in the same order (faster: no window buffer, no `Option` per point); VWAP runs
//! the streaming form. A seeded property test checks every pair agrees bit for bit.
//!
//! Every indicator follows TA-Lib (the reference of the field) exactly: the same warm-up length
//! (TA-Lib's *lookback*: the index of the first value), the same seeding and smoothing, the
//! same arithmetic order where it matters. Each type's documentation states its convention;
//! `tests/indicators_golden.rs` checks the values against TA-Lib to 1e-9 relative.
//!
//! ```
//! use cadre_pack_trading::indicators::{Rsi, rsi};
//! let closes: Vec<f64> = (0..30).map(|i| 100.0 + (i as f64 * 0.7).sin()).collect();
//! let batch = rsi(&closes, 14)?;
//! assert!(batch[..14].iter().all(|v| v.is_nan())); // lookback 14
//! let mut stream = Rsi::new(14)?;
//! let streamed: Vec<f64> = closes.iter().map(|&c| stream.update(c).unwrap_or(f64::NAN)).collect();
//! assert_eq!(batch[14..], streamed[14..]);
//! # Ok::<(), cadre_core::Error>(())
//! ```

mod momentum;
mod moving;
mod volatility;
mod volume;

pub use momentum::{
    Macd, MacdOutput, MacdSeries, Rsi, Stoch, StochOutput, StochSeries, macd, rsi, stoch,
};
pub use moving::{Ema, Sma, Wma, ema, sma, wma};
pub use volatility::{Atr, Bollinger, BollingerOutput, BollingerSeries, atr, bollinger};
pub use volume::{Obv, Vwap, obv, vwap};

use cadre_core::{Error, Result};

/// TA-Lib's `TA_IS_ZERO`: `|v| < 1e-8`.
#[inline(always)]
fn ta_is_zero(v: f64) -> bool {
    v.abs() < 0.000_000_01
}

/// An output column of `n` values whose first `warmup` are NaN and the rest 0, for a batch
/// loop to overwrite through `iter_mut` (no capacity check per value, unlike `push`).
///
/// `vec![0.0; n]` asks the allocator for zeroed memory, which for large columns is fresh
/// pages the kernel zeroes on first touch: the loop's write is the only pass over memory.
/// Wilder's smoothing weights for `period`: `d = (period - 1) / period`, `w = 1 / period`,
/// and for two steps at once `d²` and `d·w` (`a'' = fma(d², a, fma(d·w, x₁, w·x₂))`).
#[inline(always)]
fn wilder_weights(period: usize) -> (f64, f64, f64, f64) {
    let p = period as f64;
    let (d, w) = ((p - 1.0) / p, 1.0 / p);
    (d, w, d * d, d * w)
}

fn output(n: usize, warmup: usize) -> Vec<f64> {
    let mut out = vec![0.0; n];
    out[..warmup.min(n)].fill(f64::NAN);
    out
}

fn check_period(indicator: &str, name: &str, value: usize, min: usize) -> Result<()> {
    if value < min {
        return Err(Error::invalid_input(format!(
            "{indicator}: `{name}` must be at least {min}, got {value}"
        )));
    }
    Ok(())
}

fn check_lengths(indicator: &str, lens: &[(&str, usize)]) -> Result<()> {
    let (first, n) = lens[0];
    for &(name, len) in &lens[1..] {
        if len != n {
            return Err(Error::invalid_input(format!(
                "{indicator}: `{name}` has {len} values but `{first}` has {n}"
            )));
        }
    }
    Ok(())
}
