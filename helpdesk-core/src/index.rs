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
    keys
}

/// Every counter `t` adds one to.
pub fn counters(t: &Ticket) -> BTreeSet<CounterKey> {
    let mut c: BTreeSet<CounterKey> = [status_counter(t.status), all_counter()].into_iter().collect();
    c.extend(sla_states(t).into_iter().map(sla_state_counter));
    c
}

/// A time as 8 bytes that sort like the times (milliseconds since the
/// epoch, sign bit flipped, big-endian).
pub fn time_bytes(at: DateTime<Utc>) -> [u8; 8] {
    ((at.timestamp_millis() as u64) ^ (1 << 63)).to_be_bytes()
}

/// The due-timer key of a ticket due at `at` (also the scan bound: every
/// key of a ticket due at or before `at` sorts before `due_key(at, TicketId(u64::MAX))`).
pub fn due_key(at: DateTime<Utc>, ticket: TicketId) -> IndexKey {
    IndexKey(key(&[&[prefix::DUE], &time_bytes(at), &ticket.0.to_be_bytes()]))
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
