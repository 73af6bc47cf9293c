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
use helpdesk_core::templates::{self, Language, MailKind, MailTemplate, RenderedMail, TemplateKey};
use helpdesk_core::*;
use helpdesk_store::Helpdesk;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message as MailMessage;
use serde_json::json;

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

/// Who a mail goes to, as its template sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressee {
    /// Their name (or address, when only that is known).
    pub name: String,
    /// Their address.
    pub email: String,
    /// The language of their mail (`None`: the helpdesk's).
    pub language: Option<Language>,
}

fn person(name: &str, email: &str) -> serde_json::Value {
    json!({ "name": name, "first_name": templates::first_name(name), "email": email })
}

/// The `helpdesk` and `recipient` values every template has. The
/// helpdesk's URL is the one in its settings, else `public_url` (the
/// server's `--public-url`).
pub fn base_context(hd: &Helpdesk, to: &Addressee, public_url: Option<&str>) -> serde_json::Value {
    let settings = hd.settings().unwrap_or_default();
    let url = settings.public_url.or_else(|| public_url.map(|u| u.trim_end_matches('/').to_string()));
    json!({
        "helpdesk": { "name": settings.name, "url": url },
        "recipient": person(&to.name, &to.email),
    })
}

/// The message a notification for `reason` tells `audience` about.
fn message_for<'a>(ticket: &'a Ticket, reason: &str, audience: Audience) -> Option<&'a Message> {
    let last_by =
        |agent: bool| ticket.messages.iter().rev().find(|m| matches!(m.author, Author::Agent(_)) == agent);
    match (audience, reason) {
        (Audience::User, "new_ticket") => ticket.messages.first(),
        (_, "agent_reply") => last_by(true),
        (Audience::Agent, "user_reply") => last_by(false),
        _ => ticket.messages.last(),
    }
}

/// The files a notification mail carries: those of the message it sends
/// (an agent's reply to the user; a user's message or a colleague's reply
/// to agents), never the original mail a message came as, and as many as
/// fit in the message limit of Admin > Settings (the rest are named in the
/// text only). An acknowledgement does not send the user's files back.
fn files_to_send(
    hd: &Helpdesk,
    ticket: &Ticket,
    reason: &str,
    audience: Audience,
) -> Result<Vec<(Attachment, Vec<u8>)>, DeliveryError> {
    let sends_message = match audience {
        Audience::User => reason == "agent_reply",
        Audience::Agent => matches!(reason, "new_ticket" | "user_reply" | "agent_reply"),
    };
    let Some(m) = message_for(ticket, reason, audience).filter(|_| sends_message) else {
        return Ok(Vec::new());
    };
    let mut room = hd.file_limits().map_err(DeliveryError::from_store)?.max_message_bytes;
    let mut out = Vec::new();
    for a in m.attachments.iter().filter(|a| !a.is_original_mail()) {
        if a.size > room {
            continue;
        }
        let bytes = hd.blob(&a.blob).map_err(DeliveryError::from_store)?.ok_or_else(|| {
            DeliveryError::Permanent(format!(
                "the content of {} on ticket {} is missing",
                a.filename, ticket.id
            ))
        })?;
        room -= a.size;
        out.push((a.clone(), bytes));
    }
    Ok(out)
}

/// The mail's body: the text alone, or the text and the files (`multipart/mixed`).
fn mail_body(
    b: lettre::message::MessageBuilder,
    text: String,
    files: &[(Attachment, Vec<u8>)],
) -> Result<MailMessage, DeliveryError> {
    let built = if files.is_empty() {
        b.header(ContentType::TEXT_PLAIN).body(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(text));
        for (a, bytes) in files {
            let ct = ContentType::parse(&a.content_type)
                .unwrap_or(ContentType::parse("application/octet-stream").expect("a content type"));
            parts = parts
                .singlepart(lettre::message::Attachment::new(a.filename.clone()).body(bytes.clone(), ct));
        }
        b.multipart(parts)
    };
    built.map_err(|e| DeliveryError::Permanent(format!("cannot build mail: {e}")))
}

/// The values a ticket mail's template is rendered with (see
/// [`templates::Vocabulary`]): mail to users gets messages only, never a
/// note, the urgency, the labels, the team or the assigned agent; their
/// status is the one users are shown (spam and deleted read resolved) and
/// their `event` only the kind of mail (new_ticket, agent_reply, updated).
pub fn ticket_context(
    hd: &Helpdesk,
    ticket: &Ticket,
    reason: &str,
    audience: Audience,
    to: &Addressee,
    public_url: Option<&str>,
) -> serde_json::Value {
    let message = message_for(ticket, reason, audience).map(|m| {
        let files: Vec<&str> =
            m.attachments.iter().filter(|a| !a.is_original_mail()).map(|a| a.filename.as_str()).collect();
        json!({ "author": author_name(hd, m.author), "body": m.body, "attachments": files })
    });
    let owner = hd.user(ticket.user).ok();
    let mut ctx = base_context(hd, to, public_url);
    let url = ctx["helpdesk"]["url"].as_str().map(|base| match audience {
        Audience::User => format!("{base}/portal/tickets/{}", ticket.id.0),
        Audience::Agent => format!("{base}/agent/tickets/{}", ticket.id.0),
    });
    let mut t = json!({
        "id": ticket.id.0,
        "reference": format!("[#{}]", ticket.id.0),
        "subject": ticket.subject,
        "status": match (audience, ticket.status) {
            (Audience::User, Status::Spam | Status::Deleted) => Status::Resolved.to_string(),
            (_, s) => s.to_string(),
        },
        "department": hd.department(ticket.department).map(|d| d.name).unwrap_or_default(),
        "url": url,
    });
    let obj = ctx.as_object_mut().expect("an object");
    if audience == Audience::Agent {
        let t = t.as_object_mut().expect("an object");
        t.insert("agent".into(), json!(ticket.agent.map(|a| author_name(hd, Author::Agent(a)))));
        t.insert("team".into(), json!(ticket.team.and_then(|t| hd.team(t).ok()).map(|t| t.name)));
        t.insert("urgency".into(), json!(ticket.urgency.get()));
        t.insert("labels".into(), json!(ticket.labels));
        let note = ticket.notes.last().filter(|_| reason == "note").map(|n| {
            let who =
                n.agent.map(|a| author_name(hd, Author::Agent(a))).unwrap_or_else(|| "The system".into());
            json!({ "author": who, "body": n.body })
        });
        obj.insert("note".into(), json!(note));
    }
    obj.insert("ticket".into(), t);
    obj.insert(
        "user".into(),
        match &owner {
            Some(u) => person(&u.name, u.primary_email().as_str()),
            None => person(&ticket.user.to_string(), ""),
        },
    );
    obj.insert("message".into(), json!(message));
    let event = match (audience, reason) {
        (Audience::Agent, r) => r,
        (Audience::User, r @ ("new_ticket" | "agent_reply")) => r,
        (Audience::User, _) => "updated",
    };
    obj.insert("event".into(), json!(event));
    ctx
}

/// The admins' text for `key` in `to`'s language (see
/// [`Helpdesk::template_for`]) rendered with `context`; `None` when there is
/// none (a custom template without text) or it fails on these values (the
/// failure is logged: an admin's text that breaks on real data must not
/// stop the mail).
fn try_render(
    hd: &Helpdesk,
    key: &TemplateKey,
    to: &Addressee,
    context: &serde_json::Value,
) -> Option<RenderedMail> {
    match hd.template_for(key, to.language.as_ref()) {
        Ok(Some(r)) => templates::render(&r.template, context)
            .inspect_err(|e| {
                tracing::warn!(template = %key, language = %r.language, error = %e, "mail template failed on this mail; another text is used");
            })
            .ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(template = %key, error = %e, "mail templates could not be read; the built-in text is used");
            None
        }
    }
}

/// Renders the mail `kind` for `to` with `context`: the admins' text in the
/// recipient's language (else the helpdesk's, else English's, which is the
/// built-in text unless an admin wrote one). A text that fails on this
/// mail's values is logged and the built-in text is used, so the mail still
/// goes.
pub fn render_mail(
    hd: &Helpdesk,
    kind: MailKind,
    to: &Addressee,
    context: &serde_json::Value,
) -> RenderedMail {
    let key = TemplateKey::Builtin(kind);
    try_render(hd, &key, to, context).unwrap_or_else(|| {
        let builtin = templates::default_template(kind);
        templates::render(&builtin, context).unwrap_or_else(|e| RenderedMail {
            subject: builtin.subject.clone(),
            body: format!("(this mail could not be written: {e})"),
        })
    })
}

/// Finishes a ticket mail: the `[#id]` reference in the subject (added when
/// the template left it out: replies thread by it) and the reply line above
/// the body.
fn ticket_mail(ticket: &Ticket, r: RenderedMail) -> Rendered {
    // The marker goes first, so that everything quoted below a reply is cut
    // (agents' replies by email are shown to the user).
    Rendered {
        subject: subject_with_reference(&r.subject, ticket.id),
        body: format!("{REPLY_ABOVE}\n\n{}", r.body),
    }
}

/// Renders notification `n` about `ticket` (its state at the commit that
/// queued the notification) for `audience`, addressed to `to`: from the
/// custom template its rule named (with the users' values, as it may reach
/// users), else the built-in kind for its reason.
pub fn render(
    hd: &Helpdesk,
    ticket: &Ticket,
    n: &Notification,
    audience: Audience,
    to: &Addressee,
    public_url: Option<&str>,
) -> Rendered {
    if let Some(key) = n.template.as_deref().and_then(|t| TemplateKey::custom(t.trim()).ok()) {
        let context = ticket_context(hd, ticket, &n.reason, Audience::User, to, public_url);
        if let Some(r) = try_render(hd, &key, to, &context) {
            return ticket_mail(ticket, r);
        }
    }
    let kind = MailKind::for_notification(&n.reason, audience == Audience::Agent);
    let context = ticket_context(hd, ticket, &n.reason, audience, to, public_url);
    ticket_mail(ticket, render_mail(hd, kind, to, &context))
}

/// Renders an unsaved template `text` for `key` as a real mail would be:
/// on `ticket` for ticket mails (to its owner, or to `agent` for agents'
/// mails), else with `agent` as the recipient and example links. Errors are
/// the template's own (syntax, unknown placeholder, a value it cannot use).
pub fn preview(
    hd: &Helpdesk,
    key: &TemplateKey,
    text: &MailTemplate,
    ticket: Option<TicketId>,
    agent: &Agent,
    public_url: Option<&str>,
) -> Result<RenderedMail, helpdesk_store::Error> {
    let as_agent = Addressee { name: agent.name.clone(), email: agent.email.to_string(), language: None };
    if !key.about_ticket() {
        let mut ctx = base_context(hd, &as_agent, public_url);
        let base = ctx["helpdesk"]["url"].as_str().unwrap_or("https://helpdesk.example").to_string();
        let obj = ctx.as_object_mut().expect("an object");
        match key {
            TemplateKey::Builtin(MailKind::AgentInvitation) => {
                obj.insert("invited_by".into(), json!(agent.name));
                obj.insert("link".into(), json!(format!("{base}/agent/set-password?token=EXAMPLE")));
                obj.insert("days".into(), json!(helpdesk_store::admin::INVITE_DAYS));
            }
            TemplateKey::Builtin(MailKind::UserEmailValidation) => {
                obj.insert("link".into(), json!(format!("{base}/portal/validate?token=EXAMPLE")));
            }
            _ => {
                obj.insert("login_link".into(), json!(format!("{base}/portal/login")));
            }
        }
        templates::check(key, text)?;
        return Ok(templates::render(text, &ctx)?);
    }
    templates::check(key, text)?;
    let id = ticket.ok_or_else(|| {
        helpdesk_store::Error::Admin(helpdesk_core::AdminError::Refused(
            "choose a ticket to preview on".into(),
        ))
    })?;
    let t = hd.ticket(id)?;
    let (audience, to, reason) = match key {
        TemplateKey::Builtin(k) if k.vocabulary() == templates::Vocabulary::TicketAgent => {
            let reason = k.as_str().strip_prefix("agent.").unwrap_or("updated");
            let reason = if reason == "rule" { "trigger \"Example\"" } else { reason };
            (Audience::Agent, as_agent, reason.to_string())
        }
        _ => {
            let owner = hd.user(t.user)?;
            let reason = match key {
                TemplateKey::Builtin(MailKind::UserNewTicket) => "new_ticket",
                TemplateKey::Builtin(MailKind::UserAgentReply) => "agent_reply",
                TemplateKey::Builtin(_) => "updated",
                TemplateKey::Custom(_) => "trigger \"Example\"",
            };
            let to = Addressee {
                name: owner.name.clone(),
                email: owner.primary_email().to_string(),
                language: owner.language.clone(),
            };
            (Audience::User, to, reason.to_string())
        }
    };
    let ctx = ticket_context(hd, &t, &reason, audience, &to, public_url);
    let r = templates::render(text, &ctx)?;
    let done = ticket_mail(&t, r);
    Ok(RenderedMail { subject: done.subject, body: done.body })
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
///
/// `public_url` is the helpdesk's URL when its settings have none (the
/// server's `--public-url`), for the links in mail.
pub fn compose(
    hd: &Helpdesk,
    item: &OutboxItem,
    public_url: Option<&str>,
) -> Result<Vec<OutgoingMail>, DeliveryError> {
    let Effect::Notify(n) = &item.effect else {
        return Err(DeliveryError::Permanent("not a notification".into()));
    };
    let ticket = ticket_at(hd, item.key.ticket, item.key.version)?;
    let account = account_for(hd, ticket.department)?;
    let settings = hd.mail_settings().map_err(DeliveryError::from_store)?;
    let tokens = settings.tokens();
    let domain = settings.message_id_domain.clone().unwrap_or_else(|| account.address.domain().to_string());
    let missing = |e: helpdesk_store::Error| DeliveryError::Permanent(e.to_string());
    let people: Vec<(Email, String, TokenHolder, Audience, Option<Language>)> = match &n.recipient {
        Recipient::User(u) => {
            let u = hd.user(*u).map_err(missing)?;
            vec![(u.primary_email().clone(), u.name, TokenHolder::User(u.id), Audience::User, u.language)]
        }
        Recipient::Agent(a) => {
            let a = hd.agent(*a).map_err(missing)?;
            if a.disabled || !a.permissions.can_see(ticket.department) {
                return Ok(Vec::new());
            }
            vec![(a.email.clone(), a.name, TokenHolder::Agent(a.id), Audience::Agent, a.language)]
        }
        Recipient::Team(t) => hd
            .agents()
            .map_err(DeliveryError::from_store)?
            .into_iter()
            .filter(|a| a.teams.contains(t) && !a.disabled && a.permissions.can_see(ticket.department))
            .map(|a| (a.email.clone(), a.name, TokenHolder::Agent(a.id), Audience::Agent, a.language))
            .collect(),
        Recipient::Address(e) => vec![(e.clone(), e.to_string(), TokenHolder::Other, Audience::User, None)],
    };
    let from = Mailbox::new(Some(account.name.clone()), parse_addr(&account.address)?);
    let root = format!("<ticket-{}@{domain}>", ticket.id.0);
    let auto = is_auto_response(n);
    let mut out = Vec::new();
    for (i, (email, name, holder, audience, language)) in people.into_iter().enumerate() {
        let to = Addressee { name: name.clone(), email: email.to_string(), language };
        let r = render(hd, &ticket, n, audience, &to, public_url);
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
            .header(lettre::message::header::MIME_VERSION_1_0);
        if auto {
            b = b
                .header(AutoSubmitted("auto-replied".into()))
                .header(XAutoResponseSuppress("OOF, AutoReply".into()));
        } else if !(audience == Audience::User && n.reason == "agent_reply") {
            // Everything but an agent's own words to the user is machine-made.
            b = b.header(AutoSubmitted("auto-generated".into()));
        }
        let message = mail_body(b, r.body, &files_to_send(hd, &ticket, &n.reason, audience)?)?;
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
