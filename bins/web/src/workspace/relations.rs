//! Merge, split and link in the ticket view: the sidebar's linked tickets
//! (open, unlink, link another by number) and "Merge with", the
//! confirmation panels (which ticket to keep; the new ticket's subject),
//! the banner of a merged ticket, and the actions behind them.

use super::layout::icon;
use super::list::status_badge;
use super::ticket::{action_form, respond, Notice, Slot, View};
use super::{redirect, Ctx};
use crate::agent::visible_ticket;
use crate::error::ApiError;
use crate::relations::{run_ask, Ask};
use crate::App;
use helpdesk_core::*;
use maud::{html, Markup};
use warp::http::StatusCode;
use warp::reply::Response;

/// The actions this module answers.
pub const ACTIONS: [&str; 6] = ["merge_ask", "merge", "split_ask", "split", "link", "unlink"];

fn ticket_number(v: Option<&str>) -> Result<TicketId, ApiError> {
    v.map(|v| v.trim().trim_start_matches('#'))
        .and_then(|v| v.parse::<u64>().ok())
        .map(TicketId)
        .ok_or_else(|| ApiError::invalid("Type a ticket number, such as 42."))
}

/// The sidebar's part: linked tickets, link another, merge with another.
pub fn sidebar(app: &App, ctx: &Ctx, t: &Ticket, view: &View) -> Result<Markup, ApiError> {
    let hd = app.helpdesk();
    let id = t.id.0;
    let open = !t.status.is_hidden();
    let linked: Vec<(TicketId, Option<Ticket>)> =
        t.relations.linked.iter().map(|l| (*l, visible_ticket(hd, &ctx.agent, *l).ok())).collect();
    Ok(html! {
        div.prop {
            span.label #(format!("links-label-{id}")) { "Linked tickets" }
            @if linked.is_empty() { span.muted { "None" } }
            @else {
            ul.linked aria-labelledby=(format!("links-label-{id}")) {
                @for (l, seen) in &linked {
                    li {
                        @match seen {
                            Some(o) => {
                                a href=(format!("/agent/tickets/{}", l.0)) hx-target="#content" hx-swap="outerHTML" { "#" (l.0) " " (o.subject) }
                                " " (status_badge(o.status))
                            }
                            None => span.muted { "#" (l.0) " (a department you do not see)" },
                        }
                        (action_form(t, ctx, "inline", html! {
                            input type="hidden" name="action" value="unlink";
                            input type="hidden" name="value" value=(l.0);
                            button.chip-x type="submit" aria-label=(format!("Unlink ticket {}", l.0)) { (icon("x")) }
                        }))
                    }
                }
            }
            }
            @if open {
                (action_form(t, ctx, "add-form", html! {
                    input type="hidden" name="action" value="link";
                    label.vh for=(format!("link-add-{id}")) { "Link ticket number" }
                    input id=(format!("link-add-{id}")) name="value" inputmode="numeric" placeholder="Ticket #" autocomplete="off";
                    button.btn.small type="submit" { "Link" }
                }))
            }
            (super::ticket::notice_at(view, &Slot::Property("links".into())))
        }
        @if open {
            div.prop {
                span.label { "Merge" }
                (action_form(t, ctx, "add-form", html! {
                    input type="hidden" name="action" value="merge_ask";
                    label.vh for=(format!("merge-with-{id}")) { "Merge with ticket number" }
                    input id=(format!("merge-with-{id}")) name="value" inputmode="numeric" placeholder="Ticket #" autocomplete="off";
                    button.btn.small type="submit" { "Merge…" }
                }))
                (super::ticket::notice_at(view, &Slot::Property("merge".into())))
            }
        }
    })
}

/// The header's part: a merged ticket's banner, the merge and split
/// confirmations.
pub fn panels(ctx: &Ctx, t: &Ticket, view: &View) -> Markup {
    let id = t.id.0;
    let older_first = |a: &Ticket, b: &Ticket| if a.id < b.id { a.id } else { b.id };
    html! {
        @if let Some(into) = t.relations.merged_into {
            div.notice.info role="status" {
                "This ticket was merged into "
                a href=(format!("/agent/tickets/{}", into.0)) hx-target="#content" hx-swap="outerHTML" { "ticket #" (into.0) }
                ": its messages, notes and people are there, and mail to it arrives there."
            }
        }
        @if let Some(other) = &view.confirm_merge {
            @let keep = older_first(t, other);
            div.confirm role="alertdialog" aria-labelledby=(format!("merge-title-{id}")) {
                (action_form(t, ctx, "merge-confirm", html! {
                    p #(format!("merge-title-{id}")) { strong { "Merge tickets #" (id) " and #" (other.id.0) "?" } }
                    p { "The one you keep gets the other's messages, notes, CCs, followers, labels and links; the other closes (Deleted) and mail to it arrives at the one kept." }
                    fieldset {
                        legend { "Keep" }
                        @for c in [t, other] {
                            label.check {
                                input type="radio" name="keep" value=(c.id.0) checked[c.id == keep];
                                " #" (c.id.0) " " (c.subject) @if c.id == t.id { " (this one)" }
                            }
                        }
                    }
                    input type="hidden" name="action" value="merge";
                    input type="hidden" name="value" value=(other.id.0);
                    button.btn.danger type="submit" autofocus { "Merge tickets" }
                    " "
                    a.btn href=(format!("/agent/tickets/{id}")) hx-target=(format!("#ticket-live-{id}")) hx-swap="outerHTML" { "Cancel" }
                }))
            }
        }
        @if let Some(post) = view.confirm_split {
            @if let Some(m) = t.messages.iter().find(|m| m.id == post) {
                div.confirm role="alertdialog" aria-labelledby=(format!("split-title-{id}")) {
                    (action_form(t, ctx, "split-confirm", html! {
                        p #(format!("split-title-{id}")) { strong { "Split this message off into a new ticket?" } }
                        blockquote.excerpt { (m.body.chars().take(200).collect::<String>()) @if m.body.chars().count() > 200 { "…" } }
                        label for=(format!("split-subject-{id}")) { "Subject of the new ticket" }
                        input id=(format!("split-subject-{id}")) name="subject" value=(t.subject) maxlength="255";
                        input type="hidden" name="action" value="split";
                        input type="hidden" name="value" value=(post.0);
                        button.btn.primary type="submit" { "Split off" }
                        " "
                        a.btn href=(format!("/agent/tickets/{id}")) hx-target=(format!("#ticket-live-{id}")) hx-swap="outerHTML" { "Cancel" }
                    }))
                }
            }
        }
    }
}

/// Runs one of [`ACTIONS`] on ticket `before` and answers like any action.
pub fn act(
    app: &App,
    ctx: &Ctx,
    before: &Ticket,
    f: &super::ticket::ActionForm,
) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let action = f.action.as_deref().unwrap_or("");
    let slot = match action {
        "link" | "unlink" => Slot::Property("links".into()),
        "merge_ask" => Slot::Property("merge".into()),
        _ => Slot::Top,
    };
    let mut view = View::default();
    let done: Result<Option<String>, ApiError> = (|| match action {
        "merge_ask" => {
            let other = ticket_number(f.value.as_deref())?;
            if other == before.id {
                return Err(ApiError::invalid("That is this ticket: type the number of the other one."));
            }
            view.confirm_merge = Some(visible_ticket(hd, &ctx.agent, other)?);
            Ok(None)
        }
        "merge" => {
            let other = ticket_number(f.value.as_deref())?;
            let keep = f.keep.map(TicketId).unwrap_or(before.id);
            let (merged, into) = if keep == before.id { (other, before.id) } else { (before.id, other) };
            if keep != before.id && keep != other {
                return Err(ApiError::invalid("Keep one of the two tickets."));
            }
            let (kept, _) = run_ask(app, &ctx.agent, merged, Ask::Merge(into))?;
            Ok(Some(format!("Merged: ticket #{} now has the messages of #{}.", kept.id.0, merged.0)))
        }
        "split_ask" => {
            let post: u32 = f
                .value
                .as_deref()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| ApiError::invalid("Which message?"))?;
            view.confirm_split = Some(PostId(post));
            Ok(None)
        }
        "split" => {
            let post: u32 = f
                .value
                .as_deref()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| ApiError::invalid("Which message?"))?;
            let (new, _) = run_ask(app, &ctx.agent, before.id, Ask::Split(PostId(post), f.subject.clone()))?;
            Ok(Some(format!("The message is now ticket #{}, linked to this one.", new.id.0)))
        }
        "link" | "unlink" => {
            let other = ticket_number(f.value.as_deref())?;
            run_ask(app, &ctx.agent, before.id, Ask::Link(other, action == "link"))?;
            Ok(Some(if action == "link" {
                format!("Linked ticket #{}.", other.0)
            } else {
                format!("Unlinked ticket #{}.", other.0)
            }))
        }
        other => Err(ApiError::invalid(format!("Unknown action “{other}”."))),
    })();
    match done {
        Ok(text) => {
            let now = hd.ticket(before.id)?;
            // Merged away: work goes on at the survivor.
            if let (Some(into), Some(_)) = (now.relations.merged_into, &text) {
                return Ok(redirect(&ctx.hx, &format!("/agent/tickets/{}", into.0)));
            }
            if text.is_some() && !ctx.hx.fragment() {
                return Ok(redirect(&ctx.hx, &format!("/agent/tickets/{}", before.id.0)));
            }
            view.notice = text.map(|text| Notice { slot: Slot::Top, error: false, text, undo: false });
            respond(app, ctx, &now, &view, None, StatusCode::OK, false)
        }
        Err(e) => {
            view = View::default();
            view.notice = Some(Notice { slot, error: true, text: e.message.clone(), undo: false });
            let now = hd.ticket(before.id)?;
            respond(app, ctx, &now, &view, None, e.status, false)
        }
    }
}
