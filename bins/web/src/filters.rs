//! The agent's filter pane: the built-in filters and the status filters,
//! with counts, and their ticket lists sorted by urgency (highest first, then
//! oldest first). Only tickets in departments the agent may see are listed.
//!
//! This reads the status index the store keeps (`S status ticket`) and checks
//! each ticket of that status; the indexed filter engine of the filters issue
//! replaces it (one call site: [`list`] and [`counts`]).

use crate::error::ApiError;
use helpdesk_core::index::status_prefix;
use helpdesk_core::{Agent, Status, Ticket};
use helpdesk_store::Helpdesk;
use serde::Serialize;

/// A filter in the filter pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterId {
    /// Awaiting agent, assigned to me.
    Mine,
    /// Awaiting agent, I follow it.
    Following,
    /// Awaiting agent, assigned to one of my teams.
    MyTeams,
    /// Awaiting agent, no agent and no team.
    Unassigned,
    /// Awaiting agent, all.
    All,
    /// Every ticket with this status (awaiting user, pending, resolved, hidden ones).
    Status(Status),
}

impl FilterId {
    /// Every filter, in pane order.
    pub fn all() -> Vec<FilterId> {
        let mut v =
            vec![FilterId::Mine, FilterId::Following, FilterId::MyTeams, FilterId::Unassigned, FilterId::All];
        v.extend(Status::ALL.into_iter().filter(|s| *s != Status::AwaitingAgent).map(FilterId::Status));
        v
    }

    /// The slug used in URLs (`mine`, `unassigned`, `pending`, ...).
    pub fn slug(self) -> &'static str {
        match self {
            FilterId::Mine => "mine",
            FilterId::Following => "following",
            FilterId::MyTeams => "my_teams",
            FilterId::Unassigned => "unassigned",
            FilterId::All => "all",
            FilterId::Status(s) => s.as_str(),
        }
    }

    /// The name shown in the pane.
    pub fn title(self) -> &'static str {
        match self {
            FilterId::Mine => "My Tickets",
            FilterId::Following => "Tickets I Follow",
            FilterId::MyTeams => "My Teams' Tickets",
            FilterId::Unassigned => "Unassigned",
            FilterId::All => "All Tickets",
            FilterId::Status(Status::AwaitingUser) => "Awaiting user",
            FilterId::Status(Status::Pending) => "Pending",
            FilterId::Status(Status::Resolved) => "Resolved",
            FilterId::Status(Status::Spam) => "Spam",
            FilterId::Status(Status::Validating) => "Awaiting validation",
            FilterId::Status(Status::Deleted) => "Deleted",
            FilterId::Status(Status::AwaitingAgent) => "Awaiting agent",
        }
    }

    /// The filter with this slug.
    pub fn parse(slug: &str) -> Option<FilterId> {
        FilterId::all().into_iter().find(|f| f.slug() == slug)
    }

    /// The group the pane shows it under.
    pub fn group(self) -> &'static str {
        match self {
            FilterId::Status(s) if s.is_hidden() => "hidden",
            FilterId::Status(_) => "status",
            _ => "awaiting_agent",
        }
    }

    fn status(self) -> Status {
        match self {
            FilterId::Status(s) => s,
            _ => Status::AwaitingAgent,
        }
    }

    /// Whether `t` (already known to have the filter's status) is in this filter for `agent`.
    pub fn matches(self, agent: &Agent, t: &Ticket) -> bool {
        agent.permissions.can_see(t.department)
            && match self {
                FilterId::Mine => t.agent == Some(agent.id),
                FilterId::Following => t.followers.contains(&agent.id),
                FilterId::MyTeams => t.team.is_some_and(|team| agent.teams.contains(&team)),
                FilterId::Unassigned => t.is_unassigned(),
                FilterId::All | FilterId::Status(_) => true,
            }
    }
}

/// A filter with its count, for the pane.
#[derive(Debug, Clone, Serialize)]
pub struct FilterCount {
    /// Slug.
    pub id: &'static str,
    /// Name.
    pub title: &'static str,
    /// Pane group: `awaiting_agent`, `status` or `hidden`.
    pub group: &'static str,
    /// Tickets in it.
    pub count: u64,
}

fn each_with_status(hd: &Helpdesk, status: Status, mut f: impl FnMut(Ticket)) -> Result<(), ApiError> {
    let prefix = status_prefix(status);
    let mut after = None;
    loop {
        let page = hd.store().scan_index(&prefix, after.as_ref(), 512)?;
        let Some(last) = page.last().cloned() else { break };
        for key in &page {
            if let Some(t) = key.ticket().map(|id| hd.store().ticket(id)).transpose()?.flatten() {
                if t.status == status {
                    f(t);
                }
            }
        }
        after = Some(last);
    }
    Ok(())
}

/// Every filter with its count for `agent`.
pub fn counts(hd: &Helpdesk, agent: &Agent) -> Result<Vec<FilterCount>, ApiError> {
    let filters = FilterId::all();
    let mut counts = vec![0u64; filters.len()];
    for status in Status::ALL {
        each_with_status(hd, status, |t| {
            for (i, f) in filters.iter().enumerate() {
                if f.status() == status && f.matches(agent, &t) {
                    counts[i] += 1;
                }
            }
        })?;
    }
    Ok(filters
        .into_iter()
        .zip(counts)
        .map(|(f, count)| FilterCount { id: f.slug(), title: f.title(), group: f.group(), count })
        .collect())
}

/// A page of a filter's tickets, highest urgency first, then oldest first.
pub fn list(
    hd: &Helpdesk,
    agent: &Agent,
    filter: FilterId,
    offset: usize,
    limit: usize,
) -> Result<(Vec<Ticket>, u64), ApiError> {
    let mut all = Vec::new();
    each_with_status(hd, filter.status(), |t| {
        if filter.matches(agent, &t) {
            all.push(t);
        }
    })?;
    all.sort_by(|a, b| b.urgency.cmp(&a.urgency).then(a.created_at.cmp(&b.created_at)).then(a.id.cmp(&b.id)));
    let total = all.len() as u64;
    Ok((all.into_iter().skip(offset).take(limit).collect(), total))
}
