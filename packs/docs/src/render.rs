//! The plain-text summary of a run.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::check::LinkReport;
use crate::stats::DocStats;

/// A plain-text summary: a table with one row per document (file, words, links, broken; `-`
/// where that document has no stats or no link report), then one line per broken link as
/// `path:line: target — reason`, then a totals line. Rows follow the order in which documents
/// first appear in `reports`, then in `stats`.
///
/// ```
/// use cadre_pack_docs::{BrokenLink, DocStats, LinkReport, render_table};
/// let report = LinkReport {
///     path: "README.md".into(), links: 3, external: 1,
///     broken: vec![BrokenLink { line: 7, target: "gone.md".into(), reason: "no such file `gone.md`".into() }],
/// };
/// let stats = DocStats {
///     path: "README.md".into(), lines: 20, words: 120, headings: 2, code_blocks: 1, links: 3,
///     reading_minutes: 0.6,
/// };
/// assert_eq!(
///     render_table(&[report], &[stats]),
///     "file       words  links  broken\n\
///      README.md    120      3       1\n\
///      \n\
///      README.md:7: gone.md — no such file `gone.md`\n\
///      total: 1 file, 120 words, 3 links (1 external), 1 broken\n"
/// );
/// ```
pub fn render_table(reports: &[LinkReport], stats: &[DocStats]) -> String {
    struct Row<'a> {
        path: &'a str,
        report: Option<&'a LinkReport>,
        stats: Option<&'a DocStats>,
    }
    let mut rows: Vec<Row<'_>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for report in reports {
        let i = *index.entry(report.path.as_str()).or_insert_with(|| {
            rows.push(Row {
                path: &report.path,
                report: None,
                stats: None,
            });
            rows.len() - 1
        });
        rows[i].report = Some(report);
    }
    for s in stats {
        let i = *index.entry(s.path.as_str()).or_insert_with(|| {
            rows.push(Row {
                path: &s.path,
                report: None,
                stats: None,
            });
            rows.len() - 1
        });
        rows[i].stats = Some(s);
    }

    let dash = || "-".to_string();
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|row| {
            let links = row
                .report
                .map(|r| r.links)
                .or(row.stats.map(|s| s.links))
                .map_or_else(dash, |n| n.to_string());
            [
                row.path.to_string(),
                row.stats.map_or_else(dash, |s| s.words.to_string()),
                links,
                row.report.map_or_else(dash, |r| r.broken.len().to_string()),
            ]
        })
        .collect();
    let header = ["file", "words", "links", "broken"];
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }

    let mut out = String::new();
    let mut line = |cols: [&str; 4]| {
        let [file, words, links, broken] = cols;
        let [wf, ww, wl, wb] = widths;
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{file:<wf$}  {words:>ww$}  {links:>wl$}  {broken:>wb$}"
        );
    };
    line(header);
    for row in &cells {
        line([&row[0], &row[1], &row[2], &row[3]]);
    }

    let broken: Vec<(&str, &crate::BrokenLink)> = reports
        .iter()
        .flat_map(|r| r.broken.iter().map(move |b| (r.path.as_str(), b)))
        .collect();
    if !broken.is_empty() {
        out.push('\n');
        for (path, b) in &broken {
            let _ = writeln!(out, "{path}:{}: {} — {}", b.line, b.target, b.reason);
        }
    }

    let words: u64 = rows
        .iter()
        .filter_map(|r| r.stats)
        .map(|s| u64::from(s.words))
        .sum();
    let links: u64 = rows
        .iter()
        .filter_map(|r| r.report.map(|r| r.links).or(r.stats.map(|s| s.links)))
        .map(u64::from)
        .sum();
    let external: u64 = reports.iter().map(|r| u64::from(r.external)).sum();
    let files = rows.len();
    let _ = writeln!(
        out,
        "total: {files} file{}, {words} words, {links} links ({external} external), {} broken",
        if files == 1 { "" } else { "s" },
        broken.len()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BrokenLink;

    fn report(path: &str, links: u32, external: u32, broken: &[(u32, &str, &str)]) -> LinkReport {
        LinkReport {
            path: path.into(),
            links,
            external,
            broken: broken
                .iter()
                .map(|&(line, target, reason)| BrokenLink {
                    line,
                    target: target.into(),
                    reason: reason.into(),
                })
                .collect(),
        }
    }

    fn stats(path: &str, words: u32, links: u32) -> DocStats {
        DocStats {
            path: path.into(),
            lines: 1,
            words,
            headings: 0,
            code_blocks: 0,
            links,
            reading_minutes: f64::from(words) / 200.0,
        }
    }

    #[test]
    fn table_with_broken_links_and_totals() {
        let reports = [
            report("README.md", 4, 2, &[]),
            report(
                "guide/setup.md",
                12,
                1,
                &[
                    (3, "missing.md", "no such file `guide/missing.md`"),
                    (9, "#nope", "no anchor `#nope` in this file"),
                ],
            ),
        ];
        let stats = [
            stats("guide/setup.md", 1520, 12),
            stats("README.md", 80, 4),
            stats("only-stats.md", 5, 1),
        ];
        assert_eq!(
            render_table(&reports, &stats),
            "file            words  links  broken\n\
             README.md          80      4       0\n\
             guide/setup.md   1520     12       2\n\
             only-stats.md       5      1       -\n\
             \n\
             guide/setup.md:3: missing.md — no such file `guide/missing.md`\n\
             guide/setup.md:9: #nope — no anchor `#nope` in this file\n\
             total: 3 files, 1605 words, 17 links (3 external), 2 broken\n"
        );
    }

    #[test]
    fn reports_without_stats_and_empty_input() {
        assert_eq!(
            render_table(&[report("ünïcode.md", 1, 0, &[])], &[]),
            "file        words  links  broken\n\
             ünïcode.md      -      1       0\n\
             total: 1 file, 0 words, 1 links (0 external), 0 broken\n"
        );
        assert_eq!(
            render_table(&[], &[]),
            "file  words  links  broken\n\
             total: 0 files, 0 words, 0 links (0 external), 0 broken\n"
        );
    }
}
