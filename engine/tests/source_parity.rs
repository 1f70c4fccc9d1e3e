//! Video-to-video and image-to-video against diffusers on the tiny fixtures (ground truth by
//! models/fixtures/make_fixtures.py and make_wan_fixtures.py from our seeded noise): the VAE encoders,
//! ModelScope's `VideoToVideoSDPipeline` (DDIM), Wan2.1's `WanVideoToVideoPipeline` (UniPC) and Wan2.2 TI2V's
//! image-to-video, plus what the strength means: 0 gives the source through the VAE, more moves further.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use t2v_engine::{Flow, Model, Request, RuntimeOptions, SchedulerKind, SourceVideo, Video};

fn expected(name: &str) -> Value {
    let path = common::fixtures().join(format!("{name}-expected/expected.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn data(name: &str, file: &str) -> Vec<f32> {
    common::read_f32(&common::fixtures().join(format!("{name}-expected/{file}")))
}

fn load(name: &str) -> Model {
    common::init_runtime();
    let dir: PathBuf = common::fixtures().join(name);
    Model::load(&dir, &RuntimeOptions::default()).unwrap()
}

/// The fixture's source clip as frames of the engine's layout.
fn source(name: &str, e: &Value) -> Vec<Arc<[f32]>> {
    let files = e.get("files").unwrap_or(e);
    let shape = files["source"]["shape"].as_array().unwrap();
    let per_frame: usize = shape[1..]
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .product();
    data(name, files["source"]["file"].as_str().unwrap())
        .chunks(per_frame)
        .map(Arc::from)
        .collect()
}

fn max_abs_diff(video: &Video, want: &[f32]) -> f32 {
    let got: Vec<f32> = video.frames.concat();
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

fn mean_abs_diff(a: &Video, b: &Video) -> f32 {
    let (a, b) = (a.frames.concat(), b.frames.concat());
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

fn generate(model: &Model, r: &Request) -> Video {
    model.generate(r, &mut |_| Flow::Continue).unwrap()
}

/// The request of a fixture's run `run` (`v2v`, `i2v`) on its expected.json.
fn run_request(e: &Value, run: &str, frames: usize) -> Request {
    let base = e.get("request").unwrap_or(e);
    let r = &e[run];
    let number = |k: &str| r.get(k).or(base.get(k)).unwrap().as_f64().unwrap();
    Request {
        prompt: base["prompt"].as_str().unwrap().into(),
        negative_prompt: base["negative_prompt"].as_str().unwrap().into(),
        seed: r["seed"].as_u64().unwrap(),
        steps: number("steps") as u32,
        guidance: number("guidance") as f32,
        scheduler: SchedulerKind::from_name(r["scheduler"].as_str().unwrap()).unwrap(),
        width: base["width"].as_u64().unwrap() as u32,
        height: base["height"].as_u64().unwrap() as u32,
        frames: frames as u32,
        source: None,
        start_image: None,
    }
}

fn v2v_matches(name: &str, tolerance: f32) {
    let (model, e) = (load(name), expected(name));
    let frames = source(name, &e);
    let r = Request {
        source: Some(SourceVideo {
            frames: frames.clone(),
            strength: e["v2v"]["strength"].as_f64().unwrap() as f32,
        }),
        ..run_request(&e, "v2v", frames.len())
    };
    let mut steps = Vec::new();
    let video = model
        .generate(&r, &mut |p| {
            steps.push((p.step, p.steps));
            Flow::Continue
        })
        .unwrap();
    let runs = e["v2v"]["timesteps"].as_array().unwrap().len() as u32;
    assert_eq!(
        steps.last(),
        Some(&(runs, runs)),
        "{name}: the last steps run"
    );
    let diff = max_abs_diff(&video, &data(name, "frames-v2v.f32"));
    eprintln!("{name} video-to-video: max abs diff {diff}");
    assert!(diff < tolerance, "{name}: max abs diff {diff}");
}

#[test]
fn modelscope_video_to_video_matches_diffusers() {
    v2v_matches("tiny-modelscope", 1e-4);
}

#[test]
fn wan21_video_to_video_matches_diffusers() {
    v2v_matches("tiny-wan21", 1e-3);
}

#[test]
fn wan22_ti2v_image_to_video_matches_diffusers_and_starts_at_the_image() {
    let name = "tiny-wan22-ti2v";
    let (model, e) = (load(name), expected(name));
    let frames = source(name, &e);
    let n = e["i2v"]["shape"][0].as_u64().unwrap() as usize;
    let r = Request {
        start_image: Some(frames[0].clone()),
        ..run_request(&e, "i2v", n)
    };
    let video = generate(&model, &r);
    let diff = max_abs_diff(&video, &data(name, "frames-i2v.f32"));
    eprintln!("{name} image-to-video: max abs diff {diff}");
    assert!(diff < 1e-3, "{name}: max abs diff {diff}");
    // The first frame is the image through the VAE: the first latent frame of its encoding, decoded.
    let encoded = data(name, "encoded.f32");
    let shape = e["files"]["encoded"]["shape"].as_array().unwrap();
    let dims: Vec<usize> = shape.iter().map(|d| d.as_u64().unwrap() as usize).collect();
    let plane = dims[3] * dims[4];
    let first: Vec<f32> = (0..dims[1])
        .flat_map(|c| encoded[c * dims[2] * plane..][..plane].to_vec())
        .collect();
    let image = model
        .decode_latents(&first, [1, dims[1], 1, dims[3], dims[4]])
        .unwrap();
    let first_frame = Video {
        frames: video.frames[..1].to_vec(),
        ..video.clone()
    };
    let diff = max_abs_diff(&first_frame, &image.frames[0]);
    assert!(diff < 1e-5, "first frame against the decoded image: {diff}");
}

/// Strength 0 runs no step: the source encoded (as diffusers' VAE encodes it) and decoded; 1 is
/// text-to-video.
#[test]
fn strength_goes_from_the_source_through_the_vae_to_pure_generation() {
    let name = "tiny-modelscope";
    let (model, e) = (load(name), expected(name));
    let frames = source(name, &e);
    let base = Request {
        steps: 8,
        ..run_request(&e, "v2v", frames.len())
    };
    let at = |strength: f32| {
        generate(
            &model,
            &Request {
                source: Some(SourceVideo {
                    frames: frames.clone(),
                    strength,
                }),
                ..base.clone()
            },
        )
    };
    let shape = [1, 4, frames.len(), 12, 16];
    let through_vae = model
        .decode_latents(&data(name, "encoded.f32"), shape)
        .unwrap();
    let zero = at(0.0);
    let diff = max_abs_diff(&zero, &through_vae.frames.concat());
    assert!(diff < 1e-5, "strength 0 against the VAE round trip: {diff}");
    assert_eq!(at(1.0), generate(&model, &base));
    // This random tiny UNet jumps away at once; that strengths move monotonically is tested on the
    // trained default model through the host (tests/tests/source.rs).
    assert!(mean_abs_diff(&at(0.25), &zero) > 1e-3);
}

/// Without native image conditioning (ModelScope), the start image is kept as the first latent frame:
/// the first frame is the image through the VAE.
#[test]
fn a_start_image_is_the_first_frame_through_the_vae() {
    let name = "tiny-modelscope";
    let (model, e) = (load(name), expected(name));
    let frames = source(name, &e);
    let base = run_request(&e, "v2v", 3);
    let video = generate(
        &model,
        &Request {
            start_image: Some(frames[0].clone()),
            ..base.clone()
        },
    );
    let round_trip = generate(
        &model,
        &Request {
            frames: 1,
            source: Some(SourceVideo {
                frames: frames[..1].to_vec(),
                strength: 0.0,
            }),
            ..base.clone()
        },
    );
    let first = Video {
        frames: video.frames[..1].to_vec(),
        ..video.clone()
    };
    let diff = max_abs_diff(&first, &round_trip.frames[0]);
    assert!(
        diff < 1e-5,
        "first frame against the image through the VAE: {diff}"
    );
    let plain = generate(&model, &base);
    assert!(
        mean_abs_diff(&video, &plain) > 1e-3,
        "the image changes the clip"
    );
}
