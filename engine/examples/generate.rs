//! Generates a clip from the command line and reports timing: a manual check of any model package.
//!
//!     cargo run --release -p t2v-engine --example generate -- PACKAGE "a prompt" [--seed N] [--steps N]
//!         [--guidance G] [--scheduler ddim|euler|euler_a|dpmpp_2m|lcm|flow_euler] [--frames N] [--width W]
//!         [--height H] [--negative TEXT] [--cuda] [--threads N] [--out FRAMES.f32]
//!
//! ONNX Runtime comes from `ORT_DYLIB_PATH`, else `target/onnxruntime/libonnxruntime.so.1.31.1`. `--out` writes
//! the frames as little-endian f32 (frame, row, column, RGB).

use std::path::PathBuf;
use std::time::Instant;

use t2v_engine::{init_onnx_runtime, Device, Flow, Model, Request, RuntimeOptions, SchedulerKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: generate PACKAGE PROMPT [--seed N] [--steps N] [--guidance G] [--scheduler NAME] \
                 [--frames N] [--width W] [--height H] [--negative TEXT] [--cuda] [--threads N] [--out FILE]";
    let package = PathBuf::from(args.next().ok_or(usage)?);
    let prompt = args.next().ok_or(usage)?;
    let library = std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/onnxruntime/libonnxruntime.so.1.31.1")
        });
    init_onnx_runtime(&library)?;

    let mut options = RuntimeOptions::default();
    let mut out = None;
    let mut edits: Vec<(String, String)> = vec![];
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--cuda" => options.device = Device::Cuda,
            "--threads" => options.intra_threads = args.next().ok_or(usage)?.parse()?,
            "--out" => out = Some(PathBuf::from(args.next().ok_or(usage)?)),
            _ => edits.push((flag, args.next().ok_or(usage)?)),
        }
    }
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
    let mut request = Request::with_defaults(model.defaults(), prompt);
    for (flag, value) in edits {
        match flag.as_str() {
            "--seed" => request.seed = value.parse()?,
            "--steps" => request.steps = value.parse()?,
            "--guidance" => request.guidance = value.parse()?,
            "--frames" => request.frames = value.parse()?,
            "--width" => request.width = value.parse()?,
            "--height" => request.height = value.parse()?,
            "--negative" => request.negative_prompt = value,
            "--scheduler" => {
                request.scheduler = SchedulerKind::from_name(&value).ok_or("unknown scheduler")?
            }
            _ => return Err(format!("unknown option {flag}\n{usage}").into()),
        }
    }
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
    if let Some(path) = out {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&path, bytes)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
