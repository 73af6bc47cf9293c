//! Custom filters in the workspace: the form over
//! [`Criteria`](helpdesk_core::filter::Criteria) (status, department, agent
//! with "me"/"none", team with "mine"/"none", urgency range, labels
//! all/any/none, created range in the agent's time zone), its order and its
//! sharing, saved through [`Helpdesk::saved_filters`](helpdesk_store::Helpdesk::saved_filters);
//! the list of a saved filter (`/agent/custom-filters/{id}`); delete after
//! a confirmation. The criteria left out of the form (followers, users,
//! organisations, custom fields, reply times) are kept as they are when a
//! filter made over the API is edited here.

use super::list::{custom_page, status_name};
use super::ticket::content_page;
use super::{
    agent_or_login, auth, error_id, field_error, html, redirect, run, Auth, Ctx, Errors, WorkspaceState,
    MAX_FORM,
};
use crate::error::ApiError;
use crate::{with_app, App};
use helpdesk_core::command::normalize_label;
use helpdesk_core::filter::{AgentRef, Criteria, CustomFilter, SortOrder, TeamRef, TimeRange, UrgencyRange};
use helpdesk_core::filters::saved::{NewSavedFilter, SavedFilterError, Sharing};
use helpdesk_core::*;
use helpdesk_store::Error as HdError;
use maud::{html, Markup};
use serde::Deserialize;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

/// The form as typed (kept when refused).
#[derive(Debug, Clone, Default)]
struct FilterForm {
    csrf: Option<String>,
    name: String,
    status: Vec<String>,
    department: Vec<String>,
    agent: Vec<String>,
    team: Vec<String>,
    urgency_min: String,
    urgency_max: String,
    labels_all: String,
    labels_any: String,
    labels_none: String,
    created_from: String,
    created_to: String,
    sort: String,
    sharing: String,
}

impl FilterForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> FilterForm {
        let mut f = FilterForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => f.csrf = Some(v),
                "name" => f.name = v,
                "status" => f.status.push(v),
                "department" => f.department.push(v),
                "agent" => f.agent.push(v),
                "team" => f.team.push(v),
                "urgency_min" => f.urgency_min = v,
                "urgency_max" => f.urgency_max = v,
                "labels_all" => f.labels_all = v,
                "labels_any" => f.labels_any = v,
                "labels_none" => f.labels_none = v,
                "created_from" => f.created_from = v,
                "created_to" => f.created_to = v,
                "sort" => f.sort = v,
                "sharing" => f.sharing = v,
                _ => {}
            }
        }
        f
    }

    /// The form showing a saved filter.
    fn of(ctx: &Ctx, filter: &CustomFilter, sharing: Sharing) -> FilterForm {
        let c = &filter.criteria;
        let date = |t: Option<chrono::DateTime<chrono::Utc>>, back: bool| {
            t.map(|t| {
                let t = if back { t - chrono::Duration::days(1) } else { t };
                t.with_timezone(&ctx.tz.0).format("%Y-%m-%d").to_string()
            })
            .unwrap_or_default()
        };
        FilterForm {
            csrf: None,
            name: filter.name.clone(),
            status: c.status.iter().map(|s| s.as_str().to_string()).collect(),
            department: c.department.iter().map(|d| d.0.to_string()).collect(),
            agent: c
                .agent
                .iter()
                .map(|a| match a {
                    AgentRef::Me => "me".into(),
                    AgentRef::None => "none".into(),
                    AgentRef::Id(id) => id.0.to_string(),
                })
                .collect(),
            team: c
                .team
                .iter()
                .map(|t| match t {
                    TeamRef::Mine => "mine".into(),
                    TeamRef::None => "none".into(),
                    TeamRef::Id(id) => id.0.to_string(),
                })
                .collect(),
            urgency_min: c.urgency.map(|u| u.min.to_string()).unwrap_or_default(),
            urgency_max: c.urgency.map(|u| u.max.to_string()).unwrap_or_default(),
            labels_all: c.labels.all.join(", "),
            labels_any: c.labels.any.join(", "),
            labels_none: c.labels.none.join(", "),
            created_from: date(c.created.and_then(|r| r.from), false),
            created_to: date(c.created.and_then(|r| r.to), true),
            sort: super::list::sort_slug(filter.sort).into(),
            sharing: match sharing {
                Sharing::Private => "private".into(),
                Sharing::Everyone => "everyone".into(),
                Sharing::Team(t) => format!("team:{}", t.0),
            },
        }
    }
}

/// Checkboxes in a fieldset.
fn checks(
    name: &str,
    legend: &str,
    errors: &Errors,
    chosen: &[String],
    options: &[(String, String)],
) -> Markup {
    html! {
        fieldset.checks aria-describedby=[error_id(errors, name)] {
            legend { (legend) " " span.muted { "(none ticked: any)" } }
            @for (i, (v, label)) in options.iter().enumerate() {
                label for=(format!("cf-{name}-{i}")) {
                    input id=(format!("cf-{name}-{i}")) type="checkbox" name=(name) value=(v) checked[chosen.contains(v)];
                    " " (label)
                }
            }
            (field_error(errors, name))
        }
    }
}

fn form(
    app: &App,
    ctx: &Ctx,
    id: Option<SavedFilterId>,
    f: &FilterForm,
    errors: &Errors,
) -> Result<Markup, ApiError> {
    let hd = app.helpdesk();
    let statuses: Vec<(String, String)> =
        Status::ALL.iter().map(|s| (s.as_str().to_string(), status_name(*s).to_string())).collect();
    let deps: Vec<(String, String)> = hd
        .departments()?
        .into_iter()
        .filter(|d| ctx.agent.permissions.can_see(d.id))
        .map(|d| (d.id.0.to_string(), d.name))
        .collect();
    let mut agents = vec![("me".to_string(), "Me".to_string()), ("none".into(), "Nobody".into())];
    agents.extend(
        hd.agents()?
            .into_iter()
            .filter(|a| !a.disabled && a.id != ctx.agent.id)
            .map(|a| (a.id.0.to_string(), a.name)),
    );
    let all_teams = hd.teams()?;
    let mut teams = vec![("mine".to_string(), "My teams".to_string()), ("none".into(), "No team".into())];
    teams.extend(all_teams.iter().map(|t| (t.id.0.to_string(), t.name.clone())));
    let my_teams: Vec<&Team> =
        all_teams.iter().filter(|t| ctx.agent.teams.contains(&t.id) || ctx.agent.permissions.admin).collect();
    let sharing = if f.sharing.is_empty() { "private" } else { f.sharing.as_str() };
    let sort = if f.sort.is_empty() { "urgency" } else { f.sort.as_str() };
    let action = match id {
        Some(id) => format!("/agent/custom-filters/{}/edit", id.0),
        None => "/agent/custom-filters/new".into(),
    };
    let urgency = |name: &str, label: &str, v: &str| {
        html! {
            div.form-row {
                label for=(format!("cf-{name}")) { (label) }
                select id=(format!("cf-{name}")) name=(name) aria-describedby=[error_id(errors, "urgency")] {
                    option value="" selected[v.is_empty()] { "Any" }
                    @for u in 1..=10 { option value=(u) selected[v == u.to_string()] { (u) } }
                }
            }
        }
    };
    let text = |name: &str, label: &str, v: &str, kind: &str| {
        html! {
            div.form-row {
                label for=(format!("cf-{name}")) { (label) }
                input id=(format!("cf-{name}")) name=(name) type=(kind) value=(v) autocomplete="off" aria-describedby=[error_id(errors, name)];
                (field_error(errors, name))
            }
        }
    };
    Ok(html! {
        article.filter-form aria-labelledby="cf-title" {
            header.ticket-head {
                h1 #cf-title { (if id.is_some() { "Edit filter" } else { "New filter" }) }
                p.muted { "Tickets that meet every condition given; an empty condition matches any ticket." }
            }
            @if let Some(e) = errors.get("top") { div.notice.error role="alert" { (e) } }
            form #cf-form .form method="post" action=(action) hx-post=(action) hx-target="#content" hx-swap="outerHTML" {
                input type="hidden" name="csrf" value=(ctx.csrf);
                (text("name", "Name", &f.name, "text"))
                (checks("status", "Status", errors, &f.status, &statuses))
                (checks("department", "Department", errors, &f.department, &deps))
                (checks("agent", "Agent", errors, &f.agent, &agents))
                (checks("team", "Team", errors, &f.team, &teams))
                fieldset.range aria-describedby=[error_id(errors, "urgency")] {
                    legend { "Urgency" }
                    div.form-grid { (urgency("urgency_min", "From", &f.urgency_min)) (urgency("urgency_max", "To", &f.urgency_max)) }
                    (field_error(errors, "urgency"))
                }
                fieldset {
                    legend { "Labels " span.muted { "(comma-separated)" } }
                    (text("labels_all", "Has all of", &f.labels_all, "text"))
                    (text("labels_any", "Has any of", &f.labels_any, "text"))
                    (text("labels_none", "Has none of", &f.labels_none, "text"))
                }
                fieldset {
                    legend { "Created " span.muted { "(" (ctx.tz.name()) ")" } }
                    div.form-grid {
                        (text("created_from", "On or after", &f.created_from, "date"))
                        (text("created_to", "On or before", &f.created_to, "date"))
                    }
                    (field_error(errors, "created"))
                }
                div.form-row {
                    label for="cf-sort" { "Order" }
                    select #cf-sort name="sort" {
                        option value="urgency" selected[sort == "urgency"] { "Urgency" }
                        option value="oldest" selected[sort == "oldest"] { "Oldest first" }
                        option value="newest" selected[sort == "newest"] { "Newest first" }
                    }
                }
                fieldset.checks aria-describedby=[error_id(errors, "sharing")] {
                    legend { "Who sees it" }
                    label for="cf-share-private" { input #cf-share-private type="radio" name="sharing" value="private" checked[sharing == "private"]; " Only me" }
                    @for t in &my_teams {
                        @let v = format!("team:{}", t.id.0);
                        label for=(format!("cf-share-{}", t.id.0)) {
                            input id=(format!("cf-share-{}", t.id.0)) type="radio" name="sharing" value=(v) checked[sharing == v];
                            " My team " (t.name)
                        }
                    }
                    @if ctx.agent.permissions.admin {
                        label for="cf-share-everyone" { input #cf-share-everyone type="radio" name="sharing" value="everyone" checked[sharing == "everyone"]; " Every agent" }
                    }
                    (field_error(errors, "sharing"))
                }
                div.form-actions {
                    button #cf-submit .btn.primary type="submit" { (if id.is_some() { "Save filter" } else { "Create filter" }) }
                    a.btn href=(match id { Some(id) => format!("/agent/custom-filters/{}", id.0), None => "/agent".into() }) { "Cancel" }
                }
            }
        }
    })
}

fn parse_ids<T>(vals: &[String], what: &str, errors: &mut Errors, f: impl Fn(u64) -> T) -> Vec<T> {
    let mut out = Vec::new();
    for v in vals {
        match v.parse::<u64>() {
            Ok(n) => out.push(f(n)),
            Err(_) => {
                errors.insert(what.into(), format!("Unknown {what} {v:?}."));
            }
        }
    }
    out
}

fn labels(v: &str, key: &str, errors: &mut Errors) -> Vec<String> {
    let mut out = Vec::new();
    for l in v.split(',').map(str::trim).filter(|l| !l.is_empty()) {
        match normalize_label(l) {
            Ok(l) => out.push(l),
            Err(e) => {
                errors.insert(key.into(), e.to_string());
            }
        }
    }
    out
}

/// The filter the form describes, keeping the criteria the form leaves out from `base`.
fn build(ctx: &Ctx, f: &FilterForm, base: Criteria) -> Result<NewSavedFilter, Errors> {
    let mut e = Errors::new();
    let mut c = base;
    c.status = Vec::new();
    for s in &f.status {
        match s.parse::<Status>() {
            Ok(s) => c.status.push(s),
            Err(_) => {
                e.insert("status".into(), format!("Unknown status {s:?}."));
            }
        }
    }
    c.department = parse_ids(&f.department, "department", &mut e, DepartmentId);
    c.agent = Vec::new();
    for a in &f.agent {
        match a.as_str() {
            "me" => c.agent.push(AgentRef::Me),
            "none" => c.agent.push(AgentRef::None),
            _ => c
                .agent
                .extend(parse_ids(std::slice::from_ref(a), "agent", &mut e, |n| AgentRef::Id(AgentId(n)))),
        }
    }
    c.team = Vec::new();
    for t in &f.team {
        match t.as_str() {
            "mine" => c.team.push(TeamRef::Mine),
            "none" => c.team.push(TeamRef::None),
            _ => {
                c.team.extend(parse_ids(std::slice::from_ref(t), "team", &mut e, |n| TeamRef::Id(TeamId(n))))
            }
        }
    }
    let bound = |v: &str| -> Result<Option<u8>, ()> {
        match v.trim() {
            "" => Ok(None),
            v => v.parse::<u8>().ok().filter(|n| (1..=10).contains(n)).map(Some).ok_or(()),
        }
    };
    c.urgency = match (bound(&f.urgency_min), bound(&f.urgency_max)) {
        (Ok(None), Ok(None)) => None,
        (Ok(min), Ok(max)) => {
            let (min, max) = (min.unwrap_or(1), max.unwrap_or(10));
            if min > max {
                e.insert(
                    "urgency".into(),
                    format!("The range {min} to {max} is empty: “From” must not be above “To”."),
                );
            }
            Some(UrgencyRange { min, max })
        }
        _ => {
            e.insert("urgency".into(), "Urgency is 1 to 10.".into());
            None
        }
    };
    c.labels.all = labels(&f.labels_all, "labels_all", &mut e);
    c.labels.any = labels(&f.labels_any, "labels_any", &mut e);
    c.labels.none = labels(&f.labels_none, "labels_none", &mut e);
    let day = |v: &str, key: &str, next: bool, e: &mut Errors| -> Option<chrono::DateTime<chrono::Utc>> {
        let v = v.trim();
        if v.is_empty() {
            return None;
        }
        match chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            Ok(d) => {
                let d = if next { d.succ_opt().unwrap_or(d) } else { d };
                let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
                use chrono::TimeZone as _;
                ctx.tz.0.from_local_datetime(&midnight).earliest().map(|t| t.with_timezone(&chrono::Utc))
            }
            Err(_) => {
                e.insert(key.into(), "Give a date (YYYY-MM-DD).".into());
                None
            }
        }
    };
    let from = day(&f.created_from, "created_from", false, &mut e);
    let to = day(&f.created_to, "created_to", true, &mut e);
    if let (Some(a), Some(b)) = (from, to) {
        if a >= b {
            e.insert("created".into(), "“On or after” must not be later than “On or before”.".into());
        }
    }
    c.created = (from.is_some() || to.is_some()).then_some(TimeRange { from, to });
    let sort = match f.sort.as_str() {
        "oldest" => SortOrder::Oldest,
        "newest" => SortOrder::Newest,
        _ => SortOrder::Urgency,
    };
    let sharing = match f.sharing.as_str() {
        "" | "private" => Sharing::Private,
        "everyone" => Sharing::Everyone,
        s => match s.strip_prefix("team:").and_then(|t| t.parse().ok()) {
            Some(t) => Sharing::Team(TeamId(t)),
            None => {
                e.insert("sharing".into(), format!("Unknown sharing {s:?}."));
                Sharing::Private
            }
        },
    };
    if !e.is_empty() {
        return Err(e);
    }
    Ok(NewSavedFilter { filter: CustomFilter { name: f.name.clone(), criteria: c, sort }, sharing })
}

/// Where a refusal of the library shows.
fn slot(e: &HdError) -> &'static str {
    match e {
        HdError::SavedFilter(s) => match s {
            SavedFilterError::EmptyName
            | SavedFilterError::NameTooLong(_)
            | SavedFilterError::NameTaken(_) => "name",
            SavedFilterError::ShareWithEveryone | SavedFilterError::NotInTeam(_) => "sharing",
            SavedFilterError::UnknownReference(r) if r.starts_with("department") => "department",
            SavedFilterError::UnknownReference(r) if r.starts_with("agent") => "agent",
            SavedFilterError::UnknownReference(r) if r.starts_with("team") => "team",
            _ => "top",
        },
        _ => "top",
    }
}

fn save(app: &App, ctx: &Ctx, id: Option<SavedFilterId>, f: FilterForm) -> Result<Response, ApiError> {
    let filters = app.helpdesk().saved_filters(ctx.agent.id);
    let base = match id {
        Some(id) => {
            let old = filters.get(id)?;
            if !old.editable_by(&ctx.agent) {
                return Err(ApiError::forbidden("Only its owner or an admin may change this filter."));
            }
            old.filter.criteria
        }
        None => Criteria::default(),
    };
    let refused = |errors: Errors| {
        content_page(app, ctx, form(app, ctx, id, &f, &errors)?, StatusCode::UNPROCESSABLE_ENTITY)
    };
    let new = match build(ctx, &f, base) {
        Ok(n) => n,
        Err(errors) => return refused(errors),
    };
    let saved = match id {
        Some(id) => filters.update(id, new),
        None => filters.create(new),
    };
    match saved {
        Ok(s) => Ok(redirect(&ctx.hx, &format!("/agent/custom-filters/{}", s.id.0))),
        Err(e) => {
            let key = slot(&e);
            let msg = ApiError::from(e).message;
            refused(Errors::from([(key.to_string(), capitalise(&msg))]))
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect::<String>() + ".",
        None => String::new(),
    }
}

fn edit_form(app: &App, ctx: &Ctx, id: SavedFilterId) -> Result<Response, ApiError> {
    let f = app.helpdesk().saved_filters(ctx.agent.id).get(id)?;
    if !f.editable_by(&ctx.agent) {
        return Err(ApiError::forbidden("Only its owner or an admin may change this filter."));
    }
    let form_data = FilterForm::of(ctx, &f.filter, f.sharing);
    content_page(app, ctx, form(app, ctx, Some(id), &form_data, &Errors::new())?, StatusCode::OK)
}

fn confirm_delete(app: &App, ctx: &Ctx, id: SavedFilterId) -> Result<Response, ApiError> {
    let f = app.helpdesk().saved_filters(ctx.agent.id).get(id)?;
    if !f.editable_by(&ctx.agent) {
        return Err(ApiError::forbidden("Only its owner or an admin may delete this filter."));
    }
    let action = format!("/agent/custom-filters/{}/delete", id.0);
    let body = html! {
        article.confirm aria-labelledby="cf-del-title" {
            header.ticket-head { h1 #cf-del-title { "Delete the filter “" (f.filter.name) "”?" } }
            p { "It goes for everyone it is shared with. Tickets are not changed." }
            form.form-actions method="post" action=(action) hx-post=(action) hx-target="#content" hx-swap="outerHTML" {
                input type="hidden" name="csrf" value=(ctx.csrf);
                button #cf-delete .btn.danger type="submit" { "Delete filter" }
                a.btn href=(format!("/agent/custom-filters/{}", id.0)) { "Keep it" }
            }
        }
    };
    content_page(app, ctx, body, StatusCode::OK)
}

fn delete(app: &App, ctx: &Ctx, id: SavedFilterId) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    hd.saved_filters(ctx.agent.id).delete(id)?;
    let mut state = WorkspaceState::load(hd, ctx.agent.id)?;
    if state.filter.as_deref() == Some(format!("custom-{}", id.0).as_str()) {
        state.filter = None;
        state.save(hd, ctx.agent.id)?;
    }
    Ok(redirect(&ctx.hx, "/agent"))
}

#[derive(Debug, Deserialize)]
struct CursorQuery {
    #[serde(default)]
    cursor: Option<String>,
}

fn refused_csrf() -> Response {
    html(
        StatusCode::FORBIDDEN,
        super::layout::notice_pane("This form expired: reload the page and try again."),
    )
}

/// `/agent/custom-filters/new`, `/agent/custom-filters/{id}`, `.../{id}/edit`, `.../{id}/delete`.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let a = || auth(app.clone());
    let body = || {
        warp::header::optional::<String>("x-csrf-token")
            .and(warp::body::content_length_limit(MAX_FORM))
            .and(warp::body::form::<Vec<(String, String)>>())
    };
    let new_get = path!("agent" / "custom-filters" / "new")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(a())
        .and_then(|app: App, auth: Auth| async move {
            let ctx = agent_or_login!(auth);
            run(app, ctx, |app, ctx| {
                content_page(
                    app,
                    ctx,
                    form(app, ctx, None, &FilterForm::default(), &Errors::new())?,
                    StatusCode::OK,
                )
            })
            .await
        })
        .boxed();
    let new_post = path!("agent" / "custom-filters" / "new")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(a())
        .and(body())
        .and_then(|app: App, auth: Auth, header: Option<String>, pairs: Vec<(String, String)>| async move {
            let ctx = agent_or_login!(auth);
            let f = FilterForm::from_pairs(pairs);
            if !ctx.csrf_ok(header.as_deref(), f.csrf.as_deref()) {
                return Ok(refused_csrf());
            }
            run(app, ctx, move |app, ctx| save(app, ctx, None, f)).await
        })
        .boxed();
    let list = path!("agent" / "custom-filters" / u64)
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(a())
        .and(warp::query::<CursorQuery>())
        .and_then(|id: u64, app: App, auth: Auth, q: CursorQuery| async move {
            let ctx = agent_or_login!(auth);
            run(app, ctx, move |app, ctx| custom_page(app, ctx, SavedFilterId(id), q.cursor)).await
        })
        .boxed();
    let get = |what: &'static str| {
        warp::path("agent")
            .and(warp::path("custom-filters"))
            .and(warp::path::param::<u64>())
            .and(warp::path(what))
            .and(warp::path::end())
            .and(warp::get())
            .and(with_app(app.clone()))
            .and(a())
            .and_then(move |id: u64, app: App, auth: Auth| async move {
                let ctx = agent_or_login!(auth);
                run(app, ctx, move |app, ctx| match what {
                    "edit" => edit_form(app, ctx, SavedFilterId(id)),
                    _ => confirm_delete(app, ctx, SavedFilterId(id)),
                })
                .await
            })
            .boxed()
    };
    let post = |what: &'static str| {
        warp::path("agent")
            .and(warp::path("custom-filters"))
            .and(warp::path::param::<u64>())
            .and(warp::path(what))
            .and(warp::path::end())
            .and(warp::post())
            .and(with_app(app.clone()))
            .and(a())
            .and(body())
            .and_then(
                move |id: u64, app: App, auth: Auth, header: Option<String>, pairs: Vec<(String, String)>| async move {
                    let ctx = agent_or_login!(auth);
                    let f = FilterForm::from_pairs(pairs);
                    if !ctx.csrf_ok(header.as_deref(), f.csrf.as_deref()) {
                        return Ok(refused_csrf());
                    }
                    run(app, ctx, move |app, ctx| match what {
                        "edit" => save(app, ctx, Some(SavedFilterId(id)), f),
                        _ => delete(app, ctx, SavedFilterId(id)),
                    })
                    .await
                },
            )
            .boxed()
    };
    new_get
        .or(new_post)
        .unify()
        .or(list)
        .unify()
        .or(get("edit"))
        .unify()
        .or(get("delete"))
        .unify()
        .or(post("edit"))
        .unify()
        .or(post("delete"))
        .unify()
        .boxed()
}
