//! Rules as admins edit them: one definition of any kind ([`RuleDef`]), its
//! kind ([`RuleKind`]) and how a dry run picks its tickets ([`DryRunOn`]).
//!
//! ```
//! use helpdesk_core::admin::{RuleDef, RuleKind};
//! let def = RuleDef::from_toml(RuleKind::Trigger, r#"
//!     name = "VIP"
//!     on = ["new_ticket"]
//!     all = [{ field = "user.email", op = "contains", value = "@vip.example" }]
//!     actions = [{ action = "raise_urgency", by = 3 }]
//! "#).unwrap();
//! assert_eq!(def.name(), "VIP");
//! assert!(def.to_toml().unwrap().contains("raise_urgency"));
//!
//! let err = RuleDef::from_toml(RuleKind::Trigger, "name = \"X\"\non = []\nactions = []").unwrap_err();
//! assert!(err.to_string().contains("runs on no event"));
//! ```

use crate::automation::RuleFile;
use crate::escalation::EscalationDef;
use crate::ids::TicketId;
use crate::rule::{references_of, ActionDef, ConditionDef, RuleError, RuleRef};
use crate::sla::SlaDef;
use crate::trigger::TriggerDef;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The three kinds of rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Runs when something happens to a ticket.
    Trigger,
    /// Runs when a ticket has been in a status for a time.
    Escalation,
    /// A service level policy: a time the helpdesk promises.
    Sla,
}

impl RuleKind {
    /// Every kind, in the order screens show them.
    pub const ALL: [RuleKind; 3] = [RuleKind::Trigger, RuleKind::Escalation, RuleKind::Sla];

    /// `trigger`, `escalation`, `sla` (also the URL segment and the
    /// [`RuleError::kind`]).
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Trigger => "trigger",
            RuleKind::Escalation => "escalation",
            RuleKind::Sla => "sla",
        }
    }

    /// Parses [`RuleKind::as_str`] (plural forms too: `triggers`).
    pub fn parse(s: &str) -> Option<RuleKind> {
        match s {
            "trigger" | "triggers" => Some(RuleKind::Trigger),
            "escalation" | "escalations" => Some(RuleKind::Escalation),
            "sla" | "slas" => Some(RuleKind::Sla),
            _ => None,
        }
    }

    /// For people: `trigger`, `escalation`, `SLA policy`.
    pub fn label(self) -> &'static str {
        match self {
            RuleKind::Trigger => "trigger",
            RuleKind::Escalation => "escalation",
            RuleKind::Sla => "SLA policy",
        }
    }
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule of any kind, as stored and edited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "rule", rename_all = "snake_case")]
pub enum RuleDef {
    /// A trigger.
    Trigger(TriggerDef),
    /// An escalation.
    Escalation(EscalationDef),
    /// An SLA policy.
    Sla(SlaDef),
}

impl RuleDef {
    /// Its kind.
    pub fn kind(&self) -> RuleKind {
        match self {
            RuleDef::Trigger(_) => RuleKind::Trigger,
            RuleDef::Escalation(_) => RuleKind::Escalation,
            RuleDef::Sla(_) => RuleKind::Sla,
        }
    }

    /// Its name, trimmed.
    pub fn name(&self) -> &str {
        match self {
            RuleDef::Trigger(d) => d.name.trim(),
            RuleDef::Escalation(d) => d.name.trim(),
            RuleDef::Sla(d) => d.name.trim(),
        }
    }

    /// Its position among rules of its kind.
    pub fn order(&self) -> i32 {
        match self {
            RuleDef::Trigger(d) => d.order,
            RuleDef::Escalation(d) => d.order,
            RuleDef::Sla(d) => d.order,
        }
    }

    /// Whether it runs.
    pub fn enabled(&self) -> bool {
        match self {
            RuleDef::Trigger(d) => d.enabled,
            RuleDef::Escalation(d) => d.enabled,
            RuleDef::Sla(d) => d.enabled,
        }
    }

    /// Sets its position.
    pub fn set_order(&mut self, order: i32) {
        match self {
            RuleDef::Trigger(d) => d.order = order,
            RuleDef::Escalation(d) => d.order = order,
            RuleDef::Sla(d) => d.order = order,
        }
    }

    /// Turns it on or off.
    pub fn set_enabled(&mut self, enabled: bool) {
        match self {
            RuleDef::Trigger(d) => d.enabled = enabled,
            RuleDef::Escalation(d) => d.enabled = enabled,
            RuleDef::Sla(d) => d.enabled = enabled,
        }
    }

    /// Its conditions (`all`, `any`) and actions (SLA policies have none).
    pub fn parts(&self) -> (&[ConditionDef], &[ConditionDef], &[ActionDef]) {
        match self {
            RuleDef::Trigger(d) => (&d.all, &d.any, &d.actions),
            RuleDef::Escalation(d) => (&d.all, &d.any, &d.actions),
            RuleDef::Sla(d) => (&d.all, &d.any, &[]),
        }
    }

    /// The departments, teams, agents and users it names.
    pub fn references(&self) -> Vec<RuleRef> {
        let (all, any, actions) = self.parts();
        references_of(all, any, actions)
    }

    /// A rule file holding just this rule.
    pub fn file(&self) -> RuleFile {
        let mut f = RuleFile::default();
        match self.clone() {
            RuleDef::Trigger(d) => f.triggers.push(d),
            RuleDef::Escalation(d) => f.escalations.push(d),
            RuleDef::Sla(d) => f.sla.push(d),
        }
        f
    }

    /// Every rule of a file, triggers first.
    pub fn all_of(file: &RuleFile) -> Vec<RuleDef> {
        let t = file.triggers.iter().cloned().map(RuleDef::Trigger);
        let e = file.escalations.iter().cloned().map(RuleDef::Escalation);
        let s = file.sla.iter().cloned().map(RuleDef::Sla);
        t.chain(e).chain(s).collect()
    }

    /// Checks the rule on its own (names, events, conditions, actions,
    /// times) with the engine's messages.
    pub fn compile(&self) -> Result<(), RuleError> {
        match self {
            RuleDef::Trigger(d) => d.compile().map(|_| ()),
            RuleDef::Escalation(d) => d.compile().map(|_| ()),
            RuleDef::Sla(d) => d.compile().map(|_| ()),
        }
    }

    /// Reads one rule of `kind` from JSON (a rule object, as in a rule
    /// file's list) and checks it.
    pub fn from_json_value(kind: RuleKind, value: serde_json::Value) -> Result<RuleDef, RuleError> {
        let name = value.get("name").and_then(|n| n.as_str()).unwrap_or("(no name)").to_string();
        let bad = |e: serde_json::Error| RuleError::new(kind.as_str(), &name, e.to_string());
        let def = match kind {
            RuleKind::Trigger => RuleDef::Trigger(serde_json::from_value(value).map_err(bad)?),
            RuleKind::Escalation => RuleDef::Escalation(serde_json::from_value(value).map_err(bad)?),
            RuleKind::Sla => RuleDef::Sla(serde_json::from_value(value).map_err(bad)?),
        };
        def.compile()?;
        Ok(def)
    }

    /// Reads one rule of `kind` from TOML (the keys of one `[[triggers]]`
    /// table, without the header) and checks it.
    pub fn from_toml(kind: RuleKind, text: &str) -> Result<RuleDef, RuleError> {
        let value: serde_json::Value = toml::from_str(text)
            .map_err(|e| RuleError::new(kind.as_str(), "(toml)", e.to_string().trim_end()))?;
        RuleDef::from_json_value(kind, value)
    }

    /// The rule as JSON (a rule object).
    pub fn to_json_value(&self) -> serde_json::Value {
        let v = match self {
            RuleDef::Trigger(d) => serde_json::to_value(d),
            RuleDef::Escalation(d) => serde_json::to_value(d),
            RuleDef::Sla(d) => serde_json::to_value(d),
        };
        v.unwrap_or(serde_json::Value::Null)
    }

    /// The rule as TOML (the keys of its table). Fails for values TOML
    /// cannot hold (a `null` condition value, clearing a field): use JSON
    /// for those. What it gives reads back as the same rule.
    pub fn to_toml(&self) -> Result<String, String> {
        let direct = match self {
            RuleDef::Trigger(d) => toml::to_string(d),
            RuleDef::Escalation(d) => toml::to_string(d),
            RuleDef::Sla(d) => toml::to_string(d),
        };
        let text = match direct {
            Ok(t) => t,
            Err(_) => toml::to_string(&strip_nulls(self.to_json_value())).map_err(|e| e.to_string())?,
        };
        match RuleDef::from_toml(self.kind(), &text) {
            Ok(back) if back == *self => Ok(text),
            _ => Err(NULL_IN_TOML.into()),
        }
    }
}

const NULL_IN_TOML: &str = "this rule holds a null value, which TOML cannot write: use JSON";

/// A whole rule file as TOML (`[[triggers]]` tables and so on), or why it
/// cannot be (a rule holding a null value: use JSON). What it gives reads
/// back as the same file.
pub fn rule_file_toml(file: &RuleFile) -> Result<String, String> {
    let text = match toml::to_string(file) {
        Ok(t) => t,
        Err(_) => {
            let v = serde_json::to_value(file).map_err(|e| e.to_string())?;
            toml::to_string(&strip_nulls(v)).map_err(|e| e.to_string())?
        }
    };
    match RuleFile::from_toml(&text) {
        Ok(back) if back == *file => Ok(text),
        _ => Err(NULL_IN_TOML.into()),
    }
}

/// Drops `null` object members (TOML has no null; the rule types read a
/// missing optional key as none).
fn strip_nulls(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip_nulls(v))).collect(),
        ),
        serde_json::Value::Array(a) => serde_json::Value::Array(a.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// Which stored tickets a dry run looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DryRunOn {
    /// These tickets.
    Tickets(Vec<TicketId>),
    /// The newest N tickets (at most [`DryRunOn::MAX`]).
    Last(usize),
}

impl DryRunOn {
    /// The most tickets one dry run looks at.
    pub const MAX: usize = 500;
}

impl Default for DryRunOn {
    fn default() -> Self {
        DryRunOn::Last(20)
    }
}
