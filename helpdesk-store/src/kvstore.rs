//! [`KvStore`]: the `Store` implementation shared by the sled and in-memory
//! backends.
//!
//! Key layout (one ordered keyspace):
//!
//! | prefix | key | value |
//! | --- | --- | --- |
//! | `T` | ticket id (u64 BE) | ticket state (MessagePack, structs as arrays) |
//! | `H` | ticket id | ticket summary (compact binary, [`TicketSummary::encode`]); its version is what every commit checks |
//! | `E` | ticket id, version of the commit's first event | the commit's log events (a list; MessagePack, structs as maps) |
//! | `I` | index key (ends with ticket id) | empty |
//! | `C` | counter key | i64 BE |
//! | `Q` | id kind name | last id handed out (u64 BE); for tickets, the highest id handed out when the latest creating commit was written (it is part of that commit) |
//! | `R` | record kind tag, id | directory record (JSON) |
//! | `U` | unique key | holder: kind tag, id |
//! | `O` | ticket id, version | the outbox items that version's commit queued and are not delivered yet (compact binary, `codec`) |
//! | `B` | blob id (`sha256-<hex>`) | the bytes (attachments, original mail) |
//! | `K` | namespace, 0, name | configuration value: a rule definition (JSON) |
//!
//! A ticket commit is one atomic [`KvEngine::write_batch`] written under the
//! store's commit lock (only commits write `T H E I C O` keys; `reschedule` takes the lock too, so under the
//! lock the version check and counter values are current); directory records
//! and the id sequences of records use engine transactions; ticket ids come
//! from memory (see [`KvStore`]).

use crate::kv::{KvEngine, Txn};
use helpdesk_core::index;
use helpdesk_core::*;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

const TICKET: u8 = b'T';
const SUMMARY: u8 = b'H';
const EVENT: u8 = b'E';
const INDEX: u8 = b'I';
const COUNTER: u8 = b'C';
const SEQUENCE: u8 = b'Q';
const RECORD: u8 = b'R';
const UNIQUE: u8 = b'U';
const OUTBOX: u8 = b'O';
const BLOB: u8 = b'B';
const CONFIG: u8 = b'K';
/// Audit log entries, by position (`L` + u64 BE); the last position is the
/// sequence `Q` `audit-log`.
const AUDIT: u8 = b'L';

fn config_key(namespace: &str, name: &str) -> Result<Vec<u8>, StoreError> {
    let ok = |s: &str| !s.is_empty() && s.len() <= 200 && !s.contains('\0');
    if !ok(namespace) || !ok(name) {
        return Err(StoreError::Backend(format!("bad configuration name {namespace:?}/{name:?}")));
    }
    Ok(k(CONFIG, &[namespace.as_bytes(), &[0], name.as_bytes()]))
}

/// The key of the id sequence of `kind`.
fn sequence_key(kind: IdKind) -> Vec<u8> {
    k(SEQUENCE, &[kind.as_str().as_bytes()])
}

/// The key of the group of outbox items `key` belongs to.
fn outbox_group_key(key: &OutboxKey) -> Vec<u8> {
    k(OUTBOX, &[&key.ticket.0.to_be_bytes(), &key.version.to_be_bytes()])
}

fn decode_outbox_group(key: &[u8], bytes: &[u8]) -> Result<Vec<OutboxItem>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { key: show(key), reason };
    let ticket = key.get(1..9).ok_or_else(|| corrupt("short outbox key".into()))?;
    let version = key.get(9..17).ok_or_else(|| corrupt("short outbox key".into()))?;
    let ticket = TicketId(u64_of(key, ticket)?);
    crate::codec::decode_outbox_group(ticket, u64_of(key, version)?, bytes).map_err(corrupt)
}

/// The key of a directory record.
fn record_key(kind: RecordKind, id: u64) -> Vec<u8> {
    k(RECORD, &[&[kind.tag()], &id.to_be_bytes()])
}

/// Writes a directory record in a transaction, claiming its unique keys
/// and releasing the ones its previous version held.
fn write_record(tx: &mut dyn Txn, record: &Record, value: &[u8]) -> Result<(), StoreError> {
    let (kind, id) = record.key();
    let key = record_key(kind, id);
    let holder = k(kind.tag(), &[&id.to_be_bytes()]);
    let new_keys = record.unique_keys();
    let old_keys = match tx.get(&key)? {
        Some(b) => decode::<Record>(&key, &b)?.unique_keys(),
        None => Vec::new(),
    };
    for u in &new_keys {
        let ukey = k(UNIQUE, &[u.0.as_bytes()]);
        if let Some(h) = tx.get(&ukey)? {
            if h != holder {
                return Err(StoreError::Unique { key: u.0.clone(), holder: describe_holder(&ukey, &h)? });
            }
        }
        tx.put(&ukey, &holder)?;
    }
    for u in old_keys.iter().filter(|u| !new_keys.contains(u)) {
        tx.delete(&k(UNIQUE, &[u.0.as_bytes()]))?;
    }
    tx.put(&key, value)
}

/// Removes a directory record in a transaction with its unique keys;
/// `false` when there was none.
fn remove_record(tx: &mut dyn Txn, kind: RecordKind, id: u64) -> Result<bool, StoreError> {
    let key = record_key(kind, id);
    let Some(b) = tx.get(&key)? else { return Ok(false) };
    for u in decode::<Record>(&key, &b)?.unique_keys() {
        tx.delete(&k(UNIQUE, &[u.0.as_bytes()]))?;
    }
    tx.delete(&key)?;
    Ok(true)
}

fn k(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    key.push(tag);
    for p in parts {
        key.extend_from_slice(p);
    }
    key
}

fn show(key: &[u8]) -> String {
    key.iter()
        .map(|b| if b.is_ascii_graphic() { (*b as char).to_string() } else { format!("\\x{b:02x}") })
        .collect()
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Backend(format!("encoding: {e}")))
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt { key: show(key), reason: e.to_string() })
}

/// Ticket states: MessagePack with structs as arrays (no field names;
/// self-describing otherwise, so the domain types' tagged enums and lenient
/// integers read back as with JSON), about half JSON's size. Every commit
/// writes one.
pub(crate) fn encode_compact<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    rmp_serde::to_vec(v).map_err(|e| StoreError::Backend(format!("encoding: {e}")))
}

/// Log events: MessagePack with structs as maps. Not as arrays: serde reads
/// an adjacently tagged unit variant (`SystemActor::Helpdesk`) back only
/// from a map.
pub(crate) fn encode_named<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    rmp_serde::to_vec_named(v).map_err(|e| StoreError::Backend(format!("encoding: {e}")))
}

pub(crate) fn decode_compact<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    rmp_serde::from_slice(bytes).map_err(|e| StoreError::Corrupt { key: show(key), reason: e.to_string() })
}

fn u64_of(key: &[u8], bytes: &[u8]) -> Result<u64, StoreError> {
    let b: [u8; 8] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        key: show(key),
        reason: format!("{} bytes, want 8", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(b))
}

/// A [`Store`] over any [`KvEngine`].
///
/// Read caches sit over the engine, kept exact by the writes that change
/// what they hold (ticket commits; directory writes for the records):
/// - every counter, in memory (tens of thousands of small entries at most:
///   one per filter stream), also grouped by (family, owner, status) for
///   pages and counts, so counts and counter scans never touch the
///   engine. Commits hold its lock while their batch is written, so it always
///   equals the stored counters;
/// - up to 100,000 decoded ticket summaries (what lists show), shared with
///   the pages that show them, replaced on every commit of their ticket;
/// - up to 50,000 decoded directory records (every command and
///   every list reads a few), replaced on every write of their record;
/// - the first 64 entries of up to 4,096 filter streams
///   (first pages of lists), updated entry by entry by every commit.
///
/// Ticket ids are handed out from memory (the highest id given so far,
/// loaded once from the stored sequence and the highest stored ticket); each
/// creating commit stores that mark in its own batch, so no id of a ticket
/// that was ever stored (even one purged since) is given again after a
/// restart, and a create costs no engine transaction for its id. An id given
/// out but never committed may be given again after a restart.
///
/// sled admits one process per database, so these caches are never stale.
#[derive(Debug)]
pub struct KvStore<E: KvEngine> {
    engine: E,
    /// The counters; `None` until first needed.
    counters: RwLock<Option<Counters>>,
    summaries: Mutex<SummaryCache>,
    records: Mutex<RecordCache>,
    heads: Mutex<HeadCache>,
    /// The highest ticket id handed out or committed; `None` until first needed.
    ticket_ids: Mutex<Option<u64>>,
    /// Outbox items claimed ([`Store::claim_outbox`]), until when.
    leases: Mutex<HashMap<OutboxKey, std::time::Instant>>,
    /// The names [`Store::exclusive`] work runs under now.
    running: Mutex<std::collections::HashSet<String>>,
}

/// Length of a filter counter's group: `f` family owner status (see
/// [`index::counter_group_prefix`]); the department follows.
const COUNTER_GROUP: usize = 11;

/// Every counter, in memory.
#[derive(Debug, Default)]
struct Counters {
    /// Every non-zero counter (`C` keys without the tag).
    map: BTreeMap<Vec<u8>, i64>,
    /// The filter-stream counters again, by group (family, owner, status):
    /// (department, size) in department order. Pages and counts read these:
    /// one hash lookup and one short contiguous list per group, where the
    /// ordered map costs a descent through heap-allocated keys.
    groups: HashMap<[u8; COUNTER_GROUP], Vec<(u64, i64)>>,
}

impl Counters {
    fn get(&self, key: &[u8]) -> i64 {
        self.map.get(key).copied().unwrap_or(0)
    }

    /// Sets a counter (0 removes it).
    fn set(&mut self, key: &[u8], v: i64) {
        if v == 0 {
            self.map.remove(key);
        } else {
            self.map.insert(key.to_vec(), v);
        }
        let Some((group, department)) = Self::split(key) else { return };
        let list = self.groups.entry(group).or_default();
        match (list.binary_search_by_key(&department, |(d, _)| *d), v) {
            (Ok(i), 0) => {
                list.remove(i);
            }
            (Ok(i), v) => list[i].1 = v,
            (Err(_), 0) => {}
            (Err(i), v) => list.insert(i, (department, v)),
        }
        if list.is_empty() {
            self.groups.remove(&group);
        }
    }

    /// A filter-stream counter key's group and department.
    fn split(key: &[u8]) -> Option<([u8; COUNTER_GROUP], u64)> {
        if key.len() != COUNTER_GROUP + 8 || key[0] != index::prefix::FILTER_COUNT {
            return None;
        }
        let group = key[..COUNTER_GROUP].try_into().ok()?;
        Some((group, u64::from_be_bytes(key[COUNTER_GROUP..].try_into().ok()?)))
    }
}

/// How many directory records (agents, users, departments...) [`KvStore`]
/// keeps decoded in memory. Past that the cache starts over.
pub(crate) const RECORD_CACHE: usize = 50_000;

#[derive(Debug, Default)]
struct RecordCache {
    /// `None`: no such record (every command looks up each agent's
    /// subscriptions, which most agents never stored).
    map: HashMap<(u8, u64), Option<Record>>,
    /// Pages of [`Store::records`] of the small kinds ([`listed_often`]),
    /// by (kind tag, after, limit): every command lists the agents (for
    /// notifications). Emptied by every record write.
    pages: HashMap<(u8, u64, usize), Vec<Record>>,
    /// Bumped by every record write (see [`KvStore::record`]).
    epoch: u64,
}

/// The record kinds whose lists [`KvStore`] caches: few records, listed by
/// every command or request (agents for notifications, teams, departments).
fn listed_often(kind: RecordKind) -> bool {
    matches!(
        kind,
        RecordKind::Agent
            | RecordKind::Team
            | RecordKind::Department
            | RecordKind::Usergroup
            | RecordKind::EmailAccount
            | RecordKind::SavedFilter
            | RecordKind::Snippet
            | RecordKind::Macro
    )
}

/// How many entries of a filter stream's head [`KvStore`] keeps in memory
/// (the first pages of lists, read far more often than the rest).
pub(crate) const HEAD: usize = 64;

/// How many stream heads [`KvStore`] keeps. Past that the cache starts over.
pub(crate) const HEAD_STREAMS: usize = 4096;

/// The first entries of a filter stream, kept exact by every commit.
#[derive(Debug)]
struct Head {
    /// The stream's first keys, in order (at most [`HEAD`]).
    keys: Vec<IndexKey>,
    /// `keys` is the whole stream.
    complete: bool,
}

#[derive(Debug, Default)]
struct HeadCache {
    map: HashMap<Vec<u8>, Head>,
    /// Bumped by every commit, so that a head read from the engine while a
    /// commit changed it is not cached.
    epoch: u64,
}

/// Whether an index prefix names one filter stream (see `helpdesk_core::index`).
fn is_stream(prefix: &[u8]) -> bool {
    prefix.len() == index::STREAM_PREFIX_LEN && prefix[0] == index::prefix::FILTER
}

impl HeadCache {
    /// Applies a commit's index changes to the cached heads.
    /// Every department stream's entry is also one of its
    /// [`index::ANY_DEPARTMENT`] stream (served by merging), whose cached
    /// head changes with it.
    fn apply(&mut self, c: &Commit) {
        self.epoch += 1;
        if self.map.is_empty() {
            return;
        }
        let with_any = |keys: &[IndexKey]| -> Vec<IndexKey> {
            let mut out = keys.to_vec();
            out.extend(keys.iter().filter_map(|k| index::any_department_key(&k.0).map(IndexKey)));
            out
        };
        for key in &with_any(&c.index_remove) {
            let Some(h) = key.0.get(..index::STREAM_PREFIX_LEN).and_then(|p| self.map.get_mut(p)) else {
                continue;
            };
            if let Ok(i) = h.keys.binary_search(key) {
                h.keys.remove(i);
            }
        }
        for key in &with_any(&c.index_add) {
            let Some(h) = key.0.get(..index::STREAM_PREFIX_LEN).and_then(|p| self.map.get_mut(p)) else {
                continue;
            };
            if let Err(i) = h.keys.binary_search(key) {
                // Past the cached part of an incomplete head: not cached.
                if i < h.keys.len() || h.complete {
                    h.keys.insert(i, key.clone());
                    if h.keys.len() > HEAD {
                        h.keys.pop();
                        h.complete = false;
                    }
                }
            }
        }
    }
}

/// How many ticket summaries [`KvStore`] keeps decoded in memory (about
/// 300 bytes each). Past that the cache starts over.
pub(crate) const SUMMARY_CACHE: usize = 100_000;

#[derive(Debug, Default)]
struct SummaryCache {
    /// `None`: the ticket was purged.
    map: HashMap<TicketId, Option<Arc<TicketSummary>>>,
    /// Bumped whenever entries are dropped, so that a summary read from the
    /// engine before then is not cached after (it may be of a purged ticket).
    epoch: u64,
}

impl SummaryCache {
    /// Caches `s` unless a newer version (or the purge) is cached.
    fn offer(&mut self, s: TicketSummary) {
        self.offer_shared(Arc::new(s))
    }

    /// [`offer`](Self::offer), shared.
    fn offer_shared(&mut self, s: Arc<TicketSummary>) {
        if self.map.len() >= SUMMARY_CACHE {
            self.map.clear();
            self.epoch += 1;
        }
        match self.map.get(&s.id) {
            Some(None) => {}
            Some(Some(cur)) if cur.version >= s.version => {}
            _ => {
                self.map.insert(s.id, Some(s));
            }
        }
    }
}

impl<E: KvEngine> KvStore<E> {
    /// Wraps an engine.
    pub fn new(engine: E) -> Self {
        KvStore {
            engine,
            counters: RwLock::new(None),
            summaries: Mutex::new(SummaryCache::default()),
            records: Mutex::new(RecordCache::default()),
            heads: Mutex::new(HeadCache::default()),
            ticket_ids: Mutex::new(None),
            leases: Mutex::new(HashMap::new()),
            running: Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// The ticket id mark (see the type's docs), loaded on first use;
    /// `bump` raises it to at least that id.
    fn ticket_id_mark(&self, bump: Option<u64>) -> Result<u64, StoreError> {
        let mut mark = self.ticket_ids.lock().map_err(|_| Self::poisoned())?;
        let current = match *mark {
            Some(m) => m,
            None => {
                let key = sequence_key(IdKind::Ticket);
                let stored = match self.engine.get(&key)? {
                    Some(b) => u64_of(&key, &b)?,
                    None => 0,
                };
                stored.max(self.last_ticket_id()?.map_or(0, |t| t.0))
            }
        };
        let next = match bump {
            Some(id) => current.max(id),
            None => current.checked_add(1).ok_or_else(|| {
                StoreError::Backend("ticket ids are used up (the highest is u64::MAX)".into())
            })?,
        };
        *mark = Some(next);
        Ok(next)
    }

    /// Keeps the record cache exact after records were written and removed:
    /// their entries replaced, cached pages dropped, the epoch moved on (a
    /// read that began before does not cache what it read).
    fn records_written(&self, put: &[Record], removed: &[(RecordKind, u64)]) -> Result<(), StoreError> {
        let mut cache = self.records.lock().map_err(|_| Self::poisoned())?;
        cache.epoch += 1;
        cache.pages.clear();
        // In the order the commit applies them: removals, then writes.
        for (kind, id) in removed {
            cache.map.insert((kind.tag(), *id), None);
        }
        for r in put {
            let (kind, id) = r.key();
            cache.map.insert((kind.tag(), id), Some(r.clone()));
        }
        Ok(())
    }

    fn poisoned() -> StoreError {
        StoreError::Backend("a store lock was poisoned by a panic".into())
    }

    /// Reads every counter from the engine (once).
    fn load_counters(&self, slot: &mut Option<Counters>) -> Result<(), StoreError> {
        if slot.is_some() {
            return Ok(());
        }
        let mut map = Counters::default();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self.engine.scan(&[COUNTER], after.as_deref(), 4096)?;
            let full = page.len() == 4096;
            for (key, v) in page {
                map.set(&key[1..], u64_of(&key, &v)? as i64);
                after = Some(key);
            }
            if !full {
                break;
            }
        }
        *slot = Some(map);
        Ok(())
    }

    fn with_counters<T>(&self, f: impl FnOnce(&Counters) -> T) -> Result<T, StoreError> {
        {
            let guard = self.counters.read().map_err(|_| Self::poisoned())?;
            if let Some(m) = guard.as_ref() {
                return Ok(f(m));
            }
        }
        let mut guard = self.counters.write().map_err(|_| Self::poisoned())?;
        self.load_counters(&mut guard)?;
        Ok(f(guard.as_ref().expect("loaded")))
    }

    /// The engine.
    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// Up to `limit` keys of an [`index::ANY_DEPARTMENT`] stream after
    /// `after`: the stream is not stored, so this merges the department
    /// streams of the same family, owner and status (found by seeking from
    /// one department to the next: one seek and one range per department),
    /// giving their keys with the department part set to any.
    fn read_any_department(
        &self,
        prefix: &[u8],
        after: Option<&IndexKey>,
        limit: usize,
    ) -> Result<Vec<IndexKey>, StoreError> {
        let suffix_after: Option<&[u8]> = match after {
            Some(a) if a.0.starts_with(prefix) => Some(&a.0[prefix.len()..]),
            Some(a) if a.0.as_slice() > prefix => return Ok(Vec::new()),
            _ => None,
        };
        // `I F order family owner status`: every department's stream of this one.
        let base = k(INDEX, &[&prefix[..index::DEPARTMENT_AT.start]]);
        let stream_len = 1 + index::STREAM_PREFIX_LEN;
        let mut out: Vec<IndexKey> = Vec::new();
        let mut seek: Option<Vec<u8>> = None;
        while let Some((first, _)) = self.engine.scan(&base, seek.as_deref(), 1)?.pop() {
            let Some(stream) = first.get(..stream_len) else { break };
            let from = suffix_after.map(|s| [stream, s].concat());
            for (key, _) in self.engine.scan(stream, from.as_deref(), limit)? {
                let key = index::any_department_key(&key[1..]).unwrap_or_else(|| key[1..].to_vec());
                out.push(IndexKey(key));
            }
            // Past every key of this department's stream.
            let mut next = stream.to_vec();
            next.extend_from_slice(&[0xff; 32]);
            seek = Some(next);
        }
        out.sort_unstable();
        out.truncate(limit);
        Ok(out)
    }

    /// The writes that add `add` to the outbox and remove `remove` from it:
    /// every group touched, rewritten (or removed when empty). Called under
    /// the commit lock, the only writer of outbox groups, after the version
    /// check (`stored` is the ticket's stored version).
    #[allow(clippy::type_complexity)]
    fn outbox_changes(
        &self,
        stored: u64,
        add: &[OutboxItem],
        remove: &[OutboxKey],
    ) -> Result<Vec<(Vec<u8>, Option<Vec<u8>>)>, StoreError> {
        // The usual case: a command queues its items at its own new version
        // (a group that cannot exist yet: no read), in seq order, and
        // removes nothing.
        if let Some(first) = add.first() {
            let one_group = first.key.version > stored
                && remove.is_empty()
                && add.windows(2).all(|w| {
                    w[1].key.ticket == first.key.ticket
                        && w[1].key.version == first.key.version
                        && w[1].key.seq > w[0].key.seq
                });
            if one_group {
                let value = crate::codec::encode_outbox_group(add).map_err(StoreError::Backend)?;
                return Ok(vec![(outbox_group_key(&first.key), Some(value))]);
            }
        }
        // Otherwise every group touched is read, changed and written back.
        let mut groups: BTreeMap<Vec<u8>, Vec<OutboxItem>> = BTreeMap::new();
        let load = |groups: &mut BTreeMap<Vec<u8>, Vec<OutboxItem>>, key: &OutboxKey| {
            let gk = outbox_group_key(key);
            if !groups.contains_key(&gk) {
                let items = match self.engine.get(&gk)? {
                    Some(v) => decode_outbox_group(&gk, &v)?,
                    None => Vec::new(),
                };
                groups.insert(gk.clone(), items);
            }
            Ok::<_, StoreError>(gk)
        };
        for key in remove {
            let gk = load(&mut groups, key)?;
            let group = groups.entry(gk).or_default();
            let before = group.len();
            group.retain(|i| i.key.seq != key.seq);
            if group.len() == before {
                return Err(StoreError::OutboxGone(key.to_string()));
            }
        }
        for item in add {
            let gk = load(&mut groups, &item.key)?;
            let group = groups.entry(gk).or_default();
            match group.binary_search_by_key(&item.key.seq, |i| i.key.seq) {
                Ok(i) => group[i] = item.clone(),
                Err(i) => group.insert(i, item.clone()),
            }
        }
        groups
            .into_iter()
            .map(|(gk, items)| {
                if items.is_empty() {
                    Ok((gk, None))
                } else {
                    Ok((gk, Some(crate::codec::encode_outbox_group(&items).map_err(StoreError::Backend)?)))
                }
            })
            .collect()
    }

    /// The stored version of a ticket (0: none), from the summary cache or
    /// the summary's bytes. Called under the commit lock, which every writer
    /// of summaries (and of their cache, for the tickets it holds) takes, so
    /// the answer is current.
    fn stored_version(&self, id: TicketId) -> Result<u64, StoreError> {
        if let Some(cached) = self.summaries.lock().map_err(|_| Self::poisoned())?.map.get(&id) {
            return Ok(cached.as_ref().map_or(0, |s| s.version));
        }
        let key = k(SUMMARY, &[&id.0.to_be_bytes()]);
        match self.engine.get(&key)? {
            Some(b) => TicketSummary::version_of(&b)
                .map_err(|reason| StoreError::Corrupt { key: show(&key), reason }),
            None => Ok(0),
        }
    }
}

impl<E: KvEngine> IdSource for KvStore<E> {
    fn next_id(&self, kind: IdKind) -> Result<u64, StoreError> {
        if kind == IdKind::Ticket {
            return self.ticket_id_mark(None);
        }
        let key = sequence_key(kind);
        let mut out = 0;
        self.engine.transact(&mut |tx| {
            let cur = match tx.get(&key)? {
                Some(b) => u64_of(&key, &b)?,
                None => 0,
            };
            out = cur + 1;
            tx.put(&key, &out.to_be_bytes())
        })?;
        Ok(out)
    }
}

impl<E: KvEngine> Store for KvStore<E> {
    fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        let key = k(TICKET, &[&id.0.to_be_bytes()]);
        self.engine.get(&key)?.map(|b| decode_compact(&key, &b)).transpose()
    }

    fn events(&self, id: TicketId) -> Result<Vec<TicketEvent>, StoreError> {
        let prefix = k(EVENT, &[&id.0.to_be_bytes()]);
        let mut out = Vec::new();
        for (key, v) in self.engine.scan(&prefix, None, usize::MAX)? {
            out.extend(decode_compact::<Vec<TicketEvent>>(&key, &v)?);
        }
        Ok(out)
    }

    /// The log is kept in groups, one per commit, keyed by the version of
    /// the commit's first event: the groups keyed after `version` are read.
    /// When `version` ends a commit (what a ticket's version always is),
    /// they start at `version + 1` and are the answer. Otherwise the group
    /// holding `version + 1` starts at or before `version`: when nothing
    /// comes after it, it is the last group; else the whole log is read.
    fn events_after(&self, id: TicketId, version: u64) -> Result<Vec<TicketEvent>, StoreError> {
        let prefix = k(EVENT, &[&id.0.to_be_bytes()]);
        let from = k(EVENT, &[&id.0.to_be_bytes(), &version.to_be_bytes()]);
        let mut out = Vec::new();
        for (key, v) in self.engine.scan(&prefix, Some(&from), usize::MAX)? {
            out.extend(decode_compact::<Vec<TicketEvent>>(&key, &v)?);
        }
        match out.first() {
            Some(first) if first.version == version + 1 => Ok(out),
            Some(_) => {
                let mut all = self.events(id)?;
                all.retain(|e| e.version > version);
                Ok(all)
            }
            None => {
                let Some((key, v)) = self.engine.last(&prefix)? else { return Ok(out) };
                let mut last = decode_compact::<Vec<TicketEvent>>(&key, &v)?;
                last.retain(|e| e.version > version);
                Ok(last)
            }
        }
    }

    fn commit(&self, c: &Commit) -> Result<(), StoreError> {
        self.commit_all(std::slice::from_ref(c))
    }

    fn commit_all(&self, commits: &[Commit]) -> Result<(), StoreError> {
        Commit::check_all(commits)?;
        struct Encoded {
            state_key: Vec<u8>,
            state: Option<Vec<u8>>,
            summary_key: Vec<u8>,
            summary: Option<Vec<u8>>,
            events: Option<(Vec<u8>, Vec<u8>)>,
        }
        let encoded = commits
            .iter()
            .map(|c| {
                let id = c.ticket.0.to_be_bytes();
                Ok(Encoded {
                    state_key: k(TICKET, &[&id]),
                    state: c.state.as_ref().map(encode_compact).transpose()?,
                    summary_key: k(SUMMARY, &[&id]),
                    summary: c.state.as_ref().map(|t| TicketSummary::from(t).encode()),
                    // A commit's events are one value, keyed by the first one's version.
                    events: match c.events.first() {
                        Some(first) => {
                            Some((k(EVENT, &[&id, &first.version.to_be_bytes()]), encode_named(&c.events)?))
                        }
                        None => None,
                    },
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Commits are serialised by the counter lock: only commits write
        // ticket keys (T, H, E, I, C, O; `reschedule` takes the lock too),
        // so under it the version checks and
        // the counter values read are current, and one atomic batch (no
        // engine transaction, which sled runs slowly and may retry) writes
        // the commits.
        let mut mirror = self.counters.write().map_err(|_| Self::poisoned())?;
        self.load_counters(&mut mirror)?;
        let counters = mirror.as_mut().expect("loaded");
        let mut ops: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        // Counter values after the commits so far in this group.
        let mut new_counters: Vec<(&CounterKey, i64)> = Vec::new();
        for (c, e) in commits.iter().zip(encoded) {
            let id = c.ticket.0.to_be_bytes();
            let actual = self.stored_version(c.ticket)?;
            if actual != c.expected_version {
                return Err(StoreError::Conflict { ticket: c.ticket, expected: c.expected_version, actual });
            }
            match (e.state, e.summary) {
                (Some(s), Some(sm)) => {
                    ops.push((e.state_key, Some(s)));
                    ops.push((e.summary_key, Some(sm)));
                }
                _ => {
                    // A purge removes the whole log and the ticket's outbox.
                    for (key, _) in self.engine.scan(&k(EVENT, &[&id]), None, usize::MAX)? {
                        ops.push((key, None));
                    }
                    for (key, _) in self.engine.scan(&k(OUTBOX, &[&id]), None, usize::MAX)? {
                        ops.push((key, None));
                    }
                    ops.push((e.state_key, None));
                    ops.push((e.summary_key, None));
                }
            }
            ops.extend(e.events.into_iter().map(|(key, value)| (key, Some(value))));
            ops.extend(c.index_remove.iter().map(|ik| (k(INDEX, &[&ik.0]), None)));
            ops.extend(c.index_add.iter().map(|ik| (k(INDEX, &[&ik.0]), Some(Vec::new()))));
            if actual == 0 && c.state.is_some() {
                // A creating commit stores the id mark with it.
                let mark = self.ticket_id_mark(Some(c.ticket.0))?;
                ops.push((sequence_key(IdKind::Ticket), Some(mark.to_be_bytes().to_vec())));
            }
            if c.state.is_some() {
                ops.extend(self.outbox_changes(actual, &c.outbox_add, &c.outbox_remove)?);
            }
            for (ck, delta) in &c.counters {
                let before = match new_counters.iter().rev().find(|(k, _)| *k == ck) {
                    Some((_, v)) => *v,
                    None => counters.get(&ck.0),
                };
                let v = before + delta;
                // A counter at zero is removed, so counter scans see only
                // non-empty groups (`counter` reads a missing key as 0).
                ops.push((k(COUNTER, &[&ck.0]), (v != 0).then(|| (v as u64).to_be_bytes().to_vec())));
                new_counters.push((ck, v));
            }
        }
        self.engine.write_batch(&ops)?;
        // The batch is written: the caches must follow it, so a poisoned
        // lock (a panic elsewhere) does not stop them here.
        for c in commits {
            self.heads.lock().unwrap_or_else(|p| p.into_inner()).apply(c);
            if !c.outbox_remove.is_empty() {
                let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
                for key in &c.outbox_remove {
                    leases.remove(key);
                }
            }
        }
        for (ck, v) in new_counters {
            counters.set(&ck.0, v);
        }
        {
            // Still under the commit lock: the next commit of these tickets
            // checks its version against this cache.
            let mut cache = self.summaries.lock().unwrap_or_else(|p| p.into_inner());
            for c in commits {
                match &c.state {
                    Some(t) => cache.offer(TicketSummary::from(t)),
                    None => {
                        cache.map.insert(c.ticket, None);
                        cache.epoch += 1;
                    }
                }
            }
        }
        drop(mirror);
        if commits.iter().any(|c| c.durability == Durability::Durable) {
            self.engine.sync()?;
        }
        Ok(())
    }

    fn scan_index(
        &self,
        prefix: &[u8],
        after: Option<&IndexKey>,
        limit: usize,
    ) -> Result<Vec<IndexKey>, StoreError> {
        let any = index::is_any_department_stream(prefix);
        let read = |after: Option<&IndexKey>, limit: usize| -> Result<Vec<IndexKey>, StoreError> {
            if any {
                return self.read_any_department(prefix, after, limit);
            }
            let p = k(INDEX, &[prefix]);
            let a = after.map(|a| k(INDEX, &[&a.0]));
            Ok(self
                .engine
                .scan(&p, a.as_deref(), limit)?
                .into_iter()
                .map(|(mut key, _)| {
                    key.remove(0);
                    IndexKey(key)
                })
                .collect())
        };
        if !is_stream(prefix) {
            return read(after, limit);
        }
        let serve = |h: &Head| {
            let start = after.map_or(0, |a| h.keys.partition_point(|k| k <= a));
            let avail = h.keys.len() - start;
            (avail >= limit || h.complete).then(|| h.keys[start..start + avail.min(limit)].to_vec())
        };
        let epoch = {
            let heads = self.heads.lock().map_err(|_| Self::poisoned())?;
            match heads.map.get(prefix) {
                Some(h) => match serve(h) {
                    Some(keys) => return Ok(keys),
                    // Past the cached head.
                    None if h.keys.len() >= HEAD / 2 => return read(after, limit),
                    None => heads.epoch,
                },
                None => heads.epoch,
            }
        };
        // Not cached (or cut short by removals): read the stream's head.
        let head = read(None, HEAD)?;
        let h = Head { complete: head.len() < HEAD, keys: head };
        let served = serve(&h);
        let mut heads = self.heads.lock().map_err(|_| Self::poisoned())?;
        if heads.epoch == epoch {
            if heads.map.len() >= HEAD_STREAMS {
                heads.map.clear();
            }
            heads.map.insert(prefix.to_vec(), h);
        }
        drop(heads);
        match served {
            Some(keys) => Ok(keys),
            None => read(after, limit),
        }
    }

    fn counter(&self, key: &CounterKey) -> Result<i64, StoreError> {
        self.with_counters(|m| m.get(&key.0))
    }

    fn last_ticket_id(&self) -> Result<Option<TicketId>, StoreError> {
        match self.engine.last(&[SUMMARY])? {
            Some((key, _)) => Ok(Some(TicketId(u64_of(&key, &key[1..])?))),
            None => Ok(None),
        }
    }

    fn put_record(&self, record: &Record) -> Result<(), StoreError> {
        let value = encode(record)?;
        self.engine.transact(&mut |tx| write_record(tx, record, &value))?;
        self.records_written(std::slice::from_ref(record), &[])?;
        // Directory changes are rare and acknowledged as done: make them durable.
        self.engine.sync()
    }

    fn delete_record(&self, kind: RecordKind, id: u64) -> Result<bool, StoreError> {
        let mut existed = false;
        self.engine.transact(&mut |tx| {
            existed = remove_record(tx, kind, id)?;
            Ok(())
        })?;
        if existed {
            self.records_written(&[], &[(kind, id)])?;
            self.engine.sync()?;
        }
        Ok(existed)
    }

    fn record(&self, kind: RecordKind, id: u64) -> Result<Option<Record>, StoreError> {
        let epoch = {
            let cache = self.records.lock().map_err(|_| Self::poisoned())?;
            if let Some(r) = cache.map.get(&(kind.tag(), id)) {
                return Ok(r.clone());
            }
            cache.epoch
        };
        let key = record_key(kind, id);
        let record: Option<Record> = self.engine.get(&key)?.map(|b| decode(&key, &b)).transpose()?;
        let mut cache = self.records.lock().map_err(|_| Self::poisoned())?;
        // Only if no write happened since the read began (it may be newer).
        // A removal or a write bumps the epoch, so a missing record read
        // here stays missing until one of them replaces the entry.
        if cache.epoch == epoch {
            if cache.map.len() >= RECORD_CACHE {
                cache.map.clear();
            }
            cache.map.insert((kind.tag(), id), record.clone());
        }
        Ok(record)
    }

    fn records(&self, kind: RecordKind, after: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        let page_key = (kind.tag(), after, limit);
        let epoch = {
            let cache = self.records.lock().map_err(|_| Self::poisoned())?;
            if let Some(page) = cache.pages.get(&page_key) {
                return Ok(page.clone());
            }
            cache.epoch
        };
        let prefix = k(RECORD, &[&[kind.tag()]]);
        let from = record_key(kind, after);
        let page: Vec<Record> = self
            .engine
            .scan(&prefix, Some(&from), limit)?
            .iter()
            .map(|(key, v)| decode(key, v))
            .collect::<Result<_, _>>()?;
        if listed_often(kind) {
            let mut cache = self.records.lock().map_err(|_| Self::poisoned())?;
            // Only if no write happened since the read began.
            if cache.epoch == epoch && cache.pages.len() < 1024 {
                cache.pages.insert(page_key, page.clone());
            }
        }
        Ok(page)
    }

    fn lookup(&self, key: &UniqueKey) -> Result<Option<(RecordKind, u64)>, StoreError> {
        let ukey = k(UNIQUE, &[key.0.as_bytes()]);
        match self.engine.get(&ukey)? {
            Some(h) => Ok(Some(parse_holder(&ukey, &h)?)),
            None => Ok(None),
        }
    }

    fn outbox(&self, after: Option<OutboxKey>, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        let mut out = Vec::new();
        // The rest of the group `after` is in, then the groups after it.
        let mut from = None;
        if let Some(a) = after {
            let key = outbox_group_key(&a);
            if let Some(v) = self.engine.get(&key)? {
                out.extend(decode_outbox_group(&key, &v)?.into_iter().filter(|i| i.key.seq > a.seq));
            }
            from = Some(key);
        }
        while out.len() < limit {
            let page = self.engine.scan(&[OUTBOX], from.as_deref(), (limit - out.len()).min(256))?;
            let Some((last, _)) = page.last() else { break };
            from = Some(last.clone());
            for (key, v) in &page {
                out.extend(decode_outbox_group(key, v)?);
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    fn reschedule(&self, item: &OutboxItem) -> Result<bool, StoreError> {
        let key = outbox_group_key(&item.key);
        // Outbox keys are written by commits; hold their lock so a delivery
        // being completed (the item removed) cannot be raced back in.
        let _commits = self.counters.write().map_err(|_| Self::poisoned())?;
        let Some(v) = self.engine.get(&key)? else { return Ok(false) };
        let mut group = decode_outbox_group(&key, &v)?;
        let Some(slot) = group.iter_mut().find(|i| i.key.seq == item.key.seq) else { return Ok(false) };
        *slot = item.clone();
        let value = crate::codec::encode_outbox_group(&group).map_err(StoreError::Backend)?;
        self.engine.write_batch(&[(key, Some(value))])?;
        self.leases.lock().unwrap_or_else(|p| p.into_inner()).remove(&item.key);
        Ok(true)
    }

    fn claim_outbox(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
        lease: std::time::Duration,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        // One process writes this store: the leases are kept in memory.
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        let at = std::time::Instant::now();
        leases.retain(|_, until| *until > at);
        let mut out = Vec::new();
        let mut after = None;
        while out.len() < limit {
            let page = self.outbox(after, 256)?;
            let Some(last) = page.last() else { break };
            after = Some(last.key);
            out.extend(
                page.into_iter()
                    .filter(|i| i.not_before <= now && !leases.contains_key(&i.key))
                    .take(limit - out.len()),
            );
        }
        for item in &out {
            leases.insert(item.key, at + lease);
        }
        Ok(out)
    }

    fn exclusive(&self, name: &str, work: &mut dyn FnMut()) -> Result<bool, StoreError> {
        if !self.running.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string()) {
            return Ok(false);
        }
        /// Ends the hold even when `work` panics.
        struct Release<'a>(&'a Mutex<std::collections::HashSet<String>>, &'a str);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(self.1);
            }
        }
        let _release = Release(&self.running, name);
        work();
        Ok(true)
    }

    fn put_blob(&self, id: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let key = k(BLOB, &[id.as_bytes()]);
        self.engine.transact(&mut |tx| {
            if tx.get(&key)?.is_none() {
                tx.put(&key, bytes)?;
            }
            Ok(())
        })
    }

    fn blob(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.engine.get(&k(BLOB, &[id.as_bytes()]))
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.engine.sync()
    }

    fn put_config(
        &self,
        namespace: &str,
        name: &str,
        value: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        let key = config_key(namespace, name)?;
        let value = value.map(encode).transpose()?;
        self.engine.transact(&mut |tx| match &value {
            Some(v) => tx.put(&key, v),
            None => tx.delete(&key),
        })?;
        self.engine.sync()
    }

    fn configs(&self, namespace: &str) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let prefix = k(CONFIG, &[namespace.as_bytes(), &[0]]);
        self.engine
            .scan(&prefix, None, usize::MAX)?
            .iter()
            .map(|(key, v)| {
                let name = String::from_utf8(key[prefix.len()..].to_vec()).map_err(|_| {
                    StoreError::Corrupt { key: show(key), reason: "name is not UTF-8".into() }
                })?;
                Ok((name, decode(key, v)?))
            })
            .collect()
    }

    fn config_namespaces(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        // One key per namespace: after each, skip past the namespace (names
        // are at most 200 bytes and UTF-8 never has a 0xFF byte).
        while let Some((key, _)) = self.engine.scan(&[CONFIG], after.as_deref(), 1)?.into_iter().next() {
            let corrupt = |reason: &str| StoreError::Corrupt { key: show(&key), reason: reason.into() };
            let end = key[1..].iter().position(|b| *b == 0).ok_or_else(|| corrupt("no end of namespace"))?;
            let ns =
                String::from_utf8(key[1..1 + end].to_vec()).map_err(|_| corrupt("namespace is not UTF-8"))?;
            after = Some(k(CONFIG, &[ns.as_bytes(), &[0], &[0xFF; 201]]));
            out.push(ns);
        }
        Ok(out)
    }

    fn blob_ids(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, StoreError> {
        let after = after.map(|a| k(BLOB, &[a.as_bytes()]));
        self.engine
            .scan(&[BLOB], after.as_deref(), limit)?
            .into_iter()
            .map(|(key, _)| {
                String::from_utf8(key[1..].to_vec()).map_err(|_| StoreError::Corrupt {
                    key: show(&key),
                    reason: "blob id is not UTF-8".into(),
                })
            })
            .collect()
    }

    fn id_mark(&self, kind: IdKind) -> Result<u64, StoreError> {
        if kind == IdKind::Ticket {
            if let Some(m) = *self.ticket_ids.lock().map_err(|_| Self::poisoned())? {
                return Ok(m);
            }
        }
        let key = sequence_key(kind);
        let stored = match self.engine.get(&key)? {
            Some(b) => u64_of(&key, &b)?,
            None => 0,
        };
        Ok(match kind {
            IdKind::Ticket => stored.max(self.last_ticket_id()?.map_or(0, |t| t.0)),
            _ => stored,
        })
    }

    fn admin_commit(&self, commit: &AdminCommit) -> Result<u64, StoreError> {
        let puts = commit.put.iter().map(|r| Ok((r, encode(r)?))).collect::<Result<Vec<_>, StoreError>>()?;
        let configs = commit
            .config
            .iter()
            .map(|(ns, name, v)| Ok((config_key(ns, name)?, v.as_ref().map(encode).transpose()?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let seq_key = k(SEQUENCE, &[b"audit-log"]);
        let mut seq = 0;
        self.engine.transact(&mut |tx| {
            for (kind, id) in &commit.delete {
                remove_record(tx, *kind, *id)?;
            }
            for (r, v) in &puts {
                write_record(tx, r, v)?;
            }
            for (key, v) in &configs {
                match v {
                    Some(v) => tx.put(key, v)?,
                    None => tx.delete(key)?,
                }
            }
            seq = match tx.get(&seq_key)? {
                Some(b) => u64_of(&seq_key, &b)? + 1,
                None => 1,
            };
            let mut entry = commit.audit.clone();
            entry.seq = seq;
            tx.put(&seq_key, &seq.to_be_bytes())?;
            tx.put(&k(AUDIT, &[&seq.to_be_bytes()]), &encode(&entry)?)
        })?;
        if !commit.put.is_empty() || !commit.delete.is_empty() {
            self.records_written(&commit.put, &commit.delete)?;
        }
        self.engine.sync()?;
        Ok(seq)
    }

    fn audit_log(&self, before: Option<u64>, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        // Positions are dense (1, 2, ...; never removed), so the page below
        // `before` is a range of keys.
        let last = match self.engine.last(&[AUDIT])? {
            Some((key, _)) => u64_of(&key, key.get(1..).unwrap_or_default())?,
            None => return Ok(Vec::new()),
        };
        let top = before.unwrap_or(u64::MAX).min(last + 1);
        let lo = top.saturating_sub(u64::try_from(limit).unwrap_or(u64::MAX)).max(1);
        if top <= lo {
            return Ok(Vec::new());
        }
        let after = k(AUDIT, &[&(lo - 1).to_be_bytes()]);
        let mut page = self
            .engine
            .scan(&[AUDIT], Some(&after), usize::try_from(top - lo).unwrap_or(usize::MAX))?
            .iter()
            .map(|(key, v)| decode::<AuditEntry>(key, v))
            .collect::<Result<Vec<_>, _>>()?;
        page.retain(|e| e.seq < top);
        page.reverse();
        Ok(page)
    }

    fn raise_id_mark(&self, kind: IdKind, mark: u64) -> Result<(), StoreError> {
        let key = sequence_key(kind);
        self.engine.transact(&mut |tx| {
            let current = match tx.get(&key)? {
                Some(b) => u64_of(&key, &b)?,
                None => 0,
            };
            if mark > current {
                tx.put(&key, &mark.to_be_bytes())?;
            }
            Ok(())
        })?;
        if kind == IdKind::Ticket {
            self.ticket_id_mark(Some(mark))?;
        }
        Ok(())
    }

    fn scan_counters(&self, prefix: &[u8]) -> Result<Vec<(CounterKey, i64)>, StoreError> {
        self.with_counters(|m| {
            m.map
                .range::<[u8], _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(prefix))
                .filter(|(_, n)| **n != 0)
                .map(|(k, n)| (CounterKey(k.clone()), *n))
                .collect()
        })
    }

    fn stream_sizes(
        &self,
        family: index::Family,
        owner: u64,
        status: Status,
    ) -> Result<Vec<(index::Stream, u64)>, StoreError> {
        let prefix = index::counter_group_prefix(family, owner, status);
        let group: [u8; COUNTER_GROUP] = prefix
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Backend(format!("counter group prefix of {} bytes", prefix.len())))?;
        self.with_counters(|m| {
            m.groups.get(&group).map_or_else(Vec::new, |list| {
                list.iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(d, n)| {
                        (index::Stream { family, owner, status, department: DepartmentId(*d) }, *n as u64)
                    })
                    .collect()
            })
        })
    }

    fn directory_epoch(&self) -> Option<u64> {
        self.records.lock().ok().map(|c| c.epoch)
    }

    fn summary(&self, id: TicketId) -> Result<Option<TicketSummary>, StoreError> {
        Ok(self.summary_shared(id)?.map(|s| TicketSummary::clone(&s)))
    }

    fn summary_shared(&self, id: TicketId) -> Result<Option<Arc<TicketSummary>>, StoreError> {
        let epoch = {
            let cache = self.summaries.lock().map_err(|_| Self::poisoned())?;
            match cache.map.get(&id) {
                Some(Some(s)) => return Ok(Some(s.clone())),
                Some(None) => return Ok(None),
                None => cache.epoch,
            }
        };
        let key = k(SUMMARY, &[&id.0.to_be_bytes()]);
        let s = match self.engine.get(&key)? {
            Some(b) => {
                TicketSummary::decode(&b).map_err(|reason| StoreError::Corrupt { key: show(&key), reason })?
            }
            // Written before summaries existed: derive it from the state.
            None => match self.ticket(id)? {
                Some(t) => TicketSummary::from(&t),
                None => return Ok(None),
            },
        };
        let s = Arc::new(s);
        let mut cache = self.summaries.lock().map_err(|_| Self::poisoned())?;
        if cache.epoch == epoch {
            cache.offer_shared(s.clone());
        }
        Ok(Some(s))
    }
}

/// The record kind with a key tag ([`RecordKind::tag`]).
pub(crate) fn kind_of_tag(tag: u8) -> Option<RecordKind> {
    RecordKind::ALL.into_iter().find(|k| k.tag() == tag)
}

fn parse_holder(key: &[u8], h: &[u8]) -> Result<(RecordKind, u64), StoreError> {
    let corrupt = || StoreError::Corrupt { key: show(key), reason: "bad unique-key holder".into() };
    let (tag, id) = h.split_first().ok_or_else(corrupt)?;
    let kind = kind_of_tag(*tag).ok_or_else(corrupt)?;
    Ok((kind, u64_of(key, id)?))
}

fn describe_holder(key: &[u8], h: &[u8]) -> Result<String, StoreError> {
    let (kind, id) = parse_holder(key, h)?;
    Ok(format!("{}:{id}", kind.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use helpdesk_core::outbox::{DeliveryChannel, DeliveryOutcome, Effect, Notification, Recipient, Webhook};
    use helpdesk_core::sla::{SlaKind, SlaState, SlaStatus};
    use helpdesk_core::testing::{sample_ticket, t0};

    /// States and events go through the compact codec unchanged, with every
    /// shape of serde attribute the domain types use (internally and
    /// adjacently tagged enums, `Urgency` written as u8 and read as i64,
    /// maps, options, times with nanoseconds).
    #[test]
    fn compact_codec_round_trips_states_and_events() {
        let (mut t, mut events) = sample_ticket();
        let at = t0() + chrono::Duration::nanoseconds(123_456_789);
        t.urgency = Urgency::new(7).unwrap();
        t.labels.insert("vip".into());
        t.fields.insert("plan".into(), FieldValue::Choice("pro".into()));
        t.fields.insert("seats".into(), FieldValue::Number(12.5));
        t.fields.insert("since".into(), FieldValue::Date(at.date_naive()));
        t.sla.insert(
            "first".into(),
            SlaStatus {
                kind: SlaKind::FirstResponse,
                state: SlaState::Warning,
                running_since: Some(at),
                counted_secs: 3,
                warn_at: None,
                due: Some(at),
                met_at: None,
            },
        );
        t.escalations.insert("stale".into(), EscalationState { since: at, fired: 2, due: None });
        t.updated_at = at;
        let v = t.version;
        let mut event = |change: Change, actor: Actor| {
            events.push(TicketEvent { ticket: t.id, version: v + events.len() as u64, at, actor, change });
        };
        let notify = Effect::Notify(Notification {
            recipient: Recipient::Agent(AgentId(3)),
            channel: DeliveryChannel::Email,
            reason: "new_ticket".into(),
            template: Some("t".into()),
        });
        event(Change::Queued { effect: notify.clone() }, Actor::System(SystemActor::Trigger("vip".into())));
        event(
            Change::Delivered {
                effect: Effect::Webhook(Webhook { url: "http://127.0.0.1:9/".into(), origin: "o".into() }),
                outcome: DeliveryOutcome::Failed("refused".into()),
                attempts: 3,
            },
            Actor::system(),
        );
        event(
            Change::Delivered { effect: notify, outcome: DeliveryOutcome::Sent, attempts: 1 },
            Actor::system(),
        );
        event(
            Change::Urgency { from: Urgency::new(1).unwrap(), to: Urgency::new(7).unwrap() },
            Actor::Agent(AgentId(1)),
        );
        event(
            Change::Field { key: "plan".into(), from: None, to: Some(FieldValue::Text("x".into())) },
            Actor::system(),
        );
        let key = b"T";
        let back: Ticket = decode_compact(key, &encode_compact(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        let back: Vec<TicketEvent> = decode_compact(key, &encode_named(&events).unwrap()).unwrap();
        assert_eq!(back, events);
        assert!(encode_named(&events).unwrap().len() < serde_json::to_vec(&events).unwrap().len());
        assert!(encode_compact(&t).unwrap().len() < serde_json::to_vec(&t).unwrap().len());
    }

    /// A commit's outbox items are stored in seq order whatever order they
    /// come in and a repeated seq keeps the later item (the general path),
    /// the same as in-order items (the one-group path ordinary commits take).
    #[test]
    fn outbox_items_out_of_order_or_repeated_are_stored_in_seq_order() {
        let v = sample_ticket().0.version;
        let item = |seq: u32, reason: &str| {
            OutboxItem::new(
                OutboxKey { ticket: TicketId(1), version: v, seq },
                Effect::Notify(Notification {
                    recipient: Recipient::User(UserId(1)),
                    channel: DeliveryChannel::Email,
                    reason: reason.into(),
                    template: None,
                }),
                t0(),
            )
        };
        let stored = |items: Vec<OutboxItem>| {
            let (t, events) = sample_ticket();
            let store = KvStore::new(crate::MemEngine::default());
            store.commit(&Commit::new(None, Some(t), events).with_outbox(items)).unwrap();
            let got = store.outbox(None, 100).unwrap();
            got.iter().map(|i| (i.key.version, i.key.seq, i.effect.clone())).collect::<Vec<_>>()
        };
        let reason = |r: &str| item(0, r).effect;
        let in_order = stored(vec![item(0, "a"), item(1, "b"), item(2, "c")]);
        let want = vec![(v, 0, reason("a")), (v, 1, reason("b")), (v, 2, reason("c"))];
        assert_eq!(in_order, want);
        let shuffled = stored(vec![item(2, "c"), item(0, "x"), item(1, "b"), item(0, "a")]);
        assert_eq!(shuffled, want);
    }
}
