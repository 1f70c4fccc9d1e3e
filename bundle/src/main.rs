//! `bundle`: builds `TextToVideo.ofx.bundle` for Linux and Windows hosts, fetches ONNX Runtime from its
//! PyPI wheels and installs the bundle where OpenFX hosts look for plugins.
//!
//! ```text
//! cargo run -p bundle -- build [--release] [--faults | --cuda[=system]]
//! cargo run -p bundle -- fetch-ort
//! cargo run -p bundle -- install [--dest DIR]
//! ```

mod cli;
mod compile;
mod cuda;
mod fsutil;
mod icon;
mod install;
mod layout;
mod notices;
mod ort_fetch;
mod platform;
mod plist;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use cli::Cmd;
use platform::Platform;

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
        Cmd::FetchOrt => ort_fetch::fetch(&target, &platform::LINUX)
            .map(|runtime| println!("{}", runtime.library.display())),
        Cmd::Build {
            release,
            faults,
            cuda: None,
        } => build(&root, &target, release, faults).map(|b| println!("{}", b.display())),
        Cmd::Build {
            release,
            cuda: Some(flavour),
            ..
        } => build_cuda(&root, &target, release, flavour).map(|b| println!("{}", b.display())),
        Cmd::Install { dest } => {
            let bundle = target.join("bundle").join(layout::BUNDLE_NAME);
            if !bundle.is_dir() {
                return Err(format!(
                    "{} does not exist: run `cargo run -p bundle -- build` first",
                    bundle.display()
                ));
            }
            let plugin_path = std::env::var("OFX_PLUGIN_PATH").ok();
            let dest = dest.unwrap_or_else(|| {
                install::default_dest(plugin_path.as_deref(), std::env::consts::OS)
            });
            let installed = install::install(&bundle, &dest)?;
            println!("{}", installed.display());
            Ok(())
        }
    }
}

/// Builds the plugin for every shipped platform, fetches their ONNX Runtime, collects the licences and
/// assembles the bundle under `target/bundle/` — or, with `faults`, the test-only fault-injection
/// plugin (Linux only) under `target/bundle-faults/` (same target folders, so only the plugin crate
/// recompiles; the shipped bundle is a copy and stays as it is).
fn build(root: &Path, target: &Path, release: bool, faults: bool) -> Result<PathBuf, String> {
    let platforms: &[&Platform] = if faults {
        &[&platform::LINUX]
    } else {
        &platform::SHIPPED
    };
    let mut built = Vec::new();
    for &platform in platforms {
        let plugin = compile::plugin(root, target, platform, release, faults)?;
        built.push((platform, plugin, ort_fetch::fetch(target, platform)?));
    }
    let crate_notices = crate_notices(root, platforms)?;
    let binaries: Vec<layout::Binaries> = built
        .iter()
        .map(|(platform, plugin, runtime)| layout::Binaries {
            platform,
            plugin,
            onnxruntime: runtime,
        })
        .collect();
    let model = root.join("models").join(layout::DEFAULT_MODEL);
    let inputs = layout::Inputs {
        binaries: &binaries,
        default_model: model.is_dir().then_some(model.as_path()),
        license: &root.join("LICENSE"),
        crate_notices: &crate_notices,
    };
    let out = if faults { "bundle-faults" } else { "bundle" };
    layout::assemble(&inputs, &target.join(out))
}

/// The CUDA flavours: the plugin for every CUDA platform with ONNX Runtime's GPU build, under
/// `target/bundle-cuda[-system]/` (see `cuda.rs`).
fn build_cuda(
    root: &Path,
    target: &Path,
    release: bool,
    flavour: cuda::Flavour,
) -> Result<PathBuf, String> {
    let platforms = cuda::PLATFORMS.map(|c| c.platform);
    let plugins = [
        compile::plugin(root, target, platforms[0], release, false)?,
        compile::plugin(root, target, platforms[1], release, false)?,
    ];
    let crate_notices = crate_notices(root, &platforms)?;
    let wheels = cuda::fetch(target, flavour)?;
    let model = root.join("models").join(layout::DEFAULT_MODEL);
    let shipped = cuda::Shipped {
        plugins: [&plugins[0], &plugins[1]],
        default_model: model.is_dir().then_some(model.as_path()),
        license: &root.join("LICENSE"),
        crate_notices: &crate_notices,
    };
    cuda::assemble(flavour, &shipped, &wheels, &target.join(flavour.out_dir()))
}

/// The licences of every crate compiled into the plugin for `platforms`, checked against the allow-list.
fn crate_notices(root: &Path, platforms: &[&Platform]) -> Result<String, String> {
    let triples: Vec<&str> = platforms.iter().map(|p| p.triple).collect();
    let crates = notices::plugin_crates(root, &triples)?;
    notices::check_allowed(&crates)?;
    notices::render(&crates)
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
