//! The indicators against TA-Lib on 2,000 seeded OHLCV bars (`tests/golden/generate.py`
//! writes `tests/golden/indicators.json`; see its docstring for the conventions).
//!
//! Tolerance: every value must agree with the reference to within 1e-9 relative to the
//! larger magnitude (absolute 1e-9 for values below 1, e.g. a MACD histogram crossing zero
//! or a stochastic at 0), and the warm-up (NaN) positions must be exactly TA-Lib's.
//! The batch and streaming forms must agree bit for bit on the same data.

use std::collections::BTreeMap;

use cadre_pack_trading::indicators::{
    self, Atr, Bollinger, Ema, Macd, Obv, Rsi, Sma, Stoch, Vwap, Wma,
};
use serde::Deserialize;

const RELATIVE_TOLERANCE: f64 = 1e-9;

#[derive(Deserialize)]
struct Golden {
    generator: String,
    inputs: Inputs,
    cases: Vec<Case>,
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
struct Case {
    indicator: String,
    params: BTreeMap<String, f64>,
    outputs: BTreeMap<String, Vec<Option<f64>>>,
}

impl Case {
    fn usize(&self, name: &str) -> usize {
        self.params[name] as usize
    }
}

fn golden() -> Golden {
    serde_json::from_str(include_str!("golden/indicators.json")).expect("fixture parses")
}

/// Compares one output line with TA-Lib's: the same NaN positions, values within tolerance.
fn check(label: &str, got: &[f64], want: &[Option<f64>]) -> f64 {
    assert_eq!(got.len(), want.len(), "{label}: length");
    let mut worst = 0.0f64;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        match w {
            None => assert!(g.is_nan(), "{label}[{i}]: TA-Lib has no value yet, got {g}"),
            Some(w) => {
                assert!(!g.is_nan(), "{label}[{i}]: NaN, TA-Lib has {w}");
                let scale = g.abs().max(w.abs()).max(1.0);
                let err = (g - w).abs() / scale;
                worst = worst.max(err);
                assert!(
                    err <= RELATIVE_TOLERANCE,
                    "{label}[{i}]: got {g}, TA-Lib {w} (relative error {err:e})"
                );
            }
        }
    }
    worst
}

/// The first index with a value: the warm-up length.
fn first_value(want: &[Option<f64>]) -> usize {
    want.iter().position(Option::is_some).unwrap_or(want.len())
}

fn same_bits(label: &str, batch: &[f64], stream: &[f64]) {
    assert_eq!(batch.len(), stream.len(), "{label}: length");
    for (i, (a, b)) in batch.iter().zip(stream).enumerate() {
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "{label}[{i}]: batch {a}, streaming {b}"
        );
    }
}

fn nan(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

#[test]
fn indicators_match_talib() {
    let g = golden();
    assert!(g.generator.starts_with("TA-Lib"), "{}", g.generator);
    let x = &g.inputs;
    let n = x.close.len();
    assert_eq!(n, 2000);
    assert!(
        [&x.open, &x.high, &x.low, &x.volume]
            .iter()
            .all(|c| c.len() == n)
    );
    let mut seen = BTreeMap::new();
    for case in &g.cases {
        let label = format!("{} {:?}", case.indicator, case.params);
        let out = |name: &str| -> &[Option<f64>] { &case.outputs[name] };
        let c = &x.close;
        let (lookback, worst) = match case.indicator.as_str() {
            "sma" => {
                let p = case.usize("period");
                let mut s = Sma::new(p).unwrap();
                let stream: Vec<f64> = c.iter().map(|&v| nan(s.update(v))).collect();
                let batch = indicators::sma(c, p).unwrap();
                same_bits(&label, &batch, &stream);
                (s.lookback(), check(&label, &batch, out("real")))
            }
            "ema" => {
                let p = case.usize("period");
                let mut s = Ema::new(p).unwrap();
                let stream: Vec<f64> = c.iter().map(|&v| nan(s.update(v))).collect();
                let batch = indicators::ema(c, p).unwrap();
                same_bits(&label, &batch, &stream);
                (s.lookback(), check(&label, &batch, out("real")))
            }
            "wma" => {
                let p = case.usize("period");
                let mut s = Wma::new(p).unwrap();
                let stream: Vec<f64> = c.iter().map(|&v| nan(s.update(v))).collect();
                let batch = indicators::wma(c, p).unwrap();
                same_bits(&label, &batch, &stream);
                (s.lookback(), check(&label, &batch, out("real")))
            }
            "rsi" => {
                let p = case.usize("period");
                let mut s = Rsi::new(p).unwrap();
                let stream: Vec<f64> = c.iter().map(|&v| nan(s.update(v))).collect();
                let batch = indicators::rsi(c, p).unwrap();
                same_bits(&label, &batch, &stream);
                (s.lookback(), check(&label, &batch, out("real")))
            }
            "macd" => {
                let (f, sl, sg) = (case.usize("fast"), case.usize("slow"), case.usize("signal"));
                let mut s = Macd::new(f, sl, sg).unwrap();
                let stream: Vec<_> = c.iter().map(|&v| s.update(v)).collect();
                let batch = indicators::macd(c, f, sl, sg).unwrap();
                let m: Vec<f64> = stream.iter().map(|o| nan(o.map(|o| o.macd))).collect();
                let sig: Vec<f64> = stream.iter().map(|o| nan(o.map(|o| o.signal))).collect();
                let h: Vec<f64> = stream.iter().map(|o| nan(o.map(|o| o.histogram))).collect();
                same_bits(&label, &batch.macd, &m);
                same_bits(&label, &batch.signal, &sig);
                same_bits(&label, &batch.histogram, &h);
                let worst = check(&format!("{label} macd"), &batch.macd, out("macd"))
                    .max(check(
                        &format!("{label} signal"),
                        &batch.signal,
                        out("signal"),
                    ))
                    .max(check(
                        &format!("{label} histogram"),
                        &batch.histogram,
                        out("histogram"),
                    ));
                (s.lookback(), worst)
            }
            "bollinger" => {
                let p = case.usize("period");
                let (up, dn) = (case.params["dev_up"], case.params["dev_down"]);
                let mut s = Bollinger::new(p, up, dn).unwrap();
                let stream: Vec<_> = c.iter().map(|&v| s.update(v)).collect();
                let batch = indicators::bollinger(c, p, up, dn).unwrap();
                let u: Vec<f64> = stream.iter().map(|o| nan(o.map(|o| o.upper))).collect();
                let m: Vec<f64> = stream.iter().map(|o| nan(o.map(|o| o.middle))).collect();
                let l: Vec<f64> = stream.iter().map(|o| nan(o.map(|o| o.lower))).collect();
                same_bits(&label, &batch.upper, &u);
                same_bits(&label, &batch.middle, &m);
                same_bits(&label, &batch.lower, &l);
                let worst = check(&format!("{label} upper"), &batch.upper, out("upper"))
                    .max(check(
                        &format!("{label} middle"),
                        &batch.middle,
                        out("middle"),
                    ))
                    .max(check(&format!("{label} lower"), &batch.lower, out("lower")));
                (s.lookback(), worst)
            }
            "atr" => {
                let p = case.usize("period");
                let mut s = Atr::new(p).unwrap();
                let stream: Vec<f64> = (0..n)
                    .map(|i| nan(s.update(x.high[i], x.low[i], c[i])))
                    .collect();
                let batch = indicators::atr(&x.high, &x.low, c, p).unwrap();
                same_bits(&label, &batch, &stream);
                (s.lookback(), check(&label, &batch, out("real")))
            }
            "stoch" => {
                let (fk, sk, sd) = (
                    case.usize("fastk"),
                    case.usize("slowk"),
                    case.usize("slowd"),
                );
                let mut s = Stoch::new(fk, sk, sd).unwrap();
                let stream: Vec<_> = (0..n)
                    .map(|i| s.update(x.high[i], x.low[i], c[i]))
                    .collect();
                let batch = indicators::stoch(&x.high, &x.low, c, fk, sk, sd).unwrap();
                let k: Vec<f64> = stream.iter().map(|o| nan(o.map(|o| o.k))).collect();
                let d: Vec<f64> = stream.iter().map(|o| nan(o.map(|o| o.d))).collect();
                same_bits(&label, &batch.k, &k);
                same_bits(&label, &batch.d, &d);
                let worst = check(&format!("{label} k"), &batch.k, out("k")).max(check(
                    &format!("{label} d"),
                    &batch.d,
                    out("d"),
                ));
                (s.lookback(), worst)
            }
            "obv" => {
                let mut s = Obv::new();
                let stream: Vec<f64> = (0..n).map(|i| s.update(c[i], x.volume[i])).collect();
                let batch = indicators::obv(c, &x.volume).unwrap();
                same_bits(&label, &batch, &stream);
                (0, check(&label, &batch, out("real")))
            }
            "vwap" => {
                let mut s = Vwap::new();
                let stream: Vec<f64> = (0..n)
                    .map(|i| nan(s.update(x.high[i], x.low[i], c[i], x.volume[i])))
                    .collect();
                let batch = indicators::vwap(&x.high, &x.low, c, &x.volume).unwrap();
                same_bits(&label, &batch, &stream);
                (0, check(&label, &batch, out("real")))
            }
            other => panic!("fixture has an indicator this test does not know: {other}"),
        };
        for (name, want) in &case.outputs {
            assert_eq!(
                lookback,
                first_value(want),
                "{label} {name}: lookback vs TA-Lib's warm-up"
            );
        }
        *seen.entry(case.indicator.clone()).or_insert(0) += 1;
        assert!(worst <= RELATIVE_TOLERANCE, "{label}: worst {worst:e}");
    }
    let names: Vec<&str> = seen.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "atr",
            "bollinger",
            "ema",
            "macd",
            "obv",
            "rsi",
            "sma",
            "stoch",
            "vwap",
            "wma"
        ]
    );
}

#[test]
fn known_lookbacks() {
    assert_eq!(Rsi::new(14).unwrap().lookback(), 14);
    assert_eq!(Macd::new(12, 26, 9).unwrap().lookback(), 33);
    assert_eq!(Stoch::new(5, 3, 3).unwrap().lookback(), 8);
    assert_eq!(Atr::new(14).unwrap().lookback(), 14);
    assert_eq!(Ema::new(10).unwrap().lookback(), 9);
    assert_eq!(Bollinger::new(20, 2.0, 2.0).unwrap().lookback(), 19);
}
