//! Clip cache: generated clips served from process memory or a shared disk folder, so each clip is
//! generated once — per process, per render farm — and a served frame costs about a memory copy.
//!
//! - [`Recipe`] → [`ClipKey`]: blake3 over a versioned, length-prefixed encoding of everything that decides
//!   the frames ([`recipe`] documents it): the model's content identity and the request's canonical encoding,
//!   both computed by the engine (`t2v_engine::model_identity`, `ModelPackage::request_encoding`) and opaque
//!   here, and the clip's geometry.
//! - [`ClipCache::global`]: process-wide (hosts create throw-away render instances). Memory is an LRU with a
//!   byte budget holding clips and resized output frames ([`ClipCache::resized_frame`]); hits hand out `Arc`s.
//! - Disk ([`cache_folder`]): one folder per clip, `<key>/frame_0000.png…` (16-bit RGB) + `clip.json`
//!   (recipe, plugin version, [`MadeBy`]: model, device, runtime) (+ `clip.json.b3`), published by atomic rename, verified on read, LRU-evicted under a size cap.
//! - [`ClipCache::get_or_generate`]: single flight across threads (in memory) and processes (lock files);
//!   a failed or cancelled generation hands over to a waiter; a stuck lock holder (no heartbeat for
//!   [`DEFAULT_LOCK_TAKEOVER`]) is taken over; a disk failure never fails the caller.
//! - [`ClipCache::save_latents`] / [`ClipCache::load_latents`]: a clip's final latents, kept in memory and
//!   in `.latents/<key>.f32` ([`latents`]) so a failed decode is retried without sampling.
//! - Disk cap: [`disk_cap`] (Cache Limit parameter, `T2V_CACHE_MAX_GB`, 20 GiB); eviction runs only after
//!   this process wrote to a folder, and never in a read-only process (`T2V_CACHE_READ_ONLY=1`).
//! - The disk folder is tagged (`CACHEDIR.TAG`); only provably own entries are evicted or cleared, and no
//!   file is opened through a symlink or as a FIFO or device.

mod cache;
mod clip;
mod entry;
mod holder;
pub mod latents;
mod marker;
mod memory;
mod nofollow;
mod png16;
pub mod recipe;
mod store;

#[cfg(test)]
mod cache_tests;
#[cfg(all(test, unix))]
mod folder_tests;
#[cfg(test)]
mod latents_tests;

pub use cache::{
    cache_folder, disk_cap, ClipCache, Fetched, Generated, GetError, Options, Source,
    DEFAULT_DISK_CAP, DEFAULT_MEMORY_BUDGET, LATENTS_MEMORY_BUDGET,
};
pub use clip::{Clip, ClipError};
pub use entry::MadeBy;
pub use latents::Latents;
pub use recipe::{ClipKey, Recipe};
pub use store::{ClearReport, Usage, DEFAULT_LOCK_TAKEOVER};
