//! Credentials: agent and user passwords (argon2), agent API keys and email
//! validation tokens (SHA-256 of 256-bit random secrets). Only hashes are stored,
//! as [`Credential`] records in the directory.
//!
//! ```
//! use helpdesk_store::{Helpdesk, NewAgent};
//! use helpdesk_core::*;
//! let hd = Helpdesk::in_memory();
//! let alice = hd.create_agent(NewAgent::new("Alice", "alice@example.com")).unwrap();
//! hd.set_password(Principal::Agent(alice.id), "correct horse").unwrap();
//! assert!(hd.verify_agent_password("alice@example.com", "correct horse").unwrap().is_some());
//! assert!(hd.verify_agent_password("alice@example.com", "wrong").unwrap().is_none());
//!
//! let (_, key) = hd.create_api_key(alice.id, "ci").unwrap();
//! assert_eq!(hd.agent_for_api_key(&key).unwrap().unwrap().0.id, alice.id);
//! ```

use crate::{Error, Helpdesk};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use helpdesk_core::*;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in characters (bounds the hashing work).
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Prefix of API keys, so they are recognisable in configs and logs.
pub const API_KEY_PREFIX: &str = "hdk_";

/// Why a credential operation was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AuthError {
    /// The password is too short or too long (the shortest is the admin's
    /// setting, at least [`MIN_PASSWORD_CHARS`]).
    #[error("the password must be {min} to {MAX_PASSWORD_CHARS} characters long")]
    WeakPassword {
        /// The shortest length accepted.
        min: usize,
    },
    /// The password is easy to guess (a common password, a variant of one,
    /// the person's name or address, a short pattern): below the admin's
    /// least strength.
    #[error("the password is too easy to guess{}: {advice}", .warning.as_ref().map(|w| format!(" ({w})")).unwrap_or_default())]
    GuessablePassword {
        /// What makes it guessable ("This is a top-10 common password."),
        /// when the estimator can tell.
        warning: Option<String>,
        /// What to do instead.
        advice: String,
    },
    /// A second factor (a code from the app, a recovery code, the app's
    /// secret) that cannot be taken, and why.
    #[error("{0}")]
    BadSecondFactor(String),
    /// The current password given to change it is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// The new password is the current one.
    #[error("the new password must differ from the current one")]
    SamePassword,
    /// The token is unknown, used or revoked.
    #[error("this link is invalid or has already been used")]
    InvalidToken,
    /// The API key label is empty or too long.
    #[error("an API key needs a label of 1 to 100 characters")]
    BadLabel,
    /// A lookup or write failed.
    #[error(transparent)]
    Helpdesk(#[from] Error),
}

/// A refused password or token as the helpdesk's error (a store or
/// directory failure inside it stays what it was).
impl From<AuthError> for Error {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Helpdesk(e) => e,
            other => Error::Auth(Box::new(other)),
        }
    }
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::Helpdesk(e.into())
    }
}

/// 32 random bytes from the operating system, hex-encoded (64 characters).
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    hex(&b)
}

/// SHA-256 of `s`, hex-encoded.
pub fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source failed");
    let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| StoreError::Backend(format!("hashing: {e}")))?
        .to_string())
}

/// Characters of a password the strength estimator reads: its work grows
/// quickly with length, and a longer password is not guessable by length
/// alone.
const STRENGTH_CHARS: usize = 64;

/// Refuses `password` when zxcvbn scores it below `least`. The words of
/// `about` (names, the parts of addresses) and of the helpdesk's name count
/// as known to an attacker.
fn password_strength(password: &str, about: &[&str], helpdesk: &str, least: u8) -> Result<(), AuthError> {
    let mut words: Vec<String> = about
        .iter()
        .chain(std::iter::once(&helpdesk))
        .flat_map(|s| s.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect();
    words.extend(about.iter().map(|s| s.to_lowercase()));
    words.push("helpdesk".into());
    let inputs: Vec<&str> = words.iter().map(String::as_str).collect();
    let head: String = password.chars().take(STRENGTH_CHARS).collect();
    let estimate = zxcvbn::zxcvbn(&head, &inputs);
    if u8::from(estimate.score()) >= least {
        return Ok(());
    }
    let feedback = estimate.feedback();
    let warning = feedback.and_then(|f| f.warning()).map(|w| w.to_string());
    let mut advice: Vec<String> =
        feedback.map(|f| f.suggestions().iter().map(ToString::to_string).collect()).unwrap_or_default();
    if advice.is_empty() {
        advice.push("Add another word or two, or make it longer.".into());
    }
    Err(AuthError::GuessablePassword { warning, advice: advice.join(" ") })
}

/// A hash to verify against when the account does not exist, so a wrong email
/// takes as long as a wrong password (no account enumeration by timing).
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not a real password").unwrap_or_default())
}

/// Whether two secrets (or their hashes) are equal, in time independent of
/// where they differ.
///
/// ```
/// assert!(helpdesk_store::auth::same_secret("abc", "abc"));
/// assert!(!helpdesk_store::auth::same_secret("abc", "abd"));
/// ```
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

impl Helpdesk {
    pub(crate) fn credential_by(&self, key: &UniqueKey) -> Result<Option<Credential>, AuthError> {
        let Some((RecordKind::Credential, id)) = self.store().lookup(key)? else { return Ok(None) };
        match self.store().record(RecordKind::Credential, id)? {
            Some(Record::Credential(c)) => Ok(Some(c)),
            _ => Ok(None),
        }
    }

    fn put_credential(&self, c: &Credential) -> Result<(), AuthError> {
        Ok(self.store().put_record(&Record::Credential(c.clone()))?)
    }

    pub(crate) fn new_credential(
        &self,
        owner: Principal,
        kind: CredentialKind,
        label: &str,
        secret_hash: String,
    ) -> Result<Credential, AuthError> {
        let id = CredentialId(self.store().next_id(IdKind::Credential)?);
        Ok(Credential {
            id,
            owner,
            kind,
            label: label.to_string(),
            secret_hash,
            created_at: self.clock().now(),
            revoked: false,
        })
    }

    /// Sets (or replaces) the login password of an agent or user, if it meets
    /// [`check_password_rules`](Self::check_password_rules).
    pub fn set_password(&self, owner: Principal, password: &str) -> Result<(), AuthError> {
        match owner {
            Principal::Agent(a) => drop(self.agent(a)?),
            Principal::User(u) => drop(self.own_user(u)?),
        }
        let c = self.password_credential(owner, password)?;
        self.put_credential(&c)
    }

    /// Checks a new password: its length (at least the admin's setting and
    /// [`MIN_PASSWORD_CHARS`], at most [`MAX_PASSWORD_CHARS`]), then how
    /// hard it is to guess, by the zxcvbn estimator (its bundled lists of
    /// common passwords, names and words, keyboard patterns, dates,
    /// repeats), against the admin's least strength
    /// ([`Settings::password_min_strength`](helpdesk_core::admin::Settings)).
    /// `about` are the person's name and addresses: a password made of them
    /// counts as guessable.
    ///
    /// ```
    /// use helpdesk_store::{AuthError, Helpdesk};
    /// let hd = Helpdesk::in_memory();
    /// assert!(matches!(hd.check_password_rules("12345678", &[]), Err(AuthError::GuessablePassword { .. })));
    /// assert!(matches!(hd.check_password_rules("short", &[]), Err(AuthError::WeakPassword { min: 8 })));
    /// assert!(hd.check_password_rules("annsmith", &["Ann Smith", "ann.smith@acme.example"]).is_err());
    /// hd.check_password_rules("violet kettle orbit", &["Ann Smith"]).unwrap();
    /// ```
    pub fn check_password_rules(&self, password: &str, about: &[&str]) -> Result<(), AuthError> {
        let settings = self.settings()?;
        let n = password.chars().count();
        let min = (settings.password_min_length as usize).max(MIN_PASSWORD_CHARS);
        if !(min..=MAX_PASSWORD_CHARS).contains(&n) {
            return Err(AuthError::WeakPassword { min });
        }
        password_strength(password, about, &settings.name, settings.password_min_strength)
    }

    /// The password credential of `owner` for `password` (checked against
    /// the length rules and hashed; the owner's existing one replaced), not
    /// yet written: for writes that put it together with other records.
    pub(crate) fn password_credential(
        &self,
        owner: Principal,
        password: &str,
    ) -> Result<Credential, AuthError> {
        let about: Vec<String> = match owner {
            Principal::Agent(a) => {
                let a = self.agent(a)?;
                vec![a.name, a.email.to_string()]
            }
            Principal::User(u) => {
                let u = self.own_user(u)?;
                std::iter::once(u.name).chain(u.emails.iter().map(ToString::to_string)).collect()
            }
        };
        self.password_credential_about(owner, password, &about.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// [`password_credential`](Self::password_credential) for an owner not
    /// stored yet (the first-run setup's admin): `about` are their name and
    /// address.
    pub(crate) fn password_credential_about(
        &self,
        owner: Principal,
        password: &str,
        about: &[&str],
    ) -> Result<Credential, AuthError> {
        self.check_password_rules(password, about)?;
        let hash = hash_password(password)?;
        Ok(match self.credential_by(&Credential::password_key(owner))? {
            Some(mut c) => {
                c.secret_hash = hash;
                c.created_at = self.clock().now();
                c
            }
            None => self.new_credential(owner, CredentialKind::Password, "password", hash)?,
        })
    }

    /// Changes an agent's password after checking their current one (the
    /// profile menu's "change password"). A wrong current password changes
    /// nothing ([`AuthError::WrongPassword`]); the new one must meet the same
    /// rules as [`set_password`](Self::set_password) and differ from the old.
    ///
    /// ```
    /// use helpdesk_core::Principal;
    /// use helpdesk_store::{AuthError, Helpdesk, NewAgent};
    ///
    /// let hd = Helpdesk::in_memory();
    /// let sam = hd.create_agent(NewAgent::new("Sam", "sam@example.com")).unwrap();
    /// hd.set_password(Principal::Agent(sam.id), "first secret").unwrap();
    /// assert_eq!(hd.change_agent_password(sam.id, "wrong guess", "second secret"), Err(AuthError::WrongPassword));
    /// hd.change_agent_password(sam.id, "first secret", "second secret").unwrap();
    /// assert!(hd.verify_agent_password("sam@example.com", "second secret").unwrap().is_some());
    /// ```
    pub fn change_agent_password(&self, agent: AgentId, current: &str, new: &str) -> Result<(), AuthError> {
        self.change_password(Principal::Agent(self.agent(agent)?.id), current, new)
    }

    /// [`change_agent_password`](Self::change_agent_password) for a portal
    /// user (their account page).
    pub fn change_user_password(&self, user: UserId, current: &str, new: &str) -> Result<(), AuthError> {
        self.change_password(Principal::User(self.own_user(user)?.id), current, new)
    }

    fn change_password(&self, owner: Principal, current: &str, new: &str) -> Result<(), AuthError> {
        if !self.check_password(Some(owner), current)? {
            return Err(AuthError::WrongPassword);
        }
        if current == new {
            return Err(AuthError::SamePassword);
        }
        self.set_password(owner, new)
    }

    fn check_password(&self, owner: Option<Principal>, password: &str) -> Result<bool, AuthError> {
        let stored = match owner {
            Some(o) => self.credential_by(&Credential::password_key(o))?.filter(|c| !c.revoked),
            None => None,
        };
        let ok = verify(stored.as_ref().map(|c| c.secret_hash.as_str()).unwrap_or(dummy_hash()), password);
        Ok(ok && stored.is_some())
    }

    /// The enabled agent with this email and password; `None` when either is wrong.
    pub fn verify_agent_password(&self, email: &str, password: &str) -> Result<Option<Agent>, AuthError> {
        let agent = Email::parse(email).ok().and_then(|e| self.agent_by_email(e.as_str()).ok().flatten());
        let agent = agent.filter(|a| !a.disabled);
        let ok = self.check_password(agent.as_ref().map(|a| Principal::Agent(a.id)), password)?;
        Ok(agent.filter(|_| ok))
    }

    /// The user with this email and password; `None` when either is wrong
    /// or the user is blocked.
    pub fn verify_user_password(&self, email: &str, password: &str) -> Result<Option<User>, AuthError> {
        let user = Email::parse(email).ok().and_then(|e| self.user_by_email(e.as_str()).ok().flatten());
        // A blocked user is refused like a wrong password (after the same work).
        let user = user.filter(|u| !u.blocked);
        let ok = self.check_password(user.as_ref().map(|u| Principal::User(u.id)), password)?;
        Ok(user.filter(|_| ok))
    }

    /// Creates an API key for `agent`; returns its record and the key itself,
    /// which is shown once and never stored.
    pub fn create_api_key(&self, agent: AgentId, label: &str) -> Result<(Credential, String), AuthError> {
        let label = label.trim();
        if label.is_empty() || label.chars().count() > 100 {
            return Err(AuthError::BadLabel);
        }
        let owner = self.agent(agent)?;
        let key = format!("{API_KEY_PREFIX}{}", random_token());
        let c =
            self.new_credential(Principal::Agent(agent), CredentialKind::ApiKey, label, sha256_hex(&key))?;
        let entry = self.agent_audit(
            &owner,
            "api_key.create",
            &format!("api_key:{}", c.id.0),
            format!("Made API key {label:?}"),
        );
        self.store().admin_commit(&AdminCommit::records(vec![Record::Credential(c.clone())], entry))?;
        Ok((c, key))
    }

    /// An audit entry by `agent`, now.
    /// An audit entry by `agent`, now.
    pub(crate) fn agent_audit(
        &self,
        agent: &Agent,
        action: &str,
        target: &str,
        summary: String,
    ) -> AuditEntry {
        AuditEntry::new(
            self.clock().now(),
            AuditActor::Agent { id: agent.id, name: agent.name.clone() },
            action,
            target,
            summary,
        )
    }

    pub(crate) fn login_entry(&self, a: &Agent) -> AuditEntry {
        self.agent_audit(a, "agent.login", &format!("agent:{}", a.id.0), format!("{} logged in", a.email))
    }

    /// Records in the audit log that `agent` logged in other than with
    /// their password (a set-password link logs them in); `source` is the
    /// client address.
    pub fn record_login(&self, agent: &Agent, source: Option<String>) -> Result<(), AuthError> {
        self.record_audit(self.login_entry(agent).from_source(source))?;
        Ok(())
    }

    /// Checks an agent's login and records it in the audit log: `agent.login`
    /// by the agent, or `agent.login_failed` naming the address tried (the
    /// password never). `source` is the client address.
    pub fn agent_login(
        &self,
        email: &str,
        password: &str,
        source: Option<String>,
    ) -> Result<Option<Agent>, AuthError> {
        let found = self.verify_agent_password(email, password)?;
        let entry = match &found {
            // The login is recorded once the second factor is given too.
            Some(a) if self.two_factor_asked(a.id)? => self.agent_audit(
                a,
                "agent.login_password",
                &format!("agent:{}", a.id.0),
                format!("{} gave their password; a second factor is asked", a.email),
            ),
            Some(a) => self.login_entry(a),
            None => {
                let tried: String = email.trim().to_lowercase().chars().take(254).collect();
                AuditEntry::new(
                    self.clock().now(),
                    AuditActor::Anonymous,
                    "agent.login_failed",
                    format!("agent:{tried}"),
                    format!("Failed login as {tried}"),
                )
            }
        };
        self.record_audit(entry.from_source(source))?;
        Ok(found)
    }

    /// Every credential of `kind` that `owner` has (hashes included; do not show them).
    pub fn credentials_of(
        &self,
        owner: Principal,
        kind: CredentialKind,
    ) -> Result<Vec<Credential>, AuthError> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self.store().records(RecordKind::Credential, after, 512)?;
            let Some(last) = page.last() else { break };
            after = last.key().1;
            out.extend(page.into_iter().filter_map(|r| match r {
                Record::Credential(c) if c.owner == owner && c.kind == kind => Some(c),
                _ => None,
            }));
        }
        Ok(out)
    }

    /// Revokes one of `agent`'s API keys.
    pub fn revoke_api_key(&self, agent: AgentId, id: CredentialId) -> Result<(), AuthError> {
        match self.store().record(RecordKind::Credential, id.0)? {
            Some(Record::Credential(mut c))
                if c.owner == Principal::Agent(agent) && c.kind == CredentialKind::ApiKey =>
            {
                if c.revoked {
                    return Ok(());
                }
                c.revoked = true;
                let owner = self.agent(agent)?;
                let entry = self.agent_audit(
                    &owner,
                    "api_key.revoke",
                    &format!("api_key:{}", id.0),
                    format!("Revoked API key {:?}", c.label),
                );
                self.store().admin_commit(&AdminCommit::records(vec![Record::Credential(c)], entry))?;
                Ok(())
            }
            _ => Err(Error::Directory(DirectoryError::NotFound(format!("api key {}", id.0))).into()),
        }
    }

    /// The enabled agent an API key belongs to, with the key's record; `None`
    /// for an unknown or revoked key.
    pub fn agent_for_api_key(&self, key: &str) -> Result<Option<(Agent, Credential)>, AuthError> {
        if !key.starts_with(API_KEY_PREFIX) {
            return Ok(None);
        }
        let Some(c) = self.credential_by(&Credential::secret_key(&sha256_hex(key)))? else { return Ok(None) };
        let Principal::Agent(a) = c.owner else { return Ok(None) };
        if c.revoked || c.kind != CredentialKind::ApiKey {
            return Ok(None);
        }
        let agent = self.agent(a)?;
        Ok((!agent.disabled).then_some((agent, c)))
    }

    /// A one-time token that confirms `user`'s email address (send it in a link).
    pub fn create_validation_token(&self, user: UserId) -> Result<String, AuthError> {
        self.own_user(user)?;
        let token = random_token();
        let c = self.new_credential(
            Principal::User(user),
            CredentialKind::EmailValidation,
            "email validation",
            sha256_hex(&token),
        )?;
        self.put_credential(&c)?;
        Ok(token)
    }

    /// The agent a set-password token (an invitation link) is for, while it
    /// works: unused, not revoked, at most [`INVITE_DAYS`](crate::admin::INVITE_DAYS)
    /// days old, and the agent active.
    pub fn password_token_agent(&self, token: &str) -> Result<Option<Agent>, AuthError> {
        Ok(self.password_token(token)?.map(|(_, a)| a))
    }

    fn password_token(&self, token: &str) -> Result<Option<(Credential, Agent)>, AuthError> {
        let c = self.credential_by(&Credential::secret_key(&sha256_hex(token.trim())))?;
        let Some(c) = c.filter(|c| !c.revoked && c.kind == CredentialKind::PasswordSet) else {
            return Ok(None);
        };
        if self.clock().now() - c.created_at > chrono::Duration::days(crate::admin::INVITE_DAYS) {
            return Ok(None);
        }
        let Principal::Agent(a) = c.owner else { return Ok(None) };
        let agent = self.agent(a)?;
        Ok((!agent.disabled).then_some((c, agent)))
    }

    /// Sets an agent's password through a set-password token (the
    /// invitation link): the token is used up; an invalid, used or expired
    /// one is [`AuthError::InvalidToken`], a weak password changes nothing.
    ///
    /// ```
    /// use helpdesk_store::{Helpdesk, NewAgent};
    /// let hd = Helpdesk::in_memory();
    /// let (sam, token) = hd.admin_as_system().invite_agent(NewAgent::new("Sam", "sam@example.com")).unwrap();
    /// assert_eq!(hd.password_token_agent(&token).unwrap().unwrap().id, sam.id);
    /// hd.set_password_with_token(&token, "sam's long secret").unwrap();
    /// assert!(hd.verify_agent_password("sam@example.com", "sam's long secret").unwrap().is_some());
    /// assert!(hd.set_password_with_token(&token, "another secret").is_err(), "used up");
    /// ```
    pub fn set_password_with_token(&self, token: &str, password: &str) -> Result<Agent, AuthError> {
        let Some((mut link, agent)) = self.password_token(token)? else {
            return Err(AuthError::InvalidToken);
        };
        let password = self.password_credential(Principal::Agent(agent.id), password)?;
        link.revoked = true;
        let entry = self.agent_audit(
            &agent,
            "agent.password_set",
            &format!("agent:{}", agent.id.0),
            format!("{} chose a password with an emailed link", agent.email),
        );
        // The password and the used-up link in one write.
        let put = vec![Record::Credential(password), Record::Credential(link)];
        self.store().admin_commit(&AdminCommit::records(put, entry))?;
        Ok(agent)
    }

    /// A new one-time set-password token for `agent` (an invitation link),
    /// not yet written: its record, and the token to put in the link.
    pub(crate) fn password_set_token(&self, agent: AgentId) -> Result<(Credential, String), AuthError> {
        let token = random_token();
        let c = self.new_credential(
            Principal::Agent(agent),
            CredentialKind::PasswordSet,
            "invitation",
            sha256_hex(&token),
        )?;
        Ok((c, token))
    }

    /// Confirms the address a validation token was made for: the user becomes
    /// validated (their tickets awaiting validation are released) and the token
    /// is used up.
    pub fn confirm_email(&self, token: &str) -> Result<User, AuthError> {
        let c = self.credential_by(&Credential::secret_key(&sha256_hex(token.trim())))?;
        let Some(mut c) = c.filter(|c| !c.revoked && c.kind == CredentialKind::EmailValidation) else {
            return Err(AuthError::InvalidToken);
        };
        let Principal::User(u) = c.owner else { return Err(AuthError::InvalidToken) };
        c.revoked = true;
        self.put_credential(&c)?;
        Ok(self.validate_user(u)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewAgent;

    /// Which passwords each strength setting takes, for agent Alice Baker
    /// (alice.baker@acme.example) of helpdesk "Acme Care": the outcome at
    /// settings 1 to 4 (`+` taken, `-` refused).
    #[test]
    fn password_strength_by_setting() {
        let table = [
            ("12345678", "----"),
            ("password1", "----"),
            ("qwertyuiop", "----"),
            ("iloveyou123", "+---"),
            ("alicebaker", "+---"),
            ("acmecare2026", "+++-"),
            ("helpdesk123", "+---"),
            ("user-password", "++--"),
            ("admin-password", "+++-"),
            ("violet kettle orbit", "++++"),
            ("Tr0ub4dor&3", "++++"),
        ];
        let hd = Helpdesk::in_memory();
        let a = hd.create_agent(NewAgent::new("Alice Baker", "alice.baker@acme.example")).unwrap();
        let mut got = Vec::new();
        for least in 1..=4u8 {
            hd.admin_as_system()
                .set_settings(helpdesk_core::admin::Settings {
                    name: "Acme Care".into(),
                    password_min_strength: least,
                    ..Default::default()
                })
                .unwrap();
            for (i, (password, _)) in table.iter().enumerate() {
                let ok = hd.set_password(Principal::Agent(a.id), password).is_ok();
                if least == 1 {
                    got.push(String::new());
                }
                got[i].push(if ok { '+' } else { '-' });
            }
        }
        let want: Vec<String> = table.iter().map(|(_, w)| w.to_string()).collect();
        let shown: Vec<(&str, &str)> = table.iter().zip(&got).map(|((p, _), g)| (*p, g.as_str())).collect();
        assert_eq!(got, want, "{shown:#?}");
        // The refusal says why and what to do.
        let e = hd.set_password(Principal::Agent(a.id), "12345678").unwrap_err().to_string();
        assert_eq!(e, "the password is too easy to guess (This is a top-10 common password.): Add another word or two. Uncommon words are better.");
        // A refused password changes nothing.
        hd.set_password(Principal::Agent(a.id), "Tr0ub4dor&3").unwrap();
        assert!(hd.set_password(Principal::Agent(a.id), "alicebaker").is_err());
        assert!(hd.verify_agent_password("alice.baker@acme.example", "Tr0ub4dor&3").unwrap().is_some());
        // Long passwords are judged by their first 64 characters.
        assert!(hd.check_password_rules(&"ab".repeat(128), &[]).is_err());
        hd.check_password_rules(&format!("violet kettle orbit {}", "x".repeat(230)), &[]).unwrap();
    }

    #[test]
    fn passwords_keys_and_tokens() {
        let hd = Helpdesk::in_memory();
        let a = hd.create_agent(NewAgent::new("Alice", "alice@example.com")).unwrap();
        assert_eq!(hd.set_password(Principal::Agent(a.id), "short"), Err(AuthError::WeakPassword { min: 8 }));
        assert!(hd.verify_agent_password("alice@example.com", "anything long").unwrap().is_none());
        hd.set_password(Principal::Agent(a.id), "first password").unwrap();
        hd.set_password(Principal::Agent(a.id), "second password").unwrap();
        assert!(hd.verify_agent_password("alice@example.com", "first password").unwrap().is_none());
        assert!(hd.verify_agent_password("ALICE@example.com", "second password").unwrap().is_some());
        assert!(hd.verify_agent_password("nobody@example.com", "second password").unwrap().is_none());
        assert_eq!(hd.credentials_of(Principal::Agent(a.id), CredentialKind::Password).unwrap().len(), 1);

        let (c, key) = hd.create_api_key(a.id, "ci").unwrap();
        assert!(!c.secret_hash.contains(&key[4..]));
        assert!(hd.agent_for_api_key(&key).unwrap().is_some());
        assert!(hd.agent_for_api_key("hdk_nope").unwrap().is_none());
        hd.revoke_api_key(a.id, c.id).unwrap();
        assert!(hd.agent_for_api_key(&key).unwrap().is_none());

        let u = hd.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap();
        let t = hd.create_validation_token(u.id).unwrap();
        assert!(hd.confirm_email(&t).unwrap().validated);
        assert_eq!(hd.confirm_email(&t), Err(AuthError::InvalidToken));
    }
}
