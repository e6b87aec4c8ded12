//! The desk's book as an event-sourced aggregate in `cadre-store`: every fill, every close,
//! every opened and closed position and every limit breach is an event of the stream
//! `desk/<run>/book`, and [`Book`] folds them back into cash, positions and the equity curve.
//! A test rebuilds a run's equity curve from its events alone and compares it with the report.

use std::sync::Arc;

use cadre_core::{AgentId, ConversationId, Error, Message, Payload, Result};
use cadre_store::{
    Aggregate, AuditEntry, AuditLog, EventMetadata, EventStore, ExpectedVersion, NewEvent,
    RecordedEvent, StreamId,
};
use serde::{Deserialize, Serialize};

use crate::model::{Fill, Side};

/// A run's book starts: its cash and symbols.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookOpened {
    /// Cash at the start.
    pub cash: f64,
    /// The symbols, in the tape's column order.
    pub symbols: Vec<String>,
}
impl Message for BookOpened {
    const TYPE: &'static str = "desk.book_opened";
}

/// A fill was booked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderFilled {
    /// The step (day) of the fill.
    pub step: usize,
    /// The fill.
    pub fill: Fill,
}
impl Message for OrderFilled {
    const TYPE: &'static str = "desk.order_filled";
}

/// A flat symbol now has a position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionOpened {
    /// The step.
    pub step: usize,
    /// The symbol.
    pub symbol: String,
    /// Units.
    pub quantity: f64,
    /// The fill price.
    pub price: f64,
}
impl Message for PositionOpened {
    const TYPE: &'static str = "desk.position_opened";
}

/// A position went back to flat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionClosed {
    /// The step.
    pub step: usize,
    /// The symbol.
    pub symbol: String,
    /// Realised P&L of the round trip (before commissions).
    pub pnl: f64,
}
impl Message for PositionClosed {
    const TYPE: &'static str = "desk.position_closed";
}

/// The risk manager found a limit breached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskLimitBreached {
    /// The step.
    pub step: usize,
    /// What was breached.
    pub breach: String,
    /// Whether it pulled the kill switch.
    pub halt: bool,
}
impl Message for RiskLimitBreached {
    const TYPE: &'static str = "desk.risk_limit_breached";
}

/// A day ended: every symbol's close, which marks the book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayClosed {
    /// The step.
    pub step: usize,
    /// Closes, in column order.
    pub closes: Vec<f64>,
}
impl Message for DayClosed {
    const TYPE: &'static str = "desk.day_closed";
}

/// The book rebuilt from events.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BookState {
    /// Symbols, in column order.
    pub symbols: Vec<String>,
    /// Cash.
    pub cash: f64,
    /// Units per symbol.
    pub positions: Vec<f64>,
    /// Equity at each day's close.
    pub equity: Vec<f64>,
    /// Fills booked.
    pub fills: usize,
    /// Positions opened and closed.
    pub opened: usize,
    /// Positions closed.
    pub closed: usize,
    /// Breaches recorded.
    pub breaches: Vec<String>,
}
impl Message for BookState {
    const TYPE: &'static str = "desk.book_state";
}

/// The aggregate: folds a run's book events.
#[derive(Debug, Clone, Copy)]
pub struct Book;

fn decode<M: Message>(e: &RecordedEvent) -> Result<M> {
    e.payload.decode()
}

impl Aggregate for Book {
    type State = BookState;
    const SNAPSHOT_EVERY: u64 = 0;

    fn apply(mut state: BookState, event: &RecordedEvent) -> Result<BookState> {
        match event.event_type.as_str() {
            BookOpened::TYPE => {
                let o: BookOpened = decode(event)?;
                state.positions = vec![0.0; o.symbols.len()];
                state.symbols = o.symbols;
                state.cash = o.cash;
            }
            OrderFilled::TYPE => {
                let f: OrderFilled = decode(event)?;
                let s = state
                    .symbols
                    .iter()
                    .position(|x| x == f.fill.symbol())
                    .ok_or_else(|| {
                        Error::invalid_input(format!(
                            "event {}: unknown symbol `{}`",
                            event.version,
                            f.fill.symbol()
                        ))
                    })?;
                let (q, p) = (f.fill.quantity(), f.fill.price());
                match f.fill.side() {
                    Side::Buy => {
                        state.cash -= q * p + f.fill.commission();
                        state.positions[s] += q;
                    }
                    Side::Sell => {
                        state.cash += q * p - f.fill.commission();
                        state.positions[s] -= q;
                        if state.positions[s].abs() < 1e-9 {
                            state.positions[s] = 0.0;
                        }
                    }
                }
                state.fills += 1;
            }
            PositionOpened::TYPE => state.opened += 1,
            PositionClosed::TYPE => state.closed += 1,
            RiskLimitBreached::TYPE => {
                let b: RiskLimitBreached = decode(event)?;
                state.breaches.push(b.breach);
            }
            DayClosed::TYPE => {
                let d: DayClosed = decode(event)?;
                let held: f64 = state
                    .positions
                    .iter()
                    .zip(&d.closes)
                    .map(|(q, c)| q * c)
                    .sum();
                state.equity.push(state.cash + held);
            }
            other => {
                return Err(Error::invalid_input(format!(
                    "event {} of the book: unknown type `{other}`",
                    event.version
                )));
            }
        }
        Ok(state)
    }
}

/// The stream of a run's book.
///
/// # Errors
/// `InvalidInput` when `run` makes an invalid stream name.
pub fn stream(run: &str) -> Result<StreamId> {
    StreamId::new(format!("desk/{run}/book"))
}

/// Buffers a run's book events and audit entries and writes them in batches.
pub(crate) struct Ledger {
    store: Arc<dyn EventStore>,
    audit: AuditLog,
    stream: StreamId,
    actor: AgentId,
    conversation: ConversationId,
    events: Vec<NewEvent>,
    entries: Vec<AuditEntry>,
    version: Option<u64>,
}

impl Ledger {
    pub(crate) fn new(
        store: Arc<dyn EventStore>,
        run: &str,
        actor: AgentId,
        conversation: ConversationId,
    ) -> Result<Self> {
        Ok(Self {
            audit: AuditLog::new(Arc::clone(&store)),
            store,
            stream: stream(run)?,
            actor,
            conversation,
            events: Vec::new(),
            entries: Vec::new(),
            version: None,
        })
    }

    /// Queues a book event.
    pub(crate) fn event<M: Message>(&mut self, event: &M) -> Result<()> {
        self.events.push(
            NewEvent::new(Payload::encode(event)?)
                .with_type(M::TYPE)
                .unpublished()
                .with_metadata(EventMetadata {
                    conversation_id: Some(self.conversation),
                    trace_id: None,
                    agent: Some(self.actor.clone()),
                }),
        );
        Ok(())
    }

    /// Queues an audit entry (`audit/<subject>`, action `action`).
    pub(crate) fn audit(&mut self, action: &str, subject: String, detail: serde_json::Value) {
        self.entries.push(
            AuditEntry::new(self.actor.clone(), action, subject)
                .with_conversation(self.conversation)
                .with_detail(detail),
        );
    }

    /// Writes what is queued: the book events in one append, checked against the version
    /// this ledger last wrote (nobody else writes a run's book), and the audit entries.
    pub(crate) async fn flush(&mut self) -> Result<()> {
        if !self.events.is_empty() {
            let expected = match self.version {
                None => ExpectedVersion::NoStream,
                Some(v) => ExpectedVersion::Exact(v),
            };
            let done = self
                .store
                .append(&self.stream, expected, std::mem::take(&mut self.events))
                .await?;
            self.version = Some(done.last_version());
        }
        let entries = std::mem::take(&mut self.entries);
        let audit = &self.audit;
        let results =
            super::desk::join_all(entries.into_iter().map(|e| audit.record(e)).collect()).await;
        for r in results {
            r?;
        }
        Ok(())
    }
}
