//! Clear all asks first (how many clips, how much, where) and removes only on Yes; it removes only the
//! cache's own entries and says what it did: a user's folder or file that merely looks like an entry (a
//! 64-hex-digit name) stays, and a folder that is not a cache folder is left alone with a message. The
//! Cache Limit parameter caps the folder.

mod common;

use clip_cache::ClipCache;
use ofx_host::{Context, HostConfig, ParamValue, QuestionReply, Render};
use ofx_sys::{kOfxParamPropDefault, kOfxParamPropParent, kOfxParamPropType, kOfxPropLabel};
use std::path::Path;

fn answering(reply: QuestionReply) -> HostConfig {
    HostConfig {
        question_reply: reply,
        ..HostConfig::default()
    }
}

/// The questions the plugin asked.
fn questions(session: &ofx_host::Session) -> Vec<String> {
    session
        .messages()
        .into_iter()
        .filter(|m| m.level == "OfxMessageQuestion")
        .map(|m| m.text)
        .collect()
}

/// The question Clear All must ask about `cache` as it is now (sizes as the cache counts them).
fn expected_question(cache: &Path) -> String {
    let usage = ClipCache::new(0, 0).usage(Some(cache)).unwrap();
    assert!(usage.bytes > 0 && usage.bytes < 1 << 20, "{usage:?}");
    let clips = if usage.clips == 1 { "clip" } else { "clips" };
    format!(
        "Remove {} cached {clips} ({} KB) from {}? This cannot be undone.",
        usage.clips,
        usage.bytes.div_ceil(1024),
        cache.display()
    )
}

fn status(instance: &ofx_host::Instance) -> String {
    match instance.param("status") {
        Some(ParamValue::Text(line)) => line,
        other => panic!("no status: {other:?}"),
    }
}

#[test]
fn clear_all_removes_our_entries_and_nothing_else() {
    let session = common::load(answering(QuestionReply::Yes));
    let cache = tempfile::tempdir().unwrap();
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("seed", 21).unwrap();
    instance.render(&Render::frame(0.0)).unwrap();
    let lookalike_dir = cache.path().join("a".repeat(64));
    std::fs::create_dir(&lookalike_dir).unwrap();
    std::fs::write(lookalike_dir.join("footage.mov"), b"take 3").unwrap();
    let lookalike_file = cache.path().join("b".repeat(64));
    std::fs::write(&lookalike_file, b"notes").unwrap();
    let question = expected_question(cache.path());

    instance.press("clearAll").unwrap();
    assert_eq!(questions(&session), [question]);
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

#[test]
fn clear_all_answered_no_removes_nothing_and_says_so() {
    let session = common::load(HostConfig::default()); // the headless host answers No
    let cache = tempfile::tempdir().unwrap();
    let instance = common::instance(&session, Context::Generator, cache.path());
    for seed in [1, 2] {
        instance.set_param("seed", seed).unwrap();
        instance.render(&Render::frame(0.0)).unwrap();
    }
    let before = common::walk(cache.path());
    let question = expected_question(cache.path());
    assert!(question.contains("Remove 2 cached clips ("), "{question}");

    instance.press("clearAll").unwrap();
    assert_eq!(questions(&session), [question]);
    assert_eq!(
        status(&instance),
        "Clear All cancelled: nothing was removed"
    );
    assert_eq!(common::walk(cache.path()), before);
    assert_eq!(common::entries(cache.path()).len(), 2);
}

#[test]
fn a_host_that_cannot_ask_gets_nothing_removed() {
    let session = common::load(answering(QuestionReply::Failed));
    let cache = tempfile::tempdir().unwrap();
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.render(&Render::frame(0.0)).unwrap();
    instance.press("clearAll").unwrap();
    assert_eq!(questions(&session).len(), 1);
    assert_eq!(
        status(&instance),
        "Clear All needs the host to confirm it and this host cannot ask: nothing was removed \
         (delete the cache folder's contents by hand instead)"
    );
    assert_eq!(common::entries(cache.path()).len(), 1);
}

#[test]
fn an_empty_cache_folder_is_cleared_without_a_question() {
    let session = common::load(HostConfig::default());
    let cache = tempfile::tempdir().unwrap();
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.press("clearAll").unwrap();
    assert!(questions(&session).is_empty());
    assert_eq!(status(&instance), "Cleared 0 clips");
}

#[test]
fn the_cache_limit_parameter_caps_the_folder() {
    let session = common::load(HostConfig::default());
    let cache = tempfile::tempdir().unwrap();
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("cacheLimit", 1e-9).unwrap(); // about one byte: only the newest clip stays
    let mut newest = Vec::new();
    for seed in [1, 2] {
        instance.set_param("seed", seed).unwrap();
        instance.render(&Render::frame(0.0)).unwrap();
        newest = common::entries(cache.path());
    }
    assert_eq!(newest.len(), 1, "{newest:?}");
    instance.set_param("cacheLimit", 0.0).unwrap(); // back to the default: both stay
    instance.set_param("seed", 3).unwrap();
    instance.render(&Render::frame(0.0)).unwrap();
    assert_eq!(common::entries(cache.path()).len(), 2);
}

#[test]
fn the_cache_limit_is_a_gb_double_in_the_cache_group() {
    let session = common::load(HostConfig::default());
    let instance = session.create_instance(Context::Generator).unwrap();
    let props = instance.param_props("cacheLimit").unwrap();
    assert_eq!(
        props.string(kOfxParamPropType, 0).as_deref(),
        Some("OfxParamTypeDouble")
    );
    assert_eq!(
        props.string(kOfxPropLabel, 0).as_deref(),
        Some("Cache Limit (GB)")
    );
    assert_eq!(
        props.string(kOfxParamPropParent, 0).as_deref(),
        Some("groupCache")
    );
    assert_eq!(props.double(kOfxParamPropDefault, 0), Some(0.0));
    instance.destroy().unwrap();
}
