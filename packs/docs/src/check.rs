//! Checking the links of one document against the files under the root.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use cadre_core::{Error, Message};
use serde::{Deserialize, Serialize};

use crate::files::{join, normalize, read_doc};
use crate::markdown::{anchors, extract_links};

/// A link that does not lead anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLink {
    /// The 1-based line the link starts on.
    pub line: u32,
    /// The destination as written.
    pub target: String,
    /// Why it is broken, e.g. ``no such file `guide/setup.md` ``.
    pub reason: String,
}

/// The links of one document and which of them are broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkReport {
    /// The document, relative to the documentation root.
    pub path: String,
    /// How many links the document has, external ones included.
    pub links: u32,
    /// How many of them point outside the documentation (`https:`, `mailto:`, any `scheme:`,
    /// `//host`); these are counted, not checked.
    pub external: u32,
    /// The broken ones, in document order.
    pub broken: Vec<BrokenLink>,
}

impl Message for LinkReport {
    const TYPE: &'static str = "docs.link_report";
}

impl LinkReport {
    /// Whether no link is broken.
    pub fn is_clean(&self) -> bool {
        self.broken.is_empty()
    }
}

/// Checks the links of the Markdown document `rel` (relative to `root`, `/`-separated).
///
/// - External links (`http:`, `https:`, `mailto:`, any other `scheme:`, `//host/...`) are
///   counted but not checked: there is no network here.
/// - `#fragment` must be an anchor of the document itself (see [`anchors`](crate::anchors)).
/// - `path` and `path#fragment` are resolved against the document's directory, `/path`
///   against `root`; `?query` is ignored and percent-encoding decoded. The file or directory
///   must exist, and when it is a Markdown file (`.md`, `.markdown`) the fragment, if any, must
///   be one of its anchors. A path that climbs above `root` is broken.
///
/// Fragments are compared as GitHub's page does: exactly, then lowercased; `#top` and an empty
/// fragment always lead to the top of the page.
///
/// # Errors
/// When the document itself cannot be read, naming it: [`ErrorCode::NotFound`] when it does
/// not exist, [`ErrorCode::InvalidInput`] when `rel` leaves `root` or the file is not UTF-8.
///
/// [`ErrorCode::NotFound`]: cadre_core::ErrorCode::NotFound
/// [`ErrorCode::InvalidInput`]: cadre_core::ErrorCode::InvalidInput
pub fn check_file(root: &Path, rel: &str) -> Result<LinkReport, Error> {
    let (parts, text) = read_doc(root, rel)?;
    let dir = parts[..parts.len() - 1].to_vec();
    let own_anchors = anchors(&text);
    let mut other_anchors: HashMap<Vec<String>, Result<Vec<String>, String>> = HashMap::new();
    let links = extract_links(&text);
    let mut report = LinkReport {
        path: parts.join("/"),
        links: u32::try_from(links.len()).unwrap_or(u32::MAX),
        external: 0,
        broken: Vec::new(),
    };
    for link in links {
        let problem = match classify(&link.target) {
            Target::External => {
                report.external += 1;
                None
            }
            Target::Local { path, fragment } => {
                check_local(root, &dir, &own_anchors, &mut other_anchors, path, fragment).err()
            }
        };
        if let Some(reason) = problem {
            report.broken.push(BrokenLink {
                line: link.line,
                target: link.target,
                reason,
            });
        }
    }
    Ok(report)
}

/// Where a link points.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    /// Somewhere with a scheme or a host of its own.
    External,
    /// A path (empty for the document itself) and an optional fragment, both still
    /// percent-encoded.
    Local {
        path: &'a str,
        fragment: Option<&'a str>,
    },
}

fn classify(target: &str) -> Target<'_> {
    if target.starts_with("//") || has_scheme(target) {
        return Target::External;
    }
    let (before, fragment) = match target.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (target, None),
    };
    let path = before.split_once('?').map_or(before, |(path, _)| path);
    Target::Local { path, fragment }
}

/// Whether `target` starts with a URI scheme: a letter, then letters, digits, `+`, `-` or `.`,
/// then `:`.
fn has_scheme(target: &str) -> bool {
    let Some((scheme, _)) = target.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Checks a local link; `Err` holds why it is broken.
fn check_local(
    root: &Path,
    dir: &[String],
    own_anchors: &[String],
    other_anchors: &mut HashMap<Vec<String>, Result<Vec<String>, String>>,
    path: &str,
    fragment: Option<&str>,
) -> Result<(), String> {
    let fragment = match fragment {
        Some(raw) => Some(
            percent_decode(raw).ok_or_else(|| format!("invalid percent-encoding in `#{raw}`"))?,
        ),
        None => None,
    };
    if path.is_empty() {
        return match fragment {
            Some(fragment) if !has_anchor(own_anchors, &fragment) => {
                Err(format!("no anchor `#{fragment}` in this file"))
            }
            _ => Ok(()),
        };
    }
    let (base, rest) = match path.strip_prefix('/') {
        Some(rest) => (Vec::new(), rest),
        None => (dir.to_vec(), path),
    };
    let mut segments = Vec::new();
    for raw in rest.split('/') {
        segments.push(
            percent_decode(raw).ok_or_else(|| format!("invalid percent-encoding in `{raw}`"))?,
        );
    }
    let parts = normalize(base, segments.iter().map(String::as_str))
        .ok_or_else(|| "leaves the documentation root".to_string())?;
    let shown = if parts.is_empty() {
        "/".to_string()
    } else {
        parts.join("/")
    };
    let full = join(root, &parts);
    let meta = fs::metadata(&full).map_err(|_| format!("no such file `{shown}`"))?;
    let Some(fragment) = fragment else {
        return Ok(());
    };
    let markdown = full
        .extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| ext.eq_ignore_ascii_case("md") || ext.eq_ignore_ascii_case("markdown"));
    if !meta.is_file() || !markdown {
        return Ok(()); // fragments of directories, source files, images are not checked
    }
    let target_anchors = other_anchors.entry(parts).or_insert_with(|| {
        fs::read_to_string(&full)
            .map(|text| anchors(&text))
            .map_err(|e| format!("cannot read `{shown}`: {e}"))
    });
    match target_anchors {
        Err(reason) => Err(reason.clone()),
        Ok(list) if !has_anchor(list, &fragment) => {
            Err(format!("no anchor `#{fragment}` in `{shown}`"))
        }
        Ok(_) => Ok(()),
    }
}

fn has_anchor(anchors: &[String], fragment: &str) -> bool {
    if fragment.is_empty() || anchors.iter().any(|a| a == fragment) {
        return true;
    }
    let lower = fragment.to_lowercase();
    anchors.contains(&lower) || lower == "top"
}

/// Decodes `%XX` escapes. A `%` not followed by two hex digits stays as it is; `None` when the
/// decoded bytes are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_string());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => hex(hi).zip(hex(lo)).map(|(hi, lo)| hi * 16 + lo),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use cadre_core::ErrorCode;

    use super::*;

    #[test]
    fn targets_are_classified() {
        for external in [
            "https://example.com",
            "http://x",
            "mailto:a@b.c",
            "ftp://files",
            "tel:+123",
            "git+ssh://host/repo",
            "//cdn.example.com/x.js",
            "HTTPS://EXAMPLE.COM",
        ] {
            assert_eq!(classify(external), Target::External, "{external}");
        }
        assert_eq!(
            classify("guide/setup.md#install"),
            Target::Local {
                path: "guide/setup.md",
                fragment: Some("install")
            }
        );
        assert_eq!(
            classify("#top"),
            Target::Local {
                path: "",
                fragment: Some("top")
            }
        );
        assert_eq!(
            classify("a.md?plain=1#L3"),
            Target::Local {
                path: "a.md",
                fragment: Some("L3")
            }
        );
        // A colon after a slash is part of a path, not a scheme.
        assert_eq!(
            classify("./notes:draft.md"),
            Target::Local {
                path: "./notes:draft.md",
                fragment: None
            }
        );
        assert_eq!(
            classify("1password:x"),
            Target::Local {
                path: "1password:x",
                fragment: None
            }
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("my%20file.md").unwrap(), "my file.md");
        assert_eq!(percent_decode("%C3%BCber").unwrap(), "über");
        assert_eq!(percent_decode("100%").unwrap(), "100%");
        assert_eq!(percent_decode("50%zz").unwrap(), "50%zz");
        assert_eq!(percent_decode("%2e%2E").unwrap(), "..");
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn anchors_match_exactly_then_lowercased_and_top_is_always_there() {
        let list = vec!["setup".to_string(), "über-uns".to_string()];
        assert!(has_anchor(&list, "setup"));
        assert!(has_anchor(&list, "Setup"));
        assert!(has_anchor(&list, "ÜBER-UNS"));
        assert!(has_anchor(&list, ""));
        assert!(has_anchor(&list, "top"));
        assert!(!has_anchor(&list, "install"));
    }

    /// A small tree:
    ///
    /// ```text
    /// README.md
    /// guide/setup.md
    /// guide/my notes.md
    /// guide/img/logo.png
    /// api/index.md
    /// ```
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("guide/img")).unwrap();
        fs::create_dir_all(root.join("api")).unwrap();
        fs::write(root.join("README.md"), "# Project\n\n## Quick start\n").unwrap();
        fs::write(
            root.join("guide/setup.md"),
            "# Setup\n\n## Install\n\n<a name=\"legacy\"></a>\n",
        )
        .unwrap();
        fs::write(root.join("guide/my notes.md"), "# Notes\n").unwrap();
        fs::write(root.join("guide/img/logo.png"), [0x89, b'P', b'N', b'G']).unwrap();
        fs::write(root.join("api/index.md"), "# API\n").unwrap();
        dir
    }

    fn reasons(root: &Path, rel: &str, body: &str) -> Vec<(u32, String, String)> {
        fs::write(root.join(rel), body).unwrap();
        check_file(root, rel)
            .unwrap()
            .broken
            .into_iter()
            .map(|b| (b.line, b.target, b.reason))
            .collect()
    }

    #[test]
    fn same_file_fragments() {
        let dir = tree();
        let got = reasons(
            dir.path(),
            "self.md",
            "# Title\n## Part\n[a](#title) [b](#part) [c](#Part) [d](#nope) [e](#) [f](#top)\n",
        );
        assert_eq!(
            got,
            [(
                3,
                "#nope".to_string(),
                "no anchor `#nope` in this file".to_string()
            )]
        );
    }

    #[test]
    fn relative_files_and_directories_resolve_from_the_document() {
        let dir = tree();
        let body = "[ok](setup.md) [dir](img/) [dir2](../api) [img](img/logo.png)\n\
                    [root](/README.md) [up](../README.md#quick-start) [self](./setup.md#install)\n\
                    [gone](missing.md) [gone dir](../nowhere/)\n";
        let got = reasons(dir.path(), "guide/links.md", body);
        assert_eq!(
            got,
            [
                (
                    3,
                    "missing.md".to_string(),
                    "no such file `guide/missing.md`".to_string()
                ),
                (
                    3,
                    "../nowhere/".to_string(),
                    "no such file `nowhere`".to_string()
                ),
            ]
        );
    }

    #[test]
    fn links_that_climb_above_the_root_are_broken() {
        let dir = tree();
        let got = reasons(
            dir.path(),
            "guide/escape.md",
            "[ok](../README.md)\n[out](../../etc/passwd)\n[enc](%2E%2E/%2E%2E/x)\n[abs](/../x)\n",
        );
        let expect = |line: u32, target: &str| {
            (
                line,
                target.to_string(),
                "leaves the documentation root".to_string(),
            )
        };
        assert_eq!(
            got,
            [
                expect(2, "../../etc/passwd"),
                expect(3, "%2E%2E/%2E%2E/x"),
                expect(4, "/../x"),
            ]
        );
    }

    #[test]
    fn fragments_into_other_markdown_files_must_exist() {
        let dir = tree();
        let body = "[a](guide/setup.md#install) [b](guide/setup.md#legacy)\n\
                    [c](guide/setup.md#uninstall)\n\
                    [d](guide/img/logo.png#anything) [e](guide#x)\n";
        let got = reasons(dir.path(), "index.md", body);
        assert_eq!(
            got,
            [(
                2,
                "guide/setup.md#uninstall".to_string(),
                "no anchor `#uninstall` in `guide/setup.md`".to_string()
            )]
        );
    }

    #[test]
    fn percent_encoded_paths_and_fragments_are_decoded() {
        let dir = tree();
        let body = "[a](guide/my%20notes.md) [b](guide/my%20notes.md#notes)\n\
                    [c](guide/my%20notes.md#n%6Ftes) [d](guide/my notes.md)\n\
                    [e](guide/my%2520notes.md) [f](guide/%FF.md)\n";
        let got = reasons(dir.path(), "enc.md", body);
        assert_eq!(
            got,
            [
                (
                    3,
                    "guide/my%2520notes.md".to_string(),
                    "no such file `guide/my%20notes.md`".to_string()
                ),
                (
                    3,
                    "guide/%FF.md".to_string(),
                    "invalid percent-encoding in `%FF.md`".to_string()
                ),
            ]
        );
    }

    #[test]
    fn counts_links_and_external_ones() {
        let dir = tree();
        fs::write(
            dir.path().join("ext.md"),
            "[a](https://a.example) <mailto:x@y.z> <x@y.z> [b](README.md) ![c](//cdn.example/i.png)\n\
             ```\n[code](https://not.counted)\n```\n",
        )
        .unwrap();
        let report = check_file(dir.path(), "ext.md").unwrap();
        assert_eq!(
            report,
            LinkReport {
                path: "ext.md".into(),
                links: 5,
                external: 4,
                broken: vec![],
            }
        );
        assert!(report.is_clean());
    }

    #[test]
    fn the_document_itself_must_be_readable() {
        let dir = tree();
        let err = check_file(dir.path(), "guide/absent.md").unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        assert!(err.to_string().contains("absent.md"), "{err}");
        let err = check_file(dir.path(), "../outside.md").unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput);
        assert!(err.to_string().contains("`../outside.md`"), "{err}");
        fs::write(dir.path().join("bin.md"), [0xff, 0xfe, 0x00]).unwrap();
        let err = check_file(dir.path(), "bin.md").unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput);
        assert!(err.to_string().contains("is not UTF-8"), "{err}");
    }
}
