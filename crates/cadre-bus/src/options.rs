//! Bus tuning knobs.

use std::sync::Arc;
use std::time::Duration;

use cadre_core::Limits;

use crate::{Clock, SystemClock};

/// How a bus behaves. The defaults suit most crews.
#[derive(Debug, Clone)]
pub struct BusOptions {
    /// How long a delivery stays leased to its consumer before it may be redelivered.
    pub lease: Duration,
    /// After this many deliveries without an ack, a message is dead-lettered.
    pub max_deliveries: u32,
    /// Publishes with the same idempotency key inside this window are dropped.
    pub dedupe_window: Duration,
    /// The most unacknowledged deliveries one consumer may hold.
    pub max_in_flight_per_consumer: usize,
    /// The most unfinished messages one group may have; publishers wait beyond it.
    pub max_backlog: usize,
    /// How long a publisher waits for room before failing with `overloaded`.
    pub publish_timeout: Duration,
    /// A waiting lower-priority message is served after being passed over this many times.
    pub starvation_bound: u32,
    /// Finished messages kept in memory for replay (durable backends replay from disk).
    pub retention: usize,
    /// Size limits for envelopes.
    pub limits: Limits,
    /// The source of time.
    pub clock: Arc<dyn Clock>,
}

impl Default for BusOptions {
    /// The defaults of the `[bus]` configuration section (one source of truth).
    fn default() -> Self {
        Self::from_config(&cadre_core::config::BusConfig::default())
    }
}

impl BusOptions {
    /// Uses `clock` as the source of time.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Options from the `[bus]` section of the configuration.
    pub fn from_config(config: &cadre_core::config::BusConfig) -> Self {
        Self {
            lease: config.lease,
            max_deliveries: config.max_deliveries,
            dedupe_window: config.dedupe_window,
            max_in_flight_per_consumer: config.max_in_flight_per_consumer,
            max_backlog: config.max_backlog,
            publish_timeout: config.publish_timeout,
            starvation_bound: config.starvation_bound,
            retention: config.retention,
            limits: Limits::default(),
            clock: Arc::new(SystemClock),
        }
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }
}

pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
