//! Who is generating a clip: the holder record a lock holder keeps in `.locks/<key>.holder` (host, pid,
//! start time, and a heartbeat counter it rewrites every [`HEARTBEAT`] from a background thread while it
//! holds the lock), and the text a waiting render shows its user.

use crate::nofollow;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// How often a lock holder rewrites its record. A waiter that sees no change for the takeover time (many
/// heartbeats) decides the holder is stuck.
pub(crate) const HEARTBEAT: Duration = Duration::from_millis(500);
/// Largest holder record a waiter reads; real ones are about 100 bytes.
const RECORD_LIMIT: u64 = 4096;

/// One process generating a clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Holder {
    pub(crate) host: String,
    pub(crate) pid: u32,
    pub(crate) started_unix_ms: u64,
    /// Rewritten with a new value every heartbeat.
    #[serde(default)]
    pub(crate) beat: u64,
}

impl Holder {
    /// This process, starting now.
    pub(crate) fn this_process() -> Holder {
        Holder {
            host: host_name().to_owned(),
            pid: std::process::id(),
            started_unix_ms: unix_ms(SystemTime::now()),
            beat: 0,
        }
    }

    /// "host render07, pid 4242, started 21:03:11 UTC".
    pub(crate) fn describe(&self) -> String {
        let secs = self.started_unix_ms / 1000 % 86_400;
        format!(
            "host {}, pid {}, started {:02}:{:02}:{:02} UTC",
            self.host,
            self.pid,
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

/// The raw bytes of the holder record at `path` (a heartbeat is any change), or why there is none.
pub(crate) fn read_record(path: &Path) -> io::Result<Vec<u8>> {
    nofollow::read_bounded(path, RECORD_LIMIT)
}

/// What a waiter tells its user about the holder whose record is `record`.
pub(crate) fn describe_record(record: &io::Result<Vec<u8>>) -> String {
    match record
        .as_ref()
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Holder>(bytes).ok())
    {
        Some(holder) => holder.describe(),
        None => "holder not recorded".into(),
    }
}

/// Keeps a holder record fresh until dropped: writes it now, then again every [`HEARTBEAT`] from a thread;
/// empties it when dropped (while the lock is still held), so nobody is named for a lock held only briefly.
pub(crate) struct Heartbeat {
    file: Arc<File>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    /// Writes `holder` to `path` (created inside its folder, never through a symlink) and starts beating.
    pub(crate) fn start(path: &Path, mut holder: Holder) -> io::Result<Heartbeat> {
        let file = Arc::new(nofollow::open_or_create(path)?);
        write_record(&file, &holder)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let beating = file.clone();
        let thread = std::thread::Builder::new()
            .name("clip-cache heartbeat".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(HEARTBEAT) {
                    holder.beat += 1;
                    if let Err(e) = write_record(&beating, &holder) {
                        log::warn!("clip cache: cannot refresh the lock holder record: {e}");
                    }
                }
            })?;
        Ok(Heartbeat {
            file,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        drop(self.stop.take()); // wakes the thread at once
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Err(e) = self.file.set_len(0) {
            log::debug!("clip cache: cannot empty the lock holder record: {e}");
        }
    }
}

/// Rewrites the record in place. Every record of one holder has the same length up to the counter's
/// digits, so a reader sees either a whole record or one that fails to parse (and still counts as a beat).
fn write_record(mut file: &File, holder: &Holder) -> io::Result<()> {
    let bytes = serde_json::to_vec(holder).map_err(io::Error::other)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&bytes)?;
    file.set_len(bytes.len() as u64)
}

/// This machine's name as other render nodes would report it, restricted to characters safe in a file name.
pub(crate) fn host_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let name: String = raw_host_name()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .take(64)
            .collect();
        if name.is_empty() {
            "unknown".into()
        } else {
            name
        }
    })
}

#[cfg(unix)]
fn raw_host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(not(unix))]
fn raw_host_name() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_default()
}

/// Whether process `pid` of this host has certainly exited (where that cannot be told: `false`).
pub(crate) fn process_is_gone(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists; nothing is sent.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        !alive && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        false
    }
}

pub(crate) fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_holder_in_utc() {
        let holder = Holder {
            host: "render07".into(),
            pid: 4242,
            // 2026-12-01 21:03:11.500 UTC
            started_unix_ms: 1_796_158_991_500,
            beat: 3,
        };
        assert_eq!(
            holder.describe(),
            "host render07, pid 4242, started 21:03:11 UTC"
        );
        let record = Ok(serde_json::to_vec(&holder).unwrap());
        assert_eq!(describe_record(&record), holder.describe());
        assert_eq!(describe_record(&Ok(b"{".to_vec())), "holder not recorded");
    }

    #[test]
    fn the_heartbeat_rewrites_the_record_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.holder");
        let beat = Heartbeat::start(&path, Holder::this_process()).unwrap();
        let first = read_record(&path).unwrap();
        let parsed: Holder = serde_json::from_slice(&first).unwrap();
        assert_eq!(
            (parsed.pid, parsed.beat, parsed.host.as_str()),
            (std::process::id(), 0, host_name())
        );
        while read_record(&path).unwrap() == first {
            std::thread::sleep(HEARTBEAT / 10);
        }
        drop(beat);
        assert_eq!(read_record(&path).unwrap(), b"");
        std::thread::sleep(HEARTBEAT * 2);
        assert_eq!(read_record(&path).unwrap(), b"", "no beat after the drop");
    }

    #[cfg(unix)]
    #[test]
    fn a_dead_child_is_gone_and_this_process_is_not() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(process_is_gone(pid));
        assert!(!process_is_gone(std::process::id()));
    }
}
