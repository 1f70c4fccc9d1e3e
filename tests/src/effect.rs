//! Effects (descriptors and instances), their clips, and the host side of `OfxImageEffectSuiteV1`:
//! clip definition, output images for the render in progress on the calling thread, and abort.

use crate::guard::{ffi, ffi_or, HostObject};
use crate::host;
use crate::image::{self, RenderTarget};
use crate::memory;
use crate::params::ParamSet;
use crate::props::{PropertySet, Value};
use crate::source::Feed;
use ofx_sys::*;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

/// An image effect descriptor or instance; its address is the `OfxImageEffectHandle`.
#[repr(C)]
pub struct Effect {
    tag: HostObject,
    pub props: PropertySet,
    pub params: ParamSet,
    /// Boxed: clip handles are their addresses and must survive the vector growing.
    #[allow(clippy::vec_box)]
    clips: Mutex<Vec<Box<Clip>>>,
    /// Output buffers of the renders in progress, by the thread running them.
    targets: Mutex<Vec<(ThreadId, Arc<RenderTarget>)>>,
}

/// A clip of an effect; its address is the `OfxImageClipHandle`.
#[repr(C)]
pub struct Clip {
    tag: HostObject,
    pub name: String,
    pub props: PropertySet,
    /// The effect owning this clip (boxed, so the address is stable).
    effect: *const Effect,
    /// What a test connected to this (input) clip.
    feed: Mutex<Option<Arc<Feed>>>,
}

// SAFETY: the effect pointer is only dereferenced while the effect is alive (it owns the clip); all
// mutable state is behind mutexes.
unsafe impl Send for Clip {}
unsafe impl Sync for Clip {}

impl Effect {
    pub fn new(props: PropertySet, params: ParamSet) -> Box<Effect> {
        Box::new(Effect {
            tag: HostObject::Effect,
            props,
            params,
            clips: Mutex::default(),
            targets: Mutex::default(),
        })
    }

    pub fn handle(&self) -> OfxImageEffectHandle {
        self as *const Self as OfxImageEffectHandle
    }

    unsafe fn from_handle<'a>(handle: OfxImageEffectHandle) -> Option<&'a Effect> {
        HostObject::check(handle as *const c_void, HostObject::Effect)
            .map(|p| &*(p as *const Effect))
    }

    #[allow(clippy::vec_box)]
    fn clips(&self) -> std::sync::MutexGuard<'_, Vec<Box<Clip>>> {
        self.clips.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a clip with these properties (descriptor: from clipDefine; instance: from the host).
    pub fn add_clip(&self, name: &str, props: PropertySet) -> OfxPropertySetHandle {
        let clip = Box::new(Clip {
            tag: HostObject::Clip,
            name: name.to_owned(),
            props,
            effect: self,
            feed: Mutex::default(),
        });
        let handle = clip.props.handle();
        self.clips().push(clip);
        handle
    }

    /// (name, properties) of every clip, in definition order.
    pub fn clip_list(&self) -> Vec<(String, PropertySet)> {
        self.clips()
            .iter()
            .map(|c| (c.name.clone(), c.props.clone()))
            .collect()
    }

    /// Runs `f` on the clip called `name`.
    pub fn with_clip<T>(&self, name: &str, f: impl FnOnce(&Clip) -> T) -> Option<T> {
        self.clips().iter().find(|c| c.name == name).map(|c| f(c))
    }

    /// Makes `target` the output image of renders on this thread until [`Effect::end_render`].
    pub(crate) fn begin_render(&self, target: Arc<RenderTarget>) {
        self.targets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((thread::current().id(), target));
    }

    pub(crate) fn end_render(&self) {
        let me = thread::current().id();
        self.targets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(id, _)| *id != me);
    }

    /// The time of the render running on the calling thread, if any.
    fn render_time(&self) -> Option<f64> {
        let me = thread::current().id();
        let targets = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        targets
            .iter()
            .find(|(id, _)| *id == me)
            .map(|(_, t)| t.time)
    }

    /// The render target of the calling thread, else the only one rendering `time`.
    fn target_for(&self, time: f64) -> Option<Arc<RenderTarget>> {
        let targets = self.targets.lock().unwrap_or_else(|e| e.into_inner());
        let me = thread::current().id();
        if let Some((_, t)) = targets.iter().find(|(id, _)| *id == me) {
            return Some(t.clone());
        }
        let mut at_time = targets.iter().filter(|(_, t)| t.time == time);
        match (at_time.next(), at_time.next()) {
            (Some((_, t)), None) => Some(t.clone()),
            _ => None,
        }
    }
}

impl Clip {
    unsafe fn from_handle<'a>(handle: OfxImageClipHandle) -> Option<&'a Clip> {
        HostObject::check(handle as *const c_void, HostObject::Clip).map(|p| &*(p as *const Clip))
    }

    fn handle(&self) -> OfxImageClipHandle {
        self as *const Self as OfxImageClipHandle
    }

    /// Connects `feed` to this clip (`None`: disconnects it).
    pub(crate) fn connect(&self, feed: Option<Arc<Feed>>) {
        self.props.set(
            kOfxImageClipPropConnected,
            Value::Int(vec![feed.is_some() as i32]),
        );
        if let Some(f) = &feed {
            self.props.set(
                kOfxImageEffectPropPixelDepth,
                Value::cstrs(&[f.clip.depth.name()]),
            );
            self.props.set(
                kOfxImageEffectPropComponents,
                Value::cstrs(&[f.clip.components.name()]),
            );
        }
        *self.feed.lock().unwrap_or_else(|e| e.into_inner()) = feed;
    }

    /// An input clip's image at `time`: refused at another time than the one rendering (or, outside
    /// renders, the current one) unless the clip declared temporal access, as hosts may.
    unsafe fn input_image(&self, time: f64, unique: u64) -> Option<OfxPropertySetHandle> {
        let feed = self
            .feed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        let now = (*self.effect)
            .render_time()
            .or_else(|| host::current().map(|state| state.time()));
        let temporal = self.props.int(kOfxImageEffectPropTemporalClipAccess, 0) == Some(1);
        if !temporal && now != Some(time) {
            return None;
        }
        let (props, loan) = feed.image(time, unique)?;
        Some(image::lend_image(props, Some(Box::new(loan))))
    }
}

/// Default properties of a clip the plugin defines.
fn clip_descriptor_props(name: &CStr) -> PropertySet {
    PropertySet::with(vec![
        (kOfxPropType, Value::cstrs(&[kOfxTypeClip])),
        (kOfxPropName, Value::cstrs(&[name])),
        (kOfxPropLabel, Value::cstrs(&[name])),
        (
            kOfxImageEffectPropSupportedComponents,
            Value::String(Vec::new()),
        ),
        (kOfxImageEffectPropTemporalClipAccess, Value::Int(vec![0])),
        (kOfxImageClipPropOptional, Value::Int(vec![0])),
        (kOfxImageClipPropIsMask, Value::Int(vec![0])),
        (
            kOfxImageClipPropFieldExtraction,
            Value::cstrs(&[kOfxImageFieldDoubled]),
        ),
        (kOfxImageEffectPropSupportsTiles, Value::Int(vec![1])),
    ])
}

unsafe fn write<T>(out: *mut T, value: T) -> OfxStatus {
    if out.is_null() {
        return kOfxStatErrValue;
    }
    out.write(value);
    kOfxStatOK
}

unsafe extern "C" fn get_property_set(
    effect: OfxImageEffectHandle,
    out: *mut OfxPropertySetHandle,
) -> OfxStatus {
    ffi(|| match Effect::from_handle(effect) {
        Some(effect) => write(out, effect.props.handle()),
        None => kOfxStatErrBadHandle,
    })
}

unsafe extern "C" fn get_param_set(
    effect: OfxImageEffectHandle,
    out: *mut OfxParamSetHandle,
) -> OfxStatus {
    ffi(|| match Effect::from_handle(effect) {
        Some(effect) => write(out, effect.params.handle()),
        None => kOfxStatErrBadHandle,
    })
}

unsafe extern "C" fn clip_define(
    effect: OfxImageEffectHandle,
    name: *const c_char,
    out: *mut OfxPropertySetHandle,
) -> OfxStatus {
    ffi(|| {
        let Some(effect) = Effect::from_handle(effect) else {
            return kOfxStatErrBadHandle;
        };
        if name.is_null() {
            return kOfxStatErrValue;
        }
        let name = CStr::from_ptr(name);
        let text = name.to_string_lossy();
        if effect.with_clip(&text, |_| ()).is_some() {
            return kOfxStatErrExists;
        }
        write(out, effect.add_clip(&text, clip_descriptor_props(name)))
    })
}

unsafe extern "C" fn clip_get_handle(
    effect: OfxImageEffectHandle,
    name: *const c_char,
    clip: *mut OfxImageClipHandle,
    props: *mut OfxPropertySetHandle,
) -> OfxStatus {
    ffi(|| {
        let Some(effect) = Effect::from_handle(effect) else {
            return kOfxStatErrBadHandle;
        };
        if name.is_null() || clip.is_null() {
            return kOfxStatErrValue;
        }
        let name = CStr::from_ptr(name).to_string_lossy();
        let Some((c, p)) = effect.with_clip(&name, |c| (c.handle(), c.props.handle())) else {
            return kOfxStatErrUnknown;
        };
        *clip = c;
        if !props.is_null() {
            *props = p;
        }
        kOfxStatOK
    })
}

unsafe extern "C" fn clip_get_property_set(
    clip: OfxImageClipHandle,
    out: *mut OfxPropertySetHandle,
) -> OfxStatus {
    ffi(|| match Clip::from_handle(clip) {
        Some(clip) => write(out, clip.props.handle()),
        None => kOfxStatErrBadHandle,
    })
}

unsafe extern "C" fn clip_get_image(
    clip: OfxImageClipHandle,
    time: OfxTime,
    _region: *const OfxRectD,
    out: *mut OfxPropertySetHandle,
) -> OfxStatus {
    static UNIQUE: AtomicU64 = AtomicU64::new(0);
    ffi(|| {
        let Some(clip) = Clip::from_handle(clip) else {
            return kOfxStatErrBadHandle;
        };
        if out.is_null() {
            return kOfxStatErrValue;
        }
        let unique = UNIQUE.fetch_add(1, Ordering::Relaxed);
        if clip.name != kOfxImageEffectOutputClipName.to_string_lossy() {
            return match clip.input_image(time, unique) {
                Some(image) => write(out, image),
                None => kOfxStatFailed,
            };
        }
        let Some(target) = (*clip.effect).target_for(time) else {
            return kOfxStatFailed;
        };
        *out = image::lend_image(target.image_props(unique), None);
        kOfxStatOK
    })
}

unsafe extern "C" fn clip_release_image(image: OfxPropertySetHandle) -> OfxStatus {
    ffi(|| {
        if image::release_image(image) {
            kOfxStatOK
        } else {
            kOfxStatErrBadHandle
        }
    })
}

unsafe extern "C" fn clip_get_region_of_definition(
    clip: OfxImageClipHandle,
    _time: OfxTime,
    out: *mut OfxRectD,
) -> OfxStatus {
    ffi(|| {
        let Some(clip) = Clip::from_handle(clip) else {
            return kOfxStatErrBadHandle;
        };
        if clip.props.int(kOfxImageClipPropConnected, 0) != Some(1) {
            return write(out, OfxRectD::default());
        }
        let extent = (*clip.effect)
            .props
            .doubles(kOfxImageEffectPropProjectExtent);
        match extent[..] {
            [w, h] => write(
                out,
                OfxRectD {
                    x1: 0.0,
                    y1: 0.0,
                    x2: w,
                    y2: h,
                },
            ),
            _ => kOfxStatFailed,
        }
    })
}

unsafe extern "C" fn abort(_effect: OfxImageEffectHandle) -> c_int {
    ffi_or(0, || {
        host::current().is_some_and(|state| state.aborting()) as c_int
    })
}

pub(crate) static SUITE: OfxImageEffectSuiteV1 = OfxImageEffectSuiteV1 {
    getPropertySet: Some(get_property_set),
    getParamSet: Some(get_param_set),
    clipDefine: Some(clip_define),
    clipGetHandle: Some(clip_get_handle),
    clipGetPropertySet: Some(clip_get_property_set),
    clipGetImage: Some(clip_get_image),
    clipReleaseImage: Some(clip_release_image),
    clipGetRegionOfDefinition: Some(clip_get_region_of_definition),
    abort: Some(abort),
    imageMemoryAlloc: Some(memory::image_memory_alloc),
    imageMemoryFree: Some(memory::image_memory_free),
    imageMemoryLock: Some(memory::image_memory_lock),
    imageMemoryUnlock: Some(memory::image_memory_unlock),
};
