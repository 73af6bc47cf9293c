//! Looking at a store through the `Store` trait only: a dump of everything
//! it holds, and a brute-force recomputation of its indexes and counters.

use helpdesk_core::index::{all_counter, counters, index_keys, status_counter};
use helpdesk_core::*;
use std::collections::{BTreeMap, BTreeSet};

/// Every kind of directory record.
pub const KINDS: [RecordKind; 7] = [
    RecordKind::User,
    RecordKind::Organisation,
    RecordKind::Usergroup,
    RecordKind::Agent,
    RecordKind::Team,
    RecordKind::Department,
    RecordKind::SavedFilter,
];

/// The index prefixes helpdesk-core defines, and the whole index.
pub const INDEX_PREFIXES: [&[u8]; 3] = [b"", b"P", b"S"];

/// Every counter helpdesk-core maintains.
pub fn all_counters() -> Vec<CounterKey> {
    let mut c: Vec<CounterKey> = Status::ALL.iter().map(|s| status_counter(*s)).collect();
    c.push(all_counter());
    c
}

/// Everything a store holds, as seen through the `Store` trait (the id
/// sequences excepted: reading them would change them).
#[derive(Debug, Clone, PartialEq)]
pub struct Dump {
    /// Every ticket id up to the highest stored, with state and log.
    pub tickets: BTreeMap<TicketId, (Option<Ticket>, Vec<TicketEvent>)>,
    /// Every counter.
    pub counters: BTreeMap<CounterKey, i64>,
    /// A full scan of each index prefix.
    pub index: BTreeMap<Vec<u8>, Vec<IndexKey>>,
    /// Every record of every kind.
    pub records: BTreeMap<RecordKind, Vec<Record>>,
    /// Who holds each unique key any record claims.
    pub unique: BTreeMap<UniqueKey, Option<(RecordKind, u64)>>,
    /// The outbox.
    pub outbox: Vec<OutboxItem>,
}

/// Scans a whole index prefix page by page (`page` keys at a time), checking
/// order and prefix on the way.
pub fn scan_all(store: &dyn Store, prefix: &[u8], page: usize) -> Vec<IndexKey> {
    let mut out: Vec<IndexKey> = Vec::new();
    loop {
        let got = store.scan_index(prefix, out.last(), page).expect("scan_index");
        assert!(got.len() <= page, "scan_index returned {} keys for limit {page}", got.len());
        for k in &got {
            assert!(k.0.starts_with(prefix), "key {k:?} outside prefix {prefix:?}");
            if let Some(prev) = out.last() {
                assert!(prev < k, "scan_index out of order or repeated: {prev:?} then {k:?}");
            }
            out.push(k.clone());
        }
        if got.len() < page {
            return out;
        }
    }
}

/// Every record of `kind`, page by page.
pub fn all_records(store: &dyn Store, kind: RecordKind, page: usize) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    let mut after = 0;
    loop {
        let got = store.records(kind, after, page).expect("records");
        assert!(got.len() <= page);
        for r in &got {
            let (k, id) = r.key();
            assert_eq!(k, kind, "records({kind:?}) returned a {k:?}");
            assert!(id > after, "records out of order: {id} after {after}");
            after = id;
        }
        let n = got.len();
        out.extend(got);
        if n < page {
            return out;
        }
    }
}

/// Everything in the store.
pub fn dump(store: &dyn Store) -> Dump {
    let last = store.last_ticket_id().expect("last_ticket_id").map(|t| t.0).unwrap_or(0);
    assert!(last <= 100_000, "dump reads every id up to the highest; {last} is too many for a test");
    let mut tickets = BTreeMap::new();
    // Which ids have a ticket: their summaries, read a batch at a time (one
    // round trip each on PostgreSQL). While ids are few every id is read in
    // full, so a log or a state without a summary shows up too.
    let ids: Vec<TicketId> = (1..=last).map(TicketId).collect();
    for chunk in ids.chunks(1000) {
        let summaries = store.summaries(chunk).expect("summaries");
        assert_eq!(summaries.len(), chunk.len(), "summaries of {} ids", chunk.len());
        for (id, summary) in chunk.iter().zip(summaries) {
            if summary.is_none() && last > 2_000 {
                continue;
            }
            let t = store.ticket(*id).expect("ticket");
            let log = store.events(*id).expect("events");
            let want = t.as_ref().map(TicketSummary::from);
            assert_eq!(summary.as_deref(), want.as_ref(), "summary of {id} differs from its state's");
            if t.is_some() || !log.is_empty() {
                tickets.insert(*id, (t, log));
            }
        }
    }
    // The fixed counters (read even at zero) and every non-zero one the store
    // lists (filter streams, SLA states), each read back one by one too.
    let mut keys: BTreeSet<CounterKey> = all_counters().into_iter().collect();
    for (k, n) in store.scan_counters(&[]).expect("scan_counters") {
        assert_eq!(store.counter(&k).expect("counter"), n, "scan_counters disagrees with counter");
        if let Some(s) = helpdesk_core::index::Stream::of_counter(&k) {
            // The group's sizes are exactly its positive counters.
            let group = helpdesk_core::index::counter_group_prefix(s.family, s.owner, s.status);
            let want: Vec<_> = store
                .scan_counters(&group)
                .expect("scan_counters")
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .filter_map(|(k, n)| Some((helpdesk_core::index::Stream::of_counter(&k)?, n as u64)))
                .collect();
            let sizes = store.stream_sizes(s.family, s.owner, s.status).expect("stream_sizes");
            assert_eq!(sizes, want, "stream_sizes of {s:?} differ from its counters");
        }
        keys.insert(k);
    }
    let counters = keys.into_iter().map(|c| (c.clone(), store.counter(&c).expect("counter"))).collect();
    let index = INDEX_PREFIXES.iter().map(|p| (p.to_vec(), scan_all(store, p, 1000))).collect();
    let records: BTreeMap<_, _> = KINDS.iter().map(|k| (*k, all_records(store, *k, 1000))).collect();
    let mut unique = BTreeMap::new();
    for r in records.values().flatten() {
        for u in r.unique_keys() {
            let holder = store.lookup(&u).expect("lookup");
            unique.insert(u, holder);
        }
    }
    let outbox = store.outbox(None, usize::MAX).expect("outbox");
    Dump { tickets, counters, index, records, unique, outbox }
}

/// What a brute-force recomputation from the stored tickets found.
#[derive(Debug)]
pub struct Consistency {
    /// The tickets, by id.
    pub tickets: BTreeMap<TicketId, Ticket>,
}

/// Checks that every ticket's state is what its log folds to, and that the
/// index and counters are exactly what the stored tickets imply. Panics with
/// the difference otherwise.
pub fn check_consistent(store: &dyn Store) -> Consistency {
    let d = dump(store);
    let mut tickets = BTreeMap::new();
    let mut want_index: BTreeSet<IndexKey> = BTreeSet::new();
    let mut want_counters: BTreeMap<CounterKey, i64> = all_counters().into_iter().map(|c| (c, 0)).collect();
    for (id, (state, log)) in &d.tickets {
        let state = state.as_ref().unwrap_or_else(|| panic!("ticket {id} has a log but no state"));
        assert!(!log.is_empty(), "ticket {id} has a state but no log");
        let folded = Ticket::from_events(log).unwrap_or_else(|e| panic!("log of {id} does not fold: {e}"));
        assert_eq!(&folded, state, "state of {id} is not what its log folds to");
        assert_eq!(state.id, *id);
        want_index.extend(index_keys(state));
        for c in counters(state) {
            *want_counters.entry(c).or_default() += 1;
        }
        tickets.insert(*id, state.clone());
    }
    let got_index: BTreeSet<IndexKey> = d.index[&b""[..]].iter().cloned().collect();
    let missing: Vec<_> = want_index.difference(&got_index).collect();
    let extra: Vec<_> = got_index.difference(&want_index).collect();
    assert!(missing.is_empty() && extra.is_empty(), "index differs: missing {missing:?}, extra {extra:?}");
    assert_eq!(d.index[&b""[..]].len(), got_index.len());
    for p in [&b"P"[..], &b"S"[..]] {
        let want: Vec<_> = want_index.iter().filter(|k| k.0.starts_with(p)).cloned().collect();
        assert_eq!(d.index[p], want, "scan of prefix {p:?}");
    }
    assert_eq!(d.counters, want_counters, "counters differ from a recomputation");
    Consistency { tickets }
}
