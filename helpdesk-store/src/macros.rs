//! Macros as agents work with them ([`helpdesk_core::macros`] has the
//! rules): listed for the agent who may use them, made and changed by their
//! maker (or an admin), previewed on a ticket and applied in one commit.
//!
//! ```
//! use helpdesk_core::macros::{AgentRef, MacroAction, NewMacro};
//! use helpdesk_core::snippets::SnippetScope;
//! use helpdesk_core::*;
//! use helpdesk_store::{Helpdesk, NewAgent};
//!
//! let hd = Helpdesk::in_memory();
//! let support = hd.create_department("Support", vec![]).unwrap();
//! let ann = hd.create_user(NewUser::new("Ann Example", "ann@example.com")).unwrap();
//! let sam = hd.create_agent(NewAgent::new("Sam Agent", "sam@example.com")).unwrap();
//! let m = hd.macros(sam.id).create(NewMacro {
//!     name: "Take and answer".into(),
//!     description: String::new(),
//!     scope: SnippetScope::Everyone,
//!     actions: vec![
//!         MacroAction::SetAgent { agent: Some(AgentRef::Me) },
//!         MacroAction::Reply { snippet: None, body: Some("Hello {{user.first_name}}, on it.".into()) },
//!         MacroAction::SetStatus { status: "pending".into() },
//!     ],
//! }).unwrap();
//! let t = hd.create_ticket(&Actor::User(ann.id), NewTicket::new("Hi", "Help", support.id, ann.id, Channel::Portal)).unwrap();
//!
//! // The preview changes nothing.
//! let preview = hd.macros(sam.id).preview(m.id, t.id).unwrap();
//! assert_eq!(preview.steps.len(), 3);
//! assert_eq!(hd.ticket(t.id).unwrap().version, t.version);
//!
//! let done = hd.macros(sam.id).apply(m.id, t.id, Some(t.version)).unwrap();
//! assert_eq!(done.ticket.agent, Some(sam.id));
//! assert_eq!(done.ticket.status, Status::Pending);
//! assert_eq!(done.ticket.messages.last().unwrap().body, "Hello Ann, on it.");
//! let log = hd.log(t.id).unwrap();
//! assert!(log.iter().any(|e| matches!(&e.change, Change::Macro { name, .. } if name == "Take and answer")));
//! ```

use crate::helpdesk::{Error, Helpdesk, Result};
use helpdesk_core::macros::{self, Macro, MacroAction, MacroError, NewMacro, StepOutcome};
use helpdesk_core::snippets::{self, SnippetScope};
use helpdesk_core::*;
use std::collections::BTreeSet;

/// The macros of a [`Helpdesk`], as one agent works with them.
pub struct Macros<'a> {
    hd: &'a Helpdesk,
    agent: AgentId,
}

/// What a macro would do, or did, to a ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The ticket after it (for a preview: unchanged).
    pub ticket: Ticket,
    /// The ticket as the macro leaves it (for a preview: as it would be).
    pub after: Ticket,
    /// Each action and what it changes, in order.
    pub steps: Vec<StepOutcome>,
    /// Messages and notes by others since the version the agent saw.
    pub missed: Vec<concurrency::MissedPost>,
}

impl Helpdesk {
    /// The macros, as `agent` works with them.
    pub fn macros(&self, agent: AgentId) -> Macros<'_> {
        Macros { hd: self, agent }
    }
}

impl Macros<'_> {
    /// The macros the agent may use whose name or description contains
    /// `query` (case-insensitive; empty: all), by name.
    pub fn list(&self, query: &str) -> Result<Vec<Macro>> {
        let me = self.hd.active_agent(self.agent)?;
        let q = query.trim().to_lowercase();
        let mut out: Vec<Macro> = self
            .hd
            .all(RecordKind::Macro, |r| if let Record::Macro(m) = r { Some(*m) } else { None })?
            .into_iter()
            .filter(|m| m.usable_by(&me))
            .filter(|m| {
                q.is_empty()
                    || m.r#macro.name.to_lowercase().contains(&q)
                    || m.r#macro.description.to_lowercase().contains(&q)
            })
            .collect();
        out.sort_by_cached_key(|m| (m.r#macro.name.to_lowercase(), m.id));
        Ok(out)
    }

    /// One macro the agent may use.
    pub fn get(&self, id: MacroId) -> Result<Macro> {
        let me = self.hd.active_agent(self.agent)?;
        match self.hd.store().record(RecordKind::Macro, id.0)? {
            Some(Record::Macro(m)) if m.usable_by(&me) => Ok(*m),
            _ => Err(MacroError::NotFound(id).into()),
        }
    }

    /// Checks what a macro names: its scope's department (one the agent
    /// sees), the departments, agents and teams of its actions, and the
    /// snippets of its replies (ones the agent may use).
    fn checked(&self, me: &Agent, new: &NewMacro) -> Result<NewMacro> {
        let fields: BTreeSet<String> =
            self.hd.departments()?.into_iter().flat_map(|d| d.fields.into_iter().map(|f| f.key)).collect();
        let new = new.check(&fields)?;
        if let SnippetScope::Department(d) = new.scope {
            self.hd.department(d)?;
            if !me.permissions.can_see(d) {
                return Err(MacroError::DepartmentNotAllowed(d).into());
            }
        }
        let bad = |n: usize, a: &MacroAction, problem: String| -> Error {
            MacroError::BadAction { n: n + 1, action: a.name(), problem }.into()
        };
        for (n, a) in new.actions.iter().enumerate() {
            let found = match a {
                MacroAction::Reply { snippet: Some(s), .. } => self
                    .hd
                    .snippets(me.id)
                    .get(*s)
                    .map(|_| ())
                    .map_err(|_| format!("no snippet {s} you may use")),
                MacroAction::SetDepartment { department } => self
                    .hd
                    .department(DepartmentId(*department))
                    .map(|_| ())
                    .map_err(|_| format!("no department {department}")),
                MacroAction::SetAgent { agent: Some(macros::AgentRef::Agent(x)) }
                | MacroAction::AddFollower { agent: macros::AgentRef::Agent(x) } => {
                    self.hd.agent(*x).map(|_| ()).map_err(|_| format!("no agent {}", x.0))
                }
                MacroAction::SetTeam { team: Some(t) } => {
                    self.hd.team(TeamId(*t)).map(|_| ()).map_err(|_| format!("no team {t}"))
                }
                _ => Ok(()),
            };
            found.map_err(|p| bad(n, a, p))?;
        }
        Ok(new)
    }

    fn write(&self, m: Macro) -> Result<Macro> {
        match self.hd.store().put_record(&Record::Macro(Box::new(m.clone()))) {
            Ok(()) => Ok(m),
            Err(StoreError::Unique { .. }) => Err(MacroError::NameTaken(m.r#macro.name).into()),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes a macro (its maker: the agent).
    pub fn create(&self, new: NewMacro) -> Result<Macro> {
        let me = self.hd.active_agent(self.agent)?;
        let r#macro = self.checked(&me, &new)?;
        let id = MacroId(self.hd.store().next_id(IdKind::Macro)?);
        self.write(Macro { id, owner: me.id, r#macro, updated_at: self.hd.clock().now() })
    }

    fn editable(&self, id: MacroId) -> Result<(Agent, Macro)> {
        let me = self.hd.active_agent(self.agent)?;
        let m = match self.hd.store().record(RecordKind::Macro, id.0)? {
            Some(Record::Macro(m)) if m.usable_by(&me) || me.permissions.admin => *m,
            _ => return Err(MacroError::NotFound(id).into()),
        };
        if !m.editable_by(&me) {
            return Err(MacroError::NotYours(id).into());
        }
        Ok((me, m))
    }

    /// Replaces a macro's name, description, scope and actions.
    pub fn update(&self, id: MacroId, new: NewMacro) -> Result<Macro> {
        let (me, old) = self.editable(id)?;
        let r#macro = self.checked(&me, &new)?;
        self.write(Macro { r#macro, updated_at: self.hd.clock().now(), ..old })
    }

    /// Deletes a macro.
    pub fn delete(&self, id: MacroId) -> Result<()> {
        self.editable(id)?;
        self.hd.store().delete_record(RecordKind::Macro, id.0)?;
        Ok(())
    }

    /// What applying the macro to the ticket now would change, action by
    /// action; nothing is written.
    pub fn preview(&self, id: MacroId, ticket: TicketId) -> Result<Applied> {
        let (me, m, t) = self.target(id, ticket)?;
        let dir = self.hd.directory_with(&t, &Actor::Agent(me.id), command::References::default())?;
        let steps = self.steps(&me, &m, &t, &dir)?;
        let mut refs = command::References::default();
        for c in steps.iter().filter_map(|s| s.command.as_ref()) {
            refs.extend(c.references(&t, &Actor::Agent(me.id)));
        }
        let dir = self.hd.directory_with(&t, &Actor::Agent(me.id), refs)?;
        let now = self.hd.clock().now();
        let (events, outcomes) =
            macros::decide_steps(&m, &t, &steps, &Actor::Agent(me.id), now, &dir, self.hd.policy())?;
        let mut after = t.clone();
        for e in &events {
            after.apply(e)?;
        }
        Ok(Applied { ticket: t, after, steps: outcomes, missed: vec![] })
    }

    /// Applies the macro to the ticket as one group in its log. `seen`: the
    /// version the agent saw (each action is checked against what others
    /// changed since, as [`Helpdesk::execute_at`] does); `None`: as it is.
    /// One refused action refuses the macro and changes nothing.
    pub fn apply(&self, id: MacroId, ticket: TicketId, seen: Option<u64>) -> Result<Applied> {
        let (me, m, _) = self.target(id, ticket)?;
        let actor = Actor::Agent(me.id);
        let (done, steps) = self.hd.execute_group(
            ticket,
            seen,
            &actor,
            |t, dir| {
                let steps = self.steps(&me, &m, t, dir)?;
                let commands = steps.iter().filter_map(|s| s.command.clone()).collect();
                Ok((steps, commands))
            },
            |t, steps, dir, now| {
                let (events, outcomes) =
                    macros::decide_steps(&m, t, &steps, &actor, now, dir, self.hd.policy())?;
                Ok((events, outcomes))
            },
        )?;
        Ok(Applied { after: done.ticket.clone(), ticket: done.ticket, steps, missed: done.missed })
    }

    fn target(&self, id: MacroId, ticket: TicketId) -> Result<(Agent, Macro, Ticket)> {
        let me = self.hd.active_agent(self.agent)?;
        let m = self.get(id)?;
        let t = self.hd.ticket(ticket)?;
        if !me.permissions.can_see(t.department) {
            return Err(TicketError::NotFound(ticket).into());
        }
        Ok((me, m, t))
    }

    fn steps(
        &self,
        me: &Agent,
        m: &Macro,
        t: &Ticket,
        dir: &dyn command::Directory,
    ) -> Result<Vec<macros::Step>> {
        let values = self.hd.placeholder_values(me, t)?;
        let texts = |a: &MacroAction| -> std::result::Result<String, String> {
            let body = match a {
                MacroAction::Reply { snippet: Some(s), .. } => {
                    self.hd
                        .snippets(me.id)
                        .get(*s)
                        .map_err(|_| format!("no snippet {s} you may use"))?
                        .snippet
                        .body
                }
                MacroAction::Reply { body: Some(b), .. } | MacroAction::AddNote { body: b } => b.clone(),
                _ => String::new(),
            };
            Ok(snippets::render(&body, &values))
        };
        Ok(macros::steps(m, me.id, t, texts, dir)?)
    }
}
