//! A loaded model package and the generation loop every family shares: prompt embeddings (cached, see
//! `embeddings`), seeded initial latents, denoising with classifier-free guidance and a scheduler, progress
//! and cancellation, finite checks and stats. The family (see `family`) runs its text encoder, denoiser and
//! decoder. Conditioning is shared too: video-to-video (the source encoded and noised to the step its
//! strength maps to), a start image (kept as the first latent frame: natively by Wan2.2 TI2V, elsewhere by
//! noising it to each step's level), windows for clips longer than the model (`window`) and prompt
//! schedules (`prompt_schedule`).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::embeddings::{EmbeddingCache, EmbeddingKey};
use crate::error::EngineError;
use crate::family::{Denoiser, Encoder, Placement, Step, TextEncoder, Tokens};
use crate::identity::{load_consistent, Fingerprint};
use crate::limits::{tensor_values, MAX_SIDE, MAX_TENSOR_VALUES};
use crate::noise::NoiseStream;
use crate::package::{Defaults, ModelPackage};
use crate::prompt_schedule::{self, Keyframe};
use crate::request::{Flow, Request, StepProgress, Video};
use crate::runtime::{Device, Residency, RuntimeOptions, RELEASE_TEXT_ENCODER_ABOVE};
use crate::scheduler::add_noise;
use crate::stats::{GenerationClock, GenerationStats};
use crate::window::{self, Blend};

/// A package with its ONNX Runtime sessions, shareable across threads (generations run one at a time).
pub struct Model {
    package: ModelPackage,
    identity: String,
    /// The package's files as they were loaded: a released text encoder is loaded again only from these.
    fingerprint: Fingerprint,
    options: RuntimeOptions,
    release_text_encoder: bool,
    /// Locked after `denoiser` when both are.
    text: Mutex<Option<Box<dyn TextEncoder>>>,
    denoiser: Mutex<Box<dyn Denoiser>>,
    /// The VAE encoder, loaded at the first request that needs it; locked after `denoiser`.
    encoder: Mutex<Option<Box<dyn Encoder>>>,
    text_encoder_runs: AtomicU64,
    device: Device,
    device_note: Option<String>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("dir", &self.package.dir())
            .field("family", &self.package.family())
            .field("device", &self.device)
            .finish()
    }
}

impl Model {
    /// Opens the package and creates its sessions (slow: callers keep the model and share it). A package
    /// that changes while it loads is loaded again, so [`Model::identity`] names exactly what was loaded.
    pub fn load(dir: &Path, options: &RuntimeOptions) -> Result<Self, EngineError> {
        load_consistent(dir, |identity| Self::load_once(dir, options, identity))
    }

    fn load_once(
        dir: &Path,
        options: &RuntimeOptions,
        identity: String,
    ) -> Result<Self, EngineError> {
        let fingerprint = Fingerprint::read(dir)?;
        let package = ModelPackage::open(dir)?;
        let family = package.family_impl();
        let release_text_encoder = match options.text_encoder {
            Residency::Kept => false,
            Residency::Released => true,
            Residency::Auto => package.text_encoder_bytes() > RELEASE_TEXT_ENCODER_ABOVE,
        };
        let mut placement = Placement::default();
        // Checked now either way; a released encoder is gone before the denoiser loads.
        let text = family.load_text_encoder(dir, options, &mut placement)?;
        let text = (!release_text_encoder).then_some(text);
        let denoiser = family.load_denoiser(dir, options, &mut placement)?;
        Ok(Self {
            package,
            identity,
            fingerprint,
            options: *options,
            release_text_encoder,
            text: Mutex::new(text),
            denoiser: Mutex::new(denoiser),
            encoder: Mutex::new(None),
            text_encoder_runs: AtomicU64::new(0),
            device: placement.device(),
            device_note: placement.note,
        })
    }

    pub fn package(&self) -> &ModelPackage {
        &self.package
    }

    pub fn defaults(&self) -> &Defaults {
        self.package.defaults()
    }

    /// The content identity (see [`crate::model_identity`]) of exactly the files this model was loaded from.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Where the sessions really run.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Why the device differs from the one asked for (e.g. CUDA unavailable), for the user to see.
    pub fn device_note(&self) -> Option<&str> {
        self.device_note.as_deref()
    }

    /// How many prompts this model's text encoder has encoded (cached embeddings are not counted).
    pub fn text_encoder_runs(&self) -> u64 {
        self.text_encoder_runs.load(Ordering::Relaxed)
    }

    /// Whether the text encoder's session is loaded now (a released one is only while encoding).
    pub fn text_encoder_loaded(&self) -> bool {
        self.text.lock().is_some()
    }

    /// Generates a clip; initial latents come from the request's seed (see `noise`).
    pub fn generate(
        &self,
        request: &Request,
        progress: &mut dyn FnMut(StepProgress) -> Flow,
    ) -> Result<Video, EngineError> {
        self.generate_with_stats(request, progress)
            .map(|(video, _)| video)
    }

    /// `generate`, also telling how much of the generation's time was spent inside ONNX Runtime.
    pub fn generate_with_stats(
        &self,
        request: &Request,
        progress: &mut dyn FnMut(StepProgress) -> Flow,
    ) -> Result<(Video, GenerationStats), EngineError> {
        let mut clock = GenerationClock::start();
        let sampled = self.sample_clocked(request, &mut clock, progress)?;
        let video = self.decode_clocked(&mut clock, &sampled.latents, sampled.shape)?;
        Ok((video, clock.finish()))
    }

    /// The denoising loop alone: the final latents, for [`Model::decode_latents`] (a caller that keeps them
    /// can decode again, e.g. after a decode ran out of memory, without sampling again).
    pub fn sample_with_stats(
        &self,
        request: &Request,
        progress: &mut dyn FnMut(StepProgress) -> Flow,
    ) -> Result<(Sampled, GenerationStats), EngineError> {
        let mut clock = GenerationClock::start();
        let sampled = self.sample_clocked(request, &mut clock, progress)?;
        Ok((sampled, clock.finish()))
    }

    fn sample_clocked(
        &self,
        request: &Request,
        clock: &mut GenerationClock,
        progress: &mut dyn FnMut(StepProgress) -> Flow,
    ) -> Result<Sampled, EngineError> {
        self.package.validate(request)?;
        let mut noise = NoiseStream::new(request.seed);
        let shape = self.package.latent_shape(request);
        let window = self.window(request);
        let latents = if window < shape[2] {
            window::initial_noise(shape, window, &mut noise)
        } else {
            noise.take(shape.iter().product())
        };
        let latents = self.run(request, latents, noise, clock, progress)?;
        Ok(Sampled { latents, shape })
    }

    /// Generates from explicit unit-variance initial latents ([1, C, F', h, w], C order) instead of the
    /// seed's; per-step noise still comes from the seed's stream. Used by parity tests and benchmarks.
    pub fn generate_from_latents(
        &self,
        request: &Request,
        latents: &[f32],
        progress: &mut dyn FnMut(StepProgress) -> Flow,
    ) -> Result<Video, EngineError> {
        let mut clock = GenerationClock::start();
        self.package.validate(request)?;
        let shape = self.package.latent_shape(request);
        let expected: usize = shape.iter().product();
        if latents.len() != expected {
            return Err(EngineError::InvalidRequest(format!(
                "initial latents have {} values, expected {expected} ({shape:?})",
                latents.len()
            )));
        }
        let mut noise = NoiseStream::new(request.seed);
        // Keep the stream where `generate` would have it, so per-step noise matches a seeded run.
        noise.take(expected);
        let latents = self.run(request, latents.to_vec(), noise, &mut clock, progress)?;
        self.decode_clocked(&mut clock, &latents, shape)
    }

    /// Latent frames the denoiser takes at once for `request`: all of them up to the package's
    /// `max_frames`, else those of its default frame count (see `window`).
    fn window(&self, request: &Request) -> usize {
        let shape = self.package.latent_shape(request);
        let defaults = self.package.defaults();
        if request.frames <= defaults.max_frames {
            return shape[2];
        }
        let model = Request {
            frames: defaults.frames,
            ..request.clone()
        };
        self.package.latent_shape(&model)[2]
    }

    /// Decodes latents [1, C, F', h, w] as the denoising loop leaves them (before any de-normalisation)
    /// into frames with the family's decoder. Used by the decoder parity tests and tools.
    pub fn decode_latents(&self, latents: &[f32], shape: [usize; 5]) -> Result<Video, EngineError> {
        self.decode_with_stats(latents, shape)
            .map(|(video, _)| video)
    }

    /// `decode_latents`, also timing it (a decode of kept latents is a clip's whole generation time).
    pub fn decode_with_stats(
        &self,
        latents: &[f32],
        shape: [usize; 5],
    ) -> Result<(Video, GenerationStats), EngineError> {
        let s = self.package.shapes();
        let bad = |m: String| Err(EngineError::InvalidRequest(m));
        let values = tensor_values(&shape).unwrap_or(usize::MAX);
        if shape[0] != 1
            || shape[1] != s.latent_channels
            || values == 0
            || values > MAX_TENSOR_VALUES
        {
            return bad(format!(
                "latents must be [1, {}, frames, height, width] within the engine's limits, not {shape:?}",
                s.latent_channels
            ));
        }
        if latents.len() != values {
            return bad(format!(
                "latents have {} values, expected {values} ({shape:?})",
                latents.len()
            ));
        }
        let mut clock = GenerationClock::start();
        let video = self.decode_clocked(&mut clock, latents, shape)?;
        Ok((video, clock.finish()))
    }

    /// Decodes checked latents with the family's decoder.
    fn decode_clocked(
        &self,
        clock: &mut GenerationClock,
        latents: &[f32],
        shape: [usize; 5],
    ) -> Result<Video, EngineError> {
        let bad = |m: String| Err(EngineError::InvalidRequest(m));
        let factor = self.package.shapes().vae_factor as usize;
        let (height, width) = (shape[3] * factor, shape[4] * factor);
        let mut denoiser = self.denoiser.lock();
        let frames = denoiser.frames(shape[2]);
        if height > MAX_SIDE as usize
            || width > MAX_SIDE as usize
            || tensor_values(&[frames, height, width, 3]).is_none()
        {
            return bad(format!(
                "{frames} frames of {width}×{height} are more than the engine's limits"
            ));
        }
        let (width, height) = (width as u32, height as u32);
        let frames = denoiser.decode(clock, latents, shape, width, height)?;
        Ok(Video {
            width,
            height,
            frames,
        })
    }

    /// The embeddings of `prompt` as the denoiser takes it ([tokens, hidden]), from the cache or the text
    /// encoder. Exposed for the family parity tests (the text stage against diffusers').
    pub fn prompt_embedding(&self, prompt: &str) -> Result<Vec<f32>, EngineError> {
        let mut clock = GenerationClock::start();
        self.embeddings(&mut clock, &[prompt])
    }

    /// The embeddings of `prompts`, concatenated in order.
    fn embeddings(
        &self,
        clock: &mut GenerationClock,
        prompts: &[&str],
    ) -> Result<Vec<f32>, EngineError> {
        let family = self.package.family_impl();
        let encoder = format!(
            "{} {} threads={}",
            self.identity,
            self.device.name(),
            self.options.intra_threads
        );
        let shapes = self.package.shapes();
        let mut context = Vec::with_capacity(prompts.len() * shapes.tokens * shapes.text_hidden);
        let mut slot = self.text.lock();
        let mut encode = |slot: &mut Option<Box<dyn TextEncoder>>| -> Result<(), EngineError> {
            for prompt in prompts {
                let key = EmbeddingKey {
                    encoder: encoder.clone(),
                    text: family.prompt_text(prompt),
                };
                let cached = EmbeddingCache::global().lock().get(&key);
                let embedding = match cached {
                    Some(embedding) => embedding,
                    None => {
                        let (ids, real) = family
                            .tokenizer()
                            .encode_counted(&key.text)
                            .map_err(EngineError::InvalidRequest)?;
                        let text = self.text_encoder(slot)?;
                        let data = text.encode(clock, &Tokens { ids, real })?;
                        self.text_encoder_runs.fetch_add(1, Ordering::Relaxed);
                        finite(&data, || family.text_encoder_file().to_string())?;
                        let data: Arc<[f32]> = data.into();
                        EmbeddingCache::global().lock().put(key, data.clone());
                        data
                    }
                };
                context.extend_from_slice(&embedding);
            }
            Ok(())
        };
        let encoded = encode(&mut slot);
        if self.release_text_encoder {
            *slot = None;
        }
        encoded.map(|()| context)
    }

    /// The loaded text encoder, loading it again (from the files this model was loaded from) if released.
    fn text_encoder<'a>(
        &self,
        slot: &'a mut Option<Box<dyn TextEncoder>>,
    ) -> Result<&'a mut Box<dyn TextEncoder>, EngineError> {
        if slot.is_none() {
            let family = self.package.family_impl();
            *slot = Some(self.load_later(|dir| {
                family.load_text_encoder(dir, &self.options, &mut Placement::default())
            })?);
        }
        Ok(slot.as_mut().expect("loaded above"))
    }

    /// Loads a session after `Model::load` (a released text encoder, the VAE encoder), only from the files
    /// this model was loaded from: a package changed since fails instead of mixing contents.
    fn load_later<T>(
        &self,
        load: impl FnOnce(&Path) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let dir = self.package.dir();
        let changed = || {
            EngineError::package(
                dir,
                "changed since the model was loaded; render again to load it anew",
            )
        };
        if Fingerprint::read(dir)? != self.fingerprint {
            return Err(changed());
        }
        let loaded = load(dir)?;
        if Fingerprint::read(dir)? != self.fingerprint {
            return Err(changed());
        }
        Ok(loaded)
    }

    /// `frames` (the request's size) through the VAE encoder, loaded at first use: latents [1, C, F', h, w].
    fn encode(
        &self,
        clock: &mut GenerationClock,
        frames: &[Arc<[f32]>],
        request: &Request,
    ) -> Result<Vec<f32>, EngineError> {
        let mut slot = self.encoder.lock();
        if slot.is_none() {
            let family = self.package.family_impl();
            *slot = Some(self.load_later(|dir| {
                family.load_encoder(dir, &self.options, &mut Placement::default())
            })?);
        }
        let encoder = slot.as_mut().expect("loaded above");
        let latents = encoder.encode(clock, frames, request.width, request.height)?;
        finite(&latents, || "the VAE encoder".to_string())?;
        Ok(latents)
    }

    /// The text context of each window ([negative; prompt] when guided): one context for a plain prompt;
    /// for a schedule, each keyframe encoded once and interpolated at the window's middle frame.
    fn contexts(
        &self,
        clock: &mut GenerationClock,
        request: &Request,
        windows: &[std::ops::Range<usize>],
        latent_frames: usize,
    ) -> Result<Vec<Vec<f32>>, EngineError> {
        let negative = request.negative_prompt.as_str();
        let schedule =
            prompt_schedule::parse(&request.prompt).map_err(EngineError::InvalidRequest)?;
        let Some(keys) = schedule else {
            let prompts = if request.is_guided() {
                vec![negative, request.prompt.as_str()]
            } else {
                vec![request.prompt.as_str()]
            };
            return Ok(vec![self.embeddings(clock, &prompts)?]);
        };
        let uncond = if request.is_guided() {
            self.embeddings(clock, &[negative])?
        } else {
            Vec::new()
        };
        let keyed: Vec<Vec<f32>> = keys
            .iter()
            .map(|Keyframe { prompt, .. }| self.embeddings(clock, &[prompt.as_str()]))
            .collect::<Result<_, _>>()?;
        // Latent frame j ↔ clip frame j·(frames − 1)/(F' − 1).
        let per_latent = (request.frames.saturating_sub(1)) as f64
            / latent_frames.saturating_sub(1).max(1) as f64;
        Ok(windows
            .iter()
            .map(|w| {
                let middle = (w.start + w.end - 1) as f64 / 2.0 * per_latent;
                let (a, b, t) = prompt_schedule::position(&keys, middle);
                let mut context = uncond.clone();
                context.extend(prompt_schedule::lerp(&keyed[a], &keyed[b], t));
                context
            })
            .collect())
    }

    /// The denoising loop from `latents` (unit-variance initial noise): the final latents.
    fn run(
        &self,
        request: &Request,
        eps: Vec<f32>,
        mut noise: NoiseStream,
        clock: &mut GenerationClock,
        progress: &mut dyn FnMut(StepProgress) -> Flow,
    ) -> Result<Vec<f32>, EngineError> {
        let steps = request.steps as usize;
        let mut scheduler = request
            .scheduler
            .build(self.package.scheduler_config(), steps)
            .map_err(EngineError::InvalidRequest)?;
        let source = request.source.as_ref().filter(|s| s.is_used());
        // Video-to-video runs the last ⌊steps·strength⌋ steps, as diffusers counts them.
        let first = source.map_or(0, |s| {
            steps - ((steps as f64 * s.strength as f64) as usize).min(steps)
        });
        let run = (steps - first) as u32;
        if progress(StepProgress {
            step: 0,
            steps: run,
        }) == Flow::Cancel
        {
            return Err(EngineError::Cancelled);
        }
        let mut denoiser = self.denoiser.lock();
        // Whatever ends the loop, the bound contexts are released with it.
        let result = (|| {
            let shape = self.package.latent_shape(request);
            let windows = window::plan(shape[2], self.window(request));
            let batch = if request.is_guided() { 2 } else { 1 };
            let bound = self.contexts(clock, request, &windows, shape[2])?;
            let contexts = bound.len();
            denoiser.bind_contexts(&bound, batch)?;
            drop(bound);
            let start_latent = match &request.start_image {
                Some(image) => Some(self.encode(clock, std::slice::from_ref(image), request)?),
                None => None,
            };
            let mut latents = match source {
                Some(s) => {
                    let x0 = self.encode(clock, &s.frames, request)?;
                    if first < steps {
                        add_noise(scheduler.as_ref(), first, &x0, &eps)
                    } else {
                        x0
                    }
                }
                None => {
                    let init = scheduler.init_noise_sigma() as f32;
                    eps.iter().map(|x| x * init).collect()
                }
            };
            let native = self.package.family_impl().conditions_on_clean_frames();
            let frame0 = 0..1;
            let eps0 = window::frames_of(&eps, shape, &frame0);
            for (i, &t) in scheduler
                .timesteps()
                .to_vec()
                .iter()
                .enumerate()
                .skip(first)
            {
                if let (Some(image), false) = (&start_latent, native) {
                    let noised = add_noise(scheduler.as_ref(), i, image, &eps0);
                    window::set_frames(&mut latents, shape, &frame0, &noised);
                }
                let mut input = scheduler.scale_model_input(i, &latents);
                if let (Some(image), true) = (&start_latent, native) {
                    window::set_frames(&mut input, shape, &frame0, image);
                }
                let clean = usize::from(native && start_latent.is_some());
                let mut predict =
                    |input: &[f32], shape: [usize; 5], context: usize, clean_frames| {
                        let step = Step {
                            latents: input,
                            shape,
                            timestep: t,
                            context,
                            batch,
                            clean_frames,
                        };
                        let out = denoiser.predict(clock, &step)?;
                        Ok::<_, EngineError>(guided(request, out))
                    };
                let prediction = if windows.len() == 1 {
                    predict(&input, shape, 0, clean)?
                } else {
                    let mut blend = Blend::new(shape);
                    for (k, range) in windows.iter().enumerate() {
                        let part = window::frames_of(&input, shape, range);
                        let part_shape = [1, shape[1], range.len(), shape[3], shape[4]];
                        let clean = if range.start == 0 { clean } else { 0 };
                        let context = k.min(contexts - 1);
                        blend.add(range, &predict(&part, part_shape, context, clean)?);
                    }
                    blend.finish()
                };
                scheduler.step(i, &prediction, &mut latents, &mut noise);
                finite(&latents, || format!("denoising step {} of {steps}", i + 1))?;
                let done = (i + 1 - first) as u32;
                if progress(StepProgress {
                    step: done,
                    steps: run,
                }) == Flow::Cancel
                {
                    return Err(EngineError::Cancelled);
                }
            }
            if let Some(image) = &start_latent {
                window::set_frames(&mut latents, shape, &frame0, image);
            }
            Ok(latents)
        })();
        denoiser.release_contexts();
        result
    }
}

/// The guided prediction from a denoiser output over [negative; prompt] (or the prompt alone).
fn guided(request: &Request, out: Vec<f32>) -> Vec<f32> {
    if !request.is_guided() {
        return out;
    }
    let (u, c) = out.split_at(out.len() / 2);
    u.iter()
        .zip(c)
        .map(|(&u, &c)| u + request.guidance * (c - u))
        .collect()
}

/// Final latents of a generation ([`Model::sample_with_stats`]), before decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    /// [1, C, F', h, w], C order, as the denoising loop leaves them.
    pub latents: Vec<f32>,
    pub shape: [usize; 5],
}

/// Fails when `values` hold NaN or infinity; `what` names the stage that produced them.
pub(crate) fn finite(values: &[f32], what: impl FnOnce() -> String) -> Result<(), EngineError> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(EngineError::NotFinite(what()))
    }
}
