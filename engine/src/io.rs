//! Tensor I/O adapted to what each ONNX model declares: f32 or f16 floats, i64 or i32 token ids, and the
//! denoiser timestep as a scalar or a per-batch vector of f32, f16 or i64. Each family checks the declared
//! names, ranks and fixed sizes against its package's configs right after loading ([`Check`]), so a mismatch
//! names the file and tensor.

use std::path::Path;

use half::f16;
use ort::session::Session;
use ort::value::{DynValue, Tensor, TensorElementType, ValueType};

use crate::error::EngineError;

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

/// Reads and checks one session's declared inputs and outputs; messages name the file and tensor.
pub(crate) struct Check<'a> {
    pub dir: &'a Path,
    pub rel: &'static str,
    pub session: &'a Session,
}

impl Check<'_> {
    pub fn err(&self, message: String) -> EngineError {
        EngineError::package(self.dir, format!("{}: {message}", self.rel))
    }

    /// The input called `name`, with its element type and declared shape (−1 for dynamic axes).
    pub fn input(&self, name: &str) -> Result<(TensorElementType, Vec<i64>), EngineError> {
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
    pub fn output(&self, name: &str) -> Result<(String, TensorElementType, Vec<i64>), EngineError> {
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

    pub fn rank(
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
    pub fn dim(
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

    pub fn float(&self, what: &str, ty: TensorElementType) -> Result<Float, EngineError> {
        match ty {
            TensorElementType::Float32 => Ok(Float::F32),
            TensorElementType::Float16 => Ok(Float::F16),
            other => Err(self.err(format!("{what} is {other:?}, expected float32 or float16"))),
        }
    }

    /// A float input of `rank` whose `axis` must be `expected` (as `source` says).
    pub fn float_input(
        &self,
        name: &str,
        rank: usize,
        layout: &str,
        axis: usize,
        expected: usize,
        source: &str,
    ) -> Result<Float, EngineError> {
        let (ty, shape) = self.input(name)?;
        let what = format!("input `{name}`");
        let kind = self.float(&what, ty)?;
        self.rank(&what, &shape, rank, layout)?;
        self.dim(&what, &shape, axis, expected, source)?;
        Ok(kind)
    }

    /// The float output `name` (else the first output) of `rank` whose `axis` must be `expected`; its
    /// real name.
    pub fn float_output(
        &self,
        name: &str,
        rank: usize,
        layout: &str,
        axis: usize,
        expected: usize,
        source: &str,
    ) -> Result<String, EngineError> {
        let (name, ty, shape) = self.output(name)?;
        let what = format!("output `{name}`");
        self.float(&what, ty)?;
        self.rank(&what, &shape, rank, layout)?;
        self.dim(&what, &shape, axis, expected, source)?;
        Ok(name)
    }

    /// A token-id (or mask) input [batch, tokens] of int64 (`false`) or int32 (`true`).
    pub fn ids(&self, name: &str, tokens: usize, source: &str) -> Result<bool, EngineError> {
        let (ty, shape) = self.input(name)?;
        let what = format!("input `{name}`");
        self.rank(&what, &shape, 2, "[batch, tokens]")?;
        let i32_ids = match ty {
            TensorElementType::Int64 => false,
            TensorElementType::Int32 => true,
            other => return Err(self.err(format!("{what} is {other:?}, expected int64 or int32"))),
        };
        self.dim(&what, &shape, 1, tokens, source)?;
        Ok(i32_ids)
    }

    /// The text encoder's `last_hidden_state` (else its first output) [batch, tokens, hidden].
    pub fn embedding_output(&self, hidden: usize, source: &str) -> Result<String, EngineError> {
        self.float_output(
            "last_hidden_state",
            3,
            "[batch, tokens, hidden]",
            2,
            hidden,
            source,
        )
    }

    /// The element type of a `timestep` input: f32, f16 or i64.
    pub fn timestep_type(&self, ty: TensorElementType) -> Result<TensorElementType, EngineError> {
        match ty {
            TensorElementType::Float32 | TensorElementType::Float16 | TensorElementType::Int64 => {
                Ok(ty)
            }
            other => Err(self.err(format!(
                "input `timestep` is {other:?}, expected float32, float16 or int64"
            ))),
        }
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

/// Maps an ONNX Runtime error of running `model` (a package file) to the engine's error.
pub(crate) fn inference(model: &'static str) -> impl Fn(ort::Error) -> EngineError {
    move |e| EngineError::Inference {
        model,
        message: e.to_string(),
    }
}

/// The output `name` of `file` as f32, if it has the shape the package's configs promise (checked before
/// copying it). A model that returns another shape is a package made of mismatched parts: the message names
/// the folder and the file.
pub(crate) fn checked_output(
    dir: &Path,
    outputs: &ort::session::SessionOutputs,
    file: &'static str,
    name: &str,
    expected: &[usize],
) -> Result<Vec<f32>, EngineError> {
    let fail = inference(file);
    let value = outputs
        .get(name)
        .ok_or_else(|| EngineError::package(dir, format!("{file} returned no `{name}`")))?;
    let got = float_shape(value).map_err(&fail)?;
    if got != expected {
        return Err(EngineError::package(
            dir,
            format!("{file} returned shape {got:?}, expected {expected:?}"),
        ));
    }
    read_float(value).map_err(&fail)
}
