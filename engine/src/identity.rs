//! Content identity of a model package, so a clip key changes whenever any file of the model changes
//! (re-export, new weights, a file replaced in place) and not when the same package sits in another folder.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use parking_lot::Mutex;

use crate::error::EngineError;
use crate::walk::{walk, PackageFile, PackageTree};

/// Times a package is read again when it changes while it is being hashed or loaded.
const TRIES: usize = 3;

/// What `stat` tells of one file. ctime, inode and device change whenever the file is written or replaced,
/// even by `cp -p` or `rsync -a`, which restore size and mtime.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Stamp {
    rel: String,
    size: u64,
    modified: Option<SystemTime>,
    changed: (i64, i64),
    inode: u64,
    device: u64,
}

impl Stamp {
    fn of(file: &PackageFile) -> Self {
        #[cfg(unix)]
        let (changed, inode, device) = {
            use std::os::unix::fs::MetadataExt;
            let m = &file.meta;
            ((m.ctime(), m.ctime_nsec()), m.ino(), m.dev())
        };
        #[cfg(not(unix))]
        let (changed, inode, device) = ((0, 0), 0, 0);
        Self {
            rel: file.rel.clone(),
            size: file.meta.len(),
            modified: file.meta.modified().ok(),
            changed,
            inode,
            device,
        }
    }
}

/// The stamps of every file of a package (in its canonical folder): while they are unchanged, so is its
/// content, and the stored digest is reused.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint {
    root: PathBuf,
    files: Vec<Stamp>,
}

impl Fingerprint {
    fn of(tree: &PackageTree) -> Self {
        Self {
            root: tree.root.clone(),
            files: tree.files.iter().map(Stamp::of).collect(),
        }
    }

    /// The package's fingerprint now (walking it under the package rules, see `walk`).
    pub(crate) fn read(dir: &Path) -> Result<Self, EngineError> {
        walk(dir).map(|tree| Self::of(&tree))
    }
}

type Memo = Mutex<HashMap<Fingerprint, Arc<Mutex<Option<String>>>>>;

/// `"blake3:<hex>"` over every regular file of the package (symlinks inside it followed, see `walk`), in byte
/// order of their `/`-separated relative paths: for each file the u64-LE length and bytes of the path, then the
/// u64-LE length and bytes of the content.
///
/// Hashing gigabytes of weights takes seconds, so the result is memoised process-wide by the package's
/// [`Fingerprint`] (per file: path, size, mtime, ctime, inode, device); concurrent callers for one package wait
/// for a single computation. A package that changes while it is hashed is hashed again, so an identity never
/// describes a mix of old and new files.
pub fn model_identity(dir: &Path) -> Result<String, EngineError> {
    identify(dir).map(|(_, identity)| identity)
}

/// [`model_identity`] and the fingerprint of exactly the files it describes.
pub(crate) fn identify(dir: &Path) -> Result<(Fingerprint, String), EngineError> {
    static MEMO: OnceLock<Memo> = OnceLock::new();
    let memo = MEMO.get_or_init(Default::default);
    for _ in 0..TRIES {
        let tree = walk(dir)?;
        let fingerprint = Fingerprint::of(&tree);
        let slot = {
            let mut memo = memo.lock();
            // Older contents of this folder are not asked for again; keep the memo to one entry per folder.
            memo.retain(|k, _| k.root != fingerprint.root || *k == fingerprint);
            memo.entry(fingerprint.clone()).or_default().clone()
        };
        let mut slot = slot.lock();
        if let Some(identity) = slot.as_ref() {
            return Ok((fingerprint, identity.clone()));
        }
        let identity = digest(dir, &tree)?;
        if Fingerprint::read(dir)? == fingerprint {
            *slot = Some(identity.clone());
            return Ok((fingerprint, identity));
        }
        log::warn!(
            "{} changed while it was hashed; hashing it again",
            dir.display()
        );
    }
    Err(EngineError::package(
        dir,
        format!(
            "changed while it was being read ({TRIES} tries); render again once it stops changing"
        ),
    ))
}

fn digest(dir: &Path, tree: &PackageTree) -> Result<String, EngineError> {
    let mut hasher = blake3::Hasher::new();
    let mut buffer = Vec::new();
    for file in &tree.files {
        let cannot = |e: std::io::Error| {
            EngineError::package(dir, format!("{} cannot be read: {e}", file.rel))
        };
        hasher.update(&(file.rel.len() as u64).to_le_bytes());
        hasher.update(file.rel.as_bytes());
        let mut f = fs::File::open(tree.root.join(&file.rel)).map_err(cannot)?;
        hasher.update(&f.metadata().map_err(cannot)?.len().to_le_bytes());
        hash_contents(&mut hasher, &mut f, &mut buffer).map_err(cannot)?;
    }
    Ok(format!("blake3:{}", hasher.finalize().to_hex()))
}

/// Bytes read and hashed at a time: large enough that blake3 spreads each chunk over every core.
const HASH_CHUNK: usize = 16 << 20;

/// Feeds everything `reader` holds to `hasher`, a chunk at a time, each hashed on all cores (a multi-GB
/// package would otherwise keep one core busy for a minute). Plain reads, not a memory map: a file
/// truncated while mapped would kill the host with SIGBUS, and packages can change while they are read.
fn hash_contents(
    hasher: &mut blake3::Hasher,
    reader: &mut impl Read,
    buffer: &mut Vec<u8>,
) -> std::io::Result<()> {
    buffer.resize(HASH_CHUNK, 0);
    loop {
        let mut filled = 0;
        while filled < buffer.len() {
            match reader.read(&mut buffer[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        hasher.update_rayon(&buffer[..filled]);
        if filled < buffer.len() {
            return Ok(());
        }
    }
}

/// Runs `load` on the package in `dir`, giving it the identity of exactly the files it reads: the fingerprint
/// is taken before and after, and when the package changed in between (a file swapped while it loaded) the load
/// is repeated, up to [`TRIES`] times.
pub(crate) fn load_consistent<T>(
    dir: &Path,
    mut load: impl FnMut(String) -> Result<T, EngineError>,
) -> Result<T, EngineError> {
    for _ in 0..TRIES {
        let (before, identity) = identify(dir)?;
        let loaded = load(identity);
        if Fingerprint::read(dir)? == before {
            return loaded;
        }
        log::warn!(
            "{} changed while it was loaded; loading it again",
            dir.display()
        );
    }
    Err(EngineError::package(
        dir,
        format!("changed while it was being loaded ({TRIES} tries); render again once it stops changing"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, content: &[u8]) {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    #[test]
    fn digest_matches_the_documented_encoding() {
        let dir = tempfile::tempdir().unwrap();
        // Larger than two hashing chunks, so the chunked reads are part of what is checked.
        let weights: Vec<u8> = (0..2 * HASH_CHUNK + 3)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        write(dir.path(), "unet/model.onnx", &weights);
        write(dir.path(), "model_index.json", b"{}");
        let mut expected = blake3::Hasher::new();
        for (path, content) in [
            ("model_index.json", &b"{}"[..]),
            ("unet/model.onnx", &weights),
        ] {
            expected.update(&(path.len() as u64).to_le_bytes());
            expected.update(path.as_bytes());
            expected.update(&(content.len() as u64).to_le_bytes());
            expected.update(content);
        }
        assert_eq!(
            model_identity(dir.path()).unwrap(),
            format!("blake3:{}", expected.finalize().to_hex())
        );
    }

    #[test]
    fn same_content_elsewhere_is_the_same_model_and_edits_are_seen() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for dir in [a.path(), b.path()] {
            write(dir, "model_index.json", b"{}");
            write(dir, "vae_decoder/model.onnx", b"vae");
        }
        let first = model_identity(a.path()).unwrap();
        assert_eq!(model_identity(b.path()).unwrap(), first);
        write(b.path(), "vae_decoder/model.onnx", b"vae2");
        assert_ne!(model_identity(b.path()).unwrap(), first);
    }

    #[cfg(unix)]
    #[test]
    fn a_same_size_replacement_that_keeps_the_mtime_is_seen() {
        // What `cp -p` and `rsync -a` do: new bytes, the old size and mtime.
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "model_index.json", b"{}");
        let path = dir.path().join("model_index.json");
        let before = model_identity(dir.path()).unwrap();
        let old = fs::metadata(&path).unwrap();
        let ctime = |m: &fs::Metadata| {
            use std::os::unix::fs::MetadataExt;
            (m.ctime(), m.ctime_nsec())
        };
        // Rewritten until the clock has moved on (a write in the same timestamp tick is invisible to stat).
        while ctime(&fs::metadata(&path).unwrap()) == ctime(&old) {
            fs::write(&path, b"[]").unwrap();
            let file = fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(old.modified().unwrap()).unwrap();
        }
        let new = fs::metadata(&path).unwrap();
        assert_eq!(
            (new.len(), new.modified().unwrap()),
            (old.len(), old.modified().unwrap())
        );
        let after = model_identity(dir.path()).unwrap();
        assert_ne!(after, before);
        write(dir.path(), "model_index.json", b"{}");
        assert_eq!(model_identity(dir.path()).unwrap(), before);
    }

    #[test]
    fn a_package_that_changes_while_loading_is_loaded_again() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "unet/model.onnx", b"old");
        let mut loads = 0;
        let (read, identity) = load_consistent(dir.path(), |identity| {
            loads += 1;
            let content = fs::read(dir.path().join("unet/model.onnx")).unwrap();
            if loads == 1 {
                // swapped in atomically while this load reads the old file
                write(dir.path(), "unet/new", b"new");
                fs::rename(
                    dir.path().join("unet/new"),
                    dir.path().join("unet/model.onnx"),
                )
                .unwrap();
            }
            Ok((content, identity))
        })
        .unwrap();
        assert_eq!((loads, read.as_slice()), (2, &b"new"[..]));
        assert_eq!(identity, model_identity(dir.path()).unwrap());

        let mut n = 0u8;
        let err = load_consistent(dir.path(), |_| {
            n += 1;
            write(dir.path(), "unet/model.onnx", &vec![n; n as usize]);
            Ok(())
        })
        .unwrap_err();
        assert_eq!(n, 3);
        assert_eq!(
            err.to_string(),
            format!(
                "model folder {}: changed while it was being loaded (3 tries); render again once it \
                 stops changing",
                dir.path().display()
            )
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_link_out_of_the_package_is_refused_not_hashed() {
        let (pkg, outside) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write(pkg.path(), "model_index.json", b"{}");
        write(outside.path(), "model.onnx", b"someone else's file");
        std::os::unix::fs::symlink(outside.path(), pkg.path().join("vae_decoder")).unwrap();
        assert_eq!(
            model_identity(pkg.path()).unwrap_err().to_string(),
            format!(
                "model folder {}: vae_decoder is a link to {}, outside the model folder",
                pkg.path().display(),
                fs::canonicalize(outside.path()).unwrap().display()
            )
        );
    }

    #[test]
    fn a_missing_folder_is_a_package_error() {
        let err = model_identity(Path::new("/nonexistent/t2v-model")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "model folder /nonexistent/t2v-model: cannot be read: No such file or directory (os error 2)"
        );
    }
}
