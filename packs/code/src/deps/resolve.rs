//! Resolution of imports to module ids: Python dotted names (packages, namespace packages,
//! `src/` layouts, relative imports) and JavaScript/TypeScript repository-relative paths
//! (extensions, `index` files, `tsconfig.json` `baseUrl`/`paths` with `extends`, the
//! repository's own packages by `package.json` `exports`/`main`).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value;

use super::extract::ImportSpec;

/// Where an import leads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A module of the repository, by id.
    Internal(String),
    /// A package from outside the repository, by its top-level name (`numpy`, `react`,
    /// `@scope/pkg`).
    External(String),
}

/// The Python module id of a repository-relative file path, given whether `src/` is a root.
///
/// `pkg/mod.py` is `pkg.mod`, `pkg/__init__.py` is `pkg`, `src/pkg/a.py` is `pkg.a` when `src/`
/// is a root (it has no `__init__.py`).
pub fn python_module_id(rel: &str, src_is_root: bool) -> String {
    let rel = match rel.strip_prefix("src/") {
        Some(rest) if src_is_root => rest,
        _ => rel,
    };
    let stem = rel.strip_suffix(".py").unwrap_or(rel);
    let stem = match stem.strip_suffix("/__init__") {
        Some(pkg) => pkg,
        None => stem,
    };
    stem.replace('/', ".")
}

/// The Python modules of a repository, for resolving imports.
#[derive(Debug, Default)]
pub struct PythonIndex {
    modules: HashSet<String>,
    packages: HashSet<String>,
    top: HashSet<String>,
}

impl PythonIndex {
    /// An index of the given modules: `(id, is_package)` for every file.
    pub fn new<'a>(modules: impl IntoIterator<Item = (&'a str, bool)>) -> Self {
        let mut index = Self::default();
        for (id, is_package) in modules {
            index.modules.insert(id.to_owned());
            if is_package {
                index.packages.insert(id.to_owned());
            }
            if let Some(first) = id.split('.').next() {
                index.top.insert(first.to_owned());
            }
        }
        index
    }

    /// Whether `id` is a module of the repository.
    pub fn contains(&self, id: &str) -> bool {
        self.modules.contains(id)
    }

    /// Resolves an absolute dotted name: the module itself, else its longest prefix that is a
    /// module (`import pkg.missing` → `pkg`), else nothing when the first part is the
    /// repository's (a namespace package only), else an external package by its first part.
    pub fn resolve_absolute(&self, name: &str) -> Option<Target> {
        if name.is_empty() {
            return None;
        }
        if self.modules.contains(name) {
            return Some(Target::Internal(name.to_owned()));
        }
        let first = name.split('.').next().unwrap_or(name);
        if self.top.contains(first) {
            let mut prefix = name;
            while let Some((head, _)) = prefix.rsplit_once('.') {
                if self.modules.contains(head) {
                    return Some(Target::Internal(head.to_owned()));
                }
                prefix = head;
            }
            return None;
        }
        Some(Target::External(first.to_owned()))
    }

    /// The package a relative import of `level` dots starts from, for the module `importer`.
    fn relative_base(&self, importer: &str, level: usize) -> Option<String> {
        let mut package: Vec<&str> = if importer.is_empty() {
            Vec::new()
        } else {
            importer.split('.').collect()
        };
        if !self.packages.contains(importer) {
            package.pop()?;
        }
        for _ in 1..level {
            package.pop()?;
        }
        Some(package.join("."))
    }

    /// Every target of a Python import made by the module `importer`.
    pub fn resolve(&self, importer: &str, spec: &ImportSpec) -> Vec<Target> {
        let ImportSpec::Python {
            level,
            module,
            names,
        } = spec
        else {
            return Vec::new();
        };
        let base = if *level == 0 {
            module.clone()
        } else {
            let Some(package) = self.relative_base(importer, *level) else {
                return Vec::new();
            };
            match (package.is_empty(), module.is_empty()) {
                (true, _) => module.clone(),
                (false, true) => package,
                (false, false) => format!("{package}.{module}"),
            }
        };
        if names.is_empty() {
            return self.resolve_absolute(&base).into_iter().collect();
        }
        let mut out = Vec::new();
        for name in names {
            let candidate = match (name.as_str(), base.is_empty()) {
                ("*", _) => None,
                (_, true) => Some(name.clone()),
                (_, false) => Some(format!("{base}.{name}")),
            };
            match candidate {
                Some(c) if self.modules.contains(&c) => out.push(Target::Internal(c)),
                _ => out.extend(self.resolve_absolute(&base)),
            }
        }
        out
    }
}

/// Joins a repository-relative directory and a relative path, resolving `.` and `..`;
/// `None` when the result leaves the repository.
pub fn join(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// The directory of a repository-relative path (`""` at the root).
pub fn parent(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(d, _)| d)
}

/// Strips `//` and `/* */` comments and trailing commas from JSON with comments (the
/// `tsconfig.json` dialect), leaving strings alone.
pub fn strip_jsonc(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut start = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if b == b'\\' {
                i += 2;
                continue;
            }
            if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                out.push_str(&text[start..i]);
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                start = i;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                out.push_str(&text[start..i]);
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i = (i + 2).min(bytes.len());
                start = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[start.min(text.len())..]);
    // Trailing commas: a comma followed (after whitespace) by `}` or `]`.
    let chars: Vec<char> = out.chars().collect();
    let mut cleaned = String::with_capacity(out.len());
    let mut in_string = false;
    let mut k = 0;
    while k < chars.len() {
        let c = chars[k];
        if in_string {
            cleaned.push(c);
            if c == '\\' {
                if let Some(&n) = chars.get(k + 1) {
                    cleaned.push(n);
                }
                k += 2;
                continue;
            }
            if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            cleaned.push(c);
        } else if c == ',' {
            let next = chars[k + 1..].iter().find(|c| !c.is_whitespace());
            if !matches!(next, Some('}' | ']')) {
                cleaned.push(c);
            }
        } else {
            cleaned.push(c);
        }
        k += 1;
    }
    cleaned
}

/// The module-resolution settings of one `tsconfig.json`, after `extends`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TsConfig {
    /// `compilerOptions.baseUrl`, repository-relative.
    pub base_url: Option<String>,
    /// `compilerOptions.paths`: pattern → targets.
    pub paths: Vec<(String, Vec<String>)>,
    /// The directory `paths` targets are relative to (the base URL, else the directory of the
    /// file that set `paths`).
    pub paths_base: String,
}

/// A problem with a configuration file, reported as a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The repository-relative file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Reads a JSON-with-comments file of the repository.
fn read_json(root: &Path, rel: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(root.join(rel)).map_err(|e| e.to_string())?;
    serde_json::from_str(&strip_jsonc(&text)).map_err(|e| format!("line {}: {e}", e.line()))
}

/// Loads `rel` (a `tsconfig.json`) with its `extends` chain (relative paths only).
pub fn load_tsconfig(
    root: &Path,
    rel: &str,
    depth: usize,
    problems: &mut Vec<ConfigProblem>,
) -> TsConfig {
    let dir = parent(rel).to_owned();
    let value = match read_json(root, rel) {
        Ok(v) => v,
        Err(message) => {
            problems.push(ConfigProblem {
                path: rel.to_owned(),
                message,
            });
            return TsConfig::default();
        }
    };
    let mut config = TsConfig {
        paths_base: dir.clone(),
        ..TsConfig::default()
    };
    let mut parent_paths_set = false;
    if depth < 16 {
        let extends: Vec<&str> = match value.get("extends") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for ext in extends {
            if !(ext.starts_with("./") || ext.starts_with("../")) {
                continue;
            }
            let Some(mut target) = join(&dir, ext) else {
                continue;
            };
            if !target.ends_with(".json") && !root.join(&target).is_file() {
                target.push_str(".json");
            }
            let inherited = load_tsconfig(root, &target, depth + 1, problems);
            if inherited.base_url.is_some() {
                config.base_url = inherited.base_url;
            }
            if !inherited.paths.is_empty() {
                config.paths = inherited.paths;
                config.paths_base = inherited.paths_base;
                parent_paths_set = true;
            }
        }
    }
    let options = value.get("compilerOptions");
    if let Some(base) = options
        .and_then(|o| o.get("baseUrl"))
        .and_then(Value::as_str)
    {
        config.base_url = join(&dir, base);
    }
    if let Some(paths) = options
        .and_then(|o| o.get("paths"))
        .and_then(Value::as_object)
    {
        config.paths = paths
            .iter()
            .map(|(k, v)| {
                let targets = match v {
                    Value::Array(a) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                    Value::String(s) => vec![s.clone()],
                    _ => Vec::new(),
                };
                (k.clone(), targets)
            })
            .collect();
        config.paths_base = config.base_url.clone().unwrap_or(dir);
    } else if parent_paths_set {
        if let Some(base) = &config.base_url {
            config.paths_base = base.clone();
        }
    } else if let Some(base) = &config.base_url {
        config.paths_base = base.clone();
    }
    config
}

/// One of the repository's own JavaScript packages.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnPackage {
    /// Its directory, repository-relative.
    pub dir: String,
    /// Its `package.json`.
    pub manifest: Value,
}

/// Extensions tried after a specifier without one, in order.
const EXTENSIONS: [&str; 9] = [
    ".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts",
];

/// The JavaScript/TypeScript files and configuration of a repository, for resolving imports.
#[derive(Debug, Default)]
pub struct JsIndex {
    files: HashSet<String>,
    /// `(directory, config)`, deepest directory first.
    tsconfigs: Vec<(String, TsConfig)>,
    packages: HashMap<String, OwnPackage>,
}

impl JsIndex {
    /// An index of `files` (repository-relative) with the given `tsconfig.json` settings (by
    /// directory) and own packages (by name).
    pub fn new(
        files: impl IntoIterator<Item = String>,
        mut tsconfigs: Vec<(String, TsConfig)>,
        packages: HashMap<String, OwnPackage>,
    ) -> Self {
        tsconfigs.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Self {
            files: files.into_iter().collect(),
            tsconfigs,
            packages,
        }
    }

    /// The file a path names, with extension and `index` resolution: the path itself, a
    /// TypeScript source behind a `.js` name (`./a.js` → `a.ts`), the path plus an extension,
    /// then `path/index` plus an extension.
    pub fn resolve_file(&self, path: &str) -> Option<String> {
        if self.files.contains(path) {
            return Some(path.to_owned());
        }
        for js in [".js", ".jsx", ".mjs", ".cjs"] {
            if let Some(stem) = path.strip_suffix(js) {
                for ts in [".ts", ".tsx", ".d.ts", ".mts", ".cts"] {
                    let candidate = format!("{stem}{ts}");
                    if self.files.contains(&candidate) {
                        return Some(candidate);
                    }
                }
            }
        }
        for ext in EXTENSIONS {
            let candidate = format!("{path}{ext}");
            if self.files.contains(&candidate) {
                return Some(candidate);
            }
        }
        let dir = path.trim_end_matches('/');
        for ext in EXTENSIONS {
            let candidate = if dir.is_empty() {
                format!("index{ext}")
            } else {
                format!("{dir}/index{ext}")
            };
            if self.files.contains(&candidate) {
                return Some(candidate);
            }
        }
        None
    }

    fn tsconfig_for(&self, importer: &str) -> Option<&TsConfig> {
        let dir = parent(importer);
        self.tsconfigs
            .iter()
            .find(|(d, _)| {
                d.is_empty()
                    || dir == d
                    || dir
                        .strip_prefix(d.as_str())
                        .is_some_and(|r| r.starts_with('/'))
            })
            .map(|(_, c)| c)
    }

    /// Resolves a specifier written in `importer`: relative paths against its directory,
    /// then `tsconfig.json` `paths` and `baseUrl`, then the repository's own packages; any
    /// other bare specifier is an external package. `None` when a relative or configured path
    /// names no file of the repository.
    pub fn resolve(&self, importer: &str, spec: &str) -> Option<Target> {
        if spec.is_empty() {
            return None;
        }
        if spec == "." || spec == ".." || spec.starts_with("./") || spec.starts_with("../") {
            let path = join(parent(importer), spec)?;
            return self.resolve_file(&path).map(Target::Internal);
        }
        if spec.starts_with('/') {
            return None;
        }
        if let Some(config) = self.tsconfig_for(importer) {
            if let Some(found) = self.resolve_paths(config, spec) {
                return Some(Target::Internal(found));
            }
            if let Some(base) = &config.base_url
                && let Some(found) = join(base, spec).and_then(|p| self.resolve_file(&p))
            {
                return Some(Target::Internal(found));
            }
        }
        let (name, subpath) = package_name(spec);
        if let Some(package) = self.packages.get(name) {
            return self.resolve_package(package, subpath).map(Target::Internal);
        }
        Some(Target::External(name.to_owned()))
    }

    fn resolve_paths(&self, config: &TsConfig, spec: &str) -> Option<String> {
        // The longest matching prefix wins (TypeScript's rule).
        let mut best: Option<(usize, &str, &Vec<String>)> = None;
        for (pattern, targets) in &config.paths {
            let captured = match pattern.split_once('*') {
                Some((pre, post)) => {
                    if spec.len() >= pre.len() + post.len()
                        && spec.starts_with(pre)
                        && spec.ends_with(post)
                    {
                        Some((pre.len(), &spec[pre.len()..spec.len() - post.len()]))
                    } else {
                        None
                    }
                }
                None if pattern == spec => Some((usize::MAX, "")),
                None => None,
            };
            if let Some((len, star)) = captured
                && best.is_none_or(|(l, _, _)| len > l)
            {
                best = Some((len, star, targets));
            }
        }
        let (_, star, targets) = best?;
        targets.iter().find_map(|t| {
            let target = t.replacen('*', star, 1);
            join(&config.paths_base, &target).and_then(|p| self.resolve_file(&p))
        })
    }

    fn resolve_package(&self, package: &OwnPackage, subpath: &str) -> Option<String> {
        let dir = &package.dir;
        let in_dir = |rel: &str| join(dir, rel).and_then(|p| self.resolve_file(&p));
        let key = if subpath.is_empty() {
            ".".to_owned()
        } else {
            format!("./{subpath}")
        };
        if let Some(exports) = package.manifest.get("exports") {
            for target in export_targets(exports, &key) {
                if let Some(found) = in_dir(&target) {
                    return Some(found);
                }
            }
        }
        if subpath.is_empty() {
            for field in ["source", "main", "module", "types", "typings"] {
                if let Some(found) = package
                    .manifest
                    .get(field)
                    .and_then(Value::as_str)
                    .and_then(in_dir)
                {
                    return Some(found);
                }
            }
            return in_dir("index").or_else(|| in_dir("src/index"));
        }
        in_dir(subpath).or_else(|| in_dir(&format!("src/{subpath}")))
    }
}

/// Splits a bare specifier into its package name and subpath: `@s/p/x/y` → (`@s/p`, `x/y`),
/// `lodash/fp` → (`lodash`, `fp`).
pub fn package_name(spec: &str) -> (&str, &str) {
    let mut cut = spec.match_indices('/').map(|(i, _)| i);
    let end = if spec.starts_with('@') {
        cut.nth(1)
    } else {
        cut.next()
    };
    match end {
        Some(i) => (&spec[..i], &spec[i + 1..]),
        None => (spec, ""),
    }
}

/// The candidate files of a `package.json` `exports` field for a subpath key (`.` or
/// `./x`), conditions in the order `source`, `types`, `import`, `module`, `require`, `node`,
/// `default`, then any other.
pub fn export_targets(exports: &Value, key: &str) -> Vec<String> {
    let Value::Object(map) = exports else {
        return if key == "." {
            flatten_conditions(exports)
        } else {
            Vec::new()
        };
    };
    if !map.keys().any(|k| k.starts_with('.')) {
        return if key == "." {
            flatten_conditions(exports)
        } else {
            Vec::new()
        };
    }
    if let Some(v) = map.get(key) {
        return flatten_conditions(v);
    }
    let mut best: Option<(usize, &str, &Value)> = None;
    for (pattern, v) in map {
        if let Some((pre, post)) = pattern.split_once('*')
            && key.len() >= pre.len() + post.len()
            && key.starts_with(pre)
            && key.ends_with(post)
            && best.is_none_or(|(l, _, _)| pre.len() > l)
        {
            best = Some((pre.len(), &key[pre.len()..key.len() - post.len()], v));
        }
    }
    match best {
        Some((_, star, v)) => flatten_conditions(v)
            .into_iter()
            .map(|t| t.replace('*', star))
            .collect(),
        None => Vec::new(),
    }
}

fn flatten_conditions(value: &Value) -> Vec<String> {
    const ORDER: [&str; 7] = [
        "source", "types", "import", "module", "require", "node", "default",
    ];
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(flatten_conditions).collect(),
        Value::Object(map) => {
            let mut out = Vec::new();
            for key in ORDER {
                if let Some(v) = map.get(key) {
                    out.extend(flatten_conditions(v));
                }
            }
            for (k, v) in map {
                if !ORDER.contains(&k.as_str()) {
                    out.extend(flatten_conditions(v));
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

/// Reads the repository's own packages from its `package.json` files (every one with a
/// `name`, workspaces or not); unreadable ones are reported as problems.
pub fn load_packages(
    root: &Path,
    manifests: &[String],
    problems: &mut Vec<ConfigProblem>,
) -> HashMap<String, OwnPackage> {
    let mut out = HashMap::new();
    let mut sorted: Vec<&String> = manifests.iter().collect();
    sorted.sort();
    for rel in sorted {
        match read_json(root, rel) {
            Ok(manifest) => {
                if let Some(name) = manifest.get("name").and_then(Value::as_str) {
                    out.entry(name.to_owned()).or_insert_with(|| OwnPackage {
                        dir: parent(rel).to_owned(),
                        manifest: manifest.clone(),
                    });
                }
            }
            Err(message) => problems.push(ConfigProblem {
                path: rel.clone(),
                message,
            }),
        }
    }
    out
}
