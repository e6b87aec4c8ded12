//! The crew end to end on a fixture tree: finding the documents, checking them, and both agents
//! executing tasks through the `Agent` trait.

use std::fs;
use std::path::Path;

use cadre_core::{Agent, AgentId, AgentKind, Context, ErrorCode, Task};
use cadre_pack_docs::{
    BrokenLink, DocFile, DocStats, LINKS_CAPABILITY, LinkChecker, LinkReport, STATS_CAPABILITY,
    StatsAgent, check_file, markdown_files, render_table, stats,
};

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// A documentation folder with ignored, hidden and build directories mixed in.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, ".gitignore", "drafts/\n*.tmp.md\n");
    write(root, "guide/.ignore", "internal.md\n");
    write(
        root,
        "README.md",
        "# Cadre docs\n\
         \n\
         Start with the [setup guide](guide/setup.md#install) and the [API][api].\n\
         See <https://example.com/cadre> and [the changelog](CHANGELOG.md).\n\
         \n\
         ```md\n\
         [not checked](nowhere.md)\n\
         ```\n\
         \n\
         [api]: api/index.md#missing-section\n",
    );
    write(
        root,
        "guide/setup.md",
        "# Setup\n\
         \n\
         ## Install\n\
         \n\
         Back to [the top](../README.md#cadre-docs), [install](#install), [oops](#instal).\n\
         ![diagram](img/flow%20chart.svg)\n\
         [escape](../../secrets.md)\n",
    );
    write(root, "guide/img/flow chart.svg", "<svg/>");
    write(root, "guide/internal.md", "# Internal\n");
    write(root, "guide/Notes.MD.txt", "not markdown");
    write(root, "api/index.md", "# API\n\n## Tasks\n");
    write(root, "drafts/wip.md", "# WIP\n");
    write(root, "scratch.tmp.md", "# Scratch\n");
    write(root, ".github/CONTRIBUTING.md", "# Contributing\n");
    write(root, "target/doc/out.md", "# Built\n");
    write(root, "api/node_modules/pkg/README.md", "# Pkg\n");
    write(root, "api/v2/ünïcode.md", "# Ünïcode\n");
    dir
}

#[test]
fn markdown_files_honours_ignore_files_and_skips_hidden_and_build_dirs() {
    let dir = fixture();
    assert_eq!(
        markdown_files(dir.path()).unwrap(),
        [
            "README.md",
            "api/index.md",
            "api/v2/ünïcode.md",
            "guide/setup.md"
        ]
    );
}

#[test]
fn markdown_files_rejects_a_missing_or_non_directory_root() {
    let dir = fixture();
    let missing = dir.path().join("no-such-dir");
    let err = markdown_files(&missing).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert!(
        err.to_string()
            .contains(&format!("`{}` does not exist", missing.display())),
        "{err}"
    );
    let err = markdown_files(&dir.path().join("README.md")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    assert!(err.to_string().contains("is not a directory"), "{err}");
}

fn broken(line: u32, target: &str, reason: &str) -> BrokenLink {
    BrokenLink {
        line,
        target: target.into(),
        reason: reason.into(),
    }
}

#[test]
fn check_file_on_the_fixture() {
    let dir = fixture();
    assert_eq!(
        check_file(dir.path(), "README.md").unwrap(),
        LinkReport {
            path: "README.md".into(),
            links: 4,
            external: 1,
            broken: vec![
                broken(
                    3,
                    "api/index.md#missing-section",
                    "no anchor `#missing-section` in `api/index.md`"
                ),
                broken(4, "CHANGELOG.md", "no such file `CHANGELOG.md`"),
            ],
        }
    );
    assert_eq!(
        check_file(dir.path(), "guide/setup.md").unwrap(),
        LinkReport {
            path: "guide/setup.md".into(),
            links: 5,
            external: 0,
            broken: vec![
                broken(5, "#instal", "no anchor `#instal` in this file"),
                broken(7, "../../secrets.md", "leaves the documentation root"),
            ],
        }
    );
    let clean = check_file(dir.path(), "api/v2/ünïcode.md").unwrap();
    assert_eq!((clean.links, clean.external), (0, 0));
    assert!(clean.is_clean());
}

#[test]
fn stats_and_table_on_the_fixture() {
    let dir = fixture();
    let files = markdown_files(dir.path()).unwrap();
    let reports: Vec<LinkReport> = files
        .iter()
        .map(|f| check_file(dir.path(), f).unwrap())
        .collect();
    let all_stats: Vec<DocStats> = files
        .iter()
        .map(|f| stats(dir.path(), f).unwrap())
        .collect();
    assert_eq!(
        all_stats[0],
        DocStats {
            path: "README.md".into(),
            lines: 10,
            words: 15,
            headings: 1,
            code_blocks: 1,
            links: 4,
            reading_minutes: 0.075,
        }
    );
    let table = render_table(&reports, &all_stats);
    assert_eq!(
        table,
        "file               words  links  broken\n\
         README.md             15      4       2\n\
         api/index.md           2      0       0\n\
         api/v2/ünïcode.md      1      0       0\n\
         guide/setup.md        10      5       2\n\
         \n\
         README.md:3: api/index.md#missing-section — no anchor `#missing-section` in `api/index.md`\n\
         README.md:4: CHANGELOG.md — no such file `CHANGELOG.md`\n\
         guide/setup.md:5: #instal — no anchor `#instal` in this file\n\
         guide/setup.md:7: ../../secrets.md — leaves the documentation root\n\
         total: 4 files, 28 words, 9 links (1 external), 4 broken\n"
    );
}

fn context() -> Context {
    Context::new(
        AgentId::new("docs-1").unwrap(),
        AgentKind::new("docs").unwrap(),
    )
}

#[tokio::test]
async fn link_checker_executes_a_task() {
    let dir = fixture();
    let root = dir.path().to_str().unwrap();
    let agent = LinkChecker::from_config(&"ignore = [\"CHANGELOG\"]".parse().unwrap()).unwrap();
    let task = Task::new(LINKS_CAPABILITY, &DocFile::new(root, "README.md")).unwrap();
    assert!(agent.can_handle(&task).await.can_handle());
    let task_id = task.id;
    let cx = context().for_task(&task);
    let outcome = Agent::execute(&agent, task, &cx).await.unwrap();
    assert_eq!(outcome.task_id, task_id);
    let report: LinkReport = outcome.output().unwrap();
    assert_eq!(
        report,
        LinkReport {
            path: "README.md".into(),
            links: 4,
            external: 1,
            broken: vec![broken(
                3,
                "api/index.md#missing-section",
                "no anchor `#missing-section` in `api/index.md`"
            )],
        }
    );

    let missing = Task::new(LINKS_CAPABILITY, &DocFile::new(root, "nope.md")).unwrap();
    let err = Agent::execute(&agent, missing, &cx).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert!(err.to_string().contains("nope.md"), "{err}");

    let wrong = Task::new(
        LINKS_CAPABILITY,
        &LinkReport {
            path: "x".into(),
            links: 0,
            external: 0,
            broken: vec![],
        },
    )
    .unwrap();
    let err = Agent::execute(&agent, wrong, &cx).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::PayloadMismatch);
}

#[tokio::test]
async fn stats_agent_executes_a_task() {
    let dir = fixture();
    let root = dir.path().to_str().unwrap();
    let agent = StatsAgent::from_config(&"words_per_minute = 100".parse().unwrap()).unwrap();
    let task = Task::new(STATS_CAPABILITY, &DocFile::new(root, "guide/setup.md")).unwrap();
    assert!(agent.can_handle(&task).await.can_handle());
    let cx = context().for_task(&task);
    let outcome = Agent::execute(&agent, task, &cx).await.unwrap();
    let got: DocStats = outcome.output().unwrap();
    assert_eq!(
        got,
        DocStats {
            path: "guide/setup.md".into(),
            lines: 7,
            words: 10,
            headings: 2,
            code_blocks: 0,
            links: 5,
            reading_minutes: 0.1,
        }
    );
}

#[tokio::test]
async fn a_cancelled_context_stops_the_work() {
    let dir = fixture();
    let root = dir.path().to_str().unwrap();
    let task = Task::new(STATS_CAPABILITY, &DocFile::new(root, "README.md")).unwrap();
    let cx = context();
    cx.cancellation().cancel();
    let err = Agent::execute(&StatsAgent::new(), task, &cx)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled);
}
