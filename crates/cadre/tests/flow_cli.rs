//! `cadre flow ...`, `cadre audit` and `cadre bench flow` end to end: a workflow waiting at a
//! gate in one process is listed, shown, approved or rejected and cancelled from others.

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{cadre, command, text};

const GATED: &str = r#"
[workflow]
name = "release"
entry = "approve"

[[nodes]]
name = "approve"
gate = { on_reject = "revise" }
next = "ship"

[[nodes]]
name = "ship"
gate = { timeout = "10ms", on_timeout = "approve" }
next = "END"

[[nodes]]
name = "revise"
gate = { timeout = "10ms", on_timeout = "approve" }
"#;

fn store(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("flows.db").display())
}

fn start(dir: &Path, id: &str) -> Child {
    command(dir)
        .args([
            "flow",
            "run",
            "release.toml",
            "--id",
            id,
            "--input",
            r#"{"version": "1.2"}"#,
            "--store",
        ])
        .arg(store(dir))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Polls `cadre flow list --format json` until `id` waits at a gate.
fn wait_for_gate(dir: &Path, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = cadre(
            &["flow", "list", "--format", "json", "--store", &store(dir)],
            dir,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let waiting = list
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["id"] == id && !w["waiting"].as_array().unwrap().is_empty());
        if waiting {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "workflow {id} never waited: {list}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finish(child: Child) -> (bool, String, String) {
    let out = child.wait_with_output().unwrap();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn a_gate_is_approved_rejected_or_cancelled_from_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("release.toml"), GATED).unwrap();
    let s = store(d);

    // Approved: the workflow ships and prints its state.
    let child = start(d, "rel-1");
    wait_for_gate(d, "rel-1");
    let out = cadre(
        &[
            "flow",
            "approve",
            "rel-1",
            "--by",
            "ann",
            "--comment",
            "looks good",
            "--store",
            &s,
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("gate `approve` of workflow `rel-1` approved by ann"));
    let (ok, stdout, stderr) = finish(child);
    assert!(ok, "{stderr}");
    let state: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(state, serde_json::json!({"version": "1.2"}));
    assert!(
        stderr.contains("gate `approve` approved by ann: looks good"),
        "{stderr}"
    );
    assert!(stderr.contains("COMPLETED"), "{stderr}");

    // Shown and watched afterwards, from the log alone.
    let out = cadre(&["flow", "show", "rel-1", "--events", "--store", &s], d);
    let shown = text(&out.stdout);
    assert!(shown.contains("status    COMPLETED"), "{shown}");
    assert!(
        shown.contains("decision  `approve` approved by ann: looks good"),
        "{shown}"
    );
    let out = cadre(&["flow", "watch", "rel-1", "--store", &s], d);
    assert!(out.status.success());
    assert!(
        text(&out.stdout)
            .lines()
            .last()
            .unwrap()
            .ends_with("COMPLETED")
    );

    // Rejected: the reject path runs; the workflow still completes.
    let child = start(d, "rel-2");
    wait_for_gate(d, "rel-2");
    let out = cadre(
        &[
            "flow", "reject", "rel-2", "--gate", "approve", "--store", &s,
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (ok, _, stderr) = finish(child);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("gate `revise`"), "{stderr}");

    // Cancelled: the run exits 1 and says so.
    let child = start(d, "rel-3");
    wait_for_gate(d, "rel-3");
    let out = cadre(
        &[
            "flow",
            "cancel",
            "rel-3",
            "--reason",
            "release skipped",
            "--store",
            &s,
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (ok, _, stderr) = finish(child);
    assert!(!ok);
    assert!(stderr.contains("CANCELLED by"), "{stderr}");
    assert!(stderr.contains("release skipped"), "{stderr}");

    // Operations on settled workflows are refused clearly.
    let out = cadre(&["flow", "approve", "rel-1", "--store", &s], d);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no gate waiting"),
        "{}",
        text(&out.stderr)
    );
    let out = cadre(&["flow", "resume", "rel-1", "--store", &s], d);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("COMPLETED already"),
        "{}",
        text(&out.stderr)
    );

    // Listing filters by status.
    let out = cadre(
        &[
            "flow",
            "list",
            "--status",
            "cancelled",
            "--format",
            "json",
            "--store",
            &s,
        ],
        d,
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], "rel-3");

    // The audit trail holds every decision with who took it.
    let out = cadre(
        &[
            "audit",
            "--type",
            "flow.decided",
            "--format",
            "json",
            "--store",
            &s,
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let decisions: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        decisions
            .iter()
            .any(|d| d["data"]["by"] == "ann" && d["stream"] == "wf/rel-1"),
        "{decisions:?}"
    );
    assert!(
        decisions
            .iter()
            .any(|d| d["data"]["approved"] == false && d["stream"] == "wf/rel-2"),
        "{decisions:?}"
    );
    // ... and one workflow's whole story by its conversation.
    let out = cadre(
        &["flow", "show", "rel-1", "--format", "json", "--store", &s],
        d,
    );
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let conversation = view["conversation_id"].as_str().unwrap().to_owned();
    let out = cadre(
        &[
            "audit",
            "--conversation",
            &conversation,
            "--format",
            "json",
            "--store",
            &s,
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let story: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(story.len() as u64, view["version"].as_u64().unwrap());
    assert!(story.iter().all(|e| e["stream"] == "wf/rel-1"));
    assert_eq!(story[0]["event_type"], "flow.started");

    // Pruning by age: a dry run first, then for real.
    let out = cadre(
        &[
            "flow",
            "prune",
            "--older-than",
            "0s",
            "--dry-run",
            "--format",
            "json",
            "--store",
            &s,
        ],
        d,
    );
    let dry: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(dry["workflows"].as_array().unwrap().len(), 3);
    let out = cadre(&["flow", "prune", "--older-than", "0s", "--store", &s], d);
    assert!(out.status.success());
    let out = cadre(&["flow", "list", "--format", "json", "--store", &s], d);
    assert_eq!(text(&out.stdout).trim(), "[]");
}

#[test]
fn bad_definitions_and_inputs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("bad.toml"), "[workflow]\nname = \"x\"\nentry = \"a\"\n\n[[nodes]]\nname = \"a\"\ngate = {}\nnxt = \"END\"\n").unwrap();
    let out = cadre(&["flow", "run", "bad.toml", "--store", &store(d)], d);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("bad.toml:") && err.contains("nxt"), "{err}");

    std::fs::write(d.join("tasks.toml"), "[workflow]\nname = \"x\"\nentry = \"a\"\n\n[[nodes]]\nname = \"a\"\ntask = \"docs.check\"\n").unwrap();
    let out = cadre(&["flow", "run", "tasks.toml", "--store", &store(d)], d);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--crew"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(d.join("release.toml"), GATED).unwrap();
    let out = cadre(
        &[
            "flow",
            "run",
            "release.toml",
            "--input",
            "[1, 2]",
            "--store",
            &store(d),
        ],
        d,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("must be a JSON object"),
        "{}",
        text(&out.stderr)
    );
    let out = cadre(
        &[
            "flow",
            "run",
            "release.toml",
            "--input",
            "{oops",
            "--store",
            &store(d),
        ],
        d,
    );
    assert!(
        text(&out.stderr).contains("--input: not JSON"),
        "{}",
        text(&out.stderr)
    );
    let out = cadre(&["flow", "show", "nope", "--store", &store(d)], d);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("`nope` does not exist"),
        "{}",
        text(&out.stderr)
    );
    let out = cadre(
        &["flow", "list", "--status", "sleeping", "--store", &store(d)],
        d,
    );
    assert!(
        text(&out.stderr).contains("--status `sleeping`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bench_flow_reports_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = cadre(
        &[
            "bench",
            "flow",
            "--workflows",
            "300",
            "--concurrency",
            "16",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["backend"], "sqlite");
    assert_eq!(r["workflows"], 300);
    assert_eq!(r["steps"], 900);
    assert!(r["steps_per_s"].as_f64().unwrap() > 0.0);
    assert!(r["p99_ms"].as_f64().unwrap() >= r["p50_ms"].as_f64().unwrap());
}
