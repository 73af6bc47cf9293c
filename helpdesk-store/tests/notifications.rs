//! Notifications are queued in the same commit as the change that causes
//! them; deliveries are recorded in the ticket log; subscriptions, email
//! accounts, mail settings and the auto-response window are stored.

use chrono::Duration;
use helpdesk_core::mail::RateLimit;
use helpdesk_core::*;
use helpdesk_store::{Helpdesk, NewAgent};
use std::sync::Arc;

struct Setup {
    hd: Helpdesk,
    clock: Arc<ManualClock>,
    support: Department,
    alice: Agent,
    bob: Agent,
    ann: User,
}

fn setup(hd: impl FnOnce(Arc<ManualClock>) -> Helpdesk) -> Setup {
    let clock = Arc::new(ManualClock::default());
    let hd = hd(clock.clone());
    let support = hd.create_department("Support", vec![]).unwrap();
    let alice = hd.create_agent(NewAgent::new("Alice", "alice@helpdesk.test").admin()).unwrap();
    let bob = hd.create_agent(NewAgent::new("Bob", "bob@helpdesk.test")).unwrap();
    let ann = hd.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap();
    Setup { hd, clock, support, alice, bob, ann }
}

fn mem() -> Setup {
    setup(|c| Helpdesk::builder().clock(c).in_memory())
}

fn outbox(hd: &Helpdesk) -> Vec<String> {
    hd.store()
        .outbox(None, 1000)
        .unwrap()
        .into_iter()
        .map(|i| match i.effect {
            Effect::Notify(n) => format!("{} {} {:?} {}", i.key, n.recipient, n.channel, n.reason),
            Effect::Webhook(w) => format!("{} webhook {}", i.key, w.url),
        })
        .collect()
}

#[test]
fn a_change_and_its_notifications_are_one_commit() {
    let s = mem();
    let t =
        s.hd.create_ticket(
            &Actor::User(s.ann.id),
            NewTicket::new("Printer on fire", "Help", s.support.id, s.ann.id, Channel::Portal),
        )
        .unwrap();
    // Ann acted: she gets nothing; Alice (admin) hears on both channels; Bob
    // (default subscriptions) hears in the app of a new unassigned ticket.
    assert_eq!(
        outbox(&s.hd),
        [
            "#1/v2/0 agent:1 Email new_ticket",
            "#1/v2/1 agent:1 InApp new_ticket",
            "#1/v2/2 agent:2 InApp new_ticket"
        ]
    );
    // The keys name the version the commit created.
    assert_eq!(t.version, 2);

    // A refused command queues nothing.
    let before = outbox(&s.hd);
    assert!(s.hd.add_note(t.id, s.alice.id, "  ").is_err());
    assert_eq!(outbox(&s.hd), before);

    // A stale write (a conflict: Bob assigned himself after Alice looked)
    // queues nothing either.
    s.hd.execute(t.id, &Actor::Agent(s.bob.id), Command::AssignAgent { agent: Some(s.bob.id) }).unwrap();
    let before = outbox(&s.hd);
    let err = s.hd.execute_at(
        t.id,
        t.version,
        &Actor::Agent(s.alice.id),
        Command::AssignAgent { agent: Some(s.alice.id) },
    );
    assert!(matches!(err, Err(helpdesk_store::Error::Conflict(_))), "{err:?}");
    assert_eq!(outbox(&s.hd), before);
}

#[test]
fn notes_reach_agents_only_and_deliveries_are_logged() {
    let s = mem();
    let t =
        s.hd.create_ticket(
            &Actor::User(s.ann.id),
            NewTicket::new("Printer on fire", "Help", s.support.id, s.ann.id, Channel::Portal),
        )
        .unwrap();
    for item in s.hd.store().outbox(None, 100).unwrap() {
        s.hd.complete_delivery(&item, DeliveryOutcome::Sent).unwrap();
    }
    s.hd.add_note(t.id, s.bob.id, "agents only").unwrap();
    assert_eq!(outbox(&s.hd), ["#1/v6/0 agent:1 Email note", "#1/v6/1 agent:1 InApp note"]);
    s.hd.agent_reply(t.id, s.bob.id, "On it", None).unwrap();
    let o = outbox(&s.hd);
    assert!(o.contains(&"#1/v8/0 user:1 Email agent_reply".to_string()), "{o:?}");
    // Every delivery is in the log, and a delivery notifies nobody.
    let delivered =
        s.hd.log(t.id).unwrap().iter().filter(|e| matches!(e.change, Change::Delivered { .. })).count();
    assert_eq!(delivered, 3);
}

#[test]
fn subscriptions_are_stored_per_agent() {
    let s = mem();
    assert_eq!(s.hd.subscriptions(s.alice.id).unwrap(), Subscriptions::everything(s.alice.id));
    // Bob wants every status change, in the app only.
    s.hd.set_subscriptions(Subscriptions::none(s.bob.id).with(
        NotifyEvent::Status,
        Scope::All,
        DeliveryChannel::InApp,
    ))
    .unwrap();
    s.hd.set_subscriptions(Subscriptions::none(s.alice.id)).unwrap();
    let t =
        s.hd.create_ticket(
            &Actor::User(s.ann.id),
            NewTicket::new("Printer on fire", "Help", s.support.id, s.ann.id, Channel::Portal),
        )
        .unwrap();
    assert!(outbox(&s.hd).is_empty());
    s.hd.execute(t.id, &Actor::Agent(s.alice.id), Command::SetStatus { status: Status::Pending }).unwrap();
    assert_eq!(outbox(&s.hd), ["#1/v3/0 agent:2 InApp status"]);
    assert!(s.hd.set_subscriptions(Subscriptions::none(AgentId(99))).is_err());
}

#[test]
fn email_accounts_settings_and_the_auto_response_window_persist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (secret, account) = {
        let s = setup(|c| Helpdesk::builder().clock(c).open(&path).unwrap());
        let account = s.hd.create_email_account("Support@Helpdesk.test", "Support", s.support.id).unwrap();
        assert!(s.hd.create_email_account("support@helpdesk.test", "Again", s.support.id).is_err());
        assert!(s.hd.create_email_account("ann@acme.com", "Taken by a user", s.support.id).is_err());
        assert!(s.hd.create_email_account("x@helpdesk.test", "Bad dept", DepartmentId(42)).is_err());
        let mut settings = s.hd.mail_settings().unwrap();
        assert_eq!(settings.secret.len(), 64);
        settings.auto_responses = RateLimit { max: 2, per_seconds: 3600 };
        s.hd.set_mail_settings(settings.clone()).unwrap();
        assert!(s.hd.admit_auto_response(s.ann.id).unwrap());
        assert!(s.hd.admit_auto_response(s.ann.id).unwrap());
        assert!(!s.hd.admit_auto_response(s.ann.id).unwrap());
        let blob = s.hd.put_blob(b"%PDF-").unwrap();
        assert_eq!(s.hd.blob(&blob).unwrap().as_deref(), Some(&b"%PDF-"[..]));
        s.hd.flush().unwrap();
        (settings.secret, account)
    };
    // Reopened: same secret, same account, and the limit still holds.
    let clock = Arc::new(ManualClock::default());
    let hd = Helpdesk::builder().clock(clock.clone()).open(&path).unwrap();
    assert_eq!(hd.mail_settings().unwrap().secret, secret);
    assert_eq!(hd.email_account_by_address("SUPPORT@helpdesk.test").unwrap(), Some(account.clone()));
    assert_eq!(hd.email_accounts().unwrap(), [account]);
    let ann = hd.user_by_email("ann@acme.com").unwrap().unwrap();
    assert!(!hd.admit_auto_response(ann.id).unwrap());
    clock.advance(Duration::minutes(61));
    assert!(hd.admit_auto_response(ann.id).unwrap());
}

#[test]
fn setup_clock_is_shared() {
    let s = mem();
    let before = s.hd.clock().now();
    s.clock.advance(Duration::hours(1));
    assert_eq!(s.hd.clock().now() - before, Duration::hours(1));
}
