//! OpenID Connect clients on MongoDB: `_id` is the client id, so the id is unique by
//! itself; changes are bracketed in the revocation log like the other revoking writes.

use super::revocation_log::every_outcome;
use super::{MongoStore, map_error};
use crate::store::{ClientStore, OidcClient, StoreError, StoreResult};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct ClientDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub pre_consented: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// Absent on clients registered before the choice existed: RS256.
    #[serde(default = "rs256")]
    pub id_token_alg: String,
}

fn rs256() -> String {
    "RS256".to_owned()
}

impl From<OidcClient> for ClientDoc {
    fn from(client: OidcClient) -> Self {
        ClientDoc {
            id: client.id,
            name: client.name,
            secret_hash: client.secret_hash,
            redirect_uris: client.redirect_uris,
            post_logout_redirect_uris: client.post_logout_redirect_uris,
            grant_types: client.grant_types,
            pre_consented: client.pre_consented,
            disabled: client.disabled,
            created_at: client.created_at,
            updated_at: client.updated_at,
            id_token_alg: client.id_token_alg,
        }
    }
}

impl From<ClientDoc> for OidcClient {
    fn from(doc: ClientDoc) -> Self {
        OidcClient {
            id: doc.id,
            name: doc.name,
            secret_hash: doc.secret_hash,
            redirect_uris: doc.redirect_uris,
            post_logout_redirect_uris: doc.post_logout_redirect_uris,
            grant_types: doc.grant_types,
            pre_consented: doc.pre_consented,
            disabled: doc.disabled,
            created_at: doc.created_at,
            updated_at: doc.updated_at,
            id_token_alg: doc.id_token_alg,
        }
    }
}

#[async_trait]
impl ClientStore for MongoStore {
    async fn clients(&self) -> StoreResult<Vec<OidcClient>> {
        self.indexed().await?;
        let documents: Vec<ClientDoc> = self
            .clients
            .find(doc! {})
            .await
            .map_err(map_error)?
            .try_collect()
            .await
            .map_err(map_error)?;
        Ok(documents.into_iter().map(OidcClient::from).collect())
    }

    async fn client(&self, id: &str) -> StoreResult<Option<OidcClient>> {
        self.indexed().await?;
        Ok(self
            .clients
            .find_one(doc! {"_id": id})
            .await
            .map_err(map_error)?
            .map(OidcClient::from))
    }

    async fn add_client(&self, client: OidcClient) -> StoreResult<()> {
        self.indexed().await?;
        self.clients
            .insert_one(ClientDoc::from(client))
            .await
            .map(drop)
            .map_err(map_error)
    }

    async fn replace_client(&self, client: OidcClient) -> StoreResult<()> {
        self.indexed().await?;
        let store = self.clone();
        self.to_the_end(every_outcome, async move {
            store
                .revoking("oidc_client", |_| true, async {
                    // Every stored field but the id and the registration time, taken
                    // from the document form itself: a field added to it later cannot be
                    // left out of a change (`id_token_alg` once was).
                    let mut changes = mongodb::bson::to_document(&ClientDoc::from(client.clone()))
                        .map_err(StoreError::unexpected)?;
                    changes.remove("_id");
                    changes.remove("created_at");
                    let replaced = store
                        .clients
                        .update_one(doc! {"_id": &client.id}, doc! {"$set": changes})
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

    async fn remove_client(&self, id: &str) -> StoreResult<bool> {
        self.indexed().await?;
        let store = self.clone();
        let id = id.to_owned();
        self.to_the_end(every_outcome, async move {
            store
                .revoking("oidc_client", |removed| *removed, async {
                    store
                        .clients
                        .delete_one(doc! {"_id": &id})
                        .await
                        .map(|outcome| outcome.deleted_count > 0)
                        .map_err(map_error)
                })
                .await
        })
        .await
    }
}
