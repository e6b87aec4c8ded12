//! Resolution on fixture repositories written into a temporary directory: Python (src
//! layout, namespace packages, relative imports, `from pkg import name`), TypeScript
//! (tsconfig `paths` with `extends`, `index` files, workspaces) and the report's graph parts.

use std::path::Path;

use cadre_pack_code::deps::{EdgeKind, Options, Report, analyze};

fn write(root: &Path, files: &[(&str, &str)]) {
    for (rel, text) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn run(files: &[(&str, &str)], opts: &Options) -> Report {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), files);
    analyze(dir.path(), opts, &|_, _| {}).unwrap()
}

/// Edges as `(from, to, kind, line)`.
fn edges(report: &Report) -> Vec<(String, String, EdgeKind, u32)> {
    report
        .edges
        .iter()
        .map(|e| (e.from.clone(), e.to.clone(), e.kind, e.line))
        .collect()
}

fn e(from: &str, to: &str, kind: EdgeKind, line: u32) -> (String, String, EdgeKind, u32) {
    (from.to_owned(), to.to_owned(), kind, line)
}

fn ids(report: &Report) -> Vec<&str> {
    report.modules.iter().map(|m| m.id.as_str()).collect()
}

use EdgeKind::{Dynamic, Runtime, TypeOnly};

#[test]
fn python_src_layout_packages_and_relative_imports() {
    let report = run(
        &[
            ("src/app/__init__.py", "from .core import run\n"),
            (
                "src/app/core.py",
                "import os\nfrom . import util\nfrom .util import helper\n",
            ),
            ("src/app/util.py", "from ..app import models\n"),
            (
                "src/app/models/__init__.py",
                "from .base import Base\nfrom . import *\n",
            ),
            ("src/app/models/base.py", "from app.models import user\n"),
            (
                "src/app/models/user.py",
                "import app.models.base as b\nimport app.missing\n",
            ),
            ("tests/test_core.py", "import app.core\n"),
        ],
        &Options::default(),
    );
    assert_eq!(
        ids(&report),
        vec![
            "app",
            "app.core",
            "app.models",
            "app.models.base",
            "app.models.user",
            "app.util",
            "tests.test_core",
        ]
    );
    assert_eq!(
        edges(&report),
        vec![
            e("app", "app.core", Runtime, 1),
            e("app.core", "app.util", Runtime, 2),
            e("app.models", "app.models.base", Runtime, 1),
            e("app.models.base", "app.models.user", Runtime, 1),
            // `import app.missing` falls back to its longest existing prefix.
            e("app.models.user", "app", Runtime, 2),
            e("app.models.user", "app.models.base", Runtime, 1),
            e("app.util", "app.models", Runtime, 1),
            e("tests.test_core", "app.core", Runtime, 1),
        ]
    );
    // `os` is external and left out unless asked for.
    assert!(report.modules.iter().all(|m| !m.external));
}

#[test]
fn python_namespace_packages_and_externals() {
    let report = run(
        &[
            (
                "ns/sub/a.py",
                "import ns.sub.b\nimport numpy.linalg\nfrom ns import sub\n",
            ),
            ("ns/sub/b.py", "from ns.sub import a\n"),
        ],
        &Options {
            include_external: true,
            ..Options::default()
        },
    );
    assert_eq!(ids(&report), vec!["ns.sub.a", "ns.sub.b", "numpy"]);
    let numpy = report.modules.iter().find(|m| m.id == "numpy").unwrap();
    assert!(numpy.external && numpy.path.is_none());
    assert_eq!(
        edges(&report),
        vec![
            e("ns.sub.a", "ns.sub.b", Runtime, 1),
            e("ns.sub.a", "numpy", Runtime, 2),
            e("ns.sub.b", "ns.sub.a", Runtime, 1),
        ]
    );
    assert_eq!(report.cycles, vec![vec!["ns.sub.a", "ns.sub.b"]]);
}

#[test]
fn python_type_checking_edges_are_type_only_and_can_be_dropped() {
    let files = [
        ("pkg/__init__.py", ""),
        (
            "pkg/a.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n",
        ),
        ("pkg/b.py", "import pkg.a\n"),
    ];
    let report = run(&files, &Options::default());
    assert_eq!(
        edges(&report),
        vec![
            e("pkg.a", "pkg.b", TypeOnly, 3),
            e("pkg.b", "pkg.a", Runtime, 1),
        ]
    );
    let report = run(
        &files,
        &Options {
            type_only: false,
            ..Options::default()
        },
    );
    assert_eq!(edges(&report), vec![e("pkg.b", "pkg.a", Runtime, 1)]);
    assert!(report.cycles.is_empty());
}

#[test]
fn typescript_paths_with_extends_index_and_js_extensions() {
    let report = run(
        &[
            (
                "tsconfig.base.json",
                "{\n  // comments and trailing commas are allowed\n  \"compilerOptions\": {\n    \"baseUrl\": \".\",\n    \"paths\": { \"@lib/*\": [\"src/lib/*\"], \"@cfg\": [\"src/config.ts\"], },\n  },\n}\n",
            ),
            ("tsconfig.json", "{ \"extends\": \"./tsconfig.base.json\" }"),
            (
                "src/main.ts",
                "import { a } from '@lib/a';\nimport cfg from '@cfg';\nimport { u } from './util';\nimport { v } from './v.js';\nimport type { T } from 'src/types';\nconst l = () => import('./lazy');\n",
            ),
            ("src/lib/a/index.ts", "export const a = 1;\n"),
            ("src/config.ts", "export default {};\n"),
            ("src/util/index.tsx", "export const u = 1;\n"),
            ("src/v.ts", "export const v = 1;\n"),
            ("src/types.d.ts", "export type T = number;\n"),
            ("src/lazy.ts", "import React from 'react';\nexport {};\n"),
        ],
        &Options::default(),
    );
    assert_eq!(
        edges(&report),
        vec![
            e("src/main.ts", "src/config.ts", Runtime, 2),
            e("src/main.ts", "src/lazy.ts", Dynamic, 6),
            e("src/main.ts", "src/lib/a/index.ts", Runtime, 1),
            e("src/main.ts", "src/types.d.ts", TypeOnly, 5),
            e("src/main.ts", "src/util/index.tsx", Runtime, 3),
            e("src/main.ts", "src/v.ts", Runtime, 4),
        ]
    );
}

#[test]
fn workspaces_resolve_own_packages_by_exports_and_main() {
    let report = run(
        &[
            (
                "package.json",
                "{\"name\": \"root\", \"workspaces\": [\"packages/*\"]}",
            ),
            (
                "packages/core/package.json",
                "{\"name\": \"@acme/core\", \"exports\": {\".\": {\"import\": \"./src/index.ts\"}, \"./extra/*\": \"./src/extra/*.ts\"}}",
            ),
            ("packages/core/src/index.ts", "export const core = 1;\n"),
            ("packages/core/src/extra/x.ts", "export const x = 1;\n"),
            (
                "packages/util/package.json",
                "{\"name\": \"util\", \"main\": \"lib/main.js\"}",
            ),
            (
                "packages/util/lib/main.js",
                "module.exports = require('@acme/core');\n",
            ),
            (
                "packages/app/index.js",
                "const c = require('@acme/core');\nconst x = require('@acme/core/extra/x');\nconst u = require('util');\nconst l = require('left-pad');\n",
            ),
            ("node_modules/left-pad/index.js", "module.exports = 1;\n"),
        ],
        &Options {
            include_external: true,
            ..Options::default()
        },
    );
    assert_eq!(
        edges(&report),
        vec![
            e("packages/app/index.js", "left-pad", Runtime, 4),
            e(
                "packages/app/index.js",
                "packages/core/src/extra/x.ts",
                Runtime,
                2
            ),
            e(
                "packages/app/index.js",
                "packages/core/src/index.ts",
                Runtime,
                1
            ),
            e(
                "packages/app/index.js",
                "packages/util/lib/main.js",
                Runtime,
                3
            ),
            e(
                "packages/util/lib/main.js",
                "packages/core/src/index.ts",
                Runtime,
                1
            ),
        ]
    );
    // node_modules is never walked.
    assert!(
        report
            .modules
            .iter()
            .all(|m| m.id != "node_modules/left-pad/index.js")
    );
}

#[test]
fn gitignore_exclude_and_language_filters_apply() {
    let report = run(
        &[
            (".gitignore", "build/\n"),
            ("build/out.js", "require('./a');\n"),
            ("gen/skip.py", "import a\n"),
            ("a.js", "export {};\n"),
            ("a.py", "import b\n"),
            ("b.py", ""),
        ],
        &Options {
            exclude: vec!["gen".to_owned()],
            ..Options::default()
        },
    );
    assert_eq!(ids(&report), vec!["a", "a.js", "b"]);
    let report = run(
        &[
            ("a.js", "export {};\n"),
            ("a.py", "import b\n"),
            ("b.py", ""),
        ],
        &Options {
            languages: vec![cadre_pack_code::deps::Language::JavaScript],
            ..Options::default()
        },
    );
    assert_eq!(ids(&report), vec!["a.js"]);
}

#[test]
fn report_order_critical_path_and_priorities() {
    // app imports models and views; views imports models; lines 3, 1, 2 (+ comments).
    let report = run(
        &[
            ("app.py", "import models\nimport views\nx = 1\n"),
            ("views.py", "# a comment\nimport models\n"),
            ("models.py", "\nA = 1\nB = 2\n"),
            ("lone.py", "x = 1\n"),
        ],
        &Options::default(),
    );
    // Ready modules are taken by id: `lone` before `models`.
    assert_eq!(report.order, vec!["lone", "models", "views", "app"]);
    assert_eq!(report.critical_path, vec!["models", "views", "app"]);
    assert_eq!(report.critical_length, 2 + 1 + 3);
    let lone = report.modules.iter().find(|m| m.id == "lone").unwrap();
    assert_eq!(lone.slack, 5);
    assert_eq!(lone.priority, cadre_pack_code::deps::Priority::High);
}

#[test]
fn binary_oversized_and_broken_files_are_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("ok.py", "import broken\n"),
            ("broken.py", "import ok\ndef f(:\n"),
        ],
    );
    std::fs::write(dir.path().join("bin.js"), b"\x00\x01\x02require('x')").unwrap();
    std::fs::write(dir.path().join("big.js"), vec![b'a'; 4096]).unwrap();
    let report = analyze(
        dir.path(),
        &Options {
            max_file_size: 1024,
            ..Options::default()
        },
        &|_, _| {},
    )
    .unwrap();
    let skipped: Vec<&str> = report.skipped.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(skipped, vec!["big.js", "bin.js"]);
    assert!(report.skipped[0].reason.contains("larger than 1024"));
    assert!(report.skipped[1].reason.contains("binary"));
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(
        report.warnings[0].to_string().split(": ").next(),
        Some("broken.py:2")
    );
    assert_eq!(report.cycles, vec![vec!["broken", "ok"]]);
}

#[test]
fn a_missing_directory_is_an_invalid_input_error() {
    let err = analyze(
        Path::new("/nonexistent/cadre-deps"),
        &Options::default(),
        &|_, _| {},
    )
    .unwrap_err();
    assert_eq!(err.code(), cadre_core::ErrorCode::InvalidInput);
    assert!(err.to_string().contains("/nonexistent/cadre-deps"));
}
