//! How sessions hold their weights and working memory, so that a real-size model loads fast and stays lean
//! inside a host (issue 13). Measured on the real-size ModelScope 1.7b UNet (5.4 GB of external weights,
//! `models/bench_modelscope_scale.py`, figures in benchmarks/README.md):
//!
//! - ONNX Runtime memory-maps external weights and leaves them in the file's pages; **pre-packing** then
//!   copies every MatMul/Gemm weight into a packed buffer of its own, which took half of the UNet's load and
//!   2 GiB of anonymous memory beside the mapped weights. Without it the kernels pack a block at a time while
//!   they run, which costs nothing measurable next to a step's arithmetic.
//! - Each session's **CPU arena** keeps the memory of its largest run for as long as the session lives: the
//!   UNet's step activations stayed allocated while the VAE decoded, so the peak was the sum of both.
//!   Without the arena, a run's buffers go back to the system when it ends and the peak is the larger one.
//!
//! Neither changes a kernel's arithmetic: outputs are bit for bit those of the default options.

use ort::ep;
use ort::session::builder::SessionBuilder;

/// The session options above, applied to `builder`.
pub(crate) fn lean(builder: SessionBuilder) -> Result<SessionBuilder, String> {
    let text = |e: ort::Error<_>| e.to_string();
    builder
        .with_prepacking(false)
        .map_err(text)?
        .with_execution_providers([ep::CPU::default().with_arena_allocator(false).build()])
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use ort::session::Session;
    use ort::value::Tensor;

    use super::*;
    use crate::NoiseStream;

    fn library() -> PathBuf {
        std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../target/onnxruntime/libonnxruntime.so.1.31.1")
            })
    }

    /// A graph input: its name and shape.
    type Input = (&'static str, Vec<i64>);

    /// The bits of the first output of the tiny ModelScope fixture's graph `rel` on `inputs` (name, shape;
    /// values drawn from one seeded stream), in a session of `builder`.
    fn output_bits(
        mut builder: SessionBuilder,
        rel: &str,
        inputs: &[(&str, Vec<i64>)],
    ) -> Vec<u32> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/fixtures/tiny-modelscope");
        let mut session = builder.commit_from_file(dir.join(rel)).unwrap();
        let mut noise = NoiseStream::new(7);
        let values: Vec<_> = inputs
            .iter()
            .map(|(name, shape)| {
                let len = shape.iter().product::<i64>() as usize;
                let tensor = Tensor::from_array((shape.clone(), noise.take(len))).unwrap();
                (name.to_string(), tensor.into_dyn())
            })
            .collect();
        let outputs = session.run(values).unwrap();
        let (_, data) = outputs[0].try_extract_tensor::<f32>().unwrap();
        data.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn lean_sessions_compute_the_same_bits_as_the_default_options() {
        crate::init_onnx_runtime(&library()).unwrap();
        let (env, _) = crate::runtime::environment().unwrap();
        let graphs: [(&str, Vec<Input>); 2] = [
            (
                "unet/model.onnx",
                vec![
                    ("sample", vec![2, 4, 3, 12, 16]),
                    ("timestep", vec![2]),
                    ("encoder_hidden_states", vec![2, 77, 32]),
                ],
            ),
            (
                "vae_decoder/model.onnx",
                vec![("latent_sample", vec![3, 4, 12, 16])],
            ),
        ];
        for (rel, inputs) in graphs {
            let plain = output_bits(Session::builder(&env).unwrap(), rel, &inputs);
            let lean = output_bits(lean(Session::builder(&env).unwrap()).unwrap(), rel, &inputs);
            assert!(!plain.is_empty());
            assert!(plain == lean, "{rel}: the lean options changed the output");
        }
    }
}
