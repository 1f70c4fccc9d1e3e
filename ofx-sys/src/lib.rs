//! Raw OpenFX C ABI: what bindgen generates from `include/ofx.h` (see `build.rs`).
//!
//! Names are the C names. String constants (actions, properties, suite names, values) are `&CStr`:
//! pass them to C with `.as_ptr()`, compare a received `*const c_char` with [`is`]. Status codes are
//! `i32` like [`OfxStatus`].

#![allow(non_upper_case_globals, non_camel_case_types, non_snake_case)]
#![allow(clippy::all)]

include!(concat!(env!("OUT_DIR"), "/ofx_bindings.rs"));

use std::ffi::{c_char, CStr};

/// True when `received` (a NUL-terminated string from the other side, possibly NULL) equals `name`.
///
/// # Safety
/// `received` must be NULL or point to a NUL-terminated string valid for the duration of the call.
pub unsafe fn is(received: *const c_char, name: &CStr) -> bool {
    !received.is_null() && CStr::from_ptr(received) == name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_constants_are_the_spec_strings() {
        assert_eq!(kOfxImageEffectActionRender, c"OfxImageEffectActionRender");
        assert_eq!(
            kOfxImageEffectPropProjectPixelAspectRatio,
            c"OfxImageEffectPropPixelAspectRatio"
        );
        assert_eq!(
            kOfxImageEffectPropSupportsMultipleClipDepths,
            c"OfxImageEffectPropMultipleClipDepths"
        );
        assert_eq!(kOfxImageEffectOutputClipName, c"Output");
    }

    #[test]
    fn status_codes_are_ofx_status() {
        let failed: OfxStatus = kOfxStatFailed;
        assert_eq!((kOfxStatOK, failed, kOfxStatReplyNo), (0, 1, 13));
    }

    #[test]
    fn is_compares_c_strings() {
        unsafe {
            assert!(is(kOfxActionLoad.as_ptr(), kOfxActionLoad));
            assert!(!is(kOfxActionLoad.as_ptr(), kOfxActionUnload));
            assert!(!is(std::ptr::null(), kOfxActionLoad));
        }
    }
}
