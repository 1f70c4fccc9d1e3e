//! Prompt → token ids, as diffusers' CLIP tokenizer does it: `tokenizer/tokenizer.json` when present, else CLIP's
//! `vocab.json` + `merges.txt` assembled into the same tokenizer transformers builds (NFC, whitespace folding,
//! lowercase, CLIP's split pattern, byte-level BPE with `</w>` word ends). Ids are framed by bos/eos, truncated
//! to the text encoder's length and padded with the package's pad token.

use std::path::Path;

use serde_json::Value;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::{Lowercase, Replace, Sequence as NormalizerSequence, NFC};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{SplitDelimiterBehavior, Tokenizer};

const CLIP_SPLIT: &str =
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

/// A ready tokenizer with its framing tokens and fixed sequence length.
pub struct PromptTokenizer {
    tokenizer: Tokenizer,
    bos: u32,
    eos: u32,
    pad: u32,
    length: usize,
}

impl std::fmt::Debug for PromptTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptTokenizer")
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("pad", &self.pad)
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

fn clip_from_vocab(vocab: &Path, merges: &Path, unk: &str) -> Result<Tokenizer, String> {
    let bpe = BPE::from_file(&vocab.to_string_lossy(), &merges.to_string_lossy())
        .end_of_word_suffix("</w>".into())
        .unk_token(unk.into())
        .build()
        .map_err(|e| e.to_string())?;
    let mut tokenizer = Tokenizer::new(bpe);
    let whitespace = Replace::new(
        tokenizers::normalizers::replace::ReplacePattern::Regex(r"\s+".into()),
        " ",
    )
    .map_err(|e| e.to_string())?;
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
    Ok(tokenizer)
}

impl PromptTokenizer {
    /// Loads `dir` (the package's `tokenizer/` folder). `max_length` is the text encoder's position count; the
    /// tokenizer config's `model_max_length` shortens it when smaller. Errors name the file at fault, relative to
    /// the package folder.
    pub fn load(dir: &Path, max_length: usize) -> Result<Self, String> {
        let mut config = Value::Object(Default::default());
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            let parsed = read_json(&dir.join(name))
                .map_err(|e| format!("tokenizer/{name} is not valid JSON: {e}"))?;
            if let (Some(Value::Object(add)), Value::Object(base)) = (parsed, &mut config) {
                base.extend(add);
            }
        }
        let unk = special_token(&config, "unk_token").unwrap_or_else(|| "<|endoftext|>".into());
        let json = dir.join("tokenizer.json");
        let tokenizer = if json.exists() {
            Tokenizer::from_file(&json)
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
            clip_from_vocab(&vocab, &merges, &unk)
                .map_err(|e| format!("tokenizer/vocab.json and merges.txt cannot be read: {e}"))?
        };
        let mut tokenizer = tokenizer;
        // Framing, truncation and padding are done here, the same way for both sources.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| format!("tokenizer: {e}"))?;
        let id = |key: &str, default: &str| {
            let token = special_token(&config, key).unwrap_or_else(|| default.to_string());
            tokenizer
                .token_to_id(&token)
                .ok_or_else(|| format!("tokenizer: {key} `{token}` is not in the vocabulary"))
        };
        let bos = id("bos_token", "<|startoftext|>")?;
        let eos = id("eos_token", "<|endoftext|>")?;
        let pad = id("pad_token", "<|endoftext|>")?;
        let configured = config
            .get("model_max_length")
            .and_then(Value::as_f64)
            .unwrap_or(f64::INFINITY);
        let length = (max_length as f64).min(configured) as usize;
        if length < 2 {
            return Err(format!(
                "tokenizer: sequence length {length} leaves no room for text"
            ));
        }
        Ok(Self {
            tokenizer,
            bos,
            eos,
            pad,
            length,
        })
    }

    /// The fixed sequence length every prompt is padded or truncated to.
    pub fn length(&self) -> usize {
        self.length
    }

    /// `[bos, text…, eos, pad…]`, exactly `length()` ids; text beyond the length is dropped.
    pub fn encode(&self, text: &str) -> Result<Vec<i64>, String> {
        let enc = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| format!("cannot tokenize the prompt: {e}"))?;
        let mut ids = Vec::with_capacity(self.length);
        ids.push(self.bos as i64);
        ids.extend(
            enc.get_ids()
                .iter()
                .take(self.length - 2)
                .map(|&i| i as i64),
        );
        ids.push(self.eos as i64);
        ids.resize(self.length, self.pad as i64);
        Ok(ids)
    }
}
