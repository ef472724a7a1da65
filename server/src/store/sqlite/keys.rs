//! Signing keys on SQLite: the first key of an algorithm wins, whoever writes it; a
//! rotation adds the next generation in the one write transaction.

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
                "INSERT INTO signing_keys
                 (kid, algorithm, generation, private_der, public_raw, created_at)
                 SELECT ?1, ?2, 0, ?3, ?4, ?5
                 WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE algorithm = ?2)",
                params![
                    candidate.kid,
                    candidate.algorithm,
                    candidate.private_der,
                    candidate.public_raw,
                    candidate.created_at
                ],
            )
            .map_err(map_error)?;
            tx.query_row(NEWEST_KEY, [&candidate.algorithm], key_from_row)
                .map_err(map_error)
        })
        .await
    }

    async fn signing_key(&self, algorithm: &str) -> StoreResult<Option<StoredSigningKey>> {
        let algorithm = algorithm.to_owned();
        self.read(move |connection| {
            connection
                .query_row(NEWEST_KEY, [&algorithm], key_from_row)
                .optional()
        })
        .await
    }

    async fn signing_keys(&self, algorithm: &str) -> StoreResult<Vec<StoredSigningKey>> {
        let algorithm = algorithm.to_owned();
        self.read(move |connection| {
            connection
                .prepare_cached(
                    "SELECT kid, algorithm, generation, private_der, public_raw, created_at
                     FROM signing_keys WHERE algorithm = ?1 ORDER BY generation",
                )?
                .query_map([&algorithm], key_from_row)?
                .collect()
        })
        .await
    }

    async fn add_signing_key(&self, candidate: StoredSigningKey) -> StoreResult<StoredSigningKey> {
        self.write_revoking("keys", move |tx| {
            tx.execute(
                "INSERT INTO signing_keys
                 (kid, algorithm, generation, private_der, public_raw, created_at)
                 SELECT ?1, ?2, COALESCE(MAX(generation) + 1, 0), ?3, ?4, ?5
                 FROM signing_keys WHERE algorithm = ?2",
                params![
                    candidate.kid,
                    candidate.algorithm,
                    candidate.private_der,
                    candidate.public_raw,
                    candidate.created_at
                ],
            )
            .map_err(map_error)?;
            tx.query_row(NEWEST_KEY, [&candidate.algorithm], key_from_row)
                .map_err(map_error)
        })
        .await
    }

    async fn remove_superseded_signing_keys(&self, superseded_before: i64) -> StoreResult<u64> {
        self.write(move |tx| {
            let removed = tx
                .execute(
                    "DELETE FROM signing_keys WHERE EXISTS (
                         SELECT 1 FROM signing_keys AS newer
                         WHERE newer.algorithm = signing_keys.algorithm
                           AND newer.generation = signing_keys.generation + 1
                           AND newer.created_at < ?1)",
                    params![superseded_before],
                )
                .map_err(map_error)?;
            Ok(removed as u64)
        })
        .await
    }
}

const NEWEST_KEY: &str = "SELECT kid, algorithm, generation, private_der, public_raw, created_at
     FROM signing_keys WHERE algorithm = ?1 ORDER BY generation DESC LIMIT 1";

fn key_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredSigningKey> {
    Ok(StoredSigningKey {
        kid: row.get(0)?,
        algorithm: row.get(1)?,
        generation: row.get(2)?,
        private_der: row.get(3)?,
        public_raw: row.get(4)?,
        created_at: row.get(5)?,
    })
}
