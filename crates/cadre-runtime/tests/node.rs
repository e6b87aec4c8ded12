//! The node end to end on real buses: lifecycle, supervision, routing, priorities, pools,
//! drain, kill switch, registry, error topic.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use cadre_bus::{Bus, BusOptions, SqliteBus};
use cadre_core::{
    Agent, AgentError, AgentId, Bid, Capability, Context, ErrorCode, Priority, Task, TaskOutcome,
};
use cadre_runtime::protocol::{HALT_KEY, NodeState};
use cadre_runtime::{AgentSpec, Client, Node, PoolConfig, Route, StreamMode};
use common::*;
use parking_lot::Mutex;

const LONG: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_round_trips_through_a_kind_and_the_outcome_names_the_agent() {
    let bus = memory_bus(Duration::from_secs(30));
    let node = Node::builder(Arc::clone(&bus))
        .id(AgentId::new("n1").unwrap())
        .options(fast())
        .agent(AgentSpec::new(kind("inc"), || Inc::new("math.inc")))
        .start()
        .await
        .unwrap();
    let client = node.client();
    let out = client
        .call(
            Task::new("math.inc", &Num(41)).unwrap(),
            Route::Capability,
            LONG,
        )
        .await
        .unwrap();
    assert_eq!(out.output::<Num>().unwrap(), Num(42));
    assert!(out.agent.as_ref().unwrap().as_str().starts_with("inc-n1-"));
    assert!(out.elapsed.is_some());
    let typed: Num = client.run("math.inc", &Num(1), LONG).await.unwrap();
    assert_eq!(typed, Num(2));
    // Straight to one agent.
    let agent = out.agent.clone().unwrap();
    let out = client
        .call(
            Task::new("math.inc", &Num(7)).unwrap(),
            Route::Agent(agent.clone()),
            LONG,
        )
        .await
        .unwrap();
    assert_eq!(
        (out.output::<Num>().unwrap(), out.agent),
        (Num(8), Some(agent))
    );
    // Nothing offers this.
    let err = client
        .call(
            Task::new("math.mul", &Num(1)).unwrap(),
            Route::Capability,
            LONG,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert!(err.to_string().contains("math.mul"), "{err}");
    let h = node.health();
    assert_eq!((h.state, h.health.as_str()), (NodeState::Running, "ready"));
    assert_eq!(h.kinds[0].replicas, 2, "default pool starts at min 2");
    let report = node.shutdown().await;
    assert!(report.drained);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_stream_kind_behaves_the_same_on_the_in_process_bus() {
    let bus = memory_bus(Duration::from_secs(30));
    let node = Node::builder(Arc::clone(&bus))
        .options(fast())
        .agent(
            AgentSpec::new(kind("hot"), || Inc::new("hot.inc")).pool(PoolConfig {
                stream: StreamMode::Memory,
                ..PoolConfig::fixed(1)
            }),
        )
        .start()
        .await
        .unwrap();
    let n: Num = node.client().run("hot.inc", &Num(1), LONG).await.unwrap();
    assert_eq!(n, Num(2));
    let topic = cadre_runtime::protocol::kind_topic(&kind("hot"));
    let local = node.local_bus().stream_info(&topic).await.unwrap().unwrap();
    assert_eq!(local.counters.acked, 1);
    assert!(
        bus.stream_info(&topic).await.unwrap().is_none(),
        "never touched the durable bus"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_panics_is_restarted_and_its_task_completes() {
    let bus = memory_bus(Duration::from_secs(30));
    let seen = Arc::new(AtomicU32::new(0));
    let s = Arc::clone(&seen);
    let node = Node::builder(Arc::clone(&bus))
        .options(fast())
        .agent(
            AgentSpec::new(kind("flaky"), move || Flaky {
                panics: 2,
                seen: Arc::clone(&s),
            })
            .pool(PoolConfig::fixed(1)),
        )
        .start()
        .await
        .unwrap();
    let n: Num = node.client().run("flaky.inc", &Num(1), LONG).await.unwrap();
    assert_eq!(n, Num(2));
    assert_eq!(seen.load(Ordering::SeqCst), 3, "two panics, then success");
    eventually(LONG, "the registry to report two restarts", || {
        let r = node.registry();
        async move {
            let i = r.instances(chrono::Utc::now());
            (i.len() == 1 && i[0].info.restarts == 2).then_some(())
        }
    })
    .await;
    let events = error_events(&*bus).await;
    let restarts: Vec<_> = events.iter().filter(|e| e.action == "restart").collect();
    assert_eq!(restarts.len(), 2);
    assert_eq!(restarts[0].code, ErrorCode::AgentFailed);
    assert!(restarts[0].error.to_string().contains("panics on purpose"));
    assert_eq!(restarts[0].kind.as_ref().unwrap().as_str(), "flaky");
    assert!(restarts[0].task.is_some() && restarts[0].agent.is_some());
    assert_eq!(
        node.health().health.as_str(),
        "ready",
        "healthy again after the restart"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_restarts_mark_the_kind_failed_and_publish_an_escalation() {
    let bus = memory_bus(Duration::from_secs(30));
    let mut opts = fast();
    opts.max_restarts = 2;
    let node = Node::builder(Arc::clone(&bus))
        .options(opts)
        .agent(
            AgentSpec::new(kind("doomed"), || Flaky {
                panics: u32::MAX,
                seen: Arc::new(AtomicU32::new(0)),
            })
            .pool(PoolConfig::fixed(1)),
        )
        .start()
        .await
        .unwrap();
    let client = node.client();
    let task = Task::new("flaky.inc", &Num(1)).unwrap();
    let err = client
        .call(
            task,
            Route::Kind(kind("doomed")),
            Duration::from_millis(600),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Timeout);
    let h = eventually(LONG, "the kind to fail", || {
        let h = node.health();
        async move { (h.health.as_str() == "failing").then_some(h) }
    })
    .await;
    let failed = h.kinds[0].failed.clone().expect("kind marked failed");
    assert!(failed.contains("3 restarts"), "{failed}");
    let events = error_events(&*bus).await;
    let esc: Vec<_> = events.iter().filter(|e| e.action == "escalate").collect();
    assert_eq!(esc.len(), 1);
    assert_eq!(esc[0].code, ErrorCode::AgentFailed);
    // A failed kind no longer takes work by capability.
    let err = client
        .call(
            Task::new("flaky.inc", &Num(1)).unwrap(),
            Route::Capability,
            LONG,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_errors_are_retried_and_final_errors_reach_the_caller_and_the_error_topic() {
    let bus = memory_bus(Duration::from_secs(30));
    let node = Node::builder(Arc::clone(&bus))
        .options(fast())
        .agent(
            AgentSpec::new(kind("retry"), || Failing {
                failures: 1,
                retryable: true,
                seen: Arc::new(AtomicU32::new(0)),
            })
            .pool(PoolConfig::fixed(1)),
        )
        .start()
        .await
        .unwrap();
    let n: Num = node
        .client()
        .run("failing.inc", &Num(1), LONG)
        .await
        .unwrap();
    assert_eq!(n, Num(2), "second attempt succeeded");
    node.shutdown().await;

    let bus = memory_bus(Duration::from_secs(30));
    let node = Node::builder(Arc::clone(&bus))
        .options(fast())
        .agent(
            AgentSpec::new(kind("broken"), || Failing {
                failures: u32::MAX,
                retryable: false,
                seen: Arc::new(AtomicU32::new(0)),
            })
            .pool(PoolConfig::fixed(1)),
        )
        .start()
        .await
        .unwrap();
    let task = Task::new("failing.inc", &Num(1)).unwrap();
    let id = task.id;
    let err = node
        .client()
        .call(task, Route::Capability, LONG)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable);
    assert!(err.to_string().contains("downstream down"), "{err}");
    let events = error_events(&*bus).await;
    assert_eq!(events.len(), 1, "not retried: not retryable");
    let e = &events[0];
    assert_eq!(
        (e.code, e.action.as_str(), e.task, e.attempt),
        (ErrorCode::Unavailable, "reply", Some(id), Some(1))
    );
    assert_eq!(e.capability.as_deref(), Some("failing.inc"));
    assert!(e.agent.as_ref().unwrap().as_str().starts_with("broken-"));
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_task_is_redelivered_to_a_live_one_and_the_registry_marks_it_dead() {
    let bus = memory_bus(Duration::from_millis(300));
    let took = Arc::new(AtomicU32::new(0));
    let t = Arc::clone(&took);
    let doomed = Node::builder(Arc::clone(&bus))
        .id(AgentId::new("doomed").unwrap())
        .options(fast())
        .agent(
            AgentSpec::new(kind("work"), move || Hang {
                capability: "work.do",
                confidence: 1.0,
                took: Arc::clone(&t),
            })
            .pool(PoolConfig::fixed(1)),
        )
        .start()
        .await
        .unwrap();
    let caller = Node::builder(Arc::clone(&bus))
        .id(AgentId::new("caller").unwrap())
        .options(fast())
        .start()
        .await
        .unwrap();
    eventually(LONG, "the caller to see the work kind", || {
        let r = caller.registry();
        async move { (!r.by_kind(&kind("work"), chrono::Utc::now()).is_empty()).then_some(()) }
    })
    .await;
    let client = caller.client();
    let call = tokio::spawn(async move {
        client
            .call(
                Task::new("work.do", &Num(1)).unwrap(),
                Route::Capability,
                LONG,
            )
            .await
    });
    eventually(LONG, "the doomed agent to take the task", || {
        let n = took.load(Ordering::SeqCst);
        assert!(!call.is_finished(), "call ended early");
        async move { (n == 1).then_some(()) }
    })
    .await;
    doomed.crash().await;
    // A live replica of the same kind joins; the lease brings the task back to it.
    let rescuer = Node::builder(Arc::clone(&bus))
        .id(AgentId::new("rescuer").unwrap())
        .options(fast())
        .agent(AgentSpec::new(kind("work"), || Inc::new("work.do")).pool(PoolConfig::fixed(1)))
        .start()
        .await
        .unwrap();
    let out = call.await.unwrap().unwrap();
    assert_eq!(out.output::<Num>().unwrap(), Num(2));
    assert!(out.agent.unwrap().as_str().contains("rescuer"));
    eventually(LONG, "the registry to mark the doomed node dead", || {
        let r = caller.registry();
        async move {
            let now = chrono::Utc::now();
            let dead = !r.node_alive(&AgentId::new("doomed").unwrap(), now);
            let live: Vec<_> = r.by_kind(&kind("work"), now);
            (dead && live.len() == 1 && live[0].node.as_str() == "rescuer").then_some(())
        }
    })
    .await;
    rescuer.shutdown().await;
    caller.shutdown().await;
}

/// Records the order it runs tasks in; each task waits for a permit.
#[derive(Debug, Clone)]
struct Gated {
    order: Arc<Mutex<Vec<u64>>>,
    gate: Arc<tokio::sync::Semaphore>,
}

impl Agent for Gated {
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new("gated.run", "1.0.0").unwrap()]
    }
    async fn can_handle(&self, _task: &Task) -> Bid {
        Bid::accept(1.0, Duration::from_millis(1))
    }
    async fn execute(&self, task: Task, _cx: &Context) -> Result<TaskOutcome, AgentError> {
        let Num(n) = task.input()?;
        self.gate.acquire().await.expect("open").forget();
        self.order.lock().push(n);
        TaskOutcome::new(&task, &Num(n))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_task_overtakes_queued_normal_ones() {
    let bus = memory_bus(Duration::from_secs(30));
    let order = Arc::new(Mutex::new(Vec::new()));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (o, g) = (Arc::clone(&order), Arc::clone(&gate));
    let node = Node::builder(Arc::clone(&bus))
        .options(fast())
        .agent(
            AgentSpec::new(kind("gated"), move || Gated {
                order: Arc::clone(&o),
                gate: Arc::clone(&g),
            })
            .pool(PoolConfig {
                batch: 1,
                ..PoolConfig::fixed(1)
            }),
        )
        .start()
        .await
        .unwrap();
    let client = node.client();
    let mut calls = Vec::new();
    for n in 0..40u64 {
        let c = client.clone();
        calls.push(tokio::spawn(async move {
            c.call(
                Task::new("gated.run", &Num(n)).unwrap(),
                Route::Capability,
                LONG,
            )
            .await
        }));
    }
    // Wait until all 40 are queued (one is held by the agent).
    let topic = cadre_runtime::protocol::kind_topic(&kind("gated"));
    eventually(LONG, "40 queued tasks", || {
        let bus = Arc::clone(&bus);
        let topic = topic.clone();
        async move {
            let info = bus.stream_info(&topic).await.unwrap()?;
            (info.counters.published == 40).then_some(())
        }
    })
    .await;
    let c = client.clone();
    let critical = tokio::spawn(async move {
        let task = Task::new("gated.run", &Num(999))
            .unwrap()
            .with_priority(Priority::Critical);
        c.call(task, Route::Capability, LONG).await
    });
    eventually(LONG, "the critical task queued", || {
        let bus = Arc::clone(&bus);
        let topic = topic.clone();
        async move {
            let info = bus.stream_info(&topic).await.unwrap()?;
            (info.counters.published == 41).then_some(())
        }
    })
    .await;
    gate.add_permits(1000);
    critical.await.unwrap().unwrap();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    let order = order.lock().clone();
    assert_eq!(order.len(), 41);
    let pos = order.iter().position(|n| *n == 999).unwrap();
    assert!(pos <= 1, "critical ran at position {pos} of {order:?}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_scales_the_pool_up_and_it_shrinks_back_after() {
    let bus = memory_bus(Duration::from_secs(30));
    let node = Node::builder(Arc::clone(&bus))
        .options(fast())
        .agent(
            AgentSpec::new(kind("slow"), || Inc {
                work: Duration::from_millis(5),
                ..Inc::new("slow.inc")
            })
            .pool(PoolConfig {
                min: 1,
                max: 6,
                batch: 1,
                scale_up_backlog: 2,
                ..PoolConfig::default()
            }),
        )
        .start()
        .await
        .unwrap();
    assert_eq!(node.pool_size(&kind("slow")), Some(1));
    let client = node.client();
    let mut calls = Vec::new();
    for n in 0..150u64 {
        let c: Client = client.clone();
        calls.push(tokio::spawn(async move {
            c.call(
                Task::new("slow.inc", &Num(n)).unwrap(),
                Route::Capability,
                LONG,
            )
            .await
        }));
    }
    let grown = eventually(LONG, "the pool to grow", || {
        let n = node.pool_size(&kind("slow")).unwrap();
        async move { (n > 1).then_some(n) }
    })
    .await;
    assert!(grown <= 6);
    for c in calls {
        c.await.unwrap().unwrap();
    }
    eventually(LONG, "the pool to shrink back to its minimum", || {
        let n = node.pool_size(&kind("slow")).unwrap();
        async move { (n == 1).then_some(()) }
    })
    .await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_a_node_under_load_loses_no_task() {
    let bus = memory_bus(Duration::from_secs(30));
    let spec = || {
        AgentSpec::new(kind("work"), || Inc {
            work: Duration::from_millis(2),
            ..Inc::new("work.do")
        })
        .pool(PoolConfig::fixed(2))
    };
    let mut short = fast();
    short.grace = Duration::from_millis(30);
    let leaving = Node::builder(Arc::clone(&bus))
        .id(AgentId::new("leaving").unwrap())
        .options(short)
        .agent(spec())
        .start()
        .await
        .unwrap();
    let staying = Node::builder(Arc::clone(&bus))
        .id(AgentId::new("staying").unwrap())
        .options(fast())
        .agent(spec())
        .start()
        .await
        .unwrap();
    let client = staying.client();
    let mut calls = Vec::new();
    for n in 0..300u64 {
        let c = client.clone();
        calls.push(tokio::spawn(async move {
            c.call(
                Task::new("work.do", &Num(n)).unwrap(),
                Route::Kind(kind("work")),
                LONG,
            )
            .await
            .map(|o| o.output::<Num>().unwrap())
        }));
    }
    let topic = cadre_runtime::protocol::kind_topic(&kind("work"));
    eventually(LONG, "work under way", || {
        let bus = Arc::clone(&bus);
        let topic = topic.clone();
        async move {
            let info = bus.stream_info(&topic).await.unwrap()?;
            (info.counters.acked >= 20).then_some(())
        }
    })
    .await;
    let report = leaving.shutdown().await;
    let mut got: Vec<u64> = Vec::new();
    for c in calls {
        got.push(c.await.unwrap().expect("every task completes").0);
    }
    got.sort_unstable();
    assert_eq!(got, (1..=300).collect::<Vec<_>>());
    assert!(report.took < Duration::from_secs(5));
    staying.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_stops_intake_on_every_node_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cadre.db");
    let bus: Arc<dyn Bus> = Arc::new(SqliteBus::open(&path, BusOptions::default()).await.unwrap());
    let calls = Arc::new(AtomicU32::new(0));
    let mut nodes = Vec::new();
    for name in ["a", "b"] {
        let c = Arc::clone(&calls);
        nodes.push(
            Node::builder(Arc::clone(&bus))
                .id(AgentId::new(name).unwrap())
                .options(fast())
                .agent(
                    AgentSpec::new(kind("work"), move || Inc {
                        calls: Arc::clone(&c),
                        ..Inc::new("work.do")
                    })
                    .pool(PoolConfig::fixed(1)),
                )
                .start()
                .await
                .unwrap(),
        );
    }
    let client = nodes[0].client();
    let _: Num = client.run("work.do", &Num(1), LONG).await.unwrap();
    // An operator in another process pulls the switch (`cadre halt`): a second handle.
    let operator = SqliteBus::open_read_only(&path, BusOptions::default())
        .await
        .unwrap();
    let pulled = Instant::now();
    operator
        .set_control(
            HALT_KEY,
            Some(r#"{"reason":"drill","by":"test","at":"2026-11-25T00:00:00Z"}"#.into()),
        )
        .await
        .unwrap();
    let took = eventually(LONG, "both nodes halted", || {
        let all = nodes.iter().all(|n| n.health().state == NodeState::Halted);
        async move { all.then(|| pulled.elapsed()) }
    })
    .await;
    assert!(took < Duration::from_secs(1), "halting took {took:?}");
    assert_eq!(nodes[1].halted().unwrap().reason, "drill");
    // A task sent while halted waits in the queue.
    let before = calls.load(Ordering::SeqCst);
    let c = client.clone();
    let queued = tokio::spawn(async move { c.run::<_, Num>("work.do", &Num(10), LONG).await });
    let err = client
        .call(
            Task::new("work.do", &Num(5)).unwrap(),
            Route::Capability,
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Timeout);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before,
        "no agent ran while halted"
    );
    nodes[1].resume().await.unwrap();
    assert_eq!(queued.await.unwrap().unwrap(), Num(11));
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_spans_nodes_and_deregisters_on_shutdown() {
    let bus = memory_bus(Duration::from_secs(30));
    let a = Node::builder(Arc::clone(&bus))
        .id(AgentId::new("a").unwrap())
        .options(fast())
        .agent(AgentSpec::new(kind("x"), || Inc::new("x.do")).pool(PoolConfig::fixed(2)))
        .start()
        .await
        .unwrap();
    let b = Node::builder(Arc::clone(&bus))
        .id(AgentId::new("b").unwrap())
        .options(fast())
        .agent(AgentSpec::new(kind("y"), || Inc::new("y.do")).pool(PoolConfig::fixed(1)))
        .start()
        .await
        .unwrap();
    eventually(LONG, "each node to see the other's agents", || {
        let (ra, rb) = (a.registry(), b.registry());
        async move {
            let now = chrono::Utc::now();
            (ra.by_capability("y.do", now).len() == 1 && rb.by_capability("x.do", now).len() == 2)
                .then_some(())
        }
    })
    .await;
    // b can route to a's kind through the registry.
    let n: Num = b.client().run("x.do", &Num(1), LONG).await.unwrap();
    assert_eq!(n, Num(2));
    a.shutdown().await;
    eventually(LONG, "a's agents to leave b's registry", || {
        let rb = b.registry();
        async move {
            rb.by_capability("x.do", chrono::Utc::now())
                .is_empty()
                .then_some(())
        }
    })
    .await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identical_task_inside_the_cache_ttl_is_answered_without_running_again() {
    let bus = memory_bus(Duration::from_secs(30));
    let calls = Arc::new(AtomicU32::new(0));
    let c = Arc::clone(&calls);
    let node = Node::builder(Arc::clone(&bus))
        .options(cadre_runtime::NodeOptions {
            cache: Some((Duration::from_secs(60), 100)),
            ..fast()
        })
        .agent(
            AgentSpec::new(kind("inc"), move || Inc {
                calls: Arc::clone(&c),
                ..Inc::new("math.inc")
            })
            .pool(PoolConfig::fixed(1)),
        )
        .start()
        .await
        .unwrap();
    let client = node.client();
    let first = client
        .call(
            Task::new("math.inc", &Num(1)).unwrap(),
            Route::Capability,
            LONG,
        )
        .await
        .unwrap();
    let again = Task::new("math.inc", &Num(1)).unwrap();
    let again_id = again.id;
    let second = client.call(again, Route::Capability, LONG).await.unwrap();
    assert_eq!(second.output::<Num>().unwrap(), Num(2));
    assert_eq!(
        second.task_id, again_id,
        "the cached outcome answers the new task"
    );
    assert_eq!(first.output, second.output);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "ran once");
    let other: Num = client.run("math.inc", &Num(5), LONG).await.unwrap();
    assert_eq!(other, Num(6));
    assert_eq!(calls.load(Ordering::SeqCst), 2, "a different input runs");
    node.shutdown().await;
}
