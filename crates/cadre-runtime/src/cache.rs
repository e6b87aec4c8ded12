//! The result cache: the same task inside a TTL returns the stored outcome instead of running
//! again.
//!
//! "The same task" means the same capability and the same input, byte for byte: type name,
//! version and JSON. The key is that content itself, not a digest of it, so two different
//! tasks can never share an entry.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use cadre_core::{Task, TaskOutcome};
use cadre_resilience::{Clock, MonotonicClock};
use parking_lot::Mutex;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    capability: String,
    type_name: String,
    version: u32,
    input: String,
}

impl Key {
    fn of(task: &Task) -> Self {
        Self {
            capability: task.capability.clone(),
            type_name: task.input.type_name().to_owned(),
            version: task.input.version(),
            input: task.input.json().to_owned(),
        }
    }
}

#[derive(Debug)]
struct Entries {
    map: HashMap<Key, (TaskOutcome, Duration)>,
    order: VecDeque<(Key, Duration)>,
}

/// Outcomes of recent tasks, by content, for `ttl`; at most `capacity` entries (the oldest go
/// first). Records `cadre_result_cache_hits_total` and `cadre_result_cache_misses_total`.
#[derive(Debug, Clone)]
pub struct ResultCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: Arc<str>,
    ttl: Duration,
    capacity: usize,
    clock: Arc<dyn Clock>,
    entries: Mutex<Entries>,
}

impl ResultCache {
    /// A cache named `name` (for metrics) keeping outcomes for `ttl`.
    pub fn new(name: impl Into<Arc<str>>, ttl: Duration, capacity: usize) -> Self {
        Self::with_clock(name, ttl, capacity, MonotonicClock::new())
    }

    /// The same, on `clock`.
    pub fn with_clock(
        name: impl Into<Arc<str>>,
        ttl: Duration,
        capacity: usize,
        clock: impl Clock,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                name: name.into(),
                ttl,
                capacity: capacity.max(1),
                clock: Arc::new(clock),
                entries: Mutex::new(Entries {
                    map: HashMap::new(),
                    order: VecDeque::new(),
                }),
            }),
        }
    }

    /// The stored outcome of a task with the same capability and input, if still fresh. The
    /// outcome is returned for `task` (its `task_id` is `task`'s).
    pub fn get(&self, task: &Task) -> Option<TaskOutcome> {
        let inner = &*self.inner;
        let now = inner.clock.now();
        let key = Key::of(task);
        let hit = {
            let mut entries = inner.entries.lock();
            match entries.map.get(&key) {
                Some((outcome, expires)) if *expires > now => Some(outcome.clone()),
                Some(_) => {
                    entries.map.remove(&key);
                    None
                }
                None => None,
            }
        };
        let name = inner.name.to_string();
        match hit {
            Some(mut outcome) => {
                cadre_observe::metrics::counter!("cadre_result_cache_hits_total", "cache" => name)
                    .increment(1);
                outcome.task_id = task.id;
                Some(outcome)
            }
            None => {
                cadre_observe::metrics::counter!("cadre_result_cache_misses_total", "cache" => name)
                    .increment(1);
                None
            }
        }
    }

    /// Stores `outcome` as the result of tasks like `task`.
    pub fn put(&self, task: &Task, outcome: &TaskOutcome) {
        let inner = &*self.inner;
        let now = inner.clock.now();
        let expires = now + inner.ttl;
        let key = Key::of(task);
        let mut entries = inner.entries.lock();
        entries.order.push_back((key.clone(), expires));
        entries.map.insert(key, (outcome.clone(), expires));
        // Drop expired entries from the front, then the oldest while over capacity. An
        // order entry whose key was stored again later is stale and only removed here.
        while let Some((key, at)) = entries.order.front().cloned() {
            let over = entries.map.len() > inner.capacity;
            let expired = at <= now;
            if !over && !expired {
                break;
            }
            entries.order.pop_front();
            if entries.map.get(&key).is_some_and(|(_, e)| *e == at) {
                entries.map.remove(&key);
            }
        }
    }

    /// Entries held now (fresh or not yet swept).
    pub fn len(&self) -> usize {
        self.inner.entries.lock().map.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use cadre_core::{Message, Payload};
    use cadre_resilience::ManualClock;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Quote(f64);
    impl Message for Quote {
        const TYPE: &'static str = "test.quote";
    }

    fn task(cap: &str, input: &str) -> Task {
        Task::with_payload(cap, Payload::from_json_text("test.in", 1, input).unwrap())
    }

    #[test]
    fn same_content_hits_other_content_misses_and_entries_expire() {
        let clock = ManualClock::new();
        let cache = ResultCache::with_clock("pricing", Duration::from_secs(60), 100, clock.clone());
        let first = task("price", r#"{"sym":"ACME"}"#);
        assert!(cache.get(&first).is_none());
        let outcome = TaskOutcome::new(&first, &Quote(10.5)).unwrap();
        cache.put(&first, &outcome);

        let again = task("price", r#"{"sym":"ACME"}"#);
        let hit = cache.get(&again).unwrap();
        assert_eq!(hit.task_id, again.id, "answers the new task");
        assert_eq!(hit.output, outcome.output);
        assert!(cache.get(&task("price", r#"{"sym":"INIT"}"#)).is_none());
        assert!(
            cache.get(&task("risk", r#"{"sym":"ACME"}"#)).is_none(),
            "capability is part of the key"
        );

        clock.advance(Duration::from_secs(60));
        assert!(cache.get(&again).is_none(), "expired");
    }

    #[test]
    fn capacity_drops_the_oldest() {
        let clock = ManualClock::new();
        let cache = ResultCache::with_clock("c", Duration::from_secs(60), 2, clock.clone());
        for i in 0..3 {
            let t = task("cap", &i.to_string());
            cache.put(&t, &TaskOutcome::new(&t, &Quote(f64::from(i))).unwrap());
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&task("cap", "0")).is_none());
        assert!(cache.get(&task("cap", "2")).is_some());
    }
}
