//! Docker-style text of containers: `ps` status and command columns, timestamps.

use super::human_duration;
use berth_proto::v1 as pb;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A protobuf timestamp as a system time.
pub fn to_system_time(ts: &prost_types::Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::new(ts.seconds.max(0) as u64, ts.nanos.max(0) as u32)
}

/// Time elapsed since `ts` (zero if in the future).
pub fn since(ts: &prost_types::Timestamp) -> Duration {
    SystemTime::now()
        .duration_since(to_system_time(ts))
        .unwrap_or_default()
}

/// `<duration> ago` since `ts`, empty without a time: `ps`'s CREATED column and its
/// `{{.RunningFor}}`.
pub fn ago(ts: Option<&prost_types::Timestamp>) -> String {
    ts.map(|t| format!("{} ago", human_duration(since(t))))
        .unwrap_or_default()
}

/// The STATUS column of `ps`: `Up 2 minutes`, `Up 5 seconds (Paused)`, `Exited (0) 10 minutes ago`,
/// `Exited (unknown) …` when the code was lost (without a time when that is unknown too),
/// `Created`.
pub fn status_text(status: Option<&pb::ContainerStatus>) -> String {
    let Some(s) = status else {
        return "Unknown".into();
    };
    let ago = |t: &Option<prost_types::Timestamp>| {
        t.as_ref()
            .map(|t| human_duration(since(t)))
            .unwrap_or_else(|| "Less than a second".into())
    };
    match pb::ContainerState::try_from(s.state).unwrap_or(pb::ContainerState::Unspecified) {
        pb::ContainerState::Running => format!("Up {}", ago(&s.started_at)),
        pb::ContainerState::Paused => format!("Up {} (Paused)", ago(&s.started_at)),
        pb::ContainerState::Exited => {
            let code = if s.exit_code_known {
                s.exit_code.to_string()
            } else {
                "unknown".into()
            };
            // Docker's words while the restart policy waits out its back-off delay.
            let word = if s.restarting { "Restarting" } else { "Exited" };
            match &s.finished_at {
                Some(_) => format!("{word} ({code}) {} ago", ago(&s.finished_at)),
                // Nobody saw the exit: no time to show rather than a made-up one.
                None => format!("{word} ({code})"),
            }
        }
        pb::ContainerState::Created => "Created".into(),
        pb::ContainerState::Unspecified => "Unknown".into(),
    }
}

/// `ps`'s COMMAND column: the quoted command line, cut to 20 characters with an ellipsis.
pub fn command_text(args: &[String]) -> String {
    let full = args.join(" ");
    let cut: String = if full.chars().count() > 19 {
        let mut s: String = full.chars().take(19).collect();
        s.push('…');
        s
    } else {
        full
    };
    format!("\"{cut}\"")
}

#[cfg(test)]
mod tests {
    use super::super::human_size;
    use super::*;

    // The CLI's one duration and size rounding (format::age, format::size), as `ps` and
    // `prune` print them.
    #[test]
    fn durations_match_docker() {
        assert_eq!(
            human_duration(Duration::from_millis(300)),
            "Less than a second"
        );
        assert_eq!(human_duration(Duration::from_secs(1)), "1 second");
        assert_eq!(human_duration(Duration::from_secs(45)), "45 seconds");
        assert_eq!(human_duration(Duration::from_secs(90)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(600)), "10 minutes");
        assert_eq!(human_duration(Duration::from_secs(3600)), "About an hour");
        assert_eq!(human_duration(Duration::from_secs(5 * 3600)), "5 hours");
        assert_eq!(human_duration(Duration::from_secs(3 * 86400)), "3 days");
    }

    #[test]
    fn status_texts() {
        let exited = pb::ContainerStatus {
            state: pb::ContainerState::Exited as i32,
            exit_code: 137,
            exit_code_known: true,
            finished_at: Some(crate::events::now_timestamp()),
            ..Default::default()
        };
        assert!(status_text(Some(&exited)).starts_with("Exited (137) "));
        let lost = pb::ContainerStatus {
            exit_code_known: false,
            ..exited
        };
        assert!(status_text(Some(&lost)).starts_with("Exited (unknown) "));
        let unseen = pb::ContainerStatus {
            finished_at: None,
            ..lost
        };
        assert_eq!(status_text(Some(&unseen)), "Exited (unknown)");
        let created = pb::ContainerStatus {
            state: pb::ContainerState::Created as i32,
            ..Default::default()
        };
        assert_eq!(status_text(Some(&created)), "Created");
    }

    #[test]
    fn commands_and_sizes() {
        assert_eq!(command_text(&["/hello".into()]), "\"/hello\"");
        assert_eq!(
            command_text(&[
                "sh".into(),
                "-c".into(),
                "while true; do sleep 1; done".into()
            ]),
            "\"sh -c while true; d…\""
        );
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(1500), "1.5kB");
        // Docker's 3 significant digits (this copy of the rounding printed "13.256MB").
        assert_eq!(human_size(13_256_000), "13.3MB");
    }
}
