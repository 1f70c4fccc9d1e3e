//! Parameters: definition at describe time, values at render time, setting values in instance-changed.

use std::ffi::{c_char, c_int, CStr};
use std::ptr;

use ofx_sys::*;

use super::{c_string, check, member, props::PropSet, Result};

/// A descriptor's or an instance's parameter set.
#[derive(Clone, Copy)]
pub struct ParamSet {
    handle: OfxParamSetHandle,
    suite: &'static OfxParameterSuiteV1,
    props: &'static OfxPropertySuiteV1,
}

/// One parameter instance.
#[derive(Clone, Copy)]
pub struct Param {
    handle: OfxParamHandle,
    props: PropSet,
    suite: &'static OfxParameterSuiteV1,
}

impl ParamSet {
    pub fn new(
        handle: OfxParamSetHandle,
        suite: &'static OfxParameterSuiteV1,
        props: &'static OfxPropertySuiteV1,
    ) -> ParamSet {
        ParamSet {
            handle,
            suite,
            props,
        }
    }

    /// Defines a parameter of `kind` (kOfxParamType*) and returns its property set.
    pub fn define(&self, kind: &CStr, name: &str) -> Result<PropSet> {
        let f = member!(self.suite, paramDefine)?;
        let c_name = c_string(name);
        let mut props = ptr::null_mut();
        // SAFETY: valid param set handle; the host copies the name.
        check(
            unsafe { f(self.handle, kind.as_ptr(), c_name.as_ptr(), &mut props) },
            || format!("paramDefine({name})"),
        )?;
        Ok(PropSet::new(props, self.props))
    }

    pub fn param(&self, name: &str) -> Result<Param> {
        let f = member!(self.suite, paramGetHandle)?;
        let c_name = c_string(name);
        let mut handle = ptr::null_mut();
        let mut props = ptr::null_mut();
        // SAFETY: valid param set handle and out pointers.
        check(
            unsafe { f(self.handle, c_name.as_ptr(), &mut handle, &mut props) },
            || format!("paramGetHandle({name})"),
        )?;
        Ok(Param {
            handle,
            props: PropSet::new(props, self.props),
            suite: self.suite,
        })
    }
}

impl Param {
    /// Greys the parameter out (or back in); hosts that cannot are ignored.
    pub fn set_enabled(&self, enabled: bool) {
        if let Err(e) = self.props.set_int(kOfxParamPropEnabled, 0, enabled as i32) {
            log::debug!("Text to Video: cannot change enabled state: {e}");
        }
    }

    /// A choice's options as the instance shows them.
    pub fn options(&self) -> Vec<String> {
        self.props.get_strings(kOfxParamPropChoiceOption)
    }

    /// Replaces a choice's options; only on hosts that allow it (see `scheduler_menu`).
    pub fn set_options(&self, options: &[&str]) -> Result<()> {
        self.props.reset(kOfxParamPropChoiceOption)?;
        options.iter().enumerate().try_for_each(|(i, o)| {
            self.props
                .set_string(kOfxParamPropChoiceOption, i as i32, o)
        })
    }

    pub fn int_at(&self, time: f64) -> Result<i32> {
        let f = member!(self.suite, paramGetValueAtTime)?;
        let mut v: c_int = 0;
        // SAFETY: an int-valued parameter (int, bool, choice) takes one int* out argument.
        check(
            unsafe { f(self.handle, time, &mut v as *mut c_int) },
            || "paramGetValueAtTime(int)".into(),
        )?;
        Ok(v)
    }

    pub fn double_at(&self, time: f64) -> Result<f64> {
        let f = member!(self.suite, paramGetValueAtTime)?;
        let mut v: f64 = 0.0;
        // SAFETY: a double parameter takes one double* out argument.
        check(unsafe { f(self.handle, time, &mut v as *mut f64) }, || {
            "paramGetValueAtTime(double)".into()
        })?;
        Ok(v)
    }

    /// A string parameter's bytes as the host holds them (not necessarily UTF-8).
    pub fn bytes_at(&self, time: f64) -> Result<Vec<u8>> {
        let f = member!(self.suite, paramGetValueAtTime)?;
        let mut v: *mut c_char = ptr::null_mut();
        // SAFETY: a string parameter takes one char** out argument; the host owns the string.
        check(
            unsafe { f(self.handle, time, &mut v as *mut *mut c_char) },
            || "paramGetValueAtTime(string)".into(),
        )?;
        if v.is_null() {
            return Ok(Vec::new());
        }
        // SAFETY: non-NULL host strings are NUL-terminated.
        Ok(unsafe { CStr::from_ptr(v) }.to_bytes().to_vec())
    }

    /// A string parameter's text, invalid UTF-8 replaced (for our own values: status, model name).
    pub fn string_at(&self, time: f64) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.bytes_at(time)?).into_owned())
    }

    /// Sets an int/bool/choice value. Only call from instance-changed (OFX 1.4 rule).
    pub fn set_int(&self, value: i32) -> Result<()> {
        let f = member!(self.suite, paramSetValue)?;
        // SAFETY: int-valued parameters take one int by value.
        check(unsafe { f(self.handle, value as c_int) }, || {
            "paramSetValue(int)".into()
        })
    }

    /// Sets a double value. Only call from instance-changed (OFX 1.4 rule).
    pub fn set_double(&self, value: f64) -> Result<()> {
        let f = member!(self.suite, paramSetValue)?;
        // SAFETY: double parameters take one double by value.
        check(unsafe { f(self.handle, value) }, || {
            "paramSetValue(double)".into()
        })
    }

    /// Sets a string value. Only call from instance-changed (OFX 1.4 rule).
    pub fn set_string(&self, value: &str) -> Result<()> {
        let f = member!(self.suite, paramSetValue)?;
        let value = c_string(value);
        // SAFETY: string parameters take one const char* (copied by the host).
        check(unsafe { f(self.handle, value.as_ptr()) }, || {
            "paramSetValue(string)".into()
        })
    }
}
