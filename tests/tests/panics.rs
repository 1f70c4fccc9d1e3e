//! A panic in any action must reach the host as a failure status, never as an abort, and the plugin
//! must keep working afterwards. Drives the test-only fault-injection build
//! (`target/bundle-faults`), which panics where the host property `TextToVideoFaultPanicAt` says: at
//! the start of a named action, or inside the denoising loop ("generationStep").

mod common;

use ofx_host::{
    Context, HostConfig, HostError, Image, Instance, ProgressEvent, Render, Session, Value,
};
use ofx_sys::kOfxStatErrFatal;
use std::ffi::CStr;
use std::path::Path;

const PANIC_AT: &CStr = c"TextToVideoFaultPanicAt";

/// One fault test at a time: the plugin keeps the suites (so the fault point and the progress bar) of
/// the host that loaded it last, so sessions of parallel tests would read each other's.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The test host, asking for a panic at `panic_at` from the start.
fn config(panic_at: Option<&str>) -> HostConfig {
    HostConfig {
        extra_properties: panic_at
            .map(|point| vec![(PANIC_AT.to_owned(), Value::strings(&[point]))])
            .unwrap_or_default(),
        ..common::host(HostConfig::default())
    }
}

fn load(panic_at: Option<&str>) -> Result<Session, HostError> {
    Session::load(&common::fault_bundle(), config(panic_at))
}

fn panic_at(session: &Session, point: Option<&str>) {
    session.set_host_property(PANIC_AT, point.map(|p| Value::strings(&[p])));
}

/// `result` is the failure a panicking `action` must give: kOfxStatErrFatal for that action.
fn assert_fatal<T>(result: Result<T, HostError>, action: &str) {
    match result {
        Err(HostError::Action { action: a, status }) if a == action => assert_eq!(
            status,
            kOfxStatErrFatal,
            "{action} gave {}",
            ofx_host::status_name(status)
        ),
        Err(other) => panic!("{action} should fail with kOfxStatErrFatal, got {other}"),
        Ok(_) => panic!("{action} should fail with kOfxStatErrFatal, but succeeded"),
    }
}

/// An instance of the fault build generating the tiny fixture into `cache`.
fn instance<'s>(session: &'s Session, cache: &Path) -> Instance<'s> {
    common::instance(session, Context::Generator, cache)
}

#[test]
fn a_panic_in_load_describe_or_unload_fails_that_action_and_the_next_load_works() {
    let _serial = serial();
    for action in ["OfxActionLoad", "OfxActionDescribe"] {
        assert_fatal(load(Some(action)), action);
    }
    let session = load(None).expect("loads once the fault is gone");
    panic_at(&session, Some("OfxActionUnload"));
    assert_fatal(session.unload(), "OfxActionUnload");

    let cache = tempfile::tempdir().unwrap();
    let session = load(None).expect("loads after a panicking unload");
    let instance = instance(&session, cache.path());
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
}

#[test]
fn the_shipped_bundle_has_no_fault_injection() {
    let session = Session::load(&common::bundle(), config(Some("OfxActionLoad")))
        .expect("the shipped plugin ignores it");
    panic_at(&session, Some("OfxActionCreateInstance"));
    session
        .create_instance(Context::Generator)
        .expect("the shipped plugin ignores it");
}

#[test]
fn a_panic_in_any_instance_action_fails_it_and_the_same_action_then_works() {
    let _serial = serial();
    let cache = tempfile::tempdir().unwrap();
    let session = load(None).unwrap();

    panic_at(&session, Some("OfxImageEffectActionDescribeInContext"));
    assert_fatal(
        session.describe_in_context(Context::Generator),
        "OfxImageEffectActionDescribeInContext",
    );
    panic_at(&session, Some("OfxActionCreateInstance"));
    assert_fatal(
        session.create_instance(Context::Generator),
        "OfxActionCreateInstance",
    );
    panic_at(&session, None);
    let instance = instance(&session, cache.path());

    // (action, what the host sends); each is tried with the panic armed, then again without it
    type Send<'a> = Box<dyn Fn() -> Result<(), HostError> + 'a>;
    let range = (0.0, 2.0);
    let sends: Vec<(&str, Send)> = vec![
        (
            "OfxImageEffectActionGetClipPreferences",
            Box::new(|| instance.clip_preferences().map(drop)),
        ),
        (
            "OfxImageEffectActionGetRegionOfDefinition",
            Box::new(|| {
                let rod = instance.region_of_definition(0.0, 1.0)?;
                assert_eq!((rod.x2, rod.y2), (32.0, 24.0));
                Ok(())
            }),
        ),
        (
            "OfxImageEffectActionGetTimeDomain",
            Box::new(|| instance.time_domain().map(drop)),
        ),
        (
            "OfxImageEffectActionIsIdentity",
            Box::new(|| {
                assert_eq!(instance.is_identity(0.0, 1.0)?, None);
                Ok(())
            }),
        ),
        (
            "OfxImageEffectActionBeginSequenceRender",
            Box::new(|| instance.begin_sequence_render(range, 1.0, false)),
        ),
        (
            "OfxImageEffectActionRender",
            Box::new(|| {
                instance
                    .render(&Render::frame(1.0))
                    .map(|i| common::assert_picture(&i))
            }),
        ),
        (
            "OfxImageEffectActionEndSequenceRender",
            Box::new(|| instance.end_sequence_render(range, 1.0, false)),
        ),
        (
            "OfxActionBeginInstanceChanged",
            Box::new(|| instance.set_param("seed", 5)),
        ),
        (
            "OfxActionInstanceChanged",
            Box::new(|| instance.set_param("seed", 6)),
        ),
        (
            "OfxActionEndInstanceChanged",
            Box::new(|| instance.set_param("seed", 7)),
        ),
    ];
    for (action, send) in &sends {
        panic_at(&session, Some(action));
        assert_fatal(send(), action);
        panic_at(&session, None);
        send().unwrap_or_else(|e| panic!("{action} after its panic: {e}"));
    }
    drop(sends);

    panic_at(&session, Some("OfxActionDestroyInstance"));
    assert_fatal(instance.destroy(), "OfxActionDestroyInstance");
    panic_at(&session, None);
    let again = self::instance(&session, cache.path());
    common::assert_picture(&again.render(&Render::frame(2.0)).unwrap());
    again.destroy().unwrap();
}

/// Both faults inside a generation, one after the other.
#[test]
fn panics_inside_a_generation_fail_the_render_and_the_next_render_recovers() {
    let _serial = serial();
    let session = load(None).unwrap();
    a_panic_inside_the_denoising_loop_fails_the_render_and_the_next_render_generates(&session);
    a_failed_decode_keeps_the_latents_and_the_next_render_only_decodes(&session);
}

fn a_panic_inside_the_denoising_loop_fails_the_render_and_the_next_render_generates(
    session: &Session,
) {
    let cache = tempfile::tempdir().unwrap();
    let instance = instance(session, cache.path());
    instance.set_param("seed", 2024).unwrap();
    panic_at(session, Some("generationStep"));
    session.clear_log();
    assert_fatal(
        instance.render(&Render::frame(0.0)),
        "OfxImageEffectActionRender",
    );
    let progress = session.progress();
    assert!(
        matches!(progress.first(), Some(ProgressEvent::Start { .. })),
        "{progress:?}"
    );
    assert_eq!(
        progress.last(),
        Some(&ProgressEvent::End),
        "the progress bar is closed while the panic unwinds"
    );
    let files = common::walk(cache.path());
    assert!(
        files
            .iter()
            .all(|f| !f.ends_with(".png") && !f.ends_with("clip.json")),
        "a panicked generation left a clip in the cache: {files:?}"
    );

    // a render waiting for a generation that panics is not left waiting: it takes over (and meets
    // the same panic)
    for result in instance.render_all(&[Render::frame(1.0), Render::frame(2.0)], 2) {
        assert_fatal(result, "OfxImageEffectActionRender");
    }

    // the clip's single-flight slot was released: the same clip generates now, from two threads at once
    panic_at(session, None);
    session.clear_log();
    let frames: Vec<Image> = instance
        .render_all(&[Render::frame(0.0), Render::frame(0.0)], 2)
        .into_iter()
        .map(|r| r.expect("renders after the panic"))
        .collect();
    assert_eq!(frames[0], frames[1]);
    common::assert_picture(&frames[0]);
    assert_eq!(
        session.progress_updates(),
        5,
        "one generation: an update before and after each of 4 steps"
    );
}

/// A decode that fails (as running out of GPU memory would) after minutes of sampling: the final latents
/// were kept, so the next render decodes them without sampling again (the engine's tests prove sampling
/// then decoding is generating).
fn a_failed_decode_keeps_the_latents_and_the_next_render_only_decodes(session: &Session) {
    let cache = tempfile::tempdir().unwrap();
    let instance = instance(session, cache.path());
    instance.set_param("seed", 2031).unwrap();
    panic_at(session, Some("decode"));
    assert_fatal(
        instance.render(&Render::frame(0.0)),
        "OfxImageEffectActionRender",
    );
    let files = common::walk(cache.path());
    assert!(
        files
            .iter()
            .any(|f| f.contains("/.latents/") && f.ends_with(".f32")),
        "the latents are kept: {files:?}"
    );
    assert!(files.iter().all(|f| !f.ends_with("clip.json")), "{files:?}");

    panic_at(session, None);
    session.clear_log();
    common::assert_picture(&instance.render(&Render::frame(1.0)).unwrap());
    instance.press("fitMode").unwrap(); // the status line follows the next parameter event
    let status = match instance.param("status") {
        Some(ofx_host::ParamValue::Text(line)) => line,
        other => panic!("no status: {other:?}"),
    };
    assert!(
        status.ends_with("; decoded from the latents an earlier render kept (no sampling)"),
        "{status}"
    );
    let progress = session.progress();
    assert!(
        !progress
            .iter()
            .any(|e| matches!(e, ProgressEvent::Update(_))),
        "no denoising step ran: {progress:?}"
    );
}
