//! What every C entry point of the host shares: panics never unwind into the plugin, and handles are
//! checked for their kind before use.

use ofx_sys::{kOfxStatErrUnknown, OfxStatus};
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The first field of every object whose address the host hands out as a handle; lets a suite
/// function refuse a handle of the wrong kind (kOfxStatErrBadHandle) instead of misreading it.
#[repr(u64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostObject {
    PropertySet = 0x5052_4f50_5345_5431,
    Effect = 0x4546_4645_4354_5f31,
    Clip = 0x434c_4950_5f5f_5f31,
    Param = 0x5041_5241_4d5f_5f31,
    ParamSet = 0x5041_5241_4d53_4531,
    ImageMemory = 0x494d_474d_454d_5f31,
    Mutex = 0x4d55_5445_585f_5f31,
}

impl HostObject {
    /// `handle` if it is non-NULL and points at an object tagged `kind`.
    ///
    /// # Safety
    /// `handle` must be NULL or point to at least 8 readable, 8-aligned bytes.
    pub(crate) unsafe fn check(handle: *const c_void, kind: HostObject) -> Option<*const c_void> {
        if handle.is_null() || !(handle as usize).is_multiple_of(std::mem::align_of::<u64>()) {
            return None;
        }
        (*(handle as *const u64) == kind as u64).then_some(handle)
    }
}

/// Runs a suite function's body; a panic becomes kOfxStatErrUnknown (and is reported on stderr).
pub(crate) fn ffi(body: impl FnOnce() -> OfxStatus) -> OfxStatus {
    ffi_or(kOfxStatErrUnknown, body)
}

/// Runs the body of a C entry point that does not return a status; a panic returns `fallback`.
pub(crate) fn ffi_or<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        eprintln!("ofx-host: a host suite function panicked");
        fallback
    })
}
