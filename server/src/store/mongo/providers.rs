//! Stored providers on MongoDB: `_id` is the provider's id, so the id is unique by
//! itself; changes are bracketed in the revocation log like the other revoking writes.

use super::revocation_log::every_outcome;
use super::{MongoStore, map_error};
use crate::store::{ProviderStore, StoreError, StoreResult, StoredProvider};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct ProviderDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub kind: String,
    pub name: String,
    pub issuer: String,
    pub api_url: Option<String>,
    pub client_id: String,
    pub sealed_client_secret: Option<String>,
    pub sign_up: bool,
    pub trust_amr: bool,
    pub link_verified_email: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<StoredProvider> for ProviderDoc {
    fn from(provider: StoredProvider) -> Self {
        ProviderDoc {
            id: provider.id,
            kind: provider.kind,
            name: provider.name,
            issuer: provider.issuer,
            api_url: provider.api_url,
            client_id: provider.client_id,
            sealed_client_secret: provider.sealed_client_secret,
            sign_up: provider.sign_up,
            trust_amr: provider.trust_amr,
            link_verified_email: provider.link_verified_email,
            disabled: provider.disabled,
            created_at: provider.created_at,
            updated_at: provider.updated_at,
        }
    }
}

impl From<ProviderDoc> for StoredProvider {
    fn from(doc: ProviderDoc) -> Self {
        StoredProvider {
            id: doc.id,
            kind: doc.kind,
            name: doc.name,
            issuer: doc.issuer,
            api_url: doc.api_url,
            client_id: doc.client_id,
            sealed_client_secret: doc.sealed_client_secret,
            sign_up: doc.sign_up,
            trust_amr: doc.trust_amr,
            link_verified_email: doc.link_verified_email,
            disabled: doc.disabled,
            created_at: doc.created_at,
            updated_at: doc.updated_at,
        }
    }
}

#[async_trait]
impl ProviderStore for MongoStore {
    async fn stored_providers(&self) -> StoreResult<Vec<StoredProvider>> {
        self.indexed().await?;
        let documents: Vec<ProviderDoc> = self
            .providers
            .find(doc! {})
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        Ok(documents.into_iter().map(StoredProvider::from).collect())
    }

    async fn add_provider(&self, provider: StoredProvider) -> StoreResult<()> {
        self.indexed().await?;
        let store = self.clone();
        let document = ProviderDoc::from(provider);
        self.to_the_end(every_outcome, async move {
            store
                .revoking("provider", |_| true, async {
                    store
                        .providers
                        .insert_one(&document)
                        .await
                        .map(drop)
                        .map_err(|error| match map_error(error) {
                            StoreError::Conflict(_) => StoreError::Conflict("provider"),
                            other => other,
                        })
                })
                .await
        })
        .await
    }

    async fn replace_provider(&self, provider: StoredProvider) -> StoreResult<()> {
        self.indexed().await?;
        let store = self.clone();
        self.to_the_end(every_outcome, async move {
            store
                .revoking("provider", |_| true, async {
                    // Every stored field but the id and the creation time, from the
                    // document form itself: a field added later cannot be left out.
                    let mut changes =
                        mongodb::bson::to_document(&ProviderDoc::from(provider.clone()))
                            .map_err(StoreError::unexpected)?;
                    changes.remove("_id");
                    changes.remove("created_at");
                    let replaced = store
                        .providers
                        .update_one(doc! {"_id": &provider.id}, doc! {"$set": changes})
                        .await
                        .map_err(map_error)?;
                    if replaced.matched_count == 0 {
                        return Err(StoreError::NotFound);
                    }
                    Ok(())
                })
                .await
        })
        .await
    }

    async fn remove_provider(&self, id: &str) -> StoreResult<Option<u64>> {
        self.indexed().await?;
        let store = self.clone();
        let id = id.to_owned();
        self.to_the_end(every_outcome, async move {
            store
                .revoking("provider", Option::is_some, async {
                    // The provider first: once it is gone no callback links at it, so
                    // the links removed next cannot be joined by a new one.
                    let removed = store
                        .providers
                        .delete_one(doc! {"_id": &id})
                        .await
                        .map_err(map_error)?;
                    if removed.deleted_count == 0 {
                        return Ok(None);
                    }
                    let unlinked = store
                        .identities
                        .delete_many(doc! {"provider": &id})
                        .await
                        .map_err(map_error)?;
                    Ok(Some(unlinked.deleted_count))
                })
                .await
        })
        .await
    }
}
