//! Momentum: RSI, MACD, Stochastic.

use std::collections::VecDeque;

use cadre_core::Result;

use super::moving::{Ema, Sma};
use super::{check_lengths, check_period, output, ta_is_zero, wilder_weights};

/// Relative strength index with Wilder's smoothing (TA-Lib `RSI`, classic compatibility).
///
/// Lookback `period`: the first value, at index `period`, uses the plain means of the gains
/// and losses of the first `period` changes; then Wilder's step `avg' = d·avg + w·change`
/// (`d = (period - 1) / period`, `w = 1 / period`; TA-Lib's `(avg * (period - 1) + change) /
/// period` rounded differently, within a few ulp), taken two changes at a time from an anchor
/// as the ATR's is ([`Atr`](super::Atr)): `fma(d, a, w·x₁)` for the first, `fma(d², a,
/// fma(d·w, x₁, w·x₂))` for the second, the next anchor. The streaming and batch forms take
/// the same steps and agree bit for bit.
/// `RSI = 100 * gain / (gain + loss)`, and 0 when `gain + loss` is within
/// 1e-8 of zero (TA-Lib's `TA_IS_ZERO`). `period >= 2`.
#[derive(Debug, Clone)]
pub struct Rsi {
    period: usize,
    prev: Option<f64>,
    changes: usize,
    /// The sums of the first gains and losses, then the anchors.
    gain: f64,
    loss: f64,
    /// The gain and loss opening a pair in progress.
    pending: Option<(f64, f64)>,
}

impl Rsi {
    /// An RSI over `period` changes.
    pub fn new(period: usize) -> Result<Self> {
        check_period("rsi", "period", period, 2)?;
        Ok(Self {
            period,
            prev: None,
            changes: 0,
            gain: 0.0,
            loss: 0.0,
            pending: None,
        })
    }

    /// The index of the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        self.period
    }

    /// Feeds one value; the RSI once `period` changes have been seen.
    pub fn update(&mut self, x: f64) -> Option<f64> {
        let prev = self.prev.replace(x)?;
        let (up, down) = split(x - prev);
        if self.changes < self.period {
            self.changes += 1;
            self.loss += down;
            self.gain += up;
            if self.changes < self.period {
                return None;
            }
            let p = self.period as f64;
            self.loss /= p;
            self.gain /= p;
            return Some(rsi_value(self.gain, self.loss));
        }
        let (d, w, dd, dw) = wilder_weights(self.period);
        Some(match self.pending.take() {
            None => {
                self.pending = Some((up, down));
                rsi_value(self.gain.mul_add(d, w * up), self.loss.mul_add(d, w * down))
            }
            Some((up1, down1)) => {
                self.gain = self.gain.mul_add(dd, dw.mul_add(up1, w * up));
                self.loss = self.loss.mul_add(dd, dw.mul_add(down1, w * down));
                rsi_value(self.gain, self.loss)
            }
        })
    }
}

/// [`Rsi`] over a slice: one value per input, NaN for the first `period`.
///
/// A slice loop doing [`Rsi::update`]'s floating-point operations in the same order (the two
/// agree bit for bit, tested).
pub fn rsi(values: &[f64], period: usize) -> Result<Vec<f64>> {
    check_period("rsi", "period", period, 2)?;
    let n = values.len();
    if n <= period {
        return Ok(vec![f64::NAN; n]);
    }
    let mut out = output(n, period);
    if crate::simd::avx2_fma() {
        // SAFETY: `rsi_fma` only enables AVX2 and FMA, which the CPU has (checked above).
        #[allow(unsafe_code)]
        unsafe {
            rsi_fma(values, period, &mut out);
        }
    } else {
        rsi_into(values, period, &mut out);
    }
    Ok(out)
}

/// [`rsi_into`] compiled with FMA (each `mul_add` one instruction) and AVX2.
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
fn rsi_fma(values: &[f64], period: usize, out: &mut [f64]) {
    rsi_into(values, period, out);
}

/// The RSI of `n > period` values into `out` (its first `period` values already NaN), in
/// blocks: the block's gains and losses into buffers on the stack (a loop that vectorises),
/// the two chains over them two changes at a time, in place, then the block's values (a
/// vectorised division). Blocks are of even length, so the pairs line up with the streaming
/// form's.
#[inline(always)]
fn rsi_into(values: &[f64], period: usize, out: &mut [f64]) {
    const BLOCK: usize = 512;
    let n = values.len();
    let p = period as f64;
    let (mut gain, mut loss) = (0.0, 0.0);
    for (&x, &prev) in values[1..=period].iter().zip(values) {
        let (up, down) = split(x - prev);
        gain += up;
        loss += down;
    }
    loss /= p;
    gain /= p;
    out[period] = rsi_value(gain, loss);
    let (d, w, dd, dw) = wilder_weights(period);
    let (mut ups, mut downs) = ([0.0; BLOCK], [0.0; BLOCK]);
    let mut start = period + 1;
    while start < n {
        let end = (start + BLOCK).min(n);
        let (ups, downs) = (&mut ups[..end - start], &mut downs[..end - start]);
        for (((u, dn), &x), &prev) in ups
            .iter_mut()
            .zip(downs.iter_mut())
            .zip(&values[start..end])
            .zip(&values[start - 1..end - 1])
        {
            (*u, *dn) = split(x - prev);
        }
        for (u, dn) in ups.chunks_exact_mut(2).zip(downs.chunks_exact_mut(2)) {
            let (up1, down1) = (u[0], dn[0]);
            u[0] = gain.mul_add(d, w * up1);
            dn[0] = loss.mul_add(d, w * down1);
            gain = gain.mul_add(dd, dw.mul_add(up1, w * u[1]));
            loss = loss.mul_add(dd, dw.mul_add(down1, w * dn[1]));
            u[1] = gain;
            dn[1] = loss;
        }
        if (end - start) % 2 == 1 {
            let last = end - start - 1;
            ups[last] = gain.mul_add(d, w * ups[last]);
            downs[last] = loss.mul_add(d, w * downs[last]);
        }
        for ((o, &g), &l) in out[start..end].iter_mut().zip(&*ups).zip(&*downs) {
            *o = rsi_value(g, l);
        }
        start = end;
    }
}

/// A change as (gain, loss), both `>= 0`, without a branch: the sign of a price change is a
/// coin flip the branch predictor loses half the time. `loss + (-change)` is exactly
/// `loss - change`, and adding `0.0` to a non-negative sum leaves it unchanged, so this is
/// TA-Lib's `if change < 0 { loss -= change } else { gain += change }` to the bit (a NaN
/// change still poisons the gain, as there).
#[inline(always)]
fn split(change: f64) -> (f64, f64) {
    let negative = change < 0.0;
    (
        if negative { 0.0 } else { change },
        if negative { -change } else { 0.0 },
    )
}

/// `100·gain/(gain + loss)`, or 0 when the sum is within 1e-8 of zero: both computed, then a
/// select (no data-dependent branch in the loop).
#[inline(always)]
fn rsi_value(gain: f64, loss: f64) -> f64 {
    let total = gain + loss;
    let value = 100.0 * (gain / total);
    if ta_is_zero(total) { 0.0 } else { value }
}

/// One MACD value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdOutput {
    /// Fast EMA minus slow EMA.
    pub macd: f64,
    /// The EMA of the MACD line.
    pub signal: f64,
    /// `macd - signal`.
    pub histogram: f64,
}

/// Moving average convergence/divergence (TA-Lib `MACD`).
///
/// TA-Lib's conventions, which differ from "EMA(fast) − EMA(slow) of the whole series":
/// if `slow < fast` the two are swapped; both EMAs start at index `slow - 1`, the slow one
/// seeded with the SMA of inputs `0 .. slow`, the fast one with the SMA of inputs
/// `slow - fast .. slow` (earlier inputs do not reach it); the signal line is an EMA of the
/// MACD line seeded with the SMA of its first `signal` values. Every output starts at the
/// lookback `slow - 1 + signal - 1` (33 for 12/26/9). `fast, slow >= 2`, `signal >= 1`.
#[derive(Debug, Clone)]
pub struct Macd {
    fast: Ema,
    slow: Ema,
    signal: Ema,
}

impl Macd {
    /// A MACD with the given periods (TA-Lib's defaults are 12, 26, 9).
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self> {
        check_period("macd", "fast", fast, 2)?;
        check_period("macd", "slow", slow, 2)?;
        check_period("macd", "signal", signal, 1)?;
        let (fast, slow) = if slow < fast {
            (slow, fast)
        } else {
            (fast, slow)
        };
        Ok(Self {
            fast: Ema::skipping(fast, slow - fast),
            slow: Ema::skipping(slow, 0),
            signal: Ema::skipping(signal, 0),
        })
    }

    /// The index of the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        self.slow.lookback() + self.signal.lookback()
    }

    /// Feeds one value; the MACD once the lookback is over.
    pub fn update(&mut self, x: f64) -> Option<MacdOutput> {
        let fast = self.fast.update(x);
        let slow = self.slow.update(x);
        let macd = fast? - slow?;
        let signal = self.signal.update(macd)?;
        Some(MacdOutput {
            macd,
            signal,
            histogram: macd - signal,
        })
    }
}

/// The three lines of [`macd`], NaN during the warm-up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MacdSeries {
    /// Fast EMA minus slow EMA.
    pub macd: Vec<f64>,
    /// The signal line.
    pub signal: Vec<f64>,
    /// `macd - signal`.
    pub histogram: Vec<f64>,
}

/// [`Macd`] over a slice.
///
/// Slice loops doing [`Macd::update`]'s floating-point operations in the same order (the two
/// agree bit for bit, tested).
pub fn macd(values: &[f64], fast: usize, slow: usize, signal: usize) -> Result<MacdSeries> {
    Macd::new(fast, slow, signal)?;
    let (fast, slow) = if slow < fast {
        (slow, fast)
    } else {
        (fast, slow)
    };
    let n = values.len();
    let lookback = slow - 1 + signal - 1;
    if n <= lookback {
        return Ok(MacdSeries {
            macd: vec![f64::NAN; n],
            signal: vec![f64::NAN; n],
            histogram: vec![f64::NAN; n],
        });
    }
    // One pass with the three EMAs as scalars (no intermediate series): the same operations
    // in the same order as `Macd::update`'s three `Ema`s.
    let (kf, ks, kg) = (
        2.0 / (fast + 1) as f64,
        2.0 / (slow + 1) as f64,
        2.0 / (signal + 1) as f64,
    );
    // The fast EMA ignores the first `slow - fast` inputs (TA-Lib's seeding).
    let (mut f, mut s) = (0.0, 0.0);
    for &x in &values[slow - fast..slow] {
        f += x;
    }
    for &x in &values[..slow] {
        s += x;
    }
    f /= fast as f64;
    s /= slow as f64;
    // The signal line's seed: the mean of the first `signal` MACD values.
    let mut g = 0.0;
    g += f - s;
    let (df, ds, dg) = (1.0 - kf, 1.0 - ks, 1.0 - kg);
    for &x in &values[slow..=lookback] {
        f = f * df + x * kf;
        s = s * ds + x * ks;
        g += f - s;
    }
    g /= signal as f64;
    let mut out = MacdSeries {
        macd: output(n, lookback),
        signal: output(n, lookback),
        histogram: output(n, lookback),
    };
    let line = f - s;
    out.macd[lookback] = line;
    out.signal[lookback] = g;
    out.histogram[lookback] = line - g;
    let tail = lookback + 1;
    for (((m, sg), h), &x) in out.macd[tail..]
        .iter_mut()
        .zip(&mut out.signal[tail..])
        .zip(&mut out.histogram[tail..])
        .zip(&values[tail..])
    {
        f = f * df + x * kf;
        s = s * ds + x * ks;
        let line = f - s;
        g = g * dg + line * kg;
        *m = line;
        *sg = g;
        *h = line - g;
    }
    Ok(out)
}

/// A rolling max (or min, with `sign = -1`) over the last `period` values, amortised O(1).
#[derive(Debug, Clone)]
struct Extremum {
    period: usize,
    sign: f64,
    seen: usize,
    deque: VecDeque<(usize, f64)>,
}

impl Extremum {
    fn new(period: usize, sign: f64) -> Self {
        Self {
            period,
            sign,
            seen: 0,
            deque: VecDeque::new(),
        }
    }

    fn update(&mut self, x: f64) -> f64 {
        let i = self.seen;
        self.seen += 1;
        while self
            .deque
            .back()
            .is_some_and(|&(_, v)| self.sign * v <= self.sign * x)
        {
            self.deque.pop_back();
        }
        self.deque.push_back((i, x));
        while self
            .deque
            .front()
            .is_some_and(|&(j, _)| j + self.period <= i)
        {
            self.deque.pop_front();
        }
        self.deque.front().map_or(x, |&(_, v)| v)
    }
}

/// One stochastic value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StochOutput {
    /// Slow %K: the SMA of fast %K.
    pub k: f64,
    /// Slow %D: the SMA of slow %K.
    pub d: f64,
}

/// The stochastic oscillator (TA-Lib `STOCH` with simple moving averages, its default
/// `matype` 0; defaults 5, 3, 3).
///
/// Fast %K = `(close - lowest low) / ((highest high - lowest low) / 100)` over the last
/// `fastk` bars (0 when the range is 0); slow %K = SMA(`slowk`) of fast %K; slow %D =
/// SMA(`slowd`) of slow %K. Both outputs start at the lookback `fastk - 1 + slowk - 1 +
/// slowd - 1` (8 for the defaults). All periods `>= 1`.
#[derive(Debug, Clone)]
pub struct Stoch {
    high: Extremum,
    low: Extremum,
    fastk: usize,
    seen: usize,
    slowk: Sma,
    slowd: Sma,
    lookback: usize,
}

impl Stoch {
    /// A stochastic with the given periods.
    pub fn new(fastk: usize, slowk: usize, slowd: usize) -> Result<Self> {
        check_period("stoch", "fastk", fastk, 1)?;
        check_period("stoch", "slowk", slowk, 1)?;
        check_period("stoch", "slowd", slowd, 1)?;
        Ok(Self {
            high: Extremum::new(fastk, 1.0),
            low: Extremum::new(fastk, -1.0),
            fastk,
            seen: 0,
            slowk: Sma::unchecked(slowk),
            slowd: Sma::unchecked(slowd),
            lookback: fastk - 1 + slowk - 1 + slowd - 1,
        })
    }

    /// The index of the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        self.lookback
    }

    /// Feeds one bar; slow %K and %D once the lookback is over.
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Option<StochOutput> {
        let hh = self.high.update(high);
        let ll = self.low.update(low);
        self.seen += 1;
        if self.seen < self.fastk {
            return None;
        }
        let diff = (hh - ll) / 100.0;
        let fast_k = if diff != 0.0 {
            (close - ll) / diff
        } else {
            0.0
        };
        let k = self.slowk.update(fast_k)?;
        let d = self.slowd.update(k)?;
        Some(StochOutput { k, d })
    }
}

/// The two lines of [`stoch`], NaN during the warm-up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StochSeries {
    /// Slow %K.
    pub k: Vec<f64>,
    /// Slow %D.
    pub d: Vec<f64>,
}

/// [`Stoch`] over slices of equal length.
pub fn stoch(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    fastk: usize,
    slowk: usize,
    slowd: usize,
) -> Result<StochSeries> {
    check_lengths(
        "stoch",
        &[
            ("high", high.len()),
            ("low", low.len()),
            ("close", close.len()),
        ],
    )?;
    // The same arithmetic as `Stoch::update` in the same order (the two agree bit for bit,
    // tested), in one pass. The maximum of a set is exact, so any way of finding the window's
    // highest high and lowest low equals the streaming form's monotonic deque: short windows
    // (the usual 5 or 14) take the max and min of the window directly, with `maxsd`/`minsd`
    // and no data-dependent branch; long ones track the extremes as TA-Lib does (compare the
    // new bar with the current extreme, rescan only when it leaves the window).
    Stoch::new(fastk, slowk, slowd)?;
    let n = close.len();
    let lookback = fastk - 1 + slowk - 1 + slowd - 1;
    if n <= lookback {
        return Ok(StochSeries {
            k: vec![f64::NAN; n],
            d: vec![f64::NAN; n],
        });
    }
    let mut out = StochSeries {
        k: output(n, lookback),
        d: output(n, lookback),
    };
    if fastk <= SHORT_WINDOW {
        stoch_run(close, fastk, slowk, slowd, &mut out, |i| {
            let start = i + 1 - fastk;
            (window_max(&high[start..=i]), window_min(&low[start..=i]))
        });
    } else {
        let (mut hi_at, mut lo_at) = (0, 0);
        stoch_run(close, fastk, slowk, slowd, &mut out, |i| {
            let start = i + 1 - fastk;
            if i == fastk - 1 || hi_at < start {
                hi_at = extreme(high, start, i, |a, b| a >= b);
            } else if high[i] >= high[hi_at] {
                hi_at = i;
            }
            if i == fastk - 1 || lo_at < start {
                lo_at = extreme(low, start, i, |a, b| a <= b);
            } else if low[i] <= low[lo_at] {
                lo_at = i;
            }
            (high[hi_at], low[lo_at])
        });
    }
    Ok(out)
}

/// Windows up to this long take their extremes directly (`fastk - 1` max and min operations
/// per bar) rather than tracking them.
const SHORT_WINDOW: usize = 16;

/// The stochastic's loop over bars `fastk - 1..`, given the window's (highest high, lowest
/// low) at each bar; writes slow %K and %D from the lookback on.
#[inline(always)]
fn stoch_run(
    close: &[f64],
    fastk: usize,
    slowk: usize,
    slowd: usize,
    out: &mut StochSeries,
    mut extremes: impl FnMut(usize) -> (f64, f64),
) {
    let n = close.len();
    let lookback = fastk - 1 + slowk - 1 + slowd - 1;
    // The two averages keep their windows in rings.
    let (mut ring_f, mut ring_k) = (vec![0.0; slowk], vec![0.0; slowd]);
    let (mut at_f, mut at_k) = (0, 0);
    let (mut sum_f, mut sum_k) = (0.0, 0.0);
    let mut fast_k = |i: usize| {
        let (hh, ll) = extremes(i);
        let diff = (hh - ll) / 100.0;
        // Both sides computed, then a select (a zero range gives 0, as in TA-Lib).
        let value = (close[i] - ll) / diff;
        if diff != 0.0 { value } else { 0.0 }
    };
    // Warm-up: fill the rings up to the first output.
    for i in fastk - 1..lookback {
        let f = fast_k(i);
        ring_f[at_f] = f;
        at_f = if at_f + 1 == slowk { 0 } else { at_f + 1 };
        sum_f += f;
        if i + 2 - fastk < slowk {
            continue;
        }
        // Slow %K: the SMA of fast %K, as `Sma::update` does it.
        let k = sum_f / slowk as f64;
        sum_f -= ring_f[at_f];
        ring_k[at_k] = k;
        at_k = if at_k + 1 == slowd { 0 } else { at_k + 1 };
        sum_k += k;
    }
    for (i, (ok, od)) in (lookback..n).zip(out.k[lookback..].iter_mut().zip(&mut out.d[lookback..]))
    {
        let f = fast_k(i);
        ring_f[at_f] = f;
        at_f = if at_f + 1 == slowk { 0 } else { at_f + 1 };
        sum_f += f;
        let k = sum_f / slowk as f64;
        sum_f -= ring_f[at_f];
        ring_k[at_k] = k;
        at_k = if at_k + 1 == slowd { 0 } else { at_k + 1 };
        sum_k += k;
        let d = sum_k / slowd as f64;
        sum_k -= ring_k[at_k];
        *ok = k;
        *od = d;
    }
}

/// The largest of a non-empty window (the latest among equals, as the tracking does).
#[inline(always)]
fn window_max(w: &[f64]) -> f64 {
    let mut m = w[0];
    for &v in &w[1..] {
        m = if m > v { m } else { v };
    }
    m
}

/// The smallest of a non-empty window (the latest among equals).
#[inline(always)]
fn window_min(w: &[f64]) -> f64 {
    let mut m = w[0];
    for &v in &w[1..] {
        m = if m < v { m } else { v };
    }
    m
}

/// The index of the extreme of `values[start..=end]` by `better` (the latest among equals).
#[inline]
fn extreme(values: &[f64], start: usize, end: usize, better: impl Fn(f64, f64) -> bool) -> usize {
    let mut at = start;
    for j in start + 1..=end {
        if better(values[j], values[at]) {
            at = j;
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The FMA clone (taken where the CPU has it) and the baseline, whose `mul_add` is a
    /// software `fma`, give the same bits, for odd and even lengths after the warm-up.
    #[test]
    fn fma_and_baseline_rsi_agree_bit_for_bit() {
        let mut rng = fastrand::Rng::with_seed(5);
        for n in [15, 16, 17, 1_000, 1_001, 1_100] {
            let values: Vec<f64> = (0..n).map(|_| 50.0 + rng.f64() * 10.0).collect();
            let fast = rsi(&values, 14).unwrap();
            let mut base = output(n, 14);
            rsi_into(&values, 14, &mut base);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&base), "n = {n}");
        }
    }

    #[test]
    fn rsi_hand_computed() {
        // changes +1, -1, +2 with period 2: first at index 2: gain 0.5, loss 0.5 -> 50;
        // then gain (0.5 + 2) / 2 = 1.25, loss 0.25 -> 100 * 1.25 / 1.5.
        let r = rsi(&[10.0, 11.0, 10.0, 12.0], 2).unwrap();
        assert!(r[0].is_nan() && r[1].is_nan());
        assert_eq!(r[2], 50.0);
        assert_eq!(r[3], 100.0 * (1.25 / 1.5));
        assert_eq!(rsi(&[5.0; 5], 2).unwrap()[4], 0.0);
    }

    #[test]
    fn macd_lookback_and_swap() {
        let m = Macd::new(12, 26, 9).unwrap();
        assert_eq!(m.lookback(), 33);
        let x: Vec<f64> = (0..60).map(|i| (i as f64 * 0.3).cos() + i as f64).collect();
        let a = macd(&x, 12, 26, 9).unwrap();
        let b = macd(&x, 26, 12, 9).unwrap();
        assert_eq!(a.macd[33..], b.macd[33..]);
        assert_eq!(a.signal[33..], b.signal[33..]);
        assert!(a.macd[32].is_nan() && !a.macd[33].is_nan());
        assert_eq!(a.histogram[40], a.macd[40] - a.signal[40]);
    }

    #[test]
    fn stoch_hand_computed() {
        let h = [3.0, 4.0, 5.0, 6.0];
        let l = [1.0, 2.0, 3.0, 4.0];
        let c = [2.0, 4.0, 3.0, 5.0];
        let s = stoch(&h, &l, &c, 2, 1, 1).unwrap();
        assert!(s.k[0].is_nan());
        // index 1: hh 4, ll 1 -> (4-1)/(3/100) = 100
        assert_eq!(s.k[1], 100.0);
        // index 2: hh 5, ll 2 -> (3-2)/0.03
        assert_eq!(s.k[2], 1.0 / 0.03);
        assert_eq!(s.k[1..], s.d[1..]);
        assert!(stoch(&h, &l, &c[..3], 2, 1, 1).is_err());
        let flat = stoch(&[1.0; 3], &[1.0; 3], &[1.0; 3], 2, 1, 1).unwrap();
        assert_eq!(flat.k[2], 0.0);
    }

    #[test]
    fn extremum_tracks_the_window() {
        let mut mx = Extremum::new(3, 1.0);
        let mut mn = Extremum::new(3, -1.0);
        let x = [5.0, 1.0, 3.0, 2.0, 0.0, 4.0, 4.0];
        let maxes: Vec<_> = x.iter().map(|&v| mx.update(v)).collect();
        let mins: Vec<_> = x.iter().map(|&v| mn.update(v)).collect();
        assert_eq!(maxes, [5.0, 5.0, 5.0, 3.0, 3.0, 4.0, 4.0]);
        assert_eq!(mins, [5.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
    }
}
