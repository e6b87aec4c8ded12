//! The Python scanner (see [`super`]).
//!
//! It follows Python's tokenizer: strings with every prefix (`r b u f t`, triple-quoted,
//! f-strings with their replacement fields), comments, bracket depth, backslash continuations
//! and logical lines, and the indentation of each logical line (the blocks it opens and
//! closes). On that it finds:
//! - the import statements (`import …` and `from … import …`, at any depth, also after a
//!   compound statement's colon or a `;`), each with whether it is in the consequence of an
//!   `if TYPE_CHECKING:` / `if x.TYPE_CHECKING:` (the `else` is not);
//! - the decision points the syntax tree counts: every `if` (statements, conditional
//!   expressions, comprehension and guard clauses), `elif`, `for`, `while`, `except`, `and`,
//!   `or`, including inside f-string replacement fields, and each `case` clause of a `match`.
//!
//! It gives up (`None`) on an unterminated string, a bracket that does not match, an
//! indentation that returns to no enclosing level or that is missing after a block header,
//! anything but spaces, tabs and form feeds before a line's first token, a stray backslash or
//! carriage return, an `import` that does not start its statement, and f-string fields it
//! does not follow (a backslash, a comment or the enclosing string's closing quote inside the
//! field).

use super::{Lexed, LineCounter, Region};

/// Deepest f-string nesting followed (deeper gives up).
const MAX_FSTRING_DEPTH: u32 = 8;

/// Scans a Python file; `None` when the file must be parsed in full.
pub(crate) fn lex(source: &[u8]) -> Option<Lexed> {
    // A UTF-8 byte order mark is no part of the first line.
    let start = if source.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    let mut lx = Lexer {
        src: source,
        i: start,
        row: 0,
        row_start: start,
        loc: LineCounter::default(),
        complexity: 1,
        regions: Vec::new(),
        brackets: Vec::new(),
        blocks: vec![Block::default()],
        pending_block: None,
        line: Line::default(),
    };
    lx.run()?;
    Some(Lexed {
        lines: lx.loc.count(),
        complexity: lx.complexity,
        regions: lx.regions,
    })
}

/// An indented block: its indentation, whether its imports are type-only, and whether it is
/// the body of a `match` (where `case` lines are clauses).
#[derive(Debug, Clone, Copy, Default)]
struct Block {
    indent: usize,
    type_only: bool,
    is_match: bool,
}

/// The first word of a logical line, where it matters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum First {
    #[default]
    Other,
    Match,
    Case,
}

/// Where a logical line stands in `if NAME(.NAME)*:` with the last name `TYPE_CHECKING`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum TypeChecking {
    /// At the line's first token.
    #[default]
    Start,
    /// After `if`.
    If,
    /// After a name (whether it is `TYPE_CHECKING`).
    Name(bool),
    /// After a `.`.
    Dot,
    /// After the colon of an `if TYPE_CHECKING:`: the rest is its consequence.
    Body,
    /// Not such a line.
    No,
}

/// The state of the current logical line.
#[derive(Debug, Clone, Copy, Default)]
struct Line {
    /// Tokens seen on it.
    tokens: u32,
    first: First,
    type_checking: TypeChecking,
    /// The last token was a colon at bracket depth 0.
    ends_with_colon: bool,
    /// The next token starts a simple statement.
    statement_starts: bool,
    /// The open import region: start byte, its row, type-only.
    region: Option<(usize, u32, bool)>,
    /// One past the last token's last byte.
    last_end: usize,
}

struct Lexer<'a> {
    src: &'a [u8],
    i: usize,
    row: usize,
    row_start: usize,
    loc: LineCounter,
    complexity: u32,
    regions: Vec<Region>,
    brackets: Vec<u8>,
    blocks: Vec<Block>,
    /// The block the previous logical line opened (it ended with a colon): type-only, match.
    pending_block: Option<(bool, bool)>,
    line: Line,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn is_decision(word: &[u8]) -> bool {
    matches!(
        word,
        b"if" | b"elif" | b"for" | b"while" | b"except" | b"and" | b"or"
    )
}

/// `(raw-or-plain, f-string)` for a string prefix, `None` if `word` is not one.
fn string_prefix(word: &[u8]) -> Option<bool> {
    if word.len() > 2 {
        return None;
    }
    let mut fstring = false;
    let mut seen = 0u8;
    for &c in word {
        let bit = match c.to_ascii_lowercase() {
            b'r' => 1,
            b'b' => 2,
            b'u' => 4,
            b'f' | b't' => {
                fstring = true;
                8
            }
            _ => return None,
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
    }
    // `u` only alone; `b` never with `f`/`t`.
    if (seen & 4 != 0 && word.len() > 1) || (seen & 2 != 0 && fstring) {
        return None;
    }
    Some(fstring)
}

impl Lexer<'_> {
    fn peek(&self, k: usize) -> u8 {
        self.src.get(self.i + k).copied().unwrap_or(0)
    }

    fn newline(&mut self) {
        self.row += 1;
        self.row_start = self.i;
    }

    fn run(&mut self) -> Option<()> {
        while self.i < self.src.len() {
            let b = self.src[self.i];
            match b {
                // tree-sitter skips a vertical tab as any space (at a line's start it is no
                // indentation: the first token's check below gives up on it).
                b' ' | b'\t' | b'\x0c' | b'\x0b' => self.i += 1,
                b'\r' => {
                    if self.peek(1) != b'\n' {
                        return None;
                    }
                    self.i += 1;
                }
                b'\n' => {
                    self.i += 1;
                    self.newline();
                    if self.brackets.is_empty() {
                        self.end_line();
                    }
                }
                b'#' => {
                    while self.i < self.src.len() && self.src[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                b'\\' => {
                    // A continuation: the logical line goes on.
                    let skip = match (self.peek(1), self.peek(2)) {
                        (b'\n', _) => 2,
                        (b'\r', b'\n') => 3,
                        _ => return None,
                    };
                    self.i += skip;
                    self.newline();
                }
                b'\'' | b'"' => {
                    let start = self.i;
                    self.token_start(start)?;
                    self.string(start, false, 0)?;
                    self.token_end(TokenKind::Other)?;
                }
                b'0'..=b'9' => {
                    let start = self.i;
                    self.token_start(start)?;
                    self.number();
                    self.token_end(TokenKind::Other)?;
                }
                b'.' if self.peek(1).is_ascii_digit() => {
                    let start = self.i;
                    self.token_start(start)?;
                    self.number();
                    self.token_end(TokenKind::Other)?;
                }
                _ if is_word_byte(b) => {
                    let start = self.i;
                    self.token_start(start)?;
                    while self.i < self.src.len() && is_word_byte(self.src[self.i]) {
                        self.i += 1;
                    }
                    let word = &self.src[start..self.i];
                    if matches!(self.peek(0), b'\'' | b'"')
                        && let Some(fstring) = string_prefix(word)
                    {
                        self.string(start, fstring, 0)?;
                        self.token_end(TokenKind::Other)?;
                    } else {
                        if is_decision(word) {
                            self.complexity = self.complexity.saturating_add(1);
                        }
                        self.token_end(TokenKind::Word(start))?;
                    }
                }
                _ => {
                    let start = self.i;
                    self.token_start(start)?;
                    self.i += 1;
                    let kind = match b {
                        b'(' | b'[' | b'{' => {
                            self.brackets.push(b);
                            TokenKind::Other
                        }
                        b')' | b']' | b'}' => {
                            let open = match b {
                                b')' => b'(',
                                b']' => b'[',
                                _ => b'{',
                            };
                            if self.brackets.pop() != Some(open) {
                                return None;
                            }
                            TokenKind::Other
                        }
                        b':' if self.peek(0) == b'=' => {
                            self.i += 1;
                            TokenKind::Other
                        }
                        b':' => TokenKind::Colon,
                        b';' => TokenKind::Semicolon,
                        b'.' => TokenKind::Dot,
                        _ => TokenKind::Other,
                    };
                    self.token_end(kind)?;
                }
            }
        }
        if !self.brackets.is_empty() {
            return None;
        }
        self.end_line();
        Some(())
    }

    /// A token starts at `start` (on the current row): the first of a logical line settles
    /// its indentation.
    fn token_start(&mut self, start: usize) -> Option<()> {
        if self.line.tokens == 0 && self.brackets.is_empty() {
            // Measured as tree-sitter's scanner does: a tab is 8 columns, a form feed starts
            // again from 0 (anything else before the first token, such as a continuation
            // backslash, gives up).
            let mut width = 0usize;
            for &c in &self.src[self.row_start..start] {
                match c {
                    b' ' => width += 1,
                    b'\t' => width += 8,
                    b'\x0c' => width = 0,
                    _ => return None,
                }
            }
            self.indent(width)?;
            self.line = Line {
                statement_starts: true,
                ..Line::default()
            };
        }
        self.line.tokens += 1;
        Some(())
    }

    /// Opens or closes blocks for a logical line indented by `indent` spaces.
    fn indent(&mut self, indent: usize) -> Option<()> {
        let top = *self.blocks.last()?;
        if let Some((type_only, is_match)) = self.pending_block.take() {
            if indent <= top.indent {
                return None;
            }
            self.blocks.push(Block {
                indent,
                type_only,
                is_match,
            });
            return Some(());
        }
        if indent > top.indent {
            return None;
        }
        while self.blocks.last()?.indent > indent {
            self.blocks.pop();
        }
        (self.blocks.last()?.indent == indent).then_some(())
    }

    /// The token that started on `self.line` ends at `self.i`.
    fn token_end(&mut self, kind: TokenKind) -> Option<()> {
        self.loc.row(self.row);
        let depth0 = self.brackets.is_empty();
        let start_of_statement = std::mem::take(&mut self.line.statement_starts);
        let word = match kind {
            TokenKind::Word(start) => &self.src[start..self.i],
            _ => &[][..],
        };
        // `if TYPE_CHECKING:` and `if typing.TYPE_CHECKING:`.
        self.line.type_checking = match (self.line.type_checking, kind) {
            (TypeChecking::Start, TokenKind::Word(_)) if word == b"if" => TypeChecking::If,
            (TypeChecking::If | TypeChecking::Dot, TokenKind::Word(_)) => {
                TypeChecking::Name(word == b"TYPE_CHECKING")
            }
            (TypeChecking::Name(_), TokenKind::Dot) => TypeChecking::Dot,
            (TypeChecking::Name(true), TokenKind::Colon) if depth0 => TypeChecking::Body,
            (TypeChecking::Body, _) => TypeChecking::Body,
            _ => TypeChecking::No,
        };
        if self.line.tokens == 1 {
            self.line.first = match word {
                b"match" => First::Match,
                b"case" => First::Case,
                _ => First::Other,
            };
        }
        if start_of_statement && matches!(word, b"import" | b"from") {
            let type_only =
                self.blocks.last()?.type_only || self.line.type_checking == TypeChecking::Body;
            let start = self.i - word.len();
            let row = u32::try_from(self.row).ok()?;
            self.line.region = Some((start, row, type_only));
        } else if word == b"import" && self.line.region.is_none() {
            return None;
        }
        let separator = depth0 && matches!(kind, TokenKind::Colon | TokenKind::Semicolon);
        if separator {
            // The statement before it ends; the next token starts one.
            self.close_region();
            self.line.statement_starts = true;
        }
        self.line.last_end = self.i;
        self.line.ends_with_colon = depth0 && kind == TokenKind::Colon;
        Some(())
    }

    /// Closes the open import region at the end of the last token.
    fn close_region(&mut self) {
        if let Some((start, row, type_only)) = self.line.region.take() {
            self.regions.push(Region {
                start,
                end: self.line.last_end,
                row,
                type_only,
            });
        }
    }

    /// The logical line ends (a newline at bracket depth 0, or the end of the file).
    fn end_line(&mut self) {
        if self.line.tokens == 0 {
            return;
        }
        self.close_region();
        if self.line.ends_with_colon {
            let block = self.blocks.last().copied().unwrap_or_default();
            if self.line.first == First::Case && block.is_match {
                self.complexity = self.complexity.saturating_add(1);
            }
            self.pending_block = Some((
                block.type_only || self.line.type_checking == TypeChecking::Body,
                self.line.first == First::Match,
            ));
        }
        self.line = Line::default();
    }

    /// A number literal (`1`, `1_000`, `0x1f`, `1.5e-3`, `2j`, `.5`); stops before a keyword
    /// glued to it (`1if`).
    fn number(&mut self) {
        let s = self.src;
        let digits = |i: &mut usize| {
            while *i < s.len() && (s[*i].is_ascii_digit() || s[*i] == b'_') {
                *i += 1;
            }
        };
        let mut i = self.i;
        if s[i] == b'0' && matches!(s.get(i + 1), Some(b'x' | b'X' | b'o' | b'O' | b'b' | b'B')) {
            i += 2;
            while i < s.len() && (s[i].is_ascii_hexdigit() || s[i] == b'_') {
                i += 1;
            }
            self.i = i;
            return;
        }
        digits(&mut i);
        if s.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
        if matches!(s.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(s.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if s.get(j).is_some_and(u8::is_ascii_digit) {
                i = j;
                digits(&mut i);
            }
        }
        if matches!(s.get(i), Some(b'j' | b'J')) {
            i += 1;
        }
        self.i = i;
    }

    /// A string literal whose prefix starts at `start` and whose quote is at `self.i`;
    /// counts its rows (unless it is nested in an f-string's field) and, for an f-string,
    /// the decision points of its fields.
    fn string(&mut self, start: usize, fstring: bool, nesting: u32) -> Option<()> {
        let start_row = self.row;
        let quote = self.src[self.i];
        let triple = self.peek(1) == quote && self.peek(2) == quote;
        self.i += if triple { 3 } else { 1 };
        loop {
            let c = *self.src.get(self.i)?;
            match c {
                b'\\' => {
                    self.i += 1;
                    match self.src.get(self.i)? {
                        b'\n' => {
                            self.i += 1;
                            self.newline();
                        }
                        b'\r' if self.peek(1) == b'\n' => {
                            self.i += 2;
                            self.newline();
                        }
                        _ => self.i += 1,
                    }
                }
                b'\n' => {
                    if !triple {
                        return None;
                    }
                    self.i += 1;
                    self.newline();
                }
                _ if c == quote => {
                    if !triple {
                        self.i += 1;
                        break;
                    }
                    if self.peek(1) == quote && self.peek(2) == quote {
                        self.i += 3;
                        break;
                    }
                    self.i += 1;
                }
                b'{' if fstring => {
                    if self.peek(1) == b'{' {
                        self.i += 2;
                    } else {
                        self.i += 1;
                        self.field(quote, triple, nesting)?;
                    }
                }
                _ => self.i += 1,
            }
        }
        if nesting > 0 {
            // A string inside an f-string's field: the enclosing string counts the rows.
        } else if self.row == start_row {
            self.loc.row(self.row);
        } else {
            self.loc.span(self.src, start, self.i, start_row);
        }
        Some(())
    }

    /// Whether the string delimited by `quote` (`triple` or not) would close at `self.i`:
    /// inside a triple-quoted string, a lone quote of the same kind is text.
    fn closes(&self, quote: u8, triple: bool) -> bool {
        self.peek(0) == quote && (!triple || (self.peek(1) == quote && self.peek(2) == quote))
    }

    /// An f-string replacement field after its `{`, through its `}`: the expression (whose
    /// decision points count), a conversion, a format spec (with nested fields).
    fn field(&mut self, quote: u8, triple: bool, nesting: u32) -> Option<()> {
        if nesting >= MAX_FSTRING_DEPTH {
            return None;
        }
        let mut depth = 0usize;
        loop {
            let c = *self.src.get(self.i)?;
            match c {
                b'\n' => {
                    if !triple {
                        return None;
                    }
                    self.i += 1;
                    self.newline();
                }
                b'\\' | b'#' | b'\r' => return None,
                b'\'' | b'"' => {
                    if self.closes(quote, triple) {
                        // The enclosing quote inside a field: a nested string of Python
                        // 3.12, or the end of a malformed one.
                        return None;
                    }
                    self.string(self.i, false, nesting + 1)?;
                }
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    self.i += 1;
                }
                b')' | b']' => {
                    depth = depth.checked_sub(1)?;
                    self.i += 1;
                }
                b'}' => {
                    self.i += 1;
                    if depth == 0 {
                        return Some(());
                    }
                    depth -= 1;
                }
                b':' if depth == 0 => {
                    self.i += 1;
                    return self.format_spec(quote, triple, nesting);
                }
                _ if is_word_byte(c) && !c.is_ascii_digit() => {
                    let start = self.i;
                    while self.i < self.src.len() && is_word_byte(self.src[self.i]) {
                        self.i += 1;
                    }
                    let word = &self.src[start..self.i];
                    if matches!(self.peek(0), b'\'' | b'"')
                        && let Some(fstring) = string_prefix(word)
                    {
                        if self.closes(quote, triple) {
                            return None;
                        }
                        self.string(start, fstring, nesting + 1)?;
                    } else if is_decision(word) {
                        self.complexity = self.complexity.saturating_add(1);
                    }
                }
                b'0'..=b'9' => self.number(),
                _ => self.i += 1,
            }
        }
    }

    /// A format spec after its `:`, through the field's `}`; `{…}` inside are fields.
    fn format_spec(&mut self, quote: u8, triple: bool, nesting: u32) -> Option<()> {
        loop {
            let c = *self.src.get(self.i)?;
            match c {
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                b'{' => {
                    self.i += 1;
                    self.field(quote, triple, nesting + 1)?;
                }
                b'\n' if triple => {
                    self.i += 1;
                    self.newline();
                }
                b'\n' | b'\r' | b'\\' => return None,
                _ if self.closes(quote, triple) => return None,
                _ => self.i += 1,
            }
        }
    }
}

/// What the logical-line state needs to know of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    /// A name or keyword starting at this byte.
    Word(usize),
    Colon,
    Semicolon,
    Dot,
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deps::extract::{EdgeKind, Extracted, Language, extract_full};

    /// Where the scan of `src` disagrees with the full parse `full`: lines of code,
    /// complexity, and imports outside every region of their kind.
    fn disagreements(src: &[u8], lexed: &Lexed, full: &Extracted) -> Vec<String> {
        let mut problems = Vec::new();
        if lexed.lines != full.lines {
            problems.push(format!("lines {} vs {}", lexed.lines, full.lines));
        }
        if lexed.complexity != full.complexity {
            problems.push(format!(
                "complexity {} vs {}",
                lexed.complexity, full.complexity
            ));
        }
        for import in &full.imports {
            let inside = lexed.regions.iter().any(|r| {
                let rows = src[r.start..r.end].iter().filter(|&&b| b == b'\n').count() as u32;
                (r.row + 1..=r.row + 1 + rows).contains(&import.line)
                    && r.type_only == (import.kind == EdgeKind::TypeOnly)
            });
            if !inside {
                problems.push(format!("{import:?} is in no region of {:?}", lexed.regions));
            }
        }
        problems
    }

    /// Asserts that the scan of `src` agrees with the full parse: lines of code, complexity,
    /// and every import's line inside a region of its kind.
    pub(crate) fn agrees(src: &str) {
        let full = extract_full("m.py", Language::Python, src.as_bytes()).unwrap();
        assert_eq!(full.first_error_line, None, "the sample must parse:\n{src}");
        let lexed = lex(src.as_bytes()).unwrap_or_else(|| panic!("the scan gave up on:\n{src}"));
        let problems = disagreements(src.as_bytes(), &lexed, &full);
        assert!(problems.is_empty(), "{problems:?}:\n{src}");
    }

    fn regions(src: &str) -> Vec<(&str, u32, bool)> {
        lex(src.as_bytes())
            .unwrap()
            .regions
            .iter()
            .map(|r| (&src[r.start..r.end], r.row, r.type_only))
            .collect()
    }

    #[test]
    fn finds_import_statements_with_their_rows() {
        let src = "import a.b as c, d\nfrom . import (x,\n    y)  # c\nx = 1; import e; f()\n";
        assert_eq!(
            regions(src),
            vec![
                ("import a.b as c, d", 0, false),
                ("from . import (x,\n    y)", 1, false),
                ("import e", 3, false),
            ]
        );
    }

    #[test]
    fn imports_after_a_header_colon_and_in_nested_blocks() {
        let src = "def f():\n    import a\nif x: from b import c\ntry:\n    import d\nexcept E:\n    pass\n";
        assert_eq!(
            regions(src),
            vec![
                ("import a", 1, false),
                ("from b import c", 2, false),
                ("import d", 4, false),
            ]
        );
    }

    #[test]
    fn type_checking_consequences_are_type_only_but_not_their_else() {
        let src = "if TYPE_CHECKING:\n    import a\n    if y:\n        import b\nelse:\n    import c\nif typing.TYPE_CHECKING: import d\nif not TYPE_CHECKING:\n    import e\nimport f\n";
        assert_eq!(
            regions(src),
            vec![
                ("import a", 1, true),
                ("import b", 3, true),
                ("import c", 5, false),
                ("import d", 6, true),
                ("import e", 8, false),
                ("import f", 9, false),
            ]
        );
    }

    #[test]
    fn strings_and_comments_hide_imports() {
        let src = "s = 'import a'\n# import b\nt = \"\"\"\nimport c\n\"\"\"\nu = f'{x}import d'\n";
        assert!(regions(src).is_empty());
    }

    #[test]
    fn counts_lines_of_code_like_the_tree() {
        let src = "# c\nimport a\n\n\"\"\"doc\n\nstring\"\"\"\nx = (1,  # t\n     2)\n";
        let lexed = lex(src.as_bytes()).unwrap();
        assert_eq!(lexed.lines, 5);
        agrees(src);
    }

    #[test]
    fn counts_decision_points_including_fstrings_and_case_clauses() {
        let src = "def f(x):\n    if x and y or z:\n        return [i for i in x if i]\n    elif x:\n        return 1if x else 2\n    while x:\n        pass\n    try:\n        pass\n    except E:\n        pass\n    s = f'{a if b else c:>{w}}'\n    match x:\n        case 1:\n            pass\n        case _ if y:\n            pass\ncase = 1\nmatch = 2\n";
        let lexed = lex(src.as_bytes()).unwrap();
        // if and or for if elif if while except if (f-string) case case if(guard)
        assert_eq!(lexed.complexity, 1 + 13);
        agrees(src);
    }

    #[test]
    fn triple_quoted_fstrings_hold_strings_of_their_quote_in_fields() {
        let src = "s = f\"\"\"\n<a id=\"{tag(\"rect\", x=1 if y else 2)}\">\n{','.join(v):>{w}}\n\"\"\"\nimport a\n";
        agrees(src);
        let lexed = lex(src.as_bytes()).unwrap();
        assert_eq!(lexed.complexity, 2);
        assert_eq!(lexed.regions.len(), 1);
    }

    #[test]
    fn a_string_is_one_token_and_comment_lines_in_imports_are_no_code() {
        // Escape sequences and `{{` make tree-sitter split a string's content; every
        // non-blank row of the string still counts, as the scanner counts it.
        let src = "\"\"\"a\\n\n\nb {{x}}\n\"\"\"\nfrom x import (\n    a,\n    # c\n)\n";
        assert_eq!(lex(src.as_bytes()).unwrap().lines, 6);
        agrees(src);
    }

    #[test]
    fn a_vertical_tab_is_a_space() {
        agrees("\x0b\x0b\ncrypB\nx = 1 \x0b+ 2\n");
        assert_eq!(lex(b"\x0b\x0b\ncrypB\n").unwrap().lines, 1);
        assert_eq!(lex(b"\x0bx = 1\n"), None);
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        agrees("\u{feff}import os\nif TYPE_CHECKING:\n    import a\n");
        assert_eq!(
            regions("\u{feff}import os\n"),
            vec![("import os", 0, false)]
        );
    }

    #[test]
    fn tabs_in_indentation_count_as_tree_sitter_counts_them() {
        agrees("if TYPE_CHECKING:\n\timport a\n\tif x:\n\t\timport b\nimport c\n");
        agrees("class A:\n\tdef f(self):\n\t\tpass\n\x0c\ndef g():\n        return 1\n");
        let lexed = lex(b"if TYPE_CHECKING:\n\timport a\nimport c\n").unwrap();
        assert_eq!(
            lexed
                .regions
                .iter()
                .map(|r| r.type_only)
                .collect::<Vec<_>>(),
            vec![true, false]
        );
    }

    #[test]
    fn gives_up_on_what_it_cannot_follow() {
        for src in [
            "s = 'open\n",
            "x = (1,\n",
            "x = 1)\n",
            "if x:\npass\n",
            "if x:\n    a\n  b\n",
            "x = 1 \\ y\n",
            "x = import a\n",
            "s = \"\"\"never closed\n",
            "s = f'{x['k']}'\n",
            "s = f'{x # c}'\n",
        ] {
            assert_eq!(lex(src.as_bytes()), None, "{src:?}");
        }
    }

    #[test]
    fn string_prefixes() {
        assert_eq!(string_prefix(b"rb"), Some(false));
        assert_eq!(string_prefix(b"F"), Some(true));
        assert_eq!(string_prefix(b"rf"), Some(true));
        assert_eq!(string_prefix(b"bf"), None);
        assert_eq!(string_prefix(b"ur"), None);
        assert_eq!(string_prefix(b"rr"), None);
        assert_eq!(string_prefix(b"x"), None);
    }

    /// Agreement with the full parse on every `.py` file under `$CADRE_LEX_CORPUS` (a
    /// development check on large real corpora, such as the Python standard library), and
    /// the time of each per byte (run it with `--release`).
    #[test]
    #[ignore = "needs CADRE_LEX_CORPUS"]
    #[allow(clippy::print_stderr)] // a development report
    fn agrees_with_the_tree_on_a_corpus() {
        let root = std::env::var("CADRE_LEX_CORPUS").expect("CADRE_LEX_CORPUS");
        let (mut files, mut fell_back, mut broken, mut disagree) = (0, 0, 0, 0);
        let (mut bytes, mut lex_time, mut full_time) = (0usize, 0.0f64, 0.0f64);
        for entry in ignore::WalkBuilder::new(root).build().flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "py") {
                continue;
            }
            let Ok(src) = std::fs::read(path) else {
                continue;
            };
            files += 1;
            bytes += src.len();
            let t = std::time::Instant::now();
            let full = extract_full("m.py", Language::Python, &src).unwrap();
            full_time += t.elapsed().as_secs_f64();
            if full.first_error_line.is_some() {
                broken += 1;
                continue;
            }
            let t = std::time::Instant::now();
            let lexed = lex(&src);
            lex_time += t.elapsed().as_secs_f64();
            let Some(lexed) = lexed else {
                fell_back += 1;
                eprintln!("fell back: {}", path.display());
                continue;
            };
            let problems = disagreements(&src, &lexed, &full);
            if !problems.is_empty() {
                disagree += 1;
                eprintln!("{}: {}", path.display(), problems.join("; "));
            }
        }
        eprintln!(
            "{files} files: {broken} do not parse, {fell_back} fell back, {disagree} disagree; \
             scanner {:.1} ns/byte, full parse {:.1} ns/byte (of {bytes} bytes)",
            lex_time * 1e9 / bytes as f64,
            full_time * 1e9 / bytes as f64,
        );
        assert_eq!(disagree, 0);
    }
}
