//! The loaded models of this process, shared by every instance and render thread. A real model takes
//! gigabytes of memory and a few threads, so only a budget of them stays loaded — the least recently
//! used goes first, never before the renders holding it finish — and all go when the host destroys the
//! last instance. Loading one again is said in the status line, because it takes time the user sees.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use t2v_engine::{EngineError, Model, RuntimeOptions};

/// Default budget for loaded models: 8 GiB of weights (override with `T2V_MODEL_MEMORY_MB`). The model
/// just loaded always stays, whatever its size.
pub const DEFAULT_BUDGET: u64 = 8 << 30;

/// Why a model was unloaded, said when it is loaded again.
const OVER_BUDGET: &str = "it had been unloaded to keep loaded models within T2V_MODEL_MEMORY_MB";
const NO_INSTANCE: &str = "it had been unloaded when the last Text to Video node closed";
const BY_BUTTON: &str = "it had been unloaded by Unload models";

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    identity: String,
    options: RuntimeOptions,
}

/// One model's place in the pool; the cell is locked while it loads, so it loads once however many ask.
struct Slot {
    cell: Arc<Mutex<Option<Arc<Model>>>>,
    bytes: u64,
    used: u64,
}

#[derive(Default)]
struct Pool {
    slots: HashMap<Key, Slot>,
    /// Models unloaded earlier, with the reason.
    unloaded: HashMap<Key, &'static str>,
    clock: u64,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);
static INSTANCES: AtomicUsize = AtomicUsize::new(0);

/// A model to generate with, and a note for the status line when it had to be loaded again.
#[derive(Debug)]
pub struct Loaded {
    pub model: Arc<Model>,
    pub note: Option<String>,
}

fn with_pool<T>(f: impl FnOnce(&mut Pool) -> T) -> T {
    f(POOL.lock().get_or_insert_with(Pool::default))
}

/// The model of package content `identity` in `dir` with `options`, loaded if it is not loaded yet.
/// A failed load is not remembered, so a fixed folder loads on the next call.
pub fn get(identity: &str, dir: &Path, options: &RuntimeOptions) -> Result<Loaded, EngineError> {
    let key = Key {
        identity: identity.to_owned(),
        options: *options,
    };
    let cell = with_pool(|pool| {
        pool.clock += 1;
        let used = pool.clock;
        let slot = pool.slots.entry(key.clone()).or_insert_with(|| Slot {
            cell: Arc::default(),
            bytes: 0,
            used,
        });
        slot.used = used;
        slot.cell.clone()
    });
    let mut cell = cell.lock();
    if let Some(model) = cell.as_ref() {
        return Ok(Loaded {
            model: model.clone(),
            note: None,
        });
    }
    let model = Arc::new(Model::load(dir, options)?);
    if model.identity() != identity {
        // Clips are cached under `identity`: frames from other files must never be stored under it.
        return Err(EngineError::Package {
            dir: dir.to_path_buf(),
            message: "changed during the render (its files are not the ones this render started \
                      with); render again to use the new content"
                .into(),
        });
    }
    *cell = Some(model.clone());
    drop(cell);
    let bytes = model.package().weights_bytes();
    let reason = with_pool(|pool| {
        if let Some(slot) = pool.slots.get_mut(&key) {
            slot.bytes = bytes;
        }
        evict_over(pool, budget(), &key);
        pool.unloaded.remove(&key)
    });
    let note = reason.map(|why| format!("model {} loaded again: {why}", model.package().name()));
    Ok(Loaded { model, note })
}

/// Unloads least recently used models other than `keep` until the loaded ones fit in `budget` bytes.
fn evict_over(pool: &mut Pool, budget: u64, keep: &Key) {
    loop {
        let total: u64 = pool.slots.values().map(|s| s.bytes).sum();
        let oldest = pool
            .slots
            .iter()
            .filter(|(key, slot)| *key != keep && slot.bytes > 0)
            .min_by_key(|(_, slot)| slot.used)
            .map(|(key, _)| key.clone());
        match oldest {
            Some(key) if total > budget => {
                pool.slots.remove(&key);
                log::info!(
                    "Text to Video: unloaded model {} ({OVER_BUDGET})",
                    key.identity
                );
                pool.unloaded.insert(key, OVER_BUDGET);
            }
            _ => return,
        }
    }
}

fn budget() -> u64 {
    match std::env::var("T2V_MODEL_MEMORY_MB") {
        Ok(mb) => mb.trim().parse::<u64>().map_or_else(
            |_| {
                log::warn!("T2V_MODEL_MEMORY_MB={mb:?} is not a number of MB; using the default");
                DEFAULT_BUDGET
            },
            |mb| mb.saturating_mul(1 << 20),
        ),
        Err(_) => DEFAULT_BUDGET,
    }
}

/// What [`unload_all`] released.
#[derive(Debug, PartialEq, Eq)]
pub struct Freed {
    pub models: usize,
    /// Their weights' size on disk (what they held in memory, roughly).
    pub bytes: u64,
}

impl std::fmt::Display for Freed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.models {
            0 => write!(f, "no model was loaded"),
            n => write!(
                f,
                "unloaded {n} model{} ({:.1} GB of weights); renders still running keep theirs until \
                 they finish",
                if n == 1 { "" } else { "s" },
                self.bytes as f64 / 1e9
            ),
        }
    }
}

/// Unloads every loaded model (the Unload models button); the next render loads its model again.
pub fn unload_all() -> Freed {
    with_pool(take_all)
}

/// Empties `pool`, counting the models that had finished loading.
fn take_all(pool: &mut Pool) -> Freed {
    let loaded: Vec<(Key, u64)> = pool
        .slots
        .drain()
        .map(|(key, slot)| (key, slot.bytes))
        .filter(|&(_, bytes)| bytes > 0)
        .collect();
    let bytes = loaded.iter().map(|(_, bytes)| bytes).sum();
    let models = loaded.len();
    for (key, _) in loaded {
        pool.unloaded.insert(key, BY_BUTTON);
    }
    Freed { models, bytes }
}

/// Unloads every model of package content `identity` (its folder now holds other content).
pub fn unload(identity: &str) {
    with_pool(|pool| pool.slots.retain(|key, _| key.identity != identity));
}

/// The host created an instance.
pub fn instance_created() {
    INSTANCES.fetch_add(1, Ordering::SeqCst);
}

/// The host destroyed an instance; after the last one no model stays loaded (renders still running keep
/// theirs until they finish).
pub fn instance_destroyed() {
    // Saturating: more destroys than creates (a host bug) stays at zero.
    let before = INSTANCES
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            Some(n.saturating_sub(1))
        })
        .unwrap_or(0);
    if before == 1 {
        with_pool(|pool| {
            for (key, slot) in pool.slots.drain() {
                if slot.bytes > 0 {
                    pool.unloaded.insert(key, NO_INSTANCE);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Key {
        Key {
            identity: name.into(),
            options: RuntimeOptions::default(),
        }
    }

    fn pool(slots: &[(&str, u64, u64)]) -> Pool {
        let mut pool = Pool::default();
        for &(name, bytes, used) in slots {
            let cell = Arc::default();
            pool.slots.insert(key(name), Slot { cell, bytes, used });
        }
        pool
    }

    fn loaded(pool: &Pool) -> Vec<String> {
        let mut names: Vec<_> = pool.slots.keys().map(|k| k.identity.clone()).collect();
        names.sort();
        names
    }

    #[test]
    fn least_recently_used_models_go_first_until_the_rest_fit() {
        let mut p = pool(&[("a", 40, 1), ("b", 40, 3), ("c", 40, 2), ("loading", 0, 0)]);
        evict_over(&mut p, 80, &key("b"));
        assert_eq!(loaded(&p), ["b", "c", "loading"]);
        assert_eq!(p.unloaded.get(&key("a")), Some(&OVER_BUDGET));
        // The model just loaded stays even alone over the budget.
        evict_over(&mut p, 10, &key("b"));
        assert_eq!(loaded(&p), ["b", "loading"]);
        assert_eq!(p.unloaded.len(), 2);
    }

    #[test]
    fn unloading_all_empties_the_pool_and_says_what_it_freed() {
        let mut p = pool(&[
            ("a", 1_500_000_000, 1),
            ("b", 600_000_000, 2),
            ("loading", 0, 3),
        ]);
        let freed = take_all(&mut p);
        assert_eq!(
            freed,
            Freed {
                models: 2,
                bytes: 2_100_000_000
            }
        );
        assert!(p.slots.is_empty());
        assert_eq!(
            p.unloaded.get(&key("a")),
            Some(&BY_BUTTON),
            "said when it loads again"
        );
        assert_eq!(p.unloaded.get(&key("loading")), None);
        assert_eq!(
            freed.to_string(),
            "unloaded 2 models (2.1 GB of weights); renders still running keep theirs until they finish"
        );
        assert_eq!(take_all(&mut p).to_string(), "no model was loaded");
        let one = Freed {
            models: 1,
            bytes: 50_000_000,
        };
        assert!(one
            .to_string()
            .starts_with("unloaded 1 model (0.1 GB of weights)"));
    }
}
