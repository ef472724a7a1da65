//! The storage interface every backend implements, and the records it speaks in.
//! Backends: `sqlite` (embedded, the default) and `mongo` (chosen by a `mongodb://` URL).
//! The contract suite in `contract.rs` runs the same cases against each one reachable.

pub mod mongo;
mod operator;
pub mod remembered;
pub mod sqlite;

#[cfg(test)]
mod contract;

use app::model::Role;
use async_trait::async_trait;

pub use operator::OperatorStore;

use crate::domain::{
    LinkHash, LinkPurpose, PasswordHashString, RecoveryCodeHash, RefreshHash, TicketHash,
};

/// A driver's own error, kept whole as the source of a `StoreError`.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule of the store refused the write.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("not found")]
    NotFound,
    /// The change would leave no active admin.
    #[error("the change would leave no active admin")]
    LastAdmin,
    /// The store cannot be reached or is out of resources; worth retrying later.
    #[error("the store is unavailable: {0}")]
    Unavailable(#[source] Cause),
    #[error("unexpected store error: {0}")]
    Unexpected(#[source] Cause),
}

impl StoreError {
    pub fn unavailable(cause: impl Into<Cause>) -> Self {
        StoreError::Unavailable(cause.into())
    }

    pub fn unexpected(cause: impl Into<Cause>) -> Self {
        StoreError::Unexpected(cause.into())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub username_key: String,
    pub email: Option<String>,
    /// The address in `email` was proven by a mailed link (reset after every change).
    pub email_verified: bool,
    pub password_hash: PasswordHashString,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct NewUser {
    pub id: String,
    pub username: String,
    pub username_key: String,
    pub email: Option<NewEmail>,
    pub password_hash: PasswordHashString,
    pub role: Role,
    pub created_at: i64,
}

/// An address to keep on an account: as given, and its case-folded key, unique among
/// the accounts that have one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEmail {
    pub address: String,
    pub key: String,
}

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

/// What a backend knows about an access token's session and user, as stored: kept
/// rather than judged, so that an answer remembered now can be judged again later (the
/// session's expiry depends on `now`, and a rotation can extend it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessFacts {
    pub jti_revoked: bool,
    pub session_revoked: bool,
    pub session_expires_at: i64,
    pub user_disabled: bool,
    pub role: Role,
    pub username: String,
}

impl AccessFacts {
    pub fn status_at(&self, now: i64) -> AccessStatus {
        AccessStatus {
            jti_revoked: self.jti_revoked,
            session_active: !self.session_revoked && self.session_expires_at > now,
            user_disabled: self.user_disabled,
            role: self.role,
            username: self.username.clone(),
        }
    }
}

/// What every access-token check needs from the store, in one lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessStatus {
    pub jti_revoked: bool,
    pub session_active: bool,
    pub user_disabled: bool,
    /// The user's current role (a demotion takes effect at once, not at token expiry).
    pub role: Role,
    pub username: String,
}

#[derive(Clone, Debug, Default)]
pub struct UserQuery {
    /// Substring of the username (case-insensitive).
    pub search: Option<String>,
    pub offset: u64,
    pub limit: u64,
}

#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

#[derive(Clone, Debug, Default)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct NewAuditEvent {
    pub at: i64,
    pub kind: &'static str,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

#[derive(Clone, Debug)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub kind: Option<String>,
    pub user_id: Option<String>,
    pub offset: u64,
    pub limit: u64,
}

/// An authenticator-app (TOTP) factor being set up: its secret, and the recovery codes
/// shown beside it, sealed with the server's factor key (see `auth::sealing`).
#[derive(Clone, Debug)]
pub struct NewTotp {
    pub user_id: String,
    pub sealed_secret: String,
    pub sealed_recovery_codes: String,
    pub created_at: i64,
}

/// A user's TOTP factor as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotpRecord {
    pub sealed_secret: String,
    /// The recovery codes shown while the factor is being set up; gone once confirmed
    /// (from then on only their hashes are kept).
    pub sealed_recovery_codes: Option<String>,
    /// `None` while being set up: such a factor is never asked for at sign-in.
    pub confirmed_at: Option<i64>,
    /// The newest time step a code was accepted for: no code of it, or of an earlier
    /// step, is accepted again.
    pub last_used_step: i64,
    pub created_at: i64,
}

/// Everything a user has beyond the password.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecondFactors {
    pub totp: Option<TotpRecord>,
    pub recovery_codes_left: u32,
}

impl SecondFactors {
    /// A sign-in needs a second step.
    pub fn required(&self) -> bool {
        self.totp
            .as_ref()
            .is_some_and(|totp| totp.confirmed_at.is_some())
    }
}

/// A step-up ticket: the proof that a password was right, good for one second step.
#[derive(Clone, Debug)]
pub struct NewStepUp {
    pub hash: TicketHash,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepUpRecord {
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A passkey as registered: `passkey` is webauthn-rs's own serialised `Passkey` (public
/// key, counter, flags); no secret of the user's is in it.
#[derive(Clone, Debug)]
pub struct NewPasskey {
    /// The credential id, unpadded base64url; unique across all accounts.
    pub credential_id: String,
    pub user_id: String,
    pub name: String,
    pub passkey: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyRecord {
    pub credential_id: String,
    pub user_id: String,
    pub name: String,
    pub passkey: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// What a passkey ceremony is for: its state serves that half only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CeremonyPurpose {
    Register,
    SignIn,
    /// A passkey as the second step of a password sign-in.
    StepUp,
}

impl CeremonyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyPurpose::Register => "register",
            CeremonyPurpose::SignIn => "sign_in",
            CeremonyPurpose::StepUp => "step_up",
        }
    }
}

/// The server-side half of a passkey ceremony between its start and its finish: single
/// use, short-lived.
#[derive(Clone, Debug)]
pub struct NewCeremony {
    pub hash: TicketHash,
    /// Who registers; `None` for a sign-in (the passkey says who it is).
    pub user_id: Option<String>,
    pub purpose: CeremonyPurpose,
    /// webauthn-rs's serialised ceremony state.
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CeremonyRecord {
    pub user_id: Option<String>,
    pub state: String,
    pub expires_at: i64,
}

/// A signing key as stored: the private half never leaves the server.
#[derive(Clone)]
pub struct StoredSigningKey {
    pub kid: String,
    pub algorithm: String,
    pub private_der: Vec<u8>,
    pub public_raw: Vec<u8>,
    pub created_at: i64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Fails with `Conflict` when the username key is taken.
    async fn create_user(&self, user: NewUser) -> StoreResult<UserRecord>;
    /// Creates the user as admin only if no admin exists yet; `Ok(None)` otherwise.
    async fn create_first_admin(&self, user: NewUser) -> StoreResult<Option<UserRecord>>;
    async fn user_by_username_key(&self, key: &str) -> StoreResult<Option<UserRecord>>;
    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRecord>>;
    async fn user_by_email_key(&self, key: &str) -> StoreResult<Option<UserRecord>>;
    /// Sets the password hash; every reset link of the user dies with the old password.
    async fn set_password_hash(&self, user_id: &str, hash: &PasswordHashString) -> StoreResult<()>;
    /// Sets (or with `None` removes) the user's address, unverified, and ends every
    /// verification link sent to an earlier one. `Conflict("email")` when another account
    /// has it.
    async fn set_email(&self, user_id: &str, email: Option<&NewEmail>) -> StoreResult<UserRecord>;
    async fn list_users(&self, query: &UserQuery) -> StoreResult<Page<UserRecord>>;
    /// Applies a role / disabled change, refusing with `LastAdmin` if no active admin
    /// would remain; decided atomically with the write.
    async fn update_user(&self, user_id: &str, change: &UserChange) -> StoreResult<UserRecord>;

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

    /// Remembers a revoked access token id until the token would have expired anyway.
    async fn revoke_jti(&self, jti: &str, expires_at: i64) -> StoreResult<()>;
    /// One lookup for the hot path: is this token id revoked, is its session revoked and
    /// until when does it run, is its user enabled. `None` when the session or user does
    /// not exist.
    async fn access_facts(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<AccessFacts>>;
    /// The access check's answer at `now`. Backends ask every time; `RememberedStore`
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
    /// The position of the newest entry in the revocation log, 0 before the first. Every
    /// write that can refuse a token accepted before (a revoked session, token or
    /// account, a role change, a detected replay, a reset, a purge) appends one entry,
    /// positioned after every entry before it, before it returns. Instances poll this to
    /// know when their remembered answers may be stale.
    async fn revocation_position(&self) -> StoreResult<u64>;

    async fn append_audit(&self, event: NewAuditEvent) -> StoreResult<()>;
    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditRecord>>;

    /// Stores `candidate` unless a key of that algorithm exists; returns the one in force.
    /// Several servers starting at once on one store agree on a single key.
    async fn signing_key_or_insert(
        &self,
        candidate: StoredSigningKey,
    ) -> StoreResult<StoredSigningKey>;

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

    async fn second_factors(&self, user_id: &str) -> StoreResult<SecondFactors>;
    /// Starts setting up a TOTP factor, replacing one not yet confirmed;
    /// `Conflict("totp")` when the user already has a confirmed one.
    async fn begin_totp(&self, enrolment: NewTotp) -> StoreResult<()>;
    /// Confirms the factor being set up, with the step of the first code accepted, and
    /// makes `recovery_codes` the user's only recovery codes. False when nothing is
    /// being set up (never started, removed, or confirmed already).
    async fn confirm_totp(
        &self,
        user_id: &str,
        step: i64,
        recovery_codes: &[RecoveryCodeHash],
        now: i64,
    ) -> StoreResult<bool>;
    /// Accepts a code of time step `step` at most once, atomically: false when the user
    /// has no confirmed factor or a code of this step or a later one was accepted
    /// already. `resealed`, when given, replaces the sealed secret (key rotation).
    async fn use_totp_step(
        &self,
        user_id: &str,
        step: i64,
        resealed: Option<&str>,
    ) -> StoreResult<bool>;
    /// Uses one recovery code, once: false when the user has no such code (left).
    async fn use_recovery_code(&self, user_id: &str, code: &RecoveryCodeHash) -> StoreResult<bool>;
    /// Removes the TOTP factor and every recovery code; false when there was none.
    async fn remove_second_factors(&self, user_id: &str) -> StoreResult<bool>;

    async fn create_step_up(&self, ticket: NewStepUp) -> StoreResult<()>;
    /// The unexpired ticket with this hash, without using it.
    async fn find_step_up(&self, hash: &TicketHash, now: i64) -> StoreResult<Option<StepUpRecord>>;
    /// Uses the ticket, once and atomically: of several callers one gets it.
    async fn take_step_up(&self, hash: &TicketHash, now: i64) -> StoreResult<Option<StepUpRecord>>;

    /// `Conflict("passkey")` when the credential is registered already (to anyone).
    async fn add_passkey(&self, passkey: NewPasskey) -> StoreResult<()>;
    /// A user's passkeys, oldest first.
    async fn passkeys_of(&self, user_id: &str) -> StoreResult<Vec<PasskeyRecord>>;
    async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRecord>>;
    /// Keeps the passkey's state after a sign-in (its counter); false when it is gone.
    async fn record_passkey_use(
        &self,
        credential_id: &str,
        passkey: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Removes one passkey of the user, or with `None` all of them; how many went.
    async fn remove_passkeys(&self, user_id: &str, credential_id: Option<&str>)
    -> StoreResult<u64>;
    async fn create_ceremony(&self, ceremony: NewCeremony) -> StoreResult<()>;
    /// Uses the ceremony of `purpose`, once and atomically.
    async fn take_ceremony(
        &self,
        hash: &TicketHash,
        purpose: CeremonyPurpose,
        now: i64,
    ) -> StoreResult<Option<CeremonyRecord>>;

    /// Deletes expired sessions, refresh tokens, revocations, mailed links, step-up
    /// tickets and passkey ceremonies; returns rows removed.
    async fn purge_expired(&self, now: i64) -> StoreResult<u64>;
    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> StoreResult<()>;
}
