//! A kept latents file (`.latents/<key>.f32`) whose shape and values come from the fuzzer.
//!
//! Input: the file's bytes after its key (rank, dimensions, count, values). The check writes the documented
//! header before them (magic, version, the recipe's key) and re-signs the file with its blake3 (a fuzzer
//! cannot forge it), then asks a fresh cache for the latents. Whatever the bytes, the answer must be a miss
//! or latents whose values match their shape, within the recipe's bound, that store back to the same file.

use std::fs;

use clip_cache::{ClipCache, Recipe};

/// The recipe whose latents are read: 4×2, 2 frames (at most 2304 values).
pub fn recipe() -> Recipe {
    Recipe {
        model: "fuzz".into(),
        request: r#"{"prompt":"a red ball","seed":1}"#.into(),
        width: 4,
        height: 2,
        frames: 2,
    }
}

pub fn check(data: &[u8]) {
    let recipe = recipe();
    let key = recipe.key();
    let mut file = b"t2v-latents\n".to_vec();
    file.extend_from_slice(&1u32.to_le_bytes());
    file.extend_from_slice(key.as_str().as_bytes());
    file.extend_from_slice(data);
    let sum = blake3::hash(&file);
    file.extend_from_slice(sum.as_bytes());

    let folder = tempfile::tempdir().expect("temporary folder");
    let latents_dir = folder.path().join(".latents");
    fs::create_dir(&latents_dir).expect("latents folder");
    let path = latents_dir.join(format!("{key}.f32"));
    fs::write(&path, &file).expect("write latents");

    let Some(latents) = ClipCache::new(1 << 20, 1 << 30).load_latents(&recipe, Some(folder.path()))
    else {
        return;
    };
    let count: usize = latents.shape.iter().product();
    assert_eq!(count, latents.values.len(), "values do not match the shape");
    assert!(count <= 2304, "{count} values for a 4x2 clip of 2 frames");
    let again = tempfile::tempdir().expect("temporary folder");
    ClipCache::new(1 << 20, 1 << 30)
        .save_latents(&recipe, Some(again.path()), &latents)
        .expect("served latents store again");
    let stored =
        fs::read(again.path().join(".latents").join(format!("{key}.f32"))).expect("stored");
    assert_eq!(stored, file, "served latents are not what the file held");
}
