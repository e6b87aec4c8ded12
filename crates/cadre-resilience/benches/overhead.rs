//! The cost resilience adds to a call that succeeds at once: retry + closed breaker + timeout
//! around `async { Ok(..) }`, against the bare call, on one thread.
//!
//! `cargo bench -p cadre-resilience`; figures in docs/performance.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use cadre_core::Error;
use cadre_resilience::{BreakerConfig, CircuitBreaker, Resilient, RetryPolicy};
use criterion::{Criterion, criterion_group, criterion_main};

async fn work(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let composed = Resilient::new()
        .retry(RetryPolicy::default())
        .breaker(CircuitBreaker::new("bench", BreakerConfig::default()))
        .timeout(Duration::from_secs(5));
    let breaker_only = CircuitBreaker::new("bench-breaker", BreakerConfig::default());
    let mut g = c.benchmark_group("call_that_succeeds");
    g.bench_function("bare", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    black_box(work(i).await.unwrap());
                }
                start.elapsed()
            })
        });
    });
    g.bench_function("breaker", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    black_box(breaker_only.call(work(i)).await.unwrap());
                }
                start.elapsed()
            })
        });
    });
    g.bench_function("retry_breaker_timeout", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    black_box(composed.run(|_| work(i)).await.unwrap());
                }
                start.elapsed()
            })
        });
    });
    g.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
