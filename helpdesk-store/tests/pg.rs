//! PostgreSQL-specific checks (the `Store` rules themselves are the
//! conformance suite's, which runs on PostgreSQL too): schema migrations,
//! several stores (nodes) on one database, TLS settings. Each test has a
//! throwaway database (`helpdesk_store::pg::testing`); without PostgreSQL
//! they skip, and fail when `CI` is set.

mod common;

use common::check_consistent;
use helpdesk_core::testing::{sample_directory, t0};
use helpdesk_core::*;
use helpdesk_store::pg::schema::{self, Migration, MIGRATIONS};
use helpdesk_store::pg::{PgError, PgOptions, PgStore};
use helpdesk_store::{Helpdesk, NewAgent};
use std::sync::{Arc, Barrier};

fn client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("connect")
}

/// The migrations recorded in the database: (version, name).
fn applied(url: &str) -> Vec<(i32, String)> {
    client(url)
        .query("SELECT version, name FROM helpdesk_schema ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn known() -> Vec<(i32, String)> {
    MIGRATIONS.iter().map(|m| (m.version, m.name.to_string())).collect()
}

fn table_exists(url: &str, name: &str) -> bool {
    client(url).query_one("SELECT to_regclass($1) IS NOT NULL", &[&name]).unwrap().get(0)
}

#[test]
fn fresh_database_is_migrated_once_and_reopened_as_is() {
    let Some(db) = helpdesk_store::pg::testing::database() else { return };
    let store = PgStore::open(db.url()).unwrap();
    assert_eq!(store.schema_version(), schema::latest());
    assert_eq!(applied(db.url()), known());
    for table in ["tickets", "ticket_events", "index_entries", "counters", "records", "unique_keys", "outbox"]
    {
        assert!(table_exists(db.url(), table), "table {table} missing");
    }
    let hd = Helpdesk::builder().store(Arc::new(store));
    let support = hd.create_department("Support", vec![]).unwrap().id;
    drop(hd);

    // Re-opening applies nothing and keeps the data.
    let hd = Helpdesk::connect(db.url()).unwrap();
    assert_eq!(applied(db.url()), known());
    assert_eq!(hd.department(support).unwrap().name, "Support");
}

#[test]
fn nodes_starting_together_migrate_once() {
    let Some(db) = helpdesk_store::pg::testing::database() else { return };
    let barrier = Barrier::new(4);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                barrier.wait();
                PgStore::open(db.url()).expect("open while others migrate");
            });
        }
    });
    assert_eq!(applied(db.url()), known());
}

#[test]
fn newer_schema_is_refused_and_a_failed_migration_applies_nothing() {
    let Some(db) = helpdesk_store::pg::testing::database() else { return };
    let next = schema::latest() + 1;

    // A migration that fails half-way: nothing of it (nor its record) stays.
    let mut broken = MIGRATIONS.to_vec();
    broken.push(Migration {
        version: next,
        name: "broken",
        sql: "CREATE TABLE half (x int); SELECT no_such_fn();",
    });
    match PgStore::open_migrating(db.url(), &PgOptions::default(), &broken) {
        Err(PgError::Migration { version, name, reason }) => {
            assert_eq!((version, name), (next, "broken"));
            assert!(reason.contains("no_such_fn"), "{reason}");
        }
        other => panic!("expected a failed migration, got {other:?}"),
    }
    assert!(!table_exists(db.url(), "half"), "a failed migration left a table");
    assert!(
        !table_exists(db.url(), "helpdesk_schema") && !table_exists(db.url(), "tickets"),
        "the migrations before it ran in the failed transaction: none of them stays"
    );

    // A newer helpdesk migrated it: this one refuses to run on it.
    let mut newer = MIGRATIONS.to_vec();
    newer.push(Migration { version: next, name: "future", sql: "CREATE TABLE future (x int);" });
    let store = PgStore::open_migrating(db.url(), &PgOptions::default(), &newer).unwrap();
    assert_eq!(store.schema_version(), next);
    drop(store);
    match PgStore::open(db.url()) {
        Err(e @ PgError::SchemaTooNew { .. }) => {
            assert!(
                matches!(e, PgError::SchemaTooNew { found, known } if found == next && known == schema::latest())
            );
            let msg = e.to_string();
            assert!(msg.contains(&format!("version {next}")) && msg.contains("newer"), "{msg}");
        }
        other => panic!("expected the newer schema to be refused, got {other:?}"),
    }
    match Helpdesk::connect(db.url()) {
        Err(helpdesk_store::Error::Store(StoreError::Backend(msg))) => {
            assert!(msg.contains("newer"), "{msg}")
        }
        other => panic!("expected the newer schema to be refused, got {other:?}"),
    }
}

#[test]
fn tls_is_asked_for_when_the_url_requires_it() {
    let Some(db) = helpdesk_store::pg::testing::database() else { return };
    // The test server has no TLS: `sslmode=require` must not fall back to plain text.
    let url = db.url().replace("sslmode=disable", "sslmode=require");
    let url = if url.contains("sslmode=require") { url } else { format!("{url}?sslmode=require") };
    let opts = PgOptions { connect_timeout: std::time::Duration::from_secs(3), ..PgOptions::default() };
    match PgStore::open_with(&url, &opts) {
        Err(PgError::Connect(msg)) => {
            assert!(msg.to_lowercase().contains("tls") || msg.contains("ssl"), "{msg}")
        }
        other => panic!("expected a refused TLS connection, got {other:?}"),
    }
    assert!(matches!(PgStore::open("postgres://[bad"), Err(PgError::BadUrl(_))));
}

/// Two stores (as two nodes would have) committing to one ticket from the
/// same version at once: exactly one wins each round, the others get
/// `Conflict` naming the winner's version, and the counters stay exact.
#[test]
fn two_nodes_committing_to_one_ticket_one_wins() {
    let Some(db) = helpdesk_store::pg::testing::database() else { return };
    let nodes = [PgStore::open(db.url()).unwrap(), PgStore::open(db.url()).unwrap()];
    let events = create(
        TicketId(1),
        NewTicket::new("Printer on fire", "It is on fire.", DepartmentId(1), UserId(1), Channel::Portal),
        &Actor::User(UserId(1)),
        t0(),
        &sample_directory(),
        &Policy::default(),
    )
    .unwrap();
    let mut t = Ticket::from_events(&events).unwrap();
    nodes[0].commit(&Commit::new(None, Some(t.clone()), events)).unwrap();
    for round in 0..8 {
        let barrier = Barrier::new(4);
        let results: Vec<(Ticket, Result<(), StoreError>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|i| {
                    let (node, barrier, base) = (&nodes[i % 2], &barrier, &t);
                    s.spawn(move || {
                        let cmd = Command::AgentReply {
                            body: format!("round {round} writer {i}"),
                            attachments: vec![],
                            status: Some([Status::AwaitingUser, Status::Pending][i % 2]),
                        };
                        let events = decide(
                            base,
                            &cmd,
                            &Actor::Agent(AgentId(1)),
                            t0(),
                            &sample_directory(),
                            &Policy::default(),
                        )
                        .unwrap();
                        let mut after = base.clone();
                        for e in &events {
                            after.apply(e).unwrap();
                        }
                        barrier.wait();
                        let r = node.commit(&Commit::new(Some(base), Some(after.clone()), events));
                        (after, r)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<_> = results.iter().filter(|(_, r)| r.is_ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let now = nodes[1].ticket(t.id).unwrap().unwrap();
        assert_eq!(now, winners[0].0, "round {round}: the winner's change is stored");
        for (_, r) in results.iter().filter(|(_, r)| r.is_err()) {
            assert_eq!(
                r,
                &Err(StoreError::Conflict { ticket: t.id, expected: t.version, actual: now.version }),
                "round {round}"
            );
        }
        check_consistent(&nodes[round % 2]);
        t = now;
    }
}

/// Helpdesks on two stores, many commands on shared tickets at once: every
/// command lands (conflicts are retried), none is lost, counters are exact.
#[test]
fn two_nodes_lose_no_update() {
    let Some(db) = helpdesk_store::pg::testing::database() else { return };
    let one = Helpdesk::connect(db.url()).unwrap();
    let two = Helpdesk::connect(db.url()).unwrap();
    let support = one.create_department("Support", vec![]).unwrap().id;
    let alice = one.create_agent(NewAgent::new("Alice", "alice@helpdesk.test").admin()).unwrap().id;
    let ann = two.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap().id;
    let tickets: Vec<TicketId> = (0..2)
        .map(|i| {
            let new = NewTicket::new(format!("shared {i}"), "Hi.", support, ann, Channel::Portal);
            one.create_ticket(&Actor::User(ann), new).unwrap().id
        })
        .collect();
    const EACH: usize = 6;
    std::thread::scope(|s| {
        for (n, hd) in [&one, &two, &one, &two].into_iter().enumerate() {
            let tickets = &tickets;
            s.spawn(move || {
                for i in 0..EACH {
                    let t = tickets[i % tickets.len()];
                    hd.agent_reply(t, alice, &format!("node {n} reply {i}"), None).unwrap();
                }
            });
        }
    });
    let replies: usize = tickets
        .iter()
        .map(|t| {
            one.log(*t)
                .unwrap()
                .iter()
                .filter(|e| {
                    matches!(&e.change, Change::MessageAdded { .. }) && matches!(e.actor, Actor::Agent(_))
                })
                .count()
        })
        .sum();
    assert_eq!(replies, 4 * EACH, "every reply from both nodes is in the logs");
    check_consistent(&**two.store());
}

/// Waits (up to 10 s) until `done` holds.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < until, "timed out waiting: {what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The notices `rx` holds now or within `wait`.
fn heard(rx: &std::sync::mpsc::Receiver<Notice>, wait: std::time::Duration) -> Vec<Notice> {
    let mut out: Vec<Notice> = Vec::new();
    if let Ok(n) = rx.recv_timeout(wait) {
        out.push(n);
    }
    out.extend(rx.try_iter());
    out
}

/// Two stores on one database are two nodes: each hears what the other
/// commits (tickets, records, configuration, announcements), never its own,
/// and drops what it cached of the other's writes at once: a trigger saved
/// on one node runs on the other's next command.
#[test]
fn nodes_hear_each_others_changes_and_drop_their_caches() {
    let Some(db) = helpdesk_store::pg::testing::database() else { return };
    let (a, b) = (Arc::new(PgStore::open(db.url()).unwrap()), Arc::new(PgStore::open(db.url()).unwrap()));
    eventually("both nodes listen", || a.is_listening() && b.is_listening());
    let (from_b, from_a) = (a.subscribe().unwrap(), b.subscribe().unwrap());
    let (hd_a, hd_b) = (Helpdesk::builder().store(a.clone()), Helpdesk::builder().store(b.clone()));
    let quiet = std::time::Duration::from_millis(300);
    let soon = std::time::Duration::from_secs(5);

    // A directory record.
    let epoch = b.directory_epoch();
    let support = hd_a.create_department("Support", vec![]).unwrap().id;
    assert_eq!(
        heard(&from_a, soon),
        vec![Notice::Record { tag: RecordKind::Department.tag(), id: support.0 }]
    );
    assert_ne!(b.directory_epoch(), epoch, "B kept its directory epoch");
    assert_eq!(heard(&from_b, quiet), vec![], "A heard itself");
    let ann = hd_b.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap();
    assert_eq!(heard(&from_b, soon), vec![Notice::Record { tag: RecordKind::User.tag(), id: ann.id.0 }]);

    // Rules: B compiles them (none), A saves a trigger, B's next command runs it.
    assert!(hd_b.rules().unwrap().triggers.is_empty());
    let config = b.config_epoch().unwrap();
    hd_a.load_rules_toml(
        r#"
        [[triggers]]
        name = "Label new tickets"
        on = ["new_ticket"]
        actions = [{ action = "add_label", label = "seen-by-a" }]
        "#,
    )
    .unwrap();
    assert_eq!(
        heard(&from_a, soon),
        vec![Notice::Config { namespace: "trigger".into(), name: "Label new tickets".into() }]
    );
    assert_ne!(b.config_epoch().unwrap(), config, "B kept its rules epoch");
    let t = hd_b
        .create_ticket(&Actor::User(ann.id), NewTicket::new("Hello", "Hi.", support, ann.id, Channel::Portal))
        .unwrap();
    assert!(t.labels.contains("seen-by-a"), "B ran the rules it had cached: {:?}", t.labels);

    // Ticket commits, with the versions they went from and to.
    let notices = heard(&from_b, soon);
    assert!(
        notices.contains(&Notice::Ticket { ticket: t.id, before: 0, after: t.version }),
        "A did not hear B's ticket: {notices:?}"
    );
    let before = t.version;
    let t = hd_a.user_reply(t.id, ann.id, "More detail.").unwrap();
    let notices = heard(&from_a, soon);
    assert!(notices.contains(&Notice::Ticket { ticket: t.id, before, after: t.version }), "{notices:?}");

    // Announcements go to the others only.
    let body = serde_json::json!({"hello": "from a"});
    a.announce("greeting", &body).unwrap();
    assert_eq!(heard(&from_a, soon), vec![Notice::App { channel: "greeting".into(), body }]);
    assert_eq!(heard(&from_b, quiet), vec![]);
    // Too big for NOTIFY: refused, not cut.
    let huge = serde_json::json!("x".repeat(MAX_NOTICE_BYTES));
    assert!(matches!(a.announce("greeting", &huge), Err(StoreError::Backend(_))));
}

/// Two nodes' delivery claims never overlap: four workers on two nodes
/// claim, "deliver" and record 60 items at once; each item is claimed
/// exactly once and has one `Delivered` event in its log.
#[test]
fn two_nodes_deliver_each_outbox_item_once() {
    let Some(db) = helpdesk_store::pg::testing::database() else { return };
    let hd_a = Helpdesk::connect(db.url()).unwrap();
    let hd_b = Helpdesk::connect(db.url()).unwrap();
    let support = hd_a.create_department("Support", vec![]).unwrap().id;
    let ann = hd_a.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap();
    hd_a.load_rules_toml(
        r#"
        [[triggers]]
        name = "Hook"
        on = ["new_ticket"]
        actions = [{ action = "webhook", url = "http://127.0.0.1:9/hook" }]
        "#,
    )
    .unwrap();
    let mut tickets = Vec::new();
    for i in 0..60 {
        let node = if i % 2 == 0 { &hd_a } else { &hd_b };
        let t = node
            .create_ticket(
                &Actor::User(ann.id),
                NewTicket::new(format!("Ticket {i}"), "Hi.", support, ann.id, Channel::Portal),
            )
            .unwrap();
        tickets.push(t.id);
    }
    let claimed = std::sync::Mutex::new(Vec::new());
    let barrier = Barrier::new(4);
    std::thread::scope(|s| {
        for w in 0..4 {
            let (hd, claimed, barrier) = (if w % 2 == 0 { &hd_a } else { &hd_b }, &claimed, &barrier);
            s.spawn(move || {
                barrier.wait();
                loop {
                    let items =
                        hd.claim_outbox(chrono::Utc::now(), 7, std::time::Duration::from_secs(60)).unwrap();
                    if items.is_empty() {
                        break;
                    }
                    for item in items {
                        claimed.lock().unwrap().push(item.key);
                        hd.complete_delivery(&item, DeliveryOutcome::Sent).unwrap();
                    }
                }
            });
        }
    });
    let mut claimed = claimed.into_inner().unwrap();
    claimed.sort();
    let n = claimed.len();
    claimed.dedup();
    assert_eq!(n, claimed.len(), "an item was claimed twice");
    assert_eq!(n, 60, "every ticket's webhook was claimed");
    for id in tickets {
        let delivered =
            hd_a.log(id).unwrap().iter().filter(|e| matches!(e.change, Change::Delivered { .. })).count();
        assert_eq!(delivered, 1, "ticket {id}");
    }
    assert!(hd_a.store().outbox(None, 10).unwrap().is_empty());
}
