//! A loaded model package and the generation loop every family shares: prompt embeddings (cached, see
//! `embeddings`), seeded initial latents, denoising with classifier-free guidance and a scheduler, progress
//! and cancellation, finite checks and stats. The family (see `family`) runs its text encoder, denoiser and
//! decoder.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::embeddings::{EmbeddingCache, EmbeddingKey};
use crate::error::EngineError;
use crate::family::{Denoiser, Placement, Step, TextEncoder, Tokens};
use crate::identity::{load_consistent, Fingerprint};
use crate::limits::{tensor_values, MAX_SIDE, MAX_TENSOR_VALUES};
use crate::noise::NoiseStream;
use crate::package::{Defaults, ModelPackage};
use crate::request::{Flow, Request, StepProgress, Video};
use crate::runtime::{Device, Residency, RuntimeOptions, RELEASE_TEXT_ENCODER_ABOVE};
use crate::stats::{GenerationClock, GenerationStats};

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
        let clock = GenerationClock::start();
        self.package.validate(request)?;
        let mut noise = NoiseStream::new(request.seed);
        let shape = self.package.latent_shape(request);
        let latents = noise.take(shape.iter().product());
        self.run(request, latents, noise, clock, progress)
    }

    /// Generates from explicit unit-variance initial latents ([1, C, F', h, w], C order) instead of the
    /// seed's; per-step noise still comes from the seed's stream. Used by parity tests and benchmarks.
    pub fn generate_from_latents(
        &self,
        request: &Request,
        latents: &[f32],
        progress: &mut dyn FnMut(StepProgress) -> Flow,
    ) -> Result<Video, EngineError> {
        let clock = GenerationClock::start();
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
        self.run(request, latents.to_vec(), noise, clock, progress)
            .map(|(video, _)| video)
    }

    /// Decodes latents [1, C, F', h, w] as the denoising loop leaves them (before any de-normalisation)
    /// into frames with the family's decoder. Used by the decoder parity tests and tools.
    pub fn decode_latents(&self, latents: &[f32], shape: [usize; 5]) -> Result<Video, EngineError> {
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
        let factor = s.vae_factor as usize;
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
        let mut clock = GenerationClock::start();
        let (width, height) = (width as u32, height as u32);
        let frames = denoiser.decode(&mut clock, latents, shape, width, height)?;
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
            let family = self.package.family_impl();
            let text = family.load_text_encoder(dir, &self.options, &mut Placement::default())?;
            if Fingerprint::read(dir)? != self.fingerprint {
                return Err(changed());
            }
            *slot = Some(text);
        }
        Ok(slot.as_mut().expect("loaded above"))
    }

    fn run(
        &self,
        request: &Request,
        mut latents: Vec<f32>,
        mut noise: NoiseStream,
        mut clock: GenerationClock,
        progress: &mut dyn FnMut(StepProgress) -> Flow,
    ) -> Result<(Video, GenerationStats), EngineError> {
        let steps = request.steps;
        let mut scheduler = request
            .scheduler
            .build(self.package.scheduler_config(), steps as usize)
            .map_err(EngineError::InvalidRequest)?;
        if progress(StepProgress { step: 0, steps }) == Flow::Cancel {
            return Err(EngineError::Cancelled);
        }
        let mut denoiser = self.denoiser.lock();
        let guided = request.is_guided();
        let prompts = if guided {
            vec![request.negative_prompt.as_str(), request.prompt.as_str()]
        } else {
            vec![request.prompt.as_str()]
        };
        let context = self.embeddings(&mut clock, &prompts)?;
        let shape = self.package.latent_shape(request);
        let init = scheduler.init_noise_sigma() as f32;
        latents.iter_mut().for_each(|x| *x *= init);
        let n = latents.len();
        for (i, &t) in scheduler.timesteps().to_vec().iter().enumerate() {
            let input = scheduler.scale_model_input(i, &latents);
            let step = Step {
                latents: &input,
                shape,
                timestep: t,
                context: &context,
                batch: prompts.len(),
            };
            let out = denoiser.predict(&mut clock, &step)?;
            let prediction: Vec<f32> = if guided {
                let (u, c) = out.split_at(n);
                u.iter()
                    .zip(c)
                    .map(|(&u, &c)| u + request.guidance * (c - u))
                    .collect()
            } else {
                out
            };
            scheduler.step(i, &prediction, &mut latents, &mut noise);
            finite(&latents, || format!("denoising step {} of {steps}", i + 1))?;
            if progress(StepProgress {
                step: i as u32 + 1,
                steps,
            }) == Flow::Cancel
            {
                return Err(EngineError::Cancelled);
            }
        }
        let frames = denoiser.decode(&mut clock, &latents, shape, request.width, request.height)?;
        let video = Video {
            width: request.width,
            height: request.height,
            frames,
        };
        Ok((video, clock.finish()))
    }
}

/// Fails when `values` hold NaN or infinity; `what` names the stage that produced them.
pub(crate) fn finite(values: &[f32], what: impl FnOnce() -> String) -> Result<(), EngineError> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(EngineError::NotFinite(what()))
    }
}
