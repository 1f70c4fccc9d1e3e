//! Progress reporting through progress suite V2 (V1 fallback, nothing if neither exists).
//!
//! OFX cannot change a running progress's label, so a new label ("Text to Video: step 3/20") ends the
//! current progress and starts another; `progressUpdate` answering kOfxStatReplyNo means the user
//! cancelled.

use std::ffi::c_void;
use std::sync::Arc;

use ofx_sys::*;

use super::{c_string, suites::Suites};

pub struct Progress {
    suites: Arc<Suites>,
    instance: *mut c_void,
    label: Option<String>,
}

impl Progress {
    pub fn new(suites: Arc<Suites>, instance: *mut c_void) -> Progress {
        Progress {
            suites,
            instance,
            label: None,
        }
    }

    /// Shows `label` at `fraction` (0..1); false when the user asked to cancel.
    pub fn show(&mut self, label: &str, fraction: f64) -> bool {
        if self.label.as_deref() != Some(label) {
            self.end();
            self.start(label);
        }
        if self.label.is_none() {
            return true; // no progress suite: nothing to update, nothing to cancel
        }
        let update = self
            .suites
            .progress_v2
            .and_then(|s| s.progressUpdate)
            .or_else(|| self.suites.progress_v1.and_then(|s| s.progressUpdate));
        match update {
            // SAFETY: instance handle from the host.
            Some(f) => (unsafe { f(self.instance, fraction.clamp(0.0, 1.0)) }) != kOfxStatReplyNo,
            None => true,
        }
    }

    fn start(&mut self, label: &str) {
        let text = c_string(label);
        let started = if let Some(f) = self.suites.progress_v2.and_then(|s| s.progressStart) {
            // SAFETY: instance handle from the host; the strings outlive the call.
            unsafe {
                f(
                    self.instance,
                    text.as_ptr(),
                    c"TextToVideo.generate".as_ptr(),
                )
            }
        } else if let Some(f) = self.suites.progress_v1.and_then(|s| s.progressStart) {
            // SAFETY: as above.
            unsafe { f(self.instance, text.as_ptr()) }
        } else {
            kOfxStatErrMissingHostFeature
        };
        if started == kOfxStatOK {
            self.label = Some(label.to_owned());
        }
    }

    fn end(&mut self) {
        if self.label.take().is_none() {
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

impl Drop for Progress {
    fn drop(&mut self) {
        self.end();
    }
}
