//! What a conflict is, end to end through `Helpdesk::execute_at`: random
//! interleavings of two agents, a user, the delivery worker and the SLA /
//! escalation sweep on one ticket. Each agent loads the ticket (remembers its
//! version) and later acts at that version. The expected verdict is worked
//! out here, independently of `helpdesk_core::concurrency`, from the log: an
//! action fails iff an event after its version, by someone else, is not
//! bookkeeping and changed what the action depends on.

use chrono::Duration;
use helpdesk_core::*;
use helpdesk_store::{Error, Helpdesk, NewAgent};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::sync::Arc;

/// A warning and failure clock (SLA events are bookkeeping), an escalation
/// raising the urgency (a rule's change: conflicts with urgency commands), a
/// trigger labelling warned tickets (a rule's label change).
const RULES: &str = r#"
[[sla]]
name = "First reply in 1h"
kind = "first_response"
warning = "30m"
failure = "1h"

[[escalations]]
name = "Waiting agents get urgent"
status = "awaiting_agent"
after = "20m"
repeat = { every = "20m", times = 20 }
actions = [{ action = "raise_urgency", by = 1 }]

[[triggers]]
name = "Label warned tickets"
on = ["sla_warning"]
actions = [{ action = "add_label", label = "a" }]
"#;

struct Fx {
    hd: Helpdesk,
    clock: Arc<ManualClock>,
    agents: [AgentId; 2],
    team: TeamId,
    ann: UserId,
    ben: UserId,
    ticket: TicketId,
    _dir: Option<tempfile::TempDir>,
}

fn fixture(sled: bool) -> Fx {
    let clock = Arc::new(ManualClock::default_start());
    let builder = Helpdesk::builder().clock(clock.clone()).durability(Durability::Buffered);
    let (hd, dir) = if sled {
        let dir = tempfile::tempdir().unwrap();
        (builder.open(dir.path().join("db")).unwrap(), Some(dir))
    } else {
        (builder.in_memory(), None)
    };
    let plan = FieldDef {
        key: "plan".into(),
        label: "Plan".into(),
        kind: FieldKind::Choice { options: vec!["basic".into(), "pro".into()] },
        required: false,
        agent_only: false,
        retired: false,
    };
    let support = hd.create_department("Support", vec![plan]).unwrap();
    let team = hd.create_team("Tier 1").unwrap().id;
    let alice = hd.create_agent(NewAgent::new("Alice", "alice@helpdesk.test").admin()).unwrap().id;
    let bob = hd.create_agent(NewAgent::new("Bob", "bob@helpdesk.test").admin()).unwrap().id;
    let ann = hd.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap().id;
    let ben = hd.create_user(NewUser::new("Ben", "ben@acme.com")).unwrap().id;
    hd.load_rules_toml(RULES).unwrap();
    let ticket = hd
        .create_ticket(
            &Actor::User(ann),
            NewTicket::new("Printer on fire", "Help!", support.id, ann, Channel::Portal),
        )
        .unwrap()
        .id;
    Fx { hd, clock, agents: [alice, bob], team, ann, ben, ticket, _dir: dir }
}

impl Fx {
    /// The delivery worker: completes up to `n` due outbox items.
    fn deliver(&self, n: usize) {
        for item in self.hd.due_outbox(self.clock.now(), n).unwrap() {
            self.hd.complete_delivery(&item, DeliveryOutcome::Sent).unwrap();
        }
    }

    /// The sweep: time passes, due escalations and SLA timers run.
    fn sweep(&self, minutes: i64) {
        self.clock.advance(Duration::minutes(minutes));
        self.hd.run_due(self.clock.now()).unwrap();
    }
}

/// An agent command, by index into a fixed menu (so that it can name the
/// fixture's agents, team and users).
#[derive(Debug, Clone)]
enum Cmd {
    Reply(Option<Status>),
    Note,
    SetStatus(Status),
    Assign(Option<usize>),
    Team(bool),
    Urgency(i64),
    Adjust(i64),
    Label(bool, &'static str),
    Cc(bool),
    Follow(bool),
    Subject(&'static str),
    Field(Option<&'static str>),
    Delete,
    Restore,
}

impl Cmd {
    fn command(&self, fx: &Fx, me: AgentId) -> Command {
        match self {
            Cmd::Reply(status) => {
                Command::AgentReply { body: "A reply".into(), attachments: vec![], status: *status }
            }
            Cmd::Note => Command::AddNote { body: "A note".into(), attachments: vec![] },
            Cmd::SetStatus(status) => Command::SetStatus { status: *status },
            Cmd::Assign(a) => Command::AssignAgent { agent: a.map(|i| fx.agents[i]) },
            Cmd::Team(on) => Command::AssignTeam { team: on.then_some(fx.team) },
            Cmd::Urgency(n) => Command::SetUrgency { urgency: Urgency::new(*n).unwrap() },
            Cmd::Adjust(by) => Command::AdjustUrgency { by: *by },
            Cmd::Label(true, l) => Command::AddLabel { label: l.to_string() },
            Cmd::Label(false, l) => Command::RemoveLabel { label: l.to_string() },
            Cmd::Cc(true) => Command::AddCc { user: fx.ben },
            Cmd::Cc(false) => Command::RemoveCc { user: fx.ben },
            Cmd::Follow(true) => Command::Follow { agent: me },
            Cmd::Follow(false) => Command::Unfollow { agent: me },
            Cmd::Subject(s) => Command::SetSubject { subject: s.to_string() },
            Cmd::Field(v) => {
                Command::SetField { key: "plan".into(), value: v.map(|v| FieldValue::Choice(v.to_string())) }
            }
            Cmd::Delete => Command::Delete,
            Cmd::Restore => Command::Restore,
        }
    }
}

/// The oracle: whether `change` (by someone else, after the version the
/// agent saw) changed what `cmd` depends on. Written out here on purpose,
/// not with `helpdesk_core::concurrency`.
fn clashes(cmd: &Command, change: &Change) -> bool {
    use Change as C;
    match cmd {
        Command::AgentReply { .. } | Command::AddNote { .. } | Command::UserReply { .. } => false,
        Command::SetStatus { .. } | Command::Delete | Command::MarkSpam | Command::Restore => {
            matches!(change, C::Status { .. })
        }
        Command::AssignAgent { .. } => matches!(change, C::Agent { .. }),
        Command::AssignTeam { .. } => matches!(change, C::Team { .. }),
        Command::SetUrgency { .. } | Command::AdjustUrgency { .. } => matches!(change, C::Urgency { .. }),
        Command::AddLabel { label } | Command::RemoveLabel { label } => {
            matches!(change, C::LabelAdded { label: l } | C::LabelRemoved { label: l } if l == label)
        }
        Command::AddCc { user } | Command::RemoveCc { user } => {
            matches!(change, C::CcAdded { user: u } | C::CcRemoved { user: u } if u == user)
        }
        Command::Follow { agent } | Command::Unfollow { agent } => {
            matches!(change, C::FollowerAdded { agent: a } | C::FollowerRemoved { agent: a } if a == agent)
        }
        Command::SetSubject { .. } => matches!(change, C::Subject { .. }),
        Command::SetField { key, .. } => matches!(change, C::Field { key: k, .. } if k == key),
        other => panic!("not in the menu: {other:?}"),
    }
}

fn bookkeeping(change: &Change) -> bool {
    matches!(
        change,
        Change::Queued { .. } | Change::Delivered { .. } | Change::Sla { .. } | Change::Escalation { .. }
    )
}

#[derive(Debug, Clone)]
enum Op {
    /// Agent `i` (re)loads the ticket.
    Load(usize),
    /// Agent `i` acts at the version they loaded; with `adopt`, their view
    /// becomes the ticket the action returned (as a UI that re-renders).
    Act(usize, Cmd, bool),
    /// Ann writes in (a person's change: the status goes to awaiting agent).
    UserReply,
    /// The delivery worker completes up to `n` due items.
    Deliver(usize),
    /// Time passes by `m` minutes and the sweep runs.
    Sweep(i64),
}

fn cmd() -> impl Strategy<Value = Cmd> {
    let status = prop_oneof![
        Just(Status::AwaitingAgent),
        Just(Status::AwaitingUser),
        Just(Status::Pending),
        Just(Status::Resolved)
    ];
    prop_oneof![
        3 => proptest::option::of(status.clone()).prop_map(Cmd::Reply),
        2 => Just(Cmd::Note),
        2 => status.prop_map(Cmd::SetStatus),
        2 => proptest::option::of(0..2usize).prop_map(Cmd::Assign),
        1 => any::<bool>().prop_map(Cmd::Team),
        2 => (1..=10i64).prop_map(Cmd::Urgency),
        1 => (-2..=2i64).prop_map(Cmd::Adjust),
        2 => (any::<bool>(), prop_oneof![Just("a"), Just("b")]).prop_map(|(on, l)| Cmd::Label(on, l)),
        1 => any::<bool>().prop_map(Cmd::Cc),
        1 => any::<bool>().prop_map(Cmd::Follow),
        1 => prop_oneof![Just("Printer on fire"), Just("Printer still on fire")].prop_map(Cmd::Subject),
        1 => proptest::option::of(prop_oneof![Just("basic"), Just("pro")]).prop_map(Cmd::Field),
        1 => Just(Cmd::Delete),
        1 => Just(Cmd::Restore),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..2usize).prop_map(Op::Load),
        6 => (0..2usize, cmd(), any::<bool>()).prop_map(|(i, c, adopt)| Op::Act(i, c, adopt)),
        1 => Just(Op::UserReply),
        3 => (1..6usize).prop_map(Op::Deliver),
        2 => (1..40i64).prop_map(Op::Sweep),
    ]
}

/// Counts of what happened, so a run can be checked to have exercised both
/// outcomes.
#[derive(Debug, Default)]
struct Tally {
    conflicts: usize,
    applied_after_others: usize,
}

fn run(fx: &Fx, ops: &[Op]) -> Tally {
    let id = fx.ticket;
    let mut seen = [fx.hd.ticket(id).unwrap().version; 2];
    let mut tally = Tally::default();
    for op in ops {
        match op {
            Op::Load(i) => seen[*i] = fx.hd.ticket(id).unwrap().version,
            Op::Deliver(n) => fx.deliver(*n),
            Op::Sweep(m) => fx.sweep(*m),
            Op::UserReply => {
                // Refused on a deleted ticket; either way the log must fold.
                let _ = fx.hd.user_reply(id, fx.ann, "Any news?");
            }
            Op::Act(i, c, adopt) => {
                let me = fx.agents[*i];
                let actor = Actor::Agent(me);
                let command = c.command(fx, me);
                let log = fx.hd.log(id).unwrap();
                let state = fx.hd.ticket(id).unwrap();
                let outbox = fx.hd.store().outbox(None, usize::MAX).unwrap();
                let culprits: BTreeSet<u64> = log
                    .iter()
                    .filter(|e| e.version > seen[*i] && e.actor != actor)
                    .filter(|e| !bookkeeping(&e.change) && clashes(&command, &e.change))
                    .map(|e| e.version)
                    .collect();
                let others_changed =
                    log.iter().any(|e| e.version > seen[*i] && e.actor != actor && !bookkeeping(&e.change));
                let r = fx.hd.execute_at(id, seen[*i], &actor, command.clone());
                match &r {
                    Err(Error::Conflict(c)) => {
                        assert!(!culprits.is_empty(), "{command:?} at v{} refused: {c}", seen[*i]);
                        let versions: BTreeSet<u64> = c.changes.iter().map(|c| c.version).collect();
                        assert_eq!(versions, culprits, "{c}");
                        assert_eq!((c.expected, c.actual), (seen[*i], state.version));
                        tally.conflicts += 1;
                    }
                    Err(Error::Ticket(_)) => {
                        // A domain refusal (restore of a visible ticket, a
                        // command on a deleted one): decided on the current
                        // state, never for a version.
                        assert!(culprits.is_empty(), "{command:?}: expected a conflict, got {r:?}");
                    }
                    Ok(t) => {
                        assert!(
                            culprits.is_empty(),
                            "{command:?} at v{} went through over {culprits:?}",
                            seen[*i]
                        );
                        if others_changed && t.version > state.version {
                            tally.applied_after_others += 1;
                        }
                        if *adopt {
                            seen[*i] = t.version;
                        }
                    }
                    Err(e) => panic!("{command:?}: unexpected {e}"),
                }
                if r.is_err() {
                    assert_eq!(fx.hd.log(id).unwrap(), log, "a refused action changes no log");
                    assert_eq!(fx.hd.ticket(id).unwrap(), state, "nor the ticket");
                    assert_eq!(fx.hd.store().outbox(None, usize::MAX).unwrap(), outbox, "nor the outbox");
                }
                if matches!(command, Command::AgentReply { .. } | Command::AddNote { .. }) {
                    assert!(!matches!(r, Err(Error::Conflict(_))), "appends never conflict: {r:?}");
                }
            }
        }
    }
    let log = fx.hd.log(id).unwrap();
    assert_eq!(
        Ticket::from_events(&log).unwrap(),
        fx.hd.ticket(id).unwrap(),
        "the ticket folds from its log"
    );
    tally
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn an_action_fails_iff_someone_else_changed_what_it_depends_on(
        ops in proptest::collection::vec(op(), 1..48)
    ) {
        run(&fixture(false), &ops);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn the_same_on_sled(ops in proptest::collection::vec(op(), 1..32)) {
        run(&fixture(true), &ops);
    }
}

/// The strategy reaches both outcomes: a test that could not fail would not
/// notice a `check` that never refuses, or always does.
#[test]
fn random_runs_see_conflicts_and_actions_over_others_changes() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = proptest::collection::vec(op(), 20..48);
    let mut total = Tally::default();
    for _ in 0..40 {
        let ops = strategy.new_tree(&mut runner).unwrap().current();
        let t = run(&fixture(false), &ops);
        total.conflicts += t.conflicts;
        total.applied_after_others += t.applied_after_others;
    }
    assert!(total.conflicts > 10, "{total:?}");
    assert!(total.applied_after_others > 10, "{total:?}");
}

/// The reported scenario: an agent replies, adds a note, assigns and raises
/// the urgency, every action at the version loaded before the reply, while
/// the delivery worker completes what the reply and the rest queued and the
/// SLA clock ticks. All succeed; the note's answer shows nothing missed.
#[test]
fn reply_then_note_assign_urgency_at_the_old_version_with_deliveries_between() {
    for sled in [false, true] {
        let fx = fixture(sled);
        let id = fx.ticket;
        let alice = Actor::Agent(fx.agents[0]);
        fx.deliver(100);
        let loaded = fx.hd.ticket(id).unwrap().version;

        let reply = Command::AgentReply { body: "Water, then.".into(), attachments: vec![], status: None };
        fx.hd.execute_at(id, loaded, &alice, reply).unwrap();
        fx.deliver(100);
        fx.sweep(35); // the SLA warns (bookkeeping) — already met by the reply, so nothing
        let note = Command::AddNote { body: "Called the fire brigade".into(), attachments: vec![] };
        let done = fx.hd.execute_seen(id, loaded, &alice, note).unwrap();
        assert!(done.missed.is_empty(), "{:?}", done.missed);
        fx.deliver(100);
        fx.hd.execute_at(id, loaded, &alice, Command::AssignAgent { agent: Some(fx.agents[0]) }).unwrap();
        fx.deliver(100);
        let t = fx.hd.execute_at(id, loaded, &alice, Command::AdjustUrgency { by: 2 }).unwrap();
        assert_eq!((t.agent, t.urgency.get(), t.status), (Some(fx.agents[0]), 3, Status::AwaitingUser));
        let log = fx.hd.log(id).unwrap();
        assert!(log.iter().any(|e| matches!(e.change, Change::Delivered { .. })), "deliveries were logged");
        assert_eq!(Ticket::from_events(&log).unwrap(), t);

        // Bob, at the same old version, may still label it; not re-assign it.
        let bob = Actor::Agent(fx.agents[1]);
        fx.hd.execute_at(id, loaded, &bob, Command::AddLabel { label: "fire".into() }).unwrap();
        let err = fx.hd.execute_at(id, loaded, &bob, Command::AssignAgent { agent: None }).unwrap_err();
        let Error::Conflict(c) = err else { panic!("{err}") };
        assert_eq!(c.changes.iter().map(|c| c.actor.clone()).collect::<Vec<_>>(), vec![alice.clone()]);
        // And his reply tells him what he missed: Alice's reply and note.
        let reply = Command::AgentReply { body: "Extinguisher?".into(), attachments: vec![], status: None };
        let done = fx.hd.execute_seen(id, loaded, &bob, reply).unwrap();
        assert_eq!(done.missed.len(), 2, "{:?}", done.missed);
    }
}

/// Racing writers: two agents acting at one old version on different
/// aspects, a user writing in and the delivery worker, all at once. Commits
/// that land between an action's check and its commit make it check again
/// and decide again: nothing is lost and nothing fails.
#[test]
fn racing_writers_on_different_aspects_all_succeed() {
    for sled in [false, true] {
        let fx = Arc::new(fixture(sled));
        let id = fx.ticket;
        let loaded = fx.hd.ticket(id).unwrap().version;
        let n: usize = 25;
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let mut handles = Vec::new();
        for i in 0..2 {
            let (fx, barrier) = (fx.clone(), barrier.clone());
            handles.push(std::thread::spawn(move || {
                let actor = Actor::Agent(fx.agents[i]);
                barrier.wait();
                for k in 0..n {
                    let cmd = if k % 2 == 0 {
                        Command::AddLabel { label: format!("agent{i}-{k}") }
                    } else {
                        Command::AddNote { body: format!("note {k} by {i}"), attachments: vec![] }
                    };
                    fx.hd.execute_at(id, loaded, &actor, cmd).unwrap();
                }
            }));
        }
        let (fx2, b2) = (fx.clone(), barrier.clone());
        handles.push(std::thread::spawn(move || {
            b2.wait();
            for _ in 0..n {
                fx2.hd.user_reply(id, fx2.ann, "Still burning").unwrap();
            }
        }));
        let (fx3, b3) = (fx.clone(), barrier.clone());
        handles.push(std::thread::spawn(move || {
            b3.wait();
            for _ in 0..4 * n {
                fx3.deliver(3);
            }
        }));
        for h in handles {
            h.join().unwrap();
        }
        let t = fx.hd.ticket(id).unwrap();
        assert_eq!(t.labels.len(), 2 * n.div_ceil(2));
        assert_eq!(t.notes.len(), 2 * (n / 2));
        assert_eq!(t.messages.len(), 1 + n);
        assert_eq!(Ticket::from_events(&fx.hd.log(id).unwrap()).unwrap(), t);
    }
}
