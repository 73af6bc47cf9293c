//! Labels in Admin: the labels the helpdesk knows (offered to agents, with
//! what they mean), how many tickets carry each, renaming one on every
//! ticket and removing one.
//!
//! The definitions are configuration values (`labels`, by name); the
//! tickets keep carrying plain labels, so renaming or removing one changes
//! each ticket by a command (in its log), then the definition with its audit
//! entry. An interrupted rename is finished by renaming again.
//!
//! ```
//! use helpdesk_store::{Helpdesk, NewAgent};
//! use helpdesk_core::admin::LabelDef;
//! use helpdesk_core::*;
//!
//! let hd = Helpdesk::in_memory();
//! let d = hd.create_department("Support", vec![]).unwrap();
//! let alice = hd.create_agent(NewAgent::new("Alice", "alice@acme.example").admin()).unwrap();
//! let admin = hd.admin(alice.id).unwrap();
//! let ann = hd.create_user(NewUser::new("Ann", "ann@acme.example")).unwrap();
//! let t = hd.create_ticket(&Actor::User(ann.id), NewTicket::new("Hi", "?", d.id, ann.id, Channel::Portal)).unwrap();
//! hd.execute(t.id, &Actor::Agent(alice.id), Command::AddLabel { label: "vip".into() }).unwrap();
//!
//! admin.create_label(LabelDef { name: "VIP".into(), description: "Key accounts".into() }).unwrap();
//! assert_eq!(hd.label_uses("vip").unwrap().count, 1);
//! let renamed = admin.update_label("vip", LabelDef { name: "key-account".into(), description: String::new() }).unwrap();
//! assert_eq!(renamed.tickets_changed, 1);
//! assert!(hd.ticket(t.id).unwrap().labels.contains("key-account"));
//! ```

use super::{count, in_use, target, Admin};
use crate::{Helpdesk, Result};
use helpdesk_core::admin::{AdminError, AuditEntry, LabelDef, RuleDef};
use helpdesk_core::filter::{Criteria, CustomFilter, FilterCount, SortOrder, Viewer};
use helpdesk_core::*;
use serde::Serialize;

/// The configuration namespace of label definitions (by name).
const LABELS: &str = "labels";

/// What renaming or removing a label did to the tickets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelChanged {
    /// The label as it is now (`None` when removed).
    pub label: Option<LabelDef>,
    /// Tickets changed (relabelled, or the label taken off).
    pub tickets_changed: u64,
    /// Deleted or spam tickets, left as they are.
    pub hidden_left: u64,
}

/// Every ticket (all statuses, all departments) carrying `label`.
fn carrying(label: &str, statuses: Vec<Status>) -> CustomFilter {
    let mut c = Criteria { status: statuses, ..Criteria::default() };
    c.labels.any = vec![label.to_string()];
    CustomFilter::new(format!("Label {label}"), c).sorted(SortOrder::Newest)
}

/// A viewer that sees every department (the admin's changes reach all).
fn everything() -> Viewer {
    Viewer { agent: AgentId(0), teams: Default::default(), departments: None }
}

impl Helpdesk {
    /// The labels the helpdesk knows, by name.
    pub fn labels(&self) -> Result<Vec<LabelDef>> {
        let mut out = Vec::new();
        for (_, v) in self.store.configs(LABELS)? {
            if let Ok(l) = serde_json::from_value::<LabelDef>(v) {
                out.push(l);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// A known label.
    pub fn label(&self, name: &str) -> Result<Option<LabelDef>> {
        let Ok(name) = command::normalize_label(name) else { return Ok(None) };
        Ok(self.store.config(LABELS, &name)?.and_then(|v| serde_json::from_value(v).ok()))
    }

    /// How many tickets (every status and department) carry `label`.
    pub fn label_uses(&self, label: &str) -> Result<FilterCount> {
        let label = command::normalize_label(label)?;
        self.viewer_count(&everything(), &carrying(&label, Status::ALL.to_vec()))
    }

    /// Every rule whose conditions or actions name `label` (as
    /// `trigger "Tag VIPs"`).
    pub fn rules_naming_label(&self, label: &str) -> Result<Vec<String>> {
        fn names(v: &serde_json::Value, label: &str) -> bool {
            match v {
                serde_json::Value::String(s) => s.trim().eq_ignore_ascii_case(label),
                serde_json::Value::Array(a) => a.iter().any(|v| names(v, label)),
                _ => false,
            }
        }
        let about_labels = |x: &serde_json::Value, key: &str| {
            x.get(key).and_then(|f| f.as_str()).is_some_and(|f| f.contains("label"))
        };
        let uses = |v: &serde_json::Value| {
            let conditions = ["all", "any"].iter().filter_map(|p| v.get(p)?.as_array()).flatten();
            let actions = v.get("actions").and_then(|a| a.as_array()).into_iter().flatten();
            conditions
                .filter(|c| about_labels(c, "field"))
                .any(|c| c.get("value").is_some_and(|x| names(x, label)))
                || actions.filter(|a| about_labels(a, "action")).any(|a| {
                    a.as_object().is_some_and(|o| o.iter().any(|(k, x)| k != "action" && names(x, label)))
                })
        };
        Ok(RuleDef::all_of(&self.rule_file()?)
            .iter()
            .filter(|r| uses(&r.to_json_value()))
            .map(|r| format!("{} {:?}", r.kind().label(), r.name()))
            .collect())
    }

    /// Ids of the tickets carrying `label` in `statuses`, newest first.
    fn tickets_carrying(&self, label: &str, statuses: Vec<Status>) -> Result<Vec<TicketId>> {
        let filter = carrying(label, statuses);
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page =
                self.viewer_page(&everything(), &filter, cursor.as_ref(), helpdesk_core::filter::MAX_PAGE)?;
            out.extend(page.tickets.iter().map(|t| t.id));
            match page.next {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }
}

impl Admin<'_> {
    fn label_entry(&self, action: &str, name: &str, summary: String) -> AuditEntry {
        self.entry(action, target("label", name), summary)
    }

    fn write_label(&self, old: Option<&str>, new: Option<&LabelDef>, audit: AuditEntry) -> Result<()> {
        let mut config = Vec::new();
        if let Some(o) = old.filter(|o| new.is_none_or(|n| n.name != *o)) {
            config.push((LABELS.to_string(), o.to_string(), None));
        }
        if let Some(n) = new {
            config.push((LABELS.to_string(), n.name.clone(), serde_json::to_value(n).ok()));
        }
        self.write_with_config(vec![], vec![], config, audit).map(|_| ())
    }

    /// Takes `from` off every visible ticket carrying it, putting `to` on
    /// (when given) first, each a command in the ticket's log; how many.
    fn relabel(&self, from: &str, to: Option<&str>) -> Result<u64> {
        // Every status that takes changes (not deleted or spam).
        let visible: Vec<Status> =
            Status::ALL.into_iter().filter(|s| !matches!(s, Status::Deleted | Status::Spam)).collect();
        let mut n = 0;
        for id in self.hd.tickets_carrying(from, visible)? {
            let actor = self.ticket_actor(self.hd.ticket(id)?.department, false)?;
            if let Some(to) = to {
                self.hd.execute(id, &actor, Command::AddLabel { label: to.to_string() })?;
            }
            self.hd.execute(id, &actor, Command::RemoveLabel { label: from.to_string() })?;
            n += 1;
        }
        Ok(n)
    }

    /// Defines a label (tickets may carry it already).
    pub fn create_label(&self, def: LabelDef) -> Result<LabelDef> {
        let def = def.validated()?;
        if self.hd.label(&def.name)?.is_some() {
            return Err(DirectoryError::NameTaken { kind: "label", name: def.name }.into());
        }
        let e = self
            .label_entry("label.create", &def.name, format!("Created label {}", def.name))
            .change(None, Some(&def));
        self.write_label(None, Some(&def), e)?;
        Ok(def)
    }

    /// Changes a label's description, or renames it on every ticket that
    /// carries it (each in its log) and in the definitions. Renaming onto a
    /// label that exists merges the two.
    pub fn update_label(&self, name: &str, def: LabelDef) -> Result<LabelChanged> {
        let before = self
            .hd
            .label(name)?
            .ok_or_else(|| AdminError::Refused(format!("there is no label {:?}", name.trim())))?;
        let mut after = def.validated()?;
        if after == before {
            return Ok(LabelChanged { label: Some(after), tickets_changed: 0, hidden_left: 0 });
        }
        // Renamed onto a label that exists: the two become one, keeping that
        // label's description unless a new one was typed.
        let target = if after.name != before.name { self.hd.label(&after.name)? } else { None };
        if let Some(t) = &target {
            if after.description.is_empty() || after.description == before.description {
                after.description = t.description.clone();
            }
        }
        if after.name != before.name {
            in_use(format!("label {}", before.name), self.hd.rules_naming_label(&before.name)?)?;
        }
        let mut changed = LabelChanged { label: Some(after.clone()), tickets_changed: 0, hidden_left: 0 };
        if after.name != before.name {
            changed.tickets_changed = self.relabel(&before.name, Some(&after.name))?;
            let hidden = vec![Status::Deleted, Status::Spam];
            changed.hidden_left = self.hd.tickets_carrying(&before.name, hidden)?.len() as u64;
        }
        let summary = if after.name != before.name {
            format!(
                "Renamed label {} to {}{} ({} changed)",
                before.name,
                after.name,
                if target.is_some() { ", merging the two" } else { "" },
                count(changed.tickets_changed, "ticket", "tickets")
            )
        } else {
            format!("Changed label {}", after.name)
        };
        let mut e =
            self.label_entry("label.update", &before.name, summary).change(Some(&before), Some(&after));
        if let Some(t) = &target {
            e.before = Some(serde_json::json!({ "label": before, "merged_into": t }));
        }
        self.write_label(Some(&before.name), Some(&after), e)?;
        Ok(changed)
    }

    /// Removes a label's definition; with `from_tickets`, takes it off every
    /// (visible) ticket too, each in its log.
    pub fn remove_label(&self, name: &str, from_tickets: bool) -> Result<LabelChanged> {
        let before = self
            .hd
            .label(name)?
            .ok_or_else(|| AdminError::Refused(format!("there is no label {:?}", name.trim())))?;
        let mut changed = LabelChanged { label: None, tickets_changed: 0, hidden_left: 0 };
        if from_tickets {
            in_use(format!("label {}", before.name), self.hd.rules_naming_label(&before.name)?)?;
            changed.tickets_changed = self.relabel(&before.name, None)?;
        }
        let summary = if from_tickets {
            format!(
                "Removed label {} (taken off {})",
                before.name,
                count(changed.tickets_changed, "ticket", "tickets")
            )
        } else {
            format!("Removed label {} (tickets keep it)", before.name)
        };
        let e = self.label_entry("label.remove", &before.name, summary).change(Some(&before), None);
        self.write_label(Some(&before.name), None, e)?;
        Ok(changed)
    }
}
