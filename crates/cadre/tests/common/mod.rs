//! Running the `cadre` binary from tests.
#![allow(dead_code)] // each test file uses some of these

use std::path::Path;
use std::process::{Command, Output};

/// Runs `cadre args...` in `dir` with no configuration from the environment.
pub(crate) fn cadre(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cadre"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("CADRE_PROFILE")
        .env_remove("CADRE_CONFIG")
        .output()
        .expect("run cadre")
}

/// Output bytes as text.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
