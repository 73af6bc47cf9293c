//! # helpdesk-web
//!
//! The shared web layer of helpdesk-rs: warp filters for the **agent server**
//! (JSON API and the agent web UI), the **user portal** (HTML forms) and the
//! **website embed** (a script tag that renders a contact form), plus error
//! mapping, authentication, the OpenAPI document and demo data.
//!
//! Everything here calls the [`Helpdesk`] library API; this crate adds only
//! HTTP, HTML and configuration (DESIGN rule 8). The `Helpdesk` API is
//! synchronous, so handlers call it through [`tokio::task::spawn_blocking`].
//!
//! ```no_run
//! # async fn run() {
//! use helpdesk_web::{App, Config};
//! use std::time::Duration;
//! let hd = helpdesk_store::Helpdesk::in_memory();
//! let app = App::new(hd, Config::default());
//! // Deliver notifications: in-app to the agents' bay (add email and webhook
//! // notifiers from helpdesk-mail to the list).
//! app.start_delivery(Vec::new(), Duration::from_secs(1));
//! warp::serve(helpdesk_web::routes(app)).run(([127, 0, 0, 1], 8080)).await;
//! # }
//! ```
//!
//! [`serve::start`] does all of that (and more: SMTP in and out, the
//! automation sweep) from command-line options.
#![warn(missing_docs)]

pub mod admin;
pub mod agent;
pub mod auth;
pub mod custom_filters;
pub mod demo;
pub mod embed;
pub mod error;
pub mod files;
pub mod filters;
pub mod macros;
pub mod mail;
pub mod openapi;
pub mod password_reset;
pub mod portal;
pub mod profile;
pub mod queue;
pub mod relations;
pub mod serve;
pub mod snippets;
pub mod text;
pub mod workspace;

use error::ApiError;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use helpdesk_core::{Actor, AgentId, Notice, Ticket, TicketEvent};
use helpdesk_mail::{DeliveryWorker, InAppHub, InAppNotification, Notifier, WorkerHandle};
use helpdesk_store::Helpdesk;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

/// Settings of the web layer.
#[derive(Debug, Clone)]
pub struct Config {
    /// The URL people reach the server at (for links in emails), without a trailing slash.
    pub public_url: String,
    /// Mark cookies `Secure` (set when serving over HTTPS).
    pub secure_cookies: bool,
    /// Origins allowed to post the embed form; empty means any origin.
    pub embed_origins: Vec<String>,
    /// Login attempts allowed per minute, per client address and per account.
    pub login_per_minute: u32,
    /// Second factors (codes from an app, recovery codes) an agent may try
    /// per [`SECOND_FACTOR_WINDOW`]: all at once, then one every
    /// window / tries (5: one every two minutes, about 700 a day, so six
    /// guessed digits have a chance of about 0.2% a day).
    pub second_factor_tries: u32,
    /// Embed submissions allowed per minute, per client address.
    pub embed_per_minute: u32,
    /// Portal registrations allowed per minute, per client address.
    pub register_per_minute: u32,
    /// The server's SMTP relay (`--smtp-relay`), for mail from accounts
    /// without one of their own (Admin's "Send test mail" uses it too).
    pub smtp_relay: Option<helpdesk_mail::SmtpConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            public_url: "http://127.0.0.1:8080".into(),
            secure_cookies: false,
            embed_origins: Vec::new(),
            login_per_minute: 10,
            second_factor_tries: SECOND_FACTOR_TRIES,
            embed_per_minute: 5,
            register_per_minute: 5,
            smtp_relay: None,
        }
    }
}

/// An email the web layer asks to be sent (email validation links).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutgoingMail {
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// Where the web layer's own emails go. The default logs them (tracing, at
/// info level); the email gateway plugs in here.
pub trait Mailer: Send + Sync {
    /// Sends (or queues) one email.
    fn send(&self, mail: OutgoingMail);
    /// Finishes what is queued before the server stops (default: nothing queued).
    fn close(&self) {}
}

/// A [`Mailer`] that logs each email.
#[derive(Debug, Default)]
pub struct LogMailer;

impl Mailer for LogMailer {
    fn send(&self, mail: OutgoingMail) {
        tracing::info!(to = %mail.to, subject = %mail.subject, body = %mail.body, "email (log mailer)");
    }
}

/// A [`Mailer`] that sends through an SMTP relay ([`helpdesk_mail::PlainSender`])
/// on a thread of its own, so requests never wait for the relay. A
/// temporary failure is retried with backoff (1 s, 2 s, 4 s, ... up to
/// [`SmtpMailer::ATTEMPTS`] attempts); what finally fails is logged at
/// error level with the recipient and the reason.
#[derive(Debug)]
pub struct SmtpMailer {
    queue: queue::WorkQueue<OutgoingMail>,
}

impl SmtpMailer {
    /// Attempts per email.
    pub const ATTEMPTS: u32 = 6;

    /// A mailer sending with `sender`.
    pub fn new(sender: helpdesk_mail::PlainSender) -> SmtpMailer {
        let queue = queue::WorkQueue::start("mailer", move |mail: OutgoingMail| {
            let mut wait = Duration::from_secs(1);
            for attempt in 1..=Self::ATTEMPTS {
                match sender.send(&mail.to, &mail.subject, &mail.body) {
                    Ok(()) => {
                        tracing::info!(to = %mail.to, subject = %mail.subject, "email sent");
                        break;
                    }
                    Err(helpdesk_mail::DeliveryError::Transient(e)) if attempt < Self::ATTEMPTS => {
                        tracing::warn!(to = %mail.to, attempt, "email not sent yet, retrying: {e}");
                        std::thread::sleep(wait);
                        wait *= 2;
                    }
                    Err(e) => {
                        tracing::error!(to = %mail.to, subject = %mail.subject, "email not sent: {e}");
                        break;
                    }
                }
            }
        });
        SmtpMailer { queue }
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: OutgoingMail) {
        if let Err(mail) = self.queue.push(mail) {
            tracing::error!(to = %mail.to, subject = %mail.subject, "email not sent: the mailer has stopped");
        }
    }

    /// Sends what is queued (retries included), then stops.
    fn close(&self) {
        self.queue.close();
    }
}

/// A [`Mailer`] that keeps emails in memory (tests read them back).
#[derive(Debug, Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<OutgoingMail>>,
}

impl MemoryMailer {
    /// Everything sent so far.
    pub fn sent(&self) -> Vec<OutgoingMail> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Mailer for MemoryMailer {
    fn send(&self, mail: OutgoingMail) {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).push(mail);
    }
}

/// A change the server committed, streamed live to the agents who may see
/// it (their lists and open tickets refresh). The notifications bay itself
/// shows [`InAppNotification`]s: what each agent's subscriptions ask for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BayEvent {
    /// The ticket.
    pub ticket: u64,
    /// Its subject after the change.
    pub subject: String,
    /// Its department (agents only see departments they have access to).
    #[serde(skip)]
    pub department: helpdesk_core::DepartmentId,
    /// Who made the change (agents are not notified of their own changes).
    #[serde(skip)]
    pub actor: Actor,
    /// Display name of the actor.
    pub actor_name: String,
    /// The kind of change (`created`, `message_added`, `note_added`, `status`, ...).
    pub kinds: Vec<&'static str>,
    /// The ticket's version after the change.
    pub version: u64,
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
}

type Limiter = DefaultKeyedRateLimiter<String>;

/// In-app notifications kept per agent for the bay's first paint.
pub const RECENT_NOTIFICATIONS: usize = 50;

type Recent = Arc<Mutex<HashMap<AgentId, VecDeque<InAppNotification>>>>;

struct Inner {
    hd: Helpdesk,
    config: Config,
    sessions: auth::Sessions,
    bay: broadcast::Sender<BayEvent>,
    hub: InAppHub,
    recent: Recent,
    delivery: Mutex<Option<WorkerHandle>>,
    closing: tokio::sync::watch::Sender<bool>,
    mailer: Arc<dyn Mailer>,
    login_limiter: Limiter,
    second_factor_limiter: Limiter,
    embed_limiter: Limiter,
    register_limiter: Limiter,
    /// The one-time token of the first-run setup (this process's; printed
    /// on its console), made on first use.
    setup_token: std::sync::OnceLock<String>,
}

/// The shared state of the web layer: the helpdesk, sessions, the
/// notifications bay and the rate limiters. Cheap to clone.
#[derive(Clone)]
pub struct App(Arc<Inner>);

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("config", &self.0.config).finish_non_exhaustive()
    }
}

/// `tries` at once, then one every [`SECOND_FACTOR_WINDOW`] / `tries`.
fn second_factor_quota(tries: u32) -> Quota {
    let tries = NonZeroU32::new(tries).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(SECOND_FACTOR_WINDOW / tries.get())
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(tries)
}

fn quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl App {
    /// The web layer over `hd`, logging its emails.
    pub fn new(hd: Helpdesk, config: Config) -> App {
        App::with_mailer(hd, config, Arc::new(LogMailer))
    }

    /// The web layer over `hd`, sending its emails through `mailer`.
    ///
    /// Sessions of logged-in people are kept in the store, so a restart does
    /// not log anyone out. Notifications are delivered once
    /// [`start_delivery`](App::start_delivery) is called.
    pub fn with_mailer(hd: Helpdesk, config: Config, mailer: Arc<dyn Mailer>) -> App {
        let (bay, _) = broadcast::channel(256);
        let hub = InAppHub::new(hd.clone(), 1024);
        let recent = Recent::default();
        keep_recent(hub.subscribe(), recent.clone());
        let feed = hd.store().subscribe();
        let app = App(Arc::new(Inner {
            login_limiter: RateLimiter::keyed(quota(config.login_per_minute)),
            second_factor_limiter: RateLimiter::keyed(second_factor_quota(config.second_factor_tries)),
            embed_limiter: RateLimiter::keyed(quota(config.embed_per_minute)),
            register_limiter: RateLimiter::keyed(quota(config.register_per_minute)),
            sessions: auth::Sessions::load(hd.clone()),
            hd,
            config,
            bay,
            hub,
            recent,
            delivery: Mutex::new(None),
            closing: tokio::sync::watch::channel(false).0,
            mailer,
            setup_token: std::sync::OnceLock::new(),
        }));
        if let Some(feed) = feed {
            follow(feed, Arc::downgrade(&app.0));
        }
        app
    }

    /// Takes in what another node sharing the store did: its ticket
    /// changes go to this node's live stream (and wake the delivery worker
    /// for what they queued), its in-app notifications to this node's bay,
    /// and a session it changed or ended is dropped from memory (read from
    /// the store at its next use).
    fn heard(&self, notice: Notice) {
        match notice {
            Notice::Ticket { ticket, before, after } if after > 0 => {
                let hd = self.helpdesk();
                let (Ok(Some(t)), Ok(mut events)) =
                    (hd.store().ticket(ticket), hd.store().events_after(ticket, before))
                else {
                    return;
                };
                events.retain(|e| e.version <= after);
                if events.iter().all(|e| helpdesk_core::concurrency::is_bookkeeping(&e.change)) {
                    self.wake_delivery();
                } else {
                    self.publish(before, &t, &events);
                }
            }
            Notice::App { channel, body } if channel == helpdesk_mail::IN_APP_CHANNEL => {
                self.0.hub.relay(&body)
            }
            Notice::Config { namespace, name }
                if Helpdesk::app_namespace(&namespace) == Some(auth::SESSION_NAMESPACE) =>
            {
                self.sessions().forget(&name)
            }
            // The settings (Admin > Settings) changed on another node.
            Notice::Record { tag, .. } if tag == helpdesk_core::RecordKind::Settings.tag() => {
                self.sessions().settings_changed()
            }
            Notice::Resync => {
                self.sessions().forget_all();
                self.sessions().settings_changed();
            }
            _ => {}
        }
    }

    /// Starts the delivery worker (one per store): in-app notifications go
    /// to the bay, everything else to `notifiers` (email, webhooks), in that
    /// order; a pass runs every `poll` and right after each change the web
    /// layer commits. Replaces a worker started before.
    pub fn start_delivery(&self, notifiers: Vec<Arc<dyn Notifier>>, poll: Duration) {
        self.start_delivery_leased(notifiers, poll, helpdesk_mail::DEFAULT_LEASE)
    }

    /// [`start_delivery`](App::start_delivery), holding claimed items for
    /// `lease` ([`DeliveryWorker::lease`]).
    pub fn start_delivery_leased(&self, notifiers: Vec<Arc<dyn Notifier>>, poll: Duration, lease: Duration) {
        let mut worker =
            DeliveryWorker::new(self.0.hd.clone()).lease(lease).notifier(Arc::new(self.0.hub.clone()));
        for n in notifiers {
            worker = worker.notifier(n);
        }
        // One worker per app: the old one stops before the new one starts.
        let mut slot = self.lock_delivery();
        if let Some(old) = slot.take() {
            old.stop();
        }
        *slot = Some(worker.start(poll));
    }

    /// Stops the delivery worker after its current pass (undelivered items
    /// stay in the outbox for the next start).
    pub fn stop_delivery(&self) {
        let handle = self.lock_delivery().take();
        if let Some(h) = handle {
            h.stop();
        }
    }

    /// Ends the never-ending responses (the agents' event streams), so a
    /// graceful HTTP shutdown does not wait for them.
    pub fn close_streams(&self) {
        self.0.closing.send_replace(true);
    }

    /// Resolves when [`close_streams`](App::close_streams) is called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.0.closing.subscribe();
        async move {
            let _ = rx.wait_for(|closing| *closing).await;
        }
    }

    /// Stops the background work before the store closes: the event
    /// streams, the delivery worker (undelivered items stay in the outbox),
    /// the session writer and the mailer (both finish what is queued).
    pub fn shutdown(&self) {
        self.close_streams();
        self.stop_delivery();
        self.0.sessions.close();
        self.0.mailer.close();
    }

    fn lock_delivery(&self) -> std::sync::MutexGuard<'_, Option<WorkerHandle>> {
        self.0.delivery.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes to in-app notifications (all agents; filter on `agent`).
    pub fn notifications(&self) -> broadcast::Receiver<InAppNotification> {
        self.0.hub.subscribe()
    }

    /// The latest in-app notifications of `agent`, newest first (at most
    /// [`RECENT_NOTIFICATIONS`], since this process started).
    pub fn recent_notifications(&self, agent: AgentId) -> Vec<InAppNotification> {
        let recent = self.0.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.get(&agent).map(|q| q.iter().rev().cloned().collect()).unwrap_or_default()
    }

    /// The helpdesk.
    pub fn helpdesk(&self) -> &Helpdesk {
        &self.0.hd
    }

    /// The one-time token the first-run setup page asks for (`/setup`):
    /// random, made once per process; the server prints it on its console
    /// while the helpdesk has no agent, so only whoever runs the server can
    /// set it up.
    pub fn setup_token(&self) -> &str {
        self.0.setup_token.get_or_init(helpdesk_store::auth::random_token)
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The sessions.
    pub fn sessions(&self) -> &auth::Sessions {
        &self.0.sessions
    }

    /// Subscribes to the notifications bay.
    pub fn subscribe(&self) -> broadcast::Receiver<BayEvent> {
        self.0.bay.subscribe()
    }

    /// Sends an email through the configured mailer.
    pub fn send_mail(&self, mail: OutgoingMail) {
        self.0.mailer.send(mail)
    }

    /// Wakes the delivery worker (a change queued notifications).
    pub fn wake_delivery(&self) {
        if let Some(h) = self.lock_delivery().as_ref() {
            h.wake();
        }
    }

    /// Publishes the last commit of `log` (its events share one timestamp):
    /// for changes made by others, e.g. the mail gateway.
    pub fn publish_latest(&self, after: &Ticket, log: &[TicketEvent]) {
        let Some(last) = log.last() else { return };
        let before = log.iter().rev().find(|e| e.at < last.at).map_or(0, |e| e.version);
        self.publish(before, after, log)
    }

    /// Publishes the events of a change the server committed to the live
    /// stream, and wakes the delivery worker for the notifications it queued.
    pub fn publish(&self, before_version: u64, after: &Ticket, log: &[TicketEvent]) {
        self.wake_delivery();
        let new: Vec<&TicketEvent> = log.iter().filter(|e| e.version > before_version).collect();
        let Some(last) = new.last() else { return };
        let actor = last.actor.clone();
        let actor_name = self.actor_name(&actor);
        let mut kinds: Vec<&'static str> = new.iter().map(|e| e.change.kind()).collect();
        kinds.dedup();
        let _ = self.0.bay.send(BayEvent {
            ticket: after.id.0,
            subject: after.subject.clone(),
            department: after.department,
            actor,
            actor_name,
            kinds,
            version: after.version,
            at: last.at,
        });
    }

    /// A display name for an actor.
    pub fn actor_name(&self, actor: &Actor) -> String {
        match actor {
            Actor::User(u) => self.0.hd.user(*u).map(|u| u.name).unwrap_or_else(|_| u.to_string()),
            Actor::Agent(a) => self.0.hd.agent(*a).map(|a| a.name).unwrap_or_else(|_| a.to_string()),
            Actor::System(_) => actor.to_string(),
        }
    }

    /// Counts a hit on `key` against `limiter` (`per_minute`): on a store
    /// other nodes share, in the store's fixed one-minute windows so the
    /// limit holds across nodes (in process if the store cannot be asked);
    /// otherwise in this process.
    fn check(&self, limiter: &Limiter, per_minute: u32, kind: &str, key: String) -> Result<(), ApiError> {
        self.check_in(limiter, (per_minute, SHARED_WINDOW), kind, key)
    }

    /// [`check`](Self::check) with `limit` hits per `window` on a shared store.
    fn check_in(
        &self,
        limiter: &Limiter,
        (limit, window): (u32, Duration),
        kind: &str,
        key: String,
    ) -> Result<(), ApiError> {
        let store = self.0.hd.store();
        if store.shared() {
            let now = self.0.hd.clock().now();
            let bucket = format!("{kind}:{key}");
            match auth::block(|| store.count_hit(&bucket, window, now)) {
                Ok(Some(hits)) if hits <= u64::from(limit.max(1)) => return Ok(()),
                Ok(Some(_)) => {
                    let window = window.as_millis() as i64;
                    let left = window - now.timestamp_millis().rem_euclid(window);
                    return Err(ApiError::rate_limited(((left + 999) / 1000).max(1) as u64));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("shared rate limit unavailable, counting on this node: {e}"),
            }
        }
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until
                .wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            ApiError::rate_limited(wait.as_secs().max(1))
        })
    }

    /// Counts a login attempt for `key` (a client address or an account).
    pub fn check_login(&self, key: String) -> Result<(), ApiError> {
        self.check(&self.0.login_limiter, self.0.config.login_per_minute, "login", key)
    }

    /// Counts a second factor typed for `agent` (an app's code or a
    /// recovery code), [`Config::second_factor_tries`] per
    /// [`SECOND_FACTOR_WINDOW`]; each wrong one is in the audit log too.
    pub fn check_second_factor(&self, agent: AgentId) -> Result<(), ApiError> {
        let limit = (self.0.config.second_factor_tries, SECOND_FACTOR_WINDOW);
        self.check_in(&self.0.second_factor_limiter, limit, "second-factor", agent.0.to_string())
    }

    /// Counts an embed submission from `key` (a client address).
    pub fn check_embed(&self, key: String) -> Result<(), ApiError> {
        self.check(&self.0.embed_limiter, self.0.config.embed_per_minute, "embed", key)
    }

    /// Counts a registration from `key` (a client address).
    pub fn check_register(&self, key: String) -> Result<(), ApiError> {
        self.check(&self.0.register_limiter, self.0.config.register_per_minute, "register", key)
    }
}

/// The window of the rate limits counted in a shared store.
const SHARED_WINDOW: Duration = Duration::from_secs(60);

/// The default of [`Config::second_factor_tries`].
pub const SECOND_FACTOR_TRIES: u32 = 5;

/// See [`SECOND_FACTOR_TRIES`].
pub const SECOND_FACTOR_WINDOW: Duration = Duration::from_secs(600);

/// Follows a shared store's changes ([`App::heard`]) on a thread of its
/// own that ends when the app goes away.
fn follow(feed: std::sync::mpsc::Receiver<Notice>, app: std::sync::Weak<Inner>) {
    let spawned = std::thread::Builder::new().name("helpdesk-follow".into()).spawn(move || loop {
        match feed.recv_timeout(Duration::from_millis(500)) {
            Ok(notice) => match app.upgrade() {
                Some(inner) => App(inner).heard(notice),
                None => break,
            },
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if app.strong_count() > 0 => continue,
            Err(_) => break,
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot follow the other nodes' changes (they show only after a reload): {e}");
    }
}

/// Keeps the latest in-app notifications per agent, on a thread of its own
/// that ends when the hub goes away.
fn keep_recent(mut rx: broadcast::Receiver<InAppNotification>, recent: Recent) {
    let spawned = std::thread::Builder::new().name("helpdesk-bay".into()).spawn(move || loop {
        match rx.blocking_recv() {
            Ok(n) => {
                let mut map = recent.lock().unwrap_or_else(|e| e.into_inner());
                let q = map.entry(n.agent).or_default();
                if q.len() == RECENT_NOTIFICATIONS {
                    q.pop_front();
                }
                q.push_back(n);
            }
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => break,
        }
    });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the notifications bay thread: {e}");
    }
}

/// Runs a synchronous helpdesk call on the blocking pool.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("worker failed: {e}")))?
}

/// Injects the app into a filter chain.
pub fn with_app(app: App) -> impl Filter<Extract = (App,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || app.clone())
}

/// The client address, as a rate-limit key.
pub fn client_key() -> impl Filter<Extract = (String,), Error = std::convert::Infallible> + Clone {
    warp::addr::remote().map(|a: Option<std::net::SocketAddr>| {
        a.map(|a| a.ip().to_string()).unwrap_or_else(|| "local".into())
    })
}

/// The Content-Security-Policy of every HTML page: scripts, styles and
/// requests only from this server; no framing; forms only post here.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

/// Adds the security headers every response carries, and `Cache-Control:
/// no-store` to every one that sets no caching policy of its own.
pub fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert("x-content-type-options", "nosniff".parse().expect("static header"));
    h.insert("referrer-policy", "same-origin".parse().expect("static header"));
    let is_html =
        h.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    // A downloaded file sets its own, stricter policy (it runs nothing).
    if is_html && !h.contains_key("content-security-policy") {
        h.insert("content-security-policy", CSP.parse().expect("static header"));
        h.insert("x-frame-options", "DENY".parse().expect("static header"));
    }
    // Pages and JSON may be personal (a ticket, the agent's own data): no
    // browser or proxy keeps them. Static assets set their own policy.
    if !h.contains_key("cache-control") {
        h.insert("cache-control", "no-store".parse().expect("static header"));
    }
    r
}

/// The agent server: JSON API, agent web UI, inbound mail and the OpenAPI document.
pub fn agent_routes(app: App) -> BoxedFilter<(Response,)> {
    agent::routes(app.clone())
        .or(admin::routes(app.clone()))
        .unify()
        .or(password_reset::routes(app.clone()))
        .unify()
        .or(snippets::routes(app.clone()))
        .unify()
        .or(macros::routes(app.clone()))
        .unify()
        .or(relations::routes(app.clone()))
        .unify()
        .or(custom_filters::routes(app.clone()))
        .unify()
        .or(profile::routes(app.clone()))
        .unify()
        .or(mail::routes(app))
        .unify()
        .or(openapi::route())
        .unify()
        .boxed()
}

/// The user web portal.
pub fn portal_routes(app: App) -> BoxedFilter<(Response,)> {
    portal::routes(app)
}

/// The website embed: the widget script and its CORS-enabled endpoint.
pub fn embed_routes(app: App) -> BoxedFilter<(Response,)> {
    embed::routes(app)
}

/// Finishes a set of routes: JSON errors for every rejection, security headers, request log.
pub fn finish(routes: BoxedFilter<(Response,)>) -> BoxedFilter<(Response,)> {
    warp::path::full()
        .and(routes.recover(error::recover).unify())
        .map(|path: warp::path::FullPath, mut r: Response| {
            // RFC 9110: a 405 says which methods the resource answers.
            if r.status() == warp::http::StatusCode::METHOD_NOT_ALLOWED && !r.headers().contains_key("allow")
            {
                let allow = openapi::allowed_methods(path.as_str()).join(", ");
                if let Ok(v) = allow.parse() {
                    r.headers_mut().insert("allow", v);
                }
            }
            r
        })
        .map(secure)
        .with(warp::trace::request())
        .map(Reply::into_response)
        .boxed()
}

/// All three interfaces over one helpdesk (sled is single-process: DESIGN rule 5).
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    finish(
        agent_routes(app.clone())
            .or(embed_routes(app.clone()))
            .unify()
            .or(portal_routes(app))
            .unify()
            .boxed(),
    )
}

/// A JSON response with a status.
pub fn json<T: Serialize>(status: warp::http::StatusCode, v: &T) -> Response {
    warp::reply::with_status(warp::reply::json(v), status).into_response()
}

/// Runs `f` on the blocking pool: its value as JSON with `status`, or the error.
pub async fn run_json<T, F>(
    app: App,
    status: warp::http::StatusCode,
    f: F,
) -> Result<Response, std::convert::Infallible>
where
    T: Serialize + Send + 'static,
    F: FnOnce(&App) -> Result<T, ApiError> + Send + 'static,
{
    Ok(match blocking(move || f(&app)).await {
        Ok(v) => json(status, &v),
        Err(e) => e.response(),
    })
}

/// A handler result as a response: the value as JSON (200) or the error.
pub fn respond<T: Serialize>(r: Result<T, ApiError>) -> Response {
    match r {
        Ok(v) => json(warp::http::StatusCode::OK, &v),
        Err(e) => e.response(),
    }
}
