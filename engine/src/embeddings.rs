//! The process-wide cache of text embeddings: a new seed (or steps, size, scheduler) for a prompt already
//! encoded never runs the text encoder again, which for Wan's UMT5-XXL is gigabytes of weights and seconds
//! of work. Keyed by the text encoder's identity (the package content identity, which covers its files and
//! text settings, plus where and how it runs: embeddings differ slightly between devices) and the prompt as
//! the family cleans it. Bounded by bytes; the least recently used embedding goes first.

use std::sync::Arc;

use parking_lot::Mutex;

/// Most bytes of embeddings kept: 64 Wan prompts (512 × 4096 f32 = 8 MiB each), thousands of CLIP ones.
pub(crate) const EMBEDDING_CACHE_BYTES: usize = 512 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EmbeddingKey {
    pub encoder: String,
    pub text: String,
}

struct Entry {
    key: EmbeddingKey,
    value: Arc<[f32]>,
    used: u64,
}

/// A bounded least-recently-used map from [`EmbeddingKey`] to an embedding.
pub(crate) struct EmbeddingCache {
    entries: Vec<Entry>,
    bytes: usize,
    limit: usize,
    clock: u64,
}

impl EmbeddingCache {
    pub const fn new(limit: usize) -> Self {
        Self {
            entries: Vec::new(),
            bytes: 0,
            limit,
            clock: 0,
        }
    }

    /// The process's cache.
    pub fn global() -> &'static Mutex<EmbeddingCache> {
        static GLOBAL: Mutex<EmbeddingCache> =
            Mutex::new(EmbeddingCache::new(EMBEDDING_CACHE_BYTES));
        &GLOBAL
    }

    pub fn get(&mut self, key: &EmbeddingKey) -> Option<Arc<[f32]>> {
        self.clock += 1;
        let entry = self.entries.iter_mut().find(|e| e.key == *key)?;
        entry.used = self.clock;
        Some(entry.value.clone())
    }

    /// Stores `value`, dropping the least recently used entries to stay within the limit (a value larger
    /// than the whole limit is not kept).
    pub fn put(&mut self, key: EmbeddingKey, value: Arc<[f32]>) {
        let size = std::mem::size_of_val(&*value);
        if size > self.limit {
            return;
        }
        self.remove(&key);
        while self.bytes + size > self.limit {
            let oldest = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.used)
                .map(|(i, _)| i)
                .expect("entries hold the bytes counted");
            let gone = self.entries.swap_remove(oldest);
            self.bytes -= std::mem::size_of_val(&*gone.value);
        }
        self.clock += 1;
        self.bytes += size;
        self.entries.push(Entry {
            key,
            value,
            used: self.clock,
        });
    }

    fn remove(&mut self, key: &EmbeddingKey) {
        if let Some(i) = self.entries.iter().position(|e| e.key == *key) {
            let gone = self.entries.swap_remove(i);
            self.bytes -= std::mem::size_of_val(&*gone.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> EmbeddingKey {
        EmbeddingKey {
            encoder: "blake3:e cpu".into(),
            text: text.into(),
        }
    }

    #[test]
    fn least_recently_used_goes_first_and_the_bound_holds() {
        let mut cache = EmbeddingCache::new(3 * 4 * 4); // three embeddings of 4 values
        for (i, text) in ["a", "b", "c"].iter().enumerate() {
            cache.put(key(text), vec![i as f32; 4].into());
        }
        assert_eq!(cache.get(&key("a")).unwrap()[0], 0.0); // "b" is now the oldest
        cache.put(key("d"), vec![3.0; 4].into());
        assert!(cache.get(&key("b")).is_none());
        assert_eq!(cache.get(&key("c")).unwrap()[0], 2.0);
        assert_eq!(cache.get(&key("d")).unwrap()[0], 3.0);
        assert_eq!(cache.bytes, 48);
        cache.put(key("big"), vec![0.0; 13].into());
        assert!(
            cache.get(&key("big")).is_none(),
            "larger than the whole cache"
        );
        assert_eq!(cache.entries.len(), 3);
        let other = EmbeddingKey {
            encoder: "blake3:f cpu".into(),
            text: "a".into(),
        };
        assert!(cache.get(&other).is_none(), "another encoder's embedding");
    }
}
