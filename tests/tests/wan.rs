//! A Wan package through the bundle, as an editor runs it: generated with the package's own defaults (size,
//! 4k+1 frames, scheduler), and a frame count outside the family's rules failing with the engine's
//! explanation and the count that fits.

mod common;

use std::path::PathBuf;

use ofx_host::{Context, HostConfig, ParamValue, Render, Session};

/// The tiny Wan2.1 fixture.
fn wan_fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../models/fixtures/tiny-wan21")
        .canonicalize()
        .expect("models/fixtures/tiny-wan21 exists")
}

#[test]
fn a_wan_package_renders_its_own_defaults_and_explains_its_frame_rule() {
    let cache = tempfile::tempdir().unwrap();
    let config = HostConfig {
        project_size: (48.0, 32.0),
        frame_range: (0.0, 8.0),
        ..HostConfig::default()
    };
    let session = Session::load(&common::bundle(), config).unwrap();
    let instance = session.create_instance(Context::Generator).unwrap();
    let model = wan_fixture();
    instance
        .set_param("customModel", model.to_string_lossy().as_ref())
        .unwrap();
    instance
        .set_param("cacheFolder", cache.path().to_string_lossy().as_ref())
        .unwrap();
    instance.set_param("outputSize", 1).unwrap();
    instance.set_param("timing", 2).unwrap();
    instance
        .set_param("prompt", "a red fox running through fresh snow")
        .unwrap();

    let frames = instance
        .render_sequence(0.0, 8.0, &Render::frame(0.0), 1)
        .unwrap();
    assert_eq!(frames.len(), 9);
    for (i, frame) in frames.iter().enumerate() {
        assert_eq!((frame.width(), frame.height()), (48, 32), "frame {i}");
        common::assert_picture(frame);
    }
    for pair in frames.windows(2) {
        assert_ne!(pair[0], pair[1], "the frames of a clip differ");
    }
    instance.press("fitMode").unwrap(); // the status line follows the next parameter event
    let Some(ParamValue::Text(status)) = instance.param("status") else {
        panic!("no status")
    };
    assert!(
        status.starts_with("9 frames 48×32, 5 steps, seed "),
        "{status}"
    );
    // Made with the package's own scheduler (its defaults say UniPC), as the cached clip records.
    let [key] = &common::entries(cache.path())[..] else {
        panic!("one clip expected")
    };
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(cache.path().join(key).join("clip.json")).unwrap(),
    )
    .unwrap();
    let request: serde_json::Value = serde_json::from_str(
        meta["recipe"]["request"]
            .as_str()
            .expect("the request encoding"),
    )
    .unwrap();
    assert_eq!(request["scheduler"], "unipc", "{meta}");
    assert_eq!(request["family"], "wan", "{meta}");

    // 8 frames are not 4k+1: the plugin asks for the nearest count the model takes, and says so.
    instance.set_param("useModelDefaults", false).unwrap();
    instance.set_param("frames", 8).unwrap();
    let again = instance.render(&Render::frame(0.0)).unwrap();
    assert!(again == frames[0], "9 frames: the clip just made");
    assert_eq!(common::entries(cache.path()).len(), 1);
    instance.press("fitMode").unwrap();
    let Some(ParamValue::Text(status)) = instance.param("status") else {
        panic!("no status")
    };
    assert!(
        status.ends_with("; Frames 8 → 9 (what the model takes)"),
        "{status}"
    );
}

/// Model Licence shows what the package states, and says when it states nothing.
#[test]
fn the_model_licence_is_shown_for_the_chosen_package() {
    let cache = tempfile::tempdir().unwrap();
    let session = Session::load(&common::bundle(), HostConfig::default()).unwrap();
    let instance = common::instance(&session, Context::Generator, cache.path());
    let licence = |instance: &ofx_host::Instance| match instance.param("modelLicense") {
        Some(ParamValue::Text(text)) => text,
        other => panic!("modelLicense: {other:?}"),
    };
    instance
        .set_param("customModel", wan_fixture().to_string_lossy().as_ref())
        .unwrap();
    assert_eq!(licence(&instance), "apache-2.0");
    common::use_fixture(&instance); // tiny-modelscope: no t2v_license
    assert_eq!(licence(&instance), "not stated by the package");
}
