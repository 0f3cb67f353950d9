//! In-process per-digest async locks, so concurrent pulls of the same blob share one download.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use super::Digest;

/// Hands out one async lock per digest; entries vanish when no one holds or waits on them.
#[derive(Debug, Default, Clone)]
pub(crate) struct DigestLocks {
    locks: Arc<Mutex<HashMap<Digest, Weak<AsyncMutex<()>>>>>,
}

/// Held while a task works on one digest; dropping it lets the next waiter in.
#[derive(Debug)]
pub struct DigestGuard {
    _guard: OwnedMutexGuard<()>,
    digest: Digest,
}

impl DigestGuard {
    /// The digest this guard locks.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }
}

impl DigestLocks {
    /// Waits until no other task in this process holds `digest`, then holds it.
    pub(crate) async fn lock(&self, digest: &Digest) -> DigestGuard {
        let mutex = {
            // A poisoned map only means another thread panicked mid-insert; the map is still usable.
            let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            map.retain(|_, w| w.strong_count() > 0);
            match map.get(digest).and_then(Weak::upgrade) {
                Some(m) => m,
                None => {
                    let m = Arc::new(AsyncMutex::new(()));
                    map.insert(digest.clone(), Arc::downgrade(&m));
                    m
                }
            }
        };
        DigestGuard {
            _guard: mutex.lock_owned().await,
            digest: digest.clone(),
        }
    }
}
