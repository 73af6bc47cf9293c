//! The Admin app's library: [`Helpdesk::admin`] hands an active admin an
//! [`Admin`] handle whose every change is checked (typed errors, nothing
//! changed on a refusal) and written together with its audit entry in one
//! atomic store write ([`Store::admin_commit`]). The first-run setup
//! ([`Helpdesk::setup`]), the helpdesk [`Settings`] and the audit log
//! ([`Helpdesk::audit`]) live here too.
//!
//! ```
//! use helpdesk_store::{Helpdesk, NewAgent};
//! use helpdesk_store::admin::{Setup, Reassign};
//! use helpdesk_core::admin::AuditQuery;
//! use helpdesk_core::*;
//!
//! let hd = Helpdesk::in_memory();
//! assert!(hd.needs_setup().unwrap());
//! let done = hd.setup(Setup {
//!     helpdesk_name: "Acme Support".into(),
//!     public_url: Some("https://help.acme.example".into()),
//!     admin_name: "Alice".into(),
//!     admin_email: "alice@acme.example".into(),
//!     admin_password: "a long secret".into(),
//!     department: "Support".into(),
//! }).unwrap();
//! assert!(!hd.needs_setup().unwrap());
//!
//! let admin = hd.admin(done.admin.id).unwrap();
//! let tier1 = admin.create_team("Tier 1").unwrap();
//! let (sam, _link_token) = admin.invite_agent(NewAgent::new("Sam", "sam@acme.example").teams([tier1.id])).unwrap();
//!
//! // Only admins get the handle.
//! assert!(matches!(hd.admin(sam.id), Err(helpdesk_store::Error::Admin(AdminError::NotAdmin(_)))));
//! // The last admin cannot be deactivated.
//! assert!(matches!(
//!     admin.deactivate_agent(done.admin.id, Reassign::Leave),
//!     Err(helpdesk_store::Error::Admin(AdminError::LastAdmin))
//! ));
//!
//! let log = hd.audit(&AuditQuery::default(), None, 10).unwrap();
//! let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
//! assert_eq!(actions, ["agent.invite", "team.create", "setup.complete"]);
//! ```

mod labels;
mod mail;
mod rules;
mod templates;
mod users;

pub use labels::LabelChanged;
pub use mail::{AccountChange, TestMail};
pub use rules::Imported;
pub use templates::{ResolvedTemplate, StoredTemplate};
pub use users::{Blocked, Merged, UserChange, USER_SCAN_LIMIT};

use crate::{Helpdesk, NewAgent, Result};
use helpdesk_core::admin::{AuditQuery, RuleDef, Settings};
use helpdesk_core::index::{Family, SortKey, Stream};
use helpdesk_core::people::{parse_domain, PortalPermissions};
use helpdesk_core::rule::RuleRef;
use helpdesk_core::*;
use serde::Serialize;
use std::collections::BTreeSet;

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("helpdesk_name", &self.helpdesk_name)
            .field("public_url", &self.public_url)
            .field("admin_name", &self.admin_name)
            .field("admin_email", &self.admin_email)
            .field("department", &self.department)
            .finish_non_exhaustive()
    }
}

/// Days an invitation's set-password link works.
pub const INVITE_DAYS: i64 = 7;

/// What the first-run setup asks for. Its `Debug` hides the password.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Setup {
    /// The helpdesk's name.
    pub helpdesk_name: String,
    /// The URL people reach it at (optional).
    #[serde(default)]
    pub public_url: Option<String>,
    /// The first admin's name.
    pub admin_name: String,
    /// Their login address.
    pub admin_email: String,
    /// Their password.
    pub admin_password: String,
    /// The first department's name.
    pub department: String,
}

/// What the first-run setup made.
#[derive(Debug, Clone, PartialEq)]
pub struct SetupDone {
    /// The first admin.
    pub admin: Agent,
    /// The first department.
    pub department: Department,
    /// The settings.
    pub settings: Settings,
}

/// What happens to the open tickets of an agent who is deactivated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case", tag = "to", content = "agent")]
pub enum Reassign {
    /// They stay assigned to the deactivated agent (shown as such).
    Leave,
    /// They become unassigned.
    Unassign,
    /// They go to another (active) agent.
    Agent(AgentId),
}

/// What deactivating an agent did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deactivated {
    /// The agent, now disabled.
    pub agent: AgentId,
    /// Open tickets reassigned (or unassigned).
    pub tickets_moved: u64,
    /// Login sessions and API keys that stopped working.
    pub api_keys_revoked: u64,
}

/// An agent's editable parts (Admin > Agents > edit).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct AgentChange {
    /// Display name.
    pub name: String,
    /// Login address.
    pub email: String,
    /// Teams.
    #[serde(default)]
    pub teams: BTreeSet<TeamId>,
    /// Permissions.
    pub permissions: Permissions,
    /// The language of their mail (`None`: the helpdesk's).
    #[serde(default)]
    pub language: Option<helpdesk_core::templates::Language>,
}

/// An organisation's editable parts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct OrganisationChange {
    /// Name.
    pub name: String,
    /// Email domains whose users join it.
    #[serde(default)]
    pub email_domains: Vec<String>,
    /// Agent-only notes.
    #[serde(default)]
    pub notes: String,
}

impl Helpdesk {
    /// The helpdesk's settings (the defaults until an admin saved some).
    pub fn settings(&self) -> Result<Settings> {
        match self.store.record(RecordKind::Settings, 1)? {
            Some(Record::Settings(s)) => Ok(s),
            _ => Ok(Settings::default()),
        }
    }

    /// Whether the helpdesk still needs its first-run setup: it has no agent.
    pub fn needs_setup(&self) -> Result<bool> {
        Ok(self.store.records(RecordKind::Agent, 0, 1)?.is_empty())
    }

    /// The first-run setup: the first admin (with their password), the
    /// helpdesk's name and URL, the first department and the default
    /// escalation (urgency rises while a ticket awaits an agent; editable in
    /// Admin > Rules), in one write with its audit entry. Refused once any
    /// agent exists ([`AdminError::AlreadySetUp`]).
    pub fn setup(&self, s: Setup) -> Result<SetupDone> {
        self.setup_from(s, None)
    }

    /// [`setup`](Self::setup), naming the client address it came from in
    /// the audit entry.
    pub fn setup_from(&self, s: Setup, source: Option<String>) -> Result<SetupDone> {
        if !self.needs_setup()? {
            return Err(AdminError::AlreadySetUp.into());
        }
        let settings =
            Settings { name: s.helpdesk_name.clone(), public_url: s.public_url.clone(), ..self.settings()? }
                .validated()?;
        let name = crate::helpdesk::people_name("agent", &s.admin_name)?;
        let email = Email::parse(&s.admin_email)?;
        let mut department =
            Department { id: DepartmentId(0), name: s.department.trim().to_string(), fields: vec![] };
        department.validate()?;
        // The admin is not stored yet: what an attacker knows of them.
        let about = [s.admin_name.as_str(), s.admin_email.as_str(), s.helpdesk_name.as_str()];
        self.check_password_rules(&s.admin_password, &about)?;
        // Taken only once the input is good.
        department.id = DepartmentId(self.next_id(IdKind::Department)?);
        let admin = Agent {
            id: AgentId(self.next_id(IdKind::Agent)?),
            name,
            email,
            teams: BTreeSet::new(),
            permissions: Permissions::admin(),
            disabled: false,
            language: None,
        };
        let entry = AuditEntry::new(
            self.clock.now(),
            AuditActor::Setup,
            "setup.complete",
            "settings",
            format!("Set up {} with admin {} and department {}", settings.name, admin.email, department.name),
        )
        .change(None, Some(&settings))
        .from_source(source);
        // The default escalation, unless the rules have one of its name.
        let mut config = Vec::new();
        let have = self.escalations()?;
        for def in helpdesk_core::automation::default_escalations() {
            if !have.iter().any(|e| e.name == def.name) {
                let name = def.name.trim().to_string();
                let value = crate::automation::named(crate::automation::ESCALATIONS, &name, &def)?;
                config.push((crate::automation::ESCALATIONS.to_string(), name, Some(value)));
            }
        }
        // The admin's password in the same write: never an admin without one.
        let password =
            self.password_credential_about(Principal::Agent(admin.id), &s.admin_password, &about)?;
        let put = vec![
            Record::Settings(settings.clone()),
            Record::Department(department.clone()),
            Record::Agent(admin.clone()),
            Record::Credential(password),
        ];
        let r = self.store.admin_commit(&AdminCommit { put, delete: vec![], config, audit: entry });
        self.forget_rules();
        r?;
        Ok(SetupDone { admin, department, settings })
    }

    /// The admin handle for `agent`: refused ([`AdminError::NotAdmin`])
    /// unless they are an active admin.
    pub fn admin(&self, agent: AgentId) -> Result<Admin<'_>> {
        let a = self.agent(agent).map_err(|_| AdminError::NotAdmin(agent))?;
        if !a.permissions.admin || a.disabled {
            return Err(AdminError::NotAdmin(agent).into());
        }
        Ok(Admin { hd: self, actor: AuditActor::Agent { id: a.id, name: a.name }, source: None })
    }

    /// An admin handle acting as the helpdesk itself (imports at start,
    /// embedders' own setup code): audited as [`AuditActor::System`].
    pub fn admin_as_system(&self) -> Admin<'_> {
        Admin { hd: self, actor: AuditActor::System, source: None }
    }

    /// Up to `limit` audit entries matching `q` with a position below
    /// `before` (all when `None`), newest first. Reads pages of the log until
    /// `limit` matches are found or the log ends.
    pub fn audit(&self, q: &AuditQuery, before: Option<u64>, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut out = Vec::new();
        let mut cursor = before;
        while out.len() < limit {
            let page = self.store.audit_log(cursor, 500)?;
            let Some(last) = page.last() else { break };
            cursor = Some(last.seq);
            out.extend(page.into_iter().filter(|e| q.matches(e)).take(limit - out.len()));
        }
        Ok(out)
    }

    /// Records something that is not a change in the audit log (a login, a
    /// failed login, an API key made): `actor` did `action` to `target`.
    pub fn record_audit(&self, entry: AuditEntry) -> Result<u64> {
        Ok(self.store.admin_commit(&AdminCommit::audit_only(entry))?)
    }

    /// Every usergroup, by id.
    pub fn usergroups(&self) -> Result<Vec<Usergroup>> {
        self.all(RecordKind::Usergroup, |r| match r {
            Record::Usergroup(g) => Some(g),
            _ => None,
        })
    }

    /// Every organisation, by id.
    pub fn organisations(&self) -> Result<Vec<Organisation>> {
        self.all(RecordKind::Organisation, |r| match r {
            Record::Organisation(o) => Some(o),
            _ => None,
        })
    }

    /// How many tickets (of every status) a department holds, from counters.
    pub fn department_ticket_count(&self, department: DepartmentId) -> Result<u64> {
        let mut n = 0i64;
        for status in Status::ALL {
            let s = Stream { family: Family::Status, owner: 0, status, department };
            n += self.store.counter(&s.counter())?;
        }
        Ok(n.max(0) as u64)
    }

    /// Every ticket of one stream family/owner across `departments` and
    /// `statuses`, by id.
    fn stream_tickets(
        &self,
        family: Family,
        owner: u64,
        departments: &[DepartmentId],
        statuses: &[Status],
    ) -> Result<Vec<TicketId>> {
        let mut out = BTreeSet::new();
        for d in departments {
            for s in statuses {
                let prefix = Stream { family, owner, status: *s, department: *d }.prefix(SortKey::Urgency);
                let mut after = None;
                loop {
                    let page = self.store.scan_index(&prefix, after.as_ref(), 512)?;
                    let Some(last) = page.last().cloned() else { break };
                    out.extend(page.iter().filter_map(|k| k.ticket()));
                    after = Some(last);
                }
            }
        }
        Ok(out.into_iter().collect())
    }

    /// The open tickets (awaiting agent or user, pending) of one stream
    /// family/owner (an agent's, a team's) in every department, by id.
    fn open_tickets(&self, family: Family, owner: u64) -> Result<Vec<TicketId>> {
        let departments: Vec<DepartmentId> = self.departments()?.iter().map(|d| d.id).collect();
        let open = [Status::AwaitingAgent, Status::AwaitingUser, Status::Pending];
        self.stream_tickets(family, owner, &departments, &open)
    }

    /// Every rule (trigger, escalation, SLA policy) naming `what`, as
    /// `trigger "Route VIPs"`.
    pub fn rules_using(&self, what: &RuleRef) -> Result<Vec<String>> {
        Ok(RuleDef::all_of(&self.rule_file()?)
            .iter()
            .filter(|r| r.references().contains(what))
            .map(|r| format!("{} {:?}", r.kind().label(), r.name()))
            .collect())
    }
}

/// An admin's handle: every change checked, applied and audited at once.
/// Get one with [`Helpdesk::admin`].
#[derive(Clone)]
pub struct Admin<'a> {
    hd: &'a Helpdesk,
    actor: AuditActor,
    source: Option<String>,
}

impl std::fmt::Debug for Admin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin").field("actor", &self.actor).finish_non_exhaustive()
    }
}

/// `1 ticket`, `2 tickets`.
fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn target<T: std::fmt::Display>(kind: &str, id: T) -> String {
    format!("{kind}:{id}")
}

fn in_use(what: String, users: Vec<String>) -> Result<()> {
    if users.is_empty() {
        Ok(())
    } else {
        Err(AdminError::InUse { what, by: users.join(", ") }.into())
    }
}

impl<'a> Admin<'a> {
    /// The same handle, naming the client address in its audit entries.
    pub fn from_source(mut self, source: Option<String>) -> Admin<'a> {
        self.source = source;
        self
    }

    /// Who acts.
    pub fn actor(&self) -> &AuditActor {
        &self.actor
    }

    fn acting_agent(&self) -> Option<AgentId> {
        match &self.actor {
            AuditActor::Agent { id, .. } => Some(*id),
            _ => None,
        }
    }

    fn entry(&self, action: &str, target: String, summary: String) -> AuditEntry {
        AuditEntry::new(self.hd.clock.now(), self.actor.clone(), action, target, summary)
            .from_source(self.source.clone())
    }

    fn write(&self, put: Vec<Record>, delete: Vec<(RecordKind, u64)>, audit: AuditEntry) -> Result<u64> {
        self.write_with_config(put, delete, vec![], audit)
    }

    /// One audited store write of records and configuration values.
    fn write_with_config(
        &self,
        put: Vec<Record>,
        delete: Vec<(RecordKind, u64)>,
        config: Vec<(String, String, Option<serde_json::Value>)>,
        audit: AuditEntry,
    ) -> Result<u64> {
        match self.hd.store.admin_commit(&AdminCommit { put, delete, config, audit }) {
            Ok(seq) => Ok(seq),
            Err(StoreError::Unique { key, holder }) => {
                Err(crate::helpdesk::unique_error(&key, holder).into())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn changed<T: Serialize>(
        &self,
        action: &str,
        target: String,
        summary: String,
        before: Option<&T>,
        after: Option<&T>,
        put: Vec<Record>,
    ) -> Result<()> {
        let e = self.entry(action, target, summary).change(before, after);
        self.write(put, vec![], e).map(|_| ())
    }

    /// Writes `after` in place of `before` with its audit entry (nothing
    /// when they are the same).
    fn update<T: Serialize + PartialEq + Clone>(
        &self,
        action: &str,
        target: String,
        summary: String,
        before: &T,
        after: T,
        record: fn(T) -> Record,
    ) -> Result<T> {
        if *before == after {
            return Ok(after);
        }
        self.changed(action, target, summary, Some(before), Some(&after), vec![record(after.clone())])?;
        Ok(after)
    }

    /// Writes a new thing with its audit entry.
    fn created<T: Serialize + Clone>(
        &self,
        action: &str,
        target: String,
        summary: String,
        new: T,
        record: fn(T) -> Record,
    ) -> Result<T> {
        self.changed(action, target, summary, None, Some(&new), vec![record(new.clone())])?;
        Ok(new)
    }

    // ----- settings --------------------------------------------------------

    /// Replaces the settings (validated and normalised first).
    pub fn set_settings(&self, s: Settings) -> Result<Settings> {
        let s = s.validated()?;
        let before = self.hd.settings()?;
        let summary = format!("Changed settings: {}", settings_diff(&before, &s).join(", "));
        self.update("settings.update", "settings".into(), summary, &before, s, Record::Settings)
    }

    // ----- departments -----------------------------------------------------

    /// Creates a department.
    pub fn create_department(&self, name: &str) -> Result<Department> {
        let mut d = Department { id: DepartmentId(0), name: name.trim().to_string(), fields: vec![] };
        d.validate()?;
        self.hd.ensure_free(&UniqueKey::name(RecordKind::Department, &d.name))?;
        d.id = DepartmentId(self.hd.next_id(IdKind::Department)?);
        let summary = format!("Created department {}", d.name);
        self.created("department.create", target("department", d.id.0), summary, d, Record::Department)
    }

    fn department_change(
        &self,
        before: &Department,
        after: Department,
        summary: String,
    ) -> Result<Department> {
        after.validate()?;
        let target = target("department", after.id.0);
        self.update("department.update", target, summary, before, after, Record::Department)
    }

    /// Renames a department.
    pub fn rename_department(&self, id: DepartmentId, name: &str) -> Result<Department> {
        let before = self.hd.department(id)?;
        let after = Department { name: name.trim().to_string(), ..before.clone() };
        let summary = format!("Renamed department {} to {}", before.name, after.name);
        self.department_change(&before, after, summary)
    }

    /// Adds a custom ticket field at the end of a department's fields.
    pub fn add_field(&self, department: DepartmentId, field: FieldDef) -> Result<Department> {
        let before = self.hd.department(department)?;
        let mut after = before.clone();
        let summary = format!("Added field {:?} ({}) to {}", field.label, field.key, before.name);
        after.fields.push(FieldDef { label: field.label.trim().to_string(), ..field });
        check_label(after.fields.last().expect("pushed"))?;
        self.department_change(&before, after, summary)
    }

    /// Changes a field's label, options, required and agent-only flags. Its
    /// key and type cannot change (stored values would be misread); a choice
    /// keeps every option stored values use... unless no ticket has it, which
    /// the library cannot know cheaply, so removing options is refused:
    /// retire the field and add a new one instead.
    pub fn update_field(&self, department: DepartmentId, field: FieldDef) -> Result<Department> {
        let before = self.hd.department(department)?;
        let old = before
            .field(&field.key)
            .ok_or_else(|| AdminError::NoSuchField { department, key: field.key.clone() })?
            .clone();
        let refuse = |reason: &str| {
            Err(AdminError::FieldChange { key: field.key.clone(), reason: reason.into() }.into())
        };
        match (&old.kind, &field.kind) {
            (FieldKind::Choice { options: a }, FieldKind::Choice { options: b }) => {
                if let Some(gone) = a.iter().find(|o| !b.contains(o)) {
                    return refuse(&format!(
                        "option {gone:?} cannot be removed (tickets may have it); retire the field and add a new one"
                    ));
                }
            }
            (a, b) if std::mem::discriminant(a) != std::mem::discriminant(b) => {
                return refuse(
                    "the type of a field cannot change (stored values would be misread); add a new field",
                );
            }
            _ => {}
        }
        let new = FieldDef { label: field.label.trim().to_string(), retired: old.retired, ..field };
        check_label(&new)?;
        let mut after = before.clone();
        for f in after.fields.iter_mut() {
            if f.key == new.key {
                *f = new.clone();
            }
        }
        let summary = format!("Changed field {:?} of {}", new.key, before.name);
        self.department_change(&before, after, summary)
    }

    /// Puts a department's fields in the order of `keys` (every key once).
    pub fn reorder_fields(&self, department: DepartmentId, keys: &[String]) -> Result<Department> {
        let before = self.hd.department(department)?;
        let mut given: Vec<&String> = keys.iter().collect();
        given.sort();
        let mut have: Vec<&String> = before.fields.iter().map(|f| &f.key).collect();
        have.sort();
        if given != have {
            return Err(AdminError::Refused(format!(
                "the new order must list every field of {} once: {}",
                before.name,
                have.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            ))
            .into());
        }
        let mut after = before.clone();
        after.fields = keys.iter().filter_map(|k| before.field(k).cloned()).collect();
        let summary = format!("Reordered the fields of {}", before.name);
        self.department_change(&before, after, summary)
    }

    /// Retires a field (kept with its values, no longer asked for or set) or
    /// brings it back.
    pub fn retire_field(&self, department: DepartmentId, key: &str, retired: bool) -> Result<Department> {
        let before = self.hd.department(department)?;
        if before.field(key).is_none() {
            return Err(AdminError::NoSuchField { department, key: key.to_string() }.into());
        }
        if retired {
            let users = self.hd.rules_using(&RuleRef::TicketField(key.to_string()))?;
            in_use(format!("field {key:?}"), users)?;
        }
        let mut after = before.clone();
        for f in after.fields.iter_mut().filter(|f| f.key == key) {
            f.retired = retired;
        }
        let verb = if retired { "Retired" } else { "Restored" };
        let summary = format!("{verb} field {key:?} of {}", before.name);
        self.department_change(&before, after, summary)
    }

    /// Removes a department. One that holds tickets needs `move_to`, where
    /// they go (each moved by a command, in its log, as this admin); one a
    /// rule or an email account uses is refused, naming them.
    pub fn remove_department(&self, id: DepartmentId, move_to: Option<DepartmentId>) -> Result<u64> {
        let d = self.hd.department(id)?;
        let all = self.hd.departments()?;
        if all.len() == 1 {
            return Err(AdminError::Refused("the helpdesk needs at least one department".into()).into());
        }
        let mut users = self.hd.rules_using(&RuleRef::Department(id))?;
        users.extend(
            self.hd
                .email_accounts()?
                .iter()
                .filter(|a| a.department == id)
                .map(|a| format!("email account {}", a.address)),
        );
        users.extend(
            self.hd
                .agents()?
                .iter()
                .filter(|a| {
                    a.permissions.departments.as_ref().is_some_and(|ds| ds.contains(&id) && ds.len() == 1)
                })
                .map(|a| format!("agent {} (their only department)", a.email)),
        );
        in_use(format!("department {}", d.name), users)?;
        let tickets = self.hd.department_ticket_count(id)?;
        let mut moved = 0;
        if tickets > 0 {
            let Some(to) = move_to else {
                return Err(AdminError::HasTickets { department: d.name, tickets }.into());
            };
            if to == id {
                return Err(AdminError::MoveToSelf.into());
            }
            self.hd.department(to)?;
            let actor = self.command_actor()?;
            for t in self.hd.stream_tickets(Family::Status, 0, &[id], &Status::ALL)? {
                self.hd.execute(t, &actor, Command::SetDepartment { department: to })?;
                moved += 1;
            }
            // A ticket created meanwhile keeps the department: check again.
            let left = self.hd.department_ticket_count(id)?;
            if left > 0 {
                return Err(AdminError::HasTickets { department: d.name, tickets: left }.into());
            }
        }
        let mut e = self.entry(
            "department.remove",
            target("department", id.0),
            format!("Removed department {}", d.name),
        );
        e = e.change(Some(&d), None);
        if moved > 0 {
            let to = self.hd.department(move_to.expect("tickets were moved"))?.name;
            e.summary.push_str(&format!(" ({} moved to {to})", count(moved, "ticket", "tickets")));
        }
        // Agents limited to departments lose this one.
        let put =
            self.agents_changed(|a| a.permissions.departments.as_mut().is_some_and(|ds| ds.remove(&id)))?;
        self.write(put, vec![(RecordKind::Department, id.0)], e)?;
        Ok(moved)
    }

    /// Every agent `change` changed (it says whether it did), as records to write.
    fn agents_changed(&self, mut change: impl FnMut(&mut Agent) -> bool) -> Result<Vec<Record>> {
        Ok(self
            .hd
            .agents()?
            .into_iter()
            .filter_map(|mut a| change(&mut a).then_some(Record::Agent(a)))
            .collect())
    }

    /// Every user `change` changed (it says whether it did), as records to write.
    fn users_changed(&self, mut change: impl FnMut(&mut User) -> bool) -> Result<Vec<Record>> {
        let mut put = Vec::new();
        let mut after = 0;
        loop {
            let page = self.hd.store.records(RecordKind::User, after, 512)?;
            let Some(last) = page.last() else { break };
            after = last.key().1;
            for r in page {
                if let Record::User(mut u) = r {
                    if change(&mut u) {
                        put.push(Record::User(u));
                    }
                }
            }
        }
        Ok(put)
    }

    /// The actor ticket commands run as: the admin (the system when acting as it).
    fn command_actor(&self) -> Result<Actor> {
        Ok(match self.acting_agent() {
            Some(a) => Actor::Agent(a),
            None => Actor::System(SystemActor::Helpdesk),
        })
    }

    // ----- teams -----------------------------------------------------------

    /// Creates a team.
    pub fn create_team(&self, name: &str) -> Result<Team> {
        let name = crate::helpdesk::people_name("team", name)?;
        self.hd.ensure_free(&UniqueKey::name(RecordKind::Team, &name))?;
        let t = Team { id: TeamId(self.hd.next_id(IdKind::Team)?), name };
        self.created(
            "team.create",
            target("team", t.id.0),
            format!("Created team {}", t.name),
            t,
            Record::Team,
        )
    }

    /// Renames a team.
    pub fn rename_team(&self, id: TeamId, name: &str) -> Result<Team> {
        let before = self.hd.team(id)?;
        let after = Team { name: crate::helpdesk::people_name("team", name)?, ..before.clone() };
        let summary = format!("Renamed team {} to {}", before.name, after.name);
        self.update("team.update", target("team", id.0), summary, &before, after, Record::Team)
    }

    /// Makes `members` the team's agents (adding and removing memberships).
    pub fn set_team_members(&self, id: TeamId, members: &BTreeSet<AgentId>) -> Result<Team> {
        let team = self.hd.team(id)?;
        let agents = self.hd.agents()?;
        for m in members {
            if !agents.iter().any(|a| a.id == *m) {
                return Err(TicketError::UnknownAgent(*m).into());
            }
        }
        let before: BTreeSet<AgentId> =
            agents.iter().filter(|a| a.teams.contains(&id)).map(|a| a.id).collect();
        if before == *members {
            return Ok(team);
        }
        // The agents already read: only those whose membership changes.
        let put: Vec<Record> = agents
            .into_iter()
            .filter(|a| members.contains(&a.id) != a.teams.contains(&id))
            .map(|mut a| {
                if !a.teams.remove(&id) {
                    a.teams.insert(id);
                }
                Record::Agent(a)
            })
            .collect();
        let summary = format!("Changed the members of team {} ({} now)", team.name, members.len());
        let e =
            self.entry("team.members", target("team", id.0), summary).change(Some(&before), Some(members));
        self.write(put, vec![], e)?;
        Ok(team)
    }

    /// Removes a team: refused while a rule names it or tickets are
    /// assigned to it (reassign them first); members leave it.
    pub fn remove_team(&self, id: TeamId) -> Result<()> {
        let team = self.hd.team(id)?;
        in_use(format!("team {}", team.name), self.hd.rules_using(&RuleRef::Team(id))?)?;
        let tickets = self.hd.open_tickets(Family::Team, id.0)?;
        if !tickets.is_empty() {
            return Err(AdminError::InUse {
                what: format!("team {}", team.name),
                by: format!("{} open ticket(s) assigned to it", tickets.len()),
            }
            .into());
        }
        let put = self.agents_changed(|a| a.teams.remove(&id))?;
        let e = self
            .entry("team.remove", target("team", id.0), format!("Removed team {}", team.name))
            .change(Some(&team), None);
        self.write(put, vec![(RecordKind::Team, id.0)], e)?;
        Ok(())
    }

    // ----- agents ----------------------------------------------------------

    /// Adds an agent and makes a one-time set-password token for their
    /// invitation link (valid [`INVITE_DAYS`] days; only its hash is kept).
    pub fn invite_agent(&self, new: NewAgent) -> Result<(Agent, String)> {
        let name = crate::helpdesk::people_name("agent", &new.name)?;
        let email = Email::parse(&new.email)?;
        self.check_agent_refs(&new.teams, &new.permissions)?;
        self.hd.ensure_free(&UniqueKey::agent_email(&email))?;
        let agent = Agent {
            id: AgentId(self.hd.next_id(IdKind::Agent)?),
            name,
            email,
            teams: new.teams,
            permissions: new.permissions,
            disabled: false,
            language: None,
        };
        let (credential, token) = self.hd.password_set_token(agent.id)?;
        let e = self
            .entry(
                "agent.invite",
                target("agent", agent.id.0),
                format!("Invited agent {} <{}>", agent.name, agent.email),
            )
            .change(None, Some(&agent));
        self.write(vec![Record::Agent(agent.clone()), Record::Credential(credential)], vec![], e)?;
        Ok((agent, token))
    }

    fn check_agent_refs(&self, teams: &BTreeSet<TeamId>, p: &Permissions) -> Result<()> {
        for t in teams {
            self.hd.team(*t)?;
        }
        if let Some(ds) = &p.departments {
            if ds.is_empty() && !p.admin {
                return Err(AdminError::Refused(
                    "an agent needs at least one department (or all of them)".into(),
                )
                .into());
            }
            for d in ds {
                self.hd.department(*d)?;
            }
        }
        Ok(())
    }

    /// Whether another active admin than `agent` exists.
    fn other_admin(&self, agent: AgentId) -> Result<bool> {
        Ok(self.hd.agents()?.iter().any(|a| a.id != agent && a.permissions.admin && !a.disabled))
    }

    /// Changes an agent's name, address, teams and permissions. Taking the
    /// last active admin's admin permission away is refused.
    pub fn update_agent(&self, id: AgentId, change: AgentChange) -> Result<Agent> {
        let before = self.hd.agent(id)?;
        let name = crate::helpdesk::people_name("agent", &change.name)?;
        let email = Email::parse(&change.email)?;
        self.check_agent_refs(&change.teams, &change.permissions)?;
        if before.permissions.admin
            && !change.permissions.admin
            && !before.disabled
            && !self.other_admin(id)?
        {
            return Err(AdminError::LastAdmin.into());
        }
        let after = Agent {
            name,
            email,
            teams: change.teams,
            permissions: change.permissions,
            language: change.language,
            ..before.clone()
        };
        let summary = format!("Changed agent {} <{}>", after.name, after.email);
        self.update("agent.update", target("agent", id.0), summary, &before, after, Record::Agent)
    }

    /// Deactivates an agent: they can no longer log in or be assigned, their
    /// API keys stop working, and their open tickets are handled as `reassign`
    /// says (each change a command in the ticket's log). The last active
    /// admin cannot be deactivated.
    pub fn deactivate_agent(&self, id: AgentId, reassign: Reassign) -> Result<Deactivated> {
        let before = self.hd.agent(id)?;
        if before.disabled {
            return Ok(Deactivated { agent: id, tickets_moved: 0, api_keys_revoked: 0 });
        }
        if before.permissions.admin && !self.other_admin(id)? {
            return Err(AdminError::LastAdmin.into());
        }
        if let Reassign::Agent(to) = reassign {
            if to == id {
                return Err(AdminError::Refused(
                    "the tickets cannot go to the agent being deactivated".into(),
                )
                .into());
            }
            let target_agent = self.hd.agent(to)?;
            if target_agent.disabled {
                return Err(TicketError::AgentDisabled(to).into());
            }
        }
        let mut moved = 0;
        if reassign != Reassign::Leave {
            let actor = self.command_actor()?;
            let to = match reassign {
                Reassign::Agent(a) => Some(a),
                _ => None,
            };
            for t in self.hd.open_tickets(Family::Agent, id.0)? {
                self.hd.execute(t, &actor, Command::AssignAgent { agent: to })?;
                moved += 1;
            }
        }
        let after = Agent { disabled: true, ..before.clone() };
        let keys = self.revoked(id, CredentialKind::ApiKey)?;
        let revoked = keys.len() as u64;
        let mut put = vec![Record::Agent(after.clone())];
        put.extend(keys);
        let how = match reassign {
            Reassign::Leave => "open tickets left assigned".to_string(),
            Reassign::Unassign => format!("{} unassigned", count(moved, "open ticket", "open tickets")),
            Reassign::Agent(a) => {
                format!(
                    "{} reassigned to {}",
                    count(moved, "open ticket", "open tickets"),
                    self.hd.agent(a)?.name
                )
            }
        };
        let summary = format!("Deactivated agent {} <{}> ({how})", before.name, before.email);
        let e = self
            .entry("agent.deactivate", target("agent", id.0), summary)
            .change(Some(&before), Some(&after));
        self.write(put, vec![], e)?;
        Ok(Deactivated { agent: id, tickets_moved: moved, api_keys_revoked: revoked })
    }

    /// Makes a deactivated agent active again.
    pub fn reactivate_agent(&self, id: AgentId) -> Result<Agent> {
        let before = self.hd.agent(id)?;
        if !before.disabled {
            return Ok(before);
        }
        let after = Agent { disabled: false, ..before.clone() };
        let summary = format!("Reactivated agent {} <{}>", after.name, after.email);
        self.update("agent.reactivate", target("agent", id.0), summary, &before, after, Record::Agent)
    }

    /// A new set-password link for an agent (the old ones stop working).
    pub fn reinvite_agent(&self, id: AgentId) -> Result<String> {
        let agent = self.hd.agent(id)?;
        let mut put = self.revoked(id, CredentialKind::PasswordSet)?;
        let (link, token) = self.hd.password_set_token(id)?;
        put.push(Record::Credential(link));
        let e = self.entry(
            "agent.reinvite",
            target("agent", id.0),
            format!("Sent a new set-password link to {}", agent.email),
        );
        self.write(put, vec![], e)?;
        Ok(token)
    }

    /// Turns off an agent's two-factor login (a lost phone and lost recovery
    /// codes): their app's secret and recovery codes are removed; where the
    /// helpdesk requires it they set it up again at their next login.
    /// `false` when it was off.
    pub fn reset_two_factor(&self, id: AgentId) -> Result<bool> {
        self.hd.agent(id)?;
        Ok(self.hd.disable_two_factor(id, self.actor.clone(), self.source.clone())?)
    }

    /// `agent`'s credentials of `kind` that still work, revoked (to write).
    fn revoked(&self, agent: AgentId, kind: CredentialKind) -> Result<Vec<Record>> {
        Ok(self
            .hd
            .credentials_of(Principal::Agent(agent), kind)?
            .into_iter()
            .filter(|c| !c.revoked)
            .map(|c| Record::Credential(Credential { revoked: true, ..c }))
            .collect())
    }

    // ----- usergroups ------------------------------------------------------

    /// Creates a usergroup with portal permissions.
    pub fn create_usergroup(&self, name: &str, portal: PortalPermissions) -> Result<Usergroup> {
        let name = crate::helpdesk::people_name("usergroup", name)?;
        self.check_portal(&portal)?;
        self.hd.ensure_free(&UniqueKey::name(RecordKind::Usergroup, &name))?;
        let g = Usergroup { id: UsergroupId(self.hd.next_id(IdKind::Usergroup)?), name, portal };
        self.created(
            "usergroup.create",
            target("usergroup", g.id.0),
            format!("Created usergroup {}", g.name),
            g,
            Record::Usergroup,
        )
    }

    fn check_portal(&self, p: &PortalPermissions) -> Result<()> {
        if let Some(ds) = &p.submit_departments {
            for d in ds {
                self.hd.department(*d)?;
            }
        }
        Ok(())
    }

    /// Changes a usergroup's name and portal permissions.
    pub fn update_usergroup(
        &self,
        id: UsergroupId,
        name: &str,
        portal: PortalPermissions,
    ) -> Result<Usergroup> {
        let before = self.hd.usergroup(id)?;
        self.check_portal(&portal)?;
        let after = Usergroup { id, name: crate::helpdesk::people_name("usergroup", name)?, portal };
        let summary = format!("Changed usergroup {}", after.name);
        self.update("usergroup.update", target("usergroup", id.0), summary, &before, after, Record::Usergroup)
    }

    /// Removes a usergroup: refused while a rule names it; its members leave it.
    pub fn remove_usergroup(&self, id: UsergroupId) -> Result<u64> {
        let g = self.hd.usergroup(id)?;
        in_use(format!("usergroup {}", g.name), self.hd.rules_using(&RuleRef::Usergroup(id))?)?;
        let put = self.users_changed(|u| u.usergroups.remove(&id))?;
        let members = put.len() as u64;
        let summary =
            format!("Removed usergroup {} ({} left it)", g.name, count(members, "member", "members"));
        let e = self.entry("usergroup.remove", target("usergroup", id.0), summary).change(Some(&g), None);
        self.write(put, vec![(RecordKind::Usergroup, id.0)], e)?;
        Ok(members)
    }

    // ----- organisations ---------------------------------------------------

    /// Creates an organisation.
    pub fn create_organisation(&self, change: OrganisationChange) -> Result<Organisation> {
        let (name, domains) = self.organisation_parts(&change)?;
        self.hd.ensure_free(&UniqueKey::name(RecordKind::Organisation, &name))?;
        let o = Organisation {
            id: OrganisationId(self.hd.next_id(IdKind::Organisation)?),
            name,
            email_domains: domains,
            notes: change.notes.trim().to_string(),
            phones: Vec::new(),
            fields: Default::default(),
        };
        self.created(
            "organisation.create",
            target("organisation", o.id.0),
            format!("Created organisation {}", o.name),
            o,
            Record::Organisation,
        )
    }

    fn organisation_parts(&self, c: &OrganisationChange) -> Result<(String, BTreeSet<String>)> {
        let name = crate::helpdesk::people_name("organisation", &c.name)?;
        let domains = c
            .email_domains
            .iter()
            .filter(|d| !d.trim().is_empty())
            .map(|d| parse_domain(d))
            .collect::<std::result::Result<BTreeSet<_>, _>>()?;
        Ok((name, domains))
    }

    /// Changes an organisation's name, email domains and notes.
    pub fn update_organisation(
        &self,
        id: OrganisationId,
        change: OrganisationChange,
    ) -> Result<Organisation> {
        let before = self.hd.organisation(id)?;
        let (name, domains) = self.organisation_parts(&change)?;
        let after = Organisation {
            name,
            email_domains: domains,
            notes: change.notes.trim().to_string(),
            ..before.clone()
        };
        let summary = format!("Changed organisation {}", after.name);
        self.update(
            "organisation.update",
            target("organisation", id.0),
            summary,
            &before,
            after,
            Record::Organisation,
        )
    }

    /// Removes an organisation: refused while a rule names it; its users
    /// stay, without an organisation.
    pub fn remove_organisation(&self, id: OrganisationId) -> Result<u64> {
        let o = self.hd.organisation(id)?;
        in_use(format!("organisation {}", o.name), self.hd.rules_using(&RuleRef::Organisation(id))?)?;
        let put = self.users_changed(|u| u.organisation.take_if(|o| *o == id).is_some())?;
        let members = put.len() as u64;
        let summary =
            format!("Removed organisation {} ({} left it)", o.name, count(members, "user", "users"));
        let e =
            self.entry("organisation.remove", target("organisation", id.0), summary).change(Some(&o), None);
        self.write(put, vec![(RecordKind::Organisation, id.0)], e)?;
        Ok(members)
    }
}

fn check_label(f: &FieldDef) -> Result<()> {
    if f.label.is_empty() {
        return Err(
            AdminError::FieldChange { key: f.key.clone(), reason: "a field needs a label".into() }.into()
        );
    }
    if f.label.chars().count() > 100 {
        return Err(AdminError::FieldChange {
            key: f.key.clone(),
            reason: "a label has at most 100 characters".into(),
        }
        .into());
    }
    Ok(())
}

/// The names of the settings that differ.
fn settings_diff(a: &Settings, b: &Settings) -> Vec<&'static str> {
    [
        ("name", a.name != b.name),
        ("public URL", a.public_url != b.public_url),
        ("portal", a.portal_enabled != b.portal_enabled),
        ("registration", a.registration != b.registration),
        ("embed origins", a.embed_origins != b.embed_origins),
        ("session lifetime", a.session_idle_minutes != b.session_idle_minutes),
        ("password length", a.password_min_length != b.password_min_length),
        ("password strength", a.password_min_strength != b.password_min_strength),
        ("two-factor login for agents", a.agents_two_factor != b.agents_two_factor),
        ("language of mail", a.language != b.language),
        ("largest file", a.attachment_max_file_mb != b.attachment_max_file_mb),
        ("largest files per message", a.attachment_max_message_mb != b.attachment_max_message_mb),
    ]
    .into_iter()
    .filter_map(|(what, differs)| differs.then_some(what))
    .collect()
}
