//! Hostile model packages, driven through the shipped bundle: a package asking for absurd sizes, config
//! numbers that would give black frames or overflow, a component folder linked out of the package, and a
//! model replaced in place. Each render ends in a correct clip or a clear error on the node, nothing wrong is
//! cached, and the host never goes down.

mod common;

use ofx_host::{Context, HostConfig, Message, MessageKind, Render, Session};
use std::path::{Path, PathBuf};

/// A copy of the tiny fixture model in `root/name`, edited by `edit`.
fn package(root: &Path, name: &str, edit: impl FnOnce(&Path)) -> PathBuf {
    let dir = root.join(name);
    let copied = std::process::Command::new("cp")
        .arg("-R")
        .arg(common::fixture_model())
        .arg(&dir)
        .status()
        .unwrap();
    assert!(copied.success());
    edit(&dir);
    dir
}

/// Replaces `from` (which must be there) by `to` in the package file `rel` of `dir`.
fn replace(dir: &Path, rel: &str, from: &str, to: &str) {
    let path = dir.join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{rel} has no {from:?}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
}

/// The one error message the plugin sent, persistent when the host has them.
fn only_error(session: &Session) -> Message {
    let messages = session.messages();
    let found: Vec<&Message> = messages
        .iter()
        .filter(|m| m.level == "OfxMessageError")
        .collect();
    assert_eq!(found.len(), 1, "one error expected: {messages:?}");
    assert_eq!(found[0].kind, MessageKind::Persistent, "{messages:?}");
    found[0].clone()
}

/// Negates every weight of the UNet's first convolution in place: same size, other frames. In the ONNX
/// protobuf the initializer is its name (field 8) followed by its raw data (field 9, a varint length).
fn negate_first_convolution(unet: &Path) {
    let mut bytes = std::fs::read(unet).unwrap();
    let name = b"\x42\x13unet.conv_in.weight\x4a";
    let at = bytes
        .windows(name.len())
        .position(|w| w == name)
        .expect("the UNet stores conv_in.weight as raw data")
        + name.len();
    let (mut len, mut shift, mut i) = (0usize, 0, at);
    loop {
        len |= ((bytes[i] & 0x7f) as usize) << shift;
        shift += 7;
        i += 1;
        if bytes[i - 1] & 0x80 == 0 {
            break;
        }
    }
    assert_eq!(len, 16 * 4 * 3 * 3 * 4, "[16, 4, 3, 3] f32");
    for float in bytes[i..i + len].chunks_exact_mut(4) {
        float[3] ^= 0x80;
    }
    std::fs::write(unet, bytes).unwrap();
}

#[test]
fn a_model_replaced_in_place_with_its_size_and_mtime_kept_renders_the_new_model() {
    let (models, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dir = package(models.path(), "model", |_| {});
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance
        .set_param("customModel", dir.to_string_lossy().as_ref())
        .unwrap();
    let before = instance.render(&Render::frame(0.0)).unwrap();
    let first = common::entries(cache.path());
    assert_eq!(first.len(), 1);

    // new weights copied over the old file as `cp -p` does: same size, same mtime
    let unet = dir.join("unet/model.onnx");
    let old = std::fs::metadata(&unet).unwrap();
    negate_first_convolution(&unet);
    let file = std::fs::File::options().write(true).open(&unet).unwrap();
    file.set_modified(old.modified().unwrap()).unwrap();
    let new = std::fs::metadata(&unet).unwrap();
    assert_eq!(
        (new.len(), new.modified().unwrap()),
        (old.len(), old.modified().unwrap())
    );

    let after = instance.render(&Render::frame(0.0)).unwrap();
    common::assert_picture(&after);
    assert!(after != before, "the old model's clip was served");
    let second = common::entries(cache.path());
    assert_eq!(second.len(), 2, "a new clip key: {second:?}");

    // exactly what a clean render of the new package gives, generated again (its clip, under the same key,
    // is taken out of the process's memory first)
    let (fresh, fresh_cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let clean = package(fresh.path(), "model", |d| {
        negate_first_convolution(&d.join("unet/model.onnx"))
    });
    let other = common::instance(&session, Context::Generator, fresh_cache.path());
    other
        .set_param("customModel", clean.to_string_lossy().as_ref())
        .unwrap();
    other.press("clearClip").unwrap();
    session.clear_log();
    assert_eq!(other.render(&Render::frame(0.0)).unwrap(), after);
    assert!(!session.progress().is_empty(), "generated, not served");
    let new_key: Vec<_> = second.into_iter().filter(|k| !first.contains(k)).collect();
    assert_eq!(common::entries(fresh_cache.path()), new_key);
}

#[test]
fn hostile_packages_fail_the_render_with_a_message_and_cache_nothing() {
    let (models, outside, cache) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let root = models.path();
    let elsewhere = package(outside.path(), "other", |_| {}).join("vae_decoder");
    let cases: Vec<(PathBuf, String)> = vec![
        (
            // "Frames" left at the model default: this aborted the host on a multi-terabyte allocation
            package(root, "frames", |d| {
                let index = "model_index.json";
                replace(d, index, "\"frames\": 3,", "\"frames\": 4294967295,");
                replace(d, index, "\"max_frames\": 8,", "\"max_frames\": 4294967295,");
            }),
            "model_index.json: t2v_defaults `frames` 4294967295 is more than 1024".into(),
        ),
        (
            // latents divided by 1e-40 are infinite: black frames were cached
            package(root, "scaling", |d| {
                let (from, to) = ("\"scaling_factor\": 0.18215", "\"scaling_factor\": 1e-40");
                replace(d, "vae_decoder/config.json", from, to)
            }),
            "vae_decoder/config.json: `scaling_factor` must be a number from 0.0001 to 10000, not 1e-40"
                .into(),
        ),
        (
            package(root, "betas", |d| {
                let (from, to) = ("\"beta_end\": 0.012", "\"beta_end\": 1.5");
                replace(d, "scheduler/scheduler_config.json", from, to)
            }),
            "scheduler/scheduler_config.json: beta_start 0.00085 and beta_end 1.5 must satisfy \
             0 < beta_start < beta_end < 1"
                .into(),
        ),
        (
            // 8 resolution levels on both sides: a `clamp` panic that reached the host without a message
            package(root, "levels", |d| {
                let (vae, unet) = ("\"block_out_channels\": [", "\"down_block_types\": [");
                let six_more = |list: &str| format!("{list}{}", "\"x\", ".repeat(6));
                replace(d, "vae_decoder/config.json", vae, &six_more(vae));
                replace(d, "unet/config.json", unet, &six_more(unet));
            }),
            "sides must be multiples of 16384 (8 VAE levels, 8 UNet levels), more than the largest \
             side 4096"
                .into(),
        ),
        (
            // any file the link leads to would load as weights and become frames
            package(root, "linked", |d| {
                std::fs::remove_dir_all(d.join("vae_decoder")).unwrap();
                std::os::unix::fs::symlink(&elsewhere, d.join("vae_decoder")).unwrap();
            }),
            format!(
                "vae_decoder is a link to {}, outside the model folder",
                elsewhere.canonicalize().unwrap().display()
            ),
        ),
    ];

    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    for (dir, want) in &cases {
        instance
            .set_param("customModel", dir.to_string_lossy().as_ref())
            .unwrap();
        session.clear_log();
        common::failed_render(instance.render(&Render::frame(0.0)));
        assert_eq!(
            only_error(&session).text,
            format!("Text to Video: model folder {}: {want}", dir.display())
        );
    }
    let files = common::walk(cache.path());
    assert!(
        files
            .iter()
            .all(|f| !f.ends_with(".png") && !f.ends_with("clip.json")),
        "{files:?}"
    );

    // a package that allows long clips still refuses one too large to hold, with the engine's reason
    let long = package(root, "long", |d| {
        replace(
            d,
            "model_index.json",
            "\"max_frames\": 8,",
            "\"max_frames\": 1024,",
        )
    });
    instance
        .set_param("customModel", long.to_string_lossy().as_ref())
        .unwrap();
    instance.set_param("useModelDefaults", false).unwrap();
    instance.set_param("frames", 1024).unwrap();
    instance.set_param("outputSize", 2).unwrap();
    instance.set_param("width", 4096).unwrap();
    instance.set_param("height", 4096).unwrap();
    session.clear_log();
    common::failed_render(instance.render(&Render::frame(0.0)));
    assert_eq!(
        only_error(&session).text,
        "Text to Video: invalid request: the UNet input [2, 4, 1024, 2048, 2048] would hold more \
         than 1073741824 values (the engine's limit); ask for fewer frames or a smaller size"
    );

    // the host and the plugin carry on
    common::use_fixture(&instance);
    instance.set_param("frames", 0).unwrap();
    instance.set_param("outputSize", 1).unwrap();
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
}
