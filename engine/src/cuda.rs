//! Whether CUDA can work here, checked before ONNX Runtime is asked, so a fallback (or a strict-mode
//! failure) names the missing piece instead of ONNX Runtime's generic error.
//!
//! What ONNX Runtime loads, in this order: its CUDA provider (`libonnxruntime_providers_cuda.so`) from the
//! folder of the ONNX Runtime library itself; then the dynamic loader resolves the provider's CUDA
//! libraries by soname — first those already loaded in the process (the CUDA bundle's `cuda/` folder
//! beside the ONNX Runtime library, preloaded from there with [`ort::ep::cuda::preload_dylibs`]), then
//! the system's search path (`LD_LIBRARY_PATH`, the `ld.so` cache, the default folders). The driver's
//! `libcuda.so.1` always comes from the system.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The CUDA provider, beside the ONNX Runtime library.
pub const PROVIDER: &str = "libonnxruntime_providers_cuda.so";
/// The NVIDIA driver's library.
pub const DRIVER: &str = "libcuda.so.1";
/// The oldest driver that runs CUDA 13 (what `onnxruntime-gpu` 1.31 is built with).
pub const MIN_DRIVER: &str = "580";
/// The folder beside the ONNX Runtime library holding the CUDA bundle's libraries.
pub const BUNDLED_DIR: &str = "cuda";
/// The CUDA 13 and cuDNN 9 libraries the provider needs, each found in the bundle or on the system.
pub const RUNTIME_LIBRARIES: [&str; 7] = [
    "libcudart.so.13",
    "libcublasLt.so.13",
    "libcublas.so.13",
    "libcurand.so.10",
    "libcufft.so.12",
    "libnvrtc.so.13",
    "libcudnn.so.9",
];

/// Why CUDA cannot work with the ONNX Runtime library `ort_library`, or `None` when every piece is
/// there. `on_system` says whether the system's loader finds a library by soname.
pub fn missing(ort_library: &Path, on_system: &dyn Fn(&str) -> bool) -> Option<String> {
    let dir = ort_library.parent().unwrap_or(Path::new("."));
    if !dir.join(PROVIDER).is_file() {
        return Some(format!(
            "CUDA unavailable: this ONNX Runtime has no CUDA provider ({PROVIDER} is not in {}); \
             install the CUDA bundle",
            dir.display()
        ));
    }
    if !on_system(DRIVER) {
        return Some(format!(
            "CUDA unavailable: {DRIVER} not found; needs the NVIDIA driver ≥ {MIN_DRIVER}"
        ));
    }
    let bundled = dir.join(BUNDLED_DIR);
    let absent = RUNTIME_LIBRARIES
        .iter()
        .find(|lib| !bundled.join(lib).is_file() && !on_system(lib))?;
    Some(format!(
        "CUDA unavailable: {absent} not found (neither in {} nor on the system library path); \
         needs the NVIDIA driver ≥ {MIN_DRIVER} and the CUDA bundle, or CUDA 13 and cuDNN 9 installed",
        bundled.display()
    ))
}

/// Whether the system's dynamic loader finds `soname` (loading it, as ONNX Runtime would).
pub fn on_system(soname: &str) -> bool {
    // SAFETY: CUDA's libraries run no initialisation that could break the process when loaded.
    unsafe { libloading::Library::new(soname) }.is_ok()
}

/// Checks CUDA for `ort_library` once per process and preloads the bundled libraries: `Err` says what is
/// missing.
pub(crate) fn ready(ort_library: &Path) -> Result<(), String> {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    READY
        .get_or_init(|| {
            if let Some(why) = missing(ort_library, &on_system) {
                return Err(why);
            }
            let bundled: PathBuf = ort_library.with_file_name(BUNDLED_DIR);
            if bundled.is_dir() {
                ort::ep::cuda::preload_dylibs(Some(&bundled), Some(&bundled))
                    .map_err(|e| format!("CUDA unavailable: {e} (from {})", bundled.display()))?;
            }
            Ok(())
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str) {
        std::fs::write(dir.join(name), b"").unwrap();
    }

    #[test]
    fn the_provider_beside_onnx_runtime_is_checked_first() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("libonnxruntime.so.1.31.1");
        assert_eq!(
            missing(&lib, &|_| true).unwrap(),
            format!(
                "CUDA unavailable: this ONNX Runtime has no CUDA provider \
                 (libonnxruntime_providers_cuda.so is not in {}); install the CUDA bundle",
                dir.path().display()
            )
        );
    }

    #[test]
    fn then_the_driver_then_each_runtime_library_bundled_or_on_the_system() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("libonnxruntime.so.1.31.1");
        touch(dir.path(), PROVIDER);
        assert_eq!(
            missing(&lib, &|soname| soname != DRIVER).unwrap(),
            "CUDA unavailable: libcuda.so.1 not found; needs the NVIDIA driver ≥ 580"
        );
        let driver_only = |soname: &str| soname == DRIVER;
        let bundled = dir.path().join(BUNDLED_DIR);
        assert_eq!(
            missing(&lib, &driver_only).unwrap(),
            format!(
                "CUDA unavailable: libcudart.so.13 not found (neither in {} nor on the system library \
                 path); needs the NVIDIA driver ≥ 580 and the CUDA bundle, or CUDA 13 and cuDNN 9 installed",
                bundled.display()
            )
        );
        // The bundle's copy counts; the next missing one is named.
        std::fs::create_dir(&bundled).unwrap();
        touch(&bundled, "libcudart.so.13");
        assert!(missing(&lib, &driver_only)
            .unwrap()
            .starts_with("CUDA unavailable: libcublasLt.so.13 not found"));
        // A system copy counts as well.
        for name in &RUNTIME_LIBRARIES[1..6] {
            touch(&bundled, name);
        }
        assert!(missing(&lib, &driver_only)
            .unwrap()
            .starts_with("CUDA unavailable: libcudnn.so.9 not found"));
        assert_eq!(
            missing(&lib, &|s| s == DRIVER || s == "libcudnn.so.9"),
            None
        );
    }

    #[test]
    fn the_system_loader_is_asked_by_soname() {
        assert!(on_system("libc.so.6"));
        assert!(!on_system("libdoes-not-exist.so.13"));
    }
}
