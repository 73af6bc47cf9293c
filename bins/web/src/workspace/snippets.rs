//! The snippets screen (`/agent/profile/snippets`, in the profile menu):
//! the snippets the agent may use, by category, with a form to make one or
//! change one of theirs (an admin: any), and delete. Inserting is in the
//! composer (type `;` and a name; `assets/workspace/workspace.js`).

use super::profile::section_nav;
use super::ticket::content_page;
use super::{error_id, field_error, Ctx, Errors};
use crate::error::ApiError;
use crate::App;
use helpdesk_core::snippets::{NewSnippet, Snippet, SnippetError, SnippetScope, PLACEHOLDERS};
use helpdesk_core::*;
use maud::{html, Markup};
use warp::http::StatusCode;
use warp::reply::Response;

/// A scope as a form value (`personal`, `department-2`, `everyone`).
pub(super) fn scope_value(s: SnippetScope) -> String {
    match s {
        SnippetScope::Personal => "personal".into(),
        SnippetScope::Everyone => "everyone".into(),
        SnippetScope::Department(d) => format!("department-{}", d.0),
    }
}

/// A form value back as a scope (anything else: personal).
pub(super) fn scope_of(v: &str) -> SnippetScope {
    match v {
        "everyone" => SnippetScope::Everyone,
        s => match s.strip_prefix("department-").and_then(|d| d.parse::<u64>().ok()) {
            Some(d) => SnippetScope::Department(DepartmentId(d)),
            None => SnippetScope::Personal,
        },
    }
}

/// Who may use a snippet or macro, for people.
pub(super) fn scope_label(app: &App, s: SnippetScope) -> String {
    match s {
        SnippetScope::Personal => "Only you".into(),
        SnippetScope::Everyone => "Everyone".into(),
        SnippetScope::Department(d) => match app.helpdesk().department(d) {
            Ok(d) => format!("{} agents", d.name),
            Err(_) => format!("department {}", d.0),
        },
    }
}

/// The screen: `editing` is the snippet in the form (new when `None`), with
/// what was typed and its errors.
fn screen(
    app: &App,
    ctx: &Ctx,
    editing: Option<SnippetId>,
    form: &NewSnippet,
    errors: &Errors,
    done: Option<&str>,
) -> Result<Markup, ApiError> {
    let hd = app.helpdesk();
    let all = hd.snippets(ctx.agent.id).list("")?;
    let depts: Vec<Department> =
        hd.departments()?.into_iter().filter(|d| ctx.agent.permissions.can_see(d.id)).collect();
    let err = |k: &str| field_error(errors, k);
    let desc = |k: &str| error_id(errors, k);
    let scope = scope_value(form.scope);
    let mut categories: Vec<(String, Vec<&Snippet>)> = Vec::new();
    let mut sorted: Vec<&Snippet> = all.iter().collect();
    sorted.sort_by_key(|s| (s.snippet.category.to_lowercase(), s.snippet.title.to_lowercase()));
    for s in sorted {
        match categories.last_mut() {
            Some((c, list)) if *c == s.snippet.category => list.push(s),
            _ => categories.push((s.snippet.category.clone(), vec![s])),
        }
    }
    let placeholders: Vec<String> = PLACEHOLDERS
        .iter()
        .map(|p| format!("{{{{{p}}}}}"))
        .chain(["{{ticket.field.KEY}}".to_string()])
        .collect();
    Ok(html! {
        article.profile-screen aria-labelledby="sn-title" {
            header.ticket-head { h1 #sn-title { "Snippets" } p.muted { "Canned texts: type ; and a name in a reply or note to insert one." } }
            (section_nav("/agent/profile/snippets"))
            @if let Some(d) = done { div.notice.info role="status" { (d) } }
            @if let Some(e) = errors.get("top") { div.notice.error role="alert" { (e) } }
            @if all.is_empty() { p.muted #sn-empty { "No snippets yet: make the first one below." } }
            @for (category, list) in &categories {
                section.snippet-group aria-label=(if category.is_empty() { "Uncategorised" } else { category.as_str() }) {
                    h2 { (if category.is_empty() { "Uncategorised" } else { category.as_str() }) }
                    ul.snippet-list {
                        @for s in list {
                            li.snippet id=(format!("snippet-{}", s.id.0)) {
                                div.snippet-head {
                                    strong { (s.snippet.title) } " " code { ";" (s.snippet.name) }
                                    span.muted { " · " (scope_label(app, s.snippet.scope)) }
                                }
                                p.snippet-body { (s.snippet.body.chars().take(160).collect::<String>()) @if s.snippet.body.chars().count() > 160 { "…" } }
                                @if s.editable_by(&ctx.agent) {
                                    div.snippet-actions {
                                        a.btn.small href=(format!("/agent/profile/snippets?edit={}", s.id.0)) hx-target="#content" hx-swap="outerHTML" { "Edit" }
                                        form.inline method="post" action="/agent/profile/snippets" hx-post="/agent/profile/snippets" hx-target="#content" hx-swap="outerHTML" {
                                            input type="hidden" name="csrf" value=(ctx.csrf);
                                            input type="hidden" name="op" value="delete";
                                            input type="hidden" name="id" value=(s.id.0);
                                            button.btn.small.danger type="submit" aria-label=(format!("Delete snippet {}", s.snippet.title)) { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 #sn-form-title { @if editing.is_some() { "Change the snippet" } @else { "New snippet" } }
            form #sn-form .form method="post" action="/agent/profile/snippets" hx-post="/agent/profile/snippets" hx-target="#content" hx-swap="outerHTML" aria-labelledby="sn-form-title" {
                input type="hidden" name="csrf" value=(ctx.csrf);
                input type="hidden" name="op" value="save";
                @if let Some(id) = editing { input type="hidden" name="id" value=(id.0); }
                div.form-grid {
                    div.form-row {
                        label for="sn-title-input" { "Title" }
                        input #sn-title-input name="title" value=(form.title) maxlength="100" required aria-describedby=[desc("title")];
                        (err("title"))
                    }
                    div.form-row {
                        label for="sn-name" { "Name (typed after ;)" }
                        input #sn-name name="name" value=(form.name) maxlength="40" pattern="[a-z0-9_-]+" required autocomplete="off" aria-describedby=(desc("name").unwrap_or_else(|| "sn-name-hint".into()));
                        p.hint #sn-name-hint { "Lower-case letters, digits, - and _." }
                        (err("name"))
                    }
                    div.form-row {
                        label for="sn-category" { "Category" }
                        input #sn-category name="category" value=(form.category) maxlength="60" aria-describedby=[desc("category")];
                        (err("category"))
                    }
                    div.form-row {
                        label for="sn-scope" { "Who may use it" }
                        select #sn-scope name="scope" aria-describedby=[desc("scope")] {
                            option value="personal" selected[scope == "personal"] { "Only you" }
                            @for d in &depts {
                                @let v = format!("department-{}", d.id.0);
                                option value=(v) selected[scope == v] { (d.name) " agents" }
                            }
                            option value="everyone" selected[scope == "everyone"] { "Everyone" }
                        }
                        (err("scope"))
                    }
                }
                div.form-row {
                    label for="sn-body" { "Text" }
                    textarea #sn-body name="body" rows="6" required aria-describedby=(desc("body").unwrap_or_else(|| "sn-body-hint".into())) { (form.body) }
                    p.hint #sn-body-hint { "Placeholders: " (placeholders.join(", ")) }
                    (err("body"))
                }
                div.form-actions {
                    button #sn-save .btn.primary type="submit" { @if editing.is_some() { "Save snippet" } @else { "Add snippet" } }
                    @if editing.is_some() { " " a.btn href="/agent/profile/snippets" hx-target="#content" hx-swap="outerHTML" { "Cancel" } }
                }
            }
        }
    })
}

fn blank() -> NewSnippet {
    NewSnippet {
        name: String::new(),
        title: String::new(),
        category: String::new(),
        body: String::new(),
        scope: SnippetScope::Personal,
    }
}

/// `GET /agent/profile/snippets[?edit=ID]`.
pub fn show(app: &App, ctx: &Ctx, edit: Option<u64>) -> Result<Markup, ApiError> {
    let (editing, form) = match edit {
        Some(id) => {
            let s = app.helpdesk().snippets(ctx.agent.id).get(SnippetId(id))?;
            (Some(s.id), s.snippet)
        }
        None => (None, blank()),
    };
    screen(app, ctx, editing, &form, &Errors::new(), None)
}

fn field_of(e: &SnippetError) -> &'static str {
    match e {
        SnippetError::BadName(_) | SnippetError::NameTaken(_) => "name",
        SnippetError::BadTitle => "title",
        SnippetError::BadCategory => "category",
        SnippetError::BadBody | SnippetError::UnknownPlaceholder(_) | SnippetError::Unclosed(_) => "body",
        SnippetError::DepartmentNotAllowed(_) => "scope",
        _ => "top",
    }
}

/// `POST /agent/profile/snippets`: `op=save` (with `id` to change one) or `op=delete`.
pub fn save(app: &App, ctx: &Ctx, form: &[(String, String)]) -> Result<Response, ApiError> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let snippets = app.helpdesk().snippets(ctx.agent.id);
    let id = get("id").trim().parse::<u64>().ok().map(SnippetId);
    if get("op") == "delete" {
        let Some(id) = id else { return Err(ApiError::invalid("Which snippet?")) };
        let title = snippets.get(id).map(|s| s.snippet.title).unwrap_or_default();
        snippets.delete(id)?;
        let body = screen(app, ctx, None, &blank(), &Errors::new(), Some(&format!("Deleted “{title}”.")))?;
        return content_page(app, ctx, body, StatusCode::OK);
    }
    let scope = scope_of(&get("scope"));
    let new = NewSnippet {
        name: get("name"),
        title: get("title"),
        category: get("category"),
        body: get("body"),
        scope,
    };
    let done = match id {
        Some(id) => snippets.update(id, new.clone()),
        None => snippets.create(new.clone()),
    };
    match done {
        Ok(s) => {
            let text =
                format!("Saved “{}”: type ;{} in a reply to insert it.", s.snippet.title, s.snippet.name);
            let body = screen(app, ctx, None, &blank(), &Errors::new(), Some(&text))?;
            content_page(app, ctx, body, StatusCode::OK)
        }
        Err(helpdesk_store::Error::Snippet(e)) => {
            let status = match e {
                SnippetError::NotFound(_) => StatusCode::NOT_FOUND,
                SnippetError::NotYours(_) | SnippetError::DepartmentNotAllowed(_) => StatusCode::FORBIDDEN,
                SnippetError::NameTaken(_) => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let errors: Errors = [(field_of(&e).to_string(), e.to_string())].into();
            let body = screen(app, ctx, id, &new, &errors, None)?;
            content_page(app, ctx, body, status)
        }
        Err(e) => Err(e.into()),
    }
}
