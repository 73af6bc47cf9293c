//! The agent's saved custom filters over JSON (`/api/agent/custom-filters`):
//! list (with counts), create, read, change, delete, and their ticket lists.
//! Everything is [`Helpdesk::saved_filters`]: an agent sees their own filters
//! and those shared with their teams or everyone, and changes only their own
//! (admins: any); a filter they do not see answers 404.

use crate::agent::{summary_of, Page, TicketSummary, MAX_JSON};
use crate::auth::{agent_auth, AgentCtx};
use crate::error::ApiError;
use crate::{blocking, respond, run_json as run, with_app, App};
use helpdesk_core::filter::{Criteria, Cursor, SortOrder};
use helpdesk_core::filters::saved::{NewSavedFilter, SavedFilter, Sharing};
use helpdesk_core::{AgentId, SavedFilterId};
use serde::Serialize;
use std::convert::Infallible;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

/// A saved filter as the filter pane shows it.
#[derive(Debug, Serialize)]
pub struct SavedFilterView {
    /// Id (the URL is `/api/agent/custom-filters/{id}`).
    pub id: SavedFilterId,
    /// Name.
    pub name: String,
    /// Who made it.
    pub owner: AgentId,
    /// The owner's name.
    pub owner_name: String,
    /// Who else sees it.
    pub sharing: Sharing,
    /// Whether the caller may change or delete it.
    pub editable: bool,
    /// What it selects.
    pub criteria: Criteria,
    /// Its order.
    pub sort: SortOrder,
    /// Tickets it lists for the caller (with `?counts`; always in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Whether `count` is exact (false: a lower bound, the filter's criteria
    /// need more candidates examined than a count may read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact: Option<bool>,
}

fn view(app: &App, ctx: &AgentCtx, f: SavedFilter, count: Option<(u64, bool)>) -> SavedFilterView {
    let owner_name = app.helpdesk().agent(f.owner).map(|a| a.name).unwrap_or_default();
    SavedFilterView {
        id: f.id,
        editable: f.editable_by(&ctx.agent),
        owner: f.owner,
        owner_name,
        sharing: f.sharing,
        name: f.filter.name,
        criteria: f.filter.criteria,
        sort: f.filter.sort,
        count: count.map(|c| c.0),
        exact: count.map(|c| c.1),
    }
}

fn list(app: &App, ctx: &AgentCtx) -> Result<Vec<SavedFilterView>, ApiError> {
    let all = app.helpdesk().saved_filters(ctx.agent.id).counts()?;
    Ok(all.into_iter().map(|(f, c)| view(app, ctx, f, Some((c.count, c.exact)))).collect())
}

fn tickets(app: &App, ctx: &AgentCtx, id: SavedFilterId, page: &Page) -> Result<serde_json::Value, ApiError> {
    let hd = app.helpdesk();
    let filters = hd.saved_filters(ctx.agent.id);
    let f = filters.get(id)?;
    let limit = page.limit.unwrap_or(50).clamp(1, 200);
    let cursor = page
        .cursor
        .as_deref()
        .map(Cursor::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let p = filters.page(id, cursor.as_ref(), limit)?;
    let total = filters.count(id)?;
    let tickets: Vec<TicketSummary> = p.tickets.iter().map(|t| summary_of(hd, t)).collect();
    Ok(serde_json::json!({
        "filter": f.id,
        "title": f.filter.name,
        "total": total.count,
        "exact": total.exact,
        "tickets": tickets,
        "next": p.next.map(|c| c.token()),
    }))
}

/// The routes, without error recovery.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let auth = || agent_auth(app.clone());
    let a = || with_app(app.clone());
    let body = || warp::body::content_length_limit(MAX_JSON).and(warp::body::json::<NewSavedFilter>());

    let list_r = path!("api" / "agent" / "custom-filters")
        .and(warp::get())
        .and(a())
        .and(auth())
        .and_then(|app: App, ctx: AgentCtx| async move {
            Ok::<_, Infallible>(respond(blocking(move || list(&app, &ctx)).await))
        })
        .boxed();
    let create = path!("api" / "agent" / "custom-filters")
        .and(warp::post())
        .and(a())
        .and(auth())
        .and(body())
        .and_then(|app: App, ctx: AgentCtx, new: NewSavedFilter| {
            run(app, StatusCode::CREATED, move |app| {
                let f = app.helpdesk().saved_filters(ctx.agent.id).create(new)?;
                Ok(view(app, &ctx, f, None))
            })
        })
        .boxed();
    let get = path!("api" / "agent" / "custom-filters" / u64)
        .and(warp::get())
        .and(a())
        .and(auth())
        .and_then(|id: u64, app: App, ctx: AgentCtx| {
            run(app, StatusCode::OK, move |app| {
                let filters = app.helpdesk().saved_filters(ctx.agent.id);
                let f = filters.get(SavedFilterId(id))?;
                let c = filters.count(f.id)?;
                Ok(view(app, &ctx, f, Some((c.count, c.exact))))
            })
        })
        .boxed();
    let update = path!("api" / "agent" / "custom-filters" / u64)
        .and(warp::put())
        .and(a())
        .and(auth())
        .and(body())
        .and_then(|id: u64, app: App, ctx: AgentCtx, new: NewSavedFilter| {
            run(app, StatusCode::OK, move |app| {
                let f = app.helpdesk().saved_filters(ctx.agent.id).update(SavedFilterId(id), new)?;
                Ok(view(app, &ctx, f, None))
            })
        })
        .boxed();
    let delete = path!("api" / "agent" / "custom-filters" / u64)
        .and(warp::delete())
        .and(a())
        .and(auth())
        .and_then(|id: u64, app: App, ctx: AgentCtx| async move {
            let r =
                blocking(move || Ok(app.helpdesk().saved_filters(ctx.agent.id).delete(SavedFilterId(id))?));
            Ok::<_, Infallible>(match r.await {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(e) => e.response(),
            })
        })
        .boxed();
    let tickets_r = path!("api" / "agent" / "custom-filters" / u64 / "tickets")
        .and(warp::get())
        .and(a())
        .and(auth())
        .and(warp::query::<Page>())
        .and_then(|id: u64, app: App, ctx: AgentCtx, page: Page| async move {
            Ok::<_, Infallible>(respond(
                blocking(move || tickets(&app, &ctx, SavedFilterId(id), &page)).await,
            ))
        })
        .boxed();

    list_r
        .or(create)
        .unify()
        .or(get)
        .unify()
        .or(update)
        .unify()
        .or(delete)
        .unify()
        .or(tickets_r)
        .unify()
        .boxed()
}
