//! Instance lifecycle and instance-changed: the buttons (Generate, New Seed, Clear This Clip, Clear All),
//! the controls following the model (`controls`) and pushing the status line into the `status`
//! parameter — the only place parameters are set. Also the messages on the node: errors and warnings,
//! and a note when a generation finishes.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use clip_cache::ClipCache;
use ofx_sys::*;

use crate::controls;
use crate::generate;
use crate::location;
use crate::model_pool;
use crate::ofx::{
    effect::Effect, message, param::ParamSet, props::PropSet, Error, OfxStatus, Result,
};
use crate::params::names;
use crate::project::Project;
use crate::scheduler_menu;
use crate::session;
use crate::settings::Settings;
use crate::source;
use crate::start_from::StartFrom;
use crate::transfer::Transfer;

/// Per-instance state, owned through `kOfxPropInstanceData`.
#[derive(Default)]
struct InstanceData {
    /// A persistent message is showing (cleared after the next good render).
    showing_error: AtomicBool,
    /// A message was set through `setPersistentMessage`: only then is there one to clear.
    persistent: AtomicBool,
    /// The last message shown: repeating it on every frame would stack up dialogs on hosts without
    /// persistent messages.
    last_message: Mutex<Option<String>>,
    /// A "generation finished" note shows (cleared at the next edit, replaced by the next problem).
    showing_finished: AtomicBool,
}

pub fn create(effect: &Effect) -> Result<OfxStatus> {
    let props = effect.props()?;
    let data = Box::into_raw(Box::<InstanceData>::default());
    if let Err(e) = props.set_pointer(kOfxPropInstanceData, data.cast()) {
        // SAFETY: the pointer came from Box::into_raw above and was not stored.
        drop(unsafe { Box::from_raw(data) });
        return Err(e);
    }
    model_pool::instance_created();
    // Cosmetic: a failure here must not fail creation (the host would never destroy the instance).
    let shaped = effect.params().and_then(|params| {
        let settings = Settings::read(&params, 0.0)?;
        controls::on_create(&params, &effect.suites.host(), &settings)
    });
    if let Err(e) = shaped {
        log::debug!("Text to Video: cannot shape the controls for the model: {e}");
    }
    Ok(kOfxStatOK)
}

pub fn destroy(effect: &Effect) -> Result<OfxStatus> {
    let props = effect.props()?;
    let data = props.get_pointer(kOfxPropInstanceData)?;
    if !data.is_null() {
        props.set_pointer(kOfxPropInstanceData, std::ptr::null_mut())?;
        // SAFETY: set in `create` from Box::into_raw and cleared above, so freed exactly once.
        drop(unsafe { Box::from_raw(data.cast::<InstanceData>()) });
        model_pool::instance_destroyed();
    }
    Ok(kOfxStatOK)
}

fn with_data(effect: &Effect, f: impl FnOnce(&InstanceData)) {
    let data = effect
        .props()
        .and_then(|p| p.get_pointer(kOfxPropInstanceData))
        .unwrap_or(std::ptr::null_mut());
    // SAFETY: non-NULL values are the InstanceData set in `create`, alive until `destroy`.
    if let Some(data) = unsafe { data.cast::<InstanceData>().as_ref() } {
        f(data);
    }
}

/// Shows `text` as the instance's persistent error (the caller logs it: a failed action is logged where
/// the entry points see it fail).
pub fn show_error(effect: &Effect, text: &str) {
    show(effect, message::Kind::Error, text);
}

/// Shows a problem that did not stop the render (for example a full disk: the clip lives in memory only).
pub fn show_warning(effect: &Effect, text: &str) {
    log::warn!("Text to Video: {text}");
    show(effect, message::Kind::Warning, text);
}

fn show(effect: &Effect, kind: message::Kind, text: &str) {
    let text = format!("Text to Video: {text}");
    let mut repeated = false;
    with_data(effect, |d| {
        let mut last = d.last_message.lock();
        repeated = d.showing_error.load(Ordering::Relaxed) && last.as_deref() == Some(&text);
        *last = Some(text.clone());
        d.showing_error.store(true, Ordering::Relaxed);
        d.showing_finished.store(false, Ordering::Relaxed);
    });
    if !repeated {
        let shown = message::set_persistent(&effect.suites, effect.raw(), kind, &text);
        let persistent = shown == message::Shown::Persistent;
        with_data(effect, |d| {
            d.persistent.fetch_or(persistent, Ordering::Relaxed);
        });
    }
}

/// Says on the node that a generation finished — only as a persistent message: a plain one is a modal
/// dialog on many hosts, and this is news, not a problem. Stays through later good renders.
pub fn show_finished(effect: &Effect, text: &str) {
    clear_error(effect); // the problem it showed is gone; hosts need not replace a persistent message
    let text = format!("Text to Video: {text}");
    if message::set_persistent_only(&effect.suites, effect.raw(), message::Kind::Message, &text) {
        with_data(effect, |d| {
            d.showing_error.store(false, Ordering::Relaxed);
            *d.last_message.lock() = None;
            d.persistent.store(true, Ordering::Relaxed);
            d.showing_finished.store(true, Ordering::Relaxed);
        });
    }
}

/// Clears a "generation finished" note (at an edit: the status line takes over).
fn clear_finished(effect: &Effect) {
    with_data(effect, |d| {
        if d.showing_finished.swap(false, Ordering::Relaxed)
            && d.persistent.swap(false, Ordering::Relaxed)
        {
            message::clear_persistent(&effect.suites, effect.raw());
        }
    });
}

/// Clears the persistent message after a good render.
pub fn clear_error(effect: &Effect) {
    with_data(effect, |d| {
        if d.showing_error.swap(false, Ordering::Relaxed) {
            *d.last_message.lock() = None;
            if d.persistent.swap(false, Ordering::Relaxed) {
                message::clear_persistent(&effect.suites, effect.raw());
            }
        }
    });
}

pub fn changed(effect: &Effect, in_args: PropSet) -> Result<OfxStatus> {
    let kind = in_args.get_string(kOfxPropType, 0)?;
    if kind.as_bytes() != kOfxTypeParameter.to_bytes() {
        return Ok(kOfxStatReplyDefault);
    }
    let name = in_args.get_string(kOfxPropName, 0)?;
    if name == names::STATUS
        || name == names::MODEL_LICENSE
        || name == names::GENERATION
        || name == names::MODEL_NAME
        || name == names::SCHEDULER_NAME
        || name == names::PARAMS_VERSION
        || name == names::OUTPUT_TRANSFER_NAME
        || name == names::START_FROM_NAME
    {
        return Ok(kOfxStatOK); // our own writes
    }
    clear_finished(effect);
    let time = in_args.get_double(kOfxPropTime, 0).unwrap_or(0.0);
    let params = effect.params()?;
    if name == names::NEW_SEED {
        params.param(names::SEED)?.set_int(new_seed())?;
    }
    if name == names::MODEL {
        remember_model_name(&params, time)?;
    }
    if name == names::UNLOAD_MODELS {
        let freed = model_pool::unload_all();
        log::info!("Text to Video: Unload models: {freed}");
        set_status(&params, &format!("Unload models: {freed}"))?;
        return Ok(kOfxStatOK);
    }
    if name == names::SCHEDULER {
        scheduler_menu::remember(&params, time)?;
    }
    if name == names::OUTPUT_TRANSFER {
        remember_transfer_id(&params, time)?;
    }
    if name == names::START_FROM {
        remember_start_from_id(&params, time)?;
    }
    let settings_and_job = Settings::read(&params, time).and_then(|settings| {
        controls::enable_dependents(&params, &settings)?;
        let project = Project::read(effect)?;
        // With the Source frames it reads: Generate approves, and Status names, the clip renders use.
        let job = source::job(effect, &settings, &project)?;
        // Cosmetic: the render decides from the settings alone (see `request`).
        let host = effect.suites.host();
        if let Err(e) = controls::follow_model(&params, &host, &settings, &job.package.package) {
            log::warn!("Text to Video: cannot show the model's values in the controls: {e}");
        }
        Ok((settings, job))
    });
    let (settings, job) = match settings_and_job {
        Ok(both) => both,
        Err(e) => {
            set_status(&params, &format!("Error: {}", e.message))?;
            if name == names::GENERATE {
                log::warn!("Text to Video: Generate: {}", e.message);
                show_error(effect, &e.message);
            }
            return Ok(kOfxStatOK);
        }
    };
    let key = job.recipe.key();
    let folder = generate::folder(&settings.cache_folder);
    match name.as_str() {
        names::GENERATE => {
            session::approve(&key);
            if generate::peek(&job, &settings.cache_folder).is_none() {
                session::set_status(&key, "Generating on the next render…".into());
            }
            bump_generation(&params)?;
        }
        names::CLEAR_CLIP => {
            ClipCache::global()
                .clear(&key, folder)
                .map_err(|e| Error::failed(format!("cannot clear the clip: {e}")))?;
            session::forget(Some(&key));
            bump_generation(&params)?;
        }
        names::CLEAR_ALL => {
            if let Some(refusal) = confirm_clear_all(effect, folder)? {
                session::set_status(&key, refusal);
            } else {
                let report = ClipCache::global()
                    .clear_all(folder)
                    .map_err(|e| Error::failed(format!("cannot clear the cache: {e}")))?;
                session::forget(None);
                if !report.failed.is_empty() || report.refused.is_some() {
                    show_warning(effect, &report.to_string());
                }
                session::set_status(&key, report.to_string());
                bump_generation(&params)?;
            }
        }
        _ => {}
    }
    let status = session::status(&key)
        .or_else(|| {
            generate::peek(&job, &settings.cache_folder).map(|f| generate::describe(&f, &job, &[]))
        })
        .unwrap_or_else(generate::pending_status);
    set_status(&params, &generate::with_notes(status, &job))?;
    Ok(kOfxStatOK)
}

/// Asks the user to confirm Clear All when the disk folder holds something of the cache's: `None` to go on,
/// else the status saying why nothing was removed. A host that cannot ask (no message suite, or it
/// answers a question with neither yes nor no) removes nothing: a shared render-farm cache is too costly
/// to lose to a click nobody confirmed, and deleting the folder by hand stays possible.
fn confirm_clear_all(effect: &Effect, folder: Option<&Path>) -> Result<Option<String>> {
    let cache = ClipCache::global();
    let root = clip_cache::cache_folder(folder);
    let usage = cache
        .usage(folder)
        .map_err(|e| Error::failed(format!("cannot clear the cache: {e}")))?;
    let Some(root) = root.filter(|_| usage.bytes > 0 && !cache.is_read_only()) else {
        return Ok(None); // nothing on disk to lose (memory is cleared without asking)
    };
    let clips = if usage.clips == 1 { "clip" } else { "clips" };
    let question = format!(
        "Remove {} cached {clips} ({}) from {}? This cannot be undone.",
        usage.clips,
        size_text(usage.bytes),
        root.display()
    );
    Ok(match message::ask(&effect.suites, effect.raw(), &question) {
        message::Answer::Yes => None,
        message::Answer::No => Some("Clear All cancelled: nothing was removed".into()),
        message::Answer::Unanswered => Some(
            "Clear All needs the host to confirm it and this host cannot ask: nothing was removed \
             (delete the cache folder's contents by hand instead)"
                .into(),
        ),
    })
}

/// "3.4 GB", "12.0 MB", "8 KB" (units of 2^30, 2^20, 2^10 bytes, as the Cache Limit's GB).
fn size_text(bytes: u64) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if b >= KB * KB * KB {
        format!("{:.1} GB", b / (KB * KB * KB))
    } else if b >= KB * KB {
        format!("{:.1} MB", b / (KB * KB))
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

fn set_status(params: &ParamSet, text: &str) -> Result<()> {
    let status = params.param(names::STATUS)?;
    if status.string_at(0.0).ok().as_deref() != Some(text) {
        status.set_string(text)?;
    }
    Ok(())
}

/// Changes the hidden `generation` parameter so the host sees an edit and renders again.
fn bump_generation(params: &ParamSet) -> Result<()> {
    let p = params.param(names::GENERATION)?;
    let next = p.int_at(0.0)?.wrapping_add(1).max(0);
    p.set_int(next)
}

/// A seed in the parameter's range, different on every press.
fn new_seed() -> i32 {
    fastrand::i32(0..i32::MAX)
}

/// Stores the chosen model's name: a choice is saved as an index, and models added to or removed from
/// an earlier search folder would otherwise silently switch a saved project to another model.
fn remember_model_name(params: &ParamSet, time: f64) -> Result<()> {
    let index = params.param(names::MODEL)?.int_at(time)?;
    let name = usize::try_from(index)
        .ok()
        .and_then(|i| location::models().get(i).map(|m| m.label.clone()))
        .unwrap_or_default();
    params.param(names::MODEL_NAME)?.set_string(&name)
}

/// Stores the chosen output transfer's id (the menu index alone would follow any reorder of the menu).
fn remember_transfer_id(params: &ParamSet, time: f64) -> Result<()> {
    let index = params.param(names::OUTPUT_TRANSFER)?.int_at(time)?;
    let id = Transfer::from_index(index).map_or("", Transfer::id);
    params.param(names::OUTPUT_TRANSFER_NAME)?.set_string(id)
}

fn remember_start_from_id(params: &ParamSet, time: f64) -> Result<()> {
    let index = params.param(names::START_FROM)?.int_at(time)?;
    let id = StartFrom::from_index(index).map_or("", StartFrom::id);
    params.param(names::START_FROM_NAME)?.set_string(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_seeds_are_in_range_and_vary() {
        let seeds: Vec<i32> = (0..50).map(|_| new_seed()).collect();
        assert!(seeds.iter().all(|&s| s >= 0));
        let mut unique = seeds.clone();
        unique.sort();
        unique.dedup();
        assert!(unique.len() > 1, "{seeds:?}");
    }

    #[test]
    fn sizes_read_in_the_unit_that_fits() {
        assert_eq!(size_text(1), "1 KB");
        assert_eq!(size_text(8192), "8 KB");
        assert_eq!(size_text(12 << 20), "12.0 MB");
        assert_eq!(size_text((34 << 30) / 10), "3.4 GB");
    }
}
