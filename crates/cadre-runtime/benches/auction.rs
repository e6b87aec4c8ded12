//! Contract Net auctions per second with 10 bidders: start, 10 bids, close, award + 9
//! rejects, completion. The state machine alone; the runtime adds the messages.
//!
//! `cargo bench -p cadre-runtime`; figures in docs/performance.md.

use std::hint::black_box;
use std::time::Duration;

use cadre_core::{AgentId, Bid, Payload, Task};
use cadre_runtime::contract_net::{Auction, AuctionConfig, Event};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn auctions(c: &mut Criterion) {
    let bidders: Vec<AgentId> = (0..10)
        .map(|i| AgentId::new(format!("bidder-{i}")).unwrap())
        .collect();
    let task = Task::with_payload("pricing.options", Payload::empty("book"));
    let config = AuctionConfig::default();
    let mut g = c.benchmark_group("contract_net");
    g.throughput(Throughput::Elements(1));
    g.bench_function("auction_10_bidders", |b| {
        b.iter(|| {
            let t0 = Duration::from_secs(1);
            let mut a = Auction::new(task.clone(), config.clone());
            black_box(a.handle(Event::Start, t0));
            for (i, agent) in bidders.iter().enumerate() {
                let bid = Bid::accept(0.5 + i as f64 / 40.0, Duration::from_millis(10 + i as u64));
                black_box(a.handle(
                    Event::Bid {
                        agent: agent.clone(),
                        bid,
                    },
                    t0,
                ));
            }
            let actions = a.handle(Event::Tick, t0 + Duration::from_secs(1));
            let winner = match &actions[0] {
                cadre_runtime::contract_net::Action::Award { agent, .. } => agent.clone(),
                other => panic!("{other:?}"),
            };
            black_box(actions);
            black_box(a.handle(
                Event::Completed { agent: winner },
                t0 + Duration::from_secs(2),
            ));
        });
    });
    g.finish();
}

criterion_group!(benches, auctions);
criterion_main!(benches);
