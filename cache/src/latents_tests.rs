//! Kept latents through `ClipCache`, read-only mode, usage and the sweeping of unheld lock files.

use crate::cache_tests::{clip_for, names_in, opts, MB};
use crate::latents::Latents;
use crate::recipe::sample_recipe;
use crate::store::{Store, Waiting, DEFAULT_LOCK_TAKEOVER};
use crate::{disk_cap, ClipCache, Recipe, Usage, DEFAULT_DISK_CAP};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

fn latents_for(recipe: &Recipe) -> Latents {
    let n = recipe.frames as usize * 4 * 2;
    Latents {
        shape: vec![1, 4, recipe.frames as usize, 1, 2],
        values: (0..n).map(|i| i as f32 / 7.0 - 1.0).collect(),
    }
}

fn latents_file(root: &Path, recipe: &Recipe) -> PathBuf {
    root.join(".latents").join(format!("{}.f32", recipe.key()))
}

fn fresh() -> ClipCache {
    ClipCache::new(64 * MB, u64::MAX)
}

fn generate(cache: &ClipCache, root: &Path, recipe: &Recipe) {
    cache
        .get_or_generate(recipe, &opts(root), || Ok::<_, String>(clip_for(recipe)))
        .unwrap();
}

/// Every path under `root` with its size and contents' hash: what "nothing changed" compares.
fn listing(root: &Path) -> Vec<(PathBuf, Option<String>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for item in fs::read_dir(&dir).unwrap() {
            let path = item.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
                out.push((path, None));
            } else {
                let sum = blake3::hash(&fs::read(&path).unwrap()).to_hex().to_string();
                let mtime = format!("{:?}", meta.modified().unwrap());
                out.push((path, Some(format!("{sum} {mtime}"))));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn latents_round_trip_through_memory_and_another_instance_on_the_same_folder() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = sample_recipe("kept");
    let latents = latents_for(&recipe);
    let cache = fresh();
    cache
        .save_latents(&recipe, Some(dir.path()), &latents)
        .unwrap();
    assert_eq!(
        cache.load_latents(&recipe, Some(dir.path())),
        Some(latents.clone())
    );
    assert!(latents_file(dir.path(), &recipe).is_file());
    assert_eq!(names_in(dir.path()), [".latents", "CACHEDIR.TAG"]);

    let other = fresh();
    assert_eq!(other.load_latents(&recipe, Some(dir.path())), Some(latents));
    assert_eq!(
        other.load_latents(&sample_recipe("never saved"), Some(dir.path())),
        None
    );
    // Memory alone keeps them when there is no folder to write.
    let recipe = sample_recipe("memory only");
    let file = dir.path().join("a file");
    fs::write(&file, b"x").unwrap();
    let error = cache
        .save_latents(&recipe, Some(&file), &latents_for(&recipe))
        .unwrap_err();
    assert!(error.starts_with("cannot store latents in "), "{error}");
    assert_eq!(
        cache.load_latents(&recipe, Some(&file)),
        Some(latents_for(&recipe))
    );
}

#[test]
fn latents_that_do_not_fit_their_recipe_are_refused_before_anything_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = sample_recipe("too big");
    let cache = fresh();
    let huge = Latents {
        shape: vec![1, 2305],
        values: vec![0.0; 2305].into(),
    };
    assert_eq!(
        cache.save_latents(&recipe, Some(dir.path()), &huge),
        Err("2305 values, more than the 2304 latents of a 8x4 clip of 3 frames can have".into())
    );
    let wrong = Latents {
        shape: vec![2, 2],
        values: vec![0.0; 3].into(),
    };
    assert_eq!(
        cache.save_latents(&recipe, Some(dir.path()), &wrong),
        Err("shape [2, 2] holds 4 values, not the 3 given".into())
    );
    assert_eq!(cache.load_latents(&recipe, Some(dir.path())), None);
    assert!(names_in(dir.path()).is_empty());
}

#[cfg(unix)]
#[test]
fn damaged_symlinked_oversized_or_fifo_latents_files_are_misses() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = sample_recipe("damaged");
    fresh()
        .save_latents(&recipe, Some(dir.path()), &latents_for(&recipe))
        .unwrap();
    let path = latents_file(dir.path(), &recipe);
    let good = fs::read(&path).unwrap();
    let miss = |why: &str| {
        assert_eq!(
            fresh().load_latents(&recipe, Some(dir.path())),
            None,
            "{why}"
        );
    };

    let mut flipped = good.clone();
    flipped[140] ^= 0x40;
    fs::write(&path, &flipped).unwrap();
    miss("a flipped bit");
    fs::write(&path, &good[..good.len() - 7]).unwrap();
    miss("truncated");

    // A valid file of a larger shape than the recipe's geometry allows (3 frames of 8x4).
    let big = Latents {
        shape: vec![4096],
        values: vec![1.0; 4096].into(),
    };
    fs::write(&path, crate::latents::encode(&recipe.key(), &big).unwrap()).unwrap();
    miss("over-large");

    let outside = dir.path().join("outside.f32");
    fs::write(&outside, &good).unwrap();
    fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&outside, &path).unwrap();
    miss("a symlink to a valid file");

    fs::remove_file(&path).unwrap();
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    miss("a FIFO");

    fs::remove_file(&path).unwrap();
    fs::write(&path, &good).unwrap();
    assert!(fresh().load_latents(&recipe, Some(dir.path())).is_some());
}

#[test]
fn clearing_a_clip_or_all_removes_its_latents_and_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let (with_clip, orphan, other) = (
        sample_recipe("with clip"),
        sample_recipe("orphan"),
        sample_recipe("other"),
    );
    let cache = fresh();
    generate(&cache, dir.path(), &with_clip);
    for recipe in [&with_clip, &orphan, &other] {
        cache
            .save_latents(recipe, Some(dir.path()), &latents_for(recipe))
            .unwrap();
    }
    cache.clear(&with_clip.key(), Some(dir.path())).unwrap();
    assert!(!latents_file(dir.path(), &with_clip).exists());
    assert_eq!(cache.load_latents(&with_clip, Some(dir.path())), None);
    assert!(latents_file(dir.path(), &orphan).exists());

    generate(&cache, dir.path(), &with_clip);
    let report = cache.clear_all(Some(dir.path())).unwrap();
    assert_eq!(report.to_string(), "Cleared 1 clip");
    assert!(names_in(&dir.path().join(".latents")).is_empty());
    assert_eq!(cache.load_latents(&orphan, Some(dir.path())), None);
    assert_eq!(cache.usage(Some(dir.path())).unwrap(), Usage::default());
}

#[test]
fn usage_counts_our_entries_and_latents_in_allocated_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let cache = fresh();
    assert_eq!(
        cache.usage(Some(&dir.path().join("none"))).unwrap(),
        Usage::default()
    );
    let (a, b) = (sample_recipe("a"), sample_recipe("b"));
    generate(&cache, dir.path(), &a);
    generate(&cache, dir.path(), &b);
    let entries = crate::store::entry_usage(&dir.path().join(a.key().as_str()))
        + crate::store::entry_usage(&dir.path().join(b.key().as_str()));
    assert_eq!(
        cache.usage(Some(dir.path())).unwrap(),
        Usage {
            clips: 2,
            bytes: entries
        }
    );
    cache
        .save_latents(&a, Some(dir.path()), &latents_for(&a))
        .unwrap();
    let latents = crate::nofollow::disk_usage(&fs::metadata(latents_file(dir.path(), &a)).unwrap());
    assert!(latents > 0);
    assert_eq!(
        cache.usage(Some(dir.path())).unwrap(),
        Usage {
            clips: 2,
            bytes: entries + latents
        }
    );
    // A user's file that merely looks like latents is not counted.
    fs::write(
        dir.path()
            .join(".latents")
            .join(format!("{}.f32", "c".repeat(64))),
        b"mine",
    )
    .unwrap();
    assert_eq!(
        cache.usage(Some(dir.path())).unwrap().bytes,
        entries + latents
    );
}

#[test]
fn eviction_counts_latents_and_evicts_an_old_orphan_by_its_own_age() {
    let dir = tempfile::tempdir().unwrap();
    let (orphan, kept, new) = (
        sample_recipe("orphan"),
        sample_recipe("kept"),
        sample_recipe("new"),
    );
    let cache = fresh();
    cache
        .save_latents(&orphan, Some(dir.path()), &latents_for(&orphan))
        .unwrap();
    generate(&cache, dir.path(), &kept);
    let old = SystemTime::now() - Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(latents_file(dir.path(), &orphan))
        .unwrap()
        .set_modified(old)
        .unwrap();
    // Room for both clips but not for the orphan latents too.
    let clips = cache.usage(Some(dir.path())).unwrap().bytes
        - crate::nofollow::disk_usage(&fs::metadata(latents_file(dir.path(), &orphan)).unwrap());
    cache.set_disk_cap(clips * 2);
    generate(&cache, dir.path(), &new);
    assert!(
        !latents_file(dir.path(), &orphan).exists(),
        "the orphan went first"
    );
    assert!(dir.path().join(kept.key().as_str()).is_dir());
    assert!(dir.path().join(new.key().as_str()).is_dir());

    // Latents make an entry bigger: with them the older clip no longer fits beside the new one.
    cache
        .save_latents(&kept, Some(dir.path()), &latents_for(&kept))
        .unwrap();
    let entry = crate::store::entry_usage(&dir.path().join(kept.key().as_str()));
    cache.set_disk_cap(entry * 2);
    fs::File::open(dir.path().join(kept.key().as_str()).join("clip.json"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    generate(&cache, dir.path(), &sample_recipe("newest"));
    assert!(!dir.path().join(kept.key().as_str()).exists());
    assert!(
        !latents_file(dir.path(), &kept).exists(),
        "evicted with its clip"
    );
}

#[test]
fn a_read_only_process_writes_evicts_sweeps_and_removes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (shared, fresh_recipe) = (sample_recipe("shared"), sample_recipe("fresh"));
    let writer = fresh();
    generate(&writer, dir.path(), &shared);
    writer
        .save_latents(&shared, Some(dir.path()), &latents_for(&shared))
        .unwrap();
    fs::write(
        dir.path()
            .join(".locks")
            .join(format!("{}.lock", "d".repeat(64))),
        b"",
    )
    .unwrap();
    let before = listing(dir.path());

    let reviewer = ClipCache::new(64 * MB, 0);
    reviewer.set_read_only(true);
    let served = reviewer
        .get_or_generate(&shared, &opts(dir.path()), || Err::<crate::Clip, _>("no"))
        .unwrap();
    assert_eq!(served.source, crate::Source::Disk);
    assert_eq!(
        reviewer.load_latents(&shared, Some(dir.path())),
        Some(latents_for(&shared))
    );
    let generated = reviewer
        .get_or_generate(&fresh_recipe, &opts(dir.path()), || {
            Ok::<_, String>(clip_for(&fresh_recipe))
        })
        .unwrap();
    assert_eq!((generated.location, generated.disk_error), (None, None));
    reviewer
        .save_latents(&fresh_recipe, Some(dir.path()), &latents_for(&fresh_recipe))
        .unwrap();
    // Memory serves what it was given.
    assert_eq!(
        reviewer.load_latents(&fresh_recipe, Some(dir.path())),
        Some(latents_for(&fresh_recipe))
    );
    let error = reviewer.clear(&shared.key(), Some(dir.path())).unwrap_err();
    assert_eq!(
        error.to_string(),
        "this process only reads the cache folder (T2V_CACHE_READ_ONLY): it writes and removes nothing there"
    );
    let report = reviewer.clear_all(Some(dir.path())).unwrap();
    assert_eq!(
        report.to_string(),
        "Cleared no clips on disk: this process only reads the cache folder (T2V_CACHE_READ_ONLY): it \
         writes and removes nothing there"
    );
    assert_eq!(listing(dir.path()), before);
}

#[test]
fn the_disk_cap_comes_from_the_parameter_then_the_environment_then_the_default() {
    // The only test that sets T2V_CACHE_MAX_GB; every other test passes its cap explicitly.
    assert_eq!(disk_cap(1.5), 3 << 29);
    std::env::set_var("T2V_CACHE_MAX_GB", " 2 ");
    assert_eq!(disk_cap(0.0), 2 << 30);
    assert_eq!(disk_cap(0.25), 1 << 28);
    for bad in ["lots", "-3", "0", "NaN", "inf"] {
        std::env::set_var("T2V_CACHE_MAX_GB", bad);
        assert_eq!(disk_cap(0.0), DEFAULT_DISK_CAP, "{bad}");
    }
    std::env::remove_var("T2V_CACHE_MAX_GB");
    assert_eq!(disk_cap(0.0), DEFAULT_DISK_CAP);
    assert_eq!(disk_cap(-1.0), DEFAULT_DISK_CAP);
    assert_eq!(disk_cap(f64::NAN), DEFAULT_DISK_CAP);
}

fn waiting() -> Waiting<'static> {
    Waiting {
        should_abort: None,
        on_wait: None,
        takeover: DEFAULT_LOCK_TAKEOVER,
    }
}

#[cfg(unix)]
#[test]
fn unheld_lock_files_are_swept_and_a_held_one_stays() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    let (stale, held) = (sample_recipe("stale").key(), sample_recipe("held").key());
    drop(store.lock(&stale, &waiting()));
    let lock = store.lock(&held, &waiting());
    let locks = dir.path().join(".locks");
    let mut all = [held.as_str(), stale.as_str()]
        .map(|k| [format!("{k}.holder"), format!("{k}.lock")])
        .concat();
    all.sort();
    assert_eq!(names_in(&locks), all);
    ClipCache::new(MB, 0).clear_all(Some(dir.path())).unwrap();
    assert_eq!(
        names_in(&locks),
        [format!("{held}.holder"), format!("{held}.lock")]
    );
    drop(lock);
    let recipe = sample_recipe("evicting");
    generate(&ClipCache::new(MB, 0), dir.path(), &recipe);
    assert!(names_in(&locks).is_empty(), "{:?}", names_in(&locks));
}

#[cfg(unix)]
#[test]
fn sweeping_racing_lock_acquisition_never_lets_two_hold_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = sample_recipe("contended").key();
    let holding = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let (holding, most, key) = (holding.clone(), most.clone(), key.clone());
            let root = dir.path();
            scope.spawn(move || {
                let store = Store::new(root);
                for _ in 0..200 {
                    let lock = store.lock(&key, &waiting()).ok().unwrap();
                    let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::yield_now();
                    holding.fetch_sub(1, Ordering::SeqCst);
                    drop(lock);
                }
            });
        }
        let root = dir.path();
        scope.spawn(move || {
            let store = Store::new(root);
            for _ in 0..800 {
                store.sweep_locks();
            }
        });
    });
    assert_eq!(most.load(Ordering::SeqCst), 1);
}
