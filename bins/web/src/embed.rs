//! The website embed: `<script src="https://helpdesk.example/embed/widget.js"
//! data-department="1" async></script>` pasted into any page renders a contact
//! form that creates a ticket (channel `embed`) through a CORS-enabled JSON
//! endpoint. Submissions are rate-limited per client address (governor) and
//! checked for spam: a honeypot field real visitors never see, a minimum fill
//! time, and a cap on links. Errors come back as JSON the widget shows.

use crate::error::ApiError;
use crate::{blocking, client_key, json, with_app, App};
use helpdesk_core::*;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

const WIDGET_JS: &str = include_str!("../assets/widget.js");

/// Most links a message may contain before it is taken for spam.
pub const MAX_LINKS: usize = 5;
/// Fewer milliseconds than this between showing the form and sending it is a bot.
pub const MIN_FILL_MS: u64 = 1500;

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

fn create(app: &App, req: EmbedRequest) -> Result<EmbedCreated, ApiError> {
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
    let new = NewTicket::new(req.subject, req.message, dept.id, user.id, Channel::Embed);
    let t = hd.create_ticket(&Actor::User(user.id), new).map_err(|e| match e {
        helpdesk_store::Error::Ticket(TicketError::EmptySubject) => {
            ApiError::invalid("Please enter a subject.")
        }
        helpdesk_store::Error::Ticket(TicketError::EmptyBody) => ApiError::invalid("Please enter a message."),
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
    let origins = app.config().embed_origins.clone();
    let cors = if origins.is_empty() {
        warp::cors().allow_any_origin()
    } else {
        warp::cors().allow_origins(origins.iter().map(String::as_str))
    }
    .allow_methods(vec!["POST", "OPTIONS"])
    .allow_headers(vec!["content-type"])
    .max_age(600);
    let inner = warp::post()
        .and(with_app(app))
        .and(client_key())
        .and(warp::body::content_length_limit(64 * 1024))
        .and(warp::body::json())
        .and_then(|app: App, ip: String, req: EmbedRequest| async move {
            let r = async {
                app.check_embed(ip)?;
                blocking(move || create(&app, req)).await
            }
            .await;
            Ok::<_, Infallible>(match r {
                Ok(c) => json(StatusCode::CREATED, &c),
                Err(e) => e.response(),
            })
        })
        // Errors from the body parser must carry CORS headers too, so the widget can read them.
        .recover(crate::error::recover)
        .unify();
    // The path is matched before the CORS wrapper, which answers preflights
    // itself: wrapped around the path, it answered them for every path.
    let submit =
        warp::path!("api" / "embed" / "tickets").and(inner.with(cors)).map(Reply::into_response).boxed();
    widget.or(submit).unify().boxed()
}
