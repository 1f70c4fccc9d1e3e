//! Faults from outside the plugin, driven through the shipped bundle: a broken model folder, a cache
//! folder that cannot be written, a generation stopped half-way, and parameter values at and past
//! their limits. Each ends in a valid clip or a clear error on the node; the host never goes down.
//! (A cache write that fails half-way through a file is in `disk_full.rs`; panics in `panics.rs`.)

mod common;

use ofx_host::{
    Context, HostConfig, Image, Instance, Message, MessageKind, ParamValue, Render, Session,
};
use std::path::{Path, PathBuf};

/// A copy of the tiny fixture model in `root/name`, damaged by `damage`.
fn damaged_model(root: &Path, name: &str, damage: impl FnOnce(&Path)) -> PathBuf {
    let dir = root.join(name);
    common::copy_dir(&common::fixture_model(), &dir);
    damage(&dir);
    dir
}

fn other_package(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tiny-shapes")
        .join(file)
}

fn truncate(file: &Path) {
    let bytes = std::fs::read(file).unwrap();
    std::fs::write(file, &bytes[..bytes.len() / 2]).unwrap();
}

/// The one message of `level` the plugin sent, persistent when the host has them.
fn only_message(session: &Session, level: &str) -> Message {
    let messages = session.messages();
    let found: Vec<&Message> = messages.iter().filter(|m| m.level == level).collect();
    assert_eq!(found.len(), 1, "one {level} expected: {messages:?}");
    assert_eq!(found[0].kind, MessageKind::Persistent, "{messages:?}");
    found[0].clone()
}

/// [`only_message`], whose text must start with `prefix` (the rest is the operating system's wording).
fn only_message_starting(session: &Session, level: &str, prefix: &str) -> Message {
    let message = only_message(session, level);
    assert!(message.text.starts_with(prefix), "{}", message.text);
    message
}

fn no_clip_in(cache: &Path) {
    let files = common::walk(cache);
    assert!(
        files
            .iter()
            .all(|f| !f.ends_with(".png") && !f.ends_with("clip.json")),
        "{files:?}"
    );
}

#[test]
fn a_broken_model_folder_fails_the_render_with_a_message_naming_the_problem() {
    let (models, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let root = models.path();
    let folder = |dir: &Path| format!("Text to Video: model folder {}: ", dir.display());
    type Check = Box<dyn Fn(&str)>;
    let cases: Vec<(&str, PathBuf, Check)> = vec![
        {
            let dir = damaged_model(root, "missing", |d| {
                std::fs::remove_file(d.join("unet/model.onnx")).unwrap()
            });
            let want = format!("{}unet/model.onnx is missing", folder(&dir));
            (
                "a missing file",
                dir,
                Box::new(move |text| assert_eq!(text, want)),
            )
        },
        {
            let dir = damaged_model(root, "truncated", |d| truncate(&d.join("unet/model.onnx")));
            let want = format!("{}unet/model.onnx cannot be loaded: ", folder(&dir));
            (
                "a truncated model.onnx",
                dir,
                Box::new(move |text| {
                    assert!(text.starts_with(&want), "{text}");
                    assert!(text.contains("Protobuf parsing failed"), "{text}");
                }),
            )
        },
        {
            // tiny-shapes' UNet takes 64-wide text embeddings; this text encoder gives 32
            let dir = damaged_model(root, "shapes", |d| {
                std::fs::copy(other_package("unet/model.onnx"), d.join("unet/model.onnx")).unwrap();
            });
            let want = format!(
                "{}unet/model.onnx: input `encoder_hidden_states` has size 64 on axis 2, but \
                 text_encoder/config.json hidden_size says 32",
                folder(&dir)
            );
            (
                "a UNet of another shape",
                dir,
                Box::new(move |text| assert_eq!(text, want)),
            )
        },
        {
            // a VAE that upsamples 8× where this package's upsamples 2×: only the output shows it
            let dir = damaged_model(root, "vae", |d| {
                std::fs::copy(
                    other_package("vae_decoder/model.onnx"),
                    d.join("vae_decoder/model.onnx"),
                )
                .unwrap();
            });
            let want = format!(
                "{}vae_decoder/model.onnx returned shape [3, 3, 96, 128], expected [3, 3, 24, 32]",
                folder(&dir)
            );
            (
                "a VAE of another scale",
                dir,
                Box::new(move |text| assert_eq!(text, want)),
            )
        },
        {
            let dir = damaged_model(root, "garbage-tokenizer", |d| {
                std::fs::write(d.join("tokenizer/tokenizer.json"), b"{ not json").unwrap()
            });
            let want = format!("{}tokenizer/tokenizer.json cannot be read: ", folder(&dir));
            (
                "a garbage tokenizer.json",
                dir,
                Box::new(move |text| assert!(text.starts_with(&want), "{text}")),
            )
        },
        {
            // (chmod cannot make a file unreadable to root, and tests may run as root)
            let dir = damaged_model(root, "unreadable-tokenizer", |d| {
                let file = d.join("tokenizer/tokenizer.json");
                std::fs::remove_file(&file).unwrap();
                std::fs::create_dir(&file).unwrap();
            });
            let want = format!(
                "{}tokenizer/tokenizer.json cannot be read: Is a directory",
                folder(&dir)
            );
            (
                "an unreadable tokenizer.json",
                dir,
                Box::new(move |text| assert!(text.starts_with(&want), "{text}")),
            )
        },
    ];

    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    for (what, dir, check) in &cases {
        instance
            .set_param("customModel", dir.to_string_lossy().as_ref())
            .unwrap();
        session.clear_log();
        common::failed_render(instance.render(&Render::frame(0.0)));
        let error = only_message(&session, "OfxMessageError");
        eprintln!("{what}: {}", error.text);
        check(&error.text);
    }
    no_clip_in(cache.path());

    // the host and the plugin carry on: the intact model renders
    common::use_fixture(&instance);
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
}

#[test]
fn a_model_broken_in_place_after_loading_is_loaded_again_not_served_stale() {
    let (models, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dir = damaged_model(models.path(), "model", |_| {});
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance
        .set_param("customModel", dir.to_string_lossy().as_ref())
        .unwrap();
    let intact = instance.render(&Render::frame(0.0)).unwrap();

    // the model in memory must not stand in for the files now on disk (nor be cached under their name)
    truncate(&dir.join("unet/model.onnx"));
    instance.set_param("seed", 7).unwrap();
    session.clear_log();
    common::failed_render(instance.render(&Render::frame(0.0)));
    only_message_starting(
        &session,
        "OfxMessageError",
        &format!(
            "Text to Video: model folder {}: unet/model.onnx cannot be loaded: ",
            dir.display()
        ),
    );

    // restored, it loads again and gives the clip it gave before
    std::fs::copy(
        common::fixture_model().join("unet/model.onnx"),
        dir.join("unet/model.onnx"),
    )
    .unwrap();
    instance.set_param("seed", 42).unwrap();
    assert_eq!(instance.render(&Render::frame(0.0)).unwrap(), intact);
}

/// Renders frame 0 of a fresh clip (its own seed) with `folder` as the cache folder: it must come
/// back, with one warning that names the folder.
fn renders_with_a_warning(session: &Session, instance: &Instance, seed: i32, folder: &Path) {
    instance.set_param("seed", seed).unwrap();
    instance
        .set_param("cacheFolder", folder.to_string_lossy().as_ref())
        .unwrap();
    session.clear_log();
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    only_message_starting(
        session,
        "OfxMessageWarning",
        &format!(
            "Text to Video: cannot use cache folder {}: ",
            folder.display()
        ),
    );
    // the clip lives in memory: the other frames come back without generating again
    session.clear_log();
    common::assert_picture(&instance.render(&Render::frame(2.0)).unwrap());
    assert!(session.progress().is_empty(), "{:?}", session.progress());
}

#[test]
fn an_unusable_cache_folder_still_gives_frames_with_a_warning_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, tmp.path());

    renders_with_a_warning(&session, &instance, 11, &file);
    renders_with_a_warning(&session, &instance, 12, &file.join("cache"));
    assert_eq!(std::fs::read(&file).unwrap(), b"not a folder");

    // a read-only folder, where permissions apply (not to root)
    let read_only = tmp.path().join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    let mut permissions = std::fs::metadata(&read_only).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o500);
    std::fs::set_permissions(&read_only, permissions).unwrap();
    if std::fs::create_dir(read_only.join("probe")).is_ok() {
        eprintln!("running as root: permissions do not stop writes, read-only case skipped");
        return;
    }
    renders_with_a_warning(&session, &instance, 13, &read_only);
    assert!(common::walk(&read_only).is_empty());
}

/// The status of the fixture's clip at its defaults (and seed 42).
const STANDARD: &str = "3 frames 32×24, 4 steps, seed 42";

/// Renders frame 0 with `params` set on a fresh instance (the fixture: 32×24, 3 frames, 4 steps by
/// default): a clip whose status line starts with `status` ("3 frames 32×24, 4 steps, seed 42"), whose
/// frame it returns.
fn render_with(
    session: &Session,
    cache: &Path,
    params: &[(&str, ParamValue)],
    status: &str,
) -> Image {
    let instance = common::instance(session, Context::Generator, cache);
    instance.set_param("seed", 42).unwrap();
    instance.set_param("useModelDefaults", false).unwrap();
    for (name, value) in params {
        instance.set_param(name, value.clone()).unwrap();
    }
    session.clear_log();
    let image = instance
        .render(&Render::frame(0.0))
        .unwrap_or_else(|e| panic!("{params:?}: {e}"));
    common::assert_picture(&image);
    // the status line follows the next parameter event
    instance.press("fitMode").unwrap();
    let Some(ParamValue::Text(line)) = instance.param("status") else {
        panic!("no status")
    };
    assert!(
        line.starts_with(&format!("{status}: ")),
        "{params:?}: {line}"
    );
    image
}

#[test]
fn odd_parameters_give_a_valid_clip() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let render = |params: &[(&str, ParamValue)], status: &str| {
        render_with(&session, cache.path(), params, status)
    };

    // prompts: tokenised and truncated, never rejected
    let long = "a red ball bouncing on green grass ".repeat(3000);
    assert!(long.len() > 100_000);
    for prompt in [
        "",
        long.as_str(),
        "\u{1}\u{7}\t\r\n\u{1b}[31m red \u{7f}\u{85}\u{2028} ball\u{0c}",
        "كرة حمراء 红色的球 🎈🦊👩‍👩‍👧 e\u{301}a\u{308} \u{200f}ball",
    ] {
        render(&[("prompt", prompt.into())], STANDARD);
        render(&[("negativePrompt", prompt.into())], STANDARD);
    }

    // seeds: both ends of the range give different clips; below it is clamped to 0
    let zero = render(&[("seed", 0.into())], "3 frames 32×24, 4 steps, seed 0");
    let top = render(
        &[("seed", i32::MAX.into())],
        "3 frames 32×24, 4 steps, seed 2147483647",
    );
    assert_ne!(zero, top);
    let below = render(&[("seed", (-1).into())], "3 frames 32×24, 4 steps, seed 0");
    assert_eq!(below, zero);

    // steps: 0 and negative (clamped to the declared 0) take the model's 4; more than the declared
    // 1000 are 1000 (tests/tests/hostile_host.rs)
    render(&[("steps", 0.into())], STANDARD);
    render(&[("steps", (-3).into())], STANDARD);
    render(&[("steps", 1.into())], "3 frames 32×24, 1 steps, seed 42");

    // frames: the fixture takes 1 to 8 at once; more are generated in windows (said in the status line:
    // tests/tests/controls.rs; 1024, the declared maximum: tests/tests/hostile_host.rs)
    render(&[("frames", 1.into())], "1 frames 32×24, 4 steps, seed 42");
    render(&[("frames", 8.into())], "8 frames 32×24, 4 steps, seed 42");
    render(&[("frames", 9.into())], "9 frames 32×24, 4 steps, seed 42");

    // sizes: clamped to the declared 8 to 4096 (the engine's largest side; src/request.rs tests what
    // is too costly to generate here), rounded to the model's multiple of 4
    let custom = |w: i32, h: i32| {
        [
            ("outputSize", 2.into()),
            ("width", w.into()),
            ("height", h.into()),
        ]
    };
    render(&custom(7, 5), "3 frames 8×8, 4 steps, seed 42");
    render(&custom(0, -8), "3 frames 8×8, 4 steps, seed 42");
    render(&custom(13, 18), "3 frames 12×20, 4 steps, seed 42");

    // guidance: past the declared 50 it is 50, NaN takes the model's default
    for guidance in [1e30, f64::MAX, f64::INFINITY, f64::NAN] {
        render(&[("guidance", guidance.into())], STANDARD);
    }
}
