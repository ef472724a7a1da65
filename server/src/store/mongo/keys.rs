//! Signing keys on MongoDB: one document per key, unique per algorithm and generation,
//! so the first key of an algorithm wins and two rotations racing cannot both take the
//! same generation.

use super::documents::{KeyDoc, binary};
use super::revocation_log::every_outcome;
use super::{MongoStore, map_error};
use crate::store::{KeyStore, StoreError, StoreResult, StoredSigningKey};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::doc;

/// A rotation that loses a race for a generation tries the next one, this many times.
const ROTATION_ATTEMPTS: usize = 5;

#[async_trait]
impl KeyStore for MongoStore {
    async fn signing_key_or_insert(
        &self,
        candidate: StoredSigningKey,
    ) -> StoreResult<StoredSigningKey> {
        self.indexed().await?;
        if let Some(existing) = self.signing_key(&candidate.algorithm).await? {
            return Ok(existing);
        }
        let algorithm = candidate.algorithm.clone();
        match self
            .keys
            .insert_one(key_doc(candidate, 0))
            .await
            .map_err(map_error)
        {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
        self.signing_key(&algorithm)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn signing_key(&self, algorithm: &str) -> StoreResult<Option<StoredSigningKey>> {
        self.indexed().await?;
        let stored = self
            .keys
            .find_one(doc! {"algorithm": algorithm})
            .sort(doc! {"generation": -1})
            .await
            .map_err(map_error)?;
        Ok(stored.map(stored_key))
    }

    async fn signing_keys(&self, algorithm: &str) -> StoreResult<Vec<StoredSigningKey>> {
        self.indexed().await?;
        let docs: Vec<KeyDoc> = self
            .keys
            .find(doc! {"algorithm": algorithm})
            .sort(doc! {"generation": 1})
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        Ok(docs.into_iter().map(stored_key).collect())
    }

    async fn add_signing_key(&self, candidate: StoredSigningKey) -> StoreResult<StoredSigningKey> {
        let store = self.clone();
        self.to_the_end(every_outcome, async move {
            store.indexed().await?;
            store
                .revoking("keys", |_| true, async {
                    for _ in 0..ROTATION_ATTEMPTS {
                        let next = store
                            .signing_key(&candidate.algorithm)
                            .await?
                            .map_or(0, |newest| newest.generation + 1);
                        match store
                            .keys
                            .insert_one(key_doc(candidate.clone(), next))
                            .await
                            .map_err(map_error)
                        {
                            Ok(_) => {
                                return Ok(StoredSigningKey {
                                    generation: next,
                                    ..candidate
                                });
                            }
                            // Another rotation took this generation: take the next.
                            Err(StoreError::Conflict(_)) => continue,
                            Err(other) => return Err(other),
                        }
                    }
                    Err(StoreError::unavailable(
                        "other key rotations kept winning; try again",
                    ))
                })
                .await
        })
        .await
    }

    async fn remove_superseded_signing_keys(&self, superseded_before: i64) -> StoreResult<u64> {
        self.indexed().await?;
        let docs: Vec<KeyDoc> = self
            .keys
            .find(doc! {})
            .sort(doc! {"algorithm": 1, "generation": 1})
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        let superseded: Vec<&str> = docs
            .windows(2)
            .filter(|pair| {
                pair[0].algorithm == pair[1].algorithm && pair[1].created_at < superseded_before
            })
            .map(|pair| pair[0].kid.as_str())
            .collect();
        if superseded.is_empty() {
            return Ok(0);
        }
        let removed = self
            .keys
            .delete_many(doc! {"_id": {"$in": superseded}})
            .await
            .map_err(map_error)?;
        Ok(removed.deleted_count)
    }
}

fn key_doc(key: StoredSigningKey, generation: i64) -> KeyDoc {
    KeyDoc {
        kid: key.kid,
        algorithm: key.algorithm,
        generation,
        private_der: binary(key.private_der),
        public_raw: binary(key.public_raw),
        created_at: key.created_at,
    }
}

fn stored_key(stored: KeyDoc) -> StoredSigningKey {
    StoredSigningKey {
        kid: stored.kid,
        algorithm: stored.algorithm,
        generation: stored.generation,
        private_der: stored.private_der.bytes,
        public_raw: stored.public_raw.bytes,
        created_at: stored.created_at,
    }
}
