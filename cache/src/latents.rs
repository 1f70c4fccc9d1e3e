//! A clip's final latents, kept so that a decode failing after minutes of sampling (GPU out of memory) is
//! retried without sampling again.
//!
//! # File format, version 1: `<root>/.latents/<key>.f32`
//! Integers little-endian:
//!
//! | field | bytes |
//! |---|---|
//! | magic `"t2v-latents\n"` | 12 |
//! | version u32 `1` | 4 |
//! | key: 64 lowercase hex digits | 64 |
//! | rank u32 (1..=[`MAX_RANK`]) | 4 |
//! | dimensions u64 × rank | 8 × rank |
//! | value count u64 (= product of the dimensions) | 8 |
//! | values f32 × count, C order | 4 × count |
//! | blake3 of every byte above | 32 |
//!
//! A reader bounds the count by the recipe's geometry ([`max_values`]) and checks the file's length before
//! it allocates anything; any mismatch (key, shape, length, checksum) is a miss.

use crate::nofollow;
use crate::recipe::{ClipKey, Recipe};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

/// The folder of latents files inside a cache root.
pub(crate) const LATENTS: &str = ".latents";
/// How a latents file's name ends after its key.
pub(crate) const SUFFIX: &str = ".f32";
const MAGIC: &[u8; 12] = b"t2v-latents\n";
const VERSION: u32 = 1;
/// Most dimensions a latents tensor may have (video latents have 5: batch, channels, frames, height, width).
pub(crate) const MAX_RANK: usize = 8;
/// Most values any latents file may hold (4 GiB of f32), whatever the geometry.
pub(crate) const MAX_VALUES: u64 = 1 << 30;
/// Magic, version, key, rank.
const FIXED_HEADER: usize = 12 + 4 + 64 + 4;
const SUM_BYTES: usize = 32;

/// Final latents of a clip: `values.len()` is the product of `shape`, in C order.
#[derive(Clone, Debug, PartialEq)]
pub struct Latents {
    pub shape: Vec<usize>,
    pub values: Arc<[f32]>,
}

impl Latents {
    /// Bytes the values take in memory.
    pub(crate) fn byte_size(&self) -> usize {
        std::mem::size_of_val::<[f32]>(&self.values)
    }
}

/// The most values latents of `recipe` may hold: up to 64 channels per frame at 1/8 of the clip's
/// resolution (every family's VAE compresses each side at least 8×), with room for padding and one extra
/// frame, and never more than [`MAX_VALUES`].
pub(crate) fn max_values(recipe: &Recipe) -> u64 {
    let side = |pixels: u32| u64::from(pixels).div_ceil(8) + 2;
    (u64::from(recipe.frames) + 1)
        .saturating_mul(side(recipe.width))
        .saturating_mul(side(recipe.height))
        .saturating_mul(64)
        .min(MAX_VALUES)
}

/// The file's bytes: header, values, checksum. Fails on latents whose values do not match their shape.
pub(crate) fn encode(key: &ClipKey, latents: &Latents) -> Result<Vec<u8>, String> {
    let count = checked_count(&latents.shape)?;
    if count != latents.values.len() as u64 {
        return Err(format!(
            "shape {:?} holds {count} values, not the {} given",
            latents.shape,
            latents.values.len()
        ));
    }
    let mut bytes = Vec::with_capacity(header_len(latents.shape.len()) + latents.byte_size() + 32);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(key.as_str().as_bytes());
    bytes.extend_from_slice(&(latents.shape.len() as u32).to_le_bytes());
    for &dim in &latents.shape {
        bytes.extend_from_slice(&(dim as u64).to_le_bytes());
    }
    bytes.extend_from_slice(&count.to_le_bytes());
    for value in latents.values.iter() {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    let sum = blake3::hash(&bytes);
    bytes.extend_from_slice(sum.as_bytes());
    Ok(bytes)
}

/// Reads and verifies the latents file at `path` for `key`, holding at most `limit` values.
/// `Ok(None)`: no file. `Err`: a file that is not valid latents of this key (why, for the log).
pub(crate) fn read(path: &Path, key: &ClipKey, limit: u64) -> Result<Option<Latents>, String> {
    let mut file = match nofollow::open_regular(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        other => other.map_err(|e| e.to_string())?,
    };
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let shape = read_header(&mut file, key)?;
    let count = checked_count(&shape)?;
    if count > limit {
        return Err(format!(
            "shape {shape:?} holds {count} values, more than the {limit} this clip's latents can have"
        ));
    }
    let expected = (header_len(shape.len()) + SUM_BYTES) as u64 + count * 4;
    if len != expected {
        return Err(format!(
            "{len} bytes where shape {shape:?} needs {expected}"
        ));
    }
    file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let mut bytes = Vec::with_capacity(expected as usize);
    file.take(expected)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 != expected {
        return Err("shorter than its header says".into());
    }
    let (body, sum) = bytes.split_at(bytes.len() - SUM_BYTES);
    if blake3::hash(body).as_bytes() != sum {
        return Err("checksum mismatch".into());
    }
    let values: Arc<[f32]> = body[header_len(shape.len())..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(Some(Latents { shape, values }))
}

/// Whether the file at `path` is latents this cache wrote for `key` (its header says so); only such files
/// are counted, evicted and cleared.
pub(crate) fn is_ours(path: &Path, key: &ClipKey) -> bool {
    nofollow::open_regular(path).is_ok_and(|mut file| read_header(&mut file, key).is_ok())
}

/// The shape from a file's header, checked against the magic, version, key and rank.
fn read_header(file: &mut File, key: &ClipKey) -> Result<Vec<usize>, String> {
    let mut fixed = [0u8; FIXED_HEADER];
    file.read_exact(&mut fixed)
        .map_err(|_| "shorter than a latents header".to_string())?;
    if &fixed[..12] != MAGIC || fixed[12..16] != VERSION.to_le_bytes() {
        return Err("not a latents file of this version".into());
    }
    if &fixed[16..80] != key.as_str().as_bytes() {
        return Err("written for another key".into());
    }
    let rank = u32::from_le_bytes([fixed[80], fixed[81], fixed[82], fixed[83]]) as usize;
    if !(1..=MAX_RANK).contains(&rank) {
        return Err(format!("rank {rank} is not 1 to {MAX_RANK}"));
    }
    let mut dims = vec![0u8; 8 * (rank + 1)];
    file.read_exact(&mut dims)
        .map_err(|_| "shorter than its header says".to_string())?;
    let mut numbers = dims
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    let shape = numbers
        .by_ref()
        .take(rank)
        .map(|d| usize::try_from(d).map_err(|_| format!("dimension {d} is too large")))
        .collect::<Result<Vec<_>, _>>()?;
    let count = numbers.next().unwrap_or_default();
    if checked_count(&shape)? != count {
        return Err(format!(
            "value count {count} is not the product of shape {shape:?}"
        ));
    }
    Ok(shape)
}

/// The product of the dimensions, refusing one that overflows or exceeds [`MAX_VALUES`].
fn checked_count(shape: &[usize]) -> Result<u64, String> {
    if shape.is_empty() || shape.len() > MAX_RANK {
        return Err(format!("rank {} is not 1 to {MAX_RANK}", shape.len()));
    }
    shape
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
        .filter(|&n| n <= MAX_VALUES)
        .ok_or_else(|| format!("shape {shape:?} holds more than {MAX_VALUES} values"))
}

fn header_len(rank: usize) -> usize {
    FIXED_HEADER + 8 * rank + 8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::sample_recipe;

    fn sample() -> Latents {
        Latents {
            shape: vec![1, 4, 2, 1, 2],
            values: (0..16).map(|i| i as f32 * 0.5 - 3.0).collect(),
        }
    }

    #[test]
    fn a_file_round_trips_and_any_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.f32");
        let key = sample_recipe("a").key();
        let bytes = encode(&key, &sample()).unwrap();
        assert_eq!(bytes.len(), 84 + 5 * 8 + 8 + 16 * 4 + 32);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read(&path, &key, 16).unwrap(), Some(sample()));
        assert!(is_ours(&path, &key));

        let other = sample_recipe("b").key();
        assert_eq!(
            read(&path, &other, 16).unwrap_err(),
            "written for another key"
        );
        assert!(!is_ours(&path, &other));
        assert_eq!(
            read(&path, &key, 15).unwrap_err(),
            "shape [1, 4, 2, 1, 2] holds 16 values, more than the 15 this clip's latents can have"
        );
        let mut flipped = bytes.clone();
        flipped[150] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert_eq!(read(&path, &key, 16).unwrap_err(), "checksum mismatch");
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert_eq!(
            read(&path, &key, 16).unwrap_err(),
            "227 bytes where shape [1, 4, 2, 1, 2] needs 228"
        );
        std::fs::write(&path, &bytes[..40]).unwrap();
        assert_eq!(
            read(&path, &key, 16).unwrap_err(),
            "shorter than a latents header"
        );
        assert_eq!(read(&dir.path().join("none"), &key, 16).unwrap(), None);
    }

    #[test]
    fn a_header_claiming_huge_or_inconsistent_shapes_is_refused_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.f32");
        let key = sample_recipe("a").key();
        let mut bytes = encode(&key, &sample()).unwrap();
        // The first dimension becomes 2^40: the product exceeds every limit; no values follow.
        bytes[84..92].copy_from_slice(&(1u64 << 40).to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            read(&path, &key, u64::MAX).unwrap_err(),
            "shape [1099511627776, 4, 2, 1, 2] holds more than 1073741824 values"
        );
        let mut bytes = encode(&key, &sample()).unwrap();
        bytes[124..132].copy_from_slice(&17u64.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            read(&path, &key, u64::MAX).unwrap_err(),
            "value count 17 is not the product of shape [1, 4, 2, 1, 2]"
        );
        let mut bytes = encode(&key, &sample()).unwrap();
        bytes[80..84].copy_from_slice(&9u32.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            read(&path, &key, u64::MAX).unwrap_err(),
            "rank 9 is not 1 to 8"
        );
    }

    #[test]
    fn values_must_match_the_shape_and_the_geometry_bounds_the_count() {
        let key = sample_recipe("a").key();
        let wrong = Latents {
            shape: vec![2, 3],
            values: vec![0.0; 5].into(),
        };
        assert_eq!(
            encode(&key, &wrong).unwrap_err(),
            "shape [2, 3] holds 6 values, not the 5 given"
        );
        // 8x4, 3 frames: (3 + 1) × (1 + 2) × (1 + 2) × 64.
        assert_eq!(max_values(&sample_recipe("a")), 2304);
        let mut huge = sample_recipe("a");
        (huge.width, huge.height, huge.frames) = (u32::MAX, u32::MAX, u32::MAX);
        assert_eq!(max_values(&huge), MAX_VALUES);
    }
}
