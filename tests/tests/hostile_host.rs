//! Hosts that behave oddly: Resolve 14's half-implemented message suite, panics inside the plugin
//! (reported to the user, not only as a status), parameter values outside their declared ranges,
//! and degenerate or absurd project geometry. Each ends in a clear message or a valid (possibly
//! transparent) image; the host never goes down.

mod common;

use ofx_host::{Context, HostConfig, Message, MessageKind, Render, Session, Value};
use ofx_sys::kOfxStatErrFatal;

fn errors(session: &Session) -> Vec<Message> {
    session
        .messages()
        .into_iter()
        .filter(|m| m.level == "OfxMessageError")
        .collect()
}

#[test]
fn resolve_never_gets_its_garbage_clear_persistent_message_called() {
    let (cache, empty) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let session = common::load(HostConfig::resolve());
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance
        .set_param("customModel", empty.path().to_string_lossy().as_ref())
        .unwrap();
    session.clear_log();
    common::failed_render(instance.render(&Render::frame(0.0)));
    instance
        .set_param(
            "customModel",
            common::fixture_model().to_string_lossy().as_ref(),
        )
        .unwrap();
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    common::assert_picture(&instance.render(&Render::frame(1.0)).unwrap());
    assert_eq!(session.garbage_calls(), Vec::<String>::new());
    let messages = session.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].kind, MessageKind::Transient);
    assert!(
        messages[0].text.starts_with("Text to Video: model folder "),
        "{messages:?}"
    );
}

const PANIC_AT: &std::ffi::CStr = c"TextToVideoFaultPanicAt";

#[test]
fn a_panic_reaches_the_user_as_a_message_naming_the_action() {
    let cache = tempfile::tempdir().unwrap();
    let session =
        Session::load(&common::fault_bundle(), common::host(HostConfig::default())).unwrap();
    let instance = common::instance(&session, Context::Generator, cache.path());
    let render = "OfxImageEffectActionRender";
    session.set_host_property(PANIC_AT, Some(Value::strings(&[render])));
    session.clear_log();
    let error = common::failed_render(instance.render(&Render::frame(0.0)));
    assert_eq!(
        error,
        ofx_host::HostError::Action {
            action: render.into(),
            status: kOfxStatErrFatal
        }
    );
    let text =
        format!("Text to Video: internal error in {render}: fault injection: panic at {render}");
    let shown = errors(&session);
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(
        (shown[0].kind, shown[0].text.as_str()),
        (MessageKind::Persistent, text.as_str())
    );

    // the next good render clears it
    session.set_host_property(PANIC_AT, None);
    session.clear_log();
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    let kinds: Vec<MessageKind> = session.messages().iter().map(|m| m.kind).collect();
    assert_eq!(kinds, [MessageKind::Cleared]);

    // an action without an instance gets a plain message
    session.set_host_property(
        PANIC_AT,
        Some(Value::strings(&["OfxImageEffectActionDescribeInContext"])),
    );
    session.clear_log();
    assert!(session.describe_in_context(Context::General).is_err());
    let shown = errors(&session);
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0].kind, MessageKind::Transient);
    assert_eq!(
        shown[0].text,
        "Text to Video: internal error in OfxImageEffectActionDescribeInContext: fault injection: \
         panic at OfxImageEffectActionDescribeInContext"
    );
}

/// The error messages of a failed render of `instance`.
fn failed_render_errors(session: &Session, instance: &ofx_host::Instance) -> Vec<String> {
    session.clear_log();
    common::failed_render(instance.render(&Render::frame(0.0)));
    errors(session).into_iter().map(|m| m.text).collect()
}

/// Clips (folders holding a `clip.json`) in a cache folder.
fn clips_in(cache: &std::path::Path) -> usize {
    common::walk(cache)
        .iter()
        .filter(|f| f.ends_with("clip.json"))
        .count()
}

#[test]
fn parameter_values_past_their_declared_range_act_as_the_range_limit() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());

    // guidance 3e38 is guidance 50 (the declared maximum): the same clip, cached once
    instance.set_param("guidance", 3e38).unwrap();
    let huge = instance.render(&Render::frame(0.0)).unwrap();
    common::assert_picture(&huge);
    instance.set_param("guidance", 50.0).unwrap();
    let limit = instance.render(&Render::frame(0.0)).unwrap();
    assert!(limit == huge, "guidance 3e38 and 50 give different frames");
    assert_eq!(clips_in(cache.path()), 1);

    // negative steps are 0 (the model's default)
    instance.set_param("guidance", 0.0).unwrap();
    instance.set_param("steps", -7).unwrap();
    let negative = instance.render(&Render::frame(0.0)).unwrap();
    instance.set_param("steps", 0).unwrap();
    let zero = instance.render(&Render::frame(0.0)).unwrap();
    assert!(zero == negative, "steps -7 and 0 give different frames");
    assert_eq!(clips_in(cache.path()), 2);

    // 5000 frames are 1024 frames (the declared maximum), which this model refuses
    instance.set_param("frames", 5000).unwrap();
    let too_many = failed_render_errors(&session, &instance);
    instance.set_param("frames", 0).unwrap();
    instance.render(&Render::frame(0.0)).unwrap(); // clears the error, so the next one shows again
    instance.set_param("frames", 1024).unwrap();
    assert_eq!(failed_render_errors(&session, &instance), too_many);
    assert_eq!(too_many.len(), 1, "{too_many:?}");
    assert!(too_many[0].contains("1024"), "{too_many:?}");
}
