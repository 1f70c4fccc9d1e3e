//! Message suites V1 and V2: every message the plugin sends is recorded on the host, in order.
//! Resolve-like hosts advertise V2 with a NULL `setPersistentMessage` and a garbage (non-NULL, invalid)
//! `clearPersistentMessage`; that mode is a config switch, and calling the garbage member is recorded
//! (see [`crate::Session::garbage_calls`]) and fails the test.

use crate::guard::ffi;
use crate::host;
use crate::variadic::{ofx_host_message, ofx_host_set_persistent_message};
use ofx_sys::*;
use std::ffi::{c_char, c_int, c_void, CStr};

/// How a message was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// `message` (V1 or V2): a dialog or log line.
    Transient,
    /// V2 `setPersistentMessage`: stays on the instance until cleared.
    Persistent,
    /// V2 `clearPersistentMessage`.
    Cleared,
}

/// How the host's user answers a question (`kOfxMessageQuestion`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QuestionReply {
    Yes,
    /// What the host answers unless told otherwise: nothing a question guards happens by accident.
    #[default]
    No,
    /// `kOfxStatFailed`: a host that cannot ask questions.
    Failed,
}

impl QuestionReply {
    fn status(self) -> OfxStatus {
        match self {
            QuestionReply::Yes => kOfxStatReplyYes,
            QuestionReply::No => kOfxStatReplyNo,
            QuestionReply::Failed => kOfxStatFailed,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub kind: MessageKind,
    /// `kOfxMessageError`, `kOfxMessageWarning`... as a string ("OfxMessageError").
    pub level: String,
    pub id: String,
    pub text: String,
}

fn text(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// Records a formatted message (called by `variadic.c`). Questions are answered as
/// [`crate::HostConfig::question_reply`] says.
pub(crate) unsafe extern "C" fn variadic_message(
    _handle: *mut c_void,
    level: *const c_char,
    id: *const c_char,
    message: *const c_char,
    persistent: c_int,
) -> OfxStatus {
    ffi(|| {
        let kind = if persistent != 0 {
            MessageKind::Persistent
        } else {
            MessageKind::Transient
        };
        let level = text(level);
        let reply = if level == kOfxMessageQuestion.to_string_lossy() {
            host::current().map_or(kOfxStatReplyNo, |state| {
                state.config.question_reply.status()
            })
        } else {
            kOfxStatOK
        };
        let message = Message {
            kind,
            level,
            id: text(id),
            text: text(message),
        };
        if host::record_message(message) {
            reply
        } else {
            kOfxStatErrBadHandle
        }
    })
}

unsafe extern "C" fn clear_persistent_message(_handle: *mut c_void) -> OfxStatus {
    ffi(|| {
        let cleared = Message {
            kind: MessageKind::Cleared,
            level: String::new(),
            id: String::new(),
            text: String::new(),
        };
        if host::record_message(cleared) {
            kOfxStatOK
        } else {
            kOfxStatErrBadHandle
        }
    })
}

/// Stands for Resolve 14's invalid `clearPersistentMessage`: a real host would crash here.
unsafe extern "C" fn garbage_clear_persistent_message(_handle: *mut c_void) -> OfxStatus {
    ffi(|| {
        host::record_garbage_call("clearPersistentMessage");
        kOfxStatErrUnknown
    })
}

pub(crate) static SUITE_V1: OfxMessageSuiteV1 = OfxMessageSuiteV1 {
    message: Some(ofx_host_message),
};

pub(crate) static SUITE_V2: OfxMessageSuiteV2 = OfxMessageSuiteV2 {
    message: Some(ofx_host_message),
    setPersistentMessage: Some(ofx_host_set_persistent_message),
    clearPersistentMessage: Some(clear_persistent_message),
};

/// V2 as DaVinci Resolve 14 offers it: `setPersistentMessage` is NULL and `clearPersistentMessage`
/// is not a valid function.
pub(crate) static SUITE_V2_WITHOUT_PERSISTENT: OfxMessageSuiteV2 = OfxMessageSuiteV2 {
    message: Some(ofx_host_message),
    setPersistentMessage: None,
    clearPersistentMessage: Some(garbage_clear_persistent_message),
};
