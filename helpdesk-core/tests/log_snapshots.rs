//! Snapshots of full ticket logs for realistic scenarios, built with `create`
//! and `decide` at fixed times. Each scenario also checks that folding the
//! whole log equals the state reached by applying the events one by one.

use chrono::{DateTime, Duration, Utc};
use helpdesk_core::testing::{sample_directory, t0};
use helpdesk_core::*;

/// A ticket being worked: its log, and the state reached step by step.
struct Scenario {
    dir: DirectorySnapshot,
    policy: Policy,
    log: Vec<TicketEvent>,
    ticket: Ticket,
}

impl Scenario {
    fn create(dir: DirectorySnapshot, policy: Policy, at: Duration, actor: Actor, new: NewTicket) -> Self {
        let log = create(TicketId(42), new, &actor, t0() + at, &dir, &policy).expect("created");
        let mut ticket = Ticket::from_events(&log[..1]).expect("created folds");
        for e in &log[1..] {
            ticket.apply(e).expect("applies");
        }
        let s = Scenario { dir, policy, log, ticket };
        s.check();
        s
    }

    fn at(&self, at: Duration) -> DateTime<Utc> {
        t0() + at
    }

    /// Decides `cmd`, which must succeed with at least one event, and applies it.
    fn run(&mut self, at: Duration, actor: Actor, cmd: Command) -> &mut Self {
        let now = self.at(at);
        let events = decide(&self.ticket, &cmd, &actor, now, &self.dir, &self.policy)
            .unwrap_or_else(|e| panic!("{} by {actor} refused: {e}", cmd.name()));
        assert!(!events.is_empty(), "{} by {actor} changed nothing", cmd.name());
        for e in &events {
            self.ticket.apply(e).expect("a decided event applies");
        }
        self.log.extend(events);
        self.check();
        self
    }

    fn check(&self) {
        assert_eq!(Ticket::from_events(&self.log).expect("log folds"), self.ticket);
        assert_eq!(self.ticket.version, self.log.len() as u64);
        for (i, e) in self.log.iter().enumerate() {
            assert_eq!(e.version, i as u64 + 1);
            assert_eq!(e.ticket, self.ticket.id);
        }
    }
}

fn ann() -> Actor {
    Actor::User(UserId(1))
}
fn ben() -> Actor {
    Actor::User(UserId(2))
}
fn alice() -> Actor {
    Actor::Agent(AgentId(1))
}
fn bob() -> Actor {
    Actor::Agent(AgentId(2))
}
fn mins(m: i64) -> Duration {
    Duration::minutes(m)
}
fn reply(body: &str, status: Option<Status>) -> Command {
    Command::AgentReply { body: body.into(), attachments: vec![], status }
}
fn user_reply(body: &str, channel: Channel) -> Command {
    Command::UserReply { body: body.into(), attachments: vec![], channel }
}
fn note(body: &str) -> Command {
    Command::AddNote { body: body.into(), attachments: vec![] }
}

/// Ann's portal ticket in Support: assigned, followed, labelled, made more
/// urgent, noted, resolved with a reply, reopened by Ann's email reply,
/// answered again, and resolved by Ann herself.
#[test]
fn portal_ticket_resolved_reopened_resolved() {
    let new =
        NewTicket::new("Printer on fire", "It is on fire.\n\n", DepartmentId(1), UserId(1), Channel::Portal);
    let mut s = Scenario::create(sample_directory(), Policy::default(), mins(0), ann(), new);
    assert_eq!(s.ticket.status, Status::AwaitingAgent);
    s.run(mins(5), alice(), Command::AssignAgent { agent: Some(AgentId(1)) })
        .run(mins(5), alice(), Command::Follow { agent: AgentId(2) })
        .run(mins(6), alice(), Command::AddLabel { label: " Printer ".into() })
        .run(mins(6), alice(), Command::SetUrgency { urgency: Urgency::new(5).unwrap() })
        .run(mins(20), bob(), note("Facilities say the fuser is faulty."))
        .run(mins(60), alice(), reply("We replaced the fuser.", Some(Status::Resolved)));
    assert_eq!(s.ticket.status, Status::Resolved);
    s.run(mins(24 * 60), ann(), user_reply("It is smoking again.", Channel::Email));
    assert_eq!(s.ticket.status, Status::AwaitingAgent, "a reply reopens a resolved ticket");
    s.run(mins(24 * 60 + 10), alice(), reply("A technician is on the way.", None));
    assert_eq!(s.ticket.status, Status::AwaitingUser);
    s.run(mins(48 * 60), ann(), Command::SetStatus { status: Status::Resolved });

    let t = &s.ticket;
    assert_eq!(t.status, Status::Resolved);
    assert_eq!(t.agent, Some(AgentId(1)));
    assert_eq!(t.followers.iter().copied().collect::<Vec<_>>(), [AgentId(2)]);
    assert_eq!(t.labels.iter().collect::<Vec<_>>(), ["printer"]);
    assert_eq!(t.urgency.get(), 5);
    assert_eq!(t.messages.len(), 4);
    assert_eq!(t.notes.len(), 1);
    assert_eq!(t.messages[0].body, "It is on fire.", "trailing whitespace is trimmed");
    assert_eq!(t.last_user_reply_at, Some(t0() + mins(24 * 60)));
    assert_eq!(t.last_agent_reply_at, Some(t0() + mins(24 * 60 + 10)));
    assert_eq!(t.status_since, t0() + mins(48 * 60));
    insta::assert_yaml_snapshot!("portal_ticket_log", s.log);
}

/// Ann's Billing ticket with fields: an agent sets more fields, CCs Ben,
/// assigns the team and replies pending; the ticket moves to Support (which
/// clears every Billing field), is deleted and restored to pending, and Ben
/// (CC) replies.
#[test]
fn billing_ticket_fields_move_delete_restore() {
    let mut new = NewTicket::new(
        "Charged twice",
        "My card was charged twice in January.",
        DepartmentId(2),
        UserId(1),
        Channel::Portal,
    );
    new.fields.insert("account_number".into(), FieldValue::Text("ACC-1001".into()));
    new.fields.insert("plan".into(), FieldValue::Choice("basic".into()));
    new.attachments.push(Attachment {
        filename: "statement.pdf".into(),
        content_type: "application/pdf".into(),
        size: 48_213,
        blob: "sha256:5f1c".into(),
    });
    let mut s = Scenario::create(sample_directory(), Policy::default(), mins(0), ann(), new);
    s.run(
        mins(10),
        alice(),
        Command::SetField { key: "internal_score".into(), value: Some(FieldValue::Number(8.0)) },
    )
    .run(
        mins(10),
        alice(),
        Command::SetField { key: "plan".into(), value: Some(FieldValue::Choice("pro".into())) },
    )
    .run(mins(11), alice(), Command::AddCc { user: UserId(2) })
    .run(mins(11), alice(), Command::AssignTeam { team: Some(TeamId(1)) })
    .run(mins(30), alice(), reply("Checking with finance.", Some(Status::Pending)));
    assert_eq!(s.ticket.fields.len(), 3);

    // Support has no fields: moving there clears all three.
    s.run(mins(120), alice(), Command::SetDepartment { department: DepartmentId(1) });
    assert!(s.ticket.fields.is_empty());
    assert_eq!(s.ticket.department, DepartmentId(1));

    s.run(mins(180), alice(), Command::Delete);
    assert_eq!(s.ticket.status_before_hidden, Some(Status::Pending));
    s.run(mins(185), alice(), Command::Restore);
    assert_eq!(s.ticket.status, Status::Pending, "restore returns the pre-hidden status");
    assert_eq!(s.ticket.status_before_hidden, None);

    s.run(mins(240), ben(), user_reply("Ann is out; any update?", Channel::Email));
    assert_eq!(s.ticket.status, Status::AwaitingAgent);
    assert_eq!(s.ticket.ccs.iter().copied().collect::<Vec<_>>(), [UserId(2)]);
    insta::assert_yaml_snapshot!("billing_ticket_log", s.log);
}

/// Validation on, Ben's address unconfirmed: his email ticket starts hidden
/// as validating and stays so when he writes again; an agent confirms it; an
/// escalation raises urgency and a trigger notes it; Bob takes the ticket and
/// replies; Ann becomes the owner (Ben stays out of the CCs).
#[test]
fn email_ticket_validation_escalation() {
    let mut dir = sample_directory();
    dir.users.get_mut(&UserId(2)).expect("Ben").validated = false;
    let policy = Policy { require_validation: true, ..Policy::default() };
    let email = Actor::System(SystemActor::EmailAccount("support@helpdesk.test".into()));
    let new =
        NewTicket::new("VPN down", "Cannot connect since 8am.", DepartmentId(1), UserId(2), Channel::Email);
    let mut s = Scenario::create(dir, policy, mins(0), email, new);
    assert_eq!(s.ticket.status, Status::Validating);
    assert_eq!(s.ticket.messages[0].author, Author::User(UserId(2)));

    s.run(mins(2), ben(), user_reply("Error 809, if that helps.", Channel::Email));
    assert_eq!(s.ticket.status, Status::Validating, "a reply does not validate");
    s.run(mins(60), alice(), Command::SetStatus { status: Status::AwaitingAgent });

    let escalation = Actor::System(SystemActor::Escalation("awaiting agent 4h".into()));
    let trigger = Actor::System(SystemActor::Trigger("note escalations".into()));
    s.run(mins(300), escalation, Command::AdjustUrgency { by: 2 })
        .run(mins(300), trigger, note("Escalated: awaiting agent for 4 hours."))
        .run(mins(310), bob(), Command::AssignAgent { agent: Some(AgentId(2)) })
        .run(mins(315), bob(), reply("Please restart the client.", None))
        .run(mins(320), bob(), Command::SetOwner { user: UserId(1) });
    let t = &s.ticket;
    assert_eq!(t.status, Status::AwaitingUser);
    assert_eq!(t.urgency.get(), 3);
    assert_eq!(t.user, UserId(1));
    assert!(t.ccs.is_empty());
    assert_eq!(t.notes[0].agent, None, "a trigger's note has no agent");
    insta::assert_yaml_snapshot!("email_validation_log", s.log);
}
