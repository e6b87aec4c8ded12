//! cadre workflows: durable graph workflows on the event store.
//!
//! - [`graph`]: graphs of nodes (Rust functions, agent tasks, approval gates, nested
//!   workflows, waits on other workflows) with edges, conditional edges, fan-out and joins
//!   over a typed state merged by reducers; per-node timeouts, retries and compensations.
//! - [`Engine`]: runs graphs durably: every step is a checkpoint in a `cadre-store` event
//!   stream, so a workflow resumes after a crash from its last checkpoint and never runs a
//!   recorded step again; sagas compensate in reverse, also across crashes; stalls are
//!   detected.
//! - [`control`]: operate workflows from their logs alone (show, approve, reject, cancel,
//!   retry, follow, find deadlocks) — what `cadre flow` does.
//! - [`json`]: graphs of agent tasks over a JSON state, loaded from TOML.
//! - [`dag`]: DAG scheduling by critical path: cycle detection that names the cycle, a
//!   topological order, earliest/latest start, slack and a priority per task.
//! - [`state`]: the workflow state machine (PENDING → RUNNING → COMPLETED / FAILED /
//!   CANCELLED, FAILED → PENDING to retry) with legal transitions only and the full history.
#![warn(missing_docs)]

pub mod bench;
pub mod control;
pub mod dag;
mod engine;
pub mod graph;
pub mod json;
mod log;
pub mod state;

pub use engine::{Engine, EngineOptions, Outcome, StallAction, StallPolicy};
pub use log::{
    Close, Compensation, Decision, ErrorInfo, STREAM_PREFIX, StepRecord, Waiting, WorkflowId,
    WorkflowView,
};
