//! Shared by the filter tests: a fixed data set, brute force, rendering.
#![allow(dead_code)]

use chrono::Duration;
use helpdesk_core::filter::*;
use helpdesk_core::*;
use helpdesk_store::{Helpdesk, NewAgent};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

/// What a backend needs kept while its helpdesk lives (a directory, a database).
pub type Keep = Option<Box<dyn std::any::Any>>;

/// A helpdesk on each backend with a manual clock: memory, sled and, where
/// there is PostgreSQL (`helpdesk_store::pg::testing`), PostgreSQL.
pub fn backends() -> Vec<(&'static str, Helpdesk, Arc<ManualClock>, Keep)> {
    let mem_clock = Arc::new(ManualClock::default());
    let mem = Helpdesk::builder().clock(mem_clock.clone()).in_memory();
    let dir = tempfile::tempdir().unwrap();
    let sled_clock = Arc::new(ManualClock::default());
    let sled = Helpdesk::builder()
        .clock(sled_clock.clone())
        .durability(Durability::Buffered)
        .open(dir.path().join("db"))
        .unwrap();
    let mut out: Vec<(&'static str, Helpdesk, Arc<ManualClock>, Keep)> =
        vec![("memory", mem, mem_clock, None), ("sled", sled, sled_clock, Some(Box::new(dir)))];
    if let Some(db) = helpdesk_store::pg::testing::database() {
        let clock = Arc::new(ManualClock::default());
        let pg = Helpdesk::builder().clock(clock.clone()).postgres(db.url()).unwrap();
        out.push(("postgres", pg, clock, Some(Box::new(db))));
    }
    out
}

/// Ids of the fixed data set.
pub struct Fixture {
    pub departments: Vec<DepartmentId>,
    pub teams: Vec<TeamId>,
    pub agents: Vec<AgentId>,
    pub users: Vec<UserId>,
}

/// The fixed directory: 3 departments (Billing has a `plan` choice field), 2
/// teams, 4 agents (Alice admin in team 1; Bob sees Support and Sales, team 2;
/// Carol admin in both teams; Dave sees Billing only), 2 organisations, 6 users.
pub fn directory(hd: &Helpdesk) -> Fixture {
    let support = hd.create_department("Support", vec![]).unwrap();
    let billing = hd
        .create_department(
            "Billing",
            vec![FieldDef {
                key: "plan".into(),
                label: "Plan".into(),
                kind: FieldKind::Choice { options: vec!["basic".into(), "pro".into()] },
                required: false,
                agent_only: false,
                retired: false,
            }],
        )
        .unwrap();
    let sales = hd.create_department("Sales", vec![]).unwrap();
    let t1 = hd.create_team("Tier 1").unwrap();
    let t2 = hd.create_team("Tier 2").unwrap();
    let restricted = |ds: &[DepartmentId]| Permissions {
        admin: false,
        may_delete: true,
        may_reassign: true,
        departments: Some(ds.iter().copied().collect()),
        people: false,
    };
    let alice = hd.create_agent(NewAgent::new("Alice", "alice@hd.test").admin().teams([t1.id])).unwrap();
    let bob = hd
        .create_agent(
            NewAgent::new("Bob", "bob@hd.test")
                .teams([t2.id])
                .permissions(restricted(&[support.id, sales.id])),
        )
        .unwrap();
    let carol = hd
        .create_agent(
            NewAgent::new("Carol", "carol@hd.test").teams([t1.id, t2.id]).permissions(Permissions::admin()),
        )
        .unwrap();
    let dave = hd
        .create_agent(NewAgent::new("Dave", "dave@hd.test").permissions(restricted(&[billing.id])))
        .unwrap();
    hd.create_organisation("Acme", &["acme.com"]).unwrap();
    hd.create_organisation("Globex", &["globex.com"]).unwrap();
    let users: Vec<UserId> =
        ["ann@acme.com", "ben@acme.com", "gil@globex.com", "hal@globex.com", "ivy@mail.test", "jo@mail.test"]
            .iter()
            .map(|e| hd.create_user(NewUser::new(e.split('@').next().unwrap(), *e)).unwrap().id)
            .collect();
    Fixture {
        departments: vec![support.id, billing.id, sales.id],
        teams: vec![t1.id, t2.id],
        agents: vec![alice.id, bob.id, carol.id, dave.id],
        users,
    }
}

/// The fixed data set: [`directory`] and 36 tickets in a deterministic mix of
/// statuses, assignments, followers, urgencies, labels and fields.
pub fn fixture(hd: &Helpdesk, clock: &ManualClock) -> Fixture {
    let fx = directory(hd);
    let (depts, users) = (&fx.departments, &fx.users);
    let billing = depts[1];
    let [alice, bob, carol, dave] = [fx.agents[0], fx.agents[1], fx.agents[2], fx.agents[3]];
    let [t1, t2] = [fx.teams[0], fx.teams[1]];
    for i in 0..36u64 {
        clock.advance(Duration::minutes(7));
        let dept = depts[(i % 3) as usize];
        let user = users[(i % 6) as usize];
        let mut new = NewTicket::new(format!("Ticket {i:02}"), "Help", dept, user, Channel::Email);
        new.urgency = Some(Urgency::new(((i * 7) % 10 + 1) as i64).unwrap());
        if i % 4 == 0 {
            new.labels.insert("vip".into());
        }
        if i % 5 == 0 {
            new.labels.insert("billing-issue".into());
        }
        if dept == billing && i % 2 == 0 {
            new.fields
                .insert("plan".into(), FieldValue::Choice(if i % 4 == 0 { "pro" } else { "basic" }.into()));
        }
        let t = hd.create_ticket(&Actor::System(SystemActor::Helpdesk), new).unwrap();
        let admin = Actor::Agent(alice);
        // Assignment: agents who may see the department.
        let assignee = match i % 6 {
            0 | 1 => None,
            2 => Some(alice),
            3 => Some(carol),
            4 => Some(dave), // i % 6 == 4: always Billing
            _ => Some(bob),  // i % 6 == 5: always Sales
        };
        if let Some(a) = assignee {
            hd.execute(t.id, &admin, Command::AssignAgent { agent: Some(a) }).unwrap();
        }
        if i % 5 == 1 || i % 5 == 3 {
            let team = if i % 2 == 0 { t1 } else { t2 };
            hd.execute(t.id, &admin, Command::AssignTeam { team: Some(team) }).unwrap();
        }
        if i % 7 == 2 {
            hd.execute(t.id, &admin, Command::Follow { agent: carol }).unwrap();
        }
        if i % 9 == 4 {
            hd.execute(t.id, &admin, Command::Follow { agent: alice }).unwrap();
        }
        clock.advance(Duration::minutes(1));
        match i % 12 {
            1 | 7 => {
                hd.agent_reply(t.id, alice, "On it", None).unwrap();
            }
            5 => {
                hd.agent_reply(t.id, alice, "Waiting on vendor", Some(Status::Pending)).unwrap();
            }
            8 | 10 => {
                hd.agent_reply(t.id, alice, "Done", Some(Status::Resolved)).unwrap();
            }
            9 => {
                hd.agent_reply(t.id, alice, "Anything else?", None).unwrap();
                hd.user_reply(t.id, user, "Yes, one more thing").unwrap();
            }
            11 => {
                hd.execute(t.id, &admin, Command::MarkSpam).unwrap();
            }
            _ => {}
        }
        if i == 20 || i == 33 {
            hd.execute(t.id, &admin, Command::Delete).unwrap();
        }
    }
    fx
}

/// Every ticket's summary, from full states (not from the indexes).
pub fn all_summaries(hd: &Helpdesk) -> Vec<TicketSummary> {
    let Some(last) = hd.store().last_ticket_id().unwrap() else { return vec![] };
    (1..=last.0)
        .filter_map(|id| hd.store().ticket(TicketId(id)).unwrap())
        .map(|t| TicketSummary::from(&t))
        .collect()
}

/// Organisations of every user (the brute-force context).
pub fn organisations(hd: &Helpdesk) -> BTreeMap<UserId, OrganisationId> {
    let mut m = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = hd.store().records(RecordKind::User, after, 256).unwrap();
        let Some(last) = page.last() else { return m };
        after = last.key().1;
        for r in page {
            if let Record::User(u) = r {
                if let Some(o) = u.organisation {
                    m.insert(u.id, o);
                }
            }
        }
    }
}

/// Every ticket of a filter, by following cursors with pages of `limit`.
pub fn page_through(hd: &Helpdesk, agent: AgentId, f: &dyn Filter, limit: usize) -> Vec<TicketSummary> {
    let mut out = Vec::new();
    let mut cursor = None;
    for _ in 0..10_000 {
        let page = hd.filter_page(agent, f, cursor.as_ref(), limit).unwrap();
        assert!(page.tickets.len() <= limit);
        if !page.partial && page.next.is_some() {
            assert_eq!(page.tickets.len(), limit, "a page that is not the last nor partial is full");
        }
        out.extend(page.tickets.iter().map(|t| TicketSummary::clone(t)));
        match page.next {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
    panic!("no end of pages");
}

/// One line per ticket.
pub fn render(ts: &[TicketSummary]) -> String {
    let mut s = String::new();
    for t in ts {
        let who = match (t.agent, t.team) {
            (Some(a), Some(tm)) => format!("{a} {tm}"),
            (Some(a), None) => a.to_string(),
            (None, Some(tm)) => tm.to_string(),
            (None, None) => "unassigned".into(),
        };
        let labels: Vec<&str> = t.labels.iter().map(String::as_str).collect();
        writeln!(
            s,
            "  {} u{} {} {} {} {} [{}]",
            t.id,
            t.urgency,
            t.subject,
            t.status,
            t.department,
            who,
            labels.join(",")
        )
        .unwrap();
    }
    s
}
