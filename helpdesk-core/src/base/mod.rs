//! The base every area builds on: ids, the clock, working-hours calendars,
//! errors, and the byte codec helpers.
pub mod bytes;
pub mod calendar;
pub mod clock;
pub mod error;
pub mod ids;
pub mod language;
