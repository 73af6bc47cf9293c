//! Working hours: a timezone, weekly hours and holidays, and exact arithmetic
//! on working time ("due = start + N working minutes").
//!
//! [`WorkingHours`] is the serde form admins write; [`Calendar`] is the
//! checked, compiled form the arithmetic runs on. Durations in rules are
//! written as [`Span`]s (`"4h"`, `"3d"`, `"1h30m"`).
//!
//! ```
//! use helpdesk_core::calendar::{WorkingHours, Hours};
//! use chrono::{TimeZone, Utc};
//! let wh = WorkingHours {
//!     timezone: "Europe/London".into(),
//!     hours: vec![Hours::new(&["mon", "tue", "wed", "thu", "fri"], "09:00", "17:00")],
//!     holidays: Default::default(),
//! };
//! let cal = wh.compile().unwrap();
//! // Friday 16:00 + 2 working hours = Monday 10:00.
//! let fri = Utc.with_ymd_and_hms(2026, 1, 9, 16, 0, 0).unwrap();
//! assert_eq!(cal.add(fri, 2 * 3600), Utc.with_ymd_and_hms(2026, 1, 12, 10, 0, 0).unwrap());
//! ```

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A length of time written as `"90s"`, `"15m"`, `"4h"`, `"3d"`, `"1w"` or
/// a sum like `"1h30m"`. Serialised as that text.
///
/// ```
/// use helpdesk_core::calendar::Span;
/// let s: Span = "1h30m".parse().unwrap();
/// assert_eq!(s.seconds(), 5400);
/// assert_eq!(s.to_string(), "1h30m");
/// assert!("0h".parse::<Span>().is_err());
/// assert!("4 parsecs".parse::<Span>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Span(i64);

impl Span {
    /// A span of `secs` seconds (must be positive).
    pub fn from_secs(secs: i64) -> Result<Span, String> {
        if secs <= 0 {
            return Err(format!("a duration must be positive, got {secs}s"));
        }
        if secs > 100 * 366 * 86_400 {
            return Err("a duration must be under 100 years".into());
        }
        Ok(Span(secs))
    }

    /// Hours.
    pub fn hours(h: i64) -> Span {
        Span(h * 3600)
    }

    /// Seconds.
    pub fn seconds(self) -> i64 {
        self.0
    }

    /// As a chrono duration.
    pub fn duration(self) -> Duration {
        Duration::seconds(self.0)
    }
}

impl FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let text: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        if text.is_empty() {
            return Err("empty duration".into());
        }
        let mut total: i64 = 0;
        let mut num = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 7 * 86_400,
                _ => return Err(format!("bad duration {s:?}: use e.g. 90s, 15m, 4h, 3d, 1w, 1h30m")),
            };
            let n: i64 = num.parse().map_err(|_| format!("bad duration {s:?}: a unit needs a number"))?;
            num.clear();
            total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or("duration too long")?;
        }
        if !num.is_empty() {
            return Err(format!("bad duration {s:?}: {num} has no unit (s, m, h, d, w)"));
        }
        Span::from_secs(total)
    }
}

impl TryFrom<String> for Span {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Span> for String {
    fn from(s: Span) -> String {
        s.to_string()
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        for (unit, secs) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if rest >= secs {
                write!(f, "{}{unit}", rest / secs)?;
                rest %= secs;
            }
        }
        Ok(())
    }
}

/// Hours worked on some days of the week: `from` to `to`, local time
/// (`"09:00"` to `"17:30"`; `"24:00"` means midnight at the end of the day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hours {
    /// Days: `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`.
    pub days: Vec<String>,
    /// Start, `HH:MM`.
    pub from: String,
    /// End, `HH:MM` (after `from`).
    pub to: String,
}

impl Hours {
    /// Hours on `days` from `from` to `to`.
    pub fn new(days: &[&str], from: &str, to: &str) -> Hours {
        Hours { days: days.iter().map(|d| d.to_string()).collect(), from: from.into(), to: to.into() }
    }
}

/// Working hours as admins write them: a timezone (IANA name), weekly hours
/// and holidays (local dates that are not worked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingHours {
    /// IANA timezone, e.g. `Europe/London`.
    pub timezone: String,
    /// Weekly hours.
    pub hours: Vec<Hours>,
    /// Days off.
    #[serde(default)]
    pub holidays: BTreeSet<NaiveDate>,
}

fn parse_day(s: &str) -> Result<Weekday, String> {
    Ok(match s.trim().to_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return Err(format!("unknown day {s:?} (use mon, tue, wed, thu, fri, sat, sun)")),
    })
}

fn parse_hhmm(s: &str) -> Result<u32, String> {
    let bad = || format!("bad time {s:?}: use HH:MM, 00:00 to 24:00");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl WorkingHours {
    /// Checks and compiles: a known timezone, known days, `from` before `to`,
    /// and at least one working interval in the week.
    pub fn compile(&self) -> Result<Calendar, String> {
        let tz = Tz::from_str(self.timezone.trim()).map_err(|_| {
            format!("unknown timezone {:?} (use an IANA name like Europe/London)", self.timezone)
        })?;
        let mut week: [Vec<(u32, u32)>; 7] = Default::default();
        for h in &self.hours {
            let (from, to) = (parse_hhmm(&h.from)?, parse_hhmm(&h.to)?);
            if from >= to {
                return Err(format!("working hours {}-{} end before they start", h.from, h.to));
            }
            if h.days.is_empty() {
                return Err(format!("working hours {}-{} name no days", h.from, h.to));
            }
            for d in &h.days {
                week[parse_day(d)?.num_days_from_monday() as usize].push((from, to));
            }
        }
        for day in &mut week {
            day.sort();
            let mut merged: Vec<(u32, u32)> = Vec::new();
            for (a, b) in day.drain(..) {
                match merged.last_mut() {
                    Some(last) if a <= last.1 => last.1 = last.1.max(b),
                    _ => merged.push((a, b)),
                }
            }
            *day = merged;
        }
        if week.iter().all(|d| d.is_empty()) {
            return Err("working hours have no working time in the week".into());
        }
        Ok(Calendar { tz, week, holidays: self.holidays.clone() })
    }
}

/// Checked working hours: the arithmetic of working time.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    tz: Tz,
    /// Per weekday (Monday first): sorted, disjoint (from, to) minutes of the day.
    week: [Vec<(u32, u32)>; 7],
    holidays: BTreeSet<NaiveDate>,
}

/// How far ahead [`Calendar::add`] looks for working time (holidays are a
/// finite set, so a week with working hours always has some within this).
const HORIZON_DAYS: i64 = 366 * 20;

impl Calendar {
    /// The instant a local date and minute of the day falls on. A time in a
    /// DST gap moves forward to the end of the gap; an ambiguous time takes
    /// the earlier instant.
    fn instant(&self, date: NaiveDate, minute: u32) -> DateTime<Utc> {
        let base = NaiveDateTime::from(date) + Duration::minutes(minute as i64);
        let mut probe = base;
        for _ in 0..=8 {
            match self.tz.from_local_datetime(&probe) {
                LocalResult::Single(t) => return t.with_timezone(&Utc),
                LocalResult::Ambiguous(a, _) => return a.with_timezone(&Utc),
                LocalResult::None => probe += Duration::minutes(30),
            }
        }
        // No zone has a gap of more than a few hours; fall back to UTC reading.
        Utc.from_utc_datetime(&base)
    }

    /// The working intervals of a local date, in UTC, in order.
    fn intervals(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if self.holidays.contains(&date) {
            return Vec::new();
        }
        self.week[date.weekday().num_days_from_monday() as usize]
            .iter()
            .map(|(a, b)| (self.instant(date, *a), self.instant(date, *b)))
            .filter(|(a, b)| a < b)
            .collect()
    }

    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// Whether `t` falls in working time.
    pub fn is_working(&self, t: DateTime<Utc>) -> bool {
        let d = self.local_date(t);
        [d.pred_opt(), Some(d)]
            .into_iter()
            .flatten()
            .any(|day| self.intervals(day).iter().any(|(a, b)| *a <= t && t < *b))
    }

    /// The earliest instant `t >= start` with exactly `secs` seconds of
    /// working time in `[start, t)`. `secs <= 0` gives `start`.
    pub fn add(&self, start: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
        if secs <= 0 {
            return start;
        }
        let mut remaining = Duration::seconds(secs);
        let first = self.local_date(start).pred_opt().unwrap_or(self.local_date(start));
        let mut day = first;
        for _ in 0..HORIZON_DAYS {
            for (a, b) in self.intervals(day) {
                if b <= start {
                    continue;
                }
                let from = a.max(start);
                let avail = b - from;
                if avail >= remaining {
                    return from + remaining;
                }
                remaining -= avail;
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        // Unreachable for a compiled calendar (it has weekly hours and finitely
        // many holidays); degrade to wall-clock time rather than panic.
        start + remaining
    }

    /// Seconds of working time in `[a, b)` (0 when `b <= a`).
    pub fn working_secs(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
        if b <= a {
            return 0;
        }
        let mut total = 0;
        let mut day = self.local_date(a).pred_opt().unwrap_or(self.local_date(a));
        let last = self.local_date(b);
        while day <= last {
            for (x, y) in self.intervals(day) {
                let (from, to) = (x.max(a), y.min(b));
                if to > from {
                    total += (to - from).num_seconds();
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        total
    }
}

/// Time arithmetic with or without working hours: plain wall-clock time
/// when there is no calendar.
pub fn add_time(cal: Option<&Calendar>, start: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    match cal {
        Some(c) => c.add(start, secs),
        None => start + Duration::seconds(secs.max(0)),
    }
}

/// Counted seconds in `[a, b)`, with or without working hours.
pub fn elapsed(cal: Option<&Calendar>, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    match cal {
        Some(c) => c.working_secs(a, b),
        None => (b - a).num_seconds().max(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn office(tz: &str, holidays: &[&str]) -> Calendar {
        WorkingHours {
            timezone: tz.into(),
            hours: vec![
                Hours::new(&["mon", "tue", "wed", "thu", "fri"], "09:00", "12:30"),
                Hours::new(&["mon", "tue", "wed", "thu", "fri"], "13:30", "17:00"),
                Hours::new(&["sat"], "10:00", "12:00"),
            ],
            holidays: holidays.iter().map(|d| d.parse().unwrap()).collect(),
        }
        .compile()
        .unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// The definition, minute by minute: the end of the N-th working minute.
    fn brute_add(cal: &Calendar, start: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
        if minutes == 0 {
            return start;
        }
        let mut t = start;
        let mut count = 0;
        loop {
            if cal.is_working(t) {
                count += 1;
                if count == minutes {
                    return t + Duration::minutes(1);
                }
            }
            t += Duration::minutes(1);
        }
    }

    #[test]
    fn spans_parse_and_print() {
        assert_eq!("4h".parse::<Span>().unwrap().seconds(), 14_400);
        assert_eq!("3d".parse::<Span>().unwrap().to_string(), "3d");
        assert_eq!("1w".parse::<Span>().unwrap().to_string(), "7d");
        assert_eq!("90m".parse::<Span>().unwrap().to_string(), "1h30m");
        assert!("h".parse::<Span>().is_err());
        assert!("5".parse::<Span>().is_err());
        assert!("".parse::<Span>().is_err());
    }

    #[test]
    fn bad_definitions_are_refused() {
        let mut wh = WorkingHours {
            timezone: "Mars/Olympus".into(),
            hours: vec![Hours::new(&["mon"], "09:00", "17:00")],
            holidays: BTreeSet::new(),
        };
        assert!(wh.compile().unwrap_err().contains("unknown timezone"));
        wh.timezone = "UTC".into();
        wh.hours = vec![Hours::new(&["mon"], "17:00", "09:00")];
        assert!(wh.compile().unwrap_err().contains("end before they start"));
        wh.hours = vec![Hours::new(&["funday"], "09:00", "17:00")];
        assert!(wh.compile().unwrap_err().contains("unknown day"));
        wh.hours = vec![Hours::new(&["mon"], "09:00", "25:00")];
        assert!(wh.compile().unwrap_err().contains("bad time"));
        wh.hours = vec![];
        assert!(wh.compile().unwrap_err().contains("no working time"));
    }

    #[test]
    fn across_a_weekend_and_a_holiday() {
        // Friday 2026-01-09 16:00 London; Monday 12th is a holiday.
        let cal = office("Europe/London", &["2026-01-12"]);
        let start = utc("2026-01-09T16:00:00Z");
        // 1h Friday, 2h Saturday, then Tuesday 09:00 + 1h.
        assert_eq!(cal.add(start, 4 * 3600), utc("2026-01-13T10:00:00Z"));
        assert_eq!(cal.working_secs(start, utc("2026-01-13T10:00:00Z")), 4 * 3600);
        // Lunch is not worked.
        assert_eq!(cal.add(utc("2026-01-13T12:00:00Z"), 3600), utc("2026-01-13T14:00:00Z"));
        assert!(!cal.is_working(utc("2026-01-11T11:00:00Z")));
        assert!(cal.is_working(utc("2026-01-10T11:00:00Z")));
    }

    #[test]
    fn timezones_and_dst() {
        // New York is UTC-5 in January: 09:00 local = 14:00 UTC.
        let cal = office("America/New_York", &[]);
        assert_eq!(cal.add(utc("2026-01-06T00:00:00Z"), 60), utc("2026-01-06T14:01:00Z"));
        // London switches to BST on 2026-03-29: Monday 30th 09:00 local = 08:00 UTC.
        let cal = office("Europe/London", &[]);
        assert_eq!(cal.add(utc("2026-03-28T12:00:00Z"), 60), utc("2026-03-30T08:01:00Z"));
    }

    fn arb_calendar() -> impl Strategy<Value = Calendar> {
        let tz =
            prop_oneof![Just("UTC"), Just("Europe/London"), Just("America/New_York"), Just("Asia/Kolkata")];
        let hours = proptest::collection::vec((0u8..7, 6u32..21, 1u32..6), 1..4);
        let holidays = proptest::collection::btree_set(0i64..30, 0..4);
        (tz, hours, holidays).prop_map(|(tz, hours, holidays)| {
            let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
            WorkingHours {
                timezone: tz.into(),
                hours: hours
                    .into_iter()
                    .map(|(d, h, len)| {
                        Hours::new(
                            &[days[d as usize]],
                            &format!("{h:02}:00"),
                            &format!("{:02}:30", (h + len).min(23)),
                        )
                    })
                    .collect(),
                holidays: holidays
                    .into_iter()
                    .map(|d| NaiveDate::from_ymd_opt(2026, 3, 1).unwrap() + Duration::days(d))
                    .collect(),
            }
            .compile()
            .unwrap()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn add_equals_minute_stepping(cal in arb_calendar(), start_min in 0i64..(40 * 24 * 60), n in 0i64..900) {
            let start = utc("2026-03-01T00:00:00Z") + Duration::minutes(start_min);
            prop_assert_eq!(cal.add(start, n * 60), brute_add(&cal, start, n));
        }

        #[test]
        fn add_is_monotonic_and_lands_in_working_time(
            cal in arb_calendar(), start_min in 0i64..(60 * 24 * 60), a in 1i64..5000, b in 1i64..5000,
        ) {
            let start = utc("2026-03-01T00:00:00Z") + Duration::minutes(start_min);
            let (lo, hi) = (a.min(b), a.max(b));
            let (t_lo, t_hi) = (cal.add(start, lo * 60), cal.add(start, hi * 60));
            prop_assert!(t_lo <= t_hi);
            prop_assert!(t_lo > start);
            // The minute before the due time was worked.
            prop_assert!(cal.is_working(t_hi - Duration::minutes(1)));
            // And working_secs inverts add.
            prop_assert_eq!(cal.working_secs(start, t_hi), hi * 60);
        }
    }
}
