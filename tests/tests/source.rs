//! The Source clip (General context): Source Strength and Start From read exactly the Source frames the
//! timing maps the generated frames onto, in any pixel layout, release every image, and key the clip on
//! those pixels (an unchanged source is a cache hit, in another process too; one changed pixel is a
//! miss); settings that read no source fetch nothing and key as plain text-to-video.

mod common;

use ofx_host::{
    Components, Context, Depth, HostConfig, Instance, ParamValue, Render, Session, SourceClip,
    SourceFrame,
};
use ofx_sys::*;
use std::path::Path;
use std::process::Command;

/// The Source frame at timeline frame `t`: red encodes the time, green the column, blue the row; every
/// value is a whole number of 255ths, so bytes, shorts and floats carry exactly the same picture.
fn pattern(t: f64) -> Option<SourceFrame> {
    let (w, h) = (32, 24);
    let red = ((t as i32).rem_euclid(20) * 10 + 5) as f32 / 255.0;
    let rgba = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .flat_map(|(x, y)| [red, (x * 7) as f32 / 255.0, (y * 9) as f32 / 255.0, 1.0])
        .collect();
    Some(SourceFrame {
        width: w,
        height: h,
        rgba,
    })
}

fn load(frames: f64) -> Session {
    let config = HostConfig {
        frame_range: (0.0, frames - 1.0),
        ..common::host(HostConfig::default())
    };
    Session::load(&common::bundle(), config).expect("the bundle loads")
}

/// A General-context instance of the fixture caching into `cache`, Source Strength `strength`, `seed`.
/// Tests use seeds of their own: a clip another test made is in memory and not written to this one's
/// folder.
fn instance<'s>(session: &'s Session, cache: &Path, strength: f64, seed: i32) -> Instance<'s> {
    let instance = common::instance(session, Context::General, cache);
    instance.set_param("strength", strength).unwrap();
    instance.set_param("seed", seed).unwrap();
    instance
}

fn status(instance: &Instance) -> String {
    match instance.param("status") {
        Some(ParamValue::Text(text)) => text,
        other => panic!("status: {other:?}"),
    }
}

fn render(instance: &Instance) {
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    assert_eq!(
        instance.source_images_held(),
        0,
        "every Source image released"
    );
}

/// The key of the one clip in `cache`.
fn only_key(cache: &Path) -> String {
    let [key] = <[String; 1]>::try_from(common::entries(cache)).unwrap();
    key
}

#[test]
fn settings_that_read_no_source_fetch_nothing_and_key_as_text_to_video() {
    let session = load(3.0);
    // One folder: a clip of the same key served from memory is not written to another.
    let cache = tempfile::tempdir().unwrap();
    let plain = common::instance(&session, Context::Generator, cache.path());
    plain.set_param("seed", 1000).unwrap();
    render(&plain);
    let plain_key = only_key(cache.path());

    // Connected, Strength 1 and Start From None: the Source is ignored.
    let connected = instance(&session, cache.path(), 1.0, 1000);
    connected.connect_source(SourceClip::new(pattern)).unwrap();
    render(&connected);
    assert_eq!(connected.source_fetches(), Vec::<f64>::new());
    assert_eq!(only_key(cache.path()), plain_key);
    assert_eq!(connected.frames_needed(0.0).unwrap(), None);

    // Unconnected and asking for a source: plain text-to-video, and the status line says why.
    let unconnected = instance(&session, cache.path(), 0.5, 1000);
    unconnected.set_param("startFrom", 1).unwrap();
    render(&unconnected);
    assert_eq!(only_key(cache.path()), plain_key);
    let status = status(&unconnected);
    assert!(
        status.ends_with(
            "; Source Strength needs the Source input connected; Start From needs the Source input \
             connected"
        ),
        "{status}"
    );
}

#[test]
fn video_to_video_reads_the_frames_the_timing_maps_onto() {
    // A 6-frame clip. One generated frame per timeline frame: the fixture's 3 frames are timeline
    // frames 0, 1, 2.
    let session = load(6.0);
    let cache = tempfile::tempdir().unwrap();
    let instance = instance(&session, cache.path(), 0.5, 1001);
    instance.connect_source(SourceClip::new(pattern)).unwrap();
    assert_eq!(instance.frames_needed(1.0).unwrap(), Some(vec![0.0, 2.0]));
    render(&instance);
    assert_eq!(instance.source_fetches(), [0.0, 1.0, 2.0]);

    // Stretched over the clip: generated frame k shows from timeline frame 2k.
    instance.set_param("timing", 1).unwrap();
    let before = instance.source_fetches().len();
    render(&instance);
    let fetched = instance.source_fetches();
    assert_eq!(
        fetched[fetched.len() - 3..],
        [0.0, 2.0, 4.0],
        "{:?}",
        &fetched[before..]
    );
    assert_eq!(instance.frames_needed(3.0).unwrap(), Some(vec![0.0, 4.0]));
}

#[test]
fn start_from_reads_one_frame_the_clip_start_or_the_chosen_one() {
    let session = load(3.0);
    let cache = tempfile::tempdir().unwrap();
    let instance = instance(&session, cache.path(), 1.0, 1002);
    instance.connect_source(SourceClip::new(pattern)).unwrap();
    let enabled = |i: &Instance| {
        i.param_props("startFrame")
            .unwrap()
            .int(kOfxParamPropEnabled, 0)
    };

    instance.set_param("startFrom", 1).unwrap();
    assert_eq!(
        instance.param("startFromName"),
        Some(ParamValue::Text("clip_start".into()))
    );
    assert_eq!(enabled(&instance), Some(0), "Start Frame greyed out");
    let before = instance.source_fetches().len();
    render(&instance);
    assert_eq!(instance.source_fetches()[before..], [0.0]);
    assert_eq!(instance.frames_needed(2.0).unwrap(), Some(vec![0.0, 0.0]));

    instance.set_param("startFrom", 2).unwrap();
    instance.set_param("startFrame", 17).unwrap();
    assert_eq!(enabled(&instance), Some(1));
    let before = instance.source_fetches().len();
    render(&instance);
    assert_eq!(instance.source_fetches()[before..], [17.0]);
    assert_eq!(
        common::entries(cache.path()).len(),
        2,
        "two start images, two clips"
    );
}

#[test]
fn every_pixel_layout_gives_the_same_request() {
    let session = load(3.0);
    let cache = tempfile::tempdir().unwrap();
    let layouts = [
        (Depth::Float, Components::Rgba, false, false),
        (Depth::Byte, Components::Rgba, false, false),
        (Depth::Short, Components::Rgb, false, true),
        (Depth::Float, Components::Rgba, true, false),
        (Depth::Byte, Components::Rgb, true, true),
    ];
    for (depth, components, bgra, negative_row_bytes) in layouts {
        let instance = instance(&session, cache.path(), 0.5, 1003);
        instance
            .connect_source(SourceClip {
                depth,
                components,
                bgra,
                negative_row_bytes,
                ..SourceClip::new(pattern)
            })
            .unwrap();
        render(&instance);
        assert_eq!(
            common::entries(cache.path()).len(),
            1,
            "{depth:?} {components:?} bgra {bgra} negative row bytes {negative_row_bytes}"
        );
    }
}

#[test]
fn one_changed_source_pixel_is_another_clip_and_unread_frames_are_not() {
    let session = load(3.0);
    let cache = tempfile::tempdir().unwrap();
    let first = instance(&session, cache.path(), 0.5, 1004);
    first.connect_source(SourceClip::new(pattern)).unwrap();
    render(&first);
    let key = only_key(cache.path());

    // A frame the clip does not read (timeline frame 5) changes nothing.
    let unread = instance(&session, cache.path(), 0.5, 1004);
    unread
        .connect_source(SourceClip::new(|t| {
            let mut f = pattern(t)?;
            if t == 5.0 {
                f.rgba.fill(0.0);
            }
            Some(f)
        }))
        .unwrap();
    session.clear_log();
    render(&unread);
    assert_eq!(only_key(cache.path()), key);
    assert!(session.progress().is_empty(), "served from the cache");

    // One pixel of frame 2, one 255th brighter.
    let changed = instance(&session, cache.path(), 0.5, 1004);
    changed
        .connect_source(SourceClip::new(|t| {
            let mut f = pattern(t)?;
            if t == 2.0 {
                f.rgba[(5 * 32 + 9) * 4 + 1] += 1.0 / 255.0;
            }
            Some(f)
        }))
        .unwrap();
    render(&changed);
    assert_eq!(common::entries(cache.path()).len(), 2);

    // Another strength is another clip too.
    let other = instance(&session, cache.path(), 0.25, 1004);
    other.connect_source(SourceClip::new(pattern)).unwrap();
    render(&other);
    assert_eq!(common::entries(cache.path()).len(), 3);
}

/// Set in the child process: the cache folder the parent rendered into.
const CHILD_CACHE: &str = "T2V_SOURCE_TEST_CACHE";

#[test]
fn an_unchanged_source_is_a_cache_hit_in_another_process() {
    let cache = tempfile::tempdir().unwrap();
    let session = load(3.0);
    let instance = instance(&session, cache.path(), 0.5, 2000);
    instance.connect_source(SourceClip::new(pattern)).unwrap();
    render(&instance);
    let key = only_key(cache.path());
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["source_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_CACHE, cache.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("source child: cache hit (disk)"),
        "{stdout}"
    );
    assert_eq!(only_key(cache.path()), key);
}

/// Runs only as the child of `an_unchanged_source_is_a_cache_hit_in_another_process`.
#[test]
fn source_child() {
    let Some(cache) = std::env::var_os(CHILD_CACHE) else {
        return;
    };
    let session = load(3.0);
    let instance = instance(&session, Path::new(&cache), 0.5, 2000);
    instance.connect_source(SourceClip::new(pattern)).unwrap();
    render(&instance);
    if session.progress().is_empty() && instance.source_fetches() == [0.0, 1.0, 2.0] {
        println!("source child: cache hit (disk)");
    }
}

#[test]
fn an_alpha_only_source_fails_the_render_with_a_message() {
    let session = load(3.0);
    let cache = tempfile::tempdir().unwrap();
    let instance = instance(&session, cache.path(), 0.5, 1007);
    instance
        .connect_source(SourceClip {
            components: Components::Alpha,
            ..SourceClip::new(pattern)
        })
        .unwrap();
    session.clear_log();
    assert!(instance.render(&Render::frame(0.0)).is_err());
    assert_eq!(instance.source_images_held(), 0, "released on failure too");
    let texts: Vec<String> = session.messages().into_iter().map(|m| m.text).collect();
    assert!(
        texts.contains(
            &"Text to Video: the Source input has only an alpha channel: connect an RGB or RGBA clip"
                .to_string()
        ),
        "{texts:?}"
    );
    assert!(
        common::entries(cache.path()).is_empty(),
        "nothing generated"
    );
}

#[test]
fn the_source_clip_asks_for_temporal_access() {
    let session = load(3.0);
    let cache = tempfile::tempdir().unwrap();
    let instance = instance(&session, cache.path(), 0.5, 1008);
    assert_eq!(
        session
            .descriptor()
            .int(kOfxImageEffectPropTemporalClipAccess, 0),
        Some(1)
    );
    let general = session.describe_in_context(Context::General).unwrap();
    let (_, source) = general
        .clips
        .iter()
        .find(|(name, _)| name == "Source")
        .expect("a Source clip in the General context");
    assert_eq!(
        source.int(kOfxImageEffectPropTemporalClipAccess, 0),
        Some(1)
    );
    assert_eq!(source.int(kOfxImageClipPropOptional, 0), Some(1));
    // Without temporal access this host would refuse the fetches at other times than the render's.
    instance.connect_source(SourceClip::new(pattern)).unwrap();
    render(&instance);
    assert_eq!(instance.source_fetches(), [0.0, 1.0, 2.0]);
}
