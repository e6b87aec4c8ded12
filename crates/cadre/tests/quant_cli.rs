//! `cadre quant indicators` end to end: column names, warm-up rows, formats, bad input.

mod common;

use common::{cadre, text};

fn ohlcv(rows: usize) -> String {
    let mut out = String::from("date,open,high,low,close,volume\n");
    let mut price = 100.0_f64;
    for i in 0..rows {
        // A deterministic zig-zag with a drift, valid OHLC.
        let close = price * (1.0 + if i % 3 == 0 { -0.011 } else { 0.008 });
        let (hi, lo) = (price.max(close) * 1.002, price.min(close) * 0.998);
        let day =
            chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(i as u64);
        out.push_str(&format!(
            "{day},{price:.4},{hi:.4},{lo:.4},{close:.4},{}\n",
            1000 + i * 7
        ));
        price = close;
    }
    out
}

#[test]
fn indicators_print_named_columns_with_ta_lib_warm_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spy.csv"), ohlcv(80)).unwrap();
    let out = cadre(
        &[
            "quant",
            "indicators",
            "spy.csv",
            "--rsi",
            "14",
            "--macd",
            "12,26,9",
            "--bbands",
            "20,2",
            "--atr",
            "14",
            "--format",
            "csv",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "date,close,rsi_14,macd,macd_signal,macd_hist,bb_upper,bb_middle,bb_lower,atr_14"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 80);
    let first_value = |col: usize| rows.iter().position(|r| !r[col].is_empty()).unwrap();
    assert_eq!(first_value(2), 14, "RSI(14): TA-Lib's lookback is 14");
    assert_eq!(first_value(3), 33, "MACD(12,26,9): lookback 33");
    assert_eq!(first_value(6), 19, "BBANDS(20): lookback 19");
    assert_eq!(first_value(9), 14, "ATR(14): lookback 14");
    let upper: f64 = rows[50][6].parse().unwrap();
    let middle: f64 = rows[50][7].parse().unwrap();
    let lower: f64 = rows[50][8].parse().unwrap();
    assert!(upper > middle && middle > lower);
    assert!(((upper - middle) - (middle - lower)).abs() < 1e-5);

    let out = cadre(
        &[
            "quant",
            "indicators",
            "spy.csv",
            "--sma",
            "5",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 80);
    assert!(rows[3]["sma_5"].is_null());
    assert!(rows[4]["sma_5"].is_number());

    let out = cadre(
        &["quant", "indicators", "spy.csv", "--obv", "--tail", "3"],
        dir.path(),
    );
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).lines().count(),
        4,
        "a header and three rows"
    );
}

#[test]
fn bad_files_and_flags_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.csv"),
        "date,open,high,low,close,volume\n2024-01-01,1,1,1,1,1\n2024-01-02,1,0.5,1,1,1\n",
    )
    .unwrap();
    let out = cadre(
        &["quant", "indicators", "bad.csv", "--rsi", "14"],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("bad.csv:3"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(dir.path().join("ok.csv"), ohlcv(10)).unwrap();
    let out = cadre(
        &["quant", "indicators", "ok.csv", "--macd", "12,26"],
        dir.path(),
    );
    assert!(
        text(&out.stderr).contains("--macd `12,26`"),
        "{}",
        text(&out.stderr)
    );
    let out = cadre(&["quant", "indicators", "ok.csv", "--rsi", "0"], dir.path());
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--rsi"), "{}", text(&out.stderr));
    let out = cadre(
        &["quant", "indicators", "missing.csv", "--rsi", "3"],
        dir.path(),
    );
    assert!(
        text(&out.stderr).contains("missing.csv"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bench_indicators_reports_every_indicator() {
    let dir = tempfile::tempdir().unwrap();
    let out = cadre(
        &[
            "bench",
            "indicators",
            "--points",
            "5000",
            "--repeat",
            "1",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = r["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "sma_20",
            "ema_20",
            "wma_20",
            "rsi_14",
            "macd_12_26_9",
            "bbands_20_2",
            "atr_14",
            "stoch_5_3_3",
            "obv",
            "vwap"
        ]
    );
    assert!(
        r["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["points_per_s"].as_f64().unwrap() > 0.0)
    );
}

#[test]
fn options_are_priced_with_greeks_and_implied_vol() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("opts.csv"),
        "type,spot,strike,expiry_years,rate,dividend,volatility,price\n\
         call,100,100,1,0.05,0.02,0.2,\n\
         put,100,90,0.5,0.03,0,,2.5\n\
         call,100,-5,1,0.05,0,0.2,\n",
    )
    .unwrap();
    let out = cadre(
        &["quant", "price", "opts.csv", "--format", "json"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "a bad row makes the exit 1");
    assert!(
        text(&out.stderr).contains("opts.csv:4"),
        "{}",
        text(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "the good rows are still printed");
    // Black-Scholes-Merton, S = K = 100, T = 1, r = 5 %, q = 2 %, σ = 20 %.
    let call = &rows[0];
    assert!(
        (call["price"].as_f64().unwrap() - 9.227_006).abs() < 1e-5,
        "{call}"
    );
    assert!(
        (call["delta"].as_f64().unwrap() - 0.586_851).abs() < 1e-5,
        "{call}"
    );
    assert!(call["iv"].is_null());
    // The implied volatility reproduces the market price.
    let put = &rows[1];
    assert!((put["price"].as_f64().unwrap() - 2.5).abs() < 1e-8, "{put}");
    assert!(
        put["iv"].as_f64().unwrap() > 0.2 && put["iv"].as_f64().unwrap() < 0.3,
        "{put}"
    );
}

#[test]
fn risk_statistics_per_series() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("date,a,b\n");
    for i in 0..100 {
        let a = if i == 10 {
            -0.5
        } else if i % 2 == 0 {
            0.01
        } else {
            -0.004
        };
        let b = if i % 5 == 0 { -0.02 } else { 0.006 };
        csv.push_str(&format!("2024-01-{i:03},{a},{b}\n"));
    }
    std::fs::write(dir.path().join("r.csv"), csv).unwrap();
    let out = cadre(
        &[
            "quant", "risk", "r.csv", "--var", "0.95", "--format", "json",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["series"], "a");
    assert_eq!(rows[0]["observations"], 100);
    assert!(
        rows[0]["max_drawdown"].as_f64().unwrap() <= -0.5,
        "{}",
        rows[0]
    );
    assert!(
        rows[0]["var_95"].as_f64().unwrap() < 0.0,
        "a loss is negative"
    );
    for key in [
        "sharpe",
        "sortino",
        "calmar",
        "volatility",
        "cvar_95",
        "var_95_normal",
        "var_95_cf",
    ] {
        assert!(rows[1][key].is_number(), "{key}: {}", rows[1]);
    }
    let out = cadre(&["quant", "risk", "r.csv", "--var", "1.5"], dir.path());
    assert!(text(&out.stderr).contains("--var"), "{}", text(&out.stderr));
}

#[test]
fn bench_pricing_prices_every_option() {
    let dir = tempfile::tempdir().unwrap();
    let out = cadre(
        &[
            "bench",
            "pricing",
            "--options",
            "20000",
            "--repeat",
            "1",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["options"], 20000);
    assert!(r["options_per_s"].as_f64().unwrap() > 0.0);
}
