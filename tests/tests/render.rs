//! Renders through the C ABI, asserting pixels: determinism across renders and threads, depth
//! conversion, render scale (resampled in linear light), negative row bytes, render windows, seeds, the
//! General context.

mod common;

use ofx_host::{images_not_released, Components, Context, Depth, HostConfig, Image, Render};
use ofx_sys::OfxRectI;

fn mean_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

#[test]
fn frames_are_deterministic_across_renders_and_threads() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    let first = instance.render(&Render::frame(1.0)).unwrap();
    assert_eq!((first.width(), first.height()), (32, 24));
    assert!(
        first.to_f32().iter().all(|v| v.is_finite()),
        "every pixel of the window written"
    );
    assert_eq!(instance.render(&Render::frame(1.0)).unwrap(), first);

    // the same frame from two threads at once, then a whole sequence on two threads
    let both = instance.render_all(&[Render::frame(1.0), Render::frame(1.0)], 2);
    for image in both {
        assert_eq!(image.unwrap(), first);
    }
    let threaded = instance
        .render_sequence(0.0, 2.0, &Render::frame(0.0), 2)
        .unwrap();
    let serial = instance
        .render_sequence(0.0, 2.0, &Render::frame(0.0), 1)
        .unwrap();
    assert_eq!(threaded, serial);
    assert_eq!(threaded[1], first);
    assert_ne!(threaded[0], threaded[1], "frames of a clip differ");
    assert_eq!(images_not_released(), 0, "every image fetched was released");
}

#[test]
fn a_fresh_generation_from_two_threads_gives_one_clip() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("seed", 7).unwrap();
    // nothing generated yet: both threads ask for the clip at once
    let images: Vec<Image> = instance
        .render_all(&[Render::frame(2.0), Render::frame(2.0)], 2)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(images[0], images[1]);
}

#[test]
fn byte_and_short_are_the_float_picture_quantised() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    let float = instance.render(&Render::frame(0.0)).unwrap().to_f32();
    instance.set_output_format(Depth::Byte, Components::Rgba);
    let byte = instance.render(&Render::frame(0.0)).unwrap();
    let ofx_host::Samples::Byte(bytes) = &byte.samples else {
        panic!("byte image expected")
    };
    for (f, b) in float.iter().zip(bytes) {
        assert_eq!(
            *b,
            (f.clamp(0.0, 1.0) * 255.0).round() as u8,
            "float {f} became byte {b}"
        );
    }
    instance.set_output_format(Depth::Short, Components::Rgb);
    let short = instance.render(&Render::frame(0.0)).unwrap();
    let ofx_host::Samples::Short(shorts) = &short.samples else {
        panic!("short image expected")
    };
    let rgb_of_float: Vec<f32> = float.chunks(4).flat_map(|p| p[..3].to_vec()).collect();
    for (f, s) in rgb_of_float.iter().zip(shorts) {
        assert_eq!(
            *s,
            (f.clamp(0.0, 1.0) * 65535.0).round() as u16,
            "float {f} became short {s}"
        );
    }
}

#[test]
fn half_scale_is_a_half_size_downscale() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    let full = instance.render(&Render::frame(0.0)).unwrap();
    let half = instance
        .render(&Render {
            scale: 0.5,
            ..Render::frame(0.0)
        })
        .unwrap();
    assert_eq!((half.width(), half.height()), (16, 12));
    // 2×2 box average of the full-size frame's light (sRGB decoded, averaged, encoded again)
    let mut boxed = Vec::new();
    for row in 0..12 {
        for x in 0..16 {
            for c in 0..4 {
                let s = |dx: usize, dy: usize| {
                    let v = full.sample(2 * x + dx, 2 * row + dy, c);
                    if c == 3 {
                        v
                    } else {
                        common::srgb_to_linear(v)
                    }
                };
                let mean = (s(0, 0) + s(1, 0) + s(0, 1) + s(1, 1)) / 4.0;
                boxed.push(if c == 3 {
                    mean
                } else {
                    common::linear_to_srgb(mean)
                });
            }
        }
    }
    let error = mean_abs_diff(&half.to_f32(), &boxed);
    assert!(
        error < 0.04,
        "half-scale render is {error} away from a downscale of the full frame"
    );
}

#[test]
fn negative_row_bytes_and_padding_give_the_same_picture() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    for depth in [Depth::Float, Depth::Byte] {
        instance.set_output_format(depth, Components::Rgba);
        let plain = instance.render(&Render::frame(0.0)).unwrap();
        let bottom_up = instance
            .render(&Render {
                negative_row_bytes: true,
                ..Render::frame(0.0)
            })
            .unwrap();
        let padded = instance
            .render(&Render {
                negative_row_bytes: true,
                row_padding: 12,
                ..Render::frame(0.0)
            })
            .unwrap();
        assert_eq!(bottom_up, plain, "{depth:?}");
        assert_eq!(padded, plain, "{depth:?}");
    }
}

#[test]
fn a_render_window_is_the_matching_part_of_the_frame() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    let full = instance.render(&Render::frame(0.0)).unwrap();
    let window = OfxRectI {
        x1: 5,
        y1: 3,
        x2: 21,
        y2: 15,
    };
    let part = instance
        .render(&Render {
            window: Some(window),
            ..Render::frame(0.0)
        })
        .unwrap();
    assert_eq!((part.width(), part.height()), (16, 12));
    for row in 0..12 {
        for x in 0..16 {
            // rows counted from the top: the window's top row is y2 - 1 = 14, the frame's is 23
            let full_row = 23 - 14 + row;
            for c in 0..4 {
                assert_eq!(
                    part.sample(x, row, c),
                    full.sample(x + 5, full_row, c),
                    "pixel ({x}, {row}) channel {c}"
                );
            }
        }
    }
    // pixels of a larger image outside the window are left alone
    let bounds = OfxRectI {
        x1: 0,
        y1: 0,
        x2: 32,
        y2: 24,
    };
    let framed = instance
        .render(&Render {
            window: Some(window),
            bounds: Some(bounds),
            ..Render::frame(0.0)
        })
        .unwrap();
    assert!(
        framed.sample(0, 0, 0).is_nan(),
        "the plugin wrote outside the render window"
    );
    assert_eq!(framed.sample(5, 9, 0), full.sample(5, 9, 0));
}

#[test]
fn seeds_and_prompts_change_the_clip() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("seed", 1).unwrap();
    let one = instance.render(&Render::frame(0.0)).unwrap().to_f32();
    instance.set_param("seed", 2).unwrap();
    let two = instance.render(&Render::frame(0.0)).unwrap().to_f32();
    assert!(
        mean_abs_diff(&one, &two) > 0.01,
        "seeds 1 and 2 gave the same frame"
    );
    instance.set_param("seed", 1).unwrap();
    assert_eq!(instance.render(&Render::frame(0.0)).unwrap().to_f32(), one);
}

#[test]
fn new_seed_button_changes_the_seed() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    let before = instance.param("seed");
    instance.press("newSeed").unwrap();
    assert_ne!(instance.param("seed"), before);
    assert!(instance.plugin_edits().contains(&"seed".to_string()));
}

#[test]
fn general_context_reports_its_time_domain_and_renders() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::nuke());
    let instance = common::instance(&session, Context::General, cache.path());
    assert_eq!(
        instance.time_domain().unwrap(),
        Some((0.0, 2.0)),
        "3 generated frames, one per timeline frame"
    );
    let prefs = instance.clip_preferences().unwrap();
    assert_eq!(
        prefs.get("OfxImageEffectFrameVarying"),
        Some(&ofx_host::Value::Int(vec![1]))
    );
    let rod = instance.region_of_definition(0.0, 1.0).unwrap();
    assert_eq!((rod.x1, rod.y1, rod.x2, rod.y2), (0.0, 0.0, 32.0, 24.0));
    let frames = instance
        .render_sequence(0.0, 2.0, &Render::frame(0.0), 2)
        .unwrap();
    assert_eq!(frames.len(), 3);
    instance.destroy().unwrap();
    session.unload().unwrap();
}

#[test]
fn half_floats_carry_the_float_picture() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    let float = instance.render(&Render::frame(0.0)).unwrap().to_f32();
    instance.set_output_format(Depth::Half, Components::Rgba);
    let half = instance.render(&Render::frame(0.0)).unwrap();
    assert!(matches!(half.samples, ofx_host::Samples::Half(_)));
    for (f, h) in float.iter().zip(half.to_f32()) {
        assert!(
            (f - h).abs() <= f.abs() / 1024.0 + 1e-6,
            "float {f} became half {h}"
        );
    }
}

#[test]
fn one_throwaway_instance_per_frame_gives_the_same_frames() {
    // Baselight-style: a render instance is created and destroyed for every frame.
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let reference = common::instance(&session, Context::Generator, cache.path());
    let frames = reference
        .render_sequence(0.0, 2.0, &Render::frame(0.0), 1)
        .unwrap();
    for (t, expected) in frames.iter().enumerate() {
        let instance = common::instance(&session, Context::Generator, cache.path());
        assert_eq!(
            &instance.render(&Render::frame(t as f64)).unwrap(),
            expected,
            "frame {t}"
        );
        instance.destroy().unwrap();
    }
}

#[test]
fn interactive_renders_wait_for_generate_and_final_renders_do_not() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("seed", 555).unwrap();
    let interactive = Render {
        interactive: true,
        ..Render::frame(0.0)
    };
    let placeholder = instance.render(&interactive).unwrap();
    assert!(
        session.progress().is_empty(),
        "an interactive render generated without Generate"
    );
    instance.press("generate").unwrap();
    let generated = instance.render(&interactive).unwrap();
    assert_ne!(generated, placeholder);
    assert_eq!(instance.render(&Render::frame(0.0)).unwrap(), generated);

    // a final render generates what is missing, without Generate
    instance.set_param("seed", 556).unwrap();
    session.clear_log();
    let last = instance.render(&Render::frame(0.0)).unwrap();
    assert!(
        !session.progress().is_empty(),
        "the final render did not generate"
    );
    assert_ne!(last, generated);
}
