//! Passkeys and passkey ceremonies on SQLite: the credential id is the primary key,
//! so a credential belongs to one account.

use super::SqliteStore;
use super::rows::{count, insert_user, map_error, user_by_id_in};
use crate::domain::TicketHash;
use crate::store::{
    CeremonyPurpose, CeremonyRecord, NewCeremony, NewPasskey, NewUser, PasskeyRecord,
    PasskeyRemoval, PasskeyStore, StoreError, StoreResult, UserRecord,
};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

#[async_trait]
impl PasskeyStore for SqliteStore {
    async fn add_passkey(&self, passkey: NewPasskey) -> StoreResult<()> {
        self.write(move |tx| insert_passkey(tx, &passkey)).await
    }

    async fn create_user_with_passkey(
        &self,
        user: NewUser,
        passkey: NewPasskey,
    ) -> StoreResult<UserRecord> {
        self.write(move |tx| {
            insert_user(tx, &user)?;
            insert_passkey(tx, &passkey)?;
            user_by_id_in(tx, &user.id)
                .map_err(map_error)?
                .ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn remove_passkey_unless_last(
        &self,
        user_id: &str,
        credential_id: &str,
    ) -> StoreResult<PasskeyRemoval> {
        let (user_id, credential_id) = (user_id.to_owned(), credential_id.to_owned());
        self.write(move |tx| {
            let passkeys = tx
                .query_row(
                    "SELECT COUNT(*) FROM passkeys WHERE user_id = ?1",
                    [&user_id],
                    count,
                )
                .map_err(map_error)?;
            let owned = tx
                .query_row(
                    "SELECT COUNT(*) FROM passkeys WHERE user_id = ?1 AND credential_id = ?2",
                    params![user_id, credential_id],
                    count,
                )
                .map_err(map_error)?;
            if owned == 0 {
                return Ok(PasskeyRemoval::NoSuchPasskey);
            }
            if passkeys <= 1 {
                return Ok(PasskeyRemoval::KeptAsLast);
            }
            tx.execute(
                "DELETE FROM passkeys WHERE user_id = ?1 AND credential_id = ?2",
                params![user_id, credential_id],
            )
            .map_err(map_error)?;
            Ok(PasskeyRemoval::Removed)
        })
        .await
    }

    async fn passkeys_of(&self, user_id: &str) -> StoreResult<Vec<PasskeyRecord>> {
        let user_id = user_id.to_owned();
        self.read(move |db| {
            db.prepare_cached(&format!(
                "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = ?1
                 ORDER BY created_at, credential_id"
            ))?
            .query_map([user_id], passkey_from_row)?
            .collect()
        })
        .await
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRecord>> {
        let credential_id = credential_id.to_owned();
        self.read(move |db| {
            db.prepare_cached(&format!(
                "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = ?1"
            ))?
            .query_row([credential_id], passkey_from_row)
            .optional()
        })
        .await
    }

    async fn record_passkey_use(
        &self,
        credential_id: &str,
        passkey: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let (credential_id, passkey) = (credential_id.to_owned(), passkey.to_owned());
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE passkeys SET passkey = ?2, last_used_at = ?3 WHERE credential_id = ?1",
                    params![credential_id, passkey, now],
                )
                .map_err(map_error)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn rename_passkey(
        &self,
        user_id: &str,
        credential_id: &str,
        name: &str,
    ) -> StoreResult<bool> {
        let (user_id, credential_id, name) = (
            user_id.to_owned(),
            credential_id.to_owned(),
            name.to_owned(),
        );
        self.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE passkeys SET name = ?3 WHERE credential_id = ?2 AND user_id = ?1",
                    params![user_id, credential_id, name],
                )
                .map_err(map_error)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn remove_passkeys(
        &self,
        user_id: &str,
        credential_id: Option<&str>,
    ) -> StoreResult<u64> {
        let (user_id, credential_id) = (user_id.to_owned(), credential_id.map(str::to_owned));
        self.write(move |tx| {
            let removed = tx
                .execute(
                    "DELETE FROM passkeys WHERE user_id = ?1 AND (?2 IS NULL OR credential_id = ?2)",
                    params![user_id, credential_id],
                )
                .map_err(map_error)?;
            Ok(removed as u64)
        })
        .await
    }

    async fn create_ceremony(&self, ceremony: NewCeremony) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO passkey_ceremonies (hash, user_id, purpose, state, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    ceremony.hash.as_str(),
                    ceremony.user_id,
                    ceremony.purpose.as_str(),
                    ceremony.state,
                    ceremony.created_at,
                    ceremony.expires_at
                ],
            )
            .map_err(map_error)?;
            Ok(())
        })
        .await
    }

    /// Deleting the row is what uses it: inside the write transaction, only one caller can.
    async fn take_ceremony(
        &self,
        hash: &TicketHash,
        purpose: CeremonyPurpose,
        now: i64,
    ) -> StoreResult<Option<CeremonyRecord>> {
        let hash = hash.clone();
        self.write(move |tx| {
            tx.prepare_cached(
                "DELETE FROM passkey_ceremonies
                 WHERE hash = ?1 AND purpose = ?2 AND expires_at > ?3
                 RETURNING user_id, state, expires_at",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![hash.as_str(), purpose.as_str(), now], |row| {
                        Ok(CeremonyRecord {
                            user_id: row.get(0)?,
                            state: row.get(1)?,
                            expires_at: row.get(2)?,
                        })
                    })
                    .optional()
            })
            .map_err(map_error)
        })
        .await
    }
}

const PASSKEY_COLUMNS: &str = "credential_id, user_id, name, passkey, created_at, last_used_at";

fn passkey_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PasskeyRecord> {
    Ok(PasskeyRecord {
        credential_id: row.get(0)?,
        user_id: row.get(1)?,
        name: row.get(2)?,
        passkey: row.get(3)?,
        created_at: row.get(4)?,
        last_used_at: row.get(5)?,
    })
}

fn insert_passkey(tx: &rusqlite::Transaction<'_>, passkey: &NewPasskey) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO passkeys (credential_id, user_id, name, passkey, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            passkey.credential_id,
            passkey.user_id,
            passkey.name,
            passkey.passkey,
            passkey.created_at
        ],
    )
    .map_err(|error| match map_error(error) {
        StoreError::Conflict(_) => StoreError::Conflict("passkey"),
        other => other,
    })?;
    Ok(())
}
