//! Replays every kept fuzz input (`corpus/<target>/`) through its check, so CI guards what fuzzing found
//! without a fuzzer; a failing input names its file.

use std::fs;
use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut inputs: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} holds no inputs", dir.display());
    for input in inputs {
        let bytes = fs::read(&input).expect("read corpus input");
        eprintln!("replaying {}", input.display());
        check(&bytes);
    }
}

#[test]
fn model_package_corpus() {
    replay("model_package", t2v_fuzz::model_package::check);
}

#[test]
fn latents_file_corpus() {
    replay("latents_file", t2v_fuzz::latents_file::check);
}

#[test]
fn clip_entry_corpus() {
    replay("clip_entry", t2v_fuzz::clip_entry::check);
}
