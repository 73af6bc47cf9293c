//! The key-value engine both backends share. `KvStore` (in `kvstore.rs`)
//! writes tickets, logs, indexes, counters and the directory on top of it, so
//! every rule of the `Store` trait is implemented once and the two engines
//! only provide ordered keys, atomic transactions and durability.

use helpdesk_core::StoreError;

/// An atomic read-modify-write over the keyspace. May be run more than once
/// (optimistic engines retry on contention): it must have no side effects
/// other than through the transaction.
pub type TxnFn<'a> = dyn FnMut(&mut dyn Txn) -> Result<(), StoreError> + 'a;

/// A key and its value.
pub type Pair = (Vec<u8>, Vec<u8>);

/// Operations inside a transaction.
pub trait Txn {
    /// Reads a key (seeing this transaction's own writes).
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes a key.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Removes a key.
    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError>;
}

/// An ordered, transactional key-value engine.
pub trait KvEngine: Send + Sync + 'static {
    /// Reads a key.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Up to `limit` pairs whose key starts with `prefix`, in key order,
    /// strictly after `after` when given.
    fn scan(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Vec<Pair>, StoreError>;
    /// The last pair whose key starts with `prefix`.
    fn last(&self, prefix: &[u8]) -> Result<Option<Pair>, StoreError>;
    /// Runs `f` atomically: all its writes or none. An `Err` from `f` aborts.
    fn transact(&self, f: &mut TxnFn<'_>) -> Result<(), StoreError>;
    /// Writes and removes (`None`) keys atomically: all or none, also across
    /// a crash. Blind writes: callers that read first serialise themselves.
    fn write_batch(&self, ops: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), StoreError>;
    /// Returns once every write acknowledged so far is durable. Concurrent
    /// callers share flushes (group commit).
    fn sync(&self) -> Result<(), StoreError>;
    /// Bytes used on disk (0 for memory).
    fn size_on_disk(&self) -> Result<u64, StoreError>;
}

/// The end of the key range starting with `prefix` (exclusive), or `None` when
/// the range is unbounded (prefix of all 0xff).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
