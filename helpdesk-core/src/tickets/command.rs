//! Commands on tickets and the pure decision function.
//!
//! [`create`] and [`decide`] take the current state, the actor, the time and a
//! [`Directory`] of the people and departments involved, and return the events
//! to append, or a [`TicketError`]. They never change anything themselves.

use crate::error::TicketError;
use crate::event::{Actor, Change, TicketEvent};
use crate::ids::*;
use crate::people::{Agent, Department, FieldValue, Organisation, Team, User};
use crate::ticket::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 255;
/// Longest message or note body, in characters.
pub const MAX_BODY_CHARS: usize = 200_000;

/// What happens when a user replies to a resolved ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReopenPolicy {
    /// The ticket goes back to awaiting agent.
    #[default]
    Reopen,
    /// A new ticket, linked to the resolved one, is opened for the reply.
    NewLinkedTicket,
}

/// Helpdesk-wide settings the rules depend on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Urgency of new tickets (default 1).
    pub default_urgency: Urgency,
    /// Replies to resolved tickets.
    pub reopen: ReopenPolicy,
    /// Tickets by users with an unconfirmed address start as hidden: validating.
    pub require_validation: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { default_urgency: Urgency::MIN, reopen: ReopenPolicy::Reopen, require_validation: false }
    }
}

/// The people and departments a decision may look at, preloaded by the caller.
pub trait Directory {
    /// A department.
    fn department(&self, id: DepartmentId) -> Option<Department>;
    /// An agent.
    fn agent(&self, id: AgentId) -> Option<Agent>;
    /// A team.
    fn team(&self, id: TeamId) -> Option<Team>;
    /// A user.
    fn user(&self, id: UserId) -> Option<User>;
    /// An organisation (for rule conditions; none by default).
    fn organisation(&self, id: OrganisationId) -> Option<Organisation> {
        let _ = id;
        None
    }
}

/// A [`Directory`] held in memory: what the shell loads before deciding.
#[derive(Debug, Clone, Default)]
pub struct DirectorySnapshot {
    /// Departments.
    pub departments: BTreeMap<DepartmentId, Department>,
    /// Agents.
    pub agents: BTreeMap<AgentId, Agent>,
    /// Teams.
    pub teams: BTreeMap<TeamId, Team>,
    /// Users.
    pub users: BTreeMap<UserId, User>,
    /// Organisations.
    pub organisations: BTreeMap<OrganisationId, Organisation>,
}

impl Directory for DirectorySnapshot {
    fn department(&self, id: DepartmentId) -> Option<Department> {
        self.departments.get(&id).cloned()
    }
    fn agent(&self, id: AgentId) -> Option<Agent> {
        self.agents.get(&id).cloned()
    }
    fn team(&self, id: TeamId) -> Option<Team> {
        self.teams.get(&id).cloned()
    }
    fn user(&self, id: UserId) -> Option<User> {
        self.users.get(&id).cloned()
    }
    fn organisation(&self, id: OrganisationId) -> Option<Organisation> {
        self.organisations.get(&id).cloned()
    }
}

/// What the shell must load into a [`DirectorySnapshot`] before deciding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    /// Departments.
    pub departments: BTreeSet<DepartmentId>,
    /// Agents.
    pub agents: BTreeSet<AgentId>,
    /// Teams.
    pub teams: BTreeSet<TeamId>,
    /// Users.
    pub users: BTreeSet<UserId>,
}

impl References {
    /// Adds everything `other` refers to.
    pub fn extend(&mut self, other: References) {
        self.departments.extend(other.departments);
        self.agents.extend(other.agents);
        self.teams.extend(other.teams);
        self.users.extend(other.users);
    }

    /// Adds the actor.
    pub fn actor_of(&mut self, actor: &Actor) {
        match actor {
            Actor::User(u) => {
                self.users.insert(*u);
            }
            Actor::Agent(a) => {
                self.agents.insert(*a);
            }
            Actor::System(_) => {}
        }
    }
}

/// A new ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTicket {
    /// Subject (required).
    pub subject: String,
    /// The first message (required).
    pub body: String,
    /// Department (required).
    pub department: DepartmentId,
    /// Owner.
    pub user: UserId,
    /// Where it came from.
    pub channel: Channel,
    /// Assign to an agent (agents and the system only).
    #[serde(default)]
    pub agent: Option<AgentId>,
    /// Assign to a team (agents and the system only).
    #[serde(default)]
    pub team: Option<TeamId>,
    /// Urgency; the policy default when `None` (agents and the system only).
    #[serde(default)]
    pub urgency: Option<Urgency>,
    /// Labels (agents and the system only).
    #[serde(default)]
    pub labels: BTreeSet<String>,
    /// Custom fields of the department.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldValue>,
    /// CC'd users.
    #[serde(default)]
    pub ccs: BTreeSet<UserId>,
    /// Files on the first message.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Initial status (agents only; default awaiting user for an agent's
    /// ticket, awaiting agent otherwise).
    #[serde(default)]
    pub status: Option<Status>,
    /// The ticket this one follows up.
    #[serde(default)]
    pub linked_to: Option<TicketId>,
    /// Why the owner and CCs get no auto-response (the new-ticket mail): an
    /// automatic reply taken in, a sender who asked for none, a list mail.
    /// Kept in the log's `created` event.
    #[serde(default)]
    pub no_auto_response: Option<String>,
}

impl NewTicket {
    /// A ticket with the required properties; the rest empty.
    ///
    /// ```
    /// use helpdesk_core::*;
    /// let t = NewTicket::new("Printer on fire", "Help!", DepartmentId(1), UserId(7), Channel::Portal);
    /// assert_eq!(t.urgency, None);
    /// ```
    pub fn new(
        subject: impl Into<String>,
        body: impl Into<String>,
        department: DepartmentId,
        user: UserId,
        channel: Channel,
    ) -> Self {
        NewTicket {
            subject: subject.into(),
            body: body.into(),
            department,
            user,
            channel,
            agent: None,
            team: None,
            urgency: None,
            labels: BTreeSet::new(),
            fields: BTreeMap::new(),
            ccs: BTreeSet::new(),
            attachments: Vec::new(),
            status: None,
            linked_to: None,
            no_auto_response: None,
        }
    }

    /// What [`create`] looks up.
    pub fn references(&self, actor: &Actor) -> References {
        let mut r = References::default();
        r.actor_of(actor);
        r.departments.insert(self.department);
        r.users.insert(self.user);
        r.users.extend(self.ccs.iter().copied());
        r.agents.extend(self.agent);
        r.teams.extend(self.team);
        r
    }
}

/// A change to an existing ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    /// The owner or a CC writes a message: the ticket goes to awaiting agent.
    UserReply {
        /// Text.
        body: String,
        /// Files.
        #[serde(default)]
        attachments: Vec<Attachment>,
        /// How it arrived.
        channel: Channel,
    },
    /// An agent writes a message: the ticket goes to awaiting user unless
    /// another status is chosen.
    AgentReply {
        /// Text.
        body: String,
        /// Files.
        #[serde(default)]
        attachments: Vec<Attachment>,
        /// Status to set with the reply (awaiting user when `None`).
        #[serde(default)]
        status: Option<Status>,
    },
    /// An agent (or a trigger) writes a note: agents only, no status change.
    AddNote {
        /// Text.
        body: String,
        /// Files.
        #[serde(default)]
        attachments: Vec<Attachment>,
    },
    /// Set the status.
    SetStatus {
        /// New status.
        status: Status,
    },
    /// Change the subject.
    SetSubject {
        /// New subject.
        subject: String,
    },
    /// Move to another department (fields it does not define are cleared).
    SetDepartment {
        /// New department.
        department: DepartmentId,
    },
    /// Assign (or unassign, with `None`) an agent.
    AssignAgent {
        /// The agent.
        agent: Option<AgentId>,
    },
    /// Assign (or unassign) a team.
    AssignTeam {
        /// The team.
        team: Option<TeamId>,
    },
    /// Change the owner.
    SetOwner {
        /// New owner.
        user: UserId,
    },
    /// CC a user.
    AddCc {
        /// The user.
        user: UserId,
    },
    /// Remove a CC.
    RemoveCc {
        /// The user.
        user: UserId,
    },
    /// Add a follower.
    Follow {
        /// The agent.
        agent: AgentId,
    },
    /// Remove a follower.
    Unfollow {
        /// The agent.
        agent: AgentId,
    },
    /// Set the urgency.
    SetUrgency {
        /// New urgency.
        urgency: Urgency,
    },
    /// Raise (or lower, when negative) the urgency, clamped to 1..=10.
    AdjustUrgency {
        /// Steps.
        by: i64,
    },
    /// Add a label.
    AddLabel {
        /// The label.
        label: String,
    },
    /// Remove a label.
    RemoveLabel {
        /// The label.
        label: String,
    },
    /// Set (or clear, with `None`) a custom field.
    SetField {
        /// Field key.
        key: String,
        /// Value.
        value: Option<FieldValue>,
    },
    /// Delete (hidden; can be restored).
    Delete,
    /// Mark as spam (hidden; can be restored).
    MarkSpam,
    /// Restore a deleted or spam ticket to the status it had.
    Restore,
}

impl Command {
    /// A short name of the command, for messages (`agent_reply`).
    pub fn name(&self) -> &'static str {
        match self {
            Command::UserReply { .. } => "user_reply",
            Command::AgentReply { .. } => "agent_reply",
            Command::AddNote { .. } => "add_note",
            Command::SetStatus { .. } => "set_status",
            Command::SetSubject { .. } => "set_subject",
            Command::SetDepartment { .. } => "set_department",
            Command::AssignAgent { .. } => "assign_agent",
            Command::AssignTeam { .. } => "assign_team",
            Command::SetOwner { .. } => "set_owner",
            Command::AddCc { .. } => "add_cc",
            Command::RemoveCc { .. } => "remove_cc",
            Command::Follow { .. } => "follow",
            Command::Unfollow { .. } => "unfollow",
            Command::SetUrgency { .. } => "set_urgency",
            Command::AdjustUrgency { .. } => "adjust_urgency",
            Command::AddLabel { .. } => "add_label",
            Command::RemoveLabel { .. } => "remove_label",
            Command::SetField { .. } => "set_field",
            Command::Delete => "delete",
            Command::MarkSpam => "mark_spam",
            Command::Restore => "restore",
        }
    }

    /// What [`decide`] looks up for this command on `ticket`.
    pub fn references(&self, ticket: &Ticket, actor: &Actor) -> References {
        let mut r = References::default();
        r.actor_of(actor);
        r.departments.insert(ticket.department);
        match self {
            Command::SetDepartment { department } => {
                r.departments.insert(*department);
            }
            Command::AssignAgent { agent: Some(a) } | Command::Follow { agent: a } => {
                r.agents.insert(*a);
            }
            Command::AssignTeam { team: Some(t) } => {
                r.teams.insert(*t);
            }
            Command::SetOwner { user } | Command::AddCc { user } => {
                r.users.insert(*user);
            }
            _ => {}
        }
        r
    }
}

/// Appends events with consecutive versions.
struct Out {
    ticket: TicketId,
    version: u64,
    at: DateTime<Utc>,
    actor: Actor,
    events: Vec<TicketEvent>,
}

impl Out {
    fn new(ticket: TicketId, version: u64, at: DateTime<Utc>, actor: &Actor) -> Self {
        Out { ticket, version, at, actor: actor.clone(), events: Vec::new() }
    }
    fn push(&mut self, change: Change) {
        self.version += 1;
        self.events.push(TicketEvent {
            ticket: self.ticket,
            version: self.version,
            at: self.at,
            actor: self.actor.clone(),
            change,
        });
    }
}

fn not_permitted(actor: &Actor, action: &'static str, reason: impl Into<String>) -> TicketError {
    TicketError::NotPermitted { actor: actor.to_string(), action, reason: reason.into() }
}

/// Checks a ticket subject: trimmed, not empty, at most the longest allowed.
pub fn check_subject(s: &str) -> Result<String, TicketError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(TicketError::EmptySubject);
    }
    if s.chars().count() > MAX_SUBJECT_CHARS {
        return Err(TicketError::SubjectTooLong(MAX_SUBJECT_CHARS));
    }
    Ok(s.to_string())
}

/// Checks a message body (not empty, at most the longest allowed) and its attachments.
pub fn check_body(s: &str, attachments: &[Attachment]) -> Result<String, TicketError> {
    if s.trim().is_empty() {
        return Err(TicketError::EmptyBody);
    }
    if s.chars().count() > MAX_BODY_CHARS {
        return Err(TicketError::BodyTooLong(MAX_BODY_CHARS));
    }
    for a in attachments {
        a.validate()?;
    }
    Ok(s.trim_end().to_string())
}

/// Normalises a label: trimmed, lower-cased, 1 to 64 characters, no control characters.
///
/// ```
/// assert_eq!(helpdesk_core::command::normalize_label(" VIP ").unwrap(), "vip");
/// assert!(helpdesk_core::command::normalize_label("  ").is_err());
/// ```
pub fn normalize_label(s: &str) -> Result<String, TicketError> {
    let l = s.trim().to_lowercase();
    if l.is_empty() || l.chars().count() > 64 || l.chars().any(char::is_control) {
        return Err(TicketError::InvalidLabel(s.to_string()));
    }
    Ok(l)
}

/// The acting agent, checked: exists, enabled, may see `department`.
fn acting_agent(dir: &dyn Directory, id: AgentId, department: DepartmentId) -> Result<Agent, TicketError> {
    let agent = dir.agent(id).ok_or(TicketError::UnknownAgent(id))?;
    if agent.disabled {
        return Err(TicketError::AgentDisabled(id));
    }
    if !agent.permissions.can_see(department) {
        return Err(TicketError::NoDepartmentAccess { agent: id, department });
    }
    Ok(agent)
}

/// An agent who may be assigned or follow in `department`.
fn assignable_agent(
    dir: &dyn Directory,
    id: AgentId,
    department: DepartmentId,
) -> Result<Agent, TicketError> {
    acting_agent(dir, id, department)
}

/// Decides a new ticket with id `id`: the `created` event and the first message.
///
/// ```
/// # use helpdesk_core::*;
/// # use helpdesk_core::testing::*;
/// let dir = sample_directory();
/// let new = NewTicket::new("Printer on fire", "Help!", DepartmentId(1), UserId(1), Channel::Portal);
/// let events = create(TicketId(1), new, &Actor::User(UserId(1)), t0(), &dir, &Policy::default()).unwrap();
/// let t = Ticket::from_events(&events).unwrap();
/// assert_eq!(t.status, Status::AwaitingAgent);
/// assert_eq!(t.messages.len(), 1);
/// ```
pub fn create(
    id: TicketId,
    new: NewTicket,
    actor: &Actor,
    now: DateTime<Utc>,
    dir: &dyn Directory,
    policy: &Policy,
) -> Result<Vec<TicketEvent>, TicketError> {
    let subject = check_subject(&new.subject)?;
    let body = check_body(&new.body, &new.attachments)?;
    let department = dir.department(new.department).ok_or(TicketError::UnknownDepartment(new.department))?;
    let owner = dir.user(new.user).ok_or(TicketError::UnknownUser(new.user))?;
    let author = match actor {
        Actor::User(u) => {
            if *u != new.user {
                return Err(not_permitted(
                    actor,
                    "create a ticket",
                    "users open tickets only for themselves",
                ));
            }
            if new.channel == Channel::Agent {
                return Err(not_permitted(actor, "create a ticket", "the agent channel is for agents"));
            }
            let agent_only = new.agent.is_some()
                || new.team.is_some()
                || new.urgency.is_some()
                || !new.labels.is_empty()
                || new.status.is_some()
                || new.linked_to.is_some();
            if agent_only {
                return Err(not_permitted(
                    actor,
                    "create a ticket",
                    "assignment, urgency, labels, status and links are set by agents",
                ));
            }
            Author::User(*u)
        }
        Actor::Agent(a) => {
            acting_agent(dir, *a, new.department)?;
            Author::Agent(*a)
        }
        Actor::System(_) => {
            if new.status.is_some() {
                return Err(not_permitted(
                    actor,
                    "create a ticket",
                    "the initial status is chosen by agents",
                ));
            }
            Author::User(new.user)
        }
    };
    let is_user_actor = matches!(actor, Actor::User(_));
    // Fields: known, typed, required ones present; agent-only ones not from users.
    for (key, value) in &new.fields {
        let def = department
            .field(key)
            .ok_or_else(|| TicketError::UnknownField { department: department.id, key: key.clone() })?;
        if def.agent_only && is_user_actor {
            return Err(not_permitted(actor, "set a field", format!("field {key:?} is for agents only")));
        }
        if def.retired {
            return Err(TicketError::RetiredField(key.clone()));
        }
        def.check(value)?;
    }
    for def in department.live_fields() {
        if def.required && !new.fields.contains_key(&def.key) && !(def.agent_only && is_user_actor) {
            return Err(TicketError::MissingField(def.key.clone()));
        }
    }
    if let Some(a) = new.agent {
        assignable_agent(dir, a, new.department)?;
    }
    if let Some(t) = new.team {
        dir.team(t).ok_or(TicketError::UnknownTeam(t))?;
    }
    let mut ccs = BTreeSet::new();
    for cc in &new.ccs {
        dir.user(*cc).ok_or(TicketError::UnknownUser(*cc))?;
        if *cc != new.user {
            ccs.insert(*cc);
        }
    }
    let labels = new.labels.iter().map(|l| normalize_label(l)).collect::<Result<BTreeSet<_>, _>>()?;
    let status = match new.status {
        Some(s) if s.is_hidden() => return Err(TicketError::InitialStatus(s)),
        Some(s) => s,
        None if policy.require_validation && new.channel.needs_validation() && !owner.validated => {
            Status::Validating
        }
        None if matches!(author, Author::Agent(_)) => Status::AwaitingUser,
        None => Status::AwaitingAgent,
    };
    let mut out = Out::new(id, 0, now, actor);
    out.push(Change::Created {
        subject,
        status,
        department: new.department,
        agent: new.agent,
        team: new.team,
        user: new.user,
        ccs,
        urgency: new.urgency.unwrap_or(policy.default_urgency),
        labels,
        fields: new.fields,
        channel: new.channel,
        linked_to: new.linked_to,
        no_auto_response: new.no_auto_response.clone(),
    });
    out.push(Change::MessageAdded {
        message: Message {
            id: PostId(1),
            author,
            body,
            at: now,
            channel: new.channel,
            attachments: new.attachments,
        },
    });
    Ok(out.events)
}

/// Decides a command on an existing ticket: the events to append (empty when
/// the command changes nothing), or why it is refused.
///
/// ```
/// # use helpdesk_core::*;
/// # use helpdesk_core::testing::*;
/// let (ticket, _) = sample_ticket();
/// let dir = sample_directory();
/// let reply = Command::AgentReply { body: "On it".into(), attachments: vec![], status: None };
/// let events = decide(&ticket, &reply, &Actor::Agent(AgentId(1)), t0(), &dir, &Policy::default()).unwrap();
/// assert_eq!(events.len(), 2); // the message, then awaiting agent -> awaiting user
///
/// let note = Command::AddNote { body: "psst".into(), attachments: vec![] };
/// let err = decide(&ticket, &note, &Actor::User(UserId(1)), t0(), &dir, &Policy::default()).unwrap_err();
/// assert!(matches!(err, TicketError::NotPermitted { .. }));
/// ```
pub fn decide(
    ticket: &Ticket,
    cmd: &Command,
    actor: &Actor,
    now: DateTime<Utc>,
    dir: &dyn Directory,
    policy: &Policy,
) -> Result<Vec<TicketEvent>, TicketError> {
    if let Some(into) = ticket.relations.merged_into {
        return Err(TicketError::Merged { ticket: ticket.id, into });
    }
    authorize(ticket, cmd, actor, dir)?;
    let mut out = Out::new(ticket.id, ticket.version, now, actor);
    let hidden_err = || TicketError::Hidden { ticket: ticket.id, status: ticket.status };
    // Deleted and spam tickets accept only restoring, notes and deletion moves.
    if matches!(ticket.status, Status::Deleted | Status::Spam)
        && !matches!(
            cmd,
            Command::Restore
                | Command::Delete
                | Command::MarkSpam
                | Command::AddNote { .. }
                | Command::SetStatus { .. }
        )
    {
        return Err(hidden_err());
    }
    match cmd {
        Command::UserReply { body, attachments, channel } => {
            let Actor::User(u) = actor else { unreachable!("authorize admits only users") };
            let body = check_body(body, attachments)?;
            if ticket.status == Status::Resolved && policy.reopen == ReopenPolicy::NewLinkedTicket {
                return Err(TicketError::ResolvedNeedsFollowUp(ticket.id));
            }
            out.push(Change::MessageAdded {
                message: Message {
                    id: ticket.next_post_id(),
                    author: Author::User(*u),
                    body,
                    at: now,
                    channel: *channel,
                    attachments: attachments.clone(),
                },
            });
            if ticket.status != Status::AwaitingAgent && ticket.status != Status::Validating {
                out.push(Change::Status { from: ticket.status, to: Status::AwaitingAgent });
            }
        }
        Command::AgentReply { body, attachments, status } => {
            let Actor::Agent(a) = actor else { unreachable!("authorize admits only agents") };
            if ticket.status == Status::Validating {
                return Err(TicketError::AwaitingValidation(ticket.id));
            }
            let to = status.unwrap_or(Status::AwaitingUser);
            if to.is_hidden() {
                return Err(TicketError::InvalidStatusChange {
                    from: ticket.status,
                    to,
                    reason: "a reply sets awaiting user, awaiting agent, pending or resolved",
                });
            }
            let body = check_body(body, attachments)?;
            out.push(Change::MessageAdded {
                message: Message {
                    id: ticket.next_post_id(),
                    author: Author::Agent(*a),
                    body,
                    at: now,
                    channel: Channel::Agent,
                    attachments: attachments.clone(),
                },
            });
            if to != ticket.status {
                out.push(Change::Status { from: ticket.status, to });
            }
        }
        Command::AddNote { body, attachments } => {
            let body = check_body(body, attachments)?;
            let agent = match actor {
                Actor::Agent(a) => Some(*a),
                _ => None,
            };
            out.push(Change::NoteAdded {
                note: Note {
                    id: ticket.next_post_id(),
                    agent,
                    body,
                    at: now,
                    attachments: attachments.clone(),
                },
            });
        }
        Command::SetStatus { status } => set_status(ticket, *status, &mut out)?,
        Command::Delete => set_status(ticket, Status::Deleted, &mut out)?,
        Command::MarkSpam => set_status(ticket, Status::Spam, &mut out)?,
        Command::Restore => {
            if !matches!(ticket.status, Status::Deleted | Status::Spam) {
                return Err(TicketError::NotHidden { ticket: ticket.id, status: ticket.status });
            }
            let to = ticket.status_before_hidden.unwrap_or(Status::AwaitingAgent);
            out.push(Change::Status { from: ticket.status, to });
        }
        Command::SetSubject { subject } => {
            let s = check_subject(subject)?;
            if s != ticket.subject {
                out.push(Change::Subject { from: ticket.subject.clone(), to: s });
            }
        }
        Command::SetDepartment { department } => {
            let dept = dir.department(*department).ok_or(TicketError::UnknownDepartment(*department))?;
            if *department != ticket.department {
                out.push(Change::Department { from: ticket.department, to: *department });
                for (key, value) in &ticket.fields {
                    if dept.field(key).is_none_or(|d| d.check(value).is_err()) {
                        out.push(Change::Field { key: key.clone(), from: Some(value.clone()), to: None });
                    }
                }
                // Agents who may not see the new department lose the ticket.
                let blind = |a: &AgentId| dir.agent(*a).is_none_or(|ag| !ag.permissions.can_see(*department));
                if let Some(a) = ticket.agent.filter(blind) {
                    out.push(Change::Agent { from: Some(a), to: None });
                }
                for f in ticket.followers.iter().filter(|f| blind(f)) {
                    out.push(Change::FollowerRemoved { agent: *f });
                }
            }
        }
        Command::AssignAgent { agent } => {
            if let Some(a) = agent {
                assignable_agent(dir, *a, ticket.department)?;
            }
            if *agent != ticket.agent {
                out.push(Change::Agent { from: ticket.agent, to: *agent });
            }
        }
        Command::AssignTeam { team } => {
            if let Some(t) = team {
                dir.team(*t).ok_or(TicketError::UnknownTeam(*t))?;
            }
            if *team != ticket.team {
                out.push(Change::Team { from: ticket.team, to: *team });
            }
        }
        Command::SetOwner { user } => {
            dir.user(*user).ok_or(TicketError::UnknownUser(*user))?;
            if *user != ticket.user {
                if ticket.ccs.contains(user) {
                    out.push(Change::CcRemoved { user: *user });
                }
                out.push(Change::Owner { from: ticket.user, to: *user });
            }
        }
        Command::AddCc { user } => {
            dir.user(*user).ok_or(TicketError::UnknownUser(*user))?;
            if *user != ticket.user && !ticket.ccs.contains(user) {
                out.push(Change::CcAdded { user: *user });
            }
        }
        Command::RemoveCc { user } => {
            if ticket.ccs.contains(user) {
                out.push(Change::CcRemoved { user: *user });
            }
        }
        Command::Follow { agent } => {
            assignable_agent(dir, *agent, ticket.department)?;
            if !ticket.followers.contains(agent) {
                out.push(Change::FollowerAdded { agent: *agent });
            }
        }
        Command::Unfollow { agent } => {
            if ticket.followers.contains(agent) {
                out.push(Change::FollowerRemoved { agent: *agent });
            }
        }
        Command::SetUrgency { urgency } => {
            if *urgency != ticket.urgency {
                out.push(Change::Urgency { from: ticket.urgency, to: *urgency });
            }
        }
        Command::AdjustUrgency { by } => {
            let to = ticket.urgency.raised_by(*by);
            if to != ticket.urgency {
                out.push(Change::Urgency { from: ticket.urgency, to });
            }
        }
        Command::AddLabel { label } => {
            let l = normalize_label(label)?;
            if !ticket.labels.contains(&l) {
                out.push(Change::LabelAdded { label: l });
            }
        }
        Command::RemoveLabel { label } => {
            let l = normalize_label(label)?;
            if ticket.labels.contains(&l) {
                out.push(Change::LabelRemoved { label: l });
            }
        }
        Command::SetField { key, value } => {
            let dept =
                dir.department(ticket.department).ok_or(TicketError::UnknownDepartment(ticket.department))?;
            let def = dept
                .field(key)
                .ok_or_else(|| TicketError::UnknownField { department: dept.id, key: key.clone() })?;
            match value {
                Some(_) if def.retired => return Err(TicketError::RetiredField(key.clone())),
                Some(v) => def.check(v)?,
                None if def.required && !def.retired => return Err(TicketError::MissingField(key.clone())),
                None => {}
            }
            let from = ticket.fields.get(key).cloned();
            if from != *value {
                out.push(Change::Field { key: key.clone(), from, to: value.clone() });
            }
        }
    }
    Ok(out.events)
}

fn set_status(ticket: &Ticket, to: Status, out: &mut Out) -> Result<(), TicketError> {
    let from = ticket.status;
    if from == to {
        return Ok(());
    }
    if to == Status::Validating {
        return Err(TicketError::InvalidStatusChange {
            from,
            to,
            reason: "only new tickets from unconfirmed addresses await validation",
        });
    }
    out.push(Change::Status { from, to });
    Ok(())
}

/// Who may do what. Checks the actor exists, may see the department, and
/// holds the permission the command needs.
fn authorize(ticket: &Ticket, cmd: &Command, actor: &Actor, dir: &dyn Directory) -> Result<(), TicketError> {
    let touches_hidden = |s: Status| matches!(s, Status::Deleted | Status::Spam);
    let deletes = match cmd {
        Command::Delete | Command::MarkSpam | Command::Restore => true,
        Command::SetStatus { status } => touches_hidden(*status) || touches_hidden(ticket.status),
        _ => false,
    };
    match actor {
        Actor::User(u) => {
            let user = dir.user(*u).ok_or(TicketError::UnknownUser(*u))?;
            if !ticket.is_participant(user.id) {
                return Err(not_permitted(
                    actor,
                    cmd.name(),
                    format!("not a participant of ticket {}", ticket.id),
                ));
            }
            match cmd {
                Command::UserReply { .. } => Ok(()),
                // Only from a visible status: resolving must not restore a
                // deleted or spam ticket, nor skip email validation.
                Command::SetStatus { status: Status::Resolved } if ticket.user == *u => {
                    if ticket.status.is_hidden() {
                        Err(not_permitted(
                            actor,
                            "resolve",
                            format!("ticket {} is {}", ticket.id, ticket.status),
                        ))
                    } else {
                        Ok(())
                    }
                }
                Command::AddNote { .. } => {
                    Err(not_permitted(actor, "add a note", "notes are for agents only"))
                }
                Command::AgentReply { .. } => {
                    Err(not_permitted(actor, "reply as an agent", "users reply as users"))
                }
                _ => Err(not_permitted(actor, cmd.name(), "only agents change tickets")),
            }
        }
        Actor::Agent(a) => {
            let agent = acting_agent(dir, *a, ticket.department)?;
            match cmd {
                Command::UserReply { .. } => {
                    return Err(not_permitted(actor, "reply as a user", "agents reply with agent_reply"))
                }
                Command::SetDepartment { department } if !agent.permissions.can_see(*department) => {
                    return Err(TicketError::NoDepartmentAccess { agent: *a, department: *department })
                }
                Command::AssignAgent { agent: to } => {
                    // "May take a ticket away from another agent or assign it to someone else."
                    let changes = ticket.agent != *to;
                    let takes_from_other = changes && ticket.agent.is_some_and(|cur| cur != *a);
                    let gives_to_other = changes && to.is_some_and(|t| t != *a);
                    if (takes_from_other || gives_to_other) && !agent.permissions.may_reassign {
                        return Err(not_permitted(actor, "reassign", "needs the reassign permission"));
                    }
                }
                _ => {}
            }
            if deletes && !agent.permissions.may_delete {
                return Err(not_permitted(actor, cmd.name(), "needs the delete permission"));
            }
            Ok(())
        }
        Actor::System(_) => match cmd {
            Command::UserReply { .. } | Command::AgentReply { .. } => {
                Err(not_permitted(actor, cmd.name(), "messages are written by users and agents"))
            }
            _ => Ok(()),
        },
    }
}
