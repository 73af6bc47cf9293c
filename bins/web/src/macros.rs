//! Macros over JSON (`/api/agent/macros`): list and search what the agent
//! may use, make, change and delete their own (admins: any); preview one on
//! a ticket (`GET /api/agent/tickets/{id}/macros/{macro}`: what each action
//! would change, nothing written) and apply it (`POST` there: one group in
//! the ticket's log). The workspace's screens are
//! [`workspace::macros`](crate::workspace).

use crate::agent::{detail, refused, visible_ticket, TicketDetail, MAX_JSON};
use crate::auth::{agent_auth, AgentCtx};
use crate::error::ApiError;
use crate::{run_json as run, with_app, App};
use helpdesk_core::concurrency::MissedPost;
use helpdesk_core::macros::{NewMacro, StepOutcome};
use helpdesk_core::*;
use serde::{Deserialize, Serialize};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

#[derive(Debug, Deserialize)]
struct Query {
    #[serde(default)]
    q: String,
}

/// `POST /api/agent/tickets/{id}/macros/{macro}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    /// The version the agent saw: an action is refused (409) when someone
    /// else changed what it depends on since.
    #[serde(default)]
    pub version: Option<u64>,
}

/// What a macro would change on a ticket.
#[derive(Debug, Serialize)]
pub struct Preview {
    /// The macro.
    pub r#macro: MacroId,
    /// Each action and its changes (none: the ticket already is so).
    pub steps: Vec<StepOutcome>,
    /// The ticket as the macro would leave it.
    pub after: Ticket,
}

/// A macro applied.
#[derive(Debug, Serialize)]
pub struct Applied {
    /// The ticket after it.
    #[serde(flatten)]
    pub detail: TicketDetail,
    /// Each action and its changes.
    pub steps: Vec<StepOutcome>,
    /// What others wrote since `version`.
    pub missed: Vec<MissedPost>,
}

/// Applies a macro as the agent and publishes the change.
pub fn apply(
    app: &App,
    agent: &Agent,
    ticket: TicketId,
    id: MacroId,
    version: Option<u64>,
) -> Result<Applied, ApiError> {
    let hd = app.helpdesk();
    let before = visible_ticket(hd, agent, ticket)?;
    let done = hd.macros(agent.id).apply(id, ticket, version).map_err(|e| refused(hd, e))?;
    let d = detail(hd, done.ticket)?;
    if d.ticket.version != before.version {
        app.publish(before.version, &d.ticket, &d.log);
    }
    Ok(Applied { detail: d, steps: done.steps, missed: done.missed })
}

/// The routes, without error recovery.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let auth = || agent_auth(app.clone());
    let a = || with_app(app.clone());
    let body = || warp::body::content_length_limit(MAX_JSON).and(warp::body::json::<NewMacro>());
    let list = path!("api" / "agent" / "macros")
        .and(warp::get())
        .and(a())
        .and(auth())
        .and(warp::query::<Query>())
        .and_then(|app: App, ctx: AgentCtx, q: Query| {
            run(app, StatusCode::OK, move |app| Ok(app.helpdesk().macros(ctx.agent.id).list(&q.q)?))
        })
        .boxed();
    let create = path!("api" / "agent" / "macros")
        .and(warp::post())
        .and(a())
        .and(auth())
        .and(body())
        .and_then(|app: App, ctx: AgentCtx, new: NewMacro| {
            run(app, StatusCode::CREATED, move |app| Ok(app.helpdesk().macros(ctx.agent.id).create(new)?))
        })
        .boxed();
    let get = path!("api" / "agent" / "macros" / u64)
        .and(warp::get())
        .and(a())
        .and(auth())
        .and_then(|id: u64, app: App, ctx: AgentCtx| {
            run(app, StatusCode::OK, move |app| Ok(app.helpdesk().macros(ctx.agent.id).get(MacroId(id))?))
        })
        .boxed();
    let update = path!("api" / "agent" / "macros" / u64)
        .and(warp::put())
        .and(a())
        .and(auth())
        .and(body())
        .and_then(|id: u64, app: App, ctx: AgentCtx, new: NewMacro| {
            run(app, StatusCode::OK, move |app| {
                Ok(app.helpdesk().macros(ctx.agent.id).update(MacroId(id), new)?)
            })
        })
        .boxed();
    let delete = path!("api" / "agent" / "macros" / u64)
        .and(warp::delete())
        .and(a())
        .and(auth())
        .and_then(|id: u64, app: App, ctx: AgentCtx| {
            run(app, StatusCode::OK, move |app| {
                app.helpdesk().macros(ctx.agent.id).delete(MacroId(id))?;
                Ok(serde_json::json!({ "deleted": id }))
            })
        })
        .boxed();
    let preview = path!("api" / "agent" / "tickets" / u64 / "macros" / u64)
        .and(warp::get())
        .and(a())
        .and(auth())
        .and_then(|ticket: u64, id: u64, app: App, ctx: AgentCtx| {
            run(app, StatusCode::OK, move |app| {
                let p = app.helpdesk().macros(ctx.agent.id).preview(MacroId(id), TicketId(ticket))?;
                Ok(Preview { r#macro: MacroId(id), steps: p.steps, after: p.after })
            })
        })
        .boxed();
    let apply_r = path!("api" / "agent" / "tickets" / u64 / "macros" / u64)
        .and(warp::post())
        .and(a())
        .and(auth())
        .and(warp::body::content_length_limit(MAX_JSON))
        .and(warp::body::bytes())
        .and_then(|ticket: u64, id: u64, app: App, ctx: AgentCtx, raw: ::bytes::Bytes| {
            run(app, StatusCode::OK, move |app| {
                let req: ApplyRequest = if raw.iter().all(u8::is_ascii_whitespace) {
                    ApplyRequest::default()
                } else {
                    serde_json::from_slice(&raw)
                        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?
                };
                apply(app, &ctx.agent, TicketId(ticket), MacroId(id), req.version)
            })
        })
        .boxed();
    list.or(create)
        .unify()
        .or(get)
        .unify()
        .or(update)
        .unify()
        .or(delete)
        .unify()
        .or(preview)
        .unify()
        .or(apply_r)
        .unify()
        .boxed()
}
