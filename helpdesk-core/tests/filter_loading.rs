//! Custom filters load from JSON and TOML, and bad criteria are refused with
//! a message that names the problem.

use helpdesk_core::filter::*;
use helpdesk_core::testing::sample_ticket;
use helpdesk_core::*;

fn json_err(criteria: &str) -> String {
    let j = format!(r#"{{"name": "x", "criteria": {criteria}}}"#);
    serde_json::from_str::<CustomFilter>(&j).expect_err(&j).to_string()
}

#[test]
fn a_full_filter_loads_from_toml() {
    let f: CustomFilter = toml::from_str(
        r#"
        name = "Billing VIPs"
        sort = "oldest"
        [criteria]
        status = ["awaiting_agent", "pending"]
        department = [2]
        agent = ["me", "none", 7]
        team = ["mine", 3]
        followed_by = ["me"]
        user = [5]
        organisation = [1]
        urgency = { min = 5, max = 9 }
        labels = { all = ["VIP"], none = ["spam-ish"] }
        created = { from = "2026-01-01T00:00:00Z", to = "2026-02-01T00:00:00Z" }
        last_user_reply = { from = "2026-01-10T00:00:00Z" }
        [criteria.fields]
        plan = { one_of = ["pro"] }
        seats = { number = { min = 10 } }
        renewal = { date = { from = "2026-03-01", to = "2026-03-31" } }
        notes = { set = false }
        "#,
    )
    .unwrap();
    assert_eq!(f.sort, SortOrder::Oldest);
    let c = &f.criteria;
    assert_eq!(c.agent, vec![AgentRef::Me, AgentRef::None, AgentRef::Id(AgentId(7))]);
    assert_eq!(c.team, vec![TeamRef::Mine, TeamRef::Id(TeamId(3))]);
    assert_eq!(c.urgency, Some(UrgencyRange { min: 5, max: 9 }));
    assert_eq!(c.labels.all, vec!["vip"]);
    assert_eq!(c.fields["notes"], FieldCondition::Set(false));
    // JSON round trip of what was loaded.
    let back: CustomFilter = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
    assert_eq!(back, f);
}

#[test]
fn bad_criteria_name_the_problem() {
    for (criteria, needle) in [
        (r#"{"urgency": {"min": 0, "max": 11}}"#, "urgency range 0..=11 is out of bounds"),
        (r#"{"urgency": {"min": 8, "max": 3}}"#, "urgency range 8..=3 is empty"),
        (r#"{"urgency": {"least": 3}}"#, "unknown field `least`"),
        (r#"{"colour": "red"}"#, "unknown field `colour`"),
        (r#"{"status": ["open"]}"#, "unknown variant `open`"),
        (r#"{"agent": ["someone"]}"#, "unknown agent \"someone\""),
        (r#"{"agent": [0]}"#, "agent ids start at 1"),
        (r#"{"team": ["ours"]}"#, "unknown team \"ours\""),
        (r#"{"labels": {"any": ["  "]}}"#, "label"),
        (
            r#"{"created": {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}}"#,
            "`from` must be before `to`",
        ),
        (r#"{"created": {"from": "yesterday"}}"#, "input contains invalid characters"),
        (r#"{"fields": {"plan": {"one_of": []}}}"#, "`one_of` needs at least one value"),
        (r#"{"fields": {"seats": {"number": {"min": 5, "max": 1}}}}"#, "number range 5..=1 is empty"),
        (r#"{"fields": {"seats": {"between": 3}}}"#, "unknown variant `between`"),
    ] {
        let e = json_err(criteria);
        assert!(e.contains(needle), "{criteria}: {e:?} lacks {needle:?}");
    }
    let e = toml::from_str::<CustomFilter>("name = \"x\"\n[criteria]\nurgency = { min = 0 }\n").unwrap_err();
    assert!(e.to_string().contains("urgency range 0..=10 is out of bounds"), "{e}");
    let e = serde_json::from_str::<CustomFilter>(r#"{"name": "x", "sort": "random"}"#).unwrap_err();
    assert!(e.to_string().contains("unknown variant `random`"), "{e}");
}

#[test]
fn criteria_match_a_ticket() {
    let (t, _) = sample_ticket();
    let s = TicketSummary::from(&t);
    let me = Viewer { agent: AgentId(1), teams: [TeamId(1)].into(), departments: None };
    let f = |c: &str| -> CustomFilter {
        serde_json::from_str(&format!(r#"{{"name": "x", "criteria": {c}}}"#)).unwrap()
    };
    let yes = [
        "{}",
        r#"{"status": ["awaiting_agent"]}"#,
        r#"{"agent": ["none"], "team": ["none"]}"#,
        r#"{"user": [1], "urgency": {"max": 1}}"#,
        r#"{"followed_by": ["none"]}"#,
        r#"{"fields": {"plan": {"set": false}}}"#,
        r#"{"created": {"from": "2026-01-05T09:00:00Z"}}"#,
        r#"{"last_reply": {}}"#,
    ];
    let no = [
        r#"{"status": ["pending"]}"#,
        r#"{"agent": ["me"]}"#,
        r#"{"team": ["mine"]}"#,
        r#"{"urgency": {"min": 2}}"#,
        r#"{"labels": {"any": ["vip"]}}"#,
        r#"{"organisation": [1]}"#,
        r#"{"last_agent_reply": {}}"#,
        r#"{"created": {"to": "2026-01-05T09:00:00Z"}}"#,
    ];
    for c in yes {
        assert!(f(c).matches(&s, &me, &NoContext), "{c}");
    }
    for c in no {
        assert!(!f(c).matches(&s, &me, &NoContext), "{c}");
    }
    let orgs = std::collections::BTreeMap::from([(UserId(1), OrganisationId(1))]);
    assert!(f(r#"{"organisation": [1]}"#).matches(&s, &me, &orgs));
}

#[test]
fn plans_pick_indexes_that_cover_criteria() {
    let me = Viewer { agent: AgentId(4), teams: [TeamId(1), TeamId(2)].into(), departments: None };
    let f: CustomFilter =
        serde_json::from_str(r#"{"name": "x", "criteria": {"agent": ["me"], "status": ["pending"]}}"#)
            .unwrap();
    let plans = f.plans(&me);
    // The status plan post-filters the agent; the agent plan is exact.
    assert!(plans[0].post_filter);
    let exact: Vec<_> = plans.iter().filter(|p| !p.post_filter).collect();
    assert_eq!(exact.len(), 1);
    assert!(exact[0].counts_exactly());
    // Non-default sorts read the creation-order status streams only.
    let f = f.sorted(SortOrder::Newest);
    assert_eq!(f.plans(&me).len(), 1);
    // Built-ins are exact.
    for b in BuiltIn::ALL {
        assert!(b.plans(&me).iter().all(|p| p.counts_exactly()));
    }
}

#[test]
fn summaries_round_trip_through_their_codec() {
    let (mut t, _) = sample_ticket();
    t.fields.insert("n".into(), FieldValue::Number(2.5));
    t.fields.insert("d".into(), FieldValue::Date("2026-03-01".parse().unwrap()));
    t.fields.insert("c".into(), FieldValue::Choice("pro".into()));
    t.labels.insert("vip".into());
    t.followers.insert(AgentId(3));
    t.agent = Some(AgentId(9));
    t.last_agent_reply_at = Some(t.created_at + chrono::Duration::nanoseconds(1_234_567));
    let s = TicketSummary::from(&t);
    let bytes = s.encode();
    assert_eq!(TicketSummary::decode(&bytes).unwrap(), s);
    assert!(TicketSummary::decode(&bytes[..bytes.len() - 1]).is_err());
    assert!(TicketSummary::decode(&[9]).unwrap_err().contains("unknown summary format"));
}
