//! `cadre quant optimize` end to end: date alignment, objectives, formats, bad input.

mod common;

use common::{cadre, text};

/// An OHLCV file of `days` daily bars from `start` (days after 2024-01-01), with a drift and a
/// deterministic wobble per symbol so the covariance is positive definite.
fn ohlcv(seed: u64, start: u64, days: usize) -> String {
    let mut out = String::from("date,open,high,low,close,volume\n");
    let mut price = 50.0 + seed as f64 * 10.0;
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in 0..days {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        let close = price * (1.0 + 0.0004 * seed as f64 + 0.03 * noise);
        let (hi, lo) = (price.max(close) * 1.001, price.min(close) * 0.999);
        let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()
            + chrono::Days::new(start + i as u64);
        out.push_str(&format!(
            "{day},{price:.6},{hi:.6},{lo:.6},{close:.6},1000\n"
        ));
        price = close;
    }
    out
}

fn prices_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("AAA.csv"), ohlcv(1, 0, 300)).unwrap();
    std::fs::write(dir.path().join("BBB.csv"), ohlcv(2, 0, 300)).unwrap();
    // Starts 5 days later and ends 2 days earlier: the others lose 7 rows to the alignment.
    std::fs::write(dir.path().join("CCC.csv"), ohlcv(3, 5, 293)).unwrap();
    std::fs::write(dir.path().join("DDD.csv"), ohlcv(4, 0, 300)).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a price file").unwrap();
    dir
}

fn json(args: &[&str], dir: &std::path::Path) -> serde_json::Value {
    let out = cadre(args, dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn weights(doc: &serde_json::Value) -> Vec<(String, f64)> {
    doc["weights"]
        .as_object()
        .expect("weights object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().expect("number")))
        .collect()
}

#[test]
fn min_vol_aligns_dates_and_prints_weights_by_symbol() {
    let dir = prices_dir();
    let out = cadre(
        &[
            "quant",
            "optimize",
            ".",
            "--objective",
            "min-vol",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("4 symbols on 293 common dates") && err.contains("AAA 7"),
        "stderr should say what alignment dropped: {err}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["objective"], "min-vol");
    let w = weights(&doc);
    let names: Vec<&str> = w.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["AAA", "BBB", "CCC", "DDD"]);
    let sum: f64 = w.iter().map(|(_, v)| v).sum();
    assert!((sum - 1.0).abs() < 1e-6, "weights sum to {sum}");
    assert!(w.iter().all(|(_, v)| *v > -1e-7 && *v < 1.0 + 1e-7));
    let vol = doc["volatility"].as_f64().unwrap();
    assert!(vol > 0.0 && vol < 1.0, "annual volatility {vol}");
    // The minimum volatility is no higher than any single asset's (a 100% weight is allowed).
    let frontier = json(
        &[
            "quant",
            "optimize",
            ".",
            "--objective",
            "frontier",
            "--points",
            "4",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let points = frontier["points"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    for p in points {
        assert!(p["volatility"].as_f64().unwrap() >= vol - 1e-7);
    }
}

#[test]
fn max_sharpe_with_bounds_and_csv() {
    let dir = prices_dir();
    let out = cadre(
        &[
            "quant",
            "optimize",
            ".",
            "--objective",
            "max-sharpe",
            "--bounds",
            "0.05,0.4",
            "--risk-free",
            "0.01",
            "--cov",
            "sample",
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
        "point,expected_return,volatility,sharpe,AAA,BBB,CCC,DDD"
    );
    let row: Vec<f64> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|c| c.parse().unwrap())
        .collect();
    assert_eq!(lines.next(), None);
    let (ret, vol, sharpe) = (row[1], row[2], row[3]);
    assert!((sharpe - (ret - 0.01) / vol).abs() < 1e-9);
    let w = &row[4..];
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-6);
    assert!(
        w.iter().all(|v| *v >= 0.05 - 1e-6 && *v <= 0.4 + 1e-6),
        "{w:?}"
    );
}

#[test]
fn targets_and_table() {
    let dir = prices_dir();
    let min_vol = json(
        &[
            "quant",
            "optimize",
            ".",
            "--objective",
            "min-vol",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let floor = min_vol["volatility"].as_f64().unwrap();
    let risk = json(
        &[
            "quant",
            "optimize",
            ".",
            "--objective",
            "target-risk",
            "--target",
            &format!("{}", floor * 1.3),
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(risk["volatility"].as_f64().unwrap() <= floor * 1.3 + 1e-6);
    assert!(
        risk["expected_return"].as_f64().unwrap()
            >= min_vol["expected_return"].as_f64().unwrap() - 1e-9
    );
    let goal = risk["expected_return"].as_f64().unwrap();
    let ret = json(
        &[
            "quant",
            "optimize",
            ".",
            "--objective",
            "target-return",
            "--target",
            &format!("{goal}"),
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(ret["expected_return"].as_f64().unwrap() >= goal - 1e-6);
    // The same frontier point from both sides: the volatilities agree.
    assert!(
        (ret["volatility"].as_f64().unwrap() - risk["volatility"].as_f64().unwrap()).abs() < 1e-4
    );

    let out = cadre(
        &["quant", "optimize", ".", "--objective", "min-vol"],
        dir.path(),
    );
    assert!(out.status.success());
    let table = text(&out.stdout);
    assert!(table.starts_with("symbol"), "{table}");
    assert!(
        table.contains("AAA") && table.contains("expected_return"),
        "{table}"
    );
}

#[test]
fn bad_input_is_reported() {
    let dir = prices_dir();
    let fail = |args: &[&str], needle: &str| {
        let out = cadre(args, dir.path());
        assert_eq!(out.status.code(), Some(1), "{args:?} should fail");
        let err = text(&out.stderr);
        assert!(
            err.contains(needle),
            "{args:?}: `{err}` should mention `{needle}`"
        );
    };
    fail(
        &["quant", "optimize", ".", "--objective", "target-return"],
        "needs --target",
    );
    fail(
        &[
            "quant",
            "optimize",
            ".",
            "--objective",
            "target-return",
            "--target",
            "5",
        ],
        "maximum expected return",
    );
    fail(
        &[
            "quant",
            "optimize",
            ".",
            "--objective",
            "target-risk",
            "--target",
            "0.0001",
        ],
        "minimum volatility",
    );
    fail(
        &[
            "quant",
            "optimize",
            ".",
            "--objective",
            "min-vol",
            "--bounds",
            "0.3,0.5",
        ],
        "infeasible",
    );
    fail(
        &[
            "quant",
            "optimize",
            ".",
            "--objective",
            "min-vol",
            "--bounds",
            "x",
        ],
        "expected LO,HI",
    );
    fail(
        &["quant", "optimize", "missing-dir", "--objective", "min-vol"],
        "missing-dir",
    );
    std::fs::write(
        dir.path().join("EEE.csv"),
        "date,open,high,low,close,volume\n2024-01-01,1,1,1,1,1\n2024-01-02,1,1,1,oops,1\n",
    )
    .unwrap();
    fail(
        &["quant", "optimize", ".", "--objective", "min-vol"],
        "EEE.csv:3",
    );
}

#[test]
fn every_method_gives_the_same_portfolio() {
    // More symbols than returns: Ledoit-Wolf's factored form has a positive diagonal, so
    // `active-set` takes the exact path; `full` and `working-set` take Clarabel's.
    let dir = tempfile::tempdir().unwrap();
    for s in 0..8u64 {
        std::fs::write(dir.path().join(format!("S{s}.csv")), ohlcv(s + 1, 0, 7)).unwrap();
    }
    let solve = |method: &str, objective: &str| {
        let doc = json(
            &[
                "quant",
                "optimize",
                ".",
                "--objective",
                objective,
                "--method",
                method,
                "--format",
                "json",
            ],
            dir.path(),
        );
        (weights(&doc), doc["volatility"].as_f64().unwrap())
    };
    for objective in ["min-vol", "max-sharpe"] {
        let (exact, exact_vol) = solve("active-set", objective);
        for method in ["auto", "working-set", "full"] {
            let (w, vol) = solve(method, objective);
            assert_eq!(w.len(), exact.len());
            for ((name, a), (_, b)) in exact.iter().zip(&w) {
                assert!(
                    (a - b).abs() < 1e-4,
                    "{objective}, {method}: {name} {b} against the active set's {a}"
                );
            }
            if objective == "min-vol" {
                assert!(
                    exact_vol <= vol * (1.0 + 1e-9),
                    "{method}: {vol} < {exact_vol}"
                );
            }
        }
    }
    let out = cadre(
        &[
            "quant",
            "optimize",
            ".",
            "--objective",
            "min-vol",
            "--method",
            "fastest",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--method"),
        "{}",
        text(&out.stderr)
    );
}
