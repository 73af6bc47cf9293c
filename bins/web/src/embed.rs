//! The website embed: `<script src="https://helpdesk.example/embed/widget.js"
//! data-department="1" async></script>` pasted into any page renders a contact
//! form that creates a ticket (channel `embed`) through a CORS-enabled JSON
//! endpoint. Submissions are rate-limited per client address (governor) and
//! checked for spam: a honeypot field real visitors never see, a minimum fill
//! time, and a cap on links. Errors come back as JSON the widget shows.

use crate::error::ApiError;
use crate::files::{submitted_within, Plain, Submitted};
use crate::{blocking, client_key, json, with_app, App};
use helpdesk_core::*;
use helpdesk_store::files::NewFile;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

const WIDGET_JS: &str = include_str!("../assets/widget.js");

/// Most links a message may contain before it is taken for spam.
pub const MAX_LINKS: usize = 5;
/// Fewer milliseconds than this between showing the form and sending it is a bot.
pub const MIN_FILL_MS: u64 = 1500;

/// Largest embed submission without files accepted (bytes).
pub const MAX_BODY: u64 = 64 * 1024;

/// The origins allowed to post the embed form now: the admin's setting
/// (Admin > Settings) when it lists any, else the server's `--embed-origin`
/// options; an empty list allows any origin.
pub fn allowed_origins(app: &App) -> Vec<String> {
    match app.helpdesk().settings() {
        Ok(s) if !s.embed_origins.is_empty() => s.embed_origins,
        _ => app.config().embed_origins.clone(),
    }
}

fn origin_allowed(app: &App, origin: &str) -> bool {
    let list = allowed_origins(app);
    let origin = origin.trim().trim_end_matches('/');
    list.is_empty() || list.iter().any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

/// `POST /api/embed/tickets`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedRequest {
    /// Visitor's name.
    pub name: String,
    /// Visitor's email.
    pub email: String,
    /// Subject.
    pub subject: String,
    /// Message.
    pub message: String,
    /// Department (default: the first one).
    #[serde(default)]
    pub department: Option<DepartmentId>,
    /// Honeypot: hidden from people; bots fill it in.
    #[serde(default)]
    pub website: String,
    /// Milliseconds the form was on screen before sending.
    #[serde(default)]
    pub elapsed_ms: Option<u64>,
}

/// The answer to a submission.
#[derive(Debug, Serialize)]
pub struct EmbedCreated {
    /// The new ticket's id (for the visitor's reference).
    pub ticket: TicketId,
    /// What to tell the visitor.
    pub message: String,
}

fn spam_check(req: &EmbedRequest) -> Result<(), ApiError> {
    let spam = |why: &str| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "spam_rejected",
            format!("Your message was not sent: {why}."),
        )
    };
    if !req.website.trim().is_empty() {
        return Err(spam("it looks automated"));
    }
    if req.elapsed_ms.is_some_and(|ms| ms < MIN_FILL_MS) {
        return Err(spam("it was sent too quickly; please try again"));
    }
    let links = req.message.matches("http://").count() + req.message.matches("https://").count();
    if links > MAX_LINKS {
        return Err(spam(&format!("it contains more than {MAX_LINKS} links")));
    }
    Ok(())
}

fn create(app: &App, req: EmbedRequest, files: Vec<NewFile>) -> Result<EmbedCreated, ApiError> {
    spam_check(&req)?;
    let hd = app.helpdesk();
    let name = req.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("Please enter your name."));
    }
    let email =
        Email::parse(&req.email).map_err(|_| ApiError::invalid("Please enter a valid email address."))?;
    let dept = match req.department {
        Some(d) => hd
            .department(d)
            .map_err(|_| ApiError::invalid("This form points at a department that does not exist."))?,
        None => hd
            .departments()?
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::invalid("The helpdesk has no departments yet."))?,
    };
    let user = match hd.user_by_email(email.as_str())? {
        Some(u) => u,
        None => hd.create_user(NewUser::new(name, email.as_str()))?,
    };
    let said = |e: TicketError| match e {
        TicketError::EmptySubject => ApiError::invalid("Please enter a subject."),
        TicketError::EmptyBody => ApiError::invalid("Please enter a message."),
        e => e.into(),
    };
    // The text is checked before any file is kept.
    helpdesk_core::command::check_subject(&req.subject).map_err(said)?;
    helpdesk_core::command::check_body(&req.message, &[]).map_err(said)?;
    let mut new = NewTicket::new(req.subject, req.message, dept.id, user.id, Channel::Embed);
    new.attachments = hd.store_files(files)?;
    let t = hd.create_ticket(&Actor::User(user.id), new).map_err(|e| match e {
        helpdesk_store::Error::Ticket(e @ (TicketError::EmptySubject | TicketError::EmptyBody)) => said(e),
        // The user's usergroups do not allow this department.
        // (Said the same way for every address: it does not tell who is in which group.)
        helpdesk_store::Error::Ticket(TicketError::NotPermitted { .. }) => {
            ApiError::forbidden("This form cannot take this request; please write to us by email.")
        }
        e => e.into(),
    })?;
    if let Ok(log) = hd.log(t.id) {
        app.publish(0, &t, &log);
    }
    Ok(EmbedCreated {
        ticket: t.id,
        message: format!("Thank you! Your request #{} was received; we will reply by email.", t.id.0),
    })
}

/// The embed routes (widget script and the CORS endpoint), without error recovery.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    let widget = warp::path!("embed" / "widget.js")
        .and(warp::get())
        .map(|| {
            let mut r = crate::agent::asset(WIDGET_JS, "text/javascript; charset=utf-8");
            r.headers_mut().insert("access-control-allow-origin", "*".parse().expect("static header"));
            r
        })
        .boxed();
    // The form (JSON, or multipart with files), or why not: answered with
    // the CORS headers, so the widget can read it.
    let body = submitted_within::<EmbedRequest>(app.clone(), Plain::Json, MAX_BODY);
    let submit = warp::path!("api" / "embed" / "tickets")
        .and(warp::method())
        .and(warp::header::optional::<String>("origin"))
        .and(with_app(app))
        .and(client_key())
        .and(body)
        .and_then(
            |method: warp::http::Method,
             origin: Option<String>,
             app: App,
             ip: String,
             body: Submitted<EmbedRequest>| async move {
                let app2 = app.clone();
                let o = origin.clone();
                let allowed =
                    blocking(move || Ok(o.as_deref().is_none_or(|o| origin_allowed(&app2, o)))).await;
                let mut r = match (allowed, method.as_str()) {
                    (Err(e), _) => e.response(),
                    (Ok(false), _) => ApiError::forbidden(format!(
                        "the site {} may not send requests to this helpdesk (ask its admin to allow it)",
                        origin.as_deref().unwrap_or("")
                    ))
                    .response(),
                    (Ok(true), "OPTIONS") => {
                        let mut r = Response::new(Default::default());
                        let h = r.headers_mut();
                        h.insert(
                            "access-control-allow-methods",
                            "POST, OPTIONS".parse().expect("static header"),
                        );
                        h.insert(
                            "access-control-allow-headers",
                            "content-type".parse().expect("static header"),
                        );
                        h.insert("access-control-max-age", "600".parse().expect("static header"));
                        r
                    }
                    (Ok(true), "POST") => {
                        let r = async {
                            let (req, files) = body?;
                            app.check_embed(ip)?;
                            blocking(move || create(&app, req, files)).await
                        }
                        .await;
                        match r {
                            Ok(c) => json(StatusCode::CREATED, &c),
                            Err(e) => e.response(),
                        }
                    }
                    (Ok(true), _) => ApiError::new(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method_not_allowed",
                        "send the form with POST",
                    )
                    .response(),
                };
                if let Some(o) = origin.as_deref().and_then(|o| o.parse().ok()) {
                    if r.status() != StatusCode::FORBIDDEN {
                        r.headers_mut().insert("access-control-allow-origin", o);
                    }
                    r.headers_mut().insert("vary", "Origin".parse().expect("static header"));
                }
                Ok::<_, Infallible>(r)
            },
        )
        .boxed();
    widget.or(submit).unify().boxed()
}
