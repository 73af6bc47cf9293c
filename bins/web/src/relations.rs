//! Merging, splitting and linking tickets over JSON:
//! `POST /api/agent/tickets/{id}/merge` (`{"into": N}`: this ticket into
//! N), `POST /api/agent/tickets/{id}/split` (`{"post": P, "subject": S}`:
//! the user's message P off into a new ticket), `POST
//! /api/agent/tickets/{id}/links` (`{"ticket": N}`) and `DELETE
//! /api/agent/tickets/{id}/links/{other}`. Both tickets change together
//! and both are published to the agents watching them.

use crate::agent::{detail, visible_ticket, TicketDetail, MAX_JSON};
use crate::auth::{agent_auth, AgentCtx};
use crate::error::ApiError;
use crate::{run_json as run, with_app, App};
use helpdesk_core::*;
use serde::{Deserialize, Serialize};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

/// `POST /api/agent/tickets/{id}/merge`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The ticket that keeps everything (this one closes into it).
    pub into: u64,
}

/// `POST /api/agent/tickets/{id}/split`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitRequest {
    /// The user's message to split off.
    pub post: u32,
    /// The new ticket's subject (default: this ticket's).
    #[serde(default)]
    pub subject: Option<String>,
}

/// `POST /api/agent/tickets/{id}/links`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The related ticket.
    pub ticket: u64,
}

/// A ticket made or kept by a merge or split, and the other one.
#[derive(Debug, Serialize)]
pub struct Related {
    /// The survivor of a merge, the new ticket of a split, the ticket linked.
    #[serde(flatten)]
    pub detail: TicketDetail,
    /// The merged ticket, the ticket split, the other ticket.
    pub other: TicketId,
}

/// Publishes both tickets' new events to the agents watching them.
fn publish(app: &App, before: &[(TicketId, u64)], after: [&Ticket; 2]) -> Result<(), ApiError> {
    for t in after {
        let was = before.iter().find(|(id, _)| *id == t.id).map_or(0, |(_, v)| *v);
        if t.version != was {
            app.publish(was, t, &app.helpdesk().log(t.id)?);
        }
    }
    Ok(())
}

/// What `agent` asked of ticket `id` and `other` (both must be visible).
pub enum Ask {
    /// Merge `id` into `other`.
    Merge(TicketId),
    /// Split message `post` of `id` off, with a subject.
    Split(PostId, Option<String>),
    /// Link or unlink `other`.
    Link(TicketId, bool),
}

/// Runs a merge, split or link for the agent; returns the ticket the
/// answer is about (the survivor, the new ticket, `id` itself) and the
/// other.
pub fn run_ask(app: &App, agent: &Agent, id: TicketId, ask: Ask) -> Result<(Ticket, Ticket), ApiError> {
    let hd = app.helpdesk();
    let this = visible_ticket(hd, agent, id)?;
    let actor = Actor::Agent(agent.id);
    match ask {
        Ask::Merge(into) => {
            let other = visible_ticket(hd, agent, into)?;
            let (kept, gone) = hd.merge_tickets(into, id, &actor)?;
            publish(app, &[(this.id, this.version), (other.id, other.version)], [&kept, &gone])?;
            Ok((kept, gone))
        }
        Ask::Split(post, subject) => {
            let (old, new) = hd.split_ticket(id, post, subject.as_deref(), &actor)?;
            publish(app, &[(this.id, this.version)], [&old, &new])?;
            Ok((new, old))
        }
        Ask::Link(other, linked) => {
            let that = visible_ticket(hd, agent, other)?;
            let (a, b) = hd.link_tickets(id, other, linked, &actor)?;
            publish(app, &[(this.id, this.version), (that.id, that.version)], [&a, &b])?;
            Ok((a, b))
        }
    }
}

fn answer(app: &App, agent: &Agent, id: u64, ask: Ask) -> Result<Related, ApiError> {
    let (t, other) = run_ask(app, agent, TicketId(id), ask)?;
    Ok(Related { detail: detail(app.helpdesk(), t)?, other: other.id })
}

/// The routes, without error recovery.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let auth = || agent_auth(app.clone());
    let a = || with_app(app.clone());
    let limit = || warp::body::content_length_limit(MAX_JSON);
    let merge = path!("api" / "agent" / "tickets" / u64 / "merge")
        .and(warp::post())
        .and(a())
        .and(auth())
        .and(limit().and(warp::body::json::<MergeRequest>()))
        .and_then(|id: u64, app: App, ctx: AgentCtx, req: MergeRequest| {
            run(app, StatusCode::OK, move |app| answer(app, &ctx.agent, id, Ask::Merge(TicketId(req.into))))
        })
        .boxed();
    let split = path!("api" / "agent" / "tickets" / u64 / "split")
        .and(warp::post())
        .and(a())
        .and(auth())
        .and(limit().and(warp::body::json::<SplitRequest>()))
        .and_then(|id: u64, app: App, ctx: AgentCtx, req: SplitRequest| {
            run(app, StatusCode::CREATED, move |app| {
                answer(app, &ctx.agent, id, Ask::Split(PostId(req.post), req.subject))
            })
        })
        .boxed();
    let link = path!("api" / "agent" / "tickets" / u64 / "links")
        .and(warp::post())
        .and(a())
        .and(auth())
        .and(limit().and(warp::body::json::<LinkRequest>()))
        .and_then(|id: u64, app: App, ctx: AgentCtx, req: LinkRequest| {
            run(app, StatusCode::OK, move |app| {
                answer(app, &ctx.agent, id, Ask::Link(TicketId(req.ticket), true))
            })
        })
        .boxed();
    let unlink = path!("api" / "agent" / "tickets" / u64 / "links" / u64)
        .and(warp::delete())
        .and(a())
        .and(auth())
        .and_then(|id: u64, other: u64, app: App, ctx: AgentCtx| {
            run(app, StatusCode::OK, move |app| {
                answer(app, &ctx.agent, id, Ask::Link(TicketId(other), false))
            })
        })
        .boxed();
    merge.or(split).unify().or(link).unify().or(unlink).unify().boxed()
}
