//! A model package on disk (the diffusers / Optimum ONNX layout, see docs/ARCHITECTURE.md): parsing and checking
//! it without ONNX Runtime, so that a broken folder is reported, naming the file, before anything loads.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::EngineError;
use crate::family::{self, Family};
use crate::limits::{
    MAX_CONFIG_BYTES, MAX_FPS, MAX_FRAMES, MAX_GUIDANCE, MAX_SIDE, MAX_STEPS, MAX_TOKENS,
};
use crate::scheduler::{Parameterisation, SchedulerConfig, SchedulerKind};
use crate::tokenizer::PromptTokenizer;
use crate::walk::walk;

pub use crate::family::unet3d::{TEXT_ENCODER_FILE, UNET_FILE, VAE_DECODER_FILE};

/// What a package generates when the user does not say otherwise (`t2v_defaults` in model_index.json).
#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    pub width: u32,
    pub height: u32,
    pub frames: u32,
    pub max_frames: u32,
    pub fps: f64,
    pub steps: u32,
    pub guidance: f32,
    pub scheduler: SchedulerKind,
}

/// The shapes the package's configs promise; checked against each other at open and against the ONNX models
/// once they load. The family decides where each comes from (see docs/ARCHITECTURE.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Shapes {
    /// Text encoder output width (ModelScope `hidden_size` = UNet `cross_attention_dim`; Wan `d_model` =
    /// transformer `text_dim`).
    pub text_hidden: usize,
    /// Tokens per prompt (ModelScope: the text encoder's `max_position_embeddings`, capped by the tokenizer
    /// config; Wan: 512 or `t2v_text_length`).
    pub tokens: usize,
    /// Latent channels (UNet / transformer `in_channels` = `out_channels` = the VAE's latent channels).
    pub latent_channels: usize,
    /// Pixels per latent cell (ModelScope: 2^(len(VAE block_out_channels) − 1); Wan: `scale_factor_spatial`).
    pub vae_factor: u32,
    /// Width and height must be multiples of this (VAE factor × the denoiser's downsampling or patch).
    pub size_multiple: u32,
    /// ModelScope: latents are divided by this before decoding. 1 for families that de-normalise per channel.
    pub scaling_factor: f32,
}

/// A parsed and checked model folder.
#[derive(Debug)]
pub struct ModelPackage {
    dir: PathBuf,
    class_name: String,
    license: Option<String>,
    defaults: Defaults,
    scheduler_config: SchedulerConfig,
    family: Box<dyn Family>,
}

/// Reads a package's JSON files with messages naming the file and key (shared by the families).
pub(crate) struct Reader<'a> {
    pub dir: &'a Path,
}

impl Reader<'_> {
    pub fn err(&self, message: impl Into<String>) -> EngineError {
        EngineError::package(self.dir, message)
    }

    pub fn json(&self, rel: &str) -> Result<Map<String, Value>, EngineError> {
        let path = self.dir.join(rel);
        if !path.is_file() {
            return Err(self.err(format!("{rel} is missing")));
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| self.err(format!("{rel} cannot be read: {e}")))?;
        match serde_json::from_str(&text) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(self.err(format!("{rel} is not a JSON object"))),
            Err(e) => Err(self.err(format!("{rel} is not valid JSON: {e}"))),
        }
    }

    /// A positive integer setting, at most `max`.
    pub fn usize(
        &self,
        m: &Map<String, Value>,
        rel: &str,
        key: &str,
        default: Option<usize>,
        max: usize,
    ) -> Result<usize, EngineError> {
        let n = match m.get(key) {
            None | Some(Value::Null) => {
                default.ok_or_else(|| self.err(format!("{rel} has no `{key}`")))?
            }
            Some(v) => v
                .as_u64()
                .filter(|&n| n > 0)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    self.err(format!(
                        "{rel}: `{key}` must be a positive integer, not {v}"
                    ))
                })?,
        };
        if n > max {
            return Err(self.err(format!("{rel}: `{key}` {n} is more than {max}")));
        }
        Ok(n)
    }

    /// The number of entries of a list setting (resolution levels), 1 to 8.
    pub fn levels(&self, m: &Map<String, Value>, rel: &str, key: &str) -> Result<u32, EngineError> {
        match m.get(key) {
            Some(Value::Array(a)) if !a.is_empty() && a.len() <= 8 => Ok(a.len() as u32),
            None => Err(self.err(format!("{rel} has no `{key}`"))),
            Some(v) => Err(self.err(format!(
                "{rel}: `{key}` must be a list of 1 to 8 entries, not {v}"
            ))),
        }
    }

    /// A loaded tokenizer within the engine's token limit.
    pub fn tokenizer(
        &self,
        loaded: Result<PromptTokenizer, String>,
    ) -> Result<PromptTokenizer, EngineError> {
        let tokenizer = loaded.map_err(|e| self.err(e))?;
        if tokenizer.length() > MAX_TOKENS {
            return Err(self.err(format!(
                "tokenizer: sequence length {} is more than {MAX_TOKENS}",
                tokenizer.length()
            )));
        }
        Ok(tokenizer)
    }
}

/// The bytes of the regular files in the folders of the package files `files`, each folder once.
fn folders_bytes(dir: &Path, files: &[&str]) -> u64 {
    let mut folders: Vec<PathBuf> = files
        .iter()
        .filter_map(|file| dir.join(file).parent().map(Path::to_path_buf))
        .collect();
    folders.sort();
    folders.dedup();
    folders
        .iter()
        .filter_map(|folder| std::fs::read_dir(folder).ok())
        .flatten()
        .filter_map(|entry| entry.ok()?.metadata().ok())
        .filter(|meta| meta.is_file())
        .map(|meta| meta.len())
        .sum()
}

fn positive_u32(v: &Value) -> Option<u32> {
    v.as_u64()
        .filter(|&n| n > 0 && n <= u32::MAX as u64)
        .map(|n| n as u32)
}

impl ModelPackage {
    /// Parses and checks the folder: every entry inside it (see `walk`), every file present, configs
    /// readable, consistent and within the engine's limits, tokenizer loadable.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, EngineError> {
        let dir = dir.as_ref();
        let r = Reader { dir };
        if !dir.is_dir() {
            return Err(r.err("is not a folder"));
        }
        for file in walk(dir)?.files {
            let read_whole = file.rel.ends_with(".json") || file.rel.starts_with("tokenizer/");
            if read_whole && file.meta.len() > MAX_CONFIG_BYTES {
                return Err(r.err(format!(
                    "{} is {} bytes, more than the {MAX_CONFIG_BYTES} a configuration file may have",
                    file.rel,
                    file.meta.len()
                )));
            }
        }
        let index = r.json("model_index.json")?;
        let family = family::open(&r, &index)?;
        let sched = r.json("scheduler/scheduler_config.json")?;
        let scheduler_config = SchedulerConfig::from_json(&Value::Object(sched))
            .map_err(|e| r.err(format!("scheduler/scheduler_config.json: {e}")))?;
        let mut defaults = family.defaults(&scheduler_config);
        if let Some(d) = index.get("t2v_defaults") {
            apply_defaults(&mut defaults, d)
                .map_err(|e| r.err(format!("model_index.json: t2v_defaults {e}")))?;
            scheduler_config
                .check_kind(defaults.scheduler)
                .map_err(|e| r.err(format!("model_index.json: t2v_defaults `scheduler`: {e}")))?;
        }
        let size_multiple = family.shapes().size_multiple;
        for (key, v) in [("width", defaults.width), ("height", defaults.height)] {
            if v % size_multiple != 0 || v > MAX_SIDE {
                return Err(r.err(format!(
                    "model_index.json: t2v_defaults `{key}` {v} is not a multiple of {size_multiple} up to {MAX_SIDE}"
                )));
            }
        }
        let step = family.frame_step();
        for (key, v) in [
            ("frames", defaults.frames),
            ("max_frames", defaults.max_frames),
        ] {
            if !(v - 1).is_multiple_of(step) {
                return Err(r.err(format!(
                    "model_index.json: t2v_defaults `{key}` {v} is not 1 + a multiple of {step}"
                )));
            }
        }
        let class_name = index
            .get("_class_name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let license = match index.get("t2v_license") {
            None => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(v) => {
                return Err(r.err(format!(
                    "model_index.json: `t2v_license` must be a string, not {v}"
                )))
            }
        };
        let package = Self {
            dir: dir.to_path_buf(),
            class_name,
            license,
            defaults,
            scheduler_config,
            family,
        };
        let d = &package.defaults;
        package
            .check_tensor_sizes(d.width, d.height, d.frames)
            .map_err(|e| r.err(format!("model_index.json: t2v_defaults: {e}")))?;
        Ok(package)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder's name, which is how users see the model.
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.dir.display().to_string())
    }

    /// The family's stable name (`modelscope`, `wan`), for the plugin and logs.
    pub fn family(&self) -> &'static str {
        self.family.name()
    }

    /// Every ONNX file of the package (their folders also hold their external weights).
    pub fn onnx_files(&self) -> &'static [&'static str] {
        self.family.onnx_files()
    }

    /// What the package's weights take on disk: every file in the folders of its ONNX files (graphs and
    /// external data), each folder once. About what they take loaded.
    pub fn weights_bytes(&self) -> u64 {
        folders_bytes(&self.dir, self.onnx_files())
    }

    /// [`ModelPackage::weights_bytes`] of the text encoder alone.
    pub(crate) fn text_encoder_bytes(&self) -> u64 {
        folders_bytes(&self.dir, &[self.family.text_encoder_file()])
    }

    pub(crate) fn family_impl(&self) -> &dyn Family {
        self.family.as_ref()
    }

    /// The diffusers pipeline class the package came from (`_class_name`).
    pub fn class_name(&self) -> &str {
        &self.class_name
    }

    /// The model's licence as the package states it (`t2v_license` in model_index.json, e.g. an SPDX id
    /// or the model card's `license`), if it does.
    pub fn license(&self) -> Option<&str> {
        self.license.as_deref()
    }

    pub fn defaults(&self) -> &Defaults {
        &self.defaults
    }

    pub fn shapes(&self) -> &Shapes {
        self.family.shapes()
    }

    pub fn scheduler_config(&self) -> &SchedulerConfig {
        &self.scheduler_config
    }

    /// What the denoiser predicts, from `scheduler_config.json`.
    pub fn parameterisation(&self) -> Parameterisation {
        self.scheduler_config.parameterisation
    }

    /// The scheduler kinds valid for this model (those handling its parameterisation), in menu order.
    pub fn schedulers(&self) -> Vec<SchedulerKind> {
        self.scheduler_config.valid_kinds()
    }

    pub fn tokenizer(&self) -> &PromptTokenizer {
        self.family.tokenizer()
    }
}

fn apply_defaults(d: &mut Defaults, value: &Value) -> Result<(), String> {
    let m = value.as_object().ok_or("is not a JSON object")?;
    let uint = |key: &str, slot: &mut u32, max: u32| -> Result<(), String> {
        if let Some(v) = m.get(key) {
            let n = positive_u32(v)
                .ok_or_else(|| format!("`{key}` must be a positive integer, not {v}"))?;
            if n > max {
                return Err(format!("`{key}` {n} is more than {max}"));
            }
            *slot = n;
        }
        Ok(())
    };
    uint("width", &mut d.width, MAX_SIDE)?;
    uint("height", &mut d.height, MAX_SIDE)?;
    uint("frames", &mut d.frames, MAX_FRAMES)?;
    uint("max_frames", &mut d.max_frames, MAX_FRAMES)?;
    uint("steps", &mut d.steps, MAX_STEPS)?;
    if let Some(v) = m.get("fps") {
        d.fps = v
            .as_f64()
            .filter(|f| *f > 0.0 && *f <= MAX_FPS)
            .ok_or_else(|| format!("`fps` must be a number above 0 up to {MAX_FPS}, not {v}"))?;
    }
    if let Some(v) = m.get("guidance") {
        d.guidance = v
            .as_f64()
            .map(|f| f as f32)
            .filter(|f| (0.0..=MAX_GUIDANCE).contains(f))
            .ok_or_else(|| {
                format!("`guidance` must be a number from 0 to {MAX_GUIDANCE}, not {v}")
            })?;
    }
    if let Some(v) = m.get("scheduler") {
        let name = v.as_str().unwrap_or_default();
        d.scheduler = SchedulerKind::from_name(name).ok_or_else(|| {
            let names: Vec<_> = SchedulerKind::ALL.iter().map(|k| k.name()).collect();
            format!("`scheduler` {v} is not one of {}", names.join(", "))
        })?;
    }
    if d.frames > d.max_frames {
        return Err(format!(
            "`frames` {} is more than `max_frames` {}",
            d.frames, d.max_frames
        ));
    }
    Ok(())
}
