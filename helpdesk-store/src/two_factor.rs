//! Two-factor login for agents: a time-based one-time code from an
//! authenticator app (TOTP, RFC 6238: HMAC-SHA1, 6 digits, 30-second steps,
//! one step of clock drift either way), with ten one-time recovery codes for
//! a lost phone. An admin may require it of every agent
//! ([`Settings::agents_two_factor`](helpdesk_core::admin::Settings)) and may
//! reset an agent's (who then sets it up again at their next login).
//!
//! What is stored: the shared secret (a [`CredentialKind::Totp`] credential:
//! the app needs the secret itself, so it is kept as is, like the server's
//! other secrets) with the last time step a code was taken, so each code
//! works once; the recovery codes as SHA-256 hashes, one credential each,
//! deleted when used (a delete is atomic on every backend, so a code is
//! taken once even by two nodes at the same instant). Setting up, using a
//! recovery code, a wrong code, renewing the codes and turning it off are in
//! the audit log.
//!
//! ```
//! use helpdesk_store::{Helpdesk, NewAgent};
//! use helpdesk_store::two_factor::{totp_code, SecondFactor};
//! use helpdesk_core::*;
//! use std::sync::Arc;
//!
//! let clock = Arc::new(ManualClock::default());
//! let hd = Helpdesk::builder().clock(clock.clone()).in_memory();
//! let sam = hd.create_agent(NewAgent::new("Sam", "sam@hd.example")).unwrap();
//!
//! // The profile shows a new secret (and its QR code); Sam's app shows codes.
//! let setup = hd.totp_setup(sam.id).unwrap();
//! assert!(setup.url.starts_with("otpauth://totp/"));
//! let code = totp_code(&setup.secret, clock.now()).unwrap();
//! let recovery = hd.enable_two_factor(sam.id, &setup.secret, &code, None).unwrap();
//! assert_eq!(recovery.len(), 10);
//! assert!(hd.two_factor_enabled(sam.id).unwrap());
//!
//! // At login, after the password: a code works once.
//! clock.advance(chrono::Duration::seconds(30));
//! let code = totp_code(&setup.secret, clock.now()).unwrap();
//! assert_eq!(hd.check_second_factor(sam.id, &code, None).unwrap(), Some(SecondFactor::Code));
//! assert_eq!(hd.check_second_factor(sam.id, &code, None).unwrap(), None);
//! // A recovery code works once too.
//! assert_eq!(hd.check_second_factor(sam.id, &recovery[0], None).unwrap(), Some(SecondFactor::RecoveryCode { left: 9 }));
//! assert_eq!(hd.check_second_factor(sam.id, &recovery[0], None).unwrap(), None);
//! ```

use crate::auth::{sha256_hex, AuthError};
use crate::Helpdesk;
use chrono::{DateTime, Utc};
use helpdesk_core::admin::{AuditActor, AuditEntry};
use helpdesk_core::store::{AdminCommit, Record, RecordKind};
use helpdesk_core::*;
use totp_rs::{Builder, Secret, Totp};

/// How many recovery codes an agent gets.
pub const RECOVERY_CODES: usize = 10;
/// Seconds a code lasts (RFC 6238's step).
pub const STEP_SECS: u64 = 30;

/// A new secret for an agent to put in their authenticator app.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSetup {
    /// The secret in base32 (typed by hand into an app that cannot scan).
    pub secret: String,
    /// The `otpauth://` URL the QR code holds.
    pub url: String,
}

impl std::fmt::Debug for TotpSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpSetup").finish_non_exhaustive()
    }
}

/// What a second factor that worked was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    /// A code from the app.
    Code,
    /// A recovery code (now used up), with how many are left.
    RecoveryCode {
        /// Recovery codes still unused.
        left: usize,
    },
}

/// The agent's two-factor state, for their profile and for admins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactorState {
    /// Since when it is on (`None`: off).
    pub since: Option<DateTime<Utc>>,
    /// Recovery codes still unused.
    pub recovery_codes_left: usize,
}

fn totp(secret: &str, issuer: &str, account: &str) -> Result<Totp, AuthError> {
    let secret = Secret::try_from_base32(secret.trim().to_uppercase())
        .map_err(|_| AuthError::BadSecondFactor("the secret is not valid base32".into()))?;
    Builder::new()
        .with_secret(secret)
        .with_issuer(Some(issuer.replace(':', " ")))
        .with_account_name(account.replace(':', " "))
        .build()
        .map_err(|e| AuthError::BadSecondFactor(format!("the secret cannot be used: {e}")))
}

/// The code an authenticator app shows for `secret` (base32) at `at` (for
/// tests and tools; the helpdesk never shows it).
pub fn totp_code(secret: &str, at: DateTime<Utc>) -> Result<String, AuthError> {
    Ok(totp(secret, "x", "x")?.generate(at.timestamp().max(0) as u64).to_string())
}

/// A recovery code: 10 characters of an alphabet without look-alikes, shown
/// as `xxxxx-xxxxx` (50 random bits).
fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
    let mut bytes = [0u8; 10];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    let chars: String = bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// A recovery code as typed (any case, with or without the dash or spaces).
fn normalise_recovery(code: &str) -> String {
    let c: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
    if c.len() == 10 {
        format!("{}-{}", &c[..5], &c[5..])
    } else {
        c
    }
}

impl Helpdesk {
    fn totp_credential(&self, agent: AgentId) -> Result<Option<Credential>, AuthError> {
        self.credential_by(&Credential::totp_key(agent))
    }

    fn recovery_credentials(&self, agent: AgentId) -> Result<Vec<Credential>, AuthError> {
        let mut out = Vec::new();
        for slot in 1..=RECOVERY_CODES {
            if let Some(c) = self.credential_by(&Credential::recovery_key(agent, slot))? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Whether `agent` logs in with a second factor.
    pub fn two_factor_enabled(&self, agent: AgentId) -> Result<bool, AuthError> {
        Ok(self.totp_credential(agent)?.is_some())
    }

    /// Whether a login of `agent` takes a second step after the password:
    /// they have two-factor login on, or the helpdesk requires it (and they
    /// set it up then).
    pub fn two_factor_asked(&self, agent: AgentId) -> Result<bool, AuthError> {
        Ok(self.two_factor_enabled(agent)? || self.settings()?.agents_two_factor)
    }

    /// Whether it is on, since when, and how many recovery codes are left.
    pub fn two_factor_state(&self, agent: AgentId) -> Result<TwoFactorState, AuthError> {
        let since = self.totp_credential(agent)?.map(|c| c.created_at);
        let left = if since.is_some() { self.recovery_credentials(agent)?.len() } else { 0 };
        Ok(TwoFactorState { since, recovery_codes_left: left })
    }

    /// A new secret for `agent`'s authenticator app (nothing is stored until
    /// [`enable_two_factor`](Self::enable_two_factor) is given a code).
    pub fn totp_setup(&self, agent: AgentId) -> Result<TotpSetup, AuthError> {
        let mut bytes = [0u8; 20];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        self.totp_setup_with(agent, &Secret::new(Box::new(bytes)).to_base32())
    }

    /// The setup of a secret shown before (a form sent back with a wrong
    /// code shows the same QR code again).
    pub fn totp_setup_with(&self, agent: AgentId, secret: &str) -> Result<TotpSetup, AuthError> {
        let a = self.agent(agent)?;
        let t = totp(secret, &self.settings()?.name, a.email.as_str())?;
        let url = t.to_url().map_err(|e| AuthError::BadSecondFactor(e.to_string()))?;
        Ok(TotpSetup { secret: t.secret().to_base32(), url })
    }

    /// Turns two-factor login on for `agent` with the `secret` of
    /// [`totp_setup`](Self::totp_setup), once `code` shows their app has
    /// it; returns the recovery codes (shown once: only their hashes are
    /// kept). Replaces a secret and codes they had.
    pub fn enable_two_factor(
        &self,
        agent: AgentId,
        secret: &str,
        code: &str,
        source: Option<String>,
    ) -> Result<Vec<String>, AuthError> {
        let a = self.agent(agent)?;
        let t = totp(secret, "x", "x")?;
        let now = self.clock().now();
        let Some(step) = t.check(code.trim(), now.timestamp().max(0) as u64) else {
            return Err(AuthError::BadSecondFactor(
                "that code does not match: check the app's clock and type the code it shows now".into(),
            ));
        };
        let put = vec![Record::Credential(Credential {
            id: match self.totp_credential(agent)? {
                Some(c) => c.id,
                None => CredentialId(self.store().next_id(IdKind::Credential)?),
            },
            owner: Principal::Agent(agent),
            kind: CredentialKind::Totp,
            label: step.to_string(),
            secret_hash: t.secret().to_base32(),
            created_at: now,
            revoked: false,
        })];
        let summary = format!("{} turned on two-factor login", a.email);
        self.write_with_new_codes(&a, put, "agent.two_factor_on", summary, source)
    }

    /// Writes `put` with new recovery codes for `a` in place of their old
    /// ones, and the audit entry; returns the codes (only their hashes are
    /// kept).
    fn write_with_new_codes(
        &self,
        a: &Agent,
        mut put: Vec<Record>,
        action: &str,
        summary: String,
        source: Option<String>,
    ) -> Result<Vec<String>, AuthError> {
        let delete: Vec<(RecordKind, u64)> =
            self.recovery_credentials(a.id)?.iter().map(|c| (RecordKind::Credential, c.id.0)).collect();
        let mut codes = Vec::new();
        for slot in 1..=RECOVERY_CODES {
            let code = recovery_code();
            put.push(Record::Credential(Credential {
                id: CredentialId(self.store().next_id(IdKind::Credential)?),
                owner: Principal::Agent(a.id),
                kind: CredentialKind::RecoveryCode,
                label: slot.to_string(),
                secret_hash: sha256_hex(&code),
                created_at: self.clock().now(),
                revoked: false,
            }));
            codes.push(code);
        }
        let entry = self.agent_audit(a, action, &a.id.to_string(), summary).from_source(source);
        self.store().admin_commit(&AdminCommit { put, delete, ..AdminCommit::audit_only(entry) })?;
        Ok(codes)
    }

    /// Replaces `agent`'s recovery codes with new ones (shown once).
    pub fn renew_recovery_codes(
        &self,
        agent: AgentId,
        source: Option<String>,
    ) -> Result<Vec<String>, AuthError> {
        let a = self.agent(agent)?;
        if !self.two_factor_enabled(agent)? {
            return Err(AuthError::BadSecondFactor("two-factor login is off".into()));
        }
        let summary = format!("{} made new recovery codes", a.email);
        self.write_with_new_codes(&a, Vec::new(), "agent.recovery_codes", summary, source)
    }

    /// Checks the second factor `agent` typed at login: a code from their
    /// app (each works once) or an unused recovery code (used up now).
    /// `None` when neither; a wrong one is in the audit log
    /// (`agent.login_failed`), a recovery code used too.
    pub fn check_second_factor(
        &self,
        agent: AgentId,
        typed: &str,
        source: Option<String>,
    ) -> Result<Option<SecondFactor>, AuthError> {
        let a = self.agent(agent)?;
        let Some(mut cred) = self.totp_credential(agent)? else { return Ok(None) };
        let typed = typed.trim();
        let now = self.clock().now();
        let audit = |action: &str, summary: String| {
            self.agent_audit(&a, action, &a.id.to_string(), summary).from_source(source.clone())
        };
        let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
            let t = totp(&cred.secret_hash, "x", "x")?;
            let last: u64 = cred.label.parse().unwrap_or(0);
            if let Some(step) = t.check(&digits, now.timestamp().max(0) as u64).filter(|s| *s > last) {
                // The step taken is written as a new record in place of the
                // old one: of two logins with the same code at once (two
                // threads, two nodes), the second finds the app's unique key
                // taken by the first's record and fails.
                let old = cred.id;
                cred.id = CredentialId(self.store().next_id(IdKind::Credential)?);
                cred.label = step.to_string();
                let entry = AuditEntry {
                    summary: format!("{} logged in with a code from their app", a.email),
                    ..self.login_entry(&a)
                }
                .from_source(source.clone());
                let commit = AdminCommit {
                    put: vec![Record::Credential(cred)],
                    delete: vec![(RecordKind::Credential, old.0)],
                    ..AdminCommit::audit_only(entry)
                };
                match self.store().admin_commit(&commit) {
                    Ok(_) => return Ok(Some(SecondFactor::Code)),
                    Err(StoreError::Unique { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        } else {
            let hash = sha256_hex(&normalise_recovery(typed));
            for c in self.recovery_credentials(agent)? {
                if crate::auth::same_secret(&c.secret_hash, &hash)
                    && self.store().delete_record(RecordKind::Credential, c.id.0)?
                {
                    let left = self.recovery_credentials(agent)?.len();
                    self.record_audit(audit(
                        "agent.login",
                        format!("{} logged in with a recovery code ({left} left)", a.email),
                    ))?;
                    return Ok(Some(SecondFactor::RecoveryCode { left }));
                }
            }
        }
        self.record_audit(audit("agent.login_failed", format!("{} gave a wrong second factor", a.email)))?;
        Ok(None)
    }

    /// Turns two-factor login off for `agent`: by themselves (`by` them) or
    /// reset by an admin. Their secret and recovery codes are removed; if
    /// the helpdesk requires two-factor login they set it up again at their
    /// next login. `false` when it was off.
    pub fn disable_two_factor(
        &self,
        agent: AgentId,
        by: AuditActor,
        source: Option<String>,
    ) -> Result<bool, AuthError> {
        let a = self.agent(agent)?;
        let Some(cred) = self.totp_credential(agent)? else { return Ok(false) };
        let mut delete = vec![(RecordKind::Credential, cred.id.0)];
        delete.extend(self.recovery_credentials(agent)?.iter().map(|c| (RecordKind::Credential, c.id.0)));
        let summary = match &by {
            AuditActor::Agent { id, .. } if *id == agent => {
                format!("{} turned off two-factor login", a.email)
            }
            _ => format!("Reset two-factor login of {}", a.email),
        };
        let entry =
            AuditEntry::new(self.clock().now(), by, "agent.two_factor_off", a.id.to_string(), summary)
                .from_source(source);
        self.store().admin_commit(&AdminCommit { delete, ..AdminCommit::audit_only(entry) })?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewAgent;
    use helpdesk_core::admin::AuditQuery;
    use std::sync::Arc;

    #[test]
    fn a_code_sent_several_times_at_once_logs_in_once() {
        let clock = Arc::new(ManualClock::default());
        let hd = Helpdesk::builder().clock(clock.clone()).in_memory();
        let sam = hd.create_agent(NewAgent::new("Sam", "sam@hd.example")).unwrap();
        let setup = hd.totp_setup(sam.id).unwrap();
        let code = |c: &ManualClock| totp_code(&setup.secret, helpdesk_core::Clock::now(c)).unwrap();
        hd.enable_two_factor(sam.id, &setup.secret, &code(&clock), None).unwrap();
        for round in 0..20 {
            clock.advance(chrono::Duration::seconds(30));
            let typed = code(&clock);
            let gate = Arc::new(std::sync::Barrier::new(4));
            let wins: usize = (0..4)
                .map(|_| {
                    let (hd, gate, typed) = (hd.clone(), gate.clone(), typed.clone());
                    std::thread::spawn(move || {
                        gate.wait();
                        hd.check_second_factor(sam.id, &typed, None).unwrap().is_some()
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|t| usize::from(t.join().unwrap()))
                .sum();
            assert_eq!(wins, 1, "round {round}: one login per code");
        }
        assert!(hd.two_factor_enabled(sam.id).unwrap(), "the app's record is still there");
    }

    #[test]
    fn codes_drift_replay_recovery_renewal_and_reset() {
        let clock = Arc::new(ManualClock::default());
        let hd = Helpdesk::builder().clock(clock.clone()).in_memory();
        let sam = hd.create_agent(NewAgent::new("Sam", "sam@hd.example")).unwrap();
        let alice = hd.create_agent(NewAgent::new("Alice", "alice@hd.example").admin()).unwrap();
        assert_eq!(hd.check_second_factor(sam.id, "123456", None).unwrap(), None, "off: nothing to check");

        let setup = hd.totp_setup(sam.id).unwrap();
        assert_eq!(setup.secret.len(), 32, "160 bits in base32");
        assert!(
            setup.url.contains("issuer=Helpdesk") && setup.url.contains("sam%40hd.example"),
            "{}",
            setup.url
        );
        assert!(!format!("{setup:?}").contains(&setup.secret));
        // A wrong code or a bad secret turns nothing on.
        assert!(
            matches!(
                hd.enable_two_factor(sam.id, &setup.secret, "000000", None),
                Err(AuthError::BadSecondFactor(_))
            ) || totp_code(&setup.secret, clock.now()).unwrap() == "000000"
        );
        assert!(hd.enable_two_factor(sam.id, "not base32!", "123456", None).is_err());
        assert!(!hd.two_factor_enabled(sam.id).unwrap());

        let now = || clock.now();
        let codes = hd
            .enable_two_factor(sam.id, &setup.secret, &totp_code(&setup.secret, now()).unwrap(), None)
            .unwrap();
        let distinct: std::collections::BTreeSet<&String> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'));
        let state = hd.two_factor_state(sam.id).unwrap();
        assert_eq!((state.since, state.recovery_codes_left), (Some(now()), 10));

        // The code used to turn it on does not log in; the next one does,
        // and so does the previous step's (a slow typist), once.
        assert_eq!(
            hd.check_second_factor(sam.id, &totp_code(&setup.secret, now()).unwrap(), None).unwrap(),
            None
        );
        clock.advance(chrono::Duration::seconds(60));
        let late = totp_code(&setup.secret, now() - chrono::Duration::seconds(30)).unwrap();
        assert_eq!(hd.check_second_factor(sam.id, &late, None).unwrap(), Some(SecondFactor::Code));
        let current = totp_code(&setup.secret, now()).unwrap();
        let spaced = format!("{} {}", &current[..3], &current[3..]);
        assert_eq!(hd.check_second_factor(sam.id, &spaced, None).unwrap(), Some(SecondFactor::Code));
        assert_eq!(hd.check_second_factor(sam.id, &current, None).unwrap(), None, "used");
        // Two steps away is too far.
        let old = totp_code(&setup.secret, now() - chrono::Duration::seconds(90)).unwrap();
        clock.advance(chrono::Duration::seconds(30));
        assert_eq!(hd.check_second_factor(sam.id, &old, None).unwrap(), None);

        // Recovery codes: any case, without the dash; each once.
        let typed = codes[3].replace('-', "").to_uppercase();
        assert_eq!(
            hd.check_second_factor(sam.id, &typed, None).unwrap(),
            Some(SecondFactor::RecoveryCode { left: 9 })
        );
        assert_eq!(hd.check_second_factor(sam.id, &codes[3], None).unwrap(), None);
        // New codes replace the old.
        let renewed = hd.renew_recovery_codes(sam.id, None).unwrap();
        assert_eq!(hd.check_second_factor(sam.id, &codes[0], None).unwrap(), None);
        assert_eq!(hd.two_factor_state(sam.id).unwrap().recovery_codes_left, 10);
        assert_eq!(
            hd.check_second_factor(sam.id, &renewed[9], None).unwrap(),
            Some(SecondFactor::RecoveryCode { left: 9 })
        );

        // An admin resets it: off, nothing left to use.
        let by = AuditActor::Agent { id: alice.id, name: alice.name.clone() };
        assert!(hd.disable_two_factor(sam.id, by.clone(), Some("10.1.1.1".into())).unwrap());
        assert!(!hd.disable_two_factor(sam.id, by, None).unwrap());
        assert_eq!(
            hd.two_factor_state(sam.id).unwrap(),
            TwoFactorState { since: None, recovery_codes_left: 0 }
        );
        assert_eq!(hd.check_second_factor(sam.id, &renewed[0], None).unwrap(), None);

        let log: Vec<(String, String)> = hd
            .audit(&AuditQuery::default(), None, 100)
            .unwrap()
            .into_iter()
            .rev()
            .filter(|e| e.target == sam.id.to_string())
            .map(|e| (e.action, e.summary))
            .collect();
        let actions: Vec<&str> = log.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(
            actions,
            [
                "agent.two_factor_on",
                "agent.login_failed",
                "agent.login",
                "agent.login",
                "agent.login_failed",
                "agent.login_failed",
                "agent.login",
                "agent.login_failed",
                "agent.recovery_codes",
                "agent.login_failed",
                "agent.login",
                "agent.two_factor_off",
            ],
            "{log:#?}"
        );
        assert_eq!(log.last().unwrap().1, "Reset two-factor login of sam@hd.example");
    }
}
