//! The crew's agents: the link checker and the statistics agent.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cadre_core::{
    Agent, AgentError, Bid, Capability, Context, Error, ErrorCode, Message, Task, TaskOutcome,
};
use serde::{Deserialize, Serialize};

use crate::check::{LinkReport, check_file};
use crate::stats::{DEFAULT_WORDS_PER_MINUTE, stats_with};

/// The capability of [`LinkChecker`].
pub const LINKS_CAPABILITY: &str = "docs.links";
/// The capability of [`StatsAgent`].
pub const STATS_CAPABILITY: &str = "docs.stats";
/// The version both capabilities are implemented at.
pub const CAPABILITY_VERSION: &str = "1.0.0";

/// One document to work on: the task input of both agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocFile {
    /// The documentation root, as a filesystem path on the node running the agent.
    pub root: String,
    /// The document, relative to `root`, `/`-separated (as [`markdown_files`] lists it).
    ///
    /// [`markdown_files`]: crate::markdown_files
    pub path: String,
}

impl Message for DocFile {
    const TYPE: &'static str = "docs.file";
}

impl DocFile {
    /// The document `path` under `root`.
    pub fn new(root: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            root: root.into(),
            path: path.into(),
        }
    }
}

fn capability(name: &str) -> Capability {
    Capability::new(name, CAPABILITY_VERSION).expect("the capability name and version are valid")
}

/// Bids for tasks needing `name` whose input is a [`DocFile`].
fn bid(task: &Task, name: &str, confidence: f64, estimated: Duration) -> Bid {
    if task.capability == name && task.input.is::<DocFile>() {
        Bid::accept(confidence, estimated)
    } else {
        Bid::decline()
    }
}

/// Runs file work on tokio's blocking pool, off the async workers.
async fn blocking<T: Send + 'static>(
    what: &str,
    cx: &Context,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    if cx.is_cancelled() {
        return Err(Error::new(
            ErrorCode::Cancelled,
            format!("{what}: cancelled before it started"),
        ));
    }
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        Error::new(
            ErrorCode::AgentFailed,
            format!("{what}: the blocking work failed: {e}"),
        )
    })?
}

fn config_error(agent: &str, key: &str, message: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::Config, format!("key `{key}`: {message}"))
        .context(format!("{agent} configuration"))
}

/// A target pattern [`LinkChecker`] does not check.
#[derive(Debug, Clone)]
enum IgnoreRule {
    Prefix(String),
    Regex(regex::Regex),
}

impl IgnoreRule {
    fn matches(&self, target: &str) -> bool {
        match self {
            Self::Prefix(prefix) => target.starts_with(prefix.as_str()),
            Self::Regex(re) => re.is_match(target),
        }
    }
}

/// Checks the links of one Markdown document: capability `docs.links`, input [`DocFile`],
/// output [`LinkReport`] (see [`check_file`] for the rules).
///
/// Configuration (`from_config`):
///
/// ```toml
/// # Targets not to report as broken: a pattern starting with `^` is a regular expression,
/// # anything else a literal prefix of the target as written.
/// ignore = ["generated/", "^.*\\.pdf$"]
/// ```
#[derive(Debug, Clone, Default)]
pub struct LinkChecker {
    ignore: Arc<[IgnoreRule]>,
}

impl LinkChecker {
    /// A checker that reports every broken link.
    pub fn new() -> Self {
        Self::default()
    }

    /// A checker from its configuration table.
    ///
    /// # Errors
    /// [`ErrorCode::Config`] naming the key: an unknown key, `ignore` not an array of
    /// strings, a `^` pattern that is not a valid regular expression.
    pub fn from_config(config: &toml::Table) -> Result<Self, Error> {
        const AGENT: &str = "docs.links";
        let mut rules = Vec::new();
        for (key, value) in config {
            match key.as_str() {
                "ignore" => {
                    let list = value
                        .as_array()
                        .ok_or_else(|| config_error(AGENT, key, "expected an array of strings"))?;
                    for (i, item) in list.iter().enumerate() {
                        let key = format!("ignore[{i}]");
                        let pattern = item
                            .as_str()
                            .ok_or_else(|| config_error(AGENT, &key, "expected a string"))?;
                        rules.push(Self::rule(pattern).map_err(|e| config_error(AGENT, &key, e))?);
                    }
                }
                other => {
                    return Err(config_error(
                        AGENT,
                        other,
                        "unknown key; expected one of: ignore",
                    ));
                }
            }
        }
        Ok(Self {
            ignore: rules.into(),
        })
    }

    /// Adds an ignore pattern: a regular expression when it starts with `^`, otherwise a
    /// literal prefix.
    ///
    /// # Errors
    /// [`ErrorCode::InvalidInput`] when a `^` pattern is not a valid regular expression.
    pub fn with_ignore(self, pattern: &str) -> Result<Self, Error> {
        let rule = Self::rule(pattern).map_err(Error::invalid_input)?;
        let mut rules = self.ignore.to_vec();
        rules.push(rule);
        Ok(Self {
            ignore: rules.into(),
        })
    }

    fn rule(pattern: &str) -> Result<IgnoreRule, String> {
        if pattern.starts_with('^') {
            regex::Regex::new(pattern)
                .map(IgnoreRule::Regex)
                .map_err(|e| format!("`{pattern}` is not a valid regular expression: {e}"))
        } else if pattern.is_empty() {
            Err("an empty pattern would ignore every link".to_string())
        } else {
            Ok(IgnoreRule::Prefix(pattern.to_string()))
        }
    }

    /// Whether broken links to `target` are not reported.
    pub fn is_ignored(&self, target: &str) -> bool {
        self.ignore.iter().any(|rule| rule.matches(target))
    }

    /// [`check_file`] without the broken links this checker ignores. Blocking.
    ///
    /// # Errors
    /// As [`check_file`].
    pub fn check(&self, root: &Path, rel: &str) -> Result<LinkReport, Error> {
        let mut report = check_file(root, rel)?;
        report.broken.retain(|b| !self.is_ignored(&b.target));
        Ok(report)
    }
}

impl Agent for LinkChecker {
    fn capabilities(&self) -> Vec<Capability> {
        vec![capability(LINKS_CAPABILITY)]
    }

    /// Accepts `docs.links` tasks carrying a [`DocFile`]; confidence 0.9, as external links
    /// are counted but not followed.
    async fn can_handle(&self, task: &Task) -> Bid {
        bid(task, LINKS_CAPABILITY, 0.9, Duration::from_millis(20))
    }

    async fn execute(&self, task: Task, cx: &Context) -> Result<TaskOutcome, AgentError> {
        let file: DocFile = task.input()?;
        let checker = self.clone();
        let report = blocking(LINKS_CAPABILITY, cx, move || {
            checker.check(Path::new(&file.root), &file.path)
        })
        .await?;
        TaskOutcome::new(&task, &report)
    }
}

/// Measures one Markdown document: capability `docs.stats`, input [`DocFile`], output
/// [`DocStats`](crate::DocStats).
///
/// Configuration (`from_config`):
///
/// ```toml
/// words_per_minute = 200   # reading speed for `reading_minutes`, 1 to 10000
/// ```
#[derive(Debug, Clone, Copy)]
pub struct StatsAgent {
    words_per_minute: u32,
}

impl Default for StatsAgent {
    fn default() -> Self {
        Self {
            words_per_minute: DEFAULT_WORDS_PER_MINUTE,
        }
    }
}

impl StatsAgent {
    /// An agent reading at 200 words a minute.
    pub fn new() -> Self {
        Self::default()
    }

    /// The reading speed, in words per minute.
    pub fn words_per_minute(&self) -> u32 {
        self.words_per_minute
    }

    /// An agent from its configuration table.
    ///
    /// # Errors
    /// [`ErrorCode::Config`] naming the key: an unknown key, or `words_per_minute` not an
    /// integer from 1 to 10000.
    pub fn from_config(config: &toml::Table) -> Result<Self, Error> {
        const AGENT: &str = "docs.stats";
        let mut agent = Self::default();
        for (key, value) in config {
            match key.as_str() {
                "words_per_minute" => {
                    agent.words_per_minute = value
                        .as_integer()
                        .and_then(|n| u32::try_from(n).ok())
                        .filter(|n| (1..=10_000).contains(n))
                        .ok_or_else(|| {
                            config_error(AGENT, key, "expected an integer from 1 to 10000")
                        })?;
                }
                other => {
                    return Err(config_error(
                        AGENT,
                        other,
                        "unknown key; expected one of: words_per_minute",
                    ));
                }
            }
        }
        Ok(agent)
    }
}

impl Agent for StatsAgent {
    fn capabilities(&self) -> Vec<Capability> {
        vec![capability(STATS_CAPABILITY)]
    }

    /// Accepts `docs.stats` tasks carrying a [`DocFile`], with full confidence.
    async fn can_handle(&self, task: &Task) -> Bid {
        bid(task, STATS_CAPABILITY, 1.0, Duration::from_millis(5))
    }

    async fn execute(&self, task: Task, cx: &Context) -> Result<TaskOutcome, AgentError> {
        let file: DocFile = task.input()?;
        let wpm = self.words_per_minute;
        let stats = blocking(STATS_CAPABILITY, cx, move || {
            stats_with(Path::new(&file.root), &file.path, wpm)
        })
        .await?;
        TaskOutcome::new(&task, &stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DocStats;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn link_checker_config() {
        let checker =
            LinkChecker::from_config(&table("ignore = [\"generated/\", \"^.*\\\\.pdf$\"]"))
                .unwrap();
        assert!(checker.is_ignored("generated/api.md"));
        assert!(checker.is_ignored("../manual.pdf"));
        assert!(!checker.is_ignored("docs/generated/api.md"));
        assert!(!checker.is_ignored("manual.pdf.md"));
        assert!(
            !LinkChecker::from_config(&table(""))
                .unwrap()
                .is_ignored("x")
        );

        let err = LinkChecker::from_config(&table("ignroe = []")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Config);
        assert_eq!(
            err.to_string(),
            "docs.links configuration: key `ignroe`: unknown key; expected one of: ignore"
        );
        let err = LinkChecker::from_config(&table("ignore = \"x\"")).unwrap_err();
        assert!(
            err.to_string().contains("key `ignore`: expected an array"),
            "{err}"
        );
        let err = LinkChecker::from_config(&table("ignore = [\"a\", 3]")).unwrap_err();
        assert!(
            err.to_string()
                .contains("key `ignore[1]`: expected a string"),
            "{err}"
        );
        let err = LinkChecker::from_config(&table("ignore = [\"^(\"]")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Config);
        assert!(
            err.to_string()
                .contains("`^(` is not a valid regular expression"),
            "{err}"
        );
    }

    #[test]
    fn stats_agent_config() {
        assert_eq!(
            StatsAgent::from_config(&table(""))
                .unwrap()
                .words_per_minute(),
            200
        );
        let agent = StatsAgent::from_config(&table("words_per_minute = 250")).unwrap();
        assert_eq!(agent.words_per_minute(), 250);
        for bad in [
            "words_per_minute = 0",
            "words_per_minute = \"fast\"",
            "words_per_minute = 1e3",
        ] {
            let err = StatsAgent::from_config(&table(bad)).unwrap_err();
            assert_eq!(err.code(), ErrorCode::Config, "{bad}");
            assert!(err.to_string().contains("key `words_per_minute`"), "{err}");
        }
        let err = StatsAgent::from_config(&table("wpm = 3")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "docs.stats configuration: key `wpm`: unknown key; expected one of: words_per_minute"
        );
    }

    #[tokio::test]
    async fn bids_only_for_their_capability_with_a_doc_file() {
        let file = DocFile::new("/docs", "a.md");
        let links = Task::new(LINKS_CAPABILITY, &file).unwrap();
        let stats = Task::new(STATS_CAPABILITY, &file).unwrap();
        let other = Task::new("docs.spelling", &file).unwrap();
        let wrong_input = Task::new(
            LINKS_CAPABILITY,
            &DocStats {
                path: "a.md".into(),
                lines: 0,
                words: 0,
                headings: 0,
                code_blocks: 0,
                links: 0,
                reading_minutes: 0.0,
            },
        )
        .unwrap();

        let checker = LinkChecker::new();
        let bid = checker.can_handle(&links).await;
        assert!(bid.can_handle());
        assert_eq!(bid.confidence(), 0.9);
        assert_eq!(bid.estimated(), Duration::from_millis(20));
        assert!(!checker.can_handle(&stats).await.can_handle());
        assert!(!checker.can_handle(&other).await.can_handle());
        assert!(!checker.can_handle(&wrong_input).await.can_handle());

        let agent = StatsAgent::new();
        let bid = agent.can_handle(&stats).await;
        assert!(bid.can_handle());
        assert_eq!(bid.confidence(), 1.0);
        assert!(!agent.can_handle(&links).await.can_handle());
        assert!(!agent.can_handle(&other).await.can_handle());

        let caps = checker.capabilities();
        assert_eq!(caps.len(), 1);
        assert_eq!(caps[0].name, "docs.links");
        assert_eq!(caps[0].version.to_string(), "1.0.0");
        assert_eq!(agent.capabilities()[0].name, "docs.stats");
        assert_eq!(agent.capabilities()[0].version.to_string(), "1.0.0");
    }
}
