//! The user web portal: register (with email validation), log in, submit a
//! ticket (department and its custom fields), list one's own and CC'd tickets,
//! view and reply.
//!
//! Pages are built from [`UserTicketView`], which has no notes or agent-only
//! data at all (DESIGN rule 6). Tickets the user does not take part in answer
//! 404, like tickets that do not exist, so ids cannot be probed. Text is
//! escaped by the templates (maud), and so are message bodies (plain text, links added).
//! Every form carries the session's CSRF token.

use crate::auth::{portal_session, session_cookie, PortalCtx, Realm, PORTAL_COOKIE};
use crate::error::ApiError;
use crate::files::{download, file_input, file_list, submitted, Plain, ShownFile, Submitted, FILES_JS};
use crate::{blocking, client_key, with_app, App};
use helpdesk_core::admin::Registration;
use helpdesk_core::templates::{Language, MailKind};
use helpdesk_core::*;
use helpdesk_mail::outbound::Addressee;
use helpdesk_store::files::NewFile;
use helpdesk_store::password_reset::ResetFor;
use helpdesk_store::Helpdesk;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

/// Largest form accepted (bytes).
pub const MAX_FORM: u64 = 256 * 1024;

const CSS: &str = include_str!("../assets/portal.css");

fn layout(ctx: &PortalCtx, user: Option<&User>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Helpdesk" }
                link rel="stylesheet" href="/portal/portal.css";
                script src="/portal/files.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { (ctx.settings.name) }
                    nav {
                        @if let Some(u) = user {
                            a href="/portal/tickets" { "My tickets" }
                            a href="/portal/tickets/new" { "New ticket" }
                            span.who { (u.name) }
                            form.inline method="post" action="/portal/logout" {
                                input type="hidden" name="csrf" value=(ctx.session.csrf);
                                button type="submit" { "Log out" }
                            }
                        } @else {
                            a href="/portal/login" { "Log in" }
                            @if ctx.settings.registration != Registration::InviteOnly { a href="/portal/register" { "Register" } }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

fn page(ctx: &PortalCtx, status: StatusCode, markup: Markup) -> Response {
    let mut r = warp::reply::with_status(warp::reply::html(markup.into_string()), status).into_response();
    if let Some(c) = &ctx.set_cookie {
        r.headers_mut().insert("set-cookie", c.parse().expect("cookie"));
    }
    r
}

fn redirect(ctx: &PortalCtx, to: &str) -> Response {
    let mut r = warp::http::Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("location", to)
        .body("".into())
        .unwrap_or_default();
    if let Some(c) = &ctx.set_cookie {
        r.headers_mut().insert("set-cookie", c.parse().expect("cookie"));
    }
    r
}

fn error_box(msg: Option<&str>) -> Markup {
    html! { @if let Some(m) = msg { p.error role="alert" { (m) } } }
}

/// A message body as safe HTML (escaped, links added), with line breaks.
fn body(text: &str) -> Markup {
    PreEscaped(crate::agent::body_html(text))
}

fn current_user(hd: &Helpdesk, ctx: &PortalCtx) -> Option<User> {
    // A blocked user is logged out everywhere, whatever their session says.
    ctx.user().and_then(|u| hd.user(u).ok()).filter(|u| !u.blocked && ctx.user() == Some(u.id))
}

/// A ticket the user takes part in, as they may see it; 404 for anything else.
pub fn user_ticket(hd: &Helpdesk, user: UserId, id: TicketId) -> Result<UserTicketView, ApiError> {
    let not_found = || ApiError::not_found(format!("ticket {id} not found"));
    let t = match hd.ticket(id) {
        Ok(t) => t,
        Err(helpdesk_store::Error::Ticket(TicketError::NotFound(_))) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    if !hd.user_may_see(user, &t)? {
        return Err(not_found());
    }
    let dept = hd.department(t.department)?;
    Ok(UserTicketView::new(&t, &dept, |a| match a {
        Author::User(u) => hd.user(u).map(|u| u.name).unwrap_or_else(|_| "user".into()),
        Author::Agent(a) => hd.agent(a).map(|a| a.name).unwrap_or_else(|_| "Support".into()),
    }))
}

/// The tickets a user owns or is CC'd on (hidden ones left out), newest first.
pub fn user_tickets(hd: &Helpdesk, user: UserId) -> Result<Vec<UserTicketView>, ApiError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = hd.tickets_of_user(user, after, 200)?;
        let Some(last) = page.last().map(|t| t.id) else { break };
        for t in page {
            if let Ok(v) = user_ticket(hd, user, t.id) {
                out.push(v);
            }
        }
        after = Some(last);
    }
    out.reverse();
    Ok(out)
}

/// The tickets of the user's organisation they may read (their usergroups
/// allow it) and do not take part in, newest first, with the owner's name.
pub fn organisation_tickets(hd: &Helpdesk, user: UserId) -> Result<Vec<(Ticket, String)>, ApiError> {
    let mut out: Vec<(Ticket, String)> = hd
        .organisation_tickets_of(user)?
        .into_iter()
        .filter(|t| !t.is_participant(user))
        .map(|t| {
            let from = hd.user(t.user).map(|u| u.name).unwrap_or_default();
            (t, from)
        })
        .collect();
    out.reverse();
    Ok(out)
}

fn status_label(s: Status) -> &'static str {
    match s {
        Status::AwaitingAgent => "Awaiting our reply",
        Status::AwaitingUser => "Awaiting your reply",
        Status::Pending => "Pending",
        Status::Resolved | Status::Spam | Status::Deleted => "Resolved",
        Status::Validating => "Awaiting email confirmation",
    }
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    csrf: String,
}

#[derive(Debug, Deserialize)]
struct RegisterForm {
    name: String,
    email: String,
    password: String,
    csrf: String,
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: String,
}

#[derive(Debug, Deserialize)]
struct ReplyForm {
    body: String,
    csrf: String,
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: String,
}

#[derive(Debug, Deserialize)]
struct NewQuery {
    department: Option<u64>,
}

fn login_page(ctx: &PortalCtx, status: StatusCode, err: Option<&str>, email: &str) -> Response {
    page(
        ctx,
        status,
        layout(
            ctx,
            None,
            "Log in",
            html! {
                (error_box(err))
                form.card method="post" action="/portal/login" {
                    input type="hidden" name="csrf" value=(ctx.session.csrf);
                    label { "Email" input type="email" name="email" required value=(email); }
                    label { "Password" input type="password" name="password" required; }
                    button type="submit" { "Log in" }
                }
                p { a href="/portal/forgot-password" { "Forgot your password?" } }
                @if ctx.settings.registration != Registration::InviteOnly { p { "No account yet? " a href="/portal/register" { "Register" } } }
            },
        ),
    )
}

fn forgot_page(
    ctx: &PortalCtx,
    status: StatusCode,
    note: Option<&str>,
    err: Option<&str>,
    email: &str,
) -> Response {
    page(
        ctx,
        status,
        layout(
            ctx,
            None,
            "Forgot your password?",
            html! {
                @if let Some(n) = note { p.notice #reset-sent role="status" { (n) } }
                (error_box(err))
                form.card method="post" action="/portal/forgot-password" {
                    input type="hidden" name="csrf" value=(ctx.session.csrf);
                    p { "Give the address of your account; we mail you a link to choose a new password." }
                    label { "Email" input type="email" name="email" required value=(email) autocomplete="username"; }
                    button type="submit" { "Mail me a link" }
                }
                p { a href="/portal/login" { "Back to the login" } }
            },
        ),
    )
}

fn reset_page(ctx: &PortalCtx, status: StatusCode, token: Option<&str>, err: Option<&str>) -> Response {
    let body = match token {
        Some(token) => html! {
            (error_box(err))
            form.card method="post" action="/portal/reset-password" {
                input type="hidden" name="csrf" value=(ctx.session.csrf);
                input type="hidden" name="token" value=(token);
                label { "New password" input type="password" name="password" required autocomplete="new-password"; }
                label { "Repeat it" input type="password" name="repeat" required autocomplete="new-password"; }
                button type="submit" { "Set the new password" }
            }
        },
        None => html! {
            p.notice { "This link no longer works: it was used already, it is older than "
                (helpdesk_store::password_reset::RESET_MINUTES) " minutes, or a newer one was sent." }
            p { a href="/portal/forgot-password" { "Ask for a new link" } }
        },
    };
    page(ctx, status, layout(ctx, None, "Choose a new password", body))
}

fn password_page(
    ctx: &PortalCtx,
    user: &User,
    status: StatusCode,
    note: Option<&str>,
    err: Option<&str>,
) -> Response {
    page(
        ctx,
        status,
        layout(
            ctx,
            Some(user),
            "Change your password",
            html! {
                @if let Some(n) = note { p.notice role="status" { (n) } }
                (error_box(err))
                form.card method="post" action="/portal/password" {
                    input type="hidden" name="csrf" value=(ctx.session.csrf);
                    label { "Current password" input type="password" name="current" required autocomplete="current-password"; }
                    label { "New password" input type="password" name="password" required autocomplete="new-password"; }
                    label { "Repeat it" input type="password" name="repeat" required autocomplete="new-password"; }
                    button type="submit" { "Change password" }
                }
            },
        ),
    )
}

/// A user changes their password: the current one checked; their other
/// sessions end.
fn change_password(app: &App, ctx: &PortalCtx, user: User, f: &BTreeMap<String, String>) -> Response {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    if !ctx.csrf_ok(&get("csrf")) {
        return csrf_failed(ctx, Some(&user));
    }
    if get("password") != get("repeat") {
        return password_page(
            ctx,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("The two passwords differ."),
        );
    }
    match app.helpdesk().change_user_password(user.id, &get("current"), &get("password")) {
        Ok(()) => {
            app.sessions().end_others(Principal::User(user.id), Some(&ctx.token));
            password_page(
                ctx,
                &user,
                StatusCode::OK,
                Some("Your password is changed; your other sessions have ended."),
                None,
            )
        }
        Err(e) => {
            let e = ApiError::from(e);
            let status = if e.status.is_server_error() { e.status } else { StatusCode::UNPROCESSABLE_ENTITY };
            password_page(ctx, &user, status, None, Some(&e.message))
        }
    }
}

fn register_page(
    ctx: &PortalCtx,
    status: StatusCode,
    err: Option<&str>,
    name: &str,
    email: &str,
) -> Response {
    page(
        ctx,
        status,
        layout(
            ctx,
            None,
            "Register",
            html! {
                (error_box(err))
                form.card method="post" action="/portal/register" {
                    input type="hidden" name="csrf" value=(ctx.session.csrf);
                    label { "Name" input type="text" name="name" required value=(name); }
                    label { "Email" input type="email" name="email" required value=(email); }
                    label { (format!("Password (at least {} characters)", ctx.settings.password_min_length.max(8))) input type="password" name="password" required minlength=(ctx.settings.password_min_length.max(8)); }
                    button type="submit" { "Register" }
                }
            },
        ),
    )
}

fn message_page(
    ctx: &PortalCtx,
    user: Option<&User>,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Response {
    page(ctx, status, layout(ctx, user, title, html! { p.notice { (text) } }))
}

fn csrf_failed(ctx: &PortalCtx, user: Option<&User>) -> Response {
    message_page(
        ctx,
        user,
        StatusCode::FORBIDDEN,
        "Form expired",
        "This form was not sent from this site's page or has expired. Go back, reload the page and try again.",
    )
}

fn field_input(f: &FieldDef) -> Markup {
    let name = format!("field_{}", f.key);
    html! {
        label {
            (f.label) @if f.required { " *" }
            @match &f.kind {
                FieldKind::Text => input type="text" name=(name) required[f.required];,
                FieldKind::Number => input type="number" step="any" name=(name) required[f.required];,
                FieldKind::Date => input type="date" name=(name) required[f.required];,
                FieldKind::Choice { options } => select name=(name) required[f.required] {
                    option value="" { "—" }
                    @for o in options { option value=(o) { (o) } }
                },
            }
        }
    }
}

/// Parses the department's user-visible custom fields out of a form.
pub fn parse_fields(
    dept: &Department,
    form: &HashMap<String, String>,
) -> Result<std::collections::BTreeMap<String, FieldValue>, String> {
    let mut out = std::collections::BTreeMap::new();
    for f in dept.live_fields().filter(|f| !f.agent_only) {
        let Some(raw) = form.get(&format!("field_{}", f.key)).map(|s| s.trim()).filter(|s| !s.is_empty())
        else {
            continue;
        };
        let v = match &f.kind {
            FieldKind::Text => FieldValue::Text(raw.to_string()),
            FieldKind::Choice { .. } => FieldValue::Choice(raw.to_string()),
            FieldKind::Number => {
                FieldValue::Number(raw.parse().map_err(|_| format!("{}: enter a number", f.label))?)
            }
            FieldKind::Date => {
                FieldValue::Date(raw.parse().map_err(|_| format!("{}: enter a date (YYYY-MM-DD)", f.label))?)
            }
        };
        out.insert(f.key.clone(), v);
    }
    Ok(out)
}

fn new_ticket_page(
    app: &App,
    ctx: &PortalCtx,
    user: &User,
    depts: &[Department],
    chosen: Option<DepartmentId>,
    err: Option<&str>,
    status: StatusCode,
) -> Response {
    let dept = chosen.and_then(|c| depts.iter().find(|d| d.id == c)).or(depts.first());
    let may_cc = may_copy_in(app.helpdesk(), user);
    page(
        ctx,
        status,
        layout(
            ctx,
            Some(user),
            "New ticket",
            html! {
                (error_box(err))
                @if depts.len() > 1 {
                    form.card.inline-form method="get" action="/portal/tickets/new" {
                        label { "Department"
                            select name="department" {
                                @for d in depts { option value=(d.id.0) selected[Some(d.id) == dept.map(|d| d.id)] { (d.name) } }
                            }
                        }
                        button type="submit" { "Choose" }
                    }
                }
                @if let Some(d) = dept {
                    form.card method="post" action="/portal/tickets" enctype="multipart/form-data" {
                        input type="hidden" name="csrf" value=(ctx.session.csrf);
                        input type="hidden" name="department" value=(d.id.0);
                        p { "Department: " strong { (d.name) } }
                        label { "Subject" input type="text" name="subject" required maxlength="255"; }
                        label { "Message" textarea name="body" rows="8" required {} }
                        (file_input("new-files", &ctx.settings.file_limits()))
                        @for f in d.live_fields().filter(|f| !f.agent_only) { (field_input(f)) }
                        @if may_cc {
                            label { "Copy in (optional)"
                                input type="text" name="cc" inputmode="email" placeholder="colleague@example.com, another@example.com";
                                small.hint { "Colleagues of your organisation who have an account here: up to " (MAX_CCS) " addresses, separated by commas. They see the ticket and get the replies too." }
                            }
                        }
                        button type="submit" { "Submit ticket" }
                    }
                } @else {
                    p { "There is no department you can write to here. Write to us by email instead." }
                }
            },
        ),
    )
}

fn ticket_page(
    app: &App,
    ctx: &PortalCtx,
    user: &User,
    v: &UserTicketView,
    err: Option<&str>,
    status: StatusCode,
) -> Response {
    // Someone of the user's organisation owns it: read only.
    let participant = app.helpdesk().ticket(v.id).map(|t| t.is_participant(user.id)).unwrap_or(false);
    // Field labels of the ticket's department (only fields the view kept are looked up).
    let labels: HashMap<String, String> = app
        .helpdesk()
        .departments()
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d.name == v.department)
        .flat_map(|d| d.fields.into_iter().map(|f| (f.key, f.label)))
        .collect();
    page(
        ctx,
        status,
        layout(
            ctx,
            Some(user),
            &format!("#{} {}", v.id.0, v.subject),
            html! {
                p.meta { span.status { (status_label(v.status)) } " · " (v.department) " · opened " (v.created_at.format("%Y-%m-%d %H:%M UTC")) }
                @if !v.fields.is_empty() {
                    dl.fields { @for (k, val) in &v.fields { dt { (labels.get(k).map(String::as_str).unwrap_or(k)) } dd { (val) } } }
                }
                @for m in &v.messages {
                    article.message.agent[m.from_agent] {
                        header { strong { (m.author) } " · " (m.at.format("%Y-%m-%d %H:%M UTC")) }
                        div.body { (body(&m.body)) }
                        @let shown: Vec<ShownFile<'_>> = m.attachments.iter().map(|a| ShownFile {
                            url: format!("/portal/tickets/{}/posts/{}/files/{}", v.id.0, m.id.0, a.n),
                            name: &a.filename,
                            content_type: &a.content_type,
                            size: a.size,
                        }).collect();
                        (file_list(&shown))
                    }
                }
                (error_box(err))
                @if participant {
                    form.card method="post" action=(format!("/portal/tickets/{}/reply", v.id.0)) enctype="multipart/form-data" {
                        input type="hidden" name="csrf" value=(ctx.session.csrf);
                        label { "Your reply" textarea name="body" rows="6" required {} }
                        (file_input("reply-files", &ctx.settings.file_limits()))
                        button type="submit" { "Send reply" }
                    }
                } @else {
                    p.note { "This is a ticket of your organisation, shown to you to read. Its owner and the people copied in on it reply." }
                }
            },
        ),
    )
}

async fn run<F>(app: App, ctx: PortalCtx, f: F) -> Result<Response, Infallible>
where
    F: FnOnce(&App, &PortalCtx, Option<User>) -> Response + Send + 'static,
{
    let r = blocking(move || {
        let mut ctx = ctx;
        ctx.settings = app.helpdesk().settings()?;
        if !ctx.settings.portal_enabled {
            return Ok(message_page(
                &ctx,
                None,
                // Closed on purpose, not down: no 5xx for monitors to page on.
                StatusCode::NOT_FOUND,
                "The portal is closed",
                "This helpdesk does not take requests through its website at the moment. Please write to us by email.",
            ));
        }
        let user = current_user(app.helpdesk(), &ctx);
        Ok(f(&app, &ctx, user))
    })
    .await;
    Ok(r.unwrap_or_else(|e| e.response()))
}

fn home(ctx: &PortalCtx, user: Option<User>) -> Response {
    if user.is_some() {
        return redirect(ctx, "/portal/tickets");
    }
    page(
        ctx,
        StatusCode::OK,
        layout(
            ctx,
            None,
            "How can we help?",
            html! {
                p { "Log in to submit a ticket and follow the replies to your questions." }
                p {
                    a.button href="/portal/login" { "Log in" }
                    @if ctx.settings.registration != Registration::InviteOnly { " " a.button href="/portal/register" { "Register" } }
                }
            },
        ),
    )
}

fn do_login(app: &App, ctx: &PortalCtx, form: LoginForm, ip: String) -> Response {
    if !ctx.csrf_ok(&form.csrf) {
        return csrf_failed(ctx, None);
    }
    if let Err(e) = app
        .check_login(format!("portal-ip:{ip}"))
        .and_then(|_| app.check_login(format!("user:{}", form.email.trim().to_lowercase())))
    {
        return login_page(ctx, StatusCode::TOO_MANY_REQUESTS, Some(&e.message), &form.email);
    }
    match app.helpdesk().verify_user_password(&form.email, &form.password) {
        Ok(Some(u)) if !u.validated => login_page(
            ctx,
            StatusCode::FORBIDDEN,
            Some("Confirm your email address first: follow the link we sent you."),
            &form.email,
        ),
        Ok(Some(u)) => {
            app.sessions().remove(&ctx.token);
            let (token, _) = app.sessions().create(Realm::Portal, Some(Principal::User(u.id)));
            let cookie = session_cookie(app, PORTAL_COOKIE, &token, Realm::Portal);
            let ctx = PortalCtx { set_cookie: Some(cookie), ..ctx.clone() };
            redirect(&ctx, "/portal/tickets")
        }
        Ok(None) => login_page(ctx, StatusCode::UNAUTHORIZED, Some("Wrong email or password."), &form.email),
        Err(e) => ApiError::from(e).response(),
    }
}

fn do_register(app: &App, ctx: &PortalCtx, form: RegisterForm, ip: String, accept: Option<&str>) -> Response {
    if !ctx.csrf_ok(&form.csrf) {
        return csrf_failed(ctx, None);
    }
    if let Err(e) = app.check_register(ip) {
        return register_page(ctx, StatusCode::TOO_MANY_REQUESTS, Some(&e.message), &form.name, &form.email);
    }
    let hd = app.helpdesk();
    let mode = ctx.settings.registration;
    if mode == Registration::InviteOnly {
        return message_page(
            ctx,
            None,
            StatusCode::FORBIDDEN,
            "Registration is closed",
            "Accounts here are made by our team. Write to us by email and we will set one up.",
        );
    }
    if let Err(e) = hd.check_password_rules(&form.password, &[&form.name, &form.email]) {
        let e = ApiError::from(e);
        return register_page(ctx, e.status, Some(&e.message), &form.name, &form.email);
    }
    let base = crate::admin::api::public_url(app);
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            return register_page(
                ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&e.to_string()),
                &form.name,
                &form.email,
            )
        }
    };
    let done = |ctx: &PortalCtx| {
        message_page(
            ctx,
            None,
            StatusCode::OK,
            "Check your email",
            "We sent a link to confirm your address. Follow it, then log in.",
        )
    };
    match hd.user_by_email(email.as_str()) {
        Ok(Some(u)) => {
            // Same answer as for a new address: registration does not reveal who has an account.
            let to =
                Addressee { name: u.name.clone(), email: email.to_string(), language: u.language.clone() };
            let extra = serde_json::json!({ "login_link": format!("{base}/portal/login") });
            crate::admin::api::send_templated(app, MailKind::UserAccountExists, &to, &base, extra);
            return done(ctx);
        }
        Ok(None) => {}
        Err(e) => return ApiError::from(e).response(),
    }
    // The browser's language, when mail can be written in it (and it is
    // not simply the helpdesk's).
    let language = accept.and_then(|h| {
        let default = hd.settings().ok()?.language;
        Language::negotiate(h, &hd.mail_languages().ok()?).filter(|l| *l != default)
    });
    let r = (|| -> Result<Option<String>, ApiError> {
        let mut new = NewUser::new(form.name.clone(), email.as_str());
        new.language = language.clone();
        // Open registration: the account works at once.
        new.validated = mode == Registration::Open;
        let u = hd.create_user(new)?;
        hd.set_password(Principal::User(u.id), &form.password)?;
        if mode == Registration::Open {
            return Ok(None);
        }
        Ok(Some(hd.create_validation_token(u.id)?))
    })();
    match r {
        Ok(None) => message_page(
            ctx,
            None,
            StatusCode::OK,
            "Your account is ready",
            "Log in with your email address and password.",
        ),
        Ok(Some(token)) => {
            let to = Addressee { name: form.name.trim().to_string(), email: email.to_string(), language };
            let extra = serde_json::json!({ "link": format!("{base}/portal/validate?token={token}") });
            crate::admin::api::send_templated(app, MailKind::UserEmailValidation, &to, &base, extra);
            done(ctx)
        }
        Err(e) if e.status.is_client_error() => {
            register_page(ctx, e.status, Some(&e.message), &form.name, &form.email)
        }
        Err(e) => e.response(),
    }
}

fn do_validate(app: &App, ctx: &PortalCtx, q: TokenQuery) -> Response {
    match app.helpdesk().confirm_email(&q.token) {
        Ok(_) => message_page(ctx, None, StatusCode::OK, "Email confirmed", "Thank you. You can now log in."),
        Err(helpdesk_store::AuthError::InvalidToken) => message_page(
            ctx,
            None,
            StatusCode::BAD_REQUEST,
            "Link not valid",
            "This link is invalid or has already been used.",
        ),
        Err(e) => ApiError::from(e).response(),
    }
}

fn list_page(app: &App, ctx: &PortalCtx, user: User) -> Response {
    let ts = match user_tickets(app.helpdesk(), user.id) {
        Ok(t) => t,
        Err(e) => return e.response(),
    };
    let org = match organisation_tickets(app.helpdesk(), user.id) {
        Ok(t) => t,
        Err(e) => return e.response(),
    };
    page(
        ctx,
        StatusCode::OK,
        layout(
            ctx,
            Some(&user),
            "My tickets",
            html! {
                p { a.button href="/portal/tickets/new" { "New ticket" } " " a href="/portal/password" { "Change your password" } }
                @if ts.is_empty() { p { "You have no tickets yet." } }
                @else {
                    table.tickets {
                        thead { tr { th { "#" } th { "Subject" } th { "Status" } th { "Updated" } } }
                        tbody {
                            @for t in &ts {
                                tr {
                                    td { (t.id.0) }
                                    td { a href=(format!("/portal/tickets/{}", t.id.0)) { (t.subject) } @if t.user != user.id { " " span.cc { "(CC)" } } }
                                    td { (status_label(t.status)) }
                                    td { (t.updated_at.format("%Y-%m-%d %H:%M")) }
                                }
                            }
                        }
                    }
                }
                @if !org.is_empty() {
                    h2 { "Your organisation's tickets" }
                    table.tickets {
                        thead { tr { th { "#" } th { "Subject" } th { "From" } th { "Status" } th { "Updated" } } }
                        tbody {
                            @for (t, from) in &org {
                                tr {
                                    td { (t.id.0) }
                                    td { a href=(format!("/portal/tickets/{}", t.id.0)) { (t.subject) } }
                                    td { (from) }
                                    td { (status_label(t.status)) }
                                    td { (t.updated_at.format("%Y-%m-%d %H:%M")) }
                                }
                            }
                        }
                    }
                }
            },
        ),
    )
}

fn login_required(ctx: &PortalCtx) -> Response {
    redirect(ctx, "/portal/login")
}

fn submit_ticket(
    app: &App,
    ctx: &PortalCtx,
    user: User,
    form: HashMap<String, String>,
    files: Vec<NewFile>,
) -> Response {
    if !ctx.csrf_ok(form.get("csrf").map(String::as_str).unwrap_or("")) {
        return csrf_failed(ctx, Some(&user));
    }
    let hd = app.helpdesk();
    let depts = match hd.submit_departments(user.id) {
        Ok(d) => d,
        Err(e) => return ApiError::from(e).response(),
    };
    let dept = form
        .get("department")
        .and_then(|d| d.parse::<u64>().ok())
        .and_then(|d| depts.iter().find(|x| x.id.0 == d));
    let Some(dept) = dept else {
        return new_ticket_page(
            app,
            ctx,
            &user,
            &depts,
            None,
            Some("Choose a department you may write to."),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let fields = match parse_fields(dept, &form) {
        Ok(f) => f,
        Err(m) => {
            return new_ticket_page(
                app,
                ctx,
                &user,
                &depts,
                Some(dept.id),
                Some(&m),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    };
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let refused = |m: &str| {
        new_ticket_page(app, ctx, &user, &depts, Some(dept.id), Some(m), StatusCode::UNPROCESSABLE_ENTITY)
    };
    // The form is checked before anyone copied in is added as a user.
    let checked = helpdesk_core::command::check_subject(&get("subject"))
        .and_then(|_| helpdesk_core::command::check_body(&get("body"), &[]));
    if let Err(e) = checked {
        return refused(&e.to_string());
    }
    let ccs = match copied_in(hd, &user, &get("cc")) {
        Ok(c) => c,
        Err(m) => return refused(&m),
    };
    let attachments = match hd.store_files(files) {
        Ok(a) => a,
        Err(e) => return refused(&ApiError::from(e).message),
    };
    let mut new = NewTicket::new(get("subject"), get("body"), dept.id, user.id, Channel::Portal);
    new.fields = fields;
    new.ccs = ccs;
    new.attachments = attachments;
    match hd.create_ticket(&Actor::User(user.id), new) {
        Ok(t) => {
            if let Ok(log) = hd.log(t.id) {
                app.publish(0, &t, &log);
            }
            redirect(ctx, &format!("/portal/tickets/{}", t.id.0))
        }
        Err(e) => {
            let e = ApiError::from(e);
            if e.status.is_client_error() {
                new_ticket_page(app, ctx, &user, &depts, Some(dept.id), Some(&e.message), e.status)
            } else {
                e.response()
            }
        }
    }
}

/// Most people a user may copy in on a new ticket.
const MAX_CCS: usize = 10;

/// Whether the user is offered copying in: their usergroups allow it and
/// they belong to an organisation (they copy in its other members).
fn may_copy_in(hd: &Helpdesk, user: &User) -> bool {
    user.organisation.is_some() && hd.portal_permissions(user.id).map(|p| p.cc_others).unwrap_or(false)
}

/// The people a user copies in on a new ticket (addresses separated by
/// commas or spaces): members of their own organisation who have an
/// account here. Nobody new is made and no stranger is written to, so the
/// form cannot be used to send the helpdesk's mail to any address.
/// Refused when their usergroups do not allow it, for an address that is
/// not a colleague's, or for more than [`MAX_CCS`].
fn copied_in(hd: &Helpdesk, user: &User, text: &str) -> Result<BTreeSet<UserId>, String> {
    let wanted: Vec<&str> =
        text.split([',', ';', ' ', '\n']).map(str::trim).filter(|a| !a.is_empty()).collect();
    if wanted.is_empty() {
        return Ok(BTreeSet::new());
    }
    if !may_copy_in(hd, user) {
        return Err("Copying others in is not available for your account.".into());
    }
    if wanted.len() > MAX_CCS {
        return Err(format!("Copy in at most {MAX_CCS} people."));
    }
    let mut out = BTreeSet::new();
    for a in wanted {
        let colleague = match Email::parse(a) {
            Ok(e) => hd.user_by_email(e.as_str()).map_err(|e| ApiError::from(e).message)?,
            Err(_) => return Err(format!("{a:?} is not an email address.")),
        }
        .filter(|c| c.organisation.is_some() && c.organisation == user.organisation && !c.blocked);
        match colleague {
            Some(c) if c.id != user.id => {
                out.insert(c.id);
            }
            Some(_) => {}
            None => return Err(format!("{a} is not someone of your organisation here; you can copy in your colleagues who have an account.")),
        }
    }
    Ok(out)
}

fn not_found_page(ctx: &PortalCtx, user: Option<&User>) -> Response {
    message_page(ctx, user, StatusCode::NOT_FOUND, "Not found", "There is no such ticket among yours.")
}

fn view_ticket(app: &App, ctx: &PortalCtx, user: User, id: u64) -> Response {
    // A merged ticket's participants go on to the ticket it was merged into.
    let hd = app.helpdesk();
    if let Ok(t) = hd.ticket(TicketId(id)) {
        if t.relations.merged_into.is_some() && t.is_participant(user.id) {
            if let Ok(now) = hd.current_ticket(t.id) {
                if now.is_participant(user.id) {
                    return redirect(ctx, &format!("/portal/tickets/{}", now.id.0));
                }
            }
        }
    }
    match user_ticket(app.helpdesk(), user.id, TicketId(id)) {
        Ok(v) => ticket_page(app, ctx, &user, &v, None, StatusCode::OK),
        Err(e) if e.status == StatusCode::NOT_FOUND => not_found_page(ctx, Some(&user)),
        Err(e) => e.response(),
    }
}

fn reply(app: &App, ctx: &PortalCtx, user: User, id: u64, form: ReplyForm, files: Vec<NewFile>) -> Response {
    if !ctx.csrf_ok(&form.csrf) {
        return csrf_failed(ctx, Some(&user));
    }
    let hd = app.helpdesk();
    let id = TicketId(id);
    let before = match user_ticket(hd, user.id, id) {
        Ok(v) => v,
        Err(e) if e.status == StatusCode::NOT_FOUND => return not_found_page(ctx, Some(&user)),
        Err(e) => return e.response(),
    };
    let version = hd.ticket(id).map(|t| t.version).unwrap_or(0);
    let refuse = |e: ApiError| ticket_page(app, ctx, &user, &before, Some(&e.message), e.status);
    if let Err(e) = helpdesk_core::command::check_body(&form.body, &[]) {
        return refuse(e.into());
    }
    let attachments = match hd.store_files(files) {
        Ok(a) => a,
        Err(e) => return refuse(e.into()),
    };
    let cmd = Command::UserReply { body: form.body, attachments, channel: Channel::Portal };
    match hd.user_command(id, user.id, cmd) {
        Ok(t) => {
            if let Ok(log) = hd.log(t.id) {
                app.publish(if t.id == id { version } else { 0 }, &t, &log);
            }
            redirect(ctx, &format!("/portal/tickets/{}", t.id.0))
        }
        Err(e) => {
            let e = ApiError::from(e);
            if e.status.is_client_error() {
                refuse(e)
            } else {
                e.response()
            }
        }
    }
}

fn form<T: serde::de::DeserializeOwned + Send>(
) -> impl Filter<Extract = (T,), Error = warp::Rejection> + Clone {
    warp::body::content_length_limit(MAX_FORM).and(warp::body::form())
}

/// The portal routes, without error recovery.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let s = || with_app(app.clone()).and(portal_session(app.clone()));

    let css = path!("portal" / "portal.css")
        .and(warp::get())
        .map(|| crate::agent::asset(CSS, "text/css; charset=utf-8"))
        .boxed();
    let home_r = path::end()
        .and(warp::get())
        .and(s())
        .and_then(|app, ctx| run(app, ctx, |_, ctx, u| home(ctx, u)))
        .boxed();
    let portal_root = path!("portal")
        .and(warp::get())
        .and(s())
        .and_then(|app, ctx| run(app, ctx, |_, ctx, u| home(ctx, u)))
        .boxed();
    let login_get = path!("portal" / "login")
        .and(warp::get())
        .and(s())
        .and_then(|app, ctx| run(app, ctx, |_, ctx, _| login_page(ctx, StatusCode::OK, None, "")))
        .boxed();
    let login_post = path!("portal" / "login")
        .and(warp::post())
        .and(s())
        .and(client_key())
        .and(form())
        .and_then(|app, ctx, ip, f: LoginForm| run(app, ctx, move |app, ctx, _| do_login(app, ctx, f, ip)))
        .boxed();
    let logout = path!("portal" / "logout")
        .and(warp::post())
        .and(s())
        .and(form())
        .and_then(|app, ctx, f: CsrfForm| {
            run(app, ctx, move |app, ctx, u| {
                if !ctx.csrf_ok(&f.csrf) {
                    return csrf_failed(ctx, u.as_ref());
                }
                app.sessions().remove(&ctx.token);
                let mut r = redirect(ctx, "/");
                r.headers_mut()
                    .insert("set-cookie", crate::auth::clear_cookie(PORTAL_COOKIE).parse().expect("cookie"));
                r
            })
        })
        .boxed();
    let register_get = path!("portal" / "register")
        .and(warp::get())
        .and(s())
        .and_then(|app, ctx| run(app, ctx, |_, ctx, _| register_page(ctx, StatusCode::OK, None, "", "")))
        .boxed();
    let register_post = path!("portal" / "register")
        .and(warp::post())
        .and(s())
        .and(client_key())
        .and(warp::header::headers_cloned())
        .and(form())
        .and_then(|app, ctx, ip, headers: warp::http::HeaderMap, f: RegisterForm| {
            // A header that is not text is no preference.
            let accept = headers.get("accept-language").and_then(|v| v.to_str().ok()).map(str::to_string);
            run(app, ctx, move |app, ctx, _| do_register(app, ctx, f, ip, accept.as_deref()))
        })
        .boxed();
    let validate = path!("portal" / "validate")
        .and(warp::get())
        .and(s())
        .and(warp::query::<TokenQuery>())
        .and_then(|app, ctx, q| run(app, ctx, move |app, ctx, _| do_validate(app, ctx, q)))
        .boxed();
    let list = path!("portal" / "tickets")
        .and(warp::get())
        .and(s())
        .and_then(|app, ctx| {
            run(app, ctx, |app, ctx, u| match u {
                Some(u) => list_page(app, ctx, u),
                None => login_required(ctx),
            })
        })
        .boxed();
    let new_get = path!("portal" / "tickets" / "new")
        .and(warp::get())
        .and(s())
        .and(warp::query::<NewQuery>())
        .and_then(|app, ctx, q: NewQuery| {
            run(app, ctx, move |app, ctx, u| match u {
                Some(u) => match app.helpdesk().submit_departments(u.id) {
                    Ok(d) => new_ticket_page(
                        app,
                        ctx,
                        &u,
                        &d,
                        q.department.map(DepartmentId),
                        None,
                        StatusCode::OK,
                    ),
                    Err(e) => ApiError::from(e).response(),
                },
                None => login_required(ctx),
            })
        })
        .boxed();
    let new_post = path!("portal" / "tickets")
        .and(warp::post())
        .and(s())
        .and(submitted(app.clone(), Plain::Form))
        .and_then(|app, ctx, f: Submitted<HashMap<String, String>>| {
            run(app, ctx, move |app, ctx, u| match (u, f) {
                (Some(u), Ok((f, files))) => submit_ticket(app, ctx, u, f, files),
                (Some(u), Err(e)) => match app.helpdesk().submit_departments(u.id) {
                    Ok(d) => new_ticket_page(app, ctx, &u, &d, None, Some(&e.message), e.status),
                    Err(e) => ApiError::from(e).response(),
                },
                (None, _) => login_required(ctx),
            })
        })
        .boxed();
    let view = path!("portal" / "tickets" / u64)
        .and(warp::get())
        .and(s())
        .and_then(|id, app, ctx| {
            run(app, ctx, move |app, ctx, u| match u {
                Some(u) => view_ticket(app, ctx, u, id),
                None => login_required(ctx),
            })
        })
        .boxed();
    let reply_r = path!("portal" / "tickets" / u64 / "reply")
        .and(warp::post())
        .and(s())
        .and(submitted(app.clone(), Plain::Form))
        .and_then(|id, app, ctx, f: Submitted<ReplyForm>| {
            run(app, ctx, move |app, ctx, u| match (u, f) {
                (Some(u), Ok((f, files))) => reply(app, ctx, u, id, f, files),
                (Some(u), Err(e)) => match user_ticket(app.helpdesk(), u.id, TicketId(id)) {
                    Ok(v) => ticket_page(app, ctx, &u, &v, Some(&e.message), e.status),
                    Err(_) => not_found_page(ctx, Some(&u)),
                },
                (None, _) => login_required(ctx),
            })
        })
        .boxed();
    let file = path!("portal" / "tickets" / u64 / "posts" / u32 / "files" / usize)
        .and(warp::get())
        .and(s())
        .and_then(|id, post, n, app, ctx| {
            run(app, ctx, move |app, ctx, u| match u {
                Some(u) => match app.helpdesk().file_for_user(u.id, TicketId(id), PostId(post), n) {
                    Ok(f) => download(f),
                    Err(e) => {
                        let e = ApiError::from(e);
                        if e.status == StatusCode::NOT_FOUND {
                            message_page(
                                ctx,
                                Some(&u),
                                StatusCode::NOT_FOUND,
                                "Not found",
                                "There is no such file on your tickets.",
                            )
                        } else {
                            e.response()
                        }
                    }
                },
                None => login_required(ctx),
            })
        })
        .boxed();
    let files_js = path!("portal" / "files.js")
        .and(warp::get())
        .map(|| crate::agent::asset(FILES_JS, "text/javascript; charset=utf-8"))
        .boxed();

    let forgot_get = path!("portal" / "forgot-password")
        .and(warp::get())
        .and(s())
        .and_then(|app, ctx| run(app, ctx, |_, ctx, _| forgot_page(ctx, StatusCode::OK, None, None, "")))
        .boxed();
    let forgot_post = path!("portal" / "forgot-password")
        .and(warp::post())
        .and(s())
        .and(client_key())
        .and(form())
        .and_then(|app, ctx, ip: String, f: BTreeMap<String, String>| {
            run(app, ctx, move |app, ctx, u| {
                let email = f.get("email").cloned().unwrap_or_default();
                if !ctx.csrf_ok(f.get("csrf").map(String::as_str).unwrap_or("")) {
                    return csrf_failed(ctx, u.as_ref());
                }
                match crate::password_reset::request(app, ResetFor::User, &email, &ip) {
                    Ok(()) => {
                        let sent = crate::password_reset::sent_text(&email);
                        forgot_page(ctx, StatusCode::OK, Some(&sent), None, "")
                    }
                    Err(e) => forgot_page(ctx, e.status, None, Some(&e.message), &email),
                }
            })
        })
        .boxed();
    let reset_get = path!("portal" / "reset-password")
        .and(warp::get())
        .and(s())
        .and(warp::query::<TokenQuery>())
        .and_then(|app, ctx, q: TokenQuery| {
            run(app, ctx, move |app, ctx, _| {
                match crate::password_reset::token_works(app, ResetFor::User, &q.token) {
                    Ok(true) => reset_page(ctx, StatusCode::OK, Some(&q.token), None),
                    Ok(false) => reset_page(ctx, StatusCode::GONE, None, None),
                    Err(e) => e.response(),
                }
            })
        })
        .boxed();
    let reset_post = path!("portal" / "reset-password")
        .and(warp::post())
        .and(s())
        .and(client_key())
        .and(form())
        .and_then(|app, ctx, ip: String, f: BTreeMap<String, String>| {
            run(app, ctx, move |app, ctx, u| {
                if !ctx.csrf_ok(f.get("csrf").map(String::as_str).unwrap_or("")) {
                    return csrf_failed(ctx, u.as_ref());
                }
                let token = f.get("token").cloned().unwrap_or_default();
                match crate::password_reset::finish(app, ResetFor::User, &ip, &f) {
                    Ok(_) => message_page(
                        ctx,
                        None,
                        StatusCode::OK,
                        "Password changed",
                        "Your new password is set, and every session that was logged in as you has ended. Log in with it now.",
                    ),
                    Err((status, None)) => reset_page(ctx, status, None, None),
                    Err((status, Some(m))) => reset_page(ctx, status, Some(&token), Some(&m)),
                }
            })
        })
        .boxed();
    let password_get = path!("portal" / "password")
        .and(warp::get())
        .and(s())
        .and_then(|app, ctx| {
            run(app, ctx, |_, ctx, u| match u {
                Some(u) => password_page(ctx, &u, StatusCode::OK, None, None),
                None => login_required(ctx),
            })
        })
        .boxed();
    let password_post = path!("portal" / "password")
        .and(warp::post())
        .and(s())
        .and(form())
        .and_then(|app, ctx, f: BTreeMap<String, String>| {
            run(app, ctx, move |app, ctx, u| match u {
                Some(u) => change_password(app, ctx, u, &f),
                None => login_required(ctx),
            })
        })
        .boxed();

    css.or(home_r)
        .unify()
        .or(portal_root)
        .unify()
        .or(login_get)
        .unify()
        .or(login_post)
        .unify()
        .or(logout)
        .unify()
        .or(register_get)
        .unify()
        .or(register_post)
        .unify()
        .or(validate)
        .unify()
        .or(list)
        .unify()
        .or(new_get)
        .unify()
        .or(new_post)
        .unify()
        .or(view)
        .unify()
        .or(reply_r)
        .unify()
        .or(file)
        .unify()
        .or(files_js)
        .unify()
        .or(forgot_get)
        .unify()
        .or(forgot_post)
        .unify()
        .or(reset_get)
        .unify()
        .or(reset_post)
        .unify()
        .or(password_get)
        .unify()
        .or(password_post)
        .unify()
        .boxed()
}
