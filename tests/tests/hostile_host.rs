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
