//! Per-key mutual exclusion (e.g. one unpack per chain ID at a time).

use std::collections::HashSet;
use std::sync::{Condvar, Mutex, MutexGuard};

/// A set of named locks.
#[derive(Debug, Default)]
pub struct KeyLocks {
    held: Mutex<HashSet<String>>,
    freed: Condvar,
}

/// Holds one key's lock until dropped.
#[derive(Debug)]
pub struct KeyGuard<'a> {
    locks: &'a KeyLocks,
    key: String,
}

impl KeyLocks {
    fn held(&self) -> MutexGuard<'_, HashSet<String>> {
        // A panic while holding the set cannot leave it inconsistent (insert/remove only).
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks until `key` is free, then holds it.
    pub fn lock(&self, key: &str) -> KeyGuard<'_> {
        let mut held = self.held();
        while held.contains(key) {
            held = self.freed.wait(held).unwrap_or_else(|e| e.into_inner());
        }
        held.insert(key.to_string());
        KeyGuard {
            locks: self,
            key: key.to_string(),
        }
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        self.locks.held().remove(&self.key);
        self.locks.freed.notify_all();
    }
}
