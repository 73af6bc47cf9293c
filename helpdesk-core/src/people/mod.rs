//! People and configuration: users, organisations, usergroups, agents, teams,
//! departments and their custom field definitions.

pub mod credential;
pub mod preferences;

use crate::error::DirectoryError;
use crate::ids::*;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A syntactically valid email address, stored lower-cased.
///
/// ```
/// use helpdesk_core::Email;
/// let e = Email::parse(" Ann@Acme.COM ").unwrap();
/// assert_eq!(e.as_str(), "ann@acme.com");
/// assert_eq!(e.domain(), "acme.com");
/// assert!(Email::parse("not an address").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Validates and normalises an address: one `@`, a non-empty local part, a
    /// domain with a dot, no spaces or control characters, at most 254 bytes.
    pub fn parse(s: &str) -> Result<Email, DirectoryError> {
        let s = s.trim().to_ascii_lowercase();
        let bad = || DirectoryError::InvalidEmail(s.clone());
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || domain.contains('@')
            || !valid_domain(domain)
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
            || local.contains(['<', '>', '(', ')', ',', ';', ':', '\\', '"', '[', ']'])
        {
            return Err(bad());
        }
        Ok(Email(s))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

/// Validates an email domain such as `acme.com` (lower-cased, dotted labels).
pub(crate) fn valid_domain(domain: &str) -> bool {
    domain.contains('.')
        && domain.len() <= 253
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Normalises and validates an organisation's email domain (`@Acme.com` -> `acme.com`).
pub fn parse_domain(s: &str) -> Result<String, DirectoryError> {
    let d = s.trim().trim_start_matches('@').to_ascii_lowercase();
    if valid_domain(&d) {
        Ok(d)
    } else {
        Err(DirectoryError::InvalidDomain(s.to_string()))
    }
}

impl TryFrom<String> for Email {
    type Error = DirectoryError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a display name: non-empty after trimming, at most 200 characters.
pub(crate) fn clean_name(what: &'static str, s: &str) -> Result<String, DirectoryError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(DirectoryError::EmptyName(what));
    }
    if t.chars().count() > 200 {
        return Err(DirectoryError::NameTooLong(what, 200));
    }
    Ok(t.to_string())
}

/// Someone the helpdesk helps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// Email addresses; the first is the primary one. Never empty.
    pub emails: Vec<Email>,
    /// Optional phone number.
    pub phone: Option<String>,
    /// The organisation the user belongs to, if any.
    pub organisation: Option<OrganisationId>,
    /// Usergroups (portal permissions).
    pub usergroups: BTreeSet<UsergroupId>,
    /// Whether the user has confirmed their email address.
    pub validated: bool,
    /// Custom fields.
    pub fields: BTreeMap<String, FieldValue>,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// Blocked by an agent: their mail is ignored, they cannot log in to the
    /// portal or open tickets there or in the embed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blocked: bool,
    /// The language their mail is written in (`None`: the helpdesk's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<crate::base::language::Language>,
}

impl User {
    /// The primary email address.
    pub fn primary_email(&self) -> &Email {
        &self.emails[0]
    }
}

/// What is needed to create a user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewUser {
    /// Display name (required).
    pub name: String,
    /// Email addresses, primary first (at least one).
    pub emails: Vec<String>,
    /// Optional phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Put the user in this organisation; when `None`, the organisation whose
    /// email domain matches the primary address (if any) is used.
    #[serde(default)]
    pub organisation: Option<OrganisationId>,
    /// Usergroups.
    #[serde(default)]
    pub usergroups: BTreeSet<UsergroupId>,
    /// Whether the address is already confirmed.
    #[serde(default)]
    pub validated: bool,
    /// The language their mail is written in (`None`: the helpdesk's).
    #[serde(default)]
    pub language: Option<crate::base::language::Language>,
}

impl NewUser {
    /// A user with a name and one email address.
    pub fn new(name: impl Into<String>, email: impl Into<String>) -> Self {
        NewUser { name: name.into(), emails: vec![email.into()], ..Default::default() }
    }

    /// Validates the input and builds the user with `id`, created at `now`.
    /// Organisation membership by domain is resolved by the caller.
    pub fn build(self, id: UserId, now: DateTime<Utc>) -> Result<User, DirectoryError> {
        let name = clean_name("user", &self.name)?;
        if self.emails.is_empty() {
            return Err(DirectoryError::NoEmail);
        }
        let mut emails: Vec<Email> = Vec::with_capacity(self.emails.len());
        for e in &self.emails {
            let e = Email::parse(e)?;
            if emails.contains(&e) {
                return Err(DirectoryError::DuplicateEmail(e.to_string()));
            }
            emails.push(e);
        }
        Ok(User {
            id,
            name,
            emails,
            phone: self.phone.map(|p| p.trim().to_string()).filter(|p| !p.is_empty()),
            organisation: self.organisation,
            usergroups: self.usergroups,
            validated: self.validated,
            fields: BTreeMap::new(),
            created_at: now,
            blocked: false,
            language: self.language,
        })
    }
}

/// A company users belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organisation {
    /// Id.
    pub id: OrganisationId,
    /// Name.
    pub name: String,
    /// Email domains (`acme.com`): users with a matching address join automatically.
    pub email_domains: BTreeSet<String>,
    /// Notes about the organisation (agent-only).
    pub notes: String,
    /// Phone numbers.
    pub phones: Vec<String>,
    /// Custom fields.
    pub fields: BTreeMap<String, FieldValue>,
}

/// A group of users; decides what they may see and do in the portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usergroup {
    /// Id.
    pub id: UsergroupId,
    /// Name.
    pub name: String,
    /// What members may do in the portal and the embed.
    #[serde(default)]
    pub portal: PortalPermissions,
}

/// What the members of a usergroup may do in the portal and the embed (a
/// user in several groups may do what any of them allows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortalPermissions {
    /// The departments members may submit tickets in; `None`: every one.
    pub submit_departments: Option<BTreeSet<DepartmentId>>,
    /// Whether members see the tickets of everyone in their organisation.
    pub organisation_tickets: bool,
    /// Whether members may CC other people on their tickets.
    pub cc_others: bool,
}

impl Default for PortalPermissions {
    fn default() -> Self {
        PortalPermissions { submit_departments: None, organisation_tickets: false, cc_others: true }
    }
}

impl PortalPermissions {
    /// What a user in these usergroups may do: what any of them allows. A
    /// user in no usergroup has the [defaults](PortalPermissions::default).
    ///
    /// ```
    /// use helpdesk_core::people::PortalPermissions;
    /// use helpdesk_core::DepartmentId;
    /// let sales = PortalPermissions { submit_departments: Some([DepartmentId(1)].into()), organisation_tickets: false, cc_others: false };
    /// let partners = PortalPermissions { submit_departments: Some([DepartmentId(2)].into()), organisation_tickets: true, cc_others: false };
    /// let both = PortalPermissions::combined([&sales, &partners]);
    /// assert!(both.may_submit(DepartmentId(2)) && !both.may_submit(DepartmentId(3)));
    /// assert!(both.organisation_tickets && !both.cc_others);
    /// assert_eq!(PortalPermissions::combined([]), PortalPermissions::default());
    /// ```
    pub fn combined<'a>(groups: impl IntoIterator<Item = &'a PortalPermissions>) -> PortalPermissions {
        let mut groups = groups.into_iter().peekable();
        if groups.peek().is_none() {
            return PortalPermissions::default();
        }
        let mut out = PortalPermissions {
            submit_departments: Some(BTreeSet::new()),
            organisation_tickets: false,
            cc_others: false,
        };
        for g in groups {
            out.submit_departments = match (out.submit_departments, &g.submit_departments) {
                (Some(mut a), Some(b)) => {
                    a.extend(b.iter().copied());
                    Some(a)
                }
                _ => None,
            };
            out.organisation_tickets |= g.organisation_tickets;
            out.cc_others |= g.cc_others;
        }
        out
    }

    /// Whether tickets may be submitted in `department`.
    pub fn may_submit(&self, department: DepartmentId) -> bool {
        self.submit_departments.as_ref().is_none_or(|d| d.contains(&department))
    }
}

/// What an agent is allowed to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    /// An admin may also change configuration, and sees every department.
    pub admin: bool,
    /// May delete, mark as spam, restore and purge tickets.
    pub may_delete: bool,
    /// May take a ticket away from another agent or assign it to someone else.
    pub may_reassign: bool,
    /// The departments the agent may see; `None` means all of them.
    pub departments: Option<BTreeSet<DepartmentId>>,
    /// May look up every user and organisation (DeskPRO's CRM permission).
    /// Without it an agent sees a person only through a ticket they may
    /// see: a user who owns or is CC'd on one, an organisation with one.
    /// Stored agents from before this permission have it off.
    #[serde(default)]
    pub people: bool,
}

impl Default for Permissions {
    fn default() -> Self {
        Permissions { admin: false, may_delete: false, may_reassign: true, departments: None, people: false }
    }
}

impl Permissions {
    /// Every permission, every department.
    pub fn admin() -> Self {
        Permissions { admin: true, may_delete: true, may_reassign: true, departments: None, people: true }
    }

    /// Whether this agent may look up any user or organisation, not only
    /// those of tickets they may see (admins always may).
    ///
    /// ```
    /// use helpdesk_core::Permissions;
    /// assert!(!Permissions::default().sees_all_people());
    /// assert!(Permissions { people: true, ..Permissions::default() }.sees_all_people());
    /// assert!(Permissions::admin().sees_all_people());
    /// ```
    pub fn sees_all_people(&self) -> bool {
        self.admin || self.people
    }

    /// Whether tickets in `department` are visible to this agent.
    pub fn can_see(&self, department: DepartmentId) -> bool {
        self.admin || self.departments.as_ref().is_none_or(|d| d.contains(&department))
    }
}

/// A staff member who works tickets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// Id.
    pub id: AgentId,
    /// Display name.
    pub name: String,
    /// Login and notification address.
    pub email: Email,
    /// Teams the agent belongs to.
    pub teams: BTreeSet<TeamId>,
    /// What the agent may do.
    pub permissions: Permissions,
    /// A disabled agent can no longer act or be assigned.
    pub disabled: bool,
    /// The language their mail is written in (`None`: the helpdesk's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<crate::base::language::Language>,
}

/// A team of agents; tickets can be assigned to a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// Id.
    pub id: TeamId,
    /// Name.
    pub name: String,
}

/// The type of a custom field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum FieldKind {
    /// Free text.
    Text,
    /// A number.
    Number,
    /// One of a fixed list of options.
    Choice {
        /// The allowed values.
        options: Vec<String>,
    },
    /// A calendar date.
    Date,
}

/// A custom field's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "value")]
pub enum FieldValue {
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
    /// The chosen option.
    Choice(String),
    /// A date.
    Date(NaiveDate),
}

impl FieldValue {
    /// The name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldValue::Text(_) => "text",
            FieldValue::Number(_) => "number",
            FieldValue::Choice(_) => "choice",
            FieldValue::Date(_) => "date",
        }
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Text(s) | FieldValue::Choice(s) => f.write_str(s),
            FieldValue::Number(n) => write!(f, "{n}"),
            FieldValue::Date(d) => write!(f, "{d}"),
        }
    }
}

/// A custom field a department defines for its tickets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    /// Stable key (`account_number`).
    pub key: String,
    /// Label shown to people.
    pub label: String,
    /// Type.
    #[serde(flatten)]
    pub kind: FieldKind,
    /// Must be given when a ticket is created.
    #[serde(default)]
    pub required: bool,
    /// Only agents see and set it (never shown in the portal, the embed or user emails).
    #[serde(default)]
    pub agent_only: bool,
    /// Retired by an admin: no longer asked for or settable, but the values
    /// tickets already have are kept and shown (and can be cleared).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retired: bool,
}

impl FieldDef {
    /// Checks that `value` fits this field.
    pub fn check(&self, value: &FieldValue) -> Result<(), crate::TicketError> {
        use crate::TicketError;
        let ok = match (&self.kind, value) {
            (FieldKind::Text, FieldValue::Text(s)) => {
                if s.chars().count() > 10_000 {
                    return Err(TicketError::FieldValue {
                        key: self.key.clone(),
                        reason: "text longer than 10000 characters".into(),
                    });
                }
                true
            }
            (FieldKind::Number, FieldValue::Number(n)) => {
                if !n.is_finite() {
                    return Err(TicketError::FieldValue {
                        key: self.key.clone(),
                        reason: "number must be finite".into(),
                    });
                }
                true
            }
            (FieldKind::Choice { options }, FieldValue::Choice(c)) => {
                if !options.contains(c) {
                    return Err(TicketError::FieldValue {
                        key: self.key.clone(),
                        reason: format!("{c:?} is not one of {options:?}"),
                    });
                }
                true
            }
            (FieldKind::Date, FieldValue::Date(_)) => true,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(TicketError::FieldType {
                key: self.key.clone(),
                expected: match self.kind {
                    FieldKind::Text => "text",
                    FieldKind::Number => "number",
                    FieldKind::Choice { .. } => "choice",
                    FieldKind::Date => "date",
                },
                got: value.type_name(),
            })
        }
    }
}

/// A department: every ticket belongs to exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// Id.
    pub id: DepartmentId,
    /// Name.
    pub name: String,
    /// The custom fields its tickets have.
    pub fields: Vec<FieldDef>,
}

impl Department {
    /// The field definition with `key` (retired ones included).
    pub fn field(&self, key: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// The fields new values may be given for, in order (not retired).
    pub fn live_fields(&self) -> impl Iterator<Item = &FieldDef> {
        self.fields.iter().filter(|f| !f.retired)
    }

    /// Checks the definitions: keys non-empty, unique, of `[a-z0-9_]`;
    /// choices with at least one option.
    pub fn validate(&self) -> Result<(), DirectoryError> {
        clean_name("department", &self.name)?;
        let mut seen = BTreeSet::new();
        for f in &self.fields {
            let key_ok = !f.key.is_empty()
                && f.key.len() <= 64
                && f.key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !key_ok {
                return Err(DirectoryError::InvalidFieldKey(f.key.clone()));
            }
            if !seen.insert(&f.key) {
                return Err(DirectoryError::DuplicateFieldKey(f.key.clone()));
            }
            if let FieldKind::Choice { options } = &f.kind {
                if options.is_empty() {
                    return Err(DirectoryError::EmptyChoice(f.key.clone()));
                }
            }
        }
        Ok(())
    }
}
