//! The hot path: what an access-token check needs (and the user facts that `/auth/me`
//! shows), and the revocation log that tells remembered answers when to be forgotten
//! (`remembered`).

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use super::StoreResult;
use app::model::Role;
use async_trait::async_trait;

/// What a backend knows about an access token's session and user, as stored: kept
/// rather than judged, so that an answer remembered now can be judged again later (the
/// session's expiry depends on `now`, and a rotation can extend it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessFacts {
    pub jti_revoked: bool,
    pub session_revoked: bool,
    pub session_expires_at: i64,
    /// The session signed in with a second factor or a passkey.
    pub session_second_factor: bool,
    pub user_disabled: bool,
    pub role: Role,
    pub username: String,
    pub user: UserFacts,
}

/// What a signed-in user is told about their own account, beside the access facts:
/// answered from the same memory, so `/auth/me` costs what a protected route does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserFacts {
    pub email: Option<String>,
    pub email_verified: bool,
    pub created_at: i64,
}

impl AccessFacts {
    /// By value: the hot path owns its copy (from memory or the store) and passes the
    /// names on without copying them again.
    pub fn status_at(self, now: i64) -> AccessStatus {
        AccessStatus {
            jti_revoked: self.jti_revoked,
            session_active: !self.session_revoked && self.session_expires_at > now,
            session_second_factor: self.session_second_factor,
            user_disabled: self.user_disabled,
            role: self.role,
            username: self.username,
            user: self.user,
        }
    }
}

/// What every access-token check needs from the store, in one lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessStatus {
    pub jti_revoked: bool,
    pub session_active: bool,
    pub session_second_factor: bool,
    pub user_disabled: bool,
    /// The user's current role (a demotion takes effect at once, not at token expiry).
    pub role: Role,
    pub username: String,
    pub user: UserFacts,
}

#[async_trait]
pub trait AccessStore: Send + Sync + 'static {
    /// One lookup for the hot path: is this token id revoked, is its session revoked and
    /// until when does it run, is its user enabled. `None` when the session or user does
    /// not exist.
    async fn access_facts(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<AccessFacts>>;
    /// The access check's answer at `now`. Backends ask every time; `RememberedAccess`
    /// answers from memory while the revocation log says nothing has changed.
    async fn access_status(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
        now: i64,
    ) -> StoreResult<Option<AccessStatus>> {
        Ok(self
            .access_facts(jti, session_id, user_id)
            .await?
            .map(|facts| facts.status_at(now)))
    }
    /// The access check's answer from this instance's memory, when it has one it may
    /// trust; `None` sends the check to `access_status`. Not async: a hit, the hot path
    /// of every protected request, then costs no boxed future.
    fn remembered_status(
        &self,
        _jti: &str,
        _session_id: &str,
        _user_id: &str,
        _now: i64,
    ) -> Option<AccessStatus> {
        None
    }
    /// The position of the newest entry in the revocation log, 0 before the first. Every
    /// write that can refuse a token accepted before (a revoked session, token or
    /// account, a role change, a detected replay, a reset, a purge) or change the user
    /// facts remembered with it (an address set, changed, removed or verified) appends one entry,
    /// positioned after every entry before it, before it returns. Instances poll this to
    /// know when their remembered answers may be stale. `None` while such a write is under
    /// way and not yet behind a position (a backend without transactions): remembered
    /// answers must not be trusted longer on the strength of this read.
    async fn revocation_position(&self) -> StoreResult<Option<u64>>;
    /// Counts this process's own revoking writes to this store, each counted once it has
    /// ended: what lets an instance forget its remembered answers before it answers the
    /// request that revoked, instead of at its next poll of the log.
    fn local_revocations(&self) -> &LocalRevocations;
    /// While this handle answers from memory: a number that changes whenever that memory
    /// is forgotten (a revoking write here, a move of the log seen). What else an instance
    /// remembers beside access answers (the forward-auth rules) is valid while it holds.
    /// `None`: no memory to follow; read the store every time.
    fn memory_generation(&self) -> Option<u64> {
        None
    }
}

/// How many revoking writes this process has made through one store handle. A backend
/// counts each one after it has committed (or failed, when it may have committed before
/// its answer was lost), whether or not its caller is still waiting; the memory in front
/// of access checks compares it with what it saw when it read an answer.
#[derive(Clone, Debug, Default)]
pub struct LocalRevocations(Arc<AtomicU64>);

impl LocalRevocations {
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    pub(super) fn record(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}
