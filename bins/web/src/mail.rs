//! Mail in over HTTP: `POST /api/mail/inbound` takes one raw RFC 5322 mail
//! (the body, as a mail server's pipe or a provider's inbound webhook hands
//! it over) and gives it to [`MailGateway::ingest`]: a new ticket, a reply,
//! or nothing for auto-replies, bounces and loops.
//!
//! Only an admin agent may call it, normally with an API key
//! (`Authorization: Bearer hdk_...`); others are refused before the body is
//! read. The answer is the gateway's outcome as JSON; a mail that cannot be
//! taken gets a 4xx with the reason and changes nothing (a storage failure
//! is a 5xx, and the mail can be handed in again: the gateway knows a mail
//! it took by its Message-ID).

use crate::auth::{agent_auth, AgentCtx};
use crate::error::ApiError;
use crate::{blocking, respond, with_app, App};
use helpdesk_mail::inbound::MAX_MAIL_BYTES;
use helpdesk_mail::{IngestOutcome, MailError, MailGateway};
use std::convert::Infallible;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

impl From<MailError> for ApiError {
    fn from(e: MailError) -> Self {
        match e {
            MailError::Helpdesk(e) => e.into(),
            MailError::Malformed(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "malformed_mail", e.to_string())
            }
            MailError::TooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
            }
            MailError::NoAccount(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "no_account", e.to_string())
            }
            MailError::Refused(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", e.to_string())
            }
            e => ApiError::internal(e.to_string()),
        }
    }
}

/// Takes one mail through the gateway and tells the live stream and the
/// delivery worker about the ticket it touched.
pub fn ingest(app: &App, raw: &[u8]) -> Result<IngestOutcome, ApiError> {
    let outcome = MailGateway::new(app.helpdesk().clone()).ingest(raw)?;
    let touched = match &outcome {
        IngestOutcome::NewTicket { ticket, .. } | IngestOutcome::Reply { ticket, .. } => Some(*ticket),
        IngestOutcome::Ignored { .. } | IngestOutcome::Duplicate => None,
    };
    if let Some(id) = touched {
        // The mail is taken; telling the live stream is best effort.
        let hd = app.helpdesk();
        match hd.ticket(id).and_then(|t| Ok((t, hd.log(id)?))) {
            Ok((ticket, log)) => app.publish_latest(&ticket, &log),
            Err(e) => {
                tracing::warn!(ticket = %id, "mail taken, but the live stream was not told: {e}");
                app.wake_delivery();
            }
        }
    }
    Ok(outcome)
}

/// The inbound mail route.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    warp::path!("api" / "mail" / "inbound")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(agent_auth(app))
        .and_then(|app: App, ctx: AgentCtx| async move {
            if ctx.agent.permissions.admin {
                Ok(app)
            } else {
                Err(warp::reject::custom(ApiError::forbidden("only an admin agent may hand in mail")))
            }
        })
        .and(warp::body::content_length_limit(MAX_MAIL_BYTES as u64))
        .and(warp::body::bytes())
        .and_then(|app: App, body: bytes::Bytes| async move {
            Ok::<_, Infallible>(respond(blocking(move || ingest(&app, &body)).await))
        })
        .boxed()
}
