//! The agent server: a JSON API for everything an agent does, and the routes
//! of the agent workspace (server-rendered HTML in [`crate::workspace`]).
//!
//! Every route but login needs an agent: a session cookie (with the CSRF
//! header on state-changing calls) or an API key. Tickets in departments the
//! agent has no access to answer 404, exactly like tickets that do not exist.

use crate::auth::{agent_auth, clear_cookie, AgentCtx, Realm, Via, AGENT_COOKIE};
use crate::error::ApiError;
use crate::files::{download, submitted, Plain, Submitted};
use crate::filters;
use crate::{blocking, client_key, json, respond, with_app, App};
use helpdesk_core::*;
use helpdesk_store::Helpdesk;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::convert::Infallible;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

/// Largest JSON body accepted (bytes).
pub const MAX_JSON: u64 = 256 * 1024;

/// The logged-in agent and, for a session, its CSRF token.
#[derive(Debug, Serialize)]
pub struct Me {
    /// The agent.
    pub agent: Agent,
    /// The token to send as `X-CSRF-Token` (sessions only).
    pub csrf_token: Option<String>,
    /// `session` or `api_key`.
    pub via: &'static str,
}

/// A line of a ticket list.
#[derive(Debug, Serialize)]
pub struct TicketSummary {
    /// Id.
    pub id: TicketId,
    /// Version (send it back with changes).
    pub version: u64,
    /// Subject.
    pub subject: String,
    /// Status.
    pub status: Status,
    /// Urgency.
    pub urgency: Urgency,
    /// Department.
    pub department: DepartmentId,
    /// Assigned agent.
    pub agent: Option<AgentId>,
    /// Assigned team.
    pub team: Option<TeamId>,
    /// Owner.
    pub user: UserId,
    /// Owner's name.
    pub user_name: String,
    /// Labels.
    pub labels: Vec<String>,
    /// Created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Last change.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

fn summary(hd: &Helpdesk, t: &Ticket) -> TicketSummary {
    TicketSummary {
        id: t.id,
        version: t.version,
        subject: t.subject.clone(),
        status: t.status,
        urgency: t.urgency,
        department: t.department,
        agent: t.agent,
        team: t.team,
        user: t.user,
        user_name: hd.user(t.user).map(|u| u.name).unwrap_or_default(),
        labels: t.labels.iter().cloned().collect(),
        created_at: t.created_at,
        updated_at: t.updated_at,
    }
}

/// The JSON list row of a stored ticket summary.
pub(crate) fn summary_of(hd: &Helpdesk, t: &helpdesk_core::summary::TicketSummary) -> TicketSummary {
    TicketSummary {
        id: t.id,
        version: t.version,
        subject: t.subject.clone(),
        status: t.status,
        urgency: t.urgency,
        department: t.department,
        agent: t.agent,
        team: t.team,
        user: t.user,
        user_name: hd.user(t.user).map(|u| u.name).unwrap_or_default(),
        labels: t.labels.iter().cloned().collect(),
        created_at: t.created_at,
        updated_at: t.updated_at,
    }
}

/// A ticket as an agent sees it: everything, with the log.
#[derive(Debug, Serialize)]
pub struct TicketDetail {
    /// The ticket (messages and notes included).
    pub ticket: Ticket,
    /// Message and note bodies as safe HTML (escaped text, links), by post id.
    pub bodies_html: BTreeMap<u32, String>,
    /// The owner.
    pub user: User,
    /// CC'd users.
    pub ccs: Vec<User>,
    /// The full log, oldest first.
    pub log: Vec<TicketEvent>,
}

/// Message text as safe HTML: escaped (never interpreted), line breaks kept,
/// web and email addresses linked ([`crate::text::plain_text_html`]).
pub fn body_html(body: &str) -> String {
    crate::text::plain_text_html(body)
}

/// The ticket as an agent sees it, with its log and bodies as HTML.
pub fn detail(hd: &Helpdesk, t: Ticket) -> Result<TicketDetail, ApiError> {
    let log = hd.log(t.id)?;
    let mut bodies_html = BTreeMap::new();
    for m in &t.messages {
        bodies_html.insert(m.id.0, body_html(&m.body));
    }
    for n in &t.notes {
        bodies_html.insert(n.id.0, body_html(&n.body));
    }
    let user = hd.user(t.user)?;
    let ccs = t.ccs.iter().filter_map(|u| hd.user(*u).ok()).collect();
    Ok(TicketDetail { ticket: t, bodies_html, user, ccs, log })
}

/// The ticket, if it exists and the agent may see its department; 404 otherwise.
pub fn visible_ticket(hd: &Helpdesk, agent: &Agent, id: TicketId) -> Result<Ticket, ApiError> {
    match hd.ticket(id) {
        Ok(t) if agent.permissions.can_see(t.department) => Ok(t),
        Ok(_) | Err(helpdesk_store::Error::Ticket(TicketError::NotFound(_))) => {
            Err(ApiError::not_found(format!("ticket {id} not found")))
        }
        Err(e) => Err(e.into()),
    }
}

/// The answer to a reply or note: the ticket (as [`TicketDetail`]) and
/// `missed`, the messages and notes others added since the request's
/// `version` (oldest first; empty without a `version`), for the notice "2 new
/// messages since you opened this ticket". Their HTML bodies are in
/// `bodies_html` under their post ids like every other post.
#[derive(Debug, Serialize)]
pub struct Posted {
    /// The ticket after the reply or note.
    #[serde(flatten)]
    pub detail: TicketDetail,
    /// What others wrote since `version`.
    pub missed: Vec<MissedPost>,
}

/// Who an actor is, for people: an agent's or user's name, or the rule
/// (`trigger "VIP"`).
fn actor_name(hd: &Helpdesk, actor: &Actor) -> Option<String> {
    match actor {
        Actor::Agent(a) => hd.agent(*a).ok().map(|a| a.name),
        Actor::User(u) => hd.user(*u).ok().map(|u| u.name),
        Actor::System(_) => Some(actor.to_string()),
    }
}

/// Runs a command as the agent, at `version` when given, publishes it to the
/// bay, returns the ticket and what the agent missed since `version`.
///
/// With a `version` the rules of [`Helpdesk::execute_seen`] hold: replies and
/// notes always go in; another command gets 409 only when someone else
/// changed what it depends on since `version`, with a `conflict` body naming
/// each change ([`ConflictBody`](crate::error::ConflictBody)); a `version`
/// the ticket never had is 400.
fn run(
    app: &App,
    ctx: &AgentCtx,
    id: TicketId,
    version: Option<u64>,
    cmd: Command,
) -> Result<Posted, ApiError> {
    let hd = app.helpdesk();
    let before = visible_ticket(hd, &ctx.agent, id)?;
    let actor = Actor::Agent(ctx.agent.id);
    let (after, missed) = match version {
        Some(v) => match hd.execute_seen(id, v, &actor, cmd) {
            Ok(done) => (done.ticket, done.missed),
            Err(e) => return Err(refused(hd, e)),
        },
        None => (hd.execute(id, &actor, cmd)?, Vec::new()),
    };
    let d = detail(hd, after)?;
    app.publish(before.version, &d.ticket, &d.log);
    Ok(Posted { detail: d, missed })
}

/// A refused change as an answer: a conflict names each change and who made
/// it ([`ConflictBody`](crate::error::ConflictBody)).
pub fn refused(hd: &Helpdesk, e: helpdesk_store::Error) -> ApiError {
    match e {
        helpdesk_store::Error::Conflict(c) => ApiError::conflict(&c, |a| actor_name(hd, a)),
        e => e.into(),
    }
}

/// A command that puts a user on a ticket by id (owner, CC) shows the
/// agent that user's record with the ticket: without the people
/// permission, only a user the agent may see already (one of whose tickets
/// they see). Someone else is CC'd by email (`/cc`), which the agent knows.
fn may_name_user(hd: &Helpdesk, agent: &Agent, cmd: &Command) -> Result<(), ApiError> {
    let (Command::SetOwner { user } | Command::AddCc { user }) = cmd else { return Ok(()) };
    if agent.permissions.sees_all_people() {
        return Ok(());
    }
    match hd.user(*user) {
        Ok(u) if hd.may_see_user(agent, &u)? => Ok(()),
        Ok(_) | Err(helpdesk_store::Error::Directory(DirectoryError::NotFound(_))) => Err(ApiError::forbidden(
            "naming a user by id needs the people permission (or one of their tickets you may see); CC someone by email with /cc",
        )),
        Err(e) => Err(e.into()),
    }
}

/// `POST /api/agent/login`.
#[derive(Deserialize)]
pub struct LoginRequest {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
    /// The second factor, for an agent with two-factor login: the code
    /// their app shows, or a recovery code.
    #[serde(default)]
    pub code: Option<String>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest").field("email", &self.email).finish_non_exhaustive()
    }
}

/// `POST /api/agent/tickets/{id}/reply`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    /// Text.
    pub body: String,
    /// Status to set with the reply (default awaiting user), decided on
    /// the ticket as it is now.
    #[serde(default)]
    pub status: Option<Status>,
    /// The version the agent saw: never a conflict for a reply; what others
    /// wrote since comes back in `missed`.
    #[serde(default)]
    pub version: Option<u64>,
}

/// `POST /api/agent/tickets/{id}/notes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// Text.
    pub body: String,
    /// The version the agent saw: never a conflict for a note; what others
    /// wrote since comes back in `missed`.
    #[serde(default)]
    pub version: Option<u64>,
}

/// `POST /api/agent/tickets/{id}/commands`: a [`Command`] plus the version seen.
#[derive(Debug, Deserialize)]
pub struct CommandRequest {
    /// The version the agent saw: 409 when someone else changed what the
    /// command depends on since (see [`Helpdesk::execute_at`]).
    #[serde(default)]
    pub version: Option<u64>,
    /// The command (`{"command": "set_urgency", "urgency": 7}`).
    #[serde(flatten)]
    pub command: Command,
}

/// `POST /api/agent/tickets/{id}/cc`: CC someone by email (a user is created if needed).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CcRequest {
    /// Email.
    pub email: String,
    /// Name, for a new user.
    #[serde(default)]
    pub name: Option<String>,
    /// The version the agent saw.
    #[serde(default)]
    pub version: Option<u64>,
}

/// `POST /api/agent/tickets`: a ticket on a user's behalf.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketRequest {
    /// Subject.
    pub subject: String,
    /// First message.
    pub body: String,
    /// Department.
    pub department: DepartmentId,
    /// The user's email (a user is created if needed).
    pub user_email: String,
    /// The user's name, for a new user.
    #[serde(default)]
    pub user_name: Option<String>,
    /// Custom fields.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldValue>,
    /// Urgency.
    #[serde(default)]
    pub urgency: Option<Urgency>,
    /// Initial status.
    #[serde(default)]
    pub status: Option<Status>,
}

/// `POST /api/agent/api-keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyRequest {
    /// A name for the key.
    pub label: String,
}

/// An API key as listed (never the key itself, nor its hash).
#[derive(Debug, Serialize)]
pub struct ApiKeyInfo {
    /// Id.
    pub id: CredentialId,
    /// Label.
    pub label: String,
    /// Created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Revoked.
    pub revoked: bool,
    /// The key itself: only in the answer that creates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Query of list endpoints.
#[derive(Debug, Deserialize)]
pub struct Page {
    /// Where to continue: the `next` cursor of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// At most this many (default 50, at most 200).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Query of the search box.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    /// A ticket id (`234` or `#234`) or a user's email address.
    pub q: String,
}

/// The people and departments the UI names things with.
#[derive(Debug, Serialize)]
pub struct DirectoryView {
    /// Departments the agent may see.
    pub departments: Vec<Department>,
    /// Agents (id, name, email, teams).
    pub agents: Vec<AgentBrief>,
    /// Teams.
    pub teams: Vec<Team>,
}

/// An agent as others see them.
#[derive(Debug, Serialize)]
pub struct AgentBrief {
    /// Id.
    pub id: AgentId,
    /// Name.
    pub name: String,
    /// Email.
    pub email: Email,
    /// Teams.
    pub teams: Vec<TeamId>,
    /// Disabled.
    pub disabled: bool,
}

fn me(ctx: &AgentCtx, app: &App) -> Me {
    let (csrf_token, via) = match &ctx.via {
        Via::Session(token) => (app.sessions().get(Realm::Agent, token).map(|s| s.csrf), "session"),
        Via::ApiKey { .. } => (None, "api_key"),
    };
    Me { agent: ctx.agent.clone(), csrf_token, via }
}

pub(crate) fn find_or_create_user(hd: &Helpdesk, email: &str, name: Option<&str>) -> Result<User, ApiError> {
    if let Some(u) = hd.user_by_email(email)? {
        return Ok(u);
    }
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or(email));
    Ok(hd.create_user(NewUser::new(name, email))?)
}

async fn login(app: App, ip: String, req: LoginRequest) -> Result<Response, Infallible> {
    let r = async {
        app.check_login(format!("agent-ip:{ip}"))?;
        app.check_login(format!("agent:{}", req.email.trim().to_lowercase()))?;
        let app2 = app.clone();
        let agent = blocking(move || {
            let hd = app2.helpdesk();
            let Some(agent) = hd.agent_login(&req.email, &req.password, Some(ip.clone()))? else {
                return Err(ApiError::unauthorized("wrong email or password"));
            };
            if hd.two_factor_enabled(agent.id)? {
                let Some(code) = req.code.as_deref().filter(|c| !c.trim().is_empty()) else {
                    return Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "two_factor_required",
                        "this agent logs in with a second factor: send the code their app shows (or a recovery code) as code",
                    ));
                };
                app2.check_second_factor(agent.id)?;
                if hd.check_second_factor(agent.id, code, Some(ip))?.is_none() {
                    return Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "wrong_second_factor",
                        "the code is not right, or it was used already",
                    ));
                }
            } else if hd.settings()?.agents_two_factor {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "two_factor_setup_required",
                    "the helpdesk requires two-factor login: log in to the workspace once to set it up",
                ));
            }
            Ok::<_, ApiError>(agent)
        })
        .await?;
        let (session, cookie) = crate::auth::start_agent_session(&app, agent.id);
        tracing::info!(agent = %agent.id, "agent logged in");
        let mut r = json(StatusCode::OK, &Me { agent, csrf_token: Some(session.csrf), via: "session" });
        r.headers_mut().insert("set-cookie", cookie);
        Ok::<_, ApiError>(r)
    }
    .await;
    Ok(r.unwrap_or_else(|e| e.response()))
}

async fn logout(app: App, ctx: AgentCtx) -> Result<Response, Infallible> {
    if let Via::Session(token) = &ctx.via {
        app.sessions().remove(token);
    }
    let mut r = json(StatusCode::OK, &serde_json::json!({"logged_out": true}));
    r.headers_mut().insert("set-cookie", clear_cookie(AGENT_COOKIE).parse().expect("static cookie"));
    Ok(r)
}

/// Runs `f` with the helpdesk on the blocking pool and answers with JSON.
async fn with_hd<T, F>(app: App, f: F) -> Result<Response, Infallible>
where
    T: Serialize + Send + 'static,
    F: FnOnce(&App) -> Result<T, ApiError> + Send + 'static,
{
    Ok(respond(blocking(move || f(&app)).await))
}

fn get_filters(app: &App, ctx: &AgentCtx) -> Result<Vec<filters::FilterCount>, ApiError> {
    filters::counts(app.helpdesk(), &ctx.agent)
}

fn get_filter_tickets(
    app: &App,
    ctx: &AgentCtx,
    slug: &str,
    page: &Page,
) -> Result<serde_json::Value, ApiError> {
    let f = filters::parse(slug).ok_or_else(|| ApiError::not_found(format!("no filter {slug:?}")))?;
    let limit = page.limit.unwrap_or(50).clamp(1, 200);
    let hd = app.helpdesk();
    let p = filters::list(hd, &ctx.agent, f, page.cursor.as_deref(), limit)?;
    let total = hd.filter_count(ctx.agent.id, &f)?.count;
    let tickets: Vec<TicketSummary> = p.tickets.iter().map(|t| summary_of(hd, t)).collect();
    Ok(serde_json::json!({
        "filter": filters::slug(f),
        "title": filters::title(f),
        "total": total,
        "tickets": tickets,
        "next": p.next.map(|c| c.token()),
    }))
}

fn search(app: &App, ctx: &AgentCtx, q: &str) -> Result<serde_json::Value, ApiError> {
    let hd = app.helpdesk();
    let q = q.trim();
    if let Ok(id) = q.trim_start_matches('#').parse::<u64>() {
        let t = visible_ticket(hd, &ctx.agent, TicketId(id))?;
        return Ok(serde_json::json!({ "tickets": [summary(hd, &t)] }));
    }
    if q.contains('@') {
        let Ok(Some(u)) = hd.user_by_email(q) else {
            return Ok(serde_json::json!({ "tickets": [] }));
        };
        let ts: Vec<TicketSummary> = hd
            .tickets_of_user(u.id, None, 200)?
            .iter()
            .filter(|t| ctx.agent.permissions.can_see(t.department))
            .map(|t| summary(hd, t))
            .collect();
        return Ok(serde_json::json!({ "tickets": ts }));
    }
    Err(ApiError::invalid("search for a ticket id (234 or #234) or a user's email address"))
}

fn directory(app: &App, ctx: &AgentCtx) -> Result<DirectoryView, ApiError> {
    let hd = app.helpdesk();
    Ok(DirectoryView {
        departments: hd.departments()?.into_iter().filter(|d| ctx.agent.permissions.can_see(d.id)).collect(),
        agents: hd
            .agents()?
            .into_iter()
            .map(|a| AgentBrief {
                id: a.id,
                name: a.name,
                email: a.email,
                teams: a.teams.into_iter().collect(),
                disabled: a.disabled,
            })
            .collect(),
        teams: hd.teams()?,
    })
}

fn create_ticket(app: &App, ctx: &AgentCtx, req: CreateTicketRequest) -> Result<TicketDetail, ApiError> {
    let hd = app.helpdesk();
    if !ctx.agent.permissions.can_see(req.department) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_reference",
            format!("unknown department {}", req.department),
        ));
    }
    let user = find_or_create_user(hd, &req.user_email, req.user_name.as_deref())?;
    let mut new = NewTicket::new(req.subject, req.body, req.department, user.id, Channel::Agent);
    new.fields = req.fields;
    new.urgency = req.urgency;
    new.status = req.status;
    let t = hd.create_ticket(&Actor::Agent(ctx.agent.id), new)?;
    let d = detail(hd, t)?;
    app.publish(0, &d.ticket, &d.log);
    Ok(d)
}

fn add_cc(app: &App, ctx: &AgentCtx, id: TicketId, req: CcRequest) -> Result<TicketDetail, ApiError> {
    visible_ticket(app.helpdesk(), &ctx.agent, id)?;
    let user = find_or_create_user(app.helpdesk(), &req.email, req.name.as_deref())?;
    run(app, ctx, id, req.version, Command::AddCc { user: user.id }).map(|p| p.detail)
}

fn api_key_info(c: Credential, key: Option<String>) -> ApiKeyInfo {
    ApiKeyInfo { id: c.id, label: c.label, created_at: c.created_at, revoked: c.revoked, key }
}

fn json_body<T: serde::de::DeserializeOwned + Send>(
) -> impl Filter<Extract = (T,), Error = warp::Rejection> + Clone {
    warp::body::content_length_limit(MAX_JSON).and(warp::body::json())
}

/// A static asset response.
pub fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = Response::new(body.into());
    r.headers_mut().insert("content-type", content_type.parse().expect("static header"));
    r.headers_mut().insert("cache-control", "no-cache".parse().expect("static header"));
    r
}

/// The agent routes (API and UI), without error recovery.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let auth = || agent_auth(app.clone());
    let a = || with_app(app.clone());

    // The agent workspace: HTML pages and fragments (crate::workspace).
    let ui = crate::workspace::routes(app.clone());

    let login = path!("api" / "agent" / "login")
        .and(warp::post())
        .and(a())
        .and(client_key())
        .and(json_body())
        .and_then(login)
        .boxed();
    let logout =
        path!("api" / "agent" / "logout").and(warp::post()).and(a()).and(auth()).and_then(logout).boxed();
    let me_r = path!("api" / "agent" / "me")
        .and(warp::get())
        .and(a())
        .and(auth())
        .map(|app: App, ctx: AgentCtx| json(StatusCode::OK, &me(&ctx, &app)))
        .boxed();
    let dir = path!("api" / "agent" / "directory")
        .and(warp::get())
        .and(a())
        .and(auth())
        .and_then(|app: App, ctx: AgentCtx| with_hd(app, move |app| directory(app, &ctx)))
        .boxed();
    let filters_r = path!("api" / "agent" / "filters")
        .and(warp::get())
        .and(a())
        .and(auth())
        .and_then(|app: App, ctx: AgentCtx| with_hd(app, move |app| get_filters(app, &ctx)))
        .boxed();
    let filter_tickets = path!("api" / "agent" / "filters" / String / "tickets")
        .and(warp::get())
        .and(a())
        .and(auth())
        .and(warp::query::<Page>())
        .and_then(|slug: String, app: App, ctx: AgentCtx, page: Page| {
            with_hd(app, move |app| get_filter_tickets(app, &ctx, &slug, &page))
        })
        .boxed();
    let search_r = path!("api" / "agent" / "search")
        .and(warp::get())
        .and(a())
        .and(auth())
        .and(warp::query::<SearchQuery>())
        .and_then(|app: App, ctx: AgentCtx, q: SearchQuery| with_hd(app, move |app| search(app, &ctx, &q.q)))
        .boxed();
    let create = path!("api" / "agent" / "tickets")
        .and(warp::post())
        .and(a())
        .and(auth())
        .and(json_body())
        .and_then(|app: App, ctx: AgentCtx, req: CreateTicketRequest| async move {
            let r = blocking(move || create_ticket(&app, &ctx, req)).await;
            Ok::<_, Infallible>(match r {
                Ok(d) => json(StatusCode::CREATED, &d),
                Err(e) => e.response(),
            })
        })
        .boxed();
    let get_ticket = path!("api" / "agent" / "tickets" / u64)
        .and(warp::get())
        .and(a())
        .and(auth())
        .and_then(|id: u64, app: App, ctx: AgentCtx| {
            with_hd(app, move |app| {
                detail(app.helpdesk(), visible_ticket(app.helpdesk(), &ctx.agent, TicketId(id))?)
            })
        })
        .boxed();
    // Replies and notes: JSON, or multipart/form-data with files.
    let reply = path!("api" / "agent" / "tickets" / u64 / "reply")
        .and(warp::post())
        .and(a())
        .and(auth())
        .and(submitted(app.clone(), Plain::Json))
        .and_then(|id: u64, app: App, ctx: AgentCtx, req: Submitted<ReplyRequest>| {
            with_hd(app, move |app| {
                let (req, files) = req?;
                helpdesk_core::command::check_body(&req.body, &[])?;
                let attachments = app.helpdesk().store_files(files)?;
                let cmd = Command::AgentReply { body: req.body, attachments, status: req.status };
                run(app, &ctx, TicketId(id), req.version, cmd)
            })
        })
        .boxed();
    let note = path!("api" / "agent" / "tickets" / u64 / "notes")
        .and(warp::post())
        .and(a())
        .and(auth())
        .and(submitted(app.clone(), Plain::Json))
        .and_then(|id: u64, app: App, ctx: AgentCtx, req: Submitted<NoteRequest>| {
            with_hd(app, move |app| {
                let (req, files) = req?;
                helpdesk_core::command::check_body(&req.body, &[])?;
                let attachments = app.helpdesk().store_files(files)?;
                run(app, &ctx, TicketId(id), req.version, Command::AddNote { body: req.body, attachments })
            })
        })
        .boxed();
    let file = path!("api" / "agent" / "tickets" / u64 / "posts" / u32 / "files" / usize)
        .and(warp::get())
        .and(a())
        .and(auth())
        .and_then(|id: u64, post: u32, n: usize, app: App, ctx: AgentCtx| async move {
            let r = blocking(move || {
                Ok(app.helpdesk().file_for_agent(&ctx.agent, TicketId(id), PostId(post), n)?)
            })
            .await;
            Ok::<_, Infallible>(match r {
                Ok(f) => download(f),
                Err(e) => e.response(),
            })
        })
        .boxed();
    let command = path!("api" / "agent" / "tickets" / u64 / "commands")
        .and(warp::post())
        .and(a())
        .and(auth())
        .and(json_body())
        .and_then(|id: u64, app: App, ctx: AgentCtx, req: CommandRequest| {
            with_hd(app, move |app| {
                if matches!(req.command, Command::UserReply { .. }) {
                    return Err(ApiError::forbidden(
                        "agents reply with agent_reply; user_reply is for users",
                    ));
                }
                may_name_user(app.helpdesk(), &ctx.agent, &req.command)?;
                run(app, &ctx, TicketId(id), req.version, req.command).map(|p| p.detail)
            })
        })
        .boxed();
    let cc = path!("api" / "agent" / "tickets" / u64 / "cc")
        .and(warp::post())
        .and(a())
        .and(auth())
        .and(json_body())
        .and_then(|id: u64, app: App, ctx: AgentCtx, req: CcRequest| {
            with_hd(app, move |app| add_cc(app, &ctx, TicketId(id), req))
        })
        .boxed();
    let user = path!("api" / "agent" / "users" / u64)
        .and(warp::get())
        .and(a())
        .and(auth())
        .and(client_key())
        .and_then(|id: u64, app: App, ctx: AgentCtx, client: String| {
            with_hd(app, move |app| {
                Ok(app.helpdesk().user_for_agent(ctx.agent.id, UserId(id), Some(client))?)
            })
        })
        .boxed();
    let keys_list = path!("api" / "agent" / "api-keys")
        .and(warp::get())
        .and(a())
        .and(auth())
        .and_then(|app: App, ctx: AgentCtx| {
            with_hd(app, move |app| {
                let keys =
                    app.helpdesk().credentials_of(Principal::Agent(ctx.agent.id), CredentialKind::ApiKey)?;
                Ok(keys.into_iter().map(|c| api_key_info(c, None)).collect::<Vec<_>>())
            })
        })
        .boxed();
    let keys_create = path!("api" / "agent" / "api-keys")
        .and(warp::post())
        .and(a())
        .and(auth())
        .and(json_body())
        .and_then(|app: App, ctx: AgentCtx, req: ApiKeyRequest| async move {
            let r = blocking(move || Ok(app.helpdesk().create_api_key(ctx.agent.id, &req.label)?)).await;
            Ok::<_, Infallible>(match r {
                Ok((c, key)) => json(StatusCode::CREATED, &api_key_info(c, Some(key))),
                Err(e) => e.response(),
            })
        })
        .boxed();
    let keys_revoke = path!("api" / "agent" / "api-keys" / u64)
        .and(warp::delete())
        .and(a())
        .and(auth())
        .and_then(|id: u64, app: App, ctx: AgentCtx| {
            with_hd(app, move |app| {
                app.helpdesk().revoke_api_key(ctx.agent.id, CredentialId(id))?;
                Ok(serde_json::json!({"revoked": id}))
            })
        })
        .boxed();
    let recent = path!("api" / "agent" / "notifications")
        .and(warp::get())
        .and(a())
        .and(auth())
        .map(|app: App, ctx: AgentCtx| json(StatusCode::OK, &app.recent_notifications(ctx.agent.id)))
        .boxed();
    let subs_get = path!("api" / "agent" / "subscriptions")
        .and(warp::get())
        .and(a())
        .and(auth())
        .and_then(|app: App, ctx: AgentCtx| {
            with_hd(app, move |app| Ok(app.helpdesk().subscriptions(ctx.agent.id)?))
        })
        .boxed();
    let subs_put = path!("api" / "agent" / "subscriptions")
        .and(warp::put())
        .and(a())
        .and(auth())
        .and(json_body())
        .and_then(|app: App, ctx: AgentCtx, req: SubscriptionsRequest| {
            with_hd(app, move |app| {
                let subs = Subscriptions { agent: ctx.agent.id, rules: req.rules };
                Ok(app.helpdesk().set_subscriptions(subs)?)
            })
        })
        .boxed();
    let events = path!("api" / "agent" / "events")
        .and(warp::get())
        .and(a())
        .and(auth())
        .map(|app: App, ctx: AgentCtx| bay_stream(&app, &ctx))
        .boxed();

    ui.or(login)
        .unify()
        .or(logout)
        .unify()
        .or(me_r)
        .unify()
        .or(dir)
        .unify()
        .or(filters_r)
        .unify()
        .or(filter_tickets)
        .unify()
        .or(search_r)
        .unify()
        .or(create)
        .unify()
        .or(get_ticket)
        .unify()
        .or(reply)
        .unify()
        .or(note)
        .unify()
        .or(file)
        .unify()
        .or(command)
        .unify()
        .or(cc)
        .unify()
        .or(user)
        .unify()
        .or(keys_list)
        .unify()
        .or(keys_create)
        .unify()
        .or(keys_revoke)
        .unify()
        .or(recent)
        .unify()
        .or(subs_get)
        .unify()
        .or(subs_put)
        .unify()
        .or(events)
        .unify()
        .boxed()
}

/// `PUT /api/agent/subscriptions`: the calling agent's subscriptions, whole.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionsRequest {
    /// Event x scope x channel triples.
    pub rules: std::collections::BTreeSet<Subscription>,
}

/// The agent's live stream as server-sent events:
/// - `event: notification` — an in-app notification for this agent (their
///   subscriptions decide; the bay lists these);
/// - `event: ticket` — a change someone else committed through this server in
///   a department the agent may see (lists and open tickets refresh).
///
/// The stream ends when the server stops or the credential it was opened
/// with dies ([`credential_dies`](crate::auth::credential_dies)).
fn bay_stream(app: &App, ctx: &AgentCtx) -> Response {
    let agent = ctx.agent.clone();
    use tokio_stream::wrappers::BroadcastStream;
    use tokio_stream::StreamExt;
    let me = Actor::Agent(agent.id);
    let id = agent.id;
    let changes = BroadcastStream::new(app.subscribe()).filter_map(move |ev| match ev {
        Ok(ev) if ev.actor != me && agent.permissions.can_see(ev.department) => {
            warp::sse::Event::default().event("ticket").json_data(&ev).ok().map(Ok::<_, Infallible>)
        }
        _ => None,
    });
    let notifications = BroadcastStream::new(app.notifications()).filter_map(move |n| match n {
        Ok(n) if n.agent == id => {
            warp::sse::Event::default().event("notification").json_data(&n).ok().map(Ok::<_, Infallible>)
        }
        _ => None,
    });
    let closed = app.closed();
    let dies = crate::auth::credential_dies(app.clone(), ctx);
    let end = async move {
        tokio::select! {
            _ = closed => {}
            _ = dies => {}
        }
    };
    let stream = futures_util::StreamExt::take_until(changes.merge(notifications), end);
    warp::sse::reply(warp::sse::keep_alive().stream(stream)).into_response()
}
