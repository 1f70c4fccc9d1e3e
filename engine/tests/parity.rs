//! The engine against diffusers' own TextToVideoSDPipeline on the tiny ModelScope fixture (exported by
//! models/export_diffusers.py): same initial latents → same frames within 1e-3, for DDIM and Euler.

mod common;

use serde_json::Value;
use t2v_engine::{
    EngineError, Flow, Model, NoiseStream, Parameterisation, Request, RuntimeOptions,
    SchedulerKind, StepProgress,
};

fn expected() -> Value {
    let text =
        std::fs::read_to_string(common::fixtures().join("tiny-modelscope-expected/expected.json"))
            .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The fixture with its scheduler config declaring flow matching. The reference ran flow_euler on this UNet as
/// if it predicted a velocity; the engine runs a scheduler only on the parameterisation it handles.
fn flow_package() -> tempfile::TempDir {
    let dir = common::package_copy();
    common::edit_json(&dir.path().join("scheduler/scheduler_config.json"), |v| {
        v["_class_name"] = "FlowMatchEulerDiscreteScheduler".into()
    });
    common::edit_json(&dir.path().join("model_index.json"), |v| {
        v["t2v_defaults"]["scheduler"] = "flow_euler".into()
    });
    dir
}

/// Loads the fixture, or its flow-matching copy for a kind that handles only flow.
fn model_for(kind: SchedulerKind, flow: &tempfile::TempDir) -> Model {
    let dir = if kind.handles(Parameterisation::Flow) {
        flow.path().to_path_buf()
    } else {
        common::package()
    };
    Model::load(&dir, &RuntimeOptions::default()).unwrap()
}

fn request(e: &Value, scheduler: SchedulerKind) -> Request {
    Request {
        prompt: e["prompt"].as_str().unwrap().into(),
        negative_prompt: e["negative_prompt"].as_str().unwrap().into(),
        seed: e["seed"].as_u64().unwrap(),
        steps: e["steps"].as_u64().unwrap() as u32,
        guidance: e["guidance"].as_f64().unwrap() as f32,
        scheduler,
        width: e["width"].as_u64().unwrap() as u32,
        height: e["height"].as_u64().unwrap() as u32,
        frames: e["frames"].as_u64().unwrap() as u32,
        source: None,
        start_image: None,
    }
}

fn max_abs_diff(video: &t2v_engine::Video, want: &[f32]) -> f32 {
    let got: Vec<f32> = video.frames.concat();
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

fn continue_always(_: StepProgress) -> Flow {
    Flow::Continue
}

#[test]
fn fixture_latents_are_the_seeded_noise() {
    let e = expected();
    let latents =
        common::read_f32(&common::fixtures().join("tiny-modelscope-expected/latents.f32"));
    let ours = NoiseStream::new(e["seed"].as_u64().unwrap()).take(latents.len());
    for (a, b) in ours.iter().zip(&latents) {
        assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
    }
}

#[test]
fn tokenizer_matches_transformers() {
    let e = expected();
    let package = t2v_engine::ModelPackage::open(common::package()).unwrap();
    let ids = |k: &str| {
        e[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        package
            .tokenizer()
            .encode(e["prompt"].as_str().unwrap())
            .unwrap(),
        ids("prompt_ids")
    );
    assert_eq!(
        package
            .tokenizer()
            .encode(e["negative_prompt"].as_str().unwrap())
            .unwrap(),
        ids("negative_ids")
    );

    // The same ids from CLIP's vocab.json + merges.txt alone.
    let copy = common::package_copy();
    std::fs::remove_file(copy.path().join("tokenizer/tokenizer.json")).unwrap();
    let from_vocab = t2v_engine::ModelPackage::open(copy.path()).unwrap();
    assert_eq!(
        from_vocab
            .tokenizer()
            .encode(e["prompt"].as_str().unwrap())
            .unwrap(),
        ids("prompt_ids")
    );
    // Punctuation, digits, contractions, whitespace runs, non-ASCII and the pad token "!" typed as text
    // (ids printed by the Python `tokenizers` for transformers' tokenizer.json).
    let tricky = "Hello, World! it's 42 cats";
    let want = [
        572, 71, 68, 75, 75, 334, 267, 535, 75, 323, 0, 72, 339, 6, 338, 275, 273, 66, 64, 83, 338,
        573,
    ];
    for tok in [package.tokenizer(), from_vocab.tokenizer()] {
        assert_eq!(tok.encode(tricky).unwrap()[..want.len()], want);
        assert_eq!(tok.encode(tricky).unwrap()[want.len()..], [0; 77 - 22]);
    }
    for text in [
        "a  cat\twalking   ON the beach",
        "ünïcödé façade",
        "x<|endoftext|>y!!",
        "",
    ] {
        assert_eq!(
            package.tokenizer().encode(text).unwrap(),
            from_vocab.tokenizer().encode(text).unwrap(),
            "{text}"
        );
    }
    let long = "a cat ".repeat(100);
    let a = package.tokenizer().encode(&long).unwrap();
    assert_eq!(a, from_vocab.tokenizer().encode(&long).unwrap());
    assert_eq!(a.len(), 77, "truncated to the text encoder's length");
    assert_eq!(a[76], 573, "ends with <|endoftext|> after truncation");
}

#[test]
fn ddim_from_the_seed_matches_diffusers() {
    common::init_runtime();
    let e = expected();
    let model = Model::load(&common::package(), &RuntimeOptions::default()).unwrap();
    let want =
        common::read_f32(&common::fixtures().join("tiny-modelscope-expected/frames-ddim.f32"));
    let video = model
        .generate(&request(&e, SchedulerKind::Ddim), &mut continue_always)
        .unwrap();
    assert_eq!((video.width, video.height, video.frames.len()), (32, 24, 3));
    let diff = max_abs_diff(&video, &want);
    eprintln!("max abs diff vs diffusers: {diff}");
    assert!(diff < 1e-3, "max abs diff {diff}");
}

#[test]
fn euler_from_explicit_latents_matches_diffusers() {
    common::init_runtime();
    let e = expected();
    let model = Model::load(&common::package(), &RuntimeOptions::default()).unwrap();
    let latents =
        common::read_f32(&common::fixtures().join("tiny-modelscope-expected/latents.f32"));
    let want =
        common::read_f32(&common::fixtures().join("tiny-modelscope-expected/frames-euler.f32"));
    let mut r = request(&e, SchedulerKind::Euler);
    r.seed = 12345; // the explicit latents, not the seed, decide the result
    let video = model
        .generate_from_latents(&r, &latents, &mut continue_always)
        .unwrap();
    let diff = max_abs_diff(&video, &want);
    eprintln!("max abs diff vs diffusers: {diff}");
    assert!(diff < 1e-3, "max abs diff {diff}");
    // The scheduler matters: DDIM frames are measurably different.
    let ddim =
        common::read_f32(&common::fixtures().join("tiny-modelscope-expected/frames-ddim.f32"));
    assert!(max_abs_diff(&video, &ddim) > 1e-2);
}

#[test]
fn progress_runs_each_step_and_cancel_stops_within_one() {
    common::init_runtime();
    let e = expected();
    let model = Model::load(&common::package(), &RuntimeOptions::default()).unwrap();
    let mut seen = vec![];
    let r = request(&e, SchedulerKind::EulerAncestral);
    let a = model
        .generate(&r, &mut |p| {
            seen.push((p.step, p.steps));
            Flow::Continue
        })
        .unwrap();
    assert_eq!(seen, vec![(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]);
    let b = model.generate(&r, &mut continue_always).unwrap();
    assert_eq!(a, b, "CPU generation is bit-identical run to run");

    let mut calls = 0;
    let err = model
        .generate(&r, &mut |p| {
            calls += 1;
            if p.step == 1 {
                Flow::Cancel
            } else {
                Flow::Continue
            }
        })
        .unwrap_err();
    assert!(matches!(err, EngineError::Cancelled));
    assert_eq!(err.to_string(), "generation cancelled");
    assert_eq!(calls, 2);
}

#[test]
fn every_scheduler_and_unguided_runs_produce_valid_frames() {
    common::init_runtime();
    let e = expected();
    let flow = flow_package();
    let mut previous: Vec<Vec<f32>> = vec![];
    for kind in SchedulerKind::ALL {
        let model = model_for(kind, &flow);
        let mut r = request(&e, kind);
        r.steps = 2;
        let v = model.generate(&r, &mut continue_always).unwrap();
        let all = v.frames.concat();
        assert_eq!(all.len(), 3 * 32 * 24 * 3);
        assert!(
            all.iter().all(|x| (0.0..=1.0).contains(x)),
            "{kind}: values in 0..1"
        );
        assert!(
            !previous.contains(&all),
            "{kind}: differs from the other schedulers"
        );
        previous.push(all);
    }
    let model = Model::load(&common::package(), &RuntimeOptions::default()).unwrap();
    let mut unguided = request(&e, SchedulerKind::Ddim);
    unguided.guidance = 1.0;
    unguided.negative_prompt = "ignored without guidance".into();
    let a = model.generate(&unguided, &mut continue_always).unwrap();
    unguided.negative_prompt.clear();
    let b = model.generate(&unguided, &mut continue_always).unwrap();
    assert_eq!(a, b, "guidance <= 1 skips the negative prompt");
}

#[test]
fn a_loaded_model_has_its_package_defaults() {
    common::init_runtime();
    let a = Model::load(&common::package(), &RuntimeOptions::default()).unwrap();
    assert_eq!(a.defaults().scheduler, SchedulerKind::Ddim);
    assert_eq!(
        (
            a.defaults().width,
            a.defaults().height,
            a.defaults().frames,
            a.defaults().steps
        ),
        (32, 24, 3, 4)
    );
}

#[test]
fn remaining_schedulers_match_the_python_reference() {
    common::init_runtime();
    let e = expected();
    let flow = flow_package();
    let runs = e["reference_runs"].as_object().unwrap();
    assert_eq!(runs.len(), 5);
    for (name, run) in runs {
        let kind = SchedulerKind::from_name(run["scheduler"].as_str().unwrap()).unwrap();
        let want = common::read_f32(
            &common::fixtures()
                .join("tiny-modelscope-expected")
                .join(run["file"].as_str().unwrap()),
        );
        let model = model_for(kind, &flow);
        let mut r = request(&e, kind);
        r.frames = run["frames"].as_u64().unwrap() as u32;
        let video = model.generate(&r, &mut continue_always).unwrap();
        let diff = max_abs_diff(&video, &want);
        eprintln!("{name}: max abs diff vs reference_pipeline.py: {diff}");
        assert!(diff < 1e-3, "{name}: max abs diff {diff}");
    }
}

/// fp16 exports' I/O: f16 floats in and out, int32 token ids, int64 [B] timestep (tiny-modelscope-f16io).
#[test]
fn f16_and_integer_io_is_adapted_from_the_session_metadata() {
    common::init_runtime();
    let e = expected();
    let model = Model::load(
        &common::fixtures().join("tiny-modelscope-f16io"),
        &RuntimeOptions::default(),
    )
    .unwrap();
    let run = &e["f16io_runs"]["ddim"];
    let want = common::read_f32(
        &common::fixtures()
            .join("tiny-modelscope-expected")
            .join(run["file"].as_str().unwrap()),
    );
    let video = model
        .generate(&request(&e, SchedulerKind::Ddim), &mut continue_always)
        .unwrap();
    let diff = max_abs_diff(&video, &want);
    eprintln!("f16 I/O: max abs diff vs diffusers (f32 throughout): {diff}");
    assert!(diff < 1e-2, "max abs diff {diff}");

    // The same UNet taking its timestep as an f32 scalar gives the same frames. The fixture links the other
    // components to the f16 package's, outside its folder, which the engine refuses: assemble a copy.
    let scalar_dir = common::copy_of(&common::fixtures().join("tiny-modelscope-f16io"));
    for file in ["unet/model.onnx", "unet/config.json"] {
        let from = common::fixtures()
            .join("tiny-modelscope-scalar-t")
            .join(file);
        std::fs::copy(from, scalar_dir.path().join(file)).unwrap();
    }
    let scalar = Model::load(scalar_dir.path(), &RuntimeOptions::default()).unwrap();
    let same = scalar
        .generate(&request(&e, SchedulerKind::Ddim), &mut continue_always)
        .unwrap();
    assert_eq!(same, video);
}

#[test]
fn runtime_loads_once_and_models_cross_threads() {
    common::init_runtime();
    // Later calls, with any path, keep the runtime that is loaded.
    assert!(
        t2v_engine::init_onnx_runtime(std::path::Path::new("/nonexistent/libonnxruntime.so"))
            .is_ok()
    );
    fn send_sync<T: Send + Sync>() {}
    send_sync::<t2v_engine::Model>();
    let model =
        std::sync::Arc::new(Model::load(&common::package(), &RuntimeOptions::default()).unwrap());
    let e = expected();
    let r = request(&e, SchedulerKind::Ddim);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (model, r) = (model.clone(), r.clone());
            std::thread::spawn(move || model.generate(&r, &mut continue_always).unwrap())
        })
        .collect();
    let videos: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(videos[0], videos[1]);
}
