//! A bounded map for the per-request caches of the hot path (verified tokens, access
//! status). Protected requests read it far more often than they fill it, so it is split
//! into read-locked shards: hits never wait for each other, and a fill blocks one shard.

use std::{collections::HashMap, sync::RwLock};

const SHARDS: usize = 16;

pub struct ShardedMap<V> {
    shards: Vec<RwLock<HashMap<Box<str>, V>>>,
    entries_per_shard: usize,
}

impl<V: Clone> ShardedMap<V> {
    pub fn new(entries_per_shard: usize) -> Self {
        ShardedMap {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            entries_per_shard,
        }
    }

    /// Keys are tokens or token ids, whose last bytes are as good as random: no need to
    /// pay for a full hash to pick a shard.
    fn shard(&self, key: &str) -> &RwLock<HashMap<Box<str>, V>> {
        let spread = key.bytes().rev().take(8).fold(0usize, |acc, byte| {
            acc.wrapping_mul(31).wrapping_add(byte as usize)
        });
        &self.shards[spread % SHARDS]
    }

    pub fn get(&self, key: &str) -> Option<V> {
        self.shard(key).read().ok()?.get(key).cloned()
    }

    /// When the key's shard is full, first drops what `still_useful` rejects, then
    /// everything: a cache miss only costs the slow path, never a wrong answer.
    pub fn insert(&self, key: &str, value: V, still_useful: impl Fn(&V) -> bool) {
        let Ok(mut shard) = self.shard(key).write() else {
            return;
        };
        if shard.len() >= self.entries_per_shard {
            shard.retain(|_, cached| still_useful(cached));
            if shard.len() >= self.entries_per_shard {
                shard.clear();
            }
        }
        shard.insert(key.into(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_shard_keeps_what_is_still_useful_then_gives_way() {
        let map = ShardedMap::new(2);
        // Same last eight bytes: same shard.
        map.insert("a-00000000", 1, |_| true);
        map.insert("b-00000000", 2, |_| true);
        map.insert("c-00000000", 3, |value| *value == 2);
        assert_eq!(map.get("a-00000000"), None);
        assert_eq!(map.get("b-00000000"), Some(2));
        assert_eq!(map.get("c-00000000"), Some(3));

        map.insert("d-00000000", 4, |_| true);
        assert_eq!(map.get("b-00000000"), None);
        assert_eq!(map.get("d-00000000"), Some(4));
    }
}
