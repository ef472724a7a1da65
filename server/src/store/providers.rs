//! Providers people may sign in with, as admins added them from the console or REST
//! (those of `GATEHOUSE_PROVIDERS` are read from its file and never stored). Every
//! change moves the revocation log, so each instance's memory of them follows it within
//! the revocation bound, as forward-auth rules do.

use super::StoreResult;
use async_trait::async_trait;

/// A provider as stored. The core checked every field before it came here; the
/// client secret is only ever kept sealed with the factor keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredProvider {
    /// In its URLs and in linked identities: lowercase letters, digits and `-`.
    pub id: String,
    /// `oidc`, `google` or `github`.
    pub kind: String,
    pub name: String,
    pub issuer: String,
    pub api_url: Option<String>,
    pub client_id: String,
    /// The client secret sealed with the factor keys (bound to the provider's id), or
    /// `None` for a public client.
    pub sealed_client_secret: Option<String>,
    pub sign_up: bool,
    pub trust_amr: bool,
    pub link_verified_email: bool,
    /// Kept with its links, offered nowhere, signing nobody in.
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[async_trait]
pub trait ProviderStore: Send + Sync + 'static {
    /// Every stored provider, in no particular order.
    async fn stored_providers(&self) -> StoreResult<Vec<StoredProvider>>;
    /// `Conflict("provider")` when the id is taken.
    async fn add_provider(&self, provider: StoredProvider) -> StoreResult<()>;
    /// Replaces the provider with `provider.id` (keeping its `created_at`): `NotFound`
    /// when there is none.
    async fn replace_provider(&self, provider: StoredProvider) -> StoreResult<()>;
    /// Removes the provider and every identity linked at it (a provider added later
    /// under the same id must not inherit its accounts): how many links went, or `None`
    /// when there was no such provider.
    async fn remove_provider(&self, id: &str) -> StoreResult<Option<u64>>;
}
