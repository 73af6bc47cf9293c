//! The first-run setup (`/setup`) and the set-password page of invitation
//! links (`/agent/set-password?token=`).
//!
//! A helpdesk without any agent serves `/setup` (and `/agent/login` sends
//! there): the one-time token the server printed on its console, the
//! helpdesk's name and URL, the first admin and the first department. Once
//! an agent exists the page is gone (it answers that the helpdesk is set
//! up). There is no default password anywhere.

use super::api::public_url;
use crate::auth::{same_secret, start_agent_session};
use crate::error::ApiError;
use crate::workspace::layout::bare_page;
use crate::workspace::{html, redirect, Hx, MAX_FORM};
use crate::{blocking, client_key, with_app, App};
use helpdesk_core::AdminError;
use helpdesk_store::admin::Setup;
use helpdesk_store::AuthError;
use maud::{html, Markup};
use std::collections::BTreeMap;
use std::convert::Infallible;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

type Form = BTreeMap<String, String>;

fn get(f: &Form, k: &str) -> String {
    f.get(k).cloned().unwrap_or_default()
}

fn setup_page(app: &App, f: &Form, error: Option<(&str, &str)>) -> Markup {
    let v = |k: &str, default: &str| f.get(k).cloned().unwrap_or_else(|| default.to_string());
    let err = |k: &str| match error {
        Some((key, m)) if key == k => html! { p.field-error id=(format!("err-{k}")) role="alert" { (m) } },
        _ => html! {},
    };
    let desc = |k: &str| error.filter(|(key, _)| *key == k).map(|_| format!("err-{k}"));
    bare_page(
        "Set up your helpdesk",
        html! {
            div.login.setup {
                h1 { "Set up your helpdesk" }
                p.muted { "This helpdesk has no agents yet. Make the first admin; everything else can change later in Admin." }
                form #setup-form .card.form method="post" action="/setup" {
                    @if let Some(("top", m)) = error { p.error #setup-error role="alert" { (m) } }
                    fieldset {
                        legend { "Prove you run the server" }
                        div.form-row {
                            label for="setup-token" { "Setup token" }
                            input #setup-token type="text" name="token" required autocomplete="off" spellcheck="false" value=(v("token", "")) aria-describedby=(desc("token").unwrap_or_else(|| "setup-token-hint".into()));
                            p.hint #setup-token-hint { "The server printed it on its console when it started." }
                            (err("token"))
                        }
                    }
                    fieldset {
                        legend { "The helpdesk" }
                        div.form-row {
                            label for="setup-name" { "Name" }
                            input #setup-name type="text" name="helpdesk_name" required maxlength="100" value=(v("helpdesk_name", "")) placeholder="Acme Support" aria-describedby=[desc("helpdesk_name")];
                            (err("helpdesk_name"))
                        }
                        div.form-row {
                            label for="setup-url" { "Public URL" }
                            input #setup-url type="text" name="public_url" inputmode="url" value=(v("public_url", &app.config().public_url)) aria-describedby=(desc("public_url").unwrap_or_else(|| "setup-url-hint".into()));
                            p.hint #setup-url-hint { "Where people reach it; links in mail start with this." }
                            (err("public_url"))
                        }
                        div.form-row {
                            label for="setup-department" { "First department" }
                            input #setup-department type="text" name="department" required maxlength="200" value=(v("department", "Support")) aria-describedby=[desc("department")];
                            (err("department"))
                        }
                    }
                    fieldset {
                        legend { "You, the first admin" }
                        div.form-row {
                            label for="setup-admin-name" { "Your name" }
                            input #setup-admin-name type="text" name="admin_name" required maxlength="200" autocomplete="name" value=(v("admin_name", "")) aria-describedby=[desc("admin_name")];
                            (err("admin_name"))
                        }
                        div.form-row {
                            label for="setup-email" { "Your email (your login)" }
                            input #setup-email type="email" name="admin_email" required autocomplete="username" value=(v("admin_email", "")) aria-describedby=[desc("admin_email")];
                            (err("admin_email"))
                        }
                        div.form-row {
                            label for="setup-password" { "Password" }
                            input #setup-password type="password" name="admin_password" required autocomplete="new-password" aria-describedby=[desc("admin_password")];
                            (err("admin_password"))
                        }
                        div.form-row {
                            label for="setup-repeat" { "Repeat the password" }
                            input #setup-repeat type="password" name="repeat" required autocomplete="new-password" aria-describedby=[desc("repeat")];
                            (err("repeat"))
                        }
                    }
                    button #setup-submit .btn.primary type="submit" { "Set up the helpdesk" }
                }
            }
        },
    )
}

fn done_page() -> Markup {
    bare_page(
        "Already set up",
        html! {
            div.login {
                h1 { "This helpdesk is set up" }
                p { "Log in as an agent: " a href="/agent/login" { "agent login" } "." }
            }
        },
    )
}

/// Which field an error of the setup belongs to.
fn field_of(e: &helpdesk_store::Error) -> &'static str {
    use helpdesk_core::DirectoryError as D;
    use helpdesk_store::Error as E;
    match e {
        E::Admin(AdminError::Setting { field: "public_url", .. }) => "public_url",
        E::Admin(AdminError::Setting { .. }) => "helpdesk_name",
        E::Directory(D::InvalidEmail(_)) => "admin_email",
        E::Directory(D::EmptyName("department") | D::NameTooLong("department", _)) => "department",
        E::Directory(D::EmptyName(_) | D::NameTooLong(..)) => "admin_name",
        E::Auth(_) => "admin_password",
        _ => "top",
    }
}

async fn setup_post(app: App, ip: String, f: Form) -> Result<Response, Infallible> {
    let page = |app: &App, status: StatusCode, key: &str, m: &str| {
        let mut f = f.clone();
        f.remove("admin_password");
        f.remove("repeat");
        html(status, setup_page(app, &f, Some((key, m))))
    };
    if let Err(e) = app.check_login(format!("setup:{ip}")) {
        return Ok(page(&app, e.status, "top", &e.message));
    }
    if !same_secret(get(&f, "token").trim(), app.setup_token()) {
        tracing::warn!(%ip, "first-run setup with a wrong token");
        return Ok(page(&app, StatusCode::FORBIDDEN, "token", "That is not the token the server printed."));
    }
    if get(&f, "admin_password") != get(&f, "repeat") {
        return Ok(page(&app, StatusCode::UNPROCESSABLE_ENTITY, "repeat", "The two passwords differ."));
    }
    let setup = Setup {
        helpdesk_name: get(&f, "helpdesk_name"),
        public_url: Some(get(&f, "public_url")),
        admin_name: get(&f, "admin_name"),
        admin_email: get(&f, "admin_email"),
        admin_password: get(&f, "admin_password"),
        department: get(&f, "department"),
    };
    let app2 = app.clone();
    let source = ip.clone();
    let done = blocking(move || Ok(app2.helpdesk().setup_from(setup, Some(source)))).await;
    match done {
        Ok(Ok(done)) => {
            tracing::info!(agent = %done.admin.id, "the helpdesk was set up");
            let (_, cookie) = start_agent_session(&app, done.admin.id);
            let mut r = redirect(&Hx::default(), "/agent/admin/settings?done=setup");
            r.headers_mut().insert("set-cookie", cookie);
            Ok(r)
        }
        Ok(Err(helpdesk_store::Error::Admin(AdminError::AlreadySetUp))) => {
            Ok(html(StatusCode::CONFLICT, done_page()))
        }
        Ok(Err(e)) => {
            let key = field_of(&e);
            let api = ApiError::from(e);
            Ok(page(&app, api.status, key, &api.message))
        }
        Err(e) => Ok(page(&app, e.status, "top", &e.message)),
    }
}

fn password_page(name: Option<&str>, token: &str, error: Option<&str>) -> Markup {
    bare_page(
        "Choose your password",
        html! {
            div.login {
                @match name {
                    Some(name) => {
                        h1 { "Welcome, " (name) }
                        p.muted { "Choose the password you log in with." }
                        form #set-password-form .card method="post" action="/agent/set-password" {
                            input type="hidden" name="token" value=(token);
                            @if let Some(e) = error { p.error #set-password-error role="alert" { (e) } }
                            label for="sp-password" { "Password" }
                            input #sp-password type="password" name="password" required autocomplete="new-password" autofocus aria-describedby=[error.map(|_| "set-password-error")];
                            label for="sp-repeat" { "Repeat it" }
                            input #sp-repeat type="password" name="repeat" required autocomplete="new-password";
                            button #sp-submit .btn.primary type="submit" { "Set password and log in" }
                        }
                    }
                    None => {
                        h1 { "This link no longer works" }
                        p { "It was used already, it expired, or a newer one was sent. Ask an admin for a new link." }
                        p { a href="/agent/login" { "Agent login" } }
                    }
                }
            }
        },
    )
}

/// `GET`/`POST /setup`, `GET`/`POST /agent/set-password`.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let setup_get = path!("setup")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and_then(|app: App| async move {
            let app2 = app.clone();
            let needed = blocking(move || Ok(app2.helpdesk().needs_setup()?)).await;
            Ok::<_, Infallible>(match needed {
                Ok(true) => html(StatusCode::OK, setup_page(&app, &Form::new(), None)),
                Ok(false) => html(StatusCode::OK, done_page()),
                Err(e) => e.response(),
            })
        })
        .boxed();
    let setup_post = path!("setup")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(client_key())
        .and(warp::body::content_length_limit(MAX_FORM))
        .and(warp::body::form::<Form>())
        .and_then(setup_post)
        .boxed();
    #[derive(serde::Deserialize)]
    struct TokenQuery {
        #[serde(default)]
        token: String,
    }
    let password_get = path!("agent" / "set-password")
        .and(warp::get())
        .and(warp::query::<TokenQuery>())
        .and(with_app(app.clone()))
        .and_then(|q: TokenQuery, app: App| async move {
            let token = q.token.clone();
            let agent = blocking(move || Ok(app.helpdesk().password_token_agent(&token)?)).await;
            Ok::<_, Infallible>(match agent {
                Ok(a) => html(
                    if a.is_some() { StatusCode::OK } else { StatusCode::GONE },
                    password_page(a.as_ref().map(|a| a.name.as_str()), &q.token, None),
                ),
                Err(e) => e.response(),
            })
        })
        .boxed();
    let password_post = path!("agent" / "set-password")
        .and(warp::post())
        .and(with_app(app))
        .and(client_key())
        .and(warp::body::content_length_limit(MAX_FORM))
        .and(warp::body::form::<Form>())
        .and_then(|app: App, ip: String, f: Form| async move {
            let token = get(&f, "token");
            if let Err(e) = app.check_login(format!("set-password:{ip}")) {
                return Ok::<_, Infallible>(e.response());
            }
            let app2 = app.clone();
            let t = token.clone();
            let agent = match blocking(move || Ok(app2.helpdesk().password_token_agent(&t)?)).await {
                Ok(Some(a)) => a,
                Ok(None) => return Ok(html(StatusCode::GONE, password_page(None, "", None))),
                Err(e) => return Ok(e.response()),
            };
            if get(&f, "password") != get(&f, "repeat") {
                return Ok(html(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    password_page(Some(&agent.name), &token, Some("The two passwords differ.")),
                ));
            }
            let app2 = app.clone();
            let (t, p) = (token.clone(), get(&f, "password"));
            let set = blocking(move || {
                let hd = app2.helpdesk();
                // With two-factor login on (or required), the new password
                // is only the first step: the login is recorded after the
                // second.
                Ok(hd.set_password_with_token(&t, &p).and_then(|a| {
                    if !hd.two_factor_asked(a.id)? {
                        hd.record_login(&a, Some(ip))?;
                    }
                    Ok(a)
                }))
            })
            .await;
            Ok(match set {
                Ok(Ok(agent)) => {
                    let (app2, agent2) = (app.clone(), agent.clone());
                    match blocking(move || {
                        crate::workspace::two_factor::second_step(&app2, &agent2, "/agent")
                    })
                    .await
                    {
                        Ok(Some(step)) => step,
                        Ok(None) => {
                            let (_, cookie) = start_agent_session(&app, agent.id);
                            let mut r = redirect(&Hx::default(), "/agent");
                            r.headers_mut().insert("set-cookie", cookie);
                            r
                        }
                        Err(e) => e.response(),
                    }
                }
                Ok(Err(AuthError::InvalidToken)) => html(StatusCode::GONE, password_page(None, "", None)),
                Ok(Err(e)) => {
                    let e = ApiError::from(e);
                    html(e.status, password_page(Some(&agent.name), &token, Some(&e.message)))
                }
                Err(e) => e.response(),
            })
        })
        .boxed();
    setup_get.or(setup_post).unify().or(password_get).unify().or(password_post).unify().boxed()
}

/// What the server prints at start while the helpdesk has no agent.
pub fn console_hint(app: &App) -> String {
    format!(
        "This helpdesk has no agents yet. Set it up at {}/setup with the one-time setup token {}",
        public_url(app),
        app.setup_token()
    )
}
