//! Automation: triggers, escalations and an SLA from a TOML rule file, a Rust
//! trigger of the embedder's own, and a manual clock moved forward to see
//! the SLA warn and fail and the escalation raise urgency. Prints the log.
//!
//! ```text
//! cargo run --example automation
//! ```

use chrono::Duration;
use helpdesk_core::automation::render_log;
use helpdesk_core::rule::{Action, RuleContext};
use helpdesk_core::trigger::{Evaluation, Trigger, TriggerEvent};
use helpdesk_core::*;
use helpdesk_store::{Error, Helpdesk, NewAgent};
use std::sync::Arc;

const RULES: &str = r#"
[[triggers]]
name = "Acme writes in"
on = ["new_ticket", "user_reply"]
all = [{ field = "organisation.name", op = "is", value = "Acme" }]
actions = [{ action = "raise_urgency", by = 2 }, { action = "add_label", label = "acme" }]

[[triggers]]
name = "SLA warning alerts the lead"
on = ["sla_warning"]
actions = [{ action = "notify", to = "lead@example.com", template = "sla-warning" }]

[[sla]]
name = "First reply in 4 working hours"
kind = "first_response"
warning = "3h"
failure = "4h"
[sla.working_hours]
timezone = "Europe/London"
hours = [{ days = ["mon", "tue", "wed", "thu", "fri"], from = "09:00", to = "17:00" }]
holidays = ["2026-12-25"]
"#;

/// An embedder's own trigger: mentions of "outage" go to the top.
struct Outage;

impl Trigger for Outage {
    fn name(&self) -> &str {
        "outage"
    }
    fn evaluate(&self, cx: &RuleContext<'_>) -> Evaluation {
        let new = cx.events.iter().any(|e| matches!(e, TriggerEvent::NewTicket(_)));
        if new && cx.ticket.subject.to_lowercase().contains("outage") {
            Evaluation::fire(
                self.name(),
                vec![Action::Command(Command::SetUrgency { urgency: Urgency::MAX })],
            )
        } else {
            Evaluation::skip(self.name(), "not a new outage ticket")
        }
    }
}

fn main() -> Result<(), Error> {
    let clock = Arc::new(ManualClock::default_start()); // Monday 09:00 UTC
    let hd = Helpdesk::builder().clock(clock.clone()).trigger(Arc::new(Outage)).in_memory();
    let support = hd.create_department("Support", vec![])?;
    hd.create_agent(NewAgent::new("Alice", "alice@example.com").admin())?;
    hd.create_organisation("Acme", &["acme.com"])?;
    let ann = hd.create_user(NewUser::new("Ann", "ann@acme.com"))?;

    hd.load_rules_toml(RULES)?;
    hd.install_default_escalations()?;

    let (t, trace) = hd.create_ticket_explained(
        &Actor::User(ann.id),
        NewTicket::new("Printer on fire", "Help!", support.id, ann.id, Channel::Portal),
    )?;
    println!("fired on creation: {:?}", trace.fired());

    for hours in [3, 1, 4] {
        clock.advance(Duration::hours(hours));
        let report = hd.tick()?;
        println!("{}: {} ticket(s) due", clock.now().format("%a %R"), report.due.len());
    }
    for line in render_log(&hd.log(t.id)?) {
        println!("{line}");
    }
    println!("queued: {}", hd.store().outbox(None, 100)?.len());
    Ok(())
}
