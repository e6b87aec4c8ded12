//! Black-Scholes-Merton pricing of European options with a continuous dividend yield.
//!
//! Inputs are validated value objects: an [`OptionContract`] (kind, strike, time to expiry in
//! years) and [`MarketInputs`] (spot, continuously compounded risk-free rate and dividend
//! yield, volatility). [`price`] and [`greeks`] (or [`Priced::new`], both at once) compute in
//! `f64`; [`Priced::premium`] reports the price as a [`Decimal`] for users.
//!
//! # Units (those of QuantLib's `AnalyticEuropeanEngine`)
//!
//! - price: in the currency of spot and strike, per unit of underlying;
//! - delta: dPrice/dSpot; gamma: d²Price/dSpot²;
//! - vega: dPrice/dσ, i.e. per **1.00** change of volatility (divide by 100 for a vol point);
//! - rho: dPrice/dr with the dividend yield held fixed, per **1.00** change of the rate
//!   (divide by 10,000 for a basis point);
//! - theta: dPrice/dt as calendar time passes, **per year** (divide by 365 for a day); usually
//!   negative.
//!
//! Time is in years; the QuantLib fixture uses Actual/365 Fixed (`T = days / 365`).
//!
//! # Implied volatility
//!
//! [`implied_vol`] solves `price(σ) = target` by Newton's method safeguarded by bisection
//! inside the bracket [`IV_MIN`]..[`IV_MAX`]: a Newton step that leaves the current bracket (or
//! a vanishing vega) falls back to bisection, and the loop stops after [`IV_MAX_ITERATIONS`].
//! A price that no volatility in the bracket reproduces (at or below the discounted intrinsic
//! value, at or above the no-arbitrage upper bound, or beyond the prices at the bracket's ends)
//! is an [`ErrorCode::InvalidInput`](cadre_core::ErrorCode::InvalidInput) error naming the
//! price and the bounds.
//!
//! # Batch
//!
//! [`price_batch`] takes a slice of plain [`BatchInput`] rows (array of structs, `Copy`, no
//! allocation per row) and returns one `Result<Priced>` per row, in order: a row that fails
//! validation gives an error naming its index, field and value and does not affect the others.

pub mod batch;
mod vmath;

use std::f64::consts::{FRAC_1_SQRT_2, PI};
use std::fmt;

use cadre_core::{Error, Result};
use libm::erfc;
use rust_decimal::{Decimal, RoundingStrategy};

/// The lowest volatility [`implied_vol`] searches (0.0001%).
pub const IV_MIN: f64 = 1e-6;
/// The highest volatility [`implied_vol`] searches (1,000%).
pub const IV_MAX: f64 = 10.0;
/// The most iterations [`implied_vol`] runs before giving up.
pub const IV_MAX_ITERATIONS: usize = 200;

/// Call or put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionKind {
    /// The right to buy at the strike.
    Call,
    /// The right to sell at the strike.
    Put,
}

impl fmt::Display for OptionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Call => "call",
            Self::Put => "put",
        })
    }
}

fn positive(field: &str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::invalid_input(format!(
            "field `{field}`: {value} must be a finite number > 0"
        )))
    }
}

fn finite(field: &str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::invalid_input(format!(
            "field `{field}`: {value} must be a finite number"
        )))
    }
}

/// A European option: kind, strike (> 0) and time to expiry in years (> 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionContract {
    kind: OptionKind,
    strike: f64,
    expiry: f64,
}

impl OptionContract {
    /// Validates and builds a contract; `expiry` is the time to expiry in years.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming `strike` or `expiry` when it is not finite and > 0.
    pub fn new(kind: OptionKind, strike: f64, expiry: f64) -> Result<Self> {
        Ok(Self {
            kind,
            strike: positive("strike", strike)?,
            expiry: positive("expiry", expiry)?,
        })
    }

    /// Call or put.
    #[must_use]
    pub fn kind(&self) -> OptionKind {
        self.kind
    }

    /// The strike.
    #[must_use]
    pub fn strike(&self) -> f64 {
        self.strike
    }

    /// Time to expiry in years.
    #[must_use]
    pub fn expiry(&self) -> f64 {
        self.expiry
    }
}

/// The market an option is priced in: spot (> 0), the continuously compounded risk-free rate
/// and dividend yield (any finite value, negative allowed) and the volatility (> 0, annual).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarketInputs {
    spot: f64,
    rate: f64,
    dividend: f64,
    vol: f64,
}

impl MarketInputs {
    /// Validates and builds the inputs.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming `spot`, `rate`, `dividend` or `vol` when it is out of range.
    pub fn new(spot: f64, rate: f64, dividend: f64, vol: f64) -> Result<Self> {
        Ok(Self {
            spot: positive("spot", spot)?,
            rate: finite("rate", rate)?,
            dividend: finite("dividend", dividend)?,
            vol: positive("vol", vol)?,
        })
    }

    /// Spot price of the underlying.
    #[must_use]
    pub fn spot(&self) -> f64 {
        self.spot
    }

    /// Continuously compounded risk-free rate.
    #[must_use]
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Continuously compounded dividend yield.
    #[must_use]
    pub fn dividend(&self) -> f64 {
        self.dividend
    }

    /// Annualised volatility.
    #[must_use]
    pub fn vol(&self) -> f64 {
        self.vol
    }

    /// The same market with another volatility.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming `vol` when it is not finite and > 0.
    pub fn with_vol(self, vol: f64) -> Result<Self> {
        Ok(Self {
            vol: positive("vol", vol)?,
            ..self
        })
    }
}

/// Sensitivities of an option's price, in the units of the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Greeks {
    delta: f64,
    gamma: f64,
    vega: f64,
    theta: f64,
    rho: f64,
}

impl Greeks {
    /// Validates and builds a set of Greeks for an option on `contract` in `market`:
    /// all finite, `gamma >= 0`, `vega >= 0` and `|delta| <= e^(-qT)` (1 without dividends),
    /// with a relative slack of 1e-12 for rounding.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the Greek and its value.
    pub fn new(
        contract: &OptionContract,
        market: &MarketInputs,
        delta: f64,
        gamma: f64,
        vega: f64,
        theta: f64,
        rho: f64,
    ) -> Result<Self> {
        for (field, v) in [
            ("delta", delta),
            ("gamma", gamma),
            ("vega", vega),
            ("theta", theta),
            ("rho", rho),
        ] {
            finite(field, v)?;
        }
        let bound = (-market.dividend * contract.expiry).exp();
        if delta.abs() > bound * (1.0 + 1e-12) {
            return Err(Error::invalid_input(format!(
                "field `delta`: |{delta}| exceeds e^(-qT) = {bound}"
            )));
        }
        for (field, v) in [("gamma", gamma), ("vega", vega)] {
            if v < 0.0 {
                return Err(Error::invalid_input(format!(
                    "field `{field}`: {v} must be >= 0"
                )));
            }
        }
        Ok(Self {
            delta,
            gamma,
            vega,
            theta,
            rho,
        })
    }

    /// dPrice/dSpot.
    #[must_use]
    pub fn delta(&self) -> f64 {
        self.delta
    }

    /// d²Price/dSpot².
    #[must_use]
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// dPrice/dσ, per 1.00 change of volatility.
    #[must_use]
    pub fn vega(&self) -> f64 {
        self.vega
    }

    /// dPrice/dt as time passes, per year.
    #[must_use]
    pub fn theta(&self) -> f64 {
        self.theta
    }

    /// dPrice/dr (dividend yield fixed), per 1.00 change of the rate.
    #[must_use]
    pub fn rho(&self) -> f64 {
        self.rho
    }
}

/// The standard normal CDF, accurate in the tails (through `erfc`).
pub(crate) fn norm_cdf(x: f64) -> f64 {
    0.5 * erfc(-x * FRAC_1_SQRT_2)
}

/// The standard normal density.
pub(crate) fn norm_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// The pieces every formula shares.
struct Terms {
    sign: f64,
    s: f64,
    k: f64,
    t: f64,
    r: f64,
    q: f64,
    sigma: f64,
    sqrt_t: f64,
    df_r: f64,
    df_q: f64,
    d1: f64,
    d2: f64,
}

impl Terms {
    fn new(c: &OptionContract, m: &MarketInputs) -> Self {
        let (s, k, t, r, q, sigma) = (m.spot, c.strike, c.expiry, m.rate, m.dividend, m.vol);
        let sqrt_t = t.sqrt();
        let std_dev = sigma * sqrt_t;
        let d1 = ((s / k).ln() + (r - q) * t) / std_dev + 0.5 * std_dev;
        Self {
            sign: match c.kind {
                OptionKind::Call => 1.0,
                OptionKind::Put => -1.0,
            },
            s,
            k,
            t,
            r,
            q,
            sigma,
            sqrt_t,
            df_r: (-r * t).exp(),
            df_q: (-q * t).exp(),
            d1,
            d2: d1 - std_dev,
        }
    }

    /// `N(sign·d1)` and `N(sign·d2)`.
    fn n12(&self) -> (f64, f64) {
        (norm_cdf(self.sign * self.d1), norm_cdf(self.sign * self.d2))
    }

    fn price(&self) -> f64 {
        let (n1, n2) = self.n12();
        let v = self.sign * (self.s * self.df_q * n1 - self.k * self.df_r * n2);
        v.max(0.0)
    }

    fn vega(&self) -> f64 {
        self.s * self.df_q * norm_pdf(self.d1) * self.sqrt_t
    }
}

/// The Black-Scholes-Merton price of `contract` in `market`, floored at 0 (deep out of the
/// money the formula's difference of two terms can round to -1e-17). Not finite only when the
/// inputs overflow `f64` (see [`Priced::new`], which reports that as an error).
#[must_use]
pub fn price(contract: &OptionContract, market: &MarketInputs) -> f64 {
    Terms::new(contract, market).price()
}

/// The analytic Greeks of `contract` in `market` (units in the [module docs](self)).
///
/// # Errors
///
/// As [`Priced::new`].
pub fn greeks(contract: &OptionContract, market: &MarketInputs) -> Result<Greeks> {
    Ok(Priced::new(contract, market)?.greeks)
}

/// A price with its Greeks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Priced {
    /// The option's value per unit of underlying.
    pub price: f64,
    /// Its sensitivities.
    pub greeks: Greeks,
}

impl Priced {
    /// Prices `contract` in `market` and computes its Greeks.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the inputs are so extreme that a value is not finite (e.g.
    /// `-rate·expiry` beyond ~709 overflows the discount factor); `Internal` if the computed
    /// Greeks break their invariants (a bug, not an input problem).
    pub fn new(contract: &OptionContract, market: &MarketInputs) -> Result<Self> {
        let x = Terms::new(contract, market);
        let (n1, n2) = x.n12();
        let pdf1 = norm_pdf(x.d1);
        let std_dev = x.sigma * x.sqrt_t;
        let delta = x.sign * x.df_q * n1;
        let gamma = x.df_q * pdf1 / (x.s * std_dev);
        let vega = x.vega();
        let theta = -x.s * x.df_q * pdf1 * x.sigma / (2.0 * x.sqrt_t)
            + x.sign * (x.q * x.s * x.df_q * n1 - x.r * x.k * x.df_r * n2);
        let rho = x.sign * x.k * x.t * x.df_r * n2;
        let price = x.price();
        if ![price, delta, gamma, vega, theta, rho]
            .iter()
            .all(|v| v.is_finite())
        {
            return Err(Error::invalid_input(format!(
                "{contract:?} in {market:?}: the inputs overflow f64 (price {price}, delta \
                 {delta}, gamma {gamma}, vega {vega}, theta {theta}, rho {rho})"
            )));
        }
        let greeks =
            Greeks::new(contract, market, delta, gamma, vega, theta, rho).map_err(|e| {
                Error::new(
                    cadre_core::ErrorCode::Internal,
                    format!("Greeks of {contract:?} in {market:?}: {e}"),
                )
            })?;
        Ok(Self { price, greeks })
    }

    /// The price as money: rounded to `decimals` places, halves to even (banker's rounding),
    /// from the exact binary value of the `f64`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the price does not fit a [`Decimal`] (beyond about 7.9e28).
    pub fn premium(&self, decimals: u32) -> Result<Decimal> {
        let d = Decimal::from_f64_retain(self.price).ok_or_else(|| {
            Error::invalid_input(format!(
                "field `price`: {} does not fit a decimal",
                self.price
            ))
        })?;
        Ok(d.round_dp_with_strategy(decimals, RoundingStrategy::MidpointNearestEven))
    }
}

/// One row of [`price_batch`]: raw numbers, validated as [`OptionContract::new`] and
/// [`MarketInputs::new`] do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchInput {
    /// Call or put.
    pub kind: OptionKind,
    /// Strike (> 0).
    pub strike: f64,
    /// Time to expiry in years (> 0).
    pub expiry: f64,
    /// Spot (> 0).
    pub spot: f64,
    /// Continuously compounded risk-free rate.
    pub rate: f64,
    /// Continuously compounded dividend yield.
    pub dividend: f64,
    /// Annualised volatility (> 0).
    pub vol: f64,
}

impl BatchInput {
    /// Validates the row into a contract and a market.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the field and value.
    pub fn validate(&self) -> Result<(OptionContract, MarketInputs)> {
        Ok((
            OptionContract::new(self.kind, self.strike, self.expiry)?,
            MarketInputs::new(self.spot, self.rate, self.dividend, self.vol)?,
        ))
    }
}

/// Prices every row: one result per input, in order. A row that fails validation gives an
/// `InvalidInput` error whose message starts with `inputs[i]: ` and names the field.
#[must_use]
pub fn price_batch(inputs: &[BatchInput]) -> Vec<Result<Priced>> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let (c, m) = row
                .validate()
                .map_err(|e| Error::new(e.code(), format!("inputs[{i}]: {}", e.message())))?;
            Priced::new(&c, &m)
        })
        .collect()
}

/// The volatility at which `contract` in `market` (whose own `vol` is ignored) is worth
/// `target`, within 1e-12 relative in price (or the bracket shrinking to nothing).
///
/// # Errors
///
/// `InvalidInput` naming the price and the bounds when `target` is not finite, at or below the
/// discounted intrinsic value, at or above the upper bound (`S·e^(-qT)` for a call,
/// `K·e^(-rT)` for a put), or outside the prices at [`IV_MIN`] and [`IV_MAX`]; `Internal` if
/// the solver does not converge in [`IV_MAX_ITERATIONS`] (it always should).
pub fn implied_vol(contract: &OptionContract, market: &MarketInputs, target: f64) -> Result<f64> {
    let x = Terms::new(contract, market);
    let fwd_s = x.s * x.df_q;
    let fwd_k = x.k * x.df_r;
    let (lower, upper) = match contract.kind {
        OptionKind::Call => ((fwd_s - fwd_k).max(0.0), fwd_s),
        OptionKind::Put => ((fwd_k - fwd_s).max(0.0), fwd_k),
    };
    if !target.is_finite() || target <= lower || target >= upper {
        return Err(Error::invalid_input(format!(
            "field `price`: no volatility gives {target} for this {}: a price must lie strictly \
             between {lower} (discounted intrinsic value) and {upper} (upper bound)",
            contract.kind
        )));
    }
    let at = |sigma: f64| -> Result<Terms> { Ok(Terms::new(contract, &market.with_vol(sigma)?)) };
    let (mut lo, mut hi) = (IV_MIN, IV_MAX);
    let (p_lo, p_hi) = (at(lo)?.price(), at(hi)?.price());
    if target < p_lo || target > p_hi {
        return Err(Error::invalid_input(format!(
            "field `price`: no volatility in [{IV_MIN}, {IV_MAX}] gives {target} for this {}: \
             prices there range from {p_lo} to {p_hi}",
            contract.kind
        )));
    }
    let tolerance = 1e-12 * target.max(1e-300);
    // Start from the Brenner-Subrahmanyam at-the-money guess, clamped into the bracket.
    let mut sigma = ((2.0 * PI / x.t).sqrt() * target / x.s).clamp(lo, hi);
    for _ in 0..IV_MAX_ITERATIONS {
        let terms = at(sigma)?;
        let diff = terms.price() - target;
        if diff.abs() <= tolerance {
            return Ok(sigma);
        }
        if diff > 0.0 {
            hi = sigma;
        } else {
            lo = sigma;
        }
        if hi - lo <= f64::EPSILON * hi {
            return Ok(0.5 * (lo + hi));
        }
        let vega = terms.vega();
        let newton = sigma - diff / vega;
        sigma = if vega > 0.0 && newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
    }
    Err(Error::new(
        cadre_core::ErrorCode::Internal,
        format!(
            "implied volatility for price {target} did not converge in {IV_MAX_ITERATIONS} \
             iterations (bracket [{lo}, {hi}])"
        ),
    ))
}
