//! Triggers, escalations and SLAs through the `Helpdesk`, on both backends,
//! with a manual clock: time is advanced, the due timers are swept, and the
//! ticket logs are snapshotted.

use chrono::{DateTime, Duration, TimeZone, Utc};
use helpdesk_core::automation::{render_log, RuleFile};
use helpdesk_core::rule::{Action, RuleContext};
use helpdesk_core::trigger::{Evaluation, Trigger, TriggerEvent};
use helpdesk_core::*;
use helpdesk_store::{Error, Helpdesk, HelpdeskBuilder, KvStore, MemEngine, NewAgent};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

struct Env {
    name: &'static str,
    hd: Helpdesk,
    clock: Arc<ManualClock>,
    _dir: Option<tempfile::TempDir>,
    support: Department,
    alice: Agent,
    ann: User,
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn builder(clock: &Arc<ManualClock>) -> HelpdeskBuilder {
    Helpdesk::builder().clock(clock.clone()).durability(Durability::Buffered)
}

fn setup(name: &'static str, hd: Helpdesk, clock: Arc<ManualClock>, dir: Option<tempfile::TempDir>) -> Env {
    let support = hd.create_department("Support", vec![]).unwrap();
    let alice = hd.create_agent(NewAgent::new("Alice", "alice@helpdesk.test").admin()).unwrap();
    hd.create_organisation("Acme", &["acme.com"]).unwrap();
    let ann = hd.create_user(NewUser::new("Ann", "ann@acme.com")).unwrap();
    Env { name, hd, clock, _dir: dir, support, alice, ann }
}

/// The same setup on the in-memory and the sled backend, the clock at
/// Monday 2026-01-05 09:00 UTC. `extra` adds builder options (code triggers).
fn envs_with(extra: impl Fn(HelpdeskBuilder) -> HelpdeskBuilder) -> Vec<Env> {
    let clock = Arc::new(ManualClock::default_start());
    let mem = extra(builder(&clock)).in_memory();
    let dir = tempfile::tempdir().unwrap();
    let clock2 = Arc::new(ManualClock::default_start());
    let sled = extra(builder(&clock2)).open(dir.path().join("db")).unwrap();
    vec![setup("memory", mem, clock, None), setup("sled", sled, clock2, Some(dir))]
}

fn envs() -> Vec<Env> {
    envs_with(|b| b)
}

impl Env {
    fn ticket(&self, subject: &str) -> Ticket {
        self.hd
            .create_ticket(
                &Actor::User(self.ann.id),
                NewTicket::new(subject, "Please help.", self.support.id, self.ann.id, Channel::Portal),
            )
            .unwrap()
    }

    fn advance_and_sweep(&self, by: Duration) -> helpdesk_store::DueReport {
        self.clock.advance(by);
        self.hd.tick().unwrap()
    }

    fn log(&self, id: TicketId) -> Vec<String> {
        let log = self.hd.log(id).unwrap();
        assert_eq!(
            Ticket::from_events(&log).unwrap(),
            self.hd.ticket(id).unwrap(),
            "{}: log folds to state",
            self.name
        );
        render_log(&log)
    }

    fn outbox(&self) -> Vec<String> {
        self.hd
            .store()
            .outbox(None, 1000)
            .unwrap()
            .into_iter()
            .map(|i| format!("{} {}", i.key, serde_json::to_string(&i.effect).unwrap()))
            .collect()
    }

    /// Everything the store holds about tickets: states, logs, every index
    /// key, the outbox.
    fn dump(&self) -> String {
        let store = self.hd.store();
        let mut out = String::new();
        let last = store.last_ticket_id().unwrap().map(|t| t.0).unwrap_or(0);
        for id in 1..=last {
            out += &format!(
                "{:?}\n{:?}\n",
                store.ticket(TicketId(id)).unwrap(),
                store.events(TicketId(id)).unwrap()
            );
        }
        out += &format!(
            "{:?}\n{:?}\n",
            store.scan_index(&[], None, usize::MAX).unwrap(),
            store.outbox(None, 10_000)
        );
        out
    }
}

#[test]
fn default_escalations_raise_urgency_over_time_and_repeat() {
    for env in envs() {
        env.hd.install_default_escalations().unwrap();
        env.hd.install_default_escalations().unwrap(); // idempotent
        assert_eq!(env.hd.escalations().unwrap().len(), 1);
        env.hd
            .load_rules_toml(
                r#"
                [[escalations]]
                name = "Silent users: resolve"
                status = "awaiting_user"
                after = "3d"
                actions = [
                  { action = "set_status", status = "resolved" },
                  { action = "notify", to = "user", template = "closed-for-silence" },
                ]
                "#,
            )
            .unwrap();
        let t = env.ticket("Printer on fire");
        let due = env.hd.due_tickets(utc("2026-01-06T00:00:00Z"), 10).unwrap();
        assert_eq!(due, vec![(utc("2026-01-05T13:00:00Z"), t.id)], "{}", env.name);

        assert!(env.advance_and_sweep(Duration::hours(3)).due.is_empty()); // 12:00: not yet
        let r = env.advance_and_sweep(Duration::hours(1)); // 13:00: 4 h awaiting agent
        assert_eq!(r.changed, vec![t.id]);
        assert_eq!(env.hd.ticket(t.id).unwrap().urgency.get(), 2);
        env.advance_and_sweep(Duration::hours(4)); // 17:00: the repeat
        assert_eq!(env.hd.ticket(t.id).unwrap().urgency.get(), 3);
        // A long outage: one firing, no burst; the next due time is after now.
        env.advance_and_sweep(Duration::hours(13)); // Tue 06:00
        assert_eq!(env.hd.ticket(t.id).unwrap().urgency.get(), 4);
        // The agent answers: the ticket awaits the user; urgency stops rising.
        env.hd.agent_reply(t.id, env.alice.id, "Try water.", None).unwrap();
        env.advance_and_sweep(Duration::hours(48));
        assert_eq!(env.hd.ticket(t.id).unwrap().urgency.get(), 4);
        // Three days awaiting the user: resolved, and the user notified.
        let r = env.advance_and_sweep(Duration::hours(24));
        assert_eq!(r.changed, vec![t.id]);
        assert_eq!(env.hd.ticket(t.id).unwrap().status, Status::Resolved);
        // Nothing is due any more.
        assert!(env.hd.due_tickets(utc("2030-01-01T00:00:00Z"), 10).unwrap().is_empty());
        insta::assert_yaml_snapshot!("escalations_log", env.log(t.id));
        insta::assert_yaml_snapshot!("escalations_outbox", env.outbox());
    }
}

const SLA_RULES: &str = r#"
[[sla]]
name = "First reply in 4h"
kind = "first_response"
warning = "3h"
failure = "4h"

[[triggers]]
name = "Warn the team lead"
on = ["sla_warning"]
actions = [
  { action = "add_label", label = "sla-warning" },
  { action = "notify", to = "lead@helpdesk.test", template = "sla-warning" },
]

[[triggers]]
name = "Failed SLAs are urgent"
on = ["sla_failed.First reply in 4h"]
all = [{ field = "ticket.sla", op = "is", value = "failed" }]
actions = [{ action = "raise_urgency", by = 5 }]

[[triggers]]
name = "Urgency 6 or more is seen by Alice"
on = ["updated"]
all = [{ field = "ticket.urgency", op = "greater_than", value = 5 }, { field = "ticket.urgency", op = "changed" }]
actions = [{ action = "add_follower", agent = 1 }]
"#;

#[test]
fn sla_warns_then_fails_and_triggers_act_on_it() {
    for env in envs() {
        env.hd.load_rules_toml(SLA_RULES).unwrap();
        let t = env.ticket("Printer on fire");
        let sla = &t.sla["First reply in 4h"];
        assert_eq!(
            (sla.state, sla.warn_at, sla.due),
            (SlaState::Ok, Some(utc("2026-01-05T12:00:00Z")), Some(utc("2026-01-05T13:00:00Z")))
        );
        assert_eq!(env.hd.count_by_sla_state(SlaState::Ok).unwrap(), 1);

        assert!(env.advance_and_sweep(Duration::minutes(179)).changed.is_empty()); // 11:59
        let r = env.advance_and_sweep(Duration::minutes(1)); // 12:00: warning
        assert_eq!(r.traces[0].1.fired(), vec!["Warn the team lead"]);
        let now = env.hd.ticket(t.id).unwrap();
        assert_eq!(now.sla["First reply in 4h"].state, SlaState::Warning);
        assert!(now.labels.contains("sla-warning"));
        assert_eq!(env.hd.tickets_by_sla_state(SlaState::Warning, None, 10).unwrap().len(), 1);

        env.advance_and_sweep(Duration::hours(1)); // 13:00: failed
        let now = env.hd.ticket(t.id).unwrap();
        assert_eq!(now.sla["First reply in 4h"].state, SlaState::Failed);
        assert_eq!(now.urgency.get(), 6);
        assert!(now.followers.contains(&env.alice.id), "the urgency change fired an update trigger");
        assert_eq!(env.hd.count_by_sla_state(SlaState::Failed).unwrap(), 1);
        assert_eq!(env.hd.count_by_sla_state(SlaState::Warning).unwrap(), 0);
        assert_eq!(env.hd.tickets_by_sla_state(SlaState::Failed, None, 10).unwrap()[0].id, t.id);

        // The late reply meets the goal; the SLA stays failed, nothing more is due.
        env.clock.advance(Duration::minutes(30));
        env.hd.agent_reply(t.id, env.alice.id, "Sorry for the wait.", None).unwrap();
        assert!(env.hd.due_tickets(utc("2030-01-01T00:00:00Z"), 10).unwrap().is_empty());

        // A second ticket answered in time stays ok.
        let t2 = env.ticket("Scanner jammed");
        env.clock.advance(Duration::hours(1));
        env.hd.agent_reply(t2.id, env.alice.id, "On it.", None).unwrap();
        assert!(env.advance_and_sweep(Duration::hours(10)).changed.is_empty());
        assert_eq!(env.hd.ticket(t2.id).unwrap().sla["First reply in 4h"].state, SlaState::Ok);

        insta::assert_yaml_snapshot!("sla_log", env.log(t.id));
        insta::assert_yaml_snapshot!("sla_log_in_time", env.log(t2.id));
        insta::assert_yaml_snapshot!("sla_outbox", env.outbox());
    }
}

#[test]
fn sla_counts_working_hours_across_a_weekend_and_a_holiday() {
    for env in envs() {
        env.hd
            .load_rules_toml(
                r#"
                [[sla]]
                name = "Office hours"
                kind = "first_response"
                warning = "2h"
                failure = "4h"
                [sla.working_hours]
                timezone = "Europe/London"
                hours = [{ days = ["mon", "tue", "wed", "thu", "fri"], from = "09:00", to = "17:00" }]
                holidays = ["2026-01-12"]
                "#,
            )
            .unwrap();
        env.clock.set(utc("2026-01-09T15:00:00Z")); // Friday 15:00 in London
        let t = env.ticket("Before the weekend");
        let sla = &t.sla["Office hours"];
        assert_eq!(sla.warn_at, Some(utc("2026-01-09T17:00:00Z")));
        // Fri 15-17 (2h), the weekend, Monday's holiday, then Tuesday 09-11.
        assert_eq!(sla.due, Some(utc("2026-01-13T11:00:00Z")));

        assert!(env.advance_and_sweep(Duration::minutes(119)).changed.is_empty());
        assert_eq!(env.advance_and_sweep(Duration::minutes(1)).changed, vec![t.id]); // Fri 17:00 warning
        env.clock.set(utc("2026-01-12T16:00:00Z")); // Monday, a holiday
        assert!(env.hd.tick().unwrap().changed.is_empty());
        env.clock.set(utc("2026-01-13T10:59:00Z"));
        assert!(env.hd.tick().unwrap().changed.is_empty());
        env.clock.set(utc("2026-01-13T11:00:00Z"));
        assert_eq!(env.hd.tick().unwrap().changed, vec![t.id]);
        assert_eq!(env.hd.ticket(t.id).unwrap().sla["Office hours"].state, SlaState::Failed);
        insta::assert_yaml_snapshot!("sla_working_hours_log", env.log(t.id));
    }
}

#[test]
fn sla_clocks_pause_resume_and_start_new_rounds() {
    for env in envs() {
        env.hd
            .load_rules_toml(
                r#"
                [[sla]]
                name = "Resolved in 8h"
                kind = "resolution"
                failure = "8h"

                [[sla]]
                name = "Every answer in 2h"
                kind = "every_response"
                failure = "2h"
                "#,
            )
            .unwrap();
        let t = env.ticket("Slow printer");
        let alice = Actor::Agent(env.alice.id);
        env.clock.advance(Duration::hours(1));
        env.hd.agent_reply(t.id, env.alice.id, "Which model?", None).unwrap(); // answered in 1h
        env.clock.advance(Duration::hours(1));
        env.hd.execute(t.id, &alice, Command::SetStatus { status: Status::Pending }).unwrap(); // 2h counted
        env.clock.advance(Duration::hours(10)); // paused: no failure
        assert!(env.hd.tick().unwrap().changed.is_empty());
        env.hd.user_reply(t.id, env.ann.id, "Model X, any news?").unwrap(); // resumes; new round
        let now = env.hd.ticket(t.id).unwrap();
        assert_eq!(now.sla["Resolved in 8h"].due, Some(env.clock.now() + Duration::hours(6)));
        assert_eq!(now.sla["Every answer in 2h"].due, Some(env.clock.now() + Duration::hours(2)));
        env.advance_and_sweep(Duration::hours(2)); // the answer is late
        assert_eq!(env.hd.ticket(t.id).unwrap().sla["Every answer in 2h"].state, SlaState::Failed);
        env.hd.agent_reply(t.id, env.alice.id, "Fixed.", Some(Status::Resolved)).unwrap();
        env.clock.advance(Duration::hours(1));
        env.hd.user_reply(t.id, env.ann.id, "Broken again.").unwrap(); // reopened: a fresh round
        let now = env.hd.ticket(t.id).unwrap();
        assert_eq!(now.sla["Every answer in 2h"].state, SlaState::Ok);
        assert_eq!(now.sla["Resolved in 8h"].counted_secs, 4 * 3600);
        insta::assert_yaml_snapshot!("sla_rounds_log", env.log(t.id));
    }
}

/// A Rust trigger that always fires and raises urgency: without loop
/// safety it would fire on its own change forever.
struct AlwaysRaise(AtomicUsize);

impl Trigger for AlwaysRaise {
    fn name(&self) -> &str {
        "always raise"
    }
    fn order(&self) -> i32 {
        10
    }
    fn evaluate(&self, cx: &RuleContext<'_>) -> Evaluation {
        self.0.fetch_add(1, Ordering::SeqCst);
        if cx.events.iter().any(|e| matches!(e, TriggerEvent::Updated | TriggerEvent::NewTicket(_))) {
            Evaluation::fire(self.name(), vec![Action::Command(Command::AdjustUrgency { by: 1 })])
        } else {
            Evaluation::skip(self.name(), "not an update")
        }
    }
}

#[test]
fn mutually_triggering_rules_terminate_and_fire_once_per_chain() {
    let code = Arc::new(AlwaysRaise(AtomicUsize::new(0)));
    let c = code.clone();
    for env in envs_with(move |b| b.trigger(c.clone())) {
        env.hd
            .load_rules_toml(
                r#"
                [[triggers]]
                name = "Urgency adds a label"
                on = ["updated"]
                all = [{ field = "ticket.urgency", op = "changed" }]
                actions = [{ action = "add_label", label = "bumped" }, { action = "remove_label", label = "calm" }]

                [[triggers]]
                name = "Labels calm it down"
                on = ["updated"]
                all = [{ field = "ticket.labels", op = "changed" }]
                actions = [{ action = "lower_urgency", by = 1 }, { action = "add_label", label = "calm" }]
                "#,
            )
            .unwrap();
        let t = env.ticket("Ping");
        let (_, trace) = env
            .hd
            .execute_explained(
                t.id,
                &Actor::Agent(env.alice.id),
                Command::SetUrgency { urgency: Urgency::new(5).unwrap() },
            )
            .unwrap();
        let mut fired = trace.fired();
        fired.sort();
        assert_eq!(fired, vec!["Labels calm it down", "Urgency adds a label", "always raise"]);
        assert!(trace.steps.len() <= 4, "{}", trace.steps.len());
        insta::assert_yaml_snapshot!("loop_log", env.log(t.id));
    }
    assert!(code.0.load(Ordering::SeqCst) > 0);
}

#[test]
fn the_chain_is_bounded() {
    // 70 triggers, each firing on any update and changing something: the
    // chain stops at MAX_CHAIN_STEPS, and the commit still lands.
    let mut text = String::new();
    for i in 0..70 {
        text += &format!(
            "[[triggers]]\nname = \"t{i:02}\"\norder = {i}\non = [\"updated\"]\nactions = [{{ action = \"add_label\", label = \"l{i:02}\" }}]\n\n"
        );
    }
    for env in envs() {
        env.hd.load_rules_toml(&text).unwrap();
        let t = env.ticket("Many rules");
        let (after, trace) = env
            .hd
            .execute_explained(t.id, &Actor::Agent(env.alice.id), Command::AddLabel { label: "go".into() })
            .unwrap();
        assert_eq!(trace.fired().len(), 70, "each fires once");
        assert_eq!(trace.steps.len(), helpdesk_core::trigger::MAX_CHAIN_STEPS);
        assert!(trace.stopped.as_deref().unwrap().contains("64 steps"));
        assert_eq!(after.labels.len(), 71);
        assert_eq!(env.hd.ticket(t.id).unwrap(), after);
    }
}

#[test]
fn trigger_changes_and_effects_are_one_commit_with_the_change() {
    for env in envs() {
        env.hd
            .load_rules_toml(
                r#"
                [[triggers]]
                name = "Acme is important"
                on = ["new_ticket.portal"]
                all = [{ field = "organisation.name", op = "is", value = "acme" }, { field = "user.email", op = "contains", value = "@acme.com" }]
                actions = [
                  { action = "set_urgency", urgency = 7 },
                  { action = "set_agent", agent = 1 },
                  { action = "notify", to = "agent", channel = "in_app" },
                  { action = "webhook", url = "https://hooks.example.invalid/new" },
                  { action = "notify", to = "team" },
                ]
                "#,
            )
            .unwrap();
        let (t, trace) = env
            .hd
            .create_ticket_explained(
                &Actor::User(env.ann.id),
                NewTicket::new("Invoice", "Where is it?", env.support.id, env.ann.id, Channel::Portal),
            )
            .unwrap();
        assert_eq!(trace.fired(), vec!["Acme is important"]);
        assert_eq!((t.urgency.get(), t.agent), (7, Some(env.alice.id)));
        assert_eq!(
            t.version, 6,
            "created, message, urgency, agent, queued in-app note, queued webhook: one commit"
        );
        let items = env.hd.store().outbox(None, 10).unwrap();
        let from_trigger = |i: &&OutboxItem| match &i.effect {
            Effect::Notify(n) => n.reason == "Acme is important",
            Effect::Webhook(w) => w.origin == "Acme is important",
        };
        assert_eq!(items.iter().filter(from_trigger).count(), 2, "no team assigned: nobody to notify");
        // The rest are subscription notifications (Alice, an admin, hears of new tickets).
        assert!(items
            .iter()
            .filter(|i| !from_trigger(i))
            .all(|i| matches!(&i.effect, Effect::Notify(n) if n.reason == "new_ticket")));
        assert!(items.iter().all(|i| i.key.ticket == t.id && i.key.version == t.version));
        let log = env.hd.log(t.id).unwrap();
        assert!(log[2..]
            .iter()
            .all(|e| e.actor == Actor::System(SystemActor::Trigger("Acme is important".into()))));
        insta::assert_yaml_snapshot!("one_commit_trace", trace);
    }
}

#[test]
fn dry_run_reports_and_changes_nothing() {
    for env in envs() {
        env.hd.install_default_escalations().unwrap();
        let t1 = env.ticket("Printer on fire");
        let t2 = env.ticket("Scanner jammed");
        env.hd.agent_reply(t2.id, env.alice.id, "Done?", None).unwrap();
        env.clock.advance(Duration::hours(5));
        let before = env.dump();
        let def: helpdesk_core::TriggerDef = serde_json::from_value(serde_json::json!({
            "name": "Preview", "on": ["updated"],
            "all": [{ "field": "ticket.status", "op": "is", "value": "awaiting_agent" }],
            "actions": [{ "action": "raise_urgency", "by": 2 }, { "action": "notify", "to": "user" }]
        }))
        .unwrap();
        let runs = env.hd.dry_run_trigger(&def, None).unwrap();
        let escalation = env.hd.escalations().unwrap().remove(0);
        let esc_runs = env.hd.dry_run_escalation(&escalation, Some(&[t1.id, t2.id])).unwrap();
        assert_eq!(env.dump(), before, "{}: a dry run changes nothing", env.name);
        assert!(env.hd.triggers().unwrap().is_empty());
        assert_eq!(
            runs.iter().map(|r| (r.ticket, r.fires)).collect::<Vec<_>>(),
            vec![(t1.id, true), (t2.id, false)]
        );
        assert_eq!(esc_runs[0].due, Some(utc("2026-01-05T13:00:00Z")));
        insta::assert_yaml_snapshot!("dry_run_trigger", runs);
        insta::assert_yaml_snapshot!("dry_run_escalation", esc_runs);
    }
}

#[test]
fn bad_definitions_are_refused_and_store_nothing() {
    for env in envs() {
        let plan = FieldDef {
            key: "plan".into(),
            label: "Plan".into(),
            kind: FieldKind::Choice { options: vec!["basic".into(), "pro".into()] },
            required: false,
            agent_only: false,
            retired: false,
        };
        let mut d = env.support.clone();
        d.fields.push(plan);
        env.hd.update_department(d).unwrap();
        let cases = [
            r#"{"name": "Unknown custom field", "on": ["updated"], "all": [{"field": "ticket.fields.colour", "op": "is", "value": "red"}], "actions": [{"action": "stop"}]}"#,
            r#"{"name": "Choices are not numbers", "on": ["updated"], "all": [{"field": "ticket.fields.plan", "op": "greater_than", "value": 3}], "actions": [{"action": "stop"}]}"#,
            r#"{"name": "Setting a field nobody has", "on": ["updated"], "actions": [{"action": "set_field", "key": "colour", "value": "red"}]}"#,
            r#"{"name": "Urgency zero", "on": ["updated"], "actions": [{"action": "set_urgency", "urgency": 0}]}"#,
        ];
        let mut messages = Vec::new();
        for c in cases {
            let def: TriggerDef = serde_json::from_str(c).unwrap();
            match env.hd.put_trigger(def) {
                Err(Error::Rule(e)) => messages.push(e.to_string()),
                other => panic!("{c}: {other:?}"),
            }
        }
        let file = RuleFile::from_toml("[[sla]]\nname = \"x\"\nkind = \"resolution\"\nfailure = \"1d\"\nall = [{ field = \"ticket.fields.size\", op = \"is\", value = 3 }]\n").unwrap();
        match env.hd.load_rules(&file) {
            Err(Error::Rule(e)) => messages.push(e.to_string()),
            other => panic!("{other:?}"),
        }
        assert!(env.hd.rule_file().unwrap() == RuleFile::default(), "nothing stored");
        // A good one with the known field loads, runs and can be deleted.
        let ok: TriggerDef = serde_json::from_str(
            r#"{"name": "Pro plans", "on": ["updated"], "all": [{"field": "ticket.fields.plan", "op": "changed_to", "value": "pro"}], "actions": [{"action": "add_label", "label": "pro"}]}"#,
        )
        .unwrap();
        env.hd.put_trigger(ok).unwrap();
        let t = env.ticket("Upgrade");
        let t = env
            .hd
            .execute(
                t.id,
                &Actor::Agent(env.alice.id),
                Command::SetField { key: "plan".into(), value: Some(FieldValue::Choice("pro".into())) },
            )
            .unwrap();
        assert!(t.labels.contains("pro"));
        assert!(env.hd.delete_trigger("Pro plans").unwrap());
        assert!(!env.hd.delete_trigger("Pro plans").unwrap());
        insta::assert_yaml_snapshot!("refused_definitions", messages);
    }
}

#[test]
fn rules_persist_in_sled_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let clock = Arc::new(ManualClock::default_start());
    {
        let hd = builder(&clock).open(&path).unwrap();
        let env = setup("sled", hd, clock.clone(), None);
        env.hd.load_rules_toml(SLA_RULES).unwrap();
        env.hd.install_default_escalations().unwrap();
        env.ticket("Before the restart");
        env.hd.flush().unwrap();
    }
    let hd = builder(&clock).open(&path).unwrap();
    let file = hd.rule_file().unwrap();
    assert_eq!((file.triggers.len(), file.escalations.len(), file.sla.len()), (3, 1, 1));
    assert_eq!(file, RuleFile::from_toml(&toml_of(&file)).unwrap(), "what is stored exports and loads again");
    clock.advance(Duration::hours(3));
    let r = hd.tick().unwrap();
    assert_eq!(r.changed, vec![TicketId(1)]);
    assert!(hd.ticket(TicketId(1)).unwrap().labels.contains("sla-warning"));
}

fn toml_of(file: &RuleFile) -> String {
    // Rule files round-trip through JSON text; TOML is written by people.
    let json = serde_json::to_value(file).unwrap();
    toml::to_string(&json).unwrap()
}

/// A store that counts what the sweep reads.
struct Counting {
    inner: KvStore<MemEngine>,
    ticket_reads: AtomicUsize,
    index_keys_read: AtomicUsize,
}

impl IdSource for Counting {
    fn next_id(&self, kind: IdKind) -> Result<u64, StoreError> {
        self.inner.next_id(kind)
    }
}

impl Store for Counting {
    fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        self.ticket_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.ticket(id)
    }
    fn events(&self, id: TicketId) -> Result<Vec<TicketEvent>, StoreError> {
        self.inner.events(id)
    }
    fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.inner.commit(commit)
    }
    fn commit_all(&self, commits: &[Commit]) -> Result<(), StoreError> {
        self.inner.commit_all(commits)
    }
    fn scan_index(
        &self,
        prefix: &[u8],
        after: Option<&IndexKey>,
        limit: usize,
    ) -> Result<Vec<IndexKey>, StoreError> {
        let keys = self.inner.scan_index(prefix, after, limit)?;
        self.index_keys_read.fetch_add(keys.len(), Ordering::SeqCst);
        Ok(keys)
    }
    fn counter(&self, key: &CounterKey) -> Result<i64, StoreError> {
        self.inner.counter(key)
    }
    fn last_ticket_id(&self) -> Result<Option<TicketId>, StoreError> {
        self.inner.last_ticket_id()
    }
    fn put_record(&self, record: &Record) -> Result<(), StoreError> {
        self.inner.put_record(record)
    }
    fn delete_record(&self, kind: RecordKind, id: u64) -> Result<bool, StoreError> {
        self.inner.delete_record(kind, id)
    }
    fn record(&self, kind: RecordKind, id: u64) -> Result<Option<Record>, StoreError> {
        self.inner.record(kind, id)
    }
    fn records(&self, kind: RecordKind, after: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        self.inner.records(kind, after, limit)
    }
    fn lookup(&self, key: &UniqueKey) -> Result<Option<(RecordKind, u64)>, StoreError> {
        self.inner.lookup(key)
    }
    fn outbox(&self, after: Option<OutboxKey>, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        self.inner.outbox(after, limit)
    }
    fn reschedule(&self, item: &OutboxItem) -> Result<bool, StoreError> {
        self.inner.reschedule(item)
    }
    fn claim_outbox(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
        lease: std::time::Duration,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.inner.claim_outbox(now, limit, lease)
    }
    fn exclusive(&self, name: &str, work: &mut dyn FnMut()) -> Result<bool, StoreError> {
        self.inner.exclusive(name, work)
    }
    fn config_namespaces(&self) -> Result<Vec<String>, StoreError> {
        self.inner.config_namespaces()
    }
    fn blob_ids(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, StoreError> {
        self.inner.blob_ids(after, limit)
    }
    fn id_mark(&self, kind: IdKind) -> Result<u64, StoreError> {
        self.inner.id_mark(kind)
    }
    fn raise_id_mark(&self, kind: IdKind, mark: u64) -> Result<(), StoreError> {
        self.inner.raise_id_mark(kind, mark)
    }
    fn admin_commit(&self, c: &AdminCommit) -> Result<u64, StoreError> {
        self.inner.admin_commit(c)
    }
    fn audit_log(&self, before: Option<u64>, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit_log(before, limit)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
    fn put_config(&self, ns: &str, name: &str, value: Option<&serde_json::Value>) -> Result<(), StoreError> {
        self.inner.put_config(ns, name, value)
    }
    fn configs(&self, ns: &str) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        self.inner.configs(ns)
    }
    fn put_blob(&self, id: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.put_blob(id, bytes)
    }
    fn blob(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.blob(id)
    }
    fn scan_counters(&self, prefix: &[u8]) -> Result<Vec<(CounterKey, i64)>, StoreError> {
        self.inner.scan_counters(prefix)
    }
    fn summary(&self, id: TicketId) -> Result<Option<helpdesk_core::summary::TicketSummary>, StoreError> {
        self.inner.summary(id)
    }
}

#[test]
fn the_sweep_reads_only_what_is_due() {
    let store = Arc::new(Counting {
        inner: KvStore::new(MemEngine::default()),
        ticket_reads: AtomicUsize::new(0),
        index_keys_read: AtomicUsize::new(0),
    });
    let clock = Arc::new(ManualClock::default_start());
    let hd = builder(&clock).store(store.clone());
    let env = setup("counting", hd, clock.clone(), None);
    env.hd.install_default_escalations().unwrap();
    // 300 tickets, one a minute; after 4 h + 5 min, the first 6 are due.
    for i in 0..300 {
        env.ticket(&format!("Ticket {i}"));
        clock.advance(Duration::minutes(1));
    }
    clock.set(Utc.with_ymd_and_hms(2026, 1, 5, 13, 5, 0).unwrap());
    store.ticket_reads.store(0, Ordering::SeqCst);
    store.index_keys_read.store(0, Ordering::SeqCst);
    let r = env.hd.tick().unwrap();
    assert_eq!(r.due.len(), 6);
    assert_eq!(r.changed.len(), 6);
    let reads = store.ticket_reads.load(Ordering::SeqCst);
    assert!(reads <= 2 * 6, "{reads} ticket reads for 6 due tickets");
    // One page of the due index (128 keys at most) was read, not 300 tickets.
    assert!(store.index_keys_read.load(Ordering::SeqCst) <= 128);
    assert!(env.hd.tick().unwrap().due.is_empty(), "fired tickets moved on");
}

#[test]
fn new_policies_reach_existing_tickets_and_refused_actions_are_explained() {
    for env in envs() {
        let old = env.ticket("Before the policy");
        env.hd
            .load_rules_toml(
                r#"
                [[sla]]
                name = "Resolved in 2d"
                kind = "resolution"
                failure = "2d"

                [[triggers]]
                name = "Assign to a ghost"
                on = ["user_reply"]
                actions = [{ action = "set_agent", agent = 99 }, { action = "add_label", label = "ghosted" }]
                "#,
            )
            .unwrap();
        assert!(env.hd.ticket(old.id).unwrap().sla.is_empty());
        assert_eq!(env.hd.reschedule_all().unwrap(), 1);
        assert_eq!(env.hd.reschedule_all().unwrap(), 0, "idempotent");
        assert_eq!(
            env.hd.ticket(old.id).unwrap().sla["Resolved in 2d"].due,
            Some(utc("2026-01-07T09:00:00Z"))
        );
        // A refused action is skipped and explained; the user's reply and the
        // other actions still land.
        let (t, trace) = env
            .hd
            .execute_explained(
                old.id,
                &Actor::User(env.ann.id),
                Command::UserReply { body: "Hello?".into(), attachments: vec![], channel: Channel::Portal },
            )
            .unwrap();
        assert!(t.labels.contains("ghosted") && t.agent.is_none());
        let actions = &trace.steps[0].rules[0].actions;
        assert_eq!(actions[0].outcome, "refused: agent:99 does not exist");
        // Deleting the policy: the ticket drops it when next swept or changed.
        assert!(env.hd.delete_sla("Resolved in 2d").unwrap());
        env.clock.set(utc("2026-01-08T00:00:00Z"));
        let r = env.hd.tick().unwrap();
        assert_eq!(r.changed, vec![old.id]);
        assert!(env.hd.ticket(old.id).unwrap().sla.is_empty());
    }
}
