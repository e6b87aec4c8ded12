//! Components report through the metrics facade: a recorder sees breaker transitions and
//! rejections, retries and rate-limit refusals.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cadre_observe::metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    with_local_recorder,
};
use cadre_resilience::{BreakerConfig, CircuitBreaker, ManualClock, RateLimiter};
use parking_lot::Mutex;

#[derive(Default)]
struct Counters(Mutex<BTreeMap<String, Arc<AtomicU64>>>);

impl Counters {
    fn get(&self, name: &str) -> u64 {
        self.0
            .lock()
            .get(name)
            .map_or(0, |c| c.load(Ordering::SeqCst))
    }
}

fn render(key: &Key) -> String {
    let labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Recorder for Counters {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let c = Arc::clone(self.0.lock().entry(render(key)).or_default());
        Counter::from_arc(c)
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[test]
fn breaker_and_rate_limiter_count_what_they_do() {
    let rec = Counters::default();
    let clock = ManualClock::new();
    with_local_recorder(&rec, || {
        let b = CircuitBreaker::new(
            "exchange",
            BreakerConfig {
                consecutive_failures: 2,
                ..BreakerConfig::default()
            }
            .with_clock(clock.clone()),
        );
        b.try_acquire().unwrap().failure();
        b.try_acquire().unwrap().failure();
        assert!(b.try_acquire().is_err());
        assert!(b.try_acquire().is_err());
        let rl = RateLimiter::with_clock("orders", 1.0, 1, clock.clone());
        rl.try_acquire("ACME").unwrap();
        assert!(rl.try_acquire("ACME").is_err());
    });
    assert_eq!(
        rec.get("cadre_breaker_transitions_total{breaker=exchange,to=open}"),
        1
    );
    assert_eq!(rec.get("cadre_breaker_rejected_total{breaker=exchange}"), 2);
    assert_eq!(rec.get("cadre_rate_limited_total{limiter=orders}"), 1);
}
