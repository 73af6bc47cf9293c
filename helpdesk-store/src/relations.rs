//! Merging, splitting and linking tickets ([`helpdesk_core::relations`]
//! decides): both tickets change in one atomic write, each in its own log,
//! each through the pipeline (triggers, SLAs, notifications).
//!
//! ```
//! use helpdesk_core::*;
//! use helpdesk_store::{Helpdesk, NewAgent};
//!
//! let hd = Helpdesk::in_memory();
//! let support = hd.create_department("Support", vec![]).unwrap();
//! let sam = Actor::Agent(hd.create_agent(NewAgent::new("Sam", "sam@example.com")).unwrap().id);
//! let ann = hd.create_user(NewUser::new("Ann", "ann@example.com")).unwrap();
//! let open = |s: &str| hd.create_ticket(&Actor::User(ann.id), NewTicket::new(s, "Help", support.id, ann.id, Channel::Email)).unwrap();
//! let (first, again) = (open("Printer"), open("Printer, again"));
//!
//! let (kept, gone) = hd.merge_tickets(first.id, again.id, &sam).unwrap();
//! assert_eq!(kept.messages.len(), 2);
//! assert_eq!((gone.relations.merged_into, gone.status), (Some(first.id), Status::Deleted));
//! // Mail and links to the merged ticket lead to the survivor.
//! assert_eq!(hd.current_ticket(again.id).unwrap().id, first.id);
//!
//! let other = open("Scanner");
//! let (a, b) = hd.link_tickets(first.id, other.id, true, &sam).unwrap();
//! assert!(a.relations.linked.contains(&other.id) && b.relations.linked.contains(&first.id));
//! ```

use crate::helpdesk::{Helpdesk, Result};
use helpdesk_core::relations;
use helpdesk_core::*;

/// How many merges a ticket's `merged_into` is followed through.
const MAX_HOPS: usize = 16;

impl Helpdesk {
    /// Merges ticket `merged` into `survivor` (both the same user's, in
    /// departments the agent sees, neither deleted, spam or merged): the
    /// survivor gets its messages, notes, CCs, followers, labels and links;
    /// `merged` moves to Deleted, points to the survivor and takes no more
    /// commands. Returns both as they are after.
    pub fn merge_tickets(
        &self,
        survivor: TicketId,
        merged: TicketId,
        actor: &Actor,
    ) -> Result<(Ticket, Ticket)> {
        self.execute_two(survivor, Some(merged), actor, |s, m, dir, now| {
            let m = m.expect("the merged ticket was read");
            Ok(relations::merge(s, m, actor, now, dir)?)
        })
    }

    /// Splits the user's message `post` off `ticket` into a new ticket
    /// (`subject`, else the ticket's), linked both ways. Returns the ticket
    /// and the new one.
    pub fn split_ticket(
        &self,
        ticket: TicketId,
        post: PostId,
        subject: Option<&str>,
        actor: &Actor,
    ) -> Result<(Ticket, Ticket)> {
        // Decided once with a placeholder id, so bad input consumes no id.
        let split = |id: TicketId| {
            move |t: &Ticket, _: Option<&Ticket>, dir: &DirectorySnapshot, now| -> Result<_> {
                Ok(relations::split(t, post, id, subject, actor, now, dir, self.policy())?)
            }
        };
        let t = self.ticket(ticket)?;
        let refs = command::References {
            departments: [t.department].into(),
            agents: match actor {
                Actor::Agent(a) => [*a].into(),
                _ => Default::default(),
            },
            teams: Default::default(),
            users: t
                .messages
                .iter()
                .filter_map(|m| if let Author::User(u) = m.author { Some(u) } else { None })
                .collect(),
        };
        let dir = self.directory_with(&t, actor, refs)?;
        split(TicketId(0))(&t, None, &dir, self.clock().now())?;
        let id = TicketId(self.next_id(IdKind::Ticket)?);
        self.execute_two(ticket, None, actor, split(id))
    }

    /// Links (`linked`: true) or unlinks two tickets, shown on both.
    /// Returns both as they are after (unchanged when they already were so).
    pub fn link_tickets(
        &self,
        a: TicketId,
        b: TicketId,
        linked: bool,
        actor: &Actor,
    ) -> Result<(Ticket, Ticket)> {
        self.execute_two(a, Some(b), actor, |x, y, dir, now| {
            Ok(relations::link(x, y.expect("the other ticket was read"), linked, actor, now, dir)?)
        })
    }

    /// The ticket work on `id` goes to: `id` itself, or the ticket it was
    /// merged into (followed through merges of merges). Mail threaded to a
    /// merged ticket arrives here.
    pub fn current_ticket(&self, id: TicketId) -> Result<Ticket> {
        let mut t = self.ticket(id)?;
        for _ in 0..MAX_HOPS {
            match t.relations.merged_into {
                Some(into) => t = self.ticket(into)?,
                None => return Ok(t),
            }
        }
        Ok(t)
    }
}
