//! `cadre dlq ...`

use std::process::ExitCode;

use cadre_bus::{Bus, DeadLetter, DeadReason, DlqFilter};
use cadre_core::{Group, Topic};
use serde::Serialize;

use super::{open_for_reading, open_for_writing};
use crate::cli::{DlqCommand, DlqSelect, ReasonArg};
use crate::output::{self, Format};

fn filter(select: &DlqSelect, ids: &[u64]) -> anyhow::Result<DlqFilter> {
    Ok(DlqFilter {
        stream: select.stream.as_deref().map(Topic::new).transpose()?,
        group: select.group.as_deref().map(Group::new).transpose()?,
        reason: select.reason.map(|r| match r {
            ReasonArg::MaxDeliveries => DeadReason::MaxDeliveries,
            ReasonArg::Expired => DeadReason::Expired,
            ReasonArg::Rejected => DeadReason::Rejected,
        }),
        ids: (!ids.is_empty()).then(|| ids.to_vec()),
    })
}

fn is_unfiltered(f: &DlqFilter) -> bool {
    f.stream.is_none() && f.group.is_none() && f.reason.is_none() && f.ids.is_none()
}

fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}

fn print_list(letters: &[DeadLetter]) {
    let rows: Vec<Vec<String>> = letters
        .iter()
        .map(|d| {
            vec![
                d.id.to_string(),
                d.stream.to_string(),
                d.group.to_string(),
                d.offset.to_string(),
                d.reason.as_str().to_string(),
                d.delivery_count.to_string(),
                output::time_ms(d.dead_at_ms),
                d.last_error
                    .as_ref()
                    .map(|e| format!("[{}] {}", e.code(), one_line(&e.to_string(), 60)))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    output::table(
        &[
            "ID",
            "STREAM",
            "GROUP",
            "OFFSET",
            "REASON",
            "DELIVERIES",
            "DEAD AT",
            "LAST ERROR",
        ],
        &rows,
    );
}

fn print_one(d: &DeadLetter) -> anyhow::Result<()> {
    output::data(format_args!("dead letter {}", d.id));
    output::data(format_args!("  stream:      {}", d.stream));
    output::data(format_args!("  group:       {}", d.group));
    output::data(format_args!("  offset:      {}", d.offset));
    output::data(format_args!("  reason:      {}", d.reason.as_str()));
    output::data(format_args!("  deliveries:  {}", d.delivery_count));
    output::data(format_args!(
        "  dead at:     {}",
        output::time_ms(d.dead_at_ms)
    ));
    if let Some(e) = &d.last_error {
        output::data(format_args!("  last error:  [{}] {e}", e.code()));
    }
    output::data("  history:");
    if d.history.is_empty() {
        output::data("    (never delivered)");
    }
    for a in &d.history {
        output::data(format_args!(
            "    {}  {}  {}",
            output::time_ms(a.at_ms),
            a.consumer.as_ref().map_or("-", |c| c.as_str()),
            a.outcome
        ));
    }
    output::data("  message:");
    let env = serde_json::to_string_pretty(&d.envelope)?;
    for line in env.lines() {
        output::data(format_args!("    {line}"));
    }
    Ok(())
}

#[derive(Serialize)]
struct Replayed {
    id: u64,
    stream: String,
    offset: u64,
}

pub(crate) async fn run(cmd: DlqCommand, loaded: cadre_config::Loaded) -> anyhow::Result<ExitCode> {
    match cmd {
        DlqCommand::List { db, select, format } => {
            let bus = open_for_reading(&db, &loaded).await?;
            let letters = bus.dead_letters(&filter(&select, &[])?).await?;
            match format {
                Format::Json => output::json(&letters)?,
                Format::Text => print_list(&letters),
            }
        }
        DlqCommand::Show { id, db, format } => {
            let bus = open_for_reading(&db, &loaded).await?;
            let only = DlqFilter {
                ids: Some(vec![id]),
                ..DlqFilter::default()
            };
            let Some(letter) = bus.dead_letters(&only).await?.into_iter().next() else {
                anyhow::bail!("no dead letter with id {id} in {}", bus.path().display());
            };
            match format {
                Format::Json => output::json(&letter)?,
                Format::Text => print_one(&letter)?,
            }
        }
        DlqCommand::Replay {
            ids,
            all,
            select,
            db,
            format,
        } => {
            let f = filter(&select, &ids)?;
            if !all && ids.is_empty() {
                anyhow::bail!(
                    "name the dead letters to replay (ids), or pass --all (with filters to narrow it)"
                );
            }
            let bus = open_for_writing(&db, &loaded).await?;
            let targets = bus.dead_letters(&f).await?;
            if targets.is_empty() {
                output::note("no dead letters match");
            }
            let mut done = Vec::new();
            for d in targets {
                let published = bus.replay_dead_letter(d.id).await?;
                done.push(Replayed {
                    id: d.id,
                    stream: d.stream.to_string(),
                    offset: published.offset(),
                });
            }
            match format {
                Format::Json => output::json(&done)?,
                Format::Text => {
                    for r in &done {
                        output::data(format_args!(
                            "replayed dead letter {} to stream {} at offset {}",
                            r.id, r.stream, r.offset
                        ));
                    }
                }
            }
        }
        DlqCommand::Purge {
            ids,
            all,
            select,
            db,
            format,
        } => {
            let f = filter(&select, &ids)?;
            if is_unfiltered(&f) && !all {
                anyhow::bail!(
                    "purging every dead letter needs --all; or name ids, --stream, --group or --reason"
                );
            }
            let bus = open_for_writing(&db, &loaded).await?;
            let purged = bus.purge_dead_letters(&f).await?;
            match format {
                Format::Json => output::json(&serde_json::json!({ "purged": purged }))?,
                Format::Text => output::data(format_args!("purged {purged} dead letters")),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
