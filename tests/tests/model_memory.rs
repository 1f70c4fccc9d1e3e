//! Loaded models are released: at most `T2V_MODEL_MEMORY_MB` of them stay loaded (least recently used
//! unloaded first), none once the last instance is destroyed, and loading one again is said in the
//! status line. One test in its own process, since the pool and the instance count are process-wide.

mod common;

use ofx_host::{Context, HostConfig, Instance, ParamValue, Render};
use std::path::Path;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Renders frame 0 of `model` with `seed` and returns the status line that follows.
fn render(instance: &Instance, model: &Path, seed: i32) -> String {
    instance
        .set_param("customModel", model.to_string_lossy().as_ref())
        .unwrap();
    instance.set_param("seed", seed).unwrap();
    common::assert_picture(&instance.render(&Render::frame(0.0)).unwrap());
    instance.press("fitMode").unwrap(); // the status line follows the next parameter event
    match instance.param("status") {
        Some(ParamValue::Text(line)) => line,
        other => panic!("no status: {other:?}"),
    }
}

#[test]
fn models_leave_memory_over_budget_and_with_the_last_instance() {
    // A budget of 0 MB keeps only the model used last.
    std::env::set_var("T2V_MODEL_MEMORY_MB", "0");
    // A pool with worker threads (the default on a 2-core machine has none), so sharing shows.
    std::env::set_var("T2V_THREADS", "3");
    let cache = tempfile::tempdir().unwrap();
    let fixture = common::fixture_model();
    let shapes = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tiny-shapes")
        .canonicalize()
        .unwrap();
    let session = common::load(HostConfig::default());
    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("useModelDefaults", false).unwrap();
    instance.set_param("steps", 1).unwrap();
    instance.set_param("frames", 1).unwrap();

    let first = render(&instance, &fixture, 1);
    assert!(!first.contains("loaded again"), "{first}");
    let loaded = threads();
    assert!(!render(&instance, &shapes, 1).contains("loaded again"));
    assert_eq!(
        threads(),
        loaded,
        "another model's sessions share the process's thread pool"
    );
    let again = render(&instance, &fixture, 2);
    assert!(
        again.ends_with(
            "; model tiny-modelscope loaded again: it had been unloaded to keep loaded models within \
             T2V_MODEL_MEMORY_MB"
        ),
        "{again}"
    );
    assert!(!render(&instance, &fixture, 3).contains("loaded again"));

    instance.destroy().unwrap();

    let instance = common::instance(&session, Context::Generator, cache.path());
    instance.set_param("useModelDefaults", false).unwrap();
    instance.set_param("steps", 1).unwrap();
    instance.set_param("frames", 1).unwrap();
    let reopened = render(&instance, &fixture, 4);
    assert!(
        reopened.ends_with(
            "; model tiny-modelscope loaded again: it had been unloaded when the last Text to Video \
             node closed"
        ),
        "{reopened}"
    );
}
