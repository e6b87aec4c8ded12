//! A self-contained SVG picture of a [`Report`]'s module graph (`cadre deps --format svg`).
//!
//! Layout: every strongly connected component of the module graph is one unit; edges are
//! read from a dependency to its importer (the direction of [`Report::order`]), and a
//! component's layer (its column, left to right) is the longest path to it from a component
//! without dependencies, so every module stands to the right of everything it imports and the
//! members of a cycle share a column. Within a column, components are sorted by the mean row
//! of their dependencies (one barycentre sweep, ties by topological order), members by id.
//!
//! Drawing: one `<g class="module">` per module with a `<title>` (its full id), one `<rect>`
//! filled by priority (CRITICAL red, HIGH orange, NORMAL blue, LOW grey; external packages
//! dashed) and a `<text>` label; edges point from importer to imported, dashed when
//! type-only, dotted when dynamic, red inside a cycle, and thick dark red between modules of
//! the critical path (whose boxes also get a thick border). Labels longer than
//! [`MAX_LABEL`] characters keep their tail after an ellipsis; above [`LABELS_UP_TO`]
//! modules only the critical path is labelled (the `<title>` still names every box), and
//! above [`EDGES_UP_TO`] edges only cycle and critical-path edges are drawn; both cuts are
//! stated in a comment at the top of the document.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{EdgeKind, Priority, Report};

/// Longest label drawn, in characters (longer ids keep their last characters).
pub const MAX_LABEL: usize = 48;
/// Above this many modules only the critical path's boxes carry a label.
pub const LABELS_UP_TO: usize = 1_500;
/// Above this many edges only cycle and critical-path edges are drawn.
pub const EDGES_UP_TO: usize = 20_000;

const CHAR_W: usize = 7;
const BOX_H: usize = 22;
const ROW_GAP: usize = 8;
const COL_GAP: usize = 72;
const MARGIN: usize = 20;
const LEGEND_H: usize = 28;

/// Escapes text for XML content and attribute values; control characters XML 1.0 cannot
/// carry become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The label drawn for an id: the id, or `…` and its last `MAX_LABEL - 1` characters.
fn label(id: &str) -> String {
    let n = id.chars().count();
    if n <= MAX_LABEL {
        return id.to_owned();
    }
    let tail: String = id.chars().skip(n - (MAX_LABEL - 1)).collect();
    format!("…{tail}")
}

fn colours(p: Priority) -> (&'static str, &'static str) {
    match p {
        Priority::Critical => ("#f9d0cb", "#b03a2e"),
        Priority::High => ("#fde5bd", "#ca6f1e"),
        Priority::Normal => ("#d6e9f8", "#2e86c1"),
        Priority::Low => ("#eeeeee", "#8c8c8c"),
    }
}

/// Renders the report's module graph as one SVG document.
pub fn render(report: &Report) -> String {
    let n = report.modules.len();
    let index: HashMap<&str, usize> = report
        .modules
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id.as_str(), i))
        .collect();
    let edges: Vec<(usize, usize, EdgeKind)> = report
        .edges
        .iter()
        .filter_map(|e| {
            Some((
                *index.get(e.from.as_str())?,
                *index.get(e.to.as_str())?,
                e.kind,
            ))
        })
        .filter(|(a, b, _)| a != b)
        .collect();
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b, _) in &edges {
        deps[a].push(b);
    }
    let (components, comp_of) = super::graph::components(&deps);
    let k = components.len();

    // Layers: `order` lists dependencies first and keeps components together.
    let mut layer = vec![0usize; k];
    let mut comp_seq: Vec<usize> = Vec::with_capacity(k);
    let mut seen = vec![false; k];
    let ordered: Vec<usize> = report
        .order
        .iter()
        .filter_map(|id| index.get(id.as_str()).copied())
        .chain(0..n)
        .collect();
    for &m in &ordered {
        let c = comp_of[m];
        if !seen[c] {
            seen[c] = true;
            comp_seq.push(c);
        }
        for &d in &deps[m] {
            let cd = comp_of[d];
            if cd != c {
                layer[c] = layer[c].max(layer[cd] + 1);
            }
        }
    }
    // `order` may (for a hand-made report) not be topological; settle the layers.
    for _ in 0..k {
        let mut changed = false;
        for (m, ds) in deps.iter().enumerate() {
            for &d in ds {
                let (c, cd) = (comp_of[m], comp_of[d]);
                if c != cd && layer[c] <= layer[cd] && layer[cd] < k {
                    layer[c] = layer[cd] + 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let layers = layer.iter().copied().max().map_or(0, |l| l + 1);
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for &c in &comp_seq {
        columns[layer[c]].push(c);
    }

    let on_path: HashMap<usize, usize> = report
        .critical_path
        .iter()
        .enumerate()
        .filter_map(|(pos, id)| Some((*index.get(id.as_str())?, pos)))
        .collect();
    let labelled = |m: usize| n <= LABELS_UP_TO || on_path.contains_key(&m);

    // Rows: barycentre of the dependencies' rows, one sweep left to right.
    let mut row = vec![0usize; n];
    let mut seq_pos = vec![0usize; k];
    for (p, &c) in comp_seq.iter().enumerate() {
        seq_pos[c] = p;
    }
    let mut col_width = vec![0usize; layers];
    let mut rows_max = 0usize;
    for (l, column) in columns.iter_mut().enumerate() {
        if l > 0 {
            let key = |c: usize| -> (u64, usize) {
                let (mut sum, mut count) = (0u64, 0u64);
                for &m in &components[c] {
                    for &d in &deps[m] {
                        if comp_of[d] != c {
                            sum += row[d] as u64;
                            count += 1;
                        }
                    }
                }
                // Fixed point (×1024) so the sort key is an integer.
                let mean = (sum * 1024).checked_div(count).unwrap_or(0);
                (mean, seq_pos[c])
            };
            column.sort_by_cached_key(|&c| key(c));
        }
        let mut r = 0;
        for &c in column.iter() {
            for &m in &components[c] {
                row[m] = r;
                r += 1;
                let chars = if labelled(m) {
                    label(&report.modules[m].id).chars().count()
                } else {
                    0
                };
                col_width[l] = col_width[l].max(chars * CHAR_W + 16).max(24);
            }
        }
        rows_max = rows_max.max(r);
    }
    let mut col_x = vec![0usize; layers];
    let mut x = MARGIN;
    for (cx, w) in col_x.iter_mut().zip(&col_width) {
        *cx = x;
        x += w + COL_GAP;
    }
    let width = (x + MARGIN).saturating_sub(COL_GAP).max(360);
    let top = MARGIN + LEGEND_H;
    let height = top + rows_max * (BOX_H + ROW_GAP) + MARGIN;
    let module_layer = |m: usize| layer[comp_of[m]];
    let box_of = |m: usize| -> (usize, usize, usize) {
        let l = module_layer(m);
        (col_x[l], top + row[m] * (BOX_H + ROW_GAP), col_width[l])
    };

    let mut out = String::with_capacity(256 + n * 200 + edges.len() * 120);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"monospace\" font-size=\"12\">"
    );
    let _ = writeln!(
        out,
        "<!-- cadre deps: {n} modules, {} edges, {} cycles, critical path of {} modules ({} by {}); columns are layers (dependencies left of their importers), arrows point from importer to imported -->",
        report.edges.len(),
        report.cycles.len(),
        report.critical_path.len(),
        report.critical_length,
        match report.weight {
            super::Weight::Lines => "lines",
            super::Weight::Complexity => "complexity",
        }
    );
    if n > LABELS_UP_TO {
        let _ = writeln!(
            out,
            "<!-- {n} modules (more than {LABELS_UP_TO}): only the critical path is labelled; every box's title names its module -->"
        );
    }
    let draw_all_edges = edges.len() <= EDGES_UP_TO;
    if !draw_all_edges {
        let _ = writeln!(
            out,
            "<!-- {} edges (more than {EDGES_UP_TO}): only cycle and critical-path edges are drawn -->",
            edges.len()
        );
    }
    out.push_str(concat!(
        "<defs>\n",
        "<marker id=\"a\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" fill=\"#7f8c8d\"/></marker>\n",
        "<marker id=\"c\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" fill=\"#e74c3c\"/></marker>\n",
        "<marker id=\"p\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" fill=\"#7b241c\"/></marker>\n",
        "</defs>\n"
    ));
    // Legend (circles, so that the only rectangles are the modules).
    out.push_str("<g class=\"legend\">\n");
    let mut lx = MARGIN;
    for p in [
        Priority::Critical,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ] {
        let (fill, stroke) = colours(p);
        let _ = writeln!(
            out,
            "<circle cx=\"{}\" cy=\"{}\" r=\"6\" fill=\"{fill}\" stroke=\"{stroke}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            lx + 6,
            MARGIN,
            lx + 16,
            MARGIN + 4,
            p.name()
        );
        lx += 16 + p.name().len() * CHAR_W + 18;
    }
    let _ = writeln!(
        out,
        "<text x=\"{lx}\" y=\"{}\" fill=\"#e74c3c\">cycle edge</text>",
        MARGIN + 4
    );
    out.push_str("</g>\n");

    // Edges: plain, then cycle, then critical path on top.
    let class_of = |a: usize, b: usize| -> u8 {
        match (on_path.get(&a), on_path.get(&b)) {
            (Some(pa), Some(pb)) if pa > pb && comp_of[a] != comp_of[b] => 2,
            _ if comp_of[a] == comp_of[b] => 1,
            _ => 0,
        }
    };
    for pass in 0..3u8 {
        if pass == 0 && !draw_all_edges {
            continue;
        }
        out.push_str(match pass {
            0 => "<g class=\"edges\" fill=\"none\" stroke=\"#7f8c8d\" stroke-width=\"1\" stroke-opacity=\"0.6\" marker-end=\"url(#a)\">\n",
            1 => "<g class=\"cycle-edges\" fill=\"none\" stroke=\"#e74c3c\" stroke-width=\"1.5\" marker-end=\"url(#c)\">\n",
            _ => "<g class=\"critical-edges\" fill=\"none\" stroke=\"#7b241c\" stroke-width=\"3\" marker-end=\"url(#p)\">\n",
        });
        for &(a, b, kind) in &edges {
            if class_of(a, b) != pass {
                continue;
            }
            let (ax, ay, aw) = box_of(a);
            let (bx, by, bw) = box_of(b);
            let (ay, by) = (ay + BOX_H / 2, by + BOX_H / 2);
            let d = if module_layer(a) > module_layer(b) {
                // Importer to the right: from its left side to the dependency's right side.
                let (x1, x2) = (ax, bx + bw);
                let mid = (x1 + x2) / 2;
                format!("M{x1},{ay} C{mid},{ay} {mid},{by} {x2},{by}")
            } else {
                // Same column (a cycle): a loop out to the right.
                let x1 = ax + aw;
                let x2 = bx + bw;
                let bulge = x1.max(x2) + 24 + ay.abs_diff(by) / 8;
                format!("M{x1},{ay} C{bulge},{ay} {bulge},{by} {x2},{by}")
            };
            let dash = match kind {
                EdgeKind::Runtime => "",
                EdgeKind::TypeOnly => " stroke-dasharray=\"6 3\"",
                EdgeKind::Dynamic => " stroke-dasharray=\"2 3\"",
            };
            let _ = writeln!(out, "<path d=\"{d}\"{dash}/>");
        }
        out.push_str("</g>\n");
    }

    // Modules, in id order.
    out.push_str("<g class=\"modules\">\n");
    for (m, module) in report.modules.iter().enumerate() {
        let (x, y, w) = box_of(m);
        let (fill, stroke) = colours(module.priority);
        let critical = on_path.contains_key(&m);
        let stroke_width = if critical { "2.5" } else { "1" };
        let dash = if module.external {
            " stroke-dasharray=\"4 2\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<g class=\"module {}\"><title>{} ({}, {} lines, slack {})</title><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{BOX_H}\" rx=\"3\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{stroke_width}\"{dash}/>",
            module.priority.name().to_ascii_lowercase(),
            escape(&module.id),
            module.priority.name(),
            module.lines,
            module.slack,
        );
        if labelled(m) {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\">{}</text>",
                x + 8,
                y + 15,
                escape(&label(&module.id))
            );
        }
        out.push_str("</g>\n");
    }
    out.push_str("</g>\n</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_quotes_and_control_characters() {
        assert_eq!(
            escape("a<b>&\"c'\u{1}\td"),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD} d"
        );
    }

    #[test]
    fn long_labels_keep_their_tail() {
        let id = format!("{}tail.py", "x".repeat(100));
        let l = label(&id);
        assert_eq!(l.chars().count(), MAX_LABEL);
        assert!(l.starts_with('…') && l.ends_with("tail.py"), "{l}");
        assert_eq!(label("short"), "short");
    }
}
