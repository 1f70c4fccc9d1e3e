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
    common::use_fixture(&instance);
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

    // the next good render clears it (then says the generation finished)
    session.set_host_property(PANIC_AT, None);
    session.clear_log();
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    let shown: Vec<(MessageKind, String)> = session
        .messages()
        .into_iter()
        .map(|m| (m.kind, m.level))
        .collect();
    assert_eq!(
        shown,
        [
            (MessageKind::Cleared, String::new()),
            (MessageKind::Persistent, "OfxMessageMessage".into())
        ]
    );

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
    // a seed of its own: other tests' clips in the process-wide memory cache would not reach this
    // test's cache folder
    instance.set_param("seed", 9101).unwrap();
    instance.set_param("useModelDefaults", false).unwrap();

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

    // 5000 frames are 1024 frames (the declared maximum), generated in windows of this model's 3
    instance.set_param("frames", 5000).unwrap();
    let line = match instance.param("status") {
        Some(ofx_host::ParamValue::Text(line)) => line,
        other => panic!("no status: {other:?}"),
    };
    assert!(
        line.ends_with(
            "; 1024 frames, longer than the model's 8: generated in overlapping windows of 3"
        ),
        "{line}"
    );
    assert_eq!(clips_in(cache.path()), 2);
}

fn rect(x1: i32, y1: i32, x2: i32, y2: i32) -> ofx_sys::OfxRectI {
    ofx_sys::OfxRectI { x1, y1, x2, y2 }
}

/// Makes the instance's project `size` (canonical) with pixel aspect ratio `par`.
fn set_project(instance: &ofx_host::Instance, size: (f64, f64), par: f64) {
    let props = instance.props();
    for name in [
        ofx_sys::kOfxImageEffectPropProjectSize,
        ofx_sys::kOfxImageEffectPropProjectExtent,
    ] {
        props.set(name, Value::Double(vec![size.0, size.1]));
    }
    props.set(
        ofx_sys::kOfxImageEffectPropProjectPixelAspectRatio,
        Value::Double(vec![par]),
    );
}

/// A final render of frame 0 into a 32×24 image, whatever the project says.
fn render_32x24(scale: f64) -> Render {
    Render {
        scale,
        window: Some(rect(0, 0, 32, 24)),
        bounds: Some(rect(0, 0, 32, 24)),
        ..Render::frame(0.0)
    }
}

/// The only error shown after a failed render of `instance` (at scale 1 into 32×24).
fn refused(session: &Session, instance: &ofx_host::Instance) -> String {
    session.clear_log();
    common::failed_render(instance.render(&render_32x24(1.0)));
    let shown = errors(session);
    assert_eq!(shown.len(), 1, "{shown:?}");
    shown[0].text.clone()
}

#[test]
fn an_empty_project_renders_transparent_black() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    set_project(&instance, (0.0, 0.0), 1.0);
    let image = instance.render(&render_32x24(1.0)).unwrap();
    assert!(image.to_f32().iter().all(|&v| v == 0.0));
}

#[test]
fn degenerate_or_absurd_projects_are_refused_with_a_clear_message() {
    let cache = tempfile::tempdir().unwrap();
    let cases = [
        (
            (-2.0, -2.0),
            1.0,
            "the project size -2.0×-2.0 is not usable",
        ),
        (
            (1e30, 1e30),
            1.0,
            "the project size 1e30×1e30 is not usable",
        ),
        (
            (f64::NAN, 24.0),
            1.0,
            "the project size NaN×24.0 is not usable",
        ),
        (
            (32.0, 24.0),
            1e-300,
            "the project's pixel aspect ratio 1e-300 is not usable",
        ),
        (
            (32.0, 24.0),
            -1.0,
            "the project's pixel aspect ratio -1.0 is not usable",
        ),
    ];
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    for (size, par, reason) in cases {
        set_project(&instance, size, par);
        let text = refused(&session, &instance);
        assert!(
            text.starts_with(&format!("Text to Video: {reason}")),
            "{size:?} {par}: {text}"
        );
        // the parameter edits that need the project say so in the status line instead of failing
        instance.set_param("seed", 3).unwrap();
    }
}

#[test]
fn absurd_render_scales_fall_back_to_the_scale_the_image_bounds_give() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    let reference = instance.render(&render_32x24(1.0)).unwrap();
    common::assert_picture(&reference);
    for scale in [0.0, -1.0, 1e-300, f64::NAN, f64::INFINITY, 1e300] {
        let image = instance.render(&render_32x24(scale)).unwrap();
        assert!(image == reference, "scale {scale} renders another picture");
    }
}

/// Runs the `render` tool on the fixture with `args`; returns (success, stderr).
fn render_tool(args: &[&str]) -> (bool, String) {
    let (out, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let result = std::process::Command::new(env!("CARGO_BIN_EXE_render"))
        .args(["--out", &out.path().to_string_lossy()])
        .args(["--model", &common::fixture_model().to_string_lossy()])
        .args(args)
        .env("T2V_BUNDLE", common::bundle())
        .env("T2V_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr).trim().to_owned();
    (result.status.success(), stderr)
}

#[test]
fn the_render_tool_refuses_absurd_sizes_before_allocating() {
    let huge = "4000000000";
    assert_eq!(
        render_tool(&["--width", huge, "--height", huge]),
        (
            false,
            "render: --width 4000000000 is out of range: the plugin takes 8 to 4096".into()
        )
    );
    assert_eq!(
        render_tool(&["--width", "64", "--height", "9000"]),
        (
            false,
            "render: --height 9000 is out of range: the plugin takes 8 to 4096".into()
        )
    );
    assert_eq!(
        render_tool(&["--frames", huge]),
        (
            false,
            "render: --frames 4000000000 is out of range: the plugin takes 0 to 1024".into()
        )
    );
    let (ok, stderr) = render_tool(&["--width", "-5", "--height", "8"]);
    assert!(!ok);
    assert_eq!(
        stderr.lines().next(),
        Some("error: invalid value '-5' for '--width <W>': -5 is not in 0..=4294967295")
    );
}

#[test]
fn the_host_refuses_output_buffers_it_cannot_allocate() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    let everything = rect(i32::MIN, i32::MIN, i32::MAX, i32::MAX);
    let error = instance
        .render(&Render {
            window: Some(everything),
            ..Render::frame(0.0)
        })
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("an output image of 4294967295×4294967295 pixels is too large"),
        "{error}"
    );
}

#[test]
fn a_render_window_too_large_to_resample_is_refused() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    // one byte a pixel keeps the host's buffer small; the plugin's RGBA float window would be 1 GiB
    instance.set_output_format(ofx_host::Depth::Byte, ofx_host::Components::Alpha);
    let window = rect(0, 0, 8300, 8200);
    session.clear_log();
    common::failed_render(instance.render(&Render {
        window: Some(window),
        ..Render::frame(0.0)
    }));
    let shown: Vec<String> = errors(&session).into_iter().map(|m| m.text).collect();
    assert_eq!(
        shown,
        [
            "Text to Video: the render window of 8300×8200 pixels is too large (at most 67108864 \
          pixels)"
        ]
    );
}
