//! Aggregates: state rebuilt from a stream's events, with periodic snapshots.

use std::marker::PhantomData;
use std::sync::Arc;

use cadre_core::{Error, Message, Payload};

use crate::{AppendResult, Direction, EventStore, ExpectedVersion, NewEvent, StreamId};

/// How many events [`Repository`] reads per page while rebuilding.
const PAGE: usize = 1000;

/// A consistency boundary whose state is a fold of its events.
///
/// ```
/// use cadre_core::{Error, Message};
/// use cadre_store::{Aggregate, RecordedEvent};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
/// struct Balance { cents: i64 }
/// impl Message for Balance { const TYPE: &'static str = "account.balance"; }
///
/// struct Account;
/// impl Aggregate for Account {
///     type State = Balance;
///     const SNAPSHOT_EVERY: u64 = 100;
///     fn apply(mut state: Balance, event: &RecordedEvent) -> Result<Balance, Error> {
///         let delta: i64 = serde_json::from_str(event.payload.json())
///             .map_err(|e| Error::invalid_input(e.to_string()))?;
///         state.cents += delta;
///         Ok(state)
///     }
/// }
/// ```
pub trait Aggregate: Send + Sync + 'static {
    /// The state; `Default` is the state of a stream without events. It is also the snapshot
    /// payload, so it is a [`Message`].
    type State: Default + Message + Clone;

    /// Take a snapshot each time the stream's version crosses a multiple of this; 0 never.
    const SNAPSHOT_EVERY: u64;

    /// The state after `event`.
    ///
    /// # Errors
    /// When the event cannot be applied (an unknown type, a payload that does not decode).
    fn apply(state: Self::State, event: &crate::RecordedEvent) -> Result<Self::State, Error>;
}

/// Loads and saves aggregates of type `A` in an [`EventStore`].
pub struct Repository<A> {
    store: Arc<dyn EventStore>,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A> Clone for Repository<A> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            _aggregate: PhantomData,
        }
    }
}

impl<A> std::fmt::Debug for Repository<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("aggregate", &std::any::type_name::<A>())
            .field("store", &self.store.backend())
            .finish()
    }
}

impl<A: Aggregate> Repository<A> {
    /// A repository over `store`.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            _aggregate: PhantomData,
        }
    }

    /// The state of `stream` and its version (0 for a stream without events): the latest
    /// snapshot with the events after it applied. A snapshot that no longer decodes (the state
    /// type changed) is ignored and the state rebuilt from all events.
    ///
    /// # Errors
    /// The store's errors and [`Aggregate::apply`]'s.
    pub async fn load(&self, stream: &StreamId) -> Result<(A::State, u64), Error> {
        let start = match self.store.load_snapshot(stream).await? {
            Some((version, payload)) => match payload.decode::<A::State>() {
                Ok(state) => Some((state, version)),
                Err(e) => {
                    tracing::warn!(stream = %stream, error = %e, "ignoring a snapshot that does not decode");
                    None
                }
            },
            None => None,
        };
        let (state, version) = start.unwrap_or_default();
        self.fold(stream, state, version).await
    }

    /// The state of `stream` rebuilt from all its events, ignoring snapshots.
    ///
    /// # Errors
    /// As [`Repository::load`].
    pub async fn load_from_events(&self, stream: &StreamId) -> Result<(A::State, u64), Error> {
        self.fold(stream, A::State::default(), 0).await
    }

    async fn fold(
        &self,
        stream: &StreamId,
        mut state: A::State,
        mut version: u64,
    ) -> Result<(A::State, u64), Error> {
        loop {
            let events = self
                .store
                .read(stream, version + 1, PAGE, Direction::Forward)
                .await?;
            let n = events.len();
            for event in &events {
                state = A::apply(state, event).map_err(|e| {
                    e.context(format!(
                        "applying event {} (version {}) of stream `{stream}`",
                        event.id, event.version
                    ))
                })?;
                version = event.version;
            }
            if n < PAGE {
                return Ok((state, version));
            }
        }
    }

    /// Appends `events` to `stream` if it is at `expected`, then, when the stream's version
    /// crossed a multiple of [`Aggregate::SNAPSHOT_EVERY`], saves a snapshot of the new state.
    /// A failed snapshot is logged, not returned: the events are stored.
    ///
    /// # Errors
    /// [`EventStore::append`]'s.
    pub async fn save(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, Error> {
        let done = self.store.append(stream, expected, events).await?;
        let every = A::SNAPSHOT_EVERY;
        let before = done.first_version().saturating_sub(1);
        if every > 0
            && !done.already_stored
            && done.last_version() / every > before / every
            && let Err(e) = self.snapshot(stream).await
        {
            tracing::warn!(stream = %stream, error = %e, "saving a snapshot failed");
        }
        Ok(done)
    }

    /// Loads the state of `stream` and saves it as a snapshot; returns its version.
    ///
    /// # Errors
    /// The store's errors and [`Aggregate::apply`]'s.
    pub async fn snapshot(&self, stream: &StreamId) -> Result<u64, Error> {
        let (state, version) = self.load(stream).await?;
        if version > 0 {
            self.store
                .save_snapshot(stream, version, Payload::encode(&state)?)
                .await?;
        }
        Ok(version)
    }
}
