//! Profile panes: a user (details, their tickets) and an organisation
//! (details, its members' tickets), shown in the content pane.

use super::list::{status_badge, urgency_badge, Names};
use super::ticket::content_page;
use super::{agent_or_login, auth, run, Auth, Ctx};
use crate::error::ApiError;
use crate::{client_key, with_app, App};
use helpdesk_core::filter::{Criteria, CustomFilter};
use helpdesk_core::*;
use maud::{html, Markup};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

struct Row {
    id: TicketId,
    subject: String,
    status: Status,
    urgency: Urgency,
    department: DepartmentId,
    updated_at: chrono::DateTime<chrono::Utc>,
}

fn rows(ctx: &Ctx, names: &Names, rows: &[Row]) -> Markup {
    html! {
        @if rows.is_empty() { p.muted { "No tickets." } }
        @else {
            ol.rows.compact {
                @for t in rows {
                    li {
                        a.row href=(format!("/agent/tickets/{}", t.id.0)) hx-target="#content" hx-swap="outerHTML" {
                            (urgency_badge(t.urgency))
                            span.main {
                                span.subject { (t.subject) }
                                span.meta { (names.department(t.department)) " · " (status_badge(t.status)) }
                            }
                            span.side { span.id { "#" (t.id.0) } (ctx.tz.time(ctx.now, t.updated_at)) }
                        }
                    }
                }
            }
        }
    }
}

/// A person the agent may not see, or who does not exist, as an error.
fn refused(e: helpdesk_store::Error, what: &str, id: u64) -> ApiError {
    match e {
        helpdesk_store::Error::Directory(DirectoryError::NotFound(_)) => {
            ApiError::not_found(format!("There is no {what} {id}."))
        }
        e => e.into(),
    }
}

fn user_page(app: &App, ctx: &Ctx, id: u64, client: Option<String>) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let u = hd.user_for_agent(ctx.agent.id, UserId(id), client).map_err(|e| refused(e, "user", id))?;
    let mut names = Names::new(hd)?;
    let org = u.organisation.map(|o| (o, names.organisation(o)));
    let tickets: Vec<Row> = hd
        .tickets_of_user(u.id, None, 200)?
        .into_iter()
        .filter(|t| ctx.agent.permissions.can_see(t.department))
        .map(|t| Row {
            id: t.id,
            subject: t.subject,
            status: t.status,
            urgency: t.urgency,
            department: t.department,
            updated_at: t.updated_at,
        })
        .collect();
    let body = html! {
        article.profile aria-labelledby="profile-title" {
            header.ticket-head {
                h1 #profile-title { (u.name) }
                p.muted {
                    "User"
                    @if ctx.agent.permissions.admin { " · " a href=(format!("/agent/admin/users/{}", u.id.0)) { "Edit, merge or block in Admin" } }
                }
            }
            @if u.blocked { div.notice.error role="status" { "Blocked: their mail is ignored and they cannot use the portal." } }
            dl.details {
                dt { "Email" } dd { @for e in &u.emails { span.email { (e) } " " } }
                @if let Some(p) = &u.phone { dt { "Phone" } dd { (p) } }
                dt { "Organisation" }
                dd { @if let Some((oid, name)) = &org { a href=(format!("/agent/organisations/{}", oid.0)) hx-target="#content" hx-swap="outerHTML" { (name) } } @else { "—" } }
                dt { "Email confirmed" } dd { (if u.validated { "yes" } else { "not yet" }) }
                dt { "Since" } dd { (ctx.tz.absolute(u.created_at)) }
            }
            h2 { "Tickets (" (tickets.len()) ")" }
            (rows(ctx, &names, &tickets))
        }
    };
    content_page(app, ctx, body, StatusCode::OK)
}

fn organisation_page(app: &App, ctx: &Ctx, id: u64, client: Option<String>) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let o = hd
        .organisation_for_agent(ctx.agent.id, OrganisationId(id), client)
        .map_err(|e| refused(e, "organisation", id))?;
    let names = Names::new(hd)?;
    let mut criteria = Criteria { organisation: vec![o.id], ..Criteria::default() };
    criteria.status = Vec::new();
    let filter = CustomFilter::new(format!("Organisation {}", o.name), criteria)
        .sorted(helpdesk_core::filter::SortOrder::Newest);
    let page = hd.filter_page(ctx.agent.id, &filter, None, super::PAGE_SIZE)?;
    let tickets: Vec<Row> = page
        .tickets
        .iter()
        .map(|t| Row {
            id: t.id,
            subject: t.subject.clone(),
            status: t.status,
            urgency: t.urgency,
            department: t.department,
            updated_at: t.updated_at,
        })
        .collect();
    let body = html! {
        article.profile aria-labelledby="profile-title" {
            header.ticket-head { h1 #profile-title { (o.name) } p.muted { "Organisation" } }
            dl.details {
                dt { "Email domains" } dd { @for d in &o.email_domains { span { (d) } " " } @if o.email_domains.is_empty() { "—" } }
                @if !o.phones.is_empty() { dt { "Phone" } dd { @for p in &o.phones { span { (p) } " " } } }
                @if !o.notes.is_empty() { dt { "Notes" } dd { (o.notes) } }
            }
            h2 { "Tickets" @if page.next.is_some() { " (newest " (tickets.len()) ")" } }
            (rows(ctx, &names, &tickets))
        }
    };
    content_page(app, ctx, body, StatusCode::OK)
}

/// `GET /agent/users/{id}` and `GET /agent/organisations/{id}`.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let a = || auth(app.clone());
    let user = path!("agent" / "users" / u64)
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(a())
        .and(client_key())
        .and_then(|id: u64, app: App, auth: Auth, client: String| async move {
            let ctx = agent_or_login!(auth);
            run(app, ctx, move |app, ctx| user_page(app, ctx, id, Some(client))).await
        });
    let org = path!("agent" / "organisations" / u64)
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(a())
        .and(client_key())
        .and_then(|id: u64, app: App, auth: Auth, client: String| async move {
            let ctx = agent_or_login!(auth);
            run(app, ctx, move |app, ctx| organisation_page(app, ctx, id, Some(client))).await
        });
    user.or(org).unify().boxed()
}
