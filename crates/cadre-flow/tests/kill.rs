//! Durable execution under `SIGKILL`.
//!
//! The test runs its own binary as a child that runs 150 workflows at once on one SQLite
//! store: each fans out to three branches joined again, routes on the state, and a fifth of
//! them fail at the end, so their saga compensates. Every step prints `R <workflow> <node>
//! <super-step>` when it starts and every compensation `C <workflow> <node>`. The parent kills
//! the child with SIGKILL at seeded random points, many times; after each kill it reads the
//! store and remembers which steps and compensations were recorded. Then it lets a last child
//! finish and checks:
//!
//! - no step or compensation recorded before a kill ran again after it;
//! - every workflow ends as a run without kills would (same status, same final state);
//! - every log holds each step once.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a test harness of its own reports on the console

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cadre_core::{Error, ErrorCode};
use cadre_flow::graph::{END, Graph, State, StepCtx};
use cadre_flow::state::Status;
use cadre_flow::{Compensation, Engine, EngineOptions, WorkflowId, control};
use cadre_store::{EventStore, SqliteStore};
use serde::{Deserialize, Serialize};

const ROUNDS: u64 = 24;
const WORKFLOWS: u64 = 150;
const CHILD_ENV: &str = "FLOW_KILL_CHILD_DB";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Acc {
    seed: u64,
    sum: u64,
    path: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Add {
    node: String,
    value: u64,
}

impl State for Acc {
    type Update = Add;
    fn apply(&mut self, u: Add) {
        self.sum = self.sum.wrapping_mul(31).wrapping_add(u.value);
        self.path.push(u.node);
    }
}

/// Reports progress to the parent (only in the child; the reference run stays quiet).
#[allow(clippy::print_stdout)]
fn say(line: std::fmt::Arguments<'_>) {
    static CHILD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *CHILD.get_or_init(|| std::env::var_os(CHILD_ENV).is_some()) {
        println!("{line}");
    }
}

fn value(seed: u64, node: &str) -> u64 {
    node.bytes()
        .fold(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
        })
        % 1000
}

#[allow(clippy::print_stdout)]
fn step(
    name: &'static str,
) -> impl Fn(
    StepCtx,
    Acc,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Add, Error>> + Send>>
+ Send
+ Sync
+ 'static {
    move |cx, s| {
        Box::pin(async move {
            say(format_args!("R {} {name} {}", cx.workflow, cx.superstep));
            // A little work, so kills land inside steps too.
            tokio::task::yield_now().await;
            if name == "finish" && s.seed.is_multiple_of(5) {
                return Err(Error::new(
                    ErrorCode::AgentFailed,
                    "the last step fails for every fifth seed",
                ));
            }
            Ok(Add {
                node: name.to_owned(),
                value: value(s.seed, name),
            })
        })
    }
}

fn graph() -> Graph<Acc> {
    let mut g = Graph::<Acc>::builder("kill");
    g.node("load", step("load"));
    for name in ["left", "middle", "right"] {
        g.node(name, step(name))
            .compensate(move |cx, _| async move {
                say(format_args!("C {} {name}", cx.workflow));
                tokio::task::yield_now().await;
                Ok(())
            });
        g.edge("load", name).unwrap();
    }
    g.node("merge", step("merge"));
    g.join(&["left", "middle", "right"], "merge");
    g.node("even", step("even"));
    g.node("odd", step("odd"));
    g.route("merge", &["even", "odd"], |s: &Acc| {
        if s.sum.is_multiple_of(2) {
            "even"
        } else {
            "odd"
        }
    });
    g.node("finish", step("finish"));
    g.edge("even", "finish").unwrap();
    g.edge("odd", "finish").unwrap();
    g.edge("finish", END).unwrap();
    g.entry("load");
    g.build().unwrap()
}

fn id(n: u64) -> WorkflowId {
    WorkflowId::new(format!("kill-{n}")).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn engine(store: Arc<dyn EventStore>) -> Engine<Acc> {
    Engine::new(store)
        .options(EngineOptions {
            runner: format!("child-{}", std::process::id()),
            poll: Duration::from_millis(20),
            ..EngineOptions::default()
        })
        .graph(graph())
}

/// Starts the workflows not started yet, then runs all of them to the end.
async fn run_all(engine: &Engine<Acc>) {
    let store = Arc::clone(engine.store());
    let mut runs = tokio::task::JoinSet::new();
    for n in 0..WORKFLOWS {
        let engine = engine.clone();
        let store = Arc::clone(&store);
        runs.spawn(async move {
            if store
                .stream_version(&id(n).stream())
                .await
                .unwrap()
                .is_none()
            {
                engine
                    .start_as(
                        "kill",
                        &id(n),
                        Acc {
                            seed: n,
                            ..Acc::default()
                        },
                    )
                    .await
                    .unwrap();
            }
            engine.run(&id(n)).await.unwrap();
        });
    }
    while let Some(r) = runs.join_next().await {
        r.unwrap();
    }
}

fn child(db: &Path) {
    runtime().block_on(async move {
        let store: Arc<dyn EventStore> = Arc::new(SqliteStore::open(db).await.unwrap());
        run_all(&engine(store)).await;
        println!("DONE");
    });
}

/// A small deterministic generator (xorshift64*), so kill points repeat run to run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

type Recorded = (BTreeSet<(String, String, u64)>, BTreeSet<(String, String)>);

/// What the store says is done: steps (workflow, node, super-step) and compensations
/// (workflow, node).
fn recorded(rt: &tokio::runtime::Runtime, db: &Path) -> Recorded {
    rt.block_on(async {
        let store = SqliteStore::open(db).await.unwrap();
        let mut steps = BTreeSet::new();
        let mut undone = BTreeSet::new();
        for n in 0..WORKFLOWS {
            let v = match control::view(&store, &id(n)).await {
                Ok(v) => v,
                Err(e) if e.code() == ErrorCode::NotFound => continue,
                Err(e) => panic!("{e}"),
            };
            for s in &v.steps {
                steps.insert((v.id.to_string(), s.node.clone(), s.superstep));
                if s.compensated {
                    undone.insert((v.id.to_string(), s.node.clone()));
                }
            }
        }
        (steps, undone)
    })
}

fn main() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        child(Path::new(&db));
        return;
    }
    let started = Instant::now();
    parent();
    println!(
        "test sigkill_resumes_workflows_without_rerunning_recorded_steps ... ok ({:.1}s)",
        started.elapsed().as_secs_f64()
    );
}

fn parent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flows.db");
    let exe = std::env::current_exe().unwrap();
    let rt = runtime();
    let mut rng = Rng(0x00F1_0E5E_ED00);
    let mut before: Recorded = Default::default();
    let mut reruns = Vec::new();
    let mut kills = 0;
    let mut finished = false;
    for round in 0..=ROUNDS {
        let last = round == ROUNDS;
        let kill_after = match rng.next() % 4 {
            0 => rng.next() % 10,
            _ => 10 + rng.next() % 100,
        };
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, &db)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut lines = Vec::new();
        let mut line = String::new();
        let mut done = false;
        while last || (lines.len() as u64) < kill_after {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                break; // the child finished every workflow and exited
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: the child made no progress"
            );
            if line.trim_end() == "DONE" {
                done = true;
            }
            lines.push(line.trim_end().to_owned());
        }
        if done || last {
            let status = child.wait().unwrap();
            assert!(
                status.success() || !last,
                "round {round}: the child failed: {status}"
            );
        } else {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
        }
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        lines.extend(rest.lines().map(str::to_owned));
        // Nothing recorded before this child started may have run again in it.
        for l in &lines {
            let parts: Vec<&str> = l.split(' ').collect();
            match parts.as_slice() {
                ["R", wf, node, step] => {
                    let Ok(step) = step.parse::<u64>() else {
                        continue;
                    };
                    if before
                        .0
                        .contains(&((*wf).to_owned(), (*node).to_owned(), step))
                    {
                        reruns.push(format!("round {round}: step {wf} {node} {step} ran again"));
                    }
                }
                ["C", wf, node] if before.1.contains(&((*wf).to_owned(), (*node).to_owned())) => {
                    reruns.push(format!("round {round}: compensation {wf} {node} ran again"));
                }
                _ => {}
            }
        }
        before = recorded(&rt, &db);
        if done {
            finished = true;
            break;
        }
    }
    assert!(finished, "the last child did not finish");
    assert!(
        reruns.is_empty(),
        "recorded work ran again:\n{}",
        reruns.join("\n")
    );
    assert!(
        kills >= 10,
        "only {kills} kills landed before the work was done"
    );

    // The same workflows without kills, in another store: the reference.
    let reference = tempfile::tempdir().unwrap();
    let reference_db = reference.path().join("flows.db");
    rt.block_on(async {
        let store: Arc<dyn EventStore> = Arc::new(SqliteStore::open(&reference_db).await.unwrap());
        run_all(&engine(store)).await;
    });
    let outcomes = |db: &Path| -> BTreeMap<u64, (Status, Compensation, Acc, usize, usize)> {
        rt.block_on(async {
            let store: Arc<dyn EventStore> = Arc::new(SqliteStore::open(db).await.unwrap());
            let engine = engine(store);
            let mut out = BTreeMap::new();
            for n in 0..WORKFLOWS {
                let o = engine.run(&id(n)).await.unwrap();
                let unique: BTreeSet<(&str, u64)> = o
                    .view
                    .steps
                    .iter()
                    .map(|s| (s.node.as_str(), s.superstep))
                    .collect();
                out.insert(
                    n,
                    (
                        o.status,
                        o.compensation,
                        o.state,
                        o.view.steps.len(),
                        unique.len(),
                    ),
                );
            }
            out
        })
    };
    let killed = outcomes(&db);
    let clean = outcomes(&reference_db);
    for n in 0..WORKFLOWS {
        let (status, comp, state, steps, unique) = &killed[&n];
        assert_eq!(steps, unique, "workflow {n}: a step is recorded twice");
        let (c_status, c_comp, c_state, _, _) = &clean[&n];
        assert_eq!(
            (status, comp, state),
            (c_status, c_comp, c_state),
            "workflow {n}"
        );
        if n.is_multiple_of(5) {
            assert_eq!(
                (*status, *comp),
                (Status::Failed, Compensation::Done),
                "workflow {n}"
            );
        } else {
            assert_eq!(*status, Status::Completed, "workflow {n}");
        }
    }
    eprintln!(
        "{kills} SIGKILLs over {WORKFLOWS} workflows: every one finished as without kills; no recorded step or compensation ran twice"
    );
}
