//! An image effect handle (descriptor or instance) with the suites needed to reach its parts.

use std::ffi::{c_void, CStr};
use std::ptr;
use std::sync::Arc;

use ofx_sys::*;

use super::{check, image::Clip, member, param::ParamSet, props::PropSet, suites::Suites, Result};

#[derive(Clone)]
pub struct Effect {
    handle: OfxImageEffectHandle,
    pub suites: Arc<Suites>,
}

impl Effect {
    pub fn new(handle: OfxImageEffectHandle, suites: Arc<Suites>) -> Effect {
        Effect { handle, suites }
    }

    /// The handle as the message and progress suites take it.
    pub fn raw(&self) -> *mut c_void {
        self.handle.cast()
    }

    pub fn props(&self) -> Result<PropSet> {
        let f = member!(self.suites.effect, getPropertySet)?;
        let mut props = ptr::null_mut();
        // SAFETY: valid effect handle and out pointer.
        check(unsafe { f(self.handle, &mut props) }, || {
            "getPropertySet".into()
        })?;
        Ok(PropSet::new(props, self.suites.property))
    }

    pub fn params(&self) -> Result<ParamSet> {
        let f = member!(self.suites.effect, getParamSet)?;
        let mut set = ptr::null_mut();
        // SAFETY: valid effect handle and out pointer.
        check(unsafe { f(self.handle, &mut set) }, || "getParamSet".into())?;
        Ok(ParamSet::new(set, self.suites.param, self.suites.property))
    }

    /// Defines a clip on a descriptor (describe in context) and returns its properties.
    pub fn define_clip(&self, name: &CStr) -> Result<PropSet> {
        let f = member!(self.suites.effect, clipDefine)?;
        let mut props = ptr::null_mut();
        // SAFETY: valid descriptor handle; the host copies the name.
        check(unsafe { f(self.handle, name.as_ptr(), &mut props) }, || {
            format!("clipDefine({})", name.to_string_lossy())
        })?;
        Ok(PropSet::new(props, self.suites.property))
    }

    pub fn clip(&self, name: &CStr) -> Result<Clip> {
        Clip::get(self.handle, name, self.suites.effect, self.suites.property)
    }

    /// True when the host wants the current render stopped (false if it cannot say).
    pub fn aborted(&self) -> bool {
        match self.suites.effect.abort {
            // SAFETY: valid instance handle.
            Some(f) => unsafe { f(self.handle) != 0 },
            None => false,
        }
    }
}
