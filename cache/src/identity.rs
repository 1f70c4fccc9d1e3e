//! Content identity of a model package, so a clip key changes whenever any file of the model changes
//! (re-export, new weights) and not when the same package sits in another folder.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;
use std::{fs, io};

/// What a cheap `stat` walk sees of a package; when it is unchanged the stored digest is reused.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Fingerprint {
    dir: PathBuf,
    files: usize,
    total_size: u64,
    newest_mtime: Option<SystemTime>,
}

type Memo = Mutex<HashMap<Fingerprint, Arc<Mutex<Option<String>>>>>;

/// `"blake3:<hex>"` over every regular file below `dir` (symlinks followed), in byte order of their
/// `/`-separated relative paths: for each file the u64-LE length and bytes of the path, then the u64-LE
/// length and bytes of the content.
///
/// Hashing gigabytes of weights takes seconds, so the result is memoised process-wide by
/// (canonical path, file count, total size, newest mtime); concurrent callers for one package wait for a
/// single computation.
pub fn model_identity(dir: &Path) -> io::Result<String> {
    static MEMO: OnceLock<Memo> = OnceLock::new();
    let dir = fs::canonicalize(dir)?;
    let files = list_files(&dir)?;
    let mut fingerprint = Fingerprint {
        dir: dir.clone(),
        files: files.len(),
        total_size: 0,
        newest_mtime: None,
    };
    for (_, meta) in &files {
        fingerprint.total_size += meta.len();
        fingerprint.newest_mtime = fingerprint.newest_mtime.max(meta.modified().ok());
    }
    let slot = MEMO
        .get_or_init(Default::default)
        .lock()
        .entry(fingerprint)
        .or_default()
        .clone();
    let mut slot = slot.lock();
    if let Some(identity) = slot.as_ref() {
        return Ok(identity.clone());
    }
    let mut hasher = blake3::Hasher::new();
    for (relative, _) in &files {
        hasher.update(&(relative.len() as u64).to_le_bytes());
        hasher.update(relative.as_bytes());
        let mut file = fs::File::open(dir.join(relative))?;
        hasher.update(&file.metadata()?.len().to_le_bytes());
        hasher.update_reader(&mut file)?;
    }
    let identity = format!("blake3:{}", hasher.finalize().to_hex());
    *slot = Some(identity.clone());
    Ok(identity)
}

/// Regular files below `dir` as (relative `/`-separated path, metadata), sorted by path.
fn list_files(dir: &Path) -> io::Result<Vec<(String, fs::Metadata)>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in fs::read_dir(&folder)? {
            let path = entry?.path();
            let meta = fs::metadata(&path)?;
            if meta.is_dir() {
                pending.push(path);
            } else if meta.is_file() {
                let relative = path.strip_prefix(dir).map_err(io::Error::other)?;
                let parts: Vec<_> = relative.iter().map(|p| p.to_string_lossy()).collect();
                out.push((parts.join("/"), meta));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
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
        write(dir.path(), "unet/model.onnx", b"weights");
        write(dir.path(), "model_index.json", b"{}");
        let mut expected = blake3::Hasher::new();
        for (path, content) in [
            ("model_index.json", &b"{}"[..]),
            ("unet/model.onnx", b"weights"),
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
        // A different size changes the fingerprint, so the content is hashed again.
        write(b.path(), "vae_decoder/model.onnx", b"vae2");
        assert_ne!(model_identity(b.path()).unwrap(), first);
    }

    #[test]
    fn unchanged_fingerprint_reuses_the_memo() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "model_index.json", b"{}");
        let path = dir.path().join("model_index.json");
        let before = model_identity(dir.path()).unwrap();
        // Same size and the same mtime restored: the memo answers without reading the content.
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        fs::write(&path, b"[]").unwrap();
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_eq!(model_identity(dir.path()).unwrap(), before);
    }

    #[test]
    fn missing_folder_is_an_error() {
        let err = model_identity(Path::new("/nonexistent/t2v-model")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
