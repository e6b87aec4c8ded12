//! The market pieces together: synthetic 1-minute bars written as CSV, loaded back,
//! resampled to 5 minutes and a day, and fed to the indicators.

use std::fmt::Write as _;

use cadre_pack_trading::indicators;
use cadre_pack_trading::market::{Bar, Bars, SyntheticMarket, load_csv};
use chrono::{DateTime, SecondsFormat, TimeDelta};

#[test]
fn synthetic_csv_resample_indicators() {
    let mut market = SyntheticMarket::single(250.0, 11);
    market.interval = TimeDelta::minutes(1);
    market.start = DateTime::from_timestamp(1_767_225_600, 0).unwrap(); // 2026-01-01 00:00Z
    let minute = market.generate(3 * 24 * 60).unwrap().remove(0);

    let mut csv = String::from("date,open,high,low,close,volume\n");
    for b in &minute {
        let t = b.time().to_rfc3339_opts(SecondsFormat::Secs, true);
        // `{}` prints the shortest representation that round-trips.
        writeln!(
            csv,
            "{t},{},{},{},{},{}",
            b.open(),
            b.high(),
            b.low(),
            b.close(),
            b.volume()
        )
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synthetic.csv");
    std::fs::write(&path, csv).unwrap();
    let loaded = load_csv(&path).unwrap();
    assert_eq!(loaded, minute);

    let five = loaded.resample(TimeDelta::minutes(5)).unwrap();
    assert_eq!(five.len(), 3 * 24 * 12);
    let day = five.resample(TimeDelta::days(1)).unwrap();
    assert_eq!(day, minute.resample(TimeDelta::days(1)).unwrap());
    assert_eq!(day.len(), 3);
    let first: Vec<Bar> = minute.iter().take(24 * 60).copied().collect();
    let d0 = day.as_slice()[0];
    assert_eq!(d0.open(), first[0].open());
    assert_eq!(d0.close(), first[first.len() - 1].close());
    assert_eq!(
        d0.high(),
        first.iter().map(Bar::high).fold(f64::MIN, f64::max)
    );
    assert_eq!(
        d0.low(),
        first.iter().map(Bar::low).fold(f64::MAX, f64::min)
    );
    let volume: f64 = Bars::from_vec(first).unwrap().volumes().iter().sum();
    assert!((d0.volume() - volume).abs() <= 1e-9 * volume);

    let closes = five.closes();
    let rsi = indicators::rsi(&closes, 14).unwrap();
    assert!(rsi[14..].iter().all(|v| (0.0..=100.0).contains(v)));
    let atr = indicators::atr(&five.highs(), &five.lows(), &closes, 14).unwrap();
    assert!(atr[14..].iter().all(|v| *v > 0.0));
}
