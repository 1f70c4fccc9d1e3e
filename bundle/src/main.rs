//! `bundle`: builds `TextToVideo.ofx.bundle`, fetches ONNX Runtime from its PyPI wheel and installs the
//! bundle where OpenFX hosts look for plugins.
//!
//! ```text
//! cargo run -p bundle -- build [--release] [--faults | --cuda[=system]]
//! cargo run -p bundle -- fetch-ort
//! cargo run -p bundle -- install [--dest DIR]
//! ```

mod cli;
mod cuda;
mod fsutil;
mod icon;
mod install;
mod layout;
mod ort_fetch;
mod plist;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Parser;
use cli::Cmd;

fn main() -> ExitCode {
    let cmd = cli::Cli::parse().cmd;
    match run(cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("bundle: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Cmd) -> Result<(), String> {
    let root = workspace_root();
    let target = target_dir(&root);
    match cmd {
        Cmd::FetchOrt => ort_fetch::fetch(&target).map(|lib| println!("{}", lib.display())),
        Cmd::Build {
            release,
            faults,
            cuda,
        } => build(&root, &target, release, faults, cuda).map(|b| println!("{}", b.display())),
        Cmd::Install { dest } => {
            let bundle = target.join("bundle").join(layout::BUNDLE_NAME);
            if !bundle.is_dir() {
                return Err(format!(
                    "{} does not exist: run `cargo run -p bundle -- build` first",
                    bundle.display()
                ));
            }
            let plugin_path = std::env::var("OFX_PLUGIN_PATH").ok();
            let dest = dest.unwrap_or_else(|| install::default_dest(plugin_path.as_deref()));
            let installed = install::install(&bundle, &dest)?;
            println!("{}", installed.display());
            Ok(())
        }
    }
}

/// Builds the plugin with cargo, fetches ONNX Runtime and assembles the bundle under `target/bundle/`
/// — or, with `faults`, the test-only fault-injection plugin under `target/bundle-faults/` (same
/// target folder, so only the plugin crate recompiles; the shipped bundle is a copy and stays as it is).
fn build(
    root: &Path,
    target: &Path,
    release: bool,
    faults: bool,
    cuda: Option<cuda::Flavour>,
) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "-p", "text-to-video-ofx", "--lib"]);
    if release {
        command.arg("--release");
    }
    if faults {
        command.args(["--features", "fault-injection"]);
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the plugin failed ({status})"));
    }
    let profile = if release { "release" } else { "debug" };
    let plugin = target.join(profile).join(layout::PLUGIN_LIBRARY);
    let model = root.join("models").join(layout::DEFAULT_MODEL);
    let default_model = model.is_dir().then_some(model.as_path());
    if let Some(flavour) = cuda {
        let wheels = cuda::fetch(target, flavour)?;
        let out = target.join(flavour.out_dir());
        return cuda::assemble(flavour, &plugin, &wheels, default_model, &out);
    }
    let ort = ort_fetch::fetch(target)?;
    let inputs = layout::Inputs {
        plugin: &plugin,
        onnxruntime: &ort,
        default_model,
    };
    let out = if faults { "bundle-faults" } else { "bundle" };
    layout::assemble(&inputs, &target.join(out))
}

/// The workspace root: this crate lives in `<root>/bundle`.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Cargo's target directory (`CARGO_TARGET_DIR` when set, relative paths taken from the root).
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}
