//! Snippets: canned texts agents insert into replies and notes, with
//! placeholders filled from the ticket (`{{user.first_name}}`,
//! `{{ticket.id}}`, `{{agent.name}}`, `{{ticket.field.KEY}}`). A snippet is
//! an agent's own, shared with a department's agents, or with everyone; it
//! has a short name typed after `;` in the composer, a title and a
//! category. An unknown placeholder is refused when saved, so inserting
//! never leaves `{{...}}` in a reply.
//!
//! ```
//! use helpdesk_core::snippets::{self, NewSnippet, SnippetScope, SnippetValues};
//! use std::collections::BTreeSet;
//!
//! let new = NewSnippet {
//!     name: "thanks".into(),
//!     title: "Thank you".into(),
//!     category: "Closing".into(),
//!     body: "Thanks, {{ user.first_name }}! Ticket #{{ticket.id}} is in good hands.\n{{agent.name}}".into(),
//!     scope: SnippetScope::Everyone,
//! };
//! new.check(&BTreeSet::new()).unwrap();
//! let mut v = SnippetValues::default();
//! v.set("user.first_name", "Ann");
//! v.set("ticket.id", "42");
//! v.set("agent.name", "Sam Agent");
//! assert_eq!(snippets::render(&new.body, &v), "Thanks, Ann! Ticket #42 is in good hands.\nSam Agent");
//!
//! let bad = NewSnippet { body: "Hi {{ user.shoe_size }}".into(), ..new };
//! assert_eq!(bad.check(&BTreeSet::new()).unwrap_err().to_string(), "unknown placeholder {{user.shoe_size}}; known: user.name, user.first_name, user.email, ticket.id, ticket.subject, ticket.department, agent.name, agent.first_name, agent.email, ticket.field.KEY");
//! ```

use crate::ids::*;
use crate::people::Agent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The longest snippet text, in characters.
pub const MAX_BODY_CHARS: usize = 20_000;

/// The placeholders every snippet may use (and `ticket.field.KEY` for the
/// ticket's custom fields).
pub const PLACEHOLDERS: [&str; 9] = [
    "user.name",
    "user.first_name",
    "user.email",
    "ticket.id",
    "ticket.subject",
    "ticket.department",
    "agent.name",
    "agent.first_name",
    "agent.email",
];

/// Who may use a snippet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "department")]
pub enum SnippetScope {
    /// Only the agent who made it.
    Personal,
    /// The agents who may see this department.
    Department(DepartmentId),
    /// Every agent.
    Everyone,
}

/// A snippet as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSnippet {
    /// The short name typed after `;` (lower case letters, digits, `-`, `_`; 1 to 40).
    pub name: String,
    /// What it is, for people (1 to 100 characters).
    pub title: String,
    /// A category to group it under (may be empty).
    #[serde(default)]
    pub category: String,
    /// The text, with placeholders.
    pub body: String,
    /// Who may use it.
    pub scope: SnippetScope,
}

/// A stored snippet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippet {
    /// Its id.
    pub id: SnippetId,
    /// The agent who made it (who may change it, besides admins).
    pub owner: AgentId,
    /// What was written.
    #[serde(flatten)]
    pub snippet: NewSnippet,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Why a snippet is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnippetError {
    /// A name that is not 1 to 40 of `a-z 0-9 - _`.
    #[error("the name {0:?} must be 1 to 40 lower-case letters, digits, - or _ (it is typed after ; in the composer)")]
    BadName(String),
    /// An empty or too long title.
    #[error("a snippet needs a title of 1 to 100 characters")]
    BadTitle,
    /// A category over 60 characters.
    #[error("a category is at most 60 characters")]
    BadCategory,
    /// An empty or too long text.
    #[error("a snippet needs a text of 1 to {MAX_BODY_CHARS} characters")]
    BadBody,
    /// A placeholder nobody fills.
    #[error("unknown placeholder {{{{{0}}}}}; known: {known}", known = known_list())]
    UnknownPlaceholder(String),
    /// `{{` without its `}}`.
    #[error("a placeholder is not closed: {0:?}")]
    Unclosed(String),
    /// Another snippet of the same scope has the name.
    #[error("a snippet named {0:?} already exists there")]
    NameTaken(String),
    /// No such snippet (or not one the agent may use).
    #[error("no snippet {0}")]
    NotFound(SnippetId),
    /// Someone else's snippet (only its owner or an admin changes it).
    #[error("only {0}'s maker or an admin may change it")]
    NotYours(SnippetId),
    /// Sharing with a department the agent may not see.
    #[error("you may not share snippets with department {0}: you do not see it")]
    DepartmentNotAllowed(DepartmentId),
}

fn known_list() -> String {
    let mut v: Vec<&str> = PLACEHOLDERS.to_vec();
    v.push("ticket.field.KEY");
    v.join(", ")
}

/// Each `{{ path }}` in `body`, trimmed, in order (or the unclosed rest).
pub fn placeholders(body: &str) -> Result<Vec<String>, SnippetError> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(SnippetError::Unclosed(after.chars().take(30).collect()));
        };
        out.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    Ok(out)
}

/// Checks that every placeholder in `body` is closed and known (`fields`:
/// the custom field keys, for `ticket.field.KEY`).
pub fn check_placeholders(body: &str, fields: &BTreeSet<String>) -> Result<(), SnippetError> {
    for p in placeholders(body)? {
        let field = p.strip_prefix("ticket.field.").is_some_and(|k| fields.contains(k));
        if !PLACEHOLDERS.contains(&p.as_str()) && !field {
            return Err(SnippetError::UnknownPlaceholder(p));
        }
    }
    Ok(())
}

impl NewSnippet {
    /// Checks the name, title, category and text, and that every
    /// placeholder is known (`fields`: the custom field keys of the
    /// helpdesk's departments, for `ticket.field.KEY`). Returns it trimmed.
    pub fn check(&self, fields: &BTreeSet<String>) -> Result<NewSnippet, SnippetError> {
        let name = self.name.trim().to_string();
        let name_ok = (1..=40).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !name_ok {
            return Err(SnippetError::BadName(self.name.clone()));
        }
        let title = self.title.trim().to_string();
        if title.is_empty() || title.chars().count() > 100 {
            return Err(SnippetError::BadTitle);
        }
        let category = self.category.trim().to_string();
        if category.chars().count() > 60 {
            return Err(SnippetError::BadCategory);
        }
        let body = self.body.trim_end().to_string();
        if body.trim().is_empty() || body.chars().count() > MAX_BODY_CHARS {
            return Err(SnippetError::BadBody);
        }
        check_placeholders(&body, fields)?;
        Ok(NewSnippet { name, title, category, body, scope: self.scope })
    }
}

impl Snippet {
    /// Whether `agent` may insert it.
    pub fn usable_by(&self, agent: &Agent) -> bool {
        match self.snippet.scope {
            SnippetScope::Personal => self.owner == agent.id,
            SnippetScope::Department(d) => agent.permissions.can_see(d),
            SnippetScope::Everyone => true,
        }
    }

    /// Whether `agent` may change or delete it: its maker (while they may
    /// still use it) or an admin.
    pub fn editable_by(&self, agent: &Agent) -> bool {
        agent.permissions.admin || (self.owner == agent.id && self.usable_by(agent))
    }

    /// The unique key of its name within its scope.
    pub fn name_key(owner: AgentId, snippet: &NewSnippet) -> String {
        let scope = match snippet.scope {
            SnippetScope::Personal => format!("agent:{}", owner.0),
            SnippetScope::Department(d) => format!("department:{}", d.0),
            SnippetScope::Everyone => "everyone".into(),
        };
        format!("snippet-name:{scope}:{}", snippet.name.trim())
    }
}

/// What placeholders stand for when a snippet is inserted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnippetValues(BTreeMap<String, String>);

impl SnippetValues {
    /// Sets the value of `path`.
    pub fn set(&mut self, path: &str, value: impl Into<String>) {
        self.0.insert(path.to_string(), value.into());
    }
}

/// `body` with each placeholder replaced by its value (an empty text for
/// one with no value now, such as a field the ticket has not set).
pub fn render(body: &str, values: &SnippetValues) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        if let Some(v) = values.0.get(after[..end].trim()) {
            out.push_str(v);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(body: &str) -> NewSnippet {
        NewSnippet {
            name: "x".into(),
            title: "X".into(),
            category: String::new(),
            body: body.into(),
            scope: SnippetScope::Personal,
        }
    }

    #[test]
    fn checks_names_texts_and_placeholders() {
        let fields: BTreeSet<String> = ["product".to_string()].into();
        assert!(new("Your {{ticket.field.product}}").check(&fields).is_ok());
        assert_eq!(
            new("Your {{ticket.field.colour}}").check(&fields),
            Err(SnippetError::UnknownPlaceholder("ticket.field.colour".into()))
        );
        assert!(matches!(new("Hi {{user.name").check(&fields), Err(SnippetError::Unclosed(_))));
        assert_eq!(new("  \n").check(&fields), Err(SnippetError::BadBody));
        for bad in ["", "Has Space", "UPPER", "é", &"a".repeat(41)] {
            let s = NewSnippet { name: bad.into(), ..new("hi") };
            assert!(matches!(s.check(&fields), Err(SnippetError::BadName(_))), "{bad:?}");
        }
        let s = NewSnippet { name: " refund-2 ".into(), ..new("hi  \n") }.check(&fields).unwrap();
        assert_eq!((s.name.as_str(), s.body.as_str()), ("refund-2", "hi"));
    }

    #[test]
    fn renders_values_and_leaves_the_rest() {
        let mut v = SnippetValues::default();
        v.set("user.name", "Ann <Example>");
        assert_eq!(render("Dear {{user.name}}, {{ ticket.field.x }}.", &v), "Dear Ann <Example>, .");
        assert_eq!(render("no placeholders", &v), "no placeholders");
        assert_eq!(render("open {{ end", &v), "open {{ end");
    }
}
