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

use app::model::Role;
use async_trait::async_trait;
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Row, TransactionBehavior, params,
};

use super::{
    AccessStatus, AuditQuery, AuditRecord, NewAuditEvent, NewSession, NewUser, Page, Rotation,
    SessionRecord, Store, StoreError, StoreResult, StoredSigningKey, UserChange, UserQuery,
    UserRecord,
};
use crate::{
    auth::{password::PasswordHashString, token::RefreshHash},
    sharded::ShardedMap,
};

const DATABASE_FILE: &str = "gatehouse.sqlite3";
const OWNER_LOCK_FILE: &str = "gatehouse.lock";
const MAX_IDLE_READERS: usize = 8;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Each entry moves the schema one version forward; `PRAGMA user_version` says where a
/// database stands. Never edit an entry once released: append a new one.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL UNIQUE,
    email         TEXT,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    user_agent   TEXT,
    ip           TEXT
);
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);
CREATE TABLE refresh_tokens (
    hash          TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    superseded_at INTEGER,
    expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_by_session ON refresh_tokens(session_id);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens(expires_at);
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens(expires_at);
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    user_id    TEXT,
    username   TEXT,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT
);
CREATE INDEX audit_events_by_time ON audit_events(at);
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL UNIQUE,
    private_der BLOB NOT NULL,
    public_raw  BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
"#];

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

/// `access_status` answers this process already read, valid while no write that could
/// change them has committed since.
struct AccessMemory {
    generation: AtomicU64,
    answers: ShardedMap<RememberedAccess>,
}

#[derive(Clone)]
struct RememberedAccess {
    generation: u64,
    session_id: Box<str>,
    user_id: Box<str>,
    jti_revoked: bool,
    session_revoked: bool,
    /// Kept rather than judged: expiry depends on `now`, and a rotation can extend it.
    session_expires_at: i64,
    user_disabled: bool,
    role: Role,
    username: String,
}

/// Bounds memory at roughly 64k remembered tokens (a few MB).
const REMEMBERED_PER_SHARD: usize = 4_096;

impl AccessMemory {
    fn new() -> Self {
        AccessMemory {
            generation: AtomicU64::new(0),
            answers: ShardedMap::new(REMEMBERED_PER_SHARD),
        }
    }

    /// Called after the commit of any write that could refuse a token accepted before.
    fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    fn current_generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn recall(&self, jti: &str, session_id: &str, user_id: &str, now: i64) -> Option<AccessStatus> {
        let remembered = self.answers.get(jti)?;
        let still_valid = remembered.generation == self.current_generation()
            && *remembered.session_id == *session_id
            && *remembered.user_id == *user_id
            // An expiry in the past may have been extended by a rotation since: ask again.
            && remembered.session_expires_at > now;
        still_valid.then_some(AccessStatus {
            jti_revoked: remembered.jti_revoked,
            session_active: !remembered.session_revoked,
            user_disabled: remembered.user_disabled,
            role: remembered.role,
            username: remembered.username,
        })
    }
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
    pub async fn open_beside_owner(data_dir: &Path) -> StoreResult<SqliteStore> {
        Self::open_as(data_dir, Opener::BesideOwner).await
    }

    async fn open_as(data_dir: &Path, opener: Opener) -> StoreResult<SqliteStore> {
        let data_dir = data_dir.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&data_dir, opener))
            .await
            .map_err(|e| StoreError::Unexpected(e.to_string()))?
    }

    fn open_blocking(data_dir: &Path, opener: Opener) -> StoreResult<SqliteStore> {
        disable_memory_statistics();
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", data_dir.display()))
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
        .map_err(|e| StoreError::Unexpected(e.to_string()))?
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
                .map_err(|_| StoreError::Unexpected("the writer lock is poisoned".into()))?;
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
        .map_err(|e| StoreError::Unexpected(e.to_string()))?
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
        .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::Unavailable(format!(
            "another Gatehouse server is using the embedded store in {}; one server per \
             embedded store (run several on MongoDB)",
            data_dir.display()
        ))),
        Err(TryLockError::Error(e)) => Err(StoreError::Unavailable(format!(
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

fn migrate(connection: &mut Connection) -> StoreResult<()> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_error)?;
    let version = transaction
        .query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))
        .map_err(map_error)?
        .max(0) as usize;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Unexpected(format!(
            "the database schema (version {version}) is newer than this server knows"
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version) {
        transaction.execute_batch(migration).map_err(map_error)?;
        transaction
            .pragma_update(None, "user_version", (index + 1) as i64)
            .map_err(map_error)?;
        tracing::info!(version = index + 1, "migrated the embedded store");
    }
    transaction.commit().map_err(map_error)
}

/// Maps SQLite's own result codes, never its message text.
fn map_error(error: rusqlite::Error) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
            ErrorCode::ConstraintViolation => StoreError::Conflict("already exists"),
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::OutOfMemory
            | ErrorCode::ReadOnly => StoreError::Unavailable(error.to_string()),
            _ => StoreError::Unexpected(error.to_string()),
        },
        _ => StoreError::Unexpected(error.to_string()),
    }
}

const USER_COLUMNS: &str =
    "id, username, username_key, email, password_hash, role, disabled, created_at";
const SESSION_COLUMNS: &str =
    "id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    let role: String = row.get(5)?;
    Ok(UserRecord {
        id: row.get(0)?,
        username: row.get(1)?,
        username_key: row.get(2)?,
        email: row.get(3)?,
        password_hash: PasswordHashString::from_stored(row.get(4)?),
        role: Role::parse(&role).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                5,
                rusqlite::types::Type::Text,
                format!("unknown role {role:?}").into(),
            )
        })?,
        disabled: row.get(6)?,
        created_at: row.get(7)?,
    })
}

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id: row.get(0)?,
        user_id: row.get(1)?,
        created_at: row.get(2)?,
        last_used_at: row.get(3)?,
        expires_at: row.get(4)?,
        revoked_at: row.get(5)?,
        user_agent: row.get(6)?,
        ip: row.get(7)?,
    })
}

fn user_by_id_in(connection: &Connection, id: &str) -> rusqlite::Result<Option<UserRecord>> {
    connection
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], user_from_row)
        .optional()
}

fn session_by_id_in(connection: &Connection, id: &str) -> rusqlite::Result<Option<SessionRecord>> {
    connection
        .prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
        ))?
        .query_row([id], session_from_row)
        .optional()
}

fn insert_user(transaction: &rusqlite::Transaction<'_>, user: &NewUser) -> StoreResult<()> {
    transaction
        .prepare_cached(
            "INSERT INTO users (id, username, username_key, email, password_hash, role, disabled, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)",
        )
        .and_then(|mut statement| {
            statement.execute(params![
                user.id,
                user.username,
                user.username_key,
                user.email,
                user.password_hash.as_str(),
                user.role.as_str(),
                user.created_at,
            ])
        })
        .map_err(|error| match map_error(error) {
            StoreError::Conflict(_) => StoreError::Conflict("username"),
            other => other,
        })?;
    Ok(())
}

/// `COUNT(*)` is an SQLite integer (i64); counts are never negative.
fn count(row: &Row<'_>) -> rusqlite::Result<u64> {
    Ok(row.get::<_, i64>(0)?.max(0) as u64)
}

fn active_admins(connection: &Connection) -> rusqlite::Result<u64> {
    connection.query_row(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0",
        [],
        count,
    )
}

fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<UserRecord> {
        self.write(move |tx| {
            insert_user(tx, &user)?;
            user_by_id_in(tx, &user.id)
                .map_err(map_error)?
                .ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn create_first_admin(&self, user: NewUser) -> StoreResult<Option<UserRecord>> {
        self.write(move |tx| {
            let admins = tx
                .query_row("SELECT COUNT(*) FROM users WHERE role = 'admin'", [], count)
                .map_err(map_error)?;
            if admins > 0 {
                return Ok(None);
            }
            let admin = NewUser {
                role: Role::Admin,
                ..user
            };
            insert_user(tx, &admin)?;
            user_by_id_in(tx, &admin.id).map_err(map_error)
        })
        .await
    }

    async fn user_by_username_key(&self, key: &str) -> StoreResult<Option<UserRecord>> {
        let key = key.to_owned();
        self.read(move |db| {
            db.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE username_key = ?1"
            ))?
            .query_row([key], user_from_row)
            .optional()
        })
        .await
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRecord>> {
        let id = id.to_owned();
        self.read(move |db| user_by_id_in(db, &id)).await
    }

    async fn set_password_hash(&self, user_id: &str, hash: &PasswordHashString) -> StoreResult<()> {
        let (user_id, hash) = (user_id.to_owned(), hash.as_str().to_owned());
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                    params![user_id, hash],
                )
                .map_err(map_error)?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn list_users(&self, query: &UserQuery) -> StoreResult<Page<UserRecord>> {
        let pattern = format!(
            "%{}%",
            escape_like(&query.search.clone().unwrap_or_default().to_lowercase())
        );
        let (limit, offset) = (query.limit as i64, query.offset as i64);
        self.read(move |db| {
            let total: u64 = db
                .prepare_cached(
                    "SELECT COUNT(*) FROM users WHERE username_key LIKE ?1 ESCAPE '\\'",
                )?
                .query_row([&pattern], count)?;
            let items = db
                .prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE username_key LIKE ?1 ESCAPE '\\'
                     ORDER BY created_at, id LIMIT ?2 OFFSET ?3"
                ))?
                .query_map(params![pattern, limit, offset], user_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Page { items, total })
        })
        .await
    }

    async fn update_user(&self, user_id: &str, change: &UserChange) -> StoreResult<UserRecord> {
        let (user_id, change) = (user_id.to_owned(), change.clone());
        self.write_revoking(move |tx| {
            let user = user_by_id_in(tx, &user_id)
                .map_err(map_error)?
                .ok_or(StoreError::NotFound)?;
            let role = change.role.unwrap_or(user.role);
            let disabled = change.disabled.unwrap_or(user.disabled);
            let was_active_admin = user.role == Role::Admin && !user.disabled;
            let stays_active_admin = role == Role::Admin && !disabled;
            if was_active_admin && !stays_active_admin && active_admins(tx).map_err(map_error)? <= 1
            {
                return Err(StoreError::LastAdmin);
            }
            tx.execute(
                "UPDATE users SET role = ?2, disabled = ?3 WHERE id = ?1",
                params![user_id, role.as_str(), disabled],
            )
            .map_err(map_error)?;
            user_by_id_in(tx, &user_id)
                .map_err(map_error)?
                .ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)",
                params![
                    session.id,
                    session.user_id,
                    session.created_at,
                    session.expires_at,
                    session.user_agent,
                    session.ip
                ],
            )
            .map_err(map_error)?;
            tx.execute(
                "INSERT INTO refresh_tokens (hash, session_id, expires_at) VALUES (?1, ?2, ?3)",
                params![session.refresh_hash.as_str(), session.id, session.expires_at],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn rotate_refresh(
        &self,
        presented: &RefreshHash,
        successor: &RefreshHash,
        now: i64,
        new_expires_at: i64,
    ) -> StoreResult<Rotation> {
        let (presented, successor) = (presented.clone(), successor.clone());
        // Only a replay revokes. A successful rotation just extends the session, which
        // a remembered answer already allows for (see `AccessMemory::recall`).
        self.write_then(
            move |tx| {
                let found = tx
                .prepare_cached(
                    "SELECT t.session_id, t.superseded_at, t.expires_at, s.user_id, s.revoked_at,
                            s.expires_at, u.disabled
                     FROM refresh_tokens t
                     JOIN sessions s ON s.id = t.session_id
                     JOIN users u ON u.id = s.user_id
                     WHERE t.hash = ?1",
                )
                .and_then(|mut statement| {
                    statement
                        .query_row([presented.as_str()], |row| {
                            Ok((
                                row.get::<_, String>(0)?,
                                row.get::<_, Option<i64>>(1)?,
                                row.get::<_, i64>(2)?,
                                row.get::<_, String>(3)?,
                                row.get::<_, Option<i64>>(4)?,
                                row.get::<_, i64>(5)?,
                                row.get::<_, bool>(6)?,
                            ))
                        })
                        .optional()
                })
                .map_err(map_error)?;
                let Some((
                    session_id,
                    superseded_at,
                    token_expires,
                    user_id,
                    revoked_at,
                    session_expires,
                    disabled,
                )) = found
                else {
                    return Ok(Rotation::Invalid);
                };
                if superseded_at.is_some() {
                    tx.execute(
                        "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                        params![session_id, now],
                    )
                    .map_err(map_error)?;
                    return Ok(Rotation::Reused {
                        session_id,
                        user_id,
                    });
                }
                if revoked_at.is_some()
                    || disabled
                    || token_expires <= now
                    || session_expires <= now
                {
                    return Ok(Rotation::Invalid);
                }
                tx.execute(
                    "UPDATE refresh_tokens SET superseded_at = ?2 WHERE hash = ?1",
                    params![presented.as_str(), now],
                )
                .map_err(map_error)?;
                tx.execute(
                    "INSERT INTO refresh_tokens (hash, session_id, expires_at) VALUES (?1, ?2, ?3)",
                    params![successor.as_str(), session_id, new_expires_at],
                )
                .map_err(map_error)?;
                tx.execute(
                    "UPDATE sessions SET last_used_at = ?2, expires_at = ?3 WHERE id = ?1",
                    params![session_id, now, new_expires_at],
                )
                .map_err(map_error)?;
                let session = session_by_id_in(tx, &session_id)
                    .map_err(map_error)?
                    .ok_or(StoreError::NotFound)?;
                let user = user_by_id_in(tx, &user_id)
                    .map_err(map_error)?
                    .ok_or(StoreError::NotFound)?;
                Ok(Rotation::Rotated {
                    session: Box::new(session),
                    user: Box::new(user),
                })
            },
            |rotation| matches!(rotation, Rotation::Reused { .. }),
        )
        .await
    }

    async fn session_by_refresh(
        &self,
        presented: &RefreshHash,
        now: i64,
    ) -> StoreResult<Option<SessionRecord>> {
        let presented = presented.clone();
        self.read(move |db| {
            db.prepare_cached(
                "SELECT s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at,
                        s.user_agent, s.ip
                 FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
                 WHERE t.hash = ?1 AND t.superseded_at IS NULL AND t.expires_at > ?2
                   AND s.revoked_at IS NULL AND s.expires_at > ?2",
            )?
            .query_row(params![presented.as_str(), now], session_from_row)
            .optional()
        })
        .await
    }

    async fn list_sessions(&self, user_id: &str, now: i64) -> StoreResult<Vec<SessionRecord>> {
        let user_id = user_id.to_owned();
        self.read(move |db| {
            db.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions
                 WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2
                 ORDER BY created_at DESC, id"
            ))?
            .query_map(params![user_id, now], session_from_row)?
            .collect()
        })
        .await
    }

    async fn revoke_session(&self, user_id: &str, session_id: &str, now: i64) -> StoreResult<bool> {
        let (user_id, session_id) = (user_id.to_owned(), session_id.to_owned());
        self.write_revoking(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE sessions SET revoked_at = ?3
                     WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL AND expires_at > ?3",
                    params![session_id, user_id, now],
                )
                .map_err(map_error)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
    ) -> StoreResult<u64> {
        let (user_id, keep) = (user_id.to_owned(), keep.map(str::to_owned));
        self.write_revoking(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE sessions SET revoked_at = ?3
                     WHERE user_id = ?1 AND revoked_at IS NULL AND (?2 IS NULL OR id <> ?2)",
                    params![user_id, keep, now],
                )
                .map_err(map_error)?;
            Ok(changed as u64)
        })
        .await
    }

    async fn revoke_jti(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        let jti = jti.to_owned();
        self.write_revoking(move |tx| {
            tx.execute(
                "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?1, ?2)
                 ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
                params![jti, expires_at],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn access_status(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
        now: i64,
    ) -> StoreResult<Option<AccessStatus>> {
        let memory = self.inner.access_memory.as_ref();
        if let Some(status) = memory.and_then(|m| m.recall(jti, session_id, user_id, now)) {
            return Ok(Some(status));
        }
        // Read before the lookup: a revocation committing during it makes this answer
        // stale at once, never remembered as current.
        let generation = memory.map(AccessMemory::current_generation);
        let found = self.inner.read_here(|db| {
            db.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?1),
                        s.revoked_at IS NOT NULL, s.expires_at,
                        u.disabled, u.role, u.username
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.id = ?2 AND u.id = ?3",
            )?
            .query_row(params![jti, session_id, user_id], |row| {
                let role: String = row.get(4)?;
                Ok(RememberedAccess {
                    generation: generation.unwrap_or_default(),
                    session_id: session_id.into(),
                    user_id: user_id.into(),
                    jti_revoked: row.get(0)?,
                    session_revoked: row.get(1)?,
                    session_expires_at: row.get(2)?,
                    user_disabled: row.get(3)?,
                    // An unknown role grants nothing beyond a plain user's rights.
                    role: Role::parse(&role).unwrap_or(Role::User),
                    username: row.get(5)?,
                })
            })
            .optional()
        })?;
        let Some(found) = found else {
            return Ok(None);
        };
        let status = AccessStatus {
            jti_revoked: found.jti_revoked,
            session_active: !found.session_revoked && found.session_expires_at > now,
            user_disabled: found.user_disabled,
            role: found.role,
            username: found.username.clone(),
        };
        if let Some(memory) = memory {
            memory.answers.insert(jti, found, |remembered| {
                Some(remembered.generation) == generation && remembered.session_expires_at > now
            });
        }
        Ok(Some(status))
    }

    async fn append_audit(&self, event: NewAuditEvent) -> StoreResult<()> {
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO audit_events (at, kind, user_id, username, ip, user_agent, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    event.at,
                    event.kind,
                    event.user_id,
                    event.username,
                    event.ip,
                    event.user_agent,
                    event.detail
                ])
            })
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditRecord>> {
        let query = query.clone();
        self.read(move |db| {
            let filter = "(?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR user_id = ?2)";
            let total: u64 = db
                .prepare_cached(&format!("SELECT COUNT(*) FROM audit_events WHERE {filter}"))?
                .query_row(params![query.kind, query.user_id], count)?;
            let items = db
                .prepare_cached(&format!(
                    "SELECT id, at, kind, user_id, username, ip, user_agent, detail
                     FROM audit_events WHERE {filter}
                     ORDER BY id DESC LIMIT ?3 OFFSET ?4"
                ))?
                .query_map(
                    params![
                        query.kind,
                        query.user_id,
                        query.limit as i64,
                        query.offset as i64
                    ],
                    |row| {
                        Ok(AuditRecord {
                            id: row.get(0)?,
                            at: row.get(1)?,
                            kind: row.get(2)?,
                            user_id: row.get(3)?,
                            username: row.get(4)?,
                            ip: row.get(5)?,
                            user_agent: row.get(6)?,
                            detail: row.get(7)?,
                        })
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Page { items, total })
        })
        .await
    }

    async fn signing_key_or_insert(
        &self,
        candidate: StoredSigningKey,
    ) -> StoreResult<StoredSigningKey> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO signing_keys (kid, algorithm, private_der, public_raw, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (algorithm) DO NOTHING",
                params![
                    candidate.kid,
                    candidate.algorithm,
                    candidate.private_der,
                    candidate.public_raw,
                    candidate.created_at
                ],
            )
            .map_err(map_error)?;
            tx.query_row(
                "SELECT kid, algorithm, private_der, public_raw, created_at
                 FROM signing_keys WHERE algorithm = ?1",
                [&candidate.algorithm],
                |row| {
                    Ok(StoredSigningKey {
                        kid: row.get(0)?,
                        algorithm: row.get(1)?,
                        private_der: row.get(2)?,
                        public_raw: row.get(3)?,
                        created_at: row.get(4)?,
                    })
                },
            )
            .map_err(map_error)
        })
        .await
    }

    async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
        self.write_revoking(move |tx| {
            let mut removed = 0;
            for statement in [
                "DELETE FROM revoked_tokens WHERE expires_at <= ?1",
                "DELETE FROM refresh_tokens WHERE expires_at <= ?1",
                "DELETE FROM sessions WHERE expires_at <= ?1",
            ] {
                removed += tx.execute(statement, [now]).map_err(map_error)? as u64;
            }
            Ok(removed)
        })
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|db| db.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_server_owns_the_store_and_operator_tasks_open_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let owner = SqliteStore::open(dir.path()).await.unwrap();
        let refused = SqliteStore::open(dir.path()).await.err().unwrap();
        assert!(
            matches!(&refused, StoreError::Unavailable(message) if message.contains("another Gatehouse server")),
            "{refused:?}"
        );
        let beside = SqliteStore::open_beside_owner(dir.path()).await.unwrap();
        beside.ping().await.unwrap();

        drop(owner);
        SqliteStore::open(dir.path()).await.unwrap();
    }
}
