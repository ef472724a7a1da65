//! Second factors: an authenticator app (TOTP), recovery codes, and the step-up ticket a
//! right password yields on an account that has one.

use super::StoreResult;
use crate::domain::{FirstStep, RecoveryCodeHash, TicketHash};
use async_trait::async_trait;

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
    /// Recovery codes to show their owner on the page: those of a set-up in progress, or
    /// new ones made for a confirmed factor until the owner says they are saved. Only
    /// their hashes are kept beyond that.
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

/// A step-up ticket: the proof that a first step (a password, a mailed code) was right,
/// good for one second step.
#[derive(Clone, Debug)]
pub struct NewStepUp {
    pub hash: TicketHash,
    pub user_id: String,
    pub first_step: FirstStep,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepUpRecord {
    pub user_id: String,
    pub first_step: FirstStep,
    pub created_at: i64,
    pub expires_at: i64,
}

#[async_trait]
pub trait FactorStore: Send + Sync + 'static {
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
    /// Makes `recovery_codes` the user's only recovery codes, atomically (every earlier
    /// one stops working), and keeps `sealed_to_show` (or nothing) as the copy the page
    /// shows until `forget_shown_recovery_codes`. False when the user has no confirmed
    /// factor: recovery codes belong to one.
    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        recovery_codes: &[RecoveryCodeHash],
        sealed_to_show: Option<&str>,
    ) -> StoreResult<bool>;
    /// Drops the shown copy of a confirmed factor's recovery codes (the hashes stay);
    /// false when there was none.
    async fn forget_shown_recovery_codes(&self, user_id: &str) -> StoreResult<bool>;
    /// Uses one recovery code, once: false when the user has no such code (left).
    async fn use_recovery_code(&self, user_id: &str, code: &RecoveryCodeHash) -> StoreResult<bool>;
    /// Removes the TOTP factor and every recovery code; false when there was none.
    async fn remove_second_factors(&self, user_id: &str) -> StoreResult<bool>;
    async fn create_step_up(&self, ticket: NewStepUp) -> StoreResult<()>;
    /// The unexpired ticket with this hash, without using it.
    async fn find_step_up(&self, hash: &TicketHash, now: i64) -> StoreResult<Option<StepUpRecord>>;
    /// Takes one of the ticket's `guesses`, atomically: `None` when it is unknown,
    /// expired, or has had them all.
    async fn spend_step_up_guess(
        &self,
        hash: &TicketHash,
        now: i64,
        guesses: u32,
    ) -> StoreResult<Option<StepUpRecord>>;
    /// Uses the ticket, once and atomically: of several callers one gets it.
    async fn take_step_up(&self, hash: &TicketHash, now: i64) -> StoreResult<Option<StepUpRecord>>;
}
