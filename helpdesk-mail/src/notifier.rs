//! Delivery channels: the [`Notifier`] trait and the three built in —
//! [`EmailNotifier`] (SMTP with lettre), [`InAppHub`] (a broadcast stream the
//! agent server's notifications bay subscribes to) and [`WebhookNotifier`]
//! (an HTTP POST of the ticket as JSON, with ureq).

use crate::outbound::{compose, ticket_at};
use chrono::{DateTime, Utc};
use helpdesk_core::mail::{EmailAccount, Relay, RelaySecurity};
use helpdesk_core::*;
use helpdesk_store::Helpdesk;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::broadcast;

/// Why a delivery attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying later (connection refused, 4xx from SMTP, HTTP 5xx).
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Will never work (no such recipient, 5xx from SMTP, HTTP 4xx).
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl DeliveryError {
    /// A storage failure: transient (the store may come back).
    pub fn from_store(e: helpdesk_store::Error) -> Self {
        DeliveryError::Transient(e.to_string())
    }
}

/// A delivery channel. The worker hands each due outbox item to the first
/// notifier that [`accepts`](Notifier::accepts) it.
///
/// Implement it to plug in a channel of your own (chat, SMS); it must be
/// idempotent enough to be retried after a transient failure.
pub trait Notifier: Send + Sync {
    /// A short name for messages (`email`, `in_app`, `webhook`).
    fn name(&self) -> &'static str;
    /// Whether this notifier delivers `effect`.
    fn accepts(&self, effect: &Effect) -> bool;
    /// Delivers one item: `Sent` or `Skipped(why)`, or an error.
    fn deliver(&self, item: &OutboxItem) -> Result<DeliveryOutcome, DeliveryError>;
}

// ----- email ------------------------------------------------------------------------

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text (a relay on loopback, tests).
    None,
    /// STARTTLS, required.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Where outgoing mail is handed over. Its `Debug` hides the password.
#[derive(Clone)]
pub struct SmtpConfig {
    /// Relay host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Security.
    pub security: SmtpSecurity,
    /// Login, if the relay wants one.
    pub credentials: Option<(String, String)>,
    /// Per-command timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("login", &self.credentials.as_ref().map(|(u, _)| u))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SmtpConfig {
    /// A plain relay on `host:port` (e.g. the local MTA on 127.0.0.1:25).
    pub fn plain(host: impl Into<String>, port: u16) -> Self {
        SmtpConfig {
            host: host.into(),
            port,
            security: SmtpSecurity::None,
            credentials: None,
            timeout: Duration::from_secs(30),
        }
    }

    /// An email account's own relay, logging in with `password` when the
    /// relay has a login name.
    ///
    /// ```
    /// use helpdesk_core::mail::{Relay, RelaySecurity};
    /// use helpdesk_mail::SmtpConfig;
    /// let relay = Relay { host: "smtp.acme.example".into(), port: 465, security: RelaySecurity::Tls, username: Some("sales".into()) };
    /// let c = SmtpConfig::for_relay(&relay, Some("pw".into()));
    /// assert_eq!(c.describe(), "smtp.acme.example:465 (TLS) as sales");
    /// ```
    pub fn for_relay(relay: &Relay, password: Option<String>) -> SmtpConfig {
        SmtpConfig {
            host: relay.host.clone(),
            port: relay.port,
            security: match relay.security {
                RelaySecurity::None => SmtpSecurity::None,
                RelaySecurity::StartTls => SmtpSecurity::StartTls,
                RelaySecurity::Tls => SmtpSecurity::Tls,
            },
            credentials: relay.username.clone().map(|u| (u, password.unwrap_or_default())),
            timeout: Duration::from_secs(30),
        }
    }

    /// `host:port (security)` and the login name: what screens show (never
    /// the password).
    pub fn describe(&self) -> String {
        let sec = match self.security {
            SmtpSecurity::None => "plain",
            SmtpSecurity::StartTls => "STARTTLS",
            SmtpSecurity::Tls => "TLS",
        };
        match &self.credentials {
            Some((u, _)) => format!("{}:{} ({sec}) as {u}", self.host, self.port),
            None => format!("{}:{} ({sec})", self.host, self.port),
        }
    }

    fn transport(&self) -> Result<SmtpTransport, DeliveryError> {
        let tls = |host: &str| {
            TlsParameters::new(host.to_string())
                .map_err(|e| DeliveryError::Permanent(format!("TLS setup: {e}")))
        };
        let security = match self.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls(&self.host)?),
            SmtpSecurity::Tls => Tls::Wrapper(tls(&self.host)?),
        };
        let mut b = SmtpTransport::builder_dangerous(self.host.clone())
            .port(self.port)
            .tls(security)
            .timeout(Some(self.timeout));
        if let Some((user, pass)) = &self.credentials {
            b = b.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(b.build())
    }
}

/// An account's relay, its password and the transport built for them.
type AccountTransport = (Relay, Option<String>, SmtpTransport);

/// Sends email notifications over SMTP (lettre): through the relay of the
/// ticket department's email account when it has one of its own, else the
/// server's relay (with none, the item is `Skipped` with the reason).
/// Auto-responses are subject to the per-recipient rate limit of the mail
/// settings (kept in the store, so it holds across restarts): over it, the
/// item is `Skipped`.
pub struct EmailNotifier {
    hd: Helpdesk,
    default: Option<SmtpTransport>,
    /// Accounts' own relays, built once per relay and password.
    accounts: Mutex<HashMap<EmailAccountId, AccountTransport>>,
    /// The helpdesk's URL when its settings have none (links in mail).
    public_url: Option<String>,
}

impl std::fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailNotifier").finish_non_exhaustive()
    }
}

impl EmailNotifier {
    /// A notifier sending through the relay `config` describes (and the
    /// accounts' own relays).
    pub fn new(hd: Helpdesk, config: &SmtpConfig) -> Result<Self, DeliveryError> {
        Ok(EmailNotifier {
            hd,
            default: Some(config.transport()?),
            accounts: Mutex::default(),
            public_url: None,
        })
    }

    /// The helpdesk's URL for links in mail when its settings name none
    /// (the server's `--public-url`).
    pub fn with_public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// A notifier sending only through the accounts' own relays (the
    /// server has none).
    pub fn accounts_only(hd: Helpdesk) -> Self {
        EmailNotifier { hd, default: None, accounts: Mutex::default(), public_url: None }
    }

    /// The transport for mail from `account`, if there is a relay for it.
    fn transport_for(&self, account: EmailAccountId) -> Result<Option<SmtpTransport>, DeliveryError> {
        let a = self.hd.email_account(account).map_err(DeliveryError::from_store)?;
        let Some(relay) = a.relay else { return Ok(self.default.clone()) };
        let password = self.hd.relay_password(a.id).map_err(DeliveryError::from_store)?;
        let mut cache = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((r, p, t)) = cache.get(&a.id) {
            if *r == relay && *p == password {
                return Ok(Some(t.clone()));
            }
        }
        let t = SmtpConfig::for_relay(&relay, password.clone()).transport()?;
        cache.insert(a.id, (relay, password, t.clone()));
        Ok(Some(t))
    }
}

/// What [`send_test_mail`] asks for. Its `Debug` hides the password.
#[derive(Clone)]
pub struct TestMailRequest<'a> {
    /// The account to send from.
    pub account: &'a EmailAccount,
    /// Its relay's password (when it has a relay of its own).
    pub password: Option<String>,
    /// The server's relay, used when the account has none.
    pub server_relay: Option<&'a SmtpConfig>,
    /// The recipient.
    pub to: &'a str,
    /// The helpdesk's name (in the subject and text).
    pub helpdesk: &'a str,
}

impl std::fmt::Debug for TestMailRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestMailRequest")
            .field("account", &self.account.address)
            .field("server_relay", &self.server_relay)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

/// Sends a test mail from an account through the relay its mail leaves by,
/// and says what the relay answered (its reply code and text, or the
/// error): what Admin > Email accounts shows after "Send test mail".
pub fn send_test_mail(r: &TestMailRequest<'_>) -> helpdesk_store::admin::TestMail {
    let config =
        match (&r.account.relay, r.server_relay) {
            (Some(relay), _) => SmtpConfig::for_relay(relay, r.password.clone()),
            (None, Some(c)) => c.clone(),
            (None, None) => return helpdesk_store::admin::TestMail {
                to: r.to.to_string(),
                relay: "none".into(),
                accepted: false,
                answer:
                    "No relay: give the account a relay of its own, or start the server with --smtp-relay."
                        .into(),
            },
        };
    let described = if r.account.relay.is_some() {
        config.describe()
    } else {
        format!("the server's relay {}", config.describe())
    };
    let result = (|| {
        let to: lettre::Address =
            r.to.trim().parse().map_err(|e| format!("{:?} is not an address: {e}", r.to))?;
        let from: lettre::Address = r.account.address.as_str().parse().map_err(|e| format!("{e}"))?;
        let message = lettre::Message::builder()
            .from(lettre::message::Mailbox::new(Some(r.account.name.clone()), from))
            .to(lettre::message::Mailbox::new(None, to))
            .subject(format!("Test mail from {}", r.helpdesk))
            .message_id(Some(format!(
                "<test-{}@{}>",
                &helpdesk_store::auth::random_token()[..24],
                r.account.address.domain()
            )))
            .date_now()
            .header(crate::outbound::AutoSubmitted("auto-generated".into()))
            .header(lettre::message::header::MIME_VERSION_1_0)
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(format!(
                "This is a test mail from the email account {} of {}, sent by {}.\n\nIf you can read this, mail from this account arrives.\n",
                r.account.address, r.helpdesk, described
            ))
            .map_err(|e| format!("cannot build the mail: {e}"))?;
        let transport = config.transport().map_err(|e| e.to_string())?;
        transport.send(&message).map_err(|e| e.to_string())
    })();
    let (accepted, answer) = match result {
        Ok(resp) => {
            (resp.is_positive(), format!("{} {}", resp.code(), resp.message().collect::<Vec<_>>().join(" ")))
        }
        Err(e) => (false, e),
    };
    helpdesk_store::admin::TestMail { to: r.to.trim().to_string(), relay: described, accepted, answer }
}

fn smtp_error(e: lettre::transport::smtp::Error) -> DeliveryError {
    if e.is_permanent() {
        DeliveryError::Permanent(e.to_string())
    } else {
        DeliveryError::Transient(e.to_string())
    }
}

impl Notifier for EmailNotifier {
    fn name(&self) -> &'static str {
        "email"
    }

    fn accepts(&self, effect: &Effect) -> bool {
        matches!(effect, Effect::Notify(n) if n.channel == DeliveryChannel::Email)
    }

    fn deliver(&self, item: &OutboxItem) -> Result<DeliveryOutcome, DeliveryError> {
        let mails = compose(&self.hd, item, self.public_url.as_deref())?;
        if mails.is_empty() {
            return Ok(DeliveryOutcome::Skipped("no recipient may see this ticket".into()));
        }
        // The relay first: mail that cannot leave uses up no auto-response.
        let Some(transport) = self.transport_for(mails[0].account)? else {
            return Ok(DeliveryOutcome::Skipped(
                "no SMTP relay: give the email account one, or start the server with --smtp-relay".into(),
            ));
        };
        for m in &mails {
            if let Some(u) = m.auto_response_to {
                // Counted only on the first attempt: a retry was admitted already.
                if item.attempts == 0 && !self.hd.admit_auto_response(u).map_err(DeliveryError::from_store)? {
                    let limit = self.hd.mail_settings().map_err(DeliveryError::from_store)?.auto_responses;
                    return Ok(DeliveryOutcome::Skipped(format!(
                        "auto-response rate limit: {} already got {} in {} s",
                        m.to, limit.max, limit.per_seconds
                    )));
                }
            }
        }
        for m in &mails {
            transport.send(&m.message).map_err(smtp_error)?;
        }
        Ok(DeliveryOutcome::Sent)
    }
}

/// Sends mail that belongs to no ticket — account mail such as address
/// validation links — over the same kind of relay as [`EmailNotifier`].
/// Marked `Auto-Submitted: auto-generated` so auto-responders stay quiet.
///
/// ```no_run
/// use helpdesk_mail::{PlainSender, SmtpConfig};
/// let sender = PlainSender::new(&SmtpConfig::plain("127.0.0.1", 25), "Support", "support@example.com").unwrap();
/// sender.send("ann@example.com", "Confirm your email address", "Follow the link ...").unwrap();
/// ```
pub struct PlainSender {
    transport: SmtpTransport,
    from: lettre::message::Mailbox,
}

impl std::fmt::Debug for PlainSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainSender").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl PlainSender {
    /// A sender through the relay `config` describes, from `name <address>`.
    pub fn new(config: &SmtpConfig, name: &str, address: &str) -> Result<Self, DeliveryError> {
        let address: lettre::Address = address
            .parse()
            .map_err(|e| DeliveryError::Permanent(format!("sender address {address:?} not usable: {e}")))?;
        let name = (!name.trim().is_empty()).then(|| name.trim().to_string());
        Ok(PlainSender { transport: config.transport()?, from: lettre::message::Mailbox::new(name, address) })
    }

    /// The `From` mailbox.
    pub fn from(&self) -> String {
        self.from.to_string()
    }

    /// Sends one plain-text mail to `to`.
    pub fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), DeliveryError> {
        let to: lettre::Address =
            to.parse().map_err(|e| DeliveryError::Permanent(format!("address {to:?} not usable: {e}")))?;
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(lettre::message::Mailbox::new(None, to))
            .subject(subject)
            .header(crate::outbound::AutoSubmitted("auto-generated".into()))
            .header(lettre::message::header::MIME_VERSION_1_0)
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| DeliveryError::Permanent(format!("cannot build mail: {e}")))?;
        self.transport.send(&message).map_err(smtp_error)?;
        Ok(())
    }
}

// ----- in-app ------------------------------------------------------------------------

/// One entry of an agent's notifications bay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InAppNotification {
    /// The outbox item it came from (unique).
    pub key: OutboxKey,
    /// The agent it is for.
    pub agent: AgentId,
    /// The ticket.
    pub ticket: TicketId,
    /// The ticket's subject.
    pub subject: String,
    /// Why (`new_ticket`, `user_reply`, ... or a trigger's name).
    pub reason: String,
    /// When the change was made.
    pub at: DateTime<Utc>,
}

/// Delivers in-app notifications to whoever subscribes (the agent server's
/// notifications bay, one receiver per connected agent, filtering on
/// [`InAppNotification::agent`]). Cheap to clone; all clones share the stream.
///
/// Delivery never waits for a reader: with nobody connected the item still
/// counts as sent (the bay can show missed ones from the ticket logs).
///
/// On a store several nodes share, the node whose worker delivers an item
/// also announces it ([`Store::announce`] on [`IN_APP_CHANNEL`]); each
/// other node hands what it hears to [`relay`](InAppHub::relay), so an
/// agent connected to any node sees it.
#[derive(Debug, Clone)]
pub struct InAppHub {
    hd: Helpdesk,
    tx: broadcast::Sender<InAppNotification>,
}

impl InAppHub {
    /// A hub keeping up to `capacity` notifications for slow readers.
    pub fn new(hd: Helpdesk, capacity: usize) -> Self {
        InAppHub { hd, tx: broadcast::channel(capacity.max(1)).0 }
    }

    /// A new receiver of every notification from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<InAppNotification> {
        self.tx.subscribe()
    }

    /// Hands on notifications another node delivered (the body of a
    /// [`Notice::App`] on [`IN_APP_CHANNEL`]) to this node's subscribers.
    /// A body that is not one is ignored, saying so in the log.
    pub fn relay(&self, body: &serde_json::Value) {
        match serde_json::from_value::<InAppAnnouncement>(body.clone()) {
            Ok(a) => {
                for agent in a.agents {
                    let _ = self.tx.send(InAppNotification { agent, ..a.notification.clone() });
                }
            }
            Err(e) => tracing::warn!("ignoring an unreadable in-app announcement: {e}"),
        }
    }
}

/// The [`Store::announce`] channel of in-app notifications.
pub const IN_APP_CHANNEL: &str = "in_app";

/// What a node announces of an in-app delivery: the notification (its
/// `agent` is the first of `agents`) and everyone it is for.
#[derive(Serialize, Deserialize)]
struct InAppAnnouncement {
    notification: InAppNotification,
    agents: Vec<AgentId>,
}

/// Agents per announcement (each stays far below the notice size limit
/// whatever the subject's length: subjects are at most 255 characters).
const ANNOUNCE_AGENTS: usize = 400;

impl Notifier for InAppHub {
    fn name(&self) -> &'static str {
        "in_app"
    }

    fn accepts(&self, effect: &Effect) -> bool {
        matches!(effect, Effect::Notify(n) if n.channel == DeliveryChannel::InApp)
    }

    fn deliver(&self, item: &OutboxItem) -> Result<DeliveryOutcome, DeliveryError> {
        let Effect::Notify(n) = &item.effect else {
            return Err(DeliveryError::Permanent("not a notification".into()));
        };
        let ticket = ticket_at(&self.hd, item.key.ticket, item.key.version)?;
        let agents: Vec<AgentId> = match &n.recipient {
            Recipient::Agent(a) => vec![*a],
            Recipient::Team(t) => self
                .hd
                .agents()
                .map_err(DeliveryError::from_store)?
                .into_iter()
                .filter(|a| a.teams.contains(t) && !a.disabled && a.permissions.can_see(ticket.department))
                .map(|a| a.id)
                .collect(),
            Recipient::User(_) | Recipient::Address(_) => {
                return Ok(DeliveryOutcome::Skipped("in-app notifications are for agents".into()))
            }
        };
        let template = |agent| InAppNotification {
            key: item.key,
            agent,
            ticket: ticket.id,
            subject: ticket.subject.clone(),
            reason: n.reason.clone(),
            at: ticket.updated_at,
        };
        for agent in &agents {
            // An error only means nobody is subscribed right now.
            let _ = self.tx.send(template(*agent));
        }
        if self.hd.store().shared() {
            for chunk in agents.chunks(ANNOUNCE_AGENTS) {
                let body = serde_json::to_value(InAppAnnouncement {
                    notification: template(chunk[0]),
                    agents: chunk.to_vec(),
                })
                .map_err(|e| DeliveryError::Permanent(format!("encoding the announcement: {e}")))?;
                // Best effort, like the local stream: the ticket log keeps it.
                if let Err(e) = self.hd.store().announce(IN_APP_CHANNEL, &body) {
                    tracing::warn!("cannot tell the other nodes of an in-app notification: {e}");
                }
            }
        }
        Ok(DeliveryOutcome::Sent)
    }
}

// ----- webhooks ------------------------------------------------------------------------

/// The JSON body of a webhook call.
#[derive(Debug, Serialize)]
pub struct WebhookPayload<'a> {
    /// Who asked for it (a trigger's name).
    pub origin: &'a str,
    /// The outbox item (unique: receivers can drop repeats).
    pub key: OutboxKey,
    /// The ticket as it was after the change.
    pub ticket: &'a Ticket,
}

/// Calls webhooks: an HTTP POST of [`WebhookPayload`] as JSON. 2xx is sent;
/// 408, 429 and 5xx are retried; other statuses fail for good.
pub struct WebhookNotifier {
    hd: Helpdesk,
    agent: ureq::Agent,
}

impl std::fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookNotifier").finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    /// A notifier whose calls time out after `timeout`.
    pub fn new(hd: Helpdesk, timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build();
        WebhookNotifier { hd, agent: ureq::Agent::new_with_config(config) }
    }
}

impl Notifier for WebhookNotifier {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn accepts(&self, effect: &Effect) -> bool {
        matches!(effect, Effect::Webhook(_))
    }

    fn deliver(&self, item: &OutboxItem) -> Result<DeliveryOutcome, DeliveryError> {
        let Effect::Webhook(w) = &item.effect else {
            return Err(DeliveryError::Permanent("not a webhook".into()));
        };
        if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
            return Err(DeliveryError::Permanent(format!("{:?} is not an http(s) URL", w.url)));
        }
        let ticket = ticket_at(&self.hd, item.key.ticket, item.key.version)?;
        let body = serde_json::to_vec(&WebhookPayload { origin: &w.origin, key: item.key, ticket: &ticket })
            .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        let resp = self
            .agent
            .post(&w.url)
            .header("content-type", "application/json")
            .header("idempotency-key", item.key.to_string())
            .send(&body[..])
            .map_err(|e| DeliveryError::Transient(format!("{}: {e}", w.url)))?;
        let status = resp.status().as_u16();
        match status {
            200..=299 => Ok(DeliveryOutcome::Sent),
            408 | 429 | 500..=599 => Err(DeliveryError::Transient(format!("{} answered {status}", w.url))),
            _ => Err(DeliveryError::Permanent(format!("{} answered {status}", w.url))),
        }
    }
}
