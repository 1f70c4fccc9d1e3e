//! Byte-budgeted least-recently-used map: the memory tier. Values are cheap `Arc` handles, so a hit hands
//! out the cached pixels without copying them.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

struct Item<V> {
    value: V,
    bytes: usize,
    tick: u64,
}

pub(crate) struct Lru<K, V> {
    budget: usize,
    used: usize,
    tick: u64,
    items: HashMap<K, Item<V>>,
    /// Access tick → key, oldest first.
    order: BTreeMap<u64, K>,
}

impl<K: Hash + Eq + Clone, V: Clone> Lru<K, V> {
    pub(crate) fn new(budget: usize) -> Self {
        Lru {
            budget,
            used: 0,
            tick: 0,
            items: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    pub(crate) fn get(&mut self, key: &K) -> Option<V> {
        let tick = self.next_tick();
        let item = self.items.get_mut(key)?;
        self.order.remove(&item.tick);
        item.tick = tick;
        self.order.insert(tick, key.clone());
        Some(item.value.clone())
    }

    /// Stores `value` as most recently used, evicting the least recently used items until it fits. A value
    /// larger than the whole budget is not kept.
    pub(crate) fn insert(&mut self, key: K, value: V, bytes: usize) {
        self.remove(&key);
        if bytes > self.budget {
            return;
        }
        self.shrink_to(self.budget - bytes);
        let tick = self.next_tick();
        self.order.insert(tick, key.clone());
        self.items.insert(key, Item { value, bytes, tick });
        self.used += bytes;
    }

    pub(crate) fn remove(&mut self, key: &K) {
        if let Some(item) = self.items.remove(key) {
            self.order.remove(&item.tick);
            self.used -= item.bytes;
        }
    }

    /// Removes every item whose key matches.
    pub(crate) fn remove_where(&mut self, matches: impl Fn(&K) -> bool) {
        let doomed: Vec<K> = self.items.keys().filter(|k| matches(k)).cloned().collect();
        for key in doomed {
            self.remove(&key);
        }
    }

    pub(crate) fn set_budget(&mut self, budget: usize) {
        self.budget = budget;
        self.shrink_to(budget);
    }

    pub(crate) fn used(&self) -> usize {
        self.used
    }

    fn shrink_to(&mut self, limit: usize) {
        while self.used > limit {
            let Some((_, key)) = self.order.pop_first() else {
                break;
            };
            if let Some(item) = self.items.remove(&key) {
                self.used -= item.bytes;
            }
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_to_fit_the_budget() {
        let mut lru = Lru::new(30);
        lru.insert("a", 1, 10);
        lru.insert("b", 2, 10);
        lru.insert("c", 3, 10);
        assert_eq!(lru.get(&"a"), Some(1)); // b is now the oldest
        lru.insert("d", 4, 10);
        assert_eq!(lru.get(&"b"), None);
        assert_eq!(
            [lru.get(&"a"), lru.get(&"c"), lru.get(&"d")],
            [Some(1), Some(3), Some(4)]
        );
        assert_eq!(lru.used(), 30);
    }

    #[test]
    fn oversized_values_are_not_kept_and_replacing_recounts() {
        let mut lru = Lru::new(30);
        lru.insert("a", 1, 10);
        lru.insert("huge", 2, 31);
        assert_eq!((lru.get(&"huge"), lru.get(&"a")), (None, Some(1)));
        lru.insert("a", 5, 20);
        assert_eq!((lru.get(&"a"), lru.used()), (Some(5), 20));
    }

    #[test]
    fn shrinking_the_budget_and_removing_by_predicate() {
        let mut lru = Lru::new(100);
        for (i, key) in ["x1", "x2", "y1"].into_iter().enumerate() {
            lru.insert(key, i, 10);
        }
        lru.remove_where(|k| k.starts_with('x'));
        assert_eq!(
            (lru.get(&"x1"), lru.get(&"y1"), lru.used()),
            (None, Some(2), 10)
        );
        lru.insert("z", 3, 10);
        lru.set_budget(10);
        assert_eq!(
            (lru.get(&"y1"), lru.get(&"z"), lru.used()),
            (None, Some(3), 10)
        );
    }
}
