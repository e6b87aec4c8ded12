//! Bulkheads: a cap on concurrent calls to one downstream, with a bounded queue.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cadre_core::{Error, ErrorCode};
use tokio::sync::Semaphore;

/// At most `max_concurrent` calls run at once; up to `max_queue` more wait (at most
/// `max_wait`); beyond that calls are refused with the retryable `overloaded` error at once,
/// so a slow downstream cannot tie up every task of the caller.
#[derive(Debug, Clone)]
pub struct Bulkhead {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: Arc<str>,
    permits: Semaphore,
    max_concurrent: usize,
    max_queue: usize,
    max_wait: Duration,
    waiting: AtomicUsize,
}

impl Bulkhead {
    /// A bulkhead named after its downstream.
    pub fn new(
        name: impl Into<Arc<str>>,
        max_concurrent: usize,
        max_queue: usize,
        max_wait: Duration,
    ) -> Self {
        let max_concurrent = max_concurrent.max(1);
        Self {
            inner: Arc::new(Inner {
                name: name.into(),
                permits: Semaphore::new(max_concurrent),
                max_concurrent,
                max_queue,
                max_wait,
                waiting: AtomicUsize::new(0),
            }),
        }
    }

    /// Calls running now.
    pub fn in_use(&self) -> usize {
        self.inner.max_concurrent - self.inner.permits.available_permits()
    }

    /// Calls waiting for a slot.
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::Acquire)
    }

    fn gauges(&self) {
        let name = self.inner.name.to_string();
        cadre_observe::metrics::gauge!("cadre_bulkhead_in_use", "bulkhead" => name.clone())
            .set(self.in_use() as f64);
        cadre_observe::metrics::gauge!("cadre_bulkhead_waiting", "bulkhead" => name)
            .set(self.waiting() as f64);
    }

    fn reject(&self, why: &str) -> Error {
        cadre_observe::metrics::counter!(
            "cadre_bulkhead_rejected_total",
            "bulkhead" => self.inner.name.to_string()
        )
        .increment(1);
        Error::new(
            ErrorCode::Overloaded,
            format!("bulkhead `{}` {why}", self.inner.name),
        )
    }

    /// Runs `call` when a slot is free.
    ///
    /// # Errors
    /// `overloaded` when the queue is full or no slot freed up within `max_wait`; otherwise the
    /// call's own error.
    pub async fn call<T, F>(&self, call: F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let inner = &*self.inner;
        let _permit = match inner.permits.try_acquire() {
            Ok(p) => p,
            Err(_) => {
                let queued = inner.waiting.fetch_add(1, Ordering::AcqRel);
                if queued >= inner.max_queue {
                    inner.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(self.reject(&format!(
                        "is full: {} running, {queued} waiting",
                        inner.max_concurrent
                    )));
                }
                self.gauges();
                let got = tokio::time::timeout(inner.max_wait, inner.permits.acquire()).await;
                inner.waiting.fetch_sub(1, Ordering::AcqRel);
                match got {
                    Ok(Ok(p)) => p,
                    Ok(Err(_)) => return Err(Error::internal("bulkhead semaphore closed")),
                    Err(_) => {
                        return Err(
                            self.reject(&format!("had no free slot within {:?}", inner.max_wait))
                        );
                    }
                }
            }
        };
        self.gauges();
        let result = call.await;
        drop(_permit);
        self.gauges();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn caps_concurrency_queues_a_few_and_refuses_the_rest() {
        let b = Bulkhead::new("db", 2, 1, Duration::from_secs(1));
        let (release, gate) = tokio::sync::watch::channel(false);
        let mut running = Vec::new();
        for _ in 0..3 {
            let b = b.clone();
            let mut gate = gate.clone();
            running.push(tokio::spawn(async move {
                b.call(async move {
                    gate.wait_for(|open| *open).await.unwrap();
                    Ok::<_, Error>(())
                })
                .await
            }));
        }
        // Let the three tasks reach the bulkhead: two run, one waits.
        while b.in_use() < 2 || b.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        let err = b.call(async { Ok::<_, Error>(()) }).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Overloaded);
        assert!(err.is_retryable());
        assert!(err.to_string().contains("is full"), "{err}");
        release.send(true).unwrap();
        for t in running {
            t.await.unwrap().unwrap();
        }
        assert_eq!(b.in_use(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_gives_up_after_max_wait() {
        let b = Bulkhead::new("slow", 1, 5, Duration::from_millis(100));
        let (_hold, gate) = tokio::sync::watch::channel(false);
        let blocker = {
            let b = b.clone();
            let mut gate = gate.clone();
            tokio::spawn(async move {
                b.call(async move {
                    let _ = gate.wait_for(|open| *open).await;
                    Ok::<_, Error>(())
                })
                .await
            })
        };
        while b.in_use() < 1 {
            tokio::task::yield_now().await;
        }
        let err = b.call(async { Ok::<_, Error>(()) }).await.unwrap_err();
        assert!(err.to_string().contains("within 100ms"), "{err}");
        blocker.abort();
    }
}
