//! A disk that fills up while the cache writes a clip: the render still returns its frames (from
//! memory, with a warning) and the cache folder is left without a partial entry, so the next process
//! generates and stores the clip whole.
//!
//! The full disk is a file size limit (`ulimit -f`, with SIGXFSZ ignored so writes fail with EFBIG
//! part-way through a frame's PNG instead of killing the process) on a child process running this
//! test again: the limit cannot be lifted once set, so the rest of the suite must not share it.

mod common;

use ofx_host::{Context, HostConfig, MessageKind, Render};
use std::path::Path;
use std::process::Command;

const TEST: &str = "a_cache_write_that_runs_out_of_space_keeps_the_frames_and_leaves_nothing";
/// Set in the child: the cache folder to write into.
const CHILD_CACHE: &str = "T2V_TEST_DISK_FULL_CACHE";
/// Printed by the child when its checks passed (the test harness prints its own lines too).
const CHILD_OK: &str = "disk-full child: frames rendered";

#[test]
fn a_cache_write_that_runs_out_of_space_keeps_the_frames_and_leaves_nothing() {
    match std::env::var_os(CHILD_CACHE) {
        Some(cache) => render_on_a_full_disk(Path::new(&cache)),
        None => run_child_then_check(),
    }
}

fn render_on_a_full_disk(cache: &Path) {
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache);
    session.clear_log();
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    let messages = session.messages();
    let warning = messages
        .iter()
        .find(|m| m.kind == MessageKind::Persistent && m.level == "OfxMessageWarning")
        .unwrap_or_else(|| panic!("no warning in {messages:?}"));
    println!("{}", warning.text);
    assert!(
        warning.text.starts_with("Text to Video: ") && warning.text.contains("File too large"),
        "{}",
        warning.text
    );
    // the other frames come from memory
    session.clear_log();
    common::assert_picture(&instance.render(&Render::frame(2.0)).unwrap());
    assert!(session.progress().is_empty(), "{:?}", session.progress());
    println!("{CHILD_OK}");
}

fn run_child_then_check() {
    let cache = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    // 1 block (512 or 1024 bytes, by shell): less than one 16-bit PNG frame of the fixture
    let output = Command::new("sh")
        .args(["-c", "trap '' XFSZ; ulimit -f 1 && exec \"$0\" \"$@\""])
        .arg(&exe)
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_CACHE, cache.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(CHILD_OK),
        "child failed ({}):\n{stdout}\n{stderr}",
        output.status
    );

    let left: Vec<String> = common::walk(cache.path())
        .into_iter()
        .filter(|f| !f.contains("/.locks/") && !f.ends_with("/CACHEDIR.TAG"))
        .collect();
    assert!(left.is_empty(), "the failed write left {left:?}");

    // with room again, the same clip generates and is stored whole
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    session.clear_log();
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    assert!(
        !session.progress().is_empty(),
        "nothing was cached, so it generates"
    );
    assert!(
        session
            .messages()
            .iter()
            .all(|m| m.level != "OfxMessageWarning"),
        "{:?}",
        session.messages()
    );
    let files = common::walk(cache.path());
    assert_eq!(
        files.iter().filter(|f| f.ends_with(".png")).count(),
        3,
        "{files:?}"
    );
}
