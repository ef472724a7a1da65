//! Signing keys on MongoDB: the first key of an algorithm wins, by unique `_id`.

use super::documents::{KeyDoc, binary};
use super::{MongoStore, map_error};
use crate::store::{KeyStore, StoreError, StoreResult, StoredSigningKey};
use async_trait::async_trait;
use mongodb::bson::doc;

#[async_trait]
impl KeyStore for MongoStore {
    async fn signing_key_or_insert(
        &self,
        candidate: StoredSigningKey,
    ) -> StoreResult<StoredSigningKey> {
        self.indexed().await?;
        let doc = KeyDoc {
            kid: candidate.kid,
            algorithm: candidate.algorithm.clone(),
            private_der: binary(candidate.private_der),
            public_raw: binary(candidate.public_raw),
            created_at: candidate.created_at,
        };
        match self.keys.insert_one(&doc).await.map_err(map_error) {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
        self.signing_key(&candidate.algorithm)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn signing_key(&self, algorithm: &str) -> StoreResult<Option<StoredSigningKey>> {
        self.indexed().await?;
        let stored = self
            .keys
            .find_one(doc! {"algorithm": algorithm})
            .await
            .map_err(map_error)?;
        Ok(stored.map(|stored| StoredSigningKey {
            kid: stored.kid,
            algorithm: stored.algorithm,
            private_der: stored.private_der.bytes,
            public_raw: stored.public_raw.bytes,
            created_at: stored.created_at,
        }))
    }
}
