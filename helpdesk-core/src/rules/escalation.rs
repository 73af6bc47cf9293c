//! Escalations: time-based rules ("awaiting agent for 4 h", "awaiting user for
//! 3 days") with the same conditions and actions as triggers, and a repeat
//! rule ("then every 4 h, at most 5 more times").
//!
//! A ticket keeps, per escalation, an [`EscalationState`]: the start of the
//! period it measures (when the ticket entered the status), how often it
//! fired in that period and when it is next due. The state changes only
//! through [`Change::Escalation`](crate::Change::Escalation) events, and
//! the due time feeds the due-timer index, so a sweep finds due tickets
//! without scanning.

use crate::calendar::{add_time, elapsed, Calendar, Span, WorkingHours};
use crate::command::Directory;
use crate::event::Actor;
use crate::rule::*;
use crate::ticket::{Status, Ticket};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

fn yes() -> bool {
    true
}

/// Repeat an escalation `every` so long after it first fired, at most
/// `times` more times (no limit when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// Interval.
    pub every: Span,
    /// Most repeats after the first firing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

/// An escalation as admins write it.
///
/// ```toml
/// [[escalations]]
/// name = "Urgency rises while awaiting agent"
/// status = "awaiting_agent"
/// after = "4h"
/// repeat = { every = "4h", times = 8 }
/// actions = [{ action = "raise_urgency", by = 1 }]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationDef {
    /// Unique name.
    pub name: String,
    /// Position among escalations (ascending; ties by name).
    #[serde(default)]
    pub order: i32,
    /// Off when false.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The status the ticket has been in (not a hidden one).
    pub status: String,
    /// For how long.
    pub after: Span,
    /// Optional repeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Repeat>,
    /// Count only working hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_hours: Option<WorkingHours>,
    /// Conditions that must all hold.
    #[serde(default)]
    pub all: Vec<ConditionDef>,
    /// Conditions of which one must hold (when any are given).
    #[serde(default)]
    pub any: Vec<ConditionDef>,
    /// What it does.
    pub actions: Vec<ActionDef>,
}

/// A checked escalation.
#[derive(Debug, Clone)]
pub struct Escalation {
    /// The definition.
    pub def: EscalationDef,
    /// Name.
    pub name: String,
    /// The status measured.
    pub status: Status,
    /// Conditions.
    pub conditions: Conditions,
    /// Actions.
    pub actions: Vec<Action>,
    /// Working hours, when only they count.
    pub calendar: Option<Calendar>,
}

/// Where a ticket stands with one escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationState {
    /// When the measured period began (the ticket entered the status).
    pub since: DateTime<Utc>,
    /// How often it fired in this period.
    pub fired: u32,
    /// When it is next due (`None`: done, or its conditions do not hold).
    pub due: Option<DateTime<Utc>>,
}

impl EscalationDef {
    /// Checks everything and builds the escalation.
    pub fn compile(&self) -> Result<Escalation, RuleError> {
        let err = |p: String| RuleError::new("escalation", &self.name, p);
        let name = check_name("escalation", &self.name)?;
        let status: Status = self.status.parse().map_err(|e: crate::TicketError| err(e.to_string()))?;
        if status.is_hidden() {
            return Err(err(format!("status {status} is hidden: escalations measure visible statuses")));
        }
        let conditions = Conditions::compile(&self.all, &self.any, false).map_err(err)?;
        if self.actions.is_empty() {
            return Err(err("has no actions".into()));
        }
        let actions = compile_actions(&self.actions).map_err(err)?;
        let calendar = self
            .working_hours
            .as_ref()
            .map(|w| w.compile())
            .transpose()
            .map_err(|e| err(format!("working hours: {e}")))?;
        Ok(Escalation { def: self.clone(), name, status, conditions, actions, calendar })
    }
}

impl Escalation {
    fn max_firings(&self) -> Option<u32> {
        match &self.def.repeat {
            None => Some(1),
            Some(r) => r.times.map(|t| t.saturating_add(1)),
        }
    }

    /// Counted seconds from the period's start to its `n`-th firing (0-based).
    fn offset(&self, n: u32) -> i64 {
        let every = self.def.repeat.as_ref().map(|r| r.every.seconds()).unwrap_or(0);
        self.def.after.seconds().saturating_add(every.saturating_mul(n as i64))
    }

    fn due_of(&self, since: DateTime<Utc>, n: u32) -> Option<DateTime<Utc>> {
        if self.max_firings().is_some_and(|m| n >= m) {
            return None;
        }
        Some(add_time(self.calendar.as_ref(), since, self.offset(n)))
    }

    /// Whether the ticket is in the measured status and the conditions hold.
    pub fn applies(&self, t: &Ticket, dir: &dyn Directory) -> (bool, Vec<ConditionTrace>) {
        if t.status != self.status {
            return (false, vec![]);
        }
        let actor = Actor::system();
        let cx = RuleContext { before: None, ticket: t, change: &[], actor: &actor, events: &[], dir };
        self.conditions.evaluate(&cx)
    }

    /// The state the ticket should have for this escalation now.
    pub fn desired(&self, t: &Ticket, dir: &dyn Directory) -> Option<EscalationState> {
        if t.status != self.status || !self.def.enabled {
            return None;
        }
        let current = t.escalations.get(&self.name).filter(|s| s.since == t.status_since);
        let mut s =
            current.cloned().unwrap_or(EscalationState { since: t.status_since, fired: 0, due: None });
        if !self.applies(t, dir).0 {
            s.due = None;
        } else if s.due.is_none() {
            s.due = self.due_of(s.since, s.fired);
        }
        Some(s)
    }

    /// The state after firing at `now` (when due): one more firing, and the
    /// next due time strictly after `now` (missed repeats are not made up).
    pub fn fire(&self, t: &Ticket, now: DateTime<Utc>, dir: &dyn Directory) -> Option<EscalationState> {
        let s = t.escalations.get(&self.name)?;
        if s.since != t.status_since
            || s.due.is_none_or(|d| d > now)
            || !self.def.enabled
            || !self.applies(t, dir).0
        {
            return None;
        }
        let fired = s.fired + 1;
        let mut next = fired;
        if let Some(r) = &self.def.repeat {
            let worked = elapsed(self.calendar.as_ref(), s.since, now) - self.def.after.seconds();
            let passed = (worked / r.every.seconds()).max(0) + 1;
            next = next.max(u32::try_from(passed).unwrap_or(u32::MAX));
        }
        Some(EscalationState { since: s.since, fired, due: self.due_of(s.since, next) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{sample_directory, sample_ticket, t0};
    use chrono::Duration;

    fn esc(text: &str) -> Escalation {
        let file = crate::automation::RuleFile::from_toml(text).unwrap();
        file.escalations[0].compile().unwrap()
    }

    #[test]
    fn repeats_at_most_the_given_times_and_skips_missed_ones() {
        let e = esc(r#"
            [[escalations]]
            name = "e"
            status = "awaiting_agent"
            after = "1h"
            repeat = { every = "1h", times = 2 }
            actions = [{ action = "raise_urgency", by = 1 }]
        "#);
        let dir = sample_directory();
        let (mut t, _) = sample_ticket();
        let s = e.desired(&t, &dir).unwrap();
        assert_eq!((s.fired, s.due), (0, Some(t0() + Duration::hours(1))));
        t.escalations.insert("e".into(), s);
        assert_eq!(e.fire(&t, t0() + Duration::minutes(59), &dir), None, "not yet due");
        // Fired late, at 2h30: the 2h repeat was missed and is not made up.
        let s = e.fire(&t, t0() + Duration::minutes(150), &dir).unwrap();
        assert_eq!((s.fired, s.due), (1, Some(t0() + Duration::hours(3))));
        t.escalations.insert("e".into(), s);
        let s = e.fire(&t, t0() + Duration::hours(3), &dir).unwrap();
        assert_eq!((s.fired, s.due), (2, None), "1 + 2 repeats would be at 1h, 2h, 3h: done");
    }

    #[test]
    fn working_hours_and_conditions() {
        let e = esc(r#"
            [[escalations]]
            name = "e"
            status = "awaiting_agent"
            after = "8h"
            all = [{ field = "ticket.urgency", op = "less_than", value = 5 }]
            working_hours = { timezone = "UTC", hours = [{ days = ["mon", "tue", "wed", "thu", "fri"], from = "09:00", to = "17:00" }] }
            actions = [{ action = "raise_urgency", by = 1 }]
        "#);
        let dir = sample_directory();
        let (mut t, _) = sample_ticket();
        // Monday 09:00 + 8 working hours = Monday 17:00.
        assert_eq!(e.desired(&t, &dir).unwrap().due, Some(t0() + Duration::hours(8)));
        t.urgency = crate::Urgency::new(7).unwrap();
        let s = e.desired(&t, &dir).unwrap();
        assert_eq!(s.due, None, "conditions do not hold: paused");
        t.status = crate::Status::Pending;
        assert_eq!(e.desired(&t, &dir), None, "another status: no state");
    }
}
