//! Volatility: Bollinger Bands, ATR.

use std::collections::VecDeque;

use cadre_core::{Error, Result};

use super::moving::Sma;
use super::{check_lengths, check_period, output};

/// One Bollinger Bands value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BollingerOutput {
    /// `middle + dev_up * stddev`.
    pub upper: f64,
    /// The SMA.
    pub middle: f64,
    /// `middle - dev_down * stddev`.
    pub lower: f64,
}

/// Bollinger Bands (TA-Lib `BBANDS` with its default `matype` 0, a simple moving average).
///
/// The middle band is [`Sma`]`(period)`; the standard deviation is the *population* one,
/// computed as TA-Lib does: `sqrt(mean(x²) - sma²)` from a running sum of squares, and 0
/// when that variance is below 1e-8 (`TA_IS_ZERO_OR_NEG`). Lookback `period - 1`.
/// `period >= 2`; the deviation multipliers must be finite (TA-Lib's default is 2 and 2).
#[derive(Debug, Clone)]
pub struct Bollinger {
    period: usize,
    dev_up: f64,
    dev_down: f64,
    sma: Sma,
    squares: VecDeque<f64>,
    sum_squares: f64,
}

impl Bollinger {
    /// Bands over `period` values, `dev_up` and `dev_down` standard deviations away.
    pub fn new(period: usize, dev_up: f64, dev_down: f64) -> Result<Self> {
        check_period("bollinger", "period", period, 2)?;
        if !(dev_up.is_finite() && dev_down.is_finite()) {
            return Err(Error::invalid_input(format!(
                "bollinger: `dev_up` and `dev_down` must be finite, got {dev_up} and {dev_down}"
            )));
        }
        Ok(Self {
            period,
            dev_up,
            dev_down,
            sma: Sma::unchecked(period),
            squares: VecDeque::with_capacity(period + 1),
            sum_squares: 0.0,
        })
    }

    /// The index of the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        self.period - 1
    }

    /// Feeds one value; the bands once `period` values have been seen.
    pub fn update(&mut self, x: f64) -> Option<BollingerOutput> {
        let square = x * x;
        self.squares.push_back(square);
        self.sum_squares += square;
        let middle = self.sma.update(x)?;
        let mut variance = self.sum_squares / self.period as f64;
        if let Some(oldest) = self.squares.pop_front() {
            self.sum_squares -= oldest;
        }
        variance -= middle * middle;
        let std = if variance < 0.000_000_01 {
            0.0
        } else {
            variance.sqrt()
        };
        Some(BollingerOutput {
            upper: middle + std * self.dev_up,
            middle,
            lower: middle - std * self.dev_down,
        })
    }
}

/// The three bands of [`bollinger`], NaN during the warm-up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BollingerSeries {
    /// The upper band.
    pub upper: Vec<f64>,
    /// The middle band (the SMA).
    pub middle: Vec<f64>,
    /// The lower band.
    pub lower: Vec<f64>,
}

/// [`Bollinger`] over a slice.
pub fn bollinger(
    values: &[f64],
    period: usize,
    dev_up: f64,
    dev_down: f64,
) -> Result<BollingerSeries> {
    // One slice loop doing `Bollinger::update`'s floating-point operations in the same order
    // (the two agree bit for bit, tested): the running sum and the running sum of squares.
    Bollinger::new(period, dev_up, dev_down)?;
    let n = values.len();
    if n < period {
        return Ok(BollingerSeries {
            upper: vec![f64::NAN; n],
            middle: vec![f64::NAN; n],
            lower: vec![f64::NAN; n],
        });
    }
    let mut out = BollingerSeries {
        upper: output(n, period - 1),
        middle: output(n, period - 1),
        lower: output(n, period - 1),
    };
    let divisor = period as f64;
    let (mut sum, mut sum_squares) = (0.0, 0.0);
    for &x in &values[..period - 1] {
        sum += x;
        sum_squares += x * x;
    }
    let from = period - 1;
    for ((((up, mid), low), &x), &oldest) in out.upper[from..]
        .iter_mut()
        .zip(&mut out.middle[from..])
        .zip(&mut out.lower[from..])
        .zip(&values[from..])
        .zip(values)
    {
        sum += x;
        let m = sum / divisor;
        sum -= oldest;
        sum_squares += x * x;
        let variance = sum_squares / divisor - m * m;
        sum_squares -= oldest * oldest;
        let root = variance.sqrt();
        let std = if variance < 0.000_000_01 { 0.0 } else { root };
        *up = m + std * dev_up;
        *mid = m;
        *low = m - std * dev_down;
    }
    Ok(out)
}

/// Average true range with Wilder's smoothing (TA-Lib `ATR`).
///
/// The true range of bar `i >= 1` is `max(high - low, |high - prev close|, |low - prev
/// close|)`; bar 0 has none. Lookback `period`: the first ATR, at index `period`, is the mean of
/// the true ranges of bars `1..=period`; then `atr = atr * ((period - 1) / period) + tr *
/// (1 / period)` (TA-Lib's `(atr * (period - 1) + tr) / period`, rounded differently within a
/// few ulp, with the division off the dependency chain).
/// `period >= 1` (with 1 it is the true range).
#[derive(Debug, Clone)]
pub struct Atr {
    period: usize,
    prev_close: Option<f64>,
    ranges: usize,
    atr: f64,
}

impl Atr {
    /// An ATR over `period` true ranges.
    pub fn new(period: usize) -> Result<Self> {
        check_period("atr", "period", period, 1)?;
        Ok(Self {
            period,
            prev_close: None,
            ranges: 0,
            atr: 0.0,
        })
    }

    /// The index of the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        self.period
    }

    /// Feeds one bar; the ATR once `period` true ranges have been seen.
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let prev = self.prev_close.replace(close)?;
        let tr = true_range(high, low, prev);
        let p = self.period as f64;
        self.ranges += 1;
        if self.ranges < self.period {
            self.atr += tr;
            return None;
        }
        if self.ranges == self.period {
            self.atr += tr;
            self.atr /= p;
        } else {
            self.atr = self.atr * ((p - 1.0) / p) + tr * (1.0 / p);
        }
        Some(self.atr)
    }
}

/// [`Atr`] over slices of equal length: NaN for the first `period`.
pub fn atr(high: &[f64], low: &[f64], close: &[f64], period: usize) -> Result<Vec<f64>> {
    check_lengths(
        "atr",
        &[
            ("high", high.len()),
            ("low", low.len()),
            ("close", close.len()),
        ],
    )?;
    // A slice loop doing `Atr::update`'s floating-point operations in the same order (the two
    // agree bit for bit, tested).
    check_period("atr", "period", period, 1)?;
    let n = close.len();
    if n <= period {
        return Ok(vec![f64::NAN; n]);
    }
    let mut out = output(n, period);
    let bars = |from: usize| {
        high[from..]
            .iter()
            .zip(&low[from..])
            .zip(&close[from - 1..])
            .map(|((&h, &l), &prev)| true_range(h, l, prev))
    };
    let p = period as f64;
    let mut atr = 0.0;
    for tr in bars(1).take(period) {
        atr += tr;
    }
    atr /= p;
    out[period] = atr;
    let (decay, weight) = ((p - 1.0) / p, 1.0 / p);
    for (o, tr) in out[period + 1..].iter_mut().zip(bars(period + 1)) {
        atr = atr * decay + tr * weight;
        *o = atr;
    }
    Ok(out)
}

/// TA-Lib's true range: the largest of `high - low`, `|prev - high|` and `|low - prev|`
/// (selects, not branches; a NaN high-low range stays NaN as in TA-Lib).
#[inline(always)]
fn true_range(high: f64, low: f64, prev: f64) -> f64 {
    let tr = high - low;
    let up = (prev - high).abs();
    let tr = if up > tr { up } else { tr };
    let down = (low - prev).abs();
    if down > tr { down } else { tr }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bollinger_hand_computed() {
        let b = bollinger(&[1.0, 2.0, 3.0, 4.0], 2, 2.0, 1.0).unwrap();
        assert!(b.middle[0].is_nan());
        assert_eq!(b.middle[1], 1.5);
        // population std of (1, 2) = 0.5
        assert_eq!(b.upper[1], 2.5);
        assert_eq!(b.lower[1], 1.0);
        let flat = bollinger(&[7.0; 4], 3, 2.0, 2.0).unwrap();
        assert_eq!((flat.upper[3], flat.lower[3]), (7.0, 7.0));
        assert!(Bollinger::new(3, f64::NAN, 2.0).is_err());
    }

    #[test]
    fn atr_hand_computed() {
        let h = [10.0, 12.0, 11.0, 15.0];
        let l = [9.0, 10.0, 8.0, 13.0];
        let c = [9.5, 11.0, 9.0, 14.0];
        // TR: -, max(2, 2.5, 0.5) = 2.5, max(3, 0, 3) = 3, max(2, 6, 4) = 6
        let a = atr(&h, &l, &c, 2).unwrap();
        assert!(a[0].is_nan() && a[1].is_nan());
        assert_eq!(a[2], 2.75);
        assert_eq!(a[3], (2.75 + 6.0) / 2.0);
        assert_eq!(&atr(&h, &l, &c, 1).unwrap()[1..], &[2.5, 3.0, 6.0]);
        assert!(atr(&h, &l[..3], &c, 2).is_err());
    }
}
