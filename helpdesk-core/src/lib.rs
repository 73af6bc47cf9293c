//! # helpdesk-core
//!
//! The pure domain of helpdesk-rs: people, departments, tickets, statuses, the
//! ticket log, and the traits storage backends implement. No I/O, no async:
//! time comes from a [`Clock`] passed in, ids from an [`IdSource`].
//!
//! A command on a ticket, by an actor, at a time, gives events or a typed
//! error ([`decide`]); a ticket is what its events fold to
//! ([`Ticket::from_events`]).
//!
//! ```
//! use helpdesk_core::*;
//! use helpdesk_core::testing::{sample_directory, t0};
//!
//! let dir = sample_directory();
//! let policy = Policy::default();
//! let ann = Actor::User(UserId(1));
//! let alice = Actor::Agent(AgentId(1));
//!
//! let mut log = create(
//!     TicketId(1),
//!     NewTicket::new("Printer on fire", "It is on fire.", DepartmentId(1), UserId(1), Channel::Portal),
//!     &ann, t0(), &dir, &policy,
//! ).unwrap();
//! let ticket = Ticket::from_events(&log).unwrap();
//!
//! let reply = Command::AgentReply { body: "Water, then.".into(), attachments: vec![], status: None };
//! log.extend(decide(&ticket, &reply, &alice, t0(), &dir, &policy).unwrap());
//! let ticket = Ticket::from_events(&log).unwrap();
//! assert_eq!(ticket.status, Status::AwaitingUser);
//!
//! // Bad input is a typed error and changes nothing.
//! let err = decide(&ticket, &Command::SetSubject { subject: "  ".into() }, &alice, t0(), &dir, &policy);
//! assert_eq!(err, Err(TicketError::EmptySubject));
//! ```
#![warn(missing_docs)]

// The areas, one folder each (see DESIGN.md). A lower area never imports a
// higher one, except where `tests/layers.rs` lists it:
// base < people < tickets < rules < filters < notify, mail < (the apps: admin) < store.
pub mod admin;
pub mod base;
pub mod filters;
pub mod mail;
pub mod notify;
pub mod people;
pub mod rules;
pub mod store;
pub mod testing;
pub mod tickets;

// Every module keeps the path it had before the areas were folders.
pub use base::{bytes, calendar, clock, error, ids};
pub use filters::{filter, index};
pub use notify::templates;
pub use people::credential;
pub use rules::{automation, escalation, macros, rule, sla, trigger};
pub use tickets::{command, concurrency, event, files, outbox, relations, snippets, summary, ticket, view};

pub use admin::{AdminError, AuditActor, AuditEntry};
pub use automation::{Outcome, RuleFile, Rules};
pub use clock::{Clock, ManualClock, SystemClock};
pub use command::{
    create, decide, Command, Directory, DirectorySnapshot, NewTicket, Policy, References, ReopenPolicy,
};
pub use concurrency::{Aspect, Conflict, ConflictingChange, MissedPost};
pub use credential::{Credential, CredentialKind, Principal};
pub use error::{DirectoryError, StoreError, TicketError};
pub use escalation::{EscalationDef, EscalationState};
pub use event::{Actor, Change, SystemActor, TicketEvent};
pub use filter::{BuiltIn, CustomFilter, Filter, FilterError, Viewer};
pub use ids::*;
pub use index::{CounterKey, IndexKey};
pub use mail::{EmailAccount, MailSettings};
pub use notify::{NotifyEvent, Scope, Subscription, Subscriptions};
pub use outbox::{
    DeliveryChannel, DeliveryOutcome, Effect, Notification, OutboxItem, OutboxKey, Recipient, Webhook,
};
pub use people::*;
pub use rule::RuleError;
pub use sla::{SlaDef, SlaKind, SlaState, SlaStatus};
pub use store::{
    AdminCommit, Commit, Durability, Notice, Record, RecordKind, Store, UniqueKey, MAX_NOTICE_BYTES,
};
pub use summary::TicketSummary;
pub use ticket::{Attachment, Author, Channel, Message, Note, Relations, Status, Ticket, Urgency};
pub use trigger::{ChainTrace, Trigger, TriggerDef, TriggerEvent};
pub use view::{UserFile, UserMessage, UserTicketView};
