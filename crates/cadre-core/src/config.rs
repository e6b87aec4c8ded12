//! The typed configuration tree.
//!
//! Loading (defaults < file < profile overlay < `CADRE_*` environment) lives in `cadre-config`;
//! this module only defines the shape, the defaults and the checks that types alone cannot
//! express. Every struct rejects unknown keys, so a typo is an error, not a silent default.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The whole configuration of a cadre node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// This node.
    pub node: NodeConfig,
    /// Logging.
    pub log: LogConfig,
    /// The message bus.
    pub bus: BusConfig,
    /// Profile overlays: `[profile.prod]` holds keys that replace the ones above when the node
    /// runs with `--profile prod` (or `CADRE_PROFILE=prod`). Checked like the rest of the file.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub profile: BTreeMap<String, serde_json::Value>,
}

/// A problem with one configuration key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The dotted key, e.g. `log.level`.
    pub key: String,
    /// What is wrong and what would be right.
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl Config {
    /// Checks what types cannot: names, ranges, filter syntax. Returns every problem found.
    pub fn validate(&self) -> Vec<Invalid> {
        let mut problems = Vec::new();
        if let Err(e) = crate::AgentId::new(&self.node.name) {
            problems.push(Invalid {
                key: "node.name".into(),
                message: e.to_string(),
            });
        }
        if self.node.data_dir.as_os_str().is_empty() {
            problems.push(Invalid {
                key: "node.data_dir".into(),
                message: "must not be empty".into(),
            });
        }
        if let Err(message) = validate_log_filter(&self.log.level) {
            problems.push(Invalid {
                key: "log.level".into(),
                message,
            });
        }
        self.bus.validate(&mut problems);
        problems
    }
}

/// This node's identity and where it keeps its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// The node's name, unique in a cluster (letters, digits and `. - _ : / @`).
    pub name: String,
    /// The local data directory (the embedded database lives here).
    pub data_dir: PathBuf,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            name: "cadre".into(),
            data_dir: PathBuf::from("cadre-data"),
        }
    }
}

/// Which bus backend a node uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BusBackend {
    /// In-process only: fast, nothing survives the process.
    Memory,
    /// The embedded durable default: one SQLite file in the data directory.
    #[default]
    Sqlite,
}

/// The message bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// `sqlite` (durable, the default) or `memory`.
    pub backend: BusBackend,
    /// The SQLite database file; default `<node.data_dir>/cadre.db`.
    pub path: Option<PathBuf>,
    /// How long a delivery stays leased before it may be redelivered, e.g. `"30s"`.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub lease: Duration,
    /// Deliveries without an ack before a message is dead-lettered (at least 1).
    pub max_deliveries: u32,
    /// Duplicates (same idempotency key) inside this window are dropped, e.g. `"10m"`.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub dedupe_window: Duration,
    /// The most unacknowledged deliveries one consumer may hold.
    pub max_in_flight_per_consumer: usize,
    /// The most unfinished messages per consumer group; publishers wait beyond it.
    pub max_backlog: usize,
    /// How long a publisher waits for room before failing with `overloaded`, e.g. `"5s"`.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub publish_timeout: Duration,
    /// A waiting lower-priority message is served after being passed over this many times.
    pub starvation_bound: u32,
    /// Finished messages kept in memory for replay (the sqlite backend replays from disk).
    pub retention: usize,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            backend: BusBackend::Sqlite,
            path: None,
            lease: Duration::from_secs(30),
            max_deliveries: 5,
            dedupe_window: Duration::from_secs(600),
            max_in_flight_per_consumer: 1024,
            max_backlog: 1_000_000,
            publish_timeout: Duration::from_secs(5),
            starvation_bound: 8,
            retention: 10_000,
        }
    }
}

impl BusConfig {
    /// The database file: `path`, or `cadre.db` in the node's data directory.
    pub fn database(&self, node: &NodeConfig) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| node.data_dir.join("cadre.db"))
    }

    fn validate(&self, problems: &mut Vec<Invalid>) {
        let mut check = |ok: bool, key: &str, message: &str| {
            if !ok {
                problems.push(Invalid {
                    key: format!("bus.{key}"),
                    message: message.into(),
                });
            }
        };
        check(!self.lease.is_zero(), "lease", "must be longer than 0s");
        check(
            self.max_deliveries >= 1,
            "max_deliveries",
            "must be at least 1",
        );
        check(
            self.max_in_flight_per_consumer >= 1,
            "max_in_flight_per_consumer",
            "must be at least 1",
        );
        check(self.max_backlog >= 1, "max_backlog", "must be at least 1");
        check(
            self.starvation_bound >= 1,
            "starvation_bound",
            "must be at least 1",
        );
    }
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A level (`error`, `warn`, `info`, `debug`, `trace`, `off`) or a filter such as
    /// `info,cadre_bus=debug`. `RUST_LOG`, when set, takes precedence.
    pub level: String,
    /// `auto` (human, coloured on a terminal), `pretty` or `json` (one JSON object per line).
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Auto,
        }
    }
}

/// How log lines look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable; colours only on a terminal.
    #[default]
    Auto,
    /// Human-readable.
    Pretty,
    /// One JSON object per line, with span fields (trace and correlation ids).
    Json,
}

const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// Checks a tracing filter of the form `level` or `level,target=level,...`.
///
/// # Errors
/// A message naming the directive that is wrong.
pub fn validate_log_filter(filter: &str) -> Result<(), String> {
    if filter.trim().is_empty() {
        return Err("must not be empty; use a level such as `info`".into());
    }
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = match directive.split_once('=') {
            Some((target, level)) => {
                if target.is_empty()
                    || !target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-'))
                {
                    return Err(format!("`{directive}`: `{target}` is not a module path"));
                }
                level
            }
            None => directive,
        };
        if !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level)) {
            return Err(format!(
                "`{directive}`: `{level}` is not a level; use one of {}",
                LEVELS.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(Config::default().validate().is_empty());
    }

    #[test]
    fn validation_names_the_key() {
        let mut c = Config::default();
        c.node.name = "has space".into();
        c.log.level = "info,cadre_bus=loud".into();
        let problems = c.validate();
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["node.name", "log.level"]);
        let mut c = Config::default();
        c.bus.max_deliveries = 0;
        c.bus.lease = Duration::ZERO;
        let keys: Vec<_> = c.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["bus.lease", "bus.max_deliveries"]);
        assert!(problems[1].message.contains("`loud` is not a level"));
    }

    #[test]
    fn log_filters() {
        assert!(validate_log_filter("debug").is_ok());
        assert!(validate_log_filter("warn,cadre_bus=trace,hyper=off").is_ok());
        assert!(validate_log_filter("verbose").is_err());
        assert!(validate_log_filter("").is_err());
        assert!(validate_log_filter("a b=info").is_err());
    }
}
