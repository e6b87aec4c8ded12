//! The docs crew: agents that check a folder of Markdown documentation.
//!
//! A small, real example crew. A coordinator lists the documents with [`markdown_files`] and
//! hands each one, as a [`DocFile`] task input, to two agents:
//!
//! - [`LinkChecker`] (capability `docs.links`) answers with a [`LinkReport`]: how many links the
//!   document has, how many are external, and which local ones are broken (a missing file or
//!   directory, a missing heading or HTML anchor, a path leaving the root). See [`check_file`].
//! - [`StatsAgent`] (capability `docs.stats`) answers with [`DocStats`]: lines, words,
//!   headings, code blocks, links and reading time. See [`stats`].
//!
//! [`render_table`] turns the answers into a plain-text summary.
//!
//! The Markdown logic ([`extract_links`], [`heading_anchors`], [`anchors`], [`slug`],
//! [`markdown_stats`]) is pure; the file work is blocking and the agents run it on tokio's
//! blocking pool.
//!
//! ```
//! use cadre_pack_docs::{check_file, markdown_files, render_table, stats};
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("README.md"), "# Docs\n\nSee [the guide](guide.md).\n")?;
//! let files = markdown_files(dir.path())?;
//! assert_eq!(files, ["README.md"]);
//! let report = check_file(dir.path(), &files[0])?;
//! assert_eq!(report.broken[0].reason, "no such file `guide.md`");
//! let table = render_table(&[report], &[stats(dir.path(), &files[0])?]);
//! assert!(table.ends_with("total: 1 file, 4 words, 1 links (0 external), 1 broken\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod agents;
mod check;
mod crew;
mod files;
mod markdown;
mod render;
mod stats;

pub use agents::{
    CAPABILITY_VERSION, DocFile, LINKS_CAPABILITY, LinkChecker, STATS_CAPABILITY, StatsAgent,
};
pub use check::{BrokenLink, LinkReport, check_file};
pub use crew::{CHECK_CAPABILITY, CheckTree, Coordinator, TreeReport, register};
pub use files::markdown_files;
pub use markdown::{Link, LinkKind, anchors, extract_links, heading_anchors, slug};
pub use render::render_table;
pub use stats::{DEFAULT_WORDS_PER_MINUTE, DocStats, markdown_stats, stats, stats_with};
