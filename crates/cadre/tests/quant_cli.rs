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
