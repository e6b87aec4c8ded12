//! cadre workflows.
//!
//! So far the two pure parts the workflow engine stands on:
//!
//! - [`dag`]: DAG scheduling by critical path: cycle detection that names the cycle, a
//!   topological order, earliest/latest start, slack and a priority per task.
//! - [`state`]: the workflow state machine (PENDING → RUNNING → COMPLETED / FAILED /
//!   CANCELLED, FAILED → PENDING to retry) with legal transitions only and the full history.
//!
//! Graph workflows, durable execution with checkpoints, approval gates and sagas build on these
//! and on `cadre-store`.
#![warn(missing_docs)]

pub mod dag;
pub mod state;
