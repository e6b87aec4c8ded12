//! Mean-variance portfolio optimisation, as PyPortfolioOpt does it.
//!
//! - Estimates from a price panel (one series per asset): [`returns_from_prices`],
//!   [`expected_returns`] (compounded or mean, PyPortfolioOpt's `mean_historical_return`),
//!   [`sample_cov`] and [`ledoit_wolf`] shrinkage (`CovarianceShrinkage(...).ledoit_wolf()`,
//!   towards a constant variance), all annualised by a frequency (252 for daily prices).
//! - An [`Optimizer`] over the Clarabel interior-point solver: minimum volatility, maximum
//!   Sharpe (the variable-scaling formulation), efficient return (a target return), efficient
//!   risk (a target volatility, a second-order cone), with long-only, per-asset box and group
//!   (sector) constraints, and the [`frontier`](Optimizer::frontier). How a problem is solved
//!   is the [`Method`]; by default ([`Method::Auto`]):
//!   - problems of at least [`Method::EXACT_MIN_ASSETS`] assets that are minimum volatility,
//!     maximum Sharpe (long-only) or efficient return without groups go to an exact
//!     active-set solver: block principal pivoting on the bounds, each step an exact solve of
//!     the equality-constrained problem through the Woodbury identity over the covariance's
//!     factored form, its answer checked against the full problem's KKT conditions;
//!   - everything else (and anything the active set cannot settle) goes to Clarabel over a
//!     working set of assets, grown until the full problem's KKT conditions hold (every asset
//!     left out has a non-negative reduced cost), so the answer is the full problem's;
//!     anything that loop cannot settle ends in the full solve.
//! - A [`rebalance`] decision: drift bands (absolute and/or relative) and a turnover cost in
//!   basis points, weighed against the utility gained.
//!
//! Conventions: weights sum to 1; returns, volatilities and the covariance are annual (the
//! frequency scales daily figures); a risk-free rate is in the same annual units. The solver
//! never sees the dense covariance: `Σ = diag(d) + FᵀF` with `F` the scaled demeaned returns
//! or a Cholesky factor, whichever has fewer rows (see [`Covariance`]), which keeps its linear
//! system sparse.
//!
//! ```
//! use cadre_pack_trading::portfolio::{
//!     expected_returns, ledoit_wolf, returns_from_prices, Optimizer, ReturnMethod,
//! };
//! # fn main() -> cadre_core::Result<()> {
//! let prices: Vec<Vec<f64>> = (0..3)
//!     .map(|a| (0..60).map(|t| 100.0 * (1.0 + 0.001 * (a + 1) as f64 * t as f64
//!         + 0.01 * ((t * (a + 2)) as f64).sin())).collect())
//!     .collect();
//! let returns = returns_from_prices(&prices)?;
//! let mu = expected_returns(&returns, ReturnMethod::Compounded, 252.0)?;
//! let cov = ledoit_wolf(&returns, 252.0)?;
//! let best = Optimizer::new(mu, cov)?.with_bounds(0.0, 0.6)?.max_sharpe(0.0)?;
//! assert!((best.weights.iter().sum::<f64>() - 1.0).abs() < 1e-6);
//! assert!(best.weights.iter().all(|w| *w > -1e-7 && *w < 0.6 + 1e-7));
//! # Ok(())
//! # }
//! ```

mod active_set;
mod conic;
mod covariance;
mod estimate;
mod frontier;
mod optimize;
mod rebalance;
mod working_set;

pub use covariance::Covariance;
pub use estimate::{ReturnMethod, expected_returns, ledoit_wolf, returns_from_prices, sample_cov};
pub use optimize::{Group, Method, Optimizer, Portfolio};
pub use rebalance::{HoldReason, Rebalance, RebalancePolicy, Trade, Utility, rebalance};
