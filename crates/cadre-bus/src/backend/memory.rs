//! The in-process backend: the fast path. Nothing survives the process.

use std::sync::Arc;

use cadre_core::{Error, Group, Topic};

use super::{Core, Persist, forward_bus};
use crate::engine::{Engine, Entry, Track};
use crate::{BusOptions, DeadLetter, ReadFrom, Stored};

/// Persists nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nothing;

impl Persist for Nothing {
    const IN_MEMORY: bool = true;

    async fn append(&self, _: &Topic, _: &[Arc<Entry>]) -> Result<(), Error> {
        Ok(())
    }
    async fn acked(&self, _: &Topic, _: Vec<(Group, u64)>) -> Result<(), Error> {
        Ok(())
    }
    async fn retried(&self, _: &Topic, _: &Group, _: u64, _: Track, _: u64) -> Result<(), Error> {
        Ok(())
    }
    async fn buried(&self, _: Vec<DeadLetter>) -> Result<(), Error> {
        Ok(())
    }
    async fn group_created(&self, _: &Topic, _: &Group, _: u64) -> Result<(), Error> {
        Ok(())
    }
    async fn dlq_removed(&self, _: Vec<u64>) -> Result<(), Error> {
        Ok(())
    }
    async fn read(&self, _: &Topic, _: ReadFrom, _: usize) -> Option<Result<Vec<Stored>, Error>> {
        None
    }
    async fn control(&self, _: &str) -> Option<Result<Option<crate::ControlValue>, Error>> {
        None
    }
    async fn set_control(&self, _: &str, _: Option<&str>, _: u64) -> Option<Result<(), Error>> {
        None
    }
    async fn backfill(&self, _: &Topic, before: u64) -> Result<(Vec<Arc<Entry>>, u64), Error> {
        Ok((Vec::new(), before))
    }
}

/// The in-process bus. Cheap to clone; clones share the streams.
///
/// Messages finished by every group are kept for replay up to [`BusOptions::retention`].
#[derive(Debug, Clone)]
pub struct MemoryBus {
    core: Arc<Core<Nothing>>,
}

impl MemoryBus {
    /// A new, empty bus.
    pub fn new(opts: BusOptions) -> Self {
        Self {
            core: Arc::new(Core::new(Arc::new(Engine::new(opts)), Nothing)),
        }
    }

    fn core(&self) -> Result<&Core<Nothing>, Error> {
        Ok(&self.core)
    }

    fn reader(&self) -> &Core<Nothing> {
        &self.core
    }
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self::new(BusOptions::default())
    }
}

forward_bus!(MemoryBus, "memory");
