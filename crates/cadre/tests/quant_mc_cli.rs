//! `cadre quant sentiment`, `cadre quant montecarlo` and `cadre quant indicators` on Parquet,
//! end to end: columns, formats, reproducibility and bad input naming file and line.

mod common;

use std::path::PathBuf;

use common::{cadre, text};

const HEADLINES: &str = "date,symbol,headline\n\
    2026-01-05,AAPL,\"Apple posts record profit, raises dividend\"\n\
    2026-01-05T16:00:00Z,AAPL,Apple shares plunge on weak guidance!\n\
    2026-01-05,MSFT,Microsoft is not expected to disappoint\n\
    2026-01-06,AAPL,Analysts are very optimistic about Apple\n";

#[test]
fn sentiment_scores_each_headline_and_aggregates_by_day() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("news.csv"), HEADLINES).unwrap();
    let out = cadre(
        &["quant", "sentiment", "news.csv", "--format", "json"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 4);
    assert_eq!(
        rows[0]["headline"],
        "Apple posts record profit, raises dividend"
    );
    assert_eq!(rows[0]["date"], "2026-01-05T00:00:00Z");
    assert!(rows[0]["compound"].as_f64().unwrap() > 0.3, "{}", rows[0]);
    assert!(rows[1]["compound"].as_f64().unwrap() < -0.2, "{}", rows[1]);
    for r in rows.as_array().unwrap() {
        let c = r["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&c), "{r}");
    }

    // CSV keeps the comma inside the headline quoted.
    let out = cadre(
        &["quant", "sentiment", "news.csv", "--format", "csv"],
        dir.path(),
    );
    let csv = text(&out.stdout);
    assert!(
        csv.starts_with("date,symbol,compound,pos,neg,neu,confidence,headline\n"),
        "{csv}"
    );
    assert!(
        csv.contains(",\"Apple posts record profit, raises dividend\"\n"),
        "{csv}"
    );

    let out = cadre(
        &[
            "quant",
            "sentiment",
            "news.csv",
            "--by-day",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let days: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(days.as_array().unwrap().len(), 3, "{days}");
    assert_eq!(days[0]["symbol"], "AAPL");
    assert_eq!(days[0]["date"], "2026-01-05");
    assert_eq!(days[0]["headlines"], 2);
    // The day's score lies between its two headlines' scores.
    let s = days[0]["score"].as_f64().unwrap();
    let (lo, hi) = (
        rows[1]["compound"].as_f64().unwrap(),
        rows[0]["compound"].as_f64().unwrap(),
    );
    assert!(lo < s && s < hi, "{s} not in ({lo}, {hi})");
    // With a half-life, the 6th remembers the 5th's news.
    let out = cadre(
        &[
            "quant",
            "sentiment",
            "news.csv",
            "--by-day",
            "--half-life",
            "1",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let decayed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(decayed[1]["score"], days[1]["score"]);
}

#[test]
fn sentiment_errors_name_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.csv"),
        "date,symbol,headline\n2026-01-05,AAPL,fine\n2026-01-32,AAPL,bad date\n",
    )
    .unwrap();
    let out = cadre(&["quant", "sentiment", "bad.csv"], dir.path());
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("bad.csv:3: field `date`"), "{err}");
}

#[test]
fn montecarlo_var_is_seeded_and_near_the_normal_var() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("date,a,b\n");
    for i in 0..250 {
        // Deterministic, roughly symmetric returns.
        let a = 0.01 * ((i * 37 % 101) as f64 / 50.0 - 1.0);
        let b = 0.02 * ((i * 53 % 97) as f64 / 48.0 - 1.0);
        csv.push_str(&format!("2025-01-{i:03},{a},{b}\n"));
    }
    std::fs::write(dir.path().join("r.csv"), csv).unwrap();
    let args = [
        "quant",
        "montecarlo",
        "r.csv",
        "--var",
        "0.95",
        "--paths",
        "20000",
        "--seed",
        "7",
        "--format",
        "json",
    ];
    let out = cadre(&args, dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[1]["series"], "b");
    assert_eq!(rows[0]["observations"], 250);
    for r in rows.as_array().unwrap() {
        let (mc, normal) = (
            r["mc_var_95"].as_f64().unwrap(),
            r["var_95_normal"].as_f64().unwrap(),
        );
        assert!(mc < 0.0 && r["mc_cvar_95"].as_f64().unwrap() < mc, "{r}");
        // 20 000 paths: a few 1e-4 of Monte Carlo error, plus the log-normal correction.
        assert!((mc - normal).abs() < 2e-3, "{r}");
    }
    let again = cadre(&args, dir.path());
    assert_eq!(again.stdout, out.stdout, "same seed, same numbers");

    let out = cadre(
        &["quant", "montecarlo", "r.csv", "--paths", "1"],
        dir.path(),
    );
    assert!(
        text(&out.stderr).contains("--paths"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn indicators_read_parquet_like_csv() {
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../packs/trading/tests/golden");
    let run = |name: &str| {
        let out = cadre(
            &["quant", "indicators", name, "--sma", "3", "--format", "csv"],
            &golden,
        );
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let csv = run("prices.csv");
    assert_eq!(csv.lines().count(), 13);
    assert_eq!(run("prices_ns_utc.parquet"), csv);
    let out = cadre(&["quant", "indicators", "bad_high.parquet"], &golden);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("bad_high.parquet: row 3"),
        "{}",
        text(&out.stderr)
    );
}
