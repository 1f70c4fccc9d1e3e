//! A cache folder on disk, shareable by processes and machines: entries appear atomically (written into a
//! temporary folder inside the root, synced, then renamed), a per-key lock file serialises generation of a
//! key across processes, and a size cap evicts the least recently read entries.
//!
//! Layout of the root:
//! - `CACHEDIR.TAG` ([`crate::marker`]): says the folder is this cache's. It is written when the folder is
//!   first used for writing, if the folder is empty or holds nothing but cache things (an older cache). A
//!   folder holding anything else without the tag is not written to, and nothing in it is ever removed.
//! - `<key>/` entries (see [`crate::entry`]). Eviction and Clear all remove only entries that are provably
//!   ours: a real folder (not a file, not a symlink) named by a key whose `clip.json` has our format and
//!   that key, in a tagged root. Sizes are allocated blocks, never following symlinks.
//! - `.locks/<key>.lock`: empty files locked with `File::lock`; the OS releases a lock when its holder dies,
//!   so a crashed render node never blocks others. `.locks` must be a real folder and lock files regular
//!   files: nothing is created or written through a symlink. Lock files nobody holds are swept (unix; at
//!   eviction and Clear all): the sweeper takes the lock without waiting and unlinks the file (and its
//!   `.holder`) while holding it. So a process that opened the old file and then gets its lock must check
//!   that the path still names the file it locked (same device and inode) — if not, it reopens and tries
//!   again; only a lock on the file the path names counts as holding the key.
//! - `.locks/<key>.holder`: the lock holder's record ([`crate::holder`]: host, pid, start time), rewritten
//!   every [`HEARTBEAT`](holder::HEARTBEAT) while the lock is held. A waiter shows it to its user; if the
//!   record does not change for the takeover time ([`DEFAULT_LOCK_TAKEOVER`]) the holder is stuck (stopped,
//!   wedged node) and the waiter generates the clip itself without the lock, publishing it atomically.
//! - `.latents/<key>.f32`: a clip's final latents ([`crate::latents`]), written to
//!   `.latents/.tmp-<key>-<host>-<pid>-<n>` and renamed; they belong to the clip's entry (cleared, counted
//!   and evicted with it) and an orphan (its clip never published) is evicted by its own age.
//! - `.tmp-<key>-<host>-<pid>-<n>/` entries being written and `.trash-…/` entries being deleted (only
//!   folders with these exact prefixes are ever swept). Since a writer that took over a stuck holder's key
//!   writes without the lock, a `.tmp-` folder is removed only when its writer is provably dead: same host
//!   and its pid has exited, or untouched for [`ABANDONED_WRITE`] (another host's writer).
//!
//! Removal (clear, discarding a corrupt entry) is a rename away, atomic for readers, so it needs no lock.

use crate::clip::Clip;
use crate::entry::{self, Metadata, Provenance, ReadError};
use crate::holder::{self, Heartbeat, Holder};
use crate::latents::{self, Latents, LATENTS, SUFFIX};
use crate::marker::{self, MARKER};
use crate::nofollow;
use crate::recipe::{ClipKey, Recipe};
use std::fs::{self, File, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

const LOCKS: &str = ".locks";
const TMP_PREFIX: &str = ".tmp-";
const TRASH_PREFIX: &str = ".trash-";
/// How often a waiter for another process's lock re-checks it and its abort callback.
const LOCK_POLL: Duration = Duration::from_millis(10);
/// How often a waiter re-reads the holder record.
const HOLDER_POLL: Duration = Duration::from_millis(250);
/// Default time a lock holder may show no heartbeat before a waiter takes over its key (override with
/// `T2V_LOCK_TAKEOVER_SECS` or `ClipCache::set_lock_takeover`).
pub const DEFAULT_LOCK_TAKEOVER: Duration = Duration::from_secs(120);
/// The shortest takeover time: several heartbeats, so a live holder is never taken over.
pub(crate) const MIN_LOCK_TAKEOVER: Duration = Duration::from_secs(2);
/// A `.tmp-` folder whose writer cannot be checked (another host) is abandoned after this long untouched.
pub(crate) const ABANDONED_WRITE: Duration = Duration::from_secs(3600);

pub(crate) struct Store {
    root: PathBuf,
}

/// The right to write a key's entry until dropped: its lock, held with a heartbeat, or a takeover from a
/// holder that showed no sign of life.
pub(crate) struct KeyLock {
    _held: Option<Held>,
}

/// Fields drop in order: the heartbeat stops before the lock file closes (which releases the lock).
struct Held {
    _heartbeat: Heartbeat,
    _file: File,
}

pub(crate) enum LockError {
    Io(io::Error),
    Aborted,
}

/// How a call waits for a key's lock.
pub(crate) struct Waiting<'a> {
    /// Polled while another process holds the lock; `true` gives up.
    pub(crate) should_abort: Option<&'a dyn Fn() -> bool>,
    /// Told when the call starts waiting (who holds the lock) and when it takes over.
    pub(crate) on_wait: Option<&'a dyn Fn(&str)>,
    /// How long the holder record may stay unchanged before the waiter takes over.
    pub(crate) takeover: Duration,
}

/// What a disk folder holds of the cache's: what Clear all would remove and eviction counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Clips (entries that are provably ours).
    pub clips: usize,
    /// Bytes of those entries and of latents, in allocated blocks.
    pub bytes: u64,
}

/// What Clear all did in a disk folder, for the user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClearReport {
    /// Entries removed.
    pub removed: usize,
    /// Entries that could not be removed, each as "name: reason".
    pub failed: Vec<String>,
    /// Why nothing in the folder was touched (it is not this cache's), if so.
    pub refused: Option<String>,
}

impl std::fmt::Display for ClearReport {
    /// "Cleared 12 clips; 1 could not be removed: `<key>`: Permission denied (os error 13)".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(why) = &self.refused {
            return write!(f, "Cleared no clips on disk: {why}");
        }
        let clips = if self.removed == 1 { "clip" } else { "clips" };
        write!(f, "Cleared {} {clips}", self.removed)?;
        if !self.failed.is_empty() {
            write!(
                f,
                "; {} could not be removed: {}",
                self.failed.len(),
                self.failed.join("; ")
            )?;
        }
        Ok(())
    }
}

impl Store {
    /// The folder at `root`; nothing is created until a key is locked.
    pub(crate) fn new(root: &Path) -> Store {
        Store {
            root: root.to_path_buf(),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn entry_dir(&self, key: &ClipKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    /// Reads and verifies an entry and (`touch`) marks it as just used for eviction.
    pub(crate) fn read(&self, key: &ClipKey, touch: bool) -> Result<(Clip, Metadata), ReadError> {
        let dir = self.entry_dir(key);
        let found = entry::read(&dir, key)?;
        if !touch {
            return Ok(found);
        }
        if let Err(e) = nofollow::open_regular(&dir.join(entry::METADATA))
            .and_then(|f| f.set_modified(SystemTime::now()))
        {
            log::debug!("clip cache: cannot record use of {}: {e}", dir.display());
        }
        Ok(found)
    }

    /// Makes sure the cache may write and remove things here: creates the root if missing and tags it if it
    /// holds nothing but cache things. A folder holding anything else without our tag is refused.
    pub(crate) fn claim(&self) -> io::Result<()> {
        if marker::is_marked(&self.root) {
            return Ok(());
        }
        fs::create_dir_all(&self.root)?;
        for item in fs::read_dir(&self.root)? {
            let name = item?.file_name();
            if name == MARKER {
                continue; // another process is tagging it right now: `mark` waits for it
            }
            if fs::symlink_metadata(self.root.join(&name)).is_err() {
                continue; // gone since the listing (another process removed its scratch folder)
            }
            if !name.to_str().is_some_and(|n| self.is_cache_thing(n)) {
                return Err(io::Error::other(format!(
                    "it holds {name:?}, which is not the cache's, and no {MARKER} of this plugin, so the \
                     cache writes and removes nothing there (choose an empty folder)"
                )));
            }
        }
        marker::mark(&self.root)
    }

    /// What a cache folder may hold before it was tagged: `.locks`, entries and scratch folders.
    fn is_cache_thing(&self, name: &str) -> bool {
        let path = self.root.join(name);
        match ClipKey::from_hex(name) {
            Some(key) => entry::is_ours(&path, &key),
            None => {
                let known = name == LOCKS
                    || name == LATENTS
                    || name.starts_with(TMP_PREFIX)
                    || name.starts_with(TRASH_PREFIX);
                known && is_real_dir(&path)
            }
        }
    }

    /// Waits for the key's lock, telling `waiting.on_wait` who holds it; takes over from a holder whose
    /// record has not changed for `waiting.takeover`. Holding it keeps a heartbeat in the holder record.
    pub(crate) fn lock(&self, key: &ClipKey, waiting: &Waiting) -> Result<KeyLock, LockError> {
        self.claim().map_err(LockError::Io)?;
        let mut file = self.lock_file(key).map_err(LockError::Io)?;
        let record_path = self.root.join(LOCKS).join(format!("{key}.holder"));
        let mut watched: Option<(Option<Vec<u8>>, Instant)> = None;
        let mut next_look = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) if !self.names_lock_file(key, &file) => {
                    // A sweeper unlinked the file we opened: lock what the path names now.
                    file = self.lock_file(key).map_err(LockError::Io)?;
                    continue;
                }
                Ok(()) => {
                    let heartbeat = Heartbeat::start(&record_path, Holder::this_process())
                        .map_err(|e| LockError::Io(in_file(&record_path, e)))?;
                    return Ok(KeyLock {
                        _held: Some(Held {
                            _heartbeat: heartbeat,
                            _file: file,
                        }),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(LockError::Io(e)),
                Err(TryLockError::WouldBlock) => {}
            }
            if waiting.should_abort.is_some_and(|abort| abort()) {
                return Err(LockError::Aborted);
            }
            if Instant::now() >= next_look {
                let read = holder::read_record(&record_path);
                let who = holder::describe_record(&read);
                let record = read.ok();
                match &mut watched {
                    None => {
                        notify(
                            waiting,
                            &format!("waiting for another render of this clip ({who})"),
                        );
                        watched = Some((record, Instant::now()));
                    }
                    Some((seen, since)) if *seen != record => {
                        (*seen, *since) = (record, Instant::now())
                    }
                    Some((_, since)) if since.elapsed() >= waiting.takeover => {
                        let text = format!(
                            "another render of this clip ({who}) has shown no sign of life for {} s; \
                             generating it here",
                            waiting.takeover.as_secs()
                        );
                        log::warn!("clip cache: {text} (key {key})");
                        notify(waiting, &text);
                        return Ok(KeyLock { _held: None });
                    }
                    Some(_) => {}
                }
                next_look = Instant::now() + HOLDER_POLL;
            }
            std::thread::sleep(LOCK_POLL);
        }
    }

    /// The key's lock if nobody holds it now (no heartbeat: held only for a moment).
    fn try_lock(&self, key: &ClipKey) -> Option<File> {
        loop {
            let file = self.lock_file(key).ok()?;
            file.try_lock().ok()?;
            if self.names_lock_file(key, &file) {
                return Some(file);
            }
        }
    }

    /// Whether the key's lock path still names `file` (a sweeper may have unlinked it after it was opened).
    fn names_lock_file(&self, key: &ClipKey, file: &File) -> bool {
        let path = self.root.join(LOCKS).join(format!("{key}.lock"));
        match (file.metadata(), fs::symlink_metadata(&path)) {
            (Ok(open), Ok(named)) => nofollow::same_file(&open, &named),
            _ => false,
        }
    }

    /// Removes the lock files (and holder records) of keys nobody holds: each is locked without waiting and
    /// unlinked while locked (see the module docs). Unix only: elsewhere an open file cannot be unlinked.
    pub(crate) fn sweep_locks(&self) {
        if !cfg!(unix) {
            return;
        }
        let locks = self.root.join(LOCKS);
        if !is_real_dir(&locks) {
            return;
        }
        let Ok(read) = fs::read_dir(&locks) else {
            return;
        };
        let keys: Vec<ClipKey> = read
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| ClipKey::from_hex(name.strip_suffix(".lock")?))
            .collect();
        for key in keys {
            let Some(_held) = self.try_lock(&key) else {
                continue;
            };
            for suffix in ["holder", "lock"] {
                let path = locks.join(format!("{key}.{suffix}"));
                match fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        log::warn!("clip cache: cannot remove {}: {e}", path.display())
                    }
                    _ => {}
                }
            }
        }
    }

    /// Opens (creating the lock folder if needed) the key's lock file, never through a symlink.
    fn lock_file(&self, key: &ClipKey) -> io::Result<File> {
        let path = self.own_dir(LOCKS)?.join(format!("{key}.lock"));
        nofollow::open_or_create(&path).map_err(|e| in_file(&path, e))
    }

    /// The root's folder `name` (`.locks`, `.latents`), created if missing; a symlink or file is refused.
    fn own_dir(&self, name: &str) -> io::Result<PathBuf> {
        let dir = self.root.join(name);
        match fs::create_dir(&dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        if !is_real_dir(&dir) {
            return Err(io::Error::other(format!(
                "{} is not a folder (a symlink or file); the cache does not follow it",
                dir.display()
            )));
        }
        Ok(dir)
    }

    pub(crate) fn latents_path(&self, key: &ClipKey) -> PathBuf {
        self.root.join(LATENTS).join(format!("{key}{SUFFIX}"))
    }

    /// Publishes a key's latents file atomically (temporary file in `.latents`, synced, renamed).
    pub(crate) fn write_latents(&self, key: &ClipKey, bytes: &[u8]) -> io::Result<()> {
        self.claim()?;
        let dir = self.own_dir(LATENTS)?;
        let tmp = dir.join(self.scratch_file_name(TMP_PREFIX, key));
        let written = File::create_new(&tmp).and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&tmp, self.latents_path(key))?;
            entry::sync_dir(&dir)
        });
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }

    /// Reads a key's verified latents (at most `limit` values) and marks them as just used.
    pub(crate) fn read_latents(
        &self,
        key: &ClipKey,
        limit: u64,
        touch: bool,
    ) -> Result<Option<Latents>, String> {
        let path = self.latents_path(key);
        if !is_real_dir(&self.root.join(LATENTS)) {
            return Ok(None);
        }
        let found = latents::read(&path, key, limit)?;
        if touch && found.is_some() {
            if let Err(e) =
                nofollow::open_regular(&path).and_then(|f| f.set_modified(SystemTime::now()))
            {
                log::debug!("clip cache: cannot record use of {}: {e}", path.display());
            }
        }
        Ok(found)
    }

    /// Removes a key's latents file if it is ours (a regular file whose header names the key).
    pub(crate) fn discard_latents(&self, key: &ClipKey) -> io::Result<()> {
        let path = self.latents_path(key);
        if !is_real_dir(&self.root.join(LATENTS)) || !latents::is_ours(&path, key) {
            return Ok(());
        }
        self.claim()?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Removes everything the cache keeps for a key: its entry and its latents.
    pub(crate) fn forget(&self, key: &ClipKey) -> io::Result<()> {
        self.discard(key)?;
        self.discard_latents(key)
    }

    /// Publishes an entry atomically; the caller has the key's [`KeyLock`]. On failure nothing is left
    /// behind.
    pub(crate) fn write(
        &self,
        key: &ClipKey,
        recipe: &Recipe,
        clip: &Clip,
        provenance: &Provenance,
    ) -> io::Result<PathBuf> {
        let tmp = self.scratch_name(TMP_PREFIX, key);
        let written = fs::create_dir(&tmp).and_then(|()| {
            entry::write(&tmp, key, recipe, clip, provenance, &|index| {
                hooks::after_frame(&self.root, index)
            })?;
            let target = self.entry_dir(key);
            if target.exists() {
                self.discard(key)?;
            }
            fs::rename(&tmp, &target)?;
            entry::sync_dir(&self.root)?;
            Ok(target)
        });
        if written.is_err() && tmp.exists() {
            if let Err(e) = fs::remove_dir_all(&tmp) {
                log::warn!(
                    "clip cache: cannot remove unfinished entry {}: {e}",
                    tmp.display()
                );
            }
        }
        written
    }

    /// Removes a key's entry: renamed away first so readers never see it half-deleted. Only a real folder
    /// in a folder the cache may write to is removed.
    pub(crate) fn discard(&self, key: &ClipKey) -> io::Result<()> {
        let dir = self.entry_dir(key);
        match fs::symlink_metadata(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
            Ok(m) if !m.is_dir() => {
                return Err(io::Error::other(
                    "not a cache entry (not a folder); left alone",
                ))
            }
            Ok(_) => {}
        }
        self.claim()?;
        hooks::before_remove(&self.root, key)?;
        let trash = self.scratch_name(TRASH_PREFIX, key);
        match fs::rename(&dir, &trash) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
            Ok(()) => fs::remove_dir_all(&trash),
        }
    }

    /// Removes folders left by writers of `key` that are provably dead (see the module docs).
    pub(crate) fn remove_dead_writes(&self, key: &ClipKey) {
        let prefix = format!("{TMP_PREFIX}{key}-");
        for name in self.names() {
            if name.starts_with(&prefix) {
                self.sweep_write(&name);
            }
        }
    }

    /// Removes the `.tmp-` folder `name` if its writer is provably dead.
    fn sweep_write(&self, name: &str) {
        let path = self.root.join(name);
        let Ok(metadata) = fs::symlink_metadata(&path) else {
            return;
        };
        if metadata.is_dir() && writer_is_gone(name, &metadata) {
            log::info!("clip cache: removing unfinished entry {name} of a writer that died");
            remove_logged(&path);
        }
    }

    /// Removes `.latents/.tmp-` files of dead writers.
    fn sweep_latents_writes(&self) {
        let dir = self.root.join(LATENTS);
        if !is_real_dir(&dir) {
            return;
        }
        for name in names_in(&dir) {
            let path = dir.join(&name);
            let Ok(metadata) = fs::symlink_metadata(&path) else {
                continue;
            };
            if name.starts_with(TMP_PREFIX)
                && metadata.is_file()
                && writer_is_gone(&name, &metadata)
            {
                log::info!("clip cache: removing unfinished latents {name} of a writer that died");
                if let Err(e) = fs::remove_file(&path) {
                    log::warn!("clip cache: cannot remove {}: {e}", path.display());
                }
            }
        }
    }

    /// What the cache keeps here, per key: entries that are ours with their latents, and orphan latents.
    /// Each item's time is when it was last used (its `clip.json`'s, else its latents file's, mtime).
    fn inventory(&self) -> Vec<Kept> {
        let mut kept: Vec<Kept> = Vec::new();
        for name in self.names() {
            let path = self.root.join(&name);
            if let Some(key) = ClipKey::from_hex(&name).filter(|key| entry::is_ours(&path, key)) {
                let used = fs::symlink_metadata(path.join(entry::METADATA))
                    .and_then(|m| m.modified())
                    .ok();
                kept.push(Kept {
                    used,
                    key,
                    bytes: entry_usage(&path),
                    clip: true,
                });
            }
        }
        let dir = self.root.join(LATENTS);
        if !is_real_dir(&dir) {
            return kept;
        }
        for name in names_in(&dir) {
            let Some(key) = name.strip_suffix(SUFFIX).and_then(ClipKey::from_hex) else {
                continue;
            };
            let path = dir.join(&name);
            let Ok(metadata) = fs::symlink_metadata(&path) else {
                continue;
            };
            if !metadata.is_file() || !latents::is_ours(&path, &key) {
                continue;
            }
            let bytes = nofollow::disk_usage(&metadata);
            match kept.iter_mut().find(|k| k.key == key) {
                Some(entry) => entry.bytes += bytes,
                None => kept.push(Kept {
                    used: metadata.modified().ok(),
                    key,
                    bytes,
                    clip: false,
                }),
            }
        }
        kept
    }

    /// Clips (entries that are ours) and bytes (with latents, allocated blocks) the cache keeps here.
    pub(crate) fn usage(&self) -> io::Result<Usage> {
        match fs::symlink_metadata(&self.root) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Usage::default()),
            other => other?,
        };
        fs::read_dir(&self.root)?;
        let kept = self.inventory();
        Ok(Usage {
            clips: kept.iter().filter(|k| k.clip).count(),
            bytes: kept.iter().map(|k| k.bytes).sum(),
        })
    }

    /// Removes every entry (with its latents) and orphan latents that are provably ours, going on past
    /// failures, and sweeps dead leftovers and unheld lock files. A folder that is not the cache's is left
    /// alone (the report says why).
    pub(crate) fn clear_all(&self) -> io::Result<ClearReport> {
        let mut report = ClearReport::default();
        match fs::symlink_metadata(&self.root) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(report),
            other => other?,
        };
        if let Err(e) = self.claim() {
            log::warn!("clip cache: not clearing {}: {e}", self.root.display());
            report.refused = Some(format!("{}: {e}", self.root.display()));
            return Ok(report);
        }
        for kept in self.inventory() {
            match self.forget(&kept.key) {
                Ok(()) if kept.clip => report.removed += 1,
                Ok(()) => {}
                Err(e) => report.failed.push(format!("{}: {e}", kept.key)),
            }
        }
        self.sweep();
        for failure in &report.failed {
            log::warn!("clip cache: cannot clear {failure}");
        }
        Ok(report)
    }

    /// Deletes least recently used clips (with their latents) and orphan latents until the folder's total
    /// is at most `cap` bytes, never `keep` (the key just written) nor a key another process holds;
    /// failures are logged and skipped. Also sweeps leftovers of dead writers and deleters and unheld lock
    /// files. Only in a tagged folder, and only called after this process wrote there.
    pub(crate) fn evict_to(&self, cap: u64, keep: &ClipKey) {
        if !marker::is_marked(&self.root) {
            log::warn!(
                "clip cache: not evicting in {}: it has no {MARKER} of this plugin",
                self.root.display()
            );
            return;
        }
        self.sweep();
        let mut kept = self.inventory();
        let mut total: u64 = kept.iter().map(|k| k.bytes).sum();
        kept.sort_by(|a, b| (a.used, &a.key).cmp(&(b.used, &b.key)));
        for Kept { key, bytes, .. } in kept {
            if total <= cap {
                break;
            }
            if &key == keep {
                continue;
            }
            let Some(_lock) = self.try_lock(&key) else {
                continue;
            };
            match self.forget(&key) {
                Ok(()) => {
                    log::info!(
                        "clip cache: evicted {key} ({bytes} bytes) to stay under {cap} bytes"
                    );
                    total -= bytes;
                }
                Err(e) => log::warn!("clip cache: cannot evict {key}: {e}"),
            }
        }
    }

    /// Removes leftovers nobody uses any more: scratch folders and files of dead writers and deleters, and
    /// lock files nobody holds.
    fn sweep(&self) {
        for name in self.names() {
            self.sweep_leftover(&name);
        }
        self.sweep_latents_writes();
        self.sweep_locks();
    }

    /// Removes `name` if it is a scratch folder nobody uses any more: a `.trash-` folder (a deleter died or
    /// failed) or a `.tmp-` folder of a dead writer. Anything else is left alone.
    fn sweep_leftover(&self, name: &str) {
        let path = self.root.join(name);
        if name.starts_with(TRASH_PREFIX) && is_real_dir(&path) {
            remove_logged(&path);
        } else if name.starts_with(TMP_PREFIX) {
            self.sweep_write(name);
        }
    }

    /// The root's names that are text (the cache's own names all are).
    fn names(&self) -> Vec<String> {
        names_in(&self.root)
    }

    /// A fresh name in the root, unique across machines (host), processes (pid) and calls (counter).
    fn scratch_name(&self, prefix: &str, key: &ClipKey) -> PathBuf {
        self.root.join(self.scratch_file_name(prefix, key))
    }

    fn scratch_file_name(&self, prefix: &str, key: &ClipKey) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!(
            "{prefix}{key}-{}-{}-{n}",
            holder::host_name(),
            std::process::id()
        )
    }
}

/// One key's things in the folder, as eviction and usage count them.
struct Kept {
    used: Option<SystemTime>,
    key: ClipKey,
    bytes: u64,
    /// It has an entry (else only orphan latents).
    clip: bool,
}

/// The names in `dir` that are text (the cache's own names all are).
fn names_in(dir: &Path) -> Vec<String> {
    let Ok(read) = fs::read_dir(dir) else {
        return Vec::new();
    };
    read.filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect()
}

/// Whether the writer of the scratch item `name` (`<prefix><key>-<host>-<pid>-<n>`) is provably dead:
/// same host and its pid has exited, or the item is untouched for [`ABANDONED_WRITE`] (another host's).
fn writer_is_gone(name: &str, metadata: &fs::Metadata) -> bool {
    let writer = name.get(TMP_PREFIX.len() + 65..).and_then(|rest| {
        let mut parts = rest.rsplitn(3, '-');
        let (_n, pid, host) = (parts.next()?, parts.next()?, parts.next()?);
        Some((host, pid.parse::<u32>().ok()?))
    });
    let dead = match writer {
        Some((host, pid)) if host == holder::host_name() => holder::process_is_gone(pid),
        _ => false,
    };
    let abandoned = metadata
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age > ABANDONED_WRITE);
    dead || abandoned
}

fn notify(waiting: &Waiting, text: &str) {
    if let Some(on_wait) = waiting.on_wait {
        on_wait(text);
    }
}

/// A folder itself, not a symlink to one.
fn is_real_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// An error that names the file it is about.
fn in_file(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Bytes an entry folder occupies: the folder and the files in it (entries are flat), never following
/// symlinks, counted in allocated blocks.
pub(crate) fn entry_usage(dir: &Path) -> u64 {
    let own = fs::symlink_metadata(dir).map_or(0, |m| nofollow::disk_usage(&m));
    let Ok(read) = fs::read_dir(dir) else {
        return own;
    };
    own + read
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| nofollow::disk_usage(&m))
        .sum::<u64>()
}

fn remove_logged(path: &Path) {
    if let Err(e) = fs::remove_dir_all(path) {
        log::warn!("clip cache: cannot remove {}: {e}", path.display());
    }
}

/// Test seam: lets tests fail or freeze a write after a given frame, or fail removing an entry, per root.
#[cfg(not(test))]
mod hooks {
    pub(super) fn after_frame(_root: &std::path::Path, _index: usize) -> std::io::Result<()> {
        Ok(())
    }

    pub(super) fn before_remove(
        _root: &std::path::Path,
        _key: &crate::ClipKey,
    ) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod hooks {
    use crate::ClipKey;
    use parking_lot::Mutex;
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    type Hook = Arc<dyn Fn(usize) -> std::io::Result<()> + Send + Sync>;
    static HOOKS: Mutex<Option<HashMap<PathBuf, Hook>>> = Mutex::new(None);

    /// Runs `hook` after each frame file written under `root`.
    pub(crate) fn set(
        root: &Path,
        hook: impl Fn(usize) -> std::io::Result<()> + Send + Sync + 'static,
    ) {
        HOOKS
            .lock()
            .get_or_insert_with(HashMap::new)
            .insert(root.to_path_buf(), Arc::new(hook));
    }

    pub(super) fn after_frame(root: &Path, index: usize) -> std::io::Result<()> {
        let hook = HOOKS.lock().as_ref().and_then(|h| h.get(root).cloned());
        hook.map_or(Ok(()), |hook| hook(index))
    }

    type RemoveHook = Arc<dyn Fn(&ClipKey) -> std::io::Result<()> + Send + Sync>;
    static REMOVE_HOOKS: Mutex<Option<HashMap<PathBuf, RemoveHook>>> = Mutex::new(None);

    /// Runs `hook` before each entry under `root` is removed; an error stands for a failed removal.
    pub(crate) fn set_before_remove(
        root: &Path,
        hook: impl Fn(&ClipKey) -> std::io::Result<()> + Send + Sync + 'static,
    ) {
        REMOVE_HOOKS
            .lock()
            .get_or_insert_with(HashMap::new)
            .insert(root.to_path_buf(), Arc::new(hook));
    }

    pub(super) fn before_remove(root: &Path, key: &ClipKey) -> std::io::Result<()> {
        let hook = REMOVE_HOOKS
            .lock()
            .as_ref()
            .and_then(|h| h.get(root).cloned());
        hook.map_or(Ok(()), |hook| hook(key))
    }
}
