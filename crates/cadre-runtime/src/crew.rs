//! Crews: a [`Catalog`] of agent implementations by type name, and what it takes to turn a
//! crew manifest (`crews/*.toml`, loaded by [`cadre_config::load_crew`]) into a running
//! [`Node`](crate::Node).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cadre_config::crew::{AgentSection, CrewManifest, RuntimeSection};
use cadre_core::{AgentId, AgentKind, DynAgent, Error, ErrorCode, Payload, Task};

use crate::node::NodeOptions;
use crate::pool::{AgentSpec, Factory, PoolConfig, StreamMode};

/// Makes a factory for one agent kind from its `[agents.config]` table (validating it).
pub type Maker = Arc<dyn Fn(&toml::Table) -> Result<Factory, Error> + Send + Sync>;

/// Turns an output payload into text for people.
pub type Renderer = fn(&Payload) -> Result<Rendered, Error>;

/// An output rendered for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The text to print.
    pub text: String,
    /// Whether the result is good news (`cadre run` exits 1 when it is not, e.g. broken
    /// links found).
    pub ok: bool,
}

#[derive(Clone)]
struct Entry {
    description: &'static str,
    make: Maker,
}

/// Agent implementations by type name (the `type` of `[[agents]]` in a manifest), the input
/// types of capabilities a manifest's `[run]` may call, and renderers for outputs.
#[derive(Clone, Default)]
pub struct Catalog {
    agents: BTreeMap<String, Entry>,
    inputs: BTreeMap<String, (String, u32)>,
    renderers: BTreeMap<String, Renderer>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("agents", &self.agents.keys().collect::<Vec<_>>())
            .field("inputs", &self.inputs)
            .field("renderers", &self.renderers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers agent type `name`: `make` builds an instance from the kind's configuration
    /// table (and rejects a bad one, naming the key). It is called once when the crew loads,
    /// to validate, and again for every replica and restart.
    pub fn agent<A, F>(&mut self, name: &str, description: &'static str, make: F) -> &mut Self
    where
        A: DynAgent,
        F: Fn(&toml::Table) -> Result<A, Error> + Send + Sync + Clone + 'static,
    {
        let maker: Maker = Arc::new(move |config: &toml::Table| {
            make(config)?;
            let config = config.clone();
            let make = make.clone();
            let factory: Factory = Arc::new(move |_id: &AgentId| {
                make(&config).map(|a| Arc::new(a) as Arc<dyn DynAgent>)
            });
            Ok(factory)
        });
        self.agents.insert(
            name.to_owned(),
            Entry {
                description,
                make: maker,
            },
        );
        self
    }

    /// Declares that capability `capability` takes input of type `M`, so a manifest's `[run]`
    /// may call it with a TOML `input`.
    pub fn input<M: cadre_core::Message>(&mut self, capability: &str) -> &mut Self {
        self.inputs
            .insert(capability.to_owned(), (M::TYPE.to_owned(), M::VERSION));
        self
    }

    /// The input type (name, major version) registered for `capability`, if any.
    pub fn input_type(&self, capability: &str) -> Option<(String, u32)> {
        self.inputs.get(capability).cloned()
    }

    /// Registers how to print outputs of type `M`.
    pub fn renderer<M: cadre_core::Message>(&mut self, render: Renderer) -> &mut Self {
        self.renderers.insert(M::TYPE.to_owned(), render);
        self
    }

    /// The registered agent types with their descriptions.
    pub fn types(&self) -> impl Iterator<Item = (&str, &'static str)> {
        self.agents.iter().map(|(k, e)| (k.as_str(), e.description))
    }

    /// Renders `payload` with its type's renderer, if one is registered.
    pub fn render(&self, payload: &Payload) -> Option<Result<Rendered, Error>> {
        self.renderers.get(payload.type_name()).map(|r| r(payload))
    }

    /// The agent specs of a manifest (only `kinds` when given), each with its factory and
    /// pool. Checks every agent's type and configuration.
    ///
    /// # Errors
    /// An unknown type or a bad configuration, naming the manifest, the key and the line;
    /// a kind in `kinds` that the manifest does not define.
    pub fn specs(
        &self,
        manifest: &CrewManifest,
        kinds: Option<&[AgentKind]>,
    ) -> Result<Vec<AgentSpec>, Error> {
        if let Some(kinds) = kinds {
            for k in kinds {
                if manifest.agents.iter().all(|a| &a.kind != k) {
                    let known: Vec<String> =
                        manifest.agents.iter().map(|a| a.kind.to_string()).collect();
                    return Err(Error::invalid_input(format!(
                        "{}: no agent kind `{k}` (it defines: {})",
                        manifest.path.display(),
                        known.join(", ")
                    )));
                }
            }
        }
        let mut specs = Vec::new();
        let mut problems = Vec::new();
        for (i, agent) in manifest.agents.iter().enumerate() {
            if kinds.is_some_and(|ks| !ks.contains(&agent.kind)) {
                continue;
            }
            match self.spec(manifest, i, agent) {
                Ok(spec) => specs.push(spec),
                Err(e) => problems.push(e.to_string()),
            }
        }
        match problems.len() {
            0 => Ok(specs),
            1 => Err(Error::new(ErrorCode::Config, problems.remove(0))),
            n => Err(Error::new(
                ErrorCode::Config,
                format!("{n} problems:\n  - {}", problems.join("\n  - ")),
            )),
        }
    }

    fn spec(
        &self,
        manifest: &CrewManifest,
        i: usize,
        agent: &AgentSection,
    ) -> Result<AgentSpec, Error> {
        let at = |key: &str, needle: &str| {
            let line = line_of(&manifest.path, i, needle)
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            format!("{}{line}: key `agents[{i}].{key}`", manifest.path.display())
        };
        let entry = self.agents.get(&agent.type_name).ok_or_else(|| {
            let known: Vec<&str> = self.agents.keys().map(String::as_str).collect();
            Error::new(
                ErrorCode::Config,
                format!(
                    "{}: unknown agent type `{}`; this build knows: {}",
                    at("type", &format!("\"{}\"", agent.type_name)),
                    agent.type_name,
                    known.join(", ")
                ),
            )
        })?;
        let factory = (entry.make)(&agent.config).map_err(|e| {
            Error::new(
                ErrorCode::Config,
                format!("{}: {}", at("config", "[agents.config]"), e.message()),
            )
        })?;
        Ok(
            AgentSpec::with_factory(agent.kind.clone(), factory).pool(PoolConfig {
                min: agent.replicas.min,
                max: agent.replicas.max,
                concurrency: agent.concurrency,
                batch: agent.batch,
                stream: match agent.stream {
                    cadre_config::crew::StreamMode::Durable => StreamMode::Durable,
                    cadre_config::crew::StreamMode::Memory => StreamMode::Memory,
                },
                scale_up_backlog: agent.scale_up_backlog,
            }),
        )
    }

    /// The entry task of a manifest's `[run]` and how long to wait for it.
    ///
    /// # Errors
    /// When the capability's input type is not registered, or the input does not encode.
    pub fn entry_task(&self, manifest: &CrewManifest) -> Result<Option<(Task, Duration)>, Error> {
        let Some(run) = &manifest.run else {
            return Ok(None);
        };
        let (type_name, version) = self.inputs.get(&run.capability).ok_or_else(|| {
            Error::new(
                ErrorCode::Config,
                format!(
                    "{}: key `run.capability`: `{}` takes no input from a manifest in this build (known: {})",
                    manifest.path.display(),
                    run.capability,
                    self.inputs.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        let json = serde_json::to_string(&run.input)
            .map_err(|e| Error::new(ErrorCode::Encode, format!("run.input: {e}")))?;
        let payload = Payload::from_json_text(type_name.clone(), *version, json)?;
        let task = Task::with_payload(run.capability.clone(), payload).with_priority(run.priority);
        Ok(Some((task, run.timeout)))
    }
}

/// Node options from a manifest's `[runtime]` section (what the section does not hold:
/// kill-switch polling every 200 ms, default auction timing, retry delays from 100 ms doubling
/// to 10 s).
pub fn node_options(runtime: &RuntimeSection) -> NodeOptions {
    NodeOptions {
        heartbeat: runtime.heartbeat,
        missed_heartbeats: runtime.missed_heartbeats,
        grace: runtime.grace,
        restart_backoff: runtime.restart_backoff,
        restart_backoff_max: runtime.restart_backoff_max,
        max_restarts: runtime.max_restarts,
        restart_window: runtime.restart_window,
        scale_interval: runtime.scale_interval,
        scale_cooldown: runtime.scale_cooldown,
        task_attempts: runtime.task_attempts,
        poll: runtime.poll,
        cache: (!runtime.cache.is_zero())
            .then_some((runtime.cache, runtime.cache_capacity as usize)),
        control_poll: Duration::from_millis(200),
        auction: crate::contract_net::AuctionConfig::default(),
        retry: cadre_resilience::RetryPolicy::default()
            .with_base(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(10)),
    }
}

/// The 1-based line of `path` containing `needle` inside the `index`-th `[[agents]]` table.
fn line_of(path: &std::path::Path, index: usize, needle: &str) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[agents]]")
        .nth(index)
        .map(|(n, _)| n)?;
    lines[start..]
        .iter()
        .enumerate()
        .skip(1)
        .take_while(|(_, l)| l.trim() != "[[agents]]")
        .find(|(_, l)| l.contains(needle))
        .map(|(n, _)| start + n + 1)
}
