//! The plugin's log: every `log::` line of the plugin, the engine, the cache and ONNX Runtime, written
//! to size-rotated files in a per-user folder, and a panic hook that records each panic there before
//! the entry points' guard turns it into a failure status.
//!
//! Folder: `T2V_LOG_DIR` when set and non-empty, else [`dirs::data_local_dir`]`/TextToVideo/logs`
//! (`~/.local/share/TextToVideo/logs` on Linux, `~/Library/Application Support/TextToVideo/logs` on
//! macOS, `%LOCALAPPDATA%\TextToVideo\logs` on Windows). The current file is
//! `text-to-video_rCURRENT.log`; at [`ROTATE_BYTES`] it becomes `text-to-video_r00000.log`… and only
//! the newest [`KEEP_FILES`] old ones are kept. Processes sharing the folder append to the same file;
//! each line names its process. Level: `T2V_LOG` (`info` by default; `debug`, `warn`, or per module:
//! `info,t2v_engine=debug,onnxruntime=warn`).

use std::path::PathBuf;
use std::sync::OnceLock;

use flexi_logger::{
    Cleanup, Criterion, DeferredNow, FileSpec, LogSpecification, Logger, LoggerHandle, Naming,
};

/// Size at which the current file is rotated.
pub const ROTATE_BYTES: u64 = 10 << 20;
/// Old files kept besides the current one.
pub const KEEP_FILES: usize = 4;
const DEFAULT_LEVEL: log::LevelFilter = log::LevelFilter::Info;

/// Where log files go: see the module doc. `None` when the platform has no per-user data folder.
pub fn log_folder() -> Option<PathBuf> {
    match std::env::var_os("T2V_LOG_DIR") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => dirs::data_local_dir().map(|d| d.join("TextToVideo").join("logs")),
    }
}

/// Installs the logger and the panic hook, once per process (later calls do nothing). Never fails: when
/// the folder cannot be used the log goes to stderr, and when the process already has a logger (a Rust
/// program linking the plugin) lines go to that one and its panic hook is left alone; either is said
/// once, in the log itself.
pub fn install() {
    static HANDLE: OnceLock<Option<LoggerHandle>> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = start();
        if handle.is_some() {
            std::panic::set_hook(Box::new(record_panic));
        }
        handle
    });
}

fn start() -> Option<LoggerHandle> {
    let (spec, bad_spec) = level();
    let previous_level = log::max_level();
    let to_file =
        log_folder().ok_or_else(|| "this platform has no per-user data folder".to_owned());
    let built = to_file.and_then(|dir| {
        let files = FileSpec::default()
            .directory(&dir)
            .basename("text-to-video")
            .suppress_timestamp();
        Logger::with(spec.clone())
            .log_to_file(files)
            .append()
            .rotate(
                Criterion::Size(ROTATE_BYTES),
                Naming::Numbers,
                Cleanup::KeepLogFiles(KEEP_FILES),
            )
            .format_for_files(line)
            .panic_if_error_channel_is_broken(false)
            .build()
            .map(|built| (built, None))
            .map_err(|e| format!("cannot write log files in {}: {e}", dir.display()))
    });
    let ((logger, handle), fallback) = match built {
        Ok(built) => built,
        Err(why) => {
            let stderr = Logger::with(spec)
                .log_to_stderr()
                .format_for_stderr(line)
                .panic_if_error_channel_is_broken(false)
                .build()
                .ok()?;
            (stderr, Some(why))
        }
    };
    if log::set_boxed_logger(logger).is_err() {
        log::set_max_level(previous_level);
        log::info!("Text to Video: this process already has a logger; logging through it");
        return None;
    }
    if let Some(why) = fallback {
        log::warn!("Text to Video: {why}; logging to stderr");
    }
    if let Some(bad) = bad_spec {
        log::warn!("Text to Video: T2V_LOG={bad:?} is not a log level; using {DEFAULT_LEVEL}");
    }
    log::info!(
        "Text to Video {} loaded (log level {})",
        env!("CARGO_PKG_VERSION"),
        log::max_level()
    );
    Some(handle)
}

/// The level from `T2V_LOG`, and the rejected text when it does not parse.
fn level() -> (LogSpecification, Option<String>) {
    let default = || LogSpecification::from(DEFAULT_LEVEL);
    match std::env::var("T2V_LOG") {
        Ok(text) if !text.trim().is_empty() => match LogSpecification::parse(&text) {
            Ok(spec) => (spec, None),
            Err(_) => (default(), Some(text)),
        },
        _ => (default(), None),
    }
}

/// `[2026-12-01 20:58:00.123 +00:00] pid 4242 INFO [t2v_engine::runtime] message`.
fn line(
    w: &mut dyn std::io::Write,
    now: &mut DeferredNow,
    record: &log::Record,
) -> std::io::Result<()> {
    write!(
        w,
        "[{}] pid {} {} [{}] {}",
        now.format("%Y-%m-%d %H:%M:%S%.3f %:z"),
        std::process::id(),
        record.level(),
        record.target(),
        record.args()
    )
}

/// The panic hook: the message, where it happened and (when `RUST_BACKTRACE` asks for one) the
/// backtrace, as an error line. It replaces the default hook rather than chaining to it: the plugin
/// links its own copy of the standard library, so the previous hook is that copy's default, which only
/// prints to the host's stderr what the log now has.
fn record_panic(info: &std::panic::PanicHookInfo) {
    let message = t2v_engine::panic_message(info.payload());
    let place = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    let backtrace = std::backtrace::Backtrace::capture();
    let backtrace = match backtrace.status() {
        std::backtrace::BacktraceStatus::Captured => format!("\n{backtrace}"),
        _ => String::new(),
    };
    log::error!("Text to Video: panicked{place}: {message}{backtrace}");
}
