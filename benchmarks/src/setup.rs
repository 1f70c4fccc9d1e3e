//! Loads ONNX Runtime and a model package for a benchmark: CPU execution provider and the asked intra-op
//! threads, which is what `models/bench_reference.py` gives the reference pipeline.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use t2v_engine::{init_onnx_runtime, Device, Model, Request, RuntimeOptions};

use crate::args::ClipArgs;

/// `ORT_DYLIB_PATH`, else the copy the bundle tool places at `target/onnxruntime/`.
pub fn ort_library() -> PathBuf {
    std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/onnxruntime/libonnxruntime.so.1.31.1")
        })
}

/// The loaded model and the request every clip of the benchmark repeats (package defaults, the asked
/// prompt and seed).
pub fn load(args: &ClipArgs) -> Result<(Arc<Model>, Request), String> {
    init_onnx_runtime(&ort_library()).map_err(|e| e.to_string())?;
    let options = RuntimeOptions {
        device: Device::Cpu,
        intra_threads: args.threads,
        ..RuntimeOptions::default()
    };
    let model = Arc::new(Model::load(&args.package, &options).map_err(|e| e.to_string())?);
    let mut request = Request::with_defaults(model.defaults(), args.prompt.clone());
    request.seed = args.seed;
    Ok((model, request))
}

/// Runs a benchmark's body: its error goes to stderr with a failing exit status.
pub fn exit_with(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
