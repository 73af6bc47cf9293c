//! Macros in the workspace: the screen (`/agent/profile/macros`, in the
//! profile menu) listing the macros the agent may use with a form to make
//! one or change one of theirs (an admin: any), and the ticket's macro
//! menu: pick one, see what it would change, apply it.
//!
//! The form shows the actions people use every day (reply from a snippet
//! or a text, note, status, urgency, agent, team, labels, follow); a
//! macro made through the API with other actions (a custom field, a
//! department, raising the urgency) keeps them when saved here, listed
//! under the form.

use super::list::{status_name, Names};
use super::profile::section_nav;
use super::snippets::{scope_label, scope_of, scope_value};
use super::ticket::content_page;
use super::ticket::excerpt_of;
use super::{error_id, field_error, Ctx, Errors};
use crate::error::ApiError;
use crate::App;
use helpdesk_core::macros::{AgentRef, Macro, MacroAction, MacroError, NewMacro, StepOutcome};
use helpdesk_core::*;
use maud::{html, Markup};
use warp::http::StatusCode;
use warp::reply::Response;

/// What the form edits: the everyday actions, each optional.
#[derive(Debug, Clone, Default, PartialEq)]
struct Form {
    name: String,
    description: String,
    scope: String,
    agent: String,
    team: String,
    add_labels: String,
    remove_labels: String,
    urgency: String,
    note: String,
    reply_snippet: String,
    reply_body: String,
    status: String,
    follow: bool,
    /// Actions the form does not show, kept as they are.
    other: Vec<MacroAction>,
}

impl Form {
    fn of(m: &NewMacro) -> Form {
        let mut f = Form {
            name: m.name.clone(),
            description: m.description.clone(),
            scope: scope_value(m.scope),
            ..Form::default()
        };
        let mut add = Vec::new();
        let mut remove = Vec::new();
        for a in &m.actions {
            match a {
                MacroAction::SetAgent { agent } if f.agent.is_empty() => {
                    f.agent = match agent {
                        None => "none".into(),
                        Some(AgentRef::Me) => "me".into(),
                        Some(AgentRef::Agent(a)) => a.0.to_string(),
                    }
                }
                MacroAction::SetTeam { team } if f.team.is_empty() => {
                    f.team = team.map(|t| t.to_string()).unwrap_or_else(|| "none".into())
                }
                MacroAction::AddLabel { label } => add.push(label.clone()),
                MacroAction::RemoveLabel { label } => remove.push(label.clone()),
                MacroAction::SetUrgency { urgency } if f.urgency.is_empty() => {
                    f.urgency = urgency.to_string()
                }
                MacroAction::AddNote { body } if f.note.is_empty() => f.note = body.clone(),
                MacroAction::Reply { snippet, body } => {
                    f.reply_snippet = snippet.map(|s| s.0.to_string()).unwrap_or_default();
                    f.reply_body = body.clone().unwrap_or_default();
                }
                MacroAction::SetStatus { status } if f.status.is_empty() => f.status = status.clone(),
                MacroAction::AddFollower { agent: AgentRef::Me } if !f.follow => f.follow = true,
                other => f.other.push(other.clone()),
            }
        }
        f.add_labels = add.join(", ");
        f.remove_labels = remove.join(", ");
        f
    }

    fn read(form: &[(String, String)], kept: Vec<MacroAction>) -> Form {
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        Form {
            name: get("name"),
            description: get("description"),
            scope: get("scope"),
            agent: get("agent"),
            team: get("team"),
            add_labels: get("add_labels"),
            remove_labels: get("remove_labels"),
            urgency: get("urgency"),
            note: get("note"),
            reply_snippet: get("reply_snippet"),
            reply_body: get("reply_body"),
            status: get("status"),
            follow: !get("follow").is_empty(),
            other: kept,
        }
    }

    /// The macro the form describes, or the field and problem of a value
    /// that is not a choice it offered.
    fn to_macro(&self) -> Result<NewMacro, (&'static str, String)> {
        let id = |field: &'static str, v: &str| -> Result<u64, (&'static str, String)> {
            v.trim().parse().map_err(|_| (field, format!("Choose a valid {field}.")))
        };
        let mut actions = Vec::new();
        match self.agent.trim() {
            "" => {}
            "me" => actions.push(MacroAction::SetAgent { agent: Some(AgentRef::Me) }),
            "none" => actions.push(MacroAction::SetAgent { agent: None }),
            v => {
                actions.push(MacroAction::SetAgent { agent: Some(AgentRef::Agent(AgentId(id("agent", v)?))) })
            }
        }
        match self.team.trim() {
            "" => {}
            "none" => actions.push(MacroAction::SetTeam { team: None }),
            v => actions.push(MacroAction::SetTeam { team: Some(id("team", v)?) }),
        }
        let labels = |s: &str| -> Vec<String> {
            s.split(',').map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
        };
        actions.extend(labels(&self.add_labels).into_iter().map(|label| MacroAction::AddLabel { label }));
        actions
            .extend(labels(&self.remove_labels).into_iter().map(|label| MacroAction::RemoveLabel { label }));
        if !self.urgency.trim().is_empty() {
            let u = self
                .urgency
                .trim()
                .parse()
                .map_err(|_| ("urgency", "Choose an urgency from 1 to 10.".into()))?;
            actions.push(MacroAction::SetUrgency { urgency: u });
        }
        if !self.note.trim().is_empty() {
            actions.push(MacroAction::AddNote { body: self.note.clone() });
        }
        match (self.reply_snippet.trim(), self.reply_body.trim()) {
            ("", "") => {}
            ("", _) => {
                actions.push(MacroAction::Reply { snippet: None, body: Some(self.reply_body.clone()) })
            }
            (s, "") => {
                actions.push(MacroAction::Reply { snippet: Some(SnippetId(id("snippet", s)?)), body: None })
            }
            _ => return Err(("reply", "Reply with a snippet or with a text, not both.".into())),
        }
        if !self.status.trim().is_empty() {
            actions.push(MacroAction::SetStatus { status: self.status.trim().to_string() });
        }
        if self.follow {
            actions.push(MacroAction::AddFollower { agent: AgentRef::Me });
        }
        actions.extend(self.other.iter().cloned());
        Ok(NewMacro {
            name: self.name.clone(),
            description: self.description.clone(),
            scope: scope_of(&self.scope),
            actions,
        })
    }
}

/// One action, for people (`Assign: the agent applying it`).
pub fn action_text(app: &App, me: AgentId, names: &Names, a: &MacroAction) -> String {
    let short = |s: &str| format!("“{}”", excerpt_of(s, 60));
    let agent = |a: &AgentRef| match a {
        AgentRef::Me => "the agent applying it".to_string(),
        AgentRef::Agent(a) => names.agent(*a),
    };
    match a {
        MacroAction::Reply { snippet: Some(s), .. } => {
            let title = app.helpdesk().snippets(me).get(*s).map(|s| s.snippet.title);
            format!(
                "Reply with snippet {}",
                title.map(|t| format!("“{t}”")).unwrap_or_else(|_| s.to_string())
            )
        }
        MacroAction::Reply { body, .. } => format!("Reply {}", short(body.as_deref().unwrap_or_default())),
        MacroAction::AddNote { body } => format!("Note {}", short(body)),
        MacroAction::SetStatus { status } => {
            format!("Status: {}", status.parse::<Status>().map(status_name).unwrap_or(status.as_str()))
        }
        MacroAction::SetUrgency { urgency } => format!("Urgency: {urgency}"),
        MacroAction::RaiseUrgency { by } => format!("Raise urgency by {by}"),
        MacroAction::LowerUrgency { by } => format!("Lower urgency by {by}"),
        MacroAction::SetDepartment { department } => {
            format!("Department: {}", names.department(DepartmentId(*department)))
        }
        MacroAction::SetAgent { agent: Some(a) } => format!("Assign: {}", agent(a)),
        MacroAction::SetAgent { agent: None } => "Unassign the agent".into(),
        MacroAction::SetTeam { team: Some(t) } => format!("Team: {}", names.team(TeamId(*t))),
        MacroAction::SetTeam { team: None } => "Remove the team".into(),
        MacroAction::AddLabel { label } => format!("Add label “{label}”"),
        MacroAction::RemoveLabel { label } => format!("Remove label “{label}”"),
        MacroAction::SetField { key, value } => format!("Field {key}: {value}"),
        MacroAction::AddFollower { agent: a } => format!("Follower: {}", agent(a)),
    }
}

/// What one step of a preview changes, for people.
pub fn step_lines(names: &mut Names, step: &StepOutcome) -> Vec<String> {
    if step.changes.is_empty() {
        return vec![format!("{}: nothing more to change", step.action.replace('_', " "))];
    }
    step.changes
        .iter()
        .filter_map(|c| match c {
            Change::MessageAdded { message } => {
                Some(format!("replies: “{}”", excerpt_of(&message.body, 120)))
            }
            Change::NoteAdded { note } => Some(format!("adds a note: “{}”", excerpt_of(&note.body, 120))),
            c => super::ticket::describe(names, c),
        })
        .collect()
}

fn screen(
    app: &App,
    ctx: &Ctx,
    editing: Option<MacroId>,
    form: &Form,
    errors: &Errors,
    done: Option<&str>,
) -> Result<Markup, ApiError> {
    let hd = app.helpdesk();
    let all = hd.macros(ctx.agent.id).list("")?;
    let names = Names::new(hd)?;
    let depts: Vec<Department> =
        hd.departments()?.into_iter().filter(|d| ctx.agent.permissions.can_see(d.id)).collect();
    let agents: Vec<Agent> = hd.agents()?.into_iter().filter(|a| !a.disabled).collect();
    let teams = hd.teams()?;
    let snippets = hd.snippets(ctx.agent.id).list("")?;
    let err = |k: &str| field_error(errors, k);
    let desc = |k: &str| error_id(errors, k);
    let statuses = [Status::AwaitingAgent, Status::AwaitingUser, Status::Pending, Status::Resolved];
    Ok(html! {
        article.profile-screen aria-labelledby="mc-title" {
            header.ticket-head { h1 #mc-title { "Macros" } p.muted { "One click on a ticket applies a set of actions: pick one under Macros in the ticket's header." } }
            (section_nav("/agent/profile/macros"))
            @if let Some(d) = done { div.notice.info role="status" { (d) } }
            @if let Some(e) = errors.get("top") { div.notice.error role="alert" { (e) } }
            @if all.is_empty() { p.muted #mc-empty { "No macros yet: make the first one below." } }
            ul.snippet-list {
                @for m in &all {
                    li.snippet id=(format!("macro-{}", m.id.0)) {
                        div.snippet-head {
                            strong { (m.r#macro.name) }
                            span.muted { " · " (scope_label(app, m.r#macro.scope)) }
                        }
                        @if !m.r#macro.description.is_empty() { p.snippet-body { (m.r#macro.description) } }
                        ul.macro-actions {
                            @for a in &m.r#macro.actions { li { (action_text(app, ctx.agent.id, &names, a)) } }
                        }
                        @if m.editable_by(&ctx.agent) {
                            div.snippet-actions {
                                a.btn.small href=(format!("/agent/profile/macros?edit={}", m.id.0)) hx-target="#content" hx-swap="outerHTML" { "Edit" }
                                form.inline method="post" action="/agent/profile/macros" hx-post="/agent/profile/macros" hx-target="#content" hx-swap="outerHTML" {
                                    input type="hidden" name="csrf" value=(ctx.csrf);
                                    input type="hidden" name="op" value="delete";
                                    input type="hidden" name="id" value=(m.id.0);
                                    button.btn.small.danger type="submit" aria-label=(format!("Delete macro {}", m.r#macro.name)) { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
            h2 #mc-form-title { @if editing.is_some() { "Change the macro" } @else { "New macro" } }
            form #mc-form .form method="post" action="/agent/profile/macros" hx-post="/agent/profile/macros" hx-target="#content" hx-swap="outerHTML" aria-labelledby="mc-form-title" {
                input type="hidden" name="csrf" value=(ctx.csrf);
                input type="hidden" name="op" value="save";
                @if let Some(id) = editing { input type="hidden" name="id" value=(id.0); }
                div.form-grid {
                    div.form-row {
                        label for="mc-name" { "Name" }
                        input #mc-name name="name" value=(form.name) maxlength="100" required aria-describedby=[desc("name")];
                        (err("name"))
                    }
                    div.form-row {
                        label for="mc-scope" { "Who may use it" }
                        select #mc-scope name="scope" aria-describedby=[desc("scope")] {
                            option value="personal" selected[form.scope == "personal"] { "Only you" }
                            @for d in &depts {
                                @let v = format!("department-{}", d.id.0);
                                option value=(v) selected[form.scope == v] { (d.name) " agents" }
                            }
                            option value="everyone" selected[form.scope == "everyone"] { "Everyone" }
                        }
                        (err("scope"))
                    }
                }
                div.form-row {
                    label for="mc-description" { "Description (optional)" }
                    input #mc-description name="description" value=(form.description) maxlength="300" aria-describedby=[desc("description")];
                    (err("description"))
                }
                fieldset.macro-fields {
                    legend { "What it does (leave a field empty to leave that alone)" }
                    div.form-grid {
                        div.form-row {
                            label for="mc-agent" { "Assign agent" }
                            select #mc-agent name="agent" aria-describedby=[desc("agent")] {
                                option value="" selected[form.agent.is_empty()] { "— Leave as is —" }
                                option value="me" selected[form.agent == "me"] { "The agent applying it" }
                                option value="none" selected[form.agent == "none"] { "Nobody (unassign)" }
                                @for a in &agents { option value=(a.id.0) selected[form.agent == a.id.0.to_string()] { (a.name) } }
                            }
                            (err("agent"))
                        }
                        div.form-row {
                            label for="mc-team" { "Team" }
                            select #mc-team name="team" aria-describedby=[desc("team")] {
                                option value="" selected[form.team.is_empty()] { "— Leave as is —" }
                                option value="none" selected[form.team == "none"] { "No team" }
                                @for t in &teams { option value=(t.id.0) selected[form.team == t.id.0.to_string()] { (t.name) } }
                            }
                            (err("team"))
                        }
                        div.form-row {
                            label for="mc-status" { "Status" }
                            select #mc-status name="status" aria-describedby=[desc("status")] {
                                option value="" selected[form.status.is_empty()] { "— Leave as is —" }
                                @for s in statuses { option value=(s.as_str()) selected[form.status == s.as_str()] { (status_name(s)) } }
                            }
                            (err("status"))
                        }
                        div.form-row {
                            label for="mc-urgency" { "Urgency" }
                            select #mc-urgency name="urgency" aria-describedby=[desc("urgency")] {
                                option value="" selected[form.urgency.is_empty()] { "— Leave as is —" }
                                @for u in (1..=10).rev() { option value=(u) selected[form.urgency == u.to_string()] { (u) } }
                            }
                            (err("urgency"))
                        }
                        div.form-row {
                            label for="mc-add-labels" { "Add labels (comma between)" }
                            input #mc-add-labels name="add_labels" value=(form.add_labels) autocomplete="off" aria-describedby=[desc("add_labels")];
                            (err("add_labels"))
                        }
                        div.form-row {
                            label for="mc-remove-labels" { "Remove labels (comma between)" }
                            input #mc-remove-labels name="remove_labels" value=(form.remove_labels) autocomplete="off" aria-describedby=[desc("remove_labels")];
                            (err("remove_labels"))
                        }
                    }
                    div.form-row {
                        label for="mc-reply-snippet" { "Reply with a snippet" }
                        select #mc-reply-snippet name="reply_snippet" aria-describedby=[desc("reply")] {
                            option value="" selected[form.reply_snippet.is_empty()] { "— No snippet —" }
                            @for s in &snippets { option value=(s.id.0) selected[form.reply_snippet == s.id.0.to_string()] { (s.snippet.title) " (;" (s.snippet.name) ")" } }
                        }
                    }
                    div.form-row {
                        label for="mc-reply-body" { "… or with this text" }
                        textarea #mc-reply-body name="reply_body" rows="4" aria-describedby=(desc("reply").unwrap_or_else(|| "mc-reply-hint".into())) { (form.reply_body) }
                        p.hint #mc-reply-hint { "Placeholders as in snippets: {{user.first_name}}, {{ticket.id}}, {{agent.name}}, …" }
                        (err("reply"))
                    }
                    div.form-row {
                        label for="mc-note" { "Add a note (agents only)" }
                        textarea #mc-note name="note" rows="2" aria-describedby=[desc("note")] { (form.note) }
                        (err("note"))
                    }
                    div.form-row {
                        label.check { input type="checkbox" name="follow" value="1" checked[form.follow]; " The agent applying it follows the ticket" }
                    }
                    @if !form.other.is_empty() {
                        div.form-row #mc-other {
                            p { "Also kept (set through the API):" }
                            ul.macro-actions { @for a in &form.other { li { (action_text(app, ctx.agent.id, &names, a)) } } }
                        }
                    }
                }
                div.form-actions {
                    button #mc-save .btn.primary type="submit" { @if editing.is_some() { "Save macro" } @else { "Add macro" } }
                    @if editing.is_some() { " " a.btn href="/agent/profile/macros" hx-target="#content" hx-swap="outerHTML" { "Cancel" } }
                }
            }
        }
    })
}

fn blank() -> Form {
    Form { scope: "personal".into(), ..Form::default() }
}

/// `GET /agent/profile/macros[?edit=ID]`.
pub fn show(app: &App, ctx: &Ctx, edit: Option<u64>) -> Result<Markup, ApiError> {
    let (editing, form) = match edit {
        Some(id) => {
            let m = app.helpdesk().macros(ctx.agent.id).get(MacroId(id))?;
            (Some(m.id), Form::of(&m.r#macro))
        }
        None => (None, blank()),
    };
    screen(app, ctx, editing, &form, &Errors::new(), None)
}

fn field_of(e: &MacroError) -> &'static str {
    match e {
        MacroError::BadName | MacroError::NameTaken(_) => "name",
        MacroError::BadDescription => "description",
        MacroError::DepartmentNotAllowed(_) => "scope",
        MacroError::TwoReplies => "reply",
        MacroError::BadAction { action, .. } => match *action {
            "reply" => "reply",
            "add_note" => "note",
            "set_status" => "status",
            "set_urgency" => "urgency",
            "set_agent" => "agent",
            "set_team" => "team",
            "add_label" => "add_labels",
            "remove_label" => "remove_labels",
            _ => "top",
        },
        _ => "top",
    }
}

/// `POST /agent/profile/macros`: `op=save` (with `id` to change one) or `op=delete`.
pub fn save(app: &App, ctx: &Ctx, form: &[(String, String)]) -> Result<Response, ApiError> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let macros = app.helpdesk().macros(ctx.agent.id);
    let id = get("id").trim().parse::<u64>().ok().map(MacroId);
    if get("op") == "delete" {
        let Some(id) = id else { return Err(ApiError::invalid("Which macro?")) };
        let name = macros.get(id).map(|m| m.r#macro.name).unwrap_or_default();
        macros.delete(id)?;
        let body = screen(app, ctx, None, &blank(), &Errors::new(), Some(&format!("Deleted “{name}”.")))?;
        return content_page(app, ctx, body, StatusCode::OK);
    }
    // What the form does not show stays as it was.
    let kept = match id {
        Some(id) => Form::of(&macros.get(id)?.r#macro).other,
        None => Vec::new(),
    };
    let typed = Form::read(form, kept);
    let refuse = |field: &str, text: String, status: StatusCode| -> Result<Response, ApiError> {
        let errors: Errors = [(field.to_string(), text)].into();
        let body = screen(app, ctx, id, &typed, &errors, None)?;
        content_page(app, ctx, body, status)
    };
    let new = match typed.to_macro() {
        Ok(m) => m,
        Err((field, text)) => return refuse(field, text, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let done: Result<Macro, _> = match id {
        Some(id) => macros.update(id, new),
        None => macros.create(new),
    };
    match done {
        Ok(m) => {
            let text = format!("Saved “{}”: it is under Macros on every ticket you open.", m.r#macro.name);
            let body = screen(app, ctx, None, &blank(), &Errors::new(), Some(&text))?;
            content_page(app, ctx, body, StatusCode::OK)
        }
        Err(helpdesk_store::Error::Macro(e)) => {
            let status = ApiError::from(helpdesk_store::Error::Macro(e.clone())).status;
            let text = match &e {
                MacroError::ActionCount(0) => "Choose at least one thing for the macro to do.".to_string(),
                e => e.to_string(),
            };
            refuse(field_of(&e), text, status)
        }
        Err(e) => Err(e.into()),
    }
}

/// The ticket header's macro menu: the macros the agent may use.
pub fn menu(app: &App, ctx: &Ctx, t: &Ticket) -> Result<Markup, ApiError> {
    let all = app.helpdesk().macros(ctx.agent.id).list("")?;
    if all.is_empty() || t.status.is_hidden() {
        return Ok(html! {});
    }
    let id = t.id.0;
    let sid = format!("macro-pick-{id}");
    Ok(super::ticket::action_form(
        t,
        ctx,
        "inline macro-form",
        html! {
            input type="hidden" name="action" value="macro_preview";
            label.vh for=(sid) { "Macro" }
            select id=(sid) name="value" {
                option value="" { "Macros…" }
                @for m in &all { option value=(m.id.0) title=(m.r#macro.description) { (m.r#macro.name) } }
            }
            button.btn.small type="submit" { "Preview" }
        },
    ))
}

/// The preview of a macro on a ticket: what each action would change, with
/// Apply (at the version previewed) and Cancel.
pub fn preview_panel(
    app: &App,
    ctx: &Ctx,
    t: &Ticket,
    m: &Macro,
    steps: &[StepOutcome],
) -> Result<Markup, ApiError> {
    let mut names = Names::new(app.helpdesk())?;
    let id = t.id.0;
    let lines: Vec<String> = steps.iter().flat_map(|s| step_lines(&mut names, s)).collect();
    let changes = steps.iter().any(|s| !s.changes.is_empty());
    Ok(html! {
        section.macro-preview role="region" aria-labelledby=(format!("macro-preview-{id}")) {
            h2 id=(format!("macro-preview-{id}")) { "Preview of “" (m.r#macro.name) "”" }
            p { "Applying it puts these changes in the log, as one group:" }
            ul { @for l in &lines { li { (l) } } }
            div.form-actions {
                @if changes {
                    (super::ticket::action_form(t, ctx, "inline", html! {
                        input type="hidden" name="action" value="macro_apply";
                        input type="hidden" name="value" value=(m.id.0);
                        button.btn.primary.small type="submit" autofocus { "Apply macro" }
                    }))
                } @else {
                    p.muted { "Nothing to change: the ticket already is as this macro leaves it." }
                }
                a.btn.small href=(format!("/agent/tickets/{id}")) hx-target=(format!("#ticket-live-{id}")) hx-swap="outerHTML" { "Cancel" }
            }
        }
    })
}
