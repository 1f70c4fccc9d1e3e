//! Shared set-up of the integration tests: the built bundle, a tiny model, and an instance
//! configured to generate it quickly into a private cache folder.

#![allow(dead_code)] // each test file uses its own subset

use ofx_host::{default_bundle, Context, HostConfig, HostError, Image, Instance, Session};
use std::path::{Path, PathBuf};

/// The committed tiny ModelScope-layout fixture (32×24, 3 frames, 4 DDIM steps).
pub fn fixture_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/fixtures/tiny-modelscope")
        .canonicalize()
        .expect("models/fixtures/tiny-modelscope exists")
}

/// The bundle, with a clear failure when it has not been built.
pub fn bundle() -> PathBuf {
    let bundle = default_bundle();
    assert!(
        bundle.join("Contents").is_dir(),
        "{} is missing: run `cargo run -p bundle -- build` (or set T2V_BUNDLE)",
        bundle.display()
    );
    bundle
}

/// The test-only fault-injection build of the bundle (`cargo run -p bundle -- build --faults`):
/// `$T2V_FAULT_BUNDLE`, else `target/bundle-faults/TextToVideo.ofx.bundle`.
pub fn fault_bundle() -> PathBuf {
    let bundle = match std::env::var_os("T2V_FAULT_BUNDLE") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("tests/ sits in the workspace")
            .join("target/bundle-faults/TextToVideo.ofx.bundle"),
    };
    assert!(
        bundle.join("Contents").is_dir(),
        "{} is missing: run `cargo run -p bundle -- build --faults` (or set T2V_FAULT_BUNDLE)",
        bundle.display()
    );
    bundle
}

/// A host whose project is the fixture's native size and 3 frames long.
pub fn host(base: HostConfig) -> HostConfig {
    HostConfig {
        project_size: (32.0, 24.0),
        frame_range: (0.0, 2.0),
        ..base
    }
}

pub fn load(config: HostConfig) -> Session {
    Session::load(&bundle(), host(config)).expect("the bundle loads and describes")
}

/// An instance generating the fixture at native size, one generated frame per timeline frame,
/// caching into `cache`.
pub fn instance<'s>(session: &'s Session, context: Context, cache: &Path) -> Instance<'s> {
    let instance = session.create_instance(context).expect("instance created");
    use_fixture(&instance);
    instance
        .set_param("cacheFolder", cache.to_string_lossy().as_ref())
        .unwrap();
    instance.set_param("outputSize", 1).unwrap();
    instance.set_param("timing", 2).unwrap();
    instance
        .set_param("prompt", "a red ball\nbouncing on grass")
        .unwrap();
    instance
}

/// Points `instance`'s Custom model folder at the tiny fixture.
pub fn use_fixture(instance: &Instance) {
    instance
        .set_param("customModel", fixture_model().to_string_lossy().as_ref())
        .unwrap();
}

/// Copies the folder `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// The names that look like clip entries (64 hex digits) in a cache folder, sorted.
pub fn entries(cache: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cache)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 64 && n.chars().all(|c| c.is_ascii_hexdigit()))
        .collect();
    names.sort();
    names
}

/// Every file under `dir`, recursively (hidden ones included).
pub fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.to_string_lossy().into_owned());
        }
    }
    out
}

/// `result` must be a failed render; returns the error.
pub fn failed_render(result: Result<Image, HostError>) -> HostError {
    let Err(error) = result else {
        panic!("the render must fail, but it returned an image")
    };
    assert!(
        matches!(&error, HostError::Action { action, status } if action == "OfxImageEffectActionRender" && *status != ofx_sys::kOfxStatOK),
        "{error}"
    );
    error
}

/// A frame of a generated clip: every value finite and in 0..1, and not one flat colour.
pub fn assert_picture(image: &Image) {
    let values = image.to_f32();
    assert!(
        values
            .iter()
            .all(|v| v.is_finite() && (0.0..=1.0).contains(v)),
        "pixels out of range"
    );
    assert!(
        values.iter().any(|v| (v - values[0]).abs() > 1e-3),
        "a flat frame"
    );
}

/// The sRGB EOTF (encoded value → linear light), written out here independently of the plugin.
pub fn srgb_to_linear(v: f32) -> f32 {
    let v = f64::from(v);
    (if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }) as f32
}

/// The inverse of [`srgb_to_linear`].
pub fn linear_to_srgb(l: f32) -> f32 {
    let l = f64::from(l);
    (if l <= 0.003_130_8 {
        l * 12.92
    } else {
        1.055 * l.powf(1.0 / 2.4) - 0.055
    }) as f32
}
