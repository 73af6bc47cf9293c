//! The checks of the conformance suite (see [`testkit`](super)): each takes a
//! [`Ctx`] that opens stores of the backend under test.
#![allow(missing_docs, clippy::missing_panics_doc)]

use super::inspect::{check_consistent, dump, scan_all};
use super::Ctx;
use crate::{Error, NewAgent};
use chrono::Duration;
use helpdesk_core::index::{all_counter, participant_prefix, status_counter, status_prefix};
use helpdesk_core::testing::{sample_directory, t0};
use helpdesk_core::*;
use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

// ----- helpers for store-level checks ----------------------------------------

/// The events creating ticket `id` for sample user `user` in Support (the
/// sample directory of helpdesk-core).
pub fn created(id: u64, user: u64) -> Vec<TicketEvent> {
    let new =
        NewTicket::new("Printer on fire", "It is on fire.", DepartmentId(1), UserId(user), Channel::Portal);
    create(TicketId(id), new, &Actor::User(UserId(user)), t0(), &sample_directory(), &Policy::default())
        .unwrap()
}

/// Commits a new ticket directly to the store.
pub fn put_new(store: &dyn Store, id: u64, user: u64) -> (Ticket, Vec<TicketEvent>) {
    let events = created(id, user);
    let t = Ticket::from_events(&events).unwrap();
    store.commit(&Commit::new(None, Some(t.clone()), events.clone())).unwrap();
    (t, events)
}

/// The commit running `cmd` by `actor` on `t` (decided against the sample directory).
pub fn decided(t: &Ticket, cmd: Command, actor: Actor) -> Commit {
    let events = decide(t, &cmd, &actor, t0(), &sample_directory(), &Policy::default()).unwrap();
    let mut after = t.clone();
    for e in &events {
        after.apply(e).unwrap();
    }
    Commit::new(Some(t), Some(after), events)
}

pub fn alice() -> Actor {
    Actor::Agent(AgentId(1))
}

pub fn reply(body: &str) -> Command {
    Command::AgentReply { body: body.into(), attachments: vec![], status: None }
}

pub fn assert_conflict<T: std::fmt::Debug>(
    r: Result<T, StoreError>,
    ticket: TicketId,
    expected: u64,
    actual: u64,
) {
    match r {
        Err(StoreError::Conflict { ticket: t, expected: e, actual: a }) => {
            assert_eq!((t, e, actual), (ticket, expected, a), "conflict details");
        }
        other => {
            panic!("expected a conflict on {ticket} (expected v{expected}, actual v{actual}), got {other:?}")
        }
    }
}

// ----- checks ------------------------------------------------------------------

pub fn create_load_round_trip(ctx: &Ctx) {
    let db = ctx.open();
    let s = db.store();
    assert_eq!(s.ticket(TicketId(1)).unwrap(), None);
    assert_eq!(s.events(TicketId(1)).unwrap(), vec![]);
    assert_eq!(s.last_ticket_id().unwrap(), None);

    let (t, events) = put_new(s, 1, 1);
    assert_eq!(s.ticket(TicketId(1)).unwrap(), Some(t.clone()));
    assert_eq!(s.events(TicketId(1)).unwrap(), events);
    assert_eq!(s.last_ticket_id().unwrap(), Some(TicketId(1)));

    // A second commit appends to the log; the state follows.
    let c = decided(&t, reply("On it."), alice());
    s.commit(&c).unwrap();
    let after = c.state.clone().unwrap();
    assert_eq!(s.ticket(TicketId(1)).unwrap(), Some(after.clone()));
    let mut log = events.clone();
    log.extend(c.events.clone());
    assert_eq!(s.events(TicketId(1)).unwrap(), log);
    assert_eq!(Ticket::from_events(&log).unwrap(), after);

    // Ticket 1 keeps its own log when others are added around it (ids that
    // share byte prefixes included).
    put_new(s, 2, 2);
    put_new(s, 256, 3);
    put_new(s, 65_536, 1);
    assert_eq!(s.events(TicketId(1)).unwrap(), log);
    assert_eq!(s.events(TicketId(256)).unwrap(), created(256, 3));
    assert_eq!(s.last_ticket_id().unwrap(), Some(TicketId(65_536)));
    check_consistent(s);
}

pub fn commit_rejects_stale_version(ctx: &Ctx) {
    let db = ctx.open();
    let s = db.store();
    let (t1, _) = put_new(s, 1, 1);
    let first = decided(&t1, reply("first"), alice());
    s.commit(&first).unwrap();
    let current = first.state.clone().unwrap();

    // A writer that started from v2 and did something else entirely
    // (different index and counter changes) is refused.
    let stale = decided(&t1, Command::AddCc { user: UserId(2) }, alice());
    let stale_status = decided(&t1, Command::SetStatus { status: Status::Pending }, alice());
    let before = (dump(s), db.raw());
    assert_conflict(s.commit(&stale), t1.id, t1.version, current.version);
    assert_conflict(s.commit(&stale_status), t1.id, t1.version, current.version);
    // A writer from the future is refused too.
    let mut future = decided(&current, reply("again"), alice());
    future.expected_version += 5;
    assert_conflict(s.commit(&future), t1.id, current.version + 5, current.version);
    assert_eq!((dump(s), db.raw()), before, "a refused commit changed the store");
    assert_eq!(s.ticket(t1.id).unwrap(), Some(current.clone()));

    // Decided again on the current state, the same change goes through.
    s.commit(&decided(&current, Command::AddCc { user: UserId(2) }, alice())).unwrap();
    check_consistent(s);
}

pub fn create_existing_id_conflicts(ctx: &Ctx) {
    let db = ctx.open();
    let s = db.store();
    let (t, _) = put_new(s, 1, 1);
    let before = (dump(s), db.raw());
    // Another "new" ticket 1, owned by someone else: refused, nothing changes.
    let events = created(1, 2);
    let other = Ticket::from_events(&events).unwrap();
    assert_conflict(s.commit(&Commit::new(None, Some(other), events)), t.id, 0, t.version);
    assert_eq!((dump(s), db.raw()), before);
    check_consistent(s);
}

pub fn failed_commit_writes_nothing(ctx: &Ctx) {
    let fx = ctx.fixture();
    let s = fx.db.store();
    let t = fx.ticket_by(fx.ann, "Printer on fire");
    let t = fx.hd.agent_reply(t.id, fx.alice, "Looking.", None).unwrap();
    let stale = t.clone();
    let t = fx.hd.execute(t.id, &fx.alice(), Command::SetStatus { status: Status::Pending }).unwrap();

    // A stale commit that would touch state, log, index (owner, CC and
    // status entries), counters and the outbox: every part is refused.
    let mut after = stale.clone();
    let events = decide(
        &stale,
        &Command::SetOwner { user: fx.ben },
        &fx.alice(),
        fx.clock.now(),
        &DirectorySnapshot {
            users: [(fx.ann, fx.hd.user(fx.ann).unwrap()), (fx.ben, fx.hd.user(fx.ben).unwrap())].into(),
            agents: [(fx.alice, fx.hd.agent(fx.alice).unwrap())].into(),
            departments: [(fx.support, fx.hd.department(fx.support).unwrap())].into(),
            ..Default::default()
        },
        &Policy::default(),
    )
    .unwrap();
    let mut events = events;
    for e in &events {
        after.apply(e).unwrap();
    }
    let n = after.version + 1;
    events.push(TicketEvent {
        ticket: t.id,
        version: n,
        at: fx.clock.now(),
        actor: fx.alice(),
        change: Change::Status { from: Status::AwaitingUser, to: Status::Resolved },
    });
    after.apply(events.last().unwrap()).unwrap();
    let item = email_item(OutboxKey { ticket: t.id, version: n, seq: 0 }, fx.ben, "status", fx.clock.now());
    let commit = Commit::new(Some(&stale), Some(after), events).with_outbox(vec![item]);
    assert!(!commit.index_add.is_empty() && !commit.index_remove.is_empty() && !commit.counters.is_empty());
    let before = fx.snapshot();
    assert_conflict(s.commit(&commit), t.id, stale.version, t.version);
    assert_eq!(fx.snapshot(), before, "a refused commit left partial writes");
    assert!(
        !s.outbox(None, 100).unwrap().iter().any(|i| i.key.version == n),
        "the refused commit's outbox item was queued"
    );

    // A commit is built completely (version check, counter values from the
    // in-memory mirror loaded once from disk) before one atomic batch writes
    // it, so nothing can fail half-way through its writes. A counter damaged
    // on disk after the mirror was loaded is never read back: the next commit
    // touching it writes the right value again. (PostgreSQL changes counters
    // in the statement: there is no mirror to check.)
    let Some(engine) = fx.db.engine() else {
        fx.hd.execute(t.id, &fx.alice(), Command::SetStatus { status: Status::Resolved }).unwrap();
        check_consistent(s);
        return;
    };
    let counter_key = {
        let mut k = vec![b'C'];
        k.extend_from_slice(&status_counter(Status::Resolved).0);
        k
    };
    engine.transact(&mut |tx| tx.put(&counter_key, b"bad")).unwrap();
    fx.hd.execute(t.id, &fx.alice(), Command::SetStatus { status: Status::Resolved }).unwrap();
    assert_eq!(engine.get(&counter_key).unwrap(), Some(1u64.to_be_bytes().to_vec()));
    check_consistent(s);
}

/// An email notification to `user`, queued at `at`.
pub fn email_item(
    key: OutboxKey,
    user: UserId,
    reason: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> OutboxItem {
    let effect = Effect::Notify(Notification {
        recipient: Recipient::User(user),
        channel: DeliveryChannel::Email,
        reason: reason.into(),
        template: None,
    });
    OutboxItem::new(key, effect, at)
}

pub fn malformed_commit_is_refused(ctx: &Ctx) {
    let db = ctx.open();
    let s = db.store();
    let (t, _) = put_new(s, 1, 1);
    let good = decided(&t, reply("hi"), alice());
    let before = (dump(s), db.raw());

    // State version not matching the events.
    let mut c = good.clone();
    c.state.as_mut().unwrap().version += 1;
    assert!(matches!(s.commit(&c), Err(StoreError::Backend(_))), "state ahead of its events");
    // Events of another ticket.
    let mut c = good.clone();
    c.events[0].ticket = TicketId(2);
    assert!(s.commit(&c).is_err(), "events of another ticket");
    // State of another ticket.
    let mut c = good.clone();
    c.state.as_mut().unwrap().id = TicketId(2);
    assert!(s.commit(&c).is_err(), "state of another ticket");
    // A purge that also appends events would leave a log without a ticket.
    let mut c = Commit::new(Some(&t), None, vec![]);
    c.events = good.events.clone();
    assert!(matches!(s.commit(&c), Err(StoreError::Backend(_))), "purge with events");
    // An outbox item keyed at a version this commit does not make.
    let past = good.state.as_ref().unwrap().version + 1;
    let item =
        email_item(OutboxKey { ticket: t.id, version: past, seq: 0 }, t.user, "agent_reply", t.created_at);
    let c = good.clone().with_outbox(vec![item]);
    assert!(matches!(s.commit(&c), Err(StoreError::Backend(_))), "outbox item past the commit's version");
    assert_eq!((dump(s), db.raw()), before);
    s.commit(&good).unwrap();
    check_consistent(s);
}

pub fn index_and_counters_match_recomputation(ctx: &Ctx) {
    let fx = ctx.fixture();
    let hd = &fx.hd;
    let s = fx.db.store();
    let a = fx.alice();
    check_consistent(s);
    let t1 = fx.ticket_by(fx.ann, "one");
    let t2 = fx.ticket_by(fx.ben, "two");
    let t3 = fx.ticket_by(fx.eve, "three");
    let t4 = hd
        .create_ticket(&a, {
            let mut n = NewTicket::new("four", "Hello.", fx.billing, fx.ann, Channel::Agent);
            n.ccs.insert(fx.ben);
            n
        })
        .unwrap();
    check_consistent(s);
    hd.agent_reply(t1.id, fx.alice, "Reply.", None).unwrap();
    hd.user_reply(t1.id, fx.ann, "Thanks.").unwrap();
    hd.execute(t1.id, &a, Command::AddCc { user: fx.eve }).unwrap();
    hd.execute(t1.id, &a, Command::SetOwner { user: fx.eve }).unwrap(); // Eve stops being a CC
    hd.execute(t1.id, &a, Command::AddCc { user: fx.ann }).unwrap();
    hd.agent_reply(t2.id, fx.bob, "Done.", Some(Status::Resolved)).unwrap();
    hd.user_reply(t2.id, fx.ben, "Not done.").unwrap(); // reopens
    hd.execute(t2.id, &a, Command::SetStatus { status: Status::Pending }).unwrap();
    hd.execute(t3.id, &a, Command::MarkSpam).unwrap();
    hd.execute(t4.id, &a, Command::Delete).unwrap();
    check_consistent(s);
    hd.execute(t4.id, &a, Command::Restore).unwrap();
    hd.execute(t4.id, &a, Command::RemoveCc { user: fx.ben }).unwrap();
    hd.execute(t3.id, &a, Command::Delete).unwrap();
    hd.purge(t3.id, &a).unwrap();
    let c = check_consistent(s);
    assert_eq!(c.tickets.keys().copied().collect::<Vec<_>>(), vec![t1.id, t2.id, t4.id]);

    // Spot checks against what the commands should have done.
    assert_eq!(hd.count_by_status(Status::AwaitingAgent).unwrap(), 1); // t1
    assert_eq!(hd.count_by_status(Status::Pending).unwrap(), 1); // t2
    assert_eq!(hd.count_by_status(Status::AwaitingUser).unwrap(), 1); // t4
    assert_eq!(hd.count_by_status(Status::Spam).unwrap(), 0);
    assert_eq!(hd.count_by_status(Status::Deleted).unwrap(), 0);
    assert_eq!(s.counter(&all_counter()).unwrap(), 3);
    let ids = |u| hd.tickets_of_user(u, None, 100).unwrap().iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(ids(fx.ann), vec![t1.id, t4.id]);
    assert_eq!(ids(fx.ben), vec![t2.id]);
    assert_eq!(ids(fx.eve), vec![t1.id]);
}

pub fn purge_removes_state_log_index_and_counters(ctx: &Ctx) {
    let fx = ctx.fixture();
    let hd = &fx.hd;
    let s = fx.db.store();
    let keep = fx.ticket_by(fx.ben, "keep");
    let t = fx.ticket_by(fx.ann, "purge me");
    hd.execute(t.id, &fx.alice(), Command::AddCc { user: fx.ben }).unwrap();
    hd.agent_reply(t.id, fx.alice, "Hm.", None).unwrap();
    let t = hd.execute(t.id, &fx.alice(), Command::Delete).unwrap();
    let deleted_before = s.counter(&status_counter(Status::Deleted)).unwrap();
    let all_before = s.counter(&all_counter()).unwrap();
    assert_eq!((deleted_before, all_before), (1, 2));

    // Not purgeable by Bob (no delete permission), nor by a user, nor with a stale version.
    let before = fx.snapshot();
    assert!(matches!(
        hd.purge(t.id, &Actor::Agent(fx.bob)),
        Err(Error::Ticket(TicketError::NotPermitted { .. }))
    ));
    assert!(matches!(
        hd.purge(t.id, &Actor::User(fx.ann)),
        Err(Error::Ticket(TicketError::NotPermitted { .. }))
    ));
    let mut stale = t.clone();
    stale.version -= 1;
    assert_conflict(s.commit(&Commit::new(Some(&stale), None, vec![])), t.id, stale.version, t.version);
    assert_eq!(fx.snapshot(), before);

    hd.purge(t.id, &fx.alice()).unwrap();
    assert_eq!(s.ticket(t.id).unwrap(), None);
    assert_eq!(s.events(t.id).unwrap(), vec![]);
    assert!(matches!(hd.log(t.id), Err(Error::Ticket(TicketError::NotFound(_)))));
    assert!(
        scan_all(s, b"", 7).iter().all(|k| k.ticket() != Some(t.id)),
        "index entries of a purged ticket remain"
    );
    assert_eq!(s.counter(&status_counter(Status::Deleted)).unwrap(), 0);
    assert_eq!(s.counter(&all_counter()).unwrap(), 1);
    assert_eq!(fx.db.raw_of_ticket(t.id), Vec::<String>::new(), "what the purged ticket stored remains");
    assert_eq!(hd.ticket(keep.id).unwrap(), keep);
    check_consistent(s);

    // Purging the newest ticket does not make its id available again.
    let next = fx.ticket_by(fx.ann, "after the purge");
    assert!(next.id > t.id, "{} reused after purging {}", next.id, t.id);
    // A second purge of the same ticket finds nothing.
    assert!(matches!(hd.purge(t.id, &fx.alice()), Err(Error::Ticket(TicketError::NotFound(_)))));
}

pub fn scan_index_pagination(ctx: &Ctx) {
    let fx = ctx.fixture();
    let hd = &fx.hd;
    let s = fx.db.store();
    let mut ann_tickets = Vec::new();
    for i in 0..23 {
        let t = if i % 3 == 0 {
            let mut n = NewTicket::new(format!("cc {i}"), "Hi.", fx.support, fx.ben, Channel::Portal);
            n.ccs.insert(fx.ann);
            hd.create_ticket(&Actor::User(fx.ben), n).unwrap()
        } else {
            fx.ticket_by(fx.ann, &format!("ticket {i}"))
        };
        match i % 4 {
            1 => {
                hd.agent_reply(t.id, fx.alice, "Reply.", None).unwrap();
            }
            2 => {
                hd.execute(t.id, &fx.alice(), Command::SetStatus { status: Status::Pending }).unwrap();
            }
            _ => {}
        }
        ann_tickets.push(t.id);
    }
    let mut prefixes: Vec<Vec<u8>> = vec![vec![], b"P".to_vec(), b"S".to_vec()];
    prefixes.extend([fx.ann, fx.ben, fx.eve, UserId(999)].map(participant_prefix));
    prefixes.extend(Status::ALL.map(status_prefix));
    for p in &prefixes {
        let full = s.scan_index(p, None, usize::MAX).unwrap();
        let mut sorted = full.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(full, sorted, "full scan of {p:?} not strictly increasing");
        for page in [1, 2, 3, 5, 8, 1000] {
            assert_eq!(scan_all(s, p, page), full, "prefix {p:?} in pages of {page}");
        }
        // limit 0 returns nothing.
        assert_eq!(s.scan_index(p, None, 0).unwrap(), vec![]);
    }
    let ann: Vec<TicketId> = s
        .scan_index(&participant_prefix(fx.ann), None, usize::MAX)
        .unwrap()
        .iter()
        .map(|k| k.ticket().unwrap())
        .collect();
    assert_eq!(ann, ann_tickets, "Ann's tickets in id order, each once");
    // The same through the helpdesk's cursor API.
    let mut got = Vec::new();
    let mut after = None;
    loop {
        let page = hd.tickets_of_user(fx.ann, after, 4).unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|t| t.id);
        got.extend(page.iter().map(|t| t.id));
    }
    assert_eq!(got, ann_tickets);
    check_consistent(s);
}

pub fn scan_index_cursor_outside_prefix(ctx: &Ctx) {
    let db = ctx.open();
    let s = db.store();
    // Users 1, 2 and 255 (a prefix ending in 0xff) own tickets.
    for (id, user) in [(1, 1), (2, 2), (3, 1), (4, 255), (5, 256)] {
        let events = {
            let mut e = created(id, 1);
            if let Change::Created { user: u, .. } = &mut e[0].change {
                *u = UserId(user);
            }
            e
        };
        let t = Ticket::from_events(&events).unwrap();
        s.commit(&Commit::new(None, Some(t), events)).unwrap();
    }
    let p1 = participant_prefix(UserId(1));
    let all1 = s.scan_index(&p1, None, 100).unwrap();
    assert_eq!(all1.len(), 2);
    let key = |p: &[u8], t: u64| {
        let mut k = p.to_vec();
        k.extend_from_slice(&t.to_be_bytes());
        IndexKey(k)
    };
    // A cursor before the prefix starts at the beginning.
    assert_eq!(s.scan_index(&p1, Some(&IndexKey(b"A".to_vec())), 100).unwrap(), all1);
    assert_eq!(s.scan_index(&p1, Some(&IndexKey(p1[..p1.len() - 1].to_vec())), 100).unwrap(), all1);
    // The prefix itself is before every key under it.
    assert_eq!(s.scan_index(&p1, Some(&IndexKey(p1.clone())), 100).unwrap(), all1);
    // A cursor that is not a stored key.
    assert_eq!(s.scan_index(&p1, Some(&key(&p1, 2)), 100).unwrap(), all1[1..].to_vec());
    // A cursor at or past the end of the prefix: nothing (not a panic, not
    // another prefix's keys).
    let p2 = participant_prefix(UserId(2));
    assert_eq!(s.scan_index(&p1, Some(&all1[1]), 100).unwrap(), vec![]);
    assert_eq!(
        s.scan_index(&p1, Some(&IndexKey(p2.clone())), 100).unwrap(),
        vec![],
        "cursor = end of prefix"
    );
    assert_eq!(s.scan_index(&p1, Some(&key(&p2, 2)), 100).unwrap(), vec![], "cursor in a later prefix");
    assert_eq!(
        s.scan_index(&p1, Some(&IndexKey(vec![0xff; 20])), 100).unwrap(),
        vec![],
        "cursor past everything"
    );
    // A prefix ending in 0xff.
    let p255 = participant_prefix(UserId(255));
    let all255 = s.scan_index(&p255, None, 100).unwrap();
    assert_eq!(all255.iter().map(|k| k.ticket().unwrap()).collect::<Vec<_>>(), vec![TicketId(4)]);
    assert_eq!(s.scan_index(&p255, Some(&all255[0]), 100).unwrap(), vec![]);
    assert_eq!(s.scan_index(&p255, Some(&IndexKey(participant_prefix(UserId(256)))), 100).unwrap(), vec![]);
    check_consistent(s);
}

pub fn next_id_strictly_increases(ctx: &Ctx) {
    let db = ctx.open();
    let s = db.store();
    let mut last = std::collections::BTreeMap::new();
    for round in 0..20 {
        for kind in IdKind::ALL {
            if round % 3 == 1 && kind == IdKind::User {
                continue; // sequences are independent
            }
            let id = s.next_id(kind).unwrap();
            if let Some(prev) = last.insert(kind, id) {
                assert!(id > prev, "{kind:?}: {id} after {prev}");
            } else {
                assert!(id >= 1, "ids start at 1");
            }
        }
    }
}

pub fn next_id_concurrent_never_repeats(ctx: &Ctx) {
    let db = ctx.open();
    let store = db.store.clone();
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let s = store.clone();
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait();
                (0..100).map(|_| s.next_id(IdKind::Ticket).unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all = BTreeSet::new();
    for h in handles {
        let ids = h.join().unwrap();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "one thread's ids not increasing");
        for id in ids {
            assert!(all.insert(id), "id {id} handed out twice");
        }
    }
    assert_eq!(all.len(), 400);
    assert!(store.next_id(IdKind::Ticket).unwrap() > *all.last().unwrap());
}

pub fn user(id: u64, emails: &[&str]) -> Record {
    Record::User(User {
        id: UserId(id),
        name: format!("User {id}"),
        emails: emails.iter().map(|e| Email::parse(e).unwrap()).collect(),
        phone: None,
        organisation: None,
        usergroups: BTreeSet::new(),
        validated: true,
        fields: Default::default(),
        created_at: t0(),
        blocked: false,
        language: None,
    })
}

pub fn put_record_unique_keys(ctx: &Ctx) {
    let db = ctx.open();
    let s = db.store();
    s.put_record(&user(1, &["ann@acme.com"])).unwrap();
    let before = (dump(s), db.raw());
    // Same address, another user: refused, nothing written.
    match s.put_record(&user(2, &["ann@acme.com"])) {
        Err(StoreError::Unique { key, holder }) => {
            assert_eq!(key, "user-email:ann@acme.com");
            assert_eq!(holder, "user:1");
        }
        r => panic!("expected Unique, got {r:?}"),
    }
    // Also when the taken address is not the first: the free one is not claimed.
    assert!(matches!(
        s.put_record(&user(2, &["ben@acme.com", "ann@acme.com"])),
        Err(StoreError::Unique { .. })
    ));
    assert_eq!((dump(s), db.raw()), before, "a refused put_record changed the store");
    assert_eq!(s.record(RecordKind::User, 2).unwrap(), None);
    assert_eq!(s.lookup(&UniqueKey::user_email(&Email::parse("ben@acme.com").unwrap())).unwrap(), None);
    // Case: addresses are compared as parsed (lower-cased domain).
    let upper = Email::parse("ann@ACME.com").unwrap();
    if upper == Email::parse("ann@acme.com").unwrap() {
        assert!(matches!(s.put_record(&user(2, &["ann@ACME.com"])), Err(StoreError::Unique { .. })));
    }

    // The holder may write itself again, with the same or more keys.
    s.put_record(&user(1, &["ann@acme.com", "ann@home.test"])).unwrap();
    // An agent may use a user's address (separate namespace).
    let agent = Record::Agent(Agent {
        id: AgentId(1),
        name: "Ann at work".into(),
        email: Email::parse("ann@acme.com").unwrap(),
        teams: BTreeSet::new(),
        permissions: Permissions::default(),
        disabled: false,
        language: None,
    });
    s.put_record(&agent).unwrap();
    // Names are unique per kind, case-insensitively.
    let team = |id: u64, name: &str| Record::Team(Team { id: TeamId(id), name: name.into() });
    s.put_record(&team(1, "Tier 1")).unwrap();
    let before = (dump(s), db.raw());
    assert!(matches!(s.put_record(&team(2, " tier 1 ")), Err(StoreError::Unique { .. })));
    assert_eq!((dump(s), db.raw()), before);
    s.put_record(&Record::Usergroup(Usergroup {
        id: UsergroupId(1),
        name: "Tier 1".into(),
        portal: Default::default(),
    }))
    .unwrap();
    // Organisations: domains and names.
    let org = |id: u64, name: &str, domains: &[&str]| {
        Record::Organisation(Organisation {
            id: OrganisationId(id),
            name: name.into(),
            email_domains: domains.iter().map(|d| d.to_string()).collect(),
            notes: String::new(),
            phones: vec![],
            fields: Default::default(),
        })
    };
    s.put_record(&org(1, "Acme", &["acme.com"])).unwrap();
    assert!(matches!(s.put_record(&org(2, "Acme Two", &["acme.com"])), Err(StoreError::Unique { .. })));
    assert!(matches!(s.put_record(&org(2, "ACME", &["acme2.com"])), Err(StoreError::Unique { .. })));
    assert_eq!(s.lookup(&UniqueKey::domain("acme2.com")).unwrap(), None);
    s.put_record(&org(2, "Acme Two", &["acme2.com"])).unwrap();
    assert_eq!(s.lookup(&UniqueKey::domain("acme2.com")).unwrap(), Some((RecordKind::Organisation, 2)));
}

pub fn changing_email_releases_old_one(ctx: &Ctx) {
    let fx = ctx.fixture();
    let s = fx.db.store();
    let old = Email::parse("ann@acme.com").unwrap();
    let new = Email::parse("ann@newco.test").unwrap();
    let mut ann = fx.hd.user(fx.ann).unwrap();
    ann.emails = vec![new.clone()];
    fx.hd.update_user(ann.clone()).unwrap();
    assert_eq!(s.lookup(&UniqueKey::user_email(&old)).unwrap(), None, "old address still held");
    assert_eq!(s.lookup(&UniqueKey::user_email(&new)).unwrap(), Some((RecordKind::User, fx.ann.0)));
    assert_eq!(fx.hd.user_by_email("ann@acme.com").unwrap(), None);
    assert_eq!(fx.hd.user_by_email("ann@newco.test").unwrap().map(|u| u.id), Some(fx.ann));
    // The released address can be taken by someone else.
    let other = fx.hd.create_user(NewUser::new("Another Ann", "ann@acme.com")).unwrap();
    assert_eq!(s.lookup(&UniqueKey::user_email(&old)).unwrap(), Some((RecordKind::User, other.id.0)));
    // Taking it back fails now, and changes nothing.
    let before = fx.snapshot();
    ann.emails = vec![new.clone(), old.clone()];
    assert!(matches!(
        fx.hd.update_user(ann.clone()),
        Err(Error::Directory(DirectoryError::EmailTaken { .. }))
    ));
    assert_eq!(fx.snapshot(), before);
    assert_eq!(fx.hd.user(fx.ann).unwrap().emails, vec![new]);
    // Renames release names too.
    let mut d = fx.hd.department(fx.billing).unwrap();
    d.name = "Accounts".into();
    fx.hd.update_department(d).unwrap();
    assert_eq!(s.lookup(&UniqueKey::name(RecordKind::Department, "Billing")).unwrap(), None);
    fx.hd.create_department("Billing", vec![]).unwrap();
}

pub fn records_pagination(ctx: &Ctx) {
    let db = ctx.open();
    let s = db.store();
    let ids: Vec<u64> = vec![1, 2, 3, 5, 8, 13, 21, 255, 256, 257, 1 << 33];
    for id in &ids {
        s.put_record(&user(*id, &[&format!("u{id}@acme.com")])).unwrap();
    }
    s.put_record(&Record::Team(Team { id: TeamId(4), name: "Team".into() })).unwrap();
    for page in [1, 2, 3, 4, 100] {
        let got: Vec<u64> =
            super::inspect::all_records(s, RecordKind::User, page).iter().map(|r| r.key().1).collect();
        assert_eq!(got, ids, "users in pages of {page}");
    }
    let from = s.records(RecordKind::User, 8, 3).unwrap().iter().map(|r| r.key().1).collect::<Vec<_>>();
    assert_eq!(from, vec![13, 21, 255]);
    let from = s.records(RecordKind::User, 9, 2).unwrap().iter().map(|r| r.key().1).collect::<Vec<_>>();
    assert_eq!(from, vec![13, 21], "after an id that does not exist");
    assert_eq!(s.records(RecordKind::User, 1 << 33, 10).unwrap(), vec![]);
    assert_eq!(s.records(RecordKind::User, u64::MAX, 10).unwrap(), vec![]);
    assert_eq!(s.records(RecordKind::User, 0, 0).unwrap(), vec![]);
    assert_eq!(s.records(RecordKind::Agent, 0, 10).unwrap(), vec![]);
    let teams = s.records(RecordKind::Team, 0, 10).unwrap();
    assert_eq!(teams.len(), 1);
    assert_eq!(s.record(RecordKind::User, 257).unwrap(), Some(user(257, &["u257@acme.com"])));
    assert_eq!(s.record(RecordKind::User, 4).unwrap(), None);
    assert_eq!(s.record(RecordKind::Team, 1).unwrap(), None);
}

pub fn lookup_finds_holders(ctx: &Ctx) {
    let fx = ctx.fixture();
    let s = fx.db.store();
    let e = |s: &str| Email::parse(s).unwrap();
    assert_eq!(
        s.lookup(&UniqueKey::user_email(&e("ben@acme.com"))).unwrap(),
        Some((RecordKind::User, fx.ben.0))
    );
    assert_eq!(
        s.lookup(&UniqueKey::agent_email(&e("alice@helpdesk.test"))).unwrap(),
        Some((RecordKind::Agent, fx.alice.0))
    );
    assert_eq!(s.lookup(&UniqueKey::user_email(&e("alice@helpdesk.test"))).unwrap(), None);
    assert_eq!(
        s.lookup(&UniqueKey::name(RecordKind::Department, " SUPPORT ")).unwrap(),
        Some((RecordKind::Department, fx.support.0))
    );
    assert_eq!(s.lookup(&UniqueKey::name(RecordKind::Team, "Support")).unwrap(), None);
    assert_eq!(s.lookup(&UniqueKey("nothing".into())).unwrap(), None);
    let org = fx.hd.create_organisation("Acme", &["acme.com"]).unwrap();
    assert_eq!(s.lookup(&UniqueKey::domain("acme.com")).unwrap(), Some((RecordKind::Organisation, org.id.0)));
    let u = fx.hd.create_user(NewUser::new("Dan", "dan@acme.com")).unwrap();
    assert_eq!(u.organisation, Some(org.id), "joined by domain");
    assert_eq!(fx.hd.user_by_email("DAN@acme.com").unwrap().map(|u| u.id), Some(u.id));
}

pub fn concurrent_execute_loses_no_update(ctx: &Ctx) {
    const THREADS: usize = 4;
    const REPLIES: usize = 50;
    let fx = ctx.fixture();
    let t = fx
        .hd
        .create_ticket(&fx.alice(), NewTicket::new("Busy", "Start.", fx.support, fx.ann, Channel::Agent))
        .unwrap();
    assert_eq!(t.status, Status::AwaitingUser);
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let hd = fx.hd.clone();
            let b = barrier.clone();
            let agent = if i % 2 == 0 { fx.alice } else { fx.bob };
            std::thread::spawn(move || {
                b.wait();
                for j in 0..REPLIES {
                    let body = format!("reply {i}/{j}");
                    // With no status, an agent reply on an awaiting-user
                    // ticket is exactly one event.
                    let r = if j % 5 == 4 {
                        hd.add_note(t.id, agent, &body)
                    } else {
                        hd.agent_reply(t.id, agent, &body, None)
                    };
                    r.unwrap_or_else(|e| panic!("thread {i} write {j}: {e}"));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let end = fx.hd.ticket(t.id).unwrap();
    let all = THREADS * REPLIES;
    assert_eq!(end.version, t.version + all as u64, "lost updates");
    assert_eq!(end.messages.len() + end.notes.len(), 1 + all);
    let bodies: BTreeSet<String> = end
        .messages
        .iter()
        .skip(1)
        .map(|m| m.body.clone())
        .chain(end.notes.iter().map(|n| n.body.clone()))
        .collect();
    assert_eq!(bodies.len(), all, "every write exactly once");
    let posts: BTreeSet<PostId> =
        end.messages.iter().map(|m| m.id).chain(end.notes.iter().map(|n| n.id)).collect();
    assert_eq!(posts, (1..=(1 + all as u32)).map(PostId).collect(), "post ids 1..=n, each once");
    let log = fx.hd.log(t.id).unwrap();
    assert_eq!(log.len() as u64, end.version);
    assert_eq!(Ticket::from_events(&log).unwrap(), end);
    check_consistent(fx.db.store());
}

pub fn execute_at_stale_version_conflicts(ctx: &Ctx) {
    let fx = ctx.fixture();
    let t = fx.ticket_by(fx.ann, "Seen at v2");
    // Bob (another agent) sets the status after Alice looked at v2.
    let now = fx.hd.agent_reply(t.id, fx.bob, "Meanwhile.", Some(Status::Pending)).unwrap();
    let before = fx.snapshot();
    let r = fx.hd.execute_at(t.id, t.version, &fx.alice(), Command::SetStatus { status: Status::Resolved });
    let Err(Error::Conflict(c)) = r else { panic!("expected a conflict, got {r:?}") };
    assert_eq!((c.ticket, c.expected, c.actual), (t.id, t.version, now.version));
    assert_eq!(c.depends_on, vec![Aspect::Status]);
    let changes: Vec<_> =
        c.changes.iter().map(|c| (c.actor.clone(), c.aspect.clone(), c.to.clone())).collect();
    assert_eq!(changes, vec![(Actor::Agent(fx.bob), Aspect::Status, serde_json::json!("pending"))]);
    assert_eq!(fx.snapshot(), before);
    // Something the reply did not touch goes through at the old version.
    let labelled = fx
        .hd
        .execute_at(t.id, t.version, &fx.alice(), Command::AddLabel { label: "printer".into() })
        .unwrap();
    assert_eq!(labelled.version, now.version + 1);
    // A version the ticket never had is a bad request, and changes nothing.
    let before = fx.snapshot();
    let r = fx.hd.execute_at(
        t.id,
        labelled.version + 1,
        &fx.alice(),
        Command::SetUrgency { urgency: Urgency::MAX },
    );
    assert_eq!(
        r,
        Err(Error::VersionAhead { ticket: t.id, given: labelled.version + 1, current: labelled.version })
    );
    assert_eq!(fx.snapshot(), before);
    // At the current version it goes through.
    let done = fx
        .hd
        .execute_at(t.id, labelled.version, &fx.alice(), Command::SetStatus { status: Status::Resolved })
        .unwrap();
    assert_eq!(done.status, Status::Resolved);
    assert_eq!(done.version, labelled.version + 1);
    check_consistent(fx.db.store());
}

/// `events_after` is `events` without the first `version` events, at every
/// version: at commit boundaries, inside a commit of several events, past
/// the end, and for a ticket that does not exist.
pub fn events_after_is_the_log_tail(ctx: &Ctx) {
    let fx = ctx.fixture();
    let t = fx.ticket_by(fx.ann, "Long log");
    fx.hd.agent_reply(t.id, fx.alice, "One", Some(Status::Pending)).unwrap();
    fx.hd.add_note(t.id, fx.bob, "Two").unwrap();
    fx.hd.execute(t.id, &fx.alice(), Command::AddLabel { label: "x".into() }).unwrap();
    fx.hd.user_reply(t.id, fx.ann, "Three").unwrap();
    let other = fx.ticket_by(fx.ben, "Another ticket");
    fx.hd.add_note(other.id, fx.alice, "Not in the first log").unwrap();
    for id in [t.id, other.id] {
        let log = fx.db.store().events(id).unwrap();
        let end = log.last().unwrap().version;
        for v in 0..=end + 2 {
            let tail: Vec<_> = log.iter().filter(|e| e.version > v).cloned().collect();
            assert_eq!(fx.db.store().events_after(id, v).unwrap(), tail, "{id} after v{v}");
        }
    }
    assert_eq!(fx.db.store().events_after(TicketId(99), 0).unwrap(), vec![]);
}

pub fn concurrent_commits_keep_counters_exact(ctx: &Ctx) {
    let fx = ctx.fixture();
    let barrier = Arc::new(Barrier::new(4));
    let users = [fx.ann, fx.ben, fx.eve];
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let hd = fx.hd.clone();
            let b = barrier.clone();
            let (alice, support) = (fx.alice, fx.support);
            std::thread::spawn(move || {
                b.wait();
                let a = Actor::Agent(alice);
                for j in 0..8 {
                    let u = users[(i + j) % 3];
                    let t = hd
                        .create_ticket(
                            &Actor::User(u),
                            NewTicket::new(format!("{i}/{j}"), "Hi.", support, u, Channel::Portal),
                        )
                        .unwrap();
                    let cmds = match j % 4 {
                        0 => vec![Command::SetStatus { status: Status::Pending }],
                        1 => vec![
                            Command::Delete,
                            Command::Restore,
                            Command::AddCc { user: users[(i + j + 1) % 3] },
                        ],
                        2 => vec![Command::MarkSpam],
                        _ => vec![Command::SetOwner { user: users[(i + j + 2) % 3] }, Command::Delete],
                    };
                    for c in cmds {
                        hd.execute(t.id, &a, c).unwrap();
                    }
                    if j % 4 == 3 {
                        hd.purge(t.id, &a).unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let c = check_consistent(fx.db.store());
    assert_eq!(c.tickets.len(), 4 * 6);
    assert_eq!(fx.hd.count_by_status(Status::Spam).unwrap(), 8);
    assert_eq!(fx.hd.count_by_status(Status::Pending).unwrap(), 8);
}

pub fn concurrent_unique_claims_one_winner(ctx: &Ctx) {
    let fx = ctx.fixture();
    let barrier = Arc::new(Barrier::new(6));
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let hd = fx.hd.clone();
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait();
                hd.create_user(NewUser::new(format!("Claimant {i}"), "same@contested.test"))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<&User> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one claim wins: {results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, Error::Directory(DirectoryError::EmailTaken { .. })), "loser got {e:?}");
        }
    }
    let s = fx.db.store();
    let holder = s.lookup(&UniqueKey::user_email(&Email::parse("same@contested.test").unwrap())).unwrap();
    assert_eq!(holder, Some((RecordKind::User, winners[0].id.0)));
    let with_it = super::inspect::all_records(s, RecordKind::User, 100)
        .into_iter()
        .filter(
            |r| matches!(r, Record::User(u) if u.emails.iter().any(|e| e.as_str() == "same@contested.test")),
        )
        .count();
    assert_eq!(with_it, 1, "one user record holds the address");
}

pub fn bad_input_changes_nothing(ctx: &Ctx) {
    let fx = ctx.fixture();
    let hd = &fx.hd;
    let open = fx.ticket_by(fx.ann, "Open");
    let gone = fx.ticket_by(fx.ann, "Gone");
    hd.execute(gone.id, &fx.alice(), Command::Delete).unwrap();
    let before = fx.snapshot();
    let ann = Actor::User(fx.ann);
    let ticket_err = |r: Result<Ticket, Error>| match r {
        Err(Error::Ticket(e)) => e,
        other => panic!("expected a ticket error, got {other:?}"),
    };

    // Empty subject.
    let e = ticket_err(
        hd.create_ticket(&ann, NewTicket::new("   ", "Body.", fx.support, fx.ann, Channel::Portal)),
    );
    assert_eq!(e, TicketError::EmptySubject);
    let e = ticket_err(hd.execute(open.id, &fx.alice(), Command::SetSubject { subject: "".into() }));
    assert_eq!(e, TicketError::EmptySubject);
    // Urgency 11 cannot even be deserialised.
    let json = serde_json::json!({
        "subject": "Hot", "body": "Very.", "department": fx.support.0, "user": fx.ann.0,
        "channel": "portal", "urgency": 11,
    });
    let err = serde_json::from_value::<NewTicket>(json).unwrap_err().to_string();
    assert!(err.contains("urgency must be between 1 and 10, got 11"), "{err}");
    let err = serde_json::from_value::<Command>(serde_json::json!({"command": "set_urgency", "urgency": 11}));
    assert!(err.is_err());
    // Unknown department.
    let e = ticket_err(
        hd.create_ticket(&ann, NewTicket::new("Hi", "Body.", DepartmentId(99), fx.ann, Channel::Portal)),
    );
    assert_eq!(e, TicketError::UnknownDepartment(DepartmentId(99)));
    let e =
        ticket_err(hd.execute(open.id, &fx.alice(), Command::SetDepartment { department: DepartmentId(99) }));
    assert_eq!(e, TicketError::UnknownDepartment(DepartmentId(99)));
    // A user posting a note.
    let e =
        ticket_err(hd.execute(open.id, &ann, Command::AddNote { body: "psst".into(), attachments: vec![] }));
    assert!(matches!(e, TicketError::NotPermitted { .. }), "{e:?}");
    // Replies on a deleted ticket.
    let e = ticket_err(hd.user_reply(gone.id, fx.ann, "Hello?"));
    assert!(matches!(e, TicketError::Hidden { .. }), "{e:?}");
    let e = ticket_err(hd.agent_reply(gone.id, fx.alice, "Hello?", None));
    assert!(matches!(e, TicketError::Hidden { .. }), "{e:?}");
    // More: another user's ticket, unknown ticket, bad status changes, purge of an open ticket.
    let e = ticket_err(hd.user_reply(open.id, fx.eve, "Mine now."));
    assert!(matches!(e, TicketError::NotPermitted { .. }), "{e:?}");
    let e = ticket_err(hd.agent_reply(TicketId(999), fx.alice, "Hi.", None));
    assert_eq!(e, TicketError::NotFound(TicketId(999)));
    let e = ticket_err(hd.execute(open.id, &fx.alice(), Command::SetStatus { status: Status::Validating }));
    assert!(matches!(e, TicketError::InvalidStatusChange { .. }), "{e:?}");
    let e = ticket_err(hd.execute(open.id, &Actor::Agent(fx.bob), Command::Delete));
    assert!(matches!(e, TicketError::NotPermitted { .. }), "{e:?}");
    let e = ticket_err(hd.execute(open.id, &fx.alice(), Command::AddLabel { label: " ".into() }));
    assert!(matches!(e, TicketError::InvalidLabel(_)), "{e:?}");
    assert!(matches!(hd.purge(open.id, &fx.alice()), Err(Error::Ticket(TicketError::NotPurgeable(_)))));
    let e = ticket_err(
        hd.create_ticket(&ann, NewTicket::new("Hi", "Body.", fx.support, UserId(999), Channel::Portal)),
    );
    assert!(matches!(e, TicketError::NotPermitted { .. } | TicketError::UnknownUser(_)), "{e:?}");
    let e =
        ticket_err(hd.create_ticket(&ann, NewTicket::new("Hi", "  ", fx.support, fx.ann, Channel::Portal)));
    assert_eq!(e, TicketError::EmptyBody);
    // Directory input.
    let dir_err = |r: Result<(), Error>| match r {
        Err(Error::Directory(e)) => e,
        other => panic!("expected a directory error, got {other:?}"),
    };
    let e = dir_err(hd.create_user(NewUser::new("Ann again", "ANN@acme.com")).map(drop));
    assert!(matches!(e, DirectoryError::EmailTaken { .. }), "{e:?}");
    let e = dir_err(hd.create_user(NewUser::new("No address", "not an address")).map(drop));
    assert!(matches!(e, DirectoryError::InvalidEmail(_)), "{e:?}");
    assert_eq!(
        dir_err(hd.create_department("  ", vec![]).map(drop)),
        DirectoryError::EmptyName("department")
    );
    let e = dir_err(hd.create_department("support", vec![]).map(drop));
    assert!(matches!(e, DirectoryError::NameTaken { .. }), "{e:?}");
    let e = dir_err(hd.create_agent(NewAgent::new("Alice 2", "alice@helpdesk.test")).map(drop));
    assert!(matches!(e, DirectoryError::EmailTaken { .. }), "{e:?}");

    assert_eq!(fx.snapshot(), before, "bad input changed the store");
    // And bad ticket input consumed no ticket id.
    let next = fx.ticket_by(fx.ben, "Next");
    assert_eq!(next.id.0, gone.id.0 + 1, "bad input consumed a ticket id");
    check_consistent(fx.db.store());
}

pub fn outbox_is_part_of_the_commit(ctx: &Ctx) {
    let db = ctx.open();
    let s = db.store();
    let (t, _) = put_new(s, 1, 1);
    let item = |c: &Commit, seq: u32| {
        OutboxItem::new(
            OutboxKey { ticket: c.ticket, version: c.state.as_ref().unwrap().version, seq },
            Effect::Webhook(Webhook { url: format!("http://127.0.0.1:9/{seq}"), origin: "test".into() }),
            t0(),
        )
    };
    let c = decided(&t, reply("hi"), alice());
    let items = vec![item(&c, 0), item(&c, 1)];
    let c = c.with_outbox(items.clone());
    s.commit(&c).unwrap();
    assert_eq!(s.outbox(None, 10).unwrap(), items);
    assert_eq!(s.outbox(Some(items[0].key), 10).unwrap(), items[1..].to_vec());
    let now = c.state.clone().unwrap();

    // Stale: neither items nor anything else.
    let stale = decided(&t, Command::AddCc { user: UserId(2) }, alice());
    let stale = {
        let i = item(&stale, 0);
        stale.with_outbox(vec![i])
    };
    let before = (dump(s), db.raw());
    assert!(matches!(s.commit(&stale), Err(StoreError::Conflict { .. })));
    assert_eq!((dump(s), db.raw()), before);

    // An item of another ticket is refused.
    let mut wrong = decided(&now, reply("again"), alice());
    let mut i = item(&wrong, 0);
    i.key.ticket = TicketId(2);
    wrong = wrong.with_outbox(vec![i]);
    assert!(s.commit(&wrong).is_err());
    assert_eq!((dump(s), db.raw()), before);

    // Reschedule keeps the item; purging the ticket removes its items.
    let retried = items[0].clone().failed(t0(), "refused");
    assert!(s.reschedule(&retried).unwrap());
    assert_eq!(s.outbox(None, 10).unwrap(), vec![retried.clone(), items[1].clone()]);
    let deleted = decided(&now, Command::Delete, alice());
    s.commit(&deleted).unwrap();
    let gone = deleted.state.clone().unwrap();
    s.commit(&Commit::new(Some(&gone), None, vec![])).unwrap();
    assert_eq!(s.outbox(None, 10).unwrap(), vec![]);
    assert!(!s.reschedule(&retried).unwrap(), "rescheduling a purged item");
    assert_eq!(s.outbox(None, 10).unwrap(), vec![]);
    check_consistent(s);
}

pub fn outbox_claims_hold_items_for_their_lease(ctx: &Ctx) {
    let db = ctx.open();
    let s = db.store();
    let (t, _) = put_new(s, 1, 1);
    let c = decided(&t, reply("hi"), alice());
    let version = c.state.as_ref().unwrap().version;
    let item = |seq: u32| {
        OutboxItem::new(
            OutboxKey { ticket: c.ticket, version, seq },
            Effect::Webhook(Webhook { url: format!("http://127.0.0.1:9/{seq}"), origin: "test".into() }),
            t0(),
        )
    };
    // The third is backing off until t0 + 30 s.
    let items = vec![item(0), item(1), item(2).failed(t0(), "refused")];
    let c = c.with_outbox(items.clone());
    s.commit(&c).unwrap();
    let minute = std::time::Duration::from_secs(60);
    let keys = |v: Vec<OutboxItem>| v.into_iter().map(|i| i.key.seq).collect::<Vec<_>>();

    // A claim takes the due items, oldest first, up to its limit; a second
    // claim finds them held.
    assert_eq!(keys(s.claim_outbox(t0(), 1, minute).unwrap()), vec![0]);
    assert_eq!(keys(s.claim_outbox(t0(), 10, minute).unwrap()), vec![1]);
    assert_eq!(keys(s.claim_outbox(t0(), 10, minute).unwrap()), Vec::<u32>::new());
    // Later, the backed-off item is due; the held ones stay held.
    let later = t0() + Duration::seconds(31);
    assert_eq!(keys(s.claim_outbox(later, 10, minute).unwrap()), vec![2]);
    // Rescheduling frees an item (it is due again after its backoff).
    let retried = items[0].clone().failed(t0(), "timeout");
    assert!(s.reschedule(&retried).unwrap());
    assert_eq!(keys(s.claim_outbox(later, 10, minute).unwrap()), vec![0]);

    // A lapsed lease frees an item: a worker that died leaves it to others.
    let (t2, _) = put_new(s, 2, 1);
    let c2 = decided(&t2, reply("hello"), alice());
    let v2 = c2.state.as_ref().unwrap().version;
    let lone = OutboxItem::new(
        OutboxKey { ticket: c2.ticket, version: v2, seq: 0 },
        Effect::Webhook(Webhook { url: "http://127.0.0.1:9/lone".into(), origin: "test".into() }),
        t0(),
    );
    s.commit(&c2.with_outbox(vec![lone.clone()])).unwrap();
    let short = std::time::Duration::from_millis(1);
    assert_eq!(s.claim_outbox(later, 10, short).unwrap(), vec![lone.clone()]);
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(s.claim_outbox(later, 10, minute).unwrap(), vec![lone.clone()], "the lapsed lease held it");

    // Recording a delivery removes the item; recording it again (another
    // worker, after a lapsed lease) is refused and changes nothing.
    let now = s.ticket(t2.id).unwrap().unwrap();
    let delivered = |t: &Ticket| {
        let event = TicketEvent {
            ticket: t.id,
            version: t.version + 1,
            at: later,
            actor: Actor::system(),
            change: Change::Delivered {
                effect: lone.effect.clone(),
                outcome: DeliveryOutcome::Sent,
                attempts: 1,
            },
        };
        let mut after = t.clone();
        after.apply(&event).unwrap();
        let mut c = Commit::new(Some(t), Some(after), vec![event]);
        c.outbox_remove.push(lone.key);
        c
    };
    s.commit(&delivered(&now)).unwrap();
    let now = s.ticket(t2.id).unwrap().unwrap();
    let before = (dump(s), db.raw());
    assert!(
        matches!(s.commit(&delivered(&now)), Err(StoreError::OutboxGone(ref k)) if *k == lone.key.to_string()),
        "a second record of one delivery"
    );
    assert_eq!((dump(s), db.raw()), before, "the refused record changed the store");
    assert!(s.claim_outbox(later, 10, minute).unwrap().iter().all(|i| i.key.ticket != t2.id));
    check_consistent(s);
}

pub fn exclusive_work_runs_once_at_a_time(ctx: &Ctx) {
    let db = ctx.open();
    let s = db.store();
    let mut ran = Vec::new();
    let held = s
        .exclusive("sweep", &mut || {
            // While it runs, the same name is taken, another is free.
            ran.push(("inner same", s.exclusive("sweep", &mut || {}).unwrap()));
            ran.push(("inner other", s.exclusive("other", &mut || {}).unwrap()));
        })
        .unwrap();
    assert!(held);
    assert_eq!(ran, vec![("inner same", false), ("inner other", true)]);
    // Released when the work is done.
    let mut again = false;
    assert!(s.exclusive("sweep", &mut || again = true).unwrap());
    assert!(again);
}

/// What a copy of a store reads and sets (`crate::migrate`):
/// configuration namespaces and blob ids in byte order, and id marks that
/// only go up and hold for the ids handed out next.
pub fn listings_and_id_marks_for_copying(ctx: &Ctx) {
    let db = ctx.open();
    let s = db.store();
    assert!(s.config_namespaces().unwrap().is_empty());
    for (ns, name) in
        [("trigger", "b"), ("app:session", "x"), ("trigger", "a"), ("app:sessionx", "y"), ("sla", "c")]
    {
        s.put_config(ns, name, Some(&serde_json::json!(1))).unwrap();
    }
    assert_eq!(s.config_namespaces().unwrap(), ["app:session", "app:sessionx", "sla", "trigger"]);
    s.put_config("sla", "c", None).unwrap();
    assert_eq!(s.config_namespaces().unwrap(), ["app:session", "app:sessionx", "trigger"]);

    assert!(s.blob_ids(None, 10).unwrap().is_empty());
    let ids: Vec<String> = (0..5u8).map(|n| mail::blob_id(&[n])).collect();
    for (n, id) in ids.iter().enumerate() {
        s.put_blob(id, &[n as u8]).unwrap();
    }
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(s.blob_ids(None, 10).unwrap(), sorted);
    assert_eq!(s.blob_ids(Some(&sorted[1]), 2).unwrap(), sorted[2..4].to_vec());
    assert!(s.blob_ids(Some(&sorted[4]), 2).unwrap().is_empty());

    for kind in IdKind::ALL {
        assert_eq!(s.id_mark(kind).unwrap(), 0, "{kind:?}");
    }
    assert_eq!(s.next_id(IdKind::User).unwrap(), 1);
    assert_eq!(s.id_mark(IdKind::User).unwrap(), 1);
    s.raise_id_mark(IdKind::User, 40).unwrap();
    s.raise_id_mark(IdKind::User, 7).unwrap(); // lower: no change
    assert_eq!(s.id_mark(IdKind::User).unwrap(), 40);
    assert_eq!(s.next_id(IdKind::User).unwrap(), 41);
    s.raise_id_mark(IdKind::Ticket, 1000).unwrap();
    assert_eq!(s.id_mark(IdKind::Ticket).unwrap(), 1000);
    assert_eq!(s.next_id(IdKind::Ticket).unwrap(), 1001);
    assert_eq!(s.id_mark(IdKind::Team).unwrap(), 0);
}

// ----- the scenario log -----------------------------------------------------------

/// A scenario run through a helpdesk with a manual clock and the store's own
/// ids: the logs of its two tickets. Deterministic.
pub fn scenario(ctx: &Ctx) -> (Vec<TicketEvent>, Vec<TicketEvent>) {
    let fx = ctx.fixture();
    let (hd, clock) = (&fx.hd, &fx.clock);
    let minutes = |m| clock.advance(Duration::minutes(m));
    let a = fx.alice();
    minutes(1);
    let t = fx.ticket_by(fx.ann, "Printer on fire");
    minutes(5);
    hd.agent_reply(t.id, fx.alice, "Have you tried water?", None).unwrap();
    minutes(30);
    hd.user_reply(t.id, fx.ann, "It is a laser printer.").unwrap();
    minutes(2);
    hd.execute(t.id, &a, Command::AssignAgent { agent: Some(fx.alice) }).unwrap();
    hd.execute(t.id, &a, Command::AddLabel { label: "Hardware".into() }).unwrap();
    hd.execute(t.id, &a, Command::SetUrgency { urgency: Urgency::new(7).unwrap() }).unwrap();
    hd.execute(t.id, &a, Command::AddCc { user: fx.ben }).unwrap();
    hd.add_note(t.id, fx.alice, "Call facilities.").unwrap();
    minutes(60);
    hd.user_reply(t.id, fx.ben, "Smoke on floor 2 too.").unwrap();
    hd.agent_reply(t.id, fx.bob, "Fire brigade is on the way.", Some(Status::Resolved)).unwrap();
    minutes(24 * 60);
    hd.user_reply(t.id, fx.ann, "It is back on fire.").unwrap();
    hd.execute(t.id, &Actor::Agent(fx.bob), Command::Follow { agent: fx.bob }).unwrap();
    hd.execute(t.id, &a, Command::SetDepartment { department: fx.billing }).unwrap();
    let spam = fx.ticket_by(fx.eve, "Cheap printers");
    minutes(1);
    hd.execute(spam.id, &a, Command::MarkSpam).unwrap();
    hd.execute(spam.id, &a, Command::Restore).unwrap();
    hd.execute(spam.id, &a, Command::SetSubject { subject: "Printers".into() }).unwrap();
    hd.execute(spam.id, &a, Command::SetOwner { user: fx.ann }).unwrap();
    let log = hd.log(t.id).unwrap();
    assert_eq!(Ticket::from_events(&log).unwrap(), hd.ticket(t.id).unwrap());
    check_consistent(fx.db.store());
    (log, hd.log(spam.id).unwrap())
}

// ----- saved custom filters -------------------------------------------------

pub fn delete_record_releases_unique_keys(ctx: &Ctx) {
    let db = ctx.open();
    let s = db.store();
    s.put_record(&user(7, &["seven@acme.com"])).unwrap();
    let key = UniqueKey::user_email(&Email::parse("seven@acme.com").unwrap());
    assert_eq!(s.lookup(&key).unwrap(), Some((RecordKind::User, 7)));
    assert!(s.delete_record(RecordKind::User, 7).unwrap());
    assert_eq!(s.record(RecordKind::User, 7).unwrap(), None);
    assert_eq!(s.lookup(&key).unwrap(), None);
    assert_eq!(s.records(RecordKind::User, 0, 10).unwrap(), vec![]);
    assert!(!s.delete_record(RecordKind::User, 7).unwrap(), "a second delete finds nothing");
    // The address is free for another record.
    s.put_record(&user(8, &["seven@acme.com"])).unwrap();
    assert_eq!(s.lookup(&key).unwrap(), Some((RecordKind::User, 8)));
}

pub fn saved_filters_are_per_agent_and_shared(ctx: &Ctx) {
    use helpdesk_core::filter::{AgentRef, Criteria, CustomFilter};
    use helpdesk_core::filters::saved::{NewSavedFilter, SavedFilterError, Sharing};
    let fx = ctx.fixture();
    let team = fx.hd.create_team("Tier 1").unwrap().id;
    let mut bob = fx.hd.agent(fx.bob).unwrap();
    bob.teams.insert(team);
    fx.hd.update_agent(bob).unwrap();
    for i in 0..5 {
        let t = fx.ticket_by(fx.ann, &format!("ticket {i}"));
        if i % 2 == 0 {
            fx.hd.execute(t.id, &fx.alice(), Command::AssignAgent { agent: Some(fx.bob) }).unwrap();
        }
    }
    let mine = || Criteria { agent: vec![AgentRef::Me], ..Default::default() };
    let new = |name: &str, sharing| NewSavedFilter { filter: CustomFilter::new(name, mine()), sharing };
    let bobs = fx.hd.saved_filters(fx.bob);
    let alices = fx.hd.saved_filters(fx.alice);
    fn refused<T: std::fmt::Debug>(r: Result<T, Error>, want: SavedFilterError) {
        match r {
            Err(Error::SavedFilter(e)) => assert_eq!(e, want),
            other => panic!("expected {want:?}, got {other:?}"),
        }
    }

    let f = bobs.create(new("  Mine ", Sharing::Private)).unwrap();
    assert_eq!(f.filter.name, "Mine", "names are trimmed");
    assert_eq!(bobs.count(f.id).unwrap().count, 3);
    assert_eq!(bobs.page(f.id, None, 10).unwrap().tickets.len(), 3);
    // Alice does not see Bob's private filter, and it counts her tickets only for her.
    assert!(alices.list().unwrap().is_empty());
    refused(alices.get(f.id), SavedFilterError::NotFound(f.id));

    // Refused input changes nothing.
    let before = fx.snapshot();
    refused(bobs.create(new("mine", Sharing::Private)), SavedFilterError::NameTaken("mine".into()));
    refused(bobs.create(new("All", Sharing::Everyone)), SavedFilterError::ShareWithEveryone);
    refused(bobs.create(new("", Sharing::Private)), SavedFilterError::EmptyName);
    refused(
        bobs.create(NewSavedFilter {
            filter: CustomFilter::new("Gone", Criteria { user: vec![UserId(999)], ..Default::default() }),
            sharing: Sharing::Private,
        }),
        SavedFilterError::UnknownReference("user:999".into()),
    );
    assert_eq!(fx.snapshot(), before);

    // Names are unique per owner: Alice may have a "Mine" too.
    let a = alices.create(new("Mine", Sharing::Everyone)).unwrap();
    let shared = bobs.create(new("Team queue", Sharing::Team(team))).unwrap();
    let names = |l: Vec<helpdesk_core::filters::saved::SavedFilter>| {
        l.into_iter().map(|f| format!("{} ({})", f.filter.name, f.owner)).collect::<Vec<_>>()
    };
    assert_eq!(names(bobs.list().unwrap()), ["Mine (agent:2)", "Team queue (agent:2)", "Mine (agent:1)"]);
    // Alice's shared "Mine" lists Bob's own tickets for Bob.
    assert_eq!(bobs.count(a.id).unwrap().count, 3);
    assert_eq!(alices.count(a.id).unwrap().count, 0);
    let counts: Vec<u64> = bobs.counts().unwrap().iter().map(|(_, c)| c.count).collect();
    assert_eq!(counts, [3, 3, 3]);

    // Only the owner (or an admin) changes or deletes.
    refused(bobs.delete(a.id), SavedFilterError::NotEditable("Mine".into()));
    refused(
        bobs.update(a.id, new("Hijacked", Sharing::Private)),
        SavedFilterError::NotEditable("Mine".into()),
    );
    let renamed = bobs.update(shared.id, new("Tier 1 queue", Sharing::Team(team))).unwrap();
    assert_eq!(
        (renamed.id, renamed.owner, renamed.filter.name.as_str()),
        (shared.id, fx.bob, "Tier 1 queue")
    );
    refused(
        bobs.update(shared.id, new("Mine", Sharing::Private)),
        SavedFilterError::NameTaken("Mine".into()),
    );
    bobs.delete(f.id).unwrap();
    refused(bobs.get(f.id), SavedFilterError::NotFound(f.id));
    // The name is free again, and ids are never reused.
    let again = bobs.create(new("Mine", Sharing::Private)).unwrap();
    assert!(again.id > renamed.id);
    // An admin may change a filter shared with them (a team they are in),
    // and share it with everyone.
    let mut alice = fx.hd.agent(fx.alice).unwrap();
    alice.teams.insert(team);
    fx.hd.update_agent(alice).unwrap();
    alices.update(renamed.id, new("Tier 1 (admin)", Sharing::Everyone)).unwrap();
    assert_eq!(bobs.get(renamed.id).unwrap().sharing, Sharing::Everyone);
}

fn audit(n: u64) -> AuditEntry {
    AuditEntry::new(
        t0() + Duration::seconds(n as i64),
        AuditActor::System,
        "test.step",
        format!("step:{n}"),
        format!("step {n}"),
    )
}

pub fn admin_commit_is_atomic_with_its_audit_entry(ctx: &Ctx) {
    let db = ctx.open();
    let s = db.store();
    assert_eq!(s.audit_log(None, 10).unwrap(), vec![], "a new store has an empty audit log");
    s.put_record(&user(1, &["one@acme.com"])).unwrap();
    let team = Record::Team(Team { id: TeamId(5), name: "Tier 1".into() });
    let rule = serde_json::json!({"name": "r"});
    let c = AdminCommit {
        put: vec![team.clone(), user(2, &["two@acme.com"])],
        delete: vec![],
        config: vec![("trigger".into(), "r".into(), Some(rule.clone()))],
        audit: audit(1).change(None, Some(&team)),
    };
    assert_eq!(s.admin_commit(&c).unwrap(), 1);
    assert_eq!(s.record(RecordKind::Team, 5).unwrap(), Some(team.clone()));
    assert!(s.record(RecordKind::User, 2).unwrap().is_some());
    assert_eq!(s.configs("trigger").unwrap(), vec![("r".to_string(), rule)]);
    let log = s.audit_log(None, 10).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].seq, log[0].action.as_str(), log[0].target.as_str()), (1, "test.step", "step:1"));
    assert_eq!(log[0].after, Some(serde_json::to_value(&team).unwrap()));

    // A refused record write applies nothing: not the other record, not the
    // configuration value, not the audit entry.
    let c = AdminCommit {
        put: vec![Record::Team(Team { id: TeamId(6), name: "Tier 2".into() }), user(3, &["one@acme.com"])],
        delete: vec![(RecordKind::User, 2)],
        config: vec![("trigger".into(), "r".into(), None)],
        audit: audit(2),
    };
    assert!(matches!(s.admin_commit(&c), Err(StoreError::Unique { .. })));
    assert_eq!(s.record(RecordKind::Team, 6).unwrap(), None);
    assert!(s.record(RecordKind::User, 2).unwrap().is_some());
    assert_eq!(s.configs("trigger").unwrap().len(), 1);
    assert_eq!(s.audit_log(None, 10).unwrap().len(), 1);

    // Removal releases the unique keys, and the entry follows the first.
    let c = AdminCommit {
        put: vec![],
        delete: vec![(RecordKind::User, 2)],
        config: vec![("trigger".into(), "r".into(), None)],
        audit: audit(3),
    };
    let second = s.admin_commit(&c).unwrap();
    assert!(second > 1);
    assert_eq!(s.record(RecordKind::User, 2).unwrap(), None);
    assert_eq!(s.lookup(&UniqueKey::user_email(&Email::parse("two@acme.com").unwrap())).unwrap(), None);
    assert_eq!(s.configs("trigger").unwrap(), vec![]);
    s.put_record(&user(4, &["two@acme.com"])).unwrap();

    // Removals go first: a written record takes over the keys of one removed
    // in the same commit (two users merged into one).
    let c = AdminCommit {
        put: vec![user(1, &["one@acme.com", "two@acme.com"])],
        delete: vec![(RecordKind::User, 4)],
        config: vec![],
        audit: audit(4),
    };
    s.admin_commit(&c).unwrap();
    assert_eq!(s.record(RecordKind::User, 4).unwrap(), None);
    assert_eq!(
        s.lookup(&UniqueKey::user_email(&Email::parse("two@acme.com").unwrap())).unwrap(),
        Some((RecordKind::User, 1))
    );
}

pub fn audit_log_pages_newest_first(ctx: &Ctx) {
    let db = ctx.open();
    let store = db.store.clone();
    // Entries from several threads at once all land, each with its own position.
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..75u64)
                    .map(|i| store.admin_commit(&AdminCommit::audit_only(audit(t * 100 + i))).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads.into_iter().flat_map(|h| h.join().unwrap()).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 300, "every entry has its own position");
    let s = db.store();
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = s.audit_log(before, 70).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 70);
        before = Some(page.last().unwrap().seq);
        all.extend(page);
    }
    let got: Vec<u64> = all.iter().map(|e| e.seq).collect();
    let mut want = seqs.clone();
    want.reverse();
    assert_eq!(got, want, "pages are newest first, without gaps or repeats");
    let mut targets: Vec<String> = all.iter().map(|e| e.target.clone()).collect();
    targets.sort();
    targets.dedup();
    assert_eq!(targets.len(), 300);
    // A `before` past the end starts at the newest; one at the start gives nothing.
    assert_eq!(s.audit_log(Some(u64::MAX), 1).unwrap()[0].seq, *seqs.last().unwrap());
    assert_eq!(s.audit_log(Some(seqs[0]), 10).unwrap(), vec![]);
    assert_eq!(s.audit_log(None, 0).unwrap(), vec![]);
}

/// Files: kept once by content, typed by content, each handed back only to
/// those who may see its post (never a note's or the original mail to a
/// user), and a refused upload keeps nothing.
pub fn files_are_kept_once_and_handed_out_by_permission(ctx: &Ctx) {
    use crate::files::NewFile;
    let fx = ctx.fixture();
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-conformance".to_vec();
    let blobs = |fx: &super::Fx| fx.db.store().blob_ids(None, 1000).unwrap().len();
    let before = blobs(&fx);
    let twice = fx
        .hd
        .store_files(vec![NewFile::new("a.txt", png.clone()), NewFile::new("dir/b.png", png.clone())])
        .unwrap();
    assert_eq!(blobs(&fx), before + 1, "the same content is kept once");
    assert_eq!((twice[0].content_type.as_str(), twice[1].filename.as_str()), ("image/png", "b.png"));
    assert_eq!(twice[0].blob, twice[1].blob);

    let mut new = NewTicket::new("Screen", "See the picture.", fx.billing, fx.ann, Channel::Portal);
    new.attachments = twice;
    let t = fx.hd.create_ticket(&Actor::User(fx.ann), new).unwrap();
    let secret = fx.hd.store_files(vec![NewFile::new("internal.txt", b"agents only".to_vec())]).unwrap();
    let t = fx
        .hd
        .execute(t.id, &fx.alice(), Command::AddNote { body: "ours".into(), attachments: secret })
        .unwrap();
    let (msg, note) = (t.messages[0].id, t.notes[0].id);
    let alice = fx.hd.agent(fx.alice).unwrap();
    let bob = fx.hd.agent(fx.bob).unwrap();

    assert_eq!(fx.hd.file_for_user(fx.ann, t.id, msg, 1).unwrap().bytes, png);
    assert_eq!(fx.hd.file_for_agent(&alice, t.id, note, 0).unwrap().bytes, b"agents only");
    let not_found = |r: Result<crate::files::File, Error>| match r {
        Err(Error::Ticket(TicketError::NotFound(_) | TicketError::NoSuchFile { .. })) => {}
        other => panic!("expected not found, got {other:?}"),
    };
    not_found(fx.hd.file_for_user(fx.ann, t.id, note, 0)); // a note's file
    not_found(fx.hd.file_for_user(fx.eve, t.id, msg, 0)); // not Eve's ticket
    not_found(fx.hd.file_for_agent(&bob, t.id, msg, 0)); // Bob may not see Billing
    not_found(fx.hd.file_for_user(fx.ann, t.id, msg, 2)); // no third file
    not_found(fx.hd.file_for_user(fx.ann, TicketId(t.id.0 + 100), msg, 0));

    // Over the limit: refused whole, nothing kept.
    let admin = fx.hd.admin(fx.alice).unwrap();
    let s = fx.hd.settings().unwrap();
    admin.set_settings(helpdesk_core::admin::Settings { attachment_max_file_mb: 1, ..s }).unwrap();
    let kept = blobs(&fx);
    let big = vec![7u8; (1 << 20) + 1];
    match fx.hd.store_files(vec![NewFile::new("small.txt", b"fine".to_vec()), NewFile::new("big.bin", big)]) {
        Err(Error::Ticket(TicketError::FilesTooLarge(why))) => assert!(why.contains("big.bin"), "{why}"),
        other => panic!("expected too large, got {other:?}"),
    }
    assert_eq!(blobs(&fx), kept, "nothing kept from a refused upload");
}

/// Snippets: one name per scope (an agent's own, a department's,
/// everyone's), freed when the snippet goes; each agent lists what they
/// may use.
pub fn snippet_names_are_unique_per_scope(ctx: &Ctx) {
    use helpdesk_core::snippets::{NewSnippet, SnippetError, SnippetScope};
    let fx = ctx.fixture();
    let new = |scope| NewSnippet {
        name: "thanks".into(),
        title: "Thanks".into(),
        category: String::new(),
        body: "Thank you, {{user.first_name}}.".into(),
        scope,
    };
    let (alice, bob) = (fx.hd.snippets(fx.alice), fx.hd.snippets(fx.bob));
    alice.create(new(SnippetScope::Personal)).unwrap();
    bob.create(new(SnippetScope::Personal)).unwrap();
    let shared = alice.create(new(SnippetScope::Everyone)).unwrap();
    match bob.create(new(SnippetScope::Everyone)) {
        Err(Error::Snippet(SnippetError::NameTaken(n))) => assert_eq!(n, "thanks"),
        other => panic!("expected the name taken, got {other:?}"),
    }
    match bob.create(new(SnippetScope::Department(fx.billing))) {
        Err(Error::Snippet(SnippetError::DepartmentNotAllowed(d))) => assert_eq!(d, fx.billing),
        other => panic!("expected Billing refused for Bob, got {other:?}"),
    }
    bob.create(new(SnippetScope::Department(fx.support))).unwrap();
    assert_eq!(bob.list("").unwrap().len(), 3, "his own, Support's and everyone's");
    assert_eq!(alice.list("than").unwrap().len(), 3, "hers, everyone's and Support's (she sees all)");
    alice.delete(shared.id).unwrap();
    bob.create(new(SnippetScope::Everyone)).unwrap();
}

/// A macro applies as one commit (its `macro` entry first, then what its
/// actions changed, in the ticket's log), a refused action refuses it whole
/// and changes nothing, names are unique per scope (case-insensitive) and a
/// department's macro is neither listed for nor usable by an agent who does
/// not see the department.
pub fn macros_apply_as_one_group(ctx: &Ctx) {
    use helpdesk_core::macros::{AgentRef, MacroAction, MacroError, NewMacro};
    use helpdesk_core::snippets::SnippetScope;
    let fx = ctx.fixture();
    let new = |name: &str, scope, actions| NewMacro {
        name: name.into(),
        description: String::new(),
        scope,
        actions,
    };
    let take = vec![
        MacroAction::SetAgent { agent: Some(AgentRef::Me) },
        MacroAction::AddLabel { label: "Billing".into() },
        MacroAction::Reply {
            snippet: None,
            body: Some("Hi {{user.first_name}}, {{agent.name}} here.".into()),
        },
        MacroAction::SetStatus { status: "pending".into() },
    ];
    let (alice, bob) = (fx.hd.macros(fx.alice), fx.hd.macros(fx.bob));
    let shared = bob.create(new("Take it", SnippetScope::Everyone, take.clone())).unwrap();
    match alice.create(new("take IT", SnippetScope::Everyone, take.clone())) {
        Err(Error::Macro(MacroError::NameTaken(n))) => assert_eq!(n, "take IT"),
        other => panic!("expected the name taken, got {other:?}"),
    }
    alice.create(new("take it", SnippetScope::Personal, take.clone())).unwrap();
    let billing_only = alice.create(new("Billing", SnippetScope::Department(fx.billing), take)).unwrap();
    assert_eq!(bob.list("").unwrap().iter().map(|m| m.id).collect::<Vec<_>>(), vec![shared.id]);
    assert!(matches!(bob.get(billing_only.id), Err(Error::Macro(MacroError::NotFound(_)))));

    let t = fx.ticket_by(fx.ann, "Invoice twice");
    let done = bob.apply(shared.id, t.id, Some(t.version)).unwrap();
    assert_eq!(done.ticket.agent, Some(fx.bob));
    assert_eq!(done.ticket.status, Status::Pending);
    assert!(done.ticket.labels.contains("billing"));
    assert_eq!(done.ticket.messages.last().unwrap().body, "Hi Ann, Bob here.");
    let log = fx.hd.log(t.id).unwrap();
    let group: Vec<&TicketEvent> =
        log.iter().filter(|e| e.version > t.version && e.actor == Actor::Agent(fx.bob)).collect();
    assert!(
        matches!(&group[0].change, Change::Macro { r#macro, name } if *r#macro == shared.id && name == "Take it")
    );
    let kinds: Vec<&str> = group[1..].iter().map(|e| e.change.kind()).collect();
    assert_eq!(
        kinds,
        ["agent", "label_added", "message_added", "status"],
        "one status change: the reply carries it"
    );
    assert!(group.iter().all(|e| e.at == group[0].at));
    let step_changes: Vec<usize> = done.steps.iter().map(|s| s.changes.len()).collect();
    assert_eq!(step_changes, [1, 1, 2, 0]);

    // Again: nothing left to change but the reply; and a refused action
    // (Bob may not take a ticket another agent holds) changes nothing.
    let t =
        fx.hd.execute(t.id, &Actor::Agent(fx.alice), Command::AssignAgent { agent: Some(fx.alice) }).unwrap();
    match bob.apply(shared.id, t.id, None) {
        Err(Error::Macro(MacroError::Refused { n, action, .. })) => assert_eq!((n, action), (1, "set_agent")),
        other => panic!("expected the assignment refused, got {other:?}"),
    }
    assert_eq!(fx.hd.ticket(t.id).unwrap(), t, "a refused macro changes nothing");
    // A preview writes nothing.
    let p = alice.preview(shared.id, t.id).unwrap();
    assert_eq!(p.after.messages.len(), t.messages.len() + 1);
    assert_eq!(fx.hd.ticket(t.id).unwrap(), t);
}

/// Merging, splitting and linking change both tickets in one write: a
/// group with one stale commit writes nothing at all; after a merge, a
/// split and a link every ticket folds from its log and the index and
/// counters match; a merged ticket takes no more commands and leads to its
/// survivor; an agent who does not see a department merges nothing there.
pub fn merges_splits_and_links_commit_both_tickets_at_once(ctx: &Ctx) {
    // The store: a group is all or nothing.
    {
        let db = ctx.open();
        let s = db.store();
        let (t1, _) = put_new(s, 1, 1);
        let (t2, _) = put_new(s, 2, 1);
        let good = decided(&t1, reply("fine"), alice());
        s.commit(&decided(&t2, reply("first"), alice())).unwrap();
        let stale = decided(&t2, reply("stale"), alice());
        let before = (dump(s), db.raw());
        let now = s.ticket(t2.id).unwrap().unwrap().version;
        assert_conflict(s.commit_all(&[good.clone(), stale]), t2.id, t2.version, now);
        assert_eq!((dump(s), db.raw()), before, "a refused group changed the store");
        let twice = decided(&good.state.clone().unwrap(), reply("again"), alice());
        assert!(s.commit_all(&[good.clone(), twice]).is_err(), "two commits of one ticket");
        let t2_now = s.ticket(t2.id).unwrap().unwrap();
        s.commit_all(&[good, decided(&t2_now, reply("together"), alice())]).unwrap();
        check_consistent(s);
    }

    let fx = ctx.fixture();
    let alice = fx.alice();
    let bob = Actor::Agent(fx.bob);
    let first = fx.ticket_by(fx.ann, "Printer");
    let again = fx.ticket_by(fx.ann, "Printer, again");
    fx.hd.execute(again.id, &alice, Command::AddCc { user: fx.ben }).unwrap();
    fx.hd.user_reply(again.id, fx.ann, "Still smoking.").unwrap();
    let (kept, gone) = fx.hd.merge_tickets(first.id, again.id, &alice).unwrap();
    assert_eq!(kept.messages.len(), 3);
    assert!(kept.ccs.contains(&fx.ben));
    assert_eq!((gone.status, gone.relations.merged_into), (Status::Deleted, Some(first.id)));
    assert!(fx.hd.log(first.id).unwrap().iter().any(|e| matches!(e.change, Change::Merged { .. })));
    assert!(matches!(
        fx.hd.user_reply(again.id, fx.ann, "Hello?"),
        Err(Error::Ticket(TicketError::Merged { ticket, into })) if ticket == again.id && into == first.id
    ));
    assert_eq!(fx.hd.current_ticket(again.id).unwrap().id, first.id);
    let other_user = fx.ticket_by(fx.ben, "Mine");
    assert!(matches!(
        fx.hd.merge_tickets(first.id, other_user.id, &alice),
        Err(Error::Ticket(TicketError::Relation { action: "merge", .. }))
    ));

    // Split the user's latest message off; link, unlink.
    let post = kept.messages.last().unwrap().id;
    let (old, new) = fx.hd.split_ticket(first.id, post, Some("Smoke"), &bob).unwrap();
    assert_eq!(old.messages.len(), 2);
    assert_eq!(
        (new.subject.as_str(), new.user, new.messages[0].body.as_str()),
        ("Smoke", fx.ann, "Still smoking.")
    );
    assert!(old.relations.linked.contains(&new.id) && new.relations.linked.contains(&old.id));
    let (a, b) = fx.hd.link_tickets(first.id, new.id, false, &bob).unwrap();
    assert!(a.relations.linked.is_empty() && b.relations.linked.is_empty());

    // Bob sees Support only: a Billing ticket is not his to merge or link.
    let billing = fx
        .hd
        .create_ticket(
            &Actor::User(fx.ann),
            NewTicket::new("Invoice", "Wrong", fx.billing, fx.ann, Channel::Portal),
        )
        .unwrap();
    let refused = fx.hd.link_tickets(first.id, billing.id, true, &bob);
    assert!(
        matches!(&refused, Err(Error::Ticket(TicketError::Relation { reason, .. })) if reason.contains("a department you may not see")),
        "{refused:?}"
    );
    assert_eq!(fx.hd.ticket(billing.id).unwrap(), billing, "a refused link changes nothing");
    check_consistent(fx.db.store());
}
