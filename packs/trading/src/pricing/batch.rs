//! Structure-of-arrays pricing for throughput: one column (slice) per input, one per output.
//!
//! [`price_greeks`] prices every row of [`Columns`] and writes the price and the five Greeks
//! (units as in the [parent module](super)) into the slices of [`Outputs`]. The work runs in
//! chunks of [`LANES`] rows over fixed-size arrays with branch-free arithmetic and the
//! vectorisable `exp`, `ln` and `erfc` of `pricing/vmath.rs`, so LLVM compiles the kernel to
//! packed SIMD on stable Rust without `unsafe` (2 lanes with the baseline x86-64 SSE2, 4 with
//! AVX2). Results agree with the scalar [`Priced::new`](super::Priced::new) to about 1e-13
//! relative (`tests/pricing_batch.rs`), and with QuantLib to 1e-10 like it
//! (`tests/pricing_golden.rs`).
//!
//! Rows are validated as [`OptionContract::new`](super::OptionContract::new) and
//! [`MarketInputs::new`](super::MarketInputs::new) do. A row that fails, or whose inputs are so
//! extreme that a value overflows `f64`, gets `NaN` in every output and a [`RowError`] naming
//! its index (and field); the other rows are priced as usual and the call returns
//! [`BatchError::Rows`] listing them all.
//!
//! ```
//! use cadre_pack_trading::pricing::OptionKind;
//! use cadre_pack_trading::pricing::batch::{self, Columns, OutputColumns};
//!
//! let kind = [OptionKind::Call, OptionKind::Put];
//! let inputs = Columns {
//!     kind: &kind,
//!     strike: &[100.0, 90.0],
//!     expiry: &[0.5, 1.0],
//!     spot: &[100.0, 100.0],
//!     rate: &[0.03, 0.03],
//!     dividend: &[0.01, 0.0],
//!     vol: &[0.2, 0.25],
//! };
//! let mut out = OutputColumns::new(inputs.len());
//! batch::price_greeks(&inputs, &mut out.as_outputs()).unwrap();
//! assert!((out.price[0] - 6.10).abs() < 0.01);
//! assert!(out.delta[1] < 0.0);
//! ```

use std::f64::consts::FRAC_1_SQRT_2;
use std::fmt;

use cadre_core::Error;

use super::OptionKind;
use super::vmath::{erfc_gauss, erfc_scaled, exp, ln};

/// Rows per chunk of the kernel: a multiple of every SIMD width LLVM may pick for `f64`.
pub const LANES: usize = 8;

/// The inputs, one slice per field, all of the same length (row `i` is the `i`-th element of
/// each). Ranges as in [`OptionContract::new`] and [`MarketInputs::new`].
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    /// Call or put.
    pub kind: &'a [OptionKind],
    /// Strikes (> 0).
    pub strike: &'a [f64],
    /// Times to expiry in years (> 0).
    pub expiry: &'a [f64],
    /// Spots (> 0).
    pub spot: &'a [f64],
    /// Continuously compounded risk-free rates (finite).
    pub rate: &'a [f64],
    /// Continuously compounded dividend yields (finite).
    pub dividend: &'a [f64],
    /// Annualised volatilities (> 0).
    pub vol: &'a [f64],
}

impl Columns<'_> {
    /// The number of rows (the length of `kind`; [`price_greeks`] checks the others).
    #[must_use]
    pub fn len(&self) -> usize {
        self.kind.len()
    }

    /// Whether there are no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.kind.is_empty()
    }
}

/// Where [`price_greeks`] writes: one mutable slice per output, each as long as the inputs.
#[derive(Debug)]
pub struct Outputs<'a> {
    /// Prices.
    pub price: &'a mut [f64],
    /// dPrice/dSpot.
    pub delta: &'a mut [f64],
    /// d²Price/dSpot².
    pub gamma: &'a mut [f64],
    /// dPrice/dσ per 1.00 of volatility.
    pub vega: &'a mut [f64],
    /// dPrice/dt as time passes, per year.
    pub theta: &'a mut [f64],
    /// dPrice/dr per 1.00 of rate.
    pub rho: &'a mut [f64],
}

/// Owned output columns, for callers that do not keep their own buffers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputColumns {
    /// Prices.
    pub price: Vec<f64>,
    /// dPrice/dSpot.
    pub delta: Vec<f64>,
    /// d²Price/dSpot².
    pub gamma: Vec<f64>,
    /// dPrice/dσ per 1.00 of volatility.
    pub vega: Vec<f64>,
    /// dPrice/dt as time passes, per year.
    pub theta: Vec<f64>,
    /// dPrice/dr per 1.00 of rate.
    pub rho: Vec<f64>,
}

impl OutputColumns {
    /// `len` rows of zeros.
    #[must_use]
    pub fn new(len: usize) -> Self {
        let col = || vec![0.0; len];
        Self {
            price: col(),
            delta: col(),
            gamma: col(),
            vega: col(),
            theta: col(),
            rho: col(),
        }
    }

    /// The columns as [`Outputs`] for [`price_greeks`].
    pub fn as_outputs(&mut self) -> Outputs<'_> {
        Outputs {
            price: &mut self.price,
            delta: &mut self.delta,
            gamma: &mut self.gamma,
            vega: &mut self.vega,
            theta: &mut self.theta,
            rho: &mut self.rho,
        }
    }
}

/// What is wrong with one row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowProblem {
    /// A field is out of range (not finite, or not > 0 where it must be).
    OutOfRange {
        /// The field (`strike`, `expiry`, `spot`, `rate`, `dividend` or `vol`).
        field: &'static str,
        /// Its value.
        value: f64,
    },
    /// The inputs are valid but so extreme that a result is not finite (e.g. `-rate·expiry`
    /// beyond ~709 overflows the discount factor).
    Overflow,
}

/// A row that was not priced (its outputs are `NaN`).
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    /// The row's index in the input columns.
    pub index: usize,
    /// What is wrong with it.
    pub problem: RowProblem,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            RowProblem::OutOfRange { field, value } => {
                let need = if matches!(*field, "rate" | "dividend") {
                    "a finite number"
                } else {
                    "a finite number > 0"
                };
                write!(
                    f,
                    "row {}: field `{field}`: {value} must be {need}",
                    self.index
                )
            }
            RowProblem::Overflow => write!(
                f,
                "row {}: the inputs overflow f64 (a price or Greek is not finite)",
                self.index
            ),
        }
    }
}

/// Why [`price_greeks`] did not price every row.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchError {
    /// A column's length differs from `kind`'s; nothing was written.
    Length {
        /// The column (`strike`, ..., `vol`, or an output such as `price`).
        column: &'static str,
        /// Its length.
        len: usize,
        /// The length of `kind`.
        expected: usize,
    },
    /// These rows (in index order) were not priced; their outputs are `NaN`, every other row
    /// was priced.
    Rows(Vec<RowError>),
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length {
                column,
                len,
                expected,
            } => write!(
                f,
                "column `{column}` has {len} rows, `kind` has {expected}: all columns must be \
                 the same length"
            ),
            Self::Rows(rows) => {
                write!(f, "{} rows not priced", rows.len())?;
                for (i, row) in rows.iter().take(5).enumerate() {
                    write!(f, "{}{row}", if i == 0 { ": " } else { "; " })?;
                }
                if rows.len() > 5 {
                    write!(f, "; ...")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for BatchError {}

impl From<BatchError> for Error {
    fn from(e: BatchError) -> Self {
        Error::invalid_input(e.to_string())
    }
}

/// The inputs of one chunk, one array per field.
struct Chunk {
    sign: [f64; LANES],
    strike: [f64; LANES],
    expiry: [f64; LANES],
    spot: [f64; LANES],
    rate: [f64; LANES],
    dividend: [f64; LANES],
    vol: [f64; LANES],
}

/// The outputs of one chunk.
struct Priced6 {
    price: [f64; LANES],
    delta: [f64; LANES],
    gamma: [f64; LANES],
    vega: [f64; LANES],
    theta: [f64; LANES],
    rho: [f64; LANES],
}

/// Copies `src` (at most [`LANES`] long) into an array padded with `pad`.
#[inline(always)]
fn load(src: &[f64], pad: f64) -> [f64; LANES] {
    if let Ok(full) = <[f64; LANES]>::try_from(src) {
        return full;
    }
    let mut a = [pad; LANES];
    a[..src.len()].copy_from_slice(src);
    a
}

/// `1/√(2π)`.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// The smallest `e^(-d1²/2)` (times `√(2π)`) from which the kernel derives `n(d2)`: far above
/// the subnormals, so the product keeps full precision whenever it is itself normal.
const MIN_DERIVING_GAUSS: f64 = 1e-280;

/// Validates and prices the chunk lane by lane without branches, and returns the outputs with
/// a per-lane "ok" flag (valid and all finite); the caller sets the outputs of lanes that are
/// not ok to `NaN`.
///
/// With `derive_d2`, `N(d2)`'s exponential is not computed but derived from `N(d1)`'s:
/// `n(d2) = n(d1)·S·e^(-qT)/(K·e^(-rT))` (since `d1² - d2² = 2·(ln(S/K) + (r-q)·T)`), one
/// division instead of an `exp`. The third array says per lane whether that was sound
/// (`n(d1)` far from underflow and the ratio finite); for the lanes that say no, the caller
/// takes the results of pricing the chunk again without it.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // indexing several arrays by lane vectorises best
fn kernel(x: &Chunk, derive_d2: bool) -> (Priced6, [bool; LANES], [bool; LANES]) {
    let mut o = Priced6 {
        price: [0.0; LANES],
        delta: [0.0; LANES],
        gamma: [0.0; LANES],
        vega: [0.0; LANES],
        theta: [0.0; LANES],
        rho: [0.0; LANES],
    };
    let mut ok = [false; LANES];
    let mut derived = [true; LANES];
    for i in 0..LANES {
        // Comparisons with NaN are false, so these reject NaN too.
        let pos = |v: f64| (v > 0.0) & (v < f64::INFINITY);
        let valid = pos(x.strike[i])
            & pos(x.expiry[i])
            & pos(x.spot[i])
            & pos(x.vol[i])
            & (x.rate[i].abs() < f64::INFINITY)
            & (x.dividend[i].abs() < f64::INFINITY);
        // Invalid lanes are priced like the others (the arithmetic cannot trap; their results
        // are garbage or NaN) and overwritten with NaN by the caller, which sees `ok`.
        let (sign, s, k, t) = (x.sign[i], x.spot[i], x.strike[i], x.expiry[i]);
        let (r, q, sigma) = (x.rate[i], x.dividend[i], x.vol[i]);
        // The same operations, in the same order, as the scalar `Terms`.
        let sqrt_t = t.sqrt();
        let std_dev = sigma * sqrt_t;
        let d1 = (ln(s / k) + (r - q) * t) / std_dev + 0.5 * std_dev;
        let d2 = d1 - std_dev;
        let df_r = exp(-r * t);
        let df_q = exp(-q * t);
        let s_q = s * df_q;
        let k_r = k * df_r;
        // e^(-z²) at z = d1/√2 is √(2π)·n(d1): the density comes with N(±d1).
        let (erfc1, gauss1) = erfc_gauss(-(sign * d1) * FRAC_1_SQRT_2);
        let z2 = -(sign * d2) * FRAC_1_SQRT_2;
        let erfc2 = if derive_d2 {
            let gauss2 = gauss1 * (s_q / k_r);
            derived[i] = (gauss1 >= MIN_DERIVING_GAUSS) & (gauss2 <= 2.0);
            erfc_scaled(z2, gauss2)
        } else {
            erfc_gauss(z2).0
        };
        let n1 = 0.5 * erfc1;
        let n2 = 0.5 * erfc2;
        let pdf1 = gauss1 * FRAC_1_SQRT_2PI;
        let price = (sign * (s_q * n1 - k_r * n2)).max(0.0);
        let delta = sign * df_q * n1;
        let gamma = df_q * pdf1 / (s * std_dev);
        let vega = s_q * pdf1 * sqrt_t;
        let theta = -s_q * pdf1 * sigma / (2.0 * sqrt_t) + sign * (q * s_q * n1 - r * k_r * n2);
        let rho = sign * k * t * df_r * n2;
        // `v - v` is 0 for a finite `v` and NaN for inf or NaN; one NaN makes the sum NaN.
        #[allow(clippy::eq_op)]
        let finite = (price - price)
            + (delta - delta)
            + (gamma - gamma)
            + (vega - vega)
            + (theta - theta)
            + (rho - rho)
            == 0.0;
        o.price[i] = price;
        o.delta[i] = delta;
        o.gamma[i] = gamma;
        o.vega[i] = vega;
        o.theta[i] = theta;
        o.rho[i] = rho;
        ok[i] = valid & finite;
    }
    (o, ok, derived)
}

/// Whether every flag is set (a fold of `&`, which vectorises; no early exit).
#[inline(always)]
fn all(flags: &[bool; LANES]) -> bool {
    flags.iter().fold(true, |a, &b| a & b)
}

/// Why row `index` (which the kernel flagged) was not priced.
fn diagnose(index: usize, cols: &Columns<'_>) -> RowError {
    let problem = [
        ("strike", cols.strike[index], true),
        ("expiry", cols.expiry[index], true),
        ("spot", cols.spot[index], true),
        ("rate", cols.rate[index], false),
        ("dividend", cols.dividend[index], false),
        ("vol", cols.vol[index], true),
    ]
    .into_iter()
    .find(|&(_, v, positive)| !v.is_finite() || (positive && v <= 0.0))
    .map_or(RowProblem::Overflow, |(field, value, _)| {
        RowProblem::OutOfRange { field, value }
    });
    RowError { index, problem }
}

/// Prices every row of `inputs` and writes the price and the five Greeks of row `i` at index
/// `i` of each output slice.
///
/// # Errors
///
/// [`BatchError::Length`] (before writing anything) when a column's length differs from
/// `inputs.kind`'s; [`BatchError::Rows`] when some rows are out of range or overflow: those
/// rows' outputs are `NaN` and every other row is priced.
pub fn price_greeks(inputs: &Columns<'_>, out: &mut Outputs<'_>) -> Result<(), BatchError> {
    if crate::simd::avx2_fma() {
        // SAFETY: `price_greeks_avx2` only enables AVX2 and FMA, which the CPU has (checked
        // above).
        #[allow(unsafe_code)]
        return unsafe { price_greeks_avx2(inputs, out) };
    }
    price_greeks_with(inputs, out)
}

/// [`price_greeks_with`] compiled for AVX2: the kernel's lanes run four to a vector instead of
/// two. Its results are bit-identical to the baseline's (no operation is fused).
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
fn price_greeks_avx2(inputs: &Columns<'_>, out: &mut Outputs<'_>) -> Result<(), BatchError> {
    price_greeks_with(inputs, out)
}

/// The body of [`price_greeks`], inlined into each clone.
#[inline(always)]
fn price_greeks_with(inputs: &Columns<'_>, out: &mut Outputs<'_>) -> Result<(), BatchError> {
    let n = inputs.len();
    for (column, len) in [
        ("strike", inputs.strike.len()),
        ("expiry", inputs.expiry.len()),
        ("spot", inputs.spot.len()),
        ("rate", inputs.rate.len()),
        ("dividend", inputs.dividend.len()),
        ("vol", inputs.vol.len()),
        ("price", out.price.len()),
        ("delta", out.delta.len()),
        ("gamma", out.gamma.len()),
        ("vega", out.vega.len()),
        ("theta", out.theta.len()),
        ("rho", out.rho.len()),
    ] {
        if len != n {
            return Err(BatchError::Length {
                column,
                len,
                expected: n,
            });
        }
    }
    let mut errors = Vec::new();
    let mut start = 0;
    while start < n {
        let end = (start + LANES).min(n);
        let mut sign = [1.0; LANES];
        for (s, k) in sign.iter_mut().zip(&inputs.kind[start..end]) {
            *s = match k {
                OptionKind::Call => 1.0,
                OptionKind::Put => -1.0,
            };
        }
        let chunk = Chunk {
            sign,
            strike: load(&inputs.strike[start..end], 1.0),
            expiry: load(&inputs.expiry[start..end], 1.0),
            spot: load(&inputs.spot[start..end], 1.0),
            rate: load(&inputs.rate[start..end], 0.0),
            dividend: load(&inputs.dividend[start..end], 0.0),
            vol: load(&inputs.vol[start..end], 1.0),
        };
        let (mut o, mut ok, derived) = kernel(&chunk, true);
        if !all(&derived) {
            // Lane by lane, so that a row's result does not depend on its neighbours.
            let (exact, exact_ok, _) = kernel(&chunk, false);
            for lane in (0..LANES).filter(|&lane| !derived[lane]) {
                o.price[lane] = exact.price[lane];
                o.delta[lane] = exact.delta[lane];
                o.gamma[lane] = exact.gamma[lane];
                o.vega[lane] = exact.vega[lane];
                o.theta[lane] = exact.theta[lane];
                o.rho[lane] = exact.rho[lane];
                ok[lane] = exact_ok[lane];
            }
        }
        let m = end - start;
        out.price[start..end].copy_from_slice(&o.price[..m]);
        out.delta[start..end].copy_from_slice(&o.delta[..m]);
        out.gamma[start..end].copy_from_slice(&o.gamma[..m]);
        out.vega[start..end].copy_from_slice(&o.vega[..m]);
        out.theta[start..end].copy_from_slice(&o.theta[..m]);
        out.rho[start..end].copy_from_slice(&o.rho[..m]);
        if !all(&ok) {
            for (lane, _) in ok[..m].iter().enumerate().filter(|(_, good)| !**good) {
                let i = start + lane;
                for col in [
                    &mut *out.price,
                    &mut *out.delta,
                    &mut *out.gamma,
                    &mut *out.vega,
                    &mut *out.theta,
                    &mut *out.rho,
                ] {
                    col[i] = f64::NAN;
                }
                errors.push(diagnose(i, inputs));
            }
        }
        start = end;
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(BatchError::Rows(errors))
    }
}

/// Validates a row as the scalar API does: used by tests to cross-check [`diagnose`].
#[cfg(test)]
fn scalar_validate(i: usize, c: &Columns<'_>) -> cadre_core::Result<()> {
    use super::{MarketInputs, OptionContract};
    OptionContract::new(c.kind[i], c.strike[i], c.expiry[i])?;
    MarketInputs::new(c.spot[i], c.rate[i], c.dividend[i], c.vol[i])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_rows_are_nan_and_named_with_their_field() {
        let n = 11;
        let kind = vec![OptionKind::Put; n];
        let mut strike = vec![100.0; n];
        let mut expiry = vec![1.0; n];
        let spot = vec![100.0; n];
        let mut rate = vec![0.02; n];
        let dividend = vec![0.0; n];
        let mut vol = vec![0.2; n];
        strike[1] = -5.0;
        expiry[3] = 0.0;
        vol[8] = f64::NAN;
        rate[9] = -800.0; // e^(800) overflows
        let cols = Columns {
            kind: &kind,
            strike: &strike,
            expiry: &expiry,
            spot: &spot,
            rate: &rate,
            dividend: &dividend,
            vol: &vol,
        };
        let mut out = OutputColumns::new(n);
        let Err(BatchError::Rows(rows)) = price_greeks(&cols, &mut out.as_outputs()) else {
            panic!("expected row errors");
        };
        let indices: Vec<usize> = rows.iter().map(|r| r.index).collect();
        assert_eq!(indices, [1, 3, 8, 9]);
        assert_eq!(
            rows[0].problem,
            RowProblem::OutOfRange {
                field: "strike",
                value: -5.0
            }
        );
        assert_eq!(rows[3].problem, RowProblem::Overflow);
        assert_eq!(
            rows[0].to_string(),
            "row 1: field `strike`: -5 must be a finite number > 0"
        );
        for r in &rows[..3] {
            assert!(scalar_validate(r.index, &cols).is_err());
        }
        assert!(scalar_validate(9, &cols).is_ok());
        for i in 0..n {
            let bad = indices.contains(&i);
            for col in [
                &out.price, &out.delta, &out.gamma, &out.vega, &out.theta, &out.rho,
            ] {
                assert_eq!(col[i].is_nan(), bad, "row {i}");
            }
        }
        let msg = Error::from(BatchError::Rows(rows)).to_string();
        assert!(msg.contains("4 rows not priced"), "{msg}");
    }

    #[test]
    fn mismatched_lengths_are_reported_before_writing() {
        let kind = [OptionKind::Call; 3];
        let ok = [1.0; 3];
        let cols = Columns {
            kind: &kind,
            strike: &ok,
            expiry: &ok,
            spot: &ok,
            rate: &ok[..2],
            dividend: &ok,
            vol: &ok,
        };
        let mut out = OutputColumns::new(3);
        assert_eq!(
            price_greeks(&cols, &mut out.as_outputs()),
            Err(BatchError::Length {
                column: "rate",
                len: 2,
                expected: 3
            })
        );
        assert_eq!(out, OutputColumns::new(3));
        let mut short = OutputColumns::new(2);
        let cols = Columns { rate: &ok, ..cols };
        assert!(matches!(
            price_greeks(&cols, &mut short.as_outputs()),
            Err(BatchError::Length {
                column: "price",
                ..
            })
        ));
        let empty = Columns {
            kind: &[],
            strike: &[],
            expiry: &[],
            spot: &[],
            rate: &[],
            dividend: &[],
            vol: &[],
        };
        assert!(empty.is_empty());
        assert_eq!(
            price_greeks(&empty, &mut OutputColumns::new(0).as_outputs()),
            Ok(())
        );
    }

    /// The AVX2 clone (taken where the CPU has it) and the baseline give the same bits,
    /// including for rows near the kernel's edges (deep in or out of the money, tiny expiries,
    /// a partial last chunk) and for rejected rows.
    #[test]
    fn wide_and_baseline_kernels_agree_bit_for_bit() {
        let mut rng = fastrand::Rng::with_seed(7);
        let n = 1_003;
        let kind: Vec<OptionKind> = (0..n)
            .map(|_| {
                if rng.bool() {
                    OptionKind::Call
                } else {
                    OptionKind::Put
                }
            })
            .collect();
        let mut strike: Vec<f64> = (0..n).map(|_| 1.0 + rng.f64() * 400.0).collect();
        let expiry: Vec<f64> = (0..n).map(|_| 1e-4 + rng.f64() * 30.0).collect();
        let spot = vec![100.0; n];
        let rate: Vec<f64> = (0..n).map(|_| rng.f64() * 0.2 - 0.05).collect();
        let dividend: Vec<f64> = (0..n).map(|_| rng.f64() * 0.1).collect();
        let vol: Vec<f64> = (0..n).map(|_| 0.01 + rng.f64() * 2.0).collect();
        strike[17] = -1.0;
        let cols = Columns {
            kind: &kind,
            strike: &strike,
            expiry: &expiry,
            spot: &spot,
            rate: &rate,
            dividend: &dividend,
            vol: &vol,
        };
        let (mut wide, mut base) = (OutputColumns::new(n), OutputColumns::new(n));
        let r_wide = price_greeks(&cols, &mut wide.as_outputs());
        let r_base = price_greeks_with(&cols, &mut base.as_outputs());
        assert_eq!(r_wide, r_base);
        assert!(r_wide.is_err(), "row 17 has a negative strike");
        let (w, b) = (wide.as_outputs(), base.as_outputs());
        for (name, x, y) in [
            ("price", &*w.price, &*b.price),
            ("delta", &*w.delta, &*b.delta),
            ("gamma", &*w.gamma, &*b.gamma),
            ("vega", &*w.vega, &*b.vega),
            ("theta", &*w.theta, &*b.theta),
            ("rho", &*w.rho, &*b.rho),
        ] {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                assert_eq!(p.to_bits(), q.to_bits(), "{name}[{i}]: {p} vs {q}");
            }
        }
    }
}
