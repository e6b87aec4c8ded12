//! Finding and reading the documents under a root.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use cadre_core::{Error, ErrorCode};

/// Directories never searched for documents, at any depth.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules"];

/// Every `*.md` file under `root`, as root-relative paths with `/` separators, sorted.
///
/// Honours `.gitignore` (also outside a git repository, and those of the directories above
/// `root`), `.git/info/exclude` and `.ignore` files, but not the user's global git excludes,
/// so the answer does not depend on who runs it. Hidden files and directories and every
/// `target/` and `node_modules/` directory are skipped. Symbolic links are not followed.
///
/// # Errors
/// [`ErrorCode::NotFound`] when `root` does not exist; [`ErrorCode::InvalidInput`] when it is
/// not a directory, when a directory cannot be read or a path is not UTF-8. Each error names
/// the path.
pub fn markdown_files(root: &Path) -> Result<Vec<String>, Error> {
    let meta = fs::metadata(root).map_err(|e| io_error(root, "documentation root", e))?;
    if !meta.is_dir() {
        return Err(Error::invalid_input(format!(
            "documentation root `{}` is not a directory",
            root.display()
        )));
    }
    let mut walk = ignore::WalkBuilder::new(root);
    walk.hidden(true)
        .parents(true)
        .ignore(true)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            entry.depth() == 0
                || !is_dir
                || !SKIPPED_DIRS
                    .iter()
                    .any(|skip| entry.file_name() == OsStr::new(skip))
        });
    let mut files = Vec::new();
    for entry in walk.build() {
        let entry = entry.map_err(|e| {
            Error::invalid_input(format!("walking `{}`", root.display())).with_source(e)
        })?;
        let is_file = entry.file_type().is_some_and(|t| t.is_file());
        if !is_file
            || entry
                .path()
                .extension()
                .is_none_or(|ext| ext != OsStr::new("md"))
        {
            continue;
        }
        let rel = entry.path().strip_prefix(root).map_err(|_| {
            Error::internal(format!(
                "walk of `{}` returned `{}` outside it",
                root.display(),
                entry.path().display()
            ))
        })?;
        let mut parts = Vec::new();
        for part in rel.components() {
            let part = part.as_os_str().to_str().ok_or_else(|| {
                Error::invalid_input(format!("path `{}` is not UTF-8", entry.path().display()))
            })?;
            parts.push(part);
        }
        files.push(parts.join("/"));
    }
    files.sort_unstable();
    Ok(files)
}

/// Splits a root-relative document path into its components, refusing absolute paths and
/// paths that leave the root.
pub(crate) fn doc_parts(rel: &str) -> Result<Vec<String>, Error> {
    if rel.starts_with('/') || rel.starts_with('\\') {
        return Err(Error::invalid_input(format!(
            "document path `{rel}` must be relative to the documentation root"
        )));
    }
    let parts = normalize(Vec::new(), rel.split('/')).ok_or_else(|| {
        Error::invalid_input(format!(
            "document path `{rel}` leaves the documentation root"
        ))
    })?;
    if parts.is_empty() {
        return Err(Error::invalid_input(format!(
            "document path `{rel}` names no file"
        )));
    }
    Ok(parts)
}

/// Applies path segments to `parts` (`.` and empty segments ignored, `..` pops); `None` when a
/// `..` would leave the root.
pub(crate) fn normalize<'a>(
    mut parts: Vec<String>,
    segments: impl IntoIterator<Item = &'a str>,
) -> Option<Vec<String>> {
    for segment in segments {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other.to_string()),
        }
    }
    Some(parts)
}

/// `root` joined with root-relative components.
pub(crate) fn join(root: &Path, parts: &[String]) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(parts);
    path
}

/// Reads the document at `rel` under `root`.
///
/// # Errors
/// Naming the path: [`ErrorCode::InvalidInput`] for a path outside the root or a file that is
/// not UTF-8, [`ErrorCode::NotFound`] for a missing file.
pub(crate) fn read_doc(root: &Path, rel: &str) -> Result<(Vec<String>, String), Error> {
    let parts = doc_parts(rel)?;
    let path = join(root, &parts);
    let text = fs::read_to_string(&path).map_err(|e| io_error(&path, "document", e))?;
    Ok((parts, text))
}

fn io_error(path: &Path, what: &str, e: io::Error) -> Error {
    let code = match e.kind() {
        io::ErrorKind::NotFound => ErrorCode::NotFound,
        _ => ErrorCode::InvalidInput,
    };
    let message = match e.kind() {
        io::ErrorKind::NotFound => format!("{what} `{}` does not exist", path.display()),
        io::ErrorKind::InvalidData => format!("{what} `{}` is not UTF-8 text", path.display()),
        _ => format!("cannot read {what} `{}`", path.display()),
    };
    Error::new(code, message).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_paths_stay_under_the_root() {
        assert_eq!(
            doc_parts("guide/./setup.md").unwrap(),
            ["guide", "setup.md"]
        );
        assert_eq!(doc_parts("a/../b.md").unwrap(), ["b.md"]);
        for bad in ["../x.md", "a/../../x.md", "/etc/passwd", "", "a/.."] {
            let err = doc_parts(bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidInput, "{bad}");
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn normalize_pops_and_refuses_to_escape() {
        let base = vec!["docs".to_string(), "guide".to_string()];
        assert_eq!(
            normalize(base.clone(), "../api/./x.md".split('/')).unwrap(),
            ["docs", "api", "x.md"]
        );
        assert_eq!(
            normalize(base.clone(), "../..".split('/')).unwrap(),
            [""; 0]
        );
        assert_eq!(normalize(base, "../../../x.md".split('/')), None);
    }
}
