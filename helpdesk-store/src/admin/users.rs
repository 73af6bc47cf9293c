//! Users in Admin: edit a profile, merge two users into one, block a user
//! (and mark their tickets as spam).
//!
//! A merge moves the tickets the merged user owns or is copied in on to the
//! user kept (each move a command in the ticket's log), gives the kept user
//! the addresses, the groups and (if they had none) the password of the
//! other, and removes the other with one audited store write. Their id then
//! stands for the kept user ([`Helpdesk::user`] follows it), so messages
//! they wrote show the kept user's name and a reply to an old notification
//! still finds its ticket. Deleted and spam tickets cannot change owner;
//! they keep the old id until restored and merged again.
//!
//! ```
//! use helpdesk_store::{Helpdesk, NewAgent};
//! use helpdesk_store::admin::UserChange;
//! use helpdesk_core::*;
//!
//! let hd = Helpdesk::in_memory();
//! let d = hd.create_department("Support", vec![]).unwrap();
//! let admin_id = hd.create_agent(NewAgent::new("Alice", "alice@acme.example").admin()).unwrap().id;
//! let admin = hd.admin(admin_id).unwrap();
//! let ann = hd.create_user(NewUser::new("Ann", "ann@acme.example")).unwrap();
//! let ann2 = hd.create_user(NewUser::new("Ann Home", "ann@home.example")).unwrap();
//! let t = hd.create_ticket(&Actor::User(ann2.id), NewTicket::new("Printer", "It jams", d.id, ann2.id, Channel::Portal)).unwrap();
//!
//! let merged = admin.merge_users(ann.id, ann2.id).unwrap();
//! assert_eq!(merged.tickets_moved, 1);
//! assert_eq!(hd.ticket(t.id).unwrap().user, ann.id);
//! assert_eq!(hd.user_by_email("ann@home.example").unwrap().unwrap().id, ann.id);
//! assert_eq!(hd.user(ann2.id).unwrap().id, ann.id); // the old id stands for Ann
//!
//! let blocked = admin.block_user(ann.id, true).unwrap();
//! assert_eq!((blocked.user.blocked, blocked.tickets_marked_spam), (true, 1));
//! assert_eq!(hd.ticket(t.id).unwrap().status, Status::Spam);
//! ```

use super::{count, target, Admin};
use crate::{Error, Helpdesk, Result};
use helpdesk_core::admin::AdminError;
use helpdesk_core::credential::{Credential, CredentialKind, Principal};
use helpdesk_core::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The configuration namespace mapping a merged user's id to the user kept.
const MERGED: &str = "merged-users";
/// Most redirects followed from a merged id (a merged user merged again).
const MAX_HOPS: usize = 8;
/// Most users a search reads before it stops (a name search scans users).
pub const USER_SCAN_LIMIT: usize = 50_000;

/// What an admin may change of a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserChange {
    /// Display name.
    pub name: String,
    /// Addresses, primary first (at least one).
    pub emails: Vec<String>,
    /// Phone (empty: none).
    pub phone: Option<String>,
    /// Organisation.
    pub organisation: Option<OrganisationId>,
    /// Usergroups.
    pub usergroups: BTreeSet<UsergroupId>,
    /// The language of their mail (`None`: the helpdesk's).
    pub language: Option<helpdesk_core::templates::Language>,
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Merged {
    /// The user kept, as they are now.
    pub user: User,
    /// Tickets whose owner became the kept user.
    pub tickets_moved: u64,
    /// Tickets on which the kept user took the merged user's CC place.
    pub ccs_moved: u64,
    /// Deleted or spam tickets, left as they are (the merged id shows the
    /// kept user); restore one, then merge again to move it.
    pub hidden_left: u64,
}

/// What blocking did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blocked {
    /// The user, blocked.
    pub user: User,
    /// Their tickets marked as spam.
    pub tickets_marked_spam: u64,
}

impl Helpdesk {
    /// The user a merged user's id now stands for, if it was merged.
    pub fn merged_into(&self, id: UserId) -> Result<Option<UserId>> {
        Ok(self.store.config(MERGED, &id.0.to_string())?.and_then(|v| v.as_u64()).map(UserId))
    }

    /// The ids of the users merged into `keep`, by id.
    pub fn merged_users_of(&self, keep: UserId) -> Result<Vec<UserId>> {
        let mut out: Vec<UserId> = self
            .store
            .configs(MERGED)?
            .into_iter()
            .filter(|(_, v)| v.as_u64() == Some(keep.0))
            .filter_map(|(k, _)| k.parse().ok().map(UserId))
            .collect();
        out.sort();
        Ok(out)
    }

    /// A user, following merges: the id of a user merged into another gives
    /// the one kept.
    pub(crate) fn user_following_merges(&self, id: UserId, missing: Error) -> Result<User> {
        let mut at = id;
        for _ in 0..MAX_HOPS {
            match self.merged_into(at)? {
                Some(next) if next != at => match self.store.record(RecordKind::User, next.0)? {
                    Some(Record::User(u)) => return Ok(u),
                    _ => at = next,
                },
                _ => break,
            }
        }
        Err(missing)
    }

    /// Users whose name or address contains `text` (case-insensitive), by
    /// id, at most `limit`; an exact address is found at once. A name
    /// search reads at most [`USER_SCAN_LIMIT`] users.
    pub fn find_users(&self, text: &str, limit: usize) -> Result<Vec<User>> {
        let t = text.trim().to_lowercase();
        if t.contains('@') {
            if let Some(u) =
                Email::parse(&t).ok().map(|e| self.user_by_email(e.as_str())).transpose()?.flatten()
            {
                return Ok(vec![u]);
            }
        }
        let mut out = Vec::new();
        let (mut after, mut read) = (0, 0);
        while out.len() < limit && read < USER_SCAN_LIMIT {
            let page = self.store.records(RecordKind::User, after, 512)?;
            let Some(last) = page.last() else { break };
            after = last.key().1;
            read += page.len();
            out.extend(page.into_iter().filter_map(|r| match r {
                Record::User(u)
                    if t.is_empty()
                        || u.name.to_lowercase().contains(&t)
                        || u.emails.iter().any(|e| e.as_str().contains(&t)) =>
                {
                    Some(u)
                }
                _ => None,
            }));
        }
        out.truncate(limit);
        Ok(out)
    }
}

impl Admin<'_> {
    /// The actor of the ticket commands an admin change makes: the admin
    /// when they may make it in the ticket's department, else the system.
    pub(super) fn ticket_actor(&self, department: DepartmentId, deletes: bool) -> Result<Actor> {
        if let Some(a) = self.acting_agent() {
            let agent = self.hd.agent(a)?;
            if agent.permissions.can_see(department) && (!deletes || agent.permissions.may_delete) {
                return Ok(Actor::Agent(a));
            }
        }
        Ok(Actor::system())
    }

    /// Every ticket the user owns or is copied in on.
    fn tickets_of(&self, user: UserId) -> Result<Vec<Ticket>> {
        let mut out: Vec<Ticket> = Vec::new();
        loop {
            let page = self.hd.tickets_of_user(user, out.last().map(|t| t.id), 256)?;
            if page.is_empty() {
                return Ok(out);
            }
            out.extend(page);
        }
    }

    /// Checks addresses for a user: valid, distinct, no agent's or email
    /// account's, and no other user's.
    fn user_emails(&self, id: UserId, emails: &[String]) -> Result<Vec<Email>> {
        let mut out: Vec<Email> = Vec::new();
        for e in emails.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let e = Email::parse(e)?;
            if out.contains(&e) {
                return Err(DirectoryError::DuplicateEmail(e.to_string()).into());
            }
            let taken = |owner: String| DirectoryError::EmailTaken { email: e.to_string(), owner };
            if let Some(a) = self.hd.agent_by_email(e.as_str())? {
                return Err(taken(format!("agent {}", a.name)).into());
            }
            if self.hd.email_account_by_address(e.as_str())?.is_some() {
                return Err(taken("an email account".into()).into());
            }
            match self.hd.user_by_email(e.as_str())? {
                Some(u) if u.id != id => return Err(taken(format!("user {} ({})", u.name, u.id)).into()),
                _ => {}
            }
            out.push(e);
        }
        if out.is_empty() {
            return Err(DirectoryError::NoEmail.into());
        }
        Ok(out)
    }

    /// Changes a user's name, addresses, phone, organisation and groups.
    pub fn update_user(&self, id: UserId, change: UserChange) -> Result<User> {
        let before = self.stored_user(id)?;
        let name = crate::helpdesk::people_name("user", &change.name)?;
        let emails = self.user_emails(id, &change.emails)?;
        if let Some(o) = change.organisation {
            self.hd.organisation(o)?;
        }
        for g in &change.usergroups {
            self.hd.usergroup(*g)?;
        }
        let phone = change.phone.map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
        if phone.as_ref().is_some_and(|p| p.chars().count() > 50) {
            return Err(AdminError::Refused("a phone number has at most 50 characters".into()).into());
        }
        let after = User {
            name,
            emails,
            phone,
            organisation: change.organisation,
            usergroups: change.usergroups,
            language: change.language,
            ..before.clone()
        };
        let summary = format!("Changed user {} <{}>", after.name, after.primary_email());
        self.update("user.update", target("user", id.0), summary, &before, after, Record::User)
    }

    /// The user record itself (not following a merge).
    fn stored_user(&self, id: UserId) -> Result<User> {
        match self.hd.own_user(id) {
            Err(Error::Directory(DirectoryError::NotFound(missing))) => match self.hd.merged_into(id)? {
                Some(k) => {
                    let kept =
                        self.hd.user(k).map(|u| format!("{} ({})", u.name, u.id)).unwrap_or(k.to_string());
                    Err(AdminError::Refused(format!("{id} was merged into {kept} already")).into())
                }
                None => Err(DirectoryError::NotFound(missing).into()),
            },
            r => r,
        }
    }

    /// Moves the visible tickets `gone` owns or is copied in on to `keep`
    /// (each a command in the ticket's log): (owned moved, CCs moved, hidden
    /// left).
    fn move_tickets(&self, keep: UserId, gone: UserId) -> Result<(u64, u64, u64)> {
        let (mut owned, mut ccs, mut hidden) = (0, 0, 0);
        for t in self.tickets_of(gone)? {
            // Deleted and spam tickets take no changes (tickets awaiting
            // validation do, and are released below when the kept user is
            // validated).
            if matches!(t.status, Status::Deleted | Status::Spam) {
                hidden += 1;
                continue;
            }
            let actor = self.ticket_actor(t.department, false)?;
            if t.user == gone {
                self.hd.execute(t.id, &actor, Command::SetOwner { user: keep })?;
                owned += 1;
            } else if t.ccs.contains(&gone) {
                // Copy the kept user in first: an interruption never loses the CC.
                if t.user != keep {
                    self.hd.execute(t.id, &actor, Command::AddCc { user: keep })?;
                }
                self.hd.execute(t.id, &actor, Command::RemoveCc { user: gone })?;
                ccs += 1;
            }
        }
        Ok((owned, ccs, hidden))
    }

    /// Merges user `gone` into user `keep`: `gone`'s visible tickets (owned
    /// and CC'd) move to `keep`, `keep` gets `gone`'s addresses (after its
    /// own), groups, organisation, phone and password (each if it had none)
    /// and block; `gone` is removed and its id stands for `keep` from then
    /// on. Moving the tickets may be interrupted: merging again finishes it.
    /// Deleted and spam tickets keep `gone`'s id (it shows as `keep`);
    /// merging `gone` into `keep` again after restoring one moves it.
    pub fn merge_users(&self, keep: UserId, gone: UserId) -> Result<Merged> {
        if keep == gone {
            return Err(AdminError::Refused("a user cannot be merged into themselves".into()).into());
        }
        self.stored_user(keep)?;
        if self.hd.store.record(RecordKind::User, gone.0)?.is_none()
            && self.hd.merged_into(gone)? == Some(keep)
        {
            // Merged already: move what came back (restored tickets).
            let (tickets_moved, ccs_moved, hidden_left) = self.move_tickets(keep, gone)?;
            let user = self.stored_user(keep)?;
            if tickets_moved + ccs_moved > 0 {
                let summary = format!(
                    "Moved the tickets of merged user {} to {} <{}> ({} moved, {} copied in)",
                    gone.0,
                    user.name,
                    user.primary_email(),
                    count(tickets_moved, "ticket", "tickets"),
                    count(ccs_moved, "ticket", "tickets"),
                );
                self.write(vec![], vec![], self.entry("user.merge", target("user", keep.0), summary))?;
            }
            if user.validated {
                self.hd.validate_user(keep)?;
            }
            return Ok(Merged { user, tickets_moved, ccs_moved, hidden_left });
        }
        self.stored_user(gone)?;
        let (mut tickets_moved, mut ccs_moved, _) = self.move_tickets(keep, gone)?;
        // Again: mail may have opened a ticket for `gone` meanwhile.
        let (more, more_ccs, hidden_left) = self.move_tickets(keep, gone)?;
        tickets_moved += more;
        ccs_moved += more_ccs;
        // Read both now, so that edits made while the tickets moved stay.
        let k = self.stored_user(keep)?;
        let g = self.stored_user(gone)?;
        let mut after = k.clone();
        for e in &g.emails {
            if !after.emails.contains(e) {
                after.emails.push(e.clone());
            }
        }
        after.usergroups.extend(g.usergroups.iter().copied());
        after.organisation = after.organisation.or(g.organisation);
        after.phone = after.phone.clone().or(g.phone.clone());
        after.language = after.language.clone().or(g.language.clone());
        after.validated |= g.validated;
        // A block on either address holds for the person.
        after.blocked |= g.blocked;
        for (key, v) in &g.fields {
            after.fields.entry(key.clone()).or_insert_with(|| v.clone());
        }
        // Credentials: the password moves when the kept user has no working
        // one (a revoked one of theirs goes, freeing the key); the rest
        // (confirmation links) go.
        let mut put = vec![Record::User(after.clone())];
        let mut delete = vec![(RecordKind::User, gone.0)];
        let kept_passwords = self.hd.credentials_of(Principal::User(keep), CredentialKind::Password)?;
        let mut keeps_password = kept_passwords.iter().any(|c| !c.revoked);
        for kind in [CredentialKind::Password, CredentialKind::EmailValidation] {
            for c in self.hd.credentials_of(Principal::User(gone), kind)? {
                delete.push((RecordKind::Credential, c.id.0));
                if kind == CredentialKind::Password && !keeps_password && !c.revoked {
                    keeps_password = true;
                    delete.extend(kept_passwords.iter().map(|k| (RecordKind::Credential, k.id.0)));
                    let id = CredentialId(self.hd.next_id(IdKind::Credential)?);
                    put.push(Record::Credential(Credential { id, owner: Principal::User(keep), ..c }));
                }
            }
        }
        let summary = format!(
            "Merged user {} <{}> into {} <{}> ({} moved, {} copied in)",
            g.name,
            g.primary_email(),
            after.name,
            after.primary_email(),
            count(tickets_moved, "ticket", "tickets"),
            count(ccs_moved, "ticket", "tickets"),
        );
        #[derive(Serialize)]
        struct Both<'u> {
            kept: &'u User,
            merged: &'u User,
        }
        let mut e = self.entry("user.merge", target("user", keep.0), summary);
        e.before = serde_json::to_value(Both { kept: &k, merged: &g }).ok();
        e.after = serde_json::to_value(&after).ok();
        let config = vec![(MERGED.to_string(), gone.0.to_string(), Some(serde_json::json!(keep.0)))];
        self.write_with_config(put, delete, config, e)?;
        // Tickets moved while awaiting validation go in if the kept user is validated.
        if after.validated {
            self.hd.validate_user(keep)?;
        }
        Ok(Merged { user: after, tickets_moved, ccs_moved, hidden_left })
    }

    /// Blocks a user: their mail is ignored, they cannot log in to the
    /// portal or open tickets there or in the embed. With `spam`, their
    /// visible tickets are marked as spam too.
    pub fn block_user(&self, id: UserId, spam: bool) -> Result<Blocked> {
        let before = self.stored_user(id)?;
        let mut tickets_marked_spam = 0;
        if spam {
            for t in self.tickets_of(id)? {
                if t.user == id && !t.status.is_hidden() {
                    let actor = self.ticket_actor(t.department, true)?;
                    self.hd.execute(t.id, &actor, Command::MarkSpam)?;
                    tickets_marked_spam += 1;
                }
            }
        }
        let after = User { blocked: true, ..before.clone() };
        let summary = format!(
            "Blocked user {} <{}>{}",
            after.name,
            after.primary_email(),
            if spam {
                format!(" ({} marked as spam)", count(tickets_marked_spam, "ticket", "tickets"))
            } else {
                String::new()
            }
        );
        if before.blocked && !spam {
            return Ok(Blocked { user: before, tickets_marked_spam });
        }
        let e = self.entry("user.block", target("user", id.0), summary).change(Some(&before), Some(&after));
        self.write(vec![Record::User(after.clone())], vec![], e)?;
        Ok(Blocked { user: after, tickets_marked_spam })
    }

    /// Lifts a block (tickets marked as spam stay so; agents restore them).
    pub fn unblock_user(&self, id: UserId) -> Result<User> {
        let before = self.stored_user(id)?;
        let after = User { blocked: false, ..before.clone() };
        let summary = format!("Unblocked user {} <{}>", after.name, after.primary_email());
        self.update("user.unblock", target("user", id.0), summary, &before, after, Record::User)
    }
}
