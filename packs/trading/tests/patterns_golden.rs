//! Candlestick patterns against TA-Lib's `CDL*` functions on the 2,000 seeded bars of
//! `tests/golden/indicators.json` (written by `tests/golden/generate.py`). The outputs are
//! integers, so they must agree exactly, warm-up zeros included.

use std::collections::BTreeMap;

use cadre_pack_trading::market::Bar;
use cadre_pack_trading::patterns;
use chrono::{DateTime, TimeDelta};
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    inputs: Inputs,
    patterns: Vec<Pattern>,
}

#[derive(Deserialize)]
struct Inputs {
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

#[derive(Deserialize)]
struct Pattern {
    pattern: String,
    params: BTreeMap<String, f64>,
    output: Vec<i32>,
}

#[test]
fn patterns_match_talib() {
    let g: Golden =
        serde_json::from_str(include_str!("golden/indicators.json")).expect("fixture parses");
    let x = &g.inputs;
    let bars: Vec<Bar> = (0..x.close.len())
        .map(|i| {
            let t = DateTime::UNIX_EPOCH + TimeDelta::days(i as i64);
            Bar::new(t, x.open[i], x.high[i], x.low[i], x.close[i], x.volume[i])
                .unwrap_or_else(|e| panic!("fixture bar {i}: {e}"))
        })
        .collect();
    let mut seen = Vec::new();
    for p in &g.patterns {
        let pen = || p.params["penetration"];
        let got = match p.pattern.as_str() {
            "doji" => patterns::doji(&bars),
            "hammer" => patterns::hammer(&bars),
            "shooting_star" => patterns::shooting_star(&bars),
            "engulfing" => patterns::engulfing(&bars),
            "morning_star" => patterns::morning_star(&bars, pen()),
            "evening_star" => patterns::evening_star(&bars, pen()),
            other => panic!("fixture has a pattern this test does not know: {other}"),
        };
        assert_eq!(got.len(), p.output.len());
        let hits = p.output.iter().filter(|&&v| v != 0).count();
        assert!(
            hits >= 10,
            "{}: the fixture should exercise the pattern, {hits} hits",
            p.pattern
        );
        for (i, (g, w)) in got.iter().zip(&p.output).enumerate() {
            assert_eq!(g, w, "{} {:?} at bar {i}", p.pattern, p.params);
        }
        seen.push(p.pattern.clone());
    }
    seen.dedup();
    assert_eq!(
        seen,
        [
            "doji",
            "hammer",
            "shooting_star",
            "engulfing",
            "morning_star",
            "evening_star"
        ]
    );
}
