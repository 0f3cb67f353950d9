//! A redb handle that recovers from I/O errors.
//!
//! After one failed write (a full disk, an EIO), redb refuses every later operation with
//! "Previous I/O error occurred" until the database is closed and opened again. [`Db`] does that
//! itself: an operation that fails with an I/O error drops the handle and opens the file again
//! (redb's recovery brings it back to the last committed transaction), so the next request works
//! once the cause is gone, without restarting berthd. If reopening fails too (the disk is still
//! full), every call tries again before running.

use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard};

use redb::Database;

/// Whether a redb error means the handle is unusable until reopened.
pub fn is_io_error(e: &redb::Error) -> bool {
    matches!(e, redb::Error::Io(_) | redb::Error::PreviousIo)
}

/// A database file and its (re)openable handle.
#[derive(Debug)]
pub struct Db {
    path: PathBuf,
    // Operations hold it shared; reopening holds it exclusively, so no transaction of the old
    // handle is alive when the file is opened again (redb allows one open per process).
    handle: RwLock<Option<Database>>,
}

impl Db {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Db, redb::DatabaseError> {
        let db = Database::create(path)?;
        Ok(Db {
            path: path.to_path_buf(),
            handle: RwLock::new(Some(db)),
        })
    }

    fn read_guard(&self) -> RwLockReadGuard<'_, Option<Database>> {
        // A panic inside an operation cannot leave the handle itself half-changed.
        self.handle.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the database. When `f` fails and `needs_reopen` says the error is an I/O
    /// failure, the handle is reopened before the error is returned. `closed` makes the error
    /// returned when the database cannot be (re)opened at all.
    pub fn run<R, E>(
        &self,
        f: impl FnOnce(&Database) -> Result<R, E>,
        needs_reopen: impl Fn(&E) -> bool,
        closed: impl FnOnce(redb::DatabaseError) -> E,
    ) -> Result<R, E> {
        let mut guard = self.read_guard();
        if guard.is_none() {
            drop(guard);
            if let Err(e) = self.reopen() {
                return Err(closed(e));
            }
            guard = self.read_guard();
        }
        let Some(db) = guard.as_ref() else {
            return Err(closed(redb::DatabaseError::Storage(
                redb::StorageError::PreviousIo,
            )));
        };
        let result = f(db);
        drop(guard);
        if let Err(e) = &result {
            if needs_reopen(e) {
                if let Err(re) = self.reopen() {
                    tracing::warn!(db = %self.path.display(), error = %re,
                        "reopening the database after an I/O error failed; retrying on the next call");
                }
            }
        }
        result
    }

    /// Closes the handle and opens the file again.
    pub fn reopen(&self) -> Result<(), redb::DatabaseError> {
        let mut w = self.handle.write().unwrap_or_else(|e| e.into_inner());
        // Dropping closes the file (and its lock) so it can be opened again.
        *w = None;
        let db = Database::create(&self.path)?;
        tracing::info!(db = %self.path.display(), "database reopened after an I/O error");
        *w = Some(db);
        Ok(())
    }
}
