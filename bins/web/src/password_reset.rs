//! "Forgot your password?" for agents (`/agent/forgot-password`, then the
//! mailed link's `/agent/reset-password?token=`) and the mail both realms
//! send (the portal's pages are in [`portal`](crate::portal)).
//!
//! The request page answers the same whether or not anyone has the address
//! (a link is mailed only when someone does), is rate-limited per client
//! address, and the store sends at most one link a minute per person. A
//! reset ends every session of that person; an agent with two-factor login
//! still gives their second factor at the next login.

use crate::admin::api::{public_url, send_templated};
use crate::error::ApiError;
use crate::workspace::layout::bare_page;
use crate::workspace::{html, MAX_FORM};
use crate::{blocking, client_key, with_app, App};
use helpdesk_core::templates::MailKind;
use helpdesk_core::Principal;
use helpdesk_mail::outbound::Addressee;
use helpdesk_store::password_reset::{ResetFor, ResetLink, RESET_MINUTES};
use helpdesk_store::AuthError;
use maud::{html, Markup};
use std::collections::BTreeMap;
use std::convert::Infallible;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

/// A submitted form's fields.
pub type Form = BTreeMap<String, String>;

/// Mails a reset link: to an agent `/agent/reset-password`, to a user
/// `/portal/reset-password`.
pub fn send_link(app: &App, link: &ResetLink) {
    let base = public_url(app);
    let (kind, path) = match link.principal {
        Principal::Agent(_) => (MailKind::AgentPasswordReset, "/agent/reset-password"),
        Principal::User(_) => (MailKind::UserPasswordReset, "/portal/reset-password"),
    };
    let url = format!("{base}{path}?token={}", link.token);
    let to =
        Addressee { name: link.name.clone(), email: link.email.to_string(), language: link.language.clone() };
    send_templated(app, kind, &to, &base, serde_json::json!({ "link": url, "minutes": RESET_MINUTES }));
}

/// Starts a reset for `email` (rate-limited per client `ip`) and mails the
/// link when someone may use it. Whether anyone has the address is never
/// told: the only error is the rate limit.
/// Runs on a blocking thread (it reads and writes the store).
pub fn request(app: &App, who: ResetFor, email: &str, ip: &str) -> Result<(), ApiError> {
    app.check_login(format!("password-reset:{ip}"))?;
    if let Some(link) = app.helpdesk().start_password_reset(who, email)? {
        send_link(app, &link);
    }
    Ok(())
}

/// What the request form answers, whoever has the address.
pub fn sent_text(email: &str) -> String {
    format!(
        "If {} belongs to an account here, a link to choose a new password is on its way to it. \
         It works once, for {RESET_MINUTES} minutes.",
        email.trim()
    )
}

fn forgot_page(email: &str, note: Option<&str>, error: Option<&str>) -> Markup {
    bare_page(
        "Forgot your password?",
        html! {
            div.login {
                h1 { "Forgot your password?" }
                @if let Some(n) = note { p.notice #reset-sent role="status" { (n) } }
                form.card method="post" action="/agent/forgot-password" {
                    @if let Some(e) = error { p.error #reset-error role="alert" { (e) } }
                    p.muted { "Give the address you log in with; we mail you a link to choose a new password." }
                    label for="reset-email" { "Email" }
                    input #reset-email type="email" name="email" value=(email) autocomplete="username" required autofocus;
                    button #reset-submit .btn.primary type="submit" { "Mail me a link" }
                }
                p { a href="/agent/login" { "Back to the login" } }
            }
        },
    )
}

fn reset_page(token: Option<&str>, error: Option<&str>) -> Markup {
    bare_page(
        "Choose a new password",
        html! {
            div.login {
                @match token {
                    Some(token) => {
                        h1 { "Choose a new password" }
                        form #reset-form .card method="post" action="/agent/reset-password" {
                            input type="hidden" name="token" value=(token);
                            @if let Some(e) = error { p.error #reset-error role="alert" { (e) } }
                            label for="reset-password" { "New password" }
                            input #reset-password type="password" name="password" required autocomplete="new-password" autofocus aria-describedby=[error.map(|_| "reset-error")];
                            label for="reset-repeat" { "Repeat it" }
                            input #reset-repeat type="password" name="repeat" required autocomplete="new-password";
                            button #reset-save .btn.primary type="submit" { "Set the new password" }
                        }
                    }
                    None => {
                        h1 { "This link no longer works" }
                        p { "It was used already, it is older than " (RESET_MINUTES) " minutes, or a newer one was sent." }
                        p { a href="/agent/forgot-password" { "Ask for a new link" } " · " a href="/agent/login" { "Log in" } }
                    }
                }
            }
        },
    )
}

fn done_page() -> Markup {
    bare_page(
        "Password changed",
        html! {
            div.login {
                h1 { "Password changed" }
                p #reset-done role="status" { "Your new password is set, and every session that was logged in as you has ended." }
                p { a.btn.primary href="/agent/login" { "Log in" } }
            }
        },
    )
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// Sets the new password from a reset form (`token`, `password`, `repeat`)
/// of `who`'s page and ends the person's sessions: the principal, or the
/// error to show with the form (`None`: the link is dead, or not for this
/// page).
/// Runs on a blocking thread.
pub fn finish(
    app: &App,
    who: ResetFor,
    ip: &str,
    f: &Form,
) -> Result<Principal, (StatusCode, Option<String>)> {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let shown = |e: ApiError| (e.status, Some(e.message));
    app.check_login(format!("password-reset:{ip}")).map_err(shown)?;
    if get("password") != get("repeat") {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, Some("The two passwords differ.".into())));
    }
    let token = get("token");
    if !token_works(app, who, &token).map_err(shown)? {
        return Err((StatusCode::GONE, None));
    }
    match app.helpdesk().reset_password(&token, &get("password")) {
        Ok(principal) => {
            let ended = app.sessions().end_others(principal, None);
            tracing::info!(?principal, ended, "password reset with an emailed link");
            Ok(principal)
        }
        Err(AuthError::InvalidToken) => Err((StatusCode::GONE, None)),
        Err(e) => Err(shown(e.into())),
    }
}

/// Whether a reset token of `who` works now (for showing its form).
pub fn token_works(app: &App, who: ResetFor, token: &str) -> Result<bool, ApiError> {
    let p = app.helpdesk().password_reset_for(token)?;
    Ok(matches!(
        (who, p),
        (ResetFor::Agent, Some(Principal::Agent(_))) | (ResetFor::User, Some(Principal::User(_)))
    ))
}

/// `GET`/`POST /agent/forgot-password`, `GET`/`POST /agent/reset-password`.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let form = || warp::body::content_length_limit(MAX_FORM).and(warp::body::form::<Form>());
    let forgot_get = path!("agent" / "forgot-password")
        .and(warp::get())
        .map(|| html(StatusCode::OK, forgot_page("", None, None)))
        .boxed();
    let forgot_post = path!("agent" / "forgot-password")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(client_key())
        .and(form())
        .and_then(|app: App, ip: String, f: Form| async move {
            let email = f.get("email").cloned().unwrap_or_default();
            let (app2, e2) = (app.clone(), email.clone());
            Ok::<_, Infallible>(match blocking(move || request(&app2, ResetFor::Agent, &e2, &ip)).await {
                Ok(()) => html(StatusCode::OK, forgot_page("", Some(&sent_text(&email)), None)),
                Err(e) => html(e.status, forgot_page(&email, None, Some(&e.message))),
            })
        })
        .boxed();
    let reset_get = path!("agent" / "reset-password")
        .and(warp::get())
        .and(warp::query::<TokenQuery>())
        .and(with_app(app.clone()))
        .and_then(|q: TokenQuery, app: App| async move {
            let t = q.token.clone();
            Ok::<_, Infallible>(match blocking(move || token_works(&app, ResetFor::Agent, &t)).await {
                Ok(true) => html(StatusCode::OK, reset_page(Some(&q.token), None)),
                Ok(false) => html(StatusCode::GONE, reset_page(None, None)),
                Err(e) => e.response(),
            })
        })
        .boxed();
    let reset_post = path!("agent" / "reset-password")
        .and(warp::post())
        .and(with_app(app))
        .and(client_key())
        .and(form())
        .and_then(|app: App, ip: String, f: Form| async move {
            let token = f.get("token").cloned().unwrap_or_default();
            let done = blocking(move || Ok(finish(&app, ResetFor::Agent, &ip, &f))).await;
            Ok::<_, Infallible>(match done.unwrap_or_else(|e| Err((e.status, Some(e.message)))) {
                Ok(_) => html(StatusCode::OK, done_page()),
                Err((status, None)) => html(status, reset_page(None, None)),
                Err((status, Some(m))) => html(status, reset_page(Some(&token), Some(&m))),
            })
        })
        .boxed();
    forgot_get.or(forgot_post).unify().or(reset_get).unify().or(reset_post).unify().boxed()
}
