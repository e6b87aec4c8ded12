//! Branch-free `exp`, `ln` and `erfc` for the batch kernel ([`super::batch`]).
//!
//! `libm` and `std` call out of line for these, which stops LLVM from vectorising a loop; the
//! versions here are straight-line `f64` arithmetic with selects instead of branches (no
//! `round`/`floor` calls either: rounding to an integer adds and subtracts `1.5·2^52`), so a
//! loop over a fixed-size array of them compiles to packed SSE2 (or wider, with a wider target).
//! `exp` and `ln` are accurate to a few ulp, `erfc` to 2e-15 relative, over their whole
//! range, including overflow to `inf`, gradual underflow to subnormals and `0`, and `NaN` in,
//! `NaN` out; the unit tests below compare them with `libm` at 4 ulp (`exp`, `ln`) and 2e-15
//! relative (`erfc`).
//!
//! - [`exp`] reduces `x = n·ln2 + r` (`ln2` split in a 32-bit head, so `n·ln2_hi` is exact),
//!   evaluates `e^r` as fdlibm's `__ieee754_exp` does (a degree-5 minimax polynomial in `r²`
//!   and one division, error below 1 ulp for `|r| <= ln2/2`) and scales by `2^n` in two steps
//!   so that subnormal results keep their bits. [`exp_dd`] takes its argument as an
//!   unevaluated sum `hi + lo`, which `erfc` needs.
//! - [`ln`] is fdlibm's `__ieee754_log`: `x = 2^e·m` with `m` in `[√½, √2)`, then
//!   `ln m = 2·atanh(f/(2+f))` by its degree-14 minimax polynomial.
//! - [`erfc_gauss`] returns `erfc(z) = P(a)/Q(a)·e^(-a²)` (`a = |z|`, `P/Q` a degree-9/10
//!   rational fit of `erfcx` over `[0, 27]`, made by `scripts/fit/erfc_rational.py` with
//!   mpmath) together with `e^(-z²)`: for `z = d/√2` that is `√(2π)` times the normal density
//!   at `d`, so the kernel gets `n(d1)` for free. `z²` is formed exactly as a double-double
//!   (Veltkamp split), so the relative error stays at a few ulp out to `z ≈ 26.5`, where
//!   `erfc` underflows. [`erfc_scaled`] takes `e^(-z²)` from the caller (the kernel derives
//!   `n(d2)` from `n(d1)`). `erfc(-z) = 2 - erfc(z)`.

// The constants keep the digits they were computed with; the compiler rounds them to `f64`.
#![allow(clippy::excessive_precision)]

/// `1.5·2^52`: adding and subtracting it rounds an `f64` below `2^51` to the nearest integer.
const ROUND: f64 = 6_755_399_441_055_744.0;

/// Rounds to the nearest integer (ties to even) for `|x| < 2^51`, branch-free.
#[inline(always)]
fn round_int(x: f64) -> f64 {
    (x + ROUND) - ROUND
}

/// `2^k` for an integer-valued `k` in `[-1022, 1023]`, built from its bits.
#[inline(always)]
fn pow2(k: f64) -> f64 {
    // The low bits of `k + 1.5·2^52` hold `k` in two's complement; shifting them into the
    // exponent field and adding the bias gives `2^k`.
    let bits = (k + ROUND).to_bits() << 52;
    f64::from_bits(bits.wrapping_add(1023 << 52))
}

const LN2_HI: f64 = 6.931_471_803_691_238_164_9e-1; // 0x3fe62e42fee00000: 32 significant bits
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;

/// fdlibm's minimax coefficients for `R(r²) = r·(e^r + 1)/(e^r - 1)` on `|r| <= ln2/2`
/// (error below 2^-59), as `R = 2 + r²·P1 + r⁴·P2 + ...`.
const EXP_P: [f64; 5] = [
    1.666_666_666_666_660_190_37e-1,
    -2.777_777_777_701_559_338_42e-3,
    6.613_756_321_437_934_361_17e-5,
    -1.653_390_220_546_525_153_90e-6,
    4.138_136_797_057_238_460_39e-8,
];

/// `e^(hi + lo)` for `|lo|` up to a few units (used by [`erfc`] to keep `-z²` exact).
#[inline(always)]
pub(crate) fn exp_dd(hi: f64, lo: f64) -> f64 {
    // Beyond ±1000 the result is 0 or inf anyway; clamping keeps `n` within pow2's range.
    // `clamp` lets NaN through.
    let x = hi.clamp(-1000.0, 1000.0);
    let n = round_int((x + lo) * std::f64::consts::LOG2_E);
    // `x - n·ln2_hi` is exact (both are multiples of 2^-52·2^e and their difference is small).
    let r_hi = (x - n * LN2_HI) + lo;
    let r_lo = n * LN2_LO;
    let r = r_hi - r_lo;
    // fdlibm's `__ieee754_exp`: with `c = r - r²·(P1 + r²·P2 + ...)`,
    // `e^r = 1 + r + r·c/(2 - c)`, evaluated as below to keep the low part of `r`.
    let rr = r * r;
    let mut p = EXP_P[4];
    let mut k = 4;
    while k > 0 {
        k -= 1;
        p = EXP_P[k] + rr * p;
    }
    let c = r - rr * p;
    let e_r = 1.0 - ((r_lo - (r * c) / (2.0 - c)) - r_hi);
    // Two steps so that a subnormal result is rounded once, from a normal intermediate.
    let n1 = round_int(n * 0.5);
    e_r * pow2(n1) * pow2(n - n1)
}

/// `e^x`, within a few ulp of `f64::exp`; 0 below about -745, inf above about 709.8.
#[inline(always)]
pub(crate) fn exp(x: f64) -> f64 {
    exp_dd(x, 0.0)
}

const LG1: f64 = 6.666_666_666_666_735_130e-1;
const LG2: f64 = 3.999_999_999_940_941_908e-1;
const LG3: f64 = 2.857_142_874_366_239_149e-1;
const LG4: f64 = 2.222_219_843_214_978_396e-1;
const LG5: f64 = 1.818_357_216_161_805_012e-1;
const LG6: f64 = 1.531_383_769_920_937_332e-1;
const LG7: f64 = 1.479_819_860_511_658_591e-1;

/// The natural logarithm of `x >= 0` (`-inf` at 0, `inf` at inf, NaN for NaN or `x < 0`),
/// within a few ulp of `f64::ln`.
#[inline(always)]
pub(crate) fn ln(x: f64) -> f64 {
    // Subnormals: scale into the normal range first.
    let sub = x < f64::MIN_POSITIVE;
    let xs = if sub { x * 18_014_398_509_481_984.0 } else { x }; // 2^54
    let bits = xs.to_bits();
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    // The biased exponent as an f64: OR it into the mantissa of 2^52 and subtract.
    let e =
        f64::from_bits((bits >> 52) | 0x4330_0000_0000_0000) - (4_503_599_627_370_496.0 + 1023.0);
    let big = m > std::f64::consts::SQRT_2;
    let m = if big { m * 0.5 } else { m };
    let e = e + if big { 1.0 } else { 0.0 } - if sub { 54.0 } else { 0.0 };
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    let hfsq = 0.5 * f * f;
    let y = e * LN2_HI - ((hfsq - (s * (hfsq + r) + e * LN2_LO)) - f);
    if x == 0.0 {
        f64::NEG_INFINITY
    } else if x == f64::INFINITY {
        f64::INFINITY
    } else if x.is_nan() || x < 0.0 {
        f64::NAN
    } else {
        y
    }
}

/// `erfcx(a) = erfc(a)·e^(a²) ≈ P(a)/Q(a)` for `0 <= a <= 27`, degrees 9 and 10 (constant
/// term first), fitted by `scripts/fit/erfc_rational.py` (relative error 5e-17 in exact
/// arithmetic, about 1e-15 evaluated in `f64`). `Q`'s degree is one more than `P`'s, so the
/// ratio follows erfcx's `1/(a·√π)` tail out to where `erfc` underflows; all coefficients are
/// positive, so Horner's rule in `a >= 0` adds positive terms only (no cancellation).
const ERFCX_P: [f64; 10] = [
    0.999999999999999953139,
    2.19025052967833731697,
    2.37326807459387001694,
    1.63376649598587392683,
    0.779725097647049104032,
    0.266449518125535935113,
    0.0651864258992809681104,
    0.0110472685589316336531,
    0.00118576110625065007593,
    0.0000623083494286342908942,
];
const ERFCX_Q: [f64; 11] = [
    1.00000000000000000000,
    3.31862969677383638513,
    5.11794068773858009105,
    4.84236722773950849346,
    3.12225911797992493879,
    1.43874579596370691291,
    0.482004645520684087478,
    0.116590784899047318745,
    0.0196359930395741489985,
    0.00210170683897649655429,
    0.000110438673888704567147,
];

/// `erfc(z)` given `gauss = e^(-z²)` (computed by the caller, or derived from another
/// density): `erfc(|z|) = P(|z|)/Q(|z|)·e^(-z²)`, `erfc(-z) = 2 - erfc(z)`.
#[inline(always)]
pub(crate) fn erfc_scaled(z: f64, gauss: f64) -> f64 {
    let a = z.abs();
    // erfc(30) underflows to 0 already; the clamp keeps P and Q finite for any input.
    let a = if a > 30.0 { 30.0 } else { a };
    let mut p = ERFCX_P[9];
    let mut q = ERFCX_Q[10];
    let mut k = 9;
    while k > 0 {
        k -= 1;
        p = ERFCX_P[k] + a * p;
    }
    k = 10;
    while k > 0 {
        k -= 1;
        q = ERFCX_Q[k] + a * q;
    }
    let upper = p / q * gauss;
    if z < 0.0 { 2.0 - upper } else { upper }
}

/// `erfc(z)` and `e^(-z²)` (the second shares the first's exponential; 0 for `|z|` beyond 30).
///
/// `z²` is formed exactly as a double-double (Veltkamp split), so the relative error of
/// `e^(-z²)` stays at a few ulp out to `z ≈ 26.5`, where `erfc` underflows.
#[inline(always)]
pub(crate) fn erfc_gauss(z: f64) -> (f64, f64) {
    let a = z.abs();
    // The clamp keeps the Veltkamp split from overflowing (e^(-900) is 0 anyway).
    let a = if a > 30.0 { 30.0 } else { a };
    // a² = sq_hi + sq_lo exactly (Veltkamp split of a into two 26-bit halves).
    let c = 134_217_729.0 * a; // 2^27 + 1
    let a_hi = c - (c - a);
    let a_lo = a - a_hi;
    let sq_hi = a * a;
    let sq_lo = ((a_hi * a_hi - sq_hi) + 2.0 * a_hi * a_lo) + a_lo * a_lo;
    let gauss = exp_dd(-sq_hi, -sq_lo);
    (erfc_scaled(z, gauss), gauss)
}

/// The complementary error function, within 2e-15 of `libm::erfc` relative (0 beyond
/// about 27.3, 2 below about -6).
#[cfg(test)]
fn erfc(z: f64) -> f64 {
    erfc_gauss(z).0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place (0 when both are the same non-finite value).
    fn ulps(a: f64, b: f64) -> f64 {
        if a == b || (a.is_nan() && b.is_nan()) {
            return 0.0;
        }
        (a - b).abs() / (a.abs().max(b.abs()) * f64::EPSILON).max(f64::from_bits(1))
    }

    fn samples(lo: f64, hi: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..n).map(|_| lo + (hi - lo) * rng.f64()).collect()
    }

    #[test]
    fn exp_within_4_ulp_of_std() {
        let mut worst = 0.0f64;
        for x in samples(-745.0, 709.7, 200_000, 1)
            .into_iter()
            .chain(samples(-1.0, 1.0, 100_000, 2))
            .chain([0.0, -0.0, 1e-300, -1e-300, 709.78, -708.4, -744.0])
        {
            let (got, want) = (exp(x), x.exp());
            let tol = if want < f64::MIN_POSITIVE {
                // Subnormal results carry fewer bits: compare absolutely.
                ((got - want).abs() <= 2.0 * f64::from_bits(1)) as u8 as f64
            } else {
                worst = worst.max(ulps(got, want));
                1.0
            };
            assert!(tol > 0.0, "exp({x}) = {got}, std {want}");
        }
        assert!(worst <= 4.0, "worst {worst} ulp");
        assert_eq!(exp(710.0), f64::INFINITY);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(-746.0), 0.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert!(exp(f64::NAN).is_nan());
    }

    #[test]
    fn ln_within_4_ulp_of_std() {
        let mut worst = 0.0f64;
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..200_000 {
            // Log-uniform over the whole positive range, subnormals included.
            let x = f64::from_bits(rng.u64(1..0x7fef_ffff_ffff_ffff));
            worst = worst.max(ulps(ln(x), x.ln()));
        }
        for x in samples(0.5, 2.0, 100_000, 4) {
            worst = worst.max(ulps(ln(x), x.ln()));
        }
        assert!(worst <= 4.0, "worst {worst} ulp");
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
        assert!(ln(-1.0).is_nan() && ln(f64::NAN).is_nan());
    }

    #[test]
    fn erfc_within_2e_15_of_libm() {
        let mut worst = 0.0f64;
        for z in samples(-8.0, 27.0, 300_000, 5)
            .into_iter()
            .chain(samples(-1.0, 1.0, 100_000, 6))
            .chain([0.0, -0.0, 1e-300, 5.0, 10.0, 26.0, 26.5])
        {
            let (got, want) = (erfc(z), libm::erfc(z));
            if want < 1e-300 {
                assert!(
                    (got - want).abs() <= 1e-310,
                    "erfc({z}) = {got}, libm {want}"
                );
                continue;
            }
            let err = (got - want).abs() / want;
            // P/Q in f64 is within about 1.1e-15 (the fit script's figure), e^(-z²) a few ulp.
            assert!(err <= 2e-15, "erfc({z}) = {got}, libm {want} ({err:e})");
            worst = worst.max(err);
        }
        assert!(worst > 0.0);
        for z in samples(-27.0, 27.0, 100_000, 7) {
            // The reference rounds `z²` first: a relative error up to `ε·z²` in `want`.
            let (got, want) = (erfc_gauss(z).1, (-z * z).exp());
            assert!(
                (got - want).abs() <= 4e-16 * (z * z).max(1.0) * want + 1e-310,
                "e^(-z²) at {z}: {got}, std {want}"
            );
        }
        assert_eq!(erfc_gauss(40.0), (0.0, 0.0));
        assert_eq!(erfc(28.0), 0.0);
        assert_eq!(erfc(1e300), 0.0);
        assert_eq!(erfc(-1e300), 2.0);
        assert!(erfc(f64::NAN).is_nan());
    }
}
