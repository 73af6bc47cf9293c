//! Outgoing mail: what a notification says ([`render`]) and the message that
//! carries it ([`compose`]): `From` the department's email account, a
//! `Message-ID` with a signed reply token, `In-Reply-To` / `References` that
//! keep one thread per ticket, `Auto-Submitted` on automatic mail.
//!
//! User-facing mail is rendered from the ticket's messages only: notes,
//! agent-only fields, labels, urgency and the log never reach it.

use crate::notifier::DeliveryError;
use helpdesk_core::mail::{subject_with_reference, ReplyTokens, TokenHolder, REPLY_ABOVE};
use helpdesk_core::notify::is_auto_response;
use helpdesk_core::*;
use helpdesk_store::Helpdesk;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::Message as MailMessage;

macro_rules! text_header {
    ($(#[$doc:meta])* $t:ident, $name:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $t(pub String);
        impl Header for $t {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }
            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok($t(s.to_string()))
            }
            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

text_header!(
    /// `Auto-Submitted` (RFC 3834).
    AutoSubmitted,
    "Auto-Submitted"
);
text_header!(
    /// `X-Loop`: the account address, so our own mail coming back is recognised.
    XLoop,
    "X-Loop"
);
text_header!(
    /// `X-Auto-Response-Suppress`: asks Exchange not to answer automatic mail.
    XAutoResponseSuppress,
    "X-Auto-Response-Suppress"
);

/// Who a mail is written for: decides what it may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// A user, a CC or an outside address: messages only.
    User,
    /// An agent: may include notes and the ticket's working state.
    Agent,
}

/// A rendered notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject (with the `[#id]` reference).
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

fn author_name(hd: &Helpdesk, author: Author) -> String {
    match author {
        Author::User(u) => hd.user(u).map(|u| u.name).unwrap_or_else(|_| u.to_string()),
        Author::Agent(a) => hd.agent(a).map(|a| a.name).unwrap_or_else(|_| a.to_string()),
    }
}

/// Renders notification `n` about `ticket` (its state at the commit that
/// queued the notification) for `audience`.
pub fn render(hd: &Helpdesk, ticket: &Ticket, n: &Notification, audience: Audience) -> Rendered {
    let subject = subject_with_reference(&ticket.subject, ticket.id);
    let last_by =
        |agent: bool| ticket.messages.iter().rev().find(|m| matches!(m.author, Author::Agent(_)) == agent);
    let message_block = |m: &Message| {
        let mut s = format!("{} wrote:\n\n{}\n", author_name(hd, m.author), m.body);
        let files: Vec<&str> = m
            .attachments
            .iter()
            .filter(|a| a.filename != "original.eml")
            .map(|a| a.filename.as_str())
            .collect();
        if !files.is_empty() {
            s.push_str(&format!("\nAttached: {}\n", files.join(", ")));
        }
        s
    };
    // The marker goes first, so that everything quoted below a reply is cut
    // (agents' replies by email are shown to the user).
    let mut body = format!("{REPLY_ABOVE}\n\n");
    match audience {
        Audience::User => match n.reason.as_str() {
            "new_ticket" => {
                body.push_str(&format!(
                    "We have received your request \"{}\" and will get back to you soon.\n\
                         Your reference is [#{}]. To add anything, reply to this mail.\n\n",
                    ticket.subject, ticket.id.0
                ));
                if let Some(m) = ticket.messages.first() {
                    body.push_str(&message_block(m));
                }
            }
            "agent_reply" => {
                if let Some(m) = last_by(true) {
                    body.push_str(&message_block(m));
                }
            }
            _ => {
                body.push_str(&format!(
                    "Your request [#{}] \"{}\" was updated.\n\n",
                    ticket.id.0, ticket.subject
                ));
                if let Some(m) = ticket.messages.last() {
                    body.push_str(&message_block(m));
                }
            }
        },
        Audience::Agent => {
            let what = match n.reason.as_str() {
                "new_ticket" => "New ticket",
                "user_reply" => "New reply from the user",
                "agent_reply" => "New reply from an agent",
                "note" => "New note",
                "assignment" => "Assignment changed",
                "status" => "Status changed",
                "updated" => "Ticket updated",
                other => other,
            };
            body.push_str(&format!("{what} on [#{}] \"{}\"\n\n", ticket.id.0, ticket.subject));
            let assigned = |a: Option<AgentId>| {
                a.map(|a| author_name(hd, Author::Agent(a))).unwrap_or_else(|| "nobody".into())
            };
            let team =
                ticket.team.and_then(|t| hd.team(t).ok()).map(|t| t.name).unwrap_or_else(|| "none".into());
            let dept = hd.department(ticket.department).map(|d| d.name).unwrap_or_default();
            body.push_str(&format!(
                "Status: {}\nDepartment: {dept}\nAgent: {}\nTeam: {team}\nUrgency: {}\n\n",
                ticket.status,
                assigned(ticket.agent),
                ticket.urgency
            ));
            let note = ticket.notes.last().filter(|_| n.reason == "note");
            match (note, n.reason.as_str()) {
                (Some(note), _) => {
                    let who = note
                        .agent
                        .map(|a| author_name(hd, Author::Agent(a)))
                        .unwrap_or_else(|| "The system".into());
                    body.push_str(&format!("{who} noted (agents only):\n\n{}\n", note.body));
                }
                (None, "user_reply") => {
                    if let Some(m) = last_by(false) {
                        body.push_str(&message_block(m));
                    }
                }
                (None, "agent_reply") => {
                    if let Some(m) = last_by(true) {
                        body.push_str(&message_block(m));
                    }
                }
                (None, _) => {
                    if let Some(m) = ticket.messages.last() {
                        body.push_str(&message_block(m));
                    }
                }
            }
            body.push_str(
                "\n(Reply to this mail to answer the user; only the text above the line is sent.)\n",
            );
        }
    }
    let subject = match (audience, n.reason.as_str()) {
        (Audience::User, "new_ticket") => format!("Received: {subject}"),
        (Audience::User, _) => format!("Re: {subject}"),
        (Audience::Agent, _) => format!("[{}] {subject}", n.reason),
    };
    Rendered { subject, body }
}

/// One message ready for the SMTP transport.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    /// The recipient's address.
    pub to: Email,
    /// The message.
    pub message: MailMessage,
    /// The user, when this is an auto-response (rate-limited per recipient).
    pub auto_response_to: Option<UserId>,
    /// The email account it is sent from (whose relay carries it).
    pub account: EmailAccountId,
}

/// The ticket as it was at `version` (the commit that queued a notification).
pub fn ticket_at(hd: &Helpdesk, id: TicketId, version: u64) -> Result<Ticket, DeliveryError> {
    let log = hd.log(id).map_err(|e| DeliveryError::Permanent(e.to_string()))?;
    let n = (version as usize).clamp(1, log.len());
    Ticket::from_events(&log[..n]).map_err(|e| DeliveryError::Permanent(e.to_string()))
}

/// The account a department's mail is sent from: the department's own, else
/// the first account.
pub fn account_for(hd: &Helpdesk, department: DepartmentId) -> Result<EmailAccount, DeliveryError> {
    let accounts = hd.email_accounts().map_err(DeliveryError::from_store)?;
    accounts
        .iter()
        .find(|a| a.department == department)
        .or(accounts.first())
        .cloned()
        .ok_or_else(|| DeliveryError::Permanent("no email account is configured to send from".into()))
}

/// Builds the mail(s) for an email notification: one per person (a team
/// gets one per member who may see the ticket).
pub fn compose(hd: &Helpdesk, item: &OutboxItem) -> Result<Vec<OutgoingMail>, DeliveryError> {
    let Effect::Notify(n) = &item.effect else {
        return Err(DeliveryError::Permanent("not a notification".into()));
    };
    let ticket = ticket_at(hd, item.key.ticket, item.key.version)?;
    let account = account_for(hd, ticket.department)?;
    let settings = hd.mail_settings().map_err(DeliveryError::from_store)?;
    let tokens = settings.tokens();
    let domain = settings.message_id_domain.clone().unwrap_or_else(|| account.address.domain().to_string());
    let missing = |e: helpdesk_store::Error| DeliveryError::Permanent(e.to_string());
    let people: Vec<(Email, String, TokenHolder, Audience)> = match &n.recipient {
        Recipient::User(u) => {
            let u = hd.user(*u).map_err(missing)?;
            vec![(u.primary_email().clone(), u.name, TokenHolder::User(u.id), Audience::User)]
        }
        Recipient::Agent(a) => {
            let a = hd.agent(*a).map_err(missing)?;
            if a.disabled || !a.permissions.can_see(ticket.department) {
                return Ok(Vec::new());
            }
            vec![(a.email.clone(), a.name, TokenHolder::Agent(a.id), Audience::Agent)]
        }
        Recipient::Team(t) => hd
            .agents()
            .map_err(DeliveryError::from_store)?
            .into_iter()
            .filter(|a| a.teams.contains(t) && !a.disabled && a.permissions.can_see(ticket.department))
            .map(|a| (a.email.clone(), a.name, TokenHolder::Agent(a.id), Audience::Agent))
            .collect(),
        Recipient::Address(e) => vec![(e.clone(), e.to_string(), TokenHolder::Other, Audience::User)],
    };
    let from = Mailbox::new(Some(account.name.clone()), parse_addr(&account.address)?);
    let root = format!("<ticket-{}@{domain}>", ticket.id.0);
    let auto = is_auto_response(n);
    let mut out = Vec::new();
    for (i, (email, name, holder, audience)) in people.into_iter().enumerate() {
        let r = render(hd, &ticket, n, audience);
        let token = tokens.sign(ticket.id, holder);
        let unique = format!("v{}.s{}.r{i}", item.key.version, item.key.seq);
        let mut b = MailMessage::builder()
            .from(from.clone())
            .reply_to(from.clone())
            .to(Mailbox::new(Some(name), parse_addr(&email)?))
            .subject(r.subject)
            .message_id(Some(ReplyTokens::message_id(&tokens, &token, &unique, &domain)))
            .date(std::time::SystemTime::from(hd.clock().now()))
            .in_reply_to(root.clone())
            .references(root.clone())
            .header(XLoop(account.address.to_string()))
            .header(lettre::message::header::MIME_VERSION_1_0)
            .header(ContentType::TEXT_PLAIN);
        if auto {
            b = b
                .header(AutoSubmitted("auto-replied".into()))
                .header(XAutoResponseSuppress("OOF, AutoReply".into()));
        } else if !(audience == Audience::User && n.reason == "agent_reply") {
            // Everything but an agent's own words to the user is machine-made.
            b = b.header(AutoSubmitted("auto-generated".into()));
        }
        let message =
            b.body(r.body).map_err(|e| DeliveryError::Permanent(format!("cannot build mail: {e}")))?;
        let auto_response_to = match (&n.recipient, auto) {
            (Recipient::User(u), true) => Some(*u),
            _ => None,
        };
        out.push(OutgoingMail { to: email, message, auto_response_to, account: account.id });
    }
    Ok(out)
}

fn parse_addr(e: &Email) -> Result<lettre::Address, DeliveryError> {
    e.as_str().parse().map_err(|err| DeliveryError::Permanent(format!("address {e} not usable: {err}")))
}
