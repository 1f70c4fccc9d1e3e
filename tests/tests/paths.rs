//! Folder parameters and prompts as a host hands them over: `~` and `$VARIABLE` expand, relative
//! folders are refused (nothing is created in the host's working directory), folder names that are
//! not UTF-8 are used byte for byte, and a prompt that is not UTF-8 is refused rather than repaired.

mod common;

use ofx_host::{Context, HostConfig, Instance, ParamValue, Render, Session};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Clips (folders holding a `clip.json`) under `dir`.
fn clips_in(dir: &Path) -> usize {
    common::walk(dir)
        .iter()
        .filter(|f| f.ends_with("clip.json"))
        .count()
}

/// An instance of the fixture with a seed of its own (so no other test's clip is in memory already).
fn instance<'s>(session: &'s Session, cache: &Path, seed: i32) -> Instance<'s> {
    let instance = common::instance(session, Context::Generator, cache);
    instance.set_param("seed", seed).unwrap();
    instance
}

fn set_bytes(instance: &Instance, name: &str, bytes: &[u8]) {
    instance
        .set_param(name, ParamValue::Bytes(bytes.to_vec()))
        .unwrap();
}

/// The one error a failed final render shows.
fn refused(session: &Session, instance: &Instance) -> String {
    session.clear_log();
    common::failed_render(instance.render(&Render::frame(0.0)));
    let errors: Vec<String> = session
        .messages()
        .into_iter()
        .filter(|m| m.level == "OfxMessageError")
        .map(|m| m.text)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors[0].clone()
}

#[test]
fn variables_in_the_cache_folder_expand() {
    let root = tempfile::tempdir().unwrap();
    // set once, read by this test only
    std::env::set_var("T2V_PATHS_TEST_ROOT", root.path());
    let session = common::load(HostConfig::default());
    let instance = instance(&session, root.path(), 7301);
    for (seed, folder) in [
        (7301, "$T2V_PATHS_TEST_ROOT/plain"),
        (7302, " ${T2V_PATHS_TEST_ROOT}/braced "),
    ] {
        instance.set_param("seed", seed).unwrap();
        instance.set_param("cacheFolder", folder).unwrap();
        common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    }
    assert_eq!(clips_in(&root.path().join("plain")), 1);
    assert_eq!(clips_in(&root.path().join("braced")), 1);
    assert!(!Path::new("$T2V_PATHS_TEST_ROOT").exists());
    assert!(!Path::new("${T2V_PATHS_TEST_ROOT}").exists());

    instance
        .set_param("cacheFolder", "$T2V_PATHS_TEST_SURELY_UNSET/clips")
        .unwrap();
    assert_eq!(
        refused(&session, &instance),
        "Text to Video: Cache Folder: the variable $T2V_PATHS_TEST_SURELY_UNSET is not set"
    );
}

#[test]
fn a_tilde_is_the_home_folder() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = instance(&session, cache.path(), 7311);
    let name = format!("t2v-paths-test-no-such-model-{}", std::process::id());
    instance
        .set_param("customModel", format!("~/{name}").as_str())
        .unwrap();
    let expected = dirs_home().join(&name);
    let text = refused(&session, &instance);
    assert!(
        text.starts_with(&format!(
            "Text to Video: model folder {}: ",
            expected.display()
        )),
        "{text}"
    );
    assert!(!Path::new("~").exists());
}

/// `$HOME`, as `dirs::home_dir()` reads it on Unix.
fn dirs_home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").expect("HOME is set for the tests"))
}

#[test]
fn relative_folders_are_refused_and_nothing_is_created() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = instance(&session, cache.path(), 7321);
    instance
        .set_param("cacheFolder", "t2v-relative-cache/clips")
        .unwrap();
    assert_eq!(
        refused(&session, &instance),
        "Text to Video: Cache Folder must be an absolute folder (or start with ~ or $VARIABLE), \
         not \"t2v-relative-cache/clips\""
    );
    assert!(!Path::new("t2v-relative-cache").exists());

    instance
        .set_param("cacheFolder", cache.path().to_string_lossy().as_ref())
        .unwrap();
    instance.set_param("customModel", "models/tiny").unwrap();
    assert_eq!(
        refused(&session, &instance),
        "Text to Video: Custom Model Folder must be an absolute folder (or start with ~ or \
         $VARIABLE), not \"models/tiny\""
    );
    // the status line says it too, at the next edit
    instance.set_param("seed", 7322).unwrap();
    assert_eq!(
        instance.param("status"),
        Some(ParamValue::Text(
            "Error: Custom Model Folder must be an absolute folder (or start with ~ or \
             $VARIABLE), not \"models/tiny\""
                .into()
        ))
    );
}

#[test]
fn folder_names_that_are_not_utf8_are_used_as_they_are() {
    let root = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = instance(&session, root.path(), 7331);

    let model = root.path().join(OsStr::from_bytes(b"mod\xe8le"));
    common::copy_dir(&common::fixture_model(), &model);
    set_bytes(&instance, "customModel", model.as_os_str().as_bytes());
    let cache = root.path().join(OsStr::from_bytes(b"caf\xe9"));
    set_bytes(&instance, "cacheFolder", cache.as_os_str().as_bytes());
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    assert_eq!(clips_in(&cache), 1);
    assert!(!root.path().join("caf\u{fffd}").exists());
}

#[test]
fn a_prompt_that_is_not_utf8_is_refused() {
    let cache = tempfile::tempdir().unwrap();
    let session = common::load(HostConfig::default());
    let instance = instance(&session, cache.path(), 7341);
    set_bytes(&instance, "prompt", b"a red \xff ball");
    assert_eq!(
        refused(&session, &instance),
        "Text to Video: Prompt is not valid UTF-8 text; retype it"
    );
    instance.set_param("prompt", "a red ball").unwrap();
    set_bytes(&instance, "negativePrompt", b"blurry \xc3");
    instance.render(&Render::frame(1.0)).unwrap_err();
    assert_eq!(
        instance.param("status"),
        Some(ParamValue::Text(
            "Error: Negative Prompt is not valid UTF-8 text; retype it".into()
        ))
    );
    assert_eq!(clips_in(cache.path()), 0);
}
