//! The Scheduler menu. Hosts save a choice as its index, so the described menu lists every scheduler in a
//! frozen order (`params::SCHEDULERS`) and the chosen one's stable id goes into the hidden `schedulerName`
//! (which decides; see `request::chosen_scheduler`).
//!
//! OFX fixes a choice's options after describe, and Resolve and Nuke keep them so. Where the host says it
//! lets a plugin change them on an instance (Natron's `NatronOfxParamHostPropSupportsDynamicChoices`), the
//! menu shows only the schedulers the chosen model can run; elsewhere it lists them all, and one the model
//! cannot run falls back to the model's default with a note in the status line.

use ofx_sys::*;
use t2v_engine::{ModelPackage, SchedulerKind};

use crate::ofx::{
    param::{Param, ParamSet},
    props::PropSet,
    Result,
};
use crate::params::{names, MODEL_DEFAULT, SCHEDULERS};
use crate::request::DEFAULT_SCHEDULER;

/// Whether the host lets the plugin change the menu's options on an instance.
pub fn host_changes_options(host: &PropSet) -> bool {
    matches!(
        host.get_int(kNatronOfxParamHostPropSupportsDynamicChoices, 0),
        Ok(1)
    )
}

/// The menu for `package`: Model Default, then the schedulers it can run in the frozen order.
pub fn options_for(package: &ModelPackage) -> Vec<&'static str> {
    std::iter::once(MODEL_DEFAULT)
        .chain(package.schedulers().into_iter().map(SchedulerKind::label))
        .collect()
}

/// The id `schedulerName` stores for a menu label (empty for a label the plugin does not know).
pub fn id_of(label: &str) -> &'static str {
    if label == MODEL_DEFAULT {
        return DEFAULT_SCHEDULER;
    }
    SchedulerKind::ALL
        .into_iter()
        .find(|k| k.label() == label)
        .map_or("", SchedulerKind::name)
}

/// The id of menu entry `index` as this instance shows the menu (empty outside it).
fn id_at(menu: &Param, index: i32) -> &'static str {
    let shown = menu.options();
    let labels: Vec<&str> = if shown.is_empty() {
        SCHEDULERS.to_vec()
    } else {
        shown.iter().map(String::as_str).collect()
    };
    usize::try_from(index)
        .ok()
        .and_then(|i| labels.get(i))
        .map_or("", |label| id_of(label))
}

/// Stores the id of the entry chosen in the menu (instance-changed of `scheduler`).
pub fn remember(params: &ParamSet, time: f64) -> Result<()> {
    let menu = params.param(names::SCHEDULER)?;
    let id = id_at(&menu, menu.int_at(time)?);
    params.param(names::SCHEDULER_NAME)?.set_string(id)
}

/// On hosts that allow it, shows only `package`'s schedulers, with the saved choice selected; a choice
/// the model cannot run becomes Model Default. Without `may_set_values` (create-instance, where OFX
/// allows no parameter edits) the menu changes only if the selection can stay as it is.
pub fn follow_model(params: &ParamSet, package: &ModelPackage, may_set_values: bool) -> Result<()> {
    let menu = params.param(names::SCHEDULER)?;
    let name = params.param(names::SCHEDULER_NAME)?;
    let index = menu.int_at(0.0)?;
    let saved = name.string_at(0.0)?;
    // Projects saved before `schedulerName` hold only the index.
    let id = if saved.is_empty() {
        id_at(&menu, index)
    } else {
        saved.as_str()
    };
    let wanted = options_for(package);
    let position = wanted.iter().position(|label| id_of(label) == id);
    if !may_set_values && position != usize::try_from(index).ok() {
        return Ok(());
    }
    if menu.options() != wanted {
        menu.set_options(&wanted)?;
    }
    let position = match position {
        Some(p) => p as i32,
        None => {
            name.set_string(DEFAULT_SCHEDULER)?;
            0
        }
    };
    if position != index {
        menu.set_int(position)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_map_to_stable_ids() {
        assert_eq!(id_of("Model Default"), "default");
        assert_eq!(id_of("Euler a"), "euler_a");
        assert_eq!(id_of("Flow Euler"), "flow_euler");
        assert_eq!(id_of("DPM++ SDE (from a newer plugin)"), "");
        for label in &SCHEDULERS[1..] {
            assert_eq!(
                SchedulerKind::from_name(id_of(label)).map(SchedulerKind::label),
                Some(*label)
            );
        }
    }

    #[test]
    fn an_epsilon_model_is_offered_every_scheduler_but_the_flow_ones() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/fixtures/tiny-modelscope"
        );
        let package = ModelPackage::open(dir).unwrap();
        assert_eq!(
            options_for(&package),
            [
                "Model Default",
                "DDIM",
                "Euler",
                "Euler a",
                "DPM++ 2M",
                "LCM"
            ]
        );
    }
}
