//! Crew manifests: the TOML file that says which agents a crew runs, how many replicas of
//! each, which bus and store they use, and the entry task `cadre run` submits.
//!
//! # Format
//!
//! ```toml
//! [crew]
//! name = "docs-check"            # required; agent-kind name rules (1 to 255 of a-z A-Z 0-9 . - _ : / @)
//! description = "Checks links"   # optional
//!
//! [bus]        # optional: the keys of the [bus] section of cadre.toml
//! backend = "sqlite"             # sqlite | memory
//! path = "cadre.db"
//! lease = "30s"
//!
//! [store]      # optional
//! url = "sqlite://cadre.db"      # must start with sqlite://, postgres:// or postgresql://
//!
//! [runtime]    # optional; every key has a default (durations are humantime: "1s", "250ms")
//! heartbeat = "1s"               # heartbeat interval (> 0)
//! missed_heartbeats = 3          # >= 1
//! grace = "10s"                  # drain grace period
//! restart_backoff = "100ms"      # first restart delay after a crash; doubles each time
//! restart_backoff_max = "10s"    # >= restart_backoff
//! max_restarts = 5               # more than this many restarts inside restart_window escalates
//! restart_window = "60s"
//! scale_interval = "250ms"       # how often pools look at queue depth (> 0)
//! scale_cooldown = "5s"          # minimum time between two scale-downs of one pool
//! task_attempts = 3              # tries per task for retryable errors (>= 1)
//! poll = "1s"                    # longest an idle replica waits in one fetch (> 0)
//! cache = "0s"                   # results of identical tasks are reused this long (0: off)
//! cache_capacity = 10000         # most results kept (>= 1)
//!
//! [run]        # optional: the entry task `cadre run` submits and waits for
//! capability = "docs.check"      # required in [run]
//! input = { root = "docs" }      # optional, any TOML value, passed on as JSON (default {})
//! timeout = "60s"                # > 0, default 60s
//! priority = "normal"            # low | normal | high | critical, default normal
//!
//! [[agents]]                     # at least one
//! kind = "links"                 # required, unique, agent-kind name rules
//! type = "docs.links"            # optional, defaults to kind: the name in the agent catalog
//! replicas = 2                   # n (min = max = n, 1..=10000) or { min = 0.., max = 1..=10000 }
//! concurrency = 1                # tasks one replica runs at a time, 1..=1024, default 1
//! batch = 16                     # most tasks one replica fetches at once, 1..=1024, default 16
//! stream = "durable"             # durable (the configured bus) | memory (in-process), default durable
//! scale_up_backlog = 8           # queued tasks per replica above which the pool grows, >= 1
//! [agents.config]                # optional free-form table handed to the agent's factory
//! depth = 3
//!
//! [profile.ci]                   # an overlay, applied when the profile `ci` is selected
//! runtime.heartbeat = "200ms"    # any crew/bus/store/runtime/run key, deep-merged
//! [profile.ci.agents.links]      # agent overlays are keyed by kind, merged into that agent
//! replicas = 1
//! ```
//!
//! `replicas` defaults to `{ min = 2, max = 10 }`. In the table form an omitted bound takes its
//! default, clamped so that `min <= max` (`{ max = 1 }` means `{ min = 1, max = 1 }`).
//!
//! # Layers
//!
//! Each section is the manifest's table with the selected profile's overlay deep-merged over it
//! (tables merge key by key; any other value replaces). The profile is the one asked for, else
//! `CADRE_PROFILE`; a name the manifest does not define is an error, except the built-in
//! `dev`, `staging` and `prod`, which are accepted and change nothing when not defined. The bus
//! is layered like `cadre.toml`'s: [`BusConfig::default`] < `[bus]` < `[profile.NAME.bus]` <
//! `CADRE_BUS_*` environment variables (`CADRE_BUS_PATH=/tmp/x.db` sets `bus.path`).
//!
//! # Errors
//!
//! Loading collects every problem it can find into one [`ConfigError`]: unknown keys (anywhere,
//! overlays included), wrong types, values out of range, duplicate agent kinds, overlays for
//! agents that do not exist. Each problem names the key (`agents[1].replicas.min`,
//! `profile.ci.runtime.heartbeat`) and, when the key is written in the file, its line:
//! `crew.toml:12: key `agents[1].replicaz`: unknown key; expected one of: ...`.
//!
//! ```no_run
//! let crew = cadre_config::load_crew(std::path::Path::new("crew.toml"), Some("ci"))?;
//! for agent in &crew.agents {
//!     println!("{} x{}..{}", agent.kind, agent.replicas.min, agent.replicas.max);
//! }
//! # Ok::<(), cadre_config::ConfigError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cadre_core::config::{BusConfig, Config};
use cadre_core::{AgentKind, Priority, REDACTED};
use figment::providers::{Env, Serialized};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::{Serialize, Serializer};
use toml::de::{DeTable, DeValue};

use crate::loader::{from_figment, source_of};
use crate::{BUILTIN_PROFILES, ConfigError, ENV_PREFIX, Problem};

/// The most replicas one agent pool may have.
pub const MAX_REPLICAS: usize = 10_000;
/// The most tasks one replica may run at a time (`concurrency`).
pub const MAX_CONCURRENCY: usize = 1024;
/// The most tasks one replica may fetch at once (`batch`).
pub const MAX_BATCH: usize = 1024;
/// The `[run]` timeout when none is given.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// The store URL schemes accepted in `[store] url`.
pub const STORE_SCHEMES: &[&str] = &["sqlite://", "postgres://", "postgresql://"];

const TOP_KEYS: &[&str] = &[
    "crew", "bus", "store", "runtime", "run", "agents", "profile",
];
const OVERLAY_KEYS: &[&str] = &["crew", "bus", "store", "runtime", "run", "agents"];
const CREW_KEYS: &[&str] = &["name", "description"];
const STORE_KEYS: &[&str] = &["url"];
const RUNTIME_KEYS: &[&str] = &[
    "heartbeat",
    "missed_heartbeats",
    "grace",
    "restart_backoff",
    "restart_backoff_max",
    "max_restarts",
    "restart_window",
    "scale_interval",
    "scale_cooldown",
    "task_attempts",
    "poll",
    "cache",
    "cache_capacity",
];
const RUN_KEYS: &[&str] = &["capability", "input", "timeout", "priority"];
const AGENT_KEYS: &[&str] = &[
    "kind",
    "type",
    "replicas",
    "concurrency",
    "batch",
    "stream",
    "scale_up_backlog",
    "config",
];
const REPLICAS_KEYS: &[&str] = &["min", "max"];
const NO_AGENTS: &str = "a crew needs at least one agent: add an [[agents]] section";

/// A crew manifest, loaded, overlaid with its profile and validated.
#[derive(Debug, Clone, Serialize)]
pub struct CrewManifest {
    /// The manifest file, as given.
    pub path: PathBuf,
    /// The profile applied, if any.
    pub profile: Option<String>,
    /// `[crew]`: the crew's name and description.
    pub crew: CrewSection,
    /// The bus: defaults < `[bus]` < `[profile.NAME.bus]` < `CADRE_BUS_*`.
    pub bus: BusConfig,
    /// Whether the manifest (or the applied profile) has a `[bus]` section; when not, a caller
    /// may prefer the node's own bus configuration.
    pub bus_set: bool,
    /// `[store]`, when given.
    pub store: Option<StoreSection>,
    /// `[runtime]`, with defaults for every key not given.
    pub runtime: RuntimeSection,
    /// `[run]`: the entry task, when given.
    pub run: Option<RunSection>,
    /// `[[agents]]`, in file order; at least one, kinds unique.
    pub agents: Vec<AgentSection>,
}

impl CrewManifest {
    /// The agent of `kind`, if the crew has one.
    pub fn agent(&self, kind: &str) -> Option<&AgentSection> {
        self.agents.iter().find(|a| a.kind.as_str() == kind)
    }
}

/// `[crew]`: who the crew is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrewSection {
    /// The crew's name (agent-kind name rules).
    pub name: AgentKind,
    /// What the crew does.
    pub description: Option<String>,
}

/// `[store]`: where results and state are kept.
///
/// `Debug` and `Serialize` hide a password in the URL; [`StoreSection::url`] holds it as written.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreSection {
    /// `sqlite://...`, `postgres://...` or `postgresql://...`.
    pub url: String,
}

impl StoreSection {
    /// The URL with any password (in the user info or a `password=` query parameter) replaced
    /// by `[redacted]`, for printing.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl fmt::Debug for StoreSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSection")
            .field("url", &self.redacted_url())
            .finish()
    }
}

impl Serialize for StoreSection {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct("StoreSection", 1)?;
        s.serialize_field("url", &self.redacted_url())?;
        s.end()
    }
}

/// `[runtime]`: supervision, scaling and fetching, the same for every agent of the crew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuntimeSection {
    /// How often a replica reports it is alive (> 0).
    #[serde(serialize_with = "ser_duration")]
    pub heartbeat: Duration,
    /// Heartbeats missed in a row before a replica counts as dead (>= 1).
    pub missed_heartbeats: u32,
    /// How long a draining replica may take to finish its tasks.
    #[serde(serialize_with = "ser_duration")]
    pub grace: Duration,
    /// The first restart delay after a crash; it doubles with each restart.
    #[serde(serialize_with = "ser_duration")]
    pub restart_backoff: Duration,
    /// The longest restart delay (>= `restart_backoff`).
    #[serde(serialize_with = "ser_duration")]
    pub restart_backoff_max: Duration,
    /// More restarts than this inside `restart_window` escalate.
    pub max_restarts: u32,
    /// The window `max_restarts` is counted in.
    #[serde(serialize_with = "ser_duration")]
    pub restart_window: Duration,
    /// How often pools look at queue depth (> 0).
    #[serde(serialize_with = "ser_duration")]
    pub scale_interval: Duration,
    /// The least time between two scale-downs of one pool.
    #[serde(serialize_with = "ser_duration")]
    pub scale_cooldown: Duration,
    /// Tries per task for retryable errors (>= 1).
    pub task_attempts: u32,
    /// The longest an idle replica waits in one fetch (> 0).
    #[serde(serialize_with = "ser_duration")]
    pub poll: Duration,
    /// How long the result of a task is reused for an identical task (same capability and
    /// input); zero turns the result cache off.
    #[serde(serialize_with = "ser_duration")]
    pub cache: Duration,
    /// The most results the cache keeps (>= 1).
    pub cache_capacity: u32,
}

impl Default for RuntimeSection {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(1),
            missed_heartbeats: 3,
            grace: Duration::from_secs(10),
            restart_backoff: Duration::from_millis(100),
            restart_backoff_max: Duration::from_secs(10),
            max_restarts: 5,
            restart_window: Duration::from_secs(60),
            scale_interval: Duration::from_millis(250),
            scale_cooldown: Duration::from_secs(5),
            task_attempts: 3,
            poll: Duration::from_secs(1),
            cache: Duration::ZERO,
            cache_capacity: 10_000,
        }
    }
}

/// `[run]`: the entry task `cadre run` submits and waits for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSection {
    /// The capability the task needs.
    pub capability: String,
    /// The task's input (an empty object when not given).
    pub input: serde_json::Value,
    /// How long `cadre run` waits for the outcome.
    #[serde(serialize_with = "ser_duration")]
    pub timeout: Duration,
    /// The task's priority.
    pub priority: Priority,
}

/// One `[[agents]]` entry: a pool of replicas of one agent implementation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentSection {
    /// The agent kind, unique in the crew; replicas of a kind share a consumer group.
    pub kind: AgentKind,
    /// The implementation's name in the agent catalog (`type` in TOML; defaults to `kind`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// How many replicas the pool may run.
    pub replicas: Replicas,
    /// Tasks one replica runs at a time.
    pub concurrency: usize,
    /// The most tasks one replica fetches at once.
    pub batch: usize,
    /// Where the agent's tasks travel.
    pub stream: StreamMode,
    /// Queued tasks per replica above which the pool grows.
    pub scale_up_backlog: usize,
    /// Free-form settings handed to the agent's factory.
    pub config: toml::Table,
}

/// The bounds of an agent pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Replicas {
    /// The fewest replicas (may be 0: the pool scales to zero when idle).
    pub min: usize,
    /// The most replicas (1..=10000).
    pub max: usize,
}

impl Replicas {
    /// Exactly `n` replicas.
    pub const fn fixed(n: usize) -> Self {
        Self { min: n, max: n }
    }
}

impl Default for Replicas {
    fn default() -> Self {
        Self { min: 2, max: 10 }
    }
}

/// Where an agent's tasks travel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamMode {
    /// Through the configured bus: survives crashes.
    #[default]
    Durable,
    /// Through an in-process channel: fast, lost with the process.
    Memory,
}

impl StreamMode {
    /// The name used in manifests.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Durable => "durable",
            Self::Memory => "memory",
        }
    }
}

impl fmt::Display for StreamMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Loads, overlays and validates the crew manifest at `path`.
///
/// `profile` selects the `[profile.NAME]` overlay; when `None`, `CADRE_PROFILE` (if set and not
/// empty) does.
///
/// # Errors
/// [`ConfigError`] with every problem found: unreadable file, TOML syntax, unknown keys, wrong
/// types, invalid values, duplicate agent kinds, unknown profile or overlay target. Each problem
/// names the key and, when the key is written in the file, its line.
pub fn load_crew(path: &Path, profile: Option<&str>) -> Result<CrewManifest, ConfigError> {
    let profile = profile.map(str::to_owned).or_else(|| {
        std::env::var("CADRE_PROFILE")
            .ok()
            .filter(|p| !p.is_empty())
    });
    Document::read(path)?.resolve(profile.as_deref())
}

/// Loads the manifest with no profile and once with each profile it defines, so a mistake in
/// any overlay is found. Returns the manifest without a profile.
///
/// `CADRE_PROFILE` is not consulted. `CADRE_BUS_*` variables apply as in [`load_crew`].
///
/// # Errors
/// Every problem of every combination; a problem that only appears with a profile says which.
pub fn check_crew_all_profiles(path: &Path) -> Result<CrewManifest, ConfigError> {
    let doc = Document::read(path)?;
    let base = doc.resolve(None);
    let base_problems = match &base {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.clone(),
    };
    let mut problems = base_problems.clone();
    for name in doc.profile_names() {
        let Err(e) = doc.resolve(Some(&name)) else {
            continue;
        };
        for mut p in e.problems {
            if base_problems.contains(&p) {
                continue;
            }
            if !p.key.as_deref().is_some_and(|k| k.starts_with("profile.")) {
                p.message = format!("{} (with profile `{name}`)", p.message);
            }
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
    }
    match base {
        Ok(manifest) if problems.is_empty() => Ok(manifest),
        _ => Err(ConfigError { problems }),
    }
}

// ---------------------------------------------------------------------------------------------
// The parsed document: a tree of values, each knowing its key path and line.

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A key path such as `agents[1].replicas.min`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct KeyPath(Vec<Seg>);

impl KeyPath {
    fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        Self(segs)
    }

    fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        Self(segs)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(n) => write!(f, "[{n}]")?,
                Seg::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A value of the manifest with where it is written.
#[derive(Debug, Clone)]
struct Node {
    /// The key path as written in the file (overlay values keep their `profile.NAME...` path).
    path: KeyPath,
    /// The 1-based line of the key (or of the `[[table]]` header for array elements).
    line: Option<usize>,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Table(Vec<(String, Node)>),
    Array(Vec<Node>),
    Scalar(toml::Value),
}

impl Node {
    fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Table(_) => "table",
            Kind::Array(_) => "array",
            Kind::Scalar(v) => v.type_str(),
        }
    }

    fn entries(&self) -> Option<&[(String, Node)]> {
        match &self.kind {
            Kind::Table(entries) => Some(entries),
            _ => None,
        }
    }

    fn get(&self, key: &str) -> Option<&Node> {
        get(self.entries()?, key)
    }

    fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(toml::Value::String(s)) => Some(s),
            _ => None,
        }
    }

    fn to_toml(&self) -> toml::Value {
        match &self.kind {
            Kind::Table(entries) => toml::Value::Table(
                entries
                    .iter()
                    .map(|(k, n)| (k.clone(), n.to_toml()))
                    .collect(),
            ),
            Kind::Array(items) => toml::Value::Array(items.iter().map(Node::to_toml).collect()),
            Kind::Scalar(v) => v.clone(),
        }
    }
}

fn get<'n>(entries: &'n [(String, Node)], key: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k == key).map(|(_, n)| n)
}

fn line_at(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |s| s.matches('\n').count()) + 1
}

fn build(text: &str, value: toml::Value, de: Option<&DeValue<'_>>, path: KeyPath) -> Kind {
    match value {
        toml::Value::Table(table) => {
            let spans = de.and_then(DeValue::as_table);
            Kind::Table(build_table(text, table, spans, &path))
        }
        toml::Value::Array(items) => {
            let spans = de.and_then(DeValue::as_array);
            Kind::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let span = spans.and_then(|a| a.get(i));
                        let path = path.index(i);
                        Node {
                            line: span.map(|s| line_at(text, s.span().start)),
                            kind: build(text, item, span.map(|s| s.get_ref()), path.clone()),
                            path,
                        }
                    })
                    .collect(),
            )
        }
        scalar => Kind::Scalar(scalar),
    }
}

fn build_table(
    text: &str,
    table: toml::Table,
    spans: Option<&DeTable<'_>>,
    path: &KeyPath,
) -> Vec<(String, Node)> {
    let mut entries: Vec<(String, Node)> = table
        .into_iter()
        .map(|(key, value)| {
            let span = spans.and_then(|t| t.iter().find(|(k, _)| k.get_ref().as_ref() == key));
            let path = path.key(&key);
            let node = Node {
                line: span.map(|(k, _)| line_at(text, k.span().start)),
                kind: build(text, value, span.map(|(_, v)| v.get_ref()), path.clone()),
                path,
            };
            (key, node)
        })
        .collect();
    entries.sort_by_key(|(_, n)| n.line.unwrap_or(usize::MAX));
    entries
}

/// Deep-merges `overlay` into `base`: tables key by key, anything else replaced.
fn merge(base: &mut Node, overlay: &Node) {
    match (&mut base.kind, &overlay.kind) {
        (Kind::Table(entries), Kind::Table(over)) => {
            for (key, value) in over {
                match entries.iter_mut().find(|(k, _)| k == key) {
                    Some((_, existing)) => merge(existing, value),
                    None => entries.push((key.clone(), value.clone())),
                }
            }
        }
        _ => *base = overlay.clone(),
    }
}

fn layered(base: Option<&Node>, overlay: Option<&Node>) -> Option<Node> {
    match (base, overlay) {
        (Some(base), Some(overlay)) => {
            let mut merged = base.clone();
            merge(&mut merged, overlay);
            Some(merged)
        }
        (Some(node), None) | (None, Some(node)) => Some(node.clone()),
        (None, None) => None,
    }
}

struct Document {
    path: PathBuf,
    source: String,
    root: Node,
}

impl Document {
    fn read(path: &Path) -> Result<Self, ConfigError> {
        let source = path.display().to_string();
        let fail = |line: Option<usize>, message: String| ConfigError {
            problems: vec![Problem {
                key: None,
                source: Some(source.clone()),
                line,
                message,
            }],
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(None, format!("cannot read the file: {e}")))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| {
            fail(
                e.span().map(|s| line_at(&text, s.start)),
                format!("invalid TOML: {}", e.message().trim_end()),
            )
        })?;
        let spans = DeTable::parse(&text).ok();
        let root = Node {
            path: KeyPath::default(),
            line: None,
            kind: Kind::Table(build_table(
                &text,
                table,
                spans.as_ref().map(|s| s.get_ref()),
                &KeyPath::default(),
            )),
        };
        Ok(Self {
            path: path.to_owned(),
            source,
            root,
        })
    }

    fn profile_names(&self) -> Vec<String> {
        self.root
            .get("profile")
            .and_then(Node::entries)
            .map(|e| e.iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default()
    }

    fn resolve(&self, profile: Option<&str>) -> Result<CrewManifest, ConfigError> {
        let mut ck = Check {
            source: &self.source,
            problems: Vec::new(),
        };
        let top = ck.table(&self.root, TOP_KEYS).unwrap_or_default();

        // Profiles: a table of tables; only the selected one is looked into.
        let profiles = get(top, "profile");
        if let Some(node) = profiles {
            match node.entries() {
                Some(entries) => {
                    for (_, p) in entries {
                        if p.entries().is_none() {
                            ck.at(p, format!("must be a table, found {}", p.type_name()));
                        }
                    }
                }
                None => ck.at(
                    node,
                    format!(
                        "must be a table of profiles ([profile.NAME]), found {}",
                        node.type_name()
                    ),
                ),
            }
        }
        let overlay = match profile {
            None => None,
            Some(name) => match profiles.and_then(|p| p.get(name)) {
                Some(node) => Some(node),
                None if BUILTIN_PROFILES.contains(&name) => None,
                None => return Err(self.unknown_profile(name)),
            },
        };
        let overlay: &[(String, Node)] = overlay
            .and_then(|o| ck.table(o, OVERLAY_KEYS))
            .unwrap_or_default();
        let section = |name: &str| layered(get(top, name), get(overlay, name));

        let crew = match section("crew") {
            Some(node) => parse_crew(&mut ck, &node),
            None => {
                ck.push(
                    &KeyPath::default().key("crew"),
                    None,
                    "is required: add a [crew] section with a `name`",
                );
                None
            }
        };
        let bus_base = get(top, "bus");
        let bus_overlay = get(overlay, "bus");
        let bus = self.resolve_bus(&mut ck, bus_base, bus_overlay);
        let store = section("store").and_then(|n| parse_store(&mut ck, &n));
        let runtime = parse_runtime(&mut ck, section("runtime").as_ref());
        let run = section("run").and_then(|n| parse_run(&mut ck, &n));
        let agents = parse_agents(&mut ck, get(top, "agents"), get(overlay, "agents"));

        match (crew, agents) {
            (Some(crew), Some(agents)) if ck.problems.is_empty() => Ok(CrewManifest {
                path: self.path.clone(),
                profile: profile.map(str::to_owned),
                crew,
                bus,
                bus_set: bus_base.is_some() || bus_overlay.is_some(),
                store,
                runtime,
                run,
                agents,
            }),
            _ => {
                if ck.problems.is_empty() {
                    ck.push(&KeyPath::default(), None, "invalid crew manifest");
                }
                Err(ConfigError {
                    problems: ck.problems,
                })
            }
        }
    }

    fn unknown_profile(&self, name: &str) -> ConfigError {
        let defined = self.profile_names();
        let listed = if defined.is_empty() {
            "the manifest defines none".to_owned()
        } else {
            format!("defined profiles: {}", defined.join(", "))
        };
        ConfigError {
            problems: vec![Problem {
                key: Some(KeyPath::default().key("profile").key(name).to_string()),
                source: Some(self.source.clone()),
                line: None,
                message: format!(
                    "profile `{name}` is not defined; {listed} (the built-in {} need no overlay)",
                    BUILTIN_PROFILES.join(", ")
                ),
            }],
        }
    }

    /// Layers the bus with figment, exactly as the node configuration does.
    fn resolve_bus(
        &self,
        ck: &mut Check<'_>,
        base: Option<&Node>,
        overlay: Option<&Node>,
    ) -> BusConfig {
        let mut figment = Figment::from(Serialized::default("bus", BusConfig::default()));
        for node in [base, overlay].into_iter().flatten() {
            if node.entries().is_some() {
                figment = figment.merge(ManifestLayer {
                    path: self.path.clone(),
                    value: node.to_toml(),
                });
            } else {
                ck.at(node, format!("must be a table, found {}", node.type_name()));
            }
        }
        let figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .filter(|k| k.as_str().to_ascii_lowercase().starts_with("bus_"))
                // `CADRE_BUS_MAX_DELIVERIES` -> `bus.max_deliveries`, as the node loader maps it.
                .map(|k| k.as_str().replacen('_', ".", 1).into()),
        );
        let locate = |mut p: Problem| {
            if p.source.as_deref() != Some(self.source.as_str()) {
                return p;
            }
            let Some(key) = p.key.as_deref() else {
                return p;
            };
            let rest = key.strip_prefix("bus").unwrap_or(key);
            let found = [overlay, base].into_iter().flatten().find_map(|node| {
                match rest.strip_prefix('.') {
                    Some(field) => node.get(field),
                    None if rest.is_empty() => Some(node),
                    None => None,
                }
            });
            if let Some(node) = found {
                p.key = Some(node.path.to_string());
                p.line = node.line;
            }
            p
        };
        match figment.extract::<BusOnly>() {
            Ok(BusOnly { bus }) => {
                let config = Config {
                    bus: bus.clone(),
                    ..Config::default()
                };
                for invalid in config.validate() {
                    if invalid.key.starts_with("bus.") {
                        ck.problems.push(locate(Problem {
                            source: source_of(&figment, &invalid.key),
                            key: Some(invalid.key),
                            line: None,
                            message: invalid.message,
                        }));
                    }
                }
                bus
            }
            Err(e) => {
                for p in from_figment(e, &figment).problems {
                    ck.problems.push(locate(p));
                }
                BusConfig::default()
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct BusOnly {
    bus: BusConfig,
}

/// One `[bus]` table of the manifest, as a figment provider whose source is the file.
#[derive(Debug)]
struct ManifestLayer {
    path: PathBuf,
    value: toml::Value,
}

impl Provider for ManifestLayer {
    fn metadata(&self) -> Metadata {
        Metadata::from("crew manifest", Source::File(self.path.clone()))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::default("bus", &self.value).data()
    }
}

// ---------------------------------------------------------------------------------------------
// Checking: typed readers that record a problem and return `None` on a bad value.

struct Check<'a> {
    source: &'a str,
    problems: Vec<Problem>,
}

impl Check<'_> {
    fn push(&mut self, path: &KeyPath, line: Option<usize>, message: impl Into<String>) {
        let key = path.to_string();
        self.problems.push(Problem {
            key: (!key.is_empty()).then_some(key),
            source: Some(self.source.to_owned()),
            line,
            message: message.into(),
        });
    }

    fn at(&mut self, node: &Node, message: impl Into<String>) {
        self.push(&node.path, node.line, message);
    }

    /// A required key is missing from `parent`: named under the parent, at the parent's line.
    fn missing(&mut self, parent: &Node, key: &str) {
        self.push(&parent.path.key(key), parent.line, "is required");
    }

    /// The entries of a table, reporting keys not in `allowed`.
    fn table<'n>(&mut self, node: &'n Node, allowed: &[&str]) -> Option<&'n [(String, Node)]> {
        let Some(entries) = node.entries() else {
            self.at(node, format!("must be a table, found {}", node.type_name()));
            return None;
        };
        for (key, value) in entries {
            if !allowed.contains(&key.as_str()) {
                self.at(
                    value,
                    format!("unknown key; expected one of: {}", allowed.join(", ")),
                );
            }
        }
        Some(entries)
    }

    fn string(&mut self, node: &Node) -> Option<String> {
        match node.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                self.at(
                    node,
                    format!("expected a string, found {}", node.type_name()),
                );
                None
            }
        }
    }

    fn agent_kind(&mut self, node: &Node) -> Option<AgentKind> {
        let s = self.string(node)?;
        AgentKind::new(&s)
            .map_err(|e| self.at(node, e.to_string()))
            .ok()
    }

    fn integer(&mut self, node: &Node, lo: i64, hi: i64) -> Option<i64> {
        let Kind::Scalar(toml::Value::Integer(n)) = node.kind else {
            self.at(
                node,
                format!("expected an integer, found {}", node.type_name()),
            );
            return None;
        };
        if (lo..=hi).contains(&n) {
            return Some(n);
        }
        let message = if hi <= 1_000_000 {
            format!("must be between {lo} and {hi}, not {n}")
        } else if n < lo {
            format!("must be at least {lo}, not {n}")
        } else {
            format!("must be at most {hi}, not {n}")
        };
        self.at(node, message);
        None
    }

    fn u32(&mut self, node: &Node, lo: u32) -> Option<u32> {
        self.integer(node, lo.into(), u32::MAX.into())
            .and_then(|n| u32::try_from(n).ok())
    }

    fn usize(&mut self, node: &Node, lo: usize, hi: usize) -> Option<usize> {
        let lo64 = i64::try_from(lo).unwrap_or(i64::MAX);
        let hi64 = i64::try_from(hi).unwrap_or(i64::MAX);
        let n = self.integer(node, lo64, hi64)?;
        match usize::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                self.at(node, format!("{n} is too large for this platform"));
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, positive: bool) -> Option<Duration> {
        let Some(text) = node.as_str() else {
            self.at(
                node,
                format!(
                    "expected a duration such as \"1s\" or \"250ms\", found {}",
                    node.type_name()
                ),
            );
            return None;
        };
        match humantime::parse_duration(text) {
            Ok(d) if positive && d.is_zero() => {
                self.at(node, "must be longer than 0s");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.at(
                    node,
                    format!("`{text}` is not a duration ({e}); use e.g. \"1s\" or \"250ms\""),
                );
                None
            }
        }
    }

    fn json(&mut self, node: &Node) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        Some(match &node.kind {
            Kind::Table(entries) => {
                let mut map = serde_json::Map::new();
                let mut ok = true;
                for (k, v) in entries {
                    match self.json(v) {
                        Some(j) => {
                            map.insert(k.clone(), j);
                        }
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                J::Object(map)
            }
            Kind::Array(items) => {
                let items: Vec<_> = items.iter().map(|i| self.json(i)).collect();
                J::Array(items.into_iter().collect::<Option<_>>()?)
            }
            Kind::Scalar(toml::Value::String(s)) => J::String(s.clone()),
            Kind::Scalar(toml::Value::Integer(n)) => J::from(*n),
            Kind::Scalar(toml::Value::Boolean(b)) => J::Bool(*b),
            Kind::Scalar(toml::Value::Datetime(d)) => J::String(d.to_string()),
            Kind::Scalar(toml::Value::Float(f)) => match serde_json::Number::from_f64(*f) {
                Some(n) => J::Number(n),
                None => {
                    self.at(node, format!("{f} cannot be represented in JSON"));
                    return None;
                }
            },
            Kind::Scalar(_) => {
                self.at(node, "this value cannot be represented in JSON");
                return None;
            }
        })
    }
}

fn parse_crew(ck: &mut Check<'_>, node: &Node) -> Option<CrewSection> {
    let entries = ck.table(node, CREW_KEYS)?;
    let name = match get(entries, "name") {
        Some(n) => ck.agent_kind(n),
        None => {
            ck.missing(node, "name");
            None
        }
    };
    let description = get(entries, "description").and_then(|n| ck.string(n));
    Some(CrewSection {
        name: name?,
        description,
    })
}

fn parse_store(ck: &mut Check<'_>, node: &Node) -> Option<StoreSection> {
    let entries = ck.table(node, STORE_KEYS)?;
    let Some(url_node) = get(entries, "url") else {
        ck.missing(node, "url");
        return None;
    };
    let url = ck.string(url_node)?;
    if !STORE_SCHEMES.iter().any(|s| url.starts_with(s)) {
        ck.at(
            url_node,
            format!(
                "`{}` is not a supported store URL; it must start with {}",
                redact_url(&url),
                STORE_SCHEMES.join(", ")
            ),
        );
        return None;
    }
    Some(StoreSection { url })
}

fn parse_runtime(ck: &mut Check<'_>, node: Option<&Node>) -> RuntimeSection {
    let d = RuntimeSection::default();
    let entries = node
        .and_then(|n| ck.table(n, RUNTIME_KEYS))
        .unwrap_or_default();
    let dur = |ck: &mut Check<'_>, key: &str, default: Duration, positive: bool| {
        get(entries, key).map_or(Some(default), |n| ck.duration(n, positive))
    };
    let count = |ck: &mut Check<'_>, key: &str, default: u32, lo: u32| {
        get(entries, key).map_or(Some(default), |n| ck.u32(n, lo))
    };
    let heartbeat = dur(ck, "heartbeat", d.heartbeat, true);
    let missed_heartbeats = count(ck, "missed_heartbeats", d.missed_heartbeats, 1);
    let grace = dur(ck, "grace", d.grace, false);
    let restart_backoff = dur(ck, "restart_backoff", d.restart_backoff, false);
    let restart_backoff_max = dur(ck, "restart_backoff_max", d.restart_backoff_max, false);
    let max_restarts = count(ck, "max_restarts", d.max_restarts, 0);
    let restart_window = dur(ck, "restart_window", d.restart_window, false);
    let scale_interval = dur(ck, "scale_interval", d.scale_interval, true);
    let scale_cooldown = dur(ck, "scale_cooldown", d.scale_cooldown, false);
    let task_attempts = count(ck, "task_attempts", d.task_attempts, 1);
    let poll = dur(ck, "poll", d.poll, true);
    let cache = dur(ck, "cache", d.cache, false);
    let cache_capacity = count(ck, "cache_capacity", d.cache_capacity, 1);
    if let (Some(first), Some(max)) = (restart_backoff, restart_backoff_max)
        && max < first
    {
        let message = format!(
            "{} is below restart_backoff {}; the longest delay cannot be shorter than the first",
            humantime::format_duration(max),
            humantime::format_duration(first)
        );
        match get(entries, "restart_backoff_max").or_else(|| get(entries, "restart_backoff")) {
            Some(n) => ck.at(n, message),
            None => ck.push(&KeyPath::default().key("runtime"), None, message),
        }
    }
    RuntimeSection {
        heartbeat: heartbeat.unwrap_or(d.heartbeat),
        missed_heartbeats: missed_heartbeats.unwrap_or(d.missed_heartbeats),
        grace: grace.unwrap_or(d.grace),
        restart_backoff: restart_backoff.unwrap_or(d.restart_backoff),
        restart_backoff_max: restart_backoff_max.unwrap_or(d.restart_backoff_max),
        max_restarts: max_restarts.unwrap_or(d.max_restarts),
        restart_window: restart_window.unwrap_or(d.restart_window),
        scale_interval: scale_interval.unwrap_or(d.scale_interval),
        scale_cooldown: scale_cooldown.unwrap_or(d.scale_cooldown),
        task_attempts: task_attempts.unwrap_or(d.task_attempts),
        poll: poll.unwrap_or(d.poll),
        cache: cache.unwrap_or(d.cache),
        cache_capacity: cache_capacity.unwrap_or(d.cache_capacity),
    }
}

fn parse_run(ck: &mut Check<'_>, node: &Node) -> Option<RunSection> {
    let entries = ck.table(node, RUN_KEYS)?;
    let capability = match get(entries, "capability") {
        Some(n) => ck.string(n).and_then(|s| {
            if s.trim().is_empty() {
                ck.at(n, "must not be empty");
                None
            } else {
                Some(s)
            }
        }),
        None => {
            ck.missing(node, "capability");
            None
        }
    };
    let input = match get(entries, "input") {
        Some(n) => ck.json(n),
        None => Some(serde_json::Value::Object(serde_json::Map::new())),
    };
    let timeout =
        get(entries, "timeout").map_or(Some(DEFAULT_RUN_TIMEOUT), |n| ck.duration(n, true));
    let priority = match get(entries, "priority") {
        None => Some(Priority::default()),
        Some(n) => ck.string(n).and_then(|s| match s.parse::<Priority>() {
            Ok(p) => Some(p),
            Err(_) => {
                ck.at(
                    n,
                    format!("`{s}` is not a priority; use low, normal, high or critical"),
                );
                None
            }
        }),
    };
    Some(RunSection {
        capability: capability?,
        input: input?,
        timeout: timeout?,
        priority: priority?,
    })
}

/// The agents, with the profile's per-kind overlays merged in. `None` when any is invalid.
fn parse_agents(
    ck: &mut Check<'_>,
    base: Option<&Node>,
    overlay: Option<&Node>,
) -> Option<Vec<AgentSection>> {
    let mut nodes: Vec<Node> = match base {
        None => {
            ck.push(&KeyPath::default().key("agents"), None, NO_AGENTS);
            Vec::new()
        }
        Some(node) => match &node.kind {
            Kind::Array(items) => {
                if items.is_empty() {
                    ck.at(node, NO_AGENTS);
                }
                items.clone()
            }
            _ => {
                ck.at(
                    node,
                    format!(
                        "must be an array of tables (write each agent as [[agents]]), found {}",
                        node.type_name()
                    ),
                );
                Vec::new()
            }
        },
    };

    let kind_of = |n: &Node| n.get("kind").and_then(Node::as_str).map(str::to_owned);
    if let Some(overlay) = overlay {
        if let Some(entries) = overlay.entries() {
            let mut kinds: Vec<String> = Vec::new();
            for kind in nodes.iter().filter_map(kind_of) {
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            for (kind, over) in entries {
                let Some(target) = nodes
                    .iter_mut()
                    .find(|n| kind_of(n).as_deref() == Some(kind.as_str()))
                else {
                    let known = if kinds.is_empty() {
                        "the crew has none".to_owned()
                    } else {
                        format!("the crew's kinds are: {}", kinds.join(", "))
                    };
                    ck.at(
                        over,
                        format!("no agent of kind `{kind}` to overlay; {known}"),
                    );
                    continue;
                };
                let Some(over_entries) = over.entries() else {
                    ck.at(
                        over,
                        format!("must be a table of agent keys, found {}", over.type_name()),
                    );
                    continue;
                };
                let mut over = over.clone();
                if let Some((_, k)) = over_entries.iter().find(|(k, _)| k == "kind") {
                    ck.at(k, "a profile cannot change an agent's kind");
                    if let Kind::Table(e) = &mut over.kind {
                        e.retain(|(k, _)| k != "kind");
                    }
                }
                merge(target, &over);
            }
        } else {
            ck.at(
                overlay,
                format!(
                    "must be a table of overlays keyed by agent kind ([profile.NAME.agents.KIND]), found {}",
                    overlay.type_name()
                ),
            );
        }
    }

    let agents: Vec<Option<AgentSection>> = nodes.iter().map(|n| parse_agent(ck, n)).collect();

    let mut first: BTreeMap<String, usize> = BTreeMap::new();
    for (i, node) in nodes.iter().enumerate() {
        let (Some(kind), Some(kind_node)) = (kind_of(node), node.get("kind")) else {
            continue;
        };
        match first.get(&kind) {
            Some(&j) => ck.at(
                kind_node,
                format!(
                    "agent kind `{kind}` is used by both agents[{j}] and agents[{i}]; kinds must be unique"
                ),
            ),
            None => {
                first.insert(kind, i);
            }
        }
    }
    if nodes.is_empty() {
        return None;
    }
    agents.into_iter().collect()
}

fn parse_agent(ck: &mut Check<'_>, node: &Node) -> Option<AgentSection> {
    let entries = ck.table(node, AGENT_KEYS)?;
    let kind = match get(entries, "kind") {
        Some(n) => ck.agent_kind(n),
        None => {
            ck.missing(node, "kind");
            None
        }
    };
    let type_name = match get(entries, "type") {
        Some(n) => ck.string(n).and_then(|s| {
            if s.trim().is_empty() {
                ck.at(n, "must not be empty; omit it to use the kind");
                None
            } else {
                Some(s)
            }
        }),
        None => kind.as_ref().map(ToString::to_string),
    };
    let replicas = match get(entries, "replicas") {
        Some(n) => parse_replicas(ck, n),
        None => Some(Replicas::default()),
    };
    let mut bounded = |key: &str, default: usize, lo: usize, hi: usize| match get(entries, key) {
        Some(n) => ck.usize(n, lo, hi),
        None => Some(default),
    };
    let concurrency = bounded("concurrency", 1, 1, MAX_CONCURRENCY);
    let batch = bounded("batch", 16, 1, MAX_BATCH);
    let scale_up_backlog = bounded("scale_up_backlog", 8, 1, usize::MAX);
    let stream = match get(entries, "stream") {
        None => Some(StreamMode::default()),
        Some(n) => ck.string(n).and_then(|s| match s.as_str() {
            "durable" => Some(StreamMode::Durable),
            "memory" => Some(StreamMode::Memory),
            _ => {
                ck.at(
                    n,
                    format!("`{s}` is not a stream mode; use durable or memory"),
                );
                None
            }
        }),
    };
    let config = match get(entries, "config") {
        None => Some(toml::Table::new()),
        Some(n) => match n.to_toml() {
            toml::Value::Table(t) => Some(t),
            _ => {
                ck.at(n, format!("must be a table, found {}", n.type_name()));
                None
            }
        },
    };
    Some(AgentSection {
        kind: kind?,
        type_name: type_name?,
        replicas: replicas?,
        concurrency: concurrency?,
        batch: batch?,
        stream: stream?,
        scale_up_backlog: scale_up_backlog?,
        config: config?,
    })
}

fn parse_replicas(ck: &mut Check<'_>, node: &Node) -> Option<Replicas> {
    match &node.kind {
        Kind::Scalar(toml::Value::Integer(n)) => {
            if (1..=MAX_REPLICAS as i64).contains(n) {
                usize::try_from(*n).ok().map(Replicas::fixed)
            } else {
                ck.at(
                    node,
                    format!(
                        "must be between 1 and {MAX_REPLICAS}, not {n} (use {{ min = 0, max = N }} to let the pool scale to zero)"
                    ),
                );
                None
            }
        }
        Kind::Table(_) => {
            let entries = ck.table(node, REPLICAS_KEYS)?;
            let min = get(entries, "min").map(|n| ck.usize(n, 0, MAX_REPLICAS));
            let max = get(entries, "max").map(|n| ck.usize(n, 1, MAX_REPLICAS));
            let d = Replicas::default();
            let (min, max) = match (min, max) {
                (Some(min), Some(max)) => (min?, max?),
                (Some(min), None) => {
                    let min = min?;
                    (min, d.max.max(min).max(1))
                }
                (None, Some(max)) => {
                    let max = max?;
                    (d.min.min(max), max)
                }
                (None, None) => (d.min, d.max),
            };
            if min > max {
                ck.at(node, format!("min {min} is above max {max}"));
                return None;
            }
            Some(Replicas { min, max })
        }
        _ => {
            ck.at(
                node,
                format!(
                    "expected an integer or a table {{ min, max }}, found {}",
                    node.type_name()
                ),
            );
            None
        }
    }
}

fn ser_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

/// Replaces a password in a URL's user info or `password=` query parameter.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:{REDACTED}@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => {
                        format!("{k}={REDACTED}")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Node {
        let table: toml::Table = toml::from_str(text).unwrap();
        let spans = DeTable::parse(text).unwrap();
        Node {
            path: KeyPath::default(),
            line: None,
            kind: Kind::Table(build_table(
                text,
                table,
                Some(spans.get_ref()),
                &KeyPath::default(),
            )),
        }
    }

    #[test]
    fn key_paths_render_indexes_and_quote_odd_keys() {
        let p = KeyPath::default()
            .key("agents")
            .index(1)
            .key("replicas")
            .key("min");
        assert_eq!(p.to_string(), "agents[1].replicas.min");
        let p = KeyPath::default()
            .key("profile")
            .key("ci")
            .key("agents")
            .key("docs.links");
        assert_eq!(p.to_string(), "profile.ci.agents.\"docs.links\"");
        assert_eq!(KeyPath::default().to_string(), "");
    }

    #[test]
    fn nodes_know_their_paths_and_lines() {
        let root = doc(
            "[crew]\nname = \"x\"\n\n[[agents]]\nkind = \"a\"\n\n[[agents]]\nkind = \"b\"\nreplicas = { min = 1 }\n",
        );
        let agents = root.get("agents").unwrap();
        let Kind::Array(items) = &agents.kind else {
            panic!("agents is not an array")
        };
        assert_eq!(items[0].line, Some(4));
        assert_eq!(items[1].line, Some(7));
        let min = items[1].get("replicas").unwrap().get("min").unwrap();
        assert_eq!(min.path.to_string(), "agents[1].replicas.min");
        assert_eq!(min.line, Some(9));
        assert_eq!(root.get("crew").unwrap().get("name").unwrap().line, Some(2));
    }

    #[test]
    fn merge_is_deep_for_tables_and_replaces_other_values() {
        let root = doc(
            "[a]\nx = 1\nt = { p = 1, q = 2 }\nr = { min = 1 }\n[o]\nx = 2\nt = { q = 3 }\nr = 4\nn = 5\n",
        );
        let merged = layered(root.get("a"), root.get("o")).unwrap();
        let merged_value = merged.to_toml();
        let expected: toml::Value =
            toml::from_str::<toml::Table>("x = 2\nt = { p = 1, q = 3 }\nr = 4\nn = 5\n")
                .unwrap()
                .into();
        assert_eq!(merged_value, expected);
        // Values keep the path they were written at.
        assert_eq!(merged.get("x").unwrap().path.to_string(), "o.x");
        assert_eq!(
            merged.get("t").unwrap().get("p").unwrap().path.to_string(),
            "a.t.p"
        );
        assert_eq!(merged.get("n").unwrap().line, Some(9));
    }

    #[test]
    fn urls_are_redacted_for_display() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/cadre?sslmode=require&password=x"),
            "postgres://app:[redacted]@db:5432/cadre?sslmode=require&password=[redacted]"
        );
        assert_eq!(redact_url("sqlite://cadre.db"), "sqlite://cadre.db");
        assert_eq!(
            redact_url("postgresql://app@db/cadre"),
            "postgresql://app@db/cadre"
        );
        let store = StoreSection {
            url: "postgres://u:pw@h/d".into(),
        };
        assert_eq!(
            format!("{store:?}"),
            "StoreSection { url: \"postgres://u:[redacted]@h/d\" }"
        );
        assert_eq!(
            serde_json::to_value(&store).unwrap(),
            serde_json::json!({ "url": "postgres://u:[redacted]@h/d" })
        );
    }
}
