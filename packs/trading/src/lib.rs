//! The trading desk's library layer.
//!
//! - [`market`]: validated [`Bar`](market::Bar)s, [`Tick`](market::Tick)s and
//!   [`Quote`](market::Quote)s, the [`Bars`](market::Bars) series (strictly increasing time),
//!   resampling, an OHLCV CSV loader and a seeded synthetic market (GBM with volatility
//!   regimes, jumps and correlated symbols).
//! - [`indicators`]: SMA, EMA, WMA, RSI, MACD, Bollinger Bands, ATR, Stochastic, OBV and VWAP,
//!   each streaming (O(1) per update) and batch, matching TA-Lib's values and warm-up lengths.
//! - [`patterns`]: candlestick patterns (doji, hammer, shooting star, engulfing, morning and
//!   evening star) as TA-Lib's `CDL*` functions find them.
//!
//! The numbers are checked against TA-Lib: `tests/golden/generate.py` writes the fixtures that
//! `tests/indicators_golden.rs` and `tests/patterns_golden.rs` compare with.
#![warn(missing_docs)]

pub mod indicators;
pub mod market;
pub mod patterns;
