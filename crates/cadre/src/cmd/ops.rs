//! Operating a running crew: `cadre agents list`, `cadre errors tail`, `cadre halt`,
//! `cadre resume`. They work on the bus database while nodes run.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use cadre_bus::{Bus, BusOptions, ReadFrom, SqliteBus, Stored};
use cadre_core::ErrorCode;
use cadre_runtime::Registry;
use cadre_runtime::protocol::{
    ErrorEvent, HALT_KEY, Halt, Heartbeat, errors_topic, heartbeats_topic,
};
use chrono::Utc;

use crate::cli::{AgentsCommand, DbArg, ErrorsCommand};
use crate::cmd::{database, open_for_reading};
use crate::output::{self, Format};

fn needs_database(db: &DbArg, loaded: &cadre_config::Loaded, what: &str) -> anyhow::Result<()> {
    if db.db.is_none() && loaded.config.bus.backend == cadre_core::config::BusBackend::Memory {
        anyhow::bail!(
            "{what} needs the bus database, but bus.backend is `memory` (it lives inside one process); use the sqlite backend or pass --db"
        );
    }
    Ok(())
}

pub(crate) async fn agents(
    cmd: AgentsCommand,
    loaded: cadre_config::Loaded,
) -> anyhow::Result<ExitCode> {
    let AgentsCommand::List {
        all,
        missed,
        db,
        format,
    } = cmd;
    needs_database(&db, &loaded, "`cadre agents list`")?;
    let bus = open_for_reading(&db, &loaded).await?;
    let since = Utc::now() - chrono::Duration::minutes(10);
    let beats = match bus
        .read(&heartbeats_topic(), ReadFrom::Time(since), 1_000_000)
        .await
    {
        Ok(b) => b,
        Err(e) if e.code() == ErrorCode::NotFound => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut registry = Registry::new(missed);
    for s in beats {
        if let Ok(beat) = s.envelope.payload.decode::<Heartbeat>() {
            registry.observe(beat);
        }
    }
    let now = Utc::now();
    let mut rows = registry.instances(now);
    if !all {
        rows.retain(|r| r.alive);
    }
    match format {
        Format::Json => output::json(&rows)?,
        Format::Text => {
            if rows.is_empty() {
                output::note(format_args!(
                    "no {}agents in {} (no heartbeat in the last 10 minutes)",
                    if all { "" } else { "live " },
                    bus.path().display()
                ));
                return Ok(ExitCode::SUCCESS);
            }
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let caps: Vec<String> =
                        r.info.capabilities.iter().map(|c| c.name.clone()).collect();
                    let mut health = r.info.health.as_str().to_owned();
                    if let Some(reason) = r.info.health.reasons().first() {
                        health = format!("{health}: {reason}");
                    }
                    vec![
                        r.info.id.to_string(),
                        r.info.kind.to_string(),
                        r.node.to_string(),
                        if r.alive {
                            r.node_state.as_str().to_owned()
                        } else {
                            "dead".into()
                        },
                        health,
                        r.info.in_flight.to_string(),
                        r.info.done.to_string(),
                        r.info.restarts.to_string(),
                        format!(
                            "{:.1}s ago",
                            (now - r.last_seen).num_milliseconds() as f64 / 1000.0
                        ),
                        caps.join(","),
                    ]
                })
                .collect();
            output::table(
                &[
                    "AGENT",
                    "KIND",
                    "NODE",
                    "STATE",
                    "HEALTH",
                    "IN-FLIGHT",
                    "DONE",
                    "RESTARTS",
                    "LAST-SEEN",
                    "CAPABILITIES",
                ],
                &table,
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_error(s: &Stored, format: Format) -> anyhow::Result<()> {
    let Ok(e) = s.envelope.payload.decode::<ErrorEvent>() else {
        return Ok(());
    };
    match format {
        Format::Json => output::data(serde_json::to_string(&e)?),
        Format::Text => {
            let dash = || "-".to_owned();
            output::data(format_args!(
                "{}  {:<14} {:<8} {} {} task={} cap={} attempt={} trace={}: {}",
                e.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                e.code.as_str(),
                e.action,
                e.node,
                e.agent.as_ref().map_or_else(dash, ToString::to_string),
                e.task.map_or_else(dash, |t| t.to_string()),
                e.capability.clone().unwrap_or_else(dash),
                e.attempt.map_or_else(dash, |a| a.to_string()),
                e.trace_id.map_or_else(dash, |t| t.to_string()),
                e.error
            ));
        }
    }
    Ok(())
}

pub(crate) async fn errors(
    cmd: ErrorsCommand,
    loaded: cadre_config::Loaded,
) -> anyhow::Result<ExitCode> {
    let ErrorsCommand::Tail {
        since,
        limit,
        follow,
        db,
        format,
    } = cmd;
    needs_database(&db, &loaded, "`cadre errors tail`")?;
    let bus = open_for_reading(&db, &loaded).await?;
    let topic = errors_topic();
    let next_offset = |b: &SqliteBus| {
        let b = b.clone();
        let topic = topic.clone();
        async move {
            Ok::<u64, anyhow::Error>(b.stream_info(&topic).await?.map_or(0, |s| s.next_offset))
        }
    };
    let start = match &since {
        Some(s) => ReadFrom::Time(super::stream::parse_since(s)?),
        None => ReadFrom::Offset(next_offset(&bus).await?.saturating_sub(limit as u64)),
    };
    let batch = match bus
        .read(
            &topic,
            start,
            if since.is_some() { usize::MAX } else { limit },
        )
        .await
    {
        Ok(b) => b,
        Err(e) if e.code() == ErrorCode::NotFound => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut next = match start {
        ReadFrom::Offset(o) => o,
        ReadFrom::Time(_) => 0,
    };
    if batch.is_empty() && !follow && format == Format::Text {
        output::note("no agent errors recorded");
    }
    for s in &batch {
        print_error(s, format)?;
        next = next.max(s.offset + 1);
    }
    if follow {
        if batch.is_empty()
            && let ReadFrom::Time(_) = start
        {
            next = next_offset(&bus).await?;
        }
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
            let fresh = match bus.read(&topic, ReadFrom::Offset(next), 1000).await {
                Ok(b) => b,
                Err(e) if e.code() == ErrorCode::NotFound => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            for s in fresh {
                print_error(&s, format)?;
                next = next.max(s.offset + 1);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens the bus database to set a control register: read-only when it exists (that works
/// while a node holds it), created when it does not (a node started later starts halted).
async fn open_for_control(db: &DbArg, loaded: &cadre_config::Loaded) -> anyhow::Result<SqliteBus> {
    let path = database(db, loaded);
    let opts = BusOptions::from_config(&loaded.config.bus);
    if path.exists() {
        Ok(SqliteBus::open_read_only(&path, opts).await?)
    } else {
        Ok(SqliteBus::open(&path, opts)
            .await
            .with_context(|| format!("creating {}", path.display()))?)
    }
}

pub(crate) async fn halt(
    reason: String,
    by: Option<String>,
    db: DbArg,
    loaded: cadre_config::Loaded,
) -> anyhow::Result<ExitCode> {
    needs_database(&db, &loaded, "`cadre halt`")?;
    let bus = open_for_control(&db, &loaded).await?;
    let halt = Halt {
        reason,
        by: by
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "operator".into()),
        at: Utc::now(),
    };
    bus.set_control(HALT_KEY, Some(serde_json::to_string(&halt)?))
        .await?;
    output::note(format_args!(
        "halted: nodes on {} stop taking tasks within a second (reason: {}; by {}); `cadre resume` releases",
        bus.path().display(),
        halt.reason,
        halt.by
    ));
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn resume(db: DbArg, loaded: cadre_config::Loaded) -> anyhow::Result<ExitCode> {
    needs_database(&db, &loaded, "`cadre resume`")?;
    let bus = open_for_control(&db, &loaded).await?;
    let was = bus.control(HALT_KEY).await?;
    bus.set_control(HALT_KEY, None).await?;
    output::note(match was {
        Some(_) => format!(
            "resumed: nodes on {} take tasks again within a second",
            bus.path().display()
        ),
        None => format!("the kill switch of {} was not pulled", bus.path().display()),
    });
    Ok(ExitCode::SUCCESS)
}
