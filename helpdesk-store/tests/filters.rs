//! Filters on a fixed data set, in both backends, against one set of snapshots.

mod support;

use helpdesk_core::filter::*;
use helpdesk_core::*;
use helpdesk_store::Error;
use std::fmt::Write;
use support::*;

fn customs() -> Vec<CustomFilter> {
    let json = [
        r#"{"name": "vip awaiting agent", "criteria": {"status": ["awaiting_agent"], "labels": {"any": ["VIP"]}}}"#,
        r#"{"name": "my open tickets, oldest first", "criteria": {"agent": ["me"], "status": ["awaiting_agent", "awaiting_user", "pending"]}, "sort": "oldest"}"#,
        r#"{"name": "urgent, newest first", "criteria": {"urgency": {"min": 7}}, "sort": "newest"}"#,
        r#"{"name": "low urgency, newest first", "criteria": {"urgency": {"max": 5}, "status": ["awaiting_agent", "resolved"]}, "sort": "newest"}"#,
        r#"{"name": "billing pro plan", "criteria": {"department": [2], "fields": {"plan": {"one_of": ["pro"]}}}}"#,
        r#"{"name": "acme", "criteria": {"organisation": [1]}}"#,
        r#"{"name": "team 2 or none, no vip", "criteria": {"team": [2, "none"], "labels": {"none": ["vip"]}}}"#,
        r#"{"name": "my teams' hidden", "criteria": {"team": ["mine"], "status": ["spam", "deleted"]}}"#,
        r#"{"name": "followed by carol", "criteria": {"followed_by": [3]}}"#,
        r#"{"name": "user 1 and 3", "criteria": {"user": [1, 3], "status": []}}"#,
        r#"{"name": "unassigned any status", "criteria": {"agent": ["none"], "team": ["none"], "status": ["awaiting_agent", "awaiting_user", "pending", "resolved", "spam", "deleted"]}}"#,
        r#"{"name": "created in a window", "criteria": {"created": {"from": "2026-01-05T10:00:00Z", "to": "2026-01-05T12:00:00Z"}}}"#,
        r#"{"name": "replied to by a user", "criteria": {"last_user_reply": {}}}"#,
    ];
    json.iter().map(|j| serde_json::from_str(j).unwrap_or_else(|e| panic!("{j}: {e}"))).collect()
}

/// Every built-in and custom filter for every agent: pages (through cursors,
/// in pages of 4) and counts, checked against brute force, rendered.
fn render_all(hd: &helpdesk_store::Helpdesk, fx: &Fixture) -> String {
    let all = all_summaries(hd);
    let orgs = organisations(hd);
    let mut out = String::new();
    for &agent in &fx.agents {
        let viewer = hd.viewer(agent).unwrap();
        let name = hd.agent(agent).unwrap().name;
        writeln!(out, "== {name} ({agent})").unwrap();
        let counts = hd.filter_counts(agent).unwrap();
        for (b, n) in &counts {
            let list = page_through(hd, agent, b, 4);
            assert_eq!(list, brute_force(b, &viewer, &orgs, &all), "{name}: {b}");
            assert_eq!(*n as usize, list.len(), "{name}: count of {b}");
            assert_eq!(hd.filter_count(agent, b).unwrap(), FilterCount { count: *n, exact: true });
            writeln!(out, "{b} ({n})").unwrap();
            out.push_str(&render(&list));
        }
        for f in customs() {
            let list = page_through(hd, agent, &f, 4);
            assert_eq!(list, brute_force(&f, &viewer, &orgs, &all), "{name}: {}", f.name);
            let c = hd.filter_count(agent, &f).unwrap();
            assert_eq!(c, FilterCount { count: list.len() as u64, exact: true }, "{name}: {}", f.name);
            writeln!(out, "custom {:?} ({})", f.name, c.count).unwrap();
            out.push_str(&render(&list));
        }
    }
    out
}

#[test]
fn filters_on_the_fixed_data_set_match_the_snapshot_in_both_backends() {
    let mut renders = Vec::new();
    for (name, hd, clock, _dir) in backends() {
        let fx = fixture(&hd, &clock);
        let text = render_all(&hd, &fx);
        insta::assert_snapshot!("filters_fixed_data_set", text);
        renders.push((name, text));
    }
    for (name, text) in &renders[1..] {
        assert_eq!(&renders[0].1, text, "memory and {name} differ");
    }
}

#[test]
fn department_permissions_hide_tickets_everywhere() {
    for (_, hd, clock, _dir) in backends() {
        let fx = fixture(&hd, &clock);
        let dave = fx.agents[3]; // Billing only
        let all =
            CustomFilter::new("everything", Criteria { status: Status::ALL.to_vec(), ..Default::default() });
        let seen = page_through(&hd, dave, &all, 50);
        assert!(!seen.is_empty());
        assert!(seen.iter().all(|t| t.department == DepartmentId(2)));
        // Asking for another department explicitly does not widen it.
        let support = CustomFilter::new(
            "support",
            Criteria { department: vec![DepartmentId(1)], ..Default::default() },
        );
        assert!(page_through(&hd, dave, &support, 10).is_empty());
        assert_eq!(hd.filter_count(dave, &support).unwrap().count, 0);
        let total: u64 = hd.filter_counts(dave).unwrap().iter().skip(4).map(|(_, n)| n).sum();
        assert_eq!(total as usize, seen.len());
    }
}

#[test]
fn bad_requests_get_typed_errors() {
    for (_, hd, clock, _dir) in backends() {
        let fx = fixture(&hd, &clock);
        let alice = fx.agents[0];
        assert!(matches!(
            hd.filter_page(alice, &BuiltIn::All, None, 0),
            Err(Error::Filter(FilterError::PageSize { got: 0, .. }))
        ));
        assert!(matches!(
            hd.filter_page(alice, &BuiltIn::All, None, MAX_PAGE + 1),
            Err(Error::Filter(FilterError::PageSize { .. }))
        ));
        let page = hd.filter_page(alice, &BuiltIn::All, None, 2).unwrap();
        let newest = CustomFilter::new("n", Criteria::default()).sorted(SortOrder::Newest);
        assert!(matches!(
            hd.filter_page(alice, &newest, page.next.as_ref(), 2),
            Err(Error::Filter(FilterError::CursorOrder { .. }))
        ));
        assert!(matches!(hd.filter_counts(AgentId(99)), Err(Error::Ticket(TicketError::UnknownAgent(_)))));
    }
}

#[test]
fn a_cursor_survives_changes_to_the_list() {
    for (_, hd, clock, _dir) in backends() {
        let fx = fixture(&hd, &clock);
        let alice = fx.agents[0];
        let first = hd.filter_page(alice, &BuiltIn::All, None, 3).unwrap();
        // The first ticket of the next page is resolved meanwhile; a new
        // urgent ticket arrives above the cursor.
        let rest_before = page_through(&hd, alice, &BuiltIn::All, 50);
        let gone = rest_before[3].id;
        hd.agent_reply(gone, alice, "fixed", Some(Status::Resolved)).unwrap();
        let mut urgent = NewTicket::new("Fire", "!", DepartmentId(1), UserId(1), Channel::Agent);
        urgent.urgency = Some(Urgency::MAX);
        urgent.status = Some(Status::AwaitingAgent);
        hd.create_ticket(&Actor::Agent(alice), urgent).unwrap();
        let second = hd.filter_page(alice, &BuiltIn::All, first.next.as_ref(), 3).unwrap();
        let expected: Vec<_> = rest_before[4..7].iter().map(|t| t.id).collect();
        assert_eq!(second.tickets.iter().map(|t| t.id).collect::<Vec<_>>(), expected);
    }
}

#[test]
fn a_page_that_post_filters_stops_at_the_budget_with_a_cursor() {
    let hd = helpdesk_store::Helpdesk::builder().in_memory();
    let d = hd.create_department("D", vec![]).unwrap();
    let a = hd.create_agent(helpdesk_store::NewAgent::new("A", "a@x.test").admin()).unwrap();
    let u = hd.create_user(NewUser::new("U", "u@x.test")).unwrap();
    let n = EXAMINE_BUDGET + 10;
    let mut last = None;
    for i in 0..n {
        let t = NewTicket::new(format!("t{i}"), "b", d.id, u.id, Channel::Api);
        last = Some(hd.create_ticket(&Actor::User(u.id), t).unwrap().id);
    }
    // The only ticket an agent replied to is the newest one, last in the list (and
    // no index covers "replied to by an agent").
    hd.agent_reply(last.unwrap(), a.id, "hi", Some(Status::AwaitingAgent)).unwrap();
    let f: CustomFilter =
        serde_json::from_str(r#"{"name": "needle", "criteria": {"last_agent_reply": {}}, "sort": "oldest"}"#)
            .unwrap();
    let p1 = hd.filter_page(a.id, &f, None, 25).unwrap();
    assert!(p1.partial && p1.tickets.is_empty() && p1.examined == EXAMINE_BUDGET);
    let p2 = hd.filter_page(a.id, &f, p1.next.as_ref(), 25).unwrap();
    assert_eq!(p2.tickets.len(), 1);
    assert!(p2.next.is_none() && !p2.partial);
    // Counting is bounded too, and says when it is exact.
    assert_eq!(hd.filter_count(a.id, &f).unwrap(), FilterCount { count: 1, exact: true });
}

#[test]
fn list_heads_stay_exact_while_tickets_change() {
    use helpdesk_store::KvStore;
    for (_, hd, clock, _dir) in backends() {
        let fx = directory(&hd);
        let alice = fx.agents[0];
        let admin = Actor::Agent(alice);
        let mut ids = Vec::new();
        for i in 0..150i64 {
            clock.advance(chrono::Duration::seconds(1));
            let mut t = NewTicket::new(format!("t{i}"), "b", fx.departments[0], fx.users[0], Channel::Agent);
            t.urgency = Some(Urgency::new(i % 10 + 1).unwrap());
            t.status = Some(Status::AwaitingAgent);
            ids.push(hd.create_ticket(&admin, t).unwrap().id);
        }
        let check = |hd: &helpdesk_store::Helpdesk| {
            let all = all_summaries(hd);
            let v = hd.viewer(alice).unwrap();
            let expected = brute_force(&BuiltIn::All, &v, &NoContext, &all);
            let first = hd.filter_page(alice, &BuiltIn::All, None, 25).unwrap();
            let first: Vec<TicketSummary> = first.tickets.iter().map(|t| TicketSummary::clone(t)).collect();
            assert_eq!(first, expected[..25.min(expected.len())].to_vec());
            assert_eq!(page_through(hd, alice, &BuiltIn::All, 7), expected);
        };
        check(&hd); // fills the head of the stream (more than it holds)
        for (n, id) in ids.iter().enumerate().step_by(3) {
            match n % 4 {
                0 => hd.agent_reply(*id, alice, "done", Some(Status::Resolved)).map(|_| ()).unwrap(),
                1 => hd
                    .execute(*id, &admin, Command::SetUrgency { urgency: Urgency::MAX })
                    .map(|_| ())
                    .unwrap(),
                2 => hd
                    .execute(*id, &admin, Command::SetUrgency { urgency: Urgency::MIN })
                    .map(|_| ())
                    .unwrap(),
                _ => hd.execute(*id, &admin, Command::Delete).map(|_| ()).unwrap_or(()),
            }
            if n % 10 == 0 {
                check(&hd);
            }
        }
        check(&hd);
        let _ = std::marker::PhantomData::<KvStore<helpdesk_store::MemEngine>>;
    }
}
