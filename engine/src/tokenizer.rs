//! Prompt → token ids of a fixed length, the same way for every package:
//! - `tokenizer/tokenizer.json` is used as it is (normalizer, pre-tokenizer, model and post-processor, so CLIP
//!   exports get their bos/eos framing and word-level tokenizers none);
//! - else CLIP's `vocab.json` + `merges.txt` are assembled into the tokenizer transformers builds (NFC, whitespace
//!   folding, lowercase, CLIP's split pattern, byte-level BPE with `</w>` word ends, bos/eos framing).
//!
//! The length is the family's fixed text length when it has one (Wan: 512); else tokenizer.json's fixed padding
//! length when it has one, else the text encoder's position count (capped by `model_max_length`). Longer text is
//! truncated (the framing tokens stay); shorter text is padded with the padding's id, else the configured
//! `pad_token`, else `<|endoftext|>`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use crate::error::panic_message;
use serde_json::Value;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::replace::ReplacePattern;
use tokenizers::normalizers::{Lowercase, Replace, Sequence as NormalizerSequence, NFC};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::roberta::RobertaProcessing;
use tokenizers::{
    AddedToken, PaddingParams, PaddingStrategy, SplitDelimiterBehavior, Tokenizer, TruncationParams,
};

const CLIP_SPLIT: &str =
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

/// A ready tokenizer producing exactly `length()` ids per prompt.
pub struct PromptTokenizer {
    tokenizer: Tokenizer,
    length: usize,
}

impl std::fmt::Debug for PromptTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptTokenizer")
            .field("length", &self.length)
            .finish()
    }
}

/// A special token named in tokenizer_config.json / special_tokens_map.json (plain string or `{content}`).
fn special_token(config: &Value, key: &str) -> Option<String> {
    match config.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content")?.as_str().map(str::to_string),
        _ => None,
    }
}

fn read_json(path: &Path) -> Result<Option<Value>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| e.to_string())
}

fn clip_from_vocab(vocab: &Path, merges: &Path, config: &Value) -> Result<Tokenizer, String> {
    let unk = special_token(config, "unk_token").unwrap_or_else(|| "<|endoftext|>".into());
    let bpe = BPE::from_file(&vocab.to_string_lossy(), &merges.to_string_lossy())
        .end_of_word_suffix("</w>".into())
        .unk_token(unk)
        .build()
        .map_err(|e| format!("tokenizer/vocab.json and merges.txt cannot be read: {e}"))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let whitespace =
        Replace::new(ReplacePattern::Regex(r"\s+".into()), " ").map_err(|e| e.to_string())?;
    tokenizer.with_normalizer(Some(NormalizerSequence::new(vec![
        NFC.into(),
        whitespace.into(),
        Lowercase.into(),
    ])));
    let split = Split::new(
        SplitPattern::Regex(CLIP_SPLIT.into()),
        SplitDelimiterBehavior::Removed,
        true,
    )
    .map_err(|e| e.to_string())?;
    tokenizer.with_pre_tokenizer(Some(PreSequence::new(vec![
        split.into(),
        ByteLevel::new(false, true, true).into(),
    ])));
    let id = |key: &str, default: &str| {
        let token = special_token(config, key).unwrap_or_else(|| default.to_string());
        let id = tokenizer
            .token_to_id(&token)
            .ok_or_else(|| format!("tokenizer: {key} `{token}` is not in the vocabulary"))?;
        Ok::<_, String>((token, id))
    };
    let framing = RobertaProcessing::new(
        id("eos_token", "<|endoftext|>")?,
        id("bos_token", "<|startoftext|>")?,
    )
    .trim_offsets(false)
    .add_prefix_space(false);
    tokenizer.with_post_processor(Some(framing));
    // transformers registers the special tokens as added tokens: typed into a prompt they map to their ids.
    let specials: Vec<AddedToken> = [
        ("bos_token", "<|startoftext|>"),
        ("eos_token", "<|endoftext|>"),
        ("unk_token", "<|endoftext|>"),
        ("pad_token", "<|endoftext|>"),
    ]
    .iter()
    .map(|(key, default)| special_token(config, key).unwrap_or_else(|| default.to_string()))
    .filter(|t| tokenizer.token_to_id(t).is_some())
    .map(|t| AddedToken::from(t, true))
    .collect();
    tokenizer.add_special_tokens(&specials);
    Ok(tokenizer)
}

/// How long a tokenized prompt is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Length {
    /// tokenizer.json's fixed padding, else the text encoder's position count (capped by `model_max_length`).
    Positions(usize),
    /// Exactly this many, whatever the tokenizer files say.
    Fixed(usize),
}

impl PromptTokenizer {
    /// Loads `dir` (the package's `tokenizer/` folder); `max_length` is the text encoder's position count.
    /// Errors name the file at fault, relative to the package folder.
    pub fn load(dir: &Path, max_length: usize) -> Result<Self, String> {
        Self::load_with(dir, Length::Positions(max_length))
    }

    pub(crate) fn load_with(dir: &Path, length: Length) -> Result<Self, String> {
        let mut config = Value::Object(Default::default());
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            let parsed = read_json(&dir.join(name))
                .map_err(|e| format!("tokenizer/{name} is not valid JSON: {e}"))?;
            if let (Some(Value::Object(add)), Value::Object(base)) = (parsed, &mut config) {
                base.extend(add);
            }
        }
        let json = dir.join("tokenizer.json");
        let mut tokenizer = if json.exists() {
            contained(|| Tokenizer::from_file(&json).map_err(|e| e.to_string()))
                .map_err(|e| format!("tokenizer/tokenizer.json cannot be read: {e}"))?
        } else {
            let (vocab, merges) = (dir.join("vocab.json"), dir.join("merges.txt"));
            for (f, name) in [(&vocab, "vocab.json"), (&merges, "merges.txt")] {
                if !f.exists() {
                    return Err(format!(
                        "tokenizer/{name} is missing (and there is no tokenizer/tokenizer.json)"
                    ));
                }
            }
            clip_from_vocab(&vocab, &merges, &config)?
        };
        let configured = config
            .get("model_max_length")
            .and_then(Value::as_f64)
            .unwrap_or(f64::INFINITY);
        let pad_id = tokenizer.get_padding().map(|p| p.pad_id);
        let length = match (length, tokenizer.get_padding()) {
            (Length::Fixed(n), _) => n,
            (
                Length::Positions(_),
                Some(PaddingParams {
                    strategy: PaddingStrategy::Fixed(n),
                    ..
                }),
            ) => *n,
            (Length::Positions(max_length), _) => (max_length as f64).min(configured) as usize,
        };
        let pad_id = match (pad_id, special_token(&config, "pad_token")) {
            (Some(id), _) => id,
            (None, Some(token)) => tokenizer.token_to_id(&token).ok_or_else(|| {
                format!("tokenizer: pad_token `{token}` is not in the vocabulary")
            })?,
            (None, None) => tokenizer.token_to_id("<|endoftext|>").unwrap_or(0),
        };
        let specials = tokenizer.get_post_processor().map_or(0, |p| {
            use tokenizers::PostProcessor;
            p.added_tokens(false)
        });
        if length <= specials {
            return Err(format!(
                "tokenizer: sequence length {length} leaves no room for text"
            ));
        }
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: length,
                ..Default::default()
            }))
            .map_err(|e| format!("tokenizer: {e}"))?;
        let pad_token = tokenizer.id_to_token(pad_id).unwrap_or_default();
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::Fixed(length),
            pad_id,
            pad_token,
            ..Default::default()
        }));
        Ok(Self { tokenizer, length })
    }

    /// The fixed sequence length every prompt is padded or truncated to.
    pub fn length(&self) -> usize {
        self.length
    }

    /// Exactly `length()` ids: framing tokens (if the tokenizer has them), text, padding.
    pub fn encode(&self, text: &str) -> Result<Vec<i64>, String> {
        self.encode_counted(text).map(|(ids, _)| ids)
    }

    /// [`PromptTokenizer::encode`] and how many of the ids are not padding (the attention mask's ones).
    pub fn encode_counted(&self, text: &str) -> Result<(Vec<i64>, usize), String> {
        let enc = contained(|| self.tokenizer.encode(text, true).map_err(|e| e.to_string()))
            .map_err(|e| format!("cannot tokenize the prompt: {e}"))?;
        let real = enc.get_attention_mask().iter().filter(|&&m| m != 0).count();
        Ok((enc.get_ids().iter().map(|&i| i as i64).collect(), real))
    }
}

/// Runs a `tokenizers` call over a user's files. The library panics on some malformed files (a decoder that is
/// not valid JSON, found by fuzzing) where it should return an error; a model folder must give a message.
fn contained<T>(call: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|panic| {
        Err(format!(
            "the tokenizers library failed: {}",
            panic_message(&*panic)
        ))
    })
}

impl PromptTokenizer {
    /// The tokens `text` needs, framing included, before it is cut to [`length`](Self::length): above
    /// `length()` the text encoder sees only the start of the prompt (the plugin says so).
    pub fn token_count(&self, text: &str) -> Result<usize, String> {
        let enc = contained(|| self.tokenizer.encode(text, true).map_err(|e| e.to_string()))
            .map_err(|e| format!("cannot tokenize the prompt: {e}"))?;
        // Truncation moves the rest of the text into `overflowing`; framing and padding are masked.
        let text_tokens = |e: &tokenizers::Encoding| {
            e.get_special_tokens_mask()
                .iter()
                .filter(|&&m| m == 0)
                .count()
        };
        let framing = self.tokenizer.get_post_processor().map_or(0, |p| {
            use tokenizers::PostProcessor;
            p.added_tokens(false)
        });
        let overflow: usize = enc.get_overflowing().iter().map(text_tokens).sum();
        Ok(text_tokens(&enc) + overflow + framing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A word-level tokenizer.json without framing tokens, padded to a fixed length (like the default model's).
    #[test]
    fn word_level_tokenizer_json_keeps_its_own_padding() {
        let dir = tempfile::tempdir().unwrap();
        let json = serde_json::json!({
            "version": "1.0", "truncation": {"direction": "Right", "max_length": 6, "strategy": "LongestFirst", "stride": 0},
            "padding": {"strategy": {"Fixed": 6}, "direction": "Right", "pad_to_multiple_of": null, "pad_id": 0,
                        "pad_type_id": 0, "pad_token": "[PAD]"},
            "added_tokens": [], "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"},
            "post_processor": null, "decoder": null,
            "model": {"type": "WordLevel", "vocab": {"[PAD]": 0, "[UNK]": 1, "red": 2, "ball": 3}, "unk_token": "[UNK]"}
        });
        std::fs::write(dir.path().join("tokenizer.json"), json.to_string()).unwrap();
        let tok = PromptTokenizer::load(dir.path(), 77).unwrap();
        assert_eq!(tok.length(), 6);
        assert_eq!(tok.encode("A Red ball!").unwrap(), vec![1, 2, 3, 1, 0, 0]);
        assert_eq!(
            tok.encode("red red red red red red red red").unwrap(),
            vec![2; 6]
        );
        assert_eq!(tok.encode("").unwrap(), vec![0; 6]);
    }

    /// `tokenizers` panics on a syntax error inside `decoder` (found by fuzz/model_package).
    #[test]
    fn a_malformed_decoder_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
            "normalizer": null, "pre_tokenizer": null, "post_processor": null,
            "decoder": {"type": "Fuse" "oops"},
            "model": {"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}}"#;
        std::fs::write(dir.path().join("tokenizer.json"), text).unwrap();
        let err = PromptTokenizer::load(dir.path(), 77).err().unwrap();
        assert!(
            err.starts_with(
                "tokenizer/tokenizer.json cannot be read: the tokenizers library failed: Helper: "
            ),
            "{err}"
        );
    }

    #[test]
    fn token_count_counts_what_truncation_cuts() {
        let dir = tempfile::tempdir().unwrap();
        let json = serde_json::json!({
            "version": "1.0", "truncation": null, "padding": null,
            "added_tokens": [], "normalizer": null, "pre_tokenizer": {"type": "Whitespace"},
            "post_processor": null, "decoder": null,
            "model": {"type": "WordLevel", "vocab": {"[PAD]": 0, "[UNK]": 1, "red": 2}, "unk_token": "[UNK]"}
        });
        std::fs::write(dir.path().join("tokenizer.json"), json.to_string()).unwrap();
        let tok = PromptTokenizer::load(dir.path(), 4).unwrap();
        assert_eq!(tok.length(), 4);
        assert_eq!(tok.token_count("").unwrap(), 0);
        assert_eq!(tok.token_count("red red").unwrap(), 2);
        assert_eq!(tok.token_count("red red red red").unwrap(), 4);
        assert_eq!(
            tok.token_count("red red red red red red red red red red")
                .unwrap(),
            10
        );
    }

    /// CLIP framing (bos/eos) counts, and words past the 77 positions still count.
    #[test]
    fn token_count_includes_clip_framing() {
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/fixtures/tiny-modelscope/tokenizer"
        );
        let tok = PromptTokenizer::load(Path::new(fixture), 77).unwrap();
        let words = |n: usize| vec!["ball"; n].join(" ");
        let per_word = tok.token_count("ball").unwrap() - 2;
        assert!(per_word >= 1);
        assert_eq!(tok.token_count(&words(3)).unwrap(), 3 * per_word + 2);
        assert_eq!(tok.token_count(&words(100)).unwrap(), 100 * per_word + 2);
        assert!(100 * per_word + 2 > tok.length());
    }
}
