//! The engine side of `models/bench_modelscope_scale.py`: in a fresh process, the seconds to load a package,
//! to encode the prompt and the empty negative prompt, per guided denoising step, and to decode the latents,
//! with the process's peak RSS after each stage (VmHWM only grows, so each figure includes the ones before).
//! Prints one JSON line.
//!
//!     engine_load PACKAGE [--threads N] [--steps N] [--frames N] [--prompt TEXT] [--seed N]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use benchmarks::measure::peak_rss_kib;
use benchmarks::setup::{exit_with, ort_library};
use clap::builder::RangedU64ValueParser;
use clap::Parser;
use t2v_engine::{init_onnx_runtime, Device, Flow, Model, Request, RuntimeOptions};

#[derive(Debug, Parser)]
#[command(
    about = "Times loading a package, one generation's stages and their peak RSS; prints one JSON line"
)]
struct Args {
    /// The model package folder.
    package: PathBuf,
    /// ONNX Runtime intra-op threads (0: ONNX Runtime decides).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Denoising steps (the step figure is their mean).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = RangedU64ValueParser::<u32>::new().range(1..))]
    steps: u32,
    /// Frames of the clip (the package's default when absent).
    #[arg(long, value_name = "N")]
    frames: Option<u32>,
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "a red circle moving right on a blue background"
    )]
    prompt: String,
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
}

fn gib(kib: u64) -> f64 {
    kib as f64 / f64::from(1 << 20)
}

fn run() -> Result<(), String> {
    let args = Args::parse();
    let text = |e: t2v_engine::EngineError| e.to_string();
    init_onnx_runtime(&ort_library()).map_err(text)?;
    let options = RuntimeOptions {
        device: Device::Cpu,
        intra_threads: args.threads,
        ..RuntimeOptions::default()
    };
    let start = Instant::now();
    let model = Model::load(&args.package, &options).map_err(text)?;
    let load_s = start.elapsed().as_secs_f64();
    let load_rss = peak_rss_kib()?;

    let mut request = Request::with_defaults(model.defaults(), args.prompt.clone());
    request.seed = args.seed;
    request.steps = args.steps;
    request.frames = args.frames.unwrap_or(request.frames);
    let start = Instant::now();
    model.prompt_embedding(&request.prompt).map_err(text)?;
    model
        .prompt_embedding(&request.negative_prompt)
        .map_err(text)?;
    let encode_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let (sampled, _) = model
        .sample_with_stats(&request, &mut |_| Flow::Continue)
        .map_err(text)?;
    let step_s = start.elapsed().as_secs_f64() / f64::from(args.steps);
    let step_rss = peak_rss_kib()?;

    let start = Instant::now();
    let video = model
        .decode_latents(&sampled.latents, sampled.shape)
        .map_err(text)?;
    let decode_s = start.elapsed().as_secs_f64();
    let line = serde_json::json!({
        "side": "engine",
        "frames": video.frames.len(),
        "width": video.width,
        "height": video.height,
        "steps": args.steps,
        "threads": args.threads,
        "load_s": load_s,
        "encode_s": encode_s,
        "step_s": step_s,
        "decode_s": decode_s,
        "peak_rss_after_load_gib": gib(load_rss),
        "peak_rss_after_steps_gib": gib(step_rss),
        "peak_rss_gib": gib(peak_rss_kib()?),
    });
    println!("{line}");
    Ok(())
}

fn main() -> ExitCode {
    exit_with(run())
}
