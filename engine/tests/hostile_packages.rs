//! Packages made to break the engine: absurd sizes, config numbers that overflow or give garbage frames,
//! links out of the package folder, files replaced while a model loads. Each ends in an error that names
//! what is wrong, before anything large is allocated; none panics.

mod common;

use std::path::Path;

use serde_json::{json, Value};
use t2v_engine::{model_identity, EngineError, Flow, Model, ModelPackage, Request, RuntimeOptions};

/// What opening a copy of the fixture edited by `edit` reports after the "model folder <copy>: " prefix.
fn open_error(edit: impl FnOnce(&Path)) -> String {
    let copy = common::package_copy();
    edit(copy.path());
    let err = ModelPackage::open(copy.path()).unwrap_err().to_string();
    let prefix = format!("model folder {}: ", copy.path().display());
    match err.strip_prefix(&prefix) {
        Some(rest) => rest.to_owned(),
        None => panic!("{err:?} does not start with {prefix:?}"),
    }
}

/// Sets `key` of the JSON object in the package file `rel` (`null` removes it).
fn set(dir: &Path, rel: &str, key: &str, value: Value) {
    common::edit_json(&dir.join(rel), |v| {
        let object = v.as_object_mut().unwrap();
        match value {
            Value::Null => object.remove(key),
            value => object.insert(key.to_owned(), value),
        };
    });
}

fn defaults(dir: &Path, values: Value) {
    common::edit_json(&dir.join("model_index.json"), |v| {
        for (key, value) in values.as_object().unwrap() {
            v["t2v_defaults"][key] = value.clone();
        }
    });
}

#[test]
fn absurd_frame_counts_and_sizes_are_refused_before_anything_is_allocated() {
    // "Frames" left at the model default: 2³²−1 frames would be a multi-terabyte allocation.
    assert_eq!(
        open_error(|p| defaults(
            p,
            json!({"frames": 4294967295u32, "max_frames": 4294967295u32})
        )),
        "model_index.json: t2v_defaults `frames` 4294967295 is more than 1024"
    );
    assert_eq!(
        open_error(|p| defaults(p, json!({"max_frames": 4294967295u32}))),
        "model_index.json: t2v_defaults `max_frames` 4294967295 is more than 1024"
    );
    assert_eq!(
        open_error(|p| defaults(
            p,
            json!({"frames": 1024, "max_frames": 1024, "width": 4096, "height": 4096})
        )),
        "model_index.json: t2v_defaults: the UNet input [2, 4, 1024, 2048, 2048] would hold more than \
         1073741824 values (the engine's limit); ask for fewer frames or a smaller size"
    );

    // A package that allows long clips still refuses a request too large to hold, before drawing its noise.
    let copy = common::package_copy();
    defaults(copy.path(), json!({"max_frames": 1024}));
    common::init_runtime();
    let model = Model::load(copy.path(), &RuntimeOptions::default()).unwrap();
    let request = Request {
        frames: 1024,
        width: 4096,
        height: 4096,
        ..Request::with_defaults(model.defaults(), "a cat")
    };
    let want =
        "invalid request: the UNet input [2, 4, 1024, 2048, 2048] would hold more than 1073741824 \
                values (the engine's limit); ask for fewer frames or a smaller size";
    assert_eq!(
        model.package().validate(&request).unwrap_err().to_string(),
        want
    );
    let err = model
        .generate(&request, &mut |_| Flow::Continue)
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidRequest(_)), "{err:?}");
    assert_eq!(err.to_string(), want);
    // …and the largest clip within the limit passes the check.
    let fits = Request {
        frames: 21,
        ..request
    };
    assert!(model.package().validate(&fits).is_ok());
}

#[test]
fn hostile_config_values_are_package_errors_not_panics_or_garbage() {
    const TEXT: &str = "text_encoder/config.json";
    const UNET: &str = "unet/config.json";
    const VAE: &str = "vae_decoder/config.json";
    const SCHED: &str = "scheduler/scheduler_config.json";
    let eight = json!([8, 8, 8, 8, 8, 8, 8, 8]);
    type Edit = Box<dyn Fn(&Path)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            // 8 VAE and 8 UNet levels: sides would be multiples of 2⁷·2⁷ (this was a `clamp` panic)
            Box::new(move |p| {
                set(p, VAE, "block_out_channels", eight.clone());
                set(p, UNET, "down_block_types", eight.clone());
            }),
            "sides must be multiples of 16384 (8 VAE levels, 8 UNet levels), more than the largest side 4096",
        ),
        (
            Box::new(|p| {
                set(p, TEXT, "hidden_size", json!(1_000_000));
                set(p, UNET, "cross_attention_dim", json!(1_000_000));
            }),
            "text_encoder/config.json: `hidden_size` 1000000 is more than 65536",
        ),
        (
            Box::new(|p| set(p, UNET, "in_channels", json!(100_000))),
            "unet/config.json: `in_channels` 100000 is more than 1024",
        ),
        (
            Box::new(|p| set(p, UNET, "in_channels", json!(u64::MAX))),
            "unet/config.json: `in_channels` 18446744073709551615 is more than 1024",
        ),
        (
            Box::new(|p| {
                set(p, TEXT, "max_position_embeddings", json!(100_000));
                common::edit_json(&p.join("tokenizer/tokenizer_config.json"), |v| {
                    v["model_max_length"] = json!(100_000)
                });
            }),
            "tokenizer: sequence length 100000 is more than 4096",
        ),
        (
            // 1/1e-40 is infinite in f32: black frames
            Box::new(|p| set(p, VAE, "scaling_factor", json!(1e-40))),
            "vae_decoder/config.json: `scaling_factor` must be a number from 0.0001 to 10000, not 1e-40",
        ),
        (
            Box::new(|p| set(p, VAE, "scaling_factor", json!(1e300))),
            "vae_decoder/config.json: `scaling_factor` must be a number from 0.0001 to 10000, not 1e+300",
        ),
        (
            Box::new(|p| set(p, SCHED, "beta_end", json!(1.5))),
            "scheduler/scheduler_config.json: beta_start 0.00085 and beta_end 1.5 must satisfy \
             0 < beta_start < beta_end < 1",
        ),
        (
            Box::new(|p| set(p, SCHED, "beta_start", json!(-0.1))),
            "scheduler/scheduler_config.json: beta_start -0.1 and beta_end 0.012 must satisfy \
             0 < beta_start < beta_end < 1",
        ),
        (
            Box::new(|p| set(p, SCHED, "beta_start", json!(0.02))),
            "scheduler/scheduler_config.json: beta_start 0.02 and beta_end 0.012 must satisfy \
             0 < beta_start < beta_end < 1",
        ),
        (
            // within (0, 1) as f64, but 1 once it is an f32
            Box::new(|p| set(p, SCHED, "beta_end", json!(0.999999999))),
            "scheduler/scheduler_config.json: beta_start 0.00085 and beta_end 0.999999999 must satisfy \
             0 < beta_start < beta_end < 1",
        ),
        (
            Box::new(|p| {
                set(p, SCHED, "num_train_timesteps", json!(2));
                set(p, SCHED, "trained_betas", json!([0.5, 1.0]));
            }),
            "scheduler/scheduler_config.json: `trained_betas` hold 1.0, outside 0 < β < 1",
        ),
        (
            Box::new(|p| {
                set(p, SCHED, "num_train_timesteps", json!(100));
                set(p, SCHED, "trained_betas", json!(vec![0.9; 100]));
            }),
            "scheduler/scheduler_config.json: ᾱ at training timestep 37 is too small to compute with \
             (the betas are too large)",
        ),
        (
            Box::new(|p| set(p, SCHED, "steps_offset", json!(1e300))),
            "scheduler/scheduler_config.json: steps_offset 1e+300 must be a whole number from 0 to 999",
        ),
        (
            Box::new(|p| set(p, SCHED, "shift", json!(1e9))),
            "scheduler/scheduler_config.json: shift 1000000000.0 must be above 0 and at most 1000",
        ),
        (
            Box::new(|p| set(p, SCHED, "clip_sample_range", json!(0))),
            "scheduler/scheduler_config.json: `clip_sample_range` 0.0 must be a positive number",
        ),
        (
            Box::new(|p| set(p, SCHED, "timestep_scaling", json!(1e-300))),
            "scheduler/scheduler_config.json: `timestep_scaling` 1e-300 must be a positive number",
        ),
        (
            Box::new(|p| defaults(p, json!({"guidance": 1e30}))),
            "model_index.json: t2v_defaults `guidance` must be a number from 0 to 100, not 1e+30",
        ),
        (
            Box::new(|p| defaults(p, json!({"fps": 1e300}))),
            "model_index.json: t2v_defaults `fps` must be a number above 0 up to 1000, not 1e+300",
        ),
        (
            Box::new(|p| defaults(p, json!({"steps": 4294967295u32}))),
            "model_index.json: t2v_defaults `steps` 4294967295 is more than 1000",
        ),
        (
            Box::new(|p| defaults(p, json!({"width": 4294967295u32}))),
            "model_index.json: t2v_defaults `width` 4294967295 is more than 4096",
        ),
        (
            // a configuration file read into memory whole: bounded first (a sparse file, so cheap to make)
            Box::new(|p| {
                let f = std::fs::File::create(p.join("unet/notes.json")).unwrap();
                f.set_len(65 << 20).unwrap();
            }),
            "unet/notes.json is 68157440 bytes, more than the 67108864 a configuration file may have",
        ),
    ];
    let wrong: Vec<_> = cases
        .into_iter()
        .map(|(edit, want)| (open_error(edit), want))
        .filter(|(got, want)| got != want)
        .collect();
    assert!(wrong.is_empty(), "(got, expected): {wrong:#?}");

    // A huge `sample_size` only caps the native size; it neither overflows nor panics.
    let copy = common::package_copy();
    set(copy.path(), UNET, "sample_size", json!(4294967295u32));
    common::edit_json(&copy.path().join("model_index.json"), |v| {
        let d = v["t2v_defaults"].as_object_mut().unwrap();
        d.remove("width");
        d.remove("height");
    });
    let package = ModelPackage::open(copy.path()).unwrap();
    assert_eq!(
        (package.defaults().width, package.defaults().height),
        (4096, 4096)
    );
}

#[test]
fn guidance_out_of_its_range_is_refused() {
    let package = ModelPackage::open(common::package()).unwrap();
    for (guidance, want) in [
        (
            1e30f32,
            "guidance must be between 0 and 100 (got 1000000000000000000000000000000)",
        ),
        (-1.0, "guidance must be between 0 and 100 (got -1)"),
        (f32::INFINITY, "guidance must be a finite number (got inf)"),
    ] {
        let r = Request {
            guidance,
            ..Request::with_defaults(package.defaults(), "a cat")
        };
        assert_eq!(
            package.validate(&r).unwrap_err().to_string(),
            format!("invalid request: {want}")
        );
    }
}

#[test]
fn non_finite_values_fail_the_generation_instead_of_returning_garbage() {
    common::init_runtime();
    let model = Model::load(&common::package(), &RuntimeOptions::default()).unwrap();
    let r = Request::with_defaults(model.defaults(), "a cat");
    // the largest guidance allowed still gives finite frames
    let strongest = Request {
        guidance: 100.0,
        ..r.clone()
    };
    let video = model.generate(&strongest, &mut |_| Flow::Continue).unwrap();
    assert!(video
        .frames
        .concat()
        .iter()
        .all(|v| (0.0..=1.0).contains(v)));

    let shape = model.package().latent_shape(&r);
    for bad in [f32::NAN, f32::INFINITY] {
        let mut latents = vec![0.5f32; shape.iter().product()];
        latents[7] = bad;
        let err = model
            .generate_from_latents(&r, &latents, &mut |_| Flow::Continue)
            .unwrap_err();
        assert!(matches!(err, EngineError::NotFinite(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "denoising step 1 of 4 produced NaN or infinite values; the model or its settings are broken"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_component_folder_linked_out_of_the_package_is_refused_naming_it() {
    use std::os::unix::fs::symlink;
    let (copy, elsewhere) = (common::package_copy(), common::package_copy());
    let p = copy.path();
    std::fs::remove_dir_all(p.join("vae_decoder")).unwrap();
    symlink(elsewhere.path().join("vae_decoder"), p.join("vae_decoder")).unwrap();
    let want = format!(
        "model folder {}: vae_decoder is a link to {}, outside the model folder",
        p.display(),
        std::fs::canonicalize(elsewhere.path().join("vae_decoder"))
            .unwrap()
            .display()
    );
    assert_eq!(ModelPackage::open(p).unwrap_err().to_string(), want);
    common::init_runtime();
    assert_eq!(
        Model::load(p, &RuntimeOptions::default())
            .unwrap_err()
            .to_string(),
        want
    );
    assert_eq!(model_identity(p).unwrap_err().to_string(), want);

    // The same folder moved inside the package and linked there is fine, and it is the same model.
    let original = model_identity(elsewhere.path()).unwrap();
    std::fs::remove_file(p.join("vae_decoder")).unwrap();
    std::fs::rename(elsewhere.path().join("vae_decoder"), p.join("shared-vae")).unwrap();
    symlink("shared-vae", p.join("vae_decoder")).unwrap();
    let model = Model::load(p, &RuntimeOptions::default()).unwrap();
    assert_ne!(
        model.identity(),
        original,
        "the link's files are listed twice"
    );
    assert_eq!(model.identity(), model_identity(p).unwrap());
}

#[test]
fn a_model_swapped_before_it_loads_is_named_by_what_was_loaded() {
    common::init_runtime();
    let copy = common::package_copy();
    let p = copy.path();
    let before = model_identity(p).unwrap();
    // replaced atomically (write a new file, rename it over the old) after the identity was taken
    let config = p.join("vae_decoder/config.json");
    let new = p.join("vae_decoder/config.json.new");
    std::fs::copy(&config, &new).unwrap();
    set(
        p,
        "vae_decoder/config.json.new",
        "scaling_factor",
        json!(0.25),
    );
    std::fs::rename(&new, &config).unwrap();
    let model = Model::load(p, &RuntimeOptions::default()).unwrap();
    assert_eq!(model.package().shapes().scaling_factor, 0.25);
    assert_ne!(model.identity(), before);
    assert_eq!(model.identity(), model_identity(p).unwrap());
}

/// Every setting of every config, one at a time, set to each of a list of hostile values: opening the package
/// never panics, and a package that opens keeps the promises the rest of the engine relies on.
#[test]
fn no_single_hostile_setting_makes_opening_panic() {
    let copy = common::package_copy();
    let p = copy.path();
    let hostile = [
        json!(0),
        json!(-1),
        json!(0.5),
        json!(u32::MAX),
        json!(u64::MAX),
        json!(1e300),
        json!(1e-300),
        json!("x"),
        json!([]),
        json!([0, 0, 0, 0, 0, 0, 0, 0, 0]),
        json!({}),
    ];
    let files = [
        "model_index.json",
        "text_encoder/config.json",
        "unet/config.json",
        "vae_decoder/config.json",
        "scheduler/scheduler_config.json",
        "tokenizer/tokenizer_config.json",
    ];
    let mut opened = 0;
    for rel in files {
        let original = std::fs::read_to_string(p.join(rel)).unwrap();
        let parsed: Value = serde_json::from_str(&original).unwrap();
        let mut keys: Vec<Vec<String>> = parsed
            .as_object()
            .unwrap()
            .keys()
            .map(|k| vec![k.clone()])
            .collect();
        if let Some(Value::Object(d)) = parsed.get("t2v_defaults") {
            keys.extend(d.keys().map(|k| vec!["t2v_defaults".into(), k.clone()]));
        }
        for key in &keys {
            for value in &hostile {
                let mut edited = parsed.clone();
                let slot = key.iter().fold(&mut edited, |v, k| &mut v[k.as_str()]);
                *slot = value.clone();
                std::fs::write(p.join(rel), edited.to_string()).unwrap();
                let result = std::panic::catch_unwind(|| ModelPackage::open(p));
                let Ok(result) = result else {
                    panic!("{rel} {key:?} = {value} panics");
                };
                if let Ok(package) = result {
                    opened += 1;
                    let d = package.defaults();
                    let m = package.shapes().size_multiple;
                    assert!(m <= t2v_engine::MAX_SIDE, "{rel} {key:?} = {value}");
                    for side in [d.width, d.height] {
                        assert!(side % m == 0 && side <= t2v_engine::MAX_SIDE);
                    }
                    let r = Request::with_defaults(d, "a cat");
                    assert!(
                        package.validate(&r).is_ok(),
                        "{rel} {key:?} = {value}: the defaults are refused"
                    );
                }
            }
        }
        std::fs::write(p.join(rel), original).unwrap();
    }
    assert!(opened > 0, "some harmless values open");
}
