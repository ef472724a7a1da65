//! Passkeys and passkey ceremonies on MongoDB: the credential id is `_id`, so a
//! credential belongs to one account; ceremonies expire by a TTL index.

use super::documents::{CeremonyDoc, PasskeyDoc};
use super::{MongoStore, map_error};
use crate::domain::TicketHash;
use crate::store::{
    CeremonyPurpose, CeremonyRecord, NewCeremony, NewPasskey, NewUser, PasskeyRecord,
    PasskeyRemoval, PasskeyStore, StoreError, StoreResult, UserRecord, UserStore,
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

    /// Not one transaction (servers without them are supported): the passkey is written
    /// first and taken back if the account cannot be, so what an interruption leaves is a
    /// passkey of no account, which signs no one in, never an account without a way in.
    async fn create_user_with_passkey(
        &self,
        user: NewUser,
        passkey: NewPasskey,
    ) -> StoreResult<UserRecord> {
        self.add_passkey(passkey.clone()).await?;
        match self.create_user(user).await {
            Ok(created) => Ok(created),
            Err(error) => {
                if let Err(cleanup) = self
                    .passkeys
                    .delete_one(doc! {"_id": &passkey.credential_id})
                    .await
                {
                    tracing::warn!(error = %cleanup, "a new account's passkey outlived its failed creation");
                }
                Err(error)
            }
        }
    }

    /// Without transactions "unless last" is: take the passkey, count what is left, and
    /// put it back if nothing is. Two tabs removing the last two may both be refused (and
    /// one retry succeeds); they cannot both succeed.
    async fn remove_passkey_unless_last(
        &self,
        user_id: &str,
        credential_id: &str,
    ) -> StoreResult<PasskeyRemoval> {
        self.indexed().await?;
        let Some(taken) = self
            .passkeys
            .find_one_and_delete(doc! {"_id": credential_id, "user_id": user_id})
            .await
            .map_err(map_error)?
        else {
            return Ok(PasskeyRemoval::NoSuchPasskey);
        };
        let left = self
            .passkeys
            .count_documents(doc! {"user_id": user_id})
            .await
            .map_err(map_error)?;
        if left > 0 {
            return Ok(PasskeyRemoval::Removed);
        }
        self.passkeys.insert_one(&taken).await.map_err(map_error)?;
        Ok(PasskeyRemoval::KeptAsLast)
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
