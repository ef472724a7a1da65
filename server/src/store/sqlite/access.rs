//! The access check's lookup and the revocation log on SQLite. The lookup runs on the
//! calling thread (see the module above).

use super::SqliteStore;
use crate::store::{AccessFacts, AccessStore, LocalRevocations, StoreResult, UserFacts};
use app::model::Role;
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

#[async_trait]
impl AccessStore for SqliteStore {
    async fn access_facts(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<AccessFacts>> {
        self.inner.read_here(|db| {
            db.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?1),
                        s.revoked_at IS NOT NULL, s.expires_at,
                        u.disabled, u.role, u.username,
                        u.email, u.email_verified, u.created_at, s.second_factor
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.id = ?2 AND u.id = ?3",
            )?
            .query_row(params![jti, session_id, user_id], |row| {
                let role: String = row.get(4)?;
                Ok(AccessFacts {
                    jti_revoked: row.get(0)?,
                    session_revoked: row.get(1)?,
                    session_expires_at: row.get(2)?,
                    session_second_factor: row.get(9)?,
                    user_disabled: row.get(3)?,
                    // An unknown role grants nothing beyond a plain user's rights.
                    role: Role::parse(&role).unwrap_or(Role::User),
                    username: row.get(5)?,
                    user: UserFacts {
                        email: row.get(6)?,
                        email_verified: row.get(7)?,
                        created_at: row.get(8)?,
                    },
                })
            })
            .optional()
        })
    }

    async fn revocation_position(&self) -> StoreResult<Option<u64>> {
        // One transaction writes and logs, so no write is ever under way here.
        self.inner.read_here(|db| {
            db.prepare_cached("SELECT coalesce(max(position), 0) FROM revocation_log")?
                .query_row([], |row| row.get::<_, i64>(0))
                .map(|position| Some(position.max(0) as u64))
        })
    }

    fn local_revocations(&self) -> &LocalRevocations {
        &self.inner.local_revocations
    }
}
