//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::Format;

/// cadre: a runtime for reliable multi-agent systems.
#[derive(Debug, Parser)]
#[command(name = "cadre", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check, explain and print configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Check a configuration file: types, unknown keys, values, every profile overlay.
    ///
    /// Exits 0 when the file is valid and 1 when it is not, printing each problem with its key
    /// and the file or environment variable it came from.
    Check {
        /// The TOML file to check.
        file: PathBuf,
        /// Check only this profile overlay (default: the file alone and every profile it defines).
        #[arg(long, short = 'p')]
        profile: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Print the JSON Schema of the configuration file (for editors and validators).
    Schema,
    /// Print the effective configuration after every layer, with secrets redacted.
    Show {
        #[command(flatten)]
        source: ConfigSource,
        /// Output format (`text` prints TOML).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// Where configuration comes from.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConfigSource {
    /// Configuration file (TOML).
    #[arg(long, short = 'c', env = "CADRE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Profile overlay to apply (`dev`, `staging`, `prod` or one the file defines).
    #[arg(long, short = 'p', env = "CADRE_PROFILE")]
    pub(crate) profile: Option<String>,
}

impl ConfigSource {
    /// Loads configuration from this source.
    pub(crate) fn load(&self) -> Result<cadre_config::Loaded, cadre_config::ConfigError> {
        cadre_config::Loader::new()
            .file_opt(self.config.clone())
            .profile_opt(self.profile.clone())
            .load()
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
