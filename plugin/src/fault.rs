//! Test-only fault injection (cargo feature `fault-injection`, never in the shipped bundle): the fault
//! suite makes the plugin panic at a chosen point to prove every entry point turns a panic into a
//! failure status and that the plugin keeps working afterwards.
//!
//! The host names the point in its own property [`PANIC_AT`] (read at every check, so a test can
//! move or clear it between actions): an action name (`OfxActionLoad`, `OfxImageEffectActionRender`,
//! ...) panics as that action starts; [`GENERATION_STEP`] panics inside the denoising loop, while the
//! cache's single-flight slot for the clip is held; [`DECODE`] panics between sampling and decoding.

use std::ffi::CStr;

use crate::ofx::suites;

/// The host property naming where to panic.
pub const PANIC_AT: &CStr = c"TextToVideoFaultPanicAt";
/// The point inside a generation, after a denoising step.
pub const GENERATION_STEP: &str = "generationStep";
/// The point after sampling, before the VAE decodes (a decode that fails, as out of GPU memory would).
pub const DECODE: &str = "decode";

/// Panics when the host's [`PANIC_AT`] names `point` (a real panic: the panic hook records it in the
/// log, which goes to a file, not the test's stderr).
pub fn panic_if_asked(point: &str) {
    let Ok(suites) = suites::get() else { return };
    if suites
        .host()
        .get_string(PANIC_AT, 0)
        .is_ok_and(|p| p == point)
    {
        panic!("fault injection: panic at {point}");
    }
}
