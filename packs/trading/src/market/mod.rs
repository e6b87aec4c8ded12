//! Market data: validated [`Bar`]s, [`Tick`]s and [`Quote`]s, the [`Bars`] series that keeps
//! time strictly increasing, resampling, OHLCV CSV and Parquet loaders and a seeded synthetic
//! generator.

mod csv;
mod parquet;
mod synthetic;

pub(crate) use csv::parse_date;
pub use csv::{load_csv, parse_csv};
pub use parquet::load_parquet;
pub use synthetic::{Regime, SyntheticMarket};

use cadre_core::{Error, Result};
use chrono::{DateTime, TimeDelta, Utc};

/// Loads OHLCV bars with the loader the file's extension picks: [`load_parquet`] for
/// `.parquet` and `.pq` (any case), [`load_csv`] for anything else.
///
/// # Errors
///
/// As the chosen loader: `InvalidInput` naming the file and the line or row.
pub fn load_bars(path: impl AsRef<std::path::Path>) -> Result<Bars> {
    let path = path.as_ref();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("parquet" | "pq") => load_parquet(path),
        _ => load_csv(path),
    }
}

fn finite(what: &str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::invalid_input(format!(
            "{what} must be a finite number, got {value}"
        )))
    }
}

fn non_negative(what: &str, value: f64) -> Result<f64> {
    finite(what, value)?;
    if value < 0.0 {
        return Err(Error::invalid_input(format!(
            "{what} must be at least 0, got {value}"
        )));
    }
    Ok(value)
}

/// One OHLCV bar: the first, highest, lowest and last traded price of an interval starting at
/// `time`, and the volume traded in it.
///
/// Invariants, checked by [`Bar::new`]: every number is finite, `high >= max(open, close)`,
/// `low <= min(open, close)` (hence `low <= high`) and `volume >= 0`. Prices may be zero or
/// negative (spreads, some futures).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    time: DateTime<Utc>,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
}

impl Bar {
    /// A bar, or an [`ErrorCode::InvalidInput`](cadre_core::ErrorCode::InvalidInput) error
    /// naming the field that breaks an invariant.
    pub fn new(
        time: DateTime<Utc>,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> Result<Self> {
        finite("open", open)?;
        finite("high", high)?;
        finite("low", low)?;
        finite("close", close)?;
        non_negative("volume", volume)?;
        if high < open.max(close) {
            return Err(Error::invalid_input(format!(
                "high {high} is below max(open, close) = {}",
                open.max(close)
            )));
        }
        if low > open.min(close) {
            return Err(Error::invalid_input(format!(
                "low {low} is above min(open, close) = {}",
                open.min(close)
            )));
        }
        Ok(Self {
            time,
            open,
            high,
            low,
            close,
            volume,
        })
    }

    /// When the bar's interval starts.
    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }
    /// The first price.
    pub fn open(&self) -> f64 {
        self.open
    }
    /// The highest price.
    pub fn high(&self) -> f64 {
        self.high
    }
    /// The lowest price.
    pub fn low(&self) -> f64 {
        self.low
    }
    /// The last price.
    pub fn close(&self) -> f64 {
        self.close
    }
    /// The volume traded.
    pub fn volume(&self) -> f64 {
        self.volume
    }
    /// The typical price `(high + low + close) / 3`.
    pub fn typical_price(&self) -> f64 {
        (self.high + self.low + self.close) / 3.0
    }
}

/// One trade: its time, price and size (finite, size `>= 0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tick {
    time: DateTime<Utc>,
    price: f64,
    size: f64,
}

impl Tick {
    /// A trade, or an error naming the bad field.
    pub fn new(time: DateTime<Utc>, price: f64, size: f64) -> Result<Self> {
        finite("price", price)?;
        non_negative("size", size)?;
        Ok(Self { time, price, size })
    }
    /// When the trade happened.
    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }
    /// The traded price.
    pub fn price(&self) -> f64 {
        self.price
    }
    /// The traded size.
    pub fn size(&self) -> f64 {
        self.size
    }
}

/// The top of the book: best bid and ask with their sizes.
///
/// Invariants, checked by [`Quote::new`]: all finite, `bid <= ask` (a locked book is allowed,
/// a crossed one is not) and both sizes `>= 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quote {
    time: DateTime<Utc>,
    bid: f64,
    ask: f64,
    bid_size: f64,
    ask_size: f64,
}

impl Quote {
    /// A quote, or an error naming the bad field.
    pub fn new(
        time: DateTime<Utc>,
        bid: f64,
        ask: f64,
        bid_size: f64,
        ask_size: f64,
    ) -> Result<Self> {
        finite("bid", bid)?;
        finite("ask", ask)?;
        non_negative("bid_size", bid_size)?;
        non_negative("ask_size", ask_size)?;
        if bid > ask {
            return Err(Error::invalid_input(format!(
                "bid {bid} is above ask {ask} (crossed quote)"
            )));
        }
        Ok(Self {
            time,
            bid,
            ask,
            bid_size,
            ask_size,
        })
    }
    /// When the quote was seen.
    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }
    /// The best bid.
    pub fn bid(&self) -> f64 {
        self.bid
    }
    /// The best ask.
    pub fn ask(&self) -> f64 {
        self.ask
    }
    /// The size at the best bid.
    pub fn bid_size(&self) -> f64 {
        self.bid_size
    }
    /// The size at the best ask.
    pub fn ask_size(&self) -> f64 {
        self.ask_size
    }
    /// `(bid + ask) / 2`.
    pub fn mid(&self) -> f64 {
        (self.bid + self.ask) / 2.0
    }
    /// `ask - bid`.
    pub fn spread(&self) -> f64 {
        self.ask - self.bid
    }
}

/// A series of bars whose times are strictly increasing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bars {
    bars: Vec<Bar>,
}

impl Bars {
    /// An empty series.
    pub fn new() -> Self {
        Self::default()
    }

    /// A series from `bars`, or an error naming the first index whose time is not after the
    /// previous bar's.
    pub fn from_vec(bars: Vec<Bar>) -> Result<Self> {
        for (i, w) in bars.windows(2).enumerate() {
            if w[1].time <= w[0].time {
                return Err(Error::invalid_input(format!(
                    "bar {}: time {} is not after the previous bar's {}",
                    i + 1,
                    w[1].time.to_rfc3339(),
                    w[0].time.to_rfc3339()
                )));
            }
        }
        Ok(Self { bars })
    }

    /// Appends `bar`, or fails if its time is not after the last bar's.
    pub fn push(&mut self, bar: Bar) -> Result<()> {
        if let Some(last) = self.bars.last()
            && bar.time <= last.time
        {
            return Err(Error::invalid_input(format!(
                "time {} is not after the last bar's {}",
                bar.time.to_rfc3339(),
                last.time.to_rfc3339()
            )));
        }
        self.bars.push(bar);
        Ok(())
    }

    /// The bars, oldest first.
    pub fn as_slice(&self) -> &[Bar] {
        &self.bars
    }
    /// How many bars.
    pub fn len(&self) -> usize {
        self.bars.len()
    }
    /// Whether there are no bars.
    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }
    /// The bars, oldest first.
    pub fn iter(&self) -> std::slice::Iter<'_, Bar> {
        self.bars.iter()
    }
    /// The opens.
    pub fn opens(&self) -> Vec<f64> {
        self.bars.iter().map(Bar::open).collect()
    }
    /// The highs.
    pub fn highs(&self) -> Vec<f64> {
        self.bars.iter().map(Bar::high).collect()
    }
    /// The lows.
    pub fn lows(&self) -> Vec<f64> {
        self.bars.iter().map(Bar::low).collect()
    }
    /// The closes.
    pub fn closes(&self) -> Vec<f64> {
        self.bars.iter().map(Bar::close).collect()
    }
    /// The volumes.
    pub fn volumes(&self) -> Vec<f64> {
        self.bars.iter().map(Bar::volume).collect()
    }

    /// Aggregates the bars into buckets of `interval` (1m → 5m → 1d ...).
    ///
    /// Buckets are aligned to the interval counted from the Unix epoch (so a 1-day bucket
    /// starts at 00:00 UTC, a 5-minute one at :00, :05, ...), and a resampled bar's time is its
    /// bucket's start. Open is the first bar's open, high the max, low the min, close the last
    /// bar's close, volume the sum. Empty buckets produce no bar. `interval` must be a positive
    /// whole number of milliseconds.
    pub fn resample(&self, interval: TimeDelta) -> Result<Bars> {
        let step = interval.num_milliseconds();
        if step <= 0 || TimeDelta::milliseconds(step) != interval {
            return Err(Error::invalid_input(format!(
                "resample interval must be a positive whole number of milliseconds, got {interval}"
            )));
        }
        let bucket_of = |t: DateTime<Utc>| t.timestamp_millis().div_euclid(step);
        let mut out: Vec<Bar> = Vec::new();
        let mut current: Option<(i64, Bar)> = None;
        for bar in &self.bars {
            let bucket = bucket_of(bar.time);
            match &mut current {
                Some((b, agg)) if *b == bucket => {
                    agg.high = agg.high.max(bar.high);
                    agg.low = agg.low.min(bar.low);
                    agg.close = bar.close;
                    agg.volume += bar.volume;
                }
                _ => {
                    if let Some((_, agg)) = current.take() {
                        out.push(agg);
                    }
                    let start =
                        DateTime::from_timestamp_millis(bucket * step).ok_or_else(|| {
                            Error::invalid_input(format!(
                                "bucket start of {} is out of range",
                                bar.time
                            ))
                        })?;
                    current = Some((
                        bucket,
                        Bar {
                            time: start,
                            ..*bar
                        },
                    ));
                }
            }
        }
        if let Some((_, agg)) = current {
            out.push(agg);
        }
        Ok(Bars { bars: out })
    }
}

impl<'a> IntoIterator for &'a Bars {
    type Item = &'a Bar;
    type IntoIter = std::slice::Iter<'a, Bar>;
    fn into_iter(self) -> Self::IntoIter {
        self.bars.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap() + TimeDelta::minutes(min)
    }

    #[test]
    fn bar_invariants_are_checked() {
        assert!(Bar::new(t(0), 10.0, 11.0, 9.0, 10.5, 100.0).is_ok());
        let e = Bar::new(t(0), 10.0, 9.5, 9.0, 10.5, 1.0).unwrap_err();
        assert!(e.message().contains("high 9.5"), "{e}");
        let e = Bar::new(t(0), 10.0, 11.0, 10.2, 10.5, 1.0).unwrap_err();
        assert!(e.message().contains("low 10.2"), "{e}");
        let e = Bar::new(t(0), f64::NAN, 11.0, 9.0, 10.5, 1.0).unwrap_err();
        assert!(e.message().contains("open"), "{e}");
        let e = Bar::new(t(0), 10.0, 11.0, 9.0, 10.5, -1.0).unwrap_err();
        assert!(e.message().contains("volume"), "{e}");
        assert!(Bar::new(t(0), 10.0, f64::INFINITY, 9.0, 10.5, 1.0).is_err());
    }

    #[test]
    fn quote_and_tick_invariants_are_checked() {
        let q = Quote::new(t(0), 99.0, 101.0, 5.0, 0.0).unwrap();
        assert_eq!(q.mid(), 100.0);
        assert_eq!(q.spread(), 2.0);
        assert!(Quote::new(t(0), 100.0, 100.0, 1.0, 1.0).is_ok());
        assert!(Quote::new(t(0), 101.0, 100.0, 1.0, 1.0).is_err());
        assert!(Quote::new(t(0), 99.0, 100.0, -1.0, 1.0).is_err());
        assert!(Tick::new(t(0), 100.0, 3.0).is_ok());
        assert!(Tick::new(t(0), f64::NAN, 3.0).is_err());
        assert!(Tick::new(t(0), 100.0, -3.0).is_err());
    }

    #[test]
    fn series_time_is_strictly_increasing() {
        let b = |m| Bar::new(t(m), 1.0, 1.0, 1.0, 1.0, 0.0).unwrap();
        let mut s = Bars::new();
        s.push(b(0)).unwrap();
        s.push(b(1)).unwrap();
        assert!(s.push(b(1)).is_err());
        assert!(s.push(b(0)).is_err());
        assert_eq!(s.len(), 2);
        let e = Bars::from_vec(vec![b(0), b(2), b(2)]).unwrap_err();
        assert!(e.message().starts_with("bar 2:"), "{e}");
    }

    #[test]
    fn resample_one_minute_to_five_minutes_and_one_day() {
        let mut s = Bars::new();
        // 09:00 .. 09:11, prices i, high i+0.5, low i-0.5, volume 1.
        for m in 0..12 {
            let p = 100.0 + m as f64;
            s.push(Bar::new(t(m), p, p + 0.5, p - 0.5, p + 0.25, 1.0).unwrap())
                .unwrap();
        }
        let five = s.resample(TimeDelta::minutes(5)).unwrap();
        assert_eq!(five.len(), 3);
        let first = five.as_slice()[0];
        assert_eq!(first.time(), t(0));
        assert_eq!(
            (
                first.open(),
                first.high(),
                first.low(),
                first.close(),
                first.volume()
            ),
            (100.0, 104.5, 99.5, 104.25, 5.0)
        );
        assert_eq!(five.as_slice()[2].time(), t(10));
        assert_eq!(five.as_slice()[2].volume(), 2.0);
        let day = five.resample(TimeDelta::days(1)).unwrap();
        assert_eq!(day.len(), 1);
        let d = day.as_slice()[0];
        assert_eq!(d.time(), Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap());
        assert_eq!(
            (d.open(), d.high(), d.low(), d.close(), d.volume()),
            (100.0, 111.5, 99.5, 111.25, 12.0)
        );
        assert!(s.resample(TimeDelta::zero()).is_err());
        assert!(s.resample(TimeDelta::minutes(-5)).is_err());
    }

    #[test]
    fn resample_aligns_buckets_to_the_interval() {
        let mut s = Bars::new();
        for m in [3, 4, 5, 9, 10] {
            s.push(Bar::new(t(m), 1.0, 1.0, 1.0, 1.0, 1.0).unwrap())
                .unwrap();
        }
        let five = s.resample(TimeDelta::minutes(5)).unwrap();
        let times: Vec<_> = five.iter().map(Bar::time).collect();
        assert_eq!(times, [t(0), t(5), t(10)]);
        let vols: Vec<_> = five.iter().map(Bar::volume).collect();
        assert_eq!(vols, [2.0, 2.0, 1.0]);
    }
}
