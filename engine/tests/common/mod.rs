//! Shared by the engine's integration tests: fixture paths and loading ONNX Runtime.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::sync::Once;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/fixtures")
}

pub fn package() -> PathBuf {
    fixtures().join("tiny-modelscope")
}

/// `ORT_DYLIB_PATH`, else `<workspace>/target/onnxruntime/libonnxruntime.so.1.31.1`.
pub fn ort_library() -> PathBuf {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/onnxruntime/libonnxruntime.so.1.31.1");
    assert!(
        p.is_file(),
        "ONNX Runtime not found: set ORT_DYLIB_PATH or run scripts/setup.sh / `cargo run -p bundle -- fetch-ort` \
         (expected {})",
        p.display()
    );
    p
}

pub fn init_runtime() {
    static INIT: Once = Once::new();
    INIT.call_once(|| t2v_engine::init_onnx_runtime(&ort_library()).expect("ONNX Runtime loads"));
}

/// A writable copy of the fixture package, for tests that break it.
pub fn package_copy() -> tempfile::TempDir {
    copy_of(&package())
}

/// A writable copy of the package in `dir` (symlinks followed: the copy is self-contained).
pub fn copy_of(dir: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(dir, tmp.path());
    tmp
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Edits a JSON file in place.
pub fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(path, serde_json::to_string(&v).unwrap()).unwrap();
}
