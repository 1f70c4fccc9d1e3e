//! Tensor I/O adapted to what each ONNX model declares: f32 or f16 floats, i64 or i32 token ids, and the
//! UNet timestep as a scalar or a per-batch vector of f32, f16 or i64. The declared names, ranks and fixed sizes
//! are checked against the package's configs right after loading, so a mismatch names the file and tensor.

use std::path::Path;

use half::f16;
use ort::session::Session;
use ort::value::{DynValue, Tensor, TensorElementType, ValueType};

use crate::error::EngineError;
use crate::package::{Shapes, TEXT_ENCODER_FILE, UNET_FILE, VAE_DECODER_FILE};

/// The element type of a floating-point tensor a model takes or returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Float {
    F32,
    F16,
}

/// How the UNet wants its timestep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimestepForm {
    /// `true`: one value per batch entry ([B]); `false`: a scalar.
    pub batched: bool,
    pub ty: TensorElementType,
}

/// The I/O contract of the three models of a package, read from their sessions.
#[derive(Debug, Clone)]
pub(crate) struct PackageIo {
    pub ids_i32: bool,
    pub text_output: String,
    pub sample: Float,
    pub timestep: TimestepForm,
    pub context: Float,
    pub unet_output: String,
    pub latent: Float,
    pub vae_output: String,
}

struct Check<'a> {
    dir: &'a Path,
    rel: &'static str,
    session: &'a Session,
}

impl Check<'_> {
    fn err(&self, message: String) -> EngineError {
        EngineError::package(self.dir, format!("{}: {message}", self.rel))
    }

    /// The input called `name`, with its element type and declared shape (−1 for dynamic axes).
    fn input(&self, name: &str) -> Result<(TensorElementType, Vec<i64>), EngineError> {
        let names: Vec<_> = self
            .session
            .inputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        let outlet = self
            .session
            .inputs()
            .iter()
            .find(|o| o.name() == name)
            .ok_or_else(|| {
                self.err(format!(
                    "has no input `{name}` (its inputs: {})",
                    names.join(", ")
                ))
            })?;
        self.tensor(outlet.dtype(), &format!("input `{name}`"))
    }

    /// The output called `name`, else the first output.
    fn output(&self, name: &str) -> Result<(String, TensorElementType, Vec<i64>), EngineError> {
        let outlet = self
            .session
            .outputs()
            .iter()
            .find(|o| o.name() == name)
            .or_else(|| self.session.outputs().first())
            .ok_or_else(|| self.err("has no outputs".into()))?;
        let (ty, shape) = self.tensor(outlet.dtype(), &format!("output `{}`", outlet.name()))?;
        Ok((outlet.name().to_string(), ty, shape))
    }

    fn tensor(
        &self,
        dtype: &ValueType,
        what: &str,
    ) -> Result<(TensorElementType, Vec<i64>), EngineError> {
        match dtype {
            ValueType::Tensor { ty, shape, .. } => Ok((*ty, shape.to_vec())),
            other => Err(self.err(format!("{what} is not a tensor ({other:?})"))),
        }
    }

    fn rank(
        &self,
        what: &str,
        shape: &[i64],
        rank: usize,
        layout: &str,
    ) -> Result<(), EngineError> {
        if shape.len() != rank {
            return Err(self.err(format!(
                "{what} has rank {}, expected {rank} ({layout})",
                shape.len()
            )));
        }
        Ok(())
    }

    /// A fixed axis must equal what the configs say; dynamic axes (−1) accept anything.
    fn dim(
        &self,
        what: &str,
        shape: &[i64],
        axis: usize,
        expected: usize,
        source: &str,
    ) -> Result<(), EngineError> {
        let d = shape[axis];
        if d >= 0 && d as usize != expected {
            return Err(self.err(format!(
                "{what} has size {d} on axis {axis}, but {source} says {expected}"
            )));
        }
        Ok(())
    }

    fn float(&self, what: &str, ty: TensorElementType) -> Result<Float, EngineError> {
        match ty {
            TensorElementType::Float32 => Ok(Float::F32),
            TensorElementType::Float16 => Ok(Float::F16),
            other => Err(self.err(format!("{what} is {other:?}, expected float32 or float16"))),
        }
    }
}

impl PackageIo {
    /// Reads and checks the three sessions' declared I/O against the package's shapes.
    pub fn inspect(
        dir: &Path,
        shapes: &Shapes,
        text: &Session,
        unet: &Session,
        vae: &Session,
    ) -> Result<Self, EngineError> {
        let t = Check {
            dir,
            rel: TEXT_ENCODER_FILE,
            session: text,
        };
        let (ids_ty, ids_shape) = t.input("input_ids")?;
        t.rank("input `input_ids`", &ids_shape, 2, "[batch, tokens]")?;
        let ids_i32 = match ids_ty {
            TensorElementType::Int64 => false,
            TensorElementType::Int32 => true,
            other => {
                return Err(t.err(format!(
                    "input `input_ids` is {other:?}, expected int64 or int32"
                )))
            }
        };
        t.dim(
            "input `input_ids`",
            &ids_shape,
            1,
            shapes.tokens,
            "the tokenizer",
        )?;
        let (text_output, text_ty, text_shape) = t.output("last_hidden_state")?;
        let what = format!("output `{text_output}`");
        t.float(&what, text_ty)?;
        t.rank(&what, &text_shape, 3, "[batch, tokens, hidden]")?;
        t.dim(
            &what,
            &text_shape,
            2,
            shapes.text_hidden,
            "text_encoder/config.json hidden_size",
        )?;

        let u = Check {
            dir,
            rel: UNET_FILE,
            session: unet,
        };
        let (sample_ty, sample_shape) = u.input("sample")?;
        let sample = u.float("input `sample`", sample_ty)?;
        u.rank(
            "input `sample`",
            &sample_shape,
            5,
            "[batch, channels, frames, height, width]",
        )?;
        u.dim(
            "input `sample`",
            &sample_shape,
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
        if !matches!(
            ts_ty,
            TensorElementType::Float32 | TensorElementType::Float16 | TensorElementType::Int64
        ) {
            return Err(u.err(format!(
                "input `timestep` is {ts_ty:?}, expected float32, float16 or int64"
            )));
        }
        let timestep = TimestepForm {
            batched: ts_shape.len() == 1,
            ty: ts_ty,
        };
        let (ctx_ty, ctx_shape) = u.input("encoder_hidden_states")?;
        let context = u.float("input `encoder_hidden_states`", ctx_ty)?;
        u.rank(
            "input `encoder_hidden_states`",
            &ctx_shape,
            3,
            "[batch, tokens, hidden]",
        )?;
        u.dim(
            "input `encoder_hidden_states`",
            &ctx_shape,
            2,
            shapes.text_hidden,
            "text_encoder/config.json hidden_size",
        )?;
        let (unet_output, out_ty, out_shape) = u.output("out_sample")?;
        let what = format!("output `{unet_output}`");
        u.float(&what, out_ty)?;
        u.rank(
            &what,
            &out_shape,
            5,
            "[batch, channels, frames, height, width]",
        )?;
        u.dim(
            &what,
            &out_shape,
            1,
            shapes.latent_channels,
            "unet/config.json out_channels",
        )?;

        let v = Check {
            dir,
            rel: VAE_DECODER_FILE,
            session: vae,
        };
        let (lat_ty, lat_shape) = v.input("latent_sample")?;
        let latent = v.float("input `latent_sample`", lat_ty)?;
        v.rank(
            "input `latent_sample`",
            &lat_shape,
            4,
            "[frames, channels, height, width]",
        )?;
        v.dim(
            "input `latent_sample`",
            &lat_shape,
            1,
            shapes.latent_channels,
            "vae_decoder/config.json latent_channels",
        )?;
        let (vae_output, vout_ty, vout_shape) = v.output("sample")?;
        let what = format!("output `{vae_output}`");
        v.float(&what, vout_ty)?;
        v.rank(&what, &vout_shape, 4, "[frames, 3, height, width]")?;
        v.dim(&what, &vout_shape, 1, 3, "RGB")?;

        Ok(Self {
            ids_i32,
            text_output,
            sample,
            timestep,
            context,
            unet_output,
            latent,
            vae_output,
        })
    }
}

/// A float tensor of the given element type from f32 data.
pub(crate) fn float_tensor(kind: Float, shape: &[usize], data: &[f32]) -> ort::Result<DynValue> {
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    Ok(match kind {
        Float::F32 => Tensor::from_array((shape, data.to_vec()))?.into_dyn(),
        Float::F16 => Tensor::from_array((
            shape,
            data.iter().map(|&x| f16::from_f32(x)).collect::<Vec<_>>(),
        ))?
        .into_dyn(),
    })
}

/// Token ids as the text encoder wants them.
pub(crate) fn ids_tensor(i32_ids: bool, batch: usize, ids: Vec<i64>) -> ort::Result<DynValue> {
    let shape = vec![batch as i64, (ids.len() / batch) as i64];
    Ok(if i32_ids {
        Tensor::from_array((shape, ids.into_iter().map(|i| i as i32).collect::<Vec<_>>()))?
            .into_dyn()
    } else {
        Tensor::from_array((shape, ids))?.into_dyn()
    })
}

/// The timestep in the form the UNet declares.
pub(crate) fn timestep_tensor(form: TimestepForm, batch: usize, t: f64) -> ort::Result<DynValue> {
    let shape: Vec<i64> = if form.batched {
        vec![batch as i64]
    } else {
        vec![]
    };
    let n = if form.batched { batch } else { 1 };
    Ok(match form.ty {
        TensorElementType::Int64 => {
            Tensor::from_array((shape, vec![t.round() as i64; n]))?.into_dyn()
        }
        TensorElementType::Float16 => {
            Tensor::from_array((shape, vec![f16::from_f64(t); n]))?.into_dyn()
        }
        _ => Tensor::from_array((shape, vec![t as f32; n]))?.into_dyn(),
    })
}

/// The shape of a float output, to check before [`read_float`] copies it.
pub(crate) fn float_shape(value: &DynValue) -> ort::Result<Vec<usize>> {
    let shape = match value.try_extract_tensor::<f32>() {
        Ok((shape, _)) => shape,
        Err(_) => value.try_extract_tensor::<f16>()?.0,
    };
    Ok(shape.iter().map(|&d| d as usize).collect())
}

/// A float output as f32.
pub(crate) fn read_float(value: &DynValue) -> ort::Result<Vec<f32>> {
    if let Ok((_, data)) = value.try_extract_tensor::<f32>() {
        return Ok(data.to_vec());
    }
    let (_, data) = value.try_extract_tensor::<f16>()?;
    Ok(data.iter().map(|x| x.to_f32()).collect())
}
