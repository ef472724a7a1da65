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
//! A server owns its store: it holds an exclusive lock on `gatehouse.lock` for its whole
//! life, so every write that can turn an accepted token into a refused one passes through
//! this process. That is what lets `access_status` answer from memory — exactly, never a
//! moment stale: each such write bumps a generation once it has committed, and an
//! answer remembered under an older generation is never used. Operator tasks (the CLI)
//! open the store beside the server without the lock; they only add accounts, which
//! cannot change an answer already given. Several servers need MongoDB.

mod access_memory;
mod rotation;
mod rows;
mod schema;
mod store;

use std::{
    cell::RefCell,
    collections::HashMap,
    fs::{File, TryLockError},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use access_memory::AccessMemory;
use rows::map_error;
use schema::migrate;

use super::{StoreError, StoreResult, operator::BesideOwner};

const DATABASE_FILE: &str = "gatehouse.sqlite3";
const OWNER_LOCK_FILE: &str = "gatehouse.lock";
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
    /// Only the owner (the server) remembers answers; see the module comment.
    access_memory: Option<AccessMemory>,
    /// Held, never read: the exclusive lock lives as long as this file stays open.
    _owner_lock: Option<File>,
}

/// Whether the opener is the store's owner (a server) or an operator task beside it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Opener {
    Owner,
    BesideOwner,
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir` and brings its schema up to
    /// date.
    /// The server's way in: takes the owner's lock, and fails if another server holds it.
    pub async fn open(data_dir: &Path) -> StoreResult<SqliteStore> {
        Self::open_as(data_dir, Opener::Owner).await
    }

    /// For operator tasks while a server may be running on the same store. Such a task
    /// may only add (accounts, the first admin): the server's remembered answers stay
    /// exact only while it makes every other change itself.
    pub async fn open_beside_owner(data_dir: &Path) -> StoreResult<BesideOwner> {
        Ok(BesideOwner(
            Self::open_as(data_dir, Opener::BesideOwner).await?,
        ))
    }

    async fn open_as(data_dir: &Path, opener: Opener) -> StoreResult<SqliteStore> {
        let data_dir = data_dir.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&data_dir, opener))
            .await
            .map_err(StoreError::unexpected)?
    }

    fn open_blocking(data_dir: &Path, opener: Opener) -> StoreResult<SqliteStore> {
        disable_memory_statistics();
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::unavailable(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let owner_lock = match opener {
            Opener::Owner => Some(take_owner_lock(data_dir)?),
            Opener::BesideOwner => None,
        };
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
                access_memory: (opener == Opener::Owner).then(AccessMemory::new),
                _owner_lock: owner_lock,
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
        self.write_then(change, |_| false).await
    }

    /// A write that can refuse a token accepted before (revocation, disabling, a role
    /// change): remembered access answers are forgotten once it commits.
    async fn write_revoking<T: Send + 'static>(
        &self,
        change: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.write_then(change, |_| true).await
    }

    /// `revoked` tells from the write's result whether it refused anything.
    async fn write_then<T: Send + 'static>(
        &self,
        change: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
        revoked: fn(&T) -> bool,
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
            let committed = transaction.commit().map_err(map_error);
            // Here on the blocking thread, not after the await: a caller that goes away
            // mid-write (a closed connection) must not leave a committed revocation
            // unannounced.
            if revoked(&value)
                && let Some(memory) = &inner.access_memory
            {
                memory.forget_all();
            }
            committed?;
            Ok(value)
        })
        .await
        .map_err(StoreError::unexpected)?
    }
}

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(0);

fn take_owner_lock(data_dir: &Path) -> StoreResult<File> {
    let path = data_dir.join(OWNER_LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::unavailable(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::unavailable(format!(
            "another Gatehouse server is using the embedded store in {}; one server per \
             embedded store (run several on MongoDB)",
            data_dir.display()
        ))),
        Err(TryLockError::Error(e)) => Err(StoreError::unavailable(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

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
    use crate::store::Store;

    #[tokio::test]
    async fn one_server_owns_the_store_and_operator_tasks_open_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let owner = SqliteStore::open(dir.path()).await.unwrap();
        let refused = SqliteStore::open(dir.path()).await.err().unwrap();
        assert!(
            matches!(&refused, StoreError::Unavailable(cause) if cause.to_string().contains("another Gatehouse server")),
            "{refused:?}"
        );
        let beside = SqliteStore::open_beside_owner(dir.path()).await.unwrap();
        beside.0.ping().await.unwrap();

        drop(owner);
        SqliteStore::open(dir.path()).await.unwrap();
    }

    /// Readers racing a revocation never see the token accepted once `revoke_jti` has
    /// returned: the remembered answers are exact, not eventually right.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_read_after_a_revocation_returned_accepts_the_token() {
        use std::sync::atomic::AtomicBool;

        use app::model::Role;

        use crate::{
            domain::{PasswordHashString, RefreshHash},
            store::{NewSession, NewUser},
        };

        const NOW: i64 = 1_800_000_000;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        store
            .create_user(NewUser {
                id: "u1".into(),
                username: "ada".into(),
                username_key: "ada".into(),
                email: None,
                password_hash: PasswordHashString::from_phc("$argon2id$x".into()),
                role: Role::User,
                created_at: NOW,
            })
            .await
            .unwrap();
        store
            .create_session(NewSession {
                id: "s1".into(),
                user_id: "u1".into(),
                refresh_hash: RefreshHash::of_issued("rt_race"),
                created_at: NOW,
                expires_at: NOW + 3600,
                user_agent: None,
                ip: None,
            })
            .await
            .unwrap();

        for round in 0..100 {
            let jti: Arc<str> = format!("jti-{round}").into();
            // An accepted answer is remembered first: the one a stale memory would repeat.
            let before = store.access_status(&jti, "s1", "u1", NOW).await.unwrap();
            assert!(!before.unwrap().jti_revoked);
            let returned = Arc::new(AtomicBool::new(false));
            let readers: Vec<_> = (0..3)
                .map(|_| {
                    let (store, jti, returned) = (store.clone(), jti.clone(), returned.clone());
                    tokio::spawn(async move {
                        let (mut accepted_after_return, mut reads_after_return) = (0, 0);
                        // Bounded: a reader stops after 20 reads that began after the
                        // revocation returned, or after 100,000 reads in all.
                        for _ in 0..100_000 {
                            let began_after_return = returned.load(Ordering::Acquire);
                            let status = store.access_status(&jti, "s1", "u1", NOW).await;
                            let revoked = status.unwrap().unwrap().jti_revoked;
                            if began_after_return {
                                reads_after_return += 1;
                                accepted_after_return += u32::from(!revoked);
                                if reads_after_return == 20 {
                                    break;
                                }
                            }
                            tokio::task::yield_now().await;
                        }
                        (accepted_after_return, reads_after_return)
                    })
                })
                .collect();
            store.revoke_jti(&jti, NOW + 900).await.unwrap();
            returned.store(true, Ordering::Release);
            for reader in readers {
                let (accepted_after_return, reads_after_return) = reader.await.unwrap();
                assert_eq!(
                    reads_after_return, 20,
                    "round {round}: the reader stopped early"
                );
                assert_eq!(
                    accepted_after_return, 0,
                    "round {round}: a revoked token passed"
                );
            }
        }
    }
}
