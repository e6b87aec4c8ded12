//! The cadre message bus.
//!
//! A [`Bus`] holds streams of [`Envelope`](cadre_core::Envelope)s. Consumers read a stream
//! through consumer groups: within a group each message goes to one consumer (a work queue);
//! every group sees every message (publish/subscribe). Delivery is at least once: each delivery
//! holds a lease, an unacknowledged message is redelivered when its lease expires, a nack
//! schedules a retry after a delay, and after [`BusOptions::max_deliveries`] the message moves to
//! the dead-letter store with its history. Publishers may set an idempotency key (duplicates in
//! the dedupe window are dropped), a TTL (expired messages are dead-lettered, never delivered),
//! a priority (higher first, lower never starved) and a delivery time. Any stream can be
//! replayed from an offset or a time outside any group.
//!
//! Backends:
//! - [`MemoryBus`]: in-process, the fast path (backtests, hot internal traffic).
//! - `SqliteBus` (feature `sqlite`, on by default): the embedded durable default; survives
//!   `SIGKILL` with nothing acknowledged lost.
//!
//! Every backend passes the same conformance suite ([`conformance`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), cadre_core::Error> {
//! use std::time::Duration;
//! use cadre_bus::{Bus, BusOptions, MemoryBus, StartFrom};
//! use cadre_core::{AgentId, Envelope, Group, MessageKind, Recipient, Topic};
//!
//! let bus = MemoryBus::new(BusOptions::default());
//! let orders = Topic::new("orders")?;
//! let group = Group::new("execution")?;
//! bus.create_group(&orders, &group, StartFrom::Earliest).await?;
//!
//! let me = AgentId::new("desk")?;
//! let env = Envelope::builder(me.clone(), Recipient::Topic(orders.clone()), MessageKind::Event).build();
//! bus.publish(&orders, env).await?;
//!
//! let deliveries = bus.fetch(&orders, &group, &me, 10, Duration::ZERO).await?;
//! assert_eq!(deliveries.len(), 1);
//! bus.ack(&[deliveries[0].receipt()]).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod backend;
pub mod bench;
mod bus;
mod clock;
pub mod conformance;
mod consumer;
mod dead_letter;
mod engine;
mod options;
mod request;

pub use backend::memory::MemoryBus;
#[cfg(feature = "sqlite")]
pub use backend::sqlite::SqliteBus;
pub use bus::{
    Bus, ControlValue, Counters, Delivery, GroupInfo, PublishFuture, Published, ReadFrom, Receipt,
    StartFrom, Stored, StreamInfo,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use consumer::{Handled, TypedDelivery, decode_or_reject};
pub use dead_letter::{Attempt, DeadLetter, DeadReason, DlqFilter};
pub use options::BusOptions;
pub use request::request;
