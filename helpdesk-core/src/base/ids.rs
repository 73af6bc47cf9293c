//! Identifiers and the ID source.
//!
//! Every entity has a numeric id wrapped in its own newtype so that a user id
//! can never be passed where an agent id is expected. Ids are allocated by an
//! [`IdSource`]; the stores implement it (an id of a record or ticket that was
//! ever stored is never handed out again, even after a restart), tests can use
//! [`SequentialIds`] for deterministic snapshots.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl From<u64> for $name {
            fn from(v: u64) -> Self {
                Self(v)
            }
        }
    };
}

id_type!(
    /// A ticket id: unique, numeric, assigned in increasing order.
    ///
    /// ```
    /// use helpdesk_core::TicketId;
    /// assert_eq!(TicketId(234).to_string(), "#234");
    /// ```
    TicketId,
    "#"
);
id_type!(
    /// A user (someone the helpdesk helps).
    UserId,
    "user:"
);
id_type!(
    /// An agent (a staff member).
    AgentId,
    "agent:"
);
id_type!(
    /// A team of agents.
    TeamId,
    "team:"
);
id_type!(
    /// A department.
    DepartmentId,
    "department:"
);
id_type!(
    /// An organisation (a company users belong to).
    OrganisationId,
    "organisation:"
);
id_type!(
    /// A usergroup (decides what users may see and do in the portal).
    UsergroupId,
    "usergroup:"
);
id_type!(
    /// A stored credential (a password hash, an API key, an email validation token).
    CredentialId,
    "credential:"
);
id_type!(
    /// An email account (an address linked to a department).
    EmailAccountId,
    "email-account:"
);

id_type!(
    /// A custom filter an agent saved ([`SavedFilter`](crate::filters::saved::SavedFilter)).
    SavedFilterId,
    "filter:"
);

id_type!(
    /// A snippet ([`Snippet`](crate::snippets::Snippet)).
    SnippetId,
    "snippet:"
);

id_type!(
    /// A macro ([`Macro`](crate::macros::Macro)).
    MacroId,
    "macro:"
);

/// A message or note within one ticket, numbered from 1 in order of posting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PostId(pub u32);

impl fmt::Display for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "post:{}", self.0)
    }
}

/// The kinds of id an [`IdSource`] hands out; each has its own sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// [`TicketId`]
    Ticket,
    /// [`UserId`]
    User,
    /// [`AgentId`]
    Agent,
    /// [`TeamId`]
    Team,
    /// [`DepartmentId`]
    Department,
    /// [`OrganisationId`]
    Organisation,
    /// [`UsergroupId`]
    Usergroup,
    /// [`CredentialId`]
    Credential,
    /// [`EmailAccountId`]
    EmailAccount,
    /// [`SavedFilterId`]
    SavedFilter,
    /// [`SnippetId`]
    Snippet,
    /// [`MacroId`]
    Macro,
}

impl IdKind {
    /// Every kind, in a fixed order.
    pub const ALL: [IdKind; 12] = [
        IdKind::Ticket,
        IdKind::User,
        IdKind::Agent,
        IdKind::Team,
        IdKind::Department,
        IdKind::Organisation,
        IdKind::Usergroup,
        IdKind::Credential,
        IdKind::EmailAccount,
        IdKind::SavedFilter,
        IdKind::Snippet,
        IdKind::Macro,
    ];

    /// A short stable name, used in storage keys.
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::Ticket => "ticket",
            IdKind::User => "user",
            IdKind::Agent => "agent",
            IdKind::Team => "team",
            IdKind::Department => "department",
            IdKind::Organisation => "organisation",
            IdKind::Usergroup => "usergroup",
            IdKind::Credential => "credential",
            IdKind::EmailAccount => "email_account",
            IdKind::SavedFilter => "saved_filter",
            IdKind::Snippet => "snippet",
            IdKind::Macro => "macro",
        }
    }
}

/// Hands out ids: each call returns a number greater than every earlier one of
/// the same kind (gaps are allowed, repeats never are). A store's source keeps
/// this across restarts for every id that was stored; an id handed out but
/// never stored (a create that failed, or was cut short by a crash) may be
/// handed out again after a restart.
pub trait IdSource: Send + Sync {
    /// The next id of `kind`.
    fn next_id(&self, kind: IdKind) -> Result<u64, crate::StoreError>;
}

/// An in-process [`IdSource`]: 1, 2, 3, ... per kind. Deterministic, not durable.
///
/// ```
/// use helpdesk_core::{IdKind, IdSource, SequentialIds};
/// let ids = SequentialIds::default();
/// assert_eq!(ids.next_id(IdKind::Ticket).unwrap(), 1);
/// assert_eq!(ids.next_id(IdKind::Ticket).unwrap(), 2);
/// assert_eq!(ids.next_id(IdKind::User).unwrap(), 1);
/// ```
#[derive(Debug, Default)]
pub struct SequentialIds {
    counters: [AtomicU64; IdKind::ALL.len()],
}

impl SequentialIds {
    /// Starts every sequence after `start` (the first id handed out is `start + 1`).
    pub fn starting_after(start: u64) -> Self {
        let s = Self::default();
        for c in &s.counters {
            c.store(start, Ordering::SeqCst);
        }
        s
    }
}

impl IdSource for SequentialIds {
    fn next_id(&self, kind: IdKind) -> Result<u64, crate::StoreError> {
        let i = IdKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        Ok(self.counters[i].fetch_add(1, Ordering::SeqCst) + 1)
    }
}
