//! The cadre agent runtime.
//!
//! This crate will host agents on a node over any bus backend (lifecycle, registry,
//! supervision, routing, worker pools). What it holds today is the allocation logic those parts
//! will drive:
//!
//! - [`contract_net`]: Contract Net task allocation (announce, bid, award, re-announce) as a
//!   pure state machine: an [`Auction`](contract_net::Auction) takes events and returns the
//!   actions to perform, so it is tested and benchmarked without a runtime.
//! - [`ResultCache`]: the same task (same capability and input) inside a TTL returns the stored
//!   outcome instead of running again.
#![warn(missing_docs)]

mod cache;
pub mod contract_net;

pub use cache::ResultCache;
