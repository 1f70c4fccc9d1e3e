//! What a user sees when things go wrong: a missing model, a cancelled progress dialog, the host's
//! abort — and hosts that lack the optional suites or persistent messages.

mod common;

use ofx_host::{Context, HostConfig, MessageKind, ProgressEvent, Render, Session};
use std::path::Path;

/// An instance whose custom model folder is empty.
fn missing_model<'s>(session: &'s Session, cache: &Path, empty: &Path) -> ofx_host::Instance<'s> {
    let instance = common::instance(session, Context::Generator, cache);
    instance
        .set_param("customModel", empty.to_string_lossy().as_ref())
        .unwrap();
    instance
}

#[test]
fn a_missing_model_fails_the_render_with_a_persistent_error() {
    let (cache, empty) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let session = common::load(HostConfig::default());
    let instance = missing_model(&session, cache.path(), empty.path());
    session.clear_log();
    common::failed_render(instance.render(&Render::frame(0.0)));
    let messages = session.messages();
    let error = messages
        .iter()
        .find(|m| m.kind == MessageKind::Persistent && m.level == "OfxMessageError")
        .unwrap_or_else(|| panic!("no persistent error in {messages:?}"));
    assert!(
        error.text.contains(&*empty.path().to_string_lossy()),
        "the message names the folder: {}",
        error.text
    );

    // fixing the model clears the message and renders
    instance
        .set_param(
            "customModel",
            common::fixture_model().to_string_lossy().as_ref(),
        )
        .unwrap();
    instance.render(&Render::frame(0.0)).unwrap();
    assert!(
        session
            .messages()
            .iter()
            .any(|m| m.kind == MessageKind::Cleared),
        "{:?}",
        session.messages()
    );
}

#[test]
fn without_persistent_messages_the_error_is_a_plain_message() {
    let (cache, empty) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let session = common::load(HostConfig::resolve());
    let instance = missing_model(&session, cache.path(), empty.path());
    session.clear_log();
    common::failed_render(instance.render(&Render::frame(0.0)));
    let messages = session.messages();
    assert!(
        messages.iter().any(|m| m.kind == MessageKind::Transient
            && m.level == "OfxMessageError"
            && m.text.contains(&*empty.path().to_string_lossy())),
        "{messages:?}"
    );
}

#[test]
fn cancelling_the_progress_dialog_fails_the_render_and_caches_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig {
        cancel_after_updates: Some(1),
        ..HostConfig::default()
    });
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("seed", 1234).unwrap();
    session.clear_log();
    common::failed_render(instance.render(&Render::frame(0.0)));
    let progress = session.progress();
    assert!(
        matches!(&progress[0], ProgressEvent::Start { label, .. } if !label.is_empty()),
        "{progress:?}"
    );
    let updates = progress
        .iter()
        .filter(|e| matches!(e, ProgressEvent::Update(_)))
        .count();
    assert_eq!(
        updates, 2,
        "generation stops at the first update answered with cancel: {progress:?}"
    );
    assert_eq!(
        progress.last(),
        Some(&ProgressEvent::End),
        "the progress bar is closed"
    );
    let files = common::walk(cache.path());
    assert!(
        files.iter().all(|f| !f.ends_with(".png")),
        "a cancelled clip left frames in the cache: {files:?}"
    );
}

#[test]
fn the_hosts_abort_stops_the_generation() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig {
        abort_after_updates: Some(1),
        ..HostConfig::default()
    });
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("seed", 4321).unwrap();
    session.clear_log();
    common::failed_render(instance.render(&Render::frame(0.0)));
    let updates = session
        .progress()
        .iter()
        .filter(|e| matches!(e, ProgressEvent::Update(_)))
        .count();
    assert!(
        updates <= 3,
        "generation went on after the abort: {updates} updates"
    );
    let files = common::walk(cache.path());
    assert!(
        files.iter().all(|f| !f.ends_with(".png")),
        "an aborted clip left frames in the cache: {files:?}"
    );
}

#[test]
fn an_abort_raised_before_the_render_fails_it_and_lowering_it_renders() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("seed", 99).unwrap();
    session.set_abort(true);
    common::failed_render(instance.render(&Render::frame(0.0)));
    session.set_abort(false);
    instance
        .render(&Render::frame(0.0))
        .expect("renders once the host stops aborting");
    // the disk tier does write frames (so the checks above are not vacuous)
    assert!(
        common::walk(cache.path())
            .iter()
            .any(|f| f.ends_with(".png")),
        "{:?}",
        common::walk(cache.path())
    );
}

#[test]
fn a_host_without_optional_suites_renders_the_same_frames() {
    let cache = tempfile::tempdir().unwrap();
    let bare = {
        let session = common::load(HostConfig::minimal());
        let instance = common::instance(&session, Context::Generator, cache.path());
        let frames = instance
            .render_sequence(0.0, 2.0, &Render::frame(0.0), 2)
            .unwrap();
        let refused: Vec<_> = session
            .suites_fetched()
            .into_iter()
            .filter(|(_, _, given)| !given)
            .collect();
        assert!(
            !refused.is_empty(),
            "the plugin asked for no optional suite"
        );
        frames
    };
    let other_cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, other_cache.path());
    assert_eq!(
        instance
            .render_sequence(0.0, 2.0, &Render::frame(0.0), 2)
            .unwrap(),
        bare
    );
}
