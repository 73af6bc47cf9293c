//! The agent's filter pane: the built-in filters (My Tickets, Tickets I Follow,
//! My Teams' Tickets, Unassigned, All) and the status filters, with counts,
//! and their ticket lists in the filter's order (urgency, highest first, then
//! oldest first). Everything comes from the library's filter engine
//! ([`Helpdesk::filter_counts`], [`Helpdesk::filter_page`]): counters and
//! ordered indexes, so the cost does not grow with the number of tickets, and
//! only departments the agent may see are included.

use crate::error::ApiError;
use helpdesk_core::filter::{BuiltIn, Cursor, FilterPage};
use helpdesk_core::{Agent, Status};
use helpdesk_store::Helpdesk;
use serde::Serialize;

/// A filter in the filter pane (a built-in filter of the library).
pub type FilterId = BuiltIn;

/// The slug used in URLs (`mine`, `unassigned`, `pending`, ...).
pub fn slug(f: FilterId) -> &'static str {
    match f {
        BuiltIn::MyTickets => "mine",
        other => other.as_str(),
    }
}

/// The filter with this slug (`my_tickets` is accepted for `mine`).
pub fn parse(s: &str) -> Option<FilterId> {
    BuiltIn::ALL.into_iter().find(|f| slug(*f) == s || f.as_str() == s)
}

/// The name shown in the pane.
pub fn title(f: FilterId) -> &'static str {
    match f {
        BuiltIn::MyTickets => "My Tickets",
        BuiltIn::Following => "Tickets I Follow",
        BuiltIn::MyTeams => "My Teams' Tickets",
        BuiltIn::Unassigned => "Unassigned",
        BuiltIn::All => "All Tickets",
        BuiltIn::AwaitingUser => "Awaiting user",
        BuiltIn::Pending => "Pending",
        BuiltIn::Resolved => "Resolved",
        BuiltIn::Spam => "Spam",
        BuiltIn::Validating => "Awaiting validation",
        BuiltIn::Deleted => "Deleted",
    }
}

/// The group the pane shows it under: `awaiting_agent`, `status` or `hidden`.
pub fn group(f: FilterId) -> &'static str {
    match f.status() {
        Status::AwaitingAgent => "awaiting_agent",
        s if s.is_hidden() => "hidden",
        _ => "status",
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

/// Every built-in filter with its count for `agent`.
pub fn counts(hd: &Helpdesk, agent: &Agent) -> Result<Vec<FilterCount>, ApiError> {
    Ok(hd
        .filter_counts(agent.id)?
        .into_iter()
        .map(|(f, count)| FilterCount { id: slug(f), title: title(f), group: group(f), count })
        .collect())
}

/// A page of a filter's tickets, after `cursor` (the `next` of the previous page).
pub fn list(
    hd: &Helpdesk,
    agent: &Agent,
    filter: FilterId,
    cursor: Option<&str>,
    limit: usize,
) -> Result<FilterPage, ApiError> {
    let cursor = cursor.map(Cursor::parse).transpose().map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(hd.filter_page(agent.id, &filter, cursor.as_ref(), limit)?)
}
