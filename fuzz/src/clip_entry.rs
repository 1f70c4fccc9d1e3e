//! A disk cache entry whose `clip.json` and first frame file come from the fuzzer.
//!
//! Input: `clip.json`, then `frame_0000.png`, separated by [`SEPARATOR`](crate::SEPARATOR). The check stores
//! a real clip, overwrites its entry with the input, re-signs `clip.json.b3` and the first frame's size and
//! checksum (a fuzzer cannot forge blake3, and without this it would never get past the checksums to the
//! JSON fields and the PNG decoder), then asks a fresh cache for the clip. Whatever the bytes, the answer
//! must be a valid clip of the recipe's size — served from the entry or regenerated — and the entry left on
//! disk must serve that same clip to the next reader.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use clip_cache::{Clip, ClipCache, Options, Recipe, Source};
use serde_json::Value;

const WIDTH: u32 = 4;
const HEIGHT: u32 = 2;
const FRAMES: usize = 2;

/// The clip the generator makes: a ramp, exact in 16 bits so a regenerated and a stored clip compare equal.
pub fn original_clip() -> Clip {
    let values = WIDTH as usize * HEIGHT as usize * 3;
    let frames = (0..FRAMES)
        .map(|f| {
            (0..values)
                .map(|i| ((i * 7 + f * 3) % 16) as f32 * 4369.0 / 65535.0)
                .collect()
        })
        .collect::<Vec<Arc<[f32]>>>();
    Clip::new(WIDTH, HEIGHT, frames).expect("valid clip")
}

/// The recipe of the stored clip.
pub fn recipe() -> Recipe {
    Recipe {
        model: "fuzz".into(),
        request: r#"{"prompt":"a red ball","seed":1}"#.into(),
        width: WIDTH,
        height: HEIGHT,
        frames: FRAMES as u32,
    }
}

pub fn check(data: &[u8]) {
    let [json, frame] = crate::sections::<2>(data);
    let folder = tempfile::tempdir().expect("temporary folder");
    let recipe = recipe();
    let fetch = || {
        let options = Options {
            folder: Some(folder.path()),
            plugin_version: "fuzz",
            should_abort: None,
            on_wait: None,
        };
        ClipCache::new(1 << 20, 1 << 30)
            .get_or_generate(&recipe, &options, || Ok::<_, String>(original_clip()))
            .expect("the generator never fails")
    };
    let stored = fetch();
    assert_eq!(stored.source, Source::Generated);
    let entry = stored.location.expect("the clip was stored on disk");
    tamper(&entry, stored.key.as_str(), json, frame);

    let first = fetch();
    let clip = &first.clip;
    assert_eq!(
        (clip.width(), clip.height(), clip.frames().len()),
        (WIDTH, HEIGHT, FRAMES),
        "served a clip of another shape from {:?}",
        first.source
    );
    assert!(clip
        .frames()
        .iter()
        .flat_map(|f| f.iter())
        .all(|v| (0.0..=1.0).contains(v)));
    let second = fetch();
    assert_eq!(second.source, Source::Disk, "the entry was not repaired");
    assert_eq!(second.clip, first.clip, "the next reader gets another clip");
}

/// Replaces the entry's metadata and first frame, re-signing what a fuzzer cannot forge: the key when the
/// input names it `$KEY`, the size and checksum of every listed frame file that exists, and `clip.json.b3`.
fn tamper(entry: &Path, key: &str, json: &[u8], frame: &[u8]) {
    if !frame.is_empty() {
        fs::write(entry.join("frame_0000.png"), frame).expect("write frame");
    }
    let mut json = json.to_vec();
    if let Ok(mut metadata) = serde_json::from_slice::<Value>(&json) {
        if let Some(k) = metadata.get_mut("key").filter(|k| *k == "$KEY") {
            *k = key.into();
        }
        let files = metadata.get_mut("files").and_then(Value::as_array_mut);
        for file in files.into_iter().flatten().filter_map(Value::as_object_mut) {
            let name = file.get("name").and_then(Value::as_str).unwrap_or("/");
            if name.contains('/') {
                continue;
            }
            let Ok(bytes) = fs::read(entry.join(name)) else {
                continue;
            };
            file.insert("bytes".into(), bytes.len().into());
            file.insert(
                "blake3".into(),
                blake3::hash(&bytes).to_hex().as_str().into(),
            );
        }
        json = serde_json::to_vec_pretty(&metadata).expect("JSON value serialises");
    }
    fs::write(entry.join("clip.json"), &json).expect("write clip.json");
    let sum = format!("{}  clip.json\n", blake3::hash(&json).to_hex());
    fs::write(entry.join("clip.json.b3"), sum).expect("write clip.json.b3");
}
