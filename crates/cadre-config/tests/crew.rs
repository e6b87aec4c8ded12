//! Crew manifests through the public API: the full format, defaults, profiles, the environment
//! and every kind of mistake, each located at `file:line`.
//!
//! Every test runs inside a `figment::Jail` with a cleared environment, so `CADRE_*` variables
//! set by one test (or by the developer's shell) never leak into another.
#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error

use std::path::{Path, PathBuf};
use std::time::Duration;

use cadre_config::crew::{
    AgentSection, Replicas, RuntimeSection, StreamMode, check_crew_all_profiles,
};
use cadre_config::{ConfigError, CrewManifest, Problem, load_crew};
use cadre_core::Priority;
use cadre_core::config::{BusBackend, BusConfig};
use figment::Jail;
use tempfile::TempDir;

const FULL: &str = r#"[crew]
name = "docs-check"
description = "Checks links"

[bus]
backend = "sqlite"
path = "crew.db"
lease = "45s"

[store]
url = "postgres://app:s3cret@db/cadre"

[runtime]
heartbeat = "2s"
missed_heartbeats = 4
grace = "20s"
restart_backoff = "200ms"
restart_backoff_max = "30s"
max_restarts = 7
restart_window = "2m"
scale_interval = "500ms"
scale_cooldown = "15s"
task_attempts = 5
poll = "750ms"
cache = "30s"
cache_capacity = 500

[run]
capability = "docs.check"
input = { root = "docs", depth = 2, strict = true, skip = ["a", "b"], ratio = 0.5 }
timeout = "90s"
priority = "high"

[[agents]]
kind = "links"
type = "docs.links"
replicas = { min = 0, max = 4 }
concurrency = 8
batch = 32
stream = "memory"
scale_up_backlog = 12
[agents.config]
depth = 3
follow = ["http", "https"]

[[agents]]
kind = "report"
replicas = 1

[profile.ci]
runtime.heartbeat = "200ms"
run.timeout = "10s"
bus.path = "ci.db"
[profile.ci.agents.links]
replicas = 1
concurrency = 2
[profile.ci.agents.links.config]
follow = ["https"]
"#;

/// Runs `f` with a cleared environment and a fresh directory for manifests.
fn isolated(f: impl FnOnce(&mut Jail, &Path)) {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let dir = TempDir::new().map_err(|e| e.to_string())?;
        f(jail, dir.path());
        Ok(())
    });
}

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("crew.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn load(dir: &Path, text: &str) -> CrewManifest {
    let path = write(dir, text);
    match load_crew(&path, None) {
        Ok(m) => m,
        Err(e) => panic!("manifest should load: {e}"),
    }
}

fn load_err(dir: &Path, text: &str, profile: Option<&str>) -> ConfigError {
    let path = write(dir, text);
    match load_crew(&path, profile) {
        Ok(m) => panic!("manifest should be rejected: {m:?}"),
        Err(e) => e,
    }
}

/// The problem about `key`, checked to be reported at `crew.toml:line` in the message.
fn problem<'e>(err: &'e ConfigError, key: &str, line: usize) -> &'e Problem {
    let Some(p) = err.problems.iter().find(|p| p.key.as_deref() == Some(key)) else {
        panic!("no problem about `{key}` in: {err}")
    };
    assert_eq!(p.line, Some(line), "line of `{key}` in: {err}");
    assert!(
        p.source
            .as_deref()
            .is_some_and(|s| s.ends_with("crew.toml")),
        "source of `{key}`: {p:?}"
    );
    let shown = err.to_string();
    assert!(
        shown.contains(&format!("crew.toml:{line}: key `{key}`: ")),
        "`{key}` at line {line} in: {shown}"
    );
    p
}

const MINIMAL: &str = "[crew]\nname = \"mini\"\n\n[[agents]]\nkind = \"worker\"\n";

#[test]
fn a_full_manifest_loads_into_the_structs() {
    isolated(|_, dir| {
        let m = load(dir, FULL);
        assert_eq!(m.path, dir.join("crew.toml"));
        assert_eq!(m.profile, None);
        assert_eq!(m.crew.name.as_str(), "docs-check");
        assert_eq!(m.crew.description.as_deref(), Some("Checks links"));

        assert!(m.bus_set);
        assert_eq!(m.bus.backend, BusBackend::Sqlite);
        assert_eq!(m.bus.path, Some(PathBuf::from("crew.db")));
        assert_eq!(m.bus.lease, Duration::from_secs(45));
        assert_eq!(m.bus.max_deliveries, BusConfig::default().max_deliveries);

        let store = m.store.as_ref().unwrap();
        assert_eq!(store.url, "postgres://app:s3cret@db/cadre");

        assert_eq!(
            m.runtime,
            RuntimeSection {
                heartbeat: Duration::from_secs(2),
                missed_heartbeats: 4,
                grace: Duration::from_secs(20),
                restart_backoff: Duration::from_millis(200),
                restart_backoff_max: Duration::from_secs(30),
                max_restarts: 7,
                restart_window: Duration::from_secs(120),
                scale_interval: Duration::from_millis(500),
                scale_cooldown: Duration::from_secs(15),
                task_attempts: 5,
                poll: Duration::from_millis(750),
                cache: Duration::from_secs(30),
                cache_capacity: 500,
            }
        );

        let run = m.run.as_ref().unwrap();
        assert_eq!(run.capability, "docs.check");
        assert_eq!(
            run.input,
            serde_json::json!({
                "root": "docs", "depth": 2, "strict": true, "skip": ["a", "b"], "ratio": 0.5
            })
        );
        assert_eq!(run.timeout, Duration::from_secs(90));
        assert_eq!(run.priority, Priority::High);

        assert_eq!(m.agents.len(), 2);
        let links = &m.agents[0];
        assert_eq!(links.kind.as_str(), "links");
        assert_eq!(links.type_name, "docs.links");
        assert_eq!(links.replicas, Replicas { min: 0, max: 4 });
        assert_eq!(links.concurrency, 8);
        assert_eq!(links.batch, 32);
        assert_eq!(links.stream, StreamMode::Memory);
        assert_eq!(links.scale_up_backlog, 12);
        assert_eq!(links.config.get("depth"), Some(&toml::Value::Integer(3)));
        assert_eq!(
            links.config.get("follow"),
            Some(&toml::Value::Array(vec!["http".into(), "https".into()]))
        );
        let report = m.agent("report").unwrap();
        assert_eq!(report.type_name, "report");
        assert_eq!(report.replicas, Replicas::fixed(1));
        assert!(m.agent("nope").is_none());
    });
}

#[test]
fn the_resolved_manifest_serialises_to_readable_json_without_secrets() {
    isolated(|_, dir| {
        let m = load(dir, FULL);
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["crew"]["name"], "docs-check");
        assert_eq!(json["runtime"]["heartbeat"], "2s");
        assert_eq!(json["runtime"]["restart_window"], "2m");
        assert_eq!(json["run"]["timeout"], "1m 30s");
        assert_eq!(json["run"]["priority"], "high");
        assert_eq!(json["agents"][0]["type"], "docs.links");
        assert_eq!(json["agents"][0]["stream"], "memory");
        assert_eq!(
            json["agents"][0]["replicas"],
            serde_json::json!({"min": 0, "max": 4})
        );
        assert_eq!(json["agents"][0]["config"]["depth"], 3);
        assert_eq!(json["bus_set"], true);
        assert_eq!(json["bus"]["lease"], "45s");
        assert_eq!(json["store"]["url"], "postgres://app:[redacted]@db/cadre");
        assert!(!json.to_string().contains("s3cret"));
    });
}

#[test]
fn omitted_keys_take_their_defaults() {
    isolated(|_, dir| {
        let m = load(dir, MINIMAL);
        assert_eq!(m.crew.name.as_str(), "mini");
        assert_eq!(m.crew.description, None);
        assert!(!m.bus_set);
        assert_eq!(m.bus, BusConfig::default());
        assert!(m.store.is_none());
        assert!(m.run.is_none());
        let d = RuntimeSection::default();
        assert_eq!(m.runtime, d);
        assert_eq!(d.heartbeat, Duration::from_secs(1));
        assert_eq!(d.missed_heartbeats, 3);
        assert_eq!(d.grace, Duration::from_secs(10));
        assert_eq!(d.restart_backoff, Duration::from_millis(100));
        assert_eq!(d.restart_backoff_max, Duration::from_secs(10));
        assert_eq!(d.max_restarts, 5);
        assert_eq!(d.restart_window, Duration::from_secs(60));
        assert_eq!(d.scale_interval, Duration::from_millis(250));
        assert_eq!(d.scale_cooldown, Duration::from_secs(5));
        assert_eq!(d.task_attempts, 3);
        assert_eq!(d.poll, Duration::from_secs(1));

        let worker: &AgentSection = &m.agents[0];
        assert_eq!(worker.kind.as_str(), "worker");
        assert_eq!(worker.type_name, "worker");
        assert_eq!(worker.replicas, Replicas { min: 2, max: 10 });
        assert_eq!(worker.concurrency, 1);
        assert_eq!(worker.batch, 16);
        assert_eq!(worker.stream, StreamMode::Durable);
        assert_eq!(worker.scale_up_backlog, 8);
        assert!(worker.config.is_empty());

        // A [run] with only its capability.
        let m = load(dir, &format!("{MINIMAL}\n[run]\ncapability = \"go\"\n"));
        let run = m.run.unwrap();
        assert_eq!(run.capability, "go");
        assert_eq!(run.input, serde_json::json!({}));
        assert_eq!(run.timeout, Duration::from_secs(60));
        assert_eq!(run.priority, Priority::Normal);
    });
}

#[test]
fn replicas_are_an_integer_or_a_table() {
    isolated(|_, dir| {
        let with = |replicas: &str| {
            let text =
                format!("[crew]\nname = \"r\"\n[[agents]]\nkind = \"a\"\nreplicas = {replicas}\n");
            load(dir, &text).agents[0].replicas
        };
        assert_eq!(with("3"), Replicas { min: 3, max: 3 });
        assert_eq!(with("{ min = 1, max = 6 }"), Replicas { min: 1, max: 6 });
        assert_eq!(with("{ min = 0, max = 1 }"), Replicas { min: 0, max: 1 });
        // An omitted bound takes its default, clamped to the other.
        assert_eq!(with("{ max = 1 }"), Replicas { min: 1, max: 1 });
        assert_eq!(with("{ max = 50 }"), Replicas { min: 2, max: 50 });
        assert_eq!(with("{ min = 20 }"), Replicas { min: 20, max: 20 });
        assert_eq!(with("{ min = 3 }"), Replicas { min: 3, max: 10 });
        assert_eq!(with("{}"), Replicas { min: 2, max: 10 });
        assert_eq!(with("10000"), Replicas::fixed(10_000));
    });
}

#[test]
fn a_profile_overlays_sections_and_agents() {
    isolated(|jail, dir| {
        let path = write(dir, FULL);
        let m = load_crew(&path, Some("ci")).unwrap();
        assert_eq!(m.profile.as_deref(), Some("ci"));
        // Changed by the overlay.
        assert_eq!(m.runtime.heartbeat, Duration::from_millis(200));
        assert_eq!(m.run.as_ref().unwrap().timeout, Duration::from_secs(10));
        assert_eq!(m.bus.path, Some(PathBuf::from("ci.db")));
        let links = m.agent("links").unwrap();
        assert_eq!(links.replicas, Replicas::fixed(1));
        assert_eq!(links.concurrency, 2);
        // Deep-merged: untouched keys keep the manifest's values.
        assert_eq!(m.runtime.missed_heartbeats, 4);
        assert_eq!(m.run.as_ref().unwrap().capability, "docs.check");
        assert_eq!(m.bus.lease, Duration::from_secs(45));
        assert_eq!(links.batch, 32);
        assert_eq!(links.type_name, "docs.links");
        assert_eq!(links.config.get("depth"), Some(&toml::Value::Integer(3)));
        assert_eq!(
            links.config.get("follow"),
            Some(&toml::Value::Array(vec!["https".into()]))
        );
        assert_eq!(m.agent("report").unwrap().replicas, Replicas::fixed(1));

        // CADRE_PROFILE selects the profile when none is given; an explicit one wins.
        jail.set_env("CADRE_PROFILE", "ci");
        let m = load_crew(&path, None).unwrap();
        assert_eq!(m.profile.as_deref(), Some("ci"));
        assert_eq!(m.runtime.heartbeat, Duration::from_millis(200));
        let m = load_crew(&path, Some("prod")).unwrap();
        assert_eq!(m.profile.as_deref(), Some("prod"));
        assert_eq!(m.runtime.heartbeat, Duration::from_secs(2));
    });
}

#[test]
fn a_bus_only_in_the_profile_counts_as_set() {
    isolated(|_, dir| {
        let text = format!("{MINIMAL}\n[profile.mem.bus]\nbackend = \"memory\"\n");
        let path = write(dir, &text);
        let plain = load_crew(&path, None).unwrap();
        assert!(!plain.bus_set);
        assert_eq!(plain.bus.backend, BusBackend::Sqlite);
        let mem = load_crew(&path, Some("mem")).unwrap();
        assert!(mem.bus_set);
        assert_eq!(mem.bus.backend, BusBackend::Memory);
    });
}

#[test]
fn cadre_bus_variables_override_the_manifest_and_its_profile() {
    isolated(|jail, dir| {
        let path = write(dir, FULL);
        jail.set_env("CADRE_BUS_PATH", "/tmp/env.db");
        jail.set_env("CADRE_BUS_MAX_DELIVERIES", "9");
        jail.set_env("CADRE_LOG_LEVEL", "debug"); // not a bus key: ignored here
        let m = load_crew(&path, None).unwrap();
        assert_eq!(m.bus.path, Some(PathBuf::from("/tmp/env.db")));
        assert_eq!(m.bus.max_deliveries, 9);
        assert_eq!(m.bus.lease, Duration::from_secs(45));
        let m = load_crew(&path, Some("ci")).unwrap();
        assert_eq!(m.bus.path, Some(PathBuf::from("/tmp/env.db")));

        // A bad value or an unknown key from the environment names the variable.
        jail.set_env("CADRE_BUS_LEASE", "0s");
        let err = load_crew(&path, None).unwrap_err();
        let p = &err.problems[0];
        assert_eq!(p.key.as_deref(), Some("bus.lease"));
        assert_eq!(p.source.as_deref(), Some("CADRE_BUS_LEASE"));
        assert_eq!(p.line, None);
        assert!(p.message.contains("longer than 0s"), "{err}");

        jail.set_env("CADRE_BUS_LEASE", "30s");
        jail.set_env("CADRE_BUS_LEASEE", "30s");
        let err = load_crew(&path, None).unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        assert_eq!(err.problems[0].source.as_deref(), Some("CADRE_BUS_LEASEE"));
        assert!(err.problems[0].message.contains("unknown key"), "{err}");
    });
}

#[test]
fn a_missing_file_and_bad_toml_are_named() {
    isolated(|_, dir| {
        let missing = dir.join("absent.toml");
        let err = load_crew(&missing, None).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        assert_eq!(
            err.problems[0].source.as_deref(),
            Some(missing.display().to_string().as_str())
        );
        assert!(
            err.to_string()
                .contains("absent.toml: cannot read the file"),
            "{err}"
        );

        let path = write(dir, "[crew]\nname = \"x\"\n\n[[agents]]\nkind = [\n");
        let err = load_crew(&path, None).unwrap_err();
        assert_eq!(err.problems[0].line, Some(5));
        assert!(
            err.to_string().contains("crew.toml:5: invalid TOML"),
            "{err}"
        );

        let err = load_err(dir, "[crew]\nname = \"x\"\nname = \"y\"\n", None);
        assert_eq!(err.problems[0].line, Some(3));
        assert!(err.to_string().contains("duplicate key"), "{err}");
    });
}

#[test]
fn unknown_keys_are_rejected_everywhere_with_their_line() {
    isolated(|_, dir| {
        let text = r#"[crew]
name = "typos"
nmae = "x"

[runtime]
hearbeat = "1s"

[run]
capability = "c"
capabilty = "c"

[bus]
leasee = "3s"

[store]
url = "sqlite://x.db"
uri = "sqlite://x.db"

[[agents]]
kind = "a"

[[agents]]
kind = "b"
replicaz = 3
replicas = { min = 1, maks = 2 }

[crews]
name = "x"
"#;
        let err = load_err(dir, text, None);
        problem(&err, "crew.nmae", 3);
        problem(&err, "runtime.hearbeat", 6);
        problem(&err, "run.capabilty", 10);
        problem(&err, "bus.leasee", 13);
        problem(&err, "store.uri", 17);
        let p = problem(&err, "agents[1].replicaz", 24);
        assert!(
            p.message
                .starts_with("unknown key; expected one of: kind, type, replicas"),
            "{p}"
        );
        problem(&err, "agents[1].replicas.maks", 25);
        let p = problem(&err, "crews", 27);
        assert!(
            p.message
                .contains("crew, bus, store, runtime, run, agents, profile"),
            "{p}"
        );
        // Everything found at once (the bus is checked by figment, which stops at one).
        assert_eq!(err.problems.len(), 8, "{err}");
    });
}

#[test]
fn unknown_keys_in_profile_overlays_name_the_overlay_key() {
    isolated(|_, dir| {
        let text = format!(
            "{MINIMAL}\n[profile.ci]\nruntime.hartbeat = \"1s\"\nbogus = 1\n[profile.ci.agents.worker]\nreplicaz = 1\n[profile.ci.bus]\nlease = \"0s\"\n"
        );
        let err = load_err(dir, &text, Some("ci"));
        problem(&err, "profile.ci.runtime.hartbeat", 8);
        let p = problem(&err, "profile.ci.bogus", 9);
        assert!(
            p.message.contains("crew, bus, store, runtime, run, agents"),
            "{p}"
        );
        problem(&err, "profile.ci.agents.worker.replicaz", 11);
        let p = problem(&err, "profile.ci.bus.lease", 13);
        assert!(p.message.contains("longer than 0s"), "{p}");
        assert_eq!(err.problems.len(), 4, "{err}");

        // Without the profile, the overlay is not applied and the manifest loads.
        let m = load_crew(&dir.join("crew.toml"), None).unwrap();
        assert_eq!(m.agents[0].kind.as_str(), "worker");
    });
}

#[test]
fn wrong_types_name_the_key_and_the_expected_type() {
    isolated(|_, dir| {
        let text = r#"[crew]
name = 3

[runtime]
heartbeat = 5
missed_heartbeats = "3"

[run]
capability = "c"
priority = 1
input = 2.5

[[agents]]
kind = "a"
batch = "x"
replicas = "many"
config = 3
stream = false
"#;
        let err = load_err(dir, text, None);
        let p = problem(&err, "crew.name", 2);
        assert_eq!(p.message, "expected a string, found integer");
        let p = problem(&err, "runtime.heartbeat", 5);
        assert!(p.message.contains("expected a duration"), "{p}");
        let p = problem(&err, "runtime.missed_heartbeats", 6);
        assert_eq!(p.message, "expected an integer, found string");
        problem(&err, "run.priority", 10);
        problem(&err, "agents[0].batch", 15);
        let p = problem(&err, "agents[0].replicas", 16);
        assert!(p.message.contains("integer or a table"), "{p}");
        let p = problem(&err, "agents[0].config", 17);
        assert_eq!(p.message, "must be a table, found integer");
        problem(&err, "agents[0].stream", 18);
        assert_eq!(err.problems.len(), 8, "{err}");
        // Any TOML value is a valid run input.
        assert!(
            !err.problems
                .iter()
                .any(|p| p.key.as_deref() == Some("run.input"))
        );

        let err = load_err(
            dir,
            "runtime = 3\n[crew]\nname = \"x\"\n[[agents]]\nkind = \"a\"\n",
            None,
        );
        let p = problem(&err, "runtime", 1);
        assert_eq!(p.message, "must be a table, found integer");
    });
}

#[test]
fn invalid_values_are_explained() {
    isolated(|_, dir| {
        let text = r#"[crew]
name = "two words"

[store]
url = "mysql://db"

[runtime]
heartbeat = "0s"
missed_heartbeats = 0
restart_backoff = "5s"
restart_backoff_max = "1s"
scale_interval = "soon"
task_attempts = 0
poll = "0ms"
max_restarts = -1

[run]
capability = " "
timeout = "0s"
priority = "urgent"

[[agents]]
kind = "a"
replicas = { min = 5, max = 3 }
concurrency = 0
batch = 2000
stream = "fast"
scale_up_backlog = 0
type = ""

[[agents]]
kind = "b"
replicas = 0

[[agents]]
kind = "c"
replicas = { min = -1, max = 20000 }
"#;
        let err = load_err(dir, text, None);
        let p = problem(&err, "crew.name", 2);
        assert!(p.message.contains("invalid agent kind `two words`"), "{p}");
        let p = problem(&err, "store.url", 5);
        assert!(
            p.message.contains("sqlite://, postgres://, postgresql://"),
            "{p}"
        );
        let p = problem(&err, "runtime.heartbeat", 8);
        assert_eq!(p.message, "must be longer than 0s");
        problem(&err, "runtime.missed_heartbeats", 9);
        let p = problem(&err, "runtime.restart_backoff_max", 11);
        assert!(
            p.message.starts_with("1s is below restart_backoff 5s"),
            "{p}"
        );
        let p = problem(&err, "runtime.scale_interval", 12);
        assert!(p.message.contains("`soon` is not a duration"), "{p}");
        problem(&err, "runtime.task_attempts", 13);
        problem(&err, "runtime.poll", 14);
        let p = problem(&err, "runtime.max_restarts", 15);
        assert_eq!(p.message, "must be at least 0, not -1");
        let p = problem(&err, "run.capability", 18);
        assert_eq!(p.message, "must not be empty");
        problem(&err, "run.timeout", 19);
        let p = problem(&err, "run.priority", 20);
        assert!(p.message.contains("`urgent` is not a priority"), "{p}");
        let p = problem(&err, "agents[0].replicas", 24);
        assert_eq!(p.message, "min 5 is above max 3");
        let p = problem(&err, "agents[0].concurrency", 25);
        assert_eq!(p.message, "must be between 1 and 1024, not 0");
        problem(&err, "agents[0].batch", 26);
        let p = problem(&err, "agents[0].stream", 27);
        assert!(p.message.contains("`fast` is not a stream mode"), "{p}");
        problem(&err, "agents[0].scale_up_backlog", 28);
        problem(&err, "agents[0].type", 29);
        let p = problem(&err, "agents[1].replicas", 33);
        assert!(
            p.message.starts_with("must be between 1 and 10000, not 0"),
            "{p}"
        );
        problem(&err, "agents[2].replicas.min", 37);
        let p = problem(&err, "agents[2].replicas.max", 37);
        assert_eq!(p.message, "must be between 1 and 10000, not 20000");
        assert_eq!(err.problems.len(), 21, "{err}");
    });
}

#[test]
fn required_keys_are_reported_at_their_section() {
    isolated(|_, dir| {
        let text = "[crew]\ndescription = \"d\"\n\n[store]\n\n[run]\ninput = 1\n\n[[agents]]\ntype = \"t\"\n";
        let err = load_err(dir, text, None);
        let p = problem(&err, "crew.name", 1);
        assert_eq!(p.message, "is required");
        problem(&err, "store.url", 4);
        problem(&err, "run.capability", 6);
        problem(&err, "agents[0].kind", 9);
        assert_eq!(err.problems.len(), 4, "{err}");

        let err = load_err(dir, "[[agents]]\nkind = \"a\"\n", None);
        assert_eq!(err.problems.len(), 1, "{err}");
        assert_eq!(err.problems[0].key.as_deref(), Some("crew"));
        assert!(
            err.problems[0].message.contains("add a [crew] section"),
            "{err}"
        );
    });
}

#[test]
fn a_crew_needs_agents_with_unique_kinds() {
    isolated(|_, dir| {
        let err = load_err(dir, "[crew]\nname = \"x\"\n", None);
        assert_eq!(err.problems.len(), 1, "{err}");
        assert_eq!(err.problems[0].key.as_deref(), Some("agents"));
        assert_eq!(err.problems[0].line, None);
        assert!(err.to_string().contains("at least one agent"), "{err}");

        let err = load_err(dir, "agents = []\n[crew]\nname = \"x\"\n", None);
        let p = problem(&err, "agents", 1);
        assert!(p.message.contains("at least one agent"), "{p}");

        let err = load_err(dir, "agents = 1\n[crew]\nname = \"x\"\n", None);
        let p = problem(&err, "agents", 1);
        assert!(p.message.contains("[[agents]]"), "{p}");

        let text = "[crew]\nname = \"x\"\n[[agents]]\nkind = \"a\"\n[[agents]]\nkind = \"b\"\n[[agents]]\nkind = \"a\"\n";
        let err = load_err(dir, text, None);
        assert_eq!(err.problems.len(), 1, "{err}");
        let p = problem(&err, "agents[2].kind", 8);
        assert!(p.message.contains("agents[0] and agents[2]"), "{p}");
    });
}

#[test]
fn profile_overlays_must_target_existing_agents() {
    isolated(|_, dir| {
        let text = format!(
            "{MINIMAL}\n[profile.ci.agents.nope]\nreplicas = 1\n\n[profile.ci.agents.worker]\nkind = \"other\"\n"
        );
        let err = load_err(dir, &text, Some("ci"));
        let p = problem(&err, "profile.ci.agents.nope", 7);
        assert!(p.message.contains("no agent of kind `nope`"), "{p}");
        assert!(p.message.contains("worker"), "{p}");
        let p = problem(&err, "profile.ci.agents.worker.kind", 11);
        assert!(p.message.contains("cannot change"), "{p}");
        assert_eq!(err.problems.len(), 2, "{err}");

        // A bad value in an agent overlay names the overlay key.
        let text =
            format!("{MINIMAL}\n[profile.ci.agents.worker]\nreplicas = {{ min = 4, max = 2 }}\n");
        let err = load_err(dir, &text, Some("ci"));
        let p = problem(&err, "profile.ci.agents.worker.replicas", 8);
        assert_eq!(p.message, "min 4 is above max 2");
    });
}

#[test]
fn an_unknown_profile_is_named_with_the_defined_ones() {
    isolated(|jail, dir| {
        let path = write(dir, FULL);
        let err = load_crew(&path, Some("nightly")).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        let p = &err.problems[0];
        assert_eq!(p.key.as_deref(), Some("profile.nightly"));
        assert!(
            p.message.contains("profile `nightly` is not defined"),
            "{p}"
        );
        assert!(p.message.contains("defined profiles: ci"), "{p}");

        jail.set_env("CADRE_PROFILE", "nightly");
        let err = load_crew(&path, None).unwrap_err();
        assert_eq!(err.problems[0].key.as_deref(), Some("profile.nightly"));

        // Built-in profiles need no overlay.
        let m = load_crew(&path, Some("staging")).unwrap();
        assert_eq!(m.profile.as_deref(), Some("staging"));
        assert_eq!(m.runtime.heartbeat, Duration::from_secs(2));
    });
}

#[test]
fn checking_all_profiles_names_the_profile_of_each_problem() {
    isolated(|jail, dir| {
        let path = write(dir, FULL);
        jail.set_env("CADRE_PROFILE", "nightly"); // not consulted
        let m = check_crew_all_profiles(&path).unwrap();
        assert_eq!(m.profile, None);
        assert_eq!(m.runtime.heartbeat, Duration::from_secs(2));

        let text = format!(
            "{MINIMAL}replicas = {{ min = 1, max = 4 }}\n\n[runtime]\npoll = \"2s\"\n\n[profile.a]\nruntime.poll = \"0s\"\n\n[profile.b.agents.worker]\nbatch = 0\n\n[profile.c]\nrun.priority = \"low\"\n\n[profile.d.agents.worker]\nreplicas.min = 6\n"
        );
        let path = write(dir, &text);
        let err = check_crew_all_profiles(&path).unwrap_err();
        assert_eq!(err.problems.len(), 4, "{err}");
        problem(&err, "profile.a.runtime.poll", 12);
        problem(&err, "profile.b.agents.worker.batch", 15);
        // Profile c adds a [run] without the required capability.
        let p = problem(&err, "profile.c.run.capability", 18);
        assert_eq!(p.message, "is required");
        // A problem of the merged result under a manifest key says which profile caused it.
        let p = problem(&err, "agents[0].replicas", 6);
        assert_eq!(p.message, "min 6 is above max 4 (with profile `d`)");

        // A problem in the manifest itself is reported once, not once per profile.
        let text = format!("{MINIMAL}concurrency = 0\n\n[profile.a]\n[profile.b]\n");
        let path = write(dir, &text);
        let err = check_crew_all_profiles(&path).unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        problem(&err, "agents[0].concurrency", 6);
    });
}
