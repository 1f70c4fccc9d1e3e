//! The C entry points. Every call is wrapped in `catch_unwind`: a panic becomes kOfxStatErrFatal, a
//! log line and a message to the user instead of aborting the editor. The log (see `logging`) is
//! installed by the first of OfxSetHost, setHost and the load action.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use ofx_sys::*;

use crate::ofx::{effect::Effect, message, suites, OfxStatus};
use crate::{colour_management, describe, instance, render, source};

pub const PLUGIN_ID: &CStr = c"org.texttovideo.TextToVideo";

/// The version hosts see (and store in projects): the crate's, so a release bump reaches them.
pub const VERSION_MAJOR: u32 = parse_u32(env!("CARGO_PKG_VERSION_MAJOR"));
pub const VERSION_MINOR: u32 = parse_u32(env!("CARGO_PKG_VERSION_MINOR"));

/// A decimal number at compile time (Cargo's version parts are always plain digits).
const fn parse_u32(digits: &str) -> u32 {
    let bytes = digits.as_bytes();
    let mut value = 0u32;
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i].is_ascii_digit(), "a version part is not a number");
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

struct Plugin(OfxPlugin);
// SAFETY: the struct only holds pointers to static C strings and functions; hosts only read it.
unsafe impl Sync for Plugin {}

static PLUGIN: Plugin = Plugin(OfxPlugin {
    pluginApi: kOfxImageEffectPluginApi.as_ptr(),
    apiVersion: kOfxImageEffectPluginApiVersion,
    pluginIdentifier: PLUGIN_ID.as_ptr(),
    pluginVersionMajor: VERSION_MAJOR,
    pluginVersionMinor: VERSION_MINOR,
    setHost: Some(set_host),
    mainEntry: Some(main_entry),
});

/// Runs `f`, turning a panic into kOfxStatErrFatal and telling the user about it on `handle` (an
/// instance, a descriptor or NULL). Reporting is guarded too: a second panic there is only logged.
fn guarded(what: &str, handle: *const c_void, f: impl FnOnce() -> OfxStatus) -> OfxStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(status) => status,
        Err(panic) => {
            let text = format!(
                "internal error in {what}: {}",
                t2v_engine::panic_message(&*panic)
            );
            log::error!("Text to Video: {text}");
            if catch_unwind(AssertUnwindSafe(|| report(what, handle, &text))).is_err() {
                log::error!("Text to Video: {text} (and reporting it failed)");
            }
            kOfxStatErrFatal
        }
    }
}

/// Shows an internal error (already logged): as the instance's persistent error (cleared by the next
/// good render) when the action has an instance, else as a plain message; nowhere before the suites
/// are fetched.
fn report(action: &str, handle: *const c_void, text: &str) {
    let suites = suites::loaded();
    let on_instance = ![
        kOfxActionLoad,
        kOfxActionUnload,
        kOfxActionDescribe,
        kOfxImageEffectActionDescribeInContext,
    ]
    .iter()
    .any(|a| a.to_bytes() == action.as_bytes());
    match suites {
        Some(suites) if on_instance && !handle.is_null() => {
            crate::instance::show_error(&Effect::new(handle.cast_mut().cast(), suites), text)
        }
        Some(suites) => {
            let text = format!("Text to Video: {text}");
            message::plain(&suites, handle.cast_mut(), message::Kind::Error, &text);
        }
        None => {}
    }
}

#[no_mangle]
pub extern "C" fn OfxGetNumberOfPlugins() -> c_int {
    1
}

#[no_mangle]
pub extern "C" fn OfxGetPlugin(nth: c_int) -> *mut OfxPlugin {
    if nth == 0 {
        std::ptr::from_ref(&PLUGIN.0).cast_mut()
    } else {
        std::ptr::null_mut()
    }
}

/// OFX 1.5: called before anything else.
#[no_mangle]
pub extern "C" fn OfxSetHost(host: *const OfxHost) -> OfxStatus {
    guarded("OfxSetHost", std::ptr::null(), || {
        crate::logging::install();
        suites::set_host(host);
        kOfxStatOK
    })
}

unsafe extern "C" fn set_host(host: *mut OfxHost) {
    guarded("setHost", std::ptr::null(), || {
        crate::logging::install();
        suites::set_host(host);
        kOfxStatOK
    });
}

unsafe extern "C" fn main_entry(
    action: *const c_char,
    handle: *const c_void,
    in_args: OfxPropertySetHandle,
    out_args: OfxPropertySetHandle,
) -> OfxStatus {
    if action.is_null() {
        return kOfxStatErrBadHandle;
    }
    // SAFETY: the host passes a NUL-terminated action name.
    let action = unsafe { CStr::from_ptr(action) };
    guarded(&action.to_string_lossy(), handle, || {
        match dispatch(action, handle, in_args, out_args) {
            Ok(status) => status,
            Err(e) => {
                log::warn!("Text to Video: {}: {e}", action.to_string_lossy());
                e.status
            }
        }
    })
}

fn dispatch(
    action: &CStr,
    handle: *const c_void,
    in_args: OfxPropertySetHandle,
    out_args: OfxPropertySetHandle,
) -> crate::ofx::Result<OfxStatus> {
    if action == kOfxActionLoad {
        crate::logging::install(); // first: even a panic in the rest of the load is logged
    }
    #[cfg(feature = "fault-injection")]
    crate::fault::panic_if_asked(&action.to_string_lossy());
    if action == kOfxActionLoad {
        // Before any render thread could load ONNX Runtime (see the engine's doc).
        t2v_engine::disable_onnx_runtime_telemetry();
        suites::load()?;
        return Ok(kOfxStatOK);
    }
    if action == kOfxActionUnload {
        suites::unload();
        return Ok(kOfxStatOK);
    }
    let suites = suites::get()?;
    let effect = Effect::new(handle.cast_mut().cast(), suites.clone());
    let args = |h: OfxPropertySetHandle| crate::ofx::props::PropSet::new(h, suites.property);
    let (inp, out) = (args(in_args), args(out_args));
    let status = match action {
        a if a == kOfxActionDescribe => describe::describe(&effect)?,
        a if a == kOfxImageEffectActionDescribeInContext => {
            describe::describe_in_context(&effect, inp)?
        }
        a if a == kOfxActionCreateInstance => instance::create(&effect)?,
        a if a == kOfxActionDestroyInstance => instance::destroy(&effect)?,
        a if a == kOfxActionInstanceChanged => instance::changed(&effect, inp)?,
        a if a == kOfxImageEffectActionGetRegionOfDefinition => {
            render::region_of_definition(&effect, out)?
        }
        a if a == kOfxImageEffectActionGetClipPreferences => {
            render::clip_preferences(&effect, out)?
        }
        a if a == kOfxImageEffectActionGetTimeDomain => render::time_domain(&effect, out)?,
        a if a == kOfxImageEffectActionGetFramesNeeded => source::frames_needed(&effect, inp, out)?,
        a if a == kOfxImageEffectActionGetOutputColourspace => {
            colour_management::output_colourspace(&effect, inp, out)?
        }
        a if a == kOfxImageEffectActionIsIdentity => kOfxStatReplyDefault,
        a if a == kOfxImageEffectActionBeginSequenceRender
            || a == kOfxImageEffectActionEndSequenceRender =>
        {
            kOfxStatOK
        }
        a if a == kOfxImageEffectActionRender => render::render(&effect, inp)?,
        _ => kOfxStatReplyDefault,
    };
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_one_image_effect_plugin() {
        assert_eq!(OfxGetNumberOfPlugins(), 1);
        let plugin = unsafe { &*OfxGetPlugin(0) };
        let api = unsafe { CStr::from_ptr(plugin.pluginApi) };
        assert_eq!(api, c"OfxImageEffectPluginAPI");
        assert_eq!(plugin.apiVersion, 1);
        let id = unsafe { CStr::from_ptr(plugin.pluginIdentifier) };
        assert_eq!(id, c"org.texttovideo.TextToVideo");
        assert!(OfxGetPlugin(1).is_null());
        let version = format!(
            "{}.{}.",
            plugin.pluginVersionMajor, plugin.pluginVersionMinor
        );
        assert!(env!("CARGO_PKG_VERSION").starts_with(&version), "{version}");
    }

    #[test]
    fn a_panic_becomes_a_fatal_status() {
        let none = std::ptr::null();
        assert_eq!(guarded("test", none, || panic!("boom")), kOfxStatErrFatal);
        assert_eq!(guarded("test", none, || kOfxStatOK), kOfxStatOK);
    }

    #[test]
    fn actions_without_a_host_fail_cleanly() {
        let status = unsafe {
            main_entry(
                kOfxActionDescribe.as_ptr(),
                std::ptr::null(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(status, kOfxStatErrMissingHostFeature);
        let status = unsafe {
            main_entry(
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(status, kOfxStatErrBadHandle);
    }
}
