//! The `render` binary (the README's first command) writes PNG frames and a contact sheet.

mod common;

use std::path::Path;
use std::process::Command;

fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    (info.width, info.height)
}

#[test]
fn renders_frames_and_a_contact_sheet() {
    let out = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let result = Command::new(env!("CARGO_BIN_EXE_render"))
        .args([
            "--out",
            &out.path().to_string_lossy(),
            "--model",
            &common::fixture_model().to_string_lossy(),
        ])
        .args(["--seed", "3", "--frames", "2"])
        .env("T2V_BUNDLE", common::bundle())
        .env("T2V_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(
        stdout.contains("plugin    [Message] Text to Video: 2 frames 32×24 generated in "),
        "a clip of the 2 frames asked for: {stdout}"
    );
    for frame in ["frame_0000.png", "frame_0001.png"] {
        assert_eq!(png_size(&out.path().join(frame)), (32, 24), "{frame}");
        assert!(stdout.contains(frame), "{stdout}");
    }
    assert!(!out.path().join("frame_0002.png").exists());
    // two frames side by side with 4-pixel gaps
    assert_eq!(
        png_size(&out.path().join("contact_sheet.png")),
        (2 * 32 + 3 * 4, 24 + 2 * 4)
    );
}

#[test]
fn a_bad_flag_is_reported() {
    let result = Command::new(env!("CARGO_BIN_EXE_render"))
        .args(["--frames"])
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&result.stderr).trim(),
        "error: a value is required for '--frames <N>' but none was supplied\n\n\
         For more information, try '--help'."
    );
}

#[test]
fn ort_dylib_path_beats_the_bundled_onnx_runtime() {
    let (out, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let result = Command::new(env!("CARGO_BIN_EXE_render"))
        .args(["--out", &out.path().to_string_lossy()])
        .args(["--model", &common::fixture_model().to_string_lossy()])
        .args(["--frames", "1"])
        .env("T2V_BUNDLE", common::bundle())
        .env("T2V_CACHE_DIR", cache.path())
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert!(!result.status.success());
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        stdout.contains(
            "plugin    [Error] Text to Video: ONNX Runtime: library /nonexistent/libonnxruntime.so \
             does not exist"
        ),
        "{stdout}"
    );
}
