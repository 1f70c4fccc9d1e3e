//! A model package on disk (the diffusers / Optimum ONNX layout, see docs/ARCHITECTURE.md): parsing and checking
//! it without ONNX Runtime, so that a broken folder is reported, naming the file, before anything loads.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::EngineError;
use crate::limits::{
    MAX_CONFIG_BYTES, MAX_FPS, MAX_FRAMES, MAX_GUIDANCE, MAX_HIDDEN, MAX_LATENT_CHANNELS, MAX_SIDE,
    MAX_STEPS, MAX_TOKENS,
};
use crate::scheduler::{Parameterisation, SchedulerConfig, SchedulerKind};
use crate::tokenizer::PromptTokenizer;
use crate::walk::walk;

/// The ONNX files every package has, relative to its folder.
pub const TEXT_ENCODER_FILE: &str = "text_encoder/model.onnx";
pub const UNET_FILE: &str = "unet/model.onnx";
pub const VAE_DECODER_FILE: &str = "vae_decoder/model.onnx";

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
/// once they load.
#[derive(Debug, Clone, PartialEq)]
pub struct Shapes {
    /// Text encoder output width (`hidden_size`), equal to the UNet's `cross_attention_dim`.
    pub text_hidden: usize,
    /// Tokens per prompt (the text encoder's `max_position_embeddings`, capped by the tokenizer config).
    pub tokens: usize,
    /// Latent channels (UNet `in_channels` = `out_channels` = VAE `latent_channels`).
    pub latent_channels: usize,
    /// Pixels per latent cell (2^(len(VAE block_out_channels) − 1)).
    pub vae_factor: u32,
    /// Width and height must be multiples of this (VAE factor × the UNet's downsampling).
    pub size_multiple: u32,
    /// Latents are divided by this before decoding.
    pub scaling_factor: f32,
}

/// A parsed and checked model folder.
#[derive(Debug)]
pub struct ModelPackage {
    dir: PathBuf,
    class_name: String,
    license: Option<String>,
    defaults: Defaults,
    shapes: Shapes,
    scheduler_config: SchedulerConfig,
    tokenizer: PromptTokenizer,
}

struct Reader<'a> {
    dir: &'a Path,
}

impl Reader<'_> {
    fn err(&self, message: impl Into<String>) -> EngineError {
        EngineError::package(self.dir, message)
    }

    fn json(&self, rel: &str) -> Result<Map<String, Value>, EngineError> {
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
    fn usize(
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
    fn levels(&self, m: &Map<String, Value>, rel: &str, key: &str) -> Result<u32, EngineError> {
        match m.get(key) {
            Some(Value::Array(a)) if !a.is_empty() && a.len() <= 8 => Ok(a.len() as u32),
            None => Err(self.err(format!("{rel} has no `{key}`"))),
            Some(v) => Err(self.err(format!(
                "{rel}: `{key}` must be a list of 1 to 8 entries, not {v}"
            ))),
        }
    }
}

/// Latents are divided by `scaling_factor` before decoding; outside this range (as f32) they become zeros or
/// infinities, i.e. black or garbage frames. Real VAEs use 0.13 to 1.5.
const SCALING_FACTOR_RANGE: std::ops::RangeInclusive<f32> = 1e-4..=1e4;

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
        for rel in [TEXT_ENCODER_FILE, UNET_FILE, VAE_DECODER_FILE] {
            if !dir.join(rel).is_file() {
                return Err(r.err(format!("{rel} is missing")));
            }
        }
        let (text_rel, unet_rel, vae_rel) = (
            "text_encoder/config.json",
            "unet/config.json",
            "vae_decoder/config.json",
        );
        let text = r.json(text_rel)?;
        let unet = r.json(unet_rel)?;
        let vae = r.json(vae_rel)?;
        let sched = r.json("scheduler/scheduler_config.json")?;

        let text_hidden = r.usize(&text, text_rel, "hidden_size", None, MAX_HIDDEN)?;
        let positions = r.usize(
            &text,
            text_rel,
            "max_position_embeddings",
            Some(77),
            usize::MAX,
        )?;
        let cross = r.usize(&unet, unet_rel, "cross_attention_dim", None, MAX_HIDDEN)?;
        if cross != text_hidden {
            return Err(r.err(format!(
                "text_encoder/config.json hidden_size {text_hidden} does not match unet/config.json cross_attention_dim {cross}"
            )));
        }
        let channels = MAX_LATENT_CHANNELS;
        let in_ch = r.usize(&unet, unet_rel, "in_channels", Some(4), channels)?;
        let out_ch = r.usize(&unet, unet_rel, "out_channels", Some(in_ch), channels)?;
        if out_ch != in_ch {
            return Err(r.err(format!(
                "unet/config.json out_channels {out_ch} does not match in_channels {in_ch}"
            )));
        }
        let latent = r.usize(&vae, vae_rel, "latent_channels", Some(4), channels)?;
        if latent != in_ch {
            return Err(r.err(format!(
                "unet/config.json in_channels {in_ch} does not match vae_decoder/config.json latent_channels {latent}"
            )));
        }
        // Both level counts are 1 to 8, so the shifts below cannot overflow.
        let vae_levels = r.levels(&vae, vae_rel, "block_out_channels")?;
        let vae_factor = 1u32 << (vae_levels - 1);
        // Resolution levels: diffusers configs list down blocks; minimal configs only their channel counts.
        let unet_key = if unet.contains_key("down_block_types") {
            "down_block_types"
        } else {
            "block_out_channels"
        };
        let unet_levels = r.levels(&unet, unet_rel, unet_key)?;
        let size_multiple = vae_factor << (unet_levels - 1);
        if size_multiple > MAX_SIDE {
            return Err(r.err(format!(
                "sides must be multiples of {size_multiple} ({vae_levels} VAE levels, {unet_levels} UNet \
                 levels), more than the largest side {MAX_SIDE}"
            )));
        }
        let scaling_factor = match vae.get("scaling_factor") {
            None | Some(Value::Null) => 0.18215,
            Some(v) => v
                .as_f64()
                .map(|f| f as f32)
                .filter(|f| SCALING_FACTOR_RANGE.contains(f))
                .ok_or_else(|| {
                    r.err(format!(
                        "vae_decoder/config.json: `scaling_factor` must be a number from {} to {}, not {v}",
                        SCALING_FACTOR_RANGE.start(),
                        SCALING_FACTOR_RANGE.end()
                    ))
                })?,
        };
        let scheduler_config = SchedulerConfig::from_json(&Value::Object(sched))
            .map_err(|e| r.err(format!("scheduler/scheduler_config.json: {e}")))?;
        let tokenizer =
            PromptTokenizer::load(&dir.join("tokenizer"), positions).map_err(|e| r.err(e))?;
        if tokenizer.length() > MAX_TOKENS {
            return Err(r.err(format!(
                "tokenizer: sequence length {} is more than {MAX_TOKENS}",
                tokenizer.length()
            )));
        }

        let sample = match unet.get("sample_size") {
            Some(Value::Array(a)) => a.first().and_then(positive_u32),
            Some(v) => positive_u32(v),
            None => None,
        }
        .unwrap_or(32);
        let pixels = (u64::from(sample) * u64::from(vae_factor)).min(u64::from(MAX_SIDE)) as u32;
        let native = pixels.max(size_multiple) / size_multiple * size_multiple;
        let mut defaults = Defaults {
            width: native,
            height: native,
            frames: 16,
            max_frames: 64,
            fps: 8.0,
            steps: 25,
            guidance: 9.0,
            scheduler: scheduler_config.default_kind(),
        };
        if let Some(d) = index.get("t2v_defaults") {
            apply_defaults(&mut defaults, d)
                .map_err(|e| r.err(format!("model_index.json: t2v_defaults {e}")))?;
            scheduler_config
                .check_kind(defaults.scheduler)
                .map_err(|e| r.err(format!("model_index.json: t2v_defaults `scheduler`: {e}")))?;
        }
        for (key, v) in [("width", defaults.width), ("height", defaults.height)] {
            if v % size_multiple != 0 || v > MAX_SIDE {
                return Err(r.err(format!(
                    "model_index.json: t2v_defaults `{key}` {v} is not a multiple of {size_multiple} up to {MAX_SIDE}"
                )));
            }
        }
        let shapes = Shapes {
            text_hidden,
            tokens: tokenizer.length(),
            latent_channels: in_ch,
            vae_factor,
            size_multiple,
            scaling_factor,
        };
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
            shapes,
            scheduler_config,
            tokenizer,
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

    /// The diffusers pipeline class the package came from (`_class_name`), possibly empty.
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
        &self.shapes
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
        &self.tokenizer
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
