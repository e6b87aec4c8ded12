//! Property tests of the resilience invariants, in virtual time with seeded randomness.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cadre_core::{Error, ErrorCode};
use cadre_resilience::{
    BreakerConfig, BreakerState, CircuitBreaker, Jitter, ManualClock, Permit, RetryPolicy,
};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn jitter() -> impl Strategy<Value = Jitter> {
    prop::sample::select(vec![Jitter::None, Jitter::Full, Jitter::Decorrelated])
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn backoff_never_exceeds_the_max_delay(
        base_ms in 1u64..20_000,
        max_ms in 1u64..60_000,
        jitter in jitter(),
        seed in any::<u64>(),
    ) {
        let max = Duration::from_millis(max_ms);
        let policy = RetryPolicy::default()
            .with_base(Duration::from_millis(base_ms))
            .with_max_delay(max)
            .with_jitter(jitter)
            .with_seed(seed);
        for delay in policy.backoff().take(40) {
            prop_assert!(delay <= max, "{delay:?} > {max:?}");
        }
    }

    #[test]
    fn total_time_never_exceeds_the_deadline(
        base_ms in 1u64..5_000,
        deadline_ms in 0u64..120_000,
        attempts in 1u32..50,
        jitter in jitter(),
        seed in any::<u64>(),
    ) {
        let deadline = Duration::from_millis(deadline_ms);
        let policy = RetryPolicy::default()
            .with_base(Duration::from_millis(base_ms))
            .with_max_attempts(attempts)
            .with_deadline(deadline)
            .with_jitter(jitter)
            .with_seed(seed);
        let calls = AtomicU32::new(0);
        let elapsed = paused_runtime().block_on(async {
            let started = tokio::time::Instant::now();
            let result: Result<(), _> = policy
                .run(|_| async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(Error::new(ErrorCode::Unavailable, "down"))
                })
                .await;
            assert!(result.is_err());
            started.elapsed()
        });
        prop_assert!(elapsed <= deadline, "{elapsed:?} > {deadline:?}");
        prop_assert!(calls.load(Ordering::SeqCst) <= attempts);
    }

    #[test]
    fn non_retryable_errors_are_never_retried(
        code in prop::sample::select(
            ErrorCode::ALL.iter().copied().filter(|c| !c.retryable_by_default()).collect::<Vec<_>>()
        ),
        attempts in 1u32..20,
        seed in any::<u64>(),
    ) {
        let policy = RetryPolicy::default().with_max_attempts(attempts).with_seed(seed);
        let calls = AtomicU32::new(0);
        let err = paused_runtime().block_on(policy.run(|_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Error::new(code, "no"))
        }));
        prop_assert_eq!(calls.load(Ordering::SeqCst), 1);
        prop_assert!(err.unwrap_err().not_retryable());
    }

    #[test]
    fn breaker_admits_nothing_while_open_and_at_most_k_probes(
        ops in prop::collection::vec(op(), 1..200),
        probes in 1u32..4,
        consecutive in 1u32..6,
    ) {
        let clock = ManualClock::new();
        let cool_down = Duration::from_secs(10);
        let b = CircuitBreaker::new("model", BreakerConfig {
            consecutive_failures: consecutive,
            failure_rate: 0.6,
            window: 10,
            min_calls: 5,
            cool_down,
            half_open_probes: probes,
            ..BreakerConfig::default()
        }.with_clock(clock.clone()));
        let mut events = b.subscribe();
        let mut opened_at = Duration::ZERO;
        let mut probes_this_episode = 0u32;
        let mut held: Vec<Permit> = Vec::new();
        for op in ops {
            match op {
                Op::Advance(ms) => clock.advance(Duration::from_millis(ms)),
                Op::Call { ok, hold } => {
                    let before = b.state();
                    let open_too_early = before == BreakerState::Open
                        && clock.now_since(opened_at) < cool_down;
                    match b.try_acquire() {
                        Ok(permit) => {
                            prop_assert!(!open_too_early, "admitted while open before the cool-down");
                            if before != BreakerState::Closed {
                                if before == BreakerState::Open {
                                    probes_this_episode = 0;
                                }
                                probes_this_episode += 1;
                                prop_assert!(probes_this_episode <= probes, "more than {probes} probes");
                            }
                            if hold {
                                held.push(permit);
                            } else if ok {
                                permit.success();
                            } else {
                                permit.failure();
                            }
                        }
                        Err(e) => prop_assert_eq!(e.code(), ErrorCode::CircuitOpen),
                    }
                }
                Op::Finish { ok } => {
                    if let Some(permit) = held.pop() {
                        if ok { permit.success() } else { permit.failure() }
                    }
                }
            }
            while let Ok(event) = events.try_recv() {
                if event.to == BreakerState::Open {
                    opened_at = event.at;
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    Call { ok: bool, hold: bool },
    Finish { ok: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..6_000).prop_map(Op::Advance),
        (any::<bool>(), prop::bool::weighted(0.2)).prop_map(|(ok, hold)| Op::Call { ok, hold }),
        any::<bool>().prop_map(|ok| Op::Finish { ok }),
    ]
}

trait Since {
    fn now_since(&self, at: Duration) -> Duration;
}

impl Since for ManualClock {
    fn now_since(&self, at: Duration) -> Duration {
        use cadre_resilience::Clock;
        self.now().saturating_sub(at)
    }
}

mod pool {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use cadre_core::Error;
    use cadre_resilience::{Manager, ManualClock, Pool, PoolConfig, Pooled};
    use parking_lot::Mutex;
    use proptest::prelude::*;

    #[derive(Default)]
    struct Conns {
        made: AtomicU32,
        broken: Mutex<Vec<u32>>,
    }

    #[derive(Clone, Default)]
    struct M(Arc<Conns>);

    impl Manager for M {
        type Resource = u32;
        async fn create(&self) -> Result<u32, Error> {
            Ok(self.0.made.fetch_add(1, Ordering::SeqCst))
        }
        async fn is_healthy(&self, r: &mut u32) -> bool {
            !self.0.broken.lock().contains(r)
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Get,
        Return(usize),
        Break(u32),
        Advance(u64),
        Evict,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::Get),
            2 => any::<usize>().prop_map(Op::Return),
            1 => (0u32..20).prop_map(Op::Break),
            1 => (0u64..120_000).prop_map(Op::Advance),
            1 => Just(Op::Evict),
        ]
    }

    proptest! {
        #![proptest_config(super::config())]

        #[test]
        fn never_exceeds_max_size_and_never_hands_out_a_broken_resource(
            ops in prop::collection::vec(op(), 1..150),
            min in 0usize..3,
            max in 1usize..5,
        ) {
            let clock = ManualClock::new();
            let m = M::default();
            let pool = Pool::new("p", m.clone(), PoolConfig {
                min_size: min,
                max_size: max,
                idle_timeout: Duration::from_secs(60),
                checkout_timeout: Duration::from_millis(10),
                clock: Arc::new(clock.clone()),
            });
            let rt = super::paused_runtime();
            let mut out: Vec<Pooled<M>> = Vec::new();
            rt.block_on(pool.fill()).unwrap();
            for op in ops {
                match op {
                    Op::Get => match rt.block_on(pool.get()) {
                        Ok(r) => {
                            prop_assert!(!m.0.broken.lock().contains(&*r), "handed out broken {}", *r);
                            out.push(r);
                        }
                        Err(e) => prop_assert_eq!(e.code(), cadre_core::ErrorCode::Timeout),
                    },
                    Op::Return(i) => {
                        if !out.is_empty() {
                            let i = i % out.len();
                            drop(out.swap_remove(i));
                        }
                    }
                    // Break a resource that exists (a new one is healthy by construction).
                    Op::Break(id) => {
                        if id < m.0.made.load(Ordering::SeqCst) {
                            m.0.broken.lock().push(id);
                        }
                    }
                    Op::Advance(ms) => clock.advance(Duration::from_millis(ms)),
                    Op::Evict => {
                        pool.evict_idle();
                    }
                }
                let s = pool.status();
                prop_assert!(s.size <= max.max(1), "size {} > max {}", s.size, max);
                prop_assert!(s.in_use <= max.max(1));
                prop_assert_eq!(s.in_use, out.len());
            }
        }
    }
}
