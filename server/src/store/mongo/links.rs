//! Mailed links on MongoDB: `find_one_and_delete` uses a link once.

use super::documents::LinkDoc;
use super::revocation_log::every_outcome;
use super::{MongoStore, map_error};
use crate::domain::{LinkHash, LinkPurpose, PasswordHashString};
use crate::store::{LinkRecord, LinkStore, NewLink, StoreError, StoreResult, UserRecord};
use async_trait::async_trait;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::ReturnDocument;

#[async_trait]
impl LinkStore for MongoStore {
    async fn create_link(&self, link: NewLink) -> StoreResult<()> {
        self.indexed().await?;
        self.links
            .insert_one(LinkDoc::from(&link))
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn find_link(
        &self,
        hash: &LinkHash,
        purpose: LinkPurpose,
        now: i64,
    ) -> StoreResult<Option<LinkRecord>> {
        self.indexed().await?;
        Ok(self
            .links
            .find_one(live_link(hash, purpose, now))
            .await
            .map_err(map_error)?
            .and_then(LinkDoc::record))
    }

    /// Deleting the link is what uses it: of several callers one gets the document.
    async fn use_verification_link(
        &self,
        hash: &LinkHash,
        now: i64,
    ) -> StoreResult<Option<UserRecord>> {
        self.indexed().await?;
        let Some(link) = self
            .links
            .find_one_and_delete(live_link(hash, LinkPurpose::VerifyEmail, now))
            .await
            .map_err(map_error)?
        else {
            return Ok(None);
        };
        // The unique index on verified addresses refuses a second account; the link is
        // spent either way, as on the embedded store. Logged as a revocation: instances
        // remember whether the address is verified.
        let store = self.clone();
        self.to_the_end(every_outcome, async move {
            let verify = async {
                Ok(store
                    .users
                    .find_one_and_update(
                        doc! {"_id": &link.user_id, "email": &link.email},
                        doc! {"$set": {"email_verified": true}},
                    )
                    .return_document(ReturnDocument::After)
                    .await
                    .map_err(|error| match map_error(error) {
                        StoreError::Conflict(_) => StoreError::Conflict("email"),
                        other => other,
                    })?
                    .map(Into::into))
            };
            store.revoking("verified", Option::is_some, verify).await
        })
        .await
    }

    /// Not one transaction (servers without them are supported), so ordered for every
    /// interruption: the sessions end before the password changes (an interrupted reset
    /// leaves the old password and no session, never a new password beside the sessions it
    /// was meant to end); the link is taken next, so at most one caller goes on; then the
    /// password, and once more the sessions (any signed in with the old password meanwhile).
    /// The whole runs as one revocation in the log.
    async fn use_reset_link(
        &self,
        hash: &LinkHash,
        new_hash: &PasswordHashString,
        now: i64,
    ) -> StoreResult<Option<UserRecord>> {
        let store = self.clone();
        let hash = hash.clone();
        let new_hash = new_hash.clone();
        self.to_the_end(every_outcome, async move {
            let hash = &hash;
            let new_hash = &new_hash;
            store.indexed().await?;
            let Some(link) = store
                .links
                .find_one(live_link(hash, LinkPurpose::ResetPassword, now))
                .await
                .map_err(map_error)?
            else {
                return Ok(None);
            };
            let user_id = link.user_id.as_str();
            store
                .revoking("reset", |_| true, async {
                    store.end_every_session(user_id, now).await?;
                    store.fault("reset: sessions ended")?;
                    if store
                        .links
                        .find_one_and_delete(live_link(hash, LinkPurpose::ResetPassword, now))
                        .await
                        .map_err(map_error)?
                        .is_none()
                    {
                        return Ok(None);
                    }
                    let Some(user) = store
                        .users
                        .find_one_and_update(
                            doc! {"_id": user_id},
                            doc! {"$set": {"password_hash": new_hash.as_str()}},
                        )
                        .return_document(ReturnDocument::After)
                        .await
                        .map_err(map_error)?
                    else {
                        return Ok(None);
                    };
                    store.fault("reset: password set")?;
                    store.end_every_session(user_id, now).await?;
                    store
                        .delete_links(user_id, LinkPurpose::ResetPassword)
                        .await?;
                    Ok(Some(user.into()))
                })
                .await
        })
        .await
    }

    async fn use_sign_in_code(&self, hash: &LinkHash, now: i64) -> StoreResult<Option<LinkRecord>> {
        self.indexed().await?;
        let Some(code) = self
            .links
            .find_one_and_delete(live_link(hash, LinkPurpose::SignInCode, now))
            .await
            .map_err(map_error)?
            .and_then(LinkDoc::record)
        else {
            return Ok(None);
        };
        // Interrupted here, the other codes live on until they expire: each is still
        // good for one sign-in only, as before.
        self.delete_links(&code.user_id, LinkPurpose::SignInCode)
            .await?;
        Ok(Some(code))
    }
}

fn live_link(hash: &LinkHash, purpose: LinkPurpose, now: i64) -> Document {
    doc! {"_id": hash.as_str(), "purpose": purpose.as_str(), "expires_at": {"$gt": now}}
}

impl MongoStore {
    async fn end_every_session(&self, user_id: &str, now: i64) -> StoreResult<()> {
        self.sessions
            .update_many(
                doc! {"user_id": user_id, "revoked_at": Bson::Null},
                doc! {"$set": {"revoked_at": now}},
            )
            .await
            .map_err(map_error)?;
        Ok(())
    }

    pub(super) async fn delete_links(
        &self,
        user_id: &str,
        purpose: LinkPurpose,
    ) -> StoreResult<()> {
        self.links
            .delete_many(doc! {"user_id": user_id, "purpose": purpose.as_str()})
            .await
            .map_err(map_error)?;
        Ok(())
    }
}
