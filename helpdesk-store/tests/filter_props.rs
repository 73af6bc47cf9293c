//! Property: after any sequence of commands, index-backed filter pages and
//! counts equal a brute-force scan of every ticket, for every agent, in both
//! backends.

mod support;

use chrono::{Duration, TimeZone, Utc};
use helpdesk_core::filter::*;
use helpdesk_core::index::{counter_owner_prefix, Family, Stream};
use helpdesk_core::*;
use helpdesk_store::Helpdesk;
use proptest::prelude::*;
use std::sync::Arc;
use support::*;

#[derive(Debug, Clone)]
enum Op {
    Create {
        dept: usize,
        user: usize,
        urgency: i64,
        agent: Option<usize>,
        label: Option<usize>,
        by_agent: bool,
    },
    Assign {
        t: usize,
        agent: Option<usize>,
    },
    Team {
        t: usize,
        team: Option<usize>,
    },
    Follow {
        t: usize,
        agent: usize,
        on: bool,
    },
    Status {
        t: usize,
        status: usize,
    },
    Urgency {
        t: usize,
        urgency: i64,
    },
    Label {
        t: usize,
        label: usize,
        on: bool,
    },
    UserReply {
        t: usize,
    },
    AgentReply {
        t: usize,
        resolve: bool,
    },
    Department {
        t: usize,
        dept: usize,
    },
    Delete {
        t: usize,
    },
    Spam {
        t: usize,
    },
    Restore {
        t: usize,
    },
    Purge {
        t: usize,
    },
    Tick {
        minutes: i64,
    },
}

const LABELS: [&str; 3] = ["vip", "bug", "refund"];

fn op() -> impl Strategy<Value = Op> {
    let t = 0..64usize;
    prop_oneof![
        12 => (0..3usize, 0..6usize, 1..=10i64, proptest::option::of(0..4usize), proptest::option::of(0..3usize), any::<bool>())
            .prop_map(|(dept, user, urgency, agent, label, by_agent)| Op::Create { dept, user, urgency, agent, label, by_agent }),
        2 => (t.clone(), proptest::option::of(0..4usize)).prop_map(|(t, agent)| Op::Assign { t, agent }),
        2 => (t.clone(), proptest::option::of(0..2usize)).prop_map(|(t, team)| Op::Team { t, team }),
        1 => (t.clone(), 0..4usize, any::<bool>()).prop_map(|(t, agent, on)| Op::Follow { t, agent, on }),
        2 => (t.clone(), 0..7usize).prop_map(|(t, status)| Op::Status { t, status }),
        2 => (t.clone(), 1..=10i64).prop_map(|(t, urgency)| Op::Urgency { t, urgency }),
        1 => (t.clone(), 0..3usize, any::<bool>()).prop_map(|(t, label, on)| Op::Label { t, label, on }),
        1 => t.clone().prop_map(|t| Op::UserReply { t }),
        1 => (t.clone(), any::<bool>()).prop_map(|(t, resolve)| Op::AgentReply { t, resolve }),
        1 => (t.clone(), 0..3usize).prop_map(|(t, dept)| Op::Department { t, dept }),
        1 => t.clone().prop_map(|t| Op::Delete { t }),
        1 => t.clone().prop_map(|t| Op::Spam { t }),
        1 => t.clone().prop_map(|t| Op::Restore { t }),
        1 => t.clone().prop_map(|t| Op::Purge { t }),
        1 => (0..3i64).prop_map(|minutes| Op::Tick { minutes }),
    ]
}

fn agent_ref() -> impl Strategy<Value = AgentRef> {
    prop_oneof![Just(AgentRef::Me), Just(AgentRef::None), (1..=4u64).prop_map(|a| AgentRef::Id(AgentId(a)))]
}

fn team_ref() -> impl Strategy<Value = TeamRef> {
    prop_oneof![Just(TeamRef::Mine), Just(TeamRef::None), (1..=2u64).prop_map(|t| TeamRef::Id(TeamId(t)))]
}

/// Each criterion is present with probability `P`, so that filters combine a
/// few criteria and still match tickets.
const P: f64 = 0.3;

fn maybe<T: std::fmt::Debug + Clone + Default>(s: impl Strategy<Value = T>) -> impl Strategy<Value = T> {
    proptest::option::weighted(P, s).prop_map(Option::unwrap_or_default)
}

fn custom() -> impl Strategy<Value = CustomFilter> {
    let statuses = maybe(proptest::sample::subsequence(Status::ALL.to_vec(), 1..=3));
    let depts =
        maybe(proptest::sample::subsequence(vec![DepartmentId(1), DepartmentId(2), DepartmentId(3)], 1..=2));
    let urgency = proptest::option::weighted(
        P,
        (1..=10u8, 0..=9u8).prop_map(|(min, span)| UrgencyRange { min, max: (min + span).min(10) }),
    );
    let labels = (proptest::option::weighted(P, 0..3usize), proptest::option::weighted(P / 2.0, 0..3usize));
    let created = proptest::option::weighted(P, (0..40i64, 1..40i64));
    let sort = prop_oneof![Just(SortOrder::Urgency), Just(SortOrder::Oldest), Just(SortOrder::Newest)];
    (
        statuses,
        depts,
        maybe(proptest::collection::vec(agent_ref(), 1..=2)),
        maybe(proptest::collection::vec(team_ref(), 1..=2)),
        maybe(proptest::collection::vec(agent_ref(), 1..=1)),
        maybe(proptest::collection::vec((1..=6u64).prop_map(UserId), 1..=2)),
        urgency,
        labels,
        created,
        sort,
    )
        .prop_map(
            |(status, department, agent, team, followed_by, user, urgency, label, created, sort)| {
                let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
                CustomFilter {
                    name: "generated".into(),
                    criteria: Criteria {
                        status,
                        department,
                        agent,
                        team,
                        followed_by,
                        user,
                        urgency,
                        labels: LabelCriteria {
                            any: label
                                .0
                                .map(|l| vec![LABELS[l].to_string(), LABELS[(l + 1) % 3].to_string()])
                                .unwrap_or_default(),
                            all: label.1.map(|l| vec![LABELS[l].to_string()]).unwrap_or_default(),
                            ..Default::default()
                        },
                        created: created.map(|(from, len)| TimeRange {
                            from: Some(t0 + Duration::minutes(from)),
                            to: Some(t0 + Duration::minutes(from + len)),
                        }),
                        ..Default::default()
                    },
                    sort,
                }
            },
        )
}

fn run(hd: &Helpdesk, clock: &ManualClock, fx: &Fixture, ops: &[Op]) -> Vec<TicketId> {
    let admin = Actor::Agent(fx.agents[0]);
    let mut tickets: Vec<TicketId> = Vec::new();
    let pick = |ts: &Vec<TicketId>, i: usize| if ts.is_empty() { None } else { Some(ts[i % ts.len()]) };
    for (n, op) in ops.iter().enumerate() {
        // Read lists between writes, so the stores' caches of list heads
        // are filled and then kept up to date by the commits that follow.
        if n % 4 == 0 {
            for &a in &fx.agents {
                for b in [BuiltIn::All, BuiltIn::MyTickets, BuiltIn::AwaitingUser, BuiltIn::Unassigned] {
                    hd.filter_page(a, &b, None, 2).unwrap();
                }
            }
        }
        // Refused commands are fine: they must change nothing.
        let _ = match op.clone() {
            Op::Create { dept, user, urgency, agent, label, by_agent } => {
                let mut n = NewTicket::new("t", "b", fx.departments[dept], fx.users[user], Channel::Email);
                let actor = if by_agent {
                    n.channel = Channel::Agent;
                    n.urgency = Some(Urgency::new(urgency).unwrap());
                    n.agent = agent.map(|a| fx.agents[a]);
                    n.labels.extend(label.map(|l| LABELS[l].to_string()));
                    admin.clone()
                } else {
                    Actor::User(fx.users[user])
                };
                hd.create_ticket(&actor, n).map(|t| tickets.push(t.id))
            }
            Op::Tick { minutes } => {
                clock.advance(Duration::minutes(minutes));
                Ok(())
            }
            op => {
                let t = match &op {
                    Op::Assign { t, .. }
                    | Op::Team { t, .. }
                    | Op::Follow { t, .. }
                    | Op::Status { t, .. }
                    | Op::Urgency { t, .. }
                    | Op::Label { t, .. }
                    | Op::UserReply { t }
                    | Op::AgentReply { t, .. }
                    | Op::Department { t, .. }
                    | Op::Delete { t }
                    | Op::Spam { t }
                    | Op::Restore { t }
                    | Op::Purge { t } => *t,
                    _ => unreachable!(),
                };
                let Some(id) = pick(&tickets, t) else { continue };
                let cmd = match op {
                    Op::Assign { agent, .. } => Command::AssignAgent { agent: agent.map(|a| fx.agents[a]) },
                    Op::Team { team, .. } => Command::AssignTeam { team: team.map(|t| fx.teams[t]) },
                    Op::Follow { agent, on: true, .. } => Command::Follow { agent: fx.agents[agent] },
                    Op::Follow { agent, on: false, .. } => Command::Unfollow { agent: fx.agents[agent] },
                    Op::Status { status, .. } => Command::SetStatus { status: Status::ALL[status] },
                    Op::Urgency { urgency, .. } => {
                        Command::SetUrgency { urgency: Urgency::new(urgency).unwrap() }
                    }
                    Op::Label { label, on: true, .. } => Command::AddLabel { label: LABELS[label].into() },
                    Op::Label { label, on: false, .. } => {
                        Command::RemoveLabel { label: LABELS[label].into() }
                    }
                    Op::UserReply { .. } => {
                        let owner = hd.ticket(id).map(|t| t.user);
                        let _ = owner.map(|u| hd.user_reply(id, u, "more"));
                        continue;
                    }
                    Op::AgentReply { resolve, .. } => Command::AgentReply {
                        body: "ok".into(),
                        attachments: vec![],
                        status: resolve.then_some(Status::Resolved),
                    },
                    Op::Department { dept, .. } => {
                        Command::SetDepartment { department: fx.departments[dept] }
                    }
                    Op::Delete { .. } => Command::Delete,
                    Op::Spam { .. } => Command::MarkSpam,
                    Op::Restore { .. } => Command::Restore,
                    Op::Purge { .. } => {
                        let _ = hd.purge(id, &admin);
                        continue;
                    }
                    _ => unreachable!(),
                };
                hd.execute(id, &admin, cmd).map(|_| ())
            }
        };
    }
    tickets
}

fn check(hd: &Helpdesk, fx: &Fixture, customs: &[CustomFilter], limit: usize) {
    let all = all_summaries(hd);
    let orgs = organisations(hd);
    // Stored summaries are the states' summaries.
    for s in &all {
        assert_eq!(hd.store().summary(s.id).unwrap().as_ref(), Some(s));
    }
    // The status-family counters add up to the global status counters.
    for st in Status::ALL {
        let by_stream: i64 = hd
            .store()
            .scan_counters(&counter_owner_prefix(Family::Status, 0))
            .unwrap()
            .iter()
            .filter(|(k, _)| Stream::of_counter(k).is_some_and(|s| s.status == st))
            .map(|(_, n)| n)
            .sum();
        assert_eq!(by_stream, hd.count_by_status(st).unwrap(), "{st}");
        assert_eq!(by_stream as usize, all.iter().filter(|t| t.status == st).count());
    }
    for &agent in &fx.agents {
        let viewer = hd.viewer(agent).unwrap();
        let counts = hd.filter_counts(agent).unwrap();
        for (b, n) in counts {
            let expected = brute_force(&b, &viewer, &orgs, &all);
            assert_eq!(page_through(hd, agent, &b, limit), expected, "{agent} {b}");
            assert_eq!(n as usize, expected.len(), "{agent} count of {b}");
        }
        for f in customs {
            let expected = brute_force(f, &viewer, &orgs, &all);
            assert_eq!(page_through(hd, agent, f, limit), expected, "{agent} {f:?}");
            let c = hd.filter_count(agent, f).unwrap();
            assert_eq!(c, FilterCount { count: expected.len() as u64, exact: true }, "{agent} {f:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn memory_pages_and_counts_equal_brute_force(
        ops in proptest::collection::vec(op(), 20..90),
        customs in proptest::collection::vec(custom(), 3),
        limit in 1..6usize,
    ) {
        let clock = Arc::new(ManualClock::default());
        let hd = Helpdesk::builder().clock(clock.clone()).in_memory();
        let fx = directory(&hd);
        run(&hd, &clock, &fx, &ops);
        check(&hd, &fx, &customs, limit);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn sled_pages_and_counts_equal_brute_force(
        ops in proptest::collection::vec(op(), 20..90),
        customs in proptest::collection::vec(custom(), 2),
        limit in 1..6usize,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::default());
        let hd = Helpdesk::builder()
            .clock(clock.clone())
            .durability(Durability::Buffered)
            .open(dir.path().join("db"))
            .unwrap();
        let fx = directory(&hd);
        run(&hd, &clock, &fx, &ops);
        check(&hd, &fx, &customs, limit);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// The same on PostgreSQL: its pages are index range reads (the
    /// all-department streams from their own table) and its counts come
    /// from counter rows.
    #[test]
    fn postgres_pages_and_counts_equal_brute_force(
        ops in proptest::collection::vec(op(), 20..90),
        customs in proptest::collection::vec(custom(), 2),
        limit in 1..6usize,
    ) {
        let Some(db) = helpdesk_store::pg::testing::database() else { return Ok(()) };
        let clock = Arc::new(ManualClock::default());
        let hd = Helpdesk::builder()
            .clock(clock.clone())
            .durability(Durability::Buffered)
            .postgres(db.url())
            .unwrap();
        let fx = directory(&hd);
        run(&hd, &clock, &fx, &ops);
        check(&hd, &fx, &customs, limit);
    }
}
