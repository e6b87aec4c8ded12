//! Risk and performance statistics of a series of simple periodic returns.
//!
//! The conventions are those of empyrical (the `empyrical-reloaded` Python package), against
//! which `tests/risk_golden.rs` checks every function:
//!
//! - Inputs are simple returns per period (`0.01` = +1%), all finite; functions that build the
//!   wealth curve (`annual_return`, `calmar`, `max_drawdown`, `max_drawdown_duration`) also
//!   require every return to be `>= -1`.
//! - **Sign of VaR and CVaR: as empyrical reports them, the return at the tail, so a loss is a
//!   negative number** (a 95% one-day VaR of `-0.023` means "lose 2.3% or more on 5% of
//!   days"). `cutoff` is the tail probability, `1 − confidence` (0.05 for 95%), in (0, 1).
//! - Annualisation takes `periods_per_year` ([`TRADING_DAYS`] = 252 for daily returns).
//!   Standard deviations are sample ones (n − 1); skewness and kurtosis are the population
//!   (biased) moment ratios.
//! - Drawdowns are fractions of the running peak of the wealth curve, which starts at 1 before
//!   the first return: [`max_drawdown`] is `<= 0`.
//! - A statistic that is undefined on the data (a ratio over a zero standard deviation, a
//!   Calmar ratio without a drawdown, a beta against a constant benchmark) is an
//!   `InvalidInput` error naming the field, not an infinity or NaN.
//!
//! Sums are compensated (Neumaier), so results do not depend on the series' length the way a
//! naive running sum would.

use cadre_core::{Error, Result};

use crate::pricing::{norm_cdf, norm_pdf};

/// Trading days per year, the annualisation factor of daily returns.
pub const TRADING_DAYS: f64 = 252.0;

fn check_returns(field: &str, returns: &[f64], min_len: usize) -> Result<()> {
    if returns.len() < min_len {
        return Err(Error::invalid_input(format!(
            "field `{field}`: {} values, at least {min_len} needed",
            returns.len()
        )));
    }
    if let Some(i) = returns.iter().position(|r| !r.is_finite()) {
        return Err(Error::invalid_input(format!(
            "field `{field}`: value {} at index {i} is not finite",
            returns[i]
        )));
    }
    Ok(())
}

fn check_wealth(returns: &[f64]) -> Result<()> {
    check_returns("returns", returns, 1)?;
    if let Some(i) = returns.iter().position(|&r| r < -1.0) {
        return Err(Error::invalid_input(format!(
            "field `returns`: value {} at index {i} loses more than 100%",
            returns[i]
        )));
    }
    Ok(())
}

fn check_cutoff(cutoff: f64) -> Result<()> {
    if cutoff > 0.0 && cutoff < 1.0 {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "field `cutoff`: {cutoff} must lie strictly between 0 and 1 (0.05 for 95%)"
        )))
    }
}

fn check_periods(periods_per_year: f64) -> Result<()> {
    if periods_per_year.is_finite() && periods_per_year > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "field `periods_per_year`: {periods_per_year} must be a finite number > 0"
        )))
    }
}

/// Neumaier's compensated sum.
fn sum(values: impl IntoIterator<Item = f64>) -> f64 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for v in values {
        let t = s + v;
        if s.abs() >= v.abs() {
            c += (s - t) + v;
        } else {
            c += (v - t) + s;
        }
        s = t;
    }
    s + c
}

fn mean(values: &[f64]) -> f64 {
    sum(values.iter().copied()) / values.len() as f64
}

/// Sample standard deviation (n − 1), two-pass.
fn std_dev(values: &[f64]) -> f64 {
    let m = mean(values);
    (sum(values.iter().map(|v| (v - m) * (v - m))) / (values.len() - 1) as f64).sqrt()
}

/// Population central moments 2, 3 and 4.
fn moments(values: &[f64]) -> (f64, f64, f64) {
    let m = mean(values);
    let n = values.len() as f64;
    let d = |k: i32| sum(values.iter().map(|v| (v - m).powi(k))) / n;
    (d(2), d(3), d(4))
}

fn nonzero(field: &str, what: &str, value: f64) -> Result<f64> {
    if value > 0.0 {
        Ok(value)
    } else {
        Err(Error::invalid_input(format!(
            "field `{field}`: {what} is {value}, the statistic is undefined"
        )))
    }
}

/// The standard normal quantile Φ⁻¹(p) for p in (0, 1): Acklam's rational approximation
/// refined by one Halley step on an `erfc`-based CDF, accurate to about 1e-15 relative.
///
/// # Errors
///
/// `InvalidInput` naming `p` when it is not strictly between 0 and 1.
pub fn normal_quantile(p: f64) -> Result<f64> {
    if !(p > 0.0 && p < 1.0) {
        return Err(Error::invalid_input(format!(
            "field `p`: {p} must lie strictly between 0 and 1"
        )));
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.02425;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    };
    // Halley: e = Φ(x) − p, u = e / φ(x).
    let u = (norm_cdf(x) - p) / norm_pdf(x);
    Ok(x - u / (1.0 + 0.5 * x * u))
}

/// Historical VaR: the `cutoff` quantile of the returns, linearly interpolated between order
/// statistics (numpy's default percentile, empyrical's `value_at_risk`). A loss is negative.
///
/// # Errors
///
/// `InvalidInput` for an empty or non-finite series or a cutoff outside (0, 1).
pub fn historical_var(returns: &[f64], cutoff: f64) -> Result<f64> {
    check_returns("returns", returns, 1)?;
    check_cutoff(cutoff)?;
    let mut sorted = returns.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pos = (sorted.len() - 1) as f64 * cutoff;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let t = pos - lo as f64;
    let (a, b) = (sorted[lo], sorted[hi]);
    // numpy's lerp: from the nearer end.
    Ok(if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    })
}

/// Historical CVaR (expected shortfall): the mean of the lowest `floor((n − 1)·cutoff) + 1`
/// returns, as empyrical's `conditional_value_at_risk`. A loss is negative.
///
/// # Errors
///
/// As [`historical_var`].
pub fn historical_cvar(returns: &[f64], cutoff: f64) -> Result<f64> {
    check_returns("returns", returns, 1)?;
    check_cutoff(cutoff)?;
    let k = ((returns.len() - 1) as f64 * cutoff) as usize;
    let mut sorted = returns.to_vec();
    sorted.select_nth_unstable_by(k, f64::total_cmp);
    Ok(mean(&sorted[..=k]))
}

/// Parametric (Gaussian) VaR: `mean + std·Φ⁻¹(cutoff)`, sample standard deviation. A loss is
/// negative.
///
/// # Errors
///
/// `InvalidInput` for fewer than 2 returns, a non-finite one or a cutoff outside (0, 1).
pub fn normal_var(returns: &[f64], cutoff: f64) -> Result<f64> {
    check_returns("returns", returns, 2)?;
    check_cutoff(cutoff)?;
    Ok(mean(returns) + std_dev(returns) * normal_quantile(cutoff)?)
}

/// Parametric (Gaussian) CVaR: `mean − std·φ(Φ⁻¹(cutoff)) / cutoff`. A loss is negative.
///
/// # Errors
///
/// As [`normal_var`].
pub fn normal_cvar(returns: &[f64], cutoff: f64) -> Result<f64> {
    check_returns("returns", returns, 2)?;
    check_cutoff(cutoff)?;
    let z = normal_quantile(cutoff)?;
    Ok(mean(returns) - std_dev(returns) * norm_pdf(z) / cutoff)
}

/// Simulated one-period simple returns of a geometric Brownian motion fitted to `returns`:
/// the log returns `ln(1 + r)` give the mean `m` and sample standard deviation `s`, and each of
/// the `paths` draws is `exp(m + s·Z) − 1` (one step of [`crate::montecarlo::GbmModel`],
/// seeded by `seed`).
fn monte_carlo_returns(returns: &[f64], paths: usize, seed: u64) -> Result<Vec<f64>> {
    check_returns("returns", returns, 2)?;
    if let Some(i) = returns.iter().position(|&r| r <= -1.0) {
        return Err(Error::invalid_input(format!(
            "field `returns`: value {} at index {i} loses 100% or more, its log return is undefined",
            returns[i]
        )));
    }
    if paths < 2 {
        return Err(Error::invalid_input(format!(
            "field `paths`: {paths} must be at least 2"
        )));
    }
    let logs: Vec<f64> = returns.iter().map(|r| r.ln_1p()).collect();
    let (m, s) = (mean(&logs), std_dev(&logs));
    let model = crate::montecarlo::GbmModel::single(1.0, m + 0.5 * s * s, s)?;
    let sim = crate::montecarlo::Simulation::new(paths, 1.0, seed);
    Ok(model
        .simulate_terminal(&sim)?
        .into_iter()
        .map(|p| p[0] - 1.0)
        .collect())
}

/// Monte Carlo VaR: [`historical_var`] of `paths` one-period returns simulated from a
/// geometric Brownian motion fitted to the series' log returns (mean and sample standard
/// deviation of `ln(1 + r)`), seeded by `seed` (the same seed gives the same number). A loss
/// is negative. For normal returns it converges to [`normal_var`] up to the log-normal
/// correction `≈ s²·(z² − 1)/2` (about 1e-4 at 1 % daily volatility and 95 %).
///
/// # Errors
///
/// `InvalidInput` for fewer than 2 returns, a non-finite one, one at or below −1, fewer than 2
/// paths or a cutoff outside (0, 1).
pub fn var_monte_carlo(returns: &[f64], cutoff: f64, paths: usize, seed: u64) -> Result<f64> {
    check_cutoff(cutoff)?;
    historical_var(&monte_carlo_returns(returns, paths, seed)?, cutoff)
}

/// Monte Carlo CVaR: [`historical_cvar`] of the simulated returns of [`var_monte_carlo`]. A
/// loss is negative.
///
/// # Errors
///
/// As [`var_monte_carlo`].
pub fn cvar_monte_carlo(returns: &[f64], cutoff: f64, paths: usize, seed: u64) -> Result<f64> {
    check_cutoff(cutoff)?;
    historical_cvar(&monte_carlo_returns(returns, paths, seed)?, cutoff)
}

/// Cornish-Fisher (modified) VaR: `mean + std·z_cf`, where with `z = Φ⁻¹(cutoff)`, `S` the
/// skewness and `K` the excess kurtosis (population moments)
/// `z_cf = z + (z² − 1)·S/6 + (z³ − 3z)·K/24 − (2z³ − 5z)·S²/36`. A loss is negative.
///
/// # Errors
///
/// As [`normal_var`], and for a constant series (skewness undefined).
pub fn cornish_fisher_var(returns: &[f64], cutoff: f64) -> Result<f64> {
    check_returns("returns", returns, 2)?;
    check_cutoff(cutoff)?;
    let z = normal_quantile(cutoff)?;
    let (s, k) = (skewness(returns)?, excess_kurtosis(returns)?);
    let z_cf = z + (z * z - 1.0) * s / 6.0 + (z.powi(3) - 3.0 * z) * k / 24.0
        - (2.0 * z.powi(3) - 5.0 * z) * s * s / 36.0;
    Ok(mean(returns) + std_dev(returns) * z_cf)
}

/// Skewness `m3 / m2^1.5` (population moments, scipy's `skew(bias=True)`).
///
/// # Errors
///
/// `InvalidInput` for fewer than 2 returns, a non-finite one or a constant series.
pub fn skewness(returns: &[f64]) -> Result<f64> {
    check_returns("returns", returns, 2)?;
    let (m2, m3, _) = moments(returns);
    Ok(m3 / nonzero("returns", "the variance", m2)?.powf(1.5))
}

/// Excess kurtosis `m4 / m2² − 3` (population moments, scipy's `kurtosis(bias=True)`).
///
/// # Errors
///
/// As [`skewness`].
pub fn excess_kurtosis(returns: &[f64]) -> Result<f64> {
    check_returns("returns", returns, 2)?;
    let (m2, _, m4) = moments(returns);
    let m2 = nonzero("returns", "the variance", m2)?;
    Ok(m4 / (m2 * m2) - 3.0)
}

/// Annualised volatility: sample standard deviation × √periods_per_year.
///
/// # Errors
///
/// `InvalidInput` for fewer than 2 returns, a non-finite one or a bad `periods_per_year`.
pub fn annual_volatility(returns: &[f64], periods_per_year: f64) -> Result<f64> {
    check_returns("returns", returns, 2)?;
    check_periods(periods_per_year)?;
    Ok(std_dev(returns) * periods_per_year.sqrt())
}

/// Compound annual growth rate: `(Π(1 + r))^(1/years) − 1`, `years = n / periods_per_year`.
///
/// # Errors
///
/// `InvalidInput` for an empty or non-finite series, a return below −1 or a bad
/// `periods_per_year`.
pub fn annual_return(returns: &[f64], periods_per_year: f64) -> Result<f64> {
    check_wealth(returns)?;
    check_periods(periods_per_year)?;
    let ending: f64 = returns.iter().map(|r| 1.0 + r).product();
    let years = returns.len() as f64 / periods_per_year;
    Ok(ending.powf(1.0 / years) - 1.0)
}

/// Sharpe ratio: `mean(r − rf) / std(r − rf) × √periods_per_year`, `risk_free` per period.
///
/// # Errors
///
/// `InvalidInput` for fewer than 2 returns, a non-finite one or `risk_free`, a bad
/// `periods_per_year` or a zero standard deviation.
pub fn sharpe(returns: &[f64], risk_free: f64, periods_per_year: f64) -> Result<f64> {
    check_returns("returns", returns, 2)?;
    check_returns("risk_free", &[risk_free], 1)?;
    check_periods(periods_per_year)?;
    let adj: Vec<f64> = returns.iter().map(|r| r - risk_free).collect();
    let sd = nonzero("returns", "the standard deviation", std_dev(&adj))?;
    Ok(mean(&adj) / sd * periods_per_year.sqrt())
}

/// Sortino ratio: `mean(r − req) × periods_per_year / downside_risk`, where the downside risk
/// is `sqrt(mean(min(r − req, 0)²)) × √periods_per_year` over *all* observations (empyrical's
/// `downside_risk`); `required_return` per period.
///
/// # Errors
///
/// As [`sharpe`], and when no return is below `required_return`.
pub fn sortino(returns: &[f64], required_return: f64, periods_per_year: f64) -> Result<f64> {
    check_returns("returns", returns, 2)?;
    check_returns("required_return", &[required_return], 1)?;
    check_periods(periods_per_year)?;
    let adj: Vec<f64> = returns.iter().map(|r| r - required_return).collect();
    let downside = sum(adj.iter().map(|&a| {
        let d = a.min(0.0);
        d * d
    })) / adj.len() as f64;
    let downside = nonzero("returns", "the downside deviation", downside.sqrt())?;
    Ok(mean(&adj) * periods_per_year / (downside * periods_per_year.sqrt()))
}

/// Calmar ratio: [`annual_return`] / |[`max_drawdown`]|.
///
/// # Errors
///
/// As [`annual_return`], and when the series never draws down.
pub fn calmar(returns: &[f64], periods_per_year: f64) -> Result<f64> {
    let dd = max_drawdown(returns)?;
    let dd = nonzero("returns", "the maximum drawdown", -dd)?;
    Ok(annual_return(returns, periods_per_year)? / dd)
}

/// The wealth curve `Π(1 + r)` after each return (starting from 1).
fn wealth(returns: &[f64]) -> impl Iterator<Item = f64> + '_ {
    returns.iter().scan(1.0f64, |w, r| {
        *w *= 1.0 + r;
        Some(*w)
    })
}

/// Maximum drawdown: the lowest `(wealth − running peak) / running peak`, `<= 0` (the wealth
/// starts at 1 before the first return, as in empyrical).
///
/// # Errors
///
/// `InvalidInput` for an empty or non-finite series or a return below −1.
pub fn max_drawdown(returns: &[f64]) -> Result<f64> {
    check_wealth(returns)?;
    let mut peak = 1.0f64;
    let mut worst = 0.0f64;
    for w in wealth(returns) {
        peak = peak.max(w);
        worst = worst.min((w - peak) / peak);
    }
    Ok(worst)
}

/// The longest drawdown, in periods: the most consecutive returns after which the wealth is
/// strictly below its running peak (the wealth starts at 1; a drawdown not recovered by the
/// end counts up to the end). 0 for a series that never draws down.
///
/// # Errors
///
/// As [`max_drawdown`].
pub fn max_drawdown_duration(returns: &[f64]) -> Result<usize> {
    check_wealth(returns)?;
    let (mut peak, mut run, mut best) = (1.0f64, 0usize, 0usize);
    for w in wealth(returns) {
        if w < peak {
            run += 1;
            best = best.max(run);
        } else {
            peak = w;
            run = 0;
        }
    }
    Ok(best)
}

/// Beta against a benchmark: `Cov(r, b) / Var(b)` (population moments, empyrical's `beta`
/// with a zero risk-free rate).
///
/// # Errors
///
/// `InvalidInput` for series of different lengths, fewer than 2 values, a non-finite value or
/// a benchmark variance below 1e-30 (empyrical's threshold).
pub fn beta(returns: &[f64], benchmark: &[f64]) -> Result<f64> {
    check_returns("returns", returns, 2)?;
    check_returns("benchmark", benchmark, 2)?;
    if returns.len() != benchmark.len() {
        return Err(Error::invalid_input(format!(
            "field `benchmark`: {} values, `returns` has {}",
            benchmark.len(),
            returns.len()
        )));
    }
    let mb = mean(benchmark);
    let n = returns.len() as f64;
    let cov = sum(returns.iter().zip(benchmark).map(|(r, b)| (b - mb) * r)) / n;
    let var = sum(benchmark.iter().map(|b| (b - mb) * (b - mb))) / n;
    if var < 1e-30 {
        return Err(Error::invalid_input(format!(
            "field `benchmark`: variance {var} is below 1e-30, beta is undefined"
        )));
    }
    Ok(cov / var)
}

/// The Pearson correlation matrix of several equally long series (numpy's `corrcoef`):
/// `result[i][j]` is the correlation of `series[i]` and `series[j]`, clipped to [−1, 1], with
/// an exact 1 on the diagonal.
///
/// # Errors
///
/// `InvalidInput` when there is no series, the lengths differ, a series has fewer than 2
/// values, a non-finite value or zero variance.
pub fn correlation_matrix(series: &[&[f64]]) -> Result<Vec<Vec<f64>>> {
    let Some(first) = series.first() else {
        return Err(Error::invalid_input("field `series`: no series given"));
    };
    let n = first.len();
    let mut centred = Vec::with_capacity(series.len());
    for (i, s) in series.iter().enumerate() {
        let field = format!("series[{i}]");
        check_returns(&field, s, 2)?;
        if s.len() != n {
            return Err(Error::invalid_input(format!(
                "field `{field}`: {} values, `series[0]` has {n}",
                s.len()
            )));
        }
        let m = mean(s);
        let c: Vec<f64> = s.iter().map(|v| v - m).collect();
        nonzero(&field, "the variance", sum(c.iter().map(|v| v * v)))?;
        centred.push(c);
    }
    let dot = |a: &[f64], b: &[f64]| sum(a.iter().zip(b).map(|(x, y)| x * y));
    let norms: Vec<f64> = centred.iter().map(|c| dot(c, c).sqrt()).collect();
    let k = series.len();
    let mut out = vec![vec![1.0; k]; k];
    for i in 0..k {
        for j in i + 1..k {
            let r = (dot(&centred[i], &centred[j]) / (norms[i] * norms[j])).clamp(-1.0, 1.0);
            out[i][j] = r;
            out[j][i] = r;
        }
    }
    Ok(out)
}
