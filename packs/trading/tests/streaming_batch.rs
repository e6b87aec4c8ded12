//! Streaming and batch forms agree bit for bit on arbitrary (seeded) data, including data
//! with flat stretches and tiny or huge magnitudes, and nothing panics.

use cadre_pack_trading::indicators::{self, Atr, Bollinger, Ema, Macd, Rsi, Sma, Stoch, Wma};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn nan(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

/// Bars (high, low, close) built from arbitrary closes and spreads.
fn hlc(closes: &[f64], spreads: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let high = closes.iter().zip(spreads).map(|(c, s)| c + s).collect();
    let low = closes
        .iter()
        .zip(spreads)
        .map(|(c, s)| c - s * 0.5)
        .collect();
    (high, low, closes.to_vec())
}

#[test]
fn streaming_equals_batch() {
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 200,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let data = (
        prop::collection::vec(prop_oneof![1e-3..1e6f64, Just(100.0)], 0..120),
        2usize..30,
    );
    runner
        .run(&data, |(closes, period)| {
            let spreads: Vec<f64> = closes.iter().map(|c| c * 0.01).collect();
            let (h, l, c) = hlc(&closes, &spreads);

            let mut s = Sma::new(period).unwrap();
            let st: Vec<f64> = c.iter().map(|&x| nan(s.update(x))).collect();
            prop_assert_eq!(bits(&indicators::sma(&c, period).unwrap()), bits(&st));

            let mut s = Ema::new(period).unwrap();
            let st: Vec<f64> = c.iter().map(|&x| nan(s.update(x))).collect();
            prop_assert_eq!(bits(&indicators::ema(&c, period).unwrap()), bits(&st));

            let mut s = Wma::new(period).unwrap();
            let st: Vec<f64> = c.iter().map(|&x| nan(s.update(x))).collect();
            prop_assert_eq!(bits(&indicators::wma(&c, period).unwrap()), bits(&st));

            let mut s = Rsi::new(period).unwrap();
            let st: Vec<f64> = c.iter().map(|&x| nan(s.update(x))).collect();
            let batch = indicators::rsi(&c, period).unwrap();
            prop_assert_eq!(bits(&batch), bits(&st));
            prop_assert!(
                batch
                    .iter()
                    .all(|v| v.is_nan() || (0.0..=100.0).contains(v))
            );

            let mut s = Atr::new(period).unwrap();
            let st: Vec<f64> = (0..c.len())
                .map(|i| nan(s.update(h[i], l[i], c[i])))
                .collect();
            prop_assert_eq!(
                bits(&indicators::atr(&h, &l, &c, period).unwrap()),
                bits(&st)
            );

            let mut s = Bollinger::new(period, 2.0, 1.5).unwrap();
            let st: Vec<_> = c.iter().map(|&x| s.update(x)).collect();
            let batch = indicators::bollinger(&c, period, 2.0, 1.5).unwrap();
            let line = |f: fn(&indicators::BollingerOutput) -> f64| -> Vec<f64> {
                st.iter().map(|o| nan(o.as_ref().map(f))).collect()
            };
            prop_assert_eq!(bits(&batch.upper), bits(&line(|o| o.upper)));
            prop_assert_eq!(bits(&batch.middle), bits(&line(|o| o.middle)));
            prop_assert_eq!(bits(&batch.lower), bits(&line(|o| o.lower)));

            // Signal periods 1.. and a fast period above the slow one (swapped, as TA-Lib).
            for (fast, slow, signal) in [
                (period, period * 2, 3),
                (period + 3, period, 1),
                (2, period + 1, period),
            ] {
                let mut s = Macd::new(fast, slow, signal).unwrap();
                let st: Vec<_> = c.iter().map(|&x| s.update(x)).collect();
                let batch = indicators::macd(&c, fast, slow, signal).unwrap();
                let line = |f: fn(&indicators::MacdOutput) -> f64| -> Vec<f64> {
                    st.iter().map(|o| nan(o.as_ref().map(f))).collect()
                };
                prop_assert_eq!(bits(&batch.macd), bits(&line(|o| o.macd)));
                prop_assert_eq!(bits(&batch.signal), bits(&line(|o| o.signal)));
                prop_assert_eq!(bits(&batch.histogram), bits(&line(|o| o.histogram)));
            }

            for (slowk, slowd) in [(3, 3), (1, 1), (period, 2)] {
                let mut s = Stoch::new(period, slowk, slowd).unwrap();
                let st: Vec<_> = (0..c.len()).map(|i| s.update(h[i], l[i], c[i])).collect();
                let batch = indicators::stoch(&h, &l, &c, period, slowk, slowd).unwrap();
                let k: Vec<f64> = st.iter().map(|o| nan(o.map(|o| o.k))).collect();
                let d: Vec<f64> = st.iter().map(|o| nan(o.map(|o| o.d))).collect();
                prop_assert_eq!(bits(&batch.k), bits(&k));
                prop_assert_eq!(bits(&batch.d), bits(&d));
            }
            let batch = indicators::stoch(&h, &l, &c, period, 3, 3).unwrap();

            let volume: Vec<f64> = c.iter().map(|x| (x * 7.0).fract() * 1e4).collect();
            let mut s = indicators::Obv::new();
            let st: Vec<f64> = c
                .iter()
                .zip(&volume)
                .map(|(&x, &v)| s.update(x, v))
                .collect();
            prop_assert_eq!(bits(&indicators::obv(&c, &volume).unwrap()), bits(&st));
            prop_assert!(
                batch
                    .k
                    .iter()
                    .all(|v| v.is_nan() || (-1e-9..=100.0 + 1e-9).contains(v))
            );
            Ok(())
        })
        .unwrap();
}
