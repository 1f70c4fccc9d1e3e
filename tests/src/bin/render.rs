//! `render`: renders a prompt through the plugin bundle, as an editor would, into PNG frames and a
//! contact sheet; or pre-generates a shot list into a cache folder (`docs/FARM.md`).
//!
//! ```text
//! cargo run -p ofx-host --bin render -- [--out DIR] [--prompt TEXT] [--negative TEXT] [--seed N]
//!     [--steps N] [--guidance X] [--scheduler N] [--frames N] [--width W --height H]
//!     [--model DIR] [--bundle DIR] [--threads N] [--gpu] [--cache DIR]
//!     [--source DIR [--strength S] [--start-from none|clip-start|frame:N]]
//! cargo run -p ofx-host --bin render -- --shotlist FILE [--shot N] [--cache DIR] [--bundle DIR]
//! ```
//! `--help` says what each flag does.

#[path = "render/shotlist.rs"]
mod shotlist;
#[path = "render/source_dir.rs"]
mod source_dir;

use clap::{Args, Parser};
use ofx_host::png_out::{contact_sheet, write_image, write_rgba8};
use ofx_host::{default_bundle, Context, HostConfig, Instance, MessageKind, Render, Session};
use ofx_sys::{kOfxParamPropMax, kOfxParamPropMin};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const DEFAULT_PROMPT: &str = "a red circle moving right on a blue background";
/// The contact sheet's name beside the frames.
const CONTACT_SHEET: &str = "contact_sheet.png";

/// Renders a prompt through the plugin bundle, as an editor would, into PNG frames and a contact sheet;
/// or, with --shotlist, generates a list of clips into a (shared) cache ahead of a farm render.
///
/// The model is --model, else the first model inside the bundle. The project is set to the model's
/// native size (or --width×--height), so frames come out at that size, one per generated frame.
#[derive(Debug, Parser)]
#[command(name = "render", allow_negative_numbers = true)]
struct Options {
    /// Folder for the frames and the contact sheet.
    #[arg(long, value_name = "DIR", default_value = "out/render")]
    out: PathBuf,
    /// The bundle to load ($T2V_BUNDLE, else the one `cargo run -p bundle -- build` assembles).
    #[arg(long, value_name = "DIR", default_value_os_t = default_bundle())]
    bundle: PathBuf,
    /// Frames rendered at once (0 counts as 1).
    #[arg(long, value_name = "N", default_value_t = 2)]
    threads: u32,
    /// The plugin's cache folder (a farm's shared one); default $T2V_CACHE_DIR, else the per-user cache.
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Generates every shot of FILE into the cache and writes no frames. One shot a line, written as this
    /// command's clip flags (`--prompt "a cat" --seed 3 --frames 16`, quoted as in a shell); blank lines
    /// and lines starting with # are skipped. A shot already in the cache is not generated again.
    #[arg(long, value_name = "FILE", conflicts_with_all = CLIP_FLAGS)]
    shotlist: Option<PathBuf>,
    /// With --shotlist: only its Nth shot (from 1), so a render manager can run one task per shot.
    #[arg(long, value_name = "N", requires = "shotlist")]
    shot: Option<usize>,
    /// PNG frames (in name order: timeline frames 0, 1, 2…) connected to the Source input, for
    /// video-to-video (--strength) or starting from a frame (--start-from); renders in the General
    /// context.
    #[arg(long, value_name = "DIR", conflicts_with = "shotlist")]
    source: Option<PathBuf>,
    /// Source Strength: 0 gives the source back, 1 ignores it.
    #[arg(long, value_name = "S", requires = "source")]
    strength: Option<f64>,
    /// Start From: none, clip-start (the source frame at frame 0) or frame:N (the source's frame N).
    #[arg(long, value_name = "WHICH", requires = "source", value_parser = source_dir::start_from)]
    start_from: Option<(i32, i32)>,
    #[command(flatten)]
    clip: ClipFlags,
}

/// The flags that decide a clip, which a shot list's lines repeat.
const CLIP_FLAGS: [&str; 12] = [
    "prompt",
    "negative",
    "seed",
    "steps",
    "guidance",
    "scheduler",
    "frames",
    "width",
    "height",
    "model",
    "gpu",
    "name",
];

/// What decides one clip: the command line's flags, or one line of a shot list.
#[derive(Debug, Args)]
struct ClipFlags {
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
    /// Generates on the GPU.
    #[arg(long)]
    gpu: bool,
    /// What progress and results call this shot (shot lists; default "shot N").
    #[arg(long, value_name = "TEXT")]
    name: Option<String>,
}

/// One line of a shot list: the clip flags alone.
#[derive(Debug, Parser)]
#[command(name = "shot", no_binary_name = true, allow_negative_numbers = true)]
struct ShotLine {
    #[command(flatten)]
    clip: ClipFlags,
}

impl ClipFlags {
    /// `--width`×`--height`, when given (clap makes sure they come together).
    fn size(&self) -> Option<(u32, u32)> {
        self.width.zip(self.height)
    }
}

/// `--model`, else the first model folder shipped in `bundle` (the plugin's first search root).
fn model_dir(clip: &ClipFlags, bundle: &Path) -> Result<PathBuf, String> {
    if let Some(dir) = &clip.model {
        return dir
            .canonicalize()
            .map_err(|e| format!("--model {}: {e}", dir.display()));
    }
    let root = bundle.join("Contents/Resources/models");
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

/// A clip's model, size, frame count and rate, as the flags and the model's defaults decide them.
struct Clip {
    model: PathBuf,
    width: u32,
    height: u32,
    frames: u32,
    fps: f64,
}

impl Clip {
    fn of(flags: &ClipFlags, bundle: &Path) -> Result<Clip, String> {
        let model = model_dir(flags, bundle)?;
        let package = t2v_engine::ModelPackage::open(&model).map_err(|e| e.to_string())?;
        let defaults = package.defaults();
        let (width, height) = flags.size().unwrap_or((defaults.width, defaults.height));
        let frames = flags.frames.unwrap_or(defaults.frames).max(1);
        Ok(Clip {
            model,
            width,
            height,
            frames,
            fps: defaults.fps,
        })
    }
}

/// Sets `instance`'s parameters for the clip `flags` and `clip` describe, generating into `cache` when
/// given (else where the plugin's default says).
fn configure(
    instance: &Instance,
    flags: &ClipFlags,
    clip: &Clip,
    cache: Option<&Path>,
) -> Result<(), String> {
    // Bounded before anything is allocated for them (the project canvas, one render per frame).
    within_range(instance, "frames", "--frames", clip.frames)?;
    if flags.size().is_some() {
        within_range(instance, "width", "--width", clip.width)?;
        within_range(instance, "height", "--height", clip.height)?;
    }
    let set = |name: &str, value: ofx_host::ParamValue| {
        instance.set_param(name, value).map_err(|e| e.to_string())
    };
    if let Some(cache) = cache {
        let cache = std::path::absolute(cache).map_err(|e| format!("--cache: {e}"))?;
        set("cacheFolder", cache.to_string_lossy().as_ref().into())?;
    }
    set("customModel", clip.model.to_string_lossy().as_ref().into())?;
    set("prompt", flags.prompt.as_str().into())?;
    set("negativePrompt", flags.negative.as_str().into())?;
    set("seed", flags.seed.into())?;
    // The flags decide (Use Model Defaults would ignore them); absent ones keep the model's values.
    set("useModelDefaults", false.into())?;
    set("frames", (clip.frames as i32).into())?; // in range: checked above
    set("timing", 2.into())?; // one generated frame per timeline frame
    match flags.size() {
        Some((w, h)) => {
            set("outputSize", 2.into())?;
            set("width", (w as i32).into())?;
            set("height", (h as i32).into())?;
        }
        None => set("outputSize", 1.into())?,
    }
    if let Some(steps) = flags.steps {
        set("steps", steps.into())?;
    }
    if let Some(guidance) = flags.guidance {
        set("guidance", guidance.into())?;
    }
    if let Some(scheduler) = flags.scheduler {
        set("scheduler", scheduler.into())?;
    }
    if flags.gpu {
        set("device", 1.into())?;
    }
    Ok(())
}

/// `--source` on the Source input with `--strength` and `--start-from`.
fn connect_source(instance: &Instance, o: &Options) -> Result<(), String> {
    let Some(dir) = &o.source else {
        return Ok(());
    };
    let set = |name: &str, value: ofx_host::ParamValue| {
        instance.set_param(name, value).map_err(|e| e.to_string())
    };
    if let Some(strength) = o.strength {
        set("strength", strength.into())?;
    }
    if let Some((start_from, frame)) = o.start_from {
        set("startFrom", start_from.into())?;
        set("startFrame", frame.into())?;
    }
    instance
        .connect_source(source_dir::clip(source_dir::frames(dir)?))
        .map_err(|e| e.to_string())
}

/// What the plugin told the user, except cleared messages, one line each.
fn plugin_messages(session: &Session) -> Vec<String> {
    session
        .messages()
        .into_iter()
        .filter(|m| m.kind != MessageKind::Cleared)
        .map(|m| {
            format!(
                "plugin    [{}] {}",
                m.level.trim_start_matches("OfxMessage"),
                m.text
            )
        })
        .collect()
}

fn run(o: Options) -> Result<(), String> {
    if let Some(list) = &o.shotlist {
        return shotlist::pregenerate(&o, list);
    }
    let clip = Clip::of(&o.clip, &o.bundle)?;
    let config = HostConfig {
        project_size: (clip.width as f64, clip.height as f64),
        frame_range: (0.0, clip.frames as f64 - 1.0),
        frame_rate: clip.fps,
        ..HostConfig::default()
    };

    let started = Instant::now();
    let session = Session::load(&o.bundle, config).map_err(|e| e.to_string())?;
    let context = match o.source {
        Some(_) => Context::General,
        None => Context::Generator,
    };
    let instance = session
        .create_instance(context)
        .map_err(|e| e.to_string())?;
    let loaded = started.elapsed();
    configure(&instance, &o.clip, &clip, o.cache.as_deref())?;
    connect_source(&instance, &o)?;

    println!(
        "model     {} ({}×{}, {} frames)",
        clip.model.display(),
        clip.width,
        clip.height,
        clip.frames
    );
    println!("prompt    {:?}, seed {}", o.clip.prompt, o.clip.seed);
    let render_start = Instant::now();
    let result = instance.render_sequence(
        0.0,
        clip.frames as f64 - 1.0,
        &Render::frame(0.0),
        o.threads.max(1) as usize,
    );
    let rendered = render_start.elapsed();
    for line in plugin_messages(&session) {
        println!("{line}");
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
    let sheet = o.out.join(CONTACT_SHEET);
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
            (
                o.clip.seed,
                o.clip.size(),
                o.clip.prompt.as_str(),
                o.clip.gpu
            ),
            (-7, Some((64, 48)), "a cat", true)
        );
        let o = parse(&[]).unwrap();
        assert_eq!(
            (
                o.clip.seed,
                o.clip.size(),
                o.clip.prompt.as_str(),
                o.threads
            ),
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
        assert_eq!(
            error(&["--shotlist", "shots.txt", "--seed", "3"]),
            "error: the argument '--shotlist <FILE>' cannot be used with '--seed <N>'"
        );
        let o = parse(&[
            "--source",
            "in",
            "--strength",
            "0.4",
            "--start-from",
            "frame:9",
        ])
        .unwrap();
        assert_eq!(
            (o.source.as_deref(), o.strength, o.start_from),
            (Some(Path::new("in")), Some(0.4), Some((2, 9)))
        );
        assert_eq!(
            error(&["--strength", "0.5"]),
            "error: the following required arguments were not provided:"
        );
        let o = parse(&["--shotlist", "shots.txt", "--shot", "2", "--cache", "/c"]).unwrap();
        assert_eq!(
            (o.shotlist.as_deref(), o.shot, o.cache.as_deref()),
            (Some(Path::new("shots.txt")), Some(2), Some(Path::new("/c")))
        );
    }

    #[test]
    fn an_explicit_model_must_exist() {
        let o = parse(&["--model", "/no/such/model"]).unwrap();
        assert!(model_dir(&o.clip, &o.bundle)
            .unwrap_err()
            .starts_with("--model /no/such/model:"));
    }
}
