//! Retry with exponential backoff, jitter and an overall deadline.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use cadre_core::{Error, ErrorCode};

/// How the exponential delay is randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// No randomness: `base * 2^(n-1)`, capped.
    None,
    /// "Full jitter": uniform in `[0, base * 2^(n-1)]`, capped. Spreads retries of many
    /// clients the most.
    Full,
    /// "Decorrelated jitter": uniform in `[base, 3 * previous delay]`, capped.
    Decorrelated,
}

/// When and how often to retry.
///
/// The defaults follow the system contract: 3 attempts, base delay 1 s, full jitter, at most
/// 30 s between attempts, no overall deadline. Only errors marked retryable
/// ([`Error::is_retryable`]) are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    max_attempts: u32,
    base: Duration,
    max_delay: Duration,
    deadline: Option<Duration>,
    jitter: Jitter,
    seed: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            deadline: None,
            jitter: Jitter::Full,
            seed: None,
        }
    }
}

impl RetryPolicy {
    /// Sets the number of attempts, the first included (at least 1).
    #[must_use]
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Sets the base delay.
    #[must_use]
    pub fn with_base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// Caps every delay.
    #[must_use]
    pub fn with_max_delay(mut self, max: Duration) -> Self {
        self.max_delay = max;
        self
    }

    /// Gives up when the next delay would end past `deadline` after the first attempt started.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the jitter.
    #[must_use]
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Makes the jitter repeatable.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The number of attempts.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The delays this policy would wait between attempts.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            base: self.base,
            max: self.max_delay,
            jitter: self.jitter,
            rng: match self.seed {
                Some(seed) => fastrand::Rng::with_seed(seed),
                None => fastrand::Rng::new(),
            },
            retry: 0,
            previous: self.base,
        }
    }

    /// Runs `op` (given the attempt number, from 1) until it succeeds, fails with an error that
    /// is not retryable, runs out of attempts, or the next delay would pass the deadline.
    ///
    /// # Errors
    /// [`RetryError`]: the last error and every attempt.
    pub async fn run<T, F, Fut>(&self, mut op: F) -> Result<T, RetryError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        // The first attempt usually succeeds: clock reads and the random generator wait until
        // it does not (with a deadline, the clock starts before it).
        let mut started = self.deadline.map(|_| tokio::time::Instant::now());
        let mut backoff: Option<Backoff> = None;
        let mut attempts = Vec::new();
        let mut attempt = 1;
        loop {
            let began = started.map(|s| s.elapsed()).unwrap_or_default();
            let error = match op(attempt).await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let started = *started.get_or_insert_with(tokio::time::Instant::now);
            let backoff = backoff.get_or_insert_with(|| self.backoff());
            let give_up = if !error.is_retryable() {
                Some(GiveUp::NotRetryable)
            } else if attempt >= self.max_attempts {
                Some(GiveUp::Attempts)
            } else {
                None
            };
            let delay = match give_up {
                Some(_) => None,
                None => Some(backoff.next_delay()),
            };
            let give_up = give_up.or_else(|| {
                let deadline = self.deadline?;
                let next_start = started.elapsed() + delay.unwrap_or_default();
                (next_start > deadline).then_some(GiveUp::Deadline)
            });
            attempts.push(Attempt {
                attempt,
                started_after: began,
                error: error.clone(),
                delay: if give_up.is_some() { None } else { delay },
            });
            cadre_observe::metrics::counter!("cadre_retry_attempts_total").increment(1);
            if let Some(reason) = give_up {
                return Err(RetryError {
                    error,
                    attempts,
                    reason,
                });
            }
            cadre_observe::metrics::counter!("cadre_retries_total").increment(1);
            let delay = delay.unwrap_or_default();
            tracing::debug!(attempt, ?delay, error = %error, "retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

/// The delays between attempts (an endless iterator; the policy decides when to stop).
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    jitter: Jitter,
    rng: fastrand::Rng,
    retry: u32,
    previous: Duration,
}

impl Backoff {
    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        self.retry = self.retry.saturating_add(1);
        let exp = self
            .base
            .checked_mul(1u32.checked_shl(self.retry - 1).unwrap_or(u32::MAX))
            .unwrap_or(self.max)
            .min(self.max);
        let delay = match self.jitter {
            Jitter::None => exp,
            Jitter::Full => exp.mul_f64(self.rng.f64()),
            Jitter::Decorrelated => {
                let low = self.base.as_secs_f64();
                let high = (self.previous.as_secs_f64() * 3.0).max(low);
                Duration::from_secs_f64(low + self.rng.f64() * (high - low)).min(self.max)
            }
        };
        self.previous = delay.max(self.base);
        delay.min(self.max)
    }
}

impl Iterator for Backoff {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        Some(self.next_delay())
    }
}

/// One failed attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// 1 for the first.
    pub attempt: u32,
    /// When it started, after the first attempt started (without a deadline, after the first
    /// attempt ended: the first attempt's own duration is not timed).
    pub started_after: Duration,
    /// What it failed with.
    pub error: Error,
    /// The wait before the next attempt; `None` for the last.
    pub delay: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GiveUp {
    NotRetryable,
    Attempts,
    Deadline,
}

/// Retrying gave up: the last error and the history of every attempt.
#[derive(Debug, Clone)]
pub struct RetryError {
    /// The last error.
    pub error: Error,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
    reason: GiveUp,
}

impl RetryError {
    /// Whether retrying stopped because the error was not retryable.
    pub fn not_retryable(&self) -> bool {
        self.reason == GiveUp::NotRetryable
    }

    /// Whether retrying stopped because the deadline would have passed.
    pub fn deadline_passed(&self) -> bool {
        self.reason == GiveUp::Deadline
    }
}

impl fmt::Display for RetryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.reason {
            GiveUp::NotRetryable => "not retryable",
            GiveUp::Attempts => "out of attempts",
            GiveUp::Deadline => "deadline reached",
        };
        write!(
            f,
            "gave up after {} attempt{} ({why}): {}",
            self.attempts.len(),
            if self.attempts.len() == 1 { "" } else { "s" },
            self.error
        )
    }
}

impl std::error::Error for RetryError {}

impl From<RetryError> for Error {
    /// The last error, with the number of attempts as context; retryable only if the last error
    /// was and attempts ran out (a later caller may try again).
    fn from(e: RetryError) -> Self {
        let n = e.attempts.len();
        let retryable = e.error.is_retryable() && e.reason != GiveUp::NotRetryable;
        e.error.with_retryable(retryable).context(format!(
            "after {n} attempt{}",
            if n == 1 { "" } else { "s" }
        ))
    }
}

impl RetryError {
    /// The code of the last error.
    pub fn code(&self) -> ErrorCode {
        self.error.code()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn flaky(
        fail_times: u32,
        code: ErrorCode,
    ) -> (AtomicU32, impl Fn(&AtomicU32) -> Result<u32, Error>) {
        (AtomicU32::new(0), move |calls: &AtomicU32| {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= fail_times {
                Err(Error::new(code, format!("failure {n}")))
            } else {
                Ok(n)
            }
        })
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_failures_with_growing_delays() {
        let (calls, op) = flaky(2, ErrorCode::Unavailable);
        let policy = RetryPolicy::default().with_jitter(Jitter::None);
        let started = tokio::time::Instant::now();
        let value = policy.run(|_| async { op(&calls) }).await.unwrap();
        assert_eq!(value, 3);
        // 1 s then 2 s of virtual time.
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_with_the_history_after_max_attempts() {
        let (calls, op) = flaky(10, ErrorCode::Timeout);
        let err = RetryPolicy::default()
            .with_seed(1)
            .run(|_| async { op(&calls) })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(err.attempts.len(), 3);
        assert_eq!(err.attempts[2].delay, None);
        assert!(err.attempts[0].delay.is_some());
        assert!(err.to_string().contains("out of attempts"), "{err}");
        assert!(err.error.to_string().contains("failure 3"));
        let as_error: Error = err.into();
        assert!(
            as_error.to_string().starts_with("after 3 attempts"),
            "{as_error}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn never_retries_what_is_not_retryable() {
        let (calls, op) = flaky(10, ErrorCode::InvalidInput);
        let err = RetryPolicy::default()
            .run(|_| async { op(&calls) })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(err.not_retryable());
        let as_error: Error = err.into();
        assert!(!as_error.is_retryable());
    }

    #[tokio::test(start_paused = true)]
    async fn stops_before_the_deadline() {
        let (calls, op) = flaky(100, ErrorCode::Unavailable);
        let policy = RetryPolicy::default()
            .with_max_attempts(100)
            .with_jitter(Jitter::None)
            .with_deadline(Duration::from_secs(10));
        let started = tokio::time::Instant::now();
        let err = policy.run(|_| async { op(&calls) }).await.unwrap_err();
        assert!(err.deadline_passed());
        // Delays 1 + 2 + 4 = 7 s; the next (8 s) would end at 15 s > 10 s.
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert!(started.elapsed() <= Duration::from_secs(10));
    }

    #[test]
    fn seeded_jitter_repeats() {
        let a: Vec<_> = RetryPolicy::default()
            .with_seed(42)
            .backoff()
            .take(5)
            .collect();
        let b: Vec<_> = RetryPolicy::default()
            .with_seed(42)
            .backoff()
            .take(5)
            .collect();
        assert_eq!(a, b);
        let none: Vec<_> = RetryPolicy::default()
            .with_jitter(Jitter::None)
            .backoff()
            .take(6)
            .collect();
        let secs: Vec<u64> = none.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30]);
    }
}
