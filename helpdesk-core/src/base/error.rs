//! Typed errors. Every error leaves the helpdesk unchanged.

use crate::ids::*;
use crate::ticket::Status;
use thiserror::Error;

/// Why a command on a ticket was refused.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum TicketError {
    /// The subject is empty or only whitespace.
    #[error("the subject must not be empty")]
    EmptySubject,
    /// The subject is too long.
    #[error("the subject is longer than {0} characters")]
    SubjectTooLong(usize),
    /// A message or note body is empty.
    #[error("the message must not be empty")]
    EmptyBody,
    /// A message or note body is too long.
    #[error("the message is longer than {0} characters")]
    BodyTooLong(usize),
    /// Urgency outside 1..=10.
    #[error("urgency must be between 1 and 10, got {0}")]
    UrgencyOutOfRange(i64),
    /// A status name that does not exist.
    #[error("unknown status {0:?} (expected one of awaiting_agent, awaiting_user, pending, resolved, spam, validating, deleted)")]
    UnknownStatus(String),
    /// No such department.
    #[error("{0} does not exist")]
    UnknownDepartment(DepartmentId),
    /// No such user.
    #[error("{0} does not exist")]
    UnknownUser(UserId),
    /// No such agent.
    #[error("{0} does not exist")]
    UnknownAgent(AgentId),
    /// No such team.
    #[error("{0} does not exist")]
    UnknownTeam(TeamId),
    /// The agent is disabled.
    #[error("{0} is disabled")]
    AgentDisabled(AgentId),
    /// The agent has no permission for the department.
    #[error("{agent} has no access to {department}")]
    NoDepartmentAccess {
        /// The agent.
        agent: AgentId,
        /// The department.
        department: DepartmentId,
    },
    /// The actor may not do this.
    #[error("{actor} may not {action}: {reason}")]
    NotPermitted {
        /// Who tried.
        actor: String,
        /// What they tried.
        action: &'static str,
        /// Why not.
        reason: String,
    },
    /// The ticket is hidden (deleted or spam) and must be restored first.
    #[error("ticket {ticket} is {status}; restore it first")]
    Hidden {
        /// The ticket.
        ticket: TicketId,
        /// Its status.
        status: Status,
    },
    /// The ticket awaits confirmation of its user's email address.
    #[error("ticket {0} awaits validation of the user's email address; approve it (set a status) or wait for the user")]
    AwaitingValidation(TicketId),
    /// Restoring a ticket that is neither deleted nor spam.
    #[error("ticket {ticket} is {status}, not deleted or spam: nothing to restore")]
    NotHidden {
        /// The ticket.
        ticket: TicketId,
        /// Its status.
        status: Status,
    },
    /// A new ticket may not start in this status.
    #[error("a new ticket cannot start as {0}; choose awaiting_agent, awaiting_user, pending or resolved")]
    InitialStatus(Status),
    /// No such ticket.
    #[error("ticket {0} not found")]
    NotFound(TicketId),
    /// The department has no such field.
    #[error("{department} has no field {key:?}")]
    UnknownField {
        /// Department.
        department: DepartmentId,
        /// Field key.
        key: String,
    },
    /// A field value of the wrong type.
    #[error("field {key:?} takes a {expected}, got a {got}")]
    FieldType {
        /// Field key.
        key: String,
        /// Expected type.
        expected: &'static str,
        /// Given type.
        got: &'static str,
    },
    /// A field value that does not fit.
    #[error("field {key:?}: {reason}")]
    FieldValue {
        /// Field key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A retired field was given a value (its old values stay, new ones are refused).
    #[error("field {0:?} is retired: it keeps the values tickets have but takes no new ones")]
    RetiredField(String),
    /// A required field was not given (or would be cleared).
    #[error("field {0:?} is required")]
    MissingField(String),
    /// A label that is empty, too long or has control characters.
    #[error("invalid label {0:?}: labels are 1 to 64 characters without control characters")]
    InvalidLabel(String),
    /// Bad attachment metadata.
    #[error("invalid attachment: {0}")]
    InvalidAttachment(String),
    /// Files over the limits (each file, a message's total, their number).
    #[error("files too large: {0}")]
    FilesTooLarge(String),
    /// No such file on that ticket's post (or not one this person may fetch).
    #[error("ticket {ticket} has no file {n} on {post}")]
    NoSuchFile {
        /// The ticket.
        ticket: crate::ids::TicketId,
        /// The message or note.
        post: crate::ids::PostId,
        /// The file's position on it.
        n: usize,
    },
    /// A status change that is not allowed.
    #[error("cannot change status from {from} to {to}: {reason}")]
    InvalidStatusChange {
        /// Current.
        from: Status,
        /// Requested.
        to: Status,
        /// Why not.
        reason: &'static str,
    },
    /// A user replied to a resolved ticket and the policy opens a follow-up
    /// ticket instead of reopening; the caller creates the follow-up.
    #[error("ticket {0} is resolved; a reply opens a new linked ticket")]
    ResolvedNeedsFollowUp(TicketId),
    /// Purging needs a deleted or spam ticket.
    #[error("ticket {0} must be deleted or spam before it is purged")]
    NotPurgeable(TicketId),
    /// A merge, split or link that cannot be made, and why.
    #[error("{action} refused: {reason}")]
    Relation {
        /// `merge`, `split`, `link` or `unlink`.
        action: &'static str,
        /// Why not.
        reason: String,
    },
    /// The ticket was merged into another: work goes on there.
    #[error("ticket {ticket} was merged into {into}; work on {into}")]
    Merged {
        /// The merged ticket.
        ticket: TicketId,
        /// The ticket it was merged into.
        into: TicketId,
    },
    /// A log without events.
    #[error("the ticket log is empty")]
    EmptyLog,
    /// A log that does not fold.
    #[error("ticket {ticket}: corrupt log: {reason}")]
    CorruptLog {
        /// The ticket.
        ticket: TicketId,
        /// What is wrong.
        reason: String,
    },
}

/// Why a change to users, organisations, agents, teams or departments was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// Not an email address.
    #[error("invalid email address {0:?}")]
    InvalidEmail(String),
    /// Not a domain name.
    #[error("invalid email domain {0:?}")]
    InvalidDomain(String),
    /// A required name is empty.
    #[error("the {0} name must not be empty")]
    EmptyName(&'static str),
    /// A name is too long.
    #[error("the {0} name is longer than {1} characters")]
    NameTooLong(&'static str, usize),
    /// A user needs at least one address.
    #[error("a user needs at least one email address")]
    NoEmail,
    /// The same address twice.
    #[error("email address {0} is listed twice")]
    DuplicateEmail(String),
    /// The address belongs to someone else.
    #[error("email address {email} already belongs to {owner}")]
    EmailTaken {
        /// The address.
        email: String,
        /// Who has it.
        owner: String,
    },
    /// The domain belongs to another organisation.
    #[error("email domain {domain} already belongs to {owner}")]
    DomainTaken {
        /// The domain.
        domain: String,
        /// Which organisation has it.
        owner: String,
    },
    /// The name is used already.
    #[error("a {kind} named {name:?} already exists")]
    NameTaken {
        /// What kind of thing.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// No such record.
    #[error("{0} not found")]
    NotFound(String),
    /// The agent may not see this person (`user 7`, `organisation 3`).
    #[error(
        "you may not see {0}: without the people permission an agent sees only the users and organisations \
         of tickets in their departments (an admin can give it in Admin > Agents)"
    )]
    NotPermitted(String),
    /// A field key that is not `[a-z0-9_]{1,64}`.
    #[error("invalid field key {0:?}: use 1 to 64 of a-z, 0-9 and _")]
    InvalidFieldKey(String),
    /// Two fields with one key.
    #[error("field key {0:?} is defined twice")]
    DuplicateFieldKey(String),
    /// A choice field without options.
    #[error("choice field {0:?} has no options")]
    EmptyChoice(String),
    /// A signature over the limit.
    #[error("a signature has at most {max} characters, this one has {got}")]
    SignatureTooLong {
        /// Its length.
        got: usize,
        /// The limit.
        max: usize,
    },
    /// A time zone that is not an IANA name.
    #[error("unknown time zone {0:?}: use an IANA name such as Europe/London")]
    UnknownTimeZone(String),
}

/// A storage failure.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Someone else changed the ticket first: reload and retry.
    #[error("ticket {ticket} was changed concurrently: expected version {expected}, found {actual}")]
    Conflict {
        /// The ticket.
        ticket: TicketId,
        /// The version the writer started from.
        expected: u64,
        /// The version in the store.
        actual: u64,
    },
    /// A unique key (an email address, a domain, a name) is held by another record.
    #[error("{key} is already taken by {holder}")]
    Unique {
        /// The contested key.
        key: String,
        /// The record holding it.
        holder: String,
    },
    /// The database is locked by another process.
    #[error("the database at {path} is in use by another process (sled allows one process per database)")]
    Locked {
        /// Path.
        path: String,
    },
    /// Stored data that cannot be read back.
    #[error("corrupt data at {key}: {reason}")]
    Corrupt {
        /// Where.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// An I/O or backend failure.
    #[error("storage backend error: {0}")]
    Backend(String),
    /// A commit removes an outbox item that is no longer queued: another
    /// worker (on another node, after this one's lease ran out) recorded it
    /// first. Nothing of the commit was applied.
    #[error("outbox item {0} is no longer queued (another worker recorded it)")]
    OutboxGone(String),
}
