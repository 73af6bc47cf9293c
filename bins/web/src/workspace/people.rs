//! People: the People app (`/agent/people`: find users and organisations,
//! their profiles) and the profile panes the Tickets app opens from a
//! ticket (`/agent/users/{id}`, `/agent/organisations/{id}`). A profile
//! shows a user's addresses, phone, organisation, groups, custom fields
//! and tickets with counts by status, an organisation's domains, notes,
//! members and tickets. Only people the agent may see are listed or shown
//! (everyone with the people permission, else the people of tickets in
//! their departments), and only tickets of departments they see.

use super::layout::{app_page, icon, AppName, Focus};
use super::list::{status_badge, status_name, urgency_badge, Names};
use super::ticket::content_page;
use super::{agent_or_login, auth, encode, html, run, Auth, Ctx};
use crate::error::ApiError;
use crate::{client_key, with_app, App};
use helpdesk_core::filter::{Criteria, CustomFilter};
use helpdesk_core::*;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::BTreeMap;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

/// How many people one page of the People app lists.
const PEOPLE_PAGE: usize = 50;

struct Row {
    id: TicketId,
    subject: String,
    status: Status,
    urgency: Urgency,
    department: DepartmentId,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<&Ticket> for Row {
    fn from(t: &Ticket) -> Row {
        Row {
            id: t.id,
            subject: t.subject.clone(),
            status: t.status,
            urgency: t.urgency,
            department: t.department,
            updated_at: t.updated_at,
        }
    }
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

/// "2 awaiting agent · 1 resolved": the tickets shown, by status.
fn counts(rows: &[Row]) -> Markup {
    let mut by: BTreeMap<&'static str, (Status, usize)> = BTreeMap::new();
    for r in rows {
        by.entry(r.status.as_str()).or_insert((r.status, 0)).1 += 1;
    }
    let order = [
        Status::AwaitingAgent,
        Status::AwaitingUser,
        Status::Pending,
        Status::Resolved,
        Status::Validating,
        Status::Spam,
        Status::Deleted,
    ];
    html! {
        @if !by.is_empty() {
            ul.status-counts aria-label="Tickets by status" {
                @for s in order {
                    @if let Some((_, n)) = by.get(s.as_str()) {
                        li { (status_badge(s)) " " strong { (n) } span.vh { " " (status_name(s)) } }
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

/// Where a profile's links to people go: the app it is shown in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The Tickets app's content pane (`/agent/users/{id}`).
    Tickets,
    /// The People app (`/agent/people/users/{id}`).
    People,
}

impl Place {
    fn user(self, id: UserId) -> String {
        match self {
            Place::Tickets => format!("/agent/users/{}", id.0),
            Place::People => format!("/agent/people/users/{}", id.0),
        }
    }
    fn organisation(self, id: OrganisationId) -> String {
        match self {
            Place::Tickets => format!("/agent/organisations/{}", id.0),
            Place::People => format!("/agent/people/organisations/{}", id.0),
        }
    }
}

fn user_body(
    app: &App,
    ctx: &Ctx,
    id: u64,
    client: Option<String>,
    place: Place,
) -> Result<Markup, ApiError> {
    let hd = app.helpdesk();
    let u = hd.user_for_agent(ctx.agent.id, UserId(id), client).map_err(|e| refused(e, "user", id))?;
    let mut names = Names::new(hd)?;
    let org = u.organisation.map(|o| (o, names.organisation(o)));
    let groups: Vec<String> = u
        .usergroups
        .iter()
        .map(|g| hd.usergroup(*g).map(|g| g.name).unwrap_or_else(|_| g.to_string()))
        .collect();
    let tickets: Vec<Row> = hd
        .tickets_of_user(u.id, None, 200)?
        .iter()
        .filter(|t| ctx.agent.permissions.can_see(t.department))
        .map(Row::from)
        .collect();
    Ok(html! {
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
                dd { @if let Some((oid, name)) = &org { a href=(place.organisation(*oid)) hx-target="#content" hx-swap="outerHTML" { (name) } } @else { "—" } }
                @if !groups.is_empty() { dt { "Usergroups" } dd { (groups.join(", ")) } }
                @for (k, v) in &u.fields { dt { (k) } dd { (v.to_string()) } }
                dt { "Email confirmed" } dd { (if u.validated { "yes" } else { "not yet" }) }
                dt { "Since" } dd { (ctx.tz.absolute(u.created_at)) }
            }
            h2 { "Tickets (" (tickets.len()) ")" }
            (counts(&tickets))
            (rows(ctx, &names, &tickets))
        }
    })
}

fn organisation_body(
    app: &App,
    ctx: &Ctx,
    id: u64,
    client: Option<String>,
    place: Place,
) -> Result<Markup, ApiError> {
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
    let members = hd.organisation_members(ctx.agent.id, o.id, PEOPLE_PAGE)?;
    Ok(html! {
        article.profile aria-labelledby="profile-title" {
            header.ticket-head { h1 #profile-title { (o.name) } p.muted { "Organisation" } }
            dl.details {
                dt { "Email domains" } dd { @for d in &o.email_domains { span { (d) } " " } @if o.email_domains.is_empty() { "—" } }
                @if !o.phones.is_empty() { dt { "Phone" } dd { @for p in &o.phones { span { (p) } " " } } }
                @if !o.notes.is_empty() { dt { "Notes" } dd.notes { (o.notes) } }
                @for (k, v) in &o.fields { dt { (k) } dd { (v.to_string()) } }
            }
            h2 { "Members (" (members.len()) @if members.len() == PEOPLE_PAGE { "+" } ")" }
            @if members.is_empty() { p.muted { "No members you may see." } }
            @else {
                ul.people-list {
                    @for u in &members {
                        li { a href=(place.user(u.id)) hx-target="#content" hx-swap="outerHTML" { (u.name) } " " span.muted { (u.primary_email()) } }
                    }
                }
            }
            h2 { "Tickets" @if page.next.is_some() { " (newest " (tickets.len()) ")" } }
            (counts(&tickets))
            (rows(ctx, &names, &tickets))
        }
    })
}

/// The People app's query: what to find, and where a page starts.
#[derive(Debug, Default, Deserialize)]
pub struct PeopleQuery {
    /// Text in a name, an address or a domain.
    #[serde(default)]
    pub q: String,
    /// `users` (default) or `organisations`.
    #[serde(default)]
    pub kind: Option<String>,
    /// The id a page starts after.
    #[serde(default)]
    pub after: Option<u64>,
}

impl PeopleQuery {
    fn organisations(&self) -> bool {
        self.kind.as_deref() == Some("organisations")
    }
    fn url(&self, organisations: bool, after: Option<u64>) -> String {
        let mut u = format!("/agent/people?kind={}", if organisations { "organisations" } else { "users" });
        if !self.q.trim().is_empty() {
            u.push_str(&format!("&q={}", encode(self.q.trim())));
        }
        if let Some(a) = after {
            u.push_str(&format!("&after={a}"));
        }
        u
    }
}

/// The People app's pane: search, and Users or Organisations.
fn nav(q: &PeopleQuery) -> Markup {
    let orgs = q.organisations();
    html! {
        nav #filter-pane .filter-pane.people-nav aria-label="People" {
            form.people-search method="get" action="/agent/people" role="search" {
                input type="hidden" name="kind" value=(if orgs { "organisations" } else { "users" });
                label.vh for="people-q" { "Find people" }
                input #people-q type="search" name="q" value=(q.q) placeholder="Name, email or domain" autocomplete="off";
                button.btn.small type="submit" { (icon("search")) span.vh { "Find" } }
            }
            ul.filters {
                li { a.filter href=(q.url(false, None)) aria-current=[(!orgs).then_some("page")] data-view-to="content" { span { (icon("user")) " Users" } } }
                li { a.filter href=(q.url(true, None)) aria-current=[orgs.then_some("page")] data-view-to="content" { span { (icon("building-2")) " Organisations" } } }
            }
        }
    }
}

fn people_list(app: &App, ctx: &Ctx, q: &PeopleQuery) -> Result<Markup, ApiError> {
    let hd = app.helpdesk();
    let after = q.after.unwrap_or(0);
    let what = if q.organisations() { "organisations" } else { "users" };
    let (items, next): (Vec<Markup>, Option<u64>) = if q.organisations() {
        let found = hd.find_organisations_for_agent(ctx.agent.id, &q.q, after, PEOPLE_PAGE)?;
        let items = found
            .items
            .iter()
            .map(|o| {
                html! {
                    li { a.person href=(Place::People.organisation(o.id)) {
                        span.name { (o.name) }
                        span.muted { (o.email_domains.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")) }
                    } }
                }
            })
            .collect();
        (items, found.next)
    } else {
        let found = hd.find_users_for_agent(ctx.agent.id, &q.q, after, PEOPLE_PAGE)?;
        let mut names = Names::new(hd)?;
        let items = found
            .items
            .iter()
            .map(|u| {
                let org = u.organisation.map(|o| names.organisation(o));
                html! {
                    li { a.person href=(Place::People.user(u.id)) {
                        span.name { (u.name) @if u.blocked { " " span.badge.danger { "blocked" } } }
                        span.muted { (u.primary_email()) @if let Some(o) = org { " · " (o) } }
                    } }
                }
            })
            .collect();
        (items, found.next)
    };
    Ok(html! {
        article.people aria-labelledby="people-title" {
            header.ticket-head {
                h1 #people-title { @if q.organisations() { "Organisations" } @else { "Users" } }
                // On a phone the app's pane is behind the menu: search here too.
                form.people-search.phone-only method="get" action="/agent/people" role="search" {
                    input type="hidden" name="kind" value=(if q.organisations() { "organisations" } else { "users" });
                    label.vh for="people-q-phone" { "Find people" }
                    input #people-q-phone type="search" name="q" value=(q.q) placeholder="Name, email or domain" autocomplete="off";
                    button.btn.small type="submit" { (icon("search")) span.vh { "Find" } }
                }
                p.muted {
                    @if q.q.trim().is_empty() { "Everyone you may see, oldest first." }
                    @else { "Matching “" (q.q.trim()) "”." }
                    @if !ctx.agent.permissions.sees_all_people() { " Without the people permission you see the people of tickets in your departments." }
                }
            }
            @if items.is_empty() { p.muted #people-empty { "No " (what) " found." } }
            @else { ul.people-list #people-results { @for i in &items { (i) } } }
            @if let Some(n) = next { a.btn.small href=(q.url(q.organisations(), Some(n))) { "More " (what) } }
        }
    })
}

/// A page of the People app: `body` in its content pane.
fn people_page(
    app: &App,
    ctx: &Ctx,
    q: &PeopleQuery,
    title: &str,
    body: Markup,
) -> Result<Response, ApiError> {
    let content = html! { main #content .content data-view="content" { (body) } };
    if ctx.hx.targets("content") {
        return Ok(html(StatusCode::OK, content));
    }
    Ok(html(
        StatusCode::OK,
        app_page(app, ctx, &format!("{title} · People"), AppName::People, Focus::Content, nav(q), content)?,
    ))
}

/// `GET /agent/users/{id}` and `GET /agent/organisations/{id}` (the Tickets
/// app's profile panes); `GET /agent/people` (`?kind=users|organisations`,
/// `q`, `after`), `/agent/people/users/{id}`,
/// `/agent/people/organisations/{id}` (the People app).
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let a = || auth(app.clone());
    // A profile: `users` or `organisations`, in the Tickets app or in People.
    let profile = |place: Place| {
        move |kind: String, id: u64, app: App, auth: Auth, client: String| async move {
            let ctx = agent_or_login!(auth);
            run(app, ctx, move |app, ctx| {
                let orgs = kind == "organisations";
                let body = match kind.as_str() {
                    "users" => user_body(app, ctx, id, Some(client), place)?,
                    "organisations" => organisation_body(app, ctx, id, Some(client), place)?,
                    _ => return Err(ApiError::not_found("There is no such page.")),
                };
                match place {
                    Place::Tickets => content_page(app, ctx, body, StatusCode::OK),
                    Place::People => {
                        let q = PeopleQuery { kind: Some(kind.clone()), ..PeopleQuery::default() };
                        people_page(app, ctx, &q, if orgs { "Organisation" } else { "User" }, body)
                    }
                }
            })
            .await
        }
    };
    let kinds = || {
        warp::path::param::<String>().and_then(|k: String| async move {
            if k == "users" || k == "organisations" {
                Ok(k)
            } else {
                Err(warp::reject::not_found())
            }
        })
    };
    let in_tickets = warp::path("agent")
        .and(kinds())
        .and(warp::path::param::<u64>())
        .and(warp::path::end())
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(a())
        .and(client_key())
        .and_then(profile(Place::Tickets));
    let in_people = warp::path("agent")
        .and(warp::path("people"))
        .and(kinds())
        .and(warp::path::param::<u64>())
        .and(warp::path::end())
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(a())
        .and(client_key())
        .and_then(profile(Place::People));
    let list = path!("agent" / "people")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(a())
        .and(warp::query::<PeopleQuery>())
        .and_then(|app: App, auth: Auth, q: PeopleQuery| async move {
            let ctx = agent_or_login!(auth);
            run(app, ctx, move |app, ctx| {
                let body = people_list(app, ctx, &q)?;
                people_page(app, ctx, &q, if q.organisations() { "Organisations" } else { "Users" }, body)
            })
            .await
        });
    in_tickets.or(in_people).unify().or(list).unify().boxed()
}
