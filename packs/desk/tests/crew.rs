//! The desk crew end to end on a node over the memory bus: deterministic reports, the book
//! rebuilt from its events, the audit trail, the kill switch, and agents that cannot look
//! ahead.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cadre_bus::MemoryBus;
use cadre_core::{Agent, AgentId, AgentKind, Context, ErrorCode, Task};
use cadre_pack_desk::crew::{
    ANALYZE, BACKTEST, Book, BookView, DataSpec, Desk, DeskOutcome, DeskRun, Execution,
    MarketAnalyst, PortfolioOptimizer, Pricing, Proposals, REBALANCE, RISK_CHECK, Report,
    RiskManager, StepInput, Tape, book_stream,
};
use cadre_pack_trading::market::{Bar, Bars};
use cadre_runtime::{AgentSpec, Node, PoolConfig};
use cadre_store::{EventQuery, EventStore, Repository, SqliteStore};

fn table(text: &str) -> toml::Table {
    text.parse().expect("valid TOML")
}

fn one() -> PoolConfig {
    PoolConfig {
        min: 1,
        max: 1,
        ..PoolConfig::default()
    }
}

fn kind(k: &str) -> AgentKind {
    AgentKind::new(k).unwrap()
}

/// A node with the whole desk; `desk` and `risk` are the two agents' configuration tables.
async fn desk_node(desk: &str, risk: &str) -> Node {
    let desk = Desk::from_config(&table(desk)).unwrap();
    let risk = RiskManager::from_config(&table(risk)).unwrap();
    let pricing = Pricing::from_config(&table(
        r#"max_vega = 1.0
book = [{ symbol = "SYM00", kind = "put", moneyness = 0.9, expiry_days = 300, quantity = 10 }]"#,
    ))
    .unwrap();
    let portfolio = PortfolioOptimizer::from_config(&table("window = 60")).unwrap();
    Node::builder(Arc::new(MemoryBus::default()))
        .agent(AgentSpec::new(kind("desk"), move || desk.clone()).pool(one()))
        .agent(AgentSpec::new(kind("analyst"), MarketAnalyst::default).pool(one()))
        .agent(AgentSpec::new(kind("risk"), move || risk.clone()).pool(one()))
        .agent(AgentSpec::new(kind("portfolio"), move || portfolio.clone()).pool(one()))
        .agent(AgentSpec::new(kind("execution"), || Execution).pool(one()))
        .agent(AgentSpec::new(kind("pricing"), move || pricing.clone()).pool(one()))
        .start()
        .await
        .unwrap()
}

async fn run(node: &Node, out: &Path, days: usize) -> DeskOutcome {
    let input = DeskRun {
        symbols: Some(6),
        days: Some(days),
        seed: Some(11),
        out: Some(out.to_path_buf()),
        ..DeskRun::default()
    };
    node.client()
        .run(BACKTEST, &input, Duration::from_secs(300))
        .await
        .unwrap()
}

fn report(dir: &Path) -> (String, Report) {
    let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
    let r = serde_json::from_str(&text).unwrap();
    (text, r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_runs_end_to_end_deterministically_and_its_book_is_event_sourced() {
    let node = desk_node("rebalance_every = 21\nprice_every = 10", "").await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let outcome = run(&node, &a, 400).await;
    run(&node, &b, 400).await;
    node.shutdown().await;

    // Same seed and data: byte-identical reports.
    let (text_a, r) = report(&a);
    let (text_b, _) = report(&b);
    assert_eq!(text_a, text_b, "two runs of the same market differ");

    // The report holds what the issue asks for, and is coherent.
    let json: serde_json::Value = serde_json::from_str(&text_a).unwrap();
    for key in [
        "cagr",
        "volatility",
        "sharpe",
        "sortino",
        "max_drawdown",
        "var_95",
        "cvar_95",
        "trades",
        "final_equity",
        "decisions",
    ] {
        assert!(json.get(key).is_some(), "report.json lacks `{key}`");
    }
    assert_eq!(r.equity.len(), 400);
    assert_eq!(r.summary.final_equity, *r.equity.last().unwrap());
    assert!(r.summary.decisions > 0, "the desk decided nothing");
    assert!(r.summary.fills > 0, "nothing was traded");
    assert_eq!(r.decision_log.len(), r.summary.decisions);
    let voted = r
        .decision_log
        .iter()
        .find(|d| d.outcome != "mandatory")
        .unwrap();
    assert_eq!(voted.votes.len(), 4, "every voter votes on every proposal");
    let comparison = r.comparison.as_ref().expect("fixed weights are compared");
    assert_eq!(comparison.weighting, "fixed");
    assert_eq!(r.summary.weighting, "adaptive");
    let agent_weights: f64 = r.agents.values().map(|a| a.final_weight).sum();
    assert!(
        (agent_weights - 4.0).abs() < 1e-9,
        "adaptive weights keep their total"
    );
    assert!(
        r.options_book
            .iter()
            .any(|g| g.contracts == 1 && g.value > 0.0)
    );
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert_eq!(
        html.matches("<svg").count(),
        3,
        "equity, drawdown and weights plots"
    );
    assert!(html.contains("Decision log"));
    assert_eq!(outcome.report.summary, r.summary);

    // The equity curve rebuilt from the book's events alone equals the report's, bit for bit.
    let store: Arc<dyn EventStore> = Arc::new(SqliteStore::open(a.join("book.db")).await.unwrap());
    let stream = cadre_store::StreamId::new(&outcome.book).unwrap();
    let (state, version) = Repository::<Book>::new(Arc::clone(&store))
        .load_from_events(&stream)
        .await
        .unwrap();
    assert!(version > 400);
    assert_eq!(state.equity.len(), r.equity.len());
    for (day, (x, y)) in state.equity.iter().zip(&r.equity).enumerate() {
        assert_eq!(
            x.to_bits(),
            y.to_bits(),
            "day {day}: {x} from events, {y} reported"
        );
    }
    assert_eq!(state.fills, r.summary.fills);
    // Long only: two sells on one symbol in one day never oversell it.
    assert!(
        state.positions.iter().all(|q| *q >= 0.0),
        "{:?}",
        state.positions
    );
    assert!(r.weights.iter().all(|(_, w)| w.iter().all(|x| *x >= 0.0)));

    // Every decision is on the audit trail with its votes.
    let decided = store
        .query(
            &EventQuery::new()
                .with_stream_prefix("audit/desk/")
                .with_event_type("audit.decide"),
            1,
            10_000,
        )
        .await
        .unwrap();
    let main_decisions = decided
        .iter()
        .filter(|e| e.stream.as_str().contains("-main/"))
        .count();
    assert_eq!(main_decisions, r.summary.decisions);
    // The pricing agent's Greeks breaches (vega above 1.0 here) are on the trail too.
    let greeks = store
        .query(
            &EventQuery::new().with_event_type("audit.greeks_breach"),
            1,
            100,
        )
        .await
        .unwrap();
    assert!(!greeks.is_empty(), "no Greeks breach audited");
    let first: serde_json::Value = serde_json::from_str(decided[0].payload.json()).unwrap();
    assert!(first["rationale"].is_string() && first["votes"].is_array());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drawdown_breach_pulls_the_kill_switch_and_flattens_the_book() {
    let node = desk_node("compare = false", "max_drawdown = 0.0005").await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(&node, dir.path(), 300).await;
    node.shutdown().await;
    let (_, r) = report(dir.path());
    let halted = r.summary.halted_at.expect("the kill switch was pulled");
    assert!(r.comparison.is_none());
    assert!(r.breaches.iter().any(|b| b.breach.starts_with("drawdown")));
    // No decision after the halt; the book ends flat.
    assert!(r.decision_log.iter().all(|d| d.step <= halted));
    let store: Arc<dyn EventStore> =
        Arc::new(SqliteStore::open(dir.path().join("book.db")).await.unwrap());
    let (state, _) = Repository::<Book>::new(Arc::clone(&store))
        .load_from_events(&cadre_store::StreamId::new(&outcome.book).unwrap())
        .await
        .unwrap();
    assert!(
        state.positions.iter().all(|q| *q == 0.0),
        "{:?}",
        state.positions
    );
    assert!(!state.breaches.is_empty());
    let halts = store
        .query(&EventQuery::new().with_event_type("audit.halt"), 1, 100)
        .await
        .unwrap();
    assert_eq!(halts.len(), 1);
}

fn csv(bars: &[Bar]) -> String {
    let mut t = String::from("date,open,high,low,close,volume\n");
    for b in bars {
        t.push_str(&format!(
            "{},{},{},{},{},{}\n",
            b.time().to_rfc3339(),
            b.open(),
            b.high(),
            b.low(),
            b.close(),
            b.volume()
        ));
    }
    t
}

async fn ask(agent: &impl Agent, k: &str, capability: &str, input: &StepInput) -> Proposals {
    let cx = Context::new(AgentId::new(format!("{k}-1")).unwrap(), kind(k));
    let task = Task::new(capability, input).unwrap();
    agent.execute(task, &cx).await.unwrap().output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_see_nothing_after_their_step() {
    // Two markets equal up to day `k` and wildly different after it.
    let k = 150;
    let tape = Tape::from_spec(&DataSpec::synthetic(4, 300, 5)).unwrap();
    let (same, changed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (s, symbol) in tape.symbols().iter().enumerate() {
        let bars = tape.view(299).history(s).to_vec();
        let mut other = Bars::new();
        for (i, b) in bars.iter().enumerate() {
            let f = if i > k { 3.0 + i as f64 / 50.0 } else { 1.0 };
            other
                .push(
                    Bar::new(
                        b.time(),
                        b.open() * f,
                        b.high() * f,
                        b.low() * f,
                        b.close() * f,
                        b.volume() * f,
                    )
                    .unwrap(),
                )
                .unwrap();
        }
        std::fs::write(same.path().join(format!("{symbol}.csv")), csv(&bars)).unwrap();
        std::fs::write(
            changed.path().join(format!("{symbol}.csv")),
            csv(other.as_slice()),
        )
        .unwrap();
    }
    let view = tape.view(k);
    assert_eq!(view.history(0).len(), k + 1);
    let positions = vec![300.0, 0.0, 120.0, 0.0];
    let book = BookView {
        cash: 900_000.0,
        equity: 1_000_000.0,
        peak: 1_010_000.0,
        positions: positions.clone(),
        exits: vec![None; 4],
    };
    let analyst = MarketAnalyst::default();
    let risk = RiskManager::from_config(&table("")).unwrap();
    let portfolio =
        PortfolioOptimizer::from_config(&table("window = 60\nmax_weight = 0.5")).unwrap();
    let mut seen = Vec::new();
    for dir in [same.path(), changed.path()] {
        let mut answers = Vec::new();
        for step in (k - 40)..=k {
            let input = StepInput {
                run: "look-ahead".into(),
                data: DataSpec {
                    data: Some(dir.to_path_buf()),
                    ..DataSpec::default()
                },
                step,
                book: book.clone(),
            };
            answers.push(ask(&analyst, "analyst", ANALYZE, &input).await);
            answers.push(ask(&risk, "risk", RISK_CHECK, &input).await);
            answers.push(ask(&portfolio, "portfolio", REBALANCE, &input).await);
        }
        seen.push(answers);
    }
    assert!(
        seen[0]
            .iter()
            .any(|p| !p.proposals.is_empty() || p.targets.is_some())
    );
    assert_eq!(
        seen[0], seen[1],
        "an agent's answer changed with data after its step"
    );
    // The optimiser tops held positions up toward their targets (and trims them down).
    assert!(
        seen[0].iter().flat_map(|p| &p.proposals).any(|p| {
            p.proposer() == "portfolio"
                && p.side() == cadre_pack_desk::model::Side::Buy
                && p.rationale().contains("below target")
        }),
        "no rebalancing buy"
    );
    // And the test can fail: a step after `k` does see the change.
    let after = |dir: &Path| StepInput {
        run: "look-ahead".into(),
        data: DataSpec {
            data: Some(dir.to_path_buf()),
            ..DataSpec::default()
        },
        step: k + 60,
        book: book.clone(),
    };
    let a = ask(&portfolio, "portfolio", REBALANCE, &after(same.path())).await;
    let b = ask(&portfolio, "portfolio", REBALANCE, &after(changed.path())).await;
    assert_ne!(a.targets, b.targets);
}

#[test]
fn bad_configuration_names_the_key() {
    let cases = [
        (Desk::from_config(&table("cahs = 1.0")).err(), "cahs"),
        (Desk::from_config(&table("voters = { risk = -1.0 }")).err(), "voters.risk"),
        (Desk::from_config(&table("threshold = 3.0")).err(), "threshold"),
        (RiskManager::from_config(&table("max_position = 2.0")).err(), "max_position"),
        (MarketAnalyst::from_config(&table("fast = 30\nslow = 10")).err(), "slow"),
        (
            Pricing::from_config(&table(
                r#"book = [{ symbol = "X", kind = "put", moneyness = -1.0, expiry_days = 5, quantity = 1 }]"#,
            ))
            .err(),
            "book[0].moneyness",
        ),
        (Execution::from_config(&table("latency = 1")).err(), "latency"),
    ];
    for (err, key) in cases {
        let err = err.unwrap_or_else(|| panic!("`{key}` was accepted"));
        assert_eq!(err.code(), ErrorCode::Config, "{err}");
        assert!(err.message().contains(key), "`{key}` not named in: {err}");
    }
}

#[test]
fn the_book_stream_is_named_after_the_run() {
    assert_eq!(book_stream("r-1").unwrap().as_str(), "desk/r-1/book");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walk_forward_learns_on_each_train_window_and_trades_the_next() {
    let node = desk_node("", "").await;
    let dir = tempfile::tempdir().unwrap();
    let input = DeskRun {
        symbols: Some(5),
        days: Some(400),
        seed: Some(4),
        out: Some(dir.path().to_path_buf()),
        walk_forward: Some(cadre_pack_desk::crew::WalkForward {
            train: 150,
            test: 100,
        }),
        ..DeskRun::default()
    };
    let _: DeskOutcome = node
        .client()
        .run(BACKTEST, &input, Duration::from_secs(300))
        .await
        .unwrap();
    // Too long a window is refused, naming the key.
    let too_long = DeskRun {
        walk_forward: Some(cadre_pack_desk::crew::WalkForward {
            train: 390,
            test: 100,
        }),
        out: Some(dir.path().join("bad")),
        ..input.clone()
    };
    let err = node
        .client()
        .run::<_, DeskOutcome>(BACKTEST, &too_long, Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(err.message().contains("walk_forward"), "{err}");
    node.shutdown().await;
    let (_, r) = report(dir.path());
    // Folds start every 100 days while a train window and a day of test fit: 0, 100, 200.
    assert_eq!(r.walk_forward.len(), 3);
    assert_eq!(r.equity.len(), 100 + 100 + 50);
    assert_eq!(r.dates.len(), r.equity.len());
    assert_eq!(r.dates[0], r.walk_forward[0].test.0);
    for pair in r.walk_forward.windows(2) {
        assert!(pair[0].test.1 < pair[1].test.0, "test windows overlap");
        assert!(pair[0].train.0 < pair[1].train.0);
    }
    let learned: f64 = r.walk_forward[0].weights.values().sum();
    assert!((learned - 4.0).abs() < 1e-9);
    assert_eq!(r.comparison.as_ref().unwrap().weighting, "configured");
}

mod paper {
    use super::*;
    use cadre_bus::Bus;
    use cadre_pack_desk::crew::{
        CONTROL, ControlAction, DeskControl, DeskStatus, REPLY_KEY, REQUEST_KEY, RegisterReply,
        RegisterRequest, RunMode, STATUS_KEY,
    };
    use std::time::Instant;

    /// The whole desk with a coordinator that takes operator requests while a run is going,
    /// on a bus this test keeps a handle to.
    async fn paper_node(desk: &str) -> (Node, Arc<dyn Bus>) {
        let bus: Arc<dyn Bus> = Arc::new(MemoryBus::default());
        let desk = Desk::from_config(&table(desk)).unwrap();
        let risk = RiskManager::from_config(&table("")).unwrap();
        let portfolio =
            PortfolioOptimizer::from_config(&table("window = 60\nmax_weight = 0.5")).unwrap();
        // One replica runs the session, the other answers the operators.
        let many = PoolConfig {
            min: 2,
            max: 2,
            batch: 1,
            ..one()
        };
        let node = Node::builder(Arc::clone(&bus))
            .agent(AgentSpec::new(kind("desk"), move || desk.clone()).pool(many))
            .agent(AgentSpec::new(kind("analyst"), MarketAnalyst::default).pool(one()))
            .agent(AgentSpec::new(kind("risk"), move || risk.clone()).pool(one()))
            .agent(AgentSpec::new(kind("portfolio"), move || portfolio.clone()).pool(one()))
            .agent(AgentSpec::new(kind("execution"), || Execution).pool(one()))
            .agent(AgentSpec::new(kind("pricing"), Pricing::default).pool(one()))
            .start()
            .await
            .unwrap();
        (node, bus)
    }

    async fn until<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(v) = probe().await {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn control(node: &Node, run: Option<String>, action: ControlAction) -> DeskStatus {
        let request = DeskControl::new(run, action);
        node.client()
            .run(CONTROL, &request, Duration::from_secs(30))
            .await
            .unwrap()
    }

    fn paper_run(out: &Path, days: usize) -> DeskRun {
        DeskRun {
            symbols: Some(4),
            days: Some(days),
            seed: Some(2),
            out: Some(out.to_path_buf()),
            mode: Some(RunMode::Paper),
            pace: Some(Duration::from_millis(3)),
            ..DeskRun::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn operators_review_and_flatten_a_paper_session() {
        // Any disagreement among the voters sends a proposal to manual review.
        let (node, bus) = paper_node("variance_limit = 0.0").await;
        let dir = tempfile::tempdir().unwrap();
        let client = node.client();
        let input = paper_run(dir.path(), 3000);
        let running = tokio::spawn(async move {
            client
                .run::<_, DeskOutcome>(BACKTEST, &input, Duration::from_secs(300))
                .await
        });
        // Two proposals wait for review: approve one, reject the other. (Other tests' sessions
        // run in this process too: ours is the one writing to `dir`.)
        let out = dir.path().display().to_string();
        let (run, pending) = until("two pending reviews", async || {
            let s = control(&node, None, ControlAction::Status).await;
            let mine = s.sessions.into_iter().find(|s| s.out == out)?;
            (mine.pending.len() >= 2).then_some((mine.run, mine.pending))
        })
        .await;
        let approved = control(
            &node,
            Some(run.clone()),
            ControlAction::Approve {
                proposal: pending[0].proposal,
                by: "tester".into(),
                why: "looks fine".into(),
            },
        )
        .await;
        assert!(
            approved.message.contains("approved by tester"),
            "{}",
            approved.message
        );
        control(
            &node,
            Some(run.clone()),
            ControlAction::Reject {
                proposal: pending[1].proposal,
                by: "tester".into(),
                why: "too big".into(),
            },
        )
        .await;
        // An unknown proposal is refused, naming it.
        let err = node
            .client()
            .run::<_, DeskStatus>(
                CONTROL,
                &DeskControl::new(
                    Some(run.clone()),
                    ControlAction::Approve {
                        proposal: 1,
                        by: "tester".into(),
                        why: String::new(),
                    },
                ),
                Duration::from_secs(30),
            )
            .await
            .unwrap_err();
        assert!(err.message().contains('1'), "{err}");
        // Flatten through the bus register, as `cadre desk flatten` does.
        let request = RegisterRequest {
            id: "req-1".into(),
            control: DeskControl::new(
                Some(run.clone()),
                ControlAction::Flatten {
                    by: "tester".into(),
                },
            ),
        };
        bus.set_control(REQUEST_KEY, Some(serde_json::to_string(&request).unwrap()))
            .await
            .unwrap();
        let reply = until("the flatten reply", async || {
            let text = bus.control(REPLY_KEY).await.unwrap()?;
            serde_json::from_str::<RegisterReply>(&text.value).ok()
        })
        .await;
        assert_eq!(reply.id, "req-1");
        assert!(
            reply
                .result
                .unwrap()
                .message
                .contains("every position closes")
        );
        let status = bus
            .control(STATUS_KEY)
            .await
            .unwrap()
            .expect("status published");
        assert!(status.value.contains("\"sessions\""));

        let outcome = running.await.unwrap().unwrap();
        node.shutdown().await;
        let (_, r) = report(dir.path());
        let reasons: Vec<&str> = r.decision_log.iter().map(|d| d.reason.as_str()).collect();
        assert!(
            reasons.iter().any(|x| x.contains("approved by tester")),
            "{reasons:?}"
        );
        assert!(reasons.iter().any(|x| x.contains("rejected by tester")));
        assert!(r.comparison.is_none(), "a paper session runs one pass");
        let store: Arc<dyn EventStore> =
            Arc::new(SqliteStore::open(dir.path().join("book.db")).await.unwrap());
        for t in ["audit.flatten", "audit.review"] {
            let found = store
                .query(&EventQuery::new().with_event_type(t), 1, 100)
                .await
                .unwrap();
            assert!(!found.is_empty(), "no `{t}` on the audit trail");
        }
        assert!(outcome.out.ends_with(dir.path().file_name().unwrap()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_kill_switch_holds_a_paper_session_until_resumed() {
        let (node, bus) = paper_node("").await;
        let dir = tempfile::tempdir().unwrap();
        let client = node.client();
        let input = paper_run(dir.path(), 2000);
        let running = tokio::spawn(async move {
            client
                .run::<_, DeskOutcome>(BACKTEST, &input, Duration::from_secs(300))
                .await
        });
        let out = dir.path().display().to_string();
        let halted = async |want: bool| {
            until("the session's halt state", async || {
                let text = bus.control(STATUS_KEY).await.unwrap()?;
                let s: DeskStatus = serde_json::from_str(&text.value).ok()?;
                let mine = s.sessions.into_iter().find(|s| s.out == out)?;
                (mine.halted == want).then_some(mine.step)
            })
            .await
        };
        halted(false).await;
        node.halt("test", "tester").await.unwrap();
        let at = halted(true).await;
        // Halted, the session holds its bar: no step passes however long the halt lasts.
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(halted(true).await, at, "the session moved while halted");
        node.resume().await.unwrap();
        let after = halted(false).await;
        assert!(after >= at);
        running.await.unwrap().unwrap();
        node.shutdown().await;
        let store: Arc<dyn EventStore> =
            Arc::new(SqliteStore::open(dir.path().join("book.db")).await.unwrap());
        for t in ["audit.halted", "audit.resumed"] {
            let found = store
                .query(&EventQuery::new().with_event_type(t), 1, 100)
                .await
                .unwrap();
            assert_eq!(found.len(), 1, "`{t}` entries");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analyst_reads_headlines_up_to_its_bar_only() {
    let spec = DataSpec::synthetic(4, 300, 5);
    let tape = Tape::from_spec(&spec).unwrap();
    let day = tape.times()[200].date_naive();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("news.csv");
    std::fs::write(
        &csv,
        format!(
            "date,symbol,headline\n{day},SYM01,\"SYM01 collapses: fraud scandal, terrible losses, panic and bankruptcy fears\"\n"
        ),
    )
    .unwrap();
    let analyst = MarketAnalyst::from_config(&table(&format!(
        "headlines = {:?}",
        csv.display().to_string()
    )))
    .unwrap();
    let book = BookView {
        cash: 900_000.0,
        equity: 1_000_000.0,
        peak: 1_000_000.0,
        positions: vec![0.0, 500.0, 0.0, 0.0],
        exits: vec![None; 4],
    };
    let at = |step: usize| StepInput {
        run: "news".into(),
        data: spec.clone(),
        step,
        book: book.clone(),
    };
    let news_sell = |p: &Proposals| {
        p.proposals
            .iter()
            .any(|x| x.symbol() == "SYM01" && x.rationale().starts_with("sentiment"))
    };
    assert!(
        !news_sell(&ask(&analyst, "analyst", ANALYZE, &at(199)).await),
        "saw tomorrow's news"
    );
    assert!(news_sell(
        &ask(&analyst, "analyst", ANALYZE, &at(200)).await
    ));
    assert!(news_sell(
        &ask(&analyst, "analyst", ANALYZE, &at(205)).await
    ));
    // A headlines file that does not exist is named.
    let err = MarketAnalyst::from_config(&table("headlines = \"/nowhere/news.csv\"")).unwrap_err();
    assert!(err.message().contains("/nowhere/news.csv"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_risk_manager_refuses_buys_beyond_its_var_limit() {
    let spec = DataSpec::synthetic(4, 300, 5);
    let risk = RiskManager::from_config(&table("max_var = 0.001\nmax_position = 1.0")).unwrap();
    let book = BookView {
        cash: 0.0,
        equity: 1_000_000.0,
        peak: 1_000_000.0,
        positions: vec![4000.0, 3000.0, 2500.0, 2000.0],
        exits: vec![None; 4],
    };
    let input = StepInput {
        run: "var".into(),
        data: spec,
        step: 280,
        book,
    };
    let checked = ask(&risk, "risk", RISK_CHECK, &input).await;
    assert!(
        checked.breaches.iter().any(|b| b.starts_with("VaR")),
        "{:?}",
        checked.breaches
    );
    let proposal = cadre_pack_desk::model::TradingProposal::new(
        cadre_pack_desk::model::ProposalId(1),
        "SYM02",
        cadre_pack_desk::model::Side::Buy,
        10.0,
        0.8,
        "test",
        "analyst",
        Tape::from_spec(&input.data).unwrap().times()[280],
    )
    .unwrap();
    let request = cadre_pack_desk::crew::VoteRequest {
        step: input.clone(),
        proposals: vec![proposal],
        targets: None,
    };
    let cx = Context::new(AgentId::new("risk-1").unwrap(), kind("risk"));
    let task = Task::new(cadre_pack_desk::crew::VOTE, &request).unwrap();
    let ballots: cadre_pack_desk::crew::Ballots =
        risk.execute(task, &cx).await.unwrap().output().unwrap();
    assert_eq!(
        ballots.ballots[0].verdict,
        cadre_pack_desk::model::Verdict::Reject
    );
    assert!(
        ballots.ballots[0].reasons[0].contains("VaR"),
        "{:?}",
        ballots.ballots[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pricing_agent_retries_then_its_breaker_opens() {
    // A book naming a symbol the market lacks cannot be valued.
    let pricing = Pricing::from_config(&table(
        r#"book = [{ symbol = "NOPE", kind = "call", moneyness = 1.0, expiry_days = 100, quantity = 1 }]"#,
    ))
    .unwrap();
    let input = StepInput {
        run: "pricing".into(),
        data: DataSpec::synthetic(2, 100, 1),
        step: 50,
        book: BookView {
            cash: 1.0,
            equity: 1.0,
            peak: 1.0,
            positions: vec![0.0, 0.0],
            exits: vec![None; 2],
        },
    };
    let cx = Context::new(AgentId::new("pricing-1").unwrap(), kind("pricing"));
    let mut codes = Vec::new();
    for _ in 0..4 {
        let task = Task::new(cadre_pack_desk::crew::PRICE, &input).unwrap();
        let err = pricing.execute(task, &cx).await.unwrap_err();
        codes.push((err.code(), err.is_retryable()));
    }
    // Three failures the runtime would retry, then the breaker answers at once.
    assert_eq!(codes[..3], [(ErrorCode::Unavailable, true); 3]);
    assert_eq!(codes[3].0, ErrorCode::CircuitOpen);
}
