//! The `cadre` binary end to end: exit codes, stdout for data, stderr for diagnostics.

mod common;

use common::{cadre, text};

#[test]
fn version_and_help_on_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = cadre(&["--version"], dir.path());
    assert!(out.status.success());
    assert!(
        text(&out.stdout).starts_with("cadre "),
        "{}",
        text(&out.stdout)
    );
    for args in [
        vec!["--help"],
        vec!["config", "--help"],
        vec!["config", "check", "--help"],
        vec!["config", "schema", "--help"],
        vec!["config", "show", "--help"],
    ] {
        let out = cadre(&args, dir.path());
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out.stdout).contains("Usage:"), "{args:?}");
    }
}

#[test]
fn config_check_accepts_a_valid_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cadre.toml"),
        "[node]\nname = \"desk\"\n[profile.prod.log]\nformat = \"json\"\n",
    )
    .unwrap();
    let out = cadre(&["config", "check", "cadre.toml"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("cadre.toml: valid (profiles: prod)"));
}

#[test]
fn config_check_names_key_and_file_for_a_wrong_type_and_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("type.toml"), "[log]\nlevel = 3\n").unwrap();
    std::fs::write(dir.path().join("typo.toml"), "[log]\nlevle = \"info\"\n").unwrap();

    let out = cadre(&["config", "check", "type.toml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("type.toml:2: key `log.level`"), "{err}");

    let out = cadre(&["config", "check", "typo.toml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("typo.toml:2: key `log.levle`: unknown key"),
        "{err}"
    );

    let out = cadre(
        &["config", "check", "typo.toml", "--format", "json"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["problems"][0]["key"], "log.levle");
    assert_eq!(report["problems"][0]["source"], "typo.toml");
    assert_eq!(report["problems"][0]["line"], 2);
}

#[test]
fn config_show_applies_layers_and_schema_is_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cadre.toml"),
        "[log]\nlevel = \"debug\"\n[profile.prod.log]\nlevel = \"warn\"\n",
    )
    .unwrap();
    let out = cadre(
        &[
            "config",
            "show",
            "-c",
            "cadre.toml",
            "-p",
            "prod",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(config["log"]["level"], "warn");

    let out = cadre(&["config", "schema"], dir.path());
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "Config");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = cadre(&["config", "check"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let out = cadre(&["no-such-command"], dir.path());
    assert_eq!(out.status.code(), Some(2));
}
