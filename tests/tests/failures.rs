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
    common::use_fixture(&instance);
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

/// Denoising steps of the stopped generations: enough that stopping early shows.
const STEPS: i32 = 12;
/// Progress updates the host answers normally before it stops the generation (the first comes
/// before the first step, then one after each step).
const STOP_AFTER: usize = 3;

/// Generates `seed`'s clip on `host`, which stops it at progress update `STOP_AFTER + 1` (cancel or
/// abort): the render fails, that update is the last (no further denoising step ran), the progress
/// bar is closed and nothing is cached. Then a host that lets it run generates the clip in full.
fn stops_within_one_step_and_the_next_render_regenerates(host: HostConfig, seed: i32) {
    let cache = tempfile::tempdir().unwrap();
    {
        let session = common::load(host);
        let instance = common::instance(&session, Context::Generator, cache.path());
        instance.set_param("seed", seed).unwrap();
        instance.set_param("useModelDefaults", false).unwrap();
        instance.set_param("steps", STEPS).unwrap();
        session.clear_log();
        common::failed_render(instance.render(&Render::frame(0.0)));
        let progress = session.progress();
        assert!(
            matches!(&progress[0], ProgressEvent::Start { label, .. } if !label.is_empty()),
            "{progress:?}"
        );
        assert_eq!(
            session.progress_updates(),
            STOP_AFTER + 1,
            "generation stops at the update that stopped it: {progress:?}"
        );
        assert_eq!(
            progress.last(),
            Some(&ProgressEvent::End),
            "the progress bar is closed"
        );
        let files = common::walk(cache.path());
        assert!(
            files.iter().all(|f| !f.ends_with(".png")),
            "a stopped clip left frames in the cache: {files:?}"
        );
    }
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("seed", seed).unwrap();
    instance.set_param("useModelDefaults", false).unwrap();
    instance.set_param("steps", STEPS).unwrap();
    session.clear_log();
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    assert_eq!(
        session.progress_updates(),
        STEPS as usize + 1,
        "a whole generation: {:?}",
        session.progress()
    );
    let files = common::walk(cache.path());
    assert_eq!(
        files.iter().filter(|f| f.ends_with(".png")).count(),
        3,
        "{files:?}"
    );
}

#[test]
fn cancelling_the_progress_dialog_stops_within_one_step_and_caches_nothing() {
    stops_within_one_step_and_the_next_render_regenerates(
        HostConfig {
            cancel_after_updates: Some(STOP_AFTER),
            ..HostConfig::default()
        },
        1234,
    );
}

#[test]
fn the_hosts_abort_stops_within_one_step_and_caches_nothing() {
    stops_within_one_step_and_the_next_render_regenerates(
        HostConfig {
            abort_after_updates: Some(STOP_AFTER),
            ..HostConfig::default()
        },
        4321,
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
