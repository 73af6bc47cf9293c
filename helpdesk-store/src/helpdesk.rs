//! [`Helpdesk`]: the entry point embedders use.

use crate::kv::KvEngine;
use crate::{KvStore, MemEngine, SledEngine, SledOptions};
use helpdesk_core::index::{participant_prefix, status_counter};
use helpdesk_core::mail::{blob_id, AutoResponseLog, MailFingerprint, SeenMail};
use helpdesk_core::notify;
use helpdesk_core::people::parse_domain;
use helpdesk_core::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use thiserror::Error;

/// Anything a [`Helpdesk`] call can fail with. Every error leaves the store unchanged.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// A ticket command was refused.
    #[error(transparent)]
    Ticket(#[from] TicketError),
    /// A directory change was refused.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// Storage failed (including a version conflict).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A rule definition (trigger, escalation, SLA policy) was refused.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// Rule definitions were refused: every problem, each naming its rule.
    #[error("{} bad rule definitions: {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Rules(Vec<RuleError>),
    /// A filter request was refused (bad cursor, page size).
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// An admin change was refused (not an admin, in use, the last admin).
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// A mail template was refused (syntax, an unknown placeholder, a
    /// language tag), or there is no such template.
    #[error(transparent)]
    Template(#[from] helpdesk_core::templates::TemplateError),
    /// A password or token was refused (in an admin change or the setup).
    #[error(transparent)]
    Auth(Box<crate::auth::AuthError>),
    /// A saved custom filter was refused (name, sharing, unknown reference,
    /// not the owner).
    #[error(transparent)]
    SavedFilter(helpdesk_core::filters::saved::SavedFilterError),
    /// A snippet was refused (name, text, an unknown placeholder, sharing,
    /// not the maker), or there is no such snippet for the agent.
    #[error(transparent)]
    Snippet(#[from] helpdesk_core::snippets::SnippetError),
    /// A macro was refused (name, an action, sharing, not the maker), there
    /// is no such macro for the agent, or one of its actions was refused on
    /// the ticket it was applied to.
    #[error(transparent)]
    Macro(#[from] helpdesk_core::macros::MacroError),
    /// An action at the version its actor saw conflicts with changes others
    /// made since ([`Helpdesk::execute_at`], [`Helpdesk::execute_seen`]):
    /// the versions and every conflicting change (who, what, before -> after).
    /// Nothing was changed.
    #[error(transparent)]
    Conflict(Box<Conflict>),
    /// A version the ticket never had was given as the one seen: a bad
    /// request, not a conflict. Nothing was changed.
    #[error("ticket {ticket} is at version {current}; version {given} was never seen")]
    VersionAhead {
        /// The ticket.
        ticket: TicketId,
        /// The version given as seen.
        given: u64,
        /// The ticket's current version.
        current: u64,
    },
}

impl From<Conflict> for Error {
    fn from(c: Conflict) -> Self {
        Error::Conflict(Box::new(c))
    }
}

/// What [`Helpdesk::execute_seen`] did: the ticket after the command, and
/// the messages and notes others added since the version the actor saw,
/// oldest first (for "2 new messages since you opened this ticket"; a user
/// is never shown notes). `missed` lists what came before the command went
/// in, so the actor's own post comes after all of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    /// The ticket as the command left it.
    pub ticket: Ticket,
    /// Messages and notes by others after the version seen.
    pub missed: Vec<MissedPost>,
}

/// Result of [`Helpdesk`] calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How many times [`Helpdesk::execute`] re-decides a command after losing a
/// race with another writer before giving up with the conflict. Generous:
/// every conflict means another writer made progress, and with a handful of
/// writers hammering one ticket 16 attempts were lost now and then (a caller
/// of `execute` cannot do anything better with a conflict than retry).
const MAX_RETRIES: usize = 256;

/// Waits a little before retrying after a lost race: a yield at first, then a
/// random sleep of up to 50 µs << attempt (at most 1.6 ms), so that writers
/// that collided do not collide again in lockstep.
fn backoff(attempt: usize) {
    use std::hash::{BuildHasher, Hasher};
    if attempt < 4 {
        std::thread::yield_now();
        return;
    }
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let cap_us = 50u64 << attempt.min(5);
    std::thread::sleep(std::time::Duration::from_micros(random % cap_us));
}

/// A helpdesk: the domain rules over a store, a clock and an id source.
/// Cheap to clone (shared handles); `Send + Sync`.
///
/// ```
/// use helpdesk_store::{Helpdesk, NewAgent};
/// use helpdesk_core::*;
///
/// let hd = Helpdesk::in_memory();
/// let support = hd.create_department("Support", vec![]).unwrap();
/// let alice = hd.create_agent(NewAgent::new("Alice", "alice@example.com").admin()).unwrap();
/// let ann = hd.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap();
///
/// let t = hd.create_ticket(
///     &Actor::User(ann.id),
///     NewTicket::new("Printer on fire", "Help!", support.id, ann.id, Channel::Portal),
/// ).unwrap();
/// let t = hd.agent_reply(t.id, alice.id, "Water, then.", None).unwrap();
/// assert_eq!(t.status, Status::AwaitingUser);
/// assert_eq!(hd.log(t.id).unwrap().len(), 4); // created, message, message, status
/// ```
#[derive(Clone)]
pub struct Helpdesk {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    ids: Option<Arc<dyn IdSource>>,
    pub(crate) policy: Policy,
    pub(crate) durability: Durability,
    /// Embedders' own triggers (from the builder), run with the stored ones.
    pub(crate) code_triggers: Vec<Arc<dyn Trigger>>,
    /// The compiled rules, loaded on first use and dropped when they change.
    /// The compiled rules with the store's configuration epoch they were
    /// read at.
    #[allow(clippy::type_complexity)]
    pub(crate) rules: Arc<std::sync::RwLock<Option<(Option<u64>, Arc<Rules>)>>>,
    /// The agents to notify with their subscriptions, and the store's
    /// directory epoch they were read at (every command needs them).
    notify: NotifyCache,
    /// When each agent's view of each person was last logged
    /// (`people_access`).
    pub(crate) people_views: crate::people_access::ViewLog,
}

type NotifyCache = Arc<std::sync::Mutex<Option<(u64, Arc<Vec<notify::NotifyAgent>>)>>>;

impl std::fmt::Debug for Helpdesk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Helpdesk").field("policy", &self.policy).finish_non_exhaustive()
    }
}

/// Builder for a [`Helpdesk`].
#[derive(Default)]
pub struct HelpdeskBuilder {
    clock: Option<Arc<dyn Clock>>,
    ids: Option<Arc<dyn IdSource>>,
    policy: Policy,
    sled: SledOptions,
    durability: Durability,
    triggers: Vec<Arc<dyn Trigger>>,
}

impl HelpdeskBuilder {
    /// Use this clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Use this id source (default: the store's durable counters).
    pub fn ids(mut self, ids: Arc<dyn IdSource>) -> Self {
        self.ids = Some(ids);
        self
    }

    /// Use this policy.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// sled settings (cache size, background flush).
    pub fn sled_options(mut self, opts: SledOptions) -> Self {
        self.sled = opts;
        self
    }

    /// When ticket commits are acknowledged (default: durable).
    pub fn durability(mut self, d: Durability) -> Self {
        self.durability = d;
        self
    }

    /// Also run this trigger (an embedder's own Rust code), ordered with the
    /// stored ones by [`Trigger::order`], then name.
    pub fn trigger(mut self, trigger: Arc<dyn Trigger>) -> Self {
        self.triggers.push(trigger);
        self
    }

    /// A helpdesk over any store.
    pub fn store(self, store: Arc<dyn Store>) -> Helpdesk {
        Helpdesk {
            store,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            ids: self.ids,
            policy: self.policy,
            durability: self.durability,
            code_triggers: self.triggers,
            rules: Default::default(),
            notify: Default::default(),
            people_views: Default::default(),
        }
    }

    /// A helpdesk in memory.
    pub fn in_memory(self) -> Helpdesk {
        self.store(Arc::new(KvStore::new(MemEngine::default())))
    }

    /// A helpdesk on the sled database at `path` (created if missing).
    pub fn open(self, path: impl AsRef<Path>) -> Result<Helpdesk> {
        let engine = SledEngine::open(path, &self.sled)?;
        Ok(self.store(Arc::new(KvStore::new(engine))))
    }

    /// A helpdesk on the PostgreSQL database at `url` (see
    /// [`PgStore::open`](crate::pg::PgStore::open): the schema is migrated,
    /// a newer one refused).
    pub fn postgres(self, url: &str) -> Result<Helpdesk> {
        let store = crate::pg::PgStore::open(url).map_err(StoreError::from)?;
        Ok(self.store(Arc::new(store)))
    }
}

/// A new agent.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAgent {
    /// Name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Teams.
    pub teams: BTreeSet<TeamId>,
    /// Permissions.
    pub permissions: Permissions,
}

impl NewAgent {
    /// An agent with default permissions (every department, may reassign, may not delete).
    pub fn new(name: impl Into<String>, email: impl Into<String>) -> Self {
        NewAgent {
            name: name.into(),
            email: email.into(),
            teams: BTreeSet::new(),
            permissions: Permissions::default(),
        }
    }

    /// With every permission.
    pub fn admin(mut self) -> Self {
        self.permissions = Permissions::admin();
        self
    }

    /// In these teams.
    pub fn teams(mut self, teams: impl IntoIterator<Item = TeamId>) -> Self {
        self.teams = teams.into_iter().collect();
        self
    }

    /// With these permissions.
    pub fn permissions(mut self, p: Permissions) -> Self {
        self.permissions = p;
        self
    }
}

impl Helpdesk {
    /// A builder.
    pub fn builder() -> HelpdeskBuilder {
        HelpdeskBuilder::default()
    }

    /// An in-memory helpdesk with the system clock.
    pub fn in_memory() -> Helpdesk {
        Self::builder().in_memory()
    }

    /// A helpdesk on the sled database at `path`, with default settings.
    pub fn open(path: impl AsRef<Path>) -> Result<Helpdesk> {
        Self::builder().open(path)
    }

    /// A helpdesk on the PostgreSQL database at `url`, with default
    /// settings: several processes may share it (see [`crate::pg`]).
    ///
    /// ```no_run
    /// use helpdesk_store::Helpdesk;
    /// let hd = Helpdesk::connect("postgres://helpdesk:secret@db.internal/helpdesk?sslmode=require")?;
    /// let support = hd.create_department("Support", vec![])?;
    /// # Ok::<(), helpdesk_store::Error>(())
    /// ```
    pub fn connect(url: &str) -> Result<Helpdesk> {
        Self::builder().postgres(url)
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Makes every acknowledged write durable.
    pub fn flush(&self) -> Result<()> {
        Ok(self.store.flush()?)
    }

    pub(crate) fn next_id(&self, kind: IdKind) -> Result<u64> {
        Ok(match &self.ids {
            Some(ids) => ids.next_id(kind)?,
            None => self.store.next_id(kind)?,
        })
    }

    // ----- directory -------------------------------------------------------

    fn put(&self, record: Record) -> Result<Record> {
        match self.store.put_record(&record) {
            Ok(()) => Ok(record),
            Err(StoreError::Unique { key, holder }) => Err(unique_error(&key, holder).into()),
            Err(e) => Err(e.into()),
        }
    }

    /// Refuses a unique key (a name, an address) another record holds,
    /// before an id is taken, with the error a write would give.
    pub(crate) fn ensure_free(&self, key: &UniqueKey) -> Result<()> {
        match self.store.lookup(key)? {
            Some((k, id)) => Err(unique_error(&key.0, format!("{}:{id}", k.as_str())).into()),
            None => Ok(()),
        }
    }

    fn get(&self, kind: RecordKind, id: u64) -> Result<Record> {
        self.store
            .record(kind, id)?
            .ok_or_else(|| DirectoryError::NotFound(format!("{}:{id}", kind.as_str())).into())
    }

    /// Creates a department with custom field definitions.
    pub fn create_department(&self, name: &str, fields: Vec<FieldDef>) -> Result<Department> {
        let mut d = Department { id: DepartmentId(0), name: name.trim().to_string(), fields };
        d.validate()?;
        d.id = DepartmentId(self.next_id(IdKind::Department)?);
        self.put(Record::Department(d.clone()))?;
        Ok(d)
    }

    /// Replaces a department's name and fields.
    pub fn update_department(&self, d: Department) -> Result<Department> {
        d.validate()?;
        self.department(d.id)?;
        self.put(Record::Department(d.clone()))?;
        Ok(d)
    }

    /// Creates a team.
    pub fn create_team(&self, name: &str) -> Result<Team> {
        let name = people_name("team", name)?;
        let t = Team { id: TeamId(self.next_id(IdKind::Team)?), name };
        self.put(Record::Team(t.clone()))?;
        Ok(t)
    }

    /// Creates a usergroup.
    pub fn create_usergroup(&self, name: &str) -> Result<Usergroup> {
        let name = people_name("usergroup", name)?;
        let g =
            Usergroup { id: UsergroupId(self.next_id(IdKind::Usergroup)?), name, portal: Default::default() };
        self.put(Record::Usergroup(g.clone()))?;
        Ok(g)
    }

    /// Creates an agent.
    pub fn create_agent(&self, new: NewAgent) -> Result<Agent> {
        let name = people_name("agent", &new.name)?;
        let email = Email::parse(&new.email)?;
        for t in &new.teams {
            self.team(*t)?;
        }
        if let Some(ds) = &new.permissions.departments {
            for d in ds {
                self.department(*d)?;
            }
        }
        let a = Agent {
            id: AgentId(self.next_id(IdKind::Agent)?),
            name,
            email,
            teams: new.teams,
            permissions: new.permissions,
            disabled: false,
            language: None,
        };
        self.put(Record::Agent(a.clone()))?;
        Ok(a)
    }

    /// Replaces an agent's profile, teams and permissions.
    pub fn update_agent(&self, mut a: Agent) -> Result<Agent> {
        a.name = people_name("agent", &a.name)?;
        self.agent(a.id)?;
        for t in &a.teams {
            self.team(*t)?;
        }
        self.put(Record::Agent(a.clone()))?;
        Ok(a)
    }

    /// Creates an organisation; users created later with an address in one of
    /// its `domains` join it automatically.
    pub fn create_organisation(&self, name: &str, domains: &[&str]) -> Result<Organisation> {
        let name = people_name("organisation", name)?;
        let email_domains = domains.iter().map(|d| parse_domain(d)).collect::<Result<BTreeSet<_>, _>>()?;
        let o = Organisation {
            id: OrganisationId(self.next_id(IdKind::Organisation)?),
            name,
            email_domains,
            notes: String::new(),
            phones: Vec::new(),
            fields: Default::default(),
        };
        self.put(Record::Organisation(o.clone()))?;
        Ok(o)
    }

    /// Creates a user. With no organisation given, the organisation owning the
    /// primary address's domain (if any) is used.
    pub fn create_user(&self, new: NewUser) -> Result<User> {
        for g in &new.usergroups {
            self.usergroup(*g)?;
        }
        if let Some(o) = new.organisation {
            self.organisation(o)?;
        }
        // Validate before taking an id, so bad input consumes nothing.
        let probe = new.clone().build(UserId(0), self.clock.now())?;
        for e in &probe.emails {
            self.ensure_free(&UniqueKey::user_email(e))?;
        }
        let mut user = new.build(UserId(self.next_id(IdKind::User)?), self.clock.now())?;
        if user.organisation.is_none() {
            user.organisation = self.organisation_for_domain(user.primary_email().domain())?.map(|o| o.id);
        }
        self.put(Record::User(user.clone()))?;
        Ok(user)
    }

    /// Replaces a user's profile.
    pub fn update_user(&self, mut u: User) -> Result<User> {
        u.name = people_name("user", &u.name)?;
        if u.emails.is_empty() {
            return Err(DirectoryError::NoEmail.into());
        }
        let distinct: BTreeSet<_> = u.emails.iter().collect();
        if distinct.len() != u.emails.len() {
            return Err(DirectoryError::DuplicateEmail(u.emails[0].to_string()).into());
        }
        self.own_user(u.id)?;
        if let Some(o) = u.organisation {
            self.organisation(o)?;
        }
        self.put(Record::User(u.clone()))?;
        Ok(u)
    }

    /// Marks a user's address as confirmed and releases their tickets that
    /// were awaiting validation (they become awaiting agent).
    pub fn validate_user(&self, id: UserId) -> Result<User> {
        let mut u = self.user(id)?;
        if !u.validated {
            u.validated = true;
            self.put(Record::User(u.clone()))?;
        }
        let mut after = None;
        loop {
            let page = self.store.scan_index(&participant_prefix(id), after.as_ref(), 256)?;
            let Some(last) = page.last().cloned() else { break };
            for key in &page {
                let Some(tid) = key.ticket() else { continue };
                let Some(t) = self.store.ticket(tid)? else { continue };
                if t.user == id && t.status == Status::Validating {
                    self.execute(
                        tid,
                        &Actor::system(),
                        Command::SetStatus { status: Status::AwaitingAgent },
                    )?;
                }
            }
            after = Some(last);
        }
        Ok(u)
    }

    /// The user record with this id itself, not following a merge: what
    /// writers check (a merged id must not come back to life).
    pub(crate) fn own_user(&self, id: UserId) -> Result<User> {
        match self.get(RecordKind::User, id.0)? {
            Record::User(u) => Ok(u),
            _ => Err(StoreError::Corrupt { key: id.to_string(), reason: "not a user".into() }.into()),
        }
    }

    /// A user. The id of a user merged into another gives the one kept
    /// ([`Helpdesk::merged_into`]).
    pub fn user(&self, id: UserId) -> Result<User> {
        match self.get(RecordKind::User, id.0) {
            Ok(Record::User(u)) => Ok(u),
            Ok(_) => Err(StoreError::Corrupt { key: id.to_string(), reason: "not a user".into() }.into()),
            Err(e @ Error::Directory(DirectoryError::NotFound(_))) => self.user_following_merges(id, e),
            Err(e) => Err(e),
        }
    }

    /// The user with this email address.
    pub fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let e = Email::parse(email)?;
        match self.store.lookup(&UniqueKey::user_email(&e))? {
            Some((RecordKind::User, id)) => Ok(Some(self.user(UserId(id))?)),
            _ => Ok(None),
        }
    }

    /// An agent who is not disabled (else `TicketError::AgentDisabled`).
    pub(crate) fn active_agent(&self, id: AgentId) -> Result<Agent> {
        let a = self.agent(id)?;
        if a.disabled {
            return Err(TicketError::AgentDisabled(a.id).into());
        }
        Ok(a)
    }

    /// An agent.
    pub fn agent(&self, id: AgentId) -> Result<Agent> {
        match self.get(RecordKind::Agent, id.0)? {
            Record::Agent(a) => Ok(a),
            _ => Err(StoreError::Corrupt { key: id.to_string(), reason: "not an agent".into() }.into()),
        }
    }

    /// The agent with this email address.
    pub fn agent_by_email(&self, email: &str) -> Result<Option<Agent>> {
        let e = Email::parse(email)?;
        match self.store.lookup(&UniqueKey::agent_email(&e))? {
            Some((RecordKind::Agent, id)) => Ok(Some(self.agent(AgentId(id))?)),
            _ => Ok(None),
        }
    }

    /// A team.
    pub fn team(&self, id: TeamId) -> Result<Team> {
        match self.get(RecordKind::Team, id.0)? {
            Record::Team(t) => Ok(t),
            _ => Err(StoreError::Corrupt { key: id.to_string(), reason: "not a team".into() }.into()),
        }
    }

    /// A department.
    pub fn department(&self, id: DepartmentId) -> Result<Department> {
        match self.get(RecordKind::Department, id.0)? {
            Record::Department(d) => Ok(d),
            _ => Err(StoreError::Corrupt { key: id.to_string(), reason: "not a department".into() }.into()),
        }
    }

    /// An organisation.
    pub fn organisation(&self, id: OrganisationId) -> Result<Organisation> {
        match self.get(RecordKind::Organisation, id.0)? {
            Record::Organisation(o) => Ok(o),
            _ => {
                Err(StoreError::Corrupt { key: id.to_string(), reason: "not an organisation".into() }.into())
            }
        }
    }

    /// A usergroup.
    pub fn usergroup(&self, id: UsergroupId) -> Result<Usergroup> {
        match self.get(RecordKind::Usergroup, id.0)? {
            Record::Usergroup(g) => Ok(g),
            _ => Err(StoreError::Corrupt { key: id.to_string(), reason: "not a usergroup".into() }.into()),
        }
    }

    /// The organisation owning an email domain.
    pub fn organisation_for_domain(&self, domain: &str) -> Result<Option<Organisation>> {
        let Ok(d) = parse_domain(domain) else { return Ok(None) };
        match self.store.lookup(&UniqueKey::domain(&d))? {
            Some((RecordKind::Organisation, id)) => Ok(Some(self.organisation(OrganisationId(id))?)),
            _ => Ok(None),
        }
    }

    /// Every department, by id.
    pub fn departments(&self) -> Result<Vec<Department>> {
        self.all(RecordKind::Department, |r| match r {
            Record::Department(d) => Some(d),
            _ => None,
        })
    }

    /// Every agent, by id.
    pub fn agents(&self) -> Result<Vec<Agent>> {
        self.all(RecordKind::Agent, |r| match r {
            Record::Agent(a) => Some(a),
            _ => None,
        })
    }

    /// Every team, by id.
    pub fn teams(&self) -> Result<Vec<Team>> {
        self.all(RecordKind::Team, |r| match r {
            Record::Team(t) => Some(t),
            _ => None,
        })
    }

    pub(crate) fn all<T>(&self, kind: RecordKind, f: impl Fn(Record) -> Option<T>) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self.store.records(kind, after, 512)?;
            let Some(last) = page.last() else { break };
            after = last.key().1;
            out.extend(page.into_iter().filter_map(&f));
        }
        Ok(out)
    }

    fn snapshot(&self, refs: &References) -> Result<DirectorySnapshot> {
        let mut s = DirectorySnapshot::default();
        let missing = |e: Error| matches!(e, Error::Directory(DirectoryError::NotFound(_)));
        macro_rules! load {
            ($set:expr, $get:ident, $map:expr) => {
                for id in $set {
                    match self.$get(*id) {
                        Ok(v) => {
                            $map.insert(*id, v);
                        }
                        Err(e) if missing(e.clone()) => {}
                        Err(e) => return Err(e),
                    }
                }
            };
        }
        load!(&refs.departments, department, s.departments);
        load!(&refs.agents, agent, s.agents);
        load!(&refs.teams, team, s.teams);
        load!(&refs.users, user, s.users);
        Ok(s)
    }

    // ----- tickets ---------------------------------------------------------

    /// Creates a ticket. Its id is greater than every earlier ticket's.
    /// Triggers run on it; what they change is part of the same commit.
    pub fn create_ticket(&self, actor: &Actor, new: NewTicket) -> Result<Ticket> {
        Ok(self.create_ticket_explained(actor, new)?.0)
    }

    /// [`create_ticket`](Self::create_ticket), also returning why each
    /// trigger fired or not.
    pub fn create_ticket_explained(&self, actor: &Actor, new: NewTicket) -> Result<(Ticket, ChainTrace)> {
        self.check_portal_create(actor, &new)?;
        let dir = self.snapshot(&new.references(actor))?;
        let now = self.clock.now();
        // Decide once with a placeholder id so bad input consumes no id.
        create(TicketId(0), new.clone(), actor, now, &dir, &self.policy)?;
        let id = TicketId(self.next_id(IdKind::Ticket)?);
        let events = create(id, new, actor, now, &dir, &self.policy)?;
        let (commit, ticket, trace) = self.pipeline(None, events, actor, now)?;
        self.store.commit(&commit)?;
        Ok((ticket, trace))
    }

    /// The one place a change becomes a commit: the change's events, the
    /// trigger chain, the SLA and escalation schedule, and the effects to
    /// queue (trigger actions and subscription notifications, computed pure in
    /// `helpdesk_core::notify`), written together, so a crash neither loses a
    /// notification nor sends one for a change that was not kept.
    fn pipeline(
        &self,
        before: Option<&Ticket>,
        events: Vec<TicketEvent>,
        actor: &Actor,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Commit, Ticket, ChainTrace)> {
        let rules = self.rules()?;
        let dir = crate::automation::StoreDirectory::new(&*self.store);
        let outcome =
            helpdesk_core::automation::process(&rules, before, events, actor, now, &dir, &self.policy);
        dir.check()?;
        let Outcome { ticket, events, mut effects, trace } = outcome?;
        // The trigger chain's effects, then the subscription notifications for
        // everything the change and its chain did, all in this commit.
        effects.extend(notify::notifications(before, &ticket, &events, actor, &self.notify_agents()?));
        let outbox = crate::automation::outbox_items(&ticket, effects, now);
        let commit = Commit::new(before, Some(ticket.clone()), events)
            .with_outbox(outbox)
            .with_durability(self.durability);
        Ok((commit, ticket, trace))
    }

    /// A ticket.
    pub fn ticket(&self, id: TicketId) -> Result<Ticket> {
        self.store.ticket(id)?.ok_or_else(|| TicketError::NotFound(id).into())
    }

    /// A ticket's full log, oldest first.
    pub fn log(&self, id: TicketId) -> Result<Vec<TicketEvent>> {
        let events = self.store.events(id)?;
        if events.is_empty() {
            return Err(TicketError::NotFound(id).into());
        }
        Ok(events)
    }

    /// Runs a command against the ticket as it is now. When another writer
    /// gets in first, the command is decided again on the new state.
    pub fn execute(&self, id: TicketId, actor: &Actor, cmd: Command) -> Result<Ticket> {
        Ok(self.execute_explained(id, actor, cmd)?.0)
    }

    /// [`execute`](Self::execute), also returning why each trigger fired or not.
    pub fn execute_explained(
        &self,
        id: TicketId,
        actor: &Actor,
        cmd: Command,
    ) -> Result<(Ticket, ChainTrace)> {
        let mut attempt = 0;
        loop {
            let ticket = self.ticket(id)?;
            match self.apply(ticket, actor, &cmd) {
                Err(Error::Store(StoreError::Conflict { .. })) if attempt < MAX_RETRIES => {
                    attempt += 1;
                    backoff(attempt);
                }
                r => return r,
            }
        }
    }

    /// Runs a command by an actor who saw the ticket at `version`: it goes
    /// in unless someone else (a person or a rule) changed what the command
    /// depends on since then, and is decided on the ticket as it is *now*.
    /// The rules are [`helpdesk_core::concurrency`]'s:
    ///
    /// - replies and notes ([`Command::AgentReply`] — even with a status —,
    ///   [`Command::UserReply`], [`Command::AddNote`]) never fail for a
    ///   version (use [`execute_seen`](Self::execute_seen) to also get what
    ///   the actor missed);
    /// - other commands fail with [`Error::Conflict`] when an event after
    ///   `version` by another actor touched an aspect they depend on (status
    ///   for `set_status`, the urgency for `adjust_urgency`, that label for
    ///   `add_label`, ...); the actor's own changes never block them;
    /// - delivery outcomes, queued notifications, SLA and escalation
    ///   bookkeeping never cause a conflict;
    /// - a `version` greater than the ticket's is [`Error::VersionAhead`].
    ///
    /// When another writer commits between the check and this commit, the
    /// check is made again on the new events and the command decided again
    /// (up to a generous number of times). A refused command changes nothing.
    ///
    /// ```
    /// use helpdesk_store::{Error, Helpdesk, NewAgent};
    /// use helpdesk_core::*;
    ///
    /// let hd = Helpdesk::in_memory();
    /// let support = hd.create_department("Support", vec![]).unwrap();
    /// let alice = hd.create_agent(NewAgent::new("Alice", "alice@example.com").admin()).unwrap();
    /// let bob = hd.create_agent(NewAgent::new("Bob", "bob@example.com").admin()).unwrap();
    /// let ann = hd.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap();
    /// let t = hd.create_ticket(&Actor::User(ann.id),
    ///     NewTicket::new("Printer on fire", "Help!", support.id, ann.id, Channel::Portal)).unwrap();
    /// let seen = t.version; // both agents open the ticket
    ///
    /// // Alice replies, then assigns herself: her own reply does not block her.
    /// hd.agent_reply(t.id, alice.id, "On it", None).unwrap();
    /// let alice_ = Actor::Agent(alice.id);
    /// hd.execute_at(t.id, seen, &alice_, Command::AssignAgent { agent: Some(alice.id) }).unwrap();
    ///
    /// // Bob, at the version he loaded, labels it: nobody touched that label.
    /// let bob_ = Actor::Agent(bob.id);
    /// hd.execute_at(t.id, seen, &bob_, Command::AddLabel { label: "printer".into() }).unwrap();
    ///
    /// // But Alice assigned it since he looked: his assignment is refused.
    /// let err = hd.execute_at(t.id, seen, &bob_, Command::AssignAgent { agent: Some(bob.id) }).unwrap_err();
    /// let Error::Conflict(c) = err else { panic!("{err}") };
    /// assert_eq!((c.expected, c.actual), (seen, hd.ticket(t.id).unwrap().version));
    /// assert_eq!(c.changes[0].actor, alice_);
    /// assert_eq!(c.changes[0].aspect, Aspect::Agent);
    /// ```
    pub fn execute_at(&self, id: TicketId, version: u64, actor: &Actor, cmd: Command) -> Result<Ticket> {
        Ok(self.execute_seen(id, version, actor, cmd)?.ticket)
    }

    /// [`execute_at`](Self::execute_at), also returning the messages and
    /// notes others added since `seen` ([`Executed::missed`]): what a UI
    /// shows after a reply or note went in ("2 new messages since you opened
    /// this ticket"). Fails exactly when `execute_at` fails.
    ///
    /// ```
    /// use helpdesk_store::{Helpdesk, NewAgent};
    /// use helpdesk_core::*;
    /// use helpdesk_core::concurrency::Post;
    ///
    /// let hd = Helpdesk::in_memory();
    /// let support = hd.create_department("Support", vec![]).unwrap();
    /// let alice = hd.create_agent(NewAgent::new("Alice", "alice@example.com").admin()).unwrap();
    /// let ann = hd.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap();
    /// let t = hd.create_ticket(&Actor::User(ann.id),
    ///     NewTicket::new("Printer on fire", "Help!", support.id, ann.id, Channel::Portal)).unwrap();
    ///
    /// // Ann writes again while Alice types her reply.
    /// hd.user_reply(t.id, ann.id, "Now it smokes.").unwrap();
    /// let reply = Command::AgentReply { body: "Leave the room.".into(), attachments: vec![], status: None };
    /// let done = hd.execute_seen(t.id, t.version, &Actor::Agent(alice.id), reply).unwrap();
    /// assert_eq!(done.ticket.messages.len(), 3);
    /// assert!(matches!(&done.missed[..], [m] if matches!(&m.post, Post::Message(msg) if msg.body == "Now it smokes.")));
    /// ```
    pub fn execute_seen(&self, id: TicketId, seen: u64, actor: &Actor, cmd: Command) -> Result<Executed> {
        let mut attempt = 0;
        loop {
            let ticket = self.ticket(id)?;
            if seen > ticket.version {
                return Err(Error::VersionAhead { ticket: id, given: seen, current: ticket.version });
            }
            let since = if seen == ticket.version {
                Vec::new()
            } else {
                let mut since = self.store.events_after(id, seen)?;
                // A commit after the ticket was read is checked on the next round.
                since.retain(|e| e.version <= ticket.version);
                since
            };
            concurrency::check(&cmd, actor, seen, &since)?;
            match self.apply(ticket, actor, &cmd) {
                Err(Error::Store(StoreError::Conflict { .. })) if attempt < MAX_RETRIES => {
                    attempt += 1;
                    backoff(attempt);
                }
                Err(e) => return Err(e),
                Ok((ticket, _)) => {
                    return Ok(Executed { ticket, missed: concurrency::missed_posts(actor, seen, &since) })
                }
            }
        }
    }

    /// Several commands by `actor`, who saw the ticket at `seen` (`None`:
    /// as it is now), made by `plan` (from the ticket and a directory with
    /// its department and the actor) and decided together by `decide` into
    /// one commit through the pipeline. Each of `commands` is checked against what others changed
    /// since `seen` as [`execute_at`](Self::execute_at) does; a lost race
    /// decides again. No events: nothing is written.
    pub(crate) fn execute_group<P, T>(
        &self,
        id: TicketId,
        seen: Option<u64>,
        actor: &Actor,
        plan: impl Fn(&Ticket, &DirectorySnapshot) -> Result<(P, Vec<Command>)>,
        decide: impl Fn(
            &Ticket,
            P,
            &DirectorySnapshot,
            chrono::DateTime<chrono::Utc>,
        ) -> Result<(Vec<TicketEvent>, T)>,
    ) -> Result<(Executed, T)> {
        let mut attempt = 0;
        loop {
            let ticket = self.ticket(id)?;
            let seen = seen.unwrap_or(ticket.version);
            if seen > ticket.version {
                return Err(Error::VersionAhead { ticket: id, given: seen, current: ticket.version });
            }
            let mut since =
                if seen == ticket.version { Vec::new() } else { self.store.events_after(id, seen)? };
            since.retain(|e| e.version <= ticket.version);
            let (planned, commands) =
                plan(&ticket, &self.directory_with(&ticket, actor, References::default())?)?;
            let mut refs = References::default();
            for c in &commands {
                concurrency::check(c, actor, seen, &since)?;
                refs.extend(c.references(&ticket, actor));
            }
            let dir = self.directory_with(&ticket, actor, refs)?;
            let now = self.clock.now();
            let (events, out) = decide(&ticket, planned, &dir, now)?;
            let missed = concurrency::missed_posts(actor, seen, &since);
            if events.is_empty() {
                return Ok((Executed { ticket, missed }, out));
            }
            let (commit, ticket, _) = self.pipeline(Some(&ticket), events, actor, now)?;
            match self.store.commit(&commit) {
                Err(StoreError::Conflict { .. }) if attempt < MAX_RETRIES => {
                    attempt += 1;
                    backoff(attempt);
                }
                Err(e) => return Err(e.into()),
                Ok(()) => return Ok((Executed { ticket, missed }, out)),
            }
        }
    }

    /// Two tickets changed together (a merge, a split, a link): `decide`
    /// gets the first as it is now, the second (`None`: it is new, made by
    /// the decision) and a directory holding both tickets' departments,
    /// people and authors and the actor, and gives each one's events. Each
    /// ticket's events go through the pipeline (triggers, SLAs,
    /// notifications) and both commits are written atomically
    /// ([`Store::commit_all`]); a lost race decides again. Returns both
    /// tickets as they are after.
    pub(crate) fn execute_two(
        &self,
        first: TicketId,
        second: Option<TicketId>,
        actor: &Actor,
        decide: impl Fn(
            &Ticket,
            Option<&Ticket>,
            &DirectorySnapshot,
            chrono::DateTime<chrono::Utc>,
        ) -> Result<(Vec<TicketEvent>, Vec<TicketEvent>)>,
    ) -> Result<(Ticket, Ticket)> {
        let mut attempt = 0;
        loop {
            let a = self.ticket(first)?;
            let b = second.map(|id| self.ticket(id)).transpose()?;
            let mut refs = References::default();
            refs.actor_of(actor);
            for t in std::iter::once(&a).chain(b.as_ref()) {
                refs.departments.insert(t.department);
                refs.users.insert(t.user);
                refs.users.extend(t.ccs.iter().copied());
                refs.agents.extend(t.followers.iter().copied());
                for m in &t.messages {
                    if let Author::User(u) = m.author {
                        refs.users.insert(u);
                    }
                }
            }
            let dir = self.snapshot(&refs)?;
            let now = self.clock.now();
            let (ea, eb) = decide(&a, b.as_ref(), &dir, now)?;
            let mut commits = Vec::new();
            let mut run = |before: Option<&Ticket>, events: Vec<TicketEvent>| -> Result<Option<Ticket>> {
                if events.is_empty() {
                    return Ok(before.cloned());
                }
                let (commit, after, _) = self.pipeline(before, events, actor, now)?;
                commits.push(commit);
                Ok(Some(after))
            };
            let ta = run(Some(&a), ea)?.expect("the first ticket exists");
            let tb = run(b.as_ref(), eb)?
                .ok_or_else(|| Error::Store(StoreError::Backend("a new ticket without events".into())))?;
            match self.store.commit_all(&commits) {
                Err(StoreError::Conflict { .. }) if attempt < MAX_RETRIES => {
                    attempt += 1;
                    backoff(attempt);
                }
                Err(e) => return Err(e.into()),
                Ok(()) => return Ok((ta, tb)),
            }
        }
    }

    /// A directory holding the ticket's department, the actor and `refs`.
    pub(crate) fn directory_with(
        &self,
        t: &Ticket,
        actor: &Actor,
        mut refs: References,
    ) -> Result<DirectorySnapshot> {
        refs.departments.insert(t.department);
        refs.actor_of(actor);
        self.snapshot(&refs)
    }

    fn apply(&self, ticket: Ticket, actor: &Actor, cmd: &Command) -> Result<(Ticket, ChainTrace)> {
        let dir = self.snapshot(&cmd.references(&ticket, actor))?;
        let now = self.clock.now();
        let events = decide(&ticket, cmd, actor, now, &dir, &self.policy)?;
        if events.is_empty() {
            return Ok((ticket, ChainTrace::default()));
        }
        let (commit, ticket, trace) = self.pipeline(Some(&ticket), events, actor, now)?;
        self.store.commit(&commit)?;
        Ok((ticket, trace))
    }

    /// Every agent with their subscriptions: what the notification rules read.
    pub(crate) fn notify_agents(&self) -> Result<Arc<Vec<notify::NotifyAgent>>> {
        let epoch = self.store.directory_epoch();
        if let (Some(e), Some((at, agents))) =
            (epoch, self.notify.lock().unwrap_or_else(|p| p.into_inner()).as_ref())
        {
            if e == *at {
                return Ok(agents.clone());
            }
        }
        let agents: Arc<Vec<notify::NotifyAgent>> = Arc::new(
            self.agents()?
                .into_iter()
                .map(|agent| Ok(notify::NotifyAgent { subscriptions: self.subscriptions_of(&agent)?, agent }))
                .collect::<Result<_>>()?,
        );
        if let Some(e) = epoch {
            *self.notify.lock().unwrap_or_else(|p| p.into_inner()) = Some((e, agents.clone()));
        }
        Ok(agents)
    }

    fn subscriptions_of(&self, agent: &Agent) -> Result<Subscriptions> {
        match self.store.record(RecordKind::Subscriptions, agent.id.0)? {
            Some(Record::Subscriptions(s)) => Ok(s),
            _ => Ok(Subscriptions::default_for(agent)),
        }
    }

    // ----- notifications and mail configuration -----------------------------

    /// An agent's notification subscriptions (the defaults when never set:
    /// everything for an admin, see [`Subscriptions::default_for`]).
    pub fn subscriptions(&self, agent: AgentId) -> Result<Subscriptions> {
        self.subscriptions_of(&self.agent(agent)?)
    }

    /// Replaces an agent's subscriptions.
    pub fn set_subscriptions(&self, subs: Subscriptions) -> Result<Subscriptions> {
        self.agent(subs.agent)?;
        self.put(Record::Subscriptions(subs.clone()))?;
        Ok(subs)
    }

    /// Creates an email account: mail to `address` becomes tickets in
    /// `department`, and replies on that department's tickets come from it.
    pub fn create_email_account(
        &self,
        address: &str,
        name: &str,
        department: DepartmentId,
    ) -> Result<EmailAccount> {
        let address = Email::parse(address)?;
        let name = people_name("email account", name)?;
        self.department(department)?;
        for key in [UniqueKey::user_email(&address), UniqueKey::agent_email(&address)] {
            if let Some((kind, id)) = self.store.lookup(&key)? {
                return Err(DirectoryError::EmailTaken {
                    email: address.to_string(),
                    owner: format!("{}:{id}", kind.as_str()),
                }
                .into());
            }
        }
        if let Some((kind, id)) = self.store.lookup(&UniqueKey::account_email(&address))? {
            return Err(DirectoryError::EmailTaken {
                email: address.to_string(),
                owner: format!("{}:{id}", kind.as_str()),
            }
            .into());
        }
        let a = EmailAccount {
            id: EmailAccountId(self.next_id(IdKind::EmailAccount)?),
            address,
            name,
            department,
            inbound: Default::default(),
            relay: None,
        };
        self.put(Record::EmailAccount(a.clone()))?;
        Ok(a)
    }

    /// Replaces an email account's address, name or department.
    pub fn update_email_account(&self, a: EmailAccount) -> Result<EmailAccount> {
        self.email_account(a.id)?;
        self.department(a.department)?;
        let a = EmailAccount { name: people_name("email account", &a.name)?, ..a };
        self.put(Record::EmailAccount(a.clone()))?;
        Ok(a)
    }

    /// An email account.
    pub fn email_account(&self, id: EmailAccountId) -> Result<EmailAccount> {
        match self.get(RecordKind::EmailAccount, id.0)? {
            Record::EmailAccount(a) => Ok(a),
            _ => {
                Err(StoreError::Corrupt { key: id.to_string(), reason: "not an email account".into() }.into())
            }
        }
    }

    /// The email account with this address.
    pub fn email_account_by_address(&self, address: &str) -> Result<Option<EmailAccount>> {
        let Ok(e) = Email::parse(address) else { return Ok(None) };
        match self.store.lookup(&UniqueKey::account_email(&e))? {
            Some((RecordKind::EmailAccount, id)) => Ok(Some(self.email_account(EmailAccountId(id))?)),
            _ => Ok(None),
        }
    }

    /// Every email account, by id.
    pub fn email_accounts(&self) -> Result<Vec<EmailAccount>> {
        self.all(RecordKind::EmailAccount, |r| match r {
            Record::EmailAccount(a) => Some(a),
            _ => None,
        })
    }

    /// The installation's mail settings; created on first use with a fresh
    /// random reply-token secret.
    pub fn mail_settings(&self) -> Result<MailSettings> {
        if let Some(Record::MailSettings(s)) = self.store.record(RecordKind::MailSettings, 1)? {
            return Ok(s);
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| StoreError::Backend(format!("no randomness for the reply-token secret: {e}")))?;
        let s = MailSettings::with_secret(&secret);
        self.put(Record::MailSettings(s.clone()))?;
        Ok(s)
    }

    /// Replaces the mail settings (rate limit, secret, Message-ID domain).
    pub fn set_mail_settings(&self, s: MailSettings) -> Result<MailSettings> {
        let s = s
            .validated()
            .map_err(|(field, reason)| helpdesk_core::admin::AdminError::Setting { field, reason })?;
        self.put(Record::MailSettings(s.clone()))?;
        Ok(s)
    }

    /// Whether `user` may get one more auto-response now, under the
    /// per-recipient rate limit of the mail settings; when so, it is counted.
    /// The window is stored, so the limit holds across restarts.
    pub fn admit_auto_response(&self, user: UserId) -> Result<bool> {
        let limit = self.mail_settings()?.auto_responses;
        let mut log = match self.store.record(RecordKind::AutoResponses, user.0)? {
            Some(Record::AutoResponses(l)) => l,
            _ => AutoResponseLog::new(user),
        };
        let admitted = log.admit(self.clock.now(), limit);
        if admitted {
            self.put(Record::AutoResponses(log))?;
        }
        Ok(admitted)
    }

    /// The ticket a mail with this fingerprint went to, if it was taken in already.
    pub fn seen_mail(&self, mail: &MailFingerprint) -> Result<Option<TicketId>> {
        match self.store.record(RecordKind::SeenMail, mail.key())? {
            Some(Record::SeenMail(s)) if s.matches(mail) => Ok(Some(s.ticket)),
            _ => Ok(None),
        }
    }

    /// Remembers that the mail with this fingerprint went to `ticket`.
    pub fn mark_mail_seen(&self, mail: &MailFingerprint, ticket: TicketId) -> Result<()> {
        self.put(Record::SeenMail(SeenMail::new(mail, ticket)))?;
        Ok(())
    }

    /// Keeps bytes (an attachment, an original mail) under their content
    /// address, which is returned (`sha256-<hex>`).
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String> {
        let id = blob_id(bytes);
        self.store.put_blob(&id, bytes)?;
        Ok(id)
    }

    /// The bytes kept under a content address.
    pub fn blob(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.store.blob(id)?)
    }

    /// A user (owner or CC) replies. With [`ReopenPolicy::NewLinkedTicket`], a
    /// reply to a resolved ticket opens a new ticket linked to it, which is returned.
    pub fn user_reply(&self, id: TicketId, user: UserId, body: &str) -> Result<Ticket> {
        let cmd =
            Command::UserReply { body: body.to_string(), attachments: vec![], channel: Channel::Portal };
        self.user_command(id, user, cmd)
    }

    /// Runs a [`Command::UserReply`] (with attachments or another channel),
    /// opening a linked follow-up when the policy says so.
    /// A blocked user is refused.
    pub fn user_command(&self, id: TicketId, user: UserId, cmd: Command) -> Result<Ticket> {
        let actor = Actor::User(user);
        if self.user(user)?.blocked {
            let reason = "the user is blocked".to_string();
            return Err(
                TicketError::NotPermitted { actor: actor.to_string(), action: "reply", reason }.into()
            );
        }
        match self.execute(id, &actor, cmd.clone()) {
            Err(Error::Ticket(TicketError::ResolvedNeedsFollowUp(_))) => {
                let Command::UserReply { body, attachments, channel } = cmd else {
                    unreachable!("only replies ask for a follow-up")
                };
                let old = self.ticket(id)?;
                let mut new = NewTicket::new(old.subject.clone(), body, old.department, user, channel);
                new.attachments = attachments;
                new.linked_to = Some(id);
                new.fields = old.fields.clone();
                if old.user != user {
                    // A CC writes in: the follow-up stays the owner's, with the CC copied.
                    new.user = old.user;
                    new.ccs.insert(user);
                }
                self.create_ticket(&Actor::System(SystemActor::Helpdesk), new)
            }
            r => r,
        }
    }

    /// An agent replies, setting `status` (awaiting user when `None`).
    pub fn agent_reply(
        &self,
        id: TicketId,
        agent: AgentId,
        body: &str,
        status: Option<Status>,
    ) -> Result<Ticket> {
        let cmd = Command::AgentReply { body: body.to_string(), attachments: vec![], status };
        self.execute(id, &Actor::Agent(agent), cmd)
    }

    /// An agent adds a note (agents only; no status change).
    pub fn add_note(&self, id: TicketId, agent: AgentId, body: &str) -> Result<Ticket> {
        self.execute(
            id,
            &Actor::Agent(agent),
            Command::AddNote { body: body.to_string(), attachments: vec![] },
        )
    }

    /// Removes a deleted or spam ticket and its log for good. Needs an agent
    /// with the delete permission (or the system).
    pub fn purge(&self, id: TicketId, actor: &Actor) -> Result<()> {
        let ticket = self.ticket(id)?;
        if !matches!(ticket.status, Status::Deleted | Status::Spam) {
            return Err(TicketError::NotPurgeable(id).into());
        }
        match actor {
            Actor::Agent(a) => {
                let agent = self.agent(*a)?;
                if agent.disabled
                    || !agent.permissions.may_delete
                    || !agent.permissions.can_see(ticket.department)
                {
                    return Err(TicketError::NotPermitted {
                        actor: actor.to_string(),
                        action: "purge",
                        reason: "needs the delete permission".into(),
                    }
                    .into());
                }
            }
            Actor::User(_) => {
                return Err(TicketError::NotPermitted {
                    actor: actor.to_string(),
                    action: "purge",
                    reason: "only agents purge tickets".into(),
                }
                .into())
            }
            Actor::System(_) => {}
        }
        self.store.commit(&Commit::new(Some(&ticket), None, vec![]).with_durability(self.durability))?;
        Ok(())
    }

    /// Claims up to `limit` outbox items due at `now` for `lease` (see
    /// [`Store::claim_outbox`]): what a delivery worker delivers. Several
    /// workers, in one process or on several nodes of a shared store, never
    /// hold one item at once.
    pub fn claim_outbox(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
        lease: std::time::Duration,
    ) -> Result<Vec<OutboxItem>> {
        Ok(self.store.claim_outbox(now, limit, lease)?)
    }

    /// Outbox items due at `now` (their backoff has passed), oldest ticket first.
    pub fn due_outbox(&self, now: chrono::DateTime<chrono::Utc>, limit: usize) -> Result<Vec<OutboxItem>> {
        let mut out = Vec::new();
        let mut after = None;
        while out.len() < limit {
            let page = self.store.outbox(after, 256)?;
            let Some(last) = page.last() else { break };
            after = Some(last.key);
            out.extend(page.into_iter().filter(|i| i.not_before <= now).take(limit - out.len()));
        }
        Ok(out)
    }

    /// Records how delivering an outbox item ended: a `Delivered` event in the
    /// ticket log and the item's removal, in one commit. Nothing happens when
    /// the ticket was purged meanwhile (purging drops its items), nor when
    /// the item is no longer queued (another worker recorded it).
    pub fn complete_delivery(&self, item: &OutboxItem, outcome: DeliveryOutcome) -> Result<()> {
        let mut attempt = 0;
        loop {
            let Some(ticket) = self.store.ticket(item.key.ticket)? else { return Ok(()) };
            let event = TicketEvent {
                ticket: ticket.id,
                version: ticket.version + 1,
                at: self.clock.now(),
                actor: Actor::system(),
                change: Change::Delivered {
                    effect: item.effect.clone(),
                    outcome: outcome.clone(),
                    attempts: item.attempts + 1,
                },
            };
            let mut after = ticket.clone();
            after.apply(&event)?;
            let mut commit =
                Commit::new(Some(&ticket), Some(after), vec![event]).with_durability(self.durability);
            commit.outbox_remove.push(item.key);
            match self.store.commit(&commit) {
                Err(StoreError::Conflict { .. }) if attempt < MAX_RETRIES => attempt += 1,
                // Another worker, whose claim followed this one's lapsed
                // lease, recorded it first: one outcome in the log.
                Err(StoreError::OutboxGone(_)) => return Ok(()),
                r => return Ok(r?),
            }
        }
    }

    /// Tickets a user takes part in (owns or is CC'd on), by id, after `after`.
    pub fn tickets_of_user(
        &self,
        user: UserId,
        after: Option<TicketId>,
        limit: usize,
    ) -> Result<Vec<Ticket>> {
        self.tickets_in_index(participant_prefix(user), after, limit)
    }

    /// Up to `limit` tickets of a ticket-id-ordered index (`prefix` then the
    /// id), after ticket `after`.
    pub(crate) fn tickets_in_index(
        &self,
        prefix: Vec<u8>,
        after: Option<TicketId>,
        limit: usize,
    ) -> Result<Vec<Ticket>> {
        let after = after.map(|t| {
            let mut k = prefix.clone();
            k.extend_from_slice(&t.0.to_be_bytes());
            IndexKey(k)
        });
        let keys = self.store.scan_index(&prefix, after.as_ref(), limit)?;
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            if let Some(t) = k.ticket().map(|id| self.store.ticket(id)).transpose()?.flatten() {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// How many tickets have `status` (kept incrementally; O(1)).
    pub fn count_by_status(&self, status: Status) -> Result<i64> {
        Ok(self.store.counter(&status_counter(status))?)
    }
}

/// Filters (issue 3): lists and counts for an agent, from indexes.
impl Helpdesk {
    /// The [`Viewer`] for an agent: their teams and the departments they may
    /// see. A disabled agent sees nothing (`TicketError::AgentDisabled`).
    pub fn viewer(&self, agent: AgentId) -> Result<Viewer> {
        let a = self.agent(agent).map_err(|e| match e {
            Error::Directory(DirectoryError::NotFound(_)) => TicketError::UnknownAgent(agent).into(),
            e => e,
        })?;
        if a.disabled {
            return Err(TicketError::AgentDisabled(agent).into());
        }
        Ok(Viewer::of(&a))
    }

    /// A page of `filter` for `agent`: up to `limit` (1 to
    /// [`MAX_PAGE`](helpdesk_core::filter::MAX_PAGE)) tickets after `cursor`,
    /// in the filter's order, only from departments the agent may see.
    ///
    /// Built-in filters always return full pages; a custom filter that has to
    /// check candidates one by one may return a `partial` page after
    /// [`EXAMINE_BUDGET`](helpdesk_core::filter::EXAMINE_BUDGET) index entries:
    /// ask again with its `next` cursor.
    ///
    /// ```
    /// use helpdesk_store::{Helpdesk, NewAgent};
    /// use helpdesk_core::*;
    ///
    /// let hd = Helpdesk::in_memory();
    /// let support = hd.create_department("Support", vec![]).unwrap();
    /// let alice = hd.create_agent(NewAgent::new("Alice", "alice@example.com")).unwrap();
    /// let ann = hd.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap();
    /// for s in ["one", "two", "three"] {
    ///     hd.create_ticket(&Actor::User(ann.id), NewTicket::new(s, "?", support.id, ann.id, Channel::Portal)).unwrap();
    /// }
    /// let page = hd.filter_page(alice.id, &BuiltIn::Unassigned, None, 2).unwrap();
    /// assert_eq!(page.tickets.iter().map(|t| t.subject.as_str()).collect::<Vec<_>>(), ["one", "two"]);
    /// let rest = hd.filter_page(alice.id, &BuiltIn::Unassigned, page.next.as_ref(), 2).unwrap();
    /// assert_eq!(rest.tickets[0].subject, "three");
    /// assert!(rest.next.is_none());
    /// ```
    pub fn filter_page(
        &self,
        agent: AgentId,
        filter: &dyn Filter,
        cursor: Option<&filter::Cursor>,
        limit: usize,
    ) -> Result<filter::FilterPage> {
        self.viewer_page(&self.viewer(agent)?, filter, cursor, limit)
    }

    /// [`filter_page`](Self::filter_page) for a viewer already loaded.
    pub fn viewer_page(
        &self,
        viewer: &Viewer,
        filter: &dyn Filter,
        cursor: Option<&filter::Cursor>,
        limit: usize,
    ) -> Result<filter::FilterPage> {
        crate::query::page(self.store.as_ref(), viewer, filter, cursor, limit)
    }

    /// The count of every built-in filter for `agent`, in display order. Exact
    /// and read from counters: a handful of small scans, whatever the number
    /// of tickets.
    pub fn filter_counts(&self, agent: AgentId) -> Result<Vec<(BuiltIn, u64)>> {
        Ok(crate::query::builtin_counts(self.store.as_ref(), &self.viewer(agent)?)?)
    }

    /// The count of any filter for `agent`: exact from counters when its plan
    /// allows (every built-in, and custom filters on status, department,
    /// agent, team or one follower only); otherwise by examining candidates,
    /// at most [`COUNT_BUDGET`](helpdesk_core::filter::COUNT_BUDGET), after
    /// which the count is a lower bound (`exact == false`).
    pub fn filter_count(&self, agent: AgentId, filter: &dyn Filter) -> Result<filter::FilterCount> {
        self.viewer_count(&self.viewer(agent)?, filter)
    }

    /// [`filter_count`](Self::filter_count) for a viewer already loaded.
    pub fn viewer_count(&self, viewer: &Viewer, filter: &dyn Filter) -> Result<filter::FilterCount> {
        crate::query::count(self.store.as_ref(), viewer, filter)
    }
}

pub(crate) fn people_name(what: &'static str, s: &str) -> Result<String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(DirectoryError::EmptyName(what).into());
    }
    if t.chars().count() > 200 {
        return Err(DirectoryError::NameTooLong(what, 200).into());
    }
    Ok(t.to_string())
}

pub(crate) fn unique_error(key: &str, holder: String) -> DirectoryError {
    if let Some(email) = key
        .strip_prefix("user-email:")
        .or_else(|| key.strip_prefix("agent-email:"))
        .or_else(|| key.strip_prefix("account-email:"))
    {
        DirectoryError::EmailTaken { email: email.to_string(), owner: holder }
    } else if let Some(domain) = key.strip_prefix("domain:") {
        DirectoryError::DomainTaken { domain: domain.to_string(), owner: holder }
    } else {
        let (kind, name) = key.split_once("-name:").unwrap_or(("record", key));
        let kind = match kind {
            "department" => "department",
            "team" => "team",
            "usergroup" => "usergroup",
            "organisation" => "organisation",
            _ => "record",
        };
        DirectoryError::NameTaken { kind, name: name.to_string() }
    }
}

/// Type-erasure helper so `KvStore<E>` for any engine can be used as a store.
impl<E: KvEngine> From<KvStore<E>> for Arc<dyn Store> {
    fn from(s: KvStore<E>) -> Self {
        Arc::new(s)
    }
}
