//! The Admin app's domain: the helpdesk-wide [`Settings`] admins edit, the
//! labels the helpdesk knows ([`LabelDef`]), the append-only [`AuditEntry`]
//! log of every admin change, login and API key, and the [`AdminError`]s a
//! change is refused with.
//!
//! The changes themselves run in `helpdesk-store` (`Helpdesk::admin`), which
//! writes each one with its audit entry in one atomic store write
//! ([`AdminCommit`](crate::store::AdminCommit)).
//!
//! ```
//! use helpdesk_core::admin::{Registration, Settings};
//! let mut s = Settings::default();
//! s.name = "  Acme Support ".into();
//! s.public_url = Some("https://help.acme.example/".into());
//! s.embed_origins = vec!["https://www.acme.example".into()];
//! let s = s.validated().unwrap();
//! assert_eq!(s.name, "Acme Support");
//! assert_eq!(s.public_url.as_deref(), Some("https://help.acme.example"));
//! assert_eq!(s.registration, Registration::Validated);
//!
//! let mut bad = Settings::default();
//! bad.embed_origins = vec!["acme.example/page".into()];
//! assert!(bad.validated().unwrap_err().to_string().contains("embed_origins"));
//! ```

mod rules;

pub use rules::{rule_file_toml, DryRunOn, RuleDef, RuleKind};

use crate::ids::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Who may make a portal account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Anyone; the account works at once (the address is confirmed later).
    Open,
    /// Anyone, but tickets wait until the address is confirmed by a link.
    Validated,
    /// Nobody registers: agents create users (and they reset a password).
    InviteOnly,
}

impl Registration {
    /// Every mode, in the order screens list them.
    pub const ALL: [Registration; 3] =
        [Registration::Open, Registration::Validated, Registration::InviteOnly];

    /// The snake_case name (`invite_only`).
    pub fn as_str(self) -> &'static str {
        match self {
            Registration::Open => "open",
            Registration::Validated => "validated",
            Registration::InviteOnly => "invite_only",
        }
    }

    /// Parses [`Registration::as_str`].
    pub fn parse(s: &str) -> Option<Registration> {
        Registration::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Shortest session idle lifetime an admin may set, in minutes.
pub const MIN_SESSION_MINUTES: u32 = 5;
/// Longest session idle lifetime, in minutes (30 days).
pub const MAX_SESSION_MINUTES: u32 = 30 * 24 * 60;
/// Password length bounds an admin may choose for the shortest password.
pub const PASSWORD_MIN_RANGE: (u32, u32) = (8, 64);
/// The strengths an admin may require of passwords: zxcvbn's scores, from
/// 1 (refuses only the most common passwords, such as `12345678`) to 4
/// (very unguessable: about 10^10 guesses or more).
pub const PASSWORD_STRENGTH_RANGE: (u8, u8) = (1, 4);

/// The helpdesk-wide settings (one record, edited in Admin > Settings).
/// Changes take effect on the next request, on every node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The helpdesk's name: the portal's title, the workspace's top bar, mail.
    pub name: String,
    /// The URL people reach the helpdesk at (links in mail), without a
    /// trailing slash; `None`: the server's `--public-url`.
    pub public_url: Option<String>,
    /// Whether the user portal is served (off: it answers that it is closed;
    /// the embed and mail keep working).
    pub portal_enabled: bool,
    /// Who may make a portal account.
    pub registration: Registration,
    /// Origins (`https://www.example.com`) allowed to post the embed form;
    /// empty: the server's `--embed-origin` list (or any origin).
    pub embed_origins: Vec<String>,
    /// Minutes of inactivity after which a login session ends.
    pub session_idle_minutes: u32,
    /// Shortest password accepted for agents and users.
    pub password_min_length: u32,
    /// How hard to guess a new password must be: the least zxcvbn score
    /// accepted, in [`PASSWORD_STRENGTH_RANGE`] (2, the default: at least a
    /// million guesses; common passwords and their variants are refused).
    pub password_min_strength: u8,
    /// Whether every agent logs in with a second factor (a code from an
    /// authenticator app); an agent without one sets it up at login.
    pub agents_two_factor: bool,
    /// The language of mail to people who have none of their own.
    pub language: crate::base::language::Language,
    /// Largest file people may attach, in MB (within [`ATTACHMENT_MB_RANGE`]).
    pub attachment_max_file_mb: u32,
    /// Largest total of one message's files, in MB (at least the file limit).
    pub attachment_max_message_mb: u32,
}

/// The range of the attachment size settings, in MB.
pub const ATTACHMENT_MB_RANGE: (u32, u32) = (1, 100);

impl Default for Settings {
    fn default() -> Self {
        Settings {
            name: "Helpdesk".into(),
            public_url: None,
            portal_enabled: true,
            registration: Registration::Validated,
            embed_origins: Vec::new(),
            session_idle_minutes: 8 * 60,
            password_min_length: 8,
            password_min_strength: 2,
            agents_two_factor: false,
            language: crate::base::language::Language::english(),
            attachment_max_file_mb: 10,
            attachment_max_message_mb: 25,
        }
    }
}

impl Settings {
    /// The settings normalised (trimmed name, URL without a trailing slash,
    /// origins lower-cased), or the first field that is wrong and why.
    pub fn validated(mut self) -> Result<Settings, AdminError> {
        let bad = |field: &'static str, reason: String| AdminError::Setting { field, reason };
        self.name = self.name.trim().to_string();
        if self.name.is_empty() {
            return Err(bad("name", "the helpdesk needs a name".into()));
        }
        if self.name.chars().count() > 100 {
            return Err(bad("name", "at most 100 characters".into()));
        }
        self.public_url = match self.public_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            None => None,
            Some(u) => Some(parse_base_url(u).map_err(|r| bad("public_url", r))?),
        };
        let mut origins = Vec::new();
        for o in &self.embed_origins {
            let o = o.trim();
            if o.is_empty() {
                continue;
            }
            let parsed = parse_origin(o).map_err(|r| bad("embed_origins", format!("{o:?}: {r}")))?;
            if !origins.contains(&parsed) {
                origins.push(parsed);
            }
        }
        self.embed_origins = origins;
        if !(MIN_SESSION_MINUTES..=MAX_SESSION_MINUTES).contains(&self.session_idle_minutes) {
            return Err(bad(
                "session_idle_minutes",
                format!("between {MIN_SESSION_MINUTES} and {MAX_SESSION_MINUTES} minutes"),
            ));
        }
        let (lo, hi) = PASSWORD_MIN_RANGE;
        if !(lo..=hi).contains(&self.password_min_length) {
            return Err(bad("password_min_length", format!("between {lo} and {hi} characters")));
        }
        let (lo, hi) = PASSWORD_STRENGTH_RANGE;
        if !(lo..=hi).contains(&self.password_min_strength) {
            return Err(bad("password_min_strength", format!("between {lo} and {hi}")));
        }
        let (lo, hi) = ATTACHMENT_MB_RANGE;
        if !(lo..=hi).contains(&self.attachment_max_file_mb) {
            return Err(bad("attachment_max_file_mb", format!("between {lo} and {hi} MB")));
        }
        if !(self.attachment_max_file_mb..=hi).contains(&self.attachment_max_message_mb) {
            let least = self.attachment_max_file_mb;
            return Err(bad(
                "attachment_max_message_mb",
                format!("between the file limit ({least}) and {hi} MB"),
            ));
        }
        Ok(self)
    }

    /// The attachment limits these settings set.
    ///
    /// ```
    /// let l = helpdesk_core::admin::Settings::default().file_limits();
    /// assert_eq!((l.max_file_bytes, l.max_message_bytes), (10 << 20, 25 << 20));
    /// ```
    pub fn file_limits(&self) -> crate::files::FileLimits {
        crate::files::FileLimits {
            max_file_bytes: u64::from(self.attachment_max_file_mb) << 20,
            max_message_bytes: u64::from(self.attachment_max_message_mb) << 20,
            max_files: crate::files::MAX_FILES,
        }
    }
}

fn host_ok(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
}

/// `scheme://host[:port]` of an http(s) URL, lower-cased; the rest (path) is
/// returned separately.
fn split_url(u: &str) -> Result<(String, String), String> {
    let lower = u.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .map(|r| ("https", r))
        .or_else(|| lower.strip_prefix("http://").map(|r| ("http", r)));
    let Some((scheme, rest)) = rest else { return Err("must start with https:// or http://".into()) };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &u[u.len() - rest.len() + i..]),
        None => (rest, ""),
    };
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']').ok_or("bad IPv6 address")?;
            if !after.is_empty() && !after.starts_with(':') {
                return Err("bad IPv6 address".into());
            }
            (h, after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if let Some(p) = port {
        if !matches!(p.parse::<u16>(), Ok(n) if n > 0) {
            return Err(format!("bad port {p:?}"));
        }
    }
    if authority.contains('@') || !host_ok(host) {
        return Err("needs a host name".into());
    }
    Ok((format!("{scheme}://{authority}"), path.to_string()))
}

/// Checks and normalises a base URL (`https://help.example.com/support/`
/// -> `https://help.example.com/support`): http(s), a host, no query.
pub fn parse_base_url(u: &str) -> Result<String, String> {
    let (origin, path) = split_url(u.trim())?;
    if path.contains(['?', '#']) {
        return Err("must not have a query or fragment".into());
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces".into());
    }
    Ok(format!("{origin}{}", path.trim_end_matches('/')))
}

/// Checks and normalises a web origin (`https://www.example.com[:port]`,
/// nothing after it).
pub fn parse_origin(o: &str) -> Result<String, String> {
    let (origin, path) = split_url(o.trim())?;
    if !path.is_empty() && path != "/" {
        return Err("an origin has no path (only scheme, host and port)".into());
    }
    Ok(origin)
}

/// A label the helpdesk knows: agents are offered it when labelling a
/// ticket, and Admin > Labels shows how many tickets carry it. Tickets may
/// carry labels not defined here (agents type new ones).
///
/// ```
/// use helpdesk_core::admin::LabelDef;
/// let l = LabelDef { name: " VIP ".into(), description: " Key accounts ".into() }.validated().unwrap();
/// assert_eq!((l.name.as_str(), l.description.as_str()), ("vip", "Key accounts"));
/// assert!(LabelDef { name: " ".into(), description: String::new() }.validated().is_err());
/// assert!(LabelDef { name: "..".into(), description: String::new() }.validated().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelDef {
    /// The label, as tickets carry it (trimmed, lower-case).
    pub name: String,
    /// What it means, when to use it (shown to agents).
    #[serde(default)]
    pub description: String,
}

impl LabelDef {
    /// The label normalised like a ticket's labels, or why it cannot be one.
    pub fn validated(self) -> Result<LabelDef, AdminError> {
        let name = crate::command::normalize_label(&self.name).map_err(|_| AdminError::Setting {
            field: "name",
            reason: "a label has 1 to 64 characters and no control characters".into(),
        })?;
        // Stored by name (at most 200 bytes), and one segment of its URL.
        if name.len() > 200 || name == "." || name == ".." {
            return Err(AdminError::Setting {
                field: "name",
                reason: "a label is at most 200 bytes and not \".\" or \"..\"".into(),
            });
        }
        let description = self.description.trim().to_string();
        if description.chars().count() > 500 {
            return Err(AdminError::Setting {
                field: "description",
                reason: "at most 500 characters".into(),
            });
        }
        Ok(LabelDef { name, description })
    }
}

/// Who made an audited change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum AuditActor {
    /// An agent (their name at the time).
    Agent {
        /// Who.
        id: AgentId,
        /// Their name then.
        name: String,
    },
    /// The first-run setup (before any admin existed).
    Setup,
    /// The helpdesk itself (a command-line import, the server at start).
    System,
    /// Nobody known: a failed login names the address tried in the target.
    Anonymous,
}

impl fmt::Display for AuditActor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditActor::Agent { id, name } => write!(f, "{name} ({id})"),
            AuditActor::Setup => f.write_str("first-run setup"),
            AuditActor::System => f.write_str("system"),
            AuditActor::Anonymous => f.write_str("anonymous"),
        }
    }
}

/// One entry of the audit log: who did what to which thing, when, with the
/// thing before and after (as JSON; secrets are never in it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1 (given by the store when written; 0 before).
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: AuditActor,
    /// What, as `area.verb` (`department.create`, `agent.login_failed`).
    pub action: String,
    /// The thing changed (`department:3`, `settings`, `agent:alice@example.com`).
    pub target: String,
    /// One line for people ("Renamed department Support to Customer Care").
    pub summary: String,
    /// The thing before (absent for a creation or a login).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// The thing after (absent for a removal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    /// The client address the request came from, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl AuditEntry {
    /// An entry (seq 0 until written) with no before/after.
    pub fn new(
        at: DateTime<Utc>,
        actor: AuditActor,
        action: impl Into<String>,
        target: impl Into<String>,
        summary: impl Into<String>,
    ) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at,
            actor,
            action: action.into(),
            target: target.into(),
            summary: summary.into(),
            before: None,
            after: None,
            source: None,
        }
    }

    /// With the thing before and after.
    pub fn change<T: Serialize>(mut self, before: Option<&T>, after: Option<&T>) -> AuditEntry {
        self.before = before.and_then(|b| serde_json::to_value(b).ok());
        self.after = after.and_then(|a| serde_json::to_value(a).ok());
        self
    }

    /// With the client address.
    pub fn from_source(mut self, source: Option<String>) -> AuditEntry {
        self.source = source;
        self
    }
}

/// What to show of the audit log (all parts optional, combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// Only entries by this agent.
    pub agent: Option<AgentId>,
    /// Only actions starting with this (`department`, `agent.login`).
    pub action: Option<String>,
    /// Only entries whose target or summary contains this (case-insensitive).
    pub text: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries before this time.
    pub until: Option<DateTime<Utc>>,
}

impl AuditQuery {
    /// Whether `e` is shown.
    pub fn matches(&self, e: &AuditEntry) -> bool {
        if let Some(a) = self.agent {
            if !matches!(&e.actor, AuditActor::Agent { id, .. } if *id == a) {
                return false;
            }
        }
        if let Some(p) = self.action.as_deref().filter(|p| !p.is_empty()) {
            if !e.action.starts_with(p) {
                return false;
            }
        }
        if let Some(t) = self.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let t = t.to_lowercase();
            if !e.target.to_lowercase().contains(&t) && !e.summary.to_lowercase().contains(&t) {
                return false;
            }
        }
        self.since.is_none_or(|s| e.at >= s) && self.until.is_none_or(|u| e.at < u)
    }
}

/// Why an admin change was refused. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The actor is not an active admin.
    #[error("{0} is not an admin: only admins may change the helpdesk's configuration")]
    NotAdmin(AgentId),
    /// A setting's value is wrong.
    #[error("setting {field}: {reason}")]
    Setting {
        /// The setting.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The thing is used elsewhere and cannot go (or change) without breaking it.
    #[error("{what} is used by {by}; change that first")]
    InUse {
        /// The thing ("team Tier 1").
        what: String,
        /// What uses it ("trigger \"Route VIPs\"").
        by: String,
    },
    /// A department still holds tickets: the removal must say where they go.
    #[error("{department} still has {tickets} ticket(s): choose a department to move them to")]
    HasTickets {
        /// The department.
        department: String,
        /// How many tickets it holds.
        tickets: u64,
    },
    /// Tickets cannot move to the department being removed.
    #[error("the tickets cannot move to the department being removed")]
    MoveToSelf,
    /// The change would leave the helpdesk without an active admin.
    #[error("the helpdesk needs at least one active admin: make another agent an admin first")]
    LastAdmin,
    /// The helpdesk has been set up already.
    #[error("this helpdesk is already set up; log in as an admin instead")]
    AlreadySetUp,
    /// The department has no such field.
    #[error("{department} has no field {key:?}")]
    NoSuchField {
        /// The department.
        department: DepartmentId,
        /// The key asked for.
        key: String,
    },
    /// A change to a field that would lose or misread stored values.
    #[error("field {key:?}: {reason}")]
    FieldChange {
        /// The field.
        key: String,
        /// Why it was refused.
        reason: String,
    },
    /// Two agents (or users) cannot be the same one.
    #[error("{0}")]
    Refused(String),
    /// No rule of that kind has that name.
    #[error("there is no {} named {name:?}", .kind.label())]
    NoSuchRule {
        /// Its kind.
        kind: RuleKind,
        /// The name asked for.
        name: String,
    },
    /// Another rule of the kind has the name already.
    #[error("another {} is named {name:?}: choose another name", .kind.label())]
    RuleNameTaken {
        /// Its kind.
        kind: RuleKind,
        /// The name.
        name: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_origins() {
        assert_eq!(parse_base_url("HTTPS://Help.Example.com/").unwrap(), "https://help.example.com");
        assert_eq!(parse_base_url("http://127.0.0.1:8080/desk/").unwrap(), "http://127.0.0.1:8080/desk");
        assert!(parse_base_url("ftp://x.example").is_err());
        assert!(parse_base_url("https://").is_err());
        assert!(parse_base_url("https://a.example/?q=1").is_err());
        assert!(parse_base_url("https://user@a.example").is_err());
        assert!(parse_base_url("https://a.example:99999").is_err());
        assert_eq!(parse_origin("https://www.acme.example/").unwrap(), "https://www.acme.example");
        assert_eq!(parse_origin("http://localhost:3000").unwrap(), "http://localhost:3000");
        assert!(parse_origin("https://acme.example/page").is_err());
        assert!(parse_origin("acme.example").is_err());
    }

    #[test]
    fn settings_bounds() {
        let s = Settings { session_idle_minutes: 1, ..Settings::default() };
        assert!(matches!(s.validated(), Err(AdminError::Setting { field: "session_idle_minutes", .. })));
        let s = Settings { password_min_length: 4, ..Settings::default() };
        assert!(matches!(s.validated(), Err(AdminError::Setting { field: "password_min_length", .. })));
        let s = Settings { name: " ".into(), ..Settings::default() };
        assert!(matches!(s.validated(), Err(AdminError::Setting { field: "name", .. })));
        let s = Settings {
            embed_origins: vec!["https://A.example".into(), "https://a.example/".into(), " ".into()],
            ..Settings::default()
        };
        assert_eq!(s.validated().unwrap().embed_origins, vec!["https://a.example".to_string()]);
        for r in Registration::ALL {
            assert_eq!(Registration::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn audit_query() {
        let e = AuditEntry::new(
            DateTime::UNIX_EPOCH,
            AuditActor::Agent { id: AgentId(1), name: "Alice".into() },
            "department.update",
            "department:2",
            "Renamed department Support to Care",
        );
        assert!(AuditQuery::default().matches(&e));
        assert!(AuditQuery { agent: Some(AgentId(1)), ..Default::default() }.matches(&e));
        assert!(!AuditQuery { agent: Some(AgentId(2)), ..Default::default() }.matches(&e));
        assert!(AuditQuery { action: Some("department".into()), ..Default::default() }.matches(&e));
        assert!(!AuditQuery { action: Some("agent".into()), ..Default::default() }.matches(&e));
        assert!(AuditQuery { text: Some("CARE".into()), ..Default::default() }.matches(&e));
        assert!(!AuditQuery {
            since: Some(DateTime::UNIX_EPOCH + chrono::Duration::seconds(1)),
            ..Default::default()
        }
        .matches(&e));
    }
}
