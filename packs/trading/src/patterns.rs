//! Candlestick patterns, following TA-Lib's `CDL*` functions and their default candle
//! settings.
//!
//! Each function takes validated [`Bar`]s and returns one integer per bar, as TA-Lib does:
//! `100` for a bullish match, `-100` for a bearish one, `0` for none (and during the warm-up,
//! TA-Lib's lookback, given with each function). [`engulfing`] also gives `±80` when the
//! engulfing body only touches the previous body at one end.
//!
//! "Long", "short", "doji" and "near" are relative to the average of earlier candles, never the
//! current one (TA-Lib's default candle settings):
//!
//! | setting | measures | over the previous | factor |
//! |---|---|---|---|
//! | body long | real body | 10 candles | 1.0 |
//! | body short | real body | 10 candles | 1.0 |
//! | body doji | high − low | 10 candles | 0.1 |
//! | shadow long | the candle's own real body | — | 1.0 |
//! | shadow very short | high − low | 10 candles | 0.1 |
//! | near | high − low | 5 candles | 0.2 |
//!
//! The averages are running totals updated as TA-Lib updates them, so ties fall the same way.
//! A candle is white when `close >= open`, black otherwise.

use crate::market::Bar;

#[derive(Debug, Clone, Copy)]
enum Range {
    RealBody,
    HighLow,
}

#[derive(Debug, Clone, Copy)]
struct Setting {
    range: Range,
    period: usize,
    factor: f64,
}

const BODY_LONG: Setting = Setting {
    range: Range::RealBody,
    period: 10,
    factor: 1.0,
};
const BODY_SHORT: Setting = Setting {
    range: Range::RealBody,
    period: 10,
    factor: 1.0,
};
const BODY_DOJI: Setting = Setting {
    range: Range::HighLow,
    period: 10,
    factor: 0.1,
};
const SHADOW_LONG: Setting = Setting {
    range: Range::RealBody,
    period: 0,
    factor: 1.0,
};
const SHADOW_VERY_SHORT: Setting = Setting {
    range: Range::HighLow,
    period: 10,
    factor: 0.1,
};
const NEAR: Setting = Setting {
    range: Range::HighLow,
    period: 5,
    factor: 0.2,
};

fn body(b: &Bar) -> f64 {
    (b.close() - b.open()).abs()
}
fn white(b: &Bar) -> bool {
    b.close() >= b.open()
}
fn body_top(b: &Bar) -> f64 {
    b.open().max(b.close())
}
fn body_bottom(b: &Bar) -> f64 {
    b.open().min(b.close())
}
fn upper_shadow(b: &Bar) -> f64 {
    b.high() - body_top(b)
}
fn lower_shadow(b: &Bar) -> f64 {
    body_bottom(b) - b.low()
}

fn range(r: Range, b: &Bar) -> f64 {
    match r {
        Range::RealBody => body(b),
        Range::HighLow => b.high() - b.low(),
    }
}

/// The average of a setting's range over the `period` bars before bar `i - offset`, as a
/// running total.
#[derive(Debug)]
struct Average<'a> {
    bars: &'a [Bar],
    s: Setting,
    offset: usize,
    total: f64,
}

impl<'a> Average<'a> {
    /// Starts at bar `start` (`start - offset >= s.period`).
    fn new(bars: &'a [Bar], s: Setting, offset: usize, start: usize) -> Self {
        let j = start - offset;
        let total = (j - s.period..j)
            .map(|k| range(s.range, &bars[k]))
            .fold(0.0, |t, r| t + r);
        Self {
            bars,
            s,
            offset,
            total,
        }
    }

    /// The threshold for bar `i`.
    fn at(&self, i: usize) -> f64 {
        let j = i - self.offset;
        let mean = if self.s.period == 0 {
            range(self.s.range, &self.bars[j])
        } else {
            self.total / self.s.period as f64
        };
        self.s.factor * mean
    }

    /// Moves on after bar `i` was evaluated.
    fn advance(&mut self, i: usize) {
        if self.s.period > 0 {
            let j = i - self.offset;
            self.total += range(self.s.range, &self.bars[j])
                - range(self.s.range, &self.bars[j - self.s.period]);
        }
    }
}

/// Runs `test` from `lookback` on, zeros before.
fn scan(bars: &[Bar], lookback: usize, mut test: impl FnMut(usize) -> i32) -> Vec<i32> {
    let mut out = vec![0; bars.len()];
    for (i, slot) in out.iter_mut().enumerate().skip(lookback) {
        *slot = test(i);
    }
    out
}

/// Doji (TA-Lib `CDLDOJI`), lookback 10: `100` when the real body is at most 10% of the
/// average high−low range of the 10 previous candles.
pub fn doji(bars: &[Bar]) -> Vec<i32> {
    let lookback = BODY_DOJI.period;
    if bars.len() <= lookback {
        return vec![0; bars.len()];
    }
    let mut doji = Average::new(bars, BODY_DOJI, 0, lookback);
    scan(bars, lookback, |i| {
        let hit = body(&bars[i]) <= doji.at(i);
        doji.advance(i);
        if hit { 100 } else { 0 }
    })
}

/// Hammer (TA-Lib `CDLHAMMER`), lookback 11: `100` when the body is short, the lower shadow
/// longer than the body, the upper shadow very short, and the body's bottom at most "near" the
/// previous candle's low (`<= low[i-1] + 20%` of the 5-candle average range before it).
/// The trend is not considered.
pub fn hammer(bars: &[Bar]) -> Vec<i32> {
    let lookback = 11;
    if bars.len() <= lookback {
        return vec![0; bars.len()];
    }
    let mut short = Average::new(bars, BODY_SHORT, 0, lookback);
    let mut long_shadow = Average::new(bars, SHADOW_LONG, 0, lookback);
    let mut very_short = Average::new(bars, SHADOW_VERY_SHORT, 0, lookback);
    let mut near = Average::new(bars, NEAR, 1, lookback);
    scan(bars, lookback, |i| {
        let b = &bars[i];
        let hit = body(b) < short.at(i)
            && lower_shadow(b) > long_shadow.at(i)
            && upper_shadow(b) < very_short.at(i)
            && body_bottom(b) <= bars[i - 1].low() + near.at(i);
        short.advance(i);
        long_shadow.advance(i);
        very_short.advance(i);
        near.advance(i);
        if hit { 100 } else { 0 }
    })
}

/// Shooting star (TA-Lib `CDLSHOOTINGSTAR`), lookback 11: `-100` when the body gaps up from
/// the previous body, is short, has an upper shadow longer than itself and a very short
/// lower shadow.
pub fn shooting_star(bars: &[Bar]) -> Vec<i32> {
    let lookback = 11;
    if bars.len() <= lookback {
        return vec![0; bars.len()];
    }
    let mut short = Average::new(bars, BODY_SHORT, 0, lookback);
    let mut long_shadow = Average::new(bars, SHADOW_LONG, 0, lookback);
    let mut very_short = Average::new(bars, SHADOW_VERY_SHORT, 0, lookback);
    scan(bars, lookback, |i| {
        let b = &bars[i];
        let hit = body_bottom(b) > body_top(&bars[i - 1])
            && body(b) < short.at(i)
            && upper_shadow(b) > long_shadow.at(i)
            && lower_shadow(b) < very_short.at(i);
        short.advance(i);
        long_shadow.advance(i);
        very_short.advance(i);
        if hit { -100 } else { 0 }
    })
}

/// Engulfing (TA-Lib `CDLENGULFING`), lookback 2: a white body engulfing the previous black
/// one (`100`) or a black body engulfing the previous white one (`-100`); one end of the two
/// bodies may be equal, and when one is the value is `±80`.
pub fn engulfing(bars: &[Bar]) -> Vec<i32> {
    scan(bars, 2.min(bars.len()), |i| {
        let (p, b) = (&bars[i - 1], &bars[i]);
        let (po, pc, o, c) = (p.open(), p.close(), b.open(), b.close());
        let bullish = white(b) && !white(p) && ((c >= po && o < pc) || (c > po && o <= pc));
        let bearish = !white(b) && white(p) && ((o >= pc && c < po) || (o > pc && c <= po));
        if !(bullish || bearish) {
            return 0;
        }
        let sign = if white(b) { 1 } else { -1 };
        if o != pc && c != po {
            sign * 100
        } else {
            sign * 80
        }
    })
}

/// Morning (`bullish = true`, TA-Lib `CDLMORNINGSTAR`, `100`) or evening star (`false`,
/// `CDLEVENINGSTAR`, `-100`), lookback 12: a long first body (black for morning), a short
/// second body gapping away from it, and a third body of the other colour, not short, closing
/// more than `penetration` (TA-Lib's default 0.3) of the first body back into it.
fn star(bars: &[Bar], penetration: f64, bullish: bool) -> Vec<i32> {
    let lookback = 12;
    if bars.len() <= lookback {
        return vec![0; bars.len()];
    }
    let mut long = Average::new(bars, BODY_LONG, 2, lookback);
    let mut short = Average::new(bars, BODY_SHORT, 1, lookback);
    let mut short_third = Average::new(bars, BODY_SHORT, 0, lookback);
    scan(bars, lookback, |i| {
        let (a, s, c) = (&bars[i - 2], &bars[i - 1], &bars[i]);
        let shape = if bullish {
            !white(a)
                && white(c)
                && body_top(s) < body_bottom(a)
                && c.close() > a.close() + body(a) * penetration
        } else {
            white(a)
                && !white(c)
                && body_bottom(s) > body_top(a)
                && c.close() < a.close() - body(a) * penetration
        };
        let hit =
            shape && body(a) > long.at(i) && body(s) <= short.at(i) && body(c) > short_third.at(i);
        long.advance(i);
        short.advance(i);
        short_third.advance(i);
        match (hit, bullish) {
            (false, _) => 0,
            (true, true) => 100,
            (true, false) => -100,
        }
    })
}

/// Morning star (TA-Lib `CDLMORNINGSTAR`); see [`evening_star`] for the mirror image.
/// `100` on the third candle of: a long black body, a short body gapping down from it, a white
/// body that is not short closing above `close[i-2] + penetration * body[i-2]`. Lookback 12;
/// TA-Lib's default penetration is 0.3.
pub fn morning_star(bars: &[Bar], penetration: f64) -> Vec<i32> {
    star(bars, penetration, true)
}

/// Evening star (TA-Lib `CDLEVENINGSTAR`): `-100` on the third candle of a long white body, a
/// short body gapping up from it, and a black body that is not short closing below
/// `close[i-2] - penetration * body[i-2]`. Lookback 12; TA-Lib's default penetration is 0.3.
pub fn evening_star(bars: &[Bar], penetration: f64) -> Vec<i32> {
    star(bars, penetration, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta};

    fn bars(ohlc: &[(f64, f64, f64, f64)]) -> Vec<Bar> {
        ohlc.iter()
            .enumerate()
            .map(|(i, &(o, h, l, c))| {
                let t = DateTime::UNIX_EPOCH + TimeDelta::days(i as i64);
                Bar::new(t, o, h, l, c, 1.0).unwrap()
            })
            .collect()
    }

    #[test]
    fn engulfing_by_hand() {
        let b = bars(&[
            (10.0, 10.0, 10.0, 10.0),
            (10.0, 10.5, 8.5, 9.0), // black
            (8.8, 10.6, 8.7, 10.2), // white, engulfs: 100
            (10.3, 10.4, 8.6, 8.7), // black from 10.3 > 10.2 to 8.7 < 8.8: -100
            (8.7, 10.5, 8.6, 10.4), // white, open == previous close: 80
        ]);
        assert_eq!(engulfing(&b), [0, 0, 100, -100, 80]);
        assert!(engulfing(&[]).is_empty());
        assert_eq!(engulfing(&b[..1]), [0]);
    }

    #[test]
    fn short_inputs_give_zeros() {
        let b = bars(&[(1.0, 2.0, 0.5, 1.5); 5]);
        assert_eq!(doji(&b), [0; 5]);
        assert_eq!(hammer(&b), [0; 5]);
        assert_eq!(shooting_star(&b), [0; 5]);
        assert_eq!(morning_star(&b, 0.3), [0; 5]);
        assert_eq!(evening_star(&b, 0.3), [0; 5]);
    }

    #[test]
    fn doji_by_hand() {
        let mut rows = vec![(10.0, 11.0, 9.0, 10.5); 10];
        rows.push((10.0, 11.0, 9.0, 10.1)); // body 0.1 <= 0.1 * 2
        rows.push((10.0, 11.0, 9.0, 10.3));
        assert_eq!(&doji(&bars(&rows))[10..], &[100, 0]);
    }
}
