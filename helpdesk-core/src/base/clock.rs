//! Time, passed in: the system clock in production, a manual clock in tests.

use chrono::{DateTime, Duration, TimeZone, Utc};
use std::sync::Mutex;

/// A source of the current time. Everything in the domain takes the time as an
/// argument; the shell reads it from a `Clock`.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to: for deterministic tests of
/// escalations, SLAs and logs.
///
/// ```
/// use chrono::Duration;
/// use helpdesk_core::{Clock, ManualClock};
/// let clock = ManualClock::at_rfc3339("2026-01-05T09:00:00Z").unwrap();
/// clock.advance(Duration::hours(4));
/// assert_eq!(clock.now().to_rfc3339(), "2026-01-05T13:00:00+00:00");
/// ```
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self { now: Mutex::new(at) }
    }

    /// A clock standing at an RFC 3339 time, e.g. `2026-01-05T09:00:00Z`.
    pub fn at_rfc3339(s: &str) -> Result<Self, chrono::ParseError> {
        Ok(Self::new(DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc)))
    }

    /// A clock at 2026-01-05 09:00:00 UTC (a Monday), the default in tests.
    pub fn default_start() -> Self {
        Self::new(Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).single().expect("valid date"))
    }

    /// Moves the clock forward (or backward, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::default_start()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}
