//! Row mapping and the small queries several operations share.

use app::model::Role;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, params};

use crate::{
    domain::{PasswordHashString, WaysOff},
    store::{ClientGrant, NewUser, SessionRecord, StoreError, StoreResult, UserRecord},
};

/// Maps SQLite's own result codes, never its message text.
pub(super) fn map_error(error: rusqlite::Error) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
            ErrorCode::ConstraintViolation => StoreError::Conflict("already exists"),
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::OutOfMemory
            | ErrorCode::ReadOnly => StoreError::unavailable(error),
            _ => StoreError::unexpected(error),
        },
        _ => StoreError::unexpected(error),
    }
}

pub(super) const USER_COLUMNS: &str = "id, username, username_key, email, password_hash, role, disabled, created_at, email_verified, ways_off";
pub(super) const SESSION_COLUMNS: &str = "id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip, client_id, scope";

pub(super) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    let role: String = row.get(5)?;
    Ok(UserRecord {
        id: row.get(0)?,
        username: row.get(1)?,
        username_key: row.get(2)?,
        email: row.get(3)?,
        password_hash: Some(row.get::<_, String>(4)?)
            .filter(|phc| !phc.is_empty())
            .map(PasswordHashString::from_phc),
        role: Role::parse(&role).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                5,
                rusqlite::types::Type::Text,
                format!("unknown role {role:?}").into(),
            )
        })?,
        disabled: row.get(6)?,
        created_at: row.get(7)?,
        email_verified: row.get(8)?,
        ways_off: WaysOff::from_stored(&row.get::<_, String>(9)?),
    })
}

pub(super) fn session_from_row(row: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id: row.get(0)?,
        user_id: row.get(1)?,
        created_at: row.get(2)?,
        last_used_at: row.get(3)?,
        expires_at: row.get(4)?,
        revoked_at: row.get(5)?,
        user_agent: row.get(6)?,
        ip: row.get(7)?,
        grant: match (
            row.get::<_, Option<String>>(8)?,
            row.get::<_, Option<String>>(9)?,
        ) {
            (Some(client_id), Some(scope)) => Some(ClientGrant { client_id, scope }),
            _ => None,
        },
    })
}

pub(super) fn user_by_id_in(
    connection: &Connection,
    id: &str,
) -> rusqlite::Result<Option<UserRecord>> {
    connection
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], user_from_row)
        .optional()
}

pub(super) fn session_by_id_in(
    connection: &Connection,
    id: &str,
) -> rusqlite::Result<Option<SessionRecord>> {
    connection
        .prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
        ))?
        .query_row([id], session_from_row)
        .optional()
}

pub(super) fn insert_user(
    transaction: &rusqlite::Transaction<'_>,
    user: &NewUser,
) -> StoreResult<()> {
    transaction
        .prepare_cached(
            "INSERT INTO users (id, username, username_key, email, email_key, password_hash, role, disabled, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
        )
        .and_then(|mut statement| {
            statement.execute(params![
                user.id,
                user.username,
                user.username_key,
                user.email.as_ref().map(|email| &email.address),
                user.email.as_ref().map(|email| &email.key),
                password_column(user.password_hash.as_ref()),
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

/// An account without a password is stored as an empty hash: the column was made NOT
/// NULL before such accounts existed, and SQLite relaxes that only by rebuilding `users`,
/// which every other table references. No PHC string is empty, so nothing verifies it.
pub(super) fn password_column(hash: Option<&PasswordHashString>) -> &str {
    hash.map_or("", PasswordHashString::as_str)
}

/// `COUNT(*)` is an SQLite integer (i64); counts are never negative.
pub(super) fn count(row: &Row<'_>) -> rusqlite::Result<u64> {
    Ok(row.get::<_, i64>(0)?.max(0) as u64)
}

pub(super) fn active_admins(connection: &Connection) -> rusqlite::Result<u64> {
    connection.query_row(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0",
        [],
        count,
    )
}

pub(super) fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// SQLite's integers are signed, and a negative OFFSET means none at all: a count past
/// `i64::MAX` stays there instead of wrapping to the first page.
pub(super) fn sql_int(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
