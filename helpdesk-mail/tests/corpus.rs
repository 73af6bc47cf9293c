//! The .eml corpus, data-driven: every file in `tests/emails/` is ingested
//! into a fresh fixture helpdesk and what became of it (the outcome or the
//! refusal, the ticket it made or reached, the notifications it queued) is
//! an insta snapshot. A new case is a new file.

mod common;

use common::*;
use helpdesk_core::*;
use helpdesk_mail::{IngestOutcome, MailError};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Serialize)]
struct AttachmentSummary {
    filename: String,
    content_type: String,
    size: u64,
}

#[derive(Serialize)]
struct MessageSummary {
    author: String,
    channel: Channel,
    body: String,
    attachments: Vec<AttachmentSummary>,
}

#[derive(Serialize)]
struct TicketSummary {
    id: TicketId,
    subject: String,
    status: Status,
    owner: String,
    owner_organisation: Option<String>,
    ccs: Vec<String>,
    messages: usize,
    last_message: MessageSummary,
    last_change_by: String,
}

#[derive(Serialize)]
struct Case {
    result: serde_json::Value,
    ticket: Option<TicketSummary>,
    /// Notifications queued by this mail.
    outbox: Vec<String>,
}

fn email_of(f: &Fixture, u: UserId) -> String {
    f.hd.user(u).unwrap().primary_email().to_string()
}

fn summarise(f: &Fixture, id: TicketId) -> TicketSummary {
    let t = f.hd.ticket(id).unwrap();
    let m = t.messages.last().unwrap();
    let owner = f.hd.user(t.user).unwrap();
    let attachments = m
        .attachments
        .iter()
        .map(|a| {
            let bytes = f.hd.blob(&a.blob).unwrap().expect("attachment bytes are kept");
            assert_eq!(bytes.len() as u64, a.size, "{}", a.filename);
            assert_eq!(helpdesk_core::mail::blob_id(&bytes), a.blob);
            AttachmentSummary {
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
                size: a.size,
            }
        })
        .collect();
    let author = match m.author {
        Author::User(u) => format!("user {}", email_of(f, u)),
        Author::Agent(a) => format!("agent {}", f.hd.agent(a).unwrap().email),
    };
    let log = f.hd.log(id).unwrap();
    TicketSummary {
        id: t.id,
        subject: t.subject.clone(),
        status: t.status,
        owner: owner.primary_email().to_string(),
        owner_organisation: owner.organisation.map(|o| f.hd.organisation(o).unwrap().name),
        ccs: t.ccs.iter().map(|u| email_of(f, *u)).collect(),
        messages: t.messages.len(),
        last_message: MessageSummary { author, channel: m.channel, body: m.body.clone(), attachments },
        last_change_by: log.last().unwrap().actor.to_string(),
    }
}

fn run(raw: &[u8]) -> Case {
    let f = fixture();
    let before = f.hd.store().last_ticket_id().unwrap();
    let result = f.gateway.ingest(raw);
    let ticket = match &result {
        Ok(IngestOutcome::NewTicket { ticket, .. }) | Ok(IngestOutcome::Reply { ticket, .. }) => {
            Some(summarise(&f, *ticket))
        }
        _ => None,
    };
    match &result {
        Ok(IngestOutcome::Ignored { .. }) | Err(_) => {
            // Nothing changed: no ticket, no message, nothing queued.
            assert_eq!(f.hd.store().last_ticket_id().unwrap(), before);
            assert_eq!(f.hd.ticket(f.ticket.id).unwrap(), f.ticket);
            assert!(outbox(&f.hd).is_empty());
        }
        _ => {}
    }
    let result = match result {
        Ok(o) => serde_json::to_value(o).unwrap(),
        Err(e) => serde_json::json!({ "error": kind(&e), "reason": e.to_string() }),
    };
    Case { result, ticket, outbox: outbox(&f.hd) }
}

fn kind(e: &MailError) -> &'static str {
    match e {
        MailError::Malformed(_) => "malformed",
        MailError::TooLarge { .. } => "too_large",
        MailError::NoAccount(_) => "no_account",
        MailError::Refused(_) => "refused",
        MailError::Helpdesk(_) => "helpdesk",
        _ => "other",
    }
}

fn corpus() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/emails");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the corpus is in {}", dir.display());
    files
}

#[test]
fn every_eml_case() {
    for path in corpus() {
        let raw = std::fs::read(&path).unwrap();
        let case = run(&raw);
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        insta::with_settings!({ description => format!("tests/emails/{name}.eml"), omit_expression => true }, {
            insta::assert_yaml_snapshot!(name, case);
        });
    }
}

/// The properties the snapshots show, stated outright.
#[test]
fn nobody_hijacks_a_ticket_by_mail() {
    for stem in [
        "spoofed-reply-stranger",
        "spoofed-reply-unknown-sender",
        "forged-token-stranger",
        "agent-spoof-subject",
        "agent-with-user-token",
    ] {
        let f = fixture();
        let raw = std::fs::read(format!("{}/tests/emails/{stem}.eml", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let _ = f.gateway.ingest(&raw);
        assert_eq!(f.hd.ticket(f.ticket.id).unwrap(), f.ticket, "{stem} changed ticket 1");
    }
}

#[test]
fn loops_get_no_auto_response() {
    for stem in [
        "auto-reply",
        "out-of-office-exchange",
        "bounce-dsn",
        "bounce-plain-postmaster",
        "precedence-bulk",
        "x-loop",
        "ooo-subject-only",
        "ooo-german-subject",
        "exchange-undeliverable",
    ] {
        let raw = std::fs::read(format!("{}/tests/emails/{stem}.eml", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let case = run(&raw);
        assert_eq!(case.result["outcome"], "ignored", "{stem}");
        assert!(case.outbox.is_empty(), "{stem}");
    }
}

#[test]
fn the_same_mail_twice_is_taken_once() {
    let f = fixture();
    let raw =
        std::fs::read(format!("{}/tests/emails/plain-new-ticket.eml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let Ok(IngestOutcome::NewTicket { ticket, .. }) = f.gateway.ingest(&raw) else {
        panic!("first delivery")
    };
    drain(&f.hd);
    assert_eq!(f.gateway.ingest(&raw).unwrap(), IngestOutcome::Duplicate);
    assert_eq!(f.hd.store().last_ticket_id().unwrap(), Some(ticket));
    assert!(outbox(&f.hd).is_empty());
}

#[test]
fn another_mail_reusing_a_message_id_is_taken_in_and_learns_nothing() {
    let f = fixture();
    let raw =
        std::fs::read_to_string(format!("{}/tests/emails/plain-new-ticket.eml", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
    let Ok(IngestOutcome::NewTicket { ticket, .. }) = f.gateway.ingest(raw.as_bytes()) else {
        panic!("first delivery")
    };
    let from = raw.lines().find(|l| l.starts_with("From:")).expect("a From line");
    // Someone else, same Message-ID: a mail of its own, not a duplicate.
    let spoof = raw.replace(from, "From: Eve <eve@evil.test>");
    match f.gateway.ingest(spoof.as_bytes()).unwrap() {
        IngestOutcome::NewTicket { ticket: other, .. } => assert_ne!(other, ticket),
        other => panic!("a different sender's mail was {other:?}"),
    }
    // The same sender, another text under the same Message-ID: also its own mail.
    let edited = raw.replacen("\n\n", "\n\nP.S. one more thing.\n", 1).replacen(
        "\r\n\r\n",
        "\r\n\r\nP.S. one more thing.\r\n",
        1,
    );
    assert!(matches!(
        f.gateway.ingest(edited.as_bytes()).unwrap(),
        IngestOutcome::NewTicket { .. } | IngestOutcome::Reply { .. }
    ));
    // And the answer to a true duplicate names no ticket.
    assert_eq!(
        serde_json::to_value(f.gateway.ingest(raw.as_bytes()).unwrap()).unwrap(),
        serde_json::json!({"outcome": "duplicate"})
    );
}

/// A person's mail that asks for no auto-response, or came through a list,
/// is taken in: a ticket, its agents told, its sender not auto-answered.
#[test]
fn list_and_suppressed_mail_is_taken_without_an_auto_response() {
    for stem in ["precedence-list-person", "suppress-auto-response"] {
        let raw = std::fs::read(format!("{}/tests/emails/{stem}.eml", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let case = run(&raw);
        assert_eq!(case.result["outcome"], "new_ticket", "{stem}");
        assert!(!case.outbox.is_empty(), "{stem}: agents are told");
        assert!(
            case.outbox.iter().all(|n| !n.starts_with("user:")),
            "{stem}: no auto-response: {:?}",
            case.outbox
        );
    }
}

/// An admin who takes automatic replies in gets them as tickets, never
/// auto-answered; the log says why.
#[test]
fn automatic_replies_taken_in_get_no_auto_response() {
    let f = fixture();
    let mut settings = f.hd.mail_settings().unwrap();
    settings.auto_replies = helpdesk_core::mail::AutoReplyPolicy::TakeIn;
    f.hd.set_mail_settings(settings).unwrap();
    let raw =
        std::fs::read(format!("{}/tests/emails/ooo-subject-only.eml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let Ok(IngestOutcome::NewTicket { ticket, .. }) = f.gateway.ingest(&raw) else { panic!("taken in") };
    let created = &f.hd.log(ticket).unwrap()[0].change;
    let Change::Created { no_auto_response: Some(why), .. } = created else { panic!("{created:?}") };
    assert_eq!(why, "an automatic reply (subject starts \"automatic reply:\")");
    let queued = outbox(&f.hd);
    assert!(!queued.is_empty(), "agents are told");
    assert!(queued.iter().all(|n| !n.starts_with("user:")), "{queued:?}");
}
