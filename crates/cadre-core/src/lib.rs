//! The vocabulary every other cadre crate speaks.
//!
//! `cadre-core` defines what travels between agents and what an agent is, and nothing else: it
//! performs no I/O and starts no async runtime.
//!
//! - [`Envelope`]: the versioned message that crosses the bus, with a typed [`Payload`].
//! - [`Message`]: implemented by the Rust types agents exchange; the JSON envelope is only the
//!   wire form.
//! - [`Task`], [`TaskOutcome`], [`Capability`], [`Bid`]: the units of work and how agents offer
//!   to take them.
//! - [`Agent`] and [`Context`]: the three methods an agent author writes, and what the runtime
//!   hands the agent while it works.
//! - [`Error`]: one error type with stable codes and a retryable flag.
//! - [`config`]: the typed configuration tree (loading lives in `cadre-config`).
//!
//! ```
//! use cadre_core::{Envelope, Message, MessageKind, Recipient, AgentId, Topic};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct Quote { symbol: String, bid: f64, ask: f64 }
//! impl Message for Quote { const TYPE: &'static str = "market.quote"; const VERSION: u32 = 1; }
//!
//! let quote = Quote { symbol: "ACME".into(), bid: 9.99, ask: 10.01 };
//! let env = Envelope::builder(AgentId::new("feed-1")?, Recipient::Topic(Topic::new("quotes")?), MessageKind::Event)
//!     .payload(&quote)?
//!     .build();
//! let wire = env.to_json()?;
//! let back = Envelope::from_json(&wire)?;
//! assert_eq!(back.payload.decode::<Quote>()?, quote);
//! # Ok::<(), cadre_core::Error>(())
//! ```
#![warn(missing_docs)]

mod agent;
mod capability;
pub mod config;
mod envelope;
mod error;
mod id;
mod message;
mod priority;
mod secret;
mod task;

pub use agent::{Agent, AgentError, BoxFuture, Context, DynAgent, Extensions};
pub use capability::{Bid, Capability};
pub use envelope::{
    AuthToken, Envelope, EnvelopeBuilder, Limits, MessageKind, Meta, Recipient, SchemaVersion,
};
pub use error::{Error, ErrorCode, Result};
pub use id::{
    AgentId, AgentKind, ConversationId, Group, IdError, MAX_NAME_LEN, MessageId, TaskId, Topic,
    TraceId, validate_name,
};
pub use message::{Message, Payload};
pub use priority::Priority;
pub use secret::{REDACTED, Secret};
pub use task::{Task, TaskOutcome};
