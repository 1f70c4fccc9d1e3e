//! Chaos on one shared cache folder: several render processes generate the same few clips while the test
//! kills them with SIGKILL at random, replaces the model's UNet in place (atomic rename, same size, the old
//! mtime kept, as `rsync -a` does) and truncates frame files of stored entries. Afterwards every clip the
//! folder serves must equal a clean regeneration of its key in a fresh folder: nothing poisoned.
//!
//! The processes are this test binary run again with `T2V_CHAOS` set (see `chaos_worker`); bounded in
//! rounds, so it ends however the machine schedules it.

mod common;

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ofx_host::{Context, HostConfig, Render};

const SEEDS: i32 = 12;
const WORKERS: usize = 3;
const ROUNDS: usize = 80;
const ROUND: Duration = Duration::from_millis(250);

fn alt_unet() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/fixtures/alt-unet.onnx")
}

/// Replaces `package`'s UNet with `unet` by an atomic rename, keeping the old file's mtime.
fn swap_unet(package: &Path, unet: &Path) {
    let target = package.join("unet/model.onnx");
    let mtime = std::fs::metadata(&target).unwrap().modified().unwrap();
    let staged = package.join("unet/.model.onnx.swap");
    std::fs::copy(unet, &staged).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&staged)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    std::fs::rename(&staged, &target).unwrap();
}

/// Cuts a random frame file of a random stored entry to half its length.
fn truncate_an_entry(cache: &Path, dice: &mut fastrand::Rng) {
    let entries: Vec<PathBuf> = std::fs::read_dir(cache)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("clip.json").is_file())
        .collect();
    if entries.is_empty() {
        return;
    }
    let frame =
        entries[dice.usize(..entries.len())].join(format!("frame_{:04}.png", dice.usize(..3)));
    if let Ok(bytes) = std::fs::read(&frame) {
        let _ = std::fs::write(&frame, &bytes[..bytes.len() / 2]);
    }
}

fn spawn(mode: &str, package: &Path, cache: &Path, seeds: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["chaos_worker", "--exact", "--nocapture", "--test-threads=1"])
        .env("T2V_CHAOS", mode)
        .env("T2V_CHAOS_PACKAGE", package)
        .env("T2V_CHAOS_CACHE", cache)
        .env("T2V_CHAOS_SEEDS", seeds)
        // Nothing kept in memory: every render goes to the shared folder, as on a busy farm.
        .env("T2V_CACHE_MEMORY_MB", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// `seed hash` per clip, as a `verify` worker printed them for `package` served from `cache`.
fn clip_hashes(package: &Path, cache: &Path, seeds: &BTreeSet<i32>) -> BTreeMap<i32, u64> {
    let list: Vec<String> = seeds.iter().map(i32::to_string).collect();
    let out = spawn("verify", package, cache, &list.join(","))
        .wait_with_output()
        .unwrap();
    assert!(out.status.success(), "verify worker failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| Some(line.split_once("clip ")?.1)) // the harness prints "test … " first
        .map(|rest| {
            let (seed, hash) = rest.split_once(' ').unwrap();
            (seed.parse().unwrap(), hash.parse().unwrap())
        })
        .collect()
}

/// The seeds of the entries in `cache`, grouped by the model identity they were stored under.
fn stored_clips(cache: &Path) -> BTreeMap<String, BTreeSet<i32>> {
    let mut found: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for name in common::entries(cache) {
        let Ok(text) = std::fs::read(cache.join(name).join("clip.json")) else {
            continue; // an entry being written or removed
        };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&text) else {
            continue; // not served either: the cache checks clip.json's checksum
        };
        let recipe = &json["recipe"];
        // The engine's request encoding, which the cache stores as text.
        let request: serde_json::Value =
            serde_json::from_str(recipe["request"].as_str().unwrap()).unwrap();
        found
            .entry(recipe["model"].as_str().unwrap().to_owned())
            .or_default()
            .insert(request["seed"].as_i64().unwrap() as i32);
    }
    found
}

#[test]
fn a_shared_folder_survives_kills_swaps_and_truncation_unpoisoned() {
    let work = tempfile::tempdir().unwrap();
    let (cache, package) = (work.path().join("cache"), work.path().join("model"));
    common::copy_dir(&common::fixture_model(), &package);
    let original = work.path().join("original-unet.onnx");
    std::fs::copy(package.join("unet/model.onnx"), &original).unwrap();
    // Two clean packages, never touched, to regenerate each identity's clips.
    let clean_a = work.path().join("clean-a");
    let clean_b = work.path().join("clean-b");
    common::copy_dir(&package, &clean_a);
    common::copy_dir(&package, &clean_b);
    std::fs::copy(alt_unet(), clean_b.join("unet/model.onnx")).unwrap();

    let seeds: Vec<String> = (0..SEEDS).map(|s| s.to_string()).collect();
    let seeds = seeds.join(",");
    let mut workers: Vec<Child> = (0..WORKERS)
        .map(|_| spawn("generate", &package, &cache, &seeds))
        .collect();
    // The chaos starts once the workers are up and have stored a first clip.
    for _ in 0..600 {
        if !stored_clips(&cache).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Seeded: the chaos is reproducible up to the operating system's timing.
    let mut dice = fastrand::Rng::with_seed(0x5eed_c4a0_5eed_c4a0);
    let mut alt = false;
    for _ in 0..ROUNDS {
        std::thread::sleep(ROUND);
        match dice.usize(..10) {
            0 => {
                let victim = dice.usize(..WORKERS);
                let _ = workers[victim].kill();
                let _ = workers[victim].wait();
                workers[victim] = spawn("generate", &package, &cache, &seeds);
            }
            1..=3 => {
                alt = !alt;
                swap_unet(&package, &if alt { alt_unet() } else { original.clone() });
            }
            4 => truncate_an_entry(&cache, &mut dice),
            _ => {}
        }
    }
    for mut worker in workers {
        let _ = worker.kill();
        let _ = worker.wait();
    }

    let stored = stored_clips(&cache);
    assert!(!stored.is_empty(), "the workers stored no clip at all");
    let identity_of = |dir: &Path| {
        let fresh = tempfile::tempdir().unwrap();
        let line = clip_hashes(dir, fresh.path(), &BTreeSet::from([0]));
        assert_eq!(line.len(), 1);
        let found = stored_clips(fresh.path());
        found.into_keys().next().unwrap()
    };
    let clean: BTreeMap<String, PathBuf> = BTreeMap::from([
        (identity_of(&clean_a), clean_a),
        (identity_of(&clean_b), clean_b),
    ]);
    for (identity, seeds) in &stored {
        let dir = clean
            .get(identity)
            .unwrap_or_else(|| panic!("an entry of unknown model content {identity}"));
        let fresh = tempfile::tempdir().unwrap();
        let served = clip_hashes(dir, &cache, seeds);
        let regenerated = clip_hashes(dir, fresh.path(), seeds);
        assert_eq!(served.len(), seeds.len());
        assert_eq!(
            served, regenerated,
            "clips of {identity} differ from a clean regeneration"
        );
    }
}

/// Not a test on its own: the render process of the chaos test when `T2V_CHAOS` is set. `generate`
/// renders the clips of `T2V_CHAOS_SEEDS` round after round until killed; `verify` renders each once
/// and prints `clip SEED HASH` (a hash of its three frames' float pixels).
#[test]
fn chaos_worker() {
    let Ok(mode) = std::env::var("T2V_CHAOS") else {
        return;
    };
    let var = |name: &str| PathBuf::from(std::env::var_os(name).unwrap());
    let (package, cache) = (var("T2V_CHAOS_PACKAGE"), var("T2V_CHAOS_CACHE"));
    let seeds: Vec<i32> = std::env::var("T2V_CHAOS_SEEDS")
        .unwrap()
        .split(',')
        .map(|s| s.parse().unwrap())
        .collect();
    let session = common::load(HostConfig::default());
    // A throw-away instance per clip, as some hosts make them: the model is loaded again each time.
    let render_clip = |seed: i32| -> Option<u64> {
        let instance = common::instance(&session, Context::Generator, &cache);
        instance
            .set_param("customModel", package.to_string_lossy().as_ref())
            .unwrap();
        instance.set_param("seed", seed).unwrap();
        let mut hasher = DefaultHasher::new();
        for time in 0..3 {
            let image = instance.render(&Render::frame(time as f64)).ok()?;
            for value in image.to_f32() {
                value.to_bits().hash(&mut hasher);
            }
        }
        Some(hasher.finish())
    };
    if mode == "verify" {
        for &seed in &seeds {
            let hash = render_clip(seed).expect("a clean package renders");
            println!("clip {seed} {hash}");
        }
        return;
    }
    let mut dice = fastrand::Rng::with_seed(u64::from(std::process::id()));
    loop {
        let _ = render_clip(seeds[dice.usize(..seeds.len())]);
    }
}
