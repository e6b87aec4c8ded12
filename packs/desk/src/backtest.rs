//! The backtester core: an event-driven loop over many symbols' bars in time order.
//!
//! Each step takes the earliest time `t` among the symbols' next bars; the symbols with a bar
//! at `t` form the step's group (in the order the data was given). For the group:
//!
//! 1. the [`Broker`] sees each bar first and fills the working orders (a market order placed
//!    on the previous bar fills at this bar's open — see [`crate::broker`]); fills update cash
//!    and positions;
//! 2. the [`Strategy`] gets [`Strategy::on_bar`] for each bar with a [`Context`] and may place
//!    orders, which reach the broker when its `on_bar` returns (so they fill on a later bar);
//! 3. the equity `cash + Σ position · last close` is recorded for `t`.
//!
//! **No look-ahead, by construction.** A [`Context`] holds only slices that end at the
//! current step: [`Context::history`] is the current symbol's bars up to and including the
//! current one, [`Context::history_of`] another symbol's bars with time `≤ t`. No method
//! reaches a later bar. A test records the latest time a strategy could observe on every bar.
//!
//! **Accounting.** A buy of `q` at `p` with commission `c` takes `q·p + c` from cash, a sell
//! gives `q·p − c`. There is no cash or margin check yet: positions may be short and cash
//! negative. Positions left open at the end are valued at their last close.
//!
//! **Deterministic.** No clocks, no hashing, no threads: the same data and strategy give the
//! same [`BacktestReport`], byte for byte once serialised.
//!
//! The loop allocates nothing per bar (fills and orders are allocated per trade), so a simple
//! strategy runs at millions of bars per second (`benches/backtest.rs`).

use cadre_core::{Error, Result};
use cadre_pack_trading::indicators::Sma;
use cadre_pack_trading::market::{Bar, Bars};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::broker::{Broker, ExecutionQuality};
use crate::model::{Fill, Order, OrderId, OrderKind, Side, positive};

/// A trading strategy driven bar by bar.
pub trait Strategy {
    /// Called once before the first bar with the symbols, in the order of their indices.
    ///
    /// # Errors
    ///
    /// A strategy may refuse the data (e.g. too many symbols); the backtest stops with it.
    fn start(&mut self, symbols: &[String]) -> Result<()> {
        let _ = symbols;
        Ok(())
    }

    /// Called for each bar, after the broker has filled the orders due at it.
    ///
    /// # Errors
    ///
    /// An error stops the backtest with it.
    fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<()>;
}

/// An order a strategy asked for, turned into an [`Order`] when `on_bar` returns.
#[derive(Debug, Clone, Copy)]
struct Intent {
    symbol: usize,
    side: Side,
    quantity: f64,
    kind: OrderKind,
}

/// What a strategy sees on one bar: the past and present only, and a way to place orders.
#[derive(Debug)]
pub struct Context<'a> {
    symbol: usize,
    symbols: &'a [String],
    data: &'a [(String, Bars)],
    visible: &'a [usize],
    positions: &'a [f64],
    cash: f64,
    intents: &'a mut Vec<Intent>,
}

impl Context<'_> {
    /// The current symbol's index (into [`Strategy::start`]'s list).
    pub fn symbol_index(&self) -> usize {
        self.symbol
    }
    /// The current symbol.
    pub fn symbol(&self) -> &str {
        &self.symbols[self.symbol]
    }
    /// The current bar.
    pub fn bar(&self) -> &Bar {
        let history = self.history();
        &history[history.len() - 1]
    }
    /// The current time (the current bar's).
    pub fn time(&self) -> DateTime<Utc> {
        self.bar().time()
    }
    /// The current symbol's bars up to and including the current one.
    pub fn history(&self) -> &[Bar] {
        self.history_of(self.symbol)
    }
    /// Symbol `index`'s bars with time at or before the current time (empty for an unknown
    /// index).
    pub fn history_of(&self, index: usize) -> &[Bar] {
        match (self.data.get(index), self.visible.get(index)) {
            (Some((_, bars)), Some(&n)) => &bars.as_slice()[..n],
            _ => &[],
        }
    }
    /// The current symbol's position (negative: short).
    pub fn position(&self) -> f64 {
        self.positions[self.symbol]
    }
    /// Symbol `index`'s position (0 for an unknown index).
    pub fn position_of(&self, index: usize) -> f64 {
        self.positions.get(index).copied().unwrap_or(0.0)
    }
    /// The cash before this step's orders.
    pub fn cash(&self) -> f64 {
        self.cash
    }
    /// Places an order for the current symbol; it fills on a later bar.
    pub fn submit(&mut self, side: Side, quantity: f64, kind: OrderKind) {
        self.intents.push(Intent {
            symbol: self.symbol,
            side,
            quantity,
            kind,
        });
    }
    /// A market buy of `quantity` of the current symbol.
    pub fn buy(&mut self, quantity: f64) {
        self.submit(Side::Buy, quantity, OrderKind::Market);
    }
    /// A market sell of `quantity` of the current symbol.
    pub fn sell(&mut self, quantity: f64) {
        self.submit(Side::Sell, quantity, OrderKind::Market);
    }
    /// A market order that flattens the current symbol's position (nothing when flat).
    pub fn close(&mut self) {
        let p = self.position();
        if p > 0.0 {
            self.sell(p);
        } else if p < 0.0 {
            self.buy(-p);
        }
    }
}

/// The backtest's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BacktestConfig {
    /// Cash at the start (finite, > 0).
    pub initial_cash: f64,
    /// Whether to record the equity at every step.
    pub equity_curve: bool,
}

impl Default for BacktestConfig {
    fn default() -> Self {
        Self {
            initial_cash: 1_000_000.0,
            equity_curve: true,
        }
    }
}

/// The equity at one step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EquityPoint {
    /// The step's time.
    pub time: DateTime<Utc>,
    /// `cash + Σ position · last close`.
    pub equity: f64,
}

/// What a backtest did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestReport {
    /// The symbols, in index order.
    pub symbols: Vec<String>,
    /// Bars processed.
    pub bars: usize,
    /// Steps (distinct times).
    pub steps: usize,
    /// Cash at the start.
    pub initial_cash: f64,
    /// Cash at the end.
    pub final_cash: f64,
    /// Cash plus open positions at their last close.
    pub final_equity: f64,
    /// Positions at the end, by symbol index.
    pub positions: Vec<f64>,
    /// Commission paid.
    pub fees: f64,
    /// What slippage cost (Σ slippage · quantity).
    pub slippage: f64,
    /// Round trips: times a position went back to flat.
    pub round_trips: usize,
    /// Orders still working at the end.
    pub working_orders: usize,
    /// Every fill, in order.
    pub fills: Vec<Fill>,
    /// The equity after every step (empty when not recorded).
    pub equity_curve: Vec<EquityPoint>,
    /// The broker's execution quality.
    pub execution: ExecutionQuality,
}

/// A backtest: settings and a broker; [`Backtest::run`] drives a strategy over data.
#[derive(Debug)]
pub struct Backtest<B> {
    config: BacktestConfig,
    broker: B,
}

impl<B: Broker> Backtest<B> {
    /// A backtest with these settings and this broker.
    pub fn new(config: BacktestConfig, broker: B) -> Self {
        Self { config, broker }
    }

    /// Runs `strategy` over `data` (one `(symbol, bars)` per symbol, each series in time
    /// order) and reports.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for bad settings, no or duplicate symbols, an order the strategy placed
    /// with a bad quantity (naming the symbol and time); the strategy's and the broker's
    /// errors.
    pub fn run<S: Strategy + ?Sized>(
        mut self,
        data: &[(String, Bars)],
        strategy: &mut S,
    ) -> Result<BacktestReport> {
        positive("initial_cash", self.config.initial_cash)?;
        if data.is_empty() {
            return Err(Error::invalid_input("backtest: no symbols to run over"));
        }
        let symbols: Vec<String> = data.iter().map(|(s, _)| s.clone()).collect();
        for (i, s) in symbols.iter().enumerate() {
            if symbols[..i].contains(s) {
                return Err(Error::invalid_input(format!(
                    "backtest: symbol `{s}` is given twice"
                )));
            }
        }
        strategy.start(&symbols)?;
        let n = data.len();
        let series: Vec<&[Bar]> = data.iter().map(|(_, b)| b.as_slice()).collect();
        let longest = series.iter().map(|s| s.len()).max().unwrap_or(0);
        let total: usize = series.iter().map(|s| s.len()).sum();

        let mut cursor = vec![0usize; n];
        let mut positions = vec![0.0f64; n];
        let mut last_close = vec![0.0f64; n];
        let mut group: Vec<usize> = Vec::with_capacity(n);
        let mut intents: Vec<Intent> = Vec::with_capacity(n);
        let mut new_fills: Vec<Fill> = Vec::new();
        let mut fills: Vec<Fill> = Vec::new();
        let mut curve = Vec::with_capacity(if self.config.equity_curve { longest } else { 0 });
        let mut cash = self.config.initial_cash;
        let (mut fees, mut slippage) = (0.0, 0.0);
        let (mut round_trips, mut steps, mut next_order) = (0usize, 0usize, 1u64);

        loop {
            // The step's time: the earliest next bar.
            let mut now: Option<DateTime<Utc>> = None;
            for (j, s) in series.iter().enumerate() {
                if let Some(bar) = s.get(cursor[j]) {
                    now = Some(now.map_or(bar.time(), |t| t.min(bar.time())));
                }
            }
            let Some(now) = now else { break };
            group.clear();
            for (j, s) in series.iter().enumerate() {
                if s.get(cursor[j]).is_some_and(|b| b.time() == now) {
                    group.push(j);
                }
            }
            steps += 1;

            // 1. The broker fills what is due at these bars.
            for &j in &group {
                let bar = &series[j][cursor[j]];
                self.broker.on_bar(&symbols[j], bar, &mut new_fills)?;
                for fill in new_fills.drain(..) {
                    let before = positions[j];
                    let q = fill.quantity() * fill.side().sign();
                    positions[j] += q;
                    cash -= q * fill.price() + fill.commission();
                    fees += fill.commission();
                    slippage += fill.slippage() * fill.quantity();
                    if before != 0.0 && positions[j] == 0.0 {
                        round_trips += 1;
                    }
                    fills.push(fill);
                }
                last_close[j] = bar.close();
                cursor[j] += 1;
            }

            // 2. The strategy sees the bars (cursor now counts the visible ones).
            for &j in &group {
                let mut ctx = Context {
                    symbol: j,
                    symbols: &symbols,
                    data,
                    visible: &cursor,
                    positions: &positions,
                    cash,
                    intents: &mut intents,
                };
                strategy.on_bar(&mut ctx)?;
                if !intents.is_empty() {
                    let bar = &series[j][cursor[j] - 1];
                    for intent in intents.drain(..) {
                        let s = &symbols[intent.symbol];
                        let order = Order::new(
                            OrderId(next_order),
                            s.as_str(),
                            intent.side,
                            intent.quantity,
                            intent.kind,
                            last_close[intent.symbol],
                            bar.time(),
                        )
                        .map_err(|e| {
                            e.context(format!(
                                "order placed by the strategy on {s} at {}",
                                bar.time().to_rfc3339()
                            ))
                        })?;
                        next_order += 1;
                        self.broker.submit(order)?;
                    }
                }
            }

            // 3. Equity.
            if self.config.equity_curve {
                curve.push(EquityPoint {
                    time: now,
                    equity: equity(cash, &positions, &last_close),
                });
            }
        }

        Ok(BacktestReport {
            symbols,
            bars: total,
            steps,
            initial_cash: self.config.initial_cash,
            final_cash: cash,
            final_equity: equity(cash, &positions, &last_close),
            positions,
            fees,
            slippage,
            round_trips,
            working_orders: self.broker.working(),
            fills,
            equity_curve: curve,
            execution: *self.broker.quality(),
        })
    }
}

fn equity(cash: f64, positions: &[f64], closes: &[f64]) -> f64 {
    cash + positions
        .iter()
        .zip(closes)
        .map(|(p, c)| p * c)
        .sum::<f64>()
}

#[derive(Debug, Clone)]
struct CrossState {
    fast: Sma,
    slow: Sma,
    /// The last non-zero `fast − slow` (backtrader's `NonZeroDifference`).
    last_diff: Option<f64>,
}

/// The classic moving-average crossover, long only, per symbol: buy `stake` units when the
/// fast SMA crosses above the slow one while flat, close the position when it crosses below.
///
/// A cross follows backtrader's `CrossOver`: up at bar *t* when `fast[t] > slow[t]` and the
/// last non-zero difference `fast − slow` before *t* was negative (down: mirrored). The first
/// signal can come on the bar after the slow SMA's first value.
#[derive(Debug, Clone)]
pub struct SmaCross {
    fast: usize,
    slow: usize,
    stake: f64,
    state: Vec<CrossState>,
}

impl SmaCross {
    /// The strategy with SMA periods `fast < slow` (both >= 2) and `stake` units a trade.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming `fast`, `slow` or `stake`.
    pub fn new(fast: usize, slow: usize, stake: f64) -> Result<Self> {
        Sma::new(fast).map_err(|e| e.context("sma-cross: field `fast`"))?;
        Sma::new(slow).map_err(|e| e.context("sma-cross: field `slow`"))?;
        if fast >= slow {
            return Err(Error::invalid_input(format!(
                "sma-cross: field `fast`: {fast} must be below `slow` ({slow})"
            )));
        }
        positive("stake", stake)?;
        Ok(Self {
            fast,
            slow,
            stake,
            state: Vec::new(),
        })
    }
}

impl Strategy for SmaCross {
    fn start(&mut self, symbols: &[String]) -> Result<()> {
        let mut state = Vec::with_capacity(symbols.len());
        for _ in symbols {
            state.push(CrossState {
                fast: Sma::new(self.fast)?,
                slow: Sma::new(self.slow)?,
                last_diff: None,
            });
        }
        self.state = state;
        Ok(())
    }

    fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<()> {
        let close = ctx.bar().close();
        let Some(st) = self.state.get_mut(ctx.symbol_index()) else {
            return Err(Error::invalid_input(
                "sma-cross: on_bar before start (no state for the symbol)",
            ));
        };
        let fast = st.fast.update(close);
        let slow = st.slow.update(close);
        let (Some(fast), Some(slow)) = (fast, slow) else {
            return Ok(());
        };
        let diff = fast - slow;
        if let Some(prev) = st.last_diff {
            let position = ctx.position();
            if position == 0.0 {
                if prev < 0.0 && diff > 0.0 {
                    ctx.buy(self.stake);
                }
            } else if prev > 0.0 && diff < 0.0 {
                ctx.close();
            }
        }
        if st.last_diff.is_none() || diff != 0.0 {
            st.last_diff = Some(diff);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::{CommissionModel, SimBroker, SimConfig, SlippageModel};
    use cadre_pack_trading::market::SyntheticMarket;
    use chrono::TimeDelta;

    fn t(i: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap() + TimeDelta::days(i)
    }

    fn flat_bars(closes: &[f64], start: i64) -> Bars {
        Bars::from_vec(
            closes
                .iter()
                .enumerate()
                .map(|(i, &c)| Bar::new(t(start + i as i64), c, c, c, c, 1000.0).unwrap())
                .collect(),
        )
        .unwrap()
    }

    fn market(symbols: usize, days: usize, seed: u64) -> Vec<(String, Bars)> {
        let prices: Vec<f64> = (0..symbols).map(|i| 50.0 + 10.0 * i as f64).collect();
        let corr: Vec<Vec<f64>> = (0..symbols)
            .map(|i| {
                (0..symbols)
                    .map(|j| if i == j { 1.0 } else { 0.3 })
                    .collect()
            })
            .collect();
        SyntheticMarket::correlated(prices, corr, seed)
            .generate(days)
            .unwrap()
            .into_iter()
            .enumerate()
            .map(|(i, b)| (format!("S{i:02}"), b))
            .collect()
    }

    /// Records, on every bar, the latest time it could observe through the context.
    struct Peeker {
        violations: usize,
        calls: usize,
        symbols: usize,
    }

    impl Strategy for Peeker {
        fn start(&mut self, symbols: &[String]) -> Result<()> {
            self.symbols = symbols.len();
            Ok(())
        }
        fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<()> {
            self.calls += 1;
            let now = ctx.time();
            let mut latest = ctx.history().last().map(Bar::time);
            for j in 0..self.symbols + 2 {
                if let Some(b) = ctx.history_of(j).last() {
                    latest = latest.max(Some(b.time()));
                }
            }
            if latest != Some(now) || ctx.history().last() != Some(ctx.bar()) {
                self.violations += 1;
            }
            // The history's length is the number of bars seen, never more.
            if ctx.history().len() != (now - t(0)).num_days() as usize + 1 {
                self.violations += 1;
            }
            Ok(())
        }
    }

    #[test]
    fn a_strategy_sees_nothing_after_its_bar() {
        // Symbols with different calendars: S1 starts later and has a gap.
        let mut data = market(3, 200, 3);
        let later: Vec<Bar> = data[1]
            .1
            .iter()
            .copied()
            .filter(|b| b.time() >= t(5) && (b.time() < t(50) || b.time() > t(60)))
            .collect();
        data[1].1 = Bars::from_vec(later).unwrap();
        let mut p = Peeker {
            violations: 0,
            calls: 0,
            symbols: 0,
        };
        // The length check assumes daily bars from t(0); S1 has gaps, so skip it there.
        let data_no_gaps = vec![data[0].clone(), data[2].clone()];
        let r = Backtest::new(BacktestConfig::default(), SimBroker::default())
            .run(&data_no_gaps, &mut p)
            .unwrap();
        assert_eq!(p.calls, 400);
        assert_eq!(p.violations, 0);
        assert_eq!(r.steps, 200);

        struct Latest(Vec<(DateTime<Utc>, DateTime<Utc>)>);
        impl Strategy for Latest {
            fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<()> {
                let seen = (0..3)
                    .filter_map(|j| ctx.history_of(j).last().map(Bar::time))
                    .max()
                    .unwrap();
                self.0.push((ctx.time(), seen));
                Ok(())
            }
        }
        let mut l = Latest(Vec::new());
        let r = Backtest::new(BacktestConfig::default(), SimBroker::default())
            .run(&data, &mut l)
            .unwrap();
        assert_eq!(l.0.len(), r.bars);
        assert!(l.0.iter().all(|(now, seen)| seen == now), "look-ahead");
    }

    #[test]
    fn market_orders_fill_at_the_next_open_and_cash_adds_up() {
        struct BuyThenSell;
        impl Strategy for BuyThenSell {
            fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<()> {
                match ctx.history().len() {
                    1 => ctx.buy(10.0),
                    3 => ctx.close(),
                    _ => {}
                }
                Ok(())
            }
        }
        let bars = Bars::from_vec(
            (0..5)
                .map(|i| {
                    let o = 100.0 + i as f64;
                    Bar::new(t(i), o, o + 2.0, o - 1.0, o + 1.0, 1e6).unwrap()
                })
                .collect(),
        )
        .unwrap();
        let broker = SimBroker::new(SimConfig {
            commission: CommissionModel::bps(10.0, 0.0).unwrap(),
            slippage: SlippageModel::FixedBps { bps: 10.0 },
            ..SimConfig::default()
        })
        .unwrap();
        let data = vec![("ACME".to_owned(), bars)];
        let r = Backtest::new(BacktestConfig::default(), broker)
            .run(&data, &mut BuyThenSell)
            .unwrap();
        assert_eq!(r.fills.len(), 2);
        let (buy, sell) = (&r.fills[0], &r.fills[1]);
        assert_eq!(buy.time(), t(1));
        assert_eq!(buy.price(), 101.0 * 1.001);
        assert_eq!(sell.time(), t(3));
        assert_eq!(sell.price(), 103.0 * 0.999);
        let expected = 1_000_000.0 - 10.0 * buy.price() - buy.commission() + 10.0 * sell.price()
            - sell.commission();
        assert!((r.final_equity - expected).abs() < 1e-9);
        assert_eq!(r.final_equity, r.final_cash);
        assert_eq!(r.round_trips, 1);
        assert!((r.fees - buy.commission() - sell.commission()).abs() < 1e-12);
        assert_eq!(r.equity_curve.len(), 5);
        // Step 2 (t(1)): holding 10 at close 102 after buying at the open.
        let e1 = 1_000_000.0 - 10.0 * buy.price() - buy.commission() + 10.0 * 102.0;
        assert!((r.equity_curve[1].equity - e1).abs() < 1e-9);
    }

    #[test]
    fn sma_cross_trades_on_crosses_only() {
        // Down for 40 bars, up for 40, down for 40: one golden and one death cross.
        let mut closes = Vec::new();
        for i in 0..40 {
            closes.push(200.0 - i as f64);
        }
        for i in 0..40 {
            closes.push(160.0 + 2.0 * i as f64);
        }
        for i in 0..40 {
            closes.push(240.0 - 2.0 * i as f64);
        }
        let data = vec![("ACME".to_owned(), flat_bars(&closes, 0))];
        let mut s = SmaCross::new(5, 20, 7.0).unwrap();
        let r = Backtest::new(BacktestConfig::default(), SimBroker::default())
            .run(&data, &mut s)
            .unwrap();
        assert_eq!(r.fills.len(), 2, "{:?}", r.fills);
        assert_eq!(r.fills[0].side(), Side::Buy);
        assert_eq!(r.fills[0].quantity(), 7.0);
        assert_eq!(r.fills[1].side(), Side::Sell);
        assert!(r.fills[0].time() > t(40) && r.fills[0].time() < t(60));
        assert!(r.fills[1].time() > t(80));
        assert_eq!(r.positions, vec![0.0]);
    }

    #[test]
    fn same_data_same_report_byte_for_byte() {
        let data = market(4, 600, 11);
        let run = || {
            let broker = SimBroker::new(SimConfig {
                commission: CommissionModel::bps(5.0, 1.0).unwrap(),
                slippage: SlippageModel::SquareRootImpact { coefficient: 0.8 },
                volume_cap: Some(0.01),
                latency_bars: 1,
            })
            .unwrap();
            let mut s = SmaCross::new(10, 30, 100.0).unwrap();
            let r = Backtest::new(BacktestConfig::default(), broker)
                .run(&data, &mut s)
                .unwrap();
            serde_json::to_string(&r).unwrap()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.contains("\"fills\":[{"), "the run traded");
    }

    #[test]
    fn bad_input_is_refused_with_the_field() {
        assert!(
            SmaCross::new(30, 10, 1.0)
                .unwrap_err()
                .message()
                .contains("`fast`")
        );
        assert!(SmaCross::new(10, 30, 0.0).is_err());
        let data = market(1, 10, 1);
        let twice = vec![data[0].clone(), data[0].clone()];
        let err = Backtest::new(BacktestConfig::default(), SimBroker::default())
            .run(&twice, &mut SmaCross::new(2, 3, 1.0).unwrap())
            .unwrap_err();
        assert!(err.message().contains("given twice"), "{err}");
        struct Bad;
        impl Strategy for Bad {
            fn on_bar(&mut self, ctx: &mut Context<'_>) -> Result<()> {
                ctx.buy(-1.0);
                Ok(())
            }
        }
        let err = Backtest::new(BacktestConfig::default(), SimBroker::default())
            .run(&data, &mut Bad)
            .unwrap_err();
        assert!(err.to_string().contains("`quantity`"), "{err}");
        assert!(err.to_string().contains("on S00 at"), "{err}");
    }
}
