//! Pure Markdown analysis: links, heading anchors and counts. No I/O.

use std::collections::HashMap;

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};

/// How a link is written in the Markdown source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// `[text](target)`.
    Inline,
    /// `[text][label]`, `[label][]` or `[label]`, resolved through a `[label]: target`
    /// definition.
    Reference,
    /// `<https://example.com>` or `<someone@example.com>` (the latter as `mailto:`).
    Autolink,
    /// `![alt](target)`, inline or by reference.
    Image,
}

/// A link found in a Markdown document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Link {
    /// The 1-based line the link starts on.
    pub line: u32,
    /// The destination as written (backslash escapes and entities resolved, percent-encoding
    /// kept).
    pub target: String,
    /// How the link is written.
    pub kind: LinkKind,
}

/// The Markdown dialect: CommonMark with GitHub's tables, footnotes, strikethrough and task
/// lists, and YAML front matter (so a `---` block at the top is not read as a heading).
fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
}

/// Maps byte offsets to 1-based line numbers.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    fn line(&self, offset: usize) -> u32 {
        let line = self.starts.partition_point(|&start| start <= offset);
        u32::try_from(line).unwrap_or(u32::MAX)
    }
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Every link of `markdown`, in document order: inline links, images, reference-style links
/// whose label has a definition, and autolinks. Text in code spans and code blocks is not
/// Markdown, so links written there are not links; neither are references without a
/// definition (they render as plain text).
///
/// ```
/// use cadre_pack_docs::{extract_links, LinkKind};
/// let links = extract_links("See [setup](setup.md#install).\n\n`[not](a-link.md)`\n");
/// assert_eq!(links.len(), 1);
/// assert_eq!(links[0].target, "setup.md#install");
/// assert_eq!(links[0].kind, LinkKind::Inline);
/// ```
pub fn extract_links(markdown: &str) -> Vec<Link> {
    let lines = LineIndex::new(markdown);
    let mut links = Vec::new();
    for (event, range) in Parser::new_ext(markdown, options()).into_offset_iter() {
        let (kind, link_type, dest) = match event {
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            }) => (link_kind(link_type), link_type, dest_url),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                ..
            }) => (LinkKind::Image, link_type, dest_url),
            _ => continue,
        };
        let target = if link_type == LinkType::Email {
            format!("mailto:{dest}")
        } else {
            dest.into_string()
        };
        links.push(Link {
            line: lines.line(range.start),
            target,
            kind,
        });
    }
    links
}

fn link_kind(link_type: LinkType) -> LinkKind {
    match link_type {
        LinkType::Reference
        | LinkType::ReferenceUnknown
        | LinkType::Collapsed
        | LinkType::CollapsedUnknown
        | LinkType::Shortcut
        | LinkType::ShortcutUnknown => LinkKind::Reference,
        LinkType::Autolink | LinkType::Email => LinkKind::Autolink,
        LinkType::Inline | LinkType::WikiLink { .. } => LinkKind::Inline,
    }
}

/// The anchor GitHub gives a heading with text `heading`: lowercased; every character other
/// than a letter, a digit, a space, `-` or `_` dropped (letters and digits of any script are
/// kept); each space turned into `-`.
///
/// ```
/// assert_eq!(cadre_pack_docs::slug("Install & Run (v2)"), "install--run-v2");
/// assert_eq!(cadre_pack_docs::slug("Über uns"), "über-uns");
/// ```
pub fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of the headings of `markdown`, in document order, as GitHub renders them: the
/// [`slug`] of the heading's text, with `-1`, `-2`, ... appended to the second, third, ...
/// heading with the same slug.
///
/// ```
/// let anchors = cadre_pack_docs::heading_anchors("# Usage\n## Usage\n## Usage\n");
/// assert_eq!(anchors, ["usage", "usage-1", "usage-2"]);
/// ```
pub fn heading_anchors(markdown: &str) -> Vec<String> {
    collect_anchors(markdown, false)
}

/// Every anchor a link into `markdown` may point at: the [`heading_anchors`] followed, in
/// document order with them, by explicit HTML anchors (`<a name="x">` and any element's
/// `id="x"`, outside code).
///
/// ```
/// let anchors = cadre_pack_docs::anchors("# Intro\n\n<a name=\"legacy\"></a>\n");
/// assert_eq!(anchors, ["intro", "legacy"]);
/// ```
pub fn anchors(markdown: &str) -> Vec<String> {
    collect_anchors(markdown, true)
}

fn collect_anchors(markdown: &str, with_html: bool) -> Vec<String> {
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut out = Vec::new();
    let mut heading: Option<String> = None;
    let mut html_block: Option<String> = None;
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                if let Some(text) = heading.take() {
                    let base = slug(&text);
                    let count = seen.entry(base.clone()).or_insert(0);
                    out.push(if *count == 0 {
                        base
                    } else {
                        format!("{base}-{count}")
                    });
                    *count += 1;
                }
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some(heading) = heading.as_mut() {
                    heading.push_str(&text);
                }
            }
            Event::Start(Tag::HtmlBlock) if with_html => html_block = Some(String::new()),
            Event::End(TagEnd::HtmlBlock) if with_html => {
                if let Some(html) = html_block.take() {
                    html_anchors(&html, &mut out);
                }
            }
            Event::Html(html) if with_html => match html_block.as_mut() {
                Some(block) => block.push_str(&html),
                None => html_anchors(&html, &mut out),
            },
            Event::InlineHtml(html) if with_html => html_anchors(&html, &mut out),
            _ => {}
        }
    }
    out
}

/// Appends the `id` attributes of every start tag in `html`, and the `name` attributes of `<a>`
/// tags. Comments are skipped.
fn html_anchors(html: &str, out: &mut Vec<String>) {
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt + 1..];
        if let Some(comment) = rest.strip_prefix("!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let name_len = rest
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '-')
            .unwrap_or(rest.len());
        if name_len == 0 {
            continue; // a closing tag, a declaration or a stray `<`
        }
        let tag = rest[..name_len].to_ascii_lowercase();
        rest = &rest[name_len..];
        loop {
            rest = rest.trim_start();
            if rest.is_empty() || rest.starts_with('>') || rest.starts_with('<') {
                break;
            }
            let attr_len = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '=' | '>' | '/' | '<'))
                .unwrap_or(rest.len());
            if attr_len == 0 {
                rest = &rest[1..]; // a stray `=` or `/`, both one byte
                continue;
            }
            let attr = rest[..attr_len].to_ascii_lowercase();
            rest = rest[attr_len..].trim_start();
            let Some(after) = rest.strip_prefix('=') else {
                continue;
            };
            let after = after.trim_start();
            let (value, remaining) = match after.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let body = &after[1..];
                    match body.find(quote) {
                        Some(end) => (&body[..end], &body[end + 1..]),
                        None => (body, ""),
                    }
                }
                _ => {
                    let end = after
                        .find(|c: char| c.is_whitespace() || c == '>')
                        .unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            rest = remaining;
            if !value.is_empty() && (attr == "id" || (attr == "name" && tag == "a")) {
                out.push(value.to_string());
            }
        }
    }
}

/// Counts of one document, before reading time is worked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Counts {
    pub(crate) lines: u32,
    pub(crate) words: u32,
    pub(crate) headings: u32,
    pub(crate) code_blocks: u32,
    pub(crate) links: u32,
}

/// Counts lines, prose words (text outside code blocks, HTML and front matter; inline code
/// counts), headings, code blocks (fenced and indented) and links.
pub(crate) fn count(markdown: &str) -> Counts {
    let mut counts = Counts {
        lines: saturating_u32(markdown.lines().count()),
        links: saturating_u32(extract_links(markdown).len()),
        ..Counts::default()
    };
    let mut skip_depth = 0_u32; // inside a code block or front matter
    let mut in_word = false;
    let mut words = 0_usize;
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => {
                counts.code_blocks += 1;
                skip_depth += 1;
            }
            Event::Start(Tag::MetadataBlock(_)) => skip_depth += 1,
            Event::End(TagEnd::CodeBlock | TagEnd::MetadataBlock(_)) => {
                skip_depth = skip_depth.saturating_sub(1);
                in_word = false;
            }
            Event::Start(Tag::Heading { .. }) => {
                counts.headings += 1;
                in_word = false;
            }
            Event::Text(text) | Event::Code(text) if skip_depth == 0 => {
                for c in text.chars() {
                    if c.is_whitespace() {
                        in_word = false;
                    } else if !in_word {
                        in_word = true;
                        words += 1;
                    }
                }
            }
            // Inline markup does not split a word: `**bo**ld` is one word.
            Event::Start(
                Tag::Emphasis
                | Tag::Strong
                | Tag::Strikethrough
                | Tag::Superscript
                | Tag::Subscript
                | Tag::Link { .. }
                | Tag::Image { .. },
            )
            | Event::End(
                TagEnd::Emphasis
                | TagEnd::Strong
                | TagEnd::Strikethrough
                | TagEnd::Superscript
                | TagEnd::Subscript
                | TagEnd::Link
                | TagEnd::Image,
            )
            | Event::InlineHtml(_) => {}
            _ => in_word = false,
        }
    }
    counts.words = saturating_u32(words);
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(markdown: &str) -> Vec<(u32, String, LinkKind)> {
        extract_links(markdown)
            .into_iter()
            .map(|l| (l.line, l.target, l.kind))
            .collect()
    }

    #[test]
    fn links_of_every_kind_with_their_lines() {
        let md = "# Title\n\
                  See [setup](setup.md) and ![logo](img/logo.png \"Logo\").\n\
                  \n\
                  Visit <https://example.com/a> or <team@example.com>.\n";
        assert_eq!(
            targets(md),
            vec![
                (2, "setup.md".into(), LinkKind::Inline),
                (2, "img/logo.png".into(), LinkKind::Image),
                (4, "https://example.com/a".into(), LinkKind::Autolink),
                (4, "mailto:team@example.com".into(), LinkKind::Autolink),
            ]
        );
    }

    #[test]
    fn reference_links_resolve_through_their_definitions() {
        let md = "Read [the guide][guide], [FAQ][] and [api].\n\
                  Also [missing][nowhere] and ![chart][img].\n\
                  \n\
                  [guide]: guide/index.md#start\n\
                  [faq]: <faq page.md> \"FAQ\"\n\
                  [API]: https://docs.rs/cadre\n\
                  [img]: charts/load.svg\n";
        assert_eq!(
            targets(md),
            vec![
                (1, "guide/index.md#start".into(), LinkKind::Reference),
                (1, "faq page.md".into(), LinkKind::Reference),
                (1, "https://docs.rs/cadre".into(), LinkKind::Reference),
                (2, "charts/load.svg".into(), LinkKind::Image),
            ]
        );
    }

    #[test]
    fn code_spans_and_code_blocks_hold_no_links() {
        let md = "Real [one](a.md), code `[two](b.md)` and `<https://c.example>`.\n\
                  \n\
                  ```markdown\n\
                  [three](c.md)\n\
                  ```\n\
                  \n\
                  ~~~\n\
                  <https://d.example>\n\
                  ~~~\n\
                  \n    [four](d.md)\n\
                  \n\
                  Last [five](e.md).\n";
        assert_eq!(
            targets(md),
            vec![
                (1, "a.md".into(), LinkKind::Inline),
                (13, "e.md".into(), LinkKind::Inline),
            ]
        );
    }

    #[test]
    fn escapes_and_entities_in_targets_are_resolved_but_percent_encoding_is_kept() {
        let md = "[a](my%20file.md) [b](x\\_y.md) [c](<with space.md>)\n";
        let got: Vec<String> = extract_links(md).into_iter().map(|l| l.target).collect();
        assert_eq!(got, ["my%20file.md", "x_y.md", "with space.md"]);
    }

    #[test]
    fn slugs_follow_github() {
        assert_eq!(slug("Hello, World!"), "hello-world");
        assert_eq!(slug("Install & Run (v2)"), "install--run-v2");
        assert_eq!(
            slug("snake_case and kebab-case"),
            "snake_case-and-kebab-case"
        );
        assert_eq!(slug("What's new in 1.2.3?"), "whats-new-in-123");
        assert_eq!(slug("  "), "--");
    }

    #[test]
    fn slugs_keep_unicode_letters_and_digits() {
        assert_eq!(slug("Über Größe"), "über-größe");
        assert_eq!(slug("日本語のドキュメント"), "日本語のドキュメント");
        assert_eq!(slug("Привет, мир"), "привет-мир");
        assert_eq!(slug("Emoji 🚀 launch"), "emoji--launch");
        assert_eq!(slug("Café №٣"), "café-٣");
    }

    #[test]
    fn duplicate_headings_are_numbered() {
        let md = "# Setup\n\n## Setup\n\nSetup\n-----\n\n### Other\n\n## setup\n";
        assert_eq!(
            heading_anchors(md),
            ["setup", "setup-1", "setup-2", "other", "setup-3"]
        );
    }

    #[test]
    fn heading_text_includes_code_and_link_text_but_not_html_or_markup() {
        let md = "## The `run` command\n\
                  ## See [the *guide*](g.md) <small>beta</small>\n\
                  # Front ~~old~~ new\n";
        assert_eq!(
            heading_anchors(md),
            ["the-run-command", "see-the-guide-beta", "front-old-new"]
        );
    }

    #[test]
    fn headings_in_code_blocks_and_front_matter_are_not_anchors() {
        let md = "---\ntitle: Doc\n---\n\n# Real\n\n```\n# Fake\n```\n";
        assert_eq!(heading_anchors(md), ["real"]);
    }

    #[test]
    fn html_anchors_are_found_outside_code() {
        let md = "# Intro\n\
                  \n\
                  <a name=\"legacy-name\"></a>\n\
                  <div id='box' class=\"x\">\n\
                  <!-- <a name=\"commented\"> -->\n\
                  </div>\n\
                  \n\
                  Text <span id=inline>here</span> and `<a name=\"code\">`.\n\
                  \n\
                  ## Usage <a id=\"use\"></a>\n\
                  \n\
                  <input name=\"not-an-anchor\">\n";
        // As on GitHub, the space before the trailing tag stays in the heading's text.
        assert_eq!(
            anchors(md),
            ["intro", "legacy-name", "box", "inline", "use", "usage-"]
        );
        assert_eq!(heading_anchors(md), ["intro", "usage-"]);
    }

    #[test]
    fn counts_prose_words_headings_code_blocks_and_links() {
        let md = "---\ntitle: Front matter words\n---\n\
                  # Getting started\n\
                  \n\
                  Run **bo**ld `cargo run` now, see [the guide](g.md).\n\
                  \n\
                  ```sh\n\
                  cargo build --release\n\
                  ```\n\
                  \n    indented code\n\
                  \n\
                  - one\n\
                  - two\n";
        let counts = count(md);
        // getting started | run bold cargo run now, see the guide. | one | two
        assert_eq!(
            counts,
            Counts {
                lines: 15,
                words: 12,
                headings: 1,
                code_blocks: 2,
                links: 1,
            }
        );
    }

    #[test]
    fn empty_document_counts_nothing() {
        assert_eq!(count(""), Counts::default());
        assert!(extract_links("").is_empty());
        assert!(heading_anchors("").is_empty());
    }
}
