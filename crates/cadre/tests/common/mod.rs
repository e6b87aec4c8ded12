//! Running the `cadre` binary from tests.
#![allow(dead_code)] // each test file uses some of these

use std::path::Path;
use std::process::{Command, Output};

/// The `cadre` binary with no configuration from the environment (every `CADRE_*` variable
/// and `RUST_LOG` removed), run in `dir`.
pub(crate) fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cadre"));
    cmd.current_dir(dir).env_remove("RUST_LOG");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CADRE_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs `cadre args...` in `dir` with no configuration from the environment.
pub(crate) fn cadre(args: &[&str], dir: &Path) -> Output {
    command(dir).args(args).output().expect("run cadre")
}

/// Output bytes as text.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
