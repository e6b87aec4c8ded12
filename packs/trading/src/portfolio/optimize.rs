//! Mean-variance optimisation over the Clarabel interior-point solver.

use cadre_core::{Error, Result};
use clarabel::solver::{DefaultSolver, IPSolver};

use super::conic::{Conic, finish};
use super::covariance::Covariance;
use super::working_set::{Objective, Solution};

/// A group (sector) constraint: `lower <= Σ_{i in assets} w_i <= upper`.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The group's name (for messages).
    pub name: String,
    /// Indices of the assets in the group.
    pub assets: Vec<usize>,
    /// Lower bound of the group's total weight (`f64::NEG_INFINITY`: none).
    pub lower: f64,
    /// Upper bound of the group's total weight (`f64::INFINITY`: none).
    pub upper: f64,
}

/// An optimised portfolio and its (annualised) performance.
#[derive(Debug, Clone, PartialEq)]
pub struct Portfolio {
    /// Weight of each asset; they sum to 1.
    pub weights: Vec<f64>,
    /// `μᵀw`.
    pub expected_return: f64,
    /// `√(wᵀΣw)`.
    pub volatility: f64,
}

impl Portfolio {
    /// The Sharpe ratio `(expected_return − risk_free) / volatility` (PyPortfolioOpt's
    /// `portfolio_performance`); NaN for a zero volatility.
    pub fn sharpe(&self, risk_free: f64) -> f64 {
        if self.volatility > 0.0 {
            (self.expected_return - risk_free) / self.volatility
        } else {
            f64::NAN
        }
    }
}

/// How the optimiser solves a problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Method {
    /// [`ActiveSet`](Self::ActiveSet) for problems of at least [`Method::EXACT_MIN_ASSETS`]
    /// assets, [`WorkingSet`](Self::WorkingSet) for smaller ones, where Clarabel takes a few
    /// milliseconds (the default).
    #[default]
    Auto,
    /// The exact active-set solver (block principal pivoting, see the module docs) for the
    /// problems it covers: minimum volatility, maximum Sharpe with bounds `[0, >= 1]` and
    /// efficient return, without sector groups, with a positive definite covariance. Its answer satisfies the optimality conditions to
    /// about 1e-10, tighter than the interior-point solver's 1e-8, so on ill-conditioned
    /// problems the two can differ by more than their tolerances suggest (the exact one is the
    /// better by the objective). Anything else, or a problem it cannot settle, goes to
    /// [`WorkingSet`](Self::WorkingSet).
    ActiveSet,
    /// Clarabel over a working set of assets, grown until the full problem's optimality (KKT)
    /// conditions hold, so the answer is the full problem's to the solver's tolerance.
    WorkingSet,
    /// As [`Auto`](Self::Auto), with the first guess at the held assets (the active set's free
    /// weights, the working set's first set) taken from these assets (e.g. the portfolio held
    /// before). A poor start costs time, not accuracy.
    WarmStart(Vec<usize>),
    /// Clarabel over every asset in one solve.
    Full,
}

impl Method {
    /// The size from which [`Auto`](Self::Auto) uses the active-set solver.
    pub const EXACT_MIN_ASSETS: usize = 64;
}

/// Mean-variance optimiser: expected returns, a covariance matrix and constraints.
///
/// Every portfolio is fully invested (`Σw = 1`). By default it is long-only with every weight in
/// `[0, 1]`, as PyPortfolioOpt's `EfficientFrontier(mu, S)`; [`with_bounds`](Self::with_bounds),
/// [`with_asset_bounds`](Self::with_asset_bounds) and [`with_group`](Self::with_group) change
/// the constraints. The objectives are PyPortfolioOpt's formulations, solved exactly by an
/// active-set method or by Clarabel with its default settings (the solver PyPortfolioOpt is
/// checked against, through cvxpy), as the [`Method`] (see [`with_method`](Self::with_method))
/// decides.
#[derive(Debug, Clone)]
pub struct Optimizer {
    mu: Vec<f64>,
    cov: Covariance,
    lower: Vec<f64>,
    upper: Vec<f64>,
    groups: Vec<Group>,
    method: Method,
}

/// One efficient-return problem set up once and solved for several target returns (only the
/// target's row of `b` changes, so Clarabel keeps its KKT structure and ordering).
pub(crate) struct EfficientReturn<'a> {
    opt: &'a Optimizer,
    solver: DefaultSolver<f64>,
    b: Vec<f64>,
    row: usize,
    max: f64,
}

impl EfficientReturn<'_> {
    /// The minimum-volatility portfolio whose expected return is at least `target`.
    pub(crate) fn solve(&mut self, target: f64) -> Result<Portfolio> {
        self.opt.check_target(target, self.max)?;
        self.b[self.row] = -target;
        self.solver
            .update_b(&self.b)
            .map_err(|e| Error::internal(format!("efficient return: solver update: {e}")))?;
        self.solver.solve();
        let x = finish(&self.solver, "efficient return")?;
        Ok(self.opt.portfolio(x[..self.opt.assets()].to_vec()))
    }
}

fn check_finite(field: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::invalid_input(format!(
            "field `{field}`: value {} at index {i} is not finite",
            values[i]
        ))),
        None => Ok(()),
    }
}

impl Optimizer {
    /// An optimiser for annual expected returns `mu` and the matching annualised `cov`,
    /// long-only with weights in `[0, 1]`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when `mu` and `cov` differ in their number of assets or a return is not
    /// finite.
    pub fn new(mu: Vec<f64>, cov: Covariance) -> Result<Self> {
        if mu.len() != cov.assets() {
            return Err(Error::invalid_input(format!(
                "asset count mismatch: {} expected returns but a {n} × {n} covariance matrix",
                mu.len(),
                n = cov.assets()
            )));
        }
        check_finite("expected_returns", &mu)?;
        let n = mu.len();
        Ok(Self {
            mu,
            cov,
            lower: vec![0.0; n],
            upper: vec![1.0; n],
            groups: Vec::new(),
            method: Method::Auto,
        })
    }

    /// The same bounds `lower <= w_i <= upper` for every asset (infinite: no bound).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when a bound is NaN, `lower > upper`, or the bounds cannot sum to 1.
    pub fn with_bounds(self, lower: f64, upper: f64) -> Result<Self> {
        let n = self.mu.len();
        self.with_asset_bounds(&vec![(lower, upper); n])
    }

    /// Bounds per asset, `(lower, upper)` (infinite: no bound).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the count differs from the assets', a bound is NaN, `lower > upper`,
    /// or the bounds cannot sum to 1.
    pub fn with_asset_bounds(mut self, bounds: &[(f64, f64)]) -> Result<Self> {
        if bounds.len() != self.mu.len() {
            return Err(Error::invalid_input(format!(
                "field `bounds`: {} pairs for {} assets",
                bounds.len(),
                self.mu.len()
            )));
        }
        for (i, &(lo, hi)) in bounds.iter().enumerate() {
            if lo.is_nan() || hi.is_nan() || lo > hi || lo == f64::INFINITY {
                return Err(Error::invalid_input(format!(
                    "field `bounds`: asset {i}: ({lo}, {hi}) is not a range lower <= upper"
                )));
            }
        }
        let lo_sum: f64 = bounds.iter().map(|b| b.0).sum();
        let hi_sum: f64 = bounds.iter().map(|b| b.1).sum();
        if lo_sum > 1.0 + 1e-12 || hi_sum < 1.0 - 1e-12 {
            return Err(Error::invalid_input(format!(
                "field `bounds`: infeasible, the weights must sum to 1 but the lower bounds sum \
                 to {lo_sum} and the upper bounds to {hi_sum}"
            )));
        }
        self.lower = bounds.iter().map(|b| b.0).collect();
        self.upper = bounds.iter().map(|b| b.1).collect();
        Ok(self)
    }

    /// Adds a group (sector) constraint.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the group is empty, names an asset out of range, or its bounds are
    /// NaN or reversed.
    pub fn with_group(mut self, group: Group) -> Result<Self> {
        let n = self.mu.len();
        if group.assets.is_empty() {
            return Err(Error::invalid_input(format!(
                "group `{}`: no assets",
                group.name
            )));
        }
        if let Some(a) = group.assets.iter().find(|&&a| a >= n) {
            return Err(Error::invalid_input(format!(
                "group `{}`: asset index {a} out of range ({n} assets)",
                group.name
            )));
        }
        if group.lower.is_nan() || group.upper.is_nan() || group.lower > group.upper {
            return Err(Error::invalid_input(format!(
                "group `{}`: bounds ({}, {}) are not a range lower <= upper",
                group.name, group.lower, group.upper
            )));
        }
        self.groups.push(group);
        Ok(self)
    }

    /// How problems are solved ([`Method::Auto`] by default).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when a warm start names an asset out of range.
    pub fn with_method(mut self, method: Method) -> Result<Self> {
        if let Method::WarmStart(assets) = &method
            && let Some(a) = assets.iter().find(|&&a| a >= self.mu.len())
        {
            return Err(Error::invalid_input(format!(
                "field `warm_start`: asset index {a} out of range ({} assets)",
                self.mu.len()
            )));
        }
        self.method = method;
        Ok(self)
    }

    /// How the solver is driven.
    pub fn method(&self) -> &Method {
        &self.method
    }

    pub(super) fn bounds(&self) -> (&[f64], &[f64]) {
        (&self.lower, &self.upper)
    }

    pub(super) fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The number of assets.
    pub fn assets(&self) -> usize {
        self.mu.len()
    }

    /// The expected returns.
    pub fn expected_returns(&self) -> &[f64] {
        &self.mu
    }

    /// The covariance matrix.
    pub fn covariance(&self) -> &Covariance {
        &self.cov
    }

    pub(super) fn factor_rows(&self) -> usize {
        self.cov.factor().len() / self.mu.len()
    }

    /// Performance of weights `w`.
    pub fn portfolio(&self, weights: Vec<f64>) -> Portfolio {
        let expected_return = weights.iter().zip(&self.mu).map(|(w, m)| w * m).sum();
        let volatility = self.cov.variance(&weights).sqrt();
        Portfolio {
            weights,
            expected_return,
            volatility,
        }
    }

    /// The minimum-volatility portfolio (PyPortfolioOpt's `min_volatility`).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the constraints are infeasible or the solver fails.
    pub fn min_volatility(&self) -> Result<Portfolio> {
        let s = self.solve_objective(Objective::MinVolatility, None)?;
        Ok(self.portfolio(s.x))
    }

    /// The highest expected return under the constraints (PyPortfolioOpt's `_max_return`).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the constraints are infeasible or leave the return unbounded.
    pub fn max_return(&self) -> Result<f64> {
        let n = self.mu.len();
        let mut c = Conic::new(n);
        c.q = self.mu.iter().map(|m| -m).collect();
        let all: Vec<usize> = (0..n).collect();
        self.weight_rows(&mut c, &mut Vec::new(), &all, None);
        let x = c.solve("max return")?.x;
        Ok(x.iter().zip(&self.mu).map(|(w, m)| w * m).sum())
    }

    /// The maximum-Sharpe (tangency) portfolio for a risk-free rate in the expected returns'
    /// units (PyPortfolioOpt's `max_sharpe`, its variable-scaling formulation: minimise
    /// `vᵀΣv` subject to `(μ − r_f)ᵀv = 1`, `Σv = k`, `k >= 0` and every constraint scaled by
    /// `k`; the weights are `v / k`).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when no asset's expected return exceeds `risk_free`, `risk_free` is not
    /// finite, or the constraints are infeasible.
    pub fn max_sharpe(&self, risk_free: f64) -> Result<Portfolio> {
        if !risk_free.is_finite() {
            return Err(Error::invalid_input(format!(
                "field `risk_free`: {risk_free} is not finite"
            )));
        }
        let best = self.mu.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if best <= risk_free {
            return Err(Error::invalid_input(format!(
                "max Sharpe: infeasible, no asset's expected return exceeds the risk-free rate \
                 {risk_free} (the highest is {best})"
            )));
        }
        let solved = match self.solve_objective(Objective::MaxSharpe { risk_free }, None) {
            Ok(s) => s,
            Err(e) => {
                // The usual cause: no portfolio allowed by the constraints earns more than
                // the risk-free rate, which the scaled problem cannot express.
                return match self.max_return() {
                    Ok(max) if max <= risk_free => Err(Error::invalid_input(format!(
                        "max Sharpe: infeasible, the highest expected return under the \
                         constraints is {max}, not above the risk-free rate {risk_free}"
                    ))),
                    _ => Err(e),
                };
            }
        };
        let Solution { x, scale, .. } = solved;
        let scale = scale.unwrap_or(f64::NAN);
        if scale.is_nan() || scale <= 0.0 {
            return Err(Error::invalid_input(
                "max Sharpe: the solver returned a zero scale; no portfolio with a positive \
                 excess return satisfies the constraints",
            ));
        }
        Ok(self.portfolio(x.iter().map(|v| v / scale).collect()))
    }

    /// The minimum-volatility portfolio whose expected return is at least `target`
    /// (PyPortfolioOpt's `efficient_return`).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when `target` is not finite or exceeds [`max_return`](Self::max_return)
    /// (the message gives the maximum), or the constraints are infeasible.
    pub fn efficient_return(&self, target: f64) -> Result<Portfolio> {
        let max = self.max_return()?;
        self.efficient_return_below(target, max)
    }

    pub(crate) fn efficient_return_below(&self, target: f64, max: f64) -> Result<Portfolio> {
        Ok(self.efficient_return_warm(target, max, None)?.0)
    }

    /// The efficient-return portfolio for `target` (checked against `max`), its working set
    /// started from `warm`, and the assets it holds (the next frontier point's warm start).
    pub(crate) fn efficient_return_warm(
        &self,
        target: f64,
        max: f64,
        warm: Option<&[usize]>,
    ) -> Result<(Portfolio, Vec<usize>)> {
        self.check_target(target, max)?;
        let s = self.solve_objective(Objective::EfficientReturn { target }, warm)?;
        let held = Self::held(&s.x);
        Ok((self.portfolio(s.x), held))
    }

    fn check_target(&self, target: f64, max: f64) -> Result<()> {
        if !target.is_finite() {
            return Err(Error::invalid_input(format!(
                "field `target_return`: {target} is not finite"
            )));
        }
        if target > max {
            return Err(Error::invalid_input(format!(
                "target return {target} is infeasible: the maximum expected return under the \
                 constraints is {max}"
            )));
        }
        Ok(())
    }

    /// The efficient-return problem set up for targets up to `max`.
    pub(crate) fn efficient_return_solver(&self, max: f64) -> Result<EfficientReturn<'_>> {
        let (c, row) = self.efficient_return_conic(max);
        let (solver, b) = c.solver("efficient return")?;
        Ok(EfficientReturn {
            opt: self,
            solver,
            b,
            row,
            max,
        })
    }

    /// The highest-return portfolio whose volatility is at most `target_volatility`
    /// (PyPortfolioOpt's `efficient_risk`; the volatility limit is a second-order cone).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the target is not a finite number `>= 0` or is below the minimum
    /// volatility under the constraints (the message gives it), or the constraints are
    /// infeasible.
    pub fn efficient_risk(&self, target_volatility: f64) -> Result<Portfolio> {
        if !(target_volatility.is_finite() && target_volatility >= 0.0) {
            return Err(Error::invalid_input(format!(
                "field `target_volatility`: {target_volatility} must be a finite number >= 0"
            )));
        }
        let floor = self.min_volatility()?.volatility;
        if target_volatility < floor {
            return Err(Error::invalid_input(format!(
                "target volatility {target_volatility} is infeasible: the minimum volatility \
                 under the constraints is {floor}"
            )));
        }
        let s = self.solve_objective(
            Objective::EfficientRisk {
                volatility: target_volatility,
            },
            None,
        )?;
        Ok(self.portfolio(s.x))
    }
}
