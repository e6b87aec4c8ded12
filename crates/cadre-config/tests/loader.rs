//! Layering, unknown keys, bad values and profile overlays, through the public API.
#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error

use cadre_config::Loader;
use cadre_core::config::LogFormat;
use figment::Jail;

const FILE: &str = r#"
[node]
name = "desk-1"
data_dir = "/var/lib/cadre"

[log]
level = "debug"

[profile.prod.log]
level = "warn"
format = "json"
"#;

#[test]
fn layers_apply_in_order_defaults_file_profile_env() {
    Jail::expect_with(|jail| {
        jail.create_file("cadre.toml", FILE)?;
        // defaults < file
        let loaded = Loader::new().file("cadre.toml").load().unwrap();
        assert_eq!(loaded.config.node.name, "desk-1");
        assert_eq!(loaded.config.log.level, "debug");
        assert_eq!(loaded.config.log.format, LogFormat::Auto);
        // < profile overlay
        let loaded = Loader::new()
            .file("cadre.toml")
            .profile("prod")
            .load()
            .unwrap();
        assert_eq!(loaded.config.log.level, "warn");
        assert_eq!(loaded.config.log.format, LogFormat::Json);
        assert_eq!(loaded.config.node.name, "desk-1");
        // < environment
        jail.set_env("CADRE_LOG_LEVEL", "trace");
        jail.set_env("CADRE_NODE_DATA_DIR", "/tmp/x");
        let loaded = Loader::new()
            .file("cadre.toml")
            .profile("prod")
            .load()
            .unwrap();
        assert_eq!(loaded.config.log.level, "trace");
        assert_eq!(loaded.config.node.data_dir.to_str(), Some("/tmp/x"));
        // CADRE_PROFILE selects the profile when none is given.
        jail.set_env("CADRE_PROFILE", "prod");
        let loaded = Loader::new().file("cadre.toml").load().unwrap();
        assert_eq!(loaded.profile.as_deref(), Some("prod"));
        assert_eq!(loaded.config.log.format, LogFormat::Json);
        Ok(())
    });
}

#[test]
fn a_wrong_type_names_the_key_file_and_line() {
    Jail::expect_with(|jail| {
        jail.create_file("bad.toml", "[node]\nname = \"n\"\n\n[log]\nlevel = 3\n")?;
        let err = Loader::new().file("bad.toml").load().unwrap_err();
        let p = &err.problems[0];
        assert_eq!(p.key.as_deref(), Some("log.level"));
        assert_eq!(p.source.as_deref(), Some("bad.toml"));
        assert_eq!(p.line, Some(5));
        assert!(
            err.to_string().contains("bad.toml:5: key `log.level`"),
            "{err}"
        );
        Ok(())
    });
}

#[test]
fn unknown_keys_are_errors_in_the_file_the_overlays_and_the_environment() {
    Jail::expect_with(|jail| {
        jail.create_file("typo.toml", "[log]\nlevle = \"debug\"\n")?;
        let err = Loader::new().file("typo.toml").load().unwrap_err();
        assert_eq!(err.problems[0].key.as_deref(), Some("log.levle"));
        assert!(err.to_string().contains("unknown key"), "{err}");

        jail.create_file("section.toml", "[nodes]\nname = \"x\"\n")?;
        let err = Loader::new().file("section.toml").load().unwrap_err();
        assert_eq!(err.problems[0].key.as_deref(), Some("nodes"));

        jail.create_file("overlay.toml", "[profile.staging.node]\nnmae = \"x\"\n")?;
        let err = Loader::new()
            .file("overlay.toml")
            .check_all_profiles()
            .unwrap_err();
        assert_eq!(
            err.problems[0].key.as_deref(),
            Some("profile.staging.node.nmae")
        );
        assert_eq!(err.problems[0].line, Some(2));

        jail.create_file("ok.toml", "")?;
        jail.set_env("CADRE_LOG_LEVLE", "debug");
        let err = Loader::new().file("ok.toml").load().unwrap_err();
        assert_eq!(err.problems[0].source.as_deref(), Some("CADRE_LOG_LEVLE"));
        Ok(())
    });
}

#[test]
fn invalid_values_name_the_key_and_where_they_came_from() {
    Jail::expect_with(|jail| {
        jail.create_file("v.toml", "[node]\nname = \"two words\"\n")?;
        let err = Loader::new().file("v.toml").load().unwrap_err();
        let p = &err.problems[0];
        assert_eq!(p.key.as_deref(), Some("node.name"));
        assert_eq!(p.source.as_deref(), Some("v.toml"));
        assert_eq!(p.line, Some(2));

        jail.set_env("CADRE_LOG_LEVEL", "chatty");
        let err = Loader::new().load().unwrap_err();
        assert_eq!(err.problems[0].source.as_deref(), Some("CADRE_LOG_LEVEL"));
        assert!(err.to_string().contains("`chatty` is not a level"), "{err}");
        Ok(())
    });
}

#[test]
fn profiles_must_exist_unless_built_in() {
    Jail::expect_with(|jail| {
        jail.create_file("p.toml", "[profile.canary.log]\nlevel = \"warn\"\n")?;
        assert!(
            Loader::new()
                .file("p.toml")
                .profile("canary")
                .load()
                .is_ok()
        );
        assert!(
            Loader::new()
                .file("p.toml")
                .profile("staging")
                .load()
                .is_ok()
        );
        let err = Loader::new()
            .file("p.toml")
            .profile("prd")
            .load()
            .unwrap_err();
        assert!(
            err.to_string().contains("profile `prd` is not defined"),
            "{err}"
        );
        assert!(err.to_string().contains("canary"), "{err}");
        let err = Loader::new()
            .file("p.toml")
            .profile("Prod!")
            .load()
            .unwrap_err();
        assert!(err.to_string().contains("not a valid name"), "{err}");
        Ok(())
    });
}

#[test]
fn missing_and_malformed_files_are_named() {
    Jail::expect_with(|jail| {
        let err = Loader::new().file("absent.toml").load().unwrap_err();
        assert_eq!(err.problems[0].source.as_deref(), Some("absent.toml"));
        jail.create_file("broken.toml", "[node\n")?;
        let err = Loader::new().file("broken.toml").load().unwrap_err();
        assert!(err.to_string().contains("broken.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn the_schema_describes_every_section_and_forbids_unknown_keys() {
    let schema = cadre_config::schema();
    assert_eq!(schema["additionalProperties"], false);
    for section in ["node", "log", "profile"] {
        assert!(schema["properties"].get(section).is_some(), "{section}");
    }
}
