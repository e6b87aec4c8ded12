//! Worker pools: the replicas of one agent kind, each supervised, scaled by queue depth.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use cadre_bus::{Bus, Delivery, Receipt};
use cadre_core::{
    AgentId, AgentKind, Capability, Context, DynAgent, Envelope, Error, ErrorCode, MessageKind,
    Task, Topic,
};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::node::{Intake, Shared};
use crate::protocol::{ErrorEvent, Health, TaskReply, kind_topic};

/// Creates an agent instance for a replica id. Called again after each crash.
pub type Factory = Arc<dyn Fn(&AgentId) -> Result<Arc<dyn DynAgent>, Error> + Send + Sync>;

/// Where a kind's work queue lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamMode {
    /// On the node's configured bus: durable, shared with other nodes.
    #[default]
    Durable,
    /// On the node's in-process memory bus: the fast path for hot internal traffic; only this
    /// node's clients reach it.
    Memory,
}

/// How a kind's pool runs.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    /// Fewest replicas (also the number started).
    pub min: usize,
    /// Most replicas.
    pub max: usize,
    /// Tasks one replica runs at a time.
    pub concurrency: usize,
    /// Most tasks one replica fetches at once.
    pub batch: usize,
    /// Where the work queue lives.
    pub stream: StreamMode,
    /// Ready tasks per replica above which the pool grows.
    pub scale_up_backlog: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            min: 2,
            max: 10,
            concurrency: 1,
            batch: 16,
            stream: StreamMode::Durable,
            scale_up_backlog: 8,
        }
    }
}

impl PoolConfig {
    /// Exactly `n` replicas.
    #[must_use]
    pub fn fixed(n: usize) -> Self {
        Self {
            min: n,
            max: n.max(1),
            ..Self::default()
        }
    }
}

/// A kind of agent to host: its name, how to make instances, and its pool.
#[derive(Clone)]
pub struct AgentSpec {
    pub(crate) kind: AgentKind,
    pub(crate) factory: Factory,
    pub(crate) pool: PoolConfig,
}

impl std::fmt::Debug for AgentSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentSpec")
            .field("kind", &self.kind)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl AgentSpec {
    /// A kind whose instances `make` creates (one per replica, again after each crash).
    pub fn new<A, F>(kind: AgentKind, make: F) -> Self
    where
        A: DynAgent,
        F: Fn() -> A + Send + Sync + 'static,
    {
        Self {
            kind,
            factory: Arc::new(move |_: &AgentId| Ok(Arc::new(make()) as Arc<dyn DynAgent>)),
            pool: PoolConfig::default(),
        }
    }

    /// A kind with a fallible factory that sees the replica's id.
    pub fn with_factory(kind: AgentKind, factory: Factory) -> Self {
        Self {
            kind,
            factory,
            pool: PoolConfig::default(),
        }
    }

    /// Sets the pool.
    #[must_use]
    pub fn pool(mut self, pool: PoolConfig) -> Self {
        self.pool = pool;
        self
    }

    /// The kind.
    pub fn kind(&self) -> &AgentKind {
        &self.kind
    }
}

/// One replica, as the pool, the supervisor and the heartbeat see it.
pub(crate) struct Replica {
    pub(crate) id: AgentId,
    pub(crate) agent: Mutex<Option<Arc<dyn DynAgent>>>,
    pub(crate) health: Mutex<Health>,
    pub(crate) in_flight: AtomicU32,
    pub(crate) done: AtomicU64,
    pub(crate) restarts: AtomicU32,
    /// Graceful stop of this replica alone (scale-down).
    pub(crate) stop: CancellationToken,
    pub(crate) direct: mpsc::Sender<Delivery>,
    pub(crate) exited: AtomicBool,
}

/// The replicas of one kind.
pub(crate) struct Pool {
    pub(crate) kind: AgentKind,
    pub(crate) factory: Factory,
    pub(crate) config: PoolConfig,
    pub(crate) topic: Topic,
    pub(crate) capabilities: Mutex<Vec<Capability>>,
    pub(crate) replicas: Mutex<Vec<Arc<Replica>>>,
    pub(crate) failed: Mutex<Option<String>>,
    pub(crate) next_index: AtomicUsize,
    pub(crate) last_scale: Mutex<Instant>,
    pub(crate) metrics: PoolMetrics,
}

pub(crate) struct PoolMetrics {
    ok: cadre_observe::metrics::Counter,
    failed: cadre_observe::metrics::Counter,
    retried: cadre_observe::metrics::Counter,
    restarts: cadre_observe::metrics::Counter,
    pub(crate) replicas: cadre_observe::metrics::Gauge,
    seconds: cadre_observe::metrics::Histogram,
}

impl PoolMetrics {
    fn new(kind: &AgentKind) -> Self {
        use cadre_observe::metrics::{counter, gauge, histogram};
        let k = kind.to_string();
        Self {
            ok: counter!("cadre_tasks_total", "kind" => k.clone(), "outcome" => "ok"),
            failed: counter!("cadre_tasks_total", "kind" => k.clone(), "outcome" => "failed"),
            retried: counter!("cadre_tasks_total", "kind" => k.clone(), "outcome" => "retried"),
            restarts: counter!("cadre_agent_restarts_total", "kind" => k.clone()),
            replicas: gauge!("cadre_pool_replicas", "kind" => k.clone()),
            seconds: histogram!("cadre_task_seconds", "kind" => k),
        }
    }
}

impl Pool {
    pub(crate) fn new(spec: AgentSpec) -> Self {
        Self {
            topic: kind_topic(&spec.kind),
            metrics: PoolMetrics::new(&spec.kind),
            kind: spec.kind,
            factory: spec.factory,
            config: spec.pool,
            capabilities: Mutex::new(Vec::new()),
            replicas: Mutex::new(Vec::new()),
            failed: Mutex::new(None),
            next_index: AtomicUsize::new(1),
            last_scale: Mutex::new(Instant::now()),
        }
    }

    pub(crate) fn is_failed(&self) -> bool {
        self.failed.lock().is_some()
    }

    pub(crate) fn size(&self) -> usize {
        self.replicas.lock().len()
    }

    pub(crate) fn offers(&self, capability: &str) -> bool {
        crate::registry::offers(&self.capabilities.lock(), capability)
    }

    /// Starts one more replica under supervision. Its first agent instance is made here, so
    /// a factory that fails is reported to the caller and capabilities are known at once.
    pub(crate) fn spawn_replica(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
    ) -> Result<Arc<Replica>, Error> {
        let n = self.next_index.fetch_add(1, Ordering::Relaxed);
        let id = AgentId::new(format!("{}-{}-{n}", self.kind, shared.id))
            .or_else(|_| AgentId::new(format!("{}-{n}", self.kind)))
            .map_err(|e| Error::invalid_input(e.to_string()))?;
        let agent = (self.factory)(&id)
            .map_err(|e| e.context(format!("creating agent `{id}` of kind `{}`", self.kind)))?;
        {
            let mut caps = self.capabilities.lock();
            if caps.is_empty() {
                *caps = agent.capabilities();
            }
        }
        let (tx, rx) = mpsc::channel(self.config.batch.clamp(1, 64));
        let replica = Arc::new(Replica {
            id,
            agent: Mutex::new(Some(agent)),
            health: Mutex::new(Health::Ready),
            in_flight: AtomicU32::new(0),
            done: AtomicU64::new(0),
            restarts: AtomicU32::new(0),
            stop: CancellationToken::new(),
            direct: tx,
            exited: AtomicBool::new(false),
        });
        self.replicas.lock().push(Arc::clone(&replica));
        self.metrics.replicas.set(self.size() as f64);
        shared
            .directory
            .write()
            .insert(replica.id.clone(), (Arc::clone(self), Arc::clone(&replica)));
        let pool = Arc::clone(self);
        let shared2 = Arc::clone(shared);
        let r = Arc::clone(&replica);
        shared
            .replicas
            .spawn(async move { supervise(shared2, pool, r, rx).await });
        Ok(replica)
    }

    /// Asks the newest replica to stop after its current batch.
    pub(crate) fn retire_one(&self, shared: &Shared) -> bool {
        let mut replicas = self.replicas.lock();
        if replicas.len() <= self.config.min {
            return false;
        }
        let Some(r) = replicas.pop() else {
            return false;
        };
        r.stop.cancel();
        shared.directory.write().remove(&r.id);
        self.metrics.replicas.set(replicas.len() as f64);
        true
    }
}

/// Why a replica's loop ended.
enum Exit {
    /// Asked to stop (scale-down, drain, shutdown).
    Stopped,
    /// It crashed (a panic in the agent, a bus failure).
    Crashed(String),
}

/// Runs a replica, restarting it with backoff when it crashes; too many restarts in the window
/// mark the whole kind failed.
async fn supervise(
    shared: Arc<Shared>,
    pool: Arc<Pool>,
    replica: Arc<Replica>,
    mut rx: mpsc::Receiver<Delivery>,
) {
    let opts = &shared.opts;
    let mut recent: VecDeque<Instant> = VecDeque::new();
    let mut backoff = opts.restart_backoff;
    let mut first = replica.agent.lock().take();
    loop {
        let made = match first.take() {
            Some(agent) => Ok(agent),
            None => (pool.factory)(&replica.id),
        };
        let exit = match made {
            Ok(agent) => {
                *replica.agent.lock() = Some(Arc::clone(&agent));
                *replica.health.lock() = Health::Ready;
                let run = serve(&shared, &pool, &replica, agent, &mut rx);
                match CatchUnwind(Box::pin(run)).await {
                    Ok(exit) => exit,
                    Err(panic) => Exit::Crashed(format!("the replica loop panicked: {panic}")),
                }
            }
            Err(e) => Exit::Crashed(format!("creating the agent failed: {e}")),
        };
        *replica.agent.lock() = None;
        let Exit::Crashed(reason) = exit else {
            break;
        };
        if shared.cancel.is_cancelled() || replica.stop.is_cancelled() {
            break;
        }
        let now = Instant::now();
        recent.push_back(now);
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > opts.restart_window)
        {
            recent.pop_front();
        }
        pool.metrics.restarts.increment(1);
        if recent.len() > opts.max_restarts as usize {
            let why = format!(
                "kind `{}` failed: {} restarts within {:?} (last: {reason})",
                pool.kind,
                recent.len(),
                opts.restart_window
            );
            tracing::error!(kind = %pool.kind, agent = %replica.id, "{why}");
            *pool.failed.lock() = Some(why.clone());
            for r in pool.replicas.lock().iter() {
                r.stop.cancel();
            }
            shared
                .publish_error(ErrorEvent {
                    code: ErrorCode::AgentFailed,
                    error: Error::new(ErrorCode::AgentFailed, why).with_retryable(false),
                    agent: Some(replica.id.clone()),
                    kind: Some(pool.kind.clone()),
                    node: shared.id.clone(),
                    task: None,
                    capability: None,
                    attempt: None,
                    trace_id: None,
                    conversation_id: None,
                    action: "escalate".into(),
                    at: chrono::Utc::now(),
                })
                .await;
            break;
        }
        replica.restarts.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(kind = %pool.kind, agent = %replica.id, delay = ?backoff, "restarting: {reason}");
        *replica.health.lock() = Health::Failing(vec![format!("restarting: {reason}")]);
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = replica.stop.cancelled() => break,
            () = shared.cancel.cancelled() => break,
        }
        backoff = (backoff * 2).min(opts.restart_backoff_max);
    }
    replica.exited.store(true, Ordering::Release);
    // Whatever still waits in the direct queue goes back to the bus at once.
    rx.close();
    while let Ok(d) = rx.try_recv() {
        if shared.crashed.load(Ordering::Acquire) {
            break;
        }
        release(&*shared.durable, &d.receipt(), "its agent stopped").await;
    }
}

async fn release(bus: &dyn Bus, receipt: &Receipt, why: &str) {
    let err = Error::new(ErrorCode::Cancelled, why.to_owned());
    if let Err(e) = bus.nack(receipt, Duration::ZERO, err).await {
        tracing::warn!(error = %e, "giving a task back failed; its lease will return it");
    }
}

/// The replica's message loop.
async fn serve(
    shared: &Arc<Shared>,
    pool: &Arc<Pool>,
    replica: &Arc<Replica>,
    agent: Arc<dyn DynAgent>,
    rx: &mut mpsc::Receiver<Delivery>,
) -> Exit {
    let mut cx = Context::new(replica.id.clone(), pool.kind.clone())
        .with_cancellation(shared.cancel.child_token());
    shared.fill_extensions(cx.extensions_mut());
    let bus: Arc<dyn Bus> = match pool.config.stream {
        StreamMode::Durable => Arc::clone(&shared.durable),
        StreamMode::Memory => Arc::clone(&shared.local) as Arc<dyn Bus>,
    };
    let group = cadre_core::Group::new(pool.kind.as_str()).expect("kind names are group names");
    let mut gate: watch::Receiver<Intake> = shared.intake.subscribe();
    let batch_max = pool.config.batch.max(1);
    let worker = Worker {
        shared,
        pool,
        replica,
        agent: &agent,
        cx: &cx,
    };
    loop {
        if replica.stop.is_cancelled() || pool.is_failed() {
            return Exit::Stopped;
        }
        let intake = *gate.borrow_and_update();
        match intake {
            Intake::Open => {}
            Intake::Draining => return Exit::Stopped,
            Intake::Halted => {
                tokio::select! {
                    _ = gate.changed() => continue,
                    () = replica.stop.cancelled() => return Exit::Stopped,
                }
            }
        }
        let (from, deliveries) = tokio::select! {
            biased;
            () = replica.stop.cancelled() => return Exit::Stopped,
            _ = gate.changed() => continue,
            d = rx.recv() => match d {
                Some(first) => {
                    let mut v = vec![first];
                    while v.len() < batch_max && let Ok(d) = rx.try_recv() {
                        v.push(d);
                    }
                    (Arc::clone(&shared.durable), v)
                }
                None => return Exit::Stopped,
            },
            r = bus.fetch(&pool.topic, &group, &replica.id, batch_max, shared.opts.poll) => match r {
                Ok(v) => (Arc::clone(&bus), v),
                Err(e) => return Exit::Crashed(format!("fetching tasks failed: {e}")),
            },
        };
        if deliveries.is_empty() {
            continue;
        }
        if let Some(crash) = worker.process(&*from, deliveries).await {
            return Exit::Crashed(crash);
        }
    }
}

/// What to do with one delivery once it ran.
enum Step {
    Ack(Option<(Topic, Envelope)>),
    Retry(Duration, Error),
    Reject(Error, Option<(Topic, Envelope)>),
    /// Give it back untouched (shutdown past the grace period).
    Release,
    Crash(String, Duration),
}

struct Worker<'a> {
    shared: &'a Arc<Shared>,
    pool: &'a Arc<Pool>,
    replica: &'a Arc<Replica>,
    agent: &'a Arc<dyn DynAgent>,
    cx: &'a Context,
}

impl Worker<'_> {
    /// Runs a batch; returns the crash reason if the agent panicked (the rest of the batch is
    /// given back).
    async fn process(&self, bus: &dyn Bus, deliveries: Vec<Delivery>) -> Option<String> {
        let mut acks: Vec<Receipt> = Vec::with_capacity(deliveries.len());
        let mut replies: Vec<(Topic, Envelope)> = Vec::new();
        let mut crashed: Option<String> = None;
        let concurrency = self.pool.config.concurrency.max(1);
        let mut steps: Vec<(Receipt, Step)> = Vec::with_capacity(deliveries.len());
        if concurrency == 1 {
            for d in &deliveries {
                if crashed.is_some() || self.shared.cancel.is_cancelled() {
                    steps.push((d.receipt(), Step::Release));
                    continue;
                }
                let step = self.run(d).await;
                if let Step::Crash(reason, _) = &step {
                    crashed = Some(reason.clone());
                }
                steps.push((d.receipt(), step));
            }
        } else {
            for chunk in deliveries.chunks(concurrency) {
                if crashed.is_some() || self.shared.cancel.is_cancelled() {
                    steps.extend(chunk.iter().map(|d| (d.receipt(), Step::Release)));
                    continue;
                }
                let results = join_all(chunk.iter().map(|d| self.run(d))).await;
                for (d, step) in chunk.iter().zip(results) {
                    if let Step::Crash(reason, _) = &step {
                        crashed = Some(reason.clone());
                    }
                    steps.push((d.receipt(), step));
                }
            }
        }
        if self.shared.crashed.load(Ordering::Acquire) {
            // A simulated crash settles nothing: the leases bring the tasks back.
            return Some("the node crashed".into());
        }
        for (receipt, step) in steps {
            match step {
                Step::Ack(reply) => {
                    acks.push(receipt);
                    replies.extend(reply);
                }
                Step::Retry(delay, err) => {
                    if let Err(e) = bus.nack(&receipt, delay, err).await {
                        tracing::warn!(error = %e, "scheduling a retry failed; the lease will");
                    }
                }
                Step::Reject(err, reply) => {
                    replies.extend(reply);
                    if let Err(e) = bus.reject(&receipt, err).await {
                        tracing::warn!(error = %e, "dead-lettering a task failed");
                    }
                }
                Step::Release => release(bus, &receipt, "the node stopped before running it").await,
                Step::Crash(reason, delay) => {
                    let err = Error::new(ErrorCode::AgentFailed, reason);
                    if let Err(e) = bus.nack(&receipt, delay, err).await {
                        tracing::warn!(error = %e, "giving back a crashed task failed");
                    }
                }
            }
        }
        // Replies go out before the acks: a crash in between runs the task again (at least
        // once), never loses its answer.
        for (topic, env) in replies {
            if let Err(e) = bus.publish(&topic, env).await {
                tracing::warn!(error = %e, topic = %topic, "sending a reply failed");
            }
        }
        if !acks.is_empty()
            && let Err(e) = bus.ack(&acks).await
        {
            tracing::warn!(error = %e, "acknowledging tasks failed; they will be redelivered");
        }
        crashed
    }

    async fn run(&self, d: &Delivery) -> Step {
        let env = d.envelope();
        if !matches!(env.kind, MessageKind::TaskRequest | MessageKind::Award) {
            let err = Error::invalid_input(format!(
                "message {} is a `{:?}`, not a task; agents take task requests",
                env.id, env.kind
            ));
            return Step::Reject(err, None);
        }
        let mut task: Task = match env.payload.decode() {
            Ok(t) => t,
            Err(e) => {
                let e = e.context(format!(
                    "task message {} at offset {} of `{}`",
                    env.id, d.offset, d.stream
                ));
                let reply = self.reply(env, TaskReply::Err(e.clone()));
                return Step::Reject(e, reply);
            }
        };
        task.attempt = d.delivery_count;
        let attempt = task.attempt;
        if let Some(deadline) = task.deadline
            && deadline <= chrono::Utc::now()
        {
            let err = Error::new(
                ErrorCode::Timeout,
                format!("task {} reached its deadline before it ran", task.id),
            )
            .with_retryable(false);
            self.report(&task, &err, "reply").await;
            self.pool.metrics.failed.increment(1);
            return Step::Ack(self.reply(env, TaskReply::Err(err)));
        }
        let cx = self.cx.for_task(&task);
        // What error reports need once the task moved into `execute` (the capability is read
        // back from the message only when an error is reported).
        let info = TaskInfo {
            id: task.id,
            capability: None,
            trace: task.trace_id,
            conversation: task.conversation_id,
        };
        let deadline = task.deadline;
        self.replica.in_flight.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let fut = CatchUnwind(self.agent.execute(task, &cx));
        let result = tokio::select! {
            biased;
            r = with_deadline(fut, deadline) => r,
            () = self.shared.cancel.cancelled() => None,
        };
        self.replica.in_flight.fetch_sub(1, Ordering::Relaxed);
        let elapsed = started.elapsed();
        let Some(result) = result else {
            return Step::Release;
        };
        self.replica.done.fetch_add(1, Ordering::Relaxed);
        self.pool.metrics.seconds.record(elapsed.as_secs_f64());
        match result {
            Ok(Ok(Ok(mut outcome))) => {
                self.pool.metrics.ok.increment(1);
                outcome.agent = Some(self.replica.id.clone());
                outcome.elapsed = Some(elapsed);
                Step::Ack(self.reply(env, TaskReply::Ok(outcome)))
            }
            Ok(Ok(Err(err))) => {
                let err = err.context(format!("agent `{}`", self.replica.id));
                if err.is_retryable() && attempt < self.shared.opts.task_attempts {
                    self.pool.metrics.retried.increment(1);
                    self.report_info(&info.with_capability(env), attempt, &err, "retry")
                        .await;
                    Step::Retry(self.shared.retry_delay(attempt), err)
                } else {
                    self.pool.metrics.failed.increment(1);
                    self.report_info(&info.with_capability(env), attempt, &err, "reply")
                        .await;
                    Step::Ack(self.reply(env, TaskReply::Err(err)))
                }
            }
            Ok(Err(panic)) => {
                let reason = format!("agent `{}` panicked: {panic}", self.replica.id);
                let err = Error::new(ErrorCode::AgentFailed, reason.clone());
                self.report_info(&info.with_capability(env), attempt, &err, "restart")
                    .await;
                Step::Crash(reason, self.shared.retry_delay(attempt))
            }
            Err(()) => {
                self.pool.metrics.failed.increment(1);
                let err = Error::new(
                    ErrorCode::Timeout,
                    format!("task {} passed its deadline while running", info.id),
                )
                .with_retryable(false)
                .context(format!("agent `{}`", self.replica.id));
                self.report_info(&info.with_capability(env), attempt, &err, "reply")
                    .await;
                Step::Ack(self.reply(env, TaskReply::Err(err)))
            }
        }
    }

    fn reply(&self, request: &Envelope, reply: TaskReply) -> Option<(Topic, Envelope)> {
        let topic = request.meta.reply_to.as_ref()?;
        if topic == &self.shared.replies {
            // The requester waits on this node: hand the reply over in process. Nothing is
            // lost by skipping the bus: if this process dies, so does the requester.
            if let Some(tx) = self.shared.pending.lock().remove(&request.id) {
                let _ = tx.send(crate::node::Answer::Direct(reply));
            }
            return None;
        }
        let topic = topic.clone();
        let payload = match cadre_core::Payload::encode(&reply) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "encoding a reply failed");
                return None;
            }
        };
        let env = request
            .reply(self.replica.id.clone(), MessageKind::TaskResponse)
            .raw_payload(payload)
            .build();
        Some((topic, env))
    }

    async fn report(&self, task: &Task, err: &Error, action: &str) {
        self.report_info(&TaskInfo::of(task), task.attempt, err, action)
            .await;
    }

    async fn report_info(&self, info: &TaskInfo, attempt: u32, err: &Error, action: &str) {
        tracing::warn!(
            agent = %self.replica.id, task = %info.id, capability = info.capability.as_deref().unwrap_or("?"),
            attempt, code = err.code().as_str(), action, "task failed: {err}"
        );
        self.shared
            .publish_error(ErrorEvent {
                code: err.code(),
                error: err.clone(),
                agent: Some(self.replica.id.clone()),
                kind: Some(self.pool.kind.clone()),
                node: self.shared.id.clone(),
                task: Some(info.id),
                capability: info.capability.clone(),
                attempt: Some(attempt),
                trace_id: info.trace,
                conversation_id: Some(info.conversation),
                action: action.to_owned(),
                at: chrono::Utc::now(),
            })
            .await;
    }
}

/// What error reports need of a task after it moved into `execute`.
struct TaskInfo {
    id: cadre_core::TaskId,
    capability: Option<String>,
    trace: Option<cadre_core::TraceId>,
    conversation: cadre_core::ConversationId,
}

impl TaskInfo {
    fn with_capability(&self, env: &Envelope) -> Self {
        Self {
            id: self.id,
            capability: env.payload.decode::<Task>().ok().map(|t| t.capability),
            trace: self.trace,
            conversation: self.conversation,
        }
    }

    fn of(task: &Task) -> Self {
        Self {
            id: task.id,
            capability: Some(task.capability.clone()),
            trace: task.trace_id,
            conversation: task.conversation_id,
        }
    }
}

/// `Err(())` when the deadline passed first.
async fn with_deadline<F: Future>(
    fut: F,
    deadline: Option<chrono::DateTime<chrono::Utc>>,
) -> Option<Result<F::Output, ()>> {
    match deadline {
        None => Some(Ok(fut.await)),
        Some(at) => {
            let left = (at - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO);
            Some(tokio::time::timeout(left, fut).await.map_err(|_| ()))
        }
    }
}

/// Runs futures of one batch together (tasks of one replica with `concurrency > 1`).
async fn join_all<F: Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut futs: Vec<Pin<Box<F>>> = futs.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futs.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => out[i] = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// Turns a panic inside a future into an error carrying the panic message.
pub(crate) struct CatchUnwind<'a, T>(pub(crate) Pin<Box<dyn Future<Output = T> + Send + 'a>>);

impl<T> Future for CatchUnwind<'_, T> {
    type Output = Result<T, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
