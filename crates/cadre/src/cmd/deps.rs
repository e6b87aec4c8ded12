//! `cadre deps PATH`: the module dependency graph of a Python, JavaScript or TypeScript
//! repository, its cycles, order and critical path.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use cadre_pack_code::deps::{self, EdgeKind, Language, Options, Report, Weight};
use clap::{Args, ValueEnum};

use crate::output;

/// Output formats of `cadre deps`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum DepsFormat {
    /// Modules in dependency order with lines, slack and priority; cycles after.
    #[default]
    Table,
    /// The whole report as one JSON document (see docs/code-crew.md).
    Json,
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// A self-contained SVG picture: layered by dependency depth, boxes coloured by priority,
    /// cycle edges in red, the critical path highlighted.
    Svg,
}

/// Languages `--lang` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LangArg {
    /// `.py`
    Python,
    /// `.js .jsx .mjs .cjs`
    #[value(alias = "javascript")]
    Js,
    /// `.ts .tsx .mts .cts`
    #[value(alias = "typescript")]
    Ts,
}

/// What the critical path weighs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum WeightArg {
    /// Lines of code (non-blank, non-comment).
    #[default]
    Lines,
    /// Cyclomatic complexity per file.
    Complexity,
}

/// `cadre deps PATH`.
#[derive(Debug, Args)]
pub(crate) struct DepsArgs {
    /// The repository (or any directory) to analyse.
    path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: DepsFormat,
    /// Languages to read (comma-separated); all by default.
    #[arg(long, value_enum, value_delimiter = ',')]
    lang: Vec<LangArg>,
    /// Skip files and directories matching this glob (repository-relative; repeatable).
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Report external packages as modules, with edges to them.
    #[arg(long)]
    include_external: bool,
    /// Leave out type-only imports (`if TYPE_CHECKING:`, `import type`).
    #[arg(long)]
    no_type_only: bool,
    /// Exit 1 when the graph has a cycle, printing the cycles to stderr.
    #[arg(long)]
    check_cycles: bool,
    /// What the critical path weighs.
    #[arg(long, value_enum, default_value_t)]
    weight: WeightArg,
    /// Skip files larger than this many bytes.
    #[arg(long, default_value_t = 2 * 1024 * 1024, value_name = "BYTES")]
    max_file_size: u64,
    /// Parse every file in full with tree-sitter (slower): reports every syntax error, where
    /// the default lexical fast path reports those that stop its scanner.
    #[arg(long)]
    full_parse: bool,
}

/// Files beyond which a progress bar is shown (on stderr, when it is a terminal).
const PROGRESS_FROM: usize = 2_000;

pub(crate) fn run(args: DepsArgs) -> anyhow::Result<ExitCode> {
    let opts = Options {
        languages: args
            .lang
            .iter()
            .map(|l| match l {
                LangArg::Python => Language::Python,
                LangArg::Js => Language::JavaScript,
                LangArg::Ts => Language::TypeScript,
            })
            .collect(),
        exclude: args.exclude.clone(),
        include_external: args.include_external,
        type_only: !args.no_type_only,
        max_file_size: args.max_file_size,
        weight: match args.weight {
            WeightArg::Lines => Weight::Lines,
            WeightArg::Complexity => Weight::Complexity,
        },
        full_parse: args.full_parse,
    };
    let bar = std::sync::OnceLock::<indicatif::ProgressBar>::new();
    let progress = |done: usize, total: usize| {
        if total < PROGRESS_FROM {
            return;
        }
        let bar = bar.get_or_init(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total as u64),
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_message("parsing");
            bar
        });
        if done.is_multiple_of(256) || done == total {
            bar.set_position(done as u64);
        }
    };
    let report = deps::analyze(&args.path, &opts, &progress)?;
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    for s in &report.skipped {
        output::note(format!("skipped {}: {}", s.path, s.reason));
    }
    for w in &report.warnings {
        output::note(format!("warning: {w}"));
    }
    match args.format {
        DepsFormat::Json => output::json(&report)?,
        DepsFormat::Table => table(&report),
        DepsFormat::Dot => output::data(dot(&report)),
        DepsFormat::Mermaid => output::data(mermaid(&report)),
        DepsFormat::Svg => output::data(deps::svg::render(&report).trim_end()),
    }
    if args.check_cycles && !report.cycles.is_empty() {
        output::note(format!("{} import cycle(s):", report.cycles.len()));
        for cycle in &report.cycles {
            let mut line = cycle.join(" -> ");
            if let Some(first) = cycle.first() {
                let _ = write!(line, " -> {first}");
            }
            output::note(format!("  {line}"));
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn table(report: &Report) {
    let by_id: std::collections::HashMap<&str, &deps::Module> =
        report.modules.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut imports = std::collections::HashMap::<&str, (usize, usize)>::new();
    for e in &report.edges {
        imports.entry(e.from.as_str()).or_default().0 += 1;
        imports.entry(e.to.as_str()).or_default().1 += 1;
    }
    let rows: Vec<Vec<String>> = report
        .order
        .iter()
        .filter_map(|id| by_id.get(id.as_str()))
        .map(|m| {
            let (out, inn) = imports.get(m.id.as_str()).copied().unwrap_or_default();
            vec![
                m.id.clone(),
                if m.external {
                    "external".to_owned()
                } else {
                    m.language.name().to_owned()
                },
                m.lines.to_string(),
                out.to_string(),
                inn.to_string(),
                m.slack.to_string(),
                m.priority.name().to_owned(),
            ]
        })
        .collect();
    output::table(
        &[
            "module",
            "language",
            "lines",
            "imports",
            "imported_by",
            "slack",
            "priority",
        ],
        &rows,
    );
    for cycle in &report.cycles {
        output::data(format!("cycle: {}", cycle.join(" -> ")));
    }
    output::note(format!(
        "{} files, {} modules, {} edges, {} cycles; critical path {} modules, {} {}",
        report.files,
        report.modules.len(),
        report.edges.len(),
        report.cycles.len(),
        report.critical_path.len(),
        report.critical_length,
        match report.weight {
            Weight::Lines => "lines",
            Weight::Complexity => "complexity",
        }
    ));
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{}\"", s.replace('"', "'")))
}

fn dot(report: &Report) -> String {
    let critical: std::collections::HashSet<&str> =
        report.critical_path.iter().map(String::as_str).collect();
    let mut out = String::from("digraph deps {\n  rankdir=LR;\n  node [shape=box];\n");
    for m in &report.modules {
        let mut attrs = vec![format!("label={}", quoted(&m.id))];
        if m.external {
            attrs.push("style=dashed".to_owned());
        }
        if critical.contains(m.id.as_str()) {
            attrs.push("color=red".to_owned());
        }
        let _ = writeln!(out, "  {} [{}];", quoted(&m.id), attrs.join(", "));
    }
    for e in &report.edges {
        let style = match e.kind {
            EdgeKind::Runtime => "solid",
            EdgeKind::TypeOnly => "dashed",
            EdgeKind::Dynamic => "dotted",
        };
        let _ = writeln!(
            out,
            "  {} -> {} [style={style}];",
            quoted(&e.from),
            quoted(&e.to)
        );
    }
    out.push('}');
    out
}

fn mermaid(report: &Report) -> String {
    let index: std::collections::HashMap<&str, usize> = report
        .modules
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id.as_str(), i))
        .collect();
    let mut out = String::from("flowchart LR\n");
    for (i, m) in report.modules.iter().enumerate() {
        let label = m.id.replace('"', "#quot;");
        let _ = writeln!(out, "  m{i}[\"{label}\"]");
    }
    for e in &report.edges {
        let (Some(a), Some(b)) = (index.get(e.from.as_str()), index.get(e.to.as_str())) else {
            continue;
        };
        let arrow = match e.kind {
            EdgeKind::Runtime => "-->",
            EdgeKind::TypeOnly | EdgeKind::Dynamic => "-.->",
        };
        let _ = writeln!(out, "  m{a} {arrow} m{b}");
    }
    out.trim_end().to_owned()
}
