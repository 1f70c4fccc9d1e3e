//! Wan's causal 3D VAE, decoded one latent frame at a time as diffusers' `AutoencoderKLWan._decode` does:
//! `first.onnx` turns latent frame 0 into 1 frame, `step.onnx` each later latent frame into 4, and every
//! run hands the causal convolutions' last input frames (`cache_out_i`) to the next (`cache_in_i`). Any
//! 4k+1 frame count decodes with one latent frame, its caches and the output frames in memory. The caches
//! stay ONNX Runtime values from run to run (never copied out). The encoder (`vae_encoder/first.onnx`,
//! `step.onnx`) runs the same way in the other direction: frame 0, then 4 frames per latent frame.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ort::session::Session;
use ort::value::{DynValue, TensorElementType};

use super::{planes_to_rgb, rgb_to_planes, Encoder};
use crate::binding::{cpu_memory, DeviceMemory};
use crate::error::EngineError;
use crate::io::{checked_output, float_tensor, inference, Check, Float};
use crate::model::finite;
use crate::stats::GenerationClock;

pub const VAE_FIRST_FILE: &str = "vae_decoder/first.onnx";
pub const VAE_STEP_FILE: &str = "vae_decoder/step.onnx";
pub const VAE_ENCODER_FIRST_FILE: &str = "vae_encoder/first.onnx";
pub const VAE_ENCODER_STEP_FILE: &str = "vae_encoder/step.onnx";

/// Most cache tensors a decoder graph may pass on (the 2.1 decoder has about 32).
const MAX_CACHES: usize = 4096;

/// A declared tensor: element type and shape (−1 for dynamic axes).
type Declared = (TensorElementType, Vec<i64>);

/// Two graphs run in turn over a clip, handing the causal convolutions' caches on: `first` for chunk 0,
/// `step` for every later chunk. The decoder and the encoder are both this.
struct CausalGraphs {
    dir: PathBuf,
    first: Session,
    step: Session,
    files: [&'static str; 2],
    /// Input element types of `first` and `step`.
    kinds: [Float; 2],
    input: &'static str,
    /// Output names as the graphs spell them.
    outputs: [String; 2],
    caches: usize,
    /// Where the caches stay between runs.
    caches_on: DeviceMemory,
}

/// One graph input and output: name, channel count and where that count comes from, for messages.
struct Port {
    name: &'static str,
    channels: usize,
    source: &'static str,
}

impl CausalGraphs {
    /// Checks both graphs: `input` and `output` [1, channels, frames, h, w] and caches `cache_out_i` of each
    /// that fit `step`'s `cache_in_i`, for i from 0 to K − 1 (K: the step graph's cache inputs).
    fn inspect(
        dir: &Path,
        files: [&'static str; 2],
        sessions: [Session; 2],
        input: Port,
        output: Port,
        caches_on: DeviceMemory,
    ) -> Result<Self, EngineError> {
        let layout = "[batch, channels, frames, height, width]";
        let [first, step] = sessions;
        let (kinds, outputs, caches);
        {
            let f = Check {
                dir,
                rel: files[0],
                session: &first,
            };
            let s = Check {
                dir,
                rel: files[1],
                session: &step,
            };
            let float_in =
                |c: &Check| c.float_input(input.name, 5, layout, 1, input.channels, input.source);
            let float_out = |c: &Check| {
                c.float_output(output.name, 5, layout, 1, output.channels, output.source)
            };
            kinds = [float_in(&f)?, float_in(&s)?];
            outputs = [float_out(&f)?, float_out(&s)?];
            if f.session.inputs().len() != 1 {
                return Err(f.err(format!("must have one input, `{}`", input.name)));
            }
            let k = s.session.inputs().len() - 1;
            if k > MAX_CACHES {
                return Err(s.err(format!("has {k} cache inputs, more than {MAX_CACHES}")));
            }
            for (c, graph) in [(&f, &first), (&s, &step)] {
                if graph.outputs().len() != k + 1 {
                    return Err(c.err(format!(
                        "has {} outputs, expected `{}` and the {k} caches {} takes",
                        graph.outputs().len(),
                        output.name,
                        files[1]
                    )));
                }
            }
            for i in 0..k {
                let cache = declared(&s, &cache_in(i), false)?;
                for c in [&f, &s] {
                    let out = declared(c, &cache_out(i), true)?;
                    same(c, files[1], &cache_out(i), &out, &cache_in(i), &cache)?;
                }
            }
            caches = k;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            first,
            step,
            files,
            kinds,
            input: input.name,
            outputs,
            caches,
            caches_on,
        })
    }

    /// Runs chunk `j` (`first` for 0, `step` after it, with `caches` from the previous run, replaced by
    /// this run's): `input` of `shape` in, the output of `expected` shape out, checked finite.
    fn run(
        &mut self,
        clock: &mut GenerationClock,
        j: usize,
        caches: &mut Vec<DynValue>,
        input: &[f32],
        shape: [usize; 5],
        expected: [usize; 5],
    ) -> Result<Vec<f32>, EngineError> {
        let g = (j > 0) as usize;
        let (file, session) = if j == 0 {
            (self.files[0], &mut self.first)
        } else {
            (self.files[1], &mut self.step)
        };
        let fail = inference(file);
        // A binding per run: a bound output's buffer is reused by the binding's next run, and these
        // caches are still the next run's inputs.
        let mut binding = session.create_binding().map_err(&fail)?;
        let value = float_tensor(self.kinds[g], &shape, input).map_err(&fail)?;
        binding.bind_input(self.input, &value).map_err(&fail)?;
        for (i, cache) in caches.drain(..).enumerate() {
            binding.bind_input(cache_in(i), &cache).map_err(&fail)?;
        }
        let output = &self.outputs[g];
        binding
            .bind_output_to_device(output, &cpu_memory().map_err(&fail)?)
            .map_err(&fail)?;
        let caches_on = self.caches_on.info().map_err(&fail)?;
        for i in 0..self.caches {
            binding
                .bind_output_to_device(cache_out(i), &caches_on)
                .map_err(&fail)?;
        }
        let mut outputs = clock
            .onnx(|| session.run_binding(&binding))
            .map_err(&fail)?;
        let data = checked_output(&self.dir, &outputs, file, &self.outputs[g], &expected)?;
        finite(&data, || file.to_string())?;
        for i in 0..self.caches {
            let value = outputs.remove(cache_out(i)).ok_or_else(|| {
                EngineError::package(&self.dir, format!("{file} returned no `{}`", cache_out(i)))
            })?;
            caches.push(value);
        }
        Ok(data)
    }
}

/// The latent normalisation of a Wan VAE: per channel mean and 1/std as f32, the way the pipelines build
/// them (decode `latents / (1/std) + mean`, encode `(mean_posterior − mean) · (1/std)`).
#[derive(Debug, Clone)]
pub(super) struct Normalisation {
    pub mean: Vec<f32>,
    pub inv_std: Vec<f32>,
}

impl Normalisation {
    pub fn new(mean: &[f32], std: &[f32]) -> Self {
        Self {
            mean: mean.to_vec(),
            inv_std: std.iter().map(|&s| 1.0 / s).collect(),
        }
    }
}

pub(super) struct CausalVae {
    graphs: CausalGraphs,
    norm: Normalisation,
}

fn cache_in(i: usize) -> String {
    format!("cache_in_{i}")
}

fn cache_out(i: usize) -> String {
    format!("cache_out_{i}")
}

fn declared(c: &Check, name: &str, output: bool) -> Result<Declared, EngineError> {
    if output {
        let (got, ty, shape) = c.output(name)?;
        if got != name {
            return Err(c.err(format!("has no output `{name}`")));
        }
        Ok((ty, shape))
    } else {
        c.input(name)
    }
}

/// Two declared tensors that one run hands to the next must agree on type, rank and every fixed axis.
fn same(
    c: &Check,
    step_file: &str,
    out: &str,
    a: &Declared,
    input: &str,
    b: &Declared,
) -> Result<(), EngineError> {
    let fits = a.0 == b.0
        && a.1.len() == b.1.len()
        && a.1
            .iter()
            .zip(&b.1)
            .all(|(&x, &y)| x < 0 || y < 0 || x == y);
    if fits {
        Ok(())
    } else {
        Err(c.err(format!(
            "`{out}` ({:?} {:?}) does not fit {step_file} input `{input}` ({:?} {:?})",
            a.0, a.1, b.0, b.1
        )))
    }
}

impl CausalVae {
    /// Checks both decoder graphs: `latent_sample` z channels in, RGB `sample` out, fitting caches.
    pub fn inspect(
        dir: &Path,
        sessions: [Session; 2],
        caches_on: DeviceMemory,
        z: usize,
        norm: Normalisation,
    ) -> Result<Self, EngineError> {
        let graphs = CausalGraphs::inspect(
            dir,
            [VAE_FIRST_FILE, VAE_STEP_FILE],
            sessions,
            Port {
                name: "latent_sample",
                channels: z,
                source: "vae_decoder/config.json z_dim",
            },
            Port {
                name: "sample",
                channels: 3,
                source: "RGB",
            },
            caches_on,
        )?;
        Ok(Self { graphs, norm })
    }

    /// Latents [1, z, F', h, w] → 1 + 4·(F' − 1) frames of `width` × `height`.
    pub fn decode(
        &mut self,
        clock: &mut GenerationClock,
        latents: &[f32],
        shape: [usize; 5],
        width: u32,
        height: u32,
    ) -> Result<Vec<Vec<f32>>, EngineError> {
        let [_, z, f, h, w] = shape;
        let (width, height) = (width as usize, height as usize);
        let plane = width * height;
        let mut frames = Vec::with_capacity(1 + 4 * f.saturating_sub(1));
        let mut caches: Vec<DynValue> = Vec::new();
        for j in 0..f {
            let mut x = Vec::with_capacity(z * h * w);
            for c in 0..z {
                let start = (c * f + j) * h * w;
                let (inv, mean) = (self.norm.inv_std[c], self.norm.mean[c]);
                x.extend(
                    latents[start..start + h * w]
                        .iter()
                        .map(|&v| v / inv + mean),
                );
            }
            let count = if j == 0 { 1 } else { 4 };
            let expected = [1, 3, count, height, width];
            let data = self
                .graphs
                .run(clock, j, &mut caches, &x, [1, z, 1, h, w], expected)?;
            for k in 0..count {
                frames.push(planes_to_rgb(&data, k * plane, count * plane, plane));
            }
        }
        Ok(frames)
    }
}

/// Wan's causal VAE encoder, run as `AutoencoderKLWan._encode` chunks a clip: frame 0 alone, then 4
/// frames at a time, each run giving one latent frame (the posterior mean), normalised as the pipelines do.
pub(super) struct CausalEncoder {
    graphs: CausalGraphs,
    norm: Normalisation,
    z: usize,
    factor: usize,
}

impl CausalEncoder {
    /// Checks both encoder graphs: RGB `sample` in, `latent_mean` z channels out, fitting caches.
    pub fn inspect(
        dir: &Path,
        sessions: [Session; 2],
        caches_on: DeviceMemory,
        z: usize,
        factor: usize,
        norm: Normalisation,
    ) -> Result<Self, EngineError> {
        let graphs = CausalGraphs::inspect(
            dir,
            [VAE_ENCODER_FIRST_FILE, VAE_ENCODER_STEP_FILE],
            sessions,
            Port {
                name: "sample",
                channels: 3,
                source: "RGB",
            },
            Port {
                name: "latent_mean",
                channels: z,
                source: "vae_decoder/config.json z_dim",
            },
            caches_on,
        )?;
        Ok(Self {
            graphs,
            norm,
            z,
            factor,
        })
    }
}

impl Encoder for CausalEncoder {
    /// 1 + 4k frames of `width` × `height` → normalised latents [1, z, k + 1, h, w].
    fn encode(
        &mut self,
        clock: &mut GenerationClock,
        frames: &[Arc<[f32]>],
        width: u32,
        height: u32,
    ) -> Result<Vec<f32>, EngineError> {
        let (width, height) = (width as usize, height as usize);
        let (h, w, z) = (height / self.factor, width / self.factor, self.z);
        let latent_frames = 1 + frames.len().saturating_sub(1) / 4;
        let mut out = vec![0.0f32; z * latent_frames * h * w];
        let mut caches: Vec<DynValue> = Vec::new();
        for j in 0..latent_frames {
            let chunk = if j == 0 {
                &frames[..1]
            } else {
                &frames[1 + 4 * (j - 1)..1 + 4 * j]
            };
            let count = chunk.len();
            let x = rgb_to_planes(chunk, width * height, true);
            let shape = [1, 3, count, height, width];
            let data = self
                .graphs
                .run(clock, j, &mut caches, &x, shape, [1, z, 1, h, w])?;
            for c in 0..z {
                let (inv, mean) = (self.norm.inv_std[c], self.norm.mean[c]);
                let dst = (c * latent_frames + j) * h * w;
                for (o, &v) in out[dst..dst + h * w].iter_mut().zip(&data[c * h * w..]) {
                    *o = (v - mean) * inv;
                }
            }
        }
        Ok(out)
    }
}
