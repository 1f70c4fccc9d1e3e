//! Device controls through the bundle: a GPU request the CPU-only ONNX Runtime cannot serve falls back
//! with the missing piece named in the status line and `clip.json`; Strict device fails the render with
//! it instead; Unload models empties the model pool and says what it freed. One process: the pool is
//! process-wide.

mod common;

use ofx_host::{Context, HostConfig, Instance, MessageKind, ParamValue, Render};

/// What the test ONNX Runtime (the CPU build named by `ORT_DYLIB_PATH`) lacks for CUDA.
fn no_cuda_provider() -> String {
    let library = std::path::PathBuf::from(std::env::var_os("ORT_DYLIB_PATH").unwrap());
    format!(
        "CUDA unavailable: this ONNX Runtime has no CUDA provider (libonnxruntime_providers_cuda.so \
         is not in {}); install the CUDA bundle",
        library.parent().unwrap().display()
    )
}

fn status(instance: &Instance) -> String {
    instance.press("fitMode").unwrap(); // the status line follows the next parameter event
    match instance.param("status") {
        Some(ParamValue::Text(line)) => line,
        other => panic!("no status: {other:?}"),
    }
}

#[test]
fn gpu_fallback_strict_mode_and_unloading_models() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("steps", 1).unwrap();
    instance.set_param("frames", 1).unwrap();
    instance.set_param("device", 1).unwrap();

    // Strict: the render fails with the reason, and nothing is cached.
    instance.set_param("strictDevice", 1).unwrap();
    session.clear_log();
    common::failed_render(instance.render(&Render::frame(0.0)));
    let expected = format!(
        "ONNX Runtime: strict device mode: {}; not running on the CPU",
        no_cuda_provider()
    );
    let messages = session.messages();
    assert!(
        messages
            .iter()
            .any(|m| m.kind == MessageKind::Persistent && m.text.contains(&expected)),
        "{expected} not in {messages:?}"
    );
    assert!(common::entries(cache.path()).is_empty());

    // Not strict: the CPU runs it and the status line and clip.json say why.
    instance.set_param("strictDevice", 0).unwrap();
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    let note = format!("{}; running on the CPU", no_cuda_provider());
    let line = status(&instance);
    assert!(line.ends_with(&format!("; {note}")), "{line}");
    let [key] = <[String; 1]>::try_from(common::entries(cache.path())).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cache.path().join(key).join("clip.json")).unwrap())
            .unwrap();
    assert_eq!(json["device"], "cpu");
    assert_eq!(json["device_note"], note.as_str());

    // Unload models frees the one loaded model; the next generation loads it again and says so.
    instance.press("unloadModels").unwrap();
    let unloaded = match instance.param("status") {
        Some(ParamValue::Text(line)) => line,
        other => panic!("no status: {other:?}"),
    };
    assert!(
        unloaded.starts_with("Unload models: unloaded 1 model (0.0 GB of weights)"),
        "{unloaded}"
    );
    instance.press("unloadModels").unwrap();
    assert_eq!(
        instance.param("status"),
        Some(ParamValue::Text(
            "Unload models: no model was loaded".into()
        ))
    );
    instance.set_param("seed", 7).unwrap();
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    let again = status(&instance);
    assert!(
        again.ends_with(&format!(
            "; model tiny-modelscope loaded again: it had been unloaded by Unload models; {note}"
        )),
        "{again}"
    );
}
