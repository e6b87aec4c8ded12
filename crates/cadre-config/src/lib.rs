//! Loads cadre's configuration.
//!
//! Layers, later ones winning: built-in defaults, a TOML file, the file's `[profile.<name>]`
//! overlay for the selected profile (`dev`, `staging`, `prod` or any profile the file defines),
//! then `CADRE_<SECTION>_<KEY>` environment variables (`CADRE_LOG_LEVEL=debug` sets
//! `log.level`). The result is typed ([`cadre_core::config::Config`]) and validated; unknown keys
//! are errors, and every error names the key and where the value came from.
//!
//! ```no_run
//! let loaded = cadre_config::Loader::new()
//!     .file("cadre.toml")
//!     .profile("prod")
//!     .load()?;
//! println!("{}", loaded.config.node.name);
//! # Ok::<(), cadre_config::ConfigError>(())
//! ```
#![warn(missing_docs)]

pub mod crew;
mod error;
mod loader;
mod locate;

pub use crew::{CrewManifest, check_crew_all_profiles, load_crew};
pub use error::{ConfigError, Problem};
pub use loader::{BUILTIN_PROFILES, ENV_PREFIX, Loaded, Loader, RESERVED_ENV, schema};
