//! Sign-up with nothing but a passkey: the account is created with its first passkey and
//! no password, in one store write, and is signed in at once (the registration proved
//! possession and user verification). A password can be set later, after a fresh
//! sign-in; until then the account's last way in cannot be removed.
//!
//! The account does not exist between the two halves of the ceremony: what it will be
//! (its id, which is the passkey's user handle, its name and address) waits in the
//! ceremony's state, single use and five minutes long like every ceremony's.

use std::sync::Arc;

use app::model::Role;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential, Uuid};

use super::{
    AuthError, AuthResult, AuthService, ClientInfo, IssuedTokens,
    audit::AuditActor,
    passkey::{Ceremony, parse_credential, passkey_name, unexpected},
    recovery::MailCounted,
    service::new_id,
};
use crate::{
    domain::{Email, SignInMethod, Username},
    store::{CeremonyPurpose, NewEmail, NewPasskey, NewUser, StoreError},
};

/// What the sign-up form asks before the ceremony, before parsing.
#[derive(Debug, Clone)]
pub struct PasskeySignup {
    pub username: String,
    pub email: Option<String>,
}

/// The account to create when the ceremony finishes.
#[derive(Serialize, Deserialize)]
struct PendingAccount {
    user_id: String,
    username: String,
    email: Option<String>,
    registration: PasskeyRegistration,
}

impl AuthService {
    /// Checks the name and address as a password sign-up does and answers the options
    /// to create a discoverable passkey. Counted by the same per-address sign-up limit.
    #[tracing::instrument(name = "begin passkey sign-up", skip_all)]
    pub async fn begin_passkey_signup(
        &self,
        request: PasskeySignup,
        client: &ClientInfo,
    ) -> AuthResult<Ceremony> {
        self.signup_limiter
            .hit(&client.throttle_key(), self.now())
            .map_err(|retry_after| AuthError::Throttled { retry_after })?;
        let username = Username::parse(&request.username)?;
        let email = self.signup_email(request.email.as_deref())?;
        // Told now rather than after the authenticator prompt; the store decides again
        // when the account is written.
        if self
            .store
            .user_by_username_key(username.key())
            .await?
            .is_some()
        {
            return Err(AuthError::UsernameTaken);
        }
        let user_id = new_id();
        let user_handle = Uuid::parse_str(&user_id).map_err(unexpected)?;
        let (challenge, registration) = self
            .webauthn
            .start_passkey_registration(user_handle, username.as_str(), username.as_str(), None)
            .map_err(unexpected)?;
        let mut options = serde_json::to_value(&challenge).map_err(unexpected)?;
        // The passkey is the account's only way in: it must live on the authenticator.
        options["publicKey"]["authenticatorSelection"]["residentKey"] = "required".into();
        options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = true.into();
        let state = serde_json::to_string(&PendingAccount {
            user_id,
            username: username.as_str().to_owned(),
            email: email.map(|email| email.as_str().to_owned()),
            registration,
        })
        .map_err(unexpected)?;
        self.open_ceremony(CeremonyPurpose::SignUp, None, state, options)
            .await
    }

    /// Verifies the new credential, creates the account with it and signs it in. An
    /// address given is mailed a verification link, as at a password sign-up.
    #[tracing::instrument(name = "finish passkey sign-up", skip_all, fields(user_id))]
    pub async fn finish_passkey_signup(
        self: &Arc<Self>,
        ceremony_id: &str,
        credential: &str,
        name: &str,
        client: &ClientInfo,
    ) -> AuthResult<IssuedTokens> {
        let name = passkey_name(name)?;
        let credential: RegisterPublicKeyCredential = parse_credential(credential)?;
        let ceremony = self
            .close_ceremony(ceremony_id, CeremonyPurpose::SignUp)
            .await?;
        let pending: PendingAccount = serde_json::from_str(&ceremony.state).map_err(unexpected)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&credential, &pending.registration)
            .map_err(|error| {
                tracing::info!(%error, "passkey sign-up refused");
                AuthError::InvalidPasskey
            })?;
        // Parsed at the start; parsed again for the keys the store needs.
        let username = Username::parse(&pending.username)?;
        let email = pending.email.as_deref().map(Email::parse).transpose()?;
        let now = self.now();
        let credential_bytes: &[u8] = passkey.cred_id().as_ref();
        let user = self
            .store
            .create_user_with_passkey(
                NewUser {
                    id: pending.user_id.clone(),
                    username: username.as_str().to_owned(),
                    username_key: username.key().to_owned(),
                    email: email.as_ref().map(NewEmail::from),
                    password_hash: None,
                    role: Role::User,
                    created_at: now,
                },
                NewPasskey {
                    credential_id: URL_SAFE_NO_PAD.encode(credential_bytes),
                    user_id: pending.user_id,
                    name,
                    passkey: serde_json::to_string(&passkey).map_err(unexpected)?,
                    created_at: now,
                },
            )
            .await
            .map_err(|error| match error {
                StoreError::Conflict("passkey") => AuthError::PasskeyExists,
                other => other.into(),
            })?;
        tracing::Span::current().record("user_id", user.id.as_str());
        self.audit("signup", AuditActor::User(&user), client, Some("passkey"))
            .await;
        self.confirm_address_later(&user, client, MailCounted::NotYet);
        let attempt = self
            .reserve_attempt(self.login_keys(&user.username, client), now)
            .await?;
        self.admit(&user, attempt, client, now, SignInMethod::Passkey)
            .await
    }
}
