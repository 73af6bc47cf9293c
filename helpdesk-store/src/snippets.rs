//! Snippets as agents work with them ([`helpdesk_core::snippets`] has the
//! rules): listed for the agent who may use them, made and changed by their
//! maker (or an admin), and filled in for a ticket the agent may see.
//!
//! ```
//! use helpdesk_core::snippets::{NewSnippet, SnippetScope};
//! use helpdesk_core::*;
//! use helpdesk_store::{Helpdesk, NewAgent};
//!
//! let hd = Helpdesk::in_memory();
//! let support = hd.create_department("Support", vec![]).unwrap();
//! let ann = hd.create_user(NewUser::new("Ann Example", "ann@example.com")).unwrap();
//! let sam = hd.create_agent(NewAgent::new("Sam Agent", "sam@example.com")).unwrap();
//! let s = hd.snippets(sam.id).create(NewSnippet {
//!     name: "hello".into(),
//!     title: "Greeting".into(),
//!     category: String::new(),
//!     body: "Hello {{user.first_name}}, this is {{agent.name}} about #{{ticket.id}}.".into(),
//!     scope: SnippetScope::Personal,
//! }).unwrap();
//! let t = hd.create_ticket(&Actor::User(ann.id), NewTicket::new("Hi", "Help", support.id, ann.id, Channel::Portal)).unwrap();
//! assert_eq!(hd.snippets(sam.id).fill(s.id, t.id).unwrap(), format!("Hello Ann, this is Sam Agent about #{}.", t.id.0));
//! assert_eq!(hd.snippets(sam.id).list("hel").unwrap().len(), 1);
//! ```

use crate::helpdesk::{Helpdesk, Result};
use helpdesk_core::snippets::{self, NewSnippet, Snippet, SnippetError, SnippetScope, SnippetValues};
use helpdesk_core::templates::first_name;
use helpdesk_core::*;
use std::collections::BTreeSet;

/// The snippets of a [`Helpdesk`], as one agent works with them.
pub struct Snippets<'a> {
    hd: &'a Helpdesk,
    agent: AgentId,
}

impl Helpdesk {
    /// The snippets, as `agent` works with them.
    pub fn snippets(&self, agent: AgentId) -> Snippets<'_> {
        Snippets { hd: self, agent }
    }
}

impl Snippets<'_> {
    fn me(&self) -> Result<Agent> {
        self.hd.active_agent(self.agent)
    }

    fn all(&self) -> Result<Vec<Snippet>> {
        self.hd.all(RecordKind::Snippet, |r| if let Record::Snippet(s) = r { Some(*s) } else { None })
    }

    /// The snippets the agent may use whose name, title or category
    /// contains `query` (case-insensitive; empty: all), names starting with
    /// it first, then by category and title.
    pub fn list(&self, query: &str) -> Result<Vec<Snippet>> {
        let me = self.me()?;
        let q = query.trim().trim_start_matches(';').to_lowercase();
        let mut out: Vec<Snippet> = self
            .all()?
            .into_iter()
            .filter(|s| s.usable_by(&me))
            .filter(|s| {
                q.is_empty()
                    || s.snippet.name.contains(&q)
                    || s.snippet.title.to_lowercase().contains(&q)
                    || s.snippet.category.to_lowercase().contains(&q)
            })
            .collect();
        out.sort_by_cached_key(|s| {
            (
                !s.snippet.name.starts_with(&q),
                s.snippet.category.to_lowercase(),
                s.snippet.title.to_lowercase(),
                s.id,
            )
        });
        Ok(out)
    }

    /// One snippet the agent may use.
    pub fn get(&self, id: SnippetId) -> Result<Snippet> {
        let me = self.me()?;
        match self.hd.store().record(RecordKind::Snippet, id.0)? {
            Some(Record::Snippet(s)) if s.usable_by(&me) => Ok(*s),
            _ => Err(SnippetError::NotFound(id).into()),
        }
    }

    fn field_keys(&self) -> Result<BTreeSet<String>> {
        Ok(self.hd.departments()?.into_iter().flat_map(|d| d.fields.into_iter().map(|f| f.key)).collect())
    }

    fn checked(&self, me: &Agent, new: &NewSnippet) -> Result<NewSnippet> {
        let new = new.check(&self.field_keys()?)?;
        if let SnippetScope::Department(d) = new.scope {
            self.hd.department(d)?;
            if !me.permissions.can_see(d) {
                return Err(SnippetError::DepartmentNotAllowed(d).into());
            }
        }
        Ok(new)
    }

    fn write(&self, s: Snippet) -> Result<Snippet> {
        match self.hd.store().put_record(&Record::Snippet(Box::new(s.clone()))) {
            Ok(()) => Ok(s),
            Err(StoreError::Unique { .. }) => Err(SnippetError::NameTaken(s.snippet.name).into()),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes a snippet (its maker: the agent).
    pub fn create(&self, new: NewSnippet) -> Result<Snippet> {
        let me = self.me()?;
        let snippet = self.checked(&me, &new)?;
        let id = SnippetId(self.hd.store().next_id(IdKind::Snippet)?);
        self.write(Snippet { id, owner: me.id, snippet, updated_at: self.hd.clock().now() })
    }

    fn editable(&self, id: SnippetId) -> Result<(Agent, Snippet)> {
        let me = self.me()?;
        let s = match self.hd.store().record(RecordKind::Snippet, id.0)? {
            Some(Record::Snippet(s)) if s.usable_by(&me) || me.permissions.admin => *s,
            _ => return Err(SnippetError::NotFound(id).into()),
        };
        if !s.editable_by(&me) {
            return Err(SnippetError::NotYours(id).into());
        }
        Ok((me, s))
    }

    /// Replaces a snippet's name, title, category, text and scope.
    pub fn update(&self, id: SnippetId, new: NewSnippet) -> Result<Snippet> {
        let (me, old) = self.editable(id)?;
        let snippet = self.checked(&me, &new)?;
        self.write(Snippet { snippet, updated_at: self.hd.clock().now(), ..old })
    }

    /// Deletes a snippet.
    pub fn delete(&self, id: SnippetId) -> Result<()> {
        self.editable(id)?;
        self.hd.store().delete_record(RecordKind::Snippet, id.0)?;
        Ok(())
    }

    /// The snippet's text for ticket `ticket`, its placeholders filled from
    /// the ticket, its owner and the agent. The agent must see the ticket.
    pub fn fill(&self, id: SnippetId, ticket: TicketId) -> Result<String> {
        let me = self.me()?;
        let s = self.get(id)?;
        let t = self.hd.ticket(ticket)?;
        if !me.permissions.can_see(t.department) {
            return Err(TicketError::NotFound(ticket).into());
        }
        Ok(snippets::render(&s.snippet.body, &self.hd.placeholder_values(&me, &t)?))
    }
}

impl Helpdesk {
    /// What snippet placeholders stand for on ticket `t` when `me` writes.
    pub(crate) fn placeholder_values(&self, me: &Agent, t: &Ticket) -> Result<SnippetValues> {
        let user = self.user(t.user)?;
        let dept = self.department(t.department)?;
        let mut v = SnippetValues::default();
        v.set("user.name", user.name.clone());
        v.set("user.first_name", first_name(&user.name));
        v.set("user.email", user.primary_email().to_string());
        v.set("ticket.id", t.id.0.to_string());
        v.set("ticket.subject", t.subject.clone());
        v.set("ticket.department", dept.name.clone());
        v.set("agent.name", me.name.clone());
        v.set("agent.first_name", first_name(&me.name));
        v.set("agent.email", me.email.to_string());
        for (k, value) in &t.fields {
            v.set(&format!("ticket.field.{k}"), value.to_string());
        }
        Ok(v)
    }
}
