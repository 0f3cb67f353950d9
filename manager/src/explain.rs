//! Timed steps of one request, for `berth run --explain`.
//!
//! A request handler runs its work inside [`collect`]; code below it calls [`record`] (or times a
//! future with [`timed`]) where a step really happens. Outside a `collect` scope recording does
//! nothing, so the rules stay free of explain plumbing and nothing is measured twice. Durations
//! are measured with a monotonic clock around the work itself; none is estimated.

use std::cell::RefCell;
use std::future::Future;
use std::time::{Duration, Instant};

/// One measured step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Short name, e.g. "snapshot prepared".
    pub name: String,
    /// What was done, e.g. "2 layers, overlay on sha256:…".
    pub detail: String,
    /// How long it took.
    pub elapsed: Duration,
}

tokio::task_local! {
    static STEPS: RefCell<Vec<Step>>;
}

/// Runs `fut`, returning its output and the steps recorded while it ran (on this task).
pub async fn collect<F: Future>(fut: F) -> (F::Output, Vec<Step>) {
    STEPS
        .scope(RefCell::new(Vec::new()), async move {
            let out = fut.await;
            let steps = STEPS.with(|s| std::mem::take(&mut *s.borrow_mut()));
            (out, steps)
        })
        .await
}

/// Spawns `fut` on a task of its own (so that it runs to the end even when the caller goes
/// away) and carries the steps it records back into the caller's collection: task-local
/// steps do not cross `tokio::spawn` by themselves.
pub async fn spawn_carrying<F>(fut: F) -> Result<F::Output, tokio::task::JoinError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (out, steps) = tokio::spawn(collect(fut)).await?;
    let _ = STEPS.try_with(|s| s.borrow_mut().extend(steps));
    Ok(out)
}

/// Records a step that took `elapsed` (no-op outside [`collect`]).
pub fn record(name: &str, detail: impl Into<String>, elapsed: Duration) {
    let step = Step {
        name: name.to_string(),
        detail: detail.into(),
        elapsed,
    };
    // Not inside a collecting request: nobody asked.
    let _ = STEPS.try_with(|s| s.borrow_mut().push(step));
}

/// Awaits `fut` and records it as step `name` with the detail `detail` makes of its output.
pub async fn timed<F, T>(name: &str, fut: F, detail: impl FnOnce(&T) -> String) -> T
where
    F: Future<Output = T>,
{
    let start = Instant::now();
    let out = fut.await;
    record(name, detail(&out), start.elapsed());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn steps_of_a_spawned_task_are_carried_back() {
        let ((), steps) = collect(async {
            record("before", "", Duration::ZERO);
            spawn_carrying(async { record("inside", "", Duration::ZERO) })
                .await
                .unwrap();
        })
        .await;
        let names: Vec<_> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["before", "inside"]);
    }

    #[tokio::test]
    async fn steps_are_collected_only_inside_a_scope() {
        record("outside", "", Duration::ZERO);
        let ((), steps) = collect(async {
            record("a", "first", Duration::from_millis(3));
            let n = timed("b", async { 2 }, |n| format!("{n} things")).await;
            assert_eq!(n, 2);
        })
        .await;
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].name, "a");
        assert_eq!(steps[0].elapsed, Duration::from_millis(3));
        assert_eq!(steps[1].detail, "2 things");
    }
}
