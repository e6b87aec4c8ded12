//! Position sizing and risk limits.
//!
//! Sizing rules return a size, never place anything:
//!
//! - [`fixed_fractional`]: how many units to buy so that hitting the stop loses a fixed
//!   fraction of equity: `equity · risk_fraction / |entry − stop|`.
//! - [`volatility_target`]: the fraction of equity (leverage) that gives a position the target
//!   annualised volatility: `target_vol / asset_vol`, capped at `max_leverage`.
//! - [`kelly_fraction`] and [`capped_kelly`]: the Kelly fraction of a bet won with
//!   probability `p` paying `b` per unit lost, `f* = p − (1 − p)/b`, then scaled (e.g. ½ for
//!   "half Kelly") and clamped to `[0, cap]` (a negative edge means no bet).
//!
//! [`AtrStops`] places a stop-loss and a take-profit at multiples of the average true range
//! from the entry (and trails the stop behind the best price since entry, a chandelier exit).
//!
//! [`RiskLimits::check`] compares a portfolio with limits and returns every breach as a typed
//! [`Breach`]. Limits are positive numbers: fractions of equity for exposures, and **losses as
//! positive fractions** for VaR and drawdown, while the inputs keep the sign conventions of
//! [`risk`](crate::risk) (a VaR or drawdown of `-0.03` is a loss of 3%).

use std::fmt;

use cadre_core::{Error, Result};

fn positive(field: &str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::invalid_input(format!(
            "field `{field}`: {value} must be a finite number > 0"
        )))
    }
}

fn fraction(field: &str, value: f64) -> Result<f64> {
    if value > 0.0 && value <= 1.0 {
        Ok(value)
    } else {
        Err(Error::invalid_input(format!(
            "field `{field}`: {value} must lie in (0, 1]"
        )))
    }
}

/// The direction of a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Profits when the price rises.
    Long,
    /// Profits when the price falls.
    Short,
}

/// Stop-loss and take-profit levels of a position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExitLevels {
    /// Exit at a loss when the price reaches this level.
    pub stop_loss: f64,
    /// Exit at a profit when the price reaches this level.
    pub take_profit: f64,
}

impl ExitLevels {
    /// Which level, if any, a bar with this high and low touches, the stop first: within one
    /// bar the order of the two is unknown, and assuming the worse one is the prudent choice.
    pub fn hit(&self, direction: Direction, high: f64, low: f64) -> Option<ExitHit> {
        let (stop, take) = match direction {
            Direction::Long => (low <= self.stop_loss, high >= self.take_profit),
            Direction::Short => (high >= self.stop_loss, low <= self.take_profit),
        };
        if stop {
            Some(ExitHit::StopLoss(self.stop_loss))
        } else if take {
            Some(ExitHit::TakeProfit(self.take_profit))
        } else {
            None
        }
    }
}

/// A level a bar reached, with its price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExitHit {
    /// The stop-loss level.
    StopLoss(f64),
    /// The take-profit level.
    TakeProfit(f64),
}

/// ATR-based exits: the stop `stop_multiple × ATR` and the target `take_profit_multiple ×
/// ATR` away from the entry (e.g. 2 and 3: a reward/risk ratio of 1.5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AtrStops {
    stop_multiple: f64,
    take_profit_multiple: f64,
}

impl AtrStops {
    /// Exits at these multiples of the ATR.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the field when a multiple is not finite and > 0.
    pub fn new(stop_multiple: f64, take_profit_multiple: f64) -> Result<Self> {
        Ok(Self {
            stop_multiple: positive("stop_multiple", stop_multiple)?,
            take_profit_multiple: positive("take_profit_multiple", take_profit_multiple)?,
        })
    }

    /// The stop's distance in ATRs.
    pub fn stop_multiple(&self) -> f64 {
        self.stop_multiple
    }

    /// The target's distance in ATRs.
    pub fn take_profit_multiple(&self) -> f64 {
        self.take_profit_multiple
    }

    /// The levels of a position entered at `entry` when the ATR is `atr`. A long's stop is
    /// floored at 0 (a price cannot go below it).
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the field when `entry` or `atr` is not finite and > 0.
    pub fn levels(&self, direction: Direction, entry: f64, atr: f64) -> Result<ExitLevels> {
        positive("entry", entry)?;
        positive("atr", atr)?;
        let (stop, take) = (self.stop_multiple * atr, self.take_profit_multiple * atr);
        Ok(match direction {
            Direction::Long => ExitLevels {
                stop_loss: (entry - stop).max(0.0),
                take_profit: entry + take,
            },
            Direction::Short => ExitLevels {
                stop_loss: entry + stop,
                take_profit: (entry - take).max(0.0),
            },
        })
    }

    /// A trailing (chandelier) stop: `stop_multiple × ATR` behind the best price since entry
    /// (the highest high for a long, the lowest low for a short), never looser than
    /// `current` — a stop only moves in the position's favour.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the field when `best` or `atr` is not finite and > 0, or
    /// `current` is not finite.
    pub fn trail(&self, direction: Direction, current: f64, best: f64, atr: f64) -> Result<f64> {
        positive("best", best)?;
        positive("atr", atr)?;
        if !current.is_finite() {
            return Err(Error::invalid_input(format!(
                "field `current`: {current} must be a finite number"
            )));
        }
        let distance = self.stop_multiple * atr;
        Ok(match direction {
            Direction::Long => current.max(best - distance),
            Direction::Short => current.min(best + distance),
        })
    }
}

/// Units to hold so that a move from `entry` to `stop` loses `risk_fraction` of `equity`:
/// `equity · risk_fraction / |entry − stop|` (works for longs and shorts alike).
///
/// # Errors
///
/// `InvalidInput` naming the field: `equity`, `entry`, `stop` not finite and > 0,
/// `risk_fraction` outside (0, 1], or `stop` equal to `entry`.
pub fn fixed_fractional(equity: f64, risk_fraction: f64, entry: f64, stop: f64) -> Result<f64> {
    positive("equity", equity)?;
    fraction("risk_fraction", risk_fraction)?;
    positive("entry", entry)?;
    positive("stop", stop)?;
    let distance = (entry - stop).abs();
    if distance == 0.0 {
        return Err(Error::invalid_input(format!(
            "field `stop`: {stop} equals the entry, the risk per unit is 0"
        )));
    }
    Ok(equity * risk_fraction / distance)
}

/// The fraction of equity to hold (1 = fully invested, 2 = 2× leverage) so that the position's
/// annualised volatility is `target_vol`: `min(target_vol / asset_vol, max_leverage)`.
///
/// # Errors
///
/// `InvalidInput` naming `target_vol`, `asset_vol` or `max_leverage` when not finite and > 0.
pub fn volatility_target(target_vol: f64, asset_vol: f64, max_leverage: f64) -> Result<f64> {
    positive("target_vol", target_vol)?;
    positive("asset_vol", asset_vol)?;
    positive("max_leverage", max_leverage)?;
    Ok((target_vol / asset_vol).min(max_leverage))
}

/// The Kelly fraction `p − (1 − p)/b` for a bet won with probability `win_probability`
/// that pays `win_loss_ratio` per unit lost. Negative when the edge is negative.
///
/// # Errors
///
/// `InvalidInput` naming `win_probability` (outside [0, 1]) or `win_loss_ratio` (not finite
/// and > 0).
pub fn kelly_fraction(win_probability: f64, win_loss_ratio: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&win_probability) {
        return Err(Error::invalid_input(format!(
            "field `win_probability`: {win_probability} must lie in [0, 1]"
        )));
    }
    positive("win_loss_ratio", win_loss_ratio)?;
    Ok(win_probability - (1.0 - win_probability) / win_loss_ratio)
}

/// Fractional Kelly with a cap: `clamp(multiplier · f*, 0, cap)` (`multiplier` 0.5 is "half
/// Kelly"; a negative edge gives 0, no bet).
///
/// # Errors
///
/// As [`kelly_fraction`], and `InvalidInput` naming `multiplier` or `cap` when outside (0, 1].
pub fn capped_kelly(
    win_probability: f64,
    win_loss_ratio: f64,
    multiplier: f64,
    cap: f64,
) -> Result<f64> {
    let f = kelly_fraction(win_probability, win_loss_ratio)?;
    fraction("multiplier", multiplier)?;
    fraction("cap", cap)?;
    Ok((multiplier * f).clamp(0.0, cap))
}

/// One limit a portfolio broke, with the observed value and the limit.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Breach {
    /// One position's |notional| / equity is above `max_position`.
    Position {
        /// The position's symbol.
        symbol: String,
        /// |notional| / equity.
        fraction: f64,
        /// The limit.
        limit: f64,
    },
    /// Σ|notional| / equity is above `max_gross_leverage`.
    GrossLeverage {
        /// Σ|notional| / equity.
        leverage: f64,
        /// The limit.
        limit: f64,
    },
    /// |Σ notional| / equity is above `max_net_leverage`.
    NetLeverage {
        /// |Σ notional| / equity.
        leverage: f64,
        /// The limit.
        limit: f64,
    },
    /// The VaR loss (−VaR) is above `max_var_loss`.
    Var {
        /// The loss, a positive fraction.
        loss: f64,
        /// The limit.
        limit: f64,
    },
    /// The drawdown (−drawdown) is above `max_drawdown`.
    Drawdown {
        /// The loss from the peak, a positive fraction.
        loss: f64,
        /// The limit.
        limit: f64,
    },
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Position {
                symbol,
                fraction,
                limit,
            } => write!(
                f,
                "position `{symbol}` is {fraction} of equity, limit {limit}"
            ),
            Self::GrossLeverage { leverage, limit } => {
                write!(f, "gross leverage {leverage}, limit {limit}")
            }
            Self::NetLeverage { leverage, limit } => {
                write!(f, "net leverage {leverage}, limit {limit}")
            }
            Self::Var { loss, limit } => write!(f, "VaR loss {loss}, limit {limit}"),
            Self::Drawdown { loss, limit } => write!(f, "drawdown {loss}, limit {limit}"),
        }
    }
}

/// A position as the limits see it: a symbol and its signed notional (negative when short),
/// in the currency of equity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exposure<'a> {
    /// The instrument.
    pub symbol: &'a str,
    /// Signed market value.
    pub notional: f64,
}

/// What [`RiskLimits::check`] looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PortfolioState<'a> {
    /// Account equity (> 0).
    pub equity: f64,
    /// Open positions.
    pub positions: &'a [Exposure<'a>],
    /// The portfolio's VaR as [`risk`](crate::risk) reports it (a loss is negative), if known.
    pub var: Option<f64>,
    /// The current drawdown (`<= 0`), if known.
    pub drawdown: Option<f64>,
}

/// Limits on a portfolio; each is optional (`None` = not checked) and positive.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RiskLimits {
    max_position: Option<f64>,
    max_gross_leverage: Option<f64>,
    max_net_leverage: Option<f64>,
    max_var_loss: Option<f64>,
    max_drawdown: Option<f64>,
}

impl RiskLimits {
    /// No limits.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The largest |notional| / equity of any single position.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming `max_position` when not finite and > 0.
    pub fn with_max_position(mut self, limit: f64) -> Result<Self> {
        self.max_position = Some(positive("max_position", limit)?);
        Ok(self)
    }

    /// The largest Σ|notional| / equity.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming `max_gross_leverage` when not finite and > 0.
    pub fn with_max_gross_leverage(mut self, limit: f64) -> Result<Self> {
        self.max_gross_leverage = Some(positive("max_gross_leverage", limit)?);
        Ok(self)
    }

    /// The largest |Σ notional| / equity.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming `max_net_leverage` when not finite and > 0.
    pub fn with_max_net_leverage(mut self, limit: f64) -> Result<Self> {
        self.max_net_leverage = Some(positive("max_net_leverage", limit)?);
        Ok(self)
    }

    /// The largest VaR loss, a positive fraction (0.02 allows a VaR down to −0.02).
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming `max_var_loss` when not finite and > 0.
    pub fn with_max_var_loss(mut self, limit: f64) -> Result<Self> {
        self.max_var_loss = Some(positive("max_var_loss", limit)?);
        Ok(self)
    }

    /// The largest drawdown, a fraction in (0, 1] (0.2 allows a drawdown down to −0.2).
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming `max_drawdown` when outside (0, 1].
    pub fn with_max_drawdown(mut self, limit: f64) -> Result<Self> {
        self.max_drawdown = Some(fraction("max_drawdown", limit)?);
        Ok(self)
    }

    /// Every breach of these limits by `state`, in the order position (in input order), gross,
    /// net, VaR, drawdown; empty when all hold. A value equal to its limit is not a breach.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the field when `equity` is not finite and > 0, a notional, the
    /// VaR or the drawdown is not finite, or the drawdown is positive.
    pub fn check(&self, state: &PortfolioState<'_>) -> Result<Vec<Breach>> {
        let equity = positive("equity", state.equity)?;
        for (i, p) in state.positions.iter().enumerate() {
            if !p.notional.is_finite() {
                return Err(Error::invalid_input(format!(
                    "field `positions[{i}].notional` ({}): {} is not finite",
                    p.symbol, p.notional
                )));
            }
        }
        if let Some(v) = state.var.filter(|v| !v.is_finite()) {
            return Err(Error::invalid_input(format!(
                "field `var`: {v} is not finite"
            )));
        }
        if let Some(d) = state.drawdown.filter(|d| !(d.is_finite() && *d <= 0.0)) {
            return Err(Error::invalid_input(format!(
                "field `drawdown`: {d} must be a finite number <= 0"
            )));
        }
        let mut out = Vec::new();
        if let Some(limit) = self.max_position {
            for p in state.positions {
                let fraction = p.notional.abs() / equity;
                if fraction > limit {
                    out.push(Breach::Position {
                        symbol: p.symbol.to_owned(),
                        fraction,
                        limit,
                    });
                }
            }
        }
        if let Some(limit) = self.max_gross_leverage {
            let leverage = state
                .positions
                .iter()
                .map(|p| p.notional.abs())
                .sum::<f64>()
                / equity;
            if leverage > limit {
                out.push(Breach::GrossLeverage { leverage, limit });
            }
        }
        if let Some(limit) = self.max_net_leverage {
            let leverage = state
                .positions
                .iter()
                .map(|p| p.notional)
                .sum::<f64>()
                .abs()
                / equity;
            if leverage > limit {
                out.push(Breach::NetLeverage { leverage, limit });
            }
        }
        if let (Some(limit), Some(var)) = (self.max_var_loss, state.var)
            && -var > limit
        {
            out.push(Breach::Var { loss: -var, limit });
        }
        if let (Some(limit), Some(dd)) = (self.max_drawdown, state.drawdown)
            && -dd > limit
        {
            out.push(Breach::Drawdown { loss: -dd, limit });
        }
        Ok(out)
    }
}
