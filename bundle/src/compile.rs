//! Building the plugin for one platform: `cargo build --target` (Windows, with mingw-w64 as the linker)
//! or `cargo zigbuild` (Linux, linked against the glibc floor by zig). `scripts/setup.sh` installs the
//! Rust targets, mingw-w64, and cargo-zigbuild with zig into `.venv`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::platform::{Builder, Platform};

/// Builds the plugin cdylib for `platform` and returns its path (`target/<triple>/<profile>/`).
pub fn plugin(
    root: &Path,
    target: &Path,
    platform: &Platform,
    release: bool,
    faults: bool,
) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_arg = platform.target_arg();
    let mut command = Command::new(cargo);
    command.current_dir(root).args([
        platform.cargo_subcommand(),
        "-p",
        "text-to-video-ofx",
        "--lib",
        "--target",
        &target_arg,
    ]);
    if release {
        command.arg("--release");
    }
    if faults {
        command.args(["--features", "fault-injection"]);
    }
    if let Builder::Zig { .. } = platform.builder {
        // cargo-zigbuild and `python3 -m ziglang` from the project's .venv.
        let path = with_venv_first(root, std::env::var_os("PATH"))
            .map_err(|e| format!("cannot put .venv/bin on PATH: {e}"))?;
        command.env("PATH", path);
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the plugin for {target_arg} failed ({status}); scripts/setup.sh installs \
             what that needs ({})",
            needs(platform.builder)
        ));
    }
    let profile = if release { "release" } else { "debug" };
    Ok(target
        .join(platform.triple)
        .join(profile)
        .join(platform.cdylib))
}

fn needs(builder: Builder) -> &'static str {
    match builder {
        Builder::Cargo => "the Rust target and mingw-w64",
        Builder::Zig { .. } => "cargo-zigbuild and zig in .venv",
    }
}

/// `PATH` with `<root>/.venv/bin` in front.
fn with_venv_first(
    root: &Path,
    path: Option<OsString>,
) -> Result<OsString, std::env::JoinPathsError> {
    let venv = root.join(".venv").join("bin");
    let rest = path.iter().flat_map(std::env::split_paths);
    std::env::join_paths(std::iter::once(venv).chain(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_venv_comes_first_in_path() {
        let path = with_venv_first(Path::new("/r"), Some("/usr/bin:/bin".into())).unwrap();
        assert_eq!(path, "/r/.venv/bin:/usr/bin:/bin");
        assert_eq!(
            with_venv_first(Path::new("/r"), None).unwrap(),
            "/r/.venv/bin"
        );
    }
}
