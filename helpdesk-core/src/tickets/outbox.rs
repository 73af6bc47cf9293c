//! The outbox: effects a change causes outside the store (notifications,
//! webhooks), written in the same commit as the change so a crash neither
//! loses one nor sends one for a change that was not kept. Workers deliver
//! them after the commit and record each delivery in the ticket log
//! ([`Change::Delivered`](crate::Change::Delivered)) in the same commit that
//! removes the item from the outbox.

use crate::ids::*;
use crate::people::Email;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifies an outbox item: the ticket, the version whose commit created
/// it, and its position in that commit. Unique and stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OutboxKey {
    /// The ticket.
    pub ticket: TicketId,
    /// The ticket version created by the commit that queued the item.
    pub version: u64,
    /// Position within that commit.
    pub seq: u32,
}

impl fmt::Display for OutboxKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/v{}/{}", self.ticket, self.version, self.seq)
    }
}

/// Who a notification is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// A user (owner or CC).
    User(UserId),
    /// An agent.
    Agent(AgentId),
    /// Every agent of a team.
    Team(TeamId),
    /// Any address (e.g. a manager's), from a trigger.
    Address(Email),
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recipient::User(u) => write!(f, "{u}"),
            Recipient::Agent(a) => write!(f, "{a}"),
            Recipient::Team(t) => write!(f, "{t}"),
            Recipient::Address(e) => write!(f, "{e}"),
        }
    }
}

/// How a notification is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryChannel {
    /// Email.
    Email,
    /// The agent interface's notifications bay.
    InApp,
}

/// A notification to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Who.
    pub recipient: Recipient,
    /// How.
    pub channel: DeliveryChannel,
    /// Why: the kind of change (`new_ticket`, `user_reply`, `agent_reply`,
    /// `note`, `assignment`, `status`, `updated`, or a trigger's name).
    pub reason: String,
    /// A template name, when a trigger chose one.
    pub template: Option<String>,
}

/// A webhook call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// The URL to POST to.
    pub url: String,
    /// Who asked for it (a trigger's name).
    pub origin: String,
}

/// An effect to carry out after the commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Effect {
    /// Send a notification.
    Notify(Notification),
    /// Call a webhook with the ticket as JSON.
    Webhook(Webhook),
}

/// An effect waiting in the outbox, with its delivery attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    /// Identity.
    pub key: OutboxKey,
    /// What to do.
    pub effect: Effect,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not to be tried before this time (backoff).
    pub not_before: DateTime<Utc>,
    /// The last failure.
    pub last_error: Option<String>,
}

impl OutboxItem {
    /// A new item, due at once.
    pub fn new(key: OutboxKey, effect: Effect, now: DateTime<Utc>) -> Self {
        OutboxItem { key, effect, queued_at: now, attempts: 0, not_before: now, last_error: None }
    }

    /// The item after a failed attempt at `now`: exponential backoff from 30 s,
    /// doubling, capped at 1 h.
    ///
    /// ```
    /// # use helpdesk_core::outbox::*;
    /// # use helpdesk_core::*;
    /// # let now = helpdesk_core::testing::t0();
    /// let key = OutboxKey { ticket: TicketId(1), version: 2, seq: 0 };
    /// let hook = Effect::Webhook(Webhook { url: "http://127.0.0.1:9/".into(), origin: "t".into() });
    /// let item = OutboxItem::new(key, hook, now).failed(now, "connection refused");
    /// assert_eq!(item.attempts, 1);
    /// assert_eq!((item.not_before - now).num_seconds(), 30);
    /// assert_eq!((item.failed(now, "again").not_before - now).num_seconds(), 60);
    /// ```
    pub fn failed(mut self, now: DateTime<Utc>, error: &str) -> Self {
        self.attempts += 1;
        let secs = 30i64.saturating_mul(1 << (self.attempts - 1).min(20)).min(3600);
        self.not_before = now + chrono::Duration::seconds(secs);
        self.last_error = Some(error.chars().take(500).collect());
        self
    }
}

/// A short description of an effect for logs: `notify agent:1 by email (new_ticket)`.
///
/// ```
/// # use helpdesk_core::outbox::*;
/// # use helpdesk_core::AgentId;
/// let n = Effect::Notify(Notification {
///     recipient: Recipient::Agent(AgentId(1)),
///     channel: DeliveryChannel::Email,
///     reason: "new_ticket".into(),
///     template: None,
/// });
/// assert_eq!(describe(&n), "notify agent:1 by email (new_ticket)");
/// ```
pub fn describe(effect: &Effect) -> String {
    match effect {
        Effect::Notify(n) => {
            let by = match n.channel {
                DeliveryChannel::Email => "email",
                DeliveryChannel::InApp => "in-app",
            };
            format!("notify {} by {by} ({})", n.recipient, n.reason)
        }
        Effect::Webhook(w) => format!("webhook {} ({})", w.url, w.origin),
    }
}

/// How a delivery ended, as recorded in the ticket log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum DeliveryOutcome {
    /// Delivered (e.g. accepted by the SMTP server, webhook answered 2xx).
    Sent,
    /// Given up after repeated failures, or not deliverable (no such recipient).
    Failed(String),
    /// Deliberately not sent (e.g. the recipient is the actor, or unsubscribed).
    Skipped(String),
}
