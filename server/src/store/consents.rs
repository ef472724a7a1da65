//! What each user allowed each OpenID Connect client: asked once per scope, then
//! remembered until the user (or an admin removing the client) takes it back.

use super::StoreResult;
use async_trait::async_trait;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    pub user_id: String,
    pub client_id: String,
    /// Space-separated scopes allowed.
    pub scope: String,
    pub granted_at: i64,
}

#[async_trait]
pub trait ConsentStore: Send + Sync + 'static {
    async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>>;
    /// Records `consent`, replacing what this user allowed this client before.
    async fn save_consent(&self, consent: Consent) -> StoreResult<()>;
    /// Every client this user allowed, in no particular order.
    async fn consents_of(&self, user_id: &str) -> StoreResult<Vec<Consent>>;
    /// False when there was none.
    async fn remove_consent(&self, user_id: &str, client_id: &str) -> StoreResult<bool>;
}
