//! `cadre run` and `cadre node`: a crew manifest on a node.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use cadre_bus::{Bus, BusOptions, MemoryBus, SqliteBus};
use cadre_config::crew::CrewManifest;
use cadre_core::config::BusBackend;
use cadre_core::{AgentId, AgentKind};
use cadre_runtime::crew::node_options;
use cadre_runtime::{Catalog, Node, Route};

use crate::cli::{NodeArgs, RunArgs};
use crate::output::{self, Format};

/// Every agent type this build knows.
pub(crate) fn catalog() -> Catalog {
    let mut c = Catalog::new();
    cadre_pack_docs::register(&mut c);
    cadre_pack_desk::crew::register(&mut c);
    c
}

pub(crate) fn load(path: &std::path::Path, profile: Option<&str>) -> anyhow::Result<CrewManifest> {
    Ok(cadre_config::load_crew(path, profile)?)
}

/// Opens the crew's bus: the manifest's `[bus]`, else the configuration's.
async fn open_bus(
    manifest: &CrewManifest,
    loaded: &cadre_config::Loaded,
) -> anyhow::Result<(Arc<dyn Bus>, String)> {
    let config = if manifest.bus_set {
        &manifest.bus
    } else {
        &loaded.config.bus
    };
    let opts = BusOptions::from_config(config);
    Ok(match config.backend {
        BusBackend::Memory => (
            Arc::new(MemoryBus::new(opts)) as Arc<dyn Bus>,
            "memory bus (in this process)".to_owned(),
        ),
        BusBackend::Sqlite => {
            let path = config.database(&loaded.config.node);
            let bus = SqliteBus::open(&path, opts)
                .await
                .with_context(|| format!("opening the crew's bus at {}", path.display()))?;
            (Arc::new(bus), format!("sqlite bus {}", path.display()))
        }
    })
}

/// The crew's bus for control registers only (as `cadre halt` opens it): works while the
/// crew's node owns the database.
pub(crate) async fn open_bus_for_control(
    manifest: &CrewManifest,
    loaded: &cadre_config::Loaded,
) -> anyhow::Result<SqliteBus> {
    let config = if manifest.bus_set {
        &manifest.bus
    } else {
        &loaded.config.bus
    };
    if config.backend != BusBackend::Sqlite {
        anyhow::bail!(
            "{}: the crew's bus is {:?}; operator commands reach a desk over its SQLite bus",
            manifest.path.display(),
            config.backend
        );
    }
    let path = config.database(&loaded.config.node);
    let opts = BusOptions::from_config(config);
    if !path.exists() {
        anyhow::bail!(
            "{}: no bus database at {} (is the crew running?)",
            manifest.path.display(),
            path.display()
        );
    }
    Ok(SqliteBus::open_read_only(&path, opts).await?)
}

fn node_id(manifest: &CrewManifest, id: Option<&str>) -> anyhow::Result<AgentId> {
    let text = match id {
        Some(id) => id.to_owned(),
        None => format!("{}-{}", manifest.crew.name, std::process::id()),
    };
    AgentId::new(&text).with_context(|| format!("--id `{text}`"))
}

pub(crate) async fn start(
    manifest: &CrewManifest,
    catalog: &Catalog,
    kinds: Option<&[AgentKind]>,
    id: Option<&str>,
    loaded: &cadre_config::Loaded,
) -> anyhow::Result<Node> {
    let specs = catalog.specs(manifest, kinds)?;
    let (bus, shown) = open_bus(manifest, loaded).await?;
    let mut builder = Node::builder(bus)
        .id(node_id(manifest, id)?)
        .crew(manifest.crew.name.as_str())
        .options(node_options(&manifest.runtime));
    for spec in specs {
        builder = builder.agent(spec);
    }
    let node = builder.start().await?;
    let kinds: Vec<String> = node
        .health()
        .kinds
        .iter()
        .map(|k| format!("{} x{}", k.kind, k.replicas))
        .collect();
    output::note(format_args!(
        "crew `{}`: node `{}` on the {shown}, agents: {}",
        manifest.crew.name,
        node.id(),
        kinds.join(", ")
    ));
    Ok(node)
}

/// Waits for Ctrl-C or SIGTERM.
pub(crate) async fn stopped() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn serve(node: Node) -> anyhow::Result<ExitCode> {
    output::note("serving; Ctrl-C or SIGTERM drains and stops");
    stopped().await;
    output::note("draining...");
    let report = node.shutdown().await;
    output::note(format_args!(
        "stopped after {:.2}s{}",
        report.took.as_secs_f64(),
        if report.drained {
            ""
        } else {
            " (grace period over: unfinished tasks went back to the bus)"
        }
    ));
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn run(args: RunArgs, loaded: cadre_config::Loaded) -> anyhow::Result<ExitCode> {
    let mut manifest = load(&args.manifest, loaded.profile.as_deref())?;
    apply_overrides(&mut manifest, &args.set)?;
    let catalog = catalog();
    let specs = catalog.specs(&manifest, None)?;
    let entry = catalog.entry_task(&manifest)?;
    if args.dry_run {
        match args.format {
            Format::Json => output::json(&manifest)?,
            Format::Text => {
                output::data(format_args!(
                    "crew `{}` ({}): valid",
                    manifest.crew.name,
                    manifest.path.display()
                ));
                for (spec, a) in specs.iter().zip(&manifest.agents) {
                    output::data(format_args!(
                        "  {:<16} type {:<12} replicas {}..{}  stream {}",
                        spec.kind().as_str(),
                        a.type_name,
                        a.replicas.min,
                        a.replicas.max,
                        a.stream
                    ));
                }
                if let Some(run) = &manifest.run {
                    output::data(format_args!(
                        "  entry task: {} (timeout {})",
                        run.capability,
                        humantime::format_duration(run.timeout)
                    ));
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    drop(specs);
    let node = start(&manifest, &catalog, None, args.id.as_deref(), &loaded).await?;
    let Some((task, timeout)) = entry else {
        return serve(node).await;
    };
    let mut spinner = spinner(&format!("running `{}`", task.capability));
    let capability = task.capability.clone();
    let task_id = task.id;
    let client = node.client();
    // A long entry task may report its progress (`cadre.progress.<task>`): shown as a bar.
    let bus = std::sync::Arc::clone(node.bus());
    let key = cadre_runtime::protocol::progress_key(task_id);
    let call = client.call(task, Route::Capability, timeout);
    tokio::pin!(call);
    let stop = stopped();
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(150));
    let result = loop {
        tokio::select! {
            r = &mut call => break Some(r),
            () = &mut stop => break None,
            _ = tick.tick() => {
                if let Ok(Some(v)) = bus.control(&key).await
                    && let Ok(p) = serde_json::from_str::<cadre_runtime::protocol::Progress>(&v.value)
                {
                    spinner.show(&p);
                }
            }
        }
    };
    let _ = bus.set_control(&key, None).await;
    spinner.finish_and_clear();
    let report = node.shutdown().await;
    let Some(result) = result else {
        output::note("interrupted");
        return Ok(ExitCode::from(130));
    };
    let outcome = result.with_context(|| format!("the entry task `{capability}` failed"))?;
    let rendered = catalog.render(&outcome.output).transpose()?;
    let ok = rendered.as_ref().is_none_or(|r| r.ok);
    match args.format {
        Format::Json => {
            let doc = serde_json::json!({
                "task": task_id,
                "capability": capability,
                "agent": outcome.agent,
                "elapsed_ms": outcome.elapsed.map(|d| d.as_secs_f64() * 1000.0),
                "ok": ok,
                "output": serde_json::from_str::<serde_json::Value>(outcome.output.json())?,
            });
            output::json(&doc)?;
        }
        Format::Text => match &rendered {
            Some(r) => output::data(r.text.trim_end()),
            None => output::data(outcome.output.json()),
        },
    }
    output::note(format_args!(
        "`{capability}` done by {} in {:.0} ms; node drained in {:.2}s",
        outcome.agent.as_ref().map_or("?", |a| a.as_str()),
        outcome.elapsed.map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        report.took.as_secs_f64()
    ));
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(crate) async fn node(args: NodeArgs, loaded: cadre_config::Loaded) -> anyhow::Result<ExitCode> {
    let manifest = load(&args.manifest, loaded.profile.as_deref())?;
    let kinds = args
        .agents
        .iter()
        .map(|k| AgentKind::new(k).with_context(|| format!("--agents `{k}`")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let catalog = catalog();
    let only = (!kinds.is_empty()).then_some(kinds.as_slice());
    let node = start(&manifest, &catalog, only, args.id.as_deref(), &loaded).await?;
    serve(node).await
}

/// Applies `--set KEY=VALUE` to the manifest's `[run] input`.
fn apply_overrides(manifest: &mut CrewManifest, sets: &[String]) -> anyhow::Result<()> {
    if sets.is_empty() {
        return Ok(());
    }
    let path = manifest.path.display().to_string();
    let Some(run) = manifest.run.as_mut() else {
        anyhow::bail!("--set: {path} has no `[run]` section, so there is no input to override");
    };
    if !run.input.is_object() {
        run.input = serde_json::Value::Object(serde_json::Map::new());
    }
    let object = run.input.as_object_mut().expect("made an object above");
    for set in sets {
        let Some((key, text)) = set.split_once('=') else {
            anyhow::bail!("--set `{set}`: expected KEY=VALUE");
        };
        let key = key.trim();
        if key.is_empty() {
            anyhow::bail!("--set `{set}`: the key is empty");
        }
        // A TOML value (`500`, `true`, `"a b"`), else the text itself as a string.
        let value = toml::from_str::<toml::Table>(&format!("v = {text}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .map_or_else(
                || Ok(serde_json::Value::String(text.to_owned())),
                serde_json::to_value,
            )
            .with_context(|| format!("--set `{set}`"))?;
        object.insert(key.to_owned(), value);
    }
    Ok(())
}

/// A spinner that turns into a progress bar once the task reports its progress.
struct Spinner {
    bar: indicatif::ProgressBar,
    barred: bool,
}

impl Spinner {
    fn show(&mut self, p: &cadre_runtime::protocol::Progress) {
        if self.bar.is_hidden() {
            return;
        }
        if !self.barred {
            self.barred = true;
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg:>16} [{bar:40}] {pos}/{len} ({eta} left)",
            ) {
                self.bar.set_style(style.progress_chars("=> "));
            }
        }
        self.bar.set_length(p.total);
        self.bar.set_position(p.done);
        self.bar.set_message(p.message.clone());
    }

    fn finish_and_clear(&self) {
        self.bar.finish_and_clear();
    }
}

fn spinner(message: &str) -> Spinner {
    if !std::io::stderr().is_terminal() {
        return Spinner {
            bar: indicatif::ProgressBar::hidden(),
            barred: false,
        };
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    Spinner { bar, barred: false }
}
