//! [`MailGateway`]: incoming mail into tickets and replies.
//!
//! `ingest(raw)` runs: parse ([`ParsedMail`]) -> loop check
//! ([`loop_reason`]) -> account (by envelope or header recipients) -> sender
//! (agent, known user, or unknown) -> threading ([`thread`]: signed reply
//! token, then subject reference, only from a participant) -> the change
//! through the [`Helpdesk`] (so notifications are queued in the same commit).

use crate::error::MailError;
use crate::inbound::{Mailbox, ParsedMail};
use helpdesk_core::command::MAX_BODY_CHARS;
use helpdesk_core::mail::*;
use helpdesk_core::*;
use helpdesk_store::{Error as HdError, Helpdesk};
use serde::Serialize;
use std::collections::BTreeSet;

/// Most CCs taken from one mail.
pub const MAX_CCS: usize = 20;
/// Most attachments taken from one mail (the rest stay in the original).
pub const MAX_ATTACHMENTS: usize = 100;
/// The body used when a mail has no text.
pub const NO_TEXT: &str = "(no message text)";

/// What became of an incoming mail.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum IngestOutcome {
    /// A new ticket was opened for the sender.
    NewTicket {
        /// The ticket.
        ticket: TicketId,
        /// Its owner (the sender).
        user: UserId,
        /// Whether the sender was created as a user just now.
        new_user: bool,
        /// CC'd users.
        ccs: Vec<UserId>,
        /// The account it came in on.
        account: EmailAccountId,
        /// Why it is not a reply, when it looked like one (a stranger quoting
        /// someone else's ticket, a forged token).
        why_not_reply: Option<String>,
    },
    /// A message on an existing ticket (or on the follow-up ticket opened
    /// for a reply to a resolved one, when the policy says so).
    Reply {
        /// The ticket the message went to.
        ticket: TicketId,
        /// Who wrote it.
        actor: Actor,
        /// How the ticket was found.
        by: ThreadedBy,
        /// Whether quoted history was cut (the original is attached).
        quote_trimmed: bool,
        /// CCs added from the mail.
        ccs_added: Vec<UserId>,
    },
    /// An auto-reply, bounce or loop: no ticket, no reply, no auto-response.
    Ignored {
        /// Why.
        reason: LoopReason,
    },
    /// The same mail (its Message-ID, sender and text) was taken in before;
    /// nothing changed. Which ticket it went to is not said: the answer
    /// must not tell a sender about tickets.
    Duplicate,
}

/// What the gateway says about a mail that becomes a new ticket.
struct NewTicketNotes {
    /// Why it is not a reply, when it looked like one.
    why_not_reply: Option<String>,
    /// Why its sender gets no auto-response.
    no_auto_response: Option<String>,
}

/// The email gateway over a [`Helpdesk`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MailGateway {
    hd: Helpdesk,
}

impl MailGateway {
    /// A gateway for `hd`.
    pub fn new(hd: Helpdesk) -> Self {
        MailGateway { hd }
    }

    /// The helpdesk.
    pub fn helpdesk(&self) -> &Helpdesk {
        &self.hd
    }

    /// Takes one raw RFC 5322 mail handed over by HTTP ingest (or a pipe of
    /// the embedder's: it counts as [`InboundWay::Http`]); the account is
    /// found from the `Delivered-To`, `X-Original-To`, `To` and `Cc` headers.
    pub fn ingest(&self, raw: &[u8]) -> Result<IngestOutcome, MailError> {
        self.ingest_via(raw, &[], InboundWay::Http)
    }

    /// Takes one mail with its envelope recipients (what an SMTP listener
    /// knows); they are tried first when looking for the account. It came
    /// by the SMTP listener ([`InboundWay::Smtp`]).
    pub fn ingest_to(&self, raw: &[u8], envelope_rcpts: &[String]) -> Result<IngestOutcome, MailError> {
        self.ingest_via(raw, envelope_rcpts, InboundWay::Smtp)
    }

    /// Takes one mail that came `way`: refused when its account does not
    /// take mail that way.
    pub fn ingest_via(
        &self,
        raw: &[u8],
        envelope_rcpts: &[String],
        way: InboundWay,
    ) -> Result<IngestOutcome, MailError> {
        let mail = ParsedMail::parse(raw)?;
        let accounts = self.hd.email_accounts()?;
        let own: Vec<Email> = accounts.iter().map(|a| a.address.clone()).collect();
        let from_addr = mail.from.as_ref().map(|m| m.address.as_str());
        if let Some(reason) = loop_reason(&mail.headers, from_addr, &mail.content_type, &own) {
            return Ok(IngestOutcome::Ignored { reason });
        }
        let account = find_account(&accounts, &mail, envelope_rcpts, way)?;
        self.ingest_parsed(raw, &mail, &account)
    }

    /// Takes one mail for a known account (e.g. from the mailbox IMAP polls).
    pub fn ingest_for(&self, raw: &[u8], account: EmailAccountId) -> Result<IngestOutcome, MailError> {
        let mail = ParsedMail::parse(raw)?;
        let accounts = self.hd.email_accounts()?;
        let own: Vec<Email> = accounts.iter().map(|a| a.address.clone()).collect();
        let from_addr = mail.from.as_ref().map(|m| m.address.as_str());
        if let Some(reason) = loop_reason(&mail.headers, from_addr, &mail.content_type, &own) {
            return Ok(IngestOutcome::Ignored { reason });
        }
        let account = self.hd.email_account(account)?;
        self.ingest_parsed(raw, &mail, &account)
    }

    fn ingest_parsed(
        &self,
        raw: &[u8],
        mail: &ParsedMail,
        account: &EmailAccount,
    ) -> Result<IngestOutcome, MailError> {
        let from =
            mail.from.as_ref().ok_or_else(|| MailError::Malformed("no sender (From) address".into()))?;
        // Automatic replies known only by their subject: ignored, or taken
        // in without an auto-response, as the admin chose.
        let mut no_auto = no_auto_response(&mail.headers);
        if let Some(marker) = auto_reply_subject(&mail.subject) {
            match self.hd.mail_settings()?.auto_replies {
                AutoReplyPolicy::Ignore => {
                    return Ok(IngestOutcome::Ignored { reason: LoopReason::AutoReplySubject(marker.into()) })
                }
                AutoReplyPolicy::TakeIn => {
                    no_auto = Some(format!("an automatic reply (subject starts {marker:?})"))
                }
            }
        }
        let fingerprint =
            mail.message_id.as_deref().map(|id| MailFingerprint::new(id, &from.address, &mail.text));
        if let Some(f) = &fingerprint {
            if self.hd.seen_mail(f)?.is_some() {
                return Ok(IngestOutcome::Duplicate);
            }
        }
        let outcome = self.take(raw, mail, account, from, no_auto)?;
        if let (Some(f), IngestOutcome::NewTicket { ticket, .. } | IngestOutcome::Reply { ticket, .. }) =
            (&fingerprint, &outcome)
        {
            self.hd.mark_mail_seen(f, *ticket)?;
        }
        Ok(outcome)
    }

    fn take(
        &self,
        raw: &[u8],
        mail: &ParsedMail,
        account: &EmailAccount,
        from: &Mailbox,
        no_auto_response: Option<String>,
    ) -> Result<IngestOutcome, MailError> {
        let sender_email = Email::parse(&from.address).map_err(|_| {
            MailError::Malformed(format!("the sender address {:?} is not valid", from.address))
        })?;
        let sender = match self.hd.agent_by_email(sender_email.as_str())? {
            Some(a) => Sender::Agent(a.id),
            None => match self.hd.user_by_email(sender_email.as_str())? {
                Some(u) if u.blocked => {
                    return Ok(IngestOutcome::Ignored {
                        reason: LoopReason::BlockedSender(sender_email.to_string()),
                    })
                }
                Some(u) => Sender::User(u.id),
                None => Sender::Unknown,
            },
        };
        let tokens = self.hd.mail_settings()?.tokens();
        let token = tokens.find(&mail.references);
        let token_ticket = match &token {
            TokenCheck::Valid(t) => self.existing_ticket(t.ticket)?,
            _ => None,
        };
        let subject_ticket = match subject_reference(&mail.subject) {
            Some(id) => self.existing_ticket(id)?,
            None => None,
        };
        match thread(&sender, &token, token_ticket.as_ref(), subject_ticket.as_ref()) {
            ThreadDecision::Refuse { reason } => Err(MailError::Refused(reason)),
            ThreadDecision::Reply { ticket, actor, by } => self.reply(raw, mail, account, ticket, actor, by),
            ThreadDecision::NewTicket { why } => {
                let notes = NewTicketNotes { why_not_reply: why, no_auto_response };
                self.new_ticket(raw, mail, account, from, &sender_email, notes)
            }
        }
    }

    /// The ticket a mail naming `id` goes to: a merged ticket's survivor.
    fn existing_ticket(&self, id: TicketId) -> Result<Option<Ticket>, MailError> {
        match self.hd.current_ticket(id) {
            Ok(t) => Ok(Some(t)),
            Err(HdError::Ticket(TicketError::NotFound(_))) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The mail's attachments, and the original mail itself, kept as blobs.
    fn attachments(&self, raw: &[u8], mail: &ParsedMail) -> Result<Vec<Attachment>, MailError> {
        let mut out = Vec::new();
        for a in mail.attachments.iter().take(MAX_ATTACHMENTS) {
            // The type is read from the content (a declared type may lie),
            // but a forwarded mail stays a mail.
            let content_type = match a.content_type.as_str() {
                "message/rfc822" => a.content_type.clone(),
                _ => helpdesk_core::files::sniff(&a.bytes),
            };
            out.push(Attachment {
                filename: a.filename.clone(),
                content_type,
                size: a.bytes.len() as u64,
                blob: self.hd.put_blob(&a.bytes)?,
            });
        }
        out.push(Attachment {
            filename: "original.eml".into(),
            content_type: "message/rfc822".into(),
            size: raw.len() as u64,
            blob: self.hd.put_blob(raw)?,
        });
        Ok(out)
    }

    fn body(text: &str, trim: bool) -> (String, bool) {
        let (text, trimmed) = if trim {
            let t = trim_quoted(text);
            (t.text, t.trimmed)
        } else {
            (text.trim().to_string(), false)
        };
        let text = if text.trim().is_empty() { NO_TEXT.to_string() } else { text };
        if text.chars().count() > MAX_BODY_CHARS {
            let note = "\n\n[truncated: the full text is in the attached original mail]";
            let cut: String = text.chars().take(MAX_BODY_CHARS - note.len()).collect();
            return (format!("{cut}{note}"), trimmed);
        }
        (text, trimmed)
    }

    /// The user with `address`, created (organisation by domain) when new.
    fn user_for(&self, mailbox: &Mailbox, address: &Email) -> Result<(User, bool), MailError> {
        if let Some(u) = self.hd.user_by_email(address.as_str())? {
            return Ok((u, false));
        }
        let local = address.as_str().split('@').next().unwrap_or("user").to_string();
        let name = mailbox.name.clone().filter(|n| n.chars().count() <= 200).unwrap_or(local);
        match self.hd.create_user(NewUser::new(name, address.as_str())) {
            Ok(u) => Ok((u, true)),
            // Created meanwhile by another mail.
            Err(HdError::Directory(DirectoryError::EmailTaken { .. })) => {
                let u = self.hd.user_by_email(address.as_str())?;
                u.map(|u| (u, false))
                    .ok_or_else(|| MailError::Refused(format!("{address} belongs to an agent")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Users for the `To`/`Cc` addresses that are not the helpdesk's own, an
    /// agent's or `except`; at most [`MAX_CCS`].
    fn cc_users(&self, mail: &ParsedMail, except: &Email) -> Result<Vec<UserId>, MailError> {
        let own: BTreeSet<Email> = self.hd.email_accounts()?.into_iter().map(|a| a.address).collect();
        let mut out = Vec::new();
        for m in mail.to.iter().chain(mail.cc.iter()) {
            if out.len() >= MAX_CCS {
                break;
            }
            let Ok(e) = Email::parse(&m.address) else { continue };
            if e == *except || own.contains(&e) || self.hd.agent_by_email(e.as_str())?.is_some() {
                continue;
            }
            if loop_reason(&[], Some(e.as_str()), "text/plain", &[]).is_some() {
                continue; // never CC a mailer daemon or a no-reply address
            }
            let (u, _) = self.user_for(m, &e)?;
            if u.blocked {
                continue; // a blocked user is not copied in
            }
            if !out.contains(&u.id) {
                out.push(u.id);
            }
        }
        Ok(out)
    }

    fn new_ticket(
        &self,
        raw: &[u8],
        mail: &ParsedMail,
        account: &EmailAccount,
        from: &Mailbox,
        sender: &Email,
        notes: NewTicketNotes,
    ) -> Result<IngestOutcome, MailError> {
        let (user, new_user) = self.user_for(from, sender)?;
        let ccs = self.cc_users(mail, sender)?;
        let subject = match clean_subject(&mail.subject) {
            s if s.is_empty() => "(no subject)".to_string(),
            s => s.chars().take(command::MAX_SUBJECT_CHARS).collect(),
        };
        let (body, _) = Self::body(&mail.text, false);
        let mut new = NewTicket::new(subject, body, account.department, user.id, Channel::Email);
        new.ccs = ccs.iter().copied().collect();
        new.attachments = self.attachments(raw, mail)?;
        new.no_auto_response = notes.no_auto_response;
        let actor = Actor::System(SystemActor::EmailAccount(account.address.to_string()));
        let t = self.hd.create_ticket(&actor, new)?;
        Ok(IngestOutcome::NewTicket {
            ticket: t.id,
            user: user.id,
            new_user,
            ccs: t.ccs.iter().copied().collect(),
            account: account.id,
            why_not_reply: notes.why_not_reply,
        })
    }

    fn reply(
        &self,
        raw: &[u8],
        mail: &ParsedMail,
        account: &EmailAccount,
        ticket: TicketId,
        actor: Actor,
        by: ThreadedBy,
    ) -> Result<IngestOutcome, MailError> {
        let (body, quote_trimmed) = Self::body(&mail.text, !is_forward(&mail.subject));
        let attachments = self.attachments(raw, mail)?;
        let (landed, ccs_added) = match &actor {
            Actor::User(u) => {
                let cmd = Command::UserReply { body, attachments, channel: Channel::Email };
                let t = self.hd.user_command(ticket, *u, cmd)?;
                // The owner may copy people in by mail.
                let mut added = Vec::new();
                if t.user == *u {
                    let sender = self.hd.user(*u)?;
                    let system = Actor::System(SystemActor::EmailAccount(account.address.to_string()));
                    for cc in self.cc_users(mail, sender.primary_email())? {
                        if cc != t.user && !t.ccs.contains(&cc) {
                            self.hd.execute(t.id, &system, Command::AddCc { user: cc })?;
                            added.push(cc);
                        }
                    }
                }
                (t.id, added)
            }
            Actor::Agent(a) => {
                let cmd = Command::AgentReply { body, attachments, status: None };
                (self.hd.execute(ticket, &Actor::Agent(*a), cmd)?.id, Vec::new())
            }
            Actor::System(_) => return Err(MailError::Refused("the system does not write messages".into())),
        };
        Ok(IngestOutcome::Reply { ticket: landed, actor, by, quote_trimmed, ccs_added })
    }
}

/// The account a mail is for: the first envelope recipient, `Delivered-To`
/// / `X-Original-To`, `To` or `Cc` address that is an account's taking mail
/// `way`. A mail only for accounts closed to `way` is refused.
fn find_account(
    accounts: &[EmailAccount],
    mail: &ParsedMail,
    envelope: &[String],
    way: InboundWay,
) -> Result<EmailAccount, MailError> {
    let candidates: Vec<&str> = envelope
        .iter()
        .map(String::as_str)
        .chain(mail.delivered_to.iter().map(String::as_str))
        .chain(mail.to.iter().map(|m| m.address.as_str()))
        .chain(mail.cc.iter().map(|m| m.address.as_str()))
        .collect();
    let mut closed: Option<&EmailAccount> = None;
    for c in &candidates {
        let Ok(e) = Email::parse(c) else { continue };
        if let Some(a) = accounts.iter().find(|a| a.address == e) {
            if a.inbound.allows(way) {
                return Ok(a.clone());
            }
            closed.get_or_insert(a);
        }
    }
    if let Some(a) = closed {
        return Err(MailError::Refused(format!(
            "{} does not take mail by {} (Admin > Email accounts)",
            a.address,
            way.label()
        )));
    }
    let shown: Vec<&str> = candidates.iter().take(5).copied().collect();
    Err(MailError::NoAccount(if shown.is_empty() { "no recipients".into() } else { shown.join(", ") }))
}
