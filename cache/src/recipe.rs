//! What decides a clip's frames, and the key derived from it.
//!
//! # Key encoding, version 2
//! `ClipKey` = lowercase hex of blake3 over this byte string (integers little-endian, `str` = u64 byte length
//! followed by the UTF-8 bytes):
//!
//! | # | field | encoding |
//! |---|---|---|
//! | 0 | magic | `str` `"t2v-clip-key"` |
//! | 1 | version | u32 `2` |
//! | 2 | model identity | `str` |
//! | 3 | request encoding | `str` |
//! | 4 | width, height, frames | u32 each |
//!
//! The cache knows nothing of what a request holds: the generator's canonical encoding of it (the engine's
//! `t2v_engine::encode_request`: prompts, seed, steps, guidance, scheduler, size, numerics version) is an
//! opaque text, and the model identity covers every file of the model, its scheduler config included. Only
//! the clip's geometry is the cache's own, to bound what it reads. The execution device is deliberately
//! absent: whichever machine generates a key first defines its frames for everyone sharing the cache.
//!
//! Version 1 keyed each request field and the scheduler config separately: its entries are never named by a
//! version-2 key (a plain miss), and eviction and Clear all still remove them. Any change to this layout
//! must bump the version.

use serde::{Deserialize, Serialize};
use std::fmt;

const KEY_MAGIC: &str = "t2v-clip-key";
const KEY_VERSION: u32 = 2;

/// Every input that decides the frames of a generated clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// The model package's content identity (`t2v_engine::model_identity`); opaque to the cache.
    pub model: String,
    /// The generator's canonical encoding of the request (`t2v_engine::encode_request`); opaque to the cache.
    pub request: String,
    /// Generated (not output) resolution and frame count: what an entry must hold.
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
        put_str(&mut h, &self.request);
        for v in [self.width, self.height, self.frames] {
            h.update(&v.to_le_bytes());
        }
        ClipKey(h.finalize().to_hex().to_string())
    }
}

/// A recipe shaped like the plugin's, its request encoding holding `prompt` so tests can make distinct ones.
#[cfg(test)]
pub(crate) fn sample_recipe(prompt: &str) -> Recipe {
    Recipe {
        model: "blake3:00ff".into(),
        request: format!(r#"{{"numerics":1,"prompt":{prompt:?},"seed":42}}"#),
        width: 8,
        height: 4,
        frames: 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the version-2 encoding: if this digest changes, every existing cache entry is orphaned, so the
    /// change must come with a version bump.
    #[test]
    fn key_encoding_is_pinned() {
        assert_eq!(
            sample_recipe("a red fox running through snow")
                .key()
                .as_str(),
            "d6aafac03071d09adf8204548c6baac5fac382ac9f341b57d079f08008f8f89f"
        );
    }

    #[test]
    fn every_field_changes_the_key() {
        let base = sample_recipe("fox");
        type Change = Box<dyn Fn(&mut Recipe)>;
        let variants: Vec<Change> = vec![
            Box::new(|r| r.model.push('0')),
            Box::new(|r| r.request.push(' ')),
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
        let mut a = sample_recipe("x");
        (a.model, a.request) = ("ab".into(), "c".into());
        let mut b = a.clone();
        (b.model, b.request) = ("a".into(), "bc".into());
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn key_from_hex_accepts_only_digests() {
        let key = sample_recipe("x").key();
        assert_eq!(ClipKey::from_hex(key.as_str()), Some(key));
        assert_eq!(ClipKey::from_hex(".tmp-abc"), None);
        assert_eq!(ClipKey::from_hex(&"A".repeat(64)), None);
    }
}
