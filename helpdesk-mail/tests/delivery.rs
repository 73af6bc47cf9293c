//! Delivery end to end: the worker sends email through a real SMTP server
//! (aiosmtpd), streams in-app notifications, calls webhooks, retries with
//! backoff, gives up, and records every outcome in the ticket log; replies to
//! the mail it sent thread back onto the ticket.

mod common;

use chrono::Duration;
use common::smtp_server::{free_port, SmtpServer};
use common::*;
use helpdesk_core::mail::{MailSettings, RateLimit};
use helpdesk_core::*;
use helpdesk_mail::*;
use mail_parser::MessageParser;
use std::io::{Read, Write};
use std::sync::Arc;

fn email_worker(f: &Fixture, port: u16) -> DeliveryWorker {
    let email = EmailNotifier::new(f.hd.clone(), &SmtpConfig::plain("127.0.0.1", port)).unwrap();
    DeliveryWorker::new(f.hd.clone()).notifier(Arc::new(email))
}

fn deliveries(f: &Fixture, t: TicketId) -> Vec<(String, DeliveryOutcome, u32)> {
    f.hd.log(t)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.change {
            Change::Delivered { effect: Effect::Notify(n), outcome, attempts } => {
                Some((format!("{} {:?} {}", n.recipient, n.channel, n.reason), outcome, attempts))
            }
            _ => None,
        })
        .collect()
}

struct Received {
    to: String,
    from: String,
    subject: String,
    message_id: String,
    in_reply_to: String,
    auto_submitted: Option<String>,
    body: String,
}

fn received(raw: &[u8]) -> Received {
    let m = MessageParser::default().parse(raw).unwrap();
    let addr = |a: Option<&mail_parser::Address>| {
        a.and_then(|a| a.first()).and_then(|a| a.address()).unwrap().to_string()
    };
    Received {
        to: addr(m.to()),
        from: addr(m.from()),
        subject: m.subject().unwrap_or("").to_string(),
        message_id: format!("<{}>", m.message_id().unwrap()),
        in_reply_to: m.in_reply_to().as_text().unwrap_or("").to_string(),
        auto_submitted: m.header_raw("Auto-Submitted").map(|v| v.trim().to_string()),
        body: m.body_text(0).unwrap().to_string(),
    }
}

#[test]
fn mail_goes_out_by_smtp_and_replies_come_back_to_the_ticket() {
    let Some(smtp) = SmtpServer::start() else { return };
    let f = fixture();
    let t = f.ticket.id;
    f.hd.add_note(t, f.bob.id, "SECRET: the printer was sabotaged").unwrap();
    f.hd.agent_reply(t, f.bob.id, "A technician is coming at 3pm.", None).unwrap();
    let report = email_worker(&f, smtp.port).run_once().unwrap();
    // Alice: note + reply (email); Ann and Ben: the reply. In-app items have no notifier here.
    assert_eq!(report.sent, 4, "{report:?}");
    assert_eq!(report.skipped, 2, "{report:?}");
    assert!(f.hd.store().outbox(None, 10).unwrap().is_empty());

    let mails: Vec<Received> = smtp.messages().iter().map(|m| received(m)).collect();
    assert_eq!(mails.len(), 4);
    let to_ann = mails.iter().find(|m| m.to == "ann@acme.com").expect("mail to Ann");
    assert_eq!(to_ann.from, "support@helpdesk.test");
    assert_eq!(to_ann.subject, "Re: Printer on fire [#1]");
    assert!(to_ann.message_id.starts_with("<hd-1-u1-"), "{}", to_ann.message_id);
    assert_eq!(to_ann.in_reply_to, "ticket-1@helpdesk.test");
    assert_eq!(to_ann.auto_submitted, None, "a human reply is not automatic");
    assert!(to_ann.body.contains("A technician is coming at 3pm."));
    // Users never see notes, in any mail they get.
    for m in mails.iter().filter(|m| !m.to.ends_with("@helpdesk.test")) {
        assert!(!m.body.contains("SECRET"), "note leaked to {}", m.to);
    }
    let to_alice: Vec<&Received> = mails.iter().filter(|m| m.to == "alice@helpdesk.test").collect();
    assert_eq!(to_alice.len(), 2);
    assert!(to_alice.iter().any(|m| m.body.contains("SECRET") && m.subject.starts_with("[note]")));
    assert!(to_alice.iter().all(|m| m.auto_submitted.as_deref() == Some("auto-generated")));

    // Every delivery is in the log.
    let log = deliveries(&f, t);
    assert!(log.contains(&("user:1 Email agent_reply".into(), DeliveryOutcome::Sent, 1)), "{log:?}");
    assert!(log.contains(&(
        "agent:1 InApp note".into(),
        DeliveryOutcome::Skipped("no notifier for InApp notifications".into()),
        1
    )));

    // Ann answers the mail from her client: it lands on ticket 1 by its token.
    let reply = format!(
        "From: Ann <ann@acme.com>\r\nTo: support@helpdesk.test\r\nSubject: {}\r\nIn-Reply-To: {}\r\n\
         References: <ticket-1@helpdesk.test> {}\r\n\r\nThanks, 3pm works.\r\n\r\n{}\r\n> quoted\r\n",
        to_ann.subject,
        to_ann.message_id,
        to_ann.message_id,
        "On Mon, 5 Jan 2026 at 10:00, Helpdesk Support <support@helpdesk.test> wrote:"
    );
    let out = f.gateway.ingest(reply.as_bytes()).unwrap();
    assert!(
        matches!(out, IngestOutcome::Reply { ticket, by: mail::ThreadedBy::Token, .. } if ticket == t),
        "{out:?}"
    );
    assert_eq!(f.hd.ticket(t).unwrap().messages.last().unwrap().body, "Thanks, 3pm works.");

    // Alice answers her notification by mail: an agent reply, by her token.
    let alice_mail = to_alice[0];
    let reply = format!(
        "From: alice@helpdesk.test\r\nTo: support@helpdesk.test\r\nSubject: Re: x\r\nIn-Reply-To: {}\r\n\r\nSee you then.\r\n",
        alice_mail.message_id
    );
    let out = f.gateway.ingest(reply.as_bytes()).unwrap();
    assert!(matches!(out, IngestOutcome::Reply { actor: Actor::Agent(a), .. } if a == f.alice.id), "{out:?}");
}

#[test]
fn auto_responses_are_marked_and_rate_limited_per_recipient() {
    let Some(smtp) = SmtpServer::start() else { return };
    let f = fixture();
    let mut s = MailSettings::with_secret(SECRET);
    s.auto_responses = RateLimit { max: 1, per_seconds: 3600 };
    f.hd.set_mail_settings(s).unwrap();
    let mail = |subject: &str| {
        format!(
            "From: Zed <zed@acme.com>\r\nTo: support@helpdesk.test\r\nSubject: {subject}\r\n\r\nHello\r\n"
        )
    };
    let IngestOutcome::NewTicket { ticket: t1, .. } = f.gateway.ingest(mail("one").as_bytes()).unwrap()
    else {
        panic!()
    };
    let IngestOutcome::NewTicket { ticket: t2, .. } = f.gateway.ingest(mail("two").as_bytes()).unwrap()
    else {
        panic!()
    };
    email_worker(&f, smtp.port).run_once().unwrap();
    let to_zed: Vec<Received> =
        smtp.messages().iter().map(|m| received(m)).filter(|m| m.to == "zed@acme.com").collect();
    assert_eq!(to_zed.len(), 1, "the second auto-response is over the limit");
    assert_eq!(to_zed[0].auto_submitted.as_deref(), Some("auto-replied"));
    assert!(to_zed[0].subject.starts_with("Received: one [#"));
    let first = deliveries(&f, t1);
    assert!(first.iter().any(|(w, o, _)| w.starts_with("user:") && *o == DeliveryOutcome::Sent));
    let second = deliveries(&f, t2);
    assert!(
        second.iter().any(|(w, o, _)| w.starts_with("user:")
            && matches!(o, DeliveryOutcome::Skipped(r) if r.contains("rate limit"))),
        "{second:?}"
    );
    // The limit holds across restarts (it is stored) and lifts after the window.
    f.clock.advance(Duration::minutes(61));
    assert!(f.hd.admit_auto_response(f.hd.user_by_email("zed@acme.com").unwrap().unwrap().id).unwrap());
}

#[test]
fn transient_failures_back_off_then_fail_for_good() {
    let f = fixture();
    f.hd.agent_reply(f.ticket.id, f.alice.id, "Anything else?", None).unwrap();
    // Nothing listens on this port: connection refused, a transient failure.
    let worker = email_worker(&f, free_port()).max_attempts(3);
    let only_ann = |f: &Fixture| {
        f.hd.store()
            .outbox(None, 10)
            .unwrap()
            .into_iter()
            .find(|i| matches!(&i.effect, Effect::Notify(n) if n.recipient == Recipient::User(f.ann.id)))
    };
    let r = worker.run_once().unwrap();
    assert_eq!(r.retried, 2, "{r:?}"); // Ann and Ben
    let item = only_ann(&f).unwrap();
    assert_eq!(item.attempts, 1);
    assert_eq!((item.not_before - f.clock.now()).num_seconds(), 30);
    assert!(item.last_error.as_deref().unwrap_or("").contains("refused"), "{:?}", item.last_error);
    // Not due yet: nothing happens.
    assert_eq!(worker.run_once().unwrap().total(), 0);
    f.clock.advance(Duration::seconds(31));
    assert_eq!(worker.run_once().unwrap().retried, 2);
    assert_eq!(only_ann(&f).unwrap().attempts, 2);
    f.clock.advance(Duration::seconds(61));
    assert_eq!(worker.run_once().unwrap().failed, 2);
    assert!(only_ann(&f).is_none());
    let log = deliveries(&f, f.ticket.id);
    let (_, outcome, attempts) = log.iter().rfind(|(w, _, _)| w == "user:1 Email agent_reply").unwrap();
    assert!(
        matches!(outcome, DeliveryOutcome::Failed(e) if e.starts_with("gave up after 3 attempts")),
        "{outcome:?}"
    );
    assert_eq!(*attempts, 3);
}

#[test]
fn in_app_notifications_stream_from_a_running_worker() {
    let f = fixture();
    let hub = InAppHub::new(f.hd.clone(), 16);
    let mut bay = hub.subscribe();
    let handle =
        DeliveryWorker::new(f.hd.clone()).notifier(Arc::new(hub)).start(std::time::Duration::from_secs(3600));
    f.hd.user_reply(f.ticket.id, f.ann.id, "Hello again").unwrap();
    handle.wake();
    let n = bay.blocking_recv().unwrap();
    assert_eq!(
        (n.agent, n.ticket, n.reason.as_str(), n.subject.as_str()),
        (f.alice.id, f.ticket.id, "user_reply", "Printer on fire")
    );
    handle.stop();
    assert!(deliveries(&f, f.ticket.id)
        .iter()
        .any(|(w, o, _)| w == "agent:1 InApp user_reply" && *o == DeliveryOutcome::Sent));
}

/// A one-request HTTP server on loopback answering `status`; returns the request.
fn http_once(status: u16) -> (u16, std::thread::JoinHandle<String>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).unwrap();
            req.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&req).to_string();
            if let Some(head_end) = text.find("\r\n\r\n") {
                let len: usize = text[..head_end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if req.len() >= head_end + 4 + len || n == 0 {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        write!(s, "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
        String::from_utf8_lossy(&req).to_string()
    });
    (port, h)
}

fn queue_webhook(f: &Fixture, url: String) {
    let t = f.hd.ticket(f.ticket.id).unwrap();
    let events = decide(
        &t,
        &Command::AddLabel { label: "hooked".into() },
        &Actor::system(),
        f.clock.now(),
        &mail_dir(f),
        &Policy::default(),
    )
    .unwrap();
    let mut after = t.clone();
    for e in &events {
        after.apply(e).unwrap();
    }
    let key = OutboxKey { ticket: t.id, version: after.version, seq: 0 };
    let item =
        OutboxItem::new(key, Effect::Webhook(Webhook { url, origin: "test trigger".into() }), f.clock.now());
    f.hd.store().commit(&Commit::new(Some(&t), Some(after), events).with_outbox(vec![item])).unwrap();
}

fn mail_dir(f: &Fixture) -> DirectorySnapshot {
    let mut d = DirectorySnapshot::default();
    d.departments.insert(f.support.id, f.support.clone());
    d
}

#[test]
fn webhooks_post_the_ticket_and_retry_on_5xx() {
    let f = fixture();
    let worker = DeliveryWorker::new(f.hd.clone())
        .notifier(Arc::new(WebhookNotifier::new(f.hd.clone(), std::time::Duration::from_secs(10))));
    let (port, server) = http_once(503);
    queue_webhook(&f, format!("http://127.0.0.1:{port}/hook"));
    assert_eq!(worker.run_once().unwrap().retried, 1);
    let req = server.join().unwrap();
    assert!(req.starts_with("POST /hook HTTP/1.1"), "{req}");
    assert!(req.contains("\"origin\":\"test trigger\"") && req.contains("\"hooked\""), "{req}");

    // The retry goes to a server that answers 200.
    let (port, server) = http_once(200);
    let mut item = f.hd.store().outbox(None, 10).unwrap().remove(0);
    item.effect = Effect::Webhook(Webhook {
        url: format!("http://127.0.0.1:{port}/hook"),
        origin: "test trigger".into(),
    });
    f.hd.store().reschedule(&item).unwrap();
    f.clock.advance(Duration::seconds(31));
    assert_eq!(worker.run_once().unwrap().sent, 1);
    server.join().unwrap();
    let sent = f.hd.log(f.ticket.id).unwrap().into_iter().any(|e| {
        matches!(
            e.change,
            Change::Delivered { effect: Effect::Webhook(_), outcome: DeliveryOutcome::Sent, attempts: 2 }
        )
    });
    assert!(sent);
}

/// An account with a relay of its own sends by it (the server's relay gets
/// nothing of it); without any relay the item is skipped with the reason;
/// a test mail reports the relay's real answer, or why there was none.
#[test]
fn accounts_send_by_their_own_relay_and_test_mails_report_the_answer() {
    use helpdesk_core::mail::{Relay, RelaySecurity};
    use helpdesk_store::admin::AccountChange;
    let Some(server_relay) = SmtpServer::start() else { return };
    let Some(own_relay) = SmtpServer::start() else { return };
    let f = fixture();
    let admin = f.hd.admin(f.alice.id).unwrap();
    let relay = Relay {
        host: "127.0.0.1".into(),
        port: own_relay.port,
        security: RelaySecurity::None,
        username: None,
    };
    let mut change = AccountChange::new("support@helpdesk.test", "Helpdesk Support", f.support.id);
    change.relay = Some(relay.clone());
    let account = admin.update_email_account(f.account.id, change.clone()).unwrap();

    f.hd.agent_reply(f.ticket.id, f.bob.id, "Sent by the account's relay.", None).unwrap();
    let report = email_worker(&f, server_relay.port).run_once().unwrap();
    assert_eq!(report.sent, 3, "{report:?}");
    assert_eq!(own_relay.messages().len(), 3);
    assert!(server_relay.messages().is_empty(), "the server's relay carries none of the account's mail");

    // No relay at all: skipped, saying what to do.
    admin.update_email_account(f.account.id, AccountChange { relay: None, ..change.clone() }).unwrap();
    f.hd.agent_reply(f.ticket.id, f.bob.id, "Nowhere to go.", None).unwrap();
    let worker =
        DeliveryWorker::new(f.hd.clone()).notifier(Arc::new(EmailNotifier::accounts_only(f.hd.clone())));
    worker.run_once().unwrap();
    let emails: Vec<_> = deliveries(&f, f.ticket.id).into_iter().filter(|d| d.0.contains("Email")).collect();
    let last = emails.last().unwrap();
    assert!(matches!(&last.1, DeliveryOutcome::Skipped(r) if r.contains("no SMTP relay")), "{last:?}");

    // Test mails: accepted by the account's relay, with its reply code.
    let ok = send_test_mail(&TestMailRequest {
        account: &account,
        password: None,
        server_relay: None,
        to: "alice@helpdesk.test",
        helpdesk: "Acme Support",
    });
    assert!(ok.accepted, "{ok:?}");
    assert!(ok.answer.starts_with("250"), "{ok:?}");
    assert_eq!(ok.relay, format!("127.0.0.1:{} (plain)", own_relay.port));
    let got = received(own_relay.messages().last().unwrap());
    assert_eq!(
        (got.to.as_str(), got.subject.as_str()),
        ("alice@helpdesk.test", "Test mail from Acme Support")
    );
    // A relay that is not there: the connection error, not a success.
    let closed = free_port();
    let gone =
        helpdesk_core::mail::EmailAccount { relay: Some(Relay { port: closed, ..relay }), ..account.clone() };
    let failed = send_test_mail(&TestMailRequest {
        account: &gone,
        password: None,
        server_relay: None,
        to: "alice@helpdesk.test",
        helpdesk: "Acme Support",
    });
    assert!(!failed.accepted);
    assert!(failed.answer.to_lowercase().contains("connect"), "{failed:?}");
    // No relay anywhere.
    let none = helpdesk_core::mail::EmailAccount { relay: None, ..account };
    let r = send_test_mail(&TestMailRequest {
        account: &none,
        password: None,
        server_relay: None,
        to: "a@b.example",
        helpdesk: "x",
    });
    assert!(!r.accepted && r.answer.contains("--smtp-relay"), "{r:?}");
}
