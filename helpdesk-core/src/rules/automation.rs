//! Everything automatic, put together: triggers, escalations and SLA
//! policies ([`Rules`]), loaded from rule files ([`RuleFile`], TOML or JSON),
//! and the two pure steps the shell runs:
//!
//! - [`process`]: a change (a new ticket, a command's events) -> the trigger
//!   chain -> the SLA and escalation schedule, as one list of events plus the
//!   effects to queue and the explain trace;
//! - [`process_due`]: what time does to a ticket at `now` (escalations firing,
//!   SLA warnings and failures) -> the trigger chain -> the schedule.
//!
//! The shell commits the result in one transaction; the ticket's due time
//! ([`next_due`]) is in the due-timer index.

use crate::command::{Directory, Policy};
use crate::error::TicketError;
use crate::escalation::{Escalation, EscalationDef};
use crate::event::{Actor, Change, SystemActor, TicketEvent};
use crate::outbox::Effect;
use crate::rule::RuleError;
use crate::sla::{SlaDef, SlaPolicy, SlaState};
use crate::ticket::Ticket;
use crate::trigger::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The rules a helpdesk runs: triggers (declarative and embedders' own),
/// escalations and SLA policies.
#[derive(Clone, Default)]
pub struct Rules {
    /// Triggers (run by order, then name).
    pub triggers: Vec<Arc<dyn Trigger>>,
    /// Escalations (by order, then name).
    pub escalations: Vec<Escalation>,
    /// SLA policies (by order, then name).
    pub slas: Vec<SlaPolicy>,
}

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules")
            .field("triggers", &self.triggers.iter().map(|t| t.name().to_string()).collect::<Vec<_>>())
            .field("escalations", &self.escalations.iter().map(|e| &e.name).collect::<Vec<_>>())
            .field("slas", &self.slas.iter().map(|s| &s.name).collect::<Vec<_>>())
            .finish()
    }
}

impl Rules {
    /// Whether there is nothing to run.
    pub fn is_empty(&self) -> bool {
        self.triggers.is_empty() && self.escalations.is_empty() && self.slas.is_empty()
    }

    /// Sorts every list by order, then name.
    pub fn sort(&mut self) {
        self.triggers.sort_by(|a, b| (a.order(), a.name()).cmp(&(b.order(), b.name())));
        self.escalations.sort_by(|a, b| (a.def.order, &a.name).cmp(&(b.def.order, &b.name)));
        self.slas.sort_by(|a, b| (a.def.order, &a.name).cmp(&(b.def.order, &b.name)));
    }
}

/// A file of rule definitions: `triggers`, `escalations` and `sla` lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Triggers.
    #[serde(default)]
    pub triggers: Vec<TriggerDef>,
    /// Escalations.
    #[serde(default)]
    pub escalations: Vec<EscalationDef>,
    /// SLA policies.
    #[serde(default)]
    pub sla: Vec<SlaDef>,
}

fn parse_list<T: serde::de::DeserializeOwned>(
    kind: &str,
    items: Option<serde_json::Value>,
    errors: &mut Vec<RuleError>,
) -> Vec<T> {
    let items = match items {
        None => return vec![],
        Some(serde_json::Value::Array(items)) => items,
        Some(_) => {
            errors.push(RuleError::new(kind, "*", "must be a list"));
            return vec![];
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let name = item
            .get("name")
            .and_then(|n| n.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{}", i + 1));
        match serde_json::from_value::<T>(item) {
            Ok(v) => out.push(v),
            Err(e) => errors.push(RuleError::new(kind, &name, e.to_string())),
        }
    }
    out
}

impl RuleFile {
    /// Reads a TOML rule file (dates as quoted `"YYYY-MM-DD"` strings).
    pub fn from_toml(text: &str) -> Result<RuleFile, Vec<RuleError>> {
        let value: serde_json::Value = toml::from_str(text)
            .map_err(|e| vec![RuleError::new("file", "toml", e.to_string().trim_end())])?;
        Self::from_value(value)
    }

    /// Reads a JSON rule file.
    pub fn from_json(text: &str) -> Result<RuleFile, Vec<RuleError>> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| vec![RuleError::new("file", "json", e.to_string())])?;
        Self::from_value(value)
    }

    /// Reads rules from a JSON value, each rule on its own so that every
    /// error names its rule; then checks them all ([`RuleFile::compile`]).
    pub fn from_value(value: serde_json::Value) -> Result<RuleFile, Vec<RuleError>> {
        let serde_json::Value::Object(mut map) = value else {
            return Err(vec![RuleError::new(
                "file",
                "*",
                "must be a table of triggers, escalations and sla",
            )]);
        };
        let mut errors = Vec::new();
        let file = RuleFile {
            triggers: parse_list("trigger", map.remove("triggers"), &mut errors),
            escalations: parse_list("escalation", map.remove("escalations"), &mut errors),
            sla: parse_list("sla", map.remove("sla"), &mut errors),
        };
        for key in map.keys() {
            errors.push(RuleError::new("file", key, "unknown section (triggers, escalations, sla)"));
        }
        if let Err(e) = file.compile() {
            errors.extend(e);
        }
        if errors.is_empty() {
            Ok(file)
        } else {
            Err(errors)
        }
    }

    /// Checks every rule and builds them; every problem is reported.
    pub fn compile(&self) -> Result<Rules, Vec<RuleError>> {
        let mut errors = Vec::new();
        let mut rules = Rules::default();
        let mut names = BTreeSet::new();
        for t in &self.triggers {
            if !names.insert(("trigger", t.name.trim().to_string())) {
                errors.push(RuleError::new("trigger", &t.name, "the name is used twice"));
            }
            match t.compile() {
                Ok(c) => rules.triggers.push(Arc::new(c)),
                Err(e) => errors.push(e),
            }
        }
        for e in &self.escalations {
            if !names.insert(("escalation", e.name.trim().to_string())) {
                errors.push(RuleError::new("escalation", &e.name, "the name is used twice"));
            }
            match e.compile() {
                Ok(c) => rules.escalations.push(c),
                Err(err) => errors.push(err),
            }
        }
        for s in &self.sla {
            if !names.insert(("sla", s.name.trim().to_string())) {
                errors.push(RuleError::new("sla", &s.name, "the name is used twice"));
            }
            match s.compile() {
                Ok(c) => rules.slas.push(c),
                Err(err) => errors.push(err),
            }
        }
        rules.sort();
        if errors.is_empty() {
            Ok(rules)
        } else {
            Err(errors)
        }
    }
}

/// The default escalation: urgency rises by one after a ticket has awaited
/// an agent for 4 hours, and every 4 hours after that, up to 9 times.
pub fn default_escalations() -> Vec<EscalationDef> {
    let text = r#"
        [[escalations]]
        name = "Urgency rises while awaiting agent"
        status = "awaiting_agent"
        after = "4h"
        repeat = { every = "4h", times = 8 }
        actions = [{ action = "raise_urgency", by = 1 }]
    "#;
    RuleFile::from_toml(text).expect("the default escalations are valid").escalations
}

/// What [`process`] or [`process_due`] decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The ticket after everything.
    pub ticket: Ticket,
    /// Every event to append, in order (the change's own first).
    pub events: Vec<TicketEvent>,
    /// Effects to queue in the outbox.
    pub effects: Vec<Effect>,
    /// Why each trigger fired or not.
    pub trace: ChainTrace,
}

fn push(
    t: &mut Ticket,
    actor: &Actor,
    now: DateTime<Utc>,
    change: Change,
) -> Result<TicketEvent, TicketError> {
    let e = TicketEvent { ticket: t.id, version: t.version + 1, at: now, actor: actor.clone(), change };
    t.apply(&e)?;
    Ok(e)
}

/// Brings the ticket's SLA and escalation state in line with the rules at
/// `now` (starts, pauses, resumes, meets, new rounds; removes what no longer
/// applies). Never fires anything: that is [`process_due`]'s job.
pub fn schedule(
    rules: &Rules,
    t: &mut Ticket,
    now: DateTime<Utc>,
    dir: &dyn Directory,
) -> Result<Vec<TicketEvent>, TicketError> {
    let mut out = Vec::new();
    for p in &rules.slas {
        let want = p.desired(t, now, dir);
        let have = t.sla.get(&p.name).cloned();
        if want != have {
            let actor = Actor::System(SystemActor::Sla(p.name.clone()));
            out.push(push(t, &actor, now, Change::Sla { policy: p.name.clone(), from: have, to: want })?);
        }
    }
    let stale: Vec<String> =
        t.sla.keys().filter(|k| !rules.slas.iter().any(|p| &p.name == *k)).cloned().collect();
    for name in stale {
        let from = t.sla.get(&name).cloned();
        let actor = Actor::System(SystemActor::Sla(name.clone()));
        out.push(push(t, &actor, now, Change::Sla { policy: name, from, to: None })?);
    }
    for e in &rules.escalations {
        let want = e.desired(t, dir);
        let have = t.escalations.get(&e.name).cloned();
        if want != have {
            let actor = Actor::System(SystemActor::Escalation(e.name.clone()));
            out.push(push(
                t,
                &actor,
                now,
                Change::Escalation { escalation: e.name.clone(), from: have, to: want },
            )?);
        }
    }
    let stale: Vec<String> =
        t.escalations.keys().filter(|k| !rules.escalations.iter().any(|e| &e.name == *k)).cloned().collect();
    for name in stale {
        let from = t.escalations.get(&name).cloned();
        let actor = Actor::System(SystemActor::Escalation(name.clone()));
        out.push(push(t, &actor, now, Change::Escalation { escalation: name, from, to: None })?);
    }
    Ok(out)
}

/// A change by `actor` (the `events` [`create`](crate::create) or
/// [`decide`](crate::decide) gave, taking `before` to its next state): runs
/// the trigger chain and the schedule. The outcome's events start with
/// `events`.
#[allow(clippy::too_many_arguments)]
pub fn process(
    rules: &Rules,
    before: Option<&Ticket>,
    events: Vec<TicketEvent>,
    actor: &Actor,
    now: DateTime<Utc>,
    dir: &dyn Directory,
    policy: &Policy,
) -> Result<Outcome, TicketError> {
    let after = match before {
        Some(b) => {
            let mut t = b.clone();
            for e in &events {
                t.apply(e)?;
            }
            t
        }
        None => Ticket::from_events(&events)?,
    };
    let step = Step { before: before.cloned(), actor: actor.clone(), events: events.clone(), extra: vec![] };
    let chain = run_chain(&rules.triggers, after, vec![step], now, dir, policy)?;
    let mut ticket = chain.ticket;
    let mut all = events;
    all.extend(chain.events);
    all.extend(schedule(rules, &mut ticket, now, dir)?);
    Ok(Outcome { ticket, events: all, effects: chain.effects, trace: chain.trace })
}

/// What time does to `ticket` at `now`: due escalations fire (their state
/// event, then their actions, under the escalation as actor), due SLAs warn
/// or fail (firing `sla_warning` / `sla_failed` triggers); then the trigger
/// chain and the schedule run. Nothing due gives no events (unless the
/// schedule is stale, e.g. a rule was removed).
pub fn process_due(
    rules: &Rules,
    ticket: &Ticket,
    now: DateTime<Utc>,
    dir: &dyn Directory,
    policy: &Policy,
) -> Result<Outcome, TicketError> {
    let mut t = ticket.clone();
    let mut steps = Vec::new();
    let mut effects = Vec::new();
    let mut escalation_trace = Vec::new();
    for esc in &rules.escalations {
        let Some(to) = esc.fire(&t, now, dir) else { continue };
        let before = t.clone();
        let actor = Actor::System(SystemActor::Escalation(esc.name.clone()));
        let from = t.escalations.get(&esc.name).cloned();
        let mut events = vec![push(
            &mut t,
            &actor,
            now,
            Change::Escalation { escalation: esc.name.clone(), from, to: Some(to) },
        )?];
        let done = perform(&esc.name, &esc.actions, &actor, &mut t, now, dir, policy)?;
        events.extend(done.events);
        effects.extend(done.effects);
        escalation_trace.push(crate::rule::RuleTrace {
            rule: format!("escalation {:?}", esc.name),
            fired: true,
            reason: None,
            conditions: esc.applies(&before, dir).1,
            actions: done.traces,
        });
        steps.push(Step { before: Some(before), actor, events, extra: vec![] });
    }
    for p in &rules.slas {
        for tr in p.transitions(&t, now) {
            let before = t.clone();
            let actor = Actor::System(SystemActor::Sla(p.name.clone()));
            let from = t.sla.get(&p.name).cloned();
            let e = push(&mut t, &actor, now, Change::Sla { policy: p.name.clone(), from, to: Some(tr.to) })?;
            let extra = match tr.state {
                SlaState::Warning => TriggerEvent::SlaWarning(p.name.clone()),
                _ => TriggerEvent::SlaFailed(p.name.clone()),
            };
            steps.push(Step { before: Some(before), actor, events: vec![e], extra: vec![extra] });
        }
    }
    let mut all: Vec<TicketEvent> = steps.iter().flat_map(|s| s.events.iter().cloned()).collect();
    let mut trace = ChainTrace::default();
    if !steps.is_empty() {
        let chain = run_chain(&rules.triggers, t, steps, now, dir, policy)?;
        t = chain.ticket;
        all.extend(chain.events);
        effects.extend(chain.effects);
        trace = chain.trace;
    }
    if !escalation_trace.is_empty() {
        trace.steps.insert(
            0,
            StepTrace {
                actor: "time".into(),
                changes: vec![],
                events: vec!["due".into()],
                rules: escalation_trace,
            },
        );
    }
    all.extend(schedule(rules, &mut t, now, dir)?);
    Ok(Outcome { ticket: t, events: all, effects, trace })
}

/// When something next happens to the ticket by itself: the earliest
/// escalation due time or SLA warning/failure time.
pub fn next_due(t: &Ticket) -> Option<DateTime<Utc>> {
    t.escalations.values().filter_map(|e| e.due).chain(t.sla.values().filter_map(|s| s.next_due())).min()
}

/// What a rule would do to a ticket as it stands, for dry runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DryRun {
    /// The ticket.
    pub ticket: crate::ids::TicketId,
    /// Whether the rule would fire.
    pub fires: bool,
    /// Why (conditions) and what each action would come to.
    pub trace: crate::rule::RuleTrace,
    /// The changes it would make, described (`urgency 1 -> 4`).
    pub changes: Vec<String>,
    /// The effects it would queue.
    pub effects: Vec<Effect>,
    /// For an escalation: when it would be due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<DateTime<Utc>>,
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "none".into())
}

/// Describes an event's change for people (`status awaiting_agent -> resolved`).
pub fn describe(c: &Change) -> String {
    match c {
        Change::Status { from, to } => format!("status {from} -> {to}"),
        Change::Urgency { from, to } => format!("urgency {from} -> {to}"),
        Change::Department { from, to } => format!("department {from} -> {to}"),
        Change::Agent { from, to } => format!("agent {} -> {}", opt(from), opt(to)),
        Change::Team { from, to } => format!("team {} -> {}", opt(from), opt(to)),
        Change::Subject { from, to } => format!("subject {from:?} -> {to:?}"),
        Change::LabelAdded { label } => format!("label +{label}"),
        Change::LabelRemoved { label } => format!("label -{label}"),
        Change::Field { key, from, to } => format!("field {key} {} -> {}", opt(from), opt(to)),
        Change::CcAdded { user } => format!("cc +{user}"),
        Change::FollowerAdded { agent } => format!("follower +{agent}"),
        Change::NoteAdded { note } => format!("note {:?}", note.body),
        Change::MessageAdded { message } => {
            let by = match message.author {
                crate::ticket::Author::User(u) => u.to_string(),
                crate::ticket::Author::Agent(a) => a.to_string(),
            };
            format!("message by {by}: {:?}", message.body)
        }
        Change::Created { subject, status, urgency, .. } => {
            format!("created {subject:?} ({status}, urgency {urgency})")
        }
        Change::Sla { policy, from, to } => {
            let show = |s: &Option<crate::sla::SlaStatus>| match s {
                None => "none".to_string(),
                Some(s) => {
                    let mut out = s.state.to_string();
                    if s.met_at.is_some() {
                        out.push_str(", met");
                    } else if s.running_since.is_none() {
                        out.push_str(", paused");
                    }
                    if let Some(w) = s.warn_at {
                        out.push_str(&format!(", warn {}", w.format("%a %F %R")));
                    }
                    if let Some(d) = s.due {
                        out.push_str(&format!(", due {}", d.format("%a %F %R")));
                    }
                    out
                }
            };
            let _ = policy; // the actor names it
            format!("sla {} -> {}", show(from), show(to))
        }
        Change::Escalation { escalation, from, to } => {
            let show = |s: &Option<crate::escalation::EscalationState>| match s {
                None => "none".to_string(),
                Some(s) => format!(
                    "fired {}{}",
                    s.fired,
                    s.due.map(|d| format!(", due {}", d.format("%a %F %R"))).unwrap_or_default()
                ),
            };
            let _ = escalation; // the actor names it
            format!("escalation {} -> {}", show(from), show(to))
        }
        Change::Queued { effect } => format!("queued {}", crate::outbox::describe(effect)),
        Change::Delivered { effect, outcome, .. } => {
            format!("delivered {}: {outcome:?}", crate::outbox::describe(effect))
        }
        Change::Macro { name, .. } => format!("macro {name:?}"),
        Change::Merged { from, messages, notes } => {
            format!("merged {from} in ({} messages, {} notes)", messages.len(), notes.len())
        }
        Change::MergedInto { into } => format!("merged into {into}"),
        Change::SplitOff { post, into } => format!("message {} split off into {into}", post.0),
        Change::SplitFrom { ticket, post } => format!("split off {ticket} (message {})", post.0),
        Change::Linked { ticket } => format!("linked to {ticket}"),
        Change::Unlinked { ticket } => format!("unlinked from {ticket}"),
        other => other.kind().to_string(),
    }
}

/// A ticket log as lines a person reads (and tests snapshot):
/// `v3 Mon 2026-01-05 13:00 escalation "X": urgency 1 -> 2`.
pub fn render_log(events: &[TicketEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| format!("v{} {} {}: {}", e.version, e.at.format("%a %F %R"), e.actor, describe(&e.change)))
        .collect()
}

/// Evaluates a trigger against a stored ticket as if one of the events it
/// runs on had just happened with no change (so `changed` conditions do not
/// hold), and plans its actions on a copy. Changes nothing.
pub fn dry_run_trigger(
    trigger: &DeclarativeTrigger,
    ticket: &Ticket,
    now: DateTime<Utc>,
    dir: &dyn Directory,
    policy: &Policy,
) -> Result<DryRun, TicketError> {
    let actor = Actor::system();
    let cx = crate::rule::RuleContext {
        before: Some(ticket),
        ticket,
        change: &[],
        actor: &actor,
        events: &[],
        dir,
    };
    let (fires, conditions) = trigger.conditions().evaluate(&cx);
    let mut trace = crate::rule::RuleTrace {
        rule: trigger.name().to_string(),
        fired: fires,
        reason: (!fires).then(|| "conditions do not hold".to_string()),
        conditions,
        actions: vec![],
    };
    let mut out = DryRun {
        ticket: ticket.id,
        fires,
        trace: trace.clone(),
        changes: vec![],
        effects: vec![],
        due: None,
    };
    if fires {
        let mut copy = ticket.clone();
        let by = Actor::System(SystemActor::Trigger(trigger.name().to_string()));
        let done = perform(trigger.name(), trigger.actions(), &by, &mut copy, now, dir, policy)?;
        trace.actions = done.traces;
        out.trace = trace;
        out.changes = done.events.iter().map(|e| describe(&e.change)).collect();
        out.effects = done.effects;
    }
    Ok(out)
}

/// Whether an escalation applies to a stored ticket, when it would be due,
/// and what its actions would change if it fired now. Changes nothing.
pub fn dry_run_escalation(
    esc: &Escalation,
    ticket: &Ticket,
    now: DateTime<Utc>,
    dir: &dyn Directory,
    policy: &Policy,
) -> Result<DryRun, TicketError> {
    let (applies, conditions) = esc.applies(ticket, dir);
    let reason = if ticket.status != esc.status {
        Some(format!("the ticket is {}, not {}", ticket.status, esc.status))
    } else {
        (!applies).then(|| "conditions do not hold".to_string())
    };
    let mut out = DryRun {
        ticket: ticket.id,
        fires: false,
        trace: crate::rule::RuleTrace {
            rule: esc.name.clone(),
            fired: false,
            reason,
            conditions,
            actions: vec![],
        },
        changes: vec![],
        effects: vec![],
        due: None,
    };
    if applies {
        let mut copy = ticket.clone();
        let state = esc.desired(ticket, dir);
        out.due = state.as_ref().and_then(|s| s.due);
        out.fires = out.due.is_some_and(|d| d <= now);
        out.trace.fired = out.fires;
        let by = Actor::System(SystemActor::Escalation(esc.name.clone()));
        let done = perform(&esc.name, &esc.actions, &by, &mut copy, now, dir, policy)?;
        out.trace.actions = done.traces;
        out.changes = done.events.iter().map(|e| describe(&e.change)).collect();
        out.effects = done.effects;
    }
    Ok(out)
}

/// Whether an SLA policy applies to a stored ticket and the state it would
/// give it now (started, paused, met; its warning and due times). Changes
/// nothing.
pub fn dry_run_sla(policy: &SlaPolicy, ticket: &Ticket, now: DateTime<Utc>, dir: &dyn Directory) -> DryRun {
    let (applies, conditions) = policy.applies(ticket, dir);
    let reason = if !policy.def.enabled {
        Some("the policy is off".to_string())
    } else {
        (!applies).then(|| "conditions do not hold".to_string())
    };
    let want = policy.desired(ticket, now, dir);
    let have = ticket.sla.get(&policy.name).cloned();
    let changes = if want != have {
        vec![describe(&Change::Sla { policy: policy.name.clone(), from: have, to: want.clone() })]
    } else {
        vec![]
    };
    DryRun {
        ticket: ticket.id,
        fires: applies,
        trace: crate::rule::RuleTrace {
            rule: policy.name.clone(),
            fired: applies,
            reason,
            conditions,
            actions: vec![],
        },
        changes,
        effects: vec![],
        due: want.and_then(|s| s.due),
    }
}
