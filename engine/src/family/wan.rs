//! The Wan family (`WanPipeline`: Wan2.1 T2V, Wan2.2 TI2V): a UMT5 text encoder with an attention mask and
//! zeroed padding rows, a DiT transformer predicting a flow (velocity) over latents [B, z, F', h, w] with
//! F' = (F − 1)/4 + 1, and a causal 3D VAE decoded one latent frame at a time (`wan_vae`). The package
//! contract is in docs/ARCHITECTURE.md ("Wan package"); the numbers follow diffusers' `pipeline_wan.py`.

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::DynValue;
use serde_json::{Map, Value};

use super::wan_vae::{
    CausalEncoder, CausalVae, Normalisation, VAE_ENCODER_FIRST_FILE, VAE_ENCODER_STEP_FILE,
    VAE_FIRST_FILE, VAE_STEP_FILE,
};
use super::{
    nearest_frames, nearest_multiple, wan_prompt, Denoiser, Encoder, Family, Placement, Step,
    TextEncoder, Tokens,
};
use crate::binding::ContextBindings;
use crate::error::EngineError;
use crate::io::{
    checked_output, float_tensor, ids_tensor, inference, timestep_tensor, Check, Float,
    TimestepForm,
};
use crate::limits::{MAX_HIDDEN, MAX_LATENT_CHANNELS, MAX_SIDE, MAX_TOKENS};
use crate::package::{Defaults, Reader, Shapes};
use crate::request::Request;
use crate::runtime::{load_session, RuntimeOptions};
use crate::scheduler::SchedulerConfig;
use crate::stats::GenerationClock;
use crate::tokenizer::{Length, PromptTokenizer};

pub const TEXT_ENCODER_FILE: &str = "text_encoder/model.onnx";
pub const TRANSFORMER_FILE: &str = "transformer/model.onnx";
const FILES: &[&str] = &[
    TEXT_ENCODER_FILE,
    TRANSFORMER_FILE,
    VAE_FIRST_FILE,
    VAE_STEP_FILE,
];

/// Tokens per prompt without `t2v_text_length` (the pipeline's `max_sequence_length`).
const TEXT_LENGTH: usize = 512;

/// Frames per latent frame after the first (the VAE's `scale_factor_temporal`; the decoder graphs are
/// exported for it).
const TEMPORAL: u32 = 4;

/// Largest |mean| and std of the latent normalisation: real ones are below 10.
const NORMALISATION_LIMIT: f32 = 1e4;

#[derive(Debug)]
struct Wan {
    shapes: Shapes,
    tokenizer: PromptTokenizer,
    /// Spatial patch of the transformer (`patch_size` [1, p, p]).
    patch: usize,
    /// Wan2.2 TI2V: the transformer takes one timestep per token ([B, F'·(h/p)·(w/p)]).
    expand_timesteps: bool,
    norm: Normalisation,
    /// The optional causal encoder (`vae_encoder/first.onnx` and `step.onnx`) is there.
    has_encoder: bool,
}

/// A list of `n` numbers of `key` in `rel`, each finite and in `range`.
fn numbers(
    r: &Reader,
    m: &Map<String, Value>,
    rel: &str,
    key: &str,
    n: usize,
    ok: impl Fn(f32) -> bool,
    rule: &str,
) -> Result<Vec<f32>, EngineError> {
    let bad = || {
        r.err(format!(
            "{rel}: `{key}` must be a list of {n} numbers {rule}"
        ))
    };
    let list = m.get(key).and_then(Value::as_array).ok_or_else(bad)?;
    if list.len() != n {
        return Err(bad());
    }
    list.iter()
        .map(|v| {
            v.as_f64()
                .map(|f| f as f32)
                .filter(|&f| ok(f))
                .ok_or_else(bad)
        })
        .collect()
}

pub(super) fn open(r: &Reader, index: &Map<String, Value>) -> Result<Box<dyn Family>, EngineError> {
    for rel in FILES {
        if !r.dir.join(rel).is_file() {
            return Err(r.err(format!("{rel} is missing")));
        }
    }
    let (text_rel, dit_rel, vae_rel) = (
        "text_encoder/config.json",
        "transformer/config.json",
        "vae_decoder/config.json",
    );
    let text = r.json(text_rel)?;
    let dit = r.json(dit_rel)?;
    let vae = r.json(vae_rel)?;

    let d_model = r.usize(&text, text_rel, "d_model", None, MAX_HIDDEN)?;
    let text_dim = r.usize(&dit, dit_rel, "text_dim", Some(d_model), MAX_HIDDEN)?;
    if text_dim != d_model {
        return Err(r.err(format!(
            "text_encoder/config.json d_model {d_model} does not match transformer/config.json text_dim {text_dim}"
        )));
    }
    let z = r.usize(&vae, vae_rel, "z_dim", Some(16), MAX_LATENT_CHANNELS)?;
    for key in ["in_channels", "out_channels"] {
        let ch = r.usize(&dit, dit_rel, key, Some(z), MAX_LATENT_CHANNELS)?;
        if ch != z {
            return Err(r.err(format!(
                "transformer/config.json {key} {ch} does not match vae_decoder/config.json z_dim {z}"
            )));
        }
    }
    let patch = match dit.get("patch_size") {
        None => 2,
        Some(Value::Array(p)) if p.len() == 3 && p[0] == 1 && p[1] == p[2] => {
            p[1].as_u64()
                .filter(|&p| (1..=64).contains(&p))
                .unwrap_or(0) as usize
        }
        Some(_) => 0,
    };
    if patch == 0 {
        return Err(r.err(format!(
            "{dit_rel}: `patch_size` must be [1, p, p] with p from 1 to 64, not {}",
            dit["patch_size"]
        )));
    }
    let temporal = r.usize(&vae, vae_rel, "scale_factor_temporal", Some(4), usize::MAX)?;
    if temporal != TEMPORAL as usize {
        return Err(r.err(format!(
            "{vae_rel}: `scale_factor_temporal` {temporal} is not supported (the decoder graphs give 4 frames per latent frame)"
        )));
    }
    let spatial = r.usize(&vae, vae_rel, "scale_factor_spatial", Some(8), 64)?;
    let positive = |f: f32| f.is_normal() && f > 0.0 && f <= NORMALISATION_LIMIT;
    let latents_std = numbers(
        r,
        &vae,
        vae_rel,
        "latents_std",
        z,
        positive,
        "from 1e-38 to 10000",
    )?;
    let latents_mean = numbers(
        r,
        &vae,
        vae_rel,
        "latents_mean",
        z,
        |f| f.abs() <= NORMALISATION_LIMIT,
        "from -10000 to 10000",
    )?;
    let expand_timesteps = match index.get("expand_timesteps") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => {
            return Err(r.err(format!(
                "model_index.json: `expand_timesteps` must be true or false, not {v}"
            )))
        }
    };
    let length = r.usize(
        index,
        "model_index.json",
        "t2v_text_length",
        Some(TEXT_LENGTH),
        MAX_TOKENS,
    )?;
    let tokenizer = r.tokenizer(PromptTokenizer::load_with(
        &r.dir.join("tokenizer"),
        Length::Fixed(length),
    ))?;
    let has_encoder =
        match [VAE_ENCODER_FIRST_FILE, VAE_ENCODER_STEP_FILE].map(|f| r.dir.join(f).is_file()) {
            [true, true] => true,
            [false, false] => false,
            [first, _] => {
                let (there, missing) = if first {
                    (VAE_ENCODER_FIRST_FILE, VAE_ENCODER_STEP_FILE)
                } else {
                    (VAE_ENCODER_STEP_FILE, VAE_ENCODER_FIRST_FILE)
                };
                return Err(r.err(format!("{there} is there but {missing} is missing")));
            }
        };
    let size_multiple = (spatial * patch) as u32;
    if size_multiple > MAX_SIDE {
        return Err(r.err(format!(
            "sides must be multiples of {size_multiple}, more than the largest side {MAX_SIDE}"
        )));
    }
    let shapes = Shapes {
        text_hidden: d_model,
        tokens: length,
        latent_channels: z,
        vae_factor: spatial as u32,
        size_multiple,
        scaling_factor: 1.0,
    };
    Ok(Box::new(Wan {
        shapes,
        tokenizer,
        patch,
        expand_timesteps,
        norm: Normalisation::new(&latents_mean, &latents_std),
        has_encoder,
    }))
}

impl Wan {
    fn latent_dims(&self, width: u32, height: u32, frames: u32) -> [usize; 5] {
        let s = self.shapes.vae_factor;
        [
            1,
            self.shapes.latent_channels,
            ((frames.max(1) - 1) / TEMPORAL + 1) as usize,
            (height / s) as usize,
            (width / s) as usize,
        ]
    }

    /// Transformer tokens per sample: F'·(h/p)·(w/p).
    fn tokens(&self, shape: [usize; 5]) -> usize {
        shape[2] * (shape[3] / self.patch) * (shape[4] / self.patch)
    }
}

impl Family for Wan {
    fn name(&self) -> &'static str {
        "wan"
    }

    fn onnx_files(&self) -> &'static [&'static str] {
        FILES
    }

    fn text_encoder_file(&self) -> &'static str {
        TEXT_ENCODER_FILE
    }

    fn shapes(&self) -> &Shapes {
        &self.shapes
    }

    fn tokenizer(&self) -> &PromptTokenizer {
        &self.tokenizer
    }

    /// Wan2.1-T2V's: 832×480, 81 frames at 16 fps, 50 steps, guidance 5.
    fn defaults(&self, scheduler: &SchedulerConfig) -> Defaults {
        Defaults {
            width: 832,
            height: 480,
            frames: 81,
            max_frames: 161,
            fps: 16.0,
            steps: 50,
            guidance: 5.0,
            scheduler: scheduler.default_kind(),
        }
    }

    fn frame_step(&self) -> u32 {
        TEMPORAL
    }

    fn check_request(&self, r: &Request) -> Result<(), String> {
        if r.frames >= 1 && !(r.frames - 1).is_multiple_of(TEMPORAL) {
            return Err(format!(
                "Wan needs 4k+1 frames: {} → {}",
                r.frames,
                nearest_frames(r.frames, TEMPORAL)
            ));
        }
        let m = self.shapes.size_multiple;
        for (name, v) in [("width", r.width), ("height", r.height)] {
            if (1..=MAX_SIDE).contains(&v) && !v.is_multiple_of(m) {
                let fit = nearest_multiple(v, m).clamp(m, MAX_SIDE / m * m);
                return Err(format!(
                    "Wan needs a {name} that is a multiple of {m}: {v} → {fit}"
                ));
            }
        }
        Ok(())
    }

    fn latent_shape(&self, r: &Request) -> [usize; 5] {
        self.latent_dims(r.width, r.height, r.frames)
    }

    fn tensors(&self, width: u32, height: u32, frames: u32) -> Vec<(&'static str, Vec<usize>)> {
        let [_, z, f, h, w] = self.latent_dims(width, height, frames);
        let s = &self.shapes;
        let mut tensors = vec![
            ("the transformer input", vec![2, z, f, h, w]),
            ("the text context", vec![2, s.tokens, s.text_hidden]),
            (
                "the decoded clip",
                vec![frames as usize, height as usize, width as usize, 3],
            ),
        ];
        if self.expand_timesteps {
            tensors.push(("the timesteps", vec![2, self.tokens([1, z, f, h, w])]));
        }
        tensors
    }

    fn prompt_text(&self, prompt: &str) -> String {
        wan_prompt::clean(prompt)
    }

    fn load_text_encoder(
        &self,
        dir: &Path,
        options: &RuntimeOptions,
        placement: &mut Placement,
    ) -> Result<Box<dyn TextEncoder>, EngineError> {
        let session = placement.add(load_session(dir, TEXT_ENCODER_FILE, options)?);
        let t = Check {
            dir,
            rel: TEXT_ENCODER_FILE,
            session: &session,
        };
        let tokens = self.shapes.tokens;
        let ids_i32 = t.ids("input_ids", tokens, "the text length")?;
        let mask_i32 = t.ids("attention_mask", tokens, "the text length")?;
        let output =
            t.embedding_output(self.shapes.text_hidden, "text_encoder/config.json d_model")?;
        Ok(Box::new(Umt5 {
            dir: dir.to_path_buf(),
            session,
            ids_i32,
            mask_i32,
            output,
            tokens,
            hidden: self.shapes.text_hidden,
        }))
    }

    fn has_encoder(&self) -> bool {
        self.has_encoder
    }

    fn load_encoder(
        &self,
        dir: &Path,
        options: &RuntimeOptions,
        placement: &mut Placement,
    ) -> Result<Box<dyn Encoder>, EngineError> {
        let first = placement.add(load_session(dir, VAE_ENCODER_FIRST_FILE, options)?);
        let step = placement.add(load_session(dir, VAE_ENCODER_STEP_FILE, options)?);
        Ok(Box::new(CausalEncoder::inspect(
            dir,
            [first, step],
            placement.memory(options),
            self.shapes.latent_channels,
            self.shapes.vae_factor as usize,
            self.norm.clone(),
        )?))
    }

    /// Wan2.2 TI2V: clean first-frame tokens get timestep 0, as `WanImageToVideoPipeline` runs it.
    fn conditions_on_clean_frames(&self) -> bool {
        self.expand_timesteps
    }

    fn load_denoiser(
        &self,
        dir: &Path,
        options: &RuntimeOptions,
        placement: &mut Placement,
    ) -> Result<Box<dyn Denoiser>, EngineError> {
        let transformer = placement.add(load_session(dir, TRANSFORMER_FILE, options)?);
        let io = TransformerIo::inspect(dir, &transformer, &self.shapes, self.expand_timesteps)?;
        let first = placement.add(load_session(dir, VAE_FIRST_FILE, options)?);
        let step = placement.add(load_session(dir, VAE_STEP_FILE, options)?);
        let vae = CausalVae::inspect(
            dir,
            [first, step],
            placement.memory(options),
            self.shapes.latent_channels,
            self.norm.clone(),
        )?;
        Ok(Box::new(WanDenoiser {
            dir: dir.to_path_buf(),
            transformer,
            io,
            vae,
            patch: self.patch,
            tokens: self.shapes.tokens,
            hidden: self.shapes.text_hidden,
            contexts: ContextBindings::default(),
        }))
    }
}

/// UMT5: ids and attention mask in; the rows at and after the prompt's length are zeroed on the way out,
/// as the pipeline does (the transformer attends to all rows, so zeros, not a mask, keep padding silent).
struct Umt5 {
    dir: PathBuf,
    session: Session,
    ids_i32: bool,
    mask_i32: bool,
    output: String,
    tokens: usize,
    hidden: usize,
}

impl TextEncoder for Umt5 {
    fn encode(
        &mut self,
        clock: &mut GenerationClock,
        tokens: &Tokens,
    ) -> Result<Vec<f32>, EngineError> {
        let fail = inference(TEXT_ENCODER_FILE);
        let mask: Vec<i64> = (0..self.tokens).map(|i| (i < tokens.real) as i64).collect();
        let ids = ids_tensor(self.ids_i32, 1, tokens.ids.clone()).map_err(&fail)?;
        let mask = ids_tensor(self.mask_i32, 1, mask).map_err(&fail)?;
        let session = &mut self.session;
        let outputs = clock
            .onnx(|| session.run(ort::inputs!["input_ids" => ids, "attention_mask" => mask]))
            .map_err(&fail)?;
        let shape = [1, self.tokens, self.hidden];
        let mut data =
            checked_output(&self.dir, &outputs, TEXT_ENCODER_FILE, &self.output, &shape)?;
        data[tokens.real.min(self.tokens) * self.hidden..].fill(0.0);
        Ok(data)
    }
}

/// How the transformer takes its timestep.
#[derive(Debug, Clone, Copy)]
enum TimestepInput {
    /// Wan2.1: one per sample ([B]) or a scalar.
    PerSample(TimestepForm),
    /// Wan2.2 TI2V (`expand_timesteps`): one per token ([B, tokens]).
    PerToken(Float),
}

#[derive(Debug, Clone)]
struct TransformerIo {
    hidden: Float,
    timestep: TimestepInput,
    context: Float,
    output: String,
}

impl TransformerIo {
    fn inspect(
        dir: &Path,
        session: &Session,
        shapes: &Shapes,
        expand: bool,
    ) -> Result<Self, EngineError> {
        let c = Check {
            dir,
            rel: TRANSFORMER_FILE,
            session,
        };
        let layout = "[batch, channels, frames, height, width]";
        let z = shapes.latent_channels;
        let hidden = c.float_input(
            "hidden_states",
            5,
            layout,
            1,
            z,
            "transformer/config.json in_channels",
        )?;
        let (ty, shape) = c.input("timestep")?;
        let timestep = if expand {
            c.rank(
                "input `timestep`",
                &shape,
                2,
                "[batch, tokens], as model_index.json `expand_timesteps` says",
            )?;
            TimestepInput::PerToken(c.float("input `timestep`", ty)?)
        } else {
            if shape.len() > 1 {
                return Err(c.err(format!(
                    "input `timestep` has rank {}, expected 0 or 1 (model_index.json has no `expand_timesteps`)",
                    shape.len()
                )));
            }
            TimestepInput::PerSample(TimestepForm {
                batched: shape.len() == 1,
                ty: c.timestep_type(ty)?,
            })
        };
        let what = "input `encoder_hidden_states`";
        let context = c.float_input(
            "encoder_hidden_states",
            3,
            "[batch, tokens, hidden]",
            2,
            shapes.text_hidden,
            "text_encoder/config.json d_model",
        )?;
        let (_, ctx_shape) = c.input("encoder_hidden_states")?;
        c.dim(what, &ctx_shape, 1, shapes.tokens, "the text length")?;
        let output = c.float_output(
            "out_sample",
            5,
            layout,
            1,
            z,
            "transformer/config.json out_channels",
        )?;
        Ok(Self {
            hidden,
            timestep,
            context,
            output,
        })
    }
}

struct WanDenoiser {
    dir: PathBuf,
    transformer: Session,
    io: TransformerIo,
    vae: CausalVae,
    patch: usize,
    tokens: usize,
    hidden: usize,
    contexts: ContextBindings,
}

impl WanDenoiser {
    fn timestep(&self, step: &Step<'_>) -> ort::Result<DynValue> {
        match self.io.timestep {
            TimestepInput::PerSample(form) => timestep_tensor(form, step.batch, step.timestep),
            TimestepInput::PerToken(kind) => {
                let [_, _, f, h, w] = step.shape;
                let per_frame = (h / self.patch) * (w / self.patch);
                // Tokens run frame by frame, so the clean frames' tokens come first.
                let clean = step.clean_frames.min(f) * per_frame;
                let sample: Vec<f32> = (0..f * per_frame)
                    .map(|i| if i < clean { 0.0 } else { step.timestep as f32 })
                    .collect();
                float_tensor(
                    kind,
                    &[step.batch, f * per_frame],
                    &sample.repeat(step.batch),
                )
            }
        }
    }
}

impl Denoiser for WanDenoiser {
    fn bind_contexts(&mut self, contexts: &[Vec<f32>], batch: usize) -> Result<(), EngineError> {
        let shape = [batch, self.tokens, self.hidden];
        let (input, output) = ("encoder_hidden_states", &self.io.output);
        self.contexts
            .bind(
                &self.transformer,
                input,
                output,
                self.io.context,
                shape,
                contexts,
            )
            .map_err(inference(TRANSFORMER_FILE))
    }

    fn release_contexts(&mut self) {
        self.contexts.clear();
    }

    fn predict(
        &mut self,
        clock: &mut GenerationClock,
        step: &Step<'_>,
    ) -> Result<Vec<f32>, EngineError> {
        let fail = inference(TRANSFORMER_FILE);
        let (hidden, shape) = step.batched_latents();
        let inputs = [
            (
                "hidden_states",
                float_tensor(self.io.hidden, &shape, &hidden).map_err(&fail)?,
            ),
            ("timestep", self.timestep(step).map_err(&fail)?),
        ];
        let (transformer, contexts) = (&mut self.transformer, &mut self.contexts);
        let outputs = clock
            .onnx(|| contexts.run(transformer, step.context, inputs))
            .map_err(&fail)?;
        checked_output(
            &self.dir,
            &outputs,
            TRANSFORMER_FILE,
            &self.io.output,
            &shape,
        )
    }

    fn decode(
        &mut self,
        clock: &mut GenerationClock,
        latents: &[f32],
        shape: [usize; 5],
        width: u32,
        height: u32,
    ) -> Result<Vec<Vec<f32>>, EngineError> {
        self.vae.decode(clock, latents, shape, width, height)
    }

    fn frames(&self, latent_frames: usize) -> usize {
        1 + TEMPORAL as usize * latent_frames.saturating_sub(1)
    }
}
