//! Disk cache hit against regenerating the clip, through the clip cache's public API: the clip is generated
//! and stored in a fresh folder, then each timed fetch uses a new `ClipCache` (empty memory tier, as in a new
//! editor session) that must serve it from disk. Prints one JSON line with both medians.
//!
//!     disk_vs_regen PACKAGE [--clips N] [--threads N] [--prompt TEXT] [--seed N]

use std::process::ExitCode;
use std::sync::Arc;

use benchmarks::args::ClipArgs;
use benchmarks::measure::time_median;
use benchmarks::setup::{exit_with, load};
use clap::Parser;
use clip_cache::{Clip, ClipCache, Options, Source};
use t2v_engine::Flow;

fn run() -> Result<(), String> {
    let args = ClipArgs::parse();
    let (model, request) = load(&args)?;
    let generate = || {
        let video = model
            .generate(&request, &mut |_| Flow::Continue)
            .map_err(|e| e.to_string())?;
        let frames = video.frames.into_iter().map(Arc::from).collect();
        Clip::new(video.width, video.height, frames).map_err(|e| e.to_string())
    };
    let regenerate = time_median(args.clips, || generate().map(drop))?;

    let folder = tempfile::tempdir().map_err(|e| format!("temporary folder: {e}"))?;
    let recipe = text_to_video::clip_recipe(&args.package, &request)?;
    let options = Options {
        folder: Some(folder.path()),
        plugin_version: "benchmark",
        should_abort: None,
        on_wait: None,
    };
    let stored = ClipCache::new(1 << 30, u64::MAX)
        .get_or_generate(&recipe, &options, generate)
        .map_err(|e| e.to_string())?;
    if let Some(e) = stored.disk_error {
        return Err(format!("the clip was not stored: {e}"));
    }
    let disk_hit = time_median(args.clips, || {
        match ClipCache::new(1 << 30, u64::MAX).peek(&recipe, Some(folder.path())) {
            Some(hit) if hit.source == Source::Disk => Ok(()),
            other => Err(format!(
                "expected a disk hit, got {:?}",
                other.map(|f| f.source)
            )),
        }
    })?;
    let line = serde_json::json!({
        "package": args.package_name(),
        "frames": request.frames,
        "width": request.width,
        "height": request.height,
        "steps": request.steps,
        "regenerate_s": regenerate.as_secs_f64(),
        "disk_hit_s": disk_hit.as_secs_f64(),
    });
    println!("{line}");
    Ok(())
}

fn main() -> ExitCode {
    exit_with(run())
}
