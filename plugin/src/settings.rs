//! The instance's parameter values at one time, read through the safe layer: numbers clamped to the
//! ranges `params` declares, prompts as UTF-8 text (never repaired: two prompts differing only in
//! invalid bytes would share a clip), folders as OS paths (see `paths`).

use std::path::PathBuf;

use crate::fit::FitMode;
use crate::ofx::{param::ParamSet, Error, Result};
use crate::params::{clamp_double, clamp_int, label, names::*};
use crate::paths;
use crate::start_from::StartFrom;
use crate::timing::{PastEnd, Timing};
use crate::transfer::Transfer;

/// `outputSize` choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputSize {
    Project,
    Native,
    Custom,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub prompt: String,
    pub negative_prompt: String,
    pub seed: u64,
    pub model: i32,
    /// The model's name as chosen (empty until the user picks one); wins over `model` when still found.
    pub model_name: String,
    /// Empty: not set.
    pub custom_model: PathBuf,
    /// The Use Model Defaults toggle as set (see [`Settings::follows_model`]).
    pub use_model_defaults: bool,
    /// `paramsVersion`: 0 in projects saved before Use Model Defaults.
    pub params_version: i32,
    /// 0 = the model's default (what projects before Use Model Defaults hold for it).
    pub steps: u32,
    /// 0 = the model's default.
    pub guidance: f32,
    /// Index into the Scheduler menu as described, `params::SCHEDULERS` (0 = the model's default).
    pub scheduler: i32,
    /// The chosen scheduler's id (empty in projects saved before it existed); wins over `scheduler` when set.
    pub scheduler_name: String,
    /// 0 = the model's default.
    pub frames: u32,
    pub output_size: OutputSize,
    pub width: u32,
    pub height: u32,
    pub fit: FitMode,
    /// What the output carries (a colour-managed host may ask for the other; see `colour_management`).
    pub transfer: Transfer,
    pub timing: Timing,
    pub past_end: PastEnd,
    pub gpu: bool,
    /// CUDA's device index for `gpu`.
    pub gpu_index: u32,
    /// Fail rather than fall back to the CPU (the parameter; `T2V_STRICT_DEVICE` is read at render).
    pub strict_device: bool,
    /// GPU Memory Limit in GB; 0: `T2V_GPU_MEMORY_GB` (read at render) or none.
    pub gpu_memory_gb: f64,
    pub auto_generate: bool,
    /// Empty: not set.
    pub cache_folder: PathBuf,
    /// Source Strength: below 1 the Source clip's frames are the start (video-to-video).
    pub strength: f32,
    pub start_from: StartFrom,
    /// The timeline frame `StartFrom::Frame` reads.
    pub start_frame: i32,
}

impl Settings {
    pub fn read(params: &ParamSet, time: f64) -> Result<Settings> {
        let int = |name: &str| Ok(clamp_int(name, params.param(name)?.int_at(time)?));
        let text = |name: &str| {
            String::from_utf8(params.param(name)?.bytes_at(time)?).map_err(|_| {
                Error::failed(format!(
                    "{} is not valid UTF-8 text; retype it",
                    label(name)
                ))
            })
        };
        let folder = |name: &str| {
            let raw = paths::os_string(params.param(name)?.bytes_at(time)?);
            paths::folder(label(name), &raw).map_err(Error::failed)
        };
        let non_negative = |v: i32| v.max(0) as u32;
        Ok(Settings {
            prompt: text(PROMPT)?,
            negative_prompt: text(NEGATIVE_PROMPT)?,
            seed: non_negative(int(SEED)?) as u64,
            model: int(MODEL)?,
            model_name: params.param(MODEL_NAME)?.string_at(time)?,
            custom_model: folder(CUSTOM_MODEL)?,
            use_model_defaults: int(USE_MODEL_DEFAULTS)? != 0,
            params_version: int(PARAMS_VERSION)?,
            steps: non_negative(int(STEPS)?),
            guidance: clamp_double(GUIDANCE, params.param(GUIDANCE)?.double_at(time)?) as f32,
            scheduler: int(SCHEDULER)?,
            scheduler_name: params.param(SCHEDULER_NAME)?.string_at(time)?,
            frames: non_negative(int(FRAMES)?),
            output_size: match int(OUTPUT_SIZE)? {
                0 => OutputSize::Project,
                2 => OutputSize::Custom,
                _ => OutputSize::Native,
            },
            width: non_negative(int(WIDTH)?),
            height: non_negative(int(HEIGHT)?),
            fit: FitMode::from_index(int(FIT_MODE)?),
            transfer: read_transfer(params, time)?,
            timing: Timing::from_index(int(TIMING)?),
            past_end: PastEnd::from_index(int(PAST_END)?),
            gpu: int(DEVICE)? == 1,
            gpu_index: non_negative(int(GPU_INDEX)?),
            strict_device: int(STRICT_DEVICE)? != 0,
            gpu_memory_gb: clamp_double(GPU_MEMORY, params.param(GPU_MEMORY)?.double_at(time)?),
            auto_generate: int(AUTO_GENERATE)? != 0,
            cache_folder: folder(CACHE_FOLDER)?,
            strength: clamp_double(STRENGTH, params.param(STRENGTH)?.double_at(time)?) as f32,
            start_from: StartFrom::chosen(
                int(START_FROM)?,
                &params.param(START_FROM_NAME)?.string_at(time)?,
            )
            .map_err(Error::failed)?,
            start_frame: int(START_FRAME)?,
        })
    }
}

impl Settings {
    /// Whether Steps, Guidance and Frames take the model's values whatever they hold. Projects saved
    /// before the toggle (version 0) load with it on, so there each value decides alone (0 = the model's).
    pub fn follows_model(&self) -> bool {
        self.use_model_defaults && self.params_version >= crate::params::LAYOUT_VERSION
    }

    /// Whether the settings read the Source clip: a strength below 1 or a start frame.
    pub fn wants_source(&self) -> bool {
        self.strength < 1.0 || self.start_from != StartFrom::None
    }
}

/// The Output transfer choice alone (GetOutputColourspace needs nothing else).
pub fn read_transfer(params: &ParamSet, time: f64) -> Result<Transfer> {
    Transfer::chosen(
        params.param(OUTPUT_TRANSFER)?.int_at(time)?,
        &params.param(OUTPUT_TRANSFER_NAME)?.string_at(time)?,
    )
    .map_err(Error::failed)
}

/// The disk cache's size cap in bytes: the Cache Limit if set, else `T2V_CACHE_MAX_GB`, else the default
/// (`clip_cache::disk_cap`). Read apart from [`Settings`]: it decides no pixels, only what is evicted.
pub fn read_disk_cap(params: &ParamSet, time: f64) -> Result<u64> {
    let gb = clamp_double(CACHE_LIMIT, params.param(CACHE_LIMIT)?.double_at(time)?);
    Ok(clip_cache::disk_cap(gb))
}
