//! The dependency analyzer: walks a repository (honouring `.gitignore`), extracts the imports
//! of its Python, JavaScript and TypeScript files in parallel (a lexical scan finds the import
//! statements, tree-sitter parses them), resolves them to modules and analyses the module
//! graph (cycles, order, critical path, priorities).
//!
//! ```no_run
//! use cadre_pack_code::deps::{Options, analyze};
//!
//! let report = analyze(std::path::Path::new("."), &Options::default(), &|_, _| {})?;
//! for cycle in &report.cycles {
//!     println!("cycle: {}", cycle.join(" -> "));
//! }
//! # Ok::<(), cadre_core::Error>(())
//! ```

pub mod extract;
pub mod graph;
mod lex;
pub mod resolve;
pub mod svg;

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::path::Path;

use cadre_core::{Error, ErrorCode};
use rayon::prelude::*;
use serde::Serialize;

pub use extract::{EdgeKind, Language};
pub use graph::Priority;
use resolve::{JsIndex, PythonIndex, Target};

/// The weight of a module on the critical path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Weight {
    /// Lines of code (non-blank, non-comment).
    #[default]
    Lines,
    /// Cyclomatic complexity (1 + decision points of the file).
    Complexity,
}

/// What to analyse and what to report.
#[derive(Debug, Clone)]
pub struct Options {
    /// Languages to read; empty reads all.
    pub languages: Vec<Language>,
    /// Glob patterns (repository-relative, `**` allowed) of files and directories to skip.
    pub exclude: Vec<String>,
    /// Report external packages as modules (and edges to them).
    pub include_external: bool,
    /// Keep type-only edges.
    pub type_only: bool,
    /// Files larger than this many bytes are skipped (and reported).
    pub max_file_size: u64,
    /// The critical path's weight.
    pub weight: Weight,
    /// Parse every file in full with tree-sitter instead of the lexical fast path: slower,
    /// but every syntax error is reported (the fast path reports those its scanner cannot
    /// follow).
    pub full_parse: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            languages: Vec::new(),
            exclude: Vec::new(),
            include_external: false,
            type_only: true,
            max_file_size: 2 * 1024 * 1024,
            weight: Weight::Lines,
            full_parse: false,
        }
    }
}

/// A module: a file of the repository or an external package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Module {
    /// Python: the dotted name (`flask.app`); JavaScript/TypeScript: the repository-relative
    /// path (`src/app.ts`); external: the package name (`numpy`, `@scope/pkg`).
    pub id: String,
    /// The repository-relative file (`null` for an external package).
    pub path: Option<String>,
    /// The language.
    pub language: Language,
    /// Lines of code (0 for an external package).
    pub lines: u32,
    /// Whether it is an external package.
    pub external: bool,
    /// Cyclomatic complexity of the file (0 for an external package).
    pub complexity: u32,
    /// Critical length − the heaviest chain through this module.
    pub slack: u64,
    /// CRITICAL, HIGH, NORMAL or LOW.
    pub priority: Priority,
}

/// An import between two modules (several imports of the same module are one edge: the
/// strongest kind — runtime, then dynamic, then type-only — at its first line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// The importing module's id.
    pub from: String,
    /// The imported module's id.
    pub to: String,
    /// runtime, type-only or dynamic.
    pub kind: EdgeKind,
    /// The 1-based line of the import in the importer.
    pub line: u32,
}

/// A file that was not analysed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The repository-relative file.
    pub path: String,
    /// Why (`binary`, `larger than N bytes`, a read error).
    pub reason: String,
}

/// A problem in a file that was still analysed (a syntax error, a bad `tsconfig.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// The repository-relative file.
    pub path: String,
    /// The 1-based line, when known.
    pub line: Option<u32>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path, line, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// The analysis of a repository. Serialises to the documented JSON shape (`modules`,
/// `edges`, `cycles`, `order`, `critical_path`, then extra keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Modules by id.
    pub modules: Vec<Module>,
    /// Edges by (from, to).
    pub edges: Vec<Edge>,
    /// One shortest cycle per strongly connected component of more than one module.
    pub cycles: Vec<Vec<String>>,
    /// Every module id, dependencies first.
    pub order: Vec<String>,
    /// The heaviest dependency chain, dependencies first.
    pub critical_path: Vec<String>,
    /// The critical path's weight.
    pub critical_length: u64,
    /// What the weight counts.
    pub weight: Weight,
    /// Source files analysed.
    pub files: usize,
    /// Files not analysed.
    pub skipped: Vec<Skipped>,
    /// Problems in analysed files.
    pub warnings: Vec<Warning>,
}

/// One analysed source file.
struct Scanned {
    rel: String,
    lang: Language,
    extracted: extract::Extracted,
}

enum FileOutcome {
    Scanned(Scanned),
    Skipped(Skipped),
}

/// Files found by the walk.
#[derive(Default)]
struct Found {
    sources: Vec<(String, Language)>,
    tsconfigs: Vec<String>,
    manifests: Vec<String>,
}

fn walk(root: &Path, opts: &Options) -> Result<Found, Error> {
    let mut globs = globset::GlobSetBuilder::new();
    for pattern in &opts.exclude {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(false)
            .build()
            .map_err(|e| Error::invalid_field("--exclude", format!("`{pattern}`: {e}")))?;
        globs.add(glob);
    }
    let excluded = globs
        .build()
        .map_err(|e| Error::invalid_field("--exclude", e))?;
    let mut found = Found::default();
    let walker = ignore::WalkBuilder::new(root)
        .require_git(false)
        .filter_entry(|e| e.file_name() != "node_modules")
        .build();
    for entry in walker {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let Some(rel) = rel.to_str().map(|s| s.replace('\\', "/")) else {
            continue;
        };
        if !opts.exclude.is_empty()
            && (excluded.is_match(&rel)
                || rel
                    .match_indices('/')
                    .any(|(i, _)| excluded.is_match(&rel[..i])))
        {
            continue;
        }
        let name = rel.rsplit('/').next().unwrap_or(&rel);
        if name == "tsconfig.json" {
            found.tsconfigs.push(rel.clone());
        } else if name == "package.json" {
            found.manifests.push(rel.clone());
        }
        if let Some(lang) = Language::of_path(&rel)
            && (opts.languages.is_empty() || opts.languages.contains(&lang))
        {
            found.sources.push((rel, lang));
        }
    }
    found.sources.sort();
    Ok(found)
}

fn read_source(root: &Path, rel: &str, limit: u64) -> Result<Vec<u8>, String> {
    let mut file = std::fs::File::open(root.join(rel)).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len > limit {
        return Err(format!("larger than {limit} bytes ({len} bytes)"));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(format!("larger than {limit} bytes"));
    }
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return Err("binary (a NUL byte in the first 8 KiB)".to_owned());
    }
    Ok(bytes)
}

/// Analyses the repository at `root`. `progress(done, total)` is called as files are parsed
/// (from worker threads).
///
/// # Errors
/// `InvalidInput` when `root` is not a directory or an `--exclude` glob is malformed.
/// Unreadable, binary or oversized files are skipped and reported, files with syntax errors
/// are analysed and reported as warnings: neither is an error.
pub fn analyze(
    root: &Path,
    opts: &Options,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report, Error> {
    if !root.is_dir() {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("{} is not a directory", root.display()),
        ));
    }
    let found = walk(root, opts)?;
    let total = found.sources.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let outcomes: Vec<FileOutcome> = found
        .sources
        .par_iter()
        .map_init(
            || extract::Parsers::new().ok(),
            |parsers, (rel, lang)| {
                let outcome = match read_source(root, rel, opts.max_file_size) {
                    Err(reason) => FileOutcome::Skipped(Skipped {
                        path: rel.clone(),
                        reason,
                    }),
                    Ok(bytes) => match parsers {
                        Some(p) => FileOutcome::Scanned(Scanned {
                            rel: rel.clone(),
                            lang: *lang,
                            extracted: if opts.full_parse {
                                p.extract_full(rel, *lang, &bytes)
                            } else {
                                p.extract(rel, *lang, &bytes)
                            },
                        }),
                        None => FileOutcome::Skipped(Skipped {
                            path: rel.clone(),
                            reason: "the grammars did not load".to_owned(),
                        }),
                    },
                };
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress(n, total);
                outcome
            },
        )
        .collect();

    let mut skipped = Vec::new();
    let mut scanned = Vec::with_capacity(outcomes.len());
    for o in outcomes {
        match o {
            FileOutcome::Scanned(s) => scanned.push(s),
            FileOutcome::Skipped(s) => skipped.push(s),
        }
    }
    let mut warnings: Vec<Warning> = scanned
        .iter()
        .filter_map(|s| {
            s.extracted.first_error_line.map(|line| Warning {
                path: s.rel.clone(),
                line: Some(line),
                message: "syntax error (imports before and after it are still read)".to_owned(),
            })
        })
        .collect();
    Ok(build(root, opts, &found, scanned, skipped, &mut warnings))
}

fn build(
    root: &Path,
    opts: &Options,
    found: &Found,
    scanned: Vec<Scanned>,
    skipped: Vec<Skipped>,
    warnings: &mut Vec<Warning>,
) -> Report {
    // Python ids; `src/` is a root unless it is a package itself.
    let src_is_root = !root.join("src/__init__.py").is_file();
    let ids: Vec<String> = scanned
        .iter()
        .map(|s| match s.lang {
            Language::Python => resolve::python_module_id(&s.rel, src_is_root),
            _ => s.rel.clone(),
        })
        .collect();
    let python = PythonIndex::new(
        scanned
            .iter()
            .zip(&ids)
            .filter(|(s, _)| s.lang == Language::Python)
            .map(|(s, id)| (id.as_str(), s.rel.ends_with("__init__.py"))),
    );
    let mut problems = Vec::new();
    let js = if scanned.iter().any(|s| s.lang != Language::Python) {
        let tsconfigs = found
            .tsconfigs
            .iter()
            .map(|rel| {
                (
                    resolve::parent(rel).to_owned(),
                    resolve::load_tsconfig(root, rel, 0, &mut problems),
                )
            })
            .collect();
        let packages = resolve::load_packages(root, &found.manifests, &mut problems);
        JsIndex::new(
            scanned
                .iter()
                .filter(|s| s.lang != Language::Python)
                .map(|s| s.rel.clone()),
            tsconfigs,
            packages,
        )
    } else {
        JsIndex::default()
    };
    warnings.extend(problems.into_iter().map(|p| Warning {
        path: p.path,
        line: None,
        message: p.message,
    }));

    // Modules by id (the first file wins when two map to one id, e.g. `a.py` and `src/a.py`
    // both at a root).
    let mut modules: BTreeMap<String, Module> = BTreeMap::new();
    for (s, id) in scanned.iter().zip(&ids) {
        if modules.contains_key(id) {
            warnings.push(Warning {
                path: s.rel.clone(),
                line: None,
                message: format!("module `{id}` is already defined by another file; ignored"),
            });
            continue;
        }
        modules.insert(
            id.clone(),
            Module {
                id: id.clone(),
                path: Some(s.rel.clone()),
                language: s.lang,
                lines: s.extracted.lines,
                external: false,
                complexity: s.extracted.complexity,
                slack: 0,
                priority: Priority::Low,
            },
        );
    }
    // Edges: (from, to) → (kind, line), the strongest kind at its first line.
    let mut edges: BTreeMap<(String, String), (EdgeKind, u32)> = BTreeMap::new();
    for (s, id) in scanned.iter().zip(&ids) {
        if modules.get(id).and_then(|m| m.path.as_deref()) != Some(s.rel.as_str()) {
            continue;
        }
        for import in &s.extracted.imports {
            if import.kind == EdgeKind::TypeOnly && !opts.type_only {
                continue;
            }
            let targets: Vec<Target> = match s.lang {
                Language::Python => python.resolve(id, &import.spec),
                _ => match &import.spec {
                    extract::ImportSpec::Js(spec) => js.resolve(&s.rel, spec).into_iter().collect(),
                    extract::ImportSpec::Python { .. } => Vec::new(),
                },
            };
            for target in targets {
                let to = match target {
                    Target::Internal(to) => to,
                    Target::External(name) => {
                        if !opts.include_external {
                            continue;
                        }
                        modules.entry(name.clone()).or_insert_with(|| Module {
                            id: name.clone(),
                            path: None,
                            language: s.lang,
                            lines: 0,
                            external: true,
                            complexity: 0,
                            slack: 0,
                            priority: Priority::Low,
                        });
                        name
                    }
                };
                if to == *id {
                    continue;
                }
                let rank = |k: EdgeKind| match k {
                    EdgeKind::Runtime => 0,
                    EdgeKind::Dynamic => 1,
                    EdgeKind::TypeOnly => 2,
                };
                edges
                    .entry((id.clone(), to))
                    .and_modify(|(kind, line)| {
                        if (rank(import.kind), import.line) < (rank(*kind), *line) {
                            *kind = import.kind;
                            *line = import.line;
                        }
                    })
                    .or_insert((import.kind, import.line));
            }
        }
    }

    let mut modules: Vec<Module> = modules.into_values().collect();
    let index: HashMap<&str, usize> = modules
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id.as_str(), i))
        .collect();
    let weights: Vec<u64> = modules
        .iter()
        .map(|m| match opts.weight {
            Weight::Lines => u64::from(m.lines),
            Weight::Complexity => u64::from(m.complexity),
        })
        .collect();
    let pairs: Vec<(usize, usize)> = edges
        .keys()
        .filter_map(|(a, b)| Some((*index.get(a.as_str())?, *index.get(b.as_str())?)))
        .collect();
    let g = graph::analyze(modules.len(), &weights, &pairs);
    let name = |i: &usize| modules[*i].id.clone();
    let cycles = g
        .cycles
        .iter()
        .map(|c| c.iter().map(name).collect())
        .collect();
    let order = g.order.iter().map(name).collect();
    let critical_path = g.critical_path.iter().map(name).collect();
    for (i, m) in modules.iter_mut().enumerate() {
        m.slack = g.slack[i];
        m.priority = g.priority[i];
    }
    let edges = edges
        .into_iter()
        .map(|((from, to), (kind, line))| Edge {
            from,
            to,
            kind,
            line,
        })
        .collect();
    let mut skipped = skipped;
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    warnings.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    Report {
        modules,
        edges,
        cycles,
        order,
        critical_path,
        critical_length: g.critical_length,
        weight: opts.weight,
        files: scanned.len(),
        skipped,
        warnings: std::mem::take(warnings),
    }
}
