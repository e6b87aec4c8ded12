//! `risk` without a reference library: known values, the normal quantile, undefined
//! statistics and bad input as errors naming the field.

use cadre_core::ErrorCode;
use cadre_pack_trading::risk::{self, TRADING_DAYS};

fn invalid(r: cadre_core::Result<impl std::fmt::Debug>, field: &str) {
    let e = r.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput, "{}", e.message());
    assert!(e.message().contains(field), "{field}: {}", e.message());
}

#[test]
fn normal_quantile_inverts_the_cdf() {
    // Reference values of Φ⁻¹ (scipy.stats.norm.ppf).
    for (p, z) in [
        (0.5, 0.0),
        (0.975, 1.959_963_984_540_054),
        (0.05, -1.644_853_626_951_472_2),
        (0.01, -2.326_347_874_040_841),
        (1e-10, -6.361_340_902_404_056),
    ] {
        let got = risk::normal_quantile(p).unwrap();
        assert!(
            (got - z).abs() <= 1e-14 * z.abs().max(1.0),
            "p {p}: {got}, want {z}"
        );
    }
    for p in [0.0, 1.0, -0.1, f64::NAN] {
        invalid(risk::normal_quantile(p), "`p`");
    }
}

#[test]
fn known_values() {
    let r = [0.1, -0.2, 0.05, 0.1, -0.05];
    // Wealth 1.1, 0.88, 0.924, 1.0164, 0.96558: peak 1.1, trough 0.88.
    assert!((risk::max_drawdown(&r).unwrap() + 0.2).abs() < 1e-15);
    assert_eq!(risk::max_drawdown_duration(&r).unwrap(), 4);
    assert_eq!(risk::max_drawdown_duration(&[0.01, 0.02]).unwrap(), 0);
    assert_eq!(risk::max_drawdown(&[0.01, 0.02]).unwrap(), 0.0);
    // Sorted: -0.2, -0.05, 0.05, 0.1, 0.1; position 4·0.25 = 1.
    assert_eq!(risk::historical_var(&r, 0.25).unwrap(), -0.05);
    assert!((risk::historical_var(&r, 0.125).unwrap() + 0.125).abs() < 1e-15);
    assert!((risk::historical_cvar(&r, 0.25).unwrap() + 0.125).abs() < 1e-15);
    let twice: Vec<f64> = r.iter().map(|x| 2.0 * x).collect();
    assert!((risk::beta(&twice, &r).unwrap() - 2.0).abs() < 1e-14);
    let m = risk::correlation_matrix(&[&r, &twice]).unwrap();
    assert_eq!(m, vec![vec![1.0, 1.0], vec![1.0, 1.0]]);
    let neg: Vec<f64> = r.iter().map(|x| -x).collect();
    assert_eq!(risk::correlation_matrix(&[&r, &neg]).unwrap()[0][1], -1.0);
    // A year of 1% a day compounds to 1.01^252.
    let up = [0.01; 252];
    let cagr = risk::annual_return(&up, TRADING_DAYS).unwrap();
    assert!((cagr - (1.01f64.powi(252) - 1.0)).abs() < 1e-12, "{cagr}");
    // A total loss is allowed and gives -100%.
    assert_eq!(risk::max_drawdown(&[0.1, -1.0]).unwrap(), -1.0);
}

#[test]
fn undefined_statistics_are_errors() {
    let flat = [0.01; 10];
    invalid(risk::sharpe(&flat, 0.0, TRADING_DAYS), "standard deviation");
    invalid(risk::sortino(&flat, 0.0, TRADING_DAYS), "downside");
    invalid(risk::calmar(&flat, TRADING_DAYS), "drawdown");
    invalid(risk::beta(&[0.1, 0.2, 0.3], &[0.01; 3]), "`benchmark`");
    invalid(risk::skewness(&flat), "variance");
    invalid(risk::cornish_fisher_var(&flat, 0.05), "variance");
    invalid(
        risk::correlation_matrix(&[&[0.1, 0.2], &[0.3, 0.3]]),
        "series[1]",
    );
}

#[test]
fn bad_inputs_name_the_field() {
    let r = [0.01, -0.02, 0.03];
    invalid(risk::historical_var(&[], 0.05), "`returns`");
    invalid(risk::historical_var(&r, 0.0), "`cutoff`");
    invalid(risk::historical_cvar(&r, 1.0), "`cutoff`");
    invalid(risk::normal_var(&r, f64::NAN), "`cutoff`");
    invalid(risk::normal_cvar(&[0.01], 0.05), "`returns`");
    invalid(risk::normal_var(&[0.01, f64::NAN], 0.05), "index 1");
    invalid(risk::annual_volatility(&r, 0.0), "`periods_per_year`");
    invalid(risk::sharpe(&r, f64::INFINITY, 252.0), "`risk_free`");
    invalid(risk::sortino(&r, f64::NAN, 252.0), "`required_return`");
    invalid(risk::annual_return(&[0.1, -1.5], 252.0), "index 1");
    invalid(risk::max_drawdown(&[]), "`returns`");
    invalid(risk::beta(&r, &[0.01, 0.02]), "`benchmark`");
    invalid(risk::correlation_matrix(&[]), "`series`");
    invalid(risk::correlation_matrix(&[&r, &[0.01, 0.02]]), "series[1]");
}
