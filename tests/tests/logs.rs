//! The plugin's log file: a failed render's error, one line per generation (model, key, device,
//! ONNX Runtime, timing, hit or miss and where), a panic's message and place, and ONNX Runtime's own
//! lines all land in `T2V_LOG_DIR`; `clip.json` records the same provenance. Uses the fault-injection
//! bundle (the only one this test process loads: the plugin installs its logger once per process, so
//! `T2V_LOG_DIR` is set before the first load).

mod common;

use ofx_host::{Context, HostConfig, Render, Session, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The log folder of this test process, set before any test loads the plugin.
fn log_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        // Before any thread loads the plugin: every test comes through here first.
        std::env::set_var("T2V_LOG_DIR", dir.path());
        std::env::set_var("T2V_LOG", "debug");
        dir
    })
    .path()
}

fn load() -> Session {
    log_dir();
    Session::load(&common::fault_bundle(), common::host(HostConfig::default()))
        .expect("the fault bundle loads")
}

/// Every line written so far (all tests of this process share the file).
fn log_lines() -> Vec<String> {
    let files: Vec<PathBuf> = std::fs::read_dir(log_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    assert!(!files.is_empty(), "no log file in {}", log_dir().display());
    files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect()
}

fn lines_with(needle: &str) -> Vec<String> {
    log_lines()
        .into_iter()
        .filter(|l| l.contains(needle))
        .collect()
}

#[test]
fn the_log_file_is_the_documented_one_and_names_the_plugin_version() {
    let _session = load();
    assert!(log_dir().join("text-to-video_rCURRENT.log").is_file());
    let loaded = format!("Text to Video {} loaded", env!("CARGO_PKG_VERSION"));
    assert!(!lines_with(&loaded).is_empty(), "{:?}", log_lines());
}

#[test]
fn a_failed_render_writes_its_error_into_the_log() {
    let (cache, empty) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let session = load();
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance
        .set_param("customModel", empty.path().to_string_lossy().as_ref())
        .unwrap();
    common::failed_render(instance.render(&Render::frame(0.0)));
    let lines = lines_with(&empty.path().to_string_lossy());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0]
            .contains(" WARN [text_to_video::entry] Text to Video: OfxImageEffectActionRender: "),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains(&format!("pid {} ", std::process::id())),
        "{}",
        lines[0]
    );
}

#[test]
fn a_generation_writes_one_line_and_clip_json_records_the_same_provenance() {
    let cache = tempfile::tempdir().unwrap();
    let session = load();
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("seed", 4242).unwrap();
    for frame in 0..3 {
        common::assert_picture(&instance.render(&Render::frame(frame as f64)).unwrap());
    }
    let [key] = <[String; 1]>::try_from(common::entries(cache.path())).unwrap();
    let entry = cache.path().join(&key);

    let generated = lines_with(&format!(
        "generated (cache miss): model tiny-modelscope, key {key}"
    ));
    assert_eq!(
        generated.len(),
        1,
        "one line for three frames: {generated:?}"
    );
    let line = &generated[0];
    for part in [
        " INFO [text_to_video::generate] ",
        ", 3 frames 32×24, 4 steps, seed 4242, device cpu (CPUExecutionProvider), ONNX Runtime 1.31.1, numerics 1, ",
        " s in ONNX Runtime, ",
        &format!("%); {}", entry.display()),
    ] {
        assert!(line.contains(part), "{part:?} not in {line}");
    }
    assert_eq!(
        lines_with(&format!(
            "cache hit (memory): model tiny-modelscope, key {key}"
        ))
        .len(),
        2,
        "the other two frames are memory hits (at debug level)"
    );

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(entry.join("clip.json")).unwrap()).unwrap();
    let expected: [(&str, serde_json::Value); 6] = [
        ("plugin_version", env!("CARGO_PKG_VERSION").into()),
        ("model", "tiny-modelscope".into()),
        ("device", "cpu".into()),
        ("execution_provider", "CPUExecutionProvider".into()),
        ("onnx_runtime_version", "1.31.1".into()),
        ("numerics_version", 1.into()),
    ];
    for (name, value) in expected {
        assert_eq!(json[name], value, "{name} in {json}");
    }
    assert_eq!(json.get("license"), None, "the fixture states no licence");
    // The recipe holds the engine's request encoding, what the key was made from.
    let request: serde_json::Value =
        serde_json::from_str(json["recipe"]["request"].as_str().unwrap()).unwrap();
    let fields: [(&str, serde_json::Value); 5] = [
        ("seed", 4242.into()),
        ("steps", 4.into()),
        ("scheduler", "ddim".into()),
        ("numerics", 1.into()),
        ("frames", 3.into()),
    ];
    for (name, value) in fields {
        assert_eq!(request[name], value, "{name} in {request}");
    }
}

#[test]
fn onnx_runtimes_own_lines_land_in_the_log() {
    let cache = tempfile::tempdir().unwrap();
    let session = load();
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("seed", 77).unwrap();
    instance.render(&Render::frame(0.0)).unwrap();
    let lines = lines_with(" [onnxruntime] ");
    assert!(!lines.is_empty(), "{:?}", log_lines());
}

#[test]
fn a_panic_is_recorded_with_its_message_and_place() {
    let cache = tempfile::tempdir().unwrap();
    let session = load();
    let instance = common::instance(&session, Context::Generator, cache.path());
    let point = c"TextToVideoFaultPanicAt";
    session.set_host_property(
        point,
        Some(Value::strings(&["OfxImageEffectActionIsIdentity"])),
    );
    assert!(instance.is_identity(0.0, 1.0).is_err());
    session.set_host_property(point, None);
    let message = "fault injection: panic at OfxImageEffectActionIsIdentity";
    let lines = lines_with(message);
    assert_eq!(lines.len(), 2, "the hook's line and the guard's: {lines:?}");
    assert!(
        lines[0].contains(
            " ERROR [text_to_video::logging] Text to Video: panicked at plugin/src/fault.rs:"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains(&format!(
            " ERROR [text_to_video::entry] Text to Video: internal error in OfxImageEffectActionIsIdentity: {message}"
        )),
        "{}",
        lines[1]
    );
}

#[test]
fn an_unusable_log_folder_sends_the_log_to_stderr_and_says_so_once() {
    let (out, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let not_a_folder = tempfile::NamedTempFile::new().unwrap();
    let result = std::process::Command::new(env!("CARGO_BIN_EXE_render"))
        .args(["--out", &out.path().to_string_lossy()])
        .args(["--model", &common::fixture_model().to_string_lossy()])
        .args(["--frames", "1", "--steps", "1"])
        .env("T2V_BUNDLE", common::bundle())
        .env("T2V_CACHE_DIR", cache.path())
        .env("T2V_LOG_DIR", not_a_folder.path())
        .env("T2V_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    let said = format!(
        "Text to Video: cannot write log files in {}",
        not_a_folder.path().display()
    );
    assert_eq!(stderr.matches(&said).count(), 1, "{stderr}");
    assert!(stderr.contains("; logging to stderr"), "{stderr}");
    assert!(
        stderr.contains("generated (cache miss): model tiny-modelscope"),
        "{stderr}"
    );
}
