//! Behaviour of `ClipCache` across threads, processes, crashes and damaged or unwritable folders.

use crate::holder::{self, Holder};
use crate::recipe::sample_recipe;
use crate::store::{entry_usage, hooks};
use crate::{Clip, ClipCache, GetError, Options, Recipe, Source};
use parking_lot::Mutex;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;
use std::{fs, thread};

pub(crate) const MB: usize = 1 << 20;

/// A deterministic clip for `recipe`: pixel values depend on the prompt, frame and position.
pub(crate) fn clip_for(recipe: &Recipe) -> Clip {
    let salt = recipe.request.len() as f32;
    let n = (recipe.width * recipe.height * 3) as usize;
    let frames = (0..recipe.frames)
        .map(|f| {
            (0..n)
                .map(|i| ((i as f32 * 0.37 + f as f32 + salt) % 10.0) / 9.0)
                .collect()
        })
        .collect();
    Clip::new(recipe.width, recipe.height, frames).unwrap()
}

pub(crate) fn opts(folder: &Path) -> Options<'_> {
    Options {
        folder: Some(folder),
        plugin_version: "test",
        should_abort: None,
        on_wait: None,
    }
}

/// Fetches through a fresh cache (an empty memory tier, like a new process), counting generations.
pub(crate) fn fetch_fresh(
    folder: &Path,
    recipe: &Recipe,
    generations: &AtomicUsize,
) -> crate::Fetched {
    ClipCache::new(64 * MB, u64::MAX)
        .get_or_generate(recipe, &opts(folder), || {
            generations.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(clip_for(recipe))
        })
        .unwrap()
}

/// The names in `folder`, sorted: what a cache operation left behind.
pub(crate) fn names_in(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Runs `f` on a thread and returns its result, failing the test if it has not returned after `limit`: a
/// hang detector (the old code blocked forever), not a timing test.
pub(crate) fn without_hanging<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(f()));
    rx.recv_timeout(limit).expect("the call hung")
}

/// Fetches through a fresh cache with a 2 s lock takeover, returning what it told its user while waiting.
fn fetch_waiting(folder: &Path, recipe: &Recipe) -> (crate::Fetched, Vec<String>) {
    fetch_waiting_counted(folder, recipe, &AtomicUsize::new(0), &|| ())
}

/// [`fetch_waiting`], counting its generation in `generations` and calling `told` after each message.
fn fetch_waiting_counted(
    folder: &Path,
    recipe: &Recipe,
    generations: &AtomicUsize,
    told: &dyn Fn(),
) -> (crate::Fetched, Vec<String>) {
    let messages = Mutex::new(Vec::new());
    let note = |text: &str| {
        messages.lock().push(text.to_owned());
        told();
    };
    let cache = ClipCache::new(64 * MB, u64::MAX);
    cache.set_lock_takeover(Duration::from_secs(2));
    let options = Options {
        on_wait: Some(&note),
        ..opts(folder)
    };
    let got = cache
        .get_or_generate(recipe, &options, || {
            generations.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(clip_for(recipe))
        })
        .unwrap();
    (got, messages.into_inner())
}

#[test]
fn sixteen_threads_on_four_keys_generate_four_times() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ClipCache::new(64 * MB, u64::MAX);
    let generations = AtomicUsize::new(0);
    let start = Barrier::new(16);
    let sources: Vec<Source> = thread::scope(|s| {
        let workers: Vec<_> = (0..16)
            .map(|i| {
                let (cache, generations, start, dir) = (&cache, &generations, &start, dir.path());
                s.spawn(move || {
                    let recipe = sample_recipe(&format!("key {}", i % 4));
                    start.wait();
                    let got = cache
                        .get_or_generate(&recipe, &opts(dir), || {
                            generations.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, String>(clip_for(&recipe))
                        })
                        .unwrap();
                    assert_eq!(*got.clip, clip_for(&recipe).quantized());
                    got.source
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(generations.load(Ordering::SeqCst), 4);
    assert_eq!(
        sources.iter().filter(|s| **s == Source::Generated).count(),
        4
    );
    assert!(sources
        .iter()
        .all(|s| matches!(s, Source::Generated | Source::Shared | Source::Memory)));
}

#[test]
fn a_fresh_instance_serves_from_disk_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = sample_recipe("restart");
    let generations = AtomicUsize::new(0);
    let first = fetch_fresh(dir.path(), &recipe, &generations);
    assert_eq!(first.source, Source::Generated);
    assert_eq!(
        first.location.as_deref(),
        Some(dir.path().join(recipe.key().as_str()).as_path())
    );
    assert_eq!(first.disk_error, None);
    let again = fetch_fresh(dir.path(), &recipe, &generations);
    assert_eq!(
        (again.source, generations.load(Ordering::SeqCst)),
        (Source::Disk, 1)
    );
    assert_eq!(again.clip, first.clip);
    assert_eq!(again.generation_seconds, first.generation_seconds);
}

#[test]
fn damaged_entries_are_regenerated_never_served() {
    type Damage = (&'static str, fn(&mut Vec<u8>));
    let damage: [Damage; 4] = [
        ("frame_0001.png", |b| b[60] ^= 0x01),
        ("frame_0002.png", |b| b.truncate(b.len() - 9)),
        ("clip.json", |b| b.truncate(b.len() / 2)),
        ("clip.json", |b| b[20] ^= 0x04),
    ];
    for (file, spoil) in damage {
        let dir = tempfile::tempdir().unwrap();
        let recipe = sample_recipe("damaged");
        let generations = AtomicUsize::new(0);
        let first = fetch_fresh(dir.path(), &recipe, &generations);
        let path = first.location.unwrap().join(file);
        let mut bytes = fs::read(&path).unwrap();
        spoil(&mut bytes);
        fs::write(&path, bytes).unwrap();

        assert!(
            ClipCache::new(64 * MB, u64::MAX)
                .peek(&recipe, Some(dir.path()))
                .is_none(),
            "{file}"
        );
        let again = fetch_fresh(dir.path(), &recipe, &generations);
        assert_eq!(
            (again.source, generations.load(Ordering::SeqCst)),
            (Source::Generated, 2),
            "{file}"
        );
        assert_eq!(again.clip, first.clip);
        // The rewritten entry is whole again.
        assert_eq!(
            fetch_fresh(dir.path(), &recipe, &generations).source,
            Source::Disk
        );
    }
}

#[test]
fn the_size_cap_evicts_the_least_recently_read_entry() {
    let dir = tempfile::tempdir().unwrap();
    let generations = AtomicUsize::new(0);
    let [a, b, c] = ["a", "b", "c"].map(|p| {
        let mut recipe = sample_recipe(p);
        (recipe.width, recipe.height) = (32, 32);
        recipe
    });
    let entry_size = |r: &Recipe| entry_usage(&dir.path().join(r.key().as_str()));
    let cache = ClipCache::new(64 * MB, u64::MAX);
    let fetch = |r: &Recipe| {
        cache
            .get_or_generate(r, &opts(dir.path()), || Ok::<_, String>(clip_for(r)))
            .unwrap();
    };
    fetch(&a);
    fetch(&b);
    cache.set_disk_cap(entry_size(&a) + entry_size(&b) + entry_size(&a) / 2);
    // Reading `a` from disk (a fresh memory tier) makes `b` the least recently used.
    assert_eq!(
        fetch_fresh(dir.path(), &a, &generations).source,
        Source::Disk
    );
    fetch(&c);
    let present = |r: &Recipe| dir.path().join(r.key().as_str()).exists();
    assert_eq!([present(&a), present(&b), present(&c)], [true, false, true]);
    assert_eq!(generations.load(Ordering::SeqCst), 0);
}

#[test]
fn an_unwritable_folder_still_returns_the_clip_with_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    fs::write(&file, b"").unwrap();
    let folder = file.join("cache");
    let recipe = sample_recipe("unwritable");
    let got = fetch_fresh(&folder, &recipe, &AtomicUsize::new(0));
    assert_eq!((got.source, got.location), (Source::Generated, None));
    assert_eq!(*got.clip, clip_for(&recipe).quantized());
    let error = got.disk_error.unwrap();
    assert!(
        error.starts_with(&format!("cannot use cache folder {}: ", folder.display())),
        "{error}"
    );
}

#[test]
fn a_write_failing_midway_leaves_nothing_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    hooks::set(dir.path(), |index| match index {
        1 => Err(std::io::Error::other("No space left on device (simulated)")),
        _ => Ok(()),
    });
    let recipe = sample_recipe("disk full");
    let got = fetch_fresh(dir.path(), &recipe, &AtomicUsize::new(0));
    assert_eq!(
        got.disk_error.as_deref(),
        Some(
            format!(
                "cannot store clip in {}: No space left on device (simulated)",
                dir.path().display()
            )
            .as_str()
        )
    );
    assert_eq!(got.location, None);
    assert_eq!(names_in(dir.path()), [".locks", "CACHEDIR.TAG"]);
}

#[test]
fn a_failed_or_panicking_leader_is_taken_over_by_a_waiter() {
    for panics in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let cache = ClipCache::new(64 * MB, u64::MAX);
        let recipe = sample_recipe("handover");
        let generations = AtomicUsize::new(0);
        let (waiting_tx, waiting_rx) = mpsc::channel::<()>();
        let (cache, recipe, generations, folder) = (&cache, &recipe, &generations, dir.path());
        let (leader, waiter) = thread::scope(|s| {
            let leader = s.spawn(move || {
                cache.get_or_generate(recipe, &opts(folder), || {
                    generations.fetch_add(1, Ordering::SeqCst);
                    waiting_rx.recv().unwrap(); // the waiter is blocked on this flight
                    if panics {
                        panic!("generator crashed");
                    }
                    Err::<Clip, _>("cancelled by the user")
                })
            });
            while generations.load(Ordering::SeqCst) == 0 {
                thread::yield_now();
            }
            let waiter = s.spawn(|| {
                let signal = || {
                    let _ = waiting_tx.send(());
                    false
                };
                let options = Options {
                    should_abort: Some(&signal),
                    ..opts(folder)
                };
                cache.get_or_generate(recipe, &options, || {
                    generations.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, &str>(clip_for(recipe))
                })
            });
            (leader.join(), waiter.join().unwrap())
        });
        match leader {
            Ok(result) => assert!(
                !panics && matches!(result, Err(GetError::Generate("cancelled by the user")))
            ),
            Err(_) => assert!(panics),
        }
        let waiter = waiter.unwrap();
        assert_eq!(
            (waiter.source, generations.load(Ordering::SeqCst)),
            (Source::Generated, 2)
        );
        assert!(waiter.location.unwrap().join("clip.json").exists());
    }
}

#[test]
fn a_waiter_for_another_thread_can_stop_waiting_and_is_told_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ClipCache::new(64 * MB, u64::MAX);
    let recipe = sample_recipe("abort");
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (cache, recipe, folder) = (&cache, &recipe, dir.path());
    thread::scope(|s| {
        let leader = s.spawn(move || {
            cache.get_or_generate(recipe, &opts(folder), || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                Ok::<_, String>(clip_for(recipe))
            })
        });
        started_rx.recv().unwrap();
        let abort = || true;
        let told = Mutex::new(Vec::new());
        let note = |text: &str| told.lock().push(text.to_owned());
        let options = Options {
            should_abort: Some(&abort),
            on_wait: Some(&note),
            ..opts(dir.path())
        };
        let result = cache.get_or_generate(recipe, &options, || -> Result<Clip, String> {
            unreachable!()
        });
        assert_eq!(
            result.unwrap_err().to_string(),
            "stopped waiting for another generation of this clip"
        );
        // Another thread of this process shows its own progress: nothing to tell.
        assert_eq!(told.into_inner(), Vec::<String>::new());
        release_tx.send(()).unwrap();
        assert_eq!(leader.join().unwrap().unwrap().source, Source::Generated);
    });
}

#[test]
fn peek_resized_frames_and_clearing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ClipCache::new(64 * MB, u64::MAX);
    let recipe = sample_recipe("peek");
    assert!(cache.peek(&recipe, Some(dir.path())).is_none());
    let key = cache
        .get_or_generate(&recipe, &opts(dir.path()), || {
            Ok::<_, String>(clip_for(&recipe))
        })
        .unwrap()
        .key;
    assert_eq!(
        cache.peek(&recipe, Some(dir.path())).unwrap().source,
        Source::Memory
    );
    assert_eq!(
        ClipCache::new(MB, u64::MAX)
            .peek(&recipe, Some(dir.path()))
            .unwrap()
            .source,
        Source::Disk
    );

    let resizes = AtomicUsize::new(0);
    let resize = || {
        resizes.fetch_add(1, Ordering::SeqCst);
        Arc::<[f32]>::from(vec![0.5; 16])
    };
    let first = cache.resized_frame(&key, 2, b"4x4 fit", resize);
    let second = cache.resized_frame(&key, 2, b"4x4 fit", resize);
    assert!(Arc::ptr_eq(&first, &second));
    cache.resized_frame(&key, 2, b"4x4 fill", resize);
    assert_eq!(resizes.load(Ordering::SeqCst), 2);

    cache.clear(&key, Some(dir.path())).unwrap();
    assert!(cache.peek(&recipe, Some(dir.path())).is_none());
    cache.resized_frame(&key, 2, b"4x4 fit", resize);
    assert_eq!(resizes.load(Ordering::SeqCst), 3);

    let generations = AtomicUsize::new(0);
    for prompt in ["one", "two"] {
        fetch_fresh(dir.path(), &sample_recipe(prompt), &generations);
    }
    cache.clear_all(Some(dir.path())).unwrap();
    assert_eq!(cache.memory_used(), 0);
    assert_eq!(names_in(dir.path()), [".locks", "CACHEDIR.TAG"]);
}

#[test]
fn clear_all_goes_on_past_an_entry_it_cannot_remove() {
    let dir = tempfile::tempdir().unwrap();
    let generations = AtomicUsize::new(0);
    let recipes = ["one", "two", "three"].map(sample_recipe);
    for recipe in &recipes {
        fetch_fresh(dir.path(), recipe, &generations);
    }
    let stuck = recipes[1].key();
    let refused = stuck.clone();
    hooks::set_before_remove(dir.path(), move |key| match *key == refused {
        true => Err(std::io::Error::other("Operation not permitted (simulated)")),
        false => Ok(()),
    });
    let report = ClipCache::new(MB, u64::MAX)
        .clear_all(Some(dir.path()))
        .unwrap();
    assert_eq!(
        report.to_string(),
        format!(
            "Cleared 2 clips; 1 could not be removed: {stuck}: Operation not permitted (simulated)"
        )
    );
    let mut left = vec![
        ".locks".to_string(),
        stuck.to_string(),
        "CACHEDIR.TAG".into(),
    ];
    left.sort();
    assert_eq!(names_in(dir.path()), left);
}

#[test]
fn memory_budget_limits_what_is_kept() {
    let cache = ClipCache::new(64 * MB, u64::MAX);
    let recipe = sample_recipe("budget"); // 8x4x3 floats x 3 frames = 1152 bytes
    let no_disk = tempfile::tempdir().unwrap();
    let file = no_disk.path().join("file");
    fs::write(&file, b"").unwrap();
    cache
        .get_or_generate(&recipe, &opts(&file), || Ok::<_, String>(clip_for(&recipe)))
        .unwrap();
    assert_eq!(cache.memory_used(), 1152);
    cache.set_memory_budget(1000);
    assert_eq!(cache.memory_used(), 0);
    assert!(cache.peek(&recipe, Some(&file)).is_none());
}

#[test]
fn explicit_folder_wins() {
    assert_eq!(
        crate::cache_folder(Some(Path::new("/farm/cache"))).unwrap(),
        Path::new("/farm/cache")
    );
    assert_eq!(
        crate::cache_folder(Some(Path::new(""))),
        crate::cache_folder(None)
    );
}

#[test]
fn a_stuck_lock_holder_is_named_then_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = sample_recipe("stuck");
    let key = recipe.key();
    // Another render holds the key's lock and its record never changes: a stopped process, a wedged node.
    let locks = dir.path().join(".locks");
    fs::create_dir(&locks).unwrap();
    let lock = fs::File::create(locks.join(format!("{key}.lock"))).unwrap();
    lock.lock().unwrap();
    let holder = Holder {
        host: "render07".into(),
        pid: 4242,
        started_unix_ms: 1_796_158_991_500,
        beat: 7,
    };
    let record = serde_json::to_vec(&holder).unwrap();
    fs::write(locks.join(format!("{key}.holder")), record).unwrap();

    let folder = dir.path().to_path_buf();
    let (got, told) = without_hanging(Duration::from_secs(60), move || {
        fetch_waiting(&folder, &recipe)
    });
    let who = "host render07, pid 4242, started 21:03:11 UTC";
    assert_eq!(
        told,
        [
            format!("waiting for another render of this clip ({who})"),
            format!(
                "another render of this clip ({who}) has shown no sign of life for 2 s; generating it here"
            )
        ]
    );
    assert_eq!((got.source, got.disk_error), (Source::Generated, None));
    assert!(got.location.unwrap().join("clip.json").exists());
    drop(lock);
}

#[test]
fn a_live_lock_holder_is_waited_for_past_the_takeover_time() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = sample_recipe("slow");
    let generations = AtomicUsize::new(0);
    let (waiting_tx, waiting_rx) = mpsc::channel::<()>();
    let (recipe, generations, folder) = (&recipe, &generations, dir.path());
    let (holder, (waiter, told)) = thread::scope(|s| {
        // Another cache instance (like another process) holds the lock: slow, but its heartbeat goes on.
        let holder = s.spawn(move || {
            ClipCache::new(64 * MB, u64::MAX)
                .get_or_generate(recipe, &opts(folder), || {
                    generations.fetch_add(1, Ordering::SeqCst);
                    waiting_rx.recv().unwrap();
                    thread::sleep(Duration::from_secs(5)); // 2.5 times the waiter's takeover time
                    Ok::<_, String>(clip_for(recipe))
                })
                .unwrap()
        });
        while generations.load(Ordering::SeqCst) == 0 {
            thread::yield_now();
        }
        let waiter = s.spawn(move || {
            fetch_waiting_counted(folder, recipe, generations, &|| {
                let _ = waiting_tx.send(());
            })
        });
        (holder.join().unwrap(), waiter.join().unwrap())
    });
    assert_eq!(
        (
            holder.source,
            waiter.source,
            generations.load(Ordering::SeqCst)
        ),
        (Source::Generated, Source::Disk, 1)
    );
    let this = format!(
        "waiting for another render of this clip (host {}, pid {}, started ",
        holder::host_name(),
        std::process::id()
    );
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].starts_with(&this), "{told:?}");
}

#[cfg(unix)]
#[test]
fn only_unfinished_entries_of_dead_writers_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let generations = AtomicUsize::new(0);
    fetch_fresh(dir.path(), &sample_recipe("tags the folder"), &generations);
    let recipe = sample_recipe("swept");
    let key = recipe.key();
    let host = holder::host_name();
    let mut exited = Command::new("true").spawn().unwrap();
    let dead = exited.id();
    exited.wait().unwrap();
    // A writer in this process (as a takeover's is), one on another host, a dead one of this host, and
    // another host's untouched for two hours; then a file with such a name.
    let names = [
        format!(".tmp-{key}-{host}-{}-0", std::process::id()),
        format!(".tmp-{key}-render07-4242-0"),
        format!(".tmp-{key}-{host}-{dead}-0"),
        format!(".tmp-{key}-render08-4242-0"),
    ];
    for name in &names {
        fs::create_dir(dir.path().join(name)).unwrap();
        fs::write(dir.path().join(name).join("frame_0000.png"), b"partial").unwrap();
    }
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
    fs::File::open(dir.path().join(&names[3]))
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    let file = format!(".tmp-{key}-{host}-{dead}-1");
    fs::write(dir.path().join(&file), b"not a folder").unwrap();

    assert_eq!(
        fetch_fresh(dir.path(), &recipe, &generations).source,
        Source::Generated
    );
    let mut kept = vec![names[0].clone(), names[1].clone(), file];
    kept.sort();
    let left: Vec<String> = names_in(dir.path())
        .into_iter()
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert_eq!(left, kept);
}

// ---- tests that run this test executable again as a child process ----

const CHILD_ROLE: &str = "T2V_CACHE_TEST_CHILD";
const CHILD_DIR: &str = "T2V_CACHE_TEST_DIR";

fn spawn_child(role: &str, dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "cache_tests::child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ROLE, role)
        .env(CHILD_DIR, dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Lines the child printed that start with `prefix`, waiting until it exits.
fn child_says(child: std::process::Child, prefix: &str) -> Vec<String> {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        // The test harness prints "test <name> ... " before the child's first line.
        .filter_map(|l| l.find(prefix).map(|at| l[at..].to_string()))
        .collect()
}

/// Not a test by itself: the body of the child processes spawned by the tests below.
#[test]
fn child_process() {
    let (Ok(role), Some(dir)) = (std::env::var(CHILD_ROLE), std::env::var_os(CHILD_DIR)) else {
        return;
    };
    let dir = Path::new(&dir);
    let cache = ClipCache::new(64 * MB, u64::MAX);
    match role.as_str() {
        // Generates "shared" while the other process waits: the generator holds on until the waiter has
        // polled its abort callback at least once (it is only polled while waiting for the key's lock).
        "share" => {
            let marker = dir.join("a-process-is-waiting");
            let recipe = sample_recipe("shared");
            let note_waiting = || {
                fs::write(&marker, b"").unwrap();
                false
            };
            let options = Options {
                should_abort: Some(&note_waiting),
                ..opts(dir)
            };
            let got = cache
                .get_or_generate(&recipe, &options, || {
                    // Bounded, so a waiter that never comes fails the test instead of hanging it.
                    for _ in 0..6000 {
                        if marker.exists() {
                            break;
                        }
                        thread::sleep(std::time::Duration::from_millis(5));
                    }
                    fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(dir.join("generations"))
                        .unwrap();
                    let log = dir.join("generations");
                    let count = fs::read(&log).unwrap().len();
                    fs::write(&log, vec![b'g'; count + 1]).unwrap();
                    Ok::<_, String>(clip_for(&recipe))
                })
                .unwrap();
            println!("SOURCE {:?}", got.source);
        }
        // Freezes after writing two frames so the parent can kill it mid-write.
        "freeze" => {
            hooks::set(dir, |index| {
                if index == 1 {
                    println!("FROZEN");
                    loop {
                        thread::park();
                    }
                }
                Ok(())
            });
            let recipe = sample_recipe("killed");
            cache
                .get_or_generate(&recipe, &opts(dir), || Ok::<_, String>(clip_for(&recipe)))
                .unwrap();
        }
        // Holds the lock of "stopped" while generating forever; the parent stops the process.
        "hold" => {
            let recipe = sample_recipe("stopped");
            let _ = cache.get_or_generate(&recipe, &opts(dir), || -> Result<Clip, String> {
                println!("GENERATING");
                loop {
                    thread::park();
                }
            });
        }
        other => panic!("unknown child role {other}"),
    }
}

#[test]
fn two_processes_on_one_folder_generate_once() {
    let dir = tempfile::tempdir().unwrap();
    let children = [
        spawn_child("share", dir.path()),
        spawn_child("share", dir.path()),
    ];
    let mut sources: Vec<String> = children
        .into_iter()
        .flat_map(|c| child_says(c, "SOURCE "))
        .collect();
    sources.sort();
    assert_eq!(sources, ["SOURCE Disk", "SOURCE Generated"]);
    assert_eq!(fs::read(dir.path().join("generations")).unwrap(), b"g");
}

#[test]
fn a_writer_killed_mid_write_leaves_no_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_child("freeze", dir.path());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.unwrap().ends_with("FROZEN")));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let recipe = sample_recipe("killed");
    let key = recipe.key();
    let unfinished: Vec<_> = names_in(dir.path())
        .into_iter()
        .filter(|n| n.starts_with(&format!(".tmp-{key}-")))
        .collect();
    assert_eq!(
        unfinished.len(),
        1,
        "the child died inside its temporary folder"
    );
    assert!(dir
        .path()
        .join(&unfinished[0])
        .join("frame_0001.png")
        .exists());
    assert!(!dir.path().join(key.as_str()).exists());

    // The dead writer's lock was released by the OS; the next reader regenerates and cleans up.
    let generations = AtomicUsize::new(0);
    assert_eq!(
        fetch_fresh(dir.path(), &recipe, &generations).source,
        Source::Generated
    );
    assert_eq!(
        names_in(dir.path()),
        [".locks".to_string(), key.to_string(), "CACHEDIR.TAG".into()]
    );
    assert_eq!(
        fetch_fresh(dir.path(), &recipe, &generations).source,
        Source::Disk
    );
}

#[cfg(unix)]
#[test]
fn a_stopped_process_holding_a_lock_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_child("hold", dir.path());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.unwrap().ends_with("GENERATING")));
    let pid = child.id();
    // SAFETY: signals a child this test spawned and still owns.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGSTOP) }, 0);

    let folder = dir.path().to_path_buf();
    let (got, told) = without_hanging(Duration::from_secs(60), move || {
        fetch_waiting(&folder, &sample_recipe("stopped"))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(got.source, Source::Generated);
    let who = format!("host {}, pid {pid}, started ", holder::host_name());
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(
        told[0].starts_with(&format!("waiting for another render of this clip ({who}")),
        "{told:?}"
    );
    assert!(
        told[1].starts_with(&format!("another render of this clip ({who}"))
            && told[1].ends_with(" UTC) has shown no sign of life for 2 s; generating it here"),
        "{told:?}"
    );
}
