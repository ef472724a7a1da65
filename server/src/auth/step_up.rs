//! The second step of a sign-in. A right password (or a mailed sign-in code) on an
//! account with a confirmed factor
//! yields a step-up ticket, not tokens: random, stored only as a hash, good for five
//! minutes, for one successful second step, and for five guesses at most. Each guess
//! (a code, a recovery code, a passkey) takes a slot of the same lockout as a password
//! before it is checked; the account's count is cleared only by a complete sign-in.

use super::{
    AuthError, AuthResult, AuthService, ClientInfo, IssuedTokens, audit::AuditActor,
    throttle::Attempt, token::random_token,
};
use crate::{
    domain::{FirstStep, OneTimeCode, SecondStep, TICKET_PREFIX, TicketHash},
    store::{NewStepUp, UserRecord},
};

/// How long a right password waits for its second step.
pub const STEP_UP_TTL_SECS: i64 = 300;
/// Guesses one ticket gets; a sixth needs the password again.
const STEP_UP_GUESSES: u32 = 5;

/// A step-up ticket as handed out once; only its hash is stored.
pub struct StepUp {
    ticket: String,
    pub expires_at: i64,
    /// The account has a passkey to complete the sign-in with, too.
    with_passkey: bool,
}

impl StepUp {
    pub fn ticket(&self) -> &str {
        &self.ticket
    }

    /// What can complete the sign-in.
    pub fn methods(&self) -> &'static [&'static str] {
        if self.with_passkey {
            &["totp", "recovery_code", "passkey"]
        } else {
            &["totp", "recovery_code"]
        }
    }
}

impl std::fmt::Debug for StepUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StepUp([redacted])")
    }
}

impl AuthService {
    pub(super) async fn issue_step_up(
        &self,
        user: &UserRecord,
        first_step: FirstStep,
        now: i64,
    ) -> AuthResult<StepUp> {
        let ticket = random_token(TICKET_PREFIX)?;
        let expires_at = now + STEP_UP_TTL_SECS;
        self.store
            .create_step_up(NewStepUp {
                hash: TicketHash::of_issued(&ticket),
                user_id: user.id.clone(),
                first_step,
                created_at: now,
                expires_at,
            })
            .await?;
        let with_passkey = self.has_passkey(&user.id).await?;
        Ok(StepUp {
            ticket,
            expires_at,
            with_passkey,
        })
    }

    /// The second step of a sign-in: a step-up ticket and a code from the app or a
    /// recovery code. Each guess takes a slot of the account's and the address's lockout
    /// before it is checked, and one of the ticket's five: a ticket dies after five
    /// wrong codes.
    #[tracing::instrument(name = "complete sign-in", skip_all, fields(user_id))]
    pub async fn complete_sign_in(
        &self,
        ticket: &str,
        code: &str,
        client: &ClientInfo,
    ) -> AuthResult<IssuedTokens> {
        let now = self.now();
        let code = OneTimeCode::parse(code)?;
        let (hash, user, attempt) = self.guess_at_step_up(ticket, client).await?;
        tracing::Span::current().record("user_id", user.id.as_str());
        let (second, detail) = match &code {
            OneTimeCode::Totp(_) => (SecondStep::Totp, "totp"),
            OneTimeCode::Recovery(_) => (SecondStep::RecoveryCode, "recovery code"),
        };
        if !self.accepts(&user, &code, now).await? {
            self.audit(
                "second_factor_failed",
                AuditActor::User(&user),
                client,
                Some(detail),
            )
            .await;
            return Err(AuthError::InvalidCode);
        }
        if matches!(code, OneTimeCode::Recovery(_)) {
            self.audit("recovery_code_used", AuditActor::User(&user), client, None)
                .await;
        }
        self.finish_step_up(&hash, &user, attempt, client, second)
            .await
    }

    /// The live ticket and its user, without spending anything (to start a ceremony).
    pub(super) async fn step_up_in_progress(
        &self,
        ticket: &str,
    ) -> AuthResult<(TicketHash, UserRecord)> {
        let hash = TicketHash::of_presented(ticket).ok_or(AuthError::InvalidStepUp)?;
        let step_up = self
            .store
            .find_step_up(&hash, self.now())
            .await?
            .ok_or(AuthError::InvalidStepUp)?;
        let user = self
            .store
            .user_by_id(&step_up.user_id)
            .await?
            .ok_or(AuthError::InvalidStepUp)?;
        Ok((hash, user))
    }

    /// One guess at a ticket's second step: a slot of the account's and the address's
    /// lockout (`Throttled` while locked out), then one of the ticket's guesses
    /// (`InvalidStepUp` once it has had its five).
    pub(super) async fn guess_at_step_up(
        &self,
        ticket: &str,
        client: &ClientInfo,
    ) -> AuthResult<(TicketHash, UserRecord, Attempt)> {
        let now = self.now();
        let (hash, user) = self.step_up_in_progress(ticket).await?;
        let attempt = self
            .reserve_attempt(self.login_keys(&user.username, client), now)
            .await?;
        if self
            .store
            .spend_step_up_guess(&hash, now, STEP_UP_GUESSES)
            .await?
            .is_none()
        {
            self.attempt_was_right(attempt).await?;
            return Err(AuthError::InvalidStepUp);
        }
        Ok((hash, user, attempt))
    }

    /// The end of every successful second step: the ticket is used (of several requests
    /// with one ticket, one signs in) and the session starts, remembering both steps.
    pub(super) async fn finish_step_up(
        &self,
        hash: &TicketHash,
        user: &UserRecord,
        attempt: Attempt,
        client: &ClientInfo,
        second: SecondStep,
    ) -> AuthResult<IssuedTokens> {
        let now = self.now();
        let Some(ticket) = self.store.take_step_up(hash, now).await? else {
            self.attempt_was_right(attempt).await?;
            return Err(AuthError::InvalidStepUp);
        };
        // The user as read when the ticket was presented: disabled since the first step,
        // it is refused here.
        let method = ticket.first_step.then(second);
        self.admit(user, attempt, client, now, method).await
    }
}
