//! The durable workflow engine: runs [`Graph`]s with a checkpoint in the event store after
//! every step, and resumes them after a crash from the last checkpoint.
//!
//! One runner drives a workflow at a time: its appends expect the log's exact version, so a
//! second runner (a split brain, a double resume) gets a conflict and stops. Others may append
//! only decisions at gates and cancellations (`cadre flow approve|reject|cancel`); the runner
//! picks them up within [`EngineOptions::poll`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), cadre_core::Error> {
//! use std::sync::Arc;
//! use cadre_flow::{Engine, graph::{Graph, State, END}, state::Status};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Clone, Default, Serialize, Deserialize)]
//! struct Count(u32);
//! impl State for Count {
//!     type Update = u32;
//!     fn apply(&mut self, add: u32) { self.0 += add }
//! }
//!
//! let mut g = Graph::<Count>::builder("count");
//! g.node("one", |_cx, _s| async { Ok(1) });
//! g.node("two", |_cx, _s| async { Ok(2) });
//! g.entry("one");
//! g.edge("one", "two")?.edge("two", END)?;
//!
//! # let dir = tempfile::tempdir().unwrap();
//! let store = Arc::new(cadre_store::SqliteStore::open(dir.path().join("flows.db")).await?);
//! let engine = Engine::new(store).graph(g.build()?);
//! let done = engine.execute("count", Count(0)).await?;
//! assert_eq!(done.status, Status::Completed);
//! assert_eq!(done.state.0, 3);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cadre_core::{AgentId, ConversationId, Error, ErrorCode, Task};
use cadre_store::{Direction, EventStore, ExpectedVersion, MAX_READ, RecordedEvent, StreamId};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::graph::{Graph, NodeKind, OnTimeout, State, StepCtx};
use crate::log::{
    AnyEntry, Close, Compensation, Entry, ErrorInfo, WorkflowId, WorkflowView, decode,
};
use crate::state::Status;

/// What a stalled workflow gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StallAction {
    /// Record a `flow.stalled` entry, log a warning and count `cadre_flow_stalls_total`.
    Alert,
    /// Cancel the workflow (its saga compensates).
    Cancel,
    /// Abort the running steps and run them again (a new attempt each).
    Restart,
}

/// Stall detection: no checkpoint for `after` while steps run (gates waiting for people are
/// not stalls; they have their own timeouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StallPolicy {
    /// How long without progress.
    #[serde(with = "humantime_serde")]
    pub after: Duration,
    /// What then.
    pub action: StallAction,
}

/// How an [`Engine`] runs workflows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// This runner's name, recorded in the log (default `runner-<pid>`).
    pub runner: String,
    /// How often a running workflow looks for decisions and cancellations from outside, and
    /// an awaited workflow is checked (default 200 ms).
    pub poll: Duration,
    /// Stall detection (default none).
    pub stall: Option<StallPolicy>,
    /// The timeout of a task node's call when the node sets none (default 60 s).
    pub task_timeout: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            runner: format!("runner-{}", std::process::id()),
            poll: Duration::from_millis(200),
            stall: None,
            task_timeout: Duration::from_secs(60),
        }
    }
}

/// How a workflow ended (or stands, when it waits for compensation an operator must fix).
#[derive(Debug, Clone)]
pub struct Outcome<S> {
    /// The workflow.
    pub id: WorkflowId,
    /// Completed, failed or cancelled.
    pub status: Status,
    /// The state: the final state when completed, the state at the failure otherwise.
    pub state: S,
    /// Why it failed.
    pub error: Option<ErrorInfo>,
    /// The saga, for a failed or cancelled workflow.
    pub compensation: Compensation,
    /// Everything the log says.
    pub view: WorkflowView,
}

struct Inner<S: State> {
    store: Arc<dyn EventStore>,
    graphs: HashMap<String, Arc<Graph<S>>>,
    client: Option<cadre_runtime::Client>,
    options: EngineOptions,
}

/// Runs workflows of the registered graphs on an event store. Cheap to clone.
pub struct Engine<S: State> {
    inner: Arc<Inner<S>>,
}

impl<S: State> Clone for Engine<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: State> std::fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.inner.store.backend())
            .field("graphs", &self.inner.graphs.keys().collect::<Vec<_>>())
            .field("options", &self.inner.options)
            .finish()
    }
}

impl<S: State> Engine<S> {
    /// An engine on `store`, with no graphs yet.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                graphs: HashMap::new(),
                client: None,
                options: EngineOptions::default(),
            }),
        }
    }

    fn inner_mut(&mut self) -> &mut Inner<S> {
        Arc::get_mut(&mut self.inner).expect("configure the engine before cloning it")
    }

    /// Registers a graph under its name (a later graph of the same name replaces it), and the
    /// graphs of its subflows. A workflow is resumed with the graph registered under the name
    /// its log records, so keep names unique. Configure before cloning the engine.
    #[must_use]
    pub fn graph(mut self, graph: Graph<S>) -> Self {
        let graph = Arc::new(graph);
        self.register_subflows(&graph);
        self.inner_mut().graphs.insert(graph.name.clone(), graph);
        self
    }

    fn register_subflows(&mut self, graph: &Arc<Graph<S>>) {
        for node in graph.nodes.values() {
            if let NodeKind::Subflow { graph: child, .. } = &node.kind {
                self.register_subflows(child);
                self.inner_mut()
                    .graphs
                    .entry(child.name.clone())
                    .or_insert_with(|| Arc::clone(child));
            }
        }
    }

    /// Gives task nodes a runtime client.
    #[must_use]
    pub fn client(mut self, client: cadre_runtime::Client) -> Self {
        self.inner_mut().client = Some(client);
        self
    }

    /// Sets the options.
    #[must_use]
    pub fn options(mut self, options: EngineOptions) -> Self {
        self.inner_mut().options = options;
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.inner.store
    }

    fn graph_named(&self, name: &str) -> Result<Arc<Graph<S>>, Error> {
        self.inner.graphs.get(name).cloned().ok_or_else(|| {
            let mut known: Vec<&str> = self.inner.graphs.keys().map(String::as_str).collect();
            known.sort_unstable();
            Error::new(
                ErrorCode::NotFound,
                format!(
                    "no workflow graph `{name}` is registered (known: {})",
                    known.join(", ")
                ),
            )
            .with_retryable(false)
        })
    }

    /// Starts a workflow of `graph` with a new id; it does not run until [`Engine::run`].
    ///
    /// # Errors
    /// `NotFound` for an unknown graph; `Storage` when the store fails.
    pub async fn start(&self, graph: &str, input: S) -> Result<WorkflowId, Error> {
        let id = WorkflowId::generate(graph);
        self.start_as(graph, &id, input).await?;
        Ok(id)
    }

    /// Starts a workflow of `graph` under `id`.
    ///
    /// # Errors
    /// `Conflict` when a workflow `id` exists already; as [`Engine::start`].
    pub async fn start_as(&self, graph: &str, id: &WorkflowId, input: S) -> Result<u64, Error> {
        let graph = self.graph_named(graph)?;
        Ok(self
            .record_start(&graph, id, input, ConversationId::new())
            .await?
            .version)
    }

    async fn record_start(
        &self,
        graph: &Graph<S>,
        id: &WorkflowId,
        input: S,
        conversation: ConversationId,
    ) -> Result<RecordedEvent, Error> {
        let meta = cadre_store::EventMetadata {
            conversation_id: Some(conversation),
            trace_id: None,
            agent: AgentId::new(&self.inner.options.runner).ok(),
        };
        let entry: Entry<S, S::Update> = Entry::Started {
            graph: graph.name.clone(),
            input,
            runner: self.inner.options.runner.clone(),
            entry: graph.entry.iter().cloned().collect(),
            nodes: graph.describe(),
            definition: graph.definition.clone(),
            conversation: Some(conversation),
        };
        let event = entry.to_event(id, &meta)?;
        let done = self
            .inner
            .store
            .append(&id.stream(), ExpectedVersion::NoStream, vec![event.clone()])
            .await
            .map_err(|e| {
                if e.code() == ErrorCode::Conflict {
                    Error::new(
                        ErrorCode::Conflict,
                        format!("workflow `{id}` exists already"),
                    )
                    .with_retryable(false)
                } else {
                    e
                }
            })?;
        counter("cadre_flow_started_total", &graph.name);
        let at = done
            .positions
            .first()
            .copied()
            .ok_or_else(|| Error::internal("an append of one event returned no position"))?;
        Ok(RecordedEvent {
            stream: id.stream(),
            version: at.version,
            global_position: at.global_position,
            id: event.id,
            event_type: event.event_type,
            payload: event.payload,
            metadata: event.metadata,
            recorded_at: Utc::now(),
        })
    }

    /// Starts a workflow of `graph` and runs it until it settles.
    ///
    /// # Errors
    /// As [`Engine::start`] and [`Engine::run`].
    pub async fn execute(&self, graph: &str, input: S) -> Result<Outcome<S>, Error> {
        let graph = self.graph_named(graph)?;
        let id = WorkflowId::generate(&graph.name);
        let started = self
            .record_start(&graph, &id, input, ConversationId::new())
            .await?;
        // The log is the one event just written: no need to read it back.
        let mut run = Run::load(self.clone(), id, &[started], CancellationToken::new())?;
        run.drive()
            .await?
            .ok_or_else(|| Error::new(ErrorCode::Cancelled, "stopped"))
    }

    /// Runs (or resumes) workflow `id` until it settles: completed, or failed / cancelled with
    /// its compensations done. Waits at gates for decisions.
    ///
    /// # Errors
    /// `NotFound` for an unknown workflow or graph; `Conflict` when another runner drives it;
    /// `Storage` when the store fails (the workflow stays where its log says; run it again).
    pub async fn run(&self, id: &WorkflowId) -> Result<Outcome<S>, Error> {
        self.run_until(id, CancellationToken::new())
            .await?
            .ok_or_else(|| Error::new(ErrorCode::Cancelled, "stopped"))
    }

    /// As [`Engine::run`], but stops driving when `stop` is cancelled (returns `None`; the
    /// workflow stays where its log says and can be resumed).
    ///
    /// # Errors
    /// As [`Engine::run`].
    pub async fn run_until(
        &self,
        id: &WorkflowId,
        stop: CancellationToken,
    ) -> Result<Option<Outcome<S>>, Error> {
        let events = read_log(&*self.inner.store, &id.stream(), 1).await?;
        let mut run = Run::load(self.clone(), id.clone(), &events, stop)?;
        run.drive().await
    }

    /// The workflows of this engine's graphs that are not settled and that a run would move
    /// on: running or pending ones (a runner that died left them), and failed or cancelled
    /// ones with compensations still due. Failed workflows without a saga wait for a retry
    /// ([`control::retry`](crate::control::retry)) and are not listed. Child workflows are
    /// left to their parents. Call it when a process starts and run each:
    ///
    /// ```ignore
    /// for id in engine.unfinished().await? {
    ///     let engine = engine.clone();
    ///     tokio::spawn(async move { engine.run(&id).await });
    /// }
    /// ```
    ///
    /// # Errors
    /// `Storage`/`Decode` from the store.
    pub async fn unfinished(&self) -> Result<Vec<WorkflowId>, Error> {
        Ok(crate::control::list(&*self.inner.store, false)
            .await?
            .into_iter()
            .filter(|v| self.inner.graphs.contains_key(&v.graph))
            .filter(|v| match v.status {
                Status::Pending | Status::Running => true,
                Status::Failed | Status::Cancelled => v.compensation == Compensation::Pending,
                Status::Completed => false,
            })
            .map(|v| v.id)
            .collect())
    }

    /// What the log of workflow `id` says.
    ///
    /// # Errors
    /// `NotFound` when there is no such workflow; `Storage`/`Decode` from the store.
    pub async fn view(&self, id: &WorkflowId) -> Result<WorkflowView, Error> {
        crate::control::view(&*self.inner.store, id).await
    }
}

fn counter(name: &'static str, graph: &str) {
    cadre_observe::metrics::counter!(name, "graph" => graph.to_owned()).increment(1);
}

/// Reads a whole stream from `from`.
pub(crate) async fn read_log(
    store: &dyn EventStore,
    stream: &StreamId,
    from: u64,
) -> Result<Vec<RecordedEvent>, Error> {
    let mut out = Vec::new();
    let mut next = from;
    loop {
        let page = store
            .read(stream, next, MAX_READ, Direction::Forward)
            .await?;
        let n = page.len();
        if let Some(last) = page.last() {
            next = last.version + 1;
        }
        out.extend(page);
        if n < MAX_READ {
            return Ok(out);
        }
    }
}

/// A finished attempt of a step.
struct Attempt<U> {
    node: String,
    attempt: u32,
    result: Result<U, Error>,
    ms: u64,
}

/// The runner of one workflow.
struct Run<S: State> {
    engine: Engine<S>,
    graph: Arc<Graph<S>>,
    id: WorkflowId,
    stream: StreamId,
    view: WorkflowView,
    /// The state at the start of the current super-step.
    state: S,
    /// Updates of the current super-step's finished steps.
    pending: BTreeMap<String, S::Update>,
    version: u64,
    stop: CancellationToken,
    last_progress: Instant,
    fresh: bool,
    meta: cadre_store::EventMetadata,
}

impl<S: State> Run<S> {
    fn load(
        engine: Engine<S>,
        id: WorkflowId,
        events: &[RecordedEvent],
        stop: CancellationToken,
    ) -> Result<Self, Error> {
        let mut view = WorkflowView::fold(&id, &events[..events.len().min(1)])?;
        let graph = engine.graph_named(&view.graph)?;
        let mut state: S = serde_json::from_value(view.input.clone()).map_err(|e| {
            Error::new(
                ErrorCode::Decode,
                format!("workflow `{id}`: its input does not decode as this graph's state: {e}"),
            )
        })?;
        let mut pending = BTreeMap::new();
        for e in &events[1..] {
            let entry: AnyEntry = decode(e)?;
            let closes = match &entry {
                Entry::Step {
                    node,
                    update,
                    close,
                    ..
                } => {
                    let update: S::Update = serde_json::from_value(update.clone()).map_err(|err| {
                        Error::new(
                            ErrorCode::Decode,
                            format!(
                                "workflow `{id}` version {}: the update of `{node}` does not decode: {err}",
                                e.version
                            ),
                        )
                    })?;
                    pending.insert(node.clone(), update);
                    close.is_some()
                }
                Entry::Advanced { .. } => true,
                _ => false,
            };
            if closes {
                for (_, u) in std::mem::take(&mut pending) {
                    state.apply(u);
                }
            }
            view.apply(e, entry)?;
        }
        let version = view.version;
        let meta = view.metadata(&engine.inner.options.runner);
        Ok(Self {
            meta,
            stream: id.stream(),
            engine,
            graph,
            id,
            view,
            state,
            pending,
            version,
            stop,
            last_progress: Instant::now(),
            fresh: events.len() == 1,
        })
    }

    fn options(&self) -> &EngineOptions {
        &self.engine.inner.options
    }

    fn store(&self) -> &dyn EventStore {
        &*self.engine.inner.store
    }

    fn outcome(&self) -> Outcome<S> {
        Outcome {
            id: self.id.clone(),
            status: self.view.status,
            state: self.state.clone(),
            error: self.view.error.clone(),
            compensation: self.view.compensation,
            view: self.view.clone(),
        }
    }

    async fn drive(&mut self) -> Result<Option<Outcome<S>>, Error> {
        if !self.view.is_settled() && !self.fresh {
            // Take the workflow over (recorded; a runner still driving it gets a conflict).
            let runner = self.options().runner.clone();
            self.commit_all(vec![Entry::Resumed { runner }]).await?;
        }
        loop {
            if self.stop.is_cancelled() {
                return Ok(None);
            }
            match self.view.status {
                Status::Completed => return Ok(Some(self.outcome())),
                Status::Failed | Status::Cancelled => {
                    if self.view.compensation == Compensation::Pending {
                        self.compensate().await?;
                        continue;
                    }
                    counter(
                        if self.view.status == Status::Failed {
                            "cadre_flow_failed_total"
                        } else {
                            "cadre_flow_cancelled_total"
                        },
                        &self.graph.name,
                    );
                    return Ok(Some(self.outcome()));
                }
                Status::Pending => {
                    let runner = self.options().runner.clone();
                    self.commit_all(vec![Entry::Resumed { runner }]).await?;
                }
                Status::Running => {
                    if self.superstep().await?.is_none() {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Appends `entries` if the log is still at the version this runner knows. On a conflict,
    /// folds what others appended (decisions, cancellations) and returns `false`: the caller
    /// looks again.
    async fn commit(&mut self, entries: Vec<Entry<S, S::Update>>) -> Result<bool, Error> {
        let events = entries
            .iter()
            .map(|e| e.to_event(&self.id, &self.meta))
            .collect::<Result<Vec<_>, _>>()?;
        match self
            .store()
            .append(&self.stream, ExpectedVersion::Exact(self.version), events)
            .await
        {
            Ok(done) => {
                let now = Utc::now();
                for entry in entries {
                    self.fold_own(entry, now)?;
                }
                self.version = done.stream_version;
                self.view.version = done.stream_version;
                self.view.updated_at = now;
                self.last_progress = Instant::now();
                Ok(true)
            }
            Err(e) if e.code() == ErrorCode::Conflict => {
                self.catch_up().await?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Commits entries that stay valid whatever others append (resumption, stall alerts,
    /// compensations).
    async fn commit_all(&mut self, entries: Vec<Entry<S, S::Update>>) -> Result<(), Error> {
        loop {
            if self.commit(entries.clone()).await? {
                return Ok(());
            }
        }
    }

    fn fold_own(
        &mut self,
        entry: Entry<S, S::Update>,
        at: chrono::DateTime<Utc>,
    ) -> Result<(), Error> {
        let closes = match &entry {
            Entry::Step {
                node,
                update,
                close,
                ..
            } => {
                self.pending.insert(node.clone(), update.clone());
                close.is_some()
            }
            Entry::Advanced { .. } => true,
            _ => false,
        };
        if closes {
            for (_, u) in std::mem::take(&mut self.pending) {
                self.state.apply(u);
            }
        }
        let any = to_any(entry)?;
        self.view
            .apply_entry(any, at)
            .map_err(|m| Error::internal(format!("workflow `{}`: {m}", self.id)))
    }

    /// Folds entries others appended since this runner's version. Only decisions and
    /// cancellations may come from elsewhere; anything else means another runner drives the
    /// workflow.
    async fn catch_up(&mut self) -> Result<(), Error> {
        let events = read_log(self.store(), &self.stream, self.version + 1).await?;
        for e in &events {
            let entry: AnyEntry = decode(e)?;
            if !matches!(entry, Entry::Decided { .. } | Entry::Cancelled { .. }) {
                return Err(Error::new(
                    ErrorCode::Conflict,
                    format!(
                        "workflow `{}`: another runner recorded `{}` at version {}; this one stops",
                        self.id, e.event_type, e.version
                    ),
                )
                .with_retryable(false));
            }
            self.view.apply(e, entry)?;
            self.version = e.version;
        }
        Ok(())
    }

    fn superstep_done(&self) -> bool {
        self.view.active.iter().all(|n| self.view.done.contains(n))
    }

    /// Where the current super-step leads, with `extra` (a step about to be recorded) done.
    fn close(&self, extra: Option<(&str, &S::Update)>) -> Result<Close, Error> {
        let mut state = self.state.clone();
        let mut updates: BTreeMap<&str, &S::Update> =
            self.pending.iter().map(|(k, v)| (k.as_str(), v)).collect();
        if let Some((n, u)) = extra {
            updates.insert(n, u);
        }
        for u in updates.into_values() {
            state.apply(u.clone());
        }
        let mut next = BTreeSet::new();
        let mut joins = self.view.joins.clone();
        for node in &self.view.active {
            let rejected = self
                .view
                .decisions
                .iter()
                .any(|d| d.node == *node && d.superstep == self.view.superstep && !d.approved);
            for target in self.graph.targets(node, &state, rejected)? {
                if target == crate::graph::END {
                    continue;
                }
                match self.graph.joins.get(&target) {
                    Some(sources) => {
                        let arrived = joins.entry(target.clone()).or_default();
                        arrived.insert(node.clone());
                        if sources.is_subset(arrived) {
                            joins.remove(&target);
                            next.insert(target);
                        }
                    }
                    None => {
                        next.insert(target);
                    }
                }
            }
        }
        Ok(Close {
            superstep: self.view.superstep,
            next,
            joins,
        })
    }

    /// The entries that record `node`'s step (and close the super-step / complete the workflow
    /// when it is the last).
    fn step_entries(
        &self,
        node: &str,
        attempt: u32,
        update: S::Update,
        ms: u64,
    ) -> Result<Vec<Entry<S, S::Update>>, Error> {
        let last = self
            .view
            .active
            .iter()
            .all(|n| n == node || self.view.done.contains(n));
        let close = if last {
            Some(self.close(Some((node, &update)))?)
        } else {
            None
        };
        let complete = close.as_ref().is_some_and(|c| c.next.is_empty());
        let mut entries = vec![Entry::Step {
            node: node.to_owned(),
            superstep: self.view.superstep,
            attempt,
            update: update.clone(),
            ms,
            close,
        }];
        if complete {
            let mut state = self.state.clone();
            let mut updates: BTreeMap<&str, &S::Update> =
                self.pending.iter().map(|(k, v)| (k.as_str(), v)).collect();
            updates.insert(node, &update);
            for u in updates.into_values() {
                state.apply(u.clone());
            }
            entries.push(Entry::Completed { state });
        }
        Ok(entries)
    }

    /// The entries that close a super-step whose last node was a gate decided elsewhere.
    fn advance_entries(&self) -> Result<Vec<Entry<S, S::Update>>, Error> {
        let close = self.close(None)?;
        let complete = close.next.is_empty();
        let mut entries = vec![Entry::Advanced { close }];
        if complete {
            let mut state = self.state.clone();
            for u in self.pending.values() {
                state.apply(u.clone());
            }
            entries.push(Entry::Completed { state });
        }
        Ok(entries)
    }

    fn fail_entries(&self, node: Option<&str>, error: &Error) -> Vec<Entry<S, S::Update>> {
        vec![Entry::Failed {
            node: node.map(str::to_owned),
            error: ErrorInfo::from(error),
        }]
    }

    /// Runs the current super-step until it closes, or the workflow leaves RUNNING. `None`
    /// when the runner was stopped.
    async fn superstep(&mut self) -> Result<Option<()>, Error> {
        let superstep = self.view.superstep;
        let cancel = self.stop.child_token();
        let _guard = cancel.clone().drop_guard();
        let mut steps: JoinSet<Attempt<S::Update>> = JoinSet::new();
        let mut running: BTreeSet<String> = BTreeSet::new();

        // A super-step whose nodes are all done but not closed (a decision came last).
        if self.superstep_done() {
            let entries = match self.advance_entries() {
                Ok(e) => e,
                Err(e) => self.fail_entries(None, &e),
            };
            self.commit(entries).await?;
            return Ok(Some(()));
        }

        let todo: Vec<String> = self
            .view
            .active
            .iter()
            .filter(|n| !self.view.done.contains(*n))
            .cloned()
            .collect();
        for name in todo {
            let Some(node) = self.graph.node(&name) else {
                let e = Error::new(
                    ErrorCode::NotFound,
                    format!(
                        "workflow `{}`: node `{name}` is not in graph `{}` (the graph changed?)",
                        self.id, self.graph.name
                    ),
                );
                self.commit(self.fail_entries(Some(&name), &e)).await?;
                return Ok(Some(()));
            };
            match &node.kind {
                NodeKind::Gate(gate) => {
                    if !self.view.waiting.iter().any(|w| w.node == name) {
                        let deadline = gate
                            .timeout
                            .and_then(|t| chrono::Duration::from_std(t).ok())
                            .map(|t| Utc::now() + t);
                        let entry = Entry::Waiting {
                            node: name.clone(),
                            superstep,
                            deadline,
                            on_timeout: gate.on_timeout,
                        };
                        if !self.commit(vec![entry]).await? {
                            return Ok(Some(()));
                        }
                        tracing::info!(workflow = %self.id, node = %name, "waiting for approval");
                    }
                }
                _ => {
                    let attempt = self.view.attempts.get(&name).copied().unwrap_or(0) + 1;
                    if let NodeKind::Await { target, .. } = &node.kind
                        && !self.view.awaiting.contains_key(&name)
                    {
                        let entry = match target(&self.state) {
                            Ok(target) => Entry::Awaiting {
                                node: name.clone(),
                                superstep,
                                target,
                            },
                            Err(e) => self.fail_entries(Some(&name), &e).remove(0),
                        };
                        if !self.commit(vec![entry]).await? || self.view.status != Status::Running {
                            return Ok(Some(()));
                        }
                    }
                    self.spawn(&mut steps, &name, attempt, Duration::ZERO, &cancel);
                    running.insert(name);
                }
            }
        }

        let poll = self.options().poll;
        let stall = self.options().stall;
        loop {
            if self.view.status != Status::Running || self.view.superstep != superstep {
                cancel.cancel();
                steps.abort_all();
                return Ok(Some(()));
            }
            if self.superstep_done() {
                let entries = match self.advance_entries() {
                    Ok(e) => e,
                    Err(e) => self.fail_entries(None, &e),
                };
                self.commit(entries).await?;
                continue;
            }
            let deadline = self
                .view
                .waiting
                .iter()
                .filter_map(|w| w.deadline.map(|d| (d, w.node.clone(), w.on_timeout)))
                .min();
            let until_deadline = deadline
                .as_ref()
                .map(|(d, _, _)| (*d - Utc::now()).to_std().unwrap_or(Duration::ZERO));
            let tick = until_deadline.map_or(poll, |d| d.min(poll));
            tokio::select! {
                biased;
                () = self.stop.cancelled() => {
                    steps.abort_all();
                    return Ok(None);
                }
                Some(joined) = steps.join_next(), if !steps.is_empty() => {
                    let finished = match joined {
                        Ok(a) => a,
                        Err(e) if e.is_cancelled() => continue,
                        Err(e) => return Err(Error::internal(format!("workflow `{}`: a step task failed: {e}", self.id))),
                    };
                    running.remove(&finished.node);
                    self.finish(finished, &mut steps, &mut running, &cancel).await?;
                }
                () = tokio::time::sleep(tick) => {
                    if let Some((at, node, on_timeout)) = deadline.filter(|(d, _, _)| *d <= Utc::now()) {
                        let _ = at;
                        self.gate_timeout(&node, on_timeout).await?;
                    } else {
                        self.catch_up().await?;
                    }
                    if let Some(policy) = stall
                        && !running.is_empty()
                        && self.last_progress.elapsed() >= policy.after
                    {
                        self.stalled(policy, &mut steps, &mut running, &cancel).await?;
                    }
                }
            }
        }
    }

    fn spawn(
        &self,
        steps: &mut JoinSet<Attempt<S::Update>>,
        name: &str,
        attempt: u32,
        delay: Duration,
        cancel: &CancellationToken,
    ) {
        let node = self
            .graph
            .node(name)
            .expect("spawned nodes are in the graph");
        let cx = StepCtx {
            workflow: self.id.clone(),
            node: Arc::clone(&node.name),
            superstep: self.view.superstep,
            attempt,
            cancel: cancel.clone(),
            client: self.engine.inner.client.clone(),
            conversation: self.view.conversation_id,
        };
        let state = self.state.clone();
        let timeout = node.timeout;
        let engine = self.engine.clone();
        let graph = Arc::clone(&self.graph);
        let awaited = self.view.awaiting.get(name).cloned();
        let name = name.to_owned();
        steps.spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let started = Instant::now();
            let node = graph.node(&name).expect("spawned nodes are in the graph");
            let work = run_node(&engine, node, cx, state, awaited);
            let result = match timeout {
                Some(t) => match tokio::time::timeout(t, work).await {
                    Ok(r) => r,
                    Err(_) => Err(Error::new(
                        ErrorCode::Timeout,
                        format!("step `{name}` ran longer than its timeout of {t:?}"),
                    )
                    .with_retryable(true)),
                },
                None => work.await,
            };
            Attempt {
                node: name,
                attempt,
                result,
                ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            }
        });
    }

    async fn finish(
        &mut self,
        a: Attempt<S::Update>,
        steps: &mut JoinSet<Attempt<S::Update>>,
        running: &mut BTreeSet<String>,
        cancel: &CancellationToken,
    ) -> Result<(), Error> {
        loop {
            if self.view.status != Status::Running
                || !self.view.active.contains(&a.node)
                || self.view.done.contains(&a.node)
            {
                return Ok(());
            }
            let entries = match &a.result {
                Ok(update) => match self.step_entries(&a.node, a.attempt, update.clone(), a.ms) {
                    Ok(e) => e,
                    Err(e) => self.fail_entries(Some(&a.node), &e),
                },
                Err(e) => {
                    let retry = self
                        .graph
                        .node(&a.node)
                        .map(|n| n.retry)
                        .unwrap_or_default();
                    let will_retry = (e.is_retryable() || e.code() == ErrorCode::Timeout)
                        && a.attempt < retry.attempts
                        && !cancel.is_cancelled();
                    let mut entries = vec![Entry::StepFailed {
                        node: a.node.clone(),
                        superstep: self.view.superstep,
                        attempt: a.attempt,
                        error: ErrorInfo::from(e),
                        will_retry,
                    }];
                    if !will_retry {
                        entries.extend(self.fail_entries(Some(&a.node), e));
                    }
                    entries
                }
            };
            if self.commit(entries).await? {
                match &a.result {
                    Ok(_) => counter("cadre_flow_steps_total", &self.graph.name),
                    Err(e) => {
                        tracing::warn!(workflow = %self.id, node = %a.node, attempt = a.attempt, error = %e, "step failed");
                        if self.view.status == Status::Running {
                            let retry = self
                                .graph
                                .node(&a.node)
                                .map(|n| n.retry)
                                .unwrap_or_default();
                            let next = a.attempt + 1;
                            self.spawn(steps, &a.node, next, retry.delay(next), cancel);
                            running.insert(a.node.clone());
                        }
                    }
                }
                return Ok(());
            }
        }
    }

    async fn gate_timeout(&mut self, node: &str, on_timeout: OnTimeout) -> Result<(), Error> {
        let superstep = self.view.superstep;
        let entries = match on_timeout {
            OnTimeout::Approve | OnTimeout::Reject => {
                let approved = on_timeout == OnTimeout::Approve;
                let rejected_without_path = !approved
                    && matches!(
                        self.graph.node(node).map(|n| &n.kind),
                        Some(NodeKind::Gate(g)) if g.on_reject.is_none()
                    );
                let mut entries = vec![Entry::Decided {
                    node: node.to_owned(),
                    superstep,
                    approved,
                    by: self.options().runner.clone(),
                    comment: Some("timed out".into()),
                    timed_out: true,
                }];
                if rejected_without_path {
                    entries.push(Entry::Failed {
                        node: Some(node.to_owned()),
                        error: ErrorInfo {
                            code: ErrorCode::Timeout,
                            message: format!("gate `{node}` timed out and rejected"),
                        },
                    });
                }
                entries
            }
            OnTimeout::Fail => vec![Entry::Failed {
                node: Some(node.to_owned()),
                error: ErrorInfo {
                    code: ErrorCode::Timeout,
                    message: format!("gate `{node}` timed out waiting for a decision"),
                },
            }],
        };
        self.commit(entries).await?;
        Ok(())
    }

    async fn stalled(
        &mut self,
        policy: StallPolicy,
        steps: &mut JoinSet<Attempt<S::Update>>,
        running: &mut BTreeSet<String>,
        cancel: &CancellationToken,
    ) -> Result<(), Error> {
        let idle = self.last_progress.elapsed();
        let nodes: Vec<String> = running.iter().cloned().collect();
        cadre_observe::metrics::counter!("cadre_flow_stalls_total", "graph" => self.graph.name.clone())
            .increment(1);
        tracing::warn!(workflow = %self.id, nodes = ?nodes, idle_ms = idle.as_millis(), action = ?policy.action, "workflow stalled");
        let action = match policy.action {
            StallAction::Alert => "alert",
            StallAction::Cancel => "cancel",
            StallAction::Restart => "restart",
        };
        let mut entries = vec![Entry::Stalled {
            nodes: nodes.clone(),
            idle_ms: u64::try_from(idle.as_millis()).unwrap_or(u64::MAX),
            action: action.to_owned(),
        }];
        match policy.action {
            StallAction::Alert => {}
            StallAction::Cancel => entries.push(Entry::Cancelled {
                by: self.options().runner.clone(),
                reason: format!("stalled: no progress for {idle:?} in {}", nodes.join(", ")),
            }),
            StallAction::Restart => {
                steps.abort_all();
                for n in &nodes {
                    let attempt = self.view.attempts.get(n).copied().unwrap_or(0) + 1;
                    entries.push(Entry::StepFailed {
                        node: n.clone(),
                        superstep: self.view.superstep,
                        attempt,
                        error: ErrorInfo {
                            code: ErrorCode::Timeout,
                            message: format!("stalled for {idle:?}; restarted"),
                        },
                        will_retry: true,
                    });
                }
            }
        }
        self.commit_all(entries).await?;
        if policy.action == StallAction::Restart && self.view.status == Status::Running {
            running.clear();
            for n in nodes {
                let attempt = self.view.attempts.get(&n).copied().unwrap_or(0) + 1;
                self.spawn(steps, &n, attempt, Duration::ZERO, cancel);
                running.insert(n);
            }
        }
        Ok(())
    }

    /// Runs the compensations still due, most recent step first; stops at one that fails
    /// after its retries (recorded: an operator must look).
    async fn compensate(&mut self) -> Result<(), Error> {
        let todo: Vec<(String, u64)> = self
            .view
            .to_compensate()
            .iter()
            .map(|s| (s.node.clone(), s.superstep))
            .collect();
        for (name, superstep) in todo {
            let Some(node) = self.graph.node(&name) else {
                continue;
            };
            let Some(f) = node.compensate.clone() else {
                continue;
            };
            let retry = node.retry;
            let mut attempt = 1;
            let error = loop {
                let cx = StepCtx {
                    workflow: self.id.clone(),
                    node: Arc::clone(&node.name),
                    superstep,
                    attempt,
                    cancel: self.stop.child_token(),
                    client: self.engine.inner.client.clone(),
                    conversation: self.view.conversation_id,
                };
                let work = f(cx, self.state.clone());
                let timeout = node.timeout.unwrap_or(Duration::MAX);
                let result = tokio::select! {
                    biased;
                    // The runner stops: the compensation is not recorded and runs again on
                    // resumption.
                    () = self.stop.cancelled() => return Ok(()),
                    r = tokio::time::timeout(timeout, work) => r.unwrap_or_else(|_| {
                        Err(Error::new(ErrorCode::Timeout, "compensation timed out").with_retryable(true))
                    }),
                };
                match result {
                    Ok(()) => break None,
                    Err(e)
                        if attempt < retry.attempts
                            && (e.is_retryable() || e.code() == ErrorCode::Timeout) =>
                    {
                        attempt += 1;
                        tokio::time::sleep(retry.delay(attempt)).await;
                    }
                    Err(e) => break Some(ErrorInfo::from(&e)),
                }
            };
            let failed = error.is_some();
            self.commit_all(vec![Entry::Compensated {
                node: name.clone(),
                superstep,
                error,
            }])
            .await?;
            if failed {
                tracing::error!(workflow = %self.id, node = %name, "compensation failed; the saga needs an operator");
                return Ok(());
            }
        }
        Ok(())
    }
}

fn to_any<S: Serialize, U: Serialize>(entry: Entry<S, U>) -> Result<AnyEntry, Error> {
    // Only the payload-carrying variants need converting; the rest map field by field.
    Ok(match entry {
        Entry::Started { .. } => {
            return Err(Error::internal(
                "a runner never appends `flow.started` twice",
            ));
        }
        Entry::Step {
            node,
            superstep,
            attempt,
            update: _,
            ms,
            close,
        } => Entry::Step {
            node,
            superstep,
            attempt,
            update: serde_json::Value::Null,
            ms,
            close,
        },
        Entry::Completed { state } => Entry::Completed {
            state: serde_json::to_value(&state).map_err(|e| {
                Error::new(ErrorCode::Encode, format!("encoding a workflow state: {e}"))
            })?,
        },
        Entry::Resumed { runner } => Entry::Resumed { runner },
        Entry::StepFailed {
            node,
            superstep,
            attempt,
            error,
            will_retry,
        } => Entry::StepFailed {
            node,
            superstep,
            attempt,
            error,
            will_retry,
        },
        Entry::Waiting {
            node,
            superstep,
            deadline,
            on_timeout,
        } => Entry::Waiting {
            node,
            superstep,
            deadline,
            on_timeout,
        },
        Entry::Decided {
            node,
            superstep,
            approved,
            by,
            comment,
            timed_out,
        } => Entry::Decided {
            node,
            superstep,
            approved,
            by,
            comment,
            timed_out,
        },
        Entry::Awaiting {
            node,
            superstep,
            target,
        } => Entry::Awaiting {
            node,
            superstep,
            target,
        },
        Entry::Advanced { close } => Entry::Advanced { close },
        Entry::Stalled {
            nodes,
            idle_ms,
            action,
        } => Entry::Stalled {
            nodes,
            idle_ms,
            action,
        },
        Entry::Failed { node, error } => Entry::Failed { node, error },
        Entry::Cancelled { by, reason } => Entry::Cancelled { by, reason },
        Entry::Compensated {
            node,
            superstep,
            error,
        } => Entry::Compensated {
            node,
            superstep,
            error,
        },
        Entry::Retried { by } => Entry::Retried { by },
    })
}

/// One attempt of a node (not a gate).
async fn run_node<S: State>(
    engine: &Engine<S>,
    node: &crate::graph::Node<S>,
    cx: StepCtx,
    state: S,
    awaited: Option<WorkflowId>,
) -> Result<S::Update, Error> {
    match &node.kind {
        NodeKind::Function(f) => f(cx, state).await,
        NodeKind::Task {
            capability,
            input,
            output,
        } => {
            let client = cx.client.clone().ok_or_else(|| {
                Error::new(
                    ErrorCode::Unavailable,
                    format!(
                        "task node `{}` needs a runtime client; give the engine one (Engine::client)",
                        cx.node
                    ),
                )
                .with_retryable(false)
            })?;
            let task = Task::with_payload(capability.clone(), input(&state)?);
            let timeout = node.timeout.unwrap_or(engine.inner.options.task_timeout);
            let outcome = client
                .call(task, cadre_runtime::Route::Capability, timeout)
                .await?;
            output(outcome)
        }
        NodeKind::Gate(_) => Err(Error::internal("gates are not run as steps")),
        NodeKind::Subflow { graph, output } => {
            let child = cx.workflow.child(&cx.node, cx.superstep)?;
            let store = Arc::clone(&engine.inner.store);
            if store.stream_version(&child.stream()).await?.is_none() {
                engine
                    .record_start(graph, &child, state, cx.conversation.unwrap_or_default())
                    .await?;
            }
            let done = Box::pin(engine.run_until(&child, cx.cancel.clone()))
                .await?
                .ok_or_else(|| {
                    Error::new(ErrorCode::Cancelled, format!("subflow `{child}` stopped"))
                })?;
            match done.status {
                Status::Completed => output(&done.state),
                _ => Err(Error::new(
                    ErrorCode::AgentFailed,
                    format!(
                        "subflow `{child}` ended {}: {}",
                        done.status.as_str(),
                        done.error
                            .map_or_else(|| "no error".to_owned(), |e| e.message)
                    ),
                )
                .with_retryable(false)),
            }
        }
        NodeKind::Await { then, .. } => {
            let target =
                awaited.ok_or_else(|| Error::internal("await without a recorded target"))?;
            let store = &*engine.inner.store;
            loop {
                let view = crate::control::view(store, &target).await?;
                if view.is_settled() {
                    return then(&view);
                }
                if let Some(cycle) = crate::control::wait_cycle(store, &cx.workflow).await? {
                    let names: Vec<&str> = cycle.iter().map(WorkflowId::as_str).collect();
                    return Err(Error::new(
                        ErrorCode::Conflict,
                        format!(
                            "deadlock: workflows wait on each other: {}",
                            names.join(" → ")
                        ),
                    )
                    .with_retryable(false));
                }
                tokio::select! {
                    () = cx.cancel.cancelled() => return Err(Error::new(ErrorCode::Cancelled, "cancelled")),
                    () = tokio::time::sleep(engine.inner.options.poll) => {}
                }
            }
        }
    }
}
