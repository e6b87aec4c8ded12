//! Agents and helpers shared by the runtime tests.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use cadre_bus::{Bus, BusOptions, MemoryBus, ReadFrom};
use cadre_core::{
    Agent, AgentError, AgentKind, Bid, Capability, Context, Error, ErrorCode, Message, Task,
    TaskOutcome,
};
use cadre_runtime::NodeOptions;
use cadre_runtime::protocol::{ErrorEvent, errors_topic};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Num(pub u64);
impl Message for Num {
    const TYPE: &'static str = "test.num";
}

pub fn kind(s: &str) -> AgentKind {
    AgentKind::new(s).unwrap()
}

/// Fast timings so tests finish quickly.
pub fn fast() -> NodeOptions {
    let mut o = NodeOptions::default();
    o.heartbeat = Duration::from_millis(50);
    o.poll = Duration::from_millis(50);
    o.control_poll = Duration::from_millis(50);
    o.restart_backoff = Duration::from_millis(5);
    o.restart_backoff_max = Duration::from_millis(50);
    o.scale_interval = Duration::from_millis(20);
    o.scale_cooldown = Duration::from_millis(50);
    o.grace = Duration::from_secs(5);
    o.retry = o
        .retry
        .with_base(Duration::from_millis(2))
        .with_max_delay(Duration::from_millis(20));
    o
}

pub fn memory_bus(lease: Duration) -> Arc<dyn Bus> {
    Arc::new(MemoryBus::new(BusOptions {
        lease,
        max_deliveries: 20,
        ..BusOptions::default()
    }))
}

/// Polls `check` until it returns `Some`, failing the test after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub async fn error_events(bus: &dyn Bus) -> Vec<ErrorEvent> {
    match bus.read(&errors_topic(), ReadFrom::Offset(0), 10_000).await {
        Ok(stored) => stored
            .into_iter()
            .map(|s| s.envelope.payload.decode::<ErrorEvent>().unwrap())
            .collect(),
        Err(e) if e.code() == ErrorCode::NotFound => Vec::new(),
        Err(e) => panic!("reading errors: {e}"),
    }
}

/// Adds one to its input; bids `confidence` with `estimate`.
#[derive(Debug, Clone)]
pub struct Inc {
    pub capability: &'static str,
    pub confidence: f64,
    pub estimate: Duration,
    pub work: Duration,
    pub calls: Arc<AtomicU32>,
}

impl Inc {
    pub fn new(capability: &'static str) -> Self {
        Self {
            capability,
            confidence: 0.9,
            estimate: Duration::from_millis(1),
            work: Duration::ZERO,
            calls: Arc::new(AtomicU32::new(0)),
        }
    }
}

impl Agent for Inc {
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new(self.capability, "1.0.0").unwrap()]
    }
    async fn can_handle(&self, task: &Task) -> Bid {
        if task.capability == self.capability {
            Bid::accept(self.confidence, self.estimate)
        } else {
            Bid::decline()
        }
    }
    async fn execute(&self, task: Task, _cx: &Context) -> Result<TaskOutcome, AgentError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if !self.work.is_zero() {
            tokio::time::sleep(self.work).await;
        }
        let Num(n) = task.input()?;
        TaskOutcome::new(&task, &Num(n + 1))
    }
}

/// Panics on its first `panics` executions (counted across restarts), then adds one.
#[derive(Debug, Clone)]
pub struct Flaky {
    pub panics: u32,
    pub seen: Arc<AtomicU32>,
}

impl Agent for Flaky {
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new("flaky.inc", "1.0.0").unwrap()]
    }
    async fn can_handle(&self, _task: &Task) -> Bid {
        Bid::accept(1.0, Duration::from_millis(1))
    }
    async fn execute(&self, task: Task, _cx: &Context) -> Result<TaskOutcome, AgentError> {
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        assert!(n >= self.panics, "flaky agent panics on purpose ({n})");
        let Num(x) = task.input()?;
        TaskOutcome::new(&task, &Num(x + 1))
    }
}

/// Fails with a retryable error on its first `failures` executions.
#[derive(Debug, Clone)]
pub struct Failing {
    pub failures: u32,
    pub retryable: bool,
    pub seen: Arc<AtomicU32>,
}

impl Agent for Failing {
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new("failing.inc", "1.0.0").unwrap()]
    }
    async fn can_handle(&self, _task: &Task) -> Bid {
        Bid::accept(1.0, Duration::from_millis(1))
    }
    async fn execute(&self, task: Task, _cx: &Context) -> Result<TaskOutcome, AgentError> {
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        if n < self.failures {
            return Err(
                Error::new(ErrorCode::Unavailable, format!("downstream down ({n})"))
                    .with_retryable(self.retryable),
            );
        }
        let Num(x) = task.input()?;
        TaskOutcome::new(&task, &Num(x + 1))
    }
}

/// Takes a task and never finishes it (a hung or dead agent).
#[derive(Debug, Clone)]
pub struct Hang {
    pub capability: &'static str,
    pub confidence: f64,
    pub took: Arc<AtomicU32>,
}

impl Agent for Hang {
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new(self.capability, "1.0.0").unwrap()]
    }
    async fn can_handle(&self, _task: &Task) -> Bid {
        Bid::accept(self.confidence, Duration::from_millis(1))
    }
    async fn execute(&self, _task: Task, _cx: &Context) -> Result<TaskOutcome, AgentError> {
        self.took.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>().await;
        Err(Error::internal("unreachable"))
    }
}
