//! The integration assertions that hold on every platform the bundle ships for. CI runs this file
//! natively on Linux and, cross-compiled for Windows, under wine against `Contents/Win64` (see
//! scripts/test.sh): describe, float and byte renders, two render threads, the disk cache, an error
//! message, and the default model's frames equal bit for bit to the Linux build's.

mod common;

use ofx_host::{Components, Context, Depth, HostConfig, MessageKind, Render, Samples, ARCH_DIR};
use ofx_sys::*;
use std::path::{Path, PathBuf};

#[test]
fn describes_with_its_identity_contexts_and_bundled_model() {
    let session = common::load(HostConfig::default());
    assert_eq!(
        session.identity(),
        ("org.texttovideo.TextToVideo".to_string(), 1, 0)
    );
    let d = session.descriptor();
    assert_eq!(d.string(kOfxPropLabel, 0).as_deref(), Some("Text to Video"));
    let contexts = d.strings(kOfxImageEffectPropSupportedContexts);
    for context in [
        "OfxImageEffectContextGenerator",
        "OfxImageEffectContextGeneral",
    ] {
        assert!(contexts.iter().any(|c| c == context), "{contexts:?}");
    }
    // the model menu lists the model inside the bundle: the plugin found its own folder
    let instance = session.create_instance(Context::Generator).unwrap();
    instance.set_param("model", 0).unwrap();
    assert_eq!(
        instance.param("modelName"),
        Some(ofx_host::ParamValue::Text("tiny-shapes".into()))
    );
    instance.destroy().unwrap();
    session.unload().unwrap();
}

#[test]
fn float_and_byte_renders_on_two_threads_are_one_clip_stored_on_disk() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("seed", 11).unwrap();
    // nothing generated yet: two threads ask for the clip at once and get one generation
    let both = instance.render_all(&[Render::frame(1.0), Render::frame(1.0)], 2);
    let images: Vec<_> = both.into_iter().map(Result::unwrap).collect();
    assert_eq!(images[0], images[1]);
    common::assert_picture(&images[0]);
    assert_eq!(
        common::entries(cache.path()).len(),
        1,
        "the clip is stored in the cache folder"
    );

    // byte output is the float picture quantised, served from the cache (no generation)
    session.clear_log();
    let float = images[0].to_f32();
    instance.set_output_format(Depth::Byte, Components::Rgba);
    let byte = instance.render(&Render::frame(1.0)).unwrap();
    assert!(session.progress().is_empty(), "served without generating");
    let Samples::Byte(bytes) = &byte.samples else {
        panic!("byte image expected")
    };
    let quantised: Vec<u8> = float
        .iter()
        .map(|f| (f.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    assert_eq!(bytes, &quantised);
}

#[test]
fn a_missing_model_fails_the_render_and_says_which_folder() {
    let (cache, empty) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance
        .set_param("customModel", empty.path().to_string_lossy().as_ref())
        .unwrap();
    common::failed_render(instance.render(&Render::frame(0.0)));
    let messages = session.messages();
    let error = messages
        .iter()
        .find(|m| m.kind == MessageKind::Persistent && m.level == "OfxMessageError")
        .unwrap_or_else(|| panic!("no persistent error in {messages:?}"));
    assert!(
        error.text.contains(&*empty.path().to_string_lossy()),
        "the message names the folder: {}",
        error.text
    );
    assert!(common::entries(cache.path()).is_empty(), "nothing cached");
}

/// Windows keeps the per-user cache, models and logs all under `%LOCALAPPDATA%`: the default cache folder
/// must not be the one that also holds `models` and `logs` (the cache refuses a folder holding others'
/// things, and would then store nothing).
#[cfg(windows)]
#[test]
fn the_default_cache_folder_stores_clips_beside_the_models_and_logs() {
    let local = PathBuf::from(std::env::var_os("LOCALAPPDATA").expect("LOCALAPPDATA is set"));
    let ours = local.join("TextToVideo");
    for dir in ["models", "logs"] {
        std::fs::create_dir_all(ours.join(dir)).unwrap();
    }
    let cache = ours.join("Cache");
    let before = common::entries(&cache).len();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, Path::new(""));
    // a seed never rendered before: this clip must be generated and stored now
    instance.set_param("seed", fastrand::i32(1000..)).unwrap();
    instance.render(&Render::frame(0.0)).unwrap();
    assert_eq!(
        common::entries(&cache).len(),
        before + 1,
        "{}",
        cache.display()
    );
}

/// Where each platform leaves the default model's frames: the workspace's target folder (as the bundle),
/// shared by the native and the cross-compiled build, so the Windows run under wine finds the Linux run's.
fn frames_file(arch: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/platform-frames")
        .join(format!("{arch}.f32"))
}

/// The bundled default model's first three frames (seed 5, 4 steps) as float RGBA, little-endian bytes.
/// The Linux run writes them; the Windows run also checks that its own are the same bit for bit
/// (scripts/test.sh runs the Linux tests first).
#[test]
fn the_default_model_gives_the_same_bits_on_every_platform() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = session.create_instance(Context::Generator).unwrap();
    for (name, value) in [
        ("model", 0),
        ("seed", 5),
        ("frames", 3),
        ("steps", 4),
        ("outputSize", 1),
        ("timing", 2),
    ] {
        instance.set_param(name, value).unwrap();
    }
    instance
        .set_param("cacheFolder", cache.path().to_string_lossy().as_ref())
        .unwrap();
    let frames = instance
        .render_sequence(0.0, 2.0, &Render::frame(0.0), 2)
        .unwrap();
    let bytes: Vec<u8> = frames
        .iter()
        .inspect(|f| common::assert_picture(f))
        .flat_map(|f| f.to_f32())
        .flat_map(f32::to_le_bytes)
        .collect();
    let ours = frames_file(ARCH_DIR);
    std::fs::create_dir_all(ours.parent().unwrap()).unwrap();
    std::fs::write(&ours, &bytes).unwrap();
    if cfg!(windows) {
        let linux = frames_file("Linux-x86-64");
        let reference = std::fs::read(&linux).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run the Linux tests first, as scripts/test.sh does)",
                linux.display()
            )
        });
        assert!(
            reference == bytes,
            "the Windows frames differ from the Linux ones"
        );
    }
}
