//! `cadre run`, `cadre node`, `cadre agents list`, `cadre errors tail`, `cadre halt|resume`
//! end to end with the docs crew on the embedded sqlite bus.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{cadre, text};

const MANIFEST: &str = r#"
[crew]
name = "docs"

[bus]
backend = "sqlite"
path = "bus.db"

[runtime]
heartbeat = "100ms"
poll = "100ms"
grace = "2s"

[run]
capability = "docs.check"
input = { root = "docs" }
timeout = "60s"

[[agents]]
kind = "coordinator"
type = "docs.check"
replicas = 1

[[agents]]
kind = "links"
type = "docs.links"
replicas = { min = 1, max = 3 }

[[agents]]
kind = "stats"
type = "docs.stats"
replicas = 1
stream = "memory"
"#;

fn crew_dir(readme: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    std::fs::write(dir.path().join("docs/README.md"), readme).unwrap();
    std::fs::write(
        dir.path().join("docs/guide.md"),
        "# Guide\n\n## Install\n\nBack to [the start](README.md).\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("crew.toml"), MANIFEST).unwrap();
    dir
}

#[test]
fn run_checks_the_docs_and_exits_1_on_broken_links() {
    let dir = crew_dir("# Docs\n\nSee [install](guide.md#install) and [gone](missing.md).\n");
    let out = cadre(&["run", "crew.toml"], dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("README.md:3: missing.md"), "{stdout}");
    assert!(stdout.contains("2 files"), "{stdout}");
    assert!(stdout.contains("1 broken"), "{stdout}");

    let out = cadre(&["run", "crew.toml", "--format", "json"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["capability"], "docs.check");
    assert_eq!(doc["output"]["broken"], 1);
    assert!(doc["agent"].as_str().unwrap().starts_with("coordinator-"));

    std::fs::write(
        dir.path().join("docs/README.md"),
        "# Docs\n\nSee [install](guide.md#install).\n",
    )
    .unwrap();
    let out = cadre(&["run", "crew.toml"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("0 broken"));
}

#[test]
fn dry_run_checks_types_and_agent_configuration_naming_the_key() {
    let dir = crew_dir("# Docs\n");
    let out = cadre(&["run", "crew.toml", "--dry-run"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("crew `docs`"), "{stdout}");
    assert!(stdout.contains("entry task: docs.check"), "{stdout}");

    let bad = MANIFEST.replace("type = \"docs.links\"", "type = \"docs.linkz\"");
    std::fs::write(dir.path().join("bad.toml"), bad).unwrap();
    let out = cadre(&["run", "bad.toml", "--dry-run"], dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("bad.toml:"), "{stderr}");
    assert!(stderr.contains("key `agents[1].type`"), "{stderr}");
    assert!(
        stderr.contains("unknown agent type `docs.linkz`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("docs.links"),
        "lists the known types: {stderr}"
    );

    let bad = MANIFEST.replace(
        "replicas = { min = 1, max = 3 }",
        "replicas = { min = 1, max = 3 }\n[agents.config]\nignroe = []",
    );
    std::fs::write(dir.path().join("bad2.toml"), bad).unwrap();
    let out = cadre(&["run", "bad2.toml", "--dry-run"], dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("key `agents[1].config`"), "{stderr}");
    assert!(stderr.contains("ignroe"), "{stderr}");

    let bad = MANIFEST.replace("replicas = 1\nstream", "replicas = 0\nstream");
    std::fs::write(dir.path().join("bad3.toml"), bad).unwrap();
    let out = cadre(&["run", "bad3.toml", "--dry-run"], dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("agents[2].replicas"), "{stderr}");
}

#[test]
fn a_failing_entry_task_is_reported_and_lands_on_the_error_topic() {
    let dir = crew_dir("# Docs\n");
    let manifest = MANIFEST.replace("root = \"docs\"", "root = \"no-such-folder\"");
    std::fs::write(dir.path().join("crew.toml"), manifest).unwrap();
    let out = cadre(&["run", "crew.toml"], dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("the entry task `docs.check` failed"),
        "{stderr}"
    );
    assert!(stderr.contains("no-such-folder"), "{stderr}");

    let out = cadre(&["errors", "tail", "--db", "bus.db"], dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("not_found"), "{stdout}");
    assert!(stdout.contains("cap=docs.check"), "{stdout}");
    assert!(stdout.contains("reply"), "{stdout}");

    let out = cadre(
        &["errors", "tail", "--db", "bus.db", "--format", "json"],
        dir.path(),
    );
    let line = text(&out.stdout);
    let event: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(event["code"], "not_found");
    assert!(event["agent"].as_str().unwrap().starts_with("coordinator-"));
    assert!(event["task"].is_string());
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agents(dir: &Path) -> Vec<serde_json::Value> {
    let out = cadre(
        &["agents", "list", "--db", "bus.db", "--format", "json"],
        dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// [`agents`] while a starting node may still be creating the bus: `None` when the file exists
/// but its schema is not there yet (the node creates the file, then its tables).
fn agents_once_created(dir: &Path) -> Option<Vec<serde_json::Value>> {
    if !dir.join("bus.db").exists() {
        return None;
    }
    let out = cadre(
        &["agents", "list", "--db", "bus.db", "--format", "json"],
        dir,
    );
    let stderr = text(&out.stderr);
    if out.status.code() != Some(0) && stderr.contains("is not a cadre bus database") {
        return None;
    }
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_node_registers_obeys_the_kill_switch_and_drains_on_sigterm() {
    let dir = crew_dir("# Docs\n");
    let child = common::command(dir.path())
        .args([
            "node",
            "crew.toml",
            "--agents",
            "links,stats",
            "--id",
            "worker-1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut node = Running(child);
    wait_for("the node's agents in the registry", || {
        agents_once_created(dir.path()).is_some_and(|a| a.len() == 2)
    });
    let listed = agents(dir.path());
    assert!(
        listed
            .iter()
            .all(|a| a["node"] == "worker-1" && a["alive"] == true)
    );
    let kinds: Vec<&str> = listed.iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["links", "stats"]);

    let out = cadre(&["halt", "--db", "bus.db", "--reason", "drill"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    wait_for("the node to report itself halted", || {
        agents(dir.path())
            .iter()
            .all(|a| a["node_state"] == "halted")
    });
    let out = cadre(&["resume", "--db", "bus.db"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("resumed"));
    wait_for("the node to run again", || {
        agents(dir.path())
            .iter()
            .all(|a| a["node_state"] == "running")
    });

    let pid = node.0.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let start = Instant::now();
    let code = loop {
        if let Some(status) = node.0.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the node did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
    assert!(
        agents(dir.path()).is_empty(),
        "a stopped node deregisters its agents"
    );
}
