//! Macros: a named set of actions an agent applies to a ticket in one
//! click ("Refund sent": reply from the refund snippet, label `refund`,
//! resolve). The actions are the rule engine's, written the same way as a
//! trigger's (`{"action": "set_status", "status": "resolved"}`), plus a
//! reply (a snippet's text or a text of its own, placeholders filled for
//! the ticket) and `"me"` for the agent applying it. Applying decides each
//! action with [`decide`](crate::decide) on the ticket as the earlier ones
//! left it, and the events go into the log as one group: a
//! [`Change::Macro`] entry naming the macro, then what its actions changed,
//! in one commit. One refused action refuses the whole macro.
//!
//! ```
//! use helpdesk_core::macros::{MacroAction, NewMacro, AgentRef};
//! use helpdesk_core::snippets::SnippetScope;
//! use std::collections::BTreeSet;
//!
//! let m: NewMacro = serde_json::from_value(serde_json::json!({
//!     "name": "Take it",
//!     "scope": {"kind": "everyone"},
//!     "actions": [
//!         {"action": "set_agent", "agent": "me"},
//!         {"action": "add_label", "label": "Billing"},
//!         {"action": "reply", "body": "Hello {{user.first_name}}, I am on it."}
//!     ]
//! })).unwrap();
//! let m = m.check(&BTreeSet::new()).unwrap();
//! assert_eq!(m.actions[0], MacroAction::SetAgent { agent: Some(AgentRef::Me) });
//! assert_eq!(m.actions[1], MacroAction::AddLabel { label: "billing".into() });
//!
//! let bad = NewMacro { actions: vec![MacroAction::SetUrgency { urgency: 11 }], ..m };
//! assert_eq!(bad.check(&BTreeSet::new()).unwrap_err().to_string(),
//!     "action 1 (set_urgency): urgency must be between 1 and 10, got 11");
//! ```

use crate::command::{decide, Command, Directory, Policy};
use crate::event::{Actor, Change, TicketEvent};
use crate::ids::*;
use crate::people::Agent;
use crate::rule::{Action, ActionDef, Planned};
use crate::snippets::{self, SnippetScope};
use crate::ticket::Ticket;
use crate::TicketError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The most actions one macro has.
pub const MAX_ACTIONS: usize = 20;

/// An agent named by a macro: a fixed one, or whoever applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentRef {
    /// The agent applying the macro (written `"me"`).
    Me,
    /// This agent.
    Agent(AgentId),
}

impl AgentRef {
    /// The agent meant when `me` applies the macro.
    pub fn resolve(self, me: AgentId) -> AgentId {
        match self {
            AgentRef::Me => me,
            AgentRef::Agent(a) => a,
        }
    }
}

impl Serialize for AgentRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AgentRef::Me => s.serialize_str("me"),
            AgentRef::Agent(a) => s.serialize_u64(a.0),
        }
    }
}

impl<'de> Deserialize<'de> for AgentRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = AgentRef;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an agent id or \"me\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<AgentRef, E> {
                Ok(AgentRef::Agent(AgentId(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<AgentRef, E> {
                u64::try_from(v)
                    .map(|v| AgentRef::Agent(AgentId(v)))
                    .map_err(|_| E::custom("an agent id is positive"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AgentRef, E> {
                match v {
                    "me" => Ok(AgentRef::Me),
                    _ => Err(E::custom(format!("{v:?} is neither an agent id nor \"me\""))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// One action of a macro, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum MacroAction {
    /// Reply to the user with a snippet's text (`snippet`) or a text of its
    /// own (`body`), placeholders filled for the ticket. With a
    /// `set_status` in the same macro, the reply sets that status.
    Reply {
        /// The snippet whose text is the reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snippet: Option<SnippetId>,
        /// The reply's text (with placeholders).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// Add an agent-only note (with placeholders).
    AddNote {
        /// Text.
        body: String,
    },
    /// Set the status (not `validating`).
    SetStatus {
        /// Status name.
        status: String,
    },
    /// Set the urgency, 1 to 10.
    SetUrgency {
        /// The urgency.
        urgency: i64,
    },
    /// Raise the urgency by 1 to 9 steps (clamped at 10).
    RaiseUrgency {
        /// Steps.
        by: i64,
    },
    /// Lower the urgency by 1 to 9 steps (clamped at 1).
    LowerUrgency {
        /// Steps.
        by: i64,
    },
    /// Move to a department.
    SetDepartment {
        /// Department id.
        department: u64,
    },
    /// Assign an agent (`"me"`: the one applying it; `null`: unassign).
    SetAgent {
        /// Agent.
        agent: Option<AgentRef>,
    },
    /// Assign a team (`null`: unassign).
    SetTeam {
        /// Team id.
        team: Option<u64>,
    },
    /// Add a label.
    AddLabel {
        /// Label.
        label: String,
    },
    /// Remove a label.
    RemoveLabel {
        /// Label.
        label: String,
    },
    /// Set a custom field (`null` clears it), as for triggers.
    SetField {
        /// Field key.
        key: String,
        /// Value.
        value: serde_json::Value,
    },
    /// Add a follower (`"me"`: the one applying it).
    AddFollower {
        /// Agent.
        agent: AgentRef,
    },
}

impl MacroAction {
    /// The action's name (`set_status`).
    pub fn name(&self) -> &'static str {
        match self {
            MacroAction::Reply { .. } => "reply",
            MacroAction::AddNote { .. } => "add_note",
            MacroAction::SetStatus { .. } => "set_status",
            MacroAction::SetUrgency { .. } => "set_urgency",
            MacroAction::RaiseUrgency { .. } => "raise_urgency",
            MacroAction::LowerUrgency { .. } => "lower_urgency",
            MacroAction::SetDepartment { .. } => "set_department",
            MacroAction::SetAgent { .. } => "set_agent",
            MacroAction::SetTeam { .. } => "set_team",
            MacroAction::AddLabel { .. } => "add_label",
            MacroAction::RemoveLabel { .. } => "remove_label",
            MacroAction::SetField { .. } => "set_field",
            MacroAction::AddFollower { .. } => "add_follower",
        }
    }

    /// The rule engine's action this one is, for `me` (`None` for a reply
    /// or a note, whose text is filled in per ticket).
    fn rule_action(&self, me: AgentId) -> Option<ActionDef> {
        use ActionDef as A;
        Some(match self {
            MacroAction::Reply { .. } | MacroAction::AddNote { .. } => return None,
            MacroAction::SetStatus { status } => A::SetStatus { status: status.clone() },
            MacroAction::SetUrgency { urgency } => A::SetUrgency { urgency: *urgency },
            MacroAction::RaiseUrgency { by } => A::RaiseUrgency { by: *by },
            MacroAction::LowerUrgency { by } => A::LowerUrgency { by: *by },
            MacroAction::SetDepartment { department } => A::SetDepartment { department: *department },
            MacroAction::SetAgent { agent } => A::SetAgent { agent: agent.map(|a| a.resolve(me).0) },
            MacroAction::SetTeam { team } => A::SetTeam { team: *team },
            MacroAction::AddLabel { label } => A::AddLabel { label: label.clone() },
            MacroAction::RemoveLabel { label } => A::RemoveLabel { label: label.clone() },
            MacroAction::SetField { key, value } => A::SetField { key: key.clone(), value: value.clone() },
            MacroAction::AddFollower { agent } => A::AddFollower { agent: agent.resolve(me).0 },
        })
    }

    /// Checks the values; returns the action as kept (labels normalised,
    /// texts trimmed).
    fn check(&self, fields: &BTreeSet<String>) -> Result<MacroAction, String> {
        let text = |body: &str| -> Result<String, String> {
            let body = body.trim_end().to_string();
            if body.trim().is_empty() || body.chars().count() > snippets::MAX_BODY_CHARS {
                return Err(format!("a text of 1 to {} characters", snippets::MAX_BODY_CHARS));
            }
            snippets::check_placeholders(&body, fields).map_err(|e| e.to_string())?;
            Ok(body)
        };
        match self {
            MacroAction::Reply { snippet, body } => match (snippet, body) {
                (Some(s), None) => Ok(MacroAction::Reply { snippet: Some(*s), body: None }),
                (None, Some(b)) => Ok(MacroAction::Reply { snippet: None, body: Some(text(b)?) }),
                _ => Err("a reply takes either a snippet or a body".into()),
            },
            MacroAction::AddNote { body } => Ok(MacroAction::AddNote { body: text(body)? }),
            MacroAction::AddLabel { .. } | MacroAction::RemoveLabel { .. } => {
                let Some(Action::Command(Command::AddLabel { label } | Command::RemoveLabel { label })) =
                    self.rule_action(AgentId(0)).map(|a| a.compile()).transpose()?
                else {
                    unreachable!("labels compile to label commands")
                };
                Ok(match self {
                    MacroAction::AddLabel { .. } => MacroAction::AddLabel { label },
                    _ => MacroAction::RemoveLabel { label },
                })
            }
            other => {
                if let Some(a) = other.rule_action(AgentId(0)) {
                    a.compile()?;
                }
                Ok(other.clone())
            }
        }
    }
}

/// A macro as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMacro {
    /// Its name, shown on its button (1 to 100 characters; unique per scope).
    pub name: String,
    /// What it is for (at most 300 characters).
    #[serde(default)]
    pub description: String,
    /// Who may use it.
    pub scope: SnippetScope,
    /// What it does, in order (1 to [`MAX_ACTIONS`]).
    pub actions: Vec<MacroAction>,
}

/// A stored macro.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Macro {
    /// Its id.
    pub id: MacroId,
    /// The agent who made it (who may change it, besides admins).
    pub owner: AgentId,
    /// What was written.
    #[serde(flatten)]
    pub r#macro: NewMacro,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Why a macro is refused, or could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MacroError {
    /// An empty, too long or control-character name.
    #[error("a macro needs a name of 1 to 100 characters")]
    BadName,
    /// A description over 300 characters.
    #[error("a description is at most 300 characters")]
    BadDescription,
    /// No actions, or too many.
    #[error("a macro has 1 to {MAX_ACTIONS} actions, got {0}")]
    ActionCount(usize),
    /// Two replies.
    #[error("a macro sends at most one reply")]
    TwoReplies,
    /// An action that does not hold together.
    #[error("action {n} ({action}): {problem}")]
    BadAction {
        /// Its position, from 1.
        n: usize,
        /// Its name.
        action: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// Another macro of the same scope has the name.
    #[error("a macro named {0:?} already exists there")]
    NameTaken(String),
    /// No such macro (or not one the agent may use).
    #[error("no macro {0}")]
    NotFound(MacroId),
    /// Someone else's macro (only its owner or an admin changes it).
    #[error("only {0}'s maker or an admin may change it")]
    NotYours(MacroId),
    /// Sharing with a department the agent may not see.
    #[error("you may not share macros with department {0}: you do not see it")]
    DepartmentNotAllowed(DepartmentId),
    /// An action was refused on this ticket: the whole macro is.
    #[error("macro {name:?} cannot be applied to {ticket}: action {n} ({action}): {error}")]
    Refused {
        /// The macro's name.
        name: String,
        /// The ticket.
        ticket: TicketId,
        /// The action's position, from 1.
        n: usize,
        /// The action's name.
        action: &'static str,
        /// Why.
        error: String,
    },
}

impl NewMacro {
    /// Checks the name, description and every action (`fields`: the custom
    /// field keys of the helpdesk's departments, for placeholders). Returns
    /// it trimmed, labels normalised. Whether a reply's snippet exists and
    /// the departments, agents and teams named are for the shell to check.
    pub fn check(&self, fields: &BTreeSet<String>) -> Result<NewMacro, MacroError> {
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(MacroError::BadName);
        }
        let description = self.description.trim().to_string();
        if description.chars().count() > 300 {
            return Err(MacroError::BadDescription);
        }
        if self.actions.is_empty() || self.actions.len() > MAX_ACTIONS {
            return Err(MacroError::ActionCount(self.actions.len()));
        }
        if self.actions.iter().filter(|a| matches!(a, MacroAction::Reply { .. })).count() > 1 {
            return Err(MacroError::TwoReplies);
        }
        let actions = self
            .actions
            .iter()
            .enumerate()
            .map(|(i, a)| {
                a.check(fields).map_err(|problem| MacroError::BadAction {
                    n: i + 1,
                    action: a.name(),
                    problem,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(NewMacro { name, description, scope: self.scope, actions })
    }
}

impl Macro {
    /// Whether `agent` may apply it.
    pub fn usable_by(&self, agent: &Agent) -> bool {
        match self.r#macro.scope {
            SnippetScope::Personal => self.owner == agent.id,
            SnippetScope::Department(d) => agent.permissions.can_see(d),
            SnippetScope::Everyone => true,
        }
    }

    /// Whether `agent` may change or delete it: its maker (while they may
    /// still use it) or an admin.
    pub fn editable_by(&self, agent: &Agent) -> bool {
        agent.permissions.admin || (self.owner == agent.id && self.usable_by(agent))
    }

    /// The unique key of its name within its scope (case-insensitive).
    pub fn name_key(&self) -> String {
        let scope = match self.r#macro.scope {
            SnippetScope::Personal => format!("agent:{}", self.owner.0),
            SnippetScope::Department(d) => format!("department:{}", d.0),
            SnippetScope::Everyone => "everyone".into(),
        };
        format!("macro-name:{scope}:{}", self.r#macro.name.trim().to_lowercase())
    }

    /// The snippets its replies use.
    pub fn snippets(&self) -> impl Iterator<Item = SnippetId> + '_ {
        self.r#macro.actions.iter().filter_map(|a| match a {
            MacroAction::Reply { snippet, .. } => *snippet,
            _ => None,
        })
    }
}

/// What one action of a macro comes to on a ticket: the command to decide,
/// texts already filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The action as written.
    pub action: MacroAction,
    /// The command (`None`: an action that changes nothing here, such as a
    /// `set_status` the reply already carries).
    pub command: Option<Command>,
}

/// Turns a macro's actions into steps for `me` on `ticket`: `texts` gives
/// each reply's and note's text, filled in (in action order). Runs each
/// rule action's plan (a custom field's value converted by the ticket's
/// department); a reply with a `set_status` in the macro carries it.
pub fn steps(
    m: &Macro,
    me: AgentId,
    ticket: &Ticket,
    mut texts: impl FnMut(&MacroAction) -> Result<String, String>,
    dir: &dyn Directory,
) -> Result<Vec<Step>, MacroError> {
    let refused = |n: usize, a: &MacroAction, error: String| MacroError::Refused {
        name: m.r#macro.name.clone(),
        ticket: ticket.id,
        n: n + 1,
        action: a.name(),
        error,
    };
    let mut status_by_reply = None;
    let mut out = Vec::new();
    for (n, a) in m.r#macro.actions.iter().enumerate() {
        let command = match a {
            MacroAction::Reply { .. } => {
                let body = texts(a).map_err(|e| refused(n, a, e))?;
                Some(Command::AgentReply { body, attachments: vec![], status: None })
            }
            MacroAction::AddNote { .. } => {
                let body = texts(a).map_err(|e| refused(n, a, e))?;
                Some(Command::AddNote { body, attachments: vec![] })
            }
            other => {
                let def = other.rule_action(me).expect("only replies and notes have no rule action");
                let action = def.compile().map_err(|e| refused(n, a, e))?;
                match action.plan(&m.r#macro.name, ticket, dir).map_err(|e| refused(n, a, e))? {
                    Planned::Command(c) => Some(c),
                    Planned::Effects(_) | Planned::Stop => None,
                }
            }
        };
        if let Some(Command::SetStatus { status }) = &command {
            if !status.is_hidden() {
                status_by_reply = Some(*status);
            }
        }
        out.push(Step { action: a.clone(), command });
    }
    if let Some(s) = status_by_reply {
        if let Some(Command::AgentReply { status, .. }) = out
            .iter_mut()
            .find_map(|st| st.command.as_mut().filter(|c| matches!(c, Command::AgentReply { .. })))
        {
            *status = Some(s);
        }
    }
    Ok(out)
}

/// What one step changed (empty: nothing, the ticket already was so).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepOutcome {
    /// The action's name (`set_status`).
    pub action: &'static str,
    /// Its changes, in order.
    pub changes: Vec<Change>,
}

/// Decides the steps one after another on the ticket as the earlier ones
/// left it: the events, starting with a [`Change::Macro`] entry (none at
/// all when nothing changes), and what each step changed. One refused step
/// refuses the macro.
pub fn decide_steps(
    m: &Macro,
    ticket: &Ticket,
    steps: &[Step],
    actor: &Actor,
    now: DateTime<Utc>,
    dir: &dyn Directory,
    policy: &Policy,
) -> Result<(Vec<TicketEvent>, Vec<StepOutcome>), MacroError> {
    let mut t = ticket.clone();
    let mut events = vec![TicketEvent {
        ticket: ticket.id,
        version: ticket.version + 1,
        at: now,
        actor: actor.clone(),
        change: Change::Macro { r#macro: m.id, name: m.r#macro.name.clone() },
    }];
    let corrupt = |e: TicketError| MacroError::Refused {
        name: m.r#macro.name.clone(),
        ticket: ticket.id,
        n: 0,
        action: "macro",
        error: e.to_string(),
    };
    t.apply(&events[0]).map_err(corrupt)?;
    let mut outcomes = Vec::new();
    for (n, step) in steps.iter().enumerate() {
        let mut changes = Vec::new();
        if let Some(cmd) = &step.command {
            let decided = decide(&t, cmd, actor, now, dir, policy).map_err(|e| MacroError::Refused {
                name: m.r#macro.name.clone(),
                ticket: ticket.id,
                n: n + 1,
                action: step.action.name(),
                error: e.to_string(),
            })?;
            for e in decided {
                t.apply(&e).map_err(corrupt)?;
                changes.push(e.change.clone());
                events.push(e);
            }
        }
        outcomes.push(StepOutcome { action: step.action.name(), changes });
    }
    if events.len() == 1 {
        events.clear();
    }
    Ok((events, outcomes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{sample_directory, sample_ticket, t0};

    fn parse(v: serde_json::Value) -> Result<NewMacro, String> {
        serde_json::from_value::<NewMacro>(v)
            .map_err(|e| e.to_string())?
            .check(&BTreeSet::new())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn refuses_what_does_not_hold_together() {
        let base = |actions: serde_json::Value| serde_json::json!({"name": "M", "scope": {"kind": "personal"}, "actions": actions});
        let cases = [
            (serde_json::json!([]), "a macro has 1 to 20 actions, got 0"),
            (serde_json::json!([{"action": "reply"}]), "action 1 (reply): a reply takes either a snippet or a body"),
            (
                serde_json::json!([{"action": "reply", "body": "a"}, {"action": "reply", "snippet": 1}]),
                "a macro sends at most one reply",
            ),
            (
                serde_json::json!([{"action": "add_note", "body": "{{user.shoe}}"}]),
                "action 1 (add_note): unknown placeholder {{user.shoe}}; known: user.name, user.first_name, user.email, ticket.id, ticket.subject, ticket.department, agent.name, agent.first_name, agent.email, ticket.field.KEY",
            ),
            (serde_json::json!([{"action": "set_status", "status": "validating"}]), "action 1 (set_status): rules cannot set status validating"),
            (serde_json::json!([{"action": "add_label", "label": "  "}]), "action 1 (add_label): invalid label \"  \": labels are 1 to 64 characters without control characters"),
        ];
        for (actions, want) in cases {
            assert_eq!(parse(base(actions.clone())).unwrap_err(), want, "{actions}");
        }
        let bad_agent =
            parse(base(serde_json::json!([{"action": "set_agent", "agent": "you"}]))).unwrap_err();
        assert!(bad_agent.contains("\"you\" is neither an agent id nor \"me\""), "{bad_agent}");
        let unknown = parse(base(serde_json::json!([{"action": "webhook", "url": "http://x"}]))).unwrap_err();
        assert!(unknown.contains("unknown variant `webhook`"), "{unknown}");
        assert_eq!(parse(serde_json::json!({"name": " ", "scope": {"kind": "everyone"}, "actions": [{"action": "set_urgency", "urgency": 3}]})).unwrap_err(), "a macro needs a name of 1 to 100 characters");
    }

    #[test]
    fn steps_decide_in_order_and_one_refusal_refuses_all() {
        let (t, _) = sample_ticket();
        let dir = sample_directory();
        let agent = *dir.agents.keys().next().unwrap();
        let m = |actions| Macro {
            id: MacroId(7),
            owner: agent,
            r#macro: NewMacro {
                name: "M".into(),
                description: String::new(),
                scope: SnippetScope::Everyone,
                actions,
            },
            updated_at: t0(),
        };
        let ok = m(vec![
            MacroAction::SetUrgency { urgency: 9 },
            MacroAction::RaiseUrgency { by: 3 },
            MacroAction::AddNote { body: "Checked {{ticket.id}}".into() },
        ]);
        let planned = steps(&ok, agent, &t, |_| Ok("Checked".into()), &dir).unwrap();
        let actor = Actor::Agent(agent);
        let (events, outcomes) =
            decide_steps(&ok, &t, &planned, &actor, t0(), &dir, &Policy::default()).unwrap();
        assert!(matches!(&events[0].change, Change::Macro { r#macro: MacroId(7), .. }));
        let versions: Vec<u64> = events.iter().map(|e| e.version).collect();
        assert_eq!(versions, (t.version + 1..=t.version + 4).collect::<Vec<_>>());
        assert_eq!(outcomes.iter().map(|o| o.changes.len()).collect::<Vec<_>>(), [1, 1, 1]);
        assert!(
            matches!(outcomes[1].changes[0], Change::Urgency { to, .. } if to.get() == 10),
            "raised from 9, clamped"
        );

        let bad = m(vec![
            MacroAction::SetUrgency { urgency: 2 },
            MacroAction::SetStatus { status: "validating".into() },
        ]);
        let err = steps(&bad, agent, &t, |_| Ok(String::new()), &dir).unwrap_err();
        assert!(matches!(err, MacroError::Refused { n: 2, action: "set_status", .. }), "{err}");
    }
}
