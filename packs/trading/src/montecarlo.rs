//! Monte Carlo simulation: correlated geometric Brownian motion paths, the P&L distribution
//! of a portfolio over a horizon, and stress scenarios.
//!
//! Every asset's log price follows `d ln S = (μ − σ²/2) dt + σ dW`, the Brownian motions
//! correlated by the Cholesky factor of a validated correlation matrix. Steps use the exact
//! log-normal transition, so one step to the horizon gives the same terminal distribution as
//! many (more steps only add path detail).
//!
//! # Reproducibility
//!
//! A [`Simulation`] carries its seed; the same model, simulation settings and seed give the
//! same numbers, bit for bit, on every run of the same build and target (one `fastrand`
//! stream, drawn in a fixed order: path by path, step by step, asset by asset). The
//! transcendental functions are the platform's, so other targets may differ in the last bits.
//!
//! ```
//! use cadre_pack_trading::montecarlo::{GbmModel, Holding, Simulation};
//! let model = GbmModel::new(
//!     vec![100.0, 50.0],
//!     vec![0.05, 0.03],
//!     vec![0.2, 0.3],
//!     vec![vec![1.0, 0.5], vec![0.5, 1.0]],
//! )?;
//! let sim = Simulation::new(10_000, 10.0 / 252.0, 7);
//! let pnl = model.portfolio_pnl(&[Holding::Quantity(10.0), Holding::Value(-500.0)], &sim)?;
//! let var_99 = pnl.var(0.01)?; // a loss is negative
//! assert!(var_99 < 0.0);
//! assert_eq!(pnl, model.portfolio_pnl(&[Holding::Quantity(10.0), Holding::Value(-500.0)], &sim)?);
//! # Ok::<(), cadre_core::Error>(())
//! ```

use cadre_core::{Error, Result};

use crate::risk;
use crate::sampling::{cholesky, normal};

fn bad<T>(msg: String) -> Result<T> {
    Err(Error::invalid_input(format!("monte carlo: {msg}")))
}

/// Correlated geometric Brownian motion for several assets, validated on construction.
///
/// Drifts and volatilities are per unit of time of the [`Simulation::horizon`] (annualised
/// figures with a horizon in years, daily ones with a horizon in days).
#[derive(Debug, Clone, PartialEq)]
pub struct GbmModel {
    initial_prices: Vec<f64>,
    drifts: Vec<f64>,
    volatilities: Vec<f64>,
    correlation: Vec<Vec<f64>>,
    chol: Vec<Vec<f64>>,
}

impl GbmModel {
    /// A model of `initial_prices.len()` assets: spot prices (positive), drifts `μ` (the
    /// expected simple growth rate: `E[S_T] = S_0·e^{μT}`), volatilities `σ` (`>= 0`) and the
    /// correlation matrix of the Brownian motions (symmetric, unit diagonal, positive
    /// definite).
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the field for mismatched lengths, a non-positive price, a
    /// non-finite drift, a negative volatility or a correlation matrix that is not a positive
    /// definite correlation matrix.
    pub fn new(
        initial_prices: Vec<f64>,
        drifts: Vec<f64>,
        volatilities: Vec<f64>,
        correlation: Vec<Vec<f64>>,
    ) -> Result<Self> {
        let n = initial_prices.len();
        if n == 0 {
            return bad("`initial_prices` is empty".into());
        }
        for (name, len) in [
            ("drifts", drifts.len()),
            ("volatilities", volatilities.len()),
        ] {
            if len != n {
                return bad(format!(
                    "`{name}` has {len} values, `initial_prices` has {n}"
                ));
            }
        }
        for (i, p) in initial_prices.iter().enumerate() {
            if !(p.is_finite() && *p > 0.0) {
                return bad(format!("`initial_prices[{i}]` must be positive, got {p}"));
            }
        }
        for (i, m) in drifts.iter().enumerate() {
            if !m.is_finite() {
                return bad(format!("`drifts[{i}]` must be finite, got {m}"));
            }
        }
        for (i, v) in volatilities.iter().enumerate() {
            if !(v.is_finite() && *v >= 0.0) {
                return bad(format!("`volatilities[{i}]` must be >= 0, got {v}"));
            }
        }
        let chol = cholesky(&correlation, n, "monte carlo")?;
        Ok(Self {
            initial_prices,
            drifts,
            volatilities,
            correlation,
            chol,
        })
    }

    /// One asset (no correlation to give).
    ///
    /// # Errors
    ///
    /// As [`Self::new`].
    pub fn single(price: f64, drift: f64, volatility: f64) -> Result<Self> {
        Self::new(vec![price], vec![drift], vec![volatility], vec![vec![1.0]])
    }

    /// The number of assets.
    pub fn assets(&self) -> usize {
        self.initial_prices.len()
    }

    /// The spot prices.
    pub fn initial_prices(&self) -> &[f64] {
        &self.initial_prices
    }

    /// The drifts `μ`.
    pub fn drifts(&self) -> &[f64] {
        &self.drifts
    }

    /// The volatilities `σ`.
    pub fn volatilities(&self) -> &[f64] {
        &self.volatilities
    }

    /// The correlation matrix.
    pub fn correlation(&self) -> &[Vec<f64>] {
        &self.correlation
    }

    /// The closed-form mean of asset `asset`'s price at `horizon`: `S_0·e^{μT}`.
    ///
    /// # Panics
    ///
    /// When `asset` is out of range.
    pub fn terminal_mean(&self, asset: usize, horizon: f64) -> f64 {
        self.initial_prices[asset] * (self.drifts[asset] * horizon).exp()
    }

    /// The closed-form variance of asset `asset`'s price at `horizon`:
    /// `S_0²·e^{2μT}·(e^{σ²T} − 1)`.
    ///
    /// # Panics
    ///
    /// When `asset` is out of range.
    pub fn terminal_variance(&self, asset: usize, horizon: f64) -> f64 {
        let s = self.volatilities[asset];
        self.terminal_mean(asset, horizon).powi(2) * (s * s * horizon).exp_m1()
    }

    /// Runs `sim` and calls `visit(path, step, log_prices)` for step 0 (the spot) and after
    /// every step.
    fn walk(&self, sim: &Simulation, mut visit: impl FnMut(usize, usize, &[f64])) -> Result<()> {
        sim.validate()?;
        let k = self.assets();
        let dt = sim.horizon / sim.steps as f64;
        let drift: Vec<f64> = (0..k)
            .map(|s| (self.drifts[s] - 0.5 * self.volatilities[s].powi(2)) * dt)
            .collect();
        let diffusion: Vec<f64> = self.volatilities.iter().map(|v| v * dt.sqrt()).collect();
        let start: Vec<f64> = self.initial_prices.iter().map(|p| p.ln()).collect();
        let mut rng = fastrand::Rng::with_seed(sim.seed);
        let mut shocks = vec![0.0; sim.steps * k];
        let mut x = start.clone();
        for path in 0..sim.paths {
            let mirror = sim.antithetic && path % 2 == 1;
            if mirror {
                shocks.iter_mut().for_each(|e| *e = -*e);
            } else {
                shocks.iter_mut().for_each(|e| *e = normal(&mut rng));
            }
            x.copy_from_slice(&start);
            visit(path, 0, &x);
            for step in 0..sim.steps {
                let e = &shocks[step * k..(step + 1) * k];
                for s in 0..k {
                    let z: f64 = self.chol[s][..=s].iter().zip(e).map(|(l, e)| l * e).sum();
                    x[s] += drift[s] + diffusion[s] * z;
                }
                visit(path, step + 1, &x);
            }
        }
        Ok(())
    }

    /// Simulates whole price paths.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for bad [`Simulation`] settings or when the paths would need more than
    /// 2³¹ numbers.
    pub fn simulate(&self, sim: &Simulation) -> Result<Paths> {
        let k = self.assets();
        let size = sim
            .paths
            .checked_mul(sim.steps.saturating_add(1))
            .and_then(|n| n.checked_mul(k))
            .filter(|&n| n <= 1 << 31);
        let Some(size) = size else {
            return bad(format!(
                "{} paths × {} steps × {k} assets is too many numbers to keep; \
                 use `simulate_terminal` or fewer paths",
                sim.paths, sim.steps
            ));
        };
        let mut data = Vec::with_capacity(size);
        self.walk(sim, |_, step, x| {
            if step == 0 {
                data.extend_from_slice(&self.initial_prices);
            } else {
                data.extend(x.iter().map(|v| v.exp()));
            }
        })?;
        Ok(Paths {
            assets: k,
            steps: sim.steps,
            data,
        })
    }

    /// Simulates the prices at the horizon only: `result[path][asset]`, the same numbers as
    /// the last step of [`Self::simulate`] with the same settings.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for bad [`Simulation`] settings.
    pub fn simulate_terminal(&self, sim: &Simulation) -> Result<Vec<Vec<f64>>> {
        let mut out = Vec::with_capacity(sim.paths);
        self.walk(sim, |_, step, x| {
            if step == sim.steps {
                out.push(x.iter().map(|v| v.exp()).collect());
            }
        })?;
        Ok(out)
    }

    /// The distribution of a portfolio's P&L at the horizon: per path,
    /// `Σ quantity_i·(S_i(T) − S_i(0))`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when there is not one holding per asset, a holding is not finite, or
    /// for bad [`Simulation`] settings.
    pub fn portfolio_pnl(&self, holdings: &[Holding], sim: &Simulation) -> Result<PnlDistribution> {
        let q = quantities(holdings, &self.initial_prices)?;
        let base = dot(&q, &self.initial_prices);
        self.pnl_against(&q, base, sim)
    }

    fn pnl_against(&self, q: &[f64], base: f64, sim: &Simulation) -> Result<PnlDistribution> {
        let terminal = self.simulate_terminal(sim)?;
        let samples = terminal.iter().map(|s| dot(q, s) - base).collect();
        Ok(PnlDistribution {
            samples,
            initial_value: base,
        })
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn quantities(holdings: &[Holding], prices: &[f64]) -> Result<Vec<f64>> {
    if holdings.len() != prices.len() {
        return bad(format!(
            "`holdings` has {} positions, the model has {} assets",
            holdings.len(),
            prices.len()
        ));
    }
    holdings
        .iter()
        .zip(prices)
        .enumerate()
        .map(|(i, (h, p))| {
            let q = match *h {
                Holding::Quantity(q) => q,
                Holding::Value(v) => v / p,
            };
            if q.is_finite() {
                Ok(q)
            } else {
                bad(format!("`holdings[{i}]` must be finite, got {h:?}"))
            }
        })
        .collect()
}

/// The settings of one simulation run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Simulation {
    /// Number of paths (`>= 1`; even with `antithetic`).
    pub paths: usize,
    /// Time steps per path (`>= 1`).
    pub steps: usize,
    /// The horizon, in the time unit of the model's drifts and volatilities (`> 0`).
    pub horizon: f64,
    /// The RNG seed: the same seed gives the same numbers.
    pub seed: u64,
    /// Antithetic variates: every odd path uses the negated shocks of the path before it
    /// (halves the random draws, lowers the variance of the mean).
    pub antithetic: bool,
}

impl Simulation {
    /// `paths` paths of one step to `horizon`, without antithetic variates.
    pub fn new(paths: usize, horizon: f64, seed: u64) -> Self {
        Self {
            paths,
            steps: 1,
            horizon,
            seed,
            antithetic: false,
        }
    }

    /// The same settings with `steps` steps per path.
    pub fn with_steps(self, steps: usize) -> Self {
        Self { steps, ..self }
    }

    /// The same settings with antithetic variates on or off.
    pub fn with_antithetic(self, antithetic: bool) -> Self {
        Self { antithetic, ..self }
    }

    fn validate(&self) -> Result<()> {
        if self.paths == 0 {
            return bad("`paths` must be at least 1".into());
        }
        if self.antithetic && self.paths % 2 == 1 {
            return bad(format!(
                "`paths` must be even with `antithetic`, got {}",
                self.paths
            ));
        }
        if self.steps == 0 {
            return bad("`steps` must be at least 1".into());
        }
        if !(self.horizon.is_finite() && self.horizon > 0.0) {
            return bad(format!("`horizon` must be > 0, got {}", self.horizon));
        }
        Ok(())
    }
}

/// Simulated price paths: `steps + 1` points per path (the spot first) of every asset.
#[derive(Debug, Clone, PartialEq)]
pub struct Paths {
    assets: usize,
    steps: usize,
    data: Vec<f64>,
}

impl Paths {
    /// The number of paths.
    pub fn len(&self) -> usize {
        self.data.len() / ((self.steps + 1) * self.assets)
    }

    /// Whether there is no path (never, for a simulation that succeeded).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The number of steps per path.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The number of assets.
    pub fn assets(&self) -> usize {
        self.assets
    }

    /// The prices of every asset at `step` (0 = the spot) of `path`.
    ///
    /// # Panics
    ///
    /// When `path` or `step` is out of range.
    pub fn at(&self, path: usize, step: usize) -> &[f64] {
        assert!(step <= self.steps, "step {step} > {}", self.steps);
        let i = (path * (self.steps + 1) + step) * self.assets;
        &self.data[i..i + self.assets]
    }

    /// The prices of every asset at the horizon of `path`.
    ///
    /// # Panics
    ///
    /// When `path` is out of range.
    pub fn terminal(&self, path: usize) -> &[f64] {
        self.at(path, self.steps)
    }

    /// One asset's price path: `steps + 1` prices.
    ///
    /// # Panics
    ///
    /// When `path` or `asset` is out of range.
    pub fn asset_path(&self, path: usize, asset: usize) -> Vec<f64> {
        (0..=self.steps).map(|s| self.at(path, s)[asset]).collect()
    }
}

/// A position in one asset of a [`GbmModel`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Holding {
    /// Units held (negative = short).
    Quantity(f64),
    /// Market value held at the spot price (negative = short); converted to units at the
    /// model's initial price.
    Value(f64),
}

/// The simulated P&L of a portfolio at the horizon, one sample per path (a loss is negative,
/// as in [`risk`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PnlDistribution {
    samples: Vec<f64>,
    initial_value: f64,
}

impl PnlDistribution {
    /// The P&L of every path, in path order.
    pub fn samples(&self) -> &[f64] {
        &self.samples
    }

    /// The portfolio's value at the spot prices the P&L is measured from.
    pub fn initial_value(&self) -> f64 {
        self.initial_value
    }

    /// The P&L as a return on the initial value, per path.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the initial value is zero.
    pub fn returns(&self) -> Result<Vec<f64>> {
        if self.initial_value == 0.0 {
            return bad("the portfolio's initial value is 0, returns are undefined".into());
        }
        Ok(self
            .samples
            .iter()
            .map(|p| p / self.initial_value.abs())
            .collect())
    }

    /// The mean P&L.
    pub fn mean(&self) -> f64 {
        self.samples.iter().sum::<f64>() / self.samples.len() as f64
    }

    /// The sample standard deviation of the P&L (n − 1; 0 for one path).
    pub fn std_dev(&self) -> f64 {
        let n = self.samples.len();
        if n < 2 {
            return 0.0;
        }
        let m = self.mean();
        let ss: f64 = self.samples.iter().map(|v| (v - m) * (v - m)).sum();
        (ss / (n - 1) as f64).sqrt()
    }

    /// The `p`-th percentile (0 to 100) of the P&L, linearly interpolated (numpy's default).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when `p` is outside [0, 100].
    pub fn percentile(&self, p: f64) -> Result<f64> {
        if !(0.0..=100.0).contains(&p) {
            return bad(format!("percentile {p} must lie in [0, 100]"));
        }
        let ends = || self.samples.iter().copied();
        if p == 0.0 {
            return Ok(ends().fold(f64::INFINITY, f64::min));
        }
        if p == 100.0 {
            return Ok(ends().fold(f64::NEG_INFINITY, f64::max));
        }
        risk::historical_var(&self.samples, p / 100.0)
    }

    /// The Monte Carlo VaR of the P&L at `cutoff` (0.05 for 95 %): [`risk::historical_var`]
    /// of the samples, a currency amount, a loss negative.
    ///
    /// # Errors
    ///
    /// As [`risk::historical_var`].
    pub fn var(&self, cutoff: f64) -> Result<f64> {
        risk::historical_var(&self.samples, cutoff)
    }

    /// The Monte Carlo CVaR (expected shortfall) of the P&L at `cutoff`:
    /// [`risk::historical_cvar`] of the samples.
    ///
    /// # Errors
    ///
    /// As [`risk::historical_cvar`].
    pub fn cvar(&self, cutoff: f64) -> Result<f64> {
        risk::historical_cvar(&self.samples, cutoff)
    }
}

/// A named stress scenario: instantaneous price shocks, a volatility multiplier and an
/// optional correlation override (every off-diagonal correlation set to one value).
#[derive(Debug, Clone, PartialEq)]
pub struct StressScenario {
    /// The scenario's name.
    pub name: String,
    /// Relative price shocks (−0.2 = −20 %): empty for none, one value for every asset, or
    /// one per asset. Each must be above −1.
    pub price_shocks: Vec<f64>,
    /// Factor applied to every volatility (`>= 0`; 1 = unchanged).
    pub vol_multiplier: f64,
    /// When set, every off-diagonal correlation becomes this value (the matrix must stay
    /// positive definite: above `−1/(n − 1)` and below 1).
    pub correlation: Option<f64>,
}

impl StressScenario {
    /// A scenario named `name` that changes nothing (add shocks with the `with_*` methods).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            price_shocks: Vec::new(),
            vol_multiplier: 1.0,
            correlation: None,
        }
    }

    /// The same scenario with one relative price shock for every asset.
    pub fn with_price_shock(self, shock: f64) -> Self {
        self.with_price_shocks(vec![shock])
    }

    /// The same scenario with one relative price shock per asset.
    pub fn with_price_shocks(self, shocks: Vec<f64>) -> Self {
        Self {
            price_shocks: shocks,
            ..self
        }
    }

    /// The same scenario with volatilities multiplied by `factor`.
    pub fn with_vol_multiplier(self, factor: f64) -> Self {
        Self {
            vol_multiplier: factor,
            ..self
        }
    }

    /// The same scenario with every off-diagonal correlation set to `rho`.
    pub fn with_correlation(self, rho: f64) -> Self {
        Self {
            correlation: Some(rho),
            ..self
        }
    }

    /// `equity-crash`: prices −20 %, volatility ×2, correlations → 0.9.
    pub fn equity_crash() -> Self {
        Self::new("equity-crash")
            .with_price_shock(-0.2)
            .with_vol_multiplier(2.0)
            .with_correlation(0.9)
    }

    /// `correction`: prices −10 %, volatility ×1.5.
    pub fn correction() -> Self {
        Self::new("correction")
            .with_price_shock(-0.1)
            .with_vol_multiplier(1.5)
    }

    /// `volatility-spike`: prices unchanged, volatility ×3.
    pub fn volatility_spike() -> Self {
        Self::new("volatility-spike").with_vol_multiplier(3.0)
    }

    /// `correlation-spike`: prices and volatilities unchanged, correlations → 0.9.
    pub fn correlation_spike() -> Self {
        Self::new("correlation-spike").with_correlation(0.9)
    }

    /// The built-in presets: [`Self::equity_crash`], [`Self::correction`],
    /// [`Self::volatility_spike`] and [`Self::correlation_spike`].
    pub fn presets() -> Vec<Self> {
        vec![
            Self::equity_crash(),
            Self::correction(),
            Self::volatility_spike(),
            Self::correlation_spike(),
        ]
    }

    /// The preset named `name`, if there is one.
    pub fn preset(name: &str) -> Option<Self> {
        Self::presets().into_iter().find(|s| s.name == name)
    }

    fn shocks(&self, n: usize) -> Result<Vec<f64>> {
        let who = &self.name;
        let shocks = match self.price_shocks.len() {
            0 => vec![0.0; n],
            1 => vec![self.price_shocks[0]; n],
            len if len == n => self.price_shocks.clone(),
            len => {
                return bad(format!(
                    "scenario `{who}`: `price_shocks` has {len} values, expected 1 or {n}"
                ));
            }
        };
        if let Some((i, s)) = shocks
            .iter()
            .enumerate()
            .find(|(_, s)| !(s.is_finite() && **s > -1.0))
        {
            return bad(format!(
                "scenario `{who}`: `price_shocks[{i}]` = {s} must be above -1 (a price stays positive)"
            ));
        }
        Ok(shocks)
    }

    /// The model after the scenario: shocked spot prices, scaled volatilities and the
    /// overridden correlation.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the scenario for a shock count that is neither 1 nor the number
    /// of assets, a shock at or below −1, a negative multiplier or a correlation that leaves
    /// the matrix not positive definite.
    pub fn apply(&self, model: &GbmModel) -> Result<GbmModel> {
        let n = model.assets();
        let shocks = self.shocks(n)?;
        let m = self.vol_multiplier;
        if !(m.is_finite() && m >= 0.0) {
            return bad(format!(
                "scenario `{}`: `vol_multiplier` must be >= 0, got {m}",
                self.name
            ));
        }
        let correlation = match self.correlation {
            None => model.correlation.clone(),
            Some(rho) => (0..n)
                .map(|i| (0..n).map(|j| if i == j { 1.0 } else { rho }).collect())
                .collect(),
        };
        GbmModel::new(
            model
                .initial_prices
                .iter()
                .zip(&shocks)
                .map(|(p, s)| p * (1.0 + s))
                .collect(),
            model.drifts.clone(),
            model.volatilities.iter().map(|v| v * m).collect(),
            correlation,
        )
        .map_err(|e| Error::invalid_input(format!("scenario `{}`: {}", self.name, e.message())))
    }

    /// The P&L of the scenario's instantaneous price shocks: `Σ quantity_i·S_i(0)·shock_i`.
    ///
    /// # Errors
    ///
    /// As [`Self::apply`] and [`GbmModel::portfolio_pnl`]'s holdings check.
    pub fn instantaneous_pnl(&self, model: &GbmModel, holdings: &[Holding]) -> Result<f64> {
        let q = quantities(holdings, &model.initial_prices)?;
        let stressed = self.apply(model)?;
        Ok(dot(&q, &stressed.initial_prices) - dot(&q, &model.initial_prices))
    }

    /// The P&L distribution at the horizon when the scenario hits first: the stressed model is
    /// simulated from the shocked prices and the P&L is measured from the *unshocked* value,
    /// so it includes the instantaneous loss. Holdings given as values are converted to units
    /// at the unshocked prices.
    ///
    /// # Errors
    ///
    /// As [`Self::apply`] and [`GbmModel::portfolio_pnl`].
    pub fn simulate_pnl(
        &self,
        model: &GbmModel,
        holdings: &[Holding],
        sim: &Simulation,
    ) -> Result<PnlDistribution> {
        let q = quantities(holdings, &model.initial_prices)?;
        let stressed = self.apply(model)?;
        stressed.pnl_against(&q, dot(&q, &model.initial_prices), sim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two() -> GbmModel {
        GbmModel::new(
            vec![100.0, 50.0],
            vec![0.05, 0.0],
            vec![0.2, 0.4],
            vec![vec![1.0, 0.3], vec![0.3, 1.0]],
        )
        .unwrap()
    }

    #[test]
    fn terminal_matches_the_last_step_of_the_paths() {
        let sim = Simulation::new(50, 1.0, 3).with_steps(12);
        let paths = two().simulate(&sim).unwrap();
        let terminal = two().simulate_terminal(&sim).unwrap();
        assert_eq!(paths.len(), 50);
        assert_eq!(paths.at(7, 0), &[100.0, 50.0]);
        for (p, t) in terminal.iter().enumerate() {
            assert_eq!(paths.terminal(p), t.as_slice());
        }
        assert_eq!(paths.asset_path(3, 1).len(), 13);
    }

    #[test]
    #[allow(clippy::needless_range_loop)] // asset index into both the model and the pair
    fn antithetic_pairs_mirror_each_other_in_log_space() {
        let m = two();
        let sim = Simulation::new(20, 2.0, 11).with_antithetic(true);
        let t = m.simulate_terminal(&sim).unwrap();
        for pair in t.chunks(2) {
            for s in 0..2 {
                let centre = m.initial_prices()[s].ln()
                    + (m.drifts()[s] - 0.5 * m.volatilities()[s].powi(2)) * 2.0;
                let mid = 0.5 * (pair[0][s].ln() + pair[1][s].ln());
                assert!((mid - centre).abs() < 1e-12, "{mid} vs {centre}");
            }
        }
    }

    #[test]
    fn scenarios_shock_prices_vols_and_correlations() {
        let m = two();
        let crash = StressScenario::preset("equity-crash").unwrap();
        let s = crash.apply(&m).unwrap();
        assert_eq!(s.initial_prices(), &[80.0, 40.0]);
        assert_eq!(s.volatilities(), &[0.4, 0.8]);
        assert_eq!(s.correlation()[0][1], 0.9);
        let h = [Holding::Quantity(2.0), Holding::Value(-1000.0)];
        // 2·100·−0.2 + (−20)·50·−0.2 = −40 + 200.
        let pnl = crash.instantaneous_pnl(&m, &h).unwrap();
        assert!((pnl - 160.0).abs() < 1e-9, "{pnl}");
        let bad_shocks = StressScenario::new("x").with_price_shocks(vec![-0.1, -0.1, -0.1]);
        assert!(bad_shocks.apply(&m).unwrap_err().message().contains("`x`"));
        let wipe_out = StressScenario::new("w").with_price_shock(-1.0);
        assert!(
            wipe_out
                .apply(&m)
                .unwrap_err()
                .message()
                .contains("above -1")
        );
    }
}
