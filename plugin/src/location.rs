//! Where this plugin lives (from `kOfxPluginPropFilePath`), and what it finds next to itself: the ONNX
//! Runtime library and the models discovered at describe time. Process-wide, because render instances
//! come and go.

use std::path::{Path, PathBuf};

use parking_lot::RwLock;

use crate::models::{self, ModelEntry};

static BUNDLE: RwLock<Option<PathBuf>> = RwLock::new(None);
static MODELS: RwLock<Option<Vec<ModelEntry>>> = RwLock::new(None);

pub fn set_bundle(path: &str) {
    *BUNDLE.write() = (!path.is_empty()).then(|| bundle_root(Path::new(path)));
}

/// The `*.ofx.bundle` folder containing `path` (hosts should pass the bundle itself; some pass the
/// binary inside it), else `path` unchanged.
fn bundle_root(path: &Path) -> PathBuf {
    path.ancestors()
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".ofx.bundle"))
        })
        .unwrap_or(path)
        .to_path_buf()
}

pub fn bundle() -> Option<PathBuf> {
    BUNDLE.read().clone()
}

/// Scans the model folders again (describe) and returns the models found.
pub fn rescan_models() -> Vec<ModelEntry> {
    let found = models::discover(&models::default_roots(bundle().as_deref()));
    *MODELS.write() = Some(found.clone());
    found
}

/// The models of the `model` choice, as describe listed them.
pub fn models() -> Vec<ModelEntry> {
    let known = MODELS.read().clone();
    known.unwrap_or_else(rescan_models)
}

/// The bundle folder holding this platform's plugin binary and ONNX Runtime.
#[cfg(not(windows))]
pub const ARCH_DIR: &str = "Linux-x86-64";
#[cfg(windows)]
pub const ARCH_DIR: &str = "Win64";

/// ONNX Runtime's library as it lies in [`ARCH_DIR`] (a versioned suffix may follow on Linux).
#[cfg(not(windows))]
pub const ONNXRUNTIME_NAME: &str = "libonnxruntime.so";
#[cfg(windows)]
pub const ONNXRUNTIME_NAME: &str = "onnxruntime.dll";

/// ONNX Runtime: `ORT_DYLIB_PATH` when set (an explicit setting beats the default, e.g. a studio's own
/// GPU build), else the one inside the bundle next to the plugin binary.
pub fn onnxruntime_library() -> Option<PathBuf> {
    let explicit = std::env::var_os("ORT_DYLIB_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    explicit.or_else(|| bundle().and_then(|b| find_onnxruntime(&b.join("Contents").join(ARCH_DIR))))
}

/// Exactly `onnxruntime.dll` in `dir`: a prefix match would also take `onnxruntime_providers_shared.dll`.
#[cfg(windows)]
fn find_onnxruntime(dir: &Path) -> Option<PathBuf> {
    Some(dir.join(ONNXRUNTIME_NAME)).filter(|p| p.is_file())
}

/// The `libonnxruntime.so*` in `dir` (the versioned name sorts last and wins).
#[cfg(not(windows))]
fn find_onnxruntime(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(ONNXRUNTIME_NAME))
        })
        .collect();
    found.sort();
    found.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_root_accepts_the_bundle_or_its_binary() {
        let b = Path::new("/p/TextToVideo.ofx.bundle");
        assert_eq!(bundle_root(b), b);
        assert_eq!(
            bundle_root(&b.join("Contents/Linux-x86-64/TextToVideo.ofx")),
            b
        );
        assert_eq!(
            bundle_root(Path::new("/elsewhere/x")),
            Path::new("/elsewhere/x")
        );
    }

    #[cfg(not(windows))]
    #[test]
    fn finds_the_bundled_onnxruntime() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(find_onnxruntime(tmp.path()), None);
        std::fs::write(tmp.path().join("TextToVideo.ofx"), b"").unwrap();
        std::fs::write(tmp.path().join("libonnxruntime.so.1.31.1"), b"").unwrap();
        assert_eq!(
            find_onnxruntime(tmp.path()),
            Some(tmp.path().join("libonnxruntime.so.1.31.1"))
        );
        assert_eq!(find_onnxruntime(&tmp.path().join("missing")), None);
    }

    #[cfg(windows)]
    #[test]
    fn finds_exactly_onnxruntime_dll() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("onnxruntime_providers_shared.dll"), b"").unwrap();
        assert_eq!(find_onnxruntime(tmp.path()), None);
        std::fs::write(tmp.path().join("onnxruntime.dll"), b"").unwrap();
        assert_eq!(
            find_onnxruntime(tmp.path()),
            Some(tmp.path().join("onnxruntime.dll"))
        );
    }
}
