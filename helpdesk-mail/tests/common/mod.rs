//! A fixed helpdesk for the mail tests: deterministic ids, clock and secret.
#![allow(dead_code)]

pub mod smtp_server;

use helpdesk_core::mail::MailSettings;
use helpdesk_core::*;
use helpdesk_mail::MailGateway;
use helpdesk_store::{Helpdesk, NewAgent};
use std::sync::Arc;

/// The reply-token secret of the fixture (tokens in the .eml corpus are signed with it).
pub const SECRET: &[u8] = b"helpdesk-rs test secret, not for production";

pub struct Fixture {
    pub hd: Helpdesk,
    pub gateway: MailGateway,
    pub clock: Arc<ManualClock>,
    pub support: Department,
    pub account: EmailAccount,
    pub alice: Agent,
    pub bob: Agent,
    pub ann: User,
    pub ben: User,
    pub eve: User,
    pub ticket: Ticket,
}

/// - department 1 Support, email account 1 support@helpdesk.test;
/// - organisation 1 Acme (acme.com);
/// - agent 1 Alice (admin), agent 2 Bob;
/// - users 1 Ann and 2 Ben (Acme), 3 Eve (evil.test);
/// - ticket 1 "Printer on fire" by Ann in the portal, Ben CC'd, Alice replied
///   (its outbox delivered, so each test sees only what it causes).
pub fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::default());
    let hd = Helpdesk::builder().clock(clock.clone()).ids(Arc::new(SequentialIds::default())).in_memory();
    let support = hd.create_department("Support", vec![]).unwrap();
    let account = hd.create_email_account("support@helpdesk.test", "Helpdesk Support", support.id).unwrap();
    hd.set_mail_settings(MailSettings::with_secret(SECRET)).unwrap();
    hd.create_organisation("Acme", &["acme.com"]).unwrap();
    let alice = hd.create_agent(NewAgent::new("Alice", "alice@helpdesk.test").admin()).unwrap();
    let bob = hd.create_agent(NewAgent::new("Bob", "bob@helpdesk.test")).unwrap();
    let ann = hd.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap();
    let ben = hd.create_user(NewUser::new("Ben", "ben@acme.com")).unwrap();
    let eve = hd.create_user(NewUser::new("Eve", "eve@evil.test")).unwrap();
    let mut new = NewTicket::new("Printer on fire", "It is on fire.", support.id, ann.id, Channel::Portal);
    new.ccs.insert(ben.id);
    let t = hd.create_ticket(&Actor::User(ann.id), new).unwrap();
    let ticket = hd.agent_reply(t.id, alice.id, "Please step away from the printer.", None).unwrap();
    drain(&hd);
    let ticket = hd.ticket(ticket.id).unwrap();
    let gateway = MailGateway::new(hd.clone());
    Fixture { hd, gateway, clock, support, account, alice, bob, ann, ben, eve, ticket }
}

/// Marks everything in the outbox delivered.
pub fn drain(hd: &Helpdesk) {
    for item in hd.store().outbox(None, 10_000).unwrap() {
        hd.complete_delivery(&item, DeliveryOutcome::Sent).unwrap();
    }
}

/// The outbox as `recipient channel reason` lines.
pub fn outbox(hd: &Helpdesk) -> Vec<String> {
    hd.store()
        .outbox(None, 1000)
        .unwrap()
        .into_iter()
        .map(|i| match i.effect {
            Effect::Notify(n) => format!("{} {:?} {}", n.recipient, n.channel, n.reason),
            Effect::Webhook(w) => format!("webhook {}", w.url),
        })
        .collect()
}
