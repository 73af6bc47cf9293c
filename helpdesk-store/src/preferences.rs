//! Agents' own settings ([`AgentPreferences`]): signature and time zone.

use crate::helpdesk::{Helpdesk, Result};
use helpdesk_core::people::preferences::AgentPreferences;
use helpdesk_core::*;

impl Helpdesk {
    /// An agent's preferences (the defaults when never set).
    ///
    /// ```
    /// use helpdesk_core::people::preferences::AgentPreferences;
    /// use helpdesk_store::{Helpdesk, NewAgent};
    ///
    /// let hd = Helpdesk::in_memory();
    /// let sam = hd.create_agent(NewAgent::new("Sam", "sam@example.com")).unwrap();
    /// assert_eq!(hd.agent_preferences(sam.id).unwrap(), AgentPreferences::default_for(sam.id));
    /// let mut p = hd.agent_preferences(sam.id).unwrap();
    /// p.signature = "Sam\nSupport team  \n".into();
    /// p.time_zone = Some("europe/berlin".into());
    /// let stored = hd.set_agent_preferences(p).unwrap();
    /// assert_eq!((stored.signature.as_str(), stored.time_zone.as_deref()), ("Sam\nSupport team", Some("Europe/Berlin")));
    /// ```
    pub fn agent_preferences(&self, agent: AgentId) -> Result<AgentPreferences> {
        self.agent(agent)?;
        match self.store().record(RecordKind::AgentPreferences, agent.0)? {
            Some(Record::AgentPreferences(p)) => Ok(p),
            _ => Ok(AgentPreferences::default_for(agent)),
        }
    }

    /// Replaces an agent's preferences (validated: see
    /// [`AgentPreferences::validated`]); returns them as stored.
    pub fn set_agent_preferences(&self, prefs: AgentPreferences) -> Result<AgentPreferences> {
        self.agent(prefs.agent)?;
        let prefs = prefs.validated()?;
        self.store().put_record(&Record::AgentPreferences(prefs.clone()))?;
        Ok(prefs)
    }
}
