//! `render`: renders a prompt through the plugin bundle, as an editor would, into PNG frames and a
//! contact sheet.
//!
//! ```text
//! cargo run -p ofx-host --bin render -- [--out DIR] [--prompt TEXT] [--negative TEXT] [--seed N]
//!     [--steps N] [--guidance X] [--scheduler N] [--frames N] [--width W --height H]
//!     [--model DIR] [--bundle DIR] [--threads N] [--gpu]
//! ```
//! `--help` says what each flag does.

use clap::Parser;
use ofx_host::png_out::{contact_sheet, write_image, write_rgba8};
use ofx_host::{default_bundle, Context, HostConfig, Instance, MessageKind, Render, Session};
use ofx_sys::{kOfxParamPropMax, kOfxParamPropMin};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const DEFAULT_PROMPT: &str = "a red circle moving right on a blue background";

/// Renders a prompt through the plugin bundle, as an editor would, into PNG frames and a contact sheet.
///
/// The model is --model, else the first model inside the bundle. The project is set to the model's
/// native size (or --width×--height), so frames come out at that size, one per generated frame.
#[derive(Debug, Parser)]
#[command(name = "render", allow_negative_numbers = true)]
struct Options {
    /// Folder for the frames and the contact sheet.
    #[arg(long, value_name = "DIR", default_value = "out/render")]
    out: PathBuf,
    /// What to generate.
    #[arg(long, value_name = "TEXT", default_value = DEFAULT_PROMPT)]
    prompt: String,
    /// What to steer away from.
    #[arg(long, value_name = "TEXT", default_value = "")]
    negative: String,
    /// Noise seed.
    #[arg(long, value_name = "N", default_value_t = 42)]
    seed: i32,
    /// Denoising steps (default: the model's).
    #[arg(long, value_name = "N")]
    steps: Option<i32>,
    /// Guidance scale (default: the model's).
    #[arg(long, value_name = "X")]
    guidance: Option<f64>,
    /// Index of the scheduler choice.
    #[arg(long, value_name = "N")]
    scheduler: Option<i32>,
    /// Frames to generate (default: the model's).
    #[arg(long, value_name = "N")]
    frames: Option<u32>,
    /// Output width (with --height; default: the model's native size).
    #[arg(long, value_name = "W", requires = "height")]
    width: Option<u32>,
    /// Output height (with --width).
    #[arg(long, value_name = "H", requires = "width")]
    height: Option<u32>,
    /// Model package folder (default: the first model inside the bundle).
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// The bundle to load ($T2V_BUNDLE, else the one `cargo run -p bundle -- build` assembles).
    #[arg(long, value_name = "DIR", default_value_os_t = default_bundle())]
    bundle: PathBuf,
    /// Frames rendered at once (0 counts as 1).
    #[arg(long, value_name = "N", default_value_t = 2)]
    threads: u32,
    /// Generates on the GPU.
    #[arg(long)]
    gpu: bool,
}

impl Options {
    /// `--width`×`--height`, when given (clap makes sure they come together).
    fn size(&self) -> Option<(u32, u32)> {
        self.width.zip(self.height)
    }
}

/// `--model`, else the first model folder shipped in the bundle (the plugin's first search root).
fn model_dir(o: &Options) -> Result<PathBuf, String> {
    if let Some(dir) = &o.model {
        return dir
            .canonicalize()
            .map_err(|e| format!("--model {}: {e}", dir.display()));
    }
    let root = o.bundle.join("Contents/Resources/models");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(|e| {
            format!(
                "no model given and none in the bundle ({}: {e}); pass --model DIR",
                root.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .next()
        .ok_or_else(|| format!("no model in {}; pass --model DIR", root.display()))
}

/// `value` of `flag` must lie in the declared range of the plugin's int parameter `param`.
fn within_range(instance: &Instance, param: &str, flag: &str, value: u32) -> Result<(), String> {
    let props = instance
        .param_props(param)
        .ok_or_else(|| format!("the plugin has no parameter {param}"))?;
    let bound = |name| props.ints(name).first().copied().unwrap_or(0);
    let (min, max) = (bound(kOfxParamPropMin), bound(kOfxParamPropMax));
    if i64::from(value) < i64::from(min) || i64::from(value) > i64::from(max) {
        return Err(format!(
            "{flag} {value} is out of range: the plugin takes {min} to {max}"
        ));
    }
    Ok(())
}

fn run(o: Options) -> Result<(), String> {
    let model = model_dir(&o)?;
    let package = t2v_engine::ModelPackage::open(&model).map_err(|e| e.to_string())?;
    let defaults = package.defaults();
    let (width, height) = o.size().unwrap_or((defaults.width, defaults.height));
    let frames = o.frames.unwrap_or(defaults.frames).max(1);
    let config = HostConfig {
        project_size: (width as f64, height as f64),
        frame_range: (0.0, frames as f64 - 1.0),
        frame_rate: defaults.fps,
        ..HostConfig::default()
    };

    let started = Instant::now();
    let session = Session::load(&o.bundle, config).map_err(|e| e.to_string())?;
    let instance = session
        .create_instance(Context::Generator)
        .map_err(|e| e.to_string())?;
    let loaded = started.elapsed();
    // Bounded before anything is allocated for them (the project canvas, one render per frame).
    within_range(&instance, "frames", "--frames", frames)?;
    if o.size().is_some() {
        within_range(&instance, "width", "--width", width)?;
        within_range(&instance, "height", "--height", height)?;
    }
    let set = |name: &str, value: ofx_host::ParamValue| {
        instance.set_param(name, value).map_err(|e| e.to_string())
    };
    set("customModel", model.to_string_lossy().as_ref().into())?;
    set("prompt", o.prompt.as_str().into())?;
    set("negativePrompt", o.negative.as_str().into())?;
    set("seed", o.seed.into())?;
    // The flags decide (Use Model Defaults would ignore them); absent ones keep the model's values.
    set("useModelDefaults", false.into())?;
    set("frames", (frames as i32).into())?; // in range: checked above
    set("timing", 2.into())?; // one generated frame per timeline frame
    match o.size() {
        Some((w, h)) => {
            set("outputSize", 2.into())?;
            set("width", (w as i32).into())?;
            set("height", (h as i32).into())?;
        }
        None => set("outputSize", 1.into())?,
    }
    if let Some(steps) = o.steps {
        set("steps", steps.into())?;
    }
    if let Some(guidance) = o.guidance {
        set("guidance", guidance.into())?;
    }
    if let Some(scheduler) = o.scheduler {
        set("scheduler", scheduler.into())?;
    }
    if o.gpu {
        set("device", 1.into())?;
    }

    println!(
        "model     {} ({}×{}, {} frames)",
        model.display(),
        width,
        height,
        frames
    );
    println!("prompt    {:?}, seed {}", o.prompt, o.seed);
    let render_start = Instant::now();
    let result = instance.render_sequence(
        0.0,
        frames as f64 - 1.0,
        &Render::frame(0.0),
        o.threads.max(1) as usize,
    );
    let rendered = render_start.elapsed();
    for m in session.messages() {
        if m.kind != MessageKind::Cleared {
            println!(
                "plugin    [{}] {}",
                m.level.trim_start_matches("OfxMessage"),
                m.text
            );
        }
    }
    let images = result.map_err(|e| e.to_string())?;

    std::fs::create_dir_all(&o.out).map_err(|e| format!("{}: {e}", o.out.display()))?;
    let mut numbered = Vec::new();
    for (i, image) in images.into_iter().enumerate() {
        let path = o.out.join(format!("frame_{i:04}.png"));
        write_image(&path, &image).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("frame     {}", path.display());
        numbered.push((i, image));
    }
    let (w, h, rgba) = contact_sheet(&numbered, (numbered.len() as f64).sqrt().ceil() as usize);
    let sheet = o.out.join("contact_sheet.png");
    write_rgba8(&sheet, w, h, &rgba).map_err(|e| format!("{}: {e}", sheet.display()))?;
    println!("sheet     {}", sheet.display());
    println!(
        "timing    load+describe+instance {:.1} ms, generate+render {:.2} s",
        loaded.as_secs_f64() * 1e3,
        rendered.as_secs_f64()
    );
    drop(instance);
    session.unload().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    match run(Options::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("render: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        Options::try_parse_from(std::iter::once("render").chain(args.iter().copied()))
    }

    /// The first line of the error clap prints for `args`.
    fn error(args: &[&str]) -> String {
        let text = parse(args).unwrap_err().to_string();
        text.lines().next().unwrap_or_default().to_string()
    }

    #[test]
    fn flags_parse_and_bad_ones_are_named() {
        let o = parse(&[
            "--seed", "-7", "--width", "64", "--height", "48", "--prompt", "a cat", "--gpu",
        ])
        .unwrap();
        assert_eq!(
            (o.seed, o.size(), o.prompt.as_str(), o.gpu),
            (-7, Some((64, 48)), "a cat", true)
        );
        let o = parse(&[]).unwrap();
        assert_eq!(
            (o.seed, o.size(), o.prompt.as_str(), o.threads),
            (42, None, DEFAULT_PROMPT, 2)
        );
        assert_eq!(o.out, Path::new("out/render"));
        assert_eq!(
            error(&["--width", "64"]),
            "error: the following required arguments were not provided:"
        );
        assert_eq!(
            error(&["--seed", "x"]),
            "error: invalid value 'x' for '--seed <N>': invalid digit found in string"
        );
        assert_eq!(
            error(&["--frames", "2.5"]),
            "error: invalid value '2.5' for '--frames <N>': invalid digit found in string"
        );
        assert_eq!(
            error(&["--bogus", "1"]),
            "error: unexpected argument '--bogus' found"
        );
    }

    #[test]
    fn an_explicit_model_must_exist() {
        let o = parse(&["--model", "/no/such/model"]).unwrap();
        assert!(model_dir(&o)
            .unwrap_err()
            .starts_with("--model /no/such/model:"));
    }
}
