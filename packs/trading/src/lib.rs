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
//! - [`pricing`]: Black-Scholes-Merton European options with a continuous dividend yield:
//!   price, Greeks (QuantLib's units: vega and rho per 1.00, theta per year), a safeguarded
//!   implied-volatility solver, a batch API and [`Decimal`](rust_decimal::Decimal) premiums.
//! - [`montecarlo`]: correlated geometric Brownian motion paths (Cholesky), the P&L
//!   distribution of a portfolio over a horizon (VaR, CVaR, percentiles) and stress scenarios
//!   (price shocks, volatility multipliers, correlation overrides); seeded and reproducible.
//! - [`risk`]: historical, parametric (normal), Cornish-Fisher and Monte Carlo VaR and CVaR,
//!   annualised volatility and return, Sharpe, Sortino, Calmar, maximum drawdown and its duration, beta and
//!   correlation matrices, with empyrical's conventions (a loss is a negative return).
//! - [`portfolio`]: mean-variance optimisation over the Clarabel solver (minimum volatility,
//!   maximum Sharpe, target return, target volatility) with long-only, box and sector
//!   constraints, the efficient frontier, sample and Ledoit-Wolf covariance and a rebalancing
//!   decision with drift bands and turnover cost, as PyPortfolioOpt computes them.
//! - [`sentiment`]: VADER's lexicon scoring of headlines (negation, boosters, "but", capitals,
//!   punctuation; the lexicon ships with the crate) with a confidence, a `date,symbol,headline`
//!   CSV loader and a confidence-weighted daily score per symbol with an optional decay.
//! - [`sizing`]: position sizing (fixed fractional, volatility targeting, capped Kelly) and
//!   [`RiskLimits`](sizing::RiskLimits) that report typed [`Breach`](sizing::Breach)es.
//!
//! The numbers are checked against the field's reference libraries: `tests/golden/generate.py`
//! writes the TA-Lib fixtures that `tests/indicators_golden.rs` and `tests/patterns_golden.rs`
//! compare with, `tests/golden/generate_pricing.py` the QuantLib one of
//! `tests/pricing_golden.rs` and `tests/golden/generate_risk.py` the empyrical one of
//! `tests/risk_golden.rs`, and `tests/golden/generate_portfolio.py` the PyPortfolioOpt one of
//! `tests/portfolio_golden.rs`.
#![warn(missing_docs)]

pub mod indicators;
pub mod market;
pub mod montecarlo;
pub mod patterns;
pub mod portfolio;
pub mod pricing;
pub mod risk;
mod sampling;
pub mod sentiment;
mod simd;
pub mod sizing;
mod table;
