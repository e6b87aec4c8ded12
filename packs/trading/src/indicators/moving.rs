//! Moving averages: SMA, EMA, WMA.

use std::collections::VecDeque;

use cadre_core::Result;

use super::{check_period, output};

/// Simple moving average (TA-Lib `SMA`).
///
/// Lookback `period - 1`: the first value is the mean of the first `period` inputs. Like
/// TA-Lib it keeps a running sum (add the newest, output `sum / period`, subtract the oldest).
/// `period >= 2` (TA-Lib's range).
#[derive(Debug, Clone)]
pub struct Sma {
    period: usize,
    window: VecDeque<f64>,
    sum: f64,
}

impl Sma {
    /// An SMA over `period` values.
    pub fn new(period: usize) -> Result<Self> {
        check_period("sma", "period", period, 2)?;
        Ok(Self::unchecked(period))
    }

    pub(crate) fn unchecked(period: usize) -> Self {
        Self {
            period,
            window: VecDeque::with_capacity(period + 1),
            sum: 0.0,
        }
    }

    /// The index of the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        self.period - 1
    }

    /// Feeds one value; the average once `period` values have been seen.
    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.window.push_back(x);
        self.sum += x;
        if self.window.len() < self.period {
            return None;
        }
        let out = self.sum / self.period as f64;
        if let Some(oldest) = self.window.pop_front() {
            self.sum -= oldest;
        }
        Some(out)
    }
}

/// [`Sma`] over a slice: one value per input, NaN for the first `period - 1`.
///
/// A slice loop doing [`Sma::update`]'s floating-point operations in the same order, so the
/// two agree bit for bit (tested) without a window buffer.
pub fn sma(values: &[f64], period: usize) -> Result<Vec<f64>> {
    check_period("sma", "period", period, 2)?;
    Ok(sma_run(values, period))
}

/// The SMA slice loop, for any `period >= 1` (other indicators' inner averages).
pub(crate) fn sma_run(values: &[f64], period: usize) -> Vec<f64> {
    let n = values.len();
    if n < period || period == 0 {
        return vec![f64::NAN; n];
    }
    let mut out = output(n, period - 1);
    let divisor = period as f64;
    let mut sum = 0.0;
    for &x in &values[..period - 1] {
        sum += x;
    }
    for ((o, &x), &oldest) in out[period - 1..]
        .iter_mut()
        .zip(&values[period - 1..])
        .zip(values)
    {
        sum += x;
        *o = sum / divisor;
        sum -= oldest;
    }
    out
}

/// Exponential moving average (TA-Lib `EMA`, its default "classic" compatibility).
///
/// `k = 2 / (period + 1)`. Lookback `period - 1`: the EMA is seeded with the SMA of the first
/// `period` inputs (output at index `period - 1`), then `ema = ema * (1 - k) + x * k`.
///
/// TA-Lib writes the step as `(x - ema) * k + ema`: three dependent operations per input where
/// this form has two (`x * k` does not wait for the previous value), which makes the loop about
/// a third faster. The recurrence shrinks old rounding errors by `1 - k` per step, so the two
/// stay within a few ulp of each other (the TA-Lib fixtures agree to 1e-9 and better).
/// `period >= 2`.
#[derive(Debug, Clone)]
pub struct Ema {
    period: usize,
    k: f64,
    skip: usize,
    seen: usize,
    seed_sum: f64,
    value: Option<f64>,
}

impl Ema {
    /// An EMA over `period` values.
    pub fn new(period: usize) -> Result<Self> {
        check_period("ema", "period", period, 2)?;
        Ok(Self::skipping(period, 0))
    }

    /// An EMA that ignores its first `skip` inputs, so its seed is the SMA of inputs
    /// `skip .. skip + period` (TA-Lib's MACD seeds its fast EMA so).
    pub(crate) fn skipping(period: usize, skip: usize) -> Self {
        Self {
            period,
            k: 2.0 / (period + 1) as f64,
            skip,
            seen: 0,
            seed_sum: 0.0,
            value: None,
        }
    }

    /// The index of the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        self.skip + self.period - 1
    }

    /// Feeds one value; the average once the seed window is full.
    pub fn update(&mut self, x: f64) -> Option<f64> {
        let v = match self.value {
            Some(prev) => prev * (1.0 - self.k) + x * self.k,
            None => {
                self.seen += 1;
                if self.seen <= self.skip {
                    return None;
                }
                self.seed_sum += x;
                if self.seen - self.skip < self.period {
                    return None;
                }
                self.seed_sum / self.period as f64
            }
        };
        self.value = Some(v);
        Some(v)
    }
}

/// [`Ema`] over a slice: one value per input, NaN for the first `period - 1`.
///
/// A slice loop doing [`Ema::update`]'s floating-point operations in the same order (the two
/// agree bit for bit, tested).
pub fn ema(values: &[f64], period: usize) -> Result<Vec<f64>> {
    check_period("ema", "period", period, 2)?;
    Ok(ema_run(values, period))
}

/// The EMA slice loop, for any `period >= 1` (MACD's lines).
pub(crate) fn ema_run(values: &[f64], period: usize) -> Vec<f64> {
    let n = values.len();
    if n < period || period == 0 {
        return vec![f64::NAN; n];
    }
    let mut out = output(n, period - 1);
    let k = 2.0 / (period + 1) as f64;
    let decay = 1.0 - k;
    let mut seed = 0.0;
    for &x in &values[..period] {
        seed += x;
    }
    let mut v = seed / period as f64;
    out[period - 1] = v;
    for (o, &x) in out[period..].iter_mut().zip(&values[period..]) {
        v = v * decay + x * k;
        *o = v;
    }
    out
}

/// Weighted moving average (TA-Lib `WMA`): weights `1..=period`, the newest weighing most.
///
/// Lookback `period - 1`. Computed as TA-Lib does, with a running weighted sum and a running
/// plain sum: the output is `(sum + period * x) / (period (period + 1) / 2)`, then the
/// weighted sum moves on by `period * x - plain sum`. TA-Lib adds `period * x` and subtracts
/// the plain sum one after the other, two dependent operations per input; grouping them puts
/// one on the dependency chain, which halves the loop's latency. The rounding differs by an
/// ulp or so of the running sum (the TA-Lib fixtures agree to 1e-9 and better), and the
/// division by the constant divider is a multiply by its reciprocal (within an ulp).
/// `period >= 2`.
#[derive(Debug, Clone)]
pub struct Wma {
    period: usize,
    inv_divider: f64,
    window: VecDeque<f64>,
    weighted: f64,
    plain: f64,
    trailing: f64,
}

impl Wma {
    /// A WMA over `period` values.
    pub fn new(period: usize) -> Result<Self> {
        check_period("wma", "period", period, 2)?;
        Ok(Self {
            period,
            inv_divider: 1.0 / (period * (period + 1) / 2) as f64,
            window: VecDeque::with_capacity(period + 1),
            weighted: 0.0,
            plain: 0.0,
            trailing: 0.0,
        })
    }

    /// The index of the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        self.period - 1
    }

    /// Feeds one value; the average once `period` values have been seen.
    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.window.push_back(x);
        if self.window.len() < self.period {
            self.plain += x;
            self.weighted += x * self.window.len() as f64;
            return None;
        }
        if self.window.len() > self.period {
            self.window.pop_front();
        }
        self.plain += x - self.trailing;
        let step = x * self.period as f64;
        self.trailing = self.window.front().copied().unwrap_or(0.0);
        let out = (self.weighted + step) * self.inv_divider;
        self.weighted += step - self.plain;
        Some(out)
    }
}

/// [`Wma`] over a slice: one value per input, NaN for the first `period - 1`.
///
/// A slice loop doing [`Wma::update`]'s floating-point operations in the same order (the two
/// agree bit for bit, tested).
pub fn wma(values: &[f64], period: usize) -> Result<Vec<f64>> {
    check_period("wma", "period", period, 2)?;
    let n = values.len();
    if n < period {
        return Ok(vec![f64::NAN; n]);
    }
    let mut out = output(n, period - 1);
    let inv_divider = 1.0 / (period * (period + 1) / 2) as f64;
    let weight = period as f64;
    let (mut plain, mut weighted, mut trailing) = (0.0, 0.0, 0.0);
    for (i, &x) in values[..period - 1].iter().enumerate() {
        plain += x;
        weighted += x * (i + 1) as f64;
    }
    // Writes through `iter_mut` (no capacity check, no out-of-line call that would make the
    // running sums live in memory), and one add per input on each sum's dependency chain.
    for ((o, &x), &oldest) in out[period - 1..]
        .iter_mut()
        .zip(&values[period - 1..])
        .zip(values)
    {
        plain += x - trailing;
        let step = x * weight;
        trailing = oldest;
        *o = (weighted + step) * inv_divider;
        weighted += step - plain;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_values() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let s = sma(&x, 3).unwrap();
        assert!(s[0].is_nan() && s[1].is_nan());
        assert_eq!(&s[2..], &[2.0, 3.0, 4.0, 5.0]);
        let e = ema(&x, 3).unwrap();
        // seed 2, then (4-2)*0.5+2 = 3, (5-3)*0.5+3 = 4, ...
        assert_eq!(&e[2..], &[2.0, 3.0, 4.0, 5.0]);
        let w = wma(&x, 3).unwrap();
        // (1*1+2*2+3*3)/6 = 14/6; a multiply by 1/6 rounds within an ulp of the division.
        for (got, want) in [
            (w[2], 14.0 / 6.0),
            (w[3], (2.0 + 6.0 + 12.0) / 6.0),
            (w[5], (4.0 + 10.0 + 18.0) / 6.0),
        ] {
            assert!((got - want).abs() <= want * f64::EPSILON, "{got} vs {want}");
        }
    }

    #[test]
    fn periods_are_checked() {
        assert!(sma(&[1.0], 1).is_err());
        assert!(ema(&[1.0], 0).is_err());
        let e = wma(&[1.0], 1).unwrap_err();
        assert_eq!(e.message(), "wma: `period` must be at least 2, got 1");
        assert!(sma(&[], 3).unwrap().is_empty());
    }

    #[test]
    fn ema_skipping_seeds_later() {
        let mut e = Ema::skipping(2, 3);
        let out: Vec<_> = [9.0, 9.0, 9.0, 1.0, 3.0, 5.0]
            .iter()
            .map(|&x| e.update(x))
            .collect();
        assert_eq!(
            out,
            [
                None,
                None,
                None,
                None,
                Some(2.0),
                Some(2.0 + (5.0 - 2.0) * (2.0 / 3.0))
            ]
        );
        assert_eq!(e.lookback(), 4);
    }
}
