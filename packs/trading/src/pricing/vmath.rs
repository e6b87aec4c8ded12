//! Branch-free `exp`, `ln` and `erfc` for the batch kernel ([`super::batch`]).
//!
//! `libm` and `std` call out of line for these, which stops LLVM from vectorising a loop; the
//! versions here are straight-line `f64` arithmetic with selects instead of branches (no
//! `round`/`floor` calls either: rounding to an integer adds and subtracts `1.5·2^52`), so a
//! loop over a fixed-size array of them compiles to packed SSE2 (or wider, with a wider target).
//! Each is accurate to a few ulp over its whole range, including overflow to `inf`, gradual
//! underflow to subnormals and `0`, and `NaN` in, `NaN` out; the unit tests below compare them
//! with `libm` at 4 ulp (`exp`, `ln`) and 1e-15 relative (`erfc`).
//!
//! - [`exp`] reduces `x = n·ln2 + r` (`ln2` split in a 32-bit head, so `n·ln2_hi` is exact),
//!   sums the Taylor series of `e^r` to degree 13 (truncation below 5e-18 for `|r| <= ln2/2`)
//!   and scales by `2^n` in two steps so that subnormal results keep their bits. [`exp_dd`]
//!   takes its argument as an unevaluated sum `hi + lo`, which `erfc` needs.
//! - [`ln`] is fdlibm's `__ieee754_log`: `x = 2^e·m` with `m` in `[√½, √2)`, then
//!   `ln m = 2·atanh(f/(2+f))` by its degree-14 minimax polynomial.
//! - [`erfc`] is the Chebyshev form of Numerical Recipes (3rd ed., §6.2.2):
//!   `erfc(z) = t·exp(-z² + P(u))` for `z >= 0` with `t = 2/(2+z)`, `u = 2t-1` and `P` a
//!   28-term Chebyshev series in `u` (coefficients recomputed with mpmath at 50 digits from
//!   Chebyshev-Gauss nodes: `P(u) = ln(erfc(z)/t) + z²`; the dropped terms sum below 4e-18).
//!   `z²` is formed exactly as a double-double (Veltkamp split), so the relative error stays
//!   at a few ulp out to `z ≈ 26.5`, where `erfc` underflows. `erfc(-z) = 2 - erfc(z)`.

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

/// `1/k!` for k = 0..=13.
const EXP_TAYLOR: [f64; 14] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];

/// `e^(hi + lo)` for `|lo|` up to a few units (used by [`erfc`] to keep `-z²` exact).
#[inline(always)]
pub(crate) fn exp_dd(hi: f64, lo: f64) -> f64 {
    // Beyond ±1000 the result is 0 or inf anyway; clamping keeps `n` within pow2's range.
    // `clamp` lets NaN through.
    let x = hi.clamp(-1000.0, 1000.0);
    let n = round_int((x + lo) * std::f64::consts::LOG2_E);
    // `x - n·ln2_hi` is exact (both are multiples of 2^-52·2^e and their difference is small).
    let r = ((x - n * LN2_HI) + lo) - n * LN2_LO;
    // Horner on the Taylor coefficients 1/k!, k = 13 down to 0 (unrolled by LLVM).
    let mut p = EXP_TAYLOR[13];
    let mut k = 13;
    while k > 0 {
        k -= 1;
        p = EXP_TAYLOR[k] + r * p;
    }
    // Two steps so that a subnormal result is rounded once, from a normal intermediate.
    let n1 = round_int(n * 0.5);
    p * pow2(n1) * pow2(n - n1)
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

/// Chebyshev coefficients of `P(u) = ln(erfc(z)/t) + z²`, `t = 2/(2+z)`, `u = 2t - 1`.
const ERFC_CHEB: [f64; 28] = [
    -1.302_653_719_781_709_4,
    6.419_697_923_564_902_6e-1,
    1.947_647_320_418_583_6e-2,
    -9.561_514_786_808_631_6e-3,
    -9.465_953_444_820_368_7e-4,
    3.668_394_978_527_614_5e-4,
    4.252_332_480_690_777_2e-5,
    -2.027_857_811_253_424_3e-5,
    -1.624_290_004_647_025_5e-6,
    1.303_655_835_580_523_2e-6,
    1.562_644_172_206_614_3e-8,
    -8.523_809_591_492_654_3e-8,
    6.529_054_439_098_851_5e-9,
    5.059_343_495_551_469e-9,
    -9.913_641_564_930_331e-10,
    -2.273_651_222_931_835_9e-10,
    9.646_791_102_015_527e-11,
    2.394_038_083_039_114_7e-12,
    -6.886_027_526_497_553_4e-12,
    8.944_879_273_090_725_7e-13,
    3.130_921_399_342_958e-13,
    -1.127_082_236_136_725_2e-13,
    3.810_905_255_189_232e-16,
    7.106_097_613_609_237e-15,
    -1.523_028_201_457_104_3e-15,
    -9.457_494_571_291_234e-17,
    1.210_237_189_224_279e-16,
    -2.816_663_087_747_177e-17,
];

/// The complementary error function, within a few ulp of `libm::erfc` relative (0 beyond
/// about 27.3, 2 below about -6).
#[inline(always)]
pub(crate) fn erfc(z: f64) -> f64 {
    let a = z.abs();
    // erfc(30) underflows to 0 already; the clamp keeps the Veltkamp split from overflowing.
    let a = if a > 30.0 { 30.0 } else { a };
    let t = 2.0 / (2.0 + a);
    let u = 2.0 * t - 1.0;
    let two_u = 2.0 * u;
    // Clenshaw: b_k = c_k + 2u·b_{k+1} - b_{k+2}; P = c_0/2 + u·b_1 - b_2.
    let mut b1 = 0.0;
    let mut b2 = 0.0;
    let mut k = ERFC_CHEB.len() - 1;
    while k > 0 {
        let b = ERFC_CHEB[k] + two_u * b1 - b2;
        b2 = b1;
        b1 = b;
        k -= 1;
    }
    let p = 0.5 * ERFC_CHEB[0] + u * b1 - b2;
    // a² = sq_hi + sq_lo exactly (Veltkamp split of a into two 26-bit halves).
    let c = 134_217_729.0 * a; // 2^27 + 1
    let a_hi = c - (c - a);
    let a_lo = a - a_hi;
    let sq_hi = a * a;
    let sq_lo = ((a_hi * a_hi - sq_hi) + 2.0 * a_hi * a_lo) + a_lo * a_lo;
    let upper = t * exp_dd(-sq_hi, p - sq_lo);
    if z < 0.0 { 2.0 - upper } else { upper }
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
    fn erfc_within_1e_15_of_libm() {
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
            assert!(err <= 1e-15, "erfc({z}) = {got}, libm {want} ({err:e})");
            worst = worst.max(err);
        }
        assert!(worst > 0.0);
        assert_eq!(erfc(28.0), 0.0);
        assert_eq!(erfc(1e300), 0.0);
        assert_eq!(erfc(-1e300), 2.0);
        assert!(erfc(f64::NAN).is_nan());
    }
}
