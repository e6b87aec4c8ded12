//! Size and shape of one document.

use std::path::Path;

use cadre_core::{Error, Message};
use serde::{Deserialize, Serialize};

use crate::files::read_doc;
use crate::markdown::count;

/// The reading speed [`stats`] assumes, in words per minute.
pub const DEFAULT_WORDS_PER_MINUTE: u32 = 200;

/// The size and shape of one Markdown document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocStats {
    /// The document, relative to the documentation root.
    pub path: String,
    /// Lines of source.
    pub lines: u32,
    /// Words of prose: text outside code blocks, HTML and front matter (inline code counts).
    pub words: u32,
    /// Headings, ATX (`#`) and setext (underlined).
    pub headings: u32,
    /// Code blocks, fenced and indented.
    pub code_blocks: u32,
    /// Links, as [`extract_links`](crate::extract_links) finds them.
    pub links: u32,
    /// `words` divided by the reading speed (200 words a minute unless configured).
    pub reading_minutes: f64,
}

impl Message for DocStats {
    const TYPE: &'static str = "docs.doc_stats";
}

/// The [`DocStats`] of Markdown text, `path` being only the name it is reported under.
///
/// A `words_per_minute` of 0 counts as 1.
///
/// ```
/// let s = cadre_pack_docs::markdown_stats("a.md", "# Hi\n\nfour words right here\n", 200);
/// assert_eq!((s.lines, s.words, s.headings), (3, 5, 1));
/// assert_eq!(s.reading_minutes, 0.025);
/// ```
pub fn markdown_stats(path: &str, markdown: &str, words_per_minute: u32) -> DocStats {
    let counts = count(markdown);
    DocStats {
        path: path.to_string(),
        lines: counts.lines,
        words: counts.words,
        headings: counts.headings,
        code_blocks: counts.code_blocks,
        links: counts.links,
        reading_minutes: f64::from(counts.words) / f64::from(words_per_minute.max(1)),
    }
}

/// The [`DocStats`] of the document `rel` under `root`, read at 200 words a minute.
///
/// # Errors
/// As [`check_file`](crate::check_file) when the document cannot be read.
pub fn stats(root: &Path, rel: &str) -> Result<DocStats, Error> {
    stats_with(root, rel, DEFAULT_WORDS_PER_MINUTE)
}

/// [`stats`] at another reading speed.
///
/// # Errors
/// As [`check_file`](crate::check_file) when the document cannot be read.
pub fn stats_with(root: &Path, rel: &str, words_per_minute: u32) -> Result<DocStats, Error> {
    let (parts, text) = read_doc(root, rel)?;
    Ok(markdown_stats(&parts.join("/"), &text, words_per_minute))
}

#[cfg(test)]
mod tests {
    use cadre_core::ErrorCode;

    use super::*;

    #[test]
    fn stats_of_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let words = "word ".repeat(300);
        let body = format!(
            "# Title\n\n{words}\n\n## Code\n\n```rust\nfn main() {{}}\n```\n\n[a](b.md) <https://x.example>\n"
        );
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/doc.md"), body).unwrap();
        let s = stats(dir.path(), "sub/./doc.md").unwrap();
        assert_eq!(
            s,
            DocStats {
                path: "sub/doc.md".into(),
                lines: 11,
                words: 300 + 1 + 1 + 2,
                headings: 2,
                code_blocks: 1,
                links: 2,
                reading_minutes: 304.0 / 200.0,
            }
        );
        let slow = stats_with(dir.path(), "sub/doc.md", 100).unwrap();
        assert_eq!(slow.reading_minutes, 3.04);
        let err = stats(dir.path(), "sub/none.md").unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        assert!(err.to_string().contains("none.md"), "{err}");
    }

    #[test]
    fn zero_words_per_minute_does_not_divide_by_zero() {
        let s = markdown_stats("x.md", "one two", 0);
        assert_eq!(s.words, 2);
        assert_eq!(s.reading_minutes, 2.0);
    }
}
