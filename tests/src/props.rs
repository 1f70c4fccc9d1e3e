//! Property sets: the host side of `OfxPropertySuiteV1`.
//!
//! Every handle the host gives out (host, effects, clips, params, images, action arguments) carries a
//! `PropertySet`. Values are typed (pointer, string, double, int) and indexed; the plugin may create
//! properties by setting them, but may not change a property's type. Strings handed to the plugin stay
//! owned here and live until the property is set again.

use crate::guard::{ffi, HostObject};
use ofx_sys::*;
use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::Mutex;

/// One property's values.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Pointer(Vec<usize>),
    String(Vec<CString>),
    Double(Vec<f64>),
    Int(Vec<i32>),
}

impl Value {
    fn len(&self) -> usize {
        match self {
            Value::Pointer(v) => v.len(),
            Value::String(v) => v.len(),
            Value::Double(v) => v.len(),
            Value::Int(v) => v.len(),
        }
    }

    fn same_type(&self, other: &Value) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    /// Strings from Rust text (panics on interior NUL: host-side literals only).
    pub fn strings<S: AsRef<str>>(items: &[S]) -> Value {
        Value::String(
            items
                .iter()
                .map(|s| CString::new(s.as_ref()).expect("no NUL"))
                .collect(),
        )
    }

    pub fn cstrs(items: &[&CStr]) -> Value {
        Value::String(items.iter().map(|s| (*s).to_owned()).collect())
    }
}

/// A thread-safe set of typed properties; its address is the `OfxPropertySetHandle`.
#[derive(Debug)]
#[repr(C)]
pub struct PropertySet {
    tag: HostObject,
    values: Mutex<BTreeMap<String, Value>>,
}

impl Default for PropertySet {
    fn default() -> Self {
        PropertySet {
            tag: HostObject::PropertySet,
            values: Mutex::default(),
        }
    }
}

impl Clone for PropertySet {
    fn clone(&self) -> Self {
        PropertySet {
            tag: HostObject::PropertySet,
            values: Mutex::new(self.snapshot()),
        }
    }
}

impl PropertySet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a set from `(name, value)` pairs.
    pub fn with(entries: Vec<(&CStr, Value)>) -> Self {
        let set = Self::new();
        for (name, value) in entries {
            set.set(name, value);
        }
        set
    }

    pub fn handle(&self) -> OfxPropertySetHandle {
        self as *const Self as OfxPropertySetHandle
    }

    /// # Safety
    /// `handle` must be NULL or a handle this host gave out that is still alive.
    pub(crate) unsafe fn from_handle<'a>(handle: OfxPropertySetHandle) -> Option<&'a PropertySet> {
        HostObject::check(handle as *const c_void, HostObject::PropertySet)
            .map(|p| &*(p as *const PropertySet))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Value>> {
        self.values.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set(&self, name: &CStr, value: Value) {
        self.lock()
            .insert(name.to_string_lossy().into_owned(), value);
    }

    pub fn remove(&self, name: &CStr) {
        self.lock().remove(name.to_string_lossy().as_ref());
    }

    pub fn get(&self, name: &CStr) -> Option<Value> {
        self.lock().get(name.to_string_lossy().as_ref()).cloned()
    }

    pub fn contains(&self, name: &CStr) -> bool {
        self.lock().contains_key(name.to_string_lossy().as_ref())
    }

    pub fn snapshot(&self) -> BTreeMap<String, Value> {
        self.lock().clone()
    }

    /// Copies every property of `other` into this set (overwriting same names).
    pub fn merge(&self, other: &PropertySet) {
        let theirs = other.snapshot();
        self.lock().extend(theirs);
    }

    pub fn int(&self, name: &CStr, index: usize) -> Option<i32> {
        match self.get(name)? {
            Value::Int(v) => v.get(index).copied(),
            _ => None,
        }
    }

    pub fn ints(&self, name: &CStr) -> Vec<i32> {
        match self.get(name) {
            Some(Value::Int(v)) => v,
            _ => Vec::new(),
        }
    }

    pub fn double(&self, name: &CStr, index: usize) -> Option<f64> {
        match self.get(name)? {
            Value::Double(v) => v.get(index).copied(),
            _ => None,
        }
    }

    pub fn doubles(&self, name: &CStr) -> Vec<f64> {
        match self.get(name) {
            Some(Value::Double(v)) => v,
            _ => Vec::new(),
        }
    }

    pub fn string(&self, name: &CStr, index: usize) -> Option<String> {
        self.strings(name).into_iter().nth(index)
    }

    pub fn strings(&self, name: &CStr) -> Vec<String> {
        match self.get(name) {
            Some(Value::String(v)) => v.iter().map(|s| s.to_string_lossy().into_owned()).collect(),
            _ => Vec::new(),
        }
    }

    pub fn pointer(&self, name: &CStr, index: usize) -> Option<usize> {
        match self.get(name)? {
            Value::Pointer(v) => v.get(index).copied(),
            _ => None,
        }
    }

    /// Sets element `index` of a property from the plugin, creating or growing it as needed.
    fn store(&self, name: &CStr, index: c_int, value: Value) -> OfxStatus {
        let Ok(index) = usize::try_from(index) else {
            return kOfxStatErrBadIndex;
        };
        let mut values = self.lock();
        let key = name.to_string_lossy().into_owned();
        let slot = values.entry(key).or_insert_with(|| empty_like(&value));
        if !slot.same_type(&value) {
            return kOfxStatErrValue;
        }
        match (slot, value) {
            (Value::Pointer(v), Value::Pointer(mut n)) => put(v, index, n.remove(0)),
            (Value::String(v), Value::String(mut n)) => put(v, index, n.remove(0)),
            (Value::Double(v), Value::Double(mut n)) => put(v, index, n.remove(0)),
            (Value::Int(v), Value::Int(mut n)) => put(v, index, n.remove(0)),
            _ => unreachable!("types checked above"),
        }
        kOfxStatOK
    }

    /// Replaces all elements of a property from the plugin.
    fn store_all(&self, name: &CStr, value: Value) -> OfxStatus {
        let mut values = self.lock();
        let key = name.to_string_lossy().into_owned();
        if let Some(old) = values.get(&key) {
            if !old.same_type(&value) {
                return kOfxStatErrValue;
            }
        }
        values.insert(key, value);
        kOfxStatOK
    }

    /// Reads element `index` for the plugin through `read`, which picks the typed variant.
    fn load<T>(
        &self,
        name: &CStr,
        index: c_int,
        read: impl FnOnce(&Value, usize) -> Option<T>,
    ) -> Result<T, OfxStatus> {
        let values = self.lock();
        let value = values
            .get(name.to_string_lossy().as_ref())
            .ok_or(kOfxStatErrUnknown)?;
        let index = usize::try_from(index).map_err(|_| kOfxStatErrBadIndex)?;
        if index >= value.len() {
            return Err(kOfxStatErrBadIndex);
        }
        read(value, index).ok_or(kOfxStatErrValue)
    }
}

fn empty_like(value: &Value) -> Value {
    match value {
        Value::Pointer(_) => Value::Pointer(Vec::new()),
        Value::String(_) => Value::String(Vec::new()),
        Value::Double(_) => Value::Double(Vec::new()),
        Value::Int(_) => Value::Int(Vec::new()),
    }
}

fn put<T: Default + Clone>(values: &mut Vec<T>, index: usize, item: T) {
    if values.len() <= index {
        values.resize(index + 1, T::default());
    }
    values[index] = item;
}

/// Runs `body` on the set behind `handle` (bad handles and panics become statuses).
unsafe fn with_set(
    handle: OfxPropertySetHandle,
    name: *const c_char,
    body: impl FnOnce(&PropertySet, &CStr) -> OfxStatus,
) -> OfxStatus {
    ffi(|| {
        let Some(set) = PropertySet::from_handle(handle) else {
            return kOfxStatErrBadHandle;
        };
        if name.is_null() {
            return kOfxStatErrUnknown;
        }
        body(set, CStr::from_ptr(name))
    })
}

/// One OFX property type: how the plugin's C values become a `Value` and how an element goes back,
/// so each of the suite's sixteen typed entry points is one generic function per shape.
trait PropType {
    /// What the plugin hands a setter.
    type In: Copy;
    /// What a getter writes for the plugin.
    type Out;
    /// Wraps the plugin's values; `None` when one cannot be read (a NULL string).
    ///
    /// # Safety
    /// String pointers must be NULL or NUL-terminated.
    unsafe fn wrap(values: &[Self::In]) -> Option<Value>;
    /// Element `i` (in range) of a value of this type; `None` for another type.
    fn read(value: &Value, i: usize) -> Option<Self::Out>;
}

struct Pointer;
struct Str;
struct Double;
struct Int;

impl PropType for Pointer {
    type In = *mut c_void;
    type Out = *mut c_void;
    unsafe fn wrap(values: &[*mut c_void]) -> Option<Value> {
        Some(Value::Pointer(values.iter().map(|p| *p as usize).collect()))
    }
    fn read(value: &Value, i: usize) -> Option<*mut c_void> {
        match value {
            Value::Pointer(p) => Some(p[i] as *mut c_void),
            _ => None,
        }
    }
}

impl PropType for Str {
    type In = *const c_char;
    type Out = *mut c_char;
    unsafe fn wrap(values: &[*const c_char]) -> Option<Value> {
        if values.iter().any(|p| p.is_null()) {
            return None;
        }
        Some(Value::String(
            values
                .iter()
                .map(|p| CStr::from_ptr(*p).to_owned())
                .collect(),
        ))
    }
    fn read(value: &Value, i: usize) -> Option<*mut c_char> {
        match value {
            // The CString stays in the set: the pointer is valid until the property is set again.
            Value::String(s) => Some(s[i].as_ptr() as *mut c_char),
            _ => None,
        }
    }
}

impl PropType for Double {
    type In = f64;
    type Out = f64;
    unsafe fn wrap(values: &[f64]) -> Option<Value> {
        Some(Value::Double(values.to_vec()))
    }
    fn read(value: &Value, i: usize) -> Option<f64> {
        match value {
            Value::Double(d) => Some(d[i]),
            _ => None,
        }
    }
}

impl PropType for Int {
    type In = c_int;
    type Out = c_int;
    unsafe fn wrap(values: &[c_int]) -> Option<Value> {
        Some(Value::Int(values.to_vec()))
    }
    fn read(value: &Value, i: usize) -> Option<c_int> {
        match value {
            Value::Int(n) => Some(n[i]),
            _ => None,
        }
    }
}

/// Sets element `index` for the plugin.
unsafe extern "C" fn set_one<T: PropType>(
    h: OfxPropertySetHandle,
    name: *const c_char,
    index: c_int,
    value: T::In,
) -> OfxStatus {
    let Some(value) = T::wrap(&[value]) else {
        return kOfxStatErrValue;
    };
    with_set(h, name, |set, name| set.store(name, index, value))
}

/// Reads `count` elements of a plugin array (NULL or negative count is an error).
unsafe fn plugin_array<'a, T>(values: *const T, count: c_int) -> Option<&'a [T]> {
    let count = usize::try_from(count).ok()?;
    if values.is_null() && count > 0 {
        return None;
    }
    Some(if count == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(values, count)
    })
}

/// Replaces all elements for the plugin.
unsafe extern "C" fn set_n<T: PropType>(
    h: OfxPropertySetHandle,
    name: *const c_char,
    count: c_int,
    values: *const T::In,
) -> OfxStatus {
    let Some(value) = plugin_array(values, count).and_then(|v| T::wrap(v)) else {
        return kOfxStatErrValue;
    };
    with_set(h, name, |set, name| set.store_all(name, value))
}

/// Writes element `index` for the plugin.
unsafe extern "C" fn get_one<T: PropType>(
    h: OfxPropertySetHandle,
    name: *const c_char,
    index: c_int,
    out: *mut T::Out,
) -> OfxStatus {
    if out.is_null() {
        return kOfxStatErrValue;
    }
    with_set(h, name, |set, name| match set.load(name, index, T::read) {
        Ok(v) => {
            out.write(v);
            kOfxStatOK
        }
        Err(status) => status,
    })
}

/// Writes `count` elements for the plugin.
unsafe extern "C" fn get_n<T: PropType>(
    h: OfxPropertySetHandle,
    name: *const c_char,
    count: c_int,
    out: *mut T::Out,
) -> OfxStatus {
    if out.is_null() || count < 0 {
        return kOfxStatErrValue;
    }
    with_set(h, name, |set, name| {
        for i in 0..count {
            match set.load(name, i, T::read) {
                Ok(v) => out.add(i as usize).write(v),
                Err(status) => return status,
            }
        }
        kOfxStatOK
    })
}

/// Resets a property to no elements (this host keeps no other defaults; for a choice's options, which
/// a plugin resets before listing new ones on a host with dynamic choices, none is the default).
unsafe extern "C" fn reset(h: OfxPropertySetHandle, name: *const c_char) -> OfxStatus {
    with_set(h, name, |set, name| {
        let mut values = set.lock();
        match values.get_mut(name.to_string_lossy().as_ref()) {
            Some(value) => {
                *value = empty_like(value);
                kOfxStatOK
            }
            None => kOfxStatErrUnknown,
        }
    })
}

unsafe extern "C" fn get_dimension(
    h: OfxPropertySetHandle,
    name: *const c_char,
    out: *mut c_int,
) -> OfxStatus {
    if out.is_null() {
        return kOfxStatErrValue;
    }
    with_set(h, name, |set, name| match set.get(name) {
        Some(v) => {
            out.write(v.len() as c_int);
            kOfxStatOK
        }
        None => kOfxStatErrUnknown,
    })
}

pub(crate) static SUITE: OfxPropertySuiteV1 = OfxPropertySuiteV1 {
    propSetPointer: Some(set_one::<Pointer>),
    propSetString: Some(set_one::<Str>),
    propSetDouble: Some(set_one::<Double>),
    propSetInt: Some(set_one::<Int>),
    propSetPointerN: Some(set_n::<Pointer>),
    propSetStringN: Some(set_n::<Str>),
    propSetDoubleN: Some(set_n::<Double>),
    propSetIntN: Some(set_n::<Int>),
    propGetPointer: Some(get_one::<Pointer>),
    propGetString: Some(get_one::<Str>),
    propGetDouble: Some(get_one::<Double>),
    propGetInt: Some(get_one::<Int>),
    propGetPointerN: Some(get_n::<Pointer>),
    propGetStringN: Some(get_n::<Str>),
    propGetDoubleN: Some(get_n::<Double>),
    propGetIntN: Some(get_n::<Int>),
    propReset: Some(reset),
    propGetDimension: Some(get_dimension),
};

#[cfg(test)]
mod tests {
    use super::*;

    fn suite() -> &'static OfxPropertySuiteV1 {
        &SUITE
    }

    #[test]
    fn plugin_sets_and_reads_typed_values() {
        let set = PropertySet::new();
        let h = set.handle();
        unsafe {
            assert_eq!(
                suite().propSetInt.unwrap()(h, c"a".as_ptr(), 1, 7),
                kOfxStatOK
            );
            assert_eq!(set.ints(c"a"), vec![0, 7]);
            let mut n = 0;
            assert_eq!(
                suite().propGetInt.unwrap()(h, c"a".as_ptr(), 1, &mut n),
                kOfxStatOK
            );
            assert_eq!(n, 7);
            assert_eq!(
                suite().propGetInt.unwrap()(h, c"a".as_ptr(), 2, &mut n),
                kOfxStatErrBadIndex
            );
            assert_eq!(
                suite().propGetInt.unwrap()(h, c"b".as_ptr(), 0, &mut n),
                kOfxStatErrUnknown
            );
            assert_eq!(
                suite().propSetString.unwrap()(h, c"a".as_ptr(), 0, c"x".as_ptr()),
                kOfxStatErrValue
            );
            let mut dim = 0;
            assert_eq!(
                suite().propGetDimension.unwrap()(h, c"a".as_ptr(), &mut dim),
                kOfxStatOK
            );
            assert_eq!(dim, 2);
        }
    }

    #[test]
    fn strings_stay_owned_by_the_host() {
        let set = PropertySet::with(vec![(c"s", Value::strings(&["one", "two"]))]);
        let mut out = [std::ptr::null_mut(); 2];
        unsafe {
            assert_eq!(
                SUITE.propGetStringN.unwrap()(set.handle(), c"s".as_ptr(), 2, out.as_mut_ptr()),
                kOfxStatOK
            );
            assert_eq!(CStr::from_ptr(out[1]), c"two");
        }
    }

    #[test]
    fn wrong_types_and_bad_handles_are_refused() {
        let set = PropertySet::with(vec![(c"i", Value::Int(vec![3]))]);
        let mut d = 0.0;
        let not_a_set = [0u64; 4];
        unsafe {
            assert_eq!(
                SUITE.propGetDouble.unwrap()(set.handle(), c"i".as_ptr(), 0, &mut d),
                kOfxStatErrValue
            );
            let bad = not_a_set.as_ptr() as OfxPropertySetHandle;
            assert_eq!(
                SUITE.propGetDouble.unwrap()(bad, c"i".as_ptr(), 0, &mut d),
                kOfxStatErrBadHandle
            );
        }
    }
}
