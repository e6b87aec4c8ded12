//! Runtime load generators behind `cadre bench runtime` and the criterion benches: task round
//! trips, auctions, idle agents. Everything runs on the in-process memory bus.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cadre_bus::{BusOptions, MemoryBus};
use cadre_core::{
    Agent, AgentError, AgentKind, Bid, Capability, Context, Error, Message, Task, TaskOutcome,
};
use serde::{Deserialize, Serialize};

use crate::{AgentSpec, Node, NodeOptions, PoolConfig, Route};

/// The echo payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// A number.
    pub n: u64,
    /// Some text.
    pub text: String,
}

impl Message for Ping {
    const TYPE: &'static str = "bench.ping";
}

/// Answers a [`Ping`] with itself; bids `confidence` per `estimate`.
#[derive(Debug, Clone)]
pub struct Echo {
    capability: &'static str,
    confidence: f64,
    estimate: Duration,
}

impl Echo {
    /// An echo agent for `capability`.
    pub fn new(capability: &'static str, confidence: f64, estimate: Duration) -> Self {
        Self {
            capability,
            confidence,
            estimate,
        }
    }
}

impl Agent for Echo {
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new(self.capability, "1.0.0").expect("valid capability")]
    }
    async fn can_handle(&self, task: &Task) -> Bid {
        if task.capability == self.capability {
            Bid::accept(self.confidence, self.estimate)
        } else {
            Bid::decline()
        }
    }
    async fn execute(&self, task: Task, _cx: &Context) -> Result<TaskOutcome, AgentError> {
        Ok(TaskOutcome {
            task_id: task.id,
            output: task.input,
            confidence: None,
            agent: None,
            elapsed: None,
        })
    }
}

/// What a round-trip run measured.
#[derive(Debug, Clone, Serialize)]
pub struct RoundTripReport {
    /// `round_trip` or `auction`.
    pub mode: &'static str,
    /// `local` (inputs travel as Rust values) or `json` (encoded up front).
    pub input: &'static str,
    /// Tasks (or auctions) completed.
    pub tasks: u64,
    /// Callers with one task in flight each.
    pub concurrency: usize,
    /// Agent replicas serving (or bidders).
    pub replicas: usize,
    /// The paced rate, if any (tasks/s).
    pub rate: Option<u64>,
    /// Wall time.
    pub seconds: f64,
    /// Throughput.
    pub tasks_per_s: f64,
    /// Median latency from (scheduled) send to outcome, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// Worst latency, µs.
    pub max_us: f64,
}

/// A round-trip or auction run.
#[derive(Debug, Clone)]
pub struct RoundTripSpec {
    /// Tasks to complete.
    pub tasks: u64,
    /// Concurrent callers (closed loop), or tasks in flight at most (paced).
    pub concurrency: usize,
    /// Replicas of the echo kind (round trips) or bidders (auctions).
    pub replicas: usize,
    /// Tasks each replica fetches at once.
    pub batch: usize,
    /// Pace the callers at this total rate (tasks/s) instead of flat out.
    pub rate: Option<u64>,
    /// Payload text length.
    pub payload: usize,
    /// Run auctions instead of routing to a kind.
    pub auction: bool,
    /// Encode each task's input to JSON up front ([`Task::new`]) instead of passing it as a
    /// Rust value ([`Task::local`]).
    pub json_input: bool,
}

impl Default for RoundTripSpec {
    fn default() -> Self {
        Self {
            tasks: 200_000,
            concurrency: 64,
            replicas: 1,
            batch: 64,
            rate: None,
            payload: 16,
            auction: false,
            json_input: false,
        }
    }
}

fn options() -> NodeOptions {
    NodeOptions {
        heartbeat: Duration::from_secs(5),
        poll: Duration::from_secs(5),
        ..NodeOptions::default()
    }
}

fn bus() -> MemoryBus {
    MemoryBus::new(BusOptions {
        max_backlog: 1 << 20,
        ..BusOptions::default()
    })
}

/// Runs request → agent → outcome round trips (or auctions) and measures them. `progress` is
/// called with the number done so far, now and then.
///
/// # Errors
/// When the node fails to start or a task fails.
pub async fn round_trips(
    spec: &RoundTripSpec,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<RoundTripReport, Error> {
    let mut builder = Node::builder(Arc::new(bus())).options(options());
    let capability = "bench.echo";
    if spec.auction {
        for i in 0..spec.replicas.max(1) {
            // Distinct bids so the auction has something to decide.
            let confidence = 0.5 + (i as f64) / (2.0 * spec.replicas.max(1) as f64);
            builder = builder.agent(
                AgentSpec::new(
                    AgentKind::new(format!("bidder-{i}"))
                        .map_err(|e| Error::internal(e.to_string()))?,
                    move || Echo::new(capability, confidence, Duration::from_micros(50)),
                )
                .pool(PoolConfig {
                    batch: spec.batch,
                    ..PoolConfig::fixed(1)
                }),
            );
        }
    } else {
        builder = builder.agent(
            AgentSpec::new(
                AgentKind::new("echo").map_err(|e| Error::internal(e.to_string()))?,
                move || Echo::new(capability, 1.0, Duration::from_micros(5)),
            )
            .pool(PoolConfig {
                batch: spec.batch,
                ..PoolConfig::fixed(spec.replicas.max(1))
            }),
        );
    }
    let node = builder.start().await?;
    let client = node.client();
    let route = if spec.auction {
        Route::Auction
    } else {
        Route::Kind(AgentKind::new("echo").map_err(|e| Error::internal(e.to_string()))?)
    };
    let text = "x".repeat(spec.payload);
    // Warm up.
    for n in 0..1000.min(spec.tasks) {
        let task = Task::new(
            capability,
            &Ping {
                n,
                text: text.clone(),
            },
        )?;
        client
            .call(task, route.clone(), Duration::from_secs(30))
            .await?;
    }
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let workers = spec.concurrency.max(1);
    let started = Instant::now();
    let per_worker_interval = spec
        .rate
        .map(|r| Duration::from_secs_f64(workers as f64 / r.max(1) as f64));
    let mut handles = Vec::with_capacity(workers);
    for w in 0..workers {
        let client = client.clone();
        let route = route.clone();
        let next = Arc::clone(&next);
        let done = Arc::clone(&done);
        let text = text.clone();
        let total = spec.tasks;
        let json_input = spec.json_input;
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity((total as usize / workers) + 1);
            // Paced workers start staggered and keep their own schedule; a worker behind
            // schedule sends at once. Latency counts from the actual send (tokio's timer
            // ticks in milliseconds, far coarser than the latencies measured here).
            let mut due =
                per_worker_interval.map(|i| started + i.mul_f64(w as f64 / workers as f64));
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                if let (Some(at), Some(every)) = (&mut due, per_worker_interval) {
                    let at_now = *at;
                    *at += every;
                    if at_now > Instant::now() {
                        tokio::time::sleep_until(tokio::time::Instant::from_std(at_now)).await;
                    }
                }
                let from = Instant::now();
                let ping = Ping {
                    n,
                    text: text.clone(),
                };
                let task = if json_input {
                    Task::new(capability, &ping)?
                } else {
                    Task::local(capability, ping)
                };
                let out = client
                    .call(task, route.clone(), Duration::from_secs(60))
                    .await?;
                debug_assert!(out.output.is::<Ping>());
                lat.push(from.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, Error>(lat)
        }));
    }
    let reporter = {
        let done = Arc::clone(&done);
        let total = spec.tasks;
        async move {
            loop {
                let d = done.load(Ordering::Relaxed);
                progress(d);
                if d >= total {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let joined = async {
        let mut all = Vec::with_capacity(spec.tasks as usize);
        for h in handles {
            all.extend(h.await.map_err(|e| Error::internal(e.to_string()))??);
        }
        // Timed here, not after the progress reporter's last nap.
        Ok::<_, Error>((all, started.elapsed()))
    };
    let (joined, ()) = tokio::join!(joined, reporter);
    let (mut lat, elapsed) = joined?;
    let seconds = elapsed.as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    let report = RoundTripReport {
        mode: if spec.auction {
            "auction"
        } else {
            "round_trip"
        },
        input: if spec.json_input { "json" } else { "local" },
        tasks: lat.len() as u64,
        concurrency: workers,
        replicas: spec.replicas.max(1),
        rate: spec.rate,
        seconds,
        tasks_per_s: lat.len() as f64 / seconds,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        max_us: pct(1.0),
    };
    node.shutdown().await;
    Ok(report)
}

/// What an idle-agents run measured.
#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    /// Agent instances started.
    pub agents: usize,
    /// Resident memory before the node started, bytes.
    pub rss_before: u64,
    /// Resident memory with every agent idle, bytes.
    pub rss_after: u64,
    /// `(after - before) / agents`.
    pub bytes_per_agent: f64,
    /// How long starting them took.
    pub start_seconds: f64,
}

/// The process's resident memory in bytes (Linux), if known.
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Starts `agents` idle replicas of one kind on one node and measures the memory they take.
///
/// # Errors
/// When the node fails to start, or memory cannot be read (not Linux).
pub async fn idle_agents(agents: usize) -> Result<IdleReport, Error> {
    let unknown = || {
        Error::new(
            cadre_core::ErrorCode::Unavailable,
            "cannot read /proc/self/statm",
        )
    };
    let bus = Arc::new(bus());
    let before = rss_bytes().ok_or_else(unknown)?;
    let started = Instant::now();
    let node = Node::builder(bus)
        .options(options())
        .agent(
            AgentSpec::new(
                AgentKind::new("idle").map_err(|e| Error::internal(e.to_string()))?,
                || Echo::new("bench.idle", 1.0, Duration::from_millis(1)),
            )
            .pool(PoolConfig {
                batch: 1,
                ..PoolConfig::fixed(agents)
            }),
        )
        .start()
        .await?;
    // Let every replica reach its first wait on the bus.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_millis(500) {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let start_seconds = started.elapsed().as_secs_f64();
    let after = rss_bytes().ok_or_else(unknown)?;
    let report = IdleReport {
        agents,
        rss_before: before,
        rss_after: after,
        bytes_per_agent: after.saturating_sub(before) as f64 / agents.max(1) as f64,
        start_seconds,
    };
    node.shutdown().await;
    Ok(report)
}
