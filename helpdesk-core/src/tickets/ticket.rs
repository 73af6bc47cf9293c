//! Tickets: properties, statuses, urgency, messages and notes.
//!
//! A [`Ticket`] is never edited directly: it is what its [`TicketEvent`]s fold to
//! (see [`Ticket::from_events`]).

use crate::error::TicketError;
use crate::escalation::EscalationState;
use crate::event::{Change, TicketEvent};
use crate::ids::*;
use crate::people::FieldValue;
use crate::sla::SlaStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A ticket's status: always exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The next action is the helpdesk's.
    AwaitingAgent,
    /// The helpdesk replied and waits for the user.
    AwaitingUser,
    /// Cannot be actioned yet: waiting on a third party.
    Pending,
    /// Not expected to get more responses.
    Resolved,
    /// Hidden: marked as spam.
    Spam,
    /// Hidden: from an email address that is not yet confirmed.
    Validating,
    /// Hidden: deleted (can be restored until purged).
    Deleted,
}

impl Status {
    /// Every status, in display order.
    pub const ALL: [Status; 7] = [
        Status::AwaitingAgent,
        Status::AwaitingUser,
        Status::Pending,
        Status::Resolved,
        Status::Spam,
        Status::Validating,
        Status::Deleted,
    ];

    /// Spam, validating and deleted tickets are kept out of every list but their own.
    ///
    /// ```
    /// use helpdesk_core::Status;
    /// assert!(Status::Spam.is_hidden());
    /// assert!(!Status::Pending.is_hidden());
    /// ```
    pub fn is_hidden(self) -> bool {
        matches!(self, Status::Spam | Status::Validating | Status::Deleted)
    }

    /// A stable snake_case name (`awaiting_agent`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::AwaitingAgent => "awaiting_agent",
            Status::AwaitingUser => "awaiting_user",
            Status::Pending => "pending",
            Status::Resolved => "resolved",
            Status::Spam => "spam",
            Status::Validating => "validating",
            Status::Deleted => "deleted",
        }
    }

    /// A small stable number, used in index keys.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Status {
    type Err = TicketError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| TicketError::UnknownStatus(s.to_string()))
    }
}

/// Urgency, 1 (low) to 10 (high). Out-of-range values cannot be built.
///
/// ```
/// use helpdesk_core::Urgency;
/// assert_eq!(Urgency::new(10).unwrap().get(), 10);
/// assert!(Urgency::new(11).is_err());
/// assert!(Urgency::new(0).is_err());
/// assert_eq!(Urgency::new(9).unwrap().raised_by(5).get(), 10);
/// assert_eq!(Urgency::new(2).unwrap().raised_by(-5).get(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u8")]
pub struct Urgency(u8);

impl Urgency {
    /// The lowest urgency.
    pub const MIN: Urgency = Urgency(1);
    /// The highest urgency.
    pub const MAX: Urgency = Urgency(10);

    /// Checks the range 1..=10.
    pub fn new(v: i64) -> Result<Urgency, TicketError> {
        if (1..=10).contains(&v) {
            Ok(Urgency(v as u8))
        } else {
            Err(TicketError::UrgencyOutOfRange(v))
        }
    }

    /// The value, 1 to 10.
    pub fn get(self) -> u8 {
        self.0
    }

    /// Raised (or, with a negative `by`, lowered) and clamped to 1..=10.
    pub fn raised_by(self, by: i64) -> Urgency {
        Urgency((self.0 as i64).saturating_add(by).clamp(1, 10) as u8)
    }
}

impl Default for Urgency {
    fn default() -> Self {
        Urgency::MIN
    }
}

impl TryFrom<i64> for Urgency {
    type Error = TicketError;
    fn try_from(v: i64) -> Result<Self, Self::Error> {
        Urgency::new(v)
    }
}

impl From<Urgency> for u8 {
    fn from(u: Urgency) -> u8 {
        u.0
    }
}

impl fmt::Display for Urgency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a ticket came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// An incoming email on an email account.
    Email,
    /// The user web portal.
    Portal,
    /// A website embed (contact form on another site).
    Embed,
    /// An agent, on a user's behalf.
    Agent,
    /// The library or HTTP API.
    Api,
}

impl Channel {
    /// Channels where the submitter proves nothing about their address, so
    /// validation applies when it is switched on.
    pub fn needs_validation(self) -> bool {
        matches!(self, Channel::Email | Channel::Portal | Channel::Embed)
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    /// The owner or a CC'd user.
    User(UserId),
    /// An agent.
    Agent(AgentId),
}

/// A file attached to a message or note (metadata; the bytes live in a blob store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name as uploaded.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// Where the content is kept (e.g. a content hash).
    pub blob: String,
}

impl Attachment {
    /// Checks the metadata: a file name without path separators, a `type/subtype`
    /// content type, and a blob reference.
    pub fn validate(&self) -> Result<(), TicketError> {
        let name = self.filename.trim();
        if name.is_empty() || name.len() > 255 || name.contains(['/', '\\', '\0']) {
            return Err(TicketError::InvalidAttachment(format!("bad file name {:?}", self.filename)));
        }
        let ct_ok = self.content_type.split_once('/').is_some_and(|(a, b)| {
            !a.is_empty() && !b.is_empty() && !self.content_type.contains(char::is_whitespace)
        });
        if !ct_ok {
            return Err(TicketError::InvalidAttachment(format!(
                "bad content type {:?} for {name}",
                self.content_type
            )));
        }
        if self.blob.trim().is_empty() {
            return Err(TicketError::InvalidAttachment(format!("no blob reference for {name}")));
        }
        Ok(())
    }
}

/// A message on a ticket: visible to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Number within the ticket.
    pub id: PostId,
    /// Who wrote it.
    pub author: Author,
    /// The text.
    pub body: String,
    /// When it was posted.
    pub at: DateTime<Utc>,
    /// How it arrived.
    pub channel: Channel,
    /// Attached files.
    pub attachments: Vec<Attachment>,
}

/// A note: written by an agent, visible to agents only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Number within the ticket (shared numbering with messages).
    pub id: PostId,
    /// The agent who wrote it, or `None` when the system did (a trigger).
    pub agent: Option<AgentId>,
    /// The text.
    pub body: String,
    /// When it was posted.
    pub at: DateTime<Utc>,
    /// Attached files.
    pub attachments: Vec<Attachment>,
}

/// A ticket: a user's question, problem or complaint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// Unique, increasing id.
    pub id: TicketId,
    /// Number of events in its log; the optimistic-concurrency version.
    pub version: u64,
    /// Subject (never empty).
    pub subject: String,
    /// Current status.
    pub status: Status,
    /// The status it had before it was deleted or marked spam, for restoring.
    pub status_before_hidden: Option<Status>,
    /// Department.
    pub department: DepartmentId,
    /// Assigned agent.
    pub agent: Option<AgentId>,
    /// Assigned team.
    pub team: Option<TeamId>,
    /// The owner.
    pub user: UserId,
    /// CC'd users.
    pub ccs: BTreeSet<UserId>,
    /// Following agents.
    pub followers: BTreeSet<AgentId>,
    /// Urgency 1 to 10.
    pub urgency: Urgency,
    /// Free tags.
    pub labels: BTreeSet<String>,
    /// Custom field values.
    pub fields: BTreeMap<String, FieldValue>,
    /// How it was created.
    pub channel: Channel,
    /// A ticket this one follows up (a reply to a resolved ticket, when so configured).
    pub linked_to: Option<TicketId>,
    /// Messages, oldest first.
    pub messages: Vec<Message>,
    /// Agent-only notes, oldest first.
    pub notes: Vec<Note>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time of the last event.
    pub updated_at: DateTime<Utc>,
    /// Time of the last user message.
    pub last_user_reply_at: Option<DateTime<Utc>>,
    /// Time of the last agent message.
    pub last_agent_reply_at: Option<DateTime<Utc>>,
    /// When the ticket entered its current status.
    pub status_since: DateTime<Utc>,
    /// SLA state per policy that applies (changed by `sla` events).
    #[serde(default)]
    pub sla: BTreeMap<String, SlaStatus>,
    /// Escalation state per escalation measuring the current status
    /// (changed by `escalation` events).
    #[serde(default)]
    pub escalations: BTreeMap<String, EscalationState>,
    /// Merged into another, linked to others (left out when neither; kept
    /// last, as stored tickets without it read back with none).
    #[serde(default, skip_serializing_if = "Relations::is_empty")]
    pub relations: Relations,
}

/// How a ticket relates to others.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relations {
    /// The ticket this one was merged into (it takes no more commands).
    pub merged_into: Option<TicketId>,
    /// Related tickets (each links back).
    pub linked: BTreeSet<TicketId>,
}

impl Relations {
    /// Neither merged nor linked.
    pub fn is_empty(&self) -> bool {
        self.merged_into.is_none() && self.linked.is_empty()
    }
}

impl Ticket {
    /// Rebuilds a ticket from its log. The first event must be `Created`.
    ///
    /// ```
    /// # use helpdesk_core::*;
    /// # let (t, events) = helpdesk_core::testing::sample_ticket();
    /// assert_eq!(Ticket::from_events(&events).unwrap(), t);
    /// ```
    pub fn from_events(events: &[TicketEvent]) -> Result<Ticket, TicketError> {
        let (first, rest) = events.split_first().ok_or(TicketError::EmptyLog)?;
        let mut t = Ticket::created(first)?;
        for e in rest {
            t.apply(e)?;
        }
        Ok(t)
    }

    fn created(e: &TicketEvent) -> Result<Ticket, TicketError> {
        let Change::Created {
            subject,
            status,
            department,
            agent,
            team,
            user,
            ccs,
            urgency,
            labels,
            fields,
            channel,
            linked_to,
            ..
        } = &e.change
        else {
            return Err(TicketError::CorruptLog {
                ticket: e.ticket,
                reason: "first event is not `created`".into(),
            });
        };
        if e.version != 1 {
            return Err(TicketError::CorruptLog {
                ticket: e.ticket,
                reason: "`created` is not version 1".into(),
            });
        }
        Ok(Ticket {
            id: e.ticket,
            version: 1,
            subject: subject.clone(),
            status: *status,
            status_before_hidden: None,
            department: *department,
            agent: *agent,
            team: *team,
            user: *user,
            ccs: ccs.clone(),
            followers: BTreeSet::new(),
            urgency: *urgency,
            labels: labels.clone(),
            fields: fields.clone(),
            channel: *channel,
            linked_to: *linked_to,
            relations: Relations::default(),
            messages: Vec::new(),
            notes: Vec::new(),
            created_at: e.at,
            updated_at: e.at,
            last_user_reply_at: None,
            last_agent_reply_at: None,
            status_since: e.at,
            sla: BTreeMap::new(),
            escalations: BTreeMap::new(),
        })
    }

    /// Applies one event. Events must come in version order.
    pub fn apply(&mut self, e: &TicketEvent) -> Result<(), TicketError> {
        if e.ticket != self.id || e.version != self.version + 1 {
            return Err(TicketError::CorruptLog {
                ticket: self.id,
                reason: format!(
                    "event {} v{} does not follow {} v{}",
                    e.ticket, e.version, self.id, self.version
                ),
            });
        }
        match &e.change {
            Change::Created { .. } => {
                return Err(TicketError::CorruptLog {
                    ticket: self.id,
                    reason: "second `created` event".into(),
                })
            }
            Change::Subject { to, .. } => self.subject = to.clone(),
            Change::Status { from, to } => {
                // Deleting or marking spam remembers the status to restore
                // (validating included, so a restore cannot skip validation).
                let removed = |s: &Status| matches!(s, Status::Deleted | Status::Spam);
                if removed(to) && !removed(from) {
                    self.status_before_hidden = Some(*from);
                } else if !removed(to) {
                    self.status_before_hidden = None;
                }
                self.status = *to;
                self.status_since = e.at;
            }
            Change::Department { to, .. } => self.department = *to,
            Change::Agent { to, .. } => self.agent = *to,
            Change::Team { to, .. } => self.team = *to,
            Change::Owner { to, .. } => self.user = *to,
            Change::Urgency { to, .. } => self.urgency = *to,
            Change::CcAdded { user } => {
                self.ccs.insert(*user);
            }
            Change::CcRemoved { user } => {
                self.ccs.remove(user);
            }
            Change::FollowerAdded { agent } => {
                self.followers.insert(*agent);
            }
            Change::FollowerRemoved { agent } => {
                self.followers.remove(agent);
            }
            Change::LabelAdded { label } => {
                self.labels.insert(label.clone());
            }
            Change::LabelRemoved { label } => {
                self.labels.remove(label);
            }
            Change::Field { key, to, .. } => match to {
                Some(v) => {
                    self.fields.insert(key.clone(), v.clone());
                }
                None => {
                    self.fields.remove(key);
                }
            },
            Change::MessageAdded { message } => {
                match message.author {
                    Author::User(_) => self.last_user_reply_at = Some(message.at),
                    Author::Agent(_) => self.last_agent_reply_at = Some(message.at),
                }
                self.messages.push(message.clone());
            }
            Change::NoteAdded { note } => self.notes.push(note.clone()),
            Change::Queued { .. }
            | Change::Delivered { .. }
            | Change::Macro { .. }
            | Change::SplitFrom { .. } => {}
            Change::Merged { messages, notes, .. } => {
                for m in messages {
                    let last = match m.author {
                        Author::User(_) => &mut self.last_user_reply_at,
                        Author::Agent(_) => &mut self.last_agent_reply_at,
                    };
                    *last = (*last).max(Some(m.at));
                }
                self.messages.extend(messages.iter().cloned());
                self.messages.sort_by_key(|m| (m.at, m.id));
                self.notes.extend(notes.iter().cloned());
                self.notes.sort_by_key(|n| (n.at, n.id));
            }
            Change::MergedInto { into } => self.relations.merged_into = Some(*into),
            Change::SplitOff { post, .. } => self.messages.retain(|m| m.id != *post),
            Change::Linked { ticket } => {
                self.relations.linked.insert(*ticket);
            }
            Change::Unlinked { ticket } => {
                self.relations.linked.remove(ticket);
            }
            Change::Sla { policy, to, .. } => match to {
                Some(s) => {
                    self.sla.insert(policy.clone(), s.clone());
                }
                None => {
                    self.sla.remove(policy);
                }
            },
            Change::Escalation { escalation, to, .. } => match to {
                Some(s) => {
                    self.escalations.insert(escalation.clone(), s.clone());
                }
                None => {
                    self.escalations.remove(escalation);
                }
            },
        }
        self.version = e.version;
        self.updated_at = e.at;
        Ok(())
    }

    /// The id the next message or note gets.
    pub fn next_post_id(&self) -> PostId {
        PostId((self.messages.len() + self.notes.len()) as u32 + 1)
    }

    /// Whether `user` may see and reply to this ticket (the owner or a CC).
    pub fn is_participant(&self, user: UserId) -> bool {
        self.user == user || self.ccs.contains(&user)
    }

    /// Neither an agent nor a team.
    pub fn is_unassigned(&self) -> bool {
        self.agent.is_none() && self.team.is_none()
    }
}
