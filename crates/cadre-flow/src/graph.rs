//! Graph workflows: nodes, edges, conditional edges, fan-out and joins over a typed state.
//!
//! A [`Graph`] runs in **super-steps**: every active node of a super-step runs concurrently
//! on a copy of the state; their updates are merged into the state by the state's reducer
//! ([`State::apply`]) in node-name order once all of them are done; then the edges of the
//! nodes that ran pick the next super-step's nodes. A node reached by several edges in one
//! super-step runs once. A **join** (`join(&["a", "b"], "c")`) waits until every one of its
//! sources has run, across super-steps.
//!
//! ```
//! use cadre_flow::graph::{Graph, State, END};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Clone, Default, Serialize, Deserialize)]
//! struct Order { total: i64, checks: Vec<String> }
//!
//! #[derive(Clone, Serialize, Deserialize)]
//! enum Change { Total(i64), Check(String) }
//!
//! impl State for Order {
//!     type Update = Change;
//!     fn apply(&mut self, change: Change) {
//!         match change {
//!             Change::Total(t) => self.total = t,
//!             Change::Check(c) => self.checks.push(c), // parallel checks append
//!         }
//!     }
//! }
//!
//! let mut g = Graph::<Order>::builder("order");
//! g.node("price", |_cx, _s| async { Ok(Change::Total(120)) });
//! g.node("fraud", |_cx, _s| async { Ok(Change::Check("fraud".into())) });
//! g.node("stock", |_cx, _s| async { Ok(Change::Check("stock".into())) });
//! g.node("ship", |_cx, _s| async { Ok(Change::Check("shipped".into())) });
//! g.entry("price");
//! // Big orders fan out to a fraud check beside the stock check; small ones only check stock.
//! g.route_many("price", &["fraud", "stock"], |s: &Order| {
//!     if s.total > 100 { vec!["fraud".into(), "stock".into()] } else { vec!["stock".into()] }
//! });
//! g.edge("stock", "ship")?;
//! g.edge("fraud", "ship")?;
//! g.edge("ship", END)?;
//! let graph = g.build()?;
//! assert_eq!(graph.name(), "order");
//! # Ok::<(), cadre_core::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use cadre_core::{Error, Payload, TaskOutcome};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::WorkflowId;

/// The name of the end of a graph: an edge to `END` finishes the branch.
pub const END: &str = "END";

/// The state of a workflow: a value the nodes read, and the updates they return, merged by
/// [`State::apply`] (the reducer).
///
/// Updates are what a checkpoint stores: a workflow's state is its input with every recorded
/// update applied, so `apply` must be deterministic. Parallel nodes' updates are applied in
/// node-name order.
pub trait State: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// What a node returns.
    type Update: Clone + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// Merges one update into the state.
    fn apply(&mut self, update: Self::Update);
}

/// What a running step knows about itself.
#[derive(Debug, Clone)]
pub struct StepCtx {
    /// The workflow.
    pub workflow: WorkflowId,
    /// The node.
    pub node: Arc<str>,
    /// The super-step (0 for the entry nodes).
    pub superstep: u64,
    /// The attempt, from 1.
    pub attempt: u32,
    /// Cancelled when the workflow is cancelled or the runner stops; long steps should watch
    /// it.
    pub cancel: CancellationToken,
    /// The workflow's conversation (shared by its subflows).
    pub conversation: Option<cadre_core::ConversationId>,
    pub(crate) client: Option<cadre_runtime::Client>,
}

impl StepCtx {
    /// The runtime client, when the engine has one (agent-task nodes use it).
    pub fn client(&self) -> Option<&cadre_runtime::Client> {
        self.client.as_ref()
    }
}

/// A boxed step future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'static>>;

pub(crate) type NodeFn<S> =
    Arc<dyn Fn(StepCtx, S) -> BoxFuture<<S as State>::Update> + Send + Sync>;
pub(crate) type CompensateFn<S> = Arc<dyn Fn(StepCtx, S) -> BoxFuture<()> + Send + Sync>;
pub(crate) type RouterFn<S> = Arc<dyn Fn(&S) -> Vec<String> + Send + Sync>;
pub(crate) type TaskInFn<S> = Arc<dyn Fn(&S) -> Result<Payload, Error> + Send + Sync>;
pub(crate) type TaskOutFn<S> =
    Arc<dyn Fn(TaskOutcome) -> Result<<S as State>::Update, Error> + Send + Sync>;
pub(crate) type AwaitTargetFn<S> = Arc<dyn Fn(&S) -> Result<WorkflowId, Error> + Send + Sync>;
pub(crate) type AwaitThenFn<S> =
    Arc<dyn Fn(&crate::WorkflowView) -> Result<<S as State>::Update, Error> + Send + Sync>;
pub(crate) type SubflowOutFn<S> =
    Arc<dyn Fn(&S) -> Result<<S as State>::Update, Error> + Send + Sync>;

/// How often and how patiently a node is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// The delay before the second attempt; doubled for each later one.
    #[serde(with = "humantime_serde")]
    pub backoff: Duration,
    /// The longest delay.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 1,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl Retry {
    /// `attempts` attempts in all, the default backoff.
    pub fn attempts(attempts: u32) -> Self {
        Self {
            attempts: attempts.max(1),
            ..Self::default()
        }
    }

    /// The delay before attempt `next` (2 for the first retry).
    pub fn delay(&self, next: u32) -> Duration {
        let doublings = next.saturating_sub(2).min(30);
        self.backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }
}

/// What an approval gate does when nobody decides in time.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    /// Take the reject path (or fail when the gate has none).
    #[default]
    Reject,
    /// Approve.
    Approve,
    /// Fail the workflow.
    Fail,
}

impl OnTimeout {
    /// The name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reject => "reject",
            Self::Approve => "approve",
            Self::Fail => "fail",
        }
    }
}

/// A human approval gate: the workflow waits at this node until someone approves or rejects
/// it (`cadre flow approve|reject ID`), or the timeout passes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gate {
    /// How long to wait (none: forever).
    pub timeout: Option<Duration>,
    /// What happens at the timeout.
    pub on_timeout: OnTimeout,
    /// Where a rejection goes; without, a rejection fails the workflow.
    pub on_reject: Option<String>,
}

pub(crate) enum NodeKind<S: State> {
    Function(NodeFn<S>),
    Task {
        capability: String,
        input: TaskInFn<S>,
        output: TaskOutFn<S>,
    },
    Gate(Gate),
    Subflow {
        graph: Arc<Graph<S>>,
        output: SubflowOutFn<S>,
    },
    Await {
        target: AwaitTargetFn<S>,
        then: AwaitThenFn<S>,
    },
}

impl<S: State> NodeKind<S> {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Function(_) => "function",
            Self::Task { .. } => "task",
            Self::Gate(_) => "gate",
            Self::Subflow { .. } => "subflow",
            Self::Await { .. } => "await",
        }
    }
}

pub(crate) struct Node<S: State> {
    pub(crate) name: Arc<str>,
    pub(crate) kind: NodeKind<S>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: Retry,
    pub(crate) compensate: Option<CompensateFn<S>>,
}

pub(crate) enum Out<S: State> {
    /// Static targets (fan-out when several).
    Static(Vec<String>),
    /// A router choosing among declared targets on the state after the super-step.
    Route {
        targets: Vec<String>,
        router: RouterFn<S>,
    },
}

/// A node as the log describes it (for `cadre flow show` without the code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Its name.
    pub name: String,
    /// `function`, `task`, `gate`, `subflow` or `await`.
    pub kind: String,
    /// Whether it has a compensation (saga step).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub compensable: bool,
    /// The capability of a task node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// Where it may go next.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<String>,
}

/// A validated workflow graph. Build one with [`Graph::builder`]; share it with `Arc`.
pub struct Graph<S: State> {
    pub(crate) name: String,
    pub(crate) nodes: BTreeMap<Arc<str>, Node<S>>,
    pub(crate) entry: Vec<String>,
    pub(crate) out: BTreeMap<String, Out<S>>,
    /// join target → its sources.
    pub(crate) joins: BTreeMap<String, BTreeSet<String>>,
    /// The definition text it was loaded from, recorded with each run (TOML graphs).
    pub(crate) definition: Option<String>,
}

impl<S: State> fmt::Debug for Graph<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("name", &self.name)
            .field("nodes", &self.nodes.keys().collect::<Vec<_>>())
            .field("entry", &self.entry)
            .finish_non_exhaustive()
    }
}

impl<S: State> Graph<S> {
    /// A builder for a graph called `name` (a workflow type name, e.g. `order`).
    pub fn builder(name: impl Into<String>) -> GraphBuilder<S> {
        GraphBuilder {
            name: name.into(),
            nodes: Vec::new(),
            entry: Vec::new(),
            edges: Vec::new(),
            routes: Vec::new(),
            joins: Vec::new(),
            definition: None,
            errors: Vec::new(),
        }
    }

    /// The graph's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The nodes, for the log and for display.
    pub fn describe(&self) -> Vec<NodeInfo> {
        self.nodes
            .values()
            .map(|n| NodeInfo {
                name: n.name.to_string(),
                kind: n.kind.name().to_owned(),
                compensable: n.compensate.is_some(),
                capability: match &n.kind {
                    NodeKind::Task { capability, .. } => Some(capability.clone()),
                    _ => None,
                },
                next: match self.out.get(&*n.name) {
                    Some(Out::Static(t) | Out::Route { targets: t, .. }) => t.clone(),
                    None => Vec::new(),
                },
            })
            .collect()
    }

    pub(crate) fn node(&self, name: &str) -> Option<&Node<S>> {
        self.nodes.get(name)
    }

    /// The targets `node` leads to on `state` (after its super-step); `reject` takes a gate's
    /// reject path.
    pub(crate) fn targets(
        &self,
        node: &str,
        state: &S,
        reject: bool,
    ) -> Result<Vec<String>, Error> {
        if reject {
            let gate = match self.nodes.get(node).map(|n| &n.kind) {
                Some(NodeKind::Gate(g)) => g,
                _ => return Err(Error::internal(format!("`{node}` is not a gate"))),
            };
            return Ok(gate.on_reject.iter().cloned().collect());
        }
        match self.out.get(node) {
            None => Ok(Vec::new()),
            Some(Out::Static(t)) => Ok(t.clone()),
            Some(Out::Route { targets, router }) => {
                let chosen = router(state);
                for c in &chosen {
                    if !targets.iter().any(|t| t == c) {
                        return Err(Error::invalid_input(format!(
                            "graph `{}`: the router of `{node}` chose `{c}`, which is not one of its declared targets ({})",
                            self.name,
                            targets.join(", ")
                        ))
                        .with_retryable(false));
                    }
                }
                Ok(chosen)
            }
        }
    }
}

/// Builds a [`Graph`]. Mistakes (unknown nodes, duplicates) are collected and reported
/// together by [`GraphBuilder::build`].
pub struct GraphBuilder<S: State> {
    name: String,
    nodes: Vec<Node<S>>,
    entry: Vec<String>,
    edges: Vec<(String, String)>,
    routes: Vec<(String, Vec<String>, RouterFn<S>)>,
    joins: Vec<(Vec<String>, String)>,
    definition: Option<String>,
    errors: Vec<String>,
}

impl<S: State> fmt::Debug for GraphBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphBuilder")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Sets the options of the node just added.
#[derive(Debug)]
pub struct NodeOptions<'a, S: State> {
    builder: &'a mut GraphBuilder<S>,
}

impl<S: State> NodeOptions<'_, S> {
    fn last(&mut self) -> &mut Node<S> {
        self.builder
            .nodes
            .last_mut()
            .expect("NodeOptions exists only after a node was added")
    }

    /// Fails an attempt that runs longer than `timeout` (retryable).
    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.last().timeout = Some(timeout);
        self
    }

    /// Retries failed attempts (retryable errors and timeouts only).
    pub fn retry(&mut self, retry: Retry) -> &mut Self {
        self.last().retry = retry;
        self
    }

    /// Makes the node a saga step: when the workflow fails or is cancelled after this node
    /// completed, `compensate` runs (in reverse completion order, persisted, resumed after a
    /// crash).
    pub fn compensate<F, Fut>(&mut self, compensate: F) -> &mut Self
    where
        F: Fn(StepCtx, S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.last().compensate = Some(Arc::new(move |cx, s| Box::pin(compensate(cx, s))));
        self
    }
}

impl<S: State> GraphBuilder<S> {
    fn add(&mut self, name: &str, kind: NodeKind<S>) -> NodeOptions<'_, S> {
        if name == END {
            self.errors
                .push(format!("`{END}` is reserved for the end of the graph"));
        } else if let Err(e) = cadre_core::validate_name("node name", name) {
            self.errors.push(e.to_string());
        } else if name.contains('/') {
            self.errors
                .push(format!("node name `{name}` must not contain `/`"));
        } else if self.nodes.iter().any(|n| &*n.name == name) {
            self.errors.push(format!("node `{name}` is defined twice"));
        }
        self.nodes.push(Node {
            name: Arc::from(name),
            kind,
            timeout: None,
            retry: Retry::default(),
            compensate: None,
        });
        NodeOptions { builder: self }
    }

    /// A node that runs a Rust function on the state and returns an update.
    pub fn node<F, Fut>(&mut self, name: &str, f: F) -> NodeOptions<'_, S>
    where
        F: Fn(StepCtx, S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S::Update, Error>> + Send + 'static,
    {
        self.add(
            name,
            NodeKind::Function(Arc::new(move |cx, s| Box::pin(f(cx, s)))),
        )
    }

    /// A node that sends a task to the agents offering `capability` (through the engine's
    /// runtime client) with the input `input` makes from the state, and turns the outcome
    /// into an update.
    pub fn task<I, O>(
        &mut self,
        name: &str,
        capability: &str,
        input: I,
        output: O,
    ) -> NodeOptions<'_, S>
    where
        I: Fn(&S) -> Result<Payload, Error> + Send + Sync + 'static,
        O: Fn(TaskOutcome) -> Result<S::Update, Error> + Send + Sync + 'static,
    {
        self.add(
            name,
            NodeKind::Task {
                capability: capability.to_owned(),
                input: Arc::new(input),
                output: Arc::new(output),
            },
        )
    }

    /// An approval gate.
    pub fn gate(&mut self, name: &str, gate: Gate) -> NodeOptions<'_, S> {
        self.add(name, NodeKind::Gate(gate))
    }

    /// A nested workflow: runs `graph` as a child workflow (its own log, id
    /// `<parent>/<node>.<superstep>`) on a copy of the state, and turns the child's final
    /// state into an update. Gates inside wait (and survive restarts) like the parent's own.
    pub fn subflow<O>(&mut self, name: &str, graph: Arc<Graph<S>>, output: O) -> NodeOptions<'_, S>
    where
        O: Fn(&S) -> Result<S::Update, Error> + Send + Sync + 'static,
    {
        self.add(
            name,
            NodeKind::Subflow {
                graph,
                output: Arc::new(output),
            },
        )
    }

    /// A node that waits for another workflow (named by `target` from the state) to finish,
    /// then turns its view into an update. Workflows waiting on each other in a cycle are
    /// detected: the step fails naming the cycle.
    pub fn await_workflow<T, O>(&mut self, name: &str, target: T, then: O) -> NodeOptions<'_, S>
    where
        T: Fn(&S) -> Result<WorkflowId, Error> + Send + Sync + 'static,
        O: Fn(&crate::WorkflowView) -> Result<S::Update, Error> + Send + Sync + 'static,
    {
        self.add(
            name,
            NodeKind::Await {
                target: Arc::new(target),
                then: Arc::new(then),
            },
        )
    }

    /// Where the workflow starts; several entries start in parallel.
    pub fn entry(&mut self, node: &str) -> &mut Self {
        self.entry.push(node.to_owned());
        self
    }

    /// An edge: after `from`, `to` runs (or the branch ends, for [`END`]). Several edges from
    /// one node fan out.
    ///
    /// # Errors
    /// When the same edge is added twice (the mistake is also reported by `build`).
    pub fn edge(&mut self, from: &str, to: &str) -> Result<&mut Self, Error> {
        if self.edges.iter().any(|(f, t)| f == from && t == to) {
            let message = format!("edge `{from}` → `{to}` is added twice");
            self.errors.push(message.clone());
            return Err(Error::invalid_input(message));
        }
        self.edges.push((from.to_owned(), to.to_owned()));
        Ok(self)
    }

    /// A conditional edge: after `from`'s super-step, `router` picks one of `targets` on the
    /// state (with every update of the super-step applied).
    pub fn route<R, T>(&mut self, from: &str, targets: &[&str], router: R) -> &mut Self
    where
        R: Fn(&S) -> T + Send + Sync + 'static,
        T: Into<String>,
    {
        self.routes.push((
            from.to_owned(),
            targets.iter().map(|t| (*t).to_owned()).collect(),
            Arc::new(move |s| vec![router(s).into()]),
        ));
        self
    }

    /// A conditional fan-out: `router` picks any number of `targets`.
    pub fn route_many<R>(&mut self, from: &str, targets: &[&str], router: R) -> &mut Self
    where
        R: Fn(&S) -> Vec<String> + Send + Sync + 'static,
    {
        self.routes.push((
            from.to_owned(),
            targets.iter().map(|t| (*t).to_owned()).collect(),
            Arc::new(router),
        ));
        self
    }

    /// A join (fan-in): `to` runs once every one of `from` has run since `to` last ran.
    pub fn join(&mut self, from: &[&str], to: &str) -> &mut Self {
        self.joins.push((
            from.iter().map(|f| (*f).to_owned()).collect(),
            to.to_owned(),
        ));
        self
    }

    /// Records the definition text (a TOML graph) with every run.
    pub(crate) fn definition(&mut self, text: String) -> &mut Self {
        self.definition = Some(text);
        self
    }

    /// Checks the graph and builds it.
    ///
    /// # Errors
    /// `InvalidInput` listing every mistake: no nodes or no entry, an unknown node in an edge,
    /// route, join or gate, a node with both edges and a route, a join source without an edge
    /// to the join, a node no path reaches.
    pub fn build(self) -> Result<Graph<S>, Error> {
        let mut errors = self.errors;
        let names: BTreeSet<&str> = self.nodes.iter().map(|n| &*n.name).collect();
        let known = |n: &str, errors: &mut Vec<String>, what: &str| {
            if n != END && !names.contains(n) {
                errors.push(format!("{what} names an unknown node `{n}`"));
            }
        };
        if self.nodes.is_empty() {
            errors.push("the graph has no nodes".to_owned());
        }
        if self.entry.is_empty() && !self.nodes.is_empty() {
            errors.push("the graph has no entry node (`entry`)".to_owned());
        }
        for e in &self.entry {
            if e == END {
                errors.push(format!("the entry cannot be `{END}`"));
            } else {
                known(e, &mut errors, "the entry");
            }
        }
        let mut out: BTreeMap<String, Out<S>> = BTreeMap::new();
        for (from, to) in &self.edges {
            known(from, &mut errors, &format!("edge `{from}` → `{to}`"));
            known(to, &mut errors, &format!("edge `{from}` → `{to}`"));
            if from == END {
                errors.push(format!("an edge cannot start at `{END}`"));
            }
            match out
                .entry(from.clone())
                .or_insert_with(|| Out::Static(Vec::new()))
            {
                Out::Static(t) => t.push(to.clone()),
                Out::Route { .. } => {}
            }
        }
        for (from, targets, router) in self.routes {
            known(&from, &mut errors, &format!("the route from `{from}`"));
            for t in &targets {
                known(t, &mut errors, &format!("the route from `{from}`"));
            }
            if targets.is_empty() {
                errors.push(format!("the route from `{from}` has no targets"));
            }
            if out.contains_key(&from) {
                errors.push(format!(
                    "node `{from}` has both edges and a route (or two routes); give it one"
                ));
                continue;
            }
            out.insert(from, Out::Route { targets, router });
        }
        let mut joins: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in self.joins {
            known(&to, &mut errors, &format!("the join into `{to}`"));
            if from.len() < 2 {
                errors.push(format!("the join into `{to}` needs at least two sources"));
            }
            for f in &from {
                known(f, &mut errors, &format!("the join into `{to}`"));
                // The join's sources lead to it like an edge does.
                match out
                    .entry(f.clone())
                    .or_insert_with(|| Out::Static(Vec::new()))
                {
                    Out::Static(t) if !t.contains(&to) => t.push(to.clone()),
                    _ => {}
                }
            }
            if joins
                .insert(to.clone(), from.into_iter().collect())
                .is_some()
            {
                errors.push(format!("node `{to}` has two joins; give it one"));
            }
        }
        for node in &self.nodes {
            if let NodeKind::Gate(Gate {
                on_reject: Some(r), ..
            }) = &node.kind
            {
                known(
                    r,
                    &mut errors,
                    &format!("the reject path of gate `{}`", node.name),
                );
            }
        }
        if errors.is_empty() {
            // Every node must be reachable from an entry.
            let mut seen: BTreeSet<String> = BTreeSet::new();
            let mut todo: Vec<String> = self.entry.clone();
            while let Some(n) = todo.pop() {
                if n == END || !seen.insert(n.clone()) {
                    continue;
                }
                if let Some(Out::Static(t) | Out::Route { targets: t, .. }) = out.get(&n) {
                    todo.extend(t.iter().cloned());
                }
                if let Some(Node {
                    kind:
                        NodeKind::Gate(Gate {
                            on_reject: Some(r), ..
                        }),
                    ..
                }) = self.nodes.iter().find(|x| *x.name == *n)
                {
                    todo.push(r.clone());
                }
            }
            for n in &self.nodes {
                if !seen.contains(&*n.name) {
                    errors.push(format!("node `{}` is not reachable from the entry", n.name));
                }
            }
        }
        if !errors.is_empty() {
            return Err(Error::invalid_input(format!(
                "graph `{}`: {}",
                self.name,
                errors.join("; ")
            ))
            .with_retryable(false));
        }
        Ok(Graph {
            name: self.name,
            nodes: self
                .nodes
                .into_iter()
                .map(|n| (Arc::clone(&n.name), n))
                .collect(),
            entry: self.entry,
            out,
            joins,
            definition: self.definition,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default, Serialize, Deserialize)]
    struct N(i64);
    impl State for N {
        type Update = i64;
        fn apply(&mut self, u: i64) {
            self.0 += u;
        }
    }

    fn noop(b: &mut GraphBuilder<N>, name: &str) {
        b.node(name, |_, _| async { Ok(1) });
    }

    #[test]
    fn build_reports_every_mistake() {
        let mut b = Graph::<N>::builder("g");
        noop(&mut b, "a");
        noop(&mut b, "a");
        noop(&mut b, "orphan");
        b.entry("a");
        b.edge("a", "ghost").unwrap();
        b.join(&["a"], "zz");
        let err = b.build().unwrap_err().to_string();
        for part in [
            "node `a` is defined twice",
            "unknown node `ghost`",
            "join into `zz` needs at least two sources",
            "unknown node `zz`",
        ] {
            assert!(err.contains(part), "{part} missing in: {err}");
        }
    }

    #[test]
    fn unreachable_nodes_and_missing_entry_are_refused() {
        let mut b = Graph::<N>::builder("g");
        noop(&mut b, "a");
        noop(&mut b, "b");
        b.entry("a");
        let err = b.build().unwrap_err().to_string();
        assert!(err.contains("`b` is not reachable"), "{err}");
        let mut b = Graph::<N>::builder("g");
        noop(&mut b, "a");
        assert!(b.build().unwrap_err().to_string().contains("no entry"));
    }

    #[test]
    fn routers_may_only_choose_declared_targets() {
        let mut b = Graph::<N>::builder("g");
        noop(&mut b, "a");
        noop(&mut b, "b");
        b.entry("a");
        b.route("a", &["b"], |s: &N| if s.0 > 0 { "b" } else { "c" });
        let g = b.build().unwrap();
        assert_eq!(g.targets("a", &N(1), false).unwrap(), vec!["b"]);
        let err = g.targets("a", &N(0), false).unwrap_err();
        assert!(err.to_string().contains("chose `c`"), "{err}");
    }

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let r = Retry {
            attempts: 10,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
        };
        assert_eq!(r.delay(2), Duration::from_millis(100));
        assert_eq!(r.delay(3), Duration::from_millis(200));
        assert_eq!(r.delay(4), Duration::from_millis(400));
        assert_eq!(r.delay(5), Duration::from_millis(500));
        assert_eq!(r.delay(60), Duration::from_millis(500));
    }
}
