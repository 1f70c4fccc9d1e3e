//! Clear all removes only the cache's own entries and says what it did: a user's folder or file that
//! merely looks like an entry (a 64-hex-digit name) stays, and a folder that is not a cache folder is
//! left alone with a message.

mod common;

use ofx_host::{Context, HostConfig, ParamValue, Render};

fn status(instance: &ofx_host::Instance) -> String {
    match instance.param("status") {
        Some(ParamValue::Text(line)) => line,
        other => panic!("no status: {other:?}"),
    }
}

#[test]
fn clear_all_removes_our_entries_and_nothing_else() {
    let session = common::load(HostConfig::default());
    let cache = tempfile::tempdir().unwrap();
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("seed", 21).unwrap();
    instance.render(&Render::frame(0.0)).unwrap();
    let lookalike_dir = cache.path().join("a".repeat(64));
    std::fs::create_dir(&lookalike_dir).unwrap();
    std::fs::write(lookalike_dir.join("footage.mov"), b"take 3").unwrap();
    let lookalike_file = cache.path().join("b".repeat(64));
    std::fs::write(&lookalike_file, b"notes").unwrap();

    instance.press("clearAll").unwrap();
    assert_eq!(status(&instance), "Cleared 1 clip");
    assert_eq!(
        common::entries(cache.path()),
        ["a".repeat(64), "b".repeat(64)]
    );
    assert_eq!(
        std::fs::read(lookalike_dir.join("footage.mov")).unwrap(),
        b"take 3"
    );
    assert_eq!(std::fs::read(&lookalike_file).unwrap(), b"notes");
    let problems: Vec<_> = session
        .messages()
        .into_iter()
        .filter(|m| m.level == "OfxMessageWarning" || m.level == "OfxMessageError")
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn clear_all_leaves_a_folder_that_is_not_a_cache_folder_and_says_so() {
    let session = common::load(HostConfig::default());
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("notes.txt"), b"keep me").unwrap();
    let instance = common::instance(&session, Context::Generator, folder.path());
    instance.press("clearAll").unwrap();
    let line = status(&instance);
    assert!(line.starts_with("Cleared no clips on disk: "), "{line}");
    let messages = session.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].level, "OfxMessageWarning");
    assert_eq!(messages[0].text, format!("Text to Video: {line}"));
    assert_eq!(
        std::fs::read(folder.path().join("notes.txt")).unwrap(),
        b"keep me"
    );
}
