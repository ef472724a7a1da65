//! Sessions and their refresh tokens: rotation with reuse detection, and revocation of
//! sessions and of single access tokens.

use super::{StoreResult, UserRecord};
use crate::domain::{RefreshHash, SignInMethod};
use async_trait::async_trait;

#[derive(Clone, Debug)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The app this session signed in (OpenID Connect); `None`: Gatehouse's own.
    pub grant: Option<ClientGrant>,
}

/// What a session of an app that signs in through Gatehouse was granted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientGrant {
    pub client_id: String,
    /// Space-separated scopes.
    pub scope: String,
}

/// What [`SessionStore::session_authentication`] finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionAuthentication {
    pub at: i64,
    pub method: SignInMethod,
}

#[derive(Clone, Debug)]
pub struct NewSession {
    pub id: String,
    pub user_id: String,
    pub refresh_hash: RefreshHash,
    pub created_at: i64,
    pub expires_at: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// How the user signed in (for a client's session: the browser session's way).
    pub sign_in: SignInMethod,
    pub grant: Option<ClientGrant>,
}

/// What a refresh attempt found, decided atomically by the store.
#[derive(Clone, Debug)]
pub enum Rotation {
    /// The token was current: it is now superseded by the new hash; or it was superseded
    /// within the grace by the same successor, which is still current.
    Rotated {
        session: Box<SessionRecord>,
        user: Box<UserRecord>,
    },
    /// The token had already been rotated: the session has been revoked.
    Reused { session_id: String, user_id: String },
    /// Unknown, expired, or its session is revoked or its user disabled.
    Invalid,
}

#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    async fn create_session(&self, session: NewSession) -> StoreResult<()>;
    /// Atomically: if `presented` is the session's current refresh token (and the session
    /// and user are live), supersede it with `successor`. If it was superseded at most
    /// `grace_secs` ago and `successor` — which the caller derives from `presented`, so
    /// every caller computes the same one — is still the session's current token, answer
    /// `Rotated` again without changing anything. Any other already-superseded token
    /// revokes the whole session. At most one caller can ever rotate a token.
    async fn rotate_refresh(
        &self,
        presented: &RefreshHash,
        successor: &RefreshHash,
        now: i64,
        new_expires_at: i64,
        grace_secs: i64,
    ) -> StoreResult<Rotation>;
    /// The live session a current refresh token belongs to.
    async fn session_by_refresh(
        &self,
        presented: &RefreshHash,
        now: i64,
    ) -> StoreResult<Option<SessionRecord>>;
    /// Active (unrevoked, unexpired) sessions of a user, newest first.
    async fn list_sessions(&self, user_id: &str, now: i64) -> StoreResult<Vec<SessionRecord>>;
    /// Revokes one session of one user; false if there was no such live session.
    async fn revoke_session(&self, user_id: &str, session_id: &str, now: i64) -> StoreResult<bool>;
    /// Revokes every live session of a user except `keep`; returns how many.
    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
    ) -> StoreResult<u64>;
    /// Revokes every live session an OpenID Connect client holds (its users' grants):
    /// the client was disabled or removed. Returns how many.
    async fn revoke_client_sessions(&self, client_id: &str, now: i64) -> StoreResult<u64>;
    /// How and when the holder of this live session of this user last proved who they
    /// are: the sign-in that created it, or a later re-entry of the password (which
    /// moves the time, not the method). `None` when there is no such live session.
    async fn session_authentication(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<Option<SessionAuthentication>>;
    /// Records that the holder of this live session proved who they are at `now` (never
    /// moving the time back); false when there is no such live session.
    async fn mark_session_authenticated(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Remembers a revoked access token id until the token would have expired anyway.
    async fn revoke_jti(&self, jti: &str, expires_at: i64) -> StoreResult<()>;
    /// Whether this access token id was revoked: for tokens with no session behind them
    /// (a service's `client_credentials` token), which the access check cannot see.
    async fn jti_revoked(&self, jti: &str) -> StoreResult<bool>;
}
