//! Mailed links (address verification, password reset) and sign-in codes: hashed, single
//! use, short-lived.

use super::{StoreResult, UserRecord};
use crate::domain::{LinkHash, LinkPurpose, PasswordHashString};
use async_trait::async_trait;

/// A mailed link, as the store keeps it: the token's hash, never the token.
#[derive(Clone, Debug)]
pub struct NewLink {
    pub hash: LinkHash,
    pub user_id: String,
    pub purpose: LinkPurpose,
    /// The address the link was sent to: a verification link proves only that one.
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkRecord {
    pub user_id: String,
    pub purpose: LinkPurpose,
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[async_trait]
pub trait LinkStore: Send + Sync + 'static {
    async fn create_link(&self, link: NewLink) -> StoreResult<()>;
    /// The unexpired, unused link of `purpose` with this hash, without using it.
    async fn find_link(
        &self,
        hash: &LinkHash,
        purpose: LinkPurpose,
        now: i64,
    ) -> StoreResult<Option<LinkRecord>>;
    /// Uses a verification link, once: marks the user's address verified if it is still
    /// the one the link was sent to. `None` when the link is unknown, used, expired, or
    /// the address has changed since.
    async fn use_verification_link(
        &self,
        hash: &LinkHash,
        now: i64,
    ) -> StoreResult<Option<UserRecord>>;
    /// Uses a reset link, once and atomically: sets the new password hash, deletes every
    /// other reset link of the user and ends all of the user's sessions. `None` when the
    /// link is unknown, used or expired.
    async fn use_reset_link(
        &self,
        hash: &LinkHash,
        new_hash: &PasswordHashString,
        now: i64,
    ) -> StoreResult<Option<UserRecord>>;
    /// Uses a sign-in code, once and atomically: of several callers one gets it, and
    /// every other code of its user dies with it. `None` when it is unknown, used or
    /// expired.
    async fn use_sign_in_code(&self, hash: &LinkHash, now: i64) -> StoreResult<Option<LinkRecord>>;
}
