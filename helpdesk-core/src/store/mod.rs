//! Storage traits: what a backend must provide. Implementations live in
//! `helpdesk-store` (sled, in-memory); they must keep every rule below.
//!
//! 1. [`Store::commit`] writes the ticket state, its new log events, index
//!    changes and counter changes atomically, or nothing.
//! 2. A commit whose `expected_version` is not the stored version is refused
//!    with [`StoreError::Conflict`], never applied.
//! 3. A commit with [`Durability::Durable`] returns only once it would survive
//!    a crash.
//!    Outbox items added or removed by a commit are part of the same transaction.
//! 4. [`Store::put_record`] claims the record's unique keys atomically and
//!    refuses with [`StoreError::Unique`] a key held by another record.

use crate::error::StoreError;
use crate::event::TicketEvent;
use crate::ids::*;
use crate::index::{counters, index_keys, CounterKey, IndexKey};
use crate::mail::{AutoResponseLog, EmailAccount, MailSettings, SeenMail};
use crate::notify::Subscriptions;
use crate::outbox::{OutboxItem, OutboxKey};
use crate::people::*;
use crate::summary::TicketSummary;
use crate::ticket::Ticket;
use serde::{Deserialize, Serialize};

/// When a commit is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Durability {
    /// After it is on stable storage (flushed and synced: a crash or a power
    /// cut does not lose it; concurrent commits share one flush and sync).
    #[default]
    Durable,
    /// As soon as it is visible; a crash may lose it (the store flushes in the background).
    Buffered,
}

/// One atomic write of a ticket: state, events, index and counter changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// The ticket.
    pub ticket: TicketId,
    /// The version the writer started from (0 for a new ticket).
    pub expected_version: u64,
    /// The new state; `None` purges the ticket with its log.
    pub state: Option<Ticket>,
    /// Events to append (empty when purging).
    pub events: Vec<TicketEvent>,
    /// Index keys to remove.
    pub index_remove: Vec<IndexKey>,
    /// Index keys to add.
    pub index_add: Vec<IndexKey>,
    /// Counter changes.
    pub counters: Vec<(CounterKey, i64)>,
    /// Effects to queue (notifications, webhooks).
    pub outbox_add: Vec<OutboxItem>,
    /// Delivered effects to remove (their `Delivered` events are in `events`).
    pub outbox_remove: Vec<OutboxKey>,
    /// When to acknowledge.
    pub durability: Durability,
}

impl Commit {
    /// [`check`](Self::check) for each commit of a group written together
    /// ([`Store::commit_all`]), and one commit a ticket.
    pub fn check_all(commits: &[Commit]) -> Result<(), StoreError> {
        for (i, c) in commits.iter().enumerate() {
            c.check()?;
            if commits[..i].iter().any(|d| d.ticket == c.ticket) {
                return Err(StoreError::Backend(format!("two commits of ticket {} in one group", c.ticket)));
            }
        }
        Ok(())
    }

    /// The checks every backend makes before writing a commit: a purge
    /// appends nothing, the state is the ticket's at the last event's
    /// version, every event and outbox item is the ticket's, and no item is
    /// keyed past the version this commit makes (a backend may write this
    /// commit's outbox groups without reading them).
    pub fn check(&self) -> Result<(), StoreError> {
        if self.state.is_none() && !self.events.is_empty() {
            return Err(StoreError::Backend(format!(
                "malformed commit for ticket {}: a purge cannot append events",
                self.ticket
            )));
        }
        if let Some(t) = &self.state {
            let last = self.events.last().map(|e| e.version).unwrap_or(self.expected_version);
            if t.id != self.ticket || t.version != last || self.events.iter().any(|e| e.ticket != self.ticket)
            {
                return Err(StoreError::Backend(format!(
                    "malformed commit for ticket {}: state v{} after events ending at v{last}",
                    self.ticket, t.version
                )));
            }
        }
        if let Some(item) = self.outbox_add.iter().find(|item| item.key.ticket != self.ticket) {
            return Err(StoreError::Backend(format!(
                "outbox item {} does not belong to ticket {}",
                item.key, self.ticket
            )));
        }
        let new_version = self.state.as_ref().map_or(self.expected_version, |t| t.version);
        if let Some(item) = self.outbox_add.iter().find(|item| item.key.version > new_version) {
            return Err(StoreError::Backend(format!(
                "outbox item {} is keyed past the version v{new_version} this commit makes",
                item.key
            )));
        }
        Ok(())
    }

    /// The commit taking a ticket from `before` (`None`: new) to `after`
    /// (`None`: purged) through `events`. Index and counter changes are the
    /// difference of the two states' entries.
    pub fn new(before: Option<&Ticket>, after: Option<Ticket>, events: Vec<TicketEvent>) -> Commit {
        let ticket = before.or(after.as_ref()).map(|t| t.id).unwrap_or(TicketId(0));
        let (old_keys, old_counters) = before.map(|t| (index_keys(t), counters(t))).unwrap_or_default();
        let (new_keys, new_counters) =
            after.as_ref().map(|t| (index_keys(t), counters(t))).unwrap_or_default();
        let mut counter_changes: Vec<(CounterKey, i64)> =
            old_counters.difference(&new_counters).map(|c| (c.clone(), -1)).collect();
        counter_changes.extend(new_counters.difference(&old_counters).map(|c| (c.clone(), 1)));
        Commit {
            ticket,
            expected_version: before.map(|t| t.version).unwrap_or(0),
            index_remove: old_keys.difference(&new_keys).cloned().collect(),
            index_add: new_keys.difference(&old_keys).cloned().collect(),
            counters: counter_changes,
            outbox_add: Vec::new(),
            outbox_remove: Vec::new(),
            state: after,
            events,
            durability: Durability::Durable,
        }
    }

    /// The same commit, also queueing `items` in the outbox.
    pub fn with_outbox(mut self, items: Vec<OutboxItem>) -> Commit {
        self.outbox_add.extend(items);
        self
    }

    /// The same commit, acknowledged with `durability`.
    pub fn with_durability(mut self, durability: Durability) -> Commit {
        self.durability = durability;
        self
    }
}

/// The kinds of directory record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// [`User`]
    User,
    /// [`Organisation`]
    Organisation,
    /// [`Usergroup`]
    Usergroup,
    /// [`Agent`]
    Agent,
    /// [`Team`]
    Team,
    /// [`Department`]
    Department,
    /// [`Credential`](crate::credential::Credential)
    Credential,
    /// [`EmailAccount`]
    EmailAccount,
    /// [`MailSettings`] (one, id 1)
    MailSettings,
    /// An agent's [`Subscriptions`] (id = agent id)
    Subscriptions,
    /// A user's [`AutoResponseLog`] (id = user id)
    AutoResponses,
    /// A mail taken in, [`SeenMail`] (id = hash of its Message-ID)
    SeenMail,
    /// A custom filter an agent saved, [`SavedFilter`](crate::filters::saved::SavedFilter)
    SavedFilter,
    /// An agent's own settings, [`AgentPreferences`](crate::people::preferences::AgentPreferences) (id = agent id)
    AgentPreferences,
    /// The helpdesk-wide [`Settings`](crate::admin::Settings) (one, id 1)
    Settings,
    /// A [`Snippet`](crate::snippets::Snippet)
    Snippet,
    /// A [`Macro`](crate::macros::Macro)
    Macro,
}

impl RecordKind {
    /// Every kind, in a fixed order.
    pub const ALL: [RecordKind; 17] = [
        RecordKind::User,
        RecordKind::Organisation,
        RecordKind::Usergroup,
        RecordKind::Agent,
        RecordKind::Team,
        RecordKind::Department,
        RecordKind::Credential,
        RecordKind::EmailAccount,
        RecordKind::MailSettings,
        RecordKind::Subscriptions,
        RecordKind::AutoResponses,
        RecordKind::SeenMail,
        RecordKind::SavedFilter,
        RecordKind::AgentPreferences,
        RecordKind::Settings,
        RecordKind::Snippet,
        RecordKind::Macro,
    ];

    /// A one-byte tag for keys.
    pub fn tag(self) -> u8 {
        match self {
            RecordKind::User => b'u',
            RecordKind::Organisation => b'o',
            RecordKind::Usergroup => b'g',
            RecordKind::Agent => b'a',
            RecordKind::Team => b't',
            RecordKind::Department => b'd',
            RecordKind::Credential => b'k',
            RecordKind::EmailAccount => b'e',
            RecordKind::MailSettings => b'm',
            RecordKind::Subscriptions => b's',
            RecordKind::AutoResponses => b'r',
            RecordKind::SeenMail => b'i',
            RecordKind::SavedFilter => b'f',
            RecordKind::AgentPreferences => b'p',
            RecordKind::Settings => b'h',
            RecordKind::Snippet => b'n',
            RecordKind::Macro => b'x',
        }
    }

    /// Name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::User => "user",
            RecordKind::Organisation => "organisation",
            RecordKind::Usergroup => "usergroup",
            RecordKind::Agent => "agent",
            RecordKind::Team => "team",
            RecordKind::Department => "department",
            RecordKind::Credential => "credential",
            RecordKind::EmailAccount => "email_account",
            RecordKind::MailSettings => "mail_settings",
            RecordKind::Subscriptions => "subscriptions",
            RecordKind::AutoResponses => "auto_responses",
            RecordKind::SeenMail => "seen_mail",
            RecordKind::SavedFilter => "saved_filter",
            RecordKind::AgentPreferences => "agent_preferences",
            RecordKind::Settings => "settings",
            RecordKind::Snippet => "snippet",
            RecordKind::Macro => "macro",
        }
    }
}

/// A record in the directory (people and configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// A user.
    User(User),
    /// An organisation.
    Organisation(Organisation),
    /// A usergroup.
    Usergroup(Usergroup),
    /// An agent.
    Agent(Agent),
    /// A team.
    Team(Team),
    /// A department.
    Department(Department),
    /// A credential (password hash, API key hash, validation token hash).
    Credential(crate::credential::Credential),
    /// An email account.
    EmailAccount(EmailAccount),
    /// The installation's mail settings.
    MailSettings(MailSettings),
    /// An agent's notification subscriptions.
    Subscriptions(Subscriptions),
    /// When a user got auto-responses (the rate limit's window).
    AutoResponses(AutoResponseLog),
    /// A mail taken in (duplicate detection).
    SeenMail(SeenMail),
    /// A custom filter an agent saved.
    SavedFilter(Box<crate::filters::saved::SavedFilter>),
    /// An agent's own settings.
    AgentPreferences(crate::people::preferences::AgentPreferences),
    /// The helpdesk-wide settings.
    Settings(crate::admin::Settings),
    /// A snippet.
    Snippet(Box<crate::snippets::Snippet>),
    /// A macro.
    Macro(Box<crate::macros::Macro>),
}

/// A unique key a record claims: an email address, a domain, a name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UniqueKey(pub String);

impl UniqueKey {
    /// The key of a user's email address.
    pub fn user_email(e: &Email) -> UniqueKey {
        UniqueKey(format!("user-email:{e}"))
    }
    /// The key of an agent's email address.
    pub fn agent_email(e: &Email) -> UniqueKey {
        UniqueKey(format!("agent-email:{e}"))
    }
    /// The key of an email account's address.
    pub fn account_email(e: &Email) -> UniqueKey {
        UniqueKey(format!("account-email:{e}"))
    }
    /// The key of an organisation's email domain.
    pub fn domain(d: &str) -> UniqueKey {
        UniqueKey(format!("domain:{d}"))
    }
    /// The key of a saved filter's name: unique per owner (case-insensitive).
    pub fn saved_filter_name(owner: AgentId, name: &str) -> UniqueKey {
        UniqueKey(format!("saved-filter-name:{}:{}", owner.0, name.trim().to_lowercase()))
    }
    /// The key of a name of `kind` (case-insensitive).
    pub fn name(kind: RecordKind, name: &str) -> UniqueKey {
        UniqueKey(format!("{}-name:{}", kind.as_str(), name.trim().to_lowercase()))
    }
}

impl Record {
    /// Kind and id.
    pub fn key(&self) -> (RecordKind, u64) {
        match self {
            Record::User(r) => (RecordKind::User, r.id.0),
            Record::Organisation(r) => (RecordKind::Organisation, r.id.0),
            Record::Usergroup(r) => (RecordKind::Usergroup, r.id.0),
            Record::Agent(r) => (RecordKind::Agent, r.id.0),
            Record::Team(r) => (RecordKind::Team, r.id.0),
            Record::Department(r) => (RecordKind::Department, r.id.0),
            Record::Credential(r) => (RecordKind::Credential, r.id.0),
            Record::EmailAccount(r) => (RecordKind::EmailAccount, r.id.0),
            Record::MailSettings(_) => (RecordKind::MailSettings, 1),
            Record::Subscriptions(r) => (RecordKind::Subscriptions, r.agent.0),
            Record::AutoResponses(r) => (RecordKind::AutoResponses, r.user.0),
            Record::SeenMail(r) => (RecordKind::SeenMail, r.key),
            Record::SavedFilter(r) => (RecordKind::SavedFilter, r.id.0),
            Record::AgentPreferences(r) => (RecordKind::AgentPreferences, r.agent.0),
            Record::Settings(_) => (RecordKind::Settings, 1),
            Record::Snippet(r) => (RecordKind::Snippet, r.id.0),
            Record::Macro(r) => (RecordKind::Macro, r.id.0),
        }
    }

    /// The unique keys this record holds.
    pub fn unique_keys(&self) -> Vec<UniqueKey> {
        match self {
            Record::User(u) => u.emails.iter().map(UniqueKey::user_email).collect(),
            Record::Organisation(o) => {
                let mut k: Vec<_> = o.email_domains.iter().map(|d| UniqueKey::domain(d)).collect();
                k.push(UniqueKey::name(RecordKind::Organisation, &o.name));
                k
            }
            Record::Usergroup(g) => vec![UniqueKey::name(RecordKind::Usergroup, &g.name)],
            Record::Agent(a) => vec![UniqueKey::agent_email(&a.email)],
            Record::Team(t) => vec![UniqueKey::name(RecordKind::Team, &t.name)],
            Record::Department(d) => vec![UniqueKey::name(RecordKind::Department, &d.name)],
            Record::Credential(c) => vec![c.unique_key()],
            Record::EmailAccount(a) => vec![UniqueKey::account_email(&a.address)],
            Record::SavedFilter(f) => vec![UniqueKey::saved_filter_name(f.owner, &f.filter.name)],
            Record::Snippet(s) => vec![UniqueKey(crate::snippets::Snippet::name_key(s.owner, &s.snippet))],
            Record::Macro(m) => vec![UniqueKey(m.name_key())],
            Record::MailSettings(_)
            | Record::Subscriptions(_)
            | Record::AutoResponses(_)
            | Record::SeenMail(_)
            | Record::AgentPreferences(_)
            | Record::Settings(_) => vec![],
        }
    }
}

/// An admin change: directory records written and removed, configuration
/// values written and removed, and the audit entry that says who did it,
/// written together or not at all ([`Store::admin_commit`]). The record
/// writes keep [`Store::put_record`]'s unique-key rules.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminCommit {
    /// Records to write (claiming their unique keys), in order, after the
    /// removals: a record may take over the keys of one removed here.
    pub put: Vec<Record>,
    /// Records to remove (releasing their unique keys), before the writes.
    pub delete: Vec<(RecordKind, u64)>,
    /// Configuration values to write or (`None`) remove: namespace, name, value.
    pub config: Vec<(String, String, Option<serde_json::Value>)>,
    /// The audit entry; its `seq` is given by the store.
    pub audit: crate::admin::AuditEntry,
}

impl AdminCommit {
    /// A commit of just an audit entry (a login, an API key shown once).
    pub fn audit_only(audit: crate::admin::AuditEntry) -> AdminCommit {
        AdminCommit::records(Vec::new(), audit)
    }

    /// A commit writing `put` with its audit entry.
    pub fn records(put: Vec<Record>, audit: crate::admin::AuditEntry) -> AdminCommit {
        AdminCommit { put, delete: Vec::new(), config: Vec::new(), audit }
    }
}

/// A change another process made to a store several processes share
/// (PostgreSQL), as [`Store::subscribe`] hands it out: what a process must
/// hear of to drop what it caches and to show other nodes' work live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// A ticket commit, from version `before` (0: created) to `after`
    /// (0: purged).
    Ticket {
        /// The ticket.
        ticket: TicketId,
        /// Its version before the commit.
        before: u64,
        /// Its version after it.
        after: u64,
    },
    /// A directory record was written or removed.
    Record {
        /// Its kind's one-letter tag ([`RecordKind::tag`]).
        tag: u8,
        /// Its id.
        id: u64,
    },
    /// A configuration value was written or removed ([`Store::put_config`]).
    Config {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// A message an application sent to every process ([`Store::announce`]).
    App {
        /// The application's channel name.
        channel: String,
        /// What it said.
        body: serde_json::Value,
    },
    /// Notices may have been missed (the feed reconnected): anything cached
    /// from the store must be read again.
    Resync,
}

/// Longest [`Notice`] a shared store carries, in bytes of JSON
/// (PostgreSQL's `NOTIFY` payload limit is 8000).
pub const MAX_NOTICE_BYTES: usize = 7900;

/// A storage backend. See the module docs for the rules every implementation keeps.
pub trait Store: IdSource + Send + Sync {
    /// The current state of a ticket.
    fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError>;
    /// A ticket's log, oldest first (empty when there is no such ticket).
    fn events(&self, id: TicketId) -> Result<Vec<TicketEvent>, StoreError>;
    /// The events of a ticket's log with a version greater than `version`,
    /// oldest first: what happened since someone saw the ticket at `version`
    /// (see [`concurrency`](crate::concurrency)). Exactly
    /// `events(id)` without the first `version` events; backends override
    /// it to read only the tail (this default reads the whole log).
    fn events_after(&self, id: TicketId, version: u64) -> Result<Vec<TicketEvent>, StoreError> {
        let mut events = self.events(id)?;
        events.retain(|e| e.version > version);
        Ok(events)
    }
    /// Applies a commit atomically (see the module docs).
    fn commit(&self, commit: &Commit) -> Result<(), StoreError>;
    /// Applies commits of different tickets atomically, all or none (a
    /// merge, a split, a link change both tickets): each is checked and
    /// written as [`commit`](Store::commit) would, a conflict on any one
    /// writes none. Two commits of one ticket are refused.
    fn commit_all(&self, commits: &[Commit]) -> Result<(), StoreError>;
    /// Up to `limit` index keys starting with `prefix`, in key order, strictly
    /// after `after` when given (cursor pagination).
    fn scan_index(
        &self,
        prefix: &[u8],
        after: Option<&IndexKey>,
        limit: usize,
    ) -> Result<Vec<IndexKey>, StoreError>;
    /// A counter's value (0 when never touched).
    fn counter(&self, key: &CounterKey) -> Result<i64, StoreError>;
    /// The highest ticket id stored, if any. Purging the newest ticket lowers
    /// it: ids come from [`IdSource::next_id`], never from this.
    fn last_ticket_id(&self) -> Result<Option<TicketId>, StoreError>;
    /// Writes a directory record, claiming its unique keys and releasing the
    /// ones its previous version held. Durable when it returns.
    fn put_record(&self, record: &Record) -> Result<(), StoreError>;
    /// Removes a directory record and releases its unique keys; `false`
    /// when there was none. Durable when it returns. Ids are never reused.
    fn delete_record(&self, kind: RecordKind, id: u64) -> Result<bool, StoreError>;
    /// A directory record.
    fn record(&self, kind: RecordKind, id: u64) -> Result<Option<Record>, StoreError>;
    /// Up to `limit` records of `kind` with id greater than `after`, by id.
    fn records(&self, kind: RecordKind, after: u64, limit: usize) -> Result<Vec<Record>, StoreError>;
    /// The record holding a unique key.
    fn lookup(&self, key: &UniqueKey) -> Result<Option<(RecordKind, u64)>, StoreError>;
    /// Up to `limit` outbox items after `after`, ordered by key (ticket,
    /// version, position). Purging a ticket removes its items.
    fn outbox(&self, after: Option<OutboxKey>, limit: usize) -> Result<Vec<OutboxItem>, StoreError>;
    /// Records a failed attempt (attempts, backoff, error) on an item still
    /// in the outbox; returns `false` when it is gone.
    fn reschedule(&self, item: &OutboxItem) -> Result<bool, StoreError>;
    /// Keeps `bytes` under the content address `id` (see
    /// [`blob_id`](crate::mail::blob_id)); writing an id again is a no-op.
    fn put_blob(&self, id: &str, bytes: &[u8]) -> Result<(), StoreError>;
    /// The bytes kept under `id`.
    fn blob(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Makes every acknowledged write durable.
    fn flush(&self) -> Result<(), StoreError>;
    /// Writes (or, with `None`, removes) a named configuration value in a
    /// namespace (`trigger`, `escalation`, `sla`): rule definitions admins
    /// edit. Names are 1 to 200 bytes without NUL.
    fn put_config(
        &self,
        namespace: &str,
        name: &str,
        value: Option<&serde_json::Value>,
    ) -> Result<(), StoreError>;
    /// Every configuration value in a namespace, by name.
    fn configs(&self, namespace: &str) -> Result<Vec<(String, serde_json::Value)>, StoreError>;
    /// Every namespace holding a configuration value, in byte order.
    fn config_namespaces(&self) -> Result<Vec<String>, StoreError>;
    /// Up to `limit` blob ids after `after`, in byte order.
    fn blob_ids(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, StoreError>;
    /// The highest id of `kind` handed out so far (0: none yet).
    fn id_mark(&self, kind: IdKind) -> Result<u64, StoreError>;
    /// Makes ids of `kind` handed out from now on greater than `mark` (a
    /// lower mark changes nothing): a store filled by copying another.
    fn raise_id_mark(&self, kind: IdKind, mark: u64) -> Result<(), StoreError>;
    /// Applies an admin change atomically with its audit entry (see
    /// [`AdminCommit`]) and returns the entry's position in the audit log
    /// (1, 2, 3, ... in the order commits were applied). Durable when it
    /// returns. A refused record write (a unique key held by another
    /// record) applies nothing, the audit entry included.
    fn admin_commit(&self, commit: &AdminCommit) -> Result<u64, StoreError>;
    /// Up to `limit` audit entries with a position below `before` (all when
    /// `None`), newest first. The audit log is append-only: nothing in the
    /// store's API removes or changes an entry.
    fn audit_log(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<crate::admin::AuditEntry>, StoreError>;

    // ----- filters (issue 3) -----

    /// Every non-zero counter whose key starts with `prefix`, in key order.
    fn scan_counters(&self, prefix: &[u8]) -> Result<Vec<(CounterKey, i64)>, StoreError>;
    /// The non-empty filter streams of one (family, owner, status), one per
    /// department, with their sizes, in department order: what a filter page
    /// or count reads first. The default scans the counters; a store that
    /// keeps them in memory can answer without copying keys.
    fn stream_sizes(
        &self,
        family: crate::index::Family,
        owner: u64,
        status: crate::Status,
    ) -> Result<Vec<(crate::index::Stream, u64)>, StoreError> {
        Ok(self
            .scan_counters(&crate::index::counter_group_prefix(family, owner, status))?
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .filter_map(|(k, n)| Some((crate::index::Stream::of_counter(&k)?, n as u64)))
            .collect())
    }
    /// A number that changes whenever a directory record is written, or
    /// `None` when the store does not track one. Callers may keep what they
    /// derive from records (e.g. the agents to notify) while it stays the
    /// same; read it before reading the records.
    fn directory_epoch(&self) -> Option<u64> {
        None
    }
    /// Whether other processes may write this store at the same time
    /// (PostgreSQL): callers then must not trust what they cached without
    /// listening to [`subscribe`](Store::subscribe).
    fn shared(&self) -> bool {
        false
    }
    /// The changes other processes make from now on, for a store they
    /// share (`None` for a store only this process writes). Each call gives
    /// a receiver of its own; a dropped receiver is forgotten.
    fn subscribe(&self) -> Option<std::sync::mpsc::Receiver<Notice>> {
        None
    }
    /// Tells every other process sharing the store (a [`Notice::App`] on
    /// their [`subscribe`](Store::subscribe) feeds); a no-op for a store
    /// only this process writes. Bodies over [`MAX_NOTICE_BYTES`] are
    /// refused with [`StoreError::Backend`].
    fn announce(&self, _channel: &str, _body: &serde_json::Value) -> Result<(), StoreError> {
        Ok(())
    }
    /// A number that changes whenever a rule definition (a configuration
    /// value outside the applications' `app:` namespaces,
    /// [`put_config`](Store::put_config)) is written, here or, for a shared
    /// store, by any process; `None` when the store does not track one.
    /// Callers may keep what they derive from the rules (compiled rules)
    /// while it stays the same; read it before reading the values. A shared
    /// store reads it from the database, so a rule saved by one process is
    /// used by every other's next command.
    fn config_epoch(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
    /// One configuration value ([`put_config`](Store::put_config)). The
    /// default reads the namespace.
    fn config(&self, namespace: &str, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        Ok(self.configs(namespace)?.into_iter().find(|(n, _)| n == name).map(|(_, v)| v))
    }
    /// Claims up to `limit` outbox items due at `now` for `lease`: until the
    /// lease ends, or the item is rescheduled or removed, no other claim (by
    /// any process) returns it, so two delivery workers never hold one item.
    /// A worker that dies leaves its items to others once the lease ends.
    /// Items come oldest ticket first.
    fn claim_outbox(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
        lease: std::time::Duration,
    ) -> Result<Vec<OutboxItem>, StoreError>;
    /// Counts one hit on the rate-limit `bucket` (a client address, an
    /// account) in the fixed window of length `window` that holds `now`,
    /// and returns the window's hits so far, this one included. Only a
    /// store several processes share counts, so that every node sees every
    /// node's hits; the default `None` tells the caller to count in its own
    /// process.
    fn count_hit(
        &self,
        bucket: &str,
        window: std::time::Duration,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let _ = (bucket, window, now);
        Ok(None)
    }
    /// Runs `work` unless another holder (in any process) runs work under
    /// the same `name` now; returns whether it ran. A holder that dies
    /// releases it (for periodic sweeps that one node at a time runs).
    fn exclusive(&self, name: &str, work: &mut dyn FnMut()) -> Result<bool, StoreError>;
    /// A ticket's list row, kept in the same commit as its state. The default
    /// derives it from the full state; stores keep it separately so a list does
    /// not read message threads.
    fn summary(&self, id: TicketId) -> Result<Option<TicketSummary>, StoreError> {
        Ok(self.ticket(id)?.as_ref().map(TicketSummary::from))
    }
    /// [`summary`](Store::summary), shared: a store that caches summaries
    /// hands out its cached one without copying it.
    fn summary_shared(&self, id: TicketId) -> Result<Option<std::sync::Arc<TicketSummary>>, StoreError> {
        Ok(self.summary(id)?.map(std::sync::Arc::new))
    }
    /// The summaries of `ids`, in their order (`None` for an id with no
    /// ticket): the rows of a page. The default reads them one by one (right
    /// for a store that caches them); a store behind a network reads them
    /// in one round trip.
    #[allow(clippy::type_complexity)]
    fn summaries(&self, ids: &[TicketId]) -> Result<Vec<Option<std::sync::Arc<TicketSummary>>>, StoreError> {
        ids.iter().map(|id| self.summary_shared(*id)).collect()
    }
}
