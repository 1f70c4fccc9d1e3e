//! Progress reporting through progress suite V2 (V1 fallback, nothing if neither exists).
//!
//! One progress bar per generation, started with a label that says what is being made and updated
//! after every denoising step: OFX cannot relabel a running progress, and ending and restarting it
//! each step makes hosts that show a dialog (Resolve, Nuke) flicker. `progressUpdate` answering
//! kOfxStatReplyNo means the user cancelled.

use std::ffi::c_void;
use std::sync::Arc;

use ofx_sys::*;

use super::{c_string, suites::Suites};

pub struct Progress {
    suites: Arc<Suites>,
    instance: *mut c_void,
    started: bool,
}

impl Progress {
    /// Starts a progress bar labelled `label` (shown by the host for the whole generation).
    pub fn start(suites: Arc<Suites>, instance: *mut c_void, label: &str) -> Progress {
        let text = c_string(label);
        let status = if let Some(f) = suites.progress_v2.and_then(|s| s.progressStart) {
            // SAFETY: instance handle from the host; the strings outlive the call.
            unsafe { f(instance, text.as_ptr(), c"TextToVideo.generate".as_ptr()) }
        } else if let Some(f) = suites.progress_v1.and_then(|s| s.progressStart) {
            // SAFETY: as above.
            unsafe { f(instance, text.as_ptr()) }
        } else {
            kOfxStatErrMissingHostFeature
        };
        Progress {
            suites,
            instance,
            started: status == kOfxStatOK,
        }
    }

    /// Moves the bar to `fraction` (0..1); false when the user asked to cancel.
    pub fn update(&mut self, fraction: f64) -> bool {
        if !self.started {
            return true; // no progress suite: nothing to update, nothing to cancel
        }
        let update = self
            .suites
            .progress_v2
            .and_then(|s| s.progressUpdate)
            .or_else(|| self.suites.progress_v1.and_then(|s| s.progressUpdate));
        match update {
            // SAFETY: instance handle from the host; a progress was started on it.
            Some(f) => (unsafe { f(self.instance, fraction.clamp(0.0, 1.0)) }) != kOfxStatReplyNo,
            None => true,
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if !self.started {
            return;
        }
        let end = self
            .suites
            .progress_v2
            .and_then(|s| s.progressEnd)
            .or_else(|| self.suites.progress_v1.and_then(|s| s.progressEnd));
        if let Some(f) = end {
            // SAFETY: instance handle from the host; matches the progressStart above.
            unsafe { f(self.instance) };
        }
    }
}
