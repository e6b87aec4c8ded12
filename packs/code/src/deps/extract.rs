//! Import extraction: a file's imports (with their line and kind), its lines of code and
//! decision points, and the line of its first syntax error.
//!
//! Two paths give the same result on every file that parses (agreement tests and the fuzz
//! target check it): [`Parsers::extract`], the default, scans the file lexically
//! (`deps::lex`) and has tree-sitter parse only its import statements;
//! [`Parsers::extract_full`] parses the whole file and scans its syntax tree, and is what the
//! fast path falls back to. Tree traversals are iterative (a tree cursor and a heap stack), so
//! deeply nested input cannot overflow the thread's stack; a tree with errors is still
//! scanned for what parsed.

use serde::Serialize;
use tree_sitter::{Node, Parser, Tree, TreeCursor};

/// The languages the analyzer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Python (`.py`).
    Python,
    /// JavaScript (`.js .jsx .mjs .cjs`).
    JavaScript,
    /// TypeScript (`.ts .tsx .mts .cts`, declaration files `.d.ts`).
    TypeScript,
}

impl Language {
    /// The language of a file, by its name; `None` for other files.
    pub fn of_path(path: &str) -> Option<Self> {
        let ext = path.rsplit_once('.').map(|(_, e)| e)?;
        match ext {
            "py" => Some(Self::Python),
            "js" | "jsx" | "mjs" | "cjs" => Some(Self::JavaScript),
            "ts" | "tsx" | "mts" | "cts" => Some(Self::TypeScript),
            _ => None,
        }
    }

    /// The name used on the command line and in JSON (`python`, `javascript`, `typescript`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Python => "python",
            Self::JavaScript => "javascript",
            Self::TypeScript => "typescript",
        }
    }
}

/// How an import binds its importer to the imported module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    /// Loaded when the importer is loaded.
    Runtime,
    /// Only for the type checker: `if TYPE_CHECKING:`, `import type`, `export type`.
    TypeOnly,
    /// Loaded on demand: `import('lit')`.
    Dynamic,
}

impl EdgeKind {
    /// The name used in JSON and tables (`runtime`, `type-only`, `dynamic`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Runtime => "runtime",
            Self::TypeOnly => "type-only",
            Self::Dynamic => "dynamic",
        }
    }
}

/// What an import names, before resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportSpec {
    /// A Python import: `import a.b` is `{level: 0, module: "a.b", names: []}`,
    /// `from ..pkg import y, z` is `{level: 2, module: "pkg", names: ["y", "z"]}` and a star
    /// import has the name `*`.
    Python {
        /// Leading dots of a relative import (0 for absolute).
        level: usize,
        /// The dotted module after the dots (empty for `from . import x`).
        module: String,
        /// The names of a `from` import.
        names: Vec<String>,
    },
    /// A JavaScript or TypeScript module specifier, as written (`./a`, `react`, `@/lib/x`).
    Js(String),
}

/// One import found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawImport {
    /// What it names.
    pub spec: ImportSpec,
    /// Its kind.
    pub kind: EdgeKind,
    /// Its 1-based line.
    pub line: u32,
}

/// What one pass over a file found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// The imports, in source order.
    pub imports: Vec<RawImport>,
    /// Lines of code: lines spanned by a token that is not a comment, blank lines excluded.
    pub lines: u32,
    /// Cyclomatic complexity: 1 + the decision points (branches, loops, handlers, boolean
    /// operators, conditional expressions) of the whole file.
    pub complexity: u32,
    /// The 1-based line of the first syntax error, if the file did not parse cleanly.
    pub first_error_line: Option<u32>,
}

/// What the scan does with a node kind (bit flags, one table per grammar).
const COMMENT: u8 = 1;
const DECISION: u8 = 2;
const BINARY: u8 = 4;
const IMPORT: u8 = 8;
const EXPORT: u8 = 16;
const CALL: u8 = 32;
const IF: u8 = 64;
const STRING: u8 = 128;

/// A parser with its grammar's node-kind flags and field ids, built once per thread so that
/// the per-node work of a scan is integer comparisons (no kind names, no field-name lookups).
struct Grammar {
    parser: Parser,
    /// Flags by node kind id (ids beyond the table, such as `ERROR`, have none).
    flags: Vec<u8>,
    fields: Fields,
}

/// Field ids of one grammar (0 when the grammar has no such field).
#[derive(Clone, Copy)]
struct Fields {
    consequence: u16,
    condition: u16,
    attribute: u16,
    operator: u16,
    function: u16,
    arguments: u16,
    source: u16,
}

impl Grammar {
    fn new(
        lang: Language,
        grammar: &tree_sitter::Language,
        name: &str,
    ) -> Result<Self, cadre_core::Error> {
        let mut parser = Parser::new();
        parser.set_language(grammar).map_err(|e| {
            cadre_core::Error::new(
                cadre_core::ErrorCode::Internal,
                format!("the {name} grammar does not load: {e}"),
            )
        })?;
        let count = u16::try_from(grammar.node_kind_count()).unwrap_or(u16::MAX);
        let flags = (0..count)
            .map(|id| {
                grammar
                    .node_kind_for_id(id)
                    .map_or(0, |kind| kind_flags(lang, kind))
            })
            .collect();
        let field = |name: &str| grammar.field_id_for_name(name).map_or(0, |f| f.get());
        Ok(Self {
            parser,
            flags,
            fields: Fields {
                consequence: field("consequence"),
                condition: field("condition"),
                attribute: field("attribute"),
                operator: field("operator"),
                function: field("function"),
                arguments: field("arguments"),
                source: field("source"),
            },
        })
    }
}

/// The scan's flags for a node kind of `lang`.
fn kind_flags(lang: Language, kind: &str) -> u8 {
    let mut flags = 0;
    if kind.contains("comment") {
        flags |= COMMENT;
    }
    match lang {
        Language::Python => {
            if matches!(
                kind,
                "if_statement"
                    | "elif_clause"
                    | "for_statement"
                    | "while_statement"
                    | "except_clause"
                    | "conditional_expression"
                    | "boolean_operator"
                    | "case_clause"
                    | "for_in_clause"
                    | "if_clause"
            ) {
                flags |= DECISION;
            }
            match kind {
                "import_statement" | "import_from_statement" => flags |= IMPORT,
                "if_statement" => flags |= IF,
                // A string is one token: every non-blank row it spans is code, also where
                // its content node is not a leaf (it has escape sequences or `{{` as
                // children, which would leave the rows between them uncovered).
                "string" => flags |= STRING,
                _ => {}
            }
        }
        Language::JavaScript | Language::TypeScript => {
            if matches!(
                kind,
                "if_statement"
                    | "for_statement"
                    | "for_in_statement"
                    | "while_statement"
                    | "do_statement"
                    | "switch_case"
                    | "catch_clause"
                    | "ternary_expression"
            ) {
                flags |= DECISION;
            }
            match kind {
                "binary_expression" => flags |= BINARY,
                "import_statement" => flags |= IMPORT,
                "export_statement" => flags |= EXPORT,
                "call_expression" => flags |= CALL,
                _ => {}
            }
        }
    }
    flags
}

/// tree-sitter parsers for every language, one set per thread.
#[allow(missing_debug_implementations)] // tree_sitter::Parser is not Debug
pub struct Parsers {
    python: Grammar,
    javascript: Grammar,
    typescript: Grammar,
    tsx: Grammar,
}

impl Parsers {
    /// Parsers for Python, JavaScript, TypeScript and TSX.
    ///
    /// # Errors
    /// When a grammar is incompatible with the tree-sitter library (a build problem).
    pub fn new() -> Result<Self, cadre_core::Error> {
        Ok(Self {
            python: Grammar::new(
                Language::Python,
                &tree_sitter_python::LANGUAGE.into(),
                "python",
            )?,
            javascript: Grammar::new(
                Language::JavaScript,
                &tree_sitter_javascript::LANGUAGE.into(),
                "javascript",
            )?,
            typescript: Grammar::new(
                Language::TypeScript,
                &tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
                "typescript",
            )?,
            tsx: Grammar::new(
                Language::TypeScript,
                &tree_sitter_typescript::LANGUAGE_TSX.into(),
                "tsx",
            )?,
        })
    }

    /// Extracts the imports, lines of code and complexity of `source`, read as the language of
    /// `path` (TSX for `.tsx`, the JSX-aware JavaScript grammar for every JavaScript file).
    ///
    /// The fast path: a lexical scan (`deps::lex`) counts lines and decision points and
    /// finds the import statements and calls, and tree-sitter parses only those. A file the
    /// scan cannot follow, or whose import statements do not parse, is parsed in full
    /// ([`Parsers::extract_full`]), which names the line of its first syntax error; a syntax
    /// error the scan does not notice (`x = 1 +` on a line of its own) is not reported on this
    /// path.
    pub fn extract(&mut self, path: &str, lang: Language, source: &[u8]) -> Extracted {
        self.extract_lexed(path, lang, source)
            .unwrap_or_else(|| self.extract_with(path, lang, source, true))
    }

    /// [`Parsers::extract`] with a full parse of the file: the syntax tree's lines of code
    /// and complexity, and the line of the first syntax error of any kind.
    pub fn extract_full(&mut self, path: &str, lang: Language, source: &[u8]) -> Extracted {
        self.extract_with(path, lang, source, true)
    }

    /// The grammar a file is read with.
    fn grammar(&mut self, path: &str, lang: Language) -> &mut Grammar {
        match lang {
            Language::Python => &mut self.python,
            Language::JavaScript => &mut self.javascript,
            Language::TypeScript if path.ends_with(".tsx") => &mut self.tsx,
            Language::TypeScript => &mut self.typescript,
        }
    }

    /// The fast path of [`Parsers::extract`]; `None` sends the file to the full parse.
    fn extract_lexed(&mut self, path: &str, lang: Language, source: &[u8]) -> Option<Extracted> {
        use super::lex::{self, js::Dialect};
        let lexed = match lang {
            Language::Python => lex::python::lex(source),
            Language::JavaScript => lex::js::lex(source, Dialect::JavaScript),
            Language::TypeScript if path.ends_with(".tsx") => lex::js::lex(source, Dialect::Tsx),
            Language::TypeScript => lex::js::lex(source, Dialect::TypeScript),
        }?;
        let mut out = Extracted {
            imports: Vec::new(),
            lines: lexed.lines,
            complexity: lexed.complexity,
            first_error_line: None,
        };
        if lexed.regions.is_empty() {
            return Some(out);
        }
        // The regions one after another, each from a row of its own (JavaScript statements
        // closed by `;`), and the row each starts on.
        let python = lang == Language::Python;
        let len: usize = lexed.regions.iter().map(|r| r.end - r.start + 2).sum();
        let mut text = Vec::with_capacity(len);
        let mut starts: Vec<u32> = Vec::with_capacity(lexed.regions.len());
        let mut row = 0u32;
        for region in &lexed.regions {
            let part = source.get(region.start..region.end)?;
            starts.push(row);
            text.extend_from_slice(part);
            if !python {
                text.push(b';');
            }
            text.push(b'\n');
            let newlines = part.iter().filter(|&&b| b == b'\n').count();
            row = row.checked_add(1 + u32::try_from(newlines).ok()?)?;
        }
        let grammar = self.grammar(path, lang);
        grammar.parser.reset();
        let tree = grammar.parser.parse(&text, None)?;
        if tree.root_node().has_error() {
            return None;
        }
        // The region of a row of `text`.
        let region_of = |row: usize| {
            let row = u32::try_from(row).unwrap_or(u32::MAX);
            let k = starts.partition_point(|&s| s <= row).saturating_sub(1);
            (k, row - starts[k])
        };
        preorder(&tree, |cursor, _| {
            let node = cursor.node();
            let f = grammar
                .flags
                .get(usize::from(node.kind_id()))
                .copied()
                .unwrap_or(0);
            let before = out.imports.len();
            if f & IMPORT != 0 {
                if python {
                    let (k, _) = region_of(node.start_position().row);
                    let type_only = lexed.regions[k].type_only;
                    python_import(node, &text, type_only, &mut out.imports);
                } else {
                    js_import(node, &text, grammar.fields, &mut out.imports);
                }
            } else if f & EXPORT != 0 {
                js_reexport(node, &text, grammar.fields, &mut out.imports);
            } else if f & CALL != 0 {
                js_call(node, &text, grammar.fields, &mut out.imports);
            }
            for import in &mut out.imports[before..] {
                let (k, offset) = region_of(import.line.saturating_sub(1) as usize);
                import.line = lexed.regions[k]
                    .row
                    .saturating_add(offset)
                    .saturating_add(1);
            }
            true
        });
        Some(out)
    }

    /// A full parse and scan, with or without the inert-subtree shortcut of [`scan`].
    fn extract_with(
        &mut self,
        path: &str,
        lang: Language,
        source: &[u8],
        shortcut: bool,
    ) -> Extracted {
        let grammar = self.grammar(path, lang);
        // Each call starts afresh (a parser left mid-parse by a previous input would resume it).
        grammar.parser.reset();
        match grammar.parser.parse(source, None) {
            Some(tree) => scan(
                &tree,
                lang,
                &grammar.flags,
                grammar.fields,
                source,
                shortcut,
            ),
            None => Extracted {
                lines: count_nonblank(source),
                complexity: 1,
                first_error_line: Some(1),
                ..Extracted::default()
            },
        }
    }
}

/// Extracts imports from `source` with fresh parsers (convenient for one file; reuse
/// [`Parsers`] for many).
///
/// # Errors
/// When a grammar does not load (a build problem).
pub fn extract(path: &str, lang: Language, source: &[u8]) -> Result<Extracted, cadre_core::Error> {
    Ok(Parsers::new()?.extract(path, lang, source))
}

/// [`extract`] with a full parse (see [`Parsers::extract_full`]).
///
/// # Errors
/// When a grammar does not load (a build problem).
pub fn extract_full(
    path: &str,
    lang: Language,
    source: &[u8],
) -> Result<Extracted, cadre_core::Error> {
    Ok(Parsers::new()?.extract_full(path, lang, source))
}

fn count_nonblank(source: &[u8]) -> u32 {
    let n = source
        .split(|&b| b == b'\n')
        .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Per-depth traversal state: whether imports below are type-only, and whether this node is
/// an `if TYPE_CHECKING:` whose consequence is.
#[derive(Clone, Copy, Default)]
struct Frame {
    type_only: bool,
    type_checking_if: bool,
}

fn line_of(node: Node<'_>) -> u32 {
    u32::try_from(node.start_position().row + 1).unwrap_or(u32::MAX)
}

fn text<'a>(node: Node<'_>, source: &'a [u8]) -> &'a str {
    node.utf8_text(source).unwrap_or("")
}

/// Longest node text [`inert`] looks at (bounds the rescans of nested nodes).
const INERT_MAX: usize = 256;

/// Whether a node's text can hold nothing the scan reacts to: ASCII, at most [`INERT_MAX`]
/// bytes, no comment (Python `#`; JavaScript `/`, `<!`, `-->`), no keyword of a decision point
/// or an import (letter runs: `if`, `for`, `and`, `import`, `require`, ...) and, for
/// JavaScript, none of `? & | \``. Every decision point and import of the scan has such a
/// keyword or operator in its text, so a subtree whose text has none holds none (a superset
/// test: `x_or` or `/` in a division only make the scan descend).
fn inert(text: &[u8], python: bool) -> bool {
    if text.len() > INERT_MAX || !text.is_ascii() {
        return false;
    }
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if b.is_ascii_alphabetic() {
            let start = i;
            while i < text.len() && text[i].is_ascii_alphabetic() {
                i += 1;
            }
            let word = &text[start..i];
            let keyword = if python {
                matches!(
                    word,
                    b"if"
                        | b"elif"
                        | b"for"
                        | b"while"
                        | b"except"
                        | b"and"
                        | b"or"
                        | b"case"
                        | b"import"
                )
            } else {
                matches!(
                    word,
                    b"if"
                        | b"for"
                        | b"while"
                        | b"do"
                        | b"case"
                        | b"catch"
                        | b"import"
                        | b"require"
                        | b"export"
                )
            };
            if keyword {
                return false;
            }
            continue;
        }
        let special = if python {
            b == b'#'
        } else {
            matches!(b, b'/' | b'?' | b'&' | b'|' | b'`')
                || (b == b'<' && text.get(i + 1) == Some(&b'!'))
                || (b == b'-' && text[i..].starts_with(b"-->"))
        };
        if special {
            return false;
        }
        i += 1;
    }
    true
}

/// The one pass over a tree: a tree cursor visits the nodes; leaves mark their rows as code
/// unless they are comments (a string node marks every row it spans: it is one token),
/// inner nodes add their decision points, and import statements, re-exports and calls add
/// imports.
///
/// With `shortcut`, the children of an error-free inner node on one row whose text is
/// [`inert`] are not visited: the node (handled like any other) marks its row, which its
/// leaves would have done (it has at least one leaf, none is a comment, none is a decision
/// point or an import). The result is the same as the exhaustive visit (property tests check
/// it), with about half the visits on typical code.
fn scan(
    tree: &Tree,
    lang: Language,
    flags: &[u8],
    fields: Fields,
    source: &[u8],
    shortcut: bool,
) -> Extracted {
    let root = tree.root_node();
    let mut out = Extracted {
        complexity: 1,
        ..Extracted::default()
    };
    let rows = source.iter().filter(|&&b| b == b'\n').count() + 1;
    let mut code_rows = vec![false; rows];
    let mut stack: Vec<Frame> = Vec::new();
    let python = lang == Language::Python;
    preorder(tree, |cursor, depth| {
        let node = cursor.node();
        stack.truncate(depth);
        let parent = stack.last().copied().unwrap_or_default();
        let mut frame = Frame {
            type_only: parent.type_only
                || (parent.type_checking_if
                    && cursor.field_id().map(std::num::NonZeroU16::get)
                        == Some(fields.consequence)),
            type_checking_if: false,
        };
        let f = flags.get(usize::from(node.kind_id())).copied().unwrap_or(0);
        let mut descend = true;
        let leaf = node.child_count() == 0;
        if leaf {
            if f & COMMENT == 0 {
                mark_rows(node, &mut code_rows);
            }
        } else if f != 0 {
            let decision = f & DECISION != 0
                || (f & BINARY != 0
                    && node
                        .child_by_field_id(fields.operator)
                        .is_some_and(|op| matches!(text(op, source), "&&" | "||" | "??")));
            out.complexity = out.complexity.saturating_add(u32::from(decision));
            if f & IMPORT != 0 {
                if python {
                    python_import(node, source, frame.type_only, &mut out.imports);
                } else {
                    js_import(node, source, fields, &mut out.imports);
                }
                // Its leaves mark its rows (a comment line between its names is no code).
            } else if f & STRING != 0 {
                mark_rows(node, &mut code_rows);
            } else if f & IF != 0 {
                frame.type_checking_if = is_type_checking_if(node, fields, source);
            } else if f & EXPORT != 0 {
                js_reexport(node, source, fields, &mut out.imports);
            } else if f & CALL != 0 {
                js_call(node, source, fields, &mut out.imports);
            }
        }
        if descend
            && shortcut
            && !leaf
            && node.start_position().row == node.end_position().row
            && !node.has_error()
            && source
                .get(node.byte_range())
                .is_some_and(|text| inert(text, python))
        {
            // The node itself is handled above (a `x > 0` binary expression, a `f(x)` call);
            // its descendants hold nothing more.
            mark_rows(node, &mut code_rows);
            descend = false;
        }
        stack.push(frame);
        descend
    });
    out.lines = count_code(&code_rows, source);
    out.first_error_line = first_error(root);
    out
}

/// Visits the nodes of `tree` in preorder with one cursor (no recursion, so no depth limit):
/// `visit(cursor, depth)` sees each node, and returns whether to visit its children.
fn preorder<'t>(tree: &'t Tree, mut visit: impl FnMut(&TreeCursor<'t>, usize) -> bool) {
    let mut cursor = tree.walk();
    let mut depth = 0usize;
    loop {
        if visit(&cursor, depth) && cursor.goto_first_child() {
            depth += 1;
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
            depth -= 1;
        }
    }
}

/// The line of the first error or missing node (descending along the first child that has
/// one), if the tree has any.
fn first_error(root: Node<'_>) -> Option<u32> {
    if !root.has_error() {
        return None;
    }
    let mut node = root;
    loop {
        if node.is_error() || node.is_missing() {
            return Some(line_of(node));
        }
        let mut c = node.walk();
        let next = node
            .children(&mut c)
            .find(|n| n.has_error() || n.is_missing() || n.is_error());
        match next {
            Some(n) => node = n,
            None => return Some(line_of(node)),
        }
    }
}

fn mark_rows(node: Node<'_>, code_rows: &mut [bool]) {
    let (a, b) = (node.start_position().row, node.end_position().row);
    for row in code_rows.iter_mut().take(b + 1).skip(a) {
        *row = true;
    }
}

fn count_code(code_rows: &[bool], source: &[u8]) -> u32 {
    let n = source
        .split(|&b| b == b'\n')
        .zip(code_rows)
        .filter(|(line, code)| **code && line.iter().any(|b| !b.is_ascii_whitespace()))
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `if TYPE_CHECKING:` or `if typing.TYPE_CHECKING:` (any `x.TYPE_CHECKING`).
fn is_type_checking_if(node: Node<'_>, fields: Fields, source: &[u8]) -> bool {
    let Some(cond) = node.child_by_field_id(fields.condition) else {
        return false;
    };
    match cond.kind() {
        "identifier" => text(cond, source) == "TYPE_CHECKING",
        "attribute" => cond
            .child_by_field_id(fields.attribute)
            .is_some_and(|a| text(a, source) == "TYPE_CHECKING"),
        _ => false,
    }
}

/// The dotted name of a `dotted_name` node without whitespace or comments between parts.
fn dotted(node: Node<'_>, source: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        if child.kind() == "identifier" {
            parts.push(text(child, source));
        }
    }
    if parts.is_empty() {
        return text(node, source).to_owned();
    }
    parts.join(".")
}

/// The dotted name of an import target: a `dotted_name` or the name of an `aliased_import`.
fn imported_name(node: Node<'_>, source: &[u8]) -> Option<String> {
    match node.kind() {
        "dotted_name" => Some(dotted(node, source)),
        "aliased_import" => node.child_by_field_name("name").map(|n| dotted(n, source)),
        _ => None,
    }
}

fn python_import(node: Node<'_>, source: &[u8], type_only: bool, out: &mut Vec<RawImport>) {
    let kind = if type_only {
        EdgeKind::TypeOnly
    } else {
        EdgeKind::Runtime
    };
    let line = line_of(node);
    let mut cursor = node.walk();
    if node.kind() == "import_statement" {
        for child in node.children_by_field_name("name", &mut cursor) {
            if let Some(module) = imported_name(child, source) {
                out.push(RawImport {
                    spec: ImportSpec::Python {
                        level: 0,
                        module,
                        names: Vec::new(),
                    },
                    kind,
                    line,
                });
            }
        }
        return;
    }
    // import_from_statement
    let Some(module_node) = node.child_by_field_name("module_name") else {
        return;
    };
    let (level, module) = match module_node.kind() {
        "relative_import" => {
            let mut level = 0;
            let mut module = String::new();
            let mut c = module_node.walk();
            for child in module_node.named_children(&mut c) {
                match child.kind() {
                    "import_prefix" => level = text(child, source).matches('.').count(),
                    "dotted_name" => module = dotted(child, source),
                    _ => {}
                }
            }
            (level, module)
        }
        _ => (0, dotted(module_node, source)),
    };
    let mut names: Vec<String> = node
        .children_by_field_name("name", &mut cursor)
        .filter_map(|n| imported_name(n, source))
        .collect();
    let mut c = node.walk();
    if node
        .named_children(&mut c)
        .any(|n| n.kind() == "wildcard_import")
    {
        names.push("*".to_owned());
    }
    out.push(RawImport {
        spec: ImportSpec::Python {
            level,
            module,
            names,
        },
        kind,
        line,
    });
}

/// The text of a string literal node (without quotes), if it has no interpolation.
fn string_value(node: Node<'_>, source: &[u8]) -> Option<String> {
    match node.kind() {
        "string" => {
            let raw = text(node, source);
            let inner = raw.get(1..raw.len().checked_sub(1)?)?;
            Some(inner.to_owned())
        }
        "template_string" => {
            let mut c = node.walk();
            if node
                .named_children(&mut c)
                .any(|n| n.kind() == "template_substitution")
            {
                return None;
            }
            let raw = text(node, source);
            Some(raw.get(1..raw.len().checked_sub(1)?)?.to_owned())
        }
        _ => None,
    }
}

/// Whether `node` has an anonymous `type` (or `typeof`) keyword child.
fn has_type_keyword(node: Node<'_>) -> bool {
    let mut c = node.walk();
    node.children(&mut c)
        .any(|n| !n.is_named() && matches!(n.kind(), "type" | "typeof"))
}

/// Whether every specifier of a named clause (`{type A, type B}`) is type-only; false for an
/// empty clause.
fn all_specifiers_type_only(clause: Node<'_>, specifier: &str) -> bool {
    let mut c = clause.walk();
    let specs: Vec<Node<'_>> = clause
        .named_children(&mut c)
        .filter(|n| n.kind() == specifier)
        .collect();
    !specs.is_empty() && specs.iter().all(|s| has_type_keyword(*s))
}

fn js_import(node: Node<'_>, source: &[u8], fields: Fields, out: &mut Vec<RawImport>) {
    let line = line_of(node);
    let mut c = node.walk();
    let children: Vec<Node<'_>> = node.children(&mut c).collect();
    let source_node = node.child_by_field_id(fields.source).or_else(|| {
        children
            .iter()
            .find(|n| n.kind() == "import_require_clause")
            .and_then(|r| r.child_by_field_id(fields.source))
    });
    let Some(spec) = source_node.and_then(|s| string_value(s, source)) else {
        return;
    };
    let mut type_only = children
        .iter()
        .any(|n| !n.is_named() && matches!(n.kind(), "type" | "typeof"));
    if !type_only && let Some(clause) = children.iter().find(|n| n.kind() == "import_clause") {
        // `import {type A, type B} from` (and nothing else) is type-only.
        let mut cc = clause.walk();
        let parts: Vec<Node<'_>> = clause.named_children(&mut cc).collect();
        type_only = parts.len() == 1
            && parts[0].kind() == "named_imports"
            && all_specifiers_type_only(parts[0], "import_specifier");
    }
    out.push(RawImport {
        spec: ImportSpec::Js(spec),
        kind: if type_only {
            EdgeKind::TypeOnly
        } else {
            EdgeKind::Runtime
        },
        line,
    });
}

fn js_reexport(node: Node<'_>, source: &[u8], fields: Fields, out: &mut Vec<RawImport>) {
    let Some(spec) = node
        .child_by_field_id(fields.source)
        .and_then(|s| string_value(s, source))
    else {
        return;
    };
    let mut c = node.walk();
    let type_only = has_type_keyword(node)
        || node
            .named_children(&mut c)
            .find(|n| n.kind() == "export_clause")
            .is_some_and(|clause| all_specifiers_type_only(clause, "export_specifier"));
    out.push(RawImport {
        spec: ImportSpec::Js(spec),
        kind: if type_only {
            EdgeKind::TypeOnly
        } else {
            EdgeKind::Runtime
        },
        line: line_of(node),
    });
}

fn js_call(node: Node<'_>, source: &[u8], fields: Fields, out: &mut Vec<RawImport>) {
    let Some(function) = node.child_by_field_id(fields.function) else {
        return;
    };
    let kind = match function.kind() {
        "import" => EdgeKind::Dynamic,
        "identifier" if text(function, source) == "require" => EdgeKind::Runtime,
        _ => return,
    };
    let Some(args) = node.child_by_field_id(fields.arguments) else {
        return;
    };
    let mut c = args.walk();
    let named: Vec<Node<'_>> = args.named_children(&mut c).collect();
    let Some(first) = named.first() else {
        return;
    };
    if kind == EdgeKind::Runtime && named.len() != 1 {
        return;
    }
    if let Some(spec) = string_value(*first, source) {
        out.push(RawImport {
            spec: ImportSpec::Js(spec),
            kind,
            line: line_of(node),
        });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn py(src: &str) -> Vec<RawImport> {
        extract("m.py", Language::Python, src.as_bytes())
            .unwrap()
            .imports
    }

    fn js(path: &str, src: &str) -> Vec<RawImport> {
        let lang = Language::of_path(path).unwrap();
        extract(path, lang, src.as_bytes()).unwrap().imports
    }

    fn p(level: usize, module: &str, names: &[&str], kind: EdgeKind, line: u32) -> RawImport {
        RawImport {
            spec: ImportSpec::Python {
                level,
                module: module.to_owned(),
                names: names.iter().map(|s| (*s).to_owned()).collect(),
            },
            kind,
            line,
        }
    }

    fn j(spec: &str, kind: EdgeKind, line: u32) -> RawImport {
        RawImport {
            spec: ImportSpec::Js(spec.to_owned()),
            kind,
            line,
        }
    }

    use EdgeKind::{Dynamic, Runtime, TypeOnly};

    #[test]
    fn python_plain_and_aliased_imports() {
        assert_eq!(
            py("import a.b\nimport a.b as c, d\n"),
            vec![
                p(0, "a.b", &[], Runtime, 1),
                p(0, "a.b", &[], Runtime, 2),
                p(0, "d", &[], Runtime, 2),
            ]
        );
    }

    #[test]
    fn python_relative_and_star_imports() {
        assert_eq!(
            py("from . import x\nfrom ..pkg import y as z, w\nfrom m import *\n"),
            vec![
                p(1, "", &["x"], Runtime, 1),
                p(2, "pkg", &["y", "w"], Runtime, 2),
                p(0, "m", &["*"], Runtime, 3),
            ]
        );
    }

    #[test]
    fn python_nested_imports_in_functions_conditionals_and_try() {
        let src = "def f():\n    import a\nif x:\n    from b import c\ntry:\n    import d\nexcept ImportError:\n    import e\n";
        assert_eq!(
            py(src),
            vec![
                p(0, "a", &[], Runtime, 2),
                p(0, "b", &["c"], Runtime, 4),
                p(0, "d", &[], Runtime, 6),
                p(0, "e", &[], Runtime, 8),
            ]
        );
    }

    #[test]
    fn python_type_checking_imports_are_type_only_but_not_their_else() {
        let src = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\n    if y:\n        from b import c\nelse:\n    import d\nimport typing\nif typing.TYPE_CHECKING:\n    import e\n";
        assert_eq!(
            py(src),
            vec![
                p(0, "typing", &["TYPE_CHECKING"], Runtime, 1),
                p(0, "a", &[], TypeOnly, 3),
                p(0, "b", &["c"], TypeOnly, 5),
                p(0, "d", &[], Runtime, 7),
                p(0, "typing", &[], Runtime, 8),
                p(0, "e", &[], TypeOnly, 10),
            ]
        );
    }

    #[test]
    fn js_es_imports_reexports_and_side_effects() {
        let src = "import a from './a';\nimport * as b from \"./b\";\nimport { c, d as e } from './c';\nimport './side';\nexport * from './f';\nexport { g } from './g';\nexport const h = 1;\n";
        assert_eq!(
            js("x.js", src),
            vec![
                j("./a", Runtime, 1),
                j("./b", Runtime, 2),
                j("./c", Runtime, 3),
                j("./side", Runtime, 4),
                j("./f", Runtime, 5),
                j("./g", Runtime, 6),
            ]
        );
    }

    #[test]
    fn js_require_and_dynamic_import() {
        let src = "const a = require('a');\nfunction f() {\n  return import('./lazy');\n}\nrequire(name);\nimport(`./tpl`);\nimport(`./${x}`);\n";
        assert_eq!(
            js("x.js", src),
            vec![
                j("a", Runtime, 1),
                j("./lazy", Dynamic, 3),
                j("./tpl", Dynamic, 6),
            ]
        );
    }

    #[test]
    fn ts_type_only_imports_and_exports() {
        let src = "import type { A } from './a';\nimport { type B, type C } from './b';\nimport { type D, E } from './d';\nexport type { F } from './f';\nexport { type G } from './g';\nimport type from './h';\nimport x = require('./i');\n";
        assert_eq!(
            js("x.ts", src),
            vec![
                j("./a", TypeOnly, 1),
                j("./b", TypeOnly, 2),
                j("./d", Runtime, 3),
                j("./f", TypeOnly, 4),
                j("./g", TypeOnly, 5),
                j("./h", Runtime, 6),
                j("./i", Runtime, 7),
            ]
        );
    }

    #[test]
    fn tsx_files_parse_with_jsx() {
        let src = "import React from 'react';\nimport { Button } from './button';\nexport const App = () => <Button label=\"x\" />;\n";
        let out = extract("app.tsx", Language::TypeScript, src.as_bytes()).unwrap();
        assert_eq!(
            out.imports,
            vec![j("react", Runtime, 1), j("./button", Runtime, 2)]
        );
        assert_eq!(out.first_error_line, None);
    }

    #[test]
    fn lines_of_code_skip_blank_and_comment_lines() {
        let src = "# a comment\nimport a\n\n\"\"\"doc\nstring\"\"\"\nx = 1  # trailing\n";
        let out = extract("m.py", Language::Python, src.as_bytes()).unwrap();
        assert_eq!(out.lines, 4);
        let js_src = "// c\n/* block\n comment */\nconst a = 1;\n\nlet b = a ? 1 : 2;\n";
        let out = extract("m.js", Language::JavaScript, js_src.as_bytes()).unwrap();
        assert_eq!(out.lines, 2);
        assert_eq!(out.complexity, 2);
    }

    #[test]
    fn complexity_counts_decision_points() {
        let src = "def f(x):\n    if x and y:\n        return 1\n    elif x:\n        return 2\n    for i in x:\n        pass\n    return 3 if x else 4\n";
        let out = extract("m.py", Language::Python, src.as_bytes()).unwrap();
        // 1 + if + and + elif + for + conditional expression
        assert_eq!(out.complexity, 6);
    }

    #[test]
    fn syntax_errors_keep_the_imports_around_them_and_name_the_line() {
        let src = "import a\n\ndef f(:\n    pass\nimport b\n";
        let out = extract("m.py", Language::Python, src.as_bytes()).unwrap();
        assert_eq!(out.first_error_line, Some(3));
        let modules: Vec<_> = out
            .imports
            .iter()
            .map(|i| match &i.spec {
                ImportSpec::Python { module, .. } => module.as_str(),
                ImportSpec::Js(s) => s.as_str(),
            })
            .collect();
        assert!(
            modules.contains(&"a") && modules.contains(&"b"),
            "{modules:?}"
        );
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let depth = 50_000;
        let src = format!(
            "x = {}1{}\nimport a\n",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let out = extract("m.py", Language::Python, src.as_bytes()).unwrap();
        assert!(out.imports.iter().any(|i| i.line == 2));
    }

    #[test]
    fn inert_rejects_keywords_comments_and_operators() {
        assert!(inert(b"return x - 1", true));
        assert!(inert(b"(x, y_1, 'abc')", true));
        assert!(!inert(b"a if b else c", true));
        assert!(!inert(b"x  # note", true));
        assert!(!inert(b"1if x else 2", true));
        assert!(!inert("f('\u{e9}')".as_bytes(), true));
        assert!(inert(b"f(x, y)", false));
        assert!(!inert(b"a && b", false));
        assert!(!inert(b"a / b", false));
        assert!(!inert(b"require('x')", false));
        assert!(!inert(b"x ? y : z", false));
        assert!(!inert(&[b'x'; INERT_MAX + 1], true));
    }

    /// Python and JavaScript lines to build test files from: every construct the scan reacts
    /// to, next to inert ones, comments, strings and broken syntax.
    const PY_LINES: &[&str] = &[
        "import a.b",
        "from . import x",
        "from ..p import (y,\n    z)",
        "if TYPE_CHECKING:",
        "if x:",
        "elif y:",
        "else:",
        "for i in y:",
        "while x and y:",
        "try:",
        "except E:",
        "def f(x):",
        "class C(B):",
        "    return x - 1",
        "    pass",
        "x = 1  # trailing",
        "# only a comment",
        "",
        "y = a if b else c",
        "z = [i for i in q if i]",
        "s = \"\"\"doc\n# not a comment\n\"\"\"",
        "t = f'{a if b else c}'",
        "w = (p\n     or r)",
        "v = g(x,\n      # inside\n      y)",
        "match x:",
        "    case 1:",
        "u = 1 + \\\n    2",
        "def (:",
        "    import lazy",
        "n = format(x)",
        "a = p and q",
        "b = p or q",
        "c = [x for x in y]",
        "d = {k: v for k, v in z if k}",
        "e = f(x if y else z)",
        "with open(f) as g: import h",
        "while x: pass",
        "try: pass\nexcept E: pass",
        "if x: from . import k",
    ];
    pub(crate) const JS_LINES: &[&str] = &[
        "import a from './a';",
        "import type { T } from './t';",
        "export * from './f';",
        "export { g } from './g';",
        "export const h = 1;",
        "const r = require('./r');",
        "const l = () => import('./lazy');",
        "if (x) {",
        "} else {",
        "}",
        "for (const i of y) {",
        "while (a && b) { f(); }",
        "do { g(); } while (c || d);",
        "switch (x) { case 1: break; default: }",
        "try { h(); } catch (e) { k(); }",
        "const t = a ? b : c;",
        "const n = a ?? b;",
        "const s = `tpl ${a ? 1 : 2}`;",
        "const m = `multi\nline`;",
        "// comment",
        "/* block\n comment */",
        "const d = x / y;",
        "const o = { a: 1,\n  b: 2 };",
        "function f(x) {",
        "  return x - 1;",
        "let v = f(x, (y));",
        "const j = <div>{v}</div>;",
        "<!-- html comment",
        "const broken = (;",
        "",
        "const a = p && q;",
        "const b = p || q;",
        "const c = p ?? q;",
        "f(require('./x'));",
        "g(import('./y'));",
        "for (;;) break;",
        "if (a) b();",
        "do x(); while (y);",
        "try { f(); } catch { g(); }",
        "const e = `${require('./z')}`;",
        "k(x > 1, y - 2);",
    ];

    fn assemble(lines: &[&str], picks: &[(usize, bool)]) -> String {
        picks
            .iter()
            .map(|&(i, indent)| {
                let line = lines[i % lines.len()];
                if indent {
                    format!("    {line}")
                } else {
                    line.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_shortcut_gives_the_exhaustive_result_on_every_sample_line() {
        let mut parsers = Parsers::new().unwrap();
        let py = assemble(
            PY_LINES,
            &(0..PY_LINES.len()).map(|i| (i, false)).collect::<Vec<_>>(),
        );
        let js = assemble(
            JS_LINES,
            &(0..JS_LINES.len()).map(|i| (i, false)).collect::<Vec<_>>(),
        );
        for (path, fast, full) in shortcut_and_exhaustive(&mut parsers, &py, &js) {
            assert_eq!(fast, full, "{path}");
            assert!(
                full.complexity > 5 && !full.imports.is_empty(),
                "{path}: {full:?}"
            );
        }
    }

    /// The Python source as Python, the JS source as JavaScript, TypeScript and TSX.
    fn samples<'a>(py: &'a str, js: &'a str) -> [(&'static str, Language, &'a str); 4] {
        [
            ("a.py", Language::Python, py),
            ("a.js", Language::JavaScript, js),
            ("a.ts", Language::TypeScript, js),
            ("a.tsx", Language::TypeScript, js),
        ]
    }

    #[test]
    fn the_fast_path_is_taken_and_agrees_with_the_full_parse() {
        let mut parsers = Parsers::new().unwrap();
        let py = "from typing import TYPE_CHECKING\nimport a.b as c, d\nif TYPE_CHECKING:\n    from ..pkg import (y,\n        z)  # c\nelse:\n    import e\ndef f(x):\n    import lazy\n    return [i for i in x if i and lazy.ok(i)]\n";
        let lexed = parsers
            .extract_lexed("a.py", Language::Python, py.as_bytes())
            .expect("the fast path");
        let full = parsers.extract_full("a.py", Language::Python, py.as_bytes());
        assert_eq!(lexed, full);
        assert_eq!(full.imports.len(), 6);
        assert!(
            full.imports
                .iter()
                .any(|i| i.kind == TypeOnly && i.line == 4)
        );
        // A scan that gives up sends the file to the full parse, which names the error.
        let broken = "import a\nx = (1,\nimport b\n";
        assert_eq!(
            parsers.extract_lexed("a.py", Language::Python, broken.as_bytes()),
            None
        );
        let out = parsers.extract("a.py", Language::Python, broken.as_bytes());
        assert!(out.first_error_line.is_some());
    }

    #[test]
    fn a_byte_order_mark_changes_nothing() {
        let mut parsers = Parsers::new().unwrap();
        let py = "\u{feff}import os\nfrom . import a\n";
        let js = "\u{feff}import a from './a';\nconst b = require('./b');\n";
        for (path, lang, src) in samples(py, js) {
            let fast = parsers.extract(path, lang, src.as_bytes());
            assert_eq!(
                fast,
                parsers.extract_full(path, lang, src.as_bytes()),
                "{path}"
            );
            assert_eq!(fast.imports.len(), 2, "{path}");
            assert_eq!(fast.imports[0].line, 1, "{path}");
        }
    }

    /// The Python and JS sources scanned as each language, with the shortcut and without:
    /// `(path, with, without)`.
    fn shortcut_and_exhaustive(
        parsers: &mut Parsers,
        py: &str,
        js: &str,
    ) -> Vec<(&'static str, Extracted, Extracted)> {
        [
            ("a.py", Language::Python, py),
            ("a.js", Language::JavaScript, js),
            ("a.ts", Language::TypeScript, js),
            ("a.tsx", Language::TypeScript, js),
        ]
        .into_iter()
        .map(|(path, lang, src)| {
            let fast = parsers.extract_with(path, lang, src.as_bytes(), true);
            let full = parsers.extract_with(path, lang, src.as_bytes(), false);
            (path, fast, full)
        })
        .collect()
    }

    mod prop {
        use super::super::*;
        use super::{JS_LINES, PY_LINES, assemble, samples, shortcut_and_exhaustive};
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 256,
                rng_seed: proptest::test_runner::RngSeed::Fixed(0xDE95),
                ..ProptestConfig::default()
            })]

            #[test]
            fn the_shortcut_gives_the_exhaustive_result(
                picks in proptest::collection::vec((0usize..64, any::<bool>()), 0..40),
            ) {
                let mut parsers = Parsers::new().unwrap();
                let py = assemble(PY_LINES, &picks);
                let js = assemble(JS_LINES, &picks);
                for (path, fast, full) in shortcut_and_exhaustive(&mut parsers, &py, &js) {
                    let src = if path == "a.py" { &py } else { &js };
                    prop_assert_eq!(fast, full, "{}:\n{}", path, src);
                }
            }

            #[test]
            fn the_fast_path_gives_the_full_parse_result_on_every_file_that_parses(
                picks in proptest::collection::vec((0usize..64, any::<bool>()), 0..40),
            ) {
                let mut parsers = Parsers::new().unwrap();
                let py = assemble(PY_LINES, &picks);
                let js = assemble(JS_LINES, &picks);
                for (path, lang, src) in samples(&py, &js) {
                    let full = parsers.extract_full(path, lang, src.as_bytes());
                    if full.first_error_line.is_none() {
                        let fast = parsers.extract(path, lang, src.as_bytes());
                        prop_assert_eq!(fast, full, "{}:\n{}", path, src);
                    }
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 96,
                rng_seed: proptest::test_runner::RngSeed::Fixed(0xF022),
                ..ProptestConfig::default()
            })]

            #[test]
            fn extractor_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
                let mut parsers = Parsers::new().unwrap();
                for (path, lang) in [("a.py", Language::Python), ("a.js", Language::JavaScript), ("a.ts", Language::TypeScript), ("a.tsx", Language::TypeScript)] {
                    let out = parsers.extract(path, lang, &bytes);
                    prop_assert!(out.complexity >= 1);
                    prop_assert!(out.lines as usize <= bytes.len() + 1);
                    let full = parsers.extract_with(path, lang, &bytes, false);
                    prop_assert_eq!(&full, &parsers.extract_full(path, lang, &bytes));
                    if full.first_error_line.is_none() {
                        prop_assert_eq!(&out, &full);
                    }
                }
            }

            #[test]
            fn extractor_never_panics_on_import_like_text(src in "(import |from |require\\(|import\\(|export |[.'\"a-z{}()*;,\\n ]){0,60}") {
                let mut parsers = Parsers::new().unwrap();
                for (path, lang) in [("a.py", Language::Python), ("a.js", Language::JavaScript), ("a.ts", Language::TypeScript)] {
                    let out = parsers.extract(path, lang, src.as_bytes());
                    for import in &out.imports {
                        prop_assert!(import.line >= 1);
                    }
                    let full = parsers.extract_full(path, lang, src.as_bytes());
                    if full.first_error_line.is_none() {
                        prop_assert_eq!(&out, &full, "{}", src);
                    }
                }
            }
        }
    }
}
