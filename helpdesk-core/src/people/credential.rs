//! Credentials kept in the directory: password hashes, API key hashes and email
//! validation token hashes. Only hashes are stored, never a secret itself;
//! hashing and verifying happen in the shell (`helpdesk-store`), this module only
//! describes the records.

use crate::ids::*;
use crate::store::UniqueKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Whose credential it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Principal {
    /// An agent (agent server login, API keys).
    Agent(AgentId),
    /// A user (portal login, email validation).
    User(UserId),
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Agent(a) => write!(f, "{a}"),
            Principal::User(u) => write!(f, "{u}"),
        }
    }
}

/// What a credential is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A login password; `secret_hash` is an argon2 PHC string. One per principal.
    Password,
    /// An API key; `secret_hash` is the SHA-256 (hex) of a 256-bit random key.
    ApiKey,
    /// A one-time email validation token; `secret_hash` is its SHA-256 (hex).
    EmailValidation,
    /// A one-time set-password token (an agent's invitation, a password
    /// reset); `secret_hash` is its SHA-256 (hex). Works for a limited time.
    PasswordSet,
    /// An agent's authenticator app (two-factor login, RFC 6238):
    /// `secret_hash` holds the shared secret itself in base32 (codes are
    /// computed from it), `label` the last time step a code was taken (so
    /// each code works once). One per agent.
    Totp,
    /// A password reset link's token (an agent or a user who forgot their
    /// password); `secret_hash` is its SHA-256 (hex). One per person at a
    /// time (a new request replaces it), used once, for a short time.
    PasswordReset,
    /// One of an agent's recovery codes (two-factor login without the
    /// app); `secret_hash` is its SHA-256 (hex), `label` its slot (1 to
    /// 10). Removed when used.
    RecoveryCode,
}

/// A stored credential.
///
/// ```
/// use helpdesk_core::*;
/// let c = Credential {
///     id: CredentialId(1),
///     owner: Principal::Agent(AgentId(3)),
///     kind: CredentialKind::Password,
///     label: "login".into(),
///     secret_hash: "$argon2id$...".into(),
///     created_at: chrono::DateTime::UNIX_EPOCH,
///     revoked: false,
/// };
/// // One password per principal: its unique key names the owner.
/// assert_eq!(c.unique_key().0, "password:agent:3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// Id.
    pub id: CredentialId,
    /// Whose it is.
    pub owner: Principal,
    /// What it is.
    pub kind: CredentialKind,
    /// A label people recognise it by (an API key's name).
    pub label: String,
    /// The hash of the secret (see [`CredentialKind`]).
    pub secret_hash: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// A revoked (or used, for one-time tokens) credential no longer works.
    pub revoked: bool,
}

impl Credential {
    /// The unique key it claims: the owner for a password (one each), the
    /// hash of the secret for keys and tokens (found by the secret presented).
    pub fn unique_key(&self) -> UniqueKey {
        match (self.kind, self.owner) {
            (CredentialKind::Password, Principal::Agent(a)) => UniqueKey(format!("password:agent:{}", a.0)),
            (CredentialKind::Password, Principal::User(u)) => UniqueKey(format!("password:user:{}", u.0)),
            (CredentialKind::Totp, Principal::Agent(a)) => Credential::totp_key(a),
            (CredentialKind::PasswordReset, owner) => Credential::reset_key(owner),
            (CredentialKind::RecoveryCode, Principal::Agent(a)) => {
                UniqueKey(format!("recovery:agent:{}:{}", a.0, self.label))
            }
            (_, _) => Credential::secret_key(&self.secret_hash),
        }
    }

    /// The unique key of an API key or token whose SHA-256 hex is `hash`.
    pub fn secret_key(hash: &str) -> UniqueKey {
        UniqueKey(format!("secret:{hash}"))
    }

    /// The unique key of `agent`'s authenticator app secret.
    pub fn totp_key(agent: AgentId) -> UniqueKey {
        UniqueKey(format!("totp:agent:{}", agent.0))
    }

    /// The unique key of `agent`'s recovery code in `slot` (1 to 10).
    pub fn recovery_key(agent: AgentId, slot: usize) -> UniqueKey {
        UniqueKey(format!("recovery:agent:{}:{slot}", agent.0))
    }

    /// The unique key of `owner`'s password reset token (one at a time).
    pub fn reset_key(owner: Principal) -> UniqueKey {
        match owner {
            Principal::Agent(a) => UniqueKey(format!("reset:agent:{}", a.0)),
            Principal::User(u) => UniqueKey(format!("reset:user:{}", u.0)),
        }
    }

    /// The unique key of `owner`'s password.
    pub fn password_key(owner: Principal) -> UniqueKey {
        match owner {
            Principal::Agent(a) => UniqueKey(format!("password:agent:{}", a.0)),
            Principal::User(u) => UniqueKey(format!("password:user:{}", u.0)),
        }
    }
}
