//! Refresh-token rotation and reuse detection, decided in one write transaction.

use rusqlite::{OptionalExtension, Transaction, params};

use super::rows::{map_error, session_by_id_in, user_by_id_in};
use crate::{
    domain::RefreshHash,
    store::{Rotation, StoreError, StoreResult},
};

/// If `presented` is the session's current token (session and user live), supersede it
/// with `successor`; if it was superseded already, revoke the whole session.
pub(super) fn rotate_in(
    tx: &Transaction<'_>,
    presented: &RefreshHash,
    successor: &RefreshHash,
    now: i64,
    new_expires_at: i64,
) -> StoreResult<Rotation> {
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
    if revoked_at.is_some() || disabled || token_expires <= now || session_expires <= now {
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
}
