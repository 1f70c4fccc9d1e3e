//! Multithread suite V1 on real OS threads, with recursive mutexes.

use crate::guard::{ffi, HostObject};
use ofx_sys::*;
use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::sync::{Condvar, Mutex};
use std::thread::{self, ThreadId};

thread_local! {
    /// (index, spawned by multiThread) of the current thread.
    static WORKER: Cell<Option<u32>> = const { Cell::new(None) };
}

/// The plugin's argument, moved to the worker threads.
#[derive(Clone, Copy)]
struct Arg(*mut c_void);
// SAFETY: the plugin promises its argument may be used from the threads it asked for.
unsafe impl Send for Arg {}
unsafe impl Sync for Arg {}

unsafe extern "C" fn multi_thread(
    func: OfxThreadFunctionV1,
    count: u32,
    arg: *mut c_void,
) -> OfxStatus {
    ffi(|| {
        let Some(func) = func else {
            return kOfxStatErrValue;
        };
        if count == 0 {
            return kOfxStatErrValue;
        }
        let arg = Arg(arg);
        thread::scope(|scope| {
            for index in 0..count {
                scope.spawn(move || {
                    let arg = arg;
                    WORKER.with(|w| w.set(Some(index)));
                    unsafe { func(index, count, arg.0) };
                });
            }
        });
        kOfxStatOK
    })
}

unsafe extern "C" fn num_cpus(out: *mut u32) -> OfxStatus {
    ffi(|| {
        if out.is_null() {
            return kOfxStatErrValue;
        }
        *out = thread::available_parallelism().map_or(1, |n| n.get() as u32);
        kOfxStatOK
    })
}

unsafe extern "C" fn thread_index(out: *mut u32) -> OfxStatus {
    ffi(|| {
        if out.is_null() {
            return kOfxStatErrValue;
        }
        *out = WORKER.with(|w| w.get()).unwrap_or(0);
        kOfxStatOK
    })
}

unsafe extern "C" fn is_spawned_thread() -> c_int {
    WORKER.with(|w| w.get()).is_some() as c_int
}

/// A recursive mutex with explicit lock/unlock calls; its address is the `OfxMutexHandle`.
#[repr(C)]
struct RecursiveMutex {
    tag: HostObject,
    owner: Mutex<Option<(ThreadId, u32)>>,
    released: Condvar,
}

impl RecursiveMutex {
    unsafe fn from_handle<'a>(handle: OfxMutexHandle) -> Option<&'a RecursiveMutex> {
        HostObject::check(handle as *const c_void, HostObject::Mutex)
            .map(|p| &*(p as *const RecursiveMutex))
    }

    /// Takes the lock (waiting if `wait`); false when another thread holds it and `wait` is false.
    fn acquire(&self, wait: bool) -> bool {
        let me = thread::current().id();
        let mut owner = self.owner.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match *owner {
                None => {
                    *owner = Some((me, 1));
                    return true;
                }
                Some((id, n)) if id == me => {
                    *owner = Some((id, n + 1));
                    return true;
                }
                Some(_) if !wait => return false,
                Some(_) => owner = self.released.wait(owner).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }

    fn release(&self) -> bool {
        let me = thread::current().id();
        let mut owner = self.owner.lock().unwrap_or_else(|e| e.into_inner());
        match *owner {
            Some((id, 1)) if id == me => {
                *owner = None;
                self.released.notify_one();
                true
            }
            Some((id, n)) if id == me => {
                *owner = Some((id, n - 1));
                true
            }
            _ => false,
        }
    }
}

unsafe extern "C" fn mutex_create(out: *mut OfxMutexHandle, lock_count: c_int) -> OfxStatus {
    ffi(|| {
        if out.is_null() {
            return kOfxStatErrValue;
        }
        let held = u32::try_from(lock_count)
            .ok()
            .filter(|n| *n > 0)
            .map(|n| (thread::current().id(), n));
        let mutex = Box::new(RecursiveMutex {
            tag: HostObject::Mutex,
            owner: Mutex::new(held),
            released: Condvar::new(),
        });
        *out = Box::into_raw(mutex) as OfxMutexHandle;
        kOfxStatOK
    })
}

unsafe extern "C" fn mutex_destroy(handle: OfxMutexHandle) -> OfxStatus {
    ffi(|| match RecursiveMutex::from_handle(handle) {
        Some(_) => {
            drop(Box::from_raw(handle as *mut RecursiveMutex));
            kOfxStatOK
        }
        None => kOfxStatErrBadHandle,
    })
}

unsafe extern "C" fn mutex_lock(handle: OfxMutexHandle) -> OfxStatus {
    ffi(|| match RecursiveMutex::from_handle(handle) {
        Some(m) => {
            m.acquire(true);
            kOfxStatOK
        }
        None => kOfxStatErrBadHandle,
    })
}

unsafe extern "C" fn mutex_unlock(handle: OfxMutexHandle) -> OfxStatus {
    ffi(|| match RecursiveMutex::from_handle(handle) {
        Some(m) if m.release() => kOfxStatOK,
        Some(_) => kOfxStatErrValue,
        None => kOfxStatErrBadHandle,
    })
}

unsafe extern "C" fn mutex_try_lock(handle: OfxMutexHandle) -> OfxStatus {
    ffi(|| match RecursiveMutex::from_handle(handle) {
        Some(m) if m.acquire(false) => kOfxStatOK,
        Some(_) => kOfxStatFailed,
        None => kOfxStatErrBadHandle,
    })
}

pub(crate) static SUITE: OfxMultiThreadSuiteV1 = OfxMultiThreadSuiteV1 {
    multiThread: Some(multi_thread),
    multiThreadNumCPUs: Some(num_cpus),
    multiThreadIndex: Some(thread_index),
    multiThreadIsSpawnedThread: Some(is_spawned_thread),
    mutexCreate: Some(mutex_create),
    mutexDestroy: Some(mutex_destroy),
    mutexLock: Some(mutex_lock),
    mutexUnLock: Some(mutex_unlock),
    mutexTryLock: Some(mutex_try_lock),
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    unsafe extern "C" fn count_index(index: u32, max: u32, arg: *mut c_void) {
        assert_eq!(max, 4);
        assert_eq!(is_spawned_thread(), 1);
        let mut seen = 0;
        thread_index(&mut seen);
        assert_eq!(seen, index);
        (*(arg as *const AtomicU32)).fetch_add(1 << index, Ordering::SeqCst);
    }

    #[test]
    fn every_thread_runs_once_with_its_index() {
        let seen = AtomicU32::new(0);
        unsafe {
            assert_eq!(
                multi_thread(Some(count_index), 4, &seen as *const _ as *mut c_void),
                kOfxStatOK
            );
            assert_eq!(is_spawned_thread(), 0);
        }
        assert_eq!(seen.load(Ordering::SeqCst), 0b1111);
    }

    #[test]
    fn mutexes_are_recursive_and_exclusive() {
        let mut handle = std::ptr::null_mut();
        unsafe {
            assert_eq!(mutex_create(&mut handle, 1), kOfxStatOK);
            assert_eq!(mutex_try_lock(handle), kOfxStatOK);
            let h = handle as usize;
            let other = thread::spawn(move || mutex_try_lock(h as OfxMutexHandle))
                .join()
                .unwrap();
            assert_eq!(other, kOfxStatFailed);
            assert_eq!(mutex_unlock(handle), kOfxStatOK);
            assert_eq!(mutex_unlock(handle), kOfxStatOK);
            assert_eq!(mutex_unlock(handle), kOfxStatErrValue);
            let other = thread::spawn(move || mutex_try_lock(h as OfxMutexHandle))
                .join()
                .unwrap();
            assert_eq!(other, kOfxStatOK);
            assert_eq!(mutex_destroy(handle), kOfxStatOK);
        }
    }
}
