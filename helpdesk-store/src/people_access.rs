//! People data for agents: who may see a user or an organisation, and the
//! access log.
//!
//! An agent with the people permission ([`Permissions::sees_all_people`];
//! admins have it) may look up anyone. Without it, an agent sees a person
//! only through a ticket they may see: a user who owns or is CC'd on a
//! ticket in one of their departments, an organisation with such a ticket.
//! Anyone else is refused with [`DirectoryError::NotPermitted`], which says
//! why; the refusal is not logged (nothing was shown).
//!
//! Every view is recorded in the audit log as `people.view` (target
//! `user:7` or `organisation:3`, the client address as source), at most
//! once per agent and person every [`VIEW_LOG_EVERY`] in one process, so an
//! agent paging through a profile does not flood the log. Admins read it in
//! Admin > Audit log.
//!
//! ```
//! use helpdesk_store::{Helpdesk, NewAgent};
//! use helpdesk_core::admin::AuditQuery;
//! use helpdesk_core::*;
//!
//! let hd = Helpdesk::in_memory();
//! let support = hd.create_department("Support", vec![]).unwrap();
//! let sales = hd.create_department("Sales", vec![]).unwrap();
//! let only_support = Permissions { departments: Some([support.id].into()), ..Permissions::default() };
//! let bob = hd.create_agent(NewAgent::new("Bob", "bob@hd.example").permissions(only_support)).unwrap();
//! let ann = hd.create_user(NewUser::new("Ann", "ann@acme.example")).unwrap();
//! let cid = hd.create_user(NewUser::new("Cid", "cid@acme.example")).unwrap();
//! hd.create_ticket(&Actor::User(ann.id), NewTicket::new("Hi", "?", support.id, ann.id, Channel::Portal)).unwrap();
//! hd.create_ticket(&Actor::User(cid.id), NewTicket::new("Quote", "?", sales.id, cid.id, Channel::Portal)).unwrap();
//!
//! // Ann has a ticket Bob may see; Cid has one only in Sales.
//! assert_eq!(hd.user_for_agent(bob.id, ann.id, Some("10.0.0.7".into())).unwrap().name, "Ann");
//! assert!(matches!(
//!     hd.user_for_agent(bob.id, cid.id, None),
//!     Err(helpdesk_store::Error::Directory(DirectoryError::NotPermitted(_)))
//! ));
//!
//! // Seeing Ann again at once is not logged twice.
//! hd.user_for_agent(bob.id, ann.id, None).unwrap();
//! let q = AuditQuery { action: Some("people.view".into()), ..AuditQuery::default() };
//! let log = hd.audit(&q, None, 10).unwrap();
//! assert_eq!(log.len(), 1);
//! assert_eq!(log[0].target, format!("user:{}", ann.id.0));
//! assert_eq!(log[0].source.as_deref(), Some("10.0.0.7"));
//! ```

use crate::{Helpdesk, Result};
use chrono::{DateTime, Utc};
use helpdesk_core::filter::{Criteria, CustomFilter};
use helpdesk_core::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a view of one person by one agent is not logged again.
pub const VIEW_LOG_EVERY: chrono::Duration = chrono::Duration::minutes(10);

/// The most (agent, person) pairs remembered for [`VIEW_LOG_EVERY`];
/// beyond it the expired ones are forgotten, and if none has expired, all.
const VIEW_LOG_PAIRS: usize = 50_000;

/// How many of a user's tickets are read to find one the agent may see.
const TICKETS_READ: usize = 5_000;

/// When each agent last had a view of each person logged (`user:7`).
pub(crate) type ViewLog = Arc<Mutex<HashMap<(AgentId, String), DateTime<Utc>>>>;

/// Why an agent may see a person (said in the log entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    /// The people permission (or admin).
    Permission,
    /// A ticket the agent may see.
    Ticket(TicketId),
}

impl Helpdesk {
    /// The user `user` as agent `agent` may see them, recording the view in
    /// the audit log (`source`: the client address). Refused with
    /// [`DirectoryError::NotPermitted`] unless the agent has the people
    /// permission or may see a ticket the user owns or is CC'd on.
    pub fn user_for_agent(&self, agent: AgentId, user: UserId, source: Option<String>) -> Result<User> {
        let a = self.agent(agent)?;
        let u = self.user(user)?;
        let grant = self
            .user_grant(&a, &u)?
            .ok_or_else(|| DirectoryError::NotPermitted(format!("user {}", user.0)))?;
        self.log_view(&a, u.id.to_string(), format!("Viewed user {} ({})", u.name, u.id), grant, source)?;
        Ok(u)
    }

    /// Whether agent `agent` may see user `user` (without logging).
    pub fn may_see_user(&self, agent: &Agent, user: &User) -> Result<bool> {
        Ok(self.user_grant(agent, user)?.is_some())
    }

    /// The organisation `org` as agent `agent` may see it, recording the view
    /// in the audit log. Refused with [`DirectoryError::NotPermitted`] unless
    /// the agent has the people permission or may see one of its tickets.
    pub fn organisation_for_agent(
        &self,
        agent: AgentId,
        org: OrganisationId,
        source: Option<String>,
    ) -> Result<Organisation> {
        let a = self.agent(agent)?;
        let o = self.organisation(org)?;
        let grant = self
            .organisation_grant(&a, &o)?
            .ok_or_else(|| DirectoryError::NotPermitted(format!("organisation {}", org.0)))?;
        self.log_view(
            &a,
            o.id.to_string(),
            format!("Viewed organisation {} ({})", o.name, o.id),
            grant,
            source,
        )?;
        Ok(o)
    }

    fn organisation_grant(&self, agent: &Agent, o: &Organisation) -> Result<Option<Grant>> {
        if agent.permissions.sees_all_people() {
            return Ok(Some(Grant::Permission));
        }
        let mut criteria = Criteria { organisation: vec![o.id], ..Criteria::default() };
        criteria.status = Vec::new();
        let filter = CustomFilter::new("organisation", criteria);
        Ok(self.filter_page(agent.id, &filter, None, 1)?.tickets.first().map(|t| Grant::Ticket(t.id)))
    }

    fn user_grant(&self, agent: &Agent, user: &User) -> Result<Option<Grant>> {
        if agent.permissions.sees_all_people() {
            return Ok(Some(Grant::Permission));
        }
        let mut after = None;
        let mut read = 0;
        while read < TICKETS_READ {
            let page = self.tickets_of_user(user.id, after, 500)?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            read += page.len();
            if let Some(t) = page.iter().find(|t| agent.permissions.can_see(t.department)) {
                return Ok(Some(Grant::Ticket(t.id)));
            }
        }
        Ok(None)
    }

    /// Records that `agent` saw `target`, unless that was logged less than
    /// [`VIEW_LOG_EVERY`] ago by this process.
    fn log_view(
        &self,
        agent: &Agent,
        target: String,
        summary: String,
        grant: Grant,
        source: Option<String>,
    ) -> Result<()> {
        let now = self.clock.now();
        let key = (agent.id, target.clone());
        {
            let mut seen = self.people_views.lock().unwrap_or_else(|e| e.into_inner());
            if seen.get(&key).is_some_and(|at| now - *at < VIEW_LOG_EVERY) {
                return Ok(());
            }
            if seen.len() >= VIEW_LOG_PAIRS {
                seen.retain(|_, at| now - *at < VIEW_LOG_EVERY);
                if seen.len() >= VIEW_LOG_PAIRS {
                    seen.clear();
                }
            }
            seen.insert(key.clone(), now);
        }
        let how = match grant {
            Grant::Permission => "with the people permission".to_string(),
            Grant::Ticket(t) => format!("through ticket {t}"),
        };
        let entry =
            self.agent_audit(agent, "people.view", &target, format!("{summary} {how}")).from_source(source);
        if let Err(e) = self.record_audit(entry) {
            // Not logged: let the next view try again.
            let mut seen = self.people_views.lock().unwrap_or_else(|e| e.into_inner());
            seen.remove(&key);
            return Err(e);
        }
        Ok(())
    }
}

/// A page of people found for an agent ([`Helpdesk::find_users_for_agent`],
/// [`Helpdesk::find_organisations_for_agent`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Found<T> {
    /// What was found, by id.
    pub items: Vec<T>,
    /// Where the next page starts (`after`), when there may be more.
    pub next: Option<u64>,
}

/// The most records one page of a search reads (a name search scans).
pub const SEARCH_READ: usize = 20_000;

fn matches(q: &str, texts: &[&str]) -> bool {
    q.is_empty() || texts.iter().any(|t| t.to_lowercase().contains(q))
}

impl Helpdesk {
    /// Reads records of `kind` after `after`, keeping what `keep` gives,
    /// until `limit` are kept or [`SEARCH_READ`] are read.
    fn scan_people<T>(
        &self,
        kind: RecordKind,
        after: u64,
        limit: usize,
        mut keep: impl FnMut(Record) -> Result<Option<T>>,
    ) -> Result<Found<T>> {
        let (mut items, mut at, mut read) = (Vec::new(), after, 0);
        loop {
            let page = self.store.records(kind, at, 256)?;
            if page.is_empty() {
                return Ok(Found { items, next: None });
            }
            for r in page {
                at = r.key().1;
                read += 1;
                if let Some(x) = keep(r)? {
                    items.push(x);
                }
                if items.len() >= limit || read >= SEARCH_READ {
                    return Ok(Found { items, next: Some(at) });
                }
            }
        }
    }

    /// Users whose name or an address contains `q` (case-insensitive; empty:
    /// everyone), by id after `after`, at most `limit`: only those `agent`
    /// may see (everyone with the people permission, else the users of
    /// tickets in their departments). Nothing is logged: a list shows
    /// names and addresses, a profile is a view.
    ///
    /// ```
    /// use helpdesk_store::{Helpdesk, NewAgent};
    /// use helpdesk_core::*;
    ///
    /// let hd = Helpdesk::in_memory();
    /// let support = hd.create_department("Support", vec![]).unwrap();
    /// let sales = hd.create_department("Sales", vec![]).unwrap();
    /// let only_support = Permissions { departments: Some([support.id].into()), ..Permissions::default() };
    /// let bob = hd.create_agent(NewAgent::new("Bob", "bob@hd.example").permissions(only_support)).unwrap();
    /// let ann = hd.create_user(NewUser::new("Ann", "ann@acme.example")).unwrap();
    /// let cid = hd.create_user(NewUser::new("Cid", "cid@acme.example")).unwrap();
    /// hd.create_ticket(&Actor::User(ann.id), NewTicket::new("Hi", "?", support.id, ann.id, Channel::Portal)).unwrap();
    /// hd.create_ticket(&Actor::User(cid.id), NewTicket::new("Quote", "?", sales.id, cid.id, Channel::Portal)).unwrap();
    ///
    /// let found = hd.find_users_for_agent(bob.id, "acme", 0, 50).unwrap();
    /// assert_eq!(found.items.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), ["Ann"]);
    /// assert!(hd.find_users_for_agent(bob.id, "cid@acme.example", 0, 50).unwrap().items.is_empty());
    /// ```
    pub fn find_users_for_agent(
        &self,
        agent: AgentId,
        q: &str,
        after: u64,
        limit: usize,
    ) -> Result<Found<User>> {
        let a = self.active_agent(agent)?;
        let q = q.trim().to_lowercase();
        if q.contains('@') && after == 0 {
            if let Some(u) =
                Email::parse(&q).ok().map(|e| self.user_by_email(e.as_str())).transpose()?.flatten()
            {
                let items = if self.may_see_user(&a, &u)? { vec![u] } else { Vec::new() };
                return Ok(Found { items, next: None });
            }
        }
        self.scan_people(RecordKind::User, after, limit, |r| match r {
            Record::User(u) => {
                let emails: Vec<&str> = u.emails.iter().map(|e| e.as_str()).collect();
                let mut texts = vec![u.name.as_str()];
                texts.extend(emails);
                if matches(&q, &texts) && self.may_see_user(&a, &u)? {
                    Ok(Some(u))
                } else {
                    Ok(None)
                }
            }
            _ => Ok(None),
        })
    }

    /// Organisations whose name or an email domain contains `q`, by id
    /// after `after`, at most `limit`: only those `agent` may see.
    pub fn find_organisations_for_agent(
        &self,
        agent: AgentId,
        q: &str,
        after: u64,
        limit: usize,
    ) -> Result<Found<Organisation>> {
        let a = self.active_agent(agent)?;
        let q = q.trim().to_lowercase();
        self.scan_people(RecordKind::Organisation, after, limit, |r| match r {
            Record::Organisation(o) => {
                let mut texts = vec![o.name.as_str()];
                texts.extend(o.email_domains.iter().map(|d| d.as_str()));
                if matches(&q, &texts) && self.organisation_grant(&a, &o)?.is_some() {
                    Ok(Some(o))
                } else {
                    Ok(None)
                }
            }
            _ => Ok(None),
        })
    }

    /// The members of an organisation `agent` may see, by id, at most
    /// `limit` (reading at most [`SEARCH_READ`] users).
    pub fn organisation_members(
        &self,
        agent: AgentId,
        org: OrganisationId,
        limit: usize,
    ) -> Result<Vec<User>> {
        let a = self.active_agent(agent)?;
        Ok(self
            .scan_people(RecordKind::User, 0, limit, |r| match r {
                Record::User(u) if u.organisation == Some(org) && self.may_see_user(&a, &u)? => Ok(Some(u)),
                _ => Ok(None),
            })?
            .items)
    }
}
