//! Sessions and refresh tokens on SQLite: rotation runs in one write transaction
//! (`rotation.rs`); every revocation appends to the revocation log in the same one.

use super::rows::{SESSION_COLUMNS, map_error, session_from_row};
use super::{SqliteStore, rotation::rotate_in};
use crate::domain::{RefreshHash, SignInMethod};
use crate::store::{
    NewSession, Rotation, SessionAuthentication, SessionRecord, SessionStore, StoreResult,
};
use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, params, params_from_iter};

impl SqliteStore {
    /// Revokes the sessions `update` picks, logging the revocation in the same
    /// transaction when it touched any.
    async fn revoke_live_sessions(
        &self,
        update: &'static str,
        values: Vec<Value>,
    ) -> StoreResult<u64> {
        self.write_then(
            move |tx| {
                let changed = tx
                    .execute(update, params_from_iter(values))
                    .map_err(map_error)?;
                Ok(changed as u64)
            },
            |revoked| (*revoked > 0).then_some("sessions"),
        )
        .await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO sessions
                 (id, user_id, created_at, last_used_at, expires_at, user_agent, ip, second_factor,
                  client_id, scope, sign_in_method)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    session.id,
                    session.user_id,
                    session.created_at,
                    session.expires_at,
                    session.user_agent,
                    session.ip,
                    session.sign_in.is_multi_factor(),
                    session.grant.as_ref().map(|grant| &grant.client_id),
                    session.grant.as_ref().map(|grant| &grant.scope),
                    session.sign_in.stored()
                ],
            )
            .map_err(map_error)?;
            tx.execute(
                "INSERT INTO refresh_tokens (hash, session_id, expires_at) VALUES (?1, ?2, ?3)",
                params![
                    session.refresh_hash.as_str(),
                    session.id,
                    session.expires_at
                ],
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
        grace_secs: i64,
    ) -> StoreResult<Rotation> {
        let (presented, successor) = (presented.clone(), successor.clone());
        // Only a replay revokes. A successful rotation just extends the session, which
        // a remembered answer already allows for (it keeps the expiry, not a verdict).
        self.write_then(
            move |tx| rotate_in(tx, &presented, &successor, now, new_expires_at, grace_secs),
            |rotation| matches!(rotation, Rotation::Reused { .. }).then_some("reuse"),
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
                        s.user_agent, s.ip, s.client_id, s.scope
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
        self.write_then(
            move |tx| {
                let changed = tx
                    .execute(
                        "UPDATE sessions SET revoked_at = ?3
                         WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL AND expires_at > ?3",
                        params![session_id, user_id, now],
                    )
                    .map_err(map_error)?;
                Ok(changed > 0)
            },
            |revoked| revoked.then_some("session"),
        )
        .await
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
    ) -> StoreResult<u64> {
        self.revoke_live_sessions(
            "UPDATE sessions SET revoked_at = ?3
             WHERE user_id = ?1 AND revoked_at IS NULL AND (?2 IS NULL OR id <> ?2)",
            vec![
                user_id.to_owned().into(),
                keep.map(str::to_owned).into(),
                now.into(),
            ],
        )
        .await
    }

    async fn revoke_client_sessions(&self, client_id: &str, now: i64) -> StoreResult<u64> {
        self.revoke_live_sessions(
            "UPDATE sessions SET revoked_at = ?2 WHERE client_id = ?1 AND revoked_at IS NULL",
            vec![client_id.to_owned().into(), now.into()],
        )
        .await
    }

    async fn session_authentication(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<Option<SessionAuthentication>> {
        let (user_id, session_id) = (user_id.to_owned(), session_id.to_owned());
        self.read(move |db| {
            db.prepare_cached(
                "SELECT COALESCE(authenticated_at, created_at), sign_in_method, second_factor
                 FROM sessions
                 WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL AND expires_at > ?3",
            )?
            .query_row(params![session_id, user_id, now], |row| {
                Ok(SessionAuthentication {
                    at: row.get(0)?,
                    method: SignInMethod::from_stored(
                        row.get::<_, Option<String>>(1)?.as_deref(),
                        row.get(2)?,
                    ),
                })
            })
            .optional()
        })
        .await
    }

    async fn mark_session_authenticated(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let (user_id, session_id) = (user_id.to_owned(), session_id.to_owned());
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE sessions
                     SET authenticated_at = max(COALESCE(authenticated_at, created_at), ?3)
                     WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL AND expires_at > ?3",
                    params![session_id, user_id, now],
                )
                .map_err(map_error)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn revoke_jti(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        let jti = jti.to_owned();
        self.write_revoking("token", move |tx| {
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

    async fn jti_revoked(&self, jti: &str) -> StoreResult<bool> {
        let jti = jti.to_owned();
        self.read(move |db| {
            db.prepare_cached("SELECT 1 FROM revoked_tokens WHERE jti = ?1")?
                .query_row(params![jti], |_| Ok(()))
                .optional()
                .map(|found| found.is_some())
        })
        .await
    }
}
