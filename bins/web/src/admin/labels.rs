//! Admin > Labels: the labels the helpdesk knows (offered to agents while
//! labelling a ticket), how many tickets carry each, renaming one on every
//! ticket, removing one (and taking it off the tickets, or not).
//!
//! | URL | screen |
//! | --- | --- |
//! | `/agent/admin/labels` | the labels, adding one |
//! | `/agent/admin/labels/{name}` | one label: description, rename, removal |

use super::pages::{checkbox, csrf, op, screen, Form, Outcome, Section, Shown};
use super::rules::{path_segment, segment};
use crate::error::ApiError;
use crate::workspace::Ctx;
use crate::App;
use helpdesk_core::admin::LabelDef;
use helpdesk_store::Admin;
use maud::{html, Markup};
use warp::http::StatusCode;
use warp::reply::Response;

/// `GET /agent/admin/labels...`.
pub(super) fn show(
    app: &App,
    ctx: &Ctx,
    rest: &[&str],
    shown: &Shown,
    status: StatusCode,
) -> Result<Response, ApiError> {
    match rest {
        [] => labels_screen(app, ctx, shown, status),
        [name] => label_screen(app, ctx, &segment(name)?, shown, status),
        _ => Err(ApiError::not_found("There is no such admin screen.")),
    }
}

fn uses(app: &App, name: &str) -> Result<String, ApiError> {
    let c = app.helpdesk().label_uses(name)?;
    Ok(if c.exact { c.count.to_string() } else { format!("{}+", c.count) })
}

fn label_inputs(shown: &Shown, op: &str, l: Option<&LabelDef>) -> Markup {
    let x = |s: &str| format!("{op}-{s}");
    html! {
        div.form-grid {
            div.form-row {
                label for=(x("name")) { "Label" }
                input id=(x("name")) type="text" name="name" required maxlength="64" value=(shown.value(op, "name", l.map(|l| l.name.as_str()).unwrap_or("")));
            }
            div.form-row {
                label for=(x("description")) { "What it means" }
                input id=(x("description")) type="text" name="description" maxlength="500" placeholder="When agents use it" value=(shown.value(op, "description", l.map(|l| l.description.as_str()).unwrap_or("")));
            }
        }
    }
}

fn labels_screen(app: &App, ctx: &Ctx, shown: &Shown, status: StatusCode) -> Result<Response, ApiError> {
    let labels = app.helpdesk().labels()?;
    let mut rows = Vec::new();
    for l in &labels {
        rows.push((l, uses(app, &l.name)?));
    }
    let body = html! {
        p.muted { "Agents are offered these labels when they label a ticket; they may still type new ones." }
        @if rows.is_empty() {
            p.empty { "No labels defined yet." }
        } @else {
            div.table-wrap {
                table.admin-table {
                    caption.vh { "Labels" }
                    thead { tr { th scope="col" { "Label" } th scope="col" { "What it means" } th scope="col" .num { "Tickets" } } }
                    tbody {
                        @for (l, n) in &rows {
                            tr {
                                td { a href=(format!("/agent/admin/labels/{}", path_segment(&l.name))) { (l.name) } }
                                td { (l.description) }
                                td.num { (n) }
                            }
                        }
                    }
                }
            }
        }
        form #label-create .form method="post" action="/agent/admin/labels" {
            (csrf(ctx)) (op("create"))
            h2 { "Add a label" }
            (shown.error_for("create"))
            (label_inputs(shown, "create", None))
            div.form-actions { button.btn.primary type="submit" { "Add label" } }
        }
    };
    screen(app, ctx, Section::Labels, "Labels", shown, status, body)
}

fn label_screen(
    app: &App,
    ctx: &Ctx,
    name: &str,
    shown: &Shown,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let l = app
        .helpdesk()
        .label(name)?
        .ok_or_else(|| ApiError::not_found(format!("There is no label {name:?}.")))?;
    let n = uses(app, &l.name)?;
    let base = format!("/agent/admin/labels/{}", path_segment(&l.name));
    let body = html! {
        p.muted { (n) " tickets carry it." }
        form #label-edit .form method="post" action=(base) {
            (csrf(ctx)) (op("update"))
            (shown.error_for("update"))
            (label_inputs(shown, "update", Some(&l)))
            p.hint { "A new name is put on every ticket that carries this label (each change in the ticket's log). Renaming it to a label that exists merges the two." }
            div.form-actions { button.btn.primary type="submit" { "Save label" } }
        }
        section.admin-section.danger-zone {
            h2 { "Remove this label" }
            (shown.error_for("remove"))
            form #label-remove method="post" action=(base) {
                (csrf(ctx)) (op("remove"))
                div.checks { (checkbox("from_tickets", "on", "Also take it off the tickets that carry it (deleted and spam tickets keep it)", false, "label-from-tickets")) }
                button.btn.danger type="submit" { "Remove " (l.name) }
            }
        }
    };
    screen(app, ctx, Section::Labels, &l.name, shown, status, body)
}

/// `POST /agent/admin/labels...`.
pub(super) fn apply(admin: &Admin<'_>, rest: &[&str], op: &str, f: &Form) -> Result<Outcome, ApiError> {
    let def = || LabelDef { name: f.get("name"), description: f.get("description") };
    match (rest, op) {
        ([], "create") => {
            let l = admin.create_label(def())?;
            Ok(Outcome::Go(format!("/agent/admin/labels/{}", path_segment(&l.name)), "created"))
        }
        ([name], "update") => {
            let changed = admin.update_label(&segment(name)?, def())?;
            let to = changed.label.map(|l| l.name).unwrap_or_default();
            Ok(Outcome::Go(format!("/agent/admin/labels/{}", path_segment(&to)), "saved"))
        }
        ([name], "remove") => {
            admin.remove_label(&segment(name)?, f.on("from_tickets"))?;
            Ok(Outcome::Go("/agent/admin/labels".into(), "removed"))
        }
        _ => Err(ApiError::bad_request("unknown label action")),
    }
}
