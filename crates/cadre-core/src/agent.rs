//! The `Agent` trait and the `Context` an agent works in.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::{
    AgentId, AgentKind, Bid, Capability, ConversationId, Error, Task, TaskOutcome, TraceId,
};

/// The error an agent returns from [`Agent::execute`]. Mark it retryable with
/// [`Error::with_retryable`] when trying again may succeed.
pub type AgentError = Error;

/// A boxed, `Send` future, as returned by [`DynAgent`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An agent: it declares what it can do, bids for tasks and executes them.
///
/// These three methods are all an agent author writes. The runtime supplies the rest: the
/// message loop, registration and heartbeats, retries and circuit breaking, metrics, graceful
/// shutdown.
///
/// ```
/// use std::time::Duration;
/// use cadre_core::{Agent, AgentError, Bid, Capability, Context, Message, Task, TaskOutcome};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Numbers(Vec<f64>);
/// impl Message for Numbers { const TYPE: &'static str = "example.numbers"; }
///
/// #[derive(Serialize, Deserialize)]
/// struct Sum(f64);
/// impl Message for Sum { const TYPE: &'static str = "example.sum"; }
///
/// struct Adder;
///
/// impl Agent for Adder {
///     fn capabilities(&self) -> Vec<Capability> {
///         vec![Capability::new("math.sum", "1.0.0").unwrap()]
///     }
///     async fn can_handle(&self, task: &Task) -> Bid {
///         if task.capability == "math.sum" { Bid::accept(1.0, Duration::from_micros(5)) } else { Bid::decline() }
///     }
///     async fn execute(&self, task: Task, _cx: &Context) -> Result<TaskOutcome, AgentError> {
///         let Numbers(xs) = task.input()?;
///         TaskOutcome::new(&task, &Sum(xs.iter().sum()))
///     }
/// }
/// ```
pub trait Agent: Send + Sync + 'static {
    /// What the agent can do.
    fn capabilities(&self) -> Vec<Capability>;

    /// Whether, how confidently and how fast the agent would handle `task`.
    fn can_handle(&self, task: &Task) -> impl Future<Output = Bid> + Send;

    /// Executes `task`.
    ///
    /// # Errors
    /// Whatever the work fails with; retryable errors are retried by the runtime.
    ///
    /// # Cancel safety
    /// The runtime drops the future when the task's deadline passes or the node shuts down
    /// past its grace period; long work should also watch [`Context::cancellation`].
    fn execute(
        &self,
        task: Task,
        cx: &Context,
    ) -> impl Future<Output = Result<TaskOutcome, AgentError>> + Send;
}

/// The object-safe form of [`Agent`], implemented for every agent, so a runtime can host agents
/// of different types side by side (`Arc<dyn DynAgent>`).
pub trait DynAgent: Send + Sync + 'static {
    /// See [`Agent::capabilities`].
    fn capabilities(&self) -> Vec<Capability>;
    /// See [`Agent::can_handle`].
    fn can_handle<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Bid>;
    /// See [`Agent::execute`].
    fn execute<'a>(
        &'a self,
        task: Task,
        cx: &'a Context,
    ) -> BoxFuture<'a, Result<TaskOutcome, AgentError>>;
}

impl<A: Agent> DynAgent for A {
    fn capabilities(&self) -> Vec<Capability> {
        Agent::capabilities(self)
    }

    fn can_handle<'a>(&'a self, task: &'a Task) -> BoxFuture<'a, Bid> {
        Box::pin(Agent::can_handle(self, task))
    }

    fn execute<'a>(
        &'a self,
        task: Task,
        cx: &'a Context,
    ) -> BoxFuture<'a, Result<TaskOutcome, AgentError>> {
        Box::pin(Agent::execute(self, task, cx))
    }
}

/// Services the runtime hands an agent, looked up by type (the bus handle, the store, metrics).
///
/// Cloning is cheap; inserting into a clone does not change the original.
#[derive(Clone, Default)]
pub struct Extensions {
    map: Arc<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Extensions {
    /// Adds (or replaces) the service of type `T`.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        Arc::make_mut(&mut self.map).insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The service of type `T`, if present.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>())
    }

    /// How many services are present.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no service is present.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.map.len())
            .finish()
    }
}

/// What an agent receives with each task: who it is, the conversation and trace, the deadline,
/// a cancellation token, the experiment variant chosen for it, and the runtime's services.
#[derive(Debug, Clone)]
pub struct Context {
    agent_id: AgentId,
    kind: AgentKind,
    conversation_id: ConversationId,
    trace_id: Option<TraceId>,
    deadline: Option<DateTime<Utc>>,
    cancel: CancellationToken,
    variant: Option<Arc<str>>,
    extensions: Extensions,
}

impl Context {
    /// A context for agent `agent_id` of `kind`, with a fresh conversation and no deadline.
    pub fn new(agent_id: AgentId, kind: AgentKind) -> Self {
        Self {
            agent_id,
            kind,
            conversation_id: ConversationId::new(),
            trace_id: None,
            deadline: None,
            cancel: CancellationToken::new(),
            variant: None,
            extensions: Extensions::default(),
        }
    }

    /// A copy for executing `task`: its conversation, trace and deadline, and a child
    /// cancellation token (cancelling the parent cancels the task, not the other way round).
    #[must_use]
    pub fn for_task(&self, task: &Task) -> Self {
        Self {
            conversation_id: task.conversation_id,
            trace_id: task.trace_id,
            deadline: task.deadline,
            cancel: self.cancel.child_token(),
            ..self.clone()
        }
    }

    /// Replaces the cancellation token.
    #[must_use]
    pub fn with_cancellation(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Sets the experiment variant.
    #[must_use]
    pub fn with_variant(mut self, variant: impl Into<Arc<str>>) -> Self {
        self.variant = Some(variant.into());
        self
    }

    /// Mutable access to the services, for the runtime while it builds the context.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// The agent's id.
    pub fn agent_id(&self) -> &AgentId {
        &self.agent_id
    }

    /// The agent's kind.
    pub fn kind(&self) -> &AgentKind {
        &self.kind
    }

    /// The conversation being worked on.
    pub fn conversation_id(&self) -> ConversationId {
        self.conversation_id
    }

    /// The trace being worked on.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.trace_id
    }

    /// When the work stops being useful.
    pub fn deadline(&self) -> Option<DateTime<Utc>> {
        self.deadline
    }

    /// Cancelled when the task should stop (shutdown, deadline, kill switch).
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Whether the task has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The experiment variant chosen for this agent, if any.
    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }

    /// A runtime service by type.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.extensions.get::<T>()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::Message;

    #[derive(Serialize, Deserialize)]
    struct Numbers(Vec<f64>);
    impl Message for Numbers {
        const TYPE: &'static str = "test.numbers";
    }
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Sum(f64);
    impl Message for Sum {
        const TYPE: &'static str = "test.sum";
    }

    struct Adder;
    impl Agent for Adder {
        fn capabilities(&self) -> Vec<Capability> {
            vec![Capability::new("math.sum", "1.0.0").unwrap()]
        }
        async fn can_handle(&self, task: &Task) -> Bid {
            if task.capability == "math.sum" {
                Bid::accept(1.0, Duration::from_millis(1))
            } else {
                Bid::decline()
            }
        }
        async fn execute(&self, task: Task, cx: &Context) -> Result<TaskOutcome, AgentError> {
            let scale = cx.get::<f64>().copied().unwrap_or(1.0);
            let Numbers(xs) = task.input()?;
            TaskOutcome::new(&task, &Sum(xs.iter().sum::<f64>() * scale))
        }
    }

    #[tokio::test]
    async fn agents_run_behind_dyn_agent_with_services_from_the_context() {
        let agent: Arc<dyn DynAgent> = Arc::new(Adder);
        let task = Task::new("math.sum", &Numbers(vec![1.0, 2.0])).unwrap();
        assert!(agent.can_handle(&task).await.can_handle());
        let other = Task::new("math.mul", &Numbers(vec![])).unwrap();
        assert!(!agent.can_handle(&other).await.can_handle());

        let mut cx = Context::new(
            AgentId::new("adder-1").unwrap(),
            AgentKind::new("adder").unwrap(),
        );
        cx.extensions_mut().insert(10.0_f64);
        let cx = cx.for_task(&task);
        assert_eq!(cx.conversation_id(), task.conversation_id);
        let out = agent.execute(task, &cx).await.unwrap();
        assert_eq!(out.output::<Sum>().unwrap(), Sum(30.0));

        let bad = Task::new("math.sum", &Sum(1.0)).unwrap();
        let err = agent.execute(bad, &cx).await.unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::PayloadMismatch);
    }

    #[test]
    fn task_context_cancellation_flows_down_only() {
        let parent = Context::new(AgentId::new("a").unwrap(), AgentKind::new("k").unwrap());
        let task = Task::with_payload("x", crate::Payload::empty("none"));
        let child = parent.for_task(&task);
        child.cancellation().cancel();
        assert!(!parent.is_cancelled());
        let child2 = parent.for_task(&task);
        parent.cancellation().cancel();
        assert!(child2.is_cancelled());
    }
}
