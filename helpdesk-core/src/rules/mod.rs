//! Rules: conditions and actions, triggers, escalations, SLAs, and the
//! automation that runs them on a change or at a time.
pub mod automation;
pub mod escalation;
pub mod macros;
pub mod rule;
pub mod sla;
pub mod trigger;
