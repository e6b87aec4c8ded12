//! Estimates of expected returns and of the covariance matrix from a price panel.
//!
//! A panel is one price series per asset (`prices[asset][day]`), all of the same length, every
//! price finite and `> 0`. Returns are simple daily returns `p[t] / p[t-1] - 1`, as
//! PyPortfolioOpt's `returns_from_prices`.

use cadre_core::{Error, Result};

use super::covariance::Covariance;

/// How [`expected_returns`] turns daily returns into an annual expected return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnMethod {
    /// The compound annual growth rate: `prod(1 + r)^(frequency / T) - 1`
    /// (PyPortfolioOpt's `mean_historical_return`, the default `compounding=True`).
    #[default]
    Compounded,
    /// The arithmetic mean scaled by the frequency: `mean(r) * frequency`
    /// (`mean_historical_return(..., compounding=False)`).
    Mean,
}

/// Simple returns of each asset's price series: `returns[asset][t] = p[t+1] / p[t] - 1`.
///
/// # Errors
///
/// `InvalidInput` when the panel is empty, when the series differ in length or have fewer than
/// 3 prices, or when a price is not finite or not `> 0` (the error names asset and index).
pub fn returns_from_prices(prices: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
    let Some(first) = prices.first() else {
        return Err(Error::invalid_input("field `prices`: no assets"));
    };
    let len = first.len();
    if len < 3 {
        return Err(Error::invalid_input(format!(
            "field `prices`: {len} prices per asset, at least 3 needed (2 returns)"
        )));
    }
    let mut out = Vec::with_capacity(prices.len());
    for (a, series) in prices.iter().enumerate() {
        if series.len() != len {
            return Err(Error::invalid_input(format!(
                "field `prices`: asset {a} has {} prices, asset 0 has {len}",
                series.len()
            )));
        }
        if let Some(i) = series.iter().position(|p| !(p.is_finite() && *p > 0.0)) {
            return Err(Error::invalid_input(format!(
                "field `prices`: asset {a}, index {i}: price {} must be finite and > 0",
                series[i]
            )));
        }
        out.push(series.windows(2).map(|w| w[1] / w[0] - 1.0).collect());
    }
    Ok(out)
}

/// Checks a returns panel: at least one asset, equal lengths `>= 2`, every value finite.
/// Returns `(assets, periods)`.
pub(crate) fn check_returns(returns: &[Vec<f64>]) -> Result<(usize, usize)> {
    let Some(first) = returns.first() else {
        return Err(Error::invalid_input("field `returns`: no assets"));
    };
    let t = first.len();
    if t < 2 {
        return Err(Error::invalid_input(format!(
            "field `returns`: {t} returns per asset, at least 2 needed"
        )));
    }
    for (a, series) in returns.iter().enumerate() {
        if series.len() != t {
            return Err(Error::invalid_input(format!(
                "field `returns`: asset {a} has {} returns, asset 0 has {t}",
                series.len()
            )));
        }
        if let Some(i) = series.iter().position(|r| !r.is_finite()) {
            return Err(Error::invalid_input(format!(
                "field `returns`: asset {a}, index {i}: value {} is not finite",
                series[i]
            )));
        }
    }
    Ok((returns.len(), t))
}

fn check_frequency(frequency: f64) -> Result<()> {
    if frequency.is_finite() && frequency > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "field `frequency`: {frequency} must be a finite number > 0 (252 for daily returns)"
        )))
    }
}

/// Annual expected return of each asset from its daily returns, as PyPortfolioOpt's
/// `mean_historical_return(prices, frequency=frequency)` (see [`ReturnMethod`]).
///
/// # Errors
///
/// `InvalidInput` for a bad panel (see [`returns_from_prices`]'s rules, on returns), a
/// compounded return below -100% or a frequency that is not `> 0`.
pub fn expected_returns(
    returns: &[Vec<f64>],
    method: ReturnMethod,
    frequency: f64,
) -> Result<Vec<f64>> {
    let (_, t) = check_returns(returns)?;
    check_frequency(frequency)?;
    let t_f = t as f64;
    returns
        .iter()
        .enumerate()
        .map(|(a, r)| match method {
            ReturnMethod::Mean => Ok(r.iter().sum::<f64>() / t_f * frequency),
            ReturnMethod::Compounded => {
                // Sum of logs: the product of 1 + r over years of data neither overflows nor
                // loses digits.
                if let Some(i) = r.iter().position(|x| *x <= -1.0) {
                    return Err(Error::invalid_input(format!(
                        "field `returns`: asset {a}, index {i}: return {} loses 100% or more",
                        r[i]
                    )));
                }
                let log_growth: f64 = r.iter().map(|x| x.ln_1p()).sum();
                Ok((log_growth * frequency / t_f).exp_m1())
            }
        })
        .collect()
}

/// Demeaned returns, one row per period: `x[t * n + a]`.
fn demeaned_rows(returns: &[Vec<f64>], n: usize, t: usize) -> Vec<f64> {
    let mut x = vec![0.0; t * n];
    for (a, r) in returns.iter().enumerate() {
        let mean = r.iter().sum::<f64>() / t as f64;
        for (i, v) in r.iter().enumerate() {
            x[i * n + a] = v - mean;
        }
    }
    x
}

/// `XᵀX` of row-major `x` (`t × n`), full symmetric `n × n`.
fn gram(x: &[f64], n: usize, t: usize) -> Vec<f64> {
    let mut g = vec![0.0; n * n];
    for row in x.chunks_exact(n).take(t) {
        for i in 0..n {
            let xi = row[i];
            if xi == 0.0 {
                continue;
            }
            let gi = &mut g[i * n..i * n + n];
            for (gij, xj) in gi[i..].iter_mut().zip(&row[i..]) {
                *gij += xi * xj;
            }
        }
    }
    for i in 0..n {
        for j in 0..i {
            g[i * n + j] = g[j * n + i];
        }
    }
    g
}

/// The annualised sample covariance matrix, as PyPortfolioOpt's
/// `sample_cov(prices, frequency=frequency)`: `frequency · XᵀX / (T − 1)` with `X` the demeaned
/// returns.
///
/// # Errors
///
/// `InvalidInput` for a bad panel or frequency.
pub fn sample_cov(returns: &[Vec<f64>], frequency: f64) -> Result<Covariance> {
    let (n, t) = check_returns(returns)?;
    check_frequency(frequency)?;
    let x = demeaned_rows(returns, n, t);
    let scale = frequency / (t as f64 - 1.0);
    let matrix: Vec<f64> = gram(&x, n, t).into_iter().map(|v| v * scale).collect();
    let root = scale.sqrt();
    Covariance::with_factor(
        n,
        matrix,
        vec![0.0; n],
        x.into_iter().map(|v| v * root).collect(),
        None,
    )
}

/// Ledoit-Wolf shrinkage towards a constant variance, as PyPortfolioOpt's
/// `CovarianceShrinkage(prices, frequency=frequency).ledoit_wolf()` (which is scikit-learn's
/// `ledoit_wolf`, then annualised): `Σ = frequency · ((1 − δ)·S + δ·μ̄·I)` where `S = XᵀX / T`
/// is the biased sample covariance of the demeaned returns, `μ̄ = trace(S) / n` and `δ` the
/// Ledoit-Wolf (2004) optimal shrinkage, clipped to `[0, 1]`. The shrinkage is kept in
/// [`Covariance::shrinkage`].
///
/// # Errors
///
/// `InvalidInput` for a bad panel or frequency.
pub fn ledoit_wolf(returns: &[Vec<f64>], frequency: f64) -> Result<Covariance> {
    let (n, t) = check_returns(returns)?;
    check_frequency(frequency)?;
    let (n_f, t_f) = (n as f64, t as f64);
    let x = demeaned_rows(returns, n, t);
    let g = gram(&x, n, t);
    // scikit-learn's ledoit_wolf_shrinkage with assume_centered=False (X already demeaned).
    let mut col_sq = vec![0.0; n];
    for row in x.chunks_exact(n) {
        for (c, v) in col_sq.iter_mut().zip(row) {
            *c += v * v;
        }
    }
    let emp_trace: Vec<f64> = col_sq.iter().map(|c| c / t_f).collect();
    let mu = emp_trace.iter().sum::<f64>() / n_f;
    // beta_ = sum((X²)ᵀ X²), delta_ = sum((XᵀX)²) / T², as scikit-learn names them.
    let beta_sum: f64 = x
        .chunks_exact(n)
        .map(|row| {
            // Summing every entry of (X²)ᵀX² = Σ_t (Σ_i x_ti²)².
            let s: f64 = row.iter().map(|v| v * v).sum();
            s * s
        })
        .sum();
    let delta_sum: f64 = g.iter().map(|v| v * v).sum::<f64>() / (t_f * t_f);
    let beta = (beta_sum / t_f - delta_sum) / (n_f * t_f);
    let delta = (delta_sum - 2.0 * mu * emp_trace.iter().sum::<f64>() + n_f * mu * mu) / n_f;
    let beta = beta.min(delta);
    let shrinkage = if beta == 0.0 { 0.0 } else { beta / delta };
    let keep = 1.0 - shrinkage;
    let mut matrix: Vec<f64> = g.iter().map(|v| v / t_f * keep * frequency).collect();
    for i in 0..n {
        matrix[i * n + i] += shrinkage * mu * frequency;
    }
    let root = (keep * frequency / t_f).sqrt();
    Covariance::with_factor(
        n,
        matrix,
        vec![shrinkage * mu * frequency; n],
        x.into_iter().map(|v| v * root).collect(),
        Some(shrinkage),
    )
}
