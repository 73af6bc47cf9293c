//! The parts every automatic rule is made of: conditions over a ticket, the
//! actor, the user and organisation and what changed; actions; and the
//! explain trace that says why a rule fired or not.
//!
//! Rules are written as serde data (`*Def` types, JSON or TOML) and compiled
//! into checked types: an unknown field, an operator that does not fit the
//! field, a bad value (urgency 0, an unknown status) is a [`RuleError`]
//! naming the rule and the problem.
//!
//! | field | type | operators |
//! | --- | --- | --- |
//! | `ticket.status` | status | is, is_not, changed, changed_to, changed_from |
//! | `ticket.urgency` | number 1-10 | is, is_not, less_than, greater_than, changed, changed_to, changed_from |
//! | `ticket.department`, `ticket.agent`, `ticket.team`, `ticket.user` | id (`null`: none) | is, is_not, changed, changed_to, changed_from |
//! | `ticket.subject` | text | is, is_not, contains, not_contains, changed |
//! | `ticket.channel` | channel | is, is_not |
//! | `ticket.labels` | set of text | contains, not_contains, changed, changed_to (added), changed_from (removed) |
//! | `ticket.ccs`, `ticket.followers` | set of ids | contains, not_contains, changed, changed_to, changed_from |
//! | `ticket.message` | text of the messages this change added | is, contains, not_contains |
//! | `ticket.fields.KEY` | custom field | is, is_not, contains, not_contains, less_than, greater_than, changed, changed_to, changed_from |
//! | `ticket.sla` | worst SLA state (ok, warning, failed; `null`: none) | is, is_not, changed, changed_to, changed_from |
//! | `ticket.sla.POLICY` | that policy's SLA state | as `ticket.sla` |
//! | `actor.type` | user, agent or system | is, is_not |
//! | `actor.agent`, `actor.user` | id | is, is_not |
//! | `user.email`, `user.name` | text | is, is_not, contains, not_contains |
//! | `user.organisation` | id | is, is_not |
//! | `user.usergroups` | set of ids | contains, not_contains |
//! | `user.fields.KEY`, `organisation.fields.KEY` | custom field | is, is_not, contains, not_contains, less_than, greater_than |
//! | `organisation.name` | text | is, is_not, contains, not_contains |

use crate::command::Directory;
use crate::event::{Actor, Change, TicketEvent};
use crate::ids::*;
use crate::outbox::{DeliveryChannel, Effect, Notification, Recipient, Webhook};
use crate::people::{Email, FieldKind, FieldValue};
use crate::sla::SlaState;
use crate::ticket::{Author, Status, Ticket, Urgency};
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// A rule definition that does not hold together, named by rule and problem.
///
/// ```
/// use helpdesk_core::trigger::TriggerDef;
/// let def: TriggerDef = serde_json::from_value(serde_json::json!({
///     "name": "Too calm", "on": ["new_ticket"],
///     "actions": [{"action": "set_urgency", "urgency": 0}]
/// })).unwrap();
/// let err = def.compile().unwrap_err();
/// assert_eq!(err.to_string(), "trigger \"Too calm\": action 1 (set_urgency): urgency must be between 1 and 10, got 0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[error("{kind} {rule:?}: {problem}")]
pub struct RuleError {
    /// `trigger`, `escalation` or `sla`.
    pub kind: String,
    /// The rule's name (or its position when it has none).
    pub rule: String,
    /// What is wrong, and where in the rule.
    pub problem: String,
}

impl RuleError {
    /// An error in rule `rule` of `kind`.
    pub fn new(kind: &str, rule: &str, problem: impl Into<String>) -> RuleError {
        RuleError { kind: kind.into(), rule: rule.into(), problem: problem.into() }
    }
}

/// Checks a rule name: 1 to 100 characters, no control characters.
pub fn check_name(kind: &str, name: &str) -> Result<String, RuleError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err(RuleError::new(kind, name, "a name is 1 to 100 characters without control characters"));
    }
    Ok(n.to_string())
}

// ----- fields and operators -------------------------------------------------

/// What a condition looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// `ticket.status`
    Status,
    /// `ticket.urgency`
    Urgency,
    /// `ticket.department`
    Department,
    /// `ticket.agent`
    Agent,
    /// `ticket.team`
    Team,
    /// `ticket.user`
    Owner,
    /// `ticket.subject`
    Subject,
    /// `ticket.channel`
    Channel,
    /// `ticket.labels`
    Labels,
    /// `ticket.ccs`
    Ccs,
    /// `ticket.followers`
    Followers,
    /// `ticket.message`: the messages this change added.
    Message,
    /// `ticket.fields.KEY`
    TicketField(String),
    /// `ticket.sla`: the worst SLA state.
    SlaWorst,
    /// `ticket.sla.POLICY`
    Sla(String),
    /// `actor.type`
    ActorType,
    /// `actor.agent`
    ActorAgent,
    /// `actor.user`
    ActorUser,
    /// `user.email`
    UserEmail,
    /// `user.name`
    UserName,
    /// `user.organisation`
    UserOrganisation,
    /// `user.usergroups`
    UserUsergroups,
    /// `user.fields.KEY`
    UserField(String),
    /// `organisation.name`
    OrgName,
    /// `organisation.fields.KEY`
    OrgField(String),
}

/// The type of a field's value: decides which operators and values fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A status name.
    Status,
    /// Urgency 1-10.
    Urgency,
    /// An id, or `null` for none.
    Id,
    /// Text.
    Text,
    /// A channel name.
    Channel,
    /// A set of text.
    TextSet,
    /// A set of ids.
    IdSet,
    /// A custom field (text, number, choice or date).
    Custom,
    /// An SLA state, or `null` for none.
    SlaState,
    /// `user`, `agent` or `system`.
    ActorType,
}

impl FieldType {
    fn name(self) -> &'static str {
        match self {
            FieldType::Status => "a status",
            FieldType::Urgency => "an urgency",
            FieldType::Id => "an id",
            FieldType::Text => "text",
            FieldType::Channel => "a channel",
            FieldType::TextSet => "a set of text",
            FieldType::IdSet => "a set of ids",
            FieldType::Custom => "a custom field",
            FieldType::SlaState => "an SLA state",
            FieldType::ActorType => "an actor type",
        }
    }
}

fn field_key(kind: &str, key: &str, path: &str) -> Result<String, String> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(key.to_string())
    } else {
        Err(format!("unknown field {path:?}: {kind} field keys are 1 to 64 of a-z, 0-9 and _"))
    }
}

impl Field {
    /// Parses a field path like `ticket.urgency` or `user.fields.tier`.
    pub fn parse(path: &str) -> Result<Field, String> {
        let p = path.trim();
        Ok(match p {
            "ticket.status" => Field::Status,
            "ticket.urgency" => Field::Urgency,
            "ticket.department" => Field::Department,
            "ticket.agent" => Field::Agent,
            "ticket.team" => Field::Team,
            "ticket.user" => Field::Owner,
            "ticket.subject" => Field::Subject,
            "ticket.channel" => Field::Channel,
            "ticket.labels" => Field::Labels,
            "ticket.ccs" => Field::Ccs,
            "ticket.followers" => Field::Followers,
            "ticket.message" => Field::Message,
            "ticket.sla" => Field::SlaWorst,
            "actor.type" => Field::ActorType,
            "actor.agent" => Field::ActorAgent,
            "actor.user" => Field::ActorUser,
            "user.email" => Field::UserEmail,
            "user.name" => Field::UserName,
            "user.organisation" => Field::UserOrganisation,
            "user.usergroups" => Field::UserUsergroups,
            "organisation.name" => Field::OrgName,
            _ => {
                if let Some(k) = p.strip_prefix("ticket.fields.") {
                    Field::TicketField(field_key("ticket", k, p)?)
                } else if let Some(k) = p.strip_prefix("user.fields.") {
                    Field::UserField(field_key("user", k, p)?)
                } else if let Some(k) = p.strip_prefix("organisation.fields.") {
                    Field::OrgField(field_key("organisation", k, p)?)
                } else if let Some(policy) = p.strip_prefix("ticket.sla.") {
                    if policy.trim().is_empty() {
                        return Err(format!("unknown field {path:?}: name the SLA policy"));
                    }
                    Field::Sla(policy.to_string())
                } else {
                    return Err(format!(
                        "unknown field {path:?} (fields start with ticket., actor., user. or organisation.)"
                    ));
                }
            }
        })
    }

    /// The type of the field's value.
    pub fn field_type(&self) -> FieldType {
        match self {
            Field::Status => FieldType::Status,
            Field::Urgency => FieldType::Urgency,
            Field::Department
            | Field::Agent
            | Field::Team
            | Field::Owner
            | Field::ActorAgent
            | Field::ActorUser
            | Field::UserOrganisation => FieldType::Id,
            Field::Subject | Field::Message | Field::UserEmail | Field::UserName | Field::OrgName => {
                FieldType::Text
            }
            Field::Channel => FieldType::Channel,
            Field::Labels => FieldType::TextSet,
            Field::Ccs | Field::Followers | Field::UserUsergroups => FieldType::IdSet,
            Field::TicketField(_) | Field::UserField(_) | Field::OrgField(_) => FieldType::Custom,
            Field::SlaWorst | Field::Sla(_) => FieldType::SlaState,
            Field::ActorType => FieldType::ActorType,
        }
    }

    /// Whether the field is a property of the ticket whose changes are tracked.
    pub fn tracks_changes(&self) -> bool {
        matches!(
            self,
            Field::Status
                | Field::Urgency
                | Field::Department
                | Field::Agent
                | Field::Team
                | Field::Owner
                | Field::Subject
                | Field::Labels
                | Field::Ccs
                | Field::Followers
                | Field::TicketField(_)
                | Field::SlaWorst
                | Field::Sla(_)
        )
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Field::Status => "ticket.status",
            Field::Urgency => "ticket.urgency",
            Field::Department => "ticket.department",
            Field::Agent => "ticket.agent",
            Field::Team => "ticket.team",
            Field::Owner => "ticket.user",
            Field::Subject => "ticket.subject",
            Field::Channel => "ticket.channel",
            Field::Labels => "ticket.labels",
            Field::Ccs => "ticket.ccs",
            Field::Followers => "ticket.followers",
            Field::Message => "ticket.message",
            Field::SlaWorst => "ticket.sla",
            Field::ActorType => "actor.type",
            Field::ActorAgent => "actor.agent",
            Field::ActorUser => "actor.user",
            Field::UserEmail => "user.email",
            Field::UserName => "user.name",
            Field::UserOrganisation => "user.organisation",
            Field::UserUsergroups => "user.usergroups",
            Field::OrgName => "organisation.name",
            Field::TicketField(k) => return write!(f, "ticket.fields.{k}"),
            Field::UserField(k) => return write!(f, "user.fields.{k}"),
            Field::OrgField(k) => return write!(f, "organisation.fields.{k}"),
            Field::Sla(p) => return write!(f, "ticket.sla.{p}"),
        };
        f.write_str(s)
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal (text: case-insensitive).
    Is,
    /// Not equal.
    IsNot,
    /// Text: has the substring (case-insensitive); sets: has the element.
    Contains,
    /// The opposite of `contains`.
    NotContains,
    /// Numbers (and dates of custom fields): strictly less.
    LessThan,
    /// Strictly greater.
    GreaterThan,
    /// The value changed in this change (no value).
    Changed,
    /// It changed, and is now the value (sets: the element was added).
    ChangedTo,
    /// It changed, and was the value (sets: the element was removed).
    ChangedFrom,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Is => "is",
            Op::IsNot => "is_not",
            Op::Contains => "contains",
            Op::NotContains => "not_contains",
            Op::LessThan => "less_than",
            Op::GreaterThan => "greater_than",
            Op::Changed => "changed",
            Op::ChangedTo => "changed_to",
            Op::ChangedFrom => "changed_from",
        }
    }

    fn fits(self, t: FieldType) -> bool {
        use FieldType as T;
        match self {
            Op::Is | Op::IsNot => !matches!(t, T::TextSet | T::IdSet),
            Op::Contains | Op::NotContains => matches!(t, T::Text | T::TextSet | T::IdSet | T::Custom),
            Op::LessThan | Op::GreaterThan => matches!(t, T::Urgency | T::Custom),
            Op::Changed | Op::ChangedTo | Op::ChangedFrom => true,
        }
    }

    fn is_change(self) -> bool {
        matches!(self, Op::Changed | Op::ChangedTo | Op::ChangedFrom)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value conditions compare: what a field holds, and what a rule expects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Val {
    /// Nothing (unassigned, no SLA, no organisation).
    None,
    /// A number (urgency, id, numeric custom field).
    Num(f64),
    /// Text (also statuses, channels, SLA states, dates of custom fields).
    Text(String),
    /// A set.
    Set(Vec<Val>),
}

impl Val {
    fn is(&self, other: &Val) -> bool {
        match (self, other) {
            (Val::Text(a), Val::Text(b)) => a.to_lowercase() == b.to_lowercase(),
            (Val::Num(a), Val::Num(b)) => a == b,
            (Val::None, Val::None) => true,
            (Val::Set(a), Val::Set(b)) => a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| x.is(y))),
            _ => false,
        }
    }

    fn contains(&self, other: &Val) -> bool {
        match (self, other) {
            (Val::Text(a), Val::Text(b)) => a.to_lowercase().contains(&b.to_lowercase()),
            (Val::Set(items), v) => items.iter().any(|x| x.is(v)),
            _ => false,
        }
    }

    fn cmp(&self, other: &Val) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Val::Num(a), Val::Num(b)) => a.partial_cmp(b),
            (Val::Text(a), Val::Text(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::None => f.write_str("none"),
            Val::Num(n) => write!(f, "{n}"),
            Val::Text(s) => write!(f, "{s:?}"),
            Val::Set(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

fn value_of(field: &Field, op: Op, raw: &serde_json::Value) -> Result<Val, String> {
    use serde_json::Value as J;
    let t = field.field_type();
    let want = |what: &str| format!("{field} {op} takes {what}, got {raw}");
    let text = || raw.as_str().map(str::to_string).ok_or_else(|| want("text"));
    Ok(match t {
        FieldType::Status => {
            let s = text()?;
            Val::Text(s.parse::<Status>().map_err(|e| e.to_string())?.as_str().to_string())
        }
        FieldType::Urgency => {
            let n = raw.as_i64().ok_or_else(|| want("a whole number from 1 to 10"))?;
            Val::Num(Urgency::new(n).map_err(|e| e.to_string())?.get() as f64)
        }
        FieldType::Id | FieldType::IdSet => match raw {
            J::Null if t == FieldType::Id => Val::None,
            _ => Val::Num(raw.as_u64().ok_or_else(|| want("an id (a positive whole number)"))? as f64),
        },
        FieldType::Text | FieldType::TextSet => {
            let s = text()?;
            if t == FieldType::TextSet && matches!(field, Field::Labels) {
                Val::Text(crate::command::normalize_label(&s).map_err(|e| e.to_string())?)
            } else {
                Val::Text(s)
            }
        }
        FieldType::Channel => {
            let s = text()?;
            let c: crate::ticket::Channel = serde_json::from_value(J::String(s.clone()))
                .map_err(|_| format!("unknown channel {s:?} (email, portal, embed, agent, api)"))?;
            Val::Text(channel_name(c).into())
        }
        FieldType::Custom => match raw {
            J::Null => Val::None,
            J::Number(n) => Val::Num(n.as_f64().ok_or_else(|| want("a number"))?),
            J::String(s) => Val::Text(s.clone()),
            _ => return Err(want("text, a number or null")),
        },
        FieldType::SlaState => match raw {
            J::Null => Val::None,
            _ => {
                let s = text()?;
                let st: SlaState = serde_json::from_value(J::String(s.clone()))
                    .map_err(|_| format!("unknown SLA state {s:?} (ok, warning, failed)"))?;
                Val::Text(st.as_str().into())
            }
        },
        FieldType::ActorType => {
            let s = text()?;
            if !matches!(s.as_str(), "user" | "agent" | "system") {
                return Err(format!("unknown actor type {s:?} (user, agent, system)"));
            }
            Val::Text(s)
        }
    })
}

fn channel_name(c: crate::ticket::Channel) -> &'static str {
    use crate::ticket::Channel as C;
    match c {
        C::Email => "email",
        C::Portal => "portal",
        C::Embed => "embed",
        C::Agent => "agent",
        C::Api => "api",
    }
}

// ----- conditions ----------------------------------------------------------

/// A condition as written: `{ field = "ticket.urgency", op = "greater_than", value = 5 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionDef {
    /// Field path.
    pub field: String,
    /// Operator.
    pub op: Op,
    /// The value to compare with (not for `changed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

/// A checked condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// What it looks at.
    pub field: Field,
    /// How it compares.
    pub op: Op,
    /// With what (`None` for `changed`).
    pub value: Option<Val>,
}

impl ConditionDef {
    /// Checks the field, that the operator fits it and the value fits both.
    /// `changes` says whether the rule runs on a change (triggers) or on
    /// time (escalations, SLAs), where `changed` operators mean nothing.
    pub fn compile(&self, changes: bool) -> Result<Condition, String> {
        let field = Field::parse(&self.field)?;
        let op = self.op;
        let t = field.field_type();
        if !op.fits(t) {
            return Err(format!("operator {op} does not fit {field}, which is {}", t.name()));
        }
        if op.is_change() && !field.tracks_changes() {
            return Err(format!("operator {op} does not fit {field}: only ticket properties change"));
        }
        if op.is_change() && !changes {
            return Err(format!("operator {op} needs a change, and time-based rules have none"));
        }
        let value = match (op, &self.value) {
            (Op::Changed, None) => None,
            (Op::Changed, Some(_)) => return Err(format!("{field} changed takes no value")),
            (_, None) => return Err(format!("{field} {op} needs a value")),
            (_, Some(raw)) => Some(value_of(&field, op, raw)?),
        };
        if matches!(op, Op::LessThan | Op::GreaterThan) && value == Some(Val::None) {
            return Err(format!("{field} {op} needs a value, not null"));
        }
        Ok(Condition { field, op, value })
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{} {} {v}", self.field, self.op),
            None => write!(f, "{} {}", self.field, self.op),
        }
    }
}

/// All of these, and any one of those (when there are any).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conditions {
    /// Every one must hold.
    pub all: Vec<Condition>,
    /// At least one must hold (ignored when empty).
    pub any: Vec<Condition>,
}

impl Conditions {
    /// Compiles `all` and `any` lists; errors name the list and position.
    pub fn compile(all: &[ConditionDef], any: &[ConditionDef], changes: bool) -> Result<Conditions, String> {
        let one = |list: &str, i: usize, c: &ConditionDef| {
            c.compile(changes).map_err(|e| format!("{list} condition {}: {e}", i + 1))
        };
        Ok(Conditions {
            all: all.iter().enumerate().map(|(i, c)| one("all", i, c)).collect::<Result<_, _>>()?,
            any: any.iter().enumerate().map(|(i, c)| one("any", i, c)).collect::<Result<_, _>>()?,
        })
    }

    /// Evaluates every condition (no short cut, so the trace is complete).
    pub fn evaluate(&self, cx: &RuleContext<'_>) -> (bool, Vec<ConditionTrace>) {
        let mut traces = Vec::new();
        let mut all_ok = true;
        for c in &self.all {
            let t = c.evaluate(cx, "all");
            all_ok &= t.holds;
            traces.push(t);
        }
        let mut any_ok = self.any.is_empty();
        for c in &self.any {
            let t = c.evaluate(cx, "any");
            any_ok |= t.holds;
            traces.push(t);
        }
        (all_ok && any_ok, traces)
    }

    /// The custom field keys the conditions use, per owner (`ticket`, `user`, `organisation`).
    pub fn custom_fields(&self) -> impl Iterator<Item = (&Condition, &str)> {
        self.all.iter().chain(&self.any).filter_map(|c| match &c.field {
            Field::TicketField(k) => Some((c, k.as_str())),
            _ => None,
        })
    }
}

/// What a rule looks at when it is evaluated.
pub struct RuleContext<'a> {
    /// The ticket before the change being looked at (`None`: it is new, or
    /// there is no change: time-based rules and dry runs).
    pub before: Option<&'a Ticket>,
    /// The ticket as it is now.
    pub ticket: &'a Ticket,
    /// The events of the change being looked at.
    pub change: &'a [TicketEvent],
    /// Who made the change (the system for time-based rules).
    pub actor: &'a Actor,
    /// What kinds of event the change is.
    pub events: &'a [crate::trigger::TriggerEvent],
    /// Users, organisations and the rest.
    pub dir: &'a dyn Directory,
}

impl RuleContext<'_> {
    /// The current value of a field.
    pub fn read(&self, field: &Field) -> Val {
        self.read_in(field, Some(self.ticket)).unwrap_or(Val::None)
    }

    fn read_in(&self, field: &Field, t: Option<&Ticket>) -> Option<Val> {
        let id = |v: u64| Val::Num(v as f64);
        let opt = |v: Option<u64>| v.map(id).unwrap_or(Val::None);
        let field_val = |v: Option<&FieldValue>| match v {
            None => Val::None,
            Some(FieldValue::Number(n)) => Val::Num(*n),
            Some(other) => Val::Text(other.to_string()),
        };
        let user = || t.and_then(|t| self.dir.user(t.user));
        let org = || user().and_then(|u| u.organisation).and_then(|o| self.dir.organisation(o));
        Some(match field {
            Field::Status => Val::Text(t?.status.as_str().into()),
            Field::Urgency => Val::Num(t?.urgency.get() as f64),
            Field::Department => id(t?.department.0),
            Field::Agent => opt(t?.agent.map(|a| a.0)),
            Field::Team => opt(t?.team.map(|a| a.0)),
            Field::Owner => id(t?.user.0),
            Field::Subject => Val::Text(t?.subject.clone()),
            Field::Channel => Val::Text(channel_name(t?.channel).into()),
            Field::Labels => Val::Set(t?.labels.iter().map(|l| Val::Text(l.clone())).collect()),
            Field::Ccs => Val::Set(t?.ccs.iter().map(|u| id(u.0)).collect()),
            Field::Followers => Val::Set(t?.followers.iter().map(|a| id(a.0)).collect()),
            Field::Message => {
                let bodies: Vec<&str> = self
                    .change
                    .iter()
                    .filter_map(|e| match &e.change {
                        Change::MessageAdded { message } => Some(message.body.as_str()),
                        _ => None,
                    })
                    .collect();
                if bodies.is_empty() {
                    Val::None
                } else {
                    Val::Text(bodies.join("\n"))
                }
            }
            Field::TicketField(k) => field_val(t?.fields.get(k)),
            Field::SlaWorst => t?
                .sla
                .values()
                .map(|s| s.state)
                .max()
                .map(|s| Val::Text(s.as_str().into()))
                .unwrap_or(Val::None),
            Field::Sla(p) => t?.sla.get(p).map(|s| Val::Text(s.state.as_str().into())).unwrap_or(Val::None),
            Field::ActorType => Val::Text(
                match self.actor {
                    Actor::User(_) => "user",
                    Actor::Agent(_) => "agent",
                    Actor::System(_) => "system",
                }
                .into(),
            ),
            Field::ActorAgent => match self.actor {
                Actor::Agent(a) => id(a.0),
                _ => Val::None,
            },
            Field::ActorUser => match self.actor {
                Actor::User(u) => id(u.0),
                _ => Val::None,
            },
            Field::UserEmail => {
                user().map(|u| Val::Text(u.primary_email().as_str().into())).unwrap_or(Val::None)
            }
            Field::UserName => user().map(|u| Val::Text(u.name)).unwrap_or(Val::None),
            Field::UserOrganisation => opt(user().and_then(|u| u.organisation).map(|o| o.0)),
            Field::UserUsergroups => {
                Val::Set(user().map(|u| u.usergroups.iter().map(|g| id(g.0)).collect()).unwrap_or_default())
            }
            Field::UserField(k) => field_val(user().as_ref().and_then(|u| u.fields.get(k))),
            Field::OrgName => org().map(|o| Val::Text(o.name)).unwrap_or(Val::None),
            Field::OrgField(k) => field_val(org().as_ref().and_then(|o| o.fields.get(k))),
        })
    }
}

/// How one condition came out, for the explain trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionTrace {
    /// `all` or `any`.
    pub list: String,
    /// The condition, as text.
    pub condition: String,
    /// What the field held (`before -> after` for change operators).
    pub actual: String,
    /// Whether it held.
    pub holds: bool,
}

impl Condition {
    /// Evaluates against a context.
    pub fn evaluate(&self, cx: &RuleContext<'_>, list: &str) -> ConditionTrace {
        let now = cx.read(&self.field);
        let (holds, actual) = if self.op.is_change() {
            let before = cx.read_in(&self.field, cx.before).unwrap_or(Val::None);
            let changed = !before.is(&now);
            let v = self.value.as_ref();
            let holds = match (self.op, &now) {
                (Op::Changed, _) => changed,
                (Op::ChangedTo, Val::Set(_)) => v.is_some_and(|v| now.contains(v) && !before.contains(v)),
                (Op::ChangedFrom, Val::Set(_)) => v.is_some_and(|v| before.contains(v) && !now.contains(v)),
                (Op::ChangedTo, _) => changed && v.is_some_and(|v| now.is(v)),
                (Op::ChangedFrom, _) => changed && v.is_some_and(|v| before.is(v)),
                _ => false,
            };
            (holds, format!("{before} -> {now}"))
        } else {
            let v = self.value.as_ref().unwrap_or(&Val::None);
            let holds = match self.op {
                Op::Is => now.is(v),
                Op::IsNot => !now.is(v),
                Op::Contains => now.contains(v),
                Op::NotContains => !now.contains(v),
                Op::LessThan => now.cmp(v) == Some(std::cmp::Ordering::Less),
                Op::GreaterThan => now.cmp(v) == Some(std::cmp::Ordering::Greater),
                _ => false,
            };
            (holds, now.to_string())
        };
        ConditionTrace { list: list.into(), condition: self.to_string(), actual, holds }
    }
}

// ----- actions -------------------------------------------------------------

/// Who a notify action is for, written as `user`, `agent`, `team`,
/// `followers`, `agent:ID`, `team:ID` or an email address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Target {
    /// The ticket's owner.
    Owner,
    /// The assigned agent (nothing when unassigned).
    AssignedAgent,
    /// The assigned team (nothing when none).
    AssignedTeam,
    /// Every follower.
    Followers,
    /// A given agent.
    Agent(AgentId),
    /// A given team.
    Team(TeamId),
    /// An address.
    Address(Email),
}

impl TryFrom<String> for Target {
    type Error = String;
    fn try_from(s: String) -> Result<Target, String> {
        let t = s.trim();
        let num = |v: &str| v.parse::<u64>().map_err(|_| format!("bad id in notify target {s:?}"));
        Ok(match t {
            "user" => Target::Owner,
            "agent" => Target::AssignedAgent,
            "team" => Target::AssignedTeam,
            "followers" => Target::Followers,
            _ if t.starts_with("agent:") => Target::Agent(AgentId(num(&t[6..])?)),
            _ if t.starts_with("team:") => Target::Team(TeamId(num(&t[5..])?)),
            _ if t.contains('@') => Target::Address(Email::parse(t).map_err(|e| e.to_string())?),
            _ => {
                return Err(format!(
                "unknown notify target {s:?} (user, agent, team, followers, agent:ID, team:ID or an address)"
            ))
            }
        })
    }
}

impl From<Target> for String {
    fn from(t: Target) -> String {
        match t {
            Target::Owner => "user".into(),
            Target::AssignedAgent => "agent".into(),
            Target::AssignedTeam => "team".into(),
            Target::Followers => "followers".into(),
            Target::Agent(a) => format!("agent:{}", a.0),
            Target::Team(t) => format!("team:{}", t.0),
            Target::Address(e) => e.to_string(),
        }
    }
}

fn default_channel() -> DeliveryChannel {
    DeliveryChannel::Email
}

/// An action as written: `{ action = "raise_urgency", by = 2 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionDef {
    /// Set the status (not `validating`).
    SetStatus {
        /// Status name.
        status: String,
    },
    /// Set the urgency, 1 to 10.
    SetUrgency {
        /// The urgency.
        urgency: i64,
    },
    /// Raise the urgency by 1 to 9 steps (clamped at 10).
    RaiseUrgency {
        /// Steps.
        by: i64,
    },
    /// Lower the urgency by 1 to 9 steps (clamped at 1).
    LowerUrgency {
        /// Steps.
        by: i64,
    },
    /// Move to a department.
    SetDepartment {
        /// Department id.
        department: u64,
    },
    /// Assign an agent (`null`: unassign).
    SetAgent {
        /// Agent id.
        agent: Option<u64>,
    },
    /// Assign a team (`null`: unassign).
    SetTeam {
        /// Team id.
        team: Option<u64>,
    },
    /// Add a label.
    AddLabel {
        /// Label.
        label: String,
    },
    /// Remove a label.
    RemoveLabel {
        /// Label.
        label: String,
    },
    /// Set a custom field (`null` clears it); text, a number, a choice or a
    /// date (`YYYY-MM-DD`), as the department defines the field.
    SetField {
        /// Field key.
        key: String,
        /// Value.
        value: serde_json::Value,
    },
    /// CC a user.
    AddCc {
        /// User id.
        user: u64,
    },
    /// Add a follower.
    AddFollower {
        /// Agent id.
        agent: u64,
    },
    /// Add an agent-only note.
    AddNote {
        /// Text.
        body: String,
    },
    /// Queue a notification.
    Notify {
        /// Who.
        to: Target,
        /// How (default email).
        #[serde(default = "default_channel")]
        channel: DeliveryChannel,
        /// A template name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<String>,
    },
    /// Queue a webhook call (POST of the ticket as JSON).
    Webhook {
        /// `http://` or `https://` URL.
        url: String,
    },
    /// Run no further triggers in this chain.
    Stop,
}

/// A checked action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A ticket command, decided under the rule as actor.
    Command(crate::command::Command),
    /// A custom field value, converted by the department's field type when run.
    SetField {
        /// Field key.
        key: String,
        /// Raw value (`null` clears).
        value: serde_json::Value,
    },
    /// A notification.
    Notify {
        /// Who.
        to: Target,
        /// How.
        channel: DeliveryChannel,
        /// Template.
        template: Option<String>,
    },
    /// A webhook.
    Webhook {
        /// URL.
        url: String,
    },
    /// Stop the chain.
    Stop,
}

impl ActionDef {
    /// The action's name (`set_urgency`).
    pub fn name(&self) -> &'static str {
        match self {
            ActionDef::SetStatus { .. } => "set_status",
            ActionDef::SetUrgency { .. } => "set_urgency",
            ActionDef::RaiseUrgency { .. } => "raise_urgency",
            ActionDef::LowerUrgency { .. } => "lower_urgency",
            ActionDef::SetDepartment { .. } => "set_department",
            ActionDef::SetAgent { .. } => "set_agent",
            ActionDef::SetTeam { .. } => "set_team",
            ActionDef::AddLabel { .. } => "add_label",
            ActionDef::RemoveLabel { .. } => "remove_label",
            ActionDef::SetField { .. } => "set_field",
            ActionDef::AddCc { .. } => "add_cc",
            ActionDef::AddFollower { .. } => "add_follower",
            ActionDef::AddNote { .. } => "add_note",
            ActionDef::Notify { .. } => "notify",
            ActionDef::Webhook { .. } => "webhook",
            ActionDef::Stop => "stop",
        }
    }

    /// Checks the values.
    pub fn compile(&self) -> Result<Action, String> {
        use crate::command::Command as C;
        let steps = |by: i64| {
            if (1..=9).contains(&by) {
                Ok(by)
            } else {
                Err(format!("urgency steps must be between 1 and 9, got {by}"))
            }
        };
        Ok(match self {
            ActionDef::SetStatus { status } => {
                let s: Status = status.parse().map_err(|e: crate::TicketError| e.to_string())?;
                if s == Status::Validating {
                    return Err("rules cannot set status validating".into());
                }
                Action::Command(C::SetStatus { status: s })
            }
            ActionDef::SetUrgency { urgency } => {
                Action::Command(C::SetUrgency { urgency: Urgency::new(*urgency).map_err(|e| e.to_string())? })
            }
            ActionDef::RaiseUrgency { by } => Action::Command(C::AdjustUrgency { by: steps(*by)? }),
            ActionDef::LowerUrgency { by } => Action::Command(C::AdjustUrgency { by: -steps(*by)? }),
            ActionDef::SetDepartment { department } => {
                Action::Command(C::SetDepartment { department: DepartmentId(*department) })
            }
            ActionDef::SetAgent { agent } => Action::Command(C::AssignAgent { agent: agent.map(AgentId) }),
            ActionDef::SetTeam { team } => Action::Command(C::AssignTeam { team: team.map(TeamId) }),
            ActionDef::AddLabel { label } | ActionDef::RemoveLabel { label } => {
                let label = crate::command::normalize_label(label).map_err(|e| e.to_string())?;
                match self {
                    ActionDef::AddLabel { .. } => Action::Command(C::AddLabel { label }),
                    _ => Action::Command(C::RemoveLabel { label }),
                }
            }
            ActionDef::SetField { key, value } => {
                field_key("ticket", key, &format!("ticket.fields.{key}"))?;
                if value.is_array() || value.is_object() || value.is_boolean() {
                    return Err(format!("field {key:?} takes text, a number, a date or null, got {value}"));
                }
                Action::SetField { key: key.clone(), value: value.clone() }
            }
            ActionDef::AddCc { user } => Action::Command(C::AddCc { user: UserId(*user) }),
            ActionDef::AddFollower { agent } => Action::Command(C::Follow { agent: AgentId(*agent) }),
            ActionDef::AddNote { body } => {
                if body.trim().is_empty() {
                    return Err("a note needs a body".into());
                }
                Action::Command(C::AddNote { body: body.clone(), attachments: vec![] })
            }
            ActionDef::Notify { to, channel, template } => {
                if let Some(t) = template {
                    if t.trim().is_empty() {
                        return Err("an empty template name".into());
                    }
                }
                Action::Notify { to: to.clone(), channel: *channel, template: template.clone() }
            }
            ActionDef::Webhook { url } => {
                let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
                if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
                    return Err(format!("webhook URL {url:?} must be http:// or https://"));
                }
                Action::Webhook { url: url.clone() }
            }
            ActionDef::Stop => Action::Stop,
        })
    }
}

/// Compiles a list of actions; errors name the position and action.
pub fn compile_actions(defs: &[ActionDef]) -> Result<Vec<Action>, String> {
    defs.iter()
        .enumerate()
        .map(|(i, a)| a.compile().map_err(|e| format!("action {} ({}): {e}", i + 1, a.name())))
        .collect()
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::command::Command as C;
        match self {
            Action::Command(c) => match c {
                C::SetStatus { status } => write!(f, "set status {status}"),
                C::SetUrgency { urgency } => write!(f, "set urgency {urgency}"),
                C::AdjustUrgency { by } if *by >= 0 => write!(f, "raise urgency by {by}"),
                C::AdjustUrgency { by } => write!(f, "lower urgency by {}", -by),
                C::SetDepartment { department } => write!(f, "set department {department}"),
                C::AssignAgent { agent: Some(a) } => write!(f, "assign {a}"),
                C::AssignAgent { agent: None } => write!(f, "unassign agent"),
                C::AssignTeam { team: Some(t) } => write!(f, "assign {t}"),
                C::AssignTeam { team: None } => write!(f, "unassign team"),
                C::AddLabel { label } => write!(f, "add label {label:?}"),
                C::RemoveLabel { label } => write!(f, "remove label {label:?}"),
                C::AddCc { user } => write!(f, "cc {user}"),
                C::Follow { agent } => write!(f, "add follower {agent}"),
                C::AddNote { .. } => write!(f, "add note"),
                other => f.write_str(other.name()),
            },
            Action::SetField { key, value } => write!(f, "set field {key} to {value}"),
            Action::Notify { to, channel, template } => {
                let by = match channel {
                    DeliveryChannel::Email => "email",
                    DeliveryChannel::InApp => "in-app notification",
                };
                write!(f, "notify {} by {by}", String::from(to.clone()))?;
                if let Some(t) = template {
                    write!(f, " with template {t:?}")?;
                }
                Ok(())
            }
            Action::Webhook { url } => write!(f, "webhook {url}"),
            Action::Stop => f.write_str("stop processing"),
        }
    }
}

/// What an action comes to on a given ticket.
#[derive(Debug, Clone, PartialEq)]
pub enum Planned {
    /// A command to decide.
    Command(crate::command::Command),
    /// Effects to queue (none when the target is empty, e.g. no agent assigned).
    Effects(Vec<Effect>),
    /// Stop the chain.
    Stop,
}

impl Action {
    /// Resolves the action on `ticket`: targets to recipients, field values
    /// to the department's field types.
    pub fn plan(&self, rule: &str, ticket: &Ticket, dir: &dyn Directory) -> Result<Planned, String> {
        Ok(match self {
            Action::Command(c) => Planned::Command(c.clone()),
            Action::SetField { key, value } => {
                let dept = dir.department(ticket.department).ok_or("the ticket's department is gone")?;
                let def = dept.field(key).ok_or_else(|| format!("{} has no field {key:?}", dept.name))?;
                let v = match value {
                    serde_json::Value::Null => None,
                    serde_json::Value::Number(n) if def.kind == FieldKind::Number => {
                        Some(FieldValue::Number(n.as_f64().ok_or("not a finite number")?))
                    }
                    serde_json::Value::String(s) => Some(match &def.kind {
                        FieldKind::Text => FieldValue::Text(s.clone()),
                        FieldKind::Choice { .. } => FieldValue::Choice(s.clone()),
                        FieldKind::Date => FieldValue::Date(
                            s.parse().map_err(|_| format!("{s:?} is not a YYYY-MM-DD date"))?,
                        ),
                        FieldKind::Number => {
                            FieldValue::Number(s.parse().map_err(|_| format!("{s:?} is not a number"))?)
                        }
                    }),
                    other => return Err(format!("{other} does not fit field {key:?}")),
                };
                Planned::Command(crate::command::Command::SetField { key: key.clone(), value: v })
            }
            Action::Notify { to, channel, template } => {
                let recipients: Vec<Recipient> = match to {
                    Target::Owner => vec![Recipient::User(ticket.user)],
                    Target::AssignedAgent => ticket.agent.map(Recipient::Agent).into_iter().collect(),
                    Target::AssignedTeam => ticket.team.map(Recipient::Team).into_iter().collect(),
                    Target::Followers => ticket.followers.iter().map(|a| Recipient::Agent(*a)).collect(),
                    Target::Agent(a) => vec![Recipient::Agent(*a)],
                    Target::Team(t) => vec![Recipient::Team(*t)],
                    Target::Address(e) => vec![Recipient::Address(e.clone())],
                };
                Planned::Effects(
                    recipients
                        .into_iter()
                        .map(|recipient| {
                            Effect::Notify(Notification {
                                recipient,
                                channel: *channel,
                                reason: rule.to_string(),
                                template: template.clone(),
                            })
                        })
                        .collect(),
                )
            }
            Action::Webhook { url } => Planned::Effects(vec![Effect::Webhook(Webhook {
                url: url.clone(),
                origin: rule.to_string(),
            })]),
            Action::Stop => Planned::Stop,
        })
    }
}

/// How one action came out, for the explain trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionTrace {
    /// The action, as text.
    pub action: String,
    /// `changed: status, urgency`, `no change`, `queued 2`, `refused: ...`.
    pub outcome: String,
}

/// Why a rule fired or not, condition by condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleTrace {
    /// The rule's name.
    pub rule: String,
    /// Whether it fired.
    pub fired: bool,
    /// Why not, when it was not evaluated or did not fire for a reason other
    /// than its conditions (`does not run on user_reply`, `already fired in this chain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Each condition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ConditionTrace>,
    /// Each action, when it fired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionTrace>,
}

impl RuleTrace {
    /// A rule that was not evaluated, and why.
    pub fn skipped(rule: &str, reason: impl Into<String>) -> RuleTrace {
        RuleTrace {
            rule: rule.into(),
            fired: false,
            reason: Some(reason.into()),
            conditions: vec![],
            actions: vec![],
        }
    }
}

/// Whether a ticket is a message by a user at its end (waiting for an agent's answer).
pub fn last_message_by_user(t: &Ticket) -> bool {
    t.messages.last().is_some_and(|m| matches!(m.author, Author::User(_)))
}

/// Checks the custom ticket fields rules use against the departments: the
/// field exists in some department, and `less_than` / `greater_than` are
/// used only on number and date fields.
pub fn check_custom_fields(
    kind: &str,
    rule: &str,
    conditions: &[&Conditions],
    actions: &[Action],
    departments: &[crate::people::Department],
) -> Result<(), RuleError> {
    let err = |p: String| RuleError::new(kind, rule, p);
    let def_of = |key: &str| departments.iter().find_map(|d| d.field(key));
    for conds in conditions {
        for (c, key) in conds.custom_fields() {
            let def = def_of(key).ok_or_else(|| {
                err(format!("unknown field \"ticket.fields.{key}\": no department defines {key:?}"))
            })?;
            if matches!(c.op, Op::LessThan | Op::GreaterThan)
                && !matches!(def.kind, FieldKind::Number | FieldKind::Date)
            {
                return Err(err(format!(
                    "operator {} does not fit ticket.fields.{key}, which is a {} field",
                    c.op,
                    match def.kind {
                        FieldKind::Text => "text",
                        FieldKind::Choice { .. } => "choice",
                        _ => "other",
                    }
                )));
            }
        }
    }
    for a in actions {
        if let Action::SetField { key, .. } = a {
            def_of(key).ok_or_else(|| err(format!("set_field: no department defines field {key:?}")))?;
        }
    }
    Ok(())
}

// ----- what rules refer to --------------------------------------------------

/// A thing of the directory a rule names by id or key: what an admin must
/// change in the rule before removing the thing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleRef {
    /// A department (condition on `ticket.department`, `set_department`).
    Department(DepartmentId),
    /// An agent (conditions on `ticket.agent`, `actor.agent`,
    /// `ticket.followers`; `set_agent`, `add_follower`, `notify agent:ID`).
    Agent(AgentId),
    /// A team (condition on `ticket.team`, `set_team`, `notify team:ID`).
    Team(TeamId),
    /// An organisation (condition on `user.organisation`).
    Organisation(OrganisationId),
    /// A usergroup (condition on `user.usergroups`).
    Usergroup(UsergroupId),
    /// A ticket custom field (`ticket.fields.KEY`, `set_field`).
    TicketField(String),
}

fn ids_in(v: Option<&serde_json::Value>) -> Vec<u64> {
    match v {
        Some(serde_json::Value::Number(n)) => n.as_u64().into_iter().collect(),
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_u64()).collect(),
        _ => Vec::new(),
    }
}

impl ConditionDef {
    /// The directory things this condition names (an unparsable field names nothing).
    pub fn references(&self) -> Vec<RuleRef> {
        let ids = || ids_in(self.value.as_ref());
        match Field::parse(&self.field) {
            Ok(Field::Department) => {
                ids().into_iter().map(|i| RuleRef::Department(DepartmentId(i))).collect()
            }
            Ok(Field::Agent | Field::ActorAgent | Field::Followers) => {
                ids().into_iter().map(|i| RuleRef::Agent(AgentId(i))).collect()
            }
            Ok(Field::Team) => ids().into_iter().map(|i| RuleRef::Team(TeamId(i))).collect(),
            Ok(Field::UserOrganisation) => {
                ids().into_iter().map(|i| RuleRef::Organisation(OrganisationId(i))).collect()
            }
            Ok(Field::UserUsergroups) => {
                ids().into_iter().map(|i| RuleRef::Usergroup(UsergroupId(i))).collect()
            }
            Ok(Field::TicketField(key)) => vec![RuleRef::TicketField(key)],
            _ => Vec::new(),
        }
    }
}

impl ActionDef {
    /// The directory things this action names.
    pub fn references(&self) -> Vec<RuleRef> {
        match self {
            ActionDef::SetDepartment { department } => vec![RuleRef::Department(DepartmentId(*department))],
            ActionDef::SetAgent { agent: Some(a) } | ActionDef::AddFollower { agent: a } => {
                vec![RuleRef::Agent(AgentId(*a))]
            }
            ActionDef::SetTeam { team: Some(t) } => vec![RuleRef::Team(TeamId(*t))],
            ActionDef::SetField { key, .. } => vec![RuleRef::TicketField(key.clone())],
            ActionDef::Notify { to: Target::Agent(a), .. } => vec![RuleRef::Agent(*a)],
            ActionDef::Notify { to: Target::Team(t), .. } => vec![RuleRef::Team(*t)],
            _ => Vec::new(),
        }
    }
}

/// Every reference of a rule's conditions and actions.
pub fn references_of(all: &[ConditionDef], any: &[ConditionDef], actions: &[ActionDef]) -> Vec<RuleRef> {
    let mut out: Vec<RuleRef> = all
        .iter()
        .chain(any)
        .flat_map(ConditionDef::references)
        .chain(actions.iter().flat_map(ActionDef::references))
        .collect();
    out.sort();
    out.dedup();
    out
}
