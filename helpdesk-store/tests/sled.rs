//! sled-only behaviour: persistence across close and reopen, the one-process
//! lock, and the buffered durability option.

mod common;

use common::{check_consistent, dump, reexec};
use helpdesk_core::*;
use helpdesk_store::{Error, Helpdesk, NewAgent};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

/// Set in a child process: the database it must try to open.
const LOCK_CHILD_DB: &str = "HELPDESK_TEST_LOCK_CHILD_DB";

/// A small helpdesk in `path`: a department, an agent, two users and a few
/// tickets in different states. Returns the tickets.
fn populate(hd: &Helpdesk) -> Vec<Ticket> {
    let support = hd.create_department("Support", vec![]).unwrap();
    let alice = hd.create_agent(NewAgent::new("Alice", "alice@helpdesk.test").admin()).unwrap();
    let ann = hd.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap();
    let ben = hd.create_user(NewUser::new("Ben", "ben@acme.com")).unwrap();
    hd.create_organisation("Acme", &["acme.com"]).unwrap();
    let mut out = Vec::new();
    for i in 0..5 {
        let user = if i % 2 == 0 { ann.id } else { ben.id };
        let t = hd
            .create_ticket(
                &Actor::User(user),
                NewTicket::new(format!("Ticket {i}"), "Help.", support.id, user, Channel::Portal),
            )
            .unwrap();
        let t = match i {
            1 => hd.agent_reply(t.id, alice.id, "Done?", Some(Status::Resolved)).unwrap(),
            2 => hd.execute(t.id, &Actor::Agent(alice.id), Command::AddCc { user: ben.id }).unwrap(),
            3 => hd.execute(t.id, &Actor::Agent(alice.id), Command::Delete).unwrap(),
            _ => t,
        };
        out.push(t);
    }
    out
}

fn open(path: &Path) -> Helpdesk {
    Helpdesk::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

#[test]
fn data_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let hd = open(&path);
    let tickets = populate(&hd);
    let before = dump(&**hd.store());
    drop(hd);

    let hd = open(&path);
    assert_eq!(dump(&**hd.store()), before, "the store changed across close and reopen");
    for t in &tickets {
        assert_eq!(&hd.ticket(t.id).unwrap(), t);
        assert_eq!(Ticket::from_events(&hd.log(t.id).unwrap()).unwrap(), *t);
    }
    check_consistent(&**hd.store());
    assert_eq!(hd.user_by_email("ben@acme.com").unwrap().unwrap().name, "Ben");
    // Ids continue where they stopped: nothing is handed out twice.
    let ann = hd.user_by_email("ann@acme.com").unwrap().unwrap();
    let support = hd.departments().unwrap()[0].id;
    let t = hd
        .create_ticket(
            &Actor::User(ann.id),
            NewTicket::new("After", "Reopened.", support, ann.id, Channel::Portal),
        )
        .unwrap();
    assert!(t.id > tickets.last().unwrap().id, "ticket id {} reused", t.id);
    let carl = hd.create_user(NewUser::new("Carl", "carl@acme.com")).unwrap();
    assert!(carl.id > ann.id && carl.id.0 > 2, "user id {} reused", carl.id);
    assert_eq!(carl.organisation, hd.organisation_for_domain("acme.com").unwrap().map(|o| o.id));
    drop(hd);

    // Once more, with what was written after the first reopen.
    let hd = open(&path);
    assert_eq!(hd.ticket(t.id).unwrap(), t);
    assert_eq!(hd.user(carl.id).unwrap(), carl);
    check_consistent(&**hd.store());
}

/// A ticket stored with an id from elsewhere (an injected id source, an
/// import) and purged since: its id is still never given again, because each
/// creating commit stores the highest ticket id with it.
#[test]
fn purged_ticket_id_is_not_given_again_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let hd = Helpdesk::builder().ids(Arc::new(SequentialIds::starting_after(999))).open(&path).unwrap();
    let support = hd.create_department("Support", vec![]).unwrap();
    let alice = hd.create_agent(NewAgent::new("Alice", "alice@helpdesk.test").admin()).unwrap();
    let ann = hd.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap();
    let new = || NewTicket::new("Help", "Please.", support.id, ann.id, Channel::Portal);
    let t = hd.create_ticket(&Actor::User(ann.id), new()).unwrap();
    assert_eq!(t.id, TicketId(1000));
    hd.execute(t.id, &Actor::Agent(alice.id), Command::Delete).unwrap();
    hd.purge(t.id, &Actor::Agent(alice.id)).unwrap();
    assert_eq!(hd.store().last_ticket_id().unwrap(), None);
    drop(hd);

    let hd = open(&path);
    let next = hd.create_ticket(&Actor::User(ann.id), new()).unwrap();
    assert_eq!(next.id, TicketId(1001), "the purged ticket's id must not be given again");
    drop(hd);
    // And again after a restart with no creates in between the mark and the restart.
    let hd = open(&path);
    assert_eq!(hd.create_ticket(&Actor::User(ann.id), new()).unwrap().id, TicketId(1002));
    check_consistent(&**hd.store());
}

/// sled keeps a value over ~128 KiB in a file of its own under `blobs/`; a
/// flush syncs those files too, and they read back after a reopen.
#[test]
fn large_values_live_in_blob_files_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let hd = open(&path);
    let bytes: Vec<u8> = (0..600 * 1024u32).map(|i| (i % 251) as u8).collect();
    let id = hd.put_blob(&bytes).unwrap();
    hd.flush().unwrap();
    let blob_files = std::fs::read_dir(path.join("blobs")).unwrap().count();
    assert!(blob_files > 0, "a 600 KiB value should be a sled blob file");
    drop(hd);
    let hd = open(&path);
    assert_eq!(hd.blob(&id).unwrap().as_deref(), Some(&bytes[..]));
}

#[test]
fn clones_share_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let hd = open(&path);
    let other = hd.clone();
    let tickets = populate(&hd);
    assert_eq!(other.ticket(tickets[0].id).unwrap(), tickets[0]);
    drop(hd);
    // The database stays open (and locked) while a clone lives.
    assert!(matches!(Helpdesk::open(&path), Err(Error::Store(StoreError::Locked { .. }))));
    drop(other);
    let hd = open(&path);
    assert_eq!(hd.ticket(tickets[0].id).unwrap(), tickets[0]);
}

#[test]
fn second_open_in_the_same_process_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let hd = open(&path);
    match Helpdesk::open(&path) {
        Err(Error::Store(StoreError::Locked { path: p })) => assert!(p.contains("db"), "{p}"),
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(hd);
    open(&path);
}

/// Runs the lock child against `path` and returns what it reported.
fn child_open(path: &Path) -> String {
    let out = reexec("lock_child", &[(LOCK_CHILD_DB, path.to_str().unwrap())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("spawn child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        // libtest's "test lock_child ... " may precede it on the same line.
        .find_map(|l| l.split_once("CHILD_RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("child reported nothing:\n{stdout}"))
        .to_string()
}

#[test]
fn second_process_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let hd = open(&path);
    let tickets = populate(&hd);
    let result = child_open(&path);
    assert!(result.starts_with("locked "), "a second process opened the database: {result}");
    assert!(result.contains("another process"), "the message says why: {result}");
    // The refused process changed nothing, and the first one carries on.
    assert_eq!(hd.ticket(tickets[0].id).unwrap(), tickets[0]);
    hd.agent_reply(tickets[0].id, AgentId(1), "Still here.", None).unwrap();
    drop(hd);
    // Closed, the database opens in another process.
    assert_eq!(child_open(&path), "opened");
}

/// The child side of `second_process_is_locked`: a no-op unless run by it.
#[test]
fn lock_child() {
    let Ok(path) = std::env::var(LOCK_CHILD_DB) else { return };
    match Helpdesk::open(&path) {
        Ok(hd) => {
            // Prove it is really open, then close it.
            hd.departments().unwrap();
            println!("CHILD_RESULT opened");
        }
        Err(Error::Store(e @ StoreError::Locked { .. })) => println!("CHILD_RESULT locked {e}"),
        Err(e) => println!("CHILD_RESULT error {e:?}"),
    }
}

#[test]
fn buffered_durability_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let clock = Arc::new(ManualClock::default_start());
    let hd = Helpdesk::builder().clock(clock.clone()).durability(Durability::Buffered).open(&path).unwrap();
    let tickets = populate(&hd);
    // Visible at once, through every read path.
    for t in &tickets {
        assert_eq!(&hd.ticket(t.id).unwrap(), t);
    }
    assert_eq!(hd.count_by_status(Status::Deleted).unwrap(), 1);
    check_consistent(&**hd.store());
    hd.flush().unwrap();
    let before = dump(&**hd.store());
    drop(hd);
    let hd = open(&path);
    assert_eq!(dump(&**hd.store()), before);
    // Writes acknowledged without a flush survive a clean close too.
    let hd2 = Helpdesk::builder().durability(Durability::Buffered).store(hd.store().clone());
    let t = hd2.agent_reply(tickets[0].id, AgentId(1), "Buffered.", None).unwrap();
    drop(hd2);
    drop(hd);
    let hd = open(&path);
    assert_eq!(hd.ticket(t.id).unwrap(), t);
    check_consistent(&**hd.store());
}
