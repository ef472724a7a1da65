//! Fresh authentication before a step that hands out a way in (ASVS 5.0 7.5.1): an access
//! token proves a session, not that its owner is at the keyboard, and a passkey or an
//! authenticator app added by whoever holds a stolen token would outlive every sign-out.

use webauthn_rs::prelude::PublicKeyCredential;

use super::{
    AuthError, AuthResult, AuthService, ClientInfo, Principal, TokenProblem,
    passkey::{Ceremony, parse_credential},
};
use crate::store::CeremonyPurpose;

impl AuthService {
    /// Passes when the current password comes with the request (checked and counted like
    /// a sign-in; it also renews the session's proof), or when the session's holder signed
    /// in or re-entered the password within the re-authentication window.
    pub(super) async fn require_recent_sign_in(
        &self,
        principal: &Principal,
        current_password: Option<String>,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        if let Some(password) = current_password.filter(|password| !password.is_empty()) {
            self.confirm_current_password(principal, password, client)
                .await?;
            return Ok(());
        }
        self.require_recent_session(principal).await
    }

    /// Passes when the session's holder signed in or re-entered the password within the
    /// re-authentication window.
    pub(super) async fn require_recent_session(&self, principal: &Principal) -> AuthResult<()> {
        let now = self.now();
        let authenticated_at = self
            .store
            .session_authentication(principal.user_id(), principal.session_id(), now)
            .await?
            .ok_or(AuthError::InvalidToken(TokenProblem::SessionEnded))?
            .at;
        if now.saturating_sub(authenticated_at) > self.reauth_window {
            return Err(AuthError::ReauthenticationRequired);
        }
        Ok(())
    }

    /// Re-entering the password on its own ("confirm it is you"): the session counts as
    /// freshly signed in for the re-authentication window.
    #[tracing::instrument(name = "reauthenticate", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn reauthenticate(
        &self,
        principal: &Principal,
        current_password: String,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        self.confirm_current_password(principal, current_password, client)
            .await
            .map(drop)
    }

    /// "Confirm it is you" with one of the caller's passkeys, for an account that may have
    /// no password to type. Refused while sign-in is locked out, as the password is.
    pub async fn begin_reauthentication_with_passkey(
        &self,
        principal: &Principal,
        client: &ClientInfo,
    ) -> AuthResult<Ceremony> {
        let user = self.current_user(principal).await?;
        self.refuse_while_locked_out(&self.login_keys(&user.username, client))
            .await?;
        self.own_passkey_challenge(&user.id, CeremonyPurpose::Reauthenticate)
            .await
    }

    /// The assertion for that ceremony: counted like a password sign-in (reserved before
    /// the check, so parallel guesses cannot outrun the lockout); on success the session
    /// counts as freshly signed in for the re-authentication window.
    #[tracing::instrument(name = "reauthenticate with a passkey", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn reauthenticate_with_passkey(
        &self,
        principal: &Principal,
        ceremony_id: &str,
        credential: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let credential: PublicKeyCredential = parse_credential(credential)?;
        let user = self.current_user(principal).await?;
        let now = self.now();
        let attempt = self
            .reserve_attempt(self.login_keys(&user.username, client), now)
            .await?;
        let ceremony = self
            .close_ceremony(ceremony_id, CeremonyPurpose::Reauthenticate)
            .await?;
        self.verify_own_passkey(
            &user,
            ceremony,
            &credential,
            client,
            "reauthentication_failed",
        )
        .await?;
        self.attempt_was_right(attempt).await?;
        self.store
            .mark_session_authenticated(principal.user_id(), principal.session_id(), now)
            .await?;
        Ok(())
    }
}
