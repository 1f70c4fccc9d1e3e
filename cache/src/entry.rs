//! The format of one disk entry: a folder `<key>/` holding `frame_0000.png`… (16-bit RGB at generated
//! resolution), `clip.json` (every recipe field, plugin version, what made the clip ([`MadeBy`]), timing,
//! and a blake3 checksum per frame file) and `clip.json.b3` (clip.json's own blake3 in `b3sum` format, so `b3sum -c` can check it too).
//! Every byte is verified on read: an entry either decodes to exactly what was written or is rejected.
//!
//! Reading never follows a symlink (the folder itself or a file in it), never opens anything but regular
//! files (a FIFO would block), and checks every size before reading: `clip.json` at most
//! [`MAX_METADATA_BYTES`], `clip.json.b3` its exact length, each frame exactly the `bytes` listed for it,
//! which itself is at most what the encoder can write for the recipe's width × height ([`max_frame_bytes`]).

use crate::clip::Clip;
use crate::nofollow;
use crate::png16;
use crate::recipe::{ClipKey, Recipe};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

pub(crate) const METADATA: &str = "clip.json";
const METADATA_SUM: &str = "clip.json.b3";
const FORMAT: &str = "t2v-clip-cache/1";
/// Largest `clip.json` written or read: real ones are about 150 bytes per frame plus the prompts.
pub(crate) const MAX_METADATA_BYTES: u64 = 16 << 20;
/// Length of `clip.json.b3`: 64 hex digits, two spaces, the name, a newline.
const METADATA_SUM_BYTES: u64 = 64 + 2 + METADATA.len() as u64 + 1;

/// The largest frame file the encoder writes for `width` × `height`: 16-bit RGB rows with a filter byte
/// each, stored uncompressed if that is smaller (5 bytes per 64 KiB deflate block), plus PNG chunk headers.
pub(crate) fn max_frame_bytes(width: u32, height: u32) -> u64 {
    let raw = u64::from(height) * (1 + 6 * u64::from(width));
    raw + raw / 4096 + 4096
}

/// Contents of `clip.json`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Metadata {
    format: String,
    key: String,
    recipe: Recipe,
    plugin_version: String,
    /// Absent from entries written before it was recorded.
    #[serde(flatten)]
    pub(crate) made_by: MadeBy,
    generated_at_unix_ms: u64,
    pub(crate) generation_seconds: f64,
    width: u32,
    height: u32,
    files: Vec<FileSum>,
}

#[derive(Debug, Serialize, Deserialize)]
struct FileSum {
    name: String,
    bytes: u64,
    blake3: String,
}

/// What made a clip, as the generator knows it; each field is stored in `clip.json` (beside the plugin
/// version) when known, so a clip can be traced to the model and runtime that made it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MadeBy {
    /// The model's name, as users see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The model's licence, when its package states one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// The device the model really ran on ("cpu", "cuda").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Why the device differs from the one asked for ("CUDA unavailable: libcudart.so.13 not found …").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_note: Option<String>,
    /// The ONNX Runtime execution provider ("CPUExecutionProvider").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_provider: Option<String>,
    /// The ONNX Runtime version ("1.31.1").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onnx_runtime_version: Option<String>,
    /// The engine's numerics version (`t2v_engine::NUMERICS_VERSION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerics_version: Option<u32>,
}

/// What is known about how a clip was made; stored with it.
pub(crate) struct Provenance<'a> {
    pub(crate) plugin_version: &'a str,
    pub(crate) made_by: &'a MadeBy,
    pub(crate) generation_seconds: f64,
}

fn frame_name(index: usize) -> String {
    format!("frame_{index:04}.png")
}

/// Writes and fsyncs every file of an entry into the existing, empty folder `dir`, then fsyncs the folder.
/// `after_frame` runs after each frame file (a test seam for crashes and write failures).
pub(crate) fn write(
    dir: &Path,
    key: &ClipKey,
    recipe: &Recipe,
    clip: &Clip,
    provenance: &Provenance,
    after_frame: &dyn Fn(usize) -> io::Result<()>,
) -> io::Result<()> {
    let mut files = Vec::with_capacity(clip.frames().len());
    for (index, frame) in clip.frames().iter().enumerate() {
        let bytes = png16::encode(clip.width(), clip.height(), frame).map_err(io::Error::other)?;
        if bytes.len() as u64 > max_frame_bytes(clip.width(), clip.height()) {
            return Err(io::Error::other(format!(
                "frame {index} encodes to {} bytes, more than an entry may hold",
                bytes.len()
            )));
        }
        let name = frame_name(index);
        write_synced(&dir.join(&name), &bytes)?;
        files.push(FileSum {
            name,
            bytes: bytes.len() as u64,
            blake3: blake3::hash(&bytes).to_hex().to_string(),
        });
        after_frame(index)?;
    }
    let generated_at_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let metadata = Metadata {
        format: FORMAT.into(),
        key: key.as_str().into(),
        recipe: recipe.clone(),
        plugin_version: provenance.plugin_version.into(),
        made_by: provenance.made_by.clone(),
        generated_at_unix_ms,
        generation_seconds: provenance.generation_seconds,
        width: clip.width(),
        height: clip.height(),
        files,
    };
    let json = serde_json::to_vec_pretty(&metadata).map_err(io::Error::other)?;
    if json.len() as u64 > MAX_METADATA_BYTES {
        return Err(io::Error::other(format!(
            "{METADATA} would be {} bytes, more than the {MAX_METADATA_BYTES} an entry may have",
            json.len()
        )));
    }
    write_synced(&dir.join(METADATA), &json)?;
    write_synced(&dir.join(METADATA_SUM), metadata_sum(&json).as_bytes())?;
    sync_dir(dir)
}

/// Makes the names in `dir` durable. Windows cannot open a folder as a file ("Access denied"), and NTFS
/// journals its folder changes itself: nothing to do there.
#[cfg(not(windows))]
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(windows)]
pub(crate) fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// The text of `clip.json.b3` for these `clip.json` bytes (`b3sum` format).
fn metadata_sum(json: &[u8]) -> String {
    format!("{}  {METADATA}\n", blake3::hash(json).to_hex())
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = fs::File::create_new(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Why an entry folder cannot be served.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// No entry (or no metadata yet) in the folder.
    Missing,
    /// Present but damaged; the text names the file and the problem.
    Corrupt(String),
}

/// Reads and verifies the entry in `dir`, which must be the entry of `key`.
pub(crate) fn read(dir: &Path, key: &ClipKey) -> Result<(Clip, Metadata), ReadError> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadError::Missing),
        Err(e) => return Err(corrupt("entry folder", e)),
        Ok(m) if !m.is_dir() => return Err(corrupt("entry folder", "not a folder")),
        Ok(_) => {}
    }
    let sum = nofollow::read_bounded(&dir.join(METADATA_SUM), METADATA_SUM_BYTES)
        .map_err(|e| corrupt(METADATA_SUM, e))?;
    let json = read_metadata(dir)?;
    if sum != metadata_sum(&json).as_bytes() {
        return Err(corrupt(METADATA, "checksum mismatch"));
    }
    let metadata: Metadata = serde_json::from_slice(&json).map_err(|e| corrupt(METADATA, e))?;
    if metadata.format != FORMAT || metadata.key != key.as_str() || metadata.recipe.key() != *key {
        return Err(corrupt(
            METADATA,
            format!(
                "format {:?} key {:?} is not this entry",
                metadata.format, metadata.key
            ),
        ));
    }
    // The recipe decides the shape: an entry of any other shape was not written for it.
    let recipe = &metadata.recipe;
    let shape = (metadata.width, metadata.height, metadata.files.len());
    if shape != (recipe.width, recipe.height, recipe.frames as usize) {
        return Err(corrupt(
            METADATA,
            format!(
                "{}x{} with {} frames does not match its recipe's {}x{} with {} frames",
                shape.0, shape.1, shape.2, recipe.width, recipe.height, recipe.frames
            ),
        ));
    }
    let frame_limit = max_frame_bytes(metadata.width, metadata.height);
    let mut frames = Vec::with_capacity(metadata.files.len());
    for (index, file) in metadata.files.iter().enumerate() {
        if file.name != frame_name(index) {
            return Err(corrupt(
                &file.name,
                format!("listed where {} belongs", frame_name(index)),
            ));
        }
        if file.bytes > frame_limit {
            return Err(corrupt(
                &file.name,
                format!(
                    "listed as {} bytes, more than a {}x{} frame can be",
                    file.bytes, metadata.width, metadata.height
                ),
            ));
        }
        let bytes =
            read_frame(&dir.join(&file.name), file.bytes).map_err(|e| corrupt(&file.name, e))?;
        if blake3::hash(&bytes).to_hex().as_str() != file.blake3 {
            return Err(corrupt(&file.name, "checksum mismatch"));
        }
        let frame = png16::decode(&bytes, metadata.width, metadata.height)
            .map_err(|e| corrupt(&file.name, e))?;
        frames.push(Arc::from(frame));
    }
    let clip =
        Clip::new(metadata.width, metadata.height, frames).map_err(|e| corrupt(METADATA, e))?;
    Ok((clip, metadata))
}

/// Whether `dir` is an entry this cache wrote: a real folder whose `clip.json` has this format and names
/// the folder's key. Frames are not checked; this decides only what eviction and clearing may remove.
pub(crate) fn is_ours(dir: &Path, key: &ClipKey) -> bool {
    /// The fields that say whose an entry is; the rest of `clip.json` is skipped.
    #[derive(Deserialize)]
    struct Header {
        format: String,
        key: String,
    }
    let is_dir = fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
    is_dir
        && read_metadata(dir)
            .ok()
            .and_then(|json| serde_json::from_slice::<Header>(&json).ok())
            .is_some_and(|h| h.format == FORMAT && h.key == key.as_str())
}

fn read_metadata(dir: &Path) -> Result<Vec<u8>, ReadError> {
    nofollow::read_bounded(&dir.join(METADATA), MAX_METADATA_BYTES)
        .map_err(|e| corrupt(METADATA, e))
}

/// A frame file's bytes; it must be a regular file of exactly `listed` bytes, checked before reading.
fn read_frame(path: &Path, listed: u64) -> io::Result<Vec<u8>> {
    let file = nofollow::open_regular(path)?;
    let len = file.metadata()?.len();
    if len != listed {
        return Err(io::Error::other(format!(
            "{len} bytes where {listed} are listed"
        )));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn corrupt(file: &str, problem: impl std::fmt::Display) -> ReadError {
    ReadError::Corrupt(format!("{file}: {problem}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::sample_recipe;

    fn written() -> (tempfile::TempDir, ClipKey, Clip) {
        let dir = tempfile::tempdir().unwrap();
        let recipe = sample_recipe("entry");
        let frames = (0..3)
            .map(|f| (0..8 * 4 * 3).map(|i| ((i + f) % 7) as f32 / 6.0).collect())
            .collect();
        let clip = Clip::new(8, 4, frames).unwrap().quantized();
        let provenance = Provenance {
            plugin_version: "0.1.0",
            made_by: &made_by(),
            generation_seconds: 1.5,
        };
        write(
            dir.path(),
            &recipe.key(),
            &recipe,
            &clip,
            &provenance,
            &|_| Ok(()),
        )
        .unwrap();
        (dir, recipe.key(), clip)
    }

    fn made_by() -> MadeBy {
        MadeBy {
            model: Some("tiny".into()),
            license: Some("apache-2.0".into()),
            device: Some("cpu".into()),
            device_note: Some("CUDA unavailable: libcuda.so.1 not found".into()),
            execution_provider: Some("CPUExecutionProvider".into()),
            onnx_runtime_version: Some("1.31.1".into()),
            numerics_version: Some(3),
        }
    }

    fn message(err: ReadError) -> String {
        match err {
            ReadError::Corrupt(text) => text,
            ReadError::Missing => "missing".into(),
        }
    }

    #[test]
    fn reads_back_exactly_what_was_written() {
        let (dir, key, clip) = written();
        let (read, metadata) = read(dir.path(), &key).unwrap();
        assert_eq!(read, clip);
        assert_eq!(
            (
                metadata.plugin_version.as_str(),
                metadata.generation_seconds
            ),
            ("0.1.0", 1.5)
        );
        assert_eq!(metadata.recipe, sample_recipe("entry"));
        assert_eq!(metadata.made_by, made_by());
        let json: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join(METADATA)).unwrap()).unwrap();
        assert_eq!(json["files"][2]["name"], "frame_0002.png");
        assert_eq!(json["recipe"]["request"], sample_recipe("entry").request);
    }

    #[test]
    fn provenance_sits_beside_the_plugin_version() {
        let (dir, ..) = written();
        let json: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join(METADATA)).unwrap()).unwrap();
        let fields: [(&str, serde_json::Value); 8] = [
            ("plugin_version", "0.1.0".into()),
            ("model", "tiny".into()),
            ("license", "apache-2.0".into()),
            ("device", "cpu".into()),
            (
                "device_note",
                "CUDA unavailable: libcuda.so.1 not found".into(),
            ),
            ("execution_provider", "CPUExecutionProvider".into()),
            ("onnx_runtime_version", "1.31.1".into()),
            ("numerics_version", 3.into()),
        ];
        for (name, value) in fields {
            assert_eq!(json[name], value, "{name}");
        }
    }

    #[test]
    fn entries_without_provenance_still_read() {
        let (dir, key, clip) = written();
        let path = dir.path().join(METADATA);
        let mut json: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        for name in [
            "model",
            "license",
            "device",
            "device_note",
            "execution_provider",
            "onnx_runtime_version",
            "numerics_version",
        ] {
            json.as_object_mut().unwrap().remove(name);
        }
        let bytes = serde_json::to_vec_pretty(&json).unwrap();
        fs::write(&path, &bytes).unwrap();
        fs::write(dir.path().join(METADATA_SUM), metadata_sum(&bytes)).unwrap();
        let (read, metadata) = read(dir.path(), &key).unwrap();
        assert_eq!((read, metadata.made_by), (clip, MadeBy::default()));
    }

    /// Entries written under key version 1 (every request field and the scheduler config in the recipe) keep
    /// their format and key header: no version-2 key names them, reading one is refused, and they stay this
    /// cache's to evict and clear.
    #[test]
    fn version_1_entries_are_refused_but_still_ours() {
        let (dir, key, _) = written();
        let path = dir.path().join(METADATA);
        let mut json: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        json["recipe"] = serde_json::json!({
            "model": "blake3:00ff", "prompt": "entry", "negative_prompt": "", "seed": 42, "steps": 25,
            "guidance": 9.0, "scheduler": "ddim", "scheduler_config": "{}", "width": 8, "height": 4,
            "frames": 3,
        });
        let bytes = serde_json::to_vec_pretty(&json).unwrap();
        fs::write(&path, &bytes).unwrap();
        fs::write(dir.path().join(METADATA_SUM), metadata_sum(&bytes)).unwrap();
        let err = message(read(dir.path(), &key).unwrap_err());
        assert!(
            err.starts_with("clip.json: missing field `request`"),
            "{err}"
        );
        assert!(is_ours(dir.path(), &key));
    }

    #[test]
    fn bit_flip_in_a_frame_is_detected() {
        let (dir, key, _) = written();
        let path = dir.path().join("frame_0001.png");
        let mut bytes = fs::read(&path).unwrap();
        bytes[40] ^= 0x10;
        fs::write(&path, bytes).unwrap();
        assert_eq!(
            message(read(dir.path(), &key).unwrap_err()),
            "frame_0001.png: checksum mismatch"
        );
    }

    #[test]
    fn truncated_frame_and_edited_metadata_are_detected() {
        let (dir, key, _) = written();
        let path = dir.path().join("frame_0000.png");
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert_eq!(
            message(read(dir.path(), &key).unwrap_err()),
            format!(
                "frame_0000.png: {} bytes where {} are listed",
                bytes.len() / 2,
                bytes.len()
            )
        );

        let (dir, key, _) = written();
        let path = dir.path().join(METADATA);
        let text = fs::read_to_string(&path)
            .unwrap()
            .replace("\"model\": \"blake3:00ff\"", "\"model\": \"blake3:00fe\"");
        fs::write(&path, text).unwrap();
        assert_eq!(
            message(read(dir.path(), &key).unwrap_err()),
            "clip.json: checksum mismatch"
        );
    }

    /// Rewrites clip.json with `edit` applied and signs it again, as a buggy or hostile writer could.
    fn resigned(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
        let mut json: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join(METADATA)).unwrap()).unwrap();
        edit(&mut json);
        let bytes = serde_json::to_vec(&json).unwrap();
        fs::write(dir.join(METADATA), &bytes).unwrap();
        fs::write(dir.join(METADATA_SUM), metadata_sum(&bytes)).unwrap();
    }

    #[test]
    fn a_signed_entry_must_still_match_its_recipe() {
        let (dir, key, _) = written();
        resigned(dir.path(), |json| {
            json["recipe"]["request"] = sample_recipe("other").request.into()
        });
        assert!(message(read(dir.path(), &key).unwrap_err()).ends_with("is not this entry"));

        let (dir, key, _) = written();
        resigned(dir.path(), |json| {
            json["files"].as_array_mut().unwrap().pop();
        });
        assert_eq!(
            message(read(dir.path(), &key).unwrap_err()),
            "clip.json: 8x4 with 2 frames does not match its recipe's 8x4 with 3 frames"
        );
    }

    /// Reads on a thread, failing if the read has not returned after 10 s: a hang detector (the old code
    /// blocked forever on a FIFO), not a timing test.
    #[cfg(unix)]
    fn read_without_hanging(dir: &Path, key: &ClipKey) -> String {
        let (dir, key) = (dir.to_path_buf(), key.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(message(read(&dir, &key).unwrap_err())));
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the read hung")
    }

    #[cfg(unix)]
    #[test]
    fn fifos_devices_and_symlinks_are_corrupt_without_blocking() {
        use std::os::unix::fs::symlink;
        let mkfifo = |path: &Path| {
            fs::remove_file(path).unwrap();
            let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        };
        let to_dev_zero = |path: &Path| {
            fs::remove_file(path).unwrap();
            symlink("/dev/zero", path).unwrap();
        };
        let symlink_loop = "Too many levels of symbolic links (os error 40)";
        type Spoil<'a> = &'a dyn Fn(&Path);
        let cases: [(&str, Spoil, String); 5] = [
            (
                "frame_0001.png",
                &mkfifo,
                "frame_0001.png: not a regular file".into(),
            ),
            (
                "clip.json.b3",
                &mkfifo,
                "clip.json.b3: not a regular file".into(),
            ),
            ("clip.json", &mkfifo, "clip.json: not a regular file".into()),
            (
                "frame_0000.png",
                &to_dev_zero,
                format!("frame_0000.png: {symlink_loop}"),
            ),
            (
                "clip.json",
                &to_dev_zero,
                format!("clip.json: {symlink_loop}"),
            ),
        ];
        for (file, spoil, expected) in cases {
            let (dir, key, _) = written();
            spoil(&dir.path().join(file));
            assert_eq!(read_without_hanging(dir.path(), &key), expected);
        }

        let (dir, key, _) = written();
        let link = dir.path().with_extension("link");
        symlink(dir.path(), &link).unwrap();
        assert_eq!(
            message(read(&link, &key).unwrap_err()),
            "entry folder: not a folder"
        );
        fs::remove_file(link).unwrap();
    }

    #[test]
    fn sizes_are_checked_before_anything_is_read() {
        let (dir, key, _) = written();
        resigned(dir.path(), |json| {
            json["files"][0]["bytes"] = (1u64 << 40).into()
        });
        assert_eq!(
            message(read(dir.path(), &key).unwrap_err()),
            "frame_0000.png: listed as 1099511627776 bytes, more than a 8x4 frame can be"
        );

        // A sparse clip.json one byte over the limit: refused by its size, not read.
        let (dir, key, _) = written();
        let json = fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join(METADATA))
            .unwrap();
        json.set_len(MAX_METADATA_BYTES + 1).unwrap();
        assert_eq!(
            message(read(dir.path(), &key).unwrap_err()),
            "clip.json: 16777217 bytes, more than the 16777216 it may have"
        );
    }

    #[test]
    fn missing_folder_and_missing_metadata_differ() {
        let (dir, key, _) = written();
        assert!(matches!(
            read(&dir.path().join("nope"), &key),
            Err(ReadError::Missing)
        ));
        fs::remove_file(dir.path().join("clip.json.b3")).unwrap();
        assert!(message(read(dir.path(), &key).unwrap_err()).starts_with("clip.json.b3: "));
    }
}
