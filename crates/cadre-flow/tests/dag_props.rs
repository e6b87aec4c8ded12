//! Properties of critical-path schedules on random DAGs (seeded).

use cadre_flow::dag::{Dag, Priority};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// A random DAG: edges only from lower to higher index, so it is acyclic by construction.
fn dag(n: usize, edges: &[(usize, usize)], weights: &[u32]) -> Dag {
    let mut d = Dag::new();
    for (i, w) in weights.iter().enumerate().take(n) {
        d.task(&format!("t{i}"), f64::from(*w)).unwrap();
    }
    for &(a, b) in edges {
        let (a, b) = (a % n, b % n);
        if a < b {
            d.depends(&format!("t{b}"), &format!("t{a}")).unwrap();
        }
    }
    d
}

#[test]
fn schedules_respect_dependencies_and_the_critical_path_is_tight() {
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 512,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = (1usize..30).prop_flat_map(|n| {
        (
            Just(n),
            prop::collection::vec((0usize..30, 0usize..30), 0..80),
            prop::collection::vec(0u32..20, n),
        )
    });
    runner
        .run(&strategy, |(n, edges, weights)| {
            let d = dag(n, &edges, &weights);
            let s = d.schedule().unwrap();
            prop_assert_eq!(s.order.len(), n);
            let pos = |id: &str| s.order.iter().position(|x| x == id).unwrap();
            let es = |id: &str| s.task(id).unwrap().earliest_start;
            let w = |i: usize| f64::from(weights[i]);
            for &(a, b) in &edges {
                let (a, b) = (a % n, b % n);
                if a < b {
                    let (ta, tb) = (format!("t{a}"), format!("t{b}"));
                    prop_assert!(pos(&ta) < pos(&tb), "order breaks {ta} -> {tb}");
                    prop_assert!(es(&tb) >= es(&ta) + w(a) - 1e-9);
                }
            }
            // The critical path is a chain whose weights sum to the makespan, all with no slack.
            let total: f64 = s
                .critical_path
                .iter()
                .map(|id| s.task(id).unwrap().weight)
                .sum();
            prop_assert!(
                (total - s.makespan).abs() < 1e-9,
                "{total} vs {}",
                s.makespan
            );
            for id in &s.critical_path {
                prop_assert_eq!(s.task(id).unwrap().priority, Priority::Critical);
            }
            for slot in &s.slots {
                prop_assert!(slot.slack >= 0.0);
                prop_assert!(slot.earliest_start + slot.weight <= s.makespan + 1e-9);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn any_back_edge_is_reported_as_a_cycle_through_it() {
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 256,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[9; 32]),
    );
    runner
        .run(&(2usize..15), |n| {
            // A chain t0 -> t1 -> ... -> t(n-1), closed by t0 depending on the last.
            let mut d = Dag::new();
            for i in 0..n {
                d.task(&format!("t{i}"), 1.0).unwrap();
            }
            for i in 1..n {
                d.depends(&format!("t{i}"), &format!("t{}", i - 1)).unwrap();
            }
            d.depends("t0", &format!("t{}", n - 1)).unwrap();
            let cycle = d.find_cycle().unwrap();
            prop_assert_eq!(cycle.len(), n + 1);
            prop_assert_eq!(cycle.first(), cycle.last());
            prop_assert!(d.schedule().is_err());
            Ok(())
        })
        .unwrap();
}
