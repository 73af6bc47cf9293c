//! What users may do in the portal and the website embed, as their
//! usergroups allow it ([`PortalPermissions`], edited in Admin >
//! Usergroups): the departments they may submit in, whether they may copy
//! others in, and whether they see their organisation's tickets. Checked
//! here, for every portal and embed ticket, whatever screen or API made it.
//!
//! ```
//! use helpdesk_store::{Helpdesk, NewAgent};
//! use helpdesk_core::people::PortalPermissions;
//! use helpdesk_core::*;
//!
//! let hd = Helpdesk::in_memory();
//! let support = hd.create_department("Support", vec![]).unwrap();
//! let sales = hd.create_department("Sales", vec![]).unwrap();
//! let ann = hd.create_user(NewUser::new("Ann", "ann@example.com")).unwrap();
//! let alice = hd.create_agent(NewAgent::new("Alice", "alice@example.com").admin()).unwrap();
//! let trial = hd.admin(alice.id).unwrap().create_usergroup("Trial", PortalPermissions {
//!     submit_departments: Some([sales.id].into()), organisation_tickets: false, cc_others: false,
//! }).unwrap();
//! let mut ann = ann;
//! ann.usergroups.insert(trial.id);
//! hd.update_user(ann.clone()).unwrap();
//!
//! let names: Vec<String> = hd.submit_departments(ann.id).unwrap().into_iter().map(|d| d.name).collect();
//! assert_eq!(names, ["Sales"]);
//! let new = NewTicket::new("Hi", "Question", support.id, ann.id, Channel::Portal);
//! let err = hd.create_ticket(&Actor::User(ann.id), new).unwrap_err();
//! assert_eq!(err.to_string(), format!("user:{} may not submit a ticket: not in Support; their usergroups allow Sales", ann.id.0));
//! ```

use crate::{Helpdesk, Result};
use helpdesk_core::people::PortalPermissions;
use helpdesk_core::*;

impl Helpdesk {
    /// What a user may do in the portal and embed: what any of their
    /// usergroups allows (the defaults for a user in none).
    pub fn portal_permissions(&self, user: UserId) -> Result<PortalPermissions> {
        let u = self.user(user)?;
        self.permissions_of(&u)
    }

    fn permissions_of(&self, u: &User) -> Result<PortalPermissions> {
        let mut groups = Vec::new();
        for g in &u.usergroups {
            match self.usergroup(*g) {
                Ok(g) => groups.push(g.portal),
                // A group removed since: it allows nothing.
                Err(crate::Error::Directory(DirectoryError::NotFound(_))) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(PortalPermissions::combined(groups.iter()))
    }

    /// The departments a user may submit tickets in, by id.
    pub fn submit_departments(&self, user: UserId) -> Result<Vec<Department>> {
        let p = self.portal_permissions(user)?;
        Ok(self.departments()?.into_iter().filter(|d| p.may_submit(d.id)).collect())
    }

    /// Refuses a ticket a user opens in the portal or the embed in a
    /// department their usergroups do not allow, or copying others in when
    /// they may not. Mail and agents are not limited by it.
    pub(crate) fn check_portal_create(&self, actor: &Actor, new: &NewTicket) -> Result<()> {
        let Actor::User(u) = actor else { return Ok(()) };
        if !matches!(new.channel, Channel::Portal | Channel::Embed) {
            return Ok(());
        }
        let p = match self.portal_permissions(*u) {
            Ok(p) => p,
            // An unknown user: creating the ticket says so.
            Err(crate::Error::Directory(DirectoryError::NotFound(_))) => return Ok(()),
            Err(e) => return Err(e),
        };
        let refuse = |reason: String| {
            Err(TicketError::NotPermitted { actor: actor.to_string(), action: "submit a ticket", reason }
                .into())
        };
        if self.user(*u)?.blocked {
            return refuse("the user is blocked".into());
        }
        if !p.may_submit(new.department) {
            let departments = self.departments()?;
            let names = |pick: &dyn Fn(&Department) -> bool| {
                departments.iter().filter(|d| pick(d)).map(|d| d.name.clone()).collect::<Vec<_>>().join(", ")
            };
            let here = names(&|d| d.id == new.department);
            let allowed = names(&|d| p.may_submit(d.id));
            return refuse(format!(
                "not in {}; their usergroups allow {}",
                if here.is_empty() { new.department.to_string() } else { here },
                if allowed.is_empty() { "no department".to_string() } else { allowed }
            ));
        }
        if !p.cc_others && new.ccs.iter().any(|c| c != u) {
            return refuse("their usergroups do not allow copying others in".into());
        }
        Ok(())
    }

    /// Whether a user may see a ticket in the portal: one they own or are
    /// CC'd on, or, when their usergroups allow it, one owned by someone of
    /// their organisation. Deleted and spam tickets never (tickets awaiting the
    /// owner's email confirmation are shown, as before).
    pub fn user_may_see(&self, user: UserId, t: &Ticket) -> Result<bool> {
        if matches!(t.status, Status::Deleted | Status::Spam) {
            return Ok(false);
        }
        if t.is_participant(user) {
            return Ok(true);
        }
        let u = self.user(user)?;
        let Some(org) = u.organisation else { return Ok(false) };
        if !self.permissions_of(&u)?.organisation_tickets {
            return Ok(false);
        }
        Ok(self.user(t.user).map(|owner| owner.organisation == Some(org)).unwrap_or(false))
    }

    /// The tickets of a user's organisation they may see beyond their own
    /// (owned by the other members; none unless their usergroups allow it),
    /// by id. Reads every member's tickets: for organisations of hundreds of
    /// users, not tens of thousands.
    pub fn organisation_tickets_of(&self, user: UserId) -> Result<Vec<Ticket>> {
        let u = self.user(user)?;
        let Some(org) = u.organisation else { return Ok(vec![]) };
        if !self.permissions_of(&u)?.organisation_tickets {
            return Ok(vec![]);
        }
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self.store.records(RecordKind::User, after, 512)?;
            let Some(last) = page.last() else { break };
            after = last.key().1;
            for r in page {
                let Record::User(m) = r else { continue };
                if m.organisation != Some(org) || m.id == user {
                    continue;
                }
                let mut from = None;
                loop {
                    let ts = self.tickets_of_user(m.id, from, 200)?;
                    let Some(l) = ts.last().map(|t| t.id) else { break };
                    out.extend(
                        ts.into_iter().filter(|t| {
                            t.user == m.id && !matches!(t.status, Status::Deleted | Status::Spam)
                        }),
                    );
                    from = Some(l);
                }
            }
        }
        out.sort_by_key(|t| t.id);
        out.dedup_by_key(|t| t.id);
        Ok(out)
    }
}
