//! VADER against Python's `vaderSentiment` 3.3.2 on 200 finance headlines (negations,
//! boosters and dampeners, ALL CAPS, "but" clauses, `!` and `?`, "least", "no", idioms):
//! `tests/golden/generate_sentiment.py` writes `tests/golden/sentiment.json` with the
//! library's *unrounded* scores.
//!
//! Tolerance: 1e-4 absolute on compound, pos, neg and neu (the brief's bar); observed: below
//! 1e-12 (the two sides sum the same valences in the same order). The plain lexicon is used —
//! extra terms ([`SentimentAnalyzer::with_terms`]) would change the scores. Intentional
//! difference from the library: emoji are not translated into words (the fixture has none).

use cadre_pack_trading::sentiment::SentimentAnalyzer;
use serde::Deserialize;

const TOLERANCE: f64 = 1e-4;

#[derive(Deserialize)]
struct Golden {
    reference: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    compound: f64,
    pos: f64,
    neg: f64,
    neu: f64,
}

#[test]
fn vader_matches_the_python_library() {
    let golden: Golden = serde_json::from_str(include_str!("golden/sentiment.json")).unwrap();
    assert!(golden.reference.contains("vaderSentiment 3.3.2"));
    assert!(golden.cases.len() >= 200, "{} cases", golden.cases.len());
    let vader = SentimentAnalyzer::new();
    let mut worst = 0.0f64;
    let mut failures = Vec::new();
    for c in &golden.cases {
        let s = vader.score(&c.text);
        for (name, got, want) in [
            ("compound", s.compound, c.compound),
            ("pos", s.pos, c.pos),
            ("neg", s.neg, c.neg),
            ("neu", s.neu, c.neu),
        ] {
            let err = (got - want).abs();
            worst = worst.max(err);
            if err > TOLERANCE {
                failures.push(format!("{:?}: {name} {got}, want {want}", c.text));
            }
        }
        assert!((0.0..=1.0).contains(&s.confidence), "{:?}", c.text);
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(worst <= TOLERANCE, "worst {worst}");
    // Non-trivial fixture: both signs and neutral headlines.
    assert!(golden.cases.iter().any(|c| c.compound > 0.5));
    assert!(golden.cases.iter().any(|c| c.compound < -0.5));
    assert!(golden.cases.iter().any(|c| c.compound == 0.0));
}
