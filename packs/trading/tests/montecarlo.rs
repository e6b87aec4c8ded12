//! Monte Carlo against closed forms, with fixed seeds and stated statistical tolerances
//! (several standard errors of the estimate, so a correct engine passes and a wrong drift,
//! variance or correlation fails), reproducibility and bad input as typed errors.

use cadre_core::ErrorCode;
use cadre_pack_trading::montecarlo::{GbmModel, Holding, Simulation, StressScenario};
use cadre_pack_trading::risk;

fn invalid<T: std::fmt::Debug>(r: cadre_core::Result<T>, needle: &str) {
    let e = r.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput, "{}", e.message());
    assert!(e.message().contains(needle), "{needle}: {}", e.message());
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn var(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
}

fn corr(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[test]
fn terminal_moments_match_the_lognormal_closed_forms() {
    let model = GbmModel::new(
        vec![100.0, 40.0],
        vec![0.08, -0.02],
        vec![0.25, 0.5],
        vec![vec![1.0, -0.4], vec![-0.4, 1.0]],
    )
    .unwrap();
    let n = 200_000;
    for (sim, label) in [
        (Simulation::new(n, 1.0, 1), "one step"),
        (Simulation::new(n / 10, 1.0, 2).with_steps(50), "50 steps"),
        (
            Simulation::new(n, 1.0, 3).with_antithetic(true),
            "antithetic",
        ),
    ] {
        let t = model.simulate_terminal(&sim).unwrap();
        for a in 0..2 {
            let x: Vec<f64> = t.iter().map(|p| p[a]).collect();
            let (want_m, want_v) = (model.terminal_mean(a, 1.0), model.terminal_variance(a, 1.0));
            // Standard error of the mean: sd/√n; 4 of them.
            let se = (want_v / x.len() as f64).sqrt();
            let got_m = mean(&x);
            assert!(
                (got_m - want_m).abs() < 4.0 * se,
                "{label} asset {a}: mean {got_m}, want {want_m} ± {}",
                4.0 * se
            );
            // The sample variance of a log-normal is noisy (heavy right tail): 6 % relative
            // at 20 000 paths, σ = 0.5 (about 4 standard errors).
            let got_v = var(&x);
            let tol = if x.len() < n { 0.06 } else { 0.03 };
            assert!(
                (got_v / want_v - 1.0).abs() < tol,
                "{label} asset {a}: variance {got_v}, want {want_v} (±{tol} relative)"
            );
        }
    }
}

#[test]
fn log_returns_follow_the_target_correlation() {
    let c = vec![
        vec![1.0, 0.8, -0.3],
        vec![0.8, 1.0, 0.1],
        vec![-0.3, 0.1, 1.0],
    ];
    let model = GbmModel::new(
        vec![10.0, 20.0, 30.0],
        vec![0.0; 3],
        vec![0.1, 0.2, 0.3],
        c.clone(),
    )
    .unwrap();
    let sim = Simulation::new(2_000, 1.0, 5).with_steps(20);
    let paths = model.simulate(&sim).unwrap();
    let mut r = vec![Vec::new(); 3];
    for p in 0..paths.len() {
        for s in 1..=paths.steps() {
            for (a, out) in r.iter_mut().enumerate() {
                out.push((paths.at(p, s)[a] / paths.at(p, s - 1)[a]).ln());
            }
        }
    }
    // 40 000 returns: the standard error of a correlation is (1 − ρ²)/√n <= 0.005; 0.02 is 4+.
    for i in 0..3 {
        for j in 0..i {
            let got = corr(&r[i], &r[j]);
            assert!(
                (got - c[i][j]).abs() < 0.02,
                "corr[{i}][{j}] = {got}, want {}",
                c[i][j]
            );
        }
    }
    // The per-step volatility is σ·√dt.
    let sd = var(&r[2]).sqrt();
    assert!(
        (sd / (0.3 * (1.0f64 / 20.0).sqrt()) - 1.0).abs() < 0.02,
        "{sd}"
    );
}

#[test]
fn same_seed_same_numbers_other_seed_other_numbers() {
    let model = GbmModel::single(100.0, 0.05, 0.2).unwrap();
    let sim = Simulation::new(1_000, 0.5, 42).with_steps(4);
    let a = model.simulate(&sim).unwrap();
    assert_eq!(a, model.simulate(&sim).unwrap());
    let b = model.simulate(&Simulation { seed: 43, ..sim }).unwrap();
    assert_ne!(a.terminal(0), b.terminal(0));
    let h = [Holding::Quantity(3.0)];
    let p = model.portfolio_pnl(&h, &sim).unwrap();
    assert_eq!(p, model.portfolio_pnl(&h, &sim).unwrap());
    assert_eq!(
        risk::var_monte_carlo(&[0.01, -0.02, 0.005, 0.0], 0.05, 1_000, 9).unwrap(),
        risk::var_monte_carlo(&[0.01, -0.02, 0.005, 0.0], 0.05, 1_000, 9).unwrap()
    );
}

#[test]
fn portfolio_pnl_statistics() {
    let model = GbmModel::new(
        vec![100.0, 50.0],
        vec![0.0, 0.0],
        vec![0.2, 0.3],
        vec![vec![1.0, 0.5], vec![0.5, 1.0]],
    )
    .unwrap();
    let sim = Simulation::new(100_000, 1.0 / 252.0, 8);
    let by_qty = model
        .portfolio_pnl(&[Holding::Quantity(10.0), Holding::Quantity(-4.0)], &sim)
        .unwrap();
    let by_value = model
        .portfolio_pnl(&[Holding::Value(1000.0), Holding::Value(-200.0)], &sim)
        .unwrap();
    assert_eq!(by_qty.initial_value(), 800.0);
    for (a, b) in by_qty.samples().iter().zip(by_value.samples()) {
        assert!((a - b).abs() < 1e-9);
    }
    // Zero drift: E[P&L] = 0; daily σ of the P&L ≈ √(wΣw) with w = (1000, −200) in value.
    let (w1, w2, s1, s2) = (1000.0, -200.0, 0.2 / 252f64.sqrt(), 0.3 / 252f64.sqrt());
    let sd = (w1 * w1 * s1 * s1 + w2 * w2 * s2 * s2 + 2.0 * 0.5 * w1 * w2 * s1 * s2).sqrt();
    let se = sd / (100_000f64).sqrt();
    assert!(by_qty.mean().abs() < 4.0 * se, "{}", by_qty.mean());
    assert!(
        (by_qty.std_dev() / sd - 1.0).abs() < 0.01,
        "{}",
        by_qty.std_dev()
    );
    // Near-normal over a day: VaR 95 % ≈ −1.645·sd, CVaR 95 % ≈ −2.063·sd (2 % tolerance).
    let v = by_qty.var(0.05).unwrap();
    assert!((v / (-1.644_853_6 * sd) - 1.0).abs() < 0.02, "{v}");
    let cv = by_qty.cvar(0.05).unwrap();
    assert!((cv / (-2.062_712_9 * sd) - 1.0).abs() < 0.02, "{cv}");
    assert_eq!(by_qty.percentile(5.0).unwrap(), v);
    let lo = by_qty.percentile(0.0).unwrap();
    assert!(lo <= v && by_qty.percentile(100.0).unwrap() > 0.0);
    let ret = by_qty.returns().unwrap();
    assert!((ret[0] - by_qty.samples()[0] / 800.0).abs() < 1e-15);
    invalid(by_qty.percentile(101.0), "percentile");
}

#[test]
fn monte_carlo_var_converges_to_the_parametric_normal_var() {
    // 2 000 normal daily returns (mean 0.05 %, σ 1 %), seeded.
    let mut rng = fastrand::Rng::with_seed(2026);
    let returns: Vec<f64> = (0..2_000)
        .map(|_| {
            let (u1, u2) = (1.0 - rng.f64(), rng.f64());
            0.0005 + 0.01 * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect();
    for cutoff in [0.05, 0.01, 0.025] {
        let mc = risk::var_monte_carlo(&returns, cutoff, 400_000, 1).unwrap();
        let normal = risk::normal_var(&returns, cutoff).unwrap();
        // Monte Carlo error ~1e-4 at 1 %, plus the log-normal correction s²(z² − 1)/2 ≈ 2e-4.
        assert!(
            (mc - normal).abs() < 5e-4,
            "cutoff {cutoff}: MC {mc}, normal {normal}"
        );
        let mc_c = risk::cvar_monte_carlo(&returns, cutoff, 400_000, 1).unwrap();
        let normal_c = risk::normal_cvar(&returns, cutoff).unwrap();
        assert!(
            (mc_c - normal_c).abs() < 5e-4,
            "cutoff {cutoff}: MC CVaR {mc_c}, normal {normal_c}"
        );
        assert!(mc_c < mc);
    }
}

#[test]
fn stress_scenarios_make_the_tail_worse() {
    let model = GbmModel::new(
        vec![100.0, 100.0],
        vec![0.0, 0.0],
        vec![0.2, 0.2],
        vec![vec![1.0, 0.2], vec![0.2, 1.0]],
    )
    .unwrap();
    let h = [Holding::Value(1_000.0), Holding::Value(1_000.0)];
    let sim = Simulation::new(50_000, 10.0 / 252.0, 4);
    let base = model.portfolio_pnl(&h, &sim).unwrap().var(0.01).unwrap();
    let crash = StressScenario::equity_crash();
    assert!((crash.instantaneous_pnl(&model, &h).unwrap() + 400.0).abs() < 1e-9);
    let stressed = crash.simulate_pnl(&model, &h, &sim).unwrap();
    assert_eq!(stressed.initial_value(), 2_000.0);
    // The crash costs 400 up front, and the tail widens with vol ×2 and correlation 0.9.
    assert!(
        stressed.mean() < -390.0 && stressed.mean() > -410.0,
        "{}",
        stressed.mean()
    );
    let worse = stressed.var(0.01).unwrap();
    assert!(worse < base - 400.0, "stressed {worse}, base {base}");
    let corr_only = StressScenario::correlation_spike()
        .simulate_pnl(&model, &h, &sim)
        .unwrap();
    assert!(corr_only.var(0.01).unwrap() < base);
    let custom = StressScenario::new("my-shock").with_price_shocks(vec![-0.5, 0.1]);
    assert!((custom.instantaneous_pnl(&model, &h).unwrap() + 400.0).abs() < 1e-9);
    assert_eq!(StressScenario::presets().len(), 4);
    assert!(StressScenario::preset("nope").is_none());
}

#[test]
fn bad_inputs_are_typed_errors() {
    let not_psd = vec![
        vec![1.0, 0.9, -0.9],
        vec![0.9, 1.0, 0.9],
        vec![-0.9, 0.9, 1.0],
    ];
    invalid(
        GbmModel::new(vec![1.0; 3], vec![0.0; 3], vec![0.1; 3], not_psd),
        "not positive definite",
    );
    invalid(GbmModel::single(100.0, 0.0, -0.1), "`volatilities[0]`");
    invalid(GbmModel::single(0.0, 0.0, 0.1), "`initial_prices[0]`");
    invalid(GbmModel::single(1.0, f64::NAN, 0.1), "`drifts[0]`");
    invalid(
        GbmModel::new(vec![1.0, 2.0], vec![0.0], vec![0.1, 0.1], vec![vec![1.0]]),
        "`drifts` has 1 values",
    );
    invalid(
        GbmModel::new(vec![1.0, 2.0], vec![0.0; 2], vec![0.1; 2], vec![vec![1.0]]),
        "must be 2x2",
    );
    invalid(
        GbmModel::new(
            vec![1.0, 2.0],
            vec![0.0; 2],
            vec![0.1; 2],
            vec![vec![1.0, 0.5], vec![0.4, 1.0]],
        ),
        "[1][0]",
    );
    let m = GbmModel::single(100.0, 0.0, 0.2).unwrap();
    invalid(m.simulate_terminal(&Simulation::new(0, 1.0, 1)), "`paths`");
    invalid(
        m.simulate_terminal(&Simulation::new(3, 1.0, 1).with_antithetic(true)),
        "even",
    );
    invalid(
        m.simulate_terminal(&Simulation::new(3, 0.0, 1)),
        "`horizon`",
    );
    invalid(
        m.simulate_terminal(&Simulation::new(3, 1.0, 1).with_steps(0)),
        "`steps`",
    );
    invalid(
        m.portfolio_pnl(
            &[Holding::Quantity(1.0), Holding::Quantity(1.0)],
            &Simulation::new(3, 1.0, 1),
        ),
        "`holdings` has 2",
    );
    let two = GbmModel::new(
        vec![1.0, 2.0],
        vec![0.0; 2],
        vec![0.1; 2],
        vec![vec![1.0, 0.0], vec![0.0, 1.0]],
    )
    .unwrap();
    invalid(
        StressScenario::new("bad-corr")
            .with_correlation(1.0)
            .apply(&two),
        "scenario `bad-corr`",
    );
    invalid(
        StressScenario::new("neg")
            .with_vol_multiplier(-1.0)
            .apply(&two),
        "`vol_multiplier`",
    );
    invalid(risk::var_monte_carlo(&[0.01, -1.0], 0.05, 100, 1), "100%");
    invalid(risk::var_monte_carlo(&[0.01, 0.02], 0.05, 1, 1), "`paths`");
    invalid(
        risk::var_monte_carlo(&[0.01, 0.02], 1.5, 100, 1),
        "`cutoff`",
    );
}
