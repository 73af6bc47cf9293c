//! Triggers: rules that act on tickets by themselves when something happens.
//!
//! A [`Trigger`] is anything that, shown a change ([`RuleContext`]), says
//! whether it fires and with which [`Action`]s; embedders implement it in
//! Rust, and [`DeclarativeTrigger`] (from a [`TriggerDef`], JSON or TOML)
//! is built on the same trait.
//!
//! [`run_chain`] runs triggers in order over a change, then over the changes
//! their actions made (so an action may fire update triggers), until nothing
//! is left. Each trigger fires at most once per chain, so mutually triggering
//! rules terminate; the chain is also bounded by [`MAX_CHAIN_STEPS`]. Every
//! action is decided with [`decide`] under the trigger as actor, so the same
//! validation applies and the log names the trigger.

use crate::command::{decide, Directory, Policy};
use crate::error::TicketError;
use crate::event::{Actor, Change, SystemActor, TicketEvent};
use crate::outbox::Effect;
use crate::rule::*;
use crate::ticket::{Author, Channel, Ticket};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

/// Most changes one chain processes (the original change included).
pub const MAX_CHAIN_STEPS: usize = 64;

/// What happened, as triggers see it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event", content = "detail")]
pub enum TriggerEvent {
    /// A ticket was created through a channel.
    NewTicket(Channel),
    /// A user (owner or CC) wrote a message.
    UserReply,
    /// An agent wrote a message.
    AgentReply,
    /// A property changed (status, urgency, assignment, labels, fields, ...).
    Updated,
    /// An SLA policy reached its warning time.
    SlaWarning(String),
    /// An SLA policy failed.
    SlaFailed(String),
}

impl TriggerEvent {
    /// The kinds of event a change's events amount to.
    pub fn of(events: &[TicketEvent]) -> Vec<TriggerEvent> {
        let mut out = BTreeSet::new();
        let created = events.iter().find_map(|e| match &e.change {
            Change::Created { channel, .. } => Some(*channel),
            _ => None,
        });
        if let Some(c) = created {
            out.insert(TriggerEvent::NewTicket(c));
        }
        for e in events {
            match &e.change {
                Change::MessageAdded { message } if created.is_none() => {
                    out.insert(match message.author {
                        Author::User(_) => TriggerEvent::UserReply,
                        Author::Agent(_) => TriggerEvent::AgentReply,
                    });
                }
                Change::Subject { .. }
                | Change::Status { .. }
                | Change::Department { .. }
                | Change::Agent { .. }
                | Change::Team { .. }
                | Change::Owner { .. }
                | Change::Urgency { .. }
                | Change::CcAdded { .. }
                | Change::CcRemoved { .. }
                | Change::FollowerAdded { .. }
                | Change::FollowerRemoved { .. }
                | Change::LabelAdded { .. }
                | Change::LabelRemoved { .. }
                | Change::Field { .. }
                    if created.is_none() =>
                {
                    out.insert(TriggerEvent::Updated);
                }
                _ => {}
            }
        }
        out.into_iter().collect()
    }
}

impl fmt::Display for TriggerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TriggerEvent::NewTicket(c) => write!(
                f,
                "new_ticket.{}",
                serde_json::to_value(c).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
            ),
            TriggerEvent::UserReply => f.write_str("user_reply"),
            TriggerEvent::AgentReply => f.write_str("agent_reply"),
            TriggerEvent::Updated => f.write_str("updated"),
            TriggerEvent::SlaWarning(p) => write!(f, "sla_warning.{p}"),
            TriggerEvent::SlaFailed(p) => write!(f, "sla_failed.{p}"),
        }
    }
}

/// Which events a declarative trigger runs on: `new_ticket` (any channel),
/// `new_ticket.email` (one channel), `user_reply`, `agent_reply`, `updated`,
/// `sla_warning`, `sla_warning.POLICY`, `sla_failed`, `sla_failed.POLICY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    kind: &'static str,
    detail: Option<String>,
}

impl EventFilter {
    /// Parses a filter.
    pub fn parse(s: &str) -> Result<EventFilter, String> {
        let (head, detail) = match s.trim().split_once('.') {
            Some((h, d)) => (h, Some(d.to_string())),
            None => (s.trim(), None),
        };
        let kind = match head {
            "new_ticket" => "new_ticket",
            "user_reply" => "user_reply",
            "agent_reply" => "agent_reply",
            "updated" => "updated",
            "sla_warning" => "sla_warning",
            "sla_failed" => "sla_failed",
            _ => {
                return Err(format!(
                    "unknown event {s:?} (new_ticket, new_ticket.CHANNEL, user_reply, agent_reply, updated, sla_warning, sla_failed)"
                ))
            }
        };
        match (kind, &detail) {
            (_, None) => {}
            ("new_ticket", Some(c)) => {
                serde_json::from_value::<Channel>(serde_json::Value::String(c.clone())).map_err(|_| {
                    format!("unknown channel {c:?} in event {s:?} (email, portal, embed, agent, api)")
                })?;
            }
            ("sla_warning" | "sla_failed", Some(p)) if !p.trim().is_empty() => {}
            _ => return Err(format!("event {s:?} takes no detail")),
        }
        Ok(EventFilter { kind, detail })
    }

    /// Whether an event matches.
    pub fn matches(&self, e: &TriggerEvent) -> bool {
        let d = self.detail.as_deref();
        match e {
            TriggerEvent::NewTicket(c) => {
                self.kind == "new_ticket"
                    && d.is_none_or(|d| {
                        serde_json::to_value(c).ok().and_then(|v| v.as_str().map(|s| s == d)) == Some(true)
                    })
            }
            TriggerEvent::UserReply => self.kind == "user_reply",
            TriggerEvent::AgentReply => self.kind == "agent_reply",
            TriggerEvent::Updated => self.kind == "updated",
            TriggerEvent::SlaWarning(p) => self.kind == "sla_warning" && d.is_none_or(|d| d == p),
            TriggerEvent::SlaFailed(p) => self.kind == "sla_failed" && d.is_none_or(|d| d == p),
        }
    }
}

/// What a trigger decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Whether it fires.
    pub fired: bool,
    /// The actions to take when it fires.
    pub actions: Vec<Action>,
    /// Why (the chain adds the action outcomes).
    pub trace: RuleTrace,
}

impl Evaluation {
    /// The trigger fires with these actions.
    pub fn fire(rule: &str, actions: Vec<Action>) -> Evaluation {
        Evaluation {
            fired: true,
            actions,
            trace: RuleTrace {
                rule: rule.into(),
                fired: true,
                reason: None,
                conditions: vec![],
                actions: vec![],
            },
        }
    }

    /// The trigger does not fire, for `reason`.
    pub fn skip(rule: &str, reason: impl Into<String>) -> Evaluation {
        Evaluation { fired: false, actions: vec![], trace: RuleTrace::skipped(rule, reason) }
    }
}

/// A rule run when tickets change. Implement it to plug Rust code in.
///
/// ```
/// use helpdesk_core::trigger::*;
/// use helpdesk_core::rule::{Action, RuleContext};
/// use helpdesk_core::*;
///
/// /// Tickets whose subject shouts get urgency 8.
/// struct Shouting;
/// impl Trigger for Shouting {
///     fn name(&self) -> &str { "shouting" }
///     fn evaluate(&self, cx: &RuleContext<'_>) -> Evaluation {
///         let loud = cx.ticket.subject.chars().filter(|c| c.is_alphabetic()).all(char::is_uppercase);
///         if !cx.events.iter().any(|e| matches!(e, TriggerEvent::NewTicket(_))) || !loud {
///             return Evaluation::skip(self.name(), "not a shouting new ticket");
///         }
///         Evaluation::fire(self.name(), vec![Action::Command(Command::SetUrgency { urgency: Urgency::new(8).unwrap() })])
///     }
/// }
/// ```
pub trait Trigger: Send + Sync {
    /// Unique name; the log names it as the actor of its actions.
    fn name(&self) -> &str;
    /// Triggers run by ascending order, then name.
    fn order(&self) -> i32 {
        0
    }
    /// Decides whether to fire on the change in `cx`.
    fn evaluate(&self, cx: &RuleContext<'_>) -> Evaluation;
}

fn yes() -> bool {
    true
}

/// A trigger as admins write it (JSON or TOML).
///
/// ```toml
/// [[triggers]]
/// name = "VIP writes in"
/// on = ["new_ticket", "user_reply"]
/// all = [{ field = "user.email", op = "contains", value = "@vip.example" }]
/// actions = [{ action = "raise_urgency", by = 3 }, { action = "notify", to = "agent" }]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerDef {
    /// Unique name.
    pub name: String,
    /// Position (ascending; ties by name).
    #[serde(default)]
    pub order: i32,
    /// Off when false.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Events it runs on.
    pub on: Vec<String>,
    /// Conditions that must all hold.
    #[serde(default)]
    pub all: Vec<ConditionDef>,
    /// Conditions of which one must hold (when any are given).
    #[serde(default)]
    pub any: Vec<ConditionDef>,
    /// What it does.
    pub actions: Vec<ActionDef>,
}

impl TriggerDef {
    /// Checks everything and builds the trigger.
    pub fn compile(&self) -> Result<DeclarativeTrigger, RuleError> {
        let err = |p: String| RuleError::new("trigger", &self.name, p);
        let name = check_name("trigger", &self.name)?;
        if self.on.is_empty() {
            return Err(err("runs on no event: give `on`, e.g. [\"new_ticket\"]".into()));
        }
        let on = self.on.iter().map(|s| EventFilter::parse(s)).collect::<Result<Vec<_>, _>>().map_err(err)?;
        let conditions = Conditions::compile(&self.all, &self.any, true).map_err(err)?;
        if self.actions.is_empty() {
            return Err(err("has no actions".into()));
        }
        let actions = compile_actions(&self.actions).map_err(err)?;
        Ok(DeclarativeTrigger { def: self.clone(), name, on, conditions, actions })
    }
}

/// A trigger built from a [`TriggerDef`].
#[derive(Debug, Clone)]
pub struct DeclarativeTrigger {
    /// The definition it was built from.
    pub def: TriggerDef,
    name: String,
    on: Vec<EventFilter>,
    conditions: Conditions,
    actions: Vec<Action>,
}

impl DeclarativeTrigger {
    /// The conditions.
    pub fn conditions(&self) -> &Conditions {
        &self.conditions
    }

    /// The actions.
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }
}

impl Trigger for DeclarativeTrigger {
    fn name(&self) -> &str {
        &self.name
    }

    fn order(&self) -> i32 {
        self.def.order
    }

    fn evaluate(&self, cx: &RuleContext<'_>) -> Evaluation {
        if !self.def.enabled {
            return Evaluation::skip(&self.name, "disabled");
        }
        if !cx.events.iter().any(|e| self.on.iter().any(|f| f.matches(e))) {
            let seen: Vec<String> = cx.events.iter().map(|e| e.to_string()).collect();
            return Evaluation::skip(
                &self.name,
                format!(
                    "runs on {}, not on {}",
                    self.def.on.join(", "),
                    if seen.is_empty() { "this change".into() } else { seen.join(", ") }
                ),
            );
        }
        let (holds, conditions) = self.conditions.evaluate(cx);
        Evaluation {
            fired: holds,
            actions: if holds { self.actions.clone() } else { vec![] },
            trace: RuleTrace {
                rule: self.name.clone(),
                fired: holds,
                reason: (!holds).then(|| "conditions do not hold".to_string()),
                conditions,
                actions: vec![],
            },
        }
    }
}

/// One change a chain looks at: the events an actor made, and any events
/// given explicitly (SLA warning and failure).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The ticket before the change (`None`: new ticket).
    pub before: Option<Ticket>,
    /// Who made it.
    pub actor: Actor,
    /// Its events.
    pub events: Vec<TicketEvent>,
    /// Events given explicitly, besides those derived from `events`.
    pub extra: Vec<TriggerEvent>,
}

/// The trace of one step of a chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTrace {
    /// Who made the change.
    pub actor: String,
    /// The kinds of the change's events (`status`, `message_added`).
    pub changes: Vec<String>,
    /// The trigger events it amounted to.
    pub events: Vec<String>,
    /// Every trigger, in order.
    pub rules: Vec<RuleTrace>,
}

/// Why each trigger fired or not, step by step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChainTrace {
    /// The steps, in order.
    pub steps: Vec<StepTrace>,
    /// Set when the chain was cut short (a stop action, the step bound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl ChainTrace {
    /// The names of the triggers that fired, in order.
    pub fn fired(&self) -> Vec<&str> {
        self.steps.iter().flat_map(|s| s.rules.iter().filter(|r| r.fired).map(|r| r.rule.as_str())).collect()
    }
}

/// What a chain did.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainOutcome {
    /// The ticket after every action.
    pub ticket: Ticket,
    /// The events the actions made (the steps' own events not included).
    pub events: Vec<TicketEvent>,
    /// Effects to queue.
    pub effects: Vec<Effect>,
    /// The explain trace.
    pub trace: ChainTrace,
}

/// What performing a list of actions did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Performed {
    /// Events (in order, folded into the ticket).
    pub events: Vec<TicketEvent>,
    /// Effects to queue.
    pub effects: Vec<Effect>,
    /// One trace per action.
    pub traces: Vec<ActionTrace>,
    /// A stop action ran.
    pub stop: bool,
}

/// Performs `actions` on `ticket` as `actor`: commands are decided with
/// [`decide`] (a refused one is skipped and recorded in its trace, never
/// failing the change that caused it), effects collected.
#[allow(clippy::too_many_arguments)]
pub fn perform(
    rule: &str,
    actions: &[Action],
    actor: &Actor,
    ticket: &mut Ticket,
    now: DateTime<Utc>,
    dir: &dyn Directory,
    policy: &Policy,
) -> Result<Performed, TicketError> {
    let mut out = Performed::default();
    for action in actions {
        let outcome = match action.plan(rule, ticket, dir) {
            Err(e) => format!("refused: {e}"),
            Ok(Planned::Stop) => {
                out.stop = true;
                "stopped".to_string()
            }
            Ok(Planned::Effects(effects)) if effects.is_empty() => "nobody to notify".to_string(),
            Ok(Planned::Effects(effects)) => {
                // Every action is in the log with the rule as actor: queueing too.
                let n = effects.len();
                for effect in &effects {
                    let e = TicketEvent {
                        ticket: ticket.id,
                        version: ticket.version + 1,
                        at: now,
                        actor: actor.clone(),
                        change: Change::Queued { effect: effect.clone() },
                    };
                    ticket.apply(&e)?;
                    out.events.push(e);
                }
                out.effects.extend(effects);
                format!("queued {n}")
            }
            Ok(Planned::Command(cmd)) => match decide(ticket, &cmd, actor, now, dir, policy) {
                Err(e) => format!("refused: {e}"),
                Ok(events) if events.is_empty() => "no change".to_string(),
                Ok(events) => {
                    for e in &events {
                        ticket.apply(e)?;
                    }
                    let kinds: Vec<&str> = events.iter().map(|e| e.change.kind()).collect();
                    out.events.extend(events);
                    format!("changed: {}", kinds.join(", "))
                }
            },
        };
        out.traces.push(ActionTrace { action: action.to_string(), outcome });
        if out.stop {
            break;
        }
    }
    Ok(out)
}

/// Runs `triggers` over `steps` (and the changes their actions make) on
/// `ticket`, the state after every step. See the module docs for the rules.
pub fn run_chain(
    triggers: &[Arc<dyn Trigger>],
    mut ticket: Ticket,
    steps: Vec<Step>,
    now: DateTime<Utc>,
    dir: &dyn Directory,
    policy: &Policy,
) -> Result<ChainOutcome, TicketError> {
    let mut ordered: Vec<&Arc<dyn Trigger>> = triggers.iter().collect();
    ordered.sort_by(|a, b| (a.order(), a.name()).cmp(&(b.order(), b.name())));
    let mut queue: std::collections::VecDeque<Step> = steps.into();
    let mut fired: BTreeSet<String> = BTreeSet::new();
    let mut out = ChainOutcome {
        ticket: ticket.clone(),
        events: vec![],
        effects: vec![],
        trace: ChainTrace::default(),
    };
    let mut processed = 0;
    'chain: while let Some(step) = queue.pop_front() {
        if processed == MAX_CHAIN_STEPS {
            out.trace.stopped = Some(format!("the chain reached {MAX_CHAIN_STEPS} steps"));
            break;
        }
        processed += 1;
        let mut kinds = TriggerEvent::of(&step.events);
        kinds.extend(step.extra.iter().cloned());
        let mut trace = StepTrace {
            actor: step.actor.to_string(),
            changes: step.events.iter().map(|e| e.change.kind().to_string()).collect(),
            events: kinds.iter().map(|k| k.to_string()).collect(),
            rules: vec![],
        };
        for trigger in &ordered {
            let name = trigger.name();
            if fired.contains(name) {
                trace.rules.push(RuleTrace::skipped(name, "already fired in this chain"));
                continue;
            }
            let eval = {
                let cx = RuleContext {
                    before: step.before.as_ref(),
                    ticket: &ticket,
                    change: &step.events,
                    actor: &step.actor,
                    events: &kinds,
                    dir,
                };
                trigger.evaluate(&cx)
            };
            let mut rt = eval.trace;
            rt.rule = name.to_string();
            rt.fired = eval.fired;
            if !eval.fired {
                trace.rules.push(rt);
                continue;
            }
            fired.insert(name.to_string());
            let actor = Actor::System(SystemActor::Trigger(name.to_string()));
            let before = ticket.clone();
            let done = perform(name, &eval.actions, &actor, &mut ticket, now, dir, policy)?;
            rt.actions = done.traces;
            trace.rules.push(rt);
            out.effects.extend(done.effects);
            if !done.events.is_empty() {
                out.events.extend(done.events.iter().cloned());
                queue.push_back(Step { before: Some(before), actor, events: done.events, extra: vec![] });
            }
            if done.stop {
                out.trace.steps.push(trace);
                out.trace.stopped = Some(format!("trigger {name:?} stopped processing"));
                break 'chain;
            }
        }
        out.trace.steps.push(trace);
    }
    out.ticket = ticket;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{sample_directory, sample_ticket, t0};

    fn trigger(json: serde_json::Value) -> Arc<dyn Trigger> {
        Arc::new(serde_json::from_value::<TriggerDef>(json).unwrap().compile().unwrap())
    }

    #[test]
    fn events_of_a_change() {
        let (t, events) = sample_ticket();
        assert_eq!(TriggerEvent::of(&events), vec![TriggerEvent::NewTicket(Channel::Portal)]);
        let reply =
            crate::Command::UserReply { body: "hi".into(), attachments: vec![], channel: Channel::Email };
        let e =
            decide(&t, &reply, &Actor::User(crate::UserId(1)), t0(), &sample_directory(), &Policy::default())
                .unwrap();
        assert_eq!(TriggerEvent::of(&e), vec![TriggerEvent::UserReply]);
        let f = EventFilter::parse("new_ticket.portal").unwrap();
        assert!(f.matches(&TriggerEvent::NewTicket(Channel::Portal)));
        assert!(!f.matches(&TriggerEvent::NewTicket(Channel::Email)));
        assert!(EventFilter::parse("sla_warning.First reply")
            .unwrap()
            .matches(&TriggerEvent::SlaWarning("First reply".into())));
        assert!(EventFilter::parse("updated.x").is_err());
    }

    #[test]
    fn stop_ends_the_chain_and_refusals_do_not_fail_it() {
        let (t, events) = sample_ticket();
        let triggers = vec![
            trigger(serde_json::json!({"name": "a", "order": 1, "on": ["new_ticket"], "actions": [
                {"action": "set_team", "team": 42}, {"action": "add_label", "label": "seen"}, {"action": "stop"},
                {"action": "add_label", "label": "never"}]})),
            trigger(
                serde_json::json!({"name": "b", "order": 2, "on": ["new_ticket", "updated"], "actions": [
                {"action": "add_label", "label": "b"}]}),
            ),
        ];
        let step = Step { before: None, actor: Actor::User(crate::UserId(1)), events, extra: vec![] };
        let out = run_chain(&triggers, t, vec![step], t0(), &sample_directory(), &Policy::default()).unwrap();
        assert_eq!(out.ticket.labels.iter().collect::<Vec<_>>(), vec!["seen"]);
        assert_eq!(out.trace.fired(), vec!["a"]);
        assert_eq!(out.trace.stopped.as_deref(), Some("trigger \"a\" stopped processing"));
        let actions = &out.trace.steps[0].rules[0].actions;
        assert_eq!(actions.len(), 3, "nothing after stop");
        assert_eq!(actions[0].outcome, "refused: team:42 does not exist");
        assert!(out.events.iter().all(|e| e.actor == Actor::System(SystemActor::Trigger("a".into()))));
    }
}
