//! A loaded model package and the generation loop: prompt encoding, classifier-free guidance, denoising with
//! a scheduler, and per-frame VAE decoding into display-ready RGB frames.

use std::path::Path;

use ort::session::Session;
use parking_lot::Mutex;

use crate::error::EngineError;
use crate::identity::load_consistent;
use crate::io::{float_shape, float_tensor, ids_tensor, read_float, timestep_tensor, PackageIo};
use crate::noise::NoiseStream;
use crate::package::{Defaults, ModelPackage, TEXT_ENCODER_FILE, UNET_FILE, VAE_DECODER_FILE};
use crate::request::{Flow, Request, StepProgress, Video};
use crate::runtime::{load_session, Device, RuntimeOptions};
use crate::stats::{GenerationClock, GenerationStats};

/// Frames decoded per VAE run: bounds decoder memory on long clips.
const DECODE_CHUNK: usize = 4;

struct Sessions {
    text: Session,
    unet: Session,
    vae: Session,
}

/// A package with its ONNX Runtime sessions, shareable across threads (generations run one at a time).
pub struct Model {
    package: ModelPackage,
    identity: String,
    io: PackageIo,
    sessions: Mutex<Sessions>,
    device: Device,
    device_note: Option<String>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("dir", &self.package.dir())
            .field("device", &self.device)
            .finish()
    }
}

fn inference(model: &'static str) -> impl Fn(ort::Error) -> EngineError {
    move |e| EngineError::Inference {
        model,
        message: e.to_string(),
    }
}

impl Model {
    /// The output `name` of `file` as f32, if it has the shape the package's configs promise (checked before
    /// copying it). A model that returns another shape is a package made of mismatched parts: the message names
    /// the folder and the file.
    fn output(
        &self,
        outputs: &ort::session::SessionOutputs,
        file: &'static str,
        name: &str,
        expected: &[usize],
    ) -> Result<Vec<f32>, EngineError> {
        let fail = inference(file);
        let value = &outputs[name];
        let got = float_shape(value).map_err(&fail)?;
        if got != expected {
            return Err(EngineError::package(
                self.package.dir(),
                format!("{file} returned shape {got:?}, expected {expected:?}"),
            ));
        }
        read_float(value).map_err(&fail)
    }

    /// Opens the package and creates its three sessions (slow: callers keep the model and share it). A package
    /// that changes while it loads is loaded again, so [`Model::identity`] names exactly what was loaded.
    pub fn load(dir: &Path, options: &RuntimeOptions) -> Result<Self, EngineError> {
        load_consistent(dir, |identity| Self::load_once(dir, options, identity))
    }

    fn load_once(
        dir: &Path,
        options: &RuntimeOptions,
        identity: String,
    ) -> Result<Self, EngineError> {
        let package = ModelPackage::open(dir)?;
        let text = load_session(dir, TEXT_ENCODER_FILE, options)?;
        let unet = load_session(dir, UNET_FILE, options)?;
        let vae = load_session(dir, VAE_DECODER_FILE, options)?;
        let io = PackageIo::inspect(
            dir,
            package.shapes(),
            &text.session,
            &unet.session,
            &vae.session,
        )?;
        let device = if [&text, &unet, &vae]
            .iter()
            .all(|s| s.device == Device::Cuda)
        {
            Device::Cuda
        } else {
            Device::Cpu
        };
        let device_note = [&text, &unet, &vae].iter().find_map(|s| s.fallback.clone());
        let sessions = Mutex::new(Sessions {
            text: text.session,
            unet: unet.session,
            vae: vae.session,
        });
        Ok(Self {
            package,
            identity,
            io,
            sessions,
            device,
            device_note,
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

    /// Generates from explicit unit-variance initial latents ([1, C, F, h, w], C order) instead of the seed's;
    /// per-step noise still comes from the seed's stream. Used by parity tests and benchmarks.
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
        let mut sessions = self.sessions.lock();
        let guided = request.is_guided();
        let context = self.encode_prompts(&mut sessions.text, &mut clock, request, guided)?;
        let shape = self.package.latent_shape(request);
        let init = scheduler.init_noise_sigma() as f32;
        latents.iter_mut().for_each(|x| *x *= init);
        let n = latents.len();
        for (i, &t) in scheduler.timesteps().to_vec().iter().enumerate() {
            let input = scheduler.scale_model_input(i, &latents);
            let out = self.denoise(&mut sessions.unet, &mut clock, &input, shape, t, &context)?;
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
        let frames = self.decode(&mut sessions.vae, &mut clock, &latents, shape, request)?;
        let video = Video {
            width: request.width,
            height: request.height,
            frames,
        };
        Ok((video, clock.finish()))
    }

    /// Text embeddings, [negative; prompt] when guided, else [prompt].
    fn encode_prompts(
        &self,
        text: &mut Session,
        clock: &mut GenerationClock,
        request: &Request,
        guided: bool,
    ) -> Result<Vec<f32>, EngineError> {
        let tok = self.package.tokenizer();
        let tokenize = |s: &str| tok.encode(s).map_err(EngineError::InvalidRequest);
        let mut ids = Vec::new();
        if guided {
            ids.extend(tokenize(&request.negative_prompt)?);
        }
        ids.extend(tokenize(&request.prompt)?);
        let batch = if guided { 2 } else { 1 };
        let fail = inference(TEXT_ENCODER_FILE);
        let input = ids_tensor(self.io.ids_i32, batch, ids).map_err(&fail)?;
        let outputs = clock
            .onnx(|| text.run(ort::inputs!["input_ids" => input]))
            .map_err(&fail)?;
        let expected = [batch, tok.length(), self.package.shapes().text_hidden];
        let data = self.output(&outputs, TEXT_ENCODER_FILE, &self.io.text_output, &expected)?;
        finite(&data, || TEXT_ENCODER_FILE.to_string())?;
        Ok(data)
    }

    /// One UNet run over one copy of the scaled latents per prompt in `context` (two when guided).
    fn denoise(
        &self,
        unet: &mut Session,
        clock: &mut GenerationClock,
        input: &[f32],
        shape: [usize; 5],
        t: f64,
        context: &[f32],
    ) -> Result<Vec<f32>, EngineError> {
        let fail = inference(UNET_FILE);
        let hidden = self.package.shapes().text_hidden;
        let tokens = self.package.tokenizer().length();
        let batch = context.len() / (tokens * hidden);
        let mut sample = Vec::with_capacity(input.len() * batch);
        for _ in 0..batch {
            sample.extend_from_slice(input);
        }
        let sample_shape = [batch, shape[1], shape[2], shape[3], shape[4]];
        let ctx_shape = [batch, tokens, hidden];
        let inputs = ort::inputs![
            "sample" => float_tensor(self.io.sample, &sample_shape, &sample).map_err(&fail)?,
            "timestep" => timestep_tensor(self.io.timestep, batch, t).map_err(&fail)?,
            "encoder_hidden_states" => float_tensor(self.io.context, &ctx_shape, context).map_err(&fail)?,
        ];
        let outputs = clock.onnx(|| unet.run(inputs)).map_err(&fail)?;
        self.output(&outputs, UNET_FILE, &self.io.unet_output, &sample_shape)
    }

    /// Latents [1, C, F, h, w] → frames: divide by the scaling factor, fold frames into the batch, decode, and map
    /// [-1, 1] to [0, 1] as interleaved RGB.
    fn decode(
        &self,
        vae: &mut Session,
        clock: &mut GenerationClock,
        latents: &[f32],
        shape: [usize; 5],
        r: &Request,
    ) -> Result<Vec<Vec<f32>>, EngineError> {
        let fail = inference(VAE_DECODER_FILE);
        let [_, c, f, h, w] = shape;
        let scale = (1.0 / self.package.shapes().scaling_factor as f64) as f32;
        let (width, height) = (r.width as usize, r.height as usize);
        let mut frames = Vec::with_capacity(f);
        for first in (0..f).step_by(DECODE_CHUNK) {
            let count = DECODE_CHUNK.min(f - first);
            let mut input = Vec::with_capacity(count * c * h * w);
            for frame in first..first + count {
                for ch in 0..c {
                    let start = (ch * f + frame) * h * w;
                    input.extend(latents[start..start + h * w].iter().map(|&x| x * scale));
                }
            }
            let latent = float_tensor(self.io.latent, &[count, c, h, w], &input).map_err(&fail)?;
            let outputs = clock
                .onnx(|| vae.run(ort::inputs!["latent_sample" => latent]))
                .map_err(&fail)?;
            let expected = [count, 3, height, width];
            let data = self.output(&outputs, VAE_DECODER_FILE, &self.io.vae_output, &expected)?;
            finite(&data, || VAE_DECODER_FILE.to_string())?;
            let plane = height * width;
            for k in 0..count {
                let img = &data[k * 3 * plane..(k + 1) * 3 * plane];
                let mut rgb = vec![0.0f32; 3 * plane];
                for p in 0..plane {
                    for ch in 0..3 {
                        rgb[3 * p + ch] = (img[ch * plane + p] / 2.0 + 0.5).clamp(0.0, 1.0);
                    }
                }
                frames.push(rgb);
            }
        }
        Ok(frames)
    }
}

/// Fails when `values` hold NaN or infinity; `what` names the stage that produced them.
fn finite(values: &[f32], what: impl FnOnce() -> String) -> Result<(), EngineError> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(EngineError::NotFinite(what()))
    }
}
