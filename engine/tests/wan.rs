//! The Wan family against diffusers' own `WanPipeline` on the tiny Wan2.1 and Wan2.2-TI2V fixtures (exported
//! by models/fixtures/make_wan_fixtures.py): the text stage, the VAE's first/step loop, whole generations
//! from the same initial latents, the family's rules, the embedding cache and the text encoder's residency.

mod common;

use std::path::PathBuf;

use serde_json::Value;
use t2v_engine::{
    EngineError, Flow, Model, ModelPackage, Request, Residency, RuntimeOptions, SchedulerKind,
};

const PACKAGES: [&str; 2] = ["tiny-wan21", "tiny-wan22-ti2v"];

fn package(name: &str) -> PathBuf {
    common::fixtures().join(name)
}

fn expected(name: &str) -> Value {
    let path = common::fixtures().join(format!("{name}-expected/expected.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn data(name: &str, file: &str) -> Vec<f32> {
    common::read_f32(&common::fixtures().join(format!("{name}-expected/{file}")))
}

fn shape(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

fn load(name: &str, text_encoder: Residency) -> Model {
    common::init_runtime();
    let options = RuntimeOptions {
        text_encoder,
        ..RuntimeOptions::default()
    };
    Model::load(&package(name), &options).unwrap()
}

fn request(e: &Value, scheduler: SchedulerKind) -> Request {
    let r = &e["request"];
    let int = |k: &str| r[k].as_u64().unwrap() as u32;
    Request {
        prompt: r["prompt"].as_str().unwrap().into(),
        negative_prompt: r["negative_prompt"].as_str().unwrap().into(),
        seed: r["seed"].as_u64().unwrap(),
        steps: int("steps"),
        guidance: r["guidance"].as_f64().unwrap() as f32,
        scheduler,
        width: int("width"),
        height: int("height"),
        frames: int("frames"),
        source: None,
        start_image: None,
    }
}

fn max_abs_diff(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

#[test]
fn packages_open_as_the_wan_family_with_their_defaults() {
    for name in PACKAGES {
        let p = ModelPackage::open(package(name)).unwrap();
        let e = expected(name);
        assert_eq!(p.family(), "wan");
        assert_eq!(p.class_name(), "WanPipeline");
        assert_eq!(p.license(), Some("apache-2.0"));
        assert_eq!(
            p.onnx_files(),
            [
                "text_encoder/model.onnx",
                "transformer/model.onnx",
                "vae_decoder/first.onnx",
                "vae_decoder/step.onnx"
            ]
        );
        let d = p.defaults();
        let r = &e["request"];
        assert_eq!(
            (d.width, d.height, d.frames),
            (
                r["width"].as_u64().unwrap() as u32,
                r["height"].as_u64().unwrap() as u32,
                r["frames"].as_u64().unwrap() as u32
            )
        );
        assert_eq!(p.tokenizer().length(), 512);
        assert_eq!(
            p.latent_shape(&request(&e, d.scheduler)).to_vec(),
            shape(&e["latent_shape"])
        );
    }
}

#[test]
fn the_text_stage_matches_diffusers() {
    for name in PACKAGES {
        let e = expected(name);
        let model = load(name, Residency::Kept);
        let tok = model.package().tokenizer();
        let ids = |k: &str| -> Vec<i64> {
            e[k].as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect()
        };
        let prompt = e["request"]["prompt"].as_str().unwrap();
        let (got, real) = tok.encode_counted(prompt).unwrap();
        let want = ids("prompt_ids");
        assert_eq!(real, want.len(), "{name}: </s> counts, padding does not");
        assert_eq!(got[..real], want[..], "{name}");
        assert!(got[real..].iter().all(|&id| id == 0), "{name}: <pad> is 0");
        for (text, file) in [
            (prompt, "prompt_embeds.f32"),
            ("", "negative_prompt_embeds.f32"),
        ] {
            let diff = max_abs_diff(&model.prompt_embedding(text).unwrap(), &data(name, file));
            eprintln!("{name} {file}: max abs diff {diff}");
            assert!(diff < 1e-4, "{name} {file}: max abs diff {diff}");
        }
    }
}

#[test]
fn the_vae_loop_matches_diffusers_decode_for_1_5_and_9_latent_frames() {
    for name in PACKAGES {
        let e = expected(name);
        let model = load(name, Residency::Kept);
        for n in ["1", "5", "9"] {
            let case = &e["vae"]["cases"][n];
            let dims = shape(&case["latents"]["shape"]);
            let latents = data(name, case["latents"]["file"].as_str().unwrap());
            let want = data(name, case["frames"]["file"].as_str().unwrap());
            let video = model
                .decode_latents(&latents, dims.clone().try_into().unwrap())
                .unwrap();
            // [1, 3, F, H, W] in [-1, 1] → the engine's interleaved [0, 1] frames.
            let [_, _, f, h, w]: [usize; 5] = shape(&case["frames"]["shape"]).try_into().unwrap();
            assert_eq!(
                (
                    video.frames.len(),
                    video.height as usize,
                    video.width as usize
                ),
                (f, h, w),
                "{name} {n}"
            );
            let plane = h * w;
            let mut diff = 0.0f32;
            for (k, frame) in video.frames.iter().enumerate() {
                for p in 0..plane {
                    for ch in 0..3 {
                        let x = want[(ch * f + k) * plane + p];
                        let expected = (x / 2.0 + 0.5).clamp(0.0, 1.0);
                        diff = diff.max((frame[3 * p + ch] - expected).abs());
                    }
                }
            }
            eprintln!("{name} vae {n} latent frames: max abs diff {diff} (in [0, 1])");
            assert!(
                diff < 0.5e-4,
                "{name} {n}: max abs diff {diff} (1e-4 in [-1, 1])"
            );
        }
    }
}

/// The engine's frames from diffusers' initial latents against diffusers' `WanPipeline` frames.
fn frames_match_diffusers(kind: SchedulerKind) {
    for name in PACKAGES {
        let e = expected(name);
        let model = load(name, Residency::Kept);
        let run = &e["runs"][kind.name()];
        let latents = data(name, "latents.f32");
        let mut r = request(&e, kind);
        r.seed = 12345; // the explicit latents, not the seed, decide the result
        let video = model
            .generate_from_latents(&r, &latents, &mut |_| Flow::Continue)
            .unwrap();
        let diff = max_abs_diff(
            &video.frames.concat(),
            &data(name, run["file"].as_str().unwrap()),
        );
        eprintln!("{name} {}: max abs diff {diff}", kind.name());
        assert!(diff < 1e-3, "{name}: max abs diff {diff}");
    }
}

#[test]
fn flow_euler_frames_match_diffusers() {
    frames_match_diffusers(SchedulerKind::FlowEuler);
}

#[test]
fn unipc_frames_match_diffusers() {
    frames_match_diffusers(SchedulerKind::UniPc);
}

#[test]
fn requests_outside_the_rules_are_explained_with_the_value_that_fits() {
    let p21 = ModelPackage::open(package("tiny-wan21")).unwrap();
    let p22 = ModelPackage::open(package("tiny-wan22-ti2v")).unwrap();
    let err = |p: &ModelPackage, edit: &dyn Fn(&mut Request)| {
        let mut r = Request::with_defaults(p.defaults(), "a cat");
        edit(&mut r);
        p.validate(&r).unwrap_err().to_string()
    };
    assert_eq!(
        err(&p21, &|r| r.frames = 8),
        "invalid request: Wan needs 4k+1 frames: 8 → 9"
    );
    assert_eq!(
        err(&p21, &|r| r.frames = 11),
        "invalid request: Wan needs 4k+1 frames: 11 → 9"
    );
    assert_eq!(
        err(&p21, &|r| r.width = 40),
        "invalid request: Wan needs a width that is a multiple of 16: 40 → 48"
    );
    assert_eq!(
        err(&p22, &|r| r.height = 80),
        "invalid request: Wan needs a height that is a multiple of 32: 80 → 96"
    );
    assert_eq!(
        err(&p21, &|r| r.width = 0),
        "invalid request: width must be a multiple of 16 between 16 and 4096 (got 0)"
    );
    // Longer than `max_frames` is generated in windows, up to the engine's limit.
    assert_eq!(
        err(&p21, &|r| r.frames = 1025),
        "invalid request: frames must be between 1 and 1024 (got 1025)"
    );
    // What the plugin offers instead.
    assert_eq!(
        [0, 1, 2, 3, 4, 8, 11, 1000, 5000].map(|n| p21.fit_frames(n)),
        [1, 1, 1, 1, 5, 9, 9, 1001, 1021]
    );
    assert_eq!(
        [0, 8, 40, 56, 5000].map(|v| p21.fit_side(v)),
        [16, 16, 48, 64, 4096]
    );
    assert_eq!([40, 48, 80].map(|v| p22.fit_side(v)), [32, 64, 96]);
}

#[test]
fn an_unknown_pipeline_class_is_named_with_the_known_ones() {
    let copy = common::package_copy();
    common::edit_json(&copy.path().join("model_index.json"), |v| {
        v["_class_name"] = "LTXPipeline".into()
    });
    let err = ModelPackage::open(copy.path()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "model folder {}: model_index.json: `_class_name` \"LTXPipeline\" is not a pipeline the \
             engine runs (TextToVideoSDPipeline, WanPipeline)",
            copy.path().display()
        )
    );
    common::edit_json(&copy.path().join("model_index.json"), |v| {
        v.as_object_mut().unwrap().remove("_class_name");
    });
    let err = ModelPackage::open(copy.path()).unwrap_err().to_string();
    assert!(
        err.ends_with(
            "model_index.json has no `_class_name` (the engine runs TextToVideoSDPipeline, WanPipeline)"
        ),
        "{err}"
    );
}

/// What opening (or, with `load`, loading) a copy of the 2.1 fixture edited by `edit` reports after the
/// "model folder <copy>: " prefix.
fn broken(edit: impl FnOnce(&std::path::Path), load: bool) -> String {
    let copy = common::copy_of(&package("tiny-wan21"));
    edit(copy.path());
    let err = if load {
        common::init_runtime();
        Model::load(copy.path(), &RuntimeOptions::default())
            .unwrap_err()
            .to_string()
    } else {
        ModelPackage::open(copy.path()).unwrap_err().to_string()
    };
    let prefix = format!("model folder {}: ", copy.path().display());
    match err.strip_prefix(&prefix) {
        Some(rest) => rest.to_owned(),
        None => panic!("{err:?} does not start with {prefix:?}"),
    }
}

/// An edit of a package copy.
type Edit = Box<dyn FnOnce(&std::path::Path)>;

fn set(rel: &'static str, key: &'static str, value: Value) -> impl FnOnce(&std::path::Path) {
    move |dir| common::edit_json(&dir.join(rel), |v| v[key] = value)
}

#[test]
fn broken_wan_packages_name_the_file_and_what_is_wrong() {
    use serde_json::json;
    const VAE: &str = "vae_decoder/config.json";
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|p| std::fs::remove_file(p.join("vae_decoder/step.onnx")).unwrap()),
            "vae_decoder/step.onnx is missing",
        ),
        (
            Box::new(set("transformer/config.json", "text_dim", json!(64))),
            "text_encoder/config.json d_model 32 does not match transformer/config.json text_dim 64",
        ),
        (
            Box::new(set("transformer/config.json", "in_channels", json!(48))),
            "transformer/config.json in_channels 48 does not match vae_decoder/config.json z_dim 16",
        ),
        (
            Box::new(set("transformer/config.json", "patch_size", json!([2, 2, 2]))),
            "transformer/config.json: `patch_size` must be [1, p, p] with p from 1 to 64, not [2,2,2]",
        ),
        (
            Box::new(set(VAE, "latents_std", json!(vec![1.0; 15]))),
            "vae_decoder/config.json: `latents_std` must be a list of 16 numbers from 1e-38 to 10000",
        ),
        (
            Box::new(set(VAE, "latents_std", json!(vec![0.0; 16]))),
            "vae_decoder/config.json: `latents_std` must be a list of 16 numbers from 1e-38 to 10000",
        ),
        (
            Box::new(set(VAE, "latents_mean", json!(0.5))),
            "vae_decoder/config.json: `latents_mean` must be a list of 16 numbers from -10000 to 10000",
        ),
        (
            Box::new(set(VAE, "scale_factor_temporal", json!(8))),
            "vae_decoder/config.json: `scale_factor_temporal` 8 is not supported (the decoder graphs give 4 \
             frames per latent frame)",
        ),
        (
            Box::new(set("model_index.json", "expand_timesteps", json!("yes"))),
            "model_index.json: `expand_timesteps` must be true or false, not \"yes\"",
        ),
        (
            Box::new(|p: &std::path::Path| {
                common::edit_json(&p.join("model_index.json"), |v| {
                    v["t2v_defaults"]["frames"] = 8.into()
                })
            }),
            "model_index.json: t2v_defaults `frames` 8 is not 1 + a multiple of 4",
        ),
    ];
    for (edit, want) in cases {
        assert_eq!(broken(edit, false), want);
    }
    // At load, against the graphs themselves.
    assert_eq!(
        broken(
            |p| std::fs::copy(
                p.join("vae_decoder/first.onnx"),
                p.join("vae_decoder/step.onnx")
            )
            .map(drop)
            .unwrap(),
            true
        ),
        "vae_decoder/first.onnx: has 25 outputs, expected `sample` and the 0 caches \
         vae_decoder/step.onnx takes"
    );
    assert_eq!(
        broken(
            set("model_index.json", "expand_timesteps", json!(true)),
            true
        ),
        "transformer/model.onnx: input `timestep` has rank 1, expected 2 ([batch, tokens], as \
         model_index.json `expand_timesteps` says)"
    );
}

/// A prompt no other test encodes, so the process-wide embedding cache cannot already hold it.
fn unique(prompt: &str) -> String {
    format!("{prompt} ({:?})", std::thread::current().id())
}

#[test]
fn a_new_seed_reuses_the_embedding_and_a_released_encoder_loads_only_for_a_new_prompt() {
    let model = load("tiny-wan21", Residency::Released);
    assert!(
        !model.text_encoder_loaded(),
        "released after its check at load"
    );
    let mut r = Request::with_defaults(model.defaults(), unique("a lighthouse at dusk"));
    r.guidance = 1.0; // one prompt: the negative's embedding may be cached by another test
    r.scheduler = SchedulerKind::FlowEuler;
    r.steps = 2;
    let first = model.generate(&r, &mut |_| Flow::Continue).unwrap();
    assert_eq!(model.text_encoder_runs(), 1);
    assert!(!model.text_encoder_loaded(), "released after encoding");

    r.seed += 1;
    let other_seed = model.generate(&r, &mut |_| Flow::Continue).unwrap();
    assert_eq!(
        model.text_encoder_runs(),
        1,
        "a new seed does not encode again"
    );
    assert_ne!(first, other_seed);
    // Extra whitespace is cleaned away before the cache is asked: the same prompt.
    r.prompt = format!("  {}  ", r.prompt.replace(' ', "   "));
    model.generate(&r, &mut |_| Flow::Continue).unwrap();
    assert_eq!(
        model.text_encoder_runs(),
        1,
        "the cleaned prompt is the key"
    );

    r.prompt = unique("a lighthouse at dawn");
    model.generate(&r, &mut |_| Flow::Continue).unwrap();
    assert_eq!(model.text_encoder_runs(), 2, "a new prompt is encoded");
    assert!(!model.text_encoder_loaded());

    // Another model of the same package shares the embeddings; a kept encoder stays loaded.
    let kept = load("tiny-wan21", Residency::Kept);
    assert!(kept.text_encoder_loaded());
    kept.generate(&r, &mut |_| Flow::Continue).unwrap();
    assert_eq!(kept.text_encoder_runs(), 0, "cached by the first model");
    let auto = load("tiny-wan21", Residency::Auto);
    assert!(
        auto.text_encoder_loaded(),
        "a small encoder is kept by default"
    );
}

#[test]
fn a_released_encoder_is_not_loaded_again_from_a_changed_package() {
    let copy = common::copy_of(&package("tiny-wan21"));
    common::init_runtime();
    let options = RuntimeOptions {
        text_encoder: Residency::Released,
        ..RuntimeOptions::default()
    };
    let model = Model::load(copy.path(), &options).unwrap();
    common::edit_json(&copy.path().join("text_encoder/config.json"), |v| {
        v["note"] = "edited".into()
    });
    let mut r = Request::with_defaults(model.defaults(), unique("a changed package"));
    r.scheduler = SchedulerKind::FlowEuler;
    let err = model.generate(&r, &mut |_| Flow::Continue).unwrap_err();
    assert!(matches!(err, EngineError::Package { .. }), "{err}");
    assert!(
        err.to_string()
            .ends_with("changed since the model was loaded; render again to load it anew"),
        "{err}"
    );
}
