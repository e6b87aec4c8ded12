//! The workflow benchmark behind `cadre bench flow`: 3-step durable workflows (`a → b → c`,
//! a checkpoint committed after every step), many at once.

use std::sync::Arc;
use std::time::Instant;

use cadre_core::Error;
use cadre_store::EventStore;
use serde::{Deserialize, Serialize};

use crate::graph::{END, Graph, State};
use crate::state::Status;
use crate::{Engine, EngineOptions};

/// The benchmark's state: a counter and the trail of nodes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trail {
    /// Incremented by each node.
    pub n: u64,
    /// The nodes that ran, in order.
    pub trail: Vec<String>,
}

impl State for Trail {
    type Update = String;
    fn apply(&mut self, node: String) {
        self.n += 1;
        self.trail.push(node);
    }
}

/// The 3-node graph: `a → b → c`, each adding its name.
pub fn graph() -> Graph<Trail> {
    let mut g = Graph::<Trail>::builder("bench");
    for name in ["a", "b", "c"] {
        g.node(name, move |_, _| async move { Ok(name.to_owned()) });
    }
    g.entry("a");
    for (from, to) in [("a", "b"), ("b", "c"), ("c", END)] {
        g.edge(from, to).expect("a fixed, valid graph");
    }
    g.build().expect("a fixed, valid graph")
}

/// What one run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowReport {
    /// The store's backend.
    pub backend: String,
    /// Workflows run.
    pub workflows: u64,
    /// Steps run (3 per workflow).
    pub steps: u64,
    /// Workflows in flight at once.
    pub concurrency: u64,
    /// Wall time.
    pub seconds: f64,
    /// Steps per second.
    pub steps_per_s: f64,
    /// Workflows per second.
    pub workflows_per_s: f64,
    /// Median workflow latency (start to completed), ms.
    pub p50_ms: f64,
    /// 99th percentile workflow latency, ms.
    pub p99_ms: f64,
}

/// Runs `workflows` workflows of [`graph`], `concurrency` at a time, each started and run to
/// completion, and checks every result. `progress` is called after each workflow.
///
/// # Errors
/// The first workflow that fails or ends wrong.
pub async fn steps(
    store: Arc<dyn EventStore>,
    workflows: u64,
    concurrency: u64,
    progress: Arc<dyn Fn() + Send + Sync>,
) -> Result<FlowReport, Error> {
    let backend = store.backend().to_owned();
    let engine = Engine::new(store)
        .options(EngineOptions {
            runner: "bench".into(),
            ..EngineOptions::default()
        })
        .graph(graph());
    let concurrency = concurrency.clamp(1, workflows.max(1));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..concurrency {
        let engine = engine.clone();
        let progress = Arc::clone(&progress);
        let mine = workflows / concurrency + u64::from(w < workflows % concurrency);
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(usize::try_from(mine).unwrap_or(0));
            for _ in 0..mine {
                let t = Instant::now();
                let done = engine.execute("bench", Trail::default()).await?;
                if done.status != Status::Completed || done.state.trail != ["a", "b", "c"] {
                    return Err(Error::internal(format!(
                        "workflow {} ended {} with {:?}",
                        done.id,
                        done.status.as_str(),
                        done.state
                    )));
                }
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                progress();
            }
            Ok::<_, Error>(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(r) = tasks.join_next().await {
        latencies.extend(r.map_err(|e| Error::internal(e.to_string()))??);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1]
    };
    Ok(FlowReport {
        backend,
        workflows,
        steps: workflows * 3,
        concurrency,
        seconds,
        steps_per_s: (workflows * 3) as f64 / seconds,
        workflows_per_s: workflows as f64 / seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    })
}
