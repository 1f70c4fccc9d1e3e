//! Prints cache figures (a benchmark, not a test): serving a cached 1920×1080 float RGBA frame from
//! memory (lookup + copy into the host's buffer) against a plain copy of that frame, and the time a
//! disk hit takes for a 16-frame clip in a fresh process-like cache.
//!
//! `cargo run --release -p clip-cache --example cache_bench`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clip_cache::{Clip, ClipCache, Options, Recipe};

const W: usize = 1920;
const H: usize = 1080;

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time(rounds: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    median(
        (0..rounds)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn recipe(width: u32, height: u32, frames: u32) -> Recipe {
    Recipe {
        model: "blake3:bench".into(),
        request: r#"{"prompt":"a red ball bouncing","seed":1}"#.into(),
        width,
        height,
        frames,
    }
}

fn main() {
    let frame: Arc<[f32]> = (0..W * H * 4).map(|i| (i % 251) as f32 / 251.0).collect();
    let mut host_buffer = vec![0f32; W * H * 4];

    let plain = time(30, || host_buffer.copy_from_slice(black_box(&frame)));

    let cache = ClipCache::new(1 << 30, u64::MAX);
    let key = recipe(W as u32, H as u32, 1).key();
    let served = time(30, || {
        let cached = cache.resized_frame(&key, 0, b"1920x1080 rgba f32", || frame.clone());
        host_buffer.copy_from_slice(black_box(&cached));
    });
    println!(
        "memory hit, 1920×1080 RGBA f32: {:.2} ms vs plain copy {:.2} ms = {:.2}× (goal ≤ 2×)",
        served.as_secs_f64() * 1e3,
        plain.as_secs_f64() * 1e3,
        served.as_secs_f64() / plain.as_secs_f64()
    );

    let folder = std::env::temp_dir().join(format!("t2v-cache-bench-{}", std::process::id()));
    let options = Options {
        folder: Some(&folder),
        plugin_version: "bench",
        should_abort: None,
        on_wait: None,
    };
    let clip_recipe = recipe(256, 256, 16);
    let frames = (0..16)
        .map(|f| {
            (0..256 * 256 * 3)
                .map(|i| ((i + f) % 97) as f32 / 97.0)
                .collect()
        })
        .collect();
    let clip = Clip::new(256, 256, frames).expect("valid clip");
    ClipCache::new(1 << 30, u64::MAX)
        .get_or_generate(&clip_recipe, &options, || Ok::<_, String>(clip))
        .expect("written");
    let disk = time(5, || {
        let fresh = ClipCache::new(1 << 30, u64::MAX);
        let got = fresh.peek(&clip_recipe, Some(&folder)).expect("disk hit");
        black_box(got);
    });
    println!(
        "disk hit, 16 frames 256×256 (read + verify + decode 16-bit PNG): {:.1} ms",
        disk.as_secs_f64() * 1e3
    );
    std::fs::remove_dir_all(&folder).ok();
}
