//! The backtester's speed: SMA(10)/SMA(30) crossover over 20 synthetic symbols × 2,520 daily
//! bars and over 1 million bars of one symbol, with commission and slippage.
//!
//! `cargo bench -p cadre-pack-desk --bench backtest`; criterion reports bars/s as elements/s.

use cadre_pack_desk::backtest::{Backtest, BacktestConfig, SmaCross};
use cadre_pack_desk::broker::{CommissionModel, SimBroker, SimConfig, SlippageModel};
use cadre_pack_trading::market::{Bars, SyntheticMarket};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn market(symbols: usize, bars: usize) -> Vec<(String, Bars)> {
    let prices: Vec<f64> = (0..symbols).map(|i| 50.0 + 10.0 * i as f64).collect();
    let corr: Vec<Vec<f64>> = (0..symbols)
        .map(|i| {
            (0..symbols)
                .map(|j| if i == j { 1.0 } else { 0.3 })
                .collect()
        })
        .collect();
    SyntheticMarket::correlated(prices, corr, 7)
        .generate(bars)
        .expect("synthetic market")
        .into_iter()
        .enumerate()
        .map(|(i, b)| (format!("SYM{i:02}"), b))
        .collect()
}

fn run(data: &[(String, Bars)]) -> f64 {
    let broker = SimBroker::new(SimConfig {
        commission: CommissionModel::Bps {
            bps: 10.0,
            minimum: 0.0,
        },
        slippage: SlippageModel::FixedBps { bps: 5.0 },
        ..SimConfig::default()
    })
    .expect("broker");
    let mut strategy = SmaCross::new(10, 30, 100.0).expect("strategy");
    Backtest::new(BacktestConfig::default(), broker)
        .run(data, &mut strategy)
        .expect("backtest")
        .final_equity
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("backtest_sma_cross");
    for (name, symbols, bars) in [("20x2520_daily", 20, 2520), ("1x1M", 1, 1_000_000)] {
        let data = market(symbols, bars);
        group.throughput(Throughput::Elements((symbols * bars) as u64));
        group.bench_function(name, |b| b.iter(|| run(std::hint::black_box(&data))));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
