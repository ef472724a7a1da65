//! Accounts of other providers linked to Gatehouse accounts: "this provider's subject is
//! this user". A provider's subject belongs to one account; an account may have several.

use super::{NewUser, StoreResult, UserRecord};
use async_trait::async_trait;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedIdentity {
    /// The provider's id as configured (`[[providers]] id`).
    pub provider: String,
    /// The provider's `sub`: stable and unique within that provider.
    pub subject: String,
    pub user_id: String,
    /// The address the provider gave when it was linked, to tell linked accounts apart
    /// on `/account`; never a way to find the account.
    pub email: Option<String>,
    pub linked_at: i64,
    pub last_used_at: Option<i64>,
}

/// What unlinking an identity did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityUnlinking {
    Unlinked,
    /// The user has no such identity.
    NotLinked,
    /// Asked to keep the last one, and it was the user's last.
    KeptAsLast,
}

#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    async fn linked_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<LinkedIdentity>>;
    /// How many accounts are linked at `provider`.
    async fn identity_count_at(&self, provider: &str) -> StoreResult<u64>;
    /// A user's linked identities, oldest first.
    async fn identities_of(&self, user_id: &str) -> StoreResult<Vec<LinkedIdentity>>;
    /// `Conflict("identity")` when the provider's subject is linked already (to anyone).
    async fn link_identity(&self, identity: LinkedIdentity) -> StoreResult<()>;
    /// Creates an account together with the identity it signs in with: the one never
    /// exists without the other (`Conflict("username" | "email" | "identity")`).
    async fn create_user_with_identity(
        &self,
        user: NewUser,
        identity: LinkedIdentity,
    ) -> StoreResult<UserRecord>;
    /// False when the identity is no longer linked.
    async fn record_identity_use(
        &self,
        provider: &str,
        subject: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Unlinks one of the user's identities. With `keep_one_of` (the providers offered
    /// now, for an account with no other way in), not the user's last identity with one
    /// of those providers: an identity whose provider is no longer offered is no way in,
    /// so it never counts as the one kept, and unlinking it is always allowed. Two
    /// unlinks racing for the last two cannot both succeed.
    async fn unlink_identity(
        &self,
        user_id: &str,
        provider: &str,
        subject: &str,
        keep_one_of: Option<&[String]>,
    ) -> StoreResult<IdentityUnlinking>;
}
