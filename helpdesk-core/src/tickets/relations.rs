//! Tickets that belong together: merging two tickets of one user, splitting
//! a user's message off into a new ticket, and links between related
//! tickets. Each decides the events of *both* tickets (the shell commits
//! them together), so each shows in both logs:
//!
//! - merge: the survivor gets [`Change::Merged`] (the other's messages and
//!   notes, renumbered after its own and kept in time order) and the CCs,
//!   followers and labels it lacked; the merged ticket gets
//!   [`Change::MergedInto`] and moves to Deleted. A merged ticket takes no
//!   more commands ([`TicketError::Merged`]); mail threaded to it goes to
//!   the survivor.
//! - split: the ticket gets [`Change::SplitOff`] (the message leaves it)
//!   and a link; the new ticket is created with that message as its first,
//!   owned by the message's author, with [`Change::SplitFrom`] and a link.
//! - link / unlink: [`Change::Linked`] / [`Change::Unlinked`] on both.
//!
//! Only agents do these, and only on tickets of departments they see.
//!
//! ```
//! use helpdesk_core::relations::merge;
//! use helpdesk_core::testing::{sample_directory, t0};
//! use helpdesk_core::*;
//!
//! let dir = sample_directory();
//! let ann = UserId(1);
//! let agent = Actor::Agent(*dir.agents.keys().next().unwrap());
//! let open = |id: u64, subject: &str| {
//!     let new = NewTicket::new(subject, "It is broken.", DepartmentId(1), ann, Channel::Portal);
//!     Ticket::from_events(&create(TicketId(id), new, &Actor::User(ann), t0(), &dir, &Policy::default()).unwrap()).unwrap()
//! };
//! let (first, second) = (open(1, "Printer"), open(2, "Printer again"));
//! let (kept, gone) = merge(&first, &second, &agent, t0(), &dir).unwrap();
//! assert!(matches!(kept[0].change, Change::Merged { from: TicketId(2), .. }));
//! assert!(matches!(gone[0].change, Change::MergedInto { into: TicketId(1) }));
//! let mut t = first.clone();
//! for e in &kept { t.apply(e).unwrap(); }
//! assert_eq!(t.messages.len(), 2);
//! ```

use crate::command::{create, Directory, NewTicket, Policy};
use crate::event::{Actor, Change, TicketEvent};
use crate::ids::*;
use crate::ticket::{Author, Message, Note, Status, Ticket};
use crate::TicketError;
use chrono::{DateTime, Utc};

/// Events for one ticket, numbered from its current version.
struct Out<'a> {
    ticket: &'a Ticket,
    at: DateTime<Utc>,
    actor: &'a Actor,
    events: Vec<TicketEvent>,
}

impl<'a> Out<'a> {
    fn new(ticket: &'a Ticket, at: DateTime<Utc>, actor: &'a Actor) -> Self {
        Out { ticket, at, actor, events: Vec::new() }
    }

    fn push(&mut self, change: Change) {
        let version = self.ticket.version + 1 + self.events.len() as u64;
        self.events.push(TicketEvent {
            ticket: self.ticket.id,
            version,
            at: self.at,
            actor: self.actor.clone(),
            change,
        });
    }
}

fn refused(action: &'static str, reason: impl Into<String>) -> TicketError {
    TicketError::Relation { action, reason: reason.into() }
}

/// The acting agent, who must see the departments of every ticket named.
fn check_agent(
    action: &'static str,
    actor: &Actor,
    dir: &dyn Directory,
    tickets: &[&Ticket],
) -> Result<(), TicketError> {
    let Actor::Agent(a) = actor else {
        return Err(TicketError::NotPermitted {
            actor: actor.to_string(),
            action,
            reason: "only agents merge, split and link tickets".into(),
        });
    };
    let agent = dir.agent(*a).ok_or(TicketError::UnknownAgent(*a))?;
    if agent.disabled {
        return Err(TicketError::AgentDisabled(*a));
    }
    for t in tickets {
        if !agent.permissions.can_see(t.department) {
            return Err(refused(action, format!("ticket {} is in a department you may not see", t.id)));
        }
    }
    Ok(())
}

/// A ticket that takes part: not merged away, not deleted or spam.
fn check_open(action: &'static str, t: &Ticket) -> Result<(), TicketError> {
    if let Some(into) = t.relations.merged_into {
        return Err(TicketError::Merged { ticket: t.id, into });
    }
    if matches!(t.status, Status::Deleted | Status::Spam) {
        return Err(refused(action, format!("ticket {} is {}; restore it first", t.id, t.status)));
    }
    Ok(())
}

/// Merges `merged` into `survivor`: the events of the survivor, then of
/// the merged ticket. Both must belong to the same user, be neither
/// deleted, spam nor merged, and be in departments the agent sees.
pub fn merge(
    survivor: &Ticket,
    merged: &Ticket,
    actor: &Actor,
    now: DateTime<Utc>,
    dir: &dyn Directory,
) -> Result<(Vec<TicketEvent>, Vec<TicketEvent>), TicketError> {
    const A: &str = "merge";
    check_agent(A, actor, dir, &[survivor, merged])?;
    if survivor.id == merged.id {
        return Err(refused(A, "a ticket cannot be merged into itself"));
    }
    check_open(A, survivor)?;
    check_open(A, merged)?;
    if survivor.user != merged.user {
        return Err(refused(
            A,
            format!(
                "only tickets of the same user are merged: {} is {}'s, {} is {}'s",
                merged.id, merged.user, survivor.id, survivor.user
            ),
        ));
    }
    // The merged ticket's posts, in time order, numbered after the survivor's.
    enum Post<'p> {
        M(&'p Message),
        N(&'p Note),
    }
    let mut posts: Vec<Post> =
        merged.messages.iter().map(Post::M).chain(merged.notes.iter().map(Post::N)).collect();
    posts.sort_by_key(|p| match p {
        Post::M(m) => (m.at, m.id),
        Post::N(n) => (n.at, n.id),
    });
    let (mut messages, mut notes) = (Vec::new(), Vec::new());
    for (id, p) in (survivor.next_post_id().0..).map(PostId).zip(posts) {
        match p {
            Post::M(m) => messages.push(Message { id, ..m.clone() }),
            Post::N(n) => notes.push(Note { id, ..n.clone() }),
        }
    }
    let mut kept = Out::new(survivor, now, actor);
    kept.push(Change::Merged { from: merged.id, messages, notes });
    for u in merged.ccs.iter().filter(|u| !survivor.ccs.contains(u) && **u != survivor.user) {
        kept.push(Change::CcAdded { user: *u });
    }
    for a in merged.followers.iter().filter(|a| !survivor.followers.contains(a)) {
        // Only agents who may see the survivor's department follow it.
        if dir.agent(*a).is_some_and(|ag| !ag.disabled && ag.permissions.can_see(survivor.department)) {
            kept.push(Change::FollowerAdded { agent: *a });
        }
    }
    for l in merged.labels.iter().filter(|l| !survivor.labels.contains(*l)) {
        kept.push(Change::LabelAdded { label: l.clone() });
    }
    for t in merged
        .relations
        .linked
        .iter()
        .filter(|t| **t != survivor.id && !survivor.relations.linked.contains(t))
    {
        kept.push(Change::Linked { ticket: *t });
    }
    let mut gone = Out::new(merged, now, actor);
    gone.push(Change::MergedInto { into: survivor.id });
    gone.push(Change::Status { from: merged.status, to: Status::Deleted });
    Ok((kept.events, gone.events))
}

/// Splits the user's message `post` off `ticket` into a new ticket `id`
/// (subject `subject`, or the ticket's own): the events of the ticket,
/// then of the new one (owned by the message's author, in the same
/// department, linked both ways, no auto-response). The ticket must keep
/// another message.
#[allow(clippy::too_many_arguments)]
pub fn split(
    ticket: &Ticket,
    post: PostId,
    id: TicketId,
    subject: Option<&str>,
    actor: &Actor,
    now: DateTime<Utc>,
    dir: &dyn Directory,
    policy: &Policy,
) -> Result<(Vec<TicketEvent>, Vec<TicketEvent>), TicketError> {
    const A: &str = "split";
    check_agent(A, actor, dir, &[ticket])?;
    check_open(A, ticket)?;
    let Some(m) = ticket.messages.iter().find(|m| m.id == post) else {
        return Err(refused(A, format!("ticket {} has no message {}", ticket.id, post.0)));
    };
    let Author::User(owner) = m.author else {
        return Err(refused(A, "only a user's message is split off into a new ticket"));
    };
    if ticket.messages.len() < 2 {
        return Err(refused(A, format!("message {} is the only one of ticket {}", post.0, ticket.id)));
    }
    let subject = match subject.map(str::trim) {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => ticket.subject.clone(),
    };
    let mut new = NewTicket::new(subject, m.body.clone(), ticket.department, owner, m.channel);
    new.attachments = m.attachments.clone();
    new.no_auto_response = Some(format!("split off ticket {}", ticket.id));
    let created = create(id, new, actor, now, dir, policy)?;
    let born = Ticket::from_events(&created)?;
    let mut more = Out::new(&born, now, actor);
    more.push(Change::SplitFrom { ticket: ticket.id, post });
    more.push(Change::Linked { ticket: ticket.id });
    let mut events = created;
    events.extend(more.events);
    let mut old = Out::new(ticket, now, actor);
    old.push(Change::SplitOff { post, into: id });
    old.push(Change::Linked { ticket: id });
    Ok((old.events, events))
}

/// Links (`true`) or unlinks two tickets: the events of each (none when
/// they already are so).
pub fn link(
    a: &Ticket,
    b: &Ticket,
    linked: bool,
    actor: &Actor,
    now: DateTime<Utc>,
    dir: &dyn Directory,
) -> Result<(Vec<TicketEvent>, Vec<TicketEvent>), TicketError> {
    let action = if linked { "link" } else { "unlink" };
    check_agent(action, actor, dir, &[a, b])?;
    if a.id == b.id {
        return Err(refused(action, "a ticket is not linked to itself"));
    }
    if linked {
        check_open(action, a)?;
        check_open(action, b)?;
    }
    let mut out = (Out::new(a, now, actor), Out::new(b, now, actor));
    if a.relations.linked.contains(&b.id) != linked {
        out.0.push(if linked { Change::Linked { ticket: b.id } } else { Change::Unlinked { ticket: b.id } });
    }
    if b.relations.linked.contains(&a.id) != linked {
        out.1.push(if linked { Change::Linked { ticket: a.id } } else { Change::Unlinked { ticket: a.id } });
    }
    Ok((out.0.events, out.1.events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{sample_directory, t0};
    use crate::*;

    fn open(id: u64, user: u64, dept: u64) -> Ticket {
        let new =
            NewTicket::new("Printer", "It is broken.", DepartmentId(dept), UserId(user), Channel::Portal);
        let e = create(
            TicketId(id),
            new,
            &Actor::User(UserId(user)),
            t0(),
            &sample_directory(),
            &Policy::default(),
        )
        .unwrap();
        Ticket::from_events(&e).unwrap()
    }

    fn run(t: &Ticket, events: &[TicketEvent]) -> Ticket {
        let mut t = t.clone();
        for e in events {
            t.apply(e).unwrap();
        }
        t
    }

    fn agent() -> Actor {
        Actor::Agent(*sample_directory().agents.keys().next().unwrap())
    }

    #[test]
    fn merging_moves_posts_in_time_order_and_closes_the_other() {
        let dir = sample_directory();
        let mut a = open(1, 1, 1);
        let later = t0() + chrono::Duration::minutes(5);
        let reply =
            Command::UserReply { body: "Still broken".into(), attachments: vec![], channel: Channel::Email };
        let mut b = open(2, 1, 1);
        b = run(&b, &decide(&b, &reply, &Actor::User(UserId(1)), later, &dir, &Policy::default()).unwrap());
        let cc = Command::AddCc { user: UserId(2) };
        b = run(&b, &decide(&b, &cc, &agent(), later, &dir, &Policy::default()).unwrap());
        a = run(
            &a,
            &decide(
                &a,
                &reply,
                &Actor::User(UserId(1)),
                t0() + chrono::Duration::minutes(1),
                &dir,
                &Policy::default(),
            )
            .unwrap(),
        );
        let (kept, gone) = merge(&a, &b, &agent(), later, &dir).unwrap();
        let a2 = run(&a, &kept);
        let ids: Vec<u32> = a2.messages.iter().map(|m| m.id.0).collect();
        assert_eq!(ids, [1, 3, 2, 4], "b's first message (t0) before a's reply (t0+1); renumbered after a's");
        assert!(a2.ccs.contains(&UserId(2)));
        let b2 = run(&b, &gone);
        assert_eq!((b2.relations.merged_into, b2.status), (Some(TicketId(1)), Status::Deleted));
        // A merged ticket takes nothing more, and is not merged again.
        assert_eq!(
            merge(&a2, &b2, &agent(), later, &dir).unwrap_err(),
            TicketError::Merged { ticket: TicketId(2), into: TicketId(1) }
        );
        let err = decide(&b2, &Command::Restore, &agent(), later, &dir, &Policy::default()).unwrap_err();
        assert_eq!(err.to_string(), "ticket #2 was merged into #1; work on #1");
    }

    #[test]
    fn merging_is_refused_with_a_reason() {
        let dir = sample_directory();
        let (a, b, other_user) = (open(1, 1, 1), open(2, 1, 1), open(3, 2, 1));
        let msg = |e: TicketError| e.to_string();
        assert_eq!(
            msg(merge(&a, &a, &agent(), t0(), &dir).unwrap_err()),
            "merge refused: a ticket cannot be merged into itself"
        );
        assert_eq!(
            msg(merge(&a, &other_user, &agent(), t0(), &dir).unwrap_err()),
            "merge refused: only tickets of the same user are merged: #3 is user:2's, #1 is user:1's"
        );
        assert!(matches!(
            merge(&a, &b, &Actor::User(UserId(1)), t0(), &dir),
            Err(TicketError::NotPermitted { .. })
        ));
    }

    #[test]
    fn splitting_moves_a_users_message_into_a_linked_ticket() {
        let dir = sample_directory();
        let a = open(1, 1, 1);
        let err =
            split(&a, PostId(1), TicketId(9), None, &agent(), t0(), &dir, &Policy::default()).unwrap_err();
        assert_eq!(err.to_string(), "split refused: message 1 is the only one of ticket #1");
        let reply = Command::UserReply {
            body: "Also: the scanner".into(),
            attachments: vec![],
            channel: Channel::Email,
        };
        let a =
            run(&a, &decide(&a, &reply, &Actor::User(UserId(1)), t0(), &dir, &Policy::default()).unwrap());
        let (old, new) =
            split(&a, PostId(2), TicketId(9), Some("Scanner"), &agent(), t0(), &dir, &Policy::default())
                .unwrap();
        let a2 = run(&a, &old);
        assert_eq!(a2.messages.len(), 1);
        assert!(a2.relations.linked.contains(&TicketId(9)));
        let n = Ticket::from_events(&new).unwrap();
        assert_eq!(
            (n.subject.as_str(), n.user, n.messages[0].body.as_str()),
            ("Scanner", UserId(1), "Also: the scanner")
        );
        assert!(n.relations.linked.contains(&TicketId(1)));
        let (x, y) = link(&a2, &n, true, &agent(), t0(), &dir).unwrap();
        assert!(x.is_empty() && y.is_empty(), "already linked: nothing to do");
        let (x, y) = link(&a2, &n, false, &agent(), t0(), &dir).unwrap();
        assert!(
            !run(&a2, &x).relations.linked.contains(&n.id) && !run(&n, &y).relations.linked.contains(&a2.id)
        );
    }
}
