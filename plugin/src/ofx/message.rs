//! User-facing messages: persistent ones through message suite V2, falling back to a plain V1/V2
//! message where the host lacks V2 or leaves `setPersistentMessage` NULL (Resolve 14). The text always
//! goes through a "%s" format so a '%' in a prompt can never be read as a printf directive.

use std::ffi::{c_char, c_void, CStr};

use ofx_sys::*;

use super::{c_string, suites::Suites};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Error,
    Warning,
}

impl Kind {
    fn c_name(self) -> &'static CStr {
        match self {
            Kind::Error => kOfxMessageError,
            Kind::Warning => kOfxMessageWarning,
        }
    }
}

const MESSAGE_ID: &CStr = c"org.texttovideo.TextToVideo";

/// The shared C signature of `message` (V1, V2) and `setPersistentMessage` (V2).
type MessageFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    *const c_char,
    ...
) -> OfxStatus;

/// Calls a message function with `text` as the one argument of a "%s" format; true if the host took it.
fn send(f: MessageFn, instance: *mut c_void, kind: Kind, text: &CStr) -> bool {
    // SAFETY: instance handle from the host; "%s" consumes exactly the one string argument.
    let status = unsafe {
        f(
            instance,
            kind.c_name().as_ptr(),
            MESSAGE_ID.as_ptr(),
            c"%s".as_ptr(),
            text.as_ptr(),
        )
    };
    status == kOfxStatOK
}

/// Shows `text` so that it stays on the instance until cleared; true if the host took it.
pub fn set_persistent(suites: &Suites, instance: *mut c_void, kind: Kind, text: &str) -> bool {
    let text = c_string(text);
    let persistent = suites.message_v2.and_then(|s| s.setPersistentMessage);
    if persistent.is_some_and(|f| send(f, instance, kind, &text)) {
        return true;
    }
    plain(suites, instance, kind, &text)
}

/// Removes a persistent message (nothing to do without V2).
pub fn clear_persistent(suites: &Suites, instance: *mut c_void) {
    if let Some(f) = suites.message_v2.and_then(|s| s.clearPersistentMessage) {
        // SAFETY: instance handle from the host.
        unsafe { f(instance) };
    }
}

fn plain(suites: &Suites, instance: *mut c_void, kind: Kind, text: &CStr) -> bool {
    let message = suites
        .message_v2
        .and_then(|s| s.message)
        .or_else(|| suites.message_v1.and_then(|s| s.message));
    let Some(f) = message else {
        log::warn!("no message suite; dropped: {}", text.to_string_lossy());
        return false;
    };
    send(f, instance, kind, text)
}
