//! Clips longer than the model (overlapping windows) and prompts that change over time, through the
//! headless host with the default model (tiny-shapes: 64×64, windows of its 16 frames above its 24), and
//! each served from the disk cache by a second process.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ofx_host::{Context, HostConfig, Render, Session};

/// The shipped default model, as committed.
fn default_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tiny-shapes")
        .canonicalize()
        .expect("models/tiny-shapes exists")
}

const FRAMES: usize = 48;

/// The clip of `prompt` (48 frames, seed `seed`) rendered frame by frame, each frame RGB in 0..1.
fn clip(prompt: &str, seed: i32, cache: &Path) -> Vec<Vec<f32>> {
    let session = Session::load(
        &common::bundle(),
        HostConfig {
            project_size: (64.0, 64.0),
            frame_range: (0.0, (FRAMES - 1) as f64),
            ..HostConfig::default()
        },
    )
    .unwrap();
    let instance = session.create_instance(Context::Generator).unwrap();
    let model = default_model();
    for (name, value) in [
        ("customModel", model.to_string_lossy().into_owned()),
        ("cacheFolder", cache.to_string_lossy().into_owned()),
        ("prompt", prompt.to_string()),
    ] {
        instance.set_param(name, value.as_str()).unwrap();
    }
    instance.set_param("outputSize", 1).unwrap();
    instance.set_param("timing", 2).unwrap();
    instance.set_param("seed", seed).unwrap();
    instance.set_param("useModelDefaults", false).unwrap();
    instance.set_param("frames", FRAMES as i32).unwrap();
    let images = instance
        .render_sequence(0.0, (FRAMES - 1) as f64, &Render::frame(0.0), 2)
        .unwrap();
    images
        .iter()
        .map(|image| {
            let values = image.to_f32();
            values
                .chunks(image.channels())
                .flat_map(|px| px[..3].to_vec())
                .collect()
        })
        .collect()
}

/// Mean absolute difference of each frame from the next.
fn steps_between(frames: &[Vec<f32>]) -> Vec<f32> {
    frames
        .windows(2)
        .map(|w| {
            let sum: f32 = w[0].iter().zip(&w[1]).map(|(a, b)| (a - b).abs()).sum();
            sum / w[0].len() as f32
        })
        .collect()
}

/// Mean of each colour channel over `frames`.
fn mean_rgb(frames: &[Vec<f32>]) -> [f32; 3] {
    let mut sum = [0.0f64; 3];
    let mut n = 0usize;
    for frame in frames {
        for px in frame.chunks(3) {
            for c in 0..3 {
                sum[c] += f64::from(px[c]);
            }
            n += 1;
        }
    }
    sum.map(|s| (s / n as f64) as f32)
}

/// Runs the `render` tool (a second process) on the same clip and cache; returns its log.
fn render_again(prompt: &str, seed: i32, cache: &Path) -> String {
    let (out, logs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let result = Command::new(env!("CARGO_BIN_EXE_render"))
        .args(["--out", &out.path().to_string_lossy()])
        .args(["--model", &default_model().to_string_lossy()])
        .args(["--cache", &cache.to_string_lossy()])
        .args(["--prompt", prompt, "--seed", &seed.to_string()])
        .args(["--frames", &FRAMES.to_string()])
        .env("T2V_BUNDLE", common::bundle())
        .env("T2V_LOG_DIR", logs.path())
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(out
        .path()
        .join(format!("frame_{:04}.png", FRAMES - 1))
        .is_file());
    common::walk(logs.path())
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

fn assert_served_from_disk(log: &str) {
    assert!(log.contains("cache hit (disk)"), "{log}");
    assert!(!log.contains("generated (cache miss)"), "{log}");
}

/// 48 frames are three model lengths: four windows of 16 latent frames ([0, 16), [12, 28), [24, 40),
/// [32, 48)). Where a window starts or ends, the change from one frame to the next stays within what it
/// is inside windows.
#[test]
fn a_clip_three_times_the_model_length_has_no_seam_at_window_joins() {
    let cache = tempfile::tempdir().unwrap();
    let prompt = "a red circle moving right on a blue background";
    let frames = clip(prompt, 4101, cache.path());
    assert_eq!(frames.len(), FRAMES);
    let steps = steps_between(&frames);
    let joins = [12, 16, 24, 28, 32, 40];
    let (at_joins, inside): (Vec<_>, Vec<_>) = (1..FRAMES).partition(|k| joins.contains(k));
    let worst_join = at_joins.iter().map(|&k| steps[k - 1]).fold(0.0, f32::max);
    let worst_inside = inside.iter().map(|&k| steps[k - 1]).fold(0.0, f32::max);
    let mean_inside = inside.iter().map(|&k| steps[k - 1]).sum::<f32>() / inside.len() as f32;
    println!("frame-to-frame change: worst at joins {worst_join}, worst inside {worst_inside}, mean inside {mean_inside}");
    assert!(mean_inside > 1e-3, "the clip moves: {steps:?}");
    assert!(
        worst_join <= worst_inside,
        "a seam: {worst_join} at a join against at most {worst_inside} inside windows ({steps:?})"
    );
    assert_served_from_disk(&render_again(prompt, 4101, cache.path()));
}

/// `0: …blue background` / `24: …green background`: the first window keeps to the first prompt, the last
/// ones to the second.
#[test]
fn a_two_prompt_schedule_changes_content_between_its_keyframes() {
    let cache = tempfile::tempdir().unwrap();
    let schedule =
        "0: a red circle on a blue background\n24: a yellow square on a green background";
    let frames = clip(schedule, 4102, cache.path());
    let [_, g0, b0] = mean_rgb(&frames[..8]);
    let [_, g1, b1] = mean_rgb(&frames[FRAMES - 8..]);
    println!("start: green {g0} blue {b0}; end: green {g1} blue {b1}");
    assert!(b0 > g0 + 0.1, "the start is blue: green {g0}, blue {b0}");
    assert!(g1 > b1 + 0.1, "the end is green: green {g1}, blue {b1}");
    assert_served_from_disk(&render_again(schedule, 4102, cache.path()));
}
