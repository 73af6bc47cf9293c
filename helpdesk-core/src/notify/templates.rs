//! Mail templates: the subject and body of every mail the helpdesk sends,
//! per language, in a small template language (Jinja's, by minijinja):
//! `{{ ticket.subject }}`, `{% if message %}...{% endif %}`,
//! `{{ message.attachments|join(", ") }}`.
//!
//! Each mail has a [`TemplateKey`]: a built-in [`MailKind`] (the user's
//! acknowledgement, an agent's reply, each agent notification, the agent
//! invitation, the address confirmation, ...) or a custom template a trigger
//! names. Each kind has its [`Vocabulary`]: the placeholders it may use. A
//! template is checked before it is saved ([`check`]): its syntax (errors by
//! line), every placeholder against the vocabulary (an unknown one is an
//! error naming the ones there are), and a trial render on sample contexts
//! with and without the optional parts. The values a user's mail is
//! rendered with never hold notes, the urgency, the labels, the team or the
//! assignment (the mail layer builds them so), and those are not in the
//! users' vocabulary either: a template cannot put them in a user's mail,
//! and one that tries is refused on save.
//!
//! Rendering is strict (a missing value is an error, never an empty
//! string), bounded (fuel: a template cannot run long or grow large), and
//! plain text (no HTML escaping); `none` prints as nothing. Built-in
//! [`default_template`]s are English; the store keeps per-language
//! overrides.
//!
//! ```
//! use helpdesk_core::templates::*;
//!
//! let t = MailTemplate { subject: "Re: {{ ticket.subject }}".into(), body: "Hi {{ recipient.first_name }}".into() };
//! let key = TemplateKey::Builtin(MailKind::UserAgentReply);
//! check(&key, &t).unwrap();
//!
//! let bad = MailTemplate { subject: "{{ ticket.secret }}".into(), body: String::new() };
//! let e = check(&key, &bad).unwrap_err();
//! assert!(e.to_string().contains("unknown placeholder ticket.secret"), "{e}");
//!
//! let unclosed = MailTemplate { subject: "x".into(), body: "a\n{% if message %}b".into() };
//! assert!(check(&key, &unclosed).unwrap_err().to_string().starts_with("body, line 2"));
//!
//! let out = render(&t, &sample_context(key.vocabulary(), true)).unwrap();
//! assert_eq!(out.body, "Hi Ann");
//! ```

pub use crate::base::language::{BadLanguage, Language, KNOWN_LANGUAGES};
use minijinja::value::{Serde, Value};
use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// The longest subject template, in characters.
pub const MAX_SUBJECT: usize = 1_000;
/// The longest body template, in characters.
pub const MAX_BODY: usize = 50_000;
/// Work one render may do (minijinja fuel: about one unit an instruction).
pub const RENDER_FUEL: u64 = 200_000;

/// The mails the helpdesk itself writes, each with its template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// To the user: their new ticket was received (the auto-response).
    UserNewTicket,
    /// To the user and CCs: an agent's reply.
    UserAgentReply,
    /// To the user and CCs: any other change they hear of (a rule's mail).
    UserUpdated,
    /// To agents: a new ticket.
    AgentNewTicket,
    /// To agents: the user replied.
    AgentUserReply,
    /// To agents: another agent replied.
    AgentAgentReply,
    /// To agents: a note was added.
    AgentNote,
    /// To agents: the assignment changed.
    AgentAssignment,
    /// To agents: the status changed.
    AgentStatus,
    /// To agents: something else changed.
    AgentUpdated,
    /// To agents: a rule's notification (without a template of its own).
    AgentRule,
    /// To a new agent: the invitation with the set-password link.
    AgentInvitation,
    /// To a new portal user: the link that confirms their address.
    UserEmailValidation,
    /// To an address that registered again: it already has an account.
    UserAccountExists,
    /// To a user who asked to reset their portal password: the link.
    UserPasswordReset,
    /// To an agent who asked to reset their password: the link.
    AgentPasswordReset,
}

impl MailKind {
    /// Every kind, in the order screens list them.
    pub const ALL: [MailKind; 16] = [
        MailKind::UserNewTicket,
        MailKind::UserAgentReply,
        MailKind::UserUpdated,
        MailKind::UserEmailValidation,
        MailKind::UserAccountExists,
        MailKind::UserPasswordReset,
        MailKind::AgentNewTicket,
        MailKind::AgentUserReply,
        MailKind::AgentAgentReply,
        MailKind::AgentNote,
        MailKind::AgentAssignment,
        MailKind::AgentStatus,
        MailKind::AgentUpdated,
        MailKind::AgentRule,
        MailKind::AgentInvitation,
        MailKind::AgentPasswordReset,
    ];

    /// The name in keys and URLs (`user.new_ticket`).
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::UserNewTicket => "user.new_ticket",
            MailKind::UserAgentReply => "user.agent_reply",
            MailKind::UserUpdated => "user.updated",
            MailKind::AgentNewTicket => "agent.new_ticket",
            MailKind::AgentUserReply => "agent.user_reply",
            MailKind::AgentAgentReply => "agent.agent_reply",
            MailKind::AgentNote => "agent.note",
            MailKind::AgentAssignment => "agent.assignment",
            MailKind::AgentStatus => "agent.status",
            MailKind::AgentUpdated => "agent.updated",
            MailKind::AgentRule => "agent.rule",
            MailKind::AgentInvitation => "agent.invitation",
            MailKind::UserEmailValidation => "user.email_validation",
            MailKind::UserAccountExists => "user.account_exists",
            MailKind::UserPasswordReset => "user.password_reset",
            MailKind::AgentPasswordReset => "agent.password_reset",
        }
    }

    /// What the mail is, for people.
    pub fn title(self) -> &'static str {
        match self {
            MailKind::UserNewTicket => "Ticket received (auto-response to the user)",
            MailKind::UserAgentReply => "Agent's reply (to the user and CCs)",
            MailKind::UserUpdated => "Ticket updated (to the user, from a rule)",
            MailKind::AgentNewTicket => "New ticket (to agents)",
            MailKind::AgentUserReply => "User replied (to agents)",
            MailKind::AgentAgentReply => "Agent replied (to other agents)",
            MailKind::AgentNote => "New note (to agents)",
            MailKind::AgentAssignment => "Assignment changed (to agents)",
            MailKind::AgentStatus => "Status changed (to agents)",
            MailKind::AgentUpdated => "Ticket updated (to agents)",
            MailKind::AgentRule => "A rule's notification (to agents)",
            MailKind::AgentInvitation => "Agent invitation",
            MailKind::UserEmailValidation => "Confirm your email address (portal registration)",
            MailKind::UserAccountExists => "Registered again with an existing address",
            MailKind::UserPasswordReset => "Reset your password (portal)",
            MailKind::AgentPasswordReset => "Reset your password (agents)",
        }
    }

    /// The kind for a ticket notification (its `reason`) to a user or an agent.
    ///
    /// ```
    /// use helpdesk_core::templates::MailKind;
    /// assert_eq!(MailKind::for_notification("agent_reply", false), MailKind::UserAgentReply);
    /// assert_eq!(MailKind::for_notification("note", true), MailKind::AgentNote);
    /// assert_eq!(MailKind::for_notification("trigger \"VIP\"", true), MailKind::AgentRule);
    /// assert_eq!(MailKind::for_notification("trigger \"VIP\"", false), MailKind::UserUpdated);
    /// ```
    pub fn for_notification(reason: &str, to_agent: bool) -> MailKind {
        if !to_agent {
            return match reason {
                "new_ticket" => MailKind::UserNewTicket,
                "agent_reply" => MailKind::UserAgentReply,
                _ => MailKind::UserUpdated,
            };
        }
        match reason {
            "new_ticket" => MailKind::AgentNewTicket,
            "user_reply" => MailKind::AgentUserReply,
            "agent_reply" => MailKind::AgentAgentReply,
            "note" => MailKind::AgentNote,
            "assignment" => MailKind::AgentAssignment,
            "status" => MailKind::AgentStatus,
            "updated" => MailKind::AgentUpdated,
            _ => MailKind::AgentRule,
        }
    }

    /// Parses [`MailKind::as_str`].
    pub fn parse(s: &str) -> Option<MailKind> {
        MailKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The placeholders this kind's template may use.
    pub fn vocabulary(self) -> Vocabulary {
        match self {
            MailKind::UserNewTicket | MailKind::UserAgentReply | MailKind::UserUpdated => {
                Vocabulary::TicketUser
            }
            MailKind::AgentInvitation => Vocabulary::Invitation,
            MailKind::UserEmailValidation => Vocabulary::EmailValidation,
            MailKind::UserAccountExists => Vocabulary::AccountExists,
            MailKind::UserPasswordReset | MailKind::AgentPasswordReset => Vocabulary::PasswordReset,
            _ => Vocabulary::TicketAgent,
        }
    }
}

/// Which template a mail uses: a built-in kind, or a custom template that
/// triggers name (`custom.vip-welcome`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TemplateKey {
    /// A mail the helpdesk writes itself.
    Builtin(MailKind),
    /// A template made in Admin for triggers' notifications (by name).
    Custom(String),
}

impl TemplateKey {
    /// Parses `user.new_ticket` or `custom.NAME`.
    pub fn parse(s: &str) -> Result<TemplateKey, TemplateError> {
        if let Some(k) = MailKind::parse(s) {
            return Ok(TemplateKey::Builtin(k));
        }
        match s.strip_prefix("custom.") {
            Some(name) => Ok(TemplateKey::Custom(check_custom_name(name)?)),
            None => Err(TemplateError::UnknownTemplate(s.to_string())),
        }
    }

    /// A custom template's key (the name checked).
    pub fn custom(name: &str) -> Result<TemplateKey, TemplateError> {
        Ok(TemplateKey::Custom(check_custom_name(name)?))
    }

    /// The key as text (`user.new_ticket`, `custom.vip-welcome`).
    pub fn as_string(&self) -> String {
        match self {
            TemplateKey::Builtin(k) => k.as_str().to_string(),
            TemplateKey::Custom(n) => format!("custom.{n}"),
        }
    }

    /// The placeholders the template may use. A custom template may be sent
    /// to users, so it has the users' vocabulary.
    pub fn vocabulary(&self) -> Vocabulary {
        match self {
            TemplateKey::Builtin(k) => k.vocabulary(),
            TemplateKey::Custom(_) => Vocabulary::TicketUser,
        }
    }

    /// Whether the mail is about a ticket (its subject gets the `[#id]`
    /// reference and its body the reply line).
    pub fn about_ticket(&self) -> bool {
        matches!(self.vocabulary(), Vocabulary::TicketUser | Vocabulary::TicketAgent)
    }
}

impl fmt::Display for TemplateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

fn check_custom_name(name: &str) -> Result<String, TemplateError> {
    let ok = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(name.to_string())
    } else {
        Err(TemplateError::Name(name.to_string()))
    }
}

/// What a template may refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Vocabulary {
    /// Ticket mail to users: messages only, never notes or working state.
    TicketUser,
    /// Ticket mail to agents: also notes, urgency, labels, team.
    TicketAgent,
    /// The agent invitation.
    Invitation,
    /// The address confirmation.
    EmailValidation,
    /// The "already registered" mail.
    AccountExists,
    /// The password reset link.
    PasswordReset,
}

/// One placeholder: its path and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Placeholder {
    /// `ticket.subject`.
    pub path: &'static str,
    /// What it holds.
    pub about: &'static str,
    /// Whether it may be `none` (test it with `{% if ... %}` before
    /// reaching into it).
    pub optional: bool,
}

const fn p(path: &'static str, about: &'static str) -> Placeholder {
    Placeholder { path, about, optional: false }
}

const fn opt(path: &'static str, about: &'static str) -> Placeholder {
    Placeholder { path, about, optional: true }
}

const COMMON: &[Placeholder] = &[
    p("helpdesk.name", "The helpdesk's name"),
    opt("helpdesk.url", "The helpdesk's public URL"),
    p("recipient.name", "The recipient's name"),
    p("recipient.first_name", "The recipient's first name"),
    p("recipient.email", "The recipient's address"),
];

const TICKET_USER: &[Placeholder] = &[
    p("ticket.id", "The ticket's number"),
    p("ticket.reference", "[#id], as in subjects"),
    p("ticket.subject", "The subject"),
    p("ticket.status", "The status (awaiting_agent, resolved, ...)"),
    p("ticket.department", "The department's name"),
    opt("ticket.url", "The ticket's page (the portal for users)"),
    p("user.name", "The ticket owner's name"),
    p("user.first_name", "The ticket owner's first name"),
    p("user.email", "The ticket owner's address"),
    opt("message", "The message the mail is about"),
    p("message.author", "Who wrote it"),
    p("message.body", "Its text"),
    p("message.attachments", "Its files' names (a list)"),
    p("event", "Why the mail is sent: new_ticket, agent_reply or updated (to agents also user_reply, note, assignment, status, or a rule's name)"),
];

const TICKET_AGENT: &[Placeholder] = &[
    opt("ticket.agent", "The assigned agent's name"),
    opt("ticket.team", "The assigned team's name"),
    p("ticket.urgency", "The urgency (1-10)"),
    p("ticket.labels", "The labels (a list)"),
    opt("note", "The note the mail is about (agents only)"),
    p("note.author", "Who wrote the note"),
    p("note.body", "The note's text"),
];

const INVITATION: &[Placeholder] = &[
    p("invited_by", "The admin who invited the agent"),
    p("link", "The set-password link"),
    p("days", "How many days the link works"),
];

const EMAIL_VALIDATION: &[Placeholder] = &[p("link", "The confirmation link")];

const ACCOUNT_EXISTS: &[Placeholder] = &[p("login_link", "The portal's login page")];

const PASSWORD_RESET: &[Placeholder] = &[
    p("link", "The link that sets a new password (works once)"),
    p("minutes", "How many minutes the link works"),
];

/// Builtin functions a template may call (they show up as names).
const FUNCTIONS: &[&str] = &["range", "dict", "namespace"];

impl Vocabulary {
    /// Every placeholder, common ones first.
    pub fn placeholders(self) -> Vec<Placeholder> {
        let extra: &[&[Placeholder]] = match self {
            Vocabulary::TicketUser => &[TICKET_USER],
            Vocabulary::TicketAgent => &[TICKET_USER, TICKET_AGENT],
            Vocabulary::Invitation => &[INVITATION],
            Vocabulary::EmailValidation => &[EMAIL_VALIDATION],
            Vocabulary::AccountExists => &[ACCOUNT_EXISTS],
            Vocabulary::PasswordReset => &[PASSWORD_RESET],
        };
        COMMON.iter().chain(extra.iter().flat_map(|x| x.iter())).copied().collect()
    }

    /// Whether `path` (as `ticket.subject` or `message`) is known.
    fn knows(self, path: &str) -> bool {
        FUNCTIONS.contains(&path)
            || self.placeholders().iter().any(|p| {
                p.path == path || p.path.strip_prefix(path).is_some_and(|rest| rest.starts_with('.'))
            })
    }
}

/// A template's two parts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MailTemplate {
    /// The subject (one line once rendered).
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

/// A rendered mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedMail {
    /// The subject, on one line.
    pub subject: String,
    /// The body.
    pub body: String,
}

/// Which part of a template an error is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The subject.
    Subject,
    /// The body.
    Body,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Subject => "subject",
            Part::Body => "body",
        })
    }
}

/// Why a template is refused or cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    /// A syntax or render error, with where it is.
    #[error("{part}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Invalid {
        /// Subject or body.
        part: Part,
        /// The line in that part, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The template names a placeholder its mail does not have.
    #[error("{part}: unknown placeholder {name} (this mail has: {known})")]
    UnknownPlaceholder {
        /// Subject or body.
        part: Part,
        /// The placeholder as written.
        name: String,
        /// The placeholders there are.
        known: String,
    },
    /// A part is too long or the subject is empty.
    #[error("{part}: {message}")]
    Size {
        /// Subject or body.
        part: Part,
        /// What is wrong.
        message: String,
    },
    /// A language tag that is not one.
    #[error(transparent)]
    Language(#[from] BadLanguage),
    /// No such template.
    #[error("there is no mail template {0:?}")]
    UnknownTemplate(String),
    /// A custom template name that is not one.
    #[error("{0:?} is not a template name: 1 to 64 letters, digits, - or _")]
    Name(String),
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(RENDER_FUEL));
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("the syntax is valid"),
    );
    env.set_formatter(|out, state, value| {
        if value.is_none() {
            return Ok(());
        }
        minijinja::escape_formatter(out, state, value)
    });
    env
}

fn invalid(part: Part, e: &minijinja::Error) -> TemplateError {
    let message = match (e.kind(), e.detail()) {
        (minijinja::ErrorKind::UndefinedError, _) => "a value this mail may not have is used without testing for it: put it inside {% if ... %} (see which values are optional)".to_string(),
        (kind, Some(d)) => format!("{kind} ({d})"),
        (kind, None) => kind.to_string(),
    };
    TemplateError::Invalid { part, line: e.line(), message }
}

/// The longest `{{ ... }}` or `{% ... %}`, in characters: the template
/// compiler recurses once per operator, so one huge expression could
/// exhaust a thread's stack.
pub const MAX_TAG: usize = 500;

fn check_tags(part: Part, src: &str) -> Result<(), TemplateError> {
    let mut rest = src;
    let mut line = 1;
    while let Some(i) = rest.find(['{']) {
        line += rest[..i].matches('\n').count();
        let close = match rest[i..].get(..2) {
            Some("{{") => "}}",
            Some("{%") => "%}",
            _ => {
                rest = &rest[i + 1..];
                continue;
            }
        };
        let tag = &rest[i..];
        let end = tag.find(close).map(|e| e + 2).unwrap_or(tag.len());
        if tag[..end].chars().count() > MAX_TAG {
            return Err(TemplateError::Invalid {
                part,
                line: Some(line),
                message: format!("a {{{{ }}}} or {{% %}} tag is at most {MAX_TAG} characters"),
            });
        }
        line += tag[..end].matches('\n').count();
        rest = &tag[end..];
    }
    Ok(())
}

fn parts(t: &MailTemplate) -> [(Part, &str); 2] {
    [(Part::Subject, t.subject.as_str()), (Part::Body, t.body.as_str())]
}

/// Checks a template for `key` before it is saved: sizes, syntax, every
/// placeholder against the key's [`Vocabulary`], and trial renders on
/// [`sample_context`]s with and without the optional parts.
pub fn check(key: &TemplateKey, t: &MailTemplate) -> Result<(), TemplateError> {
    if t.subject.trim().is_empty() {
        return Err(TemplateError::Size { part: Part::Subject, message: "a mail needs a subject".into() });
    }
    for (part, src, max) in [(Part::Subject, &t.subject, MAX_SUBJECT), (Part::Body, &t.body, MAX_BODY)] {
        if src.chars().count() > max {
            return Err(TemplateError::Size { part, message: format!("at most {max} characters") });
        }
    }
    for (part, src) in parts(t) {
        check_tags(part, src)?;
    }
    let env = environment();
    let vocabulary = key.vocabulary();
    for (part, src) in parts(t) {
        let tmpl = env.template_from_str(src).map_err(|e| invalid(part, &e))?;
        let mut unknown: Vec<String> =
            tmpl.undeclared_variables(true).into_iter().filter(|v| !vocabulary.knows(v)).collect();
        unknown.sort();
        if let Some(name) = unknown.into_iter().next() {
            let known = vocabulary.placeholders().iter().map(|p| p.path).collect::<Vec<_>>().join(", ");
            return Err(TemplateError::UnknownPlaceholder { part, name, known });
        }
    }
    for full in [true, false] {
        render(t, &sample_context(vocabulary, full))?;
    }
    Ok(())
}

/// Renders a template with `context` (a JSON object; see
/// [`sample_context`] for its shape). The subject's lines are joined into
/// one.
pub fn render(t: &MailTemplate, context: &serde_json::Value) -> Result<RenderedMail, TemplateError> {
    let env = environment();
    let ctx = Value::from(Serde(context));
    let mut out = [String::new(), String::new()];
    for (i, (part, src)) in parts(t).into_iter().enumerate() {
        let tmpl = env.template_from_str(src).map_err(|e| invalid(part, &e))?;
        out[i] = tmpl.render(ctx.clone()).map_err(|e| invalid(part, &e))?;
    }
    let [subject, body] = out;
    let subject = subject.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    Ok(RenderedMail { subject, body })
}

/// A context with every placeholder of `vocabulary` filled with sample
/// values; without `full`, the optional ones are `none`. Used to check
/// templates and in examples.
pub fn sample_context(vocabulary: Vocabulary, full: bool) -> serde_json::Value {
    use serde_json::json;
    let some = |v: serde_json::Value| if full { v } else { serde_json::Value::Null };
    let mut ctx = json!({
        "helpdesk": { "name": "Acme Support", "url": some(json!("https://help.acme.example")) },
        "recipient": { "name": "Ann Example", "first_name": "Ann", "email": "ann@acme.example" },
    });
    let obj = ctx.as_object_mut().expect("an object");
    match vocabulary {
        Vocabulary::TicketUser | Vocabulary::TicketAgent => {
            let agent_side = vocabulary == Vocabulary::TicketAgent;
            let mut ticket = json!({
                "id": 42, "reference": "[#42]", "subject": "Printer on fire",
                "status": "awaiting_agent", "department": "Support",
                "url": some(json!("https://help.acme.example/portal/tickets/42")),
            });
            if agent_side {
                let t = ticket.as_object_mut().expect("an object");
                t.insert("agent".into(), some(json!("Alice Agent")));
                t.insert("team".into(), some(json!("First line")));
                t.insert("urgency".into(), json!(5));
                t.insert("labels".into(), json!(["printer", "vip"]));
            }
            obj.insert("ticket".into(), ticket);
            obj.insert(
                "user".into(),
                json!({ "name": "Ann Example", "first_name": "Ann", "email": "ann@acme.example" }),
            );
            obj.insert(
                "message".into(),
                some(json!({ "author": "Ann Example", "body": "It is on fire.", "attachments": ["photo.jpg"] })),
            );
            obj.insert("event".into(), json!("new_ticket"));
            if agent_side {
                obj.insert(
                    "note".into(),
                    some(json!({ "author": "Alice Agent", "body": "Call the fire brigade." })),
                );
            }
        }
        Vocabulary::Invitation => {
            obj.insert("invited_by".into(), json!("Alice Admin"));
            obj.insert("link".into(), json!("https://help.acme.example/agent/set-password?token=EXAMPLE"));
            obj.insert("days".into(), json!(7));
        }
        Vocabulary::EmailValidation => {
            obj.insert("link".into(), json!("https://help.acme.example/portal/validate?token=EXAMPLE"));
        }
        Vocabulary::AccountExists => {
            obj.insert("login_link".into(), json!("https://help.acme.example/portal/login"));
        }
        Vocabulary::PasswordReset => {
            obj.insert("link".into(), json!("https://help.acme.example/portal/reset-password?token=EXAMPLE"));
            obj.insert("minutes".into(), json!(30));
        }
    }
    ctx
}

/// The first word of a name (`Ann` of `Ann Example`), or the name.
pub fn first_name(name: &str) -> String {
    name.split_whitespace().next().unwrap_or(name).to_string()
}

const MESSAGE_BLOCK: &str = "{% if message %}
{{ message.author }} wrote:

{{ message.body }}
{% if message.attachments %}

Attached: {{ message.attachments|join(\", \") }}
{% endif %}
{% endif %}
";

/// The built-in (English) template of a kind.
pub fn default_template(kind: MailKind) -> MailTemplate {
    let t = |subject: &str, body: String| MailTemplate { subject: subject.into(), body };
    let agent = |what: &str, subject: &str| {
        t(
            subject,
            format!(
                "{what} on {{{{ ticket.reference }}}} \"{{{{ ticket.subject }}}}\"

Status: {{{{ ticket.status }}}}
Department: {{{{ ticket.department }}}}
Agent: {{{{ ticket.agent or \"nobody\" }}}}
Team: {{{{ ticket.team or \"none\" }}}}
Urgency: {{{{ ticket.urgency }}}}

{{% if note %}}
{{{{ note.author }}}} noted (agents only):

{{{{ note.body }}}}
{{% else %}}
{MESSAGE_BLOCK}{{% endif %}}

(Reply to this mail to answer the user; only the text above the line is sent.)
"
            ),
        )
    };
    match kind {
        MailKind::UserNewTicket => t(
            "Received: {{ ticket.subject }}",
            format!(
                "We have received your request \"{{{{ ticket.subject }}}}\" and will get back to you soon.
Your reference is {{{{ ticket.reference }}}}. To add anything, reply to this mail.

{MESSAGE_BLOCK}"
            ),
        ),
        MailKind::UserAgentReply => t("Re: {{ ticket.subject }}", MESSAGE_BLOCK.to_string()),
        MailKind::UserUpdated => t(
            "Re: {{ ticket.subject }}",
            format!(
                "Your request {{{{ ticket.reference }}}} \"{{{{ ticket.subject }}}}\" was updated.

{MESSAGE_BLOCK}"
            ),
        ),
        MailKind::AgentNewTicket => agent("New ticket", "[new_ticket] {{ ticket.subject }}"),
        MailKind::AgentUserReply => agent("New reply from the user", "[user_reply] {{ ticket.subject }}"),
        MailKind::AgentAgentReply => agent("New reply from an agent", "[agent_reply] {{ ticket.subject }}"),
        MailKind::AgentNote => agent("New note", "[note] {{ ticket.subject }}"),
        MailKind::AgentAssignment => agent("Assignment changed", "[assignment] {{ ticket.subject }}"),
        MailKind::AgentStatus => agent("Status changed", "[status] {{ ticket.subject }}"),
        MailKind::AgentUpdated => agent("Ticket updated", "[updated] {{ ticket.subject }}"),
        MailKind::AgentRule => agent("{{ event }}", "[{{ event }}] {{ ticket.subject }}"),
        MailKind::AgentInvitation => t(
            "You are invited to {{ helpdesk.name }}",
            "Hello {{ recipient.name }},

{{ invited_by }} added you as an agent of {{ helpdesk.name }}. Choose your password here (the link works once, for {{ days }} days):

{{ link }}

You log in with this address, {{ recipient.email }}.
"
            .into(),
        ),
        MailKind::UserEmailValidation => {
            t("Confirm your email address", "Confirm your address: {{ link }}".into())
        }
        MailKind::UserPasswordReset | MailKind::AgentPasswordReset => t(
            "Reset your password for {{ helpdesk.name }}",
            "Hello {{ recipient.name }},

Someone (hopefully you) asked to reset the password of your account {{ recipient.email }} at {{ helpdesk.name }}. Choose a new one here (the link works once, for {{ minutes }} minutes):

{{ link }}

If it was not you, ignore this mail: your password stays as it is.
"
            .into(),
        ),
        MailKind::UserAccountExists => t(
            "Your helpdesk account",
            "Someone (hopefully you) tried to register at {{ helpdesk.url }} with this address, which already has an account. Log in at {{ login_link }}."
                .into(),
        ),
    }
}

/// The built-in template for a key: the kind's default, or for a custom
/// template the users' "updated" mail.
pub fn default_for(key: &TemplateKey) -> MailTemplate {
    match key {
        TemplateKey::Builtin(k) => default_template(*k),
        TemplateKey::Custom(_) => default_template(MailKind::UserUpdated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_passes_its_own_check() {
        for k in MailKind::ALL {
            check(&TemplateKey::Builtin(k), &default_template(k)).unwrap_or_else(|e| panic!("{k:?}: {e}"));
        }
    }

    #[test]
    fn user_mail_cannot_reach_agent_only_values() {
        let key = TemplateKey::Builtin(MailKind::UserAgentReply);
        for path in ["note.body", "ticket.urgency", "ticket.labels", "ticket.team", "ticket.agent", "note"] {
            let t = MailTemplate { subject: "x".into(), body: format!("{{{{ {path} }}}}") };
            let e = check(&key, &t).unwrap_err();
            assert!(matches!(e, TemplateError::UnknownPlaceholder { .. }), "{path}: {e}");
        }
        let agent = TemplateKey::Builtin(MailKind::AgentNote);
        check(
            &agent,
            &MailTemplate { subject: "x".into(), body: "{% if note %}{{ note.body }}{% endif %}".into() },
        )
        .unwrap();
        let custom = TemplateKey::custom("vip").unwrap();
        assert!(check(&custom, &MailTemplate { subject: "x".into(), body: "{{ note }}".into() }).is_err());
    }

    #[test]
    fn optional_values_must_be_guarded() {
        let key = TemplateKey::Builtin(MailKind::UserAgentReply);
        let t = MailTemplate { subject: "x".into(), body: "{{ message.body }}".into() };
        let e = check(&key, &t).unwrap_err().to_string();
        assert!(e.starts_with("body, line 1:"), "{e}");
        let none_prints_nothing = MailTemplate { subject: "x".into(), body: "[{{ helpdesk.url }}]".into() };
        let out = render(&none_prints_nothing, &sample_context(Vocabulary::TicketUser, false)).unwrap();
        assert_eq!(out.body, "[]");
    }

    #[test]
    fn runaway_templates_stop() {
        let key = TemplateKey::Builtin(MailKind::UserAgentReply);
        let t = MailTemplate {
            subject: "x".into(),
            body: "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}".into(),
        };
        assert!(check(&key, &t).is_err());
    }

    #[test]
    fn subjects_are_one_line_and_required() {
        let key = TemplateKey::Builtin(MailKind::UserAgentReply);
        let t = MailTemplate { subject: "Re:\n{{ ticket.subject }}\n".into(), body: String::new() };
        let out = render(&t, &sample_context(Vocabulary::TicketUser, true)).unwrap();
        assert_eq!(out.subject, "Re: Printer on fire");
        assert!(check(&key, &MailTemplate { subject: "  ".into(), body: "x".into() }).is_err());
    }

    #[test]
    fn samples_hold_exactly_the_vocabulary() {
        fn paths(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
            for (k, v) in v.as_object().into_iter().flatten() {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                out.push(p.clone());
                paths(v, &p, out);
            }
        }
        for v in [
            Vocabulary::TicketUser,
            Vocabulary::TicketAgent,
            Vocabulary::Invitation,
            Vocabulary::EmailValidation,
            Vocabulary::AccountExists,
            Vocabulary::PasswordReset,
        ] {
            let mut got = Vec::new();
            paths(&sample_context(v, true), "", &mut got);
            // Groups (`ticket`) are not placeholders themselves; `message` is.
            let groups: Vec<String> = got
                .iter()
                .filter(|p| got.iter().any(|g| g.starts_with(&format!("{p}."))))
                .filter(|p| !v.placeholders().iter().any(|x| x.path == p.as_str()))
                .cloned()
                .collect();
            got.retain(|p| !groups.contains(p));
            let mut want: Vec<String> = v.placeholders().iter().map(|p| p.path.to_string()).collect();
            want.sort();
            got.sort();
            assert_eq!(got, want, "{v:?}");
        }
    }

    #[test]
    fn huge_expressions_are_refused_before_compiling() {
        let key = TemplateKey::Builtin(MailKind::UserAgentReply);
        let chain = format!("{{{{ {} }}}}", vec!["ticket.id"; 2_000].join(" ~ "));
        let e = check(&key, &BodyOnly::body(&format!("ok\n{chain}"))).unwrap_err().to_string();
        assert_eq!(e, "body, line 2: a {{ }} or {% %} tag is at most 500 characters");
        check(&key, &BodyOnly::body("{ not a tag } {{ ticket.id }} {")).unwrap();
    }

    struct BodyOnly;
    impl BodyOnly {
        fn body(b: &str) -> MailTemplate {
            MailTemplate { subject: "x".into(), body: b.into() }
        }
    }

    #[test]
    fn keys_and_languages() {
        assert_eq!(TemplateKey::parse("agent.note").unwrap(), TemplateKey::Builtin(MailKind::AgentNote));
        assert_eq!(TemplateKey::parse("custom.vip_1").unwrap(), TemplateKey::Custom("vip_1".into()));
        assert!(TemplateKey::parse("custom.a/b").is_err());
        assert!(TemplateKey::parse("agent.nope").is_err());
        let offered =
            [Language::english(), Language::parse("de").unwrap(), Language::parse("pt-br").unwrap()];
        let n = |h: &str| Language::negotiate(h, &offered).map(|l| l.to_string());
        assert_eq!(n("de-CH, de;q=0.9, en;q=0.8").as_deref(), Some("de"));
        assert_eq!(n("fr, en;q=0.5").as_deref(), Some("en"));
        assert_eq!(n("pt-BR").as_deref(), Some("pt-br"));
        assert_eq!(n("en;q=0.2, de;q=0.7").as_deref(), Some("de"));
        assert_eq!(n("fr"), None);
        assert_eq!(n("pt, de;q=0.5").as_deref(), Some("pt-br"), "a region of the language");
        assert_eq!(n("de;q=x, en;q=0.1").as_deref(), Some("en"), "a bad weight counts as 0");
        assert_eq!(Language::parse("de-at").unwrap().name(), "Deutsch (de-at)");
    }
}
