//! Sign-up, and what a signed-in user does with their own account: who am I, my
//! sessions, my password.

use std::sync::Arc;

use app::model::{Role, SessionView, UserView};

use super::{
    AuthError, AuthResult, AuthService, ClientInfo, Principal,
    audit::AuditActor,
    notices::AccountChange,
    password::Verified,
    service::{new_id, view_of},
};
use crate::{
    domain::{Email, FieldError, Password, Username},
    store::{NewEmail, NewUser, UserRecord},
};

/// What sign-up accepts, before parsing.
#[derive(Debug, Clone)]
pub struct SignupRequest {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    pub role: Option<String>,
}

impl AuthService {
    #[tracing::instrument(name = "signup", skip_all, fields(user_id))]
    pub async fn signup(
        self: &Arc<Self>,
        request: SignupRequest,
        client: &ClientInfo,
    ) -> AuthResult<UserView> {
        let now = self.now();
        self.signup_limiter
            .hit(&client.throttle_key(), now)
            .map_err(|retry_after| AuthError::Throttled { retry_after })?;
        match request.role.as_deref().map(str::trim) {
            None | Some("") | Some("user") => {}
            Some("admin") => {
                return Err(AuthError::Forbidden(
                    "Sign-up cannot grant the admin role; an admin must promote the account",
                ));
            }
            Some(_) => {
                return Err(AuthError::Invalid(FieldError::new(
                    "role",
                    "must be \"user\" (or left out)",
                )));
            }
        }
        let username = Username::parse(&request.username)?;
        let password = Password::parse_new(request.password, "password")?;
        let email = self.signup_email(request.email.as_deref())?;
        let user = self
            .insert_user(&username, &password, email.as_ref(), Role::User, now)
            .await?;
        tracing::Span::current().record("user_id", user.id.as_str());
        self.audit("signup", AuditActor::User(&user), client, None)
            .await;
        self.confirm_address_later(&user, client, super::recovery::MailCounted::NotYet);
        Ok(view_of(&user))
    }

    /// The address a new account gives, by either way of signing up: optional (blank is
    /// none) unless the server requires one.
    pub(super) fn signup_email(&self, given: Option<&str>) -> AuthResult<Option<Email>> {
        let email = given
            .filter(|email| !email.trim().is_empty())
            .map(Email::parse)
            .transpose()?;
        if email.is_none() && self.email_required_at_signup() {
            return Err(AuthError::Invalid(FieldError::new(
                "email",
                "is required on this server",
            )));
        }
        Ok(email)
    }

    async fn insert_user(
        &self,
        username: &Username,
        password: &Password,
        email: Option<&Email>,
        role: Role,
        now: i64,
    ) -> AuthResult<UserRecord> {
        let hash = self.hasher.hash(password).await?;
        Ok(self
            .store
            .create_user(NewUser {
                id: new_id(),
                username: username.as_str().to_owned(),
                username_key: username.key().to_owned(),
                email: email.map(NewEmail::from),
                password_hash: Some(hash),
                role,
                created_at: now,
            })
            .await?)
    }

    pub async fn sessions(&self, principal: &Principal) -> AuthResult<Vec<SessionView>> {
        let sessions = self
            .store
            .list_sessions(principal.user_id(), self.now())
            .await?;
        Ok(sessions
            .into_iter()
            .map(|session| SessionView {
                current: session.id == principal.session_id(),
                id: session.id,
                created_at: session.created_at,
                last_used_at: session.last_used_at,
                expires_at: session.expires_at,
                user_agent: session.user_agent,
                ip: session.ip,
            })
            .collect())
    }

    #[tracing::instrument(name = "revoke session", skip_all, fields(user_id = %principal.user_id(), %session_id))]
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        session_id: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let now = self.now();
        if !self
            .store
            .revoke_session(principal.user_id(), session_id, now)
            .await?
        {
            return Err(AuthError::NotFound("session"));
        }
        if session_id == principal.session_id() {
            self.store
                .revoke_jti(principal.jti(), principal.token_expires_at)
                .await?;
        }
        self.audit(
            "session_revoked",
            AuditActor::Principal(principal),
            client,
            Some(session_id),
        )
        .await;
        Ok(())
    }

    #[tracing::instrument(name = "revoke other sessions", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn revoke_other_sessions(
        &self,
        principal: &Principal,
        client: &ClientInfo,
    ) -> AuthResult<u64> {
        let ended = self
            .store
            .revoke_user_sessions(
                principal.user_id(),
                Some(principal.session_id()),
                self.now(),
            )
            .await?;
        self.audit(
            "other_sessions_revoked",
            AuditActor::Principal(principal),
            client,
            None,
        )
        .await;
        Ok(ended)
    }

    /// Needs the current password (a wrong one counts toward the login lockout); an
    /// account without one sets its first password after a fresh sign-in instead (there
    /// is nothing to type, and the passkey or code just used is the proof). Ends every
    /// other session of the user.
    #[tracing::instrument(name = "change password", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn change_password(
        &self,
        principal: &Principal,
        current_password: String,
        new_password: String,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let new_password = Password::parse_new(new_password, "new_password")?;
        let user = self
            .confirm_current_password(principal, current_password, client)
            .await?;
        let event = match user.password_hash {
            Some(_) => "password_changed",
            None => "password_set",
        };
        let now = self.now();
        let hash = self.hasher.hash(&new_password).await?;
        self.store.set_password_hash(&user.id, &hash).await?;
        self.store
            .revoke_user_sessions(&user.id, Some(principal.session_id()), now)
            .await?;
        self.audit(event, AuditActor::User(&user), client, None)
            .await;
        self.tell_owner(&user, AccountChange::PasswordChanged, client, None);
        Ok(())
    }

    /// Whether the caller's account has a password (one made with a passkey may not yet).
    /// The one check of a signed-in user's current password before a sensitive change
    /// (password, address). It counts like a sign-in: throttled by the same keys, and a
    /// wrong password counts toward the same lockout. An account without a password
    /// passes on a recent sign-in instead (a passkey or a code by email, just used).
    pub(super) async fn confirm_current_password(
        &self,
        principal: &Principal,
        current_password: String,
        client: &ClientInfo,
    ) -> AuthResult<UserRecord> {
        let now = self.now();
        let user = self.current_user(principal).await?;
        // Nothing to type and nothing to guess: the sign-in itself must be recent.
        let Some(stored) = user.password_hash.as_ref() else {
            self.require_recent_session(principal).await?;
            return Ok(user);
        };
        let current = Password::parse_offered(current_password, "current_password")?;
        let attempt = self
            .reserve_attempt(self.login_keys(&principal.username, client), now)
            .await?;
        if self.hasher.verify(&current, Some(stored)).await? == Verified::No {
            return Err(AuthError::Invalid(FieldError::new(
                "current_password",
                "is not correct",
            )));
        }
        self.attempt_was_right(attempt).await?;
        // The password was just typed: the session counts as freshly signed in, so the
        // steps of one ceremony (a passkey, an authenticator app) need it only once.
        self.store
            .mark_session_authenticated(principal.user_id(), principal.session_id(), now)
            .await?;
        Ok(user)
    }
}
