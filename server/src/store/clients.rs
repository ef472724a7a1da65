//! OpenID Connect clients: the apps an admin lets sign their users in through Gatehouse.

use super::StoreResult;
use async_trait::async_trait;

/// A relying party as stored. Its secret is kept only as a SHA-256 hash: it is 256
/// random bits, so a slow password hash would add cost and no safety.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcClient {
    /// The public `client_id`.
    pub id: String,
    pub name: String,
    /// Hex SHA-256 of the secret; `None` for a public client (it must use PKCE).
    pub secret_hash: Option<String>,
    /// Matched exactly (loopback ports aside, RFC 8252).
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// `authorization_code`, `refresh_token`, `client_credentials`.
    pub grant_types: Vec<String>,
    /// A first-party app an admin vouches for: its users are not asked to consent.
    pub pre_consented: bool,
    /// The one algorithm its ID tokens are signed with: `RS256`, `ES256` or `EdDSA`.
    pub id_token_alg: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
    /// Every client, in no particular order.
    async fn clients(&self) -> StoreResult<Vec<OidcClient>>;
    async fn client(&self, id: &str) -> StoreResult<Option<OidcClient>>;
    /// `Conflict` when the id is taken.
    async fn add_client(&self, client: OidcClient) -> StoreResult<()>;
    /// Replaces the client with `client.id` (keeping its `created_at`): `NotFound` when
    /// there is none.
    async fn replace_client(&self, client: OidcClient) -> StoreResult<()>;
    /// False when there was no such client.
    async fn remove_client(&self, id: &str) -> StoreResult<bool>;
}

/// How the clients' lists are kept in a text column: URIs hold no spaces.
pub fn list_text(items: &[String]) -> String {
    items.join(" ")
}

pub fn list_from_text(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}
