//! The agent's own screens, from the profile menu: preferences (signature,
//! time zone) at `/agent/profile`, the notification matrix at
//! `/agent/profile/notifications`, `/agent/profile/password` and
//! `/agent/profile/two-factor` (its screen is in `two_factor`).

use super::ticket::content_page;
use super::{agent_or_login, auth, error_id, field_error, html, run, Auth, Ctx, Errors, MAX_FORM};
use crate::auth::{AgentCtx, Via};
use crate::error::ApiError;
use crate::profile::{change_password, PasswordRequest};
use crate::{with_app, App};
use helpdesk_core::people::preferences::{AgentPreferences, MAX_SIGNATURE};
use helpdesk_core::*;
use maud::{html, Markup};
use std::collections::BTreeSet;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

/// Delivery channels, as the matrix's column groups.
const CHANNELS: [DeliveryChannel; 2] = [DeliveryChannel::InApp, DeliveryChannel::Email];

fn event_name(e: NotifyEvent) -> &'static str {
    match e {
        NotifyEvent::NewTicket => "New ticket",
        NotifyEvent::UserReply => "User replies",
        NotifyEvent::AgentReply => "Agent replies",
        NotifyEvent::Note => "New note",
        NotifyEvent::Assignment => "Assignment changes",
        NotifyEvent::Status => "Status changes",
        NotifyEvent::AnyChange => "Any other change",
    }
}

fn scope_name(s: Scope) -> &'static str {
    match s {
        Scope::Mine => "Mine",
        Scope::MyTeams => "My teams",
        Scope::Followed => "Followed",
        Scope::Unassigned => "Unassigned",
        Scope::All => "All",
    }
}

fn channel_name(c: DeliveryChannel) -> &'static str {
    match c {
        DeliveryChannel::InApp => "In the app",
        DeliveryChannel::Email => "By email",
    }
}

/// The checkbox value of a cell: indices into the `ALL` lists.
fn cell(e: usize, s: usize, c: usize) -> String {
    format!("{e}-{s}-{c}")
}

fn parse_cell(v: &str) -> Option<Subscription> {
    let mut it = v.split('-').map(|p| p.parse::<usize>().ok());
    let (e, s, c) = (it.next()??, it.next()??, it.next()??);
    Some(Subscription {
        event: *NotifyEvent::ALL.get(e)?,
        scope: *Scope::ALL.get(s)?,
        channel: *CHANNELS.get(c)?,
    })
}

pub(super) fn section_nav(here: &str) -> Markup {
    let items = [
        ("/agent/profile", "Preferences"),
        ("/agent/profile/notifications", "Notifications"),
        ("/agent/profile/password", "Change password"),
        ("/agent/profile/two-factor", "Two-factor login"),
        ("/agent/profile/snippets", "Snippets"),
        ("/agent/profile/macros", "Macros"),
    ];
    html! {
        nav.subnav aria-label="Your profile" {
            ul {
                @for (href, label) in items {
                    li { a href=(href) hx-target="#content" hx-swap="outerHTML" aria-current=[(here == href).then_some("page")] { (label) } }
                }
            }
        }
    }
}

fn notice(n: Option<(bool, &str)>) -> Markup {
    match n {
        Some((true, m)) => html! { div.notice.error role="alert" { (m) } },
        Some((false, m)) => html! { div.notice.info role="status" { (m) } },
        None => html! {},
    }
}

/// `/agent/profile`: name, email, signature and time zone.
fn preferences(ctx: &Ctx, signature: &str, zone: &str, error: Option<(&str, String)>, saved: bool) -> Markup {
    let errors: Errors = error.into_iter().map(|(k, m)| (k.to_string(), m)).collect();
    let err = |k: &str| field_error(&errors, k);
    let desc = |k: &str| error_id(&errors, k);
    html! {
        article.profile-screen aria-labelledby="pf-title" {
            header.ticket-head { h1 #pf-title { "Preferences" } p.muted { (ctx.agent.name) " · " (ctx.agent.email) } }
            (section_nav("/agent/profile"))
            @if saved { (notice(Some((false, "Saved.")))) }
            form #pf-form .form method="post" action="/agent/profile" hx-post="/agent/profile" hx-target="#content" hx-swap="outerHTML" {
                input type="hidden" name="csrf" value=(ctx.csrf);
                div.form-row {
                    label for="pf-signature" { "Signature" }
                    textarea #pf-signature name="signature" rows="4" maxlength=(MAX_SIGNATURE)
                        aria-describedby=(desc("signature").unwrap_or_else(|| "pf-signature-hint".into())) { (signature) }
                    p #pf-signature-hint .hint { "Put under every reply you start (not under notes)." }
                    (err("signature"))
                }
                div.form-row {
                    label for="pf-zone" { "Time zone" }
                    select #pf-zone name="time_zone" aria-describedby=(desc("time_zone").unwrap_or_else(|| "pf-zone-hint".into())) {
                        option value="" selected[zone.is_empty()] { "The browser's" }
                        @for z in chrono_tz::TZ_VARIANTS.iter() {
                            option value=(z.name()) selected[zone == z.name()] { (z.name()) }
                        }
                    }
                    p #pf-zone-hint .hint {
                        "Times in the workspace are now in " (ctx.tz.name())
                        (if ctx.tz_chosen { " (your setting)." } else { " (your browser's)." })
                    }
                    (err("time_zone"))
                }
                div.form-actions { button #pf-submit .btn.primary type="submit" { "Save preferences" } }
            }
        }
    }
}

fn save_preferences(app: &App, ctx: &Ctx, form: &[(String, String)]) -> Result<Response, ApiError> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let (signature, zone) = (get("signature"), get("time_zone"));
    let prefs = AgentPreferences {
        agent: ctx.agent.id,
        signature: signature.clone(),
        time_zone: (!zone.trim().is_empty()).then(|| zone.clone()),
    };
    match app.helpdesk().set_agent_preferences(prefs) {
        Ok(p) => {
            // Show the page as the next request will see it.
            let mut ctx = ctx.clone();
            ctx.signature = p.signature.clone();
            if let Some(z) = p.time_zone.as_deref().and_then(|z| z.parse().ok()) {
                ctx.tz = super::TimeZone(z);
                ctx.tz_chosen = true;
            }
            let body = preferences(&ctx, &p.signature, p.time_zone.as_deref().unwrap_or(""), None, true);
            content_page(app, &ctx, body, StatusCode::OK)
        }
        Err(e) => {
            let key = match &e {
                helpdesk_store::Error::Directory(DirectoryError::UnknownTimeZone(_)) => "time_zone",
                _ => "signature",
            };
            let body = preferences(ctx, &signature, &zone, Some((key, ApiError::from(e).message)), false);
            content_page(app, ctx, body, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

/// `/agent/profile/notifications`: every event x scope x channel as a checkbox.
fn notifications(ctx: &Ctx, subs: &Subscriptions, saved: bool) -> Markup {
    html! {
        article.profile-screen aria-labelledby="nt-title" {
            header.ticket-head { h1 #nt-title { "Notifications" } p.muted { "What you hear about, for which tickets, and where." } }
            (section_nav("/agent/profile/notifications"))
            @if saved { (notice(Some((false, "Saved.")))) }
            form #nt-form .form method="post" action="/agent/profile/notifications"
                hx-post="/agent/profile/notifications" hx-target="#content" hx-swap="outerHTML" {
                input type="hidden" name="csrf" value=(ctx.csrf);
                div.table-wrap tabindex="0" role="region" aria-labelledby="nt-caption" {
                    table.matrix {
                        caption #nt-caption { "Notify me of a change, by the tickets it is on, in the app or by email" }
                        thead {
                            tr {
                                td rowspan="2" {}
                                @for c in CHANNELS { th #(format!("nt-c{}", channel_index(c))) scope="colgroup" colspan=(Scope::ALL.len()) { (channel_name(c)) } }
                            }
                            tr {
                                @for (ci, _) in CHANNELS.iter().enumerate() {
                                    @for (si, s) in Scope::ALL.iter().enumerate() {
                                        th #(format!("nt-c{ci}-s{si}")) scope="col" { (scope_name(*s)) }
                                    }
                                }
                            }
                        }
                        tbody {
                            @for (ei, e) in NotifyEvent::ALL.iter().enumerate() {
                                tr {
                                    th #(format!("nt-e{ei}")) scope="row" { (event_name(*e)) }
                                    @for (ci, c) in CHANNELS.iter().enumerate() {
                                        @for (si, s) in Scope::ALL.iter().enumerate() {
                                            @let on = subs.rules.contains(&Subscription { event: *e, scope: *s, channel: *c });
                                            td {
                                                input type="checkbox" name="sub" value=(cell(ei, si, ci)) checked[on]
                                                    id=(format!("nt-{ei}-{si}-{ci}"))
                                                    aria-label=(format!("{}, {}, {}", event_name(*e), scope_name(*s), channel_name(*c)));
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                div.form-actions { button #nt-submit .btn.primary type="submit" { "Save notifications" } }
            }
        }
    }
}

fn channel_index(c: DeliveryChannel) -> usize {
    CHANNELS.iter().position(|x| *x == c).unwrap_or(0)
}

fn save_notifications(app: &App, ctx: &Ctx, form: &[(String, String)]) -> Result<Response, ApiError> {
    let mut rules = BTreeSet::new();
    for (k, v) in form {
        if k == "sub" {
            let s = parse_cell(v)
                .ok_or_else(|| ApiError::bad_request(format!("Unknown notification cell {v:?}.")))?;
            rules.insert(s);
        }
    }
    let subs = app.helpdesk().set_subscriptions(Subscriptions { agent: ctx.agent.id, rules })?;
    content_page(app, ctx, notifications(ctx, &subs, true), StatusCode::OK)
}

/// `/agent/profile/password`.
fn password(ctx: &Ctx, error: Option<(&str, String)>, ended: Option<usize>) -> Markup {
    let errors: Errors = error.into_iter().map(|(k, m)| (k.to_string(), m)).collect();
    let err = |k: &str| field_error(&errors, k);
    let desc = |k: &str| error_id(&errors, k);
    html! {
        article.profile-screen aria-labelledby="pw-title" {
            header.ticket-head { h1 #pw-title { "Change password" } p.muted { (ctx.agent.email) } }
            (section_nav("/agent/profile/password"))
            @if let Some(n) = ended {
                div.notice.info role="status" {
                    "Password changed. "
                    (match n { 0 => "You had no other sessions.".to_string(), 1 => "1 other session was logged out.".to_string(), n => format!("{n} other sessions were logged out.") })
                }
            }
            @if let Some(m) = errors.get("top") { div.notice.error role="alert" { (m) } }
            form #pw-form .form method="post" action="/agent/profile/password"
                hx-post="/agent/profile/password" hx-target="#content" hx-swap="outerHTML" {
                input type="hidden" name="csrf" value=(ctx.csrf);
                input type="hidden" name="username" value=(ctx.agent.email) autocomplete="username";
                div.form-row {
                    label for="pw-current" { "Current password" }
                    input #pw-current type="password" name="current" autocomplete="current-password" required aria-describedby=[desc("current")];
                    (err("current"))
                }
                div.form-row {
                    label for="pw-new" { "New password" }
                    input #pw-new type="password" name="new" autocomplete="new-password" required aria-describedby=[desc("new")];
                    (err("new"))
                }
                div.form-row {
                    label for="pw-repeat" { "Repeat the new password" }
                    input #pw-repeat type="password" name="repeat" autocomplete="new-password" required aria-describedby=[desc("repeat")];
                    (err("repeat"))
                }
                p.hint { "Your other sessions are logged out; this one stays." }
                div.form-actions { button #pw-submit .btn.primary type="submit" { "Change password" } }
            }
        }
    }
}

fn save_password(app: &App, ctx: &Ctx, form: &[(String, String)]) -> Result<Response, ApiError> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let (current, new, repeat) = (get("current"), get("new"), get("repeat"));
    let refuse = |key: &str, m: String| {
        content_page(app, ctx, password(ctx, Some((key, m)), None), StatusCode::UNPROCESSABLE_ENTITY)
    };
    if new != repeat {
        return refuse("repeat", "The two new passwords differ.".into());
    }
    let actx = AgentCtx { agent: ctx.agent.clone(), via: Via::Session(ctx.session.clone()) };
    match change_password(app, &actx, PasswordRequest { current, new }) {
        Ok(ended) => content_page(app, ctx, password(ctx, None, Some(ended)), StatusCode::OK),
        Err(e) if e.code == "wrong_password" => {
            refuse("current", "That is not your current password.".into())
        }
        Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => refuse("top", e.message),
        Err(e) => refuse("new", e.message),
    }
}

fn show(app: &App, ctx: &Ctx, what: &str, edit: Option<u64>) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let body = match what {
        "snippets" => super::snippets::show(app, ctx, edit)?,
        "macros" => super::macros::show(app, ctx, edit)?,
        "notifications" => notifications(ctx, &hd.subscriptions(ctx.agent.id)?, false),
        "password" => password(ctx, None, None),
        "two-factor" => super::two_factor::profile_screen(app, ctx, None, None, None)?,
        "preferences" => {
            let p = hd.agent_preferences(ctx.agent.id)?;
            preferences(ctx, &p.signature, p.time_zone.as_deref().unwrap_or(""), None, false)
        }
        _ => return Err(ApiError::not_found("There is no such profile screen.")),
    };
    content_page(app, ctx, body, StatusCode::OK)
}

#[derive(serde::Deserialize)]
struct EditQuery {
    #[serde(default)]
    edit: Option<u64>,
}

/// `GET`/`POST /agent/profile`, `/agent/profile/notifications`,
/// `/agent/profile/password`, `/agent/profile/two-factor`, `/agent/profile/snippets`,
/// `/agent/profile/macros`.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let tail = || {
        path!("agent" / "profile" / String)
            .or(path!("agent" / "profile").map(|| "preferences".to_string()))
            .unify()
    };
    let get = tail()
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(auth(app.clone()))
        .and(warp::query::<EditQuery>())
        .and_then(|what: String, app: App, auth: Auth, q: EditQuery| async move {
            let ctx = agent_or_login!(auth);
            run(app, ctx, move |app, ctx| show(app, ctx, &what, q.edit)).await
        })
        .boxed();
    let post = tail()
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(auth(app.clone()))
        .and(warp::header::optional::<String>("x-csrf-token"))
        .and(crate::client_key())
        .and(warp::body::content_length_limit(MAX_FORM))
        .and(warp::body::form::<Vec<(String, String)>>())
        .and_then(
            |what: String,
             app: App,
             auth: Auth,
             header: Option<String>,
             client: String,
             form: Vec<(String, String)>| async move {
                let ctx = agent_or_login!(auth);
                let field = form.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
                if !ctx.csrf_ok(header.as_deref(), field) {
                    return Ok(html(
                        StatusCode::FORBIDDEN,
                        super::layout::notice_pane("This form expired: reload the page and try again."),
                    ));
                }
                run(app, ctx, move |app, ctx| match what.as_str() {
                    "notifications" => save_notifications(app, ctx, &form),
                    "password" => save_password(app, ctx, &form),
                    "two-factor" => {
                        let body = super::two_factor::save_profile(app, ctx, &form, client)?;
                        content_page(app, ctx, body, StatusCode::OK)
                    }
                    "preferences" => save_preferences(app, ctx, &form),
                    "snippets" => super::snippets::save(app, ctx, &form),
                    "macros" => super::macros::save(app, ctx, &form),
                    _ => Err(ApiError::not_found("There is no such profile screen.")),
                })
                .await
            },
        )
        .boxed();
    get.or(post).unify().boxed()
}
