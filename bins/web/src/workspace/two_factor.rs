//! Two-factor login in the workspace (issue 20): the step after the
//! password at `/agent/login/two-factor` (a code from the app or a recovery
//! code; setting the app up there first when the helpdesk requires it), and
//! the profile screen `/agent/profile/two-factor` (turn it on, new recovery
//! codes, turn it off).
//!
//! Between the two steps the agent holds a session of its own realm
//! ([`Realm::TwoFactor`], cookie [`PENDING_COOKIE`]) that is good for
//! nothing else and ends [`PENDING_SECS`] after the password; the agent
//! session is made only once the second factor is in.

use super::layout::bare_page;
use super::{encode, html, redirect, safe_next, Ctx, Hx};
use crate::auth::{
    clear_cookie, same_secret, session_cookie, start_agent_session, Realm, Session, PENDING_SECS,
};
use crate::error::ApiError;
use crate::{blocking, client_key, with_app, App};
use helpdesk_core::{Agent, AuditActor, Principal};
use helpdesk_store::two_factor::{SecondFactor, TotpSetup, RECOVERY_CODES};
use maud::{html, Markup};
use serde::Deserialize;
use std::convert::Infallible;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

/// The cookie of the step between the password and the second factor.
pub const PENDING_COOKIE: &str = "hd_agent_2fa";

/// `text` as a QR code, drawn in SVG (one path; a quiet zone of 4 modules).
pub fn qr_svg(text: &str, label: &str) -> Markup {
    use qrcodegen::{QrCode, QrCodeEcc};
    let Ok(qr) = QrCode::encode_text(text, QrCodeEcc::Medium) else {
        return html! { p.muted { "(Too long for a QR code: type the key instead.)" } };
    };
    let n = qr.size();
    let mut path = String::new();
    for y in 0..n {
        for x in 0..n {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{} {}h1v1h-1z", x + 4, y + 4));
            }
        }
    }
    let side = n + 8;
    html! {
        svg.qr xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {side} {side}")) role="img" aria-label=(label) shape-rendering="crispEdges" {
            rect width=(side) height=(side) fill="#fff" {}
            path d=(path) fill="#000" {}
        }
    }
}

/// The secret as people type it: groups of four.
fn grouped(secret: &str) -> String {
    secret.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// The app's QR code, the key to type instead, and the confirming code field.
fn setup_fields(setup: &TotpSetup, code_id: &str) -> Markup {
    html! {
        ol.steps {
            li { "Open your authenticator app (such as Aegis, Google Authenticator, 1Password or Microsoft Authenticator) and add an account." }
            li {
                "Scan this code, or type the key below it."
                div.qr-box { (qr_svg(&setup.url, "QR code for your authenticator app")) }
                p { "Key: " code.secret-key { (grouped(&setup.secret)) } }
            }
            li { label for=(code_id) { "Type the 6-digit code the app now shows" } }
        }
        input type="hidden" name="secret" value=(setup.secret);
        input.otp id=(code_id) type="text" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required;
    }
}

/// The recovery codes, shown once.
fn recovery_list(codes: &[String]) -> Markup {
    html! {
        p { "Keep these recovery codes somewhere safe (a password manager, or printed). Each logs you in once without your phone; they are not shown again." }
        ol.recovery-codes { @for c in codes { li { code { (c) } } } }
    }
}

// ----- the login step ---------------------------------------------------------

/// After a right password: if the agent logs in with a second factor (or
/// must set one up), the response that starts that step; `None` to log
/// them in at once.
pub fn second_step(app: &App, agent: &Agent, next: &str) -> Result<Option<Response>, ApiError> {
    let hd = app.helpdesk();
    if !hd.two_factor_asked(agent.id)? {
        return Ok(None);
    }
    let (token, _) = app.sessions().create(Realm::TwoFactor, Some(Principal::Agent(agent.id)));
    let mut r = redirect(&Hx::default(), &format!("/agent/login/two-factor?next={}", encode(next)));
    let cookie = session_cookie(app, PENDING_COOKIE, &token, Realm::TwoFactor);
    r.headers_mut().insert("set-cookie", cookie.parse().map_err(|_| ApiError::internal("cookie"))?);
    Ok(Some(r))
}

/// The pending step of this cookie, if it is still good, with its agent.
fn pending(app: &App, token: Option<&str>) -> Option<(Session, Agent)> {
    let s = app.sessions().get(Realm::TwoFactor, token?)?;
    if crate::auth::now_secs().saturating_sub(s.started) > PENDING_SECS {
        return None;
    }
    let Some(Principal::Agent(id)) = s.principal else { return None };
    let agent = app.helpdesk().agent(id).ok().filter(|a| !a.disabled)?;
    Some((s, agent))
}

fn step_page(
    agent: &Agent,
    csrf: &str,
    next: &str,
    error: Option<&str>,
    setup: Option<&TotpSetup>,
) -> Markup {
    let title = if setup.is_some() { "Set up two-factor login" } else { "Two-factor login" };
    bare_page(
        title,
        html! {
            div.login.two-factor {
                h1 { span.brand { "Helpdesk" } " " (title) }
                form.card method="post" action="/agent/login/two-factor" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="next" value=(next);
                    p.muted { "Logging in as " (agent.email) "." }
                    @if let Some(e) = error { p.error #tf-error role="alert" { (e) } }
                    @match setup {
                        Some(setup) => {
                            p { "This helpdesk asks every agent for a code from an authenticator app at login, besides the password." }
                            (setup_fields(setup, "tf-code"))
                            button #tf-submit .btn.primary type="submit" { "Turn on and log in" }
                        }
                        None => {
                            label for="tf-code" { "Code from your authenticator app" }
                            input #tf-code type="text" name="code" autocomplete="one-time-code" required autofocus
                                aria-describedby=(if error.is_some() { "tf-error tf-hint" } else { "tf-hint" });
                            p.hint #tf-hint { "Type the 6-digit code the app shows. Without your phone, type one of your recovery codes." }
                            button #tf-submit .btn.primary type="submit" { "Log in" }
                        }
                    }
                }
                p { a href="/agent/login" { "Log in as someone else" } }
            }
        },
    )
}

fn expired() -> Response {
    html(
        StatusCode::UNAUTHORIZED,
        bare_page(
            "Log in again",
            html! { div.login { div.card { p.error role="alert" { "This login took too long or has ended. " a href="/agent/login" { "Log in again" } "." } } } },
        ),
    )
}

#[derive(Deserialize)]
struct StepForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Ends the step and starts the agent's session: `body` is the answer
/// (with both cookies), or a redirect to `next`.
fn finish(app: &App, pending_token: &str, agent: &Agent, next: &str, body: Option<Markup>) -> Response {
    app.sessions().remove(pending_token);
    let (_, cookie) = start_agent_session(app, agent.id);
    tracing::info!(agent = %agent.id, "agent logged in (workspace, second factor)");
    let mut r = match body {
        Some(b) => html(StatusCode::OK, b),
        None => redirect(&Hx::default(), next),
    };
    let h = r.headers_mut();
    h.append("set-cookie", cookie);
    h.append("set-cookie", clear_cookie(PENDING_COOKIE).parse().expect("cookie"));
    r
}

fn step_post(app: &App, token: Option<String>, ip: String, f: StepForm) -> Result<Response, ApiError> {
    let next = safe_next(f.next.as_deref());
    let Some((session, agent)) = pending(app, token.as_deref()) else { return Ok(expired()) };
    let token = token.unwrap_or_default();
    if !same_secret(&f.csrf, &session.csrf) {
        return Ok(expired());
    }
    let hd = app.helpdesk();
    let enabled = hd.two_factor_enabled(agent.id)?;
    let again = |status: StatusCode, msg: &str, setup: Option<&TotpSetup>| {
        html(status, step_page(&agent, &session.csrf, &next, Some(msg), setup))
    };
    // The same secret again when setting up (a bad one: a new one).
    let setup = || hd.totp_setup_with(agent.id, &f.secret).or_else(|_| hd.totp_setup(agent.id));
    if let Err(e) = app.check_second_factor(agent.id) {
        let shown = if enabled { None } else { Some(setup()?) };
        return Ok(again(e.status, &e.message, shown.as_ref()));
    }
    if enabled {
        return Ok(match hd.check_second_factor(agent.id, &f.code, Some(ip))? {
            Some(SecondFactor::RecoveryCode { left }) if left <= 3 => {
                let body = bare_page(
                    "Recovery code used",
                    html! { div.login { div.card {
                        h1 { "Logged in with a recovery code" }
                        p { (left) " recovery codes are left. Make new ones in your profile before they run out." }
                        p { a.btn.primary href="/agent/profile/two-factor" { "Make new recovery codes" } " " a.btn href=(next) { "Later" } }
                    } } },
                );
                finish(app, &token, &agent, &next, Some(body))
            }
            Some(_) => finish(app, &token, &agent, &next, None),
            None => again(
                StatusCode::UNAUTHORIZED,
                "That code is not right, or it was used already: type the code the app shows now.",
                None,
            ),
        });
    }
    // The helpdesk requires it and this agent has none yet: set it up.
    match hd.enable_two_factor(agent.id, &f.secret, &f.code, Some(ip)) {
        Ok(codes) => {
            let body = bare_page(
                "Two-factor login is on",
                html! { div.login.two-factor { div.card {
                    h1 { "Two-factor login is on" }
                    (recovery_list(&codes))
                    p { a #tf-continue .btn.primary href=(next) { "I have kept them: continue" } }
                } } },
            );
            Ok(finish(app, &token, &agent, &next, Some(body)))
        }
        Err(e) => Ok(again(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string(), Some(&setup()?))),
    }
}

/// `GET`/`POST /agent/login/two-factor`.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let get = path!("agent" / "login" / "two-factor")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(warp::cookie::optional::<String>(PENDING_COOKIE))
        .and(warp::query::<NextQuery>())
        .and_then(|app: App, token: Option<String>, q: NextQuery| async move {
            let r = blocking(move || {
                let next = safe_next(q.next.as_deref());
                let Some((session, agent)) = pending(&app, token.as_deref()) else { return Ok(expired()) };
                let hd = app.helpdesk();
                let setup =
                    if hd.two_factor_enabled(agent.id)? { None } else { Some(hd.totp_setup(agent.id)?) };
                Ok(html(StatusCode::OK, step_page(&agent, &session.csrf, &next, None, setup.as_ref())))
            })
            .await;
            Ok::<_, Infallible>(r.unwrap_or_else(|e| e.response()))
        });
    let post = path!("agent" / "login" / "two-factor")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(warp::cookie::optional::<String>(PENDING_COOKIE))
        .and(client_key())
        .and(warp::body::content_length_limit(super::MAX_FORM))
        .and(warp::body::form::<StepForm>())
        .and_then(|app: App, token: Option<String>, ip: String, f: StepForm| async move {
            let r = blocking(move || step_post(&app, token, ip, f)).await;
            Ok::<_, Infallible>(r.unwrap_or_else(|e| e.response()))
        });
    get.or(post).unify().boxed()
}

// ----- the profile screen -----------------------------------------------------

/// `/agent/profile/two-factor`: what is on, and the forms to change it.
pub fn profile_screen(
    app: &App,
    ctx: &Ctx,
    error: Option<&str>,
    setup: Option<TotpSetup>,
    codes: Option<&[String]>,
) -> Result<Markup, ApiError> {
    let hd = app.helpdesk();
    let state = hd.two_factor_state(ctx.agent.id)?;
    let required = hd.settings()?.agents_two_factor;
    let form = |op: &str| {
        html! {
            input type="hidden" name="csrf" value=(ctx.csrf);
            input type="hidden" name="op" value=(op);
        }
    };
    let target = "/agent/profile/two-factor";
    Ok(html! {
        article.profile-screen aria-labelledby="tf-title" {
            header.ticket-head { h1 #tf-title { "Two-factor login" } p.muted { (ctx.agent.email) } }
            (super::profile::section_nav(target))
            @if let Some(e) = error { div.notice.error role="alert" { (e) } }
            @if let Some(codes) = codes {
                div.notice.info role="status" { "Two-factor login is on." }
                (recovery_list(codes))
            }
            @match state.since {
                Some(since) => {
                    p { "On since " (ctx.tz.absolute(since)) ". At login you give your password, then the code your authenticator app shows." }
                    p { (state.recovery_codes_left) " of " (RECOVERY_CODES) " recovery codes left." }
                    form #tf-renew .form method="post" action=(target) hx-post=(target) hx-target="#content" hx-swap="outerHTML" {
                        (form("renew"))
                        input type="hidden" name="username" value=(ctx.agent.email) autocomplete="username";
                        div.form-row {
                            label for="tf-renew-pw" { "Your password" }
                            input #tf-renew-pw type="password" name="password" autocomplete="current-password" required;
                        }
                        div.form-actions {
                            button.btn type="submit" name="action" value="renew" { "Make new recovery codes" }
                            @if !required { " " button.btn.danger type="submit" name="action" value="off" { "Turn two-factor login off" } }
                        }
                        @if required { p.hint { "The helpdesk requires two-factor login, so it stays on; an admin can reset it if you lose your phone." } }
                    }
                }
                None => {
                    @let setup = match setup { Some(s) => s, None => hd.totp_setup(ctx.agent.id)? };
                    p { "Off: you log in with your password alone. With it on, a stolen password is not enough to log in as you." }
                    form #tf-enable .form method="post" action=(target) hx-post=(target) hx-target="#content" hx-swap="outerHTML" {
                        (form("enable"))
                        (setup_fields(&setup, "tf-enable-code"))
                        div.form-actions { button #tf-enable-submit .btn.primary type="submit" { "Turn on" } }
                    }
                }
            }
        }
    })
}

/// `POST /agent/profile/two-factor`: `op` enable (secret, code) or renew
/// (password; `action` renew or off). `client` is the client address, for
/// the audit log.
pub fn save_profile(
    app: &App,
    ctx: &Ctx,
    form: &[(String, String)],
    client: String,
) -> Result<Markup, ApiError> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let hd = app.helpdesk();
    let me = ctx.agent.id;
    match get("op").as_str() {
        // Turning it on again would replace the app and the recovery codes
        // without the password: once on, it changes only through "renew".
        "enable" if hd.two_factor_enabled(me)? => profile_screen(
            app,
            ctx,
            Some("Two-factor login is already on. To move it to another app, turn it off (with your password), then on again."),
            None,
            None,
        ),
        "enable" => {
            let secret = get("secret");
            match hd.enable_two_factor(me, &secret, &get("code"), Some(client)) {
                Ok(codes) => {
                    // Whoever else was logged in as them logs in again, now
                    // with the second factor.
                    app.sessions().end_others(Principal::Agent(me), Some(&ctx.session));
                    profile_screen(app, ctx, None, None, Some(&codes))
                }
                Err(e) => {
                    let setup = hd.totp_setup_with(me, &secret).or_else(|_| hd.totp_setup(me))?;
                    profile_screen(app, ctx, Some(&e.to_string()), Some(setup), None)
                }
            }
        }
        "renew" => {
            app.check_login(format!("agent:{}", ctx.agent.email))?;
            if hd.verify_agent_password(ctx.agent.email.as_str(), &get("password"))?.is_none() {
                return profile_screen(app, ctx, Some("That is not your password."), None, None);
            }
            if get("action") == "off" {
                if hd.settings()?.agents_two_factor {
                    return profile_screen(
                        app,
                        ctx,
                        Some("The helpdesk requires two-factor login: it stays on."),
                        None,
                        None,
                    );
                }
                let me_actor = AuditActor::Agent { id: me, name: ctx.agent.name.clone() };
                hd.disable_two_factor(me, me_actor, Some(client))?;
                return profile_screen(app, ctx, None, None, None);
            }
            let codes = hd.renew_recovery_codes(me, Some(client))?;
            profile_screen(app, ctx, None, None, Some(&codes))
        }
        _ => Err(ApiError::bad_request("unknown two-factor action")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn qr_codes_draw_and_keys_group() {
        let svg = super::qr_svg("otpauth://totp/Helpdesk:sam%40example.com?secret=ABCD", "QR").into_string();
        assert!(svg.starts_with("<svg class=\"qr\"") && svg.contains("viewBox=\"0 0 "));
        assert!(svg.matches('M').count() > 100, "modules drawn");
        assert_eq!(super::grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }
}
