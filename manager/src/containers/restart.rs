//! Restart policies (`--restart`), Docker's semantics: `no`, `always`, `unless-stopped`,
//! `on-failure[:N]`. An exited container is started again after a back-off delay of 100 ms that
//! doubles with every restart up to one minute, and goes back to 100 ms once a run lasted 10 s.
//! `stop` suspends the policy until the next `start`; a restarted berthd starts `always`
//! containers and `unless-stopped` ones that were not stopped by hand. The restart count and the
//! last delay are kept on the record (`LastRun`), so the back-off survives a berthd restart.

use super::backend::ExitInfo;
use super::record::ContainerRecord;
use super::{ContainerError, Containers};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// First back-off delay.
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// Longest back-off delay.
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the back-off.
const RESET_AFTER: Duration = Duration::from_secs(10);

/// A `--restart` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Never restart (`no`, the default).
    No,
    /// Restart whatever the exit code.
    Always,
    /// As `always`, but not after a berthd restart when it was stopped by hand.
    UnlessStopped,
    /// Restart on a non-zero exit, at most `max` times (0: no limit).
    OnFailure {
        /// Maximum restarts; 0 means unlimited.
        max: u32,
    },
}

impl RestartPolicy {
    /// Parses a `--restart` value with Docker's messages for bad ones.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let policy = match name {
            "" | "no" => RestartPolicy::No,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => RestartPolicy::OnFailure { max: 0 },
            other => {
                return Err(format!(
                    "invalid restart policy: unknown policy '{other}'; use one of 'no', \
                     'always', 'on-failure', or 'unless-stopped'"
                ))
            }
        };
        let Some(count) = count else {
            return Ok(policy);
        };
        let n: i64 = count.parse().map_err(|_| {
            format!("invalid restart policy format: maximum retry count must be an integer: '{s}'")
        })?;
        if n < 0 {
            return Err("invalid restart policy: maximum retry count cannot be negative".into());
        }
        match policy {
            RestartPolicy::OnFailure { .. } => Ok(RestartPolicy::OnFailure {
                max: u32::try_from(n).unwrap_or(u32::MAX),
            }),
            _ => Err(
                "invalid restart policy: maximum retry count can only be used with 'on-failure'"
                    .into(),
            ),
        }
    }

    /// Whether a container that exited with `code` after `restarts` restarts goes again.
    pub fn wants_restart(self, code: Option<i32>, restarts: u32) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure { max } => code != Some(0) && (max == 0 || restarts < max),
        }
    }
}

/// The next back-off delay after `previous` (none yet: `None`) for a run of `uptime`.
pub fn next_delay(previous: Option<Duration>, uptime: Option<Duration>) -> Duration {
    match (previous, uptime) {
        (_, Some(u)) if u >= RESET_AFTER => FIRST_DELAY,
        (Some(p), _) => (p * 2).min(MAX_DELAY),
        (None, _) => FIRST_DELAY,
    }
}

/// Scheduled restarts and back-off delays, by container id.
#[derive(Debug, Default)]
pub struct Pending {
    inner: Mutex<HashMap<String, Slot>>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Identifies the scheduled start; 0 when none is scheduled.
    generation: u64,
    /// The last delay used.
    delay: Duration,
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn uptime(rec: &ContainerRecord, exit: &ExitInfo) -> Option<Duration> {
    let started = rec.last_run.as_ref()?.started_at?;
    let started = UNIX_EPOCH + Duration::from_nanos(u64::try_from(started).ok()?);
    exit.exited_at
        .unwrap_or_else(SystemTime::now)
        .duration_since(started)
        .ok()
}

impl Containers {
    /// `berth update`: sets the restart policy of container `q` (kept when `restart_policy` is
    /// empty) and the limits set in `limits` (see [`super::limits`]). A bad value changes
    /// nothing. Returns the full id.
    pub async fn update(
        &self,
        q: &str,
        restart_policy: &str,
        limits: Option<&crate::limits::ResourceLimits>,
    ) -> Result<String, ContainerError> {
        let mut rec = self.resolve(q)?;
        if !restart_policy.is_empty() {
            RestartPolicy::parse(restart_policy).map_err(ContainerError::Invalid)?;
            rec.options.restart_policy = restart_policy.to_string();
        }
        if let Some(l) = limits {
            self.update_limits(&mut rec, l).await?;
        }
        self.store.put(&rec)?;
        Ok(rec.id)
    }

    /// Whether the restart policy will start container `id` again (ps: `Restarting`).
    pub fn restart_pending(&self, id: &str) -> bool {
        self.restarts
            .lock()
            .get(id)
            .is_some_and(|s| s.generation != 0)
    }

    /// Forgets a scheduled restart and the back-off (stop, rm, a start by the user).
    pub fn cancel_restart(&self, id: &str) {
        self.restarts.lock().remove(id);
    }

    /// Suspends the policy until the next `start` (Docker's "manually stopped").
    pub fn suspend_restart(&self, id: &str) -> Result<(), ContainerError> {
        self.cancel_restart(id);
        self.update_last_run(id, |run| {
            run.manually_stopped = true;
            run.restart_delay_ms = None;
        })
    }

    /// After an exit: schedules the next start when the container's policy asks for one.
    pub fn apply_restart_policy(&self, id: &str, exit: &ExitInfo) {
        let Ok(Some(rec)) = self.store.get(id) else {
            return;
        };
        let Ok(policy) = RestartPolicy::parse(&rec.options.restart_policy) else {
            return;
        };
        let run = rec.last_run.clone().unwrap_or_default();
        if run.manually_stopped || !policy.wants_restart(exit.code, run.restart_count) {
            return;
        }
        let up = uptime(&rec, exit);
        // The back-off of a previous berthd, when this one has none yet.
        let stored = run.restart_delay_ms.map(Duration::from_millis);
        let delay = {
            let mut map = self.restarts.lock();
            let prev = map.get(id).map(|s| s.delay).or(stored);
            let delay = next_delay(prev, up);
            map.insert(
                id.to_string(),
                Slot {
                    generation: GENERATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
                    delay,
                },
            );
            delay
        };
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        if let Err(e) = self.update_last_run(id, |r| r.restart_delay_ms = Some(ms)) {
            tracing::error!(container = id, error = %e, "recording the restart back-off");
        }
        tracing::info!(
            container = id,
            delay_ms = ms,
            restart_count = run.restart_count,
            "restart policy: next start scheduled"
        );
        self.schedule(id, delay);
    }

    /// At daemon start: starts `always` containers and `unless-stopped` ones not stopped by
    /// hand that are not running (exits found at recovery may already have scheduled them).
    pub async fn restart_on_boot(&self) {
        for rec in self.records().unwrap_or_default() {
            let Ok(policy) = RestartPolicy::parse(&rec.options.restart_policy) else {
                continue;
            };
            let stopped_by_hand = rec.last_run.as_ref().is_some_and(|r| r.manually_stopped);
            let wanted = match policy {
                RestartPolicy::Always => true,
                RestartPolicy::UnlessStopped => !stopped_by_hand,
                _ => false,
            };
            let never_started = rec.last_run.as_ref().is_none_or(|r| r.started_at.is_none());
            if !wanted || never_started || self.restart_pending(&rec.id) {
                continue;
            }
            if self.is_live(&rec.id).await.unwrap_or(true) {
                continue;
            }
            let delay = rec
                .last_run
                .as_ref()
                .and_then(|r| r.restart_delay_ms)
                .map_or(FIRST_DELAY, Duration::from_millis);
            {
                let mut map = self.restarts.lock();
                map.insert(
                    rec.id.clone(),
                    Slot {
                        generation: GENERATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
                        // The back-off goes on from where the previous berthd left it.
                        delay,
                    },
                );
            }
            self.schedule(&rec.id, Duration::ZERO);
        }
    }

    fn schedule(&self, id: &str, delay: Duration) {
        let Some(me) = self.me.upgrade() else {
            return;
        };
        let generation = self.restarts.lock().get(id).map_or(0, |s| s.generation);
        let id = id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            me.restart_now(&id, generation).await;
        });
    }

    /// Ends the pending state of restart `generation` of `id`, keeping its back-off; a newer
    /// generation (the restarted task already exited and was scheduled again) is left alone.
    fn settle_restart(&self, id: &str, generation: u64) {
        if let Some(s) = self.restarts.lock().get_mut(id) {
            if s.generation == generation {
                s.generation = 0;
            }
        }
    }

    /// Runs the scheduled start `generation` of `id` unless it was cancelled meanwhile.
    async fn restart_now(&self, id: &str, generation: u64) {
        // Held until the task runs: `delete` takes the same lock and cancels the restart under
        // it, so a container removed while its restart was due never gets a task (and a
        // runtime container nobody owns) after its record is gone.
        let _serialised_with_delete = self.lock.lock().await;
        // The slot stays pending (inspect: `Restarting`) until the task runs: a reader that
        // sees the new RestartCount with `Restarting: false` must be seeing the final state,
        // not the gap between counting a restart and starting it.
        if self.restarts.lock().get(id).map(|s| s.generation) != Some(generation) {
            return;
        }
        let Ok(Some(rec)) = self.store.get(id) else {
            self.cancel_restart(id);
            return;
        };
        if rec.options.auto_remove {
            // Refused at create (--restart and --rm conflict); a failed start would delete the
            // container under the lock held here.
            self.cancel_restart(id);
            return;
        }
        if self.is_live(id).await.unwrap_or(true) {
            self.settle_restart(id, generation);
            return;
        }
        let counted = self.update_last_run(id, |run| {
            run.restart_count = run.restart_count.saturating_add(1);
            run.manually_stopped = false;
        });
        if let Err(e) = counted {
            tracing::error!(container = id, error = %e, "recording a restart");
            self.settle_restart(id, generation);
            return;
        }
        if let Err(e) = self.start_by_policy(&rec).await {
            tracing::warn!(container = id, error = %e, "restart policy: start failed");
            let code = match &e {
                ContainerError::StartFailed { code, .. } => Some(*code),
                _ => None,
            };
            let exit = ExitInfo {
                code,
                exited_at: Some(SystemTime::now()),
                oom: false,
                pid: 0,
            };
            // Schedules the next generation first, so `Restarting` never drops in between.
            self.apply_restart_policy(id, &exit);
        }
        self.settle_restart(id, generation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_with_dockers_messages() {
        assert_eq!(RestartPolicy::parse("").unwrap(), RestartPolicy::No);
        assert_eq!(
            RestartPolicy::parse("always").unwrap(),
            RestartPolicy::Always
        );
        assert_eq!(
            RestartPolicy::parse("on-failure:3").unwrap(),
            RestartPolicy::OnFailure { max: 3 }
        );
        assert!(RestartPolicy::parse("sometimes")
            .unwrap_err()
            .contains("unknown policy 'sometimes'"));
        assert!(RestartPolicy::parse("on-failure:-1")
            .unwrap_err()
            .contains("cannot be negative"));
        assert!(RestartPolicy::parse("always:2").is_err());
        assert!(RestartPolicy::parse("on-failure:x").is_err());
    }

    #[test]
    fn on_failure_counts_and_backoff() {
        let p = RestartPolicy::OnFailure { max: 2 };
        assert!(p.wants_restart(Some(1), 0));
        assert!(p.wants_restart(Some(1), 1));
        assert!(!p.wants_restart(Some(1), 2));
        assert!(!p.wants_restart(Some(0), 0));
        assert!(RestartPolicy::Always.wants_restart(Some(0), 99));
        let short = Some(Duration::from_millis(5));
        let mut d = next_delay(None, short);
        assert_eq!(d, FIRST_DELAY);
        for _ in 0..20 {
            d = next_delay(Some(d), short);
        }
        assert_eq!(d, MAX_DELAY);
        assert_eq!(next_delay(Some(d), Some(RESET_AFTER)), FIRST_DELAY);
    }
}
