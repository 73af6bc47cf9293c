//! What a conflict is: when an action taken on a stale view of a ticket must
//! be refused, and what its actor missed meanwhile.
//!
//! People act on the ticket as they last loaded it, at some version. By the
//! time their action arrives, more events may have been committed: another
//! agent's change, a user's reply, a trigger or escalation, and a lot of
//! bookkeeping (notification deliveries, SLA clocks, escalation schedules).
//! Refusing every action whose version is stale loses typed work for no
//! reason; applying every action blindly overwrites what others did. The rule
//! kept here (DOMAIN.md, "Concurrency: what a conflict is"):
//!
//! - every [`Change`] touches some [`Aspect`]s of the ticket ([`touches`]);
//!   bookkeeping nobody acts on (`Queued`, `Delivered`, `Sla`, `Escalation`)
//!   touches none ([`is_bookkeeping`]);
//! - every [`Command`] depends on some aspects: the ones it changes, or whose
//!   current value it reads to decide ([`depends_on`]); replies and notes are
//!   appends and depend on none, even a reply that sets a status (the status
//!   is decided on the current state);
//! - an action at version `seen` conflicts exactly when an event after `seen`,
//!   by *another* actor (a person or a rule), touched an aspect the action
//!   depends on ([`check`]). The actor's own changes never block them.
//!
//! An action that does not conflict is decided on the ticket as it is *now*
//! (not as it was at `seen`). Apart from the verdict, [`missed_posts`] lists
//! the messages and notes others added since `seen`, for the notice "2 new
//! messages since you opened this ticket".
//!
//! Everything here is pure: the shell (`helpdesk_store::Helpdesk::execute_seen`)
//! loads the events after the version and calls these functions.
//!
//! ```
//! use helpdesk_core::*;
//! use helpdesk_core::concurrency::{check, depends_on, missed_posts, Aspect};
//! use helpdesk_core::testing::{sample_directory, sample_ticket, t0};
//!
//! let (seen, mut log) = sample_ticket(); // what Alice loaded: version 2
//! let dir = sample_directory();
//! let alice = Actor::Agent(AgentId(1));
//! let bob = Actor::Agent(AgentId(2));
//!
//! // Meanwhile Bob raises the urgency.
//! let raise = Command::SetUrgency { urgency: Urgency::new(7).unwrap() };
//! log.extend(decide(&seen, &raise, &bob, t0(), &dir, &Policy::default()).unwrap());
//! let since = &log[seen.version as usize..];
//!
//! // Alice's reply and her assignment do not depend on the urgency...
//! let reply = Command::AgentReply { body: "On it".into(), attachments: vec![], status: None };
//! assert!(depends_on(&reply).is_empty());
//! assert!(check(&reply, &alice, seen.version, since).is_ok());
//! let assign = Command::AssignAgent { agent: Some(AgentId(1)) };
//! assert!(check(&assign, &alice, seen.version, since).is_ok());
//!
//! // ...but her own urgency change does: Bob changed it after she looked.
//! let lower = Command::AdjustUrgency { by: -1 };
//! let conflict = check(&lower, &alice, seen.version, since).unwrap_err();
//! assert_eq!((conflict.expected, conflict.actual), (2, 3));
//! assert_eq!(conflict.changes[0].aspect, Aspect::Urgency);
//! assert_eq!(conflict.changes[0].actor, bob);
//! assert_eq!(conflict.to_string(), "ticket #1 changed since version 2 (now 3): adjust_urgency depends on \
//!     urgency, and agent:2 changed urgency at version 3 (1 -> 7)");
//!
//! // Bob would not conflict with himself.
//! assert!(check(&lower, &bob, seen.version, since).is_ok());
//! // Nothing new to read: Bob wrote no message.
//! assert!(missed_posts(&alice, seen.version, since).is_empty());
//! ```

use crate::command::Command;
use crate::event::{Actor, Change, TicketEvent};
use crate::ids::{AgentId, TicketId, UserId};
use crate::ticket::{Message, Note};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;

/// A part of a ticket that people act on. Set-valued properties (CCs,
/// followers, labels) and custom fields are one aspect per member or key, so
/// adding two different labels at once is no conflict, and neither is setting
/// two different fields.
///
/// Serialised as `{"aspect": "status"}` or, for the ones naming a member or
/// key, `{"aspect": "label", "of": "vip"}`.
///
/// ```
/// use helpdesk_core::concurrency::Aspect;
/// use helpdesk_core::UserId;
/// assert_eq!(Aspect::Field("plan".into()).to_string(), "field \"plan\"");
/// assert_eq!(serde_json::to_value(Aspect::Cc(UserId(3))).unwrap(), serde_json::json!({"aspect": "cc", "of": 3}));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "aspect", content = "of")]
pub enum Aspect {
    /// The status (including hidden: deleted, spam).
    Status,
    /// The subject.
    Subject,
    /// The department.
    Department,
    /// The assigned agent.
    Agent,
    /// The assigned team.
    Team,
    /// The owner.
    Owner,
    /// The urgency.
    Urgency,
    /// Whether this user is CC'd.
    Cc(UserId),
    /// Whether this agent follows.
    Follower(AgentId),
    /// Whether this label is set.
    Label(String),
    /// The custom field with this key.
    Field(String),
    /// The messages and notes. Appended to, never edited: no command depends
    /// on it (see [`missed_posts`] for what a writer is shown instead).
    Conversation,
}

impl fmt::Display for Aspect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aspect::Status => f.write_str("status"),
            Aspect::Subject => f.write_str("subject"),
            Aspect::Department => f.write_str("department"),
            Aspect::Agent => f.write_str("agent"),
            Aspect::Team => f.write_str("team"),
            Aspect::Owner => f.write_str("owner"),
            Aspect::Urgency => f.write_str("urgency"),
            Aspect::Cc(u) => write!(f, "cc {u}"),
            Aspect::Follower(a) => write!(f, "follower {a}"),
            Aspect::Label(l) => write!(f, "label {l:?}"),
            Aspect::Field(k) => write!(f, "field {k:?}"),
            Aspect::Conversation => f.write_str("conversation"),
        }
    }
}

/// Whether a change is bookkeeping nobody acts on: outbox items queued and
/// their delivery outcomes, SLA clock and state changes, escalation
/// schedules. Such a change touches no [`Aspect`] and never makes an action
/// fail. (What an SLA or escalation *does* to the ticket, such as raising the
/// urgency or adding a note, is a separate event by the rule, and counts.)
///
/// ```
/// use helpdesk_core::concurrency::is_bookkeeping;
/// use helpdesk_core::*;
/// assert!(is_bookkeeping(&Change::Sla { policy: "first reply".into(), from: None, to: None }));
/// assert!(!is_bookkeeping(&Change::Urgency { from: Urgency::MIN, to: Urgency::MAX }));
/// ```
pub fn is_bookkeeping(change: &Change) -> bool {
    matches!(
        change,
        Change::Queued { .. } | Change::Delivered { .. } | Change::Sla { .. } | Change::Escalation { .. }
    )
}

/// The aspects a change touches, each with its value before and after as
/// JSON (the shape the ticket itself serialises to; membership aspects are
/// `false`/`true`; `null` is "none"). Empty for bookkeeping.
///
/// `Created` touches every aspect it sets (status, subject, department,
/// agent, team, owner, urgency, each CC, label and field): an action taken
/// "at version 0" has seen none of them.
fn touched(change: &Change) -> Vec<(Aspect, Value, Value)> {
    let yes = || Value::Bool(true);
    let no = || Value::Bool(false);
    match change {
        Change::Created {
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
            ..
        } => {
            let mut out = vec![
                (Aspect::Status, Value::Null, j(status)),
                (Aspect::Subject, Value::Null, j(subject)),
                (Aspect::Department, Value::Null, j(department)),
                (Aspect::Agent, Value::Null, j(agent)),
                (Aspect::Team, Value::Null, j(team)),
                (Aspect::Owner, Value::Null, j(user)),
                (Aspect::Urgency, Value::Null, j(urgency)),
            ];
            out.extend(ccs.iter().map(|u| (Aspect::Cc(*u), no(), yes())));
            out.extend(labels.iter().map(|l| (Aspect::Label(l.clone()), no(), yes())));
            out.extend(fields.iter().map(|(k, v)| (Aspect::Field(k.clone()), Value::Null, j(v))));
            out
        }
        Change::Subject { from, to } => vec![(Aspect::Subject, j(from), j(to))],
        Change::Status { from, to } => vec![(Aspect::Status, j(from), j(to))],
        Change::Department { from, to } => vec![(Aspect::Department, j(from), j(to))],
        Change::Agent { from, to } => vec![(Aspect::Agent, j(from), j(to))],
        Change::Team { from, to } => vec![(Aspect::Team, j(from), j(to))],
        Change::Owner { from, to } => vec![(Aspect::Owner, j(from), j(to))],
        Change::Urgency { from, to } => vec![(Aspect::Urgency, j(from), j(to))],
        Change::CcAdded { user } => vec![(Aspect::Cc(*user), no(), yes())],
        Change::CcRemoved { user } => vec![(Aspect::Cc(*user), yes(), no())],
        Change::FollowerAdded { agent } => vec![(Aspect::Follower(*agent), no(), yes())],
        Change::FollowerRemoved { agent } => vec![(Aspect::Follower(*agent), yes(), no())],
        Change::LabelAdded { label } => vec![(Aspect::Label(label.clone()), no(), yes())],
        Change::LabelRemoved { label } => vec![(Aspect::Label(label.clone()), yes(), no())],
        Change::Field { key, from, to } => vec![(Aspect::Field(key.clone()), j(from), j(to))],
        Change::MessageAdded { message } => vec![(Aspect::Conversation, Value::Null, j(&message.id))],
        Change::NoteAdded { note } => vec![(Aspect::Conversation, Value::Null, j(&note.id))],
        Change::Queued { .. }
        | Change::Delivered { .. }
        | Change::Sla { .. }
        | Change::Escalation { .. }
        | Change::Macro { .. }
        | Change::MergedInto { .. }
        | Change::SplitFrom { .. }
        | Change::Linked { .. }
        | Change::Unlinked { .. } => vec![],
        Change::Merged { messages, notes, .. } => messages
            .iter()
            .map(|m| m.id)
            .chain(notes.iter().map(|n| n.id))
            .map(|id| (Aspect::Conversation, Value::Null, j(&id)))
            .collect(),
        Change::SplitOff { post, .. } => vec![(Aspect::Conversation, j(post), Value::Null)],
    }
}

/// A value as the ticket serialises it. These are plain data types (ids,
/// statuses, strings, field values): turning them into a JSON value cannot
/// fail, and `null` would stand for a value that could not be shown.
fn j<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The aspects a change touches (see [`Aspect`]); empty for bookkeeping
/// ([`is_bookkeeping`]).
///
/// ```
/// use helpdesk_core::concurrency::{touches, Aspect};
/// use helpdesk_core::*;
/// assert_eq!(touches(&Change::LabelAdded { label: "vip".into() }), vec![Aspect::Label("vip".into())]);
/// assert_eq!(touches(&Change::Agent { from: None, to: Some(AgentId(2)) }), vec![Aspect::Agent]);
/// ```
pub fn touches(change: &Change) -> Vec<Aspect> {
    touched(change).into_iter().map(|(a, _, _)| a).collect()
}

/// The aspects a command depends on: the ones it changes, and the ones whose
/// current value it reads to decide. Empty for the appends ([`Command::AgentReply`]
/// — even with a status to set —, [`Command::UserReply`], [`Command::AddNote`]):
/// they never fail for a version.
///
/// | command | depends on |
/// | --- | --- |
/// | `agent_reply`, `user_reply`, `add_note` | nothing |
/// | `set_status`, `delete`, `mark_spam`, `restore` | status |
/// | `set_subject` | subject |
/// | `set_department` | department |
/// | `assign_agent` | agent |
/// | `assign_team` | team |
/// | `set_owner` | owner |
/// | `add_cc`, `remove_cc` | that user's CC |
/// | `follow`, `unfollow` | that agent's following |
/// | `set_urgency`, `adjust_urgency` | urgency |
/// | `add_label`, `remove_label` | that label (as normalised: `" VIP "` is `vip`) |
/// | `set_field` | that field |
///
/// ```
/// use helpdesk_core::concurrency::{depends_on, Aspect};
/// use helpdesk_core::*;
/// assert_eq!(depends_on(&Command::AdjustUrgency { by: 1 }), vec![Aspect::Urgency]);
/// assert_eq!(depends_on(&Command::Restore), vec![Aspect::Status]);
/// assert_eq!(depends_on(&Command::AddLabel { label: " VIP ".into() }), vec![Aspect::Label("vip".into())]);
/// let reply = Command::AgentReply { body: "Done".into(), attachments: vec![], status: Some(Status::Resolved) };
/// assert!(depends_on(&reply).is_empty());
/// ```
pub fn depends_on(cmd: &Command) -> Vec<Aspect> {
    // A label that does not normalise is refused by `decide` anyway; its raw
    // text keeps the dependency well defined until then.
    let label = |l: &str| Aspect::Label(crate::command::normalize_label(l).unwrap_or_else(|_| l.to_string()));
    match cmd {
        Command::UserReply { .. } | Command::AgentReply { .. } | Command::AddNote { .. } => vec![],
        Command::SetStatus { .. } | Command::Delete | Command::MarkSpam | Command::Restore => {
            vec![Aspect::Status]
        }
        Command::SetSubject { .. } => vec![Aspect::Subject],
        Command::SetDepartment { .. } => vec![Aspect::Department],
        Command::AssignAgent { .. } => vec![Aspect::Agent],
        Command::AssignTeam { .. } => vec![Aspect::Team],
        Command::SetOwner { .. } => vec![Aspect::Owner],
        Command::AddCc { user } | Command::RemoveCc { user } => vec![Aspect::Cc(*user)],
        Command::Follow { agent } | Command::Unfollow { agent } => vec![Aspect::Follower(*agent)],
        Command::SetUrgency { .. } | Command::AdjustUrgency { .. } => vec![Aspect::Urgency],
        Command::AddLabel { label: l } | Command::RemoveLabel { label: l } => vec![label(l)],
        Command::SetField { key, .. } => vec![Aspect::Field(key.clone())],
    }
}

/// One change, by someone else, to an aspect an action depended on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictingChange {
    /// The version of the event that made it.
    pub version: u64,
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Who: a person or a rule.
    pub actor: Actor,
    /// What it changed (flattened: `"aspect": "label", "of": "vip"`).
    #[serde(flatten)]
    pub aspect: Aspect,
    /// The value before, as the ticket serialises it (`null`: none; `false`
    /// / `true` for whether a CC, follower or label was there).
    pub from: Value,
    /// The value after, the same way.
    pub to: Value,
}

impl fmt::Display for ConflictingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Value| match v {
            Value::Null => "none".to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        write!(
            f,
            "{} changed {} at version {} ({} -> {})",
            self.actor,
            self.aspect,
            self.version,
            show(&self.from),
            show(&self.to)
        )
    }
}

/// Why an action at a stale version was refused: what it depended on and
/// every change to that by others since the version its actor saw. Nothing
/// was changed; the actor can look at [`changes`](Self::changes), reload
/// (the ticket is now at [`actual`](Self::actual)) and decide again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// The ticket.
    pub ticket: TicketId,
    /// The command refused ([`Command::name`]).
    pub command: String,
    /// The version the actor saw.
    pub expected: u64,
    /// The ticket's version the check was made against.
    pub actual: u64,
    /// What the command depends on ([`depends_on`]).
    pub depends_on: Vec<Aspect>,
    /// The changes by others to those aspects since `expected`, oldest first
    /// (never empty).
    pub changes: Vec<ConflictingChange>,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ticket {} changed since version {} (now {}): {} depends on ",
            self.ticket, self.expected, self.actual, self.command
        )?;
        let deps: Vec<String> = self.depends_on.iter().map(|a| a.to_string()).collect();
        let changes: Vec<String> = self.changes.iter().map(|c| c.to_string()).collect();
        write!(f, "{}, and {}", deps.join(", "), changes.join("; "))
    }
}

impl std::error::Error for Conflict {}

/// Whether `actor` may run `cmd` having seen the ticket at version `seen`,
/// given `since`: the ticket's events after `seen`, oldest first (events at
/// or before `seen` are ignored, so the whole log may be passed).
///
/// It conflicts when an event by another actor touched an aspect the command
/// [depends on](depends_on); the [`Conflict`] lists every such change. The
/// actor's own events never conflict with them, nor does bookkeeping
/// ([`is_bookkeeping`]). With no conflict the caller decides the command on
/// the *current* ticket.
///
/// ```
/// use helpdesk_core::concurrency::check;
/// use helpdesk_core::*;
/// use helpdesk_core::testing::{sample_ticket, t0};
///
/// let (ticket, _) = sample_ticket();
/// let ann = Actor::User(UserId(1));
/// let resolve = Command::SetStatus { status: Status::Resolved };
/// // A delivery outcome and an SLA tick since version 2: bookkeeping.
/// let effect = Effect::Webhook(Webhook { url: "https://example.test/hook".into(), origin: "crm".into() });
/// let since = vec![
///     TicketEvent { ticket: ticket.id, version: 3, at: t0(), actor: Actor::system(),
///         change: Change::Delivered { effect, outcome: DeliveryOutcome::Sent, attempts: 1 } },
///     TicketEvent { ticket: ticket.id, version: 4, at: t0(), actor: Actor::System(SystemActor::Sla("4h".into())),
///         change: Change::Sla { policy: "4h".into(), from: None, to: None } },
/// ];
/// assert!(check(&resolve, &ann, 2, &since).is_ok());
/// ```
pub fn check(cmd: &Command, actor: &Actor, seen: u64, since: &[TicketEvent]) -> Result<(), Conflict> {
    let deps: BTreeSet<Aspect> = depends_on(cmd).into_iter().collect();
    let after: Vec<&TicketEvent> = since.iter().filter(|e| e.version > seen).collect();
    let Some(last) = after.last() else { return Ok(()) };
    if deps.is_empty() {
        return Ok(());
    }
    let changes: Vec<ConflictingChange> = after
        .iter()
        .filter(|e| e.actor != *actor)
        .flat_map(|e| {
            touched(&e.change).into_iter().filter(|(a, _, _)| deps.contains(a)).map(|(aspect, from, to)| {
                ConflictingChange { version: e.version, at: e.at, actor: e.actor.clone(), aspect, from, to }
            })
        })
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    Err(Conflict {
        ticket: last.ticket,
        command: cmd.name().to_string(),
        expected: seen,
        actual: last.version.max(seen),
        depends_on: deps.into_iter().collect(),
        changes,
    })
}

/// A message or note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Post {
    /// A message (visible to the user).
    Message(Message),
    /// A note (agents only).
    Note(Note),
}

/// A message or note someone else added after the version an actor saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MissedPost {
    /// The version of the event that added it.
    pub version: u64,
    /// Who added it (a trigger's note names the trigger).
    pub actor: Actor,
    /// The message or note (flattened: `"kind": "message"` or `"note"`).
    #[serde(flatten)]
    pub post: Post,
}

/// The messages and notes added by others after version `seen`, oldest
/// first: what to show a writer whose reply or note went in ("2 new messages
/// since you opened this ticket"). A user is never shown notes. As with
/// [`check`], `since` may hold older events too; they are skipped.
///
/// ```
/// use helpdesk_core::concurrency::{missed_posts, Post};
/// use helpdesk_core::*;
/// use helpdesk_core::testing::{sample_directory, sample_ticket, t0};
///
/// let (ticket, mut log) = sample_ticket();
/// let dir = sample_directory();
/// let bob = Actor::Agent(AgentId(2));
/// let note = Command::AddNote { body: "Customer is on the phone".into(), attachments: vec![] };
/// log.extend(decide(&ticket, &note, &bob, t0(), &dir, &Policy::default()).unwrap());
///
/// let missed = missed_posts(&Actor::Agent(AgentId(1)), 2, &log);
/// assert!(matches!(&missed[..], [m] if matches!(&m.post, Post::Note(n) if n.body == "Customer is on the phone")));
/// assert!(missed_posts(&Actor::User(UserId(1)), 2, &log).is_empty()); // users never see notes
/// assert!(missed_posts(&bob, 2, &log).is_empty()); // nor anyone their own posts
/// ```
pub fn missed_posts(actor: &Actor, seen: u64, since: &[TicketEvent]) -> Vec<MissedPost> {
    let sees_notes = !matches!(actor, Actor::User(_));
    since
        .iter()
        .filter(|e| e.version > seen && e.actor != *actor)
        .filter_map(|e| {
            let post = match &e.change {
                Change::MessageAdded { message } => Post::Message(message.clone()),
                Change::NoteAdded { note } if sees_notes => Post::Note(note.clone()),
                _ => return None,
            };
            Some(MissedPost { version: e.version, actor: e.actor.clone(), post })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{decide, Policy};
    use crate::event::SystemActor;
    use crate::ids::{DepartmentId, TeamId};
    use crate::outbox::{DeliveryOutcome, Effect, Webhook};
    use crate::people::FieldValue;
    use crate::testing::{sample_directory, sample_ticket, t0};
    use crate::ticket::{Status, Ticket, Urgency};

    const ALICE: Actor = Actor::Agent(AgentId(1));
    const BOB: Actor = Actor::Agent(AgentId(2));
    const ANN: Actor = Actor::User(UserId(1));

    /// A ticket and its log, changed by deciding commands on it.
    struct Log {
        ticket: Ticket,
        events: Vec<TicketEvent>,
        minutes: i64,
    }

    impl Log {
        fn new() -> Self {
            let (ticket, events) = sample_ticket();
            Log { ticket, events, minutes: 0 }
        }
        fn run(&mut self, actor: &Actor, cmd: Command) -> &mut Self {
            self.minutes += 1;
            let at = t0() + chrono::Duration::minutes(self.minutes);
            let new = decide(&self.ticket, &cmd, actor, at, &sample_directory(), &Policy::default())
                .unwrap_or_else(|e| panic!("{} by {actor}: {e}", cmd.name()));
            self.push(new);
            self
        }
        fn push(&mut self, new: Vec<TicketEvent>) {
            for e in &new {
                self.ticket.apply(e).expect("applies");
            }
            self.events.extend(new);
        }
        /// Appends a bookkeeping event (as the delivery worker or a sweep would).
        fn bookkeeping(&mut self, actor: Actor, change: Change) -> &mut Self {
            assert!(is_bookkeeping(&change));
            let e = TicketEvent {
                ticket: self.ticket.id,
                version: self.ticket.version + 1,
                at: t0() + chrono::Duration::minutes(self.minutes),
                actor,
                change,
            };
            self.push(vec![e]);
            self
        }
        fn deliveries(&mut self) -> &mut Self {
            let effect =
                Effect::Webhook(Webhook { url: "https://crm.example/hook".into(), origin: "crm".into() });
            self.bookkeeping(
                Actor::system(),
                Change::Delivered { effect, outcome: DeliveryOutcome::Sent, attempts: 1 },
            )
            .bookkeeping(
                Actor::System(SystemActor::Sla("first reply".into())),
                Change::Sla { policy: "first reply".into(), from: None, to: None },
            )
        }
    }

    fn urgency(n: i64) -> Urgency {
        Urgency::new(n).expect("in range")
    }

    /// Commands an agent may run on the sample ticket (Support, Ann's).
    fn agent_commands() -> Vec<Command> {
        vec![
            Command::AgentReply { body: "On it".into(), attachments: vec![], status: Some(Status::Pending) },
            Command::AddNote { body: "psst".into(), attachments: vec![] },
            Command::SetStatus { status: Status::Resolved },
            Command::SetSubject { subject: "Printer still on fire".into() },
            Command::SetDepartment { department: DepartmentId(2) },
            Command::AssignAgent { agent: Some(AgentId(1)) },
            Command::AssignTeam { team: Some(TeamId(1)) },
            Command::SetOwner { user: UserId(3) },
            Command::AddCc { user: UserId(2) },
            Command::RemoveCc { user: UserId(2) },
            Command::Follow { agent: AgentId(1) },
            Command::Unfollow { agent: AgentId(1) },
            Command::SetUrgency { urgency: urgency(9) },
            Command::AdjustUrgency { by: 2 },
            Command::AddLabel { label: "VIP".into() },
            Command::RemoveLabel { label: "vip".into() },
            Command::Delete,
            Command::MarkSpam,
        ]
    }

    #[test]
    fn a_change_to_what_the_action_depends_on_conflicts_with_a_report() {
        let mut log = Log::new();
        let seen = log.ticket.version;
        log.run(&BOB, Command::SetUrgency { urgency: urgency(5) })
            .deliveries()
            .run(&BOB, Command::AssignAgent { agent: Some(AgentId(2)) })
            .run(&BOB, Command::AdjustUrgency { by: 2 });
        let conflict = check(&Command::SetUrgency { urgency: urgency(9) }, &ALICE, seen, &log.events)
            .expect_err("Bob changed the urgency twice");
        insta::assert_yaml_snapshot!(conflict);
        insta::assert_snapshot!(conflict.to_string());
        // The assignment conflicts too, alone.
        let conflict = check(&Command::AssignAgent { agent: None }, &ALICE, seen, &log.events).unwrap_err();
        assert_eq!(conflict.changes.len(), 1);
        assert_eq!(conflict.changes[0].aspect, Aspect::Agent);
        assert_eq!(
            (conflict.changes[0].from.clone(), conflict.changes[0].to.clone()),
            (Value::Null, 2.into())
        );
    }

    #[test]
    fn a_rule_and_a_user_conflict_like_people() {
        let mut log = Log::new();
        let seen = log.ticket.version;
        let escalation = Actor::System(SystemActor::Escalation("waiting 4h".into()));
        log.run(&escalation, Command::AdjustUrgency { by: 3 })
            .run(&ALICE, Command::AgentReply { body: "Try this".into(), attachments: vec![], status: None })
            .run(
                &ANN,
                Command::UserReply {
                    body: "Did not help".into(),
                    attachments: vec![],
                    channel: crate::ticket::Channel::Portal,
                },
            );
        let urgency = check(&Command::AdjustUrgency { by: 1 }, &BOB, seen, &log.events).unwrap_err();
        let status =
            check(&Command::SetStatus { status: Status::Resolved }, &BOB, seen, &log.events).unwrap_err();
        insta::assert_yaml_snapshot!((urgency, status));
        // Alice's own status change (her reply) is no conflict for her, Ann's is.
        let mine =
            check(&Command::SetStatus { status: Status::Pending }, &ALICE, seen, &log.events).unwrap_err();
        assert_eq!(mine.changes.iter().map(|c| c.actor.clone()).collect::<Vec<_>>(), vec![ANN]);
    }

    #[test]
    fn members_and_keys_are_separate_aspects() {
        let mut log = Log::new();
        log.run(&ALICE, Command::SetDepartment { department: DepartmentId(2) });
        log.run(
            &ALICE,
            Command::SetField { key: "account_number".into(), value: Some(FieldValue::Text("A-1".into())) },
        );
        let seen = log.ticket.version;
        let trigger = Actor::System(SystemActor::Trigger("billing".into()));
        log.run(&trigger, Command::AddLabel { label: "billing".into() })
            .run(&trigger, Command::AddCc { user: UserId(2) })
            .run(
                &ALICE,
                Command::SetField { key: "plan".into(), value: Some(FieldValue::Choice("pro".into())) },
            );
        for ok in [
            Command::AddLabel { label: "vip".into() },
            Command::AddCc { user: UserId(3) },
            Command::SetField { key: "account_number".into(), value: Some(FieldValue::Text("A-2".into())) },
        ] {
            assert_eq!(check(&ok, &Actor::Agent(AgentId(4)), seen, &log.events), Ok(()), "{}", ok.name());
        }
        let label = check(&Command::RemoveLabel { label: " Billing ".into() }, &ALICE, seen, &log.events);
        let cc = check(&Command::RemoveCc { user: UserId(2) }, &ALICE, seen, &log.events);
        let field = check(&Command::SetField { key: "plan".into(), value: None }, &BOB, seen, &log.events);
        insta::assert_yaml_snapshot!([label.unwrap_err(), cc.unwrap_err(), field.unwrap_err()]);
    }

    #[test]
    fn a_department_move_conflicts_with_the_fields_it_clears() {
        let mut log = Log::new();
        log.run(&ALICE, Command::SetDepartment { department: DepartmentId(2) })
            .run(
                &ALICE,
                Command::SetField { key: "plan".into(), value: Some(FieldValue::Choice("pro".into())) },
            )
            .run(
                &ALICE,
                Command::SetField {
                    key: "account_number".into(),
                    value: Some(FieldValue::Text("A-1".into())),
                },
            );
        let seen = log.ticket.version;
        log.run(&ALICE, Command::SetDepartment { department: DepartmentId(1) });
        let conflict = check(&Command::SetField { key: "plan".into(), value: None }, &BOB, seen, &log.events)
            .unwrap_err();
        insta::assert_yaml_snapshot!(conflict);
    }

    #[test]
    fn bookkeeping_never_conflicts() {
        let mut log = Log::new();
        let seen = log.ticket.version;
        log.deliveries().deliveries();
        log.bookkeeping(
            Actor::System(SystemActor::Escalation("waiting 4h".into())),
            Change::Escalation { escalation: "waiting 4h".into(), from: None, to: None },
        );
        for cmd in agent_commands() {
            assert_eq!(check(&cmd, &ALICE, seen, &log.events), Ok(()), "{}", cmd.name());
        }
        assert!(missed_posts(&ALICE, seen, &log.events).is_empty());
    }

    #[test]
    fn appends_never_conflict_and_own_changes_never_block() {
        let mut log = Log::new();
        let seen = log.ticket.version;
        // A trigger changes everything an agent command can depend on (and
        // adds a note: no command depends on the conversation).
        let trigger = Actor::System(SystemActor::Trigger("everything".into()));
        for cmd in agent_commands()
            .into_iter()
            .filter(|c| !matches!(c, Command::AgentReply { .. } | Command::Delete | Command::MarkSpam))
        {
            log.run(&trigger, cmd);
        }
        for cmd in agent_commands() {
            let r = check(&cmd, &ALICE, seen, &log.events);
            assert_eq!(r.is_ok(), depends_on(&cmd).is_empty(), "{}: {r:?}", cmd.name());
            // Its own changes never block the trigger.
            assert_eq!(check(&cmd, &trigger, seen, &log.events), Ok(()), "{}", cmd.name());
            // Nothing changed after the latest version.
            assert_eq!(check(&cmd, &ALICE, log.ticket.version, &log.events), Ok(()));
        }
    }

    #[test]
    fn what_a_command_changes_it_depends_on_apart_from_documented_side_effects() {
        for actor in [ALICE, BOB] {
            for cmd in agent_commands() {
                let (ticket, _) = sample_ticket();
                let Ok(events) = decide(&ticket, &cmd, &actor, t0(), &sample_directory(), &Policy::default())
                else {
                    continue;
                };
                let deps = depends_on(&cmd);
                for e in events {
                    for aspect in touches(&e.change) {
                        let side_effect = match (&cmd, &aspect) {
                            // Appends add a post and may set the status as decided now.
                            (
                                Command::AgentReply { .. } | Command::AddNote { .. },
                                Aspect::Conversation | Aspect::Status,
                            ) => true,
                            // Moving clears fields the new department lacks and unassigns agents who cannot see it.
                            (
                                Command::SetDepartment { .. },
                                Aspect::Field(_) | Aspect::Agent | Aspect::Follower(_),
                            ) => true,
                            // A new owner stops being a CC.
                            (Command::SetOwner { .. }, Aspect::Cc(_)) => true,
                            _ => false,
                        };
                        assert!(deps.contains(&aspect) || side_effect, "{} touched {aspect}", cmd.name());
                    }
                }
            }
        }
    }

    #[test]
    fn created_touches_what_it_sets() {
        let (_, events) = sample_ticket();
        let conflict = check(&Command::SetSubject { subject: "x".into() }, &ALICE, 0, &events).unwrap_err();
        assert_eq!(conflict.changes[0].aspect, Aspect::Subject);
        assert_eq!(conflict.changes[0].to, Value::from("Printer on fire"));
        // But it sets no label or follower.
        assert_eq!(check(&Command::AddLabel { label: "x".into() }, &ALICE, 0, &events), Ok(()));
        assert_eq!(check(&Command::Follow { agent: AgentId(1) }, &ALICE, 0, &events), Ok(()));
    }

    #[test]
    fn missed_posts_are_others_messages_and_notes() {
        let mut log = Log::new();
        let seen = log.ticket.version;
        log.run(
            &ALICE,
            Command::AgentReply { body: "Try turning it off".into(), attachments: vec![], status: None },
        )
        .deliveries()
        .run(
            &ANN,
            Command::UserReply {
                body: "It is off now".into(),
                attachments: vec![],
                channel: crate::ticket::Channel::Email,
            },
        )
        .run(&BOB, Command::AddNote { body: "Ann called too".into(), attachments: vec![] })
        .run(
            &Actor::System(SystemActor::Trigger("vip".into())),
            Command::AddNote { body: "VIP customer".into(), attachments: vec![] },
        );
        let for_alice = missed_posts(&ALICE, seen, &log.events);
        insta::assert_yaml_snapshot!(for_alice);
        let for_ann = missed_posts(&ANN, seen, &log.events);
        assert_eq!(for_ann.len(), 1, "Alice's reply only: no notes, not her own");
        assert!(matches!(&for_ann[0].post, Post::Message(m) if m.body == "Try turning it off"));
        // After the latest version there is nothing to miss.
        assert!(missed_posts(&ALICE, log.ticket.version, &log.events).is_empty());
    }
}
