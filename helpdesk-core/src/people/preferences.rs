//! What an agent sets for themselves in the profile menu: the signature
//! the composer puts under their replies, and the time zone times are shown
//! in. (Their notification preferences are [`Subscriptions`](crate::Subscriptions).)
//!
//! ```
//! use helpdesk_core::people::preferences::AgentPreferences;
//! use helpdesk_core::{AgentId, DirectoryError};
//!
//! let mut p = AgentPreferences::default_for(AgentId(2));
//! p.signature = "Sam, Support".into();
//! p.time_zone = Some("Europe/Berlin".into());
//! assert_eq!(p.clone().validated().unwrap().time_zone.as_deref(), Some("Europe/Berlin"));
//!
//! p.time_zone = Some("Mars/Olympus".into());
//! assert_eq!(p.validated(), Err(DirectoryError::UnknownTimeZone("Mars/Olympus".into())));
//! ```

use crate::error::DirectoryError;
use crate::ids::AgentId;
use serde::{Deserialize, Serialize};

/// The longest signature, in characters.
pub const MAX_SIGNATURE: usize = 2000;

/// An agent's own settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPreferences {
    /// The agent.
    pub agent: AgentId,
    /// Plain text the composer puts under a reply (empty: none).
    #[serde(default)]
    pub signature: String,
    /// An IANA time zone (`Europe/London`) times are shown in; `None`: the
    /// browser's.
    #[serde(default)]
    pub time_zone: Option<String>,
}

impl AgentPreferences {
    /// No signature, the browser's time zone.
    pub fn default_for(agent: AgentId) -> Self {
        AgentPreferences { agent, signature: String::new(), time_zone: None }
    }

    /// The preferences as stored: the signature trimmed at its end and at
    /// most [`MAX_SIGNATURE`] characters, the time zone a known IANA name in
    /// its canonical spelling, matched ignoring case (a blank one is `None`).
    pub fn validated(mut self) -> Result<Self, DirectoryError> {
        self.signature = self.signature.trim_end().replace("\r\n", "\n");
        let n = self.signature.chars().count();
        if n > MAX_SIGNATURE {
            return Err(DirectoryError::SignatureTooLong { got: n, max: MAX_SIGNATURE });
        }
        self.time_zone = match self.time_zone.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(tz) => Some(
                chrono_tz::TZ_VARIANTS
                    .iter()
                    .find(|z| z.name().eq_ignore_ascii_case(tz))
                    .ok_or_else(|| DirectoryError::UnknownTimeZone(tz.to_string()))?
                    .name()
                    .to_string(),
            ),
        };
        Ok(self)
    }
}
