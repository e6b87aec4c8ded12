//! The layered loader, built on figment.

use std::path::{Path, PathBuf};

use cadre_core::config::Config;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Metadata, Source};

use crate::{ConfigError, Problem};

/// The prefix of configuration environment variables.
pub const ENV_PREFIX: &str = "CADRE_";

/// `CADRE_*` variables that select how configuration is loaded rather than set a key.
pub const RESERVED_ENV: &[&str] = &["CADRE_PROFILE", "CADRE_CONFIG", "CADRE_LOG_FORMAT_FORCE"];

/// Profiles that may be selected even when the file has no overlay for them.
pub const BUILTIN_PROFILES: &[&str] = &["dev", "staging", "prod"];

/// Configuration as loaded, with what it was loaded from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The typed, validated configuration.
    pub config: Config,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// The profile applied, if any.
    pub profile: Option<String>,
}

/// Builds a configuration from its layers.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Loader {
    file: Option<PathBuf>,
    profile: Option<String>,
}

impl Loader {
    /// A loader with no file, no profile, reading the process environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `path` (TOML). A missing file is an error.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Reads `path` when given.
    pub fn file_opt(mut self, path: Option<impl Into<PathBuf>>) -> Self {
        self.file = path.map(Into::into);
        self
    }

    /// Applies the `[profile.<name>]` overlay. Without this, `CADRE_PROFILE` selects one.
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    /// Applies the profile when given.
    pub fn profile_opt(mut self, name: Option<impl Into<String>>) -> Self {
        self.profile = name.map(Into::into);
        self
    }

    /// Loads, type-checks and validates the configuration.
    ///
    /// # Errors
    /// [`ConfigError`] listing every problem: unreadable or malformed file, wrong types,
    /// unknown keys, unknown profile, values that fail validation. Each names the key and the
    /// file or environment variable it came from.
    pub fn load(&self) -> Result<Loaded, ConfigError> {
        let profile = self.profile.clone().or_else(|| {
            std::env::var("CADRE_PROFILE")
                .ok()
                .filter(|p| !p.is_empty())
        });
        if let Some(file) = &self.file {
            check_file_readable(file)?;
        }
        let figment = self.figment(profile.as_deref())?;
        let config: Config = figment
            .extract()
            .map_err(|e| self.locate(from_figment(e, &figment), profile.as_deref()))?;
        if let Some(name) = &profile {
            check_profile_exists(&config, name, self.file.as_deref())?;
        }
        let problems: Vec<Problem> = config
            .validate()
            .into_iter()
            .map(|invalid| Problem {
                source: source_of(&figment, &invalid.key),
                key: Some(invalid.key),
                line: None,
                message: invalid.message,
            })
            .collect();
        if !problems.is_empty() {
            return Err(self.locate(ConfigError { problems }, profile.as_deref()));
        }
        Ok(Loaded {
            config,
            file: self.file.clone(),
            profile,
        })
    }

    /// Loads the file once with no profile and once with each profile it defines, so an error
    /// in any overlay is found. Returns the configuration without a profile.
    ///
    /// # Errors
    /// Every problem of every combination, each naming its profile.
    pub fn check_all_profiles(&self) -> Result<Loaded, ConfigError> {
        let base = Self {
            profile: None,
            ..self.clone()
        }
        .load()?;
        let mut problems = Vec::new();
        for name in base.config.profile.keys() {
            if let Err(e) = self.clone().profile(name.clone()).load() {
                problems.extend(e.problems.into_iter().map(|mut p| {
                    if !p.key.as_deref().is_some_and(|k| k.starts_with("profile.")) {
                        p.message = format!("{} (with profile `{name}`)", p.message);
                    }
                    p
                }));
            }
        }
        if problems.is_empty() {
            Ok(base)
        } else {
            Err(ConfigError { problems })
        }
    }

    /// Adds line numbers to problems whose source is the file, and names the overlay key when
    /// the value came from the profile's table.
    fn locate(&self, mut err: ConfigError, profile: Option<&str>) -> ConfigError {
        let Some(file) = &self.file else { return err };
        let Ok(text) = std::fs::read_to_string(file) else {
            return err;
        };
        let shown = file.display().to_string();
        for p in &mut err.problems {
            let (Some(key), Some(source)) = (&p.key, &p.source) else {
                continue;
            };
            if *source != shown {
                continue;
            }
            if let Some(name) = profile {
                let overlay_key = format!("profile.{name}.{key}");
                if let Some(line) = crate::locate::line_of(&text, &overlay_key) {
                    p.line = Some(line);
                    p.key = Some(overlay_key);
                    continue;
                }
            }
            p.line = crate::locate::line_of(&text, key);
        }
        err
    }

    fn figment(&self, profile: Option<&str>) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = &self.file {
            figment = figment.merge(Toml::file_exact(file));
            if let Some(name) = profile {
                validate_profile_name(name)?;
                let overlay =
                    Figment::from(Toml::file_exact(file)).focus(&format!("profile.{name}"));
                figment = figment.merge(overlay);
            }
        } else if let Some(name) = profile {
            validate_profile_name(name)?;
        }
        let env = Env::prefixed(ENV_PREFIX)
            .ignore(
                &RESERVED_ENV
                    .iter()
                    .map(|v| v.trim_start_matches(ENV_PREFIX))
                    .collect::<Vec<_>>(),
            )
            // `CADRE_NODE_DATA_DIR` -> `node.data_dir`: the first `_` separates the section.
            .map(|key| key.as_str().replacen('_', ".", 1).into());
        Ok(figment.merge(env))
    }
}

/// The JSON Schema of the configuration file.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default()
}

fn check_file_readable(file: &Path) -> Result<(), ConfigError> {
    std::fs::metadata(file)
        .map(|_| ())
        .map_err(|e| ConfigError {
            problems: vec![Problem {
                key: None,
                line: None,
                source: Some(file.display().to_string()),
                message: format!("cannot read the file: {e}"),
            }],
        })
}

fn validate_profile_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError {
            problems: vec![Problem {
                key: None,
                line: None,
                source: None,
                message: format!(
                    "profile `{name}` is not a valid name; use lower-case letters, digits, `-` and `_`"
                ),
            }],
        })
    }
}

fn check_profile_exists(
    config: &Config,
    name: &str,
    file: Option<&Path>,
) -> Result<(), ConfigError> {
    if BUILTIN_PROFILES.contains(&name) || config.profile.contains_key(name) {
        return Ok(());
    }
    let mut known: Vec<&str> = BUILTIN_PROFILES.to_vec();
    known.extend(config.profile.keys().map(String::as_str));
    known.sort_unstable();
    known.dedup();
    Err(ConfigError {
        problems: vec![Problem {
            key: Some(format!("profile.{name}")),
            line: None,
            source: file.map(|f| f.display().to_string()),
            message: format!(
                "profile `{name}` is not defined; known profiles: {}",
                known.join(", ")
            ),
        }],
    })
}

/// Where the value at `key` came from.
pub(crate) fn source_of(figment: &Figment, key: &str) -> Option<String> {
    figment.find_metadata(key).map(|m| describe(m, key))
}

fn describe(metadata: &Metadata, key: &str) -> String {
    match &metadata.source {
        Some(Source::File(path)) => path.display().to_string(),
        Some(Source::Code(_)) | None if metadata.name.contains("environment") => env_name(key),
        Some(Source::Code(_)) | None => "defaults".to_string(),
        Some(Source::Custom(s)) => s.clone(),
        Some(_) => metadata.name.to_string(),
    }
}

/// The environment variable that sets `key`.
fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_uppercase())
}

pub(crate) fn from_figment(err: figment::Error, figment: &Figment) -> ConfigError {
    let problems = err
        .into_iter()
        .map(|e| {
            let path = e.path.clone();
            let message = match &e.kind {
                figment::error::Kind::UnknownField(_, expected) => {
                    if expected.is_empty() {
                        "unknown key".to_string()
                    } else {
                        format!("unknown key; expected one of: {}", expected.join(", "))
                    }
                }
                kind => kind.to_string(),
            };
            let key = (!path.is_empty()).then(|| path.join("."));
            let source = match (&e.metadata, &key) {
                (Some(m), Some(k)) => Some(describe(m, k)),
                (Some(m), None) => Some(describe(m, "")),
                (None, Some(k)) => source_of(figment, k),
                (None, None) => None,
            };
            Problem {
                key,
                source,
                line: None,
                message,
            }
        })
        .collect();
    ConfigError { problems }
}
