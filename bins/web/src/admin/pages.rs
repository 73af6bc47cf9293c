//! The Admin app's screens, in the agent interface's apps bar for admins.
//! Every screen has a URL; forms post back to their screen with an `op`
//! and, when it worked, go to the screen with a notice (`?done=`); when it
//! was refused, the screen comes back with the reason next to the form and
//! what was typed kept. Non-admins get 403 and see no Admin app.
//!
//! | URL | screen |
//! | --- | --- |
//! | `/agent/admin`, `/agent/admin/settings` | helpdesk settings |
//! | `/agent/admin/departments`, `/agent/admin/departments/{id}` | departments, a department's fields and removal |
//! | `/agent/admin/departments/{id}/fields/{key}` | one custom field |
//! | `/agent/admin/teams`, `/agent/admin/teams/{id}` | teams and members |
//! | `/agent/admin/agents`, `/agent/admin/agents/{id}` | agents: invite, edit, deactivate |
//! | `/agent/admin/usergroups`, `/agent/admin/usergroups/{id}` | usergroups and portal permissions |
//! | `/agent/admin/organisations`, `/agent/admin/organisations/{id}` | organisations |
//! | `/agent/admin/users`, `/agent/admin/users/{id}` | users: find, edit, merge, block |
//! | `/agent/admin/email`, `/agent/admin/email/{id}` | email accounts (test mail) and mail settings |
//! | `/agent/admin/labels`, `/agent/admin/labels/{name}` | labels: define, rename on every ticket, remove |
//! | `/agent/admin/rules`, `/agent/admin/rules/{kind}/{name}` | triggers, escalations, SLA policies: editor, dry run, import/export |
//! | `/agent/admin/audit` | the audit log (filters, older pages, JSON lines export) |

use super::api::{admin_of, send_invitation, AuditParams};
use crate::error::ApiError;
use crate::workspace::layout::{app_page, icon, AppName, Focus};
use crate::workspace::{agent_or_login, auth, html, redirect, run, Auth, Ctx, MAX_FORM};
use crate::{client_key, with_app, App};
use helpdesk_core::admin::{Registration, RuleKind, Settings};
use helpdesk_core::people::PortalPermissions;
use helpdesk_core::*;
use helpdesk_store::admin::{AgentChange, OrganisationChange, Reassign};
use helpdesk_store::{Admin, Helpdesk, NewAgent};
use maud::{html, Markup};
use std::collections::BTreeSet;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

/// A submitted form (empty for a GET): the values by name, in order. Its
/// `Debug` hides the values of password fields.
#[derive(Clone, Default)]
pub struct Form(pub Vec<(String, String)>);

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.0.iter().map(|(k, v)| (k, if k.contains("password") { "(hidden)" } else { v.as_str() })),
            )
            .finish()
    }
}

impl Form {
    pub(super) fn get(&self, k: &str) -> String {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default()
    }
    pub(super) fn opt(&self, k: &str) -> Option<String> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }
    pub(super) fn all(&self, k: &str) -> Vec<String> {
        self.0.iter().filter(|(n, _)| n == k).map(|(_, v)| v.clone()).collect()
    }
    pub(super) fn on(&self, k: &str) -> bool {
        self.0.iter().any(|(n, v)| n == k && (v == "on" || v == "true" || v == "1"))
    }
    pub(super) fn ids<T: From<u64> + Ord>(&self, k: &str) -> BTreeSet<T> {
        self.all(k).iter().filter_map(|v| v.parse::<u64>().ok()).map(T::from).collect()
    }
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a screen shows besides its data: what was typed, and the error of
/// the form (which form, and why) or the notice of what was done.
#[derive(Debug, Clone, Default)]
pub(super) struct Shown {
    pub(super) form: Form,
    /// The `op` that failed and why.
    pub(super) error: Option<(String, String)>,
    pub(super) done: Option<String>,
    /// The Admin root: a phone shows the sections first.
    pub(super) nav_first: bool,
}

impl Shown {
    pub(super) fn error_for(&self, op: &str) -> Markup {
        match &self.error {
            Some((o, m)) if o == op => {
                html! { div.notice.error role="alert" id=(format!("err-{op}")) { (m) } }
            }
            _ => html! {},
        }
    }
    /// The typed value of `k` when `op` was refused, else `current`.
    pub(super) fn value(&self, op: &str, k: &str, current: &str) -> String {
        match &self.error {
            Some((o, _)) if o == op => self.form.get(k),
            _ => current.to_string(),
        }
    }
    pub(super) fn typed(&self, op: &str) -> bool {
        matches!(&self.error, Some((o, _)) if o == op)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    Settings,
    Departments,
    Teams,
    Agents,
    Usergroups,
    Organisations,
    Users,
    Email,
    Labels,
    Templates,
    Rules,
    Audit,
}

const SECTIONS: [(Section, &str, &str, &str); 12] = [
    (Section::Settings, "settings", "Settings", "settings"),
    (Section::Departments, "departments", "Departments", "inbox"),
    (Section::Teams, "teams", "Teams", "users"),
    (Section::Agents, "agents", "Agents", "user"),
    (Section::Usergroups, "usergroups", "Usergroups", "users"),
    (Section::Organisations, "organisations", "Organisations", "building"),
    (Section::Users, "users", "Users", "user"),
    (Section::Email, "email", "Email", "mail"),
    (Section::Labels, "labels", "Labels", "tag"),
    (Section::Templates, "templates", "Templates", "mail"),
    (Section::Rules, "rules", "Rules", "zap"),
    (Section::Audit, "audit", "Audit log", "list"),
];

fn nav(here: Section) -> Markup {
    html! {
        nav #filter-pane .filter-pane.admin-nav aria-label="Admin" {
            ul.filters {
                li.group {
                    span.group-title { "Admin" }
                    ul.filters {
                        @for (s, slug, label, _) in SECTIONS {
                            li {
                                a.filter href=(format!("/agent/admin/{slug}")) aria-current=[(s == here).then_some("page")] data-view-to="content" {
                                    span { (label) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn done_text(code: &str) -> &'static str {
    match code {
        "saved" => "Saved.",
        "created" => "Created.",
        "removed" => "Removed.",
        "deactivated" => "Deactivated. Their sessions and API keys no longer work.",
        "reactivated" => "Reactivated: they can log in again.",
        "two_factor_reset" => "Two-factor login reset: they log in with their password (and set it up again where Settings require it).",
        "imported" => "Imported.",
        "applied" => "Applied to every ticket.",
        "merged" => "Merged: the other user's tickets and addresses are now this user's.",
        "blocked" => "Blocked. Their portal sessions have ended.",
        "unblocked" => "Unblocked.",
        _ => "Done.",
    }
}

/// A screen in the Admin app: the content pane with a heading, or the whole
/// page around it.
pub(super) fn screen(
    app: &App,
    ctx: &Ctx,
    here: Section,
    title: &str,
    shown: &Shown,
    status: StatusCode,
    body: Markup,
) -> Result<Response, ApiError> {
    let back = html! { a.back.phone-only href="/agent/admin" data-view-to="filters" { (icon("chevron-left")) " Admin" } };
    let content = html! {
        main #content .content data-view="content" {
            article.admin-screen aria-labelledby="admin-title" {
                header.ticket-head {
                    (back)
                    h1 #admin-title { (title) }
                }
                @if let Some(d) = &shown.done { div.notice.info role="status" { (d) } }
                (body)
            }
        }
    };
    if ctx.hx.targets("content") {
        return Ok(html(status, content));
    }
    let focus = if shown.nav_first { Focus::Filters } else { Focus::Content };
    Ok(html(
        status,
        app_page(app, ctx, &format!("{title} · Admin"), AppName::Admin, focus, nav(here), content)?,
    ))
}

pub(super) fn csrf(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.csrf); }
}

pub(super) fn op(name: &str) -> Markup {
    html! { input type="hidden" name="op" value=(name); }
}

/// A form of one name (add a department or team, rename one).
struct NameForm<'a> {
    op: &'a str,
    id: &'a str,
    input: &'a str,
    action: &'a str,
    /// A heading for adding; renaming has none.
    heading: Option<&'a str>,
    current: &'a str,
    button: &'a str,
}

fn name_form(ctx: &Ctx, shown: &Shown, f: NameForm<'_>) -> Markup {
    html! {
        form id=(f.id) .form method="post" action=(f.action) {
            (csrf(ctx)) (op(f.op))
            @if let Some(h) = f.heading { h2 { (h) } }
            (shown.error_for(f.op))
            div.form-row {
                label for=(f.input) { "Name" }
                input id=(f.input) type="text" name="name" required maxlength="200" value=(shown.value(f.op, "name", f.current));
            }
            div.form-actions { button.btn.primary[f.heading.is_some()] type="submit" { (f.button) } }
        }
    }
}

pub(super) fn checkbox(name: &str, value: &str, label: &str, checked: bool, id: &str) -> Markup {
    html! { label for=(id) { input type="checkbox" id=(id) name=(name) value=(value) checked[checked]; " " (label) } }
}

// ----- settings ---------------------------------------------------------------

fn settings_screen(app: &App, ctx: &Ctx, shown: &Shown, status: StatusCode) -> Result<Response, ApiError> {
    let s = app.helpdesk().settings()?;
    // The default urgency rise is an escalation: shown here, edited in Rules.
    let default_rise = helpdesk_core::automation::default_escalations();
    let rise =
        app.helpdesk().escalations()?.into_iter().find(|e| default_rise.iter().any(|d| d.name == e.name));
    let v = |k: &str, cur: &str| shown.value("settings", k, cur);
    let origins = s.embed_origins.join("\n");
    let portal = if shown.typed("settings") { shown.form.on("portal_enabled") } else { s.portal_enabled };
    let reg = v("registration", s.registration.as_str());
    let body = html! {
        p.muted { "Changes take effect at once, on every server of this helpdesk." }
        form #settings-form .form method="post" action="/agent/admin/settings" {
            (csrf(ctx)) (op("settings"))
            (shown.error_for("settings"))
            fieldset {
                legend { "The helpdesk" }
                div.form-row {
                    label for="set-name" { "Name" }
                    input #set-name type="text" name="name" required maxlength="100" value=(v("name", &s.name));
                    p.hint { "Shown to users in the portal and in the subject of mail." }
                }
                div.form-row {
                    label for="set-url" { "Public URL" }
                    input #set-url type="text" name="public_url" inputmode="url" placeholder=(app.config().public_url) value=(v("public_url", s.public_url.as_deref().unwrap_or("")));
                    p.hint { "Where people reach the helpdesk; links in mail start with it. Empty: the server's --public-url." }
                }
                div.form-row {
                    label for="set-language" { "Language of mail" }
                    (super::templates::helpdesk_language_select("set-language", &v("language", s.language.as_str())))
                    p.hint { "For people who have no language of their own. The texts are in " a href="/agent/admin/templates" { "Templates" } "; where none is written in this language, the built-in English text is used." }
                }
            }
            fieldset {
                legend { "Portal and embed" }
                div.checks { (checkbox("portal_enabled", "on", "Serve the user portal", portal, "set-portal")) }
                div.form-row {
                    label for="set-registration" { "Who may register" }
                    select #set-registration name="registration" {
                        @for r in Registration::ALL {
                            option value=(r.as_str()) selected[reg == r.as_str()] {
                                (match r {
                                    Registration::Open => "Anyone (tickets go in at once)",
                                    Registration::Validated => "Anyone, after confirming their address",
                                    Registration::InviteOnly => "Nobody: agents add users",
                                })
                            }
                        }
                    }
                }
                div.form-row {
                    label for="set-origins" { "Sites allowed to embed the contact form" }
                    textarea #set-origins name="embed_origins" rows="3" placeholder="https://www.example.com" { (v("embed_origins", &origins)) }
                    p.hint { "One origin per line (scheme, host and port). Empty: the server's --embed-origin list, or any site." }
                }
            }
            fieldset {
                legend { "Security" }
                div.form-grid {
                    div.form-row {
                        label for="set-session" { "Log out after (minutes idle)" }
                        input #set-session type="number" name="session_idle_minutes" min="5" max="43200" value=(v("session_idle_minutes", &s.session_idle_minutes.to_string()));
                    }
                    div.form-row {
                        label for="set-password" { "Shortest password" }
                        input #set-password type="number" name="password_min_length" min="8" max="64" value=(v("password_min_length", &s.password_min_length.to_string()));
                    }
                    div.form-row {
                        label for="set-strength" { "Passwords must be" }
                        @let strength = v("password_min_strength", &s.password_min_strength.to_string());
                        select #set-strength name="password_min_strength" aria-describedby="set-strength-hint" {
                            @for (n, label) in PASSWORD_STRENGTHS {
                                option value=(n) selected[strength == n.to_string()] { (label) }
                            }
                        }
                        p.hint #set-strength-hint { "Checked when a password is set, by the zxcvbn estimator: common passwords, names, words, keyboard patterns and the person's own name or address count against it." }
                    }
                }
                div.form-row {
                    (checkbox("agents_two_factor", "on", "Agents must log in with a second factor (a code from an authenticator app; an agent without one sets it up at their next login)", if shown.typed("settings") { shown.form.on("agents_two_factor") } else { s.agents_two_factor }, "set-2fa"))
                }
            }
            fieldset {
                legend { "Attachments" }
                div.form-grid {
                    div.form-row {
                        label for="set-file-mb" { "Largest file (MB)" }
                        input #set-file-mb type="number" name="attachment_max_file_mb" min="1" max="100" value=(v("attachment_max_file_mb", &s.attachment_max_file_mb.to_string()));
                    }
                    div.form-row {
                        label for="set-message-mb" { "Largest total per message (MB)" }
                        input #set-message-mb type="number" name="attachment_max_message_mb" min="1" max="100" aria-describedby="set-message-mb-hint" value=(v("attachment_max_message_mb", &s.attachment_max_message_mb.to_string()));
                        p.hint #set-message-mb-hint { "For files attached in the workspace, the portal and the website form; larger uploads are refused before they are read." }
                    }
                }
            }
            div.form-actions { button #settings-save .btn.primary type="submit" { "Save settings" } }
        }
        section.admin-section #urgency-rise {
            h2 { "Urgency rise" }
            (shown.error_for("install_rise"))
            @match &rise {
                Some(e) => p {
                    "“" (e.name) "” is " strong { (if e.enabled { "on" } else { "off" }) } ": first after " (e.after) " in " (e.status.replace('_', " "))
                    @if let Some(r) = &e.repeat { ", then every " (r.every) @if let Some(t) = r.times { ", up to " (t) " more times" } }
                    ". "
                    a href=(super::rules::rule_url(RuleKind::Escalation, &e.name)) { "Change it in Rules" }
                }
                None => {
                    p.muted { "Off: tickets awaiting an agent keep their urgency however long they wait." }
                    form method="post" action="/agent/admin/settings" {
                        (csrf(ctx)) (op("install_rise"))
                        button.btn type="submit" { "Raise urgency while tickets await an agent (every 4 hours)" }
                    }
                }
            }
        }
    };
    screen(app, ctx, Section::Settings, "Settings", shown, status, body)
}

/// The strengths an admin may require (zxcvbn's scores), as people read them.
const PASSWORD_STRENGTHS: [(u8, &str); 4] = [
    (1, "Not among the most common (refuses 12345678, password1)"),
    (2, "Hard to guess (about a million guesses; recommended)"),
    (3, "Very hard to guess (about 100 million guesses)"),
    (4, "Unguessable (about 10 billion guesses or more)"),
];

fn parse_settings(f: &Form) -> Result<Settings, ApiError> {
    let num = |k: &str, what: &str| {
        f.get(k)
            .trim()
            .parse::<u32>()
            .map_err(|_| ApiError::invalid(format!("{what} must be a whole number")))
    };
    Ok(Settings {
        name: f.get("name"),
        public_url: Some(f.get("public_url")),
        portal_enabled: f.on("portal_enabled"),
        registration: Registration::parse(&f.get("registration"))
            .ok_or_else(|| ApiError::invalid("choose who may register"))?,
        embed_origins: f.get("embed_origins").lines().map(str::to_string).collect(),
        session_idle_minutes: num("session_idle_minutes", "The session lifetime")?,
        password_min_length: num("password_min_length", "The shortest password")?,
        agents_two_factor: f.on("agents_two_factor"),
        password_min_strength: u8::try_from(num("password_min_strength", "The password strength")?)
            .map_err(|_| ApiError::invalid("choose a password strength"))?,
        language: super::templates::form_language(f)?.unwrap_or_default(),
        attachment_max_file_mb: num("attachment_max_file_mb", "The largest file")?,
        attachment_max_message_mb: num("attachment_max_message_mb", "The largest total per message")?,
    })
}

// ----- departments ------------------------------------------------------------

fn departments_screen(app: &App, ctx: &Ctx, shown: &Shown, status: StatusCode) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let mut rows = Vec::new();
    for d in hd.departments()? {
        rows.push((hd.department_ticket_count(d.id)?, d));
    }
    let body = html! {
        div.table-wrap {
            table.admin-table {
                caption.vh { "Departments" }
                thead { tr { th scope="col" { "Department" } th scope="col" { "Custom fields" } th scope="col" .num { "Tickets" } } }
                tbody {
                    @for (n, d) in &rows {
                        tr {
                            td { a href=(format!("/agent/admin/departments/{}", d.id.0)) { (d.name) } }
                            td { (d.live_fields().count()) @let r = d.fields.len() - d.live_fields().count(); @if r > 0 { span.muted { " (" (r) " retired)" } } }
                            td.num { (n) }
                        }
                    }
                }
            }
        }
        (name_form(ctx, shown, NameForm { op: "create", id: "dept-create", input: "dept-name", action: "/agent/admin/departments", heading: Some("Add a department"), current: "", button: "Add department" }))
    };
    screen(app, ctx, Section::Departments, "Departments", shown, status, body)
}

fn kind_name(k: &FieldKind) -> &'static str {
    match k {
        FieldKind::Text => "Text",
        FieldKind::Number => "Number",
        FieldKind::Choice { .. } => "Choice",
        FieldKind::Date => "Date",
    }
}

fn department_screen(
    app: &App,
    ctx: &Ctx,
    id: DepartmentId,
    shown: &Shown,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let d = hd.department(id)?;
    let tickets = hd.department_ticket_count(id)?;
    let others: Vec<Department> = hd.departments()?.into_iter().filter(|o| o.id != id).collect();
    let base = format!("/agent/admin/departments/{}", id.0);
    let n = d.fields.len();
    let body = html! {
        (name_form(ctx, shown, NameForm { op: "rename", id: "dept-rename", input: "dept-rename-name", action: &base, heading: None, current: &d.name, button: "Rename" }))
        section.admin-section aria-labelledby="fields-title" {
            h2 #fields-title { "Custom ticket fields" }
            (shown.error_for("field"))
            @if d.fields.is_empty() {
                p.muted { "No custom fields yet: add one below. Tickets of this department then ask for it." }
            } @else {
                div.table-wrap {
                    table.admin-table {
                        caption.vh { "Fields of " (d.name) }
                        thead { tr { th scope="col" { "Label" } th scope="col" { "Key" } th scope="col" { "Type" } th scope="col" { "Asked" } th scope="col" { span.vh { "Actions" } } } }
                        tbody {
                            @for (i, f) in d.fields.iter().enumerate() {
                                tr.retired[f.retired] {
                                    td { a href=(format!("{base}/fields/{}", f.key)) { (f.label) } @if f.retired { " " span.badge { "retired" } } }
                                    td { code { (f.key) } }
                                    td { (kind_name(&f.kind)) @if let FieldKind::Choice { options } = &f.kind { span.muted { ": " (options.join(", ")) } } }
                                    td { (if f.required { "required" } else { "optional" }) (if f.agent_only { ", agents only" } else { "" }) }
                                    td.actions {
                                        form.row-actions method="post" action=(base) {
                                            (csrf(ctx)) (op("field"))
                                            input type="hidden" name="key" value=(f.key);
                                            button.btn.small type="submit" name="do" value="up" disabled[i == 0] aria-label=(format!("Move {} up", f.label)) { "↑" }
                                            button.btn.small type="submit" name="do" value="down" disabled[i + 1 == n] aria-label=(format!("Move {} down", f.label)) { "↓" }
                                            @if f.retired {
                                                button.btn.small type="submit" name="do" value="restore" { "Restore" }
                                            } @else {
                                                button.btn.small type="submit" name="do" value="retire" title="Kept with the values tickets have; no longer asked for" { "Retire" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form #field-add .form method="post" action=(base) {
                (csrf(ctx)) (op("add_field"))
                h3 { "Add a field" }
                (shown.error_for("add_field"))
                (field_inputs(shown, "add_field", None))
                div.form-actions { button.btn.primary type="submit" { "Add field" } }
            }
        }
        section.admin-section.danger-zone aria-labelledby="remove-title" {
            h2 #remove-title { "Remove this department" }
            (shown.error_for("remove"))
            form #dept-remove .form method="post" action=(base) {
                (csrf(ctx)) (op("remove"))
                @if tickets > 0 {
                    p { "It holds " strong { (tickets) } (if tickets == 1 { " ticket" } else { " tickets" }) ". Each is moved, with a line in its log." }
                    div.form-row {
                        label for="dept-move" { "Move its tickets to" }
                        select #dept-move name="move_to" required {
                            option value="" { "Choose a department" }
                            @for o in &others { option value=(o.id.0) { (o.name) } }
                        }
                    }
                } @else {
                    p.muted { "It holds no tickets." }
                }
                div.form-actions { button.btn.danger type="submit" { "Remove " (d.name) } }
            }
        }
    };
    screen(app, ctx, Section::Departments, &d.name, shown, status, body)
}

/// The inputs of a field definition (a new one when `current` is `None`).
fn field_inputs(shown: &Shown, op: &str, current: Option<&FieldDef>) -> Markup {
    let v = |k: &str, cur: &str| shown.value(op, k, cur);
    let (key, label, kind, options, required, agent_only) = match current {
        Some(f) => (
            f.key.clone(),
            f.label.clone(),
            kind_name(&f.kind).to_lowercase(),
            match &f.kind {
                FieldKind::Choice { options } => options.join("\n"),
                _ => String::new(),
            },
            f.required,
            f.agent_only,
        ),
        None => (String::new(), String::new(), "text".to_string(), String::new(), false, false),
    };
    let typed = shown.typed(op);
    let kind = v("kind", &kind);
    let p = |s: &str| format!("{op}-{s}");
    html! {
        div.form-grid {
            div.form-row {
                label for=(p("label")) { "Label" }
                input id=(p("label")) type="text" name="label" required maxlength="100" value=(v("label", &label));
            }
            div.form-row {
                label for=(p("key")) { "Key" }
                @if current.is_some() {
                    input id=(p("key")) type="text" name="key" value=(key) readonly aria-describedby=(p("key-hint"));
                    p.hint id=(p("key-hint")) { "Keys and types never change (stored values would be misread)." }
                } @else {
                    input id=(p("key")) type="text" name="key" required maxlength="64" pattern="[a-z0-9_]+" value=(v("key", "")) aria-describedby=(p("key-hint"));
                    p.hint id=(p("key-hint")) { "a-z, 0-9 and _; used in rules and the API." }
                }
            }
            div.form-row {
                label for=(p("kind")) { "Type" }
                select id=(p("kind")) name="kind" disabled[current.is_some()] {
                    @for (val, name) in [("text", "Text"), ("number", "Number"), ("choice", "Choice"), ("date", "Date")] {
                        option value=(val) selected[kind == val] { (name) }
                    }
                }
                @if current.is_some() { input type="hidden" name="kind" value=(kind); }
            }
        }
        div.form-row {
            label for=(p("options")) { "Options (choice fields; one per line)" }
            textarea id=(p("options")) name="options" rows="3" { (v("options", &options)) }
        }
        div.checks {
            (checkbox("required", "on", "Required when a ticket is created", if typed { shown.form.on("required") } else { required }, &p("required")))
            (checkbox("agent_only", "on", "Agents only (never shown to users)", if typed { shown.form.on("agent_only") } else { agent_only }, &p("agent-only")))
        }
    }
}

fn parse_field(f: &Form) -> Result<FieldDef, ApiError> {
    let kind = match f.get("kind").as_str() {
        "text" => FieldKind::Text,
        "number" => FieldKind::Number,
        "date" => FieldKind::Date,
        "choice" => FieldKind::Choice {
            options: f
                .get("options")
                .lines()
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_string)
                .collect(),
        },
        _ => return Err(ApiError::invalid("choose the field's type")),
    };
    Ok(FieldDef {
        key: f.get("key").trim().to_string(),
        label: f.get("label"),
        kind,
        required: f.on("required"),
        agent_only: f.on("agent_only"),
        retired: false,
    })
}

fn field_screen(
    app: &App,
    ctx: &Ctx,
    id: DepartmentId,
    key: &str,
    shown: &Shown,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let d = app.helpdesk().department(id)?;
    let f = d
        .field(key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("{} has no field {key:?}", d.name)))?;
    let action = format!("/agent/admin/departments/{}/fields/{}", id.0, f.key);
    let body = html! {
        p { a href=(format!("/agent/admin/departments/{}", id.0)) { (icon("chevron-left")) " " (d.name) } }
        @if f.retired { p.notice.info { "This field is retired: tickets keep their values, new ones cannot be given." } }
        form #field-edit .form method="post" action=(action) {
            (csrf(ctx)) (op("update_field"))
            (shown.error_for("update_field"))
            (field_inputs(shown, "update_field", Some(&f)))
            p.hint { "Choice options can be added and renamed by adding; removing one would orphan the tickets that have it, so retire the field instead." }
            div.form-actions { button.btn.primary type="submit" { "Save field" } }
        }
    };
    screen(app, ctx, Section::Departments, &format!("{} · {}", f.label, d.name), shown, status, body)
}

// ----- teams ------------------------------------------------------------------

fn teams_screen(app: &App, ctx: &Ctx, shown: &Shown, status: StatusCode) -> Result<Response, ApiError> {
    let teams = super::api::team_views(app.helpdesk())?;
    let body = html! {
        @if teams.is_empty() { p.muted { "No teams yet. Teams group agents; tickets can be assigned to a team." } }
        @else {
            div.table-wrap {
                table.admin-table {
                    caption.vh { "Teams" }
                    thead { tr { th scope="col" { "Team" } th scope="col" .num { "Members" } } }
                    tbody { @for t in &teams { tr { td { a href=(format!("/agent/admin/teams/{}", t.team.id.0)) { (t.team.name) } } td.num { (t.members.len()) } } } }
                }
            }
        }
        (name_form(ctx, shown, NameForm { op: "create", id: "team-create", input: "team-name", action: "/agent/admin/teams", heading: Some("Add a team"), current: "", button: "Add team" }))
    };
    screen(app, ctx, Section::Teams, "Teams", shown, status, body)
}

fn team_screen(
    app: &App,
    ctx: &Ctx,
    id: TeamId,
    shown: &Shown,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let team = hd.team(id)?;
    let agents = hd.agents()?;
    let base = format!("/agent/admin/teams/{}", id.0);
    let body = html! {
        (name_form(ctx, shown, NameForm { op: "rename", id: "team-rename", input: "team-rename-name", action: &base, heading: None, current: &team.name, button: "Rename" }))
        form #team-members .form method="post" action=(base) {
            (csrf(ctx)) (op("members"))
            (shown.error_for("members"))
            fieldset.checks {
                legend { "Members" }
                @for a in &agents {
                    (checkbox("agent", &a.id.0.to_string(), &format!("{}{}", a.name, if a.disabled { " (deactivated)" } else { "" }), a.teams.contains(&id), &format!("member-{}", a.id.0)))
                }
            }
            div.form-actions { button.btn.primary type="submit" { "Save members" } }
        }
        section.admin-section.danger-zone aria-labelledby="remove-title" {
            h2 #remove-title { "Remove this team" }
            (shown.error_for("remove"))
            p.muted { "Its members stay agents. A team that open tickets or rules use cannot go until they change." }
            form #team-remove method="post" action=(base) { (csrf(ctx)) (op("remove")) button.btn.danger type="submit" { "Remove " (team.name) } }
        }
    };
    screen(app, ctx, Section::Teams, &team.name, shown, status, body)
}

// ----- agents -----------------------------------------------------------------

fn permissions_inputs(
    hd: &Helpdesk,
    shown: &Shown,
    op: &str,
    current: Option<&Agent>,
) -> Result<Markup, ApiError> {
    let typed = shown.typed(op);
    let default = Permissions::default();
    let p = current.map(|a| &a.permissions).unwrap_or(&default);
    let on = |k: &str, cur: bool| if typed { shown.form.on(k) } else { cur };
    let all = if typed { shown.form.get("departments") != "some" } else { p.departments.is_none() };
    let chosen: BTreeSet<DepartmentId> =
        if typed { shown.form.ids("department") } else { p.departments.clone().unwrap_or_default() };
    let teams: BTreeSet<TeamId> =
        if typed { shown.form.ids("team") } else { current.map(|a| a.teams.clone()).unwrap_or_default() };
    let x = |s: &str| format!("{op}-{s}");
    Ok(html! {
        fieldset.checks {
            legend { "Permissions" }
            (checkbox("admin", "on", "Admin (changes the helpdesk's configuration; sees every department)", on("admin", p.admin), &x("admin")))
            (checkbox("may_delete", "on", "May delete, mark as spam and purge tickets", on("may_delete", p.may_delete), &x("delete")))
            (checkbox("may_reassign", "on", "May take tickets from others and assign them", on("may_reassign", p.may_reassign), &x("reassign")))
            (checkbox("people", "on", "May look up every user and organisation (without it: only those of tickets they may see)", on("people", p.people), &x("people")))
        }
        fieldset.checks {
            legend { "Departments" }
            label for=(x("dep-all")) { input type="radio" id=(x("dep-all")) name="departments" value="all" checked[all]; " Every department" }
            label for=(x("dep-some")) { input type="radio" id=(x("dep-some")) name="departments" value="some" checked[!all]; " Only these:" }
            @for d in hd.departments()? {
                (checkbox("department", &d.id.0.to_string(), &d.name, chosen.contains(&d.id), &x(&format!("dep-{}", d.id.0))))
            }
        }
        @let all_teams = hd.teams()?;
        @if !all_teams.is_empty() {
            fieldset.checks {
                legend { "Teams" }
                @for t in &all_teams { (checkbox("team", &t.id.0.to_string(), &t.name, teams.contains(&t.id), &x(&format!("team-{}", t.id.0)))) }
            }
        }
    })
}

fn parse_permissions(f: &Form) -> Permissions {
    Permissions {
        admin: f.on("admin"),
        may_delete: f.on("may_delete"),
        may_reassign: f.on("may_reassign"),
        people: f.on("people"),
        departments: (f.get("departments") == "some").then(|| f.ids("department")),
    }
}

fn agents_screen(
    app: &App,
    ctx: &Ctx,
    shown: &Shown,
    status: StatusCode,
    invited: Option<(Agent, String)>,
) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let agents = hd.agents()?;
    let departments = hd.departments()?;
    let teams = hd.teams()?;
    let dept_names = |p: &Permissions| match &p.departments {
        None => "Every department".to_string(),
        Some(ds) => departments
            .iter()
            .filter(|d| ds.contains(&d.id))
            .map(|d| d.name.clone())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let team_names = |a: &Agent| {
        teams
            .iter()
            .filter(|t| a.teams.contains(&t.id))
            .map(|t| t.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let body = html! {
        @if let Some((a, url)) = &invited {
            div.notice.info role="status" {
                "Invited " (a.name) ". An email with a link to choose a password went to " (a.email) " (it works once, for "
                (helpdesk_store::admin::INVITE_DAYS) " days). If it does not arrive, give them this link: "
                input.copy-link type="text" readonly value=(url) aria-label="Set-password link";
            }
        }
        div.table-wrap {
            table.admin-table {
                caption.vh { "Agents" }
                thead { tr { th scope="col" { "Agent" } th scope="col" { "Role" } th scope="col" { "Departments" } th scope="col" { "Teams" } } }
                tbody {
                    @for a in &agents {
                        tr.retired[a.disabled] {
                            td { a href=(format!("/agent/admin/agents/{}", a.id.0)) { (a.name) } br; span.muted { (a.email) } }
                            td { (if a.disabled { "Deactivated" } else if a.permissions.admin { "Admin" } else { "Agent" }) }
                            td { (dept_names(&a.permissions)) }
                            td { (team_names(a)) }
                        }
                    }
                }
            }
        }
        form #agent-invite .form method="post" action="/agent/admin/agents" {
            (csrf(ctx)) (op("invite"))
            h2 { "Invite an agent" }
            (shown.error_for("invite"))
            div.form-grid {
                div.form-row { label for="inv-name" { "Name" } input #inv-name type="text" name="name" required maxlength="200" value=(shown.value("invite", "name", "")); }
                div.form-row { label for="inv-email" { "Email" } input #inv-email type="email" name="email" required value=(shown.value("invite", "email", "")); }
            }
            (permissions_inputs(hd, shown, "invite", None)?)
            div.form-actions { button #invite-submit .btn.primary type="submit" { "Send invitation" } }
        }
    };
    screen(app, ctx, Section::Agents, "Agents", shown, status, body)
}

fn agent_screen(
    app: &App,
    ctx: &Ctx,
    id: AgentId,
    shown: &Shown,
    status: StatusCode,
    link: Option<String>,
) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let a = hd.agent(id)?;
    let others: Vec<Agent> = hd.agents()?.into_iter().filter(|o| o.id != id && !o.disabled).collect();
    let base = format!("/agent/admin/agents/{}", id.0);
    let two_factor = hd.two_factor_state(id)?;
    let settings = hd.settings()?;
    let body = html! {
        @if let Some(url) = &link {
            div.notice.info role="status" { "A new link went to " (a.email) ". The old ones no longer work. The link: " input.copy-link type="text" readonly value=(url) aria-label="Set-password link"; }
        }
        @if a.disabled { p.notice.error { "Deactivated: " (a.name) " cannot log in or be assigned tickets." } }
        form #agent-edit .form method="post" action=(base) {
            (csrf(ctx)) (op("update"))
            (shown.error_for("update"))
            div.form-grid {
                div.form-row { label for="ag-name" { "Name" } input #ag-name type="text" name="name" required maxlength="200" value=(shown.value("update", "name", &a.name)); }
                div.form-row { label for="ag-email" { "Email" } input #ag-email type="email" name="email" required value=(shown.value("update", "email", a.email.as_str())); }
                (super::templates::person_language_select(hd, "ag-language", &shown.value("update", "language", a.language.as_ref().map(|l| l.as_str()).unwrap_or("")))?)
            }
            (permissions_inputs(hd, shown, "update", Some(&a))?)
            div.form-actions { button #agent-save .btn.primary type="submit" { "Save agent" } }
        }
        @if a.disabled {
            section.admin-section {
                (shown.error_for("reactivate"))
                form method="post" action=(base) { (csrf(ctx)) (op("reactivate")) button.btn.primary type="submit" { "Reactivate " (a.name) } }
            }
        } @else {
            section.admin-section aria-labelledby="tf-title" {
                h2 #tf-title { "Two-factor login" }
                (shown.error_for("reset_two_factor"))
                @match two_factor.since {
                    Some(since) => form method="post" action=(base) {
                        (csrf(ctx)) (op("reset_two_factor"))
                        p.muted { "On since " (ctx.tz.absolute(since)) "; " (two_factor.recovery_codes_left) " recovery codes left. Reset it if " (a.name) " lost their phone and their recovery codes: they log in with their password alone" @if settings.agents_two_factor { " and set it up again at once" } "." }
                        button.btn type="submit" { "Reset two-factor login" }
                    },
                    None => p.muted { "Off. " @if settings.agents_two_factor { (a.name) " sets it up at their next login (Settings require it)." } @else { (a.name) " can turn it on in their profile." } },
                }
            }
            section.admin-section {
                h2 { "Password" }
                (shown.error_for("reinvite"))
                form method="post" action=(base) {
                    (csrf(ctx)) (op("reinvite"))
                    p.muted { "Send " (a.name) " a new link to choose a password (for an invitation that expired or a forgotten password)." }
                    button.btn type="submit" { "Send a new link" }
                }
            }
            section.admin-section.danger-zone aria-labelledby="deact-title" {
                h2 #deact-title { "Deactivate" }
                (shown.error_for("deactivate"))
                form #agent-deactivate .form method="post" action=(base) {
                    (csrf(ctx)) (op("deactivate"))
                    p.muted { "They are logged out everywhere and their API keys stop working. Their tickets and their history stay." }
                    div.form-row {
                        label for="deact-to" { "Their open tickets" }
                        select #deact-to name="reassign" {
                            option value="leave" { "Stay assigned to " (a.name) }
                            option value="unassign" { "Become unassigned" }
                            @for o in &others { option value=(o.id.0) { "Go to " (o.name) } }
                        }
                    }
                    div.form-actions { button.btn.danger type="submit" { "Deactivate " (a.name) } }
                }
            }
        }
    };
    screen(app, ctx, Section::Agents, &a.name, shown, status, body)
}

// ----- usergroups -------------------------------------------------------------

fn portal_inputs(hd: &Helpdesk, shown: &Shown, op: &str, p: &PortalPermissions) -> Result<Markup, ApiError> {
    let typed = shown.typed(op);
    let all = if typed { shown.form.get("submit") != "some" } else { p.submit_departments.is_none() };
    let chosen: BTreeSet<DepartmentId> =
        if typed { shown.form.ids("department") } else { p.submit_departments.clone().unwrap_or_default() };
    let on = |k: &str, cur: bool| if typed { shown.form.on(k) } else { cur };
    let x = |s: &str| format!("{op}-{s}");
    Ok(html! {
        fieldset.checks {
            legend { "Members may submit tickets in" }
            label for=(x("sub-all")) { input type="radio" id=(x("sub-all")) name="submit" value="all" checked[all]; " Every department" }
            label for=(x("sub-some")) { input type="radio" id=(x("sub-some")) name="submit" value="some" checked[!all]; " Only these:" }
            @for d in hd.departments()? { (checkbox("department", &d.id.0.to_string(), &d.name, chosen.contains(&d.id), &x(&format!("dep-{}", d.id.0)))) }
        }
        fieldset.checks {
            legend { "In the portal, members may" }
            (checkbox("organisation_tickets", "on", "See the tickets of everyone in their organisation", on("organisation_tickets", p.organisation_tickets), &x("org")))
            (checkbox("cc_others", "on", "CC other people on their tickets", on("cc_others", p.cc_others), &x("cc")))
        }
    })
}

fn parse_portal(f: &Form) -> PortalPermissions {
    PortalPermissions {
        submit_departments: (f.get("submit") == "some").then(|| f.ids("department")),
        organisation_tickets: f.on("organisation_tickets"),
        cc_others: f.on("cc_others"),
    }
}

fn usergroups_screen(app: &App, ctx: &Ctx, shown: &Shown, status: StatusCode) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let groups = hd.usergroups()?;
    let body = html! {
        p.muted { "A usergroup decides what its users may do in the portal and the website form: a user in several groups may do what any of them allows; a user in none may submit in every department and copy others in, and sees only their own and CC'd tickets. Mail reaches every department." }
        @if groups.is_empty() { p.muted { "No usergroups yet." } }
        @else {
            div.table-wrap {
                table.admin-table {
                    caption.vh { "Usergroups" }
                    thead { tr { th scope="col" { "Usergroup" } th scope="col" { "Organisation tickets" } th scope="col" { "CC others" } } }
                    tbody {
                        @for g in &groups {
                            tr {
                                td { a href=(format!("/agent/admin/usergroups/{}", g.id.0)) { (g.name) } }
                                td { (if g.portal.organisation_tickets { "Yes" } else { "No" }) }
                                td { (if g.portal.cc_others { "Yes" } else { "No" }) }
                            }
                        }
                    }
                }
            }
        }
        form #group-create .form method="post" action="/agent/admin/usergroups" {
            (csrf(ctx)) (op("create"))
            h2 { "Add a usergroup" }
            (shown.error_for("create"))
            div.form-row { label for="ug-name" { "Name" } input #ug-name type="text" name="name" required maxlength="200" value=(shown.value("create", "name", "")); }
            (portal_inputs(hd, shown, "create", &PortalPermissions::default())?)
            div.form-actions { button.btn.primary type="submit" { "Add usergroup" } }
        }
    };
    screen(app, ctx, Section::Usergroups, "Usergroups", shown, status, body)
}

fn usergroup_screen(
    app: &App,
    ctx: &Ctx,
    id: UsergroupId,
    shown: &Shown,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let g = hd.usergroup(id)?;
    let base = format!("/agent/admin/usergroups/{}", id.0);
    let body = html! {
        form #group-edit .form method="post" action=(base) {
            (csrf(ctx)) (op("update"))
            (shown.error_for("update"))
            div.form-row { label for="ug-edit-name" { "Name" } input #ug-edit-name type="text" name="name" required maxlength="200" value=(shown.value("update", "name", &g.name)); }
            (portal_inputs(hd, shown, "update", &g.portal)?)
            div.form-actions { button.btn.primary type="submit" { "Save usergroup" } }
        }
        section.admin-section.danger-zone {
            h2 { "Remove this usergroup" }
            (shown.error_for("remove"))
            p.muted { "Its members stay users, without this group's permissions." }
            form method="post" action=(base) { (csrf(ctx)) (op("remove")) button.btn.danger type="submit" { "Remove " (g.name) } }
        }
    };
    screen(app, ctx, Section::Usergroups, &g.name, shown, status, body)
}

// ----- organisations ----------------------------------------------------------

fn organisation_inputs(shown: &Shown, op: &str, o: Option<&Organisation>) -> Markup {
    let domains =
        o.map(|o| o.email_domains.iter().cloned().collect::<Vec<_>>().join("\n")).unwrap_or_default();
    let x = |s: &str| format!("{op}-{s}");
    html! {
        div.form-row { label for=(x("name")) { "Name" } input id=(x("name")) type="text" name="name" required maxlength="200" value=(shown.value(op, "name", o.map(|o| o.name.as_str()).unwrap_or(""))); }
        div.form-row {
            label for=(x("domains")) { "Email domains" }
            textarea id=(x("domains")) name="email_domains" rows="2" placeholder="acme.com" { (shown.value(op, "email_domains", &domains)) }
            p.hint { "One per line. New users with an address there join the organisation." }
        }
        div.form-row {
            label for=(x("notes")) { "Notes (agents only)" }
            textarea id=(x("notes")) name="notes" rows="2" { (shown.value(op, "notes", o.map(|o| o.notes.as_str()).unwrap_or(""))) }
        }
    }
}

fn parse_organisation(f: &Form) -> OrganisationChange {
    OrganisationChange {
        name: f.get("name"),
        email_domains: f.get("email_domains").lines().map(str::to_string).collect(),
        notes: f.get("notes"),
    }
}

fn organisations_screen(
    app: &App,
    ctx: &Ctx,
    shown: &Shown,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let orgs = app.helpdesk().organisations()?;
    let body = html! {
        @if orgs.is_empty() { p.muted { "No organisations yet." } }
        @else {
            div.table-wrap {
                table.admin-table {
                    caption.vh { "Organisations" }
                    thead { tr { th scope="col" { "Organisation" } th scope="col" { "Email domains" } } }
                    tbody {
                        @for o in &orgs {
                            tr {
                                td { a href=(format!("/agent/admin/organisations/{}", o.id.0)) { (o.name) } }
                                td { (o.email_domains.iter().cloned().collect::<Vec<_>>().join(", ")) }
                            }
                        }
                    }
                }
            }
        }
        form #org-create .form method="post" action="/agent/admin/organisations" {
            (csrf(ctx)) (op("create"))
            h2 { "Add an organisation" }
            (shown.error_for("create"))
            (organisation_inputs(shown, "create", None))
            div.form-actions { button.btn.primary type="submit" { "Add organisation" } }
        }
    };
    screen(app, ctx, Section::Organisations, "Organisations", shown, status, body)
}

fn organisation_screen(
    app: &App,
    ctx: &Ctx,
    id: OrganisationId,
    shown: &Shown,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let o = app.helpdesk().organisation(id)?;
    let base = format!("/agent/admin/organisations/{}", id.0);
    let body = html! {
        p { a href=(format!("/agent/organisations/{}", id.0)) { "Open its profile (users and tickets)" } }
        form #org-edit .form method="post" action=(base) {
            (csrf(ctx)) (op("update"))
            (shown.error_for("update"))
            (organisation_inputs(shown, "update", Some(&o)))
            div.form-actions { button.btn.primary type="submit" { "Save organisation" } }
        }
        section.admin-section.danger-zone {
            h2 { "Remove this organisation" }
            (shown.error_for("remove"))
            p.muted { "Its users stay, without an organisation." }
            form method="post" action=(base) { (csrf(ctx)) (op("remove")) button.btn.danger type="submit" { "Remove " (o.name) } }
        }
    };
    screen(app, ctx, Section::Organisations, &o.name, shown, status, body)
}

// ----- audit log --------------------------------------------------------------

const AUDIT_AREAS: [(&str, &str); 15] = [
    ("", "Everything"),
    ("setup", "First-run setup"),
    ("settings", "Settings"),
    ("department", "Departments"),
    ("team", "Teams"),
    ("agent.login", "Logins"),
    ("agent", "Agents"),
    ("usergroup", "Usergroups"),
    ("organisation", "Organisations"),
    ("user", "Users"),
    ("email_account", "Email accounts"),
    ("mail_settings", "Mail settings"),
    ("label", "Labels"),
    ("rule", "Rules"),
    ("api_key", "API keys"),
];

fn audit_screen(app: &App, ctx: &Ctx, p: &AuditParams) -> Result<Response, ApiError> {
    const PAGE: usize = 50;
    let hd = app.helpdesk();
    let entries = hd.audit(&p.query(), p.before, PAGE + 1)?;
    let more = entries.len() > PAGE;
    let entries = &entries[..entries.len().min(PAGE)];
    let agents = hd.agents()?;
    let action = p.action.clone().unwrap_or_default();
    let text = p.text.clone().unwrap_or_default();
    let qs = |before: Option<u64>| {
        let mut q = vec![];
        if let Some(a) = p.agent {
            q.push(format!("agent={a}"));
        }
        if !action.is_empty() {
            q.push(format!("action={}", crate::workspace::encode(&action)));
        }
        if !text.is_empty() {
            q.push(format!("text={}", crate::workspace::encode(&text)));
        }
        if let Some(b) = before {
            q.push(format!("before={b}"));
        }
        q.join("&")
    };
    let body = html! {
        form #audit-filter .filter-bar method="get" action="/agent/admin/audit" role="search" aria-label="Filter the audit log" {
            div.form-row {
                label for="audit-action" { "What" }
                select #audit-action name="action" { @for (v, l) in AUDIT_AREAS { option value=(v) selected[action == v] { (l) } } }
            }
            div.form-row {
                label for="audit-agent" { "Who" }
                select #audit-agent name="agent" {
                    option value="" { "Anyone" }
                    @for a in &agents { option value=(a.id.0) selected[p.agent == Some(a.id.0)] { (a.name) } }
                }
            }
            div.form-row {
                label for="audit-text" { "Containing" }
                input #audit-text type="search" name="text" value=(text) placeholder="a name, an address";
            }
            div.form-actions {
                button.btn type="submit" { "Show" }
                a.btn href=(format!("/api/admin/audit.jsonl?{}", qs(None))) download { "Export JSON lines" }
            }
        }
        @if entries.is_empty() {
            p.empty { "Nothing in the audit log matches." }
        } @else {
            ol.audit-log {
                @for e in entries {
                    li.audit-entry {
                        div.audit-line {
                            (ctx.tz.time(ctx.now, e.at))
                            " " strong { (e.actor.to_string()) }
                            " " span.summary { (e.summary) }
                        }
                        div.audit-meta.muted {
                            code { (e.action) } " · " (e.target)
                            @if let Some(s) = &e.source { " · from " (s) }
                            " · #" (e.seq)
                        }
                        @if e.before.is_some() || e.after.is_some() {
                            details.audit-change {
                                summary { "Before and after" }
                                div.audit-diff {
                                    @if let Some(b) = &e.before { div { h3 { "Before" } pre { (serde_json::to_string_pretty(b).unwrap_or_default()) } } }
                                    @if let Some(a) = &e.after { div { h3 { "After" } pre { (serde_json::to_string_pretty(a).unwrap_or_default()) } } }
                                }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="Audit log pages" {
                @if p.before.is_some() { a href=(format!("/agent/admin/audit?{}", qs(None))) { "Newest" } }
                @if more { a #audit-older href=(format!("/agent/admin/audit?{}", qs(entries.last().map(|e| e.seq)))) { "Older entries" } }
            }
        }
    };
    screen(app, ctx, Section::Audit, "Audit log", &Shown::default(), StatusCode::OK, body)
}

// ----- dispatch ---------------------------------------------------------------

/// An id from an admin URL, or 404 with `missing`.
pub(super) fn path_id(s: &str, missing: &str) -> Result<u64, ApiError> {
    s.parse().map_err(|_| ApiError::not_found(missing))
}

fn num(s: &str) -> Result<u64, ApiError> {
    path_id(s, "There is no such admin screen.")
}

fn show(
    app: &App,
    ctx: &Ctx,
    path: &[&str],
    query: &str,
    shown: &Shown,
    status: StatusCode,
) -> Result<Response, ApiError> {
    match path {
        [] | ["settings"] => settings_screen(app, ctx, shown, status),
        ["departments"] => departments_screen(app, ctx, shown, status),
        ["departments", d] => department_screen(app, ctx, DepartmentId(num(d)?), shown, status),
        ["departments", d, "fields", key] => {
            field_screen(app, ctx, DepartmentId(num(d)?), key, shown, status)
        }
        ["teams"] => teams_screen(app, ctx, shown, status),
        ["teams", t] => team_screen(app, ctx, TeamId(num(t)?), shown, status),
        ["agents"] => agents_screen(app, ctx, shown, status, None),
        ["agents", a] => agent_screen(app, ctx, AgentId(num(a)?), shown, status, None),
        ["usergroups"] => usergroups_screen(app, ctx, shown, status),
        ["usergroups", g] => usergroup_screen(app, ctx, UsergroupId(num(g)?), shown, status),
        ["organisations"] => organisations_screen(app, ctx, shown, status),
        ["organisations", o] => organisation_screen(app, ctx, OrganisationId(num(o)?), shown, status),
        ["rules", rest @ ..] => super::rules::show(app, ctx, rest, query, shown, status),
        ["users", rest @ ..] => super::users::show(app, ctx, rest, query, shown, status),
        ["email", rest @ ..] => super::mail::show(app, ctx, rest, shown, status),
        ["labels", rest @ ..] => super::labels::show(app, ctx, rest, shown, status),
        ["templates", rest @ ..] => super::templates::show(app, ctx, rest, query, shown, status),
        ["audit"] => {
            let p: AuditParams = serde_urlencoded::from_str(query).unwrap_or_default();
            audit_screen(app, ctx, &p)
        }
        _ => Err(ApiError::not_found("There is no such admin screen.")),
    }
}

/// What a form post did: go to a screen with a notice, or show one.
pub(super) enum Outcome {
    Go(String, &'static str),
    Show(Response),
}

fn apply(app: &App, ctx: &Ctx, admin: &Admin<'_>, path: &[&str], f: &Form) -> Result<Outcome, ApiError> {
    let hd = app.helpdesk();
    let op = f.get("op");
    let go = |to: String, done: &'static str| Ok(Outcome::Go(to, done));
    match (path, op.as_str()) {
        ([] | ["settings"], "install_rise") => {
            for def in helpdesk_core::automation::default_escalations() {
                admin.save_rule(None, helpdesk_core::admin::RuleDef::Escalation(def))?;
            }
            go("/agent/admin/settings".into(), "saved")
        }
        ([] | ["settings"], "settings") => {
            admin.set_settings(parse_settings(f)?)?;
            app.sessions().settings_changed();
            go("/agent/admin/settings".into(), "saved")
        }
        (["departments"], "create") => {
            let d = admin.create_department(&f.get("name"))?;
            go(format!("/agent/admin/departments/{}", d.id.0), "created")
        }
        (["departments", d], op) => {
            let id = DepartmentId(num(d)?);
            let here = format!("/agent/admin/departments/{}", id.0);
            match op {
                "rename" => {
                    admin.rename_department(id, &f.get("name"))?;
                }
                "add_field" => {
                    admin.add_field(id, parse_field(f)?)?;
                }
                "field" => {
                    let key = f.get("key");
                    match f.get("do").as_str() {
                        "retire" => {
                            admin.retire_field(id, &key, true)?;
                        }
                        "restore" => {
                            admin.retire_field(id, &key, false)?;
                        }
                        dir @ ("up" | "down") => {
                            let mut keys: Vec<String> =
                                hd.department(id)?.fields.into_iter().map(|f| f.key).collect();
                            if let Some(i) = keys.iter().position(|k| *k == key) {
                                let j = if dir == "up" {
                                    i.checked_sub(1)
                                } else {
                                    Some(i + 1).filter(|j| *j < keys.len())
                                };
                                if let Some(j) = j {
                                    keys.swap(i, j);
                                }
                            }
                            {
                                admin.reorder_fields(id, &keys)?;
                            };
                        }
                        _ => return Err(ApiError::bad_request("unknown field action")),
                    }
                }
                "remove" => {
                    let to = f
                        .opt("move_to")
                        .filter(|v| !v.is_empty())
                        .map(|v| num(&v).map(DepartmentId))
                        .transpose()?;
                    admin.remove_department(id, to)?;
                    return go("/agent/admin/departments".into(), "removed");
                }
                _ => return Err(ApiError::bad_request("unknown department action")),
            }
            go(here, "saved")
        }
        (["departments", d, "fields", key], "update_field") => {
            let id = DepartmentId(num(d)?);
            let mut field = parse_field(f)?;
            field.key = key.to_string();
            admin.update_field(id, field)?;
            go(format!("/agent/admin/departments/{}", id.0), "saved")
        }
        (["teams"], "create") => {
            let t = admin.create_team(&f.get("name"))?;
            go(format!("/agent/admin/teams/{}", t.id.0), "created")
        }
        (["teams", t], op) => {
            let id = TeamId(num(t)?);
            match op {
                "rename" => {
                    admin.rename_team(id, &f.get("name"))?;
                }
                "members" => {
                    admin.set_team_members(id, &f.ids("agent"))?;
                }
                "remove" => {
                    admin.remove_team(id)?;
                    return go("/agent/admin/teams".into(), "removed");
                }
                _ => return Err(ApiError::bad_request("unknown team action")),
            }
            go(format!("/agent/admin/teams/{}", id.0), "saved")
        }
        (["agents"], "invite") => {
            let new = NewAgent {
                name: f.get("name"),
                email: f.get("email"),
                teams: f.ids("team"),
                permissions: parse_permissions(f),
            };
            let (agent, token) = admin.invite_agent(new)?;
            let url = send_invitation(app, &agent, &token, &ctx.agent.name);
            Ok(Outcome::Show(agents_screen(
                app,
                ctx,
                &Shown::default(),
                StatusCode::CREATED,
                Some((agent, url)),
            )?))
        }
        (["agents", a], op) => {
            let id = AgentId(num(a)?);
            let here = format!("/agent/admin/agents/{}", id.0);
            match op {
                "update" => {
                    let change = AgentChange {
                        name: f.get("name"),
                        email: f.get("email"),
                        teams: f.ids("team"),
                        permissions: parse_permissions(f),
                        language: super::templates::form_language(f)?,
                    };
                    admin.update_agent(id, change)?;
                    go(here, "saved")
                }
                "deactivate" => {
                    let reassign = match f.get("reassign").as_str() {
                        "leave" => Reassign::Leave,
                        "unassign" => Reassign::Unassign,
                        other => Reassign::Agent(AgentId(num(other)?)),
                    };
                    admin.deactivate_agent(id, reassign)?;
                    app.sessions().end_others(Principal::Agent(id), None);
                    go(here, "deactivated")
                }
                "reactivate" => {
                    admin.reactivate_agent(id)?;
                    go(here, "reactivated")
                }
                "reset_two_factor" => {
                    admin.reset_two_factor(id)?;
                    go(here, "two_factor_reset")
                }
                "reinvite" => {
                    let token = admin.reinvite_agent(id)?;
                    let url = send_invitation(app, &hd.agent(id)?, &token, &ctx.agent.name);
                    Ok(Outcome::Show(agent_screen(
                        app,
                        ctx,
                        id,
                        &Shown::default(),
                        StatusCode::OK,
                        Some(url),
                    )?))
                }
                _ => Err(ApiError::bad_request("unknown agent action")),
            }
        }
        (["usergroups"], "create") => {
            let g = admin.create_usergroup(&f.get("name"), parse_portal(f))?;
            go(format!("/agent/admin/usergroups/{}", g.id.0), "created")
        }
        (["usergroups", g], op) => {
            let id = UsergroupId(num(g)?);
            match op {
                "update" => {
                    admin.update_usergroup(id, &f.get("name"), parse_portal(f))?;
                    go(format!("/agent/admin/usergroups/{}", id.0), "saved")
                }
                "remove" => {
                    admin.remove_usergroup(id)?;
                    go("/agent/admin/usergroups".into(), "removed")
                }
                _ => Err(ApiError::bad_request("unknown usergroup action")),
            }
        }
        (["organisations"], "create") => {
            let o = admin.create_organisation(parse_organisation(f))?;
            go(format!("/agent/admin/organisations/{}", o.id.0), "created")
        }
        (["organisations", o], op) => {
            let id = OrganisationId(num(o)?);
            match op {
                "update" => {
                    admin.update_organisation(id, parse_organisation(f))?;
                    go(format!("/agent/admin/organisations/{}", id.0), "saved")
                }
                "remove" => {
                    admin.remove_organisation(id)?;
                    go("/agent/admin/organisations".into(), "removed")
                }
                _ => Err(ApiError::bad_request("unknown organisation action")),
            }
        }
        (["rules", rest @ ..], op) => super::rules::apply(app, ctx, admin, rest, op, f),
        (["users", rest @ ..], op) => super::users::apply(app, ctx, admin, rest, op, f),
        (["email", rest @ ..], op) => super::mail::apply(app, ctx, admin, rest, op, f),
        (["labels", rest @ ..], op) => super::labels::apply(admin, rest, op, f),
        (["templates", rest @ ..], op) => super::templates::apply(app, ctx, admin, rest, op, f),
        _ => Err(ApiError::bad_request("unknown admin action")),
    }
}

fn post(app: &App, ctx: &Ctx, source: String, path: &[&str], f: Form) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let admin = admin_of(hd, ctx.agent.id, Some(source))?;
    match apply(app, ctx, &admin, path, &f) {
        Ok(Outcome::Go(to, done)) => Ok(redirect(&ctx.hx, &format!("{to}?done={done}"))),
        Ok(Outcome::Show(r)) => Ok(r),
        // The screen again, the reason by the form, what was typed kept.
        Err(e)
            if e.status.is_client_error()
                && e.status != StatusCode::FORBIDDEN
                && e.status != StatusCode::NOT_FOUND =>
        {
            let shown =
                Shown { error: Some((f.get("op"), e.message.clone())), form: f, ..Default::default() };
            show(app, ctx, path, "", &shown, e.status)
        }
        Err(e) => Err(e),
    }
}

/// `GET`/`POST /agent/admin/...`.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    let base = || warp::path("agent").and(warp::path("admin")).and(warp::path::tail());
    let get = base()
        .and(warp::get())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(with_app(app.clone()))
        .and(auth(app.clone()))
        .and_then(|tail: warp::path::Tail, query: String, app: App, auth: Auth| async move {
            let ctx = agent_or_login!(auth);
            run(app, ctx, move |app, ctx| {
                admin_of(app.helpdesk(), ctx.agent.id, None)?;
                let path: Vec<&str> = tail.as_str().split('/').filter(|s| !s.is_empty()).collect();
                let done = serde_urlencoded::from_str::<Vec<(String, String)>>(&query)
                    .unwrap_or_default()
                    .into_iter()
                    .find(|(k, _)| k == "done")
                    .map(|(_, v)| done_text(&v).to_string());
                let shown = Shown { done, nav_first: path.is_empty(), ..Default::default() };
                show(app, ctx, &path, &query, &shown, StatusCode::OK)
            })
            .await
        })
        .boxed();
    let post_route = base()
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(auth(app))
        .and(client_key())
        .and(warp::header::optional::<String>("x-csrf-token"))
        .and(warp::body::content_length_limit(MAX_FORM))
        .and(warp::body::form::<Vec<(String, String)>>())
        .and_then(
            |tail: warp::path::Tail,
             app: App,
             auth: Auth,
             source: String,
             header: Option<String>,
             form: Vec<(String, String)>| async move {
                // Admin's home and the rule downloads take no form.
                let full = format!("/agent/admin/{}", tail.as_str());
                if matches!(
                    tail.as_str().trim_end_matches('/'),
                    "" | "rules/export.json" | "rules/export.toml"
                ) {
                    return Ok(ApiError::new(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method_not_allowed",
                        format!("POST is not allowed on {full}"),
                    )
                    .response());
                }
                let ctx = agent_or_login!(auth);
                let field = form.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.clone());
                if !ctx.csrf_ok(header.as_deref(), field.as_deref()) {
                    return Ok(html(
                        StatusCode::FORBIDDEN,
                        crate::workspace::layout::notice_pane(
                            "This form expired: reload the page and try again.",
                        ),
                    ));
                }
                run(app, ctx, move |app, ctx| {
                    let path: Vec<&str> = tail.as_str().split('/').filter(|s| !s.is_empty()).collect();
                    let form = Form(form.into_iter().filter(|(k, _)| k != "csrf").collect());
                    if form.is_empty() {
                        return Err(ApiError::bad_request("the form was empty"));
                    }
                    post(app, ctx, source, &path, form)
                })
                .await
            },
        )
        .boxed();
    get.or(post_route).unify().boxed()
}
