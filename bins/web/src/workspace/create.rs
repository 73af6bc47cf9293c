//! The Create form (`/agent/tickets/new`): a ticket on behalf of a user,
//! found by email (a new address makes a new user with the name given), with
//! subject, first message, department (only those the agent may use),
//! urgency, status on create and the department's custom fields. A refused
//! form comes back with everything typed and the error next to its field;
//! a created ticket opens as a tab.

use super::list::status_name;
use super::ticket::content_page;
use super::{
    agent_or_login, auth, error_id, field_error, html, redirect, run, Auth, Ctx, Errors, WorkspaceState,
};
use crate::agent::find_or_create_user;
use crate::error::ApiError;
use crate::files::{file_input, submitted, Plain, Submitted};
use crate::{with_app, App};
use helpdesk_core::*;
use helpdesk_store::files::NewFile;
use helpdesk_store::Error as HdError;
use maud::{html, Markup};
use std::collections::BTreeMap;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

/// The statuses a ticket may start in.
const START: [Status; 4] = [Status::AwaitingUser, Status::AwaitingAgent, Status::Pending, Status::Resolved];

/// What the agent typed (form or query pairs, kept on refusal).
#[derive(Debug, Clone, Default)]
pub struct CreateForm {
    csrf: Option<String>,
    op: Option<String>,
    email: String,
    name: String,
    subject: String,
    body: String,
    department: String,
    urgency: String,
    status: String,
    fields: BTreeMap<String, String>,
}

impl CreateForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> CreateForm {
        let mut f = CreateForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => f.csrf = Some(v),
                "op" => f.op = Some(v),
                "email" => f.email = v,
                "name" => f.name = v,
                "subject" => f.subject = v,
                "body" => f.body = v,
                "department" => f.department = v,
                "urgency" => f.urgency = v,
                "status" => f.status = v,
                other => {
                    if let Some(key) = other.strip_prefix("field.") {
                        f.fields.insert(key.to_string(), v);
                    }
                }
            }
        }
        f
    }
}

fn departments(app: &App, ctx: &Ctx) -> Result<Vec<Department>, ApiError> {
    Ok(app.helpdesk().departments()?.into_iter().filter(|d| ctx.agent.permissions.can_see(d.id)).collect())
}

fn chosen<'a>(deps: &'a [Department], f: &CreateForm) -> Option<&'a Department> {
    let id = f.department.parse::<u64>().ok();
    deps.iter().find(|d| Some(d.id.0) == id).or(deps.first())
}

fn field_input(def: &FieldDef, value: &str, errors: &Errors) -> Markup {
    let id = format!("create-field-{}", def.key);
    let name = format!("field.{}", def.key);
    let ekey = format!("field.{}", def.key);
    let desc = error_id(errors, &ekey);
    html! {
        div.form-row {
            label for=(id) { (def.label) @if def.required { " " span.req aria-hidden="true" { "*" } } }
            @match &def.kind {
                FieldKind::Text => input id=(id) name=(name) type="text" value=(value) required[def.required] aria-describedby=[desc];,
                FieldKind::Number => input id=(id) name=(name) type="number" step="any" value=(value) required[def.required] aria-describedby=[desc];,
                FieldKind::Date => input id=(id) name=(name) type="date" value=(value) required[def.required] aria-describedby=[desc];,
                FieldKind::Choice { options } => select id=(id) name=(name) required[def.required] aria-describedby=[desc] {
                    option value="" { "—" }
                    @for o in options { option value=(o) selected[value == o] { (o) } }
                },
            }
            (field_error(errors, &ekey))
        }
    }
}

/// The form in the content pane.
fn form(app: &App, ctx: &Ctx, f: &CreateForm, errors: &Errors) -> Result<Markup, ApiError> {
    let deps = departments(app, ctx)?;
    let dep = chosen(&deps, f);
    let status = if f.status.is_empty() { "awaiting_user" } else { f.status.as_str() };
    Ok(html! {
        article.create-ticket aria-labelledby="create-title" {
            header.ticket-head { h1 #create-title { "New ticket" } p.muted { "On behalf of a user: they get the first message by email." } }
            @if let Some(e) = errors.get("top") { div.notice.error role="alert" { (e) } }
            form #create-form .form method="post" action="/agent/tickets/new" enctype="multipart/form-data"
                hx-post="/agent/tickets/new" hx-encoding="multipart/form-data" hx-target="#content" hx-swap="outerHTML" {
                input type="hidden" name="csrf" value=(ctx.csrf);
                fieldset {
                    legend { "User" }
                    div.form-row {
                        label for="create-email" { "Email" }
                        input #create-email name="email" type="email" value=(f.email) required autocomplete="off"
                            hx-get="/agent/tickets/new/user" hx-trigger="input changed delay:300ms" hx-target="#create-user-hint" hx-swap="innerHTML"
                            aria-describedby=(error_id(errors, "email").unwrap_or_else(|| "create-user-hint".into()));
                        (field_error(errors, "email"))
                        p #create-user-hint .hint aria-live="polite" { (user_hint(app, ctx, &f.email)) }
                    }
                    div.form-row {
                        label for="create-name" { "Name " span.muted { "(for a new user)" } }
                        input #create-name name="name" type="text" value=(f.name) autocomplete="off";
                    }
                }
                div.form-row {
                    label for="create-subject" { "Subject" }
                    input #create-subject name="subject" type="text" value=(f.subject) required aria-describedby=[error_id(errors, "subject")];
                    (field_error(errors, "subject"))
                }
                div.form-row {
                    label for="create-body" { "First message" }
                    textarea #create-body name="body" rows="6" required aria-describedby=[error_id(errors, "body")] { (f.body) }
                    (field_error(errors, "body"))
                }
                div.form-row {
                    (file_input("create-files", &ctx.file_limits))
                    (field_error(errors, "files"))
                }
                div.form-grid {
                    div.form-row {
                        label for="create-department" { "Department" }
                        select #create-department name="department" aria-describedby=[error_id(errors, "department")]
                            hx-post="/agent/tickets/new" hx-vals=r#"{"op":"refresh"}"# hx-trigger="change" hx-target="#content" hx-swap="outerHTML" {
                            @for d in &deps { option value=(d.id.0) selected[dep.map(|x| x.id) == Some(d.id)] { (d.name) } }
                        }
                        noscript { button.btn.small type="submit" name="op" value="refresh" { "Show its fields" } }
                        (field_error(errors, "department"))
                    }
                    div.form-row {
                        label for="create-urgency" { "Urgency" }
                        select #create-urgency name="urgency" aria-describedby=[error_id(errors, "urgency")] {
                            option value="" selected[f.urgency.is_empty()] { "Default" }
                            @for u in (1..=10).rev() { option value=(u) selected[f.urgency == u.to_string()] { (u) } }
                        }
                        (field_error(errors, "urgency"))
                    }
                    div.form-row {
                        label for="create-status" { "Status on create" }
                        select #create-status name="status" aria-describedby=[error_id(errors, "status")] {
                            @for s in START { option value=(s.as_str()) selected[status == s.as_str()] { (status_name(s)) } }
                        }
                        (field_error(errors, "status"))
                    }
                }
                @if let Some(d) = dep {
                    @if d.live_fields().next().is_some() {
                        fieldset #create-fields {
                            legend { "Fields of " (d.name) }
                            @for def in d.live_fields() {
                                (field_input(def, f.fields.get(&def.key).map(String::as_str).unwrap_or(""), errors))
                            }
                        }
                    }
                }
                div.form-actions {
                    button #create-submit .btn.primary type="submit" name="op" value="create" { "Create ticket" }
                    a.btn href="/agent" { "Cancel" }
                }
            }
        }
    })
}

/// Who the address belongs to: an existing user's name (when the agent may
/// see them), or that one is made.
fn user_hint(app: &App, ctx: &Ctx, email: &str) -> String {
    let email = email.trim();
    if email.is_empty() {
        return "Type the user's address: an existing user is found, a new one is made.".into();
    }
    match app.helpdesk().user_by_email(email) {
        Ok(Some(u)) => match app.helpdesk().may_see_user(&ctx.agent, &u) {
            Ok(true) => format!("Existing user: {}", u.name),
            _ => "An existing user: the ticket is theirs.".into(),
        },
        Ok(None) => "A new user: give their name below.".into(),
        Err(_) => "Not an email address yet.".into(),
    }
}

fn page(
    app: &App,
    ctx: &Ctx,
    f: &CreateForm,
    errors: &Errors,
    status: StatusCode,
) -> Result<Response, ApiError> {
    content_page(app, ctx, form(app, ctx, f, errors)?, status)
}

/// Where an error of the library shows on the form.
fn slot_of(e: &HdError) -> &'static str {
    match e {
        HdError::Ticket(t) => match t {
            TicketError::EmptySubject | TicketError::SubjectTooLong(_) => "subject",
            TicketError::EmptyBody | TicketError::BodyTooLong(_) => "body",
            TicketError::UrgencyOutOfRange(_) => "urgency",
            TicketError::InitialStatus(_) | TicketError::UnknownStatus(_) => "status",
            TicketError::UnknownDepartment(_) | TicketError::NoDepartmentAccess { .. } => "department",
            _ => "top",
        },
        HdError::Directory(_) => "email",
        _ => "top",
    }
}

fn field_key(e: &HdError) -> Option<String> {
    match e {
        HdError::Ticket(
            TicketError::UnknownField { key, .. }
            | TicketError::FieldType { key, .. }
            | TicketError::FieldValue { key, .. }
            | TicketError::MissingField(key),
        ) => Some(format!("field.{key}")),
        _ => None,
    }
}

/// Checks the form and creates the ticket; errors by field.
fn create(app: &App, ctx: &Ctx, f: &CreateForm, files: Vec<NewFile>) -> Result<Ticket, Errors> {
    let mut errors = Errors::new();
    let one = |k: &str, m: String| Errors::from([(k.to_string(), m)]);
    let deps = departments(app, ctx).map_err(|e| one("top", e.message))?;
    let dep = match f.department.parse::<u64>().ok().and_then(|id| deps.iter().find(|d| d.id.0 == id)) {
        Some(d) => d,
        None => return Err(one("department", "Choose a department you work in.".into())),
    };
    if f.email.trim().is_empty() {
        errors.insert("email".into(), "Give the user's email address.".into());
    }
    let urgency = match f.urgency.trim() {
        "" => None,
        u => match u.parse::<i64>().ok().and_then(|n| Urgency::new(n).ok()) {
            Some(u) => Some(u),
            None => {
                errors.insert("urgency".into(), "Urgency is 1 to 10.".into());
                None
            }
        },
    };
    let status = match f.status.parse::<Status>() {
        Ok(s) if START.contains(&s) => Some(s),
        _ => {
            errors.insert("status".into(), "Choose a status a ticket may start in.".into());
            None
        }
    };
    let mut fields = BTreeMap::new();
    for def in dep.live_fields() {
        let v = f.fields.get(&def.key).map(|v| v.trim()).unwrap_or("");
        if v.is_empty() {
            continue;
        }
        let key = format!("field.{}", def.key);
        let parsed = match &def.kind {
            FieldKind::Text => Ok(FieldValue::Text(v.to_string())),
            FieldKind::Choice { .. } => Ok(FieldValue::Choice(v.to_string())),
            FieldKind::Number => v.parse::<f64>().map(FieldValue::Number).map_err(|_| "Give a number."),
            FieldKind::Date => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(FieldValue::Date)
                .map_err(|_| "Give a date (YYYY-MM-DD)."),
        };
        match parsed {
            // The library's own check, before anything is made (a new user included).
            Ok(p) => match def.check(&p) {
                Ok(()) => {
                    fields.insert(def.key.clone(), p);
                }
                Err(e) => {
                    errors.insert(key, capitalise(&e.to_string()));
                }
            },
            Err(m) => {
                errors.insert(key, m.into());
            }
        }
    }
    for def in dep.live_fields().filter(|d| d.required && !fields.contains_key(&d.key)) {
        errors.entry(format!("field.{}", def.key)).or_insert_with(|| format!("{} is required.", def.label));
    }
    if f.subject.trim().is_empty() {
        errors.insert("subject".into(), capitalise(&TicketError::EmptySubject.to_string()));
    }
    if f.body.trim().is_empty() {
        errors.insert("body".into(), capitalise(&TicketError::EmptyBody.to_string()));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let hd = app.helpdesk();
    // The files are kept before anyone is made: too large, nothing happens.
    let attachments =
        hd.store_files(files).map_err(|e| one("files", capitalise(&ApiError::from(e).message)))?;
    let name = (!f.name.trim().is_empty()).then_some(f.name.as_str());
    let user = find_or_create_user(hd, f.email.trim(), name).map_err(|e| one("email", e.message))?;
    let mut new = NewTicket::new(f.subject.clone(), f.body.clone(), dep.id, user.id, Channel::Agent);
    new.fields = fields;
    new.urgency = urgency;
    new.status = status;
    new.attachments = attachments;
    match hd.create_ticket(&Actor::Agent(ctx.agent.id), new) {
        Ok(t) => {
            if let Ok(log) = hd.log(t.id) {
                app.publish(0, &t, &log);
            }
            Ok(t)
        }
        Err(e) => {
            let key = field_key(&e).unwrap_or_else(|| slot_of(&e).to_string());
            Err(one(&key, capitalise(&ApiError::from(e).message)))
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

fn submit(app: &App, ctx: &Ctx, f: CreateForm, files: Vec<NewFile>) -> Result<Response, ApiError> {
    if f.op.as_deref() == Some("refresh") {
        return page(app, ctx, &f, &Errors::new(), StatusCode::OK);
    }
    match create(app, ctx, &f, files) {
        Ok(t) => {
            let hd = app.helpdesk();
            let mut state = WorkspaceState::load(hd, ctx.agent.id)?;
            if state.open_tab(t.id.0) {
                state.save(hd, ctx.agent.id)?;
            }
            Ok(redirect(&ctx.hx, &format!("/agent/tickets/{}", t.id.0)))
        }
        Err(errors) => page(app, ctx, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY),
    }
}

/// `GET /agent/tickets/new` (query values pre-fill it), `POST /agent/tickets/new`,
/// `GET /agent/tickets/new/user?email=` (the user hint).
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let a = || auth(app.clone());
    let get = path!("agent" / "tickets" / "new")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(a())
        .and(warp::query::<Vec<(String, String)>>())
        .and_then(|app: App, auth: Auth, q: Vec<(String, String)>| async move {
            let ctx = agent_or_login!(auth);
            let mut f = CreateForm::from_pairs(q);
            f.csrf = None;
            run(app, ctx, move |app, ctx| page(app, ctx, &f, &Errors::new(), StatusCode::OK)).await
        })
        .boxed();
    let hint = path!("agent" / "tickets" / "new" / "user")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(a())
        .and(warp::query::<Vec<(String, String)>>())
        .and_then(|app: App, auth: Auth, q: Vec<(String, String)>| async move {
            let ctx = agent_or_login!(auth);
            let email = q.into_iter().find(|(k, _)| k == "email").map(|(_, v)| v).unwrap_or_default();
            run(app, ctx, move |app, ctx| Ok(html(StatusCode::OK, html! { (user_hint(app, ctx, &email)) })))
                .await
        })
        .boxed();
    let post = path!("agent" / "tickets" / "new")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(a())
        .and(warp::header::optional::<String>("x-csrf-token"))
        .and(submitted::<Vec<(String, String)>>(app.clone(), Plain::Form))
        .and_then(|app: App, auth: Auth, header: Option<String>, sent: Submitted<Vec<(String, String)>>| async move {
            let ctx = agent_or_login!(auth);
            let (pairs, files) = match sent {
                Ok(x) => x,
                // Refused before it was read (too large): the form again, saying why.
                Err(e) => {
                    let errors = Errors::from([("top".to_string(), e.message.clone())]);
                    let f = CreateForm::from_pairs(Vec::new());
                    return run(app, ctx, move |app, ctx| page(app, ctx, &f, &errors, e.status)).await;
                }
            };
            let f = CreateForm::from_pairs(pairs);
            if !ctx.csrf_ok(header.as_deref(), f.csrf.as_deref()) {
                return Ok(html(
                    StatusCode::FORBIDDEN,
                    super::layout::notice_pane("This form expired: reload the page and try again."),
                ));
            }
            run(app, ctx, move |app, ctx| submit(app, ctx, f, files)).await
        })
        .boxed();
    get.or(hint).unify().or(post).unify().boxed()
}
