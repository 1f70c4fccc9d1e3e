//! A cache folder on disk, shareable by processes and machines: entries appear atomically (written into a
//! temporary folder inside the root, synced, then renamed), a per-key lock file serialises generation of a
//! key across processes, and a size cap evicts the least recently read entries.
//!
//! Layout of the root: `<key>/` entries (see [`crate::entry`]), `.locks/<key>.lock` (empty files locked with
//! `File::lock`; the OS releases a lock when its holder dies, so a crashed render node never blocks others;
//! the files are never deleted, which would let two processes lock different inodes of one name),
//! `.tmp-<key>-…` entries being written and `.trash-…` entries being deleted. Only a holder of a key's lock
//! writes that key's entry, so a `.tmp-<key>-…` seen by a lock holder is a dead writer's. Removal (clear,
//! discarding a corrupt entry) is a rename away, atomic for readers, so it needs no lock.

use crate::clip::Clip;
use crate::entry::{self, Metadata, Provenance, ReadError};
use crate::recipe::{ClipKey, Recipe};
use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

const LOCKS: &str = ".locks";
const TMP_PREFIX: &str = ".tmp-";
const TRASH_PREFIX: &str = ".trash-";
/// How often a waiter for another process's lock re-checks it and its abort callback.
const LOCK_POLL: Duration = Duration::from_millis(10);

pub(crate) struct Store {
    root: PathBuf,
}

/// Holds a key's cross-process lock until dropped.
pub(crate) struct KeyLock {
    _file: File,
}

pub(crate) enum LockError {
    Io(io::Error),
    Aborted,
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

    /// Reads and verifies an entry and marks it as just used for eviction.
    pub(crate) fn read(&self, key: &ClipKey) -> Result<(Clip, Metadata), ReadError> {
        let dir = self.entry_dir(key);
        let found = entry::read(&dir, key)?;
        if let Err(e) =
            File::open(dir.join(entry::METADATA)).and_then(|f| f.set_modified(SystemTime::now()))
        {
            log::debug!("clip cache: cannot record use of {}: {e}", dir.display());
        }
        Ok(found)
    }

    /// Waits for the key's lock; `should_abort` (polled while another process holds it) gives up.
    pub(crate) fn lock(
        &self,
        key: &ClipKey,
        should_abort: Option<&dyn Fn() -> bool>,
    ) -> Result<KeyLock, LockError> {
        let file = self.lock_file(key).map_err(LockError::Io)?;
        let Some(should_abort) = should_abort else {
            file.lock().map_err(LockError::Io)?;
            return Ok(KeyLock { _file: file });
        };
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(KeyLock { _file: file }),
                Err(TryLockError::Error(e)) => return Err(LockError::Io(e)),
                Err(TryLockError::WouldBlock) if should_abort() => return Err(LockError::Aborted),
                Err(TryLockError::WouldBlock) => std::thread::sleep(LOCK_POLL),
            }
        }
    }

    fn try_lock(&self, key: &ClipKey) -> Option<KeyLock> {
        let file = self.lock_file(key).ok()?;
        file.try_lock().ok()?;
        Some(KeyLock { _file: file })
    }

    /// Opens (creating the root and lock folder if needed) the key's lock file.
    fn lock_file(&self, key: &ClipKey) -> io::Result<File> {
        fs::create_dir_all(self.root.join(LOCKS))?;
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join(LOCKS).join(format!("{key}.lock")))
    }

    /// Publishes an entry atomically; the caller holds the key's lock. On failure nothing is left behind.
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
            File::open(&self.root)?.sync_all()?;
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

    /// Removes a key's entry: renamed away first so readers never see it half-deleted.
    pub(crate) fn discard(&self, key: &ClipKey) -> io::Result<()> {
        let trash = self.scratch_name(TRASH_PREFIX, key);
        match fs::rename(self.entry_dir(key), &trash) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
            Ok(()) => fs::remove_dir_all(&trash),
        }
    }

    /// Removes folders left by writers of `key` that died; the caller holds the key's lock.
    pub(crate) fn remove_dead_writes(&self, key: &ClipKey) {
        let prefix = format!("{TMP_PREFIX}{key}-");
        for name in self.names() {
            if name.starts_with(&prefix) {
                log::info!("clip cache: removing unfinished entry {name} of a writer that died");
                remove_logged(&self.root.join(name));
            }
        }
    }

    /// Removes every entry (entries being written by other processes appear afterwards).
    pub(crate) fn clear_all(&self) -> io::Result<()> {
        for name in self.names() {
            if let Some(key) = ClipKey::from_hex(&name) {
                self.discard(&key)?;
            }
        }
        Ok(())
    }

    /// Deletes least recently read entries until the folder's entries total at most `cap` bytes, never
    /// `keep` (the entry just written) nor an entry whose key another process holds. Also sweeps leftovers
    /// of dead writers and deleters.
    pub(crate) fn evict_to(&self, cap: u64, keep: &ClipKey) {
        let mut entries = Vec::new();
        let mut total = 0;
        for name in self.names() {
            let path = self.root.join(&name);
            if let Some(key) = ClipKey::from_hex(&name) {
                let size = folder_size(&path);
                total += size;
                let used = fs::metadata(path.join(entry::METADATA))
                    .and_then(|m| m.modified())
                    .ok();
                entries.push((used, key, size));
            } else if name.starts_with(TRASH_PREFIX) {
                remove_logged(&path);
            } else if let Some(key) = name
                .strip_prefix(TMP_PREFIX)
                .and_then(|rest| ClipKey::from_hex(rest.get(..64)?))
            {
                if let Some(_lock) = self.try_lock(&key) {
                    self.remove_dead_writes(&key);
                }
            }
        }
        entries.sort();
        for (_, key, size) in entries {
            if total <= cap {
                break;
            }
            if &key == keep {
                continue;
            }
            let Some(_lock) = self.try_lock(&key) else {
                continue;
            };
            match self.discard(&key) {
                Ok(()) => {
                    log::info!(
                        "clip cache: evicted {key} ({size} bytes) to stay under {cap} bytes"
                    );
                    total -= size;
                }
                Err(e) => log::warn!("clip cache: cannot evict {key}: {e}"),
            }
        }
    }

    fn names(&self) -> Vec<String> {
        let Ok(read) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        read.filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect()
    }

    /// A fresh name in the root, unique across processes (pid) and calls (counter).
    fn scratch_name(&self, prefix: &str, key: &ClipKey) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        self.root
            .join(format!("{prefix}{key}-{}-{n}", std::process::id()))
    }
}

fn folder_size(dir: &Path) -> u64 {
    let Ok(read) = fs::read_dir(dir) else {
        return 0;
    };
    read.filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum()
}

fn remove_logged(path: &Path) {
    if let Err(e) = fs::remove_dir_all(path) {
        log::warn!("clip cache: cannot remove {}: {e}", path.display());
    }
}

/// Test seam: lets tests fail or freeze a write after a given frame, per cache root.
#[cfg(not(test))]
mod hooks {
    pub(super) fn after_frame(_root: &std::path::Path, _index: usize) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod hooks {
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
}
