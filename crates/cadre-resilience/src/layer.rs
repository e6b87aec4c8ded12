//! The same policies as tower layers, for services whose error is cadre's [`Error`].

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use cadre_core::Error;
use tower_layer::Layer;
use tower_service::Service;

use crate::{Bulkhead, Resilient};

/// Wraps a service in a [`Resilient`] policy: each request is retried (the request must be
/// `Clone`), guarded by the breaker and bounded by the timeout.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
/// use cadre_resilience::{Resilient, ResilientLayer, RetryPolicy};
/// use tower_layer::Layer;
/// use tower_service::Service;
///
/// #[derive(Clone)]
/// struct Echo;
/// impl Service<u32> for Echo {
///     type Response = u32;
///     type Error = cadre_core::Error;
///     type Future = std::future::Ready<Result<u32, cadre_core::Error>>;
///     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
///         std::task::Poll::Ready(Ok(()))
///     }
///     fn call(&mut self, req: u32) -> Self::Future { std::future::ready(Ok(req)) }
/// }
///
/// let policy = Resilient::new().retry(RetryPolicy::default()).timeout(Duration::from_secs(1));
/// let mut svc = ResilientLayer::new(policy).layer(Echo);
/// assert_eq!(svc.call(7).await.unwrap(), 7);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ResilientLayer {
    policy: Resilient,
}

impl ResilientLayer {
    /// A layer applying `policy`.
    pub fn new(policy: Resilient) -> Self {
        Self { policy }
    }
}

impl<S> Layer<S> for ResilientLayer {
    type Service = ResilientService<S>;
    fn layer(&self, inner: S) -> ResilientService<S> {
        ResilientService {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service made by [`ResilientLayer`].
#[derive(Debug, Clone)]
pub struct ResilientService<S> {
    inner: S,
    policy: Resilient,
}

impl<S, Req> Service<Req> for ResilientService<S>
where
    S: Service<Req, Error = Error> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send,
    Req: Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // Readiness is checked per attempt, on a clone, inside the policy.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let inner = self.inner.clone();
        let policy = self.policy.clone();
        Box::pin(async move {
            policy
                .run(move |_| {
                    let mut svc = inner.clone();
                    let req = req.clone();
                    async move {
                        poll_fn(|cx| svc.poll_ready(cx)).await?;
                        svc.call(req).await
                    }
                })
                .await
        })
    }
}

/// Wraps a service in a [`Bulkhead`].
#[derive(Debug, Clone)]
pub struct BulkheadLayer {
    bulkhead: Bulkhead,
}

impl BulkheadLayer {
    /// A layer sharing `bulkhead` between every service it wraps.
    pub fn new(bulkhead: Bulkhead) -> Self {
        Self { bulkhead }
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = BulkheadService<S>;
    fn layer(&self, inner: S) -> BulkheadService<S> {
        BulkheadService {
            inner,
            bulkhead: self.bulkhead.clone(),
        }
    }
}

/// The service made by [`BulkheadLayer`].
#[derive(Debug, Clone)]
pub struct BulkheadService<S> {
    inner: S,
    bulkhead: Bulkhead,
}

impl<S, Req> Service<Req> for BulkheadService<S>
where
    S: Service<Req, Error = Error> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send,
    Req: Send + 'static,
{
    type Response = S::Response;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        // The ready service answers this request; a fresh clone waits for the next one.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let bulkhead = self.bulkhead.clone();
        Box::pin(async move { bulkhead.call(ready.call(req)).await })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use cadre_core::ErrorCode;

    use super::*;
    use crate::{BreakerConfig, CircuitBreaker, RetryPolicy};

    /// Fails the first `fail` calls with a retryable error.
    #[derive(Clone)]
    struct Flaky {
        calls: Arc<AtomicU32>,
        fail: u32,
    }

    impl Service<&'static str> for Flaky {
        type Response = String;
        type Error = Error;
        type Future = std::future::Ready<Result<String, Error>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, req: &'static str) -> Self::Future {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            std::future::ready(if n <= self.fail {
                Err(Error::new(ErrorCode::Unavailable, "try later"))
            } else {
                Ok(format!("{req}#{n}"))
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_layer_retries_through_the_breaker() {
        let calls = Arc::new(AtomicU32::new(0));
        let breaker = CircuitBreaker::new("svc", BreakerConfig::default());
        let policy = Resilient::new()
            .retry(RetryPolicy::default().with_seed(3))
            .breaker(breaker.clone())
            .timeout(Duration::from_secs(1));
        let mut svc = ResilientLayer::new(policy).layer(Flaky {
            calls: Arc::clone(&calls),
            fail: 2,
        });
        assert_eq!(svc.call("quote").await.unwrap(), "quote#3");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let mut always = ResilientLayer::new(
            Resilient::new().retry(RetryPolicy::default().with_max_attempts(2).with_seed(1)),
        )
        .layer(Flaky {
            calls: Arc::new(AtomicU32::new(0)),
            fail: 10,
        });
        let err = always.call("x").await.unwrap_err();
        assert!(err.to_string().starts_with("after 2 attempts"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_bulkhead_layer_refuses_past_its_capacity() {
        let bulkhead = Bulkhead::new("svc", 1, 0, Duration::from_millis(10));
        let mut svc = BulkheadLayer::new(bulkhead.clone()).layer(Flaky {
            calls: Arc::new(AtomicU32::new(0)),
            fail: 0,
        });
        assert!(svc.call("a").await.is_ok());
        let hold = bulkhead.call(std::future::pending::<Result<(), Error>>());
        tokio::pin!(hold);
        // Start the holder so it takes the only slot.
        assert!(futures_poll_once(hold.as_mut()).await.is_none());
        let err = svc.call("b").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Overloaded);
    }

    async fn futures_poll_once<F: Future + Unpin>(mut f: F) -> Option<F::Output> {
        poll_fn(|cx| match Pin::new(&mut f).poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => Poll::Ready(None),
        })
        .await
    }
}
