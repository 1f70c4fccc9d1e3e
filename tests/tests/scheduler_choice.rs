//! The Scheduler menu is saved as an index by hosts; the plugin also keeps the chosen scheduler's id in the
//! hidden `schedulerName`, which wins when set. Projects saved before it hold only the index, read in the
//! menu's frozen order. A scheduler the model cannot run fails, naming the ones it can.

mod common;

use ofx_host::{Context, HostConfig, Instance, ParamValue, Render, Session};
use std::path::Path;

/// Menu index of "Euler a" (0 is Model default, then DDIM, Euler, Euler a, …).
const EULER_A: i32 = 3;
const EULER: i32 = 2;

/// Renders frame 0; returns its pixels and whether it was generated (false: the cache held its key).
fn render(session: &Session, instance: &Instance) -> (Vec<f32>, bool) {
    session.clear_log();
    let image = instance.render(&Render::frame(0.0)).unwrap();
    common::assert_picture(&image);
    (image.to_f32(), !session.progress().is_empty())
}

/// An instance generating `seed` (one per test: the plugin's memory tier is shared by the tests in this
/// process) in 2 steps into `cache`.
fn fresh<'s>(session: &'s Session, cache: &Path, seed: i32) -> Instance<'s> {
    let instance = common::instance(session, Context::Generator, cache);
    instance.set_param("steps", 2).unwrap();
    instance.set_param("seed", seed).unwrap();
    instance
}

#[test]
fn choosing_a_scheduler_stores_its_id_and_an_old_project_keeps_its_scheduler_by_index() {
    let (session, cache) = (
        common::load(HostConfig::default()),
        tempfile::tempdir().unwrap(),
    );
    let chosen = fresh(&session, cache.path(), 901);
    assert_eq!(
        chosen.param("schedulerName"),
        Some(ParamValue::Text(String::new())),
        "nothing stored before the user picks a scheduler"
    );
    chosen.set_param("scheduler", EULER_A).unwrap();
    assert_eq!(
        chosen.param("schedulerName"),
        Some(ParamValue::Text("euler_a".into()))
    );
    chosen.set_param("scheduler", 0).unwrap();
    assert_eq!(
        chosen.param("schedulerName"),
        Some(ParamValue::Text("default".into()))
    );
    chosen.set_param("scheduler", EULER_A).unwrap();
    let (by_id, _) = render(&session, &chosen);

    // A project saved before schedulerName existed: only the index comes back.
    let old = fresh(&session, cache.path(), 901);
    old.restore_param("scheduler", EULER_A).unwrap();
    assert_eq!(
        old.param("schedulerName"),
        Some(ParamValue::Text(String::new()))
    );
    assert_eq!(
        render(&session, &old),
        (by_id.clone(), false),
        "the same clip key (served from the cache), the same frames"
    );

    let default = fresh(&session, cache.path(), 901);
    let (ddim, generated) = render(&session, &default);
    assert!(generated, "another scheduler is another clip");
    assert_ne!(ddim, by_id);
}

#[test]
fn a_choice_by_id_survives_a_menu_reorder() {
    let (session, cache) = (
        common::load(HostConfig::default()),
        tempfile::tempdir().unwrap(),
    );
    let chosen = fresh(&session, cache.path(), 902);
    chosen.set_param("scheduler", EULER_A).unwrap();
    let (want, _) = render(&session, &chosen);

    // A later menu put another entry at the saved index: the stored id still picks Euler a.
    let reordered = fresh(&session, cache.path(), 902);
    reordered.restore_param("schedulerName", "euler_a").unwrap();
    reordered.restore_param("scheduler", EULER).unwrap();
    assert_eq!(
        render(&session, &reordered),
        (want, false),
        "the same clip key (served from the cache), the same frames"
    );
    // Without the id, that index is Euler: another clip.
    reordered.restore_param("schedulerName", "").unwrap();
    assert!(
        render(&session, &reordered).1,
        "Euler generates its own clip"
    );
}

#[test]
fn a_scheduler_the_model_cannot_run_fails_naming_the_valid_ones() {
    let (session, cache) = (
        common::load(HostConfig::default()),
        tempfile::tempdir().unwrap(),
    );
    let instance = fresh(&session, cache.path(), 903);
    let text =
        "the Flow Euler scheduler does not handle this model's epsilon prediction; choose one of \
                DDIM, Euler, Euler a, DPM++ 2M, LCM";
    instance.set_param("scheduler", 6).unwrap();
    assert_eq!(
        instance.param("status"),
        Some(ParamValue::Text(format!("Error: {text}")))
    );
    session.clear_log();
    common::failed_render(instance.render(&Render::frame(0.0)));
    let messages = session.messages();
    assert!(
        messages.iter().any(|m| m.text.contains(text)),
        "{messages:?}"
    );
    assert!(common::entries(cache.path()).is_empty(), "nothing cached");

    // An id saved by a newer plugin this one does not know is named, not silently replaced.
    instance
        .restore_param("schedulerName", "dpmpp_sde")
        .unwrap();
    session.clear_log();
    common::failed_render(instance.render(&Render::frame(0.0)));
    assert!(
        session.messages().iter().any(|m| m
            .text
            .contains("the saved scheduler `dpmpp_sde` is not one this plugin offers")),
        "{:?}",
        session.messages()
    );
}
