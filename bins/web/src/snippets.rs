//! Snippets over JSON (`/api/agent/snippets`): list and search what the
//! agent may use, make, change and delete their own (admins: any), and
//! fill one in for a ticket (`/api/agent/tickets/{id}/snippets/{snippet}`),
//! which the composer's `;` menu inserts. The workspace's screen is
//! [`workspace::snippets`](crate::workspace).

use crate::agent::MAX_JSON;
use crate::auth::{agent_auth, AgentCtx};
use crate::{run_json as run, with_app, App};
use helpdesk_core::snippets::NewSnippet;
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

/// A snippet filled in for a ticket.
#[derive(Debug, Serialize)]
pub struct Filled {
    /// The snippet.
    pub snippet: SnippetId,
    /// Its text with the ticket's values.
    pub text: String,
}

/// The routes, without error recovery.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let auth = || agent_auth(app.clone());
    let a = || with_app(app.clone());
    let body = || warp::body::content_length_limit(MAX_JSON).and(warp::body::json::<NewSnippet>());
    let list = path!("api" / "agent" / "snippets")
        .and(warp::get())
        .and(a())
        .and(auth())
        .and(warp::query::<Query>())
        .and_then(|app: App, ctx: AgentCtx, q: Query| {
            run(app, StatusCode::OK, move |app| Ok(app.helpdesk().snippets(ctx.agent.id).list(&q.q)?))
        })
        .boxed();
    let create = path!("api" / "agent" / "snippets")
        .and(warp::post())
        .and(a())
        .and(auth())
        .and(body())
        .and_then(|app: App, ctx: AgentCtx, new: NewSnippet| {
            run(app, StatusCode::CREATED, move |app| Ok(app.helpdesk().snippets(ctx.agent.id).create(new)?))
        })
        .boxed();
    let get = path!("api" / "agent" / "snippets" / u64)
        .and(warp::get())
        .and(a())
        .and(auth())
        .and_then(|id: u64, app: App, ctx: AgentCtx| {
            run(app, StatusCode::OK, move |app| {
                Ok(app.helpdesk().snippets(ctx.agent.id).get(SnippetId(id))?)
            })
        })
        .boxed();
    let update = path!("api" / "agent" / "snippets" / u64)
        .and(warp::put())
        .and(a())
        .and(auth())
        .and(body())
        .and_then(|id: u64, app: App, ctx: AgentCtx, new: NewSnippet| {
            run(app, StatusCode::OK, move |app| {
                Ok(app.helpdesk().snippets(ctx.agent.id).update(SnippetId(id), new)?)
            })
        })
        .boxed();
    let delete = path!("api" / "agent" / "snippets" / u64)
        .and(warp::delete())
        .and(a())
        .and(auth())
        .and_then(|id: u64, app: App, ctx: AgentCtx| {
            run(app, StatusCode::OK, move |app| {
                app.helpdesk().snippets(ctx.agent.id).delete(SnippetId(id))?;
                Ok(serde_json::json!({ "deleted": id }))
            })
        })
        .boxed();
    let fill = path!("api" / "agent" / "tickets" / u64 / "snippets" / u64)
        .and(warp::get())
        .and(a())
        .and(auth())
        .and_then(|ticket: u64, id: u64, app: App, ctx: AgentCtx| {
            run(app, StatusCode::OK, move |app| {
                let text = app.helpdesk().snippets(ctx.agent.id).fill(SnippetId(id), TicketId(ticket))?;
                Ok(Filled { snippet: SnippetId(id), text })
            })
        })
        .boxed();
    list.or(create).unify().or(get).unify().or(update).unify().or(delete).unify().or(fill).unify().boxed()
}
