//! The efficient frontier: minimum-volatility portfolios for evenly spaced target returns.

use cadre_core::{Error, Result};

use super::optimize::{Optimizer, Portfolio};

impl Optimizer {
    /// `points` portfolios on the efficient frontier: the minimum-volatility portfolio for
    /// each of `points` target returns evenly spaced from the minimum-volatility portfolio's
    /// return to the maximum return under the constraints less `1e-4` (the range of
    /// PyPortfolioOpt's `plotting.plot_efficient_frontier`, whose last point would otherwise
    /// sit exactly on the corner of the feasible set).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when `points < 2`, the constraints are infeasible, or a solve fails.
    pub fn frontier(&self, points: usize) -> Result<Vec<Portfolio>> {
        if points < 2 {
            return Err(Error::invalid_input(format!(
                "field `points`: {points}, at least 2 needed"
            )));
        }
        let min_vol = self.min_volatility()?;
        let max = self.max_return()?;
        let (lo, hi) = (min_vol.expected_return, max - 1e-4);
        let step = (hi - lo) / (points - 1) as f64;
        (0..points)
            .map(|i| {
                let target = if i + 1 == points {
                    hi
                } else {
                    lo + step * i as f64
                };
                self.efficient_return_below(target, max)
            })
            .collect()
    }
}
