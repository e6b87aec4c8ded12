//! Agent-task nodes: a TOML graph whose nodes are tasks for real agents on a runtime node
//! (memory bus), with a route on an agent's output and parallel branches merged by reducers;
//! and the engine on PostgreSQL (when `POSTGRES_TEST_URL` names a server).
#![allow(clippy::print_stderr)]

use std::sync::Arc;
use std::time::Duration;

use cadre_bus::{BusOptions, MemoryBus};
use cadre_core::{
    Agent, AgentError, AgentId, AgentKind, Bid, Capability, Context, Task, TaskOutcome,
};
use cadre_flow::graph::{END, Graph, State};
use cadre_flow::json::{self, JsonState};
use cadre_flow::state::Status;
use cadre_flow::{Compensation, Engine, EngineOptions};
use cadre_runtime::{AgentSpec, Node};
use cadre_store::{EventStore, SqliteStore};
use serde::{Deserialize, Serialize};

/// Doubles `n` (capability `math.double`) or adds one (`math.inc`), on any JSON object input.
struct Math(&'static str);

impl Agent for Math {
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new(self.0, "1.0.0").unwrap()]
    }
    async fn can_handle(&self, task: &Task) -> Bid {
        if task.capability == self.0 {
            Bid::accept(0.9, Duration::from_millis(1))
        } else {
            Bid::decline()
        }
    }
    async fn execute(&self, task: Task, _cx: &Context) -> Result<TaskOutcome, AgentError> {
        let input: serde_json::Value = serde_json::from_str(task.input.json()).unwrap();
        let n = input["n"].as_i64().or_else(|| input.as_i64()).unwrap();
        let out = if self.0 == "math.double" {
            n * 2
        } else {
            n + 1
        };
        let payload = cadre_core::Payload::from_json_text("test.out", 1, out.to_string())?;
        Ok(TaskOutcome {
            task_id: task.id,
            output: payload,
            confidence: None,
            agent: None,
            elapsed: None,
        })
    }
}

const DEFINITION: &str = r#"
[workflow]
name = "math"
entry = "double"

[state]
results = "append"
total = "add"

[[nodes]]
name = "double"
task = "math.double"
output = "doubled"
when = { key = "doubled", cases = { "84" = "fan" }, default = "END" }

[[nodes]]
name = "fan"
task = "math.inc"
input = "doubled"
output = "results"
next = ["inc_a", "inc_b"]

[[nodes]]
name = "inc_a"
task = "math.inc"
input = "doubled"
output = "total"

[[nodes]]
name = "inc_b"
task = "math.inc"
input = "doubled"
output = "total"

[[joins]]
from = ["inc_a", "inc_b"]
to = "last"

[[nodes]]
name = "last"
task = "math.inc"
input = "total"
output = "results"
next = "END"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_toml_graph_of_agent_tasks_runs_on_a_node() {
    let bus = Arc::new(MemoryBus::new(BusOptions::default()));
    let node = Node::builder(bus)
        .id(AgentId::new("n1").unwrap())
        .agent(AgentSpec::new(AgentKind::new("double").unwrap(), || {
            Math("math.double")
        }))
        .agent(AgentSpec::new(AgentKind::new("inc").unwrap(), || {
            Math("math.inc")
        }))
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(dir.path().join("flows.db"))
            .await
            .unwrap(),
    );
    let graph = json::parse(DEFINITION, "math.toml", &|_| None).unwrap();
    let engine = Engine::<JsonState>::new(store)
        .options(EngineOptions {
            poll: Duration::from_millis(10),
            ..EngineOptions::default()
        })
        .client(node.client())
        .graph(graph);

    let input: JsonState = serde_json::from_value(serde_json::json!({"n": 42})).unwrap();
    let done = engine.execute("math", input).await.unwrap();
    assert_eq!(done.status, Status::Completed, "{:?}", done.error);
    // double: 84 → fan: 85 → inc_a, inc_b: 85 + 85 added → last: 171.
    assert_eq!(
        serde_json::Value::Object(done.state.0.clone()),
        serde_json::json!({"n": 42, "doubled": 84, "results": [85, 171], "total": 170})
    );
    let order: Vec<&str> = done.view.steps.iter().map(|s| s.node.as_str()).collect();
    assert_eq!(&order[..2], ["double", "fan"]);
    assert_eq!(order[4], "last");

    // The route's other way: the graph ends after `double`.
    let input: JsonState = serde_json::from_value(serde_json::json!({"n": 1})).unwrap();
    let done = engine.execute("math", input).await.unwrap();
    assert_eq!(done.view.steps.len(), 1);
    assert_eq!(done.state.0["doubled"], 2);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_node_without_agents_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(dir.path().join("flows.db"))
            .await
            .unwrap(),
    );
    let graph = json::parse(DEFINITION, "math.toml", &|_| None).unwrap();
    let engine = Engine::<JsonState>::new(store).graph(graph);
    let done = engine.execute("math", JsonState::default()).await.unwrap();
    assert_eq!(done.status, Status::Failed);
    let e = done.error.unwrap();
    assert!(
        e.message.contains("needs a runtime client"),
        "{}",
        e.message
    );
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Sum(i64, Vec<String>);

impl State for Sum {
    type Update = (i64, String);
    fn apply(&mut self, (n, node): (i64, String)) {
        self.0 += n;
        self.1.push(node);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflows_run_the_same_on_postgres() {
    let Some(url) = std::env::var("POSTGRES_TEST_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        eprintln!(
            "skipped `workflows_run_the_same_on_postgres`: POSTGRES_TEST_URL is not set (`.ci/run` starts a server and sets it)"
        );
        return;
    };
    let schema = format!("cadre_flow_test_{}", uuid::Uuid::now_v7().simple());
    let pg = Arc::new(
        cadre_store::PostgresStore::connect_with(&url, &schema)
            .await
            .unwrap(),
    );
    let store: Arc<dyn EventStore> = pg.clone();
    let mut g = Graph::<Sum>::builder("pg");
    g.node("a", |_, _| async { Ok((1, "a".to_owned())) });
    g.node("b", |_, _| async { Ok((10, "b".to_owned())) })
        .compensate(|_, _| async { Ok(()) });
    g.node("c", |_, _| async { Ok((100, "c".to_owned())) });
    g.node("d", |_, s: Sum| async move {
        if s.0 > 1000 {
            Err(cadre_core::Error::new(
                cadre_core::ErrorCode::AgentFailed,
                "too much",
            ))
        } else {
            Ok((1000, "d".to_owned()))
        }
    });
    g.entry("a");
    g.edge("a", "b").unwrap();
    g.edge("a", "c").unwrap();
    g.join(&["b", "c"], "d");
    g.edge("d", END).unwrap();
    let engine = Engine::new(Arc::clone(&store)).graph(g.build().unwrap());
    let done = engine.execute("pg", Sum::default()).await.unwrap();
    assert_eq!(done.status, Status::Completed);
    assert_eq!(
        done.state,
        Sum(1111, vec!["a".into(), "b".into(), "c".into(), "d".into()])
    );
    let failed = engine.execute("pg", Sum(5000, vec![])).await.unwrap();
    assert_eq!(
        (failed.status, failed.compensation),
        (Status::Failed, Compensation::Done)
    );
    let listed = cadre_flow::control::list(&*store, false).await.unwrap();
    assert_eq!(listed.len(), 2);
    let pruned = cadre_flow::control::prune(&*store, Duration::ZERO, false)
        .await
        .unwrap();
    assert_eq!(pruned.len(), 2);
    drop(engine);
    drop(store);
    if let Ok(pg) = Arc::try_unwrap(pg) {
        pg.drop_schema().await.unwrap();
    }
}
