//! Wan's causal 3D VAE, decoded one latent frame at a time as diffusers' `AutoencoderKLWan._decode` does:
//! `first.onnx` turns latent frame 0 into 1 frame, `step.onnx` each later latent frame into 4, and every
//! run hands the causal convolutions' last input frames (`cache_out_i`) to the next (`cache_in_i`). Any
//! 4k+1 frame count decodes with one latent frame, its caches and the output frames in memory. The caches
//! stay ONNX Runtime values from run to run (never copied out).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, TensorElementType};

use super::planes_to_rgb;
use crate::error::EngineError;
use crate::io::{checked_output, float_tensor, inference, Check, Float};
use crate::model::finite;
use crate::stats::GenerationClock;

pub const VAE_FIRST_FILE: &str = "vae_decoder/first.onnx";
pub const VAE_STEP_FILE: &str = "vae_decoder/step.onnx";

/// Most cache tensors a decoder graph may pass on (the 2.1 decoder has about 32).
const MAX_CACHES: usize = 4096;

/// A declared tensor: element type and shape (−1 for dynamic axes).
type Declared = (TensorElementType, Vec<i64>);

pub(super) struct CausalVae {
    dir: PathBuf,
    first: Session,
    step: Session,
    latent_first: Float,
    latent_step: Float,
    sample_first: String,
    sample_step: String,
    caches: usize,
    latents_mean: Vec<f32>,
    /// 1/std as f32, the way the pipeline builds it (`latents / (1/std) + mean`).
    inv_std: Vec<f32>,
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
fn same(c: &Check, out: &str, a: &Declared, input: &str, b: &Declared) -> Result<(), EngineError> {
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
            "`{out}` ({:?} {:?}) does not fit {VAE_STEP_FILE} input `{input}` ({:?} {:?})",
            a.0, a.1, b.0, b.1
        )))
    }
}

impl CausalVae {
    /// Checks both graphs: the latent input, the RGB `sample` output and caches `cache_out_i` of each that
    /// fit `step.onnx`'s `cache_in_i`, for i from 0 to K − 1 (K: the step graph's cache inputs).
    pub fn inspect(
        dir: &Path,
        first: Session,
        step: Session,
        z: usize,
        latents_mean: &[f32],
        latents_std: &[f32],
    ) -> Result<Self, EngineError> {
        let layout = "[batch, channels, frames, height, width]";
        let (latent_first, sample_first, latent_step, sample_step, caches);
        {
            let f = Check {
                dir,
                rel: VAE_FIRST_FILE,
                session: &first,
            };
            let s = Check {
                dir,
                rel: VAE_STEP_FILE,
                session: &step,
            };
            let source = "vae_decoder/config.json z_dim";
            latent_first = f.float_input("latent_sample", 5, layout, 1, z, source)?;
            latent_step = s.float_input("latent_sample", 5, layout, 1, z, source)?;
            sample_first = f.float_output("sample", 5, layout, 1, 3, "RGB")?;
            sample_step = s.float_output("sample", 5, layout, 1, 3, "RGB")?;
            if f.session.inputs().len() != 1 {
                return Err(f.err("must have one input, `latent_sample`".into()));
            }
            let k = s.session.inputs().len() - 1;
            if k > MAX_CACHES {
                return Err(s.err(format!("has {k} cache inputs, more than {MAX_CACHES}")));
            }
            for (c, graph) in [(&f, &first), (&s, &step)] {
                if graph.outputs().len() != k + 1 {
                    return Err(c.err(format!(
                        "has {} outputs, expected `sample` and the {k} caches {VAE_STEP_FILE} takes",
                        graph.outputs().len()
                    )));
                }
            }
            for i in 0..k {
                let input = declared(&s, &cache_in(i), false)?;
                for c in [&f, &s] {
                    let out = declared(c, &cache_out(i), true)?;
                    same(c, &cache_out(i), &out, &cache_in(i), &input)?;
                }
            }
            caches = k;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            first,
            step,
            latent_first,
            latent_step,
            sample_first,
            sample_step,
            caches,
            latents_mean: latents_mean.to_vec(),
            inv_std: latents_std.iter().map(|&s| 1.0 / s).collect(),
        })
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
                let (inv, mean) = (self.inv_std[c], self.latents_mean[c]);
                x.extend(
                    latents[start..start + h * w]
                        .iter()
                        .map(|&v| v / inv + mean),
                );
            }
            let (file, session, kind, sample, count) = if j == 0 {
                (
                    VAE_FIRST_FILE,
                    &mut self.first,
                    self.latent_first,
                    &self.sample_first,
                    1,
                )
            } else {
                (
                    VAE_STEP_FILE,
                    &mut self.step,
                    self.latent_step,
                    &self.sample_step,
                    4,
                )
            };
            let fail = inference(file);
            let latent = float_tensor(kind, &[1, z, 1, h, w], &x).map_err(&fail)?;
            let mut inputs: Vec<(Cow<str>, SessionInputValue)> =
                vec![("latent_sample".into(), latent.into())];
            inputs.extend(
                caches
                    .drain(..)
                    .enumerate()
                    .map(|(i, value)| (cache_in(i).into(), value.into())),
            );
            let mut outputs = clock.onnx(|| session.run(inputs)).map_err(&fail)?;
            let data = checked_output(
                &self.dir,
                &outputs,
                file,
                sample,
                &[1, 3, count, height, width],
            )?;
            finite(&data, || file.to_string())?;
            for k in 0..count {
                frames.push(planes_to_rgb(&data, k * plane, count * plane, plane));
            }
            for i in 0..self.caches {
                let value = outputs.remove(cache_out(i)).ok_or_else(|| {
                    EngineError::package(
                        &self.dir,
                        format!("{file} returned no `{}`", cache_out(i)),
                    )
                })?;
                caches.push(value);
            }
        }
        Ok(frames)
    }
}
