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
//! [`KvEngine::sync`] also syncs, after each group flush, the blob files sled
//! wrote since the last one (sled keeps any page or value over ~128 KiB in
//! its own file under `blobs/`, written without a sync) and their directory,
//! then runs `fdatasync` on sled's log file: a durable commit is on stable
//! storage when it is acknowledged, as with SQLite's `synchronous=FULL`. A
//! failed sync is final: the kernel may have dropped the unwritten pages, so
//! every later durable commit fails too, until the database is reopened.

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
    /// A flush or sync failed: nothing is acknowledged as durable any more.
    failed: Option<String>,
    /// Blob files synced, with the length they had then.
    blobs: std::collections::HashMap<std::ffi::OsString, u64>,
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
    /// sled's blob directory.
    blob_dir: std::path::PathBuf,
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
        let log_path = path.join("db");
        // Writable: some systems sync only files open for writing.
        let log_file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&log_path)
            .map_err(|e| io("open sled's log file", &log_path, e))?;
        // The files sled made must stay where they are after a power cut.
        sync_dir(path).map_err(|e| io("sync the directory", path, e))?;
        let blob_dir = path.join("blobs");
        // Blobs already there were synced by the run that wrote them.
        let blobs = blob_lengths(&blob_dir).map_err(|e| io("list", &blob_dir, e))?;
        let flush = FlushState { blobs, ..FlushState::default() };
        Ok(SledEngine { db, tree, log_file, blob_dir, flush: Mutex::new(flush), flushed: Condvar::new() })
    }

    /// After a sled flush: syncs the blob files that are new or grew since the
    /// last time (then their directory), then the log. `blobs` is the
    /// leader's copy of the synced lengths.
    fn sync_files(
        &self,
        blobs: &mut std::collections::HashMap<std::ffi::OsString, u64>,
    ) -> Result<(), StoreError> {
        let now = blob_lengths(&self.blob_dir).map_err(|e| io("list", &self.blob_dir, e))?;
        let mut changed = now.len() != blobs.len();
        for (name, len) in &now {
            if blobs.get(name) != Some(len) {
                let p = self.blob_dir.join(name);
                match std::fs::File::open(&p) {
                    Ok(f) => f.sync_all().map_err(|e| io("sync", &p, e))?,
                    // Removed by sled's clean-up since the listing.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io("open", &p, e)),
                }
                changed = true;
            }
        }
        if changed {
            sync_dir(&self.blob_dir).map_err(|e| io("sync the directory", &self.blob_dir, e))?;
        }
        *blobs = now;
        self.log_file
            .sync_data()
            .map_err(|e| StoreError::Backend(format!("fdatasync of sled's log failed: {e}")))
    }
}

/// An I/O failure on one of sled's files, as a store error.
fn io(what: &str, p: &Path, e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("cannot {what} {}: {e}", p.display()))
}

/// The files in sled's blob directory with their lengths (none when it does not exist).
fn blob_lengths(dir: &Path) -> std::io::Result<std::collections::HashMap<std::ffi::OsString, u64>> {
    let mut out = std::collections::HashMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        match entry.metadata() {
            Ok(m) => {
                out.insert(entry.file_name(), m.len());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Makes a directory's entries durable (Unix; elsewhere a no-op).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
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
        let poisoned = || StoreError::Backend("flush lock poisoned".into());
        let failed = |why: &str| {
            StoreError::Backend(format!("an earlier flush failed ({why}); reopen the database to go on"))
        };
        let mut st = self.flush.lock().map_err(|_| poisoned())?;
        st.requested += 1;
        let mine = st.requested;
        loop {
            if let Some(why) = &st.failed {
                return Err(failed(why));
            }
            if st.completed >= mine {
                return Ok(());
            }
            if st.running {
                st = self.flushed.wait(st).map_err(|_| poisoned())?;
                continue;
            }
            // Lead a flush covering every request registered so far.
            st.running = true;
            let target = st.requested;
            let mut blobs = std::mem::take(&mut st.blobs);
            drop(st);
            let r = self.db.flush().map_err(backend).and_then(|_| self.sync_files(&mut blobs));
            st = self.flush.lock().map_err(|_| poisoned())?;
            st.running = false;
            st.blobs = blobs;
            match &r {
                Ok(()) => st.completed = st.completed.max(target),
                Err(e) => st.failed = Some(e.to_string()),
            }
            self.flushed.notify_all();
            r?;
        }
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(backend)
    }
}
