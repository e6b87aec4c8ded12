//! Portfolio optimisation: invariants on seeded random panels (proptest), typed errors for bad
//! inputs and infeasible targets, and the rebalancing decision.

use cadre_core::ErrorCode;
use cadre_pack_trading::portfolio::{
    Covariance, Group, HoldReason, Optimizer, Rebalance, RebalancePolicy, ReturnMethod, Utility,
    expected_returns, ledoit_wolf, rebalance, returns_from_prices, sample_cov,
};
use proptest::prelude::*;

/// Tolerance of the solver's feasibility (Clarabel's defaults are 1e-8).
const FEASIBILITY: f64 = 1e-6;

/// A seeded panel: `assets` random walks of `prices` prices with a common factor.
fn panel(seed: u64, assets: usize, prices: usize) -> Vec<Vec<f64>> {
    let mut rng = fastrand_like(seed);
    let market: Vec<f64> = (0..prices).map(|_| rng() * 0.02).collect();
    (0..assets)
        .map(|a| {
            let drift = 0.0002 * (a as f64 % 7.0) - 0.0003;
            let beta = 0.3 + (a % 5) as f64 * 0.2;
            let mut p = 50.0 + a as f64;
            (0..prices)
                .map(|t| {
                    let r = drift + beta * market[t] + rng() * 0.015;
                    p *= 1.0 + r;
                    p
                })
                .collect()
        })
        .collect()
}

/// A tiny seeded generator of roughly standard normal numbers (sum of uniforms), so the tests
/// need no RNG crate of their own.
fn fastrand_like(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    move || {
        let mut total = 0.0;
        for _ in 0..12 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            total += (state >> 11) as f64 / (1u64 << 53) as f64;
        }
        total - 6.0
    }
}

fn setup(seed: u64, assets: usize, prices: usize, shrink: bool) -> Optimizer {
    let returns = returns_from_prices(&panel(seed, assets, prices)).expect("returns");
    let mu = expected_returns(&returns, ReturnMethod::Compounded, 252.0).expect("mu");
    let cov = if shrink {
        ledoit_wolf(&returns, 252.0)
    } else {
        sample_cov(&returns, 252.0)
    }
    .expect("cov");
    Optimizer::new(mu, cov).expect("optimizer")
}

fn assert_feasible(what: &str, w: &[f64], lo: f64, hi: f64) {
    let sum: f64 = w.iter().sum();
    assert!(
        (sum - 1.0).abs() < FEASIBILITY,
        "{what}: weights sum to {sum}"
    );
    for (i, x) in w.iter().enumerate() {
        assert!(
            *x >= lo - FEASIBILITY && *x <= hi + FEASIBILITY,
            "{what}: weight {i} = {x} outside [{lo}, {hi}]"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn weights_are_feasible_and_min_vol_is_lowest(
        seed in 1u64..1_000_000,
        assets in 3usize..12,
        upper_pct in 40u32..101,
        shrink in any::<bool>(),
    ) {
        let upper = f64::from(upper_pct) / 100.0;
        let opt = setup(seed, assets, 120, shrink).with_bounds(0.0, upper).expect("bounds");
        let min_vol = opt.min_volatility().expect("min volatility");
        assert_feasible("min volatility", &min_vol.weights, 0.0, upper);
        let frontier = opt.frontier(6).expect("frontier");
        for (i, p) in frontier.iter().enumerate() {
            assert_feasible(&format!("frontier {i}"), &p.weights, 0.0, upper);
            prop_assert!(p.volatility >= min_vol.volatility - 1e-7,
                "frontier point {} has volatility {} below the minimum {}",
                i, p.volatility, min_vol.volatility);
        }
        for pair in frontier.windows(2) {
            prop_assert!(pair[1].expected_return >= pair[0].expected_return - 1e-7);
            prop_assert!(pair[1].volatility >= pair[0].volatility - 1e-7);
        }
        if opt.max_return().expect("max return") > 1e-6 {
            let best = opt.max_sharpe(0.0).expect("max Sharpe");
            assert_feasible("max Sharpe", &best.weights, 0.0, upper);
            for p in frontier.iter().chain(std::iter::once(&min_vol)) {
                prop_assert!(best.sharpe(0.0) >= p.sharpe(0.0) - 1e-6,
                    "max Sharpe {} below a frontier point's {}", best.sharpe(0.0), p.sharpe(0.0));
            }
        }
    }

    #[test]
    fn box_and_group_constraints_hold(seed in 1u64..1_000_000) {
        let opt = setup(seed, 9, 150, true)
            .with_bounds(0.02, 0.3).expect("bounds")
            .with_group(Group { name: "first".into(), assets: vec![0, 1, 2], lower: 0.4, upper: 0.6 })
            .expect("group")
            .with_group(Group { name: "last".into(), assets: vec![6, 7, 8], lower: 0.0, upper: 0.2 })
            .expect("group");
        for p in [opt.min_volatility().expect("min vol"), opt.efficient_risk(0.5).expect("risk")] {
            assert_feasible("boxed", &p.weights, 0.02, 0.3);
            let first: f64 = p.weights[..3].iter().sum();
            let last: f64 = p.weights[6..].iter().sum();
            prop_assert!((0.4 - FEASIBILITY..=0.6 + FEASIBILITY).contains(&first), "first {}", first);
            prop_assert!(last <= 0.2 + FEASIBILITY, "last {}", last);
        }
    }
}

#[test]
fn efficient_risk_meets_its_target_and_return_its_floor() {
    let opt = setup(7, 8, 300, false);
    let min_vol = opt.min_volatility().expect("min vol");
    let target = min_vol.volatility * 1.5;
    let p = opt.efficient_risk(target).expect("efficient risk");
    assert!(p.volatility <= target + 1e-6, "{} > {target}", p.volatility);
    assert!(p.expected_return >= min_vol.expected_return - 1e-9);
    let max = opt.max_return().expect("max return");
    let goal = (min_vol.expected_return + max) / 2.0;
    let q = opt.efficient_return(goal).expect("efficient return");
    assert!(q.expected_return >= goal - 1e-6);
}

fn invalid<T: std::fmt::Debug>(r: cadre_core::Result<T>, needle: &str) {
    let err = r.expect_err("should fail");
    assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
    assert!(
        err.message().contains(needle),
        "`{err}` should mention `{needle}`"
    );
}

#[test]
fn bad_inputs_are_typed_errors() {
    let returns = returns_from_prices(&panel(3, 4, 50)).expect("returns");
    let cov = sample_cov(&returns, 252.0).expect("cov");
    invalid(
        Optimizer::new(vec![0.1; 3], cov.clone()),
        "asset count mismatch",
    );
    invalid(
        Optimizer::new(vec![0.1, f64::NAN, 0.1, 0.1], cov.clone()),
        "index 1",
    );
    invalid(
        Covariance::from_matrix(2, vec![1.0, 2.0, 2.0, 1.0]),
        "not positive definite",
    );
    invalid(
        Covariance::from_matrix(2, vec![1.0, 0.1, 0.2, 1.0]),
        "not symmetric",
    );
    invalid(
        Covariance::from_matrix(2, vec![1.0, 0.0, 0.0]),
        "expected 2 × 2",
    );
    invalid(
        Covariance::from_matrix(2, vec![1.0, f64::NAN, f64::NAN, 1.0]),
        "not finite",
    );
    let mut prices = panel(3, 2, 10);
    prices[1][4] = f64::NAN;
    invalid(returns_from_prices(&prices), "asset 1, index 4");
    prices[1].pop();
    invalid(returns_from_prices(&prices), "asset 1 has 9 prices");
    invalid(sample_cov(&returns, 0.0), "frequency");
    let opt = Optimizer::new(vec![0.1, 0.2, 0.05, 0.0], cov).expect("optimizer");
    invalid(opt.clone().with_bounds(0.3, 1.0), "infeasible");
    invalid(opt.clone().with_bounds(0.5, 0.1), "lower <= upper");
    invalid(
        opt.clone().with_group(Group {
            name: "x".into(),
            assets: vec![9],
            lower: 0.0,
            upper: 1.0,
        }),
        "out of range",
    );
    invalid(opt.max_sharpe(0.5), "risk-free");
    invalid(opt.efficient_return(0.5), "maximum expected return");
    invalid(opt.efficient_risk(1e-6), "minimum volatility");
    invalid(opt.frontier(1), "points");
    // Groups that contradict each other: caught by the solver as infeasible.
    let clash = opt
        .clone()
        .with_group(Group {
            name: "a".into(),
            assets: vec![0, 1],
            lower: 0.8,
            upper: 1.0,
        })
        .expect("group")
        .with_group(Group {
            name: "b".into(),
            assets: vec![2, 3],
            lower: 0.5,
            upper: 1.0,
        })
        .expect("group");
    invalid(clash.min_volatility(), "infeasible");
}

#[test]
fn rebalancing_holds_within_band_and_when_cost_exceeds_benefit() {
    let policy = RebalancePolicy {
        absolute: Some(0.05),
        relative: None,
        cost_bps: 10.0,
    };
    let target = [0.5, 0.3, 0.2];
    assert_eq!(
        rebalance(&[0.53, 0.28, 0.19], &target, &policy, None).expect("decision"),
        Rebalance::Hold(HoldReason::WithinBand)
    );
    let Rebalance::Trade {
        trades,
        turnover,
        cost,
        benefit,
        drifted,
    } = rebalance(&[0.58, 0.26, 0.16], &target, &policy, None).expect("decision")
    else {
        panic!("expected trades");
    };
    assert_eq!(drifted, vec![0]);
    assert_eq!(trades.len(), 3);
    assert!((trades[0].delta() + 0.08).abs() < 1e-12);
    assert!((turnover - 0.16).abs() < 1e-12);
    assert!((cost - 0.16 * 10.0 / 10_000.0).abs() < 1e-15);
    assert_eq!(benefit, None);
    // Relative band: 0.2 → 0.15 is a 25% drift.
    let relative = RebalancePolicy {
        absolute: None,
        relative: Some(0.2),
        cost_bps: 0.0,
    };
    assert!(matches!(
        rebalance(&[0.5, 0.35, 0.15], &target, &relative, None).expect("decision"),
        Rebalance::Trade { ref drifted, .. } if drifted == &vec![2]
    ));
    // Cost against utility: a tiny improvement does not pay 100 bps, a large one does.
    let cov = Covariance::from_matrix(3, vec![0.04, 0.0, 0.0, 0.0, 0.09, 0.0, 0.0, 0.0, 0.16])
        .expect("cov");
    let mu = [0.06, 0.08, 0.1];
    let utility = Utility {
        expected_returns: &mu,
        covariance: &cov,
        risk_aversion: 3.0,
    };
    let costly = RebalancePolicy {
        absolute: Some(0.01),
        relative: None,
        cost_bps: 100.0,
    };
    match rebalance(&[0.52, 0.29, 0.19], &target, &costly, Some(&utility)).expect("decision") {
        Rebalance::Hold(HoldReason::CostExceedsBenefit { cost, benefit }) => {
            assert!(cost > benefit, "{cost} <= {benefit}");
            assert!((cost - 0.04 * 0.01).abs() < 1e-15);
        }
        other => panic!("expected a hold on cost, got {other:?}"),
    }
    match rebalance(&[0.0, 0.0, 1.0], &target, &costly, Some(&utility)).expect("decision") {
        Rebalance::Trade { benefit, cost, .. } => {
            let benefit = benefit.expect("benefit");
            // U(target) = 0.074 − 1.5·0.0245, U(current) = 0.1 − 1.5·0.16
            assert!((benefit - ((0.074 - 1.5 * 0.0245) - (0.1 - 1.5 * 0.16))).abs() < 1e-12);
            assert!((cost - 1.6 * 0.01).abs() < 1e-12);
        }
        other => panic!("unexpected {other:?}"),
    }
    invalid(
        rebalance(&[0.5, 0.5], &target, &policy, None),
        "asset count mismatch",
    );
    invalid(
        rebalance(
            &[0.5, 0.3, 0.2],
            &target,
            &RebalancePolicy {
                absolute: Some(-1.0),
                relative: None,
                cost_bps: 0.0,
            },
            None,
        ),
        "absolute",
    );
}
