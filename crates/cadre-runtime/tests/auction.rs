//! Contract Net through nodes and the bus: best bid wins, nobody bids, the winner dies, bidders
//! on another node.

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use cadre_core::{AgentId, ErrorCode, Task};
use cadre_runtime::contract_net::AuctionConfig;
use cadre_runtime::{AgentSpec, Node, NodeOptions, PoolConfig, Route};
use common::*;

const LONG: Duration = Duration::from_secs(20);

fn options() -> NodeOptions {
    NodeOptions {
        auction: AuctionConfig {
            bid_window: Duration::from_millis(500),
            execution_slack: 3.0,
            min_execution: Duration::from_millis(400),
            max_rounds: 3,
        },
        ..fast()
    }
}

fn bidder(kind_name: &str, confidence: f64, estimate_ms: u64) -> AgentSpec {
    AgentSpec::new(kind(kind_name), move || Inc {
        confidence,
        estimate: Duration::from_millis(estimate_ms),
        ..Inc::new("quote.price")
    })
    .pool(PoolConfig::fixed(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_best_bid_wins_and_several_kinds_go_to_auction_by_default() {
    let bus = memory_bus(Duration::from_secs(30));
    let node = Node::builder(Arc::clone(&bus))
        .options(options())
        .agent(bidder("slow-sure", 0.9, 100))
        .agent(bidder("fast-sure", 0.9, 10))
        .agent(bidder("fast-unsure", 0.3, 10))
        .start()
        .await
        .unwrap();
    let client = node.client();
    for route in [Route::Auction, Route::Capability] {
        let out = client
            .call(Task::new("quote.price", &Num(1)).unwrap(), route, LONG)
            .await
            .unwrap();
        assert_eq!(out.output::<Num>().unwrap(), Num(2));
        // confidence per estimated second: 0.9/0.01 beats 0.3/0.01 and 0.9/0.1.
        assert!(
            out.agent
                .as_ref()
                .unwrap()
                .as_str()
                .starts_with("fast-sure-"),
            "{:?}",
            out.agent
        );
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_bidding_is_a_clear_error() {
    let bus = memory_bus(Duration::from_secs(30));
    let node = Node::builder(Arc::clone(&bus))
        .options(options())
        .agent(bidder("pricer", 0.9, 10))
        .start()
        .await
        .unwrap();
    let err = node
        .client()
        .call(
            Task::new("quote.hedge", &Num(1)).unwrap(),
            Route::Auction,
            LONG,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert!(err.to_string().contains("quote.hedge"), "{err}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_winner_that_dies_mid_task_is_replaced_by_the_next_best() {
    let bus = memory_bus(Duration::from_secs(30));
    let took = Arc::new(AtomicU32::new(0));
    let t = Arc::clone(&took);
    let node = Node::builder(Arc::clone(&bus))
        .options(NodeOptions {
            grace: Duration::from_millis(50),
            ..options()
        })
        .agent(
            AgentSpec::new(kind("hangs"), move || Hang {
                capability: "quote.price",
                confidence: 1.0,
                took: Arc::clone(&t),
            })
            .pool(PoolConfig::fixed(1)),
        )
        .agent(bidder("backup", 0.5, 10))
        .start()
        .await
        .unwrap();
    let out = node
        .client()
        .call(
            Task::new("quote.price", &Num(5)).unwrap(),
            Route::Auction,
            LONG,
        )
        .await
        .unwrap();
    assert_eq!(out.output::<Num>().unwrap(), Num(6));
    assert!(out.agent.unwrap().as_str().starts_with("backup-"));
    assert_eq!(
        took.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the first winner got the task once"
    );
    // The hung agent is cancelled once the grace period is over.
    let report = node.shutdown().await;
    assert!(!report.drained);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidders_on_another_node_answer_over_the_bus() {
    let bus = memory_bus(Duration::from_secs(30));
    let home = Node::builder(Arc::clone(&bus))
        .id(AgentId::new("home").unwrap())
        .options(options())
        .agent(bidder("local-ok", 0.5, 50))
        .start()
        .await
        .unwrap();
    let away = Node::builder(Arc::clone(&bus))
        .id(AgentId::new("away").unwrap())
        .options(options())
        .agent(bidder("remote-best", 0.95, 5))
        .start()
        .await
        .unwrap();
    eventually(LONG, "home to see the remote bidder", || {
        let r = home.registry();
        async move { (r.by_capability("quote.price", chrono::Utc::now()).len() == 2).then_some(()) }
    })
    .await;
    let out = home
        .client()
        .call(
            Task::new("quote.price", &Num(9)).unwrap(),
            Route::Auction,
            LONG,
        )
        .await
        .unwrap();
    assert_eq!(out.output::<Num>().unwrap(), Num(10));
    let winner = out.agent.unwrap();
    assert!(winner.as_str().starts_with("remote-best-away"), "{winner}");
    away.shutdown().await;
    home.shutdown().await;
}
