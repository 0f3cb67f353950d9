//! Polling with a bound: the one way the harness waits for something to happen.

use std::time::{Duration, Instant};

/// How long [`until`] polls before failing when the caller has no reason to pick another bound.
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(60);

/// Polls `f` until it returns `Some`, failing the test after `limit` (not a timing assertion:
/// the limit only stops a hung test).
#[track_caller]
pub fn until<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
