//! Data-driven tests of rule files: every file in `tests/rules/invalid` is
//! refused with errors naming the rule and the problem (snapshotted); every
//! file in `tests/rules/valid` loads, and runs through a fixed scenario whose
//! explain traces and log are snapshotted.

use helpdesk_core::automation::{process, render_log, RuleFile, Rules};
use helpdesk_core::testing::{sample_directory, t0};
use helpdesk_core::trigger::ChainTrace;
use helpdesk_core::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

fn files(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules").join(dir);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("toml" | "json")))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no rule files in {}", root.display());
    out
}

fn read(path: &Path) -> Result<RuleFile, Vec<RuleError>> {
    let text = std::fs::read_to_string(path).unwrap();
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => RuleFile::from_toml(&text),
        _ => RuleFile::from_json(&text),
    }
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

#[test]
fn invalid_rule_files_are_refused_naming_rule_and_problem() {
    for path in files("invalid") {
        let errors = read(&path).expect_err(&format!("{} should be refused", path.display()));
        let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        for e in &errors {
            assert!(!e.rule.is_empty() && !e.problem.is_empty(), "{e:?}");
        }
        insta::assert_yaml_snapshot!(format!("invalid_{}", stem(&path)), messages);
    }
}

/// The sample directory, with Ann and Ben in organisation Acme.
fn directory() -> DirectorySnapshot {
    let mut d = sample_directory();
    d.organisations.insert(
        OrganisationId(1),
        Organisation {
            id: OrganisationId(1),
            name: "Acme".into(),
            email_domains: ["acme.com".to_string()].into(),
            notes: String::new(),
            phones: vec![],
            fields: Default::default(),
        },
    );
    for u in [1, 2] {
        d.users.get_mut(&UserId(u)).unwrap().organisation = Some(OrganisationId(1));
    }
    d
}

#[derive(Serialize)]
struct StepReport {
    command: String,
    fired: Vec<String>,
    effects: Vec<Effect>,
    trace: ChainTrace,
}

#[derive(Serialize)]
struct Scenario {
    steps: Vec<StepReport>,
    log: Vec<String>,
}

/// Ann opens a ticket on the portal; Alice replies; Ann asks for a refund;
/// Alice sets urgency 10; Alice resolves it.
fn scenario(rules: &Rules) -> Scenario {
    let dir = directory();
    let policy = Policy::default();
    let ann = Actor::User(UserId(1));
    let alice = Actor::Agent(AgentId(1));
    let mut steps = Vec::new();
    let new =
        NewTicket::new("Printer on fire", "It is on fire.", DepartmentId(1), UserId(1), Channel::Portal);
    let events = create(TicketId(1), new, &ann, t0(), &dir, &policy).unwrap();
    let out = process(rules, None, events, &ann, t0(), &dir, &policy).unwrap();
    let mut log = out.events.clone();
    let mut ticket = out.ticket.clone();
    steps.push(StepReport {
        command: "create".into(),
        fired: out.trace.fired().iter().map(|s| s.to_string()).collect(),
        effects: out.effects,
        trace: out.trace,
    });
    let script: Vec<(Actor, Command)> = vec![
        (
            alice.clone(),
            Command::AgentReply { body: "Have you tried water?".into(), attachments: vec![], status: None },
        ),
        (
            ann.clone(),
            Command::UserReply {
                body: "I want a refund.".into(),
                attachments: vec![],
                channel: Channel::Portal,
            },
        ),
        (alice.clone(), Command::SetUrgency { urgency: Urgency::new(10).unwrap() }),
        (alice.clone(), Command::SetStatus { status: Status::Resolved }),
    ];
    for (i, (actor, cmd)) in script.into_iter().enumerate() {
        let at = t0() + chrono::Duration::minutes(10 * (i as i64 + 1));
        let events = decide(&ticket, &cmd, &actor, at, &dir, &policy).unwrap();
        let out = process(rules, Some(&ticket), events, &actor, at, &dir, &policy).unwrap();
        log.extend(out.events.clone());
        ticket = out.ticket.clone();
        steps.push(StepReport {
            command: cmd.name().into(),
            fired: out.trace.fired().iter().map(|s| s.to_string()).collect(),
            effects: out.effects,
            trace: out.trace,
        });
    }
    assert_eq!(Ticket::from_events(&log).unwrap(), ticket, "the state is what the log folds to");
    Scenario { steps, log: render_log(&log) }
}

#[test]
fn valid_rule_files_load_and_explain_a_scenario() {
    for path in files("valid") {
        let file = read(&path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        let rules = file.compile().unwrap();
        // Round trip: what is stored reads back the same.
        let json = serde_json::to_string(&file).unwrap();
        assert_eq!(RuleFile::from_json(&json).unwrap(), file);
        insta::assert_yaml_snapshot!(format!("scenario_{}", stem(&path)), scenario(&rules));
    }
}
