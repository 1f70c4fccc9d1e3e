//! Loading a bundle and running the plugin's life cycle as an editor does: OfxSetHost (when
//! exported) → OfxGetNumberOfPlugins/OfxGetPlugin → setHost → Load → Describe → DescribeInContext →
//! instances (see `instance.rs`) → Unload.
//!
//! The binary stays mapped for the rest of the process (hosts do not unload plugins either; a Rust
//! cdylib with thread-local destructors cannot be unmapped safely). A plugin keeps one host pointer
//! per process, so sessions are serialised: a second `Session::load` waits for the first to end.

use crate::effect::Effect;
use crate::host::{self, Context, HostConfig, HostState};
use crate::messages::Message;
use crate::params::ParamSet;
use crate::progress::ProgressEvent;
use crate::props::{PropertySet, Value};
use crate::variadic;
use libloading::Library;
use ofx_sys::*;
use std::ffi::{c_void, CStr};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// What went wrong talking to the plugin.
#[derive(Debug, Clone, PartialEq)]
pub enum HostError {
    /// The binary could not be found or loaded, or lacks an entry point.
    Load(String),
    /// An action returned a failure status.
    Action { action: String, status: OfxStatus },
    /// A host-side request the plugin's definitions cannot satisfy (unknown parameter, wrong type...).
    Usage(String),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Load(why) => write!(f, "cannot load the plugin: {why}"),
            HostError::Action { action, status } => {
                write!(f, "{action} returned {} ({status})", status_name(*status))
            }
            HostError::Usage(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for HostError {}

/// The `kOfxStat*` name of a status.
pub fn status_name(status: OfxStatus) -> &'static str {
    const NAMES: [&str; 15] = [
        "kOfxStatOK",
        "kOfxStatFailed",
        "kOfxStatErrFatal",
        "kOfxStatErrUnknown",
        "kOfxStatErrMissingHostFeature",
        "kOfxStatErrUnsupported",
        "kOfxStatErrExists",
        "kOfxStatErrFormat",
        "kOfxStatErrMemory",
        "kOfxStatErrBadHandle",
        "kOfxStatErrBadIndex",
        "kOfxStatErrValue",
        "kOfxStatReplyYes",
        "kOfxStatReplyNo",
        "kOfxStatReplyDefault",
    ];
    usize::try_from(status)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("unknown status")
}

/// `$T2V_BUNDLE`, else `<workspace>/target/bundle/TextToVideo.ofx.bundle`.
pub fn default_bundle() -> PathBuf {
    match std::env::var_os("T2V_BUNDLE") {
        Some(path) => PathBuf::from(path),
        None => {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("tests/ sits in the workspace");
            workspace.join("target/bundle/TextToVideo.ofx.bundle")
        }
    }
}

/// The bundle folder of this platform's plugin binary.
#[cfg(not(windows))]
pub const ARCH_DIR: &str = "Linux-x86-64";
#[cfg(windows)]
pub const ARCH_DIR: &str = "Win64";

/// The plugin binary of a bundle: the `.ofx` file in `Contents/<ARCH_DIR>`.
pub fn bundle_binary(bundle: &Path) -> Result<PathBuf, HostError> {
    let dir = bundle.join("Contents").join(ARCH_DIR);
    let entries =
        std::fs::read_dir(&dir).map_err(|e| HostError::Load(format!("{}: {e}", dir.display())))?;
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "ofx"))
        .ok_or_else(|| HostError::Load(format!("no .ofx binary in {}", dir.display())))
}

/// Libraries loaded so far, kept for the whole process.
static LIBRARIES: Mutex<Vec<(PathBuf, &'static Library)>> = Mutex::new(Vec::new());
/// Held by the running session.
static EXCLUSIVE: Mutex<()> = Mutex::new(());

fn library(path: &Path) -> Result<&'static Library, HostError> {
    let mut libraries = LIBRARIES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, lib)) = libraries.iter().find(|(p, _)| p == path) {
        return Ok(lib);
    }
    // SAFETY: loading runs the plugin's initialisers; that is what a host does.
    let lib = unsafe { Library::new(path) }
        .map_err(|e| HostError::Load(format!("{}: {e}", path.display())))?;
    let lib: &'static Library = Box::leak(Box::new(lib));
    libraries.push((path.to_owned(), lib));
    Ok(lib)
}

/// Clears the current host when `Session::load` fails half-way (while still holding the session lock).
struct ForgetHostOnError(bool);

impl Drop for ForgetHostOnError {
    fn drop(&mut self) {
        if self.0 {
            host::set_current(None);
        }
    }
}

/// A loaded and described plugin. Dropping it sends Unload (if [`Session::unload`] was not called).
pub struct Session {
    pub(crate) state: Arc<HostState>,
    /// Keeps the `OfxHost` the plugin points to alive.
    _host: Box<OfxHost>,
    plugin: *const OfxPlugin,
    pub bundle: PathBuf,
    descriptor: Box<Effect>,
    contexts: Mutex<Vec<(Context, Box<Effect>)>>,
    loaded: bool,
    _exclusive: MutexGuard<'static, ()>,
}

// SAFETY: the plugin pointer refers to static data of a library that is never unloaded; actions may
// be called from any thread for a render-thread-safe plugin, which the tests check.
unsafe impl Send for Session {}
unsafe impl Sync for Session {}

impl Session {
    /// Loads the bundle's binary, hands it the host, sends Load and Describe.
    pub fn load(bundle: &Path, config: HostConfig) -> Result<Session, HostError> {
        let exclusive = EXCLUSIVE.lock().unwrap_or_else(|e| e.into_inner());
        variadic::install();
        let binary = bundle_binary(bundle)?;
        let lib = library(&binary)?;
        let state = Arc::new(HostState::new(config));
        host::set_current(Some(state.clone()));
        let mut forget_on_error = ForgetHostOnError(true);
        let host = Box::new(OfxHost {
            host: state.props.handle(),
            fetchSuite: Some(host::fetch_suite),
        });

        // SAFETY: the symbols have the OpenFX signatures (ofx-sys declares them).
        let plugin = unsafe {
            if let Ok(set_host) = lib.get::<OfxSetHostFn>(b"OfxSetHost\0") {
                let set_host =
                    (*set_host).ok_or_else(|| HostError::Load("OfxSetHost is NULL".into()))?;
                let status = set_host(&*host);
                if status != kOfxStatOK {
                    return Err(HostError::Action {
                        action: "OfxSetHost".into(),
                        status,
                    });
                }
            }
            let count = lib
                .get::<OfxGetNumberOfPluginsFn>(b"OfxGetNumberOfPlugins\0")
                .map_err(|e| HostError::Load(e.to_string()))?;
            let get = lib
                .get::<OfxGetPluginFn>(b"OfxGetPlugin\0")
                .map_err(|e| HostError::Load(e.to_string()))?;
            let (count, get) = (
                count.ok_or_else(|| HostError::Load("NULL entry point".into()))?,
                get.ok_or_else(|| HostError::Load("NULL entry point".into()))?,
            );
            let n = count();
            let plugin = (0..n).map(|i| get(i)).find(|p| {
                !p.is_null() && CStr::from_ptr((**p).pluginApi) == kOfxImageEffectPluginApi
            });
            let plugin = plugin.ok_or_else(|| {
                HostError::Load(format!("none of the {n} plugins is an image effect"))
            })?;
            let set_host = (*plugin)
                .setHost
                .ok_or_else(|| HostError::Load("setHost is NULL".into()))?;
            set_host(&*host as *const OfxHost as *mut OfxHost);
            plugin as *const OfxPlugin
        };

        let bundle_path = bundle.canonicalize().unwrap_or_else(|_| bundle.to_owned());
        let descriptor_props = PropertySet::with(vec![
            (kOfxPropType, Value::cstrs(&[kOfxTypeImageEffect])),
            (
                kOfxPluginPropFilePath,
                Value::strings(&[bundle_path.to_string_lossy()]),
            ),
            (
                kOfxImageEffectPropSupportedContexts,
                Value::String(Vec::new()),
            ),
            (
                kOfxImageEffectPropSupportedPixelDepths,
                Value::String(Vec::new()),
            ),
        ]);
        let mut session = Session {
            state,
            _host: host,
            plugin,
            bundle: bundle_path,
            descriptor: Effect::new(descriptor_props, ParamSet::default()),
            contexts: Mutex::default(),
            loaded: false,
            _exclusive: exclusive,
        };
        session.check(
            kOfxActionLoad,
            session.call(kOfxActionLoad, std::ptr::null(), None, None),
        )?;
        session.loaded = true;
        let status = session.call(
            kOfxActionDescribe,
            session.descriptor.handle() as *const c_void,
            None,
            None,
        );
        session.check(kOfxActionDescribe, status)?;
        forget_on_error.0 = false;
        Ok(session)
    }

    /// Sends `action` to the plugin's main entry.
    pub(crate) fn call(
        &self,
        action: &CStr,
        handle: *const c_void,
        in_args: Option<&PropertySet>,
        out_args: Option<&PropertySet>,
    ) -> OfxStatus {
        let args = |a: Option<&PropertySet>| a.map_or(std::ptr::null_mut(), |p| p.handle());
        // SAFETY: plugin points into the loaded library; the handles and arguments live for the call.
        unsafe {
            match (*self.plugin).mainEntry {
                Some(main) => main(action.as_ptr(), handle, args(in_args), args(out_args)),
                None => kOfxStatErrMissingHostFeature,
            }
        }
    }

    /// OK and "not handled" (kOfxStatReplyDefault) pass; anything else is an error.
    pub(crate) fn check(&self, action: &CStr, status: OfxStatus) -> Result<OfxStatus, HostError> {
        if status == kOfxStatOK || status == kOfxStatReplyDefault {
            Ok(status)
        } else {
            Err(HostError::Action {
                action: action.to_string_lossy().into_owned(),
                status,
            })
        }
    }

    /// `(pluginIdentifier, major, minor)`.
    pub fn identity(&self) -> (String, u32, u32) {
        // SAFETY: see Session::call.
        unsafe {
            let p = &*self.plugin;
            (
                CStr::from_ptr(p.pluginIdentifier)
                    .to_string_lossy()
                    .into_owned(),
                p.pluginVersionMajor,
                p.pluginVersionMinor,
            )
        }
    }

    /// The effect descriptor's properties after Describe (label, grouping, contexts...).
    pub fn descriptor(&self) -> &PropertySet {
        &self.descriptor.props
    }

    /// Sends DescribeInContext (once per context) and returns the context descriptor's parameter
    /// names and clips.
    pub fn describe_in_context(&self, context: Context) -> Result<ContextDescription, HostError> {
        let mut contexts = self.contexts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, effect)) = contexts.iter().find(|(c, _)| *c == context) {
            return Ok(ContextDescription::of(effect));
        }
        let effect = Effect::new(self.descriptor.props.clone(), ParamSet::default());
        let in_args = PropertySet::with(vec![(
            kOfxImageEffectPropContext,
            Value::cstrs(&[context.name()]),
        )]);
        let status = self.call(
            kOfxImageEffectActionDescribeInContext,
            effect.handle() as *const c_void,
            Some(&in_args),
            None,
        );
        self.check(kOfxImageEffectActionDescribeInContext, status)?;
        let description = ContextDescription::of(&effect);
        contexts.push((context, effect));
        Ok(description)
    }

    /// Runs `f` on the descriptor of a described context.
    pub(crate) fn with_context<T>(
        &self,
        context: Context,
        f: impl FnOnce(&Effect) -> T,
    ) -> Option<T> {
        let contexts = self.contexts.lock().unwrap_or_else(|e| e.into_inner());
        contexts
            .iter()
            .find(|(c, _)| *c == context)
            .map(|(_, e)| f(e))
    }

    pub fn config(&self) -> &HostConfig {
        &self.state.config
    }

    /// Every message the plugin sent, in order.
    pub fn messages(&self) -> Vec<Message> {
        self.state.messages()
    }

    /// Every progress call, in order.
    pub fn progress(&self) -> Vec<ProgressEvent> {
        self.state.progress()
    }

    /// How many progress updates the plugin sent (one per denoising step, plus the first).
    pub fn progress_updates(&self) -> usize {
        self.progress()
            .iter()
            .filter(|e| matches!(e, ProgressEvent::Update(_)))
            .count()
    }

    /// `(suite, version, given)` for every fetchSuite call.
    pub fn suites_fetched(&self) -> Vec<(String, i32, bool)> {
        self.state.fetched()
    }

    /// Suite members the plugin called that the modelled host leaves invalid (on a real host, a
    /// crash). A session that ends with any fails the test.
    pub fn garbage_calls(&self) -> Vec<String> {
        self.state.garbage_calls()
    }

    /// Forgets messages and progress, resets the cancel/abort counters and the abort flag.
    pub fn clear_log(&self) {
        self.state.clear_log()
    }

    /// Sets the flag the image effect suite's `abort` reports.
    pub fn set_abort(&self, abort: bool) {
        self.state.set_abort(abort)
    }

    /// Sets (`Some`) or removes (`None`) a host property between actions.
    pub fn set_host_property(&self, name: &CStr, value: Option<Value>) {
        match value {
            Some(value) => self.state.props.set(name, value),
            None => self.state.props.remove(name),
        }
    }

    /// Sends Unload.
    pub fn unload(mut self) -> Result<(), HostError> {
        self.loaded = false;
        let status = self.call(kOfxActionUnload, std::ptr::null(), None, None);
        self.check(kOfxActionUnload, status).map(|_| ())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.loaded {
            self.call(kOfxActionUnload, std::ptr::null(), None, None);
        }
        host::set_current(None);
        let garbage = self.state.garbage_calls();
        if !garbage.is_empty() && !std::thread::panicking() {
            panic!("the plugin called invalid host functions (a real host crashes): {garbage:?}");
        }
    }
}

/// What DescribeInContext defined.
#[derive(Clone, Debug)]
pub struct ContextDescription {
    /// Parameter names in definition order.
    pub params: Vec<String>,
    /// (clip name, clip descriptor properties) in definition order.
    pub clips: Vec<(String, PropertySet)>,
}

impl ContextDescription {
    fn of(effect: &Effect) -> Self {
        ContextDescription {
            params: effect.params.names(),
            clips: effect.clip_list(),
        }
    }
}
