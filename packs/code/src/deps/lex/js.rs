//! The JavaScript and TypeScript scanner (see [`super`]).

use super::Lexed;

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
pub(crate) fn lex(source: &[u8], dialect: Dialect) -> Option<Lexed> {
    let _ = (source, dialect);
    None
}
