//! Typed access to an OFX property set.

use std::ffi::{c_char, c_void, CStr};
use std::ptr;

use ofx_sys::*;

use super::{c_string, check, member, name, Result};

/// A property set handle plus the property suite.
#[derive(Clone, Copy)]
pub struct PropSet {
    handle: OfxPropertySetHandle,
    suite: &'static OfxPropertySuiteV1,
}

impl PropSet {
    pub fn new(handle: OfxPropertySetHandle, suite: &'static OfxPropertySuiteV1) -> PropSet {
        PropSet { handle, suite }
    }

    pub fn handle(&self) -> OfxPropertySetHandle {
        self.handle
    }

    pub fn suite(&self) -> &'static OfxPropertySuiteV1 {
        self.suite
    }

    pub fn set_string(&self, prop: &CStr, index: i32, value: &str) -> Result<()> {
        let value = c_string(value);
        let f = member!(self.suite, propSetString)?;
        // SAFETY: valid handle from the host; both strings outlive the call (the host copies them).
        check(
            unsafe { f(self.handle, prop.as_ptr(), index, value.as_ptr()) },
            || format!("propSetString({})", name(prop)),
        )
    }

    /// Sets every element of a string property (for example the supported contexts).
    pub fn set_strings(&self, prop: &CStr, values: &[&CStr]) -> Result<()> {
        values
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| self.set_c_string(prop, i as i32, v))
    }

    pub fn set_c_string(&self, prop: &CStr, index: i32, value: &CStr) -> Result<()> {
        let f = member!(self.suite, propSetString)?;
        // SAFETY: as in set_string.
        check(
            unsafe { f(self.handle, prop.as_ptr(), index, value.as_ptr()) },
            || format!("propSetString({})", name(prop)),
        )
    }

    pub fn set_int(&self, prop: &CStr, index: i32, value: i32) -> Result<()> {
        let f = member!(self.suite, propSetInt)?;
        // SAFETY: valid handle from the host.
        check(
            unsafe { f(self.handle, prop.as_ptr(), index, value) },
            || format!("propSetInt({})", name(prop)),
        )
    }

    pub fn set_double(&self, prop: &CStr, index: i32, value: f64) -> Result<()> {
        let f = member!(self.suite, propSetDouble)?;
        // SAFETY: valid handle from the host.
        check(
            unsafe { f(self.handle, prop.as_ptr(), index, value) },
            || format!("propSetDouble({})", name(prop)),
        )
    }

    pub fn set_doubles(&self, prop: &CStr, values: &[f64]) -> Result<()> {
        values
            .iter()
            .enumerate()
            .try_for_each(|(i, &v)| self.set_double(prop, i as i32, v))
    }

    pub fn set_pointer(&self, prop: &CStr, value: *mut c_void) -> Result<()> {
        let f = member!(self.suite, propSetPointer)?;
        // SAFETY: valid handle from the host; the host stores the pointer without touching it.
        check(unsafe { f(self.handle, prop.as_ptr(), 0, value) }, || {
            format!("propSetPointer({})", name(prop))
        })
    }

    pub fn get_string(&self, prop: &CStr, index: i32) -> Result<String> {
        let f = member!(self.suite, propGetString)?;
        let mut value: *mut c_char = ptr::null_mut();
        // SAFETY: valid handle; the host returns a string it owns, copied before returning.
        check(
            unsafe { f(self.handle, prop.as_ptr(), index, &mut value) },
            || format!("propGetString({})", name(prop)),
        )?;
        if value.is_null() {
            return Ok(String::new());
        }
        // SAFETY: non-NULL strings from the host are NUL-terminated.
        Ok(unsafe { CStr::from_ptr(value) }
            .to_string_lossy()
            .into_owned())
    }

    pub fn get_int(&self, prop: &CStr, index: i32) -> Result<i32> {
        let f = member!(self.suite, propGetInt)?;
        let mut value = 0;
        // SAFETY: valid handle and out pointer.
        check(
            unsafe { f(self.handle, prop.as_ptr(), index, &mut value) },
            || format!("propGetInt({})", name(prop)),
        )?;
        Ok(value)
    }

    pub fn get_double(&self, prop: &CStr, index: i32) -> Result<f64> {
        let f = member!(self.suite, propGetDouble)?;
        let mut value = 0.0;
        // SAFETY: valid handle and out pointer.
        check(
            unsafe { f(self.handle, prop.as_ptr(), index, &mut value) },
            || format!("propGetDouble({})", name(prop)),
        )?;
        Ok(value)
    }

    pub fn get_doubles<const N: usize>(&self, prop: &CStr) -> Result<[f64; N]> {
        let mut out = [0.0; N];
        for (i, v) in out.iter_mut().enumerate() {
            *v = self.get_double(prop, i as i32)?;
        }
        Ok(out)
    }

    pub fn get_ints<const N: usize>(&self, prop: &CStr) -> Result<[i32; N]> {
        let mut out = [0; N];
        for (i, v) in out.iter_mut().enumerate() {
            *v = self.get_int(prop, i as i32)?;
        }
        Ok(out)
    }

    pub fn get_pointer(&self, prop: &CStr) -> Result<*mut c_void> {
        let f = member!(self.suite, propGetPointer)?;
        let mut value = ptr::null_mut();
        // SAFETY: valid handle and out pointer.
        check(
            unsafe { f(self.handle, prop.as_ptr(), 0, &mut value) },
            || format!("propGetPointer({})", name(prop)),
        )?;
        Ok(value)
    }

    pub fn dimension(&self, prop: &CStr) -> Result<i32> {
        let f = member!(self.suite, propGetDimension)?;
        let mut count = 0;
        // SAFETY: valid handle and out pointer.
        check(unsafe { f(self.handle, prop.as_ptr(), &mut count) }, || {
            format!("propGetDimension({})", name(prop))
        })?;
        Ok(count)
    }

    /// Resets every element of a property to its default (for a choice's options: none).
    pub fn reset(&self, prop: &CStr) -> Result<()> {
        let f = member!(self.suite, propReset)?;
        // SAFETY: valid handle from the host.
        check(unsafe { f(self.handle, prop.as_ptr()) }, || {
            format!("propReset({})", name(prop))
        })
    }

    /// Every element of a string property (empty when the property is missing).
    pub fn get_strings(&self, prop: &CStr) -> Vec<String> {
        let count = self.dimension(prop).unwrap_or(0);
        (0..count)
            .filter_map(|i| self.get_string(prop, i).ok())
            .collect()
    }
}
