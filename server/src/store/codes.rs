//! OpenID Connect authorization codes: single use, shared by every instance on one store.

use super::StoreResult;
use crate::domain::SignInMethod;
use async_trait::async_trait;

/// What a code stands for, kept under the hash of the code (the code itself is never
/// stored). Its tokens belong to the session `session_id`, chosen when the code is
/// made, so that a second use of the code can end whatever the first one got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    /// Space-separated scopes granted.
    pub scope: String,
    pub nonce: Option<String>,
    /// PKCE S256 challenge, when the request had one.
    pub code_challenge: Option<String>,
    pub session_id: String,
    /// When the user signed in (the browser session's start).
    pub auth_time: i64,
    pub sign_in: SignInMethod,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeRedemption {
    /// First use, in time: the code is now spent.
    Redeemed(AuthorizationCode),
    /// Used before: what it was, so its tokens can be revoked.
    Replayed(AuthorizationCode),
    /// No such code, or it expired unused.
    Unknown,
}

/// Spent codes are kept this long past their expiry, so that a replay is still seen as
/// one (and its tokens revoked) rather than as an unknown code.
pub const SPENT_CODE_MEMORY_SECS: i64 = 600;

#[async_trait]
pub trait CodeStore: Send + Sync + 'static {
    async fn save_code(&self, code: AuthorizationCode) -> StoreResult<()>;
    /// Spends the code atomically: of any number of concurrent redemptions, on any
    /// instance, exactly one gets `Redeemed`.
    async fn redeem_code(&self, code_hash: &str, now: i64) -> StoreResult<CodeRedemption>;
}
