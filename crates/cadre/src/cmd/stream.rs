//! `cadre stream ...`

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use cadre_bus::{Bus, ReadFrom, Stored, StreamInfo};
use cadre_core::Topic;
use chrono::{DateTime, Utc};

use super::open_for_reading;
use crate::cli::StreamCommand;
use crate::output::{self, Format};

fn backlog(info: &StreamInfo) -> u64 {
    info.groups.iter().map(|g| g.backlog()).max().unwrap_or(0)
}

fn print_list(streams: &[StreamInfo]) {
    let rows: Vec<Vec<String>> = streams
        .iter()
        .map(|s| {
            vec![
                s.name.to_string(),
                s.next_offset.to_string(),
                s.groups.len().to_string(),
                backlog(s).to_string(),
                s.dead_letters.to_string(),
                s.counters.published.to_string(),
                s.counters.acked.to_string(),
            ]
        })
        .collect();
    output::table(
        &[
            "STREAM",
            "NEXT OFFSET",
            "GROUPS",
            "MAX BACKLOG",
            "DEAD",
            "PUBLISHED",
            "ACKED",
        ],
        &rows,
    );
}

fn print_stats(s: &StreamInfo) {
    let c = &s.counters;
    output::data(format_args!("stream {}", s.name));
    output::data(format_args!(
        "  offsets:     {}..{} (next {})",
        s.first_offset, s.next_offset, s.next_offset
    ));
    output::data(format_args!(
        "  counters:    published {}  duplicates {}  delivered {}  acked {}  nacked {}  lease expired {}  dead-lettered {} (expired {})",
        c.published,
        c.duplicates,
        c.delivered,
        c.acked,
        c.nacked,
        c.lease_expired,
        c.dead_lettered,
        c.expired
    ));
    output::data(format_args!("  dead letters: {}", s.dead_letters));
    if s.groups.is_empty() {
        output::data("  groups:      none");
        return;
    }
    let rows: Vec<Vec<String>> = s
        .groups
        .iter()
        .map(|g| {
            vec![
                format!("  {}", g.name),
                g.ready[3].to_string(),
                g.ready[2].to_string(),
                g.ready[1].to_string(),
                g.ready[0].to_string(),
                g.delayed.to_string(),
                g.in_flight.to_string(),
                g.consumers.to_string(),
            ]
        })
        .collect();
    output::table(
        &[
            "  GROUP",
            "CRITICAL",
            "HIGH",
            "NORMAL",
            "LOW",
            "DELAYED",
            "IN FLIGHT",
            "CONSUMERS",
        ],
        &rows,
    );
}

fn print_message(s: &Stored, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            let line = serde_json::json!({
                "offset": s.offset,
                "published_ms": s.published_ms,
                "envelope": s.envelope,
            });
            output::data(serde_json::to_string(&line)?);
        }
        Format::Text => {
            let e = &s.envelope;
            let json = e.payload.json();
            let preview: String = json.chars().take(80).collect();
            let more = if preview.len() < json.len() {
                "…"
            } else {
                ""
            };
            output::data(format_args!(
                "{:>8}  {}  {:<8}  {:?}  {} -> {}  {}@v{}  {preview}{more}",
                s.offset,
                output::time_ms(s.published_ms),
                e.priority,
                e.kind,
                e.sender,
                e.recipient,
                e.payload.type_name(),
                e.payload.version(),
            ));
        }
    }
    Ok(())
}

pub(crate) fn parse_since(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let age = humantime::parse_duration(text).with_context(|| {
        format!(
            "--since `{text}`: expected an RFC 3339 time (2026-11-25T09:00:00Z) or an age (15m, 2h)"
        )
    })?;
    Ok(Utc::now() - chrono::Duration::from_std(age)?)
}

pub(crate) async fn run(
    cmd: StreamCommand,
    loaded: cadre_config::Loaded,
) -> anyhow::Result<ExitCode> {
    match cmd {
        StreamCommand::List { db, format } => {
            let bus = open_for_reading(&db, &loaded).await?;
            let streams = bus.streams().await?;
            match format {
                Format::Json => output::json(&streams)?,
                Format::Text => print_list(&streams),
            }
        }
        StreamCommand::Stats { stream, db, format } => {
            let bus = open_for_reading(&db, &loaded).await?;
            let mut streams = bus.streams().await?;
            if let Some(name) = &stream {
                streams.retain(|s| s.name.as_str() == name);
                if streams.is_empty() {
                    anyhow::bail!("no stream `{name}` in {}", bus.path().display());
                }
            }
            match format {
                Format::Json => output::json(&streams)?,
                Format::Text => {
                    for s in &streams {
                        print_stats(s);
                    }
                }
            }
        }
        StreamCommand::Tail {
            stream,
            from,
            since,
            limit,
            follow,
            db,
            format,
        } => {
            let topic = Topic::new(&stream)?;
            let bus = open_for_reading(&db, &loaded).await?;
            let start = match (from, &since) {
                (Some(o), _) => ReadFrom::Offset(o),
                (None, Some(s)) => ReadFrom::Time(parse_since(s)?),
                (None, None) => {
                    let info = bus.streams().await?;
                    let next = info
                        .iter()
                        .find(|s| s.name == topic)
                        .map(|s| s.next_offset)
                        .with_context(|| {
                            format!("no stream `{stream}` in {}", bus.path().display())
                        })?;
                    ReadFrom::Offset(next.saturating_sub(limit as u64))
                }
            };
            let batch = bus.read(&topic, start, limit).await?;
            let mut next = match start {
                ReadFrom::Offset(o) => o,
                ReadFrom::Time(_) => 0,
            };
            for s in &batch {
                print_message(s, format)?;
                next = next.max(s.offset + 1);
            }
            if follow {
                if let ReadFrom::Time(_) = start
                    && batch.is_empty()
                {
                    // Nothing yet since that time: follow from the end.
                    next = bus
                        .streams()
                        .await?
                        .iter()
                        .find(|s| s.name == topic)
                        .map_or(0, |s| s.next_offset);
                }
                loop {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => break,
                        () = tokio::time::sleep(Duration::from_millis(250)) => {}
                    }
                    for s in bus.read(&topic, ReadFrom::Offset(next), 1000).await? {
                        print_message(&s, format)?;
                        next = next.max(s.offset + 1);
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
