//! Risk statistics against empyrical-reloaded on 1,260 seeded daily returns of four series
//! (`tests/golden/generate_risk.py` writes `tests/golden/risk.json`; see its docstring for the
//! conventions, and which values come from numpy/scipy because empyrical has no such
//! function: parametric VaR/CVaR, Cornish-Fisher, drawdown duration, correlation).
//!
//! Tolerance: 1e-12 relative to the larger magnitude, with an absolute floor (the error is
//! divided by `max(|got|, |want|, 1e-2)`, so values below 0.01 — daily VaRs — compare at
//! 1e-14 absolute). The two sides sum in different orders (numpy pairwise, ours compensated)
//! and the mean return is ~30 times smaller than the returns it sums, so a few 1e-15 relative
//! are expected; observed with empyrical-reloaded 0.7.1: below 1e-14. The drawdown duration
//! must be identical.

use std::collections::BTreeMap;

use cadre_pack_trading::risk::{self, TRADING_DAYS};
use serde::Deserialize;

const RELATIVE_TOLERANCE: f64 = 1e-12;
const FLOOR: f64 = 1e-2;

#[derive(Deserialize)]
struct Golden {
    generator: String,
    periods_per_year: f64,
    risk_free: f64,
    required_return: f64,
    returns: BTreeMap<String, Vec<f64>>,
    results: BTreeMap<String, Results>,
    correlation: Correlation,
}

#[derive(Deserialize)]
struct Tail {
    cutoff: f64,
    historical_var: f64,
    historical_cvar: f64,
    normal_var: f64,
    normal_cvar: f64,
    cornish_fisher_var: f64,
}

#[derive(Deserialize)]
struct Results {
    tails: Vec<Tail>,
    skew: f64,
    excess_kurtosis: f64,
    annual_volatility: f64,
    annual_return: f64,
    sharpe: f64,
    sharpe_rf: f64,
    sortino: f64,
    sortino_required: f64,
    calmar: f64,
    max_drawdown: f64,
    max_drawdown_duration: usize,
    beta: f64,
}

#[derive(Deserialize)]
struct Correlation {
    names: Vec<String>,
    matrix: Vec<Vec<f64>>,
}

fn check(label: &str, got: f64, want: f64) -> f64 {
    assert!(got.is_finite(), "{label}: got {got}");
    let err = (got - want).abs() / got.abs().max(want.abs()).max(FLOOR);
    assert!(
        err <= RELATIVE_TOLERANCE,
        "{label}: got {got}, reference {want} (relative error {err:e})"
    );
    err
}

#[test]
fn risk_matches_empyrical() {
    let g: Golden = serde_json::from_str(include_str!("golden/risk.json")).expect("fixture parses");
    assert!(
        g.generator.starts_with("empyrical-reloaded"),
        "{}",
        g.generator
    );
    assert_eq!(g.periods_per_year, TRADING_DAYS);
    let ppy = g.periods_per_year;
    let bench = &g.returns["benchmark"];
    let mut worst = 0.0f64;
    let mut checked = 0;
    for (name, want) in &g.results {
        let r = &g.returns[name];
        assert_eq!(r.len(), 1260);
        let mut c = |what: &str, got: f64, want: f64| {
            worst = worst.max(check(&format!("{name} {what}"), got, want));
            checked += 1;
        };
        for t in &want.tails {
            let k = t.cutoff;
            c(
                &format!("historical VaR {k}"),
                risk::historical_var(r, k).unwrap(),
                t.historical_var,
            );
            c(
                &format!("historical CVaR {k}"),
                risk::historical_cvar(r, k).unwrap(),
                t.historical_cvar,
            );
            c(
                &format!("normal VaR {k}"),
                risk::normal_var(r, k).unwrap(),
                t.normal_var,
            );
            c(
                &format!("normal CVaR {k}"),
                risk::normal_cvar(r, k).unwrap(),
                t.normal_cvar,
            );
            c(
                &format!("Cornish-Fisher VaR {k}"),
                risk::cornish_fisher_var(r, k).unwrap(),
                t.cornish_fisher_var,
            );
        }
        c("skew", risk::skewness(r).unwrap(), want.skew);
        c(
            "excess kurtosis",
            risk::excess_kurtosis(r).unwrap(),
            want.excess_kurtosis,
        );
        c(
            "annual volatility",
            risk::annual_volatility(r, ppy).unwrap(),
            want.annual_volatility,
        );
        c(
            "annual return",
            risk::annual_return(r, ppy).unwrap(),
            want.annual_return,
        );
        c("sharpe", risk::sharpe(r, 0.0, ppy).unwrap(), want.sharpe);
        c(
            "sharpe rf",
            risk::sharpe(r, g.risk_free, ppy).unwrap(),
            want.sharpe_rf,
        );
        c("sortino", risk::sortino(r, 0.0, ppy).unwrap(), want.sortino);
        c(
            "sortino required",
            risk::sortino(r, g.required_return, ppy).unwrap(),
            want.sortino_required,
        );
        c("calmar", risk::calmar(r, ppy).unwrap(), want.calmar);
        c(
            "max drawdown",
            risk::max_drawdown(r).unwrap(),
            want.max_drawdown,
        );
        c("beta", risk::beta(r, bench).unwrap(), want.beta);
        assert_eq!(
            risk::max_drawdown_duration(r).unwrap(),
            want.max_drawdown_duration,
            "{name} drawdown duration"
        );
    }
    let series: Vec<&[f64]> = g
        .correlation
        .names
        .iter()
        .map(|n| g.returns[n].as_slice())
        .collect();
    let m = risk::correlation_matrix(&series).unwrap();
    for (i, row) in g.correlation.matrix.iter().enumerate() {
        for (j, &want) in row.iter().enumerate() {
            worst = worst.max(check(&format!("correlation[{i}][{j}]"), m[i][j], want));
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
    assert!(worst <= RELATIVE_TOLERANCE, "{worst:e}");
}
