//! The in-memory engine: a `BTreeMap` behind a lock. Transactions hold the
//! write lock, so they are serialisable and never retried. For tests and
//! harnesses: nothing survives the process.

use crate::kv::{prefix_end, KvEngine, Pair, Txn, TxnFn};
use helpdesk_core::StoreError;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::RwLock;

/// An in-memory [`KvEngine`].
#[derive(Debug, Default)]
pub struct MemEngine {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

struct MemTxn<'a> {
    base: &'a BTreeMap<Vec<u8>, Vec<u8>>,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl Txn for MemTxn<'_> {
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(match self.writes.get(key) {
            Some(v) => v.clone(),
            None => self.base.get(key).cloned(),
        })
    }
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.writes.insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.writes.insert(key.to_vec(), None);
        Ok(())
    }
}

fn poisoned() -> StoreError {
    StoreError::Backend("in-memory store lock poisoned by a panic".into())
}

fn range<'a>(
    map: &'a BTreeMap<Vec<u8>, Vec<u8>>,
    prefix: &[u8],
    after: Option<&[u8]>,
) -> std::collections::btree_map::Range<'a, Vec<u8>, Vec<u8>> {
    let start = match after {
        Some(a) if a >= prefix => Bound::Excluded(a.to_vec()),
        _ => Bound::Included(prefix.to_vec()),
    };
    let end = match prefix_end(prefix) {
        Some(e) => Bound::Excluded(e),
        None => Bound::Unbounded,
    };
    // A cursor at or past the end of the prefix: nothing is left (and
    // `BTreeMap::range` panics on a start at or after its end).
    if let (Bound::Excluded(a), Bound::Excluded(e)) = (&start, &end) {
        if a >= e {
            return map.range((Bound::Included(e.clone()), Bound::Excluded(e.clone())));
        }
    }
    map.range((start, end))
}

impl KvEngine for MemEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map.read().map_err(|_| poisoned())?.get(key).cloned())
    }

    fn scan(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Vec<Pair>, StoreError> {
        let map = self.map.read().map_err(|_| poisoned())?;
        Ok(range(&map, prefix, after).take(limit).map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    fn last(&self, prefix: &[u8]) -> Result<Option<Pair>, StoreError> {
        let map = self.map.read().map_err(|_| poisoned())?;
        Ok(range(&map, prefix, None).next_back().map(|(k, v)| (k.clone(), v.clone())))
    }

    fn transact(&self, f: &mut TxnFn<'_>) -> Result<(), StoreError> {
        let mut map = self.map.write().map_err(|_| poisoned())?;
        let mut txn = MemTxn { base: &map, writes: BTreeMap::new() };
        f(&mut txn)?;
        let writes = txn.writes;
        for (k, v) in writes {
            match v {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
        Ok(())
    }

    fn write_batch(&self, ops: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), StoreError> {
        let mut map = self.map.write().map_err(|_| poisoned())?;
        for (k, v) in ops {
            match v {
                Some(v) => map.insert(k.clone(), v.clone()),
                None => map.remove(k),
            };
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}
