//! Properties of `pricing` that need no reference library: Greeks against central finite
//! differences, put-call parity (seeded proptest), implied-volatility round trips and the
//! errors on bad input.

use cadre_core::ErrorCode;
use cadre_pack_trading::pricing::{
    self, BatchInput, Greeks, MarketInputs, OptionContract, OptionKind, Priced,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rust_decimal::Decimal;

fn contract(kind: OptionKind, strike: f64, expiry: f64) -> OptionContract {
    OptionContract::new(kind, strike, expiry).unwrap()
}

fn market(spot: f64, rate: f64, dividend: f64, vol: f64) -> MarketInputs {
    MarketInputs::new(spot, rate, dividend, vol).unwrap()
}

/// A grid of ordinary (not degenerate) cases for the finite-difference checks.
fn grid() -> Vec<(OptionContract, MarketInputs)> {
    let mut out = Vec::new();
    for kind in [OptionKind::Call, OptionKind::Put] {
        for strike in [70.0, 95.0, 100.0, 110.0, 140.0] {
            for expiry in [0.1, 0.5, 1.0, 3.0] {
                for (rate, dividend) in [(0.0, 0.0), (0.04, 0.01), (0.01, 0.05), (-0.005, 0.0)] {
                    for vol in [0.1, 0.25, 0.6] {
                        out.push((
                            contract(kind, strike, expiry),
                            market(100.0, rate, dividend, vol),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// Central differences: h = 1e-4 relative for spot, 1e-5 absolute for vol and rate and
/// 1e-5 years for time. Their truncation error is O(h²) and their rounding error
/// O(ε·price/h), so the check allows 1e-6 of the Greek's scale (1e-4 for gamma, a second
/// difference).
#[test]
fn greeks_match_finite_differences() {
    for (c, m) in grid() {
        let g = pricing::greeks(&c, &m).unwrap();
        let p = |c: &OptionContract, m: &MarketInputs| pricing::price(c, m);
        let (s, r, q, v, t) = (m.spot(), m.rate(), m.dividend(), m.vol(), c.expiry());
        let hs = 1e-4 * s;
        let up = market(s + hs, r, q, v);
        let dn = market(s - hs, r, q, v);
        let delta = (p(&c, &up) - p(&c, &dn)) / (2.0 * hs);
        let gamma = (p(&c, &up) - 2.0 * p(&c, &m) + p(&c, &dn)) / (hs * hs);
        let h = 1e-5;
        let vega = (p(&c, &market(s, r, q, v + h)) - p(&c, &market(s, r, q, v - h))) / (2.0 * h);
        let rho = (p(&c, &market(s, r + h, q, v)) - p(&c, &market(s, r - h, q, v))) / (2.0 * h);
        // Theta is the change as time passes: expiry shrinks.
        let theta = (p(&contract(c.kind(), c.strike(), t - h), &m)
            - p(&contract(c.kind(), c.strike(), t + h), &m))
            / (2.0 * h);
        let label = format!("{c:?} {m:?}");
        let close = |name: &str, analytic: f64, fd: f64, tol: f64| {
            assert!(
                (analytic - fd).abs() <= tol,
                "{label} {name}: analytic {analytic}, finite difference {fd}"
            );
        };
        close("delta", g.delta(), delta, 1e-6);
        close("gamma", g.gamma(), gamma, 1e-4 / s);
        close("vega", g.vega(), vega, 1e-6 * s);
        close("rho", g.rho(), rho, 1e-6 * s);
        close("theta", g.theta(), theta, 1e-6 * s);
    }
}

/// C − P = S·e^(−qT) − K·e^(−rT), within 1e-12 of the larger of spot and strike.
#[test]
fn put_call_parity() {
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 2000,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[11; 32]),
    );
    let inputs = (
        0.01..10_000.0f64,
        0.05..5.0f64,
        1e-3..30.0f64,
        -0.05..0.2f64,
        -0.05..0.2f64,
        0.01..2.0f64,
    );
    runner
        .run(&inputs, |(spot, moneyness, expiry, rate, dividend, vol)| {
            let strike = spot * moneyness;
            let m = market(spot, rate, dividend, vol);
            let call = pricing::price(&contract(OptionKind::Call, strike, expiry), &m);
            let put = pricing::price(&contract(OptionKind::Put, strike, expiry), &m);
            let forward = spot * (-dividend * expiry).exp() - strike * (-rate * expiry).exp();
            let err = (call - put - forward).abs();
            prop_assert!(
                err <= 1e-12 * spot.max(strike),
                "C {call} - P {put} = {}, forward {forward}, error {err:e}",
                call - put
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn implied_vol_round_trips() {
    let mut checked = 0;
    for (c, m) in grid() {
        let price = pricing::price(&c, &m);
        let Ok(iv) = pricing::implied_vol(&c, &m, price) else {
            // Only an option worth its discounted intrinsic value (to rounding) has no
            // implied volatility: e.g. deep in the money at a low vol.
            let (s, k, t) = (m.spot(), c.strike(), c.expiry());
            let fwd = s * (-m.dividend() * t).exp() - k * (-m.rate() * t).exp();
            let intrinsic = match c.kind() {
                OptionKind::Call => fwd.max(0.0),
                OptionKind::Put => (-fwd).max(0.0),
            };
            assert!(
                price - intrinsic <= 1e-12 * s.max(k),
                "{c:?} {m:?}: price {price}, intrinsic {intrinsic}"
            );
            continue;
        };
        let back = pricing::price(&c, &m.with_vol(iv).unwrap());
        assert!(
            (back - price).abs() <= 1e-12 * price.max(1e-300) * 2.0 + 1e-15,
            "{c:?} {m:?}: price {price}, iv {iv}, back {back}"
        );
        // Where vega is not negligible the volatility itself comes back.
        if pricing::greeks(&c, &m).unwrap().vega() > 1e-2 {
            assert!((iv - m.vol()).abs() <= 1e-8, "{c:?} {m:?}: iv {iv}");
            checked += 1;
        }
    }
    assert!(checked > 200, "{checked}");
    // The extremes of the bracket.
    for vol in [0.01, 2.0, 5.0] {
        let c = contract(OptionKind::Call, 100.0, 1.0);
        let m = market(100.0, 0.02, 0.0, vol);
        let iv = pricing::implied_vol(&c, &m, pricing::price(&c, &m)).unwrap();
        assert!((iv - vol).abs() <= 1e-8, "vol {vol}: iv {iv}");
    }
}

#[test]
fn implied_vol_without_a_solution_is_an_error() {
    let c = contract(OptionKind::Call, 100.0, 1.0);
    let m = market(120.0, 0.05, 0.0, 0.2);
    let intrinsic = 120.0 - 100.0 * (-0.05f64).exp();
    for bad in [
        intrinsic - 1.0,
        intrinsic,
        120.0,
        150.0,
        -1.0,
        f64::NAN,
        f64::INFINITY,
    ] {
        let e = pricing::implied_vol(&c, &m, bad).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidInput, "{bad}");
        assert!(e.message().contains("price"), "{}", e.message());
    }
    let e = pricing::implied_vol(&c, &m, 10.0).unwrap_err();
    assert!(
        e.message().contains("10") && e.message().contains(&format!("{intrinsic}")),
        "{}",
        e.message()
    );
    // A put is bounded by the discounted strike.
    let p = contract(OptionKind::Put, 100.0, 1.0);
    let e = pricing::implied_vol(&p, &m, 100.0).unwrap_err();
    assert!(
        e.message()
            .contains(&format!("{}", 100.0 * (-0.05f64).exp())),
        "{}",
        e.message()
    );
    // Inside the no-arbitrage bounds but beyond the volatility bracket.
    let atm = contract(OptionKind::Call, 100.0, 1.0);
    let m = market(100.0, 0.0, 0.0, 0.2);
    let e = pricing::implied_vol(&atm, &m, 99.99999).unwrap_err();
    assert!(
        e.message()
            .contains(&format!("[{}, {}]", pricing::IV_MIN, pricing::IV_MAX)),
        "{}",
        e.message()
    );
}

#[test]
fn bad_inputs_name_the_field() {
    for (strike, expiry, field) in [
        (0.0, 1.0, "strike"),
        (-5.0, 1.0, "strike"),
        (f64::NAN, 1.0, "strike"),
        (100.0, 0.0, "expiry"),
        (100.0, f64::INFINITY, "expiry"),
    ] {
        let e = OptionContract::new(OptionKind::Call, strike, expiry).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidInput);
        assert!(e.message().contains(field), "{}", e.message());
    }
    for (args, field) in [
        ((0.0, 0.0, 0.0, 0.2), "spot"),
        ((100.0, f64::NAN, 0.0, 0.2), "rate"),
        ((100.0, 0.0, f64::NEG_INFINITY, 0.2), "dividend"),
        ((100.0, 0.0, 0.0, 0.0), "vol"),
        ((100.0, 0.0, 0.0, -0.1), "vol"),
    ] {
        let e = MarketInputs::new(args.0, args.1, args.2, args.3).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidInput);
        assert!(e.message().contains(field), "{}", e.message());
    }
}

#[test]
fn greeks_are_validated() {
    let c = contract(OptionKind::Call, 100.0, 2.0);
    let m = market(100.0, 0.03, 0.05, 0.2);
    let bound = (-0.1f64).exp();
    assert!(Greeks::new(&c, &m, bound, 0.01, 30.0, -5.0, 40.0).is_ok());
    for (d, g, v, field) in [
        (0.95, 0.01, 30.0, "delta"),
        (-0.95, 0.01, 30.0, "delta"),
        (0.5, -1e-9, 30.0, "gamma"),
        (0.5, 0.01, -1.0, "vega"),
        (f64::NAN, 0.01, 30.0, "delta"),
    ] {
        let e = Greeks::new(&c, &m, d, g, v, -5.0, 40.0).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidInput);
        assert!(e.message().contains(field), "{}", e.message());
    }
}

#[test]
fn batch_keeps_order_and_reports_bad_rows() {
    let good = BatchInput {
        kind: OptionKind::Put,
        strike: 105.0,
        expiry: 0.5,
        spot: 100.0,
        rate: 0.03,
        dividend: 0.01,
        vol: 0.3,
    };
    let bad = BatchInput { vol: -0.3, ..good };
    let out = pricing::price_batch(&[good, bad, good]);
    assert_eq!(out.len(), 3);
    let (c, m) = good.validate().unwrap();
    let want = Priced::new(&c, &m).unwrap();
    assert_eq!(out[0].as_ref().unwrap(), &want);
    assert_eq!(out[2].as_ref().unwrap(), &want);
    let e = out[1].as_ref().unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput);
    assert!(
        e.message().starts_with("inputs[1]: ") && e.message().contains("vol"),
        "{}",
        e.message()
    );
    assert!(pricing::price_batch(&[]).is_empty());
}

#[test]
fn premium_is_decimal_money() {
    let c = contract(OptionKind::Call, 100.0, 1.0);
    let m = market(100.0, 0.05, 0.0, 0.2);
    let p = Priced::new(&c, &m).unwrap();
    // The textbook value: 10.450583572185565.
    assert!(
        (p.price - 10.450_583_572_185_565).abs() < 1e-12,
        "{}",
        p.price
    );
    assert_eq!(p.premium(2).unwrap(), Decimal::new(1045, 2));
    assert_eq!(p.premium(4).unwrap(), Decimal::new(104_506, 4));
    let huge = Priced { price: 1e300, ..p };
    assert_eq!(huge.premium(2).unwrap_err().code(), ErrorCode::InvalidInput);
}

#[test]
fn extreme_inputs_are_errors_not_panics() {
    let c = contract(OptionKind::Call, 100.0, 1e3);
    let m = market(100.0, -1e3, 0.0, 0.2);
    let e = Priced::new(&c, &m).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput, "{}", e.message());
    let tiny = contract(OptionKind::Put, 1e300, f64::MIN_POSITIVE);
    let m = market(1e-300, 0.0, 0.0, f64::MIN_POSITIVE);
    let _ = Priced::new(&tiny, &m);
    let _ = pricing::implied_vol(&tiny, &m, 1.0);
}
