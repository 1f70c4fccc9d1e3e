//! Keeping the controls honest about the chosen model. Runs in instance-changed, the only action where OFX
//! lets a plugin set parameters: under Use Model Defaults, Steps, Guidance and Frames show the model's
//! values (greyed out); the Scheduler menu follows the model
//! where the host allows (`scheduler_menu`); parameters that do not apply are greyed out.
//!
//! Projects saved before Use Model Defaults (`paramsVersion` 0) held 0 for "the model's value" and load
//! with the toggle on: where one held a value of its own, the toggle goes off at the first edit, and its
//! 0s become the model's values, so its request stays what it was.

use t2v_engine::ModelPackage;

use crate::ofx::{param::ParamSet, props::PropSet, Result};
use crate::params::{names, LAYOUT_VERSION};
use crate::scheduler_menu;
use crate::settings::{OutputSize, Settings};
use crate::start_from::StartFrom;

/// Width/Height only matter for a custom size, the Model menu only without a custom model folder, Steps,
/// Guidance and Frames only with Use Model Defaults off, Start Frame only with Start From: Source Frame.
pub fn enable_dependents(params: &ParamSet, settings: &Settings) -> Result<()> {
    let custom_size = settings.output_size == OutputSize::Custom;
    params.param(names::WIDTH)?.set_enabled(custom_size);
    params.param(names::HEIGHT)?.set_enabled(custom_size);
    params
        .param(names::MODEL)?
        .set_enabled(settings.custom_model.as_os_str().is_empty());
    for name in [names::STEPS, names::GUIDANCE, names::FRAMES] {
        params
            .param(name)?
            .set_enabled(!settings.use_model_defaults);
    }
    params
        .param(names::START_FRAME)?
        .set_enabled(settings.start_from == StartFrom::Frame);
    Ok(())
}

/// What Model Licence shows for a package without `t2v_license`.
pub const NO_LICENSE: &str = "not stated by the package";

/// Brings the parameters in line with `package` after an edit (see the module comment), and shows its
/// licence.
pub fn follow_model(
    params: &ParamSet,
    host: &PropSet,
    settings: &Settings,
    package: &ModelPackage,
) -> Result<()> {
    let d = package.defaults();
    let old_project = settings.params_version < LAYOUT_VERSION;
    let own_values = settings.steps != 0 || settings.guidance > 0.0 || settings.frames != 0;
    let follows = settings.use_model_defaults && !(old_project && own_values);
    if follows != settings.use_model_defaults {
        params.param(names::USE_MODEL_DEFAULTS)?.set_int(0)?;
    }
    if old_project {
        params
            .param(names::PARAMS_VERSION)?
            .set_int(LAYOUT_VERSION)?;
    }
    // Under the toggle the model's values show; without it a 0 (no value) starts from the model's.
    let shown = |value: u32, model: u32| if follows || value == 0 { model } else { value };
    for (name, value, model) in [
        (names::STEPS, settings.steps, d.steps),
        (names::FRAMES, settings.frames, d.frames),
    ] {
        let want = shown(value, model);
        if want != value {
            params.param(name)?.set_int(want as i32)?;
        }
    }
    let guidance = if follows || settings.guidance <= 0.0 {
        d.guidance
    } else {
        settings.guidance
    };
    if guidance != settings.guidance {
        params
            .param(names::GUIDANCE)?
            .set_double(f64::from(guidance))?;
    }
    let license = package.license().unwrap_or(NO_LICENSE);
    let shown = params.param(names::MODEL_LICENSE)?;
    if shown.string_at(0.0)? != license {
        shown.set_string(license)?;
    }
    if scheduler_menu::host_changes_options(host) {
        scheduler_menu::follow_model(params, package, true)?;
    }
    Ok(())
}

/// At create-instance: only what needs no parameter edit (greying out, the Scheduler menu's options
/// where the host allows and the saved selection can stay). Opens the package without hashing it: a
/// project with many instances must load quickly.
pub fn on_create(params: &ParamSet, host: &PropSet, settings: &Settings) -> Result<()> {
    enable_dependents(params, settings)?;
    if scheduler_menu::host_changes_options(host) {
        let dir = crate::job::model_dir(settings)?;
        let package =
            ModelPackage::open(&dir).map_err(|e| crate::ofx::Error::failed(e.to_string()))?;
        scheduler_menu::follow_model(params, &package, false)?;
    }
    Ok(())
}
