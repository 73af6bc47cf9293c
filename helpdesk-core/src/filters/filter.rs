//! Filters: the virtual inboxes agents work from.
//!
//! A [`Filter`] says which tickets it shows ([`Filter::matches`]) and how a
//! store can find them without scanning every ticket ([`Filter::plans`]): each
//! [`Plan`] names ordered index streams (see [`crate::index`]) whose k-way
//! merge, in the filter's [`SortOrder`], yields candidates; a plan that needs
//! no further check (`post_filter == false`) yields exactly the matches.
//!
//! - The built-in filters ([`BuiltIn`]) are all exact: their pages cost the
//!   page size times the number of streams (at most one per department), and
//!   their counts are sums of per-department counters, whatever the number of
//!   tickets.
//! - A [`CustomFilter`] is loaded from serde criteria ([`Criteria`]) and
//!   validated while loading. The store picks the plan with the fewest
//!   candidates (by counters) and checks the remaining criteria on each
//!   candidate's [`TicketSummary`]; the work of one page is bounded
//!   ([`EXAMINE_BUDGET`]), after which a partial page and a cursor are returned.
//!
//! An agent sees only tickets in departments they may see ([`Viewer`]); stores
//! apply that to every filter, built-in or custom.
//!
//! ```
//! use helpdesk_core::filter::*;
//! use helpdesk_core::{Status, AgentId};
//!
//! let f: CustomFilter = serde_json::from_str(r#"{
//!     "name": "Urgent VIP",
//!     "criteria": { "status": ["awaiting_agent"], "urgency": { "min": 8 }, "labels": { "any": ["VIP"] } }
//! }"#).unwrap();
//! assert_eq!(f.criteria.labels.any, vec!["vip".to_string()]); // labels are normalised
//!
//! let err = serde_json::from_str::<CustomFilter>(r#"{"name": "x", "criteria": {"urgency": {"min": 0, "max": 11}}}"#)
//!     .unwrap_err();
//! assert!(err.to_string().contains("urgency range 0..=11"), "{err}");
//! let err = serde_json::from_str::<CustomFilter>(r#"{"name": "x", "criteria": {"colour": "red"}}"#).unwrap_err();
//! assert!(err.to_string().contains("unknown field `colour`"), "{err}");
//! ```

use crate::command::normalize_label;
use crate::ids::*;
use crate::index::{label_owner, time_bytes, Family, SortKey};
use crate::people::{Agent, FieldValue};
use crate::summary::TicketSummary;
use crate::ticket::Status;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use thiserror::Error;

/// The most index entries one page (or one bounded count) examines. A plan
/// that post-filters can skip many candidates; past this many it stops and
/// returns what it has with a cursor to go on from ([`FilterPage::partial`]).
/// A count stops there too and says it is a lower bound.
pub const EXAMINE_BUDGET: usize = 4096;

/// The most index entries a bounded count of a post-filtered custom filter
/// examines before it answers with a lower bound.
pub const COUNT_BUDGET: usize = 65_536;

/// The largest page a store returns.
pub const MAX_PAGE: usize = 500;

/// Why a filter request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FilterError {
    /// A cursor that is not one this crate made.
    #[error("bad cursor {0:?}: pass back the `next` cursor of the previous page unchanged")]
    BadCursor(String),
    /// A cursor made for a different sort order.
    #[error("the cursor is for sort order {cursor}, this filter sorts by {filter}")]
    CursorOrder {
        /// The cursor's order.
        cursor: SortOrder,
        /// The filter's order.
        filter: SortOrder,
    },
    /// A page size of 0 or above [`MAX_PAGE`].
    #[error("page size must be 1 to {max}, got {got}")]
    PageSize {
        /// Asked for.
        got: usize,
        /// Allowed.
        max: usize,
    },
}

/// The agent looking at a filter: who they are, their teams, and the
/// departments they may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// The agent.
    pub agent: AgentId,
    /// Their teams ("My Teams' Tickets").
    pub teams: BTreeSet<TeamId>,
    /// The departments they may see; `None`: every department.
    pub departments: Option<BTreeSet<DepartmentId>>,
}

impl Viewer {
    /// The viewer an agent's record describes.
    ///
    /// ```
    /// # use helpdesk_core::filter::Viewer;
    /// # use helpdesk_core::*;
    /// let dir = helpdesk_core::testing::sample_directory();
    /// let bob = Viewer::of(&dir.agents[&AgentId(2)]);
    /// assert!(bob.can_see(DepartmentId(1)) && !bob.can_see(DepartmentId(2)));
    /// ```
    pub fn of(agent: &Agent) -> Viewer {
        let departments = if agent.permissions.admin { None } else { agent.permissions.departments.clone() };
        Viewer { agent: agent.id, teams: agent.teams.clone(), departments }
    }

    /// Whether tickets in `d` are visible.
    pub fn can_see(&self, d: DepartmentId) -> bool {
        self.departments.as_ref().is_none_or(|s| s.contains(&d))
    }
}

/// The order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Urgency, highest first, then oldest first (the default).
    #[default]
    Urgency,
    /// Oldest first (creation time).
    Oldest,
    /// Newest first (creation time; tickets created at the same instant by id).
    Newest,
}

impl SortOrder {
    /// The key layout the order reads.
    pub fn key(self) -> SortKey {
        match self {
            SortOrder::Urgency => SortKey::Urgency,
            SortOrder::Oldest => SortKey::Created,
            SortOrder::Newest => SortKey::CreatedDesc,
        }
    }

    fn tag(self) -> u8 {
        match self {
            SortOrder::Urgency => b'u',
            SortOrder::Oldest => b'o',
            SortOrder::Newest => b'n',
        }
    }

    fn of_tag(b: u8) -> Option<SortOrder> {
        [SortOrder::Urgency, SortOrder::Oldest, SortOrder::Newest].into_iter().find(|o| o.tag() == b)
    }

    /// Compares two tickets in this order (ties broken by id, like the index).
    pub fn compare(self, a: &TicketSummary, b: &TicketSummary) -> Ordering {
        let key = |t: &TicketSummary| {
            let created = t.created_at.timestamp_micros();
            match self.key() {
                SortKey::Urgency => (255 - t.urgency.get(), created, t.id),
                SortKey::Created => (0, created, t.id),
                SortKey::CreatedDesc => (0, -created, t.id),
            }
        };
        key(a).cmp(&key(b))
    }
}

impl fmt::Display for SortOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SortOrder::Urgency => "urgency",
            SortOrder::Oldest => "oldest",
            SortOrder::Newest => "newest",
        })
    }
}

/// A position in a filter's list: the sort key and id of the last ticket a
/// page examined. Opaque; as text it is [`Cursor::token`]. A cursor stays
/// valid while tickets change: it is a position, not a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cursor {
    order: SortOrder,
    suffix: Vec<u8>,
}

impl Cursor {
    /// A cursor at `suffix` (the sort bytes and id of an index key) in `order`.
    pub fn new(order: SortOrder, suffix: Vec<u8>) -> Cursor {
        Cursor { order, suffix }
    }

    /// The order it belongs to.
    pub fn order(&self) -> SortOrder {
        self.order
    }

    /// The position: sort bytes then the 8-byte id.
    pub fn suffix(&self) -> &[u8] {
        &self.suffix
    }

    /// The text form (hex), safe in URLs.
    pub fn token(&self) -> String {
        let mut s = String::with_capacity(2 + 2 * self.suffix.len());
        s.push(self.order.tag() as char);
        s.push('-');
        for b in &self.suffix {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// Reads a [`token`](Self::token).
    ///
    /// ```
    /// # use helpdesk_core::filter::*;
    /// let c = Cursor::new(SortOrder::Oldest, vec![1; 16]);
    /// assert_eq!(Cursor::parse(&c.token()).unwrap(), c);
    /// assert!(Cursor::parse("zz").is_err());
    /// ```
    pub fn parse(token: &str) -> Result<Cursor, FilterError> {
        let bad = || FilterError::BadCursor(token.chars().take(80).collect());
        let (o, hex) = token.split_once('-').ok_or_else(bad)?;
        let order = match o.as_bytes() {
            [b] => SortOrder::of_tag(*b).ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        if hex.len() % 2 != 0 || !hex.is_ascii() {
            return Err(bad());
        }
        let suffix = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| bad())?;
        if suffix.len() != order.key().sort_len() + 8 {
            return Err(bad());
        }
        Ok(Cursor { order, suffix })
    }
}

impl TryFrom<String> for Cursor {
    type Error = FilterError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Cursor::parse(&s)
    }
}

impl From<Cursor> for String {
    fn from(c: Cursor) -> String {
        c.token()
    }
}

/// Streams of one family and owner, with one status, across departments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Source {
    /// Family.
    pub family: Family,
    /// Owner (agent, team or user id; 0 for none).
    pub owner: u64,
    /// Status.
    pub status: Status,
}

/// A creation-time range `[from, to)` in key bytes ([`time_bytes`]).
pub type KeyTimeRange = (Option<[u8; 8]>, Option<[u8; 8]>);

/// How a store finds a filter's tickets: the streams to merge, bounds on
/// their keys, and whether each candidate must still be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The streams (each expanded to the departments the viewer may see).
    pub sources: Vec<Source>,
    /// The order (all streams are read in its layout).
    pub order: SortOrder,
    /// Departments the filter itself restricts to (`None`: any).
    pub departments: Option<BTreeSet<DepartmentId>>,
    /// Inclusive lower bound of the key suffixes (a prefix of them).
    pub lo: Option<Vec<u8>>,
    /// Exclusive upper bound of the key suffixes (a prefix of them).
    pub hi: Option<Vec<u8>>,
    /// A creation-time range `[from, to)` checked on the key itself (in the
    /// urgency layout, where it is not the seek dimension).
    pub created: Option<KeyTimeRange>,
    /// Whether candidates must be checked with [`Filter::matches`].
    pub post_filter: bool,
}

impl Plan {
    /// A plan that reads `sources` in `order` with nothing else to check.
    pub fn exact(sources: Vec<Source>, order: SortOrder) -> Plan {
        Plan { sources, order, departments: None, lo: None, hi: None, created: None, post_filter: false }
    }

    /// Whether a key suffix (sort bytes and id) passes the key-level checks.
    pub fn admits_key(&self, suffix: &[u8]) -> bool {
        let Some((from, to)) = &self.created else { return true };
        let c = match self.order.key() {
            SortKey::Urgency => suffix.get(1..9),
            SortKey::Created | SortKey::CreatedDesc => return true,
        };
        let Some(c) = c else { return false };
        from.is_none_or(|f| c >= &f[..]) && to.is_none_or(|t| c < &t[..])
    }

    /// Whether the sum of the sources' counters is the exact count.
    pub fn counts_exactly(&self) -> bool {
        // A ticket followed by two of the listed agents is in two streams.
        let followers: BTreeSet<u64> =
            self.sources.iter().filter(|s| s.family == Family::Follower).map(|s| s.owner).collect();
        followers.len() <= 1
            && !self.post_filter
            && self.lo.is_none()
            && self.hi.is_none()
            && self.created.is_none()
            && self.sources.iter().all(|s| s.family.counted())
    }

    /// Whether department `d` is read for `viewer`.
    pub fn reads_department(&self, viewer: &Viewer, d: DepartmentId) -> bool {
        viewer.can_see(d) && self.departments.as_ref().is_none_or(|s| s.contains(&d))
    }
}

/// Facts a filter may need that a ticket does not hold.
pub trait FilterContext {
    /// The organisation of a user (`None`: none, or unknown user).
    fn organisation_of(&self, user: UserId) -> Option<OrganisationId>;
}

/// A context that knows no organisations (for filters that use none).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoContext;

impl FilterContext for NoContext {
    fn organisation_of(&self, _: UserId) -> Option<OrganisationId> {
        None
    }
}

impl FilterContext for BTreeMap<UserId, OrganisationId> {
    fn organisation_of(&self, user: UserId) -> Option<OrganisationId> {
        self.get(&user).copied()
    }
}

/// A virtual inbox. Implement it for your own filters; the built-in and the
/// declarative ([`CustomFilter`]) ones are built on it.
///
/// A store shows a ticket for a filter iff the viewer may see its department
/// and [`matches`](Filter::matches) holds, in [`order`](Filter::order). Every
/// plan must yield (a superset of, when it post-filters) exactly those tickets.
pub trait Filter: Send + Sync + fmt::Debug {
    /// A stable name for display and logs.
    fn name(&self) -> String;
    /// The order of the list.
    fn order(&self) -> SortOrder {
        SortOrder::Urgency
    }
    /// Ways to find the tickets, for this viewer. The store picks the one
    /// with the fewest candidates; there must be at least one.
    fn plans(&self, viewer: &Viewer) -> Vec<Plan>;
    /// Whether the filter shows `t` to `viewer` (department visibility aside).
    fn matches(&self, t: &TicketSummary, viewer: &Viewer, ctx: &dyn FilterContext) -> bool;
}

/// The built-in filters, in the order an agent's sidebar shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltIn {
    /// Awaiting agent, assigned to me.
    MyTickets,
    /// Awaiting agent, I follow.
    Following,
    /// Awaiting agent, assigned to one of my teams.
    MyTeams,
    /// Awaiting agent, neither agent nor team.
    Unassigned,
    /// Awaiting agent, all.
    All,
    /// Awaiting user.
    AwaitingUser,
    /// Pending.
    Pending,
    /// Resolved.
    Resolved,
    /// Hidden: spam.
    Spam,
    /// Hidden: validating.
    Validating,
    /// Hidden: deleted.
    Deleted,
}

impl BuiltIn {
    /// Every built-in filter, in display order.
    pub const ALL: [BuiltIn; 11] = [
        BuiltIn::MyTickets,
        BuiltIn::Following,
        BuiltIn::MyTeams,
        BuiltIn::Unassigned,
        BuiltIn::All,
        BuiltIn::AwaitingUser,
        BuiltIn::Pending,
        BuiltIn::Resolved,
        BuiltIn::Spam,
        BuiltIn::Validating,
        BuiltIn::Deleted,
    ];

    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            BuiltIn::MyTickets => "my_tickets",
            BuiltIn::Following => "following",
            BuiltIn::MyTeams => "my_teams",
            BuiltIn::Unassigned => "unassigned",
            BuiltIn::All => "all",
            BuiltIn::AwaitingUser => "awaiting_user",
            BuiltIn::Pending => "pending",
            BuiltIn::Resolved => "resolved",
            BuiltIn::Spam => "spam",
            BuiltIn::Validating => "validating",
            BuiltIn::Deleted => "deleted",
        }
    }

    /// The status the filter lists.
    pub fn status(self) -> Status {
        match self {
            BuiltIn::MyTickets
            | BuiltIn::Following
            | BuiltIn::MyTeams
            | BuiltIn::Unassigned
            | BuiltIn::All => Status::AwaitingAgent,
            BuiltIn::AwaitingUser => Status::AwaitingUser,
            BuiltIn::Pending => Status::Pending,
            BuiltIn::Resolved => Status::Resolved,
            BuiltIn::Spam => Status::Spam,
            BuiltIn::Validating => Status::Validating,
            BuiltIn::Deleted => Status::Deleted,
        }
    }

    /// The streams that hold exactly this filter's tickets for `viewer`.
    ///
    /// ```
    /// # use helpdesk_core::filter::*;
    /// # use helpdesk_core::*;
    /// # use helpdesk_core::index::Family;
    /// let v = Viewer { agent: AgentId(7), teams: [TeamId(1), TeamId(2)].into(), departments: None };
    /// assert_eq!(BuiltIn::MyTeams.sources(&v).len(), 2);
    /// assert_eq!(BuiltIn::MyTickets.sources(&v)[0].family, Family::Agent);
    /// ```
    pub fn sources(self, viewer: &Viewer) -> Vec<Source> {
        let status = self.status();
        let one = |family, owner| vec![Source { family, owner, status }];
        match self {
            BuiltIn::MyTickets => one(Family::Agent, viewer.agent.0),
            BuiltIn::Following => one(Family::Follower, viewer.agent.0),
            BuiltIn::MyTeams => {
                viewer.teams.iter().map(|t| Source { family: Family::Team, owner: t.0, status }).collect()
            }
            BuiltIn::Unassigned => one(Family::Unassigned, 0),
            _ => one(Family::Status, 0),
        }
    }
}

impl fmt::Display for BuiltIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Filter for BuiltIn {
    fn name(&self) -> String {
        self.as_str().to_string()
    }

    fn plans(&self, viewer: &Viewer) -> Vec<Plan> {
        vec![Plan::exact(self.sources(viewer), SortOrder::Urgency)]
    }

    fn matches(&self, t: &TicketSummary, viewer: &Viewer, _: &dyn FilterContext) -> bool {
        t.status == self.status()
            && match self {
                BuiltIn::MyTickets => t.agent == Some(viewer.agent),
                BuiltIn::Following => t.followers.contains(&viewer.agent),
                BuiltIn::MyTeams => t.team.is_some_and(|tm| viewer.teams.contains(&tm)),
                BuiltIn::Unassigned => t.is_unassigned(),
                _ => true,
            }
    }
}

// ----- custom filters ----------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum RefRepr {
    Id(u64),
    Word(String),
}

/// An agent in criteria: `"me"` (the viewer), `"none"`, or an agent id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "RefRepr", into = "RefRepr")]
pub enum AgentRef {
    /// The agent looking.
    Me,
    /// No agent (unassigned; for `followed_by`: no followers).
    None,
    /// This agent.
    Id(AgentId),
}

impl TryFrom<RefRepr> for AgentRef {
    type Error = String;
    fn try_from(r: RefRepr) -> Result<Self, String> {
        match r {
            RefRepr::Id(0) => Err("agent ids start at 1".into()),
            RefRepr::Id(n) => Ok(AgentRef::Id(AgentId(n))),
            RefRepr::Word(w) if w == "me" => Ok(AgentRef::Me),
            RefRepr::Word(w) if w == "none" => Ok(AgentRef::None),
            RefRepr::Word(w) => Err(format!("unknown agent {w:?}: use \"me\", \"none\" or an agent id")),
        }
    }
}

impl From<AgentRef> for RefRepr {
    fn from(r: AgentRef) -> RefRepr {
        match r {
            AgentRef::Me => RefRepr::Word("me".into()),
            AgentRef::None => RefRepr::Word("none".into()),
            AgentRef::Id(a) => RefRepr::Id(a.0),
        }
    }
}

/// A team in criteria: `"mine"` (the viewer's teams), `"none"`, or a team id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "RefRepr", into = "RefRepr")]
pub enum TeamRef {
    /// Any of the viewer's teams.
    Mine,
    /// No team.
    None,
    /// This team.
    Id(TeamId),
}

impl TryFrom<RefRepr> for TeamRef {
    type Error = String;
    fn try_from(r: RefRepr) -> Result<Self, String> {
        match r {
            RefRepr::Id(0) => Err("team ids start at 1".into()),
            RefRepr::Id(n) => Ok(TeamRef::Id(TeamId(n))),
            RefRepr::Word(w) if w == "mine" => Ok(TeamRef::Mine),
            RefRepr::Word(w) if w == "none" => Ok(TeamRef::None),
            RefRepr::Word(w) => Err(format!("unknown team {w:?}: use \"mine\", \"none\" or a team id")),
        }
    }
}

impl From<TeamRef> for RefRepr {
    fn from(r: TeamRef) -> RefRepr {
        match r {
            TeamRef::Mine => RefRepr::Word("mine".into()),
            TeamRef::None => RefRepr::Word("none".into()),
            TeamRef::Id(t) => RefRepr::Id(t.0),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUrgency {
    #[serde(default)]
    min: Option<i64>,
    #[serde(default)]
    max: Option<i64>,
}

/// An urgency range, both ends included: `{"min": 5, "max": 10}` (either may
/// be left out). Loading refuses bounds outside 1..=10 and `min > max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawUrgency")]
pub struct UrgencyRange {
    /// Lowest urgency shown.
    pub min: u8,
    /// Highest urgency shown.
    pub max: u8,
}

impl TryFrom<RawUrgency> for UrgencyRange {
    type Error = String;
    fn try_from(r: RawUrgency) -> Result<Self, String> {
        let (min, max) = (r.min.unwrap_or(1), r.max.unwrap_or(10));
        if !(1..=10).contains(&min) || !(1..=10).contains(&max) {
            return Err(format!("urgency range {min}..={max} is out of bounds: urgency is 1 to 10"));
        }
        if min > max {
            return Err(format!("urgency range {min}..={max} is empty: min is above max"));
        }
        Ok(UrgencyRange { min: min as u8, max: max as u8 })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeRange {
    #[serde(default)]
    from: Option<DateTime<Utc>>,
    #[serde(default)]
    to: Option<DateTime<Utc>>,
}

/// A time range `[from, to)`, RFC 3339: `{"from": "2026-01-01T00:00:00Z"}`.
/// A ticket without the time (no reply yet) is outside every range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawTimeRange")]
pub struct TimeRange {
    /// From (included).
    pub from: Option<DateTime<Utc>>,
    /// To (excluded).
    pub to: Option<DateTime<Utc>>,
}

impl TryFrom<RawTimeRange> for TimeRange {
    type Error = String;
    fn try_from(r: RawTimeRange) -> Result<Self, String> {
        if let (Some(f), Some(t)) = (r.from, r.to) {
            if f >= t {
                return Err(format!("time range {f} to {t} is empty: `from` must be before `to`"));
            }
        }
        Ok(TimeRange { from: r.from, to: r.to })
    }
}

impl TimeRange {
    /// Whether `t` is in the range.
    pub fn contains(&self, t: Option<DateTime<Utc>>) -> bool {
        t.is_some_and(|t| self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLabels {
    #[serde(default)]
    all: Vec<String>,
    #[serde(default)]
    any: Vec<String>,
    #[serde(default)]
    none: Vec<String>,
}

/// Label conditions: the ticket has `all` of them, at least one of `any`
/// (when given), and `none` of the last. Labels are normalised on loading.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawLabels")]
pub struct LabelCriteria {
    /// Every one of these.
    pub all: Vec<String>,
    /// At least one of these (ignored when empty).
    pub any: Vec<String>,
    /// None of these.
    pub none: Vec<String>,
}

impl TryFrom<RawLabels> for LabelCriteria {
    type Error = String;
    fn try_from(r: RawLabels) -> Result<Self, String> {
        let norm = |v: Vec<String>| {
            v.iter().map(|l| normalize_label(l).map_err(|e| e.to_string())).collect::<Result<Vec<_>, _>>()
        };
        Ok(LabelCriteria { all: norm(r.all)?, any: norm(r.any)?, none: norm(r.none)? })
    }
}

impl LabelCriteria {
    fn is_empty(&self) -> bool {
        self.all.is_empty() && self.any.is_empty() && self.none.is_empty()
    }

    fn matches(&self, labels: &BTreeSet<String>) -> bool {
        self.all.iter().all(|l| labels.contains(l))
            && (self.any.is_empty() || self.any.iter().any(|l| labels.contains(l)))
            && !self.none.iter().any(|l| labels.contains(l))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum RawField {
    OneOf(Vec<String>),
    Contains(String),
    Number {
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
    },
    Date {
        #[serde(default)]
        from: Option<NaiveDate>,
        #[serde(default)]
        to: Option<NaiveDate>,
    },
    Set(bool),
}

/// A condition on one custom field:
/// `{"one_of": ["pro"]}` (text or choice equal to one of them),
/// `{"contains": "acme"}` (text or choice containing it, any case),
/// `{"number": {"min": 1, "max": 5}}`, `{"date": {"from": "2026-01-01", "to": "2026-01-31"}}`
/// (both ends included), `{"set": true}` (has a value) or `{"set": false}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawField", rename_all = "snake_case")]
pub enum FieldCondition {
    /// Equal to one of these.
    OneOf(Vec<String>),
    /// Contains this (lower-cased on loading).
    Contains(String),
    /// A number in `[min, max]`.
    Number {
        /// Lowest.
        min: Option<f64>,
        /// Highest.
        max: Option<f64>,
    },
    /// A date in `[from, to]`.
    Date {
        /// First day.
        from: Option<NaiveDate>,
        /// Last day.
        to: Option<NaiveDate>,
    },
    /// Whether the field has a value.
    Set(bool),
}

impl TryFrom<RawField> for FieldCondition {
    type Error = String;
    fn try_from(r: RawField) -> Result<Self, String> {
        Ok(match r {
            RawField::OneOf(v) if v.is_empty() => return Err("`one_of` needs at least one value".into()),
            RawField::OneOf(v) => FieldCondition::OneOf(v),
            RawField::Contains(s) if s.trim().is_empty() => {
                return Err("`contains` needs a non-empty text".into())
            }
            RawField::Contains(s) => FieldCondition::Contains(s.to_lowercase()),
            RawField::Number { min, max } => {
                if min.is_some_and(|v| !v.is_finite()) || max.is_some_and(|v| !v.is_finite()) {
                    return Err("number bounds must be finite".into());
                }
                if let (Some(a), Some(b)) = (min, max) {
                    if a > b {
                        return Err(format!("number range {a}..={b} is empty: min is above max"));
                    }
                }
                FieldCondition::Number { min, max }
            }
            RawField::Date { from, to } => {
                if let (Some(a), Some(b)) = (from, to) {
                    if a > b {
                        return Err(format!("date range {a} to {b} is empty: `from` is after `to`"));
                    }
                }
                FieldCondition::Date { from, to }
            }
            RawField::Set(b) => FieldCondition::Set(b),
        })
    }
}

impl FieldCondition {
    /// Whether a field value (`None`: not set) meets the condition.
    pub fn matches(&self, v: Option<&FieldValue>) -> bool {
        match (self, v) {
            (FieldCondition::Set(want), v) => v.is_some() == *want,
            (FieldCondition::OneOf(opts), Some(FieldValue::Text(s) | FieldValue::Choice(s))) => {
                opts.iter().any(|o| o == s)
            }
            (FieldCondition::Contains(x), Some(FieldValue::Text(s) | FieldValue::Choice(s))) => {
                s.to_lowercase().contains(x.as_str())
            }
            (FieldCondition::Number { min, max }, Some(FieldValue::Number(n))) => {
                min.is_none_or(|m| *n >= m) && max.is_none_or(|m| *n <= m)
            }
            (FieldCondition::Date { from, to }, Some(FieldValue::Date(d))) => {
                from.is_none_or(|f| *d >= f) && to.is_none_or(|t| *d <= t)
            }
            _ => false,
        }
    }
}

/// What a custom filter selects. Every list criterion is "any of"; criteria
/// combine with "and"; an empty list or a missing criterion selects all.
/// Unknown fields are refused on loading.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criteria {
    /// Statuses; empty: the visible ones (awaiting agent, awaiting user,
    /// pending, resolved). Hidden statuses show only when listed.
    #[serde(default)]
    pub status: Vec<Status>,
    /// Departments (further limited to those the viewer may see).
    #[serde(default)]
    pub department: Vec<DepartmentId>,
    /// Assigned agent.
    #[serde(default)]
    pub agent: Vec<AgentRef>,
    /// Assigned team.
    #[serde(default)]
    pub team: Vec<TeamRef>,
    /// Followed by (`"none"`: no followers).
    #[serde(default)]
    pub followed_by: Vec<AgentRef>,
    /// Owning user.
    #[serde(default)]
    pub user: Vec<UserId>,
    /// The owner's organisation.
    #[serde(default)]
    pub organisation: Vec<OrganisationId>,
    /// Urgency range.
    #[serde(default)]
    pub urgency: Option<UrgencyRange>,
    /// Labels.
    #[serde(default)]
    pub labels: LabelCriteria,
    /// Custom fields, by key.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldCondition>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<TimeRange>,
    /// Time of the last message, by anyone.
    #[serde(default)]
    pub last_reply: Option<TimeRange>,
    /// Time of the last user message.
    #[serde(default)]
    pub last_user_reply: Option<TimeRange>,
    /// Time of the last agent message.
    #[serde(default)]
    pub last_agent_reply: Option<TimeRange>,
}

/// The statuses a custom filter without a status criterion lists.
pub const VISIBLE_STATUSES: [Status; 4] =
    [Status::AwaitingAgent, Status::AwaitingUser, Status::Pending, Status::Resolved];

impl Criteria {
    /// The statuses selected.
    pub fn statuses(&self) -> Vec<Status> {
        if self.status.is_empty() {
            VISIBLE_STATUSES.to_vec()
        } else {
            let set: BTreeSet<Status> = self.status.iter().copied().collect();
            set.into_iter().collect()
        }
    }

    fn agent_ok(refs: &[AgentRef], agent: Option<AgentId>, viewer: &Viewer) -> bool {
        refs.is_empty()
            || refs.iter().any(|r| match r {
                AgentRef::Me => agent == Some(viewer.agent),
                AgentRef::None => agent.is_none(),
                AgentRef::Id(a) => agent == Some(*a),
            })
    }

    /// Whether `t` meets every criterion (department visibility aside).
    pub fn matches(&self, t: &TicketSummary, viewer: &Viewer, ctx: &dyn FilterContext) -> bool {
        let statuses_ok =
            if self.status.is_empty() { !t.status.is_hidden() } else { self.status.contains(&t.status) };
        statuses_ok
            && (self.department.is_empty() || self.department.contains(&t.department))
            && Criteria::agent_ok(&self.agent, t.agent, viewer)
            && (self.team.is_empty()
                || self.team.iter().any(|r| match r {
                    TeamRef::Mine => t.team.is_some_and(|tm| viewer.teams.contains(&tm)),
                    TeamRef::None => t.team.is_none(),
                    TeamRef::Id(id) => t.team == Some(*id),
                }))
            && (self.followed_by.is_empty()
                || self.followed_by.iter().any(|r| match r {
                    AgentRef::Me => t.followers.contains(&viewer.agent),
                    AgentRef::None => t.followers.is_empty(),
                    AgentRef::Id(a) => t.followers.contains(a),
                }))
            && (self.user.is_empty() || self.user.contains(&t.user))
            && self.urgency.is_none_or(|r| (r.min..=r.max).contains(&t.urgency.get()))
            && self.labels.matches(&t.labels)
            && self.fields.iter().all(|(k, c)| c.matches(t.fields.get(k)))
            && self.created.is_none_or(|r| r.contains(Some(t.created_at)))
            && self.last_reply.is_none_or(|r| r.contains(t.last_reply_at()))
            && self.last_user_reply.is_none_or(|r| r.contains(t.last_user_reply_at))
            && self.last_agent_reply.is_none_or(|r| r.contains(t.last_agent_reply_at))
            && (self.organisation.is_empty()
                || ctx.organisation_of(t.user).is_some_and(|o| self.organisation.contains(&o)))
    }
}

/// An admin-defined filter: a name, [`Criteria`] and a [`SortOrder`], loadable
/// with serde (JSON, TOML, ...): `{"name": ..., "criteria": {...}, "sort": "oldest"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomFilter {
    /// Name.
    pub name: String,
    /// What it selects.
    #[serde(default)]
    pub criteria: Criteria,
    /// Order (default: urgency, highest first, then oldest).
    #[serde(default)]
    pub sort: SortOrder,
}

impl CustomFilter {
    /// A filter with these criteria, sorted by default.
    pub fn new(name: impl Into<String>, criteria: Criteria) -> Self {
        CustomFilter { name: name.into(), criteria, sort: SortOrder::Urgency }
    }

    /// The same filter sorted by `sort`.
    pub fn sorted(mut self, sort: SortOrder) -> Self {
        self.sort = sort;
        self
    }
}

impl Filter for CustomFilter {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn order(&self) -> SortOrder {
        self.sort
    }

    fn plans(&self, viewer: &Viewer) -> Vec<Plan> {
        let c = &self.criteria;
        let statuses = c.statuses();
        let order = self.sort;
        let layout = order.key();
        // What the plan itself guarantees, and which criteria remain.
        let has_post_only = !c.organisation.is_empty()
            || !c.labels.is_empty()
            || !c.fields.is_empty()
            || c.last_reply.is_some()
            || c.last_user_reply.is_some()
            || c.last_agent_reply.is_some()
            || (c.urgency.is_some() && layout != SortKey::Urgency);
        let departments =
            if c.department.is_empty() { None } else { Some(c.department.iter().copied().collect()) };
        let (mut lo, mut hi, mut created) = (None, None, None);
        match layout {
            SortKey::Urgency => {
                if let Some(u) = c.urgency {
                    lo = Some(vec![255 - u.max]);
                    hi = Some(vec![255 - u.min + 1]);
                }
                if let Some(r) = c.created {
                    created = Some((r.from.map(time_bytes), r.to.map(time_bytes)));
                }
            }
            SortKey::Created => {
                if let Some(r) = c.created {
                    lo = r.from.map(|f| time_bytes(f).to_vec());
                    hi = r.to.map(|t| time_bytes(t).to_vec());
                }
            }
            SortKey::CreatedDesc => {
                // Inverted times: created < to  <=>  !t(created) >= !t(to) + 1,
                // created >= from  <=>  !t(created) < !t(from) + 1.
                let inv_next =
                    |t| (!u64::from_be_bytes(time_bytes(t))).checked_add(1).map(|v| v.to_be_bytes().to_vec());
                if let Some(r) = c.created {
                    lo = r.to.and_then(inv_next);
                    hi = r.from.and_then(inv_next);
                }
            }
        }
        let plan = |sources: Vec<Source>, covered: [bool; 4]| {
            // covered: agent, team, followed_by, user
            let uncovered = (!c.agent.is_empty() && !covered[0])
                || (!c.team.is_empty() && !covered[1])
                || (!c.followed_by.is_empty() && !covered[2])
                || (!c.user.is_empty() && !covered[3]);
            Plan {
                sources,
                order,
                departments: departments.clone(),
                lo: lo.clone(),
                hi: hi.clone(),
                created,
                post_filter: has_post_only || uncovered,
            }
        };
        let by = |family: Family, owners: &BTreeSet<u64>| -> Vec<Source> {
            owners
                .iter()
                .flat_map(|&owner| statuses.iter().map(move |&status| Source { family, owner, status }))
                .collect()
        };
        let mut plans = vec![plan(by(Family::Status, &BTreeSet::from([0])), [false; 4])];
        if layout != SortKey::Urgency {
            return plans;
        }
        if !c.agent.is_empty() {
            let owners = c
                .agent
                .iter()
                .map(|r| match r {
                    AgentRef::Me => viewer.agent.0,
                    AgentRef::None => 0,
                    AgentRef::Id(a) => a.0,
                })
                .collect();
            plans.push(plan(by(Family::Agent, &owners), [true, false, false, false]));
        }
        if !c.team.is_empty() {
            let owners = c
                .team
                .iter()
                .flat_map(|r| match r {
                    TeamRef::Mine => viewer.teams.iter().map(|t| t.0).collect::<Vec<_>>(),
                    TeamRef::None => vec![0],
                    TeamRef::Id(t) => vec![t.0],
                })
                .collect();
            plans.push(plan(by(Family::Team, &owners), [false, true, false, false]));
        }
        if !c.followed_by.is_empty() && !c.followed_by.contains(&AgentRef::None) {
            let owners = c
                .followed_by
                .iter()
                .map(|r| match r {
                    AgentRef::Id(a) => a.0,
                    _ => viewer.agent.0,
                })
                .collect();
            plans.push(plan(by(Family::Follower, &owners), [false, false, true, false]));
        }
        if !c.user.is_empty() {
            let owners = c.user.iter().map(|u| u.0).collect();
            plans.push(plan(by(Family::User, &owners), [false, false, false, true]));
        }
        // Label streams: for `any`, one per listed label; for `all`, any one
        // of them (the planner picks the smallest). Labels are always
        // re-checked (label owners are hashes).
        if !c.labels.any.is_empty() {
            let owners = c.labels.any.iter().map(|l| label_owner(l)).collect();
            plans.push(plan(by(Family::Label, &owners), [false; 4]));
        }
        for l in &c.labels.all {
            plans.push(plan(by(Family::Label, &BTreeSet::from([label_owner(l)])), [false; 4]));
        }
        if c.agent == [AgentRef::None] && c.team == [TeamRef::None] {
            plans.push(plan(by(Family::Unassigned, &BTreeSet::from([0])), [true, true, false, false]));
        }
        plans
    }

    fn matches(&self, t: &TicketSummary, viewer: &Viewer, ctx: &dyn FilterContext) -> bool {
        self.criteria.matches(t, viewer, ctx)
    }
}

/// One page of a filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterPage {
    /// The tickets, in the filter's order. Shared with the store's summary
    /// cache when it has one (then a page copies no ticket data).
    pub tickets: Vec<std::sync::Arc<TicketSummary>>,
    /// Where the next page starts; `None` at the end of the list.
    pub next: Option<Cursor>,
    /// The page stopped at [`EXAMINE_BUDGET`] before it was full: ask again
    /// with `next` for more (there may be none).
    pub partial: bool,
    /// Index entries examined (for diagnostics and tests of the bounds).
    pub examined: usize,
}

/// A filter's count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterCount {
    /// The count (a lower bound when not `exact`).
    pub count: u64,
    /// Whether `count` is exact. Built-in filters always are; a custom filter
    /// is when its plan can be counted from counters, or when counting it
    /// examined fewer than [`COUNT_BUDGET`] index entries.
    pub exact: bool,
}

/// Brute force: every ticket of `all` that `filter` shows `viewer`, in order.
/// What index-backed pages must equal (used by tests and as documentation).
pub fn brute_force<'a>(
    filter: &dyn Filter,
    viewer: &Viewer,
    ctx: &dyn FilterContext,
    all: impl IntoIterator<Item = &'a TicketSummary>,
) -> Vec<TicketSummary> {
    let mut out: Vec<TicketSummary> = all
        .into_iter()
        .filter(|t| viewer.can_see(t.department) && filter.matches(t, viewer, ctx))
        .cloned()
        .collect();
    let order = filter.order();
    out.sort_by(|a, b| order.compare(a, b));
    out
}
