//! SLA policies: goals for first response, every response or resolution,
//! for tickets matching conditions, with a warning time before the failure
//! time, optionally counting only working hours.
//!
//! Each ticket keeps, per policy that applies to it, an [`SlaStatus`]: state
//! (ok, warning, failed), the clock (running since, time counted so far)
//! and the warning and due times. It changes only through
//! [`Change::Sla`](crate::Change::Sla) events, so the log shows when an SLA
//! started, paused, warned, failed and was met.
//!
//! | kind | the clock runs while | met when |
//! | --- | --- | --- |
//! | first response | awaiting agent, before any agent message | an agent writes a message |
//! | every response | awaiting agent with a user's message last | an agent answers it (the next user message starts a new round) |
//! | resolution | not resolved, pending or hidden | resolved (a reopened ticket continues the clock) |

use crate::calendar::{add_time, elapsed, Calendar, Span, WorkingHours};
use crate::command::Directory;
use crate::event::Actor;
use crate::rule::*;
use crate::ticket::{Author, Status, Ticket};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

fn yes() -> bool {
    true
}

/// What a policy measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaKind {
    /// Time to the first agent message.
    FirstResponse,
    /// Time to answer each user message.
    EveryResponse,
    /// Time to resolution.
    Resolution,
}

/// A ticket's standing with a policy. Ordered: ok < warning < failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// Within the goal.
    Ok,
    /// Past the warning time.
    Warning,
    /// Past the failure time.
    Failed,
}

impl SlaState {
    /// `ok`, `warning`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            SlaState::Ok => "ok",
            SlaState::Warning => "warning",
            SlaState::Failed => "failed",
        }
    }

    /// A small stable number, for index keys.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for SlaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ticket's SLA for one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaStatus {
    /// What is measured.
    pub kind: SlaKind,
    /// Ok, warning or failed.
    pub state: SlaState,
    /// When the clock last started (`None`: stopped).
    pub running_since: Option<DateTime<Utc>>,
    /// Seconds counted before `running_since`.
    pub counted_secs: i64,
    /// When it will warn (while running and ok).
    pub warn_at: Option<DateTime<Utc>>,
    /// When it will fail (while running and not failed).
    pub due: Option<DateTime<Utc>>,
    /// When the goal was met (`None`: not yet).
    pub met_at: Option<DateTime<Utc>>,
}

impl SlaStatus {
    /// The next time the state changes by itself.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        match (self.warn_at, self.due) {
            (Some(w), Some(d)) => Some(w.min(d)),
            (w, d) => w.or(d),
        }
    }
}

/// An SLA policy as admins write it.
///
/// ```toml
/// [[sla]]
/// name = "First reply in 4 working hours"
/// kind = "first_response"
/// warning = "3h"
/// failure = "4h"
/// all = [{ field = "ticket.department", op = "is", value = 1 }]
/// working_hours = { timezone = "Europe/London", hours = [{ days = ["mon", "tue", "wed", "thu", "fri"], from = "09:00", to = "17:00" }] }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaDef {
    /// Unique name.
    pub name: String,
    /// Position (ascending; ties by name).
    #[serde(default)]
    pub order: i32,
    /// Off when false.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// What it measures.
    pub kind: SlaKind,
    /// Warn this long after the clock starts (before `failure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<Span>,
    /// Fail this long after the clock starts.
    pub failure: Span,
    /// Count only working hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_hours: Option<WorkingHours>,
    /// Applies to tickets where all of these hold...
    #[serde(default)]
    pub all: Vec<ConditionDef>,
    /// ...and one of these (when any are given).
    #[serde(default)]
    pub any: Vec<ConditionDef>,
}

/// A checked policy.
#[derive(Debug, Clone)]
pub struct SlaPolicy {
    /// The definition.
    pub def: SlaDef,
    /// Name.
    pub name: String,
    /// Which tickets.
    pub conditions: Conditions,
    /// Working hours, when only they count.
    pub calendar: Option<Calendar>,
}

impl SlaDef {
    /// Checks everything and builds the policy.
    pub fn compile(&self) -> Result<SlaPolicy, RuleError> {
        let err = |p: String| RuleError::new("sla", &self.name, p);
        let name = check_name("sla", &self.name)?;
        if let Some(w) = self.warning {
            if w >= self.failure {
                return Err(err(format!(
                    "the warning ({w}) must come before the failure ({})",
                    self.failure
                )));
            }
        }
        let conditions = Conditions::compile(&self.all, &self.any, false).map_err(err)?;
        let calendar = self
            .working_hours
            .as_ref()
            .map(|w| w.compile())
            .transpose()
            .map_err(|e| err(format!("working hours: {e}")))?;
        Ok(SlaPolicy { def: self.clone(), name, conditions, calendar })
    }
}

/// What the sweep does to an SLA that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The new status.
    pub to: SlaStatus,
    /// The state reached.
    pub state: SlaState,
}

impl SlaPolicy {
    fn met(&self, t: &Ticket) -> bool {
        match self.def.kind {
            SlaKind::FirstResponse => t.messages.iter().any(|m| matches!(m.author, Author::Agent(_))),
            SlaKind::EveryResponse => !last_message_by_user(t),
            SlaKind::Resolution => t.status == Status::Resolved,
        }
    }

    fn running(&self, t: &Ticket) -> bool {
        match self.def.kind {
            SlaKind::FirstResponse | SlaKind::EveryResponse => {
                t.status == Status::AwaitingAgent && !self.met(t)
            }
            SlaKind::Resolution => !self.met(t) && !t.status.is_hidden() && t.status != Status::Pending,
        }
    }

    /// Whether the policy applies to the ticket.
    pub fn applies(&self, t: &Ticket, dir: &dyn Directory) -> (bool, Vec<ConditionTrace>) {
        if !self.def.enabled {
            return (false, vec![]);
        }
        let actor = Actor::system();
        let cx = RuleContext { before: None, ticket: t, change: &[], actor: &actor, events: &[], dir };
        self.conditions.evaluate(&cx)
    }

    fn times(&self, s: &mut SlaStatus) {
        let cal = self.calendar.as_ref();
        match s.running_since {
            Some(start) => {
                s.warn_at = match (s.state, self.def.warning) {
                    (SlaState::Ok, Some(w)) => Some(add_time(cal, start, w.seconds() - s.counted_secs)),
                    _ => None,
                };
                s.due = (s.state != SlaState::Failed)
                    .then(|| add_time(cal, start, self.def.failure.seconds() - s.counted_secs));
            }
            None => {
                s.warn_at = None;
                s.due = None;
            }
        }
    }

    fn stop(&self, s: &mut SlaStatus, now: DateTime<Utc>) {
        if let Some(start) = s.running_since.take() {
            s.counted_secs += elapsed(self.calendar.as_ref(), start, now);
        }
    }

    /// The status the ticket should have for this policy at `now`: started,
    /// paused, resumed, met, or a new round; `None` when it does not apply.
    pub fn desired(&self, t: &Ticket, now: DateTime<Utc>, dir: &dyn Directory) -> Option<SlaStatus> {
        if !self.applies(t, dir).0 {
            return None;
        }
        let fresh = SlaStatus {
            kind: self.def.kind,
            state: SlaState::Ok,
            running_since: None,
            counted_secs: 0,
            warn_at: None,
            due: None,
            met_at: None,
        };
        let mut s =
            t.sla.get(&self.name).filter(|s| s.kind == self.def.kind).cloned().unwrap_or(fresh.clone());
        let met = self.met(t);
        if s.met_at.is_some() && !met {
            match self.def.kind {
                SlaKind::EveryResponse => s = fresh,
                SlaKind::Resolution => s.met_at = None,
                SlaKind::FirstResponse => {}
            }
        }
        if s.met_at.is_none() && met {
            self.stop(&mut s, now);
            s.met_at = Some(now);
        } else if s.met_at.is_none() && self.running(t) {
            if s.running_since.is_none() {
                s.running_since = Some(now);
            }
        } else {
            self.stop(&mut s, now);
        }
        self.times(&mut s);
        Some(s)
    }

    /// What happens at `now` to the ticket's status for this policy: the
    /// warning, then the failure, each when its time has come.
    pub fn transitions(&self, t: &Ticket, now: DateTime<Utc>) -> Vec<Transition> {
        let Some(mut s) = t.sla.get(&self.name).cloned() else { return vec![] };
        let mut out = Vec::new();
        if s.state == SlaState::Ok && s.warn_at.is_some_and(|w| w <= now) {
            s.state = SlaState::Warning;
            self.times(&mut s);
            out.push(Transition { to: s.clone(), state: SlaState::Warning });
        }
        if s.state != SlaState::Failed && s.due.is_some_and(|d| d <= now) {
            s.state = SlaState::Failed;
            self.times(&mut s);
            out.push(Transition { to: s, state: SlaState::Failed });
        }
        out
    }
}
