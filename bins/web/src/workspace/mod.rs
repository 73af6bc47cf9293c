//! The agent workspace: server-rendered HTML (maud) enhanced with htmx and
//! its SSE extension (vendored under `assets/vendor/`).
//!
//! Every screen has a URL, and one handler serves both the whole page and the
//! fragment a pane loads: a request with `HX-Request` gets just the pane named
//! by `HX-Target` (the list pane, the content pane, a ticket's live part),
//! any other request the workspace around it. So a pasted URL opens the same
//! screen for a colleague, and a page works without JavaScript.
//!
//! | URL | what |
//! | --- | --- |
//! | `GET /agent` | the agent's last filter (or My Tickets) |
//! | `GET /agent/login`, `POST /agent/login`, `POST /agent/logout` | HTML login (back to the page asked for) |
//! | `GET /agent/filters/{slug}` | the list pane of a filter (`?sort=urgency\|oldest\|newest`, `?cursor=`) |
//! | `GET /agent/tickets/new`, `POST /agent/tickets/new` | the Create form (`/agent/tickets/new/user?email=`: who the address is) |
//! | `GET /agent/custom-filters/{id}` | a saved custom filter's list (`?cursor=`) |
//! | `GET`/`POST /agent/custom-filters/new`, `/agent/custom-filters/{id}/edit` | the custom filter form |
//! | `GET`/`POST /agent/custom-filters/{id}/delete` | confirm, then delete a custom filter |
//! | `GET /agent/tickets/{id}` | the ticket as a tab (`?view=log`: its full log) |
//! | `POST /agent/tickets/{id}/reply` | reply or note (`mode`), status on send |
//! | `POST /agent/tickets/{id}/actions` | a property change, delete, spam, restore |
//! | `POST /agent/tickets/{id}/close` | closes the tab |
//! | `GET /agent/users/{id}`, `GET /agent/organisations/{id}` | profile panes |
//! | `GET /agent/people` (`?kind=users\|organisations`, `q`, `after`) | the People app: find users and organisations |
//! | `GET /agent/people/users/{id}`, `/agent/people/organisations/{id}` | profiles in the People app |
//! | `GET /agent/search?q=` | jumps to `#id`, an id or a user's email |
//! | `GET`/`POST /agent/profile`, `/agent/profile/notifications`, `/agent/profile/password` | the agent's preferences, notification matrix, password |
//! | `GET /agent/bay`, `POST /agent/bay/read` | the notifications bay |
//! | `GET /agent/assets/...`, `GET /favicon.ico` | versioned assets, cached for a year |
//!
//! The open tabs, the chosen filter and sort, and when the bay was last read
//! are kept per agent in the store ([`Helpdesk::put_app_value`], namespace
//! [`NAMESPACE`]), so a reload (or another browser) keeps the workspace.
//!
//! Pages are state-changing only by POST, with the session's CSRF token in
//! the `X-CSRF-Token` header (htmx sends it: `hx-headers` on the body) or a
//! hidden `csrf` form field (forms work without JavaScript).

pub mod assets;
mod create;
mod custom;
mod filter_pane;
pub(crate) mod layout;
mod list;
mod macros;
mod people;
mod profile;
mod relations;
mod snippets;
mod ticket;
mod time;
pub mod two_factor;

use crate::auth::{same_secret, Realm, AGENT_COOKIE};
use crate::error::ApiError;
use crate::{blocking, with_app, App};
use helpdesk_core::{Agent, Principal};
use helpdesk_store::Helpdesk;
use maud::Markup;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

pub use time::TimeZone;

/// The application-value namespace the workspace state lives in (one value per agent).
pub const NAMESPACE: &str = "workspace";
/// Name of the cookie the browser's time zone is sent in (set by `workspace.js`).
pub const TZ_COOKIE: &str = "hd_tz";
/// Most tabs kept open; opening one more closes the oldest.
pub const MAX_TABS: usize = 12;
/// Rows on a page of the list pane.
pub const PAGE_SIZE: usize = 50;
/// Largest form body accepted (bytes).
pub const MAX_FORM: u64 = 256 * 1024;

/// What the workspace remembers for an agent between requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceState {
    /// Open ticket tabs, in tab order.
    #[serde(default)]
    pub tabs: Vec<u64>,
    /// The filter last chosen (slug).
    #[serde(default)]
    pub filter: Option<String>,
    /// The sort last chosen (`urgency`, `oldest`, `newest`).
    #[serde(default)]
    pub sort: Option<String>,
    /// When the agent last read the notifications bay.
    #[serde(default)]
    pub bay_read: Option<chrono::DateTime<chrono::Utc>>,
}

impl WorkspaceState {
    /// The stored state of `agent` (empty when none is stored).
    pub fn load(hd: &Helpdesk, agent: helpdesk_core::AgentId) -> Result<WorkspaceState, ApiError> {
        let key = agent.0.to_string();
        Ok(hd
            .app_values(NAMESPACE)?
            .into_iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| serde_json::from_value(v).ok())
            .unwrap_or_default())
    }

    /// Stores the state of `agent`.
    pub fn save(&self, hd: &Helpdesk, agent: helpdesk_core::AgentId) -> Result<(), ApiError> {
        let v = serde_json::to_value(self).map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(hd.put_app_value(NAMESPACE, &agent.0.to_string(), Some(&v))?)
    }

    /// Opens a tab (moved to the end if open; the oldest closes past [`MAX_TABS`]).
    pub fn open_tab(&mut self, id: u64) -> bool {
        if self.tabs.contains(&id) {
            return false;
        }
        self.tabs.push(id);
        if self.tabs.len() > MAX_TABS {
            self.tabs.remove(0);
        }
        true
    }
}

/// What htmx said about a request.
#[derive(Debug, Clone, Default)]
pub struct Hx {
    /// `HX-Request`: a fragment is wanted.
    pub request: bool,
    /// `HX-Target`: the id of the element the answer replaces.
    pub target: Option<String>,
    /// `HX-History-Restore-Request`: the whole page is wanted after all.
    pub history_restore: bool,
}

impl Hx {
    /// Whether to answer with a fragment (not the whole page).
    pub fn fragment(&self) -> bool {
        self.request && !self.history_restore
    }

    /// Whether the fragment targets the element `id`.
    pub fn targets(&self, id: &str) -> bool {
        self.fragment() && self.target.as_deref() == Some(id)
    }
}

/// The logged-in agent behind a workspace request.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The agent.
    pub agent: Agent,
    /// The session's CSRF token (put in forms and `hx-headers`).
    pub csrf: String,
    /// The agent's time zone: their stored preference, else the browser's.
    pub tz: TimeZone,
    /// Whether `tz` is the agent's stored preference (not the browser's).
    pub tz_chosen: bool,
    /// The agent's signature (put under replies; empty: none).
    pub signature: String,
    /// The session's token (kept when a password change ends the others).
    pub session: String,
    /// Now (the helpdesk's clock).
    pub now: chrono::DateTime<chrono::Utc>,
    /// htmx headers.
    pub hx: Hx,
    /// The helpdesk's name (Admin > Settings), for the top bar.
    pub helpdesk_name: String,
    /// The attachment limits (Admin > Settings), for file pickers.
    pub file_limits: helpdesk_core::files::FileLimits,
}

impl Ctx {
    /// Whether a submitted token (header or form field) is this session's.
    pub fn csrf_ok(&self, header: Option<&str>, field: Option<&str>) -> bool {
        header.or(field).is_some_and(|t| same_secret(t, &self.csrf))
    }
}

/// A form's errors by field name (`top`: the rest).
pub type Errors = std::collections::BTreeMap<String, String>;

/// The error shown under field `key`, if it has one (its id is what
/// [`error_id`] gives the field's `aria-describedby`).
pub fn field_error(errors: &Errors, key: &str) -> Markup {
    match errors.get(key) {
        Some(e) => maud::html! { p.field-error id=(format!("err-{key}")) role="alert" { (e) } },
        None => maud::html! {},
    }
}

/// The id of field `key`'s error, when it has one.
pub fn error_id(errors: &Errors, key: &str) -> Option<String> {
    errors.contains_key(key).then(|| format!("err-{key}"))
}

/// A response with a status and HTML.
pub fn html(status: StatusCode, markup: Markup) -> Response {
    let mut r = Response::new(markup.into_string().into());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("content-type", "text/html; charset=utf-8".parse().expect("static header"));
    h.insert("cache-control", "no-store".parse().expect("static header"));
    h.insert("vary", "HX-Request, HX-Target".parse().expect("static header"));
    r
}

/// A redirect: `303 See Other` for a page; for an htmx request an
/// `HX-Redirect` header (htmx would otherwise swap the page into a pane).
pub fn redirect(hx: &Hx, to: &str) -> Response {
    let mut r = Response::new(Default::default());
    if hx.request {
        r.headers_mut()
            .insert("hx-redirect", to.parse().unwrap_or_else(|_| "/agent".parse().expect("static")));
    } else {
        *r.status_mut() = StatusCode::SEE_OTHER;
        r.headers_mut().insert("location", to.parse().unwrap_or_else(|_| "/agent".parse().expect("static")));
    }
    r
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A `next` target after login: only paths of the workspace.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/agent") && !n.starts_with("/agent/login") && !n.contains("//") => n.into(),
        _ => "/agent".into(),
    }
}

/// Who is asking: the logged-in agent, or the answer that sends them to log in.
pub type Auth = Result<Ctx, Response>;

struct Request {
    cookie: Option<String>,
    tz: Option<String>,
    hx: Hx,
    path: String,
}

async fn authenticate(app: App, req: Request) -> Result<Auth, Infallible> {
    let login = |hx: &Hx, path: &str| redirect(hx, &format!("/agent/login?next={}", encode(path)));
    let token = req.cookie.clone().unwrap_or_default();
    let Some(session) = req.cookie.as_deref().and_then(|t| app.sessions().get(Realm::Agent, t)) else {
        return Ok(Err(login(&req.hx, &req.path)));
    };
    let Some(Principal::Agent(id)) = session.principal else {
        return Ok(Err(login(&req.hx, &req.path)));
    };
    let app2 = app.clone();
    let found = blocking(move || {
        let hd = app2.helpdesk();
        Ok((hd.agent(id)?, hd.agent_preferences(id)?, hd.settings()?))
    })
    .await;
    let (agent, prefs, settings) = match found {
        Ok((a, p, s)) if !a.disabled => (a, p, s),
        _ => return Ok(Err(login(&req.hx, &req.path))),
    };
    let chosen = prefs.time_zone.as_deref().and_then(|z| z.parse::<chrono_tz::Tz>().ok());
    Ok(Ok(Ctx {
        agent,
        csrf: session.csrf,
        tz: chosen.map(TimeZone).unwrap_or_else(|| TimeZone::from_cookie(req.tz.as_deref())),
        tz_chosen: chosen.is_some(),
        signature: prefs.signature,
        session: token,
        now: app.helpdesk().clock().now(),
        hx: req.hx,
        file_limits: settings.file_limits(),
        helpdesk_name: settings.name,
    }))
}

/// The workspace's authentication: a logged-in agent's session, or a
/// redirect to the login page (and back) for anyone else.
pub fn auth(app: App) -> impl Filter<Extract = (Auth,), Error = warp::Rejection> + Clone {
    with_app(app)
        .and(warp::cookie::optional::<String>(AGENT_COOKIE))
        .and(warp::cookie::optional::<String>(TZ_COOKIE))
        .and(hx())
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and_then(|app: App, cookie, tz, hx: Hx, path: warp::path::FullPath, query: String| {
            let path = if query.is_empty() {
                path.as_str().to_string()
            } else {
                format!("{}?{query}", path.as_str())
            };
            authenticate(app, Request { cookie, tz, hx, path })
        })
}

/// The htmx request headers.
pub fn hx() -> impl Filter<Extract = (Hx,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("hx-request")
        .and(warp::header::optional::<String>("hx-target"))
        .and(warp::header::optional::<String>("hx-history-restore-request"))
        .map(|r: Option<String>, target: Option<String>, restore: Option<String>| Hx {
            request: r.as_deref() == Some("true"),
            target,
            history_restore: restore.as_deref() == Some("true"),
        })
}

/// Unwraps the agent or answers with the login redirect.
macro_rules! agent_or_login {
    ($auth:expr) => {
        match $auth {
            Ok(ctx) => ctx,
            Err(r) => return Ok::<warp::reply::Response, std::convert::Infallible>(r),
        }
    };
}
pub(crate) use agent_or_login;

/// Renders an error as a page or pane: the message where the screen would be.
pub fn error_page(app: &App, ctx: &Ctx, e: &ApiError) -> Response {
    let body = layout::notice_pane(&e.message);
    if ctx.hx.fragment() {
        return html(e.status, body);
    }
    let hd = app.helpdesk();
    let state = WorkspaceState::load(hd, ctx.agent.id).unwrap_or_default();
    match layout::workspace(app, ctx, &state, layout::Focus::Content, None, Some(body)) {
        Ok(m) => html(e.status, m),
        Err(_) => html(e.status, layout::bare_page("Error", layout::notice_pane(&e.message))),
    }
}

/// Runs a page handler on the blocking pool; errors become error pages.
pub async fn run<F>(app: App, ctx: Ctx, f: F) -> Result<Response, Infallible>
where
    F: FnOnce(&App, &Ctx) -> Result<Response, ApiError> + Send + 'static,
{
    let r = blocking(move || Ok(f(&app, &ctx).unwrap_or_else(|e| error_page(&app, &ctx, &e)))).await;
    Ok(r.unwrap_or_else(|e| html(e.status, layout::bare_page("Error", layout::notice_pane(&e.message)))))
}

/// The workspace routes (pages, fragments, forms and assets), without error recovery.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    assets::routes()
        .or(layout::routes(app.clone()))
        .unify()
        .or(create::routes(app.clone()))
        .unify()
        .or(custom::routes(app.clone()))
        .unify()
        .or(profile::routes(app.clone()))
        .unify()
        .or(list::routes(app.clone()))
        .unify()
        .or(ticket::routes(app.clone()))
        .unify()
        .or(people::routes(app.clone()))
        .unify()
        .or(two_factor::routes(app))
        .unify()
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_open_once_in_order_and_the_oldest_goes_past_the_limit() {
        let mut s = WorkspaceState::default();
        assert!(s.open_tab(3));
        assert!(s.open_tab(1));
        assert!(!s.open_tab(3), "already open");
        assert_eq!(s.tabs, vec![3, 1]);
        for id in 10..10 + MAX_TABS as u64 {
            s.open_tab(id);
        }
        assert_eq!(s.tabs.len(), MAX_TABS);
        assert_eq!(s.tabs.first(), Some(&10), "3 and 1 closed first");
        assert_eq!(s.tabs.last(), Some(&(9 + MAX_TABS as u64)));
    }

    #[test]
    fn state_round_trips_through_the_store() {
        let hd = Helpdesk::in_memory();
        let a = helpdesk_core::AgentId(7);
        assert_eq!(WorkspaceState::load(&hd, a).unwrap(), WorkspaceState::default());
        let s = WorkspaceState {
            tabs: vec![4, 2],
            filter: Some("all".into()),
            sort: Some("oldest".into()),
            bay_read: None,
        };
        s.save(&hd, a).unwrap();
        assert_eq!(WorkspaceState::load(&hd, a).unwrap(), s);
        assert_eq!(WorkspaceState::load(&hd, helpdesk_core::AgentId(8)).unwrap(), WorkspaceState::default());
    }

    #[test]
    fn next_stays_in_the_workspace() {
        assert_eq!(safe_next(Some("/agent/tickets/4?view=log")), "/agent/tickets/4?view=log");
        for bad in [
            None,
            Some("https://evil.example/agent"),
            Some("//evil.example"),
            Some("/agent//x"),
            Some("/portal"),
            Some("/agent/login"),
        ] {
            assert_eq!(safe_next(bad), "/agent");
        }
        assert_eq!(encode("/agent/tickets/1?view=log"), "/agent/tickets/1%3Fview%3Dlog");
    }
}
