//! Operating workflows from their logs alone, without their code: inspect, approve or reject
//! at a gate, cancel, retry, follow, and find workflows waiting on each other. This is what
//! `cadre flow show|approve|reject|cancel|resume|watch` call; a running engine picks the
//! decisions up within its poll interval.

use std::collections::BTreeSet;
use std::time::Duration;

use cadre_core::{Error, ErrorCode};
use cadre_store::{EventStore, ExpectedVersion, RecordedEvent};

use crate::engine::read_log;
use crate::log::{AnyEntry, Compensation, Entry, WorkflowId, WorkflowView, decode};
use crate::state::Status;

/// What the log of workflow `id` says.
///
/// # Errors
/// `NotFound` when there is no such workflow; `Storage`/`Decode` from the store.
pub async fn view(store: &dyn EventStore, id: &WorkflowId) -> Result<WorkflowView, Error> {
    let events = read_log(store, &id.stream(), 1).await?;
    WorkflowView::fold(id, &events)
}

/// The child workflows a workflow's active subflow nodes run now (they may not have started).
fn active_children(v: &WorkflowView) -> Vec<WorkflowId> {
    v.nodes
        .iter()
        .filter(|n| n.kind == "subflow" && v.active.contains(&n.name) && !v.done.contains(&n.name))
        .filter_map(|n| v.id.child(&n.name, v.superstep).ok())
        .collect()
}

/// The gates waiting for a decision in workflow `id` and its running subflows.
///
/// # Errors
/// As [`view`].
pub async fn waiting(
    store: &dyn EventStore,
    id: &WorkflowId,
) -> Result<Vec<crate::Waiting>, Error> {
    let mut out = Vec::new();
    let mut todo = vec![id.clone()];
    while let Some(id) = todo.pop() {
        let v = match view(store, &id).await {
            Ok(v) => v,
            Err(e) if e.code() == ErrorCode::NotFound => continue,
            Err(e) => return Err(e),
        };
        if v.status != Status::Running {
            continue;
        }
        out.extend(v.waiting.iter().cloned());
        todo.extend(active_children(&v));
    }
    Ok(out)
}

/// Approves (`approved`) or rejects the gate `gate` (or the only waiting one) of workflow `id`
/// or of one of its running subflows. Returns the workflow and gate decided.
///
/// # Errors
/// `NotFound` when no gate waits (or `gate` is not one of those waiting); `InvalidInput` when
/// several gates wait and `gate` is not given (the message lists them); `Conflict` when the
/// workflow settled meanwhile.
pub async fn decide(
    store: &dyn EventStore,
    id: &WorkflowId,
    gate: Option<&str>,
    approved: bool,
    by: &str,
    comment: Option<&str>,
) -> Result<(WorkflowId, String), Error> {
    for _ in 0..16 {
        let waiting = waiting(store, id).await?;
        let chosen: Vec<&crate::Waiting> = waiting
            .iter()
            .filter(|w| {
                gate.is_none_or(|g| w.node == g || format!("{}:{}", w.workflow, w.node) == g)
            })
            .collect();
        let w = match chosen.as_slice() {
            [] => {
                let v = view(store, id).await?;
                return Err(Error::new(
                    ErrorCode::NotFound,
                    match gate {
                        Some(g) => format!(
                            "workflow `{id}` ({}) has no gate `{g}` waiting{}",
                            v.status.as_str(),
                            listed(&waiting)
                        ),
                        None => format!(
                            "workflow `{id}` ({}) has no gate waiting for a decision",
                            v.status.as_str()
                        ),
                    },
                )
                .with_retryable(false));
            }
            [one] => *one,
            many => {
                return Err(Error::invalid_input(format!(
                    "workflow `{id}` has {} gates waiting; name one with --gate{}",
                    many.len(),
                    listed(&waiting)
                )));
            }
        };
        let v = view(store, &w.workflow).await?;
        let entry: AnyEntry = Entry::Decided {
            node: w.node.clone(),
            superstep: w.superstep,
            approved,
            by: by.to_owned(),
            comment: comment.map(str::to_owned),
            timed_out: false,
        };
        match append(store, &v, by, &entry).await {
            Ok(()) => return Ok((w.workflow.clone(), w.node.clone())),
            Err(e) if e.code() == ErrorCode::Conflict => {}
            Err(e) => return Err(e),
        }
    }
    Err(Error::new(
        ErrorCode::Conflict,
        format!("workflow `{id}` kept changing; try again"),
    ))
}

fn listed(waiting: &[crate::Waiting]) -> String {
    if waiting.is_empty() {
        return String::new();
    }
    let names: Vec<String> = waiting
        .iter()
        .map(|w| format!("{}:{}", w.workflow, w.node))
        .collect();
    format!(" (waiting: {})", names.join(", "))
}

async fn append(
    store: &dyn EventStore,
    view: &WorkflowView,
    by: &str,
    entry: &AnyEntry,
) -> Result<(), Error> {
    store
        .append(
            &view.id.stream(),
            ExpectedVersion::Exact(view.version),
            vec![entry.to_event(&view.id, &view.metadata(by))?],
        )
        .await
        .map(|_| ())
}

/// Cancels workflow `id` and its running subflows. A running engine stops its steps and runs
/// the saga's compensations; otherwise they run when the workflow is resumed.
///
/// # Errors
/// `NotFound` for an unknown workflow; `Conflict` when it has settled already.
pub async fn cancel(
    store: &dyn EventStore,
    id: &WorkflowId,
    by: &str,
    reason: &str,
) -> Result<(), Error> {
    for _ in 0..16 {
        let v = view(store, id).await?;
        if v.is_settled() || v.status == Status::Cancelled {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!("workflow `{id}` is {} already", v.status.as_str()),
            )
            .with_retryable(false));
        }
        let entry: AnyEntry = Entry::Cancelled {
            by: by.to_owned(),
            reason: reason.to_owned(),
        };
        match append(store, &v, by, &entry).await {
            Ok(()) => {
                for child in active_children(&v) {
                    match Box::pin(cancel(store, &child, by, reason)).await {
                        Ok(()) => {}
                        Err(e) if matches!(e.code(), ErrorCode::NotFound | ErrorCode::Conflict) => {
                        }
                        Err(e) => return Err(e),
                    }
                }
                return Ok(());
            }
            Err(e) if e.code() == ErrorCode::Conflict => {}
            Err(e) => return Err(e),
        }
    }
    Err(Error::new(
        ErrorCode::Conflict,
        format!("workflow `{id}` kept changing; try again"),
    ))
}

/// Marks failed workflow `id` for another try (FAILED → PENDING); the next run resumes it
/// from its last checkpoint, the failed step first.
///
/// # Errors
/// `NotFound` for an unknown workflow; `Conflict` when it is not failed, or its saga has
/// compensated (undone) steps: start a new workflow instead.
pub async fn retry(store: &dyn EventStore, id: &WorkflowId, by: &str) -> Result<(), Error> {
    let v = view(store, id).await?;
    if v.status != Status::Failed {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!(
                "workflow `{id}` is {}, not FAILED; only a failed workflow can be retried",
                v.status.as_str()
            ),
        )
        .with_retryable(false));
    }
    if v.compensation != Compensation::None {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("workflow `{id}` failed and its saga compensated; start a new workflow"),
        )
        .with_retryable(false));
    }
    let entry: AnyEntry = Entry::Retried { by: by.to_owned() };
    append(store, &v, by, &entry).await
}

/// The cycle of workflows waiting on each other that `id` is part of, if any (`a → b → a`).
///
/// # Errors
/// As [`view`].
pub async fn wait_cycle(
    store: &dyn EventStore,
    id: &WorkflowId,
) -> Result<Option<Vec<WorkflowId>>, Error> {
    // Depth-first along "awaits" edges; each workflow awaits at most a few others.
    let mut path = vec![id.clone()];
    let mut seen = BTreeSet::new();
    Box::pin(walk(store, id, &mut path, &mut seen)).await
}

async fn walk(
    store: &dyn EventStore,
    start: &WorkflowId,
    path: &mut Vec<WorkflowId>,
    seen: &mut BTreeSet<WorkflowId>,
) -> Result<Option<Vec<WorkflowId>>, Error> {
    let here = path
        .last()
        .cloned()
        .expect("the path starts with the workflow");
    if !seen.insert(here.clone()) {
        return Ok(None);
    }
    let v = match view(store, &here).await {
        Ok(v) => v,
        Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if v.status != Status::Running {
        return Ok(None);
    }
    for target in v.awaiting.values() {
        if target == start {
            let mut cycle = path.clone();
            cycle.push(start.clone());
            return Ok(Some(cycle));
        }
        path.push(target.clone());
        if let Some(c) = Box::pin(walk(store, start, path, seen)).await? {
            return Ok(Some(c));
        }
        path.pop();
    }
    Ok(None)
}

/// One line describing a log entry, for `cadre flow watch` and `show`.
pub fn describe(e: &RecordedEvent) -> String {
    let Ok(entry) = decode::<serde_json::Value, serde_json::Value>(e) else {
        return format!("{} (not a workflow entry)", e.event_type);
    };
    match entry {
        Entry::Started {
            graph,
            runner,
            entry,
            ..
        } => {
            format!(
                "started graph `{graph}` by {runner}; entry: {}",
                join(&entry)
            )
        }
        Entry::Resumed { runner } => format!("resumed by {runner}"),
        Entry::Step {
            node,
            superstep,
            attempt,
            ms,
            close,
            ..
        } => {
            let mut s =
                format!("step `{node}` done (super-step {superstep}, attempt {attempt}, {ms} ms)");
            if let Some(c) = close {
                s.push_str(&if c.next.is_empty() {
                    "; the graph ends".to_owned()
                } else {
                    format!("; next: {}", join(&c.next))
                });
            }
            s
        }
        Entry::StepFailed {
            node,
            attempt,
            error,
            will_retry,
            ..
        } => format!(
            "step `{node}` attempt {attempt} failed: {}{}",
            error.message,
            if will_retry { "; retrying" } else { "" }
        ),
        Entry::Waiting {
            node,
            deadline,
            on_timeout,
            ..
        } => match deadline {
            Some(d) => format!(
                "gate `{node}` waits for a decision until {} (then {})",
                d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                on_timeout.as_str()
            ),
            None => format!("gate `{node}` waits for a decision"),
        },
        Entry::Decided {
            node,
            approved,
            by,
            comment,
            timed_out,
            ..
        } => format!(
            "gate `{node}` {} by {by}{}{}",
            if approved { "approved" } else { "rejected" },
            if timed_out { " (timeout)" } else { "" },
            comment.map(|c| format!(": {c}")).unwrap_or_default()
        ),
        Entry::Awaiting { node, target, .. } => format!("`{node}` waits for workflow `{target}`"),
        Entry::Advanced { close } => {
            if close.next.is_empty() {
                "the graph ends".to_owned()
            } else {
                format!("next: {}", join(&close.next))
            }
        }
        Entry::Stalled {
            nodes,
            idle_ms,
            action,
        } => {
            format!("stalled {idle_ms} ms in {} ({action})", nodes.join(", "))
        }
        Entry::Completed { .. } => "COMPLETED".to_owned(),
        Entry::Failed { node, error } => match node {
            Some(n) => format!("FAILED at `{n}`: {}", error.message),
            None => format!("FAILED: {}", error.message),
        },
        Entry::Cancelled { by, reason } => format!("CANCELLED by {by}: {reason}"),
        Entry::Compensated { node, error, .. } => match error {
            None => format!("compensated `{node}`"),
            Some(e) => format!("compensation of `{node}` FAILED: {}", e.message),
        },
        Entry::Retried { by } => format!("retried by {by}"),
    }
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Follows workflow `id`'s log from `from` (1 = the beginning), calling `each` for every
/// event with the view after it, until the workflow settles (returns its view) or `stop`
/// resolves (returns `None`).
///
/// # Errors
/// As [`view`]; whatever `each` returns.
pub async fn follow<F>(
    store: &dyn EventStore,
    id: &WorkflowId,
    from: u64,
    poll: Duration,
    stop: impl std::future::Future<Output = ()>,
    mut each: F,
) -> Result<Option<WorkflowView>, Error>
where
    F: FnMut(&RecordedEvent, &WorkflowView) -> Result<(), Error>,
{
    tokio::pin!(stop);
    let mut next = 1;
    let mut view: Option<WorkflowView> = None;
    loop {
        let fresh = read_log(store, &id.stream(), next).await?;
        for e in fresh {
            match view.as_mut() {
                None => view = Some(WorkflowView::fold(id, std::slice::from_ref(&e))?),
                Some(v) => v.apply(&e, decode(&e)?)?,
            }
            if e.version >= from {
                each(&e, view.as_ref().expect("folded above"))?;
            }
            next = e.version + 1;
        }
        match &view {
            None => {
                return Err(Error::new(
                    ErrorCode::NotFound,
                    format!("workflow `{id}` does not exist"),
                )
                .with_retryable(false));
            }
            Some(v) if v.is_settled() => return Ok(Some(v.clone())),
            Some(_) => {}
        }
        tokio::select! {
            () = &mut stop => return Ok(None),
            () = tokio::time::sleep(poll) => {}
        }
    }
}

/// A workflow in a listing.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    /// The id.
    pub id: WorkflowId,
    /// The graph.
    pub graph: String,
    /// Where it stands.
    pub status: Status,
    /// Whether a saga still has compensations to run, has run them, or failed running one.
    pub compensation: Compensation,
    /// When it started.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it last recorded something.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Steps completed.
    pub steps: usize,
    /// Gates waiting now.
    pub waiting: Vec<String>,
}

impl From<&WorkflowView> for Summary {
    fn from(v: &WorkflowView) -> Self {
        Self {
            id: v.id.clone(),
            graph: v.graph.clone(),
            status: v.status,
            compensation: v.compensation,
            created_at: v.created_at,
            updated_at: v.updated_at,
            steps: v.steps.len(),
            waiting: v.waiting.iter().map(|w| w.node.clone()).collect(),
        }
    }
}

/// Every workflow's view (child workflows of subflows too when `children`), oldest first.
///
/// # Errors
/// `Storage`/`Decode` from the store.
pub async fn list(store: &dyn EventStore, children: bool) -> Result<Vec<WorkflowView>, Error> {
    let mut out = Vec::new();
    let mut after: Option<cadre_store::StreamId> = None;
    loop {
        let page = store
            .list_streams(crate::STREAM_PREFIX, after.as_ref(), cadre_store::MAX_READ)
            .await?;
        let n = page.len();
        for s in &page {
            let Some(id) = WorkflowId::from_stream(&s.stream) else {
                continue;
            };
            if !children && id.parent().is_some() {
                continue;
            }
            match view(store, &id).await {
                Ok(v) => out.push(v),
                // Deleted between the listing and the read.
                Err(e) if e.code() == ErrorCode::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        after = page.last().map(|s| s.stream.clone());
        if n < cadre_store::MAX_READ {
            break;
        }
    }
    out.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(out)
}

/// Deletes the logs of settled workflows (completed, or failed / cancelled with nothing left
/// to compensate) that recorded nothing for `older_than`, with their subflows' logs. With
/// `dry_run`, only says which. Returns the workflows (and how many events went).
///
/// # Errors
/// `Storage` from the store.
pub async fn prune(
    store: &dyn EventStore,
    older_than: Duration,
    dry_run: bool,
) -> Result<Vec<(WorkflowId, u64)>, Error> {
    let cutoff = chrono::Utc::now()
        - chrono::Duration::from_std(older_than).unwrap_or(chrono::Duration::MAX);
    let mut pruned = Vec::new();
    for v in list(store, false).await? {
        if !v.is_settled() || v.updated_at >= cutoff {
            continue;
        }
        let mut streams = vec![v.id.stream()];
        let prefix = format!("{}/", v.id.stream());
        let mut after = None;
        loop {
            let page = store
                .list_streams(&prefix, after.as_ref(), cadre_store::MAX_READ)
                .await?;
            let n = page.len();
            after = page.last().map(|s| s.stream.clone());
            streams.extend(page.into_iter().map(|s| s.stream));
            if n < cadre_store::MAX_READ {
                break;
            }
        }
        let mut events = 0;
        for s in streams.iter().rev() {
            if dry_run {
                events += store.stream_version(s).await?.unwrap_or(0);
            } else {
                events += store.delete_stream(s).await?;
            }
        }
        pruned.push((v.id.clone(), events));
    }
    Ok(pruned)
}
