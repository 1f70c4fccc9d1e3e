//! What decides a clip's frames, and the key derived from it.
//!
//! # Key encoding, version 1
//! `ClipKey` = lowercase hex of blake3 over this byte string (integers little-endian, `str` = u64 byte length
//! followed by the UTF-8 bytes):
//!
//! | # | field | encoding |
//! |---|---|---|
//! | 0 | magic | `str` `"t2v-clip-key"` |
//! | 1 | version | u32 `1` |
//! | 2 | model identity | `str` |
//! | 3 | prompt | `str` (exact text, no trimming) |
//! | 4 | negative prompt | `str` |
//! | 5 | seed | u64 |
//! | 6 | steps | u32 |
//! | 7 | guidance | u32 = `f32::to_bits` |
//! | 8 | scheduler name | `str` |
//! | 9 | scheduler config | `str`, canonical JSON ([`canonical_json`]) |
//! | 10 | width, height, frames | u32 each |
//!
//! The execution device is deliberately absent: whichever machine generates a key first defines its frames
//! for everyone sharing the cache. Any change to this layout must bump the version.

use serde::{Deserialize, Serialize};
use std::fmt;

const KEY_MAGIC: &str = "t2v-clip-key";
const KEY_VERSION: u32 = 1;

/// Every input that decides the frames of a generated clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// The model package's content identity (`t2v_engine::model_identity`); opaque to the cache.
    pub model: String,
    pub prompt: String,
    pub negative_prompt: String,
    pub seed: u64,
    pub steps: u32,
    pub guidance: f32,
    /// Scheduler name as the engine resolves it (e.g. "DDIM").
    pub scheduler: String,
    /// The scheduler's configuration as [`canonical_json`] text.
    pub scheduler_config: String,
    /// Generated (not output) resolution and frame count.
    pub width: u32,
    pub height: u32,
    pub frames: u32,
}

/// blake3 hex digest naming one clip in memory and on disk.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClipKey(String);

impl ClipKey {
    /// Accepts a 64-digit lowercase hex string (a disk entry's folder name).
    pub fn from_hex(hex: &str) -> Option<ClipKey> {
        let valid = hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| ClipKey(hex.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClipKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Recipe {
    /// The key of the clip this recipe generates (see the module docs for the encoding).
    pub fn key(&self) -> ClipKey {
        let mut h = blake3::Hasher::new();
        let put_str = |h: &mut blake3::Hasher, s: &str| {
            h.update(&(s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        put_str(&mut h, KEY_MAGIC);
        h.update(&KEY_VERSION.to_le_bytes());
        put_str(&mut h, &self.model);
        put_str(&mut h, &self.prompt);
        put_str(&mut h, &self.negative_prompt);
        h.update(&self.seed.to_le_bytes());
        h.update(&self.steps.to_le_bytes());
        h.update(&self.guidance.to_bits().to_le_bytes());
        put_str(&mut h, &self.scheduler);
        put_str(&mut h, &self.scheduler_config);
        for v in [self.width, self.height, self.frames] {
            h.update(&v.to_le_bytes());
        }
        ClipKey(h.finalize().to_hex().to_string())
    }
}

/// JSON text with object keys sorted and no whitespace, so equal configurations give equal keys whatever
/// the key order or formatting of the file they came from. Numbers keep serde_json's text for them.
pub fn canonical_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
pub(crate) fn sample_recipe(prompt: &str) -> Recipe {
    Recipe {
        model: "blake3:00ff".into(),
        prompt: prompt.into(),
        negative_prompt: "blurry".into(),
        seed: 42,
        steps: 25,
        guidance: 9.0,
        scheduler: "DDIM".into(),
        scheduler_config: r#"{"beta_schedule":"scaled_linear","steps_offset":1}"#.into(),
        width: 8,
        height: 4,
        frames: 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the version-1 encoding: if this digest changes, every existing cache entry is orphaned, so the
    /// change must come with a version bump.
    #[test]
    fn key_encoding_is_pinned() {
        assert_eq!(
            sample_recipe("a red fox running through snow")
                .key()
                .as_str(),
            "07ce7478be907f639d9f1a79a1667fff3baf14cbabed797421a8e2fea8de5cb2"
        );
    }

    #[test]
    fn every_field_changes_the_key() {
        let base = sample_recipe("fox");
        type Change = Box<dyn Fn(&mut Recipe)>;
        let variants: Vec<Change> = vec![
            Box::new(|r| r.model.push('0')),
            Box::new(|r| r.prompt.push(' ')),
            Box::new(|r| r.negative_prompt.clear()),
            Box::new(|r| r.seed += 1),
            Box::new(|r| r.steps += 1),
            Box::new(|r| r.guidance = f32::from_bits(r.guidance.to_bits() + 1)),
            Box::new(|r| r.scheduler = "Euler".into()),
            Box::new(|r| r.scheduler_config.push(' ')),
            Box::new(|r| r.width += 1),
            Box::new(|r| r.height += 1),
            Box::new(|r| r.frames += 1),
        ];
        let mut keys = vec![base.key()];
        for change in variants {
            let mut r = base.clone();
            change(&mut r);
            keys.push(r.key());
        }
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
    }

    #[test]
    fn length_prefixes_keep_field_boundaries() {
        let mut a = sample_recipe("ab");
        a.negative_prompt = "c".into();
        let mut b = sample_recipe("a");
        b.negative_prompt = "bc".into();
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let a: serde_json::Value = serde_json::from_str(
            r#"{ "b": [1, {"z": true, "a": null}], "a": "x\"y", "c": 0.00085 }"#,
        )
        .unwrap();
        assert_eq!(
            canonical_json(&a),
            r#"{"a":"x\"y","b":[1,{"a":null,"z":true}],"c":0.00085}"#
        );
    }

    #[test]
    fn key_from_hex_accepts_only_digests() {
        let key = sample_recipe("x").key();
        assert_eq!(ClipKey::from_hex(key.as_str()), Some(key));
        assert_eq!(ClipKey::from_hex(".tmp-abc"), None);
        assert_eq!(ClipKey::from_hex(&"A".repeat(64)), None);
    }
}
