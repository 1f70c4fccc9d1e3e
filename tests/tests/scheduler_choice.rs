//! The Scheduler menu is saved as an index by hosts; the plugin also keeps the chosen scheduler's id in the
//! hidden `schedulerName`, which wins when set. Projects saved before it hold only the index, read in the
//! menu's frozen order. Where the host lets a plugin change a menu (Natron), it lists only the chosen
//! model's schedulers; elsewhere one the model cannot run falls back to its default, said in the status.

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
    instance.set_param("useModelDefaults", false).unwrap();
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

/// The status line of `instance` (after its last parameter event).
fn status(instance: &Instance) -> String {
    match instance.param("status") {
        Some(ParamValue::Text(text)) => text,
        other => panic!("no status: {other:?}"),
    }
}

/// The Scheduler menu as `instance` shows it.
fn menu(instance: &Instance) -> Vec<String> {
    instance
        .param_props("scheduler")
        .unwrap()
        .strings(ofx_sys::kOfxParamPropChoiceOption)
}

const EVERY_SCHEDULER: [&str; 8] = [
    "Model Default",
    "DDIM",
    "Euler",
    "Euler a",
    "DPM++ 2M",
    "LCM",
    "Flow Euler",
    "UniPC",
];
const EPSILON_SCHEDULERS: [&str; 6] = [
    "Model Default",
    "DDIM",
    "Euler",
    "Euler a",
    "DPM++ 2M",
    "LCM",
];

/// A copy of the fixture whose scheduler config makes it a flow-matching model (only its package is read:
/// the menu and the request, not its frames).
fn flow_model(dir: &Path) -> std::path::PathBuf {
    let model = dir.join("tiny-flow");
    common::copy_dir(&common::fixture_model(), &model);
    std::fs::write(
        model.join("scheduler/scheduler_config.json"),
        r#"{"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 1.0}"#,
    )
    .unwrap();
    let index = model.join("model_index.json");
    let text = std::fs::read_to_string(&index).unwrap();
    std::fs::write(
        &index,
        text.replace(r#""scheduler": "ddim""#, r#""scheduler": "flow_euler""#),
    )
    .unwrap();
    model
}

#[test]
fn where_the_menu_cannot_change_a_scheduler_the_model_cannot_run_falls_back_saying_so() {
    let (session, cache) = (
        common::load(HostConfig::default()),
        tempfile::tempdir().unwrap(),
    );
    let instance = fresh(&session, cache.path(), 903);
    let (ddim, _) = render(&session, &instance);
    instance.set_param("scheduler", 6).unwrap();
    assert_eq!(
        menu(&instance),
        EVERY_SCHEDULER,
        "this host's menus are fixed"
    );
    assert_eq!(
        instance.param("schedulerName"),
        Some(ParamValue::Text("flow_euler".into()))
    );
    let note =
        "the Flow Euler scheduler does not handle this model's epsilon prediction; using DDIM, \
                the model's default (it runs DDIM, Euler, Euler a, DPM++ 2M, LCM)";
    let line = status(&instance);
    assert!(line.ends_with(&format!("; {note}")), "{line}");
    assert_eq!(
        render(&session, &instance),
        (ddim, false),
        "the model's default: the same clip, served from the cache"
    );
    instance.press("fitMode").unwrap(); // the status line follows the next parameter event
    let line = status(&instance);
    assert!(
        line.starts_with("3 frames 32×24, 2 steps, seed 903: cache hit"),
        "{line}"
    );
    assert!(line.ends_with(&format!("; {note}")), "{line}");

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

#[test]
fn where_the_host_allows_the_menu_lists_only_the_models_schedulers() {
    let (session, cache, models) = (
        common::load(HostConfig::natron()),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let flow = flow_model(models.path());
    let instance = fresh(&session, cache.path(), 904);
    assert_eq!(menu(&instance), EPSILON_SCHEDULERS);
    instance.set_param("scheduler", EULER_A).unwrap();
    assert_eq!(
        instance.param("schedulerName"),
        Some(ParamValue::Text("euler_a".into()))
    );
    let (euler_a, _) = render(&session, &instance);

    // A flow model: only the flow schedulers; the Euler a choice cannot stay and becomes Model Default.
    instance
        .set_param("customModel", flow.to_string_lossy().as_ref())
        .unwrap();
    assert_eq!(menu(&instance), ["Model Default", "Flow Euler", "UniPC"]);
    assert_eq!(instance.param("scheduler"), Some(ParamValue::Ints(vec![0])));
    assert_eq!(
        instance.param("schedulerName"),
        Some(ParamValue::Text("default".into()))
    );
    instance.set_param("scheduler", 1).unwrap();
    assert_eq!(
        instance.param("schedulerName"),
        Some(ParamValue::Text("flow_euler".into()))
    );

    // Back to the epsilon model: its menu again, Model Default chosen (the flow schedulers are not in it).
    common::use_fixture(&instance);
    assert_eq!(menu(&instance), EPSILON_SCHEDULERS);
    assert_eq!(instance.param("scheduler"), Some(ParamValue::Ints(vec![0])));
    instance.set_param("scheduler", EULER_A).unwrap();
    assert_eq!(
        render(&session, &instance),
        (euler_a, false),
        "Euler a again: the clip of the first choice"
    );

    // A saved project whose menu was the model's: restored as it was, the entry at its index is its
    // scheduler's, and an edit keeps both.
    let saved = fresh(&session, cache.path(), 904);
    saved
        .restore_param("customModel", flow.to_string_lossy().as_ref())
        .unwrap();
    saved.restore_param("scheduler", 1).unwrap();
    saved.restore_param("schedulerName", "flow_euler").unwrap();
    saved.press("fitMode").unwrap();
    assert_eq!(menu(&saved), ["Model Default", "Flow Euler", "UniPC"]);
    assert_eq!(saved.param("scheduler"), Some(ParamValue::Ints(vec![1])));
    assert_eq!(
        saved.param("schedulerName"),
        Some(ParamValue::Text("flow_euler".into()))
    );
}
