//! `helpdesk_store::migrate`: a whole helpdesk copied between stores
//! (memory to memory; sled to PostgreSQL and back), verified, and then
//! used: the copy serves the same filters and counts, hands out no id the
//! source handed out, and delivers the notifications the source had not.

use helpdesk_core::*;
use helpdesk_store::migrate::{self, Step};
use helpdesk_store::{Helpdesk, NewAgent};
use std::sync::Mutex;

/// A helpdesk with a bit of everything: departments, agents, users, tickets
/// with replies and notes, a purged ticket (an id gap), rules with a
/// webhook (undelivered items in the outbox), a blob, application values.
fn fill(hd: &Helpdesk) {
    let support = hd.create_department("Support", vec![]).unwrap().id;
    let sales = hd.create_department("Sales", vec![]).unwrap().id;
    let sam = hd.create_agent(NewAgent::new("Sam", "sam@example.com").admin()).unwrap();
    hd.load_rules_toml(
        r#"
        [[triggers]]
        name = "Tell the CRM"
        on = ["new_ticket"]
        actions = [{ action = "webhook", url = "http://crm.example/hook" }, { action = "add_label", label = "crm" }]
        "#,
    )
    .unwrap();
    for n in 0..40u64 {
        let user = hd.create_user(NewUser::new(format!("User {n}"), format!("u{n}@acme.example"))).unwrap();
        let dept = if n % 3 == 0 { sales } else { support };
        let t = hd
            .create_ticket(
                &Actor::User(user.id),
                NewTicket::new(format!("Problem {n}"), "It broke.", dept, user.id, Channel::Portal),
            )
            .unwrap();
        if n % 2 == 0 {
            hd.agent_reply(t.id, sam.id, "Try turning it off and on.", None).unwrap();
        }
        if n % 5 == 0 {
            hd.add_note(t.id, sam.id, "Known issue.").unwrap();
        }
        if n == 7 {
            hd.execute(t.id, &Actor::Agent(sam.id), Command::SetStatus { status: Status::Deleted }).unwrap();
            hd.purge(t.id, &Actor::Agent(sam.id)).unwrap();
        }
    }
    hd.put_blob(b"an attachment").unwrap();
    hd.put_app_value("session", "abc", Some(&serde_json::json!({"agent": 1}))).unwrap();
    hd.put_app_value("workspace", "1", Some(&serde_json::json!({"tabs": [3, 4]}))).unwrap();
}

/// Copies, verifies, and checks the copy works as the source did.
fn copy_and_check(from: &Helpdesk, to: &Helpdesk) {
    let steps = Mutex::new(Vec::new());
    let copied =
        migrate::copy(from.store().as_ref(), to.store().as_ref(), &|s| steps.lock().unwrap().push(s))
            .unwrap();
    assert_eq!(copied.tickets, 39, "{copied:?}");
    assert!(copied.outbox > 0 && copied.blobs == 1 && copied.configs >= 3, "{copied:?}");
    let steps = steps.into_inner().unwrap();
    assert!(steps.contains(&Step::Tickets(40, 40)) && steps.last() == Some(&Step::Flushing), "{steps:?}");

    let v = migrate::verify(from.store().as_ref(), to.store().as_ref(), 1000).unwrap();
    assert!(v.differences.is_empty(), "{:?}", v.differences);
    assert_eq!((v.tickets, v.sampled), (39, 39));
    assert!(v.records >= 43 && v.counters > 0, "{v:?}");

    // The same filters with the same counts.
    let sam = from.agent_by_email("sam@example.com").unwrap().unwrap();
    assert_eq!(from.filter_counts(sam.id).unwrap(), to.filter_counts(sam.id).unwrap());
    // No id given twice: the next ticket and user come after the source's.
    let user = to.create_user(NewUser::new("New", "new@acme.example")).unwrap();
    assert!(user.id.0 > 40, "{:?}", user.id);
    let support = to.departments().unwrap()[0].id;
    let t = to
        .create_ticket(
            &Actor::User(user.id),
            NewTicket::new("After", "Hi.", support, user.id, Channel::Portal),
        )
        .unwrap();
    assert_eq!(t.id, TicketId(41));
    assert!(t.labels.contains("crm"), "the copied trigger did not run: {:?}", t.labels);
    // The rest is there: sessions, blobs, undelivered notifications.
    assert_eq!(to.app_value("session", "abc").unwrap(), Some(serde_json::json!({"agent": 1})));
    assert_eq!(to.blob(&mail::blob_id(b"an attachment")).unwrap().as_deref(), Some(&b"an attachment"[..]));
    assert!(to.store().ticket(TicketId(8)).unwrap().is_none(), "the purged ticket came back");
    let due = to.due_outbox(chrono::Utc::now() + chrono::Duration::days(1), 1000).unwrap();
    assert_eq!(due.iter().filter(|i| i.key.ticket != t.id).count() as u64, copied.outbox);
    assert!(due.iter().any(|i| i.key.ticket == t.id && matches!(i.effect, Effect::Webhook(_))));

    // A second copy into the now non-empty target is refused.
    let again = migrate::copy(from.store().as_ref(), to.store().as_ref(), &|_| {});
    assert!(matches!(&again, Err(StoreError::Backend(m)) if m.contains("not empty")), "{again:?}");
}

#[test]
fn memory_to_memory() {
    let from = Helpdesk::in_memory();
    fill(&from);
    copy_and_check(&from, &Helpdesk::in_memory());
}

#[test]
fn a_difference_is_found() {
    let from = Helpdesk::in_memory();
    fill(&from);
    let to = Helpdesk::in_memory();
    migrate::copy(from.store().as_ref(), to.store().as_ref(), &|_| {}).unwrap();
    let t = to.ticket(TicketId(3)).unwrap();
    to.add_note(t.id, AgentId(1), "Only in the copy.").unwrap();
    let v = migrate::verify(from.store().as_ref(), to.store().as_ref(), 1000).unwrap();
    assert!(v.differences.iter().any(|d| d == "ticket 3 differs"), "{:?}", v.differences);
}

#[test]
fn sled_to_postgres_and_back() {
    let Some(db) = helpdesk_store::pg::testing::database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sled = Helpdesk::open(dir.path().join("from")).unwrap();
    fill(&sled);
    let pg = Helpdesk::connect(db.url()).unwrap();
    copy_and_check(&sled, &pg);

    // And back, into a new sled store, from the PostgreSQL copy (which now
    // has one ticket and user more).
    let back = Helpdesk::open(dir.path().join("back")).unwrap();
    migrate::copy(pg.store().as_ref(), back.store().as_ref(), &|_| {}).unwrap();
    let v = migrate::verify(pg.store().as_ref(), back.store().as_ref(), 1000).unwrap();
    assert!(v.differences.is_empty(), "{:?}", v.differences);
    assert_eq!(v.tickets, 40);
    drop(pg);
    drop(db);
}
