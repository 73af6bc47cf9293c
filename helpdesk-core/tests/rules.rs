//! Data-driven tests of the domain rules.
//!
//! The cases live in `tests/data/rules.json`, so a new rule needs a new entry,
//! not new code. Each case names a starting ticket, a setup (commands that must
//! succeed), then one input — a command, a new ticket, or a raw urgency — by an
//! actor, and the expected outcome:
//!
//! - `{"ok": {"events": n, "kinds": [...], "ticket": {...}}}`: the command
//!   succeeds with `n` events of these kinds, and the resulting ticket,
//!   serialised to JSON, has (at least) these properties;
//! - `{"error": "Variant"}`: it is refused with this `TicketError` variant;
//! - `{"parse_error": "text"}`: the input does not even deserialise (the
//!   message contains `text`).
//!
//! Every error message is collected into one insta snapshot
//! (`rules__error_messages.snap`), so their wording is reviewed in one place.
//!
//! Strings of the form `$repeat(c,n)` anywhere in a case are expanded to `c`
//! repeated `n` times (for length limits).

use chrono::Duration;
use helpdesk_core::testing::{sample_directory, t0};
use helpdesk_core::*;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt::Write as _;

const CASES: &str = include_str!("data/rules.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// Free text: why the case exists.
    #[serde(default)]
    #[allow(dead_code)]
    why: Option<String>,
    #[serde(default)]
    policy: PolicySpec,
    /// Users of the sample directory whose address is not confirmed.
    #[serde(default)]
    unvalidated_users: Vec<u64>,
    #[serde(default)]
    start: Start,
    #[serde(default)]
    setup: Vec<Step>,
    actor: Option<Actor>,
    /// A command on the ticket (kept raw: it may be meant not to parse).
    command: Option<Value>,
    /// A new ticket instead of a command (kept raw, likewise).
    create: Option<Value>,
    /// A raw urgency for `Urgency::new`.
    urgency: Option<i64>,
    expect: Expect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    reopen: Option<ReopenPolicy>,
    require_validation: Option<bool>,
    default_urgency: Option<Urgency>,
}

impl PolicySpec {
    fn policy(&self) -> Policy {
        let mut p = Policy::default();
        if let Some(r) = self.reopen {
            p.reopen = r;
        }
        if let Some(v) = self.require_validation {
            p.require_validation = v;
        }
        if let Some(u) = self.default_urgency {
            p.default_urgency = u;
        }
        p
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Start {
    /// `"support"`: Ann's portal ticket in Support (the sample ticket);
    /// `"billing"`: Ann's portal ticket in Billing with account_number and plan.
    Preset(String),
    /// A ticket created by `actor`.
    Custom { actor: Actor, ticket: Box<NewTicket> },
}

impl Default for Start {
    fn default() -> Self {
        Start::Preset("support".into())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    actor: Actor,
    command: Command,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Expect {
    Ok(OkExpect),
    Error(String),
    ParseError(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OkExpect {
    /// Number of events the input produces.
    events: Option<usize>,
    /// Their kinds, in order (`Change::kind`).
    kinds: Option<Vec<String>>,
    /// A subset of the resulting ticket, as JSON.
    #[serde(default)]
    ticket: Map<String, Value>,
}

/// Expands `$repeat(c,n)` strings.
fn expand(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(inner) = s.strip_prefix("$repeat(").and_then(|r| r.strip_suffix(')')) {
                let (c, n) = inner.rsplit_once(',').expect("$repeat(c,n)");
                *s = c.repeat(n.trim().parse().expect("$repeat count"));
            }
        }
        Value::Array(a) => a.iter_mut().for_each(expand),
        Value::Object(o) => o.values_mut().for_each(expand),
        _ => {}
    }
}

fn load_cases() -> Vec<Case> {
    let mut raw: Value = serde_json::from_str(CASES).expect("tests/data/rules.json is valid JSON");
    expand(&mut raw);
    let cases: Vec<Case> = serde_json::from_value(raw).expect("tests/data/rules.json matches `Case`");
    let mut names = BTreeSet::new();
    for c in &cases {
        assert!(names.insert(c.name.clone()), "duplicate case name {:?}", c.name);
        let inputs = [c.command.is_some(), c.create.is_some(), c.urgency.is_some()];
        assert_eq!(
            inputs.iter().filter(|x| **x).count(),
            1,
            "{}: give one of command, create, urgency",
            c.name
        );
        if c.urgency.is_none() {
            assert!(c.actor.is_some(), "{}: needs an actor", c.name);
        }
    }
    cases
}

/// The name of an error's variant, from its `Debug` form.
fn variant(e: &TicketError) -> String {
    let d = format!("{e:?}");
    d.split(['(', ' ', '{']).next().unwrap_or_default().to_string()
}

fn directory(case: &Case) -> DirectorySnapshot {
    let mut dir = sample_directory();
    for u in &case.unvalidated_users {
        dir.users.get_mut(&UserId(*u)).expect("a sample user").validated = false;
    }
    dir
}

/// Builds the starting ticket and runs the setup; returns the log.
fn prepare(case: &Case, dir: &DirectorySnapshot, policy: &Policy) -> Vec<TicketEvent> {
    let (actor, new) = match &case.start {
        Start::Preset(p) if p == "support" => (
            Actor::User(UserId(1)),
            NewTicket::new("Printer on fire", "It is on fire.", DepartmentId(1), UserId(1), Channel::Portal),
        ),
        Start::Preset(p) if p == "billing" => {
            let mut n = NewTicket::new(
                "Invoice twice",
                "I was charged twice.",
                DepartmentId(2),
                UserId(1),
                Channel::Portal,
            );
            n.fields.insert("account_number".into(), FieldValue::Text("ACC-1".into()));
            n.fields.insert("plan".into(), FieldValue::Choice("basic".into()));
            (Actor::User(UserId(1)), n)
        }
        Start::Preset(p) => panic!("{}: unknown start {p:?}", case.name),
        Start::Custom { actor, ticket } => (actor.clone(), (**ticket).clone()),
    };
    let mut log = create(TicketId(1), new, &actor, t0(), dir, policy)
        .unwrap_or_else(|e| panic!("{}: start ticket refused: {e}", case.name));
    for (i, step) in case.setup.iter().enumerate() {
        let ticket = Ticket::from_events(&log).expect("log folds");
        let at = t0() + Duration::minutes(i as i64 + 1);
        let events = decide(&ticket, &step.command, &step.actor, at, dir, policy)
            .unwrap_or_else(|e| panic!("{}: setup step {} refused: {e}", case.name, i + 1));
        log.extend(events);
    }
    log
}

enum Outcome {
    Ok { events: Vec<TicketEvent>, ticket: Box<Ticket> },
    Err(TicketError),
    ParseError(String),
}

fn run(case: &Case) -> Outcome {
    let dir = directory(case);
    let policy = case.policy.policy();
    if let Some(u) = case.urgency {
        return match Urgency::new(u) {
            Ok(_) => Outcome::Ok { events: vec![], ticket: Box::new(testing::sample_ticket().0) },
            Err(e) => Outcome::Err(e),
        };
    }
    let actor = case.actor.clone().expect("checked");
    let at = t0() + Duration::hours(1);
    if let Some(raw) = &case.create {
        let new: NewTicket = match serde_json::from_value(raw.clone()) {
            Ok(n) => n,
            Err(e) => return Outcome::ParseError(e.to_string()),
        };
        return match create(TicketId(7), new, &actor, at, &dir, &policy) {
            Ok(events) => {
                let ticket = Ticket::from_events(&events).expect("a created log folds");
                Outcome::Ok { events, ticket: Box::new(ticket) }
            }
            Err(e) => Outcome::Err(e),
        };
    }
    let cmd: Command = match serde_json::from_value(case.command.clone().expect("checked")) {
        Ok(c) => c,
        Err(e) => return Outcome::ParseError(e.to_string()),
    };
    let mut log = prepare(case, &dir, &policy);
    let before = Ticket::from_events(&log).expect("log folds");
    match decide(&before, &cmd, &actor, at, &dir, &policy) {
        Ok(events) => {
            // Applying the new events one by one equals folding the whole log.
            let mut stepped = before.clone();
            for e in &events {
                assert_eq!(e.actor, actor, "{}: event names the actor", case.name);
                assert_eq!(e.at, at, "{}: event carries the time", case.name);
                stepped.apply(e).unwrap_or_else(|err| panic!("{}: event does not apply: {err}", case.name));
            }
            log.extend(events.iter().cloned());
            let folded = Ticket::from_events(&log).expect("log folds");
            assert_eq!(stepped, folded, "{}: stepwise state differs from the folded log", case.name);
            assert_eq!(folded.version, log.len() as u64, "{}: version is the log length", case.name);
            if events.is_empty() {
                assert_eq!(folded, before, "{}: no events, no change", case.name);
            }
            Outcome::Ok { events, ticket: Box::new(folded) }
        }
        Err(e) => Outcome::Err(e),
    }
}

fn check(case: &Case, outcome: &Outcome) -> Result<(), String> {
    match (&case.expect, outcome) {
        (Expect::Ok(want), Outcome::Ok { events, ticket }) => {
            if let Some(n) = want.events {
                if events.len() != n {
                    return Err(format!("expected {n} events, got {}: {events:#?}", events.len()));
                }
            }
            if let Some(kinds) = &want.kinds {
                let got: Vec<&str> = events.iter().map(|e| e.change.kind()).collect();
                if got != *kinds {
                    return Err(format!("expected event kinds {kinds:?}, got {got:?}"));
                }
            }
            let actual = serde_json::to_value(ticket).expect("a ticket serialises");
            for (key, value) in &want.ticket {
                let got = actual.get(key).ok_or_else(|| format!("the ticket has no property {key:?}"))?;
                if got != value {
                    return Err(format!("ticket.{key}: expected {value}, got {got}"));
                }
            }
            Ok(())
        }
        (Expect::Error(want), Outcome::Err(e)) if variant(e) == *want => Ok(()),
        (Expect::ParseError(want), Outcome::ParseError(msg)) if msg.contains(want.as_str()) => Ok(()),
        (_, Outcome::Ok { events, .. }) => {
            Err(format!("succeeded with {} events: {events:#?}", events.len()))
        }
        (_, Outcome::Err(e)) => Err(format!("refused with {e:?} ({e})")),
        (_, Outcome::ParseError(m)) => Err(format!("did not parse: {m}")),
    }
}

/// A message is clear: one line, no Rust debug noise, not empty.
fn assert_clear(name: &str, msg: &str) {
    assert!(!msg.trim().is_empty(), "{name}: empty error message");
    assert!(!msg.contains('\n'), "{name}: multi-line error message {msg:?}");
    for noise in ["Some(", "None", "TicketError", "AgentId(", "UserId(", "DepartmentId(", "TicketId("] {
        assert!(!msg.contains(noise), "{name}: error message {msg:?} leaks {noise:?}");
    }
}

#[test]
fn rules_table() {
    let cases = load_cases();
    let mut failures = Vec::new();
    let mut messages = String::new();
    for case in &cases {
        let outcome = run(case);
        if let Err(why) = check(case, &outcome) {
            failures.push(format!("{}: {why}", case.name));
            continue;
        }
        match &outcome {
            Outcome::Err(e) => {
                let msg = e.to_string();
                assert_clear(&case.name, &msg);
                writeln!(messages, "{} -> {msg}", case.name).unwrap();
            }
            Outcome::ParseError(msg) => {
                writeln!(messages, "{} -> (parse) {msg}", case.name).unwrap();
            }
            Outcome::Ok { .. } => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    insta::assert_snapshot!("error_messages", messages);
}

/// The table covers every kind of command, and both outcomes for most of them.
#[test]
fn rules_table_covers_every_command() {
    let cases = load_cases();
    let mut seen = BTreeSet::new();
    for c in cases.iter().filter_map(|c| c.command.as_ref()) {
        if let Some(name) = c.get("command").and_then(Value::as_str) {
            seen.insert(name.to_string());
        }
    }
    for name in [
        "user_reply",
        "agent_reply",
        "add_note",
        "set_status",
        "set_subject",
        "set_department",
        "assign_agent",
        "assign_team",
        "set_owner",
        "add_cc",
        "remove_cc",
        "follow",
        "unfollow",
        "set_urgency",
        "adjust_urgency",
        "add_label",
        "remove_label",
        "set_field",
        "delete",
        "mark_spam",
        "restore",
    ] {
        assert!(seen.contains(name), "no case in rules.json exercises {name}");
    }
}

/// Urgency is range-checked however it is built.
#[test]
fn urgency_range() {
    for v in [0, 11, -1, 255, i64::MAX, i64::MIN] {
        assert_eq!(Urgency::new(v), Err(TicketError::UrgencyOutOfRange(v)));
        assert!(serde_json::from_value::<Urgency>(Value::from(v)).is_err(), "{v} deserialised");
    }
    for v in 1..=10 {
        assert_eq!(Urgency::new(v).unwrap().get() as i64, v);
        let u: Urgency = serde_json::from_value(Value::from(v)).unwrap();
        assert_eq!(serde_json::to_value(u).unwrap(), Value::from(v));
    }
    let bad_cmd = serde_json::json!({"command": "set_urgency", "urgency": 11});
    let err = serde_json::from_value::<Command>(bad_cmd).unwrap_err();
    assert!(err.to_string().contains("urgency must be between 1 and 10, got 11"), "{err}");
    let mut new = serde_json::to_value(NewTicket::new("s", "b", DepartmentId(1), UserId(1), Channel::Agent))
        .expect("serialises");
    new["urgency"] = Value::from(11);
    assert!(serde_json::from_value::<NewTicket>(new).is_err());
}

/// Errors change nothing: the same refused command is refused again the same
/// way, and the ticket it was given is untouched.
#[test]
fn refused_commands_are_pure() {
    let dir = sample_directory();
    let (ticket, _) = testing::sample_ticket();
    let copy = ticket.clone();
    let cmd = Command::SetSubject { subject: " ".into() };
    let a = decide(&ticket, &cmd, &Actor::Agent(AgentId(1)), t0(), &dir, &Policy::default());
    let b = decide(&ticket, &cmd, &Actor::Agent(AgentId(1)), t0(), &dir, &Policy::default());
    assert_eq!(a, Err(TicketError::EmptySubject));
    assert_eq!(a, b);
    assert_eq!(ticket, copy);
}
