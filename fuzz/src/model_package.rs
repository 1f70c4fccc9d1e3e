//! A model package folder whose configs and tokenizer come from the fuzzer.
//!
//! Input: `model_index.json`, the text encoder, unet and vae configs, `scheduler_config.json`,
//! `tokenizer.json` and a prompt, separated by [`SEPARATOR`](crate::SEPARATOR). The ONNX files are empty:
//! opening a package reads only configs and the tokenizer. A package that opens must keep the promises the
//! plugin relies on: sizes that fit the model, a tokenizer that encodes any prompt to its fixed length or
//! says why not, and every scheduler giving finite samples for the default step count.

use std::fs;

use t2v_engine::{
    ModelPackage, NoiseStream, Scheduler, SchedulerKind, MAX_SIDE, TEXT_ENCODER_FILE, UNET_FILE,
    VAE_DECODER_FILE,
};

/// Where each input section goes, in order; the last section is the prompt.
pub const FILES: [&str; 6] = [
    "model_index.json",
    "text_encoder/config.json",
    "unet/config.json",
    "vae_decoder/config.json",
    "scheduler/scheduler_config.json",
    "tokenizer/tokenizer.json",
];

/// Longest denoising run tried per scheduler, so one input stays fast.
const MAX_STEPS: usize = 64;

pub fn check(data: &[u8]) {
    let parts = crate::sections::<7>(data);
    let dir = tempfile::tempdir().expect("temporary folder");
    for (rel, bytes) in FILES.iter().zip(parts) {
        write(&dir.path().join(rel), bytes);
    }
    for rel in [TEXT_ENCODER_FILE, UNET_FILE, VAE_DECODER_FILE] {
        write(&dir.path().join(rel), b"");
    }
    let Ok(package) = ModelPackage::open(dir.path()) else {
        return;
    };
    let defaults = package.defaults();
    let multiple = package.shapes().size_multiple;
    for side in [defaults.width, defaults.height] {
        assert!(
            side > 0 && side <= MAX_SIDE && side % multiple == 0,
            "default side {side} does not fit multiple {multiple}"
        );
    }
    let prompt = String::from_utf8_lossy(parts[6]);
    if let Ok(ids) = package.tokenizer().encode(&prompt) {
        assert_eq!(ids.len(), package.tokenizer().length(), "prompt {prompt:?}");
    }
    let steps = defaults.steps.clamp(1, MAX_STEPS as u32) as usize;
    for kind in SchedulerKind::ALL {
        if let Ok(scheduler) = kind.build(package.scheduler_config(), steps) {
            denoise(scheduler, kind);
        }
    }
}

/// Runs every step on a small sample with a zero model output and checks the sample stays finite.
fn denoise(mut scheduler: Box<dyn Scheduler>, kind: SchedulerKind) {
    let mut noise = NoiseStream::new(0);
    let mut sample: Vec<f32> = noise.take(8);
    let output = vec![0.0f32; sample.len()];
    for step in 0..scheduler.timesteps().len() {
        let input = scheduler.scale_model_input(step, &sample);
        assert!(
            input.iter().all(|v| v.is_finite()),
            "{kind:?} step {step}: model input {input:?}"
        );
        scheduler.step(step, &output, &mut sample, &mut noise);
        assert!(
            sample.iter().all(|v| v.is_finite()),
            "{kind:?} step {step}: sample {sample:?}"
        );
    }
}

fn write(path: &std::path::Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().expect("file in a folder")).expect("create folder");
    fs::write(path, bytes).expect("write input file");
}
