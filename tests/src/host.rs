//! The host itself: its configuration (name, optional suites, cancel/abort switches, project), its
//! property set, `fetchSuite`, and the record of what the plugin told it (messages, progress).
//!
//! A plugin binary keeps one host pointer for the whole process, so one session runs at a time
//! (see `session.rs`); the suites find that session's state through [`current`].

use crate::image::{Components, Depth};
use crate::messages::{Message, QuestionReply};
use crate::progress::ProgressEvent;
use crate::props::{PropertySet, Value};
use crate::{effect, memory, messages, params, progress, props, threads, timeline};
use ofx_sys::*;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// An effect context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Generator,
    Filter,
    General,
}

impl Context {
    pub fn name(self) -> &'static CStr {
        match self {
            Context::Generator => kOfxImageEffectContextGenerator,
            Context::Filter => kOfxImageEffectContextFilter,
            Context::General => kOfxImageEffectContextGeneral,
        }
    }
}

/// What the host is and offers. `Default` is a capable generic host.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// `kOfxPropName` of the host ("DaVinciResolveLite", "uk.co.thefoundry.nuke", "fr.inria.Natron"...).
    pub name: String,
    pub label: String,
    /// Offer the optional suites: progress V1/V2, message V2, timeline, multithread.
    pub optional_suites: bool,
    /// Message V2's `setPersistentMessage`/`clearPersistentMessage` work; `false` models Resolve 14:
    /// `setPersistentMessage` is NULL and `clearPersistentMessage` is garbage (calling it is recorded).
    pub persistent_messages: bool,
    /// Answer kOfxStatReplyNo (cancel) to progress updates after this many.
    pub cancel_after_updates: Option<usize>,
    /// Raise the image effect suite's abort flag after this many progress updates.
    pub abort_after_updates: Option<usize>,
    pub contexts: Vec<Context>,
    pub depths: Vec<Depth>,
    /// Project size in canonical coordinates (also the default generator RoD).
    pub project_size: (f64, f64),
    pub frame_rate: f64,
    /// Timeline bounds and the effect's frame range.
    pub frame_range: (f64, f64),
    /// Output clip pixel format of new instances.
    pub depth: Depth,
    pub components: Components,
    /// Sets `kNatronOfxHostIsNatron` and, as Natron does, `kNatronOfxParamHostPropSupportsDynamicChoices`
    /// (the plugin may change a choice's options on an instance).
    pub natron: bool,
    /// More host properties, e.g. a plugin's test-only switches (set before Load; change them later
    /// with [`crate::Session::set_host_property`]).
    pub extra_properties: Vec<(CString, Value)>,
    /// OpenFX 1.5 colour management, when the host offers it.
    pub colour_management: Option<ColourManagement>,
    /// How the user answers `kOfxMessageQuestion` messages (recorded like any message).
    pub question_reply: QuestionReply,
}

/// What a colour-managed host offers: a style, the native config, and the output colourspaces it would
/// like, in order (the in argument of GetOutputColourspace; change it per instance with
/// [`crate::Instance::set_preferred_output_colourspaces`]).
#[derive(Clone, Debug)]
pub struct ColourManagement {
    /// `kOfxImageEffectColourManagement*`.
    pub style: &'static CStr,
    pub preferred_output: Vec<String>,
}

impl ColourManagement {
    pub fn new(style: &'static CStr, preferred_output: &[&str]) -> Self {
        ColourManagement {
            style,
            preferred_output: preferred_output.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            name: "org.texttovideo.HeadlessHost".into(),
            label: "Headless OFX host".into(),
            optional_suites: true,
            persistent_messages: true,
            cancel_after_updates: None,
            abort_after_updates: None,
            contexts: vec![Context::Generator, Context::Filter, Context::General],
            depths: vec![Depth::Byte, Depth::Short, Depth::Half, Depth::Float],
            project_size: (1920.0, 1080.0),
            frame_rate: 24.0,
            frame_range: (0.0, 47.0),
            depth: Depth::Float,
            components: Components::Rgba,
            natron: false,
            extra_properties: Vec::new(),
            colour_management: None,
            question_reply: QuestionReply::No,
        }
    }
}

impl HostConfig {
    /// DaVinci Resolve: all of byte/short/float, message V2 with a NULL `setPersistentMessage` and a
    /// garbage `clearPersistentMessage`.
    pub fn resolve() -> Self {
        HostConfig {
            name: "DaVinciResolveLite".into(),
            label: "DaVinci Resolve".into(),
            persistent_messages: false,
            depths: vec![Depth::Byte, Depth::Short, Depth::Float],
            ..Self::default()
        }
    }

    /// Nuke: no generator context, float only.
    pub fn nuke() -> Self {
        HostConfig {
            name: "uk.co.thefoundry.nuke".into(),
            label: "Nuke".into(),
            contexts: vec![Context::Filter, Context::General],
            depths: vec![Depth::Float],
            ..Self::default()
        }
    }

    pub fn natron() -> Self {
        HostConfig {
            name: "fr.inria.Natron".into(),
            label: "Natron".into(),
            natron: true,
            ..Self::default()
        }
    }

    /// A bare host: only the mandatory suites (property, image effect, parameter, memory, message V1).
    pub fn minimal() -> Self {
        HostConfig {
            optional_suites: false,
            ..Self::default()
        }
    }

    fn properties(&self) -> PropertySet {
        let contexts: Vec<&CStr> = self.contexts.iter().map(|c| c.name()).collect();
        let depths: Vec<&CStr> = self.depths.iter().map(|d| d.name()).collect();
        let set = PropertySet::with(vec![
            (kOfxPropType, Value::cstrs(&[kOfxTypeImageEffectHost])),
            (kOfxPropName, Value::strings(&[&self.name])),
            (kOfxPropLabel, Value::strings(&[&self.label])),
            (kOfxPropVersion, Value::Int(vec![1, 0, 0])),
            (kOfxPropVersionLabel, Value::strings(&["1.0"])),
            (kOfxPropAPIVersion, Value::Int(vec![1, 4])),
            (kOfxImageEffectHostPropIsBackground, Value::Int(vec![0])),
            (
                kOfxImageEffectHostPropNativeOrigin,
                Value::cstrs(&[kOfxHostNativeOriginBottomLeft]),
            ),
            (kOfxImageEffectPropSupportsOverlays, Value::Int(vec![0])),
            (
                kOfxImageEffectPropSupportsMultiResolution,
                Value::Int(vec![1]),
            ),
            (kOfxImageEffectPropSupportsTiles, Value::Int(vec![1])),
            (kOfxImageEffectPropTemporalClipAccess, Value::Int(vec![1])),
            (
                kOfxImageEffectPropSupportedComponents,
                Value::cstrs(&[
                    kOfxImageComponentRGBA,
                    kOfxImageComponentRGB,
                    kOfxImageComponentAlpha,
                ]),
            ),
            (
                kOfxImageEffectPropSupportedContexts,
                Value::cstrs(&contexts),
            ),
            (
                kOfxImageEffectPropSupportedPixelDepths,
                Value::cstrs(&depths),
            ),
            (
                kOfxImageEffectPropSupportsMultipleClipDepths,
                Value::Int(vec![0]),
            ),
            (
                kOfxImageEffectPropSupportsMultipleClipPARs,
                Value::Int(vec![0]),
            ),
            (kOfxImageEffectPropSetableFrameRate, Value::Int(vec![0])),
            (kOfxImageEffectPropSetableFielding, Value::Int(vec![0])),
            (
                kOfxImageEffectInstancePropSequentialRender,
                Value::Int(vec![0]),
            ),
            (kOfxImageEffectPropRenderQualityDraft, Value::Int(vec![0])),
            (kOfxParamHostPropSupportsCustomInteract, Value::Int(vec![0])),
            (
                kOfxParamHostPropSupportsStringAnimation,
                Value::Int(vec![0]),
            ),
            (
                kOfxParamHostPropSupportsChoiceAnimation,
                Value::Int(vec![0]),
            ),
            (
                kOfxParamHostPropSupportsBooleanAnimation,
                Value::Int(vec![0]),
            ),
            (
                kOfxParamHostPropSupportsCustomAnimation,
                Value::Int(vec![0]),
            ),
            (kOfxParamHostPropSupportsStrChoice, Value::Int(vec![0])),
            (
                kOfxParamHostPropSupportsParametricAnimation,
                Value::Int(vec![0]),
            ),
            (kOfxParamHostPropMaxParameters, Value::Int(vec![-1])),
            (kOfxParamHostPropMaxPages, Value::Int(vec![0])),
            (kOfxParamHostPropPageRowColumnCount, Value::Int(vec![0, 0])),
        ]);
        if self.natron {
            set.set(kNatronOfxHostIsNatron, Value::Int(vec![1]));
            set.set(
                kNatronOfxParamHostPropSupportsDynamicChoices,
                Value::Int(vec![1]),
            );
        }
        if let Some(colour) = &self.colour_management {
            set.set(
                kOfxImageEffectPropColourManagementStyle,
                Value::cstrs(&[colour.style]),
            );
            set.set(
                kOfxImageEffectPropColourManagementAvailableConfigs,
                Value::cstrs(&[kOfxConfigIdentifier]),
            );
        }
        for (name, value) in &self.extra_properties {
            set.set(name, value.clone());
        }
        set
    }
}

/// What the plugin did through the suites, in order.
#[derive(Debug, Default)]
struct Log {
    messages: Vec<Message>,
    progress: Vec<ProgressEvent>,
    updates: usize,
    /// (suite name, version, given) for every fetchSuite call.
    fetched: Vec<(String, i32, bool)>,
    /// Suite members the plugin called that a real host leaves invalid (Resolve's garbage pointers).
    garbage_calls: Vec<String>,
}

/// One session's host: config, properties, log and flags.
pub(crate) struct HostState {
    pub config: HostConfig,
    pub props: PropertySet,
    log: Mutex<Log>,
    abort: AtomicBool,
    time: Mutex<f64>,
}

impl HostState {
    pub fn new(config: HostConfig) -> Self {
        let props = config.properties();
        let time = config.frame_range.0;
        HostState {
            config,
            props,
            log: Mutex::default(),
            abort: AtomicBool::new(false),
            time: Mutex::new(time),
        }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn messages(&self) -> Vec<Message> {
        self.log().messages.clone()
    }

    pub fn progress(&self) -> Vec<ProgressEvent> {
        self.log().progress.clone()
    }

    pub fn fetched(&self) -> Vec<(String, i32, bool)> {
        self.log().fetched.clone()
    }

    pub fn garbage_calls(&self) -> Vec<String> {
        self.log().garbage_calls.clone()
    }

    /// Forgets messages and progress and resets the update count and abort flag.
    pub fn clear_log(&self) {
        let mut log = self.log();
        log.messages.clear();
        log.progress.clear();
        log.updates = 0;
        self.abort.store(false, Ordering::SeqCst);
    }

    pub fn aborting(&self) -> bool {
        self.abort.load(Ordering::SeqCst)
    }

    pub fn set_abort(&self, abort: bool) {
        self.abort.store(abort, Ordering::SeqCst)
    }

    pub fn time(&self) -> f64 {
        *self.time.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_time(&self, time: f64) {
        *self.time.lock().unwrap_or_else(|e| e.into_inner()) = time;
    }
}

static CURRENT: Mutex<Option<Arc<HostState>>> = Mutex::new(None);

/// The state of the session in progress, if any.
pub(crate) fn current() -> Option<Arc<HostState>> {
    CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

pub(crate) fn set_current(state: Option<Arc<HostState>>) {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = state;
}

/// Records a message; false when no session is running.
pub(crate) fn record_message(message: Message) -> bool {
    current()
        .map(|state| state.log().messages.push(message))
        .is_some()
}

/// Records a call of a suite member that a real host leaves invalid.
pub(crate) fn record_garbage_call(member: &str) {
    if let Some(state) = current() {
        state.log().garbage_calls.push(member.to_owned());
    }
}

/// Records a progress event; `Some(false)` means "the user cancelled", `None` no session.
pub(crate) fn record_progress(event: ProgressEvent) -> Option<bool> {
    let state = current()?;
    let mut log = state.log();
    let update = matches!(event, ProgressEvent::Update(_));
    log.progress.push(event);
    if !update {
        return Some(true);
    }
    log.updates += 1;
    let past = |limit: Option<usize>| limit.is_some_and(|n| log.updates > n);
    if past(state.config.abort_after_updates) {
        state.set_abort(true);
    }
    Some(!past(state.config.cancel_after_updates))
}

/// `OfxHost::fetchSuite`: the mandatory suites always, the optional ones when configured.
pub(crate) unsafe extern "C" fn fetch_suite(
    _host: OfxPropertySetHandle,
    name: *const c_char,
    version: c_int,
) -> *const c_void {
    crate::guard::ffi_or(std::ptr::null(), || suite(name, version))
}

unsafe fn suite(name: *const c_char, version: c_int) -> *const c_void {
    let Some(state) = current() else {
        return std::ptr::null();
    };
    if name.is_null() {
        return std::ptr::null();
    }
    let name = CStr::from_ptr(name);
    let optional = state.config.optional_suites;
    fn ptr<T>(suite: &'static T) -> *const c_void {
        suite as *const T as *const c_void
    }
    let suite = match (name, version) {
        (n, 1) if n == kOfxPropertySuite => ptr(&props::SUITE),
        (n, 1) if n == kOfxImageEffectSuite => ptr(&effect::SUITE),
        (n, 1) if n == kOfxParameterSuite => ptr(&params::SUITE),
        (n, 1) if n == kOfxMemorySuite => ptr(&memory::SUITE),
        (n, 1) if n == kOfxMessageSuite => ptr(&messages::SUITE_V1),
        (n, 2) if n == kOfxMessageSuite && optional && state.config.persistent_messages => {
            ptr(&messages::SUITE_V2)
        }
        (n, 2) if n == kOfxMessageSuite && optional => ptr(&messages::SUITE_V2_WITHOUT_PERSISTENT),
        (n, 1) if n == kOfxMultiThreadSuite && optional => ptr(&threads::SUITE),
        (n, 1) if n == kOfxProgressSuite && optional => ptr(&progress::SUITE_V1),
        (n, 2) if n == kOfxProgressSuite && optional => ptr(&progress::SUITE_V2),
        (n, 1) if n == kOfxTimeLineSuite && optional => ptr(&timeline::SUITE),
        _ => std::ptr::null(),
    };
    state.log().fetched.push((
        name.to_string_lossy().into_owned(),
        version,
        !suite.is_null(),
    ));
    suite
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(name: &CStr, version: c_int) -> bool {
        !unsafe { fetch_suite(std::ptr::null_mut(), name.as_ptr(), version) }.is_null()
    }

    /// One test, because the current host is process-wide.
    #[test]
    fn optional_suites_follow_the_config() {
        set_current(Some(Arc::new(HostState::new(HostConfig::default()))));
        for (suite, version) in [
            (kOfxProgressSuite, 2),
            (kOfxProgressSuite, 1),
            (kOfxMultiThreadSuite, 1),
            (kOfxTimeLineSuite, 1),
        ] {
            assert!(given(suite, version), "{suite:?} {version}");
        }
        assert!(!given(kOfxProgressSuite, 3));

        set_current(Some(Arc::new(HostState::new(HostConfig::minimal()))));
        for (suite, version) in [
            (kOfxProgressSuite, 2),
            (kOfxMessageSuite, 2),
            (kOfxMultiThreadSuite, 1),
            (kOfxTimeLineSuite, 1),
        ] {
            assert!(!given(suite, version), "{suite:?} {version}");
        }
        for suite in [
            kOfxPropertySuite,
            kOfxImageEffectSuite,
            kOfxParameterSuite,
            kOfxMemorySuite,
            kOfxMessageSuite,
        ] {
            assert!(given(suite, 1), "{suite:?}");
        }

        set_current(Some(Arc::new(HostState::new(HostConfig::resolve()))));
        let v2 = unsafe {
            &*(fetch_suite(std::ptr::null_mut(), kOfxMessageSuite.as_ptr(), 2)
                as *const OfxMessageSuiteV2)
        };
        assert!(v2.message.is_some() && v2.setPersistentMessage.is_none());

        let state = Arc::new(HostState::new(HostConfig {
            cancel_after_updates: Some(2),
            abort_after_updates: Some(1),
            ..HostConfig::default()
        }));
        set_current(Some(state.clone()));
        let answers: Vec<Option<bool>> = (0..3)
            .map(|i| record_progress(ProgressEvent::Update(i as f64)))
            .collect();
        assert_eq!(answers, [Some(true), Some(true), Some(false)]);
        assert!(state.aborting());
        set_current(None);
        assert_eq!(record_progress(ProgressEvent::End), None);
    }
}
