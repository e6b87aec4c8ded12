//! The structure-of-arrays path (`pricing::batch::price_greeks`) against the scalar
//! `Priced::new` over seeded random inputs across wide ranges: strikes from e^-6 to e^6 times
//! spot, expiries from 1e-4 to 50 years, volatilities from 1e-3 to 5, negative rates and
//! dividends, so `d1`/`d2` reach the thousands and `N(±d)` underflows to 0.
//!
//! Tolerance. The two paths run the same formulas in the same order; they differ only in
//! `exp`, `ln` and `erfc` (a few ulp each, `pricing/vmath.rs` tests them against libm). A
//! relative error `δ` in `d` moves `N(d)` and the density by about `d²·δ` relatively in the
//! tails (more when `ln(S/K)` and `(r-q)·T` nearly cancel in `d1`), so each value must be
//! within `1e-13 · max(1, d²/16)` (with `d` the larger of `|d1|`,
//! `|d2|`, capped where `N` underflows) of the scalar one, relative to the sum of the absolute
//! values of the terms it is made of (a price `S·e^(-qT)·N(d1) - K·e^(-rT)·N(d2)` is compared
//! relative to `S·e^(-qT)·N(d1) + K·e^(-rT)·N(d2)`: the difference of two nearly equal terms
//! has no more relative accuracy in either path), plus 1e-300 absolute for results that
//! underflow to subnormals.

use cadre_pack_trading::pricing::batch::{self, BatchError, Columns, OutputColumns, RowProblem};
use cadre_pack_trading::pricing::{MarketInputs, OptionContract, OptionKind, Priced};

const TOLERANCE: f64 = 1e-13;

#[derive(Default)]
struct Table {
    kind: Vec<OptionKind>,
    strike: Vec<f64>,
    expiry: Vec<f64>,
    spot: Vec<f64>,
    rate: Vec<f64>,
    dividend: Vec<f64>,
    vol: Vec<f64>,
}

impl Table {
    fn columns(&self) -> Columns<'_> {
        Columns {
            kind: &self.kind,
            strike: &self.strike,
            expiry: &self.expiry,
            spot: &self.spot,
            rate: &self.rate,
            dividend: &self.dividend,
            vol: &self.vol,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(&mut self, kind: OptionKind, k: f64, t: f64, s: f64, r: f64, q: f64, v: f64) {
        self.kind.push(kind);
        self.strike.push(k);
        self.expiry.push(t);
        self.spot.push(s);
        self.rate.push(r);
        self.dividend.push(q);
        self.vol.push(v);
    }

    fn scalar(&self, i: usize) -> cadre_core::Result<Priced> {
        let c = OptionContract::new(self.kind[i], self.strike[i], self.expiry[i])?;
        let m = MarketInputs::new(self.spot[i], self.rate[i], self.dividend[i], self.vol[i])?;
        Priced::new(&c, &m)
    }
}

fn log_uniform(rng: &mut fastrand::Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + (hi.ln() - lo.ln()) * rng.f64()).exp()
}

/// `n` seeded random rows over wide ranges (half of them near the money).
fn wide(n: usize, seed: u64) -> Table {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut t = Table::default();
    for _ in 0..n {
        let kind = if rng.bool() {
            OptionKind::Call
        } else {
            OptionKind::Put
        };
        let spot = log_uniform(&mut rng, 0.01, 1e4);
        let moneyness = if rng.bool() {
            rng.f64() * 0.4 - 0.2
        } else {
            rng.f64() * 12.0 - 6.0
        };
        t.push(
            kind,
            spot * moneyness.exp(),
            log_uniform(&mut rng, 1e-4, 50.0),
            spot,
            rng.f64() * 0.4 - 0.1,
            rng.f64() * 0.25 - 0.05,
            log_uniform(&mut rng, 1e-3, 5.0),
        );
    }
    t
}

/// Checks row `i` of `out` against the scalar path; returns the worst normalised error.
fn compare(t: &Table, out: &OutputColumns, i: usize) -> f64 {
    let p = t.scalar(i).expect("valid rows price in the scalar path");
    let g = p.greeks;
    let (s, k, tt, r, q, v) = (
        t.spot[i],
        t.strike[i],
        t.expiry[i],
        t.rate[i],
        t.dividend[i],
        t.vol[i],
    );
    let sd = v * tt.sqrt();
    let d1 = ((s / k).ln() + (r - q) * tt) / sd + 0.5 * sd;
    // Beyond |d| ≈ 38.5 both N(-d) and the density are 0 (or subnormal) in both paths.
    let d = d1.abs().max((d1 - sd).abs()).min(40.0);
    let tol = TOLERANCE * (d * d / 16.0).max(1.0);
    // The terms: S·e^(-qT)·N(±d1) = S·|delta| and K·e^(-rT)·N(±d2) = |rho|/T.
    let s_n1 = s * g.delta().abs();
    let k_n2 = g.rho().abs() / tt;
    let theta_terms = g.vega() * v / (2.0 * tt) + q.abs() * s_n1 + r.abs() * k_n2;
    let mut worst = 0.0f64;
    for (name, got, want, magnitude) in [
        ("price", out.price[i], p.price, s_n1 + k_n2),
        ("delta", out.delta[i], g.delta(), g.delta().abs()),
        ("gamma", out.gamma[i], g.gamma(), g.gamma()),
        ("vega", out.vega[i], g.vega(), g.vega()),
        ("theta", out.theta[i], g.theta(), theta_terms),
        ("rho", out.rho[i], g.rho(), g.rho().abs()),
    ] {
        let err = (got - want).abs();
        let allowed = tol * magnitude.max(got.abs()) + 1e-300 * s.max(k).max(1.0);
        assert!(
            err <= allowed,
            "row {i} {name}: batch {got}, scalar {want} (error {err:e}, allowed {allowed:e}; \
             {:?} S={s} K={k} T={tt} r={r} q={q} vol={v}, d1={d1})",
            t.kind[i]
        );
        if magnitude > 1e-290 {
            worst = worst.max(err / (tol * magnitude.max(got.abs())));
        }
    }
    worst
}

#[test]
fn batch_matches_scalar_over_wide_random_inputs() {
    let t = wide(200_000, 20_261_126);
    let mut out = OutputColumns::new(t.kind.len());
    let result = batch::price_greeks(&t.columns(), &mut out.as_outputs());
    // Rows the scalar path rejects as overflowing must be exactly the batch's Overflow rows.
    let overflow: Vec<usize> = match result {
        Ok(()) => Vec::new(),
        Err(BatchError::Rows(rows)) => rows
            .iter()
            .map(|r| {
                assert_eq!(r.problem, RowProblem::Overflow, "{r}");
                r.index
            })
            .collect(),
        Err(e) => panic!("{e}"),
    };
    let mut worst = 0.0f64;
    let mut underflowed = 0;
    for i in 0..t.kind.len() {
        if overflow.contains(&i) {
            assert!(t.scalar(i).is_err(), "row {i}: scalar prices it");
            continue;
        }
        worst = worst.max(compare(&t, &out, i));
        underflowed += usize::from(out.gamma[i] == 0.0);
    }
    // The ranges do reach the tails where the density and N underflow.
    assert!(underflowed > 1000, "{underflowed} rows with gamma = 0");
    assert!(worst <= 1.0, "worst {worst}");
}

#[test]
fn extreme_moneyness_and_tiny_volatility() {
    let mut t = Table::default();
    for kind in [OptionKind::Call, OptionKind::Put] {
        for k in [1e-6, 1e-3, 0.5, 99.999, 100.0, 100.001, 200.0, 1e4, 1e8] {
            for tt in [1e-6, 1.0 / 365.0, 1.0, 30.0] {
                for v in [1e-6, 0.01, 0.3, 3.0] {
                    for (r, q) in [(0.0, 0.0), (0.05, 0.02), (-0.01, 0.1)] {
                        t.push(kind, k, tt, 100.0, r, q, v);
                    }
                }
            }
        }
    }
    let mut out = OutputColumns::new(t.kind.len());
    batch::price_greeks(&t.columns(), &mut out.as_outputs()).expect("all rows price");
    for i in 0..t.kind.len() {
        compare(&t, &out, i);
    }
}

#[test]
fn every_length_and_position_in_a_chunk_gives_the_same_row() {
    let t = wide(3 * batch::LANES + 5, 7);
    let mut full = OutputColumns::new(t.kind.len());
    batch::price_greeks(&t.columns(), &mut full.as_outputs()).unwrap();
    for start in 0..t.kind.len() {
        for len in [1, 2, 3, batch::LANES - 1, batch::LANES, batch::LANES + 1] {
            let end = (start + len).min(t.kind.len());
            let c = t.columns();
            let part = Columns {
                kind: &c.kind[start..end],
                strike: &c.strike[start..end],
                expiry: &c.expiry[start..end],
                spot: &c.spot[start..end],
                rate: &c.rate[start..end],
                dividend: &c.dividend[start..end],
                vol: &c.vol[start..end],
            };
            let mut out = OutputColumns::new(end - start);
            batch::price_greeks(&part, &mut out.as_outputs()).unwrap();
            for (j, i) in (start..end).enumerate() {
                for (a, b) in [
                    (out.price[j], full.price[i]),
                    (out.delta[j], full.delta[i]),
                    (out.gamma[j], full.gamma[i]),
                    (out.vega[j], full.vega[i]),
                    (out.theta[j], full.theta[i]),
                    (out.rho[j], full.rho[i]),
                ] {
                    assert_eq!(a.to_bits(), b.to_bits(), "row {i} from {start}..{end}");
                }
            }
        }
    }
}

#[test]
fn invalid_rows_match_the_scalar_validation() {
    let mut t = wide(64, 11);
    let bad = [
        (3, "strike", 0.0),
        (9, "expiry", -1.0),
        (10, "spot", f64::INFINITY),
        (17, "rate", f64::NAN),
        (40, "dividend", f64::NEG_INFINITY),
        (63, "vol", 0.0),
    ];
    for &(i, field, value) in &bad {
        let col = match field {
            "strike" => &mut t.strike,
            "expiry" => &mut t.expiry,
            "spot" => &mut t.spot,
            "rate" => &mut t.rate,
            "dividend" => &mut t.dividend,
            _ => &mut t.vol,
        };
        col[i] = value;
    }
    let mut out = OutputColumns::new(64);
    let Err(BatchError::Rows(rows)) = batch::price_greeks(&t.columns(), &mut out.as_outputs())
    else {
        panic!("expected row errors");
    };
    assert_eq!(rows.len(), bad.len());
    for (row, &(i, field, _)) in rows.iter().zip(&bad) {
        assert_eq!(row.index, i);
        let RowProblem::OutOfRange { field: got, .. } = row.problem else {
            panic!("{row}");
        };
        assert_eq!(got, field);
        let scalar = t.scalar(i).unwrap_err();
        assert!(scalar.message().contains(&format!("`{field}`")), "{scalar}");
        assert!(
            row.to_string()
                .starts_with(&format!("row {i}: field `{field}`"))
        );
        assert!(out.price[i].is_nan() && out.rho[i].is_nan());
    }
    for i in (0..64).filter(|i| !bad.iter().any(|b| b.0 == *i)) {
        compare(&t, &out, i);
    }
}
