//! Observability for cadre: tracing set-up, the spans every component uses, and the metrics
//! facade components record through.
//!
//! [`init`] installs the global subscriber from [`LogConfig`](cadre_core::config::LogConfig):
//! human-readable lines (coloured on a terminal) by default, one JSON object per line with
//! `log.format = "json"` (or `CADRE_LOG_FORMAT=json`). The level comes from `RUST_LOG` when set,
//! else from `log.level`. Logs go to stderr; stdout is left for data.
//!
//! Work on a message or task runs inside [`message_span`], so every line it logs carries the
//! trace and correlation (conversation) ids; in JSON they appear under `span` and `spans`.
//!
//! ```
//! use cadre_core::{ConversationId, TraceId};
//! let span = cadre_observe::message_span("pricing", Some(TraceId::new()), ConversationId::new());
//! let _guard = span.enter();
//! tracing::info!("priced the book");
//! ```
#![warn(missing_docs)]

mod logging;

pub use logging::{LogTarget, init, message_span, subscriber};
/// The metrics facade every cadre crate records through (`counter!`, `gauge!`, `histogram!`).
/// A node installs an exporter (Prometheus) as the global recorder; without one, recording is
/// a no-op.
pub use metrics;
