//! Parameters: definitions (descriptor side), values (instance side) and the host side of
//! `OfxParameterSuiteV1`. Values are constant over time (this host does not animate), so
//! derivatives are 0 and integrals are value × span.

use crate::guard::{ffi, HostObject};
use crate::props::{PropertySet, Value};
use crate::variadic::{self, ParamArgs, Read, Storage, MAX_DIMS};
use ofx_sys::*;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::Mutex;

/// A parameter value as the host sets or reads it.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    Ints(Vec<i32>),
    Doubles(Vec<f64>),
    Text(String),
    /// A string parameter's raw bytes, not necessarily UTF-8 (as a host holding a file name may
    /// hand them out). Only for setting: values read back are [`ParamValue::Text`].
    Bytes(Vec<u8>),
    /// Groups, pages and push buttons.
    None,
}

impl From<i32> for ParamValue {
    fn from(v: i32) -> Self {
        ParamValue::Ints(vec![v])
    }
}
impl From<bool> for ParamValue {
    fn from(v: bool) -> Self {
        ParamValue::Ints(vec![v as i32])
    }
}
impl From<f64> for ParamValue {
    fn from(v: f64) -> Self {
        ParamValue::Doubles(vec![v])
    }
}
impl From<&str> for ParamValue {
    fn from(v: &str) -> Self {
        ParamValue::Text(v.to_owned())
    }
}
impl From<String> for ParamValue {
    fn from(v: String) -> Self {
        ParamValue::Text(v)
    }
}

/// How a parameter type stores its value: (storage, dimensions).
fn layout(param_type: &CStr) -> Option<(Storage, usize)> {
    let table: [(&CStr, Storage, usize); 16] = [
        (kOfxParamTypeInteger, Storage::Int, 1),
        (kOfxParamTypeBoolean, Storage::Int, 1),
        (kOfxParamTypeChoice, Storage::Int, 1),
        (kOfxParamTypeInteger2D, Storage::Int, 2),
        (kOfxParamTypeInteger3D, Storage::Int, 3),
        (kOfxParamTypeDouble, Storage::Double, 1),
        (kOfxParamTypeDouble2D, Storage::Double, 2),
        (kOfxParamTypeDouble3D, Storage::Double, 3),
        (kOfxParamTypeRGB, Storage::Double, 3),
        (kOfxParamTypeRGBA, Storage::Double, 4),
        (kOfxParamTypeString, Storage::String, 1),
        (kOfxParamTypeStrChoice, Storage::String, 1),
        (kOfxParamTypeCustom, Storage::String, 1),
        (kOfxParamTypeGroup, Storage::None, 0),
        (kOfxParamTypePage, Storage::None, 0),
        (kOfxParamTypePushButton, Storage::None, 0),
    ];
    table
        .iter()
        .find(|(t, _, _)| *t == param_type)
        .map(|(_, s, n)| (*s, *n))
}

/// The value stored in a parameter (strings kept as C strings handed to the plugin).
#[derive(Debug)]
struct Stored {
    ints: Vec<i32>,
    doubles: Vec<f64>,
    text: CString,
    /// Strings the plugin may still hold a pointer to; freed with the parameter.
    retired: Vec<CString>,
}

/// One parameter (definition or instance); its address is the `OfxParamHandle`.
#[derive(Debug)]
#[repr(C)]
pub struct Param {
    tag: HostObject,
    pub name: String,
    pub param_type: CString,
    storage: Storage,
    dims: usize,
    pub props: PropertySet,
    value: Mutex<Stored>,
    /// The owning set's log of plugin edits.
    edit_log: EditLog,
}

type EditLog = std::sync::Arc<Mutex<Vec<String>>>;

impl Param {
    fn define(param_type: &CStr, name: &CStr, edit_log: EditLog) -> Option<Param> {
        let (storage, dims) = layout(param_type)?;
        let default = match storage {
            Storage::Int => Value::Int(vec![0; dims]),
            Storage::Double => Value::Double(vec![0.0; dims]),
            Storage::String => Value::String(vec![CString::default()]),
            Storage::None => Value::Int(Vec::new()),
        };
        let props = PropertySet::with(vec![
            (kOfxPropType, Value::cstrs(&[kOfxTypeParameter])),
            (kOfxParamPropType, Value::cstrs(&[param_type])),
            (kOfxPropName, Value::cstrs(&[name])),
            (kOfxPropLabel, Value::cstrs(&[name])),
            (kOfxParamPropScriptName, Value::cstrs(&[name])),
            (kOfxParamPropDefault, default),
            (kOfxParamPropEnabled, Value::Int(vec![1])),
            (kOfxParamPropSecret, Value::Int(vec![0])),
            (kOfxParamPropEvaluateOnChange, Value::Int(vec![1])),
            (kOfxParamPropAnimates, Value::Int(vec![0])),
            (kOfxParamPropParent, Value::strings(&[""])),
        ]);
        Some(Param {
            tag: HostObject::Param,
            name: name.to_string_lossy().into_owned(),
            param_type: param_type.to_owned(),
            storage,
            dims,
            props,
            value: Mutex::new(Stored {
                ints: Vec::new(),
                doubles: Vec::new(),
                text: CString::default(),
                retired: Vec::new(),
            }),
            edit_log,
        })
    }

    /// The instance of a defined parameter, its value taken from `kOfxParamPropDefault`.
    fn instantiate(&self, edit_log: EditLog) -> Param {
        let props = self.props.clone();
        props.set(kOfxPropType, Value::cstrs(&[kOfxTypeParameterInstance]));
        let stored = Stored {
            ints: props.ints(kOfxParamPropDefault),
            doubles: props.doubles(kOfxParamPropDefault),
            text: props
                .string(kOfxParamPropDefault, 0)
                .and_then(|s| CString::new(s).ok())
                .unwrap_or_default(),
            retired: Vec::new(),
        };
        Param {
            tag: HostObject::Param,
            name: self.name.clone(),
            param_type: self.param_type.clone(),
            storage: self.storage,
            dims: self.dims,
            props,
            value: Mutex::new(stored),
            edit_log,
        }
    }

    fn handle(&self) -> OfxParamHandle {
        self as *const Self as OfxParamHandle
    }

    unsafe fn from_handle<'a>(handle: OfxParamHandle) -> Option<&'a Param> {
        HostObject::check(handle as *const c_void, HostObject::Param).map(|p| &*(p as *const Param))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stored> {
        self.value.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn value(&self) -> ParamValue {
        let stored = self.lock();
        match self.storage {
            Storage::Int => ParamValue::Ints(stored.ints.clone()),
            Storage::Double => ParamValue::Doubles(stored.doubles.clone()),
            Storage::String => ParamValue::Text(stored.text.to_string_lossy().into_owned()),
            Storage::None => ParamValue::None,
        }
    }

    /// Sets the value from the host side; the value must match the parameter's storage.
    pub fn set_value(&self, value: ParamValue) -> Result<(), String> {
        let value = match value {
            ParamValue::Text(t) => ParamValue::Bytes(t.into_bytes()),
            other => other,
        };
        let mut stored = self.lock();
        match (self.storage, value) {
            (Storage::Int, ParamValue::Ints(v)) if v.len() == self.dims => stored.ints = v,
            (Storage::Double, ParamValue::Doubles(v)) if v.len() == self.dims => stored.doubles = v,
            (Storage::String, ParamValue::Bytes(t)) => {
                let text = CString::new(t)
                    .map_err(|_| format!("parameter {}: text contains NUL", self.name))?;
                let old = std::mem::replace(&mut stored.text, text);
                stored.retired.push(old);
            }
            (_, value) => {
                return Err(format!(
                    "parameter {} ({}) cannot take {value:?}",
                    self.name,
                    self.param_type.to_string_lossy()
                ))
            }
        }
        Ok(())
    }
}

/// The parameters of an effect, in definition order; its address is the `OfxParamSetHandle`.
#[derive(Debug)]
#[repr(C)]
pub struct ParamSet {
    tag: HostObject,
    pub props: PropertySet,
    /// Boxed: parameter handles are their addresses and must survive the vector growing.
    #[allow(clippy::vec_box)]
    params: Mutex<Vec<Box<Param>>>,
    /// Names of parameters the plugin changed with paramSetValue, in order.
    plugin_edits: EditLog,
}

impl Default for ParamSet {
    fn default() -> Self {
        ParamSet {
            tag: HostObject::ParamSet,
            props: PropertySet::new(),
            params: Mutex::default(),
            plugin_edits: EditLog::default(),
        }
    }
}

impl ParamSet {
    pub fn handle(&self) -> OfxParamSetHandle {
        self as *const Self as OfxParamSetHandle
    }

    unsafe fn from_handle<'a>(handle: OfxParamSetHandle) -> Option<&'a ParamSet> {
        HostObject::check(handle as *const c_void, HostObject::ParamSet)
            .map(|p| &*(p as *const ParamSet))
    }

    #[allow(clippy::vec_box)]
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Box<Param>>> {
        self.params.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The instance parameters of a described effect.
    pub fn instantiate(&self) -> ParamSet {
        let set = ParamSet {
            props: self.props.clone(),
            ..ParamSet::default()
        };
        *set.lock() = self
            .lock()
            .iter()
            .map(|p| Box::new(p.instantiate(set.plugin_edits.clone())))
            .collect();
        set
    }

    /// Runs `f` on the parameter called `name`.
    pub fn with<T>(&self, name: &str, f: impl FnOnce(&Param) -> T) -> Option<T> {
        self.lock().iter().find(|p| p.name == name).map(|p| f(p))
    }

    pub fn names(&self) -> Vec<String> {
        self.lock().iter().map(|p| p.name.clone()).collect()
    }

    pub fn plugin_edits(&self) -> Vec<String> {
        self.plugin_edits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn find(&self, name: &CStr) -> Option<*const Param> {
        let name = name.to_string_lossy();
        self.lock()
            .iter()
            .find(|p| p.name == name)
            .map(|p| &**p as *const Param)
    }
}

/// Runs `body` on the parameter set behind `handle` (a bad handle and panics become statuses).
unsafe fn with_param_set(
    handle: OfxParamSetHandle,
    body: impl FnOnce(&ParamSet) -> OfxStatus,
) -> OfxStatus {
    ffi(|| match ParamSet::from_handle(handle) {
        Some(set) => body(set),
        None => kOfxStatErrBadHandle,
    })
}

/// Runs `body` on the parameter behind `handle` (a bad handle and panics become statuses).
unsafe fn with_param(handle: OfxParamHandle, body: impl FnOnce(&Param) -> OfxStatus) -> OfxStatus {
    ffi(|| match Param::from_handle(handle) {
        Some(param) => body(param),
        None => kOfxStatErrBadHandle,
    })
}

unsafe extern "C" fn param_define(
    set: OfxParamSetHandle,
    param_type: *const c_char,
    name: *const c_char,
    props: *mut OfxPropertySetHandle,
) -> OfxStatus {
    with_param_set(set, |set| {
        if param_type.is_null() || name.is_null() {
            return kOfxStatErrValue;
        }
        let name = CStr::from_ptr(name);
        if set.find(name).is_some() {
            return kOfxStatErrExists;
        }
        let Some(param) = Param::define(CStr::from_ptr(param_type), name, set.plugin_edits.clone())
        else {
            return kOfxStatErrUnknown;
        };
        let param = Box::new(param);
        if !props.is_null() {
            *props = param.props.handle();
        }
        set.lock().push(param);
        kOfxStatOK
    })
}

unsafe extern "C" fn param_get_handle(
    set: OfxParamSetHandle,
    name: *const c_char,
    param: *mut OfxParamHandle,
    props: *mut OfxPropertySetHandle,
) -> OfxStatus {
    with_param_set(set, |set| {
        if name.is_null() || param.is_null() {
            return kOfxStatErrValue;
        }
        let Some(found) = set.find(CStr::from_ptr(name)) else {
            return kOfxStatErrUnknown;
        };
        *param = (*found).handle();
        if !props.is_null() {
            *props = (*found).props.handle();
        }
        kOfxStatOK
    })
}

/// Writes `value` for the plugin: `None` is a handle that was not valid, a NULL `out` a bad argument.
unsafe fn answer<T>(value: Option<T>, out: *mut T) -> OfxStatus {
    match (value, out.is_null()) {
        (Some(v), false) => {
            *out = v;
            kOfxStatOK
        }
        (None, _) => kOfxStatErrBadHandle,
        (_, true) => kOfxStatErrValue,
    }
}

unsafe extern "C" fn param_set_get_property_set(
    set: OfxParamSetHandle,
    props: *mut OfxPropertySetHandle,
) -> OfxStatus {
    ffi(|| answer(ParamSet::from_handle(set).map(|s| s.props.handle()), props))
}

unsafe extern "C" fn param_get_property_set(
    param: OfxParamHandle,
    props: *mut OfxPropertySetHandle,
) -> OfxStatus {
    ffi(|| answer(Param::from_handle(param).map(|p| p.props.handle()), props))
}

/// Storage and dimension of a parameter, for `variadic.c`.
pub(crate) unsafe extern "C" fn variadic_layout(
    param: OfxParamHandle,
    storage: *mut c_int,
    count: *mut c_int,
) -> OfxStatus {
    with_param(param, |param| {
        *storage = param.storage as c_int;
        *count = param.dims as c_int;
        kOfxStatOK
    })
}

/// Writes a parameter's value (or derivative, integral) through the plugin's pointers.
pub(crate) unsafe extern "C" fn variadic_get(
    param: OfxParamHandle,
    args: *const ParamArgs,
) -> OfxStatus {
    ffi(|| {
        let (Some(param), Some(args)) = (Param::from_handle(param), args.as_ref()) else {
            return kOfxStatErrBadHandle;
        };
        let out = &args.out[..param.dims.min(MAX_DIMS)];
        if out.iter().any(|p| p.is_null()) {
            return kOfxStatErrValue;
        }
        let Some(read) = args.call.read() else {
            return kOfxStatErrValue;
        };
        let stored = param.lock();
        match (param.storage, read) {
            (Storage::Int, Read::Value) => out
                .iter()
                .zip(&stored.ints)
                .for_each(|(p, v)| *(*p as *mut c_int) = *v),
            (Storage::Double, read) => {
                let scale = match read {
                    Read::Value => 1.0,
                    Read::Derivative => 0.0,
                    Read::Integral => args.call.span,
                };
                out.iter()
                    .zip(&stored.doubles)
                    .for_each(|(p, v)| *(*p as *mut f64) = v * scale)
            }
            (Storage::String, Read::Value) => {
                *(out[0] as *mut *const c_char) = stored.text.as_ptr()
            }
            (Storage::None, _) => return kOfxStatErrBadHandle,
            _ => return kOfxStatErrUnsupported,
        }
        kOfxStatOK
    })
}

/// Stores a value the plugin set (paramSetValue, only legal outside render actions).
pub(crate) unsafe extern "C" fn variadic_set(
    param: OfxParamHandle,
    args: *const ParamArgs,
) -> OfxStatus {
    ffi(|| {
        let (Some(param), Some(args)) = (Param::from_handle(param), args.as_ref()) else {
            return kOfxStatErrBadHandle;
        };
        let value = match param.storage {
            Storage::Int => ParamValue::Ints(args.ints[..param.dims].to_vec()),
            Storage::Double => ParamValue::Doubles(args.doubles[..param.dims].to_vec()),
            Storage::String if args.text.is_null() => return kOfxStatErrValue,
            Storage::String => {
                ParamValue::Text(CStr::from_ptr(args.text).to_string_lossy().into_owned())
            }
            Storage::None => return kOfxStatErrBadHandle,
        };
        match param.set_value(value) {
            Ok(()) => {
                param
                    .edit_log
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(param.name.clone());
                kOfxStatOK
            }
            Err(_) => kOfxStatErrValue,
        }
    })
}

unsafe extern "C" fn param_get_num_keys(param: OfxParamHandle, keys: *mut u32) -> OfxStatus {
    ffi(|| answer(Param::from_handle(param).map(|_| 0), keys))
}

unsafe extern "C" fn param_get_key_time(
    param: OfxParamHandle,
    _nth: u32,
    _time: *mut OfxTime,
) -> OfxStatus {
    with_param(param, |_| kOfxStatErrBadIndex)
}

unsafe extern "C" fn param_get_key_index(
    param: OfxParamHandle,
    _time: OfxTime,
    _direction: c_int,
    _index: *mut c_int,
) -> OfxStatus {
    with_param(param, |_| kOfxStatFailed)
}

unsafe extern "C" fn param_delete_key(param: OfxParamHandle, _time: OfxTime) -> OfxStatus {
    with_param(param, |_| kOfxStatErrBadIndex)
}

unsafe extern "C" fn param_delete_all_keys(param: OfxParamHandle) -> OfxStatus {
    with_param(param, |_| kOfxStatOK)
}

unsafe extern "C" fn param_copy(
    to: OfxParamHandle,
    from: OfxParamHandle,
    _offset: OfxTime,
    _range: *const OfxRangeD,
) -> OfxStatus {
    ffi(
        || match (Param::from_handle(to), Param::from_handle(from)) {
            (Some(to), Some(from)) if to.param_type == from.param_type => {
                match to.set_value(from.value()) {
                    Ok(()) => kOfxStatOK,
                    Err(_) => kOfxStatErrValue,
                }
            }
            (Some(_), Some(_)) => kOfxStatErrValue,
            _ => kOfxStatErrBadHandle,
        },
    )
}

unsafe extern "C" fn param_edit_begin(set: OfxParamSetHandle, _name: *const c_char) -> OfxStatus {
    with_param_set(set, |_| kOfxStatOK)
}

unsafe extern "C" fn param_edit_end(set: OfxParamSetHandle) -> OfxStatus {
    with_param_set(set, |_| kOfxStatOK)
}

pub(crate) static SUITE: OfxParameterSuiteV1 = OfxParameterSuiteV1 {
    paramDefine: Some(param_define),
    paramGetHandle: Some(param_get_handle),
    paramSetGetPropertySet: Some(param_set_get_property_set),
    paramGetPropertySet: Some(param_get_property_set),
    paramGetValue: Some(variadic::ofx_host_param_get_value),
    paramGetValueAtTime: Some(variadic::ofx_host_param_get_value_at_time),
    paramGetDerivative: Some(variadic::ofx_host_param_get_derivative),
    paramGetIntegral: Some(variadic::ofx_host_param_get_integral),
    paramSetValue: Some(variadic::ofx_host_param_set_value),
    paramSetValueAtTime: Some(variadic::ofx_host_param_set_value_at_time),
    paramGetNumKeys: Some(param_get_num_keys),
    paramGetKeyTime: Some(param_get_key_time),
    paramGetKeyIndex: Some(param_get_key_index),
    paramDeleteKey: Some(param_delete_key),
    paramDeleteAllKeys: Some(param_delete_all_keys),
    paramCopy: Some(param_copy),
    paramEditBegin: Some(param_edit_begin),
    paramEditEnd: Some(param_edit_end),
};

#[cfg(test)]
mod tests {
    use super::*;

    fn define(set: &ParamSet, t: &CStr, name: &CStr) -> OfxPropertySetHandle {
        let mut props = std::ptr::null_mut();
        unsafe {
            assert_eq!(
                SUITE.paramDefine.unwrap()(set.handle(), t.as_ptr(), name.as_ptr(), &mut props),
                kOfxStatOK
            )
        };
        props
    }

    #[test]
    fn values_travel_through_the_variadic_functions() {
        variadic::install();
        let desc = ParamSet::default();
        let props = define(&desc, kOfxParamTypeDouble2D, c"size");
        unsafe {
            let default = [1.5, -2.0];
            crate::props::SUITE.propSetDoubleN.unwrap()(
                props,
                kOfxParamPropDefault.as_ptr(),
                2,
                default.as_ptr(),
            );
        }
        define(&desc, kOfxParamTypeString, c"prompt");
        let inst = desc.instantiate();
        let mut handle = std::ptr::null_mut();
        let (mut x, mut y) = (0.0f64, 0.0f64);
        unsafe {
            assert_eq!(
                SUITE.paramGetHandle.unwrap()(
                    inst.handle(),
                    c"size".as_ptr(),
                    &mut handle,
                    std::ptr::null_mut()
                ),
                kOfxStatOK
            );
            assert_eq!(
                SUITE.paramGetValue.unwrap()(handle, &mut x as *mut f64, &mut y as *mut f64),
                kOfxStatOK
            );
            assert_eq!((x, y), (1.5, -2.0));
            assert_eq!(
                SUITE.paramGetIntegral.unwrap()(
                    handle,
                    1.0,
                    3.0,
                    &mut x as *mut f64,
                    &mut y as *mut f64
                ),
                kOfxStatOK
            );
            assert_eq!((x, y), (3.0, -4.0));
            assert_eq!(
                SUITE.paramGetHandle.unwrap()(
                    inst.handle(),
                    c"prompt".as_ptr(),
                    &mut handle,
                    std::ptr::null_mut()
                ),
                kOfxStatOK
            );
            assert_eq!(
                SUITE.paramSetValue.unwrap()(handle, c"a cat\nsecond line".as_ptr()),
                kOfxStatOK
            );
            let mut text: *const c_char = std::ptr::null();
            assert_eq!(
                SUITE.paramGetValue.unwrap()(handle, &mut text as *mut *const c_char),
                kOfxStatOK
            );
            assert_eq!(CStr::from_ptr(text), c"a cat\nsecond line");
        }
        assert_eq!(
            inst.with("prompt", |p| p.value()),
            Some(ParamValue::Text("a cat\nsecond line".into()))
        );
        assert_eq!(inst.plugin_edits(), vec!["prompt".to_string()]);
    }

    #[test]
    fn duplicate_and_unknown_definitions_are_refused() {
        let set = ParamSet::default();
        define(&set, kOfxParamTypeInteger, c"seed");
        let mut props = std::ptr::null_mut();
        unsafe {
            assert_eq!(
                SUITE.paramDefine.unwrap()(
                    set.handle(),
                    kOfxParamTypeInteger.as_ptr(),
                    c"seed".as_ptr(),
                    &mut props
                ),
                kOfxStatErrExists
            );
            assert_eq!(
                SUITE.paramDefine.unwrap()(
                    set.handle(),
                    c"NoSuchType".as_ptr(),
                    c"x".as_ptr(),
                    &mut props
                ),
                kOfxStatErrUnknown
            );
        }
        let inst = set.instantiate();
        assert!(inst
            .with("seed", |p| p.set_value("text".into()))
            .unwrap()
            .is_err());
        assert_eq!(inst.with("seed", |p| p.set_value(42.into())), Some(Ok(())));
        assert_eq!(
            inst.with("seed", |p| p.value()),
            Some(ParamValue::Ints(vec![42]))
        );
    }
}
