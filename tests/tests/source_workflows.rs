//! What the Source workflows make, through the headless host with the default model (tiny-shapes, 64×64,
//! 16 frames, its fitted VAE encoder) and a synthetic source clip (a red circle moving right on blue):
//! Source Strength 0 gives the source back within the VAE's round-trip error, 1 is text-to-video for the
//! same seed, values between move monotonically away; extending from a Source frame starts the clip at it.

mod common;

use std::path::{Path, PathBuf};

use ofx_host::{Context, HostConfig, Instance, Render, Session, SourceClip, SourceFrame};

const SIDE: usize = 64;
const FRAMES: usize = 16;
/// Mean |x − decode(encode(x))| the default model's VAE may leave on this kind of picture (0..1 units;
/// models/test_vae_encoders.py measures about 0.01 on the default prompt's frames).
const VAE_ERROR: f32 = 0.05;

fn default_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tiny-shapes")
        .canonicalize()
        .expect("models/tiny-shapes exists")
}

/// Source frame `t`: a red circle of radius 9 at x = 12 + 2t on the blue of the model's palette.
fn source_frame(t: f64) -> Option<SourceFrame> {
    let cx = 12.0 + 2.0 * t as f32;
    let rgba = (0..SIDE * SIDE)
        .flat_map(|i| {
            let (x, y) = ((i % SIDE) as f32 + 0.5, (i / SIDE) as f32 + 0.5);
            let inside = (x - cx).powi(2) + (y - 32.0).powi(2) <= 81.0;
            let [r, g, b] = if inside { [220, 40, 40] } else { [40, 70, 220] };
            [r, g, b].map(|v| v as f32 / 255.0).into_iter().chain([1.0])
        })
        .collect();
    Some(SourceFrame {
        width: SIDE,
        height: SIDE,
        rgba,
    })
}

fn source_rgb(t: usize) -> Vec<f32> {
    rgb(&source_frame(t as f64).unwrap().rgba, 4)
}

fn rgb(values: &[f32], channels: usize) -> Vec<f32> {
    values
        .chunks(channels)
        .flat_map(|px| px[..3].to_vec())
        .collect()
}

fn session() -> Session {
    let config = HostConfig {
        project_size: (SIDE as f64, SIDE as f64),
        frame_range: (0.0, (FRAMES - 1) as f64),
        ..HostConfig::default()
    };
    Session::load(&common::bundle(), config).unwrap()
}

/// A General-context instance of the default model, one generated frame per timeline frame.
fn instance<'s>(session: &'s Session, cache: &Path, seed: i32) -> Instance<'s> {
    let instance = session.create_instance(Context::General).unwrap();
    for (name, value) in [
        (
            "customModel",
            default_model().to_string_lossy().into_owned(),
        ),
        ("cacheFolder", cache.to_string_lossy().into_owned()),
        (
            "prompt",
            "a yellow square moving left on a green background".into(),
        ),
    ] {
        instance.set_param(name, value.as_str()).unwrap();
    }
    instance.set_param("outputSize", 1).unwrap();
    instance.set_param("timing", 2).unwrap();
    instance.set_param("seed", seed).unwrap();
    instance
}

fn frames(instance: &Instance) -> Vec<Vec<f32>> {
    instance
        .render_sequence(0.0, (FRAMES - 1) as f64, &Render::frame(0.0), 2)
        .unwrap()
        .iter()
        .map(|image| rgb(&image.to_f32(), image.channels()))
        .collect()
}

fn mean_abs(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

/// Mean over the clip of each frame's distance from its source frame.
fn from_source(clip: &[Vec<f32>]) -> f32 {
    let sum: f32 = clip
        .iter()
        .enumerate()
        .map(|(t, frame)| mean_abs(frame, &source_rgb(t)))
        .sum();
    sum / clip.len() as f32
}

#[test]
fn source_strength_goes_from_the_source_to_pure_generation_monotonically() {
    let (session, cache) = (session(), tempfile::tempdir().unwrap());
    let instance = instance(&session, cache.path(), 5101);
    let text_to_video = frames(&instance);
    instance
        .connect_source(SourceClip::new(source_frame))
        .unwrap();
    let mut distances = Vec::new();
    for strength in [0.0, 0.25, 0.5, 0.75] {
        instance.set_param("strength", strength).unwrap();
        distances.push(from_source(&frames(&instance)));
    }
    println!("mean distance from the source at strength 0, 0.25, 0.5, 0.75: {distances:?}");
    assert!(
        distances[0] < VAE_ERROR,
        "strength 0 is the source through the VAE: {distances:?}"
    );
    assert!(
        distances.windows(2).all(|w| w[0] < w[1]),
        "strength moves monotonically away from the source: {distances:?}"
    );
    instance.set_param("strength", 1.0).unwrap();
    assert_eq!(
        frames(&instance),
        text_to_video,
        "strength 1 is text-to-video for the same seed"
    );
    assert!(from_source(&text_to_video) > distances[3]);
}

#[test]
fn extending_from_a_source_frame_starts_the_clip_at_that_frame() {
    let (session, cache) = (session(), tempfile::tempdir().unwrap());
    let instance = instance(&session, cache.path(), 5102);
    let plain = frames(&instance);
    instance
        .connect_source(SourceClip::new(source_frame))
        .unwrap();
    instance.set_param("startFrom", 2).unwrap();
    instance.set_param("startFrame", 15).unwrap();
    let extended = frames(&instance);
    let first = mean_abs(&extended[0], &source_rgb(15));
    println!(
        "first frame from source frame 15: {first}; plain clip's first frame: {}",
        mean_abs(&plain[0], &source_rgb(15))
    );
    assert!(
        first < VAE_ERROR,
        "the clip starts at the source frame: {first}"
    );
    assert!(mean_abs(&plain[0], &source_rgb(15)) > 4.0 * first);
    assert_ne!(
        extended[FRAMES - 1],
        plain[FRAMES - 1],
        "the whole clip follows from it"
    );
}
