//! Passkeys (WebAuthn credentials) and the server-side state of their ceremonies.

use super::{NewUser, StoreResult, UserRecord};
use crate::domain::TicketHash;
use async_trait::async_trait;

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
    /// A new account whose first way in is this passkey.
    SignUp,
    /// "Confirm it is you" with a passkey, for a user already signed in.
    Reauthenticate,
}

impl CeremonyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyPurpose::Register => "register",
            CeremonyPurpose::SignIn => "sign_in",
            CeremonyPurpose::StepUp => "step_up",
            CeremonyPurpose::SignUp => "sign_up",
            CeremonyPurpose::Reauthenticate => "reauthenticate",
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

/// What removing one passkey did, when the last one must stay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasskeyRemoval {
    Removed,
    NoSuchPasskey,
    /// It is the user's only passkey, and was kept.
    KeptAsLast,
}

#[async_trait]
pub trait PasskeyStore: Send + Sync + 'static {
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
    /// Names one passkey of the user anew; false when the user has no such passkey.
    async fn rename_passkey(
        &self,
        user_id: &str,
        credential_id: &str,
        name: &str,
    ) -> StoreResult<bool>;
    /// Creates an account together with its first passkey: the one never exists without
    /// the other (`Conflict("username" | "email" | "passkey")` as their own writes give).
    async fn create_user_with_passkey(
        &self,
        user: NewUser,
        passkey: NewPasskey,
    ) -> StoreResult<UserRecord>;
    /// Removes one passkey of the user unless it is their last, decided with the write:
    /// two tabs removing the last two leave one.
    async fn remove_passkey_unless_last(
        &self,
        user_id: &str,
        credential_id: &str,
    ) -> StoreResult<PasskeyRemoval>;
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
}
