//! Index entries and counters derived from a ticket's state.
//!
//! A store keeps, in the same atomic commit as the ticket, an ordered set of
//! index keys and a map of counters. Both are pure functions of the ticket, so
//! a commit only needs the difference between the state before and after
//! ([`Commit::new`](crate::Commit::new)). Every index key ends with the ticket
//! id (8 bytes, big-endian), so a scan of a prefix yields ticket ids in order.

use crate::ids::*;
use crate::sla::SlaState;
use crate::ticket::Ticket;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// An ordered index key: a prefix naming the index and its sort components,
/// followed by the ticket id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IndexKey(pub Vec<u8>);

impl IndexKey {
    /// The ticket this entry points at (the last 8 bytes).
    pub fn ticket(&self) -> Option<TicketId> {
        let n = self.0.len();
        if n < 8 {
            return None;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[n - 8..]);
        Some(TicketId(u64::from_be_bytes(b)))
    }
}

/// A counter maintained incrementally: one per group of tickets that is counted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CounterKey(pub Vec<u8>);

/// The index prefixes this crate defines.
pub mod prefix {
    /// Tickets a user takes part in (owner or CC): `P user ticket`.
    pub const PARTICIPANT: u8 = b'P';
    /// Tickets by status, oldest first: `S status ticket`.
    pub const STATUS: u8 = b'S';
    /// Counter of tickets by status: `s status`.
    pub const STATUS_COUNT: u8 = b's';
    /// Counter of all tickets: `a`.
    pub const ALL_COUNT: u8 = b'a';
    /// Tickets by when something next happens to them by itself
    /// (escalation, SLA warning or failure): `D due ticket`.
    pub const DUE: u8 = b'D';
    /// Tickets by SLA state (one entry per state any of their SLAs is in):
    /// `L state ticket`.
    pub const SLA_STATE: u8 = b'L';
    /// Counter of tickets with an SLA in a state: `l state`.
    pub const SLA_STATE_COUNT: u8 = b'l';
    /// Filter indexes, sorted for lists: see [`filter_index_keys`](super::filter_index_keys).
    pub const FILTER: u8 = b'F';
    /// Filter counters: see [`filter_counters`](super::filter_counters).
    pub const FILTER_COUNT: u8 = b'f';
}

/// Key builder.
fn key(parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// The prefix of the index of tickets `user` takes part in.
pub fn participant_prefix(user: UserId) -> Vec<u8> {
    key(&[&[prefix::PARTICIPANT], &user.0.to_be_bytes()])
}

/// The prefix of the index of tickets with `status`.
pub fn status_prefix(status: crate::Status) -> Vec<u8> {
    vec![prefix::STATUS, status.code()]
}

/// The counter of tickets with `status`.
pub fn status_counter(status: crate::Status) -> CounterKey {
    CounterKey(vec![prefix::STATUS_COUNT, status.code()])
}

/// The counter of all tickets.
pub fn all_counter() -> CounterKey {
    CounterKey(vec![prefix::ALL_COUNT])
}

/// Every index key of `t`.
pub fn index_keys(t: &Ticket) -> BTreeSet<IndexKey> {
    let id = t.id.0.to_be_bytes();
    let mut keys = BTreeSet::new();
    for u in std::iter::once(&t.user).chain(t.ccs.iter()) {
        keys.insert(IndexKey(key(&[&participant_prefix(*u), &id])));
    }
    keys.insert(IndexKey(key(&[&status_prefix(t.status), &id])));
    keys.extend(timer_keys(t));
    keys.extend(filter_index_keys(t));
    keys
}

/// Every counter `t` adds one to.
pub fn counters(t: &Ticket) -> BTreeSet<CounterKey> {
    let mut c: BTreeSet<CounterKey> = [status_counter(t.status), all_counter()].into_iter().collect();
    c.extend(sla_states(t).into_iter().map(sla_state_counter));
    c.extend(filter_counters(t));
    c
}

/// A due time as 8 bytes that sort like the times (milliseconds since the
/// epoch, sign bit flipped, big-endian).
pub fn due_time_bytes(at: DateTime<Utc>) -> [u8; 8] {
    ((at.timestamp_millis() as u64) ^ (1 << 63)).to_be_bytes()
}

/// The due-timer key of a ticket due at `at` (also the scan bound: every
/// key of a ticket due at or before `at` sorts before `due_key(at, TicketId(u64::MAX))`).
pub fn due_key(at: DateTime<Utc>, ticket: TicketId) -> IndexKey {
    IndexKey(key(&[&[prefix::DUE], &due_time_bytes(at), &ticket.0.to_be_bytes()]))
}

/// The time a due-timer key holds.
pub fn due_of(k: &IndexKey) -> Option<DateTime<Utc>> {
    let b: [u8; 8] = k.0.get(1..9)?.try_into().ok()?;
    DateTime::from_timestamp_millis((u64::from_be_bytes(b) ^ (1 << 63)) as i64)
}

/// The prefix of tickets with an SLA in `state`.
pub fn sla_state_prefix(state: SlaState) -> Vec<u8> {
    vec![prefix::SLA_STATE, state.code()]
}

/// The counter of tickets with an SLA in `state`.
pub fn sla_state_counter(state: SlaState) -> CounterKey {
    CounterKey(vec![prefix::SLA_STATE_COUNT, state.code()])
}

fn sla_states(t: &Ticket) -> BTreeSet<SlaState> {
    t.sla.values().map(|s| s.state).collect()
}

/// The time-related keys of `t`: its next due time (escalations, SLA
/// warning or failure) and the states its SLAs are in.
pub fn timer_keys(t: &Ticket) -> BTreeSet<IndexKey> {
    let id = t.id.0.to_be_bytes();
    let mut keys: BTreeSet<IndexKey> =
        sla_states(t).into_iter().map(|s| IndexKey(key(&[&sla_state_prefix(s), &id]))).collect();
    if let Some(at) = crate::automation::next_due(t) {
        keys.insert(due_key(at, t.id));
    }
    keys
}

// ----- filter indexes ---------------------------------------------------------
//
// Lists of tickets (filters) are read from ordered "streams": one per
// (family, owner, status, department), each sorted in a list order. A filter
// page is a k-way merge of the streams its plan names, so its cost depends on
// the page size and the number of streams, never on the number of tickets.
//
// key     = `F` order family owner(u64 BE) status department(u64 BE) | sort | id(u64 BE)
// counter = `f` family owner(u64 BE) status department(u64 BE)        -> tickets in that stream
//
// Every stream can also be read once across all departments
// ([`ANY_DEPARTMENT`]): an agent who may see every department reads one
// stream per source instead of one per department. Those streams are not
// stored: a store serves them by merging the department streams (one range
// per department, found by seeking; see [`any_department_key`]), and keeps
// their first entries in memory like any stream's. They have no counters of
// their own either: their size is the sum of the per-department counters.
//
// `sort` is, for [`SortKey::Urgency`], `255 - urgency` then `created_at`
// (micros, sign-flipped BE): urgency high first, then oldest. For
// [`SortKey::Created`] it is `created_at` alone, for [`SortKey::CreatedDesc`]
// its bitwise inverse. Ties are broken by the id. Every order is a forward
// scan (sled 0.34's reverse iteration can panic on some tree shapes).

/// The families of filter streams: what the `owner` part of a stream names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Every ticket, by status and department (owner 0).
    Status,
    /// By assigned agent (owner 0: no agent).
    Agent,
    /// By assigned team (owner 0: no team).
    Team,
    /// By following agent (one stream entry per follower).
    Follower,
    /// Tickets with neither agent nor team (owner 0).
    Unassigned,
    /// By owning user. Not counted (one counter per user would cost more than it saves).
    User,
    /// By label: one stream entry per label, the owner is [`label_owner`] of the label.
    Label,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 7] = [
        Family::Status,
        Family::Agent,
        Family::Team,
        Family::Follower,
        Family::Unassigned,
        Family::User,
        Family::Label,
    ];

    /// The byte naming the family in keys.
    pub fn tag(self) -> u8 {
        match self {
            Family::Status => b's',
            Family::Agent => b'a',
            Family::Team => b't',
            Family::Follower => b'f',
            Family::Unassigned => b'n',
            Family::User => b'u',
            Family::Label => b'l',
        }
    }

    /// Whether the family keeps per-stream counters.
    pub fn counted(self) -> bool {
        self != Family::User
    }

    fn from_tag(b: u8) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.tag() == b)
    }
}

/// The sort layout of a stream's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// `255 - urgency`, `created_at`, id: urgency high first, then oldest (every family).
    Urgency,
    /// `created_at`, id: oldest first (the [`Family::Status`] streams only).
    Created,
    /// `created_at` inverted, id: newest first (the [`Family::Status`]
    /// streams only). Stores read every layout forwards.
    CreatedDesc,
}

impl SortKey {
    /// The byte naming the layout in keys.
    pub fn tag(self) -> u8 {
        match self {
            SortKey::Urgency => b'U',
            SortKey::Created => b'C',
            SortKey::CreatedDesc => b'D',
        }
    }

    /// Length of the sort part of a key, before the 8-byte id.
    pub fn sort_len(self) -> usize {
        match self {
            SortKey::Urgency => 9,
            SortKey::Created | SortKey::CreatedDesc => 8,
        }
    }
}

/// One stream: the tickets of `family`/`owner` with `status` in `department`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stream {
    /// Family.
    pub family: Family,
    /// Agent, team or user id; 0 for "none" and for the owner-less families.
    pub owner: u64,
    /// Status.
    pub status: crate::Status,
    /// Department.
    pub department: DepartmentId,
}

/// The department part of the streams that span every department.
pub const ANY_DEPARTMENT: DepartmentId = DepartmentId(u64::MAX);

/// Where the department sits in a filter stream key: after `F` order family
/// owner status.
pub const DEPARTMENT_AT: std::ops::Range<usize> = 12..20;

/// The key (or stream prefix) of the [`ANY_DEPARTMENT`] stream that a
/// department stream's key belongs to, or `None` when `key` is not a filter
/// stream key of one department.
///
/// ```
/// use helpdesk_core::index::*;
/// use helpdesk_core::{DepartmentId, Status};
/// let s = Stream { family: Family::Agent, owner: 7, status: Status::Pending, department: DepartmentId(3) };
/// let any = Stream { department: ANY_DEPARTMENT, ..s };
/// assert_eq!(any_department_key(&s.prefix(SortKey::Urgency)), Some(any.prefix(SortKey::Urgency)));
/// assert_eq!(any_department_key(&any.prefix(SortKey::Urgency)), None);
/// ```
pub fn any_department_key(key: &[u8]) -> Option<Vec<u8>> {
    let any = ANY_DEPARTMENT.0.to_be_bytes();
    if key.len() < STREAM_PREFIX_LEN || key[0] != prefix::FILTER || key[DEPARTMENT_AT] == any {
        return None;
    }
    let mut k = key.to_vec();
    k[DEPARTMENT_AT].copy_from_slice(&any);
    Some(k)
}

/// Whether `prefix` is exactly the prefix of an [`ANY_DEPARTMENT`] stream.
pub fn is_any_department_stream(prefix: &[u8]) -> bool {
    prefix.len() == STREAM_PREFIX_LEN
        && prefix[0] == prefix::FILTER
        && prefix[DEPARTMENT_AT] == ANY_DEPARTMENT.0.to_be_bytes()
}

/// The owner of a label's stream: FNV-1a of the (normalised) label. Distinct
/// labels may share an owner, so lists read from label streams always check
/// the labels of their candidates.
///
/// ```
/// use helpdesk_core::index::label_owner;
/// assert_ne!(label_owner("vip"), label_owner("bug"));
/// ```
pub fn label_owner(label: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Length of a filter stream prefix: `F` order family owner status department.
pub const STREAM_PREFIX_LEN: usize = 1 + 1 + 1 + 8 + 1 + 8;

impl Stream {
    /// The key prefix of this stream in layout `sort`.
    pub fn prefix(&self, sort: SortKey) -> Vec<u8> {
        let mut k = Vec::with_capacity(STREAM_PREFIX_LEN + 17);
        k.push(prefix::FILTER);
        k.push(sort.tag());
        k.push(self.family.tag());
        k.extend_from_slice(&self.owner.to_be_bytes());
        k.push(self.status.code());
        k.extend_from_slice(&self.department.0.to_be_bytes());
        k
    }

    /// The counter of this stream.
    pub fn counter(&self) -> CounterKey {
        let mut k = counter_group_prefix(self.family, self.owner, self.status);
        k.extend_from_slice(&self.department.0.to_be_bytes());
        CounterKey(k)
    }

    /// The stream a filter counter key counts, if it is one.
    pub fn of_counter(key: &CounterKey) -> Option<Stream> {
        let k = &key.0;
        if k.len() != 1 + 1 + 8 + 1 + 8 || k[0] != prefix::FILTER_COUNT {
            return None;
        }
        let family = Family::from_tag(k[1])?;
        let owner = u64::from_be_bytes(k[2..10].try_into().ok()?);
        let status = crate::Status::ALL.into_iter().find(|s| s.code() == k[10])?;
        let department = DepartmentId(u64::from_be_bytes(k[11..19].try_into().ok()?));
        Some(Stream { family, owner, status, department })
    }
}

/// The prefix shared by the counters of one (family, owner), every status and
/// department: one scan gives all of an agent's (or team's) stream sizes.
pub fn counter_owner_prefix(family: Family, owner: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + 1 + 8);
    k.push(prefix::FILTER_COUNT);
    k.push(family.tag());
    k.extend_from_slice(&owner.to_be_bytes());
    k
}

/// The prefix shared by the counters of one (family, owner, status) across
/// departments: a scan of it finds the non-empty streams and their sizes.
pub fn counter_group_prefix(family: Family, owner: u64, status: crate::Status) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + 1 + 8 + 1 + 8);
    k.push(prefix::FILTER_COUNT);
    k.push(family.tag());
    k.extend_from_slice(&owner.to_be_bytes());
    k.push(status.code());
    k
}

/// `created_at` as 8 bytes that sort like the time (micros, sign bit flipped).
pub fn time_bytes(t: chrono::DateTime<chrono::Utc>) -> [u8; 8] {
    ((t.timestamp_micros() as u64) ^ (1 << 63)).to_be_bytes()
}

/// The inverse of [`time_bytes`], in micros since the epoch.
pub fn time_micros(b: &[u8]) -> Option<i64> {
    Some((u64::from_be_bytes(b.get(..8)?.try_into().ok()?) ^ (1 << 63)) as i64)
}

/// The sort part of `t`'s keys in layout `sort` (without the id).
pub fn sort_bytes(t: &Ticket, sort: SortKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    match sort {
        SortKey::Urgency => {
            k.push(255 - t.urgency.get());
            k.extend_from_slice(&time_bytes(t.created_at));
        }
        SortKey::Created => k.extend_from_slice(&time_bytes(t.created_at)),
        SortKey::CreatedDesc => k.extend(time_bytes(t.created_at).iter().map(|b| !b)),
    }
    k
}

/// The filter streams `t` is in (see the section comment above).
pub fn streams_of(t: &Ticket) -> Vec<Stream> {
    let (status, department) = (t.status, t.department);
    let s = |family, owner| Stream { family, owner, status, department };
    let mut out = vec![
        s(Family::Status, 0),
        s(Family::Agent, t.agent.map_or(0, |a| a.0)),
        s(Family::Team, t.team.map_or(0, |a| a.0)),
        s(Family::User, t.user.0),
    ];
    out.extend(t.followers.iter().map(|a| s(Family::Follower, a.0)));
    if t.is_unassigned() {
        out.push(s(Family::Unassigned, 0));
    }
    let labels: BTreeSet<u64> = t.labels.iter().map(|l| label_owner(l)).collect();
    out.extend(labels.into_iter().map(|h| s(Family::Label, h)));
    out
}

/// The filter index keys of `t`: one per stream in the urgency layout, plus the
/// created-order keys of its status stream (all in its own department: the
/// [`ANY_DEPARTMENT`] streams are not stored).
pub fn filter_index_keys(t: &Ticket) -> Vec<IndexKey> {
    let id = t.id.0.to_be_bytes();
    let urgency = sort_bytes(t, SortKey::Urgency);
    let mut keys: Vec<IndexKey> = Vec::new();
    for s in streams_of(t) {
        keys.push(IndexKey(key(&[&s.prefix(SortKey::Urgency), &urgency, &id])));
    }
    let status = Stream { family: Family::Status, owner: 0, status: t.status, department: t.department };
    for layout in [SortKey::Created, SortKey::CreatedDesc] {
        let sort = sort_bytes(t, layout);
        keys.push(IndexKey(key(&[&status.prefix(layout), &sort, &id])));
    }
    keys
}

/// The filter counters `t` adds one to: one per counted stream it is in.
pub fn filter_counters(t: &Ticket) -> Vec<CounterKey> {
    streams_of(t).iter().filter(|s| s.family.counted()).map(Stream::counter).collect()
}
