//! Rules in the Admin app: triggers, escalations and SLA policies added,
//! edited, renamed, turned on and off, reordered, imported and removed by an
//! admin, each change checked by the rule engine (its own [`RuleError`]
//! messages) and written with its audit entry in one store write; and dry
//! runs of any rule against chosen or recent tickets.
//!
//! ```
//! use helpdesk_store::Helpdesk;
//! use helpdesk_store::admin::Setup;
//! use helpdesk_core::admin::{DryRunOn, RuleDef, RuleKind};
//!
//! let hd = Helpdesk::in_memory();
//! let done = hd.setup(Setup {
//!     helpdesk_name: "Acme".into(), public_url: None, admin_name: "Alice".into(),
//!     admin_email: "alice@acme.example".into(), admin_password: "a long secret".into(),
//!     department: "Support".into(),
//! }).unwrap();
//! let admin = hd.admin(done.admin.id).unwrap();
//! let rule = RuleDef::from_toml(RuleKind::Trigger, r#"
//!     name = "Urgent words"
//!     on = ["new_ticket"]
//!     all = [{ field = "ticket.subject", op = "contains", value = "urgent" }]
//!     actions = [{ action = "raise_urgency", by = 2 }]
//! "#).unwrap();
//! let runs = hd.dry_run(&rule, &DryRunOn::Last(10)).unwrap();
//! assert!(runs.is_empty()); // no tickets yet
//! admin.save_rule(None, rule).unwrap();
//! admin.set_rule_enabled(RuleKind::Trigger, "Urgent words", false).unwrap();
//! assert!(!hd.rule(RuleKind::Trigger, "Urgent words").unwrap().enabled());
//! ```

use super::{count, Admin};
use crate::automation::{named, ESCALATIONS, SLAS, TRIGGERS};
use crate::{Helpdesk, Result};
use helpdesk_core::admin::{DryRunOn, RuleDef, RuleKind};
use helpdesk_core::automation::{self, DryRun, RuleFile};
use helpdesk_core::*;
use std::collections::BTreeSet;

fn namespace(kind: RuleKind) -> &'static str {
    match kind {
        RuleKind::Trigger => TRIGGERS,
        RuleKind::Escalation => ESCALATIONS,
        RuleKind::Sla => SLAS,
    }
}

fn target(kind: RuleKind, name: &str) -> String {
    format!("{}:{name}", kind.as_str())
}

/// A config write of one rule (or its removal).
type ConfigWrite = (String, String, Option<serde_json::Value>);

fn put(def: &RuleDef) -> Result<ConfigWrite> {
    let ns = namespace(def.kind());
    let value = match def {
        RuleDef::Trigger(d) => named(ns, def.name(), d)?,
        RuleDef::Escalation(d) => named(ns, def.name(), d)?,
        RuleDef::Sla(d) => named(ns, def.name(), d)?,
    };
    Ok((ns.to_string(), def.name().to_string(), Some(value)))
}

fn remove(kind: RuleKind, name: &str) -> ConfigWrite {
    (namespace(kind).to_string(), name.to_string(), None)
}

/// What [`Admin::import_rules`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    /// Rules that were new.
    pub added: usize,
    /// Rules that replaced one of their name.
    pub replaced: usize,
    /// Stored rules the import removed (with `replace_all`).
    pub removed: usize,
}

impl Helpdesk {
    /// The stored rules of one kind, in the order they run.
    pub fn rules_of(&self, kind: RuleKind) -> Result<Vec<RuleDef>> {
        let file = self.rule_file()?;
        Ok(RuleDef::all_of(&file).into_iter().filter(|r| r.kind() == kind).collect())
    }

    /// One stored rule.
    pub fn rule(&self, kind: RuleKind, name: &str) -> Result<RuleDef> {
        self.rules_of(kind)?
            .into_iter()
            .find(|r| r.name() == name.trim())
            .ok_or_else(|| AdminError::NoSuchRule { kind, name: name.trim().to_string() }.into())
    }

    /// The names of the triggers the embedder built in code (they run after
    /// or between the stored ones by their order, and are not editable).
    pub fn code_trigger_names(&self) -> Vec<String> {
        self.code_triggers.iter().map(|t| t.name().to_string()).collect()
    }

    /// What a rule (saved or not) would do to stored tickets as they stand:
    /// for each, whether it fires or applies, the trace per condition and
    /// action, and the changes and effects it would make. Checks the rule
    /// first, exactly as saving does. Changes nothing.
    pub fn dry_run(&self, def: &RuleDef, on: &DryRunOn) -> Result<Vec<DryRun>> {
        let ids = match on {
            DryRunOn::Tickets(ids) => ids.iter().take(DryRunOn::MAX).copied().collect::<Vec<_>>(),
            DryRunOn::Last(n) => {
                let all = self.all_ticket_ids()?;
                let n = (*n).min(DryRunOn::MAX);
                all[all.len().saturating_sub(n)..].iter().rev().copied().collect()
            }
        };
        match def {
            RuleDef::Trigger(d) => self.dry_run_trigger(d, Some(&ids)),
            RuleDef::Escalation(d) => self.dry_run_escalation(d, Some(&ids)),
            RuleDef::Sla(d) => {
                let policy = d.compile()?;
                self.validate(&def.file())?;
                let now = self.clock.now();
                let dir = crate::automation::StoreDirectory::new(&*self.store);
                let out = self
                    .dry_run_tickets(Some(&ids))?
                    .iter()
                    .map(|t| automation::dry_run_sla(&policy, t, now, &dir))
                    .collect();
                dir.check()?;
                Ok(out)
            }
        }
    }
}

impl Admin<'_> {
    fn write_rules(&self, config: Vec<ConfigWrite>, audit: AuditEntry) -> Result<()> {
        let r = self.hd.store.admin_commit(&AdminCommit { put: vec![], delete: vec![], config, audit });
        self.hd.forget_rules();
        r.map(|_| ()).map_err(Into::into)
    }

    /// Adds a rule, or replaces the stored rule named `replacing` (which may
    /// rename it). Refused with the engine's message when it does not
    /// validate (names, events, fields, operators, values, the departments'
    /// custom fields), and when another rule of its kind has the name.
    pub fn save_rule(&self, replacing: Option<&str>, def: RuleDef) -> Result<RuleDef> {
        def.compile()?;
        self.hd.validate(&def.file())?;
        self.hd.check_rule_templates(std::slice::from_ref(&def))?;
        let kind = def.kind();
        let stored = self.hd.rules_of(kind)?;
        let before = match replacing {
            Some(old) => Some(
                stored
                    .iter()
                    .find(|r| r.name() == old.trim())
                    .cloned()
                    .ok_or_else(|| AdminError::NoSuchRule { kind, name: old.trim().to_string() })?,
            ),
            None => None,
        };
        let old_name = before.as_ref().map(|b| b.name().to_string());
        if old_name.as_deref() != Some(def.name()) && stored.iter().any(|r| r.name() == def.name()) {
            return Err(AdminError::RuleNameTaken { kind, name: def.name().to_string() }.into());
        }
        if before.as_ref() == Some(&def) {
            return Ok(def);
        }
        let mut config = vec![put(&def)?];
        let (action, summary) = match &old_name {
            None => ("rule.create", format!("Added {} {:?}", kind.label(), def.name())),
            Some(old) if old != def.name() => {
                config.insert(0, remove(kind, old));
                ("rule.update", format!("Changed {} {old:?}, now named {:?}", kind.label(), def.name()))
            }
            Some(_) => ("rule.update", format!("Changed {} {:?}", kind.label(), def.name())),
        };
        let e = self.entry(action, target(kind, def.name()), summary).change(before.as_ref(), Some(&def));
        self.write_rules(config, e)?;
        Ok(def)
    }

    /// Removes a rule. Tickets drop an escalation's or SLA policy's state
    /// the next time they change or are due.
    pub fn delete_rule(&self, kind: RuleKind, name: &str) -> Result<()> {
        let before = self.hd.rule(kind, name)?;
        let summary = format!("Removed {} {:?}", kind.label(), before.name());
        let e = self.entry("rule.delete", target(kind, before.name()), summary).change(Some(&before), None);
        self.write_rules(vec![remove(kind, before.name())], e)
    }

    /// Turns a rule on or off.
    pub fn set_rule_enabled(&self, kind: RuleKind, name: &str, enabled: bool) -> Result<RuleDef> {
        let before = self.hd.rule(kind, name)?;
        if before.enabled() == enabled {
            return Ok(before);
        }
        let mut after = before.clone();
        after.set_enabled(enabled);
        let (action, verb) =
            if enabled { ("rule.enable", "Turned on") } else { ("rule.disable", "Turned off") };
        let summary = format!("{verb} {} {:?}", kind.label(), after.name());
        let e = self.entry(action, target(kind, after.name()), summary).change(Some(&before), Some(&after));
        self.write_rules(vec![put(&after)?], e)?;
        Ok(after)
    }

    /// Puts the rules of a kind in a new order: every stored name once, first
    /// to run first. The rules take the order values they had, in the new
    /// sequence, so their places among the triggers built into the server's
    /// code stay; when values repeat (rules that never had one), they are
    /// numbered 10, 20, ...
    pub fn reorder_rules(&self, kind: RuleKind, names: &[String]) -> Result<Vec<RuleDef>> {
        let stored = self.hd.rules_of(kind)?;
        let have: BTreeSet<&str> = stored.iter().map(|r| r.name()).collect();
        let given: Vec<&str> = names.iter().map(|n| n.trim()).collect();
        let given_set: BTreeSet<&str> = given.iter().copied().collect();
        if given_set.len() != given.len() || given_set != have {
            return Err(AdminError::Refused(format!(
                "give every {} once to reorder them: {}",
                kind.label(),
                have.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
            ))
            .into());
        }
        let mut values: Vec<i32> = stored.iter().map(|r| r.order()).collect();
        values.sort_unstable();
        values.dedup();
        if values.len() != stored.len() {
            values = (1..=stored.len() as i32).map(|i| i * 10).collect();
        }
        let mut after = Vec::new();
        for (name, order) in given.iter().zip(values) {
            let mut r = stored.iter().find(|r| r.name() == *name).cloned().expect("checked above");
            r.set_order(order);
            after.push(r);
        }
        let changed: Vec<&RuleDef> = after.iter().filter(|a| !stored.iter().any(|s| s == *a)).collect();
        if changed.is_empty() {
            return Ok(after);
        }
        let config = changed.iter().map(|r| put(r)).collect::<Result<Vec<_>>>()?;
        let order = |rs: &[RuleDef]| rs.iter().map(|r| r.name().to_string()).collect::<Vec<_>>();
        let mut sorted = stored.clone();
        sorted.sort_by(|a, b| (a.order(), a.name()).cmp(&(b.order(), b.name())));
        let summary = format!("Reordered the {}s: {}", kind.as_str(), given.join(", "));
        let e = self
            .entry("rule.reorder", kind.as_str().to_string(), summary)
            .change(Some(&order(&sorted)), Some(&order(&after)));
        self.write_rules(config, e)?;
        Ok(after)
    }

    /// Loads a rule file (the `--rules` format): every rule is checked first
    /// and nothing is stored when any is refused (all problems reported, each
    /// naming its rule). Rules replace the stored ones of their name; with
    /// `replace_all` the stored rules the file does not name are removed.
    /// One audit entry.
    pub fn import_rules(&self, file: &RuleFile, replace_all: bool) -> Result<Imported> {
        self.hd.validate(file)?;
        self.hd.check_rule_templates(&RuleDef::all_of(file))?;
        if replace_all && RuleDef::all_of(file).is_empty() {
            return Err(AdminError::Refused(
                "the file holds no rules: importing it with every other rule removed would remove them all; remove rules one by one instead".into(),
            )
            .into());
        }
        let stored = RuleDef::all_of(&self.hd.rule_file()?);
        let incoming = RuleDef::all_of(file);
        let mut report = Imported::default();
        let mut config = Vec::new();
        for r in &incoming {
            if stored.iter().any(|s| s.kind() == r.kind() && s.name() == r.name()) {
                report.replaced += 1;
            } else {
                report.added += 1;
            }
            config.push(put(r)?);
        }
        if replace_all {
            for s in &stored {
                if !incoming.iter().any(|r| r.kind() == s.kind() && r.name() == s.name()) {
                    report.removed += 1;
                    config.push(remove(s.kind(), s.name()));
                }
            }
        }
        if config.is_empty() {
            return Ok(report);
        }
        let summary = format!(
            "Imported rules: {} added, {} replaced{}",
            report.added,
            report.replaced,
            if replace_all { format!(", {} removed", report.removed) } else { String::new() }
        );
        let e = self.entry("rule.import", "rules".into(), summary).change(Some(&stored), Some(&incoming));
        self.write_rules(config, e)?;
        Ok(report)
    }

    /// Brings every ticket's SLA and escalation state in line with the rules
    /// in force now (otherwise tickets pick up edited policies the next time
    /// they change or are due); audited with how many tickets changed.
    pub fn reschedule_all(&self) -> Result<usize> {
        let n = self.hd.reschedule_all()?;
        let summary = format!(
            "Applied the SLA policies and escalations to every ticket: {} changed",
            count(n as u64, "ticket", "tickets")
        );
        self.hd.store.admin_commit(&AdminCommit::audit_only(self.entry(
            "rule.reschedule",
            "rules".into(),
            summary,
        )))?;
        Ok(n)
    }
}
