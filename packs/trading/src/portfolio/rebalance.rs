//! Whether to trade from the current weights to target weights: drift bands and turnover cost.

use cadre_core::{Error, Result};

use super::covariance::Covariance;

/// When to rebalance: drift bands per asset and the cost of trading.
///
/// An asset has drifted out of its band when `|current − target| > absolute` or
/// `|current − target| > relative · |target|` (either threshold may be left out; with neither,
/// any difference counts). Trading costs `cost_bps` basis points of the traded weight
/// (`Σ|current − target|`, buys plus sells).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RebalancePolicy {
    /// Absolute drift band (`0.02`: two percentage points).
    pub absolute: Option<f64>,
    /// Relative drift band (`0.25`: a quarter of the target weight).
    pub relative: Option<f64>,
    /// Cost of trading, in basis points of the traded weight.
    pub cost_bps: f64,
}

/// What rebalancing is worth: the expected returns and covariance of a mean-variance utility
/// `U(w) = μᵀw − (λ/2)·wᵀΣw`, so that the benefit of trading is `U(target) − U(current)`.
#[derive(Debug, Clone, Copy)]
pub struct Utility<'a> {
    /// Expected returns (as per the horizon the cost is compared with, e.g. annual).
    pub expected_returns: &'a [f64],
    /// The covariance matrix over the same horizon.
    pub covariance: &'a Covariance,
    /// Risk aversion `λ` (> 0).
    pub risk_aversion: f64,
}

/// One trade of a rebalance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trade {
    /// The asset's index.
    pub asset: usize,
    /// Its current weight.
    pub from: f64,
    /// Its target weight.
    pub to: f64,
}

impl Trade {
    /// `to − from`: positive buys, negative sells.
    pub fn delta(&self) -> f64 {
        self.to - self.from
    }
}

/// Why a rebalance holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HoldReason {
    /// Every asset is within its drift band.
    WithinBand,
    /// Some asset drifted, but trading would cost more than it gains in utility.
    CostExceedsBenefit {
        /// The trading cost, as a fraction of the portfolio.
        cost: f64,
        /// `U(target) − U(current)`.
        benefit: f64,
    },
}

/// The decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Rebalance {
    /// Keep the current weights.
    Hold(HoldReason),
    /// Trade every asset whose weight differs to its target.
    Trade {
        /// The trades (assets whose weight changes).
        trades: Vec<Trade>,
        /// `Σ|to − from|`.
        turnover: f64,
        /// The trading cost, as a fraction of the portfolio.
        cost: f64,
        /// `U(target) − U(current)` when a [`Utility`] was given.
        benefit: Option<f64>,
        /// Indices of the assets outside their band.
        drifted: Vec<usize>,
    },
}

fn check_weights(field: &str, w: &[f64]) -> Result<()> {
    if let Some(i) = w.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid_input(format!(
            "field `{field}`: weight {} at index {i} is not finite",
            w[i]
        )));
    }
    Ok(())
}

fn check_threshold(field: &str, t: Option<f64>) -> Result<()> {
    match t {
        Some(v) if !(v.is_finite() && v >= 0.0) => Err(Error::invalid_input(format!(
            "field `{field}`: {v} must be a finite number >= 0"
        ))),
        _ => Ok(()),
    }
}

/// Decides whether to move from `current` to `target` weights under `policy`.
///
/// Holds with [`HoldReason::WithinBand`] when no asset is out of its band; otherwise, when
/// `utility` is given and the cost exceeds the benefit, holds with
/// [`HoldReason::CostExceedsBenefit`]; otherwise trades every asset to its target.
///
/// # Errors
///
/// `InvalidInput` when the weight vectors (or the utility's inputs) differ in length, a weight
/// is not finite, a threshold or the cost is negative or not finite, or the risk aversion is
/// not `> 0`.
pub fn rebalance(
    current: &[f64],
    target: &[f64],
    policy: &RebalancePolicy,
    utility: Option<&Utility<'_>>,
) -> Result<Rebalance> {
    if current.len() != target.len() {
        return Err(Error::invalid_input(format!(
            "asset count mismatch: {} current weights, {} target weights",
            current.len(),
            target.len()
        )));
    }
    check_weights("current", current)?;
    check_weights("target", target)?;
    check_threshold("absolute", policy.absolute)?;
    check_threshold("relative", policy.relative)?;
    check_threshold("cost_bps", Some(policy.cost_bps))?;
    let drifted: Vec<usize> = (0..current.len())
        .filter(|&i| {
            let d = (current[i] - target[i]).abs();
            match (policy.absolute, policy.relative) {
                (None, None) => d > 0.0,
                (a, r) => a.is_some_and(|a| d > a) || r.is_some_and(|r| d > r * target[i].abs()),
            }
        })
        .collect();
    if drifted.is_empty() {
        return Ok(Rebalance::Hold(HoldReason::WithinBand));
    }
    let turnover: f64 = current.iter().zip(target).map(|(c, t)| (c - t).abs()).sum();
    let cost = turnover * policy.cost_bps / 10_000.0;
    let benefit = match utility {
        None => None,
        Some(u) => {
            let n = current.len();
            if u.expected_returns.len() != n || u.covariance.assets() != n {
                return Err(Error::invalid_input(format!(
                    "asset count mismatch: {n} weights, {} expected returns, {} covariance assets",
                    u.expected_returns.len(),
                    u.covariance.assets()
                )));
            }
            if !(u.risk_aversion.is_finite() && u.risk_aversion > 0.0) {
                return Err(Error::invalid_input(format!(
                    "field `risk_aversion`: {} must be a finite number > 0",
                    u.risk_aversion
                )));
            }
            let value = |w: &[f64]| {
                let ret: f64 = w.iter().zip(u.expected_returns).map(|(a, b)| a * b).sum();
                ret - 0.5 * u.risk_aversion * u.covariance.variance(w)
            };
            let benefit = value(target) - value(current);
            if cost > benefit {
                return Ok(Rebalance::Hold(HoldReason::CostExceedsBenefit {
                    cost,
                    benefit,
                }));
            }
            Some(benefit)
        }
    };
    let trades = (0..current.len())
        .filter(|&i| current[i] != target[i])
        .map(|i| Trade {
            asset: i,
            from: current[i],
            to: target[i],
        })
        .collect();
    Ok(Rebalance::Trade {
        trades,
        turnover,
        cost,
        benefit,
        drifted,
    })
}
