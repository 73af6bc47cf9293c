//! Custom filters agents save from the filter pane's [+]: a
//! [`CustomFilter`] with an owner and who else sees it ([`Sharing`]).
//!
//! The rules, all pure and checked here before anything is stored:
//! - a filter is seen by its owner, by the members of the team it is shared
//!   with, or by every agent when shared with everyone ([`SavedFilter::visible_to`]);
//! - only its owner or an admin changes or deletes it ([`SavedFilter::editable_by`]);
//! - an agent shares with a team they belong to; sharing with everyone, or
//!   with a team one is not in, takes an admin ([`check`]);
//! - names are 1 to [`MAX_NAME`] characters, unique per owner (case-insensitive);
//! - every department, agent, team, user and organisation the criteria name
//!   exists ([`check`]): a filter never silently matches nothing.
//!
//! What a shared filter lists depends on who looks: `me`, `mine` and the
//! departments are the viewer's, so "My urgent tickets" shared with a team
//! shows each member their own.
//!
//! ```
//! use helpdesk_core::filters::saved::{check, NewSavedFilter, Sharing, SavedFilterError};
//! use helpdesk_core::filter::{Criteria, CustomFilter};
//! use helpdesk_core::testing::sample_directory;
//! use helpdesk_core::*;
//!
//! let dir = sample_directory();
//! let alice = dir.agent(AgentId(1)).unwrap(); // an admin
//! let bob = dir.agent(AgentId(2)).unwrap(); // not an admin
//! let new = NewSavedFilter {
//!     filter: CustomFilter::new("Urgent", Criteria::default()),
//!     sharing: Sharing::Everyone,
//! };
//! assert_eq!(check(&new, &alice, &dir), Ok(()));
//! assert_eq!(check(&new, &bob, &dir), Err(SavedFilterError::ShareWithEveryone));
//! ```

use crate::command::Directory;
use crate::filter::{AgentRef, CustomFilter, TeamRef};
use crate::ids::*;
use crate::people::Agent;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The longest name a saved filter may have, in characters.
pub const MAX_NAME: usize = 100;

/// Who besides its owner sees a saved filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "with", content = "team")]
pub enum Sharing {
    /// Only the owner.
    #[default]
    Private,
    /// The members of a team.
    Team(TeamId),
    /// Every agent.
    Everyone,
}

/// A custom filter an agent saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedFilter {
    /// Id.
    pub id: SavedFilterId,
    /// Who made it (and may change it, as may admins).
    pub owner: AgentId,
    /// Name, criteria and order.
    pub filter: CustomFilter,
    /// Who else sees it.
    pub sharing: Sharing,
}

/// What an agent sends to save or change a filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSavedFilter {
    /// Name, criteria and order.
    pub filter: CustomFilter,
    /// Who else sees it (default: nobody).
    #[serde(default)]
    pub sharing: Sharing,
}

/// Why a saved filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SavedFilterError {
    /// A blank name.
    #[error("a filter needs a name")]
    EmptyName,
    /// A name over [`MAX_NAME`] characters.
    #[error("a filter name has at most {MAX_NAME} characters, this one has {0}")]
    NameTooLong(usize),
    /// The owner already has a filter of this name.
    #[error("you already have a filter named {0:?}")]
    NameTaken(String),
    /// No such filter, or one the agent does not see.
    #[error("no such filter: {0}")]
    NotFound(SavedFilterId),
    /// Only the owner or an admin may change or delete a filter.
    #[error("only its owner or an admin may change or delete filter {0:?}")]
    NotEditable(String),
    /// Sharing with everyone takes an admin.
    #[error("only an admin may share a filter with every agent; share it with one of your teams instead")]
    ShareWithEveryone,
    /// Sharing with a team the agent is not in takes an admin.
    #[error("you can share a filter only with a team you belong to ({0} is not one of yours)")]
    NotInTeam(TeamId),
    /// The criteria or the sharing name something that does not exist.
    #[error("the filter names {0}, which does not exist")]
    UnknownReference(String),
}

impl SavedFilter {
    /// Whether `agent` sees this filter in their filter pane.
    pub fn visible_to(&self, agent: &Agent) -> bool {
        self.owner == agent.id
            || match self.sharing {
                Sharing::Private => false,
                Sharing::Team(t) => agent.teams.contains(&t),
                Sharing::Everyone => true,
            }
    }

    /// Whether `agent` may change or delete it: its owner or an admin.
    pub fn editable_by(&self, agent: &Agent) -> bool {
        self.owner == agent.id || agent.permissions.admin
    }
}

/// The name as stored: trimmed, checked for length.
pub fn clean_name(name: &str) -> Result<String, SavedFilterError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(SavedFilterError::EmptyName);
    }
    let n = name.chars().count();
    if n > MAX_NAME {
        return Err(SavedFilterError::NameTooLong(n));
    }
    Ok(name.to_string())
}

/// Checks a filter `agent` wants to save: its name, that it may share it as
/// asked, and that everything its criteria name exists in `dir`.
pub fn check(new: &NewSavedFilter, agent: &Agent, dir: &dyn Directory) -> Result<(), SavedFilterError> {
    clean_name(&new.filter.name)?;
    match new.sharing {
        Sharing::Private => {}
        Sharing::Everyone if !agent.permissions.admin => return Err(SavedFilterError::ShareWithEveryone),
        Sharing::Everyone => {}
        Sharing::Team(t) => {
            if dir.team(t).is_none() {
                return Err(SavedFilterError::UnknownReference(t.to_string()));
            }
            if !agent.teams.contains(&t) && !agent.permissions.admin {
                return Err(SavedFilterError::NotInTeam(t));
            }
        }
    }
    let c = &new.filter.criteria;
    let missing = |what: String| Err(SavedFilterError::UnknownReference(what));
    for d in &c.department {
        if dir.department(*d).is_none() {
            return missing(d.to_string());
        }
    }
    for r in c.agent.iter().chain(&c.followed_by) {
        if let AgentRef::Id(a) = r {
            if dir.agent(*a).is_none() {
                return missing(a.to_string());
            }
        }
    }
    for r in &c.team {
        if let TeamRef::Id(t) = r {
            if dir.team(*t).is_none() {
                return missing(t.to_string());
            }
        }
    }
    for u in &c.user {
        if dir.user(*u).is_none() {
            return missing(u.to_string());
        }
    }
    for o in &c.organisation {
        if dir.organisation(*o).is_none() {
            return missing(o.to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Criteria;
    use crate::testing::sample_directory;

    fn new(name: &str, sharing: Sharing, criteria: Criteria) -> NewSavedFilter {
        NewSavedFilter { filter: CustomFilter::new(name, criteria), sharing }
    }

    #[test]
    fn names_sharing_and_references_are_checked() {
        let mut dir = sample_directory();
        dir.teams.insert(TeamId(2), crate::Team { id: TeamId(2), name: "Tier 2".into() });
        let alice = dir.agent(AgentId(1)).unwrap();
        let bob = dir.agent(AgentId(2)).unwrap();
        let bobs_team = TeamId(1);
        let cases: Vec<(&str, Result<(), SavedFilterError>)> = vec![
            ("blank", check(&new("  ", Sharing::Private, Criteria::default()), &bob, &dir)),
            ("long", check(&new(&"x".repeat(101), Sharing::Private, Criteria::default()), &bob, &dir)),
            ("own team", check(&new("t", Sharing::Team(bobs_team), Criteria::default()), &bob, &dir)),
            ("everyone, agent", check(&new("e", Sharing::Everyone, Criteria::default()), &bob, &dir)),
            ("everyone, admin", check(&new("e", Sharing::Everyone, Criteria::default()), &alice, &dir)),
            ("other team", check(&new("t", Sharing::Team(TeamId(2)), Criteria::default()), &bob, &dir)),
            (
                "other team, admin",
                check(&new("t", Sharing::Team(TeamId(2)), Criteria::default()), &alice, &dir),
            ),
            ("unknown team", check(&new("t", Sharing::Team(TeamId(999)), Criteria::default()), &alice, &dir)),
            (
                "unknown department",
                check(
                    &new(
                        "d",
                        Sharing::Private,
                        Criteria { department: vec![DepartmentId(77)], ..Default::default() },
                    ),
                    &bob,
                    &dir,
                ),
            ),
            (
                "unknown agent",
                check(
                    &new(
                        "a",
                        Sharing::Private,
                        Criteria { agent: vec![AgentRef::Id(AgentId(88))], ..Default::default() },
                    ),
                    &bob,
                    &dir,
                ),
            ),
        ];
        let out: Vec<String> = cases
            .into_iter()
            .map(|(what, r)| format!("{what}: {}", r.map_or_else(|e| e.to_string(), |_| "ok".into())))
            .collect();
        insta::assert_snapshot!(out.join("\n"));
    }

    #[test]
    fn who_sees_and_who_edits() {
        let dir = sample_directory();
        let alice = dir.agent(AgentId(1)).unwrap();
        let bob = dir.agent(AgentId(2)).unwrap();
        let team = *bob.teams.iter().next().unwrap();
        let f = |sharing| SavedFilter {
            id: SavedFilterId(1),
            owner: alice.id,
            filter: CustomFilter::new("f", Criteria::default()),
            sharing,
        };
        assert!(f(Sharing::Private).visible_to(&alice));
        assert!(!f(Sharing::Private).visible_to(&bob));
        assert!(f(Sharing::Team(team)).visible_to(&bob));
        assert!(f(Sharing::Everyone).visible_to(&bob));
        assert!(!f(Sharing::Everyone).editable_by(&bob));
        let mine = SavedFilter { owner: bob.id, ..f(Sharing::Private) };
        assert!(mine.editable_by(&bob) && mine.editable_by(&alice));
    }
}
