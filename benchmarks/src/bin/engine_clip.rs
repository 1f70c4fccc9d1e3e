//! The engine side of "engine vs Python reference": in its own process, loads the package once, generates one
//! warm-up clip, then times N clips. Prints one JSON line: the median clip wall time, the share of generation
//! time spent outside `Session::run` (over the timed clips), and the process's peak RSS.
//!
//!     engine_clip PACKAGE [--clips N] [--threads N] [--prompt TEXT] [--seed N]

use std::process::ExitCode;
use std::time::Duration;

use benchmarks::args::ClipArgs;
use benchmarks::measure::{peak_rss_kib, time_median};
use benchmarks::setup::{exit_with, load};
use clap::Parser;
use t2v_engine::Flow;

fn run() -> Result<(), String> {
    let args = ClipArgs::parse();
    let (model, request) = load(&args)?;
    let mut stats = Vec::new();
    let median = time_median(args.clips, || {
        let (_, s) = model
            .generate_with_stats(&request, &mut |_| Flow::Continue)
            .map_err(|e| e.to_string())?;
        stats.push(s);
        Ok::<_, String>(())
    })?;
    let timed = &stats[1..]; // the first is the warm-up clip
    let total: Duration = timed.iter().map(|s| s.total).sum();
    let outside: Duration = timed.iter().map(|s| s.outside()).sum();
    let line = serde_json::json!({
        "side": "engine",
        "package": args.package_name(),
        "threads": args.threads,
        "clips": args.clips,
        "frames": request.frames,
        "width": request.width,
        "height": request.height,
        "steps": request.steps,
        "median_s": median.as_secs_f64(),
        "outside_onnx_share": outside.as_secs_f64() / total.as_secs_f64(),
        "peak_rss_kib": peak_rss_kib()?,
    });
    println!("{line}");
    Ok(())
}

fn main() -> ExitCode {
    exit_with(run())
}
