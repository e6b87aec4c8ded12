//! Volatility: Bollinger Bands, ATR.

use std::collections::VecDeque;

use cadre_core::{Error, Result};

use super::moving::Sma;
use super::{check_lengths, check_period, output, wilder_weights};

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
/// the true ranges of bars `1..=period`. After it, Wilder's step `atr' = d·atr + w·tr` (`d = (period
/// - 1) / period`, `w = 1 / period`; TA-Lib's `(atr * (period - 1) + tr) / period`, rounded
/// differently within a few ulp) is taken two bars at a time from an anchor: the first bar of a
/// pair is `fma(d, anchor, w·tr₁)`, the second, which becomes the next anchor, is
/// `fma(d², anchor, fma(d·w, tr₁, w·tr₂))`. The chain from anchor to anchor is one fused
/// multiply-add per two bars instead of a multiply and an add per bar, which is what bounds
/// the batch form's speed (see [`crate::simd`]); the streaming form takes the same steps, so
/// the two agree bit for bit.
/// `period >= 1` (with 1 it is the true range).
#[derive(Debug, Clone)]
pub struct Atr {
    period: usize,
    prev_close: Option<f64>,
    ranges: usize,
    /// The sum of the first true ranges, then the anchor (the ATR at the end of the last pair).
    atr: f64,
    /// The first true range of a pair in progress.
    pending: Option<f64>,
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
            pending: None,
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
        if self.ranges < self.period {
            self.ranges += 1;
            self.atr += tr;
            if self.ranges < self.period {
                return None;
            }
            self.atr /= self.period as f64;
            return Some(self.atr);
        }
        let (d, w, dd, dw) = wilder_weights(self.period);
        Some(match self.pending.take() {
            None => {
                self.pending = Some(tr);
                self.atr.mul_add(d, w * tr)
            }
            Some(first) => {
                self.atr = self.atr.mul_add(dd, dw.mul_add(first, w * tr));
                self.atr
            }
        })
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
    check_period("atr", "period", period, 1)?;
    let n = close.len();
    if n <= period {
        return Ok(vec![f64::NAN; n]);
    }
    let mut out = output(n, period);
    if crate::simd::avx2_fma() {
        // SAFETY: `atr_fma` only enables AVX2 and FMA, which the CPU has (checked above).
        #[allow(unsafe_code)]
        unsafe {
            atr_fma(high, low, close, period, &mut out);
        }
    } else {
        atr_into(high, low, close, period, &mut out);
    }
    Ok(out)
}

/// [`atr_into`] compiled with FMA (each `mul_add` one instruction) and AVX2.
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
fn atr_fma(high: &[f64], low: &[f64], close: &[f64], period: usize, out: &mut [f64]) {
    atr_into(high, low, close, period, out);
}

/// The ATR of `n > period` bars into `out` (its first `period` values already NaN): a slice
/// loop doing `Atr::update`'s floating-point operations in the same order (the two agree bit
/// for bit, tested).
///
/// It runs in blocks: the block's true ranges into a buffer on the stack (a loop that
/// vectorises), then the chain over them two bars at a time. Blocks are of even length, so
/// the pairs line up with the streaming form's (the first pair starts at bar `period + 1`).
#[inline(always)]
fn atr_into(high: &[f64], low: &[f64], close: &[f64], period: usize, out: &mut [f64]) {
    const BLOCK: usize = 512;
    let n = out.len();
    let mut atr = 0.0;
    for ((&h, &l), &prev) in high[1..=period]
        .iter()
        .zip(&low[1..=period])
        .zip(&close[..period])
    {
        atr += true_range(h, l, prev);
    }
    atr /= period as f64;
    out[period] = atr;
    let (d, w, dd, dw) = wilder_weights(period);
    let mut block = [0.0; BLOCK];
    let mut start = period + 1;
    while start < n {
        let end = (start + BLOCK).min(n);
        let ranges = &mut block[..end - start];
        for (((r, &h), &l), &prev) in ranges
            .iter_mut()
            .zip(&high[start..end])
            .zip(&low[start..end])
            .zip(&close[start - 1..end - 1])
        {
            *r = true_range(h, l, prev);
        }
        let mut outs = out[start..end].chunks_exact_mut(2);
        for (o, r) in (&mut outs).zip(ranges.chunks_exact(2)) {
            o[0] = atr.mul_add(d, w * r[0]);
            atr = atr.mul_add(dd, dw.mul_add(r[0], w * r[1]));
            o[1] = atr;
        }
        if let (Some(o), Some(r)) = (
            outs.into_remainder().first_mut(),
            ranges.chunks_exact(2).remainder().first(),
        ) {
            *o = atr.mul_add(d, w * r);
        }
        start = end;
    }
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

    /// The FMA clone (taken where the CPU has it) and the baseline, whose `mul_add` is a
    /// software `fma`, give the same bits, for odd and even lengths after the warm-up.
    #[test]
    fn fma_and_baseline_atr_agree_bit_for_bit() {
        let mut rng = fastrand::Rng::with_seed(11);
        for n in [15, 16, 17, 1_000, 1_001] {
            let close: Vec<f64> = (0..n).map(|_| 50.0 + rng.f64() * 10.0).collect();
            let high: Vec<f64> = close.iter().map(|c| c + rng.f64()).collect();
            let low: Vec<f64> = close.iter().map(|c| c - rng.f64()).collect();
            let fast = atr(&high, &low, &close, 14).unwrap();
            let mut base = output(n, 14);
            atr_into(&high, &low, &close, 14, &mut base);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&base), "n = {n}");
        }
    }
}
