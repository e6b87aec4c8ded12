//! `cadre desk backtest` and `cadre desk data` end to end: synthetic and CSV data agree,
//! the trades file, determinism, bad input.

mod common;

use common::{cadre, text};

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON summary")
}

#[test]
fn synthetic_and_written_csv_give_the_same_backtest() {
    let dir = tempfile::tempdir().unwrap();
    let common = [
        "--fast",
        "5",
        "--slow",
        "20",
        "--commission-bps",
        "10",
        "--slippage-bps",
        "5",
        "--format",
        "json",
    ];
    let mut args = vec![
        "desk",
        "backtest",
        "--symbols",
        "3",
        "--days",
        "400",
        "--seed",
        "3",
    ];
    args.extend(common);
    let synthetic = json(&cadre(&args, dir.path()));
    assert_eq!(synthetic["bars"], 1200);
    assert_eq!(synthetic["symbols"], 3);
    assert!(synthetic["fills"].as_u64().unwrap() > 4, "{synthetic}");
    assert!(synthetic["fees"].as_f64().unwrap() > 0.0);
    // An order placed on the last bar stays working: the fill rate may fall short of 1.
    let fill_rate = synthetic["fill_rate"].as_f64().unwrap();
    assert!(fill_rate > 0.9 && fill_rate <= 1.0, "{synthetic}");

    let out = cadre(
        &[
            "desk",
            "data",
            "--symbols",
            "3",
            "--days",
            "400",
            "--seed",
            "3",
            "--out",
            "market",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = std::fs::read_to_string(dir.path().join("market/SYM00.csv")).unwrap();
    assert!(first.starts_with("date,open,high,low,close,volume\n2026-01-01,"));
    assert_eq!(first.lines().count(), 401);

    let mut args = vec![
        "desk",
        "backtest",
        "--data",
        "market",
        "--trades",
        "fills.csv",
    ];
    args.extend(common);
    let out = cadre(&args, dir.path());
    let from_csv = json(&out);
    assert_eq!(from_csv, synthetic, "CSV written with full precision");
    assert!(
        text(&out.stderr).contains("bars/s"),
        "{}",
        text(&out.stderr)
    );
    let fills = std::fs::read_to_string(dir.path().join("fills.csv")).unwrap();
    let mut lines = fills.lines();
    assert_eq!(
        lines.next().unwrap(),
        "time,symbol,side,quantity,price,commission,slippage"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len() as u64, synthetic["fills"].as_u64().unwrap());
    assert!(rows.iter().all(|r| r[3] == "100"));
    assert_eq!(rows[0][2], "buy", "long only: the first fill buys");

    // Deterministic: the same command prints the same bytes.
    let again = cadre(&args, dir.path());
    assert_eq!(out.stdout, again.stdout);
}

#[test]
fn table_format_names_the_figures() {
    let dir = tempfile::tempdir().unwrap();
    let out = cadre(
        &["desk", "backtest", "--symbols", "2", "--days", "300"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for figure in ["final_equity", "fills", "fees", "round_trips", "fill_rate"] {
        assert!(stdout.contains(figure), "{figure} missing in\n{stdout}");
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = cadre(
        &["desk", "backtest", "--fast", "30", "--slow", "10"],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("--fast") && err.contains("`fast`"), "{err}");

    let out = cadre(&["desk", "backtest", "--data", "nowhere"], dir.path());
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--data nowhere"),
        "{}",
        text(&out.stderr)
    );

    std::fs::create_dir(dir.path().join("bad")).unwrap();
    std::fs::write(
        dir.path().join("bad/X.csv"),
        "date,open,high,low,close,volume\n2024-01-01,10,9,8,9,1\n",
    )
    .unwrap();
    let out = cadre(&["desk", "backtest", "--data", "bad"], dir.path());
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("X.csv:2"), "{err}");

    let out = cadre(
        &["desk", "backtest", "--days", "50", "--volume-cap", "2"],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("`volume_cap`"),
        "{}",
        text(&out.stderr)
    );
}

/// The crew manifest of the repository, copied into `dir` (its bus lands there too).
fn desk_crew(dir: &std::path::Path) -> std::path::PathBuf {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../crews/trading-desk.toml");
    let to = dir.join("trading-desk.toml");
    std::fs::copy(manifest, &to).unwrap();
    to
}

#[test]
fn the_trading_desk_crew_runs_reports_and_verifies_its_book() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = desk_crew(dir.path());
    let manifest = manifest.to_str().unwrap();
    let out = cadre(
        &[
            "run",
            manifest,
            "--set",
            "symbols=5",
            "--set",
            "days=320",
            "--set",
            "out=run-1",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in [
        "final equity",
        "Sharpe",
        "max drawdown",
        "adaptive weights",
        "fixed weights",
        "report: run-1",
    ] {
        assert!(stdout.contains(line), "`{line}` missing from:\n{stdout}");
    }
    let run = dir.path().join("run-1");
    for file in ["report.json", "report.html", "book.db"] {
        assert!(run.join(file).is_file(), "{file} not written");
    }

    // `cadre desk report` shows it again, as a table or JSON, and verifies the book.
    let shown = cadre(&["desk", "report", "run-1", "--verify"], dir.path());
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    assert!(text(&shown.stdout).contains("final equity"));
    assert!(
        text(&shown.stderr).contains("verified:"),
        "{}",
        text(&shown.stderr)
    );
    let doc = json(&cadre(
        &["desk", "report", "run-1", "--format", "json"],
        dir.path(),
    ));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap();
    assert_eq!(doc["final_equity"], report["final_equity"]);
    assert!(
        doc.get("decision_log").is_none(),
        "the JSON summary leaves the log out"
    );

    // The decisions are on the audit trail, queryable with `cadre audit`.
    let audit = cadre(
        &[
            "audit",
            "--store",
            "sqlite://run-1/book.db",
            "--type",
            "audit.decide",
            "--limit",
            "3",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(audit.status.success(), "{}", text(&audit.stderr));
    let first = text(&audit.stdout);
    let first: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert!(first["data"]["votes"].is_array(), "{first}");
}

#[test]
fn bad_desk_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = desk_crew(dir.path());
    let manifest = manifest.to_str().unwrap();
    let out = cadre(&["run", manifest, "--set", "dayz=3"], dir.path());
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("dayz"), "{}", text(&out.stderr));
    let out = cadre(&["run", manifest, "--set", "novalue"], dir.path());
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("KEY=VALUE"),
        "{}",
        text(&out.stderr)
    );
    // Operator commands need a running paper session on the crew's bus.
    let out = cadre(&["desk", "status", "--crew", manifest], dir.path());
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("trading-desk.toml")
            && (err.contains("paper session") || err.contains("bus database")),
        "{err}"
    );
    let out = cadre(&["desk", "report", "nowhere"], dir.path());
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("nowhere"),
        "{}",
        text(&out.stderr)
    );
}
