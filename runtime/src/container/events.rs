//! `events`: the container's resource usage as runc prints it (`--stats`: one `stats` event), or a
//! stream of `stats` events every `--interval` interleaved with `oom` events as they happen.

use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollTimeout};
use serde::Serialize;

use crate::cgroups::{Cgroup, OomWatch};
use crate::state_dir::{self as state, State, Status};
use crate::{Error, Result};

/// One line of `events` output (runc's `types.Event`; `data` is left out when empty).
#[derive(Debug, Serialize)]
pub struct Event<'a, T: Serialize> {
    /// `stats` or `oom`.
    #[serde(rename = "type")]
    pub kind: &'a str,
    /// Container id.
    pub id: &'a str,
    /// The statistics of a `stats` event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
}

/// Loads a container that `events` may report on (runc refuses a stopped one).
fn live(root: &Path, id: &str) -> Result<(State, Cgroup)> {
    let st = State::load(root, id)?;
    match st.status(&state::container_dir(root, id)) {
        Status::Stopped | Status::Creating => {
            return Err(Error::WrongState(format!(
                "container with id {id} is not running"
            )))
        }
        Status::Created | Status::Running | Status::Paused => {}
    }
    let cg = st
        .cgroup
        .clone()
        .ok_or_else(|| Error::WrongState(format!("container {id} has no cgroup recorded")))?;
    Ok((st, cg))
}

fn emit<T: Serialize>(out: &mut dyn Write, ev: &Event<'_, T>) -> Result<()> {
    let line = serde_json::to_string(ev)
        .map_err(|e| Error::InvalidArgument(format!("encode event: {e}")))?;
    writeln!(out, "{line}")
        .and_then(|_| out.flush())
        .map_err(|e| Error::Io {
            context: "write event to stdout".into(),
            source: e,
        })
}

/// `events --stats ID`: one `stats` event.
pub fn stats(root: &Path, id: &str, out: &mut dyn Write) -> Result<()> {
    let (_, cg) = live(root, id)?;
    let data = cg.stats()?;
    emit(
        out,
        &Event {
            kind: "stats",
            id,
            data: Some(data),
        },
    )
}

/// `events [--interval D] ID`: a `stats` event every `interval` and an `oom` event per OOM kill,
/// until the container is deleted. `warn` receives errors that do not end the stream.
pub fn stream(
    root: &Path,
    id: &str,
    interval: Duration,
    out: &mut dyn Write,
    warn: &mut dyn FnMut(&str),
) -> Result<()> {
    if interval.is_zero() {
        return Err(Error::InvalidArgument(
            "duration interval must be greater than 0".into(),
        ));
    }
    let (_, cg) = live(root, id)?;
    // Without a memory cgroup there are no OOM events, but stats still stream (as runc).
    let mut watch: Option<OomWatch> = match cg.oom_watch() {
        Ok(w) => Some(w),
        Err(e) => {
            warn(&format!("no OOM events for {id}: {e}"));
            None
        }
    };
    let dir = state::container_dir(root, id);
    let mut next = Instant::now() + interval;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        let ready = match &watch {
            Some(w) => {
                let (fd, flags) = w.poll_target();
                let mut fds = [PollFd::new(fd.as_fd(), flags)];
                match poll(&mut fds, PollTimeout::from(ms)) {
                    Ok(n) => n > 0 && fds[0].revents().is_some_and(|r| !r.is_empty()),
                    Err(nix::errno::Errno::EINTR) => false,
                    Err(e) => {
                        return Err(Error::Sys {
                            context: "poll OOM notification".into(),
                            source: e,
                        })
                    }
                }
            }
            None => {
                std::thread::sleep(Duration::from_millis(u64::from(ms)));
                false
            }
        };
        if ready {
            if let Some(w) = watch.as_mut() {
                match w.take() {
                    Ok(Some(n)) => {
                        for _ in 0..n {
                            emit(
                                out,
                                &Event::<()> {
                                    kind: "oom",
                                    id,
                                    data: None,
                                },
                            )?;
                        }
                    }
                    // The cgroup went away: the container was deleted.
                    Ok(None) => watch = None,
                    Err(e) => {
                        warn(&e.to_string());
                        watch = None;
                    }
                }
            }
        }
        if Instant::now() >= next {
            next += interval;
            if !dir.join(state::STATE_FILE).exists() {
                return Ok(());
            }
            match cg.stats() {
                Ok(data) => emit(
                    out,
                    &Event {
                        kind: "stats",
                        id,
                        data: Some(data),
                    },
                )?,
                Err(e) => warn(&e.to_string()),
            }
        }
    }
}

/// Parses a Go duration (`5s`, `500ms`, `1m30s`, `2h`), as runc's `--interval` takes it.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = || {
        Error::InvalidArgument(format!(
            "invalid value {s:?} for flag -interval: parse error"
        ))
    };
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * secs;
        rest = &rest[u..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        for bad in ["", "5", "x", "5q", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn oom_event_has_no_data() {
        let e = Event::<()> {
            kind: "oom",
            id: "c",
            data: None,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"type":"oom","id":"c"}"#
        );
    }
}
