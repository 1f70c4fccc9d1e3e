//! Conditioning the shared loop: video-to-video sources, start images, windows for long clips and prompt
//! schedules, on the tiny ModelScope fixture (32×24, at most 8 frames in one pass, windows of 3).

mod common;

use std::sync::Arc;

use t2v_engine::{Flow, Model, Request, RuntimeOptions, SourceVideo, StepProgress, Video};

fn model() -> Model {
    common::init_runtime();
    Model::load(&common::package(), &RuntimeOptions::default()).unwrap()
}

fn request(model: &Model, frames: u32) -> Request {
    Request {
        seed: 7,
        frames,
        ..Request::with_defaults(model.defaults(), "a red fox running through snow")
    }
}

fn generate(model: &Model, r: &Request) -> Video {
    model.generate(r, &mut |_| Flow::Continue).unwrap()
}

fn frame(r: &Request, value: f32) -> Arc<[f32]> {
    vec![value; (r.width * r.height * 3) as usize].into()
}

fn max_diff(a: &Video, b: &Video) -> f32 {
    a.frames
        .iter()
        .flatten()
        .zip(b.frames.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn a_strength_of_one_reads_no_source_and_is_plain_text_to_video() {
    let model = model();
    let plain = request(&model, 3);
    let with_source = Request {
        source: Some(SourceVideo {
            frames: vec![frame(&plain, 0.5); 3],
            strength: 1.0,
        }),
        ..plain.clone()
    };
    assert_eq!(generate(&model, &with_source), generate(&model, &plain));
    assert_eq!(
        model.package().request_encoding(&with_source),
        model.package().request_encoding(&plain)
    );
}

#[test]
fn sources_and_start_images_are_checked_before_anything_runs() {
    let model = model();
    let r = request(&model, 3);
    let err = |r: Request| model.package().validate(&r).unwrap_err().to_string();
    let source = |frames: Vec<Arc<[f32]>>, strength: f32| Request {
        source: Some(SourceVideo { frames, strength }),
        ..r.clone()
    };
    assert_eq!(
        err(source(vec![frame(&r, 0.5); 3], 1.5)),
        "invalid request: source strength must be from 0 to 1 (got 1.5)"
    );
    assert_eq!(
        err(source(vec![frame(&r, 0.5); 3], f32::NAN)),
        "invalid request: source strength must be from 0 to 1 (got NaN)"
    );
    assert_eq!(
        err(source(vec![frame(&r, 0.5); 2], 0.5)),
        "invalid request: the source has 2 frames; the clip has 3"
    );
    assert_eq!(
        err(source(vec![vec![0.5; 12].into(); 3], 0.5)),
        "invalid request: source frames must be 32×24 RGB with finite values"
    );
    assert_eq!(
        err(source(vec![frame(&r, f32::INFINITY); 3], 0.5)),
        "invalid request: source frames must be 32×24 RGB with finite values"
    );
    assert_eq!(
        err(Request {
            start_image: Some(vec![0.5; 5].into()),
            ..r.clone()
        }),
        "invalid request: the start image must be 32×24 RGB with finite values"
    );
}

#[test]
fn a_package_without_a_vae_encoder_says_what_it_lacks() {
    let copy = common::package_copy();
    let _ = std::fs::remove_dir_all(copy.path().join("vae_encoder"));
    common::init_runtime();
    let model = Model::load(copy.path(), &RuntimeOptions::default()).unwrap();
    assert!(!model.package().can_encode());
    let r = request(&model, 3);
    let text = format!(
        "invalid request: {} has no VAE encoder (vae_encoder/), which video-to-video and start images \
         need; export it again with models/export_diffusers.py",
        model.package().name()
    );
    let with_image = Request {
        start_image: Some(frame(&r, 0.5)),
        ..r.clone()
    };
    assert_eq!(
        model
            .package()
            .validate(&with_image)
            .unwrap_err()
            .to_string(),
        text
    );
    let with_source = Request {
        source: Some(SourceVideo {
            frames: vec![frame(&r, 0.5); 3],
            strength: 0.5,
        }),
        ..r
    };
    let err = model
        .generate(&with_source, &mut |_| Flow::Continue)
        .unwrap_err();
    assert_eq!(err.to_string(), text);
}

#[test]
fn a_one_key_schedule_is_its_prompt_and_bad_schedules_name_the_line() {
    let model = model();
    let plain = request(&model, 3);
    let keyed = Request {
        prompt: "0: a red fox running through snow".into(),
        ..plain.clone()
    };
    assert_eq!(generate(&model, &keyed), generate(&model, &plain));
    let bad = Request {
        prompt: "0: a fox\n0: a hare".into(),
        ..plain
    };
    assert_eq!(
        model.package().validate(&bad).unwrap_err().to_string(),
        "invalid request: prompt schedule line \"0: a hare\": frame 0 must come after frame 0"
    );
}

/// 12 frames on a model of 8: windows of 3 frames over 12 latent frames ([0, 3), [2, 5), … [9, 12)).
#[test]
fn long_clips_run_in_windows_with_every_frame_and_the_same_frames_each_time() {
    let model = model();
    let r = request(&model, 12);
    assert!(model.package().is_windowed(12) && !model.package().is_windowed(8));
    let mut steps = Vec::new();
    let video = model
        .generate(&r, &mut |p: StepProgress| {
            steps.push(p.step);
            Flow::Continue
        })
        .unwrap();
    assert_eq!(video.frames.len(), 12);
    assert_eq!(steps, (0..=r.steps).collect::<Vec<_>>());
    assert_eq!(generate(&model, &r), video);
    // Not one window repeated; a schedule's second prompt changes the end.
    assert!(
        max_diff(
            &Video {
                frames: video.frames[..3].to_vec(),
                ..video.clone()
            },
            &Video {
                frames: video.frames[9..].to_vec(),
                ..video.clone()
            }
        ) > 1e-3
    );
    let scheduled = Request {
        prompt: "0: a red fox running through snow\n6: a blue boat on a lake".into(),
        ..r.clone()
    };
    let changed = generate(&model, &scheduled);
    let tail = |v: &Video| Video {
        frames: v.frames[9..].to_vec(),
        ..v.clone()
    };
    assert!(max_diff(&tail(&changed), &tail(&video)) > 1e-3);
}

/// What the plugin does to keep latents for a failed decode: sampling, then decoding, is generating.
#[test]
fn sampling_then_decoding_is_generating() {
    let model = model();
    let r = request(&model, 3);
    let (sampled, _) = model
        .sample_with_stats(&r, &mut |_| Flow::Continue)
        .unwrap();
    assert_eq!(sampled.shape, model.package().latent_shape(&r));
    let (video, _) = model
        .decode_with_stats(&sampled.latents, sampled.shape)
        .unwrap();
    assert_eq!(video, generate(&model, &r));
}

/// The denoiser binds a generation's text contexts once (ONNX Runtime I/O binding) and releases them at
/// its end: one loaded model then gives every request, in any order (windows with a schedule's contexts,
/// unguided with a batch of one, guided), exactly what a freshly loaded model gives it.
#[test]
fn bound_contexts_never_leak_from_one_generation_into_the_next() {
    let shared = model();
    let plain = request(&shared, 4);
    let requests = [
        Request {
            prompt: "0: a red fox running through snow\n6: a blue boat on a lake".into(),
            ..request(&shared, 12)
        },
        Request {
            prompt: "a blue boat on a lake".into(),
            guidance: 1.0,
            ..plain.clone()
        },
        plain.clone(),
        Request {
            negative_prompt: "snow".into(),
            ..plain
        },
    ];
    let videos: Vec<Video> = requests.iter().map(|r| generate(&shared, r)).collect();
    for (r, video) in requests.iter().zip(&videos) {
        assert_eq!(&generate(&model(), r), video, "{:?}", r.prompt);
    }
    assert!(max_diff(&videos[2], &videos[3]) > 1e-3);
}
