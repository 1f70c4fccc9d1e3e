//! Whether CUDA can work here, checked before ONNX Runtime is asked, so a fallback (or a strict-mode
//! failure) names the missing piece instead of ONNX Runtime's generic error.
//!
//! What ONNX Runtime loads, in this order: its CUDA provider from the folder of the ONNX Runtime library
//! itself; then the system's loader resolves the provider's CUDA libraries by name — first those already
//! loaded in the process (the CUDA bundle's `cuda/` folder beside the ONNX Runtime library, preloaded from
//! there by [`ready`]), then the system's search path (Linux: `LD_LIBRARY_PATH`, the `ld.so` cache, the
//! default folders; Windows: the standard DLL search order, `PATH` last). The driver's library always
//! comes from the system.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The names of CUDA's pieces on one operating system.
#[derive(Debug, PartialEq, Eq)]
pub struct Names {
    /// ONNX Runtime's CUDA provider, beside the ONNX Runtime library.
    pub provider: &'static str,
    /// The NVIDIA driver's library.
    pub driver: &'static str,
    /// The CUDA 13 and cuDNN 9 libraries the provider needs, each found in the bundle or on the system,
    /// in the order they load (each after those it needs).
    pub runtime: [&'static str; 8],
}

pub const LINUX: Names = Names {
    provider: "libonnxruntime_providers_cuda.so",
    driver: "libcuda.so.1",
    runtime: [
        "libcudart.so.13",
        "libnvJitLink.so.13",
        "libnvrtc.so.13",
        "libcublasLt.so.13",
        "libcublas.so.13",
        "libcurand.so.10",
        "libcufft.so.12",
        "libcudnn.so.9",
    ],
};

pub const WINDOWS: Names = Names {
    provider: "onnxruntime_providers_cuda.dll",
    driver: "nvcuda.dll",
    runtime: [
        "cudart64_13.dll",
        "nvJitLink_130_0.dll",
        "nvrtc64_130_0.dll",
        "cublasLt64_13.dll",
        "cublas64_13.dll",
        "curand64_10.dll",
        "cufft64_12.dll",
        "cudnn64_9.dll",
    ],
};

/// This operating system's names.
#[cfg(windows)]
pub const NAMES: &Names = &WINDOWS;
#[cfg(not(windows))]
pub const NAMES: &Names = &LINUX;

/// The oldest driver that runs CUDA 13 (what `onnxruntime-gpu` 1.31 is built with).
pub const MIN_DRIVER: &str = "580";
/// The folder beside the ONNX Runtime library holding the CUDA bundle's libraries.
pub const BUNDLED_DIR: &str = "cuda";

/// Why CUDA cannot work with the ONNX Runtime library `ort_library` on a system with `names`, or `None`
/// when every piece is there. `on_system` says whether the system's loader finds a library by name.
pub fn missing(
    names: &Names,
    ort_library: &Path,
    on_system: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let dir = ort_library.parent().unwrap_or(Path::new("."));
    if !dir.join(names.provider).is_file() {
        return Some(format!(
            "CUDA unavailable: this ONNX Runtime has no CUDA provider ({} is not in {}); \
             install the CUDA bundle",
            names.provider,
            dir.display()
        ));
    }
    if !on_system(names.driver) {
        return Some(format!(
            "CUDA unavailable: {} not found; needs the NVIDIA driver ≥ {MIN_DRIVER}",
            names.driver
        ));
    }
    let bundled = dir.join(BUNDLED_DIR);
    let absent = names
        .runtime
        .iter()
        .find(|lib| !bundled.join(lib).is_file() && !on_system(lib))?;
    Some(format!(
        "CUDA unavailable: {absent} not found (neither in {} nor on the system library path); \
         needs the NVIDIA driver ≥ {MIN_DRIVER} and the CUDA bundle, or CUDA 13 and cuDNN 9 installed",
        bundled.display()
    ))
}

/// Whether the system's loader finds `name` (loading it, as ONNX Runtime would).
pub fn on_system(name: &str) -> bool {
    // SAFETY: CUDA's libraries run no initialisation that could break the process when loaded.
    unsafe { libloading::Library::new(name) }.is_ok()
}

/// Loads the runtime libraries `names` lists from `dir` (those it holds), in order, and keeps them
/// loaded for the process, so the provider's imports resolve to them; then cuDNN's sub-libraries (ort's
/// list), which cuDNN loads by name later.
pub fn preload(names: &Names, dir: &Path) -> Result<(), String> {
    for lib in names.runtime.iter().map(|lib| dir.join(lib)) {
        if lib.is_file() {
            // SAFETY: as for `on_system`.
            let loaded = unsafe { libloading::Library::new(&lib) }
                .map_err(|e| format!("CUDA unavailable: cannot load {}: {e}", lib.display()))?;
            std::mem::forget(loaded);
        }
    }
    ort::ep::cuda::preload_dylibs(None, Some(dir))
        .map_err(|e| format!("CUDA unavailable: {e} (from {})", dir.display()))
}

/// Checks CUDA for `ort_library` once per process and preloads the bundled libraries: `Err` says what is
/// missing.
pub(crate) fn ready(ort_library: &Path) -> Result<(), String> {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    READY
        .get_or_init(|| {
            if let Some(why) = missing(NAMES, ort_library, &on_system) {
                return Err(why);
            }
            let bundled: PathBuf = ort_library.with_file_name(BUNDLED_DIR);
            if bundled.is_dir() {
                preload(NAMES, &bundled)?;
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
        for (names, provider) in [
            (&LINUX, "libonnxruntime_providers_cuda.so"),
            (&WINDOWS, "onnxruntime_providers_cuda.dll"),
        ] {
            assert_eq!(
                missing(names, &lib, &|_| true).unwrap(),
                format!(
                    "CUDA unavailable: this ONNX Runtime has no CUDA provider \
                     ({provider} is not in {}); install the CUDA bundle",
                    dir.path().display()
                )
            );
        }
    }

    #[test]
    fn then_the_driver_then_each_runtime_library_bundled_or_on_the_system() {
        for (names, driver, first, second, last) in [
            (
                &LINUX,
                "libcuda.so.1",
                "libcudart.so.13",
                "libnvJitLink.so.13",
                "libcudnn.so.9",
            ),
            (
                &WINDOWS,
                "nvcuda.dll",
                "cudart64_13.dll",
                "nvJitLink_130_0.dll",
                "cudnn64_9.dll",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let lib = dir.path().join("onnxruntime");
            touch(dir.path(), names.provider);
            assert_eq!(
                missing(names, &lib, &|name| name != driver).unwrap(),
                format!("CUDA unavailable: {driver} not found; needs the NVIDIA driver ≥ 580")
            );
            let driver_only = |name: &str| name == driver;
            let bundled = dir.path().join(BUNDLED_DIR);
            assert_eq!(
                missing(names, &lib, &driver_only).unwrap(),
                format!(
                    "CUDA unavailable: {first} not found (neither in {} nor on the system library \
                     path); needs the NVIDIA driver ≥ 580 and the CUDA bundle, or CUDA 13 and cuDNN 9 \
                     installed",
                    bundled.display()
                )
            );
            // The bundle's copy counts; the next missing one is named.
            std::fs::create_dir(&bundled).unwrap();
            touch(&bundled, first);
            let text = missing(names, &lib, &driver_only).unwrap();
            assert!(
                text.starts_with(&format!("CUDA unavailable: {second} not found")),
                "{text}"
            );
            // A system copy counts as well.
            for name in &names.runtime[1..7] {
                touch(&bundled, name);
            }
            let text = missing(names, &lib, &driver_only).unwrap();
            assert!(
                text.starts_with(&format!("CUDA unavailable: {last} not found")),
                "{text}"
            );
            assert_eq!(missing(names, &lib, &|s| s == driver || s == last), None);
        }
    }

    #[test]
    fn the_system_loader_is_asked_by_name() {
        assert!(on_system(if cfg!(windows) {
            "kernel32.dll"
        } else {
            "libc.so.6"
        }));
        assert!(!on_system("libdoes-not-exist.so.13"));
    }

    /// A library the bundle holds but the loader cannot load is named, with the loader's reason.
    #[test]
    fn a_bundled_library_that_does_not_load_is_named() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), NAMES.runtime[0]);
        let err = preload(NAMES, dir.path()).unwrap_err();
        let expected = format!(
            "CUDA unavailable: cannot load {}: ",
            dir.path().join(NAMES.runtime[0]).display()
        );
        assert!(err.starts_with(&expected), "{err}");
    }
}
