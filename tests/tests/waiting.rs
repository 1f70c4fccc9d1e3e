//! A render whose clip another process is generating (it holds the clip's lock in the shared folder)
//! waits with a progress bar naming that process, so the user can cancel the wait; a holder that shows
//! no sign of life for the takeover time (`T2V_LOCK_TAKEOVER_SECS`, 2 s here) is taken over.

mod common;

use ofx_host::{Context, HostConfig, Instance, ProgressEvent, Render, Session};
use std::fs::File;
use std::path::Path;

const WAITING: &str = "Text to Video: waiting for another render of this clip \
                       (host render07, pid 4242, started 21:03:11 UTC)";

fn session(config: HostConfig) -> Session {
    std::env::set_var("T2V_LOCK_TAKEOVER_SECS", "2");
    common::load(config)
}

/// An instance rendering the fixture's clip of `seed` (one step) into `cache`.
fn instance<'s>(session: &'s Session, cache: &Path, seed: i32) -> Instance<'s> {
    let instance = common::instance(session, Context::Generator, cache);
    instance.set_param("seed", seed).unwrap();
    instance.set_param("useModelDefaults", false).unwrap();
    instance.set_param("steps", 1).unwrap();
    instance
}

/// The clip key of `seed`: rendered once into a scratch folder, then forgotten again.
fn key_of(session: &Session, seed: i32) -> String {
    let scratch = tempfile::tempdir().unwrap();
    let instance = instance(session, scratch.path(), seed);
    session.clear_log();
    instance.render(&Render::frame(0.0)).unwrap();
    instance.press("clearClip").unwrap(); // memory and the scratch entry
    assert_eq!(
        common::entries(scratch.path()),
        Vec::<String>::new(),
        "cleared"
    );
    // Render again into a second scratch folder to read the key from its entry.
    let named = tempfile::tempdir().unwrap();
    instance
        .set_param("cacheFolder", named.path().to_string_lossy().as_ref())
        .unwrap();
    session.clear_log();
    instance.render(&Render::frame(0.0)).unwrap();
    let key = common::entries(named.path()).pop().expect("an entry");
    instance.press("clearClip").unwrap();
    key
}

/// Another "process" generating `key` in `cache`: its lock held (flock on another open file) and a
/// holder record that never changes, as a stopped render node leaves it.
fn stuck_holder(cache: &Path, key: &str) -> File {
    let locks = cache.join(".locks");
    std::fs::create_dir_all(&locks).unwrap();
    std::fs::write(
        locks.join(format!("{key}.holder")),
        r#"{"host":"render07","pid":4242,"started_unix_ms":1796158991500,"beat":3}"#,
    )
    .unwrap();
    let lock = File::create(locks.join(format!("{key}.lock"))).unwrap();
    lock.lock().unwrap();
    lock
}

fn labels(session: &Session) -> Vec<String> {
    session
        .progress()
        .into_iter()
        .filter_map(|e| match e {
            ProgressEvent::Start { label, .. } => Some(label),
            _ => None,
        })
        .collect()
}

#[test]
fn the_wait_for_another_render_is_shown_and_can_be_cancelled() {
    let session = session(HostConfig {
        cancel_after_updates: Some(3),
        ..HostConfig::default()
    });
    let cache = tempfile::tempdir().unwrap();
    let key = key_of(&session, 11);
    let _held = stuck_holder(cache.path(), &key);
    let instance = instance(&session, cache.path(), 11);
    session.clear_log();
    common::failed_render(instance.render(&Render::frame(0.0)));
    assert_eq!(labels(&session), [WAITING]);
    assert!(!cache.path().join(&key).exists(), "nothing generated");
}

#[test]
fn a_holder_stuck_past_the_takeover_time_is_taken_over() {
    let session = session(HostConfig::default());
    let cache = tempfile::tempdir().unwrap();
    let key = key_of(&session, 12);
    let _held = stuck_holder(cache.path(), &key);
    let instance = instance(&session, cache.path(), 12);
    session.clear_log();
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    assert_eq!(
        labels(&session),
        [
            WAITING.to_owned(),
            "Text to Video: another render of this clip (host render07, pid 4242, started 21:03:11 \
             UTC) has shown no sign of life for 2 s; generating it here"
                .to_owned(),
            "Text to Video: generating 3 frames (1 steps)".to_owned(),
        ]
    );
    assert!(cache.path().join(&key).join("clip.json").is_file());
}
