//! `cadre config ...`

use std::process::ExitCode;

use cadre_config::{ConfigError, Loader};
use serde::Serialize;

use crate::cli::{ConfigCommand, ConfigSource};
use crate::output::{self, Format};

pub(crate) fn run(cmd: ConfigCommand, source: &ConfigSource) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCommand::Check { file, format } => {
            let loader = Loader::new().file(&file);
            let result = match &source.profile {
                Some(p) => loader.profile(p.clone()).load(),
                None => loader.check_all_profiles(),
            };
            report_check(&file.display().to_string(), result, format)
        }
        ConfigCommand::Schema => {
            output::json(&cadre_config::schema())?;
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Show { format } => {
            let mut loaded = source.load()?;
            // The overlays are already applied; printing them again would only confuse.
            loaded.config.profile.clear();
            match format {
                Format::Json => output::json(&loaded.config)?,
                Format::Text => output::data(toml::to_string_pretty(&loaded.config)?.trim_end()),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Serialize)]
struct CheckReport<'a> {
    file: &'a str,
    valid: bool,
    profiles: Vec<String>,
    problems: Vec<cadre_config::Problem>,
}

fn report_check(
    file: &str,
    result: Result<cadre_config::Loaded, ConfigError>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let (profiles, problems) = match result {
        Ok(loaded) => {
            let mut profiles: Vec<String> = loaded.config.profile.keys().cloned().collect();
            if let Some(p) = loaded.profile {
                profiles = vec![p];
            }
            (profiles, Vec::new())
        }
        Err(e) => (Vec::new(), e.problems),
    };
    let valid = problems.is_empty();
    match format {
        Format::Json => output::json(&CheckReport {
            file,
            valid,
            profiles,
            problems,
        })?,
        Format::Text if valid => {
            let checked = if profiles.is_empty() {
                String::new()
            } else {
                format!(" (profiles: {})", profiles.join(", "))
            };
            output::data(format_args!("{file}: valid{checked}"));
        }
        Format::Text => {
            for p in &problems {
                output::note(format_args!("error: {p}"));
            }
            output::note(format_args!(
                "{file}: invalid ({} problem{})",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            ));
        }
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
