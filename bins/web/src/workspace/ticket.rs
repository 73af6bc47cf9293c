//! The content pane: the tab strip of open tickets and the open ticket —
//! subject and id, the conversation timeline (messages, notes on yellow, log
//! events as thin lines that can be hidden) or the full log as a table, the
//! properties sidebar with forms that change them, the user's card, and the
//! composer (Reply / Note, status on send).
//!
//! A ticket's "live" part (header, timeline, properties, and the version the
//! agent has on screen) refreshes itself on `sse:ticket`; the composer is
//! outside it, so a draft being typed is never replaced. Changes are sent
//! with the version on screen (`Helpdesk::execute_at`): a change someone
//! else made meanwhile is refused, and the pane comes back with what changed
//! and the draft kept.

use super::layout::{icon, workspace, Focus};
use super::list::{status_badge, status_name, urgency_badge, ListQuery, Names};
use super::{agent_or_login, auth, html, redirect, run, Auth, Ctx, WorkspaceState};
use crate::agent::{body_html, visible_ticket};
use crate::error::ApiError;
use crate::files::{file_input, file_list, submitted, Plain, ShownFile, Submitted};
use crate::{with_app, App};
use helpdesk_core::admin::LabelDef;
use helpdesk_core::*;
use helpdesk_store::files::NewFile;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

/// Where a notice shows: next to what caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// The ticket's header (delete, restore, conflicts of property changes).
    Top,
    /// The composer.
    Composer,
    /// A property form (`status`, `urgency`, ...).
    Property(String),
}

/// A message shown after an action.
#[derive(Debug, Clone)]
pub struct Notice {
    /// Where.
    pub slot: Slot,
    /// An error (`role=alert`) or information (`role=status`).
    pub error: bool,
    /// The text.
    pub text: String,
    /// Offer to undo a delete or spam mark.
    pub undo: bool,
}

/// What the agent typed, kept when a send is refused.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// Text.
    pub body: String,
    /// `reply` or `note`.
    pub mode: String,
    /// Status on send.
    pub status: Option<String>,
}

/// How to render a ticket.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The full log instead of the conversation.
    pub log: bool,
    /// A notice.
    pub notice: Option<Notice>,
    /// Ask to confirm a delete.
    pub confirm_delete: bool,
    /// Ask which of this ticket and another to keep in a merge.
    pub confirm_merge: Option<Ticket>,
    /// Ask for the new ticket's subject before splitting this message off.
    pub confirm_split: Option<PostId>,
    /// A macro's preview to show, with Apply.
    pub macro_preview: Option<(helpdesk_core::macros::Macro, Vec<helpdesk_core::macros::StepOutcome>)>,
}

pub(super) fn notice_at(view: &View, slot: &Slot) -> Markup {
    match &view.notice {
        Some(n) if &n.slot == slot => html! {
            div.notice.(if n.error { "error" } else { "info" }) role=(if n.error { "alert" } else { "status" }) {
                (n.text)
            }
        },
        _ => html! {},
    }
}

fn live_id(id: TicketId) -> String {
    format!("ticket-live-{}", id.0)
}

pub(super) fn action_form(t: &Ticket, ctx: &Ctx, class: &str, body: Markup) -> Markup {
    let id = t.id.0;
    html! {
        form class=(class) method="post" action=(format!("/agent/tickets/{id}/actions"))
            hx-post=(format!("/agent/tickets/{id}/actions")) hx-target=(format!("#ticket-live-{id}")) hx-swap="outerHTML"
            hx-sync="closest .ticket:queue all" {
            input type="hidden" name="csrf" value=(ctx.csrf);
            input type="hidden" name="version" value=(t.version);
            (body)
        }
    }
}

fn select_form(t: &Ctx, ticket: &Ticket, view: &View, action: &str, label: &str, options: Markup) -> Markup {
    let sid = format!("prop-{action}-{}", ticket.id.0);
    html! {
        div.prop {
            (action_form(ticket, t, "prop-form", html! {
                input type="hidden" name="action" value=(action);
                label for=(sid) { (label) }
                select id=(sid) name="value" hx-trigger="change" hx-post=(format!("/agent/tickets/{}/actions", ticket.id.0)) {
                    (options)
                }
                noscript { button.btn.small type="submit" { "Set" } }
            }))
            (notice_at(view, &Slot::Property(action.to_string())))
        }
    }
}

/// The properties sidebar.
fn properties(app: &App, ctx: &Ctx, names: &mut Names, t: &Ticket, view: &View) -> Result<Markup, ApiError> {
    let hd = app.helpdesk();
    let p = &ctx.agent.permissions;
    let me = ctx.agent.id;
    let agents: Vec<Agent> = hd
        .agents()?
        .into_iter()
        .filter(|a| !a.disabled && (a.permissions.admin || a.permissions.can_see(t.department)))
        .collect();
    // Without may_reassign an agent may only take an unassigned ticket or let go of their own.
    let reassign_ok = p.may_reassign || t.agent.is_none() || t.agent == Some(me);
    let departments: Vec<Department> = hd.departments()?.into_iter().filter(|d| p.can_see(d.id)).collect();
    let teams = hd.teams()?;
    let user = names.user(t.user);
    let following = t.followers.contains(&me);
    let statuses = [Status::AwaitingAgent, Status::AwaitingUser, Status::Pending, Status::Resolved];
    // The labels the helpdesk knows (Admin > Labels), offered while typing.
    let known: Vec<LabelDef> = hd.labels()?.into_iter().filter(|l| !t.labels.contains(&l.name)).collect();
    let known_id = format!("known-labels-{}", t.id.0);
    if let Some(into) = t.relations.merged_into {
        // A merged ticket changes no more: what it was, and where work goes on.
        return Ok(html! {
            aside.properties aria-label="Properties" {
                h2.vh { "Properties" }
                div.prop { span.label { "Status" } (status_badge(t.status)) }
                div.prop { span.label { "Merged into" } a href=(format!("/agent/tickets/{}", into.0)) hx-target="#content" hx-swap="outerHTML" { "Ticket #" (into.0) } }
                div.prop { span.label { "Department" } span { (names.department(t.department)) } }
                @if let Some(u) = &user { (user_card(app, ctx, names, u, t)?) }
            }
        });
    }
    Ok(html! {
        aside.properties aria-label="Properties" {
            h2.vh { "Properties" }
            @if !t.status.is_hidden() {
                (select_form(ctx, t, view, "status", "Status", html! {
                    @for s in statuses { option value=(s.as_str()) selected[t.status == s] { (status_name(s)) } }
                }))
            } @else {
                div.prop { span.label { "Status" } (status_badge(t.status)) }
            }
            (select_form(ctx, t, view, "urgency", "Urgency", html! {
                @for u in (1..=10).rev() { option value=(u) selected[t.urgency.get() == u] { (u) @if u == 10 { " (highest)" } @if u == 1 { " (lowest)" } } }
            }))
            (select_form(ctx, t, view, "department", "Department", html! {
                @for d in &departments { option value=(d.id.0) selected[t.department == d.id] { (d.name) } }
            }))
            @if reassign_ok {
                (select_form(ctx, t, view, "agent", "Agent", html! {
                    option value="" selected[t.agent.is_none()] { "— Unassigned —" }
                    @for a in &agents {
                        @if p.may_reassign || a.id == me || t.agent == Some(a.id) {
                            option value=(a.id.0) selected[t.agent == Some(a.id)] { (a.name) @if a.id == me { " (me)" } }
                        }
                    }
                }))
            } @else {
                div.prop { span.label { "Agent" } span { (t.agent.map(|a| names.agent(a)).unwrap_or_default()) } }
            }
            (select_form(ctx, t, view, "team", "Team", html! {
                option value="" selected[t.team.is_none()] { "— No team —" }
                @for tm in &teams { option value=(tm.id.0) selected[t.team == Some(tm.id)] { (tm.name) } }
            }))
            div.prop {
                span.label #labels-label { "Labels" }
                ul.chips aria-labelledby="labels-label" {
                    @for l in &t.labels {
                        li.chip { (l)
                            (action_form(t, ctx, "inline", html! {
                                input type="hidden" name="action" value="label_remove";
                                input type="hidden" name="value" value=(l);
                                button.chip-x type="submit" aria-label=(format!("Remove label {l}")) { (icon("x")) }
                            }))
                        }
                    }
                }
                (action_form(t, ctx, "add-form", html! {
                    input type="hidden" name="action" value="label_add";
                    label.vh for=(format!("label-add-{}", t.id.0)) { "Add a label" }
                    input id=(format!("label-add-{}", t.id.0)) name="value" placeholder="Add label" autocomplete="off" list=[(!known.is_empty()).then_some(known_id.as_str())];
                    @if !known.is_empty() {
                        datalist id=(known_id) {
                            @for l in &known { option value=(l.name) { (l.description) } }
                        }
                    }
                    button.btn.small type="submit" { "Add" }
                }))
                (notice_at(view, &Slot::Property("label".into())))
            }
            div.prop {
                span.label #followers-label { "Followers" }
                ul.chips aria-labelledby="followers-label" {
                    @for f in &t.followers { li.chip { (names.agent(*f)) } }
                }
                (action_form(t, ctx, "inline", html! {
                    input type="hidden" name="action" value=(if following { "unfollow" } else { "follow" });
                    button.btn.small type="submit" { (if following { "Unfollow" } else { "Follow" }) }
                }))
                (notice_at(view, &Slot::Property("follow".into())))
            }
            div.prop {
                span.label #ccs-label { "CCs" }
                ul.chips aria-labelledby="ccs-label" {
                    @for u in &t.ccs {
                        @let name = names.user_name(*u);
                        li.chip { (name)
                            (action_form(t, ctx, "inline", html! {
                                input type="hidden" name="action" value="cc_remove";
                                input type="hidden" name="value" value=(u.0);
                                button.chip-x type="submit" aria-label=(format!("Remove CC {name}")) { (icon("x")) }
                            }))
                        }
                    }
                }
                (action_form(t, ctx, "add-form", html! {
                    input type="hidden" name="action" value="cc_add";
                    label.vh for=(format!("cc-add-{}", t.id.0)) { "CC someone by email" }
                    input id=(format!("cc-add-{}", t.id.0)) name="value" type="email" placeholder="CC email" autocomplete="off";
                    button.btn.small type="submit" { "Add" }
                }))
                (notice_at(view, &Slot::Property("cc".into())))
            }
            (super::relations::sidebar(app, ctx, t, view)?)
            @if !t.sla.is_empty() {
                div.prop {
                    span.label { "SLA" }
                    ul.sla-list {
                        @for (name, s) in &t.sla {
                            li { span { (name) } " " (super::list::sla_chip(ctx, s)) }
                        }
                    }
                }
            }
            @if !t.fields.is_empty() {
                @let dept = departments.iter().find(|d| d.id == t.department);
                div.prop {
                    span.label { "Fields" }
                    dl.fields {
                        @for (k, v) in &t.fields {
                            dt { (dept.and_then(|d| d.field(k)).map(|f| f.label.clone()).unwrap_or_else(|| k.clone())) }
                            dd { (v.to_string()) }
                        }
                    }
                }
            }
            @if let Some(u) = &user { (user_card(app, ctx, names, u, t)?) }
        }
    })
}

fn user_card(app: &App, ctx: &Ctx, names: &mut Names, u: &User, t: &Ticket) -> Result<Markup, ApiError> {
    let others: Vec<Ticket> = app
        .helpdesk()
        .tickets_of_user(u.id, None, 50)?
        .into_iter()
        .filter(|o| o.id != t.id && !o.status.is_hidden() && o.status != Status::Resolved)
        .filter(|o| ctx.agent.permissions.can_see(o.department))
        .take(5)
        .collect();
    let org = u.organisation.map(|o| (o, names.organisation(o)));
    Ok(html! {
        section.user-card aria-label="User" {
            p.name { a href=(format!("/agent/users/{}", u.id.0)) hx-target="#content" hx-swap="outerHTML" { (u.name) } }
            p.muted { (u.primary_email()) }
            @if let Some((id, name)) = org {
                p { a href=(format!("/agent/organisations/{}", id.0)) hx-target="#content" hx-swap="outerHTML" { (icon("building-2")) (name) } }
            }
            h3 { "Other open tickets" }
            @if others.is_empty() { p.muted { "None." } }
            @else {
                ul.mini {
                    @for o in &others {
                        li { a href=(format!("/agent/tickets/{}", o.id.0)) hx-target="#content" hx-swap="outerHTML" { "#" (o.id.0) " " (o.subject) } " " (status_badge(o.status)) }
                    }
                }
            }
        }
    })
}

/// A one-line description of a change (`None` for what the timeline shows otherwise).
pub fn describe(names: &mut Names, c: &Change) -> Option<String> {
    let opt_agent =
        |names: &Names, a: &Option<AgentId>| a.map(|a| names.agent(a)).unwrap_or_else(|| "nobody".into());
    let opt_team =
        |names: &Names, t: &Option<TeamId>| t.map(|t| names.team(t)).unwrap_or_else(|| "no team".into());
    Some(match c {
        Change::Created { .. } | Change::MessageAdded { .. } | Change::NoteAdded { .. } => return None,
        Change::Queued { .. } | Change::Delivered { .. } | Change::Escalation { .. } => return None,
        Change::Subject { to, .. } => format!("changed the subject to “{to}”"),
        Change::Status { from, to } => {
            format!("changed status: {} → {}", status_name(*from), status_name(*to))
        }
        Change::Department { from, to } => {
            format!("moved from {} to {}", names.department(*from), names.department(*to))
        }
        Change::Agent { from, to } => match to {
            Some(_) => format!("assigned to {}", opt_agent(names, to)),
            None => format!("unassigned {}", opt_agent(names, from)),
        },
        Change::Team { from, to } => match to {
            Some(_) => format!("set team {}", opt_team(names, to)),
            None => format!("removed team {}", opt_team(names, from)),
        },
        Change::Owner { to, .. } => format!("changed the owner to {}", names.user_name(*to)),
        Change::Urgency { from, to } => format!("changed urgency: {} → {}", from.get(), to.get()),
        Change::CcAdded { user } => format!("CC'd {}", names.user_name(*user)),
        Change::CcRemoved { user } => format!("removed CC {}", names.user_name(*user)),
        Change::FollowerAdded { agent } => format!("{} follows", names.agent(*agent)),
        Change::FollowerRemoved { agent } => format!("{} stopped following", names.agent(*agent)),
        Change::LabelAdded { label } => format!("added label “{label}”"),
        Change::LabelRemoved { label } => format!("removed label “{label}”"),
        Change::Field { key, to, .. } => match to {
            Some(v) => format!("set {key} to {v}"),
            None => format!("cleared {key}"),
        },
        Change::Sla { policy, to, .. } => match to {
            Some(s) => format!("SLA “{policy}”: {}", s.state.as_str()),
            None => format!("SLA “{policy}” no longer applies"),
        },
        Change::Macro { name, .. } => format!("applied macro “{name}”"),
        Change::Merged { from, messages, notes } => format!(
            "merged ticket {from} into this one ({} {}, {} {})",
            messages.len(),
            if messages.len() == 1 { "message" } else { "messages" },
            notes.len(),
            if notes.len() == 1 { "note" } else { "notes" }
        ),
        Change::MergedInto { into } => format!("merged this ticket into {into}"),
        Change::SplitOff { post, into } => format!("split message {} off into ticket {into}", post.0),
        Change::SplitFrom { ticket, post } => {
            format!("split this ticket off {ticket} (its message {})", post.0)
        }
        Change::Linked { ticket } => format!("linked ticket {ticket}"),
        Change::Unlinked { ticket } => format!("unlinked ticket {ticket}"),
    })
}

fn timeline(ctx: &Ctx, names: &mut Names, t: &Ticket, log: &[TicketEvent]) -> Markup {
    // (time, order, markup): posts and changes in the order they happened.
    let mut items: Vec<(chrono::DateTime<chrono::Utc>, u64, Markup)> = Vec::new();
    let message = |names: &mut Names, m: &Message| {
        let (who, class) = match m.author {
            Author::User(u) => (names.user_name(u), "message user"),
            Author::Agent(a) => (names.agent(a), "message agent"),
        };
        // A user's message on a ticket with another one may be split off.
        let splittable = matches!(m.author, Author::User(_)) && t.messages.len() > 1 && !t.status.is_hidden();
        html! {
            li class=(class) id=(format!("post-{}-{}", t.id.0, m.id.0)) {
                div.post-head {
                    span.author { (who) } span.kind { (if class.ends_with("user") { "wrote" } else { "replied" }) } (ctx.tz.time(ctx.now, m.at))
                    @if splittable {
                        (action_form(t, ctx, "inline post-action", html! {
                            input type="hidden" name="action" value="split_ask";
                            input type="hidden" name="value" value=(m.id.0);
                            button.btn.small.quiet type="submit" aria-label=(format!("Split {who}'s message {} off into a new ticket", m.id.0)) { "Split off" }
                        }))
                    }
                }
                div.body { (PreEscaped(body_html(&m.body))) }
                (post_files(t.id, m.id, &m.attachments))
            }
        }
    };
    let note = |names: &mut Names, n: &Note, actor: &Actor| {
        let who = n.agent.map(|a| names.agent(a)).unwrap_or_else(|| names.actor(actor));
        html! {
            li.note {
                div.post-head { span.author { (who) } span.kind { (icon("sticky-note")) "note (agents only)" } (ctx.tz.time(ctx.now, n.at)) }
                div.body { (PreEscaped(body_html(&n.body))) }
                (post_files(t.id, n.id, &n.attachments))
            }
        }
    };
    for e in log {
        match &e.change {
            // A message split off into another ticket is shown there.
            Change::MessageAdded { message: m } if !t.messages.iter().any(|x| x.id == m.id) => {}
            Change::MessageAdded { message: m } => items.push((m.at, e.version, message(names, m))),
            Change::NoteAdded { note: n } => items.push((n.at, e.version, note(names, n, &e.actor))),
            Change::Merged { messages, notes, .. } => {
                for m in messages.iter().filter(|m| t.messages.iter().any(|x| x.id == m.id)) {
                    items.push((m.at, e.version, message(names, m)));
                }
                for n in notes {
                    items.push((n.at, e.version, note(names, n, &e.actor)));
                }
                if let Some(text) = describe(names, &e.change) {
                    let who = names.actor(&e.actor);
                    items.push((e.at, e.version, html! { li.event { span.who { (who) } " " (text) " · " (ctx.tz.time(ctx.now, e.at)) } }));
                }
            }
            c => {
                if let Some(text) = describe(names, c) {
                    let who = names.actor(&e.actor);
                    items.push((
                        e.at,
                        e.version,
                        html! {
                            li.event { span.who { (who) } " " (text) " · " (ctx.tz.time(ctx.now, e.at)) }
                        },
                    ));
                }
            }
        }
    }
    items.sort_by_key(|(at, v, _)| (*at, *v));
    html! {
        ol.timeline aria-label="Conversation" {
            @for (_, _, m) in items { (m) }
        }
    }
}

/// A post's files, each at its download address (for agents who may see the ticket).
fn post_files(id: TicketId, post: PostId, files: &[Attachment]) -> Markup {
    let shown: Vec<ShownFile<'_>> = files
        .iter()
        .enumerate()
        .map(|(n, a)| ShownFile {
            url: format!("/api/agent/tickets/{}/posts/{}/files/{n}", id.0, post.0),
            name: &a.filename,
            content_type: &a.content_type,
            size: a.size,
        })
        .collect();
    file_list(&shown)
}

fn effect_text(names: &mut Names, e: &Effect) -> String {
    match e {
        Effect::Notify(n) => {
            let who = match &n.recipient {
                Recipient::User(u) => names.user_name(*u),
                Recipient::Agent(a) => names.agent(*a),
                Recipient::Team(t) => format!("team {}", names.team(*t)),
                Recipient::Address(a) => a.to_string(),
            };
            let how = match n.channel {
                DeliveryChannel::Email => "email",
                DeliveryChannel::InApp => "in-app",
            };
            format!("notify {who} ({how}, {})", n.reason.replace('_', " "))
        }
        Effect::Webhook(w) => format!("webhook {} ({})", w.url, w.origin),
    }
}

/// The full log as a table: who by name, what, before → after; the
/// notifications a change queued (and their delivery) under it.
fn log_table(ctx: &Ctx, names: &mut Names, log: &[TicketEvent]) -> Markup {
    struct Row {
        at: chrono::DateTime<chrono::Utc>,
        who: String,
        what: String,
        before: String,
        after: String,
        subs: Vec<(Effect, String)>,
        /// Made by the macro in the row above (`Some(true)`: the macro's own row).
        group: Option<bool>,
    }
    let mut rows: Vec<Row> = Vec::new();
    // The macro whose changes are being listed: the rest of its commit (same
    // time, same actor) is its group.
    let mut in_macro: Option<(chrono::DateTime<chrono::Utc>, &Actor)> = None;
    for e in log {
        let who = names.actor(&e.actor);
        let grouped = in_macro.is_some_and(|(at, actor)| at == e.at && *actor == e.actor);
        if !grouped {
            in_macro = None;
        }
        match &e.change {
            Change::Queued { effect } => {
                let text = effect_text(names, effect);
                match rows.last_mut() {
                    Some(r) => r.subs.push((effect.clone(), format!("{text}: queued"))),
                    None => rows.push(Row {
                        at: e.at,
                        who,
                        what: text,
                        before: String::new(),
                        after: "queued".into(),
                        subs: vec![],
                        group: None,
                    }),
                }
            }
            Change::Delivered { effect, outcome, attempts } => {
                let result = match outcome {
                    DeliveryOutcome::Sent => "sent".to_string(),
                    DeliveryOutcome::Failed(r) => format!("failed: {r}"),
                    DeliveryOutcome::Skipped(r) => format!("skipped: {r}"),
                };
                let line = format!(
                    "{}: {result}{} · {}",
                    effect_text(names, effect),
                    if *attempts > 1 { format!(" after {attempts} attempts") } else { String::new() },
                    ctx.tz.relative(ctx.now, e.at)
                );
                // Under the change that queued it: the row listing it, else the
                // latest change of the kind the notification is about.
                let kind = match effect {
                    Effect::Notify(n) => match n.reason.as_str() {
                        "new_ticket" => "Created",
                        "user_reply" | "agent_reply" => "Message",
                        "note" => "Note",
                        "assignment" => "Agent",
                        "status" => "Status",
                        _ => "",
                    },
                    Effect::Webhook(_) => "",
                };
                let at = rows.iter().rposition(|r| r.subs.iter().any(|(q, _)| q == effect));
                let at = at.or_else(|| rows.iter().rposition(|r| !kind.is_empty() && r.what == kind));
                let host = at.and_then(|i| rows.get_mut(i));
                match host {
                    Some(r) => r.subs.push((effect.clone(), line)),
                    None => rows.push(Row {
                        at: e.at,
                        who,
                        what: line,
                        before: String::new(),
                        after: String::new(),
                        subs: vec![],
                        group: None,
                    }),
                }
            }
            c => {
                let (what, before, after) = log_cells(names, c);
                let group = if matches!(c, Change::Macro { .. }) {
                    in_macro = Some((e.at, &e.actor));
                    Some(true)
                } else {
                    grouped.then_some(false)
                };
                rows.push(Row { at: e.at, who, what, before, after, subs: vec![], group });
            }
        }
    }
    html! {
        div.log-wrap {
            table.log {
                caption.vh { "Full log" }
                thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "Before" } th scope="col" { "After" } } }
                tbody {
                    @for r in &rows {
                        tr class=[r.group.map(|head| if head { "group-head" } else { "in-group" })] {
                            td { (ctx.tz.time(ctx.now, r.at)) }
                            td { (r.who) }
                            @let subs = html! {
                                @if !r.subs.is_empty() {
                                    ul.subs { @for (_, s) in &r.subs { li { (s) } } }
                                }
                            };
                            @if r.group == Some(true) {
                                td colspan="3" { (r.what) (subs) }
                            } @else {
                                td { (r.what) (subs) }
                                td.before { (r.before) }
                                td.after { (r.after) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn log_cells(names: &mut Names, c: &Change) -> (String, String, String) {
    let a = |names: &Names, x: &Option<AgentId>| x.map(|a| names.agent(a)).unwrap_or_else(|| "—".into());
    let tm = |names: &Names, x: &Option<TeamId>| x.map(|t| names.team(t)).unwrap_or_else(|| "—".into());
    let s = |x: &str| x.to_string();
    match c {
        Change::Created { subject, status, .. } => {
            (s("Created"), String::new(), format!("“{subject}”, {}", status_name(*status)))
        }
        Change::Subject { from, to } => (s("Subject"), from.clone(), to.clone()),
        Change::Status { from, to } => (s("Status"), s(status_name(*from)), s(status_name(*to))),
        Change::Department { from, to } => (s("Department"), names.department(*from), names.department(*to)),
        Change::Agent { from, to } => (s("Agent"), a(names, from), a(names, to)),
        Change::Team { from, to } => (s("Team"), tm(names, from), tm(names, to)),
        Change::Owner { from, to } => (s("Owner"), names.user_name(*from), names.user_name(*to)),
        Change::Urgency { from, to } => (s("Urgency"), from.get().to_string(), to.get().to_string()),
        Change::CcAdded { user } => (s("CC added"), String::new(), names.user_name(*user)),
        Change::CcRemoved { user } => (s("CC removed"), names.user_name(*user), String::new()),
        Change::FollowerAdded { agent } => (s("Follower added"), String::new(), names.agent(*agent)),
        Change::FollowerRemoved { agent } => (s("Follower removed"), names.agent(*agent), String::new()),
        Change::LabelAdded { label } => (s("Label added"), String::new(), label.clone()),
        Change::LabelRemoved { label } => (s("Label removed"), label.clone(), String::new()),
        Change::Field { key, from, to } => (
            format!("Field {key}"),
            from.as_ref().map(|v| v.to_string()).unwrap_or_default(),
            to.as_ref().map(|v| v.to_string()).unwrap_or_default(),
        ),
        Change::MessageAdded { message } => (s("Message"), String::new(), excerpt(&message.body)),
        Change::NoteAdded { note } => (s("Note"), String::new(), excerpt(&note.body)),
        Change::Sla { policy, from, to } => (
            format!("SLA “{policy}”"),
            from.as_ref().map(|x| x.state.as_str().to_string()).unwrap_or_default(),
            to.as_ref().map(|x| x.state.as_str().to_string()).unwrap_or_else(|| "removed".into()),
        ),
        Change::Escalation { escalation, .. } => {
            (format!("Escalation “{escalation}”"), String::new(), s("fired"))
        }
        Change::Queued { .. } | Change::Delivered { .. } => (s(c.kind()), String::new(), String::new()),
        Change::Macro { name, .. } => (format!("Macro “{name}”"), String::new(), String::new()),
        Change::Merged { from, messages, notes } => (
            format!("Merged {from} in"),
            String::new(),
            format!("{} messages, {} notes", messages.len(), notes.len()),
        ),
        Change::MergedInto { into } => (s("Merged into"), String::new(), into.to_string()),
        Change::SplitOff { post, into } => (s("Split off"), format!("message {}", post.0), into.to_string()),
        Change::SplitFrom { ticket, post } => {
            (s("Split from"), String::new(), format!("{ticket}, message {}", post.0))
        }
        Change::Linked { ticket } => (s("Linked"), String::new(), ticket.to_string()),
        Change::Unlinked { ticket } => (s("Unlinked"), ticket.to_string(), String::new()),
    }
}

fn excerpt(s: &str) -> String {
    excerpt_of(s, 80)
}

/// `s` on one line, cut at `n` characters (with `…`).
pub(super) fn excerpt_of(s: &str, n: usize) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > n {
        format!("{}…", one.chars().take(n).collect::<String>())
    } else {
        one
    }
}

/// The part of a ticket that refreshes live: header, timeline, properties.
pub fn live(app: &App, ctx: &Ctx, t: &Ticket, view: &View) -> Result<Markup, ApiError> {
    let hd = app.helpdesk();
    let log = hd.log(t.id)?;
    let mut names = Names::new(hd)?;
    let id = t.id.0;
    let may_delete = ctx.agent.permissions.may_delete;
    let state = WorkspaceState::load(hd, ctx.agent.id)?;
    let back = ListQuery::from_state(&state).url(None);
    let url = format!("/agent/tickets/{id}{}", if view.log { "?view=log" } else { "" });
    Ok(html! {
        div id=(live_id(t.id)) .live hx-get=(url) hx-trigger="sse:ticket" hx-target="this" hx-swap="outerHTML" {
            input type="hidden" name="version" value=(t.version) form=(format!("composer-{id}"));
            header.ticket-head {
                a.back.phone-only href=(back) hx-target="#list-pane" hx-swap="outerHTML" { (icon("chevron-left")) "Tickets" }
                h1 id=(format!("ticket-title-{id}")) { span.tid { "#" (id) } " " (t.subject) }
                div.head-meta {
                    (status_badge(t.status)) (urgency_badge(t.urgency))
                    span.muted { "opened " (ctx.tz.time(ctx.now, t.created_at)) " via " (format!("{:?}", t.channel).to_lowercase()) }
                }
                div.actions {
                    @if t.agent != Some(ctx.agent.id) && !t.status.is_hidden() {
                        (action_form(t, ctx, "inline", html! {
                            input type="hidden" name="action" value="assign_me";
                            button.btn.small type="submit" data-shortcut="a" { (icon("user")) "Assign to me" }
                        }))
                    }
                    @if t.status != Status::Resolved && !t.status.is_hidden() {
                        (action_form(t, ctx, "inline", html! {
                            input type="hidden" name="action" value="resolve";
                            button.btn.small type="submit" data-shortcut="e" { "Resolve" }
                        }))
                    }
                    (super::macros::menu(app, ctx, t)?)
                    @if view.log {
                        a.btn.small href=(format!("/agent/tickets/{id}")) hx-target="#content" hx-swap="outerHTML" { "Conversation" }
                    } @else {
                        a.btn.small href=(format!("/agent/tickets/{id}?view=log")) hx-target="#content" hx-swap="outerHTML" { (icon("history")) "Full log" }
                    }
                    @if may_delete {
                        @if t.status.is_hidden() && t.status != Status::Validating && t.relations.merged_into.is_none() {
                            (action_form(t, ctx, "inline", html! {
                                input type="hidden" name="action" value="restore";
                                button.btn.small type="submit" { (icon("rotate-ccw")) "Restore" }
                            }))
                        } @else if !t.status.is_hidden() {
                            (action_form(t, ctx, "inline", html! {
                                input type="hidden" name="action" value="spam";
                                button.btn.small type="submit" { (icon("shield-alert")) "Spam" }
                            }))
                            (action_form(t, ctx, "inline", html! {
                                input type="hidden" name="action" value="delete_ask";
                                button.btn.small.danger type="submit" { (icon("trash-2")) "Delete" }
                            }))
                        }
                    }
                }
                @if view.confirm_delete && may_delete {
                    div.confirm role="alertdialog" aria-labelledby=(format!("confirm-{id}")) {
                        p id=(format!("confirm-{id}")) { "Delete ticket #" (id) "? It moves to Deleted, where it can be restored." }
                        (action_form(t, ctx, "inline", html! {
                            input type="hidden" name="action" value="delete";
                            button.btn.danger type="submit" autofocus { "Delete ticket" }
                        }))
                        a.btn href=(format!("/agent/tickets/{id}")) hx-target=(format!("#ticket-live-{id}")) hx-swap="outerHTML" { "Cancel" }
                    }
                }
                (super::relations::panels(ctx, t, view))
                @if let Some((m, steps)) = &view.macro_preview {
                    (super::macros::preview_panel(app, ctx, t, m, steps)?)
                }
                (notice_at(view, &Slot::Top))
                @if let Some(n) = &view.notice {
                    @if n.undo && may_delete {
                        (action_form(t, ctx, "inline undo", html! {
                            input type="hidden" name="action" value="restore";
                            button.btn.small type="submit" { (icon("rotate-ccw")) "Undo" }
                        }))
                    }
                }
            }
            section.timeline-pane tabindex="0" aria-label=(if view.log { "Full log" } else { "Conversation" }) {
                @if view.log { (log_table(ctx, &mut names, &log)) } @else { (timeline(ctx, &mut names, t, &log)) }
            }
            (properties(app, ctx, &mut names, t, view)?)
        }
    })
}

/// The composer (never refreshed by live updates).
pub fn composer(ctx: &Ctx, t: &Ticket, view: &View, draft: Option<&Draft>, oob: bool) -> Markup {
    let id = t.id.0;
    let mode = draft.map(|d| d.mode.as_str()).unwrap_or("reply");
    let status = draft.and_then(|d| d.status.clone()).unwrap_or_else(|| "awaiting_user".into());
    let choices = [Status::AwaitingUser, Status::Pending, Status::Resolved, Status::AwaitingAgent];
    html! {
        form.composer id=(format!("composer-{id}")) method="post" action=(format!("/agent/tickets/{id}/reply"))
            enctype="multipart/form-data" hx-encoding="multipart/form-data"
            hx-post=(format!("/agent/tickets/{id}/reply")) hx-target=(format!("#ticket-live-{id}")) hx-swap="outerHTML"
            hx-sync="closest .ticket:queue all" hx-swap-oob=[oob.then_some("true")] data-mode=(mode)
            data-signature=[(!ctx.signature.is_empty()).then_some(ctx.signature.as_str())] {
            input type="hidden" name="csrf" value=(ctx.csrf);
            fieldset.mode {
                legend.vh { "Write a" }
                label { input type="radio" name="mode" value="reply" checked[mode != "note"]; span { (icon("send")) "Reply" } }
                label { input type="radio" name="mode" value="note" checked[mode == "note"]; span { (icon("sticky-note")) "Note" } }
            }
            (notice_at(view, &Slot::Composer))
            label.vh for=(format!("composer-body-{id}")) { "Message" }
            textarea id=(format!("composer-body-{id}")) .composer-body name="body" rows="4"
                placeholder="Write a reply… (r: reply, n: note)" {
                    @match draft {
                        Some(d) => (d.body),
                        // A new reply starts with the signature under it.
                        None if !ctx.signature.is_empty() => (format!("\n\n{}", ctx.signature)),
                        None => "",
                    }
                }
            (file_input(&format!("composer-files-{id}"), &ctx.file_limits))
            div.send-row {
                label.status-on-send for=(format!("composer-status-{id}")) { "Status on send" }
                select id=(format!("composer-status-{id}")) name="status" {
                    @for s in choices { option value=(s.as_str()) selected[status == s.as_str()] { (status_name(s)) } }
                }
                span.note-hint { "Notes change no status and only agents see them." }
                button.btn.primary type="submit" id=(format!("send-{id}")) { "Send" }
            }
        }
    }
}

/// A ticket as the content pane shows it (live part and composer).
pub fn ticket_view(
    app: &App,
    ctx: &Ctx,
    t: &Ticket,
    view: &View,
    draft: Option<&Draft>,
) -> Result<Markup, ApiError> {
    let id = t.id.0;
    Ok(html! {
        article.ticket id=(format!("ticket-{id}")) data-ticket=(id) aria-labelledby=(format!("ticket-title-{id}")) {
            div.ticket-tools {
                label.toggle { input type="checkbox" .show-events checked; " Show changes" }
            }
            div.ticket-grid {
                (live(app, ctx, t, view)?)
                @if t.relations.merged_into.is_none() { (composer(ctx, t, view, draft, false)) }
            }
        }
    })
}

/// A page of the workspace whose content pane shows `body` (a form, a
/// profile) beside the open tabs; with htmx only the content pane.
pub fn content_page(app: &App, ctx: &Ctx, body: Markup, status: StatusCode) -> Result<Response, ApiError> {
    let state = WorkspaceState::load(app.helpdesk(), ctx.agent.id)?;
    let content = content_pane(app, ctx, &state, Some((0, body)))?;
    if ctx.hx.fragment() {
        return Ok(html(status, content));
    }
    Ok(html(status, workspace(app, ctx, &state, Focus::Content, None, Some(content))?))
}

/// The content pane: tabs of the open tickets and `body` (the active tab's
/// id and its view), or a hint when none is open.
pub fn content_pane(
    app: &App,
    ctx: &Ctx,
    state: &WorkspaceState,
    body: Option<(u64, Markup)>,
) -> Result<Markup, ApiError> {
    let hd = app.helpdesk();
    let active = body.as_ref().map(|(id, _)| *id);
    let tabs: Vec<(u64, String)> = state
        .tabs
        .iter()
        .filter_map(|id| visible_ticket(hd, &ctx.agent, TicketId(*id)).ok().map(|t| (*id, t.subject)))
        .collect();
    Ok(html! {
        main #content .content data-view="content" {
            @if !tabs.is_empty() {
                nav.tabs aria-label="Open tickets" {
                    ul {
                        @for (id, subject) in &tabs {
                            li.tab.active[active == Some(*id)] {
                                a href=(format!("/agent/tickets/{id}")) aria-current=[(active == Some(*id)).then_some("page")]
                                    hx-target="#content" hx-swap="outerHTML" title=(subject) {
                                    span.tid { "#" (id) } " " span.tsubject { (subject) }
                                }
                                form method="post" action=(format!("/agent/tickets/{id}/close"))
                                    hx-post=(format!("/agent/tickets/{id}/close")) hx-target="#content" hx-swap="outerHTML" {
                                    input type="hidden" name="csrf" value=(ctx.csrf);
                                    @if let Some(a) = active { input type="hidden" name="active" value=(a); }
                                    button.tab-close type="submit" aria-label=(format!("Close tab #{id}")) data-close=(id) { (icon("x")) }
                                }
                            }
                        }
                    }
                }
            }
            @match body {
                Some((_, m)) => (m),
                None => div.empty {
                    p { "Open a ticket from the list." }
                    p.muted { "Press " kbd { "j" } " / " kbd { "k" } " to move through the list, " kbd { "Enter" } " to open, " kbd { "?" } " for every shortcut." }
                },
            }
        }
    })
}

#[derive(Debug, Deserialize)]
struct ViewQuery {
    #[serde(default)]
    view: Option<String>,
}

fn page_response(
    app: &App,
    ctx: &Ctx,
    t: &Ticket,
    view: &View,
    draft: Option<&Draft>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let mut state = WorkspaceState::load(hd, ctx.agent.id)?;
    if state.open_tab(t.id.0) {
        state.save(hd, ctx.agent.id)?;
    }
    let body = ticket_view(app, ctx, t, view, draft)?;
    let content = content_pane(app, ctx, &state, Some((t.id.0, body)))?;
    if ctx.hx.fragment() {
        return Ok(html(status, content));
    }
    Ok(html(status, workspace(app, ctx, &state, Focus::Content, None, Some(content))?))
}

fn show(app: &App, ctx: &Ctx, id: u64, q: ViewQuery) -> Result<Response, ApiError> {
    let t = visible_ticket(app.helpdesk(), &ctx.agent, TicketId(id)).map_err(|e| {
        if e.status == StatusCode::NOT_FOUND {
            ApiError::not_found(format!("There is no ticket #{id}, or it is in a department you cannot see."))
        } else {
            e
        }
    })?;
    let view = View { log: q.view.as_deref() == Some("log"), ..View::default() };
    if ctx.hx.targets(&live_id(t.id)) {
        return Ok(html(StatusCode::OK, live(app, ctx, &t, &view)?));
    }
    page_response(app, ctx, &t, &view, None, StatusCode::OK)
}

/// The form every ticket action posts.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    /// The CSRF token (forms without JavaScript).
    #[serde(default)]
    pub csrf: Option<String>,
    /// The version on screen.
    #[serde(default)]
    pub version: Option<u64>,
    /// What to do.
    #[serde(default)]
    pub action: Option<String>,
    /// Its value.
    #[serde(default)]
    pub value: Option<String>,
    /// Composer: text.
    #[serde(default)]
    pub body: Option<String>,
    /// Composer: `reply` or `note`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Composer: status on send.
    #[serde(default)]
    pub status: Option<String>,
    /// Close: the tab shown.
    #[serde(default)]
    pub active: Option<u64>,
    /// Merge: the ticket to keep.
    #[serde(default)]
    pub keep: Option<u64>,
    /// Split: the new ticket's subject.
    #[serde(default)]
    pub subject: Option<String>,
}

/// Whether an event is one the agent need not have seen before acting:
/// bookkeeping (deliveries, SLA and escalation state) or their own change.
fn unseen_is_fine(e: &TicketEvent, me: AgentId) -> bool {
    helpdesk_core::concurrency::is_bookkeeping(&e.change) || e.actor == Actor::Agent(me)
}

/// What others changed since `seen`, in words.
fn changes_since(app: &App, ctx: &Ctx, id: TicketId, seen: u64) -> Result<String, ApiError> {
    let hd = app.helpdesk();
    let mut names = Names::new(hd)?;
    let mut parts: Vec<String> = Vec::new();
    for e in hd.store().events_after(id, seen)?.iter().filter(|e| !unseen_is_fine(e, ctx.agent.id)) {
        let who = names.actor(&e.actor);
        let what = match &e.change {
            Change::MessageAdded { .. } => Some("added a message".to_string()),
            Change::NoteAdded { .. } => Some("added a note".to_string()),
            c => describe(&mut names, c),
        };
        if let Some(w) = what {
            let line = format!("{who} {w}");
            if !parts.contains(&line) {
                parts.push(line);
            }
        }
    }
    Ok(if parts.is_empty() { "the ticket changed".into() } else { parts.join("; ") })
}

fn parse_value<T: std::str::FromStr>(v: &Option<String>, what: &str) -> Result<T, ApiError> {
    v.as_deref()
        .unwrap_or("")
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid(format!("Choose a valid {what}.")))
}

fn opt_id(v: &Option<String>, what: &str) -> Result<Option<u64>, ApiError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| ApiError::invalid(format!("Choose a valid {what}."))),
    }
}

/// The command for an action form, and the slot its errors show in.
fn command_for(app: &App, ctx: &Ctx, f: &ActionForm) -> Result<(Command, Slot), ApiError> {
    let action = f.action.as_deref().unwrap_or("");
    let me = ctx.agent.id;
    let prop = |s: &str| Slot::Property(s.into());
    let needs_delete = || {
        if ctx.agent.permissions.may_delete {
            Ok(())
        } else {
            Err(ApiError::forbidden("You may not delete, mark as spam or restore tickets."))
        }
    };
    Ok(match action {
        "status" => {
            let s: Status = parse_value(&f.value, "status")?;
            (Command::SetStatus { status: s }, prop("status"))
        }
        "resolve" => (Command::SetStatus { status: Status::Resolved }, Slot::Top),
        "urgency" => {
            let u: i64 = parse_value(&f.value, "urgency")?;
            (
                Command::SetUrgency {
                    urgency: Urgency::new(u).map_err(|e| ApiError::invalid(e.to_string()))?,
                },
                prop("urgency"),
            )
        }
        "department" => {
            let d: u64 = parse_value(&f.value, "department")?;
            if !ctx.agent.permissions.can_see(DepartmentId(d)) {
                return Err(ApiError::invalid("Choose one of your departments."));
            }
            (Command::SetDepartment { department: DepartmentId(d) }, prop("department"))
        }
        "agent" => (Command::AssignAgent { agent: opt_id(&f.value, "agent")?.map(AgentId) }, prop("agent")),
        "assign_me" => (Command::AssignAgent { agent: Some(me) }, Slot::Top),
        "team" => (Command::AssignTeam { team: opt_id(&f.value, "team")?.map(TeamId) }, prop("team")),
        "label_add" => (
            Command::AddLabel { label: f.value.clone().unwrap_or_default().trim().to_string() },
            prop("label"),
        ),
        "label_remove" => {
            (Command::RemoveLabel { label: f.value.clone().unwrap_or_default() }, prop("label"))
        }
        "follow" => (Command::Follow { agent: me }, prop("follow")),
        "unfollow" => (Command::Unfollow { agent: me }, prop("follow")),
        "cc_add" => {
            let email = f.value.clone().unwrap_or_default();
            let hd = app.helpdesk();
            let user = match hd.user_by_email(email.trim())? {
                Some(u) => u,
                None => {
                    let name = email.split('@').next().unwrap_or(&email).to_string();
                    hd.create_user(NewUser::new(name, email.trim()))
                        .map_err(|e| ApiError::invalid(e.to_string()))?
                }
            };
            (Command::AddCc { user: user.id }, prop("cc"))
        }
        "cc_remove" => (Command::RemoveCc { user: UserId(parse_value(&f.value, "user")?) }, prop("cc")),
        "delete" => {
            needs_delete()?;
            (Command::Delete, Slot::Top)
        }
        "spam" => {
            needs_delete()?;
            (Command::MarkSpam, Slot::Top)
        }
        "restore" => {
            needs_delete()?;
            (Command::Restore, Slot::Top)
        }
        other => return Err(ApiError::invalid(format!("Unknown action “{other}”."))),
    })
}

enum Sent {
    Reply,
    Action,
}

/// Runs a reply, note or action; answers with the re-rendered live part
/// (and composer), a redirect for forms without JavaScript, or the pane
/// with the notice and the draft when refused.
fn act(
    app: &App,
    ctx: &Ctx,
    id: u64,
    f: ActionForm,
    files: Vec<NewFile>,
    kind: Sent,
) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let before = visible_ticket(hd, &ctx.agent, TicketId(id))?;
    let draft = Draft {
        body: f.body.clone().unwrap_or_default(),
        mode: f.mode.clone().unwrap_or_else(|| "reply".into()),
        status: f.status.clone(),
    };
    let mut view = View::default();
    let decided: Result<(Command, Slot), ApiError> = match kind {
        Sent::Reply => {
            let status = match draft.status.as_deref() {
                None | Some("") => Ok(None),
                Some(s) => s.parse::<Status>().map(Some).map_err(|e| ApiError::invalid(e.to_string())),
            };
            if draft.body.trim().is_empty() {
                Err(ApiError::invalid("Write something first."))
            } else {
                // Files are kept only once the rest of the form is right.
                status.and_then(|status| {
                    let attachments = hd.store_files(files)?;
                    Ok(if draft.mode == "note" {
                        (Command::AddNote { body: draft.body.clone(), attachments }, Slot::Composer)
                    } else {
                        (
                            Command::AgentReply { body: draft.body.clone(), attachments, status },
                            Slot::Composer,
                        )
                    })
                })
            }
        }
        Sent::Action if f.action.as_deref() == Some("delete_ask") => {
            if !ctx.agent.permissions.may_delete {
                Err(ApiError::forbidden("You may not delete tickets."))
            } else {
                view.confirm_delete = true;
                return respond(app, ctx, &before, &view, None, StatusCode::OK, false);
            }
        }
        Sent::Action if matches!(f.action.as_deref(), Some("macro_preview" | "macro_apply")) => {
            return macro_action(app, ctx, &before, &f);
        }
        Sent::Action if f.action.as_deref().is_some_and(|a| super::relations::ACTIONS.contains(&a)) => {
            return super::relations::act(app, ctx, &before, &f);
        }
        Sent::Action => command_for(app, ctx, &f),
    };
    let slot_of_error = match (&kind, f.action.as_deref()) {
        (Sent::Reply, _) => Slot::Composer,
        (Sent::Action, Some(a @ ("status" | "urgency" | "department" | "agent" | "team"))) => {
            Slot::Property(a.into())
        }
        (Sent::Action, Some("label_add" | "label_remove")) => Slot::Property("label".into()),
        (Sent::Action, Some("cc_add" | "cc_remove")) => Slot::Property("cc".into()),
        (Sent::Action, Some("follow" | "unfollow")) => Slot::Property("follow".into()),
        _ => Slot::Top,
    };
    let (cmd, slot) = match decided {
        Ok(x) => x,
        Err(e) => {
            view.notice =
                Some(Notice { slot: slot_of_error, error: true, text: e.message.clone(), undo: false });
            return respond(app, ctx, &before, &view, Some(&draft), e.status, matches!(kind, Sent::Reply));
        }
    };
    let undo = matches!(cmd, Command::Delete | Command::MarkSpam);
    let done_text = match &cmd {
        Command::Delete => Some("Ticket deleted. It is in Deleted until purged."),
        Command::MarkSpam => Some("Marked as spam."),
        Command::Restore => Some("Restored."),
        _ => None,
    };
    let version = f.version.unwrap_or(before.version);
    // By the library's rules: refused only when someone else changed what
    // the command depends on; replies and notes always go in, with what the
    // agent had not seen (`missed`).
    match hd.execute_seen(TicketId(id), version, &Actor::Agent(ctx.agent.id), cmd) {
        Ok(helpdesk_store::Executed { ticket: after, missed }) => {
            let log = hd.log(after.id)?;
            app.publish(before.version, &after, &log);
            if !ctx.hx.fragment() {
                return Ok(redirect(&ctx.hx, &format!("/agent/tickets/{id}")));
            }
            if let Some(text) = done_text {
                view.notice = Some(Notice { slot: Slot::Top, error: false, text: text.into(), undo });
            } else if !missed.is_empty() && matches!(kind, Sent::Reply) {
                // The collision notice: what arrived while the agent wrote
                // now stands above their post in the timeline.
                let n = missed.len();
                let text = format!(
                    "Sent. {n} new {} arrived while you wrote: {} above yours.",
                    if n == 1 { "post" } else { "posts" },
                    if n == 1 { "it is" } else { "they are" }
                );
                view.notice = Some(Notice { slot: Slot::Top, error: false, text, undo: false });
            }
            let body = if draft.mode != "note" && !ctx.signature.is_empty() {
                format!("\n\n{}", ctx.signature)
            } else {
                String::new()
            };
            let keep = Draft { body, mode: draft.mode.clone(), status: None };
            respond(app, ctx, &after, &view, Some(&keep), StatusCode::OK, matches!(kind, Sent::Reply))
        }
        Err(e) => {
            let e = ApiError::from(e);
            let now = visible_ticket(hd, &ctx.agent, TicketId(id))?;
            let text = if e.status == StatusCode::CONFLICT {
                let what = changes_since(app, ctx, now.id, version)?;
                match kind {
                    Sent::Reply => format!(
                        "Not sent: meanwhile {what}. Your text is kept: read the change, then send again."
                    ),
                    Sent::Action => {
                        format!("Not changed: meanwhile {what}. Check the ticket, then try again.")
                    }
                }
            } else {
                e.message.clone()
            };
            view.notice = Some(Notice { slot, error: true, text, undo: false });
            respond(app, ctx, &now, &view, Some(&draft), e.status, matches!(kind, Sent::Reply))
        }
    }
}

/// Previews a macro (`macro_preview`) or applies it at the version on
/// screen (`macro_apply`); answers like any action.
fn macro_action(app: &App, ctx: &Ctx, before: &Ticket, f: &ActionForm) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let mut view = View::default();
    let notice = |text: String, error: bool| Some(Notice { slot: Slot::Top, error, text, undo: false });
    let Some(id) = f.value.as_deref().and_then(|v| v.trim().parse::<u64>().ok()).map(MacroId) else {
        view.notice = notice("Choose a macro first.".into(), true);
        return respond(app, ctx, before, &view, None, StatusCode::UNPROCESSABLE_ENTITY, false);
    };
    let macros = hd.macros(ctx.agent.id);
    if f.action.as_deref() == Some("macro_preview") {
        return match macros.get(id).and_then(|m| Ok((macros.preview(id, before.id)?, m))) {
            Ok((p, m)) => {
                view.macro_preview = Some((m, p.steps));
                respond(app, ctx, before, &view, None, StatusCode::OK, false)
            }
            Err(e) => {
                let e = ApiError::from(e);
                view.notice = notice(e.message.clone(), true);
                respond(app, ctx, before, &view, None, e.status, false)
            }
        };
    }
    let version = f.version.unwrap_or(before.version);
    match crate::macros::apply(app, &ctx.agent, before.id, id, Some(version)) {
        Ok(done) => {
            if !ctx.hx.fragment() {
                return Ok(redirect(&ctx.hx, &format!("/agent/tickets/{}", before.id.0)));
            }
            let name = macros.get(id).map(|m| m.r#macro.name).unwrap_or_default();
            let n: usize = done.steps.iter().map(|s| s.changes.len()).sum();
            let text = match n {
                0 => format!("Nothing to change: the ticket already is as “{name}” leaves it."),
                1 => format!("Applied “{name}”: 1 change."),
                n => format!("Applied “{name}”: {n} changes."),
            };
            view.notice = notice(text, false);
            respond(app, ctx, &done.detail.ticket, &view, None, StatusCode::OK, false)
        }
        Err(e) => {
            let now = visible_ticket(hd, &ctx.agent, before.id)?;
            let text = if e.status == StatusCode::CONFLICT {
                let what = changes_since(app, ctx, now.id, version)?;
                format!("Macro not applied: meanwhile {what}. Check the ticket, then try again.")
            } else {
                e.message.clone()
            };
            view.notice = notice(text, true);
            respond(app, ctx, &now, &view, None, e.status, false)
        }
    }
}

/// The answer after an action: for htmx the live part (and, after a send,
/// the composer out of band), else the whole page.
pub(super) fn respond(
    app: &App,
    ctx: &Ctx,
    t: &Ticket,
    view: &View,
    draft: Option<&Draft>,
    status: StatusCode,
    with_composer: bool,
) -> Result<Response, ApiError> {
    if ctx.hx.fragment() {
        let live = live(app, ctx, t, view)?;
        return Ok(html(
            status,
            html! {
                (live)
                @if with_composer { (composer(ctx, t, view, draft, true)) }
            },
        ));
    }
    page_response(app, ctx, t, view, draft, status)
}

fn close(app: &App, ctx: &Ctx, id: u64, f: ActionForm) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let mut state = WorkspaceState::load(hd, ctx.agent.id)?;
    let pos = state.tabs.iter().position(|t| *t == id);
    state.tabs.retain(|t| *t != id);
    state.save(hd, ctx.agent.id)?;
    let active = match f.active {
        Some(a) if a != id && state.tabs.contains(&a) => Some(a),
        _ => pos.and_then(|p| state.tabs.get(p.min(state.tabs.len().saturating_sub(1))).copied()),
    };
    let list_url = ListQuery::from_state(&state).url(None);
    let target = active.map(|a| format!("/agent/tickets/{a}")).unwrap_or(list_url);
    if !ctx.hx.fragment() {
        return Ok(redirect(&ctx.hx, &target));
    }
    let body = match active.and_then(|a| visible_ticket(hd, &ctx.agent, TicketId(a)).ok()) {
        Some(t) => Some((t.id.0, ticket_view(app, ctx, &t, &View::default(), None)?)),
        None => None,
    };
    let mut r = html(StatusCode::OK, content_pane(app, ctx, &state, body)?);
    r.headers_mut().insert("hx-push-url", target.parse().map_err(|_| ApiError::internal("url"))?);
    Ok(r)
}

/// A reply whose files were refused before it was read (too large): the
/// ticket as it is, with the reason in the composer.
fn refused_upload(app: &App, ctx: &Ctx, id: u64, e: ApiError) -> Result<Response, ApiError> {
    let t = visible_ticket(app.helpdesk(), &ctx.agent, TicketId(id))?;
    let view = View {
        notice: Some(Notice { slot: Slot::Composer, error: true, text: e.message.clone(), undo: false }),
        ..View::default()
    };
    respond(app, ctx, &t, &view, None, e.status, true)
}

fn csrf_refused(ctx: &Ctx) -> Response {
    let _ = ctx;
    html(
        StatusCode::FORBIDDEN,
        super::layout::notice_pane("This form expired: reload the page and try again."),
    )
}

/// Ticket pages and forms.
pub fn routes(app: App) -> BoxedFilter<(Response,)> {
    use warp::path;
    let a = || auth(app.clone());
    let get = path!("agent" / "tickets" / u64)
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(a())
        .and(warp::query::<ViewQuery>())
        .and_then(|id: u64, app: App, auth: Auth, q: ViewQuery| async move {
            let ctx = agent_or_login!(auth);
            run(app, ctx, move |app, ctx| show(app, ctx, id, q)).await
        })
        .boxed();
    let post = |what: &'static str| {
        warp::path("agent")
            .and(warp::path("tickets"))
            .and(warp::path::param::<u64>())
            .and(warp::path(what))
            .and(warp::path::end())
            .and(warp::post())
            .and(with_app(app.clone()))
            .and(a())
            .and(warp::header::optional::<String>("x-csrf-token"))
            .and(submitted(app.clone(), Plain::Form))
            .and_then(
                move |id: u64, app: App, auth: Auth, header: Option<String>, f: Submitted<ActionForm>| async move {
                    let ctx = agent_or_login!(auth);
                    let (f, files) = match f {
                        Ok(x) => x,
                        // Nothing changes: the ticket, with why the upload was refused.
                        Err(e) => return run(app, ctx, move |app, ctx| refused_upload(app, ctx, id, e)).await,
                    };
                    if !ctx.csrf_ok(header.as_deref(), f.csrf.as_deref()) {
                        return Ok(csrf_refused(&ctx));
                    }
                    run(app, ctx, move |app, ctx| match what {
                        "reply" => act(app, ctx, id, f, files, Sent::Reply),
                        "actions" => act(app, ctx, id, f, Vec::new(), Sent::Action),
                        _ => close(app, ctx, id, f),
                    })
                    .await
                },
            )
            .boxed()
    };
    get.or(post("reply")).unify().or(post("actions")).unify().or(post("close")).unify().boxed()
}
