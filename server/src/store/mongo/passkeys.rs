//! Passkeys and passkey ceremonies on MongoDB: the credential id is `_id`, so a
//! credential belongs to one account; ceremonies expire by a TTL index.

use super::documents::{CeremonyDoc, PasskeyDoc};
use super::{MongoStore, map_error};
use crate::domain::TicketHash;
use crate::store::{
    CeremonyPurpose, CeremonyRecord, NewCeremony, NewPasskey, PasskeyRecord, PasskeyStore,
    StoreError, StoreResult,
};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::doc;

#[async_trait]
impl PasskeyStore for MongoStore {
    async fn add_passkey(&self, passkey: NewPasskey) -> StoreResult<()> {
        self.indexed().await?;
        self.passkeys
            .insert_one(PasskeyDoc::from(&passkey))
            .await
            .map_err(|error| match map_error(error) {
                StoreError::Conflict(_) => StoreError::Conflict("passkey"),
                other => other,
            })?;
        Ok(())
    }

    async fn passkeys_of(&self, user_id: &str) -> StoreResult<Vec<PasskeyRecord>> {
        self.indexed().await?;
        let found: Vec<PasskeyDoc> = self
            .passkeys
            .find(doc! {"user_id": user_id})
            .sort(doc! {"created_at": 1, "_id": 1})
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        Ok(found.into_iter().map(Into::into).collect())
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRecord>> {
        self.indexed().await?;
        Ok(self
            .passkeys
            .find_one(doc! {"_id": credential_id})
            .await
            .map_err(map_error)?
            .map(Into::into))
    }

    async fn record_passkey_use(
        &self,
        credential_id: &str,
        passkey: &str,
        now: i64,
    ) -> StoreResult<bool> {
        self.indexed().await?;
        let updated = self
            .passkeys
            .update_one(
                doc! {"_id": credential_id},
                doc! {"$set": {"passkey": passkey, "last_used_at": now}},
            )
            .await
            .map_err(map_error)?;
        Ok(updated.matched_count == 1)
    }

    async fn rename_passkey(
        &self,
        user_id: &str,
        credential_id: &str,
        name: &str,
    ) -> StoreResult<bool> {
        self.indexed().await?;
        let updated = self
            .passkeys
            .update_one(
                doc! {"_id": credential_id, "user_id": user_id},
                doc! {"$set": {"name": name}},
            )
            .await
            .map_err(map_error)?;
        Ok(updated.matched_count == 1)
    }

    async fn remove_passkeys(
        &self,
        user_id: &str,
        credential_id: Option<&str>,
    ) -> StoreResult<u64> {
        self.indexed().await?;
        let mut filter = doc! {"user_id": user_id};
        if let Some(credential_id) = credential_id {
            filter.insert("_id", credential_id);
        }
        let removed = self.passkeys.delete_many(filter).await.map_err(map_error)?;
        Ok(removed.deleted_count)
    }

    async fn create_ceremony(&self, ceremony: NewCeremony) -> StoreResult<()> {
        self.indexed().await?;
        self.ceremonies
            .insert_one(CeremonyDoc::from(&ceremony))
            .await
            .map_err(map_error)?;
        Ok(())
    }

    /// Deleting the ceremony is what uses it: of several callers one gets the document.
    async fn take_ceremony(
        &self,
        hash: &TicketHash,
        purpose: CeremonyPurpose,
        now: i64,
    ) -> StoreResult<Option<CeremonyRecord>> {
        self.indexed().await?;
        Ok(self
            .ceremonies
            .find_one_and_delete(doc! {
                "_id": hash.as_str(),
                "purpose": purpose.as_str(),
                "expires_at": {"$gt": now},
            })
            .await
            .map_err(map_error)?
            .map(Into::into))
    }
}
