//! The JavaScript and TypeScript scanner (see [`super`]).

use super::{Lexed, LineCounter, Region};

/// Which grammar a file is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `.js .jsx .mjs .cjs`: JavaScript with JSX.
    JavaScript,
    /// `.ts .mts .cts`: TypeScript without JSX (`<T>x` is a type assertion).
    TypeScript,
    /// `.tsx`: TypeScript with JSX.
    Tsx,
}

/// Scans a JavaScript or TypeScript file; `None` when the file must be parsed in full.
///
/// One pass over the bytes with a stack of open brackets (`(`, `[`, `{` and the `${` of a
/// template literal, so that substitutions nest to any depth). Tokens follow
/// tree-sitter-javascript's lexical grammar: `//` and `/* */` comments (a line comment ends at
/// `\r`, `\n`, U+2028 or U+2029), strings with escapes (a line continuation makes them span
/// rows), template literals, regular expressions (told from a division by the previous
/// token), numbers, identifiers, private names and the hashbang line (a leaf of the tree, so
/// its row is code).
///
/// JSX (JavaScript and TSX; in TypeScript `<` is never JSX): a `<` where an expression may
/// start opens an element or a fragment; tags with attributes (names with `-`, `.`, `:`;
/// string values, which may break rows and hold no escapes; `{…}` values and spreads;
/// element values), self-closing tags, text children (quotes and `//` in them are text;
/// each non-blank row of a text counts, as its leaf does in the tree), `{…}` expression
/// containers and nested elements, each on the bracket stack.
///
/// `None` (parse in full) for: an unterminated string, template, comment or regular
/// expression, a bracket that does not match or is left open, a `\` escape or a non-ASCII
/// character at code level that is neither a letter nor a space, the HTML-like comments
/// `<!--` and `-->` (comments to tree-sitter only in some parser states), and JSX it does not
/// follow: an element left open, `>` or `}` in text, an attribute value that is not a
/// string, a brace or an element, type arguments on a tag (`<Foo<T> />`) or a TSX generic
/// arrow function (`<T,>(x: T) => x`, read as a tag). In JavaScript also for a Flow file
/// (`@flow` in its first 4 KiB) and a `?` before `:`, `,`, `)`, `]`, `;` or `=` (an
/// optional mark: a syntax error there).
///
/// Complexity: 1 + `if`, `for`, `while` (not the one closing a `do … while`), `do`, `case`,
/// `catch`, `&&`, `||`, `??` and the `?` of a conditional expression. A keyword is a property
/// name after `.` or `?.`, before `:`, `?`, `,`, `}` or a lone `=`, and anywhere directly in
/// a class body, an interface body or a brace that opens where an expression is expected (an
/// object literal or a type literal). In TypeScript a `?` is not a decision point before `:`,
/// `,`, `)`, `]`, `;` or `=` (optional marks), right between a name and `(` or `<` with no space
/// on either side (an optional method `m?()`), or after an `extends` at the same bracket level,
/// also inside the `<…>` type arguments that follow it (a conditional type), unless that
/// `extends` is a class or interface heading's own (a constraint in the heading's type
/// parameters does count) or closed by the `>` of generic parameters.
///
/// Known differences from the tree (none seen in formatted code):
/// - TypeScript `a?(b):c` or `a?<b>c:d` written without spaces reads as an optional
///   method, and a ternary at the same level after a conditional type's `extends` but before
///   its `?` is taken for the conditional type's;
/// - a keyword method name (`{ if() {} }`) in a type literal after `:` in a block
///   (`let x: { catch(): void }`) counts as a keyword, since the brace is read as a block;
/// - a `/` right after `)` of a call, `]` or an identifier is a division, after `}` a regular
///   expression; a wrong guess usually ends in `None` (an unterminated regular expression);
/// - a keyword used as a name elsewhere (`export { x as if }`) counts;
/// - a syntax error the scanner does not notice is not reported, and the tree's error
///   recovery may count differently.
pub(crate) fn lex(source: &[u8], dialect: Dialect) -> Option<Lexed> {
    if dialect == Dialect::JavaScript && is_flow(source) {
        return None;
    }
    let mut s = Scanner::new(source, dialect);
    s.run()?;
    Some(Lexed {
        lines: s.lines.count(),
        complexity: s.complexity,
        regions: s.regions,
    })
}

/// Whether a JavaScript file declares Flow types (`@flow` near its start): tree-sitter reads
/// their annotations as syntax errors.
fn is_flow(source: &[u8]) -> bool {
    let head = &source[..source.len().min(4096)];
    head.windows(5).any(|w| w == b"@flow")
}

/// One open bracket (or the file itself, at the bottom of the stack).
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// `(`, `[`, `{`, `$` for a template substitution, [`TAG`] and [`CHILDREN`] for JSX, 0
    /// for the file.
    open: u8,
    /// A brace whose direct content is members: a class or interface body, an object or a
    /// type literal (statement keywords there are names).
    members: bool,
    /// The parenthesis of an `if`/`for`/`while`/`with` condition: a regular expression may
    /// follow its `)`.
    cond: bool,
    /// Closing this parenthesis ends the open region.
    region: bool,
    /// A `class`/`interface` keyword was met at this level and its body has not opened yet.
    heading: bool,
    /// In a heading: the depth of `<` (its type parameters, where an `extends` is a
    /// constraint that may hold a conditional type, not the heading's own `extends`).
    heading_angles: u16,
    /// TypeScript: the `extends` at this level whose conditional type's `?` has not come yet
    /// (`A extends <V>() => V extends B ? 1 : 2 ? x : y` has two).
    pending: u16,
    /// TypeScript: with `pending`, the depth of `<` since the first of them (a `?` at depth
    /// 0 is a conditional type's).
    extends: i32,
    /// A brace of JSX (an attribute value, a spread attribute or an expression container):
    /// the markup goes on after it.
    jsx: bool,
}

/// The frame of a JSX opening tag (its attributes).
const TAG: u8 = b'T';
/// The frame of a JSX element's children.
const CHILDREN: u8 = b'C';

impl Frame {
    fn new(open: u8) -> Self {
        Self {
            open,
            members: false,
            cond: false,
            region: false,
            heading: false,
            heading_angles: 0,
            pending: 0,
            extends: 0,
            jsx: false,
        }
    }
}

/// Where an import or re-export declaration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decl {
    None,
    /// Right after `import`: `(` is a dynamic import, `.` is `import.meta`.
    ImportStart,
    /// In an import clause; `from` is whether the previous token was `from` (or `import`).
    ImportClause {
        from: bool,
    },
    /// `import x =`: `require` must follow.
    ImportEq,
    /// `import x = require`: `(` must follow.
    ImportEqRequire,
    /// Right after `export`.
    Export,
    /// `export type`.
    ExportType,
    /// `export *`.
    ExportStar,
    /// `export * as`.
    ExportStarAs,
    /// `export * as ns`.
    ExportStarName,
    /// `export {` … (until the brace closes).
    ExportBraces,
    /// `export { … }`: `from` must follow.
    ExportAfterBraces,
    /// `export … from`: the string must follow.
    ExportFrom,
}

/// A token as the declaration state machine sees it.
#[derive(Debug, Clone, Copy)]
enum Tok<'a> {
    Word(&'a [u8]),
    /// A string literal ending at this byte.
    Str(usize),
    Open(u8),
    Close,
    Punct(u8),
    /// Anything else (a number, a template, a regular expression, a private name).
    Other,
}

struct Scanner<'a> {
    src: &'a [u8],
    ts: bool,
    jsx: bool,
    i: usize,
    row: usize,
    lines: LineCounter,
    complexity: u32,
    regions: Vec<Region>,
    frames: Vec<Frame>,
    /// The stack depths of the `do` statements whose `while` has not been met.
    dos: Vec<usize>,
    /// A regular expression (or, with JSX, an element) may start here.
    re_ok: bool,
    /// A `{` here opens an object or type literal (not a block).
    obj: bool,
    /// The previous token was `.` or `?.`: a word here is a property name.
    dot: bool,
    /// The previous token was a name, a string, a number or `]`, ending at `prev_end`.
    name_like: bool,
    prev_end: usize,
    /// The next `(` is a statement's condition.
    cond_next: bool,
    /// The previous token was `require`: a `(` here opens a region.
    call_next: bool,
    decl: Decl,
    /// The frame depth at the `import`/`export` keyword.
    decl_depth: usize,
    /// A region is open (a call whose `)` has not been met).
    call_open: bool,
    /// Start byte and row of the open region or declaration.
    reg_start: usize,
    reg_row: usize,
}

#[inline]
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// The character at `i` (UTF-8) and its length.
fn decode(src: &[u8], i: usize) -> Option<(char, usize)> {
    let lead = *src.get(i)?;
    let len = match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return None,
    };
    let bytes = src.get(i..i + len)?;
    let c = std::str::from_utf8(bytes).ok()?.chars().next()?;
    Some((c, len))
}

/// Spaces tree-sitter skips besides ASCII ones (`\p{Zs}`, BOM, line and paragraph
/// separators, word joiner, zero-width space).
fn is_unicode_space(c: char) -> bool {
    matches!(
        c,
        '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200b}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{2060}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// A non-ASCII character that may be part of an identifier.
fn is_unicode_word(c: char) -> bool {
    c.is_alphanumeric() || c == '\u{200c}' || c == '\u{200d}'
}

impl<'a> Scanner<'a> {
    fn new(src: &'a [u8], dialect: Dialect) -> Self {
        let mut frames = Vec::with_capacity(32);
        frames.push(Frame::new(0));
        Self {
            src,
            ts: dialect != Dialect::JavaScript,
            jsx: dialect != Dialect::TypeScript,
            i: 0,
            row: 0,
            lines: LineCounter::default(),
            complexity: 1,
            regions: Vec::new(),
            frames,
            dos: Vec::new(),
            re_ok: true,
            obj: false,
            dot: false,
            name_like: false,
            prev_end: 0,
            cond_next: false,
            call_next: false,
            decl: Decl::None,
            decl_depth: 0,
            call_open: false,
            reg_start: 0,
            reg_row: 0,
        }
    }

    #[inline]
    fn at(&self, i: usize) -> u8 {
        self.src.get(i).copied().unwrap_or(0)
    }

    #[inline]
    fn frame(&mut self) -> &mut Frame {
        // The file frame is never popped.
        let last = self.frames.len() - 1;
        &mut self.frames[last]
    }

    /// The start of the next token from `i` (ASCII spaces and comments skipped; the length
    /// of the source at its end).
    fn next_sig(&self, mut i: usize) -> usize {
        loop {
            match self.at(i) {
                b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => i += 1,
                b'/' if self.at(i + 1) == b'/' => {
                    while !matches!(self.at(i), b'\n' | 0) {
                        i += 1;
                    }
                }
                b'/' if self.at(i + 1) == b'*' => {
                    i += 2;
                    while i < self.src.len() && !(self.at(i) == b'*' && self.at(i + 1) == b'/') {
                        i += 1;
                    }
                    i += 2;
                }
                _ => return i.min(self.src.len()),
            }
        }
    }

    /// A token starts on the current row: count the row, end a pending `require`.
    #[inline]
    fn begin(&mut self) -> bool {
        self.lines.row(self.row);
        std::mem::take(&mut self.call_next)
    }

    /// Sets what may follow the token just read, which ended at `self.i`.
    #[inline]
    fn after(&mut self, re_ok: bool, obj: bool, name_like: bool) {
        self.re_ok = re_ok;
        self.obj = obj;
        self.name_like = name_like;
        self.dot = false;
        self.prev_end = self.i;
    }

    fn region_open(&self) -> bool {
        self.call_open || self.decl != Decl::None
    }

    fn emit(&mut self, end: usize) {
        self.regions.push(Region {
            start: self.reg_start,
            end,
            row: u32::try_from(self.reg_row).unwrap_or(u32::MAX),
            type_only: false,
        });
    }

    /// Feeds one token to the declaration state machine.
    fn decl_step(&mut self, tok: Tok<'_>) {
        let inside = self.frames.len() > self.decl_depth;
        self.decl = match (self.decl, tok) {
            (Decl::None, _) => Decl::None,
            (Decl::ImportStart, Tok::Open(b'(')) => {
                self.call_next = true;
                Decl::None
            }
            (Decl::ImportStart, Tok::Punct(b'.')) => Decl::None,
            (Decl::ImportStart, _) => {
                self.decl = Decl::ImportClause { from: true };
                return self.decl_step(tok);
            }
            (Decl::ImportClause { .. }, _) if inside => Decl::ImportClause { from: false },
            (Decl::ImportClause { from: true }, Tok::Str(end)) => {
                self.emit(end);
                Decl::None
            }
            (Decl::ImportClause { .. }, Tok::Close) => Decl::ImportClause { from: false },
            (Decl::ImportClause { .. }, Tok::Word(w)) => Decl::ImportClause { from: w == b"from" },
            (Decl::ImportClause { .. }, Tok::Punct(b'*' | b',') | Tok::Open(b'{')) => {
                Decl::ImportClause { from: false }
            }
            (Decl::ImportClause { .. }, Tok::Punct(b'=')) => Decl::ImportEq,
            (Decl::ImportEq, Tok::Word(b"require")) => Decl::ImportEqRequire,
            (Decl::ImportEqRequire, Tok::Open(b'(')) => {
                self.call_next = true;
                Decl::None
            }
            (Decl::Export, Tok::Word(b"type")) => Decl::ExportType,
            (Decl::Export | Decl::ExportType, Tok::Punct(b'*')) => Decl::ExportStar,
            (Decl::Export | Decl::ExportType, Tok::Open(b'{')) => Decl::ExportBraces,
            (Decl::ExportStar, Tok::Word(b"as")) => Decl::ExportStarAs,
            (
                Decl::ExportStar | Decl::ExportStarName | Decl::ExportAfterBraces,
                Tok::Word(b"from"),
            ) => Decl::ExportFrom,
            (Decl::ExportStarAs, Tok::Word(_) | Tok::Str(_)) => Decl::ExportStarName,
            (Decl::ExportBraces, Tok::Close) if !inside => Decl::ExportAfterBraces,
            (Decl::ExportBraces, _) => Decl::ExportBraces,
            (Decl::ExportFrom, Tok::Str(end)) => {
                self.emit(end);
                Decl::None
            }
            _ => Decl::None,
        };
    }

    /// Starts a declaration at the keyword `start..self.i`.
    fn start_decl(&mut self, decl: Decl, start: usize) {
        self.decl = decl;
        self.decl_depth = self.frames.len();
        self.reg_start = start;
        self.reg_row = self.row;
    }

    fn run(&mut self) -> Option<()> {
        if self.src.starts_with(b"#!") {
            // tree-sitter's `hash_bang_line` leaf: code, to the end of the row.
            self.begin();
            while !matches!(self.at(self.i), b'\n' | 0) {
                self.i += 1;
            }
        }
        while let Some(&b) = self.src.get(self.i) {
            match self.frames.last().map_or(0, |f| f.open) {
                TAG => {
                    self.jsx_tag()?;
                    continue;
                }
                CHILDREN => {
                    self.jsx_children()?;
                    continue;
                }
                _ => {}
            }
            match b {
                b'\n' => {
                    self.row += 1;
                    self.i += 1;
                }
                b' ' | b'\t' | b'\r' | 0x0b | 0x0c => self.i += 1,
                b'/' => match self.at(self.i + 1) {
                    b'/' => self.line_comment(),
                    b'*' => self.block_comment()?,
                    _ if self.re_ok => self.regex()?,
                    _ => {
                        let eq = self.at(self.i + 1) == b'=';
                        self.op(1 + usize::from(eq), true, true);
                    }
                },
                b'\'' | b'"' => self.string(b)?,
                b'`' => {
                    self.begin();
                    self.decl_step(Tok::Other);
                    let start = self.i;
                    self.i += 1;
                    self.template(start)?;
                }
                b'0'..=b'9' => self.number(),
                b'.' => {
                    if self.at(self.i + 1).is_ascii_digit() {
                        self.number();
                    } else if self.at(self.i + 1) == b'.' && self.at(self.i + 2) == b'.' {
                        self.op(3, true, true);
                    } else {
                        self.begin();
                        self.decl_step(Tok::Punct(b'.'));
                        self.i += 1;
                        self.after(false, false, false);
                        self.dot = true;
                    }
                }
                b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'$' => self.word()?,
                b'#' => {
                    // A private name.
                    self.begin();
                    self.decl_step(Tok::Other);
                    let start = self.i;
                    self.i += 1;
                    self.skip_word()?;
                    if self.i == start + 1 {
                        return None;
                    }
                    self.after(false, false, true);
                }
                b'(' | b'[' | b'{' => self.open(b),
                b')' | b']' | b'}' => self.close(b)?,
                b'?' => self.question()?,
                b'&' | b'|' => {
                    if self.at(self.i + 1) == b {
                        if self.at(self.i + 2) == b'=' {
                            self.op(3, true, true);
                        } else {
                            self.complexity = self.complexity.saturating_add(1);
                            self.op(2, true, true);
                        }
                    } else {
                        let eq = self.at(self.i + 1) == b'=';
                        self.op(1 + usize::from(eq), true, true);
                    }
                }
                b'=' => match (self.at(self.i + 1), self.at(self.i + 2)) {
                    (b'>', _) => self.op(2, true, false),
                    (b'=', b'=') => self.op(3, true, true),
                    (b'=', _) => self.op(2, true, true),
                    _ => self.punct(b'=', true),
                },
                b'<' => {
                    if self.jsx && self.re_ok {
                        self.jsx_element()?;
                        continue;
                    }
                    if self.src[self.i..].starts_with(b"<!--") {
                        return None;
                    }
                    let n = if self.at(self.i + 1) == b'<' { 2 } else { 1 };
                    let eq = self.at(self.i + n) == b'=';
                    if !eq && self.ts {
                        let f = self.frame();
                        if f.pending > 0 {
                            f.extends += n as i32;
                        }
                        if f.heading {
                            f.heading_angles = f.heading_angles.saturating_add(n as u16);
                        }
                    }
                    self.op(n + usize::from(eq), true, true);
                }
                b'>' => {
                    let mut n = 1;
                    while n < 3 && self.at(self.i + n) == b'>' {
                        n += 1;
                    }
                    let eq = self.at(self.i + n) == b'=';
                    if !eq && self.ts {
                        let f = self.frame();
                        for _ in 0..n {
                            if f.extends > 0 {
                                f.extends -= 1;
                            } else {
                                // The `>` of generic parameters `<T extends U>`.
                                f.pending = 0;
                            }
                        }
                        f.heading_angles = f.heading_angles.saturating_sub(n as u16);
                    }
                    self.op(n + usize::from(eq), true, false);
                }
                b'-' | b'+' => {
                    let next = self.at(self.i + 1);
                    if next == b {
                        if b == b'-' && self.at(self.i + 2) == b'>' {
                            // `-->`: an HTML-like comment in some parser states.
                            return None;
                        }
                        // `++`/`--`: taken as postfix (a division may follow).
                        self.op(2, false, false);
                    } else {
                        self.op(1 + usize::from(next == b'='), true, true);
                    }
                }
                b'*' => {
                    let n = if self.at(self.i + 1) == b'*' { 2 } else { 1 };
                    let eq = self.at(self.i + n) == b'=';
                    if n == 1 && !eq {
                        self.punct(b'*', true);
                    } else {
                        self.op(n + usize::from(eq), true, true);
                    }
                }
                b'!' => {
                    let mut n = 1;
                    while n < 3 && self.at(self.i + n) == b'=' {
                        n += 1;
                    }
                    self.op(n, true, true);
                }
                b'%' | b'^' => {
                    let eq = self.at(self.i + 1) == b'=';
                    self.op(1 + usize::from(eq), true, true);
                }
                b'~' | b'@' => self.op(1, true, true),
                b',' => self.punct(b',', true),
                b';' => {
                    if self.ts {
                        let f = self.frame();
                        (f.pending, f.extends) = (0, 0);
                    }
                    self.punct(b';', false);
                }
                b':' => {
                    let f = *self.frame();
                    let obj = f.members || f.open == b'(' || f.open == b'[';
                    self.punct(b':', obj);
                }
                0x80.. => {
                    let (c, len) = decode(self.src, self.i)?;
                    if is_unicode_space(c) {
                        self.i += len;
                    } else if is_unicode_word(c) {
                        self.word()?;
                    } else {
                        return None;
                    }
                }
                _ => return None,
            }
        }
        if self.frames.len() == 1 {
            Some(())
        } else {
            None
        }
    }

    /// An operator of `n` bytes (none of them starts a declaration's part).
    fn op(&mut self, n: usize, re_ok: bool, obj: bool) {
        self.begin();
        self.decl_step(Tok::Other);
        self.i += n;
        self.after(re_ok, obj, false);
    }

    /// A one-byte punctuator the declaration state machine reads (`= , ; : *`).
    fn punct(&mut self, b: u8, obj: bool) {
        self.begin();
        self.decl_step(Tok::Punct(b));
        if b == b',' || b == b'=' {
            let f = self.frame();
            if f.extends == 0 {
                // `<T extends U, V>`, `<T extends U = V>`.
                (f.pending, f.extends) = (0, 0);
            }
        }
        self.i += 1;
        self.after(true, obj, false);
    }

    fn line_comment(&mut self) {
        while let Some(&b) = self.src.get(self.i) {
            match b {
                b'\n' | b'\r' => return,
                0xe2 if self.at(self.i + 1) == 0x80
                    && matches!(self.at(self.i + 2), 0xa8 | 0xa9) =>
                {
                    return;
                }
                _ => self.i += 1,
            }
        }
    }

    fn block_comment(&mut self) -> Option<()> {
        self.i += 2;
        loop {
            match *self.src.get(self.i)? {
                b'*' if self.at(self.i + 1) == b'/' => {
                    self.i += 2;
                    return Some(());
                }
                b'\n' => self.row += 1,
                _ => {}
            }
            self.i += 1;
        }
    }

    fn regex(&mut self) -> Option<()> {
        self.begin();
        self.decl_step(Tok::Other);
        self.i += 1;
        let mut class = false;
        loop {
            match *self.src.get(self.i)? {
                b'\n' | b'\r' => return None,
                b'\\' => {
                    if matches!(self.at(self.i + 1), b'\n' | b'\r' | 0) {
                        return None;
                    }
                    self.i += 2;
                    continue;
                }
                b'[' => class = true,
                b']' => class = false,
                b'/' if !class => {
                    self.i += 1;
                    break;
                }
                _ => {}
            }
            self.i += 1;
        }
        while is_word_byte(self.at(self.i)) {
            self.i += 1;
        }
        self.after(false, false, false);
        Some(())
    }

    fn string(&mut self, quote: u8) -> Option<()> {
        self.begin();
        let start = self.i;
        let start_row = self.row;
        self.i += 1;
        loop {
            match *self.src.get(self.i)? {
                b if b == quote => {
                    self.i += 1;
                    break;
                }
                b'\\' => match self.at(self.i + 1) {
                    b'\r' if self.at(self.i + 2) == b'\n' => {
                        self.i += 3;
                        self.row += 1;
                    }
                    b'\n' => {
                        self.i += 2;
                        self.row += 1;
                    }
                    0 if self.i + 1 >= self.src.len() => return None,
                    _ => self.i += 2,
                },
                b'\n' | b'\r' => return None,
                _ => self.i += 1,
            }
        }
        if self.row > start_row {
            self.lines.span(self.src, start, self.i, start_row);
        }
        self.decl_step(Tok::Str(self.i));
        self.after(false, false, true);
        Some(())
    }

    /// The text of a template literal from `self.i`, after the `` ` `` or the `}` at
    /// `piece_start`: to the closing `` ` `` or the next `${`.
    fn template(&mut self, piece_start: usize) -> Option<()> {
        let piece_row = self.row;
        loop {
            match *self.src.get(self.i)? {
                b'`' => {
                    self.i += 1;
                    self.lines.span(self.src, piece_start, self.i, piece_row);
                    self.after(false, false, false);
                    return Some(());
                }
                b'\\' => {
                    match self.at(self.i + 1) {
                        b'\n' => self.row += 1,
                        0 if self.i + 1 >= self.src.len() => return None,
                        _ => {}
                    }
                    self.i += 2;
                }
                b'$' if self.at(self.i + 1) == b'{' => {
                    self.i += 2;
                    self.lines.span(self.src, piece_start, self.i, piece_row);
                    self.frames.push(Frame::new(b'$'));
                    self.after(true, true, false);
                    return Some(());
                }
                b'\n' => {
                    self.row += 1;
                    self.i += 1;
                }
                _ => self.i += 1,
            }
        }
    }

    fn number(&mut self) {
        self.begin();
        self.decl_step(Tok::Other);
        let hex = self.at(self.i) == b'0' && matches!(self.at(self.i + 1), b'x' | b'X');
        self.i += 1;
        loop {
            match self.at(self.i) {
                b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'.' => self.i += 1,
                b'+' | b'-' if !hex && matches!(self.at(self.i - 1), b'e' | b'E') => self.i += 1,
                _ => break,
            }
        }
        self.after(false, false, true);
    }

    /// Skips the rest of a word from `self.i`; `None` on a `\` escape or a character that
    /// cannot be in a word.
    fn skip_word(&mut self) -> Option<()> {
        loop {
            let b = self.at(self.i);
            if is_word_byte(b) {
                self.i += 1;
            } else if b == b'\\' {
                return None;
            } else if b >= 0x80 {
                let (c, len) = decode(self.src, self.i)?;
                if is_unicode_word(c) {
                    self.i += len;
                } else if is_unicode_space(c) {
                    return Some(());
                } else {
                    return None;
                }
            } else {
                return Some(());
            }
        }
    }

    /// Whether the statement keyword just read (ending at `self.i`) is a property name.
    fn keyword_is_name(&self, dot: bool) -> bool {
        if dot || self.frames.last().is_some_and(|f| f.members) {
            return true;
        }
        let j = self.next_sig(self.i);
        match self.at(j) {
            b':' | b'?' | b',' | b'}' => true,
            b'=' => !matches!(self.at(j + 1), b'=' | b'>'),
            _ => false,
        }
    }

    fn word(&mut self) -> Option<()> {
        self.begin();
        let start = self.i;
        let dot = self.dot;
        self.skip_word()?;
        let src = self.src;
        let w = &src[start..self.i];
        self.decl_step(Tok::Word(w));
        if dot {
            self.after(false, false, true);
            return Some(());
        }
        // (re_ok, obj) after the word; a plain identifier allows neither.
        let mut next = (false, false);
        match w {
            b"if" | b"for" | b"while" | b"with" if !self.keyword_is_name(dot) => {
                let depth = self.frames.len();
                if w == b"while" && self.dos.last() == Some(&depth) {
                    self.dos.pop();
                } else if w != b"with" {
                    self.complexity = self.complexity.saturating_add(1);
                }
                self.cond_next = true;
            }
            b"do" if !self.keyword_is_name(dot) => {
                self.complexity = self.complexity.saturating_add(1);
                self.dos.push(self.frames.len());
                next = (true, false);
            }
            b"case" | b"catch" if !self.keyword_is_name(dot) => {
                self.complexity = self.complexity.saturating_add(1);
                next = (w == b"case", w == b"case");
            }
            b"class" if !self.keyword_is_name(dot) => self.frame().heading = true,
            b"interface" if self.ts && !self.keyword_is_name(dot) => self.frame().heading = true,
            b"extends" if self.ts => {
                let f = self.frame();
                // Not the heading's own `extends` (a constraint in its type parameters is),
                // and not one inside the type arguments of an earlier `extends`
                // (`X extends Y<infer U extends Z> ? …`: the depth stays the outer one's).
                if (!f.heading || f.heading_angles > 0) && f.extends == 0 {
                    f.pending = f.pending.saturating_add(1);
                }
                next = (true, true);
            }
            b"else" => next = (true, false),
            b"return" | b"typeof" | b"instanceof" | b"in" | b"of" | b"new" | b"delete"
            | b"throw" | b"yield" | b"await" | b"default" => next = (true, true),
            // `void` may end a return type: `(): void {` opens a body.
            b"void" => next = (true, false),
            b"import" if !self.region_open() => {
                self.start_decl(Decl::ImportStart, start);
            }
            b"export" if !self.region_open() => {
                self.start_decl(Decl::Export, start);
            }
            b"require" if !self.region_open() => {
                self.call_next = true;
                self.reg_start = start;
                self.reg_row = self.row;
            }
            _ => {}
        }
        self.after(next.0, next.1, true);
        Some(())
    }

    fn open(&mut self, b: u8) {
        let call = self.begin();
        self.decl_step(Tok::Open(b));
        // `decl_step` may ask for a region ending with this parenthesis.
        let call = call || std::mem::take(&mut self.call_next);
        let mut frame = Frame::new(b);
        match b {
            b'(' => {
                frame.cond = std::mem::take(&mut self.cond_next);
                if call && !self.call_open {
                    frame.region = true;
                    self.call_open = true;
                }
            }
            b'{' => {
                // `import … with {`: no condition follows.
                self.cond_next = false;
                let obj = self.obj;
                let outer = self.frame();
                if outer.heading && !obj {
                    // A class or interface body.
                    outer.heading = false;
                    frame.members = true;
                } else {
                    frame.members = obj || outer.heading;
                }
            }
            _ => {}
        }
        self.frames.push(frame);
        self.i += 1;
        self.after(true, b != b'{', false);
    }

    fn close(&mut self, b: u8) -> Option<()> {
        if self.frames.len() < 2 {
            return None;
        }
        let frame = self.frames.pop()?;
        let expected = match frame.open {
            b'(' => b')',
            b'[' => b']',
            _ => b'}',
        };
        if b != expected {
            return None;
        }
        let depth = self.frames.len();
        while self.dos.last().is_some_and(|&d| d > depth) {
            self.dos.pop();
        }
        if frame.open == b'$' {
            // The end of a template substitution: the template goes on.
            self.begin();
            let start = self.i;
            self.i += 1;
            return self.template(start);
        }
        if frame.jsx {
            // The end of a JSX expression container or attribute value: the markup goes on.
            self.begin();
            self.i += 1;
            return Some(());
        }
        self.begin();
        self.decl_step(Tok::Close);
        self.i += 1;
        if frame.region {
            self.call_open = false;
            self.emit(self.i);
        }
        match b {
            b')' => self.after(frame.cond, false, false),
            b']' => self.after(false, false, true),
            _ => self.after(true, false, false),
        }
        Some(())
    }

    /// Skips spaces (and, in a tag, comments) in JSX markup.
    fn jsx_space(&mut self) -> Option<()> {
        loop {
            match self.at(self.i) {
                b'\n' => {
                    self.row += 1;
                    self.i += 1;
                }
                b' ' | b'\t' | b'\r' | 0x0b | 0x0c => self.i += 1,
                b'/' if self.at(self.i + 1) == b'/' => self.line_comment(),
                b'/' if self.at(self.i + 1) == b'*' => self.block_comment()?,
                _ => return Some(()),
            }
        }
    }

    /// A JSX tag or attribute name (`div`, `Foo.Bar`, `svg:rect`, `data-x`); `None` when
    /// there is none.
    fn jsx_name(&mut self) -> Option<()> {
        let start = self.i;
        while matches!(self.at(self.i), b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'$' | b'.' | b':' | b'-')
        {
            self.i += 1;
        }
        (self.i > start).then_some(())
    }

    /// A brace in JSX markup: an attribute value, a spread attribute, an expression
    /// container.
    fn jsx_brace(&mut self) {
        self.begin();
        self.i += 1;
        let mut frame = Frame::new(b'{');
        frame.jsx = true;
        self.frames.push(frame);
        self.after(true, true, false);
    }

    /// A JSX element or fragment at the `<` at `self.i` (where an expression may start).
    fn jsx_element(&mut self) -> Option<()> {
        self.begin();
        self.decl_step(Tok::Other);
        self.i += 1;
        self.jsx_space()?;
        self.begin();
        if self.at(self.i) == b'>' {
            self.i += 1;
            self.frames.push(Frame::new(CHILDREN));
        } else {
            self.jsx_name()?;
            self.frames.push(Frame::new(TAG));
        }
        Some(())
    }

    /// One step in an opening tag: an attribute, its end (`>` or `/>`).
    fn jsx_tag(&mut self) -> Option<()> {
        self.jsx_space()?;
        match self.at(self.i) {
            b'/' => {
                self.begin();
                self.i += 1;
                self.jsx_space()?;
                if self.at(self.i) != b'>' {
                    return None;
                }
                self.begin();
                self.i += 1;
                self.frames.pop();
                self.jsx_done();
            }
            b'>' => {
                self.begin();
                self.i += 1;
                self.frame().open = CHILDREN;
            }
            b'{' => self.jsx_brace(),
            _ => {
                self.begin();
                self.jsx_name()?;
                self.jsx_space()?;
                if self.at(self.i) == b'=' {
                    self.begin();
                    self.i += 1;
                    self.jsx_space()?;
                    match self.at(self.i) {
                        q @ (b'"' | b'\'') => self.jsx_string(q)?,
                        b'{' => self.jsx_brace(),
                        b'<' => self.jsx_element()?,
                        _ => return None,
                    }
                }
            }
        }
        Some(())
    }

    /// A JSX attribute string: no escapes, rows may break.
    fn jsx_string(&mut self, quote: u8) -> Option<()> {
        self.begin();
        let (start, row) = (self.i, self.row);
        self.i += 1;
        loop {
            match *self.src.get(self.i)? {
                b if b == quote => break,
                b'\n' => self.row += 1,
                _ => {}
            }
            self.i += 1;
        }
        self.i += 1;
        if self.row > row {
            self.lines.span(self.src, start, self.i, row);
        }
        Some(())
    }

    /// One step in an element's children: text, then an expression container, a child
    /// element or the closing tag.
    fn jsx_children(&mut self) -> Option<()> {
        let (start, row) = (self.i, self.row);
        loop {
            match *self.src.get(self.i)? {
                b'<' | b'{' => break,
                b'>' | b'}' => return None,
                b'\n' => self.row += 1,
                _ => {}
            }
            self.i += 1;
        }
        if self.i > start {
            // Text: a leaf of the tree (quotes and `//` in it are plain text).
            self.lines.span(self.src, start, self.i, row);
        }
        if self.at(self.i) == b'{' {
            self.jsx_brace();
            return Some(());
        }
        let (open, open_row) = (self.i, self.row);
        self.i += 1;
        self.jsx_space()?;
        if self.at(self.i) != b'/' {
            self.i = open;
            self.row = open_row;
            return self.jsx_element();
        }
        self.lines.row(open_row);
        self.begin();
        self.i += 1;
        self.jsx_space()?;
        if self.at(self.i) != b'>' {
            self.begin();
            self.jsx_name()?;
            self.jsx_space()?;
        }
        if self.at(self.i) != b'>' {
            return None;
        }
        self.begin();
        self.i += 1;
        self.frames.pop();
        self.jsx_done();
        Some(())
    }

    /// An element ended: the markup around it goes on, or the code.
    fn jsx_done(&mut self) {
        if !matches!(self.frames.last().map(|f| f.open), Some(TAG | CHILDREN)) {
            self.after(false, false, false);
        }
    }

    fn question(&mut self) -> Option<()> {
        let (n1, n2) = (self.at(self.i + 1), self.at(self.i + 2));
        if n1 == b'?' {
            if n2 == b'=' {
                self.op(3, true, true);
            } else {
                self.complexity = self.complexity.saturating_add(1);
                self.op(2, true, true);
            }
            return Some(());
        }
        if n1 == b'.' && !n2.is_ascii_digit() {
            self.op(2, false, false);
            self.dot = true;
            return Some(());
        }
        let next = self.at(self.next_sig(self.i + 1));
        let mark = matches!(next, b':' | b',' | b')' | b']' | b';' | b'=');
        if mark && !self.ts {
            // An optional mark in JavaScript: Flow, or a syntax error.
            return None;
        }
        let counted = !self.ts || {
            let adjacent_call =
                matches!(n1, b'(' | b'<') && self.name_like && self.prev_end == self.i;
            let f = self.frame();
            if mark || adjacent_call {
                false
            } else if f.pending > 0 && f.extends == 0 {
                // A conditional type; a chained one has its own `extends`.
                f.pending -= 1;
                false
            } else if f.pending > 0 {
                // A conditional type nested in the type arguments of an `extends` clause
                // (types hold no conditional expressions).
                false
            } else {
                true
            }
        };
        if counted {
            self.complexity = self.complexity.saturating_add(1);
        }
        self.op(1, true, true);
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deps::extract::{Language, extract_full};

    fn dialect_of(path: &str) -> Dialect {
        if path.ends_with(".tsx") {
            Dialect::Tsx
        } else if path.ends_with(".ts") || path.ends_with(".mts") || path.ends_with(".cts") {
            Dialect::TypeScript
        } else {
            Dialect::JavaScript
        }
    }

    /// The texts of the regions.
    fn texts<'s>(src: &'s str, lexed: &Lexed) -> Vec<&'s str> {
        lexed.regions.iter().map(|r| &src[r.start..r.end]).collect()
    }

    fn lx(path: &str, src: &str) -> Lexed {
        lex(src.as_bytes(), dialect_of(path)).unwrap_or_else(|| panic!("{path}: None\n{src}"))
    }

    /// `(lines, complexity, region texts)` of a file.
    fn summary<'s>(path: &str, src: &'s str) -> (u32, u32, Vec<&'s str>) {
        let l = lx(path, src);
        let t = texts(src, &l);
        (l.lines, l.complexity, t)
    }

    /// Checks the scanner against the full parse; whether the scanner took the file.
    fn agree(path: &str, src: &str) -> bool {
        let lang = Language::of_path(path).unwrap();
        let Some(lexed) = lex(src.as_bytes(), dialect_of(path)) else {
            return false;
        };
        let full = extract_full(path, lang, src.as_bytes()).unwrap();
        assert_eq!(
            (lexed.lines, lexed.complexity),
            (full.lines, full.complexity),
            "{path}: (lines, complexity) of the scanner vs the tree\n{src}"
        );
        check_regions(src.as_bytes(), &lexed);
        for import in &full.imports {
            let row = import.line as usize - 1;
            assert!(
                lexed.regions.iter().any(|r| {
                    let end_row = src.as_bytes()[..r.end]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count();
                    (r.row as usize) <= row && row <= end_row
                }),
                "{path}: the import {import:?} is in no region {:?}\n{src}",
                texts(src, &lexed)
            );
        }
        true
    }

    /// Regions are in order, do not overlap, lie in the source and name their row.
    fn check_regions(src: &[u8], lexed: &Lexed) {
        let mut last = 0;
        for r in &lexed.regions {
            assert!(
                last <= r.start && r.start < r.end && r.end <= src.len(),
                "{r:?}"
            );
            let row = src[..r.start].iter().filter(|&&b| b == b'\n').count();
            assert_eq!(r.row as usize, row, "{r:?}");
            assert!(!r.type_only);
            last = r.end;
        }
    }

    #[test]
    fn regex_or_division_by_the_previous_token() {
        // A division after a name, a number and `)`; a regex after `=`, `(`, `return`.
        let src = "const a = b / c / d;\nconst e = (f) / 2 / g;\nconst r = /\"['/]/g.test(s);\nfunction h() { return /x\\/y/; }\nconst q = 10 / 2; // \"\nif (x) /a|b/.exec(y);\n";
        assert_eq!(summary("a.js", src), (6, 2, vec![]));
        // A quote in a class or after an escaped slash belongs to the regex.
        let src = "const s = x.split(/[/'\"]/);\nconst t = `${s}`;\n";
        assert_eq!(summary("a.ts", src), (2, 1, vec![]));
        // An unterminated regex (a division guessed wrong) hands the file to the parser.
        assert_eq!(lex(b"a = {} / 2;\n", Dialect::JavaScript), None);
    }

    #[test]
    fn templates_nest_substitutions_to_any_depth() {
        let src = "const a = `x ${b ? `y ${c && `z ${'}'}`}` : \"{\"} w`;\nconst m = `multi\n\n  line ${ {a: 1}.a }\n`;\nrequire('./after');\n";
        assert_eq!(summary("a.js", src), (5, 3, vec!["require('./after')"]));
        assert_eq!(lex(b"`${a`", Dialect::JavaScript), None);
        assert_eq!(lex(b"`${a}", Dialect::JavaScript), None);
        assert_eq!(
            lex(b"`${a}}`", Dialect::JavaScript),
            Some(Lexed {
                lines: 1,
                complexity: 1,
                regions: vec![]
            })
        );
    }

    #[test]
    fn comments_and_strings_hold_no_import() {
        let src = "// import a from './a';\n/* require('./b')\n import('./c') */\nconst s = \"require('./d')\";\nconst t = 'import x from \"./e\"';\nconst u = `export * from './f'`;\n";
        assert_eq!(summary("a.ts", src), (3, 1, vec![]));
    }

    #[test]
    fn imports_reexports_and_calls_are_regions() {
        let src = "import a from './a';\nimport './side'\nimport {b,\n  c as d} from \"./bc\";\nimport type {T} from './t';\nimport * as ns from 'ns';\nimport from from 'from';\nimport x = require('./x');\nimport type y = require('./y');\nexport * from './s';\nexport * as n from './n';\nexport {e, f as g} from './e';\nexport type {U} from './u';\nexport {h};\nexport const i = require('./i');\nexport default import('./j');\nconst k = import.meta.url;\nconst l = o.require('no');\nconst m = o?.require('no');\nrequire(require('./inner'));\n";
        assert_eq!(
            summary("a.ts", src).2,
            vec![
                "import a from './a'",
                "import './side'",
                "import {b,\n  c as d} from \"./bc\"",
                "import type {T} from './t'",
                "import * as ns from 'ns'",
                "import from from 'from'",
                "import x = require('./x')",
                "import type y = require('./y')",
                "export * from './s'",
                "export * as n from './n'",
                "export {e, f as g} from './e'",
                "export type {U} from './u'",
                "require('./i')",
                "import('./j')",
                "require(require('./inner'))",
            ]
        );
        let l = lx("a.ts", src);
        assert_eq!(l.regions[2].row, 2);
        assert_eq!(l.regions[3].row, 4);
        assert!(agree("a.ts", src));
    }

    #[test]
    fn keywords_as_property_names_are_not_decision_points() {
        let src = "p.catch(e => e).finally(f);\nq?.catch(g);\nconst o = { case: 1, if: 2, for: 3, while() {}, do: 4, catch(e) {} };\nx.if = y.for + z.while;\nclass C { catch(e) { return e; } if() {} }\nexport default { catch() {}, for() {} };\n";
        assert_eq!(summary("a.ts", src), (6, 1, vec![]));
        assert!(agree("a.ts", src));
        assert!(agree("a.js", src));
    }

    #[test]
    fn the_while_of_a_do_while_is_not_a_loop() {
        let src = "do { x++; } while (x < 3);\ndo y(); while (z);\ndo { while (a) { b(); } } while (c);\nwhile (d) {}\n";
        // 1 + 3 do + 2 while
        assert_eq!(summary("a.js", src), (4, 6, vec![]));
        assert!(agree("a.js", src));
    }

    #[test]
    fn decision_points_and_boolean_operators() {
        let src = "if (a && b || c ?? d) {}\nfor (;;) {}\nfor (const k in o) {}\nfor (const v of l) {}\nswitch (x) { case 1: break; case 2: break; default: }\ntry { f(); } catch (e) {} finally {}\nx &&= 1; y ||= 2; z ??= 3;\nconst t = a ? b : c;\nconst u = a?.b ?? c;\n";
        // 1 + if + && + || + ?? + 3 for + 2 case + catch + ternary + ??
        assert_eq!(summary("a.js", src).1, 13);
        assert!(agree("a.js", src));
        assert!(agree("a.ts", src));
        // `?.` before a digit is a `?` (tree-sitter-typescript does not parse it).
        assert_eq!(summary("a.js", "const w = a?.5:1;\n").1, 2);
        assert!(agree("a.js", "const w = a?.5:1;\n"));
    }

    #[test]
    fn typescript_optional_marks_and_conditional_types_are_not_ternaries() {
        let src = "interface I { a?: number; m?(): void; n?<T>(x: T): T; }\ntype M<T> = { [K in keyof T]-?: T[K] };\ntype P<T> = { +readonly [K in keyof T]+?: T[K] };\ntype C<T> = T extends string ? 'a' : T extends number ? 'b' : never;\ntype D<T extends object = {}> = T;\nfunction f(a?: number, b?, c = a ? 1 : 2): void {}\nclass K { x?: string; y? = 1; m?(): void; }\ntype Tup = [a?: string, b?];\nconst g = <T extends unknown>(x: T) => (x ? 1 : 2);\ntype U<T> = T extends (infer V)[] ? V : T extends Array<infer W> ? W : never;\nconst h = cond ? (a) : b;\n";
        // 1 + `c = a ? 1 : 2` + `x ? 1 : 2` + `cond ? (a) : b`
        assert_eq!(summary("a.ts", src).1, 4);
        assert!(agree("a.ts", src));
    }

    #[test]
    fn a_body_after_a_return_type_is_a_block() {
        // `void`, a name, `]`, `>` or a type literal before `{`: the keywords in the body
        // count (an object literal's would not).
        let src = "function f(): void { if (a) {} }\nclass A { m(): void { for (;;) {} } n(): string[] { while (b) {} } }\nconst o = { p(): Promise<void> { do {} while (c); }, q(): { r: 1 } { switch (d) { case 1: } } };\n";
        assert_eq!(summary("a.ts", src), (3, 6, vec![]));
        assert!(agree("a.ts", src));
    }

    /// TypeScript idioms, one file each.
    const TS_IDIOMS: &[&str] = &[
        r#"const f = <T extends object>(x: T): T extends string ? 1 : 2 => (x ? 1 : 2) as any;"#,
        r#"type G<T = X extends Y ? 1 : 2> = T;"#,
        "interface Call<F extends Function, R = F extends (...a: any) => infer T ? T\n    : F extends abstract new(...a: any) => infer T ? T\n    : unknown> extends Base<F> { t: F extends Function ? F : undefined; m<O extends object>(o: O): O[keyof O] extends Function ? 1 : never; }",
        "class Box<T extends object = T extends string ? {} : object> extends Base<T> implements I { v = this.x ? 1 : 2; }",
        "type R<O, D> = O extends Opts<infer T extends Date> ? T : D extends Date ? D : O extends Map<infer K extends string, V extends 1 ? 2 : 3> ? K : never;",
        "type Eq<T, U> = (<V>() => V extends T ? 1 : 2) extends <V>() => V extends U ? 1 : 2 ? true : false;\nconst z = a ? b : c;",
        r#"function g<T>(x: T extends string ? 1 : 2, y?: number) { return y ? x : 0; }"#,
        r#"const u = useCallback<(a?: number) => void>((a) => a && b(), []);"#,
        r#"let x: typeof import('./m') = a!.b ? a! : b;"#,
        r#"for (const [k, v] of Object.entries(o)) if (k) continue;"#,
        r#"const v = a?.(b) ? a?.[c] : d?.e;"#,
        r#"abstract class H { declare x?: number; override m?(): void; accessor y = 1; static { if (z) w(); } }"#,
        r#"namespace N { export const a = b ? 1 : 2; export namespace M {} }"#,
        r#"enum E { A = 1 << 0, B = A | 2, C = 'c'.length }"#,
        r#"declare module 'x' { import y = require('z'); export = y; }"#,
        r#"function isS(x: unknown): x is string { return typeof x === 'string' || x instanceof String; }"#,
        r#"const w = <const T,>(x: T) => x;"#,
        r#"const o = { a: 1 } satisfies Record<string, number>;"#,
        r#"export default class extends Base { if() { return this.case ? 1 : 2; } }"#,
        r#"function h(this: Window, ...rest: any[]): asserts this is Window { while (rest.length) rest.pop(); }"#,
        r#"type Fn = new (...args: any[]) => object;"#,
        r#"let t: [a: string, b?: number, ...rest: boolean[]];"#,
        r#"label: while (true) { do { continue label; } while (false); }"#,
        r#"const re = x ? /a/ : /b/g;"#,
        r#"x = y / z / w; x /= 2; x = a++ / 2;"#,
        r#"async function* gen() { for await (const x of src) yield x; }"#,
        r#"const q = cond
  ? a
  : b;"#,
        r#"type Getters<T> = { [K in keyof T as `get${Capitalize<string & K>}`]: () => T[K] };"#,
        r#"function over(a: string): void;
function over(a: number): void;
function over(a: any) { if (a) {} }"#,
        r#"const big = 123n * 0x1Fn + 1_000.5e-3;"#,
        r#"import json from './data.json' with { type: 'json' };
if (a) b(); f(a) / 2;"#,
    ];

    #[test]
    fn typescript_idioms_agree_with_the_tree() {
        for src in TS_IDIOMS {
            let full = extract_full("a.ts", Language::TypeScript, src.as_bytes()).unwrap();
            assert_eq!(full.first_error_line, None, "{src}");
            assert!(agree("a.ts", src), "not taken: {src}");
        }
    }

    #[test]
    fn jsx_markup_is_read_as_markup() {
        let src = "import React from 'react';\nconst f = () => (\n  <div className=\"a\" id={x ? 1 : 2}>\n    it's // not a comment, if (x) \"nor a string\n    {/* c */}\n    {a && <b/>}\n\n    <Foo.Bar {...props} data-x='y' disabled>text &amp; more</Foo.Bar>\n    {list.map((i) => <li key={i}>{require('./i')}</li>)}\n  </div>\n);\nconst g = <></>;\nconst s = <a title=\"multi\n\nline\" b=<c/>>x</a>;\nif (y) <a/>;\nconst h = a < b ? <c /> : null;\n";
        // Every row but the blank ones (the one in the attribute string too); 1 + `?` + `&&`
        // + `if` + `?`.
        let expected = (15, 5, vec!["import React from 'react'", "require('./i')"]);
        assert_eq!(summary("a.jsx", src), expected);
        assert_eq!(summary("a.tsx", src), expected);
        assert!(agree("a.jsx", src));
        assert!(agree("a.tsx", src));
    }

    #[test]
    fn unusual_jsx_hands_the_file_to_the_parser_but_typescript_has_none() {
        for src in [
            "const f = <T,>(x: T) => x;\n",
            "const a = <Foo<T> x={1} />;\n",
            "const a = <div>{x}</div\n",
            "const a = <div>a > b</div>;\n",
            "const a = <div x=1 />;\n",
            "const a = <!-- x -->;\n",
        ] {
            assert_eq!(lex(src.as_bytes(), Dialect::Tsx), None, "{src}");
        }
        // A type assertion and generics in TypeScript; comparisons everywhere.
        let src = "const a = <T>b;\nconst c = f<T>(d) < e;\n";
        assert_eq!(summary("a.ts", src), (2, 1, vec![]));
        assert!(agree("a.ts", src));
        assert!(lex(b"if (a < b) c();\n", Dialect::Tsx).is_some());
    }

    #[test]
    fn lines_of_code_follow_the_tree() {
        // Comments and blank lines do not count; every non-blank row of a template does;
        // a hashbang is code; a line continuation spans rows.
        let src = "#!/usr/bin/env node\n// c\n\n/* a\n b */ const a = 1;\nconst t = `\n\n  x\n`;\nconst s = 'a\\\nb';\nf(a, // c\n  b);\n";
        assert_eq!(summary("a.js", src).0, 9);
        assert!(agree("a.js", src));
    }

    #[test]
    fn broken_input_is_refused() {
        for src in [
            "f(",
            "f)",
            "{]",
            "'abc",
            "'a\nb'",
            "`abc",
            "/* x",
            "a = /x\n/",
            "a = /x",
            "\\u0061 = 1",
            "<!-- x",
            "x --> y",
            "a = \u{1}",
            "#",
            "@#",
        ] {
            assert_eq!(lex(src.as_bytes(), Dialect::TypeScript), None, "{src:?}");
        }
        // Flow and TypeScript's optional marks in JavaScript.
        for src in [
            "// @flow\nconst a = 1;\n",
            "function f(a?: number) {}\n",
            "f(a?, b);\n",
        ] {
            assert_eq!(lex(src.as_bytes(), Dialect::JavaScript), None, "{src:?}");
            assert!(
                lex(src.as_bytes(), Dialect::TypeScript).is_some(),
                "{src:?}"
            );
        }
    }

    /// Realistic files: `(path, source)`.
    const FILES: &[(&str, &str)] = &[
        (
            "src/store.ts",
            r#"import { EventEmitter } from 'events';
import type { Config, Entry } from './types';
import * as path from "node:path";
import defaultLogger, { type Logger, levels } from './log';

export * from './types';
export { parse as parseConfig } from './config';
export type { Entry as StoreEntry } from './types';

/** A generic store with optional hooks. */
export interface Hooks<T> {
    onSet?(key: string, value: T): void;
    onDelete?: (key: string) => void;
    readonly name?: string;
    [extra: string]: unknown;
}

type Maybe<T> = T | null | undefined;
type Unwrap<T> = T extends Promise<infer U> ? Unwrap<U> : T;
type Keys<T> = { [K in keyof T]-?: T[K] extends Function ? never : K }[keyof T];
type Partialish<T> = { +readonly [K in keyof T]+?: T[K] };
type Pair = [first: string, second?: number];

enum Level { Debug = 1, Info, Warn = Debug << 3 }

export abstract class Store<T extends object = {}> extends EventEmitter implements Iterable<T> {
    private readonly items = new Map<string, T>();
    protected hooks?: Hooks<T>;
    #count = 0;
    static instances = 0;

    constructor(private readonly config: Config, logger?: Logger) {
        super();
        Store.instances++;
        this.log = logger ?? defaultLogger;
    }

    log: Logger;

    get size(): number {
        return this.#count;
    }

    set(key: string, value: T): this {
        if (!key) {
            throw new Error(`empty key for ${this.config.name}`);
        } else if (key.length > 255 && !this.config.allowLong) {
            throw new RangeError('key too long: ' + key.slice(0, 10) + '...');
        }
        this.items.set(key, value);
        this.#count += 1;
        this.hooks?.onSet?.(key, value);
        return this;
    }

    async load(file: string): Promise<Entry[]> {
        const mod = await import('./loaders/' + path.extname(file).slice(1));
        try {
            const entries: Entry[] = await mod.default(file);
            for (const entry of entries) {
                if (entry.kind === 'skip') continue;
                this.set(entry.key, entry.value as unknown as T);
            }
            return entries;
        } catch (err: unknown) {
            this.log.warn(`cannot load ${file}: ${err instanceof Error ? err.message : String(err)}`);
            return [];
        } finally {
            this.emit('loaded', file);
        }
    }

    *[Symbol.iterator](): Iterator<T> {
        for (const value of this.items.values()) yield value;
    }

    abstract validate(value: T): value is T;

    protected pick<K extends keyof T>(value: T, ...keys: K[]): Pick<T, K> {
        const out = {} as Pick<T, K>;
        outer: for (let i = 0; i < keys.length; i++) {
            let j = 0;
            while (j < i) {
                if (keys[j] === keys[i]) continue outer;
                j++;
            }
            out[keys[i]] = value[keys[i]];
        }
        return out;
    }
}

export function levelName(level: Level): string {
    switch (level) {
        case Level.Debug:
            return 'debug';
        case Level.Info:
        case Level.Warn: {
            const name = Level[level];
            return name.toLowerCase();
        }
        default:
            return levels[level] || 'unknown';
    }
}

export const isPair = (x: unknown): x is Pair =>
    Array.isArray(x) && typeof x[0] === 'string' && (x.length === 1 || typeof x[1] === 'number');

declare module './types' {
    interface Config {
        allowLong?: boolean;
    }
}

declare global {
    interface Window { __store?: Store<any>; }
}
"#,
        ),
        (
            "src/http/client.ts",
            r#"import fetch, { Headers, type RequestInit } from 'node-fetch';
import { retry } from '../util/retry';
import config = require('../../config.json');

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json(?:;.*)?$/i;
const TRAILING = /\/+$/;

export interface ClientOptions {
    baseUrl: string;
    timeoutMs?: number;
    headers?: Record<string, string>;
    onError?(error: Error, attempt: number): boolean;
}

export class HttpError extends Error {
    constructor(public readonly status: number, message?: string) {
        super(message ?? `HTTP ${status}`);
    }
}

export class Client {
    private readonly base: string;

    constructor(private readonly options: ClientOptions) {
        this.base = options.baseUrl.replace(TRAILING, '');
    }

    async get<T = unknown>(url: string, init: RequestInit = {}): Promise<T> {
        const headers = new Headers({ ...this.options.headers, ...(init.headers as object) });
        const timeout = this.options.timeoutMs ?? config.timeoutMs ?? 10_000;
        const response = await retry(() => fetch(`${this.base}/${url.replace(/^\//, '')}`, { ...init, headers, timeout }), {
            attempts: 3,
            delay: (n: number) => n * 250 / 2,
            shouldRetry: (e: Error, n: number) => this.options.onError?.(e, n) ?? n < 3,
        });
        if (response.status >= 400 || !response.ok) {
            throw new HttpError(response.status, await response.text().catch(() => undefined));
        }
        const type = response.headers.get('content-type') || '';
        return (JSON_TYPE.test(type) ? response.json() : response.text()) as Promise<T>;
    }

    post = async <T,>(url: string, body: unknown): Promise<T | undefined> => {
        const res = await this.get<T>(url, { method: 'POST', body: JSON.stringify(body) })
            .then((r) => r)
            .catch((e: unknown) => {
                if (e instanceof HttpError && e.status === 404) return undefined;
                throw e;
            });
        return res;
    };
}

export default function createClient(options: Partial<ClientOptions> = {}): Client {
    const merged: ClientOptions = { baseUrl: 'http://localhost', ...options };
    return new Client(merged);
}

export const lazyAuth = () => import('./auth').then((m) => m.default);
"#,
        ),
        (
            "src/util/math.mts",
            r#"// Numeric helpers.
/* eslint-disable no-bitwise */
export const MAX = 0xff_ff;
export const EPS = 1e-9;
export const BIG = 12_345n;
export const HALF = .5;
export const BIN = 0b1010, OCT = 0o17;

export function clamp(x: number, lo = 0, hi = 1): number {
    return x < lo ? lo : x > hi ? hi : x;
}

export function gcd(a: bigint, b: bigint): bigint {
    while (b !== 0n) [a, b] = [b, a % b];
    return a;
}

export function mean(xs: readonly number[]): number | undefined {
    if (xs.length === 0) return undefined;
    let total = 0;
    let i = 0;
    do {
        total += xs[i] ?? 0;
        i++;
    } while (i < xs.length);
    return total / xs.length;
}

export const ratio = (a: number, b: number) => a / b / 2;
export const flags = (x: number) => (x & 1) | ((x >> 1) & 2) | (x >>> 31);
export const hypot = (a: number, b: number) => Math.sqrt(a ** 2 + b ** 2);

export type Numeric<T> = T extends number | bigint ? T : never;
export type Tuple<N extends number, T extends unknown[] = []> = T['length'] extends N ? T : Tuple<N, [...T, unknown]>;

let counter = 0;
counter ||= 1;
counter &&= counter << 2;
counter ??= 3;
const label = counter > 2 && counter < 10 ? 'small' : counter >= 10 ? 'big' : 'none';
export { label, counter as count };
"#,
        ),
        (
            "lib/legacy.js",
            r#"#!/usr/bin/env node
'use strict';

const fs = require('fs');
const { join } = require("path");
const pkg = require(`./package.json`);
const optional = (() => {
    try {
        return require('optional-dep');
    } catch (e) {
        return null;
    }
})();

/**
 * Reads the configuration.
 * @param {string} dir
 */
function readConfig(dir) {
    var file = join(dir, '.configrc');
    if (!fs.existsSync(file)) return {};
    var text = fs.readFileSync(file, 'utf8');
    var lines = text.split(/\r?\n/);
    var out = {};
    for (var i = 0; i < lines.length; i++) {
        var line = lines[i].replace(/#.*$/, '').trim();
        if (!line) continue;
        var eq = line.indexOf('=');
        out[line.slice(0, eq)] = eq < 0 ? true : line.slice(eq + 1);
    }
    return out;
}

function Cache(limit) {
    if (!(this instanceof Cache)) return new Cache(limit);
    this.limit = limit || 100;
    this.map = Object.create(null);
}

Cache.prototype.get = function (key) {
    return key in this.map ? this.map[key] : void 0;
};

Cache.prototype.delete = function (key) {
    delete this.map[key];
};

var handlers = {
    default: function () { return 'd'; },
    case: 1,
    if: 2,
    catch(e) { return e; },
    'quoted-key': "it's",
};

module.exports = {
    readConfig: readConfig,
    Cache: Cache,
    version: pkg.version,
    handlers: handlers,
    hasOptional: optional !== null && typeof optional === 'object',
    load: function (name) {
        switch (typeof name) {
            case 'string':
                return require('./plugins/' + name);
            default:
                throw new TypeError('bad plugin name ' + name);
        }
    },
};
"#,
        ),
        (
            "src/events.mjs",
            r#"import { EventEmitter, once } from 'node:events';
import debugFactory from 'debug';
export * as helpers from './helpers.mjs';
export { default as Queue } from './queue.mjs';

const debug = debugFactory('app:events');
const meta = import.meta.url;

export class Bus extends EventEmitter {
    #handlers = new Map();
    static #instance;

    static get instance() {
        return (Bus.#instance ??= new Bus());
    }

    on(name, handler, { once: onlyOnce = false, priority } = {}) {
        const list = this.#handlers.get(name) ?? [];
        list.push({ handler, onlyOnce, priority: priority ?? 0 });
        list.sort((a, b) => b.priority - a.priority);
        this.#handlers.set(name, list);
        return super.on(name, handler);
    }

    async *stream(name, signal) {
        while (!signal?.aborted) {
            const [event] = await once(this, name, { signal }).catch(() => [undefined]);
            if (event === undefined) break;
            yield event;
        }
    }

    async plugin(name) {
        const { default: plugin } = await import(`./plugins/${name}.mjs`);
        debug(`loaded ${name} from ${meta}`);
        return typeof plugin === 'function' ? plugin(this) : plugin;
    }
}

export const tag = (strings, ...values) =>
    strings.reduce((acc, s, i) => `${acc}${s}${i < values.length ? `<${values[i]}>` : ''}`, '');

label: {
    if (Math.random() > 2) break label;
    debug('unreachable? %s', /a\/b[/]c/.source);
}

export default Bus;
"#,
        ),
        (
            "src/components/App.tsx",
            r#"import React, { useEffect, useState, type ReactNode } from 'react';
import type { User } from '../types';
import { fetchUsers } from '../api';
import styles from './App.module.css';

interface Props {
    title?: string;
    children?: ReactNode;
    onSelect?(user: User): void;
}

const Badge = ({ n }: { n: number }) => <span className={styles.badge}>{n > 99 ? '99+' : n}</span>;

export function App({ title = 'Users', children, onSelect }: Props) {
    const [users, setUsers] = useState<User[]>([]);
    const [error, setError] = useState<string | null>(null);

    useEffect(() => {
        let cancelled = false;
        fetchUsers()
            .then((list) => !cancelled && setUsers(list))
            .catch((e: Error) => setError(e.message));
        return () => {
            cancelled = true;
        };
    }, []);

    if (error) {
        return <p role="alert">Failed: {error}</p>;
    }

    return (
        <>
            <h1 title={`${title} (${users.length})`}>
                {title} &mdash; it's "quoted" // plain text
            </h1>
            {users.length === 0 && <p>Loading...</p>}
            <ul>
                {users.map((u) =>
                    u.active ? (
                        <li key={u.id} onClick={() => onSelect?.(u)} data-admin={u.admin || undefined}>
                            {u.name} <Badge n={u.unread ?? 0} />
                        </li>
                    ) : null,
                )}
            </ul>
            {/* a comment in a container */}
            {children}
        </>
    );
}

export default App;
"#,
        ),
        (
            "src/list.jsx",
            r#"import PropTypes from 'prop-types';
const Row = require('./Row');

export default function List({ items, render = (x) => <b>{x}</b> }) {
    const empty = items.length === 0;
    return (
        <div
            className="list"
            style={{ display: empty ? 'none' : 'block' }}
        >
            {items.map((item, i) => (
                <Row key={i} last={i === items.length - 1}>
                    {render(item)}
                </Row>
            ))}
            {empty || <footer>{items.length} items</footer>}
        </div>
    );
}

List.propTypes = { items: PropTypes.array.isRequired };
"#,
        ),
    ];

    #[test]
    fn realistic_files_take_the_fast_path_and_agree_with_the_tree() {
        for (path, src) in FILES {
            let lang = Language::of_path(path).unwrap();
            let full = extract_full(path, lang, src.as_bytes()).unwrap();
            assert_eq!(full.first_error_line, None, "{path}");
            assert!(full.complexity > 2, "{path}: {full:?}");
            assert!(
                full.imports.is_empty() == path.ends_with("math.mts"),
                "{path}"
            );
            assert!(agree(path, src), "{path}: not taken");
        }
        // The same files with CRLF line ends.
        for (path, src) in FILES {
            assert!(agree(path, &src.replace('\n', "\r\n")), "{path}: not taken");
        }
    }

    /// The sources of the tests in `extract.rs` and `tests/deps_resolve.rs`.
    const SNIPPETS: &[(&str, &str)] = &[
        (
            "x.js",
            "import a from './a';\nimport * as b from \"./b\";\nimport { c, d as e } from './c';\nimport './side';\nexport * from './f';\nexport { g } from './g';\nexport const h = 1;\n",
        ),
        (
            "x.js",
            "const a = require('a');\nfunction f() {\n  return import('./lazy');\n}\nrequire(name);\nimport(`./tpl`);\nimport(`./${x}`);\n",
        ),
        (
            "x.ts",
            "import type { A } from './a';\nimport { type B, type C } from './b';\nimport { type D, E } from './d';\nexport type { F } from './f';\nexport { type G } from './g';\nimport type from './h';\nimport x = require('./i');\n",
        ),
        (
            "app.tsx",
            "import React from 'react';\nimport { Button } from './button';\nexport const App = () => <Button label=\"x\" />;\n",
        ),
        (
            "m.js",
            "// c\n/* block\n comment */\nconst a = 1;\n\nlet b = a ? 1 : 2;\n",
        ),
        (
            "src/index.ts",
            "import { a } from '@lib/a';\nimport cfg from '@cfg';\nimport { u } from './util';\nimport { v } from './v.js';\nimport type { T } from 'src/types';\nconst l = () => import('./lazy');\n",
        ),
        ("src/lazy.ts", "import React from 'react';\nexport {};\n"),
        ("index.js", "module.exports = require('@acme/core');\n"),
        ("build/out.js", "require('./a');\n"),
        ("bin.js", "\u{0}\u{1}\u{2}require('x')"),
    ];

    /// The sample lines of `extract.rs`'s tests.
    use crate::deps::extract::tests::JS_LINES;

    /// Every test snippet, read as JavaScript, TypeScript and TSX: where the tree parses it
    /// without error and the scanner takes it, they agree.
    #[test]
    fn the_test_snippets_agree_with_the_tree() {
        let all = JS_LINES.join("\n");
        let mut taken = 0;
        for (path, src) in SNIPPETS.iter().copied().chain([("all.js", all.as_str())]) {
            let stem = path.rsplit_once('.').unwrap().0;
            for ext in ["js", "ts", "tsx"] {
                let p = format!("{stem}.{ext}");
                let full =
                    extract_full(&p, Language::of_path(&p).unwrap(), src.as_bytes()).unwrap();
                if full.first_error_line.is_none() && agree(&p, src) {
                    taken += 1;
                }
            }
        }
        assert!(taken >= 20, "{taken}");
        // The sample lines one by one.
        for line in JS_LINES {
            for p in ["a.js", "a.ts"] {
                let full = extract_full(p, Language::of_path(p).unwrap(), line.as_bytes()).unwrap();
                if full.first_error_line.is_none() {
                    agree(p, line);
                }
            }
        }
    }

    /// Complete statements (alone or in sequence, valid JavaScript and TypeScript) to build
    /// random files from.
    const STATEMENTS: &[&str] = &[
        "import a from './a';",
        "import { b as c, d } from \"./b\"",
        "import './side';",
        "import * as ns from 'ns';",
        "export * from './f';",
        "export { g as h } from './g';",
        "export const k = require('./k');",
        "const r = require('./r');",
        "const l = () => import('./lazy');",
        "const p = require(`./tpl`);",
        "if (x) { y(); } else if (z) { w(); } else { v(); }",
        "for (let i = 0; i < n; i++) { s += i; }",
        "for (const key in obj) if (key) continue;",
        "for (const v of list) {\n  total += v;\n}",
        "while (a && b) { f(); }",
        "do { g(); } while (c || d);",
        "do h(); while (e);",
        "switch (x) {\n  case 1:\n    break;\n  case 'two': {\n    y();\n  }\n  default:\n}",
        "try { h(); } catch (e) { k(); } finally { m(); }",
        "try { f(); } catch { g(); }",
        "const t = a ? b : c;",
        "const n = a ?? b;",
        "x ??= 1; y ||= 2; z &&= 3;",
        "const s = `tpl ${a ? `in ${b && c}` : 2}`;",
        "const m = `multi\n\n  line\n`;",
        "// comment with import x from 'y'",
        "/* block\n require('z') */",
        "const d = x / y / 2;",
        "const re = /[/'\"]+\\//g;",
        "const o = { a: 1,\n  if: 2, catch(e) { return e; },\n  b: 2 };",
        "function f(x) {\n  return x - 1;\n}",
        "class A extends B {\n  #p = 1;\n  static s = 2;\n  m() { return this.#p ? 1 : 0; }\n}",
        "p.then(v => v).catch(e => e);",
        "const q = o?.a?.b ?? o?.[0];",
        "label: for (;;) { break label; }",
        "async function g() {\n  const m = await import('./m');\n  return m;\n}",
        "const str = 'it\\'s \"quoted\" // not a comment';",
        "f(a, // trailing\n  b);",
        "const num = 0x1f + 1_000 + .5 + 1e-3 + 10n;",
        "",
        "   ",
    ];

    /// JSX statements, mixed into the random files read as JavaScript and TSX.
    const JSX_STATEMENTS: &[&str] = &[
        "const e = <div className=\"a\" id={x ? 1 : 2}>text {y && <b/>} more</div>;",
        "const f = <>\n  <A {...p} b='c' d />\n  it's // text\n\n  {/* c */}\n</>;",
        "const g = cond ? <X.Y z={require('./z')} /> : <W>{list.map(i => <li key={i}>{i}</li>)}</W>;",
        "const h = (\n  <p title=\"two\nrows\">\n    {a ?? b}\n  </p>\n);",
    ];

    mod prop {
        use super::*;
        use proptest::prelude::*;

        fn assemble(picks: &[(usize, u8)], jsx: bool) -> String {
            let mut out = String::new();
            let mut open = 0;
            for &(i, wrap) in picks {
                match wrap {
                    1 => {
                        out.push_str("function w() {\n");
                        open += 1;
                    }
                    2 if open > 0 => {
                        out.push_str("}\n");
                        open -= 1;
                    }
                    _ => {}
                }
                let stmt = if jsx && i % 5 == 0 {
                    JSX_STATEMENTS[i % JSX_STATEMENTS.len()]
                } else {
                    STATEMENTS[i % STATEMENTS.len()]
                };
                // Module declarations only at the top level.
                if open == 0 || !(stmt.starts_with("import ") || stmt.starts_with("export ")) {
                    out.push_str(stmt);
                    out.push('\n');
                }
            }
            out.push_str(&"}\n".repeat(open));
            out
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 128,
                rng_seed: proptest::test_runner::RngSeed::Fixed(0x15_1E),
                ..ProptestConfig::default()
            })]

            #[test]
            fn random_files_of_statements_agree_with_the_tree(
                picks in proptest::collection::vec((0usize..64, 0u8..6), 0..30),
            ) {
                for (path, jsx) in [("a.js", false), ("a.ts", false), ("a.tsx", false), ("a.jsx", true), ("b.tsx", true)] {
                    let src = assemble(&picks, jsx);
                    let full = extract_full(path, Language::of_path(path).unwrap(), src.as_bytes()).unwrap();
                    prop_assert_eq!(full.first_error_line, None, "{}", src);
                    prop_assert!(agree(path, &src), "{}: not taken\n{}", path, src);
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 512,
                rng_seed: proptest::test_runner::RngSeed::Fixed(0xB17E5),
                ..ProptestConfig::default()
            })]

            #[test]
            fn the_scanner_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
                for d in [Dialect::JavaScript, Dialect::TypeScript, Dialect::Tsx] {
                    if let Some(l) = lex(&bytes, d) {
                        check_regions(&bytes, &l);
                        prop_assert!(l.complexity >= 1);
                        prop_assert!(l.lines as usize <= bytes.len());
                    }
                }
            }

            #[test]
            fn the_scanner_never_panics_on_import_like_text(
                src in "(import |from |require\\(|import\\(|export |type |[.'\"`$a-z{}()\\[\\]*/?:;,=<>#!\\\\\\n ]){0,60}",
            ) {
                for d in [Dialect::JavaScript, Dialect::TypeScript, Dialect::Tsx] {
                    if let Some(l) = lex(src.as_bytes(), d) {
                        check_regions(src.as_bytes(), &l);
                    }
                }
            }
        }
    }

    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }

    /// Agreement on a local corpus and the scanner's throughput against the full parse:
    /// `CADRE_JSLEX_CORPUS=/work/fx/big/ts cargo test --release -p cadre-pack-code --lib
    /// deps::lex::js::tests::corpus -- --ignored --nocapture`.
    #[test]
    #[ignore = "needs a local corpus (CADRE_JSLEX_CORPUS) and a release build"]
    #[allow(clippy::print_stderr)]
    fn corpus_agrees_with_the_tree_and_throughput() {
        let dir = std::env::var("CADRE_JSLEX_CORPUS").unwrap_or_else(|_| "/work/fx/big/ts".into());
        let mut paths = Vec::new();
        walk(std::path::Path::new(&dir), &mut paths);
        paths.sort();
        let files: Vec<(String, Vec<u8>)> = paths
            .iter()
            .filter_map(|p| {
                let name = p.to_str()?.to_owned();
                (Language::of_path(&name)? != Language::Python)
                    .then(|| Some((name, std::fs::read(p).ok()?)))?
            })
            .collect();
        assert!(
            !files.is_empty(),
            "no JavaScript or TypeScript file under {dir}"
        );
        let bytes: usize = files.iter().map(|(_, src)| src.len()).sum();
        let mut taken = 0;
        for (path, src) in &files {
            if agree(path, std::str::from_utf8(src).unwrap_or("")) {
                taken += 1;
            }
        }
        let mut best_lex = f64::INFINITY;
        for _ in 0..5 {
            let t = std::time::Instant::now();
            let mut regions = 0;
            for (path, src) in &files {
                regions += lex(src, dialect_of(path)).map_or(0, |l| l.regions.len());
            }
            std::hint::black_box(regions);
            best_lex = best_lex.min(t.elapsed().as_secs_f64());
        }
        let mut parsers = crate::deps::extract::Parsers::new().unwrap();
        let t = std::time::Instant::now();
        for (path, src) in &files {
            let lang = Language::of_path(path).unwrap();
            std::hint::black_box(parsers.extract_full(path, lang, src));
        }
        let full = t.elapsed().as_secs_f64();
        let ns = |s: f64| s * 1e9 / bytes as f64;
        eprintln!(
            "{} files, {bytes} bytes, {taken} taken by the scanner; scanner {:.2} ns/byte, full parse {:.1} ns/byte ({:.0}x)",
            files.len(),
            ns(best_lex),
            ns(full),
            full / best_lex
        );
    }
}
