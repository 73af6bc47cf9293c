//! Sessions, cookies, CSRF tokens and API keys.
//!
//! - Sessions of logged-in agents and users are kept in the store
//!   (application namespace `session`, under the token's SHA-256), so a
//!   restart logs no one out (the stored idle expiry may lag by up to
//!   [`SESSION_REFRESH`]); anonymous portal sessions live in memory only.
//!   Writes go through a writer thread in the order they were decided
//!   (queued under the sessions lock), so a logout is never undone by a
//!   refresh that raced it. The cookie holds
//!   a random 256-bit token, `HttpOnly`, `SameSite` (Strict for agents, Lax
//!   for the portal), `Secure` when configured. Only the token's SHA-256 is
//!   kept anywhere.
//! - Every session has its own CSRF token. State-changing agent API calls made
//!   with a session cookie must send it in `X-CSRF-Token`; portal forms carry it
//!   in a hidden `csrf` field. Calls authenticated with an API key
//!   (`Authorization: Bearer hdk_...`) are exempt: no browser sends that header
//!   by itself.
//! - Portal visitors get an anonymous session on their first page, so the
//!   login and registration forms are CSRF-protected too; logging in replaces
//!   it with a new one (no session fixation).

use crate::error::ApiError;
use crate::queue::WorkQueue;
use crate::{blocking, with_app, App};
use helpdesk_core::{Agent, AgentId, Principal};
use helpdesk_store::auth::{random_token, sha256_hex};
use helpdesk_store::Helpdesk;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use warp::http::Method;
use warp::{Filter, Rejection};

/// Name of the agent session cookie.
pub const AGENT_COOKIE: &str = "hd_agent";
/// Name of the portal session cookie.
pub const PORTAL_COOKIE: &str = "hd_portal";
/// How long a session lasts without use.
pub const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);
/// How stale a stored session's expiry may get before a use writes it again
/// (uses in between only move the in-memory expiry).
pub const SESSION_REFRESH: Duration = Duration::from_secs(600);
/// Most sessions kept at once (anonymous portal sessions are dropped first when full).
pub const MAX_SESSIONS: usize = 100_000;
/// The application namespace ([`Helpdesk::put_app_value`]) stored sessions live in.
pub const SESSION_NAMESPACE: &str = "session";

/// Which interface a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Realm {
    /// The agent server.
    Agent,
    /// The user portal.
    Portal,
    /// An agent who gave their password and is asked for a second factor
    /// (or to set one up): good for nothing but that step, for
    /// [`PENDING_SECS`] from its start.
    TwoFactor,
}

/// How long an agent has for the second factor after their password.
pub const PENDING_SECS: u64 = 10 * 60;

/// A session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Which interface.
    pub realm: Realm,
    /// Who is logged in (`None`: an anonymous portal visitor).
    pub principal: Option<Principal>,
    /// The CSRF token of this session.
    pub csrf: String,
    /// When it ends unless used (seconds since the Unix epoch).
    expires: u64,
    /// When it started (seconds since the Unix epoch; 0 in sessions stored
    /// before this was kept).
    #[serde(default)]
    pub started: u64,
    /// The expiry last written to the store.
    #[serde(skip)]
    stored_expires: u64,
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A session write: the key, the session (`None`: remove it) and, when the
/// caller waits for it, where to say it is done.
type Write = (String, Option<Session>, Option<std::sync::mpsc::Sender<()>>);

/// Writes sessions to the store in order, so request handlers never wait for it.
type Writer = WorkQueue<Write>;

fn start_writer(hd: Helpdesk) -> Writer {
    WorkQueue::start("sessions", move |(key, session, done): Write| {
        let value = session.map(|s| serde_json::to_value(s).expect("a session serialises"));
        if let Err(e) = hd.put_app_value(SESSION_NAMESPACE, &key, value.as_ref()) {
            tracing::warn!("cannot store a session (it ends at the next restart): {e}");
        }
        if let Some(done) = done {
            let _ = done.send(());
        }
    })
}

/// Runs store I/O from wherever sessions are used (async filters, blocking
/// handlers): on a multi-threaded runtime's thread it tells the runtime, so
/// other tasks move on meanwhile.
pub(crate) fn block<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// The sessions, keyed by the SHA-256 of their token. `Sessions::default()`
/// keeps them in memory only (a restart ends them); [`Sessions::load`]
/// keeps logged-in ones in the store.
///
/// On a store several nodes share (PostgreSQL), the store is the truth:
/// every session is stored before it is answered (anonymous portal ones
/// too, so a form made on one node can be posted to another), logouts are
/// stored before they are answered, and every request reads its session
/// from the store (one indexed read), so a session made, ended or ended
/// with a password change on one node is seen by every node at once. What
/// memory keeps is dropped when another node's notice arrives
/// ([`forget`](Sessions::forget)).
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    writer: Option<Writer>,
    /// The store, when other nodes share it.
    shared: Option<Helpdesk>,
    /// The helpdesk (its settings say how long an idle session lives).
    hd: Option<Helpdesk>,
    /// That lifetime as last read, and when: dropped when the settings
    /// change (here or, through the feed, on another node), read again
    /// after [`IDLE_SETTING_TTL`] at the latest.
    idle: Mutex<Option<(std::time::Instant, u64)>>,
}

/// Longest a node uses the session lifetime it read before reading it again
/// (a change is also heard at once through [`Sessions::settings_changed`]).
pub const IDLE_SETTING_TTL: Duration = Duration::from_secs(60);

impl Sessions {
    /// Sessions kept in `hd`'s store: the live ones are read back now,
    /// expired ones are removed. A store that cannot be read is logged and
    /// treated as empty (people log in again). Reads the store: call it
    /// where blocking is fine.
    pub fn load(hd: Helpdesk) -> Self {
        let now = now_secs();
        let shared = hd.store().shared();
        let mut map = HashMap::new();
        let mut expired = Vec::new();
        match hd.app_values(SESSION_NAMESPACE) {
            Ok(stored) => {
                for (key, value) in stored {
                    match serde_json::from_value::<Session>(value) {
                        Ok(mut s) if s.expires > now && s.principal.is_some() => {
                            s.stored_expires = s.expires;
                            map.insert(key, s);
                        }
                        // Other nodes' anonymous visitors: looked up when used.
                        Ok(s) if shared && s.expires > now => {}
                        _ => expired.push(key),
                    }
                }
            }
            Err(e) => tracing::warn!("cannot read stored sessions (everyone logs in again): {e}"),
        }
        let sessions = Sessions {
            map: Mutex::new(map),
            writer: Some(start_writer(hd.clone())),
            shared: shared.then(|| hd.clone()),
            hd: Some(hd),
            idle: Mutex::new(None),
        };
        for key in expired {
            sessions.persist(&key, None);
        }
        sessions
    }

    /// Writes what is queued for the store and stops the writer; sessions
    /// changed afterwards live in memory only. For a server shutting down.
    pub fn close(&self) {
        if let Some(w) = &self.writer {
            w.close();
        }
    }

    /// Whether `session` is kept in the store.
    fn stored(&self, session: &Session) -> bool {
        session.principal.is_some() || self.shared.is_some()
    }

    /// Queues a store write; callers hold the map lock, so writes reach the
    /// store in the order the map changed.
    fn persist(&self, key: &str, session: Option<&Session>) {
        if let Some(w) = &self.writer {
            // Refused only after close (the server is stopping): memory only then.
            let _ = w.push((key.to_string(), session.cloned(), None));
        }
    }

    /// [`persist`](Self::persist), and on a shared store a receiver that
    /// hears when it is written: wait for it after dropping the map lock.
    fn persist_acked(&self, key: &str, session: Option<&Session>) -> Option<std::sync::mpsc::Receiver<()>> {
        let (Some(w), Some(_)) = (&self.writer, &self.shared) else {
            self.persist(key, session);
            return None;
        };
        let (tx, rx) = std::sync::mpsc::channel();
        w.push((key.to_string(), session.cloned(), Some(tx))).ok().map(|_| rx)
    }

    /// Waits for acknowledged writes (another node may be asked next).
    fn wait(acks: impl IntoIterator<Item = std::sync::mpsc::Receiver<()>>) {
        let acks: Vec<_> = acks.into_iter().collect();
        if !acks.is_empty() {
            block(|| {
                for ack in acks {
                    let _ = ack.recv_timeout(Duration::from_secs(10));
                }
            });
        }
    }

    /// The session stored under `key` when the store is shared and it is
    /// live there (made, or used more recently, on another node).
    fn load_shared(&self, key: &str) -> Option<Session> {
        let hd = self.shared.as_ref()?;
        let value = match block(|| hd.app_value(SESSION_NAMESPACE, key)) {
            Ok(v) => v?,
            Err(e) => {
                tracing::warn!("cannot read a stored session: {e}");
                return None;
            }
        };
        let mut s = serde_json::from_value::<Session>(value).ok()?;
        s.stored_expires = s.expires;
        (s.expires > now_secs()).then_some(s)
    }

    /// Seconds an idle session lives: the admin's setting (Admin >
    /// Settings), read each time so a change holds at once; [`SESSION_IDLE`]
    /// when it cannot be read.
    pub fn idle_secs(&self) -> u64 {
        let cached = *self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, secs)) = cached.filter(|(at, _)| at.elapsed() < IDLE_SETTING_TTL) {
            return secs;
        }
        let secs = self
            .hd
            .as_ref()
            .and_then(|hd| block(|| hd.settings()).ok())
            .map_or(SESSION_IDLE.as_secs(), |s| u64::from(s.session_idle_minutes) * 60);
        *self.idle.lock().unwrap_or_else(|e| e.into_inner()) = Some((std::time::Instant::now(), secs));
        secs
    }

    /// The helpdesk's settings changed: the session lifetime is read again
    /// at the next request.
    pub fn settings_changed(&self) {
        *self.idle.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Starts a session; returns its token (for the cookie) and the session.
    pub fn create(&self, realm: Realm, principal: Option<Principal>) -> (String, Session) {
        let token = random_token();
        let expires = now_secs() + self.idle_secs();
        let s = Session {
            realm,
            principal,
            csrf: random_token(),
            expires,
            started: now_secs(),
            stored_expires: expires,
        };
        let key = sha256_hex(&token);
        let ack = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() >= MAX_SESSIONS {
                let now = now_secs();
                map.retain(|_, s| s.expires > now && s.principal.is_some());
            }
            map.insert(key.clone(), s.clone());
            match (principal, &self.shared) {
                // A login is stored before it is answered, and on a shared
                // store every session is: the next request may reach
                // another node, and every node reads the store.
                (Some(_), _) | (None, Some(_)) => self.persist_acked(&key, Some(&s)),
                (None, None) => None,
            }
        };
        Self::wait(ack);
        (token, s)
    }

    /// The live session of `realm` with this token (its idle timer restarts).
    pub fn get(&self, realm: Realm, token: &str) -> Option<Session> {
        let key = sha256_hex(token);
        let now = now_secs();
        let missing = {
            let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            map.get(&key).is_none_or(|s| s.expires <= now)
        };
        // On a shared store the store decides, on every request: a session
        // made, kept alive or ended on another node is seen at once.
        let shared = self.shared.is_some();
        let loaded = if missing || shared { self.load_shared(&key) } else { None };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match loaded {
            Some(mut s) => {
                // Keep the idle timer this node restarted since, if later.
                if let Some(here) = map.get(&key) {
                    s.expires = s.expires.max(here.expires);
                }
                map.insert(key.clone(), s);
            }
            None if shared => {
                map.remove(&key);
                return None;
            }
            None => {}
        }
        let idle = if map.get(&key).is_some_and(|s| s.realm == realm && s.expires > now) {
            drop(map);
            let idle = self.idle_secs();
            map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            idle
        } else {
            SESSION_IDLE.as_secs()
        };
        match map.get_mut(&key) {
            Some(s) if s.realm == realm && s.expires > now => {
                s.expires = now + idle;
                let found = s.clone();
                if self.stored(s) && s.expires >= s.stored_expires + SESSION_REFRESH.as_secs() {
                    s.stored_expires = s.expires;
                    self.persist(&key, Some(&found));
                }
                Some(found)
            }
            // A token of another realm (an agent's sent as the portal
            // cookie) is refused, and its session left alone.
            Some(s) if s.realm != realm => None,
            Some(s) => {
                if self.stored(s) {
                    self.persist(&key, None);
                }
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends every session of `principal` but the one with token `keep` (after
    /// a password change: whoever knew the old password is logged out),
    /// on every node. Returns how many ended.
    pub fn end_others(&self, principal: Principal, keep: Option<&str>) -> usize {
        let keep = keep.map(sha256_hex);
        // On a shared store, those other nodes made count too.
        let elsewhere: Vec<String> = match &self.shared {
            Some(hd) => match block(|| hd.app_values(SESSION_NAMESPACE)) {
                Ok(stored) => stored
                    .into_iter()
                    .filter(|(_, v)| {
                        serde_json::from_value::<Session>(v.clone())
                            .is_ok_and(|s| s.principal == Some(principal))
                    })
                    .map(|(k, _)| k)
                    .collect(),
                Err(e) => {
                    tracing::warn!("cannot read stored sessions to end them: {e}");
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let (n, acks) = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            let mut ended: Vec<String> = map
                .iter()
                .filter(|(k, s)| s.principal == Some(principal) && Some(*k) != keep.as_ref())
                .map(|(k, _)| k.clone())
                .collect();
            for k in elsewhere {
                if Some(&k) != keep.as_ref() && !ended.contains(&k) {
                    ended.push(k);
                }
            }
            let acks: Vec<_> = ended
                .iter()
                .filter_map(|k| {
                    map.remove(k);
                    self.persist_acked(k, None)
                })
                .collect();
            (ended.len(), acks)
        };
        Self::wait(acks);
        n
    }

    /// Whether the session of `realm` with this token is live, without
    /// restarting its idle timer (for watching a credential). On a shared
    /// store a session not in memory is looked up there: call it where
    /// blocking is fine.
    pub fn is_live(&self, realm: Realm, token: &str) -> bool {
        let key = sha256_hex(token);
        if self.shared.is_some() {
            return self.load_shared(&key).is_some_and(|s| s.realm == realm);
        }
        let now = now_secs();
        let here = {
            let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            map.get(&key).filter(|s| s.expires > now).map(|s| s.realm == realm)
        };
        match here {
            Some(live) => live,
            None => self.load_shared(&key).is_some_and(|s| s.realm == realm),
        }
    }

    /// Ends a session (on every node).
    pub fn remove(&self, token: &str) {
        let key = sha256_hex(token);
        let ack = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            match map.remove(&key) {
                Some(s) if self.stored(&s) => self.persist_acked(&key, None),
                // Not here, but perhaps made on another node.
                None if self.shared.is_some() => self.persist_acked(&key, None),
                _ => None,
            }
        };
        Self::wait(ack);
    }

    /// Drops a session from memory without touching the store: another node
    /// changed or ended it (its notice), so the next use reads the store.
    pub fn forget(&self, key: &str) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    /// Drops every stored session from memory (notices may have been
    /// missed): the next use of each reads the store.
    pub fn forget_all(&self) {
        let stored = |s: &Session| self.stored(s);
        self.map.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, s| !stored(s));
    }
}

pub use helpdesk_store::auth::same_secret;

/// A `Set-Cookie` value for a session cookie.
pub fn session_cookie(app: &App, name: &str, token: &str, realm: Realm) -> String {
    let same_site = match realm {
        Realm::Agent | Realm::TwoFactor => "Strict",
        Realm::Portal => "Lax",
    };
    let secure = if app.config().secure_cookies { "; Secure" } else { "" };
    format!(
        "{name}={token}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={}{secure}",
        app.sessions().idle_secs()
    )
}

/// Logs `agent` in: a new agent session (its CSRF token is for the
/// answer) and the `Set-Cookie` value that carries it.
pub fn start_agent_session(app: &App, agent: AgentId) -> (Session, warp::http::HeaderValue) {
    let (token, session) = app.sessions().create(Realm::Agent, Some(Principal::Agent(agent)));
    let cookie = session_cookie(app, AGENT_COOKIE, &token, Realm::Agent);
    (session, cookie.parse().expect("a session cookie is a header value"))
}

/// A `Set-Cookie` value that removes a cookie.
pub fn clear_cookie(name: &str) -> String {
    format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// How an agent request was authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    /// A session cookie (token).
    Session(String),
    /// An API key.
    ApiKey {
        /// The key's credential.
        id: helpdesk_core::CredentialId,
        /// Its label.
        label: String,
    },
}

/// The agent making a request.
#[derive(Debug, Clone)]
pub struct AgentCtx {
    /// The agent (enabled).
    pub agent: Agent,
    /// How they proved it.
    pub via: Via,
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

async fn authenticate(
    app: App,
    method: Method,
    authorization: Option<String>,
    cookie: Option<String>,
    csrf: Option<String>,
) -> Result<AgentCtx, Rejection> {
    if let Some(h) = authorization {
        let key = h.strip_prefix("Bearer ").map(str::trim).unwrap_or("").to_string();
        if key.is_empty() {
            return Err(warp::reject::custom(ApiError::unauthorized(
                "use `Authorization: Bearer <api key>`",
            )));
        }
        let app2 = app.clone();
        let found = blocking(move || Ok(app2.helpdesk().agent_for_api_key(&key)?)).await?;
        return match found {
            Some((agent, cred)) => {
                Ok(AgentCtx { agent, via: Via::ApiKey { id: cred.id, label: cred.label } })
            }
            None => Err(warp::reject::custom(ApiError::unauthorized("unknown or revoked API key"))),
        };
    }
    let Some(token) = cookie else {
        return Err(warp::reject::custom(ApiError::unauthorized("log in first")));
    };
    let Some(session) = app.sessions().get(Realm::Agent, &token) else {
        return Err(warp::reject::custom(ApiError::unauthorized("your session has ended; log in again")));
    };
    let Some(Principal::Agent(id)) = session.principal else {
        return Err(warp::reject::custom(ApiError::unauthorized("log in first")));
    };
    if !is_safe(&method) && !csrf.is_some_and(|c| same_secret(&c, &session.csrf)) {
        return Err(warp::reject::custom(ApiError::new(
            warp::http::StatusCode::FORBIDDEN,
            "csrf",
            "missing or wrong X-CSRF-Token header (GET /api/agent/me gives the token)",
        )));
    }
    let agent = blocking(move || Ok(app.helpdesk().agent(id)?)).await?;
    if agent.disabled {
        return Err(warp::reject::custom(ApiError::forbidden("this agent account is disabled")));
    }
    Ok(AgentCtx { agent, via: Via::Session(token) })
}

/// How often an open event stream checks that its credential still holds.
pub const CREDENTIAL_CHECK: Duration = Duration::from_secs(2);

/// Resolves when the credential a request came with dies: its session ends
/// (logout, password change, idle expiry), its API key is revoked, or the
/// agent is disabled. For long-lived responses (event streams), which must
/// not outlive what let them start. Checks every [`CREDENTIAL_CHECK`].
pub fn credential_dies(app: App, ctx: &AgentCtx) -> impl std::future::Future<Output = ()> + Send + 'static {
    let via = ctx.via.clone();
    let agent = ctx.agent.id;
    async move {
        loop {
            tokio::time::sleep(CREDENTIAL_CHECK).await;
            let app2 = app.clone();
            let via2 = via.clone();
            let still = blocking(move || {
                let hd = app2.helpdesk();
                let ok = match via2 {
                    // On a shared store, a session not in memory is read from it.
                    Via::Session(token) => app2.sessions().is_live(Realm::Agent, &token),
                    Via::ApiKey { id, .. } => matches!(
                        hd.store().record(helpdesk_core::RecordKind::Credential, id.0)?,
                        Some(helpdesk_core::Record::Credential(c)) if !c.revoked
                    ),
                };
                Ok(ok && !hd.agent(agent)?.disabled)
            })
            .await
            .unwrap_or(true); // a failed read is not a revocation: check again later
            if !still {
                return;
            }
        }
    }
}

/// Authenticates an agent request: an API key or a session cookie (plus the
/// CSRF header on state-changing methods). Rejects with 401/403 JSON errors.
pub fn agent_auth(app: App) -> impl Filter<Extract = (AgentCtx,), Error = Rejection> + Clone {
    with_app(app)
        .and(warp::method())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::cookie::optional::<String>(AGENT_COOKIE))
        .and(warp::header::optional::<String>("x-csrf-token"))
        .and_then(authenticate)
}

/// A portal visitor's session, created when missing.
#[derive(Debug, Clone)]
pub struct PortalCtx {
    /// The session token.
    pub token: String,
    /// The session.
    pub session: Session,
    /// A `Set-Cookie` value to send when the session is new.
    pub set_cookie: Option<String>,
    /// The helpdesk's settings (name, registration), read for the request.
    pub settings: helpdesk_core::admin::Settings,
}

impl PortalCtx {
    /// The logged-in user, if any.
    pub fn user(&self) -> Option<helpdesk_core::UserId> {
        match self.session.principal {
            Some(Principal::User(u)) => Some(u),
            _ => None,
        }
    }

    /// Whether a submitted form's CSRF token is this session's.
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        same_secret(submitted, &self.session.csrf)
    }
}

/// The portal session of this request (an anonymous one is started if there is none).
pub fn portal_session(
    app: App,
) -> impl Filter<Extract = (PortalCtx,), Error = std::convert::Infallible> + Clone {
    with_app(app).and(warp::cookie::optional::<String>(PORTAL_COOKIE)).map(
        |app: App, token: Option<String>| {
            if let Some(token) = token {
                if let Some(session) = app.sessions().get(Realm::Portal, &token) {
                    return PortalCtx { token, session, set_cookie: None, settings: Default::default() };
                }
            }
            let (token, session) = app.sessions().create(Realm::Portal, None);
            let set_cookie = Some(session_cookie(&app, PORTAL_COOKIE, &token, Realm::Portal));
            PortalCtx { token, session, set_cookie, settings: Default::default() }
        },
    )
}
