//! The embedded store: SQLite in WAL mode under the data directory.
//!
//! One writer connection serializes every write (each in an IMMEDIATE transaction, so
//! several processes on one file also serialize); readers come from a small pool and run
//! beside the writer thanks to WAL. SQLite calls run on the blocking pool — except the
//! one on every protected request (`access_status`), a single indexed read that takes
//! microseconds: handing it to another thread would cost more than the read, so it runs
//! where it is called, on a connection kept per thread.
//! `synchronous=NORMAL` in WAL mode makes every committed write survive a crash of the
//! process (kill -9); only a power loss can take the last commits.
//!
//! Several servers (processes) may share one store: SQLite serializes their writes, and
//! each one learns of the others' revocations from the revocation log, a table appended
//! to in the same transaction as the write it records (see `remembered`). Operator
//! tasks (the CLI) open it the same way.

mod access;
mod attempts;
mod audit;
mod clients;
mod codes;
mod consents;
mod factors;
mod forward_rules;
mod identities;
mod keys;
mod links;
mod passkeys;
mod providers;
mod rotation;
mod rows;
mod schema;
mod sessions;
mod upkeep;
mod users;

use std::{
    cell::RefCell,
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use rows::map_error;
use schema::migrate;

use super::{LocalRevocations, StoreError, StoreResult};

const DATABASE_FILE: &str = "gatehouse.sqlite3";
const MAX_IDLE_READERS: usize = 8;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Tells this store's per-thread connections from another store's (tests open many).
    id: u64,
    path: PathBuf,
    writer: Mutex<Connection>,
    idle_readers: Mutex<Vec<Connection>>,
    local_revocations: LocalRevocations,
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir` and brings its schema up to
    /// date. Other processes may have it open too.
    pub async fn open(data_dir: &Path) -> StoreResult<SqliteStore> {
        let data_dir = data_dir.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&data_dir))
            .await
            .map_err(StoreError::unexpected)?
    }

    fn open_blocking(data_dir: &Path) -> StoreResult<SqliteStore> {
        disable_memory_statistics();
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::unavailable(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let mut writer = Connection::open(&path).map_err(map_error)?;
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA foreign_keys = ON;",
            )
            .map_err(map_error)?;
        writer.busy_timeout(BUSY_TIMEOUT).map_err(map_error)?;
        migrate(&mut writer)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
                path,
                writer: Mutex::new(writer),
                idle_readers: Mutex::new(Vec::new()),
                local_revocations: LocalRevocations::default(),
            }),
        })
    }

    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let reader = inner.take_reader()?;
            let result = query(&reader).map_err(map_error);
            inner.return_reader(reader);
            result
        })
        .await
        .map_err(StoreError::unexpected)?
    }

    /// A write that can only add: no token accepted before is refused after it.
    async fn write<T: Send + 'static>(
        &self,
        change: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.write_then(change, |_| None).await
    }

    /// A write that can refuse a token accepted before (revocation, disabling, a role
    /// change) or change the user facts remembered with it (the address): it appends a
    /// `kind` entry to the revocation log in its own transaction.
    async fn write_revoking<T: Send + 'static>(
        &self,
        kind: &'static str,
        change: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.write_then(change, move |_| Some(kind)).await
    }

    /// `revoked` tells from the write's result whether it refused anything, and what:
    /// the revocation log's entry commits with the write or not at all, so its order is
    /// the order of the writes.
    async fn write_then<T: Send + 'static>(
        &self,
        change: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
        revoked: impl FnOnce(&T) -> Option<&'static str> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut writer = inner
                .writer
                .lock()
                .map_err(|_| StoreError::unexpected("the writer lock is poisoned"))?;
            let transaction = writer
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_error)?;
            let value = change(&transaction)?;
            let revoking = revoked(&value);
            if let Some(kind) = revoking {
                transaction
                    .prepare_cached(
                        "INSERT INTO revocation_log (at, kind) VALUES (unixepoch(), ?1)",
                    )
                    .and_then(|mut append| append.execute([kind]))
                    .map_err(map_error)?;
            }
            transaction.commit().map_err(map_error)?;
            // Counted after the commit, on the blocking thread that a caller who stopped
            // waiting does not stop: a reader that saw the count before it may have read
            // the old state, and its answer is forgotten.
            if revoking.is_some() {
                inner.local_revocations.record();
            }
            Ok(value)
        })
        .await
        .map_err(StoreError::unexpected)?
    }
}

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(0);

/// SQLite keeps memory statistics behind one process-wide mutex that every allocation
/// takes; concurrent readers then queue on it. We never read those statistics.
fn disable_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config may only run before SQLite initializes; Once makes this
        // the first SQLite call of the process (stores are the only SQLite users). Were
        // it too late, SQLite answers SQLITE_MISUSE and changes nothing.
        let outcome = unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::ffi::c_int,
            )
        };
        if outcome != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(outcome, "SQLite memory statistics stay on");
        }
    });
}

thread_local! {
    static THREAD_READERS: RefCell<HashMap<u64, Connection>> = RefCell::new(HashMap::new());
}

impl Inner {
    /// A short read on the calling thread, with that thread's own read-only connection.
    fn read_here<T>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> StoreResult<T> {
        THREAD_READERS.with(|readers| {
            let mut readers = readers.borrow_mut();
            let reader = match readers.entry(self.id) {
                std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::hash_map::Entry::Vacant(entry) => {
                    entry.insert(self.open_reader()?)
                }
            };
            query(reader).map_err(map_error)
        })
    }

    fn take_reader(&self) -> StoreResult<Connection> {
        if let Some(reader) = self
            .idle_readers
            .lock()
            .ok()
            .and_then(|mut idle| idle.pop())
        {
            return Ok(reader);
        }
        self.open_reader()
    }

    fn open_reader(&self) -> StoreResult<Connection> {
        let reader = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(map_error)?;
        reader.busy_timeout(BUSY_TIMEOUT).map_err(map_error)?;
        Ok(reader)
    }

    fn return_reader(&self, reader: Connection) {
        if let Ok(mut idle) = self.idle_readers.lock()
            && idle.len() < MAX_IDLE_READERS
        {
            idle.push(reader);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AccessStore, SessionStore};

    #[tokio::test]
    async fn several_servers_share_one_store_and_see_each_others_writes() {
        let dir = tempfile::tempdir().unwrap();
        let first = SqliteStore::open(dir.path()).await.unwrap();
        let second = SqliteStore::open(dir.path()).await.unwrap();
        assert_eq!(second.revocation_position().await.unwrap(), Some(0));
        first.revoke_jti("jti-1", i64::MAX).await.unwrap();
        assert_eq!(second.revocation_position().await.unwrap(), Some(1));
        second.revoke_jti("jti-2", i64::MAX).await.unwrap();
        assert_eq!(first.revocation_position().await.unwrap(), Some(2));
    }
}
