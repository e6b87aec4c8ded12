//! The efficient frontier: minimum-volatility portfolios for evenly spaced target returns.

use cadre_core::{Error, Result};

use super::optimize::{Method, Optimizer, Portfolio};

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
        // The two set-up solves on two threads, then the points on two threads: the full
        // method in two contiguous halves, one solver reused across each half's targets; the
        // working set in two interleaved chains (even and odd points, the expensive points
        // near the minimum volatility split between them), each point's working set
        // warm-started from the assets its chain's previous point held. The split depends
        // only on `points`, so the result does not depend on the machine.
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
        if *self.method() == Method::Full {
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
            return a;
        }
        let chain = |parity: usize, mut warm: Option<Vec<usize>>| -> Result<Vec<Portfolio>> {
            let mut out = Vec::new();
            for &t in targets.iter().skip(parity).step_by(2) {
                let (p, held) = self.efficient_return_warm(t, max, warm.as_deref())?;
                out.push(p);
                warm = Some(held);
            }
            Ok(out)
        };
        // Even points (0, 2, ...) on this thread, the first from the min-vol portfolio's
        // holdings (its target is that portfolio's return); odd points on the other.
        let first = Self::held(&min_vol.weights);
        let (even, odd) = std::thread::scope(|s| {
            let odd = s.spawn(|| chain(1, None));
            (chain(0, Some(first)), join(odd))
        });
        let (mut even, mut odd) = (even?.into_iter(), odd?.into_iter());
        let mut out = Vec::with_capacity(points);
        for i in 0..points {
            let next = if i % 2 == 1 { odd.next() } else { even.next() };
            out.push(next.ok_or_else(|| Error::internal("frontier: a chain came back short"))?);
        }
        Ok(out)
    }
}

/// The result of a scoped thread, a panic in it carried on.
fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
