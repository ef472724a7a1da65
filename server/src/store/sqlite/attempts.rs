//! Sign-in attempts on SQLite: read, count and write back in one IMMEDIATE transaction,
//! which serializes every process on the file.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::rows::map_error;
use crate::store::{AttemptCount, AttemptRule, AttemptStore, Reservation, StoreResult};

#[async_trait]
impl AttemptStore for SqliteStore {
    async fn reserve_attempt(
        &self,
        key: &str,
        rule: &AttemptRule,
        now: i64,
    ) -> StoreResult<Reservation> {
        let (key, rule) = (key.to_owned(), *rule);
        self.write(move |tx| {
            let current = count_in(tx, &key).map_err(map_error)?.unwrap_or_default();
            match rule.reserve(current, now) {
                Ok(next) => {
                    save(tx, &key, &next, rule.expires_at(&next)).map_err(map_error)?;
                    Ok(Reservation::Granted {
                        previous_blocked_until: current.blocked_until,
                    })
                }
                Err(refused) => Ok(refused),
            }
        })
        .await
    }

    async fn release_attempt(
        &self,
        key: &str,
        rule: &AttemptRule,
        previous_blocked_until: i64,
    ) -> StoreResult<()> {
        let (key, rule) = (key.to_owned(), *rule);
        self.write(move |tx| {
            if let Some(current) = count_in(tx, &key).map_err(map_error)? {
                let next = rule.release(current, previous_blocked_until);
                save(tx, &key, &next, rule.expires_at(&next)).map_err(map_error)?;
            }
            Ok(())
        })
        .await
    }

    async fn clear_attempts(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(move |tx| {
            tx.execute("DELETE FROM sign_in_attempts WHERE key = ?1", [&key])
                .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    async fn attempts_of(&self, key: &str) -> StoreResult<Option<AttemptCount>> {
        let key = key.to_owned();
        self.read(move |db| count_in(db, &key)).await
    }
}

fn count_in(db: &rusqlite::Connection, key: &str) -> rusqlite::Result<Option<AttemptCount>> {
    db.prepare_cached(
        "SELECT run, total, last_at, blocked_until FROM sign_in_attempts WHERE key = ?1",
    )?
    .query_row([key], |row| {
        Ok(AttemptCount {
            run: row.get(0)?,
            total: row.get(1)?,
            last_at: row.get(2)?,
            blocked_until: row.get(3)?,
        })
    })
    .optional()
}

fn save(
    db: &rusqlite::Connection,
    key: &str,
    count: &AttemptCount,
    expires_at: Option<i64>,
) -> rusqlite::Result<usize> {
    db.prepare_cached(
        "INSERT INTO sign_in_attempts (key, run, total, last_at, blocked_until, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (key) DO UPDATE SET run = excluded.run, total = excluded.total,
             last_at = excluded.last_at, blocked_until = excluded.blocked_until,
             expires_at = excluded.expires_at",
    )?
    .execute(params![
        key,
        count.run,
        count.total,
        count.last_at,
        count.blocked_until,
        expires_at
    ])
}
