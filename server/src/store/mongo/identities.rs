//! Linked identities on MongoDB: `_id` is the provider and its subject, so a provider's
//! account belongs to one Gatehouse account.

use super::{MongoStore, map_error};
use crate::store::{
    IdentityStore, IdentityUnlinking, LinkedIdentity, NewUser, StoreError, StoreResult, UserRecord,
    UserStore,
};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct IdentityDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub provider: String,
    pub subject: String,
    pub user_id: String,
    pub email: Option<String>,
    pub linked_at: i64,
    pub last_used_at: Option<i64>,
}

/// Provider ids hold no space (checked when configured): the first space ends it, and
/// the subject may be anything after it.
fn key(provider: &str, subject: &str) -> String {
    format!("{provider} {subject}")
}

impl From<&LinkedIdentity> for IdentityDoc {
    fn from(identity: &LinkedIdentity) -> Self {
        IdentityDoc {
            id: key(&identity.provider, &identity.subject),
            provider: identity.provider.clone(),
            subject: identity.subject.clone(),
            user_id: identity.user_id.clone(),
            email: identity.email.clone(),
            linked_at: identity.linked_at,
            last_used_at: identity.last_used_at,
        }
    }
}

impl From<IdentityDoc> for LinkedIdentity {
    fn from(doc: IdentityDoc) -> Self {
        LinkedIdentity {
            provider: doc.provider,
            subject: doc.subject,
            user_id: doc.user_id,
            email: doc.email,
            linked_at: doc.linked_at,
            last_used_at: doc.last_used_at,
        }
    }
}

#[async_trait]
impl IdentityStore for MongoStore {
    async fn linked_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<LinkedIdentity>> {
        self.indexed().await?;
        Ok(self
            .identities
            .find_one(doc! {"_id": key(provider, subject)})
            .await
            .map_err(map_error)?
            .map(LinkedIdentity::from))
    }

    async fn identity_count_at(&self, provider: &str) -> StoreResult<u64> {
        self.indexed().await?;
        self.identities
            .count_documents(doc! {"provider": provider})
            .await
            .map_err(map_error)
    }

    async fn identities_of(&self, user_id: &str) -> StoreResult<Vec<LinkedIdentity>> {
        self.indexed().await?;
        let documents: Vec<IdentityDoc> = self
            .identities
            .find(doc! {"user_id": user_id})
            .sort(doc! {"linked_at": 1, "_id": 1})
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        Ok(documents.into_iter().map(LinkedIdentity::from).collect())
    }

    async fn link_identity(&self, identity: LinkedIdentity) -> StoreResult<()> {
        self.indexed().await?;
        self.identities
            .insert_one(IdentityDoc::from(&identity))
            .await
            .map_err(|error| match map_error(error) {
                StoreError::Conflict(_) => StoreError::Conflict("identity"),
                other => other,
            })?;
        Ok(())
    }

    /// Not one transaction (servers without them are supported): the identity is written
    /// first and taken back if the account cannot be, so what an interruption leaves is
    /// an identity of no account, which signs no one in.
    async fn create_user_with_identity(
        &self,
        user: NewUser,
        identity: LinkedIdentity,
    ) -> StoreResult<UserRecord> {
        let id = key(&identity.provider, &identity.subject);
        self.link_identity(identity).await?;
        match self.create_user(user).await {
            Ok(created) => Ok(created),
            Err(error) => {
                if let Err(cleanup) = self.identities.delete_one(doc! {"_id": &id}).await {
                    tracing::warn!(error = %cleanup, "a new account's identity outlived its failed creation");
                }
                Err(error)
            }
        }
    }

    async fn record_identity_use(
        &self,
        provider: &str,
        subject: &str,
        now: i64,
    ) -> StoreResult<bool> {
        self.indexed().await?;
        let result = self
            .identities
            .update_one(
                doc! {"_id": key(provider, subject)},
                doc! {"$set": {"last_used_at": now}},
            )
            .await
            .map_err(map_error)?;
        Ok(result.matched_count > 0)
    }

    /// Without transactions "keep one" is: take the identity, count what is left with an
    /// offered provider, and put it back if nothing is (as for passkeys). Two tabs
    /// unlinking the last two may both be refused (a retry succeeds); they cannot both
    /// succeed.
    async fn unlink_identity(
        &self,
        user_id: &str,
        provider: &str,
        subject: &str,
        keep_one_of: Option<&[String]>,
    ) -> StoreResult<IdentityUnlinking> {
        self.indexed().await?;
        let Some(taken) = self
            .identities
            .find_one_and_delete(doc! {"_id": key(provider, subject), "user_id": user_id})
            .await
            .map_err(map_error)?
        else {
            return Ok(IdentityUnlinking::NotLinked);
        };
        let Some(offered) = keep_one_of else {
            return Ok(IdentityUnlinking::Unlinked);
        };
        // A provider no longer offered was no way in: nothing to keep.
        if !offered.iter().any(|id| id == provider) {
            return Ok(IdentityUnlinking::Unlinked);
        }
        let left = self
            .identities
            .count_documents(doc! {"user_id": user_id, "provider": {"$in": offered.to_vec()}})
            .await
            .map_err(map_error)?;
        if left > 0 {
            return Ok(IdentityUnlinking::Unlinked);
        }
        self.identities
            .insert_one(&taken)
            .await
            .map_err(map_error)?;
        Ok(IdentityUnlinking::KeptAsLast)
    }
}
