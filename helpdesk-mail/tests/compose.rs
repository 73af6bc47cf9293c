//! Outgoing mail, without a server: headers, threading tokens, and what a
//! user's mail may contain (never notes or agent-only fields).

mod common;

use common::*;
use helpdesk_core::mail::{ReplyToken, TokenCheck, TokenHolder};
use helpdesk_core::*;
use helpdesk_mail::outbound::compose;

fn items(f: &Fixture) -> Vec<OutboxItem> {
    f.hd.store().outbox(None, 100).unwrap()
}

fn body_of(raw: &str) -> String {
    let m = mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap();
    m.body_text(0).unwrap().to_string()
}

fn subject_of(raw: &str) -> String {
    let m = mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap();
    m.subject().unwrap().to_string()
}

fn raw(m: &helpdesk_mail::outbound::OutgoingMail) -> String {
    String::from_utf8(m.message.formatted()).unwrap()
}

#[test]
fn user_mail_has_the_reply_and_nothing_agents_only() {
    let f = fixture();
    let mut dept = f.support.clone();
    dept.fields.push(FieldDef {
        key: "internal_score".into(),
        label: "Internal score".into(),
        kind: FieldKind::Number,
        required: false,
        agent_only: true,
        retired: false,
    });
    f.hd.update_department(dept).unwrap();
    let alice = Actor::Agent(f.alice.id);
    f.hd.execute(
        f.ticket.id,
        &alice,
        Command::SetField { key: "internal_score".into(), value: Some(FieldValue::Number(4242.0)) },
    )
    .unwrap();
    f.hd.add_note(f.ticket.id, f.bob.id, "NOTE-7781 do not tell the user").unwrap();
    f.hd.agent_reply(f.ticket.id, f.bob.id, "We are on it.", None).unwrap();
    let tokens = f.hd.mail_settings().unwrap().tokens();
    let mut users = 0;
    for item in items(&f) {
        let Effect::Notify(n) = &item.effect else { continue };
        if n.channel != DeliveryChannel::Email {
            continue;
        }
        for m in compose(&f.hd, &item, None).unwrap() {
            let text = raw(&m);
            assert!(text.contains("From: \"Helpdesk Support\" <support@helpdesk.test>"), "{text}");
            let body = body_of(&text);
            assert!(text.contains("X-Loop: support@helpdesk.test"));
            assert!(text.contains("In-Reply-To: <ticket-1@helpdesk.test>"));
            let mid = text.lines().find_map(|l| l.strip_prefix("Message-ID: ")).unwrap();
            let TokenCheck::Valid(ReplyToken { ticket, holder }) = tokens.verify(mid) else {
                panic!("token in {mid}")
            };
            assert_eq!(ticket, f.ticket.id);
            match &n.recipient {
                Recipient::User(u) => {
                    users += 1;
                    assert_eq!(holder, TokenHolder::User(*u));
                    assert!(body.contains("We are on it."), "{body}");
                    assert!(!body.contains("NOTE-7781") && !body.contains("4242"), "{body}");
                    assert!(!text.contains("Auto-Submitted"), "a human reply is not automatic");
                }
                Recipient::Agent(a) => {
                    assert_eq!(holder, TokenHolder::Agent(*a));
                    assert!(text.contains("Auto-Submitted: auto-generated"));
                    assert!(text.contains("Date: Mon, 05 Jan 2026 09:00:00"), "the helpdesk's clock: {text}");
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(users, 2, "Ann and Ben");
}

#[test]
fn auto_responses_say_so() {
    let f = fixture();
    let raw_in = b"From: Zoe <zoe@acme.com>\r\nTo: support@helpdesk.test\r\nSubject: Hi\r\n\r\nHello\r\n";
    f.gateway.ingest(raw_in).unwrap();
    let item = items(&f)
        .into_iter()
        .find(|i| matches!(&i.effect, Effect::Notify(n) if matches!(n.recipient, Recipient::User(_))))
        .unwrap();
    let mails = compose(&f.hd, &item, None).unwrap();
    assert_eq!(mails.len(), 1);
    let text = raw(&mails[0]);
    assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
    assert!(text.contains("X-Auto-Response-Suppress: OOF, AutoReply"));
    assert!(text.contains("Subject: Received: Hi [#2]"));
    assert!(mails[0].auto_response_to.is_some());
}

#[test]
fn a_teams_mail_goes_to_each_member_who_may_see_the_ticket() {
    let f = fixture();
    let team = f.hd.create_team("Tier 1").unwrap();
    for a in [&f.alice, &f.bob] {
        let mut a = a.clone();
        a.teams.insert(team.id);
        f.hd.update_agent(a).unwrap();
    }
    let key = OutboxKey { ticket: f.ticket.id, version: f.hd.ticket(f.ticket.id).unwrap().version, seq: 0 };
    let n = Notification {
        recipient: Recipient::Team(team.id),
        channel: DeliveryChannel::Email,
        reason: "urgent".into(),
        template: None,
    };
    let mails = compose(&f.hd, &OutboxItem::new(key, Effect::Notify(n), f.clock.now()), None).unwrap();
    let to: Vec<String> = mails.iter().map(|m| m.to.to_string()).collect();
    assert_eq!(to, ["alice@helpdesk.test", "bob@helpdesk.test"]);
}

/// Mail from a blocked user is ignored; mail for an account that does not
/// take mail by HTTP ingest is refused there and still taken by SMTP.
#[test]
fn blocked_senders_and_closed_inbound_ways() {
    use helpdesk_core::mail::{InboundWays, LoopReason};
    use helpdesk_mail::IngestOutcome;
    use helpdesk_store::admin::AccountChange;
    let f = fixture();
    let admin = f.hd.admin(f.alice.id).unwrap();
    let mail = |from: &str, id: &str| {
        format!(
            "From: {from}\r\nTo: support@helpdesk.test\r\nSubject: Hello\r\nMessage-ID: <{id}@x.example>\r\n\r\nHi there\r\n"
        )
    };
    admin.block_user(f.eve.id, false).unwrap();
    assert_eq!(
        f.gateway.ingest(mail("eve@evil.test", "1").as_bytes()).unwrap(),
        IngestOutcome::Ignored { reason: LoopReason::BlockedSender("eve@evil.test".into()) }
    );
    let mut change = AccountChange::new("support@helpdesk.test", "Helpdesk Support", f.support.id);
    change.inbound = InboundWays { smtp: true, http: false };
    admin.update_email_account(f.account.id, change).unwrap();
    let err = f.gateway.ingest(mail("ann@acme.com", "2").as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused: support@helpdesk.test does not take mail by HTTP ingest (Admin > Email accounts)"
    );
    // Copied to an account that takes HTTP ingest: it goes there.
    let sales =
        admin.create_email_account(AccountChange::new("sales@helpdesk.test", "Sales", f.support.id)).unwrap();
    let both = mail("ann@acme.com", "4").replace("\r\n\r\n", "\r\nCc: sales@helpdesk.test\r\n\r\n");
    assert!(matches!(
        f.gateway.ingest(both.as_bytes()).unwrap(),
        IngestOutcome::NewTicket { account, .. } if account == sales.id
    ));
    let rcpt = ["support@helpdesk.test".to_string()];
    assert!(matches!(
        f.gateway.ingest_to(mail("ann@acme.com", "3").as_bytes(), &rcpt).unwrap(),
        IngestOutcome::NewTicket { .. }
    ));
}

/// Each person's mail is written from the admins' template in their
/// language (else the helpdesk's, else the built-in English one); a rule's
/// notification uses the custom template it names, when that exists.
#[test]
fn mail_is_written_in_each_recipients_language() {
    use helpdesk_core::templates::{Language, MailKind, MailTemplate, TemplateKey};
    let f = fixture();
    let admin = f.hd.admin(f.alice.id).unwrap();
    let de = Language::parse("de").unwrap();
    let german = MailTemplate {
        subject: "AW: {{ ticket.subject }}".into(),
        body: "Hallo {{ recipient.first_name }},\n{% if message %}{{ message.author }} schrieb:\n{{ message.body }}\n{% endif %}".into(),
    };
    admin.save_mail_template(&TemplateKey::Builtin(MailKind::UserAgentReply), &de, german).unwrap();
    let fr = Language::parse("fr").unwrap();
    let french = MailTemplate {
        subject: "[réponse] {{ ticket.subject }}".into(),
        body: "{% if message %}Réponse de {{ message.author }}{% endif %} ; urgence {{ ticket.urgency }} ; étiquettes : {{ ticket.labels|join(\", \") or \"aucune\" }}\n".into(),
    };
    admin.save_mail_template(&TemplateKey::Builtin(MailKind::AgentAgentReply), &fr, french).unwrap();
    f.hd.update_user(User { language: Some(de.clone()), ..f.ann.clone() }).unwrap();
    f.hd.update_agent(Agent { language: Some(fr), ..f.alice.clone() }).unwrap();

    f.hd.agent_reply(f.ticket.id, f.bob.id, "Der Drucker ist repariert.", None).unwrap();
    let mut seen = Vec::new();
    for item in items(&f) {
        let Effect::Notify(n) = &item.effect else { continue };
        if n.channel != DeliveryChannel::Email {
            continue;
        }
        for m in compose(&f.hd, &item, None).unwrap() {
            let text = raw(&m);
            let subject = subject_of(&text);
            seen.push((m.to.to_string(), subject, body_of(&text).replace("\r\n", "\n")));
        }
    }
    seen.sort();
    let quote = "##- Please type your reply above this line -##\n\n";
    assert_eq!(
        seen,
        [
            (
                "alice@helpdesk.test".to_string(),
                "[réponse] Printer on fire [#1]".to_string(),
                format!("{quote}Réponse de Bob ; urgence 1 ; étiquettes : aucune\n")
            ),
            (
                "ann@acme.com".to_string(),
                "AW: Printer on fire [#1]".to_string(),
                format!("{quote}Hallo Ann,\nBob schrieb:\nDer Drucker ist repariert.\n")
            ),
            (
                "ben@acme.com".to_string(),
                "Re: Printer on fire [#1]".to_string(),
                format!("{quote}Bob wrote:\n\nDer Drucker ist repariert.\n")
            ),
        ]
    );

    // The helpdesk's language for people without one of their own.
    let mut s = f.hd.settings().unwrap();
    s.language = de.clone();
    admin.set_settings(s).unwrap();
    let vip = MailTemplate {
        subject: "Für {{ user.name }}".into(),
        body: "Ihr Ticket {{ ticket.reference }}: {{ ticket.url }}".into(),
    };
    admin.save_mail_template(&TemplateKey::custom("vip").unwrap(), &de, vip).unwrap();
    let key = OutboxKey { ticket: f.ticket.id, version: f.hd.ticket(f.ticket.id).unwrap().version, seq: 0 };
    let notify = |template: &str| {
        let n = Notification {
            recipient: Recipient::User(f.ben.id),
            channel: DeliveryChannel::Email,
            reason: "trigger \"VIP\"".into(),
            template: Some(template.into()),
        };
        let item = OutboxItem::new(key, Effect::Notify(n), f.clock.now());
        let m = compose(&f.hd, &item, Some("https://help.example/")).unwrap();
        let text = raw(&m[0]);
        (subject_of(&text), body_of(&text).replace("\r\n", "\n"))
    };
    assert_eq!(
        notify("vip"),
        (
            "Für Ann [#1]".to_string(),
            format!("{quote}Ihr Ticket [#1]: https://help.example/portal/tickets/1")
        )
    );
    // A template that does not exist: the built-in mail.
    let (subject, body) = notify("gone");
    assert_eq!(subject, "Re: Printer on fire [#1]");
    assert!(body.contains("Your request [#1] \"Printer on fire\" was updated."), "{body}");
}

/// Every value a ticket mail's template gets is in its vocabulary (what a
/// template may name), and users' values hold nothing agents-only: no note,
/// urgency, labels, team or assigned agent, and no hidden status.
#[test]
fn template_values_are_exactly_what_each_audience_may_see() {
    use helpdesk_core::templates::Vocabulary;
    use helpdesk_mail::outbound::{ticket_context, Addressee, Audience};
    fn paths(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
        for (k, v) in v.as_object().into_iter().flatten() {
            let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            out.push(p.clone());
            paths(v, &p, out);
        }
    }
    let f = fixture();
    let team = f.hd.create_team("Tier 1").unwrap();
    let alice = Actor::Agent(f.alice.id);
    f.hd.execute(f.ticket.id, &alice, Command::AssignTeam { team: Some(team.id) }).unwrap();
    f.hd.execute(f.ticket.id, &alice, Command::AddLabel { label: "vip".into() }).unwrap();
    f.hd.add_note(f.ticket.id, f.bob.id, "NOTE-1 agents only").unwrap();
    f.hd.execute(f.ticket.id, &alice, Command::MarkSpam).unwrap();
    let t = f.hd.ticket(f.ticket.id).unwrap();
    let to = Addressee { name: "Ann".into(), email: "ann@acme.com".into(), language: None };
    for (audience, vocabulary) in
        [(Audience::User, Vocabulary::TicketUser), (Audience::Agent, Vocabulary::TicketAgent)]
    {
        let ctx = ticket_context(&f.hd, &t, "note", audience, &to, Some("https://help.example"));
        let mut got = Vec::new();
        paths(&ctx, "", &mut got);
        got.sort();
        let mut allowed: Vec<String> = vocabulary.placeholders().iter().map(|p| p.path.to_string()).collect();
        allowed.extend(["helpdesk", "recipient", "ticket", "user"].map(String::from));
        allowed.sort();
        assert_eq!(got, allowed, "{audience:?}: the values and the vocabulary are the same");
        let text = ctx.to_string();
        if audience == Audience::User {
            assert!(!text.contains("NOTE-1") && !text.contains("vip") && !text.contains("Tier 1"), "{text}");
            assert_eq!(ctx["ticket"]["status"], "resolved", "spam reads resolved to users");
            assert_eq!(ctx["event"], "updated", "users are not told why");
        } else {
            assert_eq!(ctx["note"]["body"], "NOTE-1 agents only");
            assert_eq!(ctx["ticket"]["status"], "spam");
        }
    }
}

#[test]
fn a_reply_mail_carries_the_replys_files_and_never_a_notes() {
    let f = fixture();
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-reply-picture".to_vec();
    let secret = b"NOTE-FILE-5521 for agents".to_vec();
    let files =
        f.hd.store_files(vec![helpdesk_store::files::NewFile::new("steps.png", png.clone())]).unwrap();
    let note_files =
        f.hd.store_files(vec![helpdesk_store::files::NewFile::new("internal.txt", secret)]).unwrap();
    let bob = Actor::Agent(f.bob.id);
    f.hd.execute(f.ticket.id, &bob, Command::AddNote { body: "see file".into(), attachments: note_files })
        .unwrap();
    f.hd.execute(
        f.ticket.id,
        &bob,
        Command::AgentReply { body: "Follow these steps.".into(), attachments: files, status: None },
    )
    .unwrap();
    let mut to_user = 0;
    for item in items(&f) {
        let Effect::Notify(n) = &item.effect else { continue };
        if n.channel != DeliveryChannel::Email || !matches!(n.recipient, Recipient::User(_)) {
            continue;
        }
        for m in compose(&f.hd, &item, None).unwrap() {
            let text = raw(&m);
            let parsed = mail_parser::MessageParser::default().parse(text.as_bytes()).unwrap();
            let names: Vec<(String, Vec<u8>)> = parsed
                .attachments()
                .map(|a| {
                    (
                        mail_parser::MimeHeaders::attachment_name(a).unwrap_or("").to_string(),
                        a.contents().to_vec(),
                    )
                })
                .collect();
            if n.reason == "agent_reply" {
                to_user += 1;
                assert_eq!(names, vec![("steps.png".to_string(), png.clone())], "{text}");
                assert!(body_of(&text).contains("Follow these steps."));
            } else {
                assert!(names.is_empty(), "{}: {names:?}", n.reason);
            }
            assert!(!text.contains("NOTE-FILE-5521") && !text.contains("internal.txt"), "{text}");
        }
    }
    assert!(to_user >= 1, "the owner's reply mail was composed");
}

/// A reply to a ticket that was merged into another arrives at the one it
/// was merged into: by the reply token of a mail sent about the merged
/// ticket, and by a `[#N]` in the subject.
#[test]
fn replies_to_a_merged_ticket_arrive_at_the_one_kept() {
    use helpdesk_mail::IngestOutcome;
    let f = fixture();
    let again =
        f.hd.create_ticket(
            &Actor::User(f.ann.id),
            NewTicket::new("Printer still on fire", "Hello?", f.support.id, f.ann.id, Channel::Portal),
        )
        .unwrap();
    f.hd.agent_reply(again.id, f.alice.id, "Looking.", None).unwrap();
    // The mail Ann got about the second ticket, with its reply token.
    let item = items(&f)
        .into_iter()
        .find(|i| {
            i.key.ticket == again.id
                && matches!(&i.effect, Effect::Notify(n) if n.recipient == Recipient::User(f.ann.id))
        })
        .unwrap();
    let sent = raw(&compose(&f.hd, &item, None).unwrap()[0]);
    let mid = sent.lines().find_map(|l| l.strip_prefix("Message-ID: ")).unwrap().to_string();
    let (kept, _) = f.hd.merge_tickets(f.ticket.id, again.id, &Actor::Agent(f.alice.id)).unwrap();
    let by_token = format!(
        "From: ann@acme.com\r\nTo: support@helpdesk.test\r\nSubject: Re: anything\r\nIn-Reply-To: {mid}\r\nMessage-ID: <r1@acme.com>\r\n\r\nIt is out now.\r\n"
    );
    match f.gateway.ingest(by_token.as_bytes()).unwrap() {
        IngestOutcome::Reply { ticket, .. } => assert_eq!(ticket, kept.id),
        other => panic!("expected a reply on {}, got {other:?}", kept.id),
    }
    let by_subject = format!(
        "From: ann@acme.com\r\nTo: support@helpdesk.test\r\nSubject: Re: Printer still on fire [{}]\r\nMessage-ID: <r2@acme.com>\r\n\r\nAnd smoke again.\r\n",
        again.id
    );
    match f.gateway.ingest(by_subject.as_bytes()).unwrap() {
        IngestOutcome::Reply { ticket, .. } => assert_eq!(ticket, kept.id),
        other => panic!("expected a reply on {}, got {other:?}", kept.id),
    }
    let now = f.hd.ticket(kept.id).unwrap();
    let bodies: Vec<&str> = now.messages.iter().map(|m| m.body.as_str()).collect();
    assert!(bodies.ends_with(&["It is out now.", "And smoke again."]), "{bodies:?}");
    assert_eq!(f.hd.ticket(again.id).unwrap().messages.len(), 2, "nothing more on the merged ticket");
}
