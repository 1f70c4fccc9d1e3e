//! The process-wide cache: memory tier, disk tier and single flight put together.

use crate::clip::Clip;
use crate::entry::{MadeBy, Provenance, ReadError};
use crate::latents::{self, Latents};
use crate::memory::Lru;
use crate::recipe::{ClipKey, Recipe};
use crate::store::{
    ClearReport, KeyLock, LockError, Store, Usage, Waiting, DEFAULT_LOCK_TAKEOVER,
    MIN_LOCK_TAKEOVER,
};
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Default memory budget: 2 GiB (override with `T2V_CACHE_MEMORY_MB` or [`ClipCache::set_memory_budget`]).
pub const DEFAULT_MEMORY_BUDGET: usize = 2 << 30;
/// Default size cap of a disk cache folder: 20 GiB (see [`disk_cap`]).
pub const DEFAULT_DISK_CAP: u64 = 20 << 30;
/// Memory budget for kept latents (apart from clips): 256 MiB.
pub const LATENTS_MEMORY_BUDGET: usize = 256 << 20;
/// Bytes in the "GB" of `T2V_CACHE_MAX_GB` and the plugin's Cache Limit: 2³⁰.
const GB: f64 = (1u64 << 30) as f64;

/// The size cap of disk folders: `limit_gb` (the plugin's Cache Limit parameter) if it is above 0, else
/// `T2V_CACHE_MAX_GB` when set to a number above 0 (anything else is logged and ignored), else
/// [`DEFAULT_DISK_CAP`].
pub fn disk_cap(limit_gb: f64) -> u64 {
    if limit_gb.is_finite() && limit_gb > 0.0 {
        return (limit_gb * GB) as u64;
    }
    let Ok(text) = std::env::var("T2V_CACHE_MAX_GB") else {
        return DEFAULT_DISK_CAP;
    };
    match text.trim().parse::<f64>() {
        Ok(gb) if gb.is_finite() && gb > 0.0 => (gb * GB) as u64,
        _ => {
            log::warn!(
                "clip cache: T2V_CACHE_MAX_GB={text:?} is not a number of GB above 0; using the default"
            );
            DEFAULT_DISK_CAP
        }
    }
}

/// Whether `T2V_CACHE_READ_ONLY` makes this process read-only on disk: `1`/`true`/`yes` do, unset, empty,
/// `0`/`false`/`no` do not; any other value is logged and taken as read-only (the safe reading: a review
/// machine that mistyped it must still not evict).
fn read_only_from_env() -> bool {
    let Ok(text) = std::env::var("T2V_CACHE_READ_ONLY") else {
        return false;
    };
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" => false,
        "1" | "true" | "yes" => true,
        _ => {
            log::warn!("clip cache: T2V_CACHE_READ_ONLY={text:?} is not 1 or 0; reading it as 1 (read-only)");
            true
        }
    }
}

/// Why a read-only process changes nothing on disk, for the user.
const READ_ONLY: &str =
    "this process only reads the cache folder (T2V_CACHE_READ_ONLY): it writes and removes nothing there";
/// How often a thread waiting for another thread's generation polls its abort callback.
const ABORT_POLL: Duration = Duration::from_millis(20);

/// The default folder under `dirs::cache_dir()`. On Windows that is `%LOCALAPPDATA%`, which also holds
/// the plugin's `TextToVideo\models` and `TextToVideo\logs`: the clips get a folder of their own there
/// (the cache claims only a folder holding nothing but its own things).
#[cfg(not(windows))]
const DEFAULT_FOLDER: &str = "TextToVideo";
#[cfg(windows)]
const DEFAULT_FOLDER: &str = r"TextToVideo\Cache";

/// The disk folder to use: `folder` (the plugin's Cache folder parameter) when given and non-empty, else
/// `T2V_CACHE_DIR` when set and non-empty, else `dirs::cache_dir()/TextToVideo` (`TextToVideo\Cache` on
/// Windows); `None` (memory only) when the platform has no cache directory.
pub fn cache_folder(folder: Option<&Path>) -> Option<PathBuf> {
    if let Some(folder) = folder.filter(|f| !f.as_os_str().is_empty()) {
        return Some(folder.to_path_buf());
    }
    match std::env::var_os("T2V_CACHE_DIR") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => dirs::cache_dir().map(|d| d.join(DEFAULT_FOLDER)),
    }
}

/// Per-call settings of [`ClipCache::get_or_generate`].
#[derive(Clone, Copy, Default)]
pub struct Options<'a> {
    /// Disk folder override (see [`cache_folder`]).
    pub folder: Option<&'a Path>,
    /// Recorded in the entry's `clip.json`.
    pub plugin_version: &'a str,
    /// Polled while waiting for another thread or process to finish this clip; `true` gives up with
    /// [`GetError::Aborted`] (the other generation goes on).
    pub should_abort: Option<&'a dyn Fn() -> bool>,
    /// Told, in words for the user, when the call starts waiting for another process generating this clip
    /// (the one holding its lock: "waiting for another render of this clip (host render07, pid 4242,
    /// started 21:03:11 UTC)"), and when it stops waiting for a holder that showed no sign of life for the
    /// takeover time and generates the clip itself. Not for another thread of this process: that one
    /// shows its own progress.
    pub on_wait: Option<&'a dyn Fn(&str)>,
}

/// What a generate callback returns: the clip and what made it (recorded in its `clip.json`). A bare
/// [`Clip`] converts into one that says nothing about its maker.
#[derive(Debug)]
pub struct Generated {
    pub clip: Clip,
    pub made_by: MadeBy,
}

impl From<Clip> for Generated {
    fn from(clip: Clip) -> Self {
        Generated {
            clip,
            made_by: MadeBy::default(),
        }
    }
}

/// Where a clip came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Already in this process's memory.
    Memory,
    /// Read and verified from the disk folder.
    Disk,
    /// Generated by this call.
    Generated,
    /// Generated or loaded by another thread of this process while this call waited for it.
    Shared,
}

/// A clip the cache serves, and how it got it (for the plugin's status line).
#[derive(Clone, Debug)]
pub struct Fetched {
    pub clip: Arc<Clip>,
    pub key: ClipKey,
    pub source: Source,
    /// The disk entry holding the clip, if it has one.
    pub location: Option<PathBuf>,
    /// How long the generation took (measured here or read from the entry's metadata).
    pub generation_seconds: f64,
    /// Why the clip could not be stored on disk (folder unwritable, disk full…); the clip itself is fine.
    pub disk_error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GetError<E> {
    /// The generate callback failed (or was cancelled); nothing was cached.
    #[error(transparent)]
    Generate(E),
    /// `should_abort` said to stop waiting for another generation of this clip.
    #[error("stopped waiting for another generation of this clip")]
    Aborted,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum MemKey {
    Clip(ClipKey),
    /// A resized output frame: clip, frame index, caller's output description.
    Frame(ClipKey, usize, Box<[u8]>),
}

impl MemKey {
    fn clip_key(&self) -> &ClipKey {
        match self {
            MemKey::Clip(key) | MemKey::Frame(key, ..) => key,
        }
    }
}

/// A clip as memory keeps it: with what the status line reports on a memory hit.
struct Stored {
    clip: Arc<Clip>,
    location: Option<PathBuf>,
    generation_seconds: f64,
}

#[derive(Clone)]
enum MemValue {
    Clip(Arc<Stored>),
    Frame(Arc<[f32]>),
}

/// One generation in progress; `outcome` becomes `Some` when it ends (`Some(None)`: failed or cancelled,
/// a waiter takes over).
#[derive(Default)]
struct Flight {
    outcome: Mutex<Option<Option<Arc<Stored>>>>,
    done: Condvar,
}

/// Memory tier plus single flight over a disk tier. Use [`ClipCache::global`] from plugin code so
/// short-lived render instances share one cache; separate instances are for tests and tools.
pub struct ClipCache {
    memory: Mutex<Lru<MemKey, MemValue>>,
    flights: Mutex<HashMap<ClipKey, Arc<Flight>>>,
    latents: Mutex<Lru<ClipKey, Latents>>,
    disk_cap: AtomicU64,
    /// Reads disk folders only: no entries, latents, locks, eviction or sweeping.
    read_only: AtomicBool,
    /// Milliseconds a lock holder may show no heartbeat before a waiter takes over.
    lock_takeover_ms: AtomicU64,
}

impl ClipCache {
    pub fn new(memory_budget: usize, disk_cap: u64) -> ClipCache {
        ClipCache {
            memory: Mutex::new(Lru::new(memory_budget)),
            flights: Mutex::new(HashMap::new()),
            latents: Mutex::new(Lru::new(LATENTS_MEMORY_BUDGET)),
            disk_cap: AtomicU64::new(disk_cap),
            read_only: AtomicBool::new(false),
            lock_takeover_ms: AtomicU64::new(lock_takeover_from_env().as_millis() as u64),
        }
    }

    /// The process-wide cache; its memory budget comes from `T2V_CACHE_MEMORY_MB` when set, its disk cap
    /// from `T2V_CACHE_MAX_GB` ([`disk_cap`]), read-only mode from `T2V_CACHE_READ_ONLY`.
    pub fn global() -> &'static ClipCache {
        static GLOBAL: OnceLock<ClipCache> = OnceLock::new();
        GLOBAL.get_or_init(|| {
            let budget = match std::env::var("T2V_CACHE_MEMORY_MB") {
                Ok(mb) => mb.trim().parse::<usize>().map(|mb| mb << 20).unwrap_or_else(|_| {
                    log::warn!("clip cache: T2V_CACHE_MEMORY_MB={mb:?} is not a number of MB; using the default");
                    DEFAULT_MEMORY_BUDGET
                }),
                Err(_) => DEFAULT_MEMORY_BUDGET,
            };
            let cache = ClipCache::new(budget, disk_cap(0.0));
            cache.set_read_only(read_only_from_env());
            cache
        })
    }

    pub fn set_memory_budget(&self, bytes: usize) {
        self.memory.lock().set_budget(bytes);
    }

    /// Bytes of clips and resized frames held in memory now.
    pub fn memory_used(&self) -> usize {
        self.memory.lock().used()
    }

    /// Size cap for disk folders, applied after each write (the plugin sets [`disk_cap`] of its Cache
    /// Limit before each render; the last one set applies).
    pub fn set_disk_cap(&self, bytes: u64) {
        self.disk_cap.store(bytes, Ordering::Relaxed);
    }

    /// Read-only on disk (a review machine reading a shared cache): clips and latents are served from
    /// disk, but nothing is written, locked, evicted, swept or removed there; generated clips stay in memory.
    pub fn set_read_only(&self, read_only: bool) {
        self.read_only.store(read_only, Ordering::Relaxed);
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only.load(Ordering::Relaxed)
    }

    /// How long a process holding a clip's lock may show no heartbeat (it is stopped, or its node wedged)
    /// before a call waiting for it generates the clip itself; at least 2 s. Default
    /// [`DEFAULT_LOCK_TAKEOVER`], or `T2V_LOCK_TAKEOVER_SECS` when set.
    pub fn set_lock_takeover(&self, takeover: Duration) {
        let takeover = takeover.max(MIN_LOCK_TAKEOVER);
        self.lock_takeover_ms
            .store(takeover.as_millis() as u64, Ordering::Relaxed);
    }

    /// Serves the recipe's clip from memory or disk, or runs `generate` — once per key however many threads
    /// (and, through the disk folder's lock files, processes) ask at the same time. If the generating call
    /// fails, panics or is cancelled, nothing is stored and one of the waiting calls generates instead.
    /// A clip is returned quantised to 16 bits per channel (what the disk holds), so every process sharing
    /// a folder serves identical pixels. Failing to store it is reported in [`Fetched::disk_error`].
    /// `generate` returns a [`Clip`] or, to record what made it, a [`Generated`].
    pub fn get_or_generate<C: Into<Generated>, E>(
        &self,
        recipe: &Recipe,
        options: &Options,
        generate: impl FnOnce() -> Result<C, E>,
    ) -> Result<Fetched, GetError<E>> {
        let key = recipe.key();
        loop {
            if let Some(stored) = self.memory_clip(&key) {
                return Ok(fetched(&key, &stored, Source::Memory, None));
            }
            let (flight, leading) = {
                let mut flights = self.flights.lock();
                match flights.get(&key) {
                    Some(flight) => (flight.clone(), false),
                    None => {
                        let flight = Arc::<Flight>::default();
                        flights.insert(key.clone(), flight.clone());
                        (flight, true)
                    }
                }
            };
            if leading {
                let mut lead = Leading {
                    cache: self,
                    key: &key,
                    flight,
                    outcome: None,
                };
                // A leader that finished between our memory check and taking the flight slot left it here.
                if let Some(stored) = self.memory_clip(&key) {
                    lead.outcome = Some(stored.clone());
                    return Ok(fetched(&key, &stored, Source::Memory, None));
                }
                return self.lead(recipe, &key, options, generate, &mut lead);
            }
            match wait(&flight, options.should_abort) {
                None => return Err(GetError::Aborted),
                Some(Some(stored)) => return Ok(fetched(&key, &stored, Source::Shared, None)),
                Some(None) => continue, // the leader failed: try again, most likely as the new leader
            }
        }
    }

    /// The leader's path: disk, then (under the key's cross-process lock) disk again, then generation.
    fn lead<C: Into<Generated>, E>(
        &self,
        recipe: &Recipe,
        key: &ClipKey,
        options: &Options,
        generate: impl FnOnce() -> Result<C, E>,
        lead: &mut Leading,
    ) -> Result<Fetched, GetError<E>> {
        let store = cache_folder(options.folder).map(|root| Store::new(&root));
        let mut lock: Option<KeyLock> = None;
        let mut disk_error = None;
        if let Some(store) = &store {
            if let Some(stored) = self.load(store, key, false) {
                lead.outcome = Some(stored.clone());
                return Ok(fetched(key, &stored, Source::Disk, None));
            }
        }
        if let Some(store) = store.as_ref().filter(|_| !self.is_read_only()) {
            let waiting = Waiting {
                should_abort: options.should_abort,
                on_wait: options.on_wait,
                takeover: Duration::from_millis(self.lock_takeover_ms.load(Ordering::Relaxed)),
            };
            match store.lock(key, &waiting) {
                Ok(held) => lock = Some(held),
                Err(LockError::Aborted) => return Err(GetError::Aborted),
                Err(LockError::Io(e)) => {
                    disk_error = Some(format!(
                        "cannot use cache folder {}: {e}",
                        store.root().display()
                    ))
                }
            }
            if lock.is_some() {
                // Another process may have written it while we waited for the lock.
                if let Some(stored) = self.load(store, key, true) {
                    lead.outcome = Some(stored.clone());
                    return Ok(fetched(key, &stored, Source::Disk, None));
                }
                store.remove_dead_writes(key);
            }
        }
        let started = Instant::now();
        let Generated { clip, made_by } = generate().map_err(GetError::Generate)?.into();
        let clip = clip.quantized();
        let generation_seconds = started.elapsed().as_secs_f64();
        let mut location = None;
        if let (Some(store), Some(lock)) = (&store, lock) {
            let provenance = Provenance {
                plugin_version: options.plugin_version,
                made_by: &made_by,
                generation_seconds,
            };
            match store.write(key, recipe, &clip, &provenance) {
                Ok(dir) => location = Some(dir),
                Err(e) => {
                    disk_error = Some(format!(
                        "cannot store clip in {}: {e}",
                        store.root().display()
                    ))
                }
            }
            drop(lock);
            if location.is_some() {
                store.evict_to(self.disk_cap.load(Ordering::Relaxed), key);
            }
        }
        if let Some(error) = &disk_error {
            log::warn!("clip cache: {error}");
        }
        let stored = Arc::new(Stored {
            clip: Arc::new(clip),
            location,
            generation_seconds,
        });
        self.remember(key, &stored);
        lead.outcome = Some(stored.clone());
        Ok(fetched(key, &stored, Source::Generated, disk_error))
    }

    /// The clip if memory or disk has it, without generating (for placeholders and status).
    pub fn peek(&self, recipe: &Recipe, folder: Option<&Path>) -> Option<Fetched> {
        let key = recipe.key();
        if let Some(stored) = self.memory_clip(&key) {
            return Some(fetched(&key, &stored, Source::Memory, None));
        }
        let store = Store::new(&cache_folder(folder)?);
        let stored = self.load(&store, &key, false)?;
        Some(fetched(&key, &stored, Source::Disk, None))
    }

    /// A resized output frame from memory, or `resize()`'s result, remembered under (clip, frame, `spec`).
    /// `spec` is any byte encoding of what decides the output (size, fit, format) chosen by the caller.
    /// Returns the shared buffer, never a copy. (Two threads missing the same frame at once may both resize.)
    pub fn resized_frame(
        &self,
        key: &ClipKey,
        index: usize,
        spec: &[u8],
        resize: impl FnOnce() -> Arc<[f32]>,
    ) -> Arc<[f32]> {
        let mem_key = MemKey::Frame(key.clone(), index, spec.into());
        if let Some(MemValue::Frame(frame)) = self.memory.lock().get(&mem_key) {
            return frame;
        }
        let frame = resize();
        let bytes = std::mem::size_of_val::<[f32]>(&frame);
        self.memory
            .lock()
            .insert(mem_key, MemValue::Frame(frame.clone()), bytes);
        frame
    }

    /// Forgets one clip: memory (with its resized frames and latents) and its entry and latents in the disk
    /// folder. A read-only process ([`ClipCache::set_read_only`]) forgets only memory and says so in `Err`.
    pub fn clear(&self, key: &ClipKey, folder: Option<&Path>) -> io::Result<()> {
        self.memory.lock().remove_where(|k| k.clip_key() == key);
        self.latents.lock().remove(key);
        let Some(root) = cache_folder(folder) else {
            return Ok(());
        };
        if self.is_read_only() {
            return Err(io::Error::other(READ_ONLY));
        }
        Store::new(&root).forget(key)
    }

    /// Clips and bytes the disk folder holds that Clear all would remove (entries provably ours and
    /// latents, in allocated blocks, as eviction counts them); zero when there is no folder.
    pub fn usage(&self, folder: Option<&Path>) -> io::Result<Usage> {
        cache_folder(folder).map_or(Ok(Usage::default()), |root| Store::new(&root).usage())
    }

    /// Keeps a clip's final latents, so that a failed decode is retried without sampling: in memory
    /// (a [`LATENTS_MEMORY_BUDGET`] LRU) and in the disk folder (`.latents/<key>.f32`, atomic; see
    /// [`crate::latents`]). `Err` says why the disk part failed (the memory part never does) or that the
    /// values do not match the shape; a read-only process keeps them in memory only, without error.
    pub fn save_latents(
        &self,
        recipe: &Recipe,
        folder: Option<&Path>,
        latents: &Latents,
    ) -> Result<(), String> {
        let key = recipe.key();
        let limit = latents::max_values(recipe);
        if latents.values.len() as u64 > limit {
            return Err(format!(
                "{} values, more than the {limit} latents of a {}x{} clip of {} frames can have",
                latents.values.len(),
                recipe.width,
                recipe.height,
                recipe.frames
            ));
        }
        let bytes = latents::encode(&key, latents)?;
        self.latents
            .lock()
            .insert(key.clone(), latents.clone(), latents.byte_size());
        let Some(root) = cache_folder(folder).filter(|_| !self.is_read_only()) else {
            return Ok(());
        };
        let store = Store::new(&root);
        store
            .write_latents(&key, &bytes)
            .map_err(|e| format!("cannot store latents in {}: {e}", root.display()))?;
        store.evict_to(self.disk_cap.load(Ordering::Relaxed), &key);
        Ok(())
    }

    /// The clip's kept latents from memory, else verified from the disk folder; a damaged, foreign or
    /// oversized file (more values than the recipe's geometry allows) is logged and missed.
    pub fn load_latents(&self, recipe: &Recipe, folder: Option<&Path>) -> Option<Latents> {
        let key = recipe.key();
        if let Some(found) = self.latents.lock().get(&key) {
            return Some(found);
        }
        let store = Store::new(&cache_folder(folder)?);
        match store.read_latents(&key, latents::max_values(recipe), !self.is_read_only()) {
            Ok(found) => {
                let found = found?;
                self.latents
                    .lock()
                    .insert(key, found.clone(), found.byte_size());
                Some(found)
            }
            Err(why) => {
                log::warn!(
                    "clip cache: ignoring damaged latents {}: {why}",
                    store.latents_path(&key).display()
                );
                None
            }
        }
    }

    /// Forgets every clip in memory and every entry in the disk folder that is provably the cache's (see
    /// [`ClearReport`]; its `Display` is a sentence for the user). Goes on past entries it cannot remove.
    /// `Err` only when the folder cannot be read at all.
    /// A read-only process clears memory only; the report's `refused` says why.
    pub fn clear_all(&self, folder: Option<&Path>) -> io::Result<ClearReport> {
        self.memory.lock().remove_where(|_| true);
        self.latents.lock().remove_where(|_| true);
        let Some(root) = cache_folder(folder) else {
            return Ok(ClearReport::default());
        };
        if self.is_read_only() {
            return Ok(ClearReport {
                refused: Some(READ_ONLY.into()),
                ..ClearReport::default()
            });
        }
        Store::new(&root).clear_all()
    }

    fn memory_clip(&self, key: &ClipKey) -> Option<Arc<Stored>> {
        match self.memory.lock().get(&MemKey::Clip(key.clone()))? {
            MemValue::Clip(stored) => Some(stored),
            MemValue::Frame(_) => None,
        }
    }

    fn remember(&self, key: &ClipKey, stored: &Arc<Stored>) {
        let bytes = stored.clip.byte_size();
        self.memory.lock().insert(
            MemKey::Clip(key.clone()),
            MemValue::Clip(stored.clone()),
            bytes,
        );
    }

    /// Reads a verified entry into memory. A damaged entry is logged and treated as missing; `locked`
    /// (the caller holds the key's lock) also removes it so it is regenerated.
    fn load(&self, store: &Store, key: &ClipKey, locked: bool) -> Option<Arc<Stored>> {
        match store.read(key, !self.is_read_only()) {
            Ok((clip, metadata)) => {
                let location = Some(store.entry_dir(key));
                let stored = Arc::new(Stored {
                    clip: Arc::new(clip),
                    location,
                    generation_seconds: metadata.generation_seconds,
                });
                self.remember(key, &stored);
                Some(stored)
            }
            Err(ReadError::Missing) => None,
            Err(ReadError::Corrupt(why)) => {
                log::warn!(
                    "clip cache: discarding damaged entry {}: {why}",
                    store.entry_dir(key).display()
                );
                if locked {
                    if let Err(e) = store.discard(key) {
                        log::warn!("clip cache: cannot remove damaged entry {key}: {e}");
                    }
                }
                None
            }
        }
    }
}

/// [`DEFAULT_LOCK_TAKEOVER`], or `T2V_LOCK_TAKEOVER_SECS` when set (at least 2 s).
fn lock_takeover_from_env() -> Duration {
    let Ok(text) = std::env::var("T2V_LOCK_TAKEOVER_SECS") else {
        return DEFAULT_LOCK_TAKEOVER;
    };
    match text.trim().parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs).max(MIN_LOCK_TAKEOVER),
        Err(_) => {
            log::warn!(
                "clip cache: T2V_LOCK_TAKEOVER_SECS={text:?} is not a number of seconds; using the default"
            );
            DEFAULT_LOCK_TAKEOVER
        }
    }
}

fn fetched(key: &ClipKey, stored: &Stored, source: Source, disk_error: Option<String>) -> Fetched {
    Fetched {
        clip: stored.clip.clone(),
        key: key.clone(),
        source,
        location: stored.location.clone(),
        generation_seconds: stored.generation_seconds,
        disk_error,
    }
}

/// Waits for a flight to end: `None` if `should_abort` said stop, else its outcome.
fn wait(flight: &Flight, should_abort: Option<&dyn Fn() -> bool>) -> Option<Option<Arc<Stored>>> {
    let mut outcome = flight.outcome.lock();
    loop {
        if let Some(result) = outcome.as_ref() {
            return Some(result.clone());
        }
        match should_abort {
            None => flight.done.wait(&mut outcome),
            Some(abort) => {
                if abort() {
                    return None;
                }
                flight.done.wait_for(&mut outcome, ABORT_POLL);
            }
        }
    }
}

/// The leader's claim on a flight. Dropping it — on success, error or panic — ends the flight and wakes
/// the waiters with `outcome` (`None` makes one of them take over).
struct Leading<'a> {
    cache: &'a ClipCache,
    key: &'a ClipKey,
    flight: Arc<Flight>,
    outcome: Option<Arc<Stored>>,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        self.cache.flights.lock().remove(self.key);
        *self.flight.outcome.lock() = Some(self.outcome.take());
        self.flight.done.notify_all();
    }
}
