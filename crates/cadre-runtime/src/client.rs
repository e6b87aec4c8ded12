//! Sending tasks: to a kind, to one agent, or out to auction, and waiting for the reply.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cadre_bus::Bus;
use cadre_core::{
    AgentId, AgentKind, Envelope, Error, ErrorCode, Message, MessageKind, Payload, Recipient, Task,
    TaskOutcome, Topic,
};
use tokio::sync::oneshot;

use crate::contract_net::{Action, Auction, Event};
use crate::node::{Answer, Shared};
use crate::protocol::{Announce, Bids, Rejected, TaskReply, kind_topic, node_topic};

/// Where a task goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// To the kind that offers the task's capability; out to auction when several kinds do.
    Capability,
    /// To any replica of this kind (its work queue).
    Kind(AgentKind),
    /// To this agent instance.
    Agent(AgentId),
    /// Out to auction among every agent offering the capability (Contract Net).
    Auction,
}

/// Sends tasks from a node and waits for their replies. Cheap to clone; agents find one in
/// their [`Context`](cadre_core::Context) (`cx.get::<Client>()`).
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("node", &self.shared.id)
            .finish_non_exhaustive()
    }
}

struct Target {
    bus: Arc<dyn Bus>,
    topic: Topic,
    recipient: Recipient,
    kind: MessageKind,
}

impl Client {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Runs `input` through the agent offering `capability` and decodes its output.
    ///
    /// # Errors
    /// As [`Client::call`], and `payload_mismatch` / `decode` when the output is not an `O`.
    pub async fn run<I: Message, O: Message>(
        &self,
        capability: &str,
        input: &I,
        timeout: Duration,
    ) -> Result<O, Error> {
        let task = Task::new(capability, input)?;
        self.call(task, Route::Capability, timeout).await?.output()
    }

    /// Sends `task` along `route` and waits up to `timeout` for its outcome.
    ///
    /// # Errors
    /// `not_found` when nothing offers the capability, kind or agent; `timeout` when no reply
    /// came in time; otherwise the error the agent's last attempt ended with.
    pub async fn call(
        &self,
        task: Task,
        route: Route,
        timeout: Duration,
    ) -> Result<TaskOutcome, Error> {
        let route = match route {
            Route::Capability => self.route_capability(&task.capability)?,
            other => other,
        };
        // The result cache answers identical tasks sent to any agent of a capability (not a
        // task addressed to one agent).
        let cache = match route {
            Route::Agent(_) => None,
            _ => self.shared.cache.as_ref(),
        };
        if let Some(hit) = cache.and_then(|c| c.get(&task)) {
            return Ok(hit);
        }
        let remembered = cache.map(|_| task.clone());
        let outcome = match route {
            Route::Auction => self.auction(task, timeout).await,
            route => {
                let target = self.target(&route, &task)?;
                self.request(&target, task, timeout).await
            }
        }?;
        if let (Some(cache), Some(task)) = (cache, remembered) {
            cache.put(&task, &outcome);
        }
        Ok(outcome)
    }

    fn route_capability(&self, capability: &str) -> Result<Route, Error> {
        let mut kinds: Vec<AgentKind> = self
            .shared
            .pools
            .read()
            .iter()
            .filter(|p| !p.is_failed() && p.offers(capability))
            .map(|p| p.kind.clone())
            .collect();
        kinds.extend(
            self.shared
                .registry
                .read()
                .kinds_for(capability, chrono::Utc::now()),
        );
        kinds.sort();
        kinds.dedup();
        match kinds.len() {
            0 => Err(Error::new(
                ErrorCode::NotFound,
                format!("no running agent offers capability `{capability}`"),
            )),
            1 => Ok(Route::Kind(kinds.remove(0))),
            _ => Ok(Route::Auction),
        }
    }

    fn target(&self, route: &Route, task: &Task) -> Result<Target, Error> {
        let now = chrono::Utc::now();
        match route {
            Route::Kind(kind) => {
                let local = self
                    .shared
                    .pools
                    .read()
                    .iter()
                    .find(|p| &p.kind == kind)
                    .map(|p| p.config.stream);
                let bus = match local {
                    Some(stream) => self.shared.bus_for(stream),
                    None if !self.shared.registry.read().by_kind(kind, now).is_empty() => {
                        Arc::clone(&self.shared.durable)
                    }
                    None => {
                        return Err(Error::new(
                            ErrorCode::NotFound,
                            format!(
                                "no agent of kind `{kind}` is running (for task {} needing `{}`)",
                                task.id, task.capability
                            ),
                        ));
                    }
                };
                Ok(Target {
                    bus,
                    topic: kind_topic(kind),
                    recipient: Recipient::Kind(kind.clone()),
                    kind: MessageKind::TaskRequest,
                })
            }
            Route::Agent(agent) => {
                let node = if self.shared.directory.read().contains_key(agent) {
                    Some(self.shared.id.clone())
                } else {
                    self.shared.registry.read().node_of(agent, now)
                };
                let node = node.ok_or_else(|| {
                    Error::new(
                        ErrorCode::NotFound,
                        format!("agent `{agent}` is not running on any live node"),
                    )
                })?;
                Ok(Target {
                    bus: Arc::clone(&self.shared.durable),
                    topic: node_topic(&node),
                    recipient: Recipient::Agent(agent.clone()),
                    kind: MessageKind::TaskRequest,
                })
            }
            Route::Capability | Route::Auction => Err(Error::internal("route resolved earlier")),
        }
    }

    /// Publishes an envelope expecting one reply and waits for it.
    async fn exchange(
        &self,
        bus: &dyn Bus,
        topic: &Topic,
        env: Envelope,
        timeout: Duration,
    ) -> Result<Option<Answer>, Error> {
        let id = env.id;
        let (tx, rx) = oneshot::channel();
        self.shared.pending.lock().insert(id, tx);
        if let Err(e) = bus.publish(topic, env).await {
            self.shared.pending.lock().remove(&id);
            return Err(e);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => Ok(Some(answer)),
            Ok(Err(_)) => Err(Error::new(
                ErrorCode::Cancelled,
                "the node stopped before the reply came",
            )),
            Err(_) => {
                self.shared.pending.lock().remove(&id);
                Ok(None)
            }
        }
    }

    async fn request(
        &self,
        target: &Target,
        task: Task,
        timeout: Duration,
    ) -> Result<TaskOutcome, Error> {
        let mut builder = Envelope::builder(
            self.shared.id.clone(),
            target.recipient.clone(),
            target.kind,
        )
        .priority(task.priority)
        .conversation(task.conversation_id)
        .reply_to(self.shared.replies.clone());
        if let Some(trace) = task.trace_id {
            builder = builder.trace(trace);
        }
        if let Some(deadline) = task.deadline {
            let left = (deadline - chrono::Utc::now())
                .to_std()
                .unwrap_or(Duration::from_millis(1));
            builder = builder.ttl(left.max(Duration::from_millis(1)));
        }
        let (task_id, capability) = (task.id, task.capability.clone());
        // The task stays a Rust value until a durable bus needs its JSON.
        let builder = builder.raw_payload(Payload::local(task));
        let reply = self
            .exchange(&*target.bus, &target.topic, builder.build(), timeout)
            .await?;
        let Some(reply) = reply else {
            return Err(Error::new(
                ErrorCode::Timeout,
                format!(
                    "no reply to task {task_id} (`{capability}`) from {} within {timeout:?}",
                    describe(&target.recipient)
                ),
            ));
        };
        let reply = match reply {
            Answer::Direct(reply) => reply,
            Answer::Envelope(env) => env.payload.decode::<TaskReply>()?,
        };
        match reply {
            TaskReply::Ok(outcome) => Ok(outcome),
            TaskReply::Err(err) => Err(err),
        }
    }

    /// Contract Net: announce, collect bids, award, re-announce on failure.
    async fn auction(&self, task: Task, timeout: Duration) -> Result<TaskOutcome, Error> {
        let started = Instant::now();
        let give_up = started + timeout;
        let mut auction = Auction::new(task.clone(), self.shared.opts.auction.clone());
        let mut actions: VecDeque<Action> = auction.handle(Event::Start, Duration::ZERO).into();
        let mut outcome: Option<TaskOutcome> = None;
        let mut losers: Vec<AgentId> = Vec::new();
        while let Some(action) = actions.pop_front() {
            match action {
                Action::Announce {
                    round,
                    bids_until,
                    exclude,
                } => {
                    for (agent, bid) in self
                        .collect_bids(&task, round, started + bids_until, &exclude)
                        .await?
                    {
                        actions
                            .extend(auction.handle(Event::Bid { agent, bid }, started.elapsed()));
                    }
                    // Every bidder has answered (or the window is over): close the round.
                    let now = started.elapsed().max(bids_until);
                    actions.extend(auction.handle(Event::Tick, now));
                }
                Action::Award { agent, due, .. } => {
                    self.send_rejects(&task, std::mem::take(&mut losers)).await;
                    let due_at = (started + due).min(give_up);
                    let event = match self.award(&task, &agent, due_at).await {
                        Ok(out) => {
                            outcome = Some(out);
                            Event::Completed { agent }
                        }
                        Err(e) if e.code() == ErrorCode::Timeout && Instant::now() >= due_at => {
                            if Instant::now() >= give_up {
                                return Err(e);
                            }
                            Event::Tick
                        }
                        Err(error) => Event::Failed { agent, error },
                    };
                    let now = started.elapsed().max(if matches!(event, Event::Tick) {
                        due
                    } else {
                        Duration::ZERO
                    });
                    actions.extend(auction.handle(event, now));
                }
                Action::Reject { agent } => losers.push(agent),
                Action::Completed { .. } => {
                    self.send_rejects(&task, losers).await;
                    return outcome
                        .ok_or_else(|| Error::internal("auction completed without an outcome"));
                }
                Action::Failed { error } => {
                    self.send_rejects(&task, losers).await;
                    return Err(error);
                }
            }
        }
        Err(Error::internal("auction ended without a decision"))
    }

    async fn collect_bids(
        &self,
        task: &Task,
        round: u32,
        until: Instant,
        exclude: &[AgentId],
    ) -> Result<Vec<(AgentId, cadre_core::Bid)>, Error> {
        let mut bids = self.shared.local_bids(task, exclude).await;
        let remote: Vec<AgentId> = self
            .shared
            .registry
            .read()
            .nodes_for(&task.capability, chrono::Utc::now())
            .into_iter()
            .filter(|n| n != &self.shared.id)
            .collect();
        if remote.is_empty() {
            return Ok(bids);
        }
        let announce = Announce {
            auction: task.id,
            round,
            task: task.clone(),
            exclude: exclude.to_vec(),
        };
        let mut waits = Vec::with_capacity(remote.len());
        for node in remote {
            let env = Envelope::builder(
                self.shared.id.clone(),
                Recipient::Topic(node_topic(&node)),
                MessageKind::Announce,
            )
            .payload(&announce)?
            .priority(task.priority)
            .reply_to(self.shared.replies.clone())
            .build();
            let (tx, rx) = oneshot::channel();
            self.shared.pending.lock().insert(env.id, tx);
            let id = env.id;
            if let Err(e) = self.shared.durable.publish(&node_topic(&node), env).await {
                self.shared.pending.lock().remove(&id);
                tracing::warn!(error = %e, node = %node, "announcing to a node failed");
                continue;
            }
            waits.push((id, rx));
        }
        let deadline = tokio::time::Instant::from_std(until);
        for (id, rx) in waits {
            match tokio::time::timeout_at(deadline, rx).await {
                Ok(Ok(Answer::Envelope(env))) => match env.payload.decode::<Bids>() {
                    Ok(b) if b.auction == task.id && b.round == round => bids.extend(b.bids),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "a node sent bids that do not decode"),
                },
                Ok(Ok(Answer::Direct(_))) => {}
                _ => {
                    self.shared.pending.lock().remove(&id);
                }
            }
        }
        Ok(bids)
    }

    async fn award(
        &self,
        task: &Task,
        agent: &AgentId,
        due: Instant,
    ) -> Result<TaskOutcome, Error> {
        let mut target = self.target(&Route::Agent(agent.clone()), task)?;
        target.kind = MessageKind::Award;
        let left = due.saturating_duration_since(Instant::now());
        self.request(&target, task.clone(), left).await
    }

    /// Tells remote nodes their agents lost (local losers need no message).
    async fn send_rejects(&self, task: &Task, losers: Vec<AgentId>) {
        if losers.is_empty() {
            return;
        }
        let now = chrono::Utc::now();
        let mut by_node: BTreeMap<AgentId, Vec<AgentId>> = BTreeMap::new();
        {
            let local = self.shared.directory.read();
            let registry = self.shared.registry.read();
            for agent in losers {
                if local.contains_key(&agent) {
                    continue;
                }
                if let Some(node) = registry.node_of(&agent, now) {
                    by_node.entry(node).or_default().push(agent);
                }
            }
        }
        for (node, agents) in by_node {
            let msg = Rejected {
                auction: task.id,
                agents,
            };
            let Ok(b) = Envelope::builder(
                self.shared.id.clone(),
                Recipient::Topic(node_topic(&node)),
                MessageKind::Reject,
            )
            .payload(&msg) else {
                continue;
            };
            if let Err(e) = self
                .shared
                .durable
                .publish(&node_topic(&node), b.build())
                .await
            {
                tracing::debug!(error = %e, node = %node, "telling a node its bids lost failed");
            }
        }
    }
}

fn describe(r: &Recipient) -> String {
    match r {
        Recipient::Agent(a) => format!("agent `{a}`"),
        Recipient::Kind(k) => format!("kind `{k}`"),
        Recipient::Topic(t) => format!("topic `{t}`"),
    }
}
