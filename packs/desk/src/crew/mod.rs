//! The trading desk as a crew on `cadre-runtime`: five agents and a coordinator.
//!
//! | agent type | capabilities | does |
//! |---|---|---|
//! | `desk.desk` ([`Desk`]) | `desk.backtest` | drives a run on the tape's calendar, consensus, book, learning, report |
//! | `desk.analyst` ([`MarketAnalyst`]) | `desk.analyze`, `desk.vote` | SMA-cross / RSI signals → proposals; votes by the trend |
//! | `desk.risk` ([`RiskManager`]) | `desk.vote`, `desk.size`, `desk.risk.check` | sizing, ATR stops, limits, kill switch |
//! | `desk.portfolio` ([`PortfolioOptimizer`]) | `desk.rebalance`, `desk.vote` | mean-variance targets, trims, diversification votes |
//! | `desk.execution` ([`Execution`]) | `desk.execute` | orders to the [`SimBroker`](crate::broker::SimBroker), fills back |
//! | `desk.pricing` ([`Pricing`]) | `desk.price`, `desk.vote` | values the options book, enforces Greeks limits |
//!
//! `crews/trading-desk.toml` runs them all in one process: `cadre run crews/trading-desk.toml`.

mod agents;
mod book;
mod desk;
mod html;
mod messages;
mod report;
mod session;
mod tape;

use cadre_core::{Error, Payload};
use cadre_runtime::{Catalog, Rendered};

pub use agents::{
    ANALYZE, AnalystConfig, CallPut, EVENTS_TOPIC, EXECUTE, Execution, GreeksBreached,
    MarketAnalyst, Objective, OptimizerConfig, OptionPosition, PRICE, PortfolioOptimizer, Pricing,
    PricingConfig, REBALANCE, RISK_CHECK, RiskConfig, RiskManager, SIZE, VERSION, VOTE,
};
pub use book::{
    Book, BookOpened, BookState, DayClosed, OrderFilled, PositionClosed, PositionOpened,
    RiskLimitBreached, stream as book_stream,
};
pub use desk::{BACKTEST, Desk, DeskConfig, DeskOutcome, DeskRun, RunMode, WalkForward, Weighting};
pub use messages::{
    Ballot, Ballots, BookGreeks, BookView, ExecuteStep, Executed, Levels, Proposals, SizeRequest,
    SizedOrders, StepInput, VoteRequest,
};
pub use report::{
    AgentReport, AgentStats, BreachRecord, DecisionRecord, ExecutionReport, Fold, Report, Scenario,
    Stress, Summary, VoteRecord, render_text,
};
pub use session::{
    CONTROL, ControlAction, DeskControl, DeskStatus, PendingReview, REPLY_KEY, REQUEST_KEY,
    RegisterReply, RegisterRequest, STATUS_KEY, SessionStatus,
};
pub use tape::{DataSpec, Tape, View, load as load_tape};

fn render(payload: &Payload) -> Result<Rendered, Error> {
    let outcome: DeskOutcome = payload.decode()?;
    Ok(Rendered {
        text: render_text(&outcome.out, &outcome.report),
        ok: true,
    })
}

/// Registers the desk's agent types, the input of `desk.backtest` for a manifest's `[run]`,
/// and the report's renderer.
pub fn register(catalog: &mut Catalog) {
    catalog
        .agent(
            "desk.desk",
            "drives the desk over a market: votes, consensus, book, learning, report",
            Desk::from_config,
        )
        .agent(
            "desk.analyst",
            "technical signals into proposals; votes by the trend",
            MarketAnalyst::from_config,
        )
        .agent(
            "desk.risk",
            "sizes positions, sets ATR stops, enforces limits, pulls the kill switch",
            RiskManager::from_config,
        )
        .agent(
            "desk.portfolio",
            "mean-variance target weights, trims and diversification votes",
            PortfolioOptimizer::from_config,
        )
        .agent(
            "desk.execution",
            "routes orders to the simulated broker; fills and execution quality",
            Execution::from_config,
        )
        .agent(
            "desk.pricing",
            "values the options book and enforces Greeks limits",
            Pricing::from_config,
        )
        .input::<DeskRun>(BACKTEST)
        .renderer::<DeskOutcome>(render);
}
