//! Portfolio optimisation: invariants on seeded random panels (proptest), typed errors for bad
//! inputs and infeasible targets, and the rebalancing decision.

use cadre_core::ErrorCode;
use cadre_pack_trading::portfolio::{
    Covariance, Group, HoldReason, Method, Optimizer, Portfolio, Rebalance, RebalancePolicy,
    ReturnMethod, Utility, expected_returns, ledoit_wolf, rebalance, returns_from_prices,
    sample_cov,
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
    #![proptest_config(ProptestConfig {
        cases: 24,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x9E77),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

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
        // The targets rise from the min-volatility return to the maximum return less 1e-4;
        // when the bounds leave less room than that (e.g. three assets capped at 44 %), every
        // point is the min-volatility portfolio and the order is the solver's rounding.
        let max = opt.max_return().expect("max return");
        if max - 1e-4 > min_vol.expected_return {
            for pair in frontier.windows(2) {
                prop_assert!(pair[1].expected_return >= pair[0].expected_return - 1e-7);
                prop_assert!(pair[1].volatility >= pair[0].volatility - 1e-7);
            }
        }
        if max > 1e-6 {
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

/// The working set's answer is the full problem's to Clarabel's tolerance: its duality gap
/// is below 1e-8 (absolute or relative), so the two objectives agree within
/// `OBJECTIVE_ABS + OBJECTIVE_REL·|f|`. The weights agree to what that gap allows along the
/// flat directions of these nearly singular covariances (more assets than returns, or close):
/// up to ~1e-4 on these panels, observed ≤ 9.3e-5, so `SAME_WEIGHTS` is the golden tests'
/// tolerance against PyPortfolioOpt, doubled.
const OBJECTIVE_ABS: f64 = 1e-7;
const OBJECTIVE_REL: f64 = 1e-6;
const SAME_WEIGHTS: f64 = 2e-4;

/// The objective each problem minimises, from a portfolio.
#[derive(Clone, Copy)]
enum Goal {
    /// `wᵀΣw`.
    Variance,
    /// `1/Sharpe²` (max Sharpe's `vᵀΣv` at `(μ − r_f)ᵀv = 1`, r_f = 0).
    InverseSharpeSquared,
    /// `−μᵀw`.
    NegativeReturn,
}

fn objective(goal: Goal, p: &Portfolio) -> f64 {
    match goal {
        Goal::Variance => p.volatility * p.volatility,
        Goal::InverseSharpeSquared => 1.0 / (p.sharpe(0.0) * p.sharpe(0.0)),
        Goal::NegativeReturn => -p.expected_return,
    }
}

fn assert_same(what: &str, goal: Goal, got: &Portfolio, full: &Portfolio) {
    let (g, f) = (objective(goal, got), objective(goal, full));
    assert!(
        (g - f).abs() <= OBJECTIVE_ABS + OBJECTIVE_REL * f.abs(),
        "{what}: objective {g:e} with the working set, {f:e} with the full solve"
    );
    assert_feasible(what, &got.weights, -1.0, 1.0);
    for (i, (g, f)) in got.weights.iter().zip(&full.weights).enumerate() {
        assert!(
            (g - f).abs() <= SAME_WEIGHTS,
            "{what}: weight {i}: working set {g}, full solve {f} (difference {:e})",
            (g - f).abs()
        );
    }
}

/// Every objective through `opt`'s method against the full solve.
fn compare_with_full(what: &str, opt: &Optimizer) {
    let full = opt.clone().with_method(Method::Full).expect("method");
    let min_vol = opt.min_volatility().expect("min vol");
    let full_min_vol = full.min_volatility().expect("min vol");
    assert_same(
        &format!("{what} min vol"),
        Goal::Variance,
        &min_vol,
        &full_min_vol,
    );
    let max = full.max_return().expect("max return");
    if max > 1e-3 {
        assert_same(
            &format!("{what} max Sharpe"),
            Goal::InverseSharpeSquared,
            &opt.max_sharpe(0.0).expect("max Sharpe"),
            &full.max_sharpe(0.0).expect("max Sharpe"),
        );
    }
    for f in [0.3, 0.9] {
        let target = full_min_vol.expected_return + f * (max - full_min_vol.expected_return);
        assert_same(
            &format!("{what} efficient return {target}"),
            Goal::Variance,
            &opt.efficient_return(target).expect("efficient return"),
            &full.efficient_return(target).expect("efficient return"),
        );
    }
    let risk = full_min_vol.volatility * 1.3;
    assert_same(
        &format!("{what} efficient risk {risk}"),
        Goal::NegativeReturn,
        &opt.efficient_risk(risk).expect("efficient risk"),
        &full.efficient_risk(risk).expect("efficient risk"),
    );
    // The frontier's targets start at its own min-volatility return: each point against the
    // full solve at the same target.
    let points = 5;
    let frontier = opt.frontier(points).expect("frontier");
    let (lo, hi) = (min_vol.expected_return, max - 1e-4);
    for (i, p) in frontier.iter().enumerate() {
        let target = if i + 1 == points {
            hi
        } else {
            lo + (hi - lo) / (points - 1) as f64 * i as f64
        };
        assert!(
            p.expected_return >= target - FEASIBILITY,
            "{what}: frontier {i} below target"
        );
        assert_same(
            &format!("{what} frontier {i}"),
            Goal::Variance,
            p,
            &full.efficient_return(target).expect("efficient return"),
        );
    }
}

#[test]
fn working_set_equals_the_full_solve() {
    // 80 assets: fewer periods than assets (the factored form) and more (the Cholesky form).
    for (seed, prices, shrink) in [(11, 60, true), (12, 60, false), (13, 200, true)] {
        let opt = setup(seed, 80, prices, shrink);
        assert_eq!(*opt.method(), Method::Auto, "the default");
        let opt = opt.with_method(Method::WorkingSet).expect("method");
        compare_with_full(&format!("seed {seed}"), &opt);
        let boxed = opt
            .clone()
            .with_bounds(0.0, 0.05)
            .expect("bounds")
            .with_group(Group {
                name: "forced".into(),
                assets: (60..80).collect(),
                lower: 0.25,
                upper: 0.5,
            })
            .expect("group")
            .with_group(Group {
                name: "capped".into(),
                assets: (0..30).collect(),
                lower: 0.0,
                upper: 0.3,
            })
            .expect("group");
        compare_with_full(&format!("seed {seed} boxed"), &boxed);
    }
}

#[test]
fn active_set_equals_the_full_solve() {
    // Fewer periods than assets: the factored form with Ledoit-Wolf's positive diagonal (the
    // Woodbury solve); `Auto` takes the active set from 64 assets. The boxed panel's max Sharpe and
    // the group panel (and efficient risk everywhere) fall back to the working set, which
    // must give the full solution as well.
    // More periods than assets, or a sample covariance: the dense path (a Cholesky
    // factorisation of the free block of Σ).
    for (seed, assets, prices, shrink) in [
        (31, 80, 60, true),
        (32, 120, 40, true),
        (33, 70, 69, true),
        (35, 70, 200, true),
        (36, 66, 150, false),
    ] {
        let opt = setup(seed, assets, prices, shrink);
        compare_with_full(
            &format!("active set, seed {seed}"),
            &opt.clone().with_method(Method::ActiveSet).expect("method"),
        );
        compare_with_full(&format!("auto, seed {seed}"), &opt);
        let boxed = opt
            .clone()
            .with_bounds(0.0, 0.05)
            .expect("bounds")
            .with_method(Method::ActiveSet)
            .expect("method");
        compare_with_full(&format!("active set boxed, seed {seed}"), &boxed);
        let floor = opt
            .clone()
            .with_bounds(0.002, 0.5)
            .expect("bounds")
            .with_method(Method::ActiveSet)
            .expect("method");
        compare_with_full(&format!("active set floor, seed {seed}"), &floor);
    }
    // A warm start that holds none of the solution.
    let opt = setup(34, 90, 50, true);
    let held = opt.clone().with_method(Method::Full).expect("method");
    let held = held.min_volatility().expect("min vol").weights;
    let wrong: Vec<usize> = (0..90).filter(|&i| held[i] < 1e-7).take(30).collect();
    compare_with_full(
        "active set, wrong warm start",
        &opt.with_method(Method::WarmStart(wrong)).expect("method"),
    );
}

#[test]
fn a_wrong_warm_start_still_reaches_the_full_solution() {
    let opt = setup(21, 80, 60, true);
    // The 40 assets the unconstrained long-only solutions do not want: start from those.
    let full = opt.clone().with_method(Method::Full).expect("method");
    let held = full.min_volatility().expect("min vol").weights;
    let wrong: Vec<usize> = (0..80).filter(|&i| held[i] < 1e-7).take(40).collect();
    assert!(wrong.len() >= 10, "a start with no asset of the solution");
    let warm = opt.with_method(Method::WarmStart(wrong)).expect("method");
    compare_with_full("wrong warm start", &warm);
    // A warm start with one asset, under a per-asset cap of 5 %: the loop must add the rest.
    let capped = setup(22, 80, 60, true)
        .with_bounds(0.0, 0.05)
        .expect("bounds");
    let one = capped
        .clone()
        .with_method(Method::WarmStart(vec![3]))
        .expect("method");
    compare_with_full("one-asset warm start", &one);
    invalid(
        capped.with_method(Method::WarmStart(vec![80])),
        "out of range",
    );
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
