//! Honest controls: Use Model Defaults greys out Steps, Guidance and Frames and shows the model's values
//! (projects saved before it keep theirs); values the model cannot take are changed and said in the status
//! line (frames past its maximum, a project larger than the engine generates, a prompt longer than the
//! text encoder takes); a finished generation leaves a note on the node, never a dialog.

mod common;

use ofx_host::{Context, HostConfig, Instance, MessageKind, ParamValue, Render, Session};
use ofx_sys::*;

fn status(instance: &Instance) -> String {
    match instance.param("status") {
        Some(ParamValue::Text(text)) => text,
        other => panic!("no status: {other:?}"),
    }
}

fn int(instance: &Instance, name: &str) -> i32 {
    match instance.param(name) {
        Some(ParamValue::Ints(v)) => v[0],
        other => panic!("{name}: {other:?}"),
    }
}

fn double(instance: &Instance, name: &str) -> f64 {
    match instance.param(name) {
        Some(ParamValue::Doubles(v)) => v[0],
        other => panic!("{name}: {other:?}"),
    }
}

fn enabled(instance: &Instance, name: &str) -> bool {
    instance
        .param_props(name)
        .unwrap()
        .int(kOfxParamPropEnabled, 0)
        == Some(1)
}

/// Steps, Guidance, Frames as the instance shows them.
fn sampling(instance: &Instance) -> (i32, f64, i32) {
    (
        int(instance, "steps"),
        double(instance, "guidance"),
        int(instance, "frames"),
    )
}

/// An instance on the fixture (4 steps, guidance 7.5, 3 frames of at most 8) with seed `seed` (one per
/// test: the memory tier is shared by the tests of this process).
fn fresh<'s>(session: &'s Session, cache: &std::path::Path, seed: i32) -> Instance<'s> {
    let instance = common::instance(session, Context::Generator, cache);
    instance.set_param("seed", seed).unwrap();
    instance
}

#[test]
fn use_model_defaults_greys_out_and_shows_the_models_values() {
    let (session, cache) = (
        common::load(HostConfig::default()),
        tempfile::tempdir().unwrap(),
    );
    let instance = fresh(&session, cache.path(), 1201);
    assert_eq!(
        int(&instance, "useModelDefaults"),
        1,
        "on for new instances"
    );
    assert_eq!(sampling(&instance), (4, 7.5, 3));
    for name in ["steps", "guidance", "frames"] {
        assert!(!enabled(&instance, name), "{name} is greyed out");
    }
    instance.set_param("useModelDefaults", false).unwrap();
    for name in ["steps", "guidance", "frames"] {
        assert!(enabled(&instance, name), "{name} can be edited");
    }
    assert_eq!(
        sampling(&instance),
        (4, 7.5, 3),
        "starting from the model's"
    );
    instance.set_param("steps", 2).unwrap();
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    instance.press("fitMode").unwrap();
    assert!(
        status(&instance).starts_with("3 frames 32×24, 2 steps, seed 1201: generated in"),
        "{}",
        status(&instance)
    );
    // On again: the model's values whatever Steps held.
    instance.set_param("useModelDefaults", true).unwrap();
    assert_eq!(sampling(&instance), (4, 7.5, 3));
    assert!(
        status(&instance).starts_with("Not generated yet"),
        "4 steps is another clip: {}",
        status(&instance)
    );
}

#[test]
fn a_project_saved_before_use_model_defaults_keeps_its_values() {
    let (session, cache) = (
        common::load(HostConfig::default()),
        tempfile::tempdir().unwrap(),
    );
    // Steps of its own, 0 ("the model's") for Guidance and Frames; the toggle did not exist.
    let old = session.create_instance(Context::Generator).unwrap();
    for (name, value) in [
        (
            "customModel",
            ParamValue::from(common::fixture_model().to_string_lossy().as_ref()),
        ),
        (
            "cacheFolder",
            cache.path().to_string_lossy().as_ref().into(),
        ),
        ("outputSize", 1.into()),
        ("timing", 2.into()),
        ("prompt", "a red ball\nbouncing on grass".into()),
        ("seed", 1202.into()),
        ("steps", 2.into()),
    ] {
        old.restore_param(name, value).unwrap();
    }
    session.clear_log();
    let before = old.render(&Render::frame(0.0)).unwrap();
    assert!(!session.progress().is_empty(), "generated");
    // The first edit turns the toggle off and writes the model's values where the project had 0.
    old.press("fitMode").unwrap();
    assert_eq!(int(&old, "useModelDefaults"), 0);
    assert_eq!(int(&old, "paramsVersion"), 1);
    assert_eq!(sampling(&old), (2, 7.5, 3));
    assert!(
        status(&old).starts_with("3 frames 32×24, 2 steps, seed 1202: generated in"),
        "the same clip: {}",
        status(&old)
    );
    session.clear_log();
    assert_eq!(old.render(&Render::frame(0.0)).unwrap(), before);
    assert!(session.progress().is_empty(), "served from the cache");

    // A project with only 0s follows the model, as it always did.
    let zeros = session.create_instance(Context::Generator).unwrap();
    common::use_fixture(&zeros);
    assert_eq!(int(&zeros, "useModelDefaults"), 1);
    assert_eq!(sampling(&zeros), (4, 7.5, 3));
}

#[test]
fn frames_past_the_models_maximum_are_windowed_and_said() {
    let (session, cache) = (
        common::load(HostConfig::default()),
        tempfile::tempdir().unwrap(),
    );
    let instance = fresh(&session, cache.path(), 1203);
    assert_eq!(
        instance
            .param_props("frames")
            .unwrap()
            .int(kOfxParamPropMax, 0),
        Some(1024),
        "the engine's maximum: longer clips than the model's are generated in windows"
    );
    instance.set_param("useModelDefaults", false).unwrap();
    instance.set_param("frames", 40).unwrap();
    let line = status(&instance);
    assert!(
        line.ends_with(
            "; 40 frames, longer than the model's 8: generated in overlapping windows of 3"
        ),
        "{line}"
    );
}

/// Only the request is checked: even the tiny fixture needs about 20 GB at 4096 pixels wide (its
/// attention grows with the square of the latent size); `request`'s unit tests cover the sizes.
#[test]
fn a_project_wider_than_the_engine_generates_its_largest_size_and_upscales() {
    let cache = tempfile::tempdir().unwrap();
    let config = HostConfig {
        project_size: (8192.0, 48.0),
        ..common::host(HostConfig::default())
    };
    let session = Session::load(&common::bundle(), config).unwrap();
    let instance = fresh(&session, cache.path(), 1204);
    instance.set_param("outputSize", 0).unwrap();
    let line = status(&instance);
    assert!(
        line.ends_with("; generated at 4096×24, upscaled to the 8192×48 project"),
        "{line}"
    );
}

#[test]
fn a_prompt_longer_than_the_text_encoder_takes_is_said() {
    let (session, cache) = (
        common::load(HostConfig::default()),
        tempfile::tempdir().unwrap(),
    );
    let instance = fresh(&session, cache.path(), 1205);
    assert!(
        !status(&instance).contains("cut at"),
        "{}",
        status(&instance)
    );
    let long = vec!["a red ball bouncing on grass"; 30].join(", ");
    instance.set_param("prompt", long.as_str()).unwrap();
    let line = status(&instance);
    assert!(
        line.contains("; prompt cut at 77 tokens (it has "),
        "{line}"
    );
}

#[test]
fn a_finished_generation_leaves_a_note_on_the_node_but_never_a_dialog() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = fresh(&session, cache.path(), 1206);
    session.clear_log();
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    common::assert_picture(&instance.render(&Render::frame(1.0)).unwrap());
    let messages = session.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        (messages[0].kind, messages[0].level.as_str()),
        (MessageKind::Persistent, "OfxMessageMessage")
    );
    assert!(
        messages[0]
            .text
            .starts_with("Text to Video: 3 frames 32×24 generated in "),
        "{messages:?}"
    );
    // The next edit clears it (the status line takes over).
    session.clear_log();
    instance.set_param("seed", 1207).unwrap();
    let kinds: Vec<MessageKind> = session.messages().iter().map(|m| m.kind).collect();
    assert_eq!(kinds, [MessageKind::Cleared]);
}

#[test]
fn without_persistent_messages_a_finished_generation_shows_nothing() {
    // Resolve: rather nothing than a dialog per generation.
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::resolve());
    let instance = fresh(&session, cache.path(), 1208);
    session.clear_log();
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    assert!(session.messages().is_empty(), "{:?}", session.messages());
    assert_eq!(session.garbage_calls(), Vec::<String>::new());
}
