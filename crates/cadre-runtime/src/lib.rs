//! The cadre agent runtime.
//!
//! A [`Node`] hosts agents on a [`Bus`](cadre_bus::Bus). Agent authors implement the three
//! methods of [`Agent`](cadre_core::Agent); the node gives every agent the rest:
//!
//! - **Worker pools** ([`AgentSpec`], [`PoolConfig`]): each kind runs between `min` and `max`
//!   replicas that share the kind's work queue (`tasks.<kind>`, a consumer group); the pool
//!   grows when the queue is deep and shrinks when idle, with a cooldown.
//! - **Supervision**: a replica whose agent panics is restarted with exponential backoff
//!   (one-for-one); more than `max_restarts` inside `restart_window` marks the kind failed and
//!   publishes an error event.
//! - **Retries and errors**: a retryable agent error is retried after a backoff delay up to
//!   `task_attempts` tries; every error is published on the error topic (`cadre.errors`) with
//!   its code, agent, task and trace; the caller gets the final error as the reply.
//! - **Registry** ([`Registry`]): every node heartbeats its agents on `cadre.heartbeats`;
//!   every node folds the beats into the same view; after `missed_heartbeats` an agent counts
//!   as dead, and the tasks it held return through the bus leases.
//! - **Routing** ([`Client`], [`Route`]): to a kind, to one agent, or out to auction
//!   (Contract Net, [`contract_net`]); priorities hold end to end.
//! - **Kill switch**: [`Node::halt`] (or `cadre halt`) stops task intake on every node sharing
//!   the bus within `control_poll`.
//! - **Drain** ([`Node::shutdown`]): stop intake, finish in-flight tasks within the grace
//!   period, cancel the rest (they go back to the bus), deregister.
//! - **Hybrid paths** ([`StreamMode`]): a kind's queue lives on the durable bus or on the
//!   node's in-process memory bus; agents see no difference.
//! - [`ResultCache`]: the same task (same capability and input) inside a TTL returns the stored
//!   outcome instead of running again.
#![warn(missing_docs)]

pub mod bench;
mod cache;
mod client;
pub mod contract_net;
pub mod crew;
mod node;
mod pool;
pub mod protocol;
mod registry;

pub use cache::ResultCache;
pub use client::{Client, Route};
pub use crew::{Catalog, Rendered};
pub use node::{KindStatus, Node, NodeBuilder, NodeHealth, NodeOptions, ShutdownReport};
pub use pool::{AgentSpec, Factory, PoolConfig, StreamMode};
pub use registry::{Registered, Registry};
