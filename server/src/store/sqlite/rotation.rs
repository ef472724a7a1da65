//! Refresh-token rotation and reuse detection, decided in one write transaction.

use rusqlite::{OptionalExtension, Transaction, params};

use super::rows::{map_error, session_by_id_in, user_by_id_in};
use crate::{
    domain::RefreshHash,
    store::{Rotation, StoreError, StoreResult},
};

/// If `presented` is the session's current token (session and user live), supersede it
/// with `successor`; if it was superseded within the grace by that same successor, which
/// is still current, answer as the rotation did; if it was superseded otherwise, revoke
/// the whole session.
pub(super) fn rotate_in(
    tx: &Transaction<'_>,
    presented: &RefreshHash,
    successor: &RefreshHash,
    now: i64,
    new_expires_at: i64,
    grace_secs: i64,
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
    let session_live = revoked_at.is_none() && !disabled && session_expires > now;
    if let Some(superseded_at) = superseded_at {
        if grace_secs > 0
            && session_live
            && superseded_at >= now - grace_secs
            && is_current(tx, successor, &session_id, now)?
        {
            return rotated(tx, &session_id, &user_id);
        }
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
    if !session_live || token_expires <= now {
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
    rotated(tx, &session_id, &user_id)
}

/// Whether `hash` is the session's current (unsuperseded, unexpired) refresh token.
fn is_current(
    tx: &Transaction<'_>,
    hash: &RefreshHash,
    session_id: &str,
    now: i64,
) -> StoreResult<bool> {
    tx.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE hash = ?1 AND session_id = ?2
                        AND superseded_at IS NULL AND expires_at > ?3)",
    )
    .and_then(|mut statement| {
        statement.query_row(params![hash.as_str(), session_id, now], |row| row.get(0))
    })
    .map_err(map_error)
}

fn rotated(tx: &Transaction<'_>, session_id: &str, user_id: &str) -> StoreResult<Rotation> {
    let session = session_by_id_in(tx, session_id)
        .map_err(map_error)?
        .ok_or(StoreError::NotFound)?;
    let user = user_by_id_in(tx, user_id)
        .map_err(map_error)?
        .ok_or(StoreError::NotFound)?;
    Ok(Rotation::Rotated {
        session: Box::new(session),
        user: Box::new(user),
    })
}
