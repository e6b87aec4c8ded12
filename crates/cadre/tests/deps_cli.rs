//! `cadre deps` end to end: the JSON shape, `--check-cycles`, formats and bad input.

mod common;

use std::path::Path;

use common::{cadre, text};

fn write(root: &Path, files: &[(&str, &str)]) {
    for (rel, body) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
}

/// A Python package with a cycle (`pkg.a` ↔ `pkg.b`) and a TypeScript file.
fn cyclic_repo(root: &Path) {
    write(
        root,
        &[
            ("pkg/__init__.py", ""),
            ("pkg/a.py", "import os\nfrom pkg import b\n"),
            ("pkg/b.py", "from . import a\nx = 1\n"),
            ("pkg/c.py", "import pkg.a\n"),
            ("web/main.ts", "import { x } from './x';\nimport 'react';\n"),
            ("web/x.ts", "export const x = 1;\n"),
        ],
    );
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

#[test]
fn json_has_the_documented_shape_and_deterministic_order() {
    let dir = tempfile::tempdir().unwrap();
    cyclic_repo(dir.path());
    let out = cadre(&["deps", ".", "--format", "json"], dir.path());
    let doc = json(&out);
    for key in ["modules", "edges", "cycles", "order", "critical_path"] {
        assert!(doc.get(key).is_some_and(|v| v.is_array()), "missing {key}");
    }
    let modules = doc["modules"].as_array().unwrap();
    let ids: Vec<&str> = modules.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        vec!["pkg", "pkg.a", "pkg.b", "pkg.c", "web/main.ts", "web/x.ts"]
    );
    for m in modules {
        for key in ["id", "path", "language", "lines", "external"] {
            assert!(m.get(key).is_some(), "module without {key}: {m}");
        }
    }
    assert_eq!(modules[1]["path"], "pkg/a.py");
    assert_eq!(modules[1]["language"], "python");
    assert_eq!(modules[1]["lines"], 2);
    assert_eq!(modules[4]["language"], "typescript");
    let edge = &doc["edges"][0];
    assert_eq!(edge["from"], "pkg.a");
    assert_eq!(edge["to"], "pkg.b");
    assert_eq!(edge["kind"], "runtime");
    assert_eq!(edge["line"], 2);
    assert_eq!(doc["cycles"], serde_json::json!([["pkg.a", "pkg.b"]]));
    assert_eq!(doc["order"].as_array().unwrap().len(), 6);
    // Same input, same bytes.
    let again = cadre(&["deps", ".", "--format", "json"], dir.path());
    assert_eq!(out.stdout, again.stdout);
}

#[test]
fn include_external_adds_package_nodes() {
    let dir = tempfile::tempdir().unwrap();
    cyclic_repo(dir.path());
    let doc = json(&cadre(
        &["deps", ".", "--format", "json", "--include-external"],
        dir.path(),
    ));
    let externals: Vec<&str> = doc["modules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["external"] == true)
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(externals, vec!["os", "react"]);
}

#[test]
fn check_cycles_exits_1_and_prints_the_cycle_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    cyclic_repo(dir.path());
    let out = cadre(&["deps", ".", "--check-cycles"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("pkg.a -> pkg.b -> pkg.a"),
        "{}",
        text(&out.stderr)
    );
    // Without the cycle: exit 0.
    std::fs::write(dir.path().join("pkg/b.py"), "x = 1\n").unwrap();
    let out = cadre(&["deps", ".", "--check-cycles"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("pkg.a"));
}

#[test]
fn dot_and_mermaid_formats_draw_every_edge() {
    let dir = tempfile::tempdir().unwrap();
    cyclic_repo(dir.path());
    let out = cadre(&["deps", ".", "--format", "dot"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dot = text(&out.stdout);
    assert!(dot.starts_with("digraph deps {"));
    assert!(dot.contains("\"web/main.ts\" -> \"web/x.ts\" [style=solid];"));
    let out = cadre(&["deps", ".", "--format", "mermaid"], dir.path());
    let mermaid = text(&out.stdout);
    assert!(mermaid.starts_with("flowchart LR"));
    assert_eq!(mermaid.matches("-->").count(), 4, "{mermaid}");
}

#[test]
fn bad_file_is_reported_with_file_and_line_and_the_rest_analysed() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("good.py", "import bad\n"),
            ("bad.py", "import good\n\nclass (:\n"),
        ],
    );
    let out = cadre(&["deps", ".", "--format", "json"], dir.path());
    let doc = json(&out);
    assert!(
        text(&out.stderr).contains("warning: bad.py:3: syntax error"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(doc["warnings"][0]["path"], "bad.py");
    assert_eq!(doc["warnings"][0]["line"], 3);
    assert_eq!(doc["edges"].as_array().unwrap().len(), 2);
}

#[test]
fn full_parse_reports_syntax_errors_the_fast_path_does_not_stop_at() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("good.py", "x = 1\n"),
            // Well-formed tokens, a malformed statement: the scanner follows it.
            ("odd.py", "import good\nx = 1 +\nfrom . import good as g\n"),
            // An unmatched bracket stops the scanner: both paths report it.
            ("bad.py", "import good\ny = (1,\n"),
        ],
    );
    let fast = cadre(&["deps", ".", "--format", "json"], dir.path());
    let full = cadre(
        &["deps", ".", "--format", "json", "--full-parse"],
        dir.path(),
    );
    let (fast_doc, full_doc) = (json(&fast), json(&full));
    assert_eq!(fast_doc["edges"], full_doc["edges"]);
    assert_eq!(fast_doc["edges"].as_array().unwrap().len(), 2);
    let lines = |doc: &serde_json::Value| -> Vec<String> {
        doc["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| format!("{}:{}", w["path"].as_str().unwrap(), w["line"]))
            .collect()
    };
    assert_eq!(lines(&fast_doc), vec!["bad.py:2"]);
    assert_eq!(lines(&full_doc), vec!["bad.py:2", "odd.py:3"]);
    assert!(text(&full.stderr).contains("warning: odd.py:3: syntax error"));
}

#[test]
fn minified_and_binary_files_are_skipped_without_stalling() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &[("a.js", "require('./b');\n"), ("b.js", "")]);
    // 5 MB of minified JavaScript on one line.
    let mut min = String::with_capacity(5 * 1024 * 1024 + 64);
    let mut i = 0;
    while min.len() < 5 * 1024 * 1024 {
        min.push_str(&format!(
            "var a{i}=function(b){{return b?{i}:require('./a')}};"
        ));
        i += 1;
    }
    std::fs::write(dir.path().join("vendor.min.js"), &min).unwrap();
    let mut binary = vec![0u8; 4096];
    binary.extend_from_slice(b"import x from './a';");
    std::fs::write(dir.path().join("blob.js"), binary).unwrap();
    let out = cadre(&["deps", ".", "--format", "json"], dir.path());
    let doc = json(&out);
    let skipped: Vec<&str> = doc["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, vec!["blob.js", "vendor.min.js"]);
    assert!(text(&out.stderr).contains("skipped vendor.min.js: larger than"));
    assert_eq!(doc["edges"][0]["to"], "b.js");

    // With the limit raised, the 5 MB file is parsed too.
    let out = cadre(
        &[
            "deps",
            ".",
            "--format",
            "json",
            "--max-file-size",
            "8000000",
        ],
        dir.path(),
    );
    let doc = json(&out);
    assert!(
        doc["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["from"] == "vendor.min.js" && e["to"] == "a.js")
    );
}

#[test]
fn a_missing_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = cadre(&["deps", "no-such-dir"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no-such-dir is not a directory"),
        "{}",
        text(&out.stderr)
    );
}

/// A small XML well-formedness check: balanced and properly nested tags, quoted attributes,
/// no stray `<` or unescaped `&` in text or attribute values. Returns the start tags' names.
fn well_formed(xml: &str) -> Result<Vec<String>, String> {
    let entity_ok = |s: &str| {
        s.match_indices('&').all(|(i, _)| {
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| s[i..].starts_with(e))
        })
    };
    let mut open: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = xml;
    let mut roots = 0;
    while let Some(i) = rest.find('<') {
        let text = &rest[..i];
        if !entity_ok(text) || text.contains('>') {
            return Err(format!("bad text {text:?}"));
        }
        rest = &rest[i..];
        if let Some(body) = rest.strip_prefix("<!--") {
            let end = body.find("-->").ok_or("unterminated comment")?;
            if body[..end].contains("--") {
                return Err("`--` inside a comment".into());
            }
            rest = &body[end + 3..];
            continue;
        }
        if let Some(body) = rest.strip_prefix("<?") {
            let end = body.find("?>").ok_or("unterminated declaration")?;
            rest = &body[end + 2..];
            continue;
        }
        // A tag: find its end outside quoted attribute values.
        let mut quote = None;
        let mut end = None;
        for (k, c) in rest.char_indices().skip(1) {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (Some(_), '<') => return Err(format!("`<` in an attribute: {}", &rest[..k])),
                (None, '<') => return Err(format!("`<` inside a tag: {}", &rest[..k])),
                (None, '>') => {
                    end = Some(k);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or("unterminated tag")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if !entity_ok(tag) {
            return Err(format!("unescaped `&` in {tag:?}"));
        }
        if let Some(name) = tag.strip_prefix('/') {
            let top = open.pop().ok_or(format!("</{name}> without a start tag"))?;
            if top != name.trim() {
                return Err(format!("</{name}> closes <{top}>"));
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '/')
            .collect();
        if name.is_empty() {
            return Err(format!("a tag without a name: {tag:?}"));
        }
        // Attributes: name="value" pairs.
        let attrs = tag[name.len()..].trim_end_matches('/').trim();
        let mut a = attrs;
        while !a.is_empty() {
            let eq = a
                .find('=')
                .ok_or(format!("attribute without a value in {tag:?}"))?;
            let q = a[eq + 1..]
                .chars()
                .next()
                .ok_or("attribute without a value")?;
            if q != '"' && q != '\'' {
                return Err(format!("unquoted attribute in {tag:?}"));
            }
            let close = a[eq + 2..].find(q).ok_or("unterminated attribute")?;
            a = a[eq + 2 + close + 1..].trim_start();
        }
        if open.is_empty() {
            roots += 1;
        }
        names.push(name.clone());
        if !tag.ends_with('/') {
            open.push(name);
        }
    }
    if !rest.trim().is_empty() {
        return Err(format!("text after the root element: {rest:?}"));
    }
    if let Some(top) = open.pop() {
        return Err(format!("<{top}> is never closed"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(names)
}

#[test]
fn the_well_formedness_check_rejects_broken_xml() {
    assert!(well_formed("<svg><g></g></svg>").is_ok());
    assert!(well_formed("<svg><g></svg>").is_err());
    assert!(well_formed("<svg><text>a & b</text></svg>").is_err());
    assert!(well_formed("<svg><text>a < b</text></svg>").is_err());
    assert!(well_formed("<svg a=b></svg>").is_err());
    assert!(well_formed("<svg/><svg/>").is_err());
}

#[test]
fn svg_format_is_well_formed_with_one_box_per_module_and_the_critical_path_named() {
    let dir = tempfile::tempdir().unwrap();
    cyclic_repo(dir.path());
    // A module whose id needs escaping.
    write(
        dir.path(),
        &[("web/we<ird>&'q\".ts", "export const w = 1;\n")],
    );
    let doc = json(&cadre(&["deps", ".", "--format", "json"], dir.path()));
    let out = cadre(&["deps", ".", "--format", "svg"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let svg = text(&out.stdout);
    let names = well_formed(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(names[0], "svg");
    let modules = doc["modules"].as_array().unwrap();
    assert_eq!(modules.len(), 7);
    assert_eq!(svg.matches("<g class=\"module ").count(), modules.len());
    assert_eq!(names.iter().filter(|n| *n == "rect").count(), modules.len());
    assert!(
        svg.contains("<title>web/we&lt;ird&gt;&amp;&apos;q&quot;.ts ("),
        "{svg}"
    );
    let critical: Vec<&str> = doc["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(critical, vec!["pkg.a", "pkg.b", "pkg.c"]);
    for id in &critical {
        assert!(
            svg.contains(&format!("<title>{id} (CRITICAL,")),
            "{id} not drawn as critical"
        );
        assert!(svg.contains(&format!(">{id}</text>")), "{id} not labelled");
    }
    // The cycle pkg.a <-> pkg.b: two red edges; pkg.c -> pkg.a is a critical-path edge.
    let group = |class: &str| {
        let start = svg.find(&format!("<g class=\"{class}\"")).unwrap();
        let end = start + svg[start..].find("</g>").unwrap();
        svg[start..end].matches("<path ").count()
    };
    assert_eq!(group("cycle-edges"), 2);
    assert_eq!(group("critical-edges"), 1);
    assert_eq!(group("edges"), doc["edges"].as_array().unwrap().len() - 3);
}
