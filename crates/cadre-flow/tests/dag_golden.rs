//! The critical-path schedule against networkx on 60 seeded DAGs
//! (`tests/golden/generate.py` writes `tests/golden/dags.json`). Weights are integers, so the
//! figures must agree exactly.

use cadre_flow::dag::Dag;
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    generator: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    n: usize,
    weights: Vec<u32>,
    edges: Vec<(usize, usize)>,
    makespan: u32,
    earliest_start: Vec<u32>,
    slack: Vec<u32>,
}

#[test]
fn makespan_earliest_starts_and_slack_match_networkx() {
    let golden: Golden =
        serde_json::from_str(include_str!("golden/dags.json")).expect("fixture parses");
    assert!(golden.generator.starts_with("networkx"));
    assert_eq!(golden.cases.len(), 60);
    for (k, case) in golden.cases.iter().enumerate() {
        let mut d = Dag::new();
        for i in 0..case.n {
            d.task(&format!("t{i}"), f64::from(case.weights[i]))
                .unwrap();
        }
        for &(a, b) in &case.edges {
            d.depends(&format!("t{b}"), &format!("t{a}")).unwrap();
        }
        let s = d.schedule().unwrap();
        assert_eq!(s.makespan, f64::from(case.makespan), "case {k}: makespan");
        for i in 0..case.n {
            let slot = s.task(&format!("t{i}")).unwrap();
            assert_eq!(
                slot.earliest_start,
                f64::from(case.earliest_start[i]),
                "case {k}: earliest start of t{i}"
            );
            assert_eq!(
                slot.slack,
                f64::from(case.slack[i]),
                "case {k}: slack of t{i}"
            );
        }
    }
}
