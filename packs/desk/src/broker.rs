//! Execution: the [`Broker`] trait and the simulated [`SimBroker`].
//!
//! **Fill timing.** A broker sees bars one at a time, after the strategy has decided on the
//! previous ones. An order submitted while bar *t* is current is first considered on bar
//! *t + 1 + latency* of its symbol (`latency` in bars, 0 by default): a **market order fills
//! at that bar's open**, as in backtrader's default (`cheat_on_open` off); nautilus fills at
//! the current close instead. A buy limit order fills when the bar trades at or below its
//! limit, at `min(open, limit)`; a sell limit at or above, at `max(open, limit)`.
//!
//! **Slippage** moves the reference price (the open, or the limit order's price) against the
//! order by a fraction `f`: `price = ref·(1 + f)` for a buy, `ref·(1 − f)` for a sell, then
//! clamped to the bar's range (`≤ high` for a buy, `≥ low` for a sell — backtrader's
//! `slip_match`) and to a limit order's limit. [`SlippageModel::FixedBps`] is `f = bps/10⁴`;
//! [`SlippageModel::SquareRootImpact`] is `f = coefficient · σ · √(q / V)` with `q` the filled
//! quantity, `V` the bar's volume and `σ` the bar's Parkinson volatility
//! `ln(high/low) / (2·√ln 2)` (participation `q/V` is taken as 1 when the volume is 0).
//!
//! **Commission** per fill: [`CommissionModel::PerShare`] `max(minimum, rate·q)` or
//! [`CommissionModel::Bps`] `max(minimum, bps/10⁴ · q · price)`.
//!
//! **Volume cap.** With `volume_cap = Some(x)`, at most `x · V` units of a symbol fill per bar
//! (shared by its working orders, oldest first); the rest stays working and fills on later
//! bars: partial fills.
//!
//! [`ExecutionQuality`] accumulates what execution cost: slippage against the arrival price
//! (the close the strategy saw) in basis points, the fill rate and the fees.

use cadre_core::{Error, Result};
use cadre_pack_trading::market::Bar;
use serde::{Deserialize, Serialize};

use crate::model::{Fill, Order, OrderId, OrderKind, Side, non_negative};

/// Where orders go: submitted orders, bars in, fills out.
pub trait Broker {
    /// Accepts an order; it works from the next bar of its symbol on.
    ///
    /// # Errors
    ///
    /// A broker may refuse an order (`InvalidInput` naming why).
    fn submit(&mut self, order: Order) -> Result<()>;

    /// Processes `bar` of `symbol`: appends the fills it gives to `fills`, oldest order first.
    ///
    /// # Errors
    ///
    /// When a fill cannot be made (e.g. a non-positive price).
    fn on_bar(&mut self, symbol: &str, bar: &Bar, fills: &mut Vec<Fill>) -> Result<()>;

    /// Cancels the rest of a working order; whether it was working.
    fn cancel(&mut self, id: OrderId) -> bool;

    /// Orders still working (submitted, not completely filled, not cancelled).
    fn working(&self) -> usize;

    /// The execution quality so far.
    fn quality(&self) -> &ExecutionQuality;
}

/// What a fill costs in commission.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CommissionModel {
    /// `max(minimum, rate · quantity)`.
    PerShare {
        /// Per unit traded.
        rate: f64,
        /// The least charged per fill.
        minimum: f64,
    },
    /// `max(minimum, bps / 10⁴ · quantity · price)`.
    Bps {
        /// Basis points of the notional.
        bps: f64,
        /// The least charged per fill.
        minimum: f64,
    },
}

impl Default for CommissionModel {
    fn default() -> Self {
        Self::Bps {
            bps: 0.0,
            minimum: 0.0,
        }
    }
}

impl CommissionModel {
    /// Per-share commission; `rate` and `minimum` finite and >= 0.
    pub fn per_share(rate: f64, minimum: f64) -> Result<Self> {
        non_negative("commission.rate", rate)?;
        non_negative("commission.minimum", minimum)?;
        Ok(Self::PerShare { rate, minimum })
    }

    /// Commission in basis points of the notional; `bps` and `minimum` finite and >= 0.
    pub fn bps(bps: f64, minimum: f64) -> Result<Self> {
        non_negative("commission.bps", bps)?;
        non_negative("commission.minimum", minimum)?;
        Ok(Self::Bps { bps, minimum })
    }

    /// The commission of a fill of `quantity` at `price`.
    pub fn commission(&self, quantity: f64, price: f64) -> f64 {
        match *self {
            Self::PerShare { rate, minimum } => (rate * quantity).max(minimum),
            // backtrader's order of operations (`abs(size) * commission * price`).
            Self::Bps { bps, minimum } => (quantity * (bps / 10_000.0) * price).max(minimum),
        }
    }

    fn validate(&self) -> Result<()> {
        match *self {
            Self::PerShare { rate, minimum } => Self::per_share(rate, minimum).map(|_| ()),
            Self::Bps { bps, minimum } => Self::bps(bps, minimum).map(|_| ()),
        }
    }
}

/// How far the fill price moves against an order (module docs for the formulas).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SlippageModel {
    /// None: fills at the reference price.
    #[default]
    None,
    /// A fixed fraction of the price, in basis points.
    FixedBps {
        /// Basis points (>= 0).
        bps: f64,
    },
    /// Square-root market impact: `coefficient · σ · √(q / V)`.
    SquareRootImpact {
        /// The impact coefficient (>= 0; empirical studies find about 0.5 to 1).
        coefficient: f64,
    },
}

impl SlippageModel {
    /// The fraction `f` of the reference price a fill of `quantity` on `bar` slips.
    pub fn fraction(&self, quantity: f64, bar: &Bar) -> f64 {
        match *self {
            Self::None => 0.0,
            Self::FixedBps { bps } => bps / 10_000.0,
            Self::SquareRootImpact { coefficient } => {
                let sigma = parkinson(bar);
                let participation = if bar.volume() > 0.0 {
                    quantity / bar.volume()
                } else {
                    1.0
                };
                coefficient * sigma * participation.sqrt()
            }
        }
    }

    fn validate(&self) -> Result<()> {
        match *self {
            Self::None => Ok(()),
            Self::FixedBps { bps } => non_negative("slippage.bps", bps).map(|_| ()),
            Self::SquareRootImpact { coefficient } => {
                non_negative("slippage.coefficient", coefficient).map(|_| ())
            }
        }
    }
}

/// Parkinson's one-bar volatility estimate `ln(high/low) / (2·√ln 2)`; 0 when `low <= 0`.
pub fn parkinson(bar: &Bar) -> f64 {
    if bar.low() > 0.0 && bar.high() > bar.low() {
        (bar.high() / bar.low()).ln() / (2.0 * std::f64::consts::LN_2.sqrt())
    } else {
        0.0
    }
}

/// The [`SimBroker`]'s models.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SimConfig {
    /// Commission per fill.
    pub commission: CommissionModel,
    /// Slippage per fill.
    pub slippage: SlippageModel,
    /// The most of a bar's volume that may fill per symbol and bar, in (0, 1]; `None`: no cap.
    pub volume_cap: Option<f64>,
    /// Extra bars before an order is first considered (0: the next bar).
    pub latency_bars: usize,
}

impl SimConfig {
    /// Checks every number.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the field.
    pub fn validate(&self) -> Result<()> {
        self.commission.validate()?;
        self.slippage.validate()?;
        if let Some(cap) = self.volume_cap
            && !(cap > 0.0 && cap <= 1.0)
        {
            return Err(Error::invalid_input(format!(
                "field `volume_cap`: {cap} must lie in (0, 1]"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Working {
    order: Order,
    remaining: f64,
    wait: usize,
}

/// A simulated broker over bars (models and fill timing in the module docs).
#[derive(Debug, Clone, Default)]
pub struct SimBroker {
    config: SimConfig,
    working: Vec<Working>,
    quality: ExecutionQuality,
}

impl SimBroker {
    /// A broker with these models.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming a bad field of `config`.
    pub fn new(config: SimConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            working: Vec::new(),
            quality: ExecutionQuality::default(),
        })
    }

    /// The models.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The price a fill of `quantity` of `order` gets on `bar` before slippage, or `None`
    /// when the bar does not reach a limit order's price.
    fn reference(order: &Order, bar: &Bar) -> Option<f64> {
        match (order.kind(), order.side()) {
            (OrderKind::Market, _) => Some(bar.open()),
            (OrderKind::Limit { price }, Side::Buy) => {
                (bar.low() <= price).then(|| bar.open().min(price))
            }
            (OrderKind::Limit { price }, Side::Sell) => {
                (bar.high() >= price).then(|| bar.open().max(price))
            }
        }
    }
}

impl Broker for SimBroker {
    fn submit(&mut self, order: Order) -> Result<()> {
        self.quality.submitted += order.quantity();
        self.quality.orders += 1;
        self.working.push(Working {
            remaining: order.quantity(),
            wait: self.config.latency_bars,
            order,
        });
        Ok(())
    }

    fn on_bar(&mut self, symbol: &str, bar: &Bar, fills: &mut Vec<Fill>) -> Result<()> {
        if self.working.is_empty() {
            return Ok(());
        }
        let config = self.config;
        let mut capacity = config
            .volume_cap
            .map_or(f64::INFINITY, |c| c * bar.volume());
        let mut failure = None;
        let quality = &mut self.quality;
        self.working.retain_mut(|w| {
            if failure.is_some() || w.order.symbol() != symbol {
                return true;
            }
            if w.wait > 0 {
                w.wait -= 1;
                return true;
            }
            let Some(reference) = Self::reference(&w.order, bar) else {
                return true;
            };
            let quantity = w.remaining.min(capacity);
            if quantity <= 0.0 {
                return true;
            }
            let side = w.order.side();
            let f = config.slippage.fraction(quantity, bar);
            let mut price = match side {
                Side::Buy => (reference * (1.0 + f)).min(bar.high()),
                Side::Sell => (reference * (1.0 - f)).max(bar.low()),
            };
            if let Some(limit) = w.order.limit_price() {
                price = match side {
                    Side::Buy => price.min(limit),
                    Side::Sell => price.max(limit),
                };
            }
            let commission = config.commission.commission(quantity, price);
            let slippage = (price - reference) * side.sign();
            match Fill::new(
                w.order.id(),
                symbol,
                side,
                quantity,
                price,
                commission,
                slippage,
                bar.time(),
            ) {
                Ok(fill) => {
                    quality.record(&fill, w.order.arrival_price());
                    fills.push(fill);
                }
                Err(e) => {
                    failure = Some(e.context(format!(
                        "{} of {symbol} at {}",
                        w.order.id(),
                        bar.time().to_rfc3339()
                    )));
                    return true;
                }
            }
            capacity -= quantity;
            w.remaining -= quantity;
            // Done when what is left is rounding dust.
            w.remaining > w.order.quantity() * 1e-12
        });
        failure.map_or(Ok(()), Err)
    }

    fn cancel(&mut self, id: OrderId) -> bool {
        let before = self.working.len();
        self.working.retain(|w| w.order.id() != id);
        self.working.len() != before
    }

    fn working(&self) -> usize {
        self.working.len()
    }

    fn quality(&self) -> &ExecutionQuality {
        &self.quality
    }
}

/// Execution quality: what the fills cost against the arrival price, how much filled, fees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecutionQuality {
    /// Orders submitted.
    pub orders: usize,
    /// Fills made.
    pub fills: usize,
    /// Units submitted.
    pub submitted: f64,
    /// Units filled.
    pub filled: f64,
    /// Commission paid.
    pub fees: f64,
    /// Σ slippage · quantity: what the slippage model cost against the reference prices.
    pub slippage_cost: f64,
    /// Σ (price − arrival) · side · quantity: the cost against the arrival prices.
    pub shortfall: f64,
    /// Σ arrival · quantity.
    pub arrival_notional: f64,
}

impl ExecutionQuality {
    /// Adds a fill of an order that arrived at `arrival`.
    pub fn record(&mut self, fill: &Fill, arrival: f64) {
        self.fills += 1;
        self.filled += fill.quantity();
        self.fees += fill.commission();
        self.slippage_cost += fill.slippage() * fill.quantity();
        self.shortfall += (fill.price() - arrival) * fill.side().sign() * fill.quantity();
        self.arrival_notional += arrival * fill.quantity();
    }

    /// Filled over submitted units (1 when nothing was submitted).
    pub fn fill_rate(&self) -> f64 {
        if self.submitted > 0.0 {
            self.filled / self.submitted
        } else {
            1.0
        }
    }

    /// The notional-weighted slippage against the arrival prices, in basis points (positive:
    /// it cost money; 0 without fills).
    pub fn slippage_bps(&self) -> f64 {
        if self.arrival_notional > 0.0 {
            self.shortfall / self.arrival_notional * 10_000.0
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta, Utc};

    fn t(i: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap() + TimeDelta::days(i)
    }

    fn bar(i: i64, open: f64, high: f64, low: f64, close: f64, volume: f64) -> Bar {
        Bar::new(t(i), open, high, low, close, volume).unwrap()
    }

    fn market(id: u64, side: Side, q: f64) -> Order {
        Order::new(OrderId(id), "ACME", side, q, OrderKind::Market, 100.0, t(0)).unwrap()
    }

    #[test]
    fn market_order_fills_at_the_next_bar_open_with_fixed_slippage_and_commission() {
        let mut b = SimBroker::new(SimConfig {
            commission: CommissionModel::bps(10.0, 0.0).unwrap(),
            slippage: SlippageModel::FixedBps { bps: 5.0 },
            ..SimConfig::default()
        })
        .unwrap();
        b.submit(market(1, Side::Buy, 10.0)).unwrap();
        let mut fills = Vec::new();
        b.on_bar("OTHER", &bar(1, 50.0, 51.0, 49.0, 50.0, 1e6), &mut fills)
            .unwrap();
        assert!(fills.is_empty(), "another symbol's bar fills nothing");
        b.on_bar("ACME", &bar(1, 101.0, 103.0, 100.0, 102.0, 1e6), &mut fills)
            .unwrap();
        assert_eq!(fills.len(), 1);
        let f = &fills[0];
        assert_eq!(f.price(), 101.0 * 1.0005);
        assert_eq!(f.time(), t(1));
        assert!((f.commission() - 10.0 * 101.0 * 1.0005 * 0.001).abs() < 1e-12);
        assert!((f.slippage() - 101.0 * 0.0005).abs() < 1e-12);
        assert_eq!(b.working(), 0);
        let q = b.quality();
        assert_eq!(q.fill_rate(), 1.0);
        // arrival 100, filled at 101.0505: 105.05 bps
        assert!(
            (q.slippage_bps() - 105.05).abs() < 1e-9,
            "{}",
            q.slippage_bps()
        );
    }

    #[test]
    fn slippage_is_clamped_to_the_bar_range() {
        let mut b = SimBroker::new(SimConfig {
            slippage: SlippageModel::FixedBps { bps: 500.0 },
            ..SimConfig::default()
        })
        .unwrap();
        b.submit(market(1, Side::Buy, 1.0)).unwrap();
        b.submit(market(2, Side::Sell, 1.0)).unwrap();
        let mut fills = Vec::new();
        b.on_bar("ACME", &bar(1, 100.0, 101.0, 99.0, 100.0, 1e6), &mut fills)
            .unwrap();
        assert_eq!(fills[0].price(), 101.0);
        assert_eq!(fills[1].price(), 99.0);
    }

    #[test]
    fn volume_cap_gives_partial_fills_until_done() {
        let mut b = SimBroker::new(SimConfig {
            volume_cap: Some(0.1),
            ..SimConfig::default()
        })
        .unwrap();
        b.submit(market(1, Side::Buy, 250.0)).unwrap();
        let mut fills = Vec::new();
        for i in 1..=4 {
            b.on_bar(
                "ACME",
                &bar(i, 100.0, 100.0, 100.0, 100.0, 1000.0),
                &mut fills,
            )
            .unwrap();
        }
        let qs: Vec<f64> = fills.iter().map(Fill::quantity).collect();
        assert_eq!(qs, [100.0, 100.0, 50.0]);
        assert_eq!(b.working(), 0);
        assert_eq!(b.quality().fill_rate(), 1.0);
    }

    #[test]
    fn latency_delays_the_fill_and_cancel_stops_it() {
        let mut b = SimBroker::new(SimConfig {
            latency_bars: 2,
            ..SimConfig::default()
        })
        .unwrap();
        b.submit(market(1, Side::Sell, 5.0)).unwrap();
        b.submit(market(2, Side::Sell, 5.0)).unwrap();
        let mut fills = Vec::new();
        b.on_bar("ACME", &bar(1, 10.0, 10.0, 10.0, 10.0, 1.0), &mut fills)
            .unwrap();
        b.on_bar("ACME", &bar(2, 11.0, 11.0, 11.0, 11.0, 1.0), &mut fills)
            .unwrap();
        assert!(fills.is_empty());
        assert!(b.cancel(OrderId(2)));
        assert!(!b.cancel(OrderId(2)));
        b.on_bar("ACME", &bar(3, 12.0, 12.0, 12.0, 12.0, 1.0), &mut fills)
            .unwrap();
        assert_eq!(fills.len(), 1);
        assert_eq!(fills[0].price(), 12.0);
        assert_eq!(b.quality().fill_rate(), 0.5);
    }

    #[test]
    fn limit_orders_fill_only_when_reached() {
        let mut b = SimBroker::default();
        let limit = |id, side, price| {
            Order::new(
                OrderId(id),
                "ACME",
                side,
                1.0,
                OrderKind::Limit { price },
                100.0,
                t(0),
            )
            .unwrap()
        };
        b.submit(limit(1, Side::Buy, 95.0)).unwrap();
        b.submit(limit(2, Side::Sell, 104.0)).unwrap();
        let mut fills = Vec::new();
        b.on_bar("ACME", &bar(1, 100.0, 103.0, 96.0, 101.0, 1e6), &mut fills)
            .unwrap();
        assert!(fills.is_empty());
        b.on_bar("ACME", &bar(2, 97.0, 105.0, 94.0, 100.0, 1e6), &mut fills)
            .unwrap();
        assert_eq!(fills[0].price(), 95.0);
        assert_eq!(fills[1].price(), 104.0);
        b.submit(limit(3, Side::Buy, 95.0)).unwrap();
        b.on_bar("ACME", &bar(3, 90.0, 92.0, 89.0, 91.0, 1e6), &mut fills)
            .unwrap();
        assert_eq!(
            fills[2].price(),
            90.0,
            "a gap through the limit fills at the open"
        );
    }

    #[test]
    fn square_root_impact_grows_with_participation() {
        let model = SlippageModel::SquareRootImpact { coefficient: 1.0 };
        let b = bar(1, 100.0, 102.0, 98.0, 100.0, 10_000.0);
        let sigma = (102.0f64 / 98.0).ln() / (2.0 * std::f64::consts::LN_2.sqrt());
        assert!((model.fraction(100.0, &b) - sigma * 0.1).abs() < 1e-15);
        assert!((model.fraction(400.0, &b) - sigma * 0.2).abs() < 1e-15);
        let mut broker = SimBroker::new(SimConfig {
            slippage: model,
            ..SimConfig::default()
        })
        .unwrap();
        broker.submit(market(1, Side::Buy, 100.0)).unwrap();
        let mut fills = Vec::new();
        broker.on_bar("ACME", &b, &mut fills).unwrap();
        assert!((fills[0].price() - 100.0 * (1.0 + sigma * 0.1)).abs() < 1e-12);
    }

    #[test]
    fn commission_minimum_and_per_share() {
        let c = CommissionModel::per_share(0.005, 1.0).unwrap();
        assert_eq!(c.commission(100.0, 50.0), 1.0);
        assert_eq!(c.commission(1000.0, 50.0), 5.0);
        let c = CommissionModel::bps(1.0, 2.0).unwrap();
        assert_eq!(c.commission(10.0, 10.0), 2.0);
        assert!(
            CommissionModel::bps(-1.0, 0.0)
                .unwrap_err()
                .message()
                .contains("`commission.bps`")
        );
        let err = SimBroker::new(SimConfig {
            volume_cap: Some(1.5),
            ..SimConfig::default()
        })
        .unwrap_err();
        assert!(err.message().contains("`volume_cap`"), "{err}");
    }

    #[test]
    fn a_non_positive_fill_price_is_an_error_naming_the_order() {
        let mut b = SimBroker::default();
        b.submit(market(3, Side::Buy, 1.0)).unwrap();
        let mut fills = Vec::new();
        let err = b
            .on_bar("ACME", &bar(1, -1.0, 0.0, -2.0, -1.0, 10.0), &mut fills)
            .unwrap_err();
        assert!(err.to_string().contains("order-3 of ACME"), "{err}");
        assert!(err.to_string().contains("`price`"), "{err}");
    }
}

/// A paper-trading broker: the [`SimBroker`]'s fills and costs over a feed that is replayed at
/// wall-clock speed (one bar every `pace`), recording when each order was submitted and filled
/// on the wall clock.
///
/// The desk's paper mode drives it: bars arrive at their wall-clock time, orders decided on a
/// bar fill at the next bar's open, as in a backtest, so a paper run and a backtest of the same
/// feed trade alike while operators watch, halt, flatten and review in real time.
#[derive(Debug, Clone)]
pub struct PaperBroker {
    inner: SimBroker,
    pace: std::time::Duration,
    submitted: std::collections::HashMap<OrderId, std::time::Instant>,
    waits: Vec<std::time::Duration>,
}

impl PaperBroker {
    /// A paper broker with the [`SimBroker`]'s models, over a feed of one bar every `pace`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming a bad field of `config`, or a zero `pace`.
    pub fn new(config: SimConfig, pace: std::time::Duration) -> Result<Self> {
        if pace.is_zero() {
            return Err(Error::invalid_input("field `pace`: must be more than 0"));
        }
        Ok(Self {
            inner: SimBroker::new(config)?,
            pace,
            submitted: std::collections::HashMap::new(),
            waits: Vec::new(),
        })
    }

    /// Wall-clock time between bars.
    pub fn pace(&self) -> std::time::Duration {
        self.pace
    }

    /// Wall-clock time from each filled order's submission to its (first) fill.
    pub fn fill_waits(&self) -> &[std::time::Duration] {
        &self.waits
    }
}

impl Broker for PaperBroker {
    fn submit(&mut self, order: Order) -> Result<()> {
        let id = order.id();
        self.inner.submit(order)?;
        self.submitted.insert(id, std::time::Instant::now());
        Ok(())
    }

    fn on_bar(&mut self, symbol: &str, bar: &Bar, fills: &mut Vec<Fill>) -> Result<()> {
        let before = fills.len();
        self.inner.on_bar(symbol, bar, fills)?;
        for f in &fills[before..] {
            if let Some(at) = self.submitted.remove(&f.order()) {
                self.waits.push(at.elapsed());
            }
        }
        Ok(())
    }

    fn cancel(&mut self, id: OrderId) -> bool {
        self.submitted.remove(&id);
        self.inner.cancel(id)
    }

    fn working(&self) -> usize {
        self.inner.working()
    }

    fn quality(&self) -> &ExecutionQuality {
        self.inner.quality()
    }
}
