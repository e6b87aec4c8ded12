//! A seeded synthetic market: geometric Brownian motion with two volatility regimes, Poisson
//! jumps and correlated symbols.

use cadre_core::{Error, Result};
use chrono::{DateTime, TimeDelta, Utc};

use super::{Bar, Bars};
use crate::sampling::{cholesky, normal, poisson};

/// One volatility regime of [`SyntheticMarket`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regime {
    /// The standard deviation of the log return over one bar (0.01 = 1% per bar).
    pub volatility: f64,
    /// The probability of leaving this regime for the other one after each bar.
    pub switch_probability: f64,
    /// The mean volume of a bar in this regime.
    pub mean_volume: f64,
}

/// The parameters of a deterministic synthetic market.
///
/// Each bar, every symbol's log price follows GBM in `substeps` steps (the path gives the bar's
/// open, high, low and close) with the drift `drift` and the current regime's volatility, both
/// per bar. The regime is a two-state Markov chain shared by all symbols, starting in
/// `regimes[0]`. Jumps arrive per symbol as a Poisson process of `jump_intensity` per bar,
/// each adding a normal `N(jump_mean, jump_std)` log return at the bar's open (a gap). The
/// diffusion shocks of the symbols are correlated by the Cholesky factor of `correlation`.
/// Volume is the regime's mean volume times a log-normal factor (σ = 0.5, mean 1).
///
/// The same parameters and seed give the same bars on every run (`fastrand`'s seeded stream;
/// the transcendental functions are the platform's, so other targets may differ in the last bits).
///
/// ```
/// use cadre_pack_trading::market::SyntheticMarket;
/// let market = SyntheticMarket::single(100.0, 7);
/// let bars = market.generate(500)?;
/// assert_eq!(bars[0].len(), 500);
/// assert_eq!(bars, market.generate(500)?);
/// # Ok::<(), cadre_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticMarket {
    /// The first bar's open of each symbol (positive); its length is the number of symbols.
    pub initial_prices: Vec<f64>,
    /// The correlation matrix of the symbols' shocks (symmetric, unit diagonal, positive definite).
    pub correlation: Vec<Vec<f64>>,
    /// The drift of the log price per bar (before the `-σ²/2` Itô correction).
    pub drift: f64,
    /// The calm (`[0]`, the start) and stressed (`[1]`) regimes.
    pub regimes: [Regime; 2],
    /// Expected jumps per bar and symbol (`>= 0`).
    pub jump_intensity: f64,
    /// Mean log return of a jump.
    pub jump_mean: f64,
    /// Standard deviation of a jump's log return (`>= 0`).
    pub jump_std: f64,
    /// The first bar's time.
    pub start: DateTime<Utc>,
    /// The time between bars (positive).
    pub interval: TimeDelta,
    /// Path steps inside a bar (`>= 1`).
    pub substeps: usize,
    /// The RNG seed.
    pub seed: u64,
}

impl SyntheticMarket {
    /// One symbol starting at `price` with daily-ish defaults: 1% / 3% per-bar volatility
    /// regimes, rare jumps, one bar a day from 2026-01-01.
    pub fn single(price: f64, seed: u64) -> Self {
        Self::correlated(vec![price], vec![vec![1.0]], seed)
    }

    /// Several symbols with the given correlation matrix and the defaults of [`Self::single`].
    pub fn correlated(initial_prices: Vec<f64>, correlation: Vec<Vec<f64>>, seed: u64) -> Self {
        Self {
            initial_prices,
            correlation,
            drift: 0.0003,
            regimes: [
                Regime {
                    volatility: 0.01,
                    switch_probability: 0.02,
                    mean_volume: 1_000_000.0,
                },
                Regime {
                    volatility: 0.03,
                    switch_probability: 0.1,
                    mean_volume: 2_500_000.0,
                },
            ],
            jump_intensity: 0.01,
            jump_mean: -0.01,
            jump_std: 0.04,
            start: DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(),
            interval: TimeDelta::days(1),
            substeps: 8,
            seed,
        }
    }

    fn validate(&self) -> Result<Vec<Vec<f64>>> {
        let bad = |m: String| Err(Error::invalid_input(format!("synthetic market: {m}")));
        let n = self.initial_prices.len();
        if n == 0 {
            return bad("`initial_prices` is empty".into());
        }
        for (i, p) in self.initial_prices.iter().enumerate() {
            if !(p.is_finite() && *p > 0.0) {
                return bad(format!("`initial_prices[{i}]` must be positive, got {p}"));
            }
        }
        for (i, r) in self.regimes.iter().enumerate() {
            if !(r.volatility.is_finite() && r.volatility >= 0.0) {
                return bad(format!(
                    "`regimes[{i}].volatility` must be >= 0, got {}",
                    r.volatility
                ));
            }
            if !(0.0..=1.0).contains(&r.switch_probability) {
                return bad(format!(
                    "`regimes[{i}].switch_probability` must be in [0, 1], got {}",
                    r.switch_probability
                ));
            }
            if !(r.mean_volume.is_finite() && r.mean_volume >= 0.0) {
                return bad(format!(
                    "`regimes[{i}].mean_volume` must be >= 0, got {}",
                    r.mean_volume
                ));
            }
        }
        if !self.drift.is_finite() {
            return bad(format!("`drift` must be finite, got {}", self.drift));
        }
        if !(self.jump_intensity.is_finite() && (0.0..=50.0).contains(&self.jump_intensity)) {
            return bad(format!(
                "`jump_intensity` must be in [0, 50], got {}",
                self.jump_intensity
            ));
        }
        if !(self.jump_mean.is_finite() && self.jump_std.is_finite() && self.jump_std >= 0.0) {
            return bad("`jump_mean` must be finite and `jump_std` >= 0".into());
        }
        if self.interval <= TimeDelta::zero() {
            return bad(format!(
                "`interval` must be positive, got {}",
                self.interval
            ));
        }
        if self.substeps == 0 {
            return bad("`substeps` must be at least 1".into());
        }
        cholesky(&self.correlation, n, "synthetic market")
    }

    /// Generates `n` bars per symbol, in the order of `initial_prices`.
    pub fn generate(&self, n: usize) -> Result<Vec<Bars>> {
        let chol = self.validate()?;
        let k = self.initial_prices.len();
        let mut rng = fastrand::Rng::with_seed(self.seed);
        let mut log_price: Vec<f64> = self.initial_prices.iter().map(|p| p.ln()).collect();
        let mut out = vec![Vec::with_capacity(n); k];
        let mut regime = 0usize;
        let dt = 1.0 / self.substeps as f64;
        let mut e = vec![0.0; k];
        let mut time = self.start;
        for _ in 0..n {
            let r = self.regimes[regime];
            let sigma = r.volatility;
            let mut open = vec![0.0; k];
            let mut high = vec![f64::NEG_INFINITY; k];
            let mut low = vec![f64::INFINITY; k];
            for s in 0..k {
                let jumps = poisson(&mut rng, self.jump_intensity);
                for _ in 0..jumps {
                    log_price[s] += self.jump_mean + self.jump_std * normal(&mut rng);
                }
                open[s] = log_price[s].exp();
                high[s] = open[s];
                low[s] = open[s];
            }
            for _ in 0..self.substeps {
                for x in e.iter_mut() {
                    *x = normal(&mut rng);
                }
                for s in 0..k {
                    let z: f64 = (0..=s).map(|j| chol[s][j] * e[j]).sum();
                    log_price[s] += (self.drift - 0.5 * sigma * sigma) * dt + sigma * dt.sqrt() * z;
                    let p = log_price[s].exp();
                    high[s] = high[s].max(p);
                    low[s] = low[s].min(p);
                }
            }
            for s in 0..k {
                let close = log_price[s].exp();
                let volume = (r.mean_volume * (0.5 * normal(&mut rng) - 0.125).exp()).round();
                let bar = Bar::new(time, open[s], high[s], low[s], close, volume).map_err(|e| {
                    Error::invalid_input(format!(
                        "synthetic market: symbol {s} at {time}: {} (prices overflowed?)",
                        e.message()
                    ))
                })?;
                out[s].push(bar);
            }
            if rng.f64() < r.switch_probability {
                regime = 1 - regime;
            }
            time = time.checked_add_signed(self.interval).ok_or_else(|| {
                Error::invalid_input("synthetic market: time overflows after too many bars")
            })?;
        }
        out.into_iter().map(Bars::from_vec).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn returns(b: &Bars) -> Vec<f64> {
        b.closes().windows(2).map(|w| (w[1] / w[0]).ln()).collect()
    }

    fn corr(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    }

    #[test]
    fn is_deterministic_and_valid() {
        let m = SyntheticMarket::single(50.0, 42);
        let a = m.generate(2000).unwrap();
        assert_eq!(a, m.generate(2000).unwrap());
        let other = SyntheticMarket {
            seed: 43,
            ..m.clone()
        }
        .generate(2000)
        .unwrap();
        assert_ne!(a, other);
        let bars = &a[0];
        assert_eq!(bars.len(), 2000);
        assert!((bars.as_slice()[0].open() - 50.0).abs() < 1e-9);
        assert!(bars.iter().all(|b| b.low() > 0.0 && b.volume() > 0.0));
        let t = bars.as_slice()[1].time() - bars.as_slice()[0].time();
        assert_eq!(t, TimeDelta::days(1));
    }

    #[test]
    fn symbols_follow_the_correlation_matrix() {
        let c = vec![
            vec![1.0, 0.8, -0.3],
            vec![0.8, 1.0, 0.0],
            vec![-0.3, 0.0, 1.0],
        ];
        let mut m = SyntheticMarket::correlated(vec![100.0, 20.0, 5.0], c.clone(), 9);
        m.jump_intensity = 0.0;
        let bars = m.generate(5000).unwrap();
        let r: Vec<_> = bars.iter().map(returns).collect();
        for i in 0..3 {
            for j in 0..i {
                let got = corr(&r[i], &r[j]);
                assert!(
                    (got - c[i][j]).abs() < 0.05,
                    "corr[{i}][{j}] = {got}, want {}",
                    c[i][j]
                );
            }
        }
    }

    #[test]
    fn regimes_change_the_volatility() {
        let mut m = SyntheticMarket::single(100.0, 1);
        m.jump_intensity = 0.0;
        m.regimes[0].switch_probability = 0.0;
        let calm = returns(&m.generate(3000).unwrap()[0]);
        m.regimes[0].switch_probability = 1.0;
        m.regimes[1].switch_probability = 0.0;
        let stressed = returns(&m.generate(3000).unwrap()[0]);
        let sd = |r: &[f64]| {
            let n = r.len() as f64;
            let mean = r.iter().sum::<f64>() / n;
            (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt()
        };
        assert!((sd(&calm) - 0.01).abs() < 0.001, "{}", sd(&calm));
        assert!((sd(&stressed) - 0.03).abs() < 0.003, "{}", sd(&stressed));
    }

    #[test]
    fn bad_parameters_are_rejected() {
        let c = |m: Vec<Vec<f64>>| SyntheticMarket::correlated(vec![1.0, 1.0], m, 0).generate(1);
        assert!(
            c(vec![vec![1.0, 1.0], vec![1.0, 1.0]])
                .unwrap_err()
                .message()
                .contains("positive definite")
        );
        assert!(c(vec![vec![1.0, 0.5], vec![0.4, 1.0]]).is_err());
        assert!(c(vec![vec![1.0]]).is_err());
        let mut m = SyntheticMarket::single(1.0, 0);
        m.substeps = 0;
        assert!(m.generate(1).is_err());
        assert!(SyntheticMarket::single(-1.0, 0).generate(1).is_err());
    }
}
