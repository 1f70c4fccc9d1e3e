//! Before ONNX Runtime is loaded (its own test binary, so nothing else has loaded it).

use t2v_engine::{init_onnx_runtime, Model, RuntimeOptions};

#[test]
fn runtime_errors_say_what_to_do() {
    let package =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/fixtures/tiny-modelscope");
    let err = Model::load(&package, &RuntimeOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ONNX Runtime: not loaded (init_onnx_runtime was not called)"
    );
    let err =
        init_onnx_runtime(std::path::Path::new("/nonexistent/libonnxruntime.so")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ONNX Runtime: library /nonexistent/libonnxruntime.so does not exist"
    );
}
