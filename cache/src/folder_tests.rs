//! What the cache may touch in its disk folder, whatever else is in it: only its own entries are evicted or
//! cleared, no file is read or written through a symlink, and a FIFO or device never blocks a read.

use crate::cache_tests::{clip_for, fetch_fresh, names_in, opts, without_hanging, MB};
use crate::recipe::sample_recipe;
use crate::store::entry_usage;
use crate::{ClearReport, ClipCache, Recipe, Source};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

fn small(prompt: &str) -> Recipe {
    let mut recipe = sample_recipe(prompt);
    (recipe.width, recipe.height) = (32, 32);
    recipe
}

fn mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

/// Things a user keeps in the cache folder that look like entries by name, and an outside folder.
struct Planted {
    outside: tempfile::TempDir,
    names: Vec<String>,
}

fn plant_lookalikes(root: &Path) -> Planted {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("precious"), b"keep").unwrap();
    let hex = |digit: char| digit.to_string().repeat(64);
    // A folder of the user's: a 21 GiB sparse file (apparent size) and a note.
    fs::create_dir(root.join(hex('1'))).unwrap();
    let big = fs::File::create(root.join(hex('1')).join("big.bin")).unwrap();
    big.set_len(21 << 30).unwrap();
    fs::write(root.join(hex('1')).join("notes.txt"), b"mine").unwrap();
    // A file, a symlink to a folder outside, and a folder whose clip.json is another entry's.
    fs::write(root.join(hex('2')), b"a file").unwrap();
    symlink(outside.path(), root.join(hex('3'))).unwrap();
    fs::create_dir(root.join(hex('4'))).unwrap();
    // Scratch-like names that are not folders.
    fs::write(root.join(".tmp-notes"), b"x").unwrap();
    fs::write(root.join(".trash-notes"), b"x").unwrap();
    let mut names: Vec<String> = ['1', '2', '3', '4'].map(hex).into();
    names.extend([".tmp-notes".into(), ".trash-notes".into()]);
    Planted { outside, names }
}

/// The planted things are exactly as planted.
fn assert_untouched(root: &Path, planted: &Planted) {
    let hex = |digit: char| digit.to_string().repeat(64);
    let user = root.join(hex('1'));
    assert_eq!(fs::metadata(user.join("big.bin")).unwrap().len(), 21 << 30);
    assert_eq!(fs::read(user.join("notes.txt")).unwrap(), b"mine");
    assert_eq!(fs::read(root.join(hex('2'))).unwrap(), b"a file");
    assert_eq!(
        fs::read_link(root.join(hex('3'))).unwrap(),
        planted.outside.path()
    );
    assert_eq!(names_in(planted.outside.path()), ["precious"]);
    assert_eq!(
        fs::read(planted.outside.path().join("precious")).unwrap(),
        b"keep"
    );
    for name in &planted.names {
        assert!(
            fs::symlink_metadata(root.join(name)).is_ok(),
            "{name} is gone"
        );
    }
}

#[test]
fn eviction_and_clear_all_touch_only_our_entries() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let [a, b, c] = ["a", "b", "c"].map(small);
    let cache = ClipCache::new(64 * MB, u64::MAX);
    let fetch = |r: &Recipe| {
        cache
            .get_or_generate(r, &opts(root), || Ok::<_, String>(clip_for(r)))
            .unwrap()
    };
    fetch(&a);
    fetch(&b);
    let planted = plant_lookalikes(root);
    // The look-alike folder carries a real clip.json, but one naming another key.
    let hex4 = root.join("4".repeat(64));
    fs::copy(
        root.join(a.key().as_str()).join("clip.json"),
        hex4.join("clip.json"),
    )
    .unwrap();

    // Room for two entries: writing `c` evicts `a`, the least recently used; nothing else counts or goes.
    let usage = |r: &Recipe| entry_usage(&root.join(r.key().as_str()));
    cache.set_disk_cap(usage(&a) + usage(&b) + usage(&a) / 2);
    fetch(&c);
    let present = |r: &Recipe| root.join(r.key().as_str()).exists();
    assert_eq!([present(&a), present(&b), present(&c)], [false, true, true]);
    assert_untouched(root, &planted);

    let report = cache.clear_all(Some(root)).unwrap();
    assert_eq!(
        report,
        ClearReport {
            removed: 2,
            failed: vec![],
            refused: None
        }
    );
    assert_eq!(report.to_string(), "Cleared 2 clips");
    assert_untouched(root, &planted);
    let mut left = planted.names.clone();
    left.extend([".locks".into(), "CACHEDIR.TAG".into()]);
    left.sort();
    assert_eq!(names_in(root), left);
}

#[test]
fn a_folder_of_other_files_without_our_tag_is_never_written_nor_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Documents");
    fs::create_dir(&root).unwrap();
    fs::write(root.join("notes.txt"), b"mine").unwrap();
    // An entry of ours got there too (copied from a cache): still not ours to remove in this folder.
    let elsewhere = tempfile::tempdir().unwrap();
    let copied = sample_recipe("copied");
    let from = fetch_fresh(elsewhere.path(), &copied, &AtomicUsize::new(0));
    fs::rename(from.location.unwrap(), root.join(copied.key().as_str())).unwrap();

    let recipe = sample_recipe("refused");
    let got = fetch_fresh(&root, &recipe, &AtomicUsize::new(0));
    assert_eq!((got.source, got.location), (Source::Generated, None));
    let why = "it holds \"notes.txt\", which is not the cache's, and no CACHEDIR.TAG of this plugin, so the \
         cache writes and removes nothing there (choose an empty folder)";
    assert_eq!(
        got.disk_error.unwrap(),
        format!("cannot use cache folder {}: {why}", root.display())
    );
    let report = ClipCache::new(MB, u64::MAX).clear_all(Some(&root)).unwrap();
    assert_eq!(
        report.to_string(),
        format!("Cleared no clips on disk: {}: {why}", root.display())
    );
    let mut expected = vec![copied.key().to_string(), "notes.txt".into()];
    expected.sort();
    assert_eq!(names_in(&root), expected);
    // Reading is harmless, so the copied entry is still served.
    let peeked = ClipCache::new(MB, u64::MAX).peek(&copied, Some(&root));
    assert_eq!(peeked.map(|f| f.source), Some(Source::Disk));
}

#[test]
fn an_untagged_folder_holding_only_cache_things_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let generations = AtomicUsize::new(0);
    let old = sample_recipe("from an older version");
    fetch_fresh(dir.path(), &old, &generations);
    fs::remove_file(dir.path().join("CACHEDIR.TAG")).unwrap();
    fetch_fresh(dir.path(), &sample_recipe("new"), &generations);
    assert!(crate::marker::is_marked(dir.path()));
    let report = ClipCache::new(MB, u64::MAX)
        .clear_all(Some(dir.path()))
        .unwrap();
    assert_eq!(report.to_string(), "Cleared 2 clips");
}

#[test]
fn a_tag_another_process_is_still_writing_does_not_make_the_folder_foreign() {
    // The other process has created CACHEDIR.TAG and not yet written it; it does so a moment later.
    let dir = tempfile::tempdir().unwrap();
    fs::File::create_new(dir.path().join("CACHEDIR.TAG")).unwrap();
    let root = dir.path().to_path_buf();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        fs::remove_file(root.join("CACHEDIR.TAG")).unwrap();
        crate::marker::mark(&root).unwrap();
    });
    let generations = AtomicUsize::new(0);
    let got = fetch_fresh(dir.path(), &sample_recipe("tagged meanwhile"), &generations);
    writer.join().unwrap();
    assert_eq!(got.disk_error, None);
    assert!(got.location.is_some());
}

#[test]
fn a_fifo_in_an_entry_neither_freezes_a_peek_nor_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = sample_recipe("fifo");
    let generations = AtomicUsize::new(0);
    let first = fetch_fresh(dir.path(), &recipe, &generations);
    let frame = first.location.unwrap().join("frame_0001.png");
    fs::remove_file(&frame).unwrap();
    mkfifo(&frame);

    let (folder, peeked) = (dir.path().to_path_buf(), recipe.clone());
    let peek = without_hanging(Duration::from_secs(10), move || {
        ClipCache::new(MB, u64::MAX).peek(&peeked, Some(&folder))
    });
    assert!(peek.is_none());
    let (folder, fetched) = (dir.path().to_path_buf(), recipe.clone());
    let again = without_hanging(Duration::from_secs(10), move || {
        let generations = AtomicUsize::new(0);
        fetch_fresh(&folder, &fetched, &generations).source
    });
    assert_eq!(again, Source::Generated);
    assert_eq!(
        fetch_fresh(dir.path(), &recipe, &generations).clip,
        first.clip
    );
}

#[test]
fn symlinks_in_the_lock_folder_are_never_followed() {
    let recipe = sample_recipe("locks");
    let key = recipe.key();

    // In a folder the cache already uses, `.locks` is replaced by a symlink to a folder outside.
    let dir = tempfile::tempdir().unwrap();
    fetch_fresh(dir.path(), &sample_recipe("first"), &AtomicUsize::new(0));
    fs::remove_dir_all(dir.path().join(".locks")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    symlink(outside.path(), dir.path().join(".locks")).unwrap();
    let got = fetch_fresh(dir.path(), &recipe, &AtomicUsize::new(0));
    assert_eq!((got.source, got.location), (Source::Generated, None));
    assert_eq!(*got.clip, clip_for(&recipe).quantized());
    assert_eq!(
        got.disk_error.unwrap(),
        format!(
            "cannot use cache folder {0}: {0}/.locks is not a folder (a symlink or file); the cache \
             does not follow it",
            dir.path().display()
        )
    );
    assert!(names_in(outside.path()).is_empty());

    // The key's lock file, then its holder record, is a symlink to a file outside (existing or not).
    for (name, target) in [
        ("lock", "precious"),
        ("holder", "precious"),
        ("lock", "new"),
        ("holder", "new"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("precious"), b"keep").unwrap();
        let locks = dir.path().join(".locks");
        fs::create_dir(&locks).unwrap();
        let link = locks.join(format!("{key}.{name}"));
        symlink(outside.path().join(target), &link).unwrap();
        let got = fetch_fresh(dir.path(), &recipe, &AtomicUsize::new(0));
        assert_eq!(
            (got.source, got.location),
            (Source::Generated, None),
            "{name}"
        );
        assert_eq!(
            got.disk_error.unwrap(),
            format!(
                "cannot use cache folder {}: {}: Too many levels of symbolic links (os error 40)",
                dir.path().display(),
                link.display()
            )
        );
        assert_eq!(names_in(outside.path()), ["precious"], "{name} → {target}");
        assert_eq!(fs::read(outside.path().join("precious")).unwrap(), b"keep");
    }
}
