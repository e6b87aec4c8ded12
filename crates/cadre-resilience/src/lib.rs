//! Resilience for calls to things that fail: retries with backoff and jitter, circuit
//! breakers, and timeouts, each usable alone or composed (retry around breaker around timeout
//! around the call) with [`Resilient`].
//!
//! Time comes from a [`Clock`] (the breaker) or tokio's clock (sleeps and timeouts), so tests run
//! in virtual time with no real sleeps; randomness (jitter) is seedable.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! use std::time::Duration;
//! use cadre_core::{Error, ErrorCode};
//! use cadre_resilience::{BreakerConfig, CircuitBreaker, Resilient, RetryPolicy};
//!
//! let breaker = CircuitBreaker::new("pricing-api", BreakerConfig::default());
//! let call = Resilient::new()
//!     .retry(RetryPolicy::default().with_seed(7))
//!     .breaker(breaker)
//!     .timeout(Duration::from_secs(2));
//!
//! let price = call
//!     .run(|attempt| async move {
//!         if attempt == 1 {
//!             return Err(Error::new(ErrorCode::Unavailable, "502 from upstream"));
//!         }
//!         Ok(101.5)
//!     })
//!     .await
//!     .unwrap();
//! assert_eq!(price, 101.5);
//! # }
//! ```
#![warn(missing_docs)]

mod breaker;
mod bulkhead;
mod clock;
mod compose;
mod layer;
mod pool;
mod rate_limit;
mod retry;
mod timeout;

pub use breaker::{
    BreakerConfig, BreakerEvent, BreakerRegistry, BreakerState, CircuitBreaker, Permit,
};
pub use bulkhead::Bulkhead;
pub use clock::{Clock, ManualClock, MonotonicClock};
pub use compose::Resilient;
pub use layer::{BulkheadLayer, BulkheadService, ResilientLayer, ResilientService};
pub use pool::{Manager, Pool, PoolConfig, PoolStatus, Pooled};
pub use rate_limit::RateLimiter;
pub use retry::{Attempt, Backoff, Jitter, RetryError, RetryPolicy};
pub use timeout::timeout;
