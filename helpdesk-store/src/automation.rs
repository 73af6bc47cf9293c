//! The shell around `helpdesk_core::automation`: rule definitions kept in
//! the store (validated on save and on load), the due-timer sweep, dry runs
//! and SLA-state queries.

use crate::helpdesk::{Error, Helpdesk, Result};
use chrono::{DateTime, Utc};
use helpdesk_core::automation::{self, DryRun, RuleFile, Rules};
use helpdesk_core::escalation::EscalationDef;
use helpdesk_core::index::{due_key, prefix, sla_state_counter, sla_state_prefix, status_prefix};
use helpdesk_core::rule::{check_custom_fields, RuleError};
use helpdesk_core::sla::{SlaDef, SlaState};
use helpdesk_core::trigger::{ChainTrace, TriggerDef};
use helpdesk_core::*;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) const TRIGGERS: &str = "trigger";
pub(crate) const ESCALATIONS: &str = "escalation";
pub(crate) const SLAS: &str = "sla";

/// How many times the sweep re-reads a ticket that another writer changed
/// while it was being processed.
const MAX_RETRIES: usize = 16;

/// A [`Directory`] that reads the store on demand (rules may look at any
/// user, organisation, agent, team or department). Lookups are cached; a
/// storage error is kept and reported by [`StoreDirectory::check`].
pub(crate) struct StoreDirectory<'a> {
    store: &'a dyn Store,
    cache: RefCell<BTreeMap<(RecordKind, u64), Option<Record>>>,
    error: RefCell<Option<StoreError>>,
}

impl<'a> StoreDirectory<'a> {
    pub(crate) fn new(store: &'a dyn Store) -> Self {
        StoreDirectory { store, cache: RefCell::default(), error: RefCell::default() }
    }

    fn get(&self, kind: RecordKind, id: u64) -> Option<Record> {
        if let Some(r) = self.cache.borrow().get(&(kind, id)) {
            return r.clone();
        }
        let r = match self.store.record(kind, id) {
            Ok(r) => r,
            Err(e) => {
                self.error.borrow_mut().get_or_insert(e);
                None
            }
        };
        self.cache.borrow_mut().insert((kind, id), r.clone());
        r
    }

    /// The first storage error a lookup met, if any.
    pub(crate) fn check(&self) -> Result<()> {
        match self.error.borrow_mut().take() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
}

impl Directory for StoreDirectory<'_> {
    fn department(&self, id: DepartmentId) -> Option<Department> {
        match self.get(RecordKind::Department, id.0)? {
            Record::Department(d) => Some(d),
            _ => None,
        }
    }
    fn agent(&self, id: AgentId) -> Option<Agent> {
        match self.get(RecordKind::Agent, id.0)? {
            Record::Agent(a) => Some(a),
            _ => None,
        }
    }
    fn team(&self, id: TeamId) -> Option<Team> {
        match self.get(RecordKind::Team, id.0)? {
            Record::Team(t) => Some(t),
            _ => None,
        }
    }
    fn user(&self, id: UserId) -> Option<User> {
        match self.get(RecordKind::User, id.0)? {
            Record::User(u) => Some(u),
            _ => None,
        }
    }
    fn organisation(&self, id: OrganisationId) -> Option<Organisation> {
        match self.get(RecordKind::Organisation, id.0)? {
            Record::Organisation(o) => Some(o),
            _ => None,
        }
    }
}

/// Outbox items for the effects a commit queues, keyed by the ticket's
/// version after the commit and their position.
pub(crate) fn outbox_items(ticket: &Ticket, effects: Vec<Effect>, now: DateTime<Utc>) -> Vec<OutboxItem> {
    effects
        .into_iter()
        .enumerate()
        .map(|(i, effect)| {
            OutboxItem::new(
                OutboxKey { ticket: ticket.id, version: ticket.version, seq: i as u32 },
                effect,
                now,
            )
        })
        .collect()
}

/// What one sweep of the due timers did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DueReport {
    /// Tickets that were due, in due order.
    pub due: Vec<TicketId>,
    /// Tickets changed (escalations fired, SLAs warned or failed, schedules updated).
    pub changed: Vec<TicketId>,
    /// The explain trace of each changed ticket's chain.
    pub traces: Vec<(TicketId, ChainTrace)>,
}

pub(crate) fn named<T: Serialize>(kind: &str, name: &str, def: &T) -> Result<serde_json::Value> {
    serde_json::to_value(def)
        .map_err(|e| Error::Rule(RuleError::new(kind, name, format!("cannot be stored: {e}"))))
}

impl Helpdesk {
    /// The rules in force: the stored triggers, escalations and SLA policies
    /// plus the builder's triggers. Loaded once and kept until they change
    /// through this helpdesk or, on a store other processes share, through
    /// any of them (the store's [`config_epoch`](Store::config_epoch)); a
    /// stored definition that no longer validates is an error naming it.
    pub fn rules(&self) -> Result<Arc<Rules>> {
        let epoch = self.store.config_epoch()?;
        if let Some((at, r)) = self.rules.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if *at == epoch {
                return Ok(r.clone());
            }
        }
        let file = self.rule_file()?;
        let mut rules = file.compile().map_err(Error::Rules)?;
        rules.triggers.extend(self.code_triggers.iter().cloned());
        rules.sort();
        let rules = Arc::new(rules);
        *self.rules.write().unwrap_or_else(|e| e.into_inner()) = Some((epoch, rules.clone()));
        Ok(rules)
    }

    pub(crate) fn forget_rules(&self) {
        *self.rules.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Every stored definition, as a rule file (for export, or to edit and load again).
    pub fn rule_file(&self) -> Result<RuleFile> {
        fn load<T: serde::de::DeserializeOwned>(hd: &Helpdesk, ns: &str) -> Result<Vec<T>> {
            hd.store
                .configs(ns)?
                .into_iter()
                .map(|(name, v)| {
                    serde_json::from_value(v).map_err(|e| {
                        Error::Rule(RuleError::new(
                            ns,
                            &name,
                            format!("stored definition does not load: {e}"),
                        ))
                    })
                })
                .collect()
        }
        let mut file = RuleFile {
            triggers: load(self, TRIGGERS)?,
            escalations: load(self, ESCALATIONS)?,
            sla: load(self, SLAS)?,
        };
        file.triggers.sort_by(|a, b| (a.order, &a.name).cmp(&(b.order, &b.name)));
        file.escalations.sort_by(|a, b| (a.order, &a.name).cmp(&(b.order, &b.name)));
        file.sla.sort_by(|a, b| (a.order, &a.name).cmp(&(b.order, &b.name)));
        Ok(file)
    }

    /// Checks definitions against each other and against the departments'
    /// custom fields.
    pub(crate) fn validate(&self, file: &RuleFile) -> Result<()> {
        let rules = file.compile().map_err(Error::Rules)?;
        let departments = self.departments()?;
        let mut errors = Vec::new();
        for t in &file.triggers {
            let c = t.compile()?;
            if let Err(e) =
                check_custom_fields("trigger", &t.name, &[c.conditions()], c.actions(), &departments)
            {
                errors.push(e);
            }
        }
        for e in &rules.escalations {
            if let Err(e) =
                check_custom_fields("escalation", &e.name, &[&e.conditions], &e.actions, &departments)
            {
                errors.push(e);
            }
        }
        for s in &rules.slas {
            if let Err(e) = check_custom_fields("sla", &s.name, &[&s.conditions], &[], &departments) {
                errors.push(e);
            }
        }
        match errors.len() {
            0 => Ok(()),
            1 => Err(Error::Rule(errors.remove(0))),
            _ => Err(Error::Rules(errors)),
        }
    }

    /// Adds a trigger, or replaces the one with its name. Refused with the
    /// rule and the problem named when it does not validate.
    pub fn put_trigger(&self, def: TriggerDef) -> Result<()> {
        def.compile()?;
        self.validate(&RuleFile { triggers: vec![def.clone()], ..Default::default() })?;
        let name = def.name.trim().to_string();
        self.store.put_config(TRIGGERS, &name, Some(&named(TRIGGERS, &name, &def)?))?;
        self.forget_rules();
        Ok(())
    }

    /// Adds or replaces an escalation.
    pub fn put_escalation(&self, def: EscalationDef) -> Result<()> {
        def.compile()?;
        self.validate(&RuleFile { escalations: vec![def.clone()], ..Default::default() })?;
        let name = def.name.trim().to_string();
        self.store.put_config(ESCALATIONS, &name, Some(&named(ESCALATIONS, &name, &def)?))?;
        self.forget_rules();
        Ok(())
    }

    /// Adds or replaces an SLA policy.
    pub fn put_sla(&self, def: SlaDef) -> Result<()> {
        def.compile()?;
        self.validate(&RuleFile { sla: vec![def.clone()], ..Default::default() })?;
        let name = def.name.trim().to_string();
        self.store.put_config(SLAS, &name, Some(&named(SLAS, &name, &def)?))?;
        self.forget_rules();
        Ok(())
    }

    fn delete_config(&self, ns: &str, name: &str) -> Result<bool> {
        let found = self.store.configs(ns)?.iter().any(|(n, _)| n == name.trim());
        if found {
            self.store.put_config(ns, name.trim(), None)?;
            self.forget_rules();
        }
        Ok(found)
    }

    /// Removes a trigger; `false` when there was none by that name.
    pub fn delete_trigger(&self, name: &str) -> Result<bool> {
        self.delete_config(TRIGGERS, name)
    }

    /// Removes an escalation. Tickets drop its state the next time they change or are due.
    pub fn delete_escalation(&self, name: &str) -> Result<bool> {
        self.delete_config(ESCALATIONS, name)
    }

    /// Removes an SLA policy. Tickets drop its state the next time they change or are due.
    pub fn delete_sla(&self, name: &str) -> Result<bool> {
        self.delete_config(SLAS, name)
    }

    /// The stored triggers, in the order they run.
    pub fn triggers(&self) -> Result<Vec<TriggerDef>> {
        Ok(self.rule_file()?.triggers)
    }

    /// The stored escalations, in order.
    pub fn escalations(&self) -> Result<Vec<EscalationDef>> {
        Ok(self.rule_file()?.escalations)
    }

    /// The stored SLA policies, in order.
    pub fn sla_policies(&self) -> Result<Vec<SlaDef>> {
        Ok(self.rule_file()?.sla)
    }

    /// Loads a rule file: every rule is checked first (all problems are
    /// reported, each naming its rule), then each is added or replaces the
    /// one with its name. Nothing is stored when any rule is refused.
    pub fn load_rules(&self, file: &RuleFile) -> Result<()> {
        self.validate(file)?;
        for t in &file.triggers {
            self.store.put_config(TRIGGERS, t.name.trim(), Some(&named(TRIGGERS, &t.name, t)?))?;
        }
        for e in &file.escalations {
            self.store.put_config(ESCALATIONS, e.name.trim(), Some(&named(ESCALATIONS, &e.name, e)?))?;
        }
        for s in &file.sla {
            self.store.put_config(SLAS, s.name.trim(), Some(&named(SLAS, &s.name, s)?))?;
        }
        self.forget_rules();
        Ok(())
    }

    /// [`load_rules`](Self::load_rules) from TOML text.
    pub fn load_rules_toml(&self, text: &str) -> Result<()> {
        self.load_rules(&RuleFile::from_toml(text).map_err(Error::Rules)?)
    }

    /// Installs the default escalations ([`automation::default_escalations`]:
    /// urgency rises while a ticket awaits an agent) unless one with the same
    /// name exists.
    pub fn install_default_escalations(&self) -> Result<()> {
        let have = self.escalations()?;
        for def in automation::default_escalations() {
            if !have.iter().any(|e| e.name == def.name) {
                self.put_escalation(def)?;
            }
        }
        Ok(())
    }

    /// Runs the due timers up to the clock's time: see [`run_due`](Self::run_due).
    pub fn tick(&self) -> Result<DueReport> {
        self.run_due(self.clock.now())
    }

    /// Sweeps the due-timer index up to `now`: for each ticket due (earliest
    /// first), escalations fire, SLAs warn or fail, triggers run, and the
    /// schedule moves on, in one commit per ticket. Reads only the index
    /// entries due, so its cost grows with what is due, not with the number
    /// of tickets.
    pub fn run_due(&self, now: DateTime<Utc>) -> Result<DueReport> {
        let rules = self.rules()?;
        let bound = due_key(now, TicketId(u64::MAX));
        let mut report = DueReport::default();
        let mut after: Option<IndexKey> = None;
        'scan: loop {
            let page = self.store.scan_index(&[prefix::DUE], after.as_ref(), 128)?;
            let Some(last) = page.last().cloned() else { break };
            for key in page {
                if key > bound {
                    break 'scan;
                }
                let Some(id) = key.ticket() else { continue };
                report.due.push(id);
                if let Some(trace) = self.run_due_ticket(&rules, id, now)? {
                    report.changed.push(id);
                    report.traces.push((id, trace));
                }
            }
            after = Some(last);
        }
        Ok(report)
    }

    fn run_due_ticket(&self, rules: &Rules, id: TicketId, now: DateTime<Utc>) -> Result<Option<ChainTrace>> {
        let mut attempt = 0;
        loop {
            let Some(ticket) = self.store.ticket(id)? else { return Ok(None) };
            let dir = StoreDirectory::new(&*self.store);
            let outcome = automation::process_due(rules, &ticket, now, &dir, &self.policy);
            dir.check()?;
            let outcome = outcome?;
            if outcome.events.is_empty() {
                return Ok(None);
            }
            // What time did (escalations, SLA transitions and the triggers
            // they fired) notifies subscribers like any other change.
            let mut effects = outcome.effects;
            effects.extend(helpdesk_core::notify::notifications(
                Some(&ticket),
                &outcome.ticket,
                &outcome.events,
                &Actor::system(),
                &self.notify_agents()?,
            ));
            let commit = Commit::new(Some(&ticket), Some(outcome.ticket.clone()), outcome.events)
                .with_outbox(outbox_items(&outcome.ticket, effects, now))
                .with_durability(self.durability);
            match self.store.commit(&commit) {
                Err(StoreError::Conflict { .. }) if attempt < MAX_RETRIES => attempt += 1,
                Err(e) => return Err(e.into()),
                Ok(()) => return Ok(Some(outcome.trace)),
            }
        }
    }

    /// Every ticket id, from the status indexes (a full pass: for previews
    /// and admin operations only).
    pub(crate) fn all_ticket_ids(&self) -> Result<Vec<TicketId>> {
        let mut ids = Vec::new();
        for status in Status::ALL {
            let mut after = None;
            loop {
                let page = self.store.scan_index(&status_prefix(status), after.as_ref(), 512)?;
                let Some(last) = page.last().cloned() else { break };
                ids.extend(page.iter().filter_map(|k| k.ticket()));
                after = Some(last);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// The tickets to dry-run: the given ones, or every ticket.
    pub(crate) fn dry_run_tickets(&self, tickets: Option<&[TicketId]>) -> Result<Vec<Ticket>> {
        let ids = match tickets {
            Some(ids) => ids.to_vec(),
            None => self.all_ticket_ids()?,
        };
        ids.iter().map(|id| self.ticket(*id)).collect()
    }

    /// Brings every ticket's SLA and escalation state in line with the rules
    /// in force (tickets otherwise pick up added or edited policies the next
    /// time they change or are due). A full pass over the tickets, for
    /// admins after editing rules; returns how many tickets changed.
    pub fn reschedule_all(&self) -> Result<usize> {
        let rules = self.rules()?;
        let now = self.clock.now();
        let mut changed = 0;
        for id in self.all_ticket_ids()? {
            let mut attempt = 0;
            while let Some(ticket) = self.store.ticket(id)? {
                let mut after = ticket.clone();
                let dir = StoreDirectory::new(&*self.store);
                let events = automation::schedule(&rules, &mut after, now, &dir);
                dir.check()?;
                let events = events?;
                if events.is_empty() {
                    break;
                }
                let commit = Commit::new(Some(&ticket), Some(after), events).with_durability(self.durability);
                match self.store.commit(&commit) {
                    Err(StoreError::Conflict { .. }) if attempt < MAX_RETRIES => attempt += 1,
                    Err(e) => return Err(e.into()),
                    Ok(()) => {
                        changed += 1;
                        break;
                    }
                }
            }
        }
        Ok(changed)
    }

    /// What a trigger would do to stored tickets (`None`: all), as if one of
    /// its events happened now with no change: whether it fires, why, and the
    /// changes and effects it would make. Changes nothing.
    pub fn dry_run_trigger(&self, def: &TriggerDef, tickets: Option<&[TicketId]>) -> Result<Vec<DryRun>> {
        let trigger = def.compile()?;
        self.validate(&RuleFile { triggers: vec![def.clone()], ..Default::default() })?;
        let now = self.clock.now();
        let dir = StoreDirectory::new(&*self.store);
        let mut out = Vec::new();
        for t in self.dry_run_tickets(tickets)? {
            out.push(automation::dry_run_trigger(&trigger, &t, now, &dir, &self.policy)?);
        }
        dir.check()?;
        Ok(out)
    }

    /// Whether an escalation applies to stored tickets (`None`: all), when it
    /// would be due and what it would change. Changes nothing.
    pub fn dry_run_escalation(
        &self,
        def: &EscalationDef,
        tickets: Option<&[TicketId]>,
    ) -> Result<Vec<DryRun>> {
        let esc = def.compile()?;
        self.validate(&RuleFile { escalations: vec![def.clone()], ..Default::default() })?;
        let now = self.clock.now();
        let dir = StoreDirectory::new(&*self.store);
        let mut out = Vec::new();
        for t in self.dry_run_tickets(tickets)? {
            out.push(automation::dry_run_escalation(&esc, &t, now, &dir, &self.policy)?);
        }
        dir.check()?;
        Ok(out)
    }

    /// Tickets with an SLA in `state`, by id, after `after` (from the index).
    pub fn tickets_by_sla_state(
        &self,
        state: SlaState,
        after: Option<TicketId>,
        limit: usize,
    ) -> Result<Vec<Ticket>> {
        self.tickets_in_index(sla_state_prefix(state), after, limit)
    }

    /// How many tickets have an SLA in `state` (kept incrementally; O(1)).
    pub fn count_by_sla_state(&self, state: SlaState) -> Result<i64> {
        Ok(self.store.counter(&sla_state_counter(state))?)
    }

    /// The tickets due by `at` and when, earliest first (from the index).
    pub fn due_tickets(&self, at: DateTime<Utc>, limit: usize) -> Result<Vec<(DateTime<Utc>, TicketId)>> {
        let bound = due_key(at, TicketId(u64::MAX));
        let keys = self.store.scan_index(&[prefix::DUE], None, limit)?;
        Ok(keys
            .into_iter()
            .take_while(|k| *k <= bound)
            .filter_map(|k| Some((helpdesk_core::index::due_of(&k)?, k.ticket()?)))
            .collect())
    }
}
