//! Authorization codes on MongoDB: `findOneAndUpdate` flips `redeemed` and returns the
//! document as it was, so of concurrent redemptions exactly one sees it unspent.

use super::{MongoStore, map_error};
use crate::domain::SignInMethod;
use crate::store::{AuthorizationCode, CodeRedemption, CodeStore, StoreResult};
use async_trait::async_trait;
use mongodb::{bson::doc, options::ReturnDocument};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct CodeDoc {
    #[serde(rename = "_id")]
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub session_id: String,
    pub auth_time: i64,
    pub second_factor: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_method: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub redeemed: bool,
}

impl From<CodeDoc> for AuthorizationCode {
    fn from(doc: CodeDoc) -> Self {
        AuthorizationCode {
            code_hash: doc.code_hash,
            client_id: doc.client_id,
            user_id: doc.user_id,
            redirect_uri: doc.redirect_uri,
            scope: doc.scope,
            nonce: doc.nonce,
            code_challenge: doc.code_challenge,
            session_id: doc.session_id,
            auth_time: doc.auth_time,
            sign_in: SignInMethod::from_stored(doc.sign_in_method.as_deref(), doc.second_factor),
            created_at: doc.created_at,
            expires_at: doc.expires_at,
        }
    }
}

#[async_trait]
impl CodeStore for MongoStore {
    async fn save_code(&self, code: AuthorizationCode) -> StoreResult<()> {
        self.indexed().await?;
        let document = CodeDoc {
            code_hash: code.code_hash,
            client_id: code.client_id,
            user_id: code.user_id,
            redirect_uri: code.redirect_uri,
            scope: code.scope,
            nonce: code.nonce,
            code_challenge: code.code_challenge,
            session_id: code.session_id,
            auth_time: code.auth_time,
            second_factor: code.sign_in.is_multi_factor(),
            sign_in_method: code.sign_in.stored().map(str::to_owned),
            created_at: code.created_at,
            expires_at: code.expires_at,
            redeemed: false,
        };
        self.codes
            .insert_one(document)
            .await
            .map(drop)
            .map_err(map_error)
    }

    async fn redeem_code(&self, code_hash: &str, now: i64) -> StoreResult<CodeRedemption> {
        self.indexed().await?;
        let before = self
            .codes
            .find_one_and_update(doc! {"_id": code_hash}, doc! {"$set": {"redeemed": true}})
            .return_document(ReturnDocument::Before)
            .await
            .map_err(map_error)?;
        Ok(match before {
            None => CodeRedemption::Unknown,
            Some(doc) if doc.redeemed => CodeRedemption::Replayed(doc.into()),
            // Expired unused: marking it spent changes nothing a later call could gain.
            Some(doc) if doc.expires_at <= now => CodeRedemption::Unknown,
            Some(doc) => CodeRedemption::Redeemed(doc.into()),
        })
    }
}
