//! State-machine property tests: random sequences of (actor, command) over the
//! sample directory — every command kind, valid and invalid inputs, users,
//! agents (including a restricted, a disabled and an unknown one) and the
//! system — are decided and folded one by one, and the domain's invariants are
//! checked after every step.

use chrono::{Duration, NaiveDate};
use helpdesk_core::testing::{sample_directory, t0};
use helpdesk_core::*;
use proptest::prelude::*;
use proptest::sample::select;

// ---------------------------------------------------------------- strategies

fn user() -> impl Strategy<Value = Actor> {
    prop_oneof![
        3 => Just(Actor::User(UserId(1))), // Ann: owner of most starts
        2 => Just(Actor::User(UserId(2))), // Ben: owner of the validating start, else maybe a CC
        1 => Just(Actor::User(UserId(3))), // Eve: never a participant unless CC'd
        1 => Just(Actor::User(UserId(9))), // unknown
    ]
}

fn staff() -> impl Strategy<Value = Actor> {
    prop_oneof![
        6 => Just(Actor::Agent(AgentId(1))), // Alice, admin
        3 => Just(Actor::Agent(AgentId(2))), // Bob: Support only, no delete, no reassign
        1 => Just(Actor::Agent(AgentId(3))), // Carol: disabled
        1 => Just(Actor::Agent(AgentId(9))), // unknown
        1 => Just(Actor::system()),
        1 => Just(Actor::System(SystemActor::Trigger("raise vip".into()))),
    ]
}

fn actor() -> impl Strategy<Value = Actor> {
    prop_oneof![1 => user(), 2 => staff()]
}

/// What users mostly try: replying and resolving (and now and then anything).
fn user_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        6 => (body(), attachments(), channel())
            .prop_map(|(body, attachments, channel)| Command::UserReply { body, attachments, channel }),
        2 => status().prop_map(|status| Command::SetStatus { status }),
        2 => command(),
    ]
}

/// One step of a session: mostly plausible pairs, sometimes anything.
fn step() -> impl Strategy<Value = (Actor, Command)> {
    prop_oneof![3 => (user(), user_command()), 6 => (staff(), command()), 1 => (actor(), command())]
}

fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(vec!["hi", "It is on fire.", "line one\nline two\n\n"]).prop_map(String::from),
        1 => select(vec!["", "  \n\t"]).prop_map(String::from),
    ]
}

fn attachments() -> impl Strategy<Value = Vec<Attachment>> {
    let a = |filename: &str, content_type: &str, blob: &str| Attachment {
        filename: filename.into(),
        content_type: content_type.into(),
        size: 10,
        blob: blob.into(),
    };
    let one = prop_oneof![
        6 => Just(a("photo.jpg", "image/jpeg", "sha256:aa")),
        1 => Just(a("../x", "text/plain", "sha256:bb")),
        1 => Just(a("x.txt", "text", "sha256:cc")),
        1 => Just(a("x.txt", "text/plain", " ")),
    ];
    prop_oneof![4 => Just(vec![]), 1 => proptest::collection::vec(one, 1..=2)]
}

fn status() -> impl Strategy<Value = Status> {
    select(Status::ALL.to_vec())
}

fn channel() -> impl Strategy<Value = Channel> {
    select(vec![Channel::Email, Channel::Portal, Channel::Embed, Channel::Agent, Channel::Api])
}

fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(vec!["vip", " VIP ", "printer", "Printer"]).prop_map(String::from),
        1 => select(vec!["", "bell\u{7}"]).prop_map(String::from),
        1 => Just("l".repeat(65)),
    ]
}

fn field_value() -> impl Strategy<Value = FieldValue> {
    select(vec![
        FieldValue::Text("ACC-2".into()),
        FieldValue::Text("basic".into()),
        FieldValue::Number(3.0),
        FieldValue::Number(f64::INFINITY),
        FieldValue::Choice("pro".into()),
        FieldValue::Choice("basic".into()),
        FieldValue::Choice("gold".into()),
        FieldValue::Date(NaiveDate::from_ymd_opt(2026, 2, 1).expect("valid")),
    ])
}

fn command() -> impl Strategy<Value = Command> {
    let ids = |n: u64| 1..=n;
    prop_oneof![
        4 => (body(), attachments(), channel())
            .prop_map(|(body, attachments, channel)| Command::UserReply { body, attachments, channel }),
        4 => (body(), attachments(), proptest::option::of(status()))
            .prop_map(|(body, attachments, status)| Command::AgentReply { body, attachments, status }),
        2 => (body(), attachments()).prop_map(|(body, attachments)| Command::AddNote { body, attachments }),
        3 => status().prop_map(|status| Command::SetStatus { status }),
        1 => prop_oneof![
                Just(String::new()),
                Just("  ".to_string()),
                Just("Printer on fire".to_string()),
                Just(" New subject ".to_string()),
                Just("s".repeat(256)),
            ].prop_map(|subject| Command::SetSubject { subject }),
        1 => ids(3).prop_map(|d| Command::SetDepartment { department: DepartmentId(d) }),
        2 => proptest::option::of(ids(4)).prop_map(|a| Command::AssignAgent { agent: a.map(AgentId) }),
        1 => proptest::option::of(ids(2)).prop_map(|t| Command::AssignTeam { team: t.map(TeamId) }),
        1 => ids(4).prop_map(|u| Command::SetOwner { user: UserId(u) }),
        2 => ids(4).prop_map(|u| Command::AddCc { user: UserId(u) }),
        1 => ids(4).prop_map(|u| Command::RemoveCc { user: UserId(u) }),
        1 => ids(4).prop_map(|a| Command::Follow { agent: AgentId(a) }),
        1 => ids(4).prop_map(|a| Command::Unfollow { agent: AgentId(a) }),
        1 => (1i64..=10).prop_map(|u| Command::SetUrgency { urgency: Urgency::new(u).expect("in range") }),
        1 => (-12i64..=12).prop_map(|by| Command::AdjustUrgency { by }),
        1 => label().prop_map(|label| Command::AddLabel { label }),
        1 => label().prop_map(|label| Command::RemoveLabel { label }),
        2 => select(vec![
                ("account_number", FieldValue::Text("ACC-2".into())),
                ("plan", FieldValue::Choice("pro".into())),
                ("plan", FieldValue::Choice("basic".into())),
                ("internal_score", FieldValue::Number(9.5)),
            ]).prop_map(|(key, v)| Command::SetField { key: key.into(), value: Some(v) }),
        2 => (
                select(vec!["account_number", "plan", "internal_score", "colour"]),
                proptest::option::weighted(0.8, field_value()),
            ).prop_map(|(key, value)| Command::SetField { key: key.into(), value }),
        1 => Just(Command::Delete),
        1 => Just(Command::MarkSpam),
        3 => Just(Command::Restore),
    ]
}

/// Where a sequence starts.
#[derive(Debug, Clone, Copy)]
enum Start {
    /// Ann's portal ticket in Support.
    Support,
    /// Ann's portal ticket in Billing, with its required field.
    Billing,
    /// Ben's portal ticket, validation on and Ben unconfirmed: starts validating.
    Validating,
}

fn start() -> impl Strategy<Value = Start> {
    prop_oneof![3 => Just(Start::Support), 2 => Just(Start::Billing), 1 => Just(Start::Validating)]
}

fn reopen() -> impl Strategy<Value = ReopenPolicy> {
    prop_oneof![3 => Just(ReopenPolicy::Reopen), 1 => Just(ReopenPolicy::NewLinkedTicket)]
}

fn setup(start: Start, reopen: ReopenPolicy) -> (DirectorySnapshot, Policy, Vec<TicketEvent>) {
    let mut dir = sample_directory();
    let mut policy = Policy { reopen, ..Policy::default() };
    let new = match start {
        Start::Support => {
            NewTicket::new("Printer on fire", "It is on fire.", DepartmentId(1), UserId(1), Channel::Portal)
        }
        Start::Billing => {
            let mut n =
                NewTicket::new("Charged twice", "Twice!", DepartmentId(2), UserId(1), Channel::Portal);
            n.fields.insert("account_number".into(), FieldValue::Text("ACC-1".into()));
            n
        }
        Start::Validating => {
            dir.users.get_mut(&UserId(2)).expect("Ben").validated = false;
            policy.require_validation = true;
            NewTicket::new("VPN down", "Since 8am.", DepartmentId(1), UserId(2), Channel::Portal)
        }
    };
    let owner = new.user;
    let log = create(TicketId(1), new, &Actor::User(owner), t0(), &dir, &policy).expect("valid start");
    (dir, policy, log)
}

// ---------------------------------------------------------------- invariants

fn is_deleted_or_spam(s: Status) -> bool {
    matches!(s, Status::Deleted | Status::Spam)
}

/// Invariants of a ticket and its log, whatever happened.
fn check_state(ticket: &Ticket, log: &[TicketEvent], dir: &DirectorySnapshot) -> Result<(), TestCaseError> {
    let folded =
        Ticket::from_events(log).map_err(|e| TestCaseError::fail(format!("log does not fold: {e}")))?;
    prop_assert_eq!(&folded, ticket, "rebuilding from the log differs from the incremental fold");
    prop_assert_eq!(ticket.version, log.len() as u64, "version is the log length");
    for (i, e) in log.iter().enumerate() {
        prop_assert_eq!(e.version, i as u64 + 1, "versions are consecutive from 1");
        prop_assert_eq!(e.ticket, ticket.id);
    }
    prop_assert!((1..=10).contains(&ticket.urgency.get()), "urgency {} out of range", ticket.urgency);
    prop_assert!(!ticket.ccs.contains(&ticket.user), "the owner {} is also a CC", ticket.user);
    prop_assert!(!ticket.subject.trim().is_empty());
    prop_assert!(dir.department(ticket.department).is_some(), "unknown department {}", ticket.department);
    if let Some(a) = ticket.agent {
        let agent = dir.agent(a).expect("assigned agents exist");
        prop_assert!(!agent.disabled, "assigned to a disabled agent");
        prop_assert!(
            agent.permissions.can_see(ticket.department),
            "assigned agent cannot see the department"
        );
    }
    // Every field value fits the current department's definition.
    let dept = dir.department(ticket.department).expect("checked");
    for (key, value) in &ticket.fields {
        let def = dept.field(key);
        prop_assert!(def.is_some_and(|d| d.check(value).is_ok()), "field {key:?} does not fit {}", dept.id);
    }
    // Posts share one numbering, 1..=n, without gaps.
    let mut ids: Vec<u32> =
        ticket.messages.iter().map(|m| m.id.0).chain(ticket.notes.iter().map(|n| n.id.0)).collect();
    ids.sort_unstable();
    prop_assert_eq!(ids, (1..=(ticket.messages.len() + ticket.notes.len()) as u32).collect::<Vec<_>>());
    prop_assert!(ticket.notes.iter().all(|n| n.agent.is_none_or(|a| dir.agent(a).is_some())));
    // The pre-hidden status is kept only while deleted or spam, and is one a
    // restore may return to: visible, or validating (a restore never skips
    // validation).
    if let Some(before) = ticket.status_before_hidden {
        prop_assert!(
            is_deleted_or_spam(ticket.status),
            "status_before_hidden set on a {} ticket",
            ticket.status
        );
        prop_assert!(!is_deleted_or_spam(before), "would restore to {}", before);
    }
    Ok(())
}

/// Invariants of one decision.
fn check_step(
    before: &Ticket,
    cmd: &Command,
    actor: &Actor,
    result: &Result<Vec<TicketEvent>, TicketError>,
    after: &Ticket,
    dir: &DirectorySnapshot,
) -> Result<(), TestCaseError> {
    let is_reply = matches!(cmd, Command::UserReply { .. } | Command::AgentReply { .. });
    if is_deleted_or_spam(before.status) && is_reply {
        prop_assert!(result.is_err(), "a {} ticket accepted a reply", before.status);
    }
    // Actors who may never change this ticket.
    let barred = match actor {
        Actor::User(u) => dir.user(*u).is_none() || !before.is_participant(*u),
        Actor::Agent(a) => {
            dir.agent(*a).is_none_or(|ag| ag.disabled || !ag.permissions.can_see(before.department))
        }
        Actor::System(_) => false,
    };
    if barred {
        prop_assert!(result.is_err(), "{actor} may not act on this ticket");
    }

    let events = match result {
        Err(e) => {
            prop_assert!(!e.to_string().trim().is_empty(), "error without a message: {e:?}");
            prop_assert_eq!(after, before, "a refused command changed the ticket");
            return Ok(());
        }
        Ok(events) => events,
    };
    for (i, e) in events.iter().enumerate() {
        prop_assert_eq!(e.version, before.version + i as u64 + 1, "new events continue the versions");
        prop_assert_eq!(&e.actor, actor, "events name the actor");
        match (&e.change, actor) {
            (Change::MessageAdded { message }, Actor::User(u)) => {
                prop_assert_eq!(message.author, Author::User(*u))
            }
            (Change::MessageAdded { message }, Actor::Agent(a)) => {
                prop_assert_eq!(message.author, Author::Agent(*a));
                prop_assert_eq!(message.channel, Channel::Agent);
            }
            (Change::MessageAdded { .. }, Actor::System(_)) => {
                prop_assert!(false, "the system wrote a message on an existing ticket")
            }
            (Change::NoteAdded { .. }, Actor::User(_)) => prop_assert!(false, "a user wrote a note"),
            (Change::NoteAdded { note }, Actor::Agent(a)) => prop_assert_eq!(note.agent, Some(*a)),
            (Change::NoteAdded { note }, Actor::System(_)) => prop_assert_eq!(note.agent, None),
            (Change::Status { from, to }, Actor::User(_)) => {
                prop_assert!(
                    matches!(to, Status::AwaitingAgent | Status::Resolved),
                    "a user set status {}",
                    to
                );
                prop_assert!(!from.is_hidden(), "a user moved the ticket out of {}", from);
            }
            (change, Actor::User(_)) => prop_assert!(false, "a user made a {} change", change.kind()),
            _ => {}
        }
        if let Change::Status { from, to } = &e.change {
            prop_assert_ne!(from, to, "a status event that changes nothing");
            // Only creation sets validating, or a restore of a ticket deleted
            // while it awaited validation.
            prop_assert!(
                *to != Status::Validating || matches!(cmd, Command::Restore),
                "only creation and restore set validating"
            );
        }
    }
    match cmd {
        Command::AgentReply { status: None, .. } => {
            prop_assert_eq!(after.status, Status::AwaitingUser, "an agent reply sets awaiting user")
        }
        Command::AgentReply { status: Some(s), .. } => prop_assert_eq!(after.status, *s),
        Command::UserReply { .. } if before.status == Status::Validating => {
            prop_assert_eq!(after.status, Status::Validating, "a reply does not validate")
        }
        Command::UserReply { .. } => {
            prop_assert_eq!(after.status, Status::AwaitingAgent, "a user reply sets awaiting agent")
        }
        Command::AddNote { .. } => prop_assert_eq!(after.status, before.status, "a note changed the status"),
        Command::SetStatus { status } => prop_assert_eq!(after.status, *status),
        Command::Delete => prop_assert_eq!(after.status, Status::Deleted),
        Command::MarkSpam => prop_assert_eq!(after.status, Status::Spam),
        Command::Restore => {
            prop_assert!(is_deleted_or_spam(before.status));
            prop_assert_eq!(after.status, before.status_before_hidden.unwrap_or(Status::AwaitingAgent));
        }
        _ => prop_assert_eq!(after.status, before.status, "{} changed the status", cmd.name()),
    }
    if events.is_empty() {
        prop_assert_eq!(after, before, "no events, yet the ticket changed");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random sessions on one ticket keep every invariant after every step.
    #[test]
    fn random_sessions_keep_the_invariants(
        start in start(),
        reopen in reopen(),
        steps in proptest::collection::vec(step(), 0..40),
    ) {
        let (dir, policy, mut log) = setup(start, reopen);
        let mut ticket = Ticket::from_events(&log).expect("start folds");
        check_state(&ticket, &log, &dir)?;
        for (i, (actor, cmd)) in steps.iter().enumerate() {
            let now = t0() + Duration::minutes(i as i64 + 1);
            let before = ticket.clone();
            let result = decide(&before, cmd, actor, now, &dir, &policy);
            // Deciding is pure: the same input gives the same answer.
            prop_assert_eq!(&result, &decide(&before, cmd, actor, now, &dir, &policy));
            if let Ok(events) = &result {
                for e in events {
                    prop_assert_eq!(e.at, now);
                    ticket.apply(e).map_err(|err| TestCaseError::fail(format!("event does not apply: {err}")))?;
                }
                log.extend(events.iter().cloned());
            }
            check_step(&before, cmd, actor, &result, &ticket, &dir)?;
            check_state(&ticket, &log, &dir)?;
        }
    }

    /// Random new tickets either are refused or give a `created` event and the
    /// first message, which fold to a consistent ticket.
    #[test]
    fn random_new_tickets(
        actor in actor(),
        subject in prop_oneof![Just("Help".to_string()), Just(" ".to_string()), Just("s".repeat(256))],
        body in body(),
        department in 1u64..=3,
        user in 1u64..=4,
        channel in channel(),
        agent in proptest::option::weighted(0.2, 1u64..=4),
        team in proptest::option::weighted(0.2, 1u64..=2),
        urgency in proptest::option::weighted(0.2, 1i64..=10),
        labels in proptest::collection::btree_set(label(), 0..=2),
        fields in proptest::collection::btree_map(
            select(vec!["account_number".to_string(), "plan".into(), "internal_score".into(), "colour".into()]),
            field_value(),
            0..=3,
        ),
        ccs in proptest::collection::btree_set(1u64..=4, 0..=2),
        attachments in attachments(),
        status in proptest::option::weighted(0.2, status()),
        require_validation in any::<bool>(),
        validated in any::<bool>(),
    ) {
        let mut dir = sample_directory();
        for u in dir.users.values_mut() {
            u.validated = validated;
        }
        let policy = Policy { require_validation, ..Policy::default() };
        let mut new = NewTicket::new(subject, body, DepartmentId(department), UserId(user), channel);
        new.agent = agent.map(AgentId);
        new.team = team.map(TeamId);
        new.urgency = urgency.map(|u| Urgency::new(u).expect("in range"));
        new.labels = labels;
        new.fields = fields;
        new.ccs = ccs.into_iter().map(UserId).collect();
        new.attachments = attachments;
        new.status = status;
        let result = create(TicketId(5), new.clone(), &actor, t0(), &dir, &policy);
        let Ok(events) = result else { return Ok(()) };
        prop_assert_eq!(events.len(), 2);
        prop_assert!(events.iter().all(|e| e.actor == actor && e.at == t0()));
        let t = Ticket::from_events(&events).expect("folds");
        check_state(&t, &events, &dir)?;
        prop_assert_eq!(t.messages.len(), 1);
        prop_assert!(t.notes.is_empty());
        prop_assert_eq!(t.user, new.user);
        if let Actor::User(u) = actor {
            prop_assert_eq!(u, new.user, "users open tickets only for themselves");
            prop_assert!(t.agent.is_none() && t.team.is_none() && t.labels.is_empty());
            prop_assert_eq!(t.urgency, policy.default_urgency);
            prop_assert!(channel != Channel::Agent);
            prop_assert!(!t.fields.contains_key("internal_score"), "a user set an agent-only field");
        }
        if t.status == Status::Validating {
            prop_assert!(require_validation && !validated && channel.needs_validation());
        } else {
            prop_assert!(!t.status.is_hidden(), "a new ticket started {}", t.status);
        }
        if require_validation && !validated && channel.needs_validation() && status.is_none() {
            prop_assert_eq!(t.status, Status::Validating);
        }
        if department == 2 {
            prop_assert!(t.fields.contains_key("account_number"), "Billing requires account_number");
        }
    }
}
