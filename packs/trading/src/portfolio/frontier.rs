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
        // The two set-up solves, then the points in two contiguous halves, each on its own
        // core with one solver reused across its targets. The split depends only on `points`,
        // so the result does not depend on the machine.
        let (min_vol, max) = std::thread::scope(|s| {
            let max = s.spawn(|| self.max_return());
            let min_vol = self.min_volatility();
            (min_vol, join(max))
        });
        let (min_vol, max) = (min_vol?, max?);
        let (lo, hi) = (min_vol.expected_return, max - 1e-4);
        let step = (hi - lo) / (points - 1) as f64;
        let targets: Vec<f64> = (0..points)
            .map(|i| {
                if i + 1 == points {
                    hi
                } else {
                    lo + step * i as f64
                }
            })
            .collect();
        let solve = |targets: &[f64]| -> Result<Vec<Portfolio>> {
            let mut solver = self.efficient_return_solver(max)?;
            targets.iter().map(|&t| solver.solve(t)).collect()
        };
        let (first, second) = targets.split_at(points.div_ceil(2));
        let (mut a, b) = std::thread::scope(|s| {
            let b = s.spawn(|| solve(second));
            (solve(first), join(b))
        });
        if let Ok(a) = &mut a {
            a.extend(b?);
        }
        a
    }
}

/// The result of a scoped thread, a panic in it carried on.
fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
