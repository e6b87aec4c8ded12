//! Volume: OBV, VWAP.

use cadre_core::Result;

use super::check_lengths;

/// On-balance volume (TA-Lib `OBV`).
///
/// Lookback 0: the first value is the first bar's volume (TA-Lib's convention); then the
/// volume is added when the close rises, subtracted when it falls, and nothing changes when
/// it is equal.
#[derive(Debug, Clone, Default)]
pub struct Obv {
    prev: Option<(f64, f64)>,
}

impl Obv {
    /// An OBV starting at the next bar.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one bar's close and volume; the OBV so far.
    pub fn update(&mut self, close: f64, volume: f64) -> f64 {
        let obv = match self.prev {
            None => volume,
            Some((prev_close, obv)) => obv + signed(close, prev_close, volume),
        };
        self.prev = Some((close, obv));
        obv
    }
}

/// [`Obv`] over slices of equal length.
pub fn obv(close: &[f64], volume: &[f64]) -> Result<Vec<f64>> {
    check_lengths("obv", &[("close", close.len()), ("volume", volume.len())])?;
    // `Obv::update`'s operations as a slice loop (the two agree bit for bit, tested).
    let mut out = vec![0.0; close.len()];
    let Some(&first) = volume.first() else {
        return Ok(out);
    };
    let mut obv = first;
    out[0] = obv;
    for (((o, &c), &prev), &v) in out[1..]
        .iter_mut()
        .zip(&close[1..])
        .zip(close)
        .zip(&volume[1..])
    {
        obv += signed(c, prev, v);
        *o = obv;
    }
    Ok(out)
}

/// The volume with the sign of the close's change, 0 when it is unchanged — a select, not a
/// branch (the sign of a change is a coin flip for the branch predictor). Adding 0 leaves
/// the running total as TA-Lib's `if/else if` does (up to the sign of a zero total).
#[inline(always)]
fn signed(close: f64, prev: f64, volume: f64) -> f64 {
    let v = if close < prev { -volume } else { 0.0 };
    if close > prev { volume } else { v }
}

/// Cumulative volume-weighted average price of the typical price.
///
/// `vwap = Σ tp·volume / Σ volume` from the first bar (or the last [`Vwap::reset`], e.g. at
/// a session start), with `tp = (high + low + close) / 3`. TA-Lib has no VWAP: the fixtures
/// check it against a direct numpy computation (`cumsum(tp * v) / cumsum(v)`). Lookback 0;
/// `None` (NaN in the batch form) while the cumulative volume is 0.
#[derive(Debug, Clone, Default)]
pub struct Vwap {
    price_volume: f64,
    volume: f64,
}

impl Vwap {
    /// A VWAP starting at the next bar.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts over (a new session).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Feeds one bar; the VWAP so far.
    pub fn update(&mut self, high: f64, low: f64, close: f64, volume: f64) -> Option<f64> {
        let tp = (high + low + close) / 3.0;
        self.price_volume += tp * volume;
        self.volume += volume;
        (self.volume != 0.0).then(|| self.price_volume / self.volume)
    }
}

/// [`Vwap`] over slices of equal length.
pub fn vwap(high: &[f64], low: &[f64], close: &[f64], volume: &[f64]) -> Result<Vec<f64>> {
    check_lengths(
        "vwap",
        &[
            ("high", high.len()),
            ("low", low.len()),
            ("close", close.len()),
            ("volume", volume.len()),
        ],
    )?;
    let mut s = Vwap::new();
    Ok((0..close.len())
        .map(|i| {
            s.update(high[i], low[i], close[i], volume[i])
                .unwrap_or(f64::NAN)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obv_hand_computed() {
        let o = obv(&[10.0, 11.0, 11.0, 9.0], &[5.0, 3.0, 7.0, 2.0]).unwrap();
        assert_eq!(o, [5.0, 8.0, 8.0, 6.0]);
        assert!(obv(&[1.0], &[]).is_err());
    }

    #[test]
    fn vwap_hand_computed() {
        let v = vwap(
            &[3.0, 6.0, 9.0],
            &[3.0, 6.0, 9.0],
            &[3.0, 6.0, 9.0],
            &[0.0, 1.0, 3.0],
        )
        .unwrap();
        assert!(v[0].is_nan());
        assert_eq!(v[1], 6.0);
        assert_eq!(v[2], (6.0 + 27.0) / 4.0);
        let mut s = Vwap::new();
        s.update(1.0, 1.0, 1.0, 1.0);
        s.reset();
        assert_eq!(s.update(2.0, 2.0, 2.0, 1.0), Some(2.0));
    }
}
