//! The workflow engine on a real SQLite event store: routing, fan-out and joins, retries and
//! timeouts, sagas, approval gates (also across restarts and inside subflows), cancellation,
//! retry of a failed workflow, stall handling and deadlock detection.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cadre_core::{Error, ErrorCode};
use cadre_flow::graph::{END, Gate, Graph, OnTimeout, Retry, State};
use cadre_flow::state::Status;
use cadre_flow::{
    Compensation, Engine, EngineOptions, StallAction, StallPolicy, WorkflowId, control,
};
use cadre_store::{EventQuery, EventStore, SqliteStore};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Trail {
    n: i64,
    seen: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Up {
    Add(i64),
    Saw(String),
}

impl State for Trail {
    type Update = Up;
    fn apply(&mut self, u: Up) {
        match u {
            Up::Add(n) => self.n += n,
            Up::Saw(s) => self.seen.push(s),
        }
    }
}

struct Fx {
    _dir: tempfile::TempDir,
    store: Arc<dyn EventStore>,
}

async fn fx() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(dir.path().join("flows.db"))
            .await
            .unwrap(),
    );
    Fx { _dir: dir, store }
}

fn opts() -> EngineOptions {
    EngineOptions {
        runner: "test-runner".into(),
        poll: Duration::from_millis(5),
        ..EngineOptions::default()
    }
}

fn saw(
    name: &'static str,
) -> impl Fn(cadre_flow::graph::StepCtx, Trail) -> std::future::Ready<Result<Up, Error>>
+ Send
+ Sync
+ 'static {
    move |_, _| std::future::ready(Ok(Up::Saw(name.to_owned())))
}

/// Polls `check` until it holds, failing after 10 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_fans_out_and_joins() {
    let f = fx().await;
    let mut g = Graph::<Trail>::builder("order");
    g.node("price", |_, _| async { Ok(Up::Add(120)) });
    g.node("fraud", saw("fraud"));
    g.node("stock", saw("stock"));
    g.node("cheap", saw("cheap"));
    g.node("ship", saw("ship"));
    g.entry("price");
    g.route_many("price", &["fraud", "stock", "cheap"], |s: &Trail| {
        if s.n > 100 {
            vec!["fraud".into(), "stock".into()]
        } else {
            vec!["cheap".into()]
        }
    });
    g.join(&["fraud", "stock"], "ship");
    g.edge("cheap", "ship").unwrap();
    g.edge("ship", END).unwrap();
    let engine = Engine::new(Arc::clone(&f.store))
        .options(opts())
        .graph(g.build().unwrap());

    let done = engine.execute("order", Trail::default()).await.unwrap();
    assert_eq!(done.status, Status::Completed);
    assert_eq!(done.state.n, 120);
    // Parallel updates merge in node-name order, whatever finished first.
    assert_eq!(done.state.seen, vec!["fraud", "stock", "ship"]);
    let steps: Vec<(&str, u64)> = done
        .view
        .steps
        .iter()
        .map(|s| (s.node.as_str(), s.superstep))
        .collect();
    assert_eq!(steps.len(), 4);
    assert!(
        steps.contains(&("fraud", 1))
            && steps.contains(&("stock", 1))
            && steps.contains(&("ship", 2))
    );
    // The final state is in the log: `show` needs no code.
    let view = control::view(&*f.store, &done.id).await.unwrap();
    assert_eq!(view.status, Status::Completed);
    assert_eq!(view.output.unwrap()["n"], 120);
    assert_eq!(view.lifecycle.history().len(), 2); // PENDING→RUNNING→COMPLETED

    // The other branch: below 100 only `cheap` runs, and `ship` does not wait for the join.
    let mut g = Graph::<Trail>::builder("small");
    g.node("price", |_, _| async { Ok(Up::Add(5)) });
    g.node("cheap", saw("cheap"));
    g.node("ship", saw("ship"));
    g.entry("price");
    g.route("price", &["cheap", "ship"], |s: &Trail| {
        if s.n > 100 { "ship" } else { "cheap" }
    });
    g.edge("cheap", "ship").unwrap();
    let engine = Engine::new(Arc::clone(&f.store))
        .options(opts())
        .graph(g.build().unwrap());
    let done = engine.execute("small", Trail::default()).await.unwrap();
    assert_eq!(done.state.seen, vec!["cheap", "ship"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_retryable_errors_and_timeouts_then_fails() {
    let f = fx().await;
    let tries = Arc::new(AtomicU32::new(0));
    let t = Arc::clone(&tries);
    let mut g = Graph::<Trail>::builder("flaky");
    g.node("call", move |cx, _| {
        let n = t.fetch_add(1, Ordering::SeqCst);
        async move {
            match n {
                0 => Err(Error::new(ErrorCode::Unavailable, "down").with_retryable(true)),
                1 => {
                    // Hangs past the node's timeout.
                    cx.cancel.cancelled().await;
                    Ok(Up::Add(0))
                }
                _ => Ok(Up::Add(cx.attempt.into())),
            }
        }
    })
    .timeout(Duration::from_millis(50))
    .retry(Retry {
        attempts: 3,
        backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    });
    g.entry("call");
    let mut bad = Graph::<Trail>::builder("bad");
    bad.node("call", |_, _| async {
        Err::<Up, _>(Error::invalid_input("the input is wrong"))
    })
    .retry(Retry::attempts(5));
    bad.entry("call");
    let engine = Engine::new(Arc::clone(&f.store))
        .options(opts())
        .graph(g.build().unwrap())
        .graph(bad.build().unwrap());

    let done = engine.execute("flaky", Trail::default()).await.unwrap();
    assert_eq!(done.status, Status::Completed);
    assert_eq!(done.state.n, 3, "the third attempt succeeded");
    assert_eq!(done.view.failures.len(), 2);
    assert_eq!(done.view.failures[1].3.code, ErrorCode::Timeout);

    let done = engine.execute("bad", Trail::default()).await.unwrap();
    assert_eq!(done.status, Status::Failed);
    assert_eq!(
        done.view.failures.len(),
        1,
        "a non-retryable error is not retried"
    );
    let err = done.error.unwrap();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(
        err.message.contains("the input is wrong"),
        "{}",
        err.message
    );
}

fn saga(log: &Arc<Mutex<Vec<String>>>, fail_at_ship: bool) -> Graph<Trail> {
    let mut g = Graph::<Trail>::builder("trip");
    for (name, next) in [("flight", "hotel"), ("hotel", "car"), ("car", "ship")] {
        let l = Arc::clone(log);
        g.node(name, saw(name)).compensate(move |_, _| {
            l.lock().push(format!("undo {name}"));
            async { Ok(()) }
        });
        g.edge(name, next).unwrap();
    }
    g.node("ship", move |_, _| async move {
        if fail_at_ship {
            Err(Error::new(ErrorCode::AgentFailed, "no ship today"))
        } else {
            Ok(Up::Saw("ship".into()))
        }
    });
    g.entry("flight");
    g.build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_saga_compensates_in_reverse() {
    let f = fx().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let engine = Engine::new(Arc::clone(&f.store))
        .options(opts())
        .graph(saga(&log, true));
    let done = engine.execute("trip", Trail::default()).await.unwrap();
    assert_eq!(done.status, Status::Failed);
    assert_eq!(done.compensation, Compensation::Done);
    assert_eq!(*log.lock(), vec!["undo car", "undo hotel", "undo flight"]);
    assert!(done.view.steps.iter().all(|s| s.compensated));
    // A compensated saga is not retried in place.
    let err = control::retry(&*f.store, &done.id, "ops")
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compensation_resumes_after_the_runner_dies() {
    let f = fx().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let stop = tokio_util::sync::CancellationToken::new();
    // First runner: the compensation of `hotel` hangs; the runner is stopped there.
    let mut g = Graph::<Trail>::builder("trip");
    for (name, next) in [("flight", "hotel"), ("hotel", "car"), ("car", "ship")] {
        let l = Arc::clone(&log);
        let stop = stop.clone();
        g.node(name, saw(name)).compensate(move |_, _| {
            l.lock().push(format!("undo {name}"));
            let stop = stop.clone();
            async move {
                if name == "hotel" {
                    stop.cancel();
                    std::future::pending::<()>().await;
                }
                Ok(())
            }
        });
        g.edge(name, next).unwrap();
    }
    g.node("ship", |_, _| async {
        Err::<Up, _>(Error::new(ErrorCode::AgentFailed, "no ship"))
    });
    g.entry("flight");
    let engine = Engine::new(Arc::clone(&f.store))
        .options(opts())
        .graph(g.build().unwrap());
    let id = engine.start("trip", Trail::default()).await.unwrap();
    let stopped = engine.run_until(&id, stop).await.unwrap();
    assert!(stopped.is_none());
    let view = control::view(&*f.store, &id).await.unwrap();
    assert_eq!(view.compensation, Compensation::Pending);
    assert_eq!(
        view.to_compensate().len(),
        2,
        "car is undone; hotel and flight are not"
    );

    // A new runner finishes the compensation without undoing `car` again.
    log.lock().clear();
    let engine = Engine::new(Arc::clone(&f.store))
        .options(opts())
        .graph(saga(&log, true));
    let done = engine.run(&id).await.unwrap();
    assert_eq!(done.compensation, Compensation::Done);
    assert_eq!(*log.lock(), vec!["undo hotel", "undo flight"]);
    assert_eq!(done.view.runners, vec!["test-runner", "test-runner"]);
}

fn gated(gate: Gate) -> Graph<Trail> {
    let mut g = Graph::<Trail>::builder("release");
    g.node("build", saw("build"));
    g.gate("approve", gate.clone());
    g.node("deploy", saw("deploy"));
    if gate.on_reject.is_some() {
        g.node("revise", saw("revise"));
    }
    g.entry("build");
    g.edge("build", "approve").unwrap();
    g.edge("approve", "deploy").unwrap();
    g.build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gates_wait_for_a_decision_across_restarts() {
    let f = fx().await;
    let engine = Engine::new(Arc::clone(&f.store))
        .options(opts())
        .graph(gated(Gate {
            on_reject: Some("revise".into()),
            ..Gate::default()
        }));
    let id = engine.start("release", Trail::default()).await.unwrap();
    // The first runner stops while the gate waits (a restart).
    let stop = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn({
        let engine = engine.clone();
        let id = id.clone();
        let stop = stop.clone();
        async move { engine.run_until(&id, stop).await }
    });
    let store = Arc::clone(&f.store);
    eventually("the gate to wait", || {
        let store = Arc::clone(&store);
        let id = id.clone();
        async move { !control::waiting(&*store, &id).await.unwrap().is_empty() }
    })
    .await;
    stop.cancel();
    assert!(run.await.unwrap().unwrap().is_none());
    // A process starting up finds it among the unfinished workflows.
    assert_eq!(engine.unfinished().await.unwrap(), vec![id.clone()]);

    // Nothing waits at an unknown gate; the approval names the waiting one.
    let err = control::decide(&*f.store, &id, Some("nope"), true, "ann", None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert!(err.to_string().contains("approve"), "{err}");
    let (wf, gate) = control::decide(&*f.store, &id, None, true, "ann", Some("ship it"))
        .await
        .unwrap();
    assert_eq!((wf, gate.as_str()), (id.clone(), "approve"));

    let done = engine.run(&id).await.unwrap();
    assert_eq!(done.status, Status::Completed);
    assert_eq!(done.state.seen, vec!["build", "deploy"]);
    let d = &done.view.decisions[0];
    assert!(d.approved && d.by == "ann" && d.comment.as_deref() == Some("ship it"));

    // Rejected: the reject path runs instead.
    let id = engine.start("release", Trail::default()).await.unwrap();
    let run = tokio::spawn({
        let engine = engine.clone();
        let id = id.clone();
        async move { engine.run(&id).await }
    });
    eventually("the gate to wait", || {
        let store = Arc::clone(&store);
        let id = id.clone();
        async move { !control::waiting(&*store, &id).await.unwrap().is_empty() }
    })
    .await;
    control::decide(
        &*f.store,
        &id,
        Some("approve"),
        false,
        "bob",
        Some("not yet"),
    )
    .await
    .unwrap();
    let done = run.await.unwrap().unwrap();
    assert_eq!(done.state.seen, vec!["build", "revise"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_timeouts_follow_their_policy() {
    let f = fx().await;
    for (policy, status, seen) in [
        (
            OnTimeout::Approve,
            Status::Completed,
            vec!["build", "deploy"],
        ),
        (OnTimeout::Reject, Status::Failed, vec!["build"]),
        (OnTimeout::Fail, Status::Failed, vec!["build"]),
    ] {
        let engine = Engine::new(Arc::clone(&f.store))
            .options(opts())
            .graph(gated(Gate {
                timeout: Some(Duration::from_millis(30)),
                on_timeout: policy,
                on_reject: None,
            }));
        let done = engine.execute("release", Trail::default()).await.unwrap();
        assert_eq!(done.status, status, "{policy:?}");
        assert_eq!(done.state.seen, seen, "{policy:?}");
        if status == Status::Failed {
            assert_eq!(done.error.unwrap().code, ErrorCode::Timeout, "{policy:?}");
        } else {
            assert!(done.view.decisions[0].timed_out);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gates_inside_subflows_are_approved_through_the_parent() {
    let f = fx().await;
    let child = Arc::new(gated(Gate::default()));
    let mut g = Graph::<Trail>::builder("parent");
    g.node("prepare", |_, _| async { Ok(Up::Add(1)) });
    g.subflow("release", Arc::clone(&child), |s: &Trail| {
        Ok(Up::Add(s.seen.len() as i64))
    });
    g.entry("prepare");
    g.edge("prepare", "release").unwrap();
    let engine = Engine::new(Arc::clone(&f.store))
        .options(opts())
        .graph(g.build().unwrap());
    let id = engine.start("parent", Trail::default()).await.unwrap();
    // The first runner stops while the child's gate waits (a restart of the process).
    let stop = tokio_util::sync::CancellationToken::new();
    let first = tokio::spawn({
        let engine = engine.clone();
        let id = id.clone();
        let stop = stop.clone();
        async move { engine.run_until(&id, stop).await }
    });
    let store = Arc::clone(&f.store);
    eventually("the child's gate to wait", || {
        let store = Arc::clone(&store);
        let id = id.clone();
        async move { !control::waiting(&*store, &id).await.unwrap().is_empty() }
    })
    .await;
    stop.cancel();
    assert!(first.await.unwrap().unwrap().is_none());
    // Approved while nothing runs, through the parent's id; a new runner finishes both.
    let (wf, gate) = control::decide(&*f.store, &id, None, true, "ann", None)
        .await
        .unwrap();
    assert_eq!(wf.as_str(), format!("{id}/release.1"));
    assert_eq!(gate, "approve");
    let done = engine.run(&id).await.unwrap();
    assert_eq!(done.status, Status::Completed);
    assert_eq!(done.state.n, 3, "1 + the child's two steps");
    let child_view = control::view(&*f.store, &wf).await.unwrap();
    assert_eq!(child_view.status, Status::Completed);

    // The audit trail: the parent's and the child's logs share one conversation; each entry
    // says who recorded it.
    let conversation = done
        .view
        .conversation_id
        .expect("workflows have a conversation");
    let trail = f
        .store
        .query(&EventQuery::new().with_conversation(conversation), 1, 1000)
        .await
        .unwrap();
    let streams: std::collections::BTreeSet<&str> =
        trail.iter().map(|e| e.stream.as_str()).collect();
    assert_eq!(streams.len(), 2, "{streams:?}");
    assert_eq!(trail.len() as u64, done.view.version + child_view.version);
    let decided = trail
        .iter()
        .find(|e| e.event_type == "flow.decided")
        .unwrap();
    assert_eq!(decided.metadata.agent.as_ref().unwrap().as_str(), "ann");
    assert!(
        trail
            .iter()
            .filter(|e| e.event_type == "flow.step")
            .all(|e| e.metadata.agent.as_ref().unwrap().as_str() == "test-runner")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_steps_and_compensates() {
    let f = fx().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let started = Arc::new(Notify::new());
    let mut g = Graph::<Trail>::builder("long");
    let l = Arc::clone(&log);
    g.node("book", saw("book")).compensate(move |_, _| {
        l.lock().push("unbook".to_owned());
        async { Ok(()) }
    });
    let s = Arc::clone(&started);
    g.node("wait", move |cx, _| {
        let s = Arc::clone(&s);
        async move {
            s.notify_one();
            cx.cancel.cancelled().await;
            Err(Error::new(ErrorCode::Cancelled, "stopped"))
        }
    });
    g.entry("book");
    g.edge("book", "wait").unwrap();
    let engine = Engine::new(Arc::clone(&f.store))
        .options(opts())
        .graph(g.build().unwrap());
    let id = engine.start("long", Trail::default()).await.unwrap();
    let run = tokio::spawn({
        let engine = engine.clone();
        let id = id.clone();
        async move { engine.run(&id).await }
    });
    started.notified().await;
    control::cancel(&*f.store, &id, "ops", "no longer needed")
        .await
        .unwrap();
    let done = run.await.unwrap().unwrap();
    assert_eq!(done.status, Status::Cancelled);
    assert_eq!(done.compensation, Compensation::Done);
    assert_eq!(*log.lock(), vec!["unbook"]);
    assert_eq!(
        done.view.cancelled,
        Some(("ops".into(), "no longer needed".into()))
    );
    let err = control::cancel(&*f.store, &id, "ops", "again")
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_workflow_is_retried_from_its_last_checkpoint() {
    let f = fx().await;
    let runs: Arc<Mutex<BTreeMap<&'static str, u32>>> = Arc::default();
    let mut g = Graph::<Trail>::builder("twice");
    let r = Arc::clone(&runs);
    g.node("first", move |_, _| {
        *r.lock().entry("first").or_default() += 1;
        async { Ok(Up::Add(1)) }
    });
    let r = Arc::clone(&runs);
    g.node("second", move |_, _| {
        let n = {
            let mut runs = r.lock();
            let n = runs.entry("second").or_default();
            *n += 1;
            *n
        };
        async move {
            if n == 1 {
                Err(Error::new(ErrorCode::Unavailable, "not yet").with_retryable(false))
            } else {
                Ok(Up::Add(10))
            }
        }
    });
    g.entry("first");
    g.edge("first", "second").unwrap();
    let engine = Engine::new(Arc::clone(&f.store))
        .options(opts())
        .graph(g.build().unwrap());
    let done = engine.execute("twice", Trail::default()).await.unwrap();
    assert_eq!(done.status, Status::Failed);
    control::retry(&*f.store, &done.id, "ops").await.unwrap();
    let again = engine.run(&done.id).await.unwrap();
    assert_eq!(again.status, Status::Completed);
    assert_eq!(again.state.n, 11);
    assert_eq!(runs.lock()["first"], 1, "a recorded step never runs again");
    let statuses: Vec<Status> = again
        .view
        .lifecycle
        .history()
        .iter()
        .map(|t| t.to)
        .collect();
    assert_eq!(
        statuses,
        vec![
            Status::Running,
            Status::Failed,
            Status::Pending,
            Status::Running,
            Status::Completed
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_steps_are_alerted_or_restarted() {
    let f = fx().await;
    let tries = Arc::new(AtomicU32::new(0));
    let t = Arc::clone(&tries);
    let mut g = Graph::<Trail>::builder("stuck");
    g.node("hang", move |cx, _| {
        let first = t.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first {
                cx.cancel.cancelled().await; // stuck until restarted
            }
            Ok(Up::Add(1))
        }
    });
    g.entry("hang");
    let engine = Engine::new(Arc::clone(&f.store))
        .options(EngineOptions {
            stall: Some(StallPolicy {
                after: Duration::from_millis(40),
                action: StallAction::Restart,
            }),
            ..opts()
        })
        .graph(g.build().unwrap());
    let done = engine.execute("stuck", Trail::default()).await.unwrap();
    assert_eq!(done.status, Status::Completed);
    assert_eq!(tries.load(Ordering::SeqCst), 2);
    assert_eq!(done.view.steps[0].attempt, 2);
    assert_eq!(done.view.failures[0].3.code, ErrorCode::Timeout);

    let mut g = Graph::<Trail>::builder("stuck-forever");
    g.node("hang", |cx, _| async move {
        cx.cancel.cancelled().await;
        Err(Error::new(ErrorCode::Cancelled, "stopped"))
    });
    g.entry("hang");
    let engine = Engine::new(Arc::clone(&f.store))
        .options(EngineOptions {
            stall: Some(StallPolicy {
                after: Duration::from_millis(40),
                action: StallAction::Cancel,
            }),
            ..opts()
        })
        .graph(g.build().unwrap());
    let done = engine
        .execute("stuck-forever", Trail::default())
        .await
        .unwrap();
    assert_eq!(done.status, Status::Cancelled);
    assert!(done.view.cancelled.unwrap().1.starts_with("stalled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflows_waiting_on_each_other_are_a_reported_deadlock() {
    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    struct Wait {
        other: String,
        done: bool,
    }
    impl State for Wait {
        type Update = bool;
        fn apply(&mut self, u: bool) {
            self.done = u;
        }
    }
    let f = fx().await;
    let mut g = Graph::<Wait>::builder("waiter");
    g.await_workflow("wait", |s: &Wait| WorkflowId::new(&s.other), |_| Ok(true));
    g.entry("wait");
    let engine = Engine::new(Arc::clone(&f.store))
        .options(opts())
        .graph(g.build().unwrap());
    let a = WorkflowId::new("a").unwrap();
    let b = WorkflowId::new("b").unwrap();
    engine
        .start_as(
            "waiter",
            &a,
            Wait {
                other: "b".into(),
                done: false,
            },
        )
        .await
        .unwrap();
    engine
        .start_as(
            "waiter",
            &b,
            Wait {
                other: "a".into(),
                done: false,
            },
        )
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(engine.run(&a), engine.run(&b));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    // At least one side sees the cycle and fails, naming it; the other then fails or, once
    // its target settled, completes.
    let failed: Vec<_> = [&ra, &rb]
        .into_iter()
        .filter(|o| o.status == Status::Failed)
        .collect();
    assert!(!failed.is_empty());
    let message = &failed[0].error.as_ref().unwrap().message;
    assert!(message.contains("deadlock"), "{message}");
    assert!(
        message.contains("a → b → a") || message.contains("b → a → b"),
        "{message}"
    );

    // Starting an existing id is a conflict.
    let err = engine
        .start_as("waiter", &a, Wait::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_graphs_and_workflows_are_clear_errors() {
    let f = fx().await;
    let engine = Engine::<Trail>::new(Arc::clone(&f.store)).options(opts());
    let err = engine.start("nope", Trail::default()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert!(err.to_string().contains("`nope`"), "{err}");
    let err = engine
        .run(&WorkflowId::new("missing").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert!(err.to_string().contains("`missing`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settled_workflows_are_listed_and_pruned_by_age() {
    let f = fx().await;
    let child = Arc::new(gated(Gate {
        timeout: Some(Duration::from_millis(1)),
        on_timeout: OnTimeout::Approve,
        on_reject: None,
    }));
    let mut g = Graph::<Trail>::builder("parent");
    g.subflow("release", child, |_| Ok(Up::Add(1)));
    g.entry("release");
    let engine = Engine::new(Arc::clone(&f.store))
        .options(opts())
        .graph(g.build().unwrap());
    let done = engine.execute("parent", Trail::default()).await.unwrap();
    assert_eq!(done.status, Status::Completed);
    // Another program's workflow, waiting at a gate, in the same store.
    let other = Engine::new(Arc::clone(&f.store))
        .options(opts())
        .graph(gated(Gate::default()));
    let waiting = other.start("release", Trail::default()).await.unwrap();

    let all = control::list(&*f.store, false).await.unwrap();
    let ids: Vec<&WorkflowId> = all.iter().map(|v| &v.id).collect();
    assert_eq!(ids, vec![&done.id, &waiting], "oldest first, no children");
    assert_eq!(control::list(&*f.store, true).await.unwrap().len(), 3);

    // Nothing is old enough yet.
    assert!(
        control::prune(&*f.store, Duration::from_secs(3600), false)
            .await
            .unwrap()
            .is_empty()
    );
    let dry = control::prune(&*f.store, Duration::ZERO, true)
        .await
        .unwrap();
    assert_eq!(dry.len(), 1);
    assert_eq!(
        control::list(&*f.store, true).await.unwrap().len(),
        3,
        "a dry run deletes nothing"
    );
    let pruned = control::prune(&*f.store, Duration::ZERO, false)
        .await
        .unwrap();
    assert_eq!(pruned[0].0, done.id, "only the settled workflow goes");
    assert!(
        pruned[0].1 >= 6,
        "its events and its subflow's: {}",
        pruned[0].1
    );
    let left = control::list(&*f.store, true).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, waiting);
    let err = control::view(&*f.store, &done.id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
}
