//! The host and its suites, fetched once per load. Required suites (property, image effect, parameter)
//! must exist; optional ones (message V1/V2, progress V1/V2) may be missing.

use std::ffi::CStr;
use std::sync::Arc;

use ofx_sys::*;
use parking_lot::RwLock;

use super::{name, props::PropSet, Error, Result};

/// Function tables the host lends us for the life of the process.
pub struct Suites {
    pub host_props: OfxPropertySetHandle,
    pub property: &'static OfxPropertySuiteV1,
    pub effect: &'static OfxImageEffectSuiteV1,
    pub param: &'static OfxParameterSuiteV1,
    pub message_v2: Option<&'static OfxMessageSuiteV2>,
    pub message_v1: Option<&'static OfxMessageSuiteV1>,
    pub progress_v2: Option<&'static OfxProgressSuiteV2>,
    pub progress_v1: Option<&'static OfxProgressSuiteV1>,
}

// SAFETY: the suites are immutable function tables and the host property set is valid for the whole
// session; OFX lets any thread call suite functions.
unsafe impl Send for Suites {}
unsafe impl Sync for Suites {}

static HOST: RwLock<Option<HostPtr>> = RwLock::new(None);
static SUITES: RwLock<Option<Arc<Suites>>> = RwLock::new(None);

#[derive(Clone, Copy)]
struct HostPtr(*const OfxHost);
// SAFETY: the OfxHost struct outlives the plugin binary's use (spec: valid until unload).
unsafe impl Send for HostPtr {}
unsafe impl Sync for HostPtr {}

/// Remembers the host (from `setHost`/`OfxSetHost`); suites are fetched at load.
pub fn set_host(host: *const OfxHost) {
    *HOST.write() = (!host.is_null()).then_some(HostPtr(host));
    *SUITES.write() = None;
}

/// Fetches the suites (kOfxActionLoad); fails when a required suite is missing.
pub fn load() -> Result<Arc<Suites>> {
    let host = HOST
        .read()
        .ok_or_else(|| Error::new(kOfxStatErrMissingHostFeature, "the host was never set"))?;
    // SAFETY: the host pointer was given to us by the host and is valid until unload.
    let host = unsafe { &*host.0 };
    let suites = Arc::new(Suites {
        host_props: host.host,
        property: required(host, kOfxPropertySuite, 1)?,
        effect: required(host, kOfxImageEffectSuite, 1)?,
        param: required(host, kOfxParameterSuite, 1)?,
        message_v2: optional(host, kOfxMessageSuite, 2),
        message_v1: optional(host, kOfxMessageSuite, 1),
        progress_v2: optional(host, kOfxProgressSuite, 2),
        progress_v1: optional(host, kOfxProgressSuite, 1),
    });
    *SUITES.write() = Some(suites.clone());
    Ok(suites)
}

/// The suites fetched at load (fetching them now if the host skipped load).
pub fn get() -> Result<Arc<Suites>> {
    if let Some(suites) = SUITES.read().clone() {
        return Ok(suites);
    }
    load()
}

/// The suites fetched at load, without fetching them (for reporting a failure of load itself).
pub fn loaded() -> Option<Arc<Suites>> {
    SUITES.read().clone()
}

/// Forgets the suites (kOfxActionUnload).
pub fn unload() {
    *SUITES.write() = None;
}

impl Suites {
    pub fn host(&self) -> PropSet {
        PropSet::new(self.host_props, self.property)
    }
}

fn optional<T>(host: &OfxHost, suite: &CStr, version: i32) -> Option<&'static T> {
    let fetch = host.fetchSuite?;
    // SAFETY: fetchSuite returns NULL or a pointer to the named suite struct, valid until unload.
    unsafe {
        fetch(host.host, suite.as_ptr(), version)
            .cast::<T>()
            .as_ref()
    }
}

fn required<T>(host: &OfxHost, suite: &CStr, version: i32) -> Result<&'static T> {
    optional(host, suite, version).ok_or_else(|| {
        Error::new(
            kOfxStatErrMissingHostFeature,
            format!("the host has no {} V{version}", name(suite)),
        )
    })
}
