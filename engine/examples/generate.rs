//! Generates a clip from the command line and reports timing: a manual check of any model package.
//!
//!     cargo run --release -p t2v-engine --example generate -- PACKAGE "a prompt" [--seed N] [--steps N]
//!         [--guidance G] [--scheduler ddim|euler|euler_a|dpmpp_2m|lcm|flow_euler] [--frames N] [--width W]
//!         [--height H] [--negative TEXT] [--cuda [--gpu-index N] [--strict]] [--threads N] [--out FRAMES.f32]
//!
//! ONNX Runtime comes from `ORT_DYLIB_PATH`, else `target/onnxruntime/libonnxruntime.so.1.31.1`. `--out` writes
//! the frames as little-endian f32 (frame, row, column, RGB).

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use t2v_engine::{init_onnx_runtime, Device, Flow, Model, Request, RuntimeOptions, SchedulerKind};

/// Generates a clip from the command line and reports timing. Unset options take the package's defaults.
#[derive(Parser)]
#[command(name = "generate")]
struct Args {
    /// The model package folder.
    package: PathBuf,
    prompt: String,
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    #[arg(long, value_name = "N")]
    steps: Option<u32>,
    #[arg(long, value_name = "G")]
    guidance: Option<f32>,
    #[arg(long, value_name = "NAME", value_parser = scheduler)]
    scheduler: Option<SchedulerKind>,
    #[arg(long, value_name = "N")]
    frames: Option<u32>,
    #[arg(long, value_name = "W")]
    width: Option<u32>,
    #[arg(long, value_name = "H")]
    height: Option<u32>,
    #[arg(long, value_name = "TEXT")]
    negative: Option<String>,
    /// Runs on the CUDA execution provider.
    #[arg(long)]
    cuda: bool,
    /// The GPU `--cuda` runs on.
    #[arg(long, value_name = "N", default_value_t = 0)]
    gpu_index: u32,
    /// Fails instead of falling back to the CPU (also `T2V_STRICT_DEVICE=1`).
    #[arg(long)]
    strict: bool,
    /// ONNX Runtime intra-op threads (0: ONNX Runtime decides).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Writes the frames as little-endian f32 (frame, row, column, RGB).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn scheduler(name: &str) -> Result<SchedulerKind, String> {
    SchedulerKind::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = SchedulerKind::ALL.iter().map(|k| k.name()).collect();
        format!("one of {} expected", names.join(", "))
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let library = std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/onnxruntime/libonnxruntime.so.1.31.1")
        });
    init_onnx_runtime(&library)?;

    let options = RuntimeOptions {
        device: if args.cuda { Device::Cuda } else { Device::Cpu },
        intra_threads: args.threads,
        gpu_index: args.gpu_index,
        strict: args.strict || t2v_engine::strict_device()?,
        ..RuntimeOptions::default()
    };
    let package = args.package;
    let started = Instant::now();
    let model = Model::load(&package, &options)?;
    println!(
        "loaded {} in {:.2?} on {:?}",
        package.display(),
        started.elapsed(),
        model.device()
    );
    if let Some(note) = model.device_note() {
        println!("note: {note}");
    }
    let defaults = Request::with_defaults(model.defaults(), args.prompt);
    let request = Request {
        seed: args.seed.unwrap_or(defaults.seed),
        steps: args.steps.unwrap_or(defaults.steps),
        guidance: args.guidance.unwrap_or(defaults.guidance),
        scheduler: args.scheduler.unwrap_or(defaults.scheduler),
        frames: args.frames.unwrap_or(defaults.frames),
        width: args.width.unwrap_or(defaults.width),
        height: args.height.unwrap_or(defaults.height),
        negative_prompt: args.negative.unwrap_or_default(),
        ..defaults
    };
    let started = Instant::now();
    let video = model.generate(&request, &mut |p| {
        println!("step {}/{} at {:.2?}", p.step, p.steps, started.elapsed());
        Flow::Continue
    })?;
    let values: Vec<f32> = video.frames.concat();
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64;
    println!(
        "{} frames {}x{} in {:.2?} (mean value {mean:.4})",
        video.frames.len(),
        video.width,
        video.height,
        started.elapsed()
    );
    if let Some(path) = args.out {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&path, bytes)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
