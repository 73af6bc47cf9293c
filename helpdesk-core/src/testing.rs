//! Fixed sample data for examples and tests: a small directory and a ticket.

use crate::*;
use chrono::{DateTime, TimeZone, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// 2026-01-05 09:00:00 UTC, the start of [`ManualClock::default_start`].
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).single().expect("valid date")
}

/// A directory with:
/// - department 1 "Support" (no fields) and 2 "Billing" (`account_number`
///   required text, `plan` choice of basic/pro, `internal_score` agent-only number);
/// - agent 1 Alice (admin), agent 2 Bob (Support only, may not delete or
///   reassign, team 1), agent 3 Carol (disabled);
/// - team 1 "Tier 1";
/// - users 1 Ann (ann@acme.com), 2 Ben (ben@acme.com), 3 Eve (eve@evil.test).
pub fn sample_directory() -> DirectorySnapshot {
    let mut d = DirectorySnapshot::default();
    d.departments
        .insert(DepartmentId(1), Department { id: DepartmentId(1), name: "Support".into(), fields: vec![] });
    d.departments.insert(
        DepartmentId(2),
        Department {
            id: DepartmentId(2),
            name: "Billing".into(),
            fields: vec![
                FieldDef {
                    key: "account_number".into(),
                    label: "Account number".into(),
                    kind: FieldKind::Text,
                    required: true,
                    agent_only: false,
                    retired: false,
                },
                FieldDef {
                    key: "plan".into(),
                    label: "Plan".into(),
                    kind: FieldKind::Choice { options: vec!["basic".into(), "pro".into()] },
                    required: false,
                    agent_only: false,
                    retired: false,
                },
                FieldDef {
                    key: "internal_score".into(),
                    label: "Internal score".into(),
                    kind: FieldKind::Number,
                    required: false,
                    agent_only: true,
                    retired: false,
                },
            ],
        },
    );
    let agent = |id: u64, name: &str, permissions: Permissions, teams: &[u64], disabled: bool| Agent {
        id: AgentId(id),
        name: name.into(),
        email: Email::parse(&format!("{}@helpdesk.test", name.to_lowercase())).expect("valid"),
        teams: teams.iter().map(|t| TeamId(*t)).collect(),
        permissions,
        disabled,
        language: None,
    };
    d.agents.insert(AgentId(1), agent(1, "Alice", Permissions::admin(), &[], false));
    let bob = Permissions {
        admin: false,
        may_delete: false,
        may_reassign: false,
        departments: Some(BTreeSet::from([DepartmentId(1)])),
        people: false,
    };
    d.agents.insert(AgentId(2), agent(2, "Bob", bob, &[1], false));
    d.agents.insert(AgentId(3), agent(3, "Carol", Permissions::default(), &[], true));
    d.teams.insert(TeamId(1), Team { id: TeamId(1), name: "Tier 1".into() });
    for (id, name, email) in
        [(1, "Ann", "ann@acme.com"), (2, "Ben", "ben@acme.com"), (3, "Eve", "eve@evil.test")]
    {
        d.users.insert(
            UserId(id),
            User {
                id: UserId(id),
                name: name.into(),
                emails: vec![Email::parse(email).expect("valid")],
                phone: None,
                organisation: None,
                usergroups: BTreeSet::new(),
                validated: true,
                fields: BTreeMap::new(),
                created_at: t0(),
                blocked: false,
                language: None,
            },
        );
    }
    d
}

/// Ticket 1 "Printer on fire" by Ann in Support through the portal, and its log.
pub fn sample_ticket() -> (Ticket, Vec<TicketEvent>) {
    let new =
        NewTicket::new("Printer on fire", "It is on fire.", DepartmentId(1), UserId(1), Channel::Portal);
    let events =
        create(TicketId(1), new, &Actor::User(UserId(1)), t0(), &sample_directory(), &Policy::default())
            .expect("sample ticket is valid");
    (Ticket::from_events(&events).expect("folds"), events)
}
