//! `cadre bench ...`

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use cadre_bus::bench::{self, LoadReport, LoadSpec};
use cadre_bus::{Bus, BusOptions, MemoryBus, SqliteBus};
use cadre_runtime::bench::RoundTripSpec;

use crate::cli::{BackendArg, BenchCommand};
use crate::output::{self, Format};

pub(crate) async fn run(
    cmd: BenchCommand,
    loaded: cadre_config::Loaded,
) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Runtime {
            tasks,
            concurrency,
            replicas,
            batch,
            rate,
            payload,
            auction,
            json_input,
            idle,
            format,
        } => {
            if let Some(agents) = idle {
                return idle_agents(agents, format).await;
            }
            let spec = RoundTripSpec {
                tasks: tasks.max(1),
                concurrency: concurrency.max(1),
                replicas: replicas.max(1),
                batch: batch.max(1),
                rate,
                payload,
                auction,
                json_input,
            };
            return round_trips(&spec, format).await;
        }
        BenchCommand::Store {
            writers,
            appends,
            events,
            postgres,
            db,
            format,
        } => {
            let spec = cadre_store::bench::AppendSpec {
                writers: writers.max(1),
                appends: appends.max(1),
                events: events.max(1),
            };
            store(spec, postgres, db, format).await
        }
        BenchCommand::Indicators {
            points,
            repeat,
            format,
        } => indicators(points.max(100), repeat.max(1), format),
        BenchCommand::Pricing {
            options,
            repeat,
            format,
        } => pricing(options.max(1), repeat.max(1), format),
        BenchCommand::Optimize(args) => super::quant_optimize::bench(args),
        BenchCommand::Flow {
            workflows,
            concurrency,
            postgres,
            db,
            format,
        } => flow(workflows.max(1), concurrency.max(1), postgres, db, format).await,
        BenchCommand::Desk {
            crew,
            symbols,
            days,
            seed,
            repeat,
            compare,
            format,
        } => {
            let input = cadre_pack_desk::crew::DeskRun {
                symbols: Some(symbols),
                days: Some(days),
                seed: Some(seed),
                compare: Some(compare),
                ..Default::default()
            };
            desk(&crew, input, repeat.max(1), format, &loaded).await
        }
        cmd @ BenchCommand::Bus { .. } => bus(cmd, loaded).await,
    }
}

async fn round_trips(spec: &RoundTripSpec, format: Format) -> anyhow::Result<ExitCode> {
    let bar = progress_bar(spec.tasks, "tasks done");
    let shown = bar.clone();
    let r = cadre_runtime::bench::round_trips(spec, &move |n| shown.set_position(n)).await?;
    bar.finish_and_clear();
    match format {
        Format::Json => output::data(serde_json::to_string(&r)?),
        Format::Text => {
            output::data(format_args!(
                "{} ({} input): {} tasks, {} caller(s), {} {}{}",
                r.mode,
                r.input,
                r.tasks,
                r.concurrency,
                r.replicas,
                if r.mode == "auction" {
                    "bidder(s)"
                } else {
                    "replica(s)"
                },
                r.rate
                    .map(|x| format!(", held at {x} tasks/s"))
                    .unwrap_or_default()
            ));
            output::data(format_args!(
                "  throughput  {:>12.0} tasks/s  ({:.2}s, request -> agent -> outcome on the memory bus)",
                r.tasks_per_s, r.seconds
            ));
            output::data(format_args!(
                "  latency     p50 {:>9.1} us   p99 {:>9.1} us   max {:>9.1} us",
                r.p50_us, r.p99_us, r.max_us
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn store(
    spec: cadre_store::bench::AppendSpec,
    postgres: Option<String>,
    db: Option<std::path::PathBuf>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let report = on_bench_store(postgres, db, "store.db", |store| {
        cadre_store::bench::appends(store, spec)
    })
    .await?;
    match format {
        Format::Json => output::data(serde_json::to_string(&report)?),
        Format::Text => output::data(format_args!(
            "{}: {} events ({} writers x {} appends x {} events) in {:.3}s: {:.0} events/s, {:.0} appends/s",
            report.backend,
            report.events,
            report.writers,
            report.appends,
            report.events_per_append,
            report.seconds,
            report.events_per_s,
            report.appends_per_s
        )),
    }
    Ok(ExitCode::SUCCESS)
}

/// One indicator's timing.
#[derive(Debug, serde::Serialize)]
struct IndicatorTiming {
    name: &'static str,
    points: usize,
    seconds: f64,
    points_per_s: f64,
}

/// Times the batch form of each indicator on a deterministic random-walk OHLCV series.
fn indicators(points: usize, repeat: usize, format: Format) -> anyhow::Result<ExitCode> {
    use cadre_pack_trading::indicators as ind;
    let mut rng = fastrand::Rng::with_seed(20_261_125);
    let mut close = Vec::with_capacity(points);
    let mut high = Vec::with_capacity(points);
    let mut low = Vec::with_capacity(points);
    let mut volume = Vec::with_capacity(points);
    let mut price = 100.0_f64;
    for _ in 0..points {
        price *= 1.0 + (rng.f64() - 0.5) * 0.02;
        let spread = price * rng.f64() * 0.01;
        close.push(price);
        high.push(price + spread);
        low.push(price - spread);
        volume.push(1_000.0 + rng.f64() * 9_000.0);
    }
    type Run<'a> = Box<dyn Fn() -> anyhow::Result<f64> + 'a>;
    // Each run returns a value of its output so the work cannot be optimised away.
    let last = |v: &[f64]| v.last().copied().unwrap_or(0.0);
    let cases: Vec<(&'static str, Run<'_>)> = vec![
        ("sma_20", Box::new(|| Ok(last(&ind::sma(&close, 20)?)))),
        ("ema_20", Box::new(|| Ok(last(&ind::ema(&close, 20)?)))),
        ("wma_20", Box::new(|| Ok(last(&ind::wma(&close, 20)?)))),
        ("rsi_14", Box::new(|| Ok(last(&ind::rsi(&close, 14)?)))),
        (
            "macd_12_26_9",
            Box::new(|| Ok(last(&ind::macd(&close, 12, 26, 9)?.histogram))),
        ),
        (
            "bbands_20_2",
            Box::new(|| Ok(last(&ind::bollinger(&close, 20, 2.0, 2.0)?.upper))),
        ),
        (
            "atr_14",
            Box::new(|| Ok(last(&ind::atr(&high, &low, &close, 14)?))),
        ),
        (
            "stoch_5_3_3",
            Box::new(|| Ok(last(&ind::stoch(&high, &low, &close, 5, 3, 3)?.d))),
        ),
        ("obv", Box::new(|| Ok(last(&ind::obv(&close, &volume)?)))),
        (
            "vwap",
            Box::new(|| Ok(last(&ind::vwap(&high, &low, &close, &volume)?))),
        ),
    ];
    let bar = progress_bar(cases.len() as u64, "indicators timed");
    let mut timings = Vec::new();
    let mut sink = 0.0;
    for (name, run) in &cases {
        let mut best = f64::INFINITY;
        for _ in 0..repeat {
            let t = std::time::Instant::now();
            sink += run()?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        timings.push(IndicatorTiming {
            name,
            points,
            seconds: best,
            points_per_s: points as f64 / best,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    tracing::debug!(
        sink,
        "indicator outputs (keeps the work from being optimised away)"
    );
    match format {
        Format::Json => output::data(serde_json::to_string(&serde_json::json!({
            "points": points,
            "repeat": repeat,
            "indicators": timings,
        }))?),
        Format::Text => {
            output::data(format_args!(
                "{points} points, batch form, best of {repeat} run(s) each"
            ));
            for t in &timings {
                output::data(format_args!(
                    "  {:<14} {:>8.1} M points/s  ({:.3} s)",
                    t.name,
                    t.points_per_s / 1e6,
                    t.seconds
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prices a seeded batch of options (calls and puts, strikes 50–150 % of spot, 1 week to 3
/// years, rates 0–6 %, dividends 0–4 %, volatilities 5–80 %) with all Greeks.
fn pricing(options: usize, repeat: usize, format: Format) -> anyhow::Result<ExitCode> {
    use cadre_pack_trading::pricing::batch::{self, Columns, OutputColumns};
    use cadre_pack_trading::pricing::{BatchInput, OptionKind, price_batch};
    let mut rng = fastrand::Rng::with_seed(20_261_126);
    let rows: Vec<BatchInput> = (0..options)
        .map(|_| BatchInput {
            kind: if rng.bool() {
                OptionKind::Call
            } else {
                OptionKind::Put
            },
            spot: 100.0,
            strike: 50.0 + rng.f64() * 100.0,
            expiry: 1.0 / 52.0 + rng.f64() * 3.0,
            rate: rng.f64() * 0.06,
            dividend: rng.f64() * 0.04,
            vol: 0.05 + rng.f64() * 0.75,
        })
        .collect();
    let col = |f: fn(&BatchInput) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let kind: Vec<OptionKind> = rows.iter().map(|r| r.kind).collect();
    let (strike, expiry, spot) = (col(|r| r.strike), col(|r| r.expiry), col(|r| r.spot));
    let (rate, dividend, vol) = (col(|r| r.rate), col(|r| r.dividend), col(|r| r.vol));
    let inputs = Columns {
        kind: &kind,
        strike: &strike,
        expiry: &expiry,
        spot: &spot,
        rate: &rate,
        dividend: &dividend,
        vol: &vol,
    };
    let mut out = OutputColumns::new(options);
    let mut best = f64::INFINITY;
    for _ in 0..repeat {
        let t = std::time::Instant::now();
        batch::price_greeks(&inputs, &mut out.as_outputs())?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    // The same options through the scalar, row-at-a-time path, for comparison.
    let mut best_rows = f64::INFINITY;
    for _ in 0..repeat {
        let t = std::time::Instant::now();
        let priced = price_batch(&rows);
        best_rows = best_rows.min(t.elapsed().as_secs_f64());
        let failed = priced.iter().filter(|r| r.is_err()).count();
        anyhow::ensure!(failed == 0, "{failed} of {options} options failed to price");
    }
    let per_s = options as f64 / best;
    let rows_per_s = options as f64 / best_rows;
    match format {
        Format::Json => output::data(serde_json::to_string(&serde_json::json!({
            "options": options,
            "repeat": repeat,
            "seconds": best,
            "options_per_s": per_s,
            "rows_options_per_s": rows_per_s,
            "what": "price + delta, gamma, vega, theta, rho, validated columns \
                     (pricing::batch::price_greeks), one thread",
        }))?),
        Format::Text => {
            output::data(format_args!(
                "{options} options, price + 5 Greeks each, one thread, best of {repeat}:"
            ));
            output::data(format_args!(
                "  columns (batch::price_greeks)  {:>8.2} M options/s ({best:.3} s)",
                per_s / 1e6
            ));
            output::data(format_args!(
                "  rows (price_batch)             {:>8.2} M options/s ({best_rows:.3} s)",
                rows_per_s / 1e6
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn flow(
    workflows: u64,
    concurrency: u64,
    postgres: Option<String>,
    db: Option<std::path::PathBuf>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let bar = progress_bar(workflows, "workflows done");
    let shown = bar.clone();
    let progress: Arc<dyn Fn() + Send + Sync> = Arc::new(move || shown.inc(1));
    let report = on_bench_store(postgres, db, "flows.db", |store| {
        cadre_flow::bench::steps(store, workflows, concurrency, progress)
    })
    .await?;
    bar.finish_and_clear();
    match format {
        Format::Json => output::data(serde_json::to_string(&report)?),
        Format::Text => {
            output::data(format_args!(
                "{}: {} workflows x 3 steps, {} in flight, a checkpoint committed per step",
                report.backend, report.workflows, report.concurrency
            ));
            output::data(format_args!(
                "  throughput  {:>10.0} steps/s  {:>10.0} workflows/s  ({:.2}s)",
                report.steps_per_s, report.workflows_per_s, report.seconds
            ));
            output::data(format_args!(
                "  workflow latency  p50 {:.2} ms   p99 {:.2} ms",
                report.p50_ms, report.p99_ms
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `bench` on a fresh PostgreSQL schema of `postgres` (dropped afterwards), or on the
/// SQLite file `db` (default: `file` in a fresh temporary directory).
async fn on_bench_store<T, F, Fut>(
    postgres: Option<String>,
    db: Option<std::path::PathBuf>,
    file: &str,
    bench: F,
) -> anyhow::Result<T>
where
    F: FnOnce(Arc<dyn cadre_store::EventStore>) -> Fut,
    Fut: std::future::Future<Output = Result<T, cadre_core::Error>>,
{
    if let Some(url) = postgres {
        let schema = format!(
            "cadre_bench_{}",
            cadre_core::MessageId::new().as_uuid().simple()
        );
        let pg = cadre_store::PostgresStore::connect_with(&url, &schema).await?;
        output::note(format_args!("postgres {} schema {schema}", pg.target()));
        let pg = Arc::new(pg);
        let result = bench(Arc::clone(&pg) as Arc<dyn cadre_store::EventStore>).await;
        match Arc::try_unwrap(pg) {
            Ok(pg) => pg.drop_schema().await?,
            Err(_) => output::note(format_args!(
                "schema {schema} is still in use and was left; drop it by hand"
            )),
        }
        return Ok(result?);
    }
    let tmp;
    let path = match db {
        Some(p) => p,
        None => {
            tmp = tempfile::Builder::new().prefix("cadre-bench-").tempdir()?;
            tmp.path().join(file)
        }
    };
    output::note(format_args!("sqlite store: {}", path.display()));
    let store = Arc::new(cadre_store::SqliteStore::open(&path).await?);
    Ok(bench(store).await?)
}

async fn idle_agents(agents: usize, format: Format) -> anyhow::Result<ExitCode> {
    if agents == 0 {
        anyhow::bail!("--idle must be at least 1");
    }
    let r = cadre_runtime::bench::idle_agents(agents).await?;
    match format {
        Format::Json => output::data(serde_json::to_string(&r)?),
        Format::Text => output::data(format_args!(
            "{} idle agents on one node: {:.1} KiB each (resident memory {:.1} MiB -> {:.1} MiB; started in {:.2}s)",
            r.agents,
            r.bytes_per_agent / 1024.0,
            r.rss_before as f64 / 1048576.0,
            r.rss_after as f64 / 1048576.0,
            r.start_seconds
        )),
    }
    Ok(ExitCode::SUCCESS)
}

async fn bus(cmd: BenchCommand, loaded: cadre_config::Loaded) -> anyhow::Result<ExitCode> {
    let BenchCommand::Bus {
        backend,
        messages,
        payload,
        producers,
        consumers,
        batch,
        rate,
        max_backlog,
        db,
        no_baseline,
        format,
    } = cmd
    else {
        anyhow::bail!("not a bus benchmark");
    };
    if messages == 0 {
        anyhow::bail!("--messages must be at least 1");
    }
    let backend = backend.unwrap_or(match loaded.config.bus.backend {
        cadre_core::config::BusBackend::Memory => BackendArg::Memory,
        cadre_core::config::BusBackend::Sqlite => BackendArg::Sqlite,
    });
    let mut opts = BusOptions::from_config(&loaded.config.bus);
    opts.max_backlog = max_backlog.max(1);
    opts.publish_timeout = std::time::Duration::from_secs(60);
    let tmp;
    let bus: Arc<dyn Bus> = match backend {
        BackendArg::Memory => Arc::new(MemoryBus::new(opts)),
        BackendArg::Sqlite => {
            let path = match db {
                Some(p) => p,
                None => {
                    tmp = tempfile::Builder::new().prefix("cadre-bench-").tempdir()?;
                    tmp.path().join("bench.db")
                }
            };
            output::note(format_args!("sqlite database: {}", path.display()));
            Arc::new(SqliteBus::open(&path, opts).await?)
        }
    };
    let spec = LoadSpec {
        messages,
        payload_bytes: payload,
        producers,
        consumers,
        batch,
        rate,
        ..LoadSpec::default()
    };
    let bar = progress_bar(messages, "messages acked");
    let shown = bar.clone();
    let mut report: LoadReport = bench::run(bus, &spec, &move |n| shown.set_position(n)).await?;
    bar.finish_and_clear();
    if !no_baseline {
        let mpsc = bench::mpsc_baseline(messages.max(1_000_000), payload).await?;
        report.mpsc_msgs_per_s = Some(mpsc);
        report.ratio_to_mpsc = Some(report.msgs_per_s / mpsc);
        if backend == BackendArg::Sqlite {
            let dir = tempfile::Builder::new()
                .prefix("cadre-bench-peer-")
                .tempdir()?;
            let rows = messages;
            let path = dir.path().to_path_buf();
            let peer = tokio::task::spawn_blocking(move || {
                bench::sqlite_insert_baseline(&path, rows, payload)
            })
            .await??;
            report.sqlite_insert_rows_per_s = Some(peer);
            report.ratio_to_sqlite_insert = Some(report.msgs_per_s / peer);
        }
    }
    match format {
        Format::Json => output::data(serde_json::to_string(&report)?),
        Format::Text => print(&report),
    }
    Ok(ExitCode::SUCCESS)
}

fn print(r: &LoadReport) {
    output::data(format_args!(
        "backend {}: {} messages of {} bytes, {} producer(s) x batch {}, {} consumer(s){}",
        r.backend,
        r.messages,
        r.payload_bytes,
        r.producers,
        r.batch,
        r.consumers,
        r.rate
            .map(|x| format!(", held at {x} msgs/s"))
            .unwrap_or_default()
    ));
    output::data(format_args!(
        "  throughput        {:>12.0} msgs/s  (publish + deliver + ack, {:.2}s)",
        r.msgs_per_s, r.seconds
    ));
    output::data(format_args!(
        "  publish->deliver  p50 {:>9.1} us   p99 {:>9.1} us   max {:>9.1} us",
        r.deliver.p50_us, r.deliver.p99_us, r.deliver.max_us
    ));
    output::data(format_args!(
        "  publish->ack      p50 {:>9.1} us   p99 {:>9.1} us   max {:>9.1} us",
        r.ack.p50_us, r.ack.p99_us, r.ack.max_us
    ));
    if let (Some(m), Some(ratio)) = (r.mpsc_msgs_per_s, r.ratio_to_mpsc) {
        output::data(format_args!(
            "  baseline          {m:>12.0} msgs/s  bare tokio mpsc, same run; bus/mpsc = {ratio:.2}"
        ));
    }
    if let (Some(p), Some(ratio)) = (r.sqlite_insert_rows_per_s, r.ratio_to_sqlite_insert) {
        output::data(format_args!(
            "  sqlite peer       {p:>12.0} rows/s  plain inserts, 10,000 per transaction, same run; bus/peer = {ratio:.2}"
        ));
    }
}

fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{{spinner}} {{pos}}/{{len}} {what} [{{elapsed_precise}}] {{per_sec}}"
    )) {
        bar.set_style(style);
    }
    bar
}

/// The whole desk crew on the in-process bus, best of `repeat`.
async fn desk(
    crew: &std::path::Path,
    mut input: cadre_pack_desk::crew::DeskRun,
    repeat: usize,
    format: Format,
    loaded: &cadre_config::Loaded,
) -> anyhow::Result<ExitCode> {
    use anyhow::Context as _;
    use cadre_pack_desk::crew::{BACKTEST, DeskOutcome};
    let manifest = super::crew::load(crew, loaded.profile.as_deref())?;
    let catalog = super::crew::catalog();
    let specs = catalog.specs(&manifest, None)?;
    let mut builder = cadre_runtime::Node::builder(Arc::new(MemoryBus::default()))
        .options(cadre_runtime::crew::node_options(&manifest.runtime));
    for spec in specs {
        builder = builder.agent(spec);
    }
    let node = builder.start().await?;
    let tmp = tempfile::tempdir().context("a temporary run folder")?;
    let mut best = f64::INFINITY;
    let mut last = None;
    for i in 0..repeat {
        input.out = Some(tmp.path().join(format!("run-{i}")));
        let started = std::time::Instant::now();
        let outcome: DeskOutcome = node
            .client()
            .run(BACKTEST, &input, std::time::Duration::from_secs(3600))
            .await?;
        best = best.min(started.elapsed().as_secs_f64());
        last = Some(outcome);
    }
    node.shutdown().await;
    let outcome = last.expect("at least one run");
    let r = &outcome.report;
    let days = input.days.unwrap_or(2520);
    let symbols = input.symbols.unwrap_or(20);
    let bars = (days * symbols) as f64;
    match format {
        Format::Json => output::json(&serde_json::json!({
            "symbols": symbols,
            "days": days,
            "passes": if input.compare == Some(true) { 2 } else { 1 },
            "best_seconds": best,
            "days_per_second": days as f64 / best,
            "bars_per_second": bars / best,
            "decisions": r.summary.decisions,
            "fills": r.summary.fills,
            "final_equity": r.summary.final_equity,
            "repeat": repeat,
        }))?,
        Format::Text => output::data(format_args!(
            "whole desk: {symbols} symbols x {days} days, {} pass(es): best {:.3} s of {repeat} ({:.0} days/s, {:.0} bars/s); {} decisions, {} fills, final equity {:.0}",
            if input.compare == Some(true) { 2 } else { 1 },
            best,
            days as f64 / best,
            bars / best,
            r.summary.decisions,
            r.summary.fills,
            r.summary.final_equity
        )),
    }
    Ok(ExitCode::SUCCESS)
}
