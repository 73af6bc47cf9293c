//! Email, the pure part: accounts and settings, loop and auto-reply
//! detection, quote trimming, signed reply tokens, subject references and
//! the threading decision. Parsing and sending live in `helpdesk-mail`.
//!
//! The threading rule that keeps strangers out of other people's tickets:
//!
//! 1. a valid **reply token** (signed with the installation's secret, carried
//!    in the `Message-ID`s of our mail and so in the `In-Reply-To` /
//!    `References` of replies) finds the ticket; an agent's token lets only
//!    that agent reply as an agent;
//! 2. else a **subject reference** (`[#123]`) finds it;
//! 3. either way the sender must be the ticket's owner or a CC (or, with their
//!    own token, the agent): anyone else opens a new ticket of their own, and
//!    mail from an agent's address without that agent's token is refused.
//!
//! ```
//! use helpdesk_core::mail::*;
//! use helpdesk_core::testing::sample_ticket;
//! use helpdesk_core::*;
//!
//! let tokens = ReplyTokens::new(b"installation secret");
//! let (ticket, _) = sample_ticket(); // #1, owned by user 1
//! let token = tokens.sign(ticket.id, TokenHolder::User(UserId(1)));
//! let references = vec![tokens.message_id(&token, "v2.0", "helpdesk.test")];
//!
//! // The owner replies: lands on the ticket.
//! let found = tokens.find(&references);
//! let d = thread(&Sender::User(UserId(1)), &found, Some(&ticket), None);
//! assert_eq!(d, ThreadDecision::Reply { ticket: ticket.id, actor: Actor::User(UserId(1)), by: ThreadedBy::Token });
//!
//! // A stranger quoting the same references and subject opens their own ticket.
//! let d = thread(&Sender::User(UserId(3)), &found, Some(&ticket), Some(&ticket));
//! assert!(matches!(d, ThreadDecision::NewTicket { .. }));
//! ```

use crate::event::Actor;
use crate::ids::*;
use crate::people::Email;
use crate::ticket::Ticket;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// An email account: incoming mail to its address becomes tickets in its
/// department; replies to those tickets are sent from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailAccount {
    /// Id.
    pub id: EmailAccountId,
    /// The address mail is sent to and from (`support@example.com`).
    pub address: Email,
    /// The display name on outgoing mail (`Example Support`).
    pub name: String,
    /// The department its tickets go to, and whose tickets it answers.
    pub department: DepartmentId,
    /// The ways mail for it may come in.
    #[serde(default, skip_serializing_if = "InboundWays::is_all")]
    pub inbound: InboundWays,
    /// The relay its mail leaves by; `None`: the server's `--smtp-relay`.
    /// The relay's password is kept apart (never in this record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<Relay>,
}

/// How mail reaches the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundWay {
    /// The built-in SMTP listener (`--smtp-listen`).
    Smtp,
    /// `POST /api/mail/inbound` (a mail server's pipe, a provider's webhook).
    Http,
}

impl InboundWay {
    /// How people call it.
    pub fn label(self) -> &'static str {
        match self {
            InboundWay::Smtp => "the SMTP listener",
            InboundWay::Http => "HTTP ingest",
        }
    }
}

/// Which ways an account takes mail in (both by default). Mail for the
/// account arriving another way is refused (an SMTP sender gets a 550).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InboundWays {
    /// The SMTP listener.
    pub smtp: bool,
    /// HTTP ingest.
    pub http: bool,
}

impl Default for InboundWays {
    fn default() -> Self {
        InboundWays { smtp: true, http: true }
    }
}

impl InboundWays {
    /// Whether every way is open (the default).
    pub fn is_all(&self) -> bool {
        self.smtp && self.http
    }

    /// Whether mail may come in `way`.
    pub fn allows(&self, way: InboundWay) -> bool {
        match way {
            InboundWay::Smtp => self.smtp,
            InboundWay::Http => self.http,
        }
    }
}

/// How the connection to an SMTP relay is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelaySecurity {
    /// Plain text (a relay on loopback or a private network).
    None,
    /// STARTTLS, required (port 587).
    #[default]
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

impl RelaySecurity {
    /// Every kind, in the order screens list them.
    pub const ALL: [RelaySecurity; 3] = [RelaySecurity::StartTls, RelaySecurity::Tls, RelaySecurity::None];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RelaySecurity::None => "none",
            RelaySecurity::StartTls => "start_tls",
            RelaySecurity::Tls => "tls",
        }
    }

    /// Parses [`RelaySecurity::as_str`].
    pub fn parse(s: &str) -> Option<RelaySecurity> {
        RelaySecurity::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// An account's own outgoing relay (its password is stored apart from the
/// account and never shown).
///
/// ```
/// use helpdesk_core::mail::{Relay, RelaySecurity};
/// let r = Relay { host: " SMTP.Acme.example ".into(), port: 587, security: RelaySecurity::StartTls, username: Some(" ".into()) };
/// let r = r.validated().unwrap();
/// assert_eq!((r.host.as_str(), r.username.as_deref()), ("smtp.acme.example", None));
/// assert!(Relay { host: "a b".into(), ..r.clone() }.validated().is_err());
/// assert!(Relay { port: 0, ..r }.validated().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relay {
    /// Host name or address.
    pub host: String,
    /// Port (587 STARTTLS, 465 TLS, 25 plain).
    pub port: u16,
    /// How the connection is secured.
    #[serde(default)]
    pub security: RelaySecurity,
    /// Login name, if the relay wants a login.
    #[serde(default)]
    pub username: Option<String>,
}

impl Relay {
    /// The relay normalised (host lower-cased, empty login dropped), or why
    /// it cannot be used.
    pub fn validated(mut self) -> Result<Relay, String> {
        self.host = self.host.trim().trim_end_matches('.').to_ascii_lowercase();
        let host_ok = !self.host.is_empty()
            && self.host.len() <= 253
            && self
                .host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !host_ok {
            return Err(format!("{:?} is not a host name or address", self.host));
        }
        if self.port == 0 {
            return Err("the port must be between 1 and 65535".into());
        }
        self.username = self.username.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
        if self.username.as_ref().is_some_and(|u| u.chars().count() > 200 || u.chars().any(char::is_control))
        {
            return Err("the login name is too long or has control characters".into());
        }
        Ok(self)
    }
}

impl fmt::Display for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sec = match self.security {
            RelaySecurity::None => "plain",
            RelaySecurity::StartTls => "STARTTLS",
            RelaySecurity::Tls => "TLS",
        };
        write!(f, "{}:{} ({sec})", self.host, self.port)?;
        if let Some(u) = &self.username {
            write!(f, " as {u}")?;
        }
        Ok(())
    }
}

/// A per-recipient rate limit: at most `max` in any `per_seconds` window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// How many.
    pub max: u32,
    /// In how long a window, in seconds.
    pub per_seconds: u32,
}

impl Default for RateLimit {
    /// Three auto-responses an hour.
    fn default() -> Self {
        RateLimit { max: 3, per_seconds: 3600 }
    }
}

/// Installation-wide mail settings (one record per store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailSettings {
    /// The secret reply tokens are signed with (hex, 32 random bytes).
    pub secret: String,
    /// How many auto-responses one recipient may get.
    pub auto_responses: RateLimit,
    /// Hostname for Message-IDs when an account's domain should not be used.
    #[serde(default)]
    pub message_id_domain: Option<String>,
    /// Out-of-office and automatic replies known only by their subject.
    #[serde(default)]
    pub auto_replies: AutoReplyPolicy,
}

/// Most auto-responses an admin may allow one recipient per window.
pub const MAX_AUTO_RESPONSES: u32 = 100;

impl MailSettings {
    /// The settings with the admin's parts checked and normalised (the
    /// Message-ID domain lower-cased, an empty one dropped), or the field
    /// that is wrong and why.
    ///
    /// ```
    /// use helpdesk_core::mail::{MailSettings, RateLimit};
    /// let mut s = MailSettings::with_secret(b"0123456789abcdef0123456789abcdef");
    /// s.message_id_domain = Some(" Mail.Acme.example ".into());
    /// assert_eq!(s.clone().validated().unwrap().message_id_domain.as_deref(), Some("mail.acme.example"));
    /// s.auto_responses = RateLimit { max: 3, per_seconds: 0 };
    /// assert_eq!(s.validated().unwrap_err().0, "auto_responses");
    /// ```
    pub fn validated(mut self) -> Result<MailSettings, (&'static str, String)> {
        if self.secret.len() < 32 {
            return Err(("secret", "the reply-token secret must be at least 32 characters".into()));
        }
        let RateLimit { max, per_seconds } = self.auto_responses;
        if max > MAX_AUTO_RESPONSES {
            return Err(("auto_responses", format!("at most {MAX_AUTO_RESPONSES} per window")));
        }
        if !(60..=7 * 24 * 3600).contains(&per_seconds) {
            return Err(("auto_responses", "the window is between 1 minute and 7 days".into()));
        }
        self.message_id_domain = match self.message_id_domain.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(d) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                let ok = d.contains('.')
                    && d.len() <= 253
                    && d.split('.').all(|l| {
                        !l.is_empty()
                            && l.len() <= 63
                            && !l.starts_with('-')
                            && !l.ends_with('-')
                            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    });
                if !ok {
                    return Err(("message_id_domain", format!("{d:?} is not a domain name")));
                }
                Some(d)
            }
        };
        Ok(self)
    }

    /// Settings with `secret` (raw bytes, hex-encoded here) and default limits.
    pub fn with_secret(secret: &[u8]) -> Self {
        MailSettings {
            secret: hex(secret),
            auto_responses: RateLimit::default(),
            message_id_domain: None,
            auto_replies: AutoReplyPolicy::default(),
        }
    }

    /// The token signer for these settings.
    pub fn tokens(&self) -> ReplyTokens {
        ReplyTokens::new(self.secret.as_bytes())
    }
}

/// When a recipient got auto-responses: the store-backed window of the
/// per-recipient rate limit (kept across restarts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoResponseLog {
    /// The recipient.
    pub user: UserId,
    /// Times of recent auto-responses, oldest first.
    pub sent: Vec<DateTime<Utc>>,
}

impl AutoResponseLog {
    /// An empty log.
    pub fn new(user: UserId) -> Self {
        AutoResponseLog { user, sent: Vec::new() }
    }

    /// Whether one more may be sent at `now`; if so, records it (and forgets
    /// times outside the window).
    ///
    /// ```
    /// use helpdesk_core::mail::*;
    /// use helpdesk_core::{testing::t0, UserId};
    /// let limit = RateLimit { max: 2, per_seconds: 3600 };
    /// let mut log = AutoResponseLog::new(UserId(1));
    /// assert!(log.admit(t0(), limit));
    /// assert!(log.admit(t0(), limit));
    /// assert!(!log.admit(t0() + chrono::Duration::minutes(59), limit));
    /// assert!(log.admit(t0() + chrono::Duration::minutes(61), limit));
    /// ```
    pub fn admit(&mut self, now: DateTime<Utc>, limit: RateLimit) -> bool {
        let since = now - Duration::seconds(limit.per_seconds as i64);
        self.sent.retain(|t| *t > since && *t <= now);
        if self.sent.len() >= limit.max as usize {
            return false;
        }
        self.sent.push(now);
        true
    }
}

/// What identifies one mail for duplicate detection: its `Message-ID`, its
/// sender and a hash of its text. A second delivery of the same mail (an SMTP
/// retry, a re-polled mailbox) matches all three; another mail that reuses a
/// Message-ID (a careless client, or someone probing) does not, and is taken
/// in as what it is.
///
/// ```
/// use helpdesk_core::mail::MailFingerprint;
/// let a = MailFingerprint::new("<1@x>", "Ann@Acme.com", "Hello");
/// assert_eq!(a, MailFingerprint::new(" <1@x> ", "ann@acme.com", "Hello"));
/// assert_ne!(a.key(), MailFingerprint::new("<1@x>", "eve@evil.test", "Hello").key());
/// assert_ne!(a.key(), MailFingerprint::new("<1@x>", "ann@acme.com", "Hello again").key());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailFingerprint {
    /// The Message-ID, trimmed.
    pub message_id: String,
    /// The sender's address, lower-case.
    pub sender: String,
    /// SHA-256 (hex) of the mail's text.
    pub body_sha256: String,
}

impl MailFingerprint {
    /// The fingerprint of a mail.
    pub fn new(message_id: &str, sender: &str, text: &str) -> Self {
        MailFingerprint {
            message_id: message_id.trim().to_string(),
            sender: sender.trim().to_lowercase(),
            body_sha256: hex(&Sha256::digest(text.as_bytes())),
        }
    }

    /// The record key: the first 8 bytes of the SHA-256 of all three.
    pub fn key(&self) -> u64 {
        let mut h = Sha256::new();
        for part in [&self.message_id, &self.sender, &self.body_sha256] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        u64::from_be_bytes(h.finalize()[..8].try_into().expect("8 bytes"))
    }
}

/// A mail taken in already ([`MailFingerprint`]), and the ticket it went to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenMail {
    /// [`MailFingerprint::key`].
    pub key: u64,
    /// The Message-ID.
    pub message_id: String,
    /// The ticket it went to.
    pub ticket: TicketId,
    /// The sender's address (empty in records written before senders were
    /// kept: those never match, so such a mail is taken in again at most once).
    #[serde(default)]
    pub sender: String,
    /// SHA-256 (hex) of the mail's text (empty in older records).
    #[serde(default)]
    pub body_sha256: String,
}

impl SeenMail {
    /// The record of a mail with this fingerprint taken into `ticket`.
    pub fn new(f: &MailFingerprint, ticket: TicketId) -> Self {
        SeenMail {
            key: f.key(),
            message_id: f.message_id.clone(),
            ticket,
            sender: f.sender.clone(),
            body_sha256: f.body_sha256.clone(),
        }
    }

    /// Whether this record is of the mail with fingerprint `f`.
    pub fn matches(&self, f: &MailFingerprint) -> bool {
        self.message_id == f.message_id && self.sender == f.sender && self.body_sha256 == f.body_sha256
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The content address of an attachment's bytes: `sha256-<hex>`.
///
/// ```
/// assert_eq!(
///     helpdesk_core::mail::blob_id(b"abc"),
///     "sha256-ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
pub fn blob_id(bytes: &[u8]) -> String {
    format!("sha256-{}", hex(&Sha256::digest(bytes)))
}

// ----- loops ----------------------------------------------------------------

/// Why an incoming mail is an auto-reply, a bounce or a loop: it creates no
/// ticket, posts no reply and gets no auto-response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum LoopReason {
    /// `Auto-Submitted` other than `no` (RFC 3834).
    AutoSubmitted(String),
    /// `Precedence: bulk`, `junk` or `auto_reply` (`list` is a person's mail
    /// to a list: taken in, without an auto-response).
    Precedence(String),
    /// An `X-Loop` header.
    XLoop(String),
    /// `X-Autoreply` / `X-Autorespond` headers.
    XAutoreply(String),
    /// An out-of-office or automatic reply known only by its subject
    /// (`Out of Office:`, `Automatic reply:`, `Abwesenheitsnotiz:`, ...):
    /// ignored unless the admin takes them in ([`AutoReplyPolicy`]).
    AutoReplySubject(String),
    /// Exchange's non-delivery report (`Undeliverable:` from
    /// `MicrosoftExchange...@`), which comes as an ordinary multipart mail.
    ExchangeBounce(String),
    /// From a mailer daemon, postmaster or similar system sender.
    SystemSender(String),
    /// An empty `Return-Path` (`<>`): a bounce or other notification.
    NullReturnPath,
    /// A delivery status or disposition report (`multipart/report`).
    Report(String),
    /// From one of this helpdesk's own addresses.
    OwnAddress(String),
    /// From a user an agent blocked (their mail is not taken in).
    BlockedSender(String),
}

impl fmt::Display for LoopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoopReason::AutoSubmitted(v) => write!(f, "auto-submitted mail (Auto-Submitted: {v})"),
            LoopReason::Precedence(v) => write!(f, "bulk or list mail (Precedence: {v})"),
            LoopReason::XLoop(v) => write!(f, "mail loop (X-Loop: {v})"),
            LoopReason::XAutoreply(v) => write!(f, "auto-reply ({v})"),
            LoopReason::AutoReplySubject(v) => write!(f, "automatic reply (subject starts {v:?})"),
            LoopReason::ExchangeBounce(v) => write!(f, "Exchange non-delivery report ({v})"),
            LoopReason::SystemSender(v) => write!(f, "mail from a system sender ({v})"),
            LoopReason::NullReturnPath => f.write_str("bounce or notification (empty Return-Path)"),
            LoopReason::Report(v) => write!(f, "delivery report ({v})"),
            LoopReason::OwnAddress(v) => write!(f, "mail from this helpdesk's own address {v}"),
            LoopReason::BlockedSender(v) => write!(f, "mail from a blocked user ({v})"),
        }
    }
}

/// Local parts of system senders that never get tickets.
const SYSTEM_SENDERS: [&str; 6] =
    ["mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply", "donotreply"];

/// Decides whether a mail is an auto-reply, bounce or loop, from its headers
/// (name, value; names in any case), its sender address and its top-level
/// content type. `own` lists this helpdesk's addresses.
///
/// ```
/// use helpdesk_core::mail::*;
/// let h = |n: &str, v: &str| (n.to_string(), v.to_string());
/// assert_eq!(loop_reason(&[h("Auto-Submitted", "no")], Some("ann@acme.com"), "text/plain", &[]), None);
/// assert!(loop_reason(&[h("auto-submitted", "auto-replied")], Some("ann@acme.com"), "text/plain", &[]).is_some());
/// assert!(loop_reason(&[], Some("MAILER-DAEMON@mx.acme.com"), "text/plain", &[]).is_some());
/// assert!(loop_reason(&[], Some("x@acme.com"), "multipart/report; report-type=delivery-status", &[]).is_some());
/// ```
pub fn loop_reason(
    headers: &[(String, String)],
    from: Option<&str>,
    content_type: &str,
    own: &[Email],
) -> Option<LoopReason> {
    for (name, value) in headers {
        let v = value.trim();
        let lv = v.to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "auto-submitted" if !lv.is_empty() && lv.split(';').next().map(str::trim) != Some("no") => {
                return Some(LoopReason::AutoSubmitted(v.to_string()))
            }
            "precedence" if ["bulk", "junk", "auto_reply"].contains(&lv.as_str()) => {
                return Some(LoopReason::Precedence(v.to_string()))
            }
            "x-loop" => return Some(LoopReason::XLoop(v.to_string())),
            "x-autoreply" | "x-autorespond" | "x-autoreply-from" | "x-mail-autoreply" => {
                return Some(LoopReason::XAutoreply(format!("{name}: {v}")))
            }
            "return-path"
                if lv.trim_matches(|c: char| c == '<' || c == '>' || c.is_whitespace()).is_empty() =>
            {
                return Some(LoopReason::NullReturnPath)
            }
            _ => {}
        }
    }
    let ct = content_type.to_ascii_lowercase();
    if ct.starts_with("multipart/report") || ct.starts_with("message/delivery-status") {
        return Some(LoopReason::Report(content_type.trim().to_string()));
    }
    if let Some(from) = from {
        let f = from.trim().to_ascii_lowercase();
        let local = f.split('@').next().unwrap_or("");
        if local.starts_with("microsoftexchange") {
            let subject = header(headers, "subject").unwrap_or_default();
            let ls = subject.trim_start().to_lowercase();
            if EXCHANGE_BOUNCES.iter().any(|p| ls.starts_with(p)) {
                return Some(LoopReason::ExchangeBounce(subject.trim().to_string()));
            }
        }
        if SYSTEM_SENDERS.contains(&local) || local.starts_with("mailer-daemon") {
            return Some(LoopReason::SystemSender(f));
        }
        if own.iter().any(|e| e.as_str() == f) {
            return Some(LoopReason::OwnAddress(f));
        }
    }
    None
}

/// The first value of header `name` (any case).
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.trim().eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Subject starts of Exchange's non-delivery reports, lower-case.
const EXCHANGE_BOUNCES: [&str; 5] =
    ["undeliverable:", "unzustellbar:", "non remis :", "non remis:", "onbestelbaar:"];

/// Subject starts of out-of-office and automatic replies in the languages
/// mail clients send them in, lower-case (compared after trimming).
pub const AUTO_REPLY_SUBJECTS: &[&str] = &[
    "out of office:",
    "out of office autoreply",
    "out-of-office:",
    "automatic reply:",
    "auto reply:",
    "auto-reply:",
    "autoreply:",
    "auto:",
    "abwesenheitsnotiz",
    "automatische antwort",
    "réponse automatique",
    "reponse automatique",
    "absence du bureau",
    "respuesta automática",
    "respuesta automatica",
    "fuera de la oficina",
    "risposta automatica",
    "fuori sede",
    "automatisch antwoord",
    "afwezig:",
    "resposta automática",
    "resposta automatica",
    "autosvar",
    "automaattinen vastaus",
    "odpowiedź automatyczna",
    "automatická odpověď",
    "автоматический ответ",
    "自動応答",
    "自动回复",
    "自動回覆",
];

/// Whether a subject says the mail is an out-of-office or automatic reply;
/// the marker it starts with. Mail clients that add no header for it
/// (Outlook in some setups, many webmailers) still say so here.
///
/// ```
/// use helpdesk_core::mail::auto_reply_subject;
/// assert_eq!(auto_reply_subject("Automatic reply: Printer on fire [#1]"), Some("automatic reply:"));
/// assert_eq!(auto_reply_subject("Abwesenheitsnotiz: Drucker"), Some("abwesenheitsnotiz"));
/// assert_eq!(auto_reply_subject("  AUTO: away until Monday"), Some("auto:"));
/// assert_eq!(auto_reply_subject("Automation question"), None);
/// assert_eq!(auto_reply_subject("Out of office hours support?"), None);
/// assert_eq!(auto_reply_subject("Out of Office: away until Monday"), Some("out of office:"));
/// ```
pub fn auto_reply_subject(subject: &str) -> Option<&'static str> {
    let s = subject.trim_start().to_lowercase();
    AUTO_REPLY_SUBJECTS.iter().copied().find(|p| s.starts_with(p))
}

/// Why a person's mail should get no auto-response (it is still taken in):
/// the sender asked for none (`X-Auto-Response-Suppress` with `OOF`,
/// `AutoReply` or `All`), or it went through a mailing list (`Precedence:
/// list`, `List-Id`, `List-Unsubscribe`), where an auto-response would go
/// to everyone on it.
///
/// ```
/// use helpdesk_core::mail::no_auto_response;
/// let h = |n: &str, v: &str| (n.to_string(), v.to_string());
/// assert!(no_auto_response(&[h("X-Auto-Response-Suppress", "OOF, DR")]).is_some());
/// assert!(no_auto_response(&[h("Precedence", "list")]).is_some());
/// assert!(no_auto_response(&[h("List-Id", "<support.acme.com>")]).is_some());
/// assert_eq!(no_auto_response(&[h("X-Auto-Response-Suppress", "DR, RN")]), None);
/// assert_eq!(no_auto_response(&[h("Subject", "Help")]), None);
/// ```
pub fn no_auto_response(headers: &[(String, String)]) -> Option<String> {
    for (name, value) in headers {
        let v = value.trim();
        let lv = v.to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "x-auto-response-suppress"
                if lv.split(',').map(str::trim).any(|t| ["oof", "autoreply", "all"].contains(&t)) =>
            {
                return Some(format!("the sender asked for none (X-Auto-Response-Suppress: {v})"))
            }
            "precedence" if lv == "list" => return Some("mailing list mail (Precedence: list)".into()),
            "list-id" | "list-unsubscribe" => return Some(format!("mailing list mail ({})", name.trim())),
            _ => {}
        }
    }
    None
}

/// What the gateway does with out-of-office and automatic replies known
/// only by their subject ([`auto_reply_subject`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoReplyPolicy {
    /// Ignore them: no ticket, no reply (the default).
    #[default]
    Ignore,
    /// Take them in as tickets or replies, never with an auto-response.
    TakeIn,
}

// ----- reply tokens -----------------------------------------------------------

/// Who a reply token was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenHolder {
    /// A user (owner or CC).
    User(UserId),
    /// An agent.
    Agent(AgentId),
    /// Someone else (an address a trigger mailed): finds the ticket, grants nothing.
    Other,
}

/// A verified reply token: the ticket it belongs to and whom it was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyToken {
    /// The ticket.
    pub ticket: TicketId,
    /// Whom the mail carrying it was sent to.
    pub holder: TokenHolder,
}

/// What the references of an incoming mail say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TokenCheck {
    /// No token of ours.
    Absent,
    /// A valid token (the last one found in the references).
    Valid(ReplyToken),
    /// Something shaped like our token whose signature does not verify.
    Forged,
}

/// Signs and verifies reply tokens: `hd-<ticket>-<u|a|x><id>-<mac>`, where
/// `mac` is HMAC-SHA256 over the ticket and holder with the installation's
/// secret, truncated to 128 bits (hex).
#[derive(Clone)]
pub struct ReplyTokens {
    secret: Vec<u8>,
}

impl fmt::Debug for ReplyTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplyTokens(..)")
    }
}

const TOKEN_PREFIX: &str = "hd-";

impl ReplyTokens {
    /// A signer with this secret.
    pub fn new(secret: &[u8]) -> Self {
        ReplyTokens { secret: secret.to_vec() }
    }

    fn mac(&self, ticket: TicketId, holder: &str) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        m.update(format!("helpdesk-reply-token-v1|{}|{holder}", ticket.0).as_bytes());
        hex(&m.finalize().into_bytes()[..16])
    }

    fn holder_str(holder: TokenHolder) -> String {
        match holder {
            TokenHolder::User(u) => format!("u{}", u.0),
            TokenHolder::Agent(a) => format!("a{}", a.0),
            TokenHolder::Other => "x0".to_string(),
        }
    }

    /// The token for mail about `ticket` sent to `holder`.
    pub fn sign(&self, ticket: TicketId, holder: TokenHolder) -> String {
        let h = Self::holder_str(holder);
        format!("{TOKEN_PREFIX}{}-{h}-{}", ticket.0, self.mac(ticket, &h))
    }

    /// A Message-ID (with angle brackets) carrying `token`; `unique` makes it
    /// unique per message (e.g. the outbox key), `domain` is the right-hand side.
    pub fn message_id(&self, token: &str, unique: &str, domain: &str) -> String {
        let unique: String = unique.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
        format!("<{token}.{unique}@{domain}>")
    }

    /// Checks one token (or a Message-ID that starts with one).
    pub fn verify(&self, s: &str) -> TokenCheck {
        let s = s.trim().trim_start_matches('<');
        let Some(rest) = s.strip_prefix(TOKEN_PREFIX) else { return TokenCheck::Absent };
        let token = rest.split(['.', '@', '>']).next().unwrap_or("");
        let mut parts = token.split('-');
        let (Some(t), Some(h), Some(mac), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return TokenCheck::Forged;
        };
        let Ok(ticket) = t.parse::<u64>() else { return TokenCheck::Forged };
        let holder = match (h.get(..1), h.get(1..).and_then(|n| n.parse::<u64>().ok())) {
            (Some("u"), Some(n)) => TokenHolder::User(UserId(n)),
            (Some("a"), Some(n)) => TokenHolder::Agent(AgentId(n)),
            (Some("x"), Some(0)) => TokenHolder::Other,
            _ => return TokenCheck::Forged,
        };
        let expected = self.mac(TicketId(ticket), &Self::holder_str(holder));
        // Compare in constant time.
        let ok = expected.len() == mac.len()
            && expected.bytes().zip(mac.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
            && Self::holder_str(holder) == h;
        if ok {
            TokenCheck::Valid(ReplyToken { ticket: TicketId(ticket), holder })
        } else {
            TokenCheck::Forged
        }
    }

    /// Looks through message ids (In-Reply-To, then References, in any order):
    /// the last valid token wins; `Forged` when only forged ones were found.
    pub fn find(&self, ids: &[String]) -> TokenCheck {
        let mut found = TokenCheck::Absent;
        for id in ids {
            match self.verify(id) {
                v @ TokenCheck::Valid(_) => found = v,
                TokenCheck::Forged if found == TokenCheck::Absent => found = TokenCheck::Forged,
                _ => {}
            }
        }
        found
    }
}

// ----- subjects -----------------------------------------------------------------

/// The ticket reference in a subject: `[#123]` (the last one wins).
///
/// ```
/// use helpdesk_core::{mail::subject_reference, TicketId};
/// assert_eq!(subject_reference("Re: Printer on fire [#42]"), Some(TicketId(42)));
/// assert_eq!(subject_reference("Order #42"), None);
/// ```
pub fn subject_reference(subject: &str) -> Option<TicketId> {
    let mut found = None;
    let mut rest = subject;
    while let Some(i) = rest.find("[#") {
        rest = &rest[i + 2..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if !digits.is_empty() && rest[digits.len()..].starts_with(']') {
            if let Ok(n) = digits.parse::<u64>() {
                found = Some(TicketId(n));
            }
        }
    }
    found
}

/// A subject with the ticket reference appended (once).
///
/// ```
/// use helpdesk_core::{mail::subject_with_reference, TicketId};
/// assert_eq!(subject_with_reference("Printer", TicketId(7)), "Printer [#7]");
/// assert_eq!(subject_with_reference("Printer [#7]", TicketId(7)), "Printer [#7]");
/// ```
pub fn subject_with_reference(subject: &str, id: TicketId) -> String {
    let tag = format!("[#{}]", id.0);
    if subject.contains(&tag) {
        subject.to_string()
    } else {
        format!("{} {tag}", subject.trim())
    }
}

const REPLY_PREFIXES: [&str; 8] = ["re", "aw", "sv", "vs", "antw", "réf", "ref", "odp"];
const FORWARD_PREFIXES: [&str; 4] = ["fwd", "fw", "wg", "tr"];

fn split_prefix(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    let colon = s.find(':')?;
    let p = &s[..colon];
    if p.is_empty() || p.len() > 6 || !p.chars().all(|c| c.is_alphabetic()) {
        return None;
    }
    Some((p, &s[colon + 1..]))
}

/// The subject without `Re:`, `Fwd:` and similar prefixes, and without a
/// ticket reference: what a new ticket from this mail is called.
///
/// ```
/// use helpdesk_core::mail::clean_subject;
/// assert_eq!(clean_subject("Re: AW: Fwd: Printer [#9]"), "Printer");
/// assert_eq!(clean_subject("   "), "");
/// ```
pub fn clean_subject(subject: &str) -> String {
    let mut s = subject.trim();
    while let Some((p, rest)) = split_prefix(s) {
        let p = p.to_lowercase();
        if REPLY_PREFIXES.contains(&p.as_str()) || FORWARD_PREFIXES.contains(&p.as_str()) {
            s = rest.trim_start();
        } else {
            break;
        }
    }
    let mut out = s.to_string();
    if let Some(id) = subject_reference(&out) {
        out = out.replace(&format!("[#{}]", id.0), "");
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether the subject says the mail is forwarded (`Fwd:`, `Fw:`, `WG:`).
pub fn is_forward(subject: &str) -> bool {
    split_prefix(subject).is_some_and(|(p, _)| FORWARD_PREFIXES.contains(&p.to_lowercase().as_str()))
}

// ----- quotes ---------------------------------------------------------------------

/// The line put at the top of outgoing mail; everything from it on in a
/// reply is quoted history.
pub const REPLY_ABOVE: &str = "##- Please type your reply above this line -##";

/// A reply's text with the quoted history cut off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trimmed {
    /// What the sender wrote.
    pub text: String,
    /// Whether anything was cut.
    pub trimmed: bool,
}

fn is_attribution(line: &str) -> bool {
    let l = line.trim();
    let lower = l.to_lowercase();
    // "On Mon, 5 Jan 2026 at 09:00, Ann <ann@acme.com> wrote:" and translations.
    (lower.starts_with("on ") && lower.ends_with("wrote:"))
        || (lower.starts_with("am ") && lower.ends_with("schrieb:"))
        || (lower.starts_with("le ") && lower.ends_with("a écrit :"))
        || (lower.starts_with("le ") && lower.ends_with("a écrit:"))
        || (lower.starts_with("el ") && lower.ends_with("escribió:"))
}

fn is_separator(line: &str) -> bool {
    let l = line.trim();
    let lower = l.to_lowercase();
    l == REPLY_ABOVE
        || lower.starts_with("-----original message-----")
        || lower.starts_with("----- original message -----")
        || (l.len() >= 20 && l.chars().all(|c| c == '_'))
}

fn is_outlook_header_block(lines: &[&str]) -> bool {
    // From: ... / Sent: ... (or Date:) / To: ... / Subject: ...
    let heads: Vec<String> =
        lines.iter().take(6).map(|l| l.trim().split(':').next().unwrap_or("").to_lowercase()).collect();
    heads.first().is_some_and(|h| h == "from")
        && heads.iter().any(|h| h == "sent" || h == "date")
        && heads.iter().any(|h| h == "subject")
}

/// Cuts quoted history from a reply: from our own [`REPLY_ABOVE`] marker,
/// an attribution line ("On ... wrote:"), an `-----Original Message-----` or
/// underscore separator, or an Outlook `From:/Sent:/Subject:` header block;
/// trailing `>` quoted lines go too. Forwarded content is kept (a
/// "Forwarded message" marker is not a cut). Never cuts everything: when
/// nothing would remain, the text is kept whole.
///
/// ```
/// use helpdesk_core::mail::trim_quoted;
/// let t = trim_quoted("Thanks, that fixed it.\n\nOn Mon, 5 Jan 2026, Alice wrote:\n> Try turning it off.\n");
/// assert_eq!(t.text, "Thanks, that fixed it.");
/// assert!(t.trimmed);
/// ```
pub fn trim_quoted(body: &str) -> Trimmed {
    let body = body.replace("\r\n", "\n");
    let lines: Vec<&str> = body.lines().collect();
    let mut cut = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let two_line_attribution = i + 1 < lines.len()
            && line.trim().to_lowercase().starts_with("on ")
            && !line.trim().ends_with(':')
            && lines[i + 1].trim().to_lowercase().ends_with("wrote:");
        if is_separator(line)
            || is_attribution(line)
            || two_line_attribution
            || is_outlook_header_block(&lines[i..])
        {
            cut = i;
            break;
        }
    }
    let mut kept = &lines[..cut];
    // Trailing quoted lines (and the blank lines around them).
    while let Some(last) = kept.last() {
        let l = last.trim();
        if l.is_empty() || l.starts_with('>') {
            kept = &kept[..kept.len() - 1];
        } else {
            break;
        }
    }
    let text = kept.join("\n").trim().to_string();
    if text.is_empty() {
        return Trimmed { text: body.trim().to_string(), trimmed: false };
    }
    let trimmed = text != body.trim();
    Trimmed { text, trimmed }
}

// ----- threading -------------------------------------------------------------------

/// Who sent an incoming mail, as far as the directory knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    /// The address is an agent's.
    Agent(AgentId),
    /// The address is a known user's.
    User(UserId),
    /// Nobody known yet.
    Unknown,
}

/// How a reply found its ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadedBy {
    /// A reply token in the references.
    Token,
    /// A `[#123]` reference in the subject.
    Subject,
}

/// Where an incoming mail goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum ThreadDecision {
    /// A message on an existing ticket, by `actor`.
    Reply {
        /// The ticket.
        ticket: TicketId,
        /// Who writes (the sender as a user, or the agent whose token it is).
        actor: Actor,
        /// How it was found.
        by: ThreadedBy,
    },
    /// A new ticket for the sender; `why` says why it is not a reply when it
    /// looked like one.
    NewTicket {
        /// Why not a reply (a stranger quoting someone else's ticket, a forged token).
        why: Option<String>,
    },
    /// Not accepted.
    Refuse {
        /// Why.
        reason: String,
    },
}

/// The threading decision. `token` is what [`ReplyTokens::find`] said of the
/// mail's references, `token_ticket` the ticket it names (if it exists),
/// `subject_ticket` the ticket the subject references (if it exists).
pub fn thread(
    sender: &Sender,
    token: &TokenCheck,
    token_ticket: Option<&Ticket>,
    subject_ticket: Option<&Ticket>,
) -> ThreadDecision {
    let mut why = None;
    if let (TokenCheck::Valid(tok), Some(t)) = (token, token_ticket) {
        match sender {
            Sender::Agent(a) if tok.holder == TokenHolder::Agent(*a) => {
                return ThreadDecision::Reply { ticket: t.id, actor: Actor::Agent(*a), by: ThreadedBy::Token }
            }
            Sender::Agent(a) => {
                return ThreadDecision::Refuse {
                    reason: format!(
                        "mail from the address of {a} does not carry that agent's reply token: \
                         agents reply by email only to their own notifications"
                    ),
                }
            }
            Sender::User(u) if t.is_participant(*u) => {
                return ThreadDecision::Reply { ticket: t.id, actor: Actor::User(*u), by: ThreadedBy::Token }
            }
            _ => why = Some(format!("the sender is not a participant of ticket {}", t.id)),
        }
    }
    if *token == TokenCheck::Forged {
        why = Some("the reply token in its references does not verify".to_string());
    }
    if let Some(t) = subject_ticket {
        match sender {
            Sender::User(u) if t.is_participant(*u) => {
                return ThreadDecision::Reply {
                    ticket: t.id,
                    actor: Actor::User(*u),
                    by: ThreadedBy::Subject,
                }
            }
            Sender::Agent(a) => {
                return ThreadDecision::Refuse {
                    reason: format!(
                        "mail from the address of {a} names ticket {} only in its subject: \
                         an agent's reply by email needs the agent's reply token",
                        t.id
                    ),
                }
            }
            _ => {
                why.get_or_insert_with(|| format!("the sender is not a participant of ticket {}", t.id));
            }
        }
    }
    if let Sender::Agent(a) = sender {
        return ThreadDecision::Refuse {
            reason: format!("mail from the address of {a} is not a reply to a notification: agents open tickets in the agent interface"),
        };
    }
    ThreadDecision::NewTicket { why }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    fn h(n: &str, v: &str) -> (String, String) {
        (n.to_string(), v.to_string())
    }

    #[test]
    fn loops_are_recognised() {
        let own = [Email::parse("support@helpdesk.test").unwrap()];
        type Case<'a> = (Vec<(String, String)>, &'a str, &'a str);
        let cases: Vec<Case> = vec![
            (vec![h("Auto-Submitted", "auto-generated")], "a@b.cc", "text/plain"),
            (vec![h("Precedence", "bulk")], "a@b.cc", "text/plain"),
            (vec![h("Precedence", "junk")], "a@b.cc", "text/plain"),
            (vec![h("X-Loop", "support@helpdesk.test")], "a@b.cc", "text/plain"),
            (vec![h("X-Autoreply", "yes")], "a@b.cc", "text/plain"),
            (vec![h("Return-Path", "<>")], "a@b.cc", "text/plain"),
            (vec![h("Subject", "Undeliverable: hello")], "MicrosoftExchange329e@acme.com", "multipart/mixed"),
            (vec![], "postmaster@b.cc", "text/plain"),
            (vec![], "Mailer-Daemon@b.cc", "text/plain"),
            (vec![], "support@helpdesk.test", "text/plain"),
            (vec![], "a@b.cc", "multipart/report; report-type=delivery-status"),
        ];
        for (headers, from, ct) in cases {
            assert!(loop_reason(&headers, Some(from), ct, &own).is_some(), "{headers:?} {from} {ct}");
        }
        let fine = [h("Auto-Submitted", "no"), h("Precedence", "first-class"), h("Return-Path", "<a@b.cc>")];
        assert_eq!(loop_reason(&fine, Some("a@b.cc"), "text/plain", &own), None);
        // A person's mail that only asks for no auto-response, or came through
        // a list, is taken in (see `no_auto_response`).
        for taken in
            [h("X-Auto-Response-Suppress", "All"), h("Precedence", "LIST"), h("List-Id", "<x.acme.com>")]
        {
            assert_eq!(
                loop_reason(std::slice::from_ref(&taken), Some("a@b.cc"), "text/plain", &own),
                None,
                "{taken:?}"
            );
            assert!(no_auto_response(std::slice::from_ref(&taken)).is_some(), "{taken:?}");
        }
        // Exchange's own mail that is not a bounce is not one.
        let note = [h("Subject", "Your mailbox is almost full")];
        assert_eq!(loop_reason(&note, Some("MicrosoftExchange329e@acme.com"), "text/plain", &own), None);
    }

    #[test]
    fn tokens_verify_and_forgeries_do_not() {
        let tokens = ReplyTokens::new(b"k1");
        let tok = tokens.sign(TicketId(7), TokenHolder::Agent(AgentId(2)));
        let mid = tokens.message_id(&tok, "v3.1", "hd.test");
        assert_eq!(
            tokens.verify(&mid),
            TokenCheck::Valid(ReplyToken { ticket: TicketId(7), holder: TokenHolder::Agent(AgentId(2)) })
        );
        // Another installation's key, a changed ticket or holder: forged.
        assert_eq!(ReplyTokens::new(b"k2").verify(&mid), TokenCheck::Forged);
        assert_eq!(tokens.verify(&mid.replace("hd-7-", "hd-8-")), TokenCheck::Forged);
        assert_eq!(tokens.verify(&mid.replace("-a2-", "-u2-")), TokenCheck::Forged);
        assert_eq!(tokens.verify(&mid.replace("-a2-", "-a02-")), TokenCheck::Forged);
        assert_eq!(tokens.verify("<CAF=abc@mail.gmail.com>"), TokenCheck::Absent);
        assert_eq!(tokens.verify("<hd-garbage@x>"), TokenCheck::Forged);
        assert_eq!(
            tokens.find(&["<x@y>".into(), "<hd-1-u1-00@x>".into(), mid.clone()]),
            TokenCheck::Valid(ReplyToken { ticket: TicketId(7), holder: TokenHolder::Agent(AgentId(2)) })
        );
        assert_eq!(tokens.find(&["<hd-1-u1-00@x>".into()]), TokenCheck::Forged);
    }

    #[test]
    fn strangers_never_post_into_someone_elses_ticket() {
        let tokens = ReplyTokens::new(b"k");
        let (t, _) = sample_ticket(); // owner user 1
        let owner_token =
            tokens.find(&[tokens.message_id(&tokens.sign(t.id, TokenHolder::User(UserId(1))), "a", "h")]);
        // Eve (user 3) with Ann's token (a forwarded notification) and subject ref: new ticket.
        let d = thread(&Sender::User(UserId(3)), &owner_token, Some(&t), Some(&t));
        assert!(matches!(d, ThreadDecision::NewTicket { why: Some(_) }), "{d:?}");
        // Unknown sender with a subject reference only: new ticket.
        let d = thread(&Sender::Unknown, &TokenCheck::Absent, None, Some(&t));
        assert!(matches!(d, ThreadDecision::NewTicket { why: Some(_) }), "{d:?}");
        // The owner by subject: a reply.
        let d = thread(&Sender::User(UserId(1)), &TokenCheck::Absent, None, Some(&t));
        assert_eq!(
            d,
            ThreadDecision::Reply { ticket: t.id, actor: Actor::User(UserId(1)), by: ThreadedBy::Subject }
        );
        // A forged token and no subject: new ticket, saying why.
        let d = thread(&Sender::User(UserId(1)), &TokenCheck::Forged, None, None);
        assert!(matches!(d, ThreadDecision::NewTicket { why: Some(ref w) } if w.contains("does not verify")));
    }

    #[test]
    fn nobody_poses_as_an_agent() {
        let tokens = ReplyTokens::new(b"k");
        let (t, _) = sample_ticket();
        let user_token = tokens.find(&[tokens.sign(t.id, TokenHolder::User(UserId(1)))]);
        let agent_token = tokens.find(&[tokens.sign(t.id, TokenHolder::Agent(AgentId(1)))]);
        // From Alice's address with Ann's token, with only a subject ref, or with nothing: refused.
        for (tok, subj) in [(&user_token, None), (&TokenCheck::Absent, Some(&t)), (&TokenCheck::Absent, None)]
        {
            let d = thread(&Sender::Agent(AgentId(1)), tok, Some(&t), subj);
            assert!(matches!(d, ThreadDecision::Refuse { .. }), "{d:?}");
        }
        // With her own token: an agent reply.
        let d = thread(&Sender::Agent(AgentId(1)), &agent_token, Some(&t), None);
        assert_eq!(
            d,
            ThreadDecision::Reply { ticket: t.id, actor: Actor::Agent(AgentId(1)), by: ThreadedBy::Token }
        );
        // Bob's address with Alice's token: refused.
        let d = thread(&Sender::Agent(AgentId(2)), &agent_token, Some(&t), None);
        assert!(matches!(d, ThreadDecision::Refuse { .. }));
    }

    #[test]
    fn quotes_are_trimmed_but_never_everything() {
        let gmail = "Works now!\n\nOn Tue, Jan 6, 2026 at 10:00 AM Support <support@hd.test> wrote:\n> Did you try?\n";
        assert_eq!(trim_quoted(gmail).text, "Works now!");
        let wrapped =
            "Works now!\n\nOn Tue, Jan 6, 2026 at 10:00 AM Support\n<support@hd.test> wrote:\n> Did you try?";
        assert_eq!(trim_quoted(wrapped).text, "Works now!");
        let outlook = "Yes.\r\n\r\n________________________________\r\nFrom: Support\r\nSent: Monday\r\nTo: Ann\r\nSubject: Re: x\r\n\r\nold";
        assert_eq!(trim_quoted(outlook).text, "Yes.");
        let outlook2 = "Yes.\n\nFrom: Support <s@hd.test>\nSent: Monday, January 5, 2026 9:00 AM\nTo: Ann\nSubject: x\n\nold";
        assert_eq!(trim_quoted(outlook2).text, "Yes.");
        let ours = format!("New info.\n{REPLY_ABOVE}\nSupport wrote...");
        assert_eq!(trim_quoted(&ours).text, "New info.");
        let inline = "> quoted\nmy answer\n> more quoted\n";
        assert_eq!(trim_quoted(inline).text, "> quoted\nmy answer");
        let forwarded = "FYI\n\n---------- Forwarded message ---------\nFrom: Bob <bob@x.test>\nDate: Mon\nSubject: broken\nTo: Ann\n\nIt is broken.";
        // An Outlook-style block after a forward marker is still a cut:
        // forwarded mail is not trimmed by the gateway (see is_forward).
        assert!(trim_quoted(forwarded).text.starts_with("FYI"));
        let only_quote = "On Mon, Ann wrote:\n> hello";
        let t = trim_quoted(only_quote);
        assert_eq!(t.text, only_quote);
        assert!(!t.trimmed);
    }

    #[test]
    fn subjects() {
        assert_eq!(clean_subject("RE: Re: [#12] Printer"), "Printer");
        assert_eq!(clean_subject("Meeting: tomorrow"), "Meeting: tomorrow");
        assert!(is_forward("Fwd: broken"));
        assert!(is_forward("WG: kaputt"));
        assert!(!is_forward("Re: broken"));
        assert_eq!(subject_reference("[#1] and [#22]"), Some(TicketId(22)));
        assert_eq!(subject_reference("[#] [#x1]"), None);
        assert_eq!(subject_reference("[#99999999999999999999999]"), None);
    }
}
