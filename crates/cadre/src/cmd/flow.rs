//! `cadre flow ...` and `cadre audit`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use cadre_flow::json::JsonState;
use cadre_flow::state::Status;
use cadre_flow::{Engine, EngineOptions, WorkflowId, WorkflowView, control};
use cadre_store::{EventQuery, EventStore};
use tokio_util::sync::CancellationToken;

use crate::cli::{AuditArgs, DecideArgs, FlowCommand, StoreArg};
use crate::output::{self, Format};

/// Opens the event store of `--store`, or `sqlite://<node.data_dir>/flows.db`.
async fn open_store(
    arg: &StoreArg,
    loaded: &cadre_config::Loaded,
) -> anyhow::Result<Arc<dyn EventStore>> {
    let url = match &arg.store {
        Some(u) => u.clone(),
        None => format!(
            "sqlite://{}",
            loaded.config.node.data_dir.join("flows.db").display()
        ),
    };
    Ok(cadre_store::connect(&url).await?)
}

/// As [`open_store`], but without `--store` a crew manifest's `[store] url` comes first.
async fn open_store_for(
    arg: &StoreArg,
    crew: Option<&Path>,
    loaded: &cadre_config::Loaded,
) -> anyhow::Result<Arc<dyn EventStore>> {
    if arg.store.is_none()
        && let Some(path) = crew
    {
        let manifest = super::crew::load(path, loaded.profile.as_deref())?;
        if let Some(store) = &manifest.store {
            return cadre_store::connect(&store.url)
                .await
                .with_context(|| format!("{}: [store] url", path.display()));
        }
    }
    open_store(arg, loaded).await
}

fn who(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "operator".to_owned())
}

fn workflow_id(text: &str) -> anyhow::Result<WorkflowId> {
    WorkflowId::new(text).with_context(|| format!("workflow id `{text}`"))
}

pub(crate) async fn run(
    cmd: FlowCommand,
    loaded: cadre_config::Loaded,
) -> anyhow::Result<ExitCode> {
    match cmd {
        FlowCommand::Run {
            definition,
            crew,
            input,
            id,
            store,
            format,
        } => {
            let store = open_store_for(&store, crew.as_deref(), &loaded).await?;
            let input = read_input(&input)?;
            let text = std::fs::read_to_string(&definition)
                .with_context(|| format!("reading {}", definition.display()))?;
            let shown = definition.display().to_string();
            let id = match id {
                Some(id) => Some(workflow_id(&id)?),
                None => None,
            };
            drive(
                store,
                &text,
                &shown,
                crew.as_deref(),
                Start::New(id, input),
                format,
                &loaded,
            )
            .await
        }
        FlowCommand::Resume {
            id,
            crew,
            store,
            format,
        } => {
            let store = open_store_for(&store, crew.as_deref(), &loaded).await?;
            let id = workflow_id(&id)?;
            let view = control::view(&*store, &id).await?;
            if view.is_settled() && view.status != Status::Failed {
                anyhow::bail!(
                    "workflow `{id}` is {} already; nothing to resume",
                    view.status.as_str()
                );
            }
            let Some(text) = view.definition.clone() else {
                anyhow::bail!(
                    "workflow `{id}` runs graph `{}`, which is defined in code: resume it from the program that defines it (Engine::run)",
                    view.graph
                );
            };
            if view.status == Status::Failed {
                control::retry(&*store, &id, &who(None)).await?;
                output::note(format_args!("workflow `{id}` marked for retry"));
            }
            drive(
                store,
                &text,
                &format!("the definition in `{id}`'s log"),
                crew.as_deref(),
                Start::Existing(id),
                format,
                &loaded,
            )
            .await
        }
        FlowCommand::List {
            status,
            graph,
            all,
            store,
            format,
        } => {
            let store = open_store(&store, &loaded).await?;
            let wanted = match status {
                Some(s) => Some(parse_status(&s)?),
                None => None,
            };
            let views = control::list(&*store, all).await?;
            let rows: Vec<control::Summary> = views
                .iter()
                .filter(|v| wanted.is_none_or(|s| v.status == s))
                .filter(|v| graph.as_ref().is_none_or(|g| &v.graph == g))
                .map(control::Summary::from)
                .collect();
            match format {
                Format::Json => output::json(&rows)?,
                Format::Text => {
                    let table: Vec<Vec<String>> = rows
                        .iter()
                        .map(|r| {
                            vec![
                                r.id.to_string(),
                                r.graph.clone(),
                                status_text(r.status, r.compensation),
                                r.steps.to_string(),
                                r.waiting.join(","),
                                r.updated_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                            ]
                        })
                        .collect();
                    output::table(
                        &["ID", "GRAPH", "STATUS", "STEPS", "WAITING", "UPDATED"],
                        &table,
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        FlowCommand::Show {
            id,
            events,
            store,
            format,
        } => {
            let store = open_store(&store, &loaded).await?;
            let id = workflow_id(&id)?;
            let view = control::view(&*store, &id).await?;
            match format {
                Format::Json => output::json(&view)?,
                Format::Text => {
                    show(&view);
                    if events {
                        output::data("log:");
                        let log = store
                            .read(
                                &id.stream(),
                                1,
                                cadre_store::MAX_READ,
                                cadre_store::Direction::Forward,
                            )
                            .await?;
                        for e in &log {
                            output::data(format_args!(
                                "  {:>4}  {}  {}",
                                e.version,
                                e.recorded_at.format("%H:%M:%S%.3f"),
                                control::describe(e)
                            ));
                        }
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        FlowCommand::Watch {
            id,
            poll,
            store,
            format,
        } => {
            let store = open_store(&store, &loaded).await?;
            let id = workflow_id(&id)?;
            let end = control::follow(&*store, &id, 1, poll, super::crew::stopped(), |e, _| {
                match format {
                    Format::Json => output::data(serde_json::json!({
                        "version": e.version,
                        "at": e.recorded_at,
                        "type": e.event_type,
                        "text": control::describe(e),
                        "entry": serde_json::from_str::<serde_json::Value>(e.payload.json()).unwrap_or_default(),
                    })),
                    Format::Text => output::data(format_args!(
                        "{}  {}",
                        e.recorded_at.format("%H:%M:%S%.3f"),
                        control::describe(e)
                    )),
                }
                Ok(())
            })
            .await?;
            Ok(match end {
                None => ExitCode::from(130),
                Some(v) if v.status == Status::Completed => ExitCode::SUCCESS,
                Some(_) => ExitCode::FAILURE,
            })
        }
        FlowCommand::Approve(args) => decide(args, true, &loaded).await,
        FlowCommand::Reject(args) => decide(args, false, &loaded).await,
        FlowCommand::Cancel {
            id,
            reason,
            by,
            store,
        } => {
            let store = open_store(&store, &loaded).await?;
            let id = workflow_id(&id)?;
            control::cancel(&*store, &id, &who(by), &reason).await?;
            output::note(format_args!(
                "workflow `{id}` cancelled; a running engine stops its steps and compensates within its poll interval"
            ));
            Ok(ExitCode::SUCCESS)
        }
        FlowCommand::Prune {
            older_than,
            dry_run,
            store,
            format,
        } => {
            let store = open_store(&store, &loaded).await?;
            let pruned = control::prune(&*store, older_than, dry_run).await?;
            match format {
                Format::Json => output::json(&serde_json::json!({
                    "dry_run": dry_run,
                    "workflows": pruned.iter().map(|(id, events)| serde_json::json!({"id": id, "events": events})).collect::<Vec<_>>(),
                }))?,
                Format::Text => {
                    for (id, events) in &pruned {
                        output::data(format_args!("{id}  {events} events"));
                    }
                    let total: u64 = pruned.iter().map(|(_, n)| n).sum();
                    output::note(format_args!(
                        "{} {} settled workflow(s) idle for over {} ({total} events)",
                        if dry_run { "would prune" } else { "pruned" },
                        pruned.len(),
                        humantime::format_duration(older_than)
                    ));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_status(s: &str) -> anyhow::Result<Status> {
    Ok(match s.to_ascii_uppercase().as_str() {
        "PENDING" => Status::Pending,
        "RUNNING" => Status::Running,
        "COMPLETED" => Status::Completed,
        "FAILED" => Status::Failed,
        "CANCELLED" | "CANCELED" => Status::Cancelled,
        _ => anyhow::bail!(
            "--status `{s}`: expected PENDING, RUNNING, COMPLETED, FAILED or CANCELLED"
        ),
    })
}

fn status_text(status: Status, compensation: cadre_flow::Compensation) -> String {
    use cadre_flow::Compensation as C;
    match compensation {
        C::None => status.as_str().to_owned(),
        C::Pending => format!("{} (compensating)", status.as_str()),
        C::Done => format!("{} (compensated)", status.as_str()),
        C::Failed => format!("{} (compensation failed)", status.as_str()),
    }
}

fn show(v: &WorkflowView) {
    output::data(format_args!("workflow  {}", v.id));
    output::data(format_args!("graph     {}", v.graph));
    if let Some(c) = v.conversation_id {
        output::data(format_args!(
            "conversation {c}  (cadre audit --conversation {c})"
        ));
    }
    output::data(format_args!(
        "status    {}",
        status_text(v.status, v.compensation)
    ));
    output::data(format_args!(
        "started   {}   updated {}   log version {}",
        v.created_at.format("%Y-%m-%d %H:%M:%S"),
        v.updated_at.format("%Y-%m-%d %H:%M:%S"),
        v.version
    ));
    if !v.active.is_empty() && !v.is_settled() {
        let active: Vec<&str> = v.active.iter().map(String::as_str).collect();
        output::data(format_args!(
            "super-step {}: {}",
            v.superstep,
            active.join(", ")
        ));
    }
    for w in &v.waiting {
        output::data(format_args!(
            "waiting   gate `{}` since {}{}  (cadre flow approve|reject {})",
            w.node,
            w.since.format("%H:%M:%S"),
            w.deadline
                .map(|d| format!(
                    ", until {} then {}",
                    d.format("%Y-%m-%d %H:%M:%S"),
                    w.on_timeout.as_str()
                ))
                .unwrap_or_default(),
            w.workflow
        ));
    }
    if let Some(e) = &v.error {
        output::data(format_args!("error     {}", e.message));
    }
    output::data("history:");
    for t in v.lifecycle.history() {
        output::data(format_args!(
            "  {}  {} -> {}  {}",
            t.at.format("%H:%M:%S%.3f"),
            t.from.as_str(),
            t.to.as_str(),
            t.reason
        ));
    }
    if !v.steps.is_empty() {
        output::data("steps:");
        let rows: Vec<Vec<String>> = v
            .steps
            .iter()
            .map(|s| {
                vec![
                    format!("  {}", s.superstep),
                    s.node.clone(),
                    s.attempt.to_string(),
                    format!("{} ms", s.ms),
                    if s.compensated {
                        "compensated".into()
                    } else {
                        String::new()
                    },
                ]
            })
            .collect();
        output::table(&["  STEP", "NODE", "ATTEMPT", "TOOK", ""], &rows);
    }
    for d in &v.decisions {
        output::data(format_args!(
            "decision  `{}` {} by {}{}{}",
            d.node,
            if d.approved { "approved" } else { "rejected" },
            d.by,
            if d.timed_out { " (timeout)" } else { "" },
            d.comment
                .as_ref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        ));
    }
    if let Some(out) = &v.output {
        output::data(format_args!(
            "output:\n{}",
            serde_json::to_string_pretty(out).unwrap_or_default()
        ));
    }
}

fn read_input(text: &str) -> anyhow::Result<JsonState> {
    let (json, shown) = match text.strip_prefix('@') {
        Some(path) => (
            std::fs::read_to_string(path).with_context(|| format!("--input: reading {path}"))?,
            path.to_owned(),
        ),
        None => (text.to_owned(), "--input".to_owned()),
    };
    let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| {
        anyhow::anyhow!(
            "{shown}: not JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    match value {
        serde_json::Value::Object(map) => Ok(JsonState(map)),
        other => anyhow::bail!("{shown}: the input must be a JSON object, not {other}"),
    }
}

enum Start {
    New(Option<WorkflowId>, JsonState),
    Existing(WorkflowId),
}

/// Runs a TOML-defined workflow (new or existing) in this process until it settles.
async fn drive(
    store: Arc<dyn EventStore>,
    text: &str,
    shown: &str,
    crew: Option<&Path>,
    start: Start,
    format: Format,
    loaded: &cadre_config::Loaded,
) -> anyhow::Result<ExitCode> {
    let catalog = super::crew::catalog();
    let graph = cadre_flow::json::parse(text, shown, &|cap| catalog.input_type(cap))?;
    let tasks: Vec<String> = graph
        .describe()
        .into_iter()
        .filter(|n| n.kind == "task")
        .map(|n| n.name)
        .collect();
    let node = match crew {
        Some(path) => {
            let manifest = super::crew::load(path, loaded.profile.as_deref())?;
            Some(super::crew::start(&manifest, &catalog, None, None, loaded).await?)
        }
        None if !tasks.is_empty() => anyhow::bail!(
            "{shown}: task node(s) {} need agents: give the crew that runs them with --crew MANIFEST",
            tasks.join(", ")
        ),
        None => None,
    };
    let graph_name = graph.name().to_owned();
    let mut engine = Engine::<JsonState>::new(Arc::clone(&store))
        .options(EngineOptions {
            runner: format!("cadre-{}", std::process::id()),
            ..EngineOptions::default()
        })
        .graph(graph);
    if let Some(node) = &node {
        engine = engine.client(node.client());
    }
    let id = match start {
        Start::New(id, input) => {
            let id = id.unwrap_or_else(|| WorkflowId::generate(&graph_name));
            engine.start_as(&graph_name, &id, input).await?;
            output::note(format_args!("workflow `{id}` started"));
            id
        }
        Start::Existing(id) => id,
    };
    let stop = CancellationToken::new();
    let watcher = {
        let store = Arc::clone(&store);
        let id = id.clone();
        let stop = stop.clone();
        let from = store.stream_version(&id.stream()).await?.unwrap_or(0) + 1;
        tokio::spawn(async move {
            let _ = control::follow(
                &*store,
                &id,
                from,
                Duration::from_millis(100),
                stop.cancelled_owned(),
                |e, _| {
                    output::note(format_args!("  {}", control::describe(e)));
                    Ok(())
                },
            )
            .await;
        })
    };
    let interrupted = stop.clone();
    let result = tokio::select! {
        r = engine.run_until(&id, stop.clone()) => r,
        () = super::crew::stopped() => {
            interrupted.cancel();
            Ok(None)
        }
    };
    // The follower stops by itself once it has printed the settled workflow's last entry;
    // after an interruption or an error it is stopped.
    if !matches!(result, Ok(Some(_))) {
        stop.cancel();
    }
    let mut watcher = watcher;
    if tokio::time::timeout(Duration::from_secs(5), &mut watcher)
        .await
        .is_err()
    {
        stop.cancel();
        let _ = watcher.await;
    }
    if let Some(node) = node {
        node.shutdown().await;
    }
    let Some(done) = result? else {
        output::note(format_args!(
            "interrupted; workflow `{id}` stays where it is: `cadre flow resume {id}` continues it"
        ));
        return Ok(ExitCode::from(130));
    };
    match format {
        Format::Json => output::json(&serde_json::json!({
            "id": done.id,
            "status": done.status,
            "compensation": done.compensation,
            "error": done.error,
            "state": done.state,
        }))?,
        Format::Text => {
            output::note(format_args!(
                "workflow `{}` {}",
                done.id,
                status_text(done.status, done.compensation)
            ));
            if let Some(e) = &done.error {
                output::note(format_args!("error: {}", e.message));
            }
            output::json(&done.state)?;
        }
    }
    Ok(if done.status == Status::Completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn decide(
    args: DecideArgs,
    approved: bool,
    loaded: &cadre_config::Loaded,
) -> anyhow::Result<ExitCode> {
    let store = open_store(&args.store, loaded).await?;
    let id = workflow_id(&args.id)?;
    let by = who(args.by);
    let (wf, gate) = control::decide(
        &*store,
        &id,
        args.gate.as_deref(),
        approved,
        &by,
        args.comment.as_deref(),
    )
    .await?;
    output::note(format_args!(
        "gate `{gate}` of workflow `{wf}` {} by {by}",
        if approved { "approved" } else { "rejected" }
    ));
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn audit(
    args: AuditArgs,
    loaded: cadre_config::Loaded,
) -> anyhow::Result<ExitCode> {
    let store = open_store(&args.store, &loaded).await?;
    let mut q = EventQuery::new();
    if let Some(c) = &args.conversation {
        q = q.with_conversation(c.parse().with_context(|| format!("--conversation `{c}`"))?);
    }
    if let Some(a) = &args.agent {
        q = q.with_agent(cadre_core::AgentId::new(a).with_context(|| format!("--agent `{a}`"))?);
    }
    if let Some(s) = &args.since {
        q = q.with_since(super::stream::parse_since(s)?);
    }
    if let Some(u) = &args.until {
        q = q.with_until(super::stream::parse_since(u).context("--until")?);
    }
    if let Some(s) = &args.stream {
        q = q.with_stream_prefix(s.clone());
    }
    if let Some(t) = &args.event_type {
        q = q.with_event_type(t.clone());
    }
    let log = cadre_store::AuditLog::new(store);
    let mut from = 1;
    let mut printed = 0;
    while printed < args.limit {
        let want = (args.limit - printed).min(cadre_store::MAX_READ);
        let page = log.query(&q, from, want).await?;
        if page.is_empty() {
            break;
        }
        for r in &page {
            match args.format {
                Format::Json => output::data(serde_json::to_string(r)?),
                Format::Text => output::data(format_args!(
                    "{}  {:<24} {:<22} {:<16} {}",
                    r.at.format("%Y-%m-%d %H:%M:%S%.3f"),
                    r.stream,
                    r.event_type,
                    r.agent.as_ref().map_or("-", |a| a.as_str()),
                    r.data
                )),
            }
        }
        printed += page.len();
        from = page.last().map_or(from, |r| r.position + 1);
        if page.len() < want {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}
