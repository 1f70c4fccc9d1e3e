//! The ModelScope family (`TextToVideoSDPipeline`: ModelScope, Zeroscope): a CLIP text encoder, a UNet3D
//! denoiser over latents [B, C, F, h, w] (one latent frame per frame) and a per-frame 2D VAE whose latents are
//! divided by `scaling_factor` first.

use std::path::Path;
use std::sync::Arc;

use ort::session::Session;
use serde_json::{Map, Value};

use super::{
    planes_to_rgb, rgb_to_planes, Denoiser, Encoder, Family, Placement, Step, TextEncoder, Tokens,
};
use crate::binding::ContextBindings;
use crate::error::EngineError;
use crate::io::{
    checked_output, float_tensor, ids_tensor, inference, timestep_tensor, Check, Float,
    TimestepForm,
};
use crate::limits::{MAX_HIDDEN, MAX_LATENT_CHANNELS, MAX_SIDE};
use crate::model::finite;
use crate::package::{Defaults, Reader, Shapes};
use crate::request::Request;
use crate::runtime::{load_session, RuntimeOptions};
use crate::scheduler::SchedulerConfig;
use crate::stats::GenerationClock;
use crate::tokenizer::PromptTokenizer;

/// The ONNX files of a ModelScope package, relative to its folder.
pub const TEXT_ENCODER_FILE: &str = "text_encoder/model.onnx";
pub const UNET_FILE: &str = "unet/model.onnx";
pub const VAE_DECODER_FILE: &str = "vae_decoder/model.onnx";
const FILES: &[&str] = &[TEXT_ENCODER_FILE, UNET_FILE, VAE_DECODER_FILE];
/// Optional: video-to-video and start images need it.
pub const VAE_ENCODER_FILE: &str = "vae_encoder/model.onnx";

/// Frames decoded per VAE run: bounds decoder memory on long clips.
const DECODE_CHUNK: usize = 4;

/// Latents are divided by `scaling_factor` before decoding; outside this range (as f32) they become zeros or
/// infinities, i.e. black or garbage frames. Real VAEs use 0.13 to 1.5.
const SCALING_FACTOR_RANGE: std::ops::RangeInclusive<f32> = 1e-4..=1e4;

#[derive(Debug)]
struct Unet3d {
    shapes: Shapes,
    has_encoder: bool,
    tokenizer: PromptTokenizer,
    /// Width and height without `t2v_defaults`: the UNet's `sample_size` × the VAE factor.
    native: u32,
}

fn positive_u32(v: &Value) -> Option<u32> {
    v.as_u64()
        .filter(|&n| n > 0 && n <= u32::MAX as u64)
        .map(|n| n as u32)
}

/// Checks the package's files and configs against each other and the engine's limits.
pub(super) fn open(
    r: &Reader,
    _index: &Map<String, Value>,
) -> Result<Box<dyn Family>, EngineError> {
    for rel in FILES {
        if !r.dir.join(rel).is_file() {
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
    let tokenizer = r.tokenizer(PromptTokenizer::load(&r.dir.join("tokenizer"), positions))?;

    let sample = match unet.get("sample_size") {
        Some(Value::Array(a)) => a.first().and_then(positive_u32),
        Some(v) => positive_u32(v),
        None => None,
    }
    .unwrap_or(32);
    let pixels = (u64::from(sample) * u64::from(vae_factor)).min(u64::from(MAX_SIDE)) as u32;
    let native = pixels.max(size_multiple) / size_multiple * size_multiple;
    let shapes = Shapes {
        text_hidden,
        tokens: tokenizer.length(),
        latent_channels: in_ch,
        vae_factor,
        size_multiple,
        scaling_factor,
    };
    Ok(Box::new(Unet3d {
        shapes,
        has_encoder: r.dir.join(VAE_ENCODER_FILE).is_file(),
        tokenizer,
        native,
    }))
}

impl Family for Unet3d {
    fn name(&self) -> &'static str {
        "modelscope"
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

    fn defaults(&self, scheduler: &SchedulerConfig) -> Defaults {
        Defaults {
            width: self.native,
            height: self.native,
            frames: 16,
            max_frames: 64,
            fps: 8.0,
            steps: 25,
            guidance: 9.0,
            scheduler: scheduler.default_kind(),
        }
    }

    fn latent_shape(&self, r: &Request) -> [usize; 5] {
        let s = &self.shapes;
        let f = s.vae_factor;
        [
            1,
            s.latent_channels,
            r.frames as usize,
            (r.height / f) as usize,
            (r.width / f) as usize,
        ]
    }

    /// The UNet input (two copies of the latents under guidance), the text context and the decoded clip.
    fn tensors(&self, width: u32, height: u32, frames: u32) -> Vec<(&'static str, Vec<usize>)> {
        let s = &self.shapes;
        let (f, frames) = (s.vae_factor, frames as usize);
        let unet = vec![
            2,
            s.latent_channels,
            frames,
            (height / f) as usize,
            (width / f) as usize,
        ];
        vec![
            ("the UNet input", unet),
            ("the text context", vec![2, s.tokens, s.text_hidden]),
            (
                "the decoded clip",
                vec![frames, height as usize, width as usize, 3],
            ),
        ]
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
        let ids_i32 = t.ids("input_ids", self.shapes.tokens, "the tokenizer")?;
        let output = t.embedding_output(
            self.shapes.text_hidden,
            "text_encoder/config.json hidden_size",
        )?;
        Ok(Box::new(ClipText {
            dir: dir.to_path_buf(),
            session,
            ids_i32,
            output,
            shape: [1, self.shapes.tokens, self.shapes.text_hidden],
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
        let session = placement.add(load_session(dir, VAE_ENCODER_FILE, options)?);
        let c = Check {
            dir,
            rel: VAE_ENCODER_FILE,
            session: &session,
        };
        let layout = "[frames, channels, height, width]";
        let input = c.float_input("sample", 4, layout, 1, 3, "RGB")?;
        let channels = self.shapes.latent_channels;
        let source = "vae_decoder/config.json latent_channels";
        let output = c.float_output("latent_mean", 4, layout, 1, channels, source)?;
        Ok(Box::new(FrameEncoder {
            dir: dir.to_path_buf(),
            session,
            input,
            output,
            channels,
            factor: self.shapes.vae_factor as usize,
            scaling_factor: self.shapes.scaling_factor,
        }))
    }

    fn load_denoiser(
        &self,
        dir: &Path,
        options: &RuntimeOptions,
        placement: &mut Placement,
    ) -> Result<Box<dyn Denoiser>, EngineError> {
        let unet = placement.add(load_session(dir, UNET_FILE, options)?);
        let vae = placement.add(load_session(dir, VAE_DECODER_FILE, options)?);
        let io = UnetIo::inspect(dir, &self.shapes, &unet, &vae)?;
        Ok(Box::new(UnetVae {
            dir: dir.to_path_buf(),
            unet,
            vae,
            io,
            tokens: self.shapes.tokens,
            hidden: self.shapes.text_hidden,
            scaling_factor: self.shapes.scaling_factor,
            contexts: ContextBindings::default(),
        }))
    }
}

struct ClipText {
    dir: std::path::PathBuf,
    session: Session,
    ids_i32: bool,
    output: String,
    shape: [usize; 3],
}

impl TextEncoder for ClipText {
    fn encode(
        &mut self,
        clock: &mut GenerationClock,
        tokens: &Tokens,
    ) -> Result<Vec<f32>, EngineError> {
        let fail = inference(TEXT_ENCODER_FILE);
        let input = ids_tensor(self.ids_i32, 1, tokens.ids.clone()).map_err(&fail)?;
        let session = &mut self.session;
        let outputs = clock
            .onnx(|| session.run(ort::inputs!["input_ids" => input]))
            .map_err(&fail)?;
        checked_output(
            &self.dir,
            &outputs,
            TEXT_ENCODER_FILE,
            &self.output,
            &self.shape,
        )
    }
}

/// The per-frame VAE encoder: the posterior mean of each frame, times the scaling factor.
struct FrameEncoder {
    dir: std::path::PathBuf,
    session: Session,
    input: Float,
    output: String,
    channels: usize,
    factor: usize,
    scaling_factor: f32,
}

impl Encoder for FrameEncoder {
    fn encode(
        &mut self,
        clock: &mut GenerationClock,
        frames: &[Arc<[f32]>],
        width: u32,
        height: u32,
    ) -> Result<Vec<f32>, EngineError> {
        let fail = inference(VAE_ENCODER_FILE);
        let (width, height) = (width as usize, height as usize);
        let (c, f) = (self.channels, frames.len());
        let (h, w) = (height / self.factor, width / self.factor);
        let mut latents = vec![0.0f32; c * f * h * w];
        for first in (0..f).step_by(DECODE_CHUNK) {
            let chunk = &frames[first..f.min(first + DECODE_CHUNK)];
            let count = chunk.len();
            let planes = rgb_to_planes(chunk, width * height, false);
            let input =
                float_tensor(self.input, &[count, 3, height, width], &planes).map_err(&fail)?;
            let session = &mut self.session;
            let outputs = clock
                .onnx(|| session.run(ort::inputs!["sample" => input]))
                .map_err(&fail)?;
            let expected = [count, c, h, w];
            let data = checked_output(
                &self.dir,
                &outputs,
                VAE_ENCODER_FILE,
                &self.output,
                &expected,
            )?;
            finite(&data, || VAE_ENCODER_FILE.to_string())?;
            for k in 0..count {
                for ch in 0..c {
                    let src = (k * c + ch) * h * w;
                    let dst = (ch * f + first + k) * h * w;
                    for (o, &v) in latents[dst..dst + h * w]
                        .iter_mut()
                        .zip(&data[src..src + h * w])
                    {
                        *o = v * self.scaling_factor;
                    }
                }
            }
        }
        Ok(latents)
    }
}

/// The UNet's and VAE's I/O, read from their sessions.
#[derive(Debug, Clone)]
struct UnetIo {
    sample: Float,
    timestep: TimestepForm,
    context: Float,
    unet_output: String,
    latent: Float,
    vae_output: String,
}

impl UnetIo {
    fn inspect(
        dir: &Path,
        shapes: &Shapes,
        unet: &Session,
        vae: &Session,
    ) -> Result<Self, EngineError> {
        let u = Check {
            dir,
            rel: UNET_FILE,
            session: unet,
        };
        let layout = "[batch, channels, frames, height, width]";
        let sample = u.float_input(
            "sample",
            5,
            layout,
            1,
            shapes.latent_channels,
            "unet/config.json in_channels",
        )?;
        let (ts_ty, ts_shape) = u.input("timestep")?;
        if ts_shape.len() > 1 {
            return Err(u.err(format!(
                "input `timestep` has rank {}, expected 0 or 1",
                ts_shape.len()
            )));
        }
        let timestep = TimestepForm {
            batched: ts_shape.len() == 1,
            ty: u.timestep_type(ts_ty)?,
        };
        let context = u.float_input(
            "encoder_hidden_states",
            3,
            "[batch, tokens, hidden]",
            2,
            shapes.text_hidden,
            "text_encoder/config.json hidden_size",
        )?;
        let unet_output = u.float_output(
            "out_sample",
            5,
            layout,
            1,
            shapes.latent_channels,
            "unet/config.json out_channels",
        )?;

        let v = Check {
            dir,
            rel: VAE_DECODER_FILE,
            session: vae,
        };
        let latent = v.float_input(
            "latent_sample",
            4,
            "[frames, channels, height, width]",
            1,
            shapes.latent_channels,
            "vae_decoder/config.json latent_channels",
        )?;
        let vae_output = v.float_output("sample", 4, "[frames, 3, height, width]", 1, 3, "RGB")?;
        Ok(Self {
            sample,
            timestep,
            context,
            unet_output,
            latent,
            vae_output,
        })
    }
}

struct UnetVae {
    dir: std::path::PathBuf,
    unet: Session,
    vae: Session,
    io: UnetIo,
    tokens: usize,
    hidden: usize,
    scaling_factor: f32,
    contexts: ContextBindings,
}

impl Denoiser for UnetVae {
    fn bind_contexts(&mut self, contexts: &[Vec<f32>], batch: usize) -> Result<(), EngineError> {
        let shape = [batch, self.tokens, self.hidden];
        let (input, output) = ("encoder_hidden_states", &self.io.unet_output);
        self.contexts
            .bind(&self.unet, input, output, self.io.context, shape, contexts)
            .map_err(inference(UNET_FILE))
    }

    fn release_contexts(&mut self) {
        self.contexts.clear();
    }

    /// One UNet run over one copy of the scaled latents per prompt.
    fn predict(
        &mut self,
        clock: &mut GenerationClock,
        step: &Step<'_>,
    ) -> Result<Vec<f32>, EngineError> {
        let fail = inference(UNET_FILE);
        let batch = step.batch;
        let (sample, sample_shape) = step.batched_latents();
        let inputs = [
            (
                "sample",
                float_tensor(self.io.sample, &sample_shape, &sample).map_err(&fail)?,
            ),
            (
                "timestep",
                timestep_tensor(self.io.timestep, batch, step.timestep).map_err(&fail)?,
            ),
        ];
        let (unet, contexts) = (&mut self.unet, &mut self.contexts);
        let outputs = clock
            .onnx(|| contexts.run(unet, step.context, inputs))
            .map_err(&fail)?;
        checked_output(
            &self.dir,
            &outputs,
            UNET_FILE,
            &self.io.unet_output,
            &sample_shape,
        )
    }

    /// Divides by the scaling factor, folds frames into the batch, decodes in chunks and maps [-1, 1] to
    /// [0, 1] as interleaved RGB.
    fn decode(
        &mut self,
        clock: &mut GenerationClock,
        latents: &[f32],
        shape: [usize; 5],
        width: u32,
        height: u32,
    ) -> Result<Vec<Vec<f32>>, EngineError> {
        let fail = inference(VAE_DECODER_FILE);
        let [_, c, f, h, w] = shape;
        let scale = (1.0 / self.scaling_factor as f64) as f32;
        let (width, height) = (width as usize, height as usize);
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
            let vae = &mut self.vae;
            let outputs = clock
                .onnx(|| vae.run(ort::inputs!["latent_sample" => latent]))
                .map_err(&fail)?;
            let expected = [count, 3, height, width];
            let data = checked_output(
                &self.dir,
                &outputs,
                VAE_DECODER_FILE,
                &self.io.vae_output,
                &expected,
            )?;
            finite(&data, || VAE_DECODER_FILE.to_string())?;
            let plane = height * width;
            for k in 0..count {
                frames.push(planes_to_rgb(&data, k * 3 * plane, plane, plane));
            }
        }
        Ok(frames)
    }

    fn frames(&self, latent_frames: usize) -> usize {
        latent_frames
    }
}
