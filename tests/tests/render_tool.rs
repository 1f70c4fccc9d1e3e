//! The `render` binary (the README's first command) writes PNG frames and a contact sheet.

mod common;

use std::path::Path;
use std::process::Command;

fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    (info.width, info.height)
}

#[test]
fn renders_frames_and_a_contact_sheet() {
    let out = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let result = Command::new(env!("CARGO_BIN_EXE_render"))
        .args([
            "--out",
            &out.path().to_string_lossy(),
            "--model",
            &common::fixture_model().to_string_lossy(),
        ])
        .args(["--seed", "3", "--frames", "2"])
        .env("T2V_BUNDLE", common::bundle())
        .env("T2V_CACHE_DIR", cache.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(
        stdout.contains("plugin    [Message] Text to Video: 2 frames 32×24 generated in "),
        "a clip of the 2 frames asked for: {stdout}"
    );
    for frame in ["frame_0000.png", "frame_0001.png"] {
        assert_eq!(png_size(&out.path().join(frame)), (32, 24), "{frame}");
        assert!(stdout.contains(frame), "{stdout}");
    }
    assert!(!out.path().join("frame_0002.png").exists());
    // two frames side by side with 4-pixel gaps
    assert_eq!(
        png_size(&out.path().join("contact_sheet.png")),
        (2 * 32 + 3 * 4, 24 + 2 * 4)
    );
}

#[test]
fn a_bad_flag_is_reported() {
    let result = Command::new(env!("CARGO_BIN_EXE_render"))
        .args(["--frames"])
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&result.stderr).trim(),
        "error: a value is required for '--frames <N>' but none was supplied\n\n\
         For more information, try '--help'."
    );
}

/// Runs `render` for one frame of the fixture model into a fresh folder, with the command's flags and
/// environment completed by `configure`; returns the output and the folder.
fn render_one_frame(
    configure: impl FnOnce(&mut Command),
) -> (std::process::Output, tempfile::TempDir) {
    let (out, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut command = Command::new(env!("CARGO_BIN_EXE_render"));
    command
        .args(["--out", &out.path().to_string_lossy()])
        .args(["--model", &common::fixture_model().to_string_lossy()])
        .args(["--frames", "1"])
        .env("T2V_BUNDLE", common::bundle())
        .env("T2V_CACHE_DIR", cache.path());
    configure(&mut command);
    (command.output().unwrap(), out)
}

#[test]
fn ort_dylib_path_beats_the_bundled_onnx_runtime() {
    let (result, _out) = render_one_frame(|c| {
        c.env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so");
    });
    assert!(!result.status.success());
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        stdout.contains(
            "plugin    [Error] Text to Video: ONNX Runtime: library /nonexistent/libonnxruntime.so \
             does not exist"
        ),
        "{stdout}"
    );
}

/// As a host runs it, with no `ORT_DYLIB_PATH`: the plugin loads the ONNX Runtime inside its bundle.
#[test]
fn without_ort_dylib_path_the_bundled_onnx_runtime_renders() {
    let (result, out) = render_one_frame(|c| {
        c.env_remove("ORT_DYLIB_PATH");
    });
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(result.status.success(), "{stdout}");
    assert!(out.path().join("frame_0000.png").is_file(), "{stdout}");
}

/// The GPU memory variables a pipeline TD sets for every render: an unreadable one fails the render with
/// its text, and readable ones change nothing on a machine that falls back to the CPU.
#[test]
fn gpu_memory_variables_are_read_at_render() {
    let render = |vars: &[(&str, &str)]| {
        let (result, _out) = render_one_frame(|c| {
            c.arg("--gpu").envs(vars.iter().copied());
        });
        let stdout = String::from_utf8_lossy(&result.stdout).to_string();
        (result.status.success(), stdout)
    };
    let (ok, stdout) = render(&[("T2V_GPU_ARENA", "small")]);
    assert!(!ok);
    assert!(
        stdout.contains(
            "plugin    [Error] Text to Video: T2V_GPU_ARENA=\"small\" is neither grow (doubling, ONNX \
             Runtime's default) nor exact"
        ),
        "{stdout}"
    );
    let (ok, stdout) = render(&[("T2V_GPU_MEMORY_GB", "lots")]);
    assert!(!ok);
    assert!(
        stdout.contains("T2V_GPU_MEMORY_GB=\"lots\" is not a number of GB"),
        "{stdout}"
    );
    let (ok, stdout) = render(&[("T2V_GPU_MEMORY_GB", "6"), ("T2V_GPU_ARENA", "exact")]);
    assert!(ok, "{stdout}");
}

/// Runs `render --shotlist list --cache cache` (plus `extra`); returns whether it succeeded and stdout.
fn pregenerate(list: &Path, cache: &Path, extra: &[&str]) -> (bool, String) {
    let result = Command::new(env!("CARGO_BIN_EXE_render"))
        .args(["--shotlist", &list.to_string_lossy()])
        .args(["--cache", &cache.to_string_lossy()])
        .args(extra)
        .env("T2V_BUNDLE", common::bundle())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&result.stderr);
    (result.status.success(), format!("{stdout}{stderr}"))
}

#[test]
fn a_shotlist_fills_a_cache_once_and_a_later_render_is_served_from_it() {
    let (dir, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let model = common::fixture_model();
    let list = dir.path().join("shots.txt");
    std::fs::write(
        &list,
        format!(
            "# reel 1\n--model '{m}' --prompt 'a red ball' --seed 11 --frames 2 --name sh010\n\n\
             --model '{m}' --prompt 'a \"blue\" cube' --seed 12 --frames 2\n",
            m = model.display()
        ),
    )
    .unwrap();
    let (ok, out) = pregenerate(&list, cache.path(), &[]);
    assert!(ok, "{out}");
    assert!(out.contains("sh010: generated in "), "{out}");
    assert!(out.contains("shot 2: generated in "), "{out}");
    assert_eq!(common::entries(cache.path()).len(), 2);

    // Run again (a resubmitted farm job): nothing is generated twice.
    let (ok, out) = pregenerate(&list, cache.path(), &["--shot", "2"]);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "shot 2: already in the cache");
    assert_eq!(common::entries(cache.path()).len(), 2);

    // An editor rendering the first shot's settings finds its clip.
    let session = common::load(ofx_host::HostConfig::default());
    let instance = common::instance(&session, ofx_host::Context::Generator, cache.path());
    instance.set_param("prompt", "a red ball").unwrap();
    instance.set_param("seed", 11).unwrap();
    instance.set_param("useModelDefaults", false).unwrap();
    instance.set_param("frames", 2).unwrap();
    session.clear_log();
    common::assert_picture(&instance.render(&ofx_host::Render::frame(1.0)).unwrap());
    assert!(session.progress().is_empty(), "the render generated");
}

#[test]
fn a_bad_shot_is_named_by_its_line() {
    let (dir, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let list = dir.path().join("shots.txt");
    std::fs::write(&list, "--seed 1\n--seed one\n").unwrap();
    let (ok, out) = pregenerate(&list, cache.path(), &[]);
    assert!(!ok);
    assert_eq!(
        out.trim(),
        format!(
            "render: {}: line 2: invalid value 'one' for '--seed <N>': invalid digit found in string",
            list.display()
        )
    );
    std::fs::write(&list, "--seed 1\n").unwrap();
    let (ok, out) = pregenerate(&list, cache.path(), &["--shot", "3"]);
    assert!(!ok);
    assert_eq!(
        out.trim(),
        format!(
            "render: --shot 3: {} has 1 shot (counted from 1)",
            list.display()
        )
    );
    assert!(common::entries(cache.path()).is_empty());
}
