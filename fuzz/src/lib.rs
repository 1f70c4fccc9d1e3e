//! Fuzz checks for everything the plugin parses from files a user or another machine hands it: a model
//! package's configs and tokenizer, and a disk cache entry (`clip.json` and its frames) and a kept latents file.
//!
//! Each check takes the fuzzer's bytes, lays them out as files in a temporary folder, reads them through the
//! crates' public API and panics only on a real defect: a panic inside our code, or a read that serves
//! something other than a clean error or a valid result. The libFuzzer binaries (`fuzz_targets/`, feature
//! `libfuzzer`) and the corpus replay test (`tests/corpus.rs`, run by CI) call the same functions.

pub mod clip_entry;
pub mod latents_file;
pub mod model_package;

/// Input files are separated by this byte: it never occurs in UTF-8 text, so a seed is the real files
/// joined by it and the fuzzer still mutates readable JSON.
pub const SEPARATOR: u8 = 0xFF;

/// libFuzzer's Rust glue aborts on every panic, even one our code catches on purpose (the engine contains
/// the `tokenizers` library's panics, for one). Restoring the default hook leaves the glue's own check: a
/// panic that escapes a check still aborts the run and is reported as a crash.
pub fn report_only_uncaught_panics() {
    drop(std::panic::take_hook());
}

/// The input split into exactly `N` sections (missing ones empty, extra separators kept in the last).
pub fn sections<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&data[data.len()..]; N];
    let mut parts = data.splitn(N, |&b| b == SEPARATOR);
    for slot in out.iter_mut() {
        if let Some(part) = parts.next() {
            *slot = part;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_split_on_the_separator_and_pad_with_empty_ones() {
        assert_eq!(sections::<3>(b"a\xFFbc"), [&b"a"[..], b"bc", b""]);
        assert_eq!(sections::<2>(b"a\xFFb\xFFc"), [&b"a"[..], b"b\xFFc"]);
        assert_eq!(sections::<2>(b""), [&b""[..], b""]);
    }
}
