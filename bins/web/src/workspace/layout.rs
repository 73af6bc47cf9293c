//! The page around the panes: head, top bar (profile menu, notifications bay,
//! search, Create slot), apps bar, the shortcuts dialog; the login page;
//! `/agent`, search and the bay's routes.

use super::{
    agent_or_login, assets, auth, filter_pane, html, list, redirect, run, safe_next, ticket, Auth, Ctx, Hx,
    WorkspaceState, MAX_FORM,
};
use crate::auth::{clear_cookie, AGENT_COOKIE};
use crate::error::ApiError;
use crate::{blocking, client_key, with_app, App};
use helpdesk_core::TicketId;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;
use std::convert::Infallible;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

/// htmx settings: no eval (the CSP forbids it), no injected styles, every
/// answer swapped (errors are rendered panes), a reload on history misses.
const HTMX_CONFIG: &str = r#"{"allowEval":false,"allowScriptTags":false,"includeIndicatorStyles":false,"historyCacheSize":0,"refreshOnHistoryMiss":true,"defaultFocusScroll":false,"responseHandling":[{"code":"204","swap":false},{"code":"...","swap":true}]}"#;

/// An icon from the sprite.
pub fn icon(name: &str) -> Markup {
    html! { svg.icon aria-hidden="true" focusable="false" { use href=(format!("#i-{name}")) {} } }
}

/// Which pane a phone shows (one at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The filter pane.
    Filters,
    /// The list pane.
    List,
    /// The content pane (a ticket, a profile).
    Content,
}

impl Focus {
    fn as_str(self) -> &'static str {
        match self {
            Focus::Filters => "filters",
            Focus::List => "list",
            Focus::Content => "content",
        }
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="htmx-config" content=(HTMX_CONFIG);
            title { (title) " · Helpdesk" }
            link rel="icon" type="image/svg+xml" href=(assets::favicon_path());
            link rel="stylesheet" href=(assets::css_path());
            script src=(assets::HTMX_PATH) defer {}
            script src=(assets::SSE_PATH) defer {}
            script src=(assets::js_path()) defer {}
            script src=(assets::files_js_path()) defer {}
        }
    }
}

/// A page without the workspace (login, errors before login).
pub fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare { main #main { (body) } }
        }
    }
}

/// A message in place of a pane's content.
pub fn notice_pane(message: &str) -> Markup {
    html! {
        main #content .content data-view="content" {
            div.empty role="alert" { p { (message) } p { a href="/agent" { "Back to your tickets" } } }
        }
    }
}

fn top_bar(ctx: &Ctx, bay: Markup) -> Markup {
    html! {
        header.topbar {
            button #menu-toggle .iconbtn type="button" aria-controls="filter-pane" aria-expanded="false" {
                (icon("menu")) span.vh { "Menu" }
            }
            a.brand href="/agent" { (ctx.helpdesk_name) }
            details.profile.menu {
                summary aria-label=(format!("Profile: {}", ctx.agent.name)) {
                    span.avatar aria-hidden="true" { (initials(&ctx.agent.name)) }
                    span.name { (ctx.agent.name) }
                }
                div.dropdown {
                    p.muted { (ctx.agent.email) }
                    p.muted #tz-note { "Times in " (ctx.tz.name()) (if ctx.tz_chosen { " (your setting)" } else { " (your browser's)" }) }
                    ul.menu-items {
                        li { a #menu-preferences href="/agent/profile" hx-target="#content" hx-swap="outerHTML" { (icon("settings")) " Preferences" } }
                        li { a #menu-notifications href="/agent/profile/notifications" hx-target="#content" hx-swap="outerHTML" { (icon("bell")) " Notifications" } }
                        li { a #menu-password href="/agent/profile/password" hx-target="#content" hx-swap="outerHTML" { (icon("keyboard")) " Change password" } }
                    }
                    form method="post" action="/agent/logout" {
                        input type="hidden" name="csrf" value=(ctx.csrf);
                        button.btn type="submit" { (icon("log-out")) " Log out" }
                    }
                }
            }
            details #bay .menu {
                (bay)
            }
            // Found: htmx follows the `HX-Redirect`; not found: the notice in the content pane.
            form.search role="search" method="get" action="/agent/search" hx-target="#content" hx-swap="outerHTML" {
                label.vh for="search" { "Search tickets: an id (#12) or an email address" }
                (icon("search"))
                input #search type="search" name="q" placeholder="Search or #id" autocomplete="off";
                kbd.hint aria-hidden="true" { "/" }
            }
            a #create .btn.primary href="/agent/tickets/new" hx-target="#content" hx-swap="outerHTML" aria-label="Create a ticket" {
                (icon("plus")) span { "Create" }
            }
            button #shortcuts-button .iconbtn type="button" aria-haspopup="dialog" aria-controls="shortcuts" {
                (icon("keyboard")) span.vh { "Keyboard shortcuts" }
            }
        }
    }
}

fn initials(name: &str) -> String {
    name.split_whitespace().filter_map(|w| w.chars().next()).take(2).collect()
}

/// The unread count on the bell; refreshes itself (and the list, out of band) on `sse:notification`.
fn bay_count(unread: usize) -> Markup {
    html! {
        span #bay-count .count.(if unread == 0 { "zero" } else { "some" })
            hx-get="/agent/bay" hx-trigger="sse:notification" hx-swap="outerHTML" hx-target="this" {
            (unread) span.vh { " unread" }
        }
    }
}

/// The bay's summary (bell and count) and list, for the page.
fn bay_menu(app: &App, ctx: &Ctx) -> Result<Markup, ApiError> {
    let parts = bay(app, ctx, false)?;
    Ok(html! {
        summary #bay-button aria-label="Notifications" { (icon("bell")) (parts.0) }
        (parts.1)
    })
}

/// The bay's count and list (`oob`: the list swapped out of band, for the fragment).
fn bay(app: &App, ctx: &Ctx, oob: bool) -> Result<(Markup, Markup), ApiError> {
    let state = WorkspaceState::load(app.helpdesk(), ctx.agent.id)?;
    let all = app.recent_notifications(ctx.agent.id);
    let unread = all.iter().filter(|n| state.bay_read.is_none_or(|r| n.at > r)).count();
    Ok((
        bay_count(unread),
        html! {
            div #bay-list .dropdown hx-swap-oob=[oob.then_some("true")] {
                @if all.is_empty() {
                    p.muted { "Nothing yet. Changes others make to your tickets appear here." }
                } @else {
                    form.bay-read method="post" action="/agent/bay/read" hx-post="/agent/bay/read" hx-target="#bay-count" hx-swap="outerHTML" {
                        input type="hidden" name="csrf" value=(ctx.csrf);
                        button.btn.small type="submit" disabled[unread == 0] { "Mark all read" }
                    }
                    ul.bay-items {
                        @for n in &all {
                            li.(if state.bay_read.is_none_or(|r| n.at > r) { "unread" } else { "read" }) {
                                a href=(format!("/agent/tickets/{}", n.ticket.0)) hx-boost="false" {
                                    span.subject { "#" (n.ticket.0) " " (n.subject) }
                                    span.meta { (reason(&n.reason)) " · " (ctx.tz.time(ctx.now, n.at)) }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

fn reason(r: &str) -> String {
    match r {
        "new_ticket" => "New ticket".into(),
        "user_reply" => "User replied".into(),
        "agent_reply" => "Agent replied".into(),
        "note" => "New note".into(),
        "assignment" => "Assignment changed".into(),
        "status" => "Status changed".into(),
        "updated" => "Updated".into(),
        other => other.replace('_', " "),
    }
}

/// The apps of the apps bar that exist so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppName {
    /// The ticket workspace.
    Tickets,
    /// People: users and organisations.
    People,
    /// Admin (admins only).
    Admin,
}

fn apps_bar(ctx: &Ctx, current: AppName) -> Markup {
    let later = [
        ("book-open", "Publish"),
        ("square-check", "Tasks"),
        ("message-circle", "Chat"),
        ("chart-bar", "Reports"),
    ];
    let here = |a: AppName| (a == current).then_some("page");
    html! {
        nav.apps aria-label="Apps" {
            ul {
                li { a.app.current[current == AppName::Tickets] href="/agent" aria-current=[here(AppName::Tickets)] title="Tickets" { (icon("inbox")) span.label { "Tickets" } } }
                li { a #app-people .app.current[current == AppName::People] href="/agent/people" aria-current=[here(AppName::People)] title="People" { (icon("users")) span.label { "People" } } }
                // The other apps plug in here as they are built.
                @for (i, name) in later {
                    li { span.app.later aria-disabled="true" title=(format!("{name} (coming)")) { (icon(i)) span.label { (name) } } }
                }
                @if ctx.agent.permissions.admin {
                    li { a #app-admin .app.current[current == AppName::Admin] href="/agent/admin" aria-current=[here(AppName::Admin)] title="Admin" { (icon("settings")) span.label { "Admin" } } }
                }
            }
        }
    }
}

/// A page of an app other than Tickets: the top bar and apps bar around the
/// app's navigation pane (`nav`, shown first on a phone when `focus` is
/// [`Focus::Filters`]) and its content pane.
pub fn app_page(
    app: &App,
    ctx: &Ctx,
    title: &str,
    current: AppName,
    focus: Focus,
    nav: Markup,
    content: Markup,
) -> Result<Markup, ApiError> {
    let bay = bay_menu(app, ctx)?;
    let headers = serde_json::json!({ "X-CSRF-Token": ctx.csrf }).to_string();
    Ok(html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body hx-ext="sse" sse-connect="/api/agent/events" hx-headers=(headers) hx-boost="true" data-view=(focus.as_str()) {
                (PreEscaped(assets::SPRITE))
                a.skip href="#content" { "Skip to the content" }
                (top_bar(ctx, bay))
                div.shell.app-shell {
                    (apps_bar(ctx, current))
                    (nav)
                    (content)
                }
                (shortcuts_dialog())
                div #live-status .vh role="status" aria-live="polite" {}
            }
        }
    })
}

fn shortcuts_dialog() -> Markup {
    let keys = [
        ("j / k", "Next / previous ticket in the list"),
        ("Enter", "Open the selected ticket"),
        ("r", "Reply to the open ticket"),
        ("n", "Write a note"),
        ("a", "Assign the open ticket to me"),
        ("e", "Resolve the open ticket"),
        ("x", "Close the open tab"),
        ("/", "Search"),
        ("?", "This list"),
    ];
    html! {
        dialog #shortcuts aria-labelledby="shortcuts-title" {
            h2 #shortcuts-title { "Keyboard shortcuts" }
            dl.keys {
                @for (k, what) in keys { dt { kbd { (k) } } dd { (what) } }
            }
            form method="dialog" { button.btn type="submit" { "Close" } }
        }
    }
}

/// The whole workspace page around the panes. `list`/`content` default to the
/// agent's last filter and an empty content pane with the open tabs.
pub fn workspace(
    app: &App,
    ctx: &Ctx,
    state: &WorkspaceState,
    focus: Focus,
    list: Option<Markup>,
    content: Option<Markup>,
) -> Result<Markup, ApiError> {
    let mut query = list::ListQuery::from_state(state);
    let list = match list {
        Some(l) => l,
        None => match list::list_pane(app, ctx, &query) {
            Ok(l) => l,
            // A saved filter since deleted (or unshared): the built-in list instead.
            Err(_) if query.custom.is_some() => {
                query.custom = None;
                list::list_pane(app, ctx, &query)?
            }
            Err(e) => return Err(e),
        },
    };
    let content = match content {
        Some(c) => c,
        None => ticket::content_pane(app, ctx, state, None)?,
    };
    let bay = bay_menu(app, ctx)?;
    let headers = serde_json::json!({ "X-CSRF-Token": ctx.csrf }).to_string();
    let title = query.title(app.helpdesk(), &ctx.agent);
    Ok(html! {
        (DOCTYPE)
        html lang="en" {
            (head(&title))
            body hx-ext="sse" sse-connect="/api/agent/events" hx-headers=(headers) hx-boost="true" data-view=(focus.as_str()) {
                (PreEscaped(assets::SPRITE))
                a.skip href="#content" { "Skip to the ticket" }
                (top_bar(ctx, bay))
                div.shell {
                    (apps_bar(ctx, AppName::Tickets))
                    (filter_pane::filter_pane(app, ctx, &query, false)?)
                    (list)
                    (content)
                }
                (shortcuts_dialog())
                div #live-status .vh role="status" aria-live="polite" {}
            }
        }
    })
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: Option<String>,
}

fn login_page(next: &str, email: &str, error: Option<&str>) -> Markup {
    bare_page(
        "Log in",
        html! {
            div.login {
                h1 { span.brand { "Helpdesk" } " agent login" }
                form.card method="post" action="/agent/login" {
                    input type="hidden" name="next" value=(next);
                    @if let Some(e) = error { p.error #login-error role="alert" { (e) } }
                    label for="login-email" { "Email" }
                    input #login-email type="email" name="email" value=(email) autocomplete="username" required autofocus;
                    label for="login-password" { "Password" }
                    input #login-password type="password" name="password" autocomplete="current-password" required
                        aria-describedby=[error.map(|_| "login-error")];
                    button #login-submit .btn.primary type="submit" { "Log in" }
                }
                p { a #forgot-link href="/agent/forgot-password" { "Forgot your password?" } }
            }
        },
    )
}

async fn login_post(app: App, ip: String, form: LoginForm) -> Result<Response, Infallible> {
    let next = safe_next(form.next.as_deref());
    let limited = app
        .check_login(format!("agent-ip:{ip}"))
        .and_then(|_| app.check_login(format!("agent:{}", form.email.trim().to_lowercase())));
    if let Err(e) = limited {
        return Ok(html(e.status, login_page(&next, &form.email, Some(&e.message))));
    }
    let app2 = app.clone();
    let (email, password) = (form.email.clone(), form.password.clone());
    let found = blocking(move || Ok(app2.helpdesk().agent_login(&email, &password, Some(ip))?)).await;
    let agent = match found {
        Ok(Some(a)) => a,
        Ok(None) => {
            return Ok(html(
                StatusCode::UNAUTHORIZED,
                login_page(&next, &form.email, Some("Wrong email or password.")),
            ))
        }
        Err(e) => return Ok(html(e.status, login_page(&next, &form.email, Some(&e.message)))),
    };
    let app2 = app.clone();
    let (agent2, next2) = (agent.clone(), next.clone());
    match blocking(move || super::two_factor::second_step(&app2, &agent2, &next2)).await {
        Ok(Some(step)) => return Ok(step),
        Ok(None) => {}
        Err(e) => return Ok(html(e.status, login_page(&next, &form.email, Some(&e.message)))),
    }
    let (_, cookie) = crate::auth::start_agent_session(&app, agent.id);
    tracing::info!(agent = %agent.id, "agent logged in (workspace)");
    let mut r = redirect(&Hx::default(), &next);
    r.headers_mut().insert("set-cookie", cookie);
    Ok(r)
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

fn search(app: &App, ctx: &Ctx, q: &str) -> Result<Response, ApiError> {
    let q = q.trim();
    let hd = app.helpdesk();
    if let Ok(id) = q.trim_start_matches('#').trim().parse::<u64>() {
        crate::agent::visible_ticket(hd, &ctx.agent, TicketId(id))
            .map_err(|_| ApiError::not_found(format!("No ticket #{id} (or not in your departments).")))?;
        return Ok(redirect(&ctx.hx, &format!("/agent/tickets/{id}")));
    }
    if q.contains('@') {
        return match hd.user_by_email(q)? {
            Some(u) => Ok(redirect(&ctx.hx, &format!("/agent/users/{}", u.id.0))),
            None => Err(ApiError::not_found(format!("No user with the address {q}."))),
        };
    }
    Err(ApiError::invalid(
        "Search for a ticket id (12 or #12) or a user's email address; word search comes later.",
    ))
}

/// `/agent`, login, logout, search and the bay.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let a = || auth(app.clone());
    let root = path!("agent")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(a())
        .and_then(|app: App, auth: Auth| async move {
            let ctx = agent_or_login!(auth);
            run(app, ctx, |app, ctx| {
                let state = WorkspaceState::load(app.helpdesk(), ctx.agent.id)?;
                let mut q = list::ListQuery::from_state(&state);
                if let Some(id) = q.custom {
                    if app.helpdesk().saved_filters(ctx.agent.id).get(id).is_err() {
                        q.custom = None;
                    }
                }
                Ok(redirect(&ctx.hx, &q.url(None)))
            })
            .await
        })
        .boxed();
    let login_get = path!("agent" / "login")
        .and(warp::get())
        .and(warp::query::<NextQuery>())
        .and(with_app(app.clone()))
        .and_then(|q: NextQuery, app: App| async move {
            // A helpdesk nobody set up yet has no one to log in: the setup first.
            let setup = blocking(move || Ok(app.helpdesk().needs_setup()?)).await.unwrap_or(false);
            Ok::<_, Infallible>(if setup {
                redirect(&Hx::default(), "/setup")
            } else {
                html(StatusCode::OK, login_page(&safe_next(q.next.as_deref()), "", None))
            })
        })
        .boxed();
    let login_post = path!("agent" / "login")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(client_key())
        .and(warp::body::content_length_limit(MAX_FORM))
        .and(warp::body::form())
        .and_then(login_post)
        .boxed();
    let logout = path!("agent" / "logout")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(a())
        .and(warp::cookie::optional::<String>(AGENT_COOKIE))
        .and(warp::header::optional::<String>("x-csrf-token"))
        .and(warp::body::content_length_limit(MAX_FORM))
        .and(warp::body::form())
        .and_then(
            |app: App, auth: Auth, token: Option<String>, header: Option<String>, form: CsrfForm| async move {
                let ctx = agent_or_login!(auth);
                if !ctx.csrf_ok(header.as_deref(), form.csrf.as_deref()) {
                    return Ok(html(
                        StatusCode::FORBIDDEN,
                        notice_pane("This form expired: reload the page."),
                    ));
                }
                if let Some(t) = token {
                    app.sessions().remove(&t);
                }
                let mut r = redirect(&ctx.hx, "/agent/login");
                r.headers_mut()
                    .insert("set-cookie", clear_cookie(AGENT_COOKIE).parse().expect("static cookie"));
                Ok(r)
            },
        )
        .boxed();
    let search_r = path!("agent" / "search")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(a())
        .and(warp::query::<SearchQuery>())
        .and_then(|app: App, auth: Auth, q: SearchQuery| async move {
            let ctx = agent_or_login!(auth);
            run(app, ctx, move |app, ctx| search(app, ctx, &q.q)).await
        })
        .boxed();
    let bay_r = path!("agent" / "bay")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(a())
        .and_then(|app: App, auth: Auth| async move {
            let ctx = agent_or_login!(auth);
            if !ctx.hx.fragment() {
                return Ok(redirect(&ctx.hx, "/agent"));
            }
            run(app, ctx, |app, ctx| {
                let (count, list) = bay(app, ctx, true)?;
                Ok(html(StatusCode::OK, html! { (count) (list) }))
            })
            .await
        })
        .boxed();
    let bay_read = path!("agent" / "bay" / "read")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(a())
        .and(warp::header::optional::<String>("x-csrf-token"))
        .and(warp::body::content_length_limit(MAX_FORM))
        .and(warp::body::form())
        .and_then(|app: App, auth: Auth, header: Option<String>, form: CsrfForm| async move {
            let ctx = agent_or_login!(auth);
            if !ctx.csrf_ok(header.as_deref(), form.csrf.as_deref()) {
                return Ok(html(StatusCode::FORBIDDEN, notice_pane("This form expired: reload the page.")));
            }
            run(app, ctx, |app, ctx| {
                let hd = app.helpdesk();
                let mut state = WorkspaceState::load(hd, ctx.agent.id)?;
                state.bay_read = Some(ctx.now);
                state.save(hd, ctx.agent.id)?;
                if ctx.hx.fragment() {
                    let (count, list) = bay(app, ctx, true)?;
                    Ok(html(StatusCode::OK, html! { (count) (list) }))
                } else {
                    Ok(redirect(&ctx.hx, "/agent"))
                }
            })
            .await
        })
        .boxed();
    root.or(login_get)
        .unify()
        .or(login_post)
        .unify()
        .or(logout)
        .unify()
        .or(search_r)
        .unify()
        .or(bay_r)
        .unify()
        .or(bay_read)
        .unify()
        .boxed()
}
