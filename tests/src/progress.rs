//! Progress suites V1 and V2: updates are recorded; the host can answer "cancel" (kOfxStatReplyNo)
//! after a set number of updates, as a user pressing Cancel on a progress dialog would.

use crate::guard::ffi;
use crate::host;
use ofx_sys::*;
use std::ffi::{c_char, c_void, CStr};

#[derive(Clone, Debug, PartialEq)]
pub enum ProgressEvent {
    /// `progressStart`: label (V1) or message and id (V2, id is `None` from V1).
    Start {
        label: String,
        id: Option<String>,
    },
    Update(f64),
    End,
}

fn text(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

fn record(event: ProgressEvent) -> OfxStatus {
    match host::record_progress(event) {
        Some(true) => kOfxStatOK,
        Some(false) => kOfxStatReplyNo,
        None => kOfxStatErrBadHandle,
    }
}

unsafe extern "C" fn start_v1(_instance: *mut c_void, label: *const c_char) -> OfxStatus {
    ffi(|| {
        record(ProgressEvent::Start {
            label: text(label),
            id: None,
        })
    })
}

unsafe extern "C" fn start_v2(
    _instance: *mut c_void,
    message: *const c_char,
    id: *const c_char,
) -> OfxStatus {
    ffi(|| {
        record(ProgressEvent::Start {
            label: text(message),
            id: Some(text(id)),
        })
    })
}

unsafe extern "C" fn update(_instance: *mut c_void, progress: f64) -> OfxStatus {
    ffi(|| record(ProgressEvent::Update(progress)))
}

unsafe extern "C" fn end(_instance: *mut c_void) -> OfxStatus {
    ffi(|| record(ProgressEvent::End))
}

pub(crate) static SUITE_V1: OfxProgressSuiteV1 = OfxProgressSuiteV1 {
    progressStart: Some(start_v1),
    progressUpdate: Some(update),
    progressEnd: Some(end),
};

pub(crate) static SUITE_V2: OfxProgressSuiteV2 = OfxProgressSuiteV2 {
    progressStart: Some(start_v2),
    progressUpdate: Some(update),
    progressEnd: Some(end),
};
