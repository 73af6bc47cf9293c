//! The list pane: a page of a filter's tickets in the chosen order. Rows are
//! links (urgency badge, subject, user and organisation, department, agent
//! or, when unassigned, team, SLA due, last activity). The pane refreshes
//! itself on `sse:ticket`, the filter counts coming with it out of band.

use super::layout::{icon, workspace, Focus};
use super::{agent_or_login, auth, filter_pane, html, run, time, Auth, Ctx, WorkspaceState};
use crate::error::ApiError;
use crate::filters;
use crate::{with_app, App};
use helpdesk_core::filter::{AgentRef, BuiltIn, Criteria, Cursor, CustomFilter, SortOrder, TeamRef};
use helpdesk_core::summary::TicketSummary;
use helpdesk_core::SavedFilterId;
use helpdesk_core::*;
use helpdesk_store::Helpdesk;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::HashMap;
use std::convert::Infallible;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

/// Which list the pane shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// The filter (for a saved filter: what the pane falls back to).
    pub filter: BuiltIn,
    /// A saved custom filter shown instead of `filter`.
    pub custom: Option<SavedFilterId>,
    /// The order.
    pub sort: SortOrder,
    /// Where the page starts.
    pub cursor: Option<String>,
}

/// The sort's URL value.
pub fn sort_slug(s: SortOrder) -> &'static str {
    match s {
        SortOrder::Urgency => "urgency",
        SortOrder::Oldest => "oldest",
        SortOrder::Newest => "newest",
    }
}

fn parse_sort(s: Option<&str>) -> SortOrder {
    match s {
        Some("oldest") => SortOrder::Oldest,
        Some("newest") => SortOrder::Newest,
        _ => SortOrder::Urgency,
    }
}

impl ListQuery {
    /// The agent's last filter and sort (My Tickets by urgency at first).
    pub fn from_state(state: &WorkspaceState) -> ListQuery {
        ListQuery {
            filter: state.filter.as_deref().and_then(filters::parse).unwrap_or(BuiltIn::MyTickets),
            custom: state.filter.as_deref().and_then(custom_slug),
            sort: parse_sort(state.sort.as_deref()),
            cursor: None,
        }
    }

    /// The pane's URL (at `cursor`).
    pub fn url(&self, cursor: Option<&str>) -> String {
        let mut u = match self.custom {
            Some(id) => format!("/agent/custom-filters/{}", id.0),
            None => format!("/agent/filters/{}", filters::slug(self.filter)),
        };
        let mut sep = '?';
        if self.sort != SortOrder::Urgency && self.custom.is_none() {
            u.push_str(&format!("{sep}sort={}", sort_slug(self.sort)));
            sep = '&';
        }
        if let Some(c) = cursor {
            u.push_str(&format!("{sep}cursor={}", super::encode(c)));
        }
        u
    }

    /// The filter's name.
    pub fn title(&self, hd: &Helpdesk, agent: &Agent) -> String {
        match self.custom {
            Some(id) => hd.saved_filters(agent.id).get(id).map(|f| f.filter.name).unwrap_or_default(),
            None => filters::title(self.filter).to_string(),
        }
    }

    /// The state slug of this list (`custom-{id}` for a saved filter).
    pub fn slug(&self) -> String {
        match self.custom {
            Some(id) => format!("custom-{}", id.0),
            None => filters::slug(self.filter).to_string(),
        }
    }

    /// A filter the library runs for this list: the built-in itself in its
    /// own order, else the same criteria as a custom filter in `sort` order.
    fn page(
        &self,
        hd: &Helpdesk,
        agent: &Agent,
        limit: usize,
    ) -> Result<helpdesk_core::filter::FilterPage, ApiError> {
        let cursor = self
            .cursor
            .as_deref()
            .map(Cursor::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        if let Some(id) = self.custom {
            return Ok(hd.saved_filters(agent.id).page(id, cursor.as_ref(), limit)?);
        }
        if self.sort == SortOrder::Urgency {
            return Ok(hd.filter_page(agent.id, &self.filter, cursor.as_ref(), limit)?);
        }
        let f = as_custom(self.filter).sorted(self.sort);
        Ok(hd.filter_page(agent.id, &f, cursor.as_ref(), limit)?)
    }
}

/// The saved filter a state slug (`custom-{id}`) names.
pub fn custom_slug(s: &str) -> Option<SavedFilterId> {
    s.strip_prefix("custom-").and_then(|id| id.parse().ok()).map(SavedFilterId)
}

/// A filter's count as shown: `12`, or `12+` when it is a lower bound.
pub fn count_text(c: &helpdesk_core::filter::FilterCount) -> String {
    if c.exact {
        c.count.to_string()
    } else {
        format!("{}+", c.count)
    }
}

/// A built-in filter's criteria as a custom filter (for other orders).
pub fn as_custom(f: BuiltIn) -> CustomFilter {
    let mut c = Criteria { status: vec![f.status()], ..Criteria::default() };
    match f {
        BuiltIn::MyTickets => c.agent = vec![AgentRef::Me],
        BuiltIn::Following => c.followed_by = vec![AgentRef::Me],
        BuiltIn::MyTeams => c.team = vec![TeamRef::Mine],
        BuiltIn::Unassigned => {
            c.agent = vec![AgentRef::None];
            c.team = vec![TeamRef::None];
        }
        _ => {}
    }
    CustomFilter::new(filters::title(f), c)
}

/// Names of the people and departments rows mention, looked up once per request.
pub struct Names<'a> {
    hd: &'a Helpdesk,
    departments: HashMap<DepartmentId, String>,
    agents: HashMap<AgentId, String>,
    teams: HashMap<TeamId, String>,
    users: HashMap<UserId, Option<User>>,
    orgs: HashMap<OrganisationId, String>,
}

impl<'a> Names<'a> {
    /// Departments, agents and teams (small lists) now; users as they are met.
    pub fn new(hd: &'a Helpdesk) -> Result<Names<'a>, ApiError> {
        Ok(Names {
            departments: hd.departments()?.into_iter().map(|d| (d.id, d.name)).collect(),
            agents: hd.agents()?.into_iter().map(|a| (a.id, a.name)).collect(),
            teams: hd.teams()?.into_iter().map(|t| (t.id, t.name)).collect(),
            users: HashMap::new(),
            orgs: HashMap::new(),
            hd,
        })
    }
    /// A department's name.
    pub fn department(&self, id: DepartmentId) -> String {
        self.departments.get(&id).cloned().unwrap_or_else(|| id.to_string())
    }
    /// An agent's name.
    pub fn agent(&self, id: AgentId) -> String {
        self.agents.get(&id).cloned().unwrap_or_else(|| id.to_string())
    }
    /// A team's name.
    pub fn team(&self, id: TeamId) -> String {
        self.teams.get(&id).cloned().unwrap_or_else(|| id.to_string())
    }
    /// A user.
    pub fn user(&mut self, id: UserId) -> Option<User> {
        let hd = self.hd;
        self.users.entry(id).or_insert_with(|| hd.user(id).ok()).clone()
    }
    /// A user's name.
    pub fn user_name(&mut self, id: UserId) -> String {
        self.user(id).map(|u| u.name).unwrap_or_else(|| id.to_string())
    }
    /// An organisation's name.
    pub fn organisation(&mut self, id: OrganisationId) -> String {
        let hd = self.hd;
        self.orgs.entry(id).or_insert_with(|| hd.organisation(id).map(|o| o.name).unwrap_or_default()).clone()
    }
    /// Who did something, by name.
    pub fn actor(&mut self, a: &Actor) -> String {
        match a {
            Actor::User(u) => self.user_name(*u),
            Actor::Agent(a) => self.agent(*a),
            Actor::System(SystemActor::Helpdesk) => "Helpdesk".into(),
            Actor::System(SystemActor::Trigger(n)) => format!("Trigger “{n}”"),
            Actor::System(SystemActor::Escalation(n)) => format!("Escalation “{n}”"),
            Actor::System(SystemActor::Sla(n)) => format!("SLA “{n}”"),
            Actor::System(SystemActor::EmailAccount(n)) => format!("Mail to {n}"),
            Actor::System(SystemActor::ApiKey(n)) => format!("API key “{n}”"),
        }
    }
    /// Who a ticket is with: the agent, else the team (`Unassigned` when neither).
    pub fn assignee(&self, agent: Option<AgentId>, team: Option<TeamId>) -> (String, bool) {
        match (agent, team) {
            (Some(a), _) => (self.agent(a), true),
            (None, Some(t)) => (self.team(t), true),
            (None, None) => ("Unassigned".into(), false),
        }
    }
}

/// The urgency badge (colour rises from grey at 1 to red at 10).
pub fn urgency_badge(u: Urgency) -> Markup {
    html! { span.urgency.(format!("u{}", u.get())) title=(format!("Urgency {} of 10", u.get())) { (u.get()) } }
}

/// A status in words.
pub fn status_name(s: Status) -> &'static str {
    match s {
        Status::AwaitingAgent => "Awaiting agent",
        Status::AwaitingUser => "Awaiting user",
        Status::Pending => "Pending",
        Status::Resolved => "Resolved",
        Status::Spam => "Spam",
        Status::Validating => "Awaiting validation",
        Status::Deleted => "Deleted",
    }
}

/// The status badge.
pub fn status_badge(s: Status) -> Markup {
    html! { span.status.(s.as_str()) { (status_name(s)) } }
}

/// The most pressing unmet SLA of a ticket: its state and when it is due.
pub fn sla_due(t: &Ticket) -> Option<&helpdesk_core::sla::SlaStatus> {
    t.sla.values().filter(|s| s.met_at.is_none()).max_by_key(|s| (s.state, std::cmp::Reverse(s.due)))
}

/// The SLA chip: `SLA due in 1h12m` (amber when warning), `SLA overdue 2h` (red when failed).
pub fn sla_chip(ctx: &Ctx, s: &helpdesk_core::sla::SlaStatus) -> Markup {
    use helpdesk_core::sla::SlaState;
    let text = match s.due {
        _ if s.met_at.is_some() => "met".into(),
        Some(d) if d > ctx.now => format!("SLA due in {}", time::span((d - ctx.now).num_seconds())),
        Some(d) => format!("SLA overdue {}", time::span((ctx.now - d).num_seconds())),
        None if s.state == SlaState::Failed => "SLA failed".into(),
        None => "SLA paused".into(),
    };
    html! {
        span.sla.(s.state.as_str()) title=[s.due.map(|d| ctx.tz.absolute(d))] { (icon("clock")) (text) }
    }
}

fn row(ctx: &Ctx, names: &mut Names, hd: &Helpdesk, t: &TicketSummary, open: &[u64]) -> Markup {
    let user = names.user(t.user);
    let org = user.as_ref().and_then(|u| u.organisation).map(|o| names.organisation(o));
    let (assignee, assigned) = names.assignee(t.agent, t.team);
    let full = hd.ticket(t.id).ok();
    let is_open = open.contains(&t.id.0);
    html! {
        li {
            a.row id=(format!("row-{}", t.id.0)) href=(format!("/agent/tickets/{}", t.id.0))
                hx-target="#content" hx-swap="outerHTML" data-ticket=(t.id.0) .open[is_open] {
                (urgency_badge(t.urgency))
                span.main {
                    span.subject { (t.subject) }
                    span.meta {
                        span.who { (user.as_ref().map(|u| u.name.as_str()).unwrap_or("?")) @if let Some(o) = &org { @if !o.is_empty() { " · " (o) } } }
                        " · " span.dept { (names.department(t.department)) }
                        " · " span.assignee.none[!assigned] { (assignee) }
                    }
                }
                span.side {
                    span.id { "#" (t.id.0) }
                    (ctx.tz.time(ctx.now, t.updated_at))
                    @if let Some(sla) = full.as_ref().and_then(sla_due) { (sla_chip(ctx, sla)) }
                }
            }
        }
    }
}

/// The list pane for `q`.
pub fn list_pane(app: &App, ctx: &Ctx, q: &ListQuery) -> Result<Markup, ApiError> {
    let hd = app.helpdesk();
    let saved = match q.custom {
        Some(id) => Some(hd.saved_filters(ctx.agent.id).get(id)?),
        None => None,
    };
    let page = q.page(hd, &ctx.agent, super::PAGE_SIZE)?;
    let total = match &saved {
        Some(f) => count_text(&hd.saved_filters(ctx.agent.id).count(f.id)?),
        None => hd.filter_count(ctx.agent.id, &q.filter)?.count.to_string(),
    };
    let state = WorkspaceState::load(hd, ctx.agent.id)?;
    let mut names = Names::new(hd)?;
    let self_url = q.url(q.cursor.as_deref());
    let title = q.title(hd, &ctx.agent);
    Ok(html! {
        section #list-pane .list-pane aria-labelledby="list-title" data-view="list"
            hx-get=(self_url) hx-trigger="sse:ticket" hx-target="this" hx-swap="outerHTML" {
            div.pane-head {
                a.back.phone-only href="/agent/filters" hx-target="#list-pane" hx-swap="outerHTML" { (icon("chevron-left")) "Filters" }
                h2 #list-title { (title) " " span.count.total { (total) } }
                @if let Some(f) = &saved {
                    div.filter-tools {
                        span.muted { (match f.filter.sort { SortOrder::Urgency => "By urgency", SortOrder::Oldest => "Oldest first", SortOrder::Newest => "Newest first" }) }
                        @if f.editable_by(&ctx.agent) {
                            a.btn.small href=(format!("/agent/custom-filters/{}/edit", f.id.0)) hx-target="#content" hx-swap="outerHTML" { "Edit" }
                            a.btn.small href=(format!("/agent/custom-filters/{}/delete", f.id.0)) hx-target="#content" hx-swap="outerHTML" { "Delete" }
                        }
                    }
                } @else {
                form.sort method="get" action=(format!("/agent/filters/{}", filters::slug(q.filter)))
                    hx-get=(format!("/agent/filters/{}", filters::slug(q.filter))) hx-trigger="change" hx-target="#list-pane" hx-swap="outerHTML" hx-push-url="true" {
                    label for="sort" { "Sort" }
                    select #sort name="sort" {
                        @for s in [SortOrder::Urgency, SortOrder::Oldest, SortOrder::Newest] {
                            option value=(sort_slug(s)) selected[s == q.sort] {
                                (match s { SortOrder::Urgency => "Urgency", SortOrder::Oldest => "Oldest first", SortOrder::Newest => "Newest first" })
                            }
                        }
                    }
                    noscript { button.btn.small type="submit" { "Sort" } }
                }
                }
            }
            @if page.tickets.is_empty() {
                div.empty {
                    p { "No tickets here." }
                    p.muted { (if saved.is_some() { "No ticket meets this filter now." } else { empty_hint(q.filter) }) }
                }
            } @else {
                ol #ticket-list .rows aria-label=(format!("{title}: tickets")) {
                    @for t in &page.tickets { (row(ctx, &mut names, hd, t, &state.tabs)) }
                }
            }
            @if q.cursor.is_some() || page.next.is_some() {
                nav.pager aria-label="Pages" {
                    @if q.cursor.is_some() { a href=(q.url(None)) hx-target="#list-pane" hx-swap="outerHTML" { "First page" } }
                    @if let Some(next) = &page.next {
                        a href=(q.url(Some(&next.token()))) hx-target="#list-pane" hx-swap="outerHTML" { "Next page" }
                    }
                }
            }
        }
    })
}

fn empty_hint(f: BuiltIn) -> &'static str {
    match f {
        BuiltIn::MyTickets => "Nothing is waiting for you. Pick one from Unassigned or All Tickets.",
        BuiltIn::Following => "Follow a ticket (in its properties) to see it here.",
        BuiltIn::MyTeams => "Your teams have nothing waiting.",
        BuiltIn::Unassigned => "Every waiting ticket has an agent or a team.",
        BuiltIn::All => "Nothing is waiting for an agent. Well done.",
        _ => "Tickets with this status appear here.",
    }
}

#[derive(Debug, Deserialize)]
struct ListParams {
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

fn filter_page(app: &App, ctx: &Ctx, slug: Option<&str>, p: ListParams) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let mut state = WorkspaceState::load(hd, ctx.agent.id)?;
    let q = match slug {
        Some(s) => {
            let filter =
                filters::parse(s).ok_or_else(|| ApiError::not_found(format!("There is no filter “{s}”.")))?;
            let q = ListQuery { filter, custom: None, sort: parse_sort(p.sort.as_deref()), cursor: p.cursor };
            let (f, s) = (Some(filters::slug(filter).to_string()), Some(sort_slug(q.sort).to_string()));
            if state.filter != f || state.sort != s {
                state.filter = f;
                state.sort = s;
                state.save(hd, ctx.agent.id)?;
            }
            q
        }
        None => ListQuery::from_state(&state),
    };
    let focus = if slug.is_some() { Focus::List } else { Focus::Filters };
    if ctx.hx.targets("list-pane") {
        let pane = list_pane(app, ctx, &q)?;
        let filters = filter_pane::filter_pane(app, ctx, &q, true)?;
        return Ok(html(StatusCode::OK, html! { (pane) (filters) }));
    }
    let list = list_pane(app, ctx, &q)?;
    Ok(html(StatusCode::OK, workspace(app, ctx, &state, focus, Some(list), None)?))
}

/// `GET /agent/custom-filters/{id}`: a saved filter's list (remembered like a built-in's).
pub fn custom_page(
    app: &App,
    ctx: &Ctx,
    id: SavedFilterId,
    cursor: Option<String>,
) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    hd.saved_filters(ctx.agent.id)
        .get(id)
        .map_err(|_| ApiError::not_found(format!("There is no custom filter {} you can see.", id.0)))?;
    let mut state = WorkspaceState::load(hd, ctx.agent.id)?;
    let q = ListQuery { filter: BuiltIn::MyTickets, custom: Some(id), sort: SortOrder::Urgency, cursor };
    if state.filter.as_deref() != Some(q.slug().as_str()) {
        state.filter = Some(q.slug());
        state.save(hd, ctx.agent.id)?;
    }
    if ctx.hx.targets("list-pane") {
        let pane = list_pane(app, ctx, &q)?;
        let filters = filter_pane::filter_pane(app, ctx, &q, true)?;
        return Ok(html(StatusCode::OK, html! { (pane) (filters) }));
    }
    let list = list_pane(app, ctx, &q)?;
    Ok(html(StatusCode::OK, workspace(app, ctx, &state, Focus::List, Some(list), None)?))
}

/// `GET /agent/filters` and `GET /agent/filters/{slug}`.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let a = || auth(app.clone());
    let one = path!("agent" / "filters" / String)
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(a())
        .and(warp::query::<ListParams>())
        .and_then(|slug: String, app: App, auth: Auth, p: ListParams| async move {
            let ctx = agent_or_login!(auth);
            run(app, ctx, move |app, ctx| filter_page(app, ctx, Some(&slug), p)).await
        });
    let all = path!("agent" / "filters")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(a())
        .and(warp::query::<ListParams>())
        .and_then(|app: App, auth: Auth, p: ListParams| async move {
            let ctx = agent_or_login!(auth);
            run(app, ctx, move |app, ctx| filter_page(app, ctx, None, p)).await
        });
    let _: Option<Infallible> = None;
    one.or(all).unify().boxed()
}
