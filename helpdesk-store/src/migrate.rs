//! Moving a whole helpdesk from one store to another (`helpdesk migrate`):
//! sled to PostgreSQL, PostgreSQL to sled, or between any two [`Store`]s.
//!
//! [`copy`] writes into an empty store everything the source holds:
//! directory records, configuration (rules, sessions, application values),
//! the audit log,
//! blobs, every ticket with its whole log, its index entries and counters
//! (derived from its state, as every commit derives them) and its undelivered
//! outbox items, and the id marks (so an id handed out by the source is
//! never handed out again by the target). [`verify`] then compares the two:
//! record, configuration, blob, ticket and outbox counts, every counter, the
//! id marks, and a sample of tickets with their logs.
//!
//! The source must not change while it is copied (stop the servers first).
//!
//! ```
//! use helpdesk_core::NewUser;
//! use helpdesk_store::{migrate, Helpdesk};
//! let from = Helpdesk::in_memory();
//! from.create_user(NewUser::new("Ann", "ann@acme.example"))?;
//! let to = Helpdesk::in_memory();
//! let copied = migrate::copy(from.store().as_ref(), to.store().as_ref(), &|_| {})?;
//! assert_eq!(copied.records, 1);
//! let report = migrate::verify(from.store().as_ref(), to.store().as_ref(), 100)?;
//! assert!(report.differences.is_empty(), "{:?}", report.differences);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use helpdesk_core::{
    Commit, Durability, IdKind, OutboxItem, OutboxKey, RecordKind, Store, StoreError, TicketId,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What [`copy`] is doing, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Directory records of one kind: done so far (no total known).
    Records(RecordKind, u64),
    /// Configuration values: done so far.
    Configs(u64),
    /// Audit log entries: done so far.
    Audit(u64),
    /// Blobs: done so far.
    Blobs(u64),
    /// Tickets: ids done of the highest id.
    Tickets(u64, u64),
    /// Flushing the target.
    Flushing,
}

/// What [`copy`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied {
    /// Directory records.
    pub records: u64,
    /// Configuration values.
    pub configs: u64,
    /// Audit log entries.
    pub audit: u64,
    /// Blobs.
    pub blobs: u64,
    /// Tickets.
    pub tickets: u64,
    /// Log events.
    pub events: u64,
    /// Undelivered outbox items.
    pub outbox: u64,
}

/// Tickets copied at once (each one commit on the target).
const WRITERS: usize = 8;
/// Tickets a writer takes at a time.
const CHUNK: u64 = 256;

/// Copies everything in `from` into `to`, which must be empty (no ticket,
/// no record, no configuration). `progress` is called as it goes. The
/// target is flushed at the end; a failure leaves it partly written (start
/// again with an empty one).
pub fn copy(
    from: &dyn Store,
    to: &dyn Store,
    progress: &(dyn Fn(Step) + Sync),
) -> Result<Copied, StoreError> {
    ensure_empty(to)?;
    let mut out = Copied::default();

    for kind in RecordKind::ALL {
        let mut after = 0;
        loop {
            let page = from.records(kind, after, 500)?;
            let Some(last) = page.last() else { break };
            after = last.key().1;
            for r in &page {
                to.put_record(r)?;
            }
            out.records += page.len() as u64;
            progress(Step::Records(kind, out.records));
        }
    }

    for ns in from.config_namespaces()? {
        for (name, value) in from.configs(&ns)? {
            to.put_config(&ns, &name, Some(&value))?;
            out.configs += 1;
            if out.configs % 100 == 0 {
                progress(Step::Configs(out.configs));

                // The audit log, oldest first, so the target keeps its order.
                for entry in whole_audit_log(from)?.into_iter().rev() {
                    to.admin_commit(&helpdesk_core::AdminCommit::audit_only(entry))?;
                    out.audit += 1;
                    if out.audit % 100 == 0 {
                        progress(Step::Audit(out.audit));
                    }
                }
                progress(Step::Audit(out.audit));
            }
        }
    }
    progress(Step::Configs(out.configs));

    let mut after: Option<String> = None;
    loop {
        let ids = from.blob_ids(after.as_deref(), 100)?;
        let Some(last) = ids.last().cloned() else { break };
        for id in &ids {
            let bytes = from.blob(id)?.ok_or_else(|| StoreError::Backend(format!("blob {id} vanished")))?;
            to.put_blob(id, &bytes)?;
        }
        out.blobs += ids.len() as u64;
        progress(Step::Blobs(out.blobs));
        after = Some(last);
    }

    // Undelivered items, by ticket (few: the outbox holds what is not sent yet).
    let mut outbox: BTreeMap<TicketId, Vec<OutboxItem>> = BTreeMap::new();
    let mut after: Option<OutboxKey> = None;
    loop {
        let page = from.outbox(after, 1000)?;
        let Some(last) = page.last() else { break };
        after = Some(last.key);
        for item in page {
            outbox.entry(item.key.ticket).or_default().push(item);
        }
    }

    let last = from.last_ticket_id()?.map_or(0, |t| t.0);
    let next = AtomicU64::new(1);
    let done = AtomicU64::new(0);
    let (tickets, events, items) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let failed: Mutex<Option<StoreError>> = Mutex::new(None);
    progress(Step::Tickets(0, last));
    std::thread::scope(|s| {
        for _ in 0..WRITERS {
            s.spawn(|| loop {
                let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                if start > last || failed.lock().map(|f| f.is_some()).unwrap_or(true) {
                    break;
                }
                let end = (start + CHUNK - 1).min(last);
                for id in start..=end {
                    match copy_ticket(from, to, TicketId(id), outbox.get(&TicketId(id))) {
                        Ok(Some((n, o))) => {
                            tickets.fetch_add(1, Ordering::Relaxed);
                            events.fetch_add(n, Ordering::Relaxed);
                            items.fetch_add(o, Ordering::Relaxed);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            if let Ok(mut f) = failed.lock() {
                                f.get_or_insert(e);
                            }
                            return;
                        }
                    }
                }
                let d = done.fetch_add(end + 1 - start, Ordering::Relaxed) + end + 1 - start;
                progress(Step::Tickets(d, last));
            });
        }
    });
    if let Some(e) = failed.into_inner().ok().flatten() {
        return Err(e);
    }
    out.tickets = tickets.into_inner();
    out.events = events.into_inner();
    out.outbox = items.into_inner();

    for kind in IdKind::ALL {
        to.raise_id_mark(kind, from.id_mark(kind)?)?;
    }
    progress(Step::Flushing);
    to.flush()?;
    Ok(out)
}

/// One ticket as one commit: its state, whole log, index entries, counters
/// and undelivered items. `None` when there is no ticket `id` (purged).
fn copy_ticket(
    from: &dyn Store,
    to: &dyn Store,
    id: TicketId,
    outbox: Option<&Vec<OutboxItem>>,
) -> Result<Option<(u64, u64)>, StoreError> {
    let Some(ticket) = from.ticket(id)? else { return Ok(None) };
    let events = from.events(id)?;
    let outbox_add = outbox.cloned().unwrap_or_default();
    let (n, o) = (events.len() as u64, outbox_add.len() as u64);
    let commit =
        Commit::new(None, Some(ticket), events).with_outbox(outbox_add).with_durability(Durability::Buffered);
    to.commit(&commit)?;
    Ok(Some((n, o)))
}

fn ensure_empty(to: &dyn Store) -> Result<(), StoreError> {
    let full = |what: &str| {
        Err(StoreError::Backend(format!(
            "the target store is not empty (it has {what}); migrate into an empty one"
        )))
    };
    if to.last_ticket_id()?.is_some() {
        return full("tickets");
    }
    for kind in RecordKind::ALL {
        if !to.records(kind, 0, 1)?.is_empty() {
            return full(&format!("{} records", kind.as_str()));
        }
    }
    if !to.config_namespaces()?.is_empty() {
        return full("configuration");
    }
    if !to.audit_log(None, 1)?.is_empty() {
        return full("audit log entries");
    }
    Ok(())
}

/// Every audit log entry of `s`, newest first.
fn whole_audit_log(s: &dyn Store) -> Result<Vec<helpdesk_core::AuditEntry>, StoreError> {
    let mut all: Vec<helpdesk_core::AuditEntry> = Vec::new();
    loop {
        let page = s.audit_log(all.last().map(|e| e.seq), 500)?;
        if page.is_empty() {
            return Ok(all);
        }
        all.extend(page);
    }
}

/// What [`verify`] compared, and what differed (empty: the copy is whole).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// Records compared, by kind (all of them, by id and content).
    pub records: u64,
    /// Configuration values compared.
    pub configs: u64,
    /// Audit log entries compared (in order, all but their positions).
    pub audit: u64,
    /// Blobs counted on both sides.
    pub blobs: u64,
    /// Tickets counted on both sides.
    pub tickets: u64,
    /// Counters compared (every non-zero one).
    pub counters: u64,
    /// Tickets compared in full (state and log).
    pub sampled: u64,
    /// Each difference found, said plainly.
    pub differences: Vec<String>,
}

/// Compares `to` with `from` after a [`copy`]: every record and
/// configuration value, the number of blobs, tickets and outbox items,
/// every counter, the id marks (the target's at least the source's), and
/// `sample` tickets spread over the id range in full (state and log).
pub fn verify(from: &dyn Store, to: &dyn Store, sample: u64) -> Result<Verified, StoreError> {
    let mut v = Verified::default();
    let mut diffs = Vec::new();
    for kind in RecordKind::ALL {
        let mut after = 0;
        loop {
            let (a, b) = (from.records(kind, after, 500)?, to.records(kind, after, 500)?);
            if a != b {
                diffs.push(format!("{} records after id {after} differ", kind.as_str()));
                break;
            }
            let Some(last) = a.last() else { break };
            after = last.key().1;
            v.records += a.len() as u64;
        }
    }
    let (na, nb) = (from.config_namespaces()?, to.config_namespaces()?);
    if na != nb {
        diffs.push(format!("configuration namespaces differ: {na:?} vs {nb:?}"));
    }
    for ns in &na {
        let (a, b) = (from.configs(ns)?, to.configs(ns)?);
        if a != b {
            diffs.push(format!("configuration {ns:?} differs ({} values vs {})", a.len(), b.len()));
        }
        v.configs += a.len() as u64;
    }
    let strip = |log: Vec<helpdesk_core::AuditEntry>| {
        log.into_iter().map(|e| helpdesk_core::AuditEntry { seq: 0, ..e }).collect::<Vec<_>>()
    };
    let (la, lb) = (strip(whole_audit_log(from)?), strip(whole_audit_log(to)?));
    if la != lb {
        diffs.push(format!(
            "the audit logs differ ({} entries in the source, {} in the target)",
            la.len(),
            lb.len()
        ));
    }
    v.audit = la.len() as u64;
    let count_blobs = |s: &dyn Store| -> Result<u64, StoreError> {
        let (mut n, mut after) = (0, None::<String>);
        loop {
            let ids = s.blob_ids(after.as_deref(), 1000)?;
            let Some(last) = ids.last().cloned() else { return Ok(n) };
            n += ids.len() as u64;
            after = Some(last);
        }
    };
    let (ba, bb) = (count_blobs(from)?, count_blobs(to)?);
    if ba != bb {
        diffs.push(format!("{ba} blobs in the source, {bb} in the target"));
    }
    v.blobs = ba;
    let count_outbox = |s: &dyn Store| -> Result<u64, StoreError> {
        let (mut n, mut after) = (0, None);
        loop {
            let page = s.outbox(after, 1000)?;
            let Some(last) = page.last() else { return Ok(n) };
            n += page.len() as u64;
            after = Some(last.key);
        }
    };
    let (oa, ob) = (count_outbox(from)?, count_outbox(to)?);
    if oa != ob {
        diffs.push(format!("{oa} outbox items in the source, {ob} in the target"));
    }
    let (ca, cb) = (from.scan_counters(&[])?, to.scan_counters(&[])?);
    if ca != cb {
        let (ma, mb): (BTreeMap<_, _>, BTreeMap<_, _>) =
            (ca.iter().cloned().collect(), cb.iter().cloned().collect());
        let wrong = ma.iter().filter(|(k, n)| mb.get(*k) != Some(*n)).count()
            + mb.keys().filter(|k| !ma.contains_key(*k)).count();
        diffs.push(format!("{wrong} of {} counters differ", ca.len()));
    }
    v.counters = ca.len() as u64;
    // Tickets: the counter of all tickets counts them on both sides.
    let all = helpdesk_core::index::all_counter();
    let (ta, tb) = (from.counter(&all)?, to.counter(&all)?);
    if ta != tb || from.last_ticket_id()? != to.last_ticket_id()? {
        diffs.push(format!("{ta} tickets in the source, {tb} in the target"));
    }
    v.tickets = ta.max(0) as u64;
    for kind in IdKind::ALL {
        let (a, b) = (from.id_mark(kind)?, to.id_mark(kind)?);
        if b < a {
            diffs.push(format!(
                "{} ids: the source handed out up to {a}, the target would give {} next",
                kind.as_str(),
                b + 1
            ));
        }
    }
    let last = from.last_ticket_id()?.map_or(0, |t| t.0);
    if last > 0 && sample > 0 {
        let step = (last / sample).max(1);
        let mut id = 1;
        while id <= last {
            let t = TicketId(id);
            let a = from.ticket(t)?;
            if a.is_some() {
                v.sampled += 1;
            }
            if a != to.ticket(t)? {
                diffs.push(format!("ticket {id} differs"));
            } else if a.is_some() && from.events(t)? != to.events(t)? {
                diffs.push(format!("the log of ticket {id} differs"));
            }
            id += step;
        }
    }
    v.differences = diffs.into_iter().take(100).collect();
    Ok(v)
}
