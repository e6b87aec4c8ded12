//! A generic resource pool: connections, clients, sessions.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cadre_core::{Error, ErrorCode};
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{Clock, MonotonicClock};

/// Creates and checks the resources of a [`Pool`].
pub trait Manager: Send + Sync + 'static {
    /// What the pool hands out.
    type Resource: Send + 'static;

    /// Makes a new resource.
    fn create(&self) -> impl Future<Output = Result<Self::Resource, Error>> + Send;

    /// Whether an idle resource may be handed out again (a ping, a cheap query). A resource
    /// that fails is dropped and never handed out.
    fn is_healthy(&self, resource: &mut Self::Resource) -> impl Future<Output = bool> + Send;
}

/// Sizes and timeouts of a [`Pool`].
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Idle resources kept even when unused (created by [`Pool::fill`]).
    pub min_size: usize,
    /// The most resources alive at once, idle or in use.
    pub max_size: usize,
    /// Idle resources beyond `min_size` unused for this long are dropped.
    pub idle_timeout: Duration,
    /// How long [`Pool::get`] waits for a resource before failing.
    pub checkout_timeout: Duration,
    /// The source of time.
    pub clock: Arc<dyn Clock>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            min_size: 0,
            max_size: 10,
            idle_timeout: Duration::from_secs(300),
            checkout_timeout: Duration::from_secs(5),
            clock: Arc::new(MonotonicClock::new()),
        }
    }
}

/// Counts of a pool, at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Resources alive (idle + in use).
    pub size: usize,
    /// Resources waiting in the pool.
    pub idle: usize,
    /// Resources handed out.
    pub in_use: usize,
    /// Callers waiting for one.
    pub waiters: usize,
}

struct Inner<M: Manager> {
    name: Arc<str>,
    manager: M,
    config: PoolConfig,
    idle: Mutex<VecDeque<(M::Resource, Duration)>>,
    slots: Arc<Semaphore>,
    size: AtomicUsize,
    waiters: AtomicUsize,
}

/// A pool of resources made by a [`Manager`]. Cheap to clone.
pub struct Pool<M: Manager> {
    inner: Arc<Inner<M>>,
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<M: Manager> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.inner.name)
            .field("status", &self.status())
            .finish()
    }
}

/// A resource checked out of a [`Pool`]; it goes back when dropped.
pub struct Pooled<M: Manager> {
    resource: Option<M::Resource>,
    pool: Arc<Inner<M>>,
    _slot: OwnedSemaphorePermit,
}

impl<M: Manager> Pooled<M> {
    /// Drops the resource instead of returning it (it is broken).
    pub fn discard(mut self) {
        if self.resource.take().is_some() {
            self.pool.size.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl<M: Manager> fmt::Debug for Pooled<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled")
            .field("pool", &self.pool.name)
            .finish()
    }
}

impl<M: Manager> Deref for Pooled<M> {
    type Target = M::Resource;
    fn deref(&self) -> &M::Resource {
        self.resource.as_ref().expect("present until dropped")
    }
}

impl<M: Manager> DerefMut for Pooled<M> {
    fn deref_mut(&mut self) -> &mut M::Resource {
        self.resource.as_mut().expect("present until dropped")
    }
}

impl<M: Manager> Drop for Pooled<M> {
    fn drop(&mut self) {
        if let Some(resource) = self.resource.take() {
            let now = self.pool.config.clock.now();
            self.pool.idle.lock().push_back((resource, now));
        }
        // The slot is released after the resource is back, so the next caller finds it.
    }
}

impl<M: Manager> Pool<M> {
    /// An empty pool; call [`Pool::fill`] to create the minimum up front.
    pub fn new(name: impl Into<Arc<str>>, manager: M, config: PoolConfig) -> Self {
        let max = config.max_size.max(1);
        Self {
            inner: Arc::new(Inner {
                name: name.into(),
                manager,
                slots: Arc::new(Semaphore::new(max)),
                config: PoolConfig {
                    max_size: max,
                    min_size: config.min_size.min(max),
                    ..config
                },
                idle: Mutex::new(VecDeque::new()),
                size: AtomicUsize::new(0),
                waiters: AtomicUsize::new(0),
            }),
        }
    }

    /// Counts now.
    pub fn status(&self) -> PoolStatus {
        let inner = &*self.inner;
        let idle = inner.idle.lock().len();
        let size = inner.size.load(Ordering::Acquire);
        PoolStatus {
            size,
            idle,
            in_use: inner.config.max_size - inner.slots.available_permits(),
            waiters: inner.waiters.load(Ordering::Acquire),
        }
    }

    fn gauges(&self) {
        let s = self.status();
        let name = self.inner.name.to_string();
        cadre_observe::metrics::gauge!("cadre_pool_in_use", "pool" => name.clone())
            .set(s.in_use as f64);
        cadre_observe::metrics::gauge!("cadre_pool_idle", "pool" => name.clone())
            .set(s.idle as f64);
        cadre_observe::metrics::gauge!("cadre_pool_waiters", "pool" => name).set(s.waiters as f64);
    }

    /// Checks out a healthy resource: an idle one that passes its health check, or a new one.
    ///
    /// # Errors
    /// `timeout` when none is free within `checkout_timeout`; the manager's error when
    /// creating one fails.
    pub async fn get(&self) -> Result<Pooled<M>, Error> {
        let inner = &*self.inner;
        inner.waiters.fetch_add(1, Ordering::AcqRel);
        let slot = tokio::time::timeout(
            inner.config.checkout_timeout,
            Arc::clone(&inner.slots).acquire_owned(),
        )
        .await;
        inner.waiters.fetch_sub(1, Ordering::AcqRel);
        let slot = match slot {
            Ok(Ok(slot)) => slot,
            Ok(Err(_)) => return Err(Error::internal("pool semaphore closed")),
            Err(_) => {
                cadre_observe::metrics::counter!("cadre_pool_timeouts_total", "pool" => inner.name.to_string())
                    .increment(1);
                return Err(Error::new(
                    ErrorCode::Timeout,
                    format!(
                        "pool `{}`: no resource free within {:?} ({} in use)",
                        inner.name, inner.config.checkout_timeout, inner.config.max_size
                    ),
                ));
            }
        };
        loop {
            let candidate = inner.idle.lock().pop_back();
            let Some((mut resource, _)) = candidate else {
                break;
            };
            if inner.manager.is_healthy(&mut resource).await {
                self.gauges();
                return Ok(Pooled {
                    resource: Some(resource),
                    pool: Arc::clone(&self.inner),
                    _slot: slot,
                });
            }
            inner.size.fetch_sub(1, Ordering::AcqRel);
            cadre_observe::metrics::counter!("cadre_pool_unhealthy_total", "pool" => inner.name.to_string())
                .increment(1);
        }
        let resource = inner.manager.create().await?;
        inner.size.fetch_add(1, Ordering::AcqRel);
        self.gauges();
        Ok(Pooled {
            resource: Some(resource),
            pool: Arc::clone(&self.inner),
            _slot: slot,
        })
    }

    /// Creates idle resources until the pool holds `min_size`.
    ///
    /// # Errors
    /// The manager's error when creating one fails.
    pub async fn fill(&self) -> Result<(), Error> {
        let inner = &*self.inner;
        while inner.size.load(Ordering::Acquire) < inner.config.min_size {
            let resource = inner.manager.create().await?;
            inner.size.fetch_add(1, Ordering::AcqRel);
            inner
                .idle
                .lock()
                .push_back((resource, inner.config.clock.now()));
        }
        Ok(())
    }

    /// Drops idle resources unused for `idle_timeout`, keeping `min_size` alive. Returns how
    /// many were dropped. Run it now and then (a node does, on a timer).
    pub fn evict_idle(&self) -> usize {
        let inner = &*self.inner;
        let now = inner.config.clock.now();
        let mut idle = inner.idle.lock();
        let mut evicted = 0;
        // Oldest first: resources are returned to the back.
        while let Some((_, returned)) = idle.front() {
            let alive = inner.size.load(Ordering::Acquire);
            if alive <= inner.config.min_size
                || now.saturating_sub(*returned) < inner.config.idle_timeout
            {
                break;
            }
            idle.pop_front();
            inner.size.fetch_sub(1, Ordering::AcqRel);
            evicted += 1;
        }
        evicted
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;
    use crate::ManualClock;

    #[derive(Default)]
    struct Conns {
        made: AtomicU32,
        broken: Mutex<Vec<u32>>,
    }

    impl Manager for Arc<Conns> {
        type Resource = u32;
        async fn create(&self) -> Result<u32, Error> {
            Ok(self.made.fetch_add(1, Ordering::SeqCst) + 1)
        }
        async fn is_healthy(&self, r: &mut u32) -> bool {
            !self.broken.lock().contains(r)
        }
    }

    fn pool(conns: &Arc<Conns>, clock: &ManualClock) -> Pool<Arc<Conns>> {
        Pool::new(
            "db",
            Arc::clone(conns),
            PoolConfig {
                min_size: 1,
                max_size: 2,
                idle_timeout: Duration::from_secs(60),
                checkout_timeout: Duration::from_millis(100),
                clock: Arc::new(clock.clone()),
            },
        )
    }

    #[tokio::test(start_paused = true)]
    async fn reuses_caps_and_times_out() {
        let conns = Arc::new(Conns::default());
        let clock = ManualClock::new();
        let p = pool(&conns, &clock);
        p.fill().await.unwrap();
        assert_eq!(p.status().idle, 1);
        let a = p.get().await.unwrap();
        assert_eq!(*a, 1, "the idle one is reused");
        let b = p.get().await.unwrap();
        assert_eq!(*b, 2);
        let err = p.get().await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Timeout);
        assert!(err.to_string().contains("pool `db`"), "{err}");
        drop(a);
        assert_eq!(*p.get().await.unwrap(), 1);
        assert_eq!(p.status().size, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn unhealthy_resources_are_dropped_not_handed_out() {
        let conns = Arc::new(Conns::default());
        let clock = ManualClock::new();
        let p = pool(&conns, &clock);
        drop(p.get().await.unwrap());
        conns.broken.lock().push(1);
        let c = p.get().await.unwrap();
        assert_eq!(*c, 2);
        assert_eq!(p.status().size, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_eviction_keeps_the_minimum() {
        let conns = Arc::new(Conns::default());
        let clock = ManualClock::new();
        let p = pool(&conns, &clock);
        let a = p.get().await.unwrap();
        let b = p.get().await.unwrap();
        drop(a);
        drop(b);
        assert_eq!(p.evict_idle(), 0, "not idle long enough");
        clock.advance(Duration::from_secs(61));
        assert_eq!(p.evict_idle(), 1, "one kept for min_size");
        assert_eq!(
            p.status(),
            PoolStatus {
                size: 1,
                idle: 1,
                in_use: 0,
                waiters: 0
            }
        );
    }
}
