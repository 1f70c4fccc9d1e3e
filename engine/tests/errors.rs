//! Every failure mode a user can meet, with the exact text they see.

mod common;

use std::path::Path;

use t2v_engine::{
    EngineError, Flow, Model, ModelPackage, Parameterisation, Request, RuntimeOptions,
    SchedulerKind,
};

fn open_err(dir: &Path) -> String {
    ModelPackage::open(dir).unwrap_err().to_string()
}

fn load_err(dir: &Path) -> String {
    common::init_runtime();
    Model::load(dir, &RuntimeOptions::default())
        .unwrap_err()
        .to_string()
}

/// Breaks a fresh copy of the test package with `edit`, then returns what `fail` reports after the
/// "model folder <copy>: " prefix that every package error starts with (checked here).
fn err_after(edit: impl FnOnce(&Path), fail: fn(&Path) -> String) -> String {
    let copy = common::package_copy();
    edit(copy.path());
    let err = fail(copy.path());
    let prefix = format!("model folder {}: ", copy.path().display());
    match err.strip_prefix(&prefix) {
        Some(rest) => rest.to_owned(),
        None => panic!("{err:?} does not start with {prefix:?}"),
    }
}

/// A package edit that changes the JSON file `rel`.
fn json_edit(rel: &'static str, edit: impl FnOnce(&mut serde_json::Value)) -> impl FnOnce(&Path) {
    move |dir| common::edit_json(&dir.join(rel), edit)
}

#[test]
fn the_license_is_read_when_the_package_states_one() {
    assert_eq!(
        ModelPackage::open(common::package()).unwrap().license(),
        None
    );
    let copy = common::package_copy();
    common::edit_json(&copy.path().join("model_index.json"), |v| {
        v["t2v_license"] = "cc-by-nc-4.0".into()
    });
    let package = ModelPackage::open(copy.path()).unwrap();
    assert_eq!(package.license(), Some("cc-by-nc-4.0"));
}

#[test]
fn missing_files_are_named() {
    for rel in [
        "model_index.json",
        "unet/model.onnx",
        "text_encoder/model.onnx",
        "vae_decoder/model.onnx",
        "unet/config.json",
        "scheduler/scheduler_config.json",
    ] {
        assert_eq!(
            err_after(|p| std::fs::remove_file(p.join(rel)).unwrap(), open_err),
            format!("{rel} is missing")
        );
    }
    let nowhere = Path::new("/nonexistent/model");
    assert_eq!(
        open_err(nowhere),
        "model folder /nonexistent/model: is not a folder"
    );
}

#[test]
fn inconsistent_configs_name_both_sides() {
    assert_eq!(
        err_after(
            json_edit("text_encoder/config.json", |v| v["hidden_size"] = 64.into()),
            open_err
        ),
        "text_encoder/config.json hidden_size 64 does not match unet/config.json cross_attention_dim 32"
    );
    assert_eq!(
        err_after(
            json_edit("vae_decoder/config.json", |v| v["latent_channels"] =
                8.into()),
            open_err
        ),
        "unet/config.json in_channels 4 does not match vae_decoder/config.json latent_channels 8"
    );
    assert_eq!(
        err_after(
            |p| std::fs::write(p.join("unet/config.json"), "{ not json").unwrap(),
            open_err
        ),
        "unet/config.json is not valid JSON: key must be a string at line 1 column 3"
    );
    assert_eq!(
        err_after(
            json_edit("scheduler/scheduler_config.json", |v| {
                v["beta_schedule"] = "sigmoid".into()
            }),
            open_err
        ),
        "scheduler/scheduler_config.json: beta_schedule `sigmoid` is not supported"
    );
    assert_eq!(
        err_after(
            json_edit("model_index.json", |v| v["t2v_license"] = 7.into()),
            open_err
        ),
        "model_index.json: `t2v_license` must be a string, not 7"
    );
    assert_eq!(
        err_after(
            json_edit("model_index.json", |v| v["t2v_defaults"]["width"] =
                30.into()),
            open_err
        ),
        "model_index.json: t2v_defaults `width` 30 is not a multiple of 4 up to 4096"
    );
    assert_eq!(
        err_after(
            json_edit("model_index.json", |v| {
                v["t2v_defaults"]["scheduler"] = "pndm".into()
            }),
            open_err
        ),
        "model_index.json: t2v_defaults `scheduler` \"pndm\" is not one of ddim, euler, euler_a, dpmpp_2m, lcm, flow_euler, unipc"
    );
    assert_eq!(
        err_after(
            json_edit("model_index.json", |v| {
                v["t2v_defaults"]["scheduler"] = "flow_euler".into()
            }),
            open_err
        ),
        "model_index.json: t2v_defaults `scheduler`: the Flow Euler scheduler does not handle this model's \
         epsilon prediction; choose one of DDIM, Euler, Euler a, DPM++ 2M, LCM"
    );
}

/// The valid schedulers follow the parameterisation `scheduler_config.json` declares; the default is the
/// config's class when valid, else the first valid kind.
#[test]
fn schedulers_offered_follow_the_parameterisation() {
    use SchedulerKind::*;
    let open = |edit: &dyn Fn(&mut serde_json::Value)| {
        let dir = common::package_copy();
        common::edit_json(&dir.path().join("scheduler/scheduler_config.json"), edit);
        common::edit_json(&dir.path().join("model_index.json"), |v| {
            v["t2v_defaults"]
                .as_object_mut()
                .unwrap()
                .remove("scheduler");
        });
        ModelPackage::open(dir.path()).unwrap()
    };
    let epsilon = ModelPackage::open(common::package()).unwrap();
    assert_eq!(epsilon.parameterisation(), Parameterisation::Epsilon);
    assert_eq!(
        epsilon.schedulers(),
        [Ddim, Euler, EulerAncestral, DpmPp2m, Lcm]
    );
    let v = open(&|v| v["prediction_type"] = "v_prediction".into());
    assert_eq!(v.parameterisation(), Parameterisation::VPrediction);
    assert_eq!(v.schedulers(), epsilon.schedulers());
    let flow_class = open(&|v| v["_class_name"] = "FlowMatchEulerDiscreteScheduler".into());
    assert_eq!(flow_class.schedulers(), [FlowEuler, UniPc]);
    assert_eq!(flow_class.defaults().scheduler, FlowEuler);
    // Wan's config: UniPC with flow sigmas runs UniPC.
    let unipc = open(&|v| {
        v["_class_name"] = "UniPCMultistepScheduler".into();
        v["use_flow_sigmas"] = true.into();
        v["prediction_type"] = "flow_prediction".into();
    });
    assert_eq!(unipc.parameterisation(), Parameterisation::Flow);
    assert_eq!(unipc.defaults().scheduler, UniPc);
    let flow_type = open(&|v| v["prediction_type"] = "flow_prediction".into());
    assert_eq!(flow_type.parameterisation(), Parameterisation::Flow);
    assert_eq!(flow_type.defaults().scheduler, FlowEuler);
}

#[test]
fn unreadable_tokenizers_are_reported() {
    let err = err_after(
        |p| std::fs::write(p.join("tokenizer/tokenizer.json"), "garbage").unwrap(),
        open_err,
    );
    assert!(
        err.starts_with("tokenizer/tokenizer.json cannot be read: "),
        "{err}"
    );
    assert_eq!(
        err_after(
            |p| {
                for f in ["tokenizer.json", "merges.txt"] {
                    std::fs::remove_file(p.join("tokenizer").join(f)).unwrap();
                }
            },
            open_err
        ),
        "tokenizer/merges.txt is missing (and there is no tokenizer/tokenizer.json)"
    );
    assert_eq!(
        err_after(
            json_edit("tokenizer/tokenizer_config.json", |v| {
                v["pad_token"] = "<pad>".into()
            }),
            open_err
        ),
        "tokenizer: pad_token `<pad>` is not in the vocabulary"
    );
}

#[test]
fn truncated_model_is_reported_when_loading() {
    let truncate = |p: &Path| {
        let unet = p.join("unet/model.onnx");
        let bytes = std::fs::read(&unet).unwrap();
        std::fs::write(&unet, &bytes[..bytes.len() / 2]).unwrap();
        assert!(ModelPackage::open(p).is_ok(), "open does not parse ONNX");
    };
    let err = err_after(truncate, load_err);
    assert!(
        err.starts_with("unet/model.onnx cannot be loaded: "),
        "{err}"
    );
}

#[test]
fn onnx_shapes_that_disagree_with_configs_are_reported() {
    // Consistent configs that promise 64-wide text embeddings; the ONNX models are 32-wide.
    let widen = |p: &Path| {
        common::edit_json(&p.join("text_encoder/config.json"), |v| {
            v["hidden_size"] = 64.into()
        });
        common::edit_json(&p.join("unet/config.json"), |v| {
            v["cross_attention_dim"] = 64.into()
        });
    };
    assert_eq!(
        err_after(widen, load_err),
        "text_encoder/model.onnx: output `last_hidden_state` has size 32 on axis 2, but text_encoder/config.json hidden_size says 64"
    );

    // A text encoder in the UNet's place: wrong input names.
    let swap = |p: &Path| {
        std::fs::copy(p.join("text_encoder/model.onnx"), p.join("unet/model.onnx")).unwrap();
    };
    assert_eq!(
        err_after(swap, load_err),
        "unet/model.onnx: has no input `sample` (its inputs: input_ids)"
    );
}

fn request(package: &ModelPackage) -> Request {
    Request::with_defaults(package.defaults(), "a cat")
}

#[test]
fn bad_request_values_are_explained() {
    let package = ModelPackage::open(common::package()).unwrap();
    let check = |edit: &dyn Fn(&mut Request), text: &str| {
        let mut r = request(&package);
        edit(&mut r);
        assert_eq!(package.validate(&r).unwrap_err().to_string(), text);
    };
    assert!(package.validate(&request(&package)).is_ok());
    check(
        &|r| r.steps = 0,
        "invalid request: steps must be between 1 and 1000 (got 0)",
    );
    check(
        &|r| r.steps = 1001,
        "invalid request: steps must be between 1 and 1000 (got 1001)",
    );
    check(
        &|r| r.frames = 0,
        "invalid request: frames must be between 1 and 1024 (got 0)",
    );
    check(
        &|r| r.frames = 1025,
        "invalid request: frames must be between 1 and 1024 (got 1025)",
    );
    check(
        &|r| r.width = 30,
        "invalid request: width must be a multiple of 4 between 4 and 4096 (got 30)",
    );
    check(
        &|r| r.height = 0,
        "invalid request: height must be a multiple of 4 between 4 and 4096 (got 0)",
    );
    check(
        &|r| r.height = 4100,
        "invalid request: height must be a multiple of 4 between 4 and 4096 (got 4100)",
    );
    check(
        &|r| r.guidance = f32::NAN,
        "invalid request: guidance must be a finite number (got NaN)",
    );
    check(
        &|r| {
            r.scheduler = SchedulerKind::Lcm;
            r.steps = 60
        },
        "invalid request: LCM takes at most 50 steps (got 60)",
    );
    check(
        &|r| r.scheduler = SchedulerKind::FlowEuler,
        "invalid request: the Flow Euler scheduler does not handle this model's epsilon prediction; \
         choose one of DDIM, Euler, Euler a, DPM++ 2M, LCM",
    );
    // Empty prompts are fine; long ones are truncated by the tokenizer.
    let mut long = request(&package);
    long.prompt = "x".repeat(10_000);
    assert!(package.validate(&long).is_ok());
}

#[test]
fn explicit_latents_must_fit_the_request() {
    common::init_runtime();
    let model = Model::load(&common::package(), &RuntimeOptions::default()).unwrap();
    let r = Request::with_defaults(model.defaults(), "");
    let err = model
        .generate_from_latents(&r, &[0.0; 10], &mut |_| Flow::Continue)
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidRequest(_)));
    assert_eq!(
        err.to_string(),
        "invalid request: initial latents have 10 values, expected 2304 ([1, 4, 3, 12, 16])"
    );
}

/// What the CPU-only test library lacks for CUDA, as the fallback and strict mode say it.
fn no_cuda_provider() -> String {
    let library = common::ort_library();
    format!(
        "CUDA unavailable: this ONNX Runtime has no CUDA provider (libonnxruntime_providers_cuda.so \
         is not in {}); install the CUDA bundle",
        library.parent().unwrap().display()
    )
}

#[test]
fn cuda_request_without_cuda_falls_back_to_cpu_naming_what_is_missing() {
    common::init_runtime();
    let options = RuntimeOptions {
        device: t2v_engine::Device::Cuda,
        intra_threads: 1,
        ..RuntimeOptions::default()
    };
    let model = Model::load(&common::package(), &options).unwrap();
    assert_eq!(model.device(), t2v_engine::Device::Cpu);
    assert_eq!(
        model.device_note(),
        Some(format!("{}; running on the CPU", no_cuda_provider()).as_str())
    );
    let r = Request::with_defaults(model.defaults(), "a cat");
    assert_eq!(
        model
            .generate(&r, &mut |_| Flow::Continue)
            .unwrap()
            .frames
            .len(),
        3
    );
}

#[test]
fn strict_device_mode_fails_with_the_reason_instead_of_falling_back() {
    common::init_runtime();
    let options = RuntimeOptions {
        device: t2v_engine::Device::Cuda,
        strict: true,
        ..RuntimeOptions::default()
    };
    let err = Model::load(&common::package(), &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "ONNX Runtime: strict device mode: {}; not running on the CPU",
            no_cuda_provider()
        )
    );
    // Strict mode asks nothing of a CPU request.
    let cpu = RuntimeOptions {
        strict: true,
        ..RuntimeOptions::default()
    };
    assert_eq!(
        Model::load(&common::package(), &cpu).unwrap().device_note(),
        None
    );
}

#[test]
fn unet_levels_come_from_down_blocks_else_channel_counts() {
    let copy = common::package_copy();
    let d = copy.path().display().to_string();
    common::edit_json(&copy.path().join("unet/config.json"), |v| {
        v.as_object_mut().unwrap().remove("down_block_types");
    });
    assert_eq!(
        ModelPackage::open(copy.path())
            .unwrap()
            .shapes()
            .size_multiple,
        4
    );
    common::edit_json(&copy.path().join("unet/config.json"), |v| {
        v.as_object_mut().unwrap().remove("block_out_channels");
    });
    assert_eq!(
        open_err(copy.path()),
        format!("model folder {d}: unet/config.json has no `block_out_channels`")
    );
}
