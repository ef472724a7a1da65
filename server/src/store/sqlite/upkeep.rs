//! Purging and readiness on SQLite.

use super::SqliteStore;
use super::rows::map_error;
use crate::store::{StoreResult, Upkeep, codes::SPENT_CODE_MEMORY_SECS};
use async_trait::async_trait;

#[async_trait]
impl Upkeep for SqliteStore {
    async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
        self.write_then(
            move |tx| {
                let mut removed = 0;
                for statement in [
                    "DELETE FROM mail_links WHERE expires_at <= ?1",
                    "DELETE FROM revoked_tokens WHERE expires_at <= ?1",
                    "DELETE FROM refresh_tokens WHERE expires_at <= ?1",
                    "DELETE FROM sessions WHERE expires_at <= ?1",
                ] {
                    removed += tx.execute(statement, [now]).map_err(map_error)? as u64;
                }
                // The newest entry stays: it holds the position every instance compares.
                // Entries carry the wall clock's time, as written: judged by it too.
                tx.execute(
                    "DELETE FROM revocation_log WHERE at <= unixepoch() - ?1
                     AND position < (SELECT max(position) FROM revocation_log)",
                    [REVOCATION_LOG_RETENTION_SECS],
                )
                .map_err(map_error)?;
                // Tickets refuse no token: their removal alone is no revocation.
                let mut tickets = 0;
                for statement in [
                    "DELETE FROM step_up_tickets WHERE expires_at <= ?1",
                    "DELETE FROM passkey_ceremonies WHERE expires_at <= ?1",
                    "DELETE FROM sign_in_attempts WHERE expires_at <= ?1",
                ] {
                    tickets += tx.execute(statement, [now]).map_err(map_error)? as u64;
                }
                tickets += tx
                    .execute(
                        "DELETE FROM authorization_codes WHERE expires_at <= ?1",
                        [now - SPENT_CODE_MEMORY_SECS],
                    )
                    .map_err(map_error)? as u64;
                Ok((removed, tickets))
            },
            |(removed, _)| (*removed > 0).then_some("purge"),
        )
        .await
        .map(|(removed, tickets)| removed + tickets)
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|db| db.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }
}

/// Long enough for any instance that was merely slow to have read past an entry; the
/// newest entry is kept whatever its age.
const REVOCATION_LOG_RETENTION_SECS: i64 = 24 * 3600;
