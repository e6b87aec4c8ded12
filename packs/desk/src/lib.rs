//! The trading desk's foundations, pure and synchronous so that the desk's agents can call
//! them from anywhere:
//!
//! - [`model`]: validated [`MarketData`](model::MarketData),
//!   [`TradingProposal`](model::TradingProposal), [`Vote`](model::Vote),
//!   [`Decision`](model::Decision), [`Order`](model::Order), [`Fill`](model::Fill) and
//!   [`Experience`](model::Experience), checked on construction and on deserialisation.
//! - [`consensus`]: the [`ConsensusEngine`](consensus::ConsensusEngine) (weighted votes, an
//!   approval threshold, a quorum, a disagreement limit) and the manual
//!   [`ReviewQueue`](consensus::ReviewQueue).
//! - [`broker`]: the [`Broker`](broker::Broker) trait and the [`SimBroker`](broker::SimBroker)
//!   (commission, fixed-bps slippage or square-root market impact, volume-capped partial
//!   fills, latency; market orders fill at the next bar's open) with
//!   [`ExecutionQuality`](broker::ExecutionQuality).
//! - [`backtest`]: an event-driven backtester over many symbols' bars whose
//!   [`Strategy`](backtest::Strategy) can only see the past, and the
//!   [`SmaCross`](backtest::SmaCross) strategy.
//!
//! ```
//! use cadre_pack_desk::backtest::{Backtest, BacktestConfig, SmaCross};
//! use cadre_pack_desk::broker::SimBroker;
//! use cadre_pack_trading::market::SyntheticMarket;
//! let bars = SyntheticMarket::single(100.0, 7).generate(500)?;
//! let data = vec![("ACME".to_owned(), bars.into_iter().next().unwrap())];
//! let mut strategy = SmaCross::new(10, 30, 100.0)?;
//! let report = Backtest::new(BacktestConfig::default(), SimBroker::default())
//!     .run(&data, &mut strategy)?;
//! assert_eq!(report.bars, 500);
//! # Ok::<(), cadre_core::Error>(())
//! ```
#![warn(missing_docs)]

pub mod backtest;
pub mod broker;
pub mod consensus;
pub mod crew;
pub mod model;
