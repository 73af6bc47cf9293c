//! Notification rules: which agents and users hear about a change, and how.
//!
//! Agents subscribe per [`NotifyEvent`] x [`Scope`] x [`DeliveryChannel`]
//! ([`Subscriptions`]); users get email when their ticket is created (the
//! auto-response) and when an agent replies — never for a note. The actor is
//! never notified of their own change. [`notifications`] turns one change (the
//! ticket before and after, and the events between) into the
//! [`Effect::Notify`]s the shell queues in the outbox, in the same commit.
//!
//! ```
//! use helpdesk_core::*;
//! use helpdesk_core::notify::{notifications, NotifyAgent, Subscriptions};
//! use helpdesk_core::testing::*;
//!
//! let dir = sample_directory();
//! let (before, _) = sample_ticket(); // Ann's ticket, awaiting agent
//! let alice = dir.agents[&AgentId(1)].clone(); // admin: subscribed to everything
//! let bob = dir.agents[&AgentId(2)].clone();
//! let agents = vec![
//!     NotifyAgent { subscriptions: Subscriptions::default_for(&alice), agent: alice },
//!     NotifyAgent { subscriptions: Subscriptions::default_for(&bob), agent: bob },
//! ];
//! let reply = Command::AgentReply { body: "On it".into(), attachments: vec![], status: None };
//! let actor = Actor::Agent(AgentId(2));
//! let events = decide(&before, &reply, &actor, t0(), &dir, &Policy::default()).unwrap();
//! let mut after = before.clone();
//! for e in &events { after.apply(e).unwrap(); }
//!
//! let out = notifications(Some(&before), &after, &events, &actor, &agents);
//! // Ann gets the reply by email; Alice (admin) hears of it on both channels; Bob, the actor, nothing.
//! let to: Vec<String> = out.iter().map(|e| match e {
//!     Effect::Notify(n) => format!("{} {:?} {}", n.recipient, n.channel, n.reason),
//!     _ => unreachable!(),
//! }).collect();
//! assert_eq!(to, ["user:1 Email agent_reply", "agent:1 Email agent_reply", "agent:1 InApp agent_reply"]);
//! ```

pub mod templates;

use crate::event::{Actor, Change, TicketEvent};
use crate::ids::*;
use crate::outbox::{DeliveryChannel, Effect, Notification, Recipient};
use crate::people::Agent;
use crate::ticket::{Author, Ticket};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// What kind of change an agent can subscribe to. The order is from most to
/// least specific: a change that is several of these is reported under the
/// first one the agent subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    /// A ticket was created.
    NewTicket,
    /// The owner or a CC wrote a message.
    UserReply,
    /// An agent wrote a message.
    AgentReply,
    /// An agent (or a trigger) wrote a note.
    Note,
    /// The agent or team assignment changed.
    Assignment,
    /// The status changed.
    Status,
    /// Anything changed.
    AnyChange,
}

impl NotifyEvent {
    /// Every event, most specific first.
    pub const ALL: [NotifyEvent; 7] = [
        NotifyEvent::NewTicket,
        NotifyEvent::UserReply,
        NotifyEvent::AgentReply,
        NotifyEvent::Note,
        NotifyEvent::Assignment,
        NotifyEvent::Status,
        NotifyEvent::AnyChange,
    ];

    /// The notification reason this event is reported under (`new_ticket`,
    /// `user_reply`, `agent_reply`, `note`, `assignment`, `status`, `updated`).
    pub fn reason(self) -> &'static str {
        match self {
            NotifyEvent::NewTicket => "new_ticket",
            NotifyEvent::UserReply => "user_reply",
            NotifyEvent::AgentReply => "agent_reply",
            NotifyEvent::Note => "note",
            NotifyEvent::Assignment => "assignment",
            NotifyEvent::Status => "status",
            NotifyEvent::AnyChange => "updated",
        }
    }
}

/// Which tickets a subscription covers, from the subscribing agent's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Assigned to me (before or after the change).
    Mine,
    /// Assigned to one of my teams (before or after).
    MyTeams,
    /// I follow it (before or after).
    Followed,
    /// Neither an agent nor a team (before or after).
    Unassigned,
    /// Every ticket I may see.
    All,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 5] = [Scope::Mine, Scope::MyTeams, Scope::Followed, Scope::Unassigned, Scope::All];

    /// Whether `ticket` is in this scope for `agent`.
    pub fn covers(self, agent: &Agent, ticket: &Ticket) -> bool {
        match self {
            Scope::Mine => ticket.agent == Some(agent.id),
            Scope::MyTeams => ticket.team.is_some_and(|t| agent.teams.contains(&t)),
            Scope::Followed => ticket.followers.contains(&agent.id),
            Scope::Unassigned => ticket.is_unassigned(),
            Scope::All => true,
        }
    }
}

/// One subscription: an event, in a scope, on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Subscription {
    /// The kind of change.
    pub event: NotifyEvent,
    /// Which tickets.
    pub scope: Scope,
    /// How to be told.
    pub channel: DeliveryChannel,
}

/// An agent's subscriptions. Stored per agent; an agent without a stored set
/// has [`Subscriptions::default_for`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriptions {
    /// The agent.
    pub agent: AgentId,
    /// What the agent is told about.
    pub rules: BTreeSet<Subscription>,
}

impl Subscriptions {
    /// Nothing at all.
    pub fn none(agent: AgentId) -> Self {
        Subscriptions { agent, rules: BTreeSet::new() }
    }

    /// Every event, every scope, every channel.
    pub fn everything(agent: AgentId) -> Self {
        let mut rules = BTreeSet::new();
        for event in NotifyEvent::ALL {
            for scope in Scope::ALL {
                for channel in [DeliveryChannel::Email, DeliveryChannel::InApp] {
                    rules.insert(Subscription { event, scope, channel });
                }
            }
        }
        Subscriptions { agent, rules }
    }

    /// The defaults: an admin is subscribed to everything; any other agent
    /// hears, by email and in the app, of new tickets, user replies and
    /// assignments on tickets assigned to them or that they follow, and in the
    /// app of new unassigned tickets.
    ///
    /// ```
    /// use helpdesk_core::notify::*;
    /// use helpdesk_core::testing::sample_directory;
    /// use helpdesk_core::AgentId;
    /// let dir = sample_directory();
    /// assert_eq!(Subscriptions::default_for(&dir.agents[&AgentId(1)]).rules.len(), 70);
    /// assert_eq!(Subscriptions::default_for(&dir.agents[&AgentId(2)]).rules.len(), 13);
    /// ```
    pub fn default_for(agent: &Agent) -> Self {
        if agent.permissions.admin {
            return Self::everything(agent.id);
        }
        let mut rules = BTreeSet::new();
        for event in [NotifyEvent::NewTicket, NotifyEvent::UserReply, NotifyEvent::Assignment] {
            for scope in [Scope::Mine, Scope::Followed] {
                for channel in [DeliveryChannel::Email, DeliveryChannel::InApp] {
                    rules.insert(Subscription { event, scope, channel });
                }
            }
        }
        rules.insert(Subscription {
            event: NotifyEvent::NewTicket,
            scope: Scope::Unassigned,
            channel: DeliveryChannel::InApp,
        });
        Subscriptions { agent: agent.id, rules }
    }

    /// Adds a subscription.
    pub fn with(mut self, event: NotifyEvent, scope: Scope, channel: DeliveryChannel) -> Self {
        self.rules.insert(Subscription { event, scope, channel });
        self
    }

    /// Whether the agent is subscribed to `event` on `channel` in a scope that
    /// covers the ticket before or after the change.
    pub fn wants(
        &self,
        agent: &Agent,
        event: NotifyEvent,
        channel: DeliveryChannel,
        before: Option<&Ticket>,
        after: &Ticket,
    ) -> bool {
        self.rules.iter().any(|s| {
            s.event == event
                && s.channel == channel
                && (s.scope.covers(agent, after) || before.is_some_and(|b| s.scope.covers(agent, b)))
        })
    }
}

/// An agent with their subscriptions: the directory [`notifications`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyAgent {
    /// The agent.
    pub agent: Agent,
    /// Their subscriptions.
    pub subscriptions: Subscriptions,
}

/// The kinds of change in a batch of events (empty when the batch only
/// records deliveries).
///
/// A ticket's creation counts as [`NotifyEvent::NewTicket`] only (its first
/// message is not also a reply).
pub fn events_of(events: &[TicketEvent]) -> BTreeSet<NotifyEvent> {
    let mut out = BTreeSet::new();
    let created = events.iter().any(|e| matches!(e.change, Change::Created { .. }));
    for e in events {
        let kind = match &e.change {
            // Bookkeeping, not a change anyone subscribes to: deliveries,
            // queued effects, SLA and escalation state (rules notify on
            // those through triggers).
            Change::Delivered { .. }
            | Change::Queued { .. }
            | Change::Sla { .. }
            | Change::Escalation { .. } => continue,
            Change::Created { .. } => Some(NotifyEvent::NewTicket),
            Change::MessageAdded { .. } if created => None,
            Change::MessageAdded { message } => Some(match message.author {
                Author::User(_) => NotifyEvent::UserReply,
                Author::Agent(_) => NotifyEvent::AgentReply,
            }),
            Change::NoteAdded { .. } => Some(NotifyEvent::Note),
            Change::Agent { .. } | Change::Team { .. } => Some(NotifyEvent::Assignment),
            Change::Status { .. } => Some(NotifyEvent::Status),
            _ => None,
        };
        out.extend(kind);
        out.insert(NotifyEvent::AnyChange);
    }
    out
}

/// Why a notification reason is an auto-response: the acknowledgement a user
/// gets when their ticket is created. Outgoing mail for it carries
/// `Auto-Submitted: auto-replied` and is rate-limited per recipient.
pub fn is_auto_response(n: &Notification) -> bool {
    n.reason == NotifyEvent::NewTicket.reason() && matches!(n.recipient, Recipient::User(_))
}

/// The notifications one change causes.
///
/// - Users (the owner and CCs after the change) get email for a new ticket
///   (`new_ticket`, the auto-response) and an agent reply (`agent_reply`);
///   never for notes or anything else, and nothing while the ticket is hidden
///   (spam, deleted, awaiting validation).
/// - Each agent gets at most one notification per channel, under the most
///   specific [`NotifyEvent`] of the change they subscribe to, when the ticket
///   (before or after) is in a subscribed [`Scope`]; only enabled agents who
///   may see the ticket's department.
/// - The actor is never notified.
///
/// Output order is stable: users by id, then agents by id, email before in-app.
pub fn notifications(
    before: Option<&Ticket>,
    after: &Ticket,
    events: &[TicketEvent],
    actor: &Actor,
    agents: &[NotifyAgent],
) -> Vec<Effect> {
    let kinds = events_of(events);
    let mut out = Vec::new();
    if kinds.is_empty() {
        return out;
    }
    let notify = |recipient: Recipient, channel: DeliveryChannel, event: NotifyEvent| {
        Effect::Notify(Notification {
            recipient,
            channel,
            reason: event.reason().to_string(),
            template: None,
        })
    };

    // Users: the owner and CCs.
    let user_event =
        [NotifyEvent::NewTicket, NotifyEvent::AgentReply].into_iter().find(|k| kinds.contains(k));
    // A ticket taken in without an auto-response (an automatic reply, a list
    // mail, a sender who asked for none) tells its users nothing at creation.
    let no_auto_response =
        events.iter().any(|e| matches!(&e.change, Change::Created { no_auto_response: Some(_), .. }));
    let user_event = user_event.filter(|e| !(*e == NotifyEvent::NewTicket && no_auto_response));
    if let Some(event) = user_event.filter(|_| !after.status.is_hidden()) {
        let users: BTreeSet<UserId> = std::iter::once(after.user).chain(after.ccs.iter().copied()).collect();
        for u in users {
            if *actor != Actor::User(u) {
                out.push(notify(Recipient::User(u), DeliveryChannel::Email, event));
            }
        }
    }

    // Agents, by subscription.
    let mut agents: Vec<&NotifyAgent> = agents.iter().collect();
    agents.sort_by_key(|a| a.agent.id);
    for na in agents {
        let agent = &na.agent;
        if agent.disabled || *actor == Actor::Agent(agent.id) || !agent.permissions.can_see(after.department)
        {
            continue;
        }
        for channel in [DeliveryChannel::Email, DeliveryChannel::InApp] {
            let event =
                kinds.iter().copied().find(|k| na.subscriptions.wants(agent, *k, channel, before, after));
            if let Some(event) = event {
                out.push(notify(Recipient::Agent(agent.id), channel, event));
            }
        }
    }
    out
}

impl fmt::Display for NotifyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use crate::*;

    fn dir_agents(dir: &DirectorySnapshot) -> Vec<NotifyAgent> {
        dir.agents
            .values()
            .map(|a| NotifyAgent { subscriptions: Subscriptions::default_for(a), agent: a.clone() })
            .collect()
    }

    fn run(before: &Ticket, cmd: Command, actor: Actor, agents: &[NotifyAgent]) -> (Ticket, Vec<String>) {
        let dir = sample_directory();
        let events = decide(before, &cmd, &actor, t0(), &dir, &Policy::default()).unwrap();
        let mut after = before.clone();
        for e in &events {
            after.apply(e).unwrap();
        }
        let out = notifications(Some(before), &after, &events, &actor, agents);
        (after, out.iter().map(show).collect())
    }

    fn show(e: &Effect) -> String {
        match e {
            Effect::Notify(n) => format!("{} {:?} {}", n.recipient, n.channel, n.reason),
            Effect::Webhook(w) => format!("webhook {}", w.url),
        }
    }

    #[test]
    fn notes_never_reach_users() {
        let dir = sample_directory();
        let (t, _) = sample_ticket();
        let (_, out) = run(
            &t,
            Command::AddNote { body: "psst".into(), attachments: vec![] },
            Actor::Agent(AgentId(2)),
            &dir_agents(&dir),
        );
        assert_eq!(out, ["agent:1 Email note", "agent:1 InApp note"]);
    }

    #[test]
    fn the_actor_is_never_notified() {
        let dir = sample_directory();
        let (t, _) = sample_ticket();
        // Alice (admin, subscribed to everything) replies: nobody but Ann hears.
        let (_, out) = run(
            &t,
            Command::AgentReply { body: "hi".into(), attachments: vec![], status: None },
            Actor::Agent(AgentId(1)),
            &dir_agents(&dir),
        );
        assert_eq!(out, ["user:1 Email agent_reply"]);
        // Ann replies: she hears nothing of it, Alice does.
        let (_, out) = run(
            &t,
            Command::UserReply { body: "more".into(), attachments: vec![], channel: Channel::Email },
            Actor::User(UserId(1)),
            &dir_agents(&dir),
        );
        assert_eq!(out, ["agent:1 Email user_reply", "agent:1 InApp user_reply"]);
    }

    #[test]
    fn ccs_get_agent_replies_and_scopes_follow_assignment() {
        let dir = sample_directory();
        let (t, _) = sample_ticket();
        let agents = dir_agents(&dir);
        let (t, _) = run(&t, Command::AddCc { user: UserId(2) }, Actor::Agent(AgentId(1)), &agents);
        // Bob is assigned by Alice: Bob hears (mine), by both channels.
        let (t, out) =
            run(&t, Command::AssignAgent { agent: Some(AgentId(2)) }, Actor::Agent(AgentId(1)), &agents);
        assert_eq!(out, ["agent:2 Email assignment", "agent:2 InApp assignment"]);
        let (_, out) = run(
            &t,
            Command::AgentReply { body: "done".into(), attachments: vec![], status: None },
            Actor::Agent(AgentId(1)),
            &agents,
        );
        // Bob does not subscribe to agent replies by default.
        assert_eq!(out, ["user:1 Email agent_reply", "user:2 Email agent_reply"]);
    }

    #[test]
    fn department_visibility_and_disabled_agents() {
        let dir = sample_directory();
        let (t, _) = sample_ticket();
        // Bob may only see Support (1); move the ticket to Billing and ask Bob
        // to hear of everything: he still hears nothing about Billing.
        let mut agents = dir_agents(&dir);
        for a in &mut agents {
            a.subscriptions = Subscriptions::everything(a.agent.id);
        }
        let mut billing = t.clone();
        billing.department = DepartmentId(2);
        let (_, out) = run(&billing, Command::AddLabel { label: "x".into() }, Actor::system(), &agents);
        assert_eq!(out, ["agent:1 Email updated", "agent:1 InApp updated"]);
        // In Support Bob hears too; Carol (disabled) never.
        let (_, out) = run(&t, Command::AddLabel { label: "x".into() }, Actor::system(), &agents);
        assert_eq!(
            out,
            [
                "agent:1 Email updated",
                "agent:1 InApp updated",
                "agent:2 Email updated",
                "agent:2 InApp updated"
            ]
        );
    }

    #[test]
    fn new_tickets_acknowledge_users_unless_they_act_themselves() {
        let dir = sample_directory();
        let agents = dir_agents(&dir);
        let new = NewTicket::new("Hi", "Body", DepartmentId(1), UserId(1), Channel::Email);
        let actor = Actor::System(SystemActor::EmailAccount("support@helpdesk.test".into()));
        let events = create(TicketId(5), new.clone(), &actor, t0(), &dir, &Policy::default()).unwrap();
        let t = Ticket::from_events(&events).unwrap();
        let out: Vec<_> = notifications(None, &t, &events, &actor, &agents).iter().map(show).collect();
        assert_eq!(
            out,
            [
                "user:1 Email new_ticket",
                "agent:1 Email new_ticket",
                "agent:1 InApp new_ticket",
                "agent:2 InApp new_ticket"
            ]
        );
        // In the portal, Ann is the actor: no mail to her.
        let mut portal = new;
        portal.channel = Channel::Portal;
        let actor = Actor::User(UserId(1));
        let events = create(TicketId(5), portal, &actor, t0(), &dir, &Policy::default()).unwrap();
        let t = Ticket::from_events(&events).unwrap();
        let out: Vec<_> = notifications(None, &t, &events, &actor, &agents).iter().map(show).collect();
        assert!(!out.iter().any(|s| s.starts_with("user:")), "{out:?}");
    }

    #[test]
    fn deliveries_cause_nothing() {
        let dir = sample_directory();
        let (t, _) = sample_ticket();
        let e = TicketEvent {
            ticket: t.id,
            version: t.version + 1,
            at: t0(),
            actor: Actor::system(),
            change: Change::Delivered {
                effect: Effect::Webhook(Webhook { url: "http://x".into(), origin: "t".into() }),
                outcome: DeliveryOutcome::Sent,
                attempts: 1,
            },
        };
        let mut after = t.clone();
        after.apply(&e).unwrap();
        assert!(notifications(Some(&t), &after, &[e], &Actor::system(), &dir_agents(&dir)).is_empty());
    }
}
