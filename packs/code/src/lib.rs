//! The code crew's library layer.
//!
//! - [`deps`]: a dependency analyzer for Python, JavaScript and TypeScript repositories:
//!   imports extracted with tree-sitter (runtime, type-only and dynamic), resolved to modules
//!   (Python dotted names; JavaScript/TypeScript repository-relative paths through extensions,
//!   `index` files, `tsconfig.json` paths and the repository's own packages), and the module
//!   graph analysed: cycles as shortest witnesses, topological order, critical path, slack and
//!   priorities.
#![warn(missing_docs)]

pub mod deps;
