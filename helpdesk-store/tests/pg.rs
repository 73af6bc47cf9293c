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
