//! Timeline suite: the host's current time (moved by renders and `gotoTime`) and its bounds.

use crate::guard::ffi;
use crate::host;
use ofx_sys::*;
use std::ffi::c_void;

unsafe extern "C" fn get_time(_instance: *mut c_void, time: *mut f64) -> OfxStatus {
    ffi(|| match (host::current(), time.is_null()) {
        (Some(state), false) => {
            *time = state.time();
            kOfxStatOK
        }
        (None, _) => kOfxStatErrBadHandle,
        (_, true) => kOfxStatErrValue,
    })
}

unsafe extern "C" fn goto_time(_instance: *mut c_void, time: f64) -> OfxStatus {
    ffi(|| match host::current() {
        Some(state) => {
            state.set_time(time);
            kOfxStatOK
        }
        None => kOfxStatErrBadHandle,
    })
}

unsafe extern "C" fn get_time_bounds(
    _instance: *mut c_void,
    first: *mut f64,
    last: *mut f64,
) -> OfxStatus {
    ffi(
        || match (host::current(), first.is_null() || last.is_null()) {
            (Some(state), false) => {
                (*first, *last) = state.config.frame_range;
                kOfxStatOK
            }
            (None, _) => kOfxStatErrBadHandle,
            (_, true) => kOfxStatErrValue,
        },
    )
}

pub(crate) static SUITE: OfxTimeLineSuiteV1 = OfxTimeLineSuiteV1 {
    getTime: Some(get_time),
    gotoTime: Some(goto_time),
    getTimeBounds: Some(get_time_bounds),
};
