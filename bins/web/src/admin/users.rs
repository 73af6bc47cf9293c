//! Admin > Users: find a user, change their profile, merge another user
//! into them, block them (and mark their tickets as spam).
//!
//! | URL | screen |
//! | --- | --- |
//! | `/agent/admin/users?q=` | search by name or address |
//! | `/agent/admin/users/{id}` | edit, merge, block or unblock |

use super::pages::{checkbox, csrf, op, screen, Form, Outcome, Section, Shown};
use crate::error::ApiError;
use crate::workspace::Ctx;
use crate::App;
use helpdesk_core::*;
use helpdesk_store::admin::UserChange;
use helpdesk_store::Admin;
use maud::{html, Markup};
use warp::http::StatusCode;
use warp::reply::Response;

/// Users a search shows.
const SHOWN: usize = 50;

fn num(s: &str) -> Result<u64, ApiError> {
    super::pages::path_id(s, "There is no such user.")
}

/// `GET /agent/admin/users...`.
pub(super) fn show(
    app: &App,
    ctx: &Ctx,
    rest: &[&str],
    query: &str,
    shown: &Shown,
    status: StatusCode,
) -> Result<Response, ApiError> {
    match rest {
        [] => {
            let q = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
                .unwrap_or_default()
                .into_iter()
                .find(|(k, _)| k == "q")
                .map(|(_, v)| v)
                .unwrap_or_default();
            users_screen(app, ctx, &q, shown, status)
        }
        [u] => user_screen(app, ctx, UserId(num(u)?), shown, status, None),
        _ => Err(ApiError::not_found("There is no such admin screen.")),
    }
}

fn users_screen(
    app: &App,
    ctx: &Ctx,
    q: &str,
    shown: &Shown,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let users = hd.find_users(q, SHOWN + 1)?;
    let more = users.len() > SHOWN;
    let orgs = hd.organisations()?;
    let org = |o: Option<OrganisationId>| {
        o.and_then(|o| orgs.iter().find(|x| x.id == o)).map(|o| o.name.clone()).unwrap_or_default()
    };
    let body = html! {
        form #user-search .filter-bar method="get" action="/agent/admin/users" role="search" aria-label="Find users" {
            div.form-row {
                label for="user-q" { "Name or address" }
                input #user-q type="search" name="q" value=(q) placeholder="ann@acme.example, Ann";
            }
            div.form-actions { button.btn type="submit" { "Find" } }
        }
        @if users.is_empty() {
            p.empty { @if q.trim().is_empty() { "No users yet." } @else { "No user's name or address contains “" (q.trim()) "”." } }
        } @else {
            div.table-wrap {
                table.admin-table {
                    caption.vh { "Users" }
                    thead { tr { th scope="col" { "User" } th scope="col" { "Organisation" } th scope="col" { "Status" } } }
                    tbody {
                        @for u in users.iter().take(SHOWN) {
                            tr.retired[u.blocked] {
                                td { a href=(format!("/agent/admin/users/{}", u.id.0)) { (u.name) } br; span.muted { (u.emails.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")) } }
                                td { (org(u.organisation)) }
                                td { (if u.blocked { "Blocked" } else if u.validated { "Active" } else { "Address not confirmed" }) }
                            }
                        }
                    }
                }
            }
            @if more { p.muted { "Showing the first " (SHOWN) ": type more of a name or an address." } }
        }
    };
    screen(app, ctx, Section::Users, "Users", shown, status, body)
}

fn user_inputs(app: &App, shown: &Shown, u: &User) -> Result<Markup, ApiError> {
    let hd = app.helpdesk();
    let orgs = hd.organisations()?;
    let groups = hd.usergroups()?;
    let typed = shown.typed("update");
    let emails = u.emails.iter().map(|e| e.as_str()).collect::<Vec<_>>().join("\n");
    let org =
        shown.value("update", "organisation", &u.organisation.map(|o| o.0.to_string()).unwrap_or_default());
    Ok(html! {
        div.form-grid {
            div.form-row { label for="user-name" { "Name" } input #user-name type="text" name="name" required maxlength="200" value=(shown.value("update", "name", &u.name)); }
            div.form-row { label for="user-phone" { "Phone" } input #user-phone type="tel" name="phone" maxlength="50" value=(shown.value("update", "phone", u.phone.as_deref().unwrap_or(""))); }
            (super::templates::person_language_select(hd, "user-language", &shown.value("update", "language", u.language.as_ref().map(|l| l.as_str()).unwrap_or("")))?)
        }
        div.form-row {
            label for="user-emails" { "Email addresses" }
            textarea #user-emails name="emails" rows="2" required { (shown.value("update", "emails", &emails)) }
            p.hint { "One per line; the first is where mail goes. Mail from any of them lands on this user's tickets." }
        }
        div.form-row {
            label for="user-org" { "Organisation" }
            select #user-org name="organisation" {
                option value="" { "None" }
                @for o in &orgs { option value=(o.id.0) selected[org == o.id.0.to_string()] { (o.name) } }
            }
        }
        @if !groups.is_empty() {
            fieldset.checks {
                legend { "Usergroups" }
                @for g in &groups {
                    @let on = if typed { shown.form.all("usergroup").contains(&g.id.0.to_string()) } else { u.usergroups.contains(&g.id) };
                    (checkbox("usergroup", &g.id.0.to_string(), &g.name, on, &format!("user-group-{}", g.id.0)))
                }
            }
        }
    })
}

fn user_screen(
    app: &App,
    ctx: &Ctx,
    id: UserId,
    shown: &Shown,
    status: StatusCode,
    merging: Option<&User>,
) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let u = hd.user(id)?;
    if u.id != id {
        // A merged user's id: the screen is the kept user's.
        return Err(ApiError::not_found(format!(
            "User {} was merged into {} (user {}).",
            id.0, u.name, u.id.0
        )));
    }
    let base = format!("/agent/admin/users/{}", id.0);
    let owned =
        hd.tickets_of_user(id, None, 1000)?.iter().filter(|t| t.user == id && !t.status.is_hidden()).count();
    let merged_in = hd.merged_users_of(id)?;
    let body = html! {
        p { a href=(format!("/agent/users/{}", id.0)) { "Open their profile (tickets)" } }
        @if u.blocked {
            div.notice.error role="status" { "Blocked: their mail is ignored and they cannot log in to the portal or open tickets." }
        }
        form #user-edit .form method="post" action=(base) {
            (csrf(ctx)) (op("update"))
            (shown.error_for("update"))
            (user_inputs(app, shown, &u)?)
            div.form-actions { button.btn.primary type="submit" { "Save user" } }
        }
        section.admin-section {
            h2 { "Merge another user into " (u.name) }
            p.muted { "For one person with two accounts. Their tickets, addresses and usergroups move here; the other user is removed, and their old links and replies still reach these tickets." }
            @if let Some(other) = merging {
                @let theirs = hd.tickets_of_user(other.id, None, 1000)?;
                @let owned = theirs.iter().filter(|t| t.user == other.id).count();
                div.confirm #merge-confirm role="alertdialog" aria-labelledby="merge-confirm-title" {
                    p #merge-confirm-title {
                        strong { "Merge " (other.name) " <" (other.primary_email()) "> into " (u.name) "?" }
                    }
                    p {
                        (owned) " of their tickets and " (theirs.len() - owned) " they are copied in on move here; "
                        (other.emails.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", "))
                        " become " (u.name) "'s addresses; user " (other.id.0) " is removed. This cannot be undone."
                    }
                    form.inline-form method="post" action=(base) {
                        (csrf(ctx)) (op("merge_confirmed"))
                        input type="hidden" name="merge_id" value=(other.id.0);
                        button #merge-confirmed .btn.danger type="submit" { "Merge" }
                        " " a.btn href=(base) { "Cancel" }
                    }
                }
            }
            form #user-merge .form method="post" action=(base) {
                (csrf(ctx)) (op("merge"))
                (shown.error_for("merge"))
                div.form-row {
                    label for="merge-email" { "Address of the user to merge in" }
                    input #merge-email type="email" name="merge_email" required value=(shown.value("merge", "merge_email", ""));
                }
                div.form-actions { button.btn type="submit" { "Merge into " (u.name) } }
            }
            @if !merged_in.is_empty() {
                p.muted {
                    "Merged into " (u.name) " before: user "
                    (merged_in.iter().map(|m| m.0.to_string()).collect::<Vec<_>>().join(", user "))
                    ". Their deleted and spam tickets keep their old id; after restoring one, move it here:"
                }
                (shown.error_for("merge_again"))
                @for m in &merged_in {
                    form.inline-form method="post" action=(base) {
                        (csrf(ctx)) (op("merge_again"))
                        input type="hidden" name="merge_id" value=(m.0);
                        button.btn.small type="submit" { "Move user " (m.0) "'s restored tickets here" }
                    }
                }
            }
        }
        section.admin-section.danger-zone {
            @if u.blocked {
                h2 { "Unblock " (u.name) }
                (shown.error_for("unblock"))
                p.muted { "Tickets marked as spam stay so; restore them from the Spam list." }
                form method="post" action=(base) { (csrf(ctx)) (op("unblock")) button.btn type="submit" { "Unblock" } }
            } @else {
                h2 { "Block " (u.name) }
                (shown.error_for("block"))
                p.muted { "Their mail is ignored (no ticket, no reply) and they can no longer log in to the portal or use the contact form." }
                form #user-block method="post" action=(base) {
                    (csrf(ctx)) (op("block"))
                    div.checks { (checkbox("spam", "on", &format!("Also mark their {} as spam", if owned == 1 { "ticket".to_string() } else { format!("{owned} tickets") }), shown.typed("block") && shown.form.on("spam"), "block-spam")) }
                    button.btn.danger type="submit" { "Block " (u.name) }
                }
            }
        }
    };
    screen(app, ctx, Section::Users, &u.name, shown, status, body)
}

/// `POST /agent/admin/users...`.
pub(super) fn apply(
    app: &App,
    ctx: &Ctx,
    admin: &Admin<'_>,
    rest: &[&str],
    op: &str,
    f: &Form,
) -> Result<Outcome, ApiError> {
    let hd = app.helpdesk();
    let [u] = rest else { return Err(ApiError::bad_request("unknown user action")) };
    let id = UserId(num(u)?);
    let here = format!("/agent/admin/users/{}", id.0);
    match op {
        "update" => {
            let organisation = match f.get("organisation").as_str() {
                "" => None,
                o => Some(OrganisationId(num(o)?)),
            };
            let change = UserChange {
                name: f.get("name"),
                emails: f.get("emails").lines().map(str::to_string).collect(),
                phone: Some(f.get("phone")),
                organisation,
                usergroups: f.ids("usergroup"),
                language: super::templates::form_language(f)?,
            };
            admin.update_user(id, change)?;
            Ok(Outcome::Go(here, "saved"))
        }
        "merge" => {
            let email = f.get("merge_email");
            let other = hd
                .user_by_email(email.trim())
                .map_err(|_| ApiError::invalid(format!("{:?} is not an email address", email.trim())))?
                .ok_or_else(|| ApiError::invalid(format!("No user has the address {}.", email.trim())))?;
            if other.id == id {
                return Err(ApiError::invalid(
                    "That is this user's own address: a user cannot be merged into themselves.",
                ));
            }
            // Irreversible: say what will happen, and ask.
            Ok(Outcome::Show(user_screen(app, ctx, id, &Shown::default(), StatusCode::OK, Some(&other))?))
        }
        "merge_confirmed" => {
            let other = UserId(num(&f.get("merge_id"))?);
            admin.merge_users(id, other)?;
            app.sessions().end_others(Principal::User(other), None);
            Ok(Outcome::Go(here, "merged"))
        }
        "merge_again" => {
            admin.merge_users(id, UserId(num(&f.get("merge_id"))?))?;
            Ok(Outcome::Go(here, "merged"))
        }
        "block" => {
            admin.block_user(id, f.on("spam"))?;
            app.sessions().end_others(Principal::User(id), None);
            Ok(Outcome::Go(here, "blocked"))
        }
        "unblock" => {
            admin.unblock_user(id)?;
            Ok(Outcome::Go(here, "unblocked"))
        }
        _ => Err(ApiError::bad_request("unknown user action")),
    }
}
