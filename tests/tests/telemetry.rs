//! Nothing phones home and nothing is written outside our folders: ONNX Runtime's PyPI build records
//! telemetry by default on Linux (a device id and usage database under `~/.cache/Microsoft`, a fixed-name
//! `/tmp/.ses` opened with O_TRUNC through symlinks). A generation through the bundle, in a process whose
//! home folder is empty, must leave that home empty and `/tmp/.ses` untouched.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

const SES: &str = "/tmp/.ses";

/// Generates one clip with the `render` tool in a fresh process whose home is `home` (its cache and log
/// folders are elsewhere, so the home must stay empty).
fn generate_in_fresh_process(home: &Path) {
    let (out, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let logs = tempfile::tempdir().unwrap();
    let result = Command::new(env!("CARGO_BIN_EXE_render"))
        .args(["--out", &out.path().to_string_lossy()])
        .args(["--model", &common::fixture_model().to_string_lossy()])
        .args(["--frames", "1", "--steps", "1"])
        .env("T2V_BUNDLE", common::bundle())
        .env("T2V_CACHE_DIR", cache.path())
        .env("T2V_LOG_DIR", logs.path())
        .env("HOME", home)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("ORT_DISABLE_TELEMETRY")
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(out.path().join("frame_0000.png").is_file());
    assert!(logs.path().join("text-to-video_rCURRENT.log").is_file());
}

#[test]
fn a_generation_writes_nothing_outside_its_folders() {
    let home = tempfile::tempdir().unwrap();
    let victim = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(victim.path(), b"precious").unwrap();
    // With no /tmp/.ses yet, plant the link the runtime would follow; else the file must stay as it is.
    let planted = std::os::unix::fs::symlink(victim.path(), SES).is_ok();
    let before = std::fs::symlink_metadata(SES).ok();

    generate_in_fresh_process(home.path());

    let after = std::fs::symlink_metadata(SES).ok();
    if planted {
        std::fs::remove_file(SES).unwrap();
    }
    assert_eq!(std::fs::read(victim.path()).unwrap(), b"precious");
    let stamp = |m: &std::fs::Metadata| (m.ino(), m.len(), m.mtime(), m.mtime_nsec());
    assert_eq!(
        before.as_ref().map(stamp),
        after.as_ref().map(stamp),
        "{SES} changed"
    );
    let left: Vec<_> = std::fs::read_dir(home.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        left.is_empty(),
        "written into the home folder: {left:?} {:?}",
        common::walk(home.path())
    );
}
