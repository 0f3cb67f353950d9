//! Relative times the way Docker prints them ("2 days ago", "About an hour ago").

use chrono::{DateTime, Utc};

/// Formats a duration like Docker's `HumanDuration`.
pub fn human_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let minutes = secs / 60;
    // Docker rounds hours to nearest before choosing the unit.
    let hours = (d.as_secs_f64() / 3600.0 + 0.5) as u64;
    if secs < 1 {
        "Less than a second".into()
    } else if secs == 1 {
        "1 second".into()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", secs / 3600 / 24 / 365)
    }
}

/// "<duration> ago" relative to `now`; times in the future count as "Less than a second ago".
pub fn time_ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let d = (now - t).to_std().unwrap_or_default();
    format!("{} ago", human_duration(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn matches_docker() {
        let h = |s: u64| human_duration(Duration::from_secs(s));
        assert_eq!(
            human_duration(Duration::from_millis(300)),
            "Less than a second"
        );
        assert_eq!(h(1), "1 second");
        assert_eq!(h(45), "45 seconds");
        assert_eq!(h(60), "About a minute");
        assert_eq!(h(59 * 60), "59 minutes");
        assert_eq!(h(3600), "About an hour");
        assert_eq!(h(5 * 3600), "5 hours");
        assert_eq!(h(47 * 3600), "47 hours");
        assert_eq!(h(2 * 86400), "2 days");
        assert_eq!(h(20 * 86400), "2 weeks");
        assert_eq!(h(90 * 86400), "3 months");
        assert_eq!(h(800 * 86400), "2 years");
    }

    #[test]
    fn ago_and_future() {
        let now = Utc::now();
        assert_eq!(time_ago(now - chrono::Duration::days(2), now), "2 days ago");
        assert_eq!(
            time_ago(now + chrono::Duration::hours(1), now),
            "Less than a second ago"
        );
    }
}
