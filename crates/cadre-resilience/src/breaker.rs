//! Circuit breakers: stop calling a downstream that keeps failing, probe it after a cool-down.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use cadre_core::{Error, ErrorCode};
use parking_lot::RwLock;
use rustc_hash::FxHashMap;
use tokio::sync::broadcast;

use crate::{Clock, MonotonicClock};

/// The state of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls go through; failures are counted.
    Closed,
    /// Calls are refused until the cool-down has passed.
    Open,
    /// A limited number of probe calls go through; their outcome closes or reopens it.
    HalfOpen,
}

impl BreakerState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Closed,
            1 => Self::Open,
            _ => Self::HalfOpen,
        }
    }

    /// The lower-case name (`closed`, `open`, `half_open`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a breaker opens and how it recovers.
#[derive(Debug, Clone)]
pub struct BreakerConfig {
    /// Opens after this many failures in a row.
    pub consecutive_failures: u32,
    /// Opens when at least this share (0 to 1) of the last `window` calls failed...
    pub failure_rate: f64,
    /// ...over this many most recent calls...
    pub window: usize,
    /// ...once at least this many calls have been made.
    pub min_calls: usize,
    /// How long it stays open before letting probes through.
    pub cool_down: Duration,
    /// Probe calls let through while half-open; all must succeed to close it.
    pub half_open_probes: u32,
    /// Which errors count as failures of the downstream (default: retryable ones; bad input is
    /// the caller's fault, not the downstream's).
    pub is_failure: fn(&Error) -> bool,
    /// The source of time.
    pub clock: Arc<dyn Clock>,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            failure_rate: 0.5,
            window: 20,
            min_calls: 10,
            cool_down: Duration::from_secs(30),
            half_open_probes: 1,
            is_failure: Error::is_retryable,
            clock: Arc::new(MonotonicClock::new()),
        }
    }
}

impl BreakerConfig {
    /// Uses `clock` as the source of time.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }
}

/// A state change, sent to [`CircuitBreaker::subscribe`]rs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerEvent {
    /// The breaker.
    pub breaker: Arc<str>,
    /// The state before.
    pub from: BreakerState,
    /// The state after.
    pub to: BreakerState,
    /// When, on the breaker's clock.
    pub at: Duration,
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

#[derive(Debug)]
struct Inner {
    name: Arc<str>,
    config: BreakerConfig,
    state: AtomicU8,
    consecutive: AtomicU32,
    window: Box<[AtomicU8]>,
    pos: AtomicUsize,
    calls: AtomicUsize,
    failures: AtomicUsize,
    opened_at: AtomicU64,
    probes_admitted: AtomicU32,
    probes_succeeded: AtomicU32,
    events: broadcast::Sender<BreakerEvent>,
}

/// A circuit breaker for one downstream. Cheap to clone; clones share the state.
///
/// The closed path is lock-free: an admission is one atomic load, a recorded success two
/// atomic read-modify-writes.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

/// Permission to make one call; report how it went with [`Permit::success`] or
/// [`Permit::failure`]. Dropping it unreported records nothing (a cancelled call says nothing
/// about the downstream) and frees a probe slot.
#[derive(Debug)]
#[must_use = "report the call's outcome with success() or failure()"]
pub struct Permit {
    breaker: Arc<Inner>,
    probe: bool,
    reported: bool,
}

impl Permit {
    /// The call succeeded.
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.record(true, self.probe);
    }

    /// The call failed.
    pub fn failure(mut self) {
        self.reported = true;
        self.breaker.record(false, self.probe);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.reported && self.probe {
            self.breaker.probes_admitted.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Inner {
    fn now(&self) -> Duration {
        self.config.clock.now()
    }

    fn transition(&self, from: u8, to: u8) -> bool {
        if self
            .state
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        let at = self.now();
        let (from, to) = (BreakerState::from_u8(from), BreakerState::from_u8(to));
        tracing::info!(breaker = %self.name, %from, %to, "circuit breaker state changed");
        let metrics_name = self.name.to_string();
        cadre_observe::metrics::counter!(
            "cadre_breaker_transitions_total",
            "breaker" => metrics_name.clone(),
            "to" => to.as_str()
        )
        .increment(1);
        cadre_observe::metrics::gauge!("cadre_breaker_state", "breaker" => metrics_name)
            .set(f64::from(self.state.load(Ordering::Acquire)));
        let _ = self.events.send(BreakerEvent {
            breaker: Arc::clone(&self.name),
            from,
            to,
            at,
        });
        true
    }

    fn open(&self, from: u8) {
        // Set the time first: a reader that sees Open must see when.
        self.opened_at.store(nanos(self.now()), Ordering::Release);
        self.transition(from, OPEN);
    }

    fn reset_counts(&self) {
        for slot in self.window.iter() {
            slot.store(0, Ordering::Relaxed);
        }
        self.failures.store(0, Ordering::Relaxed);
        self.calls.store(0, Ordering::Relaxed);
        self.consecutive.store(0, Ordering::Relaxed);
    }

    fn push(&self, failed: bool) -> (usize, usize) {
        let n = self.window.len();
        let i = self.pos.fetch_add(1, Ordering::Relaxed) % n;
        let new = u8::from(failed);
        let old = self.window[i].swap(new, Ordering::AcqRel);
        let failures = match (old, new) {
            (0, 1) => self.failures.fetch_add(1, Ordering::AcqRel) + 1,
            (1, 0) => self
                .failures
                .fetch_sub(1, Ordering::AcqRel)
                .saturating_sub(1),
            _ => self.failures.load(Ordering::Acquire),
        };
        let calls = if self.calls.load(Ordering::Relaxed) < n {
            self.calls.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            n
        };
        (failures, calls.min(n))
    }

    fn record(&self, ok: bool, probe: bool) {
        if probe {
            if ok {
                let done = self.probes_succeeded.fetch_add(1, Ordering::AcqRel) + 1;
                if done >= self.config.half_open_probes {
                    self.reset_counts();
                    self.transition(HALF_OPEN, CLOSED);
                }
            } else {
                self.open(HALF_OPEN);
            }
            return;
        }
        if ok {
            if self.consecutive.load(Ordering::Relaxed) != 0 {
                self.consecutive.store(0, Ordering::Relaxed);
            }
            self.push(false);
            return;
        }
        let in_a_row = self.consecutive.fetch_add(1, Ordering::AcqRel) + 1;
        let (failures, calls) = self.push(true);
        let rate_tripped = calls >= self.config.min_calls.max(1)
            && failures as f64 >= self.config.failure_rate * calls as f64;
        if (in_a_row >= self.config.consecutive_failures || rate_tripped)
            && self.state.load(Ordering::Acquire) == CLOSED
        {
            self.open(CLOSED);
        }
    }
}

impl CircuitBreaker {
    /// A closed breaker named `name` (the downstream it protects).
    pub fn new(name: impl Into<Arc<str>>, config: BreakerConfig) -> Self {
        let window = config.window.max(1);
        Self {
            inner: Arc::new(Inner {
                name: name.into(),
                window: (0..window).map(|_| AtomicU8::new(0)).collect(),
                config,
                state: AtomicU8::new(CLOSED),
                consecutive: AtomicU32::new(0),
                pos: AtomicUsize::new(0),
                calls: AtomicUsize::new(0),
                failures: AtomicUsize::new(0),
                opened_at: AtomicU64::new(0),
                probes_admitted: AtomicU32::new(0),
                probes_succeeded: AtomicU32::new(0),
                events: broadcast::channel(64).0,
            }),
        }
    }

    /// The downstream's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The current state (an open breaker whose cool-down has passed still reads `Open` until
    /// the next call turns it half-open).
    pub fn state(&self) -> BreakerState {
        BreakerState::from_u8(self.inner.state.load(Ordering::Acquire))
    }

    /// State changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<BreakerEvent> {
        self.inner.events.subscribe()
    }

    /// Asks to make a call.
    ///
    /// # Errors
    /// [`ErrorCode::CircuitOpen`] (retryable) while open, or while half-open with every probe
    /// slot taken.
    pub fn try_acquire(&self) -> Result<Permit, Error> {
        let inner = &self.inner;
        let mut state = inner.state.load(Ordering::Acquire);
        if state == CLOSED {
            return Ok(Permit {
                breaker: Arc::clone(inner),
                probe: false,
                reported: false,
            });
        }
        if state == OPEN {
            let opened = Duration::from_nanos(inner.opened_at.load(Ordering::Acquire));
            let now = inner.now();
            let open_for = now.saturating_sub(opened);
            if open_for < inner.config.cool_down {
                return Err(self.refuse(format!(
                    "circuit `{}` is open; next probe in {:?}",
                    inner.name,
                    inner.config.cool_down - open_for
                )));
            }
            inner.probes_admitted.store(0, Ordering::Release);
            inner.probes_succeeded.store(0, Ordering::Release);
            inner.transition(OPEN, HALF_OPEN);
            state = inner.state.load(Ordering::Acquire);
            if state == CLOSED {
                return self.try_acquire();
            }
        }
        if state == HALF_OPEN {
            let n = inner.probes_admitted.fetch_add(1, Ordering::AcqRel);
            if n < inner.config.half_open_probes {
                return Ok(Permit {
                    breaker: Arc::clone(inner),
                    probe: true,
                    reported: false,
                });
            }
            inner.probes_admitted.fetch_sub(1, Ordering::AcqRel);
        }
        Err(self.refuse(format!(
            "circuit `{}` is {}; waiting for probe results",
            inner.name,
            self.state()
        )))
    }

    fn refuse(&self, message: String) -> Error {
        cadre_observe::metrics::counter!(
            "cadre_breaker_rejected_total",
            "breaker" => self.inner.name.to_string()
        )
        .increment(1);
        Error::new(ErrorCode::CircuitOpen, message)
    }

    /// Runs `call` if the breaker lets it through and records its outcome (an error counts as a
    /// failure when [`BreakerConfig::is_failure`] says so).
    ///
    /// # Errors
    /// `circuit_open` when refused; otherwise the call's own error.
    pub async fn call<T, F>(&self, call: F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let inner = &*self.inner;
        if inner.state.load(Ordering::Acquire) != CLOSED {
            // The slow path: a permit that frees its probe slot if the call is cancelled.
            let permit = self.try_acquire()?;
            return match call.await {
                Ok(value) => {
                    permit.success();
                    Ok(value)
                }
                Err(e) => {
                    if (inner.config.is_failure)(&e) {
                        permit.failure();
                    } else {
                        permit.success();
                    }
                    Err(e)
                }
            };
        }
        // Closed: no permit object, nothing to undo if cancelled.
        let result = call.await;
        let ok = match &result {
            Ok(_) => true,
            Err(e) => !(inner.config.is_failure)(e),
        };
        inner.record(ok, false);
        result
    }
}

/// One breaker per downstream, created on first use with a shared configuration.
#[derive(Debug)]
pub struct BreakerRegistry {
    config: BreakerConfig,
    breakers: RwLock<FxHashMap<Arc<str>, CircuitBreaker>>,
}

impl BreakerRegistry {
    /// An empty registry; new breakers get `config`.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            breakers: RwLock::new(FxHashMap::default()),
        }
    }

    /// The breaker for `downstream`, created if needed.
    pub fn get(&self, downstream: &str) -> CircuitBreaker {
        if let Some(b) = self.breakers.read().get(downstream) {
            return b.clone();
        }
        self.breakers
            .write()
            .entry(Arc::from(downstream))
            .or_insert_with(|| CircuitBreaker::new(downstream, self.config.clone()))
            .clone()
    }

    /// Every breaker's state, sorted by name.
    pub fn states(&self) -> Vec<(String, BreakerState)> {
        let mut out: Vec<_> = self
            .breakers
            .read()
            .values()
            .map(|b| (b.name().to_string(), b.state()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    fn breaker(clock: &ManualClock) -> CircuitBreaker {
        CircuitBreaker::new(
            "exchange",
            BreakerConfig {
                consecutive_failures: 3,
                failure_rate: 0.5,
                window: 10,
                min_calls: 6,
                cool_down: Duration::from_secs(10),
                half_open_probes: 2,
                ..BreakerConfig::default()
            }
            .with_clock(clock.clone()),
        )
    }

    #[test]
    fn opens_on_consecutive_failures_then_probes_and_closes() {
        let clock = ManualClock::new();
        let b = breaker(&clock);
        let mut events = b.subscribe();
        for _ in 0..3 {
            b.try_acquire().unwrap().failure();
        }
        assert_eq!(b.state(), BreakerState::Open);
        let err = b.try_acquire().unwrap_err();
        assert_eq!(err.code(), ErrorCode::CircuitOpen);
        assert!(err.is_retryable());
        clock.advance(Duration::from_secs(10));
        let p1 = b.try_acquire().unwrap();
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let p2 = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_err(), "only two probes");
        p1.success();
        assert_eq!(b.state(), BreakerState::HalfOpen);
        p2.success();
        assert_eq!(b.state(), BreakerState::Closed);
        let seen: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
            .map(|e| (e.from, e.to))
            .collect();
        assert_eq!(
            seen,
            [
                (BreakerState::Closed, BreakerState::Open),
                (BreakerState::Open, BreakerState::HalfOpen),
                (BreakerState::HalfOpen, BreakerState::Closed)
            ]
        );
    }

    #[test]
    fn opens_on_failure_rate_over_the_window_with_a_minimum_of_calls() {
        let clock = ManualClock::new();
        let b = breaker(&clock);
        // Alternate: never 3 in a row, but half of the calls fail.
        for i in 0..5 {
            let p = b.try_acquire().unwrap();
            if i % 2 == 0 { p.success() } else { p.failure() }
        }
        assert_eq!(
            b.state(),
            BreakerState::Closed,
            "5 calls is under min_calls"
        );
        b.try_acquire().unwrap().failure();
        assert_eq!(b.state(), BreakerState::Open, "3 of 6 failed");
    }

    #[test]
    fn a_failed_probe_reopens_and_a_dropped_probe_frees_its_slot() {
        let clock = ManualClock::new();
        let b = breaker(&clock);
        for _ in 0..3 {
            b.try_acquire().unwrap().failure();
        }
        clock.advance(Duration::from_secs(10));
        let p = b.try_acquire().unwrap();
        drop(b.try_acquire().unwrap()); // cancelled probe
        let again = b.try_acquire().unwrap();
        p.failure();
        assert_eq!(b.state(), BreakerState::Open);
        drop(again);
        assert!(b.try_acquire().is_err(), "cool-down starts again");
    }

    #[tokio::test]
    async fn bad_input_does_not_count_against_the_downstream() {
        let clock = ManualClock::new();
        let b = breaker(&clock);
        for _ in 0..10 {
            let r: Result<(), _> = b
                .call(async { Err(Error::invalid_input("bad order")) })
                .await;
            assert!(r.is_err());
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn registry_keeps_one_breaker_per_downstream() {
        let reg = BreakerRegistry::new(BreakerConfig::default());
        let a = reg.get("broker");
        let again = reg.get("broker");
        for _ in 0..5 {
            a.try_acquire().unwrap().failure();
        }
        assert_eq!(again.state(), BreakerState::Open);
        reg.get("llm");
        assert_eq!(
            reg.states(),
            [
                ("broker".to_string(), BreakerState::Open),
                ("llm".to_string(), BreakerState::Closed)
            ]
        );
    }
}
