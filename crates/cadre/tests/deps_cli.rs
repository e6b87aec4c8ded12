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
