//! The sled engine: one sled tree, optimistic transactions, group commit.
//!
//! sled facts this relies on: one process per database (a second open fails
//! and is reported as [`StoreError::Locked`]); writes are durable only after a
//! flush, so [`KvEngine::sync`] flushes, sharing one flush among every caller
//! waiting at that moment (group commit); transactions may re-run their
//! closure, which is why [`TxnFn`] must have no side effects.
//!
//! What a flush covers: sled 0.34's own flush writes its log with
//! `sync_file_range` on Linux, which survives a process crash but neither
//! flushes the disk's write cache nor the file's size, so it may not survive
//! a power cut; sled calls a real fsync only from its background flusher. So
//! [`KvEngine::sync`] also runs `fdatasync` on sled's log file after each
//! group flush: a durable commit is on stable storage when it is
//! acknowledged, as with SQLite's `synchronous=FULL`. (sled writes values
//! over 128 KiB to blob files without syncing them; this store's values stay
//! far below that.)

use crate::kv::{KvEngine, Pair, Txn, TxnFn};
use helpdesk_core::StoreError;
use sled::transaction::{ConflictableTransactionError, TransactionalTree, UnabortableTransactionError};
use std::path::Path;
use std::sync::{Condvar, Mutex};

/// Settings for opening a sled database.
#[derive(Debug, Clone)]
pub struct SledOptions {
    /// Page cache size in bytes (sled's `cache_capacity`). Default 256 MiB:
    /// enough to keep the hot part of a 1M-ticket store in memory while
    /// leaving the rest of a small server's RAM to the application.
    pub cache_capacity: u64,
    /// How often sled flushes in the background, in ms (`None`: never; durable
    /// commits flush themselves either way). Default 500.
    pub flush_every_ms: Option<u64>,
    /// How long to keep trying when the database is locked. sled releases its
    /// file lock only when its background threads have let go of the
    /// database, a moment after the last handle is dropped, so a close and
    /// reopen in one process can briefly find it locked. Another process
    /// holding it is reported as [`StoreError::Locked`] after this wait.
    /// Default 2 s.
    pub lock_wait: std::time::Duration,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            cache_capacity: 256 * 1024 * 1024,
            flush_every_ms: Some(500),
            lock_wait: std::time::Duration::from_secs(2),
        }
    }
}

#[derive(Default)]
struct FlushState {
    /// Number of sync requests registered.
    requested: u64,
    /// All requests up to this number are durable.
    completed: u64,
    /// A flush is running.
    running: bool,
}

/// A sled-backed [`KvEngine`].
pub struct SledEngine {
    db: sled::Db,
    tree: sled::Tree,
    /// sled's log file, opened again only to `fdatasync` it after a flush.
    log_file: std::fs::File,
    flush: Mutex<FlushState>,
    flushed: Condvar,
}

impl std::fmt::Debug for SledEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledEngine").finish_non_exhaustive()
    }
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SledEngine {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: impl AsRef<Path>, opts: &SledOptions) -> Result<SledEngine, StoreError> {
        let path = path.as_ref();
        let give_up = std::time::Instant::now() + opts.lock_wait;
        let mut pause = std::time::Duration::from_millis(5);
        let db = loop {
            let opened = sled::Config::new()
                .path(path)
                .cache_capacity(opts.cache_capacity)
                .flush_every_ms(opts.flush_every_ms)
                .open();
            match opened {
                Ok(db) => break db,
                Err(sled::Error::Io(ref io))
                    if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock") =>
                {
                    if std::time::Instant::now() >= give_up {
                        return Err(StoreError::Locked { path: path.display().to_string() });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(100));
                }
                Err(e) => return Err(backend(e)),
            }
        };
        let tree = db.open_tree("helpdesk").map_err(backend)?;
        let log_file = std::fs::File::open(path.join("db")).map_err(|e| {
            StoreError::Backend(format!("cannot open sled's log file {}: {e}", path.join("db").display()))
        })?;
        Ok(SledEngine { db, tree, log_file, flush: Mutex::new(FlushState::default()), flushed: Condvar::new() })
    }
}

/// Adapts a sled transactional tree to [`Txn`]. sled's own conflict errors
/// must reach sled (so it retries the closure); they are parked here while the
/// closure sees a placeholder error.
struct SledTxn<'a> {
    tree: &'a TransactionalTree,
    sled_error: Option<UnabortableTransactionError>,
}

impl SledTxn<'_> {
    fn park(&mut self, e: UnabortableTransactionError) -> StoreError {
        let msg = e.to_string();
        self.sled_error = Some(e);
        StoreError::Backend(msg)
    }
}

impl Txn for SledTxn<'_> {
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.tree.get(key) {
            Ok(v) => Ok(v.map(|v| v.to_vec())),
            Err(e) => Err(self.park(e)),
        }
    }
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        match self.tree.insert(key, value) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.park(e)),
        }
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError> {
        match self.tree.remove(key) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.park(e)),
        }
    }
}

impl KvEngine for SledEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(key).map_err(backend)?.map(|v| v.to_vec()))
    }

    fn scan(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Vec<Pair>, StoreError> {
        let mut out = Vec::with_capacity(limit.min(1024));
        let iter = match after {
            Some(a) if a >= prefix => {
                let end = crate::kv::prefix_end(prefix);
                let start = std::ops::Bound::Excluded(a.to_vec());
                match end {
                    Some(e) => self.tree.range::<Vec<u8>, _>((start, std::ops::Bound::Excluded(e))),
                    None => self.tree.range::<Vec<u8>, _>((start, std::ops::Bound::Unbounded)),
                }
            }
            _ => self.tree.scan_prefix(prefix),
        };
        for item in iter.take(limit) {
            let (k, v) = item.map_err(backend)?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// Forward seeks only: sled 0.34's reverse iteration (`next_back`) can
    /// panic ("fucked up tree traversal") on some tree shapes. The last key
    /// is found a byte at a time, by binary search over the next byte with
    /// "is there a key at or after this one" probes: at most 8 probes per
    /// key byte.
    fn last(&self, prefix: &[u8]) -> Result<Option<Pair>, StoreError> {
        use std::ops::Bound;
        let end = crate::kv::prefix_end(prefix);
        let first_from = |from: &[u8]| -> Result<Option<Pair>, StoreError> {
            let upper = match &end {
                Some(e) => Bound::Excluded(e.clone()),
                None => Bound::Unbounded,
            };
            match self.tree.range::<Vec<u8>, _>((Bound::Included(from.to_vec()), upper)).next() {
                Some(r) => {
                    let (k, v) = r.map_err(backend)?;
                    Ok(Some((k.to_vec(), v.to_vec())))
                }
                None => Ok(None),
            }
        };
        let Some(mut best) = first_from(prefix)? else { return Ok(None) };
        // `best` is a key; look for a larger one below it, byte by byte.
        let mut at = prefix.to_vec();
        loop {
            // The largest next byte `b` with a key at or after `at + [b]`.
            let (mut lo, mut hi) = (0u16, 256u16);
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                let mut probe = at.clone();
                probe.push(mid as u8);
                if first_from(&probe)?.is_some() {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let mut probe = at.clone();
            probe.push(lo as u8);
            match first_from(&probe)? {
                Some(found) if found.0.starts_with(&probe) => {
                    best = found;
                    at = probe;
                }
                _ => return Ok(Some(best)),
            }
        }
    }

    fn transact(&self, f: &mut TxnFn<'_>) -> Result<(), StoreError> {
        let f = std::cell::RefCell::new(f);
        let result = self.tree.transaction(|tree| {
            let mut txn = SledTxn { tree, sled_error: None };
            let r = (f.borrow_mut())(&mut txn);
            match (r, txn.sled_error) {
                (_, Some(e)) => Err(ConflictableTransactionError::from(e)),
                (Ok(()), None) => Ok(()),
                (Err(e), None) => Err(ConflictableTransactionError::Abort(e)),
            }
        });
        result.map_err(|e| match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => backend(e),
        })
    }

    fn write_batch(&self, ops: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (k, v) in ops {
            match v {
                Some(v) => batch.insert(k.as_slice(), v.as_slice()),
                None => batch.remove(k.as_slice()),
            }
        }
        self.tree.apply_batch(batch).map_err(backend)
    }

    fn sync(&self) -> Result<(), StoreError> {
        let lock = || self.flush.lock().map_err(|_| StoreError::Backend("flush lock poisoned".into()));
        let mut st = lock()?;
        st.requested += 1;
        let mine = st.requested;
        loop {
            if st.completed >= mine {
                return Ok(());
            }
            if st.running {
                st = self.flushed.wait(st).map_err(|_| StoreError::Backend("flush lock poisoned".into()))?;
                continue;
            }
            // Lead a flush covering every request registered so far.
            st.running = true;
            let target = st.requested;
            drop(st);
            let r = self.db.flush().map_err(backend).and_then(|_| {
                self.log_file
                    .sync_data()
                    .map_err(|e| StoreError::Backend(format!("fdatasync of sled's log failed: {e}")))
            });
            st = lock()?;
            st.running = false;
            if r.is_ok() {
                st.completed = st.completed.max(target);
            }
            self.flushed.notify_all();
            r?;
        }
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(backend)
    }
}
