//! The Admin app's rule screens: triggers, escalations and SLA policies
//! listed in the order they run (turn on and off, move up and down), each
//! edited in a form (conditions and actions chosen from what the rule
//! engine offers, the engine's message next to the row it is about) or as
//! TOML/JSON, tried on real tickets before saving (a dry run with the trace
//! per condition and action), and the whole set imported or exported in
//! the `--rules` file format.
//!
//! | URL | screen |
//! | --- | --- |
//! | `/agent/admin/rules` | every rule, import and export |
//! | `/agent/admin/rules/new/{kind}` | a new trigger, escalation or SLA policy |
//! | `/agent/admin/rules/{kind}/{name}` | one rule (`?as=text` for TOML/JSON) |
//! | `/agent/admin/rules/export.toml`, `.../export.json` | the rule file |

use super::pages::{checkbox, csrf, op, screen, Form, Outcome, Section, Shown};
use crate::error::ApiError;
use crate::workspace::Ctx;
use crate::App;
use helpdesk_core::admin::{DryRunOn, RuleDef, RuleKind};
use helpdesk_core::automation::{DryRun, RuleFile};
use helpdesk_core::*;
use helpdesk_store::{Admin, Helpdesk};
use maud::{html, Markup};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use warp::http::StatusCode;
use warp::reply::Response;

/// What a rule name keeps unencoded in a URL segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A name as one URL path segment (`/` and everything but letters, digits
/// and `-_.~` percent-encoded).
pub fn path_segment(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

/// A rule's screen.
pub fn rule_url(kind: RuleKind, name: &str) -> String {
    format!("/agent/admin/rules/{}/{}", kind.as_str(), utf8_percent_encode(name, SEGMENT))
}

/// A URL segment, decoded.
pub fn segment(s: &str) -> Result<String, ApiError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ApiError::not_found("the name in the address is not valid UTF-8"))
}

fn kind_of(s: &str) -> Result<RuleKind, ApiError> {
    RuleKind::parse(s).ok_or_else(|| ApiError::not_found("rules are triggers, escalations or SLA policies"))
}

/// The events a trigger runs on, as offered in the form.
const EVENTS: [(&str, &str); 6] = [
    ("new_ticket", "A ticket is created"),
    ("user_reply", "The user replies"),
    ("agent_reply", "An agent replies"),
    ("updated", "The ticket is changed"),
    ("sla_warning", "An SLA warning is reached"),
    ("sla_failed", "An SLA is failed"),
];

/// The fields conditions look at, offered in the form (custom fields are
/// added from the departments, users and organisations).
const FIELDS: [(&str, &str); 21] = [
    ("ticket.status", "status"),
    ("ticket.urgency", "urgency (1 to 10)"),
    ("ticket.department", "department"),
    ("ticket.agent", "assigned agent"),
    ("ticket.team", "assigned team"),
    ("ticket.user", "the ticket's user (id)"),
    ("ticket.subject", "subject"),
    ("ticket.channel", "channel (email, portal, embed, agent, api)"),
    ("ticket.labels", "labels"),
    ("ticket.ccs", "CCed users (ids)"),
    ("ticket.followers", "followers (agents)"),
    ("ticket.message", "the new message's text"),
    ("ticket.sla", "worst SLA state (ok, warning, failed)"),
    ("actor.type", "who acted (user, agent, system)"),
    ("actor.agent", "the agent who acted"),
    ("actor.user", "the user who acted (id)"),
    ("user.email", "user's email"),
    ("user.name", "user's name"),
    ("user.organisation", "user's organisation (id)"),
    ("user.usergroups", "user's usergroups (ids)"),
    ("organisation.name", "organisation's name"),
];

const OPS: [(&str, &str); 9] = [
    ("is", "is"),
    ("is_not", "is not"),
    ("contains", "contains"),
    ("not_contains", "does not contain"),
    ("less_than", "is less than"),
    ("greater_than", "is greater than"),
    ("changed", "changed"),
    ("changed_to", "changed to"),
    ("changed_from", "changed from"),
];

/// The actions, what their value is, and what the second box holds.
const ACTIONS: [(&str, &str, &str); 16] = [
    ("set_status", "Set status", "status"),
    ("set_urgency", "Set urgency", "1 to 10"),
    ("raise_urgency", "Raise urgency by", "1 to 9 steps"),
    ("lower_urgency", "Lower urgency by", "1 to 9 steps"),
    ("set_department", "Move to department", "department name or id"),
    ("set_agent", "Assign agent", "agent name or id; empty unassigns"),
    ("set_team", "Assign team", "team name or id; empty unassigns"),
    ("add_label", "Add label", "label"),
    ("remove_label", "Remove label", "label"),
    ("set_field", "Set custom field", "field key; the value in the second box"),
    ("add_cc", "CC user", "the user's id (a number)"),
    ("add_follower", "Add follower", "agent name or id"),
    ("add_note", "Add note", "the note's text"),
    (
        "notify",
        "Notify",
        "user, agent, team, followers, agent:ID, team:ID or an address; template in the second box",
    ),
    ("webhook", "Call webhook", "http:// or https:// URL"),
    ("stop", "Stop further triggers", "nothing"),
];

/// Names for the ids rules hold (departments, agents, teams), both ways.
struct Names {
    departments: Vec<(u64, String)>,
    agents: Vec<(u64, String)>,
    teams: Vec<(u64, String)>,
}

impl Names {
    fn load(hd: &Helpdesk) -> Result<Names, ApiError> {
        Ok(Names {
            departments: hd.departments()?.into_iter().map(|d| (d.id.0, d.name)).collect(),
            agents: hd.agents()?.into_iter().map(|a| (a.id.0, a.name)).collect(),
            teams: hd.teams()?.into_iter().map(|t| (t.id.0, t.name)).collect(),
        })
    }

    fn list(&self, what: &str) -> Option<&[(u64, String)]> {
        match what {
            "ticket.department" | "set_department" => Some(&self.departments),
            "ticket.agent" | "actor.agent" | "ticket.followers" | "set_agent" | "add_follower" => {
                Some(&self.agents)
            }
            "ticket.team" | "set_team" => Some(&self.teams),
            _ => None,
        }
    }

    /// The one id with this name (names need not be unique: two agents
    /// may share one, and then only their ids tell them apart).
    fn unique(&self, what: &str, name: &str) -> Option<u64> {
        let list = self.list(what)?;
        let mut found = list.iter().filter(|(_, n)| n.eq_ignore_ascii_case(name.trim()));
        match (found.next(), found.next()) {
            (Some((id, _)), None) => Some(*id),
            _ => None,
        }
    }

    /// A name typed for an id (`Support` for department 1), or the text.
    fn id_for(&self, what: &str, text: &str) -> Value {
        match self.unique(what, text) {
            Some(id) => json!(id),
            None => literal(text),
        }
    }

    /// An id shown by its name when that name is its alone.
    fn name_for(&self, what: &str, v: &Value) -> String {
        if let (Some(list), Some(id)) = (self.list(what), v.as_u64()) {
            if let Some((_, n)) = list.iter().find(|(i, _)| *i == id) {
                if self.unique(what, n) == Some(id) {
                    return n.clone();
                }
            }
        }
        shown(v)
    }
}

/// What a person typed, as a rule value: a number, `true`/`false`, `null`,
/// a quoted string or a list as JSON; anything else as text.
fn literal(t: &str) -> Value {
    if t.trim().is_empty() {
        return Value::Null;
    }
    match serde_json::from_str::<Value>(t) {
        Ok(v) if !v.is_object() => v,
        _ => Value::String(t.to_string()),
    }
}

/// A rule value as a person types it back ([`literal`] reads it again).
fn shown(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) if matches!(literal(s), Value::String(ref back) if back == s) => s.clone(),
        other => other.to_string(),
    }
}

// ----- the editor's state: a rule as form fields -------------------------------

#[derive(Debug, Clone, Default)]
struct CondRow {
    list: String,
    field: String,
    op: String,
    value: String,
}

#[derive(Debug, Clone, Default)]
struct ActRow {
    action: String,
    value: String,
    extra: String,
    channel: String,
}

/// A rule as the form shows it: every value as typed.
#[derive(Debug, Clone, Default)]
struct Editor {
    kind: Option<RuleKind>,
    name: String,
    order: String,
    enabled: bool,
    on: Vec<String>,
    on_more: String,
    status: String,
    after: String,
    repeat_every: String,
    repeat_times: String,
    sla_kind: String,
    warning: String,
    failure: String,
    hours_on: bool,
    timezone: String,
    hours: String,
    holidays: String,
    conditions: Vec<CondRow>,
    actions: Vec<ActRow>,
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

impl Editor {
    fn blank(kind: RuleKind, order: i32) -> Editor {
        Editor {
            kind: Some(kind),
            order: order.to_string(),
            enabled: true,
            on: if kind == RuleKind::Trigger { vec!["new_ticket".into()] } else { vec![] },
            status: "awaiting_agent".into(),
            sla_kind: "first_response".into(),
            timezone: "UTC".into(),
            hours: "mon,tue,wed,thu,fri 09:00-17:00".into(),
            ..Default::default()
        }
    }

    fn of(def: &RuleDef, names: &Names) -> Editor {
        let v = def.to_json_value();
        let mut e = Editor::blank(def.kind(), def.order());
        e.name = def.name().to_string();
        e.enabled = def.enabled();
        if let Some(on) = v.get("on").and_then(|o| o.as_array()) {
            let all: Vec<String> = on.iter().filter_map(|x| x.as_str().map(str::to_string)).collect();
            e.on = all.iter().filter(|x| EVENTS.iter().any(|(k, _)| k == x)).cloned().collect();
            e.on_more = all
                .iter()
                .filter(|x| !EVENTS.iter().any(|(k, _)| k == *x))
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
        }
        e.status = s(&v, "status");
        e.after = s(&v, "after");
        if let Some(r) = v.get("repeat") {
            e.repeat_every = s(r, "every");
            e.repeat_times = s(r, "times");
        }
        e.sla_kind = s(&v, "kind");
        e.warning = s(&v, "warning");
        e.failure = s(&v, "failure");
        if let Some(w) = v.get("working_hours").filter(|w| !w.is_null()) {
            e.hours_on = true;
            e.timezone = s(w, "timezone");
            e.hours = w
                .get("hours")
                .and_then(|h| h.as_array())
                .map(|hs| {
                    hs.iter()
                        .map(|h| {
                            let days: Vec<String> = h
                                .get("days")
                                .and_then(|d| d.as_array())
                                .map(|d| d.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                                .unwrap_or_default();
                            format!("{} {}-{}", days.join(","), s(h, "from"), s(h, "to"))
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            e.holidays = w
                .get("holidays")
                .and_then(|h| h.as_array())
                .map(|hs| hs.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("\n"))
                .unwrap_or_default();
        }
        let (all, any, actions) = def.parts();
        for (list, conds) in [("all", all), ("any", any)] {
            for c in conds {
                e.conditions.push(CondRow {
                    list: list.into(),
                    field: c.field.clone(),
                    op: serde_json::to_value(c.op)
                        .ok()
                        .and_then(|o| o.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    value: c.value.as_ref().map(|v| names.name_for(c.field.trim(), v)).unwrap_or_default(),
                });
            }
        }
        for a in actions {
            let av = serde_json::to_value(a).unwrap_or(Value::Null);
            let name = a.name();
            let (value, extra) = match name {
                "set_status" => (s(&av, "status"), String::new()),
                "set_urgency" => (s(&av, "urgency"), String::new()),
                "raise_urgency" | "lower_urgency" => (s(&av, "by"), String::new()),
                "set_department" => (names.name_for(name, &av["department"]), String::new()),
                "set_agent" | "add_follower" => (names.name_for(name, &av["agent"]), String::new()),
                "set_team" => (names.name_for(name, &av["team"]), String::new()),
                "add_label" | "remove_label" => (s(&av, "label"), String::new()),
                "set_field" => (s(&av, "key"), shown(&av["value"])),
                "add_cc" => (s(&av, "user"), String::new()),
                "add_note" => (s(&av, "body"), String::new()),
                "notify" => (s(&av, "to"), s(&av, "template")),
                "webhook" => (s(&av, "url"), String::new()),
                _ => (String::new(), String::new()),
            };
            e.actions.push(ActRow { action: name.into(), value, extra, channel: s(&av, "channel") });
        }
        e
    }

    /// The editor as typed into the form.
    fn from_form(kind: RuleKind, f: &Form) -> Editor {
        let mut e = Editor {
            kind: Some(kind),
            name: f.get("name"),
            order: f.get("order"),
            enabled: f.on("enabled"),
            on: f.all("on"),
            on_more: f.get("on_more"),
            status: f.get("status"),
            after: f.get("after"),
            repeat_every: f.get("repeat_every"),
            repeat_times: f.get("repeat_times"),
            sla_kind: f.get("sla_kind"),
            warning: f.get("warning"),
            failure: f.get("failure"),
            hours_on: f.on("hours_on"),
            timezone: f.get("timezone"),
            hours: f.get("hours"),
            holidays: f.get("holidays"),
            ..Default::default()
        };
        let rows = |prefix: &str| {
            let mut n = 0;
            while f.opt(&format!("{prefix}{n}_{}", if prefix == "c" { "field" } else { "action" })).is_some()
            {
                n += 1;
            }
            n
        };
        for i in 0..rows("c") {
            let g = |k: &str| f.get(&format!("c{i}_{k}"));
            e.conditions.push(CondRow { list: g("list"), field: g("field"), op: g("op"), value: g("value") });
        }
        for i in 0..rows("a") {
            let g = |k: &str| f.get(&format!("a{i}_{k}"));
            e.actions.push(ActRow {
                action: g("action"),
                value: g("value"),
                extra: g("extra"),
                channel: g("channel"),
            });
        }
        e
    }

    /// The rule the form describes, checked by the engine.
    fn rule(&self, names: &Names) -> Result<RuleDef, ApiError> {
        let kind = self.kind.unwrap_or(RuleKind::Trigger);
        let order: i32 = if self.order.trim().is_empty() {
            0
        } else {
            self.order.trim().parse().map_err(|_| ApiError::invalid("The order must be a whole number."))?
        };
        let mut v = json!({ "name": self.name.trim(), "order": order, "enabled": self.enabled });
        let mut all = Vec::new();
        let mut any = Vec::new();
        for c in &self.conditions {
            if c.field.trim().is_empty() {
                continue;
            }
            let mut cv = json!({ "field": c.field.trim(), "op": c.op });
            if c.op != "changed" {
                cv["value"] = names.id_for(c.field.trim(), &c.value);
            }
            if c.list == "any" {
                any.push(cv)
            } else {
                all.push(cv)
            }
        }
        v["all"] = json!(all);
        v["any"] = json!(any);
        let span = |t: &str| (!t.trim().is_empty()).then(|| json!(t.trim()));
        let mut actions = Vec::new();
        for a in &self.actions {
            if a.action.is_empty() {
                continue;
            }
            let val = a.value.trim();
            let mut av = json!({ "action": a.action });
            let number = |t: &str| literal(t);
            match a.action.as_str() {
                "set_status" => av["status"] = json!(val),
                "set_urgency" => av["urgency"] = number(val),
                "raise_urgency" | "lower_urgency" => av["by"] = number(val),
                "set_department" => av["department"] = names.id_for("set_department", val),
                "set_agent" => av["agent"] = names.id_for("set_agent", val),
                "set_team" => av["team"] = names.id_for("set_team", val),
                "add_follower" => av["agent"] = names.id_for("add_follower", val),
                "add_label" | "remove_label" => av["label"] = json!(val),
                "set_field" => {
                    av["key"] = json!(val);
                    av["value"] = literal(&a.extra);
                }
                "add_cc" => av["user"] = number(val),
                "add_note" => av["body"] = json!(a.value),
                "notify" => {
                    av["to"] = json!(val);
                    if !a.channel.is_empty() {
                        av["channel"] = json!(a.channel);
                    }
                    if !a.extra.trim().is_empty() {
                        av["template"] = json!(a.extra.trim());
                    }
                }
                "webhook" => av["url"] = json!(val),
                _ => {}
            }
            actions.push(av);
        }
        match kind {
            RuleKind::Trigger => {
                let mut on = self.on.clone();
                on.extend(
                    self.on_more.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string),
                );
                v["on"] = json!(on);
                v["actions"] = json!(actions);
            }
            RuleKind::Escalation => {
                v["status"] = json!(self.status);
                v["after"] = span(&self.after).unwrap_or(Value::Null);
                if let Some(every) = span(&self.repeat_every) {
                    let mut r = json!({ "every": every });
                    if !self.repeat_times.trim().is_empty() {
                        r["times"] = literal(self.repeat_times.trim());
                    }
                    v["repeat"] = r;
                }
                v["actions"] = json!(actions);
            }
            RuleKind::Sla => {
                v["kind"] = json!(self.sla_kind);
                if let Some(w) = span(&self.warning) {
                    v["warning"] = w;
                }
                v["failure"] = span(&self.failure).unwrap_or(Value::Null);
            }
        }
        if kind != RuleKind::Trigger && self.hours_on {
            v["working_hours"] = self.working_hours()?;
        }
        Ok(RuleDef::from_json_value(kind, v)?)
    }

    fn working_hours(&self) -> Result<Value, ApiError> {
        let mut hours = Vec::new();
        for line in self.hours.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let bad = || {
                ApiError::invalid(format!(
                    "Working hours: {line:?} should read like \"mon,tue,wed,thu,fri 09:00-17:30\""
                ))
            };
            let (days, times) = line.split_once(' ').ok_or_else(bad)?;
            let (from, to) = times.trim().split_once('-').ok_or_else(bad)?;
            let days: Vec<&str> = days.split(',').map(str::trim).filter(|d| !d.is_empty()).collect();
            hours.push(json!({ "days": days, "from": from.trim(), "to": to.trim() }));
        }
        let holidays: Vec<&str> =
            self.holidays.split(['\n', ',']).map(str::trim).filter(|d| !d.is_empty()).collect();
        Ok(json!({ "timezone": self.timezone.trim(), "hours": hours, "holidays": holidays }))
    }
}

// ----- the list -------------------------------------------------------------------

fn summary(def: &RuleDef) -> String {
    let v = def.to_json_value();
    match def {
        RuleDef::Trigger(t) => format!("on {}", t.on.join(", ")),
        RuleDef::Escalation(e) => format!(
            "{} for {}{}",
            e.status,
            e.after,
            v.get("repeat").map(|r| format!(", then every {}", s(r, "every"))).unwrap_or_default()
        ),
        RuleDef::Sla(p) => format!(
            "{} within {}{}",
            s(&v, "kind").replace('_', " "),
            p.failure,
            if p.working_hours.is_some() { " working hours" } else { "" }
        ),
    }
}

fn rules_screen(app: &App, ctx: &Ctx, shown: &Shown, status: StatusCode) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let file = hd.rule_file()?;
    let code = hd.code_trigger_names();
    let all = RuleDef::all_of(&file);
    let body = html! {
        p.muted { "Triggers run when something happens to a ticket, in this order; escalations when a ticket has waited in a status; SLA policies time what the helpdesk promises. Changes take effect at once on every server." }
        @for o in ["up", "down", "enable", "disable", "reschedule"] { (shown.error_for(o)) }
        @for kind in RuleKind::ALL {
            @let rules: Vec<&RuleDef> = all.iter().filter(|r| r.kind() == kind).collect();
            section.admin-section aria-labelledby=(format!("h-{}", kind.as_str())) {
                h2 id=(format!("h-{}", kind.as_str())) { (heading(kind)) }
                @if rules.is_empty() && (kind != RuleKind::Trigger || code.is_empty()) {
                    p.muted { "None yet." }
                } @else {
                    div.table-wrap {
                        table.admin-table {
                            caption.vh { (heading(kind)) }
                            thead { tr { th scope="col" { "Name" } th scope="col" { "When" } th scope="col" { "State" } th scope="col" { span.vh { "Actions" } } } }
                            tbody {
                                @for (i, r) in rules.iter().enumerate() {
                                    tr.retired[!r.enabled()] {
                                        td { a href=(rule_url(kind, r.name())) { (r.name()) } }
                                        td { (summary(r)) }
                                        td { @if r.enabled() { "On" } @else { span.badge { "off" } } }
                                        td.actions {
                                            form.row-actions method="post" action="/agent/admin/rules" {
                                                (csrf(ctx))
                                                input type="hidden" name="kind" value=(kind.as_str());
                                                input type="hidden" name="name" value=(r.name());
                                                @if kind != RuleKind::Sla {
                                                    button.btn.small type="submit" name="op" value="up" disabled[i == 0] aria-label=(format!("Move {} up", r.name())) { "↑" }
                                                    button.btn.small type="submit" name="op" value="down" disabled[i + 1 == rules.len()] aria-label=(format!("Move {} down", r.name())) { "↓" }
                                                }
                                                @if r.enabled() {
                                                    button.btn.small type="submit" name="op" value="disable" { "Turn off" }
                                                } @else {
                                                    button.btn.small type="submit" name="op" value="enable" { "Turn on" }
                                                }
                                            }
                                        }
                                    }
                                }
                                @if kind == RuleKind::Trigger {
                                    @for n in &code {
                                        tr { td { (n) } td.muted colspan="3" { "Built into this server's code; not editable here." } }
                                    }
                                }
                            }
                        }
                    }
                }
                a.btn href=(format!("/agent/admin/rules/new/{}", kind.as_str())) { "New " (kind.label()) }
            }
        }
        section.admin-section aria-labelledby="h-apply" {
            h2 #h-apply { "Apply to existing tickets" }
            p.muted { "Tickets pick up new and changed SLA policies and escalations the next time they change. Apply them to every ticket now:" }
            form method="post" action="/agent/admin/rules" {
                (csrf(ctx)) (op("reschedule"))
                button.btn type="submit" { "Apply now" }
            }
        }
        section.admin-section aria-labelledby="h-import" {
            h2 #h-import { "Import and export" }
            p.muted { "Every rule as one rule file, the format of the server's --rules option:" }
            div.form-actions {
                a.btn href="/agent/admin/rules/export.toml" download { "Download TOML" }
                a.btn href="/agent/admin/rules/export.json" download { "Download JSON" }
            }
            form #rules-import .form method="post" action="/agent/admin/rules" {
                (csrf(ctx)) (op("import"))
                (shown.error_for("import"))
                div.form-row {
                    label for="import-text" { "Rule file (TOML or JSON)" }
                    textarea #import-text .code name="text" rows="10" spellcheck="false" placeholder="[[triggers]]\nname = \"...\"" { (shown.value("import", "text", "")) }
                    p.hint { "Every rule is checked first; nothing changes when one is refused. Rules replace the ones with their name." }
                }
                div.checks { (checkbox("replace_all", "on", "Remove the rules the file does not name", shown.typed("import") && shown.form.on("replace_all"), "import-replace")) }
                div.form-actions { button.btn.primary type="submit" { "Import" } }
            }
        }
    };
    screen(app, ctx, Section::Rules, "Rules", shown, status, body)
}

fn heading(kind: RuleKind) -> &'static str {
    match kind {
        RuleKind::Trigger => "Triggers",
        RuleKind::Escalation => "Escalations",
        RuleKind::Sla => "SLA policies",
    }
}

// ----- the editor -----------------------------------------------------------------

/// Where the engine's message points: `all condition 2` -> the second `all`
/// row, `action 1 (...)` -> the first action.
fn error_row(message: &str) -> Option<(&'static str, String, usize)> {
    for (list, key) in [("all", "\": all condition "), ("any", "\": any condition "), ("act", "\": action ")]
    {
        if let Some(at) = message.find(key) {
            let rest = &message[at + key.len()..];
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            if let Ok(n) = digits.parse::<usize>() {
                return Some((if list == "act" { "act" } else { "cond" }, list.to_string(), n));
            }
        }
    }
    None
}

struct EditorView<'a> {
    kind: RuleKind,
    /// The stored rule's name (None: new).
    original: Option<&'a str>,
    editor: Editor,
    text: Option<(String, String)>,
    runs: Option<Vec<(DryRun, String)>>,
    dry: (String, String),
}

#[allow(clippy::too_many_lines)]
fn editor_screen(
    app: &App,
    ctx: &Ctx,
    v: EditorView<'_>,
    shown: &Shown,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let kind = v.kind;
    let e = &v.editor;
    let action = match v.original {
        Some(n) => rule_url(kind, n),
        None => format!("/agent/admin/rules/new/{}", kind.as_str()),
    };
    let title = match v.original {
        Some(n) => format!("{} {n}", capitalised(kind.label())),
        None => format!("New {}", kind.label()),
    };
    let error = shown.error.as_ref().map(|(_, m)| m.as_str());
    let at = error.and_then(error_row);
    let mut custom: Vec<String> = Vec::new();
    for d in hd.departments()? {
        for f in d.live_fields() {
            let path = format!("ticket.fields.{}", f.key);
            if !custom.contains(&path) {
                custom.push(path);
            }
        }
    }
    let mut rows = e.conditions.clone();
    rows.push(CondRow { list: "all".into(), op: "is".into(), ..Default::default() });
    let mut acts = e.actions.clone();
    if kind != RuleKind::Sla {
        acts.push(ActRow::default());
    }
    let text_mode = v.text.is_some();
    let (fmt, text) = v.text.clone().unwrap_or_default();
    let mut counts = (0usize, 0usize);
    let mut acted = 0usize;
    let body = html! {
        p { a href="/agent/admin/rules" { "All rules" } }
        nav.edit-as aria-label="Edit as" {
            a href=(action.clone()) aria-current=[(!text_mode).then_some("page")] { "Form" }
            a href=(format!("{action}?as=text")) aria-current=[text_mode.then_some("page")] { "TOML / JSON" }
        }
        @if let Some(m) = error {
            @if at.is_none() || text_mode { div.notice.error role="alert" id="rule-error" { (m) } }
            @else { div.notice.error role="alert" id="rule-error" { "This " (kind.label()) " was not saved: see the marked row." } }
        }
        @if text_mode {
            form #rule-text .form method="post" action=(action.clone()) {
                (csrf(ctx))
                div.form-row {
                    label for="rule-format" { "Format" }
                    select #rule-format name="format" {
                        option value="toml" selected[fmt != "json"] { "TOML" }
                        option value="json" selected[fmt == "json"] { "JSON" }
                    }
                }
                div.form-row {
                    label for="rule-source" { "The " (kind.label()) }
                    textarea #rule-source .code name="text" rows="18" spellcheck="false" { (text) }
                    p.hint { "The keys of one rule, as in a rule file's " code { "[[" (file_key(kind)) "]]" } " table (without that line), or one JSON object." }
                }
                (dry_inputs(&v.dry))
                div.form-actions {
                    button.btn.primary type="submit" name="op" value="save_text" { "Save" }
                    button.btn type="submit" name="op" value="dry_run_text" formaction=(format!("{action}#dry-run")) { "Try it" }
                }
            }
        } @else {
            form #rule-form .form method="post" action=(action.clone()) {
                (csrf(ctx))
                fieldset {
                    legend { "The " (kind.label()) }
                    div.form-grid {
                        div.form-row {
                            label for="rule-name" { "Name" }
                            input #rule-name type="text" name="name" required maxlength="100" value=(e.name);
                        }
                        div.form-row {
                            label for="rule-order" { "Order" }
                            input #rule-order type="number" name="order" value=(e.order);
                            p.hint { "Lower runs first." }
                        }
                    }
                    div.checks { (checkbox("enabled", "on", "On", e.enabled, "rule-enabled")) }
                }
                @match kind {
                    RuleKind::Trigger => {
                        fieldset {
                            legend { "Runs when" }
                            div.checks {
                                @for (k, label) in EVENTS {
                                    (checkbox("on", k, label, e.on.iter().any(|x| x == k), &format!("on-{k}")))
                                }
                            }
                            div.form-row {
                                label for="rule-on-more" { "Also on (comma separated)" }
                                input #rule-on-more type="text" name="on_more" value=(e.on_more) placeholder="new_ticket.email, sla_warning.First response";
                            }
                        }
                    }
                    RuleKind::Escalation => {
                        fieldset {
                            legend { "When a ticket has waited" }
                            div.form-grid {
                                div.form-row {
                                    label for="rule-status" { "In status" }
                                    select #rule-status name="status" {
                                        @for st in [Status::AwaitingAgent, Status::AwaitingUser, Status::Pending, Status::Resolved] {
                                            option value=(st.as_str()) selected[e.status == st.as_str()] { (st.as_str().replace('_', " ")) }
                                        }
                                    }
                                }
                                div.form-row {
                                    label for="rule-after" { "For" }
                                    input #rule-after type="text" name="after" value=(e.after) placeholder="4h" required;
                                }
                                div.form-row {
                                    label for="rule-every" { "Then again every" }
                                    input #rule-every type="text" name="repeat_every" value=(e.repeat_every) placeholder="4h (empty: once)";
                                }
                                div.form-row {
                                    label for="rule-times" { "At most (times)" }
                                    input #rule-times type="number" min="1" name="repeat_times" value=(e.repeat_times);
                                }
                            }
                            p.hint { "Times like 30m, 4h, 2d or 1d12h." }
                        }
                    }
                    RuleKind::Sla => {
                        fieldset {
                            legend { "The promise" }
                            div.form-grid {
                                div.form-row {
                                    label for="rule-sla-kind" { "Measures" }
                                    select #rule-sla-kind name="sla_kind" {
                                        @for (k, l) in [("first_response", "Time to first reply"), ("every_response", "Time to every reply"), ("resolution", "Time to resolution")] {
                                            option value=(k) selected[e.sla_kind == k] { (l) }
                                        }
                                    }
                                }
                                div.form-row {
                                    label for="rule-warning" { "Warn after" }
                                    input #rule-warning type="text" name="warning" value=(e.warning) placeholder="3h (optional)";
                                }
                                div.form-row {
                                    label for="rule-failure" { "Fail after" }
                                    input #rule-failure type="text" name="failure" value=(e.failure) placeholder="4h" required;
                                }
                            }
                        }
                    }
                }
                @if kind != RuleKind::Trigger {
                    fieldset {
                        legend { "Working hours" }
                        div.checks { (checkbox("hours_on", "on", "Count only working hours", e.hours_on, "rule-hours-on")) }
                        div.form-grid {
                            div.form-row {
                                label for="rule-tz" { "Timezone" }
                                input #rule-tz type="text" name="timezone" value=(e.timezone) list="timezones" placeholder="Europe/London";
                            }
                            div.form-row {
                                label for="rule-hours" { "Hours (a line per span)" }
                                textarea #rule-hours name="hours" rows="3" aria-describedby="rule-hours-hint" { (e.hours) }
                                p.hint #rule-hours-hint { "Days, then from-to: mon,tue,wed,thu,fri 09:00-17:30" }
                            }
                            div.form-row {
                                label for="rule-holidays" { "Holidays (a date per line)" }
                                textarea #rule-holidays name="holidays" rows="3" placeholder="2026-12-25" { (e.holidays) }
                            }
                        }
                        datalist #timezones { @for tz in chrono_tz::TZ_VARIANTS.iter() { option value=(tz.name()) {} } }
                    }
                }
                fieldset {
                    legend { "Conditions" }
                    p.hint { "All of the \"all\" conditions must hold, and one of the \"any\" ones when there are any. Values: text, a number, or a name of a department, agent or team." }
                    div.rule-rows {
                        @for (i, c) in rows.iter().enumerate() {
                            // The engine counts the filled rows of each list.
                            @let filled = !c.field.trim().is_empty();
                            @let pos = match (filled, c.list == "any") { (false, _) => ("", 0), (true, true) => { counts.1 += 1; ("any", counts.1) } (true, false) => { counts.0 += 1; ("all", counts.0) } };
                            @let bad = filled && matches!(&at, Some(("cond", l, n)) if l == pos.0 && *n == pos.1);
                            div.rule-row.bad[bad] role="group" aria-label=(format!("Condition {}", i + 1)) {
                                select name=(format!("c{i}_list")) aria-label="Which list" {
                                    option value="all" selected[c.list != "any"] { "all" }
                                    option value="any" selected[c.list == "any"] { "any" }
                                }
                                input type="text" name=(format!("c{i}_field")) value=(c.field) list="rule-fields" placeholder="field, e.g. ticket.subject" aria-label="Field";
                                select name=(format!("c{i}_op")) aria-label="Operator" {
                                    @for (k, l) in OPS { option value=(k) selected[c.op == k] { (l) } }
                                }
                                input type="text" name=(format!("c{i}_value")) value=(c.value) aria-label="Value";
                                @if bad { @if let Some(m) = error { p.field-error { (m) } } }
                            }
                        }
                    }
                    datalist #rule-fields {
                        @for (k, l) in FIELDS { option value=(k) { (l) } }
                        @for k in &custom { option value=(k) {} }
                    }
                    div.form-actions { button.btn.small type="submit" name="op" value="more" formnovalidate { "Add a condition" } }
                }
                @if kind != RuleKind::Sla {
                    fieldset {
                        legend { "Actions" }
                        div.rule-rows {
                            @for (i, a) in acts.iter().enumerate() {
                                @let filled = !a.action.is_empty();
                                @let pos = if filled { acted += 1; acted } else { 0 };
                                @let bad = filled && matches!(&at, Some(("act", _, n)) if *n == pos);
                                div.rule-row.bad[bad] role="group" aria-label=(format!("Action {}", i + 1)) {
                                    select name=(format!("a{i}_action")) aria-label="Action" {
                                        option value="" { "(none)" }
                                        @for (k, l, _) in ACTIONS { option value=(k) selected[a.action == k] { (l) } }
                                    }
                                    @if a.action == "add_note" {
                                        // A note keeps its line breaks.
                                        textarea name=(format!("a{i}_value")) rows="3" aria-label="Value" { (a.value) }
                                    } @else {
                                        input type="text" name=(format!("a{i}_value")) value=(a.value) aria-label="Value" placeholder=(ACTIONS.iter().find(|x| x.0 == a.action).map(|x| x.2).unwrap_or("value"));
                                    }
                                    input type="text" name=(format!("a{i}_extra")) value=(a.extra) aria-label="Second value (field value, template)" placeholder=(match a.action.as_str() { "set_field" => "value (empty clears)", "notify" => "template (optional)", _ => "" });
                                    @if !a.channel.is_empty() { input type="hidden" name=(format!("a{i}_channel")) value=(a.channel); }
                                    @if bad { @if let Some(m) = error { p.field-error { (m) } } }
                                }
                            }
                        }
                        details.hint {
                            summary { "What each action takes" }
                            dl.rule-help { @for (_, l, w) in ACTIONS { dt { (l) } dd { (w) } } }
                        }
                        div.form-actions { button.btn.small type="submit" name="op" value="more" formnovalidate { "Add an action" } }
                    }
                }
                (dry_inputs(&v.dry))
                div.form-actions {
                    button #rule-save .btn.primary type="submit" name="op" value="save" { "Save" }
                    button #rule-try .btn type="submit" name="op" value="dry_run" formaction=(format!("{action}#dry-run")) formnovalidate { "Try it" }
                }
            }
        }
        @if let Some(runs) = &v.runs { (dry_results(kind, runs)) }
        @if let Some(n) = v.original {
            form #rule-remove .form.danger-zone method="post" action=(action.clone()) {
                (csrf(ctx)) (op("remove"))
                (shown.error_for("remove"))
                div.form-actions { button.btn.danger type="submit" { "Remove " (n) } }
            }
        }
    };
    screen(app, ctx, Section::Rules, &title, shown, status, body)
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

fn file_key(kind: RuleKind) -> &'static str {
    match kind {
        RuleKind::Trigger => "triggers",
        RuleKind::Escalation => "escalations",
        RuleKind::Sla => "sla",
    }
}

fn dry_inputs(dry: &(String, String)) -> Markup {
    html! {
        fieldset {
            legend { "Try it on" }
            div.form-grid {
                div.form-row {
                    label for="dry-ticket" { "Ticket numbers" }
                    input #dry-ticket type="text" name="dry_tickets" value=(dry.0) placeholder="e.g. 12, 15" inputmode="numeric";
                }
                div.form-row {
                    label for="dry-last" { "or the newest tickets" }
                    input #dry-last type="number" name="dry_last" min="1" max=(DryRunOn::MAX) value=(dry.1);
                }
            }
            p.hint { "A dry run shows what the rule would do to the tickets as they stand now, and changes nothing." }
        }
    }
}

fn dry_on(f: &Form) -> Result<DryRunOn, ApiError> {
    let ids: Vec<TicketId> = f
        .get("dry_tickets")
        .split([',', ' '])
        .map(|t| t.trim().trim_start_matches('#'))
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<u64>()
                .map(TicketId)
                .map_err(|_| ApiError::invalid(format!("{t:?} is not a ticket number")))
        })
        .collect::<Result<_, _>>()?;
    if !ids.is_empty() {
        return Ok(DryRunOn::Tickets(ids));
    }
    let n = f.get("dry_last").trim().parse::<usize>().unwrap_or(20);
    Ok(DryRunOn::Last(n.clamp(1, DryRunOn::MAX)))
}

fn dry_results(kind: RuleKind, runs: &[(DryRun, String)]) -> Markup {
    let firing = runs.iter().filter(|(r, _)| r.fires).count();
    let verb = if kind == RuleKind::Sla { "applies to" } else { "would act on" };
    html! {
        section #dry-run .admin-section aria-labelledby="dry-title" {
            h2 #dry-title { "Dry run" }
            p role="status" { "It " (verb) " " strong { (firing) } " of " (runs.len()) " tickets. Nothing was changed." }
            @if runs.is_empty() { p.muted { "There are no tickets to try it on yet." } }
            div.table-wrap {
                table.admin-table.dry-table {
                    caption.vh { "What the rule would do to each ticket" }
                    thead { tr { th scope="col" { "Ticket" } th scope="col" { "Result" } th scope="col" { "Conditions" } th scope="col" { "Would change" } } }
                    tbody {
                        @for (r, subject) in runs {
                            tr {
                                td { a href=(format!("/agent/tickets/{}", r.ticket.0)) { "#" (r.ticket.0) } " " span.muted { (subject) } }
                                td {
                                    @if r.fires { strong { @if kind == RuleKind::Sla { "applies" } @else { "fires" } } }
                                    @else { "no" @if let Some(why) = &r.trace.reason { br; span.muted { (why) } } }
                                    @if let Some(d) = r.due { br; span.muted { "due " (d.format("%a %F %R UTC")) } }
                                }
                                td {
                                    @if r.trace.conditions.is_empty() { span.muted { "none" } }
                                    ul.trace {
                                        @for c in &r.trace.conditions {
                                            li.holds[c.holds] {
                                                (if c.holds { "✓ " } else { "✗ " }) code { (c.condition) }
                                                " " span.muted { "(was " (c.actual) ")" }
                                            }
                                        }
                                    }
                                }
                                td {
                                    ul.trace {
                                        @for c in &r.changes { li { code { (c) } } }
                                        @for e in &r.effects { li { "queues " (helpdesk_core::outbox::describe(e)) } }
                                        // Actions that changed nothing say why (no change, refused).
                                        @for a in r.trace.actions.iter().filter(|a| !a.outcome.starts_with("changed") && !a.outcome.starts_with("queued")) {
                                            li { (a.action) ": " span.muted { (a.outcome) } }
                                        }
                                    }
                                    @if r.changes.is_empty() && r.effects.is_empty() && r.trace.actions.is_empty() { span.muted { "nothing" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn with_subjects(hd: &Helpdesk, runs: Vec<DryRun>) -> Vec<(DryRun, String)> {
    runs.into_iter()
        .map(|r| {
            let subject = hd.ticket(r.ticket).map(|t| t.subject).unwrap_or_default();
            (r, subject)
        })
        .collect()
}

/// The text of a rule in a format (`toml`, `json`).
fn text_of(def: &RuleDef, format: &str) -> (String, String) {
    if format != "json" {
        if let Ok(t) = def.to_toml() {
            return ("toml".into(), t);
        }
    }
    ("json".into(), serde_json::to_string_pretty(&def.to_json_value()).unwrap_or_default())
}

fn parse_text(kind: RuleKind, f: &Form) -> Result<RuleDef, ApiError> {
    let text = f.get("text");
    let r = if f.get("format") == "json" {
        serde_json::from_str::<Value>(&text)
            .map_err(|e| helpdesk_core::rule::RuleError::new(kind.as_str(), "(json)", e.to_string()))
            .and_then(|v| RuleDef::from_json_value(kind, v))
    } else {
        RuleDef::from_toml(kind, &text)
    };
    Ok(r?)
}

fn next_order(hd: &Helpdesk, kind: RuleKind) -> Result<i32, ApiError> {
    Ok(hd.rules_of(kind)?.iter().map(|r| r.order()).max().map(|m| m + 10).unwrap_or(10))
}

/// `GET /agent/admin/rules/...`.
pub(super) fn show(
    app: &App,
    ctx: &Ctx,
    path: &[&str],
    query: &str,
    shown: &Shown,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let hd = app.helpdesk();
    let as_text = query.split('&').any(|p| p == "as=text");
    let format = if query.split('&').any(|p| p == "format=json") { "json" } else { "toml" };
    match path {
        [] => rules_screen(app, ctx, shown, status),
        ["export.toml"] => export(hd, "toml"),
        ["export.json"] => export(hd, "json"),
        ["new", k] => {
            let kind = kind_of(k)?;
            let names = Names::load(hd)?;
            let editor = if shown.error.is_some() {
                Editor::from_form(kind, &shown.form)
            } else {
                Editor::blank(kind, next_order(hd, kind)?)
            };
            let text = (as_text || shown.form.opt("text").is_some()).then(|| {
                if shown.error.is_some() {
                    (shown.form.get("format"), shown.form.get("text"))
                } else {
                    editor
                        .rule(&names)
                        .map(|d| text_of(&d, format))
                        .unwrap_or_else(|_| ("toml".into(), template(kind)))
                }
            });
            let view = EditorView { kind, original: None, editor, text, runs: None, dry: dry_typed(shown) };
            editor_screen(app, ctx, view, shown, status)
        }
        [k, name] => {
            let kind = kind_of(k)?;
            let name = segment(name)?;
            let def = hd.rule(kind, &name)?;
            let names = Names::load(hd)?;
            let editor = if shown.error.is_some() && shown.form.opt("text").is_none() {
                Editor::from_form(kind, &shown.form)
            } else {
                Editor::of(&def, &names)
            };
            let text = (as_text || shown.form.opt("text").is_some()).then(|| {
                if shown.error.is_some() {
                    (shown.form.get("format"), shown.form.get("text"))
                } else {
                    text_of(&def, format)
                }
            });
            let view = EditorView {
                kind,
                original: Some(def.name()),
                editor,
                text,
                runs: None,
                dry: dry_typed(shown),
            };
            editor_screen(app, ctx, view, shown, status)
        }
        _ => Err(ApiError::not_found("There is no such admin screen.")),
    }
}

fn dry_typed(shown: &Shown) -> (String, String) {
    (shown.form.get("dry_tickets"), shown.form.opt("dry_last").unwrap_or_else(|| "20".into()))
}

/// A starting point for a new rule written as text.
fn template(kind: RuleKind) -> String {
    match kind {
        RuleKind::Trigger => "name = \"\"\non = [\"new_ticket\"]\nall = []\nactions = []\n",
        RuleKind::Escalation => {
            "name = \"\"\nstatus = \"awaiting_agent\"\nafter = \"4h\"\nall = []\nactions = []\n"
        }
        RuleKind::Sla => "name = \"\"\nkind = \"first_response\"\nfailure = \"4h\"\nall = []\n",
    }
    .to_string()
}

fn export(hd: &Helpdesk, format: &str) -> Result<Response, ApiError> {
    let file = hd.rule_file()?;
    let (body, mime) = if format == "json" {
        (
            serde_json::to_string_pretty(&file).map_err(|e| ApiError::internal(e.to_string()))?,
            "application/json",
        )
    } else {
        (file_toml(&file)?, "application/toml")
    };
    let mut r = Response::new(body.into());
    let h = r.headers_mut();
    h.insert("content-type", format!("{mime}; charset=utf-8").parse().expect("static header"));
    h.insert(
        "content-disposition",
        format!("attachment; filename=\"helpdesk-rules.{format}\"").parse().expect("static header"),
    );
    Ok(r)
}

/// The rule file as TOML (a file holding a rule TOML cannot write is
/// refused with the advice to export JSON).
pub fn file_toml(file: &RuleFile) -> Result<String, ApiError> {
    helpdesk_core::admin::rule_file_toml(file).map_err(ApiError::invalid)
}

/// `POST /agent/admin/rules/...`.
pub(super) fn apply(
    app: &App,
    ctx: &Ctx,
    admin: &Admin<'_>,
    path: &[&str],
    op: &str,
    f: &Form,
) -> Result<Outcome, ApiError> {
    let hd = app.helpdesk();
    let go = |to: String, done: &'static str| Ok(Outcome::Go(to, done));
    match (path, op) {
        ([], "up" | "down") => {
            let kind = kind_of(&f.get("kind"))?;
            let mut names: Vec<String> = hd.rules_of(kind)?.iter().map(|r| r.name().to_string()).collect();
            let i = names
                .iter()
                .position(|n| *n == f.get("name"))
                .ok_or_else(|| AdminError::NoSuchRule { kind, name: f.get("name") })?;
            let j = if op == "up" { i.checked_sub(1) } else { (i + 1 < names.len()).then_some(i + 1) };
            if let Some(j) = j {
                names.swap(i, j);
                admin.reorder_rules(kind, &names)?;
            }
            go("/agent/admin/rules".into(), "saved")
        }
        ([], "enable" | "disable") => {
            let kind = kind_of(&f.get("kind"))?;
            admin.set_rule_enabled(kind, &f.get("name"), op == "enable")?;
            go("/agent/admin/rules".into(), "saved")
        }
        ([], "reschedule") => {
            admin.reschedule_all()?;
            go("/agent/admin/rules".into(), "applied")
        }
        ([], "import") => {
            let text = f.get("text");
            let file = if text.trim_start().starts_with('{') {
                RuleFile::from_json(&text)
            } else {
                RuleFile::from_toml(&text)
            }
            .map_err(helpdesk_store::Error::Rules)?;
            admin.import_rules(&file, f.on("replace_all"))?;
            go("/agent/admin/rules".into(), "imported")
        }
        ([a, b], op) => {
            // `new/{kind}` or `{kind}/{name}`.
            let (kind, original) =
                if *a == "new" { (kind_of(b)?, None) } else { (kind_of(a)?, Some(segment(b)?)) };
            let names = Names::load(hd)?;
            let show_editor = |editor: Editor, text: Option<(String, String)>, runs| {
                let view = EditorView {
                    kind,
                    original: original.as_deref(),
                    editor,
                    text,
                    runs,
                    dry: (f.get("dry_tickets"), f.get("dry_last")),
                };
                let shown = Shown { form: f.clone(), ..Default::default() };
                Ok(Outcome::Show(editor_screen(app, ctx, view, &shown, StatusCode::OK)?))
            };
            match op {
                "save" | "save_text" => {
                    let def = if op == "save" {
                        Editor::from_form(kind, f).rule(&names)?
                    } else {
                        parse_text(kind, f)?
                    };
                    let saved = admin.save_rule(original.as_deref(), def)?;
                    let back = if op == "save_text" { "?as=text&done=saved" } else { "" };
                    if back.is_empty() {
                        go(rule_url(kind, saved.name()), if original.is_some() { "saved" } else { "created" })
                    } else {
                        Ok(Outcome::Show(crate::workspace::redirect(
                            &ctx.hx,
                            &format!("{}{back}", rule_url(kind, saved.name())),
                        )))
                    }
                }
                "more" => {
                    let mut e = Editor::from_form(kind, f);
                    e.conditions.retain(|c| !c.field.trim().is_empty());
                    e.actions.retain(|a| !a.action.is_empty());
                    e.conditions.push(CondRow { list: "all".into(), op: "is".into(), ..Default::default() });
                    if kind != RuleKind::Sla {
                        e.actions.push(ActRow::default());
                    }
                    show_editor(e, None, None)
                }
                "dry_run" | "dry_run_text" => {
                    let def = if op == "dry_run" {
                        Editor::from_form(kind, f).rule(&names)?
                    } else {
                        parse_text(kind, f)?
                    };
                    let runs = with_subjects(hd, hd.dry_run(&def, &dry_on(f)?)?);
                    if op == "dry_run" {
                        let mut e = Editor::from_form(kind, f);
                        e.conditions.retain(|c| !c.field.trim().is_empty());
                        e.actions.retain(|a| !a.action.is_empty());
                        show_editor(e, None, Some(runs))
                    } else {
                        show_editor(
                            Editor::of(&def, &names),
                            Some((f.get("format"), f.get("text"))),
                            Some(runs),
                        )
                    }
                }
                "remove" => {
                    let name = original
                        .clone()
                        .ok_or_else(|| ApiError::bad_request("a new rule cannot be removed"))?;
                    admin.delete_rule(kind, &name)?;
                    go("/agent/admin/rules".into(), "removed")
                }
                _ => Err(ApiError::bad_request("unknown rule action")),
            }
        }
        _ => Err(ApiError::bad_request("unknown rules action")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_read_back_as_they_were_shown() {
        for v in
            [json!(5), json!("urgent"), json!("5"), json!(null), json!(true), json!("true"), json!("a, b")]
        {
            assert_eq!(literal(&shown(&v)), v, "{v}");
        }
    }

    #[test]
    fn engine_messages_point_at_their_row() {
        assert_eq!(
            error_row("trigger \"X\": all condition 2: unknown field"),
            Some(("cond", "all".into(), 2))
        );
        assert_eq!(error_row("trigger \"X\": any condition 1: bad"), Some(("cond", "any".into(), 1)));
        assert_eq!(error_row("trigger \"X\": action 3 (set_urgency): bad"), Some(("act", "act".into(), 3)));
        assert_eq!(error_row("trigger \"X\": has no actions"), None);
    }
}
