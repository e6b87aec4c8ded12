//! For any set of bids: exactly one award, to the best eligible bid; every other eligible
//! bidder is told it lost, once.

use std::time::Duration;

use cadre_core::{AgentId, Bid, Payload, Task};
use cadre_runtime::contract_net::{Action, Auction, AuctionConfig, Event};
use proptest::prelude::*;

fn bids() -> impl Strategy<Value = Vec<(u8, bool, f64, u64)>> {
    prop::collection::vec((0u8..12, any::<bool>(), 0.0f64..=1.0, 1u64..10_000), 0..20)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0xB1D),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn one_award_to_the_best_and_one_reject_for_each_other(bids in bids()) {
        let t0 = Duration::from_secs(10);
        let mut a = Auction::new(
            Task::with_payload("cap", Payload::empty("t")),
            AuctionConfig::default(),
        );
        a.handle(Event::Start, t0);
        // The last bid of each agent counts.
        let mut latest: std::collections::BTreeMap<String, Bid> = Default::default();
        for (who, can, confidence, ms) in &bids {
            let agent = format!("agent-{who:02}");
            let bid = if *can {
                Bid::accept(*confidence, Duration::from_millis(*ms))
            } else {
                Bid::decline()
            };
            a.handle(Event::Bid { agent: AgentId::new(&agent).unwrap(), bid }, t0);
            if bid.can_handle() {
                latest.insert(agent, bid);
            }
        }
        let actions = a.handle(Event::Tick, t0 + Duration::from_secs(1));
        let awards: Vec<_> = actions.iter().filter_map(|x| match x {
            Action::Award { agent, .. } => Some(agent.to_string()),
            _ => None,
        }).collect();
        let mut rejects: Vec<_> = actions.iter().filter_map(|x| match x {
            Action::Reject { agent } => Some(agent.to_string()),
            _ => None,
        }).collect();
        if latest.is_empty() {
            prop_assert!(awards.is_empty());
            let failed = matches!(actions.as_slice(), [Action::Failed { .. }]);
            prop_assert!(failed, "expected a failure, got {:?}", actions);
            return Ok(());
        }
        prop_assert_eq!(awards.len(), 1);
        let winner = &awards[0];
        let best = latest[winner].score();
        for (agent, bid) in &latest {
            prop_assert!(bid.score() <= best, "{agent} scored {} > winner {best}", bid.score());
        }
        rejects.sort();
        let mut others: Vec<_> = latest.keys().filter(|a| *a != winner).cloned().collect();
        others.sort();
        prop_assert_eq!(rejects, others);
    }
}
