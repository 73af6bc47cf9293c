//! Email accounts and mail settings in Admin.
//!
//! An account's relay password is kept apart from the account, in the
//! configuration (`relay-passwords`), so that it is never in the account's
//! record, its JSON, a screen or the audit log (which says only that it was
//! set or removed). [`Helpdesk::relay_password`] gives it to the sender.
//!
//! ```
//! use helpdesk_store::{Helpdesk, NewAgent};
//! use helpdesk_store::admin::AccountChange;
//! use helpdesk_core::mail::{Relay, RelaySecurity};
//!
//! let hd = Helpdesk::in_memory();
//! let d = hd.create_department("Sales", vec![]).unwrap();
//! let admin_id = hd.create_agent(NewAgent::new("Alice", "alice@acme.example").admin()).unwrap().id;
//! let admin = hd.admin(admin_id).unwrap();
//! let mut change = AccountChange::new("sales@acme.example", "Acme Sales", d.id);
//! change.relay = Some(Relay { host: "smtp.acme.example".into(), port: 587, security: RelaySecurity::StartTls, username: Some("sales".into()) });
//! change.relay_password = Some("s3cret".into());
//! let a = admin.create_email_account(change).unwrap();
//! assert_eq!(hd.relay_password(a.id).unwrap().as_deref(), Some("s3cret"));
//! let log = hd.audit(&Default::default(), None, 1).unwrap();
//! assert!(!serde_json::to_string(&log).unwrap().contains("s3cret"));
//! ```

use super::{target, Admin};
use crate::{Helpdesk, Result};
use helpdesk_core::admin::AdminError;
use helpdesk_core::mail::{
    AutoReplyPolicy, EmailAccount, InboundWays, MailSettings, RateLimit, Relay, RelaySecurity,
};
use helpdesk_core::*;
use serde::{Deserialize, Serialize};

/// The configuration namespace of relay passwords (by account id).
const RELAY_PASSWORDS: &str = "relay-passwords";

/// What an admin sets of an email account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountChange {
    /// The address mail comes to and leaves from.
    pub address: String,
    /// The display name on outgoing mail.
    pub name: String,
    /// The department its tickets go to.
    pub department: DepartmentId,
    /// The ways mail for it may come in.
    #[serde(default)]
    pub inbound: InboundWays,
    /// Its own outgoing relay (`None`: the server's).
    #[serde(default)]
    pub relay: Option<Relay>,
    /// The relay's password: `None` keeps the one set, `Some("")` removes
    /// it. Never sent back.
    #[serde(default, skip_serializing)]
    pub relay_password: Option<String>,
}

impl std::fmt::Debug for AccountChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountChange")
            .field("address", &self.address)
            .field("name", &self.name)
            .field("department", &self.department)
            .field("inbound", &self.inbound)
            .field("relay", &self.relay)
            .field("relay_password", &self.relay_password.as_ref().map(|_| "(hidden)"))
            .finish()
    }
}

/// Whether a relay host is this machine (a password may go to it in plain text).
fn loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost" || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl AccountChange {
    /// An account taking mail in every way, sending by the server's relay.
    pub fn new(address: &str, name: &str, department: DepartmentId) -> AccountChange {
        AccountChange {
            address: address.into(),
            name: name.into(),
            department,
            inbound: InboundWays::default(),
            relay: None,
            relay_password: None,
        }
    }
}

/// A configuration write (namespace, name, value) and what the audit
/// summary says of it.
type PasswordChange = (String, String, Option<serde_json::Value>, &'static str);

/// A test mail an admin sent from an account, and what the relay answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestMail {
    /// The recipient.
    pub to: String,
    /// The relay used (`host:port (security)`), or the server's.
    pub relay: String,
    /// Whether the relay took the mail.
    pub accepted: bool,
    /// The relay's answer (code and text), or why there was none.
    pub answer: String,
}

impl Helpdesk {
    /// The password of an account's own relay, if one is set. A secret:
    /// for the mail sender only, never to be shown.
    pub fn relay_password(&self, account: EmailAccountId) -> Result<Option<String>> {
        Ok(self
            .store
            .config(RELAY_PASSWORDS, &account.0.to_string())?
            .and_then(|v| v.get("password").and_then(|p| p.as_str()).map(str::to_string)))
    }
}

impl Admin<'_> {
    fn account_parts(
        &self,
        id: Option<EmailAccountId>,
        c: &AccountChange,
    ) -> Result<(Email, String, Option<Relay>)> {
        let address = Email::parse(&c.address)?;
        let name = crate::helpdesk::people_name("email account", &c.name)?;
        self.hd.department(c.department)?;
        let taken = |owner: String| DirectoryError::EmailTaken { email: address.to_string(), owner };
        if let Some(u) = self.hd.user_by_email(address.as_str())? {
            return Err(taken(format!("user {}", u.name)).into());
        }
        if let Some(a) = self.hd.agent_by_email(address.as_str())? {
            return Err(taken(format!("agent {}", a.name)).into());
        }
        if let Some(a) = self.hd.email_account_by_address(address.as_str())? {
            if Some(a.id) != id {
                return Err(taken(format!("email account {}", a.name)).into());
            }
        }
        let relay = c
            .relay
            .clone()
            .map(|r| r.validated())
            .transpose()
            .map_err(|reason| AdminError::Setting { field: "relay", reason })?;
        if let Some(p) = c.relay_password.as_ref().filter(|p| !p.is_empty()) {
            match &relay {
                None => {
                    return Err(AdminError::Setting {
                        field: "relay_password",
                        reason: "a password is for a relay of the account's own: give its host".into(),
                    }
                    .into())
                }
                Some(r) if r.security == RelaySecurity::None && !loopback(&r.host) => {
                    return Err(AdminError::Setting {
                        field: "relay_password",
                        reason: format!(
                            "the password would cross the network unencrypted to {}: choose STARTTLS or TLS",
                            r.host
                        ),
                    }
                    .into())
                }
                Some(_) => {}
            }
            if p.chars().count() > 500 || p.chars().any(char::is_control) {
                return Err(AdminError::Setting {
                    field: "relay_password",
                    reason: "at most 500 characters, no control characters".into(),
                }
                .into());
            }
        }
        Ok((address, name, relay))
    }

    /// The configuration change of a password change (`None`: none). A
    /// password stored for another relay (`relay_changed`) is removed unless
    /// a new one is given: it never goes to a host it was not typed for.
    fn password_change(
        &self,
        id: EmailAccountId,
        password: &Option<String>,
        relay_changed: bool,
    ) -> Result<Option<PasswordChange>> {
        let password = match password.as_deref() {
            None if relay_changed => Some(""),
            p => p,
        };
        Ok(match password {
            None => None,
            Some("") => self
                .hd
                .relay_password(id)?
                .map(|_| (RELAY_PASSWORDS.to_string(), id.0.to_string(), None, "relay password removed")),
            Some(p) => Some((
                RELAY_PASSWORDS.to_string(),
                id.0.to_string(),
                Some(serde_json::json!({ "password": p })),
                "relay password set",
            )),
        })
    }

    /// Adds an email account.
    pub fn create_email_account(&self, c: AccountChange) -> Result<EmailAccount> {
        let (address, name, relay) = self.account_parts(None, &c)?;
        let a = EmailAccount {
            id: EmailAccountId(self.hd.next_id(IdKind::EmailAccount)?),
            address,
            name,
            department: c.department,
            inbound: c.inbound,
            relay,
        };
        let mut summary = format!("Created email account {}", a.address);
        let mut config = Vec::new();
        if let Some((ns, name, v, said)) = self.password_change(a.id, &c.relay_password, false)? {
            summary.push_str(&format!(" ({said})"));
            config.push((ns, name, v));
        }
        let e = self
            .entry("email_account.create", target("email_account", a.id.0), summary)
            .change(None, Some(&a));
        self.write_with_config(vec![Record::EmailAccount(a.clone())], vec![], config, e)?;
        Ok(a)
    }

    /// Changes an email account (address, name, department, inbound ways,
    /// relay and its password).
    pub fn update_email_account(&self, id: EmailAccountId, c: AccountChange) -> Result<EmailAccount> {
        let before = self.hd.email_account(id)?;
        let (address, name, relay) = self.account_parts(Some(id), &c)?;
        let after = EmailAccount {
            address,
            name,
            department: c.department,
            inbound: c.inbound,
            relay,
            ..before.clone()
        };
        let password = self.password_change(id, &c.relay_password, after.relay != before.relay)?;
        if after == before && password.is_none() {
            return Ok(after);
        }
        let mut summary = format!("Changed email account {}", after.address);
        let mut config = Vec::new();
        if let Some((ns, name, v, said)) = password {
            summary.push_str(&format!(" ({said})"));
            config.push((ns, name, v));
        }
        let e = self
            .entry("email_account.update", target("email_account", id.0), summary)
            .change(Some(&before), Some(&after));
        self.write_with_config(vec![Record::EmailAccount(after.clone())], vec![], config, e)?;
        Ok(after)
    }

    /// Removes an email account (and its relay password). Mail to its
    /// address is no longer taken in; its department's mail then leaves
    /// from the first other account.
    pub fn remove_email_account(&self, id: EmailAccountId) -> Result<()> {
        let a = self.hd.email_account(id)?;
        let summary = format!("Removed email account {}", a.address);
        let e =
            self.entry("email_account.remove", target("email_account", id.0), summary).change(Some(&a), None);
        let config = vec![(RELAY_PASSWORDS.to_string(), id.0.to_string(), None)];
        self.write_with_config(vec![], vec![(RecordKind::EmailAccount, id.0)], config, e)?;
        Ok(())
    }

    /// Records a test mail sent from an account in the audit log.
    pub fn record_test_mail(&self, id: EmailAccountId, test: &TestMail) -> Result<()> {
        let a = self.hd.email_account(id)?;
        let summary = format!(
            "Sent a test mail from {} to {} by {}: {}",
            a.address,
            test.to,
            test.relay,
            if test.accepted { "accepted" } else { "refused" }
        );
        let mut e = self.entry("email_account.test", target("email_account", id.0), summary);
        e.after = serde_json::to_value(test).ok();
        self.write(vec![], vec![], e)?;
        Ok(())
    }

    /// Changes the admin's part of the mail settings (the auto-response
    /// limit, what to do with automatic replies, the Message-ID domain);
    /// the reply-token secret stays.
    pub fn set_mail_settings(
        &self,
        auto_responses: RateLimit,
        auto_replies: AutoReplyPolicy,
        message_id_domain: Option<String>,
    ) -> Result<MailSettings> {
        let before = self.hd.mail_settings()?;
        let after = MailSettings { auto_responses, auto_replies, message_id_domain, ..before.clone() }
            .validated()
            .map_err(|(field, reason)| AdminError::Setting { field, reason })?;
        if after == before {
            return Ok(after);
        }
        // The secret never goes into the audit log.
        #[derive(Serialize)]
        struct Shown<'m> {
            auto_responses: RateLimit,
            auto_replies: AutoReplyPolicy,
            message_id_domain: &'m Option<String>,
        }
        let shown = |m: &MailSettings| {
            serde_json::to_value(Shown {
                auto_responses: m.auto_responses,
                auto_replies: m.auto_replies,
                message_id_domain: &m.message_id_domain,
            })
            .ok()
        };
        let mut e =
            self.entry("mail_settings.update", "mail_settings".into(), "Changed the mail settings".into());
        e.before = shown(&before);
        e.after = shown(&after);
        self.write(vec![Record::MailSettings(after.clone())], vec![], e)?;
        Ok(after)
    }
}
