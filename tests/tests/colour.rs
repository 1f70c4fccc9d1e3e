//! Colour: the Output transfer choice (sRGB as generated, or linear light with Rec.709 primaries) saved by
//! its id, resampling in linear light, and OpenFX 1.5 colour management with a colour-managed host.

mod common;

use clip_cache::{Clip, ClipCache, Options, Recipe};
use ofx_host::{
    ColourManagement, Components, Context, Depth, HostConfig, Instance, ParamValue, Render,
    Samples, Session,
};
use ofx_sys::*;
use std::path::Path;
use std::sync::Arc;

/// Asserts that `linear` is the sRGB EOTF of `srgb` per colour channel (within `tolerance`), alpha equal.
fn assert_decoded(srgb: &[f32], linear: &[f32], tolerance: f32) {
    assert_eq!(srgb.len(), linear.len());
    for (i, (s, l)) in srgb.iter().zip(linear).enumerate() {
        let want = if i % 4 == 3 {
            *s
        } else {
            common::srgb_to_linear(*s)
        };
        assert!(
            (l - want).abs() <= tolerance,
            "sample {i}: sRGB {s} gave {l}, want {want}"
        );
    }
}

fn half(time: f64) -> Render {
    Render {
        scale: 0.5,
        ..Render::frame(time)
    }
}

fn float(instance: &Instance, render: &Render) -> Vec<f32> {
    instance.render(render).unwrap().to_f32()
}

#[test]
fn linear_output_is_the_srgb_eotf_of_the_srgb_output() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    assert_eq!(
        instance.param("outputTransfer"),
        Some(ParamValue::Ints(vec![0])),
        "sRGB by default"
    );
    let srgb = instance.render(&Render::frame(0.0)).unwrap();
    common::assert_picture(&srgb);
    let srgb_half = float(&instance, &half(0.0));

    instance.set_param("outputTransfer", 1).unwrap();
    assert_eq!(
        instance.param("outputTransferName"),
        Some(ParamValue::Text("linear".into()))
    );
    let linear = float(&instance, &Render::frame(0.0));
    assert_decoded(&srgb.to_f32(), &linear, 0.0);
    assert!(
        srgb.to_f32().iter().zip(&linear).any(|(s, l)| s - l > 0.1),
        "linear is darker in the mid-tones"
    );
    // Resampled, both are the same linear-light filtering: sRGB is its encoding.
    assert_decoded(&srgb_half, &float(&instance, &half(0.0)), 2e-6);

    // Integer depths carry the linear values, quantised like any other.
    instance.set_output_format(Depth::Byte, Components::Rgba);
    let Samples::Byte(bytes) = instance.render(&Render::frame(0.0)).unwrap().samples else {
        panic!("byte image expected")
    };
    for (l, b) in linear.iter().zip(&bytes) {
        assert_eq!(*b, (l.clamp(0.0, 1.0) * 255.0).round() as u8, "linear {l}");
    }
    instance.set_output_format(Depth::Short, Components::Rgba);
    let Samples::Short(shorts) = instance.render(&Render::frame(0.0)).unwrap().samples else {
        panic!("short image expected")
    };
    for (l, s) in linear.iter().zip(&shorts) {
        assert_eq!(
            *s,
            (l.clamp(0.0, 1.0) * 65535.0).round() as u16,
            "linear {l}"
        );
    }

    instance.set_output_format(Depth::Float, Components::Rgba);
    instance.set_param("outputTransfer", 0).unwrap();
    assert_eq!(
        instance.param("outputTransferName"),
        Some(ParamValue::Text("srgb".into()))
    );
    assert_eq!(instance.render(&Render::frame(0.0)).unwrap(), srgb);
}

#[test]
fn the_transfer_is_saved_by_its_id_and_old_projects_keep_their_index() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("seed", 77).unwrap();
    let srgb = float(&instance, &Render::frame(0.0));
    let decoded: Vec<f32> = srgb
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if i % 4 == 3 {
                v
            } else {
                common::srgb_to_linear(v)
            }
        })
        .collect();

    // Saved before outputTransferName existed: the index alone.
    instance.restore_param("outputTransfer", 1).unwrap();
    assert_eq!(float(&instance, &Render::frame(0.0)), decoded);
    // The id wins over whatever the index says.
    instance
        .restore_param("outputTransferName", "srgb")
        .unwrap();
    assert_eq!(float(&instance, &Render::frame(0.0)), srgb);
    instance.restore_param("outputTransfer", 0).unwrap();
    instance
        .restore_param("outputTransferName", "linear")
        .unwrap();
    assert_eq!(float(&instance, &Render::frame(0.0)), decoded);

    // An id from a newer plugin is named, not replaced.
    instance
        .restore_param("outputTransferName", "acescg")
        .unwrap();
    session.clear_log();
    common::failed_render(instance.render(&Render::frame(0.0)));
    let text = "the saved output transfer `acescg` is not one this plugin offers (srgb, linear); \
                choose one in the Output transfer menu";
    assert!(
        session.messages().iter().any(|m| m.text.contains(text)),
        "{:?}",
        session.messages()
    );
}

/// Frame 0: black left of x = 17, white from it. Frame 1: a ramp of exact 16-bit codes (what the cache
/// keeps). Frame 2: mid grey.
fn known_clip() -> Clip {
    let (w, h) = (32, 24);
    let frame = |f: &dyn Fn(usize, usize, usize) -> f32| -> Arc<[f32]> {
        (0..w * h * 3)
            .map(|i| f(i / 3 % w, i / 3 / w, i % 3))
            .collect()
    };
    let edge = frame(&|x, _, _| f32::from(x >= 17));
    let ramp =
        frame(&|x, y, c| f32::from(((x * 2039 + y * 977 + c * 313) % 65536) as u16) / 65535.0);
    let grey = frame(&|_, _, _| 0.5);
    Clip::new(w as u32, h as u32, vec![edge, ramp, grey]).unwrap()
}

/// Serves `instance` a known clip: the one it generated is cleared from the cache, and an entry with its
/// recipe but [`known_clip`]'s frames is written into a fresh folder the instance then reads.
fn serve_known_clip(instance: &Instance, generated_into: &Path, known: &Path) {
    instance.render(&Render::frame(0.0)).unwrap();
    let entries = common::entries(generated_into);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let json = std::fs::read(generated_into.join(&entries[0]).join("clip.json")).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let recipe: Recipe = serde_json::from_value(json["recipe"].clone()).unwrap();
    instance.press("clearClip").unwrap();
    let options = Options {
        folder: Some(known),
        plugin_version: "test",
        should_abort: None,
        on_wait: None,
    };
    ClipCache::new(1 << 20, u64::MAX)
        .get_or_generate(&recipe, &options, || Ok::<_, String>(known_clip()))
        .unwrap();
    instance
        .set_param("cacheFolder", known.to_string_lossy().as_ref())
        .unwrap();
}

#[test]
fn resampling_mixes_linear_light_and_the_native_size_is_copied_exactly() {
    let (generated, known) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, generated.path());
    instance.set_param("seed", 4242).unwrap();
    serve_known_clip(&instance, generated.path(), known.path());
    session.clear_log();

    // Half size: output pixel 8 straddles the edge symmetrically, so it holds half the white light.
    let half_srgb = instance.render(&half(0.0)).unwrap();
    assert_eq!((half_srgb.width(), half_srgb.height()), (16, 12));
    assert!(session.progress().is_empty(), "served, not generated");
    for row in 0..12 {
        let red = half_srgb.sample(8, row, 0);
        assert!(
            (red - common::linear_to_srgb(0.5)).abs() < 1e-3,
            "row {row}: {red}, want the linear-light mean {} (the sRGB-code mean is 0.5)",
            common::linear_to_srgb(0.5)
        );
        assert_eq!(half_srgb.sample(0, row, 0), 0.0);
    }
    instance.set_param("outputTransfer", 1).unwrap();
    let half_linear = instance.render(&half(0.0)).unwrap();
    for row in 0..12 {
        assert!(
            (half_linear.sample(8, row, 0) - 0.5).abs() < 1e-3,
            "row {row}"
        );
    }

    // Native size: the frame's own values, bit for bit (linear: their exact decoding).
    let clip = known_clip();
    let rgba = |rgb: &[f32], f: fn(f32) -> f32| -> Vec<f32> {
        rgb.chunks(3)
            .flat_map(|p| [f(p[0]), f(p[1]), f(p[2]), 1.0])
            .collect()
    };
    assert_eq!(
        float(&instance, &Render::frame(1.0)),
        rgba(&clip.frames()[1], common::srgb_to_linear)
    );
    instance.set_param("outputTransfer", 0).unwrap();
    assert_eq!(
        float(&instance, &Render::frame(1.0)),
        rgba(&clip.frames()[1], |v| v)
    );
    let edge = instance.render(&Render::frame(0.0)).unwrap();
    for row in 0..24 {
        assert_eq!(
            (edge.sample(16, row, 0), edge.sample(17, row, 0)),
            (0.0, 1.0)
        );
    }
}

/// A session on a host managing colour in `style`, preferring `preferred` for the output.
fn managed(style: &'static std::ffi::CStr, preferred: &[&str]) -> Session {
    common::load(HostConfig {
        colour_management: Some(ColourManagement::new(style, preferred)),
        ..HostConfig::default()
    })
}

#[test]
fn a_colour_managed_host_is_told_the_output_colourspace_and_gets_what_it_asks_for() {
    let cache = tempfile::tempdir().unwrap();
    let session = managed(kOfxImageEffectColourManagementCore, &["lin_rec709_srgb"]);
    let described = session.descriptor();
    assert_eq!(
        described.string(kOfxImageEffectPropColourManagementStyle, 0),
        Some("OfxImageEffectColourManagementCore".into())
    );
    assert_eq!(
        described.strings(kOfxImageEffectPropColourManagementAvailableConfigs),
        ["ofx-native-v1.5_aces-v1.3_ocio-v2.3"]
    );
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("seed", 31).unwrap();
    assert_eq!(
        instance.output_colourspace().as_deref(),
        Some("lin_rec709_srgb"),
        "the host's first choice, though Output transfer says sRGB"
    );
    let linear = float(&instance, &Render::frame(0.0));

    // Nothing the plugin makes: the parameter's choice, declared by its core name.
    instance
        .set_preferred_output_colourspaces(&["acescg", "scene_linear"])
        .unwrap();
    assert_eq!(instance.output_colourspace().as_deref(), Some("srgb_tx"));
    let srgb = float(&instance, &Render::frame(0.0));
    assert_decoded(&srgb, &linear, 0.0);
    instance.set_param("outputTransfer", 1).unwrap();
    assert_eq!(
        instance.output_colourspace().as_deref(),
        Some("lin_rec709_srgb")
    );
    assert_eq!(float(&instance, &Render::frame(0.0)), linear);

    // A generic request gets the precise name, and the first one the plugin makes wins.
    instance
        .set_preferred_output_colourspaces(&["acescg", "ofx_display_sdr", "lin_rec709_srgb"])
        .unwrap();
    assert_eq!(instance.output_colourspace().as_deref(), Some("srgb_tx"));
    assert_eq!(float(&instance, &Render::frame(0.0)), srgb);
}

#[test]
fn a_basic_host_gets_the_generic_names() {
    let cache = tempfile::tempdir().unwrap();
    let session = managed(kOfxImageEffectColourManagementBasic, &["ofx_scene_linear"]);
    let instance = common::instance(&session, Context::Generator, cache.path());
    assert_eq!(
        instance
            .props()
            .string(kOfxImageEffectPropColourManagementStyle, 0),
        Some("OfxImageEffectColourManagementBasic".into()),
        "the weaker of the two styles"
    );
    assert_eq!(
        instance.output_colourspace().as_deref(),
        Some("ofx_scene_linear")
    );
    instance.set_preferred_output_colourspaces(&[]).unwrap();
    assert_eq!(
        instance.output_colourspace().as_deref(),
        Some("ofx_display_sdr")
    );
}

#[test]
fn hosts_without_colour_management_are_not_told_anything() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    assert_eq!(
        session
            .descriptor()
            .string(kOfxImageEffectPropColourManagementStyle, 0),
        None
    );
    let instance = common::instance(&session, Context::Generator, cache.path());
    assert_eq!(instance.output_colourspace(), None);
    instance.set_param("outputTransfer", 1).unwrap();
    let linear = float(&instance, &Render::frame(0.0));
    instance.set_param("outputTransfer", 0).unwrap();
    let srgb = float(&instance, &Render::frame(0.0));
    assert_decoded(&srgb, &linear, 0.0);
}
