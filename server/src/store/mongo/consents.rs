//! Consents on MongoDB: `_id` is the user and the client, so there is one per pair and a
//! save is a single upsert.

use super::{MongoStore, map_error};
use crate::store::{Consent, ConsentStore, StoreResult};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct ConsentDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub granted_at: i64,
}

/// Ids never hold a space (UUIDs, `gc_` + base64url): the pair's key is unambiguous.
fn key(user_id: &str, client_id: &str) -> String {
    format!("{user_id} {client_id}")
}

impl From<ConsentDoc> for Consent {
    fn from(doc: ConsentDoc) -> Self {
        Consent {
            user_id: doc.user_id,
            client_id: doc.client_id,
            scope: doc.scope,
            granted_at: doc.granted_at,
        }
    }
}

#[async_trait]
impl ConsentStore for MongoStore {
    async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>> {
        self.indexed().await?;
        Ok(self
            .consents
            .find_one(doc! {"_id": key(user_id, client_id)})
            .await
            .map_err(map_error)?
            .map(Consent::from))
    }

    async fn save_consent(&self, consent: Consent) -> StoreResult<()> {
        self.indexed().await?;
        let document = ConsentDoc {
            id: key(&consent.user_id, &consent.client_id),
            user_id: consent.user_id,
            client_id: consent.client_id,
            scope: consent.scope,
            granted_at: consent.granted_at,
        };
        self.consents
            .replace_one(doc! {"_id": &document.id}, &document)
            .upsert(true)
            .await
            .map(drop)
            .map_err(map_error)
    }

    async fn consents_of(&self, user_id: &str) -> StoreResult<Vec<Consent>> {
        self.indexed().await?;
        let documents: Vec<ConsentDoc> = self
            .consents
            .find(doc! {"user_id": user_id})
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        Ok(documents.into_iter().map(Consent::from).collect())
    }

    async fn remove_consent(&self, user_id: &str, client_id: &str) -> StoreResult<bool> {
        self.indexed().await?;
        self.consents
            .delete_one(doc! {"_id": key(user_id, client_id)})
            .await
            .map(|outcome| outcome.deleted_count > 0)
            .map_err(map_error)
    }
}
