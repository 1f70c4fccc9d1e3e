//! The Rust side of `variadic.c`: the C functions the suites point at, and the typed callbacks they
//! call. Layouts mirror `variadic.h`.

use crate::{messages, params};
use ofx_sys::{OfxParamHandle, OfxStatus, OfxTime};
use std::ffi::{c_char, c_int, c_void};
use std::sync::Once;

pub(crate) const MAX_DIMS: usize = 4;

/// What each variadic argument of a parameter is (`OFX_HOST_STORAGE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) enum Storage {
    None = 0,
    Int = 1,
    Double = 2,
    String = 3,
}

/// Which getter was called (`OFX_HOST_READ_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Read {
    Value,
    Derivative,
    Integral,
}

#[repr(C)]
pub(crate) struct ParamCall {
    read: c_int,
    pub span: f64,
}

impl ParamCall {
    pub fn read(&self) -> Option<Read> {
        match self.read {
            0 => Some(Read::Value),
            1 => Some(Read::Derivative),
            2 => Some(Read::Integral),
            _ => None,
        }
    }
}

#[repr(C)]
pub(crate) struct ParamArgs {
    pub call: ParamCall,
    pub storage: c_int,
    pub count: c_int,
    pub out: [*mut c_void; MAX_DIMS],
    pub ints: [c_int; MAX_DIMS],
    pub doubles: [f64; MAX_DIMS],
    pub text: *const c_char,
}

#[repr(C)]
struct Callbacks {
    param_layout: unsafe extern "C" fn(OfxParamHandle, *mut c_int, *mut c_int) -> OfxStatus,
    param_get: unsafe extern "C" fn(OfxParamHandle, *const ParamArgs) -> OfxStatus,
    param_set: unsafe extern "C" fn(OfxParamHandle, *const ParamArgs) -> OfxStatus,
    message: unsafe extern "C" fn(
        *mut c_void,
        *const c_char,
        *const c_char,
        *const c_char,
        c_int,
    ) -> OfxStatus,
}

extern "C" {
    fn ofx_host_install_callbacks(table: *const Callbacks);
    pub(crate) fn ofx_host_param_get_value(param: OfxParamHandle, ...) -> OfxStatus;
    pub(crate) fn ofx_host_param_get_value_at_time(
        param: OfxParamHandle,
        time: OfxTime,
        ...
    ) -> OfxStatus;
    pub(crate) fn ofx_host_param_get_derivative(
        param: OfxParamHandle,
        time: OfxTime,
        ...
    ) -> OfxStatus;
    pub(crate) fn ofx_host_param_get_integral(
        param: OfxParamHandle,
        time1: OfxTime,
        time2: OfxTime,
        ...
    ) -> OfxStatus;
    pub(crate) fn ofx_host_param_set_value(param: OfxParamHandle, ...) -> OfxStatus;
    pub(crate) fn ofx_host_param_set_value_at_time(
        param: OfxParamHandle,
        time: OfxTime,
        ...
    ) -> OfxStatus;
    pub(crate) fn ofx_host_message(
        handle: *mut c_void,
        kind: *const c_char,
        id: *const c_char,
        format: *const c_char,
        ...
    ) -> OfxStatus;
    pub(crate) fn ofx_host_set_persistent_message(
        handle: *mut c_void,
        kind: *const c_char,
        id: *const c_char,
        format: *const c_char,
        ...
    ) -> OfxStatus;
}

static CALLBACKS: Callbacks = Callbacks {
    param_layout: params::variadic_layout,
    param_get: params::variadic_get,
    param_set: params::variadic_set,
    message: messages::variadic_message,
};

/// Connects the C functions to Rust; done before any plugin can call them.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| unsafe { ofx_host_install_callbacks(&CALLBACKS) });
}
