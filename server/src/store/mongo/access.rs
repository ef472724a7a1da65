//! The access check's lookup and the revocation position on MongoDB (the log itself is
//! written in `revocation_log`).

use super::{MongoStore, map_error};
use crate::store::{AccessFacts, AccessStore, LocalRevocations, StoreResult, UserFacts};
use async_trait::async_trait;
use mongodb::bson::doc;

#[async_trait]
impl AccessStore for MongoStore {
    async fn access_facts(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<AccessFacts>> {
        self.indexed().await?;
        let (revoked, session, user) = tokio::join!(
            self.revoked.find_one(doc! {"_id": jti}),
            self.sessions
                .find_one(doc! {"_id": session_id, "user_id": user_id}),
            self.users.find_one(doc! {"_id": user_id}),
        );
        let (Some(session), Some(user)) = (session.map_err(map_error)?, user.map_err(map_error)?)
        else {
            return Ok(None);
        };
        Ok(Some(AccessFacts {
            jti_revoked: revoked.map_err(map_error)?.is_some(),
            session_revoked: session.revoked_at.is_some(),
            session_expires_at: session.expires_at,
            session_second_factor: session.second_factor,
            user_disabled: user.disabled,
            role: user.role,
            username: user.username,
            user: UserFacts {
                email: user.email,
                email_verified: user.email_verified,
                created_at: user.created_at,
            },
        }))
    }

    async fn revocation_position(&self) -> StoreResult<Option<u64>> {
        self.indexed().await?;
        self.read_revocation_position().await
    }

    fn local_revocations(&self) -> &LocalRevocations {
        &self.local_revocations
    }
}
