//! Password resets for agents and users who forgot their password: a
//! mailed link with a one-time token that works for [`RESET_MINUTES`].
//!
//! A request names an address; whether anyone has it is never told (the
//! caller answers the same either way, and sends a mail only when there is
//! someone). Each person has at most one live token (a new request replaces
//! the old, and requests closer than [`RESEND_SECONDS`] send nothing, so
//! the form cannot be used to flood someone's inbox). The token carries
//! whose it is (`a12.…`, `u7.…`), so it is found without a scan; only its
//! SHA-256 is kept. Setting the password uses the token up, in the same
//! write, with an audit entry; ending the person's sessions is the web
//! layer's (its sessions live there).
//!
//! ```
//! use helpdesk_core::*;
//! use helpdesk_store::password_reset::{ResetFor, RESET_MINUTES};
//! use helpdesk_store::Helpdesk;
//!
//! let hd = Helpdesk::in_memory();
//! let ann = hd.create_user(NewUser::new("Ann", "ann@example.com")).unwrap();
//! assert!(hd.start_password_reset(ResetFor::User, "nobody@example.com").unwrap().is_none());
//! let link = hd.start_password_reset(ResetFor::User, "ANN@example.com").unwrap().unwrap();
//! assert_eq!(link.principal, Principal::User(ann.id));
//! assert_eq!(hd.password_reset_for(&link.token).unwrap(), Some(Principal::User(ann.id)));
//! hd.reset_password(&link.token, "violet kettle orbit").unwrap();
//! assert!(hd.verify_user_password("ann@example.com", "violet kettle orbit").unwrap().is_some());
//! assert!(hd.reset_password(&link.token, "another long secret").is_err(), "used once");
//! assert_eq!(RESET_MINUTES, 30);
//! ```

use crate::auth::{random_token, same_secret, sha256_hex};
use crate::{AuthError, Helpdesk};
use helpdesk_core::admin::{AuditActor, AuditEntry};
use helpdesk_core::templates::Language;
use helpdesk_core::*;

/// How long a reset link works, in minutes.
pub const RESET_MINUTES: i64 = 30;
/// Requests for the same person closer than this send no new link.
pub const RESEND_SECONDS: i64 = 60;

/// Whose password a reset is for: an agent's (workspace) or a user's (portal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetFor {
    /// An agent of the helpdesk.
    Agent,
    /// A portal user.
    User,
}

/// A reset link to mail: to whom, and the token to put in it (shown once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetLink {
    /// Whose password it resets.
    pub principal: Principal,
    /// Their name.
    pub name: String,
    /// The address the request named (one of theirs).
    pub email: Email,
    /// The language of their mail.
    pub language: Option<Language>,
    /// The token.
    pub token: String,
}

fn owner_of(token: &str) -> Option<Principal> {
    let (who, _) = token.trim().split_once('.')?;
    let id = who.get(1..)?.parse::<u64>().ok()?;
    match who.as_bytes().first()? {
        b'a' => Some(Principal::Agent(AgentId(id))),
        b'u' => Some(Principal::User(UserId(id))),
        _ => None,
    }
}

impl Helpdesk {
    /// Starts a reset for whoever of `who` has `email`: a new token
    /// replacing any earlier one, or `None` when nobody may reset with that
    /// address (unknown, not an address, a disabled agent, a blocked user)
    /// or a link went to them less than [`RESEND_SECONDS`] ago.
    pub fn start_password_reset(&self, who: ResetFor, email: &str) -> Result<Option<ResetLink>, AuthError> {
        let Ok(address) = Email::parse(email.trim()) else { return Ok(None) };
        let found = match who {
            ResetFor::Agent => self
                .agent_by_email(address.as_str())?
                .filter(|a| !a.disabled)
                .map(|a| (Principal::Agent(a.id), a.name, a.language)),
            ResetFor::User => self
                .user_by_email(address.as_str())?
                .filter(|u| !u.blocked)
                .map(|u| (Principal::User(u.id), u.name, u.language)),
        };
        let Some((principal, name, language)) = found else { return Ok(None) };
        let now = self.clock().now();
        let earlier = self.credential_by(&Credential::reset_key(principal))?;
        if earlier.as_ref().is_some_and(|c| now - c.created_at < chrono::Duration::seconds(RESEND_SECONDS)) {
            return Ok(None);
        }
        let token = match principal {
            Principal::Agent(a) => format!("a{}.{}", a.0, random_token()),
            Principal::User(u) => format!("u{}.{}", u.0, random_token()),
        };
        let c = match earlier {
            Some(mut c) => {
                c.secret_hash = sha256_hex(&token);
                c.created_at = now;
                c.revoked = false;
                c
            }
            None => self.new_credential(
                principal,
                CredentialKind::PasswordReset,
                "password reset",
                sha256_hex(&token),
            )?,
        };
        self.store().put_record(&Record::Credential(c))?;
        Ok(Some(ResetLink { principal, name, email: address, language, token }))
    }

    /// Whose password a reset token resets, while it works (unused, at most
    /// [`RESET_MINUTES`] old, its owner still allowed in).
    pub fn password_reset_for(&self, token: &str) -> Result<Option<Principal>, AuthError> {
        Ok(self.reset_credential(token)?.map(|c| c.owner))
    }

    fn reset_credential(&self, token: &str) -> Result<Option<Credential>, AuthError> {
        let Some(owner) = owner_of(token) else { return Ok(None) };
        let Some(c) = self.credential_by(&Credential::reset_key(owner))? else { return Ok(None) };
        let fresh = self.clock().now() - c.created_at <= chrono::Duration::minutes(RESET_MINUTES);
        if c.revoked || !fresh || !same_secret(&sha256_hex(token.trim()), &c.secret_hash) {
            return Ok(None);
        }
        let allowed = match owner {
            Principal::Agent(a) => !self.agent(a)?.disabled,
            Principal::User(u) => !self.user(u)?.blocked,
        };
        Ok(allowed.then_some(c))
    }

    /// Sets a new password with a reset token: checked like any new
    /// password, then written with the token used up and an audit entry in
    /// one write. An unknown, used or expired token is
    /// [`AuthError::InvalidToken`]; a refused password changes nothing (the
    /// token still works). The caller ends the person's sessions.
    pub fn reset_password(&self, token: &str, password: &str) -> Result<Principal, AuthError> {
        let Some(mut link) = self.reset_credential(token)? else { return Err(AuthError::InvalidToken) };
        let owner = link.owner;
        let new = self.password_credential(owner, password)?;
        link.revoked = true;
        let now = self.clock().now();
        let entry = match owner {
            Principal::Agent(a) => {
                let agent = self.agent(a)?;
                let summary = format!("{} reset their password with an emailed link", agent.email);
                self.agent_audit(&agent, "agent.password_reset", &format!("agent:{}", a.0), summary)
            }
            Principal::User(u) => AuditEntry::new(
                now,
                AuditActor::Anonymous,
                "user.password_reset",
                format!("user:{}", u.0),
                "a portal user reset their password with an emailed link",
            ),
        };
        let put = vec![Record::Credential(new), Record::Credential(link)];
        self.store().admin_commit(&AdminCommit::records(put, entry))?;
        Ok(owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewAgent;
    use helpdesk_core::ManualClock;
    use std::sync::Arc;

    #[test]
    fn links_expire_are_replaced_and_need_an_allowed_owner() {
        let clock = Arc::new(ManualClock::default());
        let hd = Helpdesk::builder().clock(clock.clone()).in_memory();
        let sam = hd.create_agent(NewAgent::new("Sam", "sam@example.com")).unwrap();
        let first = hd.start_password_reset(ResetFor::Agent, "sam@example.com").unwrap().unwrap();
        assert!(first.token.starts_with(&format!("a{}.", sam.id.0)));
        assert!(hd.start_password_reset(ResetFor::User, "sam@example.com").unwrap().is_none(), "not a user");
        assert!(hd.start_password_reset(ResetFor::Agent, "sam@example.com").unwrap().is_none(), "too soon");
        clock.advance(chrono::Duration::seconds(RESEND_SECONDS));
        let second = hd.start_password_reset(ResetFor::Agent, "sam@example.com").unwrap().unwrap();
        assert_eq!(hd.password_reset_for(&first.token).unwrap(), None, "replaced");
        assert_eq!(hd.password_reset_for(&second.token).unwrap(), Some(Principal::Agent(sam.id)));
        // A forged token of the right shape, another's id, garbage: nothing.
        for bad in [format!("a{}.{}", sam.id.0, "0".repeat(64)), "u1.x".into(), "zzz".into(), String::new()] {
            assert_eq!(hd.password_reset_for(&bad).unwrap(), None, "{bad}");
        }
        // A weak password changes nothing; the link still works.
        assert!(matches!(
            hd.reset_password(&second.token, "12345678"),
            Err(AuthError::GuessablePassword { .. })
        ));
        clock.advance(chrono::Duration::minutes(RESET_MINUTES) + chrono::Duration::seconds(1));
        assert_eq!(
            hd.reset_password(&second.token, "violet kettle orbit"),
            Err(AuthError::InvalidToken),
            "expired"
        );

        clock.advance(chrono::Duration::seconds(RESEND_SECONDS));
        let third = hd.start_password_reset(ResetFor::Agent, "sam@example.com").unwrap().unwrap();
        let mut off = hd.agent(sam.id).unwrap();
        off.disabled = true;
        hd.update_agent(off).unwrap();
        assert_eq!(hd.password_reset_for(&third.token).unwrap(), None, "a disabled agent's link dies");
        assert!(hd.start_password_reset(ResetFor::Agent, "sam@example.com").unwrap().is_none());
    }

    #[test]
    fn a_reset_is_audited_and_uses_the_link_up() {
        let hd = Helpdesk::in_memory();
        let sam = hd.create_agent(NewAgent::new("Sam", "sam@example.com")).unwrap();
        let link = hd.start_password_reset(ResetFor::Agent, "sam@example.com").unwrap().unwrap();
        assert_eq!(hd.reset_password(&link.token, "violet kettle orbit").unwrap(), Principal::Agent(sam.id));
        assert!(hd.verify_agent_password("sam@example.com", "violet kettle orbit").unwrap().is_some());
        assert_eq!(hd.password_reset_for(&link.token).unwrap(), None);
        let audit = hd.audit(&Default::default(), None, 10).unwrap();
        assert!(audit.iter().any(|e| e.action == "agent.password_reset"), "{audit:?}");
    }
}
