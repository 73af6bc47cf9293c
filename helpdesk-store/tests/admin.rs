//! The Admin app's library on every backend: the first-run setup, each
//! change and its refusals (nothing changed), and the audit log they leave
//! (one snapshot, the same on every backend).

mod support;

use chrono::Duration;
use helpdesk_core::admin::{AuditQuery, Registration, Settings};
use helpdesk_core::people::PortalPermissions;
use helpdesk_core::*;
use helpdesk_store::admin::{AgentChange, OrganisationChange, Reassign, Setup};
use helpdesk_store::{Error, Helpdesk, NewAgent};
use std::collections::BTreeSet;

fn setup() -> Setup {
    Setup {
        helpdesk_name: "Acme Support".into(),
        public_url: Some("https://help.acme.example/".into()),
        admin_name: "Alice".into(),
        admin_email: "alice@acme.example".into(),
        admin_password: "alice's long secret".into(),
        department: "Support".into(),
    }
}

fn admin_err<T: std::fmt::Debug>(r: Result<T, Error>) -> AdminError {
    match r {
        Err(Error::Admin(e)) => e,
        other => panic!("expected an admin error, got {other:?}"),
    }
}

/// The audit log as lines (newest last), positions checked and left out
/// (PostgreSQL may skip numbers after a refused write).
fn audit_lines(hd: &Helpdesk) -> String {
    let log = hd.audit(&AuditQuery::default(), None, 1000).unwrap();
    assert!(log.windows(2).all(|w| w[0].seq > w[1].seq), "newest first, positions falling");
    log.iter()
        .rev()
        .map(|e| {
            format!(
                "{} | {} | {} | {} | {}",
                e.at.format("%m-%d %H:%M"),
                e.actor,
                e.action,
                e.target,
                e.summary
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn setup_and_every_admin_change_on_every_backend() {
    for (name, hd, clock, _keep) in support::backends() {
        clock.set(chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z").unwrap().into());
        let snapshot = run(&hd, &clock);
        insta::assert_snapshot!("admin_audit_log", snapshot, &format!("backend: {name}"));
    }
}

fn run(hd: &Helpdesk, clock: &ManualClock) -> String {
    let tick = || clock.advance(Duration::minutes(1));
    // ----- first run ---------------------------------------------------------
    assert!(hd.needs_setup().unwrap());
    let weak = Setup { admin_password: "short".into(), ..setup() };
    assert!(matches!(hd.setup(weak), Err(Error::Auth(_))));
    let bad_url = Setup { public_url: Some("help.acme.example".into()), ..setup() };
    assert!(matches!(admin_err(hd.setup(bad_url)), AdminError::Setting { field: "public_url", .. }));
    assert!(hd.needs_setup().unwrap(), "a refused setup changes nothing");
    assert!(hd.departments().unwrap().is_empty());
    let done = hd.setup(setup()).unwrap();
    assert_eq!(done.settings.public_url.as_deref(), Some("https://help.acme.example"));
    assert_eq!(hd.settings().unwrap().name, "Acme Support");
    assert!(hd.verify_agent_password("alice@acme.example", "alice's long secret").unwrap().is_some());
    assert_eq!(admin_err(hd.setup(setup())), AdminError::AlreadySetUp);
    let alice = done.admin.id;
    let support = done.department.id;
    let admin = hd.admin(alice).unwrap().from_source(Some("192.0.2.7".into()));
    tick();

    // ----- settings ----------------------------------------------------------
    let s = Settings {
        registration: Registration::InviteOnly,
        password_min_length: 12,
        embed_origins: vec!["https://www.acme.example/".into()],
        ..hd.settings().unwrap()
    };
    admin.set_settings(s).unwrap();
    assert_eq!(hd.settings().unwrap().embed_origins, vec!["https://www.acme.example".to_string()]);
    let bad = Settings { session_idle_minutes: 0, ..hd.settings().unwrap() };
    assert!(matches!(
        admin_err(admin.set_settings(bad)),
        AdminError::Setting { field: "session_idle_minutes", .. }
    ));
    // The password policy holds at once.
    assert!(hd.set_password(Principal::Agent(alice), "eleven char").is_err());
    tick();

    // ----- departments and fields ---------------------------------------------
    let billing = admin.create_department("Billing").unwrap();
    assert!(matches!(
        admin.create_department(" billing "),
        Err(Error::Directory(DirectoryError::NameTaken { .. }))
    ));
    let plan = FieldDef {
        key: "plan".into(),
        label: "Plan".into(),
        kind: FieldKind::Choice { options: vec!["free".into(), "pro".into()] },
        required: true,
        agent_only: false,
        retired: false,
    };
    admin.add_field(billing.id, plan.clone()).unwrap();
    let seats = FieldDef {
        key: "seats".into(),
        label: "Seats".into(),
        kind: FieldKind::Number,
        required: false,
        ..plan.clone()
    };
    admin.add_field(billing.id, seats.clone()).unwrap();
    assert!(matches!(
        admin.add_field(billing.id, seats.clone()),
        Err(Error::Directory(DirectoryError::DuplicateFieldKey(_)))
    ));
    // Type changes and removed options would misread stored values.
    let as_text = FieldDef { kind: FieldKind::Text, ..plan.clone() };
    assert!(matches!(admin_err(admin.update_field(billing.id, as_text)), AdminError::FieldChange { .. }));
    let fewer = FieldDef { kind: FieldKind::Choice { options: vec!["pro".into()] }, ..plan.clone() };
    assert!(matches!(admin_err(admin.update_field(billing.id, fewer)), AdminError::FieldChange { .. }));
    let more = FieldDef {
        label: "Plan bought".into(),
        kind: FieldKind::Choice { options: vec!["free".into(), "pro".into(), "enterprise".into()] },
        ..plan.clone()
    };
    admin.update_field(billing.id, more).unwrap();
    admin.reorder_fields(billing.id, &["seats".into(), "plan".into()]).unwrap();
    assert_eq!(
        hd.department(billing.id).unwrap().fields.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
        ["seats", "plan"]
    );
    assert!(matches!(admin_err(admin.reorder_fields(billing.id, &["plan".into()])), AdminError::Refused(_)));
    tick();

    // A ticket with a value; the field retires; the value stays.
    let ann = hd.create_user(NewUser::new("Ann", "ann@acme.example")).unwrap();
    let mut new = NewTicket::new("Invoice wrong", "Twice charged.", billing.id, ann.id, Channel::Portal);
    new.fields.insert("plan".into(), FieldValue::Choice("pro".into()));
    let t = hd.create_ticket(&Actor::User(ann.id), new).unwrap();
    admin.retire_field(billing.id, "plan", true).unwrap();
    assert_eq!(hd.ticket(t.id).unwrap().fields.get("plan"), Some(&FieldValue::Choice("pro".into())));
    // No longer required, and no longer settable.
    let t2 = hd
        .create_ticket(
            &Actor::User(ann.id),
            NewTicket::new("Second", "Body", billing.id, ann.id, Channel::Portal),
        )
        .unwrap();
    let set = Command::SetField { key: "plan".into(), value: Some(FieldValue::Choice("free".into())) };
    assert!(matches!(
        hd.execute(t2.id, &Actor::Agent(alice), set),
        Err(Error::Ticket(TicketError::RetiredField(_)))
    ));
    tick();

    // ----- teams -------------------------------------------------------------
    let tier1 = admin.create_team("Tier 1").unwrap();
    let tier2 = admin.create_team("Tier 2").unwrap();
    admin.rename_team(tier2.id, "Escalations").unwrap();
    tick();

    // ----- agents ------------------------------------------------------------
    let (sam, token) = admin
        .invite_agent(
            NewAgent::new("Sam", "sam@acme.example")
                .teams([tier1.id])
                .permissions(Permissions { departments: Some([support].into()), ..Permissions::default() }),
        )
        .unwrap();
    assert!(hd.verify_agent_password("sam@acme.example", "sam's long secret").unwrap().is_none());
    assert!(hd.set_password_with_token(&token, "too short 1").is_err(), "the admin's 12 characters hold");
    hd.set_password_with_token(&token, "sam's long secret").unwrap();
    assert!(hd.set_password_with_token(&token, "sam's other secret").is_err(), "a link works once");
    assert_eq!(admin_err(hd.admin(sam.id)), AdminError::NotAdmin(sam.id));
    assert!(matches!(
        admin.invite_agent(NewAgent::new("Sam again", "SAM@acme.example")),
        Err(Error::Directory(DirectoryError::EmailTaken { .. }))
    ));
    let (bob, bob_token) = admin.invite_agent(NewAgent::new("Bob", "bob@acme.example")).unwrap();
    // A link expires after a week.
    clock.advance(Duration::days(8));
    assert!(hd.password_token_agent(&bob_token).unwrap().is_none());
    let fresh = admin.reinvite_agent(bob.id).unwrap();
    assert!(hd.password_token_agent(&fresh).unwrap().is_some());
    admin.set_team_members(tier1.id, &[sam.id, bob.id].into()).unwrap();
    assert!(hd.agent(bob.id).unwrap().teams.contains(&tier1.id));
    // The last admin stays an admin and active.
    let demote = AgentChange {
        name: "Alice".into(),
        email: "alice@acme.example".into(),
        teams: BTreeSet::new(),
        permissions: Permissions::default(),
        language: None,
    };
    assert_eq!(admin_err(admin.update_agent(alice, demote)), AdminError::LastAdmin);
    assert_eq!(admin_err(admin.deactivate_agent(alice, Reassign::Leave)), AdminError::LastAdmin);
    let promote = AgentChange {
        name: "Robert".into(),
        email: "bob@acme.example".into(),
        teams: [tier1.id].into(),
        permissions: Permissions::admin(),
        language: Some(helpdesk_core::templates::Language::parse("de").unwrap()),
    };
    admin.update_agent(bob.id, promote).unwrap();
    tick();

    // Sam's open tickets go to Bob when Sam leaves; his API key stops working.
    let s1 = hd
        .create_ticket(
            &Actor::User(ann.id),
            NewTicket::new("Printer", "Broken", support, ann.id, Channel::Portal),
        )
        .unwrap();
    hd.execute(s1.id, &Actor::Agent(alice), Command::AssignAgent { agent: Some(sam.id) }).unwrap();
    let (_, key) = hd.create_api_key(sam.id, "scripts").unwrap();
    let d = admin.deactivate_agent(sam.id, Reassign::Agent(bob.id)).unwrap();
    assert_eq!((d.tickets_moved, d.api_keys_revoked), (1, 1));
    assert_eq!(hd.ticket(s1.id).unwrap().agent, Some(bob.id));
    assert!(hd.agent_for_api_key(&key).unwrap().is_none());
    assert!(hd.agent(sam.id).unwrap().disabled);
    admin.reactivate_agent(sam.id).unwrap();
    tick();

    // ----- removals that would break something ---------------------------------
    hd.load_rules(
        &RuleFile::from_toml(
            r#"
            [[triggers]]
            name = "VIPs to Escalations"
            on = ["new_ticket"]
            all = [{ field = "ticket.department", op = "is", value = 2 }]
            actions = [{ action = "set_team", team = 2 }]
            "#,
        )
        .unwrap(),
    )
    .unwrap();
    let e = admin_err(admin.remove_team(tier2.id));
    assert_eq!(
        e.to_string(),
        "team Escalations is used by trigger \"VIPs to Escalations\"; change that first"
    );
    let e = admin_err(admin.remove_department(billing.id, None));
    assert!(e.to_string().contains("trigger \"VIPs to Escalations\""), "{e}");
    hd.delete_trigger("VIPs to Escalations").unwrap();
    assert_eq!(
        admin_err(admin.remove_department(billing.id, None)),
        AdminError::HasTickets { department: "Billing".into(), tickets: 2 }
    );
    assert_eq!(admin_err(admin.remove_department(billing.id, Some(billing.id))), AdminError::MoveToSelf);
    hd.execute(s1.id, &Actor::Agent(alice), Command::AssignTeam { team: Some(tier2.id) }).unwrap();
    assert!(matches!(admin_err(admin.remove_team(tier2.id)), AdminError::InUse { .. }));
    hd.execute(s1.id, &Actor::Agent(alice), Command::AssignTeam { team: None }).unwrap();
    admin.remove_team(tier2.id).unwrap();
    assert_eq!(admin.remove_department(billing.id, Some(support)).unwrap(), 2);
    assert_eq!(hd.ticket(t.id).unwrap().department, support);
    assert_eq!(hd.department_ticket_count(support).unwrap(), 3);
    assert!(hd.department(billing.id).is_err());
    assert_eq!(
        admin_err(admin.remove_department(support, None)),
        AdminError::Refused("the helpdesk needs at least one department".into())
    );
    tick();

    // ----- usergroups and organisations ----------------------------------------
    let vip = admin
        .create_usergroup("VIP", PortalPermissions { organisation_tickets: true, ..Default::default() })
        .unwrap();
    let mut u = hd.user(ann.id).unwrap();
    u.usergroups.insert(vip.id);
    hd.update_user(u).unwrap();
    admin
        .update_usergroup(
            vip.id,
            "VIP customers",
            PortalPermissions { cc_others: false, ..vip.portal.clone() },
        )
        .unwrap();
    let acme = admin
        .create_organisation(OrganisationChange {
            name: "Acme".into(),
            email_domains: vec!["@Acme.example".into()],
            notes: String::new(),
        })
        .unwrap();
    assert!(matches!(
        admin.create_organisation(OrganisationChange {
            name: "Other".into(),
            email_domains: vec!["acme.example".into()],
            ..Default::default()
        }),
        Err(Error::Directory(DirectoryError::DomainTaken { .. }))
    ));
    let mut u = hd.user(ann.id).unwrap();
    u.organisation = Some(acme.id);
    hd.update_user(u).unwrap();
    assert_eq!(admin.remove_usergroup(vip.id).unwrap(), 1);
    assert!(hd.user(ann.id).unwrap().usergroups.is_empty());
    assert_eq!(admin.remove_organisation(acme.id).unwrap(), 1);
    assert_eq!(hd.user(ann.id).unwrap().organisation, None);

    // ----- the log ---------------------------------------------------------------
    let by_alice = hd.audit(&AuditQuery { agent: Some(alice), ..Default::default() }, None, 1000).unwrap();
    assert!(by_alice.iter().all(|e| e.source.as_deref() == Some("192.0.2.7")));
    let teams =
        hd.audit(&AuditQuery { action: Some("team.".into()), ..Default::default() }, None, 2).unwrap();
    assert_eq!(teams.len(), 2);
    assert_eq!((teams[0].action.as_str(), teams[1].action.as_str()), ("team.remove", "team.members"));
    let older = hd
        .audit(&AuditQuery { action: Some("team.".into()), ..Default::default() }, Some(teams[1].seq), 100)
        .unwrap();
    assert_eq!(
        older.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["team.update", "team.create", "team.create"]
    );
    let settings =
        hd.audit(&AuditQuery { action: Some("settings".into()), ..Default::default() }, None, 10).unwrap();
    assert_eq!(settings[0].before.as_ref().unwrap()["registration"], "validated");
    assert_eq!(settings[0].after.as_ref().unwrap()["registration"], "invite_only");
    audit_lines(hd)
}

#[test]
fn rules_edited_by_an_admin_on_every_backend() {
    for (name, hd, clock, _keep) in support::backends() {
        clock.set(chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z").unwrap().into());
        let snapshot = run_rules(&hd, &clock);
        insta::assert_snapshot!("admin_rules", snapshot, &format!("backend: {name}"));
    }
}

fn run_rules(hd: &Helpdesk, clock: &ManualClock) -> String {
    use helpdesk_core::admin::{DryRunOn, RuleDef, RuleKind};
    let tick = || clock.advance(Duration::minutes(1));
    let done = hd.setup(setup()).unwrap();
    let admin = hd.admin(done.admin.id).unwrap();
    let support = done.department.id;
    let ann = hd.create_user(NewUser::new("Ann", "ann@example.com")).unwrap();
    let by_ann = Actor::User(ann.id);
    let mut out = Vec::new();
    let t1 = hd
        .create_ticket(
            &by_ann,
            NewTicket::new("Printer on fire, urgent", "help", support, ann.id, Channel::Portal),
        )
        .unwrap();
    let t2 = hd
        .create_ticket(&by_ann, NewTicket::new("A question", "hi", support, ann.id, Channel::Portal))
        .unwrap();
    tick();

    let vip = |by: i64| {
        RuleDef::from_toml(
            RuleKind::Trigger,
            &format!(
                r#"
                name = "Urgent words"
                on = ["new_ticket", "user_reply"]
                all = [{{ field = "ticket.subject", op = "contains", value = "urgent" }}]
                actions = [{{ action = "raise_urgency", by = {by} }}, {{ action = "add_label", label = "hot" }}]
                "#
            ),
        )
        .unwrap()
    };

    // A dry run before saving: the trace per condition and action; nothing changes.
    let before = hd.ticket(t1.id).unwrap();
    for r in hd.dry_run(&vip(2), &DryRunOn::Last(10)).unwrap() {
        out.push(format!(
            "dry run #{}: fires {} changes {:?} conditions {:?}",
            r.ticket.0,
            r.fires,
            r.changes,
            r.trace.conditions.iter().map(|c| (c.condition.clone(), c.holds)).collect::<Vec<_>>()
        ));
    }
    assert_eq!(hd.ticket(t1.id).unwrap(), before, "a dry run changes nothing");
    let one = hd.dry_run(&vip(2), &DryRunOn::Tickets(vec![t2.id])).unwrap();
    assert_eq!((one.len(), one[0].fires), (1, false));

    // Saved, refused with the engine's words, renamed, turned off, reordered.
    admin.save_rule(None, vip(2)).unwrap();
    tick();
    assert_eq!(
        admin_err(admin.save_rule(None, vip(3))),
        AdminError::RuleNameTaken { kind: RuleKind::Trigger, name: "Urgent words".into() }
    );
    let mut bad = vip(2);
    if let RuleDef::Trigger(t) = &mut bad {
        t.all[0].field = "ticket.colour".into();
    }
    match admin.save_rule(Some("Urgent words"), bad) {
        Err(Error::Rule(e)) => out.push(format!("refused: {e}")),
        other => panic!("expected a rule error, got {other:?}"),
    }
    let mut custom = vip(2);
    if let RuleDef::Trigger(t) = &mut custom {
        t.all[0].field = "ticket.fields.colour".into();
    }
    match admin.save_rule(None, custom) {
        Err(e) => out.push(format!("refused: {e}")),
        Ok(_) => panic!("a rule on a field no department has is refused"),
    }
    let mut renamed = vip(3);
    if let RuleDef::Trigger(t) = &mut renamed {
        t.name = "Urgent subjects".into();
    }
    admin.save_rule(Some("Urgent words"), renamed).unwrap();
    tick();
    assert!(matches!(admin_err(hd.rule(RuleKind::Trigger, "Urgent words")), AdminError::NoSuchRule { .. }));
    let sla = RuleDef::from_toml(
        RuleKind::Sla,
        "name = \"First reply in 4h\"\nkind = \"first_response\"\nfailure = \"4h\"\nwarning = \"3h\"",
    )
    .unwrap();
    admin.save_rule(None, sla.clone()).unwrap();
    tick();
    for r in hd.dry_run(&sla, &DryRunOn::Tickets(vec![t1.id])).unwrap() {
        out.push(format!(
            "sla dry run #{}: applies {} changes {:?} due {:?}",
            r.ticket.0, r.fires, r.changes, r.due
        ));
    }
    let second = RuleDef::from_toml(RuleKind::Trigger, "name = \"Tag mail\"\non = [\"new_ticket\"]\nactions = [{ action = \"add_label\", label = \"mail\" }]").unwrap();
    admin.save_rule(None, second).unwrap();
    tick();
    admin.set_rule_enabled(RuleKind::Trigger, "Urgent subjects", false).unwrap();
    tick();
    assert!(matches!(
        admin_err(admin.reorder_rules(RuleKind::Trigger, &["Tag mail".into()])),
        AdminError::Refused(_)
    ));
    let order =
        admin.reorder_rules(RuleKind::Trigger, &["Tag mail".into(), "Urgent subjects".into()]).unwrap();
    assert_eq!(order.iter().map(|r| r.order()).collect::<Vec<_>>(), [10, 20]);
    // Distinct values are kept, handed out in the new sequence (places among
    // the triggers in code stay).
    let mut t = hd.rule(RuleKind::Trigger, "Tag mail").unwrap();
    t.set_order(-5);
    admin.save_rule(Some("Tag mail"), t).unwrap();
    let order =
        admin.reorder_rules(RuleKind::Trigger, &["Urgent subjects".into(), "Tag mail".into()]).unwrap();
    assert_eq!(
        order.iter().map(|r| (r.name(), r.order())).collect::<Vec<_>>(),
        [("Urgent subjects", -5), ("Tag mail", 20)]
    );
    admin.reorder_rules(RuleKind::Trigger, &["Tag mail".into(), "Urgent subjects".into()]).unwrap();
    assert_eq!(
        hd.triggers().unwrap().iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["Tag mail", "Urgent subjects"]
    );
    tick();

    // A turned-off trigger does not run; the one on does.
    let t3 = hd
        .create_ticket(&by_ann, NewTicket::new("urgent again", "x", support, ann.id, Channel::Portal))
        .unwrap();
    let t3 = hd.ticket(t3.id).unwrap();
    assert_eq!(
        (t3.urgency.get(), t3.labels.iter().map(String::as_str).collect::<Vec<_>>()),
        (1, vec!["mail"])
    );

    // Import: all or nothing; with replace_all the others go.
    let broken = RuleFile {
        triggers: vec![TriggerDef { actions: vec![], ..hd.triggers().unwrap()[0].clone() }],
        ..Default::default()
    };
    assert!(admin.import_rules(&broken, true).is_err());
    assert!(matches!(admin_err(admin.import_rules(&RuleFile::default(), true)), AdminError::Refused(_)));
    assert_eq!(hd.rules_of(RuleKind::Trigger).unwrap().len(), 2, "a refused import changes nothing");
    let file = RuleFile::from_toml("[[triggers]]\nname = \"Tag mail\"\non = [\"new_ticket\"]\nactions = [{ action = \"add_label\", label = \"email\" }]").unwrap();
    let report = admin.import_rules(&file, true).unwrap();
    // Removed: the other trigger, the escalation, and the setup's urgency rise.
    assert_eq!((report.added, report.replaced, report.removed), (0, 1, 3));
    tick();
    admin.delete_rule(RuleKind::Trigger, "Tag mail").unwrap();
    assert!(hd.rule_file().unwrap().triggers.is_empty());
    assert!(matches!(
        admin_err(admin.delete_rule(RuleKind::Trigger, "Tag mail")),
        AdminError::NoSuchRule { .. }
    ));

    let log =
        hd.audit(&AuditQuery { action: Some("rule.".into()), ..Default::default() }, None, 100).unwrap();
    assert!(log.iter().all(|e| e.actor.to_string().contains("Alice")));
    let update = log.iter().rev().find(|e| e.action == "rule.update").unwrap();
    assert_eq!(update.before.as_ref().unwrap()["rule"]["name"], "Urgent words");
    assert_eq!(update.after.as_ref().unwrap()["rule"]["name"], "Urgent subjects");
    out.push(String::new());
    out.push(audit_lines(hd));
    out.join("\n")
}

#[test]
fn users_and_email_accounts_on_every_backend() {
    for (name, hd, clock, _keep) in support::backends() {
        clock.set(chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z").unwrap().into());
        let snapshot = run_users_and_mail(&hd, &clock);
        insta::assert_snapshot!("admin_users_mail", snapshot, &format!("backend: {name}"));
    }
}

fn run_users_and_mail(hd: &Helpdesk, clock: &ManualClock) -> String {
    use helpdesk_core::mail::{AutoReplyPolicy, InboundWays, RateLimit, Relay, RelaySecurity};
    use helpdesk_store::admin::{AccountChange, UserChange};
    let tick = || clock.advance(Duration::minutes(1));
    let done = hd.setup(setup()).unwrap();
    let alice = done.admin.id;
    let admin = hd.admin(alice).unwrap();
    let support = done.department.id;
    let acme = admin
        .create_organisation(OrganisationChange {
            name: "Acme".into(),
            email_domains: vec![],
            notes: String::new(),
        })
        .unwrap();
    let vips = admin.create_usergroup("VIPs", PortalPermissions::default()).unwrap();
    let ann = hd.create_user(NewUser::new("Ann", "ann@acme.example")).unwrap();
    let ann_home = hd.create_user(NewUser::new("Ann at home", "ann@home.example")).unwrap();
    let bob = hd.create_user(NewUser::new("Bob", "bob@acme.example")).unwrap();
    hd.set_password(Principal::User(ann_home.id), "ann's home password").unwrap();
    let portal = |u: &User, s: &str| {
        hd.create_ticket(&Actor::User(u.id), NewTicket::new(s, "text", support, u.id, Channel::Portal))
            .unwrap()
    };
    let t1 = portal(&ann_home, "From home");
    let mut copied = NewTicket::new("Bob asks", "text", support, bob.id, Channel::Email);
    copied.ccs.insert(ann_home.id);
    let t2 = hd.create_ticket(&Actor::system(), copied).unwrap();
    let t3 = portal(&ann_home, "Old spam");
    hd.execute(t3.id, &Actor::Agent(alice), Command::MarkSpam).unwrap();
    let mut out = Vec::new();
    tick();

    // ----- edit ----------------------------------------------------------------
    let change = |emails: &[&str]| UserChange {
        name: " Ann Smith ".into(),
        emails: emails.iter().map(|e| e.to_string()).collect(),
        phone: Some(" +44 20 7946 0000 ".into()),
        organisation: Some(acme.id),
        usergroups: BTreeSet::from([vips.id]),
        language: Some(helpdesk_core::templates::Language::parse("fr").unwrap()),
    };
    for bad in [&["bob@acme.example"][..], &["alice@acme.example"], &[], &["not an address"]] {
        let e = admin.update_user(ann.id, change(bad)).unwrap_err();
        out.push(format!("edit {bad:?} refused: {e}"));
    }
    assert_eq!(hd.user(ann.id).unwrap(), ann, "refused edits change nothing");
    let ann = admin.update_user(ann.id, change(&["ann@acme.example", "ann.smith@acme.example"])).unwrap();
    assert_eq!((ann.name.as_str(), ann.phone.as_deref()), ("Ann Smith", Some("+44 20 7946 0000")));
    assert_eq!(hd.user_by_email("ann.smith@acme.example").unwrap().unwrap().id, ann.id);
    out.push(format!(
        "found by \"smith\": {:?}",
        hd.find_users("smith", 10).unwrap().iter().map(|u| u.id.0).collect::<Vec<_>>()
    ));
    tick();

    // ----- merge ---------------------------------------------------------------
    out.push(format!("merge into self: {}", admin.merge_users(ann.id, ann.id).unwrap_err()));
    let merged = admin.merge_users(ann.id, ann_home.id).unwrap();
    out.push(format!(
        "merged: {} moved, {} copied in, {} hidden left; emails {:?}",
        merged.tickets_moved,
        merged.ccs_moved,
        merged.hidden_left,
        merged.user.emails.iter().map(|e| e.as_str()).collect::<Vec<_>>()
    ));
    assert_eq!(hd.ticket(t1.id).unwrap().user, ann.id);
    assert!(hd.ticket(t2.id).unwrap().ccs.contains(&ann.id));
    assert!(!hd.ticket(t2.id).unwrap().ccs.contains(&ann_home.id));
    assert_eq!(hd.user(ann_home.id).unwrap().id, ann.id, "the old id stands for the user kept");
    assert_eq!(hd.merged_into(ann_home.id).unwrap(), Some(ann.id));
    assert_eq!(hd.user_by_email("ann@home.example").unwrap().unwrap().id, ann.id);
    // Ann had no password: the one of her other account is hers now.
    assert_eq!(
        hd.verify_user_password("ann@home.example", "ann's home password").unwrap().unwrap().id,
        ann.id
    );
    assert_eq!(hd.tickets_of_user(ann.id, None, 10).unwrap().len(), 2);
    assert_eq!(hd.merged_users_of(ann.id).unwrap(), vec![ann_home.id]);
    // The spam ticket kept the old id; restored, merging again moves it.
    hd.execute(t3.id, &Actor::Agent(alice), Command::Restore).unwrap();
    let again = admin.merge_users(ann.id, ann_home.id).unwrap();
    out.push(format!("merged again: {} moved, {} hidden left", again.tickets_moved, again.hidden_left));
    assert_eq!(hd.ticket(t3.id).unwrap().user, ann.id);
    out.push(format!("merged into another: {}", admin.merge_users(bob.id, ann_home.id).unwrap_err()));
    // Writers never bring a merged id back.
    assert!(hd.set_password(Principal::User(ann_home.id), "a long password").is_err());
    assert!(hd.update_user(User { id: ann_home.id, ..hd.user(ann.id).unwrap() }).is_err());
    tick();

    // ----- block ---------------------------------------------------------------
    let blocked = admin.block_user(ann.id, true).unwrap();
    out.push(format!("blocked: {} marked as spam", blocked.tickets_marked_spam));
    assert_eq!(hd.ticket(t1.id).unwrap().status, Status::Spam);
    // Merging a blocked user in keeps the block on the person.
    let spammer = hd.create_user(NewUser::new("Spam Bot", "bot@spam.example")).unwrap();
    admin.block_user(spammer.id, false).unwrap();
    assert!(admin.merge_users(bob.id, spammer.id).unwrap().user.blocked);
    admin.unblock_user(bob.id).unwrap();
    assert_eq!(hd.ticket(t2.id).unwrap().status, Status::AwaitingAgent, "tickets she is copied in on stay");
    assert!(hd.verify_user_password("ann@home.example", "ann's home password").unwrap().is_none());
    let e = hd
        .create_ticket(&Actor::User(ann.id), NewTicket::new("Again", "x", support, ann.id, Channel::Portal))
        .unwrap_err();
    out.push(format!("portal ticket while blocked: {e}"));
    out.push(format!("reply while blocked: {}", hd.user_reply(t2.id, ann.id, "me too").unwrap_err()));
    tick();
    admin.unblock_user(ann.id).unwrap();
    assert!(hd.verify_user_password("ann@acme.example", "ann's home password").unwrap().is_some());
    hd.user_reply(t2.id, ann.id, "me too").unwrap();
    tick();

    // ----- email accounts and mail settings -------------------------------------
    let mut sales = AccountChange::new("sales@acme.example", " Acme Sales ", support);
    sales.inbound = InboundWays { smtp: false, http: true };
    sales.relay = Some(Relay {
        host: "SMTP.acme.example".into(),
        port: 587,
        security: RelaySecurity::StartTls,
        username: Some("sales".into()),
    });
    sales.relay_password = Some("relay secret".into());
    for (what, bad) in [
        ("a user's address", AccountChange { address: "bob@acme.example".into(), ..sales.clone() }),
        ("an agent's address", AccountChange { address: "alice@acme.example".into(), ..sales.clone() }),
        ("no department", AccountChange { department: DepartmentId(99), ..sales.clone() }),
        (
            "bad relay",
            AccountChange { relay: Some(Relay { port: 0, ..sales.relay.clone().unwrap() }), ..sales.clone() },
        ),
        (
            "a password sent in the clear",
            AccountChange {
                relay: Some(Relay { security: RelaySecurity::None, ..sales.relay.clone().unwrap() }),
                ..sales.clone()
            },
        ),
        ("a password without a relay", AccountChange { relay: None, ..sales.clone() }),
    ] {
        out.push(format!("account with {what} refused: {}", admin.create_email_account(bad).unwrap_err()));
    }
    assert!(hd.email_accounts().unwrap().is_empty());
    let a = admin.create_email_account(sales.clone()).unwrap();
    assert_eq!(a.relay.as_ref().unwrap().host, "smtp.acme.example");
    assert_eq!(hd.relay_password(a.id).unwrap().as_deref(), Some("relay secret"));
    out.push(format!("account: {}", serde_json::to_string(&a).unwrap()));
    tick();
    // Unchanged password (None), then removed (""), then the own relay dropped.
    let keep = AccountChange { name: "Acme Sales Team".into(), relay_password: None, ..sales.clone() };
    admin.update_email_account(a.id, keep).unwrap();
    assert_eq!(hd.relay_password(a.id).unwrap().as_deref(), Some("relay secret"));
    // Another relay host: the stored password is not sent there.
    let moved = Relay { host: "smtp2.acme.example".into(), ..sales.relay.clone().unwrap() };
    let other = AccountChange { relay: Some(moved), relay_password: None, ..sales.clone() };
    admin.update_email_account(a.id, other).unwrap();
    assert_eq!(hd.relay_password(a.id).unwrap(), None);
    admin.update_email_account(a.id, sales.clone()).unwrap();
    assert_eq!(hd.relay_password(a.id).unwrap().as_deref(), Some("relay secret"));
    let forget = AccountChange { relay_password: Some(String::new()), ..sales.clone() };
    admin.update_email_account(a.id, forget).unwrap();
    assert_eq!(hd.relay_password(a.id).unwrap(), None);
    tick();
    let m = admin
        .set_mail_settings(
            RateLimit { max: 5, per_seconds: 1800 },
            AutoReplyPolicy::TakeIn,
            Some(" Mail.Acme.example ".into()),
        )
        .unwrap();
    assert_eq!(m.message_id_domain.as_deref(), Some("mail.acme.example"));
    out.push(format!(
        "mail settings refused: {}",
        admin
            .set_mail_settings(RateLimit { max: 5, per_seconds: 0 }, AutoReplyPolicy::TakeIn, None)
            .unwrap_err()
    ));
    admin.remove_email_account(a.id).unwrap();
    assert!(hd.email_accounts().unwrap().is_empty());

    let log = hd.audit(&AuditQuery::default(), None, 100).unwrap();
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains("relay secret"), "the relay password is never in the audit log");
    assert!(!text.contains(&hd.mail_settings().unwrap().secret), "nor the reply-token secret");
    out.push(String::new());
    out.push(audit_lines(hd));
    out.join("\n")
}

#[test]
fn labels_on_every_backend() {
    for (name, hd, clock, _keep) in support::backends() {
        clock.set(chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z").unwrap().into());
        let snapshot = run_labels(&hd, &clock);
        insta::assert_snapshot!("admin_labels", snapshot, &format!("backend: {name}"));
    }
}

fn run_labels(hd: &Helpdesk, clock: &ManualClock) -> String {
    use helpdesk_core::admin::LabelDef;
    let tick = || clock.advance(Duration::minutes(1));
    let done = hd.setup(setup()).unwrap();
    let alice = done.admin.id;
    let admin = hd.admin(alice).unwrap();
    let support = done.department.id;
    let ann = hd.create_user(NewUser::new("Ann", "ann@acme.example")).unwrap();
    let label = |t: TicketId, l: &str| {
        hd.execute(t, &Actor::Agent(alice), Command::AddLabel { label: l.into() }).unwrap();
    };
    let mut ids = Vec::new();
    for s in ["one", "two", "three"] {
        let t = hd
            .create_ticket(&Actor::User(ann.id), NewTicket::new(s, "?", support, ann.id, Channel::Portal))
            .unwrap();
        ids.push(t.id);
    }
    label(ids[0], "VIP");
    label(ids[1], "vip");
    label(ids[2], "billing");
    hd.execute(ids[1], &Actor::Agent(alice), Command::MarkSpam).unwrap();
    let mut out = Vec::new();
    tick();

    let vip =
        admin.create_label(LabelDef { name: " VIP ".into(), description: "Key accounts".into() }).unwrap();
    assert_eq!(vip.name, "vip");
    out.push(format!(
        "twice: {}",
        admin.create_label(LabelDef { name: "vip".into(), description: String::new() }).unwrap_err()
    ));
    out.push(format!(
        "empty: {}",
        admin.create_label(LabelDef { name: " ".into(), description: String::new() }).unwrap_err()
    ));
    admin.create_label(LabelDef { name: "billing".into(), description: String::new() }).unwrap();
    let uses = hd.label_uses("vip").unwrap();
    assert_eq!((uses.count, uses.exact), (2, true), "the spam ticket counts too");
    tick();

    // Description only: no ticket changes.
    let c = admin
        .update_label("vip", LabelDef { name: "vip".into(), description: "Key accounts only".into() })
        .unwrap();
    assert_eq!(c.tickets_changed, 0);
    // Renamed: the visible ticket is relabelled (in its log), the spam one is left.
    let c = admin
        .update_label("VIP", LabelDef { name: "Key-Account".into(), description: "Key accounts".into() })
        .unwrap();
    out.push(format!("renamed: {} changed, {} hidden left", c.tickets_changed, c.hidden_left));
    assert!(hd.ticket(ids[0]).unwrap().labels.contains("key-account"));
    assert!(!hd.ticket(ids[0]).unwrap().labels.contains("vip"));
    assert!(hd.ticket(ids[1]).unwrap().labels.contains("vip"));
    assert_eq!(
        hd.labels().unwrap().iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["billing", "key-account"]
    );
    assert!(hd.label("vip").unwrap().is_none());
    out.push(format!("unknown: {}", admin.update_label("vip", vip.clone()).unwrap_err()));
    // A rule that puts the label on tickets keeps it from being taken off them.
    let rule = helpdesk_core::admin::RuleDef::from_toml(
        helpdesk_core::admin::RuleKind::Trigger,
        "name = \"Bills\"\non = [\"new_ticket\"]\nall = [{ field = \"ticket.subject\", op = \"contains\", value = \"billing\" }]\nactions = [{ action = \"add_label\", label = \"billing\" }]",
    )
    .unwrap();
    admin.save_rule(None, rule).unwrap();
    out.push(format!("used by a rule: {}", admin.remove_label("billing", true).unwrap_err()));
    admin.delete_rule(helpdesk_core::admin::RuleKind::Trigger, "Bills").unwrap();
    // Renamed onto a label that exists: one label, its description kept.
    admin.create_label(LabelDef { name: "priority".into(), description: "Answer first".into() }).unwrap();
    admin.create_label(LabelDef { name: "urgent".into(), description: "Old name".into() }).unwrap();
    admin
        .update_label("urgent", LabelDef { name: "priority".into(), description: "Old name".into() })
        .unwrap();
    assert_eq!(hd.label("priority").unwrap().unwrap().description, "Answer first");
    assert!(hd.label("urgent").unwrap().is_none());
    admin.remove_label("priority", false).unwrap();
    tick();
    // Removed: the definition only, then one taken off the tickets.
    let c = admin.remove_label("key-account", false).unwrap();
    assert_eq!(c.tickets_changed, 0);
    assert!(hd.ticket(ids[0]).unwrap().labels.contains("key-account"));
    let c = admin.remove_label("billing", true).unwrap();
    assert_eq!(c.tickets_changed, 1);
    assert!(hd.ticket(ids[2]).unwrap().labels.is_empty());
    assert!(hd.labels().unwrap().is_empty());
    out.push(String::new());
    out.push(audit_lines(hd));
    out.join("\n")
}

#[test]
fn mail_templates_on_every_backend() {
    for (name, hd, clock, _keep) in support::backends() {
        clock.set(chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z").unwrap().into());
        let snapshot = run_templates(&hd, &clock);
        insta::assert_snapshot!("admin_mail_templates", snapshot, &format!("backend: {name}"));
    }
}

fn run_templates(hd: &Helpdesk, clock: &ManualClock) -> String {
    use helpdesk_core::admin::RuleDef;
    use helpdesk_core::templates::{Language, MailKind, MailTemplate, TemplateKey};
    let tick = || clock.advance(Duration::minutes(1));
    let done = hd.setup(setup()).unwrap();
    let admin = hd.admin(done.admin.id).unwrap();
    let reply = TemplateKey::Builtin(MailKind::UserAgentReply);
    let (de, fr) = (Language::parse("de").unwrap(), Language::parse("fr").unwrap());
    let text = |subject: &str, body: &str| MailTemplate { subject: subject.into(), body: body.into() };
    let mut out = Vec::new();
    let resolved =
        |hd: &Helpdesk, key: &TemplateKey, l: Option<&Language>| match hd.template_for(key, l).unwrap() {
            Some(r) => format!(
                "{} {} {:?}",
                r.language,
                if r.customised { "admin" } else { "built-in" },
                r.template.subject
            ),
            None => "none".into(),
        };

    // Refusals change nothing.
    for bad in [
        text("AW: {{ ticket.subjekt }}", ""),
        text("AW", "{% for m in ticket.messages %}"),
        text("AW", "{{ note.body }}"),
        text(" ", "x"),
    ] {
        out.push(format!("refused: {}", admin.save_mail_template(&reply, &de, bad).unwrap_err()));
    }
    assert!(hd.mail_templates().unwrap().is_empty());
    tick();

    admin.save_mail_template(&reply, &de, text("AW: {{ ticket.subject }}", "Hallo")).unwrap();
    tick();
    admin
        .save_mail_template(&reply, &de, text("AW: {{ ticket.subject }}", "Hallo {{ recipient.first_name }}"))
        .unwrap();
    out.push(format!("de reader: {}", resolved(hd, &reply, Some(&de))));
    out.push(format!("fr reader: {}", resolved(hd, &reply, Some(&fr))));
    let mut s = hd.settings().unwrap();
    s.language = de.clone();
    admin.set_settings(s).unwrap();
    out.push(format!("fr reader, helpdesk in German: {}", resolved(hd, &reply, Some(&fr))));
    out.push(format!(
        "languages: {}",
        hd.mail_languages().unwrap().iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ")
    ));
    tick();

    // A custom template: rules may name it once it exists, and its last
    // text stays while one does.
    let vip = TemplateKey::custom("vip").unwrap();
    out.push(format!("custom before: {}", resolved(hd, &vip, None)));
    let rule = RuleDef::from_json_value(
        helpdesk_core::admin::RuleKind::Trigger,
        serde_json::json!({"name": "VIP", "on": ["new_ticket"], "actions": [{"action": "notify", "to": "user", "template": "vip"}]}),
    )
    .unwrap();
    out.push(format!("rule before: {}", admin.save_rule(None, rule.clone()).unwrap_err()));
    admin.save_mail_template(&vip, &fr, text("VIP", "{{ ticket.reference }}")).unwrap();
    admin.save_rule(None, rule).unwrap();
    out.push(format!(
        "custom: {:?}, used by {:?}",
        hd.custom_templates().unwrap(),
        hd.rules_naming_template("vip").unwrap()
    ));
    out.push(format!("remove last: {}", admin.remove_mail_template(&vip, &fr).unwrap_err()));
    tick();
    admin.remove_mail_template(&reply, &de).unwrap();
    out.push(format!("removed twice: {}", admin.remove_mail_template(&reply, &de).unwrap_err()));
    out.push(format!("de reader after: {}", resolved(hd, &reply, Some(&de))));
    out.push(audit_lines(hd));
    out.join("\n")
}
