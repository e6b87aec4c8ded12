//! Lexical scanners: the fast path of import extraction.
//!
//! A full tree-sitter parse of every file is most of the analyzer's time, and almost all of
//! it is spent on code that holds no import. These scanners read a file once, byte by byte,
//! tracking what a tokenizer must (strings, comments, brackets, Python's indentation,
//! JavaScript's template literals and regular expressions) and return:
//! - the lines of code and the cyclomatic complexity, by the same definitions as the syntax
//!   tree's (agreement tests check them against the full parse);
//! - the byte ranges of the statements and calls that can import (`import`, `from … import`,
//!   `export … from`, `require(…)`, `import(…)`), which tree-sitter then parses on their own.
//!
//! A scanner that meets anything it cannot follow with certainty (an unterminated string,
//! a bracket that does not match, an indentation that returns to no enclosing level, JSX it
//! does not follow) returns `None`, and the file is parsed in full, which also names the line
//! of its first syntax error.

pub(crate) mod js;
pub(crate) mod python;

/// What a lexical pass over a file found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Lexed {
    /// Lines of code: non-blank lines spanned by a token that is not a comment.
    pub(crate) lines: u32,
    /// 1 + the decision points of the file.
    pub(crate) complexity: u32,
    /// The import-bearing statements and calls, in source order, not overlapping.
    pub(crate) regions: Vec<Region>,
}

/// A byte range of the source that holds one import statement or call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Region {
    /// First byte (the `import`, `from`, `export` or `require` keyword).
    pub(crate) start: usize,
    /// One past the last byte (the end of the statement or the closing parenthesis).
    pub(crate) end: usize,
    /// The 0-based row of `start`.
    pub(crate) row: u32,
    /// Python: the statement is in the consequence of an `if TYPE_CHECKING:` (at any depth).
    pub(crate) type_only: bool,
}

/// Counts lines of code as tokens are met: a row counts once, when a token that is not a
/// comment covers it and it is not blank.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LineCounter {
    count: u32,
    /// The first row not counted yet (rows are met in increasing order).
    next_row: usize,
}

impl LineCounter {
    /// A token on one row (its text is not blank).
    #[inline]
    pub(crate) fn row(&mut self, row: usize) {
        if row >= self.next_row {
            self.count = self.count.saturating_add(1);
            self.next_row = row + 1;
        }
    }

    /// A token `source[start..end]` that begins on `row` and may span several rows (a
    /// triple-quoted string, a template literal): its first and last rows hold its delimiters
    /// and count; a row in between counts when it is not blank.
    pub(crate) fn span(&mut self, source: &[u8], start: usize, end: usize, row: usize) {
        self.row(row);
        let mut r = row;
        let mut line_start = None;
        for (i, &b) in source[start..end].iter().enumerate() {
            if b == b'\n' {
                if let Some(s) = line_start
                    && source[s..start + i]
                        .iter()
                        .any(|c: &u8| !c.is_ascii_whitespace())
                {
                    self.row(r);
                }
                r += 1;
                line_start = Some(start + i + 1);
            }
        }
        if r > row {
            // The last row holds the closing delimiter.
            self.row(r);
        }
    }

    /// The count.
    pub(crate) fn count(self) -> u32 {
        self.count
    }
}
