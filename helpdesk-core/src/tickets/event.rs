//! The ticket log: every change is an event with actor, time and before/after.

use crate::escalation::EscalationState;
use crate::ids::*;
use crate::outbox::{DeliveryOutcome, Effect};
use crate::people::FieldValue;
use crate::sla::SlaStatus;
use crate::ticket::{Channel, Message, Note, Status, Urgency};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A part of the system acting by itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum SystemActor {
    /// A trigger, by name.
    Trigger(String),
    /// An escalation, by name.
    Escalation(String),
    /// An SLA policy, by name.
    Sla(String),
    /// An email account, by address.
    EmailAccount(String),
    /// An API key, by its label.
    ApiKey(String),
    /// The helpdesk itself (maintenance, migrations).
    Helpdesk,
}

/// Whoever made a change. The ticket log names it on every event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// A user (owner or CC).
    User(UserId),
    /// An agent.
    Agent(AgentId),
    /// The system: a trigger, escalation, SLA, email account or API key.
    System(SystemActor),
}

impl Actor {
    /// The system itself.
    pub fn system() -> Actor {
        Actor::System(SystemActor::Helpdesk)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(u) => write!(f, "{u}"),
            Actor::Agent(a) => write!(f, "{a}"),
            Actor::System(SystemActor::Helpdesk) => f.write_str("system"),
            Actor::System(SystemActor::Trigger(n)) => write!(f, "trigger {n:?}"),
            Actor::System(SystemActor::Escalation(n)) => write!(f, "escalation {n:?}"),
            Actor::System(SystemActor::Sla(n)) => write!(f, "sla {n:?}"),
            Actor::System(SystemActor::EmailAccount(n)) => write!(f, "email account {n}"),
            Actor::System(SystemActor::ApiKey(n)) => write!(f, "api key {n:?}"),
        }
    }
}

/// What one event changed, with the value before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Change {
    /// The ticket was created with these properties (its first message follows
    /// as a separate event).
    Created {
        /// Subject.
        subject: String,
        /// Initial status.
        status: Status,
        /// Department.
        department: DepartmentId,
        /// Assigned agent.
        agent: Option<AgentId>,
        /// Assigned team.
        team: Option<TeamId>,
        /// Owner.
        user: UserId,
        /// CC'd users.
        ccs: BTreeSet<UserId>,
        /// Urgency.
        urgency: Urgency,
        /// Labels.
        labels: BTreeSet<String>,
        /// Custom field values.
        fields: BTreeMap<String, FieldValue>,
        /// Where it came from.
        channel: Channel,
        /// The ticket it follows up, if any.
        linked_to: Option<TicketId>,
        /// Why no auto-response was sent, when none was (see
        /// [`NewTicket::no_auto_response`](crate::NewTicket::no_auto_response)).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        no_auto_response: Option<String>,
    },
    /// Subject changed.
    Subject {
        /// Before.
        from: String,
        /// After.
        to: String,
    },
    /// Status changed.
    Status {
        /// Before.
        from: Status,
        /// After.
        to: Status,
    },
    /// Department changed.
    Department {
        /// Before.
        from: DepartmentId,
        /// After.
        to: DepartmentId,
    },
    /// Agent assignment changed.
    Agent {
        /// Before.
        from: Option<AgentId>,
        /// After.
        to: Option<AgentId>,
    },
    /// Team assignment changed.
    Team {
        /// Before.
        from: Option<TeamId>,
        /// After.
        to: Option<TeamId>,
    },
    /// Owner changed.
    Owner {
        /// Before.
        from: UserId,
        /// After.
        to: UserId,
    },
    /// Urgency changed.
    Urgency {
        /// Before.
        from: Urgency,
        /// After.
        to: Urgency,
    },
    /// A user was CC'd.
    CcAdded {
        /// The user.
        user: UserId,
    },
    /// A CC was removed.
    CcRemoved {
        /// The user.
        user: UserId,
    },
    /// An agent started following.
    FollowerAdded {
        /// The agent.
        agent: AgentId,
    },
    /// An agent stopped following.
    FollowerRemoved {
        /// The agent.
        agent: AgentId,
    },
    /// A label was added.
    LabelAdded {
        /// The label.
        label: String,
    },
    /// A label was removed.
    LabelRemoved {
        /// The label.
        label: String,
    },
    /// A custom field was set or cleared.
    Field {
        /// Field key.
        key: String,
        /// Before.
        from: Option<FieldValue>,
        /// After.
        to: Option<FieldValue>,
    },
    /// A message was posted (visible to the user).
    MessageAdded {
        /// The message.
        message: Message,
    },
    /// A note was posted (agents only).
    NoteAdded {
        /// The note.
        note: Note,
    },
    /// A trigger or escalation queued a notification or webhook in the
    /// outbox (its delivery is logged later as `Delivered`).
    Queued {
        /// What was queued.
        effect: Effect,
    },
    /// An outbox effect (notification, webhook) was carried out, failed for
    /// good, or was skipped.
    Delivered {
        /// What was delivered.
        effect: Effect,
        /// How it ended.
        outcome: DeliveryOutcome,
        /// Attempts it took.
        attempts: u32,
    },
    /// An SLA policy started, paused, resumed, warned, failed, was met or
    /// stopped applying (the actor is the policy).
    Sla {
        /// The policy.
        policy: String,
        /// Before (`None`: did not apply).
        from: Option<SlaStatus>,
        /// After (`None`: no longer applies).
        to: Option<SlaStatus>,
    },
    /// An escalation was scheduled, fired (`fired` went up), paused or
    /// dropped (the actor is the escalation).
    Escalation {
        /// The escalation.
        escalation: String,
        /// Before.
        from: Option<EscalationState>,
        /// After.
        to: Option<EscalationState>,
    },
    /// An agent applied a macro: the changes after this entry in the same
    /// commit are its actions' (the log shows them as one group).
    Macro {
        /// The macro.
        r#macro: MacroId,
        /// Its name when applied.
        name: String,
    },
    /// Another ticket of the same user was merged into this one: its
    /// messages and notes, renumbered after this ticket's (both kept in
    /// time order).
    Merged {
        /// The merged ticket.
        from: TicketId,
        /// Its messages.
        messages: Vec<Message>,
        /// Its notes.
        notes: Vec<Note>,
    },
    /// This ticket was merged into another (it moves to Deleted in the
    /// same commit and takes no more commands).
    MergedInto {
        /// The ticket that has its messages now.
        into: TicketId,
    },
    /// A user's message left this ticket for a new one.
    SplitOff {
        /// The message.
        post: PostId,
        /// The new ticket.
        into: TicketId,
    },
    /// This ticket was split off another (its first message was that
    /// ticket's message `post`).
    SplitFrom {
        /// The ticket.
        ticket: TicketId,
        /// The message's id there.
        post: PostId,
    },
    /// Linked to a related ticket (which links back).
    Linked {
        /// The other ticket.
        ticket: TicketId,
    },
    /// No longer linked to a ticket.
    Unlinked {
        /// The other ticket.
        ticket: TicketId,
    },
}

impl Change {
    /// A short stable name of the kind of change (`status`, `message_added`).
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Created { .. } => "created",
            Change::Subject { .. } => "subject",
            Change::Status { .. } => "status",
            Change::Department { .. } => "department",
            Change::Agent { .. } => "agent",
            Change::Team { .. } => "team",
            Change::Owner { .. } => "owner",
            Change::Urgency { .. } => "urgency",
            Change::CcAdded { .. } => "cc_added",
            Change::CcRemoved { .. } => "cc_removed",
            Change::FollowerAdded { .. } => "follower_added",
            Change::FollowerRemoved { .. } => "follower_removed",
            Change::LabelAdded { .. } => "label_added",
            Change::LabelRemoved { .. } => "label_removed",
            Change::Field { .. } => "field",
            Change::MessageAdded { .. } => "message_added",
            Change::NoteAdded { .. } => "note_added",
            Change::Queued { .. } => "queued",
            Change::Delivered { .. } => "delivered",
            Change::Sla { .. } => "sla",
            Change::Escalation { .. } => "escalation",
            Change::Macro { .. } => "macro",
            Change::Merged { .. } => "merged",
            Change::MergedInto { .. } => "merged_into",
            Change::SplitOff { .. } => "split_off",
            Change::SplitFrom { .. } => "split_from",
            Change::Linked { .. } => "linked",
            Change::Unlinked { .. } => "unlinked",
        }
    }

    /// Whether a user may see this change in their view of the log (notes,
    /// followers and agent-only details are hidden).
    pub fn visible_to_users(&self) -> bool {
        !matches!(
            self,
            Change::NoteAdded { .. }
                | Change::Queued { .. }
                | Change::Delivered { .. }
                | Change::Sla { .. }
                | Change::Escalation { .. }
                | Change::Macro { .. }
                | Change::Linked { .. }
                | Change::Unlinked { .. }
                | Change::SplitFrom { .. }
                | Change::FollowerAdded { .. }
                | Change::FollowerRemoved { .. }
                | Change::Field { .. }
                | Change::LabelAdded { .. }
                | Change::LabelRemoved { .. }
                | Change::Urgency { .. }
                | Change::Agent { .. }
                | Change::Team { .. }
        )
    }
}

/// One entry of the ticket log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketEvent {
    /// The ticket.
    pub ticket: TicketId,
    /// The ticket's version after this event (1 for `created`).
    pub version: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: Actor,
    /// What.
    pub change: Change,
}
