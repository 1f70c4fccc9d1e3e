//! Memory suite V1 and the image effect suite's image memory: plain heap blocks, 16-byte aligned.

use crate::guard::{ffi, HostObject};
use ofx_sys::*;
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ffi::c_void;

const ALIGN: usize = 16;

/// Allocates `size` bytes with the size stored in a header just before the returned block.
fn allocate(size: usize) -> Option<*mut u8> {
    let layout = Layout::from_size_align(size.checked_add(ALIGN)?, ALIGN).ok()?;
    let base = unsafe { alloc_zeroed(layout) };
    if base.is_null() {
        return None;
    }
    unsafe {
        (base as *mut usize).write(size);
        Some(base.add(ALIGN))
    }
}

/// # Safety
/// `block` must come from [`allocate`] and not have been released.
unsafe fn release(block: *mut u8) {
    let base = block.sub(ALIGN);
    let size = (base as *const usize).read();
    dealloc(base, Layout::from_size_align_unchecked(size + ALIGN, ALIGN));
}

unsafe extern "C" fn memory_alloc(
    _handle: *mut c_void,
    size: usize,
    out: *mut *mut c_void,
) -> OfxStatus {
    ffi(|| {
        if out.is_null() {
            return kOfxStatErrValue;
        }
        match allocate(size) {
            Some(block) => {
                *out = block as *mut c_void;
                kOfxStatOK
            }
            None => kOfxStatErrMemory,
        }
    })
}

unsafe extern "C" fn memory_free(block: *mut c_void) -> OfxStatus {
    ffi(|| {
        if block.is_null() {
            return kOfxStatErrBadHandle;
        }
        release(block as *mut u8);
        kOfxStatOK
    })
}

pub(crate) static SUITE: OfxMemorySuiteV1 = OfxMemorySuiteV1 {
    memoryAlloc: Some(memory_alloc),
    memoryFree: Some(memory_free),
};

/// A block handed out by `imageMemoryAlloc`; its address is the `OfxImageMemoryHandle`.
#[repr(C)]
struct ImageMemory {
    tag: HostObject,
    block: *mut u8,
}

pub(crate) unsafe extern "C" fn image_memory_alloc(
    _instance: OfxImageEffectHandle,
    size: usize,
    out: *mut OfxImageMemoryHandle,
) -> OfxStatus {
    ffi(|| {
        if out.is_null() {
            return kOfxStatErrValue;
        }
        let Some(block) = allocate(size) else {
            return kOfxStatErrMemory;
        };
        *out = Box::into_raw(Box::new(ImageMemory {
            tag: HostObject::ImageMemory,
            block,
        })) as OfxImageMemoryHandle;
        kOfxStatOK
    })
}

unsafe fn image_memory<'a>(handle: OfxImageMemoryHandle) -> Option<&'a ImageMemory> {
    HostObject::check(handle as *const c_void, HostObject::ImageMemory)
        .map(|p| &*(p as *const ImageMemory))
}

pub(crate) unsafe extern "C" fn image_memory_free(handle: OfxImageMemoryHandle) -> OfxStatus {
    ffi(|| {
        if image_memory(handle).is_none() {
            return kOfxStatErrBadHandle;
        }
        let memory = Box::from_raw(handle as *mut ImageMemory);
        release(memory.block);
        kOfxStatOK
    })
}

pub(crate) unsafe extern "C" fn image_memory_lock(
    handle: OfxImageMemoryHandle,
    out: *mut *mut c_void,
) -> OfxStatus {
    ffi(|| match (image_memory(handle), out.is_null()) {
        (Some(memory), false) => {
            *out = memory.block as *mut c_void;
            kOfxStatOK
        }
        (None, _) => kOfxStatErrBadHandle,
        (_, true) => kOfxStatErrValue,
    })
}

pub(crate) unsafe extern "C" fn image_memory_unlock(handle: OfxImageMemoryHandle) -> OfxStatus {
    ffi(|| {
        if image_memory(handle).is_some() {
            kOfxStatOK
        } else {
            kOfxStatErrBadHandle
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_zeroed_and_freed() {
        let mut block = std::ptr::null_mut();
        unsafe {
            assert_eq!(
                memory_alloc(std::ptr::null_mut(), 100, &mut block),
                kOfxStatOK
            );
            assert_eq!(block as usize % ALIGN, 0);
            assert!(std::slice::from_raw_parts(block as *const u8, 100)
                .iter()
                .all(|b| *b == 0));
            assert_eq!(memory_free(block), kOfxStatOK);
        }
    }

    #[test]
    fn image_memory_locks_to_its_block() {
        let mut handle = std::ptr::null_mut();
        let mut ptr = std::ptr::null_mut();
        unsafe {
            assert_eq!(
                image_memory_alloc(std::ptr::null_mut(), 64, &mut handle),
                kOfxStatOK
            );
            assert_eq!(image_memory_lock(handle, &mut ptr), kOfxStatOK);
            assert!(!ptr.is_null());
            assert_eq!(image_memory_unlock(handle), kOfxStatOK);
            assert_eq!(image_memory_free(handle), kOfxStatOK);
            assert_eq!(
                image_memory_lock(std::ptr::null_mut(), &mut ptr),
                kOfxStatErrBadHandle
            );
        }
    }
}
