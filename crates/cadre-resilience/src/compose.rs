//! Retry around breaker around timeout around the call.

use std::future::Future;
use std::time::Duration;

use cadre_core::Error;

use crate::{CircuitBreaker, RetryPolicy};

/// A composed call policy: each attempt goes through the breaker (if any) and the timeout (if
/// any); failed attempts are retried by the policy (if any). A refusal by an open breaker is
/// retryable, so retries wait out the backoff rather than hammering a tripped downstream.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Resilient {
    retry: Option<RetryPolicy>,
    breaker: Option<CircuitBreaker>,
    timeout: Option<Duration>,
}

impl Resilient {
    /// No retry, breaker or timeout yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Retries with `policy`.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Guards each attempt with `breaker`.
    pub fn breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Bounds each attempt by `limit`.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    async fn attempt<T, Fut>(&self, fut: Fut) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, Error>>,
    {
        match (&self.breaker, self.timeout) {
            (Some(b), Some(limit)) => b.call(crate::timeout(limit, fut)).await,
            (Some(b), None) => b.call(fut).await,
            (None, Some(limit)) => crate::timeout(limit, fut).await,
            (None, None) => fut.await,
        }
    }

    /// Runs `op` (given the attempt number, from 1) under the policy.
    ///
    /// # Errors
    /// The last attempt's error, with the number of attempts as context when retries ran.
    pub async fn run<T, F, Fut>(&self, mut op: F) -> Result<T, Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        match &self.retry {
            Some(policy) => policy
                .run(|n| self.attempt(op(n)))
                .await
                .map_err(Error::from),
            None => self.attempt(op(1)).await,
        }
    }
}
