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
        let grant = if a.permissions.sees_all_people() {
            Grant::Permission
        } else {
            let mut criteria = Criteria { organisation: vec![o.id], ..Criteria::default() };
            criteria.status = Vec::new();
            let filter = CustomFilter::new("organisation", criteria);
            match self.filter_page(a.id, &filter, None, 1)?.tickets.first() {
                Some(t) => Grant::Ticket(t.id),
                None => return Err(DirectoryError::NotPermitted(format!("organisation {}", org.0)).into()),
            }
        };
        self.log_view(
            &a,
            o.id.to_string(),
            format!("Viewed organisation {} ({})", o.name, o.id),
            grant,
            source,
        )?;
        Ok(o)
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
