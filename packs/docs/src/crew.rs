//! The crew's coordinator and its registration in a runtime [`Catalog`].

use std::path::PathBuf;
use std::time::Duration;

use cadre_core::{
    Agent, AgentError, Bid, Capability, Context, Error, ErrorCode, Message, Payload, Task,
    TaskOutcome,
};
use cadre_runtime::{Catalog, Client, Rendered, Route};
use serde::{Deserialize, Serialize};

use crate::{
    CAPABILITY_VERSION, DocFile, DocStats, LINKS_CAPABILITY, LinkChecker, LinkReport,
    STATS_CAPABILITY, StatsAgent, markdown_files, render_table,
};

/// The coordinator's capability.
pub const CHECK_CAPABILITY: &str = "docs.check";

/// Input of `docs.check`: the documentation root to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckTree {
    /// The folder (relative to the working directory, or absolute).
    pub root: String,
}

impl Message for CheckTree {
    const TYPE: &'static str = "docs.check_tree";
}

/// Output of `docs.check`: every document's link report and statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeReport {
    /// The root checked.
    pub root: String,
    /// Link reports, in file order.
    pub links: Vec<LinkReport>,
    /// Statistics, in file order.
    pub stats: Vec<DocStats>,
    /// Broken links in all documents.
    pub broken: usize,
}

impl Message for TreeReport {
    const TYPE: &'static str = "docs.tree_report";
}

/// Checks a documentation tree by handing every document to the `docs.links` and `docs.stats`
/// agents of the crew (whichever kinds offer them, on whichever node) and gathering the answers.
///
/// Configuration: `timeout = "30s"`, how long to wait for each document's answers.
#[derive(Debug, Clone)]
pub struct Coordinator {
    timeout: Duration,
}

impl Default for Coordinator {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
        }
    }
}

impl Coordinator {
    /// A coordinator from its configuration table.
    ///
    /// # Errors
    /// [`ErrorCode::Config`] naming an unknown key or a bad `timeout`.
    pub fn from_config(config: &toml::Table) -> Result<Self, Error> {
        let mut c = Self::default();
        for (key, value) in config {
            match key.as_str() {
                "timeout" => {
                    let text = value.as_str().ok_or_else(|| {
                        Error::new(
                            ErrorCode::Config,
                            "key `timeout`: expected a duration such as \"30s\"",
                        )
                    })?;
                    c.timeout = parse_duration(text).ok_or_else(|| {
                        Error::new(
                            ErrorCode::Config,
                            format!("key `timeout`: `{text}` is not a duration such as \"30s\" or \"500ms\""),
                        )
                    })?;
                }
                other => {
                    return Err(Error::new(
                        ErrorCode::Config,
                        format!("key `{other}`: unknown key; expected one of: timeout"),
                    ));
                }
            }
        }
        Ok(c)
    }
}

fn parse_duration(text: &str) -> Option<Duration> {
    let (n, unit) = text
        .trim()
        .split_at(text.trim().find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        _ => None,
    }
}

impl Agent for Coordinator {
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new(CHECK_CAPABILITY, CAPABILITY_VERSION).expect("valid capability")]
    }

    async fn can_handle(&self, task: &Task) -> Bid {
        if task.capability == CHECK_CAPABILITY && task.input.is::<CheckTree>() {
            Bid::accept(1.0, Duration::from_millis(50))
        } else {
            Bid::decline()
        }
    }

    async fn execute(&self, task: Task, cx: &Context) -> Result<TaskOutcome, AgentError> {
        let CheckTree { root } = task.input()?;
        let client = cx.get::<Client>().cloned().ok_or_else(|| {
            Error::internal("docs.check runs inside a cadre node (no client in its context)")
        })?;
        let dir = PathBuf::from(&root);
        let files = tokio::task::spawn_blocking(move || markdown_files(&dir))
            .await
            .map_err(|e| Error::internal(format!("listing documents: {e}")))??;
        let mut calls = tokio::task::JoinSet::new();
        for (i, path) in files.iter().enumerate() {
            for capability in [LINKS_CAPABILITY, STATS_CAPABILITY] {
                let client = client.clone();
                let input = DocFile::new(root.clone(), path.clone());
                let mut sub = Task::new(capability, &input)?.with_priority(task.priority);
                sub.conversation_id = task.conversation_id;
                sub.trace_id = task.trace_id;
                let timeout = self.timeout;
                calls.spawn(async move { (i, client.call(sub, Route::Capability, timeout).await) });
            }
        }
        let mut links: Vec<Option<LinkReport>> = vec![None; files.len()];
        let mut stats: Vec<Option<DocStats>> = vec![None; files.len()];
        while let Some(joined) = calls.join_next().await {
            let (i, result) = joined.map_err(|e| Error::internal(format!("a check task: {e}")))?;
            let outcome = result.map_err(|e| e.context(format!("checking `{}`", files[i])))?;
            if outcome.output.is::<LinkReport>() {
                links[i] = Some(outcome.output()?);
            } else {
                stats[i] = Some(outcome.output()?);
            }
        }
        let links: Vec<LinkReport> = links.into_iter().flatten().collect();
        let broken = links.iter().map(|r| r.broken.len()).sum();
        let report = TreeReport {
            root,
            links,
            stats: stats.into_iter().flatten().collect(),
            broken,
        };
        TaskOutcome::new(&task, &report)
    }
}

fn render(payload: &Payload) -> Result<Rendered, Error> {
    let report: TreeReport = payload.decode()?;
    Ok(Rendered {
        text: render_table(&report.links, &report.stats),
        ok: report.broken == 0,
    })
}

/// Registers the crew's agent types (`docs.check`, `docs.links`, `docs.stats`), the input of
/// `docs.check` for a manifest's `[run]`, and the report's renderer.
pub fn register(catalog: &mut Catalog) {
    catalog
        .agent(
            CHECK_CAPABILITY,
            "finds a folder's Markdown files and has each one checked and counted",
            Coordinator::from_config,
        )
        .agent(
            LINKS_CAPABILITY,
            "checks one document's local links and anchors",
            LinkChecker::from_config,
        )
        .agent(
            STATS_CAPABILITY,
            "counts one document's words, headings, code blocks and links",
            StatsAgent::from_config,
        )
        .input::<CheckTree>(CHECK_CAPABILITY)
        .renderer::<TreeReport>(render);
}
