//! Times as agents read them: in their own time zone (the browser's, sent in
//! the `hd_tz` cookie; UTC until it is known), relative when recent, the
//! absolute time on hover.

use chrono::{DateTime, Utc};
use maud::{html, Markup};

/// The agent's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl TimeZone {
    /// The zone named in the cookie (an IANA name), UTC when missing or unknown.
    ///
    /// ```
    /// use helpdesk_web::workspace::TimeZone;
    /// assert_eq!(TimeZone::from_cookie(Some("Europe/Oslo")).name(), "Europe/Oslo");
    /// assert_eq!(TimeZone::from_cookie(Some("Mars/Base")).name(), "UTC");
    /// ```
    pub fn from_cookie(v: Option<&str>) -> TimeZone {
        let v = v.map(|v| v.replace("%2F", "/"));
        TimeZone(v.and_then(|v| v.parse().ok()).unwrap_or(chrono_tz::UTC))
    }

    /// The IANA name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// `2026-03-04 14:05 CET`.
    pub fn absolute(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.0).format("%Y-%m-%d %H:%M %Z").to_string()
    }

    /// Relative when within a week (`now`, `5m`, `2h`, `3d`), else the date (`4 Mar`, `4 Mar 2025`).
    pub fn relative(&self, now: DateTime<Utc>, t: DateTime<Utc>) -> String {
        let secs = (now - t).num_seconds();
        match secs {
            s if s < 60 => "now".into(),
            s if s < 3600 => format!("{}m", s / 60),
            s if s < 86_400 => format!("{}h", s / 3600),
            s if s < 7 * 86_400 => format!("{}d", s / 86_400),
            _ => {
                let local = t.with_timezone(&self.0);
                if local.format("%Y").to_string() == now.with_timezone(&self.0).format("%Y").to_string() {
                    local.format("%-d %b").to_string()
                } else {
                    local.format("%-d %b %Y").to_string()
                }
            }
        }
    }

    /// A `<time>` element: relative text, absolute on hover.
    pub fn time(&self, now: DateTime<Utc>, t: DateTime<Utc>) -> Markup {
        html! { time datetime=(t.to_rfc3339()) title=(self.absolute(t)) { (self.relative(now, t)) } }
    }
}

/// A duration for SLA clocks: `1h12m`, `3d4h`, `45m`.
pub fn span(secs: i64) -> String {
    let s = secs.abs();
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else {
        format!("{}m", m.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn relative_and_absolute() {
        let tz = TimeZone::from_cookie(Some("Europe%2FOslo"));
        let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
        assert_eq!(tz.relative(now, now - chrono::Duration::seconds(30)), "now");
        assert_eq!(tz.relative(now, now - chrono::Duration::minutes(5)), "5m");
        assert_eq!(tz.relative(now, now - chrono::Duration::hours(2)), "2h");
        assert_eq!(tz.relative(now, now - chrono::Duration::days(3)), "3d");
        assert_eq!(tz.relative(now, now - chrono::Duration::days(30)), "2 Feb");
        assert_eq!(tz.relative(now, now - chrono::Duration::days(400)), "28 Jan 2025");
        assert_eq!(tz.absolute(now), "2026-03-04 13:00 CET");
        assert_eq!(span(4320), "1h12m");
        assert_eq!(span(-90_000), "1d1h");
        assert_eq!(span(10), "1m");
    }
}
