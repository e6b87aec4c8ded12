//! The node: hosts agent pools on a bus, with heartbeats, the registry, the kill switch,
//! autoscaling and graceful drain.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cadre_bus::{Bus, Delivery, MemoryBus, ReadFrom, StartFrom};
use cadre_core::{
    AgentId, AgentKind, Bid, Envelope, Error, ErrorCode, Extensions, Group, MessageId, MessageKind,
    Recipient, Task,
};
use cadre_resilience::RetryPolicy;
use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;
use serde::Serialize;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::Client;
use crate::contract_net::AuctionConfig;
use crate::pool::{AgentSpec, Pool, Replica, StreamMode};
use crate::protocol::{
    Announce, Bids, ErrorEvent, HALT_KEY, Halt, Health, Heartbeat, InstanceBeat, KindBeat,
    NodeState, Rejected, TaskReply, errors_topic, heartbeats_topic, node_topic, replies_topic,
};
use crate::registry::Registry;

/// How a node runs. The defaults suit most crews; a crew manifest's `[runtime]` sets them.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// How often the node publishes its heartbeat.
    pub heartbeat: Duration,
    /// After this many missed heartbeats a node's agents count as dead.
    pub missed_heartbeats: u32,
    /// How long a drain waits for in-flight tasks before cancelling them.
    pub grace: Duration,
    /// First delay before restarting a crashed replica; doubles up to `restart_backoff_max`.
    pub restart_backoff: Duration,
    /// Longest delay between restarts.
    pub restart_backoff_max: Duration,
    /// More restarts than this inside `restart_window` mark the kind failed.
    pub max_restarts: u32,
    /// The window for `max_restarts`.
    pub restart_window: Duration,
    /// How often pools look at their queue depth.
    pub scale_interval: Duration,
    /// Least time between two scale-downs of a pool.
    pub scale_cooldown: Duration,
    /// Tries per task when the agent's error is retryable.
    pub task_attempts: u32,
    /// Longest an idle replica waits in one fetch.
    pub poll: Duration,
    /// How often the node reads the kill switch.
    pub control_poll: Duration,
    /// Contract Net timing.
    pub auction: AuctionConfig,
    /// Delays between task retries (attempt n waits the n-th backoff delay).
    pub retry: RetryPolicy,
    /// Reuse the result of a task for an identical one (same capability and input) for this
    /// long, keeping at most this many results; `None` (the default) turns it off.
    pub cache: Option<(Duration, usize)>,
}

impl Default for NodeOptions {
    /// The defaults of a crew manifest's `[runtime]` section (one source of truth).
    fn default() -> Self {
        crate::crew::node_options(&cadre_config::crew::RuntimeSection::default())
    }
}

/// What a waiting request receives.
pub(crate) enum Answer {
    /// A reply that came over a bus.
    Envelope(Envelope),
    /// A task's reply handed over in process: the requester is on this node, so the reply
    /// needs no bus hop (and no encoding).
    Direct(TaskReply),
}

/// Whether replicas take new tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intake {
    Open,
    Halted,
    Draining,
}

/// A replica hosted here, with its pool.
pub(crate) type Local = (Arc<Pool>, Arc<Replica>);

pub(crate) struct Shared {
    pub(crate) id: AgentId,
    pub(crate) crew: Option<String>,
    pub(crate) durable: Arc<dyn Bus>,
    pub(crate) local: Arc<MemoryBus>,
    pub(crate) opts: NodeOptions,
    /// Cancels agents' work (after the grace period).
    pub(crate) cancel: CancellationToken,
    /// Stops the node's own loops.
    pub(crate) background: CancellationToken,
    pub(crate) intake: watch::Sender<Intake>,
    pub(crate) replicas: TaskTracker,
    pub(crate) tasks: TaskTracker,
    pub(crate) pools: RwLock<Vec<Arc<Pool>>>,
    pub(crate) directory: RwLock<FxHashMap<AgentId, Local>>,
    pub(crate) registry: RwLock<Registry>,
    pub(crate) pending: Mutex<FxHashMap<MessageId, oneshot::Sender<Answer>>>,
    pub(crate) halt: Mutex<Option<Halt>>,
    pub(crate) state: Mutex<NodeState>,
    pub(crate) replies: cadre_core::Topic,
    /// Results reused for identical tasks, when on.
    pub(crate) cache: Option<crate::ResultCache>,
    /// Set by [`Node::crash`]: nothing is settled or said any more.
    pub(crate) crashed: std::sync::atomic::AtomicBool,
}

impl Shared {
    pub(crate) fn fill_extensions(self: &Arc<Self>, ext: &mut Extensions) {
        ext.insert(Client::new(Arc::clone(self)));
        ext.insert(Arc::clone(&self.durable));
    }

    pub(crate) fn retry_delay(&self, attempt: u32) -> Duration {
        let mut backoff = self.opts.retry.backoff();
        let mut delay = Duration::ZERO;
        for _ in 0..attempt.max(1) {
            delay = backoff.next_delay();
        }
        delay
    }

    pub(crate) fn pool(&self, kind: &AgentKind) -> Option<Arc<Pool>> {
        self.pools.read().iter().find(|p| &p.kind == kind).cloned()
    }

    pub(crate) fn bus_for(&self, mode: StreamMode) -> Arc<dyn Bus> {
        match mode {
            StreamMode::Durable => Arc::clone(&self.durable),
            StreamMode::Memory => Arc::clone(&self.local) as Arc<dyn Bus>,
        }
    }

    /// Publishes one of the runtime's own messages on the durable bus; a failure is logged,
    /// never returned (heartbeats and error events must not fail the work around them).
    async fn announce<M: cadre_core::Message>(
        &self,
        topic: cadre_core::Topic,
        kind: MessageKind,
        message: &M,
        shape: impl FnOnce(cadre_core::EnvelopeBuilder) -> cadre_core::EnvelopeBuilder,
    ) {
        let env = Envelope::builder(self.id.clone(), Recipient::Topic(topic.clone()), kind)
            .payload(message)
            .map(shape);
        let result = match env {
            Ok(b) => self.durable.publish(&topic, b.build()).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, topic = %topic, "publishing a `{}` failed", M::TYPE);
        }
    }

    /// Publishes an agent error on the error topic (never fails the caller).
    pub(crate) async fn publish_error(&self, event: ErrorEvent) {
        let (conversation, trace) = (event.conversation_id, event.trace_id);
        self.announce(errors_topic(), MessageKind::Error, &event, |mut b| {
            if let Some(c) = conversation {
                b = b.conversation(c);
            }
            if let Some(t) = trace {
                b = b.trace(t);
            }
            b
        })
        .await;
    }

    /// The bids of this node's agents for `task`, leaving out `exclude`.
    pub(crate) async fn local_bids(&self, task: &Task, exclude: &[AgentId]) -> Vec<(AgentId, Bid)> {
        if *self.intake.borrow() != Intake::Open {
            return Vec::new();
        }
        let mut bidders = Vec::new();
        for pool in self.pools.read().iter() {
            if pool.is_failed() || !pool.offers(&task.capability) {
                continue;
            }
            for r in pool.replicas.lock().iter() {
                if exclude.contains(&r.id)
                    || !matches!(*r.health.lock(), Health::Ready | Health::Degraded(_))
                {
                    continue;
                }
                if let Some(agent) = r.agent.lock().clone() {
                    bidders.push((r.id.clone(), agent));
                }
            }
        }
        let mut bids = Vec::with_capacity(bidders.len());
        for (id, agent) in bidders {
            let bid = agent.can_handle(task).await;
            bids.push((id, bid));
        }
        bids
    }

    pub(crate) fn heartbeat(&self) -> Heartbeat {
        let kinds = self
            .pools
            .read()
            .iter()
            .map(|p| KindBeat {
                kind: p.kind.clone(),
                capabilities: p.capabilities.lock().clone(),
                failed: p.failed.lock().clone(),
                instances: p
                    .replicas
                    .lock()
                    .iter()
                    .map(|r| InstanceBeat {
                        id: r.id.clone(),
                        health: r.health.lock().clone(),
                        in_flight: r.in_flight.load(std::sync::atomic::Ordering::Relaxed),
                        done: r.done.load(std::sync::atomic::Ordering::Relaxed),
                        restarts: r.restarts.load(std::sync::atomic::Ordering::Relaxed),
                    })
                    .collect(),
            })
            .collect();
        Heartbeat {
            node: self.id.clone(),
            crew: self.crew.clone(),
            state: *self.state.lock(),
            interval_ms: u64::try_from(self.opts.heartbeat.as_millis()).unwrap_or(u64::MAX),
            at: chrono::Utc::now(),
            kinds,
        }
    }

    async fn beat(&self) {
        let beat = self.heartbeat();
        self.registry.write().observe(beat.clone());
        self.announce(heartbeats_topic(), MessageKind::Heartbeat, &beat, |b| b)
            .await;
    }

    fn set_state(&self, state: NodeState) {
        *self.state.lock() = state;
    }

    fn apply_halt(&self, halt: Option<Halt>) {
        let now_halted = halt.is_some();
        let was = std::mem::replace(&mut *self.halt.lock(), halt).is_some();
        if was != now_halted {
            let draining = *self.intake.borrow() == Intake::Draining;
            if !draining {
                self.intake.send_replace(if now_halted {
                    Intake::Halted
                } else {
                    Intake::Open
                });
                self.set_state(if now_halted {
                    NodeState::Halted
                } else {
                    NodeState::Running
                });
                if now_halted {
                    tracing::warn!(node = %self.id, "kill switch: task intake halted");
                } else {
                    tracing::info!(node = %self.id, "kill switch released: task intake resumed");
                }
            }
        }
    }

    async fn read_halt(&self) -> Result<Option<Halt>, Error> {
        let Some(value) = self.durable.control(HALT_KEY).await? else {
            return Ok(None);
        };
        Ok(Some(serde_json::from_str(&value.value).unwrap_or_else(
            |_| {
                Halt {
                    reason: value.value.clone(),
                    by: "unknown".into(),
                    at: chrono::DateTime::from_timestamp_millis(
                        i64::try_from(value.updated_ms).unwrap_or(0),
                    )
                    .unwrap_or_default(),
                }
            },
        )))
    }

    /// Answers an announce from another node with this node's bids.
    async fn answer_announce(&self, env: &Envelope) -> Result<(), Error> {
        let announce: Announce = env.payload.decode()?;
        let bids = self.local_bids(&announce.task, &announce.exclude).await;
        let Some(reply_to) = env.meta.reply_to.clone() else {
            return Ok(());
        };
        let reply = env
            .reply(self.id.clone(), MessageKind::Bid)
            .payload(&Bids {
                auction: announce.auction,
                round: announce.round,
                bids,
            })?
            .build();
        self.durable.publish(&reply_to, reply).await?;
        Ok(())
    }

    /// Answers a task for an agent that is not here.
    async fn answer_missing(&self, env: &Envelope, agent: &AgentId) {
        let Some(reply_to) = env.meta.reply_to.clone() else {
            return;
        };
        let err = Error::new(
            ErrorCode::NotFound,
            format!("agent `{agent}` is not running on node `{}`", self.id),
        );
        if let Ok(b) = env
            .reply(self.id.clone(), MessageKind::TaskResponse)
            .payload(&TaskReply::Err(err))
            && let Err(e) = self.durable.publish(&reply_to, b.build()).await
        {
            tracing::warn!(error = %e, "answering a task for a missing agent failed");
        }
    }

    /// Routes one delivery of the node's inbox.
    async fn dispatch_inbox(&self, d: Delivery) {
        let bus = &*self.durable;
        let env = d.envelope();
        match (env.kind, &env.recipient) {
            (MessageKind::TaskRequest | MessageKind::Award, Recipient::Agent(agent)) => {
                let replica = self.directory.read().get(agent).map(|(_, r)| Arc::clone(r));
                match replica {
                    Some(r) => {
                        let receipt = d.receipt();
                        match r.direct.try_send(d) {
                            Ok(()) => {}
                            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                                let err = Error::new(
                                    ErrorCode::Overloaded,
                                    format!("agent `{}` is busy", r.id),
                                );
                                let _ = bus.nack(&receipt, Duration::from_millis(5), err).await;
                            }
                            Err(tokio::sync::mpsc::error::TrySendError::Closed(d)) => {
                                self.answer_missing(d.envelope(), &r.id).await;
                                let _ = bus.ack(&[receipt]).await;
                            }
                        }
                    }
                    None => {
                        self.answer_missing(env, agent).await;
                        let _ = bus.ack(&[d.receipt()]).await;
                    }
                }
            }
            (MessageKind::Announce, _) => {
                if let Err(e) = self.answer_announce(env).await {
                    tracing::warn!(error = %e, message = %env.id, "answering an announce failed");
                }
                let _ = bus.ack(&[d.receipt()]).await;
            }
            (MessageKind::Reject, _) => {
                if let Ok(r) = env.payload.decode::<Rejected>() {
                    tracing::debug!(auction = %r.auction, agents = r.agents.len(), "bids lost");
                }
                let _ = bus.ack(&[d.receipt()]).await;
            }
            (kind, _) => {
                let err = Error::invalid_input(format!(
                    "node inbox got a `{kind:?}` message {}; it takes tasks for one agent and auctions",
                    env.id
                ));
                let _ = bus.reject(&d.receipt(), err).await;
            }
        }
    }
}

/// Builds and starts a [`Node`].
pub struct NodeBuilder {
    bus: Arc<dyn Bus>,
    id: Option<AgentId>,
    crew: Option<String>,
    opts: NodeOptions,
    specs: Vec<AgentSpec>,
    local: Option<MemoryBus>,
}

impl std::fmt::Debug for NodeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeBuilder")
            .field("bus", &self.bus.backend())
            .field("id", &self.id)
            .field("crew", &self.crew)
            .field("opts", &self.opts)
            .field("specs", &self.specs)
            .finish_non_exhaustive()
    }
}

impl NodeBuilder {
    /// The node's id (default: `node-<random>`). Ids must be unique among the nodes sharing a
    /// bus.
    #[must_use]
    pub fn id(mut self, id: AgentId) -> Self {
        self.id = Some(id);
        self
    }

    /// The crew the node belongs to (shown in the registry).
    #[must_use]
    pub fn crew(mut self, name: impl Into<String>) -> Self {
        self.crew = Some(name.into());
        self
    }

    /// Sets the options.
    #[must_use]
    pub fn options(mut self, opts: NodeOptions) -> Self {
        self.opts = opts;
        self
    }

    /// Uses `bus` as the in-process fast path (for kinds with [`StreamMode::Memory`]).
    #[must_use]
    pub fn local_bus(mut self, bus: MemoryBus) -> Self {
        self.local = Some(bus);
        self
    }

    /// Hosts a kind of agent.
    #[must_use]
    pub fn agent(mut self, spec: AgentSpec) -> Self {
        self.specs.push(spec);
        self
    }

    /// Starts the node: registers its agents (first heartbeat), starts every replica's
    /// message loop, the heartbeat, registry, kill-switch and autoscaling loops.
    ///
    /// # Errors
    /// When the bus refuses to create the node's streams, or two kinds have the same name.
    pub async fn start(self) -> Result<Node, Error> {
        let id = match self.id {
            Some(id) => id,
            None => AgentId::new(format!("node-{:08x}", fastrand::u32(..)))
                .map_err(|e| Error::internal(e.to_string()))?,
        };
        for (i, s) in self.specs.iter().enumerate() {
            if self.specs[..i].iter().any(|o| o.kind == s.kind) {
                return Err(Error::invalid_input(format!(
                    "agent kind `{}` is added twice",
                    s.kind
                )));
            }
            if s.pool.min > s.pool.max || s.pool.max == 0 {
                return Err(Error::invalid_input(format!(
                    "agent kind `{}`: replicas min {} / max {} (need min <= max and max >= 1)",
                    s.kind, s.pool.min, s.pool.max
                )));
            }
        }
        let local = Arc::new(self.local.unwrap_or_default());
        let (intake, _) = watch::channel(Intake::Open);
        let cache = self
            .opts
            .cache
            .map(|(ttl, capacity)| crate::ResultCache::new(id.as_str(), ttl, capacity));
        let shared = Arc::new(Shared {
            replies: replies_topic(&id),
            id,
            crew: self.crew,
            durable: self.bus,
            local,
            registry: RwLock::new(Registry::new(self.opts.missed_heartbeats)),
            opts: self.opts,
            cancel: CancellationToken::new(),
            background: CancellationToken::new(),
            intake,
            replicas: TaskTracker::new(),
            tasks: TaskTracker::new(),
            pools: RwLock::new(Vec::new()),
            directory: RwLock::new(FxHashMap::default()),
            pending: Mutex::new(FxHashMap::default()),
            halt: Mutex::new(None),
            state: Mutex::new(NodeState::Running),
            crashed: std::sync::atomic::AtomicBool::new(false),
            cache,
        });
        let node_group =
            Group::new(shared.id.as_str()).map_err(|e| Error::internal(e.to_string()))?;
        // The node's own streams.
        shared
            .durable
            .create_group(&node_topic(&shared.id), &node_group, StartFrom::Latest)
            .await?;
        shared
            .durable
            .create_group(&shared.replies, &node_group, StartFrom::Latest)
            .await?;
        shared
            .local
            .create_group(&shared.replies, &node_group, StartFrom::Latest)
            .await?;
        let registry_group = Group::new(format!("registry.{}", shared.id))
            .map_err(|e| Error::internal(e.to_string()))?;
        shared
            .durable
            .create_group(&heartbeats_topic(), &registry_group, StartFrom::Latest)
            .await?;
        prime_registry(&shared).await;
        // The kill switch holds from the first instant.
        shared.apply_halt(shared.read_halt().await?);
        for spec in self.specs {
            let node = Node {
                shared: Arc::clone(&shared),
            };
            node.add(spec).await?;
        }
        shared.beat().await;
        spawn_loops(&shared, node_group, registry_group);
        tracing::info!(node = %shared.id, kinds = shared.pools.read().len(), "node started");
        Ok(Node { shared })
    }
}

async fn prime_registry(shared: &Shared) {
    let window = shared.opts.heartbeat * shared.opts.missed_heartbeats.max(1) * 2;
    let since = chrono::Utc::now() - chrono::Duration::from_std(window).unwrap_or_default();
    match shared
        .durable
        .read(&heartbeats_topic(), ReadFrom::Time(since), 100_000)
        .await
    {
        Ok(stored) => {
            let mut reg = shared.registry.write();
            for s in stored {
                if let Ok(beat) = s.envelope.payload.decode::<Heartbeat>() {
                    reg.observe(beat);
                }
            }
        }
        Err(e) if e.code() == ErrorCode::NotFound => {}
        Err(e) => tracing::warn!(error = %e, "reading recent heartbeats failed"),
    }
}

fn spawn_loops(shared: &Arc<Shared>, node_group: Group, registry_group: Group) {
    let s = Arc::clone(shared);
    shared.tasks.spawn(async move {
        let mut tick = tokio::time::interval(s.opts.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                () = s.background.cancelled() => break,
                _ = tick.tick() => s.beat().await,
            }
        }
    });
    let s = Arc::clone(shared);
    let g = registry_group;
    shared.tasks.spawn(async move {
        let topic = heartbeats_topic();
        loop {
            let fetched = tokio::select! {
                () = s.background.cancelled() => break,
                r = s.durable.fetch(&topic, &g, &s.id, 256, s.opts.poll) => r,
            };
            match fetched {
                Ok(ds) if !ds.is_empty() => {
                    {
                        let mut reg = s.registry.write();
                        for d in &ds {
                            if let Ok(beat) = d.envelope().payload.decode::<Heartbeat>()
                                && beat.node != s.id
                            {
                                reg.observe(beat);
                            }
                        }
                    }
                    let receipts: Vec<_> = ds.iter().map(Delivery::receipt).collect();
                    let _ = s.durable.ack(&receipts).await;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "reading heartbeats failed");
                    pause(&s, s.opts.poll).await;
                }
            }
        }
    });
    let s = Arc::clone(shared);
    shared.tasks.spawn(async move {
        loop {
            match s.read_halt().await {
                Ok(h) => s.apply_halt(h),
                Err(e) => tracing::warn!(error = %e, "reading the kill switch failed"),
            }
            if pause(&s, s.opts.control_poll).await {
                break;
            }
        }
    });
    let s = Arc::clone(shared);
    shared.tasks.spawn(async move {
        loop {
            if pause(&s, s.opts.scale_interval).await {
                break;
            }
            scale(&s).await;
        }
    });
    let s = Arc::clone(shared);
    let g = node_group.clone();
    shared.tasks.spawn(async move {
        let topic = node_topic(&s.id);
        loop {
            let fetched = tokio::select! {
                () = s.background.cancelled() => break,
                r = s.durable.fetch(&topic, &g, &s.id, 64, s.opts.poll) => r,
            };
            match fetched {
                Ok(ds) => {
                    for d in ds {
                        s.dispatch_inbox(d).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the node inbox failed");
                    pause(&s, s.opts.poll).await;
                }
            }
        }
    });
    for bus in [
        Arc::clone(&shared.durable),
        Arc::clone(&shared.local) as Arc<dyn Bus>,
    ] {
        let s = Arc::clone(shared);
        let g = node_group.clone();
        shared.tasks.spawn(async move {
            loop {
                let fetched = tokio::select! {
                    () = s.background.cancelled() => break,
                    r = bus.fetch(&s.replies, &g, &s.id, 512, s.opts.poll) => r,
                };
                match fetched {
                    Ok(ds) if !ds.is_empty() => {
                        let receipts: Vec<_> = ds.iter().map(Delivery::receipt).collect();
                        {
                            let mut pending = s.pending.lock();
                            for d in ds {
                                if let Some(parent) = d.envelope().meta.parent_id
                                    && let Some(tx) = pending.remove(&parent)
                                {
                                    let _ = tx.send(Answer::Envelope(d.into_envelope()));
                                }
                            }
                        }
                        let _ = bus.ack(&receipts).await;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "reading replies failed");
                        pause(&s, s.opts.poll).await;
                    }
                }
            }
        });
    }
}

/// Waits `d`, or less when the node stops; `true` when it stopped.
async fn pause(s: &Shared, d: Duration) -> bool {
    tokio::select! {
        () = s.background.cancelled() => true,
        () = tokio::time::sleep(d) => false,
    }
}

/// One autoscaling round: grow pools whose queue is deep, shrink idle ones.
async fn scale(shared: &Arc<Shared>) {
    if *shared.intake.borrow() != Intake::Open {
        return;
    }
    let pools: Vec<Arc<Pool>> = shared.pools.read().clone();
    for pool in pools {
        if pool.is_failed() || pool.config.min == pool.config.max {
            continue;
        }
        let bus = shared.bus_for(pool.config.stream);
        let Ok(Some(info)) = bus.stream_info(&pool.topic).await else {
            continue;
        };
        let Some(g) = info
            .groups
            .iter()
            .find(|g| g.name.as_str() == pool.kind.as_str())
        else {
            continue;
        };
        let ready: u64 = g.ready.iter().sum();
        let ready = usize::try_from(ready).unwrap_or(usize::MAX);
        let n = pool.size();
        let per = pool.config.scale_up_backlog.max(1);
        let now = Instant::now();
        if (n == 0 && ready > 0) || ready > per.saturating_mul(n) {
            if n < pool.config.max {
                let want = ready.div_ceil(per).clamp(n + 1, pool.config.max);
                for _ in n..want {
                    if let Err(e) = pool.spawn_replica(shared) {
                        tracing::error!(kind = %pool.kind, error = %e, "scaling up failed");
                        break;
                    }
                }
                *pool.last_scale.lock() = now;
                tracing::info!(kind = %pool.kind, from = n, to = want, ready, "scaled up");
            }
        } else if ready == 0
            && n > pool.config.min
            && usize::try_from(g.in_flight).unwrap_or(usize::MAX) < n
            && now.duration_since(*pool.last_scale.lock()) >= shared.opts.scale_cooldown
            && pool.retire_one(shared)
        {
            *pool.last_scale.lock() = now;
            tracing::info!(kind = %pool.kind, from = n, to = n - 1, "scaled down");
        }
    }
}

/// The node's health: its state and the worst of its agents', with reasons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeHealth {
    /// The node.
    pub node: AgentId,
    /// Its lifecycle state.
    pub state: NodeState,
    /// Ready, degraded or failing, with reasons.
    pub health: Health,
    /// Per kind: replicas running and whether it failed.
    pub kinds: Vec<KindStatus>,
}

/// One kind on a node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindStatus {
    /// The kind.
    pub kind: AgentKind,
    /// Replicas running.
    pub replicas: usize,
    /// Why it failed, if it did.
    pub failed: Option<String>,
}

/// What a shutdown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ShutdownReport {
    /// Whether every in-flight task finished inside the grace period.
    pub drained: bool,
    /// How long the drain took.
    #[serde(with = "humantime_serde")]
    pub took: Duration,
}

/// A running node. Cheap to clone.
#[derive(Clone)]
pub struct Node {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.shared.id)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A builder for a node on `bus`.
    pub fn builder(bus: Arc<dyn Bus>) -> NodeBuilder {
        NodeBuilder {
            bus,
            id: None,
            crew: None,
            opts: NodeOptions::default(),
            specs: Vec::new(),
            local: None,
        }
    }

    /// The node's id.
    pub fn id(&self) -> &AgentId {
        &self.shared.id
    }

    /// A client to send tasks from this node.
    pub fn client(&self) -> Client {
        Client::new(Arc::clone(&self.shared))
    }

    /// The node's durable bus.
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.shared.durable
    }

    /// The node's in-process bus.
    pub fn local_bus(&self) -> &MemoryBus {
        &self.shared.local
    }

    /// Adds a kind of agent to a running node and starts its minimum replicas.
    ///
    /// # Errors
    /// When the kind is already hosted, or the bus refuses to create its work queue.
    pub async fn add(&self, spec: AgentSpec) -> Result<(), Error> {
        if self.shared.pool(&spec.kind).is_some() {
            return Err(Error::invalid_input(format!(
                "agent kind `{}` is already hosted on node `{}`",
                spec.kind, self.shared.id
            )));
        }
        let pool = Arc::new(Pool::new(spec));
        let group = Group::new(pool.kind.as_str()).map_err(|e| Error::internal(e.to_string()))?;
        self.shared
            .bus_for(pool.config.stream)
            .create_group(&pool.topic, &group, StartFrom::Earliest)
            .await?;
        // Capabilities are known once an instance exists; make one to ask when the pool starts
        // empty (a factory that fails is reported here, at start).
        if pool.config.min == 0 {
            let agent = (pool.factory)(&self.shared.id)
                .map_err(|e| e.context(format!("creating an agent of kind `{}`", pool.kind)))?;
            *pool.capabilities.lock() = agent.capabilities();
        }
        for _ in 0..pool.config.min {
            pool.spawn_replica(&self.shared)?;
        }
        self.shared.pools.write().push(Arc::clone(&pool));
        pool.metrics.replicas.set(pool.size() as f64);
        Ok(())
    }

    /// How many replicas of `kind` run now.
    pub fn pool_size(&self, kind: &AgentKind) -> Option<usize> {
        self.shared.pool(kind).map(|p| p.size())
    }

    /// The node's health.
    pub fn health(&self) -> NodeHealth {
        let state = *self.shared.state.lock();
        let mut health = match state {
            NodeState::Running => Health::Ready,
            NodeState::Halted => Health::Failing(vec!["halted by the kill switch".into()]),
            NodeState::Draining => Health::Failing(vec!["draining".into()]),
            NodeState::Stopped => Health::Failing(vec!["stopped".into()]),
        };
        let mut kinds = Vec::new();
        for p in self.shared.pools.read().iter() {
            let failed = p.failed.lock().clone();
            if let Some(reason) = &failed {
                health = health.worst(Health::Failing(vec![reason.clone()]));
            }
            for r in p.replicas.lock().iter() {
                let h = r.health.lock().clone();
                if !h.is_ready() {
                    let reasons = h
                        .reasons()
                        .iter()
                        .map(|x| format!("{}: {x}", r.id))
                        .collect();
                    health = health.worst(match h {
                        // One replica restarting degrades the node; the kind failing fails it.
                        Health::Failing(_) | Health::Degraded(_) => Health::Degraded(reasons),
                        Health::Ready => Health::Ready,
                    });
                }
            }
            kinds.push(KindStatus {
                kind: p.kind.clone(),
                replicas: p.size(),
                failed,
            });
        }
        NodeHealth {
            node: self.shared.id.clone(),
            state,
            health,
            kinds,
        }
    }

    /// The registry as this node sees it (every node's last heartbeat).
    pub fn registry(&self) -> Registry {
        self.shared.registry.read().clone()
    }

    /// Pulls the kill switch for every node sharing the bus: they stop taking tasks within
    /// `control_poll` (this node at once). Tasks already running finish.
    ///
    /// # Errors
    /// When the bus cannot store the switch.
    pub async fn halt(&self, reason: &str, by: &str) -> Result<(), Error> {
        let halt = Halt {
            reason: reason.to_owned(),
            by: by.to_owned(),
            at: chrono::Utc::now(),
        };
        let value = serde_json::to_string(&halt)
            .map_err(|e| Error::new(ErrorCode::Encode, e.to_string()))?;
        self.shared
            .durable
            .set_control(HALT_KEY, Some(value))
            .await?;
        self.shared.apply_halt(Some(halt));
        Ok(())
    }

    /// Releases the kill switch for every node sharing the bus.
    ///
    /// # Errors
    /// When the bus cannot store the switch.
    pub async fn resume(&self) -> Result<(), Error> {
        self.shared.durable.set_control(HALT_KEY, None).await?;
        self.shared.apply_halt(None);
        Ok(())
    }

    /// The kill switch, if pulled.
    pub fn halted(&self) -> Option<Halt> {
        self.shared.halt.lock().clone()
    }

    /// Simulates a crash of the node's process, for tests and drills: every loop stops at once,
    /// nothing in flight is acknowledged or given back, no last heartbeat is sent. Other nodes
    /// see its agents die after the missed heartbeats and get its tasks back when their leases
    /// run out.
    pub async fn crash(&self) {
        self.shared
            .crashed
            .store(true, std::sync::atomic::Ordering::Release);
        self.shared.background.cancel();
        self.shared.cancel.cancel();
        self.shared.replicas.close();
        self.shared.replicas.wait().await;
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
        self.shared.directory.write().clear();
        for p in self.shared.pools.read().iter() {
            p.replicas.lock().clear();
        }
        self.shared.pending.lock().clear();
        tracing::warn!(node = %self.shared.id, "node crashed (simulated)");
    }

    /// Drains and stops the node: stops intake, lets in-flight tasks finish for up to the
    /// grace period, then cancels the rest (they go back to the bus for another node),
    /// deregisters the agents (a last heartbeat saying `stopped`) and stops every task the
    /// node spawned.
    pub async fn shutdown(&self) -> ShutdownReport {
        let started = Instant::now();
        self.shared.intake.send_replace(Intake::Draining);
        self.shared.set_state(NodeState::Draining);
        self.shared.beat().await;
        self.shared.replicas.close();
        let drained = tokio::time::timeout(self.shared.opts.grace, self.shared.replicas.wait())
            .await
            .is_ok();
        if !drained {
            tracing::warn!(node = %self.shared.id, grace = ?self.shared.opts.grace, "grace period over: cancelling in-flight tasks");
            self.shared.cancel.cancel();
            self.shared.replicas.wait().await;
        }
        self.shared.cancel.cancel();
        self.shared.set_state(NodeState::Stopped);
        self.shared.beat().await;
        self.shared.background.cancel();
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
        // Break the reference cycle replicas -> contexts -> client -> node.
        self.shared.directory.write().clear();
        for p in self.shared.pools.read().iter() {
            p.replicas.lock().clear();
        }
        self.shared.pending.lock().clear();
        tracing::info!(node = %self.shared.id, drained, took = ?started.elapsed(), "node stopped");
        ShutdownReport {
            drained,
            took: started.elapsed(),
        }
    }
}
