//! User-facing messages: persistent ones through message suite V2, falling back to a plain V1/V2
//! message where the host lacks V2 or leaves `setPersistentMessage` NULL (Resolve 14). The text always
//! goes through a "%s" format so a '%' in a prompt can never be read as a printf directive.
//!
//! As the official C++ support library does, a persistent message is only cleared where one was set:
//! Resolve 14 leaves `setPersistentMessage` NULL and fills `clearPersistentMessage` with garbage.

use std::ffi::{c_char, c_void, CStr};

use ofx_sys::*;

use super::{c_string, suites::Suites};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Error,
    Warning,
    /// News, not a problem (a generation finished).
    Message,
}

impl Kind {
    fn c_name(self) -> &'static CStr {
        match self {
            Kind::Error => kOfxMessageError,
            Kind::Warning => kOfxMessageWarning,
            Kind::Message => kOfxMessageMessage,
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
    call(f, instance, kind.c_name(), text) == kOfxStatOK
}

/// Calls a message function of level `level` with `text` through "%s"; the host's status.
fn call(f: MessageFn, instance: *mut c_void, level: &CStr, text: &CStr) -> OfxStatus {
    // SAFETY: instance handle from the host; "%s" consumes exactly the one string argument.
    unsafe {
        f(
            instance,
            level.as_ptr(),
            MESSAGE_ID.as_ptr(),
            c"%s".as_ptr(),
            text.as_ptr(),
        )
    }
}

/// A host's answer to [`ask`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// No message suite, or the host answered neither yes nor no (an error, or OK: it cannot ask).
    Unanswered,
}

/// Asks the user a yes/no question (`kOfxMessageQuestion`, a modal dialog on hosts that have one).
pub fn ask(suites: &Suites, instance: *mut c_void, question: &str) -> Answer {
    let Some(f) = plain_message_fn(suites) else {
        log::warn!("no message suite; cannot ask: {question}");
        return Answer::Unanswered;
    };
    let status = call(f, instance, kOfxMessageQuestion, &c_string(question));
    if status == kOfxStatReplyYes {
        Answer::Yes
    } else if status == kOfxStatReplyNo {
        Answer::No
    } else {
        Answer::Unanswered
    }
}

/// How a message reached the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// Through `setPersistentMessage`: it stays until [`clear_persistent`].
    Persistent,
    /// As a plain message (nothing to clear).
    Plain,
    /// The host took neither.
    Dropped,
}

/// Shows `text` so that it stays on the instance until cleared where the host can, else as a plain
/// message.
pub fn set_persistent(suites: &Suites, instance: *mut c_void, kind: Kind, text: &str) -> Shown {
    let text = c_string(text);
    if persistent(suites, instance, kind, &text) {
        return Shown::Persistent;
    }
    if send_plain(suites, instance, kind, &text) {
        Shown::Plain
    } else {
        Shown::Dropped
    }
}

/// Shows `text` as a persistent message where the host has them, else not at all (for news that must
/// never become a modal dialog); true if shown.
pub fn set_persistent_only(suites: &Suites, instance: *mut c_void, kind: Kind, text: &str) -> bool {
    persistent(suites, instance, kind, &c_string(text))
}

fn persistent(suites: &Suites, instance: *mut c_void, kind: Kind, text: &CStr) -> bool {
    let set = suites.message_v2.and_then(|s| s.setPersistentMessage);
    set.is_some_and(|f| send(f, instance, kind, text))
}

/// Removes a persistent message; only call it after [`set_persistent`] answered
/// [`Shown::Persistent`]. Never calls `clearPersistentMessage` of a host whose
/// `setPersistentMessage` is NULL (Resolve 14's is not a valid function).
pub fn clear_persistent(suites: &Suites, instance: *mut c_void) {
    let Some(v2) = suites.message_v2 else { return };
    if v2.setPersistentMessage.is_none() {
        return;
    }
    if let Some(f) = v2.clearPersistentMessage {
        // SAFETY: instance handle from the host, which implements persistent messages.
        unsafe { f(instance) };
    }
}

/// Shows `text` as a plain (not persistent) message; `instance` may be NULL or a descriptor.
pub fn plain(suites: &Suites, instance: *mut c_void, kind: Kind, text: &str) -> bool {
    send_plain(suites, instance, kind, &c_string(text))
}

/// The plain `message` function: V2's, else V1's.
fn plain_message_fn(suites: &Suites) -> Option<MessageFn> {
    suites
        .message_v2
        .and_then(|s| s.message)
        .or_else(|| suites.message_v1.and_then(|s| s.message))
}

fn send_plain(suites: &Suites, instance: *mut c_void, kind: Kind, text: &CStr) -> bool {
    let Some(f) = plain_message_fn(suites) else {
        log::warn!("no message suite; dropped: {}", text.to_string_lossy());
        return false;
    };
    send(f, instance, kind, text)
}
