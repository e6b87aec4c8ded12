//! Token-bucket rate limits, per key.

use std::sync::Arc;
use std::time::Duration;

use cadre_core::{Error, ErrorCode};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::{Clock, MonotonicClock};

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Duration,
}

/// Allows `rate` calls per second per key on average, with bursts of up to `burst`.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: Arc<str>,
    rate: f64,
    burst: f64,
    clock: Arc<dyn Clock>,
    buckets: Mutex<FxHashMap<String, Bucket>>,
}

impl RateLimiter {
    /// `rate` tokens per second, at most `burst` saved up, per key.
    pub fn new(name: impl Into<Arc<str>>, rate: f64, burst: u32) -> Self {
        Self::with_clock(name, rate, burst, MonotonicClock::new())
    }

    /// The same, on `clock`.
    pub fn with_clock(name: impl Into<Arc<str>>, rate: f64, burst: u32, clock: impl Clock) -> Self {
        Self {
            inner: Arc::new(Inner {
                name: name.into(),
                rate: if rate.is_finite() && rate > 0.0 {
                    rate
                } else {
                    f64::MIN_POSITIVE
                },
                burst: f64::from(burst.max(1)),
                clock: Arc::new(clock),
                buckets: Mutex::new(FxHashMap::default()),
            }),
        }
    }

    /// Takes a token for `key` now, or says how long until one is free.
    ///
    /// # Errors
    /// `rate_limited` (retryable) naming the key and the wait.
    pub fn try_acquire(&self, key: &str) -> Result<(), Error> {
        match self.take(key) {
            Ok(()) => Ok(()),
            Err(wait) => {
                cadre_observe::metrics::counter!(
                    "cadre_rate_limited_total",
                    "limiter" => self.inner.name.to_string()
                )
                .increment(1);
                Err(Error::new(
                    ErrorCode::RateLimited,
                    format!(
                        "rate limit `{}` for `{key}`: next call allowed in {wait:?}",
                        self.inner.name
                    ),
                ))
            }
        }
    }

    /// Waits until a token for `key` is free, then takes it.
    pub async fn acquire(&self, key: &str) {
        while let Err(wait) = self.take(key) {
            tokio::time::sleep(wait).await;
        }
    }

    fn take(&self, key: &str) -> Result<(), Duration> {
        let inner = &*self.inner;
        let now = inner.clock.now();
        let mut buckets = inner.buckets.lock();
        let bucket = match buckets.get_mut(key) {
            Some(b) => b,
            None => buckets.entry(key.to_owned()).or_insert(Bucket {
                tokens: inner.burst,
                at: now,
            }),
        };
        let refill = now.saturating_sub(bucket.at).as_secs_f64() * inner.rate;
        bucket.tokens = (bucket.tokens + refill).min(inner.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / inner.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    #[test]
    fn bursts_then_holds_the_rate_per_key() {
        let clock = ManualClock::new();
        let rl = RateLimiter::with_clock("broker", 2.0, 3, clock.clone());
        for _ in 0..3 {
            rl.try_acquire("ACME").unwrap();
        }
        let err = rl.try_acquire("ACME").unwrap_err();
        assert_eq!(err.code(), ErrorCode::RateLimited);
        assert!(err.to_string().contains("500ms"), "{err}");
        // Another key has its own bucket.
        rl.try_acquire("INIT").unwrap();
        clock.advance(Duration::from_millis(500));
        rl.try_acquire("ACME").unwrap();
        assert!(rl.try_acquire("ACME").is_err());
        // A long pause saves up no more than the burst.
        clock.advance(Duration::from_secs(60));
        for _ in 0..3 {
            rl.try_acquire("ACME").unwrap();
        }
        assert!(rl.try_acquire("ACME").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_waits_for_the_next_token() {
        let rl = RateLimiter::new("api", 10.0, 1);
        let started = tokio::time::Instant::now();
        rl.acquire("k").await;
        rl.acquire("k").await;
        assert!(started.elapsed() >= Duration::from_millis(100));
    }
}
