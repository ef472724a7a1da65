//! Signing keys on SQLite: the first key of an algorithm wins, whoever writes it.

use super::SqliteStore;
use super::rows::map_error;
use crate::store::{KeyStore, StoreResult, StoredSigningKey};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

#[async_trait]
impl KeyStore for SqliteStore {
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
            tx.query_row(KEY_BY_ALGORITHM, [&candidate.algorithm], key_from_row)
                .map_err(map_error)
        })
        .await
    }

    async fn signing_key(&self, algorithm: &str) -> StoreResult<Option<StoredSigningKey>> {
        let algorithm = algorithm.to_owned();
        self.read(move |connection| {
            connection
                .query_row(KEY_BY_ALGORITHM, [&algorithm], key_from_row)
                .optional()
        })
        .await
    }
}

const KEY_BY_ALGORITHM: &str = "SELECT kid, algorithm, private_der, public_raw, created_at
     FROM signing_keys WHERE algorithm = ?1";

fn key_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredSigningKey> {
    Ok(StoredSigningKey {
        kid: row.get(0)?,
        algorithm: row.get(1)?,
        private_der: row.get(2)?,
        public_raw: row.get(3)?,
        created_at: row.get(4)?,
    })
}
